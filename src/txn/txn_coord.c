/*
 * txn_coord.c - the transaction coordinator (Kafka's TransactionCoordinator
 * + TransactionStateManager, for the __transaction_state partitions this
 * node leads) and its request handlers:
 * InitProducerId (22), AddPartitionsToTxn (24), AddOffsetsToTxn (25),
 * EndTxn (26), WriteTxnMarkers (27), DescribeProducers (61),
 * DescribeTransactions (65), ListTransactions (66). TxnOffsetCommit (28) is
 * the group coordinator's (src/group); the markers that land on
 * __consumer_offsets are reported to it through its txn_offsets_listener.
 *
 * Invariants:
 *  - every state change of a transactional id is appended to its
 *    __transaction_state partition BEFORE it is applied in memory or
 *    answered; replaying the topic gives back the same map.
 *  - a Prepare* state is followed by the markers of every partition (this
 *    node's written here, the others' sent to their leaders and retried
 *    until answered), then Complete* once all are written. A coordinator
 *    that finds a Prepare* state at load finishes it (same markers again:
 *    a repeated marker is harmless), so a transaction is never half-visible.
 *  - an Ongoing transaction older than its timeout is aborted with a bumped
 *    epoch (the old producer is fenced), checked every
 *    transaction.abort.timed.out.transaction.cleanup.interval.ms.
 * The state is the node's txn_node (tn, src/txn/internal.h).
 * Threading: the node's loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coord/coord.h"
#include "cluster/image.h"
#include "core/clock.h"
#include "core/fault.h"
#include "core/log.h"
#include "core/murmur2.h"
#include "core/util.h"
#include "log/batch.h"
#include "log/log.h"
#include "log/producer_state.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "proto/proto.h"
#include "replica/replica.h"
#include "txn/internal.h"
#include "txn/txn.h"

#define OFFSETS_TOPIC "__consumer_offsets"
#define EPOCH_EXHAUSTED 32766 /* Short.MaxValue - 1 */

enum txn_state {
    TS_EMPTY = 0,
    TS_ONGOING = 1,
    TS_PREPARE_COMMIT = 2,
    TS_PREPARE_ABORT = 3,
    TS_COMPLETE_COMMIT = 4,
    TS_COMPLETE_ABORT = 5,
    TS_DEAD = 6,
    TS_PREPARE_EPOCH_FENCE = 7,
};
static const char *const state_names[] = {
    "Empty",          "Ongoing",       "PrepareCommit", "PrepareAbort",
    "CompleteCommit", "CompleteAbort", "Dead",          "PrepareEpochFence"};

typedef struct txn_tp {
    char *topic;
    int32_t partition;
    bool marked; /* its marker of the ending transaction is written */
} txn_tp;

typedef struct txn_meta {
    char *tid;      /* NUL-terminated copy, but may hold NUL bytes: */
    size_t tid_len; /* a transactional id is a Kafka STRING */
    int64_t pid, last_pid;
    int16_t epoch, last_epoch;
    int32_t timeout_ms;
    int state;
    txn_tp *parts;
    int n_parts, cap_parts;
    int64_t start_ts, update_ts;
    uint64_t serial; /* unique in the node: marker responses find it by */
    int n_inflight;  /* WriteTxnMarkers sent for it, not answered yet */
} txn_meta;

/* ---- small helpers
 * --------------------------------------------------------------------- */

static int32_t num_state_parts(txn_node *tn) {
    cl_topic *t = cl_topic_find(coord_image(tn->rt), TXN_STATE_TOPIC,
                                strlen(TXN_STATE_TOPIC));
    if (t && t->n_partitions > 0)
        return t->n_partitions;
    return (int32_t)coord_cfg_i64(
        tn->rt, COORD_CFG_TRANSACTION_STATE_LOG_NUM_PARTITIONS);
}

static int32_t partition_for(txn_node *tn, const char *s, size_t n,
                             int32_t nparts) {
    SL_UNUSED(tn);
    int32_t h = java_string_hash(s, n);
    /* Kafka's Utils.abs: Integer.MIN_VALUE maps to 0 */
    int32_t a = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
    return a % nparts;
}

static cl_partition *topic_part(txn_node *tn, const char *topic, int32_t p) {
    cl_topic *t = cl_topic_find(coord_image(tn->rt), topic, strlen(topic));
    if (!t || p < 0 || p >= t->n_partitions)
        return NULL;
    return t->parts[p];
}

static txn_meta *meta_find(txn_node *t, const char *tid, size_t n) {
    for (int i = 0; i < t->n_metas; i++)
        if (t->metas[i]->tid_len == n && memcmp(t->metas[i]->tid, tid, n) == 0)
            return t->metas[i];
    return NULL;
}

static txn_meta *meta_new(txn_node *t, const char *tid, size_t n) {
    txn_meta *m = xcalloc(1, sizeof *m);
    m->tid = xstrndup(tid, n);
    m->tid_len = n;
    m->pid = m->last_pid = -1;
    m->epoch = m->last_epoch = -1;
    m->start_ts = -1;
    m->serial = ++t->meta_serial;
    if (t->n_metas == t->cap_metas) {
        t->cap_metas = t->cap_metas ? t->cap_metas * 2 : 16;
        t->metas = xrealloc(t->metas, (size_t)t->cap_metas * sizeof *t->metas);
    }
    t->metas[t->n_metas++] = m;
    return m;
}

static void parts_clear(txn_meta *m) {
    for (int i = 0; i < m->n_parts; i++)
        free(m->parts[i].topic);
    m->n_parts = 0;
}

static void meta_free(txn_meta *m) {
    parts_clear(m);
    free(m->parts);
    free(m->tid);
    free(m);
}

static void meta_remove(txn_node *t, txn_meta *m) {
    for (int i = 0; i < t->n_metas; i++)
        if (t->metas[i] == m) {
            t->metas[i] = t->metas[--t->n_metas];
            break;
        }
    meta_free(m);
}

void txn_coord_free(txn_node *t) {
    for (int i = 0; i < t->n_metas; i++)
        meta_free(t->metas[i]);
    free(t->metas);
    t->metas = NULL;
    t->n_metas = t->cap_metas = 0;
    txn_markers_close(t);
    free(t->part_loaded);
    t->part_loaded = NULL;
    t->n_part_loaded = 0;
}

static bool parts_has(const txn_meta *m, const char *topic, size_t n,
                      int32_t p) {
    for (int i = 0; i < m->n_parts; i++)
        if (m->parts[i].partition == p && strlen(m->parts[i].topic) == n &&
            memcmp(m->parts[i].topic, topic, n) == 0)
            return true;
    return false;
}

static void parts_add(txn_meta *m, const char *topic, size_t n, int32_t p) {
    if (parts_has(m, topic, n, p))
        return;
    if (m->n_parts == m->cap_parts) {
        m->cap_parts = m->cap_parts ? m->cap_parts * 2 : 8;
        m->parts = xrealloc(m->parts, (size_t)m->cap_parts * sizeof *m->parts);
    }
    m->parts[m->n_parts].topic = xstrndup(topic, n);
    m->parts[m->n_parts].partition = p;
    m->parts[m->n_parts].marked = false;
    m->n_parts++;
}

/* ---- __transaction_state records
 * ------------------------------------------------------ */

/* A copy of m with a new state/epoch/partitions to persist first. */
typedef struct txn_next {
    int64_t pid, last_pid;
    int16_t epoch, last_epoch;
    int32_t timeout_ms;
    int state;
    const txn_tp *parts;
    int n_parts;
    int64_t start_ts, update_ts;
} txn_next;

static txn_next next_of(const txn_meta *m) {
    txn_next x = {m->pid,        m->last_pid, m->epoch, m->last_epoch,
                  m->timeout_ms, m->state,    m->parts, m->n_parts,
                  m->start_ts,   m->update_ts};
    return x;
}

static int32_t coord_epoch(txn_node *tn, const txn_meta *m) {
    cl_partition *p =
        topic_part(tn, TXN_STATE_TOPIC,
                   partition_for(tn, m->tid, m->tid_len, num_state_parts(tn)));
    return p ? p->leader_epoch : 0;
}

