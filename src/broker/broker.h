/*
 * broker.h - the contract between the server core (net loop, dispatch,
 * ApiVersions, Metadata, admin handlers) and every request handler (data-path
 * handlers of the log layer, group and txn coordinators...).
 *
 * A request arrives as one frame; the server decodes the request header,
 * creates a brk_req (with its own arena) and calls the handler registered for
 * the api key (src/broker/handlers.def). The handler decodes the body from
 * req->body with the generated codecs (proto_<msg>_decode(...,
 * req->api_version, req->arena ...)), does its work and writes the response
 * *body* into the response chain (brk_resp_buf / brk_resp_file). The server
 * adds the size prefix and the response header (correlation id; tagged fields
 * for flexible versions; ApiVersions always header v0) and sends responses
 * strictly in request order per connection.
 *
 * Handler return values (brk_status):
 *   BRK_DONE        response body written; send it now.
 *   BRK_AFTER_FLUSH response body written; send it once the flushes begun
 *                   by the before-sleep hooks of this loop pass are done
 *                   (at once if none: src/log/flush.h).
 *   BRK_NO_RESPONSE send nothing (acks=0 Produce). The slot is released.
 *   BRK_DEFER       the handler keeps req and completes it later, from a timer
 *                   (net_timer_add on req->brk->loop) or an append event, with
 *                   brk_req_complete(req, BRK_DONE | BRK_AFTER_FLUSH |
 *                   BRK_NO_RESPONSE). Until then later responses on the same
 *                   connection wait. If the client disconnects meanwhile, req
 *                   stays valid; brk_req_orphan(req) turns true and the
 *                   completion is dropped, so a waiter may complete it early.
 *                   Every deferred req must be completed exactly once (at
 *                   shutdown the server runs brk_shutdown hooks first; a
 *                   waiter completes its reqs there).
 *   BRK_CLOSE       malformed request: close the connection (what Kafka does
 *                   when it cannot parse a request).
 * After BRK_DONE/AFTER_FLUSH/NO_RESPONSE/CLOSE, or after brk_req_complete,
 * req and everything in req->arena are gone: do not touch them.
 *
 * Ownership: the node (broker/node.h) owns brk_broker; the server owns every
 * brk_req. req->arena lives
 * until the response has been handed to the connection.
 * Threading: a req and the broker state are used only on the loop thread.
 */
#ifndef SL_BROKER_H
#define SL_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "broker/config.h"
#include "core/arena.h"
#include "core/buf.h"
#include "net/net.h"

typedef struct cl_image cl_image; /* src/cluster/image.h */
typedef struct cl_partition cl_partition;
typedef struct cl_topic cl_topic;
typedef struct log_manager log_manager; /* src/log/log.h */
typedef struct log_partition log_partition;
typedef struct brk_mover brk_mover;           /* alter_replica_log_dirs.c */
typedef struct txn_node txn_node;             /* src/txn/txn.h */
typedef struct grp_node grp_node;             /* src/group/node.h */
typedef struct ctl_controller ctl_controller; /* src/controller */
typedef struct repl_manager repl_manager;     /* src/replica/replica.h */
struct brk_storage;                           /* storage.c */

typedef struct brk_broker brk_broker;

/* ---- broker state ----------------------------------------------------------
 */

/* Runs when shutdown begins (before the loop stops): complete deferred reqs,
 * stop timers (brk_on_shutdown below). */
typedef void (*brk_hook_fn)(brk_broker *brk, void *ctx);

