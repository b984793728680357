/*
 * fetcher.h - the replica fetchers (Kafka's ReplicaFetcherManager and
 * ReplicaFetcherThread): for every partition this node follows, a fetcher
 * per (leader broker, fetcher index) on the node's loop copies the leader's
 * log with Fetch requests carrying ReplicaState (replica id, broker epoch).
 *
 * A fetcher is one non-blocking net_client (src/net/client.h) to the
 * leader's endpoint for inter.broker.listener.name in the image's broker
 * registration, and the partitions it serves (hash of the partition modulo
 * num.replica.fetchers picks the index, as Kafka's getFetcherId). The
 * replica manager adds and removes partitions as roles change
 * (repl_update / repl_remove); the fetchers append with
 * REPL_ORIGIN_REPLICATION, take the leader's HW and log start, truncate on
 * DivergingEpoch and OFFSET_OUT_OF_RANGE, back off on errors.
 *
 * Ownership: the fetchers belong to the replica manager once started
 * (repl_fetchers_start); repl_fetchers_stop frees them (before the loop
 * stops; repl_manager_free does it too). The image is the caller's and
 * must outlive them. Threading: loop thread only.
 */
#ifndef SL_REPLICA_FETCHER_H
#define SL_REPLICA_FETCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/image.h"
#include "log/log.h"
#include "net/client.h"

typedef struct repl_fetchers repl_fetchers;
typedef struct repl_manager repl_manager;

typedef struct repl_fetcher_opts {
    const char *listener;       /* inter.broker.listener.name (copied) */
    int num_fetchers;           /* num.replica.fetchers (>= 1) */
    int32_t max_bytes;          /* replica.fetch.max.bytes (per partition) */
    int32_t min_bytes;          /* replica.fetch.min.bytes */
    int32_t wait_max_ms;        /* replica.fetch.wait.max.ms */
    int32_t response_max_bytes; /* replica.fetch.response.max.bytes */
    int64_t backoff_ms;         /* replica.fetch.backoff.ms */
    int64_t socket_timeout_ms;  /* replica.socket.timeout.ms */
    const net_transport *transport; /* NULL: the loop's */
    /* After replicated batches [batches, len) were appended to log (the
     * producer state follows the log); may be NULL. */
    void (*appended)(void *ctx, log_partition *log, const uint8_t *batches,
                     size_t len);
    /* After log was truncated (producer state must be rebuilt); may be
     * NULL. */
    void (*truncated)(void *ctx, log_partition *log);
    /* follower.replication.throttled.rate now (bytes/s, INT64_MAX: none;
     * read at each check, so a dynamic change applies at once); NULL: no
     * throttle. The window: replication.quota.window.num samples of
     * replication.quota.window.size.seconds (0: Kafka's 11 x 1 s). */
    int64_t (*throttle_rate)(void *ctx);
    int quota_window_num;
    int64_t quota_window_ms;
    void *ctx;
} repl_fetcher_opts;

/* Starts the fetchers of m on loop, before the first repl_update: the
 * partitions join fetchers as repl_update makes them followers. */
void repl_fetchers_start(repl_manager *m, net_loop *loop, const cl_image *img,
                         int32_t node_id, const repl_fetcher_opts *o);
/* Stops and frees them (pending requests complete as closed). */
void repl_fetchers_stop(repl_manager *m);

/* For tests and metrics: fetchers running, partitions they follow, and
 * requests sent / responses processed / truncations so far. */
typedef struct repl_fetcher_stats {
    int fetchers;
    int partitions;
    int64_t requests, responses, truncations, errors;
    int64_t throttled;   /* partitions left out of a request by the quota */
    int64_t incremental; /* requests that left unchanged partitions out */
} repl_fetcher_stats;
void repl_fetchers_stats(const repl_manager *m, repl_fetcher_stats *out);

#endif
