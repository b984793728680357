/* The leader's side of ISR changes (replica.h, Kafka's Partition
 * maybeShrinkIsr / maybeExpandIsr with AlterPartition): a follower not
 * caught up for replica.lag.time.max.ms is proposed out, one that reaches
 * the HW and the epoch start offset is proposed in (with its broker epoch;
 * not when fenced, shutting down or fetching with a stale epoch); one
 * change in flight per partition; the HW counts the maximal ISR while a
 * change is pending and holds under min.insync.replicas; the answers
 * (success, INELIGIBLE_REPLICA, retriable, FENCED_LEADER_EPOCH, stale) as
 * Kafka handles them; the image and the answers never take the partition
 * epoch back. Time and the AlterPartition channel are the test's. */
#include <stdlib.h>
#include <string.h>

#include "cluster/image.h"
#include "controller/cluster_ctl.h"
#include "controller/records.h"
#include "core/buf.h"
#include "core/util.h"
#include "log/batch.h"
#include "log/compress.h"
#include "log/log.h"
#include "proto/errors.h"
#include "replica/replica.h"
#include "cluster_fixture.h"
#include "test.h"

#define LAG 1000

typedef struct sent {
    int calls;
    int16_t answer; /* what submit returns */
    repl_isr_change last;
    int32_t isr[8];
    int64_t epochs[8];
} sent;

typedef struct ifx {
    log_manager *logs;
    log_partition *log;
    cl_image *img;
    cl_topic topic;
    cl_partition part;
    cl_partition *parts[1];
    int32_t replicas[3], isr[3];
    repl_manager *m;
    int64_t now;
    sent s;
} ifx;

static int16_t fx_submit(void *ctx, const repl_isr_change *c) {
    ifx *f = ctx;
    f->s.calls++;
    if (f->s.answer)
        return f->s.answer;
    f->s.last = *c;
    for (int32_t i = 0; i < c->n_isr && i < 8; i++) {
        f->s.isr[i] = c->isr[i];
        f->s.epochs[i] = c->broker_epochs[i];
    }
    return KERR_NONE;
}

static int64_t fx_epoch(void *ctx) {
    (void)ctx;
    return 10;
}

static int64_t fx_now(void *ctx) {
    return ((ifx *)ctx)->now;
}

/* Brokers 1..3 at epochs 10, 20, 30, unfenced. */
static cl_image *fx_image(void) {
    return ctl_fx_image("c", 3);
}

static void fx_broker_change(ifx *f, int32_t id, int8_t fenced, int8_t in_cs) {
    proto_broker_registration_change_record r;
    proto_broker_registration_change_record_init(&r);
    r.broker_id = id;
    r.broker_epoch = cl_broker_find(f->img, id)->epoch;
    r.fenced = fenced;
    r.in_controlled_shutdown = in_cs;
    buf b;
    buf_init(&b, 64);
    cl_record_frame(&b, PROTO_MD_BROKER_REGISTRATION_CHANGE_RECORD, 1);
    proto_broker_registration_change_record_encode(&b, 1, &r);
    CHECK(cl_image_apply(f->img, b.data, b.len));
    buf_free(&b);
}

/* Leader 1 of t-0, replicas [1, 2, 3], the first n_isr of them the ISR,
 * leader epoch 3, partition epoch 5; min.insync.replicas min_isr. */
static void fx_setup(ifx *f, int n_isr, int32_t min_isr) {
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
    c.min_insync_replicas = min_isr;
    f->topic.name = "t";
    memset(f->topic.id, 9, 16);
    f->topic.n_partitions = 1;
    f->parts[0] = &f->part;
    f->topic.parts = f->parts;
    f->log = log_create(f->logs, "t", 0, f->topic.id, &c, &err);
    CHECK(f->log != NULL);
    f->part.topic = &f->topic;
    f->part.leader = 1;
    f->part.leader_epoch = 3;
    f->part.partition_epoch = 5;
    for (int i = 0; i < 3; i++)
        f->replicas[i] = f->isr[i] = 1 + i;
    f->part.replicas = f->replicas;
    f->part.n_replicas = 3;
    f->part.isr = f->isr;
    f->part.n_isr = n_isr;
    f->img = fx_image();
    f->now = 100000;
    f->m = repl_manager_new(1, NULL);
    repl_isr_opts io = {
        .lag_time_max_ms = LAG,
        .image = f->img,
        .submit = fx_submit,
        .broker_epoch = fx_epoch,
        .now_ms = fx_now,
        .ctx = f,
    };
    repl_isr_start(f->m, &io);
    repl_update(f->m, &f->part, f->log);
}

