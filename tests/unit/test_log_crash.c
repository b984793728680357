/* Crash tests of the partition log on the crash file system
 * (tests/sim/crashfs.h): a seeded workload (appends, synchronous and
 * asynchronous flushes, checkpoints, producer snapshots, truncations,
 * DeleteRecords, clean restarts)
 * runs until a power cut at a seeded operation; the crash drops, keeps or
 * tears every unsynced write and reverts or keeps every unsynced namespace
 * operation; then the log is reopened (recovery) and checked:
 *  - every offset acknowledged as flushed (below the recovery point after a
 *    completed flush) and not deleted or truncated since is there with
 *    identical bytes; truncated data never comes back once data after the
 *    truncation point was flushed;
 *  - the log is a valid prefix of what was appended: dense offsets, every
 *    batch identical to the one appended at its offset, LEO the end of the
 *    last batch, offset and time index lookups agreeing with the data;
 *  - the recovery-point checkpoint never points past the recovered data,
 *    nor does a producer snapshot the loader accepts;
 *  - the recovered log takes appends and survives a clean restart.
 * Each failing seed prints itself: SLUICE_CRASH_SEED=<seed> build/test_unit
 * log_crash replays just that one. */
#include <errno.h>
#include <stdlib.h>

#include "../sim/crashfs.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/util.h"
#include "log/batch.h"
#include "log/cleaner.h"
#include "log/flush.h"
#include "log/log.h"
#include "log/producer_state.h"
#include "proto/errors.h"
#include "test.h"

#define NSEEDS 200
#define STEPS 120
#define DATA "/data"
#define PDIR DATA "/t-0"
#define TS0 1700000000000LL

static const uint8_t TOPIC_ID[16] = {9, 8, 7, 6, 5, 4, 3, 2,
                                     1, 2, 3, 4, 5, 6, 7, 8};

typedef struct mbatch {
    int64_t base, last, ts;
    bool failed;       /* its append failed after the write: may be there */
    int64_t trunc_off; /* truncated away (log_truncate_to that offset): may
                          be there while nothing after it was flushed;
                          -1 if not */
    uint8_t *bytes;
    size_t len;
} mbatch;

typedef struct model {
    mbatch *v;
    int n, cap;
    int64_t acked; /* every offset below was fsynced, as the log said */
    int64_t start; /* the log start offset last set (DeleteRecords) */
} model;

static void model_free(model *m) {
    for (int i = 0; i < m->n; i++)
        free(m->v[i].bytes);
    free(m->v);
    memset(m, 0, sizeof(*m));
}

/* A failure of one seed, with its replay line. */
static bool seed_ok;
static uint64_t cur_seed;
#define SCHECK(cond, ...)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            char _m[256];                                                      \
            snprintf(_m, sizeof _m, __VA_ARGS__);                              \
            test_fail(__FILE__, __LINE__,                                      \
                      "seed %llu: %s: %s (replay: SLUICE_CRASH_SEED=%llu "     \
                      "build/test_unit log_crash)",                            \
                      (unsigned long long)cur_seed, #cond, _m,                 \
                      (unsigned long long)cur_seed);                           \
            seed_ok = false;                                                   \
        }                                                                      \
    } while (0)

static log_config crash_cfg(rng *r) {
    log_config c;
    log_config_default(&c);
    c.segment_bytes = 2048 + (int32_t)rng_below(r, 4096); /* many rolls */
    c.index_interval_bytes = 256;
    c.segment_index_bytes = 1024;
    c.timestamp_after_max_ms = INT64_MAX;
    c.retention_ms = -1;
    /* flush.messages: never, or often (asynchronous flushes become due) */
    c.flush_messages =
        rng_below(r, 2) ? INT64_MAX : 1 + (int64_t)rng_below(r, 20);
    return c;
}

static log_manager *open_on(crashfs *fs, const log_config *cfg) {
    const char *dirs[1] = {DATA};
    log_manager_opts o = {0};
    o.log_dirs = dirs;
    o.n_log_dirs = 1;
    o.io = crashfs_io(fs);
    o.default_config = cfg;
    int16_t err;
    return log_manager_open(&o, &err);
}

