/*
 * log_int.h - internals shared by the files of the partition log (not a
 * public interface: log.h is the API; nothing outside src/log/ includes
 * this). Functions here carry the lg_ prefix.
 *
 * The files, by concern:
 *   log.c          the partition's API: config defaults, accessors, the
 *                  high watermark, append (validation, offsets, roll
 *                  decision), read, offset-for-timestamp
 *   segment.c      one segment: open/close under the LRU, offset and time
 *                  indexes, finalize, lookup, roll; the cleaner's view of
 *                  segments (log_segment_get, log_replace_segments) and its
 *                  index builder (log_seg_index_*)
 *   recovery.c     loading a partition directory at open: clean segments,
 *                  re-reading (rebuild) dirty ones, torn tails, gaps
 *   epoch_cache.c  the leader epoch cache (leader-epoch-checkpoint)
 *   flusher.c      synchronous flush and the flusher thread (flush.h)
 *   checkpoint.c   the per-dir checkpoint files and partition.metadata
 *   retention.c    retention, DeleteRecords, truncation
 *   move.c         moving a partition to another log dir
 *   manager.c      the manager: partition map, create/delete, open/close,
 *                  log dir failure
 *   io.c           log_io_posix and the file helpers on the log_io seam
 *
 * INVARIANTS (checked with SL_ASSERT where cheap; each file names the ones
 * it keeps, and the functions that move each value)
 *
 *  1. log_start_offset <= high_watermark <= log_end_offset (LEO).
 *     - LEO moves forward only in log_append (by the records appended) and
 *       backward only in log_truncate_to and in recovery (torn tail).
 *     - high_watermark moves only in log_set_high_watermark (clamped to
 *       [log start, LEO], never backwards: the replica manager, src/replica,
 *       is its caller for partition logs) and is pulled down by truncation
 *       and pushed up to a new log start.
 *     - log_start_offset moves forward only in log_delete_records and in
 *       retention (drop_front_segments), never backward, and is at least
 *       the base offset of the first segment.
 *  2. recovery_point <= LEO. Every byte below the recovery point has been
 *     fsynced (with its segment's indexes, see lg_seg_finalize) and is never
 *     re-read at start. It moves forward only in log_flush (to LEO) and in
 *     log_manager_flush_reap (to a done job's target), and backward only
 *     with truncation. recovery-point-offset-checkpoint holds a value that
 *     was true when it was written (it lags, never leads).
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
 *
 * Threading: everything here runs on the loop thread, except the flusher
 * thread's part of flusher.c (flush_job lists under fl_mu) and the io.c
 * helpers, which any thread may call.
 */
#ifndef SL_LOG_INT_H
#define SL_LOG_INT_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "flush.h"
#include "log.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/log.h"
#include "core/util.h"

#define MOD "log"
#define CLEAN_SHUTDOWN_FILE ".kafka_cleanshutdown"
#define IDX_ENTRY 8
#define TIDX_ENTRY 12
#define DEFAULT_MAX_OPEN 1024

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

/* An asynchronous flush (flusher.c). */
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
    /* asynchronous flushes (flusher.c) */
    log_partition **due;
    int ndue, capdue;
    struct flush_job *held_head, *held_tail; /* roll jobs not yet begun */
    pthread_mutex_t fl_mu;
    pthread_cond_t fl_cv;
    struct flush_job *jobs_head, *jobs_tail; /* begun, in ticket order */
    struct flush_job *fl_next;               /* first not taken by the thread */
    sl_executor *fl_exec; /* the flusher's executor (env.h); NULL until
                             the first batch */
    bool fl_stop, fl_abandon;
    uint64_t fl_ticket; /* last ticket begun */
    bool create_sync;   /* partitions created since the last
                           log_manager_flush_begin */
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

/* A checkpoint file read at open (checkpoint.c). */
typedef struct ckpt_entry {
    char *topic;
    int32_t partition;
    int64_t offset;
} ckpt_entry;

typedef struct ckpt {
    ckpt_entry *e;
    int n;
} ckpt;

#define IOCALL(mgr, op, ...) ((mgr)->io->op((mgr)->io->ctx, __VA_ARGS__))

/* ---- io.c: paths and whole-file helpers on mgr->io */
char *lg_path_join(const char *a, const char *b); /* heap "a/b" */
/* Size of a regular file through io, -1 if it cannot be stat'ed. */
int64_t lg_file_size(const log_manager *mgr, const char *path);
bool lg_write_file_atomic(log_manager *mgr, const char *path, const void *data,
                          size_t n);
/* A small text file wholly, NUL-terminated (heap), NULL if unreadable. */
char *lg_read_text(log_manager *mgr, const char *path);
bool lg_has_suffix(const char *s, const char *suf);

