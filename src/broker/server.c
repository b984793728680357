/*
 * server.c - `sluice server`: configuration layers, listeners, request
 * dispatch through the handler table and response framing; server_main is
 * argv, configuration and signals around one node (node.h: start-up steps,
 * housekeeping and shutdown are in node.c).
 *
 * Request life (one loop thread):
 *   frame -> brk_req (own arena; frame copied in, except Produce: see
 *   on_frame) -> header decoded ->
 *   api/version checked -> handler -> status -> response header prepended
 *   -> slot filled (now, after the flush hooks, or later when deferred).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/internal.h"
#include "broker/node.h"
#include "cluster/image.h"
#include "core/fault.h"
#include "core/list.h"
#include "core/log.h"
#include "core/util.h"
#include "proto/errors.h"
#include "proto/proto.h"

extern char **environ;

/* ---- handler table ---------------------------------------------------------
 */

static const brk_api api_table[] = {
#define BRK_API(k, minv, maxv, handler)                                        \
    {.key = k, .min_version = minv, .max_version = maxv, .fn = handler},
#include "broker/handlers.def"
#undef BRK_API
};
/* api_table capped to the generated codecs and sorted: built once
 * (pthread_once: nodes of one process may start on several threads), read
 * only afterwards. */
static brk_api api_sorted[SL_ARRAY_LEN(api_table)];
static size_t api_n;
static pthread_once_t api_once = PTHREAD_ONCE_INIT;

static int api_cmp(const void *a, const void *b) {
    return ((const brk_api *)a)->key - ((const brk_api *)b)->key;
}

static void api_build(void) {
    for (size_t i = 0; i < SL_ARRAY_LEN(api_table); i++) {
        brk_api a = api_table[i];
        /* Never advertise more than the generated codecs know. */
        const proto_api_info *pi = proto_api(a.key);
        if (!pi)
            continue;
        if (a.min_version < pi->min_version)
            a.min_version = pi->min_version;
        if (a.max_version > pi->max_version)
            a.max_version = pi->max_version;
        if (a.min_version > a.max_version)
            continue;
        /* Kafka 4.3.1 answers an api only on the listeners its request
         * JSON names (ApiKeys.inScope); tests/unit/test_api_scope.c checks
         * the generated bits against the spec. Fetch on a controller
         * listener is the quorum's Raft Fetch of __cluster_metadata
         * (fetch.c hands it to raft_voters.c). */
        a.listeners = (uint8_t)(pi->listeners & (PROTO_LISTENER_BROKER |
                                                 PROTO_LISTENER_CONTROLLER));
        api_sorted[api_n++] = a;
    }
    qsort(api_sorted, api_n, sizeof api_sorted[0], api_cmp);
}

static void api_init(void) {
    pthread_once(&api_once, api_build);
}

const brk_api *brk_api_find(int16_t key) {
    api_init();
    for (size_t i = 0; i < api_n; i++)
        if (api_sorted[i].key == key)
            return &api_sorted[i];
    return NULL;
}

const brk_api *brk_api_list(size_t *n) {
    api_init();
    *n = api_n;
    return api_sorted;
}

bool brk_api_in_scope(const brk_api *api, bool controller) {
    return api->listeners &
           (controller ? PROTO_LISTENER_CONTROLLER : PROTO_LISTENER_BROKER);
}

/* ---- hooks
 * ---------------------------------------------------------------------- */

void brk_on_shutdown(brk_broker *brk, brk_hook_fn fn, void *ctx) {
    SL_ASSERT(brk->n_shutdown_hooks < (int)SL_ARRAY_LEN(brk->shutdown_hooks));
    brk->shutdown_hooks[brk->n_shutdown_hooks].fn = fn;
    brk->shutdown_hooks[brk->n_shutdown_hooks].ctx = ctx;
    brk->n_shutdown_hooks++;
}

/* ---- requests
 * -------------------------------------------------------------------- */

typedef struct req_box {
    brk_req req;
    arena arena;
} req_box;

bool brk_resp_file(brk_req *req, int fd, off_t off, size_t len) {
    return net_chain_file(&req->resp, fd, off, len);
}

