/*
 * coord.h - the coordinator runtime of a node (a reduced form of Kafka's
 * org.apache.kafka.coordinator.common.runtime.CoordinatorRuntime): what the
 * group and transaction coordinators (src/group, src/txn) stand on instead
 * of the broker.
 *
 *   - coord_req: a request as a coordinator sees it (arena, version, the
 *     decoded-from body, client id, peer, the listener's advertised
 *     endpoint) and the way to write and complete its response, possibly
 *     later (COORD_DEFER, then coord_req_complete). The broker adapts its
 *     brk_req to it in its dispatch (src/broker/coordinators.c).
 *   - coord_services: what a coordinator needs from the rest of its node
 *     (configuration, the metadata image, the replica manager, the log
 *     manager, topic creation, live brokers, producer id blocks); the
 *     broker implements them and registers them in the node's coord_rt.
 *   - shutdown hooks, run in order when the node's shutdown begins.
 *
 * Ownership: the broker owns the coord_rt (brk_broker.coord) and its
 * services' host; a coord_req lives in the broker's request (its arena)
 * until it is completed. Threading: the node's loop thread only; every
 * callback runs on it.
 */
#ifndef SL_COORD_H
#define SL_COORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/image.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/util.h"
#include "log/log.h"
#include "net/net.h"
#include "replica/replica.h"

/* What a coordinator handler returns; the same values and meaning as the
 * broker's brk_status (src/broker/broker.h). */
typedef enum {
    COORD_DONE = 0,        /* response body written; send it now */
    COORD_AFTER_FLUSH = 1, /* send it once this loop pass's flushes are done */
    COORD_NO_RESPONSE = 2, /* send nothing */
    COORD_DEFER = 3,       /* kept; completed later with coord_req_complete */
    COORD_CLOSE = 4,       /* malformed request: close the connection */
} coord_status;

/* The broker configuration keys the coordinators read (the broker maps them
 * to its own table; values are read live, so dynamic changes apply). */
typedef enum {
    COORD_CFG_GROUP_MIN_SESSION_TIMEOUT_MS,
    COORD_CFG_GROUP_MAX_SESSION_TIMEOUT_MS,
    COORD_CFG_GROUP_INITIAL_REBALANCE_DELAY_MS,
    COORD_CFG_GROUP_MAX_SIZE,
    COORD_CFG_GROUP_COORDINATOR_REBALANCE_PROTOCOLS, /* string */
    COORD_CFG_GROUP_CONSUMER_SESSION_TIMEOUT_MS,
    COORD_CFG_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS,
    COORD_CFG_GROUP_CONSUMER_MAX_SIZE,
    COORD_CFG_GROUP_CONSUMER_ASSIGNORS, /* string */
    COORD_CFG_OFFSETS_TOPIC_NUM_PARTITIONS,
    COORD_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR,
    COORD_CFG_OFFSETS_TOPIC_SEGMENT_BYTES,
    COORD_CFG_OFFSETS_RETENTION_MINUTES,
    COORD_CFG_OFFSETS_RETENTION_CHECK_INTERVAL_MS,
    COORD_CFG_OFFSET_METADATA_MAX_BYTES,
    COORD_CFG_TRANSACTION_STATE_LOG_NUM_PARTITIONS,
    COORD_CFG_TRANSACTION_STATE_LOG_REPLICATION_FACTOR,
    COORD_CFG_TRANSACTION_MAX_TIMEOUT_MS,
    COORD_CFG_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS,
    COORD_CFG_TRANSACTION_REMOVE_EXPIRED_TRANSACTION_CLEANUP_INTERVAL_MS,
    COORD_CFG_TRANSACTIONAL_ID_EXPIRATION_MS,
    COORD_CFG_PRODUCER_ID_EXPIRATION_MS,
    COORD_CFG_PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS,
    COORD_CFG_COUNT
} coord_cfg;

/* ---- requests ------------------------------------------------------------ */

typedef struct coord_req coord_req;

/* How the host (the broker) writes and completes a coord_req's response. */
typedef struct coord_req_ops {
    /* The response body buffer (encode into it; grows as needed). */
    buf *(*resp_buf)(coord_req *req);
    /* Completes a deferred request: COORD_DONE, COORD_AFTER_FLUSH or
     * COORD_NO_RESPONSE. req and its arena are gone afterwards. */
    void (*complete)(coord_req *req, coord_status st);
    /* The client went away (the completion will be dropped). */
    bool (*orphan)(const coord_req *req);
} coord_req_ops;