/* ---- segment.c: one segment, and the partition's list of them */
/* <partition dir>/<base, 20 digits><ext> */
void lg_seg_file(const log_partition *part, int64_t base, const char *ext,
                 char *out, size_t n);
log_segment *lg_seg_new(log_partition *part, int64_t base); /* closed */
void lg_seg_free(log_segment *s);                           /* closes */
bool lg_seg_open(log_segment *s); /* false: partition poisoned */
void lg_seg_close(log_segment *s);
/* Accounts one batch that now sits at pos in s (indexes, counters). */
bool lg_seg_account_batch(log_segment *s, const log_batch_header *h,
                          int64_t pos, int32_t interval);
/* Index arrays to the index files at their exact size (or preallocated). */
bool lg_seg_write_indexes(log_segment *s, bool prealloc);
/* No longer written: trims and syncs (or hands the fds to job). */
bool lg_seg_finalize(log_segment *s, flush_job *job);
/* Position of the first batch whose last offset >= offset; size if none;
 * -1 on I/O error. s must be open. */
int64_t lg_seg_lookup_pos(log_segment *s, int64_t offset);
/* Index in segs[] of the segment holding offset (0 if below all). */
int lg_seg_index_for(const log_partition *part, int64_t offset);
log_segment *lg_active(log_partition *part); /* the last segment */
void lg_segs_push(log_partition *part, log_segment *s);
void lg_seg_delete_files(log_partition *part, int64_t base);
bool lg_add_new_segment(log_partition *part, int64_t base);
bool lg_roll(log_partition *part); /* false: partition poisoned */

/* ---- recovery.c */
/* Re-reads s from byte 0, rebuilding its indexes and cutting the .log at
 * the first invalid batch (*truncated then). false: poisoned. */
bool lg_seg_rebuild(log_segment *s, bool *truncated);
/* Loads the partition directory name of log dir d (recovery). */
void lg_load_partition(log_manager *mgr, int d, const char *name, bool clean,
                       const ckpt *rp, const ckpt *ls, const ckpt *hw);

/* ---- epoch_cache.c */
void lg_epochs_load(log_partition *part);
/* Each batch of batches[0..len) (validated, offsets assigned) assigns its
 * own partitionLeaderEpoch at its base offset, as Kafka's UnifiedLog.append
 * does: a chunk a follower fetched may span epochs. One checkpoint write if
 * anything was added; false if it failed. */
bool lg_epochs_assign_batches(log_partition *part, const uint8_t *batches,
                              size_t len);
void lg_epochs_truncate_end(log_partition *part, int64_t end);
void lg_epochs_truncate_start(log_partition *part, int64_t start);
void lg_epochs_clear(log_partition *part);

/* ---- flusher.c */
/* The directories the next flush of part needs (invariant 7): handed to
 * job, or fsynced now without one. false on an fsync error. */
bool lg_sync_part_dirs(log_partition *part, flush_job *job);
void lg_mark_dirty(log_partition *part); /* log_manager_flush_dirty */
void lg_mark_due(log_partition *part);   /* log_manager_flush_begin */
flush_job *lg_job_new(log_partition *part, int64_t target);
void lg_job_free(log_manager *mgr, flush_job *j); /* closes its fds */
void lg_hold_job(log_manager *mgr,
                 flush_job *j); /* begun by log_manager_flush_begin */
void lg_flush_forget(log_partition *part); /* part is being deleted */
void lg_flusher_stop(log_manager *mgr, bool drain);

/* ---- checkpoint.c */
bool lg_write_partition_metadata(log_partition *part);
void lg_read_partition_metadata(log_partition *part);
void lg_ckpt_load(log_manager *mgr, const char *dir, const char *name, ckpt *c);
void lg_ckpt_free(ckpt *c);
int64_t lg_ckpt_find(const ckpt *c, const char *topic, int32_t p);
/* Checkpoint k (0 recovery point, 1 log start, 2 HW) of log dir d; false
 * with errno on failure (the dir then fails). */
bool lg_checkpoint_write(log_manager *mgr, int d, int k);

/* ---- manager.c */
void lg_dir_suffix(char hex[33]); /* the <hex> of -delete / -future dirs */
/* An I/O error on part: it fails, and its log dir with it (invariant 5). */
void lg_poison(log_partition *part, const char *what);
void lg_dir_fail(log_manager *mgr, int d);
void lg_map_insert(log_manager *mgr, log_partition *part);
log_partition *lg_part_new(log_manager *mgr, const char *topic,
                           int32_t partition, int dir_index);
void lg_part_free(log_partition *part);
bool lg_remove_dir_files(log_manager *mgr, const char *dir);

#endif
