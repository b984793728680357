/* replica/fetcher: the replication data path with three nodes in one
 * process. Each node's image gets the same RegisterBrokerRecords for
 * brokers 1, 2, 3 (their real ports) and a topic whose one partition has
 * replicas [1,2,3]; the followers' fetchers copy the leader's log.
 *  1. acks=all on the leader completes once both followers fetched past the
 *     batch; the three logs hold the same bytes; every HW reaches the end.
 *  2. Leadership moves to node 2 (epoch 1) while node 1, not yet told,
 *     takes two more records at epoch 0 (acks=1, never committed); node 2
 *     writes one at epoch 1. When node 1 learns it follows node 2 it
 *     truncates at the diverging epoch: again three identical logs, and the
 *     leader-epoch caches agree.
 *  3. A follower whose producer state is loaded keeps it up with the
 *     replicated batches: as the next leader it answers an idempotent
 *     retry as a duplicate.
 *  4. A follower left behind (its node not polled, out of the ISR) whose
 *     log ends below the leader's log start (DeleteRecords inside a batch)
 *     empties its log and starts at the leader's, then at that batch.
 *  5. Bad input on the leader: a Fetch from a broker that is not a replica
 *     gets UNKNOWN_LEADER_EPOCH, one with a stale broker epoch
 *     NOT_LEADER_OR_FOLLOWER. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "broker/node.h"
#include "cluster/image.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/util.h"
#include "log/batch.h"
#include "net/client.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "replica/fetcher.h"
#include "replica/replica.h"
#include "test.h"
#include "txn/txn.h"
#include "../sim/wire_req.h"

#define N 3
#define TOPIC "repl-test"

static const uint8_t TOPIC_ID[16] = {0x52, 0x45, 0x50, 0x4c, 1, 2,  3,  4,
                                     5,    6,    7,    8,    9, 10, 11, 12};

/* replica.fetch.wait.max.ms of the nodes make_node makes */
static const char *fetch_wait = "replica.fetch.wait.max.ms=20";

static brk_node *make_node(int id, const char *tag) {
    char a_id[64], a_dirs[512];
    snprintf(a_id, sizeof a_id, "node.id=%d", id);
    snprintf(a_dirs, sizeof a_dirs, "log.dirs=%s/%s%d", test_tmpdir(), tag, id);
    char *argv[] = {"server",
                    "--override",
                    a_id,
                    "--override",
                    a_dirs,
                    "--override",
                    "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://"
                    "127.0.0.1:0",
                    "--override",
                    (char *)fetch_wait,
                    "--override",
                    "replica.fetch.backoff.ms=20",
                    NULL};
    char *envp[] = {NULL};
    brk_config cfg;
    char err[1024];
    if (brk_load_config(&cfg, 11, argv, envp, err, sizeof err) < 0) {
        test_fail(__FILE__, __LINE__, "config: %s", err);
        brk_config_free(&cfg);
        return NULL;
    }
    brk_node *n = brk_node_new(&cfg, NULL);
    brk_config_free(&cfg);
    return n;
}

typedef struct world {
    brk_node *nodes[N];
    net_loop *cli;
    net_client *cl[N];
    bool paused[N]; /* not polled: a stopped process */
    int up, done;
    int16_t produce_err;
    int64_t base_offset;
} world;

static void pump_once(world *w) {
    for (int i = 0; i < N; i++)
        if (w->nodes[i] && !w->paused[i])
            brk_node_poll(w->nodes[i], 0);
    net_loop_poll(w->cli, 1);
}

static bool pump(world *w, int *counter, int want) {
    for (int pass = 0; pass < 5000 && *counter < want; pass++)
        pump_once(w);
    return *counter >= want;
}

static void on_state(net_client *c, bool up, void *ctx) {
    SL_UNUSED(c);
    if (up)
        ((world *)ctx)->up++;
}

