/*
 * forward.c - requests for the active controller, as Kafka 4.3.1 moves
 * them: a broker forwards what ApiKeys marks forwardable (CreateTopics,
 * DeleteTopics, CreatePartitions, configs, ACLs, quotas, SCRAM, features,
 * reassignments, DescribeQuorum, ...; KafkaApis.forwardToController) in an
 * Envelope (58) to the active controller's controller listener
 * (ForwardingManager over NodeToControllerChannelManager), and the
 * controller runs the embedded request and returns its response in the
 * Envelope's ResponseData (ControllerApis.handleEnvelopeRequest).
 *
 * Broker side (brk_forward_request, from the server's dispatch):
 *   - forwarded only in a quorum of several controllers, on a broker
 *     listener, when the Raft leader is known and is another node; else the
 *     local handler answers (on the active controller it does the work;
 *     with no known leader it answers NOT_CONTROLLER, which clients retry
 *     after refreshing metadata, as Kafka's channel manager makes them);
 *   - one non-blocking client per other controller, made on first use and
 *     kept (net/client.h reconnects with backoff); a request waits at most
 *     for one connect attempt, bounded (FWD_MAX_WAITING per controller);
 *   - the response is the controller's, passed through (its header
 *     stripped; the server frames it again with the client's correlation
 *     id, which the controller echoed). A network failure, timeout or an
 *     Envelope error falls back to the local handler (NOT_CONTROLLER for a
 *     write: retriable), where Kafka answers UNKNOWN_SERVER_ERROR /
 *     REQUEST_TIMED_OUT built from the request; UNSUPPORTED_VERSION closes
 *     nothing here (Kafka closes the client's connection) and answers
 *     locally too.
 *   - IncrementalAlterConfigs / AlterConfigs naming a BROKER_LOGGER
 *     resource are answered here (Kafka splits them: loggers locally, the
 *     rest forwarded).
 * Controller side (brk_handle_envelope, controller listener only, as the
 * spec's listeners say): the embedded request must be a forwardable api in
 * a version this node serves (else the Envelope's ErrorCode:
 * INVALID_REQUEST / UNSUPPORTED_VERSION); it runs through the same handler
 * table as on a broker listener. The principal (DefaultPrincipalData) and
 * client address are read and not used yet (no authorizer: issue 20).
 *
 * Ownership: brk->forward owns the clients and the waiting lists; a waiting
 * or in-flight request is owned by the server until completed (exactly
 * once: by the response, the local fallback, or no response at shutdown).
 * Threading: loop thread only.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "core/log.h"
#include "core/util.h"
#include "net/client.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "raft/raft_node.h"

#define FWD_MAX_WAITING 64

/* Kafka 4.3.1's ApiKeys with forwardable = true that clients send (the
 * broker-internal AllocateProducerIds and UnregisterBroker included). */
static bool api_forwardable(int16_t key) {
    switch (key) {
    case 19: /* CreateTopics */
    case 20: /* DeleteTopics */
    case 30: /* CreateAcls */
    case 31: /* DeleteAcls */
    case 33: /* AlterConfigs */
    case 37: /* CreatePartitions */
    case 38: /* CreateDelegationToken */
    case 39: /* RenewDelegationToken */
    case 40: /* ExpireDelegationToken */
    case 43: /* ElectLeaders */
    case 44: /* IncrementalAlterConfigs */
    case 45: /* AlterPartitionReassignments */
    case 46: /* ListPartitionReassignments */
    case 49: /* AlterClientQuotas */
    case 51: /* AlterUserScramCredentials */
    case 55: /* DescribeQuorum */
    case 57: /* UpdateFeatures */
    case 64: /* UnregisterBroker */
    case 67: /* AllocateProducerIds */
    case 80: /* AddRaftVoter */
    case 81: /* RemoveRaftVoter */
        return true;
    default:
        return false;
    }
}

