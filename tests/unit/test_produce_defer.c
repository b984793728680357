/* Produce and Fetch waiting in the replica manager's purgatory, over the
 * wire on one in-process node. The partition's ISR is widened by hand to
 * {1, 2} (node 2 does not exist: its log end offset moves only when the
 * test says it fetched), so the high watermark stops at what "node 2" has:
 *  - an acks=all Produce is deferred and answered once the HW covers its
 *    batch, with its topic name intact (the response owns its names: the
 *    request frame is long gone), or REQUEST_TIMED_OUT after timeout_ms;
 *  - a long-poll Fetch at the HW wakes when the HW moves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "broker/node.h"
#include "core/buf.h"
#include "core/util.h"
#include "log/batch.h"
#include "net/client.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "replica/replica.h"
#include "test.h"
#include "../sim/wire_req.h"

#define TOPIC "defer-topic"

typedef struct pd_world {
    brk_node *node;
    net_loop *cli;
    net_client *cl[2]; /* producer, fetcher */
    int done, produced, fetched;
    int16_t create_err;
    int16_t produce_err;
    int64_t base_offset;
    char produce_topic[64];
    int16_t fetch_err;
    int64_t fetch_hw;
    int32_t fetch_bytes;
} pd_world;

static brk_node *pd_make_node(void) {
    char a_dirs[512];
    snprintf(a_dirs, sizeof a_dirs, "log.dirs=%s/n1", test_tmpdir());
    char *argv[] = {"server",
                    "--override",
                    "node.id=1",
                    "--override",
                    a_dirs,
                    "--override",
                    "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://"
                    "127.0.0.1:0",
                    NULL};
    char *envp[] = {NULL};
    brk_config cfg;
    char err[1024];
    if (brk_load_config(&cfg, 7, argv, envp, err, sizeof err) < 0) {
        test_fail(__FILE__, __LINE__, "config: %s", err);
        brk_config_free(&cfg);
        return NULL;
    }
    brk_node *n = brk_node_new(&cfg, NULL);
    brk_config_free(&cfg);
    return n;
}

/* Runs the node and the client until *counter reaches want or the passes
 * run out; passes bound how long "not answered" is watched. */
static bool pd_pump(pd_world *w, int *counter, int want, int passes) {
    for (int pass = 0; pass < passes && *counter < want; pass++) {
        brk_node_poll(w->node, 0);
        net_loop_poll(w->cli, 1);
    }
    return *counter >= want;
}

static void pd_on_state(net_client *c, bool up, void *ctx) {
    SL_UNUSED(c);
    if (up)
        ((pd_world *)ctx)->done++;
}

static void pd_on_created(net_client *c, const net_client_result *r,
                          void *ctx) {
    SL_UNUSED(c);
    pd_world *w = ctx;
    w->create_err = -1;
    if (r->err == NET_CLIENT_OK) {
        const proto_create_topics_response *rs = r->resp;
        if (rs->topics.n == 1)
            w->create_err = rs->topics.v[0].error_code;
    }
    w->done++;
}

static void pd_on_produced(net_client *c, const net_client_result *r,
                           void *ctx) {
    SL_UNUSED(c);
    pd_world *w = ctx;
    w->produce_err = -1;
    w->produce_topic[0] = 0;
    if (r->err == NET_CLIENT_OK) {
        const proto_produce_response *rs = r->resp;
        if (rs->responses.n == 1 && rs->responses.v[0].partition_responses.n) {
            w->produce_err =
                rs->responses.v[0].partition_responses.v[0].error_code;
            w->base_offset =
                rs->responses.v[0].partition_responses.v[0].base_offset;
            snprintf(w->produce_topic, sizeof w->produce_topic, "%.*s",
                     (int)rs->responses.v[0].name.len,
                     rs->responses.v[0].name.p);
        }
    }
    w->produced++;
}

static void pd_on_fetched(net_client *c, const net_client_result *r,
                          void *ctx) {
    SL_UNUSED(c);
    pd_world *w = ctx;
    w->fetch_err = -1;
    if (r->err == NET_CLIENT_OK) {
        const proto_fetch_response *rs = r->resp;
        if (rs->responses.n == 1 && rs->responses.v[0].partitions.n == 1) {
            const proto_fetch_response_partition_data *pd =
                &rs->responses.v[0].partitions.v[0];
            w->fetch_err = pd->error_code;
            w->fetch_hw = pd->high_watermark;
            w->fetch_bytes = pd->records.len;
        }
    }
    w->fetched++;
}

static void pd_produce(pd_world *w, int16_t acks, int32_t timeout_ms) {
    batch_builder b;
    batch_builder_init(&b, 0, 0);
    for (int k = 0; k < 3; k++)
        batch_builder_add(&b, 1700000000000LL, NULL, -1, "value", 5, NULL, 0);
    buf rec;
    buf_init(&rec, 256);
    CHECK_EQ(batch_builder_finish(&b, &rec), KERR_NONE);
    batch_builder_free(&b);
    CHECK(wire_send_produce(w->cl[0], 9, TOPIC, 0, acks, timeout_ms, &rec,
                            pd_on_produced, w) > 0);
    buf_free(&rec);
}