static void on_produced(net_client *c, const net_client_result *r, void *ctx) {
    SL_UNUSED(c);
    world *w = ctx;
    w->produce_err = -1;
    if (r->err == NET_CLIENT_OK) {
        const proto_produce_response *rs = r->resp;
        if (rs->responses.n == 1 && rs->responses.v[0].partition_responses.n) {
            w->produce_err =
                rs->responses.v[0].partition_responses.v[0].error_code;
            w->base_offset =
                rs->responses.v[0].partition_responses.v[0].base_offset;
        }
    }
    w->done++;
}

static int16_t produce_pid(world *w, int node, int16_t acks, const char *tag,
                           int count, int64_t pid) {
    batch_builder b;
    batch_builder_init(&b, 0, 0);
    if (pid >= 0)
        batch_builder_set_producer(&b, pid, 0, 0);
    for (int k = 0; k < count; k++) {
        char v[32];
        int len = snprintf(v, sizeof v, "%s-%d", tag, k);
        batch_builder_add(&b, 1700000000000LL, NULL, -1, v, len, NULL, 0);
    }
    buf rec;
    buf_init(&rec, 256);
    CHECK_EQ(batch_builder_finish(&b, &rec), KERR_NONE);
    batch_builder_free(&b);
    w->done = 0;
    CHECK(wire_send_produce(w->cl[node], 12, TOPIC, 0, acks, 10000, &rec,
                            on_produced, w) > 0);
    buf_free(&rec);
    CHECK(pump(w, &w->done, 1));
    return w->produce_err;
}

static int16_t produce(world *w, int node, int16_t acks, const char *tag,
                       int count) {
    return produce_pid(w, node, acks, tag, count, -1);
}

static void apply(brk_node *n, const buf *v) {
    CHECK(cl_image_apply(brk_node_broker(n)->image, v->data, v->len));
}

static void register_broker_port(world *w, int on, int id, int port) {
    proto_register_broker_record r;
    proto_register_broker_record_init(&r);
    r.broker_id = id;
    r.incarnation_id.b[0] = (uint8_t)id;
    r.broker_epoch = 100 + id;
    proto_register_broker_record_broker_endpoint ep;
    memset(&ep, 0, sizeof ep);
    ep.name = proto_str_c("PLAINTEXT");
    ep.host = proto_str_c("127.0.0.1");
    ep.port = (uint16_t)port;
    r.end_points.n = 1;
    r.end_points.v = &ep;
    r.rack = PROTO_STR_NULL;
    r.fenced = false;
    buf v;
    buf_init(&v, 128);
    cl_record_frame(&v, PROTO_MD_REGISTER_BROKER_RECORD, 1);
    proto_register_broker_record_encode(&v, 1, &r);
    apply(w->nodes[on], &v);
    buf_free(&v);
}

static void register_broker(world *w, int on, int id) {
    register_broker_port(w, on, id,
                         brk_node_port(w->nodes[id - 1], "PLAINTEXT"));
}

static void topic_record(brk_node *n) {
    proto_topic_record r;
    proto_topic_record_init(&r);
    r.name = proto_str_c(TOPIC);
    memcpy(r.topic_id.b, TOPIC_ID, 16);
    buf v;
    buf_init(&v, 64);
    cl_record_frame(&v, PROTO_MD_TOPIC_RECORD, 0);
    proto_topic_record_encode(&v, 0, &r);
    apply(n, &v);
    buf_free(&v);
}

static void partition_record_isr(brk_node *n, int32_t leader, int32_t epoch,
                                 int32_t *isr, int32_t n_isr) {
    int32_t reps[N] = {1, 2, 3};
    proto_partition_record r;
    proto_partition_record_init(&r);
    r.partition_id = 0;
    memcpy(r.topic_id.b, TOPIC_ID, 16);
    r.replicas.n = N;
    r.replicas.v = reps;
    r.isr.n = n_isr;
    r.isr.v = isr;
    r.removing_replicas.n = 0;
    r.adding_replicas.n = 0;
    r.leader = leader;
    r.leader_epoch = epoch;
    r.partition_epoch = epoch;
    buf v;
    buf_init(&v, 64);
    cl_record_frame(&v, PROTO_MD_PARTITION_RECORD, 0);
    proto_partition_record_encode(&v, 0, &r);
    apply(n, &v);
    buf_free(&v);
}

