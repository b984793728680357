/*
 * txn_part.c - the partition side of idempotence and transactions: one
 * ps_state per partition log, rebuilt lazily (newest snapshot + .txnindex +
 * scan of the log after the snapshot), the produce/fetch hooks of txn.h,
 * snapshots at segment roll and shutdown, producer id expiration, and the
 * producer id allocator.
 *
 * Invariants: a loaded record's state reflects every batch of its log below
 * log_end_offset (hooks run around each append on the loop thread). A
 * record is dropped and rebuilt when the log pointer now belongs to another
 * topic id (a deleted and re-created topic).
 * Threading: loop thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coord/coord.h"
#include "cluster/image.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "log/producer_state.h"
#include "proto/errors.h"
#include "proto/proto.h"
#include "replica/replica.h"
#include "txn/internal.h"
#include "txn/txn.h"

#define NBUCKETS TXN_PART_BUCKETS
#define SNAPSHOT_SCAN_BYTES                                                    \
    (16 << 20) /* write a snapshot after a longer scan */

typedef struct part_rec {
    struct part_rec *next;
    log_partition *log;
    uint8_t topic_id[16];
    char *topic;
    int32_t partition;
    char *dir;
    int seg_count;
    ps_state ps;
} part_rec;

txn_node *txn_node_new(coord_rt *rt) {
    txn_node *t = xcalloc(1, sizeof *t);
    t->rt = rt;
    t->buckets = xcalloc(NBUCKETS, sizeof *t->buckets);
    t->pid_next = t->pid_end = -1;
    t->pid_waiters_tail = &t->pid_waiters;
    coord_on_shutdown(rt, txn_pid_shutdown, t);
    return t;
}

void txn_node_free(txn_node *t) {
    if (!t)
        return;
    txn_coord_free(t);
    txn_part_free(t);
    txn_pid_free(t);
    free(t);
}

static size_t bucket_of(const log_partition *log) {
    uintptr_t v = (uintptr_t)log;
    v ^= v >> 17;
    v *= 0x9E3779B97F4A7C15ull;
    return (size_t)(v >> 40) % NBUCKETS;
}

static void rec_free(part_rec *r) {
    ps_free(&r->ps);
    free(r->topic);
    free(r->dir);
    free(r);
}

/* True while r->log is still the live log of its topic partition (a
 * deleted topic frees its logs: never touch r->log then). */
static bool rec_live(txn_node *tn, const part_rec *r) {
    if (!coord_image(tn->rt))
        return false;
    cl_topic *t =
        cl_topic_find(coord_image(tn->rt), r->topic, strlen(r->topic));
    if (!t || r->partition >= t->n_partitions || !t->parts[r->partition] ||
        txn_local_log(tn, t->parts[r->partition]) != r->log)
        return false;
    return memcmp(t->id, r->topic_id, 16) == 0;
}

/* Drops the records of deleted partitions. */
static void prune_dead(txn_node *t) {
    for (int i = 0; i < NBUCKETS; i++)
        for (part_rec **pp = &t->buckets[i]; *pp;) {
            part_rec *r = *pp;
            if (rec_live(t, r)) {
                pp = &r->next;
            } else {
                *pp = r->next;
                rec_free(r);
            }
        }
}

/* Walks batches from `start` to LEO: headers by pread, control batches read
 * whole. Applies them to r->ps and appends aborted entries found to the
 * .txnindex unless known. Returns bytes scanned. */
