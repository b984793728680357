/*
 * coordinators.c - plugs the group and transaction coordinators into their
 * node: makes the node's coordinator runtime (src/coord: coord_rt) with the
 * services the broker implements for them (configuration, the image, the
 * replica and log managers, the controller's topic creation, live brokers
 * and producer id blocks), makes their per-node state when the node starts
 * (before the start hooks, txn first: the group coordinator registers with
 * it), adapts the broker's requests to coordinator requests in the dispatch
 * (brk_req -> coord_req), and frees the state once the node's loop has
 * closed its connections.
 *
 * This is the only broker file that knows both sides: src/group and
 * src/txn include coord/ and lower layers, never the broker, so the graph
 * stays broker -> group -> txn -> coord.
 * Threading: the node's loop thread.
 */
#include <string.h>

#include "broker/data.h"
#include "broker/internal.h"
#include "coord/coord.h"
#include "group/node.h"
#include "txn/txn.h"

/* ---- the services ---------------------------------------------------------
 */

/* The broker keys behind coord_cfg (same order). */
static const brk_cfg_id cfg_ids[COORD_CFG_COUNT] = {
    [COORD_CFG_GROUP_MIN_SESSION_TIMEOUT_MS] =
        BRK_CFG_GROUP_MIN_SESSION_TIMEOUT_MS,
    [COORD_CFG_GROUP_MAX_SESSION_TIMEOUT_MS] =
        BRK_CFG_GROUP_MAX_SESSION_TIMEOUT_MS,
    [COORD_CFG_GROUP_INITIAL_REBALANCE_DELAY_MS] =
        BRK_CFG_GROUP_INITIAL_REBALANCE_DELAY_MS,
    [COORD_CFG_GROUP_MAX_SIZE] = BRK_CFG_GROUP_MAX_SIZE,
    [COORD_CFG_GROUP_COORDINATOR_REBALANCE_PROTOCOLS] =
        BRK_CFG_GROUP_COORDINATOR_REBALANCE_PROTOCOLS,
    [COORD_CFG_GROUP_CONSUMER_SESSION_TIMEOUT_MS] =
        BRK_CFG_GROUP_CONSUMER_SESSION_TIMEOUT_MS,
    [COORD_CFG_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS] =
        BRK_CFG_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS,
    [COORD_CFG_GROUP_CONSUMER_MAX_SIZE] = BRK_CFG_GROUP_CONSUMER_MAX_SIZE,
    [COORD_CFG_GROUP_CONSUMER_ASSIGNORS] = BRK_CFG_GROUP_CONSUMER_ASSIGNORS,
    [COORD_CFG_OFFSETS_TOPIC_NUM_PARTITIONS] =
        BRK_CFG_OFFSETS_TOPIC_NUM_PARTITIONS,
    [COORD_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR] =
        BRK_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR,
    [COORD_CFG_OFFSETS_TOPIC_SEGMENT_BYTES] =
        BRK_CFG_OFFSETS_TOPIC_SEGMENT_BYTES,
    [COORD_CFG_OFFSETS_RETENTION_MINUTES] = BRK_CFG_OFFSETS_RETENTION_MINUTES,
    [COORD_CFG_OFFSETS_RETENTION_CHECK_INTERVAL_MS] =
        BRK_CFG_OFFSETS_RETENTION_CHECK_INTERVAL_MS,
    [COORD_CFG_OFFSET_METADATA_MAX_BYTES] = BRK_CFG_OFFSET_METADATA_MAX_BYTES,
    [COORD_CFG_OFFSETS_COMMIT_TIMEOUT_MS] = BRK_CFG_OFFSETS_COMMIT_TIMEOUT_MS,
    [COORD_CFG_TRANSACTION_STATE_LOG_NUM_PARTITIONS] =
        BRK_CFG_TRANSACTION_STATE_LOG_NUM_PARTITIONS,
    [COORD_CFG_TRANSACTION_STATE_LOG_REPLICATION_FACTOR] =
        BRK_CFG_TRANSACTION_STATE_LOG_REPLICATION_FACTOR,
    [COORD_CFG_TRANSACTION_MAX_TIMEOUT_MS] = BRK_CFG_TRANSACTION_MAX_TIMEOUT_MS,
    [COORD_CFG_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS] =
        BRK_CFG_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS,
    [COORD_CFG_TRANSACTION_REMOVE_EXPIRED_TRANSACTION_CLEANUP_INTERVAL_MS] =
        BRK_CFG_TRANSACTION_REMOVE_EXPIRED_TRANSACTION_CLEANUP_INTERVAL_MS,
    [COORD_CFG_TRANSACTIONAL_ID_EXPIRATION_MS] =
        BRK_CFG_TRANSACTIONAL_ID_EXPIRATION_MS,
    [COORD_CFG_PRODUCER_ID_EXPIRATION_MS] = BRK_CFG_PRODUCER_ID_EXPIRATION_MS,
    [COORD_CFG_PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS] =
        BRK_CFG_PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS,
    [COORD_CFG_TRANSACTION_STATE_LOG_MIN_ISR] =
        BRK_CFG_TRANSACTION_STATE_LOG_MIN_ISR,
    [COORD_CFG_INTER_BROKER_LISTENER_NAME] = BRK_CFG_INTER_BROKER_LISTENER_NAME,
};

