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
 *   - coord_write: the one way a coordinator writes its records.
 *
 * Coordinator writes (Kafka's CoordinatorRuntime.scheduleWriteOperation and
 * its deferred event queue): records are appended through the replica
 * manager with acks=all; a write is PENDING until the high watermark covers
 * it (with one replica right after the append, with more later, from the
 * replica manager's purgatory). A response completed while writes are
 * pending (the handler's return through coord_req_finish, or a later
 * coord_req_complete) is held until every write issued before it has
 * completed, so no client hears of a state change before it is committed.
 * An append that fails gets Kafka's coordinator error mapping
 * (coord_write_error); so does a write that fails while pending (its done
 * callback gets it).
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
    COORD_CFG_OFFSETS_COMMIT_TIMEOUT_MS,
    COORD_CFG_TRANSACTION_STATE_LOG_NUM_PARTITIONS,
    COORD_CFG_TRANSACTION_STATE_LOG_REPLICATION_FACTOR,
    COORD_CFG_TRANSACTION_MAX_TIMEOUT_MS,
    COORD_CFG_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS,
    COORD_CFG_TRANSACTION_REMOVE_EXPIRED_TRANSACTION_CLEANUP_INTERVAL_MS,
    COORD_CFG_TRANSACTIONAL_ID_EXPIRATION_MS,
    COORD_CFG_PRODUCER_ID_EXPIRATION_MS,
    COORD_CFG_PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS,
    COORD_CFG_TRANSACTION_STATE_LOG_MIN_ISR,
    COORD_CFG_INTER_BROKER_LISTENER_NAME, /* string; NULL: PLAINTEXT */
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
    /* The listener name whose endpoints the client is given (the first
     * broker listener when it came in on a controller listener), as
     * Metadata answers: FindCoordinator names the coordinator's. */
    const char *listener_name;
    const coord_req_ops *ops;
    void *host;          /* the host's request (brk_req) */
    struct coord_rt *rt; /* the node's runtime: completion waits for writes */
};

static inline buf *coord_resp_buf(coord_req *req) {
    return req->ops->resp_buf(req);
}
/* Completes a deferred request (COORD_DONE, COORD_AFTER_FLUSH or
 * COORD_NO_RESPONSE) once the writes issued so far have completed: at once
 * if none is pending. */
void coord_req_complete(coord_req *req, coord_status st);
/* What the dispatch returns for a handler that returned st: st, or
 * COORD_DEFER when writes are pending (the response is then completed when
 * they are). */
coord_status coord_req_finish(coord_req *req, coord_status st);
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
    /* Submits the creation of a topic with configs to the controller and
     * returns at once (a Kafka error code if it cannot be submitted): the
     * topic is in the image once the commit applied it, so callers answer
     * COORDINATOR_NOT_AVAILABLE until then, as Kafka does. */
    int16_t (*create_topic)(void *host, const char *name, int32_t n_parts,
                            int16_t rf, const sl_kv *configs, size_t n_configs);
    /* Registered, unfenced brokers. */
    int32_t (*live_brokers)(void *host);
    /* Reserves producer ids [first, first + block), first >= floor, in the
     * metadata log: done(arg, err, first) runs once committed (err a Kafka
     * code, first -1 then), possibly inside the call. */
    void (*allocate_producer_ids)(void *host, int32_t block, int64_t floor,
                                  void (*done)(void *arg, int16_t err,
                                               int64_t first),
                                  void *arg);
} coord_services;

typedef void (*coord_hook_fn)(void *arg);

#define COORD_MAX_HOOKS 8

struct coord_waiter;

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
    /* coord_write: sequence numbers of the pending writes, increasing */
    uint64_t next_seq;
    uint64_t *pending;
    int n_pending, cap_pending;
    /* responses held until the writes before them complete (FIFO) */
    struct coord_waiter *wait_head, **wait_tail;
    bool flushing;
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

/* ---- coordinator writes -------------------------------------------------- */

/* A write's outcome once it completed: KERR_NONE or the mapped error. */
typedef void (*coord_write_done_fn)(void *ctx, int16_t err);

typedef struct coord_write_req {
    uint8_t *records; /* whole batches; rewritten in place by the append */
    size_t len;
    int64_t timeout_ms; /* how long the write may wait for the HW (<= 0:
                           30000) */
    /* Runs right after the local append, before the HW moves (the producer
     * state follows the log here); may be NULL. */
    void (*appended)(void *ctx, log_partition *log,
                     const log_append_info *info);
    coord_write_done_fn done; /* may be NULL */
    void *ctx;
    /* Errors as the replica manager gives them, not mapped: a write to a
     * data partition (transaction markers answer WriteTxnMarkers with the
     * partition's own error, as Kafka's produce path does). */
    bool raw_errors;
} coord_write_req;

/* Appends w->records to part (which this node must lead) with acks=all.
 * Returns the mapped error of the local append (done is not called then),
 * or KERR_NONE with *info filled (info may be NULL): the write is pending
 * until the HW covers it, then done runs exactly once (possibly before
 * coord_write returns) and the responses held behind it go out. */
int16_t coord_write(coord_rt *rt, const cl_partition *part,
                    const coord_write_req *w, log_append_info *info);
/* Kafka's mapping of append errors for coordinator writes
 * (GroupCoordinatorService / TransactionStateManager):
 * UNKNOWN_TOPIC_OR_PARTITION, NOT_ENOUGH_REPLICAS(_AFTER_APPEND),
 * REQUEST_TIMED_OUT -> COORDINATOR_NOT_AVAILABLE; NOT_LEADER_OR_FOLLOWER,
 * KAFKA_STORAGE_ERROR -> NOT_COORDINATOR; MESSAGE_TOO_LARGE,
 * RECORD_LIST_TOO_LARGE, INVALID_FETCH_SIZE -> UNKNOWN_SERVER_ERROR; other
 * errors unchanged. */
int16_t coord_write_error(int16_t append_err);
/* Writes not completed yet. */
int coord_writes_pending(const coord_rt *rt);

/* Partition topic[partition] of the image, or NULL with *err
 * UNKNOWN_TOPIC_OR_PARTITION. */
cl_partition *coord_find_partition(const coord_rt *rt, const char *topic,
                                   size_t topic_len, int32_t partition,
                                   int16_t *err);
/* The local log of part if this node leads it, else NULL. */
log_partition *coord_leader_log(const coord_rt *rt, const cl_partition *part);
/* The local log of part whatever its role, or NULL. */
log_partition *coord_local_log(const coord_rt *rt, const cl_partition *part);
/* The endpoint of broker node_id for listener (from its registration in
 * the image): true with *host (valid until the image changes) and *port,
 * false if the broker or its listener is not registered. */
bool coord_broker_endpoint(const coord_rt *rt, int32_t node_id,
                           const char *listener, const char **host,
                           int32_t *port);
/* The listener coordinators talk to other brokers on
 * (inter.broker.listener.name, PLAINTEXT when unset). */
const char *coord_inter_broker_listener(const coord_rt *rt);

#endif
