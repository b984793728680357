/* The replica manager (src/replica): the high watermark only moves forward,
 * the append path and its completion, acks=all deferred until the ISR has
 * the batch, the purgatory's deadlines and wake-ups, not-leader errors. */
#include <stdlib.h>
#include <string.h>

#include "cluster/image.h"
#include "core/clock.h"
#include "core/buf.h"
#include "core/util.h"
#include "log/batch.h"
#include "log/compress.h"
#include "log/log.h"
#include "proto/errors.h"
#include "replica/replica.h"
#include "test.h"

#define SELF 1

/* A partition of the image built by hand: topic "t", leader and ISR. */
typedef struct fixture {
    log_manager *logs;
    log_partition *log;
    cl_topic topic;
    cl_partition part;
    cl_partition *parts[1];
    int32_t replicas[3], isr[3];
    repl_manager *m;
} fixture;

static void setup(fixture *f, int32_t leader, int n_isr) {
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
    f->topic.name = "t";
    memset(f->topic.id, 7, 16);
    f->topic.n_partitions = 1;
    f->parts[0] = &f->part;
    f->topic.parts = f->parts;
    f->log = log_create(f->logs, "t", 0, f->topic.id, &c, &err);
    CHECK(f->log != NULL);
    f->part.topic = &f->topic;
    f->part.id = 0;
    f->part.leader = leader;
    f->part.leader_epoch = 3;
    for (int i = 0; i < 3; i++)
        f->replicas[i] = f->isr[i] = SELF + i;
    f->part.replicas = f->replicas;
    f->part.n_replicas = 3;
    f->part.isr = f->isr;
    f->part.n_isr = n_isr;
    f->m = repl_manager_new(SELF, NULL);
    repl_update(f->m, &f->part, f->log);
}

static void teardown(fixture *f) {
    repl_purgatory_shutdown(f->m);
    repl_manager_free(f->m);
    log_manager_close(f->logs);
}

static void make_batch(buf *out, int n) {
    batch_builder b;
    batch_builder_init(&b, COMPRESS_NONE, 0);
    for (int i = 0; i < n; i++)
        batch_builder_add(&b, 1000 + i, "k", 1, "v", 1, NULL, 0);
    CHECK_EQ(batch_builder_finish(&b, out), KERR_NONE);
    batch_builder_free(&b);
}

typedef struct done_rec {
    int calls;
    int16_t err;
    int64_t base;
} done_rec;

static void on_done(void *ctx, int16_t err, const log_append_info *info) {
    done_rec *d = ctx;
    d->calls++;
    d->err = err;
    d->base = info->base_offset;
}

static int16_t append(fixture *f, int n, int16_t acks, int64_t timeout,
                      done_rec *d) {
    buf b;
    buf_init(&b, 0);
    make_batch(&b, n);
    repl_append_req rq = {
        .origin = REPL_ORIGIN_CLIENT,
        .records = b.data,
        .len = b.len,
        .acks = acks,
        .timeout_ms = timeout,
        .done = on_done,
        .ctx = d,
    };
    log_append_info info;
    int16_t e = repl_append(f->m, &f->part, &rq, &info);
    buf_free(&b);
    return e;
}

TEST(repl_append_completes_and_moves_hw) {
    fixture f;
    setup(&f, SELF, 1);
    CHECK(repl_is_leader(f.m, &f.part));
    CHECK(repl_leader_epoch(f.m, &f.part) == 3);
    done_rec d = {0};
    CHECK_EQ(append(&f, 3, 1, 1000, &d), KERR_NONE);
    CHECK_EQ(d.calls, 1);
    CHECK_EQ(d.err, KERR_NONE);
    CHECK_EQ(d.base, 0);
    CHECK_EQ(log_high_watermark(f.log), 3);
    /* acks=all with an ISR of one: complete at once, HW at the batch end */
    done_rec d2 = {0};
    CHECK_EQ(append(&f, 2, -1, 1000, &d2), KERR_NONE);
    CHECK_EQ(d2.calls, 1);
    CHECK_EQ(d2.base, 3);
    CHECK_EQ(log_high_watermark(f.log), 5);
    CHECK_EQ(repl_purgatory_size(f.m), 0);
    teardown(&f);
}