/* What waits for a connection: a request to forward, or a producer-id
 * block to ask for (req NULL). */
typedef struct fwd_wait {
    brk_req *req;
    ctl_pid_done_fn done;
    void *arg;
} fwd_wait;

typedef struct fwd_target {
    int32_t id;
    net_client *client;
    fwd_wait waiting[FWD_MAX_WAITING];
    int n_waiting;
    brk_broker *brk;
} fwd_target;

typedef struct brk_forward {
    brk_broker *brk;
    fwd_target t[RAFT_MAX_VOTERS];
    int n;
} brk_forward;

/* ---- broker side ----------------------------------------------------------
 */

/* A BROKER (4) resource naming another node: Kafka's
 * ConfigAdminManager.preprocess refuses it on the receiving broker
 * ("Unexpected broker id"), before anything is forwarded. */
static bool other_broker(const brk_req *req, int8_t type, proto_str name) {
    if (type != 4 || name.len <= 0)
        return false;
    char tmp[24];
    snprintf(tmp, sizeof tmp, "%.*s", (int)(name.len < 23 ? name.len : 23),
             name.p);
    char *end;
    long v = strtol(tmp, &end, 10);
    return *end || v != req->brk->node_id;
}

/* A config request naming a BROKER_LOGGER (8) resource, or a BROKER one
 * that is not this node, is answered here. */
static bool names_broker_logger(brk_req *req) {
    rd r = req->body;
    bool logger = false;
    if (req->api_key == 44) {
        proto_incremental_alter_configs_request rq;
        if (proto_incremental_alter_configs_request_decode(
                &r, req->arena, req->api_version, &rq) != PROTO_OK)
            return true; /* malformed: the local handler says so */
        for (int32_t i = 0; i < rq.resources.n; i++)
            logger |= rq.resources.v[i].resource_type == 8 ||
                      other_broker(req, rq.resources.v[i].resource_type,
                                   rq.resources.v[i].resource_name);
    } else if (req->api_key == 33) {
        proto_alter_configs_request rq;
        if (proto_alter_configs_request_decode(&r, req->arena, req->api_version,
                                               &rq) != PROTO_OK)
            return true;
        for (int32_t i = 0; i < rq.resources.n; i++)
            logger |= rq.resources.v[i].resource_type == 8 ||
                      other_broker(req, rq.resources.v[i].resource_type,
                                   rq.resources.v[i].resource_name);
    }
    return logger;
}

/* DefaultPrincipalData v0, version-prefixed (Kafka's
 * DefaultKafkaPrincipalBuilder.serialize): User:ANONYMOUS until there is
 * authentication. */
static void put_principal(buf *b) {
    buf_put_be16(b, 0);
    buf_put_uvarint(b, 4 + 1);
    buf_put(b, "User", 4);
    buf_put_uvarint(b, 9 + 1);
    buf_put(b, "ANONYMOUS", 9);
    buf_put_u8(b, 0); /* TokenAuthenticated */
    buf_put_uvarint(b, 0);
}

/* The client's address as InetAddress.getAddress gives it. */
static size_t peer_address(const char *peer, uint8_t out[16]) {
    char host[64];
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    if (n && peer[0] == '[' && peer[n - 1] == ']') {
        peer++;
        n -= 2;
    }
    if (n >= sizeof host)
        return 0;
    memcpy(host, peer, n);
    host[n] = 0;
    if (inet_pton(AF_INET, host, out) == 1)
        return 4;
    if (inet_pton(AF_INET6, host, out) == 1)
        return 16;
    return 0;
}

static void fall_back(brk_req *req) {
    brk_req_run_local(req);
}

