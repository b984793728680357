/*
 * cleaner.c - the loop thread's half of the log cleaner (algorithm in
 * cleaner.h, ownership of a job in cleaner_int.h, the workers' half in
 * cleaner_work.c): choosing the dirtiest log, handing it to a worker
 * (a task on the executor of the node's environment, core/env.h: worker
 * threads in production, inline on the loop under a simulator), swapping
 * what the worker wrote into the log, the crash-safe swap and its recovery,
 * cleaner-offset-checkpoint, the workers and the shared I/O throttle.
 *
 * THREADING / OWNERSHIP INVARIANTS
 *  1. The partition log (log.h) has no locks and is used by the loop thread
 *     only. Everything here that touches a log_partition, the segment list
 *     or the checkpoint runs on the loop (log_cleaner_step, _free, ...).
 *     Workers see a job's snapshot and files only (cleaner_work.c).
 *  2. Sealed segments are immutable: a pass only ever reads rolled segments
 *     below the first uncleanable offset, which is at most the active
 *     segment's base; the active segment is never cleaned.
 *  3. The only change a pass makes to a log is log_replace_segments, done
 *     here on the loop between two requests: the .cleaned -> .swap -> live
 *     renames and the segment list change happen in one call, so a reader
 *     on the loop sees either the old segments or the new one, never a
 *     half-swapped log (and an fd it already holds keeps the old bytes).
 *  4. Before swapping a group the loop revalidates it against the live log:
 *     same partition (topic id), same segments (bases and sizes), still
 *     below the active segment. Retention (delete / compact,delete),
 *     DeleteRecords and truncation that removed or changed any of the
 *     group's segments make it fail: the pass is cancelled, its remaining
 *     groups discarded and the checkpoint not moved. A deleted partition
 *     (topic deletion, possibly re-created with a new topic id) cancels the
 *     pass at the next step, before any further swap. Groups swapped before
 *     a cancel are complete and correct on their own (each covers exactly
 *     its offsets), so the log stays consistent; the next pass redoes the
 *     rest.
 *  5. One pass per partition at a time (a partition with a running job is
 *     never picked); at most log.cleaner.threads passes at once, each with
 *     log.cleaner.dedupe.buffer.size / threads bytes of offset map.
 *  6. The checkpoint only moves after a whole pass swapped every group.
 */
#include "cleaner.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "cleaner_int.h"
#include "ckpt_file.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "producer_state.h"

#define MOD LOG_CL_MOD
#define CKPT_NAME "cleaner-offset-checkpoint"
/* the loop polls running jobs this often (workers also wake it) */
#define POLL_MS 100
/* I/O throttle: bytes of all workers since the window start at most
 * rate * elapsed (+ slack); a window restarts after 1 s without debt */
#define THROTTLE_WINDOW_NS 1000000000LL
#define THROTTLE_SLACK_NS 10000000LL

typedef log_cl_job job;

/* ---- options --------------------------------------------------------------
 */
void log_cleaner_opts_default(log_cleaner_opts *o) {
    memset(o, 0, sizeof(*o));
    o->dedupe_buffer_size = 134217728;
    o->threads = 1;
    o->load_factor = 0.9;
    o->backoff_ms = 15000;
    o->io_max_bytes_per_second = 0;
}

/* ---- small file helpers
 * ------------------------------------------------------ */
/* The swap's renames are durable once this returned true. */
static bool fsync_dir(const log_io *io, const char *dir) {
    if (IOC(io, fsync_dir, dir) == 0)
        return true;
    SL_ERROR(MOD, "cannot fsync directory %s: %s", dir, strerror(errno));
    return false;
}

static bool file_exists(const log_io *io, const char *p) {
    return log_io_exists(io, p);
}

/* A small file of at most 63 bytes as a NUL-terminated string ("" if it
 * cannot be read). */
static void read_small(const log_io *io, const char *path, char txt[64]) {
    memset(txt, 0, 64);
    int fd = IOC(io, open, path, O_RDONLY, 0);
    if (fd < 0)
        return;
    ssize_t r = log_io_read_full(io, fd, txt, 63, 0);
    IOC(io, close, fd);
    if (r < 0)
        txt[0] = 0;
}

/* Temp + fsync + rename, without a directory fsync: the .swapend's entry
 * is made durable by the swap's directory fsync before anything depends on
 * it, and a cleaner checkpoint that reverts only lags (a pass is redone). */