TEST(repl_hw_only_moves_forward) {
    fixture f;
    setup(&f, SELF, 2); /* ISR {1, 2}: the HW waits for follower 2 */
    done_rec d = {0};
    CHECK_EQ(append(&f, 4, 1, 1000, &d), KERR_NONE);
    CHECK_EQ(d.calls, 1); /* acks=1: the leader's append is enough */
    CHECK_EQ(log_high_watermark(f.log), 0);
    repl_follower_fetched(f.m, &f.part, 2, 3);
    CHECK_EQ(log_high_watermark(f.log), 3);
    /* a follower reporting less (a stale fetch) does not move it back */
    repl_follower_fetched(f.m, &f.part, 2, 1);
    CHECK_EQ(log_high_watermark(f.log), 3);
    /* a replica outside the ISR does not count */
    repl_follower_fetched(f.m, &f.part, 3, 0);
    CHECK_EQ(log_high_watermark(f.log), 3);
    /* the ISR shrinks to the leader: HW = LEO, and re-stating the image
     * leaves it there */
    f.part.n_isr = 1;
    repl_update(f.m, &f.part, NULL);
    CHECK_EQ(log_high_watermark(f.log), 4);
    f.part.n_isr = 2;
    repl_update(f.m, &f.part, NULL);
    CHECK_EQ(log_high_watermark(f.log), 4);
    teardown(&f);
}

TEST(repl_acks_all_deferred_until_isr_has_it) {
    fixture f;
    setup(&f, SELF, 2);
    done_rec d = {0};
    CHECK_EQ(append(&f, 2, -1, 30000, &d), KERR_NONE);
    CHECK_EQ(d.calls, 0); /* deferred */
    CHECK_EQ(repl_purgatory_size(f.m), 1);
    repl_follower_fetched(f.m, &f.part, 2, 1); /* not yet the batch end */
    CHECK_EQ(d.calls, 0);
    repl_follower_fetched(f.m, &f.part, 2, 2);
    CHECK_EQ(d.calls, 1);
    CHECK_EQ(d.err, KERR_NONE);
    CHECK_EQ(d.base, 0);
    CHECK_EQ(repl_purgatory_size(f.m), 0);
    /* not met by the deadline: REQUEST_TIMED_OUT, once */
    done_rec d2 = {0};
    CHECK_EQ(append(&f, 1, -1, 0, &d2), KERR_NONE);
    CHECK_EQ(d2.calls, 0);
    repl_purgatory_expire(f.m, INT64_MAX);
    CHECK_EQ(d2.calls, 1);
    CHECK_EQ(d2.err, KERR_REQUEST_TIMED_OUT);
    repl_purgatory_expire(f.m, INT64_MAX);
    CHECK_EQ(d2.calls, 1);
    /* leadership lost while waiting: NOT_LEADER_OR_FOLLOWER */
    done_rec d3 = {0};
    CHECK_EQ(append(&f, 1, -1, 30000, &d3), KERR_NONE);
    CHECK_EQ(d3.calls, 0);
    f.part.leader = 2;
    f.part.leader_epoch = 4;
    repl_update(f.m, &f.part, NULL);
    CHECK_EQ(d3.calls, 1);
    CHECK_EQ(d3.err, KERR_NOT_LEADER_OR_FOLLOWER);
    teardown(&f);
}