static int64_t scan_log(part_rec *r, int64_t start) {
    log_partition *log = r->log;
    int64_t off = start, leo = log_end_offset(log), scanned = 0;
    uint8_t hdr[BATCH_HEADER_SIZE];
    uint8_t *cb = NULL;
    size_t cb_cap = 0;
    while (off < leo) {
        log_read_result rr;
        if (log_read(log, off, BATCH_HEADER_SIZE, -1, true, &rr) ||
            rr.len <= 0) {
            log_read_release(&rr);
            break;
        }
        log_io_stat st;
        off_t pos = rr.file_pos,
              fend = rr.io->fstat(rr.io->ctx, rr.fd, &st) == 0 ? st.size : 0;
        int64_t before = off;
        while (off < leo && pos + BATCH_HEADER_SIZE <= fend) {
            if (log_read_pread(&rr, hdr, sizeof hdr, pos) !=
                (ssize_t)sizeof hdr)
                break;
            log_batch_header h;
            if (!batch_parse_header(hdr, sizeof hdr, &h) ||
                h.magic != BATCH_MAGIC ||
                h.batch_length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD)
                break;
            int64_t sz = batch_size(&h);
            if (batch_last_offset(&h) >= off && h.producer_id >= 0) {
                const uint8_t *whole = hdr;
                if (batch_is_control(&h)) {
                    if ((size_t)sz > cb_cap) {
                        cb_cap = (size_t)sz;
                        cb = xrealloc(cb, cb_cap);
                    }
                    if (sz > (1 << 20) ||
                        log_read_pread(&rr, cb, (size_t)sz, pos) != sz)
                        break;
                    whole = cb;
                }
                ps_aborted ab;
                int before_n = r->ps.n_aborted;
                if (ps_replay_batch(&r->ps, whole, &h, &ab) &&
                    r->ps.n_aborted > before_n)
                    ps_txnindex_append(log_partition_io(r->log), r->dir, &ab);
            }
            off = batch_last_offset(&h) + 1;
            pos += sz;
            scanned += sz;
        }
        log_read_release(&rr);
        if (off <= before)
            break; /* no progress: damaged data (recovery should have cut it) */
    }
    free(cb);
    return scanned;
}

static part_rec *rec_load(log_partition *log) {
    part_rec *r = xcalloc(1, sizeof *r);
    r->log = log;
    log_topic_id(log, r->topic_id);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s-%d", log_dir_path(log), log_topic(log),
             (int)log_partition_id(log));
    r->dir = xstrdup(dir);
    r->topic = xstrdup(log_topic(log));
    r->partition = log_partition_id(log);
    r->seg_count = log_segment_count(log);
    ps_init(&r->ps);
    int64_t leo = log_end_offset(log), lso = log_start_offset(log);
    int64_t snap =
        ps_snapshot_load_latest(log_partition_io(log), &r->ps, r->dir, leo);
    int64_t start = snap >= 0 && snap >= lso ? snap : lso;
    if (snap >= 0 && snap < lso)
        r->ps.n = 0; /* too old: below the log start, rebuild from the log */
    ps_txnindex_load(log_partition_io(log), &r->ps, r->dir, lso, leo);
    int64_t scanned = scan_log(r, start);
    if (scanned > SNAPSHOT_SCAN_BYTES) {
        ps_snapshot_write(log_partition_io(r->log), &r->ps, r->dir,
                          log_end_offset(log));
        ps_snapshot_clean(log_partition_io(r->log), r->dir, 2,
                          log_end_offset(log));
    }
    SL_DEBUG("txn",
             "producer state of %s-%d: %d producers, %d aborted txns (snapshot "
             "%lld, "
             "scanned %lld bytes)",
             log_topic(log), (int)log_partition_id(log), r->ps.n,
             r->ps.n_aborted, (long long)snap, (long long)scanned);
    return r;
}

static void expire_cb(net_loop *loop, void *ctx);

static void on_shutdown(void *arg) {
    txn_node *t = arg, *tn = t;
    t->part_stopping = true;
    if (t->expire_timer)
        net_timer_cancel(tn->rt->loop, t->expire_timer);
    t->expire_timer = 0;
    txn_part_snapshot_all(tn);
}

static int64_t expire_interval(const txn_node *t) {
    return coord_cfg_i64(t->rt,
                         COORD_CFG_PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS);
}

static void expire_cb(net_loop *loop, void *ctx) {
    txn_node *t = ctx;
    t->expire_timer = 0;
    if (t->part_stopping)
        return;
    int64_t now = clk_wall_ms(),
            exp = coord_cfg_i64(t->rt, COORD_CFG_PRODUCER_ID_EXPIRATION_MS);
    prune_dead(t);
    for (int i = 0; i < NBUCKETS; i++)
        for (part_rec *r = t->buckets[i]; r; r = r->next) {
            ps_expire(&r->ps, now, exp);
            ps_trim_aborted(&r->ps, log_start_offset(r->log));
        }
    t->expire_timer = net_timer_add(loop, expire_interval(t), expire_cb, t);
}

void txn_part_free(txn_node *t) {
    for (int i = 0; i < NBUCKETS; i++)
        while (t->buckets[i]) {
            part_rec *r = t->buckets[i];
            t->buckets[i] = r->next;
            rec_free(r);
        }
    free(t->buckets);
    t->buckets = NULL;
}

