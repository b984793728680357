/* Kafka's flush policy with the fsyncs on the flusher thread
 * (src/log/flush.h): nothing is fsynced by default, flush.messages and
 * flush.ms make a flush due, rolled segments are synced in the background,
 * the recovery point follows completed flushes only, fsync errors take the
 * partition offline, deletes and truncations while a flush runs are safe. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/env.h"
#include "core/util.h"
#include "log/batch.h"
#include "log/flush.h"
#include "log/log.h"
#include "proto/errors.h"
#include "test.h"

static const uint8_t TID[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 2, 3, 4, 5, 6, 7, 8};

/* posix I/O counting fsyncs, and where they ran */
static atomic_int n_fsync, n_fsync_loop;
static atomic_bool fail_fsync;
static pthread_t loop_thread;
static int cnt_fsync(void *c, int fd) {
    (void)c;
    atomic_fetch_add(&n_fsync, 1);
    if (pthread_equal(pthread_self(), loop_thread))
        atomic_fetch_add(&n_fsync_loop, 1);
    if (atomic_load(&fail_fsync)) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}
static log_io counting_io;

static log_manager *open_counting_n(const char *dir, int ndirs) {
    counting_io = log_io_posix;
    counting_io.fsync = cnt_fsync;
    loop_thread = pthread_self();
    atomic_store(&fail_fsync, false);
    static char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    const char *two[2] = {a, b};
    const char *dirs[1] = {dir};
    log_manager_opts o = {0};
    o.log_dirs = ndirs == 2 ? two : dirs;
    o.n_log_dirs = ndirs;
    o.io = &counting_io;
    int16_t err;
    log_manager *m = log_manager_open(&o, &err);
    CHECK(m != NULL);
    return m;
}

static log_manager *open_counting(const char *dir) {
    return open_counting_n(dir, 1);
}

static void append_n(log_partition *p, int records) {
    batch_builder b;
    batch_builder_init(&b, 0, 0);
    for (int i = 0; i < records; i++)
        batch_builder_add(&b, 1000 + i, "k", 1, "value-value-value", 17, NULL,
                          0);
    buf out;
    buf_init(&out, 0);
    CHECK_EQ(batch_builder_finish(&b, &out), KERR_NONE);
    batch_builder_free(&b);
    log_append_info info;
    CHECK_EQ(log_append(p, out.data, out.len, 0, LOG_ORIGIN_CLIENT, &info),
             KERR_NONE);
    buf_free(&out);
    log_set_high_watermark(p, log_end_offset(p));
}

static log_config cfg_with(int64_t flush_messages, int64_t flush_ms) {
    log_config c;
    log_config_default(&c);
    c.timestamp_after_max_ms = INT64_MAX;
    c.timestamp_before_max_ms = INT64_MAX;
    c.flush_messages = flush_messages;
    c.flush_ms = flush_ms;
    return c;
}

TEST(flush_default_policy_never_fsyncs_and_crash_rereads_all) {
    const char *dir = test_tmpdir();
    log_manager *m = open_counting(dir);
    log_config c = cfg_with(INT64_MAX, INT64_MAX);
    int16_t err;
    log_partition *p = log_create(m, "t", 0, TID, &c, &err);
    /* creating partitions asks for one syncfs of the log dir */
    CHECK(log_manager_flush_pending(m));
    CHECK_EQ(log_manager_flush_begin(m), 1);
    CHECK_EQ(log_manager_flush_wait(m), 1);
    CHECK(!log_manager_flush_pending(m));
    append_n(p, 2);
    /* the first append of a leader epoch syncs leader-epoch-checkpoint (as
     * Kafka's LeaderEpochFileCache.assign); nothing after that */
    atomic_store(&n_fsync, 0);
    for (int i = 1; i < 500; i++)
        append_n(p, 2);
    CHECK(!log_flush_is_due(p));
    CHECK(!log_manager_flush_pending(m));
    CHECK_EQ(log_manager_flush_check(m), 0);
    CHECK_EQ(atomic_load(&n_fsync), 0);
    CHECK_EQ(log_recovery_point(p), 0);
    log_manager_abandon(m); /* kill -9: the page cache keeps the data */
    m = open_counting(dir);
    log_manager_stats st;
    log_manager_get_stats(m, &st);
    CHECK_EQ(st.recovered_batches, 500);
    p = log_get(m, "t", 0);
    CHECK(p != NULL);
    CHECK_EQ(log_end_offset(p), 1000);
    log_manager_close(m);
}