static void fx_teardown(ifx *f) {
    repl_purgatory_shutdown(f->m);
    repl_manager_free(f->m);
    log_manager_close(f->logs);
    cl_image_free(f->img);
}

typedef struct done_t {
    int calls;
    int16_t err;
} done_t;

static void fx_done(void *ctx, int16_t err, const log_append_info *info) {
    (void)info;
    done_t *d = ctx;
    d->calls++;
    d->err = err;
}

static int16_t fx_append(ifx *f, int n, int16_t acks, done_t *d) {
    buf b;
    buf_init(&b, 0);
    batch_builder bb;
    batch_builder_init(&bb, COMPRESS_NONE, 0);
    for (int i = 0; i < n; i++)
        batch_builder_add(&bb, 1000 + i, "k", 1, "v", 1, NULL, 0);
    CHECK_EQ(batch_builder_finish(&bb, &b), KERR_NONE);
    batch_builder_free(&bb);
    repl_append_req rq = {
        .origin = REPL_ORIGIN_CLIENT,
        .records = b.data,
        .len = b.len,
        .acks = acks,
        .timeout_ms = 60000,
        .done = fx_done,
        .ctx = d,
    };
    log_append_info info;
    int16_t e = repl_append(f->m, &f->part, &rq, &info);
    buf_free(&b);
    return e;
}

static void fetch(ifx *f, int32_t id, int64_t epoch, int64_t off) {
    repl_follower_fetch_state(f->m, &f->part, id, epoch, off);
}

static int32_t isr_of(ifx *f, int32_t *out, bool *pending) {
    return repl_isr_state(f->m, &f->part, out, 8, pending);
}

TEST(isr_lagging_follower_is_shrunk_after_lag_time) {
    ifx f;
    fx_setup(&f, 3, 1);
    done_t d = {0};
    CHECK_EQ(fx_append(&f, 4, 1, &d), KERR_NONE);
    fetch(&f, 2, 20, 4);
    fetch(&f, 3, 30, 2);
    CHECK_EQ(log_high_watermark(f.log), 2);
    /* within the lag time (3 was caught up when the leader began) */
    f.now += LAG;
    repl_isr_check(f.m);
    CHECK_EQ(f.s.calls, 0);
    /* 2 keeps up, 3 does not: proposed out, with the members' epochs */
    f.now += 1;
    fetch(&f, 2, 20, 4);
    repl_isr_check(f.m);
    CHECK_EQ(f.s.calls, 1);
    CHECK_EQ(f.s.last.n_isr, 2);
    CHECK_EQ(f.s.isr[0], 1);
    CHECK_EQ(f.s.isr[1], 2);
    CHECK_EQ(f.s.epochs[0], 10);
    CHECK_EQ(f.s.epochs[1], 20);
    CHECK_EQ(f.s.last.leader_epoch, 3);
    CHECK_EQ(f.s.last.partition_epoch, 5);
    /* pending shrink: the HW still waits for 3 (maximal ISR), and no
     * second change goes out */
    bool pending = false;
    int32_t cur[8];
    CHECK_EQ(isr_of(&f, cur, &pending), 3);
    CHECK(pending);
    done_t all = {0};
    CHECK_EQ(fx_append(&f, 1, -1, &all), KERR_NONE);
    CHECK_EQ(all.calls, 0);
    f.now += 10 * LAG;
    repl_isr_check(f.m);
    CHECK_EQ(f.s.calls, 1);
    /* an answer for another proposal is ignored */
    int32_t two[2] = {1, 2};
    repl_isr_result(f.m, &f.s.last.key, f.s.last.seq + 7, KERR_NONE, 3, 6, two,
                    2);
    CHECK_EQ(isr_of(&f, cur, &pending), 3);
    /* committed: ISR [1, 2] at partition epoch 6, the HW moves, acks=all
     * completes */
    fetch(&f, 2, 20, 5);
    repl_isr_result(f.m, &f.s.last.key, f.s.last.seq, KERR_NONE, 3, 6, two, 2);
    CHECK_EQ(isr_of(&f, cur, &pending), 2);
    CHECK(!pending);
    CHECK_EQ(log_high_watermark(f.log), 5);
    CHECK_EQ(all.calls, 1);
    CHECK_EQ(all.err, KERR_NONE);
    CHECK_EQ(repl_isr_size(f.m, &f.part), 2);
    /* the image still at partition epoch 5 does not take it back */
    repl_update(f.m, &f.part, NULL);
    CHECK_EQ(isr_of(&f, cur, &pending), 3 - 1);
    /* the image at epoch 6 agrees */
    f.part.n_isr = 2;
    f.part.partition_epoch = 6;
    repl_update(f.m, &f.part, NULL);
    CHECK_EQ(isr_of(&f, cur, &pending), 2);
    fx_teardown(&f);
}

