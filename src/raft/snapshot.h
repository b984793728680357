/*
 * snapshot.h - KRaft snapshots of __cluster_metadata-0 in Kafka's format
 * (org.apache.kafka.snapshot: Snapshots, SnapshotPath, RecordsSnapshotWriter,
 * FileRawSnapshotWriter), so Kafka's kafka-dump-log reads ours:
 *   - name: "%020d-%010d.checkpoint" of the snapshot id (end offset, epoch):
 *     the snapshot holds every record below `offset`;
 *   - contents: v2 record batches, offsets from 0, partitionLeaderEpoch =
 *     id.epoch, uncompressed: a control batch with the SnapshotHeaderRecord
 *     (version 0, LastContainedLogTimestamp), the data batches (framed
 *     metadata records, null keys), a control batch with the
 *     SnapshotFooterRecord (version 0). A static quorum is kraft.version 0,
 *     so no KRaftVersionRecord / VotersRecord follows the header (as
 *     RecordsSnapshotWriter.Builder writes for kraft.version 0);
 *   - writing: "<id>.checkpoint.part" is written and fsynced, then renamed
 *     into place and the directory fsynced (FileRawSnapshotWriter.freeze);
 *     a ".part" or ".deleted" left by a crash is deleted at start-up, a
 *     snapshot that fails validation (a batch's CRC, no header first or no
 *     footer last, a torn tail) is not used (raft_snap_list skips it).
 * Everything goes through the node's log_io, so crash tests can tear it.
 *
 * Ownership: builders and read buffers belong to the caller. Threading:
 * none inside; any thread with its own builder.
 */
#ifndef SL_RAFT_SNAPSHOT_H
#define SL_RAFT_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/fs.h"
#include "log/batch.h"
#include "raft/raft.h"

#define RAFT_SNAP_NAME_CAP 64

enum { RAFT_SNAP_FILE = 0, RAFT_SNAP_PART = 1, RAFT_SNAP_DELETED = 2 };

/* "<20-digit offset>-<10-digit epoch>.checkpoint" (+ ".part"/".deleted"). */
void raft_snap_filename(char *out, size_t n, raft_oe id, int kind);
/* Parses a directory entry name (Snapshots.parse); false if it is not one
 * of the three kinds. */
bool raft_snap_parse_name(const char *name, raft_oe *id, int *kind);

/* Builds a snapshot's bytes in memory: begin, add each record value, finish;
 * then b->out is the file. Data batches close at about 1 MiB. */
typedef struct raft_snap_builder {
    buf out;
    raft_oe id;
    int64_t now;
    int64_t next_offset;
    batch_builder bb;
    bool open;
    size_t batch_bytes;
    int64_t records;
} raft_snap_builder;
void raft_snap_begin(raft_snap_builder *b, raft_oe id,
                     int64_t last_contained_ts, int64_t now_ms);
void raft_snap_add(raft_snap_builder *b, const uint8_t *value, size_t len);
void raft_snap_finish(raft_snap_builder *b);
void raft_snap_builder_free(raft_snap_builder *b);

/* Whole-snapshot validation: every batch whole and its CRC right, the
 * header first, the footer last, nothing after it. 0, or -1 with a
 * message. */
int raft_snap_validate(const uint8_t *p, size_t n, char *err, size_t errlen);
/* fn(value, len, offset-in-snapshot) for each data record, in order;
 * 0, or -1 when the bytes do not parse (validate first). */
typedef void (*raft_snap_record_fn)(void *arg, const uint8_t *value, size_t len,
                                    int64_t offset);
int raft_snap_records(const uint8_t *p, size_t n, raft_snap_record_fn fn,
                      void *arg);

/* The SnapshotHeaderRecord's LastContainedLogTimestamp of the bytes that
 * start a snapshot (its first batch), -1 if they do not parse. */
int64_t raft_snap_header_ts(const uint8_t *p, size_t n);

/* Writes the snapshot file (.part, fsync, rename, fsync dir). false with a
 * message; no .part is left behind on failure (as far as unlink works). */
bool raft_snap_write(const log_io *io, const char *dir, raft_oe id,
                     const uint8_t *p, size_t n, char *err, size_t errlen);
/* The whole file of snapshot id (at most max bytes); NULL if absent or
 * unreadable. Free with free(). */
uint8_t *raft_snap_read(const log_io *io, const char *dir, raft_oe id,
                        size_t max, size_t *n);
/* Size of snapshot id's file, -1 if absent. */
int64_t raft_snap_size(const log_io *io, const char *dir, raft_oe id);
/* Bytes [pos, pos+len) of snapshot id's file; bytes read or -1. */
ssize_t raft_snap_pread(const log_io *io, const char *dir, raft_oe id,
                        void *buf, size_t len, int64_t pos);
/* Deletes snapshot id's file. */
bool raft_snap_delete(const log_io *io, const char *dir, raft_oe id);

/* The snapshots in dir, oldest first, up to cap ids. cleanup: delete
 * ".part" and ".deleted" files (start-up, as KafkaMetadataLog does).
 * Returns the count, -1 if dir cannot be read. Files are not validated
 * here (raft_snap_load_latest does). */
int raft_snap_list(const log_io *io, const char *dir, raft_oe *ids, int cap,
                   bool cleanup);

#endif
