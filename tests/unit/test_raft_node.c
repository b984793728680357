/* src/raft/raft_node: three quorum members in one process, each with its
 * own loop, log manager (a data dir under the test's tmpdir), quorum-state
 * file and a controller listener on 127.0.0.1 (port 0) that answers
 * ApiVersions and hands the raft RPCs to its member, over real sockets and
 * the real net client. They elect one leader; a proposal commits on all
 * three (the same records at the same offsets, read back from each log);
 * the leader is killed (no clean shutdown) and the two others elect a new
 * leader in a later epoch and commit through it; the old one restarts from
 * its quorum-state and log, follows, and catches up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/image.h"
#include "controller/controller.h"
#include "controller/records.h"
#include "core/util.h"
#include "core/uuid.h"
#include "log/flush.h"
#include "log/log.h"
#include "net/client.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "raft/raft_node.h"
#include "test.h"

#define N 3
#define CID "raftnodetestclusterAAA"

typedef struct member {
    int id;
    char dir[512];
    net_loop *loop;
    log_manager *mgr;
    log_partition *part;
    net_listener *lis;
    int port;
    raft_node *rn;
    rng g;
    bool up;
    cl_image *img; /* with_ctl: a controller over the quorum */
    ctl_controller *ctl;
} member;

static bool with_ctl;

static member ms[N];
static raft_endpoint eps[N];

static void flush_hook(net_loop *loop, void *ctx) {
    member *m = ctx;
    if (!m->mgr)
        return;
    net_loop_flush_done(loop, log_manager_flush_reap(m->mgr));
    if (log_manager_flush_pending(m->mgr))
        net_loop_flush_begun(loop, log_manager_flush_begin(m->mgr));
}

static void flush_wake(void *ctx) {
    net_loop_wake(ctx);
}

typedef struct reply_ctx {
    net_slot *slot;
    int16_t key, ver;
    int32_t corr;
} reply_ctx;

static void reply(void *ctx, const buf *body) {
    reply_ctx *x = ctx;
    net_chain out;
    net_chain_init(&out);
    if (body) {
        buf *h = net_chain_mem(&out);
        buf_put_be32(h, 0);
        proto_response_header_encode(h, x->key, x->ver, x->corr);
        buf_put(h, body->data, body->len);
        sl_store_be32(h->data, (uint32_t)(h->len - 4));
    }
    net_slot_fill(x->slot, &out, false);
    free(x);
}

/* ApiVersions (the client's first request) and the raft RPCs. */
static bool on_frame(net_conn *conn, const uint8_t *frame, size_t len) {
    member *m = net_conn_ctx(conn);
    arena a;
    arena_init(&a, 4096);
    rd r;
    rd_init(&r, frame, len);
    proto_request_header h;
    if (proto_request_header_decode(&r, &a, &h) != PROTO_OK) {
        arena_free(&a);
        return false;
    }
    reply_ctx *x = xmalloc(sizeof *x);
    *x = (reply_ctx){net_conn_reserve(conn), h.api_key, h.api_version,
                     h.correlation_id};
    bool ok = true;
    if (h.api_key == PROTO_API_API_VERSIONS) {
        static const int16_t keys[] = {PROTO_API_API_VERSIONS,
                                       PROTO_API_VOTE,
                                       PROTO_API_BEGIN_QUORUM_EPOCH,
                                       PROTO_API_END_QUORUM_EPOCH,
                                       PROTO_API_FETCH,
                                       PROTO_API_FETCH_SNAPSHOT};
        proto_api_versions_response rs;
        proto_api_versions_response_init(&rs);
        proto_api_versions_response_api_version v[6];
        for (int i = 0; i < 6; i++) {
            proto_api_versions_response_api_version_init(&v[i]);
            v[i].api_key = keys[i];
            v[i].min_version = proto_api(keys[i])->min_version;
            v[i].max_version = proto_api(keys[i])->max_version;
        }
        rs.api_keys.n = 6;
        rs.api_keys.v = v;
        buf b;
        buf_init(&b, 128);
        proto_api_versions_response_encode(&b, h.api_version, &rs);
        reply(x, &b);
        buf_free(&b);
    } else if (!m->rn || raft_node_request(m->rn, h.api_key, h.api_version, r.p,
                                           rd_left(&r), reply, x) < 0) {
        reply(x, NULL);
        ok = false;
    }
    arena_free(&a);
    return ok;
}