static void make_batch(buf *out, rng *r, int64_t ts) {
    batch_builder b;
    batch_builder_init(&b, 0, 0);
    int n = 1 + (int)rng_below(r, 8);
    char v[700];
    for (int i = 0; i < n; i++) {
        int vl = 16 + (int)rng_below(r, 600);
        for (int k = 0; k < vl; k++)
            v[k] = (char)('a' + rng_below(r, 26));
        batch_builder_add(&b, ts, "k", 1, v, vl, NULL, 0);
    }
    batch_builder_finish(&b, out);
    batch_builder_free(&b);
}

static uint8_t *memdup(const void *p, size_t n) {
    uint8_t *q = xmalloc(n);
    memcpy(q, p, n);
    return q;
}

/* Records an appended (or attempted: failed) batch, offsets from base. */
static void model_add(model *m, int64_t base, const buf *b, int64_t ts,
                      bool failed) {
    log_batch_header h;
    batch_parse_header(b->data, b->len, &h);
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->v = xrealloc(m->v, sizeof(*m->v) * (size_t)m->cap);
    }
    m->v[m->n++] = (mbatch){.base = base,
                            .last = base + h.last_offset_delta,
                            .ts = ts,
                            .failed = failed,
                            .trunc_off = -1,
                            .bytes = memdup(b->data, b->len),
                            .len = b->len};
}

static void note_acked(model *m, log_partition *p) {
    if (!log_is_failed(p) && log_recovery_point(p) > m->acked)
        m->acked = log_recovery_point(p);
    if (getenv("SLUICE_CRASH_TRACE"))
        printf("    flushed: acknowledged %lld, LEO %lld, %d segments\n",
               (long long)m->acked, (long long)log_end_offset(p),
               log_segment_count(p));
}

/* The workload of seed: deterministic. Stops at the first I/O error (the
 * power cut, if one was set). Leaves the manager abandoned (a crash). */
static void workload(crashfs *fs, uint64_t seed, model *m) {
    rng r;
    rng_seed(&r, seed);
    log_config cfg = crash_cfg(&r);
    const log_io *io = crashfs_io(fs);
    log_manager *mgr = open_on(fs, &cfg);
    if (!mgr)
        return;
    int16_t err;
    log_partition *p = log_create(mgr, "t", 0, TOPIC_ID, &cfg, &err);
    ps_state ps;
    ps_init(&ps);
    for (int step = 0; p && step < STEPS && !log_is_failed(p); step++) {
        uint64_t c = rng_below(&r, 24);
        if (c < 12) { /* append */
            buf b;
            buf_init(&b, 0);
            int64_t ts = TS0 + step;
            make_batch(&b, &r, ts);
            log_append_info info;
            int64_t leo = log_end_offset(p);
            int16_t e =
                log_append(p, b.data, b.len, 1, LOG_ORIGIN_CLIENT, &info);
            if (e == KERR_NONE || e == KERR_KAFKA_STORAGE_ERROR) {
                /* a failed append (the power cut) may still have reached
                 * the disk: its bytes, offsets assigned in place, are
                 * allowed but not required */
                model_add(m, leo, &b, ts, e != KERR_NONE);
                log_set_high_watermark(p, log_end_offset(p));
            }
            buf_free(&b);
            if (log_flush_is_due(p) || rng_below(&r, 4) == 0) {
                /* the broker's before-sleep hook */
                log_manager_flush_reap(mgr);
                if (log_manager_flush_pending(mgr))
                    log_manager_flush_begin(mgr);
                log_manager_flush_wait(mgr);
                note_acked(m, p);
            }
        } else if (c < 15) { /* synchronous flush (log_manager_flush_dirty) */
            if (log_flush(p) == KERR_NONE)
                note_acked(m, p);
        } else if (c < 17) {
            log_manager_checkpoint(mgr);
        } else if (c < 19) { /* producer snapshot at LEO, as at a roll */
            ps_snapshot_write(io, &ps, PDIR, log_end_offset(p));
            ps_snapshot_clean(io, PDIR, 2, log_end_offset(p));
        } else if (c < 21 && m->n) { /* truncation (follower divergence) */
            int k = m->n - 1 - (int)rng_below(&r, (uint64_t)SL_MIN(m->n, 6));
            int64_t off = m->v[k].base;
            if (getenv("SLUICE_CRASH_TRACE"))
                printf("    truncate to %lld (LEO %lld)\n", (long long)off,
                       (long long)log_end_offset(p));
            /* a truncation that failed half-way (the power cut) removed
             * what it removed: data above off is not acknowledged either */
            if (off >= log_start_offset(p) && m->v[k].trunc_off < 0) {
                log_truncate_to(p, off);
                for (int i = 0; i < m->n; i++)
                    if (m->v[i].base >= off && m->v[i].trunc_off < 0)
                        m->v[i].trunc_off = off;
                if (m->acked > off)
                    m->acked = off;
            }
        } else if (c < 23 && m->n) { /* DeleteRecords */
            int64_t off = m->v[rng_below(&r, (uint64_t)m->n)].base, ls;
            if (getenv("SLUICE_CRASH_TRACE"))
                printf("    delete records to %lld\n", (long long)off);
            /* one that failed half-way (the power cut) may have moved the
             * log start durably too: what is below off may go either way */
            if (off > m->start && off <= log_high_watermark(p)) {
                if (log_delete_records(p, off, &ls) != KERR_NONE)
                    ls = off;
                m->start = ls;
            }
        } else if (c == 23) { /* clean restart */
            log_manager_close(mgr);
            mgr = open_on(fs, &cfg);
            p = mgr ? log_get(mgr, "t", 0) : NULL;
            if (p)
                note_acked(m, p); /* a clean shutdown flushed everything */
        }
    }
    ps_free(&ps);
    if (mgr)
        log_manager_abandon(mgr);
}

