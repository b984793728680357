/* tests/sim/simnet: the simulated network under the real event loop and
 * the real client (net/client.c): a server loop on host "node1" and a
 * client loop on host "client", each in its own env (clock, transport),
 * stepped by a small driver that moves simulated time to the next event. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "../sim/crashfs.h"
#include "../sim/simnet.h"
#include "core/env.h"
#include "core/util.h"
#include "net/client.h"
#include "net/net.h"
#include "proto/gen/messages.h"
#include "test.h"

typedef struct world {
    int64_t now; /* true time, ns */
    simnet *net;
    sl_env srv_env, cli_env;
    int64_t srv_skew_ns;
    net_loop *srv, *cli;
    net_listener *lst;
} world;

static int64_t w_mono_srv(void *ctx) {
    world *w = ctx;
    return w->now + w->srv_skew_ns;
}
static int64_t w_mono_cli(void *ctx) {
    return ((world *)ctx)->now;
}
static int64_t w_wall_srv(void *ctx) {
    return 1700000000000LL + w_mono_srv(ctx) / 1000000;
}
static int64_t w_wall_cli(void *ctx) {
    return 1700000000000LL + w_mono_cli(ctx) / 1000000;
}

/* ---- a server that echoes Metadata topic names ----------------------- */
static int srv_frames;
static bool srv_hang;
static net_slot *srv_hung[16];
static int srv_n_hung;

static void put(net_slot *slot, buf *b) {
    net_chain ch;
    net_chain_init(&ch);
    buf *o = net_chain_mem(&ch);
    buf_put_be32(o, (uint32_t)b->len);
    buf_put(o, b->data, b->len);
    net_slot_fill(slot, &ch, false);
}

static bool srv_frame(net_conn *conn, const uint8_t *frame, size_t len) {
    srv_frames++;
    arena a;
    arena_init(&a, 1024);
    rd r;
    rd_init(&r, frame, len);
    proto_request_header h;
    CHECK_EQ(proto_request_header_decode(&r, &a, &h), PROTO_OK);
    net_slot *slot = net_conn_reserve(conn);
    buf b;
    buf_init(&b, 256);
    if (h.api_key == PROTO_API_API_VERSIONS) {
        proto_api_versions_response rs;
        proto_api_versions_response_init(&rs);
        proto_api_versions_response_api_version k[2];
        proto_api_versions_response_api_version_init(&k[0]);
        proto_api_versions_response_api_version_init(&k[1]);
        k[0].api_key = PROTO_API_API_VERSIONS;
        k[0].max_version = 4;
        k[1].api_key = PROTO_API_METADATA;
        k[1].min_version = 1;
        k[1].max_version = 12;
        rs.api_keys.n = 2;
        rs.api_keys.v = k;
        proto_response_header_encode(&b, h.api_key, h.api_version,
                                     h.correlation_id);
        proto_api_versions_response_encode(&b, h.api_version, &rs);
        put(slot, &b);
    } else if (srv_hang) {
        srv_hung[srv_n_hung++ & 15] = slot;
    } else {
        proto_metadata_request rq;
        CHECK_EQ(proto_metadata_request_decode(&r, &a, h.api_version, &rq),
                 PROTO_OK);
        proto_metadata_response rs;
        proto_metadata_response_init(&rs);
        proto_metadata_response_metadata_response_topic t;
        proto_metadata_response_metadata_response_topic_init(&t);
        t.name = rq.topics.v[0].name;
        rs.topics.n = 1;
        rs.topics.v = &t;
        proto_response_header_encode(&b, h.api_key, h.api_version,
                                     h.correlation_id);
        proto_metadata_response_encode(&b, h.api_version, &rs);
        put(slot, &b);
    }
    buf_free(&b);
    arena_free(&a);
    (void)conn;
    return true;
}