static void on_envelope_response(net_client *c, const net_client_result *res,
                                 void *ctx) {
    (void)c;
    brk_req *req = ctx;
    if (res->err == NET_CLIENT_ERR_CLOSED) { /* shutting down */
        brk_req_complete(req, BRK_NO_RESPONSE);
        return;
    }
    if (res->err != NET_CLIENT_OK) {
        SL_DEBUG("forward", "api %d to the controller: %s; answering here",
                 req->api_key, net_client_strerror(res->err));
        fall_back(req);
        return;
    }
    const proto_envelope_response *er = res->resp;
    if (er->error_code != KERR_NONE || er->response_data.len < 0) {
        SL_WARN("forward",
                "the controller refused a forwarded request (api %d "
                "version %d): %s",
                req->api_key, req->api_version,
                proto_error_name(er->error_code));
        fall_back(req);
        return;
    }
    rd r;
    rd_init(&r, er->response_data.p, (size_t)er->response_data.len);
    proto_response_header h;
    if (proto_response_header_decode(&r, res->arena, req->api_key,
                                     req->api_version, &h) != PROTO_OK ||
        h.correlation_id != req->correlation_id) {
        SL_WARN("forward", "a forwarded response (api %d) did not parse",
                req->api_key);
        fall_back(req);
        return;
    }
    buf_put(brk_resp_buf(req), r.p, rd_left(&r));
    brk_req_complete(req, BRK_DONE);
}

static bool send_envelope(fwd_target *t, brk_req *req) {
    proto_envelope_request er;
    proto_envelope_request_init(&er);
    er.request_data.p = req->frame;
    er.request_data.len = (int32_t)req->frame_len;
    buf principal;
    buf_init(&principal, 32);
    put_principal(&principal);
    er.request_principal.p = principal.data;
    er.request_principal.len = (int32_t)principal.len;
    uint8_t addr[16];
    size_t al = peer_address(req->peer, addr);
    er.client_host_address.p = addr;
    er.client_host_address.len = (int32_t)al;
    int32_t rc =
        net_client_send(t->client, 58, 0, &er, on_envelope_response, req);
    buf_free(&principal);
    return rc > 0;
}

/* ---- producer-id blocks (AllocateProducerIds) ---------------------------
 */

typedef struct pid_ask {
    ctl_pid_done_fn done;
    void *arg;
} pid_ask;

static void on_pids(net_client *c, const net_client_result *res, void *ctx) {
    (void)c;
    pid_ask a = *(pid_ask *)ctx;
    free(ctx);
    if (res->err != NET_CLIENT_OK) {
        /* retriable for the coordinator: it asks again */
        a.done(a.arg,
               res->err == NET_CLIENT_ERR_TIMEOUT ? KERR_REQUEST_TIMED_OUT
                                                  : KERR_NOT_CONTROLLER,
               -1);
        return;
    }
    const proto_allocate_producer_ids_response *r = res->resp;
    if (r->error_code != KERR_NONE) {
        a.done(a.arg, r->error_code, -1);
        return;
    }
    if (r->producer_id_start < 0 || r->producer_id_len <= 0) {
        a.done(a.arg, KERR_UNKNOWN_SERVER_ERROR, -1);
        return;
    }
    a.done(a.arg, KERR_NONE, r->producer_id_start);
}

static bool send_pids(fwd_target *t, ctl_pid_done_fn done, void *arg) {
    brk_broker *brk = t->brk;
    const cl_broker *self = cl_broker_find(brk->image, brk->node_id);
    proto_allocate_producer_ids_request rq;
    proto_allocate_producer_ids_request_init(&rq);
    rq.broker_id = brk->node_id;
    rq.broker_epoch = self ? self->epoch : -1;
    pid_ask *a = xcalloc(1, sizeof *a);
    a->done = done;
    a->arg = arg;
    if (net_client_send(t->client, 67, 0, &rq, on_pids, a) > 0)
        return true;
    free(a);
    return false;
}

static void wait_failed(fwd_wait *w) {
    if (w->req)
        fall_back(w->req);
    else
        w->done(w->arg, KERR_NOT_CONTROLLER, -1);
}

