/*
 * cleaner_int.h - internals shared by the two halves of the log cleaner
 * (not a public interface; see cleaner.h for the algorithm):
 *   cleaner.c       the loop thread's half: choosing the dirtiest log,
 *                   handing a job to a worker thread, swapping the groups a
 *                   worker reports done into the log, aborting jobs whose
 *                   log changed, checkpoints, starting/stopping workers,
 *                   the shared I/O throttle.
 *   cleaner_work.c  the worker threads' half: reading sealed segment files,
 *                   building the offset map, writing <base>.log.cleaned.
 *
 * Ownership of a job (the rules cleaner.c and cleaner_work.c rely on):
 *  - The loop builds a job (snapshot of everything a pass needs: the
 *    segment list, config values, aborted transactions, producers' last
 *    batches) and publishes it in a worker's slot under c->mu; after that
 *    the "snapshot" fields are read-only for both sides.
 *  - "worker" fields belong to the worker thread while state is
 *    JOB_RUNNING; the loop reads them only after the job reached
 *    JOB_DONE/JOB_FAILED (observed under c->mu).
 *  - "shared" fields are read and written under c->mu only (cancel is an
 *    atomic so the worker can poll it per batch without the lock).
 *  - "loop" fields, and j->part, are touched by the loop thread only. A
 *    worker never calls into log.h (no log_partition is used off the loop).
 */
#ifndef SL_LOG_CLEANER_INT_H
#define SL_LOG_CLEANER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "cleaner.h"
#include "core/buf.h"
#include "core/env.h"
#include "producer_state.h"

#define LOG_CL_MOD "log-cleaner"
/* groups a worker may have written but the loop not yet swapped: bounds the
 * extra disk a pass holds */
#define LOG_CL_MAX_PENDING 2

#define IOC(io, op, ...) ((io)->op((io)->ctx, __VA_ARGS__))

typedef struct ckpt_ent {
    char *topic;
    int32_t partition;
    int64_t offset;
} ckpt_ent;

typedef struct seg_ref {
    int64_t base, end, size;
} seg_ref;

typedef struct producer_last {
    int64_t pid;
    int64_t last_data_offset; /* -1: only a marker */
    int16_t epoch;
} producer_last;

/* Kafka's CleanedTransactionMetadata (cleaner_work.c) */
typedef struct ongoing_abort {
    int64_t pid;
    bool observed; /* a batch of it was seen (and discarded) */
} ongoing_abort;

typedef struct txn_meta {
    ps_aborted *ab; /* sorted by first offset */
    int nab, iab;
    ongoing_abort *oa;
    int noa, capoa;
    int64_t *committed;
    int ncom, capcom;
} txn_meta;

/* A group of segments a worker has written as one .cleaned file. */
typedef struct ready_group {
    int first, count; /* indexes into job.segs */
    char *log_path;   /* <dir>/<base>.log.cleaned */
    char *txn_path;   /* <dir>/<base>.txnindex.cleaned or NULL */
    /* the index the worker built while writing log_path (its files are
     * <base>.index.cleaned and <base>.timeindex.cleaned); owned */
    log_seg_index *idx;
} ready_group;

enum log_cl_state { JOB_QUEUED = 0, JOB_RUNNING, JOB_DONE, JOB_FAILED };

