/*
 * log.h - the partition log: Kafka's storage engine.
 *
 * A log_manager owns every partition log of one broker across its log.dirs,
 * laid out on disk exactly as Apache Kafka lays it out (so kafka-dump-log.sh
 * reads our segments):
 *   <log.dir>/<topic>-<partition>/%020lld.log | .index | .timeindex
 *   <log.dir>/<topic>-<partition>/leader-epoch-checkpoint, partition.metadata
 *   <log.dir>/recovery-point-offset-checkpoint, log-start-offset-checkpoint,
 *   <log.dir>/replication-offset-checkpoint, .kafka_cleanshutdown
 * See src/log/log_int.h for the invariants (log start <= HW <= LEO, recovery
 * point) and which function moves each mark.
 *
 * Errors are Kafka error codes (enum proto_error, KERR_* in proto/errors.h):
 * 0 is success. A failed write or fsync poisons the partition and takes its
 * log dir offline (every partition in it): from then on every call on them
 * returns KERR_KAFKA_STORAGE_ERROR (never retried).
 *
 * Ownership: the manager owns every log_partition; a log_partition pointer
 * stays valid until log_delete or log_manager_close. Strings passed in are
 * copied. log_read hands out a dup()ed fd that the caller owns.
 *
 * Threading: the broker calls the whole API from ONE thread (its event loop)
 * for now; nothing here locks. Later a per-partition lock can be added
 * (every function takes the partition or the manager explicitly, no hidden
 * globals apart from the io ops table).
 */
#ifndef SL_LOG_LOG_H
#define SL_LOG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/fs.h"
#include "proto/errors.h"

/* ---- file I/O: the log_io seam is core/fs.h (so the environment and the
 * network layer can name it); log_io_posix and the helpers stay here. */
/* The real POSIX implementation. */
extern const log_io log_io_posix;

/* Whole-buffer pwrite through io: false on error or short write. pread of
 * exactly n bytes: bytes read (< n at end of file), -1 on error. Both retry
 * EINTR; any thread. */
bool log_io_write_all(const log_io *io, int fd, const void *p, size_t n,
                      off_t off);
ssize_t log_io_read_full(const log_io *io, int fd, void *p, size_t n,
                         off_t off);
/* A whole file (at most max bytes) into a heap buffer with a NUL after the
 * data (*n excludes it); NULL with errno if it cannot be read or is larger.
 * Any thread. */
uint8_t *log_io_read_file(const log_io *io, const char *path, size_t max,
                          size_t *n);
/* The names in dir (but "." and ".."), a heap array of heap strings: free
 * with log_io_free_names. NULL with *n = 0 and errno if dir cannot be read
 * (an empty dir gives a non-NULL array). Any thread. */
char **log_io_list_names(const log_io *io, const char *dir, int *n);
void log_io_free_names(char **names, int n);
/* True if path exists (io->stat succeeds). */
bool log_io_exists(const log_io *io, const char *path);
/* Temp file + write + fsync + rename + fsync of the directory (Kafka's
 * checkpoint discipline): false with errno on any failure, including the
 * directory fsync. Any thread. */
bool log_io_write_atomic(const log_io *io, const char *path, const void *data,
                         size_t n);

/* ---- per-topic configuration ----------------------------------------- */
enum log_ts_type { LOG_TS_CREATE_TIME = 0, LOG_TS_LOG_APPEND_TIME = 1 };
enum log_cleanup { LOG_CLEANUP_DELETE = 1, LOG_CLEANUP_COMPACT = 2 };
/* compression.type of a topic: "producer" keeps what the producer sent;
 * the others equal the batch codec ids of compress.h (0 none .. 4 zstd). */
enum log_topic_compression {
    LOG_COMPRESSION_PRODUCER = -1,
    LOG_COMPRESSION_UNCOMPRESSED = 0,
    LOG_COMPRESSION_GZIP = 1,
    LOG_COMPRESSION_SNAPPY = 2,
    LOG_COMPRESSION_LZ4 = 3,
    LOG_COMPRESSION_ZSTD = 4,
};

