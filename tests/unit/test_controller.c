/* Unit tests: the controller's asynchronous submit (src/controller):
 * callbacks only once the log says the records are durable, in submission
 * order, never inside ctl_submit with a loop; a failed log fails every
 * pending submit with a Kafka error and applies nothing; and the metadata
 * log implementation (meta_log.c) syncs on the flusher, not the caller. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/config.h"
#include "cluster/image.h"
#include "controller/controller.h"
#include "core/util.h"
#include "core/uuid.h"
#include "log/flush.h"
#include "log/log.h"
#include "net/net.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "test.h"

static void topic_rec(buf *b, const char *name, uint8_t idb) {
    proto_topic_record r;
    proto_topic_record_init(&r);
    r.name = proto_str_c(name);
    memset(r.topic_id.b, idb, 16);
    cl_record_frame(b, 2, 0);
    proto_topic_record_encode(b, 0, &r);
}

/* A ctl_log in memory whose durable end and failure the test moves. */
typedef struct fake_log {
    ctl_log base;
    int64_t leo;     /* next offset */
    int64_t durable; /* records below are durable */
    int16_t fail;    /* durable() reports it */
    int syncs;
} fake_log;

static int16_t fk_append(ctl_log *l, const buf *v, int n, int64_t *last) {
    (void)v;
    fake_log *f = (fake_log *)l;
    f->leo += n;
    *last = f->leo - 1;
    return KERR_NONE;
}
static int16_t fk_durable(ctl_log *l, int64_t *end) {
    fake_log *f = (fake_log *)l;
    *end = f->durable;
    return f->fail;
}
static int16_t fk_sync(ctl_log *l) {
    fake_log *f = (fake_log *)l;
    f->syncs++;
    if (f->fail)
        return f->fail;
    f->durable = f->leo;
    return KERR_NONE;
}
static int fk_replay(ctl_log *l, ctl_replay_fn fn, void *arg, char *err,
                     size_t errlen) {
    (void)l, (void)fn, (void)arg, (void)err, (void)errlen;
    return 0;
}
static void fk_free(ctl_log *l) {
    (void)l; /* on the test's stack */
}
static const ctl_log_ops fake_ops = {fk_append, fk_durable, fk_sync, fk_replay,
                                     fk_free,   NULL,       NULL};

typedef struct done_log {
    int n;
    int order[16];
    int16_t err[16];
} done_log;
typedef struct done_arg {
    done_log *log;
    int id;
} done_arg;
static void on_done(void *arg, int16_t err) {
    done_arg *a = arg;
    a->log->order[a->log->n] = a->id;
    a->log->err[a->log->n] = err;
    a->log->n++;
}

TEST(ctl_submit_completes_after_durability_in_order) {
    brk_config cfg;
    brk_config_init(&cfg);
    cl_image *img = brk_image_new(&cfg);
    fake_log f = {{&fake_ops}, 0, 0, 0, 0};
    ctl_controller *c = ctl_new(img, &f.base);
    net_loop *loop = net_loop_new();
    ctl_attach_loop(c, loop);
    done_log dl = {0};
    done_arg a[3] = {{&dl, 1}, {&dl, 2}, {&dl, 3}};
    buf v[2];
    buf_init(&v[0], 64);
    buf_init(&v[1], 64);
    topic_rec(&v[0], "a", 1);
    topic_rec(&v[1], "b", 2);
    ctl_submit(c, &v[0], 1, on_done, &a[0]); /* offset 0 */
    ctl_submit(c, &v[1], 1, on_done, &a[1]); /* offset 1 */
    buf_reset(&v[0]);
    topic_rec(&v[0], "c", 3);
    ctl_submit(c, &v[0], 1, on_done, &a[2]); /* offset 2 */
    /* never inside submit; nothing before durability */
    CHECK_EQ(dl.n, 0);
    CHECK_EQ(ctl_pending(c), 3);
    ctl_poll(c);
    CHECK_EQ(dl.n, 0);
    CHECK(!cl_topic_find(img, "a", 1));
    /* the first batch durable: only its callback, after its apply */
    f.durable = 1;
    ctl_poll(c);
    CHECK_EQ(dl.n, 1);
    CHECK_EQ(dl.order[0], 1);
    CHECK_EQ(dl.err[0], KERR_NONE);
    CHECK(cl_topic_find(img, "a", 1) != NULL);
    CHECK(!cl_topic_find(img, "b", 1));
    CHECK_EQ(cl_image_offset(img), 0);
    /* the rest at once: in submission order */
    f.durable = 3;
    ctl_poll(c);
    CHECK_EQ(dl.n, 3);
    CHECK_EQ(dl.order[1], 2);
    CHECK_EQ(dl.order[2], 3);
    CHECK(cl_topic_find(img, "c", 1) != NULL);
    CHECK_EQ(cl_image_offset(img), 2);
    CHECK_EQ(ctl_pending(c), 0);
    CHECK_EQ(f.syncs, 0); /* never synced on the caller */
    ctl_free(c);
    net_loop_free(loop);
    cl_image_free(img);
    brk_config_free(&cfg);
    buf_free(&v[0]);
    buf_free(&v[1]);
}