static void listen_member(member *m) {
    m->loop = net_loop_new();
    net_endpoint ep;
    char err[256];
    CHECK_EQ(net_parse_listeners("CONTROLLER://127.0.0.1:0", &ep, 1, err,
                                 sizeof err),
             1);
    if (m->port)
        ep.port = m->port; /* a restart keeps its address */
    net_listen_opts lo = {.ep = &ep,
                          .max_request_bytes = 100 << 20,
                          .on_frame = on_frame,
                          .ctx = m};
    m->lis = net_listen(m->loop, &lo, err, sizeof err);
    CHECK(m->lis != NULL);
    if (m->lis)
        m->port = net_listener_port(m->lis);
}

static void start_member(member *m) {
    const char *dirs[] = {m->dir};
    log_config def;
    log_config_default(&def);
    log_manager_opts o = {.log_dirs = dirs,
                          .n_log_dirs = 1,
                          .io = &log_io_posix,
                          .default_config = &def};
    int16_t e = 0;
    m->mgr = log_manager_open(&o, &e);
    CHECK(m->mgr != NULL);
    log_manager_set_flush_notify(m->mgr, flush_wake, m->loop);
    m->part = log_get(m->mgr, RAFT_METADATA_TOPIC, 0);
    if (!m->part)
        m->part = log_create(m->mgr, RAFT_METADATA_TOPIC, 0,
                             uuid_metadata_topic_id, &def, &e);
    CHECK(m->part != NULL);
    net_loop_add_before_sleep(m->loop, flush_hook, m);
    raft_node_opts ro;
    memset(&ro, 0, sizeof ro);
    raft_config_defaults(&ro.cfg);
    ro.cfg.self.id = m->id;
    strcpy(ro.cfg.cluster_id, CID);
    ro.cfg.voters.n = N;
    for (int i = 0; i < N; i++)
        ro.cfg.voters.v[i].id = i + 1;
    ro.cfg.election_timeout_ms = 300;
    ro.cfg.fetch_timeout_ms = 600;
    ro.cfg.election_backoff_max_ms = 300;
    ro.cfg.request_timeout_ms = 500;
    ro.cfg.fetch_max_wait_ms = 100;
    ro.endpoints = eps;
    ro.n_endpoints = N;
    ro.loop = m->loop;
    ro.mgr = m->mgr;
    ro.part = m->part;
    ro.io = &log_io_posix;
    ro.dir = log_path(m->part);
    rng_seed(&m->g, test_seed() + (uint64_t)m->id);
    ro.rng = &m->g;
    char err[512];
    m->rn = raft_node_new(&ro, err, sizeof err);
    if (!m->rn)
        test_fail(__FILE__, __LINE__, "raft_node_new: %s", err);
    m->up = m->rn != NULL;
    if (with_ctl && m->rn) {
        m->img = cl_image_new();
        m->ctl = ctl_new(m->img, ctl_quorum_log_new(m->rn, m->img, NULL));
        ctl_attach_loop(m->ctl, m->loop);
    }
}

static void drop_ctl(member *m) {
    if (m->ctl)
        ctl_free(m->ctl);
    m->ctl = NULL;
    if (m->img)
        cl_image_free(m->img);
    m->img = NULL;
}

/* kill -9: nothing more is written; memory released. */
static void kill_member(member *m) {
    drop_ctl(m);
    raft_node_free(m->rn);
    m->rn = NULL;
    log_manager_abandon(m->mgr);
    m->mgr = NULL;
    net_loop_free(m->loop);
    m->loop = NULL;
    m->up = false;
}

static void stop_member(member *m) {
    drop_ctl(m);
    raft_node_free(m->rn);
    m->rn = NULL;
    log_manager_close(m->mgr);
    m->mgr = NULL;
    net_loop_free(m->loop);
    m->loop = NULL;
    m->up = false;
}

static void pump_once(void) {
    for (int i = 0; i < N; i++)
        if (ms[i].up)
            net_loop_poll(ms[i].loop, 1);
}

/* The leader if the live members agree on one (every live member knows
 * it, in the same epoch), else 0. */
static int agreed_leader(void) {
    int leader = 0, epoch = -1;
    for (int i = 0; i < N; i++) {
        if (!ms[i].up)
            continue;
        raft_info in;
        raft_node_info(ms[i].rn, &in);
        if (in.leader_id < 0)
            return 0;
        if (leader && (in.leader_id != leader || in.epoch != epoch))
            return 0;
        leader = in.leader_id;
        epoch = in.epoch;
    }
    return leader && ms[leader - 1].up ? leader : 0;
}

