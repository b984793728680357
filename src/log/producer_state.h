/*
 * producer_state.h - per-partition producer state, as Apache Kafka's
 * ProducerStateManager / ProducerAppendInfo keep it: for every producer id
 * that wrote to the partition its epoch, the metadata of its last five
 * batches (sequence range and offsets, so a retried batch is answered with
 * its original offsets), its open transaction (first offset), plus the
 * partition's list of aborted transactions (what .txnindex holds) and the
 * first unstable offset (the last stable offset is min(HW, that)).
 *
 * Sequence rules (client appends, Kafka 4.x):
 *  - producer id -1: not tracked.
 *  - epoch lower than the known one -> INVALID_PRODUCER_EPOCH.
 *  - same epoch, batch equal to one of the last five -> duplicate (answered
 *    with the original base offset, nothing written).
 *  - new epoch: first sequence must be 0 (unless the producer is unknown).
 *  - same epoch: first sequence must be last + 1 (wrapping at INT32_MAX),
 *    else OUT_OF_ORDER_SEQUENCE_NUMBER; an unknown producer may start at any
 *    sequence (its state may have expired, Kafka accepts it too).
 *  - a non-transactional batch while the producer's transaction is open ->
 *    INVALID_TXN_STATE.
 *
 * On disk (Kafka's formats, see /work/shared/docs/kafka-formats.md):
 *  <offset 20 digits>.snapshot  version int16 (1) | crc uint32 (CRC-32C of
 *      what follows) | count int32 | entries of 46 bytes: producerId int64,
 *      epoch int16, lastSequence int32, lastOffset int64, offsetDelta int32,
 *      timestamp int64, coordinatorEpoch int32, currentTxnFirstOffset int64.
 *  <segment base>.txnindex  34-byte entries: version int16 (0), producerId
 *      int64, firstOffset int64, lastOffset int64, lastStableOffset int64.
 *
 * Ownership: a ps_state owns its entries; nothing here knows the log.
 * Threading: one thread (the broker loop); nothing locks.
 */
#ifndef SL_LOG_PRODUCER_STATE_H
#define SL_LOG_PRODUCER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log/batch.h"
#include "log/log.h"

#define PS_MAX_BATCHES 5
#define PS_DUPLICATE 1 /* ps_check result: not an error code, a duplicate */
#define PS_TXNINDEX_ENTRY 34

typedef struct ps_batch_meta {
    int32_t first_seq, last_seq;
    int64_t first_offset, last_offset;
    int64_t timestamp;
} ps_batch_meta;

typedef struct ps_entry {
    int64_t producer_id;
    int16_t epoch;
    int n_batches; /* oldest first */
    ps_batch_meta batches[PS_MAX_BATCHES];
    int64_t last_timestamp; /* max timestamp of its last batch */
    int32_t coordinator_epoch;
    int64_t txn_first_offset; /* -1: no open transaction */
} ps_entry;

typedef struct ps_aborted {
    int64_t producer_id;
    int64_t first_offset, last_offset; /* last = the ABORT marker */
    int64_t last_stable_offset;
} ps_aborted;

typedef struct ps_state {
    ps_entry *entries;
    int n, cap;
    ps_aborted *aborted; /* sorted by last_offset */
    int n_aborted, cap_aborted;
} ps_state;

void ps_init(ps_state *s);
void ps_free(ps_state *s);
void ps_clear(ps_state *s);

ps_entry *ps_find(ps_state *s, int64_t producer_id);

/* Checks a client batch (header as received). Returns 0 (append it),
 * PS_DUPLICATE (*dup filled with the original batch: answer its offsets)
 * or a Kafka error code (INVALID_PRODUCER_EPOCH, OUT_OF_ORDER_SEQUENCE_NUMBER,
 * INVALID_TXN_STATE). *msg gets a static message for errors. */
int ps_check(ps_state *s, const log_batch_header *h, ps_batch_meta *dup,
             const char **msg);