/* Idle waiters (invariant 4): each runs alone with nothing pending, in
 * order, never inside ctl_when_idle; one that submits holds the next back
 * until its commit; the image it reads shows every earlier submit. */
typedef struct idle_ctx {
    ctl_controller *c;
    cl_image *img;
    buf *rec;       /* submitted by the waiter when not NULL */
    int ran;        /* order in which it ran (1-based), 0 not yet */
    int *clock;     /* shared run counter */
    size_t pending; /* ctl_pending when it ran */
    bool saw_a;     /* topic "a" (submitted before it queued) applied */
    bool cancelled;
} idle_ctx;
static void on_idle(void *arg, bool cancelled) {
    idle_ctx *x = arg;
    x->ran = ++*x->clock;
    x->pending = ctl_pending(x->c);
    x->saw_a = cl_topic_find(x->img, "a", 1) != NULL;
    x->cancelled = cancelled;
    if (x->rec && !cancelled)
        ctl_submit(x->c, x->rec, 1, NULL, NULL);
}

TEST(ctl_idle_waiters_run_alone_after_the_pipeline_drains) {
    brk_config cfg;
    brk_config_init(&cfg);
    cl_image *img = brk_image_new(&cfg);
    fake_log f = {{&fake_ops}, 0, 0, 0, 0};
    ctl_controller *c = ctl_new(img, &f.base);
    net_loop *loop = net_loop_new();
    ctl_attach_loop(c, loop);
    buf a, b;
    buf_init(&a, 64);
    buf_init(&b, 64);
    topic_rec(&a, "a", 1);
    topic_rec(&b, "b", 2);
    CHECK(ctl_idle(c));
    ctl_submit(c, &a, 1, NULL, NULL);
    CHECK(!ctl_idle(c));
    int clock = 0;
    idle_ctx w1 = {c, img, &b, 0, &clock, 0, false, false};
    idle_ctx w2 = {c, img, NULL, 0, &clock, 0, false, false};
    ctl_when_idle(c, on_idle, &w1);
    ctl_when_idle(c, on_idle, &w2);
    CHECK_EQ(w1.ran, 0); /* "a" is in flight */
    ctl_poll(c);
    CHECK_EQ(w1.ran, 0);
    f.durable = 1; /* "a" commits: w1 runs, sees it, submits "b" */
    ctl_poll(c);
    CHECK_EQ(w1.ran, 1);
    CHECK_EQ(w1.pending, 0);
    CHECK(w1.saw_a);
    CHECK(!w1.cancelled);
    CHECK_EQ(w2.ran, 0); /* held back by w1's submit */
    CHECK_EQ(ctl_pending(c), 1);
    f.durable = 2;
    ctl_poll(c);
    CHECK_EQ(w2.ran, 2);
    CHECK_EQ(w2.pending, 0);
    CHECK(cl_topic_find(img, "b", 1) != NULL);
    CHECK(ctl_idle(c));
    /* at shutdown a waiter left runs cancelled (and submits nothing) */
    ctl_submit(c, &a, 1, NULL, NULL);
    idle_ctx w3 = {c, img, &b, 0, &clock, 0, false, false};
    ctl_when_idle(c, on_idle, &w3);
    ctl_cancel_waiters(c);
    CHECK_EQ(w3.ran, 3);
    CHECK(w3.cancelled);
    CHECK_EQ(ctl_pending(c), 1);
    ctl_free(c);
    net_loop_free(loop);
    cl_image_free(img);
    brk_config_free(&cfg);
    buf_free(&a);
    buf_free(&b);
}

