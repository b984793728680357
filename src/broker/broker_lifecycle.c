/*
 * broker_lifecycle.c - the controller's side of brokers joining the
 * cluster (KIP-631): BrokerRegistration (62) and BrokerHeartbeat (63),
 * answered on controller listeners only (their JSON scope), and the
 * session timer that fences a broker whose heartbeats stopped
 * (broker.session.timeout.ms). The decisions are controller/cluster_ctl.h;
 * here its records are committed through brk->ctl and the reply waits for
 * the commit, as Kafka's QuorumController answers after the write.
 *
 * Loop thread only; replies live in the request arena.
 */
#include <stdio.h>
#include <string.h>

#include "broker/internal.h"
#include "controller/cluster_ctl.h"
#include "controller/controller.h"
#include "core/clock.h"
#include "core/log.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "raft/raft_node.h"

/* Kafka's session check runs on the controller's event queue; once a
 * second is well inside any broker.session.timeout.ms. */
#define EXPIRE_CHECK_MS 1000

/* The registrations and sessions of the active controller, NULL when this
 * node's controller is not the active one (NOT_CONTROLLER). In a quorum
 * they are rebuilt whenever the controller becomes active in a new epoch
 * (Kafka's ClusterControlManager.activate: every unfenced broker gets a
 * fresh session) and dropped when it is not active any more
 * (deactivate). A single node keeps its sessions from the first request
 * (its own registration is not heartbeated). */
static ctl_cluster *cluster_ctl(brk_broker *brk) {
    int32_t epoch = 0;
    if (brk->quorum) {
        if (!brk->ctl || !ctl_active(brk->ctl)) {
            ctl_cluster_free(brk->cluster_ctl);
            brk->cluster_ctl = NULL;
            return NULL;
        }
        /* The first leader of a new cluster has its bootstrap feature
         * levels in flight: Kafka's controller queues a registration behind
         * them; here it is NOT_CONTROLLER until they are applied (the
         * broker retries), not UNSUPPORTED_VERSION against level 0. */
        size_t nf = 0;
        cl_features(brk->image, &nf);
        if (nf == 0)
            return NULL;
        raft_info in;
        raft_node_info(brk->quorum, &in);
        epoch = in.epoch;
    }
    if (brk->cluster_ctl && brk->cluster_ctl_epoch != epoch) {
        ctl_cluster_free(brk->cluster_ctl);
        brk->cluster_ctl = NULL;
    }
    if (!brk->cluster_ctl) {
        brk->cluster_ctl = ctl_cluster_new(
            brk->cluster_id,
            brk_cfg_i64(brk->cfg, BRK_CFG_BROKER_SESSION_TIMEOUT_MS));
        brk->cluster_ctl_epoch = epoch;
        if (brk->quorum) {
            SL_INFO("controller",
                    "activating: heartbeat sessions of the registered "
                    "brokers begin now (epoch %d)",
                    epoch);
            ctl_cluster_activate(brk->cluster_ctl, brk->image, clk_mono_ms());
        }
    }
    return brk->cluster_ctl;
}

static bool unclean_default(brk_broker *brk) {
    return brk_cfg_bool(brk->cfg, BRK_CFG_UNCLEAN_LEADER_ELECTION_ENABLE);
}

/* ---- BrokerRegistration ---- */

typedef struct reg_reply {
    proto_broker_registration_response rs;
    char msg[512];
} reg_reply;

static void registration_finish(brk_req *req, void *ctx) {
    reg_reply *r = ctx;
    if (r->rs.error_code == KERR_NOT_CONTROLLER) {
        r->rs.broker_epoch = -1;
    } else if (r->rs.error_code) {
        r->rs.broker_epoch = -1;
        SL_WARN("controller", "broker registration refused: %s%s%s",
                proto_error_name(r->rs.error_code), r->msg[0] ? ": " : "",
                r->msg);
    }
    proto_broker_registration_response_encode(brk_resp_buf(req),
                                              req->api_version, &r->rs);
}

