/*
 * fs.h - the file-system seam (log_io): every disk operation of the log
 * and of the broker's storage goes through one of these tables, so tests
 * inject faults by wrapping it and tests/sim/crashfs.h implements it in
 * memory with crash semantics. It lives in core, below the log that first
 * used it (hence its name), because the environment (core/env.h) carries
 * a node's file system and the network layer sends file ranges of it.
 * The POSIX implementation (log_io_posix) and the whole-file helpers are
 * in src/log/log.h.
 */
#ifndef SL_CORE_FS_H
#define SL_CORE_FS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- file I/O behind a thin interface (the file-system seam) ----------
 * Every disk operation of the log goes through a log_io: segments and
 * indexes, checkpoints, leader-epoch and partition.metadata files, producer
 * snapshots and .txnindex (producer_state.h), the cleaner's files and swap,
 * directory listings and directory fsyncs. log_io_posix is the production
 * implementation; tests inject faults by wrapping it, and tests/sim/crashfs.h
 * implements it in memory with crash semantics; a node's environment
 * (core/env.h) carries it with the clock, rng and transport.
 *
 * Each op returns what the POSIX call returns (-1 with errno on failure);
 * fds are the implementation's own numbers, valid only with the same
 * log_io (crashfs's are not kernel fds). The fd of a log_read_result is
 * handed to the network by the fetch path (net.c): a
 * file chunk remembers the file system of the environment current when it
 * was added, and the transport sends it with sendfile (kernel fds) or
 * through pread of that file system (crashfs, under the simulator).
 *
 * Threading: ops may be called from the loop thread, the log flusher thread
 * (fsync, syncfs, close) and the cleaner workers at once; an implementation
 * must allow that (posix does; crashfs locks). */
typedef struct log_io_stat {
    int64_t size; /* bytes of a regular file */
    bool is_dir;
} log_io_stat;

typedef struct log_io {
    int (*open)(void *ctx, const char *path, int flags, int mode);
    int (*close)(void *ctx, int fd);
    ssize_t (*pread)(void *ctx, int fd, void *buf, size_t n, off_t off);
    ssize_t (*pwrite)(void *ctx, int fd, const void *buf, size_t n, off_t off);
    int (*fsync)(void *ctx, int fd); /* data and size (fdatasync) */
    int (*ftruncate)(void *ctx, int fd, off_t len);
    int (*rename)(void *ctx, const char *from, const char *to);
    int (*unlink)(void *ctx, const char *path);
    int (*mkdir)(void *ctx, const char *path, int mode);
    int (*rmdir)(void *ctx, const char *path);
    /* stat(2)/fstat(2), reduced to what the log needs. */
    int (*stat)(void *ctx, const char *path, log_io_stat *st);
    int (*fstat)(void *ctx, int fd, log_io_stat *st);
    /* Calls fn for every entry of dir but "." and ".." (any order). fn may
     * unlink or rename entries of dir. -1 with errno if dir cannot be read
     * (fn may have been called for some entries). */
    int (*list)(void *ctx, const char *dir,
                void (*fn)(void *arg, const char *name), void *arg);
    /* Makes the entries of dir (creations, renames, unlinks) durable:
     * open(O_DIRECTORY) + fsync. */
    int (*fsync_dir)(void *ctx, const char *dir);
    /* Makes everything on the file system holding path durable (syncfs). */
    int (*syncfs)(void *ctx, const char *path);
    /* A second fd for the same open file (F_DUPFD_CLOEXEC). */
    int (*dup)(void *ctx, int fd);
    void *ctx;
} log_io;

#endif