static void partition_record(brk_node *n, int32_t leader, int32_t epoch) {
    int32_t isr[N] = {1, 2, 3};
    partition_record_isr(n, leader, epoch, isr, N);
}

static log_partition *plog(world *w, int i) {
    return log_get(brk_node_broker(w->nodes[i])->logs, TOPIC, 0);
}

/* The log's bytes from offset 0 (one segment: small logs). */
static size_t log_bytes(log_partition *log, uint8_t *out, size_t cap) {
    log_read_result r;
    if (log_read(log, log_start_offset(log), (int32_t)cap, -1, false, &r) ||
        r.len <= 0) {
        log_read_release(&r);
        return 0;
    }
    size_t n = (size_t)r.len;
    CHECK_EQ(log_read_pread(&r, out, n, r.file_pos), (ssize_t)n);
    log_read_release(&r);
    return n;
}

/* Pumps until every node's log ends at leo with its HW there too. */
static bool converge(world *w, int64_t leo) {
    for (int pass = 0; pass < 5000; pass++) {
        bool ok = true;
        for (int i = 0; i < N && ok; i++) {
            log_partition *l = plog(w, i);
            ok = l && log_end_offset(l) == leo && log_high_watermark(l) == leo;
        }
        if (ok)
            return true;
        pump_once(w);
    }
    return false;
}

static bool converge_all(world *w, int64_t leo, int64_t start) {
    for (int pass = 0; pass < 5000; pass++) {
        bool ok = true;
        for (int i = 0; i < N && ok; i++)
            ok = log_start_offset(plog(w, i)) == start;
        if (ok && converge(w, leo))
            return true;
        pump_once(w);
    }
    return false;
}

/* A raw follower Fetch to node `to` as replica_id with broker epoch. */
typedef struct raw_fetch {
    int done;
    int16_t err;
} raw_fetch;

static void on_raw_fetch(net_client *c, const net_client_result *r, void *ctx) {
    SL_UNUSED(c);
    raw_fetch *rf = ctx;
    rf->err = -100;
    if (r->err == NET_CLIENT_OK) {
        const proto_fetch_response *rs = r->resp;
        if (rs->responses.n == 1 && rs->responses.v[0].partitions.n == 1)
            rf->err = rs->responses.v[0].partitions.v[0].error_code;
    }
    rf->done++;
}

static int16_t replica_fetch(world *w, int to, int32_t replica_id,
                             int64_t broker_epoch, int32_t leader_epoch) {
    proto_fetch_request rq;
    proto_fetch_request_init(&rq);
    rq.replica_state.replica_id = replica_id;
    rq.replica_state.replica_epoch = broker_epoch;
    rq.max_wait_ms = 0;
    rq.min_bytes = 1;
    rq.session_epoch = -1;
    proto_fetch_request_fetch_topic t;
    proto_fetch_request_fetch_topic_init(&t);
    memcpy(t.topic_id.b, TOPIC_ID, 16);
    proto_fetch_request_fetch_partition fp;
    proto_fetch_request_fetch_partition_init(&fp);
    fp.partition = 0;
    fp.current_leader_epoch = leader_epoch;
    fp.fetch_offset = log_end_offset(plog(w, to));
    fp.partition_max_bytes = 65536;
    t.partitions.n = 1;
    t.partitions.v = &fp;
    rq.topics.n = 1;
    rq.topics.v = &t;
    raw_fetch rf = {0, 0};
    CHECK(net_client_send(w->cl[to], PROTO_API_FETCH, 17, &rq, on_raw_fetch,
                          &rf) > 0);
    CHECK(pump(w, &rf.done, 1));
    return rf.err;
}

