/*
 * raft_node.h - the KRaft quorum member of a node: the pure core (raft.h)
 * driven on the node's event loop, over the metadata log (raft_log.h), the
 * quorum-state file (quorum_state.h) and the network (Kafka's
 * KafkaRaftClientDriver + KafkaNetworkChannel, in one loop thread):
 *   - time: raft_tick at raft_next_deadline (a loop timer);
 *   - outbound RPCs: one non-blocking client (net/client.h) per other voter,
 *     to its controller listener; a request made while the client is not
 *     connected yet waits for the connection (one per peer, the core sends
 *     at most one at a time), a failed one is left to the core's request
 *     timeout; responses are decoded (raft_codec.h) and fed back;
 *   - inbound RPCs: raft_node_request, called by whoever owns the
 *     controller listener; the reply comes through its callback, at once or
 *     later (a parked Fetch);
 *   - the outbox: PERSIST writes quorum-state (synchronously, as Kafka's
 *     FileQuorumStateStore; a vote depends on it), APPEND/TRUNCATE go to the
 *     log, COMMIT moves the log's high watermark and calls on_commit;
 *   - durability: a before-sleep hook reaps the log manager's flushes (the
 *     node's flush hook begins them; the flusher fsyncs off the loop) and
 *     reports the durable end with raft_log_synced.
 *   - snapshots (KIP-630): the caller (which holds the image) makes one
 *     with raft_node_snapshot_submit; the file is written by a one-worker
 *     executor of the node's environment (off the loop; inline under a
 *     simulator) through the node's log_io, then known to the log. The log
 *     start moves up to the latest snapshot when Kafka's retention keys say
 *     so (see maybe_clean); the leader serves FetchSnapshot from the file in
 *     bounded chunks, a follower writes SNAPSHOT_WRITE chunks to a .part and
 *     installs it on SNAPSHOT_INSTALL (the log restarts there; the caller
 *     sees raft_node_latest_snapshot pass what it applied and reloads).
 *
 * Invariant: a PERSIST that fails stops the member (Kafka's raft thread
 * dies on it): no later outbox item is performed and nothing more is fed
 * to the core; raft_node_failed says so.
 *
 * Ownership: the caller owns the node; the loop, log manager and partition
 * must outlive it. Callbacks (on_commit, on_change, replies) run on the
 * loop thread, never while the core is in the middle of a call (they may
 * call back in). Threading: loop thread only.
 */
#ifndef SL_RAFT_NODE_H
#define SL_RAFT_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/clock.h"
#include "log/log.h"
#include "net/net.h"
#include "raft/raft.h"
#include "raft/raft_codec.h"
#include "raft/raft_log.h"

typedef struct raft_node raft_node;

typedef struct raft_node_opts {
    raft_config cfg; /* self, cluster id, voters, Kafka's timing keys */
    const raft_endpoint *endpoints; /* the voters' controller listeners */
    int n_endpoints;
    net_loop *loop;
    log_manager *mgr;
    log_partition *part;     /* __cluster_metadata-0 */
    const log_io *io;        /* the node's file system (quorum-state) */
    const char *dir;         /* where quorum-state lives: the partition's dir */
    rng *rng;                /* NULL: its own, seeded from the OS */
    int32_t segment_bytes;   /* metadata.log.segment.bytes (0: the log's) */
    int64_t segment_ms;      /* metadata.log.segment.ms (0: the log's) */
    int64_t retention_bytes; /* metadata.max.retention.bytes, -1 no limit */
    int64_t retention_ms;    /* metadata.max.retention.ms, -1 no limit */
    /* The high watermark moved (committed records below hw). */
    void (*on_commit)(void *ctx, int64_t hw);
    /* Role, epoch or leader changed. */
    void (*on_change)(void *ctx, const raft_info *info);
    void *ctx;
} raft_node_opts;

/* Boots from the quorum-state file and the recovered log. NULL with a
 * message (an unreadable quorum-state, ...). */
raft_node *raft_node_new(const raft_node_opts *o, char *err, size_t errlen);
/* Shutdown begins: replies NULL to inbound requests still waiting, closes
 * the clients, stops the timer; nothing more is fed to the core. What was
 * committed can still be read (raft_node_committed). Idempotent. */
void raft_node_close(raft_node *n);
bool raft_node_closed(const raft_node *n);
/* Closes, then frees. */
void raft_node_free(raft_node *n);

/* Reply to an inbound request: body NULL means no answer (close the
 * connection). */
typedef void (*raft_reply_fn)(void *ctx, const buf *body);
/* An inbound Vote/BeginQuorumEpoch/EndQuorumEpoch/Fetch/FetchSnapshot
 * request body. 0: reply runs exactly once (maybe inside this call);
 * -1: malformed or no room (reply not called; close the connection). */
int raft_node_request(raft_node *n, int16_t api_key, int16_t api_version,
                      const uint8_t *body, size_t len, raft_reply_fn reply,
                      void *reply_ctx);

/* Leader only: appends one batch of `count` framed records. KERR_NONE with
 * *last (the offset of its last record), or NOT_LEADER_OR_FOLLOWER. */
int16_t raft_node_propose(raft_node *n, const buf *values, int count,
                          int64_t *last);

/* Records committed in [from, high watermark), in order; *next = where
 * to continue. 0 or -1 with a message. */
int raft_node_committed(raft_node *n, int64_t from, raft_record_fn fn,
                        void *arg, int64_t *next, char *err, size_t errlen);

void raft_node_info(const raft_node *n, raft_info *out);
const raft *raft_node_core(const raft_node *n);
/* The voters' controller endpoints it was given (DescribeQuorum's nodes). */
int raft_node_endpoints(const raft_node *n, const raft_endpoint **out);
bool raft_node_failed(const raft_node *n);
/* Resigns leadership (controlled shutdown). */
void raft_node_resign(raft_node *n);

/* Snapshots. The latest on disk (offset -1: none); its data records in
 * order (0 or -1 with a message); the epoch of the batch holding offset
 * (-1 outside the log). */
raft_oe raft_node_latest_snapshot(const raft_node *n);
int raft_node_snapshot_records(raft_node *n, raft_oe id, raft_record_fn fn,
                               void *arg, char *err, size_t errlen);
int32_t raft_node_epoch_at(raft_node *n, int64_t offset);
/* Writes snapshot id (the committed image up to id.offset, at a batch
 * boundary; id.epoch the epoch of the batch before it) from data (a whole
 * file, raft_snap_*; ownership passes) off the loop. false (data freed)
 * when one is being written, id is not above the latest or not committed. */
bool raft_node_snapshot_submit(raft_node *n, raft_oe id, uint8_t *data,
                               size_t len);
bool raft_node_snapshot_busy(const raft_node *n);

#endif