TEST(repl_acks_all_isr_shrinks_below_min_isr_after_append) {
    fixture f;
    setup(&f, SELF, 2);
    log_config c = *log_get_config(f.log);
    c.min_insync_replicas = 2;
    log_set_config(f.log, &c);
    done_rec d = {0};
    CHECK_EQ(append(&f, 2, -1, 30000, &d), KERR_NONE);
    CHECK_EQ(d.calls, 0);
    /* follower 2 drops out of the ISR before it has the batch: with one
     * in-sync replica of min.insync.replicas=2 the HW does not move (Kafka
     * 4's Partition.maybeIncrementLeaderHW: not while under min ISR,
     * KIP-966), so the batch is never acknowledged: its deadline answers
     * REQUEST_TIMED_OUT. (NOT_ENOUGH_REPLICAS_AFTER_APPEND would need an HW
     * that passes the batch while under min ISR.) */
    f.part.n_isr = 1;
    repl_update(f.m, &f.part, NULL);
    CHECK_EQ(d.calls, 0);
    CHECK_EQ(log_high_watermark(f.log), 0);
    repl_follower_fetched(f.m, &f.part, 2, 2);
    CHECK_EQ(d.calls, 0);
    CHECK_EQ(log_high_watermark(f.log), 0);
    repl_purgatory_expire(f.m, clk_mono_ms() + 30001);
    CHECK_EQ(d.calls, 1);
    CHECK_EQ(d.err, KERR_REQUEST_TIMED_OUT);
    /* with both in sync it is a plain success */
    f.part.n_isr = 2;
    repl_update(f.m, &f.part, NULL);
    done_rec d2 = {0};
    CHECK_EQ(append(&f, 1, -1, 30000, &d2), KERR_NONE);
    repl_follower_fetched(f.m, &f.part, 2, 3);
    CHECK_EQ(d2.calls, 1);
    CHECK_EQ(d2.err, KERR_NONE);
    teardown(&f);
}

TEST(repl_not_leader_errors) {
    fixture f;
    setup(&f, 2, 2); /* node 2 leads: we follow */
    CHECK(!repl_is_leader(f.m, &f.part));
    CHECK_EQ(repl_role_of(f.m, &f.part), REPL_ROLE_FOLLOWER);
    int16_t err = 0;
    CHECK(repl_leader_log(f.m, &f.part, &err) == NULL);
    CHECK_EQ(err, KERR_NOT_LEADER_OR_FOLLOWER);
    CHECK(repl_log(f.m, &f.part) == f.log);
    done_rec d = {0};
    CHECK_EQ(append(&f, 1, 1, 1000, &d), KERR_NOT_LEADER_OR_FOLLOWER);
    CHECK_EQ(d.calls, 0);
    CHECK_EQ(log_end_offset(f.log), 0);
    /* a partition never seen: not hosted */
    cl_partition other = f.part;
    other.id = 5;
    CHECK(repl_leader_log(f.m, &other, &err) == NULL);
    CHECK_EQ(err, KERR_NOT_LEADER_OR_FOLLOWER);
    CHECK_EQ(repl_role_of(f.m, &other), REPL_ROLE_NONE);
    /* becoming leader */
    f.part.leader = SELF;
    repl_update(f.m, &f.part, NULL);
    CHECK(repl_leader_log(f.m, &f.part, &err) == f.log);
    CHECK_EQ(err, KERR_NONE);
    /* the request's current leader epoch against ours (3) */
    CHECK_EQ(repl_check_epoch(f.m, &f.part, -1), KERR_NONE);
    CHECK_EQ(repl_check_epoch(f.m, &f.part, 3), KERR_NONE);
    CHECK_EQ(repl_check_epoch(f.m, &f.part, 2), KERR_FENCED_LEADER_EPOCH);
    CHECK_EQ(repl_check_epoch(f.m, &f.part, 4), KERR_UNKNOWN_LEADER_EPOCH);
    /* removed: the log goes back to the caller */
    CHECK(repl_remove(f.m, &f.part) == f.log);
    CHECK_EQ(repl_role_of(f.m, &f.part), REPL_ROLE_NONE);
    teardown(&f);
}

/* A fake waiting fetch: completes when the HW reaches want. */
typedef struct fake_op {
    fixture *f;
    int64_t want;
    int tries, completes;
    bool expired;
} fake_op;

static bool fake_try(void *ctx) {
    fake_op *o = ctx;
    o->tries++;
    return log_high_watermark(o->f->log) >= o->want;
}