static void check_identical(world *w) {
    static uint8_t a[1 << 16], b[1 << 16];
    size_t na = log_bytes(plog(w, 0), a, sizeof a);
    CHECK(na > 0);
    for (int i = 1; i < N; i++) {
        size_t nb = log_bytes(plog(w, i), b, sizeof b);
        CHECK_EQ(nb, na);
        CHECK(nb == na && !memcmp(a, b, na));
        CHECK_EQ(log_latest_epoch(plog(w, i)), log_latest_epoch(plog(w, 0)));
    }
}

/* Three started nodes whose images list brokers 1-3 and the topic (leader
 * 1, epoch 0), and a connected client per node. */
static bool world_start(world *w, const char *tag) {
    char err[1024];
    for (int i = 0; i < N; i++) {
        w->nodes[i] = make_node(i + 1, tag);
        if (!w->nodes[i])
            return false;
        if (brk_node_start(w->nodes[i], err, sizeof err) < 0) {
            test_fail(__FILE__, __LINE__, "node %d: %s", i + 1, err);
            return false;
        }
    }
    /* the same brokers and the same topic in every image */
    for (int i = 0; i < N; i++) {
        for (int id = 1; id <= N; id++)
            if (id != i + 1)
                register_broker(w, i, id);
        topic_record(w->nodes[i]);
        partition_record(w->nodes[i], 1, 0);
    }
    for (int i = 0; i < N; i++)
        CHECK(plog(w, i) != NULL);
    CHECK(repl_is_leader(
        brk_node_broker(w->nodes[0])->repl,
        cl_topic_find_id(brk_node_broker(w->nodes[0])->image, TOPIC_ID)
            ->parts[0]));
    w->cli = net_loop_new();
    for (int i = 0; i < N; i++) {
        net_client_opts o = {.host = "127.0.0.1",
                             .port = brk_node_port(w->nodes[i], "PLAINTEXT"),
                             .client_id = "test-repl",
                             .on_state = on_state,
                             .ctx = w};
        w->cl[i] = net_client_new(w->cli, &o);
    }
    return pump(w, &w->up, N);
}

static void world_stop(world *w) {
    for (int i = 0; i < N; i++)
        if (w->cl[i])
            net_client_free(w->cl[i]);
    if (w->cli)
        net_loop_free(w->cli);
    for (int i = 0; i < N; i++)
        if (w->nodes[i])
            brk_node_free(w->nodes[i]);
}