static int16_t append_state(txn_node *tn, const txn_meta *m,
                            const txn_next *x) {
    int32_t p = partition_for(tn, m->tid, m->tid_len, num_state_parts(tn));
    cl_partition *part = topic_part(tn, TXN_STATE_TOPIC, p);
    if (!txn_leader_log(tn, part))
        return KERR_NOT_COORDINATOR;
    buf key, val;
    buf_init(&key, 64);
    buf_init(&val, 256);
    proto_transaction_log_key k;
    proto_transaction_log_key_init(&k);
    k.transactional_id = (proto_str){m->tid, (int32_t)m->tid_len};
    buf_put_be16(&key, 0);
    proto_transaction_log_key_encode(&key, 0, &k);
    bool tomb = x == NULL;
    if (!tomb) {
        proto_transaction_log_value v;
        proto_transaction_log_value_init(&v);
        v.producer_id = x->pid;
        v.producer_epoch = x->epoch;
        v.transaction_timeout_ms = x->timeout_ms;
        v.transaction_status = (int8_t)x->state;
        v.transaction_last_update_timestamp_ms = x->update_ts;
        v.transaction_start_timestamp_ms = x->start_ts;
        /* group the partitions by topic */
        proto_transaction_log_value_partitions_schema *ts =
            xcalloc((size_t)(x->n_parts ? x->n_parts : 1), sizeof *ts);
        int32_t *ids =
            xcalloc((size_t)(x->n_parts ? x->n_parts : 1), sizeof *ids);
        int nt = 0, used = 0;
        bool *done =
            xcalloc((size_t)(x->n_parts ? x->n_parts : 1), sizeof *done);
        for (int i = 0; i < x->n_parts; i++) {
            if (done[i])
                continue;
            proto_transaction_log_value_partitions_schema *s = &ts[nt++];
            proto_transaction_log_value_partitions_schema_init(s);
            s->topic = proto_str_c(x->parts[i].topic);
            s->partition_ids.v = ids + used;
            for (int j = i; j < x->n_parts; j++)
                if (!done[j] &&
                    strcmp(x->parts[j].topic, x->parts[i].topic) == 0) {
                    done[j] = true;
                    ids[used++] = x->parts[j].partition;
                    s->partition_ids.n++;
                }
        }
        if (x->state == TS_EMPTY) {
            v.transaction_partitions.n = -1; /* null, as Kafka writes Empty */
        } else {
            v.transaction_partitions.n = nt;
            v.transaction_partitions.v = ts;
        }
        buf_put_be16(&val, 0);
        proto_transaction_log_value_encode(&val, 0, &v);
        free(ts);
        free(ids);
        free(done);
    }
    batch_builder b;
    batch_builder_init(&b, 0, 0);
    batch_builder_set_leader_epoch(&b, part->leader_epoch);
    batch_builder_add(&b, clk_wall_ms(), key.data, (int32_t)key.len,
                      tomb ? NULL : val.data, tomb ? -1 : (int32_t)val.len,
                      NULL, 0);
    buf out;
    buf_init(&out, 512);
    int16_t e = batch_builder_finish(&b, &out);
    batch_builder_free(&b);
    if (!e) {
        /* acks=all through the runtime: the response that follows this
         * transition is held until the HW covers it (coord.h). */
        coord_write_req w = {.records = out.data, .len = out.len};
        e = coord_write(tn->rt, part, &w, NULL);
    }
    buf_free(&out);
    buf_free(&key);
    buf_free(&val);
    if (e) {
        SL_WARN("txn", "appending to %s-%d failed: %s", TXN_STATE_TOPIC, (int)p,
                proto_error_name(e));
        return coord_write_error(e); /* Kafka's TransactionStateManager */
    }
    return KERR_NONE;
}

/* Persists x, then applies it to m. */
static int16_t transit(txn_node *t, txn_meta *m, const txn_next *x) {
    int16_t e = append_state(t, m, x);
    if (e)
        return e;
    if (x->parts != m->parts) {
        /* x->parts points elsewhere only when clearing (n_parts 0) */
        parts_clear(m);
        for (int i = 0; i < x->n_parts; i++)
            parts_add(m, x->parts[i].topic, strlen(x->parts[i].topic),
                      x->parts[i].partition);
    } else {
        m->n_parts = x->n_parts; /* parts_add'ed beforehand by the caller */
    }
    m->pid = x->pid;
    m->last_pid = x->last_pid;
    m->epoch = x->epoch;
    m->last_epoch = x->last_epoch;
    m->timeout_ms = x->timeout_ms;
    m->state = x->state;
    m->start_ts = x->start_ts;
    m->update_ts = x->update_ts;
    return KERR_NONE;
}

/* ---- the group coordinator's offsets
 * ---------------------------------------------------- */

void txn_set_offsets_listener(txn_node *tn, const txn_offsets_listener *l) {
    tn->offsets = *l;
}

/* A marker of producer_id landed on __consumer_offsets-p: the group
 * coordinator applies (commit) or drops the transaction's offsets. */
static void offsets_marker(txn_node *t, int32_t p, int64_t producer_id,
                           bool commit) {
    if (t->offsets.marker)
        t->offsets.marker(t->offsets.ctx, p, producer_id, commit);
}

/* The __consumer_offsets partition of a group (AddOffsetsToTxn). */
static int32_t offsets_partition_for(txn_node *t, proto_str group) {
    SL_ASSERT(t->offsets.partition_for);
    return t->offsets.partition_for(t->offsets.ctx, group);
}

int16_t txn_check_offset_commit(txn_node *tn, proto_str transactional_id,
                                int64_t producer_id, int16_t epoch) {
    txn_coord_ensure(tn);
    txn_meta *m =
        meta_find(tn, transactional_id.p, (size_t)transactional_id.len);
    if (m && m->pid == producer_id && epoch < m->epoch)
        return KERR_INVALID_PRODUCER_EPOCH;
    if (m && m->pid != producer_id)
        return KERR_INVALID_PRODUCER_ID_MAPPING;
    return KERR_NONE;
}

static void retry_markers_later(txn_node *t);

/* A WriteTxnMarkers answer for meta `serial` (markers_send). */
typedef struct marker_wait {
    txn_node *tn;
    uint64_t serial;
} marker_wait;

static txn_meta *meta_by_serial(txn_node *t, uint64_t serial) {
    for (int i = 0; i < t->n_metas; i++)
        if (t->metas[i]->serial == serial)
            return t->metas[i];
    return NULL;
}

static int16_t complete_txn(txn_node *t, txn_meta *m);

static void markers_done(void *ctx, const char *const *topics,
                         const int32_t *parts, const int16_t *errs, int n) {
    marker_wait *w = ctx;
    txn_node *t = w->tn;
    txn_meta *m = t->coord_stopping ? NULL : meta_by_serial(t, w->serial);
    free(w);
    if (!m || m->n_inflight <= 0)
        return; /* unloaded meanwhile */
    m->n_inflight--;
    bool failed = false;
    for (int k = 0; k < n; k++) {
        if (errs[k]) {
            SL_DEBUG("txn", "marker for %s-%d of producer %lld: %s", topics[k],
                     (int)parts[k], (long long)m->pid,
                     proto_error_name(errs[k]));
            failed = true;
            continue;
        }
        for (int i = 0; i < m->n_parts; i++)
            if (m->parts[i].partition == parts[k] &&
                !strcmp(m->parts[i].topic, topics[k]))
                m->parts[i].marked = true;
    }
    if (m->n_inflight == 0) {
        if (failed)
            retry_markers_later(t);
        else if (m->state == TS_PREPARE_COMMIT || m->state == TS_PREPARE_ABORT)
            complete_txn(t, m);
    }
}

/* Retries the markers of the prepared transactions with none in flight. */
static void retry_cb(net_loop *loop, void *ctx) {
    (void)loop;
    txn_node *t = ctx;
    t->retry_timer = 0;
    if (t->coord_stopping)
        return;
    for (int i = 0; i < t->n_metas; i++) {
        txn_meta *m = t->metas[i];
        if ((m->state == TS_PREPARE_COMMIT || m->state == TS_PREPARE_ABORT) &&
            m->n_inflight == 0)
            complete_txn(t, m);
    }
}

static void retry_markers_later(txn_node *t) {
    if (!t->retry_timer && t->rt->loop && !t->coord_stopping)
        t->retry_timer = net_timer_add(t->rt->loop, 100, retry_cb, t);
}