TEST(ctl_log_failure_fails_pending_submits) {
    brk_config cfg;
    brk_config_init(&cfg);
    cl_image *img = brk_image_new(&cfg);
    fake_log f = {{&fake_ops}, 0, 0, 0, 0};
    ctl_controller *c = ctl_new(img, &f.base);
    net_loop *loop = net_loop_new();
    ctl_attach_loop(c, loop);
    done_log dl = {0};
    done_arg a[3] = {{&dl, 1}, {&dl, 2}, {&dl, 3}};
    buf v;
    buf_init(&v, 64);
    topic_rec(&v, "a", 1);
    ctl_submit(c, &v, 1, on_done, &a[0]);
    buf_reset(&v);
    topic_rec(&v, "b", 2);
    ctl_submit(c, &v, 1, on_done, &a[1]);
    /* an fsync error (the injected one of the log) */
    f.fail = KERR_KAFKA_STORAGE_ERROR;
    ctl_poll(c);
    CHECK_EQ(dl.n, 2);
    CHECK_EQ(dl.order[0], 1);
    CHECK_EQ(dl.order[1], 2);
    CHECK_EQ(dl.err[0], KERR_KAFKA_STORAGE_ERROR);
    CHECK_EQ(dl.err[1], KERR_KAFKA_STORAGE_ERROR);
    CHECK(!cl_topic_find(img, "a", 1)); /* nothing applied */
    CHECK(!cl_topic_find(img, "b", 1));
    /* later submits fail too, on the loop, not inside submit */
    buf_reset(&v);
    topic_rec(&v, "c", 3);
    ctl_submit(c, &v, 1, on_done, &a[2]);
    CHECK_EQ(dl.n, 2);
    ctl_poll(c);
    CHECK_EQ(dl.n, 3);
    CHECK_EQ(dl.err[2], KERR_KAFKA_STORAGE_ERROR);
    CHECK_EQ(ctl_commit_sync(c, &v, 1), KERR_KAFKA_STORAGE_ERROR);
    CHECK(!cl_topic_find(img, "c", 1));
    ctl_free(c);
    net_loop_free(loop);
    cl_image_free(img);
    brk_config_free(&cfg);
    buf_free(&v);
}

TEST(ctl_without_loop_commits_inside_submit) {
    brk_config cfg;
    brk_config_init(&cfg);
    cl_image *img = brk_image_new(&cfg);
    fake_log f = {{&fake_ops}, 0, 0, 0, 0};
    ctl_controller *c = ctl_new(img, &f.base);
    done_log dl = {0};
    done_arg a = {&dl, 1};
    buf v;
    buf_init(&v, 64);
    topic_rec(&v, "a", 1);
    ctl_submit(c, &v, 1, on_done, &a);
    CHECK_EQ(dl.n, 1);
    CHECK_EQ(dl.err[0], KERR_NONE);
    CHECK_EQ(f.syncs, 1);
    CHECK(cl_topic_find(img, "a", 1) != NULL);
    ctl_free(c);
    cl_image_free(img);
    brk_config_free(&cfg);
    buf_free(&v);
}

/* ---- the metadata log (meta_log.c) over a real log manager ---- */

static atomic_int n_fsync_loop;
static atomic_bool fail_fsync;
static pthread_t loop_thread;
static int cnt_fsync(void *ctx, int fd) {
    (void)ctx;
    if (pthread_equal(pthread_self(), loop_thread))
        atomic_fetch_add(&n_fsync_loop, 1);
    if (atomic_load(&fail_fsync)) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}
static log_io counting_io;

static log_manager *open_meta(const char *dir, log_partition **part) {
    counting_io = log_io_posix;
    counting_io.fsync = cnt_fsync;
    loop_thread = pthread_self();
    const char *dirs[1] = {dir};
    log_manager_opts o = {0};
    o.log_dirs = dirs;
    o.n_log_dirs = 1;
    o.io = &counting_io;
    int16_t err;
    log_manager *m = log_manager_open(&o, &err);
    CHECK(m != NULL);
    *part = log_get(m, "__cluster_metadata", 0);
    if (!*part) {
        log_config lc;
        log_config_default(&lc);
        *part = log_create(m, "__cluster_metadata", 0, uuid_metadata_topic_id,
                           &lc, &err);
    }
    CHECK(*part != NULL);
    return m;
}

