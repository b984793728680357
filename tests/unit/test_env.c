/* core/env: the current environment (per-node clock and rng), the named
 * fault points and the two executors. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/env.h"
#include "core/fault.h"
#include "core/uuid.h"
#include "test.h"

typedef struct skewed {
    int64_t base_ns, skew_ns;
} skewed;
static int64_t sk_mono(void *ctx) {
    skewed *s = ctx;
    return s->base_ns + s->skew_ns;
}
static int64_t sk_wall(void *ctx) {
    return sk_mono(ctx) / 1000000 + 1700000000000LL;
}

TEST(env_clock_is_per_env_and_nests) {
    skewed a = {1000000000, 0}, b = {1000000000, 250000000};
    sl_env ea = {.name = "a", .clock = {sk_mono, sk_wall, &a}};
    sl_env eb = {.name = "b", .clock = {sk_mono, sk_wall, &b}};
    CHECK(sl_env_entered() == NULL);
    const sl_env *p0 = sl_env_enter(&ea);
    CHECK_EQ(clk_mono_ns(), 1000000000);
    CHECK_EQ(clk_mono_ms(), 1000);
    const sl_env *p1 = sl_env_enter(&eb);
    CHECK_EQ(clk_mono_ms(), 1250); /* b runs 250 ms ahead: skew */
    CHECK_EQ(clk_wall_ms(), 1700000000000LL + 1250);
    sl_env_leave(p1);
    CHECK_EQ(clk_mono_ms(), 1000);
    sl_env_leave(p0);
    CHECK(sl_env_cur() == &sl_env_process);
    /* The process env (no env entered) is the system clock here. */
    CHECK(clk_mono_ns() > 0);
}

static void *read_clock_thread(void *arg) {
    *(int64_t *)arg = clk_mono_ns();
    return NULL;
}

TEST(env_other_threads_see_the_process_env) {
    skewed a = {42, 0};
    sl_env ea = {.clock = {sk_mono, sk_wall, &a}};
    const sl_env *p = sl_env_enter(&ea);
    CHECK_EQ(clk_mono_ns(), 42);
    int64_t seen = 0;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, read_clock_thread, &seen) == 0);
    pthread_join(th, NULL);
    CHECK(seen != 42); /* the system clock: nothing entered there */
    sl_env_leave(p);
}

TEST(env_rng_makes_uuids_replayable_per_env) {
    rng r1, r2;
    rng_seed(&r1, 7);
    rng_seed(&r2, 7);
    sl_env e1 = {.rng = &r1}, e2 = {.rng = &r2};
    uint8_t a[16], b[16];
    const sl_env *p = sl_env_enter(&e1);
    uuid_random(a);
    sl_env_enter(&e2);
    uuid_random(b);
    sl_env_leave(p);
    CHECK_MEM(a, b, 16);
    uuid_random(b); /* the OS */
    CHECK(memcmp(a, b, 16) != 0);
}

static int fired_id = -1, fired_n;
static void on_fire(void *ctx, sl_fault_id id) {
    (void)ctx;
    fired_id = (int)id;
    fired_n++;
}

