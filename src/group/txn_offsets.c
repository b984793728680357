/*
 * txn_offsets.c - offsets committed inside a transaction (Kafka's
 * GroupCoordinator side of exactly-once): the TxnOffsetCommit (28) handler,
 * which writes the offsets as a transactional batch to __consumer_offsets,
 * and the pending offsets it leaves per producer id, applied to the
 * coordinator (grp_replay) when the transaction's COMMIT marker lands on
 * that partition and dropped at ABORT, at runtime (the transaction layer
 * tells us, txn_set_offsets_listener) or when __consumer_offsets is
 * replayed at start (grp_txn_replay_batch).
 *
 * Invariants: a pending record is applied at most once, in commit order,
 * and only after its marker is in the log. OffsetFetch with require_stable
 * answers UNSTABLE_OFFSET_COMMIT while one is pending for the partition.
 * Threading: the node's loop thread only; the state is brk->grp's.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "cluster/image.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "group/group.h"
#include "group/node.h"
#include "log/batch.h"
#include "log/log.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "txn/txn.h"

#define OFFSETS_TOPIC "__consumer_offsets"

static cl_partition *offsets_partition(brk_broker *brk, int32_t p) {
    cl_topic *t =
        cl_topic_find(brk->image, OFFSETS_TOPIC, strlen(OFFSETS_TOPIC));
    if (!t || p < 0 || p >= t->n_partitions)
        return NULL;
    return t->parts[p];
}

/* ---- TxnOffsetCommit (28)
 * -------------------------------------------------------------- */