/* Applies an appended data batch (base_offset assigned). */
void ps_update(ps_state *s, const log_batch_header *h);

/* Whether a transaction marker for producer_id from a coordinator of
 * coordinator_epoch may be written (Kafka's
 * ProducerAppendInfo.appendEndTxnMarker): KERR_NONE, or
 * KERR_TRANSACTION_COORDINATOR_FENCED when the producer's last marker came
 * from a newer coordinator epoch (a coordinator that lost its
 * __transaction_state partition must not complete its transactions). */
int16_t ps_check_marker(ps_state *s, int64_t producer_id,
                        int32_t coordinator_epoch);

/* Applies a transaction marker at `offset` (type BATCH_CONTROL_*). For an
 * ABORT fills *ab (and returns true) with the entry to write to .txnindex;
 * it is also kept in s. */
bool ps_apply_marker(ps_state *s, int64_t producer_id, int16_t epoch, int type,
                     int32_t coordinator_epoch, int64_t offset, ps_aborted *ab);

/* Applies any batch read back from the log (data or control; the control
 * record type is read from the records). Used when rebuilding. If an ABORT
 * marker yields an entry, *ab is filled and true returned. */
bool ps_replay_batch(ps_state *s, const uint8_t *batch,
                     const log_batch_header *h, ps_aborted *ab);

/* First offset of the oldest open transaction, or -1. */
int64_t ps_first_unstable(const ps_state *s);

/* Adds an aborted transaction (from .txnindex) unless already known. */
void ps_add_aborted(ps_state *s, const ps_aborted *ab);
/* Aborted transactions that overlap [from, to): last >= from and
 * first < to. Calls fn for each (in last_offset order). */
int ps_aborted_in(const ps_state *s, int64_t from, int64_t to,
                  void (*fn)(void *ctx, const ps_aborted *ab), void *ctx);
/* Drops aborted entries whose last offset < offset (log start moved). */
void ps_trim_aborted(ps_state *s, int64_t offset);

/* Removes producers idle for expiration_ms (last timestamp older than
 * now - expiration_ms) that have no open transaction. Returns the count. */
int ps_expire(ps_state *s, int64_t now_ms, int64_t expiration_ms);

/* ---- files ------------------------------------------------------------------
 * Every file operation goes through io (the log's seam, log.h; NULL means
 * log_io_posix): the partition's log_partition_io in the broker. */
/* Encodes the snapshot file body (all entries). */
void ps_snapshot_encode(const ps_state *s, buf *out);
/* Decodes a snapshot file into s (entries replace s's). false if the
 * version, CRC or sizes are wrong. */
bool ps_snapshot_decode(ps_state *s, const uint8_t *p, size_t n);
/* Writes dir/<offset>.snapshot (temp + fsync + rename). 0 or -1. */
int ps_snapshot_write(const log_io *io, const ps_state *s, const char *dir,
                      int64_t offset);
/* Newest snapshot in dir with offset <= max_offset: loads it into s and
 * returns its offset, or -1 (s untouched) if none is usable. */
int64_t ps_snapshot_load_latest(const log_io *io, ps_state *s, const char *dir,
                                int64_t max_offset);
/* Deletes snapshots other than the newest `keep` and those > max_offset. */
void ps_snapshot_clean(const log_io *io, const char *dir, int keep,
                       int64_t max_offset);

void ps_txnindex_encode(const ps_aborted *ab, uint8_t out[PS_TXNINDEX_ENTRY]);
/* Appends ab to dir/<segment base>.txnindex, picking the segment (the
 * newest <base>.log with base <= ab->last_offset). 0 or -1. */
int ps_txnindex_append(const log_io *io, const char *dir, const ps_aborted *ab);
/* Loads every *.txnindex entry of dir with last_offset in [lo, hi) into s. */
int ps_txnindex_load(const log_io *io, ps_state *s, const char *dir, int64_t lo,
                     int64_t hi);

#endif
