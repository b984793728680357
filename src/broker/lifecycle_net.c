/*
 * lifecycle_net.c - the broker's registration and heartbeats with the
 * active controller over the network (Kafka's BrokerLifecycleManager with
 * its NodeToControllerChannelManager): the state machine is
 * broker/lifecycle_mgr.h; here its requests are built from the node (id,
 * cluster id, an incarnation id per process, the advertised broker
 * listeners, broker.rack, the supported features, the log dirs'
 * directory.id), sent with a net_client to the controller listener of the
 * Raft leader (this node is a voter of the quorum, so its member knows the
 * leader; a new leader gets a new connection), and the answers fed back.
 * The heartbeat carries the node's metadata offset (its image, the replay
 * of the committed metadata log).
 *
 * Only in a quorum (controller.quorum.voters naming several controllers):
 * a single node registers itself straight into its image (controller.c).
 *
 * Controlled shutdown (controlled.shutdown.enable): brk_lm_shutdown sends
 * WantShutDown heartbeats until the controller answers ShouldShutDown (it
 * moved this broker's leaderships away first), at most
 * broker.session.timeout.ms, then calls done.
 *
 * Ownership: brk->lm, freed by the shutdown hook; the client is freed with
 * it (its callbacks then complete inside net_client_free, before the free).
 * Threading: the node's loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/features.h"
#include "broker/internal.h"
#include "broker/lifecycle_mgr.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "core/uuid.h"
#include "log/log.h"
#include "net/client.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "raft/raft_node.h"

/* While there is no leader or no connection yet, look again this often. */
#define WAIT_MS 50
#define MAX_DIRS 64

struct brk_lm {
    brk_broker *brk;
    blm m;
    uint64_t timer;
    net_client *c;
    int32_t c_node; /* the controller c is connected to */
    uint8_t incarnation[16];
    proto_uuid dirs[MAX_DIRS];
    int n_dirs;
    blm_state logged; /* last state logged */
    bool ran;         /* has been RUNNING since it started */
    bool caught_up;   /* has been RECOVERY or RUNNING since it started */
    /* controlled shutdown */
    void (*cs_done)(brk_broker *brk, void *ctx);
    void *cs_ctx;
    uint64_t cs_timer;
};

static void lm_arm(brk_lm *lm);

static int16_t security_protocol(const char *p) {
    if (!strcmp(p, "SSL"))
        return 1;
    if (!strcmp(p, "SASL_PLAINTEXT"))
        return 2;
    if (!strcmp(p, "SASL_SSL"))
        return 3;
    return 0; /* PLAINTEXT */
}

/* The directory.id of each log dir's meta.properties (kafka-storage
 * format writes one); a random one where it cannot be read. */
static void load_dir_ids(brk_lm *lm) {
    brk_broker *brk = lm->brk;
    int n = brk->logs ? log_manager_n_dirs(brk->logs) : 0;
    for (int i = 0; i < n && lm->n_dirs < MAX_DIRS; i++) {
        uint8_t *id = lm->dirs[lm->n_dirs].b;
        char path[4200];
        snprintf(path, sizeof path, "%s/meta.properties",
                 log_manager_dir(brk->logs, i));
        size_t len;
        char *text = (char *)log_io_read_file(log_manager_io(brk->logs), path,
                                              64 << 10, &len);
        bool ok = false;
        if (text) {
            char *l = strstr(text, "directory.id=");
            if (l) {
                char s[64];
                l += strlen("directory.id=");
                size_t k = strcspn(l, "\r\n");
                if (k < sizeof s) {
                    memcpy(s, l, k);
                    s[k] = 0;
                    ok = uuid_parse(s, id, NULL, 0) && !uuid_is_reserved(id);
                }
            }
            free(text);
        }
        if (!ok)
            do
                uuid_random(id);
            while (uuid_is_reserved(id));
        lm->n_dirs++;
    }
    if (lm->n_dirs == 0) { /* in memory: one directory of its own */
        do
            uuid_random(lm->dirs[0].b);
        while (uuid_is_reserved(lm->dirs[0].b));
        lm->n_dirs = 1;
    }
}

/* ---- the controller connection ---- */

static void on_client_state(net_client *c, bool up, void *ctx) {
    brk_lm *lm = ctx;
    if (up && c == lm->c)
        lm_arm(lm);
}

void brk_controller_client_drop(net_client **c, int32_t *node) {
    net_client *old = *c;
    *c = NULL;
    *node = -1;
    net_client_free(old); /* in-flight callbacks run now, see c != *c */
}