bool brk_req_orphan(const brk_req *req) {
    if (req->parent_)
        return brk_req_orphan(req->parent_);
    return !req->slot_ || net_slot_orphan(req->slot_);
}

bool brk_req_flexible(const brk_req *req) {
    const proto_api_info *pi = proto_api(req->api_key);
    return pi && pi->first_flexible >= 0 &&
           req->api_version >= pi->first_flexible;
}

static void req_free(brk_req *req) {
    req_box *box = (req_box *)req;
    net_chain_free(&req->resp);
    arena_free(&box->arena);
    free(box);
}

/* An embedded request's response (header + body, no size) to its parent;
 * NULL when there is none. The forwarded apis answer from memory: a file
 * range in the chain (Fetch only) counts as no response. */
static void req_finish_embedded(brk_req *req, brk_status st) {
    brk_req *parent = req->parent_;
    void (*done)(brk_req *, const uint8_t *, size_t) = req->parent_done_;
    buf out;
    buf_init(&out, 256);
    bool ok = st != BRK_NO_RESPONSE;
    if (ok) {
        proto_response_header_encode(&out, req->api_key, req->api_version,
                                     req->correlation_id);
        for (const net_chunk *k = req->resp.head; k && ok; k = k->next) {
            if (k->kind == NET_CHUNK_MEM)
                buf_put(&out, k->mem.data, k->mem.len);
            else
                ok = false;
        }
    }
    req_free(req);
    done(parent, ok ? out.data : NULL, ok ? out.len : 0);
    buf_free(&out);
}

/* Frames the response (size + header + body chain) and fills the slot. */
static void req_finish(brk_req *req, brk_status st) {
    SL_ASSERT(!req->completed_);
    req->completed_ = true;
    if (req->parent_) {
        req_finish_embedded(req, st);
        return;
    }
    net_chain out;
    net_chain_init(&out);
    if (st != BRK_NO_RESPONSE) {
        buf *h = net_chain_mem(&out);
        buf_put_be32(h, 0);
        proto_response_header_encode(h, req->api_key, req->api_version,
                                     req->correlation_id);
        size_t total = h->len - 4 + net_chain_total(&req->resp);
        SL_ASSERT(total <= INT32_MAX);
        sl_store_be32(h->data, (uint32_t)total);
        net_chain_append(&out, &req->resp);
    }
    net_slot_fill(req->slot_, &out, st == BRK_AFTER_FLUSH);
    req_free(req);
}

void brk_req_complete(brk_req *req, brk_status status) {
    SL_ASSERT(status == BRK_DONE || status == BRK_AFTER_FLUSH ||
              status == BRK_NO_RESPONSE);
    req_finish(req, status);
}

/* Kafka's answer to an ApiVersions request of a version it does not know:
 * error UNSUPPORTED_VERSION with a v0 body listing only ApiVersions' own
 * range (KIP-511, ApiVersionsRequest.getErrorResponse), header v0; the
 * client retries with a version in it. */
static void api_versions_unsupported(brk_req *req, const brk_api *self) {
    buf *b = brk_resp_buf(req);
    buf_put_be16(b, (uint16_t)KERR_UNSUPPORTED_VERSION);
    buf_put_be32(b, 1);
    buf_put_be16(b, (uint16_t)self->key);
    buf_put_be16(b, (uint16_t)self->min_version);
    buf_put_be16(b, (uint16_t)self->max_version);
    /* the response header of ApiVersions is always v0; encode at v0 */
    req->api_version = 0;
}

/* The parsed request header and the body after it, into req. */
static void req_set_header(brk_req *req, const proto_request_header *h,
                           rd body) {
    req->api_key = h->api_key;
    req->api_version = h->api_version;
    req->correlation_id = h->correlation_id;
    req->client_id_null = h->client_id.len < 0;
    req->client_id_len = h->client_id.len > 0 ? (size_t)h->client_id.len : 0;
    req->client_id =
        h->client_id.len < 0 ? "" : proto_str_dup(req->arena, h->client_id);
    req->body = body;
}

/* The controller's handlers that compute records from the image run one at
 * a time with nothing else in flight (brk_ctl_serial): ElectLeaders,
 * AlterPartitionReassignments, AlterPartition, BrokerRegistration,
 * BrokerHeartbeat, UnregisterBroker. */
