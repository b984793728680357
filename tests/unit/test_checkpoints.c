/* The offset checkpoint files of a log dir (log/checkpoint.c) as Kafka
 * writes them: replication-offset-checkpoint (high watermarks),
 * recovery-point-offset-checkpoint, log-start-offset-checkpoint and the
 * per-partition leader-epoch-checkpoint, in Kafka's text format (version,
 * count, entries); each kind written on its own (the broker schedules them
 * on their own periods), read back at start (a restarted replica starts
 * with its checkpointed high watermark), and replaced so that a power cut
 * in the middle of a write leaves the old file or the new one, whole. */
#include <errno.h>
#include <stdlib.h>

#include "../sim/crashfs.h"
#include "core/buf.h"
#include "core/util.h"
#include "log/batch.h"
#include "log/log.h"
#include "proto/errors.h"
#include "test.h"

#define DATA "/data"

static const uint8_t TOPIC_ID[16] = {7, 7, 7, 7, 1, 2, 3, 4,
                                     5, 6, 7, 8, 9, 0, 1, 2};

static log_manager *open_on(const log_io *io) {
    const char *dirs[1] = {DATA};
    log_manager_opts o = {0};
    o.log_dirs = dirs;
    o.n_log_dirs = 1;
    o.io = io;
    int16_t err;
    log_manager *m = log_manager_open(&o, &err);
    CHECK(m != NULL);
    CHECK_EQ(err, KERR_NONE);
    return m;
}

static crashfs *new_disk(void) {
    crashfs *fs = crashfs_new();
    const log_io *io = crashfs_io(fs);
    io->mkdir(io->ctx, DATA, 0755);
    crashfs_sync_all(fs); /* a formatted, mounted disk */
    return fs;
}

/* n records at leader epoch `epoch`; the HW is not moved. */
static void append_n(log_partition *p, int n, int32_t epoch) {
    batch_builder b;
    batch_builder_init(&b, 0, 0);
    for (int i = 0; i < n; i++)
        batch_builder_add(&b, 1700000000000LL + i, "k", 1, "value", 5, NULL, 0);
    buf out;
    buf_init(&out, 0);
    CHECK_EQ(batch_builder_finish(&b, &out), KERR_NONE);
    batch_builder_free(&b);
    log_append_info info;
    CHECK_EQ(log_append(p, out.data, out.len, epoch, LOG_ORIGIN_CLIENT, &info),
             KERR_NONE);
    buf_free(&out);
}

static log_partition *make_part(log_manager *m, const char *topic,
                                int32_t partition) {
    log_config c;
    log_config_default(&c);
    int16_t err;
    log_partition *p = log_create(m, topic, partition, TOPIC_ID, &c, &err);
    CHECK(p != NULL);
    return p;
}

/* The file's durable text ("" when absent), in out. */
static const char *durable(crashfs *fs, const char *path, char *out,
                           size_t cap) {
    size_t n = 0;
    uint8_t *d = crashfs_read_durable(fs, path, &n);
    if (!d)
        n = 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(out, d, n);
    out[n] = 0;
    free(d);
    return out;
}

/* The file's current text (what a reader sees now). */
static const char *current(crashfs *fs, const char *path, char *out,
                           size_t cap) {
    size_t n = 0;
    uint8_t *d = crashfs_read(fs, path, &n);
    if (!d)
        n = 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(out, d, n);
    out[n] = 0;
    free(d);
    return out;
}

/* Every kind in Kafka's format, one kind written at a time, and all of them
 * read back by the next open. */
