/*
 * node.h - the group coordinator of one node: its per-node state (grp_node)
 * and what the rest of the node calls: making and freeing it, and the
 * request handlers, which take coord_req (the broker's dispatch adapts its
 * requests). The struct is private to src/group (handlers.c,
 * txn_offsets.c). It stands on the node's coordinator runtime (src/coord)
 * and the transaction layer below it, never on the broker.
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

#include "coord/coord.h"
#include "group/group.h"
#include "log/batch.h"
#include "txn/txn.h"

typedef struct grp_node grp_node;

/* The node's group coordinator state, on its runtime rt, registered with
 * the node's transaction coordinator txn (made before). */
grp_node *grp_node_new(coord_rt *rt, txn_node *txn);
void grp_node_free(grp_node *g);
/* The start hook (hooks.def, through the broker's grp_start): creates the
 * coordinator and starts loading __consumer_offsets. */
void grp_node_start(grp_node *gn);
/* Partition p of __consumer_offsets changed in the image (after the
 * replica manager took its role): leader true when this node leads it.
 * Kafka's GroupCoordinator.onElection / onResignation: a partition this
 * node starts to lead is loaded from its log (its groups answer
 * COORDINATOR_LOAD_IN_PROGRESS meanwhile), one it stopped leading is
 * unloaded (its groups answer NOT_COORDINATOR, their waiting joins and
 * syncs too). A new leader epoch of a partition still led keeps it. */
void grp_node_partition_changed(grp_node *gn, int32_t p, bool leader);

/* ---- request handlers ---------------------------------------------------- */
coord_status grp_handle_offset_commit(grp_node *gn, coord_req *req);
coord_status grp_handle_offset_fetch(grp_node *gn, coord_req *req);
coord_status grp_handle_find_coordinator(grp_node *gn, coord_req *req);
coord_status grp_handle_join_group(grp_node *gn, coord_req *req);
coord_status grp_handle_heartbeat(grp_node *gn, coord_req *req);
coord_status grp_handle_leave_group(grp_node *gn, coord_req *req);
coord_status grp_handle_sync_group(grp_node *gn, coord_req *req);
coord_status grp_handle_describe_groups(grp_node *gn, coord_req *req);
coord_status grp_handle_list_groups(grp_node *gn, coord_req *req);
coord_status grp_handle_delete_groups(grp_node *gn, coord_req *req);
coord_status grp_handle_offset_delete(grp_node *gn, coord_req *req);
coord_status grp_handle_consumer_group_heartbeat(grp_node *gn, coord_req *req);
coord_status grp_handle_consumer_group_describe(grp_node *gn, coord_req *req);
coord_status grp_handle_txn_offset_commit(grp_node *gn, coord_req *req);

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
    coord_rt *rt;     /* the node's coordinator runtime */
    txn_node *txn;    /* the node's transaction coordinator */
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
grp_coord *grp_node_coord(grp_node *gn);
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
/* Drops the pending records of __consumer_offsets partition p (its
 * coordinator unloads: the next leader replays them from the log). */
void grp_txn_drop_partition(grp_node *g, int32_t p);
/* Drops every pending record (grp_node_free). */
void grp_txn_free(grp_node *g);

#endif
