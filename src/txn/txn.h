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
 * This broker is the only node, so EndTxn writes the COMMIT/ABORT markers to
 * every partition of the transaction itself (the same bytes WriteTxnMarkers
 * would write) before it answers; a restart completes a transaction found
 * in PrepareCommit/PrepareAbort and the timeout aborts an Ongoing one.
 * TxnOffsetCommit writes the offsets as a transactional batch to
 * __consumer_offsets (as Kafka's group coordinator does); they are applied
 * to the group coordinator (grp_replay) when the COMMIT marker is written,
 * at runtime or when __consumer_offsets is replayed at start.
 *
 * Threading: loop thread only. Ownership: all state is owned here.
 */
#ifndef SL_TXN_H
#define SL_TXN_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/broker.h"
#include "core/buf.h"
#include "log/batch.h"
#include "log/log.h"
#include "proto/proto.h"

typedef struct grp_coord grp_coord;
typedef struct cl_partition cl_partition;

#define TXN_STATE_TOPIC "__transaction_state"
#define TXN_DUPLICATE 1 /* txn_produce_check: a retried batch, see below */

/* ---- produce path hooks (src/broker/produce.c)
 * -------------------------------- */
/* Before log_append of one client batch (header as received). Returns 0
 * (append it), TXN_DUPLICATE (do not append; answer success with base
 * offset *dup_base_offset) or a Kafka error code with *msg. */
int txn_produce_check(brk_broker *brk, log_partition *log,
                      const log_batch_header *h, int64_t *dup_base_offset,
                      const char **msg);
/* After a successful log_append of that batch at base_offset. */
void txn_produce_appended(brk_broker *brk, log_partition *log,
                          const log_batch_header *h, int64_t base_offset);

/* ---- fetch / list offsets hooks
 * -------------------------------------------------- */
/* Last stable offset: min(HW, first offset of the oldest open transaction). */
int64_t txn_lso(log_partition *log);
/* Writes the AbortedTransactions array of a read_committed partition
 * response (count + entries producer_id int64, first_offset int64 [+ tags
 * when flexible]) for transactions overlapping [from, to). */
void txn_fetch_write_aborted(buf *b, bool flexible, log_partition *log,
                             int64_t from, int64_t to);

/* ---- group coordinator hooks
 * ------------------------------------------------------ */
/* __consumer_offsets replay: handles transactional data batches (kept
 * pending per producer id) and control batches (COMMIT applies them with
 * grp_replay, ABORT drops them). Returns true if the batch was handled
 * (the caller skips it), false for ordinary batches. */
bool txn_grp_replay_batch(grp_coord *c, int32_t partition, const uint8_t *batch,
                          const log_batch_header *h);
/* FindCoordinator key_type 1: creates __transaction_state if missing.
 * 0 or COORDINATOR_NOT_AVAILABLE. */
int16_t txn_ensure_state_topic(brk_broker *brk);

/* ---- internal to src/txn
 * ------------------------------------------------------------ */
/* Loads the coordinator (replays __transaction_state, completes prepared
 * transactions) once; cheap afterwards. */
void txn_coord_ensure(brk_broker *brk);
/* Writes a COMMIT/ABORT marker to one partition and applies it to its
 * producer state (and to pending transactional offsets when it is a
 * __consumer_offsets partition). Kafka error code. */
int16_t txn_write_marker(brk_broker *brk, cl_partition *part,
                         int64_t producer_id, int16_t epoch, int type,
                         int32_t coordinator_epoch);
/* Producer state of a partition (loaded on first use). */
struct ps_state *txn_part_state(brk_broker *brk, log_partition *log);
/* Kafka's transaction.partition.verification: may producer_id/epoch start
 * writing its transaction into topic-partition? 0 if the partition was
 * added to its Ongoing transaction, else INVALID_TXN_STATE (or
 * INVALID_PRODUCER_EPOCH for an older epoch). */
int16_t txn_coord_verify(brk_broker *brk, int64_t producer_id, int16_t epoch,
                         const char *topic, int32_t partition);
/* Writes snapshots of every loaded partition (shutdown). */
void txn_part_snapshot_all(void);
/* Pending transactional offsets of __consumer_offsets partition p. */
void txn_offsets_add_pending(int32_t p, int64_t producer_id, const uint8_t *key,
                             size_t key_len, const uint8_t *value,
                             size_t value_len);
void txn_offsets_complete(grp_coord *c, int32_t p, int64_t producer_id,
                          bool commit);
/* True while a transaction holds an uncommitted offset for group /
 * topic-partition (OffsetFetch require_stable: UNSTABLE_OFFSET_COMMIT). */
bool txn_offsets_pending(proto_str group, proto_str topic, int32_t partition);
/* A fresh producer id into *pid, from blocks of 1000 the controller records
 * in __cluster_metadata (ProducerIdsRecord), so no id is reused after a
 * restart. Returns KERR_NONE or a retriable error code (*pid = -1). */
int16_t txn_alloc_producer_id(brk_broker *brk, int64_t *pid);

#endif