static int wait_leader(int ms_max) {
    int64_t until = clk_mono_ms() + ms_max;
    while (clk_mono_ms() < until) {
        pump_once();
        int l = agreed_leader();
        if (l)
            return l;
    }
    return 0;
}

typedef struct seen {
    int n;
    char v[16][16];
    int64_t off[16];
} seen;

static void collect(void *arg, const uint8_t *value, size_t len,
                    int64_t offset) {
    seen *s = arg;
    if (s->n < 16 && len < 16) {
        memcpy(s->v[s->n], value, len);
        s->v[s->n][len] = 0;
        s->off[s->n] = offset;
        s->n++;
    }
}

static void read_committed(member *m, seen *s) {
    memset(s, 0, sizeof *s);
    int64_t next;
    char err[256];
    CHECK_EQ(raft_node_committed(m->rn, 0, collect, s, &next, err, sizeof err),
             0);
}

/* Pumps until every live member has committed `want` records. */
static bool wait_committed(int want, int ms_max) {
    int64_t until = clk_mono_ms() + ms_max;
    while (clk_mono_ms() < until) {
        pump_once();
        bool all = true;
        for (int i = 0; i < N && all; i++) {
            if (!ms[i].up)
                continue;
            seen s;
            read_committed(&ms[i], &s);
            all = s.n >= want;
        }
        if (all)
            return true;
    }
    return false;
}

static int16_t propose(int leader, const char *a, const char *b,
                       int64_t *last) {
    buf v[2];
    buf_init(&v[0], 8);
    buf_init(&v[1], 8);
    buf_put(&v[0], a, strlen(a));
    buf_put(&v[1], b, strlen(b));
    int16_t e = raft_node_propose(ms[leader - 1].rn, v, 2, last);
    buf_free(&v[0]);
    buf_free(&v[1]);
    return e;
}

TEST(raft_node_three_members_elect_commit_fail_over_rejoin) {
    with_ctl = false;
    for (int i = 0; i < N; i++) {
        memset(&ms[i], 0, sizeof ms[i]);
        ms[i].id = i + 1;
        snprintf(ms[i].dir, sizeof ms[i].dir, "%s/m%d", test_tmpdir(), i + 1);
        listen_member(&ms[i]);
        eps[i] = (raft_endpoint){i + 1, "CONTROLLER", "127.0.0.1",
                                 (uint16_t)ms[i].port};
    }
    for (int i = 0; i < N; i++)
        start_member(&ms[i]);
    int leader = wait_leader(10000);
    CHECK(leader > 0);
    if (!leader)
        goto out;
    raft_info li;
    raft_node_info(ms[leader - 1].rn, &li);
    CHECK_EQ(li.role, RAFT_LEADER);
    CHECK(li.epoch >= 1);
    /* a follower refuses to propose */
    int64_t last = -1;
    int other = leader % N + 1;
    CHECK_EQ(propose(other, "x", "y", &last), KERR_NOT_LEADER_OR_FOLLOWER);
    CHECK_EQ(propose(leader, "a1", "a2", &last), KERR_NONE);
    CHECK(wait_committed(2, 10000));
    seen s0;
    read_committed(&ms[0], &s0);
    for (int i = 0; i < N; i++) {
        seen s;
        read_committed(&ms[i], &s);
        CHECK_EQ(s.n, 2);
        CHECK_STR(s.v[0], "a1");
        CHECK_STR(s.v[1], "a2");
        CHECK_EQ(s.off[1], last);
        CHECK_EQ(s.off[0], s0.off[0]);
        raft_info in;
        raft_node_info(ms[i].rn, &in);
        CHECK(in.committed > last);
    }
    /* the leader dies; the others elect a new one in a later epoch */
    int old = leader;
    kill_member(&ms[old - 1]);
    leader = wait_leader(10000);
    CHECK(leader > 0 && leader != old);
    if (!leader)
        goto out;
    raft_info ni;
    raft_node_info(ms[leader - 1].rn, &ni);
    CHECK(ni.epoch > li.epoch);
    CHECK_EQ(propose(leader, "b1", "b2", &last), KERR_NONE);
    CHECK(wait_committed(4, 10000));
    /* the old leader restarts from its files, follows and catches up */
    listen_member(&ms[old - 1]);
    start_member(&ms[old - 1]);
    CHECK(wait_committed(4, 10000));
    CHECK_EQ(wait_leader(5000), leader);
    raft_info oi;
    raft_node_info(ms[old - 1].rn, &oi);
    CHECK_EQ(oi.role, RAFT_FOLLOWER);
    CHECK_EQ(oi.epoch, ni.epoch);
    seen s;
    read_committed(&ms[old - 1], &s);
    CHECK_EQ(s.n, 4);
    CHECK_STR(s.v[0], "a1");
    CHECK_STR(s.v[3], "b2");
out:
    for (int i = 0; i < N; i++)
        if (ms[i].up)
            stop_member(&ms[i]);
        else if (ms[i].loop)
            net_loop_free(ms[i].loop);
}