static void on_client_state(net_client *c, bool up, void *ctx) {
    (void)c;
    fwd_target *t = ctx;
    int n = t->n_waiting;
    fwd_wait w[FWD_MAX_WAITING];
    memcpy(w, t->waiting, sizeof w[0] * (size_t)n);
    t->n_waiting = 0;
    for (int i = 0; i < n; i++) {
        bool sent = up && (w[i].req ? send_envelope(t, w[i].req)
                                    : send_pids(t, w[i].done, w[i].arg));
        if (!sent)
            wait_failed(&w[i]);
    }
}

static void on_shutdown(brk_broker *brk, void *ctx) {
    (void)ctx;
    brk_forward_free(brk);
}

static fwd_target *target(brk_broker *brk, int32_t id) {
    brk_forward *f = brk->forward;
    if (!f) {
        f = xcalloc(1, sizeof *f);
        f->brk = brk;
        brk->forward = f;
        brk_on_shutdown(brk, on_shutdown, NULL);
    }
    for (int i = 0; i < f->n; i++)
        if (f->t[i].id == id)
            return &f->t[i];
    const raft_endpoint *eps;
    int n = raft_node_endpoints(brk->quorum, &eps);
    for (int i = 0; i < n; i++) {
        if (eps[i].id != id)
            continue;
        if (f->n >= RAFT_MAX_VOTERS)
            return NULL;
        fwd_target *t = &f->t[f->n++];
        memset(t, 0, sizeof *t);
        t->id = id;
        t->brk = brk;
        char cid[64];
        snprintf(cid, sizeof cid, "broker-%d-forwarding", brk->node_id);
        net_client_opts o = {
            .host = eps[i].host,
            .port = eps[i].port,
            .client_id = cid,
            .connect_timeout_ms = 5000,
            .request_timeout_ms =
                brk_cfg_i64(brk->cfg, BRK_CFG_REQUEST_TIMEOUT_MS),
            .max_in_flight = 32,
            .on_state = on_client_state,
            .ctx = t,
        };
        t->client = net_client_new(brk->loop, &o);
        return t;
    }
    return NULL;
}

/* The active controller when it is another node, else NULL. */
static fwd_target *remote_controller(brk_broker *brk) {
    if (!brk->quorum || !brk->loop || brk->shutting_down ||
        raft_node_closed(brk->quorum))
        return NULL;
    raft_info info;
    raft_node_info(brk->quorum, &info);
    if (info.leader_id < 0 || info.leader_id == brk->node_id)
        return NULL;
    return target(brk, info.leader_id);
}

bool brk_forward_request(brk_req *req) {
    if (!api_forwardable(req->api_key))
        return false;
    if ((req->api_key == 33 || req->api_key == 44) && names_broker_logger(req))
        return false;
    fwd_target *t = remote_controller(req->brk);
    if (!t)
        return false;
    if (net_client_ready(t->client))
        return send_envelope(t, req);
    if (t->n_waiting >= FWD_MAX_WAITING)
        return false;
    t->waiting[t->n_waiting++] = (fwd_wait){.req = req};
    return true;
}

bool brk_forward_allocate_producer_ids(brk_broker *brk, ctl_pid_done_fn done,
                                       void *arg) {
    fwd_target *t = remote_controller(brk);
    if (!t)
        return false;
    if (net_client_ready(t->client)) {
        if (!send_pids(t, done, arg))
            done(arg, KERR_NOT_CONTROLLER, -1);
        return true;
    }
    if (t->n_waiting >= FWD_MAX_WAITING) {
        done(arg, KERR_NOT_CONTROLLER, -1);
        return true;
    }
    t->waiting[t->n_waiting++] = (fwd_wait){.done = done, .arg = arg};
    return true;
}