static brk_status run_handler(brk_req *req, const brk_api *api) {
    switch (api->key) {
    case 43:
    case 45:
    case 56:
    case 62:
    case 63:
    case 64:
        return brk_ctl_serial(req, api->fn);
    default:
        return api->fn(req);
    }
}

/* What a handler's status means for its request: answered now, later
 * (DEFER), or malformed. A malformed request read off a connection closes
 * it (returns false); one embedded in another (an Envelope) can only go
 * unanswered. */
static bool req_settle(brk_req *req, brk_status st, bool own_conn) {
    switch (st) {
    case BRK_DONE:
    case BRK_AFTER_FLUSH:
    case BRK_NO_RESPONSE:
        req_finish(req, st);
        return true;
    case BRK_DEFER:
        return true;
    case BRK_CLOSE:
    default:
        SL_WARN("server",
                "%s from %s: malformed request (api key %d version %d)",
                own_conn ? "closing connection" : "no answer", req->peer,
                req->api_key, req->api_version);
        req_finish(req, BRK_NO_RESPONSE);
        return false;
    }
}

bool brk_on_frame(net_conn *conn, const uint8_t *frame, size_t len) {
    brk_broker *brk = net_conn_ctx(conn);
    req_box *box = xcalloc(1, sizeof *box);
    arena_init(&box->arena, 4096);
    brk_req *req = &box->req;
    req->brk = brk;
    req->arena = &box->arena;
    /* Produce works on the frame where it lies, in the connection's input
     * buffer (valid and writable until on_frame returns): its handler keeps
     * no pointer into the request once it returned (the records go to the
     * page cache by pwrite; a deferred acks=all response owns its names).
     * Saves a copy of every produced byte. Every other request gets its own
     * copy: deferred ones (long-poll Fetch, joins) keep pointers into it. */
    bool borrowed = len >= 2 && sl_load_be16(frame) == 0;
    req->frame = borrowed ? frame : arena_memdup(req->arena, frame, len);
    req->frame_len = len;
    req->listener = net_conn_listener(conn);
    req->peer = net_conn_peer(conn);
    req->conn_id = net_conn_id(conn);
    req->conn_ = conn;
    net_chain_init(&req->resp);

    rd r;
    rd_init(&r, req->frame, len);
    proto_request_header h;
    int rc = proto_request_header_decode(&r, req->arena, &h);
    if (rc == PROTO_ERR_UNKNOWN_API) {
        SL_WARN("server",
                "closing connection from %s: unknown api key %d (version %d, "
                "correlation id %d)",
                req->peer, h.api_key, h.api_version, h.correlation_id);
        req_free(req);
        return false;
    }
    if (rc != PROTO_OK) {
        SL_WARN("server", "closing connection from %s: bad request header (%s)",
                req->peer, proto_strerror(rc));
        req_free(req);
        return false;
    }
    req_set_header(req, &h, r);

    const brk_api *api = brk_api_find(h.api_key);
    if (!api) {
        /* Kafka: an api this broker does not expose closes the connection. */
        SL_WARN("server",
                "closing connection from %s: api key %d is not supported by "
                "this broker",
                req->peer, h.api_key);
        req_free(req);
        return false;
    }
    bool ctl = brk_listener_is_controller(brk, req->listener);
    if (!brk_api_in_scope(api, ctl)) {
        /* Kafka's Processor.parseRequestHeader: "Received request for
         * disabled api" (InvalidRequestException), the connection is closed
         * without a response, before any version check. */
        SL_WARN("server",
                "closing connection from %s: api key %d is not served on "
                "%s listener %s",
                req->peer, h.api_key, ctl ? "controller" : "broker",
                brk->listeners[req->listener].name);
        req_free(req);
        return false;
    }
    if (!ctl && !brk_lm_caught_up(brk)) {
        /* Kafka's BrokerServer enables request processing on the broker
         * listeners once the controller acknowledged that the broker caught
         * up with the metadata log: before that its image (empty after a
         * restart) would tell clients of no other broker, and librdkafka
         * drops the brokers a Metadata answer leaves out. The client
         * reconnects, or asks another broker. */
        SL_DEBUG("server",
                 "closing connection from %s: api key %d before this broker "
                 "caught up with the metadata log",
                 req->peer, h.api_key);
        req_free(req);
        return false;
    }
    req->slot_ = net_conn_reserve(conn);
    if (h.api_version < api->min_version || h.api_version > api->max_version) {
        if (h.api_key == 18) {
            api_versions_unsupported(req, api);
            req_finish(req, BRK_DONE);
            return true;
        }
        SL_WARN("server",
                "closing connection from %s: unsupported version %d of api "
                "key %d (supported %d-%d)",
                req->peer, h.api_version, h.api_key, api->min_version,
                api->max_version);
        /* the reserved slot is released with the connection */
        req_finish(req, BRK_NO_RESPONSE);
        return false;
    }
    /* Requests Kafka's brokers forward to the active controller
     * (KafkaApis.forwardToController) go there in an Envelope when another
     * node is the active controller (forward.c); the local handler answers
     * when none is known or it cannot be reached. */
    if (!ctl && !borrowed && brk_forward_request(req))
        return true;
    brk_status st = run_handler(req, api);
    if (borrowed && st == BRK_DEFER) { /* the frame goes when we return */
        req->frame = NULL;
        req->frame_len = 0;
        rd_init(&req->body, NULL, 0);
    }
    return req_settle(req, st, true);
}

