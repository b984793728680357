/* Unit tests: the non-blocking Kafka client (net/client.h) against a tiny
 * Kafka server on the same loop over loopback. The server answers
 * ApiVersions and Metadata with the generated codecs; the requested topic
 * name steers misbehaviour ("hang", "close", "garbage", "badcorr",
 * "trunc"). Metadata answers echo the topic name, which proves each
 * response reached the request it belongs to. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/util.h"
#include "net/client.h"
#include "net/net.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "test.h"

/* ---- test server ----------------------------------------------------------
 */
static struct {
    int16_t metadata_max;   /* advertised Metadata max version */
    bool old_api_versions;  /* refuse ApiVersions > 2 like an old broker */
    int16_t seen_av_ver[8]; /* ApiVersions versions received */
    int n_av;
    int16_t last_md_ver; /* Metadata version last received */
    net_slot *hung[8];
    int n_hung;
} srv;

static void put_frame(net_slot *slot, buf *body) {
    net_chain ch;
    net_chain_init(&ch);
    buf *b = net_chain_mem(&ch);
    buf_put_be32(b, (uint32_t)body->len);
    buf_put(b, body->data, body->len);
    net_slot_fill(slot, &ch, false);
}

static void answer_api_versions(net_slot *slot, const proto_request_header *h) {
    srv.seen_av_ver[srv.n_av++ & 7] = h->api_version;
    buf b;
    buf_init(&b, 256);
    proto_api_versions_response r;
    proto_api_versions_response_init(&r);
    proto_api_versions_response_api_version keys[2];
    proto_api_versions_response_api_version_init(&keys[0]);
    proto_api_versions_response_api_version_init(&keys[1]);
    keys[0].api_key = PROTO_API_API_VERSIONS;
    keys[0].min_version = 0;
    keys[0].max_version = srv.old_api_versions ? 2 : 4;
    keys[1].api_key = PROTO_API_METADATA;
    keys[1].min_version = 1;
    keys[1].max_version = srv.metadata_max;
    r.api_keys.n = 2;
    r.api_keys.v = keys;
    int16_t ver = h->api_version;
    if (srv.old_api_versions && ver > 2) {
        r.error_code = KERR_UNSUPPORTED_VERSION;
        r.api_keys.n = 1;
        ver = 0;
    }
    proto_response_header_encode(&b, PROTO_API_API_VERSIONS, ver,
                                 h->correlation_id);
    proto_api_versions_response_encode(&b, ver, &r);
    put_frame(slot, &b);
    buf_free(&b);
}

static void answer_metadata(net_conn *conn, net_slot *slot,
                            const proto_request_header *h, rd *r) {
    srv.last_md_ver = h->api_version;
    arena a;
    arena_init(&a, 4096);
    proto_metadata_request req;
    CHECK_EQ(proto_metadata_request_decode(r, &a, h->api_version, &req),
             PROTO_OK);
    CHECK_EQ(req.topics.n, 1);
    proto_str name = req.topics.v[0].name;
    buf b;
    buf_init(&b, 256);
    int32_t corr = h->correlation_id;
    if (proto_str_eq(name, "hang")) {
        srv.hung[srv.n_hung++] = slot;
        goto out;
    }
    if (proto_str_eq(name, "close")) {
        net_slot_fill(slot, &(net_chain){0}, false);
        net_conn_close_after_write(conn);
        goto out;
    }
    if (proto_str_eq(name, "garbage")) {
        buf_put_be32(&b, 0x7ffffff0u); /* an oversized size prefix */
        buf_put_be32(&b, (uint32_t)corr);
        net_chain ch;
        net_chain_init(&ch);
        buf_put(net_chain_mem(&ch), b.data, b.len);
        net_slot_fill(slot, &ch, false);
        goto out;
    }
    if (proto_str_eq(name, "badcorr"))
        corr += 1000;
    proto_response_header_encode(&b, PROTO_API_METADATA, h->api_version, corr);
    proto_metadata_response resp;
    proto_metadata_response_init(&resp);
    proto_metadata_response_metadata_response_topic t;
    proto_metadata_response_metadata_response_topic_init(&t);
    t.name = name;
    resp.topics.n = 1;
    resp.topics.v = &t;
    proto_metadata_response_encode(&b, h->api_version, &resp);
    if (proto_str_eq(name, "trunc"))
        b.len -= 3;
    put_frame(slot, &b);
out:
    buf_free(&b);
    arena_free(&a);
}

