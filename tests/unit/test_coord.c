/* The coordinator runtime (src/coord): coordinator writes go through the
 * replica manager with acks=all, a response is held until the writes
 * issued before it are committed (the HW covers them), and append errors
 * get Kafka's coordinator error mapping; InitProducerId waits for the
 * controller's producer id block. */
#include <stdlib.h>
#include <string.h>

#include "cluster/image.h"
#include "coord/coord.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/util.h"
#include "log/batch.h"
#include "log/compress.h"
#include "log/log.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "replica/replica.h"
#include "test.h"
#include "txn/txn.h"

#define SELF 1

/* A partition built by hand (topic "c"), its replica manager and a runtime
 * whose services hand that manager out. */
typedef struct cfix {
    log_manager *logs;
    log_partition *log;
    cl_topic topic;
    cl_partition part;
    cl_partition *parts[1];
    int32_t replicas[2], isr[2];
    repl_manager *m;
    coord_rt *rt;
} cfix;

static repl_manager *fix_replicas(void *host) {
    return ((cfix *)host)->m;
}

static void csetup(cfix *f, int32_t leader, int n_isr) {
    memset(f, 0, sizeof *f);
    const char *dirs[1] = {test_tmpdir()};
    log_manager_opts o = {0};
    o.log_dirs = dirs;
    o.n_log_dirs = 1;
    int16_t err;
    f->logs = log_manager_open(&o, &err);
    CHECK(f->logs != NULL);
    log_config c;
    log_config_default(&c);
    f->topic.name = "c";
    memset(f->topic.id, 9, 16);
    f->topic.n_partitions = 1;
    f->parts[0] = &f->part;
    f->topic.parts = f->parts;
    f->log = log_create(f->logs, "c", 0, f->topic.id, &c, &err);
    CHECK(f->log != NULL);
    f->part.topic = &f->topic;
    f->part.leader = leader;
    f->part.leader_epoch = 1;
    for (int i = 0; i < 2; i++)
        f->replicas[i] = f->isr[i] = SELF + i;
    f->part.replicas = f->replicas;
    f->part.n_replicas = 2;
    f->part.isr = f->isr;
    f->part.n_isr = n_isr;
    f->m = repl_manager_new(SELF, NULL);
    repl_update(f->m, &f->part, f->log);
    coord_services svc = {.host = f, .replicas = fix_replicas};
    f->rt = coord_rt_new(&svc, SELF, NULL);
}

static void cteardown(cfix *f) {
    repl_purgatory_shutdown(f->m);
    coord_rt_shutdown(f->rt);
    coord_rt_free(f->rt);
    repl_manager_free(f->m);
    log_manager_close(f->logs);
}

/* A request whose completions are counted. */
typedef struct fake_req {
    coord_req req;
    arena a;
    buf resp;
    int completions;
    coord_status st;
} fake_req;

static buf *fake_resp_buf(coord_req *r) {
    return &((fake_req *)r->host)->resp;
}
static void fake_complete(coord_req *r, coord_status st) {
    fake_req *f = r->host;
    f->completions++;
    f->st = st;
}
static bool fake_orphan(const coord_req *r) {
    SL_UNUSED(r);
    return false;
}
static const coord_req_ops fake_ops = {fake_resp_buf, fake_complete,
                                       fake_orphan};

static void fake_init(fake_req *f, coord_rt *rt) {
    memset(f, 0, sizeof *f);
    arena_init(&f->a, 1024);
    buf_init(&f->resp, 64);
    f->req.arena = &f->a;
    f->req.ops = &fake_ops;
    f->req.host = f;
    f->req.rt = rt;
    f->st = -1;
}

static void fake_free(fake_req *f) {
    arena_free(&f->a);
    buf_free(&f->resp);
}

typedef struct wdone {
    int calls;
    int16_t err;
} wdone;

static void on_done(void *ctx, int16_t err) {
    wdone *d = ctx;
    d->calls++;
    d->err = err;
}