TEST(checkpoints_kafka_format_round_trip) {
    crashfs *fs = new_disk();
    const log_io *io = crashfs_io(fs);
    log_manager *m = open_on(io);
    log_partition *a = make_part(m, "rt", 0);
    log_partition *b = make_part(m, "rt", 1);
    append_n(a, 4, 0);
    CHECK_EQ(log_assign_epoch(a, 3, log_end_offset(a)), KERR_NONE);
    append_n(a, 6, 3);
    log_set_high_watermark(a, 7); /* below the LEO (10): a follower's */
    append_n(b, 5, 0);
    log_set_high_watermark(b, 5);
    int64_t ls = -1;
    CHECK_EQ(log_delete_records(b, 2, &ls), KERR_NONE);
    CHECK_EQ(ls, 2);
    CHECK_EQ(log_manager_flush_dirty(m) >= 0, 1);

    char t[512];
    /* only the high watermarks */
    CHECK_EQ(log_manager_checkpoint_kind(m, LOG_CKPT_HIGH_WATERMARK),
             KERR_NONE);
    current(fs, DATA "/replication-offset-checkpoint", t, sizeof t);
    CHECK(!strcmp(t, "0\n2\nrt 0 7\nrt 1 5\n") ||
          !strcmp(t, "0\n2\nrt 1 5\nrt 0 7\n"));
    CHECK_STR(
        current(fs, DATA "/recovery-point-offset-checkpoint", t, sizeof t), "");
    CHECK_STR(current(fs, DATA "/log-start-offset-checkpoint", t, sizeof t),
              "");
    /* the log start: only partitions whose start is above their first
     * segment's base (Kafka's default) */
    CHECK_EQ(log_manager_checkpoint_kind(m, LOG_CKPT_LOG_START), KERR_NONE);
    CHECK_STR(current(fs, DATA "/log-start-offset-checkpoint", t, sizeof t),
              "0\n1\nrt 1 2\n");
    CHECK_EQ(log_manager_checkpoint_kind(m, LOG_CKPT_RECOVERY_POINT),
             KERR_NONE);
    current(fs, DATA "/recovery-point-offset-checkpoint", t, sizeof t);
    CHECK(!strcmp(t, "0\n2\nrt 0 10\nrt 1 5\n") ||
          !strcmp(t, "0\n2\nrt 1 5\nrt 0 10\n"));
    /* the epoch cache: "epoch start" lines */
    CHECK_STR(current(fs, DATA "/rt-0/leader-epoch-checkpoint", t, sizeof t),
              "0\n2\n0 0\n3 4\n");

    /* a crash (no clean shutdown, nothing written at close): the next open
     * starts from the checkpoints */
    log_manager_abandon(m);
    crashfs_kill(fs);
    m = open_on(io);
    a = log_get(m, "rt", 0);
    b = log_get(m, "rt", 1);
    CHECK(a && b);
    CHECK_EQ(log_high_watermark(a), 7);
    CHECK_EQ(log_end_offset(a), 10);
    CHECK_EQ(log_high_watermark(b), 5);
    CHECK_EQ(log_start_offset(b), 2);
    CHECK_EQ(log_latest_epoch(a), 3);
    CHECK_EQ(log_epoch_for_offset(a, 3), 0);
    CHECK_EQ(log_epoch_for_offset(a, 4), 3);
    /* a clean shutdown writes every kind */
    log_set_high_watermark(a, 9);
    log_manager_close(m);
    current(fs, DATA "/replication-offset-checkpoint", t, sizeof t);
    CHECK(strstr(t, "rt 0 9\n") != NULL);
    crashfs_free(fs);
}

/* A power cut at every operation of a high-watermark checkpoint write: the
 * file that survives is the old one or the new one, whole (temp file,
 * fsync, rename, directory fsync), and the next open reads its HW. */
TEST(checkpoints_power_cut_mid_write_keeps_old_or_new) {
    const char *old_txt = "0\n1\npc 0 3\n", *new_txt = "0\n1\npc 0 8\n";
    int kept_old = 0, got_new = 0;
    for (int64_t cut = 0; cut < 40; cut++) {
        crashfs *fs = new_disk();
        const log_io *io = crashfs_io(fs);
        log_manager *m = open_on(io);
        log_partition *p = make_part(m, "pc", 0);
        append_n(p, 10, 0);
        log_set_high_watermark(p, 3);
        CHECK_EQ(log_manager_checkpoint_kind(m, LOG_CKPT_HIGH_WATERMARK),
                 KERR_NONE);
        crashfs_sync_all(fs); /* the old checkpoint and the log, durable */
        log_set_high_watermark(p, 8);
        crashfs_cut_after(fs, cut);
        int16_t e = log_manager_checkpoint_kind(m, LOG_CKPT_HIGH_WATERMARK);
        log_manager_abandon(m);
        crashfs_crash(fs, (uint64_t)cut + 1);
        char t[128];
        durable(fs, DATA "/replication-offset-checkpoint", t, sizeof t);
        if (!strcmp(t, old_txt)) {
            kept_old++;
        } else {
            CHECK_STR(t, new_txt);
            got_new++;
        }
        if (e != KERR_NONE)
            CHECK_STR(t, old_txt); /* a failed write never half-replaces */
        m = open_on(io);
        p = log_get(m, "pc", 0);
        CHECK(p != NULL);
        CHECK_EQ(log_high_watermark(p), strcmp(t, old_txt) ? 8 : 3);
        log_manager_abandon(m);
        crashfs_free(fs);
    }
    CHECK(kept_old > 0); /* cuts before the rename was durable */
    CHECK(got_new > 0);  /* cuts after the directory fsync */
}

/* A checkpoint write that fails (an fsync error) leaves the old file and
 * reports KAFKA_STORAGE_ERROR (its dir goes offline, as Kafka's). */
TEST(checkpoints_failed_write_keeps_the_old_file) {
    crashfs *fs = new_disk();
    const log_io *io = crashfs_io(fs);
    log_manager *m = open_on(io);
    log_partition *p = make_part(m, "fw", 0);
    append_n(p, 4, 0);
    log_set_high_watermark(p, 2);
    CHECK_EQ(log_manager_checkpoint_kind(m, LOG_CKPT_HIGH_WATERMARK),
             KERR_NONE);
    log_set_high_watermark(p, 4);
    crashfs_fail(fs, CRASHFS_OP_FSYNC, 1, EIO);
    CHECK_EQ(log_manager_checkpoint_kind(m, LOG_CKPT_HIGH_WATERMARK),
             KERR_KAFKA_STORAGE_ERROR);
    char t[128];
    CHECK_STR(current(fs, DATA "/replication-offset-checkpoint", t, sizeof t),
              "0\n1\nfw 0 2\n");
    log_manager_abandon(m);
    crashfs_free(fs);
}