TEST(fault_points_fire_by_name_per_registry) {
    CHECK_EQ(sl_faults_armed, 0);
    CHECK(!SL_FAULT(TXN_AFTER_PREPARE)); /* nothing armed: off */
    int id = sl_fault_lookup("txn.after-marker");
    CHECK_EQ(id, SL_FAULT_TXN_AFTER_MARKER);
    CHECK_EQ(sl_fault_lookup("no.such-point"), -1);
    CHECK_STR(sl_fault_name(SL_FAULT_TXN_AFTER_PREPARE), "txn.after-prepare");

    sl_faults f = {.on_fire = on_fire};
    sl_env e = {.faults = &f};
    char err[128];
    CHECK_EQ(sl_fault_arm_list(&f, "txn.after-marker@3", err, sizeof err), 0);
    CHECK_EQ(sl_faults_armed, 1);
    fired_n = 0;
    /* Another env (the process registry) is not armed. */
    CHECK(!SL_FAULT(TXN_AFTER_MARKER));
    const sl_env *p = sl_env_enter(&e);
    CHECK(!SL_FAULT(TXN_AFTER_PREPARE));
    CHECK(!SL_FAULT(TXN_AFTER_MARKER));
    CHECK(!SL_FAULT(TXN_AFTER_MARKER));
    CHECK(SL_FAULT(TXN_AFTER_MARKER)); /* the third hit */
    CHECK_EQ(fired_n, 1);
    CHECK_EQ(fired_id, SL_FAULT_TXN_AFTER_MARKER);
    CHECK(!SL_FAULT(TXN_AFTER_MARKER)); /* once */
    CHECK_EQ(f.hits[SL_FAULT_TXN_AFTER_MARKER], 3);
    CHECK_EQ(sl_faults_armed, 0);
    sl_fault_arm(&f, SL_FAULT_TXN_AFTER_PREPARE, -1); /* every hit */
    CHECK(SL_FAULT(TXN_AFTER_PREPARE));
    CHECK(SL_FAULT(TXN_AFTER_PREPARE));
    CHECK_EQ(fired_n, 3);
    sl_env_leave(p);
    sl_fault_reset(&f);
    CHECK_EQ(sl_faults_armed, 0);
    CHECK(sl_fault_arm_list(&f, "txn.after-prepare,bogus", err, sizeof err) <
          0);
    CHECK(strstr(err, "bogus") != NULL);
    sl_fault_reset(&f);
    CHECK_EQ(sl_faults_armed, 0);
}

typedef struct order {
    pthread_mutex_t mu;
    int seen[64];
    int n;
    pthread_t tid[64];
} order;
typedef struct otask {
    order *o;
    int i;
} otask;
static void record(void *arg) {
    otask *t = arg;
    pthread_mutex_lock(&t->o->mu);
    t->o->tid[t->o->n] = pthread_self();
    t->o->seen[t->o->n++] = t->i;
    pthread_mutex_unlock(&t->o->mu);
}

TEST(exec_inline_runs_in_submit_threads_run_in_order) {
    order o = {.mu = PTHREAD_MUTEX_INITIALIZER};
    otask t[64];
    sl_env e = {.exec = &sl_exec_inline};
    const sl_env *p = sl_env_enter(&e);
    sl_executor *ex = sl_exec_new("t-inline", 4);
    sl_env_leave(p);
    CHECK(ex->is_inline);
    for (int i = 0; i < 8; i++) {
        t[i] = (otask){&o, i};
        sl_exec_submit(ex, record, &t[i]);
        CHECK_EQ(o.n, i + 1); /* ran inside submit, on this thread */
        CHECK(pthread_equal(o.tid[i], pthread_self()));
    }
    sl_exec_free(ex);

    o.n = 0;
    ex = sl_exec_new("t-serial", 1); /* the process env: threads */
    CHECK(!ex->is_inline);
    for (int i = 0; i < 64; i++) {
        t[i] = (otask){&o, i};
        sl_exec_submit(ex, record, &t[i]);
    }
    sl_exec_free(ex); /* runs everything submitted, then joins */
    CHECK_EQ(o.n, 64);
    for (int i = 0; i < 64; i++) {
        CHECK_EQ(o.seen[i], i); /* one worker: submission order */
        CHECK(!pthread_equal(o.tid[i], pthread_self()));
    }

    o.n = 0;
    ex = sl_exec_new("t-pool", 3);
    for (int i = 0; i < 64; i++) {
        t[i] = (otask){&o, i};
        sl_exec_submit(ex, record, &t[i]);
    }
    sl_exec_free(ex);
    CHECK_EQ(o.n, 64);
    int sum = 0;
    for (int i = 0; i < 64; i++)
        sum += o.seen[i];
    CHECK_EQ(sum, 63 * 64 / 2);
}