/* Writes one batch of n records with done counted in d. */
static int16_t write_batch(cfix *f, int n, int64_t timeout_ms, bool raw,
                           wdone *d) {
    buf b;
    buf_init(&b, 256);
    batch_builder bb;
    batch_builder_init(&bb, COMPRESS_NONE, 0);
    for (int i = 0; i < n; i++)
        batch_builder_add(&bb, 1000 + i, "k", 1, "v", 1, NULL, 0);
    CHECK_EQ(batch_builder_finish(&bb, &b), KERR_NONE);
    batch_builder_free(&bb);
    coord_write_req w = {.records = b.data,
                         .len = b.len,
                         .timeout_ms = timeout_ms,
                         .done = on_done,
                         .ctx = d,
                         .raw_errors = raw};
    int16_t e = coord_write(f->rt, &f->part, &w, NULL);
    buf_free(&b);
    return e;
}

TEST(coord_write_error_mapping) {
    CHECK_EQ(coord_write_error(KERR_NONE), KERR_NONE);
    CHECK_EQ(coord_write_error(KERR_UNKNOWN_TOPIC_OR_PARTITION),
             KERR_COORDINATOR_NOT_AVAILABLE);
    CHECK_EQ(coord_write_error(KERR_NOT_ENOUGH_REPLICAS),
             KERR_COORDINATOR_NOT_AVAILABLE);
    CHECK_EQ(coord_write_error(KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND),
             KERR_COORDINATOR_NOT_AVAILABLE);
    CHECK_EQ(coord_write_error(KERR_REQUEST_TIMED_OUT),
             KERR_COORDINATOR_NOT_AVAILABLE);
    CHECK_EQ(coord_write_error(KERR_NOT_LEADER_OR_FOLLOWER),
             KERR_NOT_COORDINATOR);
    CHECK_EQ(coord_write_error(KERR_KAFKA_STORAGE_ERROR), KERR_NOT_COORDINATOR);
    CHECK_EQ(coord_write_error(KERR_MESSAGE_TOO_LARGE),
             KERR_UNKNOWN_SERVER_ERROR);
    CHECK_EQ(coord_write_error(KERR_RECORD_LIST_TOO_LARGE),
             KERR_UNKNOWN_SERVER_ERROR);
    CHECK_EQ(coord_write_error(KERR_INVALID_FETCH_SIZE),
             KERR_UNKNOWN_SERVER_ERROR);
    CHECK_EQ(coord_write_error(KERR_CORRUPT_MESSAGE), KERR_CORRUPT_MESSAGE);
}

/* One replica: the write completes inside coord_write and nothing waits. */
TEST(coord_write_single_replica_completes_at_once) {
    cfix f;
    csetup(&f, SELF, 1);
    wdone d = {0};
    CHECK_EQ(write_batch(&f, 2, 0, false, &d), KERR_NONE);
    CHECK_EQ(d.calls, 1);
    CHECK_EQ(d.err, KERR_NONE);
    CHECK_EQ(coord_writes_pending(f.rt), 0);
    fake_req r;
    fake_init(&r, f.rt);
    CHECK_EQ(coord_req_finish(&r.req, COORD_AFTER_FLUSH), COORD_AFTER_FLUSH);
    CHECK_EQ(r.completions, 0); /* the dispatch sends it, not the runtime */
    fake_free(&r);
    cteardown(&f);
}

/* Two replicas in the ISR: the response of the request that wrote, and one
 * completed later, wait until the follower has the batch. */