/* Writes the markers of m's transaction (state PrepareCommit/PrepareAbort
 * already persisted), then Complete*: this node's partitions directly, the
 * others' through WriteTxnMarkers to their leaders (Kafka's
 * TransactionMarkerChannelManager). With markers in flight it returns 0 and
 * the last answer finishes it; a partition that could not be marked is
 * retried (retry_markers_later, the tick) and the state stays Prepare*. */
static int16_t complete_txn(txn_node *t, txn_meta *m) {
    txn_node *tn = t;
    if (m->n_inflight > 0)
        return KERR_NONE; /* the answers finish it */
    bool commit = m->state == TS_PREPARE_COMMIT;
    int type = commit ? BATCH_CONTROL_COMMIT : BATCH_CONTROL_ABORT;
    int32_t ce = coord_epoch(tn, m);
    int16_t err = KERR_NONE;
    int32_t *leaders =
        xcalloc((size_t)(m->n_parts ? m->n_parts : 1), sizeof *leaders);
    for (int i = 0; i < m->n_parts; i++) {
        txn_tp *tp = &m->parts[i];
        leaders[i] = -1;
        if (tp->marked)
            continue;
        cl_partition *p = topic_part(tn, tp->topic, tp->partition);
        if (!p) {
            tp->marked = true; /* deleted meanwhile: nothing to mark */
            continue;
        }
        if (txn_leader_log(tn, p)) {
            int16_t e = txn_write_marker(tn, p, m->pid, m->epoch, type, ce);
            if (e) {
                err = e; /* stays Prepare*: retried */
                continue;
            }
            tp->marked = true;
            if (strcmp(tp->topic, OFFSETS_TOPIC) == 0)
                offsets_marker(t, tp->partition, m->pid, commit);
            (void)SL_FAULT(TXN_AFTER_MARKER); /* restart tests: crash here */
        } else if (p->leader >= 0 && p->leader != tn->rt->node_id) {
            leaders[i] = p->leader;
        } else {
            err = KERR_NOT_LEADER_OR_FOLLOWER; /* no leader now: retried */
        }
    }
    /* one WriteTxnMarkers per leader */
    const char **topics =
        xcalloc((size_t)(m->n_parts ? m->n_parts : 1), sizeof *topics);
    int32_t *ids = xcalloc((size_t)(m->n_parts ? m->n_parts : 1), sizeof *ids);
    for (int i = 0; i < m->n_parts; i++) {
        int32_t l = leaders[i];
        if (l < 0)
            continue;
        int n = 0;
        for (int j = i; j < m->n_parts; j++)
            if (leaders[j] == l) {
                topics[n] = m->parts[j].topic;
                ids[n++] = m->parts[j].partition;
                leaders[j] = -1;
            }
        marker_wait *w = xcalloc(1, sizeof *w);
        w->tn = tn;
        w->serial = m->serial;
        int16_t e = txn_markers_send(tn, l, m->pid, m->epoch, commit, ce,
                                     topics, ids, n, markers_done, w);
        if (e) {
            free(w);
            err = err ? err : e; /* retried */
        } else {
            m->n_inflight++;
        }
    }
    free(topics);
    free(ids);
    free(leaders);
    if (m->n_inflight > 0)
        return KERR_NONE; /* the last answer finishes it */
    if (err) {
        retry_markers_later(t);
        return err;
    }
    txn_next x = next_of(m);
    x.state = commit ? TS_COMPLETE_COMMIT : TS_COMPLETE_ABORT;
    x.n_parts = 0;
    x.parts = NULL;
    x.update_ts = clk_wall_ms();
    return transit(t, m, &x);
}

/* Starts and finishes ending m's ongoing transaction. */
static int16_t end_txn(txn_node *t, txn_meta *m, bool commit, int16_t epoch) {
    txn_next x = next_of(m);
    x.state = commit ? TS_PREPARE_COMMIT : TS_PREPARE_ABORT;
    x.epoch = epoch;
    if (epoch != m->epoch)
        x.last_epoch = m->epoch;
    x.update_ts = clk_wall_ms();
    int16_t e = transit(t, m, &x);
    if (e)
        return e;
    SL_DEBUG("txn", "%s transaction %s (producer %lld epoch %d, %d partitions)",
             commit ? "committing" : "aborting", m->tid, (long long)m->pid,
             m->epoch, m->n_parts);
    (void)SL_FAULT(TXN_AFTER_PREPARE); /* restart tests: crash here */
    /* As Kafka's coordinator: once the Prepare* state is written the end is
     * decided; markers that cannot be written now are retried. */
    e = complete_txn(t, m);
    if (e)
        SL_DEBUG("txn", "transaction %s: markers pending (%s), retried", m->tid,
                 proto_error_name(e));
    return KERR_NONE;
}

/* ---- loading
 * ---------------------------------------------------------------------------
 */

static void replay_record(txn_node *t, const log_record *r) {
    if (r->key_len < 2)
        return;
    arena a;
    arena_init(&a, 1024);
    rd kr;
    rd_init(&kr, r->key, (size_t)r->key_len);
    int16_t kv = (int16_t)rd_be16(&kr);
    proto_transaction_log_key k;
    if (kr.err || kv != 0 ||
        proto_transaction_log_key_decode(&kr, &a, 0, &k) != PROTO_OK ||
        k.transactional_id.len <= 0) {
        arena_free(&a);
        return;
    }
    txn_meta *m =
        meta_find(t, k.transactional_id.p, (size_t)k.transactional_id.len);
    if (r->value_len < 0) {
        if (m)
            meta_remove(t, m);
        arena_free(&a);
        return;
    }
    rd vr;
    rd_init(&vr, r->value, (size_t)r->value_len);
    int16_t vv = (int16_t)rd_be16(&vr);
    proto_transaction_log_value v;
    if (vr.err || vv < 0 || vv > 1 ||
        proto_transaction_log_value_decode(&vr, &a, vv, &v) != PROTO_OK) {
        SL_WARN("txn", "skipping undecodable %s value", TXN_STATE_TOPIC);
        arena_free(&a);
        return;
    }
    if (!m)
        m = meta_new(t, k.transactional_id.p, (size_t)k.transactional_id.len);
    if (m->pid != v.producer_id) {
        m->last_pid = m->pid;
        m->last_epoch = m->epoch;
    } else if (m->epoch != v.producer_epoch) {
        m->last_epoch = m->epoch;
    }
    m->pid = v.producer_id;
    m->epoch = v.producer_epoch;
    m->timeout_ms = v.transaction_timeout_ms;
    m->state = v.transaction_status;
    m->start_ts = v.transaction_start_timestamp_ms;
    m->update_ts = v.transaction_last_update_timestamp_ms;
    parts_clear(m);
    for (int32_t i = 0; i < v.transaction_partitions.n; i++) {
        proto_transaction_log_value_partitions_schema *s =
            &v.transaction_partitions.v[i];
        for (int32_t j = 0; j < s->partition_ids.n; j++)
            parts_add(m, s->topic.p,
                      (size_t)(s->topic.len > 0 ? s->topic.len : 0),
                      s->partition_ids.v[j]);
    }
    arena_free(&a);
}

static void load_partition(txn_node *tn, cl_partition *part) {
    log_partition *log = txn_leader_log(tn, part);
    if (!log)
        return;
    int64_t off = log_start_offset(log), end = log_end_offset(log);
    uint8_t *data = NULL;
    size_t cap = 0;
    while (off < end) {
        log_read_result rr;
        if (log_read(log, off, 4 << 20, -1, true, &rr) || rr.len <= 0) {
            log_read_release(&rr);
            break;
        }
        if ((size_t)rr.len > cap) {
            cap = (size_t)rr.len;
            data = xrealloc(data, cap);
        }
        ssize_t got = log_read_pread(&rr, data, (size_t)rr.len, rr.file_pos);
        log_read_release(&rr);
        if (got <= 0)
            break;
        size_t pos = 0;
        int64_t next = off;
        while (pos < (size_t)got) {
            log_batch_header h;
            if (batch_validate_stored(data + pos, (size_t)got - pos, &h))
                break;
            if (batch_last_offset(&h) >= off && !batch_is_control(&h)) {
                buf dec;
                buf_init(&dec, 0);
                const uint8_t *recs = data + pos + BATCH_HEADER_SIZE;
                size_t n = (size_t)batch_size(&h) - BATCH_HEADER_SIZE;
                bool ok = true;
                if (batch_compression(&h)) {
                    ok = batch_decompress_records(&h, data + pos, 64u << 20,
                                                  &dec) == 0;
                    recs = dec.data;
                    n = dec.len;
                }
                if (ok) {
                    batch_iter it;
                    batch_iter_init(&it, &h, recs, n);
                    log_record r;
                    while (batch_iter_next(&it, &r) == 1)
                        replay_record(tn, &r);
                }
                buf_free(&dec);
            }
            next = batch_last_offset(&h) + 1;
            pos += (size_t)batch_size(&h);
        }
        if (next <= off)
            break;
        off = next;
    }
    free(data);
}

