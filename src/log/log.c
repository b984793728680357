/*
 * log.c - the partition log (see log.h for the API).
 *
 * INVARIANTS (checked with SL_ASSERT where cheap)
 *
 *  1. log_start_offset <= high_watermark <= log_end_offset (LEO).
 *     - LEO moves forward only in log_append (by the records appended) and
 *       backward only in log_truncate_to and in recovery (torn tail).
 *     - high_watermark moves only in log_set_high_watermark (clamped to
 *       [log start, LEO]) and is pulled down by truncation.
 *     - log_start_offset moves forward only in log_delete_records and in
 *       retention (delete_segments_below), never backward, and is at least
 *       the base offset of the first segment.
 *  2. recovery_point <= LEO. Every byte below the recovery point has been
 *     fsynced (with its segment's indexes, see roll_segment) and is never
 *     re-read at start. It moves forward only in log_flush (to LEO) and
 *     backward only with truncation. recovery-point-offset-checkpoint holds
 *     a value that was true when it was written (it lags, never leads).
 *  3. Segments are sorted by base offset, contiguous: segment i covers
 *     [base_i, base_{i+1}); the last one (active) is the only one written to.
 *     A segment's .log holds whole batches only; `size` is its length.
 *  4. An offset index entry (rel, pos) says: the batch starting at byte pos
 *     has last offset base + rel. Entries grow strictly in both. The time
 *     index grows strictly in timestamp. Rolled segments have index files
 *     trimmed to their entries; the active one's are preallocated.
 *  5. A partition whose write or fsync failed is `failed`: it is never
 *     written again and every call answers KAFKA_STORAGE_ERROR.
 *  6. At most max_open_segments segments have their .log fd and index arrays
 *     in memory (LRU); the rest are reopened on demand.
 *  7. Directory entries are durable before anything depends on them: a new
 *     segment file's entry is fsynced (partition directory) before the next
 *     segment is created (roll) and before a flush moves the recovery point
 *     past data in it; a new partition's directory entry (log dir) before
 *     its first flush completes. So a crash never leaves a later segment
 *     without an earlier one (a gap), nor flushed data in a file whose name
 *     is lost (Kafka's LocalLog.flush flushes the directory too).
 *     Not prevented: a power loss may drop a rolled segment's unflushed
 *     tail while the next segment's data (written later, never flushed
 *     either) survives; recovery then keeps a hole of offsets above the
 *     recovery point, as Kafka's does - it cannot tell it from a compaction
 *     gap (a cleaned segment ends below the next base), and preventing it
 *     would take a synchronous fsync of every rolled segment. Acknowledged
 *     (flushed) offsets are never in such a hole.
 *
 * A clean shutdown (log_manager_close) trims the active indexes, appends the
 * final time-index entry, fsyncs, writes the checkpoints and then the file
 * .kafka_cleanshutdown; when that file is present at open, nothing is
 * re-read. Otherwise every segment from the one holding the recovery point
 * to the end is re-read batch by batch, its indexes rebuilt, and the first
 * invalid batch and everything after it truncated.
 */
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "cleaner.h"
#include "compress.h"
#include "flush.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "core/uuid.h"

#define MOD "log"
#define CLEAN_SHUTDOWN_FILE ".kafka_cleanshutdown"
#define IDX_ENTRY 8
#define TIDX_ENTRY 12
#define DEFAULT_MAX_OPEN 1024

/* ---- posix io ---------------------------------------------------------- */
static int px_open(void *c, const char *p, int f, int m) {
    (void)c;
    return open(p, f | O_CLOEXEC, m);
}
static int px_close(void *c, int fd) {
    (void)c;
    return close(fd);
}
static ssize_t px_pread(void *c, int fd, void *b, size_t n, off_t o) {
    (void)c;
    return pread(fd, b, n, o);
}
static ssize_t px_pwrite(void *c, int fd, const void *b, size_t n, off_t o) {
    (void)c;
    return pwrite(fd, b, n, o);
}
static int px_fsync(void *c, int fd) {
    (void)c;
    return fdatasync(fd);
}
static int px_ftruncate(void *c, int fd, off_t l) {
    (void)c;
    return ftruncate(fd, l);
}
static int px_rename(void *c, const char *a, const char *b) {
    (void)c;
    return rename(a, b);
}
static int px_unlink(void *c, const char *p) {
    (void)c;
    return unlink(p);
}
static int px_mkdir(void *c, const char *p, int m) {
    (void)c;
    return mkdir(p, (mode_t)m);
}
static int px_rmdir(void *c, const char *p) {
    (void)c;
    return rmdir(p);
}

static int px_stat(void *c, const char *p, log_io_stat *out) {
    (void)c;
    struct stat st;
    if (stat(p, &st) != 0)
        return -1;
    out->size = st.st_size;
    out->is_dir = S_ISDIR(st.st_mode);
    return 0;
}
static int px_fstat(void *c, int fd, log_io_stat *out) {
    (void)c;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    out->size = st.st_size;
    out->is_dir = S_ISDIR(st.st_mode);
    return 0;
}
static int px_list(void *c, const char *dir,
                   void (*fn)(void *arg, const char *name), void *arg) {
    (void)c;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *de;
    for (;;) {
        errno = 0;
        if (!(de = readdir(d)))
            break;
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            fn(arg, de->d_name);
    }
    int err = errno;
    closedir(d);
    errno = err;
    return err ? -1 : 0;
}
/* fsync (not fdatasync) of the directory, as before the seam existed. */
static int px_fsync_dir(void *c, const char *dir) {
    (void)c;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}