typedef struct brk_broker {
    brk_config *cfg; /* parsed configuration (broker/config.h) */
    cl_image *image; /* metadata image: topics, partitions, brokers, configs */
    log_manager *logs;       /* storage engine; NULL until opened */
    log_partition *meta_log; /* __cluster_metadata-0 (storage.c) */
    /* The local replicas (role, HW, the one append path, the purgatory);
     * made with the log manager (storage.c), NULL until then. */
    repl_manager *repl;
    net_loop *loop; /* the loop thread that runs the handlers */
    int32_t node_id;
    char cluster_id[32]; /* base64url uuid, from meta.properties */
    int n_listeners;
    net_endpoint listeners[16];  /* as bound (port resolved if 0) */
    net_endpoint advertised[16]; /* same order as listeners */
    bool shutting_down;
    struct brk_mover *mover; /* log-dir moves (alter_replica_log_dirs.c);
                                NULL until the first one */
    /* The coordinators' state, made at start and freed after the loop
     * stops (txn_node_new / grp_node_new). */
    struct txn_node *txn;   /* producer states, transaction coordinator */
    struct grp_node *grp;   /* group coordinator */
    struct coord_rt *coord; /* their runtime: the services they stand on */
    /* The controller: commits metadata records (ctl_submit) to the
     * metadata log and applies them to image; made with the image. */
    ctl_controller *ctl;
    /* The KRaft quorum member when controller.quorum.voters names several
     * controllers (raft_voters.c), else NULL (a single node). */
    struct raft_node *quorum;
    /* broker_lifecycle.c: registrations and heartbeat sessions of the
     * brokers (controller/cluster_ctl.h), made on the first request. */
    struct ctl_cluster *cluster_ctl;
    int32_t cluster_ctl_epoch; /* the Raft epoch its sessions began in */
    uint64_t cluster_expire_timer;
    uint64_t elect_unclean_timer,
        elect_preferred_timer; /* broker_lifecycle.c */
    /* lifecycle_net.c: this broker's registration and heartbeats with the
     * active controller (a quorum only), NULL otherwise. */
    struct brk_lm *lm;
    /* alter_partition_mgr.c: AlterPartition to the active controller (a
     * quorum only), NULL otherwise. */
    struct brk_apm *apm;
    struct brk_storage *storage;   /* storage.c's state; NULL until opened */
    struct brk_creating *creating; /* controller.c: topics being created */
    /* The state of the broker's own modules: a node holds all of it, so
     * several nodes run in one process (no file-level statics). */
    struct {
        brk_hook_fn fn;
        void *ctx;
    } shutdown_hooks[32]; /* brk_on_shutdown, run in order */
    int n_shutdown_hooks;
    struct brk_cleaner *cleaner; /* log_cleaner.c; NULL when disabled */
    struct brk_fetch_sessions *fetch_sessions; /* fetch.c; NULL until the
                                                  first session */
    struct brk_forward *forward; /* forward.c: clients to the controllers;
                                    NULL until the first forward */
    int64_t pid_next_pending;    /* controller.c: producer ids handed out,
                                    their record maybe not committed yet */
} brk_broker;

/* ---- requests
 * ---------------------------------------------------------------- */

typedef enum {
    BRK_DONE = 0,
    BRK_AFTER_FLUSH = 1,
    BRK_NO_RESPONSE = 2,
    BRK_DEFER = 3,
    BRK_CLOSE = 4,
} brk_status;

typedef struct brk_req {
    brk_broker *brk;
    arena *arena; /* per-request memory, freed after the response */
    /* request header */
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    const char *client_id; /* NUL-terminated, in arena; "" if null */
    size_t client_id_len;  /* its bytes (a NUL may be among them) */
    bool client_id_null;
    /* the body (after the header, including the header's tagged fields) */
    rd body;
    const uint8_t *frame; /* whole request frame (copied into arena; for
                             Produce the connection's buffer, valid until
                             the handler returns) */
    size_t frame_len;
    /* where it came from */
    int listener;     /* index into brk->listeners / advertised */
    const char *peer; /* "host:port" of the client */
    uint64_t conn_id;
    /* response being built: body only, the server prepends the header */
    net_chain resp;
    /* private to the server */
    net_conn *conn_;
    net_slot *slot_;
    bool completed_;
    /* An Envelope's embedded request (forward.c): its framed response goes
     * to parent_done_(parent_, ...) instead of a connection slot. */
    struct brk_req *parent_;
    void (*parent_done_)(struct brk_req *parent, const uint8_t *resp,
                         size_t len);
} brk_req;

typedef brk_status (*brk_handler_fn)(brk_req *req);