net_client *brk_controller_client(brk_broker *brk, net_client **c,
                                  int32_t *node, const char *purpose,
                                  int64_t max_response_bytes,
                                  net_client_state_fn on_state, void *ctx) {
    raft_info in;
    raft_node_info(brk->quorum, &in);
    if (*c && (in.leader_id < 0 || *node != in.leader_id))
        brk_controller_client_drop(c, node);
    if (in.leader_id < 0 || *c)
        return *c;
    const raft_endpoint *eps;
    int n = raft_node_endpoints(brk->quorum, &eps);
    for (int i = 0; i < n; i++) {
        if (eps[i].id != in.leader_id)
            continue;
        char cid[64];
        snprintf(cid, sizeof cid, "broker-%d-%s", brk->node_id, purpose);
        int64_t rt =
            brk_cfg_i64(brk->cfg, BRK_CFG_CONTROLLER_QUORUM_REQUEST_TIMEOUT_MS);
        net_client_opts o = {
            .host = eps[i].host,
            .port = eps[i].port,
            .client_id = cid,
            .connect_timeout_ms = rt > 0 ? rt : 2000,
            .request_timeout_ms = rt > 0 ? rt : 2000,
            .reconnect_backoff_ms = 50,
            .reconnect_backoff_max_ms = 1000,
            .max_in_flight = 1,
            .max_response_bytes = max_response_bytes,
            .on_state = on_state,
            .ctx = ctx,
        };
        *c = net_client_new(brk->loop, &o);
        *node = in.leader_id;
        return *c;
    }
    return NULL;
}

static void drop_client(brk_lm *lm) {
    brk_controller_client_drop(&lm->c, &lm->c_node);
}

/* The client to the active controller, made or replaced as the leader
 * changes; NULL while there is no leader. */
static net_client *controller(brk_lm *lm) {
    return brk_controller_client(lm->brk, &lm->c, &lm->c_node, "to-controller",
                                 1 << 20, on_client_state, lm);
}

/* ---- requests ---- */

static void log_state(brk_lm *lm) {
    if (lm->m.state == BLM_RUNNING)
        lm->ran = true;
    if (lm->m.state == BLM_RECOVERY || lm->m.state == BLM_RUNNING)
        lm->caught_up = true;
    if (lm->m.state == lm->logged)
        return;
    SL_INFO("lifecycle",
            "[BrokerLifecycleManager id=%d] Transitioning from %s to %s "
            "(broker epoch %lld).",
            lm->brk->node_id, blm_state_name(lm->logged),
            blm_state_name(lm->m.state), (long long)lm->m.epoch);
    lm->logged = lm->m.state;
}

static void cs_check(brk_lm *lm);

static void on_registration(net_client *c, const net_client_result *res,
                            void *ctx) {
    brk_lm *lm = ctx;
    int64_t now = clk_mono_ms();
    int err = BLM_NET_ERROR;
    int64_t epoch = -1;
    if (res->err == NET_CLIENT_OK) {
        const proto_broker_registration_response *rs = res->resp;
        err = rs->error_code;
        epoch = rs->broker_epoch;
    }
    blm_registration_done(&lm->m, now, err, epoch);
    if (err == KERR_NONE)
        SL_INFO("lifecycle",
                "[BrokerLifecycleManager id=%d] Successfully registered broker "
                "%d with broker epoch %lld",
                lm->brk->node_id, lm->brk->node_id, (long long)epoch);
    else if (err != BLM_NET_ERROR)
        SL_INFO("lifecycle",
                "[BrokerLifecycleManager id=%d] Unable to register broker %d "
                "because the controller returned error %s",
                lm->brk->node_id, lm->brk->node_id, proto_error_name(err));
    if (c == lm->c)
        lm_arm(lm);
}

static void on_heartbeat(net_client *c, const net_client_result *res,
                         void *ctx) {
    brk_lm *lm = ctx;
    int64_t now = clk_mono_ms();
    if (res->err != NET_CLIENT_OK) {
        blm_heartbeat_done(&lm->m, now, BLM_NET_ERROR, false, true, false);
    } else {
        const proto_broker_heartbeat_response *rs = res->resp;
        if (rs->error_code)
            SL_WARN("lifecycle",
                    "[BrokerLifecycleManager id=%d] Broker %d sent a heartbeat "
                    "request but received error %s.",
                    lm->brk->node_id, lm->brk->node_id,
                    proto_error_name(rs->error_code));
        blm_heartbeat_done(&lm->m, now, rs->error_code, rs->is_caught_up,
                           rs->is_fenced, rs->should_shut_down);
    }
    log_state(lm);
    if (c == lm->c)
        lm_arm(lm);
    cs_check(lm);
}