static bool srv_frame(net_conn *conn, const uint8_t *frame, size_t len) {
    arena a;
    arena_init(&a, 1024);
    rd r;
    rd_init(&r, frame, len);
    proto_request_header h;
    int rc = proto_request_header_decode(&r, &a, &h);
    net_slot *slot = net_conn_reserve(conn);
    if (rc == PROTO_OK && h.api_key == PROTO_API_API_VERSIONS)
        answer_api_versions(slot, &h);
    else if (rc == PROTO_OK && h.api_key == PROTO_API_METADATA)
        answer_metadata(conn, slot, &h, &r);
    else
        net_slot_fill(slot, &(net_chain){0}, false);
    arena_free(&a);
    return true;
}

static net_listener *srv_start(net_loop *loop) {
    memset(&srv, 0, sizeof srv);
    srv.metadata_max = 12;
    static net_endpoint ep = {.name = "PLAINTEXT", .host = "127.0.0.1"};
    net_listen_opts o = {
        .ep = &ep, .max_request_bytes = 1 << 20, .on_frame = srv_frame};
    char err[256];
    net_listener *l = net_listen(loop, &o, err, sizeof err);
    CHECK(l != NULL);
    return l;
}

/* Hung slots are filled empty at the end so nothing leaks. */
static void srv_release_hung(void) {
    for (int i = 0; i < srv.n_hung; i++)
        net_slot_fill(srv.hung[i], &(net_chain){0}, false);
    srv.n_hung = 0;
}

/* ---- client side ----------------------------------------------------------
 */
#define MAXR 32
static struct {
    int ups, downs;
    int n;         /* completions */
    int err[MAXR]; /* by completion order */
    char topic[MAXR][16];
    int32_t corr[MAXR];
    int calls[MAXR]; /* completions per tag (exactly once) */
    int stop_after;  /* stop the loop after this many completions */
    int stop_after_ups;
} cs;

static bool stop_flag;
static void on_state(net_client *c, bool up, void *ctx) {
    (void)c;
    (void)ctx;
    if (up) {
        cs.ups++;
        if (cs.stop_after_ups && cs.ups >= cs.stop_after_ups)
            stop_flag = true;
    } else {
        cs.downs++;
    }
}

static void on_done(net_client *c, const net_client_result *r, void *ctx) {
    (void)c;
    int tag = (int)(intptr_t)ctx;
    cs.calls[tag]++;
    int i = cs.n++;
    cs.err[i] = r->err;
    cs.corr[i] = r->correlation_id;
    cs.topic[i][0] = 0;
    if (r->err == NET_CLIENT_OK) {
        CHECK_EQ(r->api_key, PROTO_API_METADATA);
        const proto_metadata_response *m = r->resp;
        if (m->topics.n == 1 && m->topics.v[0].name.len > 0)
            snprintf(cs.topic[i], sizeof cs.topic[i], "%.*s",
                     (int)m->topics.v[0].name.len, m->topics.v[0].name.p);
    }
    if (cs.stop_after && cs.n >= cs.stop_after)
        stop_flag = true;
}

static int32_t send_md(net_client *c, const char *topic, int tag) {
    proto_metadata_request req;
    proto_metadata_request_init(&req);
    proto_metadata_request_metadata_request_topic t;
    proto_metadata_request_metadata_request_topic_init(&t);
    t.name = proto_str_c(topic);
    req.topics.n = 1;
    req.topics.v = &t;
    return net_client_send(c, PROTO_API_METADATA, -1, &req, on_done,
                           (void *)(intptr_t)tag);
}

static net_client *client_for(net_loop *loop, int port, int max_in_flight,
                              int64_t req_timeout) {
    memset(&cs, 0, sizeof cs);
    net_client_opts o = {.host = "127.0.0.1",
                         .port = port,
                         .max_in_flight = max_in_flight,
                         .request_timeout_ms = req_timeout,
                         .reconnect_backoff_ms = 10,
                         .reconnect_backoff_max_ms = 40,
                         .on_state = on_state,
                         .ctx = loop};
    return net_client_new(loop, &o);
}

/* Runs the loop until the stop condition or a safety timeout. */
static void run(net_loop *loop, int64_t max_ms) {
    stop_flag = false;
    int64_t end = clk_mono_ms() + max_ms;
    while (!stop_flag && clk_mono_ms() < end)
        net_loop_poll(loop, 10);
}