static bool is_segment_base(log_partition *p, int64_t off) {
    for (int i = 0; i < log_segment_count(p); i++) {
        log_segment_info si;
        log_segment_get(p, i, &si);
        if (si.base == off)
            return true;
    }
    return false;
}

static int holes; /* over all seeds, for the summary */

/* Whether batch i may be absent after the crash. */
static bool may_lack(const model *m, const mbatch *b) {
    return b->trunc_off >= 0 || b->last >= m->acked || b->last < m->start;
}

/* Whether batch i may be served after the crash: not truncated away, or
 * truncated but nothing after the truncation was flushed since. */
static bool may_serve(const model *m, const mbatch *b) {
    return b->trunc_off < 0 || m->acked <= b->trunc_off;
}

/* Reads the whole log back and compares it with the model: every batch
 * served is one appended at its offset (a truncated one only while nothing
 * after the truncation was flushed); every acknowledged batch at or above
 * the log start set is there; a hole (offsets missing, data after them)
 * only above the acknowledged offset and at a segment boundary - a rolled
 * segment's unflushed tail lost while the next segment's data survived,
 * which Kafka's recovery keeps too (log_int.h, invariant 7); the indexes find
 * every batch served. */
static void verify_log(log_partition *p, const model *m) {
    int64_t leo = log_end_offset(p), start = log_start_offset(p), off = start;
    SCHECK(leo >= m->acked, "LEO %lld < acknowledged %lld", (long long)leo,
           (long long)m->acked);
    SCHECK(start <= SL_MAX(m->start, m->acked),
           "log start %lld past the one set (%lld) and the acknowledged data",
           (long long)start, (long long)m->start);
    bool *present = xcalloc((size_t)m->n + 1, sizeof(bool));
    int *order = xcalloc((size_t)m->n + 1, sizeof(int));
    int norder = 0;
    int guard = 0;
    while (off < leo && guard++ < 100000 && seed_ok) {
        log_read_result rr;
        int16_t e = log_read(p, off, 1 << 20, -1, true, &rr);
        SCHECK(e == KERR_NONE && rr.len > 0, "read at %lld: error %d len %d",
               (long long)off, e, rr.len);
        if (e || rr.len <= 0) {
            log_read_release(&rr);
            break;
        }
        uint8_t *data = xmalloc((size_t)rr.len);
        ssize_t got = log_read_pread(&rr, data, (size_t)rr.len, rr.file_pos);
        SCHECK(got == rr.len, "short read at %lld", (long long)off);
        size_t pos = 0;
        int64_t before = off;
        while (got == rr.len && pos + BATCH_LOG_OVERHEAD <= (size_t)rr.len) {
            log_batch_header h;
            if (batch_validate(data + pos, (size_t)rr.len - pos, &h) != 0) {
                /* only the last batch of a read may be partial */
                SCHECK(pos > 0, "corrupt batch served at %lld", (long long)off);
                break;
            }
            bool first = off == start && norder == 0;
            if (h.base_offset != off && !(first && h.base_offset < off &&
                                          batch_last_offset(&h) >= off)) {
                SCHECK(h.base_offset > off && off >= m->acked &&
                           is_segment_base(p, h.base_offset),
                       "batch at %lld, expected %lld (acknowledged %lld)",
                       (long long)h.base_offset, (long long)off,
                       (long long)m->acked);
                holes++;
            }
            int k = -1;
            for (int i = 0; i < m->n && k < 0; i++)
                if (m->v[i].base == h.base_offset &&
                    m->v[i].len == (size_t)batch_size(&h) &&
                    !memcmp(m->v[i].bytes, data + pos, m->v[i].len))
                    k = i;
            SCHECK(k >= 0, "batch at %lld differs from those appended",
                   (long long)h.base_offset);
            if (k >= 0) {
                SCHECK(may_serve(m, &m->v[k]),
                       "batch %lld truncated at %lld is back though %lld "
                       "were flushed after it",
                       (long long)h.base_offset, (long long)m->v[k].trunc_off,
                       (long long)m->acked);
                present[k] = true;
                order[norder++] = k;
            }
            off = batch_last_offset(&h) + 1;
            pos += (size_t)batch_size(&h);
        }
        free(data);
        log_read_release(&rr);
        if (off == before)
            break;
    }
    SCHECK(off == leo, "data ends at %lld, LEO %lld", (long long)off,
           (long long)leo);
    for (int i = 0; i < m->n && seed_ok; i++)
        SCHECK(present[i] || may_lack(m, &m->v[i]),
               "acknowledged batch %lld..%lld lost (acknowledged %lld)",
               (long long)m->v[i].base, (long long)m->v[i].last,
               (long long)m->acked);
    /* the offset index finds every batch served */
    bool ts_sorted = true;
    for (int q = 0; q < norder && seed_ok; q++) {
        const mbatch *b = &m->v[order[q]];
        if (q && b->ts < m->v[order[q - 1]].ts)
            ts_sorted = false;
        int64_t mid = SL_MAX(start, b->base + (b->last - b->base) / 2);
        log_read_result rr;
        int16_t e = log_read(p, mid, 1, -1, true, &rr);
        SCHECK(e == KERR_NONE && rr.first_batch_offset == b->base,
               "offset %lld found batch %lld, expected %lld", (long long)mid,
               (long long)rr.first_batch_offset, (long long)b->base);
        log_read_release(&rr);
    }
    /* the time index: the first batch served with a timestamp >= ts
     * (when timestamps grow with the offsets, as without truncations) */
    for (int q = 0; q < norder && seed_ok && ts_sorted; q += 5) {
        const mbatch *b = &m->v[order[q]];
        int f = 0;
        while (m->v[order[f]].ts < b->ts)
            f++;
        int64_t o, t;
        int16_t e = log_offset_for_timestamp(p, b->ts, &o, &t);
        int64_t want = SL_MAX(start, m->v[order[f]].base);
        SCHECK(e == KERR_NONE && o == want,
               "timestamp %lld found offset %lld, expected %lld",
               (long long)b->ts, (long long)o, (long long)want);
    }
    free(order);
    free(present);
}