static void tick_cb(net_loop *loop, void *ctx);

static void on_shutdown(void *arg) {
    txn_node *t = arg;
    t->coord_stopping = true;
    if (t->tick_timer)
        net_timer_cancel(t->rt->loop, t->tick_timer);
    t->tick_timer = 0;
    if (t->retry_timer)
        net_timer_cancel(t->rt->loop, t->retry_timer);
    t->retry_timer = 0;
    txn_markers_close(t); /* what is in flight is answered, ignored */
}

/* Kafka's two cleanup intervals; the tick runs at the shorter one. */
static int64_t tick_ms(const txn_node *t) {
    int64_t a = coord_cfg_i64(
        t->rt,
        COORD_CFG_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS);
    int64_t r = coord_cfg_i64(
        t->rt,
        COORD_CFG_TRANSACTION_REMOVE_EXPIRED_TRANSACTION_CLEANUP_INTERVAL_MS);
    return a < r ? a : r;
}

/* Finishes Prepare* transactions, aborts timed-out ones, expires ids (at
 * transaction.remove.expired.transaction.cleanup.interval.ms). */
static void housekeeping(txn_node *t) {
    int64_t now = clk_wall_ms();
    bool expire = now >= t->next_expire_ms;
    if (expire)
        t->next_expire_ms =
            now +
            coord_cfg_i64(
                t->rt,
                COORD_CFG_TRANSACTION_REMOVE_EXPIRED_TRANSACTION_CLEANUP_INTERVAL_MS);
    int64_t id_exp =
        coord_cfg_i64(t->rt, COORD_CFG_TRANSACTIONAL_ID_EXPIRATION_MS);
    for (int i = 0; i < t->n_metas; i++) {
        txn_meta *m = t->metas[i];
        if (m->state == TS_PREPARE_COMMIT || m->state == TS_PREPARE_ABORT) {
            complete_txn(t, m);
        } else if (m->state == TS_ONGOING &&
                   m->start_ts + m->timeout_ms < now) {
            SL_INFO("txn",
                    "aborting transaction %s (producer %lld): timed out after "
                    "%d ms",
                    m->tid, (long long)m->pid, m->timeout_ms);
            /* Kafka fences the producer: the abort uses epoch + 1. */
            int16_t ep =
                m->epoch < EPOCH_EXHAUSTED ? (int16_t)(m->epoch + 1) : m->epoch;
            end_txn(t, m, false, ep);
        } else if (expire &&
                   (m->state == TS_EMPTY || m->state == TS_COMPLETE_COMMIT ||
                    m->state == TS_COMPLETE_ABORT) &&
                   m->update_ts + id_exp <= now) {
            SL_INFO("txn", "expiring transactional id %s", m->tid);
            if (append_state(t, m, NULL) == 0) {
                meta_remove(t, m);
                i--;
            }
        }
    }
}

static void tick_cb(net_loop *loop, void *ctx) {
    txn_node *t = ctx;
    t->tick_timer = 0;
    if (t->coord_stopping)
        return;
    housekeeping(t);
    t->tick_timer = net_timer_add(loop, tick_ms(t), tick_cb, t);
}

/* Forgets the transactional ids of __transaction_state partition p (Kafka's
 * TransactionStateManager.removeTransactionsForTxnTopicPartition). */
static void unload_partition(txn_node *tn, int32_t p) {
    int32_t np = num_state_parts(tn);
    int n = 0;
    for (int i = 0; i < tn->n_metas; i++) {
        txn_meta *m = tn->metas[i];
        if (partition_for(tn, m->tid, m->tid_len, np) == p) {
            meta_remove(tn, m);
            i--;
            n++;
        }
    }
    tn->part_loaded[p] = 0;
    SL_INFO("txn",
            "Resigned as the transaction coordinator for partition %d: "
            "unloaded %d transactional ids of %s-%d",
            p, n, TXN_STATE_TOPIC, p);
}

/* Brings partition p of __transaction_state in line with its leadership
 * (Kafka's TransactionCoordinator.onElection / onResignation): loaded from
 * its log when this node leads it, forgotten when it does not. The load
 * is synchronous (the partitions are compacted and small), so requests
 * never see it half done; prepared transactions of p are completed once it
 * is loaded. */
static void sync_partition(txn_node *tn, cl_topic *t, int32_t p) {
    cl_partition *part = p < t->n_partitions ? t->parts[p] : NULL;
    bool lead = part && txn_leader_log(tn, part) != NULL;
    if (lead && !tn->part_loaded[p]) {
        int64_t t0 = clk_mono_ms();
        int before = tn->n_metas;
        load_partition(tn, part);
        tn->part_loaded[p] = 1;
        SL_INFO("txn",
                "Elected as the transaction coordinator for partition %d: "
                "loaded %d transactional ids from %s-%d in %lld ms",
                p, tn->n_metas - before, TXN_STATE_TOPIC, p,
                (long long)(clk_mono_ms() - t0));
        /* Complete what a crash or the old coordinator left prepared. */
        int32_t np = num_state_parts(tn);
        for (int i = 0; i < tn->n_metas; i++) {
            txn_meta *m = tn->metas[i];
            if ((m->state == TS_PREPARE_COMMIT ||
                 m->state == TS_PREPARE_ABORT) &&
                partition_for(tn, m->tid, m->tid_len, np) == p)
                complete_txn(tn, m);
        }
    } else if (!lead && tn->part_loaded[p]) {
        unload_partition(tn, p);
    }
}

void txn_coord_ensure(txn_node *tn) {
    if (tn->loading || tn->coord_stopping || !coord_image(tn->rt))
        return;
    cl_topic *t = cl_topic_find(coord_image(tn->rt), TXN_STATE_TOPIC,
                                strlen(TXN_STATE_TOPIC));
    if (!t)
        return; /* nothing to load until the topic exists */
    tn->loading = true;
    if (!tn->loaded) {
        tn->n_part_loaded = t->n_partitions;
        tn->part_loaded =
            xcalloc((size_t)(t->n_partitions > 0 ? t->n_partitions : 1), 1);
        tn->loaded = true;
        coord_on_shutdown(tn->rt, on_shutdown, tn);
        if (tn->rt->loop)
            tn->tick_timer =
                net_timer_add(tn->rt->loop, tick_ms(tn), tick_cb, tn);
    }
    for (int32_t p = 0; p < t->n_partitions && p < tn->n_part_loaded; p++)
        sync_partition(tn, t, p);
    tn->loading = false;
}

void txn_partition_changed(txn_node *tn, int32_t p, bool leader) {
    SL_UNUSED(leader); /* the replica manager says; sync_partition asks it */
    if (!tn->loaded || tn->loading || tn->coord_stopping || p < 0 ||
        p >= tn->n_part_loaded)
        return; /* not started: loaded on first use */
    cl_topic *t = cl_topic_find(coord_image(tn->rt), TXN_STATE_TOPIC,
                                strlen(TXN_STATE_TOPIC));
    if (!t)
        return;
    tn->loading = true;
    sync_partition(tn, t, p);
    tn->loading = false;
}

int32_t txn_coordinator_of(txn_node *tn, proto_str tid) {
    cl_partition *p =
        topic_part(tn, TXN_STATE_TOPIC,
                   partition_for(tn, tid.p, tid.len > 0 ? (size_t)tid.len : 0,
                                 num_state_parts(tn)));
    return p ? p->leader : -1;
}