static int32_t send_registration(brk_lm *lm, net_client *c) {
    brk_broker *brk = lm->brk;
    proto_broker_registration_request rq;
    proto_broker_registration_request_init(&rq);
    rq.broker_id = brk->node_id;
    rq.cluster_id = proto_str_c(brk->cluster_id);
    memcpy(rq.incarnation_id.b, lm->incarnation, 16);
    proto_broker_registration_request_listener ls[16];
    int nl = 0;
    for (int i = 0; i < brk->n_listeners && nl < 16; i++) {
        if (brk_listener_is_controller(brk, i))
            continue;
        proto_broker_registration_request_listener *l = &ls[nl++];
        proto_broker_registration_request_listener_init(l);
        l->name = proto_str_c(brk->advertised[i].name);
        l->host = proto_str_c(brk->advertised[i].host);
        l->port = (uint16_t)brk->advertised[i].port;
        l->security_protocol = security_protocol(brk->listeners[i].protocol);
    }
    rq.listeners.n = nl;
    rq.listeners.v = ls;
    static const char *const names[] = {
        "metadata.version",
        "kraft.version",
        "group.version",
        "transaction.version",
        "share.version",
        "streams.version",
        "eligible.leader.replicas.version",
    };
    proto_broker_registration_request_feature fs[SL_ARRAY_LEN(names)];
    int nf = 0;
    for (size_t i = 0; i < SL_ARRAY_LEN(names); i++) {
        int16_t lo, hi;
        if (!brk_feature_supported(names[i], &lo, &hi))
            continue;
        proto_broker_registration_request_feature_init(&fs[nf]);
        fs[nf].name = proto_str_c(names[i]);
        fs[nf].min_supported_version = lo;
        fs[nf].max_supported_version = hi;
        nf++;
    }
    rq.features.n = nf;
    rq.features.v = fs;
    const char *rack = brk_cfg_str(brk->cfg, BRK_CFG_BROKER_RACK);
    rq.rack = rack ? proto_str_c(rack) : PROTO_STR_NULL;
    rq.log_dirs.n = lm->n_dirs;
    rq.log_dirs.v = lm->dirs;
    rq.previous_broker_epoch = -1;
    return net_client_send(c, PROTO_API_BROKER_REGISTRATION, -1, &rq,
                           on_registration, lm);
}

static int32_t send_heartbeat(brk_lm *lm, net_client *c) {
    brk_broker *brk = lm->brk;
    proto_broker_heartbeat_request rq;
    proto_broker_heartbeat_request_init(&rq);
    rq.broker_id = brk->node_id;
    rq.broker_epoch = lm->m.epoch;
    rq.current_metadata_offset = cl_image_offset(brk->image);
    rq.want_fence = false;
    rq.want_shut_down = blm_want_shut_down(&lm->m);
    return net_client_send(c, PROTO_API_BROKER_HEARTBEAT, -1, &rq, on_heartbeat,
                           lm);
}

/* ---- the timer ---- */

static void lm_tick(net_loop *loop, void *ctx) {
    (void)loop;
    brk_lm *lm = ctx;
    lm->timer = 0;
    lm_arm(lm);
}

/* Sends what is due, then sleeps until the next deadline. */
static void lm_arm(brk_lm *lm) {
    brk_broker *brk = lm->brk;
    if (lm->timer) {
        net_timer_cancel(brk->loop, lm->timer);
        lm->timer = 0;
    }
    if (net_loop_stopping(brk->loop) || lm->m.state == BLM_SHUTTING_DOWN)
        return;
    int64_t now = clk_mono_ms();
    int64_t due = blm_deadline(&lm->m);
    if (due == INT64_MAX)
        return; /* a request in flight: its answer re-arms */
    if (due <= now) {
        net_client *c = controller(lm);
        if (!c || !net_client_ready(c)) {
            /* no leader yet, or connecting (on_state re-arms too) */
            lm->timer = net_timer_add(brk->loop, WAIT_MS, lm_tick, lm);
            return;
        }
        blm_action a = blm_poll(&lm->m, now);
        int32_t rc = 0;
        if (a == BLM_SEND_REGISTRATION)
            rc = send_registration(lm, c);
        else if (a == BLM_SEND_HEARTBEAT)
            rc = send_heartbeat(lm, c);
        if (rc < 0) {
            SL_WARN("lifecycle",
                    "[BrokerLifecycleManager id=%d] cannot send to the "
                    "controller %d: %s",
                    brk->node_id, lm->c_node, net_client_strerror(rc));
            blm_send_failed(&lm->m, now);
        } else if (a != BLM_NONE) {
            return; /* the answer re-arms */
        }
        due = blm_deadline(&lm->m);
        if (due == INT64_MAX)
            return;
    }
    lm->timer =
        net_timer_add(brk->loop, due > now ? due - now : 0, lm_tick, lm);
}

/* ---- life ---- */

