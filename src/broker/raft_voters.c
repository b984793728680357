/*
 * raft_voters.c - AddRaftVoter (80) and RemoveRaftVoter (81), answered as
 * Kafka 4.3.1's KafkaRaftClient / AddVoterHandler / RemoveVoterHandler
 * answer them for a static quorum: this node is the only voter and
 * kraft.version is 0 (Sluice supports no dynamic quorum, and advertises
 * kraft.version 0..0), so after the same request checks Kafka makes first
 * (cluster id, a voter with a directory id, the controller listener's
 * endpoint) every change is refused with UNSUPPORTED_VERSION and Kafka's
 * message, exactly what `kafka-metadata-quorum add-controller /
 * remove-controller` get from a Kafka node configured like Sluice.
 * Also the static quorum of several controllers (controller.quorum.voters):
 * the member's start-up and the raft RPCs (below).
 * Loop thread only; memory from the request arena.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "controller/controller.h"
#include "controller/records.h"
#include "core/list.h"
#include "core/log.h"
#include "core/util.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "raft/raft_node.h"

/* INCONSISTENT_CLUSTER_ID when a cluster id is given and is not ours. */
static int16_t check_cluster(brk_req *req, proto_str cid, char *msg,
                             size_t cap) {
    if (cid.len < 0 || proto_str_eq(cid, req->brk->cluster_id))
        return KERR_NONE;
    snprintf(msg, cap,
             "The given id \"%.*s\" doesn't match the cluster id "
             "\"%s\"",
             (int)cid.len, cid.p, req->brk->cluster_id);
    return KERR_INCONSISTENT_CLUSTER_ID;
}

/* The default listener of the quorum: the first controller listener name,
 * upper-cased as Kafka's ListenerName.normalised. */
static void default_listener(brk_req *req, char *out, size_t cap) {
    const char *names =
        brk_cfg_str(req->brk->cfg, BRK_CFG_CONTROLLER_LISTENER_NAMES);
    if (!names)
        names = "CONTROLLER";
    size_t n = strcspn(names, ",");
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(names[i] >= 'a' && names[i] <= 'z' ? names[i] - 32
                                                           : names[i]);
    out[n] = 0;
}