static void world_init(world *w, uint64_t seed) {
    memset(w, 0, sizeof *w);
    w->now = 1000000000;
    w->net = simnet_new(seed, &w->now);
    w->srv_skew_ns = 333000000; /* the server's clock runs 333 ms ahead */
    w->srv_env = (sl_env){.name = "node1",
                          .clock = {w_mono_srv, w_wall_srv, w},
                          .net = simnet_host(w->net, "node1"),
                          .exec = &sl_exec_inline};
    w->cli_env = (sl_env){.name = "client",
                          .clock = {w_mono_cli, w_wall_cli, w},
                          .net = simnet_host(w->net, "client"),
                          .exec = &sl_exec_inline};
    const sl_env *p = sl_env_enter(&w->srv_env);
    w->srv = net_loop_new();
    static net_endpoint ep = {
        .name = "PLAINTEXT", .host = "node1", .port = 9092};
    net_listen_opts o = {
        .ep = &ep, .max_request_bytes = 1 << 20, .on_frame = srv_frame};
    char err[256];
    w->lst = net_listen(w->srv, &o, err, sizeof err);
    CHECK(w->lst != NULL);
    sl_env_enter(&w->cli_env);
    w->cli = net_loop_new();
    sl_env_leave(p);
    srv_frames = 0;
    srv_hang = false;
    srv_n_hung = 0;
}

static void world_free(world *w) {
    for (int i = 0; i < srv_n_hung && i < 16; i++)
        net_slot_fill(srv_hung[i], &(net_chain){0}, false);
    net_loop_free(w->cli);
    net_loop_free(w->srv);
    simnet_stats st;
    simnet_get_stats(w->net, &st);
    CHECK_EQ(st.open_socks, 0); /* every socket closed by its loop */
    simnet_free(w->net);
}

/* One step: both loops run what is ready now; then time jumps to the next
 * event (a delivery or a timer of either loop). */
static bool *stop_when;
static void world_run(world *w, int64_t max_ms) {
    int64_t end = w->now + max_ms * 1000000;
    while (!*stop_when && w->now < end) {
        net_loop_poll(w->srv, 0);
        net_loop_poll(w->cli, 0);
        int64_t next = simnet_next_event_ns(w->net);
        int64_t a = net_loop_timer_due_in_ns(w->srv);
        int64_t b = net_loop_timer_due_in_ns(w->cli);
        int64_t step = SL_MIN(a, b);
        if (next != INT64_MAX)
            step = SL_MIN(step, next - w->now);
        if (step > end - w->now)
            step = end - w->now; /* never past the caller's horizon */
        w->now += step > 0 ? step : 0;
    }
}

/* ---- the client side ------------------------------------------------------
 */
static struct {
    int ups, downs, n;
    int err[64];
    char topic[64][16];
    int64_t at[64];
} cs;
static bool done;
static int want;
static world *cur_world;

static void on_state(net_client *c, bool up, void *ctx) {
    (void)c;
    (void)ctx;
    if (up) {
        cs.ups++;
        if (!want)
            done = true;
    } else {
        cs.downs++;
    }
}

static void on_done(net_client *c, const net_client_result *r, void *ctx) {
    (void)c;
    (void)ctx;
    int i = cs.n++;
    cs.err[i] = r->err;
    cs.at[i] = cur_world->now;
    cs.topic[i][0] = 0;
    if (r->err == NET_CLIENT_OK) {
        const proto_metadata_response *m = r->resp;
        snprintf(cs.topic[i], sizeof cs.topic[i], "%.*s",
                 (int)m->topics.v[0].name.len, m->topics.v[0].name.p);
    }
    if (want && cs.n >= want)
        done = true;
}

static int32_t send_md(net_client *c, const char *topic) {
    proto_metadata_request req;
    proto_metadata_request_init(&req);
    proto_metadata_request_metadata_request_topic t;
    proto_metadata_request_metadata_request_topic_init(&t);
    t.name = proto_str_c(topic);
    req.topics.n = 1;
    req.topics.v = &t;
    return net_client_send(c, PROTO_API_METADATA, -1, &req, on_done, NULL);
}

static net_client *connect_client(world *w, const char *host, int64_t rto) {
    memset(&cs, 0, sizeof cs);
    cur_world = w;
    net_client_opts o = {.host = host,
                         .port = 9092,
                         .request_timeout_ms = rto,
                         .reconnect_backoff_ms = 10,
                         .reconnect_backoff_max_ms = 40,
                         .on_state = on_state};
    const sl_env *p = sl_env_enter(&w->cli_env);
    net_client *c = net_client_new(w->cli, &o);
    sl_env_leave(p);
    return c;
}