brk_status brk_req_run_local(brk_req *req) {
    const brk_api *api = brk_api_find(req->api_key);
    SL_ASSERT(api);
    brk_status st = run_handler(req, api);
    req_settle(req, st, false);
    return st;
}

int16_t brk_dispatch_embedded(brk_req *parent, const uint8_t *frame, size_t len,
                              bool (*allowed)(int16_t api_key),
                              void (*done)(brk_req *parent, const uint8_t *resp,
                                           size_t len)) {
    req_box *box = xcalloc(1, sizeof *box);
    arena_init(&box->arena, 4096);
    brk_req *req = &box->req;
    req->brk = parent->brk;
    req->arena = &box->arena;
    req->frame = arena_memdup(req->arena, frame, len);
    req->frame_len = len;
    req->listener = parent->listener;
    req->peer = parent->peer;
    req->conn_id = parent->conn_id;
    req->conn_ = parent->conn_;
    net_chain_init(&req->resp);
    rd r;
    rd_init(&r, req->frame, len);
    proto_request_header h;
    int hrc = proto_request_header_decode(&r, req->arena, &h);
    if (hrc != PROTO_OK && hrc != PROTO_ERR_UNKNOWN_API) {
        req_free(req);
        return KERR_UNSUPPORTED_VERSION; /* Kafka's EnvelopeUtils */
    }
    const brk_api *api = hrc == PROTO_OK ? brk_api_find(h.api_key) : NULL;
    if (!api || !allowed(h.api_key)) {
        req_free(req);
        return KERR_INVALID_REQUEST;
    }
    if (h.api_version < api->min_version || h.api_version > api->max_version) {
        req_free(req);
        return KERR_UNSUPPORTED_VERSION;
    }
    req_set_header(req, &h, r);
    req->parent_ = parent;
    req->parent_done_ = done;
    brk_req_run_local(req);
    return KERR_NONE;
}

/* ---- listeners
 * -------------------------------------------------------------------- */

static bool is_controller_listener(const brk_config *cfg, const char *name) {
    const char *names = brk_cfg_str(cfg, BRK_CFG_CONTROLLER_LISTENER_NAMES);
    if (!names)
        return false;
    const char *p = names;
    size_t nl = strlen(name);
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        size_t len = (size_t)(e - p);
        while (len && p[len - 1] == ' ')
            len--;
        if (len == nl && !strncasecmp(p, name, nl))
            return true;
        p = e;
    }
    return false;
}

bool brk_listener_is_controller(const brk_broker *brk, int i) {
    return is_controller_listener(brk->cfg, brk->listeners[i].name);
}

/* Security protocol of a listener name from listener.security.protocol.map
 * (a controller listener not in the map is PLAINTEXT, as Kafka allows). */