static int px_syncfs(void *c, const char *path) {
    (void)c;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = syncfs(fd);
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}
static int px_dup(void *c, int fd) {
    (void)c;
    return fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

const log_io log_io_posix = {
    .open = px_open,
    .close = px_close,
    .pread = px_pread,
    .pwrite = px_pwrite,
    .fsync = px_fsync,
    .ftruncate = px_ftruncate,
    .rename = px_rename,
    .unlink = px_unlink,
    .mkdir = px_mkdir,
    .rmdir = px_rmdir,
    .stat = px_stat,
    .fstat = px_fstat,
    .list = px_list,
    .fsync_dir = px_fsync_dir,
    .syncfs = px_syncfs,
    .dup = px_dup,
    .ctx = NULL,
};

/* ---- types ------------------------------------------------------------- */
typedef struct idx_entry {
    int32_t rel;
    int32_t pos;
} idx_entry;
typedef struct tidx_entry {
    int64_t ts;
    int32_t rel;
} tidx_entry;

typedef struct log_segment {
    struct log_segment *lru_prev, *lru_next; /* open list, most recent first */
    log_partition *part;
    int64_t base;
    int64_t size;           /* bytes in .log */
    int64_t next_offset;    /* offset after the last batch */
    int64_t max_ts;         /* largest batch maxTimestamp, -1 if none */
    int64_t max_ts_offset;  /* last offset of that batch */
    int64_t first_batch_ts; /* maxTimestamp of the first batch (segment.ms) */
    int64_t created_ms;
    int64_t bytes_since_index;
    int32_t n_idx, n_tidx; /* entries (valid while closed too) */
    int64_t last_tidx_ts;
    /* open state */
    int fd;              /* .log, -1 when closed */
    int idx_fd, tidx_fd; /* only for the active segment, else -1 */
    idx_entry *idx;      /* n_idx entries, loaded when open */
    tidx_entry *tidx;
    int32_t cap_idx, cap_tidx;
    bool active_files; /* index files preallocated (active) */
    bool idx_lazy;     /* active, index files not opened yet (empty) */
} log_segment;

/* An asynchronous flush (see "flusher" below). */
typedef struct flush_job {
    struct flush_job *next;
    log_partition *part; /* NULL once the partition is deleted */
    uint64_t gen;        /* part->gen when created */
    int64_t target;      /* recovery point once synced */
    int fds[3];
    int nfds;
    char *sync_path; /* else a log dir: syncfs (new partitions) */
    char *dirs[2];   /* directories to fsync first (invariant 7) */
    int ndirs;
    uint64_t ticket;
    bool done;
    int err; /* errno of a failed fsync, else 0 */
} flush_job;

typedef struct doomed_seg {
    log_partition *part;
    int64_t base;
} doomed_seg;

typedef struct epoch_entry {
    int32_t epoch;
    int64_t start_offset;
} epoch_entry;

struct log_partition {
    log_partition *hnext;
    log_manager *mgr;
    char *topic;
    int32_t partition;
    uint8_t topic_id[16];
    int dir_index;
    char *path; /* <log.dir>/<topic>-<p> */
    log_config cfg;
    log_segment **segs;
    int nsegs, capsegs;
    int64_t log_start;
    int64_t hw;
    int64_t recovery_point;
    int64_t unflushed_msgs;
    int64_t last_flush_ms;
    bool dirty;     /* in mgr->dirty */
    bool flush_due; /* in mgr->due: an asynchronous flush is to be begun */
    uint64_t gen;   /* bumped by truncation: older flush jobs do not count */
    bool failed;
    bool dir_unsynced;    /* a segment file was created in path since the
                             last fsync of path (invariant 7) */
    bool parent_unsynced; /* path itself is new: its log dir not fsynced */
    /* Dropped front segments (doomed_add): LS_DOOMED until their files are
     * unlinked, LS_UNLINKED until those unlinks are durable. Until then the
     * log-start checkpoint keeps this log's entry even where Kafka's would
     * leave it out (log start at the first segment's base): a crash that
     * reverts some unlinks must find the log start above them. */
    enum { LS_NONE, LS_DOOMED, LS_UNLINKED } ls_state;
    epoch_entry *epochs;
    int nepochs, capepochs;
    struct log_move *move; /* copy to another log dir in progress, or NULL */
};

/* A move to another log dir (log_move_begin .. log_move_step). The .log
 * files are copied in order, segment by segment, from (cur_base, cur_pos);
 * everything else is copied by the last step. */
typedef struct log_move {
    int dest;           /* dir index */
    char *future_path;  /* <dest>/<topic>-<p>.<hex>-future */
    uint64_t gen;       /* part->gen at start: a truncation restarts it */
    int64_t cur_base;   /* segment whose .log is being copied */
    int64_t cur_pos;    /* bytes of it copied */
    int64_t copied;     /* .log bytes copied (the future log's size) */
    int64_t future_leo; /* end offset of the last wholly copied segment */
} log_move;

struct log_manager {
    char **dirs;
    int ndirs;
    const log_io *io;
    int max_open;
    log_config default_cfg;
    log_partition **buckets;
    size_t nbuckets, nparts;
    log_segment *lru_head, *lru_tail;
    int open_count;
    log_partition **dirty;
    int ndirty, capdirty;
    log_manager_stats stats;
    /* asynchronous flushes (see "flusher" below) */
    log_partition **due;
    int ndue, capdue;
    struct flush_job *held_head, *held_tail; /* roll jobs not yet begun */
    pthread_mutex_t fl_mu;
    pthread_cond_t fl_cv;
    struct flush_job *jobs_head, *jobs_tail; /* begun, in ticket order */
    struct flush_job *fl_next;               /* first not taken by the thread */
    pthread_t fl_thread;
    bool fl_started, fl_stop, fl_abandon;
    uint64_t fl_ticket; /* last ticket begun */
    bool create_sync;   /* partitions created since the last flush_begin */
    int *dir_parts;     /* partitions per log dir (placement) */
    doomed_seg *doomed; /* dropped segments whose files go next (see
                           doomed_flush) */
    int ndoomed, capdoomed;
    bool *dir_offline; /* per log dir: failed, taken offline */
    bool closing;      /* log_manager_close: errors fail no dir */
    void (*dir_fail_fn)(void *ctx, int dir);
    void *dir_fail_ctx;
    void (*fl_notify)(void *ctx);
    void *fl_notify_ctx;
};

#define IO(mgr) ((mgr)->io)
#define IOCALL(mgr, op, ...) ((mgr)->io->op((mgr)->io->ctx, __VA_ARGS__))

void log_config_default(log_config *cfg) {
    cfg->segment_bytes = 1073741824;
    cfg->segment_ms = 604800000LL;
    cfg->retention_ms = 604800000LL;
    cfg->retention_bytes = -1;
    cfg->max_message_bytes = 1048588;
    cfg->index_interval_bytes = 4096;
    cfg->segment_index_bytes = 10485760;
    cfg->flush_messages = INT64_MAX;
    cfg->flush_ms = INT64_MAX;
    cfg->min_insync_replicas = 1;
    cfg->cleanup_policy = LOG_CLEANUP_DELETE;
    cfg->compression_type = LOG_COMPRESSION_PRODUCER;
    cfg->message_timestamp_type = LOG_TS_CREATE_TIME;
    cfg->timestamp_before_max_ms = INT64_MAX;
    cfg->timestamp_after_max_ms = 3600000LL; /* Kafka 4.0 default */
    cfg->delete_retention_ms = 86400000LL;
    cfg->min_compaction_lag_ms = 0;
    cfg->max_compaction_lag_ms = INT64_MAX;
    cfg->min_cleanable_dirty_ratio = 0.5;
}

/* ---- small helpers ------------------------------------------------------ */
/* The random part of a "-delete" / "-future" directory name: Kafka's
 * UUID.randomUUID without its dashes (32 hex digits). */
static void dir_suffix(char hex[33]) {
    uint8_t u[16];
    uuid_v4(u);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", u[i]);
}

static char *path_join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *p = xmalloc(la + lb + 2);
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

static void seg_file(const log_partition *part, int64_t base, const char *ext,
                     char *out, size_t n) {
    snprintf(out, n, "%s/%020" PRId64 "%s", part->path, base, ext);
}

static void dir_fail(log_manager *mgr, int d);

/* An I/O error on a log fails its whole log dir, as Kafka's
 * LogDirFailureChannel does (dir_fail). */
static void poison(log_partition *part, const char *what) {
    if (!part->failed)
        SL_ERROR(MOD,
                 "I/O error on partition %s-%d (%s: %s); the partition is "
                 "offline until restart (check the disk under %s)",
                 part->topic, part->partition, what, strerror(errno),
                 part->path);
    part->failed = true;
    dir_fail(part->mgr, part->dir_index);
}

/* Whole-buffer pwrite through io; false on error or short write (errno
 * EIO for a write of 0 bytes). Any thread (the cleaner workers use it). */
bool log_io_write_all(const log_io *io, int fd, const void *p, size_t n,
                      off_t off) {
    const uint8_t *b = p;
    while (n) {
        ssize_t w = io->pwrite(io->ctx, fd, b, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return false;
        }
        b += w;
        n -= (size_t)w;
        off += w;
    }
    return true;
}

/* pread of exactly n bytes through io; returns bytes read (< n at end of
 * file), -1 on error. Any thread (the cleaner workers use it). */
ssize_t log_io_read_full(const log_io *io, int fd, void *p, size_t n,
                         off_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = io->pread(io->ctx, fd, (uint8_t *)p + got, n - got,
                              off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Size of a regular file through io, -1 if it cannot be stat'ed. */
static int64_t file_size(const log_manager *mgr, const char *path) {
    log_io_stat st;
    if (IOCALL(mgr, stat, path, &st) != 0)
        return -1;
    return st.size;
}

bool log_io_exists(const log_io *io, const char *path) {
    log_io_stat st;
    return io->stat(io->ctx, path, &st) == 0;
}

uint8_t *log_io_read_file(const log_io *io, const char *path, size_t max,
                          size_t *n) {
    *n = 0;
    int fd = io->open(io->ctx, path, O_RDONLY, 0);
    if (fd < 0)
        return NULL;
    log_io_stat st;
    uint8_t *p = NULL;
    if (io->fstat(io->ctx, fd, &st) != 0)
        goto out;
    if (st.size < 0 || (uint64_t)st.size > max) {
        errno = EFBIG;
        goto out;
    }
    p = xmalloc((size_t)st.size + 1);
    ssize_t got = log_io_read_full(io, fd, p, (size_t)st.size, 0);
    if (got != (ssize_t)st.size) {
        if (got >= 0)
            errno = EIO;
        free(p);
        p = NULL;
        goto out;
    }
    p[st.size] = 0;
    *n = (size_t)st.size;
out:;
    int err = errno;
    io->close(io->ctx, fd);
    errno = err;
    return p;
}

typedef struct name_list {
    char **v;
    int n, cap;
} name_list;

static void name_list_add(void *arg, const char *name) {
    name_list *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xrealloc(l->v, sizeof(*l->v) * (size_t)l->cap);
    }
    l->v[l->n++] = xstrdup(name);
}

char **log_io_list_names(const log_io *io, const char *dir, int *n) {
    name_list l = {xmalloc(sizeof(char *)), 0, 1};
    if (io->list(io->ctx, dir, name_list_add, &l) != 0) {
        int err = errno;
        log_io_free_names(l.v, l.n);
        *n = 0;
        errno = err;
        return NULL;
    }
    *n = l.n;
    return l.v;
}

void log_io_free_names(char **names, int n) {
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Temp + fsync + rename + fsync(dir) (Kafka's checkpoint discipline). */
bool log_io_write_atomic(const log_io *io, const char *path, const void *data,
                         size_t n) {
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = io->open(io->ctx, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return false;
    bool ok =
        log_io_write_all(io, fd, data, n, 0) && io->fsync(io->ctx, fd) == 0;
    int err = errno;
    io->close(io->ctx, fd);
    if (!ok || io->rename(io->ctx, tmp, path) != 0) {
        if (ok)
            err = errno;
        io->unlink(io->ctx, tmp);
        errno = err;
        return false;
    }
    /* fsync the directory so the rename itself is durable; a failure is an
     * I/O error like any other (the caller poisons or reports it) */
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        if (io->fsync_dir(io->ctx, dir[0] ? dir : "/") != 0)
            return false;
    }
    return true;
}

static bool write_file_atomic(log_manager *mgr, const char *path,
                              const void *data, size_t n) {
    return log_io_write_atomic(mgr->io, path, data, n);
}

/* Reads a small text file wholly into a NUL-terminated heap string. */
static char *read_text(log_manager *mgr, const char *path) {
    size_t n;
    return (char *)log_io_read_file(mgr->io, path, 64u << 20, &n);
}

/* ---- partition map --------------------------------------------------------
 */
static uint64_t tp_hash(const char *topic, int32_t p) {
    uint64_t h = 1469598103934665603ULL;
    for (const char *c = topic; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ULL;
    h = (h ^ (uint32_t)p) * 1099511628211ULL;
    return h;
}

static void map_insert(log_manager *mgr, log_partition *part) {
    if (mgr->nparts + 1 > mgr->nbuckets) {
        size_t nb = mgr->nbuckets ? mgr->nbuckets * 2 : 64;
        log_partition **b = xcalloc(nb, sizeof(*b));
        for (size_t i = 0; i < mgr->nbuckets; i++) {
            log_partition *p = mgr->buckets[i];
            while (p) {
                log_partition *nx = p->hnext;
                size_t k = tp_hash(p->topic, p->partition) & (nb - 1);
                p->hnext = b[k];
                b[k] = p;
                p = nx;
            }
        }
        free(mgr->buckets);
        mgr->buckets = b;
        mgr->nbuckets = nb;
    }
    size_t k = tp_hash(part->topic, part->partition) & (mgr->nbuckets - 1);
    part->hnext = mgr->buckets[k];
    mgr->buckets[k] = part;
    mgr->nparts++;
}

static void map_remove(log_manager *mgr, log_partition *part) {
    size_t k = tp_hash(part->topic, part->partition) & (mgr->nbuckets - 1);
    for (log_partition **pp = &mgr->buckets[k]; *pp; pp = &(*pp)->hnext)
        if (*pp == part) {
            *pp = part->hnext;
            mgr->nparts--;
            return;
        }
}

log_partition *log_get(log_manager *mgr, const char *topic, int32_t partition) {
    if (!mgr->nbuckets)
        return NULL;
    size_t k = tp_hash(topic, partition) & (mgr->nbuckets - 1);
    for (log_partition *p = mgr->buckets[k]; p; p = p->hnext)
        if (p->partition == partition && !strcmp(p->topic, topic))
            return p;
    return NULL;
}

/* ---- segment open/close (LRU) ------------------------------------------- */
static void lru_unlink(log_manager *mgr, log_segment *s) {
    if (s->lru_prev)
        s->lru_prev->lru_next = s->lru_next;
    else
        mgr->lru_head = s->lru_next;
    if (s->lru_next)
        s->lru_next->lru_prev = s->lru_prev;
    else
        mgr->lru_tail = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
}

static void lru_push(log_manager *mgr, log_segment *s) {
    s->lru_prev = NULL;
    s->lru_next = mgr->lru_head;
    if (mgr->lru_head)
        mgr->lru_head->lru_prev = s;
    mgr->lru_head = s;
    if (!mgr->lru_tail)
        mgr->lru_tail = s;
}

static void seg_close(log_segment *s) {
    log_manager *mgr = s->part->mgr;
    if (s->fd < 0)
        return;
    IOCALL(mgr, close, s->fd);
    if (s->idx_fd >= 0)
        IOCALL(mgr, close, s->idx_fd);
    if (s->tidx_fd >= 0)
        IOCALL(mgr, close, s->tidx_fd);
    s->fd = s->idx_fd = s->tidx_fd = -1;
    s->idx_lazy = false;
    free(s->idx);
    free(s->tidx);
    s->idx = NULL;
    s->tidx = NULL;
    s->cap_idx = s->cap_tidx = 0;
    lru_unlink(mgr, s);
    mgr->open_count--;
}

static bool load_index_file(log_manager *mgr, const char *path, void **arr,
                            int32_t n, size_t esz) {
    if (n == 0)
        return true;
    int fd = IOCALL(mgr, open, path, O_RDONLY, 0);
    if (fd < 0)
        return false;
    uint8_t *raw = xmalloc((size_t)n * esz);
    ssize_t r = log_io_read_full(mgr->io, fd, raw, (size_t)n * esz, 0);
    IOCALL(mgr, close, fd);
    if (r != (ssize_t)((size_t)n * esz)) {
        free(raw);
        return false;
    }
    if (esz == IDX_ENTRY) {
        idx_entry *e = xmalloc(sizeof(*e) * (size_t)n);
        for (int32_t i = 0; i < n; i++) {
            e[i].rel = (int32_t)sl_load_be32(raw + i * 8);
            e[i].pos = (int32_t)sl_load_be32(raw + i * 8 + 4);
        }
        *arr = e;
    } else {
        tidx_entry *e = xmalloc(sizeof(*e) * (size_t)n);
        for (int32_t i = 0; i < n; i++) {
            e[i].ts = (int64_t)sl_load_be64(raw + i * 12);
            e[i].rel = (int32_t)sl_load_be32(raw + i * 12 + 8);
        }
        *arr = e;
    }
    free(raw);
    return true;
}

static bool is_active(const log_segment *s) {
    const log_partition *p = s->part;
    return p->nsegs > 0 && p->segs[p->nsegs - 1] == s;
}

/* Makes s open (fd + index arrays; index fds for the active segment). */
static bool seg_open_index_files(log_segment *s);

static bool seg_open(log_segment *s) {
    log_partition *part = s->part;
    log_manager *mgr = part->mgr;
    if (s->fd >= 0) {
        if (mgr->lru_head != s) {
            lru_unlink(mgr, s);
            lru_push(mgr, s);
        }
        return true;
    }
    while (mgr->open_count >= mgr->max_open && mgr->lru_tail)
        seg_close(mgr->lru_tail);
    char path[4096];
    seg_file(part, s->base, ".log", path, sizeof(path));
    int fd = IOCALL(mgr, open, path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
        poison(part, "open segment");
        return false;
    }
    s->fd = fd;
    s->idx_fd = s->tidx_fd = -1;
    mgr->stats.segment_opens++;
    char ip[4096], tp[4096];
    seg_file(part, s->base, ".index", ip, sizeof(ip));
    seg_file(part, s->base, ".timeindex", tp, sizeof(tp));
    void *a = NULL, *b = NULL;
    if (!load_index_file(mgr, ip, &a, s->n_idx, IDX_ENTRY) ||
        !load_index_file(mgr, tp, &b, s->n_tidx, TIDX_ENTRY)) {
        free(a);
        IOCALL(mgr, close, fd);
        s->fd = -1;
        poison(part, "read index");
        return false;
    }
    s->idx = a;
    s->tidx = b;
    s->cap_idx = s->n_idx;
    s->cap_tidx = s->n_tidx;
    lru_push(mgr, s);
    mgr->open_count++;
    if (is_active(s)) {
        /* An empty active segment gets its index files with its first index
         * entry (Kafka's LazyIndex): a new partition costs one file less
         * of each, which is most of the time of creating many. */
        if (s->n_idx == 0 && s->n_tidx == 0 && !s->active_files) {
            s->idx_lazy = true;
            return true;
        }
        return seg_open_index_files(s);
    }
    return true;
}

/* Opens (creating, preallocated) the index files of the open active s. */
static bool seg_open_index_files(log_segment *s) {
    log_partition *part = s->part;
    log_manager *mgr = part->mgr;
    char ip[4096], tp[4096];
    seg_file(part, s->base, ".index", ip, sizeof(ip));
    seg_file(part, s->base, ".timeindex", tp, sizeof(tp));
    s->idx_lazy = false;
    s->idx_fd = IOCALL(mgr, open, ip, O_RDWR | O_CREAT, 0644);
    s->tidx_fd = IOCALL(mgr, open, tp, O_RDWR | O_CREAT, 0644);
    if (s->idx_fd < 0 || s->tidx_fd < 0) {
        seg_close(s);
        poison(part, "open index");
        return false;
    }
    if (!s->active_files) {
        /* Preallocate as Kafka does (sparse). */
        int32_t ib = part->cfg.segment_index_bytes;
        IOCALL(mgr, ftruncate, s->idx_fd, (off_t)(ib / IDX_ENTRY * IDX_ENTRY));
        IOCALL(mgr, ftruncate, s->tidx_fd,
               (off_t)(ib / TIDX_ENTRY * TIDX_ENTRY));
        s->active_files = true;
    }
    return true;
}

static log_segment *seg_new(log_partition *part, int64_t base) {
    log_segment *s = xcalloc(1, sizeof(*s));
    s->part = part;
    s->base = base;
    s->next_offset = base;
    s->max_ts = -1;
    s->max_ts_offset = -1;
    s->first_batch_ts = -1;
    s->last_tidx_ts = -1;
    s->created_ms = clk_wall_ms();
    s->fd = s->idx_fd = s->tidx_fd = -1;
    return s;
}

static void seg_free(log_segment *s) {
    seg_close(s);
    free(s);
}

/* ---- index maintenance -----------------------------------------------------
 */
static bool idx_append(log_segment *s, int64_t last_offset, int64_t pos) {
    log_manager *mgr = s->part->mgr;
    if (s->n_idx == s->cap_idx) {
        s->cap_idx = s->cap_idx ? s->cap_idx * 2 : 64;
        s->idx = xrealloc(s->idx, sizeof(*s->idx) * (size_t)s->cap_idx);
    }
    idx_entry e = {(int32_t)(last_offset - s->base), (int32_t)pos};
    if (s->n_idx && (e.rel <= s->idx[s->n_idx - 1].rel))
        return true; /* keep strictly increasing */
    if (s->idx_lazy && !seg_open_index_files(s))
        return false;
    s->idx[s->n_idx] = e;
    if (s->idx_fd >= 0) {
        uint8_t raw[8];
        sl_store_be32(raw, (uint32_t)e.rel);
        sl_store_be32(raw + 4, (uint32_t)e.pos);
        if (!log_io_write_all(mgr->io, s->idx_fd, raw, 8,
                              (off_t)s->n_idx * IDX_ENTRY))
            return false;
    }
    s->n_idx++;
    return true;
}

static bool tidx_maybe_append(log_segment *s, int64_t ts, int64_t offset) {
    log_manager *mgr = s->part->mgr;
    if (ts < 0 || ts <= s->last_tidx_ts)
        return true;
    if (s->n_tidx && (int32_t)(offset - s->base) < s->tidx[s->n_tidx - 1].rel)
        return true;
    if (s->n_tidx == s->cap_tidx) {
        s->cap_tidx = s->cap_tidx ? s->cap_tidx * 2 : 64;
        s->tidx = xrealloc(s->tidx, sizeof(*s->tidx) * (size_t)s->cap_tidx);
    }
    if (s->idx_lazy && !seg_open_index_files(s))
        return false;
    tidx_entry e = {ts, (int32_t)(offset - s->base)};
    if (s->n_tidx && s->tidx[s->n_tidx - 1].rel == e.rel) {
        /* same offset, larger timestamp: overwrite the last entry */
        s->n_tidx--;
    }
    s->tidx[s->n_tidx] = e;
    if (s->tidx_fd >= 0) {
        uint8_t raw[12];
        sl_store_be64(raw, (uint64_t)e.ts);
        sl_store_be32(raw + 8, (uint32_t)e.rel);
        if (!log_io_write_all(mgr->io, s->tidx_fd, raw, 12,
                              (off_t)s->n_tidx * TIDX_ENTRY))
            return false;
    }
    s->n_tidx++;
    s->last_tidx_ts = ts;
    return true;
}

/* Accounts one batch that now sits at pos in s (append and rebuild). */
static bool seg_account_batch(log_segment *s, const log_batch_header *h,
                              int64_t pos, int32_t interval) {
    int64_t last = batch_last_offset(h);
    if (s->size == 0 || s->first_batch_ts < 0)
        s->first_batch_ts = h->max_timestamp;
    if (h->max_timestamp > s->max_ts) {
        s->max_ts = h->max_timestamp;
        s->max_ts_offset = last;
    }
    bool ok = true;
    if (s->bytes_since_index > interval) {
        ok = idx_append(s, last, pos) &&
             tidx_maybe_append(s, s->max_ts, s->max_ts_offset);
        s->bytes_since_index = 0;
    }
    s->bytes_since_index += batch_size(h);
    s->next_offset = last + 1;
    return ok;
}

/* Writes the arrays of s to its index files at their exact size (used after a
 * rebuild and at roll/close). keep_prealloc: active segment stays
 * preallocated. */
static bool seg_write_indexes(log_segment *s, bool prealloc) {
    log_partition *part = s->part;
    log_manager *mgr = part->mgr;
    char ip[4096], tp[4096];
    seg_file(part, s->base, ".index", ip, sizeof(ip));
    seg_file(part, s->base, ".timeindex", tp, sizeof(tp));
    bool ok = true;
    for (int k = 0; k < 2 && ok; k++) {
        int fd = IOCALL(mgr, open, k ? tp : ip, O_RDWR | O_CREAT, 0644);
        if (fd < 0)
            return false;
        size_t esz = k ? TIDX_ENTRY : IDX_ENTRY;
        int32_t n = k ? s->n_tidx : s->n_idx;
        uint8_t *raw = xmalloc((size_t)n * esz + 1);
        for (int32_t i = 0; i < n; i++) {
            if (k) {
                sl_store_be64(raw + i * 12, (uint64_t)s->tidx[i].ts);
                sl_store_be32(raw + i * 12 + 8, (uint32_t)s->tidx[i].rel);
            } else {
                sl_store_be32(raw + i * 8, (uint32_t)s->idx[i].rel);
                sl_store_be32(raw + i * 8 + 4, (uint32_t)s->idx[i].pos);
            }
        }
        off_t len = (off_t)((size_t)n * esz);
        if (prealloc)
            len = (off_t)(part->cfg.segment_index_bytes / (int32_t)esz *
                          (int32_t)esz);
        ok = IOCALL(mgr, ftruncate, fd, 0) == 0 &&
             IOCALL(mgr, ftruncate, fd, len) == 0 &&
             log_io_write_all(mgr->io, fd, raw, (size_t)n * esz, 0);
        free(raw);
        IOCALL(mgr, close, fd);
    }
    s->active_files = prealloc;
    return ok;
}

/* The segment is no longer written: final time-index entry, trim the index
 * files, fsync everything (Kafka's onBecomeInactiveSegment + flush). With
 * job (roll), the fsyncs are left to the flusher: the index fds are handed
 * over to the job and the .log fd is dup'ed into it. */
static bool seg_finalize(log_segment *s, flush_job *job) {
    log_manager *mgr = s->part->mgr;
    if (!seg_open(s))
        return false;
    if (s->max_ts >= 0 && !tidx_maybe_append(s, s->max_ts, s->max_ts_offset))
        return false;
    bool ok = true;
    if (s->idx_fd >= 0) {
        ok = IOCALL(mgr, ftruncate, s->idx_fd, (off_t)s->n_idx * IDX_ENTRY) ==
                 0 &&
             IOCALL(mgr, ftruncate, s->tidx_fd,
                    (off_t)s->n_tidx * TIDX_ENTRY) == 0;
        if (job) {
            job->fds[job->nfds++] = s->idx_fd;
            job->fds[job->nfds++] = s->tidx_fd;
        } else {
            ok = ok && IOCALL(mgr, fsync, s->idx_fd) == 0 &&
                 IOCALL(mgr, fsync, s->tidx_fd) == 0;
            IOCALL(mgr, close, s->idx_fd);
            IOCALL(mgr, close, s->tidx_fd);
        }
        s->idx_fd = s->tidx_fd = -1;
    } else if (s->active_files) {
        ok = seg_write_indexes(s, false);
    }
    s->active_files = false;
    if (job) {
        int fd = ok ? IOCALL(mgr, dup, s->fd) : -1;
        if (fd < 0)
            return false;
        job->fds[job->nfds++] = fd;
        return true;
    }
    return ok && IOCALL(mgr, fsync, s->fd) == 0;
}

/* Finds the position of the first batch in s whose last offset >= offset,
 * starting from the index; s->size if none. -1 on I/O error. */
static int64_t seg_lookup_pos(log_segment *s, int64_t offset) {
    log_manager *mgr = s->part->mgr;
    if (offset >= s->next_offset)
        return s->size;
    int64_t pos = 0;
    int32_t rel = (int32_t)SL_MIN(offset - s->base, (int64_t)INT32_MAX);
    int32_t lo = 0, hi = s->n_idx - 1, found = -1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (s->idx[mid].rel <= rel) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    if (found >= 0)
        pos = s->idx[found].pos;
    uint8_t h[BATCH_OFF_BASE_TIMESTAMP];
    while (pos < s->size) {
        ssize_t r = log_io_read_full(mgr->io, s->fd, h, sizeof(h), (off_t)pos);
        if (r != (ssize_t)sizeof(h))
            return -1;
        int64_t bo = (int64_t)sl_load_be64(h);
        int32_t len = (int32_t)sl_load_be32(h + BATCH_OFF_LENGTH);
        int32_t lod = (int32_t)sl_load_be32(h + BATCH_OFF_LAST_OFFSET_DELTA);
        if (bo + lod >= offset)
            return pos;
        pos += (int64_t)len + BATCH_LOG_OVERHEAD;
    }
    return s->size;
}

/* ---- rebuild / recovery ---------------------------------------------------
 */

/* Re-reads s from byte 0, validating every batch; rebuilds its indexes in
 * memory and on disk; truncates the .log at the first invalid batch.
 * Returns false on I/O error (partition poisoned). *truncated set if bytes
 * were cut. */
static bool seg_rebuild(log_segment *s, bool *truncated) {
    log_partition *part = s->part;
    log_manager *mgr = part->mgr;
    *truncated = false;
    if (!seg_open(s))
        return false;
    char lp[4096];
    seg_file(part, s->base, ".log", lp, sizeof(lp));
    int64_t fsize = file_size(mgr, lp);
    if (fsize < 0)
        fsize = 0;
    s->n_idx = s->n_tidx = 0;
    s->size = 0;
    s->next_offset = s->base;
    s->max_ts = s->max_ts_offset = -1;
    s->first_batch_ts = -1;
    s->last_tidx_ts = -1;
    s->bytes_since_index = 0;
    buf b;
    buf_init(&b, 1 << 16);
    int64_t pos = 0;
    int64_t prev_next = s->base;
    while (pos < fsize) {
        uint8_t hdr[BATCH_HEADER_SIZE];
        ssize_t r =
            log_io_read_full(mgr->io, s->fd, hdr, sizeof(hdr), (off_t)pos);
        if (r < 0) {
            buf_free(&b);
            poison(part, "read segment");
            return false;
        }
        if (r < (ssize_t)BATCH_HEADER_SIZE)
            break;
        int32_t blen = (int32_t)sl_load_be32(hdr + BATCH_OFF_LENGTH);
        if (blen < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD ||
            (int64_t)blen + BATCH_LOG_OVERHEAD > fsize - pos)
            break;
        size_t total = (size_t)blen + BATCH_LOG_OVERHEAD;
        buf_reset(&b);
        buf_reserve(&b, total);
        r = log_io_read_full(mgr->io, s->fd, b.data, total, (off_t)pos);
        if (r < 0) {
            buf_free(&b);
            poison(part, "read segment");
            return false;
        }
        if ((size_t)r != total)
            break;
        log_batch_header h;
        if (batch_validate_stored(b.data, total, &h) != KERR_NONE)
            break;
        if (h.base_offset < prev_next)
            break; /* offsets must grow */
        if (!seg_account_batch(s, &h, pos, part->cfg.index_interval_bytes))
            break;
        s->size = pos + (int64_t)total;
        prev_next = batch_last_offset(&h) + 1;
        pos += (int64_t)total;
        mgr->stats.recovered_batches++;
        mgr->stats.recovered_bytes += (int64_t)total;
    }
    buf_free(&b);
    if (pos < fsize) {
        SL_WARN(MOD,
                "Found invalid or torn data in %s at byte %" PRId64
                "; truncating %" PRId64 " bytes",
                lp, pos, fsize - pos);
        mgr->stats.truncated_bytes += fsize - pos;
        if (IOCALL(mgr, ftruncate, s->fd, (off_t)pos) != 0) {
            poison(part, "truncate segment");
            return false;
        }
        *truncated = true;
    }
    if (!seg_write_indexes(s, false) || IOCALL(mgr, fsync, s->fd) != 0) {
        poison(part, "write index");
        return false;
    }
    return true;
}

/* Loads the size, counts and last offsets of a segment that was cleanly
 * written (below the recovery point or after a clean shutdown). Returns
 * false if its indexes look wrong (caller rebuilds). */
static bool seg_load_clean(log_segment *s, bool last) {
    log_partition *part = s->part;
    log_manager *mgr = part->mgr;
    char lp[4096], ip[4096], tp[4096];
    seg_file(part, s->base, ".log", lp, sizeof(lp));
    seg_file(part, s->base, ".index", ip, sizeof(ip));
    seg_file(part, s->base, ".timeindex", tp, sizeof(tp));
    s->size = file_size(mgr, lp);
    int64_t isz = file_size(mgr, ip), tsz = file_size(mgr, tp);
    /* an empty segment's index files are created with its first entry */
    if (s->size == 0 && isz < 0 && tsz < 0)
        isz = tsz = 0;
    if (s->size < 0 || isz < 0 || tsz < 0 || isz % IDX_ENTRY ||
        tsz % TIDX_ENTRY)
        return false;
    if (isz / IDX_ENTRY > INT32_MAX / 2 || tsz / TIDX_ENTRY > INT32_MAX / 2)
        return false;
    s->n_idx = (int32_t)(isz / IDX_ENTRY);
    s->n_tidx = (int32_t)(tsz / TIDX_ENTRY);
    if (!seg_open(s))
        return false;
    /* sanity: entries strictly increasing, positions inside the file */
    for (int32_t i = 0; i < s->n_idx; i++)
        if (s->idx[i].pos <= 0 || s->idx[i].pos >= s->size ||
            (i && (s->idx[i].rel <= s->idx[i - 1].rel ||
                   s->idx[i].pos <= s->idx[i - 1].pos)))
            return false;
    for (int32_t i = 1; i < s->n_tidx; i++)
        if (s->tidx[i].ts <= s->tidx[i - 1].ts)
            return false;
    if (s->n_tidx) {
        s->last_tidx_ts = s->tidx[s->n_tidx - 1].ts;
        s->max_ts = s->last_tidx_ts;
        s->max_ts_offset = s->base + s->tidx[s->n_tidx - 1].rel;
    }
    /* Scan from the last index entry to the end for next_offset (and the
     * max timestamp of the tail, which may postdate the last entry). */
    int64_t pos = s->n_idx ? s->idx[s->n_idx - 1].pos : 0;
    s->next_offset = s->base;
    s->bytes_since_index = 0;
    uint8_t h[BATCH_HEADER_SIZE];
    if (s->size > 0 &&
        log_io_read_full(mgr->io, s->fd, h, sizeof(h), 0) == (ssize_t)sizeof(h))
        s->first_batch_ts = (int64_t)sl_load_be64(h + BATCH_OFF_MAX_TIMESTAMP);
    while (pos < s->size) {
        if (log_io_read_full(mgr->io, s->fd, h, sizeof(h), (off_t)pos) !=
            (ssize_t)sizeof(h))
            return false;
        log_batch_header bh;
        batch_parse_header(h, sizeof(h), &bh);
        if (bh.batch_length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD ||
            pos + batch_size(&bh) > s->size)
            return false;
        if (bh.max_timestamp > s->max_ts) {
            s->max_ts = bh.max_timestamp;
            s->max_ts_offset = batch_last_offset(&bh);
        }
        s->next_offset = batch_last_offset(&bh) + 1;
        s->bytes_since_index += batch_size(&bh);
        pos += batch_size(&bh);
    }
    (void)last;
    return true;
}

/* ---- leader epoch cache -----------------------------------------------------
 */
static bool epochs_write(log_partition *part) {
    buf b;
    buf_init(&b, 64);
    buf_printf(&b, "0\n%d\n", part->nepochs);
    for (int i = 0; i < part->nepochs; i++)
        buf_printf(&b, "%d %" PRId64 "\n", part->epochs[i].epoch,
                   part->epochs[i].start_offset);
    char *p = path_join(part->path, "leader-epoch-checkpoint");
    bool ok = write_file_atomic(part->mgr, p, b.data, b.len);
    free(p);
    buf_free(&b);
    return ok;
}

static void epochs_load(log_partition *part) {
    char *p = path_join(part->path, "leader-epoch-checkpoint");
    char *txt = read_text(part->mgr, p);
    free(p);
    if (!txt)
        return;
    char *save = NULL;
    char *line = strtok_r(txt, "\n", &save);
    int ver = line ? atoi(line) : -1;
    line = strtok_r(NULL, "\n", &save);
    int n = line ? atoi(line) : 0;
    if (ver == 0)
        for (int i = 0; i < n && (line = strtok_r(NULL, "\n", &save)); i++) {
            int32_t e;
            int64_t off;
            if (sscanf(line, "%d %" SCNd64, &e, &off) != 2)
                break;
            if (part->nepochs == part->capepochs) {
                part->capepochs = part->capepochs ? part->capepochs * 2 : 8;
                part->epochs =
                    xrealloc(part->epochs,
                             sizeof(*part->epochs) * (size_t)part->capepochs);
            }
            part->epochs[part->nepochs++] = (epoch_entry){e, off};
        }
    free(txt);
}

static bool epochs_assign(log_partition *part, int32_t epoch, int64_t start) {
    if (epoch < 0)
        return true;
    if (part->nepochs && part->epochs[part->nepochs - 1].epoch >= epoch)
        return true;
    if (part->nepochs == part->capepochs) {
        part->capepochs = part->capepochs ? part->capepochs * 2 : 8;
        part->epochs = xrealloc(part->epochs, sizeof(*part->epochs) *
                                                  (size_t)part->capepochs);
    }
    part->epochs[part->nepochs++] = (epoch_entry){epoch, start};
    return epochs_write(part);
}

/* Drops entries at or past end (truncation). */
static void epochs_truncate_end(log_partition *part, int64_t end) {
    int n = part->nepochs;
    while (part->nepochs && part->epochs[part->nepochs - 1].start_offset >= end)
        part->nepochs--;
    if (n != part->nepochs)
        epochs_write(part);
}

/* Entries wholly below start are dropped; the one covering start begins at
 * start (Kafka's truncateFromStart). */
static void epochs_truncate_start(log_partition *part, int64_t start) {
    int keep = 0;
    for (int i = 0; i < part->nepochs; i++)
        if (part->epochs[i].start_offset <= start)
            keep = i;
    if (keep == 0 &&
        (part->nepochs == 0 || part->epochs[0].start_offset >= start))
        return;
    memmove(part->epochs, part->epochs + keep,
            sizeof(*part->epochs) * (size_t)(part->nepochs - keep));
    part->nepochs -= keep;
    if (part->epochs[0].start_offset < start)
        part->epochs[0].start_offset = start;
    epochs_write(part);
}

int32_t log_latest_epoch(const log_partition *part) {
    return part->nepochs ? part->epochs[part->nepochs - 1].epoch : -1;
}

int32_t log_epoch_for_offset(const log_partition *part, int64_t offset) {
    int32_t e = -1;
    for (int i = 0; i < part->nepochs && part->epochs[i].start_offset <= offset;
         i++)
        e = part->epochs[i].epoch;
    return e;
}

void log_end_offset_for_epoch(log_partition *part, int32_t req, int32_t *epoch,
                              int64_t *end_offset) {
    *epoch = -1;
    *end_offset = -1;
    if (req < 0 || part->nepochs == 0)
        return;
    if (req == part->epochs[part->nepochs - 1].epoch) {
        *epoch = req;
        *end_offset = log_end_offset(part);
        return;
    }
    int higher = -1, floor = -1;
    for (int i = 0; i < part->nepochs; i++) {
        if (part->epochs[i].epoch > req) {
            higher = i;
            break;
        }
        floor = i;
    }
    if (higher < 0)
        return; /* requested epoch newer than any we know */
    if (floor < 0) {
        *epoch = req;
        *end_offset = part->epochs[higher].start_offset;
    } else {
        *epoch = part->epochs[floor].epoch;
        *end_offset = part->epochs[higher].start_offset;
    }
}

/* ---- partition lifecycle
 * ----------------------------------------------------- */
static log_segment *active(log_partition *part) {
    return part->segs[part->nsegs - 1];
}

static void segs_push(log_partition *part, log_segment *s) {
    if (part->nsegs == part->capsegs) {
        part->capsegs = part->capsegs ? part->capsegs * 2 : 4;
        part->segs =
            xrealloc(part->segs, sizeof(*part->segs) * (size_t)part->capsegs);
    }
    part->segs[part->nsegs++] = s;
}

static void seg_delete_files(log_partition *part, int64_t base) {
    static const char *exts[] = {".log", ".index", ".timeindex", ".txnindex"};
    /* invariant 7: the unlinks are durable before a flush counts on them
     * (a truncated segment that came back would serve divergent data) */
    part->dir_unsynced = true;
    for (size_t i = 0; i < SL_ARRAY_LEN(exts); i++) {
        char p[4096];
        seg_file(part, base, exts[i], p, sizeof(p));
        IOCALL(part->mgr, unlink, p);
    }
}

static log_partition *part_new(log_manager *mgr, const char *topic,
                               int32_t partition, int dir_index) {
    log_partition *part = xcalloc(1, sizeof(*part));
    part->mgr = mgr;
    part->topic = xstrdup(topic);
    part->partition = partition;
    part->dir_index = dir_index;
    char name[512];
    snprintf(name, sizeof(name), "%s-%d", topic, partition);
    part->path = path_join(mgr->dirs[dir_index], name);
    part->cfg = mgr->default_cfg;
    part->last_flush_ms = clk_mono_ms();
    return part;
}

static void part_free(log_partition *part) {
    if (part->move) {
        free(part->move->future_path);
        free(part->move);
    }
    for (int i = 0; i < part->nsegs; i++)
        seg_free(part->segs[i]);
    free(part->segs);
    free(part->epochs);
    free(part->topic);
    free(part->path);
    free(part);
}

/* A new partition's partition.metadata, written in place in its new
 * directory (nothing to replace) and not fsynced here: the creations of a
 * loop pass are made durable together by one syncfs on the flusher thread
 * (log_manager_flush_begin), instead of file + directory fsyncs for each
 * partition on the loop thread. The metadata log, fsynced, is the record of
 * the partition; a missing or torn file only loses the topic id hint. */
static bool write_partition_metadata(log_partition *part) {
    char id[UUID_STR_LEN + 1];
    uuid_to_string(part->topic_id, id);
    char txt[64];
    int n = snprintf(txt, sizeof(txt), "version: 0\ntopic_id: %s\n", id);
    char *p = path_join(part->path, "partition.metadata");
    log_manager *mgr = part->mgr;
    int fd = IOCALL(mgr, open, p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    free(p);
    if (fd < 0)
        return false;
    bool ok = log_io_write_all(mgr->io, fd, txt, (size_t)n, 0);
    IOCALL(mgr, close, fd);
    mgr->create_sync = true;
    return ok;
}

static void read_partition_metadata(log_partition *part) {
    char *p = path_join(part->path, "partition.metadata");
    char *txt = read_text(part->mgr, p);
    free(p);
    if (!txt)
        return;
    char *t = strstr(txt, "topic_id:");
    if (t) {
        t += 9;
        char id[32];
        if (sscanf(t, " %31s", id) == 1)
            uuid_parse(id, part->topic_id, NULL, 0);
    }
    free(txt);
}

static bool add_new_segment(log_partition *part, int64_t base) {
    log_segment *s = seg_new(part, base);
    segs_push(part, s);
    part->dir_unsynced = true; /* seg_open creates the .log */
    if (!seg_open(s)) {
        return false;
    }
    return true;
}

log_partition *log_create(log_manager *mgr, const char *topic,
                          int32_t partition, const uint8_t topic_id[16],
                          const log_config *cfg, int16_t *err) {
    *err = KERR_NONE;
    log_partition *part = log_get(mgr, topic, partition);
    if (part)
        return part;
    /* The dir with the fewest partitions (Kafka's placement rule). */
    int best = 0;
    if (mgr->ndirs > 1) {
        if (!mgr->dir_parts) {
            mgr->dir_parts = xcalloc((size_t)mgr->ndirs, sizeof(int));
            for (size_t i = 0; i < mgr->nbuckets; i++)
                for (log_partition *p = mgr->buckets[i]; p; p = p->hnext)
                    mgr->dir_parts[p->dir_index]++;
        }
        best = -1;
        for (int i = 0; i < mgr->ndirs; i++)
            if (!log_manager_dir_offline(mgr, i) &&
                (best < 0 || mgr->dir_parts[i] < mgr->dir_parts[best]))
                best = i;
    } else if (log_manager_dir_offline(mgr, 0)) {
        best = -1;
    }
    if (best < 0) { /* every log dir is offline */
        *err = KERR_KAFKA_STORAGE_ERROR;
        return NULL;
    }
    part = part_new(mgr, topic, partition, best);
    if (cfg)
        part->cfg = *cfg;
    if (topic_id)
        memcpy(part->topic_id, topic_id, 16);
    if (IOCALL(mgr, mkdir, part->path, 0755) != 0 && errno != EEXIST) {
        SL_ERROR(MOD, "cannot create %s: %s", part->path, strerror(errno));
        part_free(part);
        *err = KERR_KAFKA_STORAGE_ERROR;
        return NULL;
    }
    part->parent_unsynced = true;
    if (!write_partition_metadata(part) || !add_new_segment(part, 0)) {
        SL_ERROR(MOD, "cannot initialise %s: %s", part->path, strerror(errno));
        part_free(part);
        *err = KERR_KAFKA_STORAGE_ERROR;
        return NULL;
    }
    map_insert(mgr, part);
    if (mgr->dir_parts)
        mgr->dir_parts[best]++;
    return part;
}

static bool remove_dir_files(log_manager *mgr, const char *dir) {
    int n;
    char **names = log_io_list_names(mgr->io, dir, &n);
    if (!names)
        return false;
    for (int i = 0; i < n; i++) {
        char *p = path_join(dir, names[i]);
        IOCALL(mgr, unlink, p);
        free(p);
    }
    log_io_free_names(names, n);
    return IOCALL(mgr, rmdir, dir) == 0;
}

static void flush_forget(log_partition *part);

int16_t log_delete(log_manager *mgr, log_partition *part) {
    log_move_cancel(part);
    map_remove(mgr, part);
    flush_forget(part);
    if (mgr->dir_parts)
        mgr->dir_parts[part->dir_index]--;
    for (int i = 0; i < mgr->ndirty; i++)
        if (mgr->dirty[i] == part)
            mgr->dirty[i] = mgr->dirty[--mgr->ndirty];
    for (int i = 0; i < part->nsegs; i++)
        seg_close(part->segs[i]);
    char hex[33];
    dir_suffix(hex);
    char name[600];
    snprintf(name, sizeof(name), "%s-%d.%s-delete", part->topic,
             part->partition, hex);
    char *to = path_join(mgr->dirs[part->dir_index], name);
    int16_t err = KERR_NONE;
    if (IOCALL(mgr, rename, part->path, to) != 0 || !remove_dir_files(mgr, to))
        err = KERR_KAFKA_STORAGE_ERROR;
    free(to);
    part_free(part);
    return err;
}

/* ---- accessors
 * --------------------------------------------------------------- */
void log_set_config(log_partition *part, const log_config *cfg) {
    part->cfg = *cfg;
}
const log_config *log_get_config(const log_partition *part) {
    return &part->cfg;
}
const char *log_topic(const log_partition *part) {
    return part->topic;
}
int32_t log_partition_id(const log_partition *part) {
    return part->partition;
}
void log_topic_id(const log_partition *part, uint8_t out[16]) {
    memcpy(out, part->topic_id, 16);
}
const char *log_dir_path(const log_partition *part) {
    return part->mgr->dirs[part->dir_index];
}
const log_io *log_manager_io(const log_manager *mgr) {
    return mgr->io;
}
const log_io *log_partition_io(const log_partition *part) {
    return part->mgr->io;
}
int64_t log_start_offset(const log_partition *part) {
    return part->log_start;
}
int64_t log_end_offset(const log_partition *part) {
    return part->segs[part->nsegs - 1]->next_offset;
}
int64_t log_high_watermark(const log_partition *part) {
    return part->hw;
}
int64_t log_last_stable_offset(const log_partition *part) {
    return part->hw;
}
int64_t log_recovery_point(const log_partition *part) {
    return part->recovery_point;
}
int64_t log_size_bytes(const log_partition *part) {
    int64_t n = 0;
    for (int i = 0; i < part->nsegs; i++)
        n += part->segs[i]->size;
    return n;
}
int log_segment_count(const log_partition *part) {
    return part->nsegs;
}
bool log_is_failed(const log_partition *part) {
    return part->failed;
}

void log_set_high_watermark(log_partition *part, int64_t hw) {
    int64_t leo = log_end_offset(part);
    if (hw > leo)
        hw = leo;
    if (hw < part->log_start)
        hw = part->log_start;
    part->hw = hw;
    SL_ASSERT(part->log_start <= part->hw && part->hw <= leo);
}

/* ---- flush ------------------------------------------------------------------
 */
static bool sync_pending_jobs(log_partition *part);
static bool sync_part_dirs(log_partition *part, flush_job *job);

int16_t log_flush(log_partition *part) {
    if (part->failed)
        return KERR_KAFKA_STORAGE_ERROR;
    log_segment *s = active(part);
    int64_t leo = s->next_offset;
    if (part->recovery_point >= leo && part->unflushed_msgs == 0)
        return KERR_NONE;
    /* rolled segments still waiting for the flusher are synced first, so
     * that everything below the new recovery point is on disk */
    if (!sync_pending_jobs(part) || !sync_part_dirs(part, NULL) ||
        !seg_open(s) || IOCALL(part->mgr, fsync, s->fd) != 0) {
        poison(part, "fsync");
        return KERR_KAFKA_STORAGE_ERROR;
    }
    part->recovery_point = leo;
    part->unflushed_msgs = 0;
    part->last_flush_ms = clk_mono_ms();
    part->flush_due = false; /* left in mgr->due; skipped there */
    return KERR_NONE;
}

/* Invariant 7 for a flush: the directories whose new entries the flushed
 * data needs. With job, they are handed to it (fsynced on the flusher
 * before its files); else fsynced now. False on an fsync error. */
static bool sync_part_dirs(log_partition *part, flush_job *job) {
    log_manager *mgr = part->mgr;
    const char *dirs[2];
    int n = 0;
    if (part->dir_unsynced)
        dirs[n++] = part->path;
    if (part->parent_unsynced)
        dirs[n++] = mgr->dirs[part->dir_index];
    for (int i = 0; i < n; i++) {
        if (job)
            job->dirs[job->ndirs++] = xstrdup(dirs[i]);
        else if (IOCALL(mgr, fsync_dir, dirs[i]) != 0)
            return false;
    }
    part->dir_unsynced = part->parent_unsynced = false;
    return true;
}

static void mark_dirty(log_partition *part) {
    log_manager *mgr = part->mgr;
    if (part->dirty)
        return;
    if (mgr->ndirty == mgr->capdirty) {
        mgr->capdirty = mgr->capdirty ? mgr->capdirty * 2 : 64;
        mgr->dirty =
            xrealloc(mgr->dirty, sizeof(*mgr->dirty) * (size_t)mgr->capdirty);
    }
    mgr->dirty[mgr->ndirty++] = part;
    part->dirty = true;
}

int log_manager_flush_dirty(log_manager *mgr) {
    int n = 0;
    for (int i = 0; i < mgr->ndirty; i++) {
        log_partition *part = mgr->dirty[i];
        part->dirty = false;
        log_flush(part);
        n++;
    }
    mgr->ndirty = 0;
    return n;
}

/* ---- flusher ----------------------------------------------------------------
 * Asynchronous flushes (flush.h). A job owns its fds (dup'ed or taken over
 * from a rolled segment), so segments may close, roll or be deleted while it
 * runs; only the loop thread reads job->part, and log_delete clears it.
 * jobs_head..jobs_tail are the begun jobs in ticket order; the thread takes
 * them from fl_next and marks them done; the loop reaps from the head. */

static flush_job *job_new(log_partition *part, int64_t target) {
    flush_job *j = xcalloc(1, sizeof(*j));
    j->part = part;
    j->gen = part->gen;
    j->target = target;
    return j;
}

static void job_free(log_manager *mgr, flush_job *j) {
    for (int i = 0; i < j->nfds; i++)
        IOCALL(mgr, close, j->fds[i]);
    for (int i = 0; i < j->ndirs; i++)
        free(j->dirs[i]);
    free(j->sync_path);
    free(j);
}

static void *flusher_main(void *arg) {
    log_manager *mgr = arg;
    pthread_mutex_lock(&mgr->fl_mu);
    for (;;) {
        if (mgr->fl_abandon || (mgr->fl_stop && !mgr->fl_next))
            break;
        if (!mgr->fl_next) {
            pthread_cond_wait(&mgr->fl_cv, &mgr->fl_mu);
            continue;
        }
        flush_job *j = mgr->fl_next;
        mgr->fl_next = j->next;
        pthread_mutex_unlock(&mgr->fl_mu);
        int err = 0;
        if (j->sync_path && IOCALL(mgr, syncfs, j->sync_path) != 0)
            err = errno ? errno : EIO;
        for (int i = 0; i < j->ndirs && !err; i++)
            if (IOCALL(mgr, fsync_dir, j->dirs[i]) != 0)
                err = errno ? errno : EIO;
        for (int i = 0; i < j->nfds && !err; i++)
            if (IOCALL(mgr, fsync, j->fds[i]) != 0)
                err = errno ? errno : EIO;
        pthread_mutex_lock(&mgr->fl_mu);
        j->err = err;
        j->done = true;
        /* one wake-up per batch: after its last job */
        if (!j->next || j->next->ticket != j->ticket) {
            void (*fn)(void *) = mgr->fl_notify;
            void *ctx = mgr->fl_notify_ctx;
            pthread_mutex_unlock(&mgr->fl_mu);
            if (fn)
                fn(ctx);
            pthread_mutex_lock(&mgr->fl_mu);
        }
    }
    pthread_mutex_unlock(&mgr->fl_mu);
    return NULL;
}

void log_manager_set_flush_notify(log_manager *mgr, void (*fn)(void *ctx),
                                  void *ctx) {
    pthread_mutex_lock(&mgr->fl_mu);
    mgr->fl_notify = fn;
    mgr->fl_notify_ctx = ctx;
    pthread_mutex_unlock(&mgr->fl_mu);
}

bool log_flush_is_due(const log_partition *part) {
    return part->flush_due;
}

static void mark_due(log_partition *part) {
    log_manager *mgr = part->mgr;
    if (part->flush_due)
        return;
    if (mgr->ndue == mgr->capdue) {
        mgr->capdue = mgr->capdue ? mgr->capdue * 2 : 64;
        mgr->due = xrealloc(mgr->due, sizeof(*mgr->due) * (size_t)mgr->capdue);
    }
    mgr->due[mgr->ndue++] = part;
    part->flush_due = true;
}

static void hold_job(log_manager *mgr, flush_job *j) {
    if (mgr->held_tail)
        mgr->held_tail->next = j;
    else
        mgr->held_head = j;
    mgr->held_tail = j;
}

int log_manager_flush_check(log_manager *mgr) {
    int64_t mono = clk_mono_ms();
    int n = 0;
    for (size_t i = 0; i < mgr->nbuckets; i++)
        for (log_partition *p = mgr->buckets[i]; p; p = p->hnext)
            if (!p->failed && p->cfg.flush_ms != INT64_MAX &&
                p->unflushed_msgs > 0 &&
                mono - p->last_flush_ms >= p->cfg.flush_ms && !p->flush_due) {
                mark_due(p);
                n++;
            }
    return n;
}

bool log_manager_flush_pending(const log_manager *mgr) {
    return mgr->ndue > 0 || mgr->held_head || mgr->create_sync;
}

uint64_t log_manager_flush_begin(log_manager *mgr) {
    /* held roll jobs first: a partition's recovery point then only moves
     * past segments synced before */
    flush_job *head = mgr->held_head, *tail = mgr->held_tail;
    mgr->held_head = mgr->held_tail = NULL;
    if (mgr->create_sync) {
        /* new partitions (directories, partition.metadata): one syncfs per
         * log dir, whatever their number */
        mgr->create_sync = false;
        for (int d = 0; d < mgr->ndirs; d++) {
            flush_job *j = xcalloc(1, sizeof(*j));
            j->sync_path = xstrdup(mgr->dirs[d]);
            j->target = -1;
            if (tail)
                tail->next = j;
            else
                head = j;
            tail = j;
        }
    }
    for (int i = 0; i < mgr->ndue; i++) {
        log_partition *p = mgr->due[i];
        if (!p->flush_due)
            continue;
        p->flush_due = false;
        if (p->failed)
            continue;
        log_segment *s = active(p);
        int fd = seg_open(s) ? IOCALL(mgr, dup, s->fd) : -1;
        if (fd < 0) {
            poison(p, "flush");
            continue;
        }
        flush_job *j = job_new(p, s->next_offset);
        sync_part_dirs(p, j);
        j->fds[j->nfds++] = fd;
        p->unflushed_msgs = 0;
        p->last_flush_ms = clk_mono_ms();
        if (tail)
            tail->next = j;
        else
            head = j;
        tail = j;
    }
    mgr->ndue = 0;
    if (!head)
        return mgr->fl_ticket;
    uint64_t ticket = ++mgr->fl_ticket;
    for (flush_job *j = head; j; j = j->next)
        j->ticket = ticket;
    pthread_mutex_lock(&mgr->fl_mu);
    if (mgr->jobs_tail)
        mgr->jobs_tail->next = head;
    else
        mgr->jobs_head = head;
    mgr->jobs_tail = tail;
    if (!mgr->fl_next)
        mgr->fl_next = head;
    if (!mgr->fl_started) {
        if (pthread_create(&mgr->fl_thread, NULL, flusher_main, mgr) == 0) {
            mgr->fl_started = true;
            pthread_setname_np(mgr->fl_thread, "sl-flusher");
        } else {
            SL_ERROR(MOD, "cannot start the flusher thread: %s",
                     strerror(errno));
            abort();
        }
    }
    pthread_cond_signal(&mgr->fl_cv);
    pthread_mutex_unlock(&mgr->fl_mu);
    return ticket;
}

uint64_t log_manager_flush_reap(log_manager *mgr) {
    flush_job *done = NULL, **dt = &done;
    pthread_mutex_lock(&mgr->fl_mu);
    while (mgr->jobs_head && mgr->jobs_head->done) {
        flush_job *j = mgr->jobs_head;
        mgr->jobs_head = j->next;
        if (!mgr->jobs_head)
            mgr->jobs_tail = NULL;
        j->next = NULL;
        *dt = j;
        dt = &j->next;
    }
    uint64_t upto =
        mgr->jobs_head ? mgr->jobs_head->ticket - 1 : mgr->fl_ticket;
    pthread_mutex_unlock(&mgr->fl_mu);
    while (done) {
        flush_job *j = done;
        done = j->next;
        log_partition *p = j->part;
        if (p && j->gen == p->gen && !p->failed) {
            if (j->err) {
                errno = j->err;
                poison(p, "fsync");
            } else if (j->target > p->recovery_point &&
                       j->target <= log_end_offset(p)) {
                p->recovery_point = j->target;
            }
        }
        job_free(mgr, j);
    }
    return upto;
}

uint64_t log_manager_flush_wait(log_manager *mgr) {
    pthread_mutex_lock(&mgr->fl_mu);
    while (mgr->jobs_tail && !mgr->jobs_tail->done) {
        pthread_mutex_unlock(&mgr->fl_mu);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&mgr->fl_mu);
    }
    pthread_mutex_unlock(&mgr->fl_mu);
    return log_manager_flush_reap(mgr);
}

/* For a synchronous flush: fsyncs now the files of the partition's jobs
 * that may not be done yet (the flusher may sync them again: harmless). */
static bool sync_pending_jobs(log_partition *part) {
    log_manager *mgr = part->mgr;
    bool ok = true;
    for (flush_job *j = mgr->held_head; j && ok; j = j->next)
        if (j->part == part) {
            for (int i = 0; i < j->ndirs && ok; i++)
                ok = IOCALL(mgr, fsync_dir, j->dirs[i]) == 0;
            for (int i = 0; i < j->nfds && ok; i++)
                ok = IOCALL(mgr, fsync, j->fds[i]) == 0;
        }
    pthread_mutex_lock(&mgr->fl_mu);
    for (flush_job *j = mgr->jobs_head; j && ok; j = j->next)
        if (j->part == part && !j->done) {
            for (int i = 0; i < j->ndirs && ok; i++)
                ok = IOCALL(mgr, fsync_dir, j->dirs[i]) == 0;
            for (int i = 0; i < j->nfds && ok; i++)
                ok = IOCALL(mgr, fsync, j->fds[i]) == 0;
        }
    pthread_mutex_unlock(&mgr->fl_mu);
    return ok;
}

/* Deleted partition: its jobs no longer point at it. */
static void flush_forget(log_partition *part) {
    log_manager *mgr = part->mgr;
    for (int i = 0; i < mgr->ndue; i++)
        if (mgr->due[i] == part)
            mgr->due[i] = mgr->due[--mgr->ndue];
    part->flush_due = false;
    for (flush_job *j = mgr->held_head; j; j = j->next)
        if (j->part == part)
            j->part = NULL;
    pthread_mutex_lock(&mgr->fl_mu);
    for (flush_job *j = mgr->jobs_head; j; j = j->next)
        if (j->part == part)
            j->part = NULL;
    pthread_mutex_unlock(&mgr->fl_mu);
}

/* Stops the thread: after finishing every begun job (drain) or after the
 * current one (abandon: a crash loses the rest, as it would). */
static void flusher_stop(log_manager *mgr, bool drain) {
    if (drain && log_manager_flush_pending(mgr))
        log_manager_flush_begin(mgr);
    if (!drain) { /* a crash: nothing more is synced */
        mgr->create_sync = false;
        for (int i = 0; i < mgr->ndue; i++)
            mgr->due[i]->flush_due = false;
        mgr->ndue = 0;
    }
    pthread_mutex_lock(&mgr->fl_mu);
    mgr->fl_stop = true;
    mgr->fl_abandon = !drain;
    bool started = mgr->fl_started;
    pthread_cond_signal(&mgr->fl_cv);
    pthread_mutex_unlock(&mgr->fl_mu);
    if (started)
        pthread_join(mgr->fl_thread, NULL);
    mgr->fl_started = false;
    if (drain)
        log_manager_flush_reap(mgr);
    flush_job *lists[2] = {mgr->jobs_head, mgr->held_head};
    for (int i = 0; i < 2; i++)
        while (lists[i]) {
            flush_job *n = lists[i]->next;
            job_free(mgr, lists[i]);
            lists[i] = n;
        }
    mgr->jobs_head = mgr->jobs_tail = mgr->fl_next = NULL;
    mgr->held_head = mgr->held_tail = NULL;
}

/* ---- roll
 * ---------------------------------------------------------------------- */
static bool roll(log_partition *part) {
    log_segment *old = active(part);
    int64_t base = old->next_offset;
    /* Kafka flushes the rolled segment asynchronously (flushUptoOffset-
     * Exclusive = the new base); the recovery point follows when done. */
    flush_job *job = job_new(part, base);
    if (!seg_finalize(old, job)) {
        job_free(part->mgr, job);
        poison(part, "roll");
        return false;
    }
    hold_job(part->mgr, job);
    /* Invariant 7: the old segment's entry is durable before the new
     * segment's can be (one directory fsync per roll, always: a flush job
     * that took the directory may not have run yet). */
    part->dir_unsynced = true;
    if (!sync_part_dirs(part, NULL)) {
        poison(part, "fsync directory");
        return false;
    }
    /* A stale file of that name (left by a crash) is replaced. */
    seg_delete_files(part, base);
    if (!add_new_segment(part, base))
        return false;
    SL_DEBUG(MOD, "Rolled new log segment for %s-%d at offset %" PRId64,
             part->topic, part->partition, base);
    return true;
}

static bool should_roll(log_partition *part, int64_t append_bytes,
                        int64_t max_ts, int64_t last_offset, int64_t now) {
    log_segment *s = active(part);
    const log_config *c = &part->cfg;
    if (s->size == 0)
        return false;
    if (s->size > (int64_t)c->segment_bytes - append_bytes)
        return true;
    int64_t waited = s->first_batch_ts >= 0 ? max_ts - s->first_batch_ts
                                            : now - s->created_ms;
    if (waited > c->segment_ms)
        return true;
    if ((int64_t)(s->n_idx + 1) * IDX_ENTRY > c->segment_index_bytes ||
        (int64_t)(s->n_tidx + 1) * TIDX_ENTRY > c->segment_index_bytes)
        return true;
    if (last_offset - s->base > INT32_MAX)
        return true;
    return false;
}

/* ---- append
 * ---------------------------------------------------------------------- */
static int16_t fail_append(log_append_info *out, int16_t err, int32_t bi,
                           int32_t ri, const char *msg) {
    out->err_batch_index = bi;
    out->err_record_index = ri;
    out->err_message = msg;
    return err;
}

/* Java long arithmetic (wraps), for Kafka's timestamp bounds. */
static int64_t wrap_add(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* Kafka's LogValidator.validateTimestamp for one record: NULL if it is
 * accepted, else Kafka's message for it (written into text). */
static const char *check_record_ts(const log_config *c,
                                   const log_batch_header *h,
                                   const log_record *r, int64_t now, char *text,
                                   size_t cap) {
    if (c->message_timestamp_type == LOG_TS_CREATE_TIME && r->timestamp != -1) {
        int64_t diff = wrap_add(now, (int64_t)(0 - (uint64_t)r->timestamp));
        int64_t neg = (int64_t)(0 - (uint64_t)diff);
        if (diff > c->timestamp_before_max_ms ||
            neg > c->timestamp_after_max_ms) {
            snprintf(
                text, cap,
                "Timestamp %" PRId64 " of message with offset %" PRId64
                " is out of range. The timestamp should be within "
                "[%" PRId64 ", %" PRId64 "]",
                r->timestamp, r->offset,
                wrap_add(now,
                         (int64_t)(0 - (uint64_t)c->timestamp_before_max_ms)),
                wrap_add(now, c->timestamp_after_max_ms));
            return text;
        }
    } else if (h->attributes & BATCH_ATTR_LOG_APPEND_TIME) {
        snprintf(
            text, cap,
            "Invalid timestamp type in message DefaultRecord(offset=%" PRId64
            ", timestamp=%" PRId64 ", key=%d bytes, value=%d bytes). "
            "Producer should not set timestamp type to LogAppendTime.",
            r->offset, r->timestamp, r->key_len > 0 ? r->key_len : 0,
            r->value_len > 0 ? r->value_len : 0);
        return text;
    }
    return NULL;
}

/* Whether a compressed batch's header says a record may fail the timestamp
 * check (then its records are read to find which, as Kafka does for every
 * compressed batch; an honest header spares the decompression). */
static bool batch_ts_suspect(const log_config *c, const log_batch_header *h,
                             int64_t now) {
    if (batch_is_control(h))
        return false;
    if (h->attributes & BATCH_ATTR_LOG_APPEND_TIME)
        return true;
    if (c->message_timestamp_type != LOG_TS_CREATE_TIME)
        return false;
    int64_t ts[2] = {h->base_timestamp, h->max_timestamp};
    for (int i = 0; i < 2; i++) {
        if (ts[i] == -1)
            continue;
        int64_t diff = wrap_add(now, (int64_t)(0 - (uint64_t)ts[i]));
        if (diff > c->timestamp_before_max_ms ||
            (int64_t)(0 - (uint64_t)diff) > c->timestamp_after_max_ms)
            return true;
    }
    return false;
}

/* Checks the records of an uncompressed batch (or a decompressed one) for
 * keys and timestamps as Kafka's LogValidator.validateRecord does: every
 * rejected record goes to sink and is counted in *n_bad; the batch then
 * fails with INVALID_TIMESTAMP if one of them has a bad timestamp, else
 * INVALID_RECORD. A record that cannot be read fails the batch as a whole
 * (*n_bad = 0), as Kafka's record iterator throws. */
static int16_t validate_records(const log_partition *part,
                                const log_batch_header *h, const uint8_t *recs,
                                size_t n, int64_t now,
                                const log_record_sink *sink, int32_t *n_bad,
                                int32_t *bad_index, const char **msg) {
    const log_config *c = &part->cfg;
    bool compact = (c->cleanup_policy & LOG_CLEANUP_COMPACT) != 0;
    bool ts_check = !batch_is_control(h);
    batch_iter it;
    batch_iter_init(&it, h, recs, n);
    log_record r;
    int rc;
    int64_t expect_delta = 0;
    int32_t bad = 0;
    bool ts_bad = false;
    *bad_index = -1;
    *n_bad = 0;
    char text[512];
    while ((rc = batch_iter_next(&it, &r)) == 1) {
        if (r.offset_delta != expect_delta++) {
            /* Kafka rewrites such a batch; Sluice writes batches in place,
             * so it refuses it as a whole. */
            *bad_index = it.index - 1;
            *msg = "Inner record offsets are not consecutive";
            return KERR_INVALID_RECORD;
        }
        const char *why = NULL;
        if (compact && r.key_len < 0) {
            snprintf(text, sizeof(text),
                     "Compacted topic cannot accept message without key in "
                     "topic partition %s-%d",
                     part->topic, part->partition);
            why = text;
        } else if (ts_check) {
            why = check_record_ts(c, h, &r, now, text, sizeof(text));
            ts_bad |= why != NULL;
        }
        if (!why)
            continue;
        if (bad++ == 0) {
            *bad_index = it.index - 1;
            *msg = ts_bad ? "Timestamp of the record is out of range"
                          : "Compacted topic cannot accept message without key";
        }
        if (sink)
            sink->add(sink->ctx, it.index - 1, why);
    }
    if (rc < 0 || expect_delta != h->records_count) {
        /* Kafka: InvalidRecordException ("Incorrect declared batch size"). */
        *bad_index = -1;
        *msg = "Malformed record in batch";
        return KERR_INVALID_RECORD;
    }
    *n_bad = bad;
    if (!bad)
        return KERR_NONE;
    return ts_bad ? KERR_INVALID_TIMESTAMP : KERR_INVALID_RECORD;
}

int16_t log_append(log_partition *part, uint8_t *batches, size_t len,
                   int32_t leader_epoch, int origin, log_append_info *out) {
    return log_append_checked(part, batches, len, leader_epoch, origin, NULL,
                              out);
}

int16_t log_append_checked(log_partition *part, uint8_t *batches, size_t len,
                           int32_t leader_epoch, int origin,
                           const log_record_sink *sink, log_append_info *out) {
    log_manager *mgr = part->mgr;
    const log_config *c = &part->cfg;
    memset(out, 0, sizeof(*out));
    out->base_offset = out->last_offset = -1;
    out->log_append_time = -1;
    out->err_batch_index = out->err_record_index = -1;
    out->log_start_offset = part->log_start;
    if (part->failed)
        return KERR_KAFKA_STORAGE_ERROR;
    if (len == 0)
        return fail_append(out, KERR_CORRUPT_MESSAGE, -1, -1, "Empty records");
    int64_t now = clk_wall_ms();

    /* Pass 1: validate all, change nothing. */
    size_t pos = 0;
    int32_t bi = 0;
    int32_t total_records = 0;
    int64_t max_ts = -1;
    int64_t expect_next = log_end_offset(part);
    while (pos < len) {
        log_batch_header h;
        /* Kafka's order (UnifiedLog.analyzeAndValidateRecords): a client
         * batch's baseOffset, max.message.bytes, then CRC and the rest. */
        if (batch_parse_header(batches + pos, len - pos, &h)) {
            if (origin == LOG_ORIGIN_CLIENT && h.base_offset != 0)
                return fail_append(out, KERR_INVALID_RECORD, bi, -1,
                                   "The baseOffset of the record batch "
                                   "should be 0");
            if (batch_size(&h) > c->max_message_bytes)
                return fail_append(
                    out, KERR_MESSAGE_TOO_LARGE, bi, -1,
                    "Record batch larger than max.message.bytes");
        }
        int16_t e = batch_validate(batches + pos, len - pos, &h);
        if (e)
            return fail_append(
                out, e, bi, -1,
                e == KERR_CORRUPT_MESSAGE
                    ? "Record batch is corrupt (size, magic or CRC)"
                    : "Invalid record batch");
        if (batch_is_control(&h) && origin == LOG_ORIGIN_CLIENT)
            return fail_append(
                out, KERR_INVALID_RECORD, bi, -1,
                "Clients are not allowed to write control records");
        if (origin == LOG_ORIGIN_REPLICATION) {
            if (h.base_offset < expect_next)
                return fail_append(out, KERR_INVALID_RECORD, bi, -1,
                                   "Out of order offsets from replication");
            expect_next = batch_last_offset(&h) + 1;
        }
        const uint8_t *recs = batches + pos + BATCH_HEADER_SIZE;
        size_t rn = (size_t)batch_size(&h) - BATCH_HEADER_SIZE;
        bool need_records = origin != LOG_ORIGIN_REPLICATION &&
                            (batch_compression(&h) == COMPRESS_NONE ||
                             (c->cleanup_policy & LOG_CLEANUP_COMPACT) ||
                             batch_ts_suspect(c, &h, now));
        if (need_records) {
            buf plain;
            buf_init(&plain, 0);
            int16_t de = KERR_NONE;
            if (batch_compression(&h) != COMPRESS_NONE) {
                de = batch_decompress_records(&h, batches + pos,
                                              (size_t)c->max_message_bytes * 64,
                                              &plain);
                recs = plain.data;
                rn = plain.len;
            }
            int32_t ri = -1, n_bad = 0;
            const char *msg = "Malformed compressed records";
            if (!de)
                de = validate_records(part, &h, recs, rn, now, sink, &n_bad,
                                      &ri, &msg);
            buf_free(&plain);
            if (de) {
                out->n_record_errors = n_bad;
                return fail_append(out, de, bi, ri, msg);
            }
        }
        if (h.max_timestamp > max_ts)
            max_ts = h.max_timestamp;
        total_records += h.records_count;
        pos += (size_t)batch_size(&h);
        bi++;
    }

    /* Kafka checks the segment size after validation. */
    if (len > (size_t)c->segment_bytes)
        return fail_append(out, KERR_RECORD_LIST_TOO_LARGE, -1, -1,
                           "Record batch larger than segment.bytes");

    /* Pass 2: assign offsets in place. */
    int64_t next = log_end_offset(part);
    int64_t first = -1;
    bool lat = c->message_timestamp_type == LOG_TS_LOG_APPEND_TIME &&
               origin != LOG_ORIGIN_REPLICATION;
    for (pos = 0; pos < len;) {
        log_batch_header h;
        batch_parse_header(batches + pos, len - pos, &h);
        size_t bs = (size_t)batch_size(&h);
        if (origin != LOG_ORIGIN_REPLICATION) {
            batch_set_base_offset(batches + pos, next);
            batch_set_leader_epoch(batches + pos, leader_epoch);
            if (lat)
                batch_set_log_append_time(batches + pos, bs, now);
            h.base_offset = next;
        }
        if (first < 0)
            first = h.base_offset;
        next = batch_last_offset(&h) + 1;
        pos += bs;
    }
    if (lat)
        max_ts = now;
    int64_t last = next - 1;

    /* Roll if needed, then one write. */
    if (should_roll(part, (int64_t)len, max_ts, last, now) && !roll(part))
        return KERR_KAFKA_STORAGE_ERROR;
    log_segment *s = active(part);
    if (!seg_open(s))
        return KERR_KAFKA_STORAGE_ERROR;
    int64_t at = s->size;
    if (!log_io_write_all(mgr->io, s->fd, batches, len, (off_t)at)) {
        poison(part, "append");
        return KERR_KAFKA_STORAGE_ERROR;
    }
    if (origin == LOG_ORIGIN_REPLICATION && first > s->next_offset &&
        s->size == 0)
        s->next_offset = first;
    for (pos = 0; pos < len;) {
        log_batch_header h;
        batch_parse_header(batches + pos, len - pos, &h);
        if (!seg_account_batch(s, &h, at + (int64_t)pos,
                               c->index_interval_bytes)) {
            poison(part, "index append");
            return KERR_KAFKA_STORAGE_ERROR;
        }
        s->size = at + (int64_t)pos + batch_size(&h);
        pos += (size_t)batch_size(&h);
    }
    if (!epochs_assign(part, leader_epoch, first)) {
        poison(part, "leader-epoch-checkpoint");
        return KERR_KAFKA_STORAGE_ERROR;
    }
    part->unflushed_msgs += total_records;
    mark_dirty(part);
    out->base_offset = first;
    out->last_offset = last;
    out->log_append_time = lat ? now : -1;
    out->log_start_offset = part->log_start;
    out->record_count = total_records;
    if (part->unflushed_msgs >= c->flush_messages)
        mark_due(part); /* flush.h: begun before the loop sleeps */
    return KERR_NONE;
}

/* ---- read
 * ------------------------------------------------------------------------ */
static int seg_index_for(const log_partition *part, int64_t offset) {
    int lo = 0, hi = part->nsegs - 1, ans = 0;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (part->segs[mid]->base <= offset) {
            ans = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return ans;
}

void log_read_release(log_read_result *r) {
    if (r->fd >= 0)
        r->io->close(r->io->ctx, r->fd);
    r->fd = -1;
}

ssize_t log_read_pread(const log_read_result *r, void *buf, size_t n,
                       int64_t file_pos) {
    return log_io_read_full(r->io, r->fd, buf, n, (off_t)file_pos);
}

static int16_t read_impl(log_partition *part, int64_t offset, int32_t max_bytes,
                         int64_t max_offset, bool min_one_batch, bool want_fd,
                         log_read_result *out);

int16_t log_read(log_partition *part, int64_t offset, int32_t max_bytes,
                 int64_t max_offset, bool min_one_batch, log_read_result *out) {
    return read_impl(part, offset, max_bytes, max_offset, min_one_batch, true,
                     out);
}

int16_t log_read_len(log_partition *part, int64_t offset, int32_t max_bytes,
                     int64_t max_offset, bool min_one_batch, int32_t *len) {
    log_read_result r;
    int16_t e = read_impl(part, offset, max_bytes, max_offset, min_one_batch,
                          false, &r);
    *len = r.len;
    return e;
}

static int16_t read_impl(log_partition *part, int64_t offset, int32_t max_bytes,
                         int64_t max_offset, bool min_one_batch, bool want_fd,
                         log_read_result *out) {
    memset(out, 0, sizeof(*out));
    out->fd = -1;
    out->io = part->mgr->io;
    out->first_batch_offset = -1;
    out->high_watermark = part->hw;
    out->last_stable_offset = part->hw;
    out->log_start_offset = part->log_start;
    int64_t leo = log_end_offset(part);
    out->log_end_offset = leo;
    if (part->failed)
        return KERR_KAFKA_STORAGE_ERROR;
    if (offset < part->log_start || offset > leo)
        return KERR_OFFSET_OUT_OF_RANGE;
    if (max_offset < 0 || max_offset > leo)
        max_offset = leo;
    if (offset >= max_offset)
        return KERR_NONE;
    for (int i = seg_index_for(part, offset); i < part->nsegs; i++) {
        log_segment *s = part->segs[i];
        if (s->base >= max_offset)
            break;
        if (!seg_open(s))
            return KERR_KAFKA_STORAGE_ERROR;
        int64_t pos = seg_lookup_pos(s, offset);
        if (pos < 0) {
            poison(part, "read");
            return KERR_KAFKA_STORAGE_ERROR;
        }
        if (pos >= s->size)
            continue; /* nothing at or after offset here: next segment */
        int64_t max_pos = max_offset >= s->next_offset
                              ? s->size
                              : seg_lookup_pos(s, max_offset);
        if (max_pos < 0) {
            poison(part, "read");
            return KERR_KAFKA_STORAGE_ERROR;
        }
        if (pos >= max_pos)
            return KERR_NONE;
        uint8_t h[BATCH_OFF_LEADER_EPOCH];
        if (log_io_read_full(part->mgr->io, s->fd, h, sizeof(h), (off_t)pos) !=
            (ssize_t)sizeof(h)) {
            poison(part, "read");
            return KERR_KAFKA_STORAGE_ERROR;
        }
        int64_t first_size =
            (int64_t)(int32_t)sl_load_be32(h + BATCH_OFF_LENGTH) +
            BATCH_LOG_OVERHEAD;
        int64_t adjusted = max_bytes < 0 ? 0 : max_bytes;
        if (min_one_batch && first_size > adjusted)
            adjusted = first_size;
        if (adjusted < first_size)
            return KERR_NONE; /* no cut first batch: see log.h */
        int64_t n = SL_MIN(max_pos - pos, adjusted);
        if (n <= 0)
            return KERR_NONE;
        int fd = want_fd ? IOCALL(part->mgr, dup, s->fd) : -1;
        if (want_fd && fd < 0)
            return KERR_KAFKA_STORAGE_ERROR;
        out->fd = fd;
        out->file_pos = pos;
        out->len = (int32_t)SL_MIN(n, (int64_t)INT32_MAX);
        out->first_batch_offset = (int64_t)sl_load_be64(h);
        return KERR_NONE;
    }
    return KERR_NONE;
}

/* ---- timestamps
 * ---------------------------------------------------------------- */

/* First record with timestamp >= ts in the batch at pos of s (decoding it);
 * false if none in that batch. */
static bool batch_find_ts(log_segment *s, int64_t pos, int64_t ts,
                          bool exact_max, int64_t *off, int64_t *rts) {
    log_manager *mgr = s->part->mgr;
    uint8_t hb[BATCH_HEADER_SIZE];
    if (log_io_read_full(mgr->io, s->fd, hb, sizeof(hb), (off_t)pos) !=
        (ssize_t)sizeof(hb))
        return false;
    log_batch_header h;
    batch_parse_header(hb, sizeof(hb), &h);
    size_t total = (size_t)batch_size(&h);
    if (total > (size_t)(s->size - pos))
        return false;
    uint8_t *raw = xmalloc(total);
    bool found = false;
    if (log_io_read_full(mgr->io, s->fd, raw, total, (off_t)pos) ==
        (ssize_t)total) {
        buf plain;
        buf_init(&plain, 0);
        if (batch_decompress_records(&h, raw, 64u << 20, &plain) == KERR_NONE) {
            batch_iter it;
            batch_iter_init(&it, &h, plain.data, plain.len);
            log_record r;
            while (batch_iter_next(&it, &r) == 1) {
                if (exact_max ? r.timestamp == h.max_timestamp
                              : r.timestamp >= ts) {
                    *off = r.offset;
                    *rts = r.timestamp;
                    found = true;
                    break;
                }
            }
        }
        buf_free(&plain);
    }
    free(raw);
    if (!found && exact_max) {
        *off = batch_last_offset(&h);
        *rts = h.max_timestamp;
        found = true;
    }
    return found;
}

int16_t log_offset_for_timestamp(log_partition *part, int64_t ts,
                                 int64_t *offset, int64_t *timestamp) {
    *offset = -1;
    *timestamp = -1;
    if (part->failed)
        return KERR_KAFKA_STORAGE_ERROR;
    if (ts == LOG_TS_EARLIEST) {
        *offset = part->log_start;
        return KERR_NONE;
    }
    if (ts == LOG_TS_LATEST) {
        *offset = part->hw;
        return KERR_NONE;
    }
    if (ts == LOG_TS_MAX_TIMESTAMP) {
        log_segment *best = NULL;
        for (int i = 0; i < part->nsegs; i++)
            if (part->segs[i]->max_ts >= 0 &&
                (!best || part->segs[i]->max_ts > best->max_ts))
                best = part->segs[i];
        if (!best)
            return KERR_NONE;
        if (!seg_open(best))
            return KERR_KAFKA_STORAGE_ERROR;
        int64_t pos = seg_lookup_pos(best, best->max_ts_offset);
        if (pos < 0 || pos >= best->size)
            return KERR_NONE;
        batch_find_ts(best, pos, best->max_ts, true, offset, timestamp);
        return KERR_NONE;
    }
    if (ts < 0)
        return KERR_INVALID_REQUEST;
    for (int i = 0; i < part->nsegs; i++) {
        log_segment *s = part->segs[i];
        if (s->max_ts < ts)
            continue;
        if (!seg_open(s))
            return KERR_KAFKA_STORAGE_ERROR;
        /* Largest time-index entry with timestamp < ts: everything up to its
         * offset is older than ts, so start scanning after it. */
        int64_t from = s->base;
        for (int32_t k = 0; k < s->n_tidx && s->tidx[k].ts < ts; k++)
            from = s->base + s->tidx[k].rel;
        int64_t pos = seg_lookup_pos(s, from);
        if (pos < 0)
            return KERR_KAFKA_STORAGE_ERROR;
        while (pos < s->size) {
            uint8_t hb[BATCH_HEADER_SIZE];
            if (log_io_read_full(part->mgr->io, s->fd, hb, sizeof(hb),
                                 (off_t)pos) != (ssize_t)sizeof(hb))
                return KERR_KAFKA_STORAGE_ERROR;
            log_batch_header h;
            batch_parse_header(hb, sizeof(hb), &h);
            if (h.max_timestamp >= ts &&
                batch_find_ts(s, pos, ts, false, offset, timestamp)) {
                if (*offset < part->log_start)
                    *offset = part->log_start;
                return KERR_NONE;
            }
            pos += batch_size(&h);
        }
    }
    return KERR_NONE;
}

/* ---- retention, delete records, truncation ---------------------------------
 */

/* Removes the first k segments (k < nsegs, or k == nsegs after a roll). */
static bool checkpoint_write(log_manager *mgr, int d, int k);

/* The files of dropped segments are deleted by doomed_flush, after the
 * new log start is durable: a crash may bring back any subset of them
 * (unlinks not yet fsynced), and only below a durable log start is such a
 * partial set harmless (never read, removed by the next retention pass) -
 * above the old one it was a hole. One checkpoint per log dir and call,
 * whatever the number of partitions that dropped segments. */
static void doomed_add(log_partition *part, int64_t base) {
    log_manager *mgr = part->mgr;
    if (mgr->ndoomed == mgr->capdoomed) {
        mgr->capdoomed = mgr->capdoomed ? mgr->capdoomed * 2 : 16;
        mgr->doomed = xrealloc(mgr->doomed,
                               sizeof(*mgr->doomed) * (size_t)mgr->capdoomed);
    }
    mgr->doomed[mgr->ndoomed++] = (doomed_seg){part, base};
    part->ls_state = LS_DOOMED;
}

static void doomed_flush(log_manager *mgr) {
    for (int d = 0; d < mgr->ndirs && mgr->ndoomed; d++) {
        bool any = false;
        for (int i = 0; i < mgr->ndoomed && !any; i++)
            any = mgr->doomed[i].part->dir_index == d;
        if (!any)
            continue;
        bool ok = checkpoint_write(mgr, d, 1);
        for (int i = 0; i < mgr->ndoomed; i++) {
            log_partition *p = mgr->doomed[i].part;
            if (p->dir_index != d)
                continue;
            if (ok) {
                seg_delete_files(p, mgr->doomed[i].base);
                p->ls_state = LS_UNLINKED;
            } else
                poison(p, "log-start-offset-checkpoint");
        }
    }
    mgr->ndoomed = 0;
}

static void drop_front_segments(log_partition *part, int k) {
    for (int i = 0; i < k; i++) {
        log_segment *s = part->segs[i];
        seg_close(s);
        doomed_add(part, s->base);
        free(s);
    }
    memmove(part->segs, part->segs + k,
            sizeof(*part->segs) * (size_t)(part->nsegs - k));
    part->nsegs -= k;
    if (part->segs[0]->base > part->log_start)
        part->log_start = part->segs[0]->base;
    if (part->hw < part->log_start)
        part->hw = part->log_start;
    if (part->recovery_point < part->log_start)
        part->recovery_point = part->log_start;
    epochs_truncate_start(part, part->log_start);
}

/* Deletes the leading segments for which pred says yes, only those wholly
 * below the HW; the active one is rolled first if it must go. */
static int delete_old_segments(log_partition *part,
                               bool (*pred)(log_partition *, log_segment *,
                                            int64_t *state),
                               int64_t state) {
    int k = 0;
    while (k < part->nsegs) {
        log_segment *s = part->segs[k];
        bool last = k == part->nsegs - 1;
        int64_t upper = last ? s->next_offset : part->segs[k + 1]->base;
        if (last && s->size == 0)
            break;
        if (part->hw < upper || !pred(part, s, &state))
            break;
        k++;
    }
    if (k == 0)
        return 0;
    if (k == part->nsegs && !roll(part))
        return 0;
    drop_front_segments(part, k);
    return k;
}

static bool pred_time(log_partition *part, log_segment *s, int64_t *now) {
    return part->cfg.retention_ms >= 0 && s->max_ts >= 0 &&
           *now - s->max_ts > part->cfg.retention_ms;
}

static bool pred_size(log_partition *part, log_segment *s, int64_t *diff) {
    (void)part;
    if (*diff - s->size >= 0) {
        *diff -= s->size;
        return true;
    }
    return false;
}

static bool pred_start(log_partition *part, log_segment *s, int64_t *unused) {
    (void)unused;
    return s->next_offset <= part->log_start && s->size > 0;
}

static int retention(log_partition *part, int64_t now) {
    if (part->failed || !(part->cfg.cleanup_policy & LOG_CLEANUP_DELETE))
        return delete_old_segments(part, pred_start, 0);
    int n = delete_old_segments(part, pred_start, 0);
    if (part->cfg.retention_ms >= 0)
        n += delete_old_segments(part, pred_time, now);
    if (part->cfg.retention_bytes >= 0) {
        int64_t diff = log_size_bytes(part) - part->cfg.retention_bytes;
        if (diff > 0)
            n += delete_old_segments(part, pred_size, diff);
    }
    if (n)
        SL_INFO(MOD,
                "Deleted %d segment(s) of %s-%d by retention; log start offset "
                "is now %" PRId64,
                n, part->topic, part->partition, part->log_start);
    return n;
}

int log_manager_tick(log_manager *mgr) {
    int64_t now = clk_wall_ms();
    int n = 0;
    for (size_t i = 0; i < mgr->nbuckets; i++)
        for (log_partition *p = mgr->buckets[i]; p; p = p->hnext) {
            n += retention(p, now);
        }
    doomed_flush(mgr);
    return n;
}

int16_t log_delete_records(log_partition *part, int64_t offset,
                           int64_t *new_log_start) {
    if (part->failed)
        return KERR_KAFKA_STORAGE_ERROR;
    if (offset == -1)
        offset = part->hw;
    if (offset < 0 || offset > part->hw)
        return KERR_OFFSET_OUT_OF_RANGE;
    if (offset > part->log_start) {
        part->log_start = offset;
        epochs_truncate_start(part, offset);
        delete_old_segments(part, pred_start, 0);
        doomed_flush(part->mgr);
        if (part->failed)
            return KERR_KAFKA_STORAGE_ERROR;
    }
    *new_log_start = part->log_start;
    return KERR_NONE;
}

int16_t log_truncate_to(log_partition *part, int64_t offset) {
    if (part->failed)
        return KERR_KAFKA_STORAGE_ERROR;
    if (offset >= log_end_offset(part))
        return KERR_NONE;
    if (offset < part->log_start)
        offset = part->log_start;
    /* The recovery-point checkpoint must not name an offset past the new
     * end once anything is cut: at the next unclean start the segments
     * below it would load as clean, with the cut half undone by a crash.
     * So it is rewritten first, at the base of the segment that keeps the
     * last offset below the cut (the active one afterwards; Kafka rewrites
     * it after LogManager.truncateTo, which leaves a window). */
    int64_t floor =
        part->segs[seg_index_for(part, offset > 0 ? offset - 1 : 0)]->base;
    if (part->recovery_point > floor) {
        part->recovery_point = floor;
        if (!checkpoint_write(part->mgr, part->dir_index, 0)) {
            poison(part, "recovery-point checkpoint");
            return KERR_KAFKA_STORAGE_ERROR;
        }
    }
    /* Drop whole segments at or after offset (keep at least one). */
    while (part->nsegs > 1 && active(part)->base >= offset) {
        log_segment *s = active(part);
        seg_close(s);
        seg_delete_files(part, s->base);
        free(s);
        part->nsegs--;
    }
    log_segment *s = active(part);
    if (!seg_open(s))
        return KERR_KAFKA_STORAGE_ERROR;
    int64_t pos = offset <= s->base ? 0 : seg_lookup_pos(s, offset);
    if (pos < 0 || IOCALL(part->mgr, ftruncate, s->fd, (off_t)pos) != 0) {
        poison(part, "truncate");
        return KERR_KAFKA_STORAGE_ERROR;
    }
    /* Reopen as active with rebuilt indexes. */
    seg_close(s);
    bool cut;
    if (!seg_rebuild(s, &cut))
        return KERR_KAFKA_STORAGE_ERROR;
    if (s->size == 0)
        s->next_offset = SL_MAX(s->base, offset <= s->base ? s->base : offset);
    seg_close(s);
    if (!seg_open(s))
        return KERR_KAFKA_STORAGE_ERROR;
    int64_t leo = log_end_offset(part);
    part->gen++; /* flush jobs begun before do not cover the new tail */
    if (part->hw > leo)
        part->hw = leo;
    if (part->recovery_point > leo)
        part->recovery_point = leo;
    epochs_truncate_end(part, leo);
    return KERR_NONE;
}

/* ---- checkpoints
 * ---------------------------------------------------------------- */
typedef struct ckpt_entry {
    char *topic;
    int32_t partition;
    int64_t offset;
} ckpt_entry;

typedef struct ckpt {
    ckpt_entry *e;
    int n;
} ckpt;

static void ckpt_load(log_manager *mgr, const char *dir, const char *name,
                      ckpt *c) {
    c->e = NULL;
    c->n = 0;
    char *p = path_join(dir, name);
    char *txt = read_text(mgr, p);
    free(p);
    if (!txt)
        return;
    char *save = NULL;
    char *line = strtok_r(txt, "\n", &save);
    if (!line || atoi(line) != 0) {
        free(txt);
        return;
    }
    line = strtok_r(NULL, "\n", &save);
    int n = line ? atoi(line) : 0;
    if (n < 0 || n > 10000000)
        n = 0;
    c->e = xcalloc((size_t)n + 1, sizeof(*c->e));
    for (int i = 0; i < n && (line = strtok_r(NULL, "\n", &save)); i++) {
        char topic[256];
        int32_t part;
        int64_t off;
        if (sscanf(line, "%255s %d %" SCNd64, topic, &part, &off) != 3)
            break;
        c->e[c->n++] = (ckpt_entry){xstrdup(topic), part, off};
    }
    free(txt);
}

static void ckpt_free(ckpt *c) {
    for (int i = 0; i < c->n; i++)
        free(c->e[i].topic);
    free(c->e);
}

static int64_t ckpt_find(const ckpt *c, const char *topic, int32_t p) {
    for (int i = 0; i < c->n; i++)
        if (c->e[i].partition == p && !strcmp(c->e[i].topic, topic))
            return c->e[i].offset;
    return -1;
}

/* Whether the log-start checkpoint lists p. Kafka's lists a log only when
 * its start is above the first segment's base; here also while dropped
 * segments' unlinks are not durable (ls_state), and the unlinks of an
 * LS_UNLINKED log are made durable first so its entry can go. */
static bool ckpt_keeps_log_start(log_partition *p) {
    if (p->log_start > p->segs[0]->base || p->ls_state == LS_DOOMED)
        return true;
    if (p->ls_state == LS_UNLINKED) {
        if (IOCALL(p->mgr, fsync_dir, p->path) != 0)
            return true;
        p->ls_state = LS_NONE;
    }
    return false;
}

/* Writes checkpoint k (0 recovery point, 1 log start, 2 HW) of log dir d:
 * false with errno on failure. */
static bool checkpoint_write(log_manager *mgr, int d, int k) {
    static const char *names[3] = {"recovery-point-offset-checkpoint",
                                   "log-start-offset-checkpoint",
                                   "replication-offset-checkpoint"};
    if (log_manager_dir_offline(mgr, d)) {
        errno = EIO;
        return false;
    }
    bool ok = true;
    {
        {
            buf b, body;
            buf_init(&b, 256);
            buf_init(&body, 256);
            int n = 0;
            for (size_t i = 0; i < mgr->nbuckets; i++)
                for (log_partition *p = mgr->buckets[i]; p; p = p->hnext) {
                    if (p->dir_index != d)
                        continue;
                    /* Kafka checkpoints a log start offset only when it
                     * is above the first segment's base (the default). */
                    if (k == 1 && !ckpt_keeps_log_start(p))
                        continue;
                    int64_t v = k == 0   ? p->recovery_point
                                : k == 1 ? p->log_start
                                         : p->hw;
                    buf_printf(&body, "%s %d %" PRId64 "\n", p->topic,
                               p->partition, v);
                    n++;
                }
            buf_printf(&b, "0\n%d\n", n);
            buf_put(&b, body.data, body.len);
            char *path = path_join(mgr->dirs[d], names[k]);
            if (!write_file_atomic(mgr, path, b.data, b.len)) {
                SL_ERROR(MOD, "cannot write %s: %s", path, strerror(errno));
                ok = false;
                dir_fail(mgr, d);
            }
            free(path);
            buf_free(&b);
            buf_free(&body);
        }
    }
    return ok;
}

/* Offline dirs are skipped; a dir whose write fails goes offline
 * (dir_fail) and the call answers KAFKA_STORAGE_ERROR. */
int16_t log_manager_checkpoint(log_manager *mgr) {
    int16_t err = KERR_NONE;
    for (int d = 0; d < mgr->ndirs; d++)
        for (int k = 0; k < 3 && !log_manager_dir_offline(mgr, d); k++)
            if (!checkpoint_write(mgr, d, k))
                err = KERR_KAFKA_STORAGE_ERROR;
    return err;
}

/* ---- open / close
 * ---------------------------------------------------------------- */
static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static bool has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Loads one partition directory. */
static void load_partition(log_manager *mgr, int d, const char *name,
                           bool clean, const ckpt *rp, const ckpt *ls,
                           const ckpt *hw) {
    const char *dash = strrchr(name, '-');
    if (!dash || dash == name || !dash[1])
        return;
    char *end;
    long pn = strtol(dash + 1, &end, 10);
    if (*end || pn < 0 || pn > INT32_MAX)
        return;
    char topic[256];
    size_t tl = (size_t)(dash - name);
    if (tl >= sizeof(topic))
        return;
    memcpy(topic, name, tl);
    topic[tl] = 0;
    if (log_get(mgr, topic, (int32_t)pn)) {
        SL_WARN(MOD, "Duplicate log directory for %s found in %s, ignored",
                name, mgr->dirs[d]);
        return;
    }
    log_partition *part = part_new(mgr, topic, (int32_t)pn, d);
    read_partition_metadata(part);

    /* Completes (or rolls back) a cleaner swap interrupted by a crash;
     * leftover .cleaned files are removed below. If that fails the
     * partition loads offline (a failed directory fsync is not retried). */
    bool swap_failed = log_cleaner_recover_dir(mgr->io, part->path) != 0;
    if (swap_failed)
        SL_ERROR(MOD, "cannot recover the cleaner swap in %s: %s", part->path,
                 strerror(errno));
    /* Segments by base offset. */
    int nnames;
    char **names = log_io_list_names(mgr->io, part->path, &nnames);
    if (!names) {
        SL_ERROR(MOD, "cannot list %s: %s", part->path, strerror(errno));
        part_free(part);
        return;
    }
    int64_t *bases = NULL;
    int nb = 0, cap = 0;
    for (int k = 0; k < nnames; k++) {
        const char *n = names[k];
        if (has_suffix(n, ".deleted") || has_suffix(n, ".cleaned") ||
            has_suffix(n, ".swap") || has_suffix(n, ".tmp")) {
            char *p = path_join(part->path, n);
            IOCALL(mgr, unlink, p);
            free(p);
            continue;
        }
        if (strlen(n) == 24 && has_suffix(n, ".log")) {
            char *e2;
            long long b = strtoll(n, &e2, 10);
            if (e2 != n + 20 || b < 0)
                continue;
            if (nb == cap) {
                cap = cap ? cap * 2 : 8;
                bases = xrealloc(bases, sizeof(*bases) * (size_t)cap);
            }
            bases[nb++] = b;
        }
    }
    log_io_free_names(names, nnames);
    if (nb > 1)
        qsort(bases, (size_t)nb, sizeof(*bases), cmp_i64);
    int64_t ckpt_start = ckpt_find(ls, topic, (int32_t)pn);
    for (int i = 0; i < nb; i++)
        segs_push(part, seg_new(part, bases[i]));
    free(bases);
    map_insert(mgr, part);
    if (part->nsegs == 0) {
        int64_t base = ckpt_start > 0 ? ckpt_start : 0;
        if (!add_new_segment(part, base))
            return;
    }
    int64_t recovery = clean ? INT64_MAX : ckpt_find(rp, topic, (int32_t)pn);
    if (recovery < 0)
        recovery = 0;
    /* Segments wholly below the recovery point load as clean; the one
     * holding it and later ones are re-read. */
    int first_dirty = part->nsegs;
    if (!clean)
        for (int i = 0; i < part->nsegs; i++) {
            int64_t upper =
                i + 1 < part->nsegs ? part->segs[i + 1]->base : INT64_MAX;
            if (upper > recovery) {
                first_dirty = i;
                break;
            }
        }
    for (int i = 0; i < part->nsegs; i++) {
        log_segment *s = part->segs[i];
        bool last = i == part->nsegs - 1;
        bool ok = i < first_dirty && seg_load_clean(s, last);
        if (!ok) {
            if (i < first_dirty)
                SL_WARN(MOD, "Rebuilding the indexes of %s/%020" PRId64 ".log",
                        part->path, s->base);
            seg_close(s);
            bool cut = false;
            if (!seg_rebuild(s, &cut))
                break;
            if (i + 1 < part->nsegs && s->next_offset > part->segs[i + 1]->base)
                cut = true; /* overlap: keep the earlier data only */
            if (cut && i + 1 < part->nsegs) {
                /* Everything after a truncation point goes (Kafka). */
                for (int j = i + 1; j < part->nsegs; j++) {
                    seg_close(part->segs[j]);
                    seg_delete_files(part, part->segs[j]->base);
                    free(part->segs[j]);
                }
                part->nsegs = i + 1;
            }
            if (s->size == 0 && i > 0)
                s->next_offset = s->base;
        }
        seg_close(s); /* reopened lazily; active gets its index fds then */
    }
    /* A re-read last segment left empty (its file lost or cut at byte 0)
     * after one whose data ends below its base: the data before it was
     * not durable either, and LEO is where the data ends, not a hole
     * later (a compaction gap below it ends with it too: nothing above
     * survived). Its files go. */
    while (part->nsegs > 1 && part->nsegs - 1 >= first_dirty &&
           active(part)->size == 0 &&
           part->segs[part->nsegs - 2]->next_offset < active(part)->base) {
        log_segment *s = active(part);
        SL_WARN(MOD,
                "Dropping the empty segment %s/%020" PRId64 ".log: the "
                "data before it ends at offset %" PRId64,
                part->path, s->base, part->segs[part->nsegs - 2]->next_offset);
        seg_close(s);
        seg_delete_files(part, s->base);
        free(s);
        part->nsegs--;
        part->dir_unsynced = true;
    }
    /* Non-last segments cover up to the next base even if a gap exists. */
    for (int i = 0; i + 1 < part->nsegs; i++)
        if (part->segs[i]->next_offset < part->segs[i + 1]->base)
            part->segs[i]->next_offset = part->segs[i + 1]->base;
    if (ckpt_start > active(part)->next_offset) {
        /* Everything below a durable log start was deleted (DeleteRecords,
         * retention), and what was above it did not survive the crash:
         * the log starts empty there, so that no offset below it is ever
         * handed out again (Kafka's truncateFullyAndStartAt). */
        SL_WARN(MOD,
                "Log start offset %" PRId64 " of %s is past the recovered "
                "end %" PRId64 "; the log restarts empty at it",
                ckpt_start, part->path, active(part)->next_offset);
        for (int i = 0; i < part->nsegs; i++) {
            seg_close(part->segs[i]);
            seg_delete_files(part, part->segs[i]->base);
            free(part->segs[i]);
        }
        part->nsegs = 0;
        if (!add_new_segment(part, ckpt_start))
            part->failed = true;
        seg_close(active(part));
    }
    /* The active segment's index files are rewritten preallocated on open. */
    log_segment *act = active(part);
    act->active_files = false;
    int64_t leo = act->next_offset;
    part->log_start = SL_MAX(part->segs[0]->base, ckpt_start);
    if (part->log_start > leo)
        part->log_start = leo;
    part->recovery_point = leo;
    int64_t h = ckpt_find(hw, topic, (int32_t)pn);
    part->hw = h < 0 ? part->log_start : h;
    log_set_high_watermark(part, part->hw);
    epochs_load(part);
    epochs_truncate_end(part, leo);
    if (swap_failed)
        part->failed = true;
}

log_manager *log_manager_open(const log_manager_opts *opts, int16_t *err) {
    *err = KERR_NONE;
    log_manager *mgr = xcalloc(1, sizeof(*mgr));
    pthread_mutex_init(&mgr->fl_mu, NULL);
    pthread_cond_init(&mgr->fl_cv, NULL);
    mgr->io = opts->io ? opts->io : &log_io_posix;
    mgr->max_open = opts->max_open_segments > 0 ? opts->max_open_segments
                                                : DEFAULT_MAX_OPEN;
    if (mgr->max_open < 4)
        mgr->max_open = 4;
    if (opts->default_config)
        mgr->default_cfg = *opts->default_config;
    else
        log_config_default(&mgr->default_cfg);
    mgr->ndirs = opts->n_log_dirs;
    mgr->dirs = xcalloc((size_t)SL_MAX(1, mgr->ndirs), sizeof(char *));
    for (int d = 0; d < mgr->ndirs; d++) {
        mgr->dirs[d] = xstrdup(opts->log_dirs[d]);
        if (IOCALL(mgr, mkdir, mgr->dirs[d], 0755) != 0 && errno != EEXIST) {
            SL_ERROR(MOD, "cannot create log dir %s: %s", mgr->dirs[d],
                     strerror(errno));
            *err = KERR_KAFKA_STORAGE_ERROR;
            log_manager_close(mgr);
            return NULL;
        }
    }
    struct {
        int dir;
        char *path;
    } *futures = NULL;
    int nfut = 0;
    for (int d = 0; d < mgr->ndirs; d++) {
        char *marker = path_join(mgr->dirs[d], CLEAN_SHUTDOWN_FILE);
        bool clean = log_io_exists(mgr->io, marker);
        ckpt rp, ls, hw;
        ckpt_load(mgr, mgr->dirs[d], "recovery-point-offset-checkpoint", &rp);
        ckpt_load(mgr, mgr->dirs[d], "log-start-offset-checkpoint", &ls);
        ckpt_load(mgr, mgr->dirs[d], "replication-offset-checkpoint", &hw);
        int nnames;
        char **names = log_io_list_names(mgr->io, mgr->dirs[d], &nnames);
        if (!names) {
            SL_ERROR(MOD, "cannot list log dir %s: %s", mgr->dirs[d],
                     strerror(errno));
            for (int i = 0; i < nfut; i++)
                free(futures[i].path);
            free(futures);
            *err = KERR_KAFKA_STORAGE_ERROR;
            free(marker);
            ckpt_free(&rp);
            ckpt_free(&ls);
            ckpt_free(&hw);
            log_manager_close(mgr);
            return NULL;
        }
        char **todel = NULL;
        int ntodel = 0;
        for (int k = 0; k < nnames; k++) {
            const char *name = names[k];
            if (name[0] == '.')
                continue;
            char *p = path_join(mgr->dirs[d], name);
            log_io_stat st;
            if (IOCALL(mgr, stat, p, &st) != 0 || !st.is_dir) {
                free(p);
                continue;
            }
            if (has_suffix(name, "-future")) {
                /* A move to this dir that did not finish (the current log
                 * elsewhere is intact): started again below. */
                futures =
                    xrealloc(futures, sizeof(*futures) * (size_t)(nfut + 1));
                futures[nfut].dir = d;
                futures[nfut++].path = p;
                continue;
            }
            if (has_suffix(name, "-delete")) {
                todel = xrealloc(todel, sizeof(*todel) * (size_t)(ntodel + 1));
                todel[ntodel++] = p;
                continue;
            }
            free(p);
            if (has_suffix(name, "-stray"))
                continue;
            load_partition(mgr, d, name, clean, &rp, &ls, &hw);
        }
        log_io_free_names(names, nnames);
        for (int i = 0; i < ntodel; i++) {
            remove_dir_files(mgr, todel[i]);
            free(todel[i]);
        }
        free(todel);
        ckpt_free(&rp);
        ckpt_free(&ls);
        ckpt_free(&hw);
        /* From now on a crash is unclean until log_manager_close: the
         * marker's removal must not revert (a crash would then skip the
         * recovery of what is written from now on). */
        bool gone = IOCALL(mgr, unlink, marker) != 0 ||
                    IOCALL(mgr, fsync_dir, mgr->dirs[d]) == 0;
        free(marker);
        if (!gone) {
            SL_ERROR(MOD, "cannot remove %s from %s: %s", CLEAN_SHUTDOWN_FILE,
                     mgr->dirs[d], strerror(errno));
            *err = KERR_KAFKA_STORAGE_ERROR;
            log_manager_close(mgr);
            return NULL;
        }
    }
    /* Kafka resumes a move whose -future log it finds at start; here the
     * copy starts over (the partial one is removed). */
    for (int i = 0; i < nfut; i++) {
        const char *name = strrchr(futures[i].path, '/') + 1;
        char tp[512];
        snprintf(tp, sizeof(tp), "%s", name);
        char *dot = strrchr(tp, '.'); /* <topic>-<p>.<hex>-future */
        log_partition *part = NULL;
        if (dot) {
            *dot = 0;
            char *dash = strrchr(tp, '-');
            char *end = NULL;
            long pn = dash ? strtol(dash + 1, &end, 10) : -1;
            if (dash && end && !*end && pn >= 0 && pn <= INT32_MAX) {
                *dash = 0;
                part = log_get(mgr, tp, (int32_t)pn);
            }
        }
        remove_dir_files(mgr, futures[i].path);
        if (part && !part->failed && part->dir_index != futures[i].dir &&
            log_move_begin(part, futures[i].dir) == KERR_NONE)
            SL_INFO(MOD, "Resuming the move of %s-%d to %s", part->topic,
                    part->partition, mgr->dirs[futures[i].dir]);
        free(futures[i].path);
    }
    free(futures);
    SL_INFO(MOD,
            "Loaded %zu partition log(s); recovery re-read %" PRId64
            " batch(es)",
            mgr->nparts, mgr->stats.recovered_batches);
    return mgr;
}

void log_manager_close(log_manager *mgr) {
    if (!mgr)
        return;
    mgr->closing = true;
    flusher_stop(mgr, true);
    bool all_ok = true;
    for (size_t i = 0; i < mgr->nbuckets; i++)
        for (log_partition *p = mgr->buckets[i]; p; p = p->hnext) {
            if (p->failed) {
                all_ok = false;
                continue;
            }
            if (log_flush(p) != KERR_NONE || !seg_finalize(active(p), NULL)) {
                poison(p, "close");
                all_ok = false;
            }
        }
    if (mgr->ndirs && log_manager_checkpoint(mgr) != KERR_NONE)
        all_ok = false;
    for (int d = 0; d < mgr->ndirs && all_ok; d++) {
        char *marker = path_join(mgr->dirs[d], CLEAN_SHUTDOWN_FILE);
        const char *txt = "{\"version\":0,\"brokerEpoch\":-1}";
        write_file_atomic(mgr, marker, txt, strlen(txt));
        free(marker);
    }
    for (size_t i = 0; i < mgr->nbuckets; i++) {
        log_partition *p = mgr->buckets[i];
        while (p) {
            log_partition *nx = p->hnext;
            part_free(p);
            p = nx;
        }
    }
    for (int d = 0; d < mgr->ndirs; d++)
        free(mgr->dirs[d]);
    free(mgr->dirs);
    free(mgr->buckets);
    free(mgr->dirty);
    free(mgr->due);
    free(mgr->dir_parts);
    free(mgr->doomed);
    free(mgr->dir_offline);
    pthread_mutex_destroy(&mgr->fl_mu);
    pthread_cond_destroy(&mgr->fl_cv);
    free(mgr);
}

void log_manager_abandon(log_manager *mgr) {
    flusher_stop(mgr, false);
    for (int d = 0; d < mgr->ndirs; d++)
        free(mgr->dirs[d]);
    mgr->ndirs = 0; /* no checkpoints, no marker */
    for (size_t i = 0; i < mgr->nbuckets; i++)
        for (log_partition *p = mgr->buckets[i]; p; p = p->hnext)
            p->failed = true; /* skip flush and finalize */
    log_manager_close(mgr);
}

void log_manager_get_stats(const log_manager *mgr, log_manager_stats *out) {
    *out = mgr->stats;
    out->open_segments = mgr->open_count;
    out->partitions = (int)mgr->nparts;
}

void log_manager_foreach(log_manager *mgr,
                         void (*fn)(void *ctx, log_partition *part),
                         void *ctx) {
    for (size_t i = 0; i < mgr->nbuckets; i++)
        for (log_partition *p = mgr->buckets[i]; p; p = p->hnext)
            fn(ctx, p);
}

int log_manager_n_dirs(const log_manager *mgr) {
    return mgr->ndirs;
}

/* ---- cleaner hooks
 * ------------------------------------------------------------- */
void log_segment_get(const log_partition *part, int i, log_segment_info *out) {
    const log_segment *s = part->segs[i];
    out->base = s->base;
    out->end_offset = s->next_offset;
    out->size = s->size;
    out->max_timestamp = s->max_ts;
    out->first_batch_timestamp = s->first_batch_ts;
}

const char *log_path(const log_partition *part) {
    return part->path;
}

int16_t log_replace_segments(log_partition *part, int first, int count,
                             const char *cleaned_log,
                             const char *cleaned_txnindex,
                             const log_seg_index *built) {
    if (part->failed)
        return KERR_KAFKA_STORAGE_ERROR;
    if (first < 0 || count <= 0 || first + count >= part->nsegs)
        return KERR_INVALID_REQUEST; /* never the active segment */
    int64_t end = part->segs[first + count]->base;
    int64_t *bases = xmalloc(sizeof(*bases) * (size_t)count);
    for (int i = 0; i < count; i++) {
        bases[i] = part->segs[first + i]->base;
        seg_close(part->segs[first + i]);
    }
    int rc = log_cleaner_swap_in(part->mgr->io, part->path, bases, count, end,
                                 cleaned_log, cleaned_txnindex, built != NULL);
    free(bases);
    if (rc != 0) {
        poison(part, "replace segments");
        return KERR_KAFKA_STORAGE_ERROR;
    }
    log_segment *ns = seg_new(part, part->segs[first]->base);
    for (int i = 0; i < count; i++)
        free(part->segs[first + i]);
    part->segs[first] = ns;
    memmove(part->segs + first + 1, part->segs + first + count,
            sizeof(*part->segs) * (size_t)(part->nsegs - first - count));
    part->nsegs -= count - 1;
    if (built) {
        /* the writer's index is what a rebuild would produce: adopt it
         * (the entries load from the swapped-in files when opened) */
        ns->size = built->size;
        ns->max_ts = built->max_ts;
        ns->max_ts_offset = built->max_ts_offset;
        ns->first_batch_ts = built->first_batch_ts;
        ns->last_tidx_ts = built->last_tidx_ts;
        ns->bytes_since_index = built->bytes_since_index;
        ns->n_idx = built->n_idx;
        ns->n_tidx = built->n_tidx;
    } else {
        bool cut = false;
        if (!seg_rebuild(ns, &cut))
            return KERR_KAFKA_STORAGE_ERROR;
    }
    ns->next_offset = end;
    seg_close(ns);
    return KERR_NONE;
}

void log_seg_index_init(log_seg_index *x, int64_t base, int32_t interval) {
    memset(x, 0, sizeof(*x));
    x->base = base;
    x->interval = interval;
    x->next_offset = base;
    x->max_ts = x->max_ts_offset = -1;
    x->first_batch_ts = x->last_tidx_ts = -1;
}

void log_seg_index_free(log_seg_index *x) {
    free(x->idx);
    free(x->tidx);
    x->idx = x->tidx = NULL;
    x->n_idx = x->n_tidx = x->cap_idx = x->cap_tidx = 0;
}

static int32_t sidx_last_rel(const log_seg_index *x) {
    return (int32_t)sl_load_be32(x->idx + (size_t)(x->n_idx - 1) * IDX_ENTRY);
}

static int32_t sidx_last_trel(const log_seg_index *x) {
    return (int32_t)sl_load_be32(x->tidx +
                                 (size_t)(x->n_tidx - 1) * TIDX_ENTRY + 8);
}

/* Mirrors seg_account_batch + idx_append + tidx_maybe_append. */
void log_seg_index_add(log_seg_index *x, const uint8_t *hdr) {
    log_batch_header h;
    batch_parse_header(hdr, BATCH_HEADER_SIZE, &h);
    int64_t pos = x->size;
    int64_t last = batch_last_offset(&h);
    if (pos == 0 || x->first_batch_ts < 0)
        x->first_batch_ts = h.max_timestamp;
    if (h.max_timestamp > x->max_ts) {
        x->max_ts = h.max_timestamp;
        x->max_ts_offset = last;
    }
    if (x->bytes_since_index > x->interval) {
        int32_t rel = (int32_t)(last - x->base);
        if (!x->n_idx || rel > sidx_last_rel(x)) {
            if (x->n_idx == x->cap_idx) {
                x->cap_idx = x->cap_idx ? x->cap_idx * 2 : 64;
                x->idx = xrealloc(x->idx, (size_t)x->cap_idx * IDX_ENTRY);
            }
            uint8_t *e = x->idx + (size_t)x->n_idx * IDX_ENTRY;
            sl_store_be32(e, (uint32_t)rel);
            sl_store_be32(e + 4, (uint32_t)pos);
            x->n_idx++;
        }
        int64_t ts = x->max_ts;
        int32_t trel = (int32_t)(x->max_ts_offset - x->base);
        if (ts >= 0 && ts > x->last_tidx_ts &&
            !(x->n_tidx && trel < sidx_last_trel(x))) {
            if (x->n_tidx && sidx_last_trel(x) == trel)
                x->n_tidx--; /* same offset, larger timestamp */
            if (x->n_tidx == x->cap_tidx) {
                x->cap_tidx = x->cap_tidx ? x->cap_tidx * 2 : 64;
                x->tidx = xrealloc(x->tidx, (size_t)x->cap_tidx * TIDX_ENTRY);
            }
            uint8_t *e = x->tidx + (size_t)x->n_tidx * TIDX_ENTRY;
            sl_store_be64(e, (uint64_t)ts);
            sl_store_be32(e + 8, (uint32_t)trel);
            x->n_tidx++;
            x->last_tidx_ts = ts;
        }
        x->bytes_since_index = 0;
    }
    x->bytes_since_index += batch_size(&h);
    x->next_offset = last + 1;
    x->size = pos + batch_size(&h);
}

const char *log_manager_dir(const log_manager *mgr, int i) {
    return mgr->dirs[i];
}

/* ---- moving a partition to another log dir --------------------------------
 * (AlterReplicaLogDirs; see log.h.) The loop thread does everything: a step
 * copies part of the .log files with pread/pwrite; the last step makes the
 * copy complete and durable and swaps in one call. */

/* fsync of a directory through the seam; false with errno on failure. */
static bool fsync_path_dir(log_manager *mgr, const char *dir) {
    return IOCALL(mgr, fsync_dir, dir) == 0;
}

/* Copies [from, to) of src into dst at the same offsets (dst created if
 * needed). Chunks that are all zeros are not written (preallocated index
 * files stay sparse); truncate_to >= 0 sets dst's length afterwards.
 * fsyncs dst when sync. false on an I/O error (errno set). */
static bool copy_file_range_io(log_manager *mgr, const char *src,
                               const char *dst, int64_t from, int64_t to,
                               int64_t truncate_to, bool sync) {
    int in = IOCALL(mgr, open, src, O_RDONLY, 0);
    if (in < 0)
        return false;
    int out = IOCALL(mgr, open, dst, O_WRONLY | O_CREAT, 0644);
    if (out < 0) {
        int e = errno;
        IOCALL(mgr, close, in);
        errno = e;
        return false;
    }
    enum { CHUNK = 1 << 20 };
    uint8_t *b = xmalloc(CHUNK);
    bool ok = true;
    for (int64_t at = from; ok && at < to;) {
        size_t want = (size_t)SL_MIN((int64_t)CHUNK, to - at);
        ssize_t r = log_io_read_full(mgr->io, in, b, want, (off_t)at);
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* the source shrank under us */
            ok = false;
            break;
        }
        bool zero = true;
        for (ssize_t i = 0; i < r && zero; i++)
            zero = b[i] == 0;
        if (!zero)
            ok = log_io_write_all(mgr->io, out, b, (size_t)r, (off_t)at);
        at += r;
    }
    free(b);
    if (ok && truncate_to >= 0)
        ok = IOCALL(mgr, ftruncate, out, (off_t)truncate_to) == 0;
    if (ok && sync)
        ok = IOCALL(mgr, fsync, out) == 0;
    int e = errno;
    IOCALL(mgr, close, out);
    IOCALL(mgr, close, in);
    errno = e;
    return ok;
}

bool log_manager_dir_offline(const log_manager *mgr, int i) {
    return mgr->dir_offline && i >= 0 && i < mgr->ndirs && mgr->dir_offline[i];
}

void log_manager_on_dir_failure(log_manager *mgr,
                                void (*fn)(void *ctx, int dir), void *ctx) {
    mgr->dir_fail_fn = fn;
    mgr->dir_fail_ctx = ctx;
}

/* Kafka's LogManager.handleLogDirFailure: every log of the dir goes
 * offline (KAFKA_STORAGE_ERROR from then on), moves into it stop, new
 * partitions go elsewhere; the owner decides whether the broker can go on
 * (dir_fail_fn). */
static void dir_fail(log_manager *mgr, int d) {
    if (mgr->closing || d < 0 || d >= mgr->ndirs)
        return;
    if (!mgr->dir_offline)
        mgr->dir_offline = xcalloc((size_t)mgr->ndirs, sizeof(bool));
    if (mgr->dir_offline[d])
        return;
    mgr->dir_offline[d] = true;
    SL_WARN(MOD,
            "Stopping serving replicas in dir %s because the log directory "
            "has failed.",
            mgr->dirs[d]);
    int n = 0;
    for (size_t i = 0; i < mgr->nbuckets; i++)
        for (log_partition *p = mgr->buckets[i]; p; p = p->hnext) {
            if (p->move && p->move->dest == d)
                log_move_cancel(p);
            if (p->dir_index == d && !p->failed) {
                p->failed = true;
                n++;
            }
        }
    SL_ERROR(MOD, "Logs of %d more partition(s) in dir %s are offline", n,
             mgr->dirs[d]);
    if (mgr->dir_fail_fn)
        mgr->dir_fail_fn(mgr->dir_fail_ctx, d);
}

int log_manager_dir_index(const log_manager *mgr, const char *path) {
    for (int i = 0; i < mgr->ndirs; i++)
        if (!strcmp(mgr->dirs[i], path))
            return i;
    return -1;
}

void log_move_cancel(log_partition *part) {
    log_move *m = part->move;
    if (!m)
        return;
    remove_dir_files(part->mgr, m->future_path);
    free(m->future_path);
    free(m);
    part->move = NULL;
}

int16_t log_move_begin(log_partition *part, int dest) {
    log_manager *mgr = part->mgr;
    if (dest < 0 || dest >= mgr->ndirs)
        return KERR_LOG_DIR_NOT_FOUND;
    if (part->failed)
        return KERR_KAFKA_STORAGE_ERROR;
    if (part->move && part->move->dest == dest)
        return KERR_NONE;  /* already going there */
    log_move_cancel(part); /* a move elsewhere stops (Kafka does too) */
    if (dest == part->dir_index)
        return KERR_NONE;
    char hex[33];
    dir_suffix(hex);
    char name[600];
    snprintf(name, sizeof(name), "%s-%d.%s-future", part->topic,
             part->partition, hex);
    char *fp = path_join(mgr->dirs[dest], name);
    if (IOCALL(mgr, mkdir, fp, 0755) != 0) {
        SL_ERROR(MOD, "cannot create %s: %s", fp, strerror(errno));
        free(fp);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    log_move *m = xcalloc(1, sizeof(*m));
    m->dest = dest;
    m->future_path = fp;
    m->gen = part->gen;
    m->cur_base = part->segs[0]->base;
    m->future_leo = part->log_start;
    part->move = m;
    SL_INFO(MOD, "Moving %s-%d from %s to %s", part->topic, part->partition,
            mgr->dirs[part->dir_index], mgr->dirs[dest]);
    return KERR_NONE;
}

bool log_move_info(const log_partition *part, int *dest, int64_t *size,
                   int64_t *leo) {
    const log_move *m = part->move;
    if (!m)
        return false;
    *dest = m->dest;
    *size = m->copied;
    *leo = m->future_leo;
    return true;
}

static int seg_at_or_after(const log_partition *part, int64_t base) {
    for (int i = 0; i < part->nsegs; i++)
        if (part->segs[i]->base >= base)
            return i;
    return -1;
}

/* The last step: everything durable in the future dir, then the swap. */
static int16_t move_finish(log_partition *part) {
    log_manager *mgr = part->mgr;
    log_move *m = part->move;
    if (log_flush(part) != KERR_NONE)
        return KERR_KAFKA_STORAGE_ERROR;
    int nnames;
    char **names = log_io_list_names(mgr->io, part->path, &nnames);
    if (!names)
        return KERR_KAFKA_STORAGE_ERROR;
    bool ok = true;
    for (int k = 0; ok && k < nnames; k++) {
        const char *n = names[k];
        if (n[0] == '.' || has_suffix(n, ".tmp") || has_suffix(n, ".cleaned") ||
            has_suffix(n, ".swap") || has_suffix(n, ".deleted"))
            continue;
        char *src = path_join(part->path, n);
        char *dst = path_join(m->future_path, n);
        int64_t ssz = file_size(mgr, src), dsz = file_size(mgr, dst);
        int64_t from = 0;
        /* .log files are append-only: what an earlier step copied stays */
        if (has_suffix(n, ".log") && dsz > 0 && dsz <= ssz)
            from = dsz;
        if (ssz >= 0)
            ok = copy_file_range_io(mgr, src, dst, from, ssz, ssz, true);
        free(src);
        free(dst);
    }
    log_io_free_names(names, nnames);
    if (!ok)
        return KERR_KAFKA_STORAGE_ERROR;
    /* Files the source no longer has (segments deleted meanwhile). */
    names = log_io_list_names(mgr->io, m->future_path, &nnames);
    if (!names)
        return KERR_KAFKA_STORAGE_ERROR;
    for (int k = 0; k < nnames; k++) {
        if (names[k][0] == '.')
            continue;
        char *src = path_join(part->path, names[k]);
        if (file_size(mgr, src) < 0) {
            char *dst = path_join(m->future_path, names[k]);
            IOCALL(mgr, unlink, dst);
            free(dst);
        }
        free(src);
    }
    log_io_free_names(names, nnames);
    if (!fsync_path_dir(mgr, m->future_path))
        return KERR_KAFKA_STORAGE_ERROR;

    /* The swap: the future dir takes the partition's name in its log dir,
     * then the current one is renamed away. A crash between the two
     * renames leaves two identical copies; open keeps one. */
    char name[600];
    snprintf(name, sizeof(name), "%s-%d", part->topic, part->partition);
    char *final_path = path_join(mgr->dirs[m->dest], name);
    if (file_size(mgr, final_path) >=
        0) /* a stale copy from an earlier crash */
        remove_dir_files(mgr, final_path);
    for (int i = 0; i < part->nsegs; i++)
        seg_close(part->segs[i]);
    if (IOCALL(mgr, rename, m->future_path, final_path) != 0) {
        SL_ERROR(MOD, "cannot rename %s to %s: %s", m->future_path, final_path,
                 strerror(errno));
        free(final_path);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    if (!fsync_path_dir(mgr, mgr->dirs[m->dest])) {
        /* the rename may revert at a crash: keep the source, fail here */
        SL_ERROR(MOD, "cannot fsync %s: %s", mgr->dirs[m->dest],
                 strerror(errno));
        free(final_path);
        poison(part, "move");
        return KERR_KAFKA_STORAGE_ERROR;
    }
    char hex[33];
    dir_suffix(hex);
    snprintf(name, sizeof(name), "%s-%d.%s-delete", part->topic,
             part->partition, hex);
    char *old = path_join(mgr->dirs[part->dir_index], name);
    bool renamed = IOCALL(mgr, rename, part->path, old) == 0;
    if (renamed && !fsync_path_dir(mgr, mgr->dirs[part->dir_index])) {
        SL_ERROR(MOD, "cannot fsync %s: %s", mgr->dirs[part->dir_index],
                 strerror(errno));
        poison(part, "move");
    }
    if (renamed) {
        remove_dir_files(mgr, old);
    } else if (!remove_dir_files(mgr, part->path)) {
        /* Two copies would stay and a restart might load the stale one. */
        SL_ERROR(MOD, "cannot remove %s after moving it: %s", part->path,
                 strerror(errno));
        poison(part, "move");
    }
    free(old);
    if (mgr->dir_parts) {
        mgr->dir_parts[part->dir_index]--;
        mgr->dir_parts[m->dest]++;
    }
    SL_INFO(MOD, "Moved %s-%d from %s to %s", part->topic, part->partition,
            mgr->dirs[part->dir_index], mgr->dirs[m->dest]);
    free(part->path);
    part->path = final_path;
    part->dir_index = m->dest;
    free(m->future_path);
    free(m);
    part->move = NULL;
    return part->failed ? KERR_KAFKA_STORAGE_ERROR : KERR_NONE;
}

int16_t log_move_step(log_partition *part, int64_t budget, bool *done) {
    *done = false;
    log_move *m = part->move;
    if (!m)
        return KERR_NONE;
    if (part->failed) {
        log_move_cancel(part);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    log_manager *mgr = part->mgr;
    if (m->gen != part->gen) { /* truncated: start over */
        m->gen = part->gen;
        m->cur_base = part->segs[0]->base;
        m->cur_pos = m->copied = 0;
        m->future_leo = part->log_start;
        int nnames;
        char **names = log_io_list_names(mgr->io, m->future_path, &nnames);
        for (int k = 0; names && k < nnames; k++)
            if (names[k][0] != '.') {
                char *p = path_join(m->future_path, names[k]);
                IOCALL(mgr, unlink, p);
                free(p);
            }
        if (names)
            log_io_free_names(names, nnames);
    }
    while (budget > 0) {
        int i = seg_at_or_after(part, m->cur_base);
        if (i < 0)
            i = part->nsegs - 1;
        log_segment *s = part->segs[i];
        if (s->base != m->cur_base) { /* deleted by retention meanwhile */
            m->cur_base = s->base;
            m->cur_pos = 0;
        }
        bool last = i == part->nsegs - 1;
        int64_t left = s->size - m->cur_pos;
        if (last && left <= budget)
            break;
        int64_t n = SL_MIN(left, budget);
        if (n > 0) {
            char src[4096], dst[4096];
            seg_file(part, s->base, ".log", src, sizeof(src));
            snprintf(dst, sizeof(dst), "%s/%020" PRId64 ".log", m->future_path,
                     s->base);
            if (!copy_file_range_io(mgr, src, dst, m->cur_pos, m->cur_pos + n,
                                    -1, false)) {
                SL_ERROR(MOD, "copying %s to %s: %s", src, dst,
                         strerror(errno));
                log_move_cancel(part);
                return KERR_KAFKA_STORAGE_ERROR;
            }
            m->cur_pos += n;
            m->copied += n;
            budget -= n;
        }
        if (!last && m->cur_pos >= s->size) {
            m->future_leo = s->next_offset;
            m->cur_base = part->segs[i + 1]->base;
            m->cur_pos = 0;
        }
    }
    if (budget <= 0)
        return KERR_NONE;
    int16_t e = move_finish(part);
    if (e != KERR_NONE) {
        log_move_cancel(part);
        return e;
    }
    *done = true;
    return KERR_NONE;
}
