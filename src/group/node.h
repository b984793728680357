/*
 * node.h - the group coordinator of one node: its per-node state (grp_node,
 * brk->grp) and what the rest of the node calls. The struct is private to
 * src/group (handlers.c, txn_offsets.c); the broker only makes and frees it.
 *
 * Ownership: grp_node_new makes it when the node starts, empty (the
 * coordinator is made by the start hook grp_start or at first use);
 * grp_node_free frees it with its coordinator after the node's loop has
 * stopped. Threading: the node's loop thread only.
 */
#ifndef SL_GROUP_NODE_H
#define SL_GROUP_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "group/group.h"
#include "log/batch.h"

typedef struct brk_broker brk_broker; /* src/broker/broker.h */
typedef struct grp_node grp_node;

grp_node *grp_node_new(brk_broker *brk);
void grp_node_free(grp_node *g);

/* Loading of one __consumer_offsets partition, in steps (handlers.c). */
typedef struct grp_load_state {
    int32_t p;
    int64_t off;
    int64_t t0;
    uint8_t *data;
    size_t cap;
} grp_load_state;

/* A transactional offset commit waiting for its transaction's marker
 * (txn_offsets.c). */
typedef struct grp_pending_txn {
    struct grp_pending_txn *next;
    int32_t partition; /* of __consumer_offsets */
    int64_t pid;
    uint8_t *key, *value; /* the OffsetCommit record, value NULL: none */
    size_t key_len, value_len;
} grp_pending_txn;

struct grp_node {
    brk_broker *brk;  /* the node this coordinator serves */
    grp_coord *coord; /* NULL until grp_start or the first group request */
    uint64_t tick_timer, expire_timer, deleted_timer;
    bool stopping;
    /* the start-up loader (grp_start) */
    bool starting;
    grp_load_state bg;
    bool bg_active;
    uint64_t load_timer;
    /* topic names handed to regex subscriptions (cg_topic_names) */
    const char **topic_names;
    size_t topic_names_cap;
    /* transactional offsets, in commit order (txn_offsets.c) */
    grp_pending_txn *pending_head, **pending_tail;
};

/* ---- txn_offsets.c: the pending offsets of TxnOffsetCommit ----------- */
/* The node's coordinator, made on first use (handlers.c). */
grp_coord *grp_node_coord(brk_broker *brk);
/* A record of __consumer_offsets partition p written by producer_id's
 * transaction: applied when its COMMIT marker lands, dropped at ABORT. */
void grp_txn_add_pending(grp_node *g, int32_t p, int64_t producer_id,
                         const uint8_t *key, size_t key_len,
                         const uint8_t *value, size_t value_len);
/* A marker of producer_id landed on __consumer_offsets partition p. */
void grp_txn_complete(grp_node *g, int32_t p, int64_t producer_id, bool commit);
/* True while a transaction holds an uncommitted offset for group /
 * topic-partition (OffsetFetch require_stable: UNSTABLE_OFFSET_COMMIT). */
bool grp_txn_pending(const grp_node *g, proto_str group, proto_str topic,
                     int32_t partition);
/* __consumer_offsets replay: transactional data batches are kept pending per
 * producer id and control batches complete them. True if the batch was one
 * of these (the caller skips it), false for ordinary batches. */
bool grp_txn_replay_batch(grp_node *g, int32_t partition, const uint8_t *batch,
                          const log_batch_header *h);
/* Drops every pending record (grp_node_free). */
void grp_txn_free(grp_node *g);

#endif
