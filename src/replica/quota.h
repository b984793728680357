/*
 * quota.h - replication throttles (Kafka's ReplicationQuotaManager) and the
 * preferred read replica (KIP-392, Kafka's RackAwareReplicaSelector).
 *
 * repl_quota: the byte rate of throttled replication traffic as Kafka's
 * SimpleRate measures it over a sampled window (replication.quota.window.num
 * samples of replication.quota.window.size.seconds each): rate = bytes in
 * the live samples / max(now - oldest sample's start, one window). The
 * quota is exceeded when that rate is above the bound
 * (leader./follower.replication.throttled.rate, bytes/s). The bound is
 * passed at each check, so a dynamic change applies at once and the samples
 * are kept, as Kafka updates its metric's config.
 *
 * repl_throttled_list: whether a topic's leader.replication.throttled.replicas
 * / follower.replication.throttled.replicas ("*" or
 * "partition:broker,...") throttles a partition on a broker (Kafka's
 * TopicConfigHandler.parseThrottledPartitions keeps the entries naming this
 * broker).
 *
 * repl_select_read_replica: RackAwareReplicaSelector.select with Kafka's
 * ReplicaView comparator.
 *
 * Ownership: a repl_quota is its holder's (init / free). Threading: none
 * of its own; each holder uses its own on the loop thread.
 */
#ifndef SL_REPLICA_QUOTA_H
#define SL_REPLICA_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/image.h"

typedef struct repl_quota_sample {
    int64_t start_ms; /* Kafka's lastWindowMs */
    int64_t events;
    double value;
} repl_quota_sample;

typedef struct repl_quota {
    int n_samples;     /* replication.quota.window.num */
    int64_t window_ms; /* replication.quota.window.size.seconds * 1000 */
    repl_quota_sample *s;
    int used; /* samples made so far (Kafka's list grows to n_samples) */
    int cur;
} repl_quota;

void repl_quota_init(repl_quota *q, int n_samples, int64_t window_ms);
void repl_quota_free(repl_quota *q);
/* Adds bytes at now_ms, whatever the quota (Kafka's record(value, now,
 * checkQuotas=false)). */
void repl_quota_record(repl_quota *q, int64_t bytes, int64_t now_ms);
/* The measured rate in bytes/s (SimpleRate.measure). */
double repl_quota_rate(repl_quota *q, int64_t now_ms);
/* Whether the rate is above bound (bytes/s; INT64_MAX: never). */
bool repl_quota_exceeded(repl_quota *q, int64_t bound, int64_t now_ms);

/* Whether list ("*", "p:b,p:b", "" or NULL) throttles partition on broker. */
bool repl_throttled_list(const char *list, int32_t partition,
                         int32_t broker_id);
/* The same for a topic's override of key (the two keys have no broker
 * default: absent is ""). */
bool repl_topic_throttled(const cl_topic *t, const char *key, int32_t partition,
                          int32_t broker_id);
#define REPL_LEADER_THROTTLED_REPLICAS "leader.replication.throttled.replicas"
#define REPL_FOLLOWER_THROTTLED_REPLICAS                                       \
    "follower.replication.throttled.replicas"

/* A replica the leader may send a consumer to (Kafka's ReplicaView). */
typedef struct repl_read_replica {
    int32_t id;
    const char *rack; /* NULL: none */
    int64_t leo;
    int64_t since_caught_up_ms;
} repl_read_replica;

/* RackAwareReplicaSelector.select: the leader when the client has no rack,
 * no candidate is in its rack, or the leader is; else the most caught-up
 * replica of the client's rack (largest LEO, then the smallest time since
 * caught up, then the largest id). Returns the chosen id. cands includes
 * the leader. */
int32_t repl_select_read_replica(const char *client_rack,
                                 const repl_read_replica *cands, int n,
                                 int32_t leader);

#endif