static bool write_small_atomic(const log_io *io, const char *path,
                               const void *d, size_t n) {
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = IOC(io, open, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return false;
    bool ok = log_io_write_all(io, fd, d, n, 0) && IOC(io, fsync, fd) == 0;
    IOC(io, close, fd);
    if (!ok || IOC(io, rename, tmp, path) != 0) {
        IOC(io, unlink, tmp);
        return false;
    }
    return true;
}

void log_cl_seg_name(char *out, size_t n, const char *dir, int64_t base,
                     const char *ext) {
    snprintf(out, n, "%s/%020" PRId64 "%s", dir, base, ext);
}

/* ---- swap (crash-safe replacement) -----------------------------------------
 */
int log_cl_write_swapend(const log_io *io, const char *dir, int64_t base,
                         int64_t end) {
    char ep[4200], txt[32];
    log_cl_seg_name(ep, sizeof ep, dir, base, ".swapend");
    int tl = snprintf(txt, sizeof txt, "%" PRId64 "\n", end);
    return write_small_atomic(io, ep, txt, (size_t)tl) ? 0 : -1;
}

static bool swapend_matches(const log_io *io, const char *path, int64_t end) {
    char txt[64];
    read_small(io, path, txt);
    return txt[0] && strtoll(txt, NULL, 10) == end;
}

void log_cl_drop_group(const log_io *io, const char *dir, int64_t base,
                       const char *log_path, const char *txn_path) {
    if (log_path)
        IOC(io, unlink, log_path);
    if (txn_path)
        IOC(io, unlink, txn_path);
    char ep[4200];
    log_cl_seg_name(ep, sizeof ep, dir, base, ".index.cleaned");
    IOC(io, unlink, ep);
    log_cl_seg_name(ep, sizeof ep, dir, base, ".timeindex.cleaned");
    IOC(io, unlink, ep);
    log_cl_seg_name(ep, sizeof ep, dir, base, ".swapend");
    IOC(io, unlink, ep);
}

/* The index files a swap carries: .cleaned, .swap and live names. */
static const char *const swap_idx_ext[2] = {".index", ".timeindex"};
static void swap_idx_name(char *out, size_t n, const char *dir, int64_t base,
                          int k, const char *stage) {
    char ext[64];
    snprintf(ext, sizeof ext, "%s%s", swap_idx_ext[k], stage);
    log_cl_seg_name(out, n, dir, base, ext);
}
int log_cleaner_swap_in(const log_io *io, const char *dir, const int64_t *bases,
                        int n, int64_t end, const char *cleaned_log,
                        const char *cleaned_txnindex, bool with_indexes) {
    if (!io)
        io = &log_io_posix;
    int64_t base = bases[0];
    char ep[4200], ls[4200], lp[4200], ts[4200], tp[4200];
    log_cl_seg_name(ep, sizeof ep, dir, base, ".swapend");
    log_cl_seg_name(lp, sizeof lp, dir, base, ".log");
    log_cl_seg_name(ls, sizeof ls, dir, base, ".log.swap");
    log_cl_seg_name(tp, sizeof tp, dir, base, ".txnindex");
    log_cl_seg_name(ts, sizeof ts, dir, base, ".txnindex.swap");
    /* 1. the group's end, for recovery (the cleaned data may end earlier);
     * the worker normally wrote it already (its fsync off the loop) */
    if (!swapend_matches(io, ep, end) &&
        log_cl_write_swapend(io, dir, base, end))
        return -1;
    /* 2. .cleaned -> .swap; the .log.swap rename is the commit point */
    if (cleaned_txnindex && IOC(io, rename, cleaned_txnindex, ts) != 0)
        return -1;
    for (int k = 0; k < 2 && with_indexes; k++) {
        char c[4200], w[4200];
        swap_idx_name(c, sizeof c, dir, base, k, ".cleaned");
        swap_idx_name(w, sizeof w, dir, base, k, ".swap");
        if (IOC(io, rename, c, w) != 0)
            return -1;
    }
    if (IOC(io, rename, cleaned_log, ls) != 0 || !fsync_dir(io, dir))
        return -1;
    /* 3. old files go (the first segment's .log is replaced by rename) */
    static const char *idx_exts[] = {".index", ".timeindex", ".txnindex"};
    for (int i = n - 1; i >= 0; i--) {
        char p[4200];
        for (size_t k = 0; k < SL_ARRAY_LEN(idx_exts); k++) {
            log_cl_seg_name(p, sizeof p, dir, bases[i], idx_exts[k]);
            if (IOC(io, unlink, p) != 0 && errno != ENOENT)
                return -1;
        }
        if (i > 0) {
            log_cl_seg_name(p, sizeof p, dir, bases[i], ".log");
            if (IOC(io, unlink, p) != 0 && errno != ENOENT)
                return -1;
        }
    }
    /* 4. .swap -> final names (indexes before the .log: a crash between
     * leaves the .log.swap, and recovery then drops the new indexes) */
    if (cleaned_txnindex && IOC(io, rename, ts, tp) != 0)
        return -1;
    for (int k = 0; k < 2 && with_indexes; k++) {
        char w[4200], f[4200];
        swap_idx_name(w, sizeof w, dir, base, k, ".swap");
        swap_idx_name(f, sizeof f, dir, base, k, "");
        if (IOC(io, rename, w, f) != 0)
            return -1;
    }
    if (IOC(io, rename, ls, lp) != 0 || !fsync_dir(io, dir))
        return -1;
    IOC(io, unlink, ep);
    return 0;
}

static bool parse_seg_file(const char *name, const char *ext, int64_t *base) {
    size_t el = strlen(ext);
    if (strlen(name) != 20 + el || strcmp(name + 20, ext))
        return false;
    char *e;
    long long b = strtoll(name, &e, 10);
    if (e != name + 20 || b < 0)
        return false;
    *base = b;
    return true;
}

int log_cleaner_recover_dir(const log_io *io, const char *dir) {
    if (!io)
        io = &log_io_posix;
    int nnames;
    char **names = log_io_list_names(io, dir, &nnames);
    if (!names)
        return -1;
    int64_t *swaps = NULL;
    int ns = 0;
    int64_t *logs = NULL;
    int nl = 0;
    for (int k = 0; k < nnames; k++) {
        int64_t b;
        if (parse_seg_file(names[k], ".swapend", &b)) {
            swaps = xrealloc(swaps, sizeof(*swaps) * (size_t)(ns + 1));
            swaps[ns++] = b;
        } else if (parse_seg_file(names[k], ".log", &b)) {
            logs = xrealloc(logs, sizeof(*logs) * (size_t)(nl + 1));
            logs[nl++] = b;
        }
    }
    log_io_free_names(names, nnames);
    int rc = 0;
    for (int i = 0; i < ns; i++) {
        int64_t base = swaps[i];
        char ep[4200], ls[4200], lp[4200], ts[4200], tp[4200];
        log_cl_seg_name(ep, sizeof ep, dir, base, ".swapend");
        log_cl_seg_name(lp, sizeof lp, dir, base, ".log");
        log_cl_seg_name(ls, sizeof ls, dir, base, ".log.swap");
        log_cl_seg_name(tp, sizeof tp, dir, base, ".txnindex");
        log_cl_seg_name(ts, sizeof ts, dir, base, ".txnindex.swap");
        char txt[64];
        read_small(io, ep, txt);
        int64_t end = txt[0] ? strtoll(txt, NULL, 10) : -1;
        if (file_exists(io, ls) && end > base) {
            /* committed: finish it */
            SL_WARN(MOD,
                    "Completing an interrupted log cleaner swap in %s "
                    "(segment %" PRId64 ", end %" PRId64 ")",
                    dir, base, end);
            for (int k = 0; k < nl; k++) {
                if (logs[k] < base || logs[k] >= end)
                    continue;
                static const char *exts[] = {".index", ".timeindex",
                                             ".txnindex", ".log"};
                for (size_t x = 0; x < SL_ARRAY_LEN(exts); x++) {
                    if (logs[k] == base && x == 3)
                        continue;
                    char p[4200];
                    log_cl_seg_name(p, sizeof p, dir, logs[k], exts[x]);
                    IOC(io, unlink, p);
                }
            }
            if (file_exists(io, ts))
                IOC(io, rename, ts, tp);
            /* the new indexes, if they were still .swap (else the ones
             * just removed are rebuilt when the segment loads) */
            for (int k = 0; k < 2; k++) {
                char w[4200], f[4200];
                swap_idx_name(w, sizeof w, dir, base, k, ".swap");
                swap_idx_name(f, sizeof f, dir, base, k, "");
                if (file_exists(io, w))
                    IOC(io, rename, w, f);
            }
            IOC(io, rename, ls, lp);
        } else {
            /* not committed (or nothing to do): roll back */
            IOC(io, unlink, ts);
            IOC(io, unlink, ls);
            for (int k = 0; k < 2; k++) {
                char w[4200];
                swap_idx_name(w, sizeof w, dir, base, k, ".swap");
                IOC(io, unlink, w);
            }
        }
        /* the outcome is durable before the .swapend that decides it goes */
        if (!fsync_dir(io, dir)) {
            rc = -1;
            break;
        }
        IOC(io, unlink, ep);
    }
    free(swaps);
    free(logs);
    return rc;
}

static ckpt_ent *ck_find(const log_cleaner *c, const char *topic, int32_t p) {
    for (int i = 0; i < c->nck; i++)
        if (c->ck[i].partition == p && !strcmp(c->ck[i].topic, topic))
            return &c->ck[i];
    return NULL;
}

static void ck_set(log_cleaner *c, const char *topic, int32_t p, int64_t off) {
    ckpt_ent *e = ck_find(c, topic, p);
    if (!e) {
        if (c->nck == c->capck) {
            c->capck = c->capck ? c->capck * 2 : 16;
            c->ck = xrealloc(c->ck, sizeof(*c->ck) * (size_t)c->capck);
        }
        e = &c->ck[c->nck++];
        e->topic = xstrdup(topic);
        e->partition = p;
    }
    e->offset = off;
}

static bool ck_load_entry(void *arg, const char *line) {
    char topic[256];
    int32_t p;
    int64_t off;
    if (sscanf(line, "%255s %d %" SCNd64, topic, &p, &off) != 3)
        return false;
    ck_set(arg, topic, p, off);
    return true;
}

static void ck_load(log_cleaner *c, const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, CKPT_NAME);
    size_t len;
    char *txt = (char *)log_io_read_file(c->io, path, 64u << 20, &len);
    if (!txt)
        return;
    ckpt_file_parse(txt, 0, ck_load_entry, c);
    free(txt);
}