TEST(flush_messages_due_then_synced_on_flusher_thread) {
    log_manager *m = open_counting(test_tmpdir());
    log_config c = cfg_with(5, INT64_MAX);
    int16_t err;
    log_partition *p = log_create(m, "t", 0, TID, &c, &err);
    log_partition *q = log_create(m, "t", 1, TID, &c, &err);
    log_manager_flush_begin(m); /* the creations' syncfs */
    log_manager_flush_wait(m);
    append_n(p, 2);
    append_n(q, 2); /* epoch checkpoints written */
    atomic_store(&n_fsync, 0);
    atomic_store(&n_fsync_loop, 0);
    append_n(p, 2);
    CHECK(!log_flush_is_due(p));
    append_n(p, 1); /* 5 unflushed: due */
    append_n(q, 5);
    CHECK(log_flush_is_due(p));
    CHECK(log_flush_is_due(q));
    CHECK(log_manager_flush_pending(m));
    CHECK_EQ(log_recovery_point(p), 0); /* not before it is synced */
    uint64_t t = log_manager_flush_begin(m);
    CHECK_EQ(t, 2);
    CHECK(!log_flush_is_due(p));
    CHECK(!log_manager_flush_pending(m));
    CHECK_EQ(log_manager_flush_wait(m), 2);
    CHECK_EQ(log_recovery_point(p), 5);
    CHECK_EQ(log_recovery_point(q), 7);
    CHECK_EQ(atomic_load(&n_fsync), 2);
    CHECK_EQ(atomic_load(&n_fsync_loop), 0);
    /* the count restarts after the flush */
    append_n(p, 4);
    CHECK(!log_flush_is_due(p));
    append_n(p, 1);
    CHECK(log_flush_is_due(p));
    CHECK_EQ(log_manager_flush_begin(m), 3);
    CHECK_EQ(log_manager_flush_wait(m), 3);
    CHECK_EQ(log_recovery_point(p), 10);
    CHECK_EQ(atomic_load(&n_fsync_loop), 0);
    log_manager_close(m);
}

TEST(flush_ms_check_makes_due_only_unflushed_partitions) {
    log_manager *m = open_counting(test_tmpdir());
    log_config now = cfg_with(INT64_MAX, 0);
    log_config hour = cfg_with(INT64_MAX, 3600000);
    int16_t err;
    log_partition *a = log_create(m, "a", 0, TID, &now, &err);
    log_partition *b = log_create(m, "b", 0, TID, &hour, &err);
    log_partition *idle = log_create(m, "c", 0, TID, &now, &err);
    append_n(a, 3);
    append_n(b, 3);
    CHECK(!log_flush_is_due(a)); /* flush.ms is the scheduler's business */
    CHECK_EQ(log_manager_flush_check(m), 1);
    CHECK(log_flush_is_due(a));
    CHECK(!log_flush_is_due(b));
    CHECK(!log_flush_is_due(idle));
    log_manager_flush_begin(m);
    log_manager_flush_wait(m);
    CHECK_EQ(log_recovery_point(a), 3);
    CHECK_EQ(log_recovery_point(b), 0);
    CHECK_EQ(log_manager_flush_check(m), 0);
    log_manager_close(m);
}