/* Filled by the server from its config table (topic overrides over broker
 * defaults); units as in Kafka. INT64_MAX means "never" for flush.* and the
 * timestamp bounds; -1 means unlimited for retention.*. */
typedef struct log_config {
    int32_t segment_bytes;        /* segment.bytes, 1 GiB */
    int64_t segment_ms;           /* segment.ms, 7 days */
    int64_t retention_ms;         /* retention.ms, 7 days; -1 = forever */
    int64_t retention_bytes;      /* retention.bytes, -1 */
    int32_t max_message_bytes;    /* max.message.bytes, 1048588 */
    int32_t index_interval_bytes; /* index.interval.bytes, 4096 */
    int32_t segment_index_bytes;  /* segment.index.bytes, 10 MiB */
    int64_t flush_messages;       /* flush.messages, INT64_MAX */
    int64_t flush_ms;             /* flush.ms, INT64_MAX */
    int32_t min_insync_replicas;  /* min.insync.replicas, 1 (used by produce) */
    int cleanup_policy;           /* LOG_CLEANUP_* bits, delete */
    int compression_type;         /* enum log_topic_compression, producer */
    int message_timestamp_type;   /* enum log_ts_type, CreateTime */
    int64_t timestamp_before_max_ms; /* message.timestamp.before.max.ms */
    int64_t timestamp_after_max_ms;  /* message.timestamp.after.max.ms */
    /* compaction (read by src/log/cleaner.c) */
    int64_t delete_retention_ms;      /* delete.retention.ms, 1 day */
    int64_t min_compaction_lag_ms;    /* min.compaction.lag.ms, 0 */
    int64_t max_compaction_lag_ms;    /* max.compaction.lag.ms, INT64_MAX */
    double min_cleanable_dirty_ratio; /* min.cleanable.dirty.ratio, 0.5 */
} log_config;

/* Kafka 4.x defaults. */
void log_config_default(log_config *cfg);

/* ---- manager ----------------------------------------------------------- */
typedef struct log_manager log_manager;
typedef struct log_partition log_partition;

typedef struct log_manager_opts {
    const char *const *log_dirs; /* log.dirs (created if missing) */
    int n_log_dirs;
    const log_io *io;                 /* NULL: log_io_posix */
    int max_open_segments;            /* LRU bound on open segments (fd + index
                                         arrays); 0: 1024 */
    const log_config *default_config; /* for partitions found on disk; the
                                    server may log_set_config them later */
} log_manager_opts;

/* Counters for tests and metrics. */
typedef struct log_manager_stats {
    int64_t recovered_batches; /* batches re-read by recovery at open */
    int64_t recovered_bytes;
    int64_t truncated_bytes; /* bytes cut off by recovery */
    int64_t segment_opens;   /* lazy opens (cache misses) */
    int open_segments;       /* currently open */
    int partitions;
} log_manager_stats;

/* Opens log.dirs, loads checkpoints, recovers every partition found (re-reads
 * everything after the recovery point unless the last shutdown was clean).
 * NULL with *err set (KERR_KAFKA_STORAGE_ERROR) if a dir is unusable. */
log_manager *log_manager_open(const log_manager_opts *opts, int16_t *err);
/* Flushes everything, trims indexes, writes the checkpoints and the clean
 * shutdown marker, frees all. */
void log_manager_close(log_manager *mgr);
/* For crash tests: closes fds and frees memory WITHOUT flushing, trimming
 * or writing checkpoints, as if the process had been killed. */
void log_manager_abandon(log_manager *mgr);
/* fsyncs every partition appended to since the last call and advances its
 * recovery point. Call from the event loop's before-sleep hook; release
 * acks=all responses after it. Returns the number of partitions flushed. */
int log_manager_flush_dirty(log_manager *mgr);
/* Periodic housekeeping (call every log.retention.check.interval.ms or more
 * often): retention by time and size, flush.ms. Returns segments deleted. */