TEST(coord_write_holds_response_until_committed) {
    cfix f;
    csetup(&f, SELF, 2);
    wdone d = {0};
    CHECK_EQ(write_batch(&f, 2, 30000, false, &d), KERR_NONE);
    CHECK_EQ(d.calls, 0);
    CHECK_EQ(coord_writes_pending(f.rt), 1);
    fake_req r1, r2;
    fake_init(&r1, f.rt);
    fake_init(&r2, f.rt);
    CHECK_EQ(coord_req_finish(&r1.req, COORD_DONE), COORD_DEFER);
    coord_req_complete(&r2.req, COORD_AFTER_FLUSH); /* a deferred one */
    CHECK_EQ(r1.completions, 0);
    CHECK_EQ(r2.completions, 0);
    repl_follower_fetched(f.m, &f.part, SELF + 1, 1); /* not the whole batch */
    CHECK_EQ(d.calls, 0);
    CHECK_EQ(r1.completions, 0);
    repl_follower_fetched(f.m, &f.part, SELF + 1, 2);
    CHECK_EQ(d.calls, 1);
    CHECK_EQ(d.err, KERR_NONE);
    CHECK_EQ(coord_writes_pending(f.rt), 0);
    CHECK_EQ(r1.completions, 1);
    CHECK_EQ(r1.st, COORD_DONE);
    CHECK_EQ(r2.completions, 1);
    CHECK_EQ(r2.st, COORD_AFTER_FLUSH);
    /* nothing pending any more: a completion goes out at once */
    fake_req r3;
    fake_init(&r3, f.rt);
    coord_req_complete(&r3.req, COORD_DONE);
    CHECK_EQ(r3.completions, 1);
    fake_free(&r1);
    fake_free(&r2);
    fake_free(&r3);
    cteardown(&f);
}

/* A response waits only for the writes issued before it. */
TEST(coord_write_later_writes_do_not_hold_earlier_responses) {
    cfix f;
    csetup(&f, SELF, 2);
    wdone d1 = {0}, d2 = {0};
    CHECK_EQ(write_batch(&f, 1, 30000, false, &d1), KERR_NONE);
    fake_req r1;
    fake_init(&r1, f.rt);
    CHECK_EQ(coord_req_finish(&r1.req, COORD_DONE), COORD_DEFER);
    CHECK_EQ(write_batch(&f, 1, 30000, false, &d2), KERR_NONE);
    fake_req r2;
    fake_init(&r2, f.rt);
    CHECK_EQ(coord_req_finish(&r2.req, COORD_DONE), COORD_DEFER);
    repl_follower_fetched(f.m, &f.part, SELF + 1, 1); /* the first batch */
    CHECK_EQ(d1.calls, 1);
    CHECK_EQ(d2.calls, 0);
    CHECK_EQ(r1.completions, 1);
    CHECK_EQ(r2.completions, 0);
    repl_follower_fetched(f.m, &f.part, SELF + 1, 2);
    CHECK_EQ(d2.calls, 1);
    CHECK_EQ(r2.completions, 1);
    fake_free(&r1);
    fake_free(&r2);
    cteardown(&f);
}

/* Append errors: mapped for coordinator partitions, raw on request; a write
 * that times out or loses leadership while pending reports the mapped
 * error and releases the responses behind it. */
TEST(coord_write_errors_map_to_kafka_coordinator_errors) {
    cfix f;
    csetup(&f, SELF + 1, 2); /* the other node leads */
    wdone d = {0};
    CHECK_EQ(write_batch(&f, 1, 0, false, &d), KERR_NOT_COORDINATOR);
    CHECK_EQ(write_batch(&f, 1, 0, true, &d), KERR_NOT_LEADER_OR_FOLLOWER);
    CHECK_EQ(d.calls, 0);
    CHECK_EQ(coord_writes_pending(f.rt), 0);
    cteardown(&f);

    csetup(&f, SELF, 2);
    wdone t = {0};
    CHECK_EQ(write_batch(&f, 1, 10, false, &t), KERR_NONE);
    fake_req r;
    fake_init(&r, f.rt);
    CHECK_EQ(coord_req_finish(&r.req, COORD_DONE), COORD_DEFER);
    repl_purgatory_expire(f.m, INT64_MAX); /* acks=all not met in time */
    CHECK_EQ(t.calls, 1);
    CHECK_EQ(t.err, KERR_COORDINATOR_NOT_AVAILABLE);
    CHECK_EQ(r.completions, 1);
    wdone l = {0};
    CHECK_EQ(write_batch(&f, 1, 30000, false, &l), KERR_NONE);
    f.part.leader = SELF + 1; /* leadership moves while it waits */
    f.part.leader_epoch = 2;
    repl_update(f.m, &f.part, NULL);
    CHECK_EQ(l.calls, 1);
    CHECK_EQ(l.err, KERR_NOT_COORDINATOR);
    CHECK_EQ(coord_writes_pending(f.rt), 0);
    fake_free(&r);
    cteardown(&f);
}