/* The recovery-point checkpoint's value for t-0, or -1. */
static int64_t ckpt_recovery_point(crashfs *fs) {
    size_t n;
    char *txt =
        (char *)crashfs_read(fs, DATA "/recovery-point-offset-checkpoint", &n);
    if (!txt)
        return -1;
    int64_t v = -1;
    char *t = strstr(txt, "\nt 0 ");
    if (t)
        v = strtoll(t + 5, NULL, 10);
    free(txt);
    return v;
}

static void run_seed(uint64_t seed) {
    cur_seed = seed;
    seed_ok = true;
    /* the workload's length, without a cut */
    crashfs *fs = crashfs_new();
    const log_io *io = crashfs_io(fs);
    io->mkdir(io->ctx, DATA, 0755);
    crashfs_sync_all(fs); /* a formatted, mounted disk */
    model m = {0};
    int64_t base_ops = crashfs_op_count(fs);
    workload(fs, seed, &m);
    int64_t total = crashfs_op_count(fs) - base_ops;
    model_free(&m);
    crashfs_free(fs);

    /* again, with the power cut at a seeded operation */
    rng r;
    rng_seed(&r, seed ^ 0x5eedc0ffeeULL);
    fs = crashfs_new();
    io = crashfs_io(fs);
    io->mkdir(io->ctx, DATA, 0755);
    crashfs_sync_all(fs);
    crashfs_cut_after(fs, (int64_t)rng_below(&r, (uint64_t)total + 1));
    workload(fs, seed, &m);
    crashfs_crash(fs, seed);
    int64_t ck = ckpt_recovery_point(fs);

    rng_seed(&r, seed);
    log_config cfg = crash_cfg(&r);
    log_manager *mgr = open_on(fs, &cfg);
    SCHECK(mgr != NULL, "reopen failed");
    log_partition *p = mgr ? log_get(mgr, "t", 0) : NULL;
    SCHECK(p || m.acked == 0, "partition lost with %lld offsets acknowledged",
           (long long)m.acked);
    if (p && getenv("SLUICE_CRASH_TRACE"))
        for (int i = 0; i < log_segment_count(p); i++) {
            log_segment_info si;
            log_segment_get(p, i, &si);
            printf("    recovered segment %lld..%lld, %lld bytes\n",
                   (long long)si.base, (long long)si.end_offset,
                   (long long)si.size);
        }
    if (p) {
        SCHECK(!log_is_failed(p), "offline after recovery");
        int64_t leo = log_end_offset(p);
        SCHECK(ck <= leo, "recovery-point checkpoint %lld past LEO %lld",
               (long long)ck, (long long)leo);
        SCHECK(log_recovery_point(p) == leo, "recovery point %lld, LEO %lld",
               (long long)log_recovery_point(p), (long long)leo);
        verify_log(p, &m);
        ps_state ps;
        ps_init(&ps);
        int64_t snap = ps_snapshot_load_latest(io, &ps, PDIR, leo);
        SCHECK(snap <= leo, "snapshot %lld past LEO %lld", (long long)snap,
               (long long)leo);
        ps_free(&ps);
        /* the recovered log takes appends and restarts cleanly */
        buf b;
        buf_init(&b, 0);
        batch_builder bb;
        batch_builder_init(&bb, 0, 0);
        batch_builder_add(&bb, TS0 + STEPS, "k", 1, "after", 5, NULL, 0);
        batch_builder_finish(&bb, &b);
        batch_builder_free(&bb);
        log_append_info info;
        SCHECK(log_append(p, b.data, b.len, 2, LOG_ORIGIN_CLIENT, &info) ==
                       KERR_NONE &&
                   info.base_offset == leo,
               "append after recovery at %lld", (long long)info.base_offset);
        buf_free(&b);
        log_manager_close(mgr);
        mgr = open_on(fs, &cfg);
        p = mgr ? log_get(mgr, "t", 0) : NULL;
        SCHECK(p && log_end_offset(p) == info.last_offset + 1,
               "clean restart lost the append");
    }
    log_manager_close(mgr);
    SCHECK(crashfs_open_fds(fs) == 0, "%d fds left open", crashfs_open_fds(fs));
    model_free(&m);
    crashfs_free(fs);
}