static void fake_complete(void *ctx, bool expired) {
    fake_op *o = ctx;
    o->completes++;
    o->expired = expired;
}

static const repl_op_ops fake_ops = {fake_try, fake_complete};

TEST(repl_purgatory_wakeup_and_deadline) {
    fixture f;
    setup(&f, SELF, 1);
    repl_key k = repl_key_of(&f.part);
    repl_key other = k;
    other.partition = 9;
    fake_op a = {.f = &f, .want = 2}, b = {.f = &f, .want = 100},
            c = {.f = &f, .want = 1};
    repl_purgatory_add(f.m, &k, 1, 60000, &fake_ops, &a);
    repl_purgatory_add(f.m, &k, 1, 0, &fake_ops, &b);
    repl_purgatory_add(f.m, &other, 1, 60000, &fake_ops, &c);
    CHECK_EQ(repl_purgatory_size(f.m), 3);
    done_rec d = {0};
    CHECK_EQ(append(&f, 1, 1, 1000, &d), KERR_NONE); /* HW 1 */
    CHECK_EQ(a.completes, 0);
    CHECK(a.tries >= 1);
    CHECK_EQ(c.tries, 0); /* another partition's entry is not looked at */
    CHECK_EQ(append(&f, 1, 1, 1000, &d), KERR_NONE); /* HW 2: a wakes */
    CHECK_EQ(a.completes, 1);
    CHECK(!a.expired);
    CHECK_EQ(b.completes, 0);
    /* b's deadline (0 ms) passed; c's (60 s) did not */
    repl_purgatory_expire(f.m, clk_mono_ms() + 1000);
    CHECK_EQ(b.completes, 1);
    CHECK(b.expired);
    /* far past c's deadline too */
    repl_purgatory_expire(f.m, INT64_MAX);
    CHECK_EQ(c.completes, 1);
    CHECK_EQ(a.completes, 1); /* exactly once */
    CHECK_EQ(repl_purgatory_size(f.m), 0);
    /* a removed partition's entries complete at the next expiry */
    fake_op e = {.f = &f, .want = 100};
    repl_purgatory_add(f.m, &k, 1, 60000, &fake_ops, &e);
    repl_remove(f.m, &f.part);
    CHECK_EQ(e.completes, 0);
    repl_purgatory_expire(f.m, INT64_MIN);
    CHECK_EQ(e.completes, 1);
    teardown(&f);
}

/* Many partitions watched (the watch table grows): each entry still wakes
 * on its own partition only. */
TEST(repl_purgatory_many_keys) {
    fixture f;
    setup(&f, SELF, 1);
    enum { N = 3000 };
    repl_key *keys = calloc(N, sizeof *keys);
    static fake_op ops[N];
    for (int i = 0; i < N; i++) {
        memset(keys[i].topic_id, 9, 16);
        keys[i].partition = i;
        ops[i] = (fake_op){.f = &f, .want = 1};
        repl_purgatory_add(f.m, &keys[i], 1, 60000, &fake_ops, &ops[i]);
    }
    /* the fixture's partition among them too */
    fake_op mine = {.f = &f, .want = 1};
    repl_key k = repl_key_of(&f.part);
    repl_purgatory_add(f.m, &k, 1, 60000, &fake_ops, &mine);
    CHECK_EQ(repl_purgatory_size(f.m), N + 1);
    done_rec d = {0};
    CHECK_EQ(append(&f, 1, 1, 1000, &d), KERR_NONE);
    CHECK_EQ(mine.completes, 1);
    int others = 0;
    for (int i = 0; i < N; i++)
        others += ops[i].tries + ops[i].completes;
    CHECK_EQ(others, 0);
    repl_purgatory_check(f.m, &keys[1234]);
    CHECK_EQ(ops[1234].completes, 1);
    CHECK_EQ(repl_purgatory_size(f.m), N - 1);
    free(keys);
    teardown(&f); /* the rest complete at shutdown */
    CHECK_EQ(ops[0].completes, 1);
    CHECK(ops[0].expired);
}