/* At shutdown the held responses go out even if their write never
 * completes. */
TEST(coord_shutdown_releases_held_responses) {
    cfix f;
    csetup(&f, SELF, 2);
    wdone d = {0};
    CHECK_EQ(write_batch(&f, 1, 30000, false, &d), KERR_NONE);
    fake_req r;
    fake_init(&r, f.rt);
    CHECK_EQ(coord_req_finish(&r.req, COORD_DONE), COORD_DEFER);
    coord_rt_shutdown(f.rt);
    CHECK_EQ(r.completions, 1);
    CHECK_EQ(d.calls, 0);
    repl_purgatory_shutdown(f.m); /* the write itself ends with the node */
    CHECK_EQ(d.calls, 1);
    fake_free(&r);
    coord_rt_free(f.rt);
    repl_manager_free(f.m);
    log_manager_close(f.logs);
}

/* ---- InitProducerId waits for the controller's producer id block -------- */

typedef struct fake_pids {
    int calls;
    void (*done)(void *arg, int16_t err, int64_t first);
    void *arg;
} fake_pids;
static fake_pids pids;

static void fake_alloc(void *host, int32_t block, int64_t floor,
                       void (*done)(void *arg, int16_t err, int64_t first),
                       void *arg) {
    SL_UNUSED(host);
    SL_UNUSED(floor);
    CHECK_EQ(block, 1000);
    pids.calls++;
    pids.done = done;
    pids.arg = arg;
}

static log_manager *fix_logs(void *host) {
    return ((cfix *)host)->logs;
}

/* An idempotent producer's InitProducerId (no transactional id), v4. */
static void init_pid_req(fake_req *r, coord_rt *rt, buf *body) {
    fake_init(r, rt);
    proto_init_producer_id_request rq;
    proto_init_producer_id_request_init(&rq);
    rq.transactional_id = PROTO_STR_NULL;
    rq.transaction_timeout_ms = 60000;
    buf_init(body, 64);
    proto_init_producer_id_request_encode(body, 4, &rq);
    rd_init(&r->req.body, body->data, body->len);
    r->req.api_key = 22;
    r->req.api_version = 4;
    r->req.flexible = true;
}

static void init_pid_resp(fake_req *r, int16_t *err, int64_t *pid) {
    proto_init_producer_id_response rs;
    rd rr;
    rd_init(&rr, r->resp.data, r->resp.len);
    CHECK_EQ(proto_init_producer_id_response_decode(&rr, &r->a, 4, &rs),
             PROTO_OK);
    *err = rs.error_code;
    *pid = rs.producer_id;
}

TEST(coord_init_producer_id_waits_for_block) {
    cfix f;
    csetup(&f, SELF, 1);
    memset(&pids, 0, sizeof pids);
    coord_services svc = {.host = &f,
                          .replicas = fix_replicas,
                          .logs = fix_logs,
                          .allocate_producer_ids = fake_alloc};
    coord_rt *rt = coord_rt_new(&svc, SELF, NULL);
    txn_node *tn = txn_node_new(rt);
    fake_req r1, r2, r3;
    buf b1, b2, b3;
    init_pid_req(&r1, rt, &b1);
    init_pid_req(&r2, rt, &b2);
    CHECK_EQ(txn_handle_init_producer_id(tn, &r1.req), COORD_DEFER);
    CHECK_EQ(txn_handle_init_producer_id(tn, &r2.req), COORD_DEFER);
    CHECK_EQ(pids.calls, 1); /* one block request at a time */
    CHECK_EQ(r1.completions, 0);
    pids.done(pids.arg, KERR_NONE, 5000); /* the controller committed it */
    CHECK_EQ(r1.completions, 1);
    CHECK_EQ(r2.completions, 1);
    int16_t e;
    int64_t pid;
    init_pid_resp(&r1, &e, &pid);
    CHECK_EQ(e, KERR_NONE);
    CHECK_EQ(pid, 5000);
    init_pid_resp(&r2, &e, &pid);
    CHECK_EQ(pid, 5001);
    /* the block is there: answered at once */
    init_pid_req(&r3, rt, &b3);
    CHECK_EQ(txn_handle_init_producer_id(tn, &r3.req), COORD_DONE);
    init_pid_resp(&r3, &e, &pid);
    CHECK_EQ(pid, 5002);
    CHECK_EQ(pids.calls, 1);
    fake_req *rs[3] = {&r1, &r2, &r3};
    buf *bs[3] = {&b1, &b2, &b3};
    for (int i = 0; i < 3; i++) {
        fake_free(rs[i]);
        buf_free(bs[i]);
    }
    txn_node_free(tn);
    coord_rt_free(rt);
    cteardown(&f);
}

