/*
 * txn.h - idempotent producers and transactions (Kafka's
 * ProducerStateManager on the partition side, TransactionCoordinator /
 * TransactionStateManager on the coordinator side), and the small hooks the
 * data path, the group coordinator and FindCoordinator call.
 *
 * Partition side (src/txn/txn_part.c): for every partition touched, a
 * ps_state (src/log/producer_state.h) rebuilt lazily on first use from the
 * newest <offset>.snapshot, the .txnindex files and a scan of the log after
 * the snapshot. Produce checks sequences/epochs before log_append and
 * updates the state after it; a snapshot is written when a segment rolls
 * and at shutdown; read_committed fetches read up to txn_lso() and get the
 * aborted transactions from txn_fetch_write_aborted().
 *
 * Coordinator side (src/txn/txn_coord.c): transactional ids with their
 * producer id/epoch, state and partitions, kept in the compacted topic
 * __transaction_state (TransactionLogKey/Value records, Kafka's layout and
 * partitioning: abs(javaHash(id)) % transaction.state.log.num.partitions).
 * A transactional id's coordinator is the leader of its partition: a node
 * loads a partition's ids when it becomes the leader and forgets them when
 * it stops being it (txn_partition_changed). EndTxn writes Prepare*, then
 * the COMMIT/ABORT markers: itself for the partitions this node leads,
 * through WriteTxnMarkers to their leaders for the others (txn_markers.c),
 * then Complete*; a new coordinator completes a transaction found in
 * PrepareCommit/PrepareAbort and the timeout aborts an Ongoing one.
 * TxnOffsetCommit and its pending offsets belong to the group coordinator
 * (src/group/txn_offsets.c), which sits above this layer: it learns of the
 * markers that land on __consumer_offsets through the listener it sets
 * (txn_set_offsets_listener); this layer never calls into src/group.
 *
 * Threading: loop thread only. Ownership: all state of a node lives in its
 * txn_node (tn), made by txn_node_new when the node starts and freed by
 * txn_node_free after its loop has stopped; every function reaches it from
 * its brk.
 */
#ifndef SL_TXN_H
#define SL_TXN_H

#include <stdbool.h>
#include <stdint.h>

#include "coord/coord.h"
#include "core/buf.h"
#include "log/batch.h"
#include "log/log.h"
#include "proto/proto.h"

typedef struct cl_partition cl_partition;
typedef struct txn_node txn_node;

#define TXN_STATE_TOPIC "__transaction_state"
#define TXN_DUPLICATE 1 /* txn_produce_check: a retried batch, see below */

/* ---- per-node state
 * -------------------------------------------------------------- */
/* The node's transaction state (empty: producer states and transactional
 * ids load on first use), on the node's coordinator runtime rt. */
txn_node *txn_node_new(coord_rt *rt);
/* Frees it, after the node's loop has stopped (shutdown hooks have run). */
void txn_node_free(txn_node *t);

/* ---- produce path hooks (src/broker/produce.c)
 * -------------------------------- */
/* Before log_append of one client batch (header as received). Returns 0
 * (append it), TXN_DUPLICATE (do not append; answer success with base
 * offset *dup_base_offset) or a Kafka error code with *msg. */
int txn_produce_check(txn_node *tn, log_partition *log,
                      const log_batch_header *h, int64_t *dup_base_offset,
                      const char **msg);
/* After a successful log_append of that batch at base_offset. */
void txn_produce_appended(txn_node *tn, log_partition *log,
                          const log_batch_header *h, int64_t base_offset);

/* A follower appended replicated batches [batches, len) (whole, as the
 * leader wrote them): the producer state follows, as Kafka's follower
 * updates its ProducerStateManager per batch. */
void txn_replicated(txn_node *tn, log_partition *log, const uint8_t *batches,
                    size_t len);
/* A follower truncated log: its producer state is rebuilt on next use (from
 * the newest snapshot at or below the new end, and the log). */
void txn_truncated(txn_node *tn, log_partition *log);

/* ---- fetch / list offsets hooks
 * -------------------------------------------------- */
/* Last stable offset: min(HW, first offset of the oldest open transaction). */
int64_t txn_lso(txn_node *tn, log_partition *log);
/* Writes the AbortedTransactions array of a read_committed partition
 * response (count + entries producer_id int64, first_offset int64 [+ tags
 * when flexible]) for transactions overlapping [from, to). */