TEST(log_crash_recovery_keeps_acknowledged_prefix) {
    const char *one = getenv("SLUICE_CRASH_SEED");
    if (one) {
        run_seed(strtoull(one, NULL, 0));
        return;
    }
    uint64_t base = test_seed() % 1000000000ULL;
    int bad = 0;
    for (uint64_t i = 0; i < NSEEDS && bad < 5; i++) {
        run_seed(base + i);
        bad += !seed_ok;
    }
    printf("  %d crash seeds from %llu, %d failed; %d hole(s) above the "
           "acknowledged offset\n",
           NSEEDS, (unsigned long long)base, bad, holes);
}

/* ---- a crash during compaction ---------------------------------------------
 * A compacted partition, fully flushed; the cleaner (one worker, crashfs
 * io) runs with the power cut at a seeded operation of its pass - the
 * worker's writes and fsyncs, the loop's swap renames and directory fsyncs,
 * the .swapend; after the crash, recovery (log_cleaner_recover_dir) must
 * leave every record the log serves equal to the one appended at its
 * offset, in order, with the newest value of every key, and LEO unchanged;
 * and a later pass completes. The worker thread interleaves with the loop,
 * so a replayed seed cuts at the same operation count, not necessarily at
 * the same operation. */
#define CKEYS 48
#define CROUNDS 6

typedef struct crec {
    int key, ver; /* -1: not appended at that offset */
} crec;

static log_config compact_crash_cfg(void) {
    log_config c;
    log_config_default(&c);
    c.cleanup_policy = LOG_CLEANUP_COMPACT;
    c.segment_bytes = 1024;
    c.index_interval_bytes = 256;
    c.segment_index_bytes = 1024;
    c.min_cleanable_dirty_ratio = 0.0;
    c.timestamp_after_max_ms = INT64_MAX;
    c.timestamp_before_max_ms = INT64_MAX;
    return c;
}