static void lm_free(brk_lm *lm) {
    brk_broker *brk = lm->brk;
    blm_shutdown(&lm->m);
    if (lm->timer)
        net_timer_cancel(brk->loop, lm->timer);
    if (lm->cs_timer)
        net_timer_cancel(brk->loop, lm->cs_timer);
    lm->timer = lm->cs_timer = 0;
    lm->cs_done = NULL;
    drop_client(lm);
    brk->lm = NULL;
    free(lm);
}

static void lm_on_shutdown(brk_broker *brk, void *ctx) {
    (void)ctx;
    if (brk->lm)
        lm_free(brk->lm);
}

void brk_lm_start(brk_broker *brk) {
    if (!brk->quorum || !brk->loop || brk->lm)
        return;
    brk_lm *lm = xcalloc(1, sizeof *lm);
    lm->brk = brk;
    lm->c_node = -1;
    uuid_random(lm->incarnation);
    load_dir_ids(lm);
    blm_init(&lm->m,
             brk_cfg_i64(brk->cfg, BRK_CFG_BROKER_HEARTBEAT_INTERVAL_MS),
             clk_mono_ms());
    lm->logged = lm->m.state;
    brk->lm = lm;
    brk_on_shutdown(brk, lm_on_shutdown, NULL);
    lm_arm(lm);
}

void brk_lm_controller_changed(brk_broker *brk) {
    brk_lm *lm = brk->lm;
    if (!lm)
        return;
    raft_info in;
    raft_node_info(brk->quorum, &in);
    if (lm->c && lm->c_node != in.leader_id)
        drop_client(lm); /* an in-flight request fails: retried */
    lm_arm(lm);
}

/* ---- controlled shutdown ---- */

static void cs_finish(brk_lm *lm, bool timed_out) {
    void (*done)(brk_broker *, void *) = lm->cs_done;
    if (!done)
        return;
    lm->cs_done = NULL;
    if (lm->cs_timer)
        net_timer_cancel(lm->brk->loop, lm->cs_timer);
    lm->cs_timer = 0;
    if (timed_out)
        SL_ERROR("lifecycle",
                 "[BrokerLifecycleManager id=%d] Timed out waiting for the "
                 "controller to approve controlled shutdown",
                 lm->brk->node_id);
    else
        SL_INFO("lifecycle",
                "[BrokerLifecycleManager id=%d] The controller has asked us "
                "to exit controlled shutdown.",
                lm->brk->node_id);
    blm_shutdown(&lm->m);
    done(lm->brk, lm->cs_ctx);
}

static void cs_check(brk_lm *lm) {
    if (lm->cs_done && lm->m.state == BLM_SHUTTING_DOWN)
        cs_finish(lm, false);
}

static void cs_timeout(net_loop *loop, void *ctx) {
    (void)loop;
    brk_lm *lm = ctx;
    lm->cs_timer = 0;
    cs_finish(lm, true);
}

void brk_lm_shutdown(brk_broker *brk, void (*done)(brk_broker *, void *),
                     void *ctx) {
    brk_lm *lm = brk->lm;
    if (!lm || lm->cs_done ||
        !brk_cfg_bool(brk->cfg, BRK_CFG_CONTROLLED_SHUTDOWN_ENABLE) ||
        net_loop_stopping(brk->loop)) {
        done(brk, ctx);
        return;
    }
    blm_begin_controlled_shutdown(&lm->m, clk_mono_ms());
    log_state(lm);
    if (lm->m.state == BLM_SHUTTING_DOWN) {
        SL_INFO("lifecycle",
                "[BrokerLifecycleManager id=%d] Skipping controlled shutdown "
                "because the broker is not running.",
                brk->node_id);
        done(brk, ctx);
        return;
    }
    SL_INFO("lifecycle",
            "[BrokerLifecycleManager id=%d] Beginning controlled shutdown.",
            brk->node_id);
    lm->cs_done = done;
    lm->cs_ctx = ctx;
    lm->cs_timer = net_timer_add(
        brk->loop, brk_cfg_i64(brk->cfg, BRK_CFG_BROKER_SESSION_TIMEOUT_MS),
        cs_timeout, lm);
    lm_arm(lm);
}

/* ---- the controller clients are told about ---- */

int32_t brk_active_controller(brk_broker *brk) {
    if (!brk->quorum)
        return brk->node_id;
    raft_info in;
    raft_node_info(brk->quorum, &in);
    const cl_broker *b =
        in.leader_id >= 0 ? cl_broker_find(brk->image, in.leader_id) : NULL;
    return b && !b->fenced ? in.leader_id : brk->node_id;
}

bool brk_lm_caught_up(const brk_broker *brk) {
    return !brk->lm || brk->lm->caught_up;
}

bool brk_lm_starting(const brk_broker *brk) {
    return brk->lm && !brk->lm->ran;
}

int64_t brk_lm_broker_epoch(const brk_broker *brk) {
    return brk->lm ? brk->lm->m.epoch : -1;
}