TEST(coord_init_producer_id_block_failure_and_shutdown) {
    cfix f;
    csetup(&f, SELF, 1);
    memset(&pids, 0, sizeof pids);
    coord_services svc = {.host = &f,
                          .replicas = fix_replicas,
                          .logs = fix_logs,
                          .allocate_producer_ids = fake_alloc};
    coord_rt *rt = coord_rt_new(&svc, SELF, NULL);
    txn_node *tn = txn_node_new(rt);
    fake_req r1, r2;
    buf b1, b2;
    init_pid_req(&r1, rt, &b1);
    CHECK_EQ(txn_handle_init_producer_id(tn, &r1.req), COORD_DEFER);
    pids.done(pids.arg, KERR_NOT_CONTROLLER, -1); /* the commit failed */
    CHECK_EQ(r1.completions, 1);
    int16_t e;
    int64_t pid;
    init_pid_resp(&r1, &e, &pid);
    CHECK_EQ(e, KERR_COORDINATOR_LOAD_IN_PROGRESS); /* retriable */
    CHECK_EQ(pid, -1);
    /* a new request asks again; the node stops before the block comes */
    init_pid_req(&r2, rt, &b2);
    CHECK_EQ(txn_handle_init_producer_id(tn, &r2.req), COORD_DEFER);
    CHECK_EQ(pids.calls, 2);
    coord_rt_shutdown(rt);
    CHECK_EQ(r2.completions, 1);
    init_pid_resp(&r2, &e, &pid);
    CHECK_EQ(e, KERR_NOT_COORDINATOR);
    txn_node_free(tn);
    pids.done(pids.arg, KERR_NONE, 7000); /* after the node: dropped */
    fake_free(&r1);
    fake_free(&r2);
    buf_free(&b1);
    buf_free(&b2);
    coord_rt_free(rt);
    cteardown(&f);
}

/* ---- the transaction coordinator follows its partition's leadership ---- */

static const uint8_t TS_ID[16] = {7, 7, 7, 7, 7, 7, 7, 7,
                                  7, 7, 7, 7, 7, 7, 7, 7};

typedef struct tfix {
    log_manager *logs;
    cl_image *img;
    repl_manager *m;
} tfix;

static cl_image *tfix_image(void *host) {
    return ((tfix *)host)->img;
}
static repl_manager *tfix_replicas(void *host) {
    return ((tfix *)host)->m;
}
static log_manager *tfix_logs(void *host) {
    return ((tfix *)host)->logs;
}
static int64_t tfix_cfg(void *host, coord_cfg key) {
    SL_UNUSED(host);
    SL_UNUSED(key);
    return 900000; /* every timeout / interval read here */
}