static void put_keys(log_partition *p, int key, int ver, crec *recs, int cap) {
    batch_builder b;
    batch_builder_init(&b, 0, 0);
    for (int i = 0; i < 4; i++) {
        char k[16], v[32];
        int kl = snprintf(k, sizeof k, "k%d", key + i);
        int vl = snprintf(v, sizeof v, "v%d-%d", key + i, ver);
        batch_builder_add(&b, TS0, k, kl, v, vl, NULL, 0);
    }
    buf out;
    buf_init(&out, 0);
    batch_builder_finish(&b, &out);
    log_append_info ai;
    if (log_append(p, out.data, out.len, 0, LOG_ORIGIN_CLIENT, &ai) ==
        KERR_NONE) {
        for (int i = 0; i < 4 && ai.base_offset + i < cap; i++)
            recs[ai.base_offset + i] = (crec){key + i, ver};
        log_set_high_watermark(p, log_end_offset(p));
    }
    buf_free(&out);
    batch_builder_free(&b);
}

/* A flushed compacted partition on a fresh fs; returns its LEO. */
static int64_t compact_setup(crashfs *fs, crec *recs, int cap) {
    const log_io *io = crashfs_io(fs);
    io->mkdir(io->ctx, DATA, 0755);
    crashfs_sync_all(fs);
    log_config cfg = compact_crash_cfg();
    log_manager *mgr = open_on(fs, &cfg);
    int16_t err;
    log_partition *p = log_create(mgr, "c", 0, TOPIC_ID, &cfg, &err);
    for (int v = 0; v < CROUNDS; v++)
        for (int k = 0; k < CKEYS; k += 4)
            put_keys(p, k, v, recs, cap);
    for (int k = 1000; k < 1000 + CKEYS; k += 4) /* push them out of active */
        put_keys(p, k, 0, recs, cap);
    int64_t leo = log_end_offset(p);
    log_manager_close(mgr); /* flushed, checkpointed, marker */
    return leo;
}

static log_cleaner *crash_cleaner_on(log_manager *mgr, crashfs *fs) {
    log_cleaner_opts o;
    log_cleaner_opts_default(&o);
    o.backoff_ms = 0;
    o.dedupe_buffer_size = 1 << 20;
    o.threads = 1;
    o.io = crashfs_io(fs);
    return log_cleaner_new(mgr, &o);
}

/* Reads every record of c-0 and checks it against recs. */
static void verify_compacted(log_partition *p, const crec *recs, int cap,
                             int64_t leo) {
    SCHECK(log_end_offset(p) == leo, "LEO %lld, was %lld",
           (long long)log_end_offset(p), (long long)leo);
    int latest_seen[1000 + CKEYS];
    memset(latest_seen, -1, sizeof latest_seen);
    int64_t off = log_start_offset(p), prev = -1;
    while (off < log_end_offset(p) && seed_ok) {
        log_read_result rr;
        int16_t e = log_read(p, off, 1 << 20, -1, true, &rr);
        SCHECK(e == KERR_NONE, "read at %lld: error %d", (long long)off, e);
        if (e || rr.len <= 0) {
            log_read_release(&rr);
            break;
        }
        uint8_t *data = xmalloc((size_t)rr.len);
        ssize_t got = log_read_pread(&rr, data, (size_t)rr.len, rr.file_pos);
        log_read_release(&rr);
        size_t pos = 0;
        int64_t before = off;
        while (got > 0 && pos + BATCH_HEADER_SIZE <= (size_t)got && seed_ok) {
            log_batch_header h;
            if (batch_validate_stored(data + pos, (size_t)got - pos, &h) != 0) {
                SCHECK(pos > 0, "corrupt batch served at %lld", (long long)off);
                break;
            }
            batch_iter it;
            batch_iter_init(&it, &h, data + pos + BATCH_HEADER_SIZE,
                            (size_t)batch_size(&h) - BATCH_HEADER_SIZE);
            log_record r;
            while (batch_iter_next(&it, &r) == 1 && seed_ok) {
                SCHECK(r.offset > prev, "offset %lld after %lld",
                       (long long)r.offset, (long long)prev);
                prev = r.offset;
                int key = -1, ver = -1, kk = -1;
                char kv[64];
                snprintf(kv, sizeof kv, "%.*s|%.*s", r.key_len,
                         (const char *)r.key, r.value_len,
                         (const char *)r.value);
                SCHECK(sscanf(kv, "k%d|v%d-%d", &key, &kk, &ver) == 3 &&
                           r.offset < cap && recs[r.offset].key == key &&
                           recs[r.offset].ver == ver && kk == key,
                       "record at %lld is %s", (long long)r.offset, kv);
                if (key >= 0 && key < 1000 + CKEYS && ver > latest_seen[key])
                    latest_seen[key] = ver;
            }
            off = batch_last_offset(&h) + 1;
            pos += (size_t)batch_size(&h);
        }
        free(data);
        if (off == before)
            break;
    }
    for (int k = 0; k < CKEYS && seed_ok; k++)
        SCHECK(latest_seen[k] == CROUNDS - 1, "key k%d: newest value %d", k,
               latest_seen[k]);
}

