/*
 * txn_offsets.c - offsets committed inside a transaction (Kafka's
 * GroupCoordinator side of exactly-once). TxnOffsetCommit (28, handlers.c)
 * writes the offsets as a transactional batch to __consumer_offsets and
 * leaves them here, pending per producer id; they are applied to the
 * coordinator (grp_replay) when the transaction's COMMIT marker lands on
 * that partition and dropped at ABORT, at runtime (the transaction layer
 * tells us, txn_set_offsets_listener) or when __consumer_offsets is
 * replayed at start (grp_txn_replay_batch).
 *
 * Invariants: a pending record is applied at most once, in commit order,
 * and only after its marker is in the log. OffsetFetch with require_stable
 * answers UNSTABLE_OFFSET_COMMIT while one is pending for the partition.
 * Threading: the node's loop thread only; the state is its grp_node's.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"
#include "group/group.h"
#include "group/node.h"
#include "log/batch.h"

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

void grp_txn_drop_partition(grp_node *g, int32_t p) {
    pending_rec **pp = &g->pending_head;
    while (*pp) {
        pending_rec *r = *pp;
        if (r->partition == p) {
            *pp = r->next;
            pending_free(r);
            continue;
        }
        pp = &r->next;
    }
    g->pending_tail = pp;
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