static part_rec *rec_get(txn_node *tn, log_partition *log) {
    txn_node *t = tn;
    if (!t->part_hooked) {
        t->part_hooked = true;
        coord_on_shutdown(tn->rt, on_shutdown, tn);
        if (tn->rt->loop)
            t->expire_timer =
                net_timer_add(tn->rt->loop, expire_interval(t), expire_cb, t);
    }
    /* The coordinator may complete prepared transactions (writing markers,
     * possibly into this very partition) before we look the record up. */
    txn_coord_ensure(tn);
    size_t b = bucket_of(log);
    uint8_t id[16];
    log_topic_id(log, id);
    for (part_rec **pp = &t->buckets[b]; *pp; pp = &(*pp)->next) {
        part_rec *r = *pp;
        if (r->log != log)
            continue;
        if (memcmp(r->topic_id, id, 16) == 0)
            return r;
        *pp = r->next; /* stale: the log was deleted and its memory reused */
        rec_free(r);
        break;
    }
    part_rec *r = rec_load(log);
    r->next = t->buckets[b];
    t->buckets[b] = r;
    return r;
}

struct ps_state *txn_part_state(txn_node *tn, log_partition *log) {
    return &rec_get(tn, log)->ps;
}

void txn_part_snapshot_all(txn_node *tn) {
    txn_node *t = tn;
    prune_dead(t);
    for (int i = 0; i < NBUCKETS; i++)
        for (part_rec *r = t->buckets[i]; r; r = r->next) {
            if (log_is_failed(r->log))
                continue;
            int64_t leo = log_end_offset(r->log);
            ps_snapshot_write(log_partition_io(r->log), &r->ps, r->dir, leo);
            ps_snapshot_clean(log_partition_io(r->log), r->dir, 2, leo);
        }
}

/* ---- produce
 * ------------------------------------------------------------------------ */

int txn_produce_check(txn_node *tn, log_partition *log,
                      const log_batch_header *h, int64_t *dup_base_offset,
                      const char **msg) {
    *msg = NULL;
    if (h->producer_id < 0 && !batch_is_transactional(h))
        return 0;
    if (h->producer_id < 0) {
        *msg = "Transactional batch without producer id";
        return KERR_INVALID_RECORD;
    }
    part_rec *r = rec_get(tn, log);
    r->seg_count = log_segment_count(log);
    ps_batch_meta dup;
    int rc = ps_check(&r->ps, h, &dup, msg);
    if (rc == PS_DUPLICATE) {
        *dup_base_offset = dup.first_offset;
        return TXN_DUPLICATE;
    }
    if (rc == 0 && batch_is_transactional(h)) {
        /* The first batch of a transaction in this partition: the partition
         * must be in the producer's Ongoing transaction (Kafka's partition
         * verification), so a late retry after the end of a transaction
         * cannot open a new one that nobody will ever end. */
        const ps_entry *e = ps_find(&r->ps, h->producer_id);
        if (!e || e->txn_first_offset < 0 || e->epoch != h->producer_epoch) {
            rc = txn_coord_verify(tn, h->producer_id, h->producer_epoch,
                                  log_topic(log), log_partition_id(log));
            if (rc)
                *msg = "The producer attempted a transactional operation in an "
                       "invalid state";
        }
    }
    return rc;
}

void txn_produce_appended(txn_node *tn, log_partition *log,
                          const log_batch_header *h, int64_t base_offset) {
    if (h->producer_id < 0)
        return;
    part_rec *r = rec_get(tn, log);
    int segs = log_segment_count(log);
    if (segs > r->seg_count) {
        /* The append rolled: snapshot the state before this batch at the new
         * segment's base offset (Kafka's takeSnapshot on roll). */
        ps_snapshot_write(log_partition_io(r->log), &r->ps, r->dir,
                          base_offset);
        ps_snapshot_clean(log_partition_io(r->log), r->dir, 2, base_offset);
    }
    r->seg_count = segs;
    log_batch_header hh = *h;
    hh.base_offset = base_offset;
    ps_update(&r->ps, &hh);
}

/* The record of log if it is loaded (none is loaded here). */
static part_rec *rec_peek(txn_node *t, log_partition *log) {
    uint8_t id[16];
    log_topic_id(log, id);
    for (part_rec *r = t->buckets[bucket_of(log)]; r; r = r->next)
        if (r->log == log && !memcmp(r->topic_id, id, 16))
            return r;
    return NULL;
}