int log_manager_tick(log_manager *mgr);
/* Writes the three offset checkpoints of every log dir (temp+fsync+rename). */
int16_t log_manager_checkpoint(log_manager *mgr);
/* The offset checkpoint files of a log dir, each on its own period as
 * Kafka schedules them: */
typedef enum log_ckpt_kind {
    LOG_CKPT_RECOVERY_POINT = 0, /* recovery-point-offset-checkpoint:
                                    log.flush.offset.checkpoint.interval.ms */
    LOG_CKPT_LOG_START = 1,      /* log-start-offset-checkpoint:
                                    log.flush.start.offset.checkpoint.interval.ms */
    LOG_CKPT_HIGH_WATERMARK =
        2 /* replication-offset-checkpoint:
             replica.high.watermark.checkpoint.interval.ms */
} log_ckpt_kind;
/* Writes one of them in every online log dir; KAFKA_STORAGE_ERROR if a
 * dir's write failed (that dir goes offline). */
int16_t log_manager_checkpoint_kind(log_manager *mgr, log_ckpt_kind kind);
void log_manager_get_stats(const log_manager *mgr, log_manager_stats *out);
/* Calls fn for every partition (order unspecified). fn must not create or
 * delete partitions. */
void log_manager_foreach(log_manager *mgr,
                         void (*fn)(void *ctx, log_partition *part), void *ctx);
int log_manager_n_dirs(const log_manager *mgr);
const char *log_manager_dir(const log_manager *mgr, int i);

/* ---- moving a partition to another log dir (AlterReplicaLogDirs) -------
 * Kafka creates <topic>-<p>.<uuid>-future in the destination dir, fills it
 * while the current log keeps serving, then swaps. Here the future log is a
 * copy of the partition's files: log_move_step copies .log bytes (segments
 * are append-only) up to a byte budget per call; the call that finds the
 * rest within its budget flushes the log, copies the tails and every other
 * file (indexes, snapshots, checkpoints), fsyncs them and the dir, renames
 * the future dir to <topic>-<p> in the destination and the current one to
 * -delete, all in that call: requests never see a half-moved log, and the
 * log_partition stays the same object (only its dir changes). A crash
 * before the swap leaves the current log intact and a -future dir: the
 * next open removes it and starts the move again (Kafka resumes it too);
 * one between the two renames leaves two identical copies, of which open
 * keeps one. Loop thread only. */
/* The index of log dir `path` (as configured), or -1. */
int log_manager_dir_index(const log_manager *mgr, const char *path);
/* Log dir i failed and was taken offline: an I/O error on any of its logs
 * or checkpoints fails the whole dir, as Kafka's LogDirFailureChannel does;
 * its logs answer KAFKA_STORAGE_ERROR from then on, checkpoints skip it,
 * new partitions go to the other dirs. */
bool log_manager_dir_offline(const log_manager *mgr, int i);
/* fn(ctx, dir) after a dir went offline (loop thread): the broker stops
 * when no dir is left or the metadata log's dir failed. */
void log_manager_on_dir_failure(log_manager *mgr,
                                void (*fn)(void *ctx, int dir), void *ctx);
/* Starts moving part to log dir dest (cancelling a move elsewhere; nothing
 * to do if it is there already). LOG_DIR_NOT_FOUND, KAFKA_STORAGE_ERROR. */
int16_t log_move_begin(log_partition *part, int dest);
/* Copies up to budget bytes; *done once swapped. On an error the move is
 * cancelled (the current log is unchanged unless it failed itself). */
int16_t log_move_step(log_partition *part, int64_t budget, bool *done);
/* Stops a move and removes its future dir (no-op without one). */
void log_move_cancel(log_partition *part);
/* While a move runs: its destination dir, the bytes copied so far and the
 * future log's end offset (as far as whole segments are copied). */
bool log_move_info(const log_partition *part, int *dest, int64_t *size,
                   int64_t *leo);

/* ---- partitions -------------------------------------------------------- */
log_partition *log_get(log_manager *mgr, const char *topic, int32_t partition);
/* Creates the directory, partition.metadata (topic_id: 16 bytes) and the
 * first segment. Returns the existing partition if it exists already. NULL
 * with *err on failure. The dir with the fewest partitions is chosen. */