void txn_fetch_write_aborted(txn_node *tn, buf *b, bool flexible,
                             log_partition *log, int64_t from, int64_t to);

/* ---- group coordinator hooks (src/group sits above this layer)
 * ------------------------------------------------------ */
/* What the group coordinator tells the transaction coordinator, set once
 * when it starts (grp_node_new); ctx is its own. */
typedef struct txn_offsets_listener {
    /* The __consumer_offsets partition of group (AddOffsetsToTxn). */
    int32_t (*partition_for)(void *ctx, proto_str group);
    /* A COMMIT (commit) or ABORT marker of producer_id landed on
     * __consumer_offsets-partition: its pending offsets apply or go. */
    void (*marker)(void *ctx, int32_t partition, int64_t producer_id,
                   bool commit);
    void *ctx;
} txn_offsets_listener;
void txn_set_offsets_listener(txn_node *tn, const txn_offsets_listener *l);
/* TxnOffsetCommit: is producer_id/epoch the current producer of
 * transactional_id? 0, INVALID_PRODUCER_EPOCH or
 * INVALID_PRODUCER_ID_MAPPING (an unknown id passes, as on Kafka). */
int16_t txn_check_offset_commit(txn_node *tn, proto_str transactional_id,
                                int64_t producer_id, int16_t epoch);
/* FindCoordinator key_type 1: creates __transaction_state if missing.
 * 0 or COORDINATOR_NOT_AVAILABLE. */
int16_t txn_ensure_state_topic(txn_node *tn);
/* FindCoordinator key_type 1: the leader of transactional id tid's
 * __transaction_state partition (-1 if none). */
int32_t txn_coordinator_of(txn_node *tn, proto_str tid);
/* Partition p of __transaction_state changed in the image (after the
 * replica manager took its role; leader: this node leads it): its
 * transactional ids are loaded when this node became its leader and
 * forgotten when it stopped being it (Kafka's onElection /
 * onResignation). */
void txn_partition_changed(txn_node *tn, int32_t p, bool leader);

/* ---- request handlers (the broker's dispatch adapts brk_req to coord_req)
 * ------------------------------------------------------------------------ */
coord_status txn_handle_init_producer_id(txn_node *tn, coord_req *req);
coord_status txn_handle_add_partitions_to_txn(txn_node *tn, coord_req *req);
coord_status txn_handle_add_offsets_to_txn(txn_node *tn, coord_req *req);
coord_status txn_handle_end_txn(txn_node *tn, coord_req *req);
coord_status txn_handle_write_txn_markers(txn_node *tn, coord_req *req);
coord_status txn_handle_describe_producers(txn_node *tn, coord_req *req);
coord_status txn_handle_describe_transactions(txn_node *tn, coord_req *req);
coord_status txn_handle_list_transactions(txn_node *tn, coord_req *req);

/* ---- internal to src/txn
 * ------------------------------------------------------------ */
/* Loads the coordinator (replays __transaction_state, completes prepared
 * transactions) once; cheap afterwards. */
void txn_coord_ensure(txn_node *tn);
/* Writes a COMMIT/ABORT marker to one partition and applies it to its
 * producer state (and to pending transactional offsets when it is a
 * __consumer_offsets partition). Kafka error code. */
int16_t txn_write_marker(txn_node *tn, cl_partition *part, int64_t producer_id,
                         int16_t epoch, int type, int32_t coordinator_epoch);
/* Producer state of a partition (loaded on first use). */
struct ps_state *txn_part_state(txn_node *tn, log_partition *log);
/* Kafka's transaction.partition.verification: may producer_id/epoch start
 * writing its transaction into topic-partition? 0 if the partition was
 * added to its Ongoing transaction, else INVALID_TXN_STATE (or
 * INVALID_PRODUCER_EPOCH for an older epoch). */
int16_t txn_coord_verify(txn_node *tn, int64_t producer_id, int16_t epoch,
                         const char *topic, int32_t partition);
/* Writes snapshots of every loaded partition (shutdown). */
void txn_part_snapshot_all(txn_node *tn);
/* A fresh producer id into *pid, from blocks of 1000 the controller records
 * in __cluster_metadata (ProducerIdsRecord), so no id is reused after a
 * restart. Returns KERR_NONE, TXN_PID_PENDING (src/txn/internal.h: a block
 * is being committed; txn_pid_block_ready follows) or a retriable error
 * code (*pid = -1). */
int16_t txn_alloc_producer_id(txn_node *tn, int64_t *pid);

#endif
