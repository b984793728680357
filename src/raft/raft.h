/*
 * raft.h - the KRaft quorum as a pure state machine (Apache Kafka 4.3's
 * org.apache.kafka.raft: KafkaRaftClient, QuorumState and the epoch states
 * Unattached, Prospective (pre-vote, KIP-996), Candidate, Leader, Follower,
 * Resigned).
 *
 * No socket, clock, file or unbounded allocation inside: the caller feeds
 * inputs (raft_receive, raft_tick, raft_propose, raft_log_synced,
 * raft_snapshot_*) and drains the outbox (r->out) after each call. The
 * outbox items are ordered and the glue must process them in order:
 *   RAFT_OUT_PERSIST   write the quorum-state file durably (write, fsync,
 *                      rename) before performing any later item; a granted
 *                      vote depends on it (Kafka's FileQuorumStateStore is
 *                      synchronous too).
 *   RAFT_OUT_TRUNCATE  cut the log to end at `offset` (exclusive).
 *   RAFT_OUT_APPEND    append the batch at the log end (page cache); the
 *                      glue fsyncs when it likes and reports the durable end
 *                      with raft_log_synced. The core counts only the durable
 *                      end toward the high watermark (leader) and sends its
 *                      next Fetch only once everything it appended is durable
 *                      (voters), as Kafka flushes before fetching again.
 *   RAFT_OUT_SEND      transmit the message (request or response).
 *   RAFT_OUT_COMMIT    the high watermark moved to `offset` (notification).
 *   RAFT_OUT_SNAPSHOT_* KIP-630 hooks, see below.
 * Responses are matched to the request in flight to that peer by
 * correlation id; the glue must not hand the core a response to a request
 * of a previous process life (new connections after a restart give that;
 * or seed r->next_corr apart per life, as the simulation does).
 * Data pointers in outbox items (batch payloads, snapshot chunks) borrow
 * from the input that produced them or from the log (raft_log_ops.read):
 * valid until the caller's next call into the core.
 *
 * The log itself belongs to the caller; the core reads it through
 * raft_log_ops (Kafka's RaftLog read side) and tracks its end offset, last
 * epoch, durable end and start offset itself. After the glue applied the
 * outbox, the log's end offset equals raft_info.log_end.
 *
 * Messages mirror Kafka's RPC fields (message/VoteRequest.json, ...) for the
 * single partition __cluster_metadata-0, so the glue maps them one to one to
 * the generated codecs; endpoints (LeaderEndpoints, NodeEndpoints) are left
 * to the glue, which knows the listeners of the voter set.
 *
 * Ownership: a raft is plain memory the caller owns (raft_init fills it; no
 * free needed). Threading: not thread-safe; one owner drives it.
 */
#ifndef SL_RAFT_H
#define SL_RAFT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/clock.h"

#define RAFT_MAX_VOTERS 9
#define RAFT_MAX_OBSERVERS 16
#define RAFT_MAX_FETCH_BATCHES 16 /* batches in one Fetch response */
#define RAFT_OUT_CAP 64
#define RAFT_CLUSTER_ID_CAP 24 /* 22 base64 characters and a NUL */
#define RAFT_NO_ID (-1)

/* ReplicaKey: a node id and its directory id (KIP-853); a zero directory id
 * is "unknown" and matches any. */
typedef struct raft_key {
    int32_t id;
    uint8_t dir[16];
} raft_key;

/* VoterSet: fixed for now; the structure carries one uncommitted change at
 * a time once AddRaftVoter/RemoveRaftVoter arrive (KIP-853). */
typedef struct raft_voters {
    int n;
    raft_key v[RAFT_MAX_VOTERS];
} raft_voters;

/* OffsetAndEpoch; also Fetch's EpochEndOffset and SnapshotId. */
typedef struct raft_oe {
    int64_t offset;
    int32_t epoch;
} raft_oe;

/* One record batch: offsets [base, last] written in `epoch`. `data`/`len`
 * are the batch's bytes (opaque to the core). A control batch written by
 * the core itself (LeaderChangeMessage at the start of each epoch) has
 * control set and no data: the glue encodes it from raft_info. */
typedef struct raft_batch {
    int64_t base_offset;
    int64_t last_offset;
    int32_t epoch;
    bool control;
    const uint8_t *data;
    uint32_t len;
} raft_batch;

/* The quorum-state file (raft/QuorumStateData.json v1): LeaderId,
 * LeaderEpoch, VotedId, VotedDirectoryId. */
typedef struct raft_qstate {
    int32_t epoch;
    int32_t leader_id; /* RAFT_NO_ID */
    raft_key voted;    /* id RAFT_NO_ID when none */
} raft_qstate;