static int listener_protocol(const brk_config *cfg, const char *name, char *out,
                             size_t outlen) {
    const char *map = brk_cfg_str(cfg, BRK_CFG_LISTENER_SECURITY_PROTOCOL_MAP);
    size_t nl = strlen(name);
    const char *p = map ? map : "";
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *c = memchr(p, ':', (size_t)(e - p));
        if (c && (size_t)(c - p) == nl && !strncasecmp(p, name, nl)) {
            size_t vl = (size_t)(e - c - 1);
            snprintf(out, outlen, "%.*s", (int)vl, c + 1);
            for (char *q = out; *q; q++)
                if (*q == ' ')
                    *q = 0;
            return 0;
        }
        p = e;
    }
    if (is_controller_listener(cfg, name)) {
        snprintf(out, outlen, "PLAINTEXT");
        return 0;
    }
    return -1;
}

int brk_setup_listeners(brk_broker *brk, char *err, size_t errlen) {
    brk_config *cfg = brk->cfg;
    int n = net_parse_listeners(brk_cfg_str(cfg, BRK_CFG_LISTENERS),
                                brk->listeners, 16, err, errlen);
    if (n < 0)
        return -1;
    if (n == 0) {
        snprintf(err, errlen, "listeners must name at least one listener");
        return -1;
    }
    brk->n_listeners = n;
    for (int i = 0; i < n; i++) {
        if (listener_protocol(cfg, brk->listeners[i].name,
                              brk->listeners[i].protocol,
                              sizeof brk->listeners[i].protocol) < 0) {
            snprintf(err, errlen,
                     "Invalid value for configuration listeners: No security "
                     "protocol defined for listener %s (add it to "
                     "listener.security.protocol.map)",
                     brk->listeners[i].name);
            return -1;
        }
        if (strcmp(brk->listeners[i].protocol, "PLAINTEXT")) {
            snprintf(err, errlen,
                     "listener %s: security protocol %s is not supported yet "
                     "(PLAINTEXT only)",
                     brk->listeners[i].name, brk->listeners[i].protocol);
            return -1;
        }
        brk->advertised[i] = brk->listeners[i];
    }
    const char *adv = brk_cfg_str(cfg, BRK_CFG_ADVERTISED_LISTENERS);
    if (adv && *adv) {
        net_endpoint tmp[16];
        int m = net_parse_listeners(adv, tmp, 16, err, errlen);
        if (m < 0)
            return -1;
        for (int j = 0; j < m; j++) {
            int found = -1;
            for (int i = 0; i < n; i++)
                if (!strcmp(brk->listeners[i].name, tmp[j].name))
                    found = i;
            if (found < 0) {
                snprintf(err, errlen,
                         "advertised.listeners listener names must be equal to "
                         "or a subset of the ones defined in listeners: %s is "
                         "not in listeners",
                         tmp[j].name);
                return -1;
            }
            if (!strcmp(tmp[j].host, "0.0.0.0") || !strcmp(tmp[j].host, "::")) {
                snprintf(err, errlen,
                         "advertised.listeners cannot use the nonroutable "
                         "meta-address %s. Use a routable IP address.",
                         tmp[j].host);
                return -1;
            }
            snprintf(brk->advertised[found].host,
                     sizeof brk->advertised[found].host, "%s", tmp[j].host);
            brk->advertised[found].port = tmp[j].port;
        }
    }
    const char *ibl = brk_cfg_str(cfg, BRK_CFG_INTER_BROKER_LISTENER_NAME);
    if (ibl && *ibl && (brk_cfg_roles(cfg) & BRK_ROLE_BROKER)) {
        bool ok = false;
        for (int i = 0; i < n; i++)
            ok |= !strcasecmp(brk->listeners[i].name, ibl);
        if (!ok) {
            snprintf(err, errlen,
                     "inter.broker.listener.name must be a listener name "
                     "defined in advertised.listeners. The valid options "
                     "based on currently configured listeners are %s",
                     brk_cfg_str(cfg, BRK_CFG_LISTENERS));
            return -1;
        }
    }
    return 0;
}

/* ---- main
 * ----------------------------------------------------------------------------
 */