TEST(isr_caught_up_follower_is_expanded_when_eligible) {
    ifx f;
    fx_setup(&f, 2, 1); /* ISR [1, 2] */
    done_t d = {0};
    CHECK_EQ(fx_append(&f, 4, 1, &d), KERR_NONE);
    fetch(&f, 2, 20, 4);
    CHECK_EQ(log_high_watermark(f.log), 4);
    /* below the HW: not yet */
    fetch(&f, 3, 30, 3);
    CHECK_EQ(f.s.calls, 0);
    /* a stale broker epoch (its old incarnation), fenced, shutting down:
     * not eligible (KIP-841, KIP-903) */
    fetch(&f, 3, 29, 4);
    CHECK_EQ(f.s.calls, 0);
    fx_broker_change(&f, 3, 1, 0);
    fetch(&f, 3, 30, 4);
    CHECK_EQ(f.s.calls, 0);
    fx_broker_change(&f, 3, -1, 1);
    fetch(&f, 3, 30, 4);
    CHECK_EQ(f.s.calls, 0);
    fx_broker_change(&f, 3, -1, 0); /* (the flag stays: a new image) */
    cl_image_free(f.img);
    f.img = fx_image();
    repl_isr_opts io = {.lag_time_max_ms = LAG,
                        .image = f.img,
                        .submit = fx_submit,
                        .broker_epoch = fx_epoch,
                        .now_ms = fx_now,
                        .ctx = &f};
    repl_isr_start(f.m, &io);
    fetch(&f, 3, 30, 4);
    CHECK_EQ(f.s.calls, 1);
    CHECK_EQ(f.s.last.n_isr, 3);
    CHECK_EQ(f.s.isr[2], 3);
    CHECK_EQ(f.s.epochs[2], 30);
    /* pending expansion: the HW already waits for 3 */
    CHECK_EQ(fx_append(&f, 2, 1, &d), KERR_NONE);
    fetch(&f, 2, 20, 6);
    CHECK_EQ(log_high_watermark(f.log), 4);
    fetch(&f, 3, 30, 5);
    CHECK_EQ(log_high_watermark(f.log), 5);
    /* INELIGIBLE_REPLICA: back to the committed ISR, then proposed again */
    repl_isr_result(f.m, &f.s.last.key, f.s.last.seq, KERR_INELIGIBLE_REPLICA,
                    -1, -1, NULL, 0);
    int32_t cur[8];
    bool pending = true;
    CHECK_EQ(isr_of(&f, cur, &pending), 2);
    CHECK(!pending);
    fetch(&f, 3, 30, 6);
    CHECK_EQ(f.s.calls, 2);
    int32_t three[3] = {1, 2, 3};
    repl_isr_result(f.m, &f.s.last.key, f.s.last.seq, KERR_NONE, 3, 6, three,
                    3);
    CHECK_EQ(isr_of(&f, cur, &pending), 3);
    CHECK_EQ(log_high_watermark(f.log), 6);
    fx_teardown(&f);
}