brk_status brk_handle_broker_registration(brk_req *req) {
    brk_broker *brk = req->brk;
    proto_broker_registration_request rq;
    if (proto_broker_registration_request_decode(&req->body, req->arena,
                                                 req->api_version, &rq))
        return BRK_CLOSE;
    reg_reply *r = arena_calloc(req->arena, 1, sizeof *r);
    proto_broker_registration_response_init(&r->rs);
    ctl_records rs = {0};
    int64_t epoch = -1;
    ctl_cluster *cc = cluster_ctl(brk);
    int16_t e = cc ? ctl_cluster_register(
                         cc, brk->image, &rq, ctl_next_offset(brk->ctl),
                         clk_mono_ms(), &rs, &epoch, r->msg, sizeof r->msg)
                   : KERR_NOT_CONTROLLER;
    brk_commit_wait *w = brk_commit_begin(req, registration_finish, r);
    r->rs.error_code = e;
    if (!e) {
        r->rs.broker_epoch = epoch;
        brk_commit(w, rs.v, rs.n, &r->rs.error_code);
        SL_INFO("controller", "broker %d registered with epoch %lld",
                rq.broker_id, (long long)epoch);
    }
    ctl_records_free(&rs);
    return brk_commit_end(w);
}

/* ---- BrokerHeartbeat ---- */

static void heartbeat_finish(brk_req *req, void *ctx) {
    proto_broker_heartbeat_response *rs = ctx;
    if (rs->error_code)
        rs->is_fenced = true;
    proto_broker_heartbeat_response_encode(brk_resp_buf(req), req->api_version,
                                           rs);
}

brk_status brk_handle_broker_heartbeat(brk_req *req) {
    brk_broker *brk = req->brk;
    proto_broker_heartbeat_request rq;
    if (proto_broker_heartbeat_request_decode(&req->body, req->arena,
                                              req->api_version, &rq))
        return BRK_CLOSE;
    proto_broker_heartbeat_response *rs =
        arena_calloc(req->arena, 1, sizeof *rs);
    proto_broker_heartbeat_response_init(rs);
    ctl_records recs = {0};
    char msg[300];
    ctl_cluster *cc = cluster_ctl(brk);
    int16_t e = cc ? ctl_cluster_heartbeat(cc, brk->image, &rq,
                                           ctl_next_offset(brk->ctl),
                                           clk_mono_ms(), unclean_default(brk),
                                           &recs, rs, msg, sizeof msg)
                   : KERR_NOT_CONTROLLER;
    brk_commit_wait *w = brk_commit_begin(req, heartbeat_finish, rs);
    rs->error_code = e;
    if (!e && recs.n)
        brk_commit(w, recs.v, recs.n, &rs->error_code);
    ctl_records_free(&recs);
    return brk_commit_end(w);
}

/* ---- sessions ---- */

static void fence_next(void *arg, bool cancelled);

/* Fences one broker whose session expired, if any, then the next once that
 * is committed: one at a time, with nothing else in flight. A fence's
 * records are computed from the image (the ISRs it shrinks), which does not
 * show submits still in flight, and one computed beside them would undo
 * them (a second fence in the same pass would put the first broker back
 * into the ISRs both share). */
static void fence_expired(brk_broker *brk) {
    /* a quorum: only the active controller fences (and activates its
     * sessions here if no broker has spoken to it yet) */
    if (!(brk->quorum ? cluster_ctl(brk) != NULL : brk->cluster_ctl != NULL) ||
        !brk->ctl || !ctl_idle(brk->ctl))
        return;
    ctl_records rs = {0};
    int32_t id = ctl_cluster_expire(brk->cluster_ctl, brk->image, clk_mono_ms(),
                                    unclean_default(brk), &rs);
    if (id >= 0) {
        SL_INFO("controller",
                "fencing broker %d: no heartbeat within "
                "broker.session.timeout.ms",
                id);
        /* the image changes once committed; until then expire skips it
         * (its session was touched) */
        ctl_submit(brk->ctl, rs.v, rs.n, NULL, NULL);
        ctl_when_idle(brk->ctl, fence_next, brk);
    }
    ctl_records_free(&rs);
}

static void fence_next(void *arg, bool cancelled) {
    if (!cancelled)
        fence_expired(arg);
}

