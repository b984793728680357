/*
 * quorum_state.h - the `quorum-state` file of __cluster_metadata-0, exactly
 * as Kafka 4.3.1's FileQuorumStateStore writes it: QuorumStateData as JSON
 * (QuorumStateDataJsonConverter, compact) with a "data_version" field,
 * replaced with temp file + fsync + rename (+ directory fsync) through the
 * node's file-system seam (log_io).
 *
 *   version 0 (kraft.version 0, a static quorum):
 *     {"clusterId":"","leaderId":1,"leaderEpoch":2,"votedId":-1,
 *      "appliedOffset":0,"currentVoters":[{"voterId":1},...],"data_version":0}
 *   version 1 (kraft.version 1):
 *     {"leaderId":-1,"leaderEpoch":2,"votedId":1,
 *      "votedDirectoryId":"J8aAPcfLQt2bqs1JT_rMgQ","data_version":1}
 *
 * Reading accepts both versions (fields in any order, unknown ones
 * skipped). An unreadable file stops the node, as Kafka's read throws: the
 * rename makes a half-written file impossible on a file system that keeps
 * its promises, and guessing a vote could elect two leaders in one epoch.
 * A leftover "quorum-state.tmp" (a crash before the rename) is ignored.
 *
 * Ownership: plain values; buffers are the caller's. Threading: any.
 */
#ifndef SL_RAFT_QUORUM_STATE_H
#define SL_RAFT_QUORUM_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/fs.h"
#include "raft/raft.h"

#define RAFT_QSTATE_FILE "quorum-state"

/* The JSON text of qs at version 0 (with voters' ids) or 1. */
void raft_qstate_json(buf *out, const raft_qstate *qs, int version,
                      const raft_voters *voters);
/* Parses the text; false with a message in err when it is not a quorum
 * state Kafka could read. */
bool raft_qstate_parse(const char *text, size_t n, raft_qstate *out,
                       int *version, char *err, size_t errlen);

/* dir/quorum-state written durably; false with a message. */
bool raft_qstate_write(const log_io *io, const char *dir, const raft_qstate *qs,
                       int version, const raft_voters *voters, char *err,
                       size_t errlen);
/* Reads dir/quorum-state: 1 with *out filled, 0 when there is none (a new
 * node: epoch 0, nobody), -1 with a message when it cannot be read. */
int raft_qstate_read(const log_io *io, const char *dir, raft_qstate *out,
                     char *err, size_t errlen);

#endif
