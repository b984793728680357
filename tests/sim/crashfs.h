/*
 * crashfs.h - a crash file system: the log's file-system seam (log_io,
 * src/log/log.h) implemented in memory, deterministic, with no real disk,
 * for crash tests and (later) the deterministic simulator, which runs
 * several nodes in one process on one crashfs each.
 *
 * Model (what a power loss may do; SQLite's crash VFS, src/test6.c, and the
 * crash-consistency rules of Pillai et al., "All File Systems Are Not
 * Created Equal", OSDI 2014 - ALICE):
 *  - Every file has a durable image and a volatile one. pwrite and
 *    ftruncate change the volatile image at once (reads see them) and are
 *    queued as pending until fsync of that file (any fd of it) makes the
 *    whole volatile image durable. fsync does not make the file's
 *    directory entry durable.
 *  - Every directory has a durable and a volatile list of entries.
 *    Creating a file (open O_CREAT), mkdir, rename, unlink and rmdir change
 *    the volatile list at once and are pending until fsync_dir of that
 *    directory (POSIX: "fsync the directory to make the entry durable";
 *    ext4 in data=ordered mode happens to persist a new file's entry with
 *    the file's fsync, this model does not rely on it).
 *  - syncfs makes everything durable.
 *  - crashfs_crash(fs, seed): a power loss. Each pending file operation is
 *    independently, with a seeded rng (rng of core/clock.h): dropped, kept,
 *    or for a write torn - a prefix of the write, at byte granularity, is
 *    kept and the rest dropped (sector-granular garbage is not modelled: a
 *    torn write never shows bytes that were not written). Pending
 *    operations of one file are replayed in their order, so a dropped
 *    write below a kept one leaves a hole of zeros or old bytes, as a page
 *    cache writing back pages out of order does. Each pending namespace
 *    operation is independently kept or reverted; a rename is atomic (the
 *    target names the new file or its old one, never neither). What is not
 *    reachable from the root afterwards is gone. Open fds are closed.
 *  - crashfs_kill(fs): a process crash (kill -9): open fds are closed,
 *    nothing is lost (the page cache survives).
 *  - Renames across directories are not supported (EXDEV): the log renames
 *    within one directory only. O_APPEND and opening directories are not
 *    supported (EINVAL): use the seam's list / fsync_dir / syncfs.
 *  - The same sequence of operations and the same crash seed give the same
 *    state, byte for byte (crashfs_digest): listings are sorted by name,
 *    inodes processed in creation order.
 *
 * Faults: crashfs_fail makes the nth next operation of a kind fail with an
 * errno (EIO, ENOSPC, ...) without effect; crashfs_cut_after makes every
 * operation after the next n fail with EIO until the next crash (the power
 * is off: the process sees errors, nothing more reaches the disk).
 *
 * Ownership: crashfs_new returns an fs the caller frees with crashfs_free;
 * crashfs_io's table is owned by the fs. Buffers returned by crashfs_read
 * are the caller's (free).
 * Threading: every operation takes the fs's mutex, so the log's flusher
 * thread and cleaner workers may use it concurrently with the loop thread;
 * the result is deterministic only if the test serialises them (e.g.
 * log_manager_flush_wait before the next operation).
 */
#ifndef SL_TESTS_SIM_CRASHFS_H
#define SL_TESTS_SIM_CRASHFS_H

#include <stddef.h>
#include <stdint.h>

#include "log/log.h"

typedef struct crashfs crashfs;

/* The operations, for faults and counters. */
typedef enum crashfs_op {
    CRASHFS_OP_OPEN,
    CRASHFS_OP_READ,
    CRASHFS_OP_WRITE,
    CRASHFS_OP_FSYNC,
    CRASHFS_OP_TRUNCATE,
    CRASHFS_OP_RENAME,
    CRASHFS_OP_UNLINK,
    CRASHFS_OP_MKDIR,
    CRASHFS_OP_RMDIR,
    CRASHFS_OP_STAT, /* stat and fstat */
    CRASHFS_OP_LIST,
    CRASHFS_OP_FSYNC_DIR,
    CRASHFS_OP_SYNCFS,
    CRASHFS_OP_DUP,
    CRASHFS_OP_CLOSE, /* counted, never fails */
    CRASHFS_OP_COUNT
} crashfs_op;

typedef struct crashfs_stats {
    int64_t ops[CRASHFS_OP_COUNT]; /* calls, failed ones included */
    int64_t crashes;
    /* decisions of the crashes so far */
    int64_t writes_kept, writes_dropped, writes_torn;
    int64_t truncates_kept, truncates_dropped;
    int64_t names_kept, names_reverted;
} crashfs_stats;

/* An empty file system: the root directory "/", durable. */
crashfs *crashfs_new(void);
void crashfs_free(crashfs *fs);
/* The seam (ctx = fs); valid until crashfs_free. */
const log_io *crashfs_io(crashfs *fs);

/* Power loss with the rng seeded by seed (see the model above). */
void crashfs_crash(crashfs *fs, uint64_t seed);
/* Process crash: fds closed, nothing lost. */
void crashfs_kill(crashfs *fs);
/* Everything durable, as after syncfs (test set-up). */
void crashfs_sync_all(crashfs *fs);

/* The nth next call (1 = the next) of op fails with err, once. Another
 * call for the same op replaces it; nth 0 cancels. */
void crashfs_fail(crashfs *fs, crashfs_op op, int nth, int err);
/* After the next n operations (any kind), every operation fails with EIO
 * until crashfs_crash or crashfs_kill. n < 0 cancels. */
void crashfs_cut_after(crashfs *fs, int64_t n);
/* Total operations so far (the clock of crashfs_cut_after). */
int64_t crashfs_op_count(const crashfs *fs);

void crashfs_get_stats(const crashfs *fs, crashfs_stats *out);
/* Open fds (leak checks). */
int crashfs_open_fds(const crashfs *fs);

/* Test helpers that are not operations (no faults, not counted). The
 * volatile content of a file: heap copy (+1 NUL byte) or NULL (ENOENT,
 * EISDIR). */
uint8_t *crashfs_read(crashfs *fs, const char *path, size_t *n);
/* The durable content (what a crash that drops everything pending leaves,
 * if the file's entry is durable too). */
uint8_t *crashfs_read_durable(crashfs *fs, const char *path, size_t *n);
/* FNV-1a over the whole volatile tree: names, kinds, contents, in order. */
uint64_t crashfs_digest(crashfs *fs);

#endif