int16_t txn_ensure_state_topic(txn_node *tn) {
    if (!cl_topic_find(coord_image(tn->rt), TXN_STATE_TOPIC,
                       strlen(TXN_STATE_TOPIC))) {
        int16_t rf = (int16_t)coord_cfg_i64(
            tn->rt, COORD_CFG_TRANSACTION_STATE_LOG_REPLICATION_FACTOR);
        if (rf > tn->rt->svc.live_brokers(tn->rt->svc.host)) {
            SL_WARN("txn",
                    "cannot create %s: "
                    "transaction.state.log.replication.factor %d > %d "
                    "live brokers",
                    TXN_STATE_TOPIC, rf,
                    tn->rt->svc.live_brokers(tn->rt->svc.host));
            return KERR_COORDINATOR_NOT_AVAILABLE;
        }
        char min_isr[24];
        snprintf(min_isr, sizeof min_isr, "%lld",
                 (long long)coord_cfg_i64(
                     tn->rt, COORD_CFG_TRANSACTION_STATE_LOG_MIN_ISR));
        /* Kafka's TransactionLog.transactionTopicConfigs */
        sl_kv kv[] = {{"cleanup.policy", "compact"},
                      {"compression.type", "uncompressed"},
                      {"min.insync.replicas", min_isr},
                      {"segment.bytes", "104857600"},
                      {"unclean.leader.election.enable", "false"}};
        int16_t e = tn->rt->svc.create_topic(tn->rt->svc.host, TXN_STATE_TOPIC,
                                             num_state_parts(tn), rf, kv,
                                             SL_ARRAY_LEN(kv));
        if (e) {
            SL_WARN("txn", "creating %s failed: %s", TXN_STATE_TOPIC,
                    proto_error_name(e));
            return KERR_COORDINATOR_NOT_AVAILABLE;
        }
    }
    txn_coord_ensure(tn);
    return tn->loaded ? KERR_NONE : KERR_COORDINATOR_NOT_AVAILABLE;
}

/* 0 or the error for a request about transactional id tid. */
static int16_t coord_check(txn_node *tn, proto_str tid) {
    if (tid.len <= 0)
        return KERR_INVALID_REQUEST;
    int16_t e = txn_ensure_state_topic(tn);
    if (e)
        return KERR_NOT_COORDINATOR;
    int32_t pi = partition_for(tn, tid.p, (size_t)tid.len, num_state_parts(tn));
    cl_partition *p = topic_part(tn, TXN_STATE_TOPIC, pi);
    if (!txn_leader_log(tn, p) || pi >= tn->n_part_loaded ||
        !tn->part_loaded[pi])
        return KERR_NOT_COORDINATOR;
    return KERR_NONE;
}

int16_t txn_coord_verify(txn_node *tn, int64_t producer_id, int16_t epoch,
                         const char *topic, int32_t partition) {
    txn_coord_ensure(tn);
    txn_node *t = tn;
    for (int i = 0; i < t->n_metas; i++) {
        txn_meta *m = t->metas[i];
        if (m->pid != producer_id)
            continue;
        if (epoch < m->epoch)
            return KERR_INVALID_PRODUCER_EPOCH;
        if (m->state != TS_ONGOING || epoch != m->epoch ||
            !parts_has(m, topic, strlen(topic), partition))
            return KERR_INVALID_TXN_STATE;
        return KERR_NONE;
    }
    /* Not one of this node's transactional ids: when another node may be
     * its coordinator (this one does not lead every __transaction_state
     * partition), it cannot be checked here. Kafka's partition leader asks
     * the coordinator (AddPartitionsToTxn v4+, verifyOnly); not done yet:
     * the batch is taken. */
    for (int32_t p = 0; t->loaded && p < t->n_part_loaded; p++)
        if (!t->part_loaded[p])
            return KERR_NONE;
    return KERR_INVALID_TXN_STATE;
}

/* ---- InitProducerId (22)
 * ------------------------------------------------------------ */

static int16_t init_pid(txn_node *tn, const proto_init_producer_id_request *rq,
                        int64_t *pid, int16_t *epoch) {
    *pid = -1;
    *epoch = -1;
    if (rq->transactional_id.len < 0) {
        int16_t e = txn_alloc_producer_id(tn, pid);
        if (!e)
            *epoch = 0;
        return e;
    }
    if (rq->transactional_id.len == 0)
        return KERR_INVALID_REQUEST;
    if (rq->transaction_timeout_ms <= 0 ||
        rq->transaction_timeout_ms >
            coord_cfg_i64(tn->rt, COORD_CFG_TRANSACTION_MAX_TIMEOUT_MS))
        return KERR_INVALID_TRANSACTION_TIMEOUT;
    int16_t e = coord_check(tn, rq->transactional_id);
    if (e)
        return e;
    txn_node *t = tn;
    txn_meta *m =
        meta_find(t, rq->transactional_id.p, (size_t)rq->transactional_id.len);
    bool fresh = false;
    if (!m) {
        int64_t new_pid;
        e = txn_alloc_producer_id(tn, &new_pid);
        if (e)
            return e;
        m = meta_new(t, rq->transactional_id.p,
                     (size_t)rq->transactional_id.len);
        m->pid = new_pid;
        m->state = TS_EMPTY;
        m->timeout_ms = rq->transaction_timeout_ms;
        fresh = true;
    }
    int64_t now = clk_wall_ms();
    /* KIP-360: a producer that names its current id/epoch */
    if (!fresh && rq->producer_id >= 0) {
        bool valid = m->epoch == -1 || rq->producer_id == m->pid ||
                     (rq->producer_id == m->last_pid &&
                      rq->producer_epoch >= EPOCH_EXHAUSTED);
        if (!valid)
            return KERR_PRODUCER_FENCED;
    }
    switch (m->state) {
    case TS_PREPARE_ABORT:
    case TS_PREPARE_COMMIT:
        return KERR_CONCURRENT_TRANSACTIONS;
    case TS_ONGOING: {
        /* Fence the previous incarnation: abort its transaction with a
         * bumped epoch; the client retries (CONCURRENT_TRANSACTIONS). */
        int16_t ep =
            m->epoch < EPOCH_EXHAUSTED ? (int16_t)(m->epoch + 1) : m->epoch;
        e = end_txn(t, m, false, ep);
        return e ? e : KERR_CONCURRENT_TRANSACTIONS;
    }
    case TS_DEAD:
    case TS_PREPARE_EPOCH_FENCE:
        return KERR_CONCURRENT_TRANSACTIONS;
    default:
        break;
    }
    txn_next x = next_of(m);
    x.timeout_ms = rq->transaction_timeout_ms;
    x.state = TS_EMPTY;
    x.n_parts = 0;
    x.parts = NULL;
    x.start_ts = -1;
    x.update_ts = now;
    if (!fresh && rq->producer_id >= 0 && rq->producer_id == m->pid &&
        rq->producer_epoch != m->epoch) {
        if (rq->producer_epoch == m->last_epoch) {
            *pid = m->pid; /* a retry of the bump we already made */
            *epoch = m->epoch;
            return KERR_NONE;
        }
        return KERR_PRODUCER_FENCED;
    }
    if (m->epoch >= EPOCH_EXHAUSTED) {
        x.last_pid = m->pid;
        x.last_epoch = m->epoch;
        e = txn_alloc_producer_id(tn, &x.pid);
        if (e)
            return e;
        x.epoch = 0;
    } else {
        x.last_epoch = m->epoch;
        x.epoch = (int16_t)(m->epoch + 1);
    }
    e = transit(t, m, &x);
    if (e) {
        if (fresh)
            meta_remove(t, m);
        return e;
    }
    *pid = m->pid;
    *epoch = m->epoch;
    return KERR_NONE;
}

static void init_pid_encode(coord_req *req, int16_t e, int64_t pid,
                            int16_t ep) {
    proto_init_producer_id_response rs;
    proto_init_producer_id_response_init(&rs);
    if (e == KERR_PRODUCER_FENCED && req->api_version < 4)
        e = KERR_INVALID_PRODUCER_EPOCH;
    rs.error_code = e;
    rs.producer_id = e ? -1 : pid;
    rs.producer_epoch = e ? -1 : ep;
    proto_init_producer_id_response_encode(coord_resp_buf(req),
                                           req->api_version, &rs);
}