static void usage(void) {
    fprintf(stderr,
            "Usage: sluice server [server.properties] [--override "
            "property=value]...\n"
            "  With no file: the settings of config/server.properties (one\n"
            "  node, broker+controller, node.id=1, PLAINTEXT on :9092,\n"
            "  CONTROLLER on :9093, internal topics with replication factor\n"
            "  1, log.dirs=./sluice-data).\n"
            "  Environment: KAFKA_CFG_<KEY> (bitnami) and KAFKA_<KEY>\n"
            "  (confluent), upper case with '_' for '.', are applied between\n"
            "  the file and --override.\n");
}

/* The settings of config/server.properties, Apache Kafka's quickstart file
 * (log.dirs adapted): with no file, `sluice server` runs as if started with
 * it. Kafka's built-in defaults are for clusters of three or more nodes
 * (offsets.topic.replication.factor=3, transaction.state.log.min.isr=2...):
 * on one node __consumer_offsets would never be created and no consumer
 * group could work. The config table keeps Kafka's defaults (DescribeConfigs
 * shows them); these values are a static layer, as if read from the file,
 * under the environment and --override. tests/unit/test_config.c checks that
 * the file and this table agree. */
const char *const brk_quickstart_config[][2] = {
    {"process.roles", "broker,controller"},
    {"node.id", "1"},
    {"controller.quorum.bootstrap.servers", "localhost:9093"},
    {"listeners", "PLAINTEXT://:9092,CONTROLLER://:9093"},
    {"inter.broker.listener.name", "PLAINTEXT"},
    {"advertised.listeners", "PLAINTEXT://localhost:9092,CONTROLLER://"
                             "localhost:9093"},
    {"controller.listener.names", "CONTROLLER"},
    {"listener.security.protocol.map",
     "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_"
     "PLAINTEXT,SASL_SSL:SASL_SSL"},
    {"num.network.threads", "3"},
    {"num.io.threads", "8"},
    {"socket.send.buffer.bytes", "102400"},
    {"socket.receive.buffer.bytes", "102400"},
    {"socket.request.max.bytes", "104857600"},
    {"log.dirs", "./sluice-data"},
    {"num.partitions", "1"},
    {"num.recovery.threads.per.data.dir", "1"},
    {"offsets.topic.replication.factor", "1"},
    {"share.coordinator.state.topic.replication.factor", "1"},
    {"share.coordinator.state.topic.min.isr", "1"},
    {"transaction.state.log.replication.factor", "1"},
    {"transaction.state.log.min.isr", "1"},
    {"log.retention.hours", "168"},
    {"log.segment.bytes", "1073741824"},
    {"log.retention.check.interval.ms", "300000"},
    {NULL, NULL},
};

/* Applies brk_quickstart_config under what the environment and --override
 * already set (a key set there keeps its value). The addresses of this node
 * (advertised.listeners, controller.quorum.bootstrap.servers) describe the
 * file's listeners: when the listeners come from elsewhere they are left
 * out, as they would be wrong (ports) or name a listener that is not there.
 * node.id is left to broker.id, and log.dirs to log.dir, when those are set
 * (the legacy names Kafka still honours). */
static int apply_quickstart(brk_config *cfg, char *err, size_t errlen) {
    bool own_listeners = cfg->static_text[BRK_CFG_LISTENERS] != NULL;
    for (int i = 0; brk_quickstart_config[i][0]; i++) {
        const char *k = brk_quickstart_config[i][0];
        int id = brk_config_find(k);
        if (id < 0 || cfg->static_text[id])
            continue; /* unknown to this build's table, or set by the user */
        if (own_listeners &&
            (id == BRK_CFG_ADVERTISED_LISTENERS ||
             id == BRK_CFG_CONTROLLER_QUORUM_BOOTSTRAP_SERVERS))
            continue;
        if (id == BRK_CFG_NODE_ID && cfg->static_text[BRK_CFG_BROKER_ID])
            continue;
        if (id == BRK_CFG_LOG_DIRS && cfg->static_text[BRK_CFG_LOG_DIR])
            continue;
        if (brk_config_set(cfg, k, brk_quickstart_config[i][1], err, errlen) <
            0)
            return -1;
    }
    return 0;
}