static void wait_for(world *w, int n, int64_t max_ms) {
    want = n;
    done = false;
    stop_when = &done;
    world_run(w, max_ms);
}

/* A run: connect, 20 pipelined requests, answers in order; returns the
 * completion times, so two runs can be compared. */
static int64_t pipelined_run(uint64_t seed, int64_t *sum_at) {
    world w;
    world_init(&w, seed);
    simnet_set_delay(w.net, 50000, 5000000); /* 0.05 .. 5 ms */
    net_client *c = connect_client(&w, "node1", 30000);
    wait_for(&w, 0, 10000);
    CHECK(net_client_ready(c));
    char name[16];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "t%d", i);
        CHECK(send_md(c, name) > 0);
    }
    wait_for(&w, 20, 10000);
    CHECK_EQ(cs.n, 20);
    *sum_at = 0;
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "t%d", i);
        CHECK_EQ(cs.err[i], NET_CLIENT_OK);
        CHECK_STR(cs.topic[i], name);
        if (i)
            CHECK(cs.at[i] >= cs.at[i - 1]);
        *sum_at += cs.at[i];
    }
    int64_t end = w.now;
    net_client_free(c);
    world_free(&w);
    return end;
}

TEST(simnet_client_reaches_a_node_in_order_and_replays_from_its_seed) {
    uint64_t seed = test_seed();
    int64_t s1, s2, s3;
    int64_t e1 = pipelined_run(seed, &s1);
    int64_t e2 = pipelined_run(seed, &s2);
    CHECK_EQ(e1, e2); /* the same seed: the same times, to the ns */
    CHECK_EQ(s1, s2);
    pipelined_run(seed + 1, &s3);
    CHECK(s3 != s1); /* another seed: other delays */
}

TEST(simnet_partition_holds_traffic_client_times_out_then_heals) {
    world w;
    world_init(&w, test_seed());
    net_client *c = connect_client(&w, "node1", 500);
    wait_for(&w, 0, 10000);
    CHECK(net_client_ready(c));
    simnet_partition(w.net, "client", "node1");
    int before = srv_frames;
    CHECK(send_md(c, "held") > 0);
    wait_for(&w, 1, 10000);
    CHECK_EQ(cs.n, 1);
    CHECK_EQ(cs.err[0], NET_CLIENT_ERR_TIMEOUT);
    CHECK_EQ(srv_frames, before); /* nothing crossed the partition */
    CHECK(!net_client_ready(c));
    /* Reconnects fail while the partition lasts (connect timeout). */
    simnet_heal_all(w.net);
    int ups = cs.ups;
    want = 0;
    done = false;
    while (cs.ups == ups && !done)
        wait_for(&w, 0, 30000);
    CHECK(net_client_ready(c));
    CHECK(send_md(c, "after") > 0);
    wait_for(&w, 2, 10000);
    CHECK_EQ(cs.err[1], NET_CLIENT_OK);
    CHECK_STR(cs.topic[1], "after");
    net_client_free(c);
    world_free(&w);
}

TEST(simnet_drops_reset_connections_requests_complete_once) {
    world w;
    world_init(&w, test_seed());
    net_client *c = connect_client(&w, "node1", 30000);
    wait_for(&w, 0, 10000);
    CHECK(net_client_ready(c));
    simnet_set_drop(w.net, 1000000); /* every write resets */
    CHECK(send_md(c, "a") > 0);
    CHECK(send_md(c, "b") > 0);
    wait_for(&w, 2, 10000);
    CHECK_EQ(cs.n, 2);
    CHECK_EQ(cs.err[0], NET_CLIENT_ERR_DISCONNECTED);
    CHECK_EQ(cs.err[1], NET_CLIENT_ERR_DISCONNECTED);
    simnet_set_drop(w.net, 0);
    int ups = cs.ups;
    while (cs.ups == ups)
        wait_for(&w, 0, 10000);
    CHECK(send_md(c, "c") > 0);
    wait_for(&w, 3, 10000);
    CHECK_EQ(cs.err[2], NET_CLIENT_OK);
    simnet_stats st;
    simnet_get_stats(w.net, &st);
    CHECK(st.drops >= 1);
    net_client_free(c);
    world_free(&w);
}