/* An InitProducerId waiting for a producer id block; in its arena. */
typedef struct pid_waiter {
    struct pid_waiter *next;
    coord_req *req;
    proto_init_producer_id_request *rq;
} pid_waiter;

/* Answers rq, or keeps it waiting (COORD_DEFER) while a producer id block
 * is being committed: it runs again from the start when the block is
 * there (init_pid changes nothing before it has its id). */
static coord_status init_pid_run(txn_node *tn, coord_req *req,
                                 proto_init_producer_id_request *rq) {
    int64_t pid;
    int16_t ep;
    int16_t e = init_pid(tn, rq, &pid, &ep);
    if (e == TXN_PID_PENDING) {
        pid_waiter *w = arena_calloc(req->arena, 1, sizeof *w);
        w->req = req;
        w->rq = rq;
        *tn->pid_waiters_tail = w;
        tn->pid_waiters_tail = &w->next;
        return COORD_DEFER;
    }
    init_pid_encode(req, e, pid, ep);
    return COORD_DONE;
}

/* Takes the waiting list (the runs below may add to a new one). */
static pid_waiter *take_pid_waiters(txn_node *tn) {
    pid_waiter *w = tn->pid_waiters;
    tn->pid_waiters = NULL;
    tn->pid_waiters_tail = &tn->pid_waiters;
    return w;
}

void txn_pid_block_ready(txn_node *tn, int16_t err) {
    for (pid_waiter *w = take_pid_waiters(tn), *next; w; w = next) {
        next = w->next; /* w lives in its request's arena */
        if (err) {
            init_pid_encode(w->req, KERR_COORDINATOR_LOAD_IN_PROGRESS, -1, -1);
            coord_req_complete(w->req, COORD_DONE);
        } else if (init_pid_run(tn, w->req, w->rq) == COORD_DONE) {
            coord_req_complete(w->req, COORD_DONE);
        }
    }
}

void txn_pid_shutdown(void *arg) {
    txn_node *tn = arg;
    for (pid_waiter *w = take_pid_waiters(tn), *next; w; w = next) {
        next = w->next;
        init_pid_encode(w->req, KERR_NOT_COORDINATOR, -1, -1);
        coord_req_complete(w->req, COORD_DONE);
    }
}

coord_status txn_handle_init_producer_id(txn_node *tn, coord_req *req) {
    proto_init_producer_id_request *rq =
        arena_calloc(req->arena, 1, sizeof *rq); /* kept if it waits */
    if (proto_init_producer_id_request_decode(&req->body, req->arena,
                                              req->api_version, rq) != PROTO_OK)
        return COORD_CLOSE;
    return init_pid_run(tn, req, rq);
}

/* ---- AddPartitionsToTxn (24), AddOffsetsToTxn (25)
 * ------------------------------------ */

/* Common checks of Kafka's handleAddPartitionsToTransaction / EndTxn. */
static int16_t check_producer(txn_meta *m, int64_t pid, int16_t epoch) {
    if (!m || m->pid != pid)
        return KERR_INVALID_PRODUCER_ID_MAPPING;
    if (epoch != m->epoch)
        return KERR_PRODUCER_FENCED;
    return KERR_NONE;
}

typedef struct tp_in {
    const char *topic;
    size_t len;
    int32_t partition;
    int16_t err;
} tp_in;

static int16_t add_partitions(txn_node *tn, proto_str tid, int64_t pid,
                              int16_t epoch, tp_in *tps, int n,
                              bool verify_only) {
    int16_t e = coord_check(tn, tid);
    if (e)
        return e;
    txn_node *t = tn;
    txn_meta *m = meta_find(t, tid.p, (size_t)tid.len);
    if ((e = check_producer(m, pid, epoch)))
        return e;
    if (m->state == TS_PREPARE_COMMIT || m->state == TS_PREPARE_ABORT)
        return KERR_CONCURRENT_TRANSACTIONS;
    bool bad = false;
    for (int i = 0; i < n; i++) {
        tps[i].err = KERR_NONE;
        if (strcmp(TXN_STATE_TOPIC, "") &&
            tps[i].len == strlen(TXN_STATE_TOPIC) &&
            memcmp(tps[i].topic, TXN_STATE_TOPIC, tps[i].len) == 0) {
            tps[i].err = KERR_TOPIC_AUTHORIZATION_FAILED;
            bad = true;
            continue;
        }
        int16_t pe;
        if (!coord_find_partition(tn->rt, tps[i].topic, tps[i].len,
                                  tps[i].partition, &pe)) {
            tps[i].err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            bad = true;
        }
    }
    if (bad) {
        for (int i = 0; i < n; i++)
            if (!tps[i].err)
                tps[i].err = KERR_OPERATION_NOT_ATTEMPTED;
        return KERR_NONE;
    }
    if (verify_only) {
        for (int i = 0; i < n; i++)
            if (m->state != TS_ONGOING ||
                !parts_has(m, tps[i].topic, tps[i].len, tps[i].partition))
                tps[i].err = KERR_INVALID_TXN_STATE;
        return KERR_NONE;
    }
    bool all_in = m->state == TS_ONGOING;
    for (int i = 0; i < n && all_in; i++)
        all_in = parts_has(m, tps[i].topic, tps[i].len, tps[i].partition);
    if (all_in)
        return KERR_NONE;
    int old_n = m->n_parts;
    for (int i = 0; i < n; i++)
        parts_add(m, tps[i].topic, tps[i].len, tps[i].partition);
    txn_next x = next_of(m);
    int64_t now = clk_wall_ms();
    if (m->state != TS_ONGOING)
        x.start_ts = now;
    x.state = TS_ONGOING;
    x.update_ts = now;
    e = transit(t, m, &x);
    if (e) {
        while (m->n_parts > old_n) {
            m->n_parts--;
            free(m->parts[m->n_parts].topic);
        }
        return e;
    }
    return KERR_NONE;
}

static int16_t fenced_err(int16_t e, int16_t version,
                          int16_t first_fenced_version) {
    return e == KERR_PRODUCER_FENCED && version < first_fenced_version
               ? KERR_INVALID_PRODUCER_EPOCH
               : e;
}

static void fill_topic_results(
    coord_req *req,
    proto_add_partitions_to_txn_request_add_partitions_to_txn_topic *tv,
    int32_t nt, tp_in *tps, int16_t top_err,
    proto_add_partitions_to_txn_response_add_partitions_to_txn_topic_result *
        *out,
    int32_t *n_out) {
    proto_add_partitions_to_txn_response_add_partitions_to_txn_topic_result
        *res = arena_calloc(req->arena, (size_t)(nt ? nt : 1), sizeof *res);
    int k = 0;
    for (int32_t i = 0; i < nt; i++) {
        proto_add_partitions_to_txn_response_add_partitions_to_txn_topic_result_init(
            &res[i]);
        res[i].name = tv[i].name;
        int32_t np = COORD_RESP_ARRAY(req, res[i].results_by_partition,
                                      tv[i].partitions.n);
        for (int32_t j = 0; j < np; j++, k++) {
            proto_add_partitions_to_txn_response_add_partitions_to_txn_partition_result
                *pr = &res[i].results_by_partition.v[j];
            proto_add_partitions_to_txn_response_add_partitions_to_txn_partition_result_init(
                pr);
            pr->partition_index = tv[i].partitions.v[j];
            pr->partition_error_code = top_err ? top_err : tps[k].err;
        }
    }
    *out = res;
    *n_out = nt;
}

static tp_in *
collect_tps(coord_req *req,
            proto_add_partitions_to_txn_request_add_partitions_to_txn_topic *tv,
            int32_t nt, int *n) {
    int total = 0;
    for (int32_t i = 0; i < nt; i++)
        total += tv[i].partitions.n > 0 ? tv[i].partitions.n : 0;
    tp_in *tps =
        arena_calloc(req->arena, (size_t)(total ? total : 1), sizeof *tps);
    int k = 0;
    for (int32_t i = 0; i < nt; i++)
        for (int32_t j = 0; j < tv[i].partitions.n; j++, k++) {
            tps[k].topic = tv[i].name.p ? tv[i].name.p : "";
            tps[k].len = tv[i].name.len > 0 ? (size_t)tv[i].name.len : 0;
            tps[k].partition = tv[i].partitions.v[j];
        }
    *n = total;
    return tps;
}