typedef enum raft_kind {
    RAFT_VOTE_REQ,
    RAFT_VOTE_RESP,
    RAFT_BEGIN_REQ, /* BeginQuorumEpoch */
    RAFT_BEGIN_RESP,
    RAFT_END_REQ, /* EndQuorumEpoch */
    RAFT_END_RESP,
    RAFT_FETCH_REQ,
    RAFT_FETCH_RESP,
    RAFT_FSNAP_REQ, /* FetchSnapshot */
    RAFT_FSNAP_RESP,
} raft_kind;

/* VoteRequest v2 (one topic, one partition). */
typedef struct raft_vote_req {
    raft_key voter; /* VoterId + VoterDirectoryId: the intended receiver */
    int32_t replica_epoch;
    raft_key replica; /* ReplicaId + ReplicaDirectoryId: the nominee */
    int32_t last_offset_epoch;
    int64_t last_offset;
    bool pre_vote;
} raft_vote_req;

/* The partition part shared by Vote, BeginQuorumEpoch and EndQuorumEpoch
 * responses; error_code is the top-level one. */
typedef struct raft_epoch_resp {
    int16_t error_code;
    int16_t partition_error;
    int32_t leader_id;
    int32_t leader_epoch;
    bool vote_granted; /* Vote only */
} raft_epoch_resp;

typedef struct raft_begin_req {
    raft_key voter; /* VoterId + VoterDirectoryId */
    int32_t leader_id;
    int32_t leader_epoch;
} raft_begin_req;

typedef struct raft_end_req {
    int32_t leader_id;
    int32_t leader_epoch;
    int n_candidates; /* PreferredCandidates, best first */
    raft_key candidates[RAFT_MAX_VOTERS];
} raft_end_req;

/* FetchRequest v17 with ReplicaState.ReplicaId, one partition. */
typedef struct raft_fetch_req {
    raft_key replica; /* ReplicaId + ReplicaDirectoryId */
    int32_t max_wait_ms;
    int32_t max_bytes;
    int32_t current_leader_epoch;
    int64_t fetch_offset;
    int32_t last_fetched_epoch;
    int64_t high_watermark; /* -1 unknown */
} raft_fetch_req;

typedef struct raft_fetch_resp {
    int16_t error_code;
    int16_t partition_error;
    int64_t high_watermark; /* -1 unknown */
    int64_t log_start_offset;
    raft_oe diverging; /* DivergingEpoch: epoch -1, offset -1 when absent */
    int32_t leader_id; /* CurrentLeader */
    int32_t leader_epoch;
    raft_oe snapshot_id; /* SnapshotId: -1/-1 when absent */
    int n_batches;
    raft_batch batches[RAFT_MAX_FETCH_BATCHES];
} raft_fetch_resp;

typedef struct raft_fsnap_req {
    raft_key replica;
    int32_t max_bytes;
    int32_t current_leader_epoch;
    raft_oe snapshot_id;
    int64_t position;
} raft_fsnap_req;

typedef struct raft_fsnap_resp {
    int16_t error_code;
    int16_t partition_error;
    raft_oe snapshot_id;
    int32_t leader_id;
    int32_t leader_epoch;
    int64_t size;
    int64_t position;
    const uint8_t *data; /* UnalignedRecords */
    uint32_t len;
} raft_fsnap_resp;

typedef struct raft_msg {
    raft_kind kind;
    int32_t from, to;
    int32_t correlation_id; /* a response carries its request's */
    bool has_cluster_id;    /* ClusterId is nullable in requests */
    char cluster_id[RAFT_CLUSTER_ID_CAP];
    union {
        raft_vote_req vote;
        raft_begin_req begin;
        raft_end_req end;
        raft_fetch_req fetch;
        raft_fsnap_req fsnap;
        raft_epoch_resp eresp; /* Vote, Begin and End responses */
        raft_fetch_resp fresp;
        raft_fsnap_resp sresp;
    } u;
} raft_msg;

typedef enum raft_out_kind {
    RAFT_OUT_PERSIST,
    RAFT_OUT_TRUNCATE,
    RAFT_OUT_APPEND,
    RAFT_OUT_SEND,
    RAFT_OUT_COMMIT,
    /* FetchSnapshot (follower): write `chunk` at `offset` bytes into the
     * snapshot `id` being fetched. */
    RAFT_OUT_SNAPSHOT_WRITE,
    /* The fetched snapshot `id` is complete: freeze it, drop the whole log
     * and start the log at id.offset (Kafka's truncateToLatestSnapshot). */
    RAFT_OUT_SNAPSHOT_INSTALL,
    /* The log start moved up to `offset` (a snapshot the caller took sits
     * there): segments below it may go. */
    RAFT_OUT_LOG_START,
} raft_out_kind;