typedef struct ck_write_ctx {
    log_cleaner *c;
    const char *dir;
    buf *body;
    int n;
} ck_write_ctx;

static void ck_write_one(void *ctx, log_partition *part) {
    ck_write_ctx *w = ctx;
    if (strcmp(log_dir_path(part), w->dir))
        return;
    ckpt_ent *e = ck_find(w->c, log_topic(part), log_partition_id(part));
    if (!e)
        return;
    buf_printf(w->body, "%s %d %" PRId64 "\n", e->topic, e->partition,
               e->offset);
    w->n++;
}

static void ck_write(log_cleaner *c) {
    for (int d = 0; d < log_manager_n_dirs(c->mgr); d++) {
        if (log_manager_dir_offline(c->mgr, d))
            continue; /* a failed dir is not written to any more */
        buf body, all;
        buf_init(&body, 256);
        buf_init(&all, 256);
        ck_write_ctx w = {c, log_manager_dir(c->mgr, d), &body, 0};
        log_manager_foreach(c->mgr, ck_write_one, &w);
        buf_printf(&all, "0\n%d\n", w.n);
        buf_put(&all, body.data, body.len);
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", w.dir, CKPT_NAME);
        if (!write_small_atomic(c->io, path, all.data, all.len))
            SL_WARN(MOD, "cannot write %s: %s", path, strerror(errno));
        buf_free(&body);
        buf_free(&all);
    }
}