coord_status txn_handle_add_partitions_to_txn(txn_node *tn, coord_req *req) {
    proto_add_partitions_to_txn_request rq;
    if (proto_add_partitions_to_txn_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    proto_add_partitions_to_txn_response rs;
    proto_add_partitions_to_txn_response_init(&rs);
    if (req->api_version < 4) {
        int n;
        int32_t nt =
            rq.v3_and_below_topics.n > 0 ? rq.v3_and_below_topics.n : 0;
        tp_in *tps = collect_tps(req, rq.v3_and_below_topics.v, nt, &n);
        int16_t e = add_partitions(
            tn, rq.v3_and_below_transactional_id, rq.v3_and_below_producer_id,
            rq.v3_and_below_producer_epoch, tps, n, false);
        e = fenced_err(e, req->api_version, 2);
        fill_topic_results(req, rq.v3_and_below_topics.v, nt, tps, e,
                           &rs.results_by_topic_v3_and_below.v,
                           &rs.results_by_topic_v3_and_below.n);
    } else {
        int32_t ntx =
            COORD_RESP_ARRAY(req, rs.results_by_transaction, rq.transactions.n);
        for (int32_t t = 0; t < ntx; t++) {
            proto_add_partitions_to_txn_request_add_partitions_to_txn_transaction
                *tx = &rq.transactions.v[t];
            proto_add_partitions_to_txn_response_add_partitions_to_txn_result
                *tr = &rs.results_by_transaction.v[t];
            proto_add_partitions_to_txn_response_add_partitions_to_txn_result_init(
                tr);
            tr->transactional_id = tx->transactional_id;
            int n;
            int32_t nt = tx->topics.n > 0 ? tx->topics.n : 0;
            tp_in *tps = collect_tps(req, tx->topics.v, nt, &n);
            int16_t e =
                add_partitions(tn, tx->transactional_id, tx->producer_id,
                               tx->producer_epoch, tps, n, tx->verify_only);
            fill_topic_results(req, tx->topics.v, nt, tps, e,
                               &tr->topic_results.v, &tr->topic_results.n);
        }
    }
    proto_add_partitions_to_txn_response_encode(coord_resp_buf(req),
                                                req->api_version, &rs);
    return COORD_DONE;
}

coord_status txn_handle_add_offsets_to_txn(txn_node *tn, coord_req *req) {
    proto_add_offsets_to_txn_request rq;
    if (proto_add_offsets_to_txn_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    proto_add_offsets_to_txn_response rs;
    proto_add_offsets_to_txn_response_init(&rs);
    int16_t e;
    if (rq.group_id.len <= 0) {
        e = KERR_INVALID_REQUEST;
    } else {
        tp_in tp = {OFFSETS_TOPIC, strlen(OFFSETS_TOPIC),
                    offsets_partition_for(tn, rq.group_id), 0};
        e = coord_check(tn, rq.transactional_id);
        if (!e) {
            txn_meta *m = meta_find(tn, rq.transactional_id.p,
                                    (size_t)rq.transactional_id.len);
            e = check_producer(m, rq.producer_id, rq.producer_epoch);
            if (!e &&
                (m->state == TS_PREPARE_COMMIT || m->state == TS_PREPARE_ABORT))
                e = KERR_CONCURRENT_TRANSACTIONS;
            if (!e && !(m->state == TS_ONGOING &&
                        parts_has(m, tp.topic, tp.len, tp.partition))) {
                int old_n = m->n_parts;
                parts_add(m, tp.topic, tp.len, tp.partition);
                txn_next x = next_of(m);
                int64_t now = clk_wall_ms();
                if (m->state != TS_ONGOING)
                    x.start_ts = now;
                x.state = TS_ONGOING;
                x.update_ts = now;
                e = transit(tn, m, &x);
                if (e && m->n_parts > old_n) {
                    m->n_parts--;
                    free(m->parts[m->n_parts].topic);
                }
            }
        }
        e = fenced_err(e, req->api_version, 2);
    }
    rs.error_code = e;
    proto_add_offsets_to_txn_response_encode(coord_resp_buf(req),
                                             req->api_version, &rs);
    return COORD_DONE;
}

/* ---- EndTxn (26)
 * -------------------------------------------------------------------- */

coord_status txn_handle_end_txn(txn_node *tn, coord_req *req) {
    proto_end_txn_request rq;
    if (proto_end_txn_request_decode(&req->body, req->arena, req->api_version,
                                     &rq) != PROTO_OK)
        return COORD_CLOSE;
    proto_end_txn_response rs;
    proto_end_txn_response_init(&rs);
    int16_t e = coord_check(tn, rq.transactional_id);
    txn_meta *m = NULL;
    if (!e) {
        m = meta_find(tn, rq.transactional_id.p,
                      (size_t)rq.transactional_id.len);
        e = check_producer(m, rq.producer_id, rq.producer_epoch);
    }
    if (!e) {
        switch (m->state) {
        case TS_ONGOING:
            e = end_txn(tn, m, rq.committed, m->epoch);
            break;
        case TS_COMPLETE_COMMIT:
            e = rq.committed ? KERR_NONE : KERR_INVALID_TXN_STATE;
            break;
        case TS_COMPLETE_ABORT:
            e = rq.committed ? KERR_INVALID_TXN_STATE : KERR_NONE;
            break;
        case TS_PREPARE_COMMIT:
            e = rq.committed ? KERR_CONCURRENT_TRANSACTIONS
                             : KERR_INVALID_TXN_STATE;
            break;
        case TS_PREPARE_ABORT:
            e = rq.committed ? KERR_INVALID_TXN_STATE
                             : KERR_CONCURRENT_TRANSACTIONS;
            break;
        default:
            e = KERR_INVALID_TXN_STATE;
        }
    }
    rs.error_code = fenced_err(e, req->api_version, 2);
    proto_end_txn_response_encode(coord_resp_buf(req), req->api_version, &rs);
    return COORD_DONE;
}

/* ---- WriteTxnMarkers (27)
 * -------------------------------------------------------------- */

coord_status txn_handle_write_txn_markers(txn_node *tn, coord_req *req) {
    proto_write_txn_markers_request rq;
    if (proto_write_txn_markers_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    proto_write_txn_markers_response rs;
    proto_write_txn_markers_response_init(&rs);
    int32_t nm = COORD_RESP_ARRAY(req, rs.markers, rq.markers.n);
    for (int32_t i = 0; i < nm; i++) {
        proto_write_txn_markers_request_writable_txn_marker *mk =
            &rq.markers.v[i];
        proto_write_txn_markers_response_writable_txn_marker_result *mr =
            &rs.markers.v[i];
        proto_write_txn_markers_response_writable_txn_marker_result_init(mr);
        mr->producer_id = mk->producer_id;
        int32_t nt = COORD_RESP_ARRAY(req, mr->topics, mk->topics.n);
        for (int32_t t = 0; t < nt; t++) {
            proto_write_txn_markers_request_writable_txn_marker_topic *tt =
                &mk->topics.v[t];
            proto_write_txn_markers_response_writable_txn_marker_topic_result
                *tr = &mr->topics.v[t];
            proto_write_txn_markers_response_writable_txn_marker_topic_result_init(
                tr);
            tr->name = tt->name;
            int32_t np =
                COORD_RESP_ARRAY(req, tr->partitions, tt->partition_indexes.n);
            for (int32_t j = 0; j < np; j++) {
                proto_write_txn_markers_response_writable_txn_marker_partition_result
                    *pr = &tr->partitions.v[j];
                proto_write_txn_markers_response_writable_txn_marker_partition_result_init(
                    pr);
                pr->partition_index = tt->partition_indexes.v[j];
                int16_t e;
                const cl_partition *p = coord_find_partition(
                    tn->rt, tt->name.p ? tt->name.p : "",
                    tt->name.len > 0 ? (size_t)tt->name.len : 0,
                    pr->partition_index, &e);
                if (p) {
                    e = txn_write_marker(tn, (cl_partition *)p, mk->producer_id,
                                         mk->producer_epoch,
                                         mk->transaction_result
                                             ? BATCH_CONTROL_COMMIT
                                             : BATCH_CONTROL_ABORT,
                                         mk->coordinator_epoch);
                    if (!e && tt->name.len == (int32_t)strlen(OFFSETS_TOPIC) &&
                        memcmp(tt->name.p, OFFSETS_TOPIC,
                               strlen(OFFSETS_TOPIC)) == 0)
                        offsets_marker(tn, pr->partition_index, mk->producer_id,
                                       mk->transaction_result);
                }
                pr->error_code = e;
            }
        }
    }
    proto_write_txn_markers_response_encode(coord_resp_buf(req),
                                            req->api_version, &rs);
    return COORD_DONE;
}

/* ---- DescribeTransactions (65), ListTransactions (66)
 * --------------------------------- */

coord_status txn_handle_describe_transactions(txn_node *tn, coord_req *req) {
    proto_describe_transactions_request rq;
    if (proto_describe_transactions_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    txn_coord_ensure(tn);
    proto_describe_transactions_response rs;
    proto_describe_transactions_response_init(&rs);
    int32_t n =
        COORD_RESP_ARRAY(req, rs.transaction_states, rq.transactional_ids.n);
    for (int32_t i = 0; i < n; i++) {
        proto_describe_transactions_response_transaction_state *s =
            &rs.transaction_states.v[i];
        proto_describe_transactions_response_transaction_state_init(s);
        proto_str tid = rq.transactional_ids.v[i];
        s->transactional_id = tid;
        s->transaction_state = proto_str_c("");
        s->producer_id = -1;
        s->producer_epoch = -1;
        s->transaction_start_time_ms = -1;
        txn_meta *m = tn->loaded && tid.len > 0
                          ? meta_find(tn, tid.p, (size_t)tid.len)
                          : NULL;
        if (!m || m->state == TS_DEAD) {
            s->error_code = KERR_TRANSACTIONAL_ID_NOT_FOUND;
            continue;
        }
        s->transaction_state = proto_str_c(state_names[m->state & 7]);
        s->transaction_timeout_ms = m->timeout_ms;
        s->transaction_start_time_ms =
            m->state == TS_ONGOING ? m->start_ts : -1;
        s->producer_id = m->pid;
        s->producer_epoch = m->epoch;
        /* partitions grouped by topic */
        s->topics.v =
            arena_calloc(req->arena, (size_t)(m->n_parts ? m->n_parts : 1),
                         sizeof *s->topics.v);
        int nt = 0;
        for (int a = 0; a < m->n_parts; a++) {
            int t;
            for (t = 0; t < nt; t++)
                if (proto_str_eq(s->topics.v[t].topic, m->parts[a].topic))
                    break;
            if (t == nt) {
                proto_describe_transactions_response_topic_data_init(
                    &s->topics.v[nt]);
                s->topics.v[nt].topic = proto_str_c(arena_strndup(
                    req->arena, m->parts[a].topic, strlen(m->parts[a].topic)));
                s->topics.v[nt].partitions.v = arena_calloc(
                    req->arena, (size_t)m->n_parts, sizeof(int32_t));
                nt++;
            }
            s->topics.v[t].partitions.v[s->topics.v[t].partitions.n++] =
                m->parts[a].partition;
        }
        s->topics.n = nt;
    }
    proto_describe_transactions_response_encode(coord_resp_buf(req),
                                                req->api_version, &rs);
    return COORD_DONE;
}

coord_status txn_handle_list_transactions(txn_node *tn, coord_req *req) {
    proto_list_transactions_request rq;
    if (proto_list_transactions_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    txn_coord_ensure(tn);
    proto_list_transactions_response rs;
    proto_list_transactions_response_init(&rs);
    /* unknown state filters are echoed back */
    int32_t nf = rq.state_filters.n > 0 ? rq.state_filters.n : 0;
    rs.unknown_state_filters.v =
        arena_calloc(req->arena, (size_t)(nf ? nf : 1), sizeof(proto_str));
    for (int32_t i = 0; i < nf; i++) {
        bool known = false;
        for (size_t s = 0; s < SL_ARRAY_LEN(state_names); s++)
            known |= proto_str_eq(rq.state_filters.v[i], state_names[s]);
        if (!known)
            rs.unknown_state_filters.v[rs.unknown_state_filters.n++] =
                rq.state_filters.v[i];
    }
    rs.transaction_states.v =
        arena_calloc(req->arena, (size_t)(tn->n_metas ? tn->n_metas : 1),
                     sizeof *rs.transaction_states.v);
    int64_t now = clk_wall_ms();
    for (int i = 0; tn->loaded && i < tn->n_metas; i++) {
        txn_meta *m = tn->metas[i];
        if (m->state == TS_DEAD)
            continue;
        const char *sn = state_names[m->state & 7];
        bool ok = nf == 0;
        for (int32_t f = 0; f < nf && !ok; f++)
            ok = proto_str_eq(rq.state_filters.v[f], sn);
        if (ok && rq.producer_id_filters.n > 0) {
            ok = false;
            for (int32_t f = 0; f < rq.producer_id_filters.n && !ok; f++)
                ok = rq.producer_id_filters.v[f] == m->pid;
        }
        if (ok && req->api_version >= 1 && rq.duration_filter >= 0)
            ok = m->state == TS_ONGOING &&
                 now - m->start_ts >= rq.duration_filter;
        if (!ok)
            continue;
        proto_list_transactions_response_transaction_state *s =
            &rs.transaction_states.v[rs.transaction_states.n++];
        proto_list_transactions_response_transaction_state_init(s);
        s->transactional_id = (proto_str){
            arena_strndup(req->arena, m->tid, m->tid_len), (int32_t)m->tid_len};
        s->producer_id = m->pid;
        s->transaction_state = proto_str_c(sn);
    }
    proto_list_transactions_response_encode(coord_resp_buf(req),
                                            req->api_version, &rs);
    return COORD_DONE;
}

/* ---- DescribeProducers (61)
 * -------------------------------------------------------------- */

coord_status txn_handle_describe_producers(txn_node *tn, coord_req *req) {
    proto_describe_producers_request rq;
    if (proto_describe_producers_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    proto_describe_producers_response rs;
    proto_describe_producers_response_init(&rs);
    int32_t nt = COORD_RESP_ARRAY(req, rs.topics, rq.topics.n);
    for (int32_t i = 0; i < nt; i++) {
        proto_describe_producers_request_topic_request *t = &rq.topics.v[i];
        proto_describe_producers_response_topic_response *tr = &rs.topics.v[i];
        proto_describe_producers_response_topic_response_init(tr);
        tr->name = t->name;
        int32_t np =
            COORD_RESP_ARRAY(req, tr->partitions, t->partition_indexes.n);
        for (int32_t j = 0; j < np; j++) {
            proto_describe_producers_response_partition_response *pr =
                &tr->partitions.v[j];
            proto_describe_producers_response_partition_response_init(pr);
            pr->partition_index = t->partition_indexes.v[j];
            int16_t e;
            const cl_partition *p =
                coord_find_partition(tn->rt, t->name.p ? t->name.p : "",
                                     t->name.len > 0 ? (size_t)t->name.len : 0,
                                     pr->partition_index, &e);
            log_partition *log = p ? txn_leader_log(tn, p) : NULL;
            if (p && !log)
                e = KERR_NOT_LEADER_OR_FOLLOWER;
            if (!p || e) {
                pr->error_code = e;
                continue;
            }
            ps_state *ps = txn_part_state(tn, log);
            pr->active_producers.n = ps->n;
            pr->active_producers.v =
                arena_calloc(req->arena, (size_t)(ps->n ? ps->n : 1),
                             sizeof *pr->active_producers.v);
            for (int k = 0; k < ps->n; k++) {
                const ps_entry *en = &ps->entries[k];
                proto_describe_producers_response_producer_state *o =
                    &pr->active_producers.v[k];
                proto_describe_producers_response_producer_state_init(o);
                o->producer_id = en->producer_id;
                o->producer_epoch = en->epoch;
                o->last_sequence = en->n_batches
                                       ? en->batches[en->n_batches - 1].last_seq
                                       : -1;
                o->last_timestamp = en->last_timestamp;
                o->coordinator_epoch = en->coordinator_epoch;
                o->current_txn_start_offset = en->txn_first_offset;
            }
        }
    }
    proto_describe_producers_response_encode(coord_resp_buf(req),
                                             req->api_version, &rs);
    return COORD_DONE;
}