/* __transaction_state-0, replicas [1, 2], led by leader (ISR: it alone). */
static void ts_partition(tfix *f, int32_t leader, int32_t epoch) {
    int32_t reps[2] = {1, 2};
    proto_partition_record r;
    proto_partition_record_init(&r);
    memcpy(r.topic_id.b, TS_ID, 16);
    r.partition_id = 0;
    r.replicas.n = 2;
    r.replicas.v = reps;
    r.isr.n = 1;
    r.isr.v = &reps[leader - 1];
    r.leader = leader;
    r.leader_epoch = epoch;
    r.partition_epoch = epoch;
    buf v;
    buf_init(&v, 64);
    cl_record_frame(&v, PROTO_MD_PARTITION_RECORD, 0);
    proto_partition_record_encode(&v, 0, &r);
    CHECK(cl_image_apply(f->img, v.data, v.len));
    buf_free(&v);
}

/* InitProducerId v4 for transactional id "tx": error, producer id, epoch. */
static coord_status init_tx(txn_node *tn, coord_rt *rt, fake_req *r, buf *b) {
    fake_init(r, rt);
    proto_init_producer_id_request rq;
    proto_init_producer_id_request_init(&rq);
    rq.transactional_id = proto_str_c("tx");
    rq.transaction_timeout_ms = 60000;
    rq.producer_id = -1;
    rq.producer_epoch = -1;
    buf_init(b, 64);
    proto_init_producer_id_request_encode(b, 4, &rq);
    rd_init(&r->req.body, b->data, b->len);
    r->req.api_key = 22;
    r->req.api_version = 4;
    r->req.flexible = true;
    return txn_handle_init_producer_id(tn, &r->req);
}

static void init_tx_resp(fake_req *r, int16_t *err, int64_t *pid,
                         int16_t *epoch) {
    proto_init_producer_id_response rs;
    rd rr;
    rd_init(&rr, r->resp.data, r->resp.len);
    CHECK_EQ(proto_init_producer_id_response_decode(&rr, &r->a, 4, &rs),
             PROTO_OK);
    *err = rs.error_code;
    *pid = rs.producer_id;
    *epoch = rs.producer_epoch;
}

/* Kafka's TransactionCoordinator.onElection / onResignation: a node that
 * stops leading a __transaction_state partition forgets its ids (requests
 * get NOT_COORDINATOR); leading it again loads them back from its log. */