/* ---- a controller over the quorum (controller/quorum_log.c) ----------------
 */

typedef struct done_ctx {
    int n;
    int16_t err;
} done_ctx;

static void on_done(void *arg, int16_t err) {
    done_ctx *d = arg;
    d->n++;
    d->err = err;
}

static void submit_topic(int at, const char *name, uint8_t id0, done_ctx *d) {
    uint8_t id[16] = {id0, 7};
    buf v;
    buf_init(&v, 64);
    ctl_rec_topic(&v, name, id);
    ctl_submit(ms[at - 1].ctl, &v, 1, on_done, d);
    buf_free(&v);
}

/* Pumps until every live member's image has the topic. */
static bool wait_topic(const char *name, int ms_max) {
    int64_t until = clk_mono_ms() + ms_max;
    while (clk_mono_ms() < until) {
        pump_once();
        bool all = true;
        for (int i = 0; i < N && all; i++)
            if (ms[i].up)
                all = cl_topic_find(ms[i].img, name, strlen(name)) != NULL;
        if (all)
            return true;
    }
    return false;
}

TEST(raft_node_controller_submit_commits_on_all_three) {
    with_ctl = true;
    for (int i = 0; i < N; i++) {
        memset(&ms[i], 0, sizeof ms[i]);
        ms[i].id = i + 1;
        snprintf(ms[i].dir, sizeof ms[i].dir, "%s/c%d", test_tmpdir(), i + 1);
        listen_member(&ms[i]);
        eps[i] = (raft_endpoint){i + 1, "CONTROLLER", "127.0.0.1",
                                 (uint16_t)ms[i].port};
    }
    for (int i = 0; i < N; i++)
        start_member(&ms[i]);
    int leader = wait_leader(10000);
    CHECK(leader > 0);
    if (!leader)
        goto out;
    /* a follower is not the controller */
    done_ctx df = {0, 0};
    submit_topic(leader % N + 1, "nope", 1, &df);
    for (int k = 0; k < 50 && !df.n; k++)
        pump_once();
    CHECK_EQ(df.n, 1);
    CHECK_EQ(df.err, KERR_NOT_CONTROLLER);
    /* the leader's submit commits, and every image applies it */
    done_ctx d1 = {0, -1};
    submit_topic(leader, "t1", 2, &d1);
    CHECK(wait_topic("t1", 10000));
    for (int k = 0; k < 50 && !d1.n; k++)
        pump_once();
    CHECK_EQ(d1.n, 1);
    CHECK_EQ(d1.err, KERR_NONE);
    for (int i = 0; i < N; i++) {
        CHECK(cl_topic_find(ms[i].img, "nope", 4) == NULL);
        CHECK(cl_image_offset(ms[i].img) >= 1);
    }
    /* failover: the new leader's controller commits; the old node
     * restarts and its image is rebuilt from the committed log */
    int old = leader;
    kill_member(&ms[old - 1]);
    leader = wait_leader(10000);
    CHECK(leader > 0 && leader != old);
    if (!leader)
        goto out;
    done_ctx d2 = {0, -1};
    submit_topic(leader, "t2", 3, &d2);
    CHECK(wait_topic("t2", 10000));
    listen_member(&ms[old - 1]);
    start_member(&ms[old - 1]);
    CHECK(wait_topic("t2", 10000));
    CHECK(cl_topic_find(ms[old - 1].img, "t1", 2) != NULL);
    CHECK_EQ(cl_topic_count(ms[old - 1].img), 2);
    for (int k = 0; k < 50 && !d2.n; k++)
        pump_once();
    CHECK_EQ(d2.err, KERR_NONE);
out:
    for (int i = 0; i < N; i++)
        if (ms[i].up)
            stop_member(&ms[i]);
        else if (ms[i].loop)
            net_loop_free(ms[i].loop);
    with_ctl = false;
}
