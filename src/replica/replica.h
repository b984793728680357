/*
 * replica.h - the replica manager (Kafka's ReplicaManager and Partition):
 * the state of every partition replica hosted on this node, the one append
 * path to the partition logs, and the purgatory where acks=all produces and
 * long-poll fetches wait (Kafka's DelayedProduce / DelayedFetch).
 *
 * What it owns, per local replica (keyed by topic id and partition):
 *   - the local log (log_partition; the log manager owns the memory, the
 *     replica manager the mapping: the metadata image holds no log);
 *   - the role (leader / follower / none), the leader epoch, the partition
 *     epoch and the ISR, as the metadata image says (repl_update) or, on a
 *     leader, as its last AlterPartition answer says (repl_isr_result);
 *   - the followers' fetch state (log end offset, caught-up time, broker
 *     epoch: repl_follower_fetch_state, from their Fetch requests), reset
 *     when a new leader epoch begins;
 *   - a leader's pending ISR change (one AlterPartition in flight per
 *     partition) and the shrink check (replica.lag.time.max.ms);
 *   - the replica fetchers of the partitions it follows (fetcher.h), told
 *     of every change of role, leader or leader epoch;
 *   - the HIGH WATERMARK of the partition logs.
 *
 * Invariants (asserted where written, in replica.c):
 *   1. The high watermark of a partition log moves only here and never
 *      backwards: a leader's HW is the smallest LEO of its maximal ISR
 *      (its own included; KIP-497) and of the followers caught up and
 *      eligible to join it, raised only when that is above it and the
 *      committed ISR is not under min.insync.replicas (hw_maybe_advance); a
 *      follower's is min(leader's HW, own LEO), raised only
 *      (repl_follower_set_hw). (The log layer itself only clamps it into
 *      [log start, LEO] when it deletes a prefix or truncates a follower.)
 *   2. Appends to a partition log go through repl_append (origin client,
 *      coordinator or replication); a client or coordinator append needs this
 *      node to lead the partition.
 *   3. Every purgatory entry completes exactly once: when its try_complete
 *      says so after a move of the HW or LEO of a partition it watches, at
 *      its deadline, or at repl_purgatory_shutdown. After its complete
 *      callback has returned the entry is gone.
 *   4. A leader has at most one ISR change pending; an answer is applied
 *      only to the pending state it was made for (its seq), and never
 *      takes the partition epoch backwards.
 *
 * Ownership: the manager owns its replica records and purgatory entries; the
 * caller owns the manager (the broker object: brk_broker.repl) and the log
 * manager. Threading: loop thread only; the callbacks run on it, from
 * repl_append, repl_update, a loop timer or repl_purgatory_expire.
 */
#ifndef SL_REPLICA_H
#define SL_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/image.h"
#include "log/log.h"
#include "net/net.h"

typedef struct repl_manager repl_manager;

typedef enum {
    REPL_ROLE_NONE = 0, /* not hosted here, or its log is not open yet */
    REPL_ROLE_LEADER,
    REPL_ROLE_FOLLOWER,
} repl_role;

typedef enum {
    REPL_ORIGIN_CLIENT = LOG_ORIGIN_CLIENT,           /* Produce */
    REPL_ORIGIN_COORDINATOR = LOG_ORIGIN_COORDINATOR, /* group/txn, markers */
    REPL_ORIGIN_REPLICATION = LOG_ORIGIN_REPLICATION, /* follower fetch */
} repl_origin;

/* A partition: topic id and index. */
typedef struct repl_key {
    uint8_t topic_id[16];
    int32_t partition;
} repl_key;

/* loop may be NULL (unit tests): deadlines are then only kept by
 * repl_purgatory_expire. */
repl_manager *repl_manager_new(int32_t node_id, net_loop *loop);
/* Frees the replica records (not the logs); the purgatory must be empty
 * (repl_purgatory_shutdown). */
void repl_manager_free(repl_manager *m);

/* ---- replicas: what the image says, and the local log -------------------- */

/* A partition hosted here appeared or changed in the image (or its local
 * log was opened: log, NULL while it is still being created). Takes the
 * role (leader when p->leader is this node), the leader epoch and the ISR
 * from p. A leader whose ISR is only itself has its HW at its LEO. Entries
 * in the purgatory watching the partition are checked again (a lost
 * leadership completes them). */
void repl_update(repl_manager *m, const cl_partition *p, log_partition *log);
/* The partition is no longer hosted here (its topic is being removed):
 * forgets it and returns its local log for the caller to delete (or NULL).
 * Its purgatory entries complete soon after (from a 0 ms timer, so the
 * image change has been applied when they answer). */
log_partition *repl_remove(repl_manager *m, const cl_partition *p);