struct coord_req {
    arena *arena; /* per-request memory, freed after the response */
    int16_t api_key;
    int16_t api_version;
    bool flexible; /* the version uses compact encodings / tagged fields */
    rd body;       /* the request body, to decode with the generated codecs */
    const char *client_id; /* NUL-terminated, "" if null */
    size_t client_id_len;  /* its bytes (a NUL may be among them) */
    const char *peer;      /* "host:port" of the client */
    int listener;          /* the listener it came in on (index) */
    const char *adv_host;  /* that listener's advertised endpoint */
    int32_t adv_port;
    const coord_req_ops *ops;
    void *host; /* the host's request (brk_req) */
};

static inline buf *coord_resp_buf(coord_req *req) {
    return req->ops->resp_buf(req);
}
static inline void coord_req_complete(coord_req *req, coord_status st) {
    req->ops->complete(req, st);
}
static inline bool coord_req_orphan(const coord_req *req) {
    return req->ops->orphan(req);
}

/* Sizes a generated response array to count elements, zero-filled in the
 * request arena (a negative count gives an empty one); evaluates to it. */
#define COORD_RESP_ARRAY(req, arr, count)                                      \
    ((arr).n = (count) > 0 ? (count) : 0,                                      \
     (arr).v = arena_calloc((req)->arena, (size_t)(arr).n, sizeof *(arr).v),   \
     (arr).n)

/* ---- the node's services ------------------------------------------------- */

typedef struct coord_services {
    void *host; /* passed back to every callback (the broker) */
    int64_t (*cfg_i64)(void *host, coord_cfg key);
    const char *(*cfg_str)(void *host, coord_cfg key);
    /* The metadata image; may change over the node's life. */
    cl_image *(*image)(void *host);
    /* The replica manager and the log manager; NULL until storage opens. */
    repl_manager *(*replicas)(void *host);
    log_manager *(*logs)(void *host);
    /* Creates a topic with configs (the controller); a Kafka error code. */
    int16_t (*create_topic)(void *host, const char *name, int32_t n_parts,
                            int16_t rf, const sl_kv *configs, size_t n_configs);
    /* Registered, unfenced brokers. */
    int32_t (*live_brokers)(void *host);
    /* Reserves producer ids [*first, *first + block), *first >= floor; a
     * Kafka error code. */
    int16_t (*allocate_producer_ids)(void *host, int32_t block, int64_t floor,
                                     int64_t *first);
} coord_services;

typedef void (*coord_hook_fn)(void *arg);

#define COORD_MAX_HOOKS 8

/* The node's coordinator runtime. */
typedef struct coord_rt {
    coord_services svc;
    int32_t node_id;
    net_loop *loop; /* NULL in unit tests without a loop */
    bool stopping;  /* coord_rt_shutdown has begun */
    struct {
        coord_hook_fn fn;
        void *arg;
    } hooks[COORD_MAX_HOOKS];
    int n_hooks;
} coord_rt;

/* A runtime for a node (svc copied). */
coord_rt *coord_rt_new(const coord_services *svc, int32_t node_id,
                       net_loop *loop);
void coord_rt_free(coord_rt *rt);
/* Registers fn(arg) to run when the node's shutdown begins. */
void coord_on_shutdown(coord_rt *rt, coord_hook_fn fn, void *arg);
/* Runs the hooks in order (the broker's shutdown hook calls it). */
void coord_rt_shutdown(coord_rt *rt);

static inline int64_t coord_cfg_i64(const coord_rt *rt, coord_cfg key) {
    return rt->svc.cfg_i64(rt->svc.host, key);
}
static inline const char *coord_cfg_str(const coord_rt *rt, coord_cfg key) {
    return rt->svc.cfg_str(rt->svc.host, key);
}
static inline cl_image *coord_image(const coord_rt *rt) {
    return rt->svc.image(rt->svc.host);
}
static inline repl_manager *coord_repl(const coord_rt *rt) {
    return rt->svc.replicas(rt->svc.host);
}
static inline log_manager *coord_logs(const coord_rt *rt) {
    return rt->svc.logs(rt->svc.host);
}

/* Partition topic[partition] of the image, or NULL with *err
 * UNKNOWN_TOPIC_OR_PARTITION. */
cl_partition *coord_find_partition(const coord_rt *rt, const char *topic,
                                   size_t topic_len, int32_t partition,
                                   int16_t *err);
/* The local log of part if this node leads it, else NULL. */
log_partition *coord_leader_log(const coord_rt *rt, const cl_partition *part);
/* The local log of part whatever its role, or NULL. */
log_partition *coord_local_log(const coord_rt *rt, const cl_partition *part);

#endif
