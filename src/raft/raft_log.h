/*
 * raft_log.h - the Raft log of the metadata quorum: __cluster_metadata-0, a
 * partition of the node's log manager, seen by the core (raft.h) through
 * raft_log_ops (Kafka's KafkaMetadataLog, read side) and written by the
 * glue from the core's outbox (APPEND, TRUNCATE).
 *
 * Offsets and epochs are the core's: every batch is appended as a
 * replication append (offsets and partitionLeaderEpoch kept as written), so
 * the log's leader-epoch cache is the Raft epoch history and
 * end_offset_for_epoch is Kafka's endOffsetForEpoch over it.
 *
 * Durability: the partition flushes every append (flush.messages = 1); the
 * log manager's flusher fsyncs it off the loop (begun by the node's
 * before-sleep flush hook) and raft_log_durable reaps finished flushes and
 * reports the recovery point, which the glue hands to raft_log_synced. No
 * fsync runs on the loop.
 *
 * Reads: batches handed to the core (raft_log_ops.read) live in buffers the
 * log keeps until raft_log_release_reads (call it once the outbox that may
 * point at them is drained).
 *
 * Snapshots (snapshot.h) live next to the segments: "<offset>-<epoch>
 * .checkpoint". At most RAFT_LOG_MAX_SNAPSHOTS are kept, oldest first; the
 * log start is always the offset of one of them (or 0): raft_log_boot
 * makes it so after a crash, raft_log_start_moved (RAFT_OUT_LOG_START)
 * moves it up to a snapshot and deletes the segments wholly below it and
 * the snapshots below it (Kafka's deleteBeforeSnapshot), and a follower's
 * FetchSnapshot is written as ".part" (raft_log_snapshot_write), then
 * validated, renamed and the log restarted at it
 * (raft_log_snapshot_install: Kafka's truncateToLatestSnapshot).
 *
 * Ownership: the log manager owns the partition and must outlive the raft
 * log. Threading: loop thread only.
 */
#ifndef SL_RAFT_LOG_H
#define SL_RAFT_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "log/log.h"
#include "raft/raft.h"

typedef struct raft_log raft_log;

#define RAFT_LOG_MAX_SNAPSHOTS 8

/* A record value and its offset (log or snapshot). */
typedef void (*raft_record_fn)(void *arg, const uint8_t *value, size_t len,
                               int64_t offset);

/* Takes over the partition's retention (none: the log start moves to
 * snapshots only), flush (every append) and, when > 0, its segment size and
 * age (metadata.log.segment.bytes / .ms). */
raft_log *raft_log_new(log_manager *mgr, log_partition *part,
                       int32_t segment_bytes, int64_t segment_ms);
void raft_log_free(raft_log *l);

/* The core's view of the log (ctx = l). */
raft_log_ops raft_log_get_ops(raft_log *l);
/* What survived on disk (after the log manager's recovery): deletes .part
 * files and snapshots that fail validation or lie below the log start,
 * restarts the log at the latest snapshot when it lies past the log end,
 * moves a log start that is not at a snapshot up to one; then start, end,
 * last epoch, the latest snapshot and the epoch of the one at the start.
 * qstate fields are left to the caller. 0, or -1 with a message. */
int raft_log_boot(raft_log *l, raft_boot *b, char *err, size_t errlen);

/* Snapshots: the latest (offset -1 none); one the node wrote; their bytes
 * on disk; RAFT_OUT_LOG_START; RAFT_OUT_SNAPSHOT_WRITE / _INSTALL; the
 * data records of one (validated first). */
raft_oe raft_log_latest_snapshot(const raft_log *l);
void raft_log_snapshot_added(raft_log *l, raft_oe id);
int64_t raft_log_snapshot_bytes(const raft_log *l);
/* The snapshots, oldest first, with their file sizes (-1 unreadable);
 * the LastContainedLogTimestamp of one (-1 unknown). */
int raft_log_snapshots(const raft_log *l, raft_oe *out, int64_t *sizes,
                       int cap);
int64_t raft_log_snapshot_ts(const raft_log *l, raft_oe id);
int16_t raft_log_start_moved(raft_log *l, int64_t offset);
int16_t raft_log_snapshot_write(raft_log *l, raft_oe id, int64_t position,
                                const uint8_t *data, uint32_t len);
int16_t raft_log_snapshot_install(raft_log *l, raft_oe id, char *err,
                                  size_t errlen);
int raft_log_snapshot_records(raft_log *l, raft_oe id, raft_record_fn fn,
                              void *arg, char *err, size_t errlen);
const char *raft_log_dir(const raft_log *l);
const log_io *raft_log_io(const raft_log *l);

/* RAFT_OUT_APPEND with bytes (b->data): copied and appended as they are.
 * RAFT_OUT_TRUNCATE: the log ends at `end`. Kafka error codes. */
int16_t raft_log_append(raft_log *l, const raft_batch *b);
int16_t raft_log_truncate(raft_log *l, int64_t end);
/* Applies finished flushes; *end = the durable end. An error means the log
 * failed (its dir is offline). */
int16_t raft_log_durable(raft_log *l, int64_t *end);
/* The high watermark (RAFT_OUT_COMMIT): readers below it see committed
 * records only. Moves forward only. */
void raft_log_set_hw(raft_log *l, int64_t hw);
void raft_log_release_reads(raft_log *l);

/* Records of the data batches in [from, to): fn(value, len, offset) for
 * each, control batches skipped. *next = the offset after the last batch
 * read. 0, or -1 with a message (unreadable or corrupt). */
int raft_log_records(raft_log *l, int64_t from, int64_t to, raft_record_fn fn,
                     void *arg, int64_t *next, char *err, size_t errlen);

log_partition *raft_log_partition(raft_log *l);

#endif
