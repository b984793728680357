/* broker/node: several nodes in one process. Three nodes, each with its own
 * data dir, listeners (port 0: chosen by the kernel), loop and state, run
 * side by side on this thread; a client creates a topic on each, produces
 * values that name the node and fetches them back (with a KIP-227 session,
 * which the node frees). A fourth node whose listener port is taken fails
 * its start at the bind step and is freed without leaks (ASan's leak check
 * runs over the whole unit run). */
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
#include "test.h"
#include "../sim/wire_req.h"

#define N_NODES 3
#define TOPIC "node-test"

/* A node with node.id id, data in <tmp>/n<id>, listeners on plaintext_port
 * (0: any) and any controller port. NULL if its configuration is refused. */
static brk_node *make_node(int id, int plaintext_port) {
    char a_id[64], a_dirs[512], a_lis[256];
    snprintf(a_id, sizeof a_id, "node.id=%d", id);
    snprintf(a_dirs, sizeof a_dirs, "log.dirs=%s/n%d", test_tmpdir(), id);
    snprintf(a_lis, sizeof a_lis,
             "listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:0",
             plaintext_port);
    char *argv[] = {"server",     "--override", a_id,
                    "--override", a_dirs,       "--override",
                    a_lis,        "--override", "log.cleaner.enable=true",
                    NULL};
    char *envp[] = {NULL};
    brk_config cfg;
    char err[1024];
    if (brk_load_config(&cfg, 9, argv, envp, err, sizeof err) < 0) {
        test_fail(__FILE__, __LINE__, "config: %s", err);
        brk_config_free(&cfg);
        return NULL;
    }
    brk_node *n = brk_node_new(&cfg, NULL);
    brk_config_free(&cfg); /* moved: a no-op */
    return n;
}

typedef struct world {
    brk_node *nodes[N_NODES];
    net_loop *cli;
    net_client *cl[N_NODES];
    int done; /* callbacks run */
    int16_t create_err[N_NODES];
    int64_t base_offset[N_NODES];
    int16_t produce_err[N_NODES];
    char fetched[N_NODES][8][32]; /* record values */
    int n_fetched[N_NODES];
    int64_t hw[N_NODES];
    int32_t session_id[N_NODES];
} world;

typedef struct cb_ctx {
    world *w;
    int i;
} cb_ctx;

/* Runs every node's loop and the client's until *counter reaches want or
 * ten seconds pass. */
static bool pump(world *w, int *counter, int want) {
    for (int pass = 0; pass < 10000 && *counter < want; pass++) {
        for (int i = 0; i < N_NODES; i++)
            brk_node_poll(w->nodes[i], 0);
        net_loop_poll(w->cli, 1);
    }
    return *counter >= want;
}

static void on_state(net_client *c, bool up, void *ctx) {
    SL_UNUSED(c);
    if (up)
        ((world *)ctx)->done++;
}

static void on_created(net_client *c, const net_client_result *r, void *ctx) {
    SL_UNUSED(c);
    cb_ctx *x = ctx;
    x->w->create_err[x->i] = -1;
    if (r->err == NET_CLIENT_OK) {
        const proto_create_topics_response *rs = r->resp;
        if (rs->topics.n == 1)
            x->w->create_err[x->i] = rs->topics.v[0].error_code;
    }
    x->w->done++;
}

static void on_produced(net_client *c, const net_client_result *r, void *ctx) {
    SL_UNUSED(c);
    cb_ctx *x = ctx;
    x->w->produce_err[x->i] = -1;
    if (r->err == NET_CLIENT_OK) {
        const proto_produce_response *rs = r->resp;
        if (rs->responses.n == 1 && rs->responses.v[0].partition_responses.n) {
            x->w->produce_err[x->i] =
                rs->responses.v[0].partition_responses.v[0].error_code;
            x->w->base_offset[x->i] =
                rs->responses.v[0].partition_responses.v[0].base_offset;
        }
    }
    x->w->done++;
}