static int64_t svc_cfg_i64(void *host, coord_cfg key) {
    brk_broker *brk = host;
    SL_ASSERT(key >= 0 && key < COORD_CFG_COUNT);
    return brk_cfg_i64(brk->cfg, cfg_ids[key]);
}

static const char *svc_cfg_str(void *host, coord_cfg key) {
    brk_broker *brk = host;
    SL_ASSERT(key >= 0 && key < COORD_CFG_COUNT);
    return brk_cfg_str(brk->cfg, cfg_ids[key]);
}

static cl_image *svc_image(void *host) {
    return ((brk_broker *)host)->image;
}

static repl_manager *svc_replicas(void *host) {
    return ((brk_broker *)host)->repl;
}

static log_manager *svc_logs(void *host) {
    return ((brk_broker *)host)->logs;
}

static int16_t svc_create_topic(void *host, const char *name, int32_t n_parts,
                                int16_t rf, const sl_kv *configs,
                                size_t n_configs) {
    brk_broker *brk = host;
    /* Submitted, not waited for (no fsync on the loop): as Kafka's
     * AutoTopicCreationManager, the coordinator answers
     * COORDINATOR_NOT_AVAILABLE until the topic is in the image. */
    if (brk_forward_create_topic(brk, name, n_parts, rf, configs, n_configs))
        return KERR_NONE; /* the active controller is another node */
    if (!ctl_topic_creating(brk, name))
        ctl_create_topic_async(NULL, NULL, brk, name, n_parts, rf, NULL,
                               configs, n_configs, NULL);
    return KERR_NONE;
}

static int32_t svc_live_brokers(void *host) {
    brk_broker *brk = host;
    return ctl_live_brokers(brk->image);
}

static void svc_allocate_producer_ids(void *host, int32_t block, int64_t floor,
                                      void (*done)(void *arg, int16_t err,
                                                   int64_t first),
                                      void *arg) {
    brk_broker *brk = host;
    ctl_allocate_producer_ids(brk, block, floor, done, arg);
}

/* The coordinators' shutdown hooks run when the node's shutdown begins. */
static void on_shutdown(brk_broker *brk, void *ctx) {
    SL_UNUSED(ctx);
    coord_rt_shutdown(brk->coord);
}

void brk_coordinators_start(brk_broker *brk) {
    coord_services svc = {
        .host = brk,
        .cfg_i64 = svc_cfg_i64,
        .cfg_str = svc_cfg_str,
        .image = svc_image,
        .replicas = svc_replicas,
        .logs = svc_logs,
        .create_topic = svc_create_topic,
        .live_brokers = svc_live_brokers,
        .allocate_producer_ids = svc_allocate_producer_ids,
    };
    brk->coord = coord_rt_new(&svc, brk->node_id, brk->loop);
    brk_on_shutdown(brk, on_shutdown, NULL);
    brk->txn = txn_node_new(brk->coord);
    brk->grp = grp_node_new(brk->coord, brk->txn);
}

/* The image changed partition part (brk_storage_on_image, after the
 * replica manager took its role): the coordinator of a __consumer_offsets
 * or __transaction_state partition follows its leadership. */
void brk_coordinators_on_partition(brk_broker *brk, const cl_partition *part) {
    if (!brk->grp || !brk->repl || !part->topic || !part->topic->internal)
        return;
    bool leader = repl_is_leader(brk->repl, part);
    if (!strcmp(part->topic->name, "__consumer_offsets"))
        grp_node_partition_changed(brk->grp, part->id, leader);
    else if (!strcmp(part->topic->name, TXN_STATE_TOPIC))
        txn_partition_changed(brk->txn, part->id, leader);
}