log_partition *log_create(log_manager *mgr, const char *topic,
                          int32_t partition, const uint8_t topic_id[16],
                          const log_config *cfg, int16_t *err);
/* Renames the dir to <topic>-<p>.<uuid>-delete, then removes it. The
 * pointer is invalid afterwards. */
int16_t log_delete(log_manager *mgr, log_partition *part);
void log_set_config(log_partition *part, const log_config *cfg);
const log_config *log_get_config(const log_partition *part);

const char *log_topic(const log_partition *part);
int32_t log_partition_id(const log_partition *part);
void log_topic_id(const log_partition *part, uint8_t out[16]);
const char *log_dir_path(const log_partition *part); /* the log.dir root */
/* The manager's io (producer snapshots and .txnindex use it too). */
const log_io *log_manager_io(const log_manager *mgr);
const log_io *log_partition_io(const log_partition *part);
int64_t log_start_offset(const log_partition *part);
int64_t log_end_offset(const log_partition *part);
int64_t log_high_watermark(const log_partition *part);
int64_t log_last_stable_offset(const log_partition *part); /* = HW for now */
int64_t log_recovery_point(const log_partition *part);
int64_t log_size_bytes(const log_partition *part); /* sum of segments */
int log_segment_count(const log_partition *part);
bool log_is_failed(const log_partition *part);

/* ---- append ------------------------------------------------------------ */
enum log_origin {
    LOG_ORIGIN_CLIENT = 0,      /* Produce: no control batches allowed */
    LOG_ORIGIN_COORDINATOR = 1, /* group/txn coordinators: markers allowed */
    LOG_ORIGIN_REPLICATION = 2, /* follower: offsets kept as received */
};

typedef struct log_append_info {
    int64_t base_offset; /* first offset assigned */
    int64_t last_offset;
    int64_t log_append_time; /* -1 unless LogAppendTime */
    int64_t log_start_offset;
    int32_t record_count;
    /* On an error: which batch (0-based) and, if known, which record in it
     * (-1 if the whole batch), and a static message for record_errors. */
    int32_t err_batch_index;
    int32_t err_record_index;
    const char *err_message;
    /* Records the failed record validation reported to the sink (Kafka's
     * RecordValidationException); 0 when the batch failed as a whole. */
    int32_t n_record_errors;
} log_append_info;

/* Receives every record that record validation rejects, in order (Kafka's
 * LogValidator lists them all in the Produce response's record_errors): the
 * record's index in the batch and Kafka's per-record message. Called from
 * inside log_append_checked on the caller's thread; the text is only valid
 * during the call. Entries reported before a failure that has
 * n_record_errors == 0 are to be dropped. */
typedef struct log_record_sink {
    void (*add)(void *ctx, int32_t record_index, const char *message);
    void *ctx;
} log_record_sink;

/* Validates every batch in batches[0..len) (magic 2, sizes, CRC-32C,
 * lastOffsetDelta vs recordsCount, timestamps per message.timestamp.type and
 * the before/after bounds, max.message.bytes, control batches only from a
 * coordinator), then REWRITES IN PLACE baseOffset and partitionLeaderEpoch
 * (and maxTimestamp + CRC for LogAppendTime) and writes the bytes as they are.
 * Either all batches are appended or none. Rolls segments as needed, updates
 * indexes, the leader-epoch cache and LEO. Each batch's partitionLeaderEpoch
 * starts a cache entry at its base offset when it is newer than the latest:
 * for LOG_ORIGIN_REPLICATION the batches keep their offsets and epochs as
 * received (a fetched chunk may span epochs) and leader_epoch is unused.
 * The high watermark is NOT moved (see log_set_high_watermark).
 * Errors: CORRUPT_MESSAGE, INVALID_RECORD, MESSAGE_TOO_LARGE,
 * RECORD_LIST_TOO_LARGE, INVALID_TIMESTAMP, KAFKA_STORAGE_ERROR. */