TEST(flush_roll_syncs_rolled_segment_in_background) {
    const char *dir = test_tmpdir();
    log_manager *m = open_counting(dir);
    log_config c = cfg_with(INT64_MAX, INT64_MAX);
    c.segment_bytes = 2048;
    int16_t err;
    log_partition *p = log_create(m, "r", 0, TID, &c, &err);
    append_n(p, 3);
    atomic_store(&n_fsync_loop, 0);
    for (int i = 1; i < 60; i++)
        append_n(p, 3);
    int segs = log_segment_count(p);
    CHECK(segs > 3);
    CHECK_EQ(atomic_load(&n_fsync_loop), 0); /* roll did not block */
    CHECK(log_manager_flush_pending(m));
    CHECK_EQ(log_recovery_point(p), 0);
    log_manager_flush_begin(m);
    log_manager_flush_wait(m);
    CHECK_EQ(atomic_load(&n_fsync_loop), 0);
    /* the recovery point is the base of the active segment */
    int64_t rp = log_recovery_point(p);
    CHECK(rp > 0 && rp < log_end_offset(p));
    CHECK(log_manager_checkpoint(m) == 0);
    append_n(p, 1);
    int64_t leo = log_end_offset(p);
    log_manager_abandon(m);
    /* only the active segment is re-read */
    m = open_counting(dir);
    log_manager_stats st;
    log_manager_get_stats(m, &st);
    CHECK(st.recovered_batches > 0);
    CHECK(st.recovered_batches < 60 / segs * 2 + 2);
    p = log_get(m, "r", 0);
    CHECK_EQ(log_end_offset(p), leo);
    log_manager_close(m);
}

TEST(flush_sync_flush_covers_rolled_segments_not_yet_synced) {
    log_manager *m = open_counting(test_tmpdir());
    log_config c = cfg_with(INT64_MAX, INT64_MAX);
    c.segment_bytes = 2048;
    int16_t err;
    log_partition *p = log_create(m, "s", 0, TID, &c, &err);
    for (int i = 0; i < 30; i++)
        append_n(p, 3);
    atomic_store(&n_fsync, 0);
    /* segments rolled (jobs held): a synchronous flush syncs them too */
    CHECK_EQ(log_flush(p), KERR_NONE);
    CHECK(atomic_load(&n_fsync) > 3);
    CHECK_EQ(log_recovery_point(p), log_end_offset(p));
    log_manager_close(m);
}

TEST(flush_fsync_error_takes_partition_offline) {
    log_manager *m = open_counting_n(test_tmpdir(), 2); /* p in a, ok in b */
    log_config c = cfg_with(1, INT64_MAX);
    int16_t err;
    log_partition *p = log_create(m, "e", 0, TID, &c, &err);
    log_partition *ok = log_create(m, "e", 1, TID, &c, &err);
    log_manager_flush_begin(m);
    log_manager_flush_wait(m);
    append_n(p, 1);
    atomic_store(&fail_fsync, true);
    log_manager_flush_begin(m);
    log_manager_flush_wait(m);
    atomic_store(&fail_fsync, false);
    CHECK(log_is_failed(p));
    CHECK_EQ(log_recovery_point(p), 0);
    CHECK(log_manager_dir_offline(m, 0)); /* the whole dir, as Kafka */
    CHECK(!log_manager_dir_offline(m, 1));
    CHECK(!log_is_failed(ok));
    append_n(ok, 1);
    log_manager_flush_begin(m);
    log_manager_flush_wait(m);
    CHECK_EQ(log_recovery_point(ok), 1);
    log_manager_close(m);
}