static void on_created(net_client *c, const net_client_result *res, void *ctx) {
    (void)c;
    (void)ctx;
    if (res->err != NET_CLIENT_OK) {
        SL_WARN("server", "CreateTopics to the active controller failed: %s",
                net_client_strerror(res->err));
        return;
    }
    const proto_create_topics_response *r = res->resp;
    for (int32_t i = 0; i < r->topics.n; i++) {
        int16_t e = r->topics.v[i].error_code;
        if (e && e != KERR_TOPIC_ALREADY_EXISTS)
            SL_WARN("server", "creating topic %.*s failed: %s",
                    (int)SL_MAX(r->topics.v[i].name.len, 0),
                    r->topics.v[i].name.p, proto_error_name(e));
    }
}

bool brk_forward_create_topic(brk_broker *brk, const char *name,
                              int32_t n_parts, int16_t rf,
                              const brk_kv *configs, size_t n_configs) {
    fwd_target *t = remote_controller(brk);
    if (!t)
        return false;
    /* Not queued while connecting: the caller (a coordinator answering
     * COORDINATOR_NOT_AVAILABLE) asks again when the client retries. */
    if (!net_client_ready(t->client))
        return true;
    proto_create_topics_request rq;
    proto_create_topics_request_init(&rq);
    proto_create_topics_request_creatable_topic tp;
    proto_create_topics_request_creatable_topic_init(&tp);
    proto_create_topics_request_creatable_topic_config cf[16];
    size_t n = SL_MIN(n_configs, SL_ARRAY_LEN(cf));
    for (size_t i = 0; i < n; i++) {
        proto_create_topics_request_creatable_topic_config_init(&cf[i]);
        cf[i].name = proto_str_c(configs[i].name);
        cf[i].value = proto_str_c(configs[i].value);
    }
    tp.name = proto_str_c(name);
    tp.num_partitions = n_parts;
    tp.replication_factor = rf;
    tp.configs.n = (int32_t)n;
    tp.configs.v = cf;
    rq.topics.n = 1;
    rq.topics.v = &tp;
    rq.timeout_ms = 30000;
    if (net_client_send(t->client, 19, -1, &rq, on_created, NULL) <= 0)
        SL_WARN("server", "cannot send CreateTopics for %s to the controller",
                name);
    return true;
}

void brk_forward_free(brk_broker *brk) {
    brk_forward *f = brk->forward;
    if (!f)
        return;
    brk->forward = NULL;
    for (int i = 0; i < f->n; i++) {
        fwd_target *t = &f->t[i];
        for (int k = 0; k < t->n_waiting; k++) {
            fwd_wait *w = &t->waiting[k];
            if (w->req)
                brk_req_complete(w->req, BRK_NO_RESPONSE);
            else
                w->done(w->arg, KERR_NOT_CONTROLLER, -1);
        }
        t->n_waiting = 0;
        net_client_free(t->client); /* in flight: NO_RESPONSE */
    }
    free(f);
}

/* ---- controller side ------------------------------------------------------
 */

static void envelope_done(brk_req *parent, const uint8_t *resp, size_t len) {
    proto_envelope_response er;
    proto_envelope_response_init(&er);
    if (resp) {
        er.response_data.p = resp;
        er.response_data.len = (int32_t)len;
    } else {
        /* the handler found the body malformed: Kafka answers
         * UNSUPPORTED_VERSION for an embedded request it cannot parse */
        er.error_code = KERR_UNSUPPORTED_VERSION;
    }
    proto_envelope_response_encode(brk_resp_buf(parent), parent->api_version,
                                   &er);
    brk_req_complete(parent, BRK_DONE);
}