/* The local log of p whatever the role, or NULL if not hosted / not open. */
log_partition *repl_log(const repl_manager *m, const cl_partition *p);
/* The local log of p if this node leads it, else NULL with *err set:
 * NOT_LEADER_OR_FOLLOWER (not hosted, not open yet or not the leader),
 * KAFKA_STORAGE_ERROR (its log dir failed). */
log_partition *repl_leader_log(const repl_manager *m, const cl_partition *p,
                               int16_t *err);
bool repl_is_leader(const repl_manager *m, const cl_partition *p);
repl_role repl_role_of(const repl_manager *m, const cl_partition *p);
int32_t repl_leader_epoch(const repl_manager *m, const cl_partition *p);
/* A request's current_leader_epoch against the replica's (Kafka's
 * Partition.checkCurrentLeaderEpoch): KERR_NONE when it is -1 or equal,
 * FENCED_LEADER_EPOCH when older, UNKNOWN_LEADER_EPOCH when newer. */
int16_t repl_check_epoch(const repl_manager *m, const cl_partition *p,
                         int32_t current_leader_epoch);

/* ---- the one append path ------------------------------------------------- */

/* The outcome of an append once its acks are met: err is KERR_NONE, or
 * REQUEST_TIMED_OUT (acks=all not met by the deadline) or
 * NOT_LEADER_OR_FOLLOWER (leadership lost while waiting). */
typedef void (*repl_done_fn)(void *ctx, int16_t err,
                             const log_append_info *info);

typedef struct repl_append_req {
    repl_origin origin;
    uint8_t *records; /* whole batches; offsets/epochs rewritten in place */
    size_t len;
    int16_t acks;                /* 0, 1 or -1 (all: wait for the HW) */
    int64_t timeout_ms;          /* how long acks=-1 waits */
    const log_record_sink *sink; /* rejected records (may be NULL) */
    /* Runs right after the local append, before the HW moves and any
     * waiter wakes (the producer state follows the log here). May be
     * NULL. */
    void (*appended)(void *ctx, log_partition *log,
                     const log_append_info *info);
    repl_done_fn done; /* may be NULL */
    void *ctx;
} repl_append_req;

/* Appends rq->records to the local log of p, which this node must lead
 * (except for REPL_ORIGIN_REPLICATION, which needs a follower), with the
 * leader epoch the manager holds. Returns the error of the local append
 * (NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR or the log's; done is not
 * called then) or KERR_NONE with *info filled: then done is called exactly
 * once, before repl_append returns when acks != -1 or the HW already covers
 * the batch, else later from the purgatory. */
int16_t repl_append(repl_manager *m, const cl_partition *p,
                    const repl_append_req *rq, log_append_info *info);

/* A follower (replica_id, broker_epoch from its Fetch's ReplicaState or
 * -1) fetched from fetch_offset, so it holds everything below
 * (src/broker/fetch.c, when its log does not diverge): Kafka's
 * Partition.updateFollowerFetchState. Its caught-up time moves (it reached
 * the leader's LEO, or what the LEO was at its previous fetch), it may join
 * the ISR, the leader's HW may move and waiters wake. */
void repl_follower_fetch_state(repl_manager *m, const cl_partition *p,
                               int32_t replica_id, int64_t broker_epoch,
                               int64_t fetch_offset);
/* The same with broker epoch -1 (tests). */
void repl_follower_fetched(repl_manager *m, const cl_partition *p,
                           int32_t replica_id, int64_t leo);

/* ---- ISR changes by the leader (Kafka's Partition.maybeShrinkIsr /
 * maybeExpandIsr with AlterPartition, KIP-497, KIP-841, KIP-903) ----------
 *
 * A leader's ISR is in one of two states: COMMITTED (what the image or the
 * last AlterPartition answer says) or PENDING (an AlterPartition it sent
 * is not answered yet: one at a time per partition). While an expansion is
 * pending the HW already counts the new member (the "maximal ISR": waiting
 * for more replicas is safe); while a shrink is pending it still counts
 * the leaving ones. A follower leaves when it has not been caught up to the
 * leader's LEO for replica.lag.time.max.ms (checked every half of it); it
 * joins when its fetch offset reaches the HW and the leader epoch's start
 * offset and it is eligible: registered, not fenced, not in controlled
 * shutdown, and its fetches' broker epoch is its registration's. */

/* One AlterPartition item: the ISR the leader asks for, with the broker
 * epochs of its members (-1: unknown), at the leader's epochs. seq names
 * the pending state it was made for (answers to older ones are ignored).
 * The arrays are borrowed for the call. */
typedef struct repl_isr_change {
    repl_key key;
    uint64_t seq;
    int32_t leader_epoch, partition_epoch;
    int32_t n_isr;
    const int32_t *isr;
    const int64_t *broker_epochs;
} repl_isr_change;