static void run_compaction_seed(uint64_t seed, int64_t total) {
    cur_seed = seed;
    seed_ok = true;
    enum { CAP = 4096 };
    crec *recs = xmalloc(sizeof(*recs) * CAP);
    memset(recs, -1, sizeof(*recs) * CAP);
    crashfs *fs = crashfs_new();
    int64_t leo = compact_setup(fs, recs, CAP);
    log_config cfg = compact_crash_cfg();
    log_manager *mgr = open_on(fs, &cfg);
    rng r;
    rng_seed(&r, seed);
    crashfs_cut_after(fs, (int64_t)rng_below(&r, (uint64_t)total + 1));
    log_cleaner *c = crash_cleaner_on(mgr, fs);
    log_cleaner_run_until_idle(c);
    log_cleaner_free(c);
    log_manager_abandon(mgr);
    crashfs_crash(fs, seed);
    mgr = open_on(fs, &cfg);
    SCHECK(mgr != NULL, "reopen failed");
    log_partition *p = mgr ? log_get(mgr, "c", 0) : NULL;
    SCHECK(p != NULL, "partition lost");
    if (p) {
        SCHECK(!log_is_failed(p), "offline after recovery");
        verify_compacted(p, recs, CAP, leo);
        /* a pass after the crash completes, and the log is still right */
        c = crash_cleaner_on(mgr, fs);
        log_cleaner_run_until_idle(c);
        log_cleaner_stats st;
        log_cleaner_get_stats(c, &st);
        SCHECK(st.aborted_passes == 0, "%lld passes aborted after recovery",
               (long long)st.aborted_passes);
        log_cleaner_free(c);
        verify_compacted(p, recs, CAP, leo);
    }
    log_manager_close(mgr);
    free(recs);
    crashfs_free(fs);
}

TEST(log_crash_during_compaction_loses_nothing) {
    /* the pass's length, without a cut */
    enum { CAP = 4096 };
    crec *recs = xmalloc(sizeof(*recs) * CAP);
    memset(recs, -1, sizeof(*recs) * CAP);
    crashfs *fs = crashfs_new();
    int64_t leo = compact_setup(fs, recs, CAP);
    log_config cfg = compact_crash_cfg();
    log_manager *mgr = open_on(fs, &cfg);
    int64_t before = crashfs_op_count(fs);
    log_cleaner *c = crash_cleaner_on(mgr, fs);
    CHECK(log_cleaner_run_until_idle(c) >= 1);
    log_cleaner_stats st;
    log_cleaner_get_stats(c, &st);
    log_cleaner_free(c);
    int64_t total = crashfs_op_count(fs) - before;
    CHECK(st.segments_swapped >= 1);
    cur_seed = 0;
    seed_ok = true;
    verify_compacted(log_get(mgr, "c", 0), recs, CAP, leo);
    log_manager_close(mgr);
    crashfs_free(fs);
    free(recs);
    const char *one = getenv("SLUICE_CRASH_SEED");
    if (one) {
        run_compaction_seed(strtoull(one, NULL, 0), total);
        return;
    }
    uint64_t base = test_seed() % 1000000000ULL;
    int bad = 0, n = 100;
    for (int i = 0; i < n && bad < 3; i++) {
        run_compaction_seed(base + (uint64_t)i, total);
        bad += !seed_ok;
    }
    printf("  compaction: %lld operations per pass, %lld group(s) swapped; %d "
           "crash seeds from %llu, %d failed\n",
           (long long)total, (long long)st.segments_swapped, n,
           (unsigned long long)base, bad);
}