TEST(net_client_negotiates_and_pipelines_with_in_flight_cap) {
    net_loop *loop = net_loop_new();
    net_listener *l = srv_start(loop);
    srv.metadata_max = 5;
    net_client *c = client_for(loop, net_listener_port(l), 3, 5000);
    CHECK_EQ(send_md(c, "early", 0), NET_CLIENT_ERR_NOT_READY);
    cs.stop_after_ups = 1;
    run(loop, 5000);
    CHECK(net_client_ready(c));
    CHECK_EQ(srv.n_av, 1);
    CHECK_EQ(srv.seen_av_ver[0],
             proto_api_max_stable(proto_api(PROTO_API_API_VERSIONS)));
    int16_t lo, hi;
    CHECK(net_client_versions(c, PROTO_API_METADATA, &lo, &hi));
    CHECK_EQ(lo, 1);
    CHECK_EQ(hi, 5); /* min(ours 12+, theirs 5) */
    CHECK(!net_client_versions(c, PROTO_API_PRODUCE, &lo, &hi));

    char name[16];
    int32_t corr[10];
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "t%d", i);
        corr[i] = send_md(c, name, i);
        CHECK(corr[i] > 0);
    }
    CHECK_EQ(net_client_in_flight(c), 3);
    CHECK_EQ(net_client_queued(c), 7);
    CHECK_EQ(cs.n, 0); /* never completed inside send */
    cs.stop_after = 10;
    run(loop, 5000);
    CHECK_EQ(cs.n, 10);
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "t%d", i);
        CHECK_EQ(cs.err[i], NET_CLIENT_OK);
        CHECK_STR(cs.topic[i], name);
        CHECK_EQ(cs.corr[i], corr[i]);
        CHECK_EQ(cs.calls[i], 1);
    }
    CHECK_EQ(srv.last_md_ver, 5);
    CHECK_EQ(net_client_in_flight(c), 0);
    /* a version cap below the negotiated minimum is refused at once */
    proto_metadata_request req;
    proto_metadata_request_init(&req);
    CHECK_EQ(net_client_send(c, PROTO_API_METADATA, 0, &req, on_done, NULL),
             NET_CLIENT_ERR_UNSUPPORTED);
    CHECK_EQ(net_client_send(c, 999, -1, &req, on_done, NULL),
             NET_CLIENT_ERR_UNKNOWN_API);
    net_client_free(c);
    net_loop_free(loop);
}

TEST(net_client_api_versions_falls_back_for_an_old_broker) {
    net_loop *loop = net_loop_new();
    net_listener *l = srv_start(loop);
    srv.old_api_versions = true;
    net_client *c = client_for(loop, net_listener_port(l), 5, 5000);
    cs.stop_after_ups = 1;
    run(loop, 5000);
    CHECK(net_client_ready(c));
    CHECK_EQ(srv.n_av, 2);
    CHECK_EQ(srv.seen_av_ver[1], 2);
    net_client_free(c);
    net_loop_free(loop);
}

TEST(net_client_timeout_fails_all_in_flight_once_then_reconnects) {
    net_loop *loop = net_loop_new();
    net_listener *l = srv_start(loop);
    net_client *c = client_for(loop, net_listener_port(l), 5, 150);
    cs.stop_after_ups = 1;
    run(loop, 5000);
    CHECK(net_client_ready(c));
    CHECK(send_md(c, "hang", 0) > 0);
    CHECK(send_md(c, "after", 1) > 0); /* queued behind hang on the wire */
    cs.stop_after = 2;
    run(loop, 5000);
    CHECK_EQ(cs.n, 2);
    CHECK_EQ(cs.err[0], NET_CLIENT_ERR_TIMEOUT);
    CHECK_EQ(cs.err[1], NET_CLIENT_ERR_DISCONNECTED);
    CHECK_EQ(cs.calls[0], 1);
    CHECK_EQ(cs.calls[1], 1);
    CHECK(strstr(net_client_last_error(c), "timed out") != NULL);
    CHECK_EQ(cs.downs, 1);
    /* reconnect after the backoff, and work again */
    cs.stop_after = 0;
    cs.stop_after_ups = 2;
    run(loop, 5000);
    CHECK_EQ(cs.ups, 2);
    CHECK(send_md(c, "again", 2) > 0);
    cs.stop_after = 3;
    run(loop, 5000);
    CHECK_EQ(cs.err[2], NET_CLIENT_OK);
    CHECK_STR(cs.topic[2], "again");
    net_client_free(c);
    srv_release_hung();
    net_loop_free(loop);
}