brk_status grp_handle_txn_offset_commit(brk_req *req) {
    proto_txn_offset_commit_request rq;
    if (proto_txn_offset_commit_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    brk_broker *brk = req->brk;
    proto_txn_offset_commit_response rs;
    proto_txn_offset_commit_response_init(&rs);
    int32_t nt = BRK_RESP_ARRAY(req, rs.topics, rq.topics.n);
    /* The group id keeps all its bytes (a NUL among them makes another
     * group, as on Kafka). */
    proto_str gid = rq.group_id;
    grp_node *g = brk->grp;
    grp_coord *gc = grp_node_coord(brk);
    int16_t top = KERR_NONE;
    if (gid.len <= 0)
        top = KERR_INVALID_GROUP_ID;
    else
        top = grp_check_coordinator(gc, gid);
    /* The producer must be the current one of its transactional id. */
    if (!top && rq.transactional_id.len > 0)
        top = txn_check_offset_commit(brk, rq.transactional_id, rq.producer_id,
                                      rq.producer_epoch);
    /* v3+: the member must belong to the group's current generation (a
     * classic group) or hold the group's current member epoch (a KIP-848
     * consumer group). */
    if (!top && req->api_version >= 3)
        top = grp_txn_commit_check(gc, gid, rq.member_id, rq.generation_id);
    int32_t gp = gid.len > 0 ? grp_partition_for(gid.p, (size_t)gid.len,
                                                 grp_cfg(gc)->num_partitions)
                             : 0;
    cl_partition *opart = offsets_partition(brk, gp);
    if (!top && (!opart || !opart->log || opart->leader != brk->node_id))
        top = KERR_NOT_COORDINATOR;
    int64_t now = clk_wall_ms();
    int32_t max_meta = grp_cfg(gc)->metadata_max_bytes;
    batch_builder b;
    batch_builder_init(&b, 0, 0);
    batch_builder_set_producer(&b, rq.producer_id, rq.producer_epoch, -1);
    batch_builder_set_transactional(&b, true);
    int n_recs = 0;
    /* records kept to register as pending after the append */
    typedef struct kvrec {
        buf k, v;
    } kvrec;
    int total = 0;
    for (int32_t i = 0; i < nt; i++)
        total +=
            rq.topics.v[i].partitions.n > 0 ? rq.topics.v[i].partitions.n : 0;
    kvrec *kvs = xcalloc((size_t)(total ? total : 1), sizeof *kvs);
    for (int32_t i = 0; i < nt; i++) {
        proto_txn_offset_commit_request_txn_offset_commit_request_topic *t =
            &rq.topics.v[i];
        proto_txn_offset_commit_response_txn_offset_commit_response_topic *tr =
            &rs.topics.v[i];
        proto_txn_offset_commit_response_txn_offset_commit_response_topic_init(
            tr);
        tr->name = t->name;
        int32_t np = BRK_RESP_ARRAY(req, tr->partitions, t->partitions.n);
        for (int32_t j = 0; j < np; j++) {
            proto_txn_offset_commit_request_txn_offset_commit_request_partition
                *p = &t->partitions.v[j];
            proto_txn_offset_commit_response_txn_offset_commit_response_partition
                *pr = &tr->partitions.v[j];
            proto_txn_offset_commit_response_txn_offset_commit_response_partition_init(
                pr);
            pr->partition_index = p->partition_index;
            int16_t e = top;
            int16_t fe;
            if (!e &&
                !brk_find_partition(brk, t->name.p ? t->name.p : "",
                                    t->name.len > 0 ? (size_t)t->name.len : 0,
                                    p->partition_index, &fe))
                e = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            if (!e && p->committed_metadata.len > max_meta)
                e = KERR_OFFSET_METADATA_TOO_LARGE;
            pr->error_code = e;
            if (e)
                continue;
            kvrec *kv = &kvs[n_recs++];
            buf_init(&kv->k, 64);
            buf_init(&kv->v, 64);
            proto_offset_commit_key k;
            proto_offset_commit_key_init(&k);
            k.group = gid;
            k.topic = t->name;
            k.partition = p->partition_index;
            buf_put_be16(&kv->k, 1);
            proto_offset_commit_key_encode(&kv->k, 1, &k);
            proto_offset_commit_value v;
            proto_offset_commit_value_init(&v);
            v.offset = p->committed_offset;
            v.leader_epoch =
                req->api_version >= 2 ? p->committed_leader_epoch : -1;
            v.metadata = p->committed_metadata.len > 0 ? p->committed_metadata
                                                       : proto_str_c("");
            v.commit_timestamp = now;
            v.expire_timestamp = -1;
            buf_put_be16(&kv->v, 3);
            proto_offset_commit_value_encode(&kv->v, 3, &v);
            batch_builder_add(&b, now, kv->k.data, (int32_t)kv->k.len,
                              kv->v.data, (int32_t)kv->v.len, NULL, 0);
        }
    }
    if (n_recs > 0) {
        batch_builder_set_leader_epoch(&b, opart->leader_epoch);
        buf out;
        buf_init(&out, 512);
        int16_t e = batch_builder_finish(&b, &out);
        log_append_info info;
        memset(&info, 0, sizeof info);
        if (!e)
            e = log_append(opart->log, out.data, out.len, opart->leader_epoch,
                           LOG_ORIGIN_COORDINATOR, &info);
        if (!e) {
            log_batch_header h;
            batch_parse_header(out.data, out.len, &h);
            txn_produce_appended(brk, opart->log, &h, info.base_offset);
            if (opart->n_isr <= 1)
                log_set_high_watermark(opart->log, log_end_offset(opart->log));
            for (int i = 0; i < n_recs; i++)
                grp_txn_add_pending(g, gp, rq.producer_id, kvs[i].k.data,
                                    kvs[i].k.len, kvs[i].v.data, kvs[i].v.len);
        } else {
            for (int32_t i = 0; i < nt; i++)
                for (int32_t j = 0; j < rs.topics.v[i].partitions.n; j++)
                    if (!rs.topics.v[i].partitions.v[j].error_code)
                        rs.topics.v[i].partitions.v[j].error_code =
                            e == KERR_KAFKA_STORAGE_ERROR
                                ? KERR_COORDINATOR_NOT_AVAILABLE
                                : e;
        }
        buf_free(&out);
    }
    batch_builder_free(&b);
    for (int i = 0; i < n_recs; i++) {
        buf_free(&kvs[i].k);
        buf_free(&kvs[i].v);
    }
    free(kvs);
    proto_txn_offset_commit_response_encode(brk_resp_buf(req), req->api_version,
                                            &rs);
    return BRK_DONE;
}

/* ---- pending transactional offsets
 * ------------------------------------------------------ */

typedef grp_pending_txn pending_rec;

void grp_txn_add_pending(grp_node *g, int32_t p, int64_t producer_id,
                         const uint8_t *key, size_t key_len,
                         const uint8_t *value, size_t value_len) {
    pending_rec *r = xcalloc(1, sizeof *r);
    r->partition = p;
    r->pid = producer_id;
    r->key = xmalloc(key_len ? key_len : 1);
    memcpy(r->key, key, key_len);
    r->key_len = key_len;
    if (value) {
        r->value = xmalloc(value_len ? value_len : 1);
        memcpy(r->value, value, value_len);
        r->value_len = value_len;
    }
    *g->pending_tail = r;
    g->pending_tail = &r->next;
}

static void pending_free(pending_rec *r) {
    free(r->key);
    free(r->value);
    free(r);
}

void grp_txn_free(grp_node *g) {
    while (g->pending_head) {
        pending_rec *r = g->pending_head;
        g->pending_head = r->next;
        pending_free(r);
    }
    g->pending_tail = &g->pending_head;
}

void grp_txn_complete(grp_node *g, int32_t p, int64_t producer_id,
                      bool commit) {
    grp_coord *c = g->coord;
    pending_rec **pp = &g->pending_head;
    g->pending_tail = &g->pending_head;
    while (*pp) {
        pending_rec *r = *pp;
        if (r->partition == p && r->pid == producer_id) {
            if (commit && c)
                grp_replay(c, p, r->key, r->key_len, r->value, r->value_len);
            *pp = r->next;
            pending_free(r);
            continue;
        }
        pp = &r->next;
    }
    g->pending_tail = pp;
}

bool grp_txn_pending(const grp_node *g, proto_str group, proto_str topic,
                     int32_t partition) {
    if (!g->pending_head || group.len < 0 || topic.len < 0)
        return false;
    size_t glen = (size_t)group.len;
    for (const pending_rec *r = g->pending_head; r; r = r->next) {
        /* key: version int16 (0/1) | group string | topic string | partition
         * int32 */
        rd k;
        rd_init(&k, r->key, r->key_len);
        int16_t ver = (int16_t)rd_be16(&k);
        if (k.err || (ver != 0 && ver != 1))
            continue;
        uint16_t gl = rd_be16(&k);
        const uint8_t *g = rd_bytes(&k, gl);
        uint16_t tl = rd_be16(&k);
        const uint8_t *t = rd_bytes(&k, tl);
        int32_t p = (int32_t)rd_be32(&k);
        if (k.err)
            continue;
        if (p == partition && gl == glen && memcmp(g, group.p, glen) == 0 &&
            tl == (uint16_t)topic.len && memcmp(t, topic.p, tl) == 0)
            return true;
    }
    return false;
}

bool grp_txn_replay_batch(grp_node *g, int32_t partition, const uint8_t *batch,
                          const log_batch_header *h) {
    if (!batch_is_transactional(h))
        return false;
    if (batch_is_control(h)) {
        if (batch_compression(h) != 0)
            return true;
        batch_iter it;
        batch_iter_init(&it, h, batch + BATCH_HEADER_SIZE,
                        (size_t)batch_size(h) - BATCH_HEADER_SIZE);
        log_record r;
        if (batch_iter_next(&it, &r) == 1 && r.key_len >= 4) {
            int type = (int16_t)sl_load_be16(r.key + 2);
            if (type == BATCH_CONTROL_COMMIT || type == BATCH_CONTROL_ABORT)
                grp_txn_complete(g, partition, h->producer_id,
                                 type == BATCH_CONTROL_COMMIT);
        }
        return true;
    }
    buf dec;
    buf_init(&dec, 0);
    const uint8_t *recs = batch + BATCH_HEADER_SIZE;
    size_t n = (size_t)batch_size(h) - BATCH_HEADER_SIZE;
    if (batch_compression(h) != 0) {
        if (batch_decompress_records(h, batch, 64u << 20, &dec)) {
            buf_free(&dec);
            return true;
        }
        recs = dec.data;
        n = dec.len;
    }
    batch_iter it;
    batch_iter_init(&it, h, recs, n);
    log_record r;
    while (batch_iter_next(&it, &r) == 1)
        if (r.key_len >= 0)
            grp_txn_add_pending(g, partition, h->producer_id, r.key,
                                (size_t)r.key_len,
                                r.value_len >= 0 ? r.value : NULL,
                                r.value_len >= 0 ? (size_t)r.value_len : 0);
    buf_free(&dec);
    return true;
}