TEST(replication_three_nodes_follow_truncate_on_divergence) {
    world w = {0};
    if (!world_start(&w, "r")) {
        world_stop(&w);
        return;
    }

    /* 1. acks=all: answered once the followers have the batch */
    CHECK_EQ(produce(&w, 0, -1, "a", 3), KERR_NONE);
    CHECK_EQ(w.base_offset, 0);
    CHECK_EQ(log_high_watermark(plog(&w, 0)), 3);
    for (int i = 1; i < N; i++)
        CHECK_EQ(log_end_offset(plog(&w, i)), 3);
    CHECK_EQ(produce(&w, 0, -1, "b", 2), KERR_NONE);
    CHECK_EQ(w.base_offset, 3);
    CHECK(converge(&w, 5));
    check_identical(&w);
    repl_fetcher_stats st;
    repl_fetchers_stats(brk_node_broker(w.nodes[1])->repl, &st);
    CHECK_EQ(st.fetchers, 1);
    CHECK_EQ(st.partitions, 1);
    /* KIP-227: after the full request that opened the fetch session, the
     * requests of a caught-up follower leave its partition out */
    CHECK(st.incremental > 0);
    CHECK(st.incremental < st.requests);
    repl_fetchers_stats(brk_node_broker(w.nodes[0])->repl, &st);
    CHECK_EQ(st.fetchers, 0); /* the leader fetches nothing */

    /* 2. node 2 leads at epoch 1 (nodes 2 and 3 know it first) */
    partition_record(w.nodes[1], 2, 1);
    partition_record(w.nodes[2], 2, 1);
    for (int pass = 0; pass < 50; pass++)
        pump_once(&w);
    CHECK_EQ(log_latest_epoch(plog(&w, 1)), 1); /* epoch begun at LEO 5 */
    /* node 1 still thinks it leads: two records nobody will fetch */
    CHECK_EQ(produce(&w, 0, 1, "stale", 2), KERR_NONE);
    CHECK_EQ(w.base_offset, 5);
    CHECK_EQ(log_end_offset(plog(&w, 0)), 7);
    CHECK_EQ(produce(&w, 1, 1, "new", 1), KERR_NONE);
    CHECK_EQ(w.base_offset, 5);
    /* node 1 learns: follower of node 2, truncates to 5, then fetches */
    partition_record(w.nodes[0], 2, 1);
    CHECK(converge(&w, 6));
    check_identical(&w);
    repl_fetchers_stats(brk_node_broker(w.nodes[0])->repl, &st);
    CHECK(st.truncations >= 1);
    CHECK_EQ(log_epoch_for_offset(plog(&w, 0), 5), 1);

    /* acks=all on the new leader still needs both followers */
    CHECK_EQ(produce(&w, 1, -1, "c", 1), KERR_NONE);
    CHECK_EQ(w.base_offset, 6);
    CHECK(converge(&w, 7));
    check_identical(&w);

    /* 3. node 1 (a follower, producer state in memory) replicates an
     * idempotent batch; leading next, it knows the retry is a duplicate */
    brk_broker *b1 = brk_node_broker(w.nodes[0]);
    CHECK(txn_part_state(b1->txn, plog(&w, 0)) != NULL);
    CHECK_EQ(produce_pid(&w, 1, -1, "idem", 2, 4242), KERR_NONE);
    CHECK_EQ(w.base_offset, 7);
    CHECK(converge(&w, 9));
    for (int i = 0; i < N; i++)
        partition_record(w.nodes[i], 1, 2);
    for (int pass = 0; pass < 20; pass++)
        pump_once(&w);
    CHECK(repl_is_leader(b1->repl,
                         cl_topic_find_id(b1->image, TOPIC_ID)->parts[0]));
    CHECK_EQ(produce_pid(&w, 0, -1, "idem", 2, 4242), KERR_NONE);
    CHECK_EQ(w.base_offset, 7); /* the original offset: not written again */
    CHECK_EQ(log_end_offset(plog(&w, 0)), 9);

    /* 4. node 3 stops and leaves the ISR; the leader deletes records up to
     * the middle of a batch it never fetched */
    int32_t isr12[2] = {1, 2};
    for (int i = 0; i < N; i++)
        partition_record_isr(w.nodes[i], 1, 2, isr12, 2);
    w.paused[2] = true;
    CHECK_EQ(produce(&w, 0, -1, "d", 2), KERR_NONE);
    CHECK_EQ(w.base_offset, 9);
    CHECK_EQ(produce(&w, 0, -1, "e", 2), KERR_NONE);
    CHECK_EQ(w.base_offset, 11);
    CHECK_EQ(log_high_watermark(plog(&w, 0)), 13);
    int64_t ns = -1;
    CHECK_EQ(log_delete_records(plog(&w, 0), 12, &ns), KERR_NONE);
    CHECK_EQ(ns, 12);
    CHECK_EQ(log_end_offset(plog(&w, 2)), 9);
    w.paused[2] = false;
    CHECK(converge_all(&w, 13, 12));
    check_identical(&w);
    repl_fetchers_stats(brk_node_broker(w.nodes[2])->repl, &st);
    CHECK(st.truncations >= 2); /* to 12, then to the batch at 11 */

    /* 5. bad replica fetches on the leader (node 1, epoch 2) */
    register_broker_port(&w, 0, 4, 1); /* a broker with no replica */
    CHECK_EQ(replica_fetch(&w, 0, 4, 104, 2), KERR_UNKNOWN_LEADER_EPOCH);
    CHECK_EQ(replica_fetch(&w, 0, 4, 104, -1), KERR_NOT_LEADER_OR_FOLLOWER);
    CHECK_EQ(replica_fetch(&w, 0, 3, 1, 2), KERR_NOT_LEADER_OR_FOLLOWER);
    CHECK_EQ(replica_fetch(&w, 0, 3, 103, 2), KERR_NONE);

    world_stop(&w);
}