/* True when host names an address of this machine: one a socket can be bound
 * to (loopback, an interface address, a name resolving to one). */
static bool host_is_local(const char *host) {
    if (!*host)
        return true;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, "0", &hints, &res) != 0)
        return false;
    bool local = false;
    for (struct addrinfo *ai = res; ai && !local; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        local = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0;
        close(fd);
    }
    freeaddrinfo(res);
    return local;
}

/* Sluice runs combined nodes (broker and controller in one process): one
 * alone, or several in a static KRaft quorum (controller.quorum.voters,
 * raft_voters.c). What is not built yet (a broker-only node, a node that is
 * not one of the voters, bootstrap servers naming other nodes) is refused at
 * start, naming the key that asks for it, instead of running a lone node
 * that silently ignores its peers. */
static int check_single_node(const brk_config *cfg, char *err, size_t errlen) {
    /* several voters: a KRaft quorum this node is one of, or a broker-only
     * node following it (raft_voters.c) */
    if (brk_quorum_check_config(cfg, err, errlen) < 0)
        return -1;
    int roles = brk_cfg_roles(cfg);
    if (roles != (BRK_ROLE_BROKER | BRK_ROLE_CONTROLLER)) {
        /* KafkaConfig.validateValues for a node with one role: a
         * controller-only node has controller listeners alone, a
         * broker-only node none */
        net_endpoint ls[16];
        int nl = net_parse_listeners(brk_cfg_str(cfg, BRK_CFG_LISTENERS), ls,
                                     16, err, errlen);
        if (nl < 0)
            return -1;
        int nctl = 0;
        for (int i = 0; i < nl; i++)
            nctl += is_controller_listener(cfg, ls[i].name);
        if (roles == BRK_ROLE_CONTROLLER && nctl != nl) {
            snprintf(err, errlen,
                     "requirement failed: The listeners config must only "
                     "contain KRaft controller listeners from "
                     "controller.listener.names when process.roles=controller");
            return -1;
        }
        if (roles == BRK_ROLE_BROKER && nctl > 0) {
            snprintf(err, errlen,
                     "requirement failed: controller.listener.names must not "
                     "contain a value appearing in the 'listeners' "
                     "configuration when running KRaft with just the broker "
                     "role");
            return -1;
        }
    }
    if (roles == BRK_ROLE_CONTROLLER) {
        const char *ibl = brk_cfg_str(cfg, BRK_CFG_INTER_BROKER_LISTENER_NAME);
        if (ibl && *ibl && is_controller_listener(cfg, ibl)) {
            snprintf(err, errlen,
                     "requirement failed: controller.listener.names must not "
                     "contain an explicitly set inter.broker.listener.name "
                     "configuration value when process.roles=controller'");
            return -1;
        }
    }
    if (roles == BRK_ROLE_BROKER)
        return 0; /* it follows the voters; no bootstrap servers of its own */
    const char *p;
    size_t len;
    const char *bs =
        brk_cfg_str(cfg, BRK_CFG_CONTROLLER_QUORUM_BOOTSTRAP_SERVERS);
    if (!bs || !*bs)
        return 0;
    net_endpoint ls[16];
    int nl = net_parse_listeners(brk_cfg_str(cfg, BRK_CFG_LISTENERS), ls, 16,
                                 err, errlen);
    if (nl < 0)
        return -1;
    list_iter bit = list_start(bs, true);
    while (list_next(&bit, &p, &len)) {
        char one[300];
        snprintf(one, sizeof one, "%.*s", (int)len, p);
        char *colon = strrchr(one, ':');
        bool mine = false;
        if (colon) {
            *colon = 0;
            int port = atoi(colon + 1);
            char *host = one;
            size_t hl = strlen(host);
            if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
                host[hl - 1] = 0;
                host++;
            }
            for (int i = 0; i < nl && !mine; i++)
                mine = is_controller_listener(cfg, ls[i].name) &&
                       ls[i].port == port &&
                       (!strcmp(ls[i].host, host) || host_is_local(host));
        }
        if (!mine) {
            snprintf(err, errlen,
                     "Invalid value %s for configuration "
                     "controller.quorum.bootstrap.servers: %.*s is not a "
                     "controller listener of this node; Sluice cannot join a "
                     "remote controller quorum yet",
                     bs, (int)len, p);
            return -1;
        }
    }
    return 0;
}