typedef struct raft_out {
    raft_out_kind kind;
    union {
        raft_qstate qstate; /* PERSIST */
        int64_t offset;     /* TRUNCATE, COMMIT, LOG_START */
        raft_batch batch;   /* APPEND */
        raft_msg msg;       /* SEND */
        struct {
            raft_oe id;
            int64_t position;
            const uint8_t *data;
            uint32_t len;
        } snap; /* SNAPSHOT_WRITE / SNAPSHOT_INSTALL */
    } u;
} raft_out;

/* Kafka's RaftLog, read side, over the caller's log. */
typedef struct raft_log_ops {
    /* endOffsetForEpoch: the largest epoch <= `epoch` present in the log
     * and the offset where it ends (the start of the next epoch, or the log
     * end); the snapshot id when that epoch starts at the log start; the
     * log end and last epoch when no epoch <= `epoch` is present. */
    raft_oe (*end_offset_for_epoch)(void *ctx, int32_t epoch);
    /* The epoch of the batch holding `offset`, or -1. */
    int32_t (*epoch_at)(void *ctx, int64_t offset);
    /* Batches from `offset` (a batch boundary) up to about max_bytes
     * (at least one); returns how many were written into out[]. */
    int (*read)(void *ctx, int64_t offset, uint32_t max_bytes, raft_batch *out,
                int cap);
    /* FetchSnapshot (leader): bytes [position, position+len) of snapshot
     * `id`; returns false when there is no such snapshot. */
    bool (*read_snapshot)(void *ctx, raft_oe id, int64_t position, uint32_t max,
                          const uint8_t **data, uint32_t *len, int64_t *size);
    void *ctx;
} raft_log_ops;

/* Kafka's quorum keys, in milliseconds. */
typedef struct raft_config {
    raft_key self; /* node.id and meta.properties directory.id */
    char cluster_id[RAFT_CLUSTER_ID_CAP];
    raft_voters voters;              /* controller.quorum.voters */
    int32_t election_timeout_ms;     /* 1000 */
    int32_t fetch_timeout_ms;        /* 2000 */
    int32_t election_backoff_max_ms; /* 1000 */
    int32_t request_timeout_ms;      /* 2000 */
    int32_t retry_backoff_ms;        /* 20 */
    int32_t fetch_max_wait_ms;       /* 500 (KafkaRaftClient) */
    int32_t fetch_max_bytes;         /* 1048576 */
    int32_t fetch_snapshot_max_bytes;
} raft_config;

/* Kafka's defaults for every timing key. */
void raft_config_defaults(raft_config *cfg);

/* What survived on disk: the quorum-state (epoch 0, nobody, when absent),
 * the log after recovery (all of it durable) and the latest snapshot. */
typedef struct raft_boot {
    raft_qstate qstate;
    bool has_qstate;
    int64_t log_start;   /* offset of the first batch (= snapshot offset) */
    int64_t log_end;     /* next offset */
    int32_t last_epoch;  /* epoch of the last batch (or snapshot), 0 empty */
    raft_oe snapshot_id; /* latest snapshot, offset -1 none */
    int32_t start_epoch; /* epoch of the (earliest) snapshot at log_start */
} raft_boot;

typedef enum raft_role {
    RAFT_UNATTACHED,
    RAFT_PROSPECTIVE,
    RAFT_CANDIDATE,
    RAFT_LEADER,
    RAFT_FOLLOWER,
    RAFT_RESIGNED,
} raft_role;

const char *raft_role_name(raft_role role);

typedef struct raft_peer {
    raft_key key;
    int64_t end_offset; /* -1 unknown */
    int64_t last_fetch_ms;
    int64_t last_caught_up_ms;     /* -1 never */
    int64_t last_fetch_leader_end; /* the leader's end at the last fetch */
    bool acked;                    /* hasAcknowledgedLeader */
    int8_t vote;      /* election: 0 unrecorded, 1 granted, -1 rejected */
    bool fetched;     /* check-quorum: fetched since the last reset */
    int8_t req_state; /* request manager: 0 ready, 1 in flight, 2 backoff */
    int32_t req_corr;
    int64_t req_until; /* in flight: timeout; backoff: end */
    /* A parked Fetch (Kafka's fetch purgatory), leader only. */
    bool parked;
    /* The high watermark in the last Fetch response it was sent (leader):
     * for a Fetch without the peer's own (before v18, KIP-1166; our codecs
     * stop at v17) one that would carry a higher one is not parked. */
    int64_t sent_hw;
    raft_fetch_req parked_req;
    int32_t parked_corr;
    int64_t parked_deadline;
    bool unacked_end; /* resigned: EndQuorumEpoch not yet acknowledged */
} raft_peer;