int16_t log_append(log_partition *part, uint8_t *batches, size_t len,
                   int32_t leader_epoch, int origin, log_append_info *out);

/* log_append, reporting each rejected record to sink (may be NULL). A batch
 * with rejected records fails with INVALID_TIMESTAMP if any of them has a
 * bad timestamp, else INVALID_RECORD, as Kafka's LogValidator does. */
int16_t log_append_checked(log_partition *part, uint8_t *batches, size_t len,
                           int32_t leader_epoch, int origin,
                           const log_record_sink *sink, log_append_info *out);

/* Moves the HW forward, clamped to [log start, LEO]; asserts it does not go
 * backwards. Only the replica manager (src/replica) calls it for partition
 * logs; it computes the HW from the ISR's log end offsets. */
void log_set_high_watermark(log_partition *part, int64_t hw);

/* ---- read -------------------------------------------------------------- */
typedef struct log_read_result {
    int fd;           /* dup()ed segment fd, owned by the caller (close it,
                         or log_read_release); -1 when len == 0 */
    int64_t file_pos; /* where the data starts in that file */
    int32_t len;      /* bytes to send (may end inside a batch: Kafka's
                         rule; clients drop a partial last batch) */
    int64_t first_batch_offset; /* base offset of the first batch, or -1 */
    int64_t high_watermark;
    int64_t last_stable_offset;
    int64_t log_start_offset;
    int64_t log_end_offset;
    const log_io *io; /* the io fd belongs to (close, log_read_pread) */
} log_read_result;

/* Reads from the batch containing `offset`, up to max_bytes, never past
 * max_offset (HW for consumers, LSO for read_committed, LEO for followers;
 * -1 = LEO). A read stays inside one segment. min_one_batch: return the
 * whole first batch even if it is larger than max_bytes (Kafka does this for
 * the first partition of a fetch response); without it, a first batch larger
 * than max_bytes gives len 0, not a partial batch (Kafka's ReplicaManager
 * drops a read whose first entry is incomplete; later batches may be cut).
 * offset outside
 * [log start, LEO] -> KERR_OFFSET_OUT_OF_RANGE. offset in [max_offset, LEO]
 * -> success with len 0. */
int16_t log_read(log_partition *part, int64_t offset, int32_t max_bytes,
                 int64_t max_offset, bool min_one_batch, log_read_result *out);
void log_read_release(log_read_result *r);
/* pread on the result's fd through its io (the copy path, for callers that
 * parse the bytes instead of sending them with sendfile). */
ssize_t log_read_pread(const log_read_result *r, void *buf, size_t n,
                       int64_t file_pos);
/* Same answer as log_read but only the length (no fd): for fetch min_bytes
 * checks. */
int16_t log_read_len(log_partition *part, int64_t offset, int32_t max_bytes,
                     int64_t max_offset, bool min_one_batch, int32_t *len);

/* ---- offsets by time, epochs, deletes ----------------------------------- */
/* ListOffsets by timestamp: the first offset whose record timestamp >= ts
 * (and that record's timestamp); -1/-1 if none (Kafka then answers offset
 * -1). LOG_TS_EARLIEST/LATEST/MAX_TIMESTAMP are accepted too. */
#define LOG_TS_LATEST (-1)
#define LOG_TS_EARLIEST (-2)
#define LOG_TS_MAX_TIMESTAMP (-3)
int16_t log_offset_for_timestamp(log_partition *part, int64_t ts,
                                 int64_t *offset, int64_t *timestamp);

/* OffsetForLeaderEpoch, as Kafka's LeaderEpochFileCache.endOffsetFor:
 * (epoch, end offset) or (-1, -1) if unknown. */
void log_end_offset_for_epoch(log_partition *part, int32_t requested_epoch,
                              int32_t *epoch, int64_t *end_offset);
int32_t log_latest_epoch(const log_partition *part); /* -1 if none */
/* A new leader's epoch starts at its log end offset, before it writes
 * (Kafka's maybeAssignEpochStartOffset): adds (epoch, start) when epoch is
 * above the latest and start is the LEO; entries of older epochs that start
 * at or after start (empty epochs) give way. KAFKA_STORAGE_ERROR if the
 * checkpoint cannot be written. */