bool log_cleaner_cleaning(const log_cleaner *c, const log_partition *part) {
    for (int i = 0; c && i < c->nw; i++)
        if (c->w[i].job && c->w[i].job->part == part)
            return true;
    return false;
}

/* ---- choosing a log
 * ------------------------------------------------------------- */
typedef struct pick_ctx {
    log_cleaner *c;
    int64_t now;
    log_partition *best;
    double best_ratio;
    int64_t best_first_dirty, best_uncleanable;
} pick_ctx;

static int64_t first_unstable(log_cleaner *c, log_partition *part) {
    if (!c->o.producer_state)
        return -1;
    ps_state *ps = c->o.producer_state(c->o.ctx, part);
    return ps ? ps_first_unstable(ps) : -1;
}

static void pick_one(void *ctx, log_partition *part) {
    pick_ctx *pc = ctx;
    log_cleaner *c = pc->c;
    const log_config *cfg = log_get_config(part);
    if (!(cfg->cleanup_policy & LOG_CLEANUP_COMPACT) || log_is_failed(part))
        return;
    int mdir;
    int64_t msize, mleo;
    if (log_move_info(part, &mdir, &msize, &mleo))
        return; /* moving to another log dir (Kafka pauses its cleaning) */
    for (int i = 0; i < c->nw; i++)
        if (c->w[i].job && c->w[i].job->part == part)
            return; /* being cleaned (one pass per partition) */
    int n = log_segment_count(part);
    if (n < 2)
        return;
    int64_t start = log_start_offset(part), leo = log_end_offset(part);
    ckpt_ent *e = ck_find(c, log_topic(part), log_partition_id(part));
    int64_t first_dirty = e ? e->offset : start;
    if (first_dirty < start || first_dirty > leo)
        first_dirty = start; /* truncated or deleted and re-created */
    log_segment_info act;
    log_segment_get(part, n - 1, &act);
    int64_t unc = act.base;
    int64_t fu = first_unstable(c, part);
    if (fu >= 0 && fu < unc)
        unc = fu;
    int64_t hw = log_high_watermark(part);
    if (hw < unc)
        unc = hw;
    int64_t clean_bytes = 0, dirty_bytes = 0;
    int64_t first_dirty_ts = -1;
    bool lag_hit = false;
    for (int i = 0; i < n - 1; i++) {
        log_segment_info s;
        log_segment_get(part, i, &s);
        if (s.end_offset <= first_dirty) {
            clean_bytes += s.size;
            continue;
        }
        if (s.base >= unc)
            break;
        if (!lag_hit && cfg->min_compaction_lag_ms > 0 &&
            s.max_timestamp >= 0 &&
            s.max_timestamp > pc->now - cfg->min_compaction_lag_ms) {
            lag_hit = true;
            if (s.base < unc)
                unc = SL_MAX(s.base, first_dirty);
            break;
        }
        if (first_dirty_ts < 0)
            first_dirty_ts = s.first_batch_timestamp;
        dirty_bytes += s.size;
    }
    if (unc <= first_dirty || dirty_bytes <= 0)
        return;
    double ratio = (double)dirty_bytes / (double)(clean_bytes + dirty_bytes);
    bool need_now = cfg->max_compaction_lag_ms != INT64_MAX &&
                    first_dirty_ts >= 0 &&
                    pc->now - first_dirty_ts > cfg->max_compaction_lag_ms;
    if (!(ratio > cfg->min_cleanable_dirty_ratio || need_now))
        return;
    double score = need_now ? ratio + 2.0 : ratio;
    if (!pc->best || score > pc->best_ratio) {
        pc->best = part;
        pc->best_ratio = score;
        pc->best_first_dirty = first_dirty;
        pc->best_uncleanable = unc;
    }
}

static void load_producers(log_cleaner *c, job *j) {
    if (!c->o.producer_state)
        return;
    ps_state *ps = c->o.producer_state(c->o.ctx, j->part);
    if (!ps)
        return;
    j->plast = xmalloc(sizeof(*j->plast) * (size_t)(ps->n + 1));
    for (int i = 0; i < ps->n; i++) {
        const ps_entry *e = &ps->entries[i];
        j->plast[j->nplast++] = (producer_last){
            e->producer_id,
            e->n_batches ? e->batches[e->n_batches - 1].last_offset : -1,
            e->epoch};
    }
}