TEST(flush_delete_and_truncate_while_in_flight) {
    log_manager *m = open_counting(test_tmpdir());
    log_config c = cfg_with(1, INT64_MAX);
    int16_t err;
    for (int round = 0; round < 50; round++) {
        char topic[16];
        snprintf(topic, sizeof topic, "d%d", round);
        log_partition *p = log_create(m, topic, 0, TID, &c, &err);
        log_partition *t = log_create(m, topic, 1, TID, &c, &err);
        append_n(p, 2);
        append_n(t, 4);
        log_manager_flush_begin(m);
        CHECK_EQ(log_delete(m, p), KERR_NONE); /* job still running */
        CHECK_EQ(log_truncate_to(t, 0), KERR_NONE);
        append_n(t, 1);
        log_manager_flush_wait(m);
        /* the job synced offsets [0,4) of the old tail: not this log */
        CHECK(log_recovery_point(t) <= 1);
    }
    log_manager_close(m);
}

TEST(flush_new_partition_lazy_index_files) {
    const char *dir = test_tmpdir();
    log_manager *m = open_counting(dir);
    log_config c = cfg_with(INT64_MAX, INT64_MAX);
    int16_t err;
    log_partition *p = log_create(m, "lazy", 0, TID, &c, &err);
    log_partition *q = log_create(m, "lazy", 1, TID, &c, &err);
    char path[512];
    snprintf(path, sizeof path, "%s/lazy-0/00000000000000000000.index", dir);
    CHECK(access(path, F_OK) != 0); /* not before the first entry */
    CHECK(p != NULL && q != NULL);
    for (int i = 0; i < 400; i++)
        append_n(p, 5);
    CHECK(access(path, F_OK) == 0);
    log_manager_close(m);
    /* a clean restart accepts the empty partition without index files */
    m = open_counting(dir);
    log_manager_stats st;
    log_manager_get_stats(m, &st);
    CHECK_EQ(st.recovered_batches, 0);
    CHECK_EQ(log_end_offset(log_get(m, "lazy", 0)), 2000);
    CHECK_EQ(log_end_offset(log_get(m, "lazy", 1)), 0);
    log_manager_close(m);
}

TEST(flush_close_drains_and_marks_clean) {
    const char *dir = test_tmpdir();
    log_manager *m = open_counting(dir);
    log_config c = cfg_with(3, INT64_MAX);
    c.segment_bytes = 2048;
    int16_t err;
    log_partition *p = log_create(m, "c", 0, TID, &c, &err);
    for (int i = 0; i < 40; i++)
        append_n(p, 3);
    log_manager_flush_begin(m); /* in flight at close */
    log_manager_close(m);
    m = open_counting(dir);
    log_manager_stats st;
    log_manager_get_stats(m, &st);
    CHECK_EQ(st.recovered_batches, 0);
    p = log_get(m, "c", 0);
    CHECK_EQ(log_end_offset(p), 120);
    CHECK_EQ(log_recovery_point(p), 120);
    log_manager_close(m);
}

/* Under an inline executor (the simulator's, core/env.h) a batch is synced
 * inside log_manager_flush_begin, on the loop: no flusher thread, the
 * ticket done at once. */
TEST(flush_inline_executor_syncs_inside_begin) {
    sl_env env = {.name = "inline", .exec = &sl_exec_inline};
    const sl_env *prev = sl_env_enter(&env);
    log_manager *m = open_counting(test_tmpdir());
    log_config c = cfg_with(3, INT64_MAX);
    int16_t err;
    log_partition *p = log_create(m, "t", 0, TID, &c, &err);
    CHECK_EQ(log_manager_flush_begin(m), 1);
    CHECK_EQ(log_manager_flush_reap(m), 1); /* done already */
    append_n(p, 1);
    atomic_store(&n_fsync, 0);
    atomic_store(&n_fsync_loop, 0);
    append_n(p, 2);
    CHECK(log_flush_is_due(p));
    CHECK_EQ(log_manager_flush_begin(m), 2);
    CHECK_EQ(atomic_load(&n_fsync), 1);
    CHECK_EQ(atomic_load(&n_fsync_loop), 1); /* on this thread */
    CHECK_EQ(log_manager_flush_reap(m), 2);
    CHECK_EQ(log_recovery_point(p), 3);
    log_manager_close(m);
    sl_env_leave(prev);
}
