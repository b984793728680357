/*
 * ctl_log.h - the seam between the controller and the log its metadata
 * records are committed to. Today one implementation, the local metadata
 * log __cluster_metadata-0 (meta_log.c: one batch per submit, made durable
 * by the log manager's flusher, never on the event loop); the next issue
 * puts the KRaft quorum (src/raft) behind the same four operations, where
 * "durable" becomes "committed by a majority".
 *
 * Contract:
 *  - append(values, n) writes the records as one batch after everything
 *    appended before (so offsets and commit order follow the calls) and
 *    returns the offset of its last record; the batch is NOT durable yet.
 *  - durable(*end) is non-blocking: it takes in what background work has
 *    finished and says which prefix of the log is durable (every record
 *    below *end). An error means the log failed: nothing appended and not
 *    yet durable will become durable.
 *  - sync() blocks until everything appended is durable (start-up before
 *    the loop runs, shutdown, a controller without a loop).
 *  - replay(fn) calls fn for every record of the log from its start, in
 *    order (a restart rebuilds the image from exactly what was committed).
 *  - committed(fn), optional (a replicated log: the KRaft quorum): calls fn
 *    for every record committed since the previous call, in log order,
 *    this node's own appends included, so a follower's image is the replay
 *    of the committed log; when it is set the controller applies nothing
 *    itself and durable()'s end never passes what committed() handed over.
 *    Such a log's durable() may return NOT_CONTROLLER: the appends at or
 *    above *end will not commit as this node's (leadership moved); the log
 *    itself is fine.
 * Ownership: the controller owns its ctl_log (ctl_new) and frees it.
 * Threading: loop thread only (the implementation may sync on a worker).
 */
#ifndef SL_CONTROLLER_CTL_LOG_H
#define SL_CONTROLLER_CTL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct ctl_log ctl_log;
typedef void (*ctl_replay_fn)(void *arg, const uint8_t *value, size_t len,
                              int64_t offset);

typedef struct ctl_log_ops {
    int16_t (*append)(ctl_log *l, const buf *values, int n, int64_t *last);
    int16_t (*durable)(ctl_log *l, int64_t *end);
    int16_t (*sync)(ctl_log *l);
    int (*replay)(ctl_log *l, ctl_replay_fn fn, void *arg, char *err,
                  size_t errlen);
    void (*free)(ctl_log *l);
    void (*committed)(ctl_log *l, ctl_replay_fn fn, void *arg); /* or NULL */
    /* This log takes appends now (a quorum: the leader, once it applied
     * everything committed before its epoch); NULL: always. */
    bool (*active)(ctl_log *l);
} ctl_log_ops;

struct ctl_log {
    const ctl_log_ops *ops;
};

/* meta_log.c: the local metadata log over a partition of the log manager
 * (made by the broker's storage; the log manager must outlive it). The
 * partition is set to flush every append (flush.messages = 1), so each
 * batch is handed to the manager's flusher by the loop's before-sleep flush
 * hook; durable() reaps finished flushes and reports the recovery point. */
struct log_partition;
struct log_manager;
ctl_log *ctl_meta_log_new(struct log_manager *mgr, struct log_partition *part);

/* quorum_log.c: the metadata log of a node in a KRaft quorum (raft_node.h):
 * appends are proposals on the leader (NOT_CONTROLLER elsewhere), durable
 * means committed, committed() feeds the image; replay() loads the latest
 * snapshot. With image (the one committed() feeds) it makes snapshots of it
 * by Kafka's keys (0 disables one). The raft node and the image must
 * outlive it. */
typedef struct ctl_snapshot_opts {
    int64_t max_bytes_between; /* ...log.max.record.bytes.between.snapshots */
    int64_t max_interval_ms;   /* metadata.log.max.snapshot.interval.ms */
} ctl_snapshot_opts;
struct raft_node;
struct cl_image;
ctl_log *ctl_quorum_log_new(struct raft_node *rn, struct cl_image *image,
                            const ctl_snapshot_opts *so);

#endif