static void on_fetched(net_client *c, const net_client_result *r, void *ctx) {
    SL_UNUSED(c);
    cb_ctx *x = ctx;
    world *w = x->w;
    w->hw[x->i] = -2;
    if (r->err == NET_CLIENT_OK) {
        const proto_fetch_response *rs = r->resp;
        w->session_id[x->i] = rs->session_id;
        if (rs->responses.n == 1 && rs->responses.v[0].partitions.n == 1) {
            const proto_fetch_response_partition_data *pd =
                &rs->responses.v[0].partitions.v[0];
            w->hw[x->i] = pd->high_watermark;
            const uint8_t *p = pd->records.p;
            size_t left = pd->records.len > 0 ? (size_t)pd->records.len : 0;
            log_batch_header h;
            while (left && batch_parse_header(p, left, &h) &&
                   (size_t)batch_size(&h) <= left) {
                buf recs;
                buf_init(&recs, 256);
                if (batch_decompress_records(&h, p, 1 << 20, &recs) ==
                    KERR_NONE) {
                    batch_iter it;
                    batch_iter_init(&it, &h, recs.data, recs.len);
                    log_record rec;
                    while (batch_iter_next(&it, &rec) == 1 &&
                           w->n_fetched[x->i] < 8)
                        snprintf(w->fetched[x->i][w->n_fetched[x->i]++], 32,
                                 "%.*s", (int)rec.value_len,
                                 (const char *)rec.value);
                }
                buf_free(&recs);
                p += batch_size(&h);
                left -= (size_t)batch_size(&h);
            }
        }
    }
    w->done++;
}

static void create_topic(world *w, int i, cb_ctx *x) {
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
    CHECK(net_client_send(w->cl[i], PROTO_API_CREATE_TOPICS, -1, &rq,
                          on_created, x) > 0);
}

static void produce(world *w, int i, cb_ctx *x) {
    batch_builder b;
    batch_builder_init(&b, 0, 0);
    for (int k = 0; k < 3; k++) {
        char v[32];
        int len = snprintf(v, sizeof v, "node%d-value%d", i + 1, k);
        batch_builder_add(&b, 1700000000000LL, NULL, -1, v, len, NULL, 0);
    }
    buf rec;
    buf_init(&rec, 256);
    CHECK_EQ(batch_builder_finish(&b, &rec), KERR_NONE);
    batch_builder_free(&b);
    CHECK(wire_send_produce(w->cl[i], 12, TOPIC, 0, -1, 10000, &rec,
                            on_produced, x) > 0);
    buf_free(&rec);
}

static void fetch(world *w, int i, cb_ctx *x) {
    wire_fetch f = {.topic = TOPIC,
                    .partition_max_bytes = 65536,
                    .session_epoch = 0}; /* opens a session (KIP-227) */
    CHECK(wire_send_fetch(w->cl[i], 12, &f, on_fetched, x) > 0);
}