/* Flips one byte of the leader's segment file at pos (a record's value). */
static void flip_byte(log_partition *log, int64_t pos) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%020d.log", log_path(log), 0);
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_EQ(fseek(f, (long)pos, SEEK_SET), 0);
    int c = fgetc(f);
    CHECK_EQ(fseek(f, (long)pos, SEEK_SET), 0);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

/* A leader that serves a corrupt batch (its segment damaged on disk after
 * the append): the followers drop the connection, back off and retry,
 * never appending it and never growing; once the bytes are right again
 * they catch up. */
TEST(replication_corrupt_fetch_response_drops_connection) {
    world w = {0};
    if (!world_start(&w, "c")) {
        world_stop(&w);
        return;
    }
    CHECK_EQ(produce(&w, 0, -1, "ok", 2), KERR_NONE);
    CHECK(converge(&w, 2));
    int64_t size_before = log_size_bytes(plog(&w, 0));
    w.paused[1] = w.paused[2] = true;
    CHECK_EQ(produce(&w, 0, 1, "damaged", 2), KERR_NONE);
    CHECK_EQ(w.base_offset, 2);
    int64_t pos = size_before + (log_size_bytes(plog(&w, 0)) - size_before) - 3;
    flip_byte(plog(&w, 0), pos);
    w.paused[1] = w.paused[2] = false;
    for (int pass = 0; pass < 400; pass++)
        pump_once(&w);
    repl_fetcher_stats st;
    for (int i = 1; i < N; i++) {
        CHECK_EQ(log_end_offset(plog(&w, i)), 2);
        repl_fetchers_stats(brk_node_broker(w.nodes[i])->repl, &st);
        CHECK(st.errors >= 2); /* tried again after the backoff */
        CHECK_EQ(st.fetchers, 1);
    }
    flip_byte(plog(&w, 0), pos); /* repaired */
    CHECK(converge(&w, 4));
    check_identical(&w);
    world_stop(&w);
}

/* Divergence cases of the KIP-966 TLA+ notes.
 *  - No common epoch: node 1 wrote at epoch 0 what nobody fetched; node 2,
 *    whose log is empty, leads at epoch 1 and writes. Its cache starts at
 *    epoch 1, so epoch 0 ends at offset 0 for it: node 1 truncates
 *    everything and copies node 2's log.
 *  - Consecutive fast leader changes: node 1 leads at epoch 2 and loses it
 *    before writing, node 3 leads at epoch 3 and writes. Node 1's cache has
 *    an empty epoch 2 at its LEO that the leader never had: the divergence
 *    ends at the LEO, and the empty entry must go (Kafka's truncateTo at
 *    the LEO) or the follower would be told of the same divergence forever
 *    and acks=all would never complete. */