static void expire_tick(net_loop *loop, void *ctx) {
    brk_broker *brk = ctx;
    fence_expired(brk);
    brk->cluster_expire_timer =
        net_timer_add(loop, EXPIRE_CHECK_MS, expire_tick, brk);
}

/* ---- periodic elections (Kafka's electUnclean / electPreferred tasks) */

/* Kafka's ReplicationControlManager.MAX_ELECTIONS_PER_IMBALANCE */
#define MAX_ELECTIONS 1000

/* The active controller with nothing of its own in flight: an election
 * computed now cannot repeat one still being committed. */
static bool may_elect(brk_broker *brk) {
    return brk->ctl && ctl_active(brk->ctl) && ctl_pending(brk->ctl) == 0 &&
           (!brk->quorum || cluster_ctl(brk) != NULL);
}

static void elect_unclean_tick(net_loop *loop, void *ctx) {
    brk_broker *brk = ctx;
    if (may_elect(brk)) {
        ctl_records rs = {0};
        if (ctl_elect_unclean_leaderless(brk->image, unclean_default(brk),
                                         MAX_ELECTIONS, &rs) > 0)
            ctl_submit(brk->ctl, rs.v, rs.n, NULL, NULL);
        ctl_records_free(&rs);
    }
    brk->elect_unclean_timer = net_timer_add(
        loop,
        brk_cfg_i64(brk->cfg, BRK_CFG_UNCLEAN_LEADER_ELECTION_INTERVAL_MS),
        elect_unclean_tick, brk);
}

static int64_t imbalance_check_ms(brk_broker *brk) {
    int64_t s =
        brk_cfg_i64(brk->cfg, BRK_CFG_LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS);
    return s > INT64_MAX / 1000 ? INT64_MAX : s * 1000;
}

static void elect_preferred_tick(net_loop *loop, void *ctx) {
    brk_broker *brk = ctx;
    if (may_elect(brk)) {
        ctl_records rs = {0};
        int n = ctl_elect_preferred_imbalanced(brk->image, MAX_ELECTIONS, &rs);
        if (n > 0) {
            SL_INFO("controller",
                    "electPreferred: moving %d partition leader(s) back to "
                    "their preferred replica",
                    n);
            ctl_submit(brk->ctl, rs.v, rs.n, NULL, NULL);
        }
        ctl_records_free(&rs);
    }
    brk->elect_preferred_timer =
        net_timer_add(loop, imbalance_check_ms(brk), elect_preferred_tick, brk);
}

void brk_lifecycle_start(brk_broker *brk) {
    if (!brk->loop)
        return;
    brk->cluster_expire_timer =
        net_timer_add(brk->loop, EXPIRE_CHECK_MS, expire_tick, brk);
    if (!brk->ctl)
        return; /* a broker-only node elects nothing */
    brk->elect_unclean_timer = net_timer_add(
        brk->loop,
        brk_cfg_i64(brk->cfg, BRK_CFG_UNCLEAN_LEADER_ELECTION_INTERVAL_MS),
        elect_unclean_tick, brk);
    /* Kafka's ControllerServer registers electPreferred only with
     * auto.leader.rebalance.enable */
    if (brk_cfg_bool(brk->cfg, BRK_CFG_AUTO_LEADER_REBALANCE_ENABLE))
        brk->elect_preferred_timer = net_timer_add(
            brk->loop, imbalance_check_ms(brk), elect_preferred_tick, brk);
}

void brk_lifecycle_stop(brk_broker *brk) {
    if (brk->loop && brk->cluster_expire_timer)
        net_timer_cancel(brk->loop, brk->cluster_expire_timer);
    brk->cluster_expire_timer = 0;
    if (brk->loop && brk->elect_unclean_timer)
        net_timer_cancel(brk->loop, brk->elect_unclean_timer);
    if (brk->loop && brk->elect_preferred_timer)
        net_timer_cancel(brk->loop, brk->elect_preferred_timer);
    brk->elect_unclean_timer = brk->elect_preferred_timer = 0;
    ctl_cluster_free(brk->cluster_ctl);
    brk->cluster_ctl = NULL;
}