/* BRK_START_HOOK (hooks.def): the group coordinator starts loading. */
void brk_grp_start(brk_broker *brk) {
    grp_node_start(brk->grp);
}

void brk_coordinators_free(brk_broker *brk) {
    grp_node_free(brk->grp);
    txn_node_free(brk->txn);
    coord_rt_free(brk->coord);
    brk->grp = NULL;
    brk->txn = NULL;
    brk->coord = NULL;
}

/* ---- the dispatch: brk_req -> coord_req -----------------------------------
 */

static buf *req_resp_buf(coord_req *c) {
    return brk_resp_buf(c->host);
}

static void req_complete(coord_req *c, coord_status st) {
    brk_req_complete(c->host, (brk_status)st);
}

static bool req_orphan(const coord_req *c) {
    return brk_req_orphan(c->host);
}

_Static_assert((int)COORD_DONE == (int)BRK_DONE &&
                   (int)COORD_AFTER_FLUSH == (int)BRK_AFTER_FLUSH &&
                   (int)COORD_NO_RESPONSE == (int)BRK_NO_RESPONSE &&
                   (int)COORD_DEFER == (int)BRK_DEFER &&
                   (int)COORD_CLOSE == (int)BRK_CLOSE,
               "coord_status and brk_status share their values");

static const coord_req_ops req_ops = {req_resp_buf, req_complete, req_orphan};

/* A coordinator request for req, in its arena (it lives as long as req). */
static coord_req *coord_req_of(brk_req *req) {
    brk_broker *brk = req->brk;
    coord_req *c = arena_calloc(req->arena, 1, sizeof *c);
    c->arena = req->arena;
    c->api_key = req->api_key;
    c->api_version = req->api_version;
    c->flexible = brk_req_flexible(req);
    c->body = req->body;
    c->client_id = req->client_id;
    c->client_id_len = req->client_id_len;
    c->peer = req->peer;
    c->listener = req->listener;
    if (req->listener >= 0 && req->listener < brk->n_listeners) {
        c->adv_host = brk->advertised[req->listener].host;
        c->adv_port = brk->advertised[req->listener].port;
    } else {
        c->adv_host = "";
        c->adv_port = -1;
    }
    c->listener_name = "";
    if (req->listener >= 0 && req->listener < brk->n_listeners) {
        /* as Metadata: a controller listener's client gets the first
         * broker listener's endpoints */
        c->listener_name = brk->listeners[req->listener].name;
        for (int i = 0; brk_listener_is_controller(brk, req->listener) &&
                        i < brk->n_listeners;
             i++)
            if (!brk_listener_is_controller(brk, i)) {
                c->listener_name = brk->listeners[i].name;
                break;
            }
    }
    c->ops = &req_ops;
    c->host = req;
    c->rt = brk->coord;
    return c;
}

/* The handlers of handlers.def for the transaction coordinator. */
#define TXN_API(fn)                                                            \
    brk_status brk_##fn(brk_req *req) {                                        \
        coord_req *c = coord_req_of(req);                                      \
        return (brk_status)coord_req_finish(c, fn(req->brk->txn, c));          \
    }
TXN_API(txn_handle_init_producer_id)
TXN_API(txn_handle_add_partitions_to_txn)
TXN_API(txn_handle_add_offsets_to_txn)
TXN_API(txn_handle_end_txn)
TXN_API(txn_handle_write_txn_markers)
TXN_API(txn_handle_describe_producers)
TXN_API(txn_handle_describe_transactions)
TXN_API(txn_handle_list_transactions)
#undef TXN_API

/* The handlers of handlers.def for the group coordinator. */
#define GRP_API(fn)                                                            \
    brk_status brk_##fn(brk_req *req) {                                        \
        coord_req *c = coord_req_of(req);                                      \
        return (brk_status)coord_req_finish(c, fn(req->brk->grp, c));          \
    }
GRP_API(grp_handle_offset_commit)
GRP_API(grp_handle_offset_fetch)
GRP_API(grp_handle_find_coordinator)
GRP_API(grp_handle_join_group)
GRP_API(grp_handle_heartbeat)
GRP_API(grp_handle_leave_group)
GRP_API(grp_handle_sync_group)
GRP_API(grp_handle_describe_groups)
GRP_API(grp_handle_list_groups)
GRP_API(grp_handle_delete_groups)
GRP_API(grp_handle_offset_delete)
GRP_API(grp_handle_consumer_group_heartbeat)
GRP_API(grp_handle_consumer_group_describe)
GRP_API(grp_handle_txn_offset_commit)
#undef GRP_API