typedef struct repl_isr_opts {
    int64_t lag_time_max_ms; /* replica.lag.time.max.ms */
    const cl_image *image;   /* broker registrations (eligibility) */
    /* Queues the item for the controller (Kafka's AlterPartitionManager
     * .submit): KERR_NONE, or OPERATION_NOT_ATTEMPTED when one is queued
     * for the partition already. The answer comes back through
     * repl_isr_result, never inside this call. */
    int16_t (*submit)(void *ctx, const repl_isr_change *c);
    /* This broker's epoch (its registration). */
    int64_t (*broker_epoch)(void *ctx);
    /* The time, NULL: clk_mono_ms (tests pass their own). */
    int64_t (*now_ms)(void *ctx);
    void *ctx;
} repl_isr_opts;

/* Turns on ISR changes (off by default: the ISR is then the image's). With
 * a loop the shrink check runs every lag_time_max_ms / 2 on it; tests call
 * repl_isr_check. */
void repl_isr_start(repl_manager *m, const repl_isr_opts *o);
/* Turns them off again (shutdown: the submitter goes away). */
void repl_isr_stop(repl_manager *m);
/* The shrink check of every partition this node leads (Kafka's
 * maybeShrinkIsr from the isr-expiration task). */
void repl_isr_check(repl_manager *m);
/* The controller's answer to the item seq of k: err KERR_NONE with the
 * committed leader epoch, partition epoch and ISR, or a Kafka error
 * (OPERATION_NOT_ATTEMPTED and INELIGIBLE_REPLICA go back to the committed
 * ISR; FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION, UNKNOWN_TOPIC_ID, ...
 * wait for the image; any other is retried). */
void repl_isr_result(repl_manager *m, const repl_key *k, uint64_t seq,
                     int16_t err, int32_t leader_epoch, int32_t partition_epoch,
                     const int32_t *isr, int32_t n_isr);
/* The leader's committed ISR size (what min.insync.replicas counts), else
 * the image's. */
int32_t repl_isr_size(const repl_manager *m, const cl_partition *p);
/* Whether id is in p's committed ISR (a leader's, else the image's):
 * Kafka's Partition.inSyncReplicaIds, which replication throttles spare. */
bool repl_isr_contains(const repl_manager *m, const cl_partition *p,
                       int32_t id);
/* What a leader knows of its followers (the preferred read replica,
 * KIP-392): log end offset (-1 before its first fetch), time since it was
 * last caught up, committed ISR membership. Count written (at most max),
 * -1 when not the leader. */
typedef struct repl_follower_view {
    int32_t id;
    int64_t leo;
    int64_t since_caught_up_ms;
    bool in_isr;
} repl_follower_view;
int32_t repl_follower_views(const repl_manager *m, const cl_partition *p,
                            repl_follower_view *out, int32_t max);
/* For tests and logs: the maximal ISR of a leader into out[0..max), its
 * count; *pending whether an AlterPartition is in flight. -1 when not the
 * leader. */
int32_t repl_isr_state(const repl_manager *m, const cl_partition *p,
                       int32_t *out, int32_t max, bool *pending);

/* ---- purgatory ----------------------------------------------------------- */

typedef struct repl_op repl_op;
typedef struct repl_op_ops {
    /* Whether the operation can complete now (Kafka's tryComplete). Called
     * when the HW or LEO of a watched partition moved or its replica
     * changed. Must not complete or free anything itself. */
    bool (*try_complete)(void *ctx);
    /* Completes the operation (expired: its deadline passed, or the
     * purgatory shuts down). The entry is gone once this returns. */
    void (*complete)(void *ctx, bool expired);
} repl_op_ops;

/* Puts an operation in the purgatory, watching keys[0..n) (copied), until
 * try_complete says yes or timeout_ms passes. The caller checked
 * try_complete before. Returns the entry (valid until complete returns). */
repl_op *repl_purgatory_add(repl_manager *m, const repl_key *keys, int n,
                            int64_t timeout_ms, const repl_op_ops *ops,
                            void *ctx);
/* Checks the entries watching key (the HW or LEO of the partition moved). */
void repl_purgatory_check(repl_manager *m, const repl_key *key);
/* Completes the entries watching key (partition -1: any partition of the
 * topic) from a 0 ms timer, as expired (or at the next
 * repl_purgatory_expire without a loop). */
void repl_purgatory_poke(repl_manager *m, const uint8_t topic_id[16],
                         int32_t partition);
/* Completes (expired) the entries whose deadline is <= now_ms (the loop's
 * timers call this for each entry; tests call it directly). */
void repl_purgatory_expire(repl_manager *m, int64_t now_ms);
/* Completes every entry (expired): at shutdown, before the loop stops. */
void repl_purgatory_shutdown(repl_manager *m);
/* Entries waiting. */
size_t repl_purgatory_size(const repl_manager *m);

/* The key of a partition of the image. */
repl_key repl_key_of(const cl_partition *p);

#endif