typedef struct log_cl_job {
    /* ---- snapshot: set by the loop before publishing, then read-only */
    struct log_cleaner *c;
    const log_io *io;
    char *topic;
    int32_t partition;
    uint8_t topic_id[16];
    char *dir; /* the partition dir at pass start */
    int64_t first_dirty, uncleanable;
    int64_t now; /* wall clock at pass start (delete horizons) */
    int64_t delete_retention_ms;
    int32_t segment_bytes; /* groups stay under it */
    size_t map_memory;     /* this thread's share of the dedupe buffer */
    double load_factor;
    ps_aborted *aborted;
    int naborted;
    producer_last *plast;
    int nplast;
    seg_ref *segs; /* rolled segments below the uncleanable offset */
    int nsegs;

    /* ---- worker (while JOB_RUNNING) */
    int64_t map_end;
    bool map_full;
    log_cleaner_map map;
    txn_meta map_txn, g_txn;
    int cur_seg;
    int64_t cur_pos;
    int rfd;              /* open .log of segs[cur_seg], -1 */
    buf rbuf;             /* read window */
    int64_t rbuf_pos;     /* file position of rbuf.data[0] */
    buf plain, rec, out;  /* scratch */
    int g_first, g_count; /* current group, indexes into segs */
    int ofd;              /* its .cleaned fd, -1 */
    int64_t opos;
    char *cleaned_path;     /* owned by the worker until posted */
    log_seg_index gidx;     /* the group's index, built as j->out is written */
    int32_t index_interval; /* index.interval.bytes (snapshot) */
    log_cleaner_stats st;   /* the worker's counters, merged when reaped */

    /* ---- shared (under c->mu) */
    int state;       /* enum log_cl_state */
    const char *why; /* static text when JOB_FAILED */
    ready_group *ready;
    int nready, cap_ready;
    int nswapped;       /* ready[0..nswapped) taken by the loop */
    atomic_bool cancel; /* loop -> worker: stop, drop what you wrote */

    /* ---- loop */
    log_partition *part;
    bool swap_failed;
    const char *loop_why;
} log_cl_job;

typedef struct log_cl_worker {
    struct log_cleaner *c;
    log_cl_job *job; /* under c->mu; set by the loop, cleared by the loop */
} log_cl_worker;

struct log_cleaner {
    /* ---- loop thread only */
    log_manager *mgr;
    log_cleaner_opts o;
    const log_io *io; /* fixed at log_cleaner_new */
    ckpt_ent *ck;
    int nck, capck;
    log_cleaner_stats st;
    int64_t next_pick_ns; /* no log was cleanable: wait until then */
    int nw;               /* worker slots (passes at once) */
    log_cl_worker *w;
    sl_executor *exec;         /* runs the passes (env.h): nw worker threads in
                                  production, inline under a simulator; NULL when
                                  nw is 0 */
    void (*notify)(void *ctx); /* fixed at new: called by workers */
    void *notify_ctx;

    /* ---- shared under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv_worker; /* a job was published / a group swapped */
    pthread_cond_t cv_loop;   /* a worker posted a group or finished */
    bool stop;
    bool events;

    /* ---- throttle, under thr_mu (every worker adds its bytes) */
    pthread_mutex_t thr_mu;
    double thr_rate;
    int64_t thr_start_ns, thr_bytes;
};

/* cleaner.c -> shared helpers */
void log_cl_seg_name(char *out, size_t n, const char *dir, int64_t base,
                     const char *ext);
/* <dir>/<base>.swapend holding end, fsynced (written by the worker once a
 * group's files are durable, so the swap on the loop has one fsync less).
 * 0 or -1. */
int log_cl_write_swapend(const log_io *io, const char *dir, int64_t base,
                         int64_t end);
/* Removes a group's .cleaned files (either path may be NULL; the index
 * files are found by base) and its .swapend. */
void log_cl_drop_group(const log_io *io, const char *dir, int64_t base,
                       const char *log_path, const char *txn_path);
/* Worker: hands a written group to the loop (waits while
 * LOG_CL_MAX_PENDING are unswapped). Takes the paths and idx (heap, may be
 * NULL). false if the job was cancelled (the files are then removed). */
bool log_cl_post_group(log_cl_job *j, int first, int count, char *log_path,
                       char *txn_path, log_seg_index *idx);
/* Worker: accounts bytes read or written; sleeps to keep all workers
 * together under log.cleaner.io.max.bytes.per.second. */
void log_cl_throttle(struct log_cleaner *c, log_cl_job *j, int64_t bytes);

/* cleaner_work.c: the whole pass of a job on a worker thread. true when
 * every group was posted; false with *why (static) otherwise; the current
 * .cleaned file is removed on failure. Frees the pass's memory (map,
 * buffers) before returning. */
bool log_cl_run_job(log_cl_job *j, const char **why);

#endif