void txn_replicated(txn_node *tn, log_partition *log, const uint8_t *batches,
                    size_t len) {
    part_rec *r = rec_peek(tn, log);
    if (!r)
        return; /* loaded from the log (with these batches) on first use */
    for (size_t pos = 0; pos < len;) {
        log_batch_header h;
        if (!batch_parse_header(batches + pos, len - pos, &h))
            break;
        if (h.producer_id >= 0) {
            ps_aborted ab;
            int before_n = r->ps.n_aborted;
            if (ps_replay_batch(&r->ps, batches + pos, &h, &ab) &&
                r->ps.n_aborted > before_n)
                ps_txnindex_append(log_partition_io(r->log), r->dir, &ab);
        }
        pos += (size_t)batch_size(&h);
    }
    r->seg_count = log_segment_count(log);
}

void txn_truncated(txn_node *tn, log_partition *log) {
    size_t b = bucket_of(log);
    for (part_rec **pp = &tn->buckets[b]; *pp; pp = &(*pp)->next)
        if ((*pp)->log == log) {
            part_rec *r = *pp;
            *pp = r->next;
            rec_free(r);
            return;
        }
}

/* ---- fetch
 * -------------------------------------------------------------------------- */

int64_t txn_lso(txn_node *tn, log_partition *log) {
    int64_t hw = log_high_watermark(log);
    part_rec *r = rec_get(tn, log);
    int64_t fu = ps_first_unstable(&r->ps);
    return fu >= 0 && fu < hw ? fu : hw;
}

typedef struct ab_writer {
    buf *b;
    bool flex;
} ab_writer;

static void write_one(void *ctx, const ps_aborted *ab) {
    ab_writer *w = ctx;
    buf_put_be64(w->b, (uint64_t)ab->producer_id);
    buf_put_be64(w->b, (uint64_t)ab->first_offset);
    if (w->flex)
        buf_put_uvarint(w->b, 0); /* no tagged fields */
}

void txn_fetch_write_aborted(txn_node *tn, buf *b, bool flexible,
                             log_partition *log, int64_t from, int64_t to) {
    part_rec *r = rec_get(tn, log);
    int n = ps_aborted_in(&r->ps, from, to, NULL, NULL);
    proto_write_array_len(b, flexible, n);
    ab_writer w = {b, flexible};
    ps_aborted_in(&r->ps, from, to, write_one, &w);
}

/* ---- markers
 * ------------------------------------------------------------------------ */

log_partition *txn_leader_log(txn_node *tn, const cl_partition *part) {
    int16_t err;
    return part && coord_repl(tn->rt)
               ? repl_leader_log(coord_repl(tn->rt), part, &err)
               : NULL;
}

log_partition *txn_local_log(txn_node *tn, const cl_partition *part) {
    return part && coord_repl(tn->rt) ? repl_log(coord_repl(tn->rt), part)
                                      : NULL;
}

/* A marker's effect on the producer state, right after its append and
 * before the HW moves past it (repl_append's appended hook). */
typedef struct marker_ctx {
    part_rec *r;
    int segs;
    int64_t producer_id;
    int16_t epoch;
    int type;
    int32_t coordinator_epoch;
} marker_ctx;

static void marker_appended(void *ctx, log_partition *log,
                            const log_append_info *info) {
    marker_ctx *mc = ctx;
    part_rec *r = mc->r;
    if (log_segment_count(log) > mc->segs) {
        ps_snapshot_write(log_partition_io(r->log), &r->ps, r->dir,
                          info->base_offset);
        ps_snapshot_clean(log_partition_io(r->log), r->dir, 2,
                          info->base_offset);
    }
    r->seg_count = log_segment_count(log);
    ps_aborted ab;
    if (ps_apply_marker(&r->ps, mc->producer_id, mc->epoch, mc->type,
                        mc->coordinator_epoch, info->base_offset, &ab))
        ps_txnindex_append(log_partition_io(r->log), r->dir, &ab);
}