/* Builds a job for the dirtiest log (NULL if none is cleanable): a snapshot
 * of everything the worker needs, so it never touches the partition. */
static job *start_job(log_cleaner *c) {
    pick_ctx pc = {c, clk_wall_ms(), NULL, 0, 0, 0};
    log_manager_foreach(c->mgr, pick_one, &pc);
    if (!pc.best)
        return NULL;
    job *j = xcalloc(1, sizeof(*j));
    j->c = c;
    j->io = c->io;
    j->part = pc.best;
    j->topic = xstrdup(log_topic(pc.best));
    j->partition = log_partition_id(pc.best);
    log_topic_id(pc.best, j->topic_id);
    j->dir = xstrdup(log_path(pc.best));
    j->first_dirty = pc.best_first_dirty;
    j->uncleanable = pc.best_uncleanable;
    j->now = pc.now;
    const log_config *cfg = log_get_config(pc.best);
    j->delete_retention_ms = cfg->delete_retention_ms;
    j->segment_bytes = cfg->segment_bytes;
    j->index_interval = cfg->index_interval_bytes;
    j->load_factor = c->o.load_factor;
    j->map_memory = (size_t)SL_MIN(c->o.dedupe_buffer_size /
                                       (c->o.threads > 0 ? c->o.threads : 1),
                                   (int64_t)INT32_MAX);
    j->rfd = j->ofd = -1;
    atomic_init(&j->cancel, false);
    int n = log_segment_count(pc.best);
    j->segs = xmalloc(sizeof(*j->segs) * (size_t)n);
    for (int i = 0; i < n - 1; i++) {
        log_segment_info s;
        log_segment_get(pc.best, i, &s);
        if (s.base >= j->uncleanable)
            break;
        j->segs[j->nsegs++] = (seg_ref){s.base, s.end_offset, s.size};
    }
    ps_state tmp;
    ps_init(&tmp);
    ps_txnindex_load(j->io, &tmp, j->dir, 0, INT64_MAX);
    j->naborted = tmp.n_aborted;
    j->aborted = xmalloc(sizeof(*j->aborted) * (size_t)(tmp.n_aborted + 1));
    if (tmp.n_aborted)
        memcpy(j->aborted, tmp.aborted,
               sizeof(*j->aborted) * (size_t)tmp.n_aborted);
    ps_free(&tmp);
    load_producers(c, j);
    SL_INFO(MOD,
            "Beginning cleaning of %s-%d: dirty range [%" PRId64 ", %" PRId64
            "), offset map up to %zu bytes",
            j->topic, j->partition, j->first_dirty, j->uncleanable,
            j->map_memory);
    return j;
}
static int revalidate(log_cleaner *c, job *j, int from, int to) {
    log_partition *p = log_get(c->mgr, j->topic, j->partition);
    if (p != j->part || log_is_failed(p))
        return -1;
    uint8_t id[16];
    log_topic_id(p, id);
    if (memcmp(id, j->topic_id, 16))
        return -1;
    int n = log_segment_count(p);
    int at = -1;
    for (int i = 0; i < n - 1; i++) {
        log_segment_info s;
        log_segment_get(p, i, &s);
        if (s.base == j->segs[from].base) {
            at = i;
            break;
        }
    }
    if (at < 0 || at + (to - from) >= n)
        return -1;
    for (int k = from; k < to; k++) {
        log_segment_info s;
        log_segment_get(p, at + (k - from), &s);
        if (s.base != j->segs[k].base || s.size != j->segs[k].size)
            return -1;
    }
    return at;
}

/* The job's partition still exists (not deleted, or deleted and re-created
 * at the same address: the topic id tells) and is healthy. */
static bool part_alive(log_cleaner *c, job *j) {
    log_partition *p = log_get(c->mgr, j->topic, j->partition);
    if (p != j->part || log_is_failed(p))
        return false;
    uint8_t id[16];
    log_topic_id(p, id);
    return memcmp(id, j->topic_id, 16) == 0;
}

/* Next batch of the current segment: 1 (*p, *h filled; valid until the
 * next call), 0 at the end of the segment, -1 on error. */

/* ---- workers -----------------------------------------------------------
 */