TEST(simnet_refused_unknown_host_and_crashed_host) {
    world w;
    world_init(&w, test_seed());
    net_client *c = connect_client(&w, "nowhere", 30000);
    wait_for(&w, 0, 100);
    CHECK(!net_client_ready(c));
    CHECK(cs.downs >= 2);
    CHECK(strstr(net_client_last_error(c), "refused") != NULL);
    net_client_free(c);

    c = connect_client(&w, "node1", 30000);
    wait_for(&w, 0, 10000);
    CHECK(net_client_ready(c));
    srv_hang = true;
    CHECK(send_md(c, "x") > 0);
    wait_for(&w, 0, 20); /* reaches the server, hangs there */
    CHECK_EQ(cs.n, 0);
    simnet_host_crash(w.net, "node1");
    wait_for(&w, 1, 10000);
    CHECK_EQ(cs.err[0], NET_CLIENT_ERR_DISCONNECTED);
    /* node1's listener is gone with the crash: refused from now on */
    wait_for(&w, 0, 200);
    CHECK(!net_client_ready(c));
    CHECK(strstr(net_client_last_error(c), "refused") != NULL);
    net_client_free(c);
    world_free(&w);
}

/* A response chain holding a crashfs file range reaches the client: the
 * chunk sends through the env's file system (the fetch path under the
 * simulator). */
static const char *file_payload = "0123456789abcdefghijklmnopqrstuvwxyz";
static int file_fd = -1;
static bool file_frame(net_conn *conn, const uint8_t *frame, size_t len) {
    (void)frame;
    (void)len;
    net_slot *slot = net_conn_reserve(conn);
    net_chain ch;
    net_chain_init(&ch);
    buf_put_be32(net_chain_mem(&ch), 26);
    CHECK(net_chain_file(&ch, file_fd, 10, 26)); /* dups through crashfs */
    net_slot_fill(slot, &ch, false);
    return true;
}

static void raw_ready(void *owner, uint32_t ev) {
    (void)owner;
    (void)ev;
}

TEST(simnet_sends_file_ranges_of_the_env_file_system) {
    world w;
    world_init(&w, test_seed());
    crashfs *fs = crashfs_new();
    const log_io *io = crashfs_io(fs);
    w.srv_env.fs = io;
    int fd = io->open(io->ctx, "/f", O_CREAT | O_RDWR, 0644);
    CHECK(fd >= 0);
    CHECK(io->pwrite(io->ctx, fd, file_payload, strlen(file_payload), 0) ==
          (ssize_t)strlen(file_payload));
    file_fd = fd;
    static net_endpoint ep = {.name = "F", .host = "node1", .port = 9093};
    net_listen_opts o = {
        .ep = &ep, .max_request_bytes = 1 << 20, .on_frame = file_frame};
    char err[128];
    const sl_env *p = sl_env_enter(&w.srv_env);
    CHECK(net_listen(w.srv, &o, err, sizeof err) != NULL);
    sl_env_leave(p);
    /* a raw stream from the client host: one empty frame, read 30 bytes */
    p = sl_env_enter(&w.cli_env);
    void *s = net_client_loop_transport.open(&net_client_loop_transport, w.cli,
                                             "node1", 9093, raw_ready, NULL,
                                             err, sizeof err);
    sl_env_leave(p);
    CHECK(s != NULL);
    bool never = false;
    stop_when = &never;
    world_run(&w, 50);
    CHECK_EQ(net_client_loop_transport.connect_result(s), 0);
    uint8_t req[4] = {0, 0, 0, 0};
    CHECK_EQ(net_client_loop_transport.write(s, req, 4), 4);
    world_run(&w, 50);
    uint8_t got[64];
    ssize_t n = net_client_loop_transport.read(s, got, sizeof got);
    CHECK_EQ(n, 30);
    CHECK(n == 30 && !memcmp(got + 4, file_payload + 10, 26));
    net_client_loop_transport.close(s);
    world_free(&w);
    io->close(io->ctx, fd);
    CHECK_EQ(crashfs_open_fds(fs), 0); /* the chunk's dup closed via crashfs */
    crashfs_free(fs);
}