TEST(ctl_meta_log_syncs_on_the_flusher_and_replays) {
    const char *dir = test_tmpdir();
    brk_config cfg;
    brk_config_init(&cfg);
    cl_image *img = brk_image_new(&cfg);
    log_partition *part;
    log_manager *m = open_meta(dir, &part);
    ctl_controller *c = ctl_new(img, ctl_meta_log_new(m, part));
    net_loop *loop = net_loop_new();
    ctl_attach_loop(c, loop);
    done_log dl = {0};
    done_arg a[2] = {{&dl, 1}, {&dl, 2}};
    buf v;
    buf_init(&v, 64);
    topic_rec(&v, "a", 1);
    ctl_submit(c, &v, 1, on_done, &a[0]);
    /* counted from here: the first append of the log wrote its
     * leader-epoch-checkpoint (once per epoch, the log layer's rule) */
    atomic_store(&n_fsync_loop, 0);
    buf_reset(&v);
    topic_rec(&v, "b", 2);
    ctl_submit(c, &v, 1, on_done, &a[1]);
    ctl_poll(c);
    CHECK_EQ(dl.n, 0); /* appended, not durable */
    /* what the loop's before-sleep flush hook does */
    CHECK(log_manager_flush_pending(m));
    log_manager_flush_begin(m);
    log_manager_flush_wait(m);
    ctl_poll(c);
    CHECK_EQ(dl.n, 2);
    CHECK_EQ(dl.err[0], KERR_NONE);
    CHECK_EQ(dl.err[1], KERR_NONE);
    CHECK_EQ(atomic_load(&n_fsync_loop), 0); /* none on the loop */
    CHECK(cl_topic_find(img, "b", 1) != NULL);
    CHECK_EQ(log_high_watermark(part), 2);
    ctl_free(c);
    net_loop_free(loop);
    cl_image_free(img);
    log_manager_close(m);

    /* a restart replays exactly what was committed */
    img = brk_image_new(&cfg);
    m = open_meta(dir, &part);
    c = ctl_new(img, ctl_meta_log_new(m, part));
    char err[256];
    CHECK_EQ(ctl_replay(c, err, sizeof err), 0);
    CHECK(cl_topic_find(img, "a", 1) != NULL);
    CHECK(cl_topic_find(img, "b", 1) != NULL);
    CHECK_EQ(cl_image_offset(img), 1);
    ctl_free(c);
    cl_image_free(img);
    brk_config_free(&cfg);
    log_manager_close(m);
    buf_free(&v);
}

TEST(ctl_meta_log_fsync_error_fails_pending_submits) {
    const char *dir = test_tmpdir();
    brk_config cfg;
    brk_config_init(&cfg);
    cl_image *img = brk_image_new(&cfg);
    log_partition *part;
    log_manager *m = open_meta(dir, &part);
    ctl_controller *c = ctl_new(img, ctl_meta_log_new(m, part));
    net_loop *loop = net_loop_new();
    ctl_attach_loop(c, loop);
    done_log dl = {0};
    done_arg a[2] = {{&dl, 1}, {&dl, 2}};
    buf v;
    buf_init(&v, 64);
    topic_rec(&v, "a", 1);
    ctl_submit(c, &v, 1, on_done, &a[0]);
    buf_reset(&v);
    topic_rec(&v, "b", 2);
    ctl_submit(c, &v, 1, on_done, &a[1]);
    atomic_store(&fail_fsync, true); /* the injected fsync error */
    log_manager_flush_begin(m);
    log_manager_flush_wait(m);
    ctl_poll(c);
    atomic_store(&fail_fsync, false);
    CHECK_EQ(dl.n, 2);
    CHECK_EQ(dl.order[0], 1);
    CHECK_EQ(dl.order[1], 2);
    CHECK_EQ(dl.err[0], KERR_KAFKA_STORAGE_ERROR);
    CHECK_EQ(dl.err[1], KERR_KAFKA_STORAGE_ERROR);
    CHECK(!cl_topic_find(img, "a", 1));
    ctl_free(c);
    net_loop_free(loop);
    cl_image_free(img);
    brk_config_free(&cfg);
    log_manager_close(m);
    buf_free(&v);
}