static int64_t mono_ns(void) {
    /* the real clock even when tests install a manual one: the throttle
     * sleeps for real (never under an inline executor, whose simulated
     * clock stands still during a pass) */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void notify_loop(log_cleaner *c) {
    if (c->notify)
        c->notify(c->notify_ctx);
}

/* A pass, as a task on the cleaner's executor (submitted by the loop once
 * the worker slot's job is queued). A pass queued when the cleaner stops is
 * left queued (log_cleaner_free frees it). */
static void worker_run(void *arg) {
    log_cl_worker *w = arg;
    log_cleaner *c = w->c;
    pthread_mutex_lock(&c->mu);
    job *j = w->job;
    if (c->stop || !j || j->state != JOB_QUEUED) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    j->state = JOB_RUNNING;
    pthread_mutex_unlock(&c->mu);
    const char *why = NULL;
    bool ok = log_cl_run_job(j, &why);
    pthread_mutex_lock(&c->mu);
    j->state = ok ? JOB_DONE : JOB_FAILED;
    j->why = why;
    c->events = true;
    pthread_cond_broadcast(&c->cv_loop);
    pthread_mutex_unlock(&c->mu);
    notify_loop(c);
}

/* Inline passes run on the loop itself: they cannot wait for the loop
 * (swaps, throttle sleeps of a clock that only the simulator moves). */
static bool inline_passes(const log_cleaner *c) {
    return c->exec && c->exec->is_inline;
}

static void free_idx(log_seg_index *x) {
    if (x)
        log_seg_index_free(x);
    free(x);
}

bool log_cl_post_group(job *j, int first, int count, char *log_path,
                       char *txn_path, log_seg_index *idx) {
    log_cleaner *c = j->c;
    pthread_mutex_lock(&c->mu);
    while (!inline_passes(c) && !c->stop && !atomic_load(&j->cancel) &&
           j->nready - j->nswapped >= LOG_CL_MAX_PENDING)
        pthread_cond_wait(&c->cv_worker, &c->mu);
    if (c->stop || atomic_load(&j->cancel)) {
        pthread_mutex_unlock(&c->mu);
        log_cl_drop_group(j->io, j->dir, j->segs[first].base, log_path,
                          txn_path);
        free(log_path);
        free(txn_path);
        free_idx(idx);
        return false;
    }
    if (j->nready == j->cap_ready) {
        j->cap_ready = j->cap_ready ? j->cap_ready * 2 : 8;
        j->ready = xrealloc(j->ready, sizeof(*j->ready) * (size_t)j->cap_ready);
    }
    j->ready[j->nready++] =
        (ready_group){first, count, log_path, txn_path, idx};
    c->events = true;
    pthread_cond_broadcast(&c->cv_loop);
    pthread_mutex_unlock(&c->mu);
    notify_loop(c);
    return true;
}

void log_cl_throttle(log_cleaner *c, job *j, int64_t bytes) {
    if (inline_passes(c))
        return;
    pthread_mutex_lock(&c->thr_mu);
    double rate = c->thr_rate;
    if (!(rate > 0 && rate < 1e300)) {
        pthread_mutex_unlock(&c->thr_mu);
        return;
    }
    int64_t now = mono_ns();
    int64_t elapsed = now - c->thr_start_ns, sleep_ns = 0;
    /* a new window once the old one is long and not in debt: idle time
     * long ago must not buy a burst now */
    if (c->thr_start_ns == 0 ||
        (elapsed > THROTTLE_WINDOW_NS &&
         (double)c->thr_bytes * 1e9 / rate <= (double)elapsed)) {
        c->thr_start_ns = now;
        c->thr_bytes = 0;
        elapsed = 0;
    }
    c->thr_bytes += bytes;
    double need = (double)c->thr_bytes * 1e9 / rate;
    /* every worker's bytes count in the same window, so all of them
     * together stay under the rate */
    if (need > (double)elapsed + THROTTLE_SLACK_NS)
        sleep_ns = (int64_t)(need - (double)elapsed);
    pthread_mutex_unlock(&c->thr_mu);
    while (sleep_ns > 0 && !atomic_load(&j->cancel)) {
        int64_t s = SL_MIN(sleep_ns, 50000000LL);
        struct timespec ts = {(time_t)(s / 1000000000LL),
                              (long)(s % 1000000000LL)};
        nanosleep(&ts, NULL);
        sleep_ns -= s;
    }
}

static void stop_workers(log_cleaner *c) {
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    for (int i = 0; i < c->nw; i++)
        if (c->w[i].job)
            atomic_store(&c->w[i].job->cancel, true);
    pthread_cond_broadcast(&c->cv_worker);
    pthread_mutex_unlock(&c->mu);
    sl_exec_free(c->exec); /* the running passes end (cancelled) */
    c->exec = NULL;
    pthread_mutex_lock(&c->mu);
    c->stop = false;
    pthread_mutex_unlock(&c->mu);
}

static void start_workers(log_cleaner *c, int n) {
    c->w = xrealloc(c->w, sizeof(*c->w) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
        memset(&c->w[i], 0, sizeof c->w[i]);
        c->w[i].c = c;
    }
    c->nw = n;
    /* The environment's executor (made in the env current now: the
     * node's loop, or the caller of log_cleaner_new) */
    c->exec = n > 0 ? sl_exec_new("cleaner", n) : NULL;
}

static bool any_job(const log_cleaner *c) {
    for (int i = 0; i < c->nw; i++)
        if (c->w[i].job)
            return true;
    return false;
}

/* log.cleaner.threads changed (dynamic config): restart the workers once
 * no pass runs (Kafka also restarts its cleaner threads). */
static void resize_workers(log_cleaner *c) {
    int want = c->o.threads > 0 ? c->o.threads : 0;
    if (want == c->nw || any_job(c))
        return;
    if (c->nw)
        stop_workers(c);
    start_workers(c, want);
}

/* ---- job lifecycle (loop) ------------------------------------------------
 */
static void job_free(job *j) {
    for (int i = j->nswapped; i < j->nready; i++) {
        /* written, never swapped: drop */
        log_cl_drop_group(j->io, j->dir, j->segs[j->ready[i].first].base,
                          j->ready[i].log_path, j->ready[i].txn_path);
        free(j->ready[i].log_path);
        free(j->ready[i].txn_path);
        free_idx(j->ready[i].idx);
    }
    free(j->ready);
    free(j->aborted);
    free(j->plast);
    free(j->segs);
    free(j->topic);
    free(j->dir);
    free(j);
}

static void cancel_job(job *j, const char *why) {
    if (atomic_load(&j->cancel))
        return;
    j->loop_why = why;
    /* under mu: a worker checks the flag under it before it waits */
    pthread_mutex_lock(&j->c->mu);
    atomic_store(&j->cancel, true);
    pthread_cond_broadcast(&j->c->cv_worker);
    pthread_mutex_unlock(&j->c->mu);
}

/* Swaps one group the worker wrote into the live log, if the log still has
 * exactly the segments the group was made of (invariant 4). */
static bool swap_group(log_cleaner *c, job *j, const ready_group *g) {
    int at = revalidate(c, j, g->first, g->first + g->count);
    if (at < 0)
        return false;
    int16_t e = log_replace_segments(j->part, at, g->count, g->log_path,
                                     g->txn_path, g->idx);
    if (e != KERR_NONE)
        return false;
    c->st.segments_swapped++;
    return true;
}

static void merge_stats(log_cleaner *c, const job *j) {
    c->st.bytes_read += j->st.bytes_read;
    c->st.bytes_written += j->st.bytes_written;
    c->st.records_removed += j->st.records_removed;
    c->st.map_passes_full += j->st.map_passes_full;
    c->st.map_bytes = j->st.map_bytes;
    if (j->st.map_max_bytes > c->st.map_max_bytes)
        c->st.map_max_bytes = j->st.map_max_bytes;
}

/* Loop: swaps the groups worker w posted, cancels its job if the partition
 * went away, and reaps the job once the worker is done. */
static void process_worker(log_cleaner *c, log_cl_worker *w) {
    job *j = w->job;
    if (!j)
        return;
    if (!atomic_load(&j->cancel) && !part_alive(c, j))
        cancel_job(j, "the partition was deleted or failed");
    pthread_mutex_lock(&c->mu);
    int state = j->state, nready = j->nready;
    pthread_mutex_unlock(&c->mu);
    while (j->nswapped < nready) {
        pthread_mutex_lock(&c->mu);
        ready_group g = j->ready[j->nswapped];
        pthread_mutex_unlock(&c->mu);
        bool ok = false;
        if (!atomic_load(&j->cancel) && !j->swap_failed) {
            int64_t t0 = mono_ns();
            ok = swap_group(c, j, &g);
            int64_t us = (mono_ns() - t0) / 1000;
            if (us > c->st.swap_us_max)
                c->st.swap_us_max = us;
            SL_DEBUG(MOD,
                     "swapped %d segment(s) of %s-%d at %" PRId64 " in %" PRId64
                     " us",
                     g.count, j->topic, j->partition, j->segs[g.first].base,
                     us);
            if (!ok) {
                j->swap_failed = true;
                cancel_job(j, "the log changed under the pass (retention, "
                              "DeleteRecords, truncation) or the swap failed");
            }
        }
        if (!ok) /* a failed log_cleaner_swap_in leaves nothing else (or
                    poisons) */
            log_cl_drop_group(c->io, j->dir, j->segs[g.first].base, g.log_path,
                              g.txn_path);
        free(g.log_path);
        free(g.txn_path);
        free_idx(g.idx);
        pthread_mutex_lock(&c->mu);
        j->ready[j->nswapped].log_path = j->ready[j->nswapped].txn_path = NULL;
        j->ready[j->nswapped].idx = NULL;
        j->nswapped++;
        pthread_cond_broadcast(&c->cv_worker);
        pthread_mutex_unlock(&c->mu);
    }
    if (state != JOB_DONE && state != JOB_FAILED)
        return;
    pthread_mutex_lock(&c->mu);
    w->job = NULL;
    pthread_mutex_unlock(&c->mu);
    merge_stats(c, j);
    if (state == JOB_DONE && !atomic_load(&j->cancel) && !j->swap_failed) {
        ck_set(c, j->topic, j->partition, j->map_end);
        ck_write(c);
        c->st.passes++;
        SL_INFO(MOD,
                "Cleaned %s-%d up to offset %" PRId64 " (%s); %" PRId64
                " records removed so far",
                j->topic, j->partition, j->map_end,
                j->map_full ? "offset map full, more passes follow" : "done",
                c->st.records_removed);
    } else {
        SL_INFO(MOD, "Cleaning of %s-%d aborted: %s", j->topic, j->partition,
                j->loop_why ? j->loop_why
                : j->why    ? j->why
                            : "cancelled");
        c->st.aborted_passes++;
    }
    bool failed =
        state != JOB_DONE || atomic_load(&j->cancel) || j->swap_failed;
    job_free(j);
    /* a worker is free: look for more work now (Kafka's cleaner thread
     * goes on at once after a pass); after a failure wait the backoff, so
     * a log that cannot be cleaned is not retried in a tight loop */
    c->next_pick_ns = failed ? clk_mono_ns() + c->o.backoff_ms * 1000000LL : 0;
}

/* ---- public API ----------------------------------------------------------
 */
log_cleaner *log_cleaner_new(log_manager *mgr, const log_cleaner_opts *o) {
    log_cleaner *c = xcalloc(1, sizeof(*c));
    c->mgr = mgr;
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->thr_mu, NULL);
    pthread_cond_init(&c->cv_worker, NULL);
    pthread_cond_init(&c->cv_loop, NULL);
    log_cleaner_set_opts(c, o);
    c->io = c->o.io ? c->o.io : &log_io_posix;
    c->notify = c->o.notify;
    c->notify_ctx = c->o.notify_ctx;
    for (int d = 0; d < log_manager_n_dirs(mgr); d++)
        ck_load(c, log_manager_dir(mgr, d));
    resize_workers(c);
    return c;
}