brk_status brk_handle_add_raft_voter(brk_req *req) {
    proto_add_raft_voter_request rq;
    if (proto_add_raft_voter_request_decode(&req->body, req->arena,
                                            req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_add_raft_voter_response rs;
    proto_add_raft_voter_response_init(&rs);
    char msg[1024];
    int16_t e = check_cluster(req, rq.cluster_id, msg, sizeof msg);
    if (!e && proto_uuid_is_zero(&rq.voter_directory_id)) {
        e = KERR_INVALID_REQUEST;
        snprintf(msg, sizeof msg,
                 "Add voter request didn't include a valid voter");
    }
    if (!e) {
        char dl[128];
        default_listener(req, dl, sizeof dl);
        bool found = false;
        for (int32_t i = 0; i < rq.listeners.n; i++)
            found |= proto_str_eq(rq.listeners.v[i].name, dl);
        if (!found) {
            /* Kafka's Endpoints.toString:
             * {ListenerName(X)=host/<unresolved>:port, ...} */
            int k = snprintf(msg, sizeof msg,
                             "Add voter request didn't include the endpoint "
                             "(Endpoints(endpoints={");
            for (int32_t i = 0;
                 i < rq.listeners.n && k > 0 && (size_t)k < sizeof msg; i++) {
                proto_add_raft_voter_request_listener *l = &rq.listeners.v[i];
                k += snprintf(msg + k, sizeof msg - (size_t)k,
                              "%sListenerName(%.*s)=%.*s/<unresolved>:%u",
                              i ? ", " : "",
                              l->name.len > 0 ? (int)l->name.len : 0,
                              l->name.p ? l->name.p : "",
                              l->host.len > 0 ? (int)l->host.len : 0,
                              l->host.p ? l->host.p : "", (unsigned)l->port);
            }
            if (k > 0 && (size_t)k < sizeof msg)
                snprintf(msg + k, sizeof msg - (size_t)k,
                         "})) for the default listener ListenerName(%s)", dl);
            e = KERR_INVALID_REQUEST;
        }
    }
    if (!e) {
        e = KERR_UNSUPPORTED_VERSION;
        snprintf(msg, sizeof msg,
                 "Cluster doesn't support adding voter because the "
                 "kraft.version feature is 0");
    }
    rs.error_code = e;
    rs.error_message = proto_str_c(arena_strndup(req->arena, msg, strlen(msg)));
    proto_add_raft_voter_response_encode(brk_resp_buf(req), req->api_version,
                                         &rs);
    return BRK_DONE;
}

brk_status brk_handle_remove_raft_voter(brk_req *req) {
    proto_remove_raft_voter_request rq;
    if (proto_remove_raft_voter_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_remove_raft_voter_response rs;
    proto_remove_raft_voter_response_init(&rs);
    char msg[512];
    int16_t e = check_cluster(req, rq.cluster_id, msg, sizeof msg);
    if (!e && proto_uuid_is_zero(&rq.voter_directory_id)) {
        e = KERR_INVALID_REQUEST;
        snprintf(msg, sizeof msg,
                 "Remove voter request didn't include a valid voter");
    }
    if (!e) {
        e = KERR_UNSUPPORTED_VERSION;
        snprintf(msg, sizeof msg,
                 "Cluster doesn't support removing voter because the "
                 "kraft.version feature is 0");
    }
    rs.error_code = e;
    rs.error_message = proto_str_c(arena_strndup(req->arena, msg, strlen(msg)));
    proto_remove_raft_voter_response_encode(brk_resp_buf(req), req->api_version,
                                            &rs);
    return BRK_DONE;
}

/* ---- the KRaft quorum of several controllers ------------------------------
 * With controller.quorum.voters naming more than one controller, the node
 * is a voter of a real quorum (src/raft/raft_node.h): its metadata log is
 * the Raft log, the active controller is the Raft leader, and the
 * controller (quorum_log.c) proposes on the leader and applies what the
 * quorum committed. Vote, BeginQuorumEpoch, EndQuorumEpoch, FetchSnapshot
 * and Fetch (on the controller listener) go to the quorum member. */

/* metadata.version the first leader bootstraps a new cluster with: Kafka
 * 4.3.1's default (4.3-IV0), as controller.c's for a single node. */
#define QUORUM_METADATA_VERSION 30

typedef brk_voter voter_ep;

/* controller.quorum.voters: {id}@{host}:{port},...; -1 when malformed. */
static int parse_voters(const char *s, voter_ep *out, int max) {
    int n = 0;
    list_iter it = list_start(s, true);
    const char *p;
    size_t len;
    while (list_next(&it, &p, &len)) {
        char one[300];
        if (len >= sizeof one || n >= max)
            return -1;
        memcpy(one, p, len);
        one[len] = 0;
        char *at = strchr(one, '@');
        char *colon = strrchr(one, ':');
        if (!at || !colon || colon < at)
            return -1;
        *at = 0;
        *colon = 0;
        char *e;
        long id = strtol(one, &e, 10);
        long port = strtol(colon + 1, &e, 10);
        if (*e || id < 0 || id > INT32_MAX || port <= 0 || port > 65535)
            return -1;
        out[n].id = (int32_t)id;
        snprintf(out[n].host, sizeof out[n].host, "%s", at + 1);
        out[n].port = (int)port;
        n++;
    }
    return n;
}

int brk_quorum_voters(const brk_config *cfg, brk_voter *out, int max) {
    const char *s = brk_cfg_str(cfg, BRK_CFG_CONTROLLER_QUORUM_VOTERS);
    return s && *s ? parse_voters(s, out, max) : 0;
}

/* A node with the broker role only (it follows a remote quorum). */
static bool broker_only(const brk_config *cfg) {
    return brk_cfg_roles(cfg) == BRK_ROLE_BROKER;
}

bool brk_quorum_configured(const brk_config *cfg) {
    voter_ep v[RAFT_MAX_VOTERS];
    const char *s = brk_cfg_str(cfg, BRK_CFG_CONTROLLER_QUORUM_VOTERS);
    int n = s ? parse_voters(s, v, RAFT_MAX_VOTERS) : 0;
    /* several voters, or a broker-only node (a Raft observer), or a
     * controller-only voter (its brokers are other processes: they fetch
     * the metadata from it even when it is the only voter) */
    return n > 1 || (n >= 1 && (broker_only(cfg) ||
                                brk_cfg_roles(cfg) == BRK_ROLE_CONTROLLER));
}

/* Kafka's rendering of the voter ids in its messages: a Scala Set. */
static void voter_set(const voter_ep *v, int n, char *out, size_t cap) {
    size_t o = (size_t)snprintf(out, cap, "Set(");
    for (int i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%d", i ? ", " : "",
                              (int)v[i].id);
    if (o < cap)
        snprintf(out + o, cap - o, ")");
}

int brk_quorum_check_config(const brk_config *cfg, char *err, size_t errlen) {
    const char *s = brk_cfg_str(cfg, BRK_CFG_CONTROLLER_QUORUM_VOTERS);
    voter_ep v[RAFT_MAX_VOTERS + 1];
    int n = parse_voters(s ? s : "", v, RAFT_MAX_VOTERS + 1);
    if (n < 0 || n > RAFT_MAX_VOTERS) {
        snprintf(err, errlen,
                 "Invalid value %s for configuration controller.quorum.voters: "
                 "expected a list of at most %d {id}@{host}:{port} entries",
                 s, RAFT_MAX_VOTERS);
        return -1;
    }
    int32_t self = (int32_t)brk_cfg_i64(cfg, BRK_CFG_NODE_ID);
    bool found = false;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < i; k++)
            if (v[k].id == v[i].id) {
                snprintf(err, errlen,
                         "Invalid value %s for configuration "
                         "controller.quorum.voters: voter %d is named twice",
                         s, v[i].id);
                return -1;
            }
    for (int i = 0; i < n; i++)
        found |= v[i].id == self;
    char set[RAFT_MAX_VOTERS * 12 + 8];
    voter_set(v, n, set, sizeof set);
    /* KafkaConfig.validateValues, word for word */
    if (broker_only(cfg)) {
        if (n == 0) {
            /* Kafka finds the voters through
             * controller.quorum.bootstrap.servers (KIP-853): not yet */
            snprintf(err, errlen,
                     "Invalid value for configuration "
                     "controller.quorum.voters: a broker-only node needs the "
                     "voters named there (Sluice cannot discover a dynamic "
                     "quorum through controller.quorum.bootstrap.servers "
                     "yet)");
            return -1;
        }
        if (found) {
            snprintf(err, errlen,
                     "requirement failed: If process.roles contains just the "
                     "'broker' role, the node id %d must not be included in "
                     "the set of voters controller.quorum.voters=%s",
                     (int)self, set);
            return -1;
        }
        return 0;
    }
    if (n > 0 && !found) {
        snprintf(err, errlen,
                 "requirement failed: If process.roles contains the "
                 "'controller' role, the node id %d must be included in the "
                 "set of voters controller.quorum.voters=%s",
                 (int)self, set);
        return -1;
    }
    return 0;
}

static void quorum_on_commit(void *ctx, int64_t hw) {
    (void)hw;
    brk_broker *brk = ctx;
    if (brk->loop)
        net_loop_wake(brk->loop); /* the controller applies before sleep */
}

static void bootstrap_done(void *arg, int16_t err) {
    (void)arg;
    if (err)
        SL_WARN("controller", "bootstrap feature levels not committed: %s",
                proto_error_name(err));
}

static void quorum_on_change(void *ctx, const raft_info *in) {
    brk_broker *brk = ctx;
    SL_INFO("raft",
            "[RaftManager id=%d] %s in epoch %d (leader %d), high watermark "
            "%lld",
            brk->node_id, raft_role_name(in->role), in->epoch, in->leader_id,
            (long long)in->high_watermark);
    brk_lm_controller_changed(brk); /* heartbeats go to the new leader */
    if (in->role != RAFT_LEADER || !brk->ctl)
        return;
    /* The first leader of a new cluster writes the bootstrap metadata
     * (metadata.version, group.version), as Kafka's QuorumController does
     * from the bootstrap checkpoint when the log is empty. */
    size_t nf = 0;
    cl_features(brk->image, &nf);
    if (nf > 0 || in->epoch_start_offset > 0)
        return;
    buf v[2];
    buf_init(&v[0], 64);
    buf_init(&v[1], 64);
    ctl_rec_feature_level(&v[0], "metadata.version", QUORUM_METADATA_VERSION);
    ctl_rec_feature_level(&v[1], "group.version", 1);
    ctl_submit(brk->ctl, v, 2, bootstrap_done, NULL);
    buf_free(&v[0]);
    buf_free(&v[1]);
}

/* Shutdown begins: no more replies to peers (their requests on our closing
 * connections are dropped), no more requests. */
static void quorum_shutdown(brk_broker *brk, void *ctx) {
    (void)ctx;
    if (brk->quorum)
        raft_node_close(brk->quorum);
}

int brk_quorum_start(brk_broker *brk, char *err, size_t errlen) {
    if (!brk_quorum_configured(brk->cfg))
        return 0;
    const brk_config *cfg = brk->cfg;
    voter_ep v[RAFT_MAX_VOTERS];
    int n = parse_voters(brk_cfg_str(cfg, BRK_CFG_CONTROLLER_QUORUM_VOTERS), v,
                         RAFT_MAX_VOTERS);
    const char *names = brk_cfg_str(cfg, BRK_CFG_CONTROLLER_LISTENER_NAMES);
    char listener[64] = "CONTROLLER";
    if (names && *names) {
        size_t l = strcspn(names, ",");
        if (l >= sizeof listener)
            l = sizeof listener - 1;
        for (size_t i = 0; i < l; i++)
            listener[i] =
                (char)(names[i] >= 'a' && names[i] <= 'z' ? names[i] - 32
                                                          : names[i]);
        listener[l] = 0;
    }
    raft_endpoint eps[RAFT_MAX_VOTERS];
    raft_node_opts o;
    memset(&o, 0, sizeof o);
    raft_config_defaults(&o.cfg);
    o.cfg.self.id = brk->node_id;
    size_t cl = strnlen(brk->cluster_id, sizeof o.cfg.cluster_id - 1);
    memcpy(o.cfg.cluster_id, brk->cluster_id, cl);
    o.cfg.cluster_id[cl] = 0;
    o.cfg.voters.n = n;
    for (int i = 0; i < n; i++) {
        o.cfg.voters.v[i].id = v[i].id;
        eps[i] =
            (raft_endpoint){v[i].id, listener, v[i].host, (uint16_t)v[i].port};
    }
    o.cfg.election_timeout_ms = (int32_t)brk_cfg_i64(
        cfg, BRK_CFG_CONTROLLER_QUORUM_ELECTION_TIMEOUT_MS);
    o.cfg.fetch_timeout_ms =
        (int32_t)brk_cfg_i64(cfg, BRK_CFG_CONTROLLER_QUORUM_FETCH_TIMEOUT_MS);
    o.cfg.election_backoff_max_ms = (int32_t)brk_cfg_i64(
        cfg, BRK_CFG_CONTROLLER_QUORUM_ELECTION_BACKOFF_MAX_MS);
    o.cfg.request_timeout_ms =
        (int32_t)brk_cfg_i64(cfg, BRK_CFG_CONTROLLER_QUORUM_REQUEST_TIMEOUT_MS);
    o.cfg.retry_backoff_ms =
        (int32_t)brk_cfg_i64(cfg, BRK_CFG_CONTROLLER_QUORUM_RETRY_BACKOFF_MS);
    o.cfg.fetch_max_bytes =
        (int32_t)brk_cfg_i64(cfg, BRK_CFG_CONTROLLER_QUORUM_FETCH_MAX_BYTES);
    o.cfg.fetch_snapshot_max_bytes = (int32_t)brk_cfg_i64(
        cfg, BRK_CFG_CONTROLLER_QUORUM_FETCH_SNAPSHOT_MAX_BYTES);
    /* MetadataLogConfig: the internal segment size (tests) wins */
    const char *iseg =
        brk_cfg_str(cfg, BRK_CFG_INTERNAL_METADATA_LOG_SEGMENT_BYTES);
    o.segment_bytes = (int32_t)brk_cfg_i64(
        cfg, iseg && *iseg ? BRK_CFG_INTERNAL_METADATA_LOG_SEGMENT_BYTES
                           : BRK_CFG_METADATA_LOG_SEGMENT_BYTES);
    o.segment_ms = brk_cfg_i64(cfg, BRK_CFG_METADATA_LOG_SEGMENT_MS);
    o.retention_bytes = brk_cfg_i64(cfg, BRK_CFG_METADATA_MAX_RETENTION_BYTES);
    o.retention_ms = brk_cfg_i64(cfg, BRK_CFG_METADATA_MAX_RETENTION_MS);
    o.endpoints = eps;
    o.n_endpoints = n;
    o.loop = brk->loop;
    o.mgr = brk->logs;
    o.part = brk->meta_log;
    o.io = log_manager_io(brk->logs);
    o.dir = log_path(brk->meta_log);
    o.rng = NULL; /* its own */
    o.on_commit = quorum_on_commit;
    o.on_change = quorum_on_change;
    o.ctx = brk;
    brk->quorum = raft_node_new(&o, err, errlen);
    if (!brk->quorum)
        return -1;
    ctl_snapshot_opts so = {
        brk_cfg_i64(cfg,
                    BRK_CFG_METADATA_LOG_MAX_RECORD_BYTES_BETWEEN_SNAPSHOTS),
        brk_cfg_i64(cfg, BRK_CFG_METADATA_LOG_MAX_SNAPSHOT_INTERVAL_MS)};
    brk->ctl =
        ctl_new(brk->image, ctl_quorum_log_new(brk->quorum, brk->image, &so));
    /* the latest snapshot first; the log after it follows the high
     * watermark */
    if (ctl_replay(brk->ctl, err, errlen) < 0)
        return -1;
    brk_on_shutdown(brk, quorum_shutdown, NULL);
    return 0;
}

void brk_quorum_free(brk_broker *brk) {
    raft_node_free(brk->quorum);
    brk->quorum = NULL;
}

/* Raft's replies come at once or later (a parked Fetch). */
typedef struct rpc_box {
    brk_req *req;
    bool in_call, done, dropped;
} rpc_box;

static void rpc_reply(void *ctx, const buf *body) {
    rpc_box *b = ctx;
    if (body)
        buf_put(brk_resp_buf(b->req), body->data, body->len);
    if (b->in_call) {
        b->done = body != NULL;
        b->dropped = body == NULL;
        return;
    }
    brk_req_complete(b->req, body ? BRK_DONE : BRK_NO_RESPONSE);
}

brk_status brk_handle_raft_rpc(brk_req *req) {
    brk_broker *brk = req->brk;
    if (!brk->quorum || raft_node_closed(brk->quorum))
        return BRK_CLOSE; /* a single node has no peers to answer */
    rpc_box *b = arena_calloc(req->arena, 1, sizeof *b);
    b->req = req;
    b->in_call = true;
    int rc = raft_node_request(brk->quorum, req->api_key, req->api_version,
                               req->body.p, rd_left(&req->body), rpc_reply, b);
    b->in_call = false;
    if (rc < 0)
        return BRK_CLOSE;
    if (b->done)
        return BRK_DONE;
    if (b->dropped)
        return BRK_NO_RESPONSE;
    return BRK_DEFER;
}