TEST(net_client_disconnect_mid_flight_completes_each_request_once) {
    net_loop *loop = net_loop_new();
    net_listener *l = srv_start(loop);
    net_client *c = client_for(loop, net_listener_port(l), 5, 5000);
    cs.stop_after_ups = 1;
    run(loop, 5000);
    CHECK(send_md(c, "first", 0) > 0);
    CHECK(send_md(c, "close", 1) > 0);
    CHECK(send_md(c, "third", 2) > 0);
    cs.stop_after = 3;
    run(loop, 5000);
    CHECK_EQ(cs.n, 3);
    CHECK_EQ(cs.err[0], NET_CLIENT_OK);
    CHECK_STR(cs.topic[0], "first");
    CHECK_EQ(cs.err[1], NET_CLIENT_ERR_DISCONNECTED);
    CHECK_EQ(cs.err[2], NET_CLIENT_ERR_DISCONNECTED);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cs.calls[i], 1);
    CHECK(!net_client_ready(c));
    CHECK_EQ(send_md(c, "x", 3), NET_CLIENT_ERR_NOT_READY);
    net_client_free(c);
    net_loop_free(loop);
}

/* Each bad answer closes the connection, fails the request with
 * MALFORMED (the ones behind it with DISCONNECTED) and the client
 * recovers. */
static void check_malformed(const char *topic) {
    net_loop *loop = net_loop_new();
    net_listener *l = srv_start(loop);
    net_client *c = client_for(loop, net_listener_port(l), 5, 5000);
    cs.stop_after_ups = 1;
    run(loop, 5000);
    CHECK(send_md(c, topic, 0) > 0);
    CHECK(send_md(c, "behind", 1) > 0);
    cs.stop_after = 2;
    run(loop, 5000);
    CHECK_EQ(cs.n, 2);
    CHECK_EQ(cs.err[0], NET_CLIENT_ERR_MALFORMED);
    CHECK_EQ(cs.err[1], NET_CLIENT_ERR_DISCONNECTED);
    CHECK_EQ(cs.calls[0], 1);
    CHECK_EQ(cs.calls[1], 1);
    CHECK(net_client_last_error(c)[0] != 0);
    cs.stop_after = 0;
    cs.stop_after_ups = 2;
    run(loop, 5000);
    CHECK(net_client_ready(c));
    net_client_free(c);
    net_loop_free(loop);
}

TEST(net_client_malformed_responses_close_and_fail_the_request) {
    check_malformed("garbage"); /* oversized size prefix */
    check_malformed("badcorr"); /* unknown correlation id */
    check_malformed("trunc");   /* body ends inside a field */
}

TEST(net_client_free_completes_pending_with_closed) {
    net_loop *loop = net_loop_new();
    net_listener *l = srv_start(loop);
    net_client *c = client_for(loop, net_listener_port(l), 1, 5000);
    cs.stop_after_ups = 1;
    run(loop, 5000);
    CHECK(send_md(c, "hang", 0) > 0);
    CHECK(send_md(c, "queued", 1) > 0);
    CHECK_EQ(net_client_queued(c), 1);
    run(loop, 50); /* let the first reach the server */
    net_client_free(c);
    CHECK_EQ(cs.n, 2);
    CHECK_EQ(cs.err[0], NET_CLIENT_ERR_CLOSED);
    CHECK_EQ(cs.err[1], NET_CLIENT_ERR_CLOSED);
    srv_release_hung();
    net_loop_free(loop);
}

TEST(net_client_connect_refused_reports_down_and_retries) {
    net_loop *loop = net_loop_new();
    net_listener *l = srv_start(loop);
    int port = net_listener_port(l);
    net_listener_close(l); /* nothing listens there any more */
    net_client *c = client_for(loop, port, 5, 5000);
    run(loop, 200);
    CHECK(!net_client_ready(c));
    CHECK(cs.downs >= 2); /* first attempt and at least one retry */
    CHECK(strstr(net_client_last_error(c), "refused") != NULL);
    net_client_free(c);
    net_loop_free(loop);
}