static void pd_fetch(pd_world *w, int64_t offset) {
    wire_fetch f = {.topic = TOPIC,
                    .offset = offset,
                    .partition_max_bytes = 65536,
                    .max_wait_ms = 30000,
                    .session_epoch = -1}; /* sessionless */
    CHECK(wire_send_fetch(w->cl[1], 12, &f, pd_on_fetched, w) > 0);
}

TEST(repl_produce_acks_all_deferred_and_fetch_woken_over_the_wire) {
    pd_world w = {0};
    char err[1024];
    w.node = pd_make_node();
    if (!w.node)
        return;
    if (brk_node_start(w.node, err, sizeof err) < 0) {
        test_fail(__FILE__, __LINE__, "start: %s", err);
        brk_node_free(w.node);
        return;
    }
    brk_broker *brk = brk_node_broker(w.node);
    w.cli = net_loop_new();
    for (int i = 0; i < 2; i++) {
        net_client_opts o = {.host = "127.0.0.1",
                             .port = brk_node_port(w.node, "PLAINTEXT"),
                             .client_id = "test-defer",
                             .on_state = pd_on_state,
                             .ctx = &w};
        w.cl[i] = net_client_new(w.cli, &o);
    }
    CHECK(pd_pump(&w, &w.done, 2, 10000));

    w.done = 0;
    proto_create_topics_request rq;
    proto_create_topics_request_init(&rq);
    proto_create_topics_request_creatable_topic ct;
    proto_create_topics_request_creatable_topic_init(&ct);
    ct.name = proto_str_c(TOPIC);
    ct.num_partitions = 1;
    ct.replication_factor = 1;
    rq.topics.n = 1;
    rq.topics.v = &ct;
    rq.timeout_ms = 10000;
    CHECK(net_client_send(w.cl[0], PROTO_API_CREATE_TOPICS, -1, &rq,
                          pd_on_created, &w) > 0);
    CHECK(pd_pump(&w, &w.done, 1, 10000));
    CHECK_EQ(w.create_err, KERR_NONE);

    /* Widen the ISR to {1, 2} by hand (the image owns the arrays). */
    cl_topic *t = cl_topic_find(brk->image, TOPIC, strlen(TOPIC));
    CHECK(t != NULL);
    if (!t)
        goto out;
    cl_partition *p = t->parts[0];
    p->replicas = xrealloc(p->replicas, 2 * sizeof *p->replicas);
    p->isr = xrealloc(p->isr, 2 * sizeof *p->isr);
    p->replicas[1] = p->isr[1] = 2;
    p->n_replicas = p->n_isr = 2;
    repl_update(brk->repl, p, NULL);
    log_partition *log = repl_log(brk->repl, p);
    CHECK(log != NULL);

    /* acks=all: deferred while node 2 has nothing */
    pd_produce(&w, -1, 30000);
    CHECK(!pd_pump(&w, &w.produced, 1, 300));
    CHECK_EQ(log_end_offset(log), 3);
    CHECK_EQ(log_high_watermark(log), 0);
    CHECK_EQ(repl_purgatory_size(brk->repl), 1);
    repl_follower_fetched(brk->repl, p, 2, 3); /* node 2 has the batch */
    CHECK(pd_pump(&w, &w.produced, 1, 10000));
    CHECK_EQ(w.produce_err, KERR_NONE);
    CHECK_EQ(w.base_offset, 0);
    CHECK_STR(w.produce_topic, TOPIC);

    /* acks=all not met in time: REQUEST_TIMED_OUT, the batch stays */
    w.produced = 0;
    pd_produce(&w, -1, 50);
    CHECK(pd_pump(&w, &w.produced, 1, 10000));
    CHECK_EQ(w.produce_err, KERR_REQUEST_TIMED_OUT);
    CHECK_EQ(w.base_offset, 3);
    CHECK_EQ(log_high_watermark(log), 3);

    /* A long poll at the HW waits, and wakes when the HW moves. */
    pd_fetch(&w, 3);
    CHECK(!pd_pump(&w, &w.fetched, 1, 300));
    repl_follower_fetched(brk->repl, p, 2, 6);
    CHECK(pd_pump(&w, &w.fetched, 1, 10000));
    CHECK_EQ(w.fetch_err, KERR_NONE);
    CHECK_EQ(w.fetch_hw, 6);
    CHECK(w.fetch_bytes > 0);
    CHECK_EQ(repl_purgatory_size(brk->repl), 0);

    /* acks=1 answers at once even with the HW behind */
    w.produced = 0;
    pd_produce(&w, 1, 30000);
    CHECK(pd_pump(&w, &w.produced, 1, 10000));
    CHECK_EQ(w.produce_err, KERR_NONE);
    CHECK_EQ(w.base_offset, 6);
    CHECK_EQ(log_high_watermark(log), 6);
out:
    for (int i = 0; i < 2; i++)
        net_client_free(w.cl[i]);
    net_loop_free(w.cli);
    brk_node_free(w.node);
}