TEST(coord_txn_follows_state_partition_leadership) {
    tfix f = {0};
    const char *dirs[1] = {test_tmpdir()};
    log_manager_opts o = {0};
    o.log_dirs = dirs;
    o.n_log_dirs = 1;
    int16_t err;
    f.logs = log_manager_open(&o, &err);
    CHECK(f.logs != NULL);
    f.img = cl_image_new();
    proto_topic_record tr;
    proto_topic_record_init(&tr);
    tr.name = proto_str_c(TXN_STATE_TOPIC);
    memcpy(tr.topic_id.b, TS_ID, 16);
    buf v;
    buf_init(&v, 64);
    cl_record_frame(&v, PROTO_MD_TOPIC_RECORD, 0);
    proto_topic_record_encode(&v, 0, &tr);
    CHECK(cl_image_apply(f.img, v.data, v.len));
    buf_free(&v);
    ts_partition(&f, SELF, 0);
    cl_topic *t =
        cl_topic_find(f.img, TXN_STATE_TOPIC, strlen(TXN_STATE_TOPIC));
    CHECK(t != NULL && t->n_partitions == 1);
    log_config lc;
    log_config_default(&lc);
    log_partition *log =
        log_create(f.logs, TXN_STATE_TOPIC, 0, t->id, &lc, &err);
    CHECK(log != NULL);
    f.m = repl_manager_new(SELF, NULL);
    repl_update(f.m, t->parts[0], log);

    memset(&pids, 0, sizeof pids);
    coord_services svc = {.host = &f,
                          .cfg_i64 = tfix_cfg,
                          .image = tfix_image,
                          .replicas = tfix_replicas,
                          .logs = tfix_logs,
                          .allocate_producer_ids = fake_alloc};
    coord_rt *rt = coord_rt_new(&svc, SELF, NULL);
    txn_node *tn = txn_node_new(rt);
    CHECK_EQ(txn_coordinator_of(tn, proto_str_c("tx")), SELF);

    fake_req r1, r2, r3;
    buf b1, b2, b3;
    int16_t e, epoch;
    int64_t pid;
    CHECK_EQ(init_tx(tn, rt, &r1, &b1), COORD_DEFER); /* a pid block */
    pids.done(pids.arg, KERR_NONE, 5000);
    CHECK_EQ(r1.completions, 1);
    init_tx_resp(&r1, &e, &pid, &epoch);
    CHECK_EQ(e, KERR_NONE);
    CHECK_EQ(pid, 5000);
    CHECK_EQ(epoch, 0);
    int64_t leo = log_end_offset(log);
    CHECK(leo > 0); /* the id's state is in the log */

    /* node 2 becomes the leader: this node resigns */
    ts_partition(&f, 2, 1);
    repl_update(f.m, t->parts[0], NULL);
    txn_partition_changed(tn, 0, false);
    CHECK_EQ(txn_coordinator_of(tn, proto_str_c("tx")), 2);
    CHECK_EQ(init_tx(tn, rt, &r2, &b2), COORD_DONE);
    init_tx_resp(&r2, &e, &pid, &epoch);
    CHECK_EQ(e, KERR_NOT_COORDINATOR);

    /* as a follower it replicates node 2's coordinator writes: node 2 gave
     * the id epoch 5 */
    {
        buf key, val, out;
        buf_init(&key, 32);
        buf_init(&val, 64);
        buf_init(&out, 256);
        proto_transaction_log_key k;
        proto_transaction_log_key_init(&k);
        k.transactional_id = proto_str_c("tx");
        buf_put_be16(&key, 0);
        proto_transaction_log_key_encode(&key, 0, &k);
        proto_transaction_log_value tv;
        proto_transaction_log_value_init(&tv);
        tv.producer_id = 5000;
        tv.producer_epoch = 5;
        tv.transaction_timeout_ms = 60000;
        tv.transaction_status = 4; /* CompleteCommit */
        tv.transaction_partitions.n = 0;
        tv.transaction_last_update_timestamp_ms = 1;
        tv.transaction_start_timestamp_ms = -1;
        buf_put_be16(&val, 0);
        proto_transaction_log_value_encode(&val, 0, &tv);
        batch_builder bb;
        batch_builder_init(&bb, 0, leo);
        batch_builder_set_leader_epoch(&bb, 1);
        batch_builder_add(&bb, 1, key.data, (int32_t)key.len, val.data,
                          (int32_t)val.len, NULL, 0);
        CHECK_EQ(batch_builder_finish(&bb, &out), 0);
        batch_builder_free(&bb);
        repl_append_req ar = {.origin = REPL_ORIGIN_REPLICATION,
                              .records = out.data,
                              .len = out.len,
                              .acks = 1};
        log_append_info ai;
        CHECK_EQ(repl_append(f.m, t->parts[0], &ar, &ai), KERR_NONE);
        CHECK_EQ(log_end_offset(log), leo + 1);
        buf_free(&key);
        buf_free(&val);
        buf_free(&out);
    }

    /* elected again: the id comes back from the log as node 2 left it
     * (same producer id, its epoch bumped; no new block needed) */
    ts_partition(&f, SELF, 2);
    repl_update(f.m, t->parts[0], NULL);
    txn_partition_changed(tn, 0, true);
    CHECK_EQ(init_tx(tn, rt, &r3, &b3), COORD_DONE);
    init_tx_resp(&r3, &e, &pid, &epoch);
    CHECK_EQ(e, KERR_NONE);
    CHECK_EQ(pid, 5000);
    CHECK_EQ(epoch, 6);
    CHECK_EQ(pids.calls, 1);

    fake_req *rs[3] = {&r1, &r2, &r3};
    buf *bs[3] = {&b1, &b2, &b3};
    for (int i = 0; i < 3; i++) {
        fake_free(rs[i]);
        buf_free(bs[i]);
    }
    repl_purgatory_shutdown(f.m);
    coord_rt_shutdown(rt);
    txn_node_free(tn);
    coord_rt_free(rt);
    repl_manager_free(f.m);
    log_manager_close(f.logs);
    cl_image_free(f.img);
}