/* A failed fsync or write poisons the partition: appends, reads and flushes
 * answer KAFKA_STORAGE_ERROR from then on (never retried), and after a
 * restart the acknowledged data is intact. Each fault kind the append and
 * flush paths meet: write (EIO, ENOSPC), fsync, directory fsync. */
TEST(log_crash_io_errors_poison_the_partition) {
    static const struct {
        crashfs_op op;
        int err;
        bool on_flush; /* else on append */
    } faults[] = {
        {CRASHFS_OP_WRITE, EIO, false},
        {CRASHFS_OP_WRITE, ENOSPC, false},
        {CRASHFS_OP_FSYNC, EIO, true},
        {CRASHFS_OP_FSYNC_DIR, EIO, true},
    };
    for (size_t f = 0; f < SL_ARRAY_LEN(faults); f++) {
        cur_seed = f;
        seed_ok = true;
        crashfs *fs = crashfs_new();
        const log_io *io = crashfs_io(fs);
        io->mkdir(io->ctx, DATA, 0755);
        crashfs_sync_all(fs);
        rng r;
        rng_seed(&r, f);
        log_config cfg = crash_cfg(&r);
        cfg.flush_messages = INT64_MAX;
        log_manager *mgr = open_on(fs, &cfg);
        int16_t err;
        log_partition *p = log_create(mgr, "t", 0, TOPIC_ID, &cfg, &err);
        model m = {0};
        buf b;
        for (int i = 0; i < 3; i++) {
            buf_init(&b, 0);
            make_batch(&b, &r, TS0);
            log_append_info info;
            if (log_append(p, b.data, b.len, 1, LOG_ORIGIN_CLIENT, &info) == 0)
                model_add(&m, info.base_offset, &b, TS0, false);
            buf_free(&b);
        }
        CHECK_EQ(log_flush(p), KERR_NONE); /* new partition: dirs synced */
        m.acked = log_end_offset(p);
        int16_t e;
        buf_init(&b, 0);
        make_batch(&b, &r, TS0);
        log_append_info info;
        int64_t leo = log_end_offset(p);
        if (faults[f].on_flush) {
            CHECK_EQ(log_append(p, b.data, b.len, 1, LOG_ORIGIN_CLIENT, &info),
                     KERR_NONE);
            model_add(&m, leo, &b, TS0, true);
            leo = log_end_offset(p);
            crashfs_fail(fs, faults[f].op, 1, faults[f].err);
            if (faults[f].op == CRASHFS_OP_FSYNC_DIR) {
                /* a directory fsync comes with the next roll */
                buf_reset(&b);
                make_batch(&b, &r, TS0);
                cfg.segment_bytes = (int32_t)b.len + 1;
                log_set_config(p, &cfg);
                e = log_append(p, b.data, b.len, 1, LOG_ORIGIN_CLIENT, &info);
            } else {
                e = log_flush(p);
            }
        } else {
            crashfs_fail(fs, faults[f].op, 1, faults[f].err);
            e = log_append(p, b.data, b.len, 1, LOG_ORIGIN_CLIENT, &info);
        }
        model_add(&m, leo, &b, TS0, true);
        CHECK_EQ(e, KERR_KAFKA_STORAGE_ERROR);
        CHECK(log_is_failed(p));
        /* never retried: everything fails now, though the disk works */
        buf_reset(&b);
        make_batch(&b, &r, TS0);
        CHECK_EQ(log_append(p, b.data, b.len, 1, LOG_ORIGIN_CLIENT, &info),
                 KERR_KAFKA_STORAGE_ERROR);
        CHECK_EQ(log_flush(p), KERR_KAFKA_STORAGE_ERROR);
        log_read_result rr;
        CHECK_EQ(log_read(p, 0, 100, -1, true, &rr), KERR_KAFKA_STORAGE_ERROR);
        buf_free(&b);
        log_manager_abandon(mgr);
        crashfs_crash(fs, 1000 + f);
        mgr = open_on(fs, &cfg);
        p = mgr ? log_get(mgr, "t", 0) : NULL;
        CHECK(p != NULL);
        if (p) {
            CHECK(!log_is_failed(p));
            verify_log(p, &m);
        }
        log_manager_close(mgr);
        CHECK_EQ(crashfs_open_fds(fs), 0);
        model_free(&m);
        crashfs_free(fs);
    }
}