typedef struct raft {
    raft_config cfg;
    raft_log_ops log;
    rng *rng;
    int64_t now;

    /* quorum state (persisted part in qs) */
    raft_role role;
    raft_qstate qs;
    int64_t hw;        /* this state's high watermark, -1 unknown */
    int64_t committed; /* highest hw reported (RAFT_OUT_COMMIT), -1 none */
    int64_t election_deadline;
    int64_t fetch_deadline;
    bool vote_rejected_wait; /* candidate lost: waiting out its timeout */
    bool has_fetched_from_leader;
    int n_successors; /* resigned: preferred successors, best first */
    raft_key successors[RAFT_MAX_VOTERS];

    /* log view */
    int64_t log_start;
    int64_t log_end;
    int32_t last_epoch;
    int64_t durable_end;
    raft_oe snapshot_id; /* latest snapshot */
    int32_t start_epoch; /* epoch of the snapshot at log_start (> 0) */

    /* leader */
    int64_t epoch_start_offset;
    int64_t check_quorum_deadline;
    int64_t begin_epoch_deadline;
    int n_granting;
    int32_t granting[RAFT_MAX_VOTERS];

    /* follower: fetching a snapshot (KIP-630) */
    bool fetching_snapshot;
    raft_oe fetch_snap_id;
    int64_t fetch_snap_pos;

    raft_peer voters[RAFT_MAX_VOTERS]; /* same order as cfg.voters */
    int n_observers;
    raft_peer observers[RAFT_MAX_OBSERVERS];
    int32_t next_corr;
    bool completing; /* completing parked fetches (no reentry) */
    bool complete_all_again;
    uint64_t violations; /* protocol violations by peers, ignored */

    int n_out;
    raft_out out[RAFT_OUT_CAP];
} raft;

/* Start in the state Kafka's QuorumState.initialize picks: Resigned if we
 * led this epoch, Candidate if we voted for ourselves, Follower of a known
 * leader, else Unattached. May PERSIST (drain r->out). */
void raft_init(raft *r, const raft_config *cfg, const raft_log_ops *log,
               rng *rng, const raft_boot *boot, int64_t now_ms);

/* Inputs. Each may fill r->out; the caller drains it (raft_out_clear)
 * before the next call. */
void raft_receive(raft *r, int64_t now_ms, const raft_msg *msg);
void raft_tick(raft *r, int64_t now_ms);
/* Leader only: append one batch of `count` records (opaque bytes, borrowed
 * until the outbox is drained). Returns KERR_NONE with *base_offset, or
 * KERR_NOT_LEADER_OR_FOLLOWER. */
int raft_propose(raft *r, int64_t now_ms, const uint8_t *data, uint32_t len,
                 uint32_t count, int64_t *base_offset);
/* The log is durable up to `end` (exclusive). */
void raft_log_synced(raft *r, int64_t now_ms, int64_t end);
/* The caller wrote a snapshot at `id` (id.offset <= high watermark, at a
 * batch boundary, epoch = the epoch of the batch before it). The log start
 * moves there (RAFT_OUT_LOG_START). */
void raft_snapshot_created(raft *r, raft_oe id);
/* Resign leadership (controlled shutdown); Kafka's RaftClient.resign. */
void raft_resign(raft *r, int64_t now_ms);

static inline void raft_out_clear(raft *r) {
    r->n_out = 0;
}

/* When the next tick is due (absolute ms). */
int64_t raft_next_deadline(const raft *r);

/* DescribeQuorum and the checkers read these. */
typedef struct raft_info {
    raft_role role;
    int32_t epoch;
    int32_t leader_id;
    raft_key voted;
    int64_t high_watermark; /* the state's (a new leader's starts unknown) */
    int64_t committed;      /* the node's, monotonic */
    int64_t log_start;
    int64_t log_end;
    int64_t durable_end;
    int32_t last_epoch;
    int64_t epoch_start_offset; /* leader */
    bool is_voter;
} raft_info;
void raft_get_info(const raft *r, raft_info *info);

/* DescribeQuorum's ReplicaState (leader only): LogEndOffset (-1 unknown),
 * LastFetchTimestamp and LastCaughtUpTimestamp (-1 never; the leader's own
 * are `now`, as RaftUtil.toReplicaStates has them). */
typedef struct raft_replica_info {
    raft_key key;
    int64_t log_end_offset;
    int64_t last_fetch_ms;
    int64_t last_caught_up_ms;
} raft_replica_info;
/* Fill voters then observers; returns how many (<= cap), *n_voters of
 * them voters; -1 when not the leader (Kafka: NOT_LEADER_OR_FOLLOWER). */
int raft_describe_quorum(const raft *r, int64_t now_ms, raft_replica_info *out,
                         int cap, int *n_voters);

#endif