int brk_load_config(brk_config *cfg, int argc, char **argv, char **envp,
                    char *err, size_t errlen) {
    brk_config_init(cfg);
    int i = 1;
    bool have_file = false;
    if (i < argc && argv[i][0] != '-') {
        if (brk_config_load_file(cfg, argv[i], err, errlen) < 0)
            return -1;
        have_file = true;
        i++;
    }
    if (brk_config_load_env(cfg, envp, err, errlen) < 0)
        return -1;
    for (; i < argc; i++) {
        const char *kv = NULL;
        if (!strcmp(argv[i], "--override") && i + 1 < argc)
            kv = argv[++i];
        else if (!strncmp(argv[i], "--override=", 11))
            kv = argv[i] + 11;
        else {
            snprintf(err, errlen, "unexpected argument '%s'", argv[i]);
            return -2;
        }
        const char *eq = strchr(kv, '=');
        if (!eq) {
            snprintf(err, errlen, "--override expects property=value, got '%s'",
                     kv);
            return -2;
        }
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
        int r = brk_config_set(cfg, key, eq + 1, err, errlen);
        if (r < 0)
            return -1;
        if (r > 0)
            SL_WARN("config",
                    "The configuration '%s' was supplied but isn't a known "
                    "config.",
                    key);
    }
    if (!have_file && apply_quickstart(cfg, err, errlen) < 0)
        return -1;
    if (brk_config_finish(cfg, err, errlen) < 0)
        return -1;
    return check_single_node(cfg, err, errlen);
}

/* SIGTERM / SIGINT arrive on a signalfd the node's loop watches (blocked
 * before the node starts, so no thread of it takes them): the loop stops
 * and the node shuts down cleanly. */
typedef struct sig_watch {
    int fd;
    brk_node *node;
} sig_watch;

static void on_signal_fd(net_loop *loop, uint32_t events, void *ctx) {
    SL_UNUSED(loop);
    SL_UNUSED(events);
    sig_watch *sw = ctx;
    struct signalfd_siginfo si;
    while (read(sw->fd, &si, sizeof si) == (ssize_t)sizeof si)
        brk_node_request_shutdown(sw->node);
}

int server_main(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage();
            return 0;
        }
    const char *lvl = getenv("SLUICE_LOG_LEVEL");
    if (lvl && sl_log_parse_level(lvl) >= 0)
        sl_log_set_level((sl_log_level)sl_log_parse_level(lvl));
    /* Named fault points (core/faults.def) for crash tests:
     * SLUICE_FAULTS=txn.after-prepare kills the process there. */
    const char *faults = getenv("SLUICE_FAULTS");
    if (faults && *faults) {
        char ferr[256];
        if (sl_fault_arm_list(NULL, faults, ferr, sizeof ferr) < 0) {
            SL_ERROR("server", "SLUICE_FAULTS: %s", ferr);
            return 1;
        }
    }

    brk_config cfg;
    char err[1200];
    int rc = brk_load_config(&cfg, argc, argv, environ, err, sizeof err);
    if (rc < 0) {
        SL_ERROR("server", "Exiting Kafka due to fatal exception: %s", err);
        brk_config_free(&cfg);
        if (rc == -2)
            usage();
        return 1;
    }

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    sig_watch sw = {.fd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)};
    if (sw.fd < 0) {
        SL_ERROR("server", "signalfd: %s", strerror(errno));
        brk_config_free(&cfg);
        return 1;
    }

    brk_node *node = brk_node_new(&cfg, NULL);
    sw.node = node;
    if (brk_node_start(node, err, sizeof err) < 0) {
        SL_ERROR("server", "Exiting Kafka due to fatal exception: %s", err);
        brk_node_free(node);
        close(sw.fd);
        return 1;
    }
    net_watch *w = net_watch_add(brk_node_loop(node), sw.fd, NET_READABLE,
                                 on_signal_fd, &sw);
    brk_node_run(node);
    net_watch_del(w);
    brk_node_stop(node);
    brk_node_free(node);
    close(sw.fd);
    return 0;
}