void log_cleaner_set_opts(log_cleaner *c, const log_cleaner_opts *o) {
    if (o)
        c->o = *o;
    else
        log_cleaner_opts_default(&c->o);
    if (c->o.threads > 64)
        c->o.threads = 64;
    pthread_mutex_lock(&c->thr_mu);
    c->thr_rate = c->o.io_max_bytes_per_second;
    pthread_mutex_unlock(&c->thr_mu);
}

void log_cleaner_free(log_cleaner *c) {
    if (!c)
        return;
    stop_workers(c); /* cancels every pass; workers drop unposted files */
    for (int i = 0; i < c->nw; i++)
        if (c->w[i].job) {
            job_free(c->w[i].job); /* drops posted, unswapped groups */
            c->w[i].job = NULL;
        }
    ck_write(c);
    for (int i = 0; i < c->nck; i++)
        free(c->ck[i].topic);
    free(c->ck);
    free(c->w);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->thr_mu);
    pthread_cond_destroy(&c->cv_worker);
    pthread_cond_destroy(&c->cv_loop);
    free(c);
}

bool log_cleaner_busy(const log_cleaner *c) {
    return any_job(c);
}

void log_cleaner_get_stats(const log_cleaner *c, log_cleaner_stats *out) {
    *out = c->st;
    out->threads = c->nw;
    out->running_passes = 0;
    for (int i = 0; i < c->nw; i++)
        out->running_passes += c->w[i].job != NULL;
}