/* Response body writer: the memory chunk at the end of the chain. Encode
 * into it with the generated encoders; grows as needed. */
static inline buf *brk_resp_buf(brk_req *req) {
    return net_chain_mem(&req->resp);
}
/* Appends bytes [off, off+len) of fd to the response (sendfile; no copy).
 * The length prefix of the records field must already be in brk_resp_buf.
 * fd is dup'ed. Returns false if dup fails (send an error instead). */
bool brk_resp_file(brk_req *req, int fd, off_t off, size_t len);
/* Bytes written to the response body so far (mem + file). */
static inline size_t brk_resp_len(const brk_req *req) {
    return net_chain_total(&req->resp);
}

/* Sizes a generated response array (a {v, n} pair) to count elements, as
 * many as the request array it answers, zero-filled in the request arena; a
 * negative count (a null array) gives an empty one. Evaluates to the count:
 *   int32_t nt = BRK_RESP_ARRAY(req, rs.topics, rq.topics.n); */
#define BRK_RESP_ARRAY(req, arr, count)                                        \
    ((arr).n = (count) > 0 ? (count) : 0,                                      \
     (arr).v = arena_calloc((req)->arena, (size_t)(arr).n, sizeof *(arr).v),   \
     (arr).n)

/* Completes a deferred request (see BRK_DEFER above). status is BRK_DONE,
 * BRK_AFTER_FLUSH or BRK_NO_RESPONSE. */
void brk_req_complete(brk_req *req, brk_status status);
bool brk_req_orphan(const brk_req *req);

/* True if the request version is flexible (compact encodings, tagged fields),
 * from the generated api table. */
bool brk_req_flexible(const brk_req *req);

/* ---- handler table ---------------------------------------------------------
 */

/* The handlers, declared from handlers.def: one line per api key,
 * BRK_API(api_key, min_version, max_version, handler_fn). ApiVersions
 * advertises exactly these ranges (capped to what the generated codecs
 * know). A helper that adds an API appends its line. */
#define BRK_API(key, minv, maxv, fn) brk_status fn(brk_req *req);
#include "broker/handlers.def"
#undef BRK_API

typedef struct brk_api {
    int16_t key;
    int16_t min_version;
    int16_t max_version;
    /* Listener scope, PROTO_LISTENER_BROKER / _CONTROLLER bits: the spec's
     * "listeners" of the request (generated proto_api_info.listeners). */
    uint8_t listeners;
    brk_handler_fn fn;
} brk_api;

/* NULL if the key is not registered. */
const brk_api *brk_api_find(int16_t key);
/* All registered apis sorted by key; *n set to the count. */
const brk_api *brk_api_list(size_t *n);
/* Whether the api is answered on a controller listener (controller) or on
 * a broker listener (!controller). Kafka's SocketServer closes the
 * connection on a request for an api outside its listener's scope, and
 * ApiVersions on a listener lists only the apis in its scope. */
bool brk_api_in_scope(const brk_api *api, bool controller);

/* ---- hooks other layers register at start -----------------------------------
 */

/* Registers fn to run when brk's shutdown begins (brk_hook_fn above). */
void brk_on_shutdown(brk_broker *brk, brk_hook_fn fn, void *ctx);

/* Start hooks of the layers, declared from hooks.def (see there). */
#define BRK_START_HOOK(fn) void fn(brk_broker *brk);
#include "broker/hooks.def"
#undef BRK_START_HOOK

/* ---- metadata lookups for handlers (src/cluster image, loop thread)
 * ---------- */

/* The partition, or NULL with *err set to a Kafka error code
 * (UNKNOWN_TOPIC_OR_PARTITION 3, or UNKNOWN_TOPIC_ID 100 for
 * brk_find_partition_id). */
const cl_partition *brk_find_partition(brk_broker *brk, const char *topic,
                                       size_t topic_len, int32_t partition,
                                       int16_t *err);
const cl_partition *brk_find_partition_id(brk_broker *brk, const uint8_t id[16],
                                          int32_t partition, int16_t *err);

#endif