/* A version-prefixed DefaultPrincipalData v0 (type, name, token flag). */
static bool principal_ok(proto_bytes p) {
    if (p.len < 2)
        return false;
    rd r;
    rd_init(&r, p.p, (size_t)p.len);
    if (rd_be16(&r) != 0)
        return false;
    for (int i = 0; i < 2; i++) { /* Type, Name: compact strings */
        uint32_t n = rd_uvarint32(&r);
        if (r.err || n == 0 || !rd_need(&r, n - 1))
            return false;
        r.p += n - 1;
    }
    (void)rd_u8(&r);
    uint32_t tags = rd_uvarint32(&r);
    for (uint32_t i = 0; i < tags && !r.err; i++) {
        (void)rd_uvarint32(&r);
        uint32_t n = rd_uvarint32(&r);
        if (r.err || !rd_need(&r, n))
            return false;
        r.p += n;
    }
    return !r.err;
}

brk_status brk_handle_envelope(brk_req *req) {
    proto_envelope_request rq;
    if (proto_envelope_request_decode(&req->body, req->arena, req->api_version,
                                      &rq) != PROTO_OK ||
        rq.request_data.len < 0)
        return BRK_CLOSE;
    /* EnvelopeUtils' order: principal, client address, embedded request */
    int16_t err = KERR_NONE;
    if (!principal_ok(rq.request_principal))
        err = KERR_PRINCIPAL_DESERIALIZATION_FAILURE;
    else if (rq.client_host_address.len != 4 &&
             rq.client_host_address.len != 16)
        err = KERR_INVALID_REQUEST;
    else
        err = brk_dispatch_embedded(req, rq.request_data.p,
                                    (size_t)rq.request_data.len,
                                    api_forwardable, envelope_done);
    if (err != KERR_NONE) {
        proto_envelope_response er;
        proto_envelope_response_init(&er);
        er.error_code = err;
        proto_envelope_response_encode(brk_resp_buf(req), req->api_version,
                                       &er);
        return BRK_DONE;
    }
    return BRK_DEFER; /* completed by envelope_done, maybe already */
}

/* ---- AllocateProducerIds (67), controller listener ----------------------
 * Kafka's ProducerIdControlManager.generateNextProducerId: the broker's
 * epoch must be its registration's (STALE_BROKER_EPOCH otherwise, also for
 * a broker not registered), then a block of 1000 ids is recorded; the
 * answer waits for the record to commit (NOT_CONTROLLER off the leader). */

#define PID_BLOCK_SIZE                                                         \
    1000 /* Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE */

static void pids_reply(brk_req *req, int16_t err, int64_t first) {
    proto_allocate_producer_ids_response r;
    proto_allocate_producer_ids_response_init(&r);
    r.error_code = err;
    r.producer_id_start = err ? -1 : first;
    r.producer_id_len = err ? 0 : PID_BLOCK_SIZE;
    proto_allocate_producer_ids_response_encode(brk_resp_buf(req),
                                                req->api_version, &r);
}

typedef struct pids_wait {
    brk_req *req;
    bool in_call, done;
} pids_wait;

static void on_pids_committed(void *arg, int16_t err, int64_t first) {
    pids_wait *w = arg;
    pids_reply(w->req, err, first);
    if (w->in_call) {
        w->done = true;
        return;
    }
    brk_req_complete(w->req, BRK_DONE);
}

brk_status brk_handle_allocate_producer_ids(brk_req *req) {
    proto_allocate_producer_ids_request rq;
    if (proto_allocate_producer_ids_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    brk_broker *brk = req->brk;
    const cl_broker *b = cl_broker_find(brk->image, rq.broker_id);
    if (!b || b->epoch != rq.broker_epoch) {
        pids_reply(req, KERR_STALE_BROKER_EPOCH, -1);
        return BRK_DONE;
    }
    pids_wait *w = arena_calloc(req->arena, 1, sizeof *w);
    w->req = req;
    w->in_call = true;
    ctl_allocate_producer_ids_for(brk, rq.broker_id, rq.broker_epoch,
                                  PID_BLOCK_SIZE, 0, on_pids_committed, w);
    w->in_call = false;
    return w->done ? BRK_DONE : BRK_DEFER;
}