int16_t txn_write_marker(txn_node *tn, cl_partition *part, int64_t producer_id,
                         int16_t epoch, int type, int32_t coordinator_epoch) {
    log_partition *log = txn_leader_log(tn, part);
    if (!log)
        return KERR_NOT_LEADER_OR_FOLLOWER;
    part_rec *r = rec_get(tn, log);
    int16_t fenced = ps_check_marker(&r->ps, producer_id, coordinator_epoch);
    if (fenced) {
        SL_WARN("txn",
                "refusing %s marker for producer %lld to %s-%d from "
                "coordinator epoch %d: %s",
                type == BATCH_CONTROL_COMMIT ? "COMMIT" : "ABORT",
                (long long)producer_id, part->topic->name, (int)part->id,
                (int)coordinator_epoch, proto_error_name(fenced));
        return fenced;
    }
    buf b;
    buf_init(&b, 128);
    batch_build_control(&b, producer_id, epoch, type, coordinator_epoch,
                        clk_wall_ms());
    marker_ctx mc = {r,    log_segment_count(log), producer_id, epoch,
                     type, coordinator_epoch};
    /* acks=all through the runtime: the response that follows is held
     * until the HW covers the marker (coord.h). */
    coord_write_req w = {
        .records = b.data,
        .len = b.len,
        .appended = marker_appended,
        .ctx = &mc,
        .raw_errors = true,
    };
    int16_t e = coord_write(tn->rt, part, &w, NULL);
    buf_free(&b);
    if (e) {
        SL_WARN("txn",
                "writing %s marker for producer %lld to %s-%d failed: %s",
                type == BATCH_CONTROL_COMMIT ? "COMMIT" : "ABORT",
                (long long)producer_id, part->topic->name, (int)part->id,
                proto_error_name(e));
        return e;
    }
    return KERR_NONE;
}

/* ---- producer ids
 * -------------------------------------------------------------------- */

#define PID_BLOCK 1000 /* Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE */

/* Ids handed out before they lived in the metadata log were reserved in
 * <log.dir>/.sluice-producer-ids; a data dir from then must not see them
 * again, so that file's value is a floor for the first block. */
static int64_t legacy_pid_floor(txn_node *tn) {
    char path[4096];
    snprintf(path, sizeof path, "%s/.sluice-producer-ids",
             log_manager_dir(coord_logs(tn->rt), 0));
    int64_t floor = 0;
    size_t len;
    char *txt = (char *)log_io_read_file(log_manager_io(coord_logs(tn->rt)),
                                         path, 64, &len);
    if (txt) {
        long long v;
        if (sscanf(txt, "%lld", &v) == 1 && v > 0)
            floor = v;
        free(txt);
    }
    return floor;
}

/* The allocation in flight; tn NULL once the node's state is gone (the
 * controller still completes it at its own shutdown). */
typedef struct pid_op {
    txn_node *tn;
} pid_op;

static void pid_block_done(void *arg, int16_t err, int64_t first) {
    pid_op *op = arg;
    txn_node *t = op->tn;
    free(op);
    if (!t)
        return;
    t->pid_op = NULL;
    if (err) {
        SL_WARN("txn", "cannot allocate a producer id block: %s",
                proto_error_name(err));
    } else {
        t->pid_next = first;
        t->pid_end = first + PID_BLOCK;
    }
    txn_pid_block_ready(t, err);
}

int16_t txn_alloc_producer_id(txn_node *tn, int64_t *pid) {
    txn_node *t = tn;
    *pid = -1;
    if (t->pid_next < 0 || t->pid_next >= t->pid_end) {
        if (!t->pid_op) {
            /* One block request at a time (Kafka's ProducerIdManager):
             * the controller commits it, then the waiters run again. */
            pid_op *op = xcalloc(1, sizeof *op);
            op->tn = t;
            t->pid_op = op;
            tn->rt->svc.allocate_producer_ids(
                tn->rt->svc.host, PID_BLOCK,
                t->pid_end > 0 ? t->pid_end : legacy_pid_floor(tn),
                pid_block_done, op);
        }
        if (t->pid_op)
            return TXN_PID_PENDING;
        if (t->pid_next < 0 || t->pid_next >= t->pid_end)
            /* Failed at once. Retriable for the client, as Kafka answers
             * while its producer id manager waits for a block. */
            return KERR_COORDINATOR_LOAD_IN_PROGRESS;
    }
    *pid = t->pid_next++;
    return KERR_NONE;
}

void txn_pid_free(txn_node *t) {
    if (t->pid_op)
        t->pid_op->tn = NULL; /* its callback frees it */
    t->pid_op = NULL;
}