int64_t log_cleaner_checkpoint_of(const log_cleaner *c,
                                  const log_partition *part) {
    ckpt_ent *e = ck_find(c, log_topic(part), log_partition_id(part));
    return e ? e->offset : -1;
}

int64_t log_cleaner_step(log_cleaner *c) {
    pthread_mutex_lock(&c->mu);
    c->events = false;
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < c->nw; i++)
        process_worker(c, &c->w[i]);
    resize_workers(c);
    if (c->o.threads <= 0 || c->nw == 0)
        return c->o.backoff_ms > 0 ? c->o.backoff_ms : POLL_MS;
    int64_t now = clk_mono_ns();
    if (now >= c->next_pick_ns) {
        for (int i = 0; i < c->nw; i++) {
            if (c->w[i].job)
                continue;
            job *j = start_job(c);
            if (!j) {
                c->next_pick_ns = now + c->o.backoff_ms * 1000000LL;
                break;
            }
            pthread_mutex_lock(&c->mu);
            j->state = JOB_QUEUED;
            c->w[i].job = j;
            pthread_mutex_unlock(&c->mu);
            sl_exec_submit(c->exec, worker_run, &c->w[i]);
        }
    }
    if (any_job(c))
        return POLL_MS;
    int64_t wait_ms = (c->next_pick_ns - now) / 1000000LL;
    return wait_ms > 0 ? wait_ms : 0;
}

bool log_cleaner_wait(log_cleaner *c, int64_t timeout_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (timeout_ms % 1000) * 1000000LL;
    ts.tv_sec += (time_t)(timeout_ms / 1000 + ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    pthread_mutex_lock(&c->mu);
    while (!c->events)
        if (pthread_cond_timedwait(&c->cv_loop, &c->mu, &ts) != 0)
            break;
    bool ev = c->events;
    pthread_mutex_unlock(&c->mu);
    return ev;
}

int log_cleaner_run_until_idle(log_cleaner *c) {
    int64_t before = c->st.passes, aborted0 = c->st.aborted_passes;
    c->next_pick_ns = 0; /* ignore the backoff: look now */
    for (;;) {
        bool had = any_job(c);
        log_cleaner_step(c);
        if (!had && !any_job(c))
            break; /* nothing cleanable */
        if (c->st.aborted_passes - aborted0 > 3)
            break; /* failing repeatedly: let the caller see it */
        if (any_job(c))
            log_cleaner_wait(c, POLL_MS);
        else
            c->next_pick_ns = 0;
    }
    return (int)(c->st.passes - before);
}