TEST(replication_divergence_no_common_epoch_and_fast_leader_changes) {
    world w = {0};
    if (!world_start(&w, "d")) {
        world_stop(&w);
        return;
    }
    /* no common epoch */
    w.paused[1] = w.paused[2] = true;
    CHECK_EQ(produce(&w, 0, 1, "old", 3), KERR_NONE);
    CHECK_EQ(log_end_offset(plog(&w, 0)), 3);
    partition_record(w.nodes[1], 2, 1);
    partition_record(w.nodes[2], 2, 1);
    w.paused[1] = w.paused[2] = false;
    CHECK_EQ(produce(&w, 1, 1, "new", 2), KERR_NONE);
    CHECK_EQ(w.base_offset, 0);
    partition_record(w.nodes[0], 2, 1);
    CHECK(converge(&w, 2));
    check_identical(&w);
    CHECK_EQ(log_epoch_for_offset(plog(&w, 0), 0), 1);

    /* consecutive fast leader changes */
    for (int i = 0; i < N; i++)
        partition_record(w.nodes[i], 1, 2);
    for (int pass = 0; pass < 10; pass++)
        pump_once(&w);
    CHECK_EQ(log_latest_epoch(plog(&w, 0)), 2); /* begun, never written */
    for (int i = 0; i < N; i++)
        partition_record(w.nodes[i], 3, 3);
    CHECK_EQ(produce(&w, 2, -1, "c", 2), KERR_NONE);
    CHECK_EQ(w.base_offset, 2);
    CHECK(converge(&w, 4));
    check_identical(&w);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(log_latest_epoch(plog(&w, i)), 3);
        CHECK_EQ(log_epoch_for_offset(plog(&w, i), 2), 3);
    }
    world_stop(&w);
}

/* 6. A follower's fetch tells the leader its log end offset as it arrives
 * (Kafka's fetchMessages updates the follower's fetch state before it parks
 * the fetch): acks=all completes as soon as the followers fetched past the
 * batch, not when their parked fetches expire (replica.fetch.wait.max.ms,
 * 30 s here; pump gives up after a few seconds). */
TEST(replication_acks_all_does_not_wait_for_parked_follower_fetches) {
    world w = {0};
    fetch_wait = "replica.fetch.wait.max.ms=30000";
    bool up = world_start(&w, "park");
    fetch_wait = "replica.fetch.wait.max.ms=20";
    if (!up) {
        world_stop(&w);
        return;
    }
    for (int i = 0; i < 3; i++) {
        int64_t t0 = clk_mono_ms();
        CHECK_EQ(produce(&w, 0, -1, "p", 2), KERR_NONE);
        CHECK_EQ(w.base_offset, 2 * i);
        CHECK(clk_mono_ms() - t0 < 3000);
    }
    world_stop(&w);
}

/* A consumer's Fetch (replica id -1) of partition 0 at offset to node
 * `to`: error, high watermark, bytes of records, the offset after the last
 * whole batch (-1: none), preferred read replica. */
typedef struct cons_fetch {
    int done;
    int16_t err;
    int64_t hw, end;
    int32_t len, preferred;
} cons_fetch;

static void on_cons_fetch(net_client *c, const net_client_result *r,
                          void *ctx) {
    SL_UNUSED(c);
    cons_fetch *cf = ctx;
    cf->err = -100;
    if (r->err == NET_CLIENT_OK) {
        const proto_fetch_response *rs = r->resp;
        if (rs->responses.n == 1 && rs->responses.v[0].partitions.n == 1) {
            const proto_fetch_response_partition_data *pd =
                &rs->responses.v[0].partitions.v[0];
            cf->err = pd->error_code;
            cf->hw = pd->high_watermark;
            cf->preferred = pd->preferred_read_replica;
            cf->len = pd->records.len > 0 ? pd->records.len : 0;
            size_t pos = 0;
            while (pos + BATCH_HEADER_SIZE <= (size_t)cf->len) {
                log_batch_header h;
                if (!batch_parse_header(pd->records.p + pos, cf->len - pos,
                                        &h) ||
                    (size_t)batch_size(&h) > cf->len - pos)
                    break;
                cf->end = batch_last_offset(&h) + 1;
                pos += (size_t)batch_size(&h);
            }
        }
    }
    cf->done++;
}