TEST(isr_answers_retried_or_held_as_kafka_does) {
    ifx f;
    fx_setup(&f, 3, 1);
    fetch(&f, 2, 20, 0);
    f.now += LAG + 1;
    fetch(&f, 2, 20, 0);
    repl_isr_check(f.m);
    CHECK_EQ(f.s.calls, 1);
    uint64_t seq = f.s.last.seq;
    /* a retriable error: the same proposal again */
    repl_isr_result(f.m, &f.s.last.key, seq, KERR_NOT_CONTROLLER, -1, -1, NULL,
                    0);
    CHECK_EQ(f.s.calls, 2);
    CHECK_EQ(f.s.last.seq, seq);
    /* FENCED_LEADER_EPOCH: held until the image says more */
    repl_isr_result(f.m, &f.s.last.key, seq, KERR_FENCED_LEADER_EPOCH, -1, -1,
                    NULL, 0);
    CHECK_EQ(f.s.calls, 2);
    f.now += 10 * LAG;
    repl_isr_check(f.m);
    CHECK_EQ(f.s.calls, 2);
    int32_t cur[8];
    bool pending = false;
    CHECK_EQ(isr_of(&f, cur, &pending), 3);
    CHECK(pending);
    /* an answer with another leader epoch does not commit */
    int32_t two[2] = {1, 2};
    repl_isr_result(f.m, &f.s.last.key, seq, KERR_NONE, 4, 6, two, 2);
    CHECK(isr_of(&f, cur, &pending) == 3 && pending);
    /* the image (the controller fenced 3): committed from it */
    f.part.n_isr = 2;
    f.part.partition_epoch = 6;
    repl_update(f.m, &f.part, NULL);
    CHECK(isr_of(&f, cur, &pending) == 2 && !pending);
    /* a queue that refuses (one in flight already): committed again */
    f.s.answer = KERR_OPERATION_NOT_ATTEMPTED;
    done_t d = {0};
    CHECK_EQ(fx_append(&f, 1, 1, &d), KERR_NONE);
    f.now += 10 * LAG;
    repl_isr_check(f.m); /* 2 is behind now too */
    CHECK_EQ(f.s.calls, 3);
    CHECK(isr_of(&f, cur, &pending) == 2 && !pending);
    fx_teardown(&f);
}

TEST(isr_hw_holds_under_min_isr_until_the_isr_expands) {
    ifx f;
    fx_setup(&f, 2, 2); /* ISR [1, 2], min.insync.replicas 2 */
    done_t all = {0};
    CHECK_EQ(fx_append(&f, 3, -1, &all), KERR_NONE);
    CHECK_EQ(all.calls, 0);
    /* 2 falls behind and is proposed out: the waiting batch is then
     * covered by the shrunk ISR, under min.insync.replicas */
    f.now += LAG + 1;
    repl_isr_check(f.m);
    CHECK_EQ(f.s.calls, 1);
    CHECK_EQ(f.s.last.n_isr, 1);
    int32_t one[1] = {1};
    repl_isr_result(f.m, &f.s.last.key, f.s.last.seq, KERR_NONE, 3, 6, one, 1);
    /* under min ISR the HW does not move (Kafka 4): the append waits */
    CHECK_EQ(log_high_watermark(f.log), 0);
    CHECK_EQ(all.calls, 0);
    done_t d = {0};
    CHECK_EQ(fx_append(&f, 1, 1, &d), KERR_NONE);
    CHECK_EQ(d.calls, 1);
    CHECK_EQ(log_high_watermark(f.log), 0);
    /* 2 comes back, caught up to the HW: proposed in; committed: the HW
     * moves and the waiting batch completes */
    fetch(&f, 2, 20, 4);
    CHECK_EQ(f.s.calls, 2);
    int32_t two[2] = {1, 2};
    repl_isr_result(f.m, &f.s.last.key, f.s.last.seq, KERR_NONE, 3, 7, two, 2);
    CHECK_EQ(log_high_watermark(f.log), 4);
    CHECK_EQ(all.calls, 1);
    CHECK_EQ(all.err, KERR_NONE);
    fx_teardown(&f);
}