TEST(node_three_nodes_in_one_process_produce_and_fetch) {
    world w = {0};
    cb_ctx ctx[N_NODES];
    char err[1024];
    for (int i = 0; i < N_NODES; i++) {
        w.nodes[i] = make_node(i + 1, 0);
        if (!w.nodes[i])
            return;
        if (brk_node_start(w.nodes[i], err, sizeof err) < 0) {
            test_fail(__FILE__, __LINE__, "node %d: %s", i + 1, err);
            return;
        }
        ctx[i] = (cb_ctx){&w, i};
    }
    /* Separate brokers: their own ids, ports, clusters. */
    for (int i = 0; i < N_NODES; i++) {
        CHECK_EQ(brk_node_broker(w.nodes[i])->node_id, i + 1);
        CHECK(brk_node_port(w.nodes[i], "PLAINTEXT") > 0);
        for (int j = 0; j < i; j++) {
            CHECK(brk_node_port(w.nodes[i], "PLAINTEXT") !=
                  brk_node_port(w.nodes[j], "PLAINTEXT"));
            CHECK(strcmp(brk_node_broker(w.nodes[i])->cluster_id,
                         brk_node_broker(w.nodes[j])->cluster_id));
        }
    }
    w.cli = net_loop_new();
    for (int i = 0; i < N_NODES; i++) {
        net_client_opts o = {.host = "127.0.0.1",
                             .port = brk_node_port(w.nodes[i], "PLAINTEXT"),
                             .client_id = "test-node",
                             .on_state = on_state,
                             .ctx = &w};
        w.cl[i] = net_client_new(w.cli, &o);
    }
    CHECK(pump(&w, &w.done, N_NODES));

    w.done = 0;
    for (int i = 0; i < N_NODES; i++)
        create_topic(&w, i, &ctx[i]);
    CHECK(pump(&w, &w.done, N_NODES));
    for (int i = 0; i < N_NODES; i++)
        CHECK_EQ(w.create_err[i], KERR_NONE);

    /* Node 2 gets two batches, the others one: the logs are apart. */
    w.done = 0;
    for (int i = 0; i < N_NODES; i++)
        produce(&w, i, &ctx[i]);
    CHECK(pump(&w, &w.done, N_NODES));
    w.done = 0;
    produce(&w, 1, &ctx[1]);
    CHECK(pump(&w, &w.done, 1));
    for (int i = 0; i < N_NODES; i++)
        CHECK_EQ(w.produce_err[i], KERR_NONE);
    CHECK_EQ(w.base_offset[0], 0);
    CHECK_EQ(w.base_offset[1], 3);
    CHECK_EQ(w.base_offset[2], 0);

    w.done = 0;
    for (int i = 0; i < N_NODES; i++)
        fetch(&w, i, &ctx[i]);
    CHECK(pump(&w, &w.done, N_NODES));
    for (int i = 0; i < N_NODES; i++) {
        int want = i == 1 ? 6 : 3;
        CHECK_EQ(w.hw[i], want);
        CHECK_EQ(w.n_fetched[i], want);
        CHECK(w.session_id[i] > 0);
        for (int k = 0; k < w.n_fetched[i]; k++) {
            char v[32];
            snprintf(v, sizeof v, "node%d-value%d", i + 1, k % 3);
            CHECK_STR(w.fetched[i][k], v);
        }
    }

    /* Node 1 restarts from its own data dir while the others run: its
     * metadata log (the topic) and its data are its own. */
    net_client_free(w.cl[0]);
    brk_node_free(w.nodes[0]);
    w.nodes[0] = make_node(1, 0);
    CHECK_EQ(brk_node_start(w.nodes[0], err, sizeof err), 0);
    net_client_opts o = {.host = "127.0.0.1",
                         .port = brk_node_port(w.nodes[0], "PLAINTEXT"),
                         .on_state = on_state,
                         .ctx = &w};
    w.done = 0;
    w.cl[0] = net_client_new(w.cli, &o);
    CHECK(pump(&w, &w.done, 1));
    w.done = 0;
    w.n_fetched[0] = 0;
    fetch(&w, 0, &ctx[0]);
    CHECK(pump(&w, &w.done, 1));
    CHECK_EQ(w.hw[0], 3);
    CHECK_EQ(w.n_fetched[0], 3);
    CHECK_STR(w.fetched[0][2], "node1-value2");

    for (int i = 0; i < N_NODES; i++)
        net_client_free(w.cl[i]);
    net_loop_free(w.cli);
    for (int i = 0; i < N_NODES; i++)
        brk_node_free(w.nodes[i]);
}

TEST(node_start_failure_releases_everything) {
    char err[1024];
    brk_node *a = make_node(1, 0);
    if (!a)
        return;
    CHECK_EQ(brk_node_start(a, err, sizeof err), 0);
    /* Same port as a: the bind step fails after storage was opened. */
    brk_node *b = make_node(2, brk_node_port(a, "PLAINTEXT"));
    if (!b) {
        brk_node_free(a);
        return;
    }
    CHECK_EQ(brk_node_start(b, err, sizeof err), -1);
    CHECK(!strncmp(err, "bind: ", 6));
    brk_node_free(b);
    /* a is unharmed */
    brk_node_poll(a, 0);
    CHECK(brk_node_broker(a)->logs != NULL);
    brk_node_free(a);
    /* A node that never started frees too. */
    brk_node *c = make_node(3, 0);
    brk_node_free(c);
}