static cons_fetch consumer_fetch(world *w, int to, int16_t version,
                                 int64_t offset) {
    proto_fetch_request rq;
    proto_fetch_request_init(&rq);
    rq.replica_id = -1;
    rq.max_wait_ms = 0;
    rq.min_bytes = 1;
    rq.max_bytes = 1 << 20;
    rq.session_epoch = -1;
    proto_fetch_request_fetch_topic t;
    proto_fetch_request_fetch_topic_init(&t);
    memcpy(t.topic_id.b, TOPIC_ID, 16);
    t.topic = proto_str_c(TOPIC);
    proto_fetch_request_fetch_partition fp;
    proto_fetch_request_fetch_partition_init(&fp);
    fp.partition = 0;
    fp.fetch_offset = offset;
    fp.partition_max_bytes = 1 << 20;
    t.partitions.n = 1;
    t.partitions.v = &fp;
    rq.topics.n = 1;
    rq.topics.v = &t;
    cons_fetch cf = {0, 0, -1, -1, 0, -1};
    CHECK(net_client_send(w->cl[to], PROTO_API_FETCH, version, &rq,
                          on_cons_fetch, &cf) > 0);
    CHECK(pump(w, &cf.done, 1));
    return cf;
}

/* KIP-392: a follower serves a consumer's Fetch v11+ up to its own high
 * watermark, never above (records between its HW and its LEO wait), an
 * offset above its LEO is OFFSET_OUT_OF_RANGE, and a pre-v11 consumer
 * fetch still needs the leader. No replica.selector.class here: the leader
 * names no preferred read replica. */
TEST(replication_follower_serves_consumers_up_to_its_hw) {
    world w = {0};
    if (!world_start(&w, "ff")) {
        world_stop(&w);
        return;
    }
    CHECK_EQ(produce(&w, 0, -1, "a", 3), KERR_NONE);
    CHECK(converge(&w, 3));
    for (int pass = 0; pass < 5000 && log_high_watermark(plog(&w, 1)) < 3;
         pass++)
        pump_once(&w);
    CHECK_EQ(log_high_watermark(plog(&w, 1)), 3);
    /* node 3 stops fetching: the leader's HW stays at 3 while node 2
     * copies two more records */
    w.paused[2] = true;
    CHECK_EQ(produce(&w, 0, 1, "b", 2), KERR_NONE);
    for (int pass = 0; pass < 5000 && log_end_offset(plog(&w, 1)) < 5; pass++)
        pump_once(&w);
    CHECK_EQ(log_end_offset(plog(&w, 1)), 5);
    CHECK_EQ(log_high_watermark(plog(&w, 0)), 3);
    CHECK_EQ(log_high_watermark(plog(&w, 1)), 3);

    cons_fetch f = consumer_fetch(&w, 1, 17, 0);
    CHECK_EQ(f.err, KERR_NONE);
    CHECK_EQ(f.hw, 3);
    CHECK_EQ(f.end, 3); /* up to the follower's HW, not its LEO (5) */
    CHECK_EQ(f.preferred, -1);
    f = consumer_fetch(&w, 1, 17, 3); /* between its HW and LEO: nothing */
    CHECK_EQ(f.err, KERR_NONE);
    CHECK_EQ(f.len, 0);
    f = consumer_fetch(&w, 1, 17, 6); /* above its LEO */
    CHECK_EQ(f.err, KERR_OFFSET_OUT_OF_RANGE);
    f = consumer_fetch(&w, 1, 10, 0); /* no ClientMetadata before v11 */
    CHECK_EQ(f.err, KERR_NOT_LEADER_OR_FOLLOWER);
    f = consumer_fetch(&w, 0, 17, 0); /* the leader: to its HW too */
    CHECK_EQ(f.err, KERR_NONE);
    CHECK_EQ(f.end, 3);
    CHECK_EQ(f.preferred, -1);

    /* node 3 back: the HW reaches 5 everywhere, node 2 serves it all */
    w.paused[2] = false;
    CHECK(converge(&w, 5));
    for (int pass = 0; pass < 5000 && log_high_watermark(plog(&w, 1)) < 5;
         pass++)
        pump_once(&w);
    f = consumer_fetch(&w, 1, 17, 3);
    CHECK_EQ(f.err, KERR_NONE);
    CHECK_EQ(f.hw, 5);
    CHECK_EQ(f.end, 5);
    world_stop(&w);
}