int16_t log_assign_epoch(log_partition *part, int32_t epoch, int64_t start);
/* The epoch whose range holds offset (ListOffsets leader_epoch); -1. */
int32_t log_epoch_for_offset(const log_partition *part, int64_t offset);

/* DeleteRecords: moves the log start offset to `offset` (<= HW, else
 * OFFSET_OUT_OF_RANGE); -1 means HW. Deletes segments wholly below it. */
int16_t log_delete_records(log_partition *part, int64_t offset,
                           int64_t *new_log_start);

/* Truncates the log to `offset` (follower divergence, tests). An offset at
 * or past the LEO leaves the records but drops epoch-cache entries that
 * start at the LEO (an epoch this node began as leader and never wrote, as
 * Kafka's UnifiedLog.truncateTo). */
int16_t log_truncate_to(log_partition *part, int64_t offset);
/* Deletes every segment and starts the log empty at offset (log start, HW
 * and recovery point there, epoch cache cleared): a follower whose log
 * ends below the leader's log start (Kafka's truncateFullyAndStartAt). */
int16_t log_truncate_fully(log_partition *part, int64_t offset);

/* fsync this partition now. */
int16_t log_flush(log_partition *part);

/* ---- hooks for the log cleaner (src/log/cleaner.c) ------------------------
 */
typedef struct log_segment_info {
    int64_t base;          /* base offset (file name) */
    int64_t end_offset;    /* offset after it (the next segment's base for
                              rolled segments; LEO for the active one) */
    int64_t size;          /* bytes in .log */
    int64_t max_timestamp; /* largest batch maxTimestamp, -1 if none */
    int64_t first_batch_timestamp; /* -1 if none */
} log_segment_info;
/* Segment i (0 = oldest, log_segment_count()-1 = active). */
void log_segment_get(const log_partition *part, int i, log_segment_info *out);
/* <log.dir>/<topic>-<partition> */
const char *log_path(const log_partition *part);
/* The offset and time index of a segment built batch by batch while its
 * .log is written (the cleaner's worker does this for a cleaned segment):
 * the same entries, under the same index.interval.bytes rule, as a rebuild
 * that re-reads the file (lg_seg_rebuild). Plain data owned by whoever built
 * it; no partition access, so any thread may use its own. idx/tidx hold the
 * entries as they are on disk (big-endian, 8 and 12 bytes each). */
typedef struct log_seg_index {
    int64_t base;
    int32_t interval;
    int64_t size;        /* bytes accounted (= position of the next batch) */
    int64_t next_offset; /* after the last batch */
    int64_t max_ts, max_ts_offset, first_batch_ts, last_tidx_ts;
    int64_t bytes_since_index;
    uint8_t *idx, *tidx;
    int32_t n_idx, n_tidx, cap_idx, cap_tidx;
} log_seg_index;
void log_seg_index_init(log_seg_index *x, int64_t base, int32_t interval);
/* Accounts the stored batch whose header (61 bytes) is hdr, at x->size. */
void log_seg_index_add(log_seg_index *x, const uint8_t *hdr);
void log_seg_index_free(log_seg_index *x);

/* Replaces the rolled segments [first, first+count) (never the active one)
 * by one segment with the first one's base offset whose data is the file
 * cleaned_log (and .txnindex cleaned_txnindex, may be NULL), through the
 * crash-safe swap of log_cleaner_swap_in. built: the index the writer built
 * for cleaned_log, whose files <base>.index.cleaned and
 * <base>.timeindex.cleaned sit next to it (fsynced): they are swapped in
 * with the .log and the segment takes its state from built, without reading
 * the segment. built NULL: indexes are rebuilt by re-reading the segment.
 * Readers holding an fd of an old segment keep reading the old bytes. */
int16_t log_replace_segments(log_partition *part, int first, int count,
                             const char *cleaned_log,
                             const char *cleaned_txnindex,
                             const log_seg_index *built);

#endif
