/* The partition log (src/log/, see log_int.h): append/read, indexes, rolls,
 * recovery, retention, delete records, many partitions, I/O failures. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/util.h"
#include "log/batch.h"
#include "log/compress.h"
#include "log/log.h"
#include "proto/errors.h"
#include "test.h"

static const uint8_t TOPIC_ID[16] = {1, 2,  3,  4,  5,  6,  7,  8,
                                     9, 10, 11, 12, 13, 14, 15, 16};

static log_manager *open_mgr(const char *dir, const log_io *io, int max_open) {
    const char *dirs[1] = {dir};
    log_manager_opts o = {0};
    o.log_dirs = dirs;
    o.n_log_dirs = 1;
    o.io = io;
    o.max_open_segments = max_open;
    int16_t err;
    log_manager *m = log_manager_open(&o, &err);
    CHECK(m != NULL);
    CHECK_EQ(err, 0);
    return m;
}

/* Two log dirs <dir>/a and <dir>/b (a failed dir must not touch the other). */
static log_manager *open_mgr2(const char *dir, const log_io *io) {
    static char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    const char *dirs[2] = {a, b};
    log_manager_opts o = {0};
    o.log_dirs = dirs;
    o.n_log_dirs = 2;
    o.io = io;
    int16_t err;
    log_manager *m = log_manager_open(&o, &err);
    CHECK(m != NULL);
    CHECK_EQ(err, 0);
    return m;
}

/* A batch of n records whose values encode (tag, i); timestamps ts0 + i. */
static void make_batch(buf *out, int codec, int n, int tag, int64_t ts0,
                       int vsize) {
    batch_builder b;
    batch_builder_init(&b, codec, 0);
    char *v = xmalloc((size_t)vsize + 32);
    for (int i = 0; i < n; i++) {
        int l = snprintf(v, 32, "%d:%d:", tag, i);
        for (int k = l; k < vsize; k++)
            v[k] = (char)('a' + (k % 26));
        batch_builder_add(&b, ts0 + i, "k", 1, v, vsize > l ? vsize : l, NULL,
                          0);
    }
    CHECK_EQ(batch_builder_finish(&b, out), KERR_NONE);
    batch_builder_free(&b);
    free(v);
}

static int64_t append_one(log_partition *p, int codec, int n, int tag,
                          int64_t ts0, int vsize, int32_t epoch) {
    buf b;
    buf_init(&b, 0);
    make_batch(&b, codec, n, tag, ts0, vsize);
    log_append_info info;
    int16_t e = log_append(p, b.data, b.len, epoch, LOG_ORIGIN_CLIENT, &info);
    CHECK_EQ(e, 0);
    buf_free(&b);
    log_set_high_watermark(p, log_end_offset(p));
    return e ? -1 : info.base_offset;
}

static log_config small_cfg(void) {
    log_config c;
    log_config_default(&c);
    c.segment_bytes = 16 * 1024;
    c.index_interval_bytes = 512;
    c.segment_index_bytes = 4096;
    c.timestamp_after_max_ms = INT64_MAX;
    return c;
}

/* Reads every batch of the partition through log_read and checks offsets are
 * dense from log start to LEO; returns the number of records seen. */
static int64_t read_all(log_partition *p) {
    int64_t off = log_start_offset(p), n = 0;
    int guard = 0;
    while (off < log_end_offset(p) && guard++ < 100000) {
        log_read_result r;
        CHECK_EQ(log_read(p, off, 1 << 20, -1, true, &r), 0);
        if (r.len == 0)
            break;
        uint8_t *data = xmalloc((size_t)r.len);
        CHECK_EQ(pread(r.fd, data, (size_t)r.len, r.file_pos), r.len);
        size_t pos = 0;
        while (pos + BATCH_LOG_OVERHEAD <= (size_t)r.len) {
            log_batch_header h;
            if (batch_validate(data + pos, (size_t)r.len - pos, &h) != 0)
                break; /* partial last batch */
            CHECK(h.base_offset <= off);
            if (h.base_offset > off) {
                free(data);
                log_read_release(&r);
                return -1;
            }
            n += batch_last_offset(&h) + 1 - off;
            off = batch_last_offset(&h) + 1;
            pos += (size_t)batch_size(&h);
        }
        free(data);
        log_read_release(&r);
    }
    return n;
}

TEST(log_append_read_across_rolls) {
    log_manager *m = open_mgr(test_tmpdir(), NULL, 0);
    log_config c = small_cfg();
    c.segment_bytes = 4096;
    int16_t err;
    log_partition *p = log_create(m, "orders", 0, TOPIC_ID, &c, &err);
    CHECK(p != NULL);
    int64_t expect = 0;
    for (int i = 0; i < 200; i++) {
        int n = 1 + i % 7;
        CHECK_EQ(append_one(p, i % 5, n, i, 1000 + i * 10, 100, 0), expect);
        expect += n;
    }
    CHECK_EQ(log_end_offset(p), expect);
    CHECK(log_segment_count(p) > 3);
    CHECK_EQ(read_all(p), expect);
    /* every offset: the first batch returned contains it */
    for (int64_t o = 0; o < expect; o++) {
        log_read_result r;
        CHECK_EQ(log_read(p, o, 100, -1, true, &r), 0);
        CHECK(r.len > 0);
        uint8_t hb[BATCH_HEADER_SIZE];
        CHECK_EQ(pread(r.fd, hb, sizeof(hb), r.file_pos), (ssize_t)sizeof(hb));
        log_batch_header h;
        batch_parse_header(hb, sizeof(hb), &h);
        CHECK(h.base_offset <= o && batch_last_offset(&h) >= o);
        CHECK_EQ(h.magic, 2);
        log_read_release(&r);
    }
    /* out of range */
    log_read_result r;
    CHECK_EQ(log_read(p, expect + 1, 100, -1, true, &r),
             KERR_OFFSET_OUT_OF_RANGE);
    CHECK_EQ(log_read(p, -1, 100, -1, true, &r), KERR_OFFSET_OUT_OF_RANGE);
    CHECK_EQ(log_read(p, expect, 100, -1, true, &r), 0);
    CHECK_EQ(r.len, 0);
    /* max_offset (a HW of 3) bounds the read (the HW itself never moves
     * back: it is at LEO here) */
    CHECK_EQ(log_read(p, 3, 1 << 20, 3, true, &r), 0);
    CHECK_EQ(r.len, 0);
    CHECK_EQ(log_read(p, 0, 1 << 20, 3, true, &r), 0);
    CHECK(r.len > 0);
    log_read_release(&r);
    log_manager_close(m);
}

TEST(log_read_min_one_batch_and_partial) {
    log_manager *m = open_mgr(test_tmpdir(), NULL, 0);
    log_config c;
    log_config_default(&c);
    int16_t err;
    log_partition *p = log_create(m, "t", 0, TOPIC_ID, &c, &err);
    append_one(p, COMPRESS_NONE, 10, 1, clk_wall_ms(), 200, 0);
    append_one(p, COMPRESS_NONE, 10, 2, clk_wall_ms(), 200, 0);
    log_read_result r;
    CHECK_EQ(log_read(p, 0, 10, -1, true, &r), 0);
    int32_t first = r.len;
    CHECK(first > 2000);
    log_read_release(&r);
    /* without min_one: a first batch that does not fit gives nothing
     * (Kafka drops an incomplete first entry), a later one is cut */
    CHECK_EQ(log_read(p, 0, 10, -1, false, &r), 0);
    CHECK_EQ(r.len, 0);
    log_read_release(&r);
    CHECK_EQ(log_read(p, 0, first + 10, -1, false, &r), 0);
    CHECK_EQ(r.len, first + 10);
    log_read_release(&r);
    int32_t len = -1;
    CHECK_EQ(log_read_len(p, 0, 10, -1, true, &len), 0);
    CHECK_EQ(len, first);
    CHECK_EQ(log_read_len(p, 20, 10, -1, true, &len), 0);
    CHECK_EQ(len, 0);
    CHECK_EQ(log_read_len(p, 21, 10, -1, true, &len), KERR_OFFSET_OUT_OF_RANGE);
    CHECK_EQ(log_read(p, 0, 1 << 20, -1, false, &r), 0);
    CHECK_EQ(r.len, (int32_t)log_size_bytes(p));
    log_read_release(&r);
    log_manager_close(m);
}

TEST(log_index_and_time_lookup_match_linear_scan) {
    log_manager *m = open_mgr(test_tmpdir(), NULL, 0);
    log_config c = small_cfg();
    int16_t err;
    log_partition *p = log_create(m, "ts", 0, TOPIC_ID, &c, &err);
    rng rg;
    rng_seed(&rg, test_seed());
    /* timestamps mostly rising with some going back */
    int64_t ts[2000];
    int64_t n = 0;
    int64_t t = 100000;
    for (int i = 0; i < 300; i++) {
        int cnt = 1 + (int)rng_below(&rg, 5);
        int64_t t0 = t + (int64_t)rng_below(&rg, 50) - 20;
        append_one(p, (int)rng_below(&rg, 5), cnt, i, t0, 60, 0);
        for (int k = 0; k < cnt; k++)
            ts[n++] = t0 + k;
        t += 30;
    }
    for (int q = 0; q < 300; q++) {
        int64_t target = 99900 + (int64_t)rng_below(&rg, 9400);
        int64_t want = -1, want_ts = -1;
        for (int64_t i = 0; i < n; i++)
            if (ts[i] >= target) {
                want = i;
                want_ts = ts[i];
                break;
            }
        int64_t got, got_ts;
        CHECK_EQ(log_offset_for_timestamp(p, target, &got, &got_ts), 0);
        if (got != want)
            test_fail(__FILE__, __LINE__, "ts %lld: got %lld want %lld",
                      (long long)target, (long long)got, (long long)want);
        CHECK_EQ(got_ts, want_ts);
    }
    int64_t maxi = 0;
    for (int64_t i = 1; i < n; i++)
        if (ts[i] > ts[maxi])
            maxi = i;
    int64_t got, got_ts;
    CHECK_EQ(log_offset_for_timestamp(p, LOG_TS_MAX_TIMESTAMP, &got, &got_ts),
             0);
    CHECK_EQ(got_ts, ts[maxi]);
    CHECK_EQ(got, maxi);
    CHECK_EQ(log_offset_for_timestamp(p, LOG_TS_EARLIEST, &got, &got_ts), 0);
    CHECK_EQ(got, 0);
    CHECK_EQ(log_offset_for_timestamp(p, LOG_TS_LATEST, &got, &got_ts), 0);
    CHECK_EQ(got, n);
    /* same answers after a clean restart (indexes loaded from disk) */
    log_manager_close(m);
    m = open_mgr(test_tmpdir(), NULL, 0);
    p = log_get(m, "ts", 0);
    CHECK(p != NULL);
    log_set_config(p, &c);
    log_manager_stats st;
    log_manager_get_stats(m, &st);
    CHECK_EQ(st.recovered_batches, 0);
    CHECK_EQ(log_end_offset(p), n);
    for (int q = 0; q < 100; q++) {
        int64_t target = 99900 + (int64_t)rng_below(&rg, 9400);
        int64_t want = -1;
        for (int64_t i = 0; i < n; i++)
            if (ts[i] >= target) {
                want = i;
                break;
            }
        CHECK_EQ(log_offset_for_timestamp(p, target, &got, &got_ts), 0);
        CHECK_EQ(got, want);
    }
    CHECK_EQ(read_all(p), n);
    uint8_t id[16];
    log_topic_id(p, id);
    CHECK_MEM(id, TOPIC_ID, 16);
    log_manager_close(m);
}

static char *seg_path(const char *dir, const char *topic, int64_t base,
                      const char *ext) {
    char *p = xmalloc(512);
    snprintf(p, 512, "%s/%s-0/%020lld%s", dir, topic, (long long)base, ext);
    return p;
}

TEST(log_recovery_truncates_torn_tail_at_every_byte) {
    const char *dir = test_tmpdir();
    buf last;
    buf_init(&last, 0);
    make_batch(&last, COMPRESS_NONE, 3, 99, 5000, 40);
    size_t lastlen = last.len;
    buf_free(&last);
    for (size_t cut = 1; cut <= lastlen; cut++) {
        log_manager *m = open_mgr(dir, NULL, 0);
        log_config c;
        log_config_default(&c);
        c.timestamp_after_max_ms = INT64_MAX;
        int16_t err;
        char topic[32];
        snprintf(topic, sizeof(topic), "torn%zu", cut);
        log_partition *p = log_create(m, topic, 0, TOPIC_ID, &c, &err);
        for (int i = 0; i < 5; i++)
            append_one(p, COMPRESS_NONE, 2, i, 1000, 40, 0);
        append_one(p, COMPRESS_NONE, 3, 99, 5000, 40, 0);
        CHECK_EQ(log_end_offset(p), 13);
        log_manager_flush_dirty(m);
        log_manager_abandon(m); /* crash */
        char *lp = seg_path(dir, topic, 0, ".log");
        struct stat st;
        CHECK_EQ(stat(lp, &st), 0);
        CHECK_EQ(truncate(lp, st.st_size - (off_t)cut), 0);
        m = open_mgr(dir, NULL, 0);
        p = log_get(m, topic, 0);
        CHECK(p != NULL);
        CHECK_EQ(log_end_offset(p), 10);
        log_set_high_watermark(p, log_end_offset(p));
        CHECK_EQ(read_all(p), 10);
        /* appends continue at 10 */
        CHECK_EQ(append_one(p, COMPRESS_NONE, 1, 7, 1000, 10, 0), 10);
        log_manager_close(m);
        free(lp);
    }
}

TEST(log_recovery_truncates_at_bad_crc) {
    const char *dir = test_tmpdir();
    log_manager *m = open_mgr(dir, NULL, 0);
    log_config c;
    log_config_default(&c);
    c.timestamp_after_max_ms = INT64_MAX;
    int16_t err;
    log_partition *p = log_create(m, "crc", 0, TOPIC_ID, &c, &err);
    for (int i = 0; i < 10; i++)
        append_one(p, COMPRESS_NONE, 2, i, 1000, 40, 0);
    log_manager_abandon(m);
    /* flip one byte in the value area of the 4th batch */
    char *lp = seg_path(dir, "crc", 0, ".log");
    int fd = open(lp, O_RDWR);
    uint8_t hb[12];
    off_t pos = 0;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(pread(fd, hb, 12, pos), 12);
        pos += 12 + (off_t)sl_load_be32(hb + 8);
    }
    uint8_t x;
    CHECK_EQ(pread(fd, &x, 1, pos + 70), 1);
    x ^= 1;
    CHECK_EQ(pwrite(fd, &x, 1, pos + 70), 1);
    close(fd);
    m = open_mgr(dir, NULL, 0);
    p = log_get(m, "crc", 0);
    CHECK_EQ(log_end_offset(p), 6);
    log_manager_stats st;
    log_manager_get_stats(m, &st);
    CHECK(st.truncated_bytes > 0);
    log_manager_close(m);
    free(lp);
}

TEST(log_clean_restart_rereads_nothing_unclean_only_after_recovery_point) {
    const char *dir = test_tmpdir();
    log_manager *m = open_mgr(dir, NULL, 0);
    log_config c = small_cfg();
    int16_t err;
    log_partition *p = log_create(m, "rp", 0, TOPIC_ID, &c, &err);
    for (int i = 0; i < 100; i++)
        append_one(p, COMPRESS_NONE, 3, i, 1000 + i, 300, 0);
    int segs = log_segment_count(p);
    CHECK(segs > 3);
    log_manager_close(m);
    /* clean: nothing re-read */
    m = open_mgr(dir, NULL, 0);
    log_manager_stats st;
    log_manager_get_stats(m, &st);
    CHECK_EQ(st.recovered_batches, 0);
    p = log_get(m, "rp", 0);
    log_set_config(p, &c);
    CHECK_EQ(log_end_offset(p), 300);
    CHECK_EQ(log_segment_count(p), segs);
    /* flushed + checkpointed, then more appends, then a crash: only the
     * segment holding the recovery point and later are re-read */
    log_manager_flush_dirty(m);
    CHECK_EQ(log_recovery_point(p), 300);
    CHECK_EQ(log_manager_checkpoint(m), 0);
    for (int i = 0; i < 5; i++)
        append_one(p, COMPRESS_NONE, 3, i, 5000 + i, 300, 0);
    log_manager_abandon(m);
    m = open_mgr(dir, NULL, 0);
    log_manager_get_stats(m, &st);
    p = log_get(m, "rp", 0);
    CHECK_EQ(log_end_offset(p), 315);
    CHECK(st.recovered_batches > 0);
    CHECK(st.recovered_batches < 100); /* not the whole log */
    CHECK_EQ(st.truncated_bytes, 0);
    log_set_high_watermark(p, log_end_offset(p));
    CHECK_EQ(read_all(p), 315);
    /* no checkpoint at all: everything is re-read */
    log_manager_abandon(m);
    char ck[512];
    snprintf(ck, sizeof(ck), "%s/recovery-point-offset-checkpoint", dir);
    unlink(ck);
    m = open_mgr(dir, NULL, 0);
    log_manager_get_stats(m, &st);
    CHECK_EQ(st.recovered_batches, 105);
    log_manager_close(m);
}

TEST(log_checkpoint_files_format) {
    const char *dir = test_tmpdir();
    log_manager *m = open_mgr(dir, NULL, 0);
    log_config c;
    log_config_default(&c);
    int16_t err;
    log_partition *p = log_create(m, "fmt", 3, TOPIC_ID, &c, &err);
    append_one(p, COMPRESS_NONE, 4, 0, clk_wall_ms(), 10, 5);
    log_manager_close(m);
    char path[512], txt[512];
    snprintf(path, sizeof(path), "%s/replication-offset-checkpoint", dir);
    int fd = open(path, O_RDONLY);
    ssize_t n = read(fd, txt, sizeof(txt) - 1);
    close(fd);
    CHECK(n > 0);
    txt[n > 0 ? n : 0] = 0;
    CHECK_STR(txt, "0\n1\nfmt 3 4\n");
    snprintf(path, sizeof(path), "%s/fmt-3/leader-epoch-checkpoint", dir);
    fd = open(path, O_RDONLY);
    n = read(fd, txt, sizeof(txt) - 1);
    close(fd);
    txt[n > 0 ? n : 0] = 0;
    CHECK_STR(txt, "0\n1\n5 0\n");
    snprintf(path, sizeof(path), "%s/fmt-3/partition.metadata", dir);
    fd = open(path, O_RDONLY);
    n = read(fd, txt, sizeof(txt) - 1);
    close(fd);
    txt[n > 0 ? n : 0] = 0;
    CHECK_STR(txt, "version: 0\ntopic_id: AQIDBAUGBwgJCgsMDQ4PEA\n");
    snprintf(path, sizeof(path), "%s/fmt-3/00000000000000000000.index", dir);
    struct stat st;
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_size, 0); /* trimmed at close */
}

TEST(log_leader_epochs) {
    log_manager *m = open_mgr(test_tmpdir(), NULL, 0);
    log_config c;
    log_config_default(&c);
    int16_t err;
    log_partition *p = log_create(m, "ep", 0, TOPIC_ID, &c, &err);
    append_one(p, COMPRESS_NONE, 2, 0, clk_wall_ms(), 10, 1); /* 0-1 epoch 1 */
    append_one(p, COMPRESS_NONE, 2, 0, clk_wall_ms(), 10, 1); /* 2-3 */
    append_one(p, COMPRESS_NONE, 2, 0, clk_wall_ms(), 10, 3); /* 4-5 epoch 3 */
    append_one(p, COMPRESS_NONE, 2, 0, clk_wall_ms(), 10, 5); /* 6-7 epoch 5 */
    int32_t e;
    int64_t o;
    log_end_offset_for_epoch(p, 5, &e, &o);
    CHECK_EQ(e, 5);
    CHECK_EQ(o, 8);
    log_end_offset_for_epoch(p, 3, &e, &o);
    CHECK_EQ(e, 3);
    CHECK_EQ(o, 6);
    log_end_offset_for_epoch(p, 4, &e, &o);
    CHECK_EQ(e, 3);
    CHECK_EQ(o, 6);
    log_end_offset_for_epoch(p, 0, &e, &o);
    CHECK_EQ(e, 0);
    CHECK_EQ(o, 0);
    log_end_offset_for_epoch(p, 9, &e, &o);
    CHECK_EQ(e, -1);
    CHECK_EQ(o, -1);
    CHECK_EQ(log_latest_epoch(p), 5);
    /* the batch carries the epoch */
    log_read_result r;
    CHECK_EQ(log_read(p, 4, 100, -1, true, &r), 0);
    uint8_t hb[BATCH_HEADER_SIZE];
    CHECK_EQ(pread(r.fd, hb, sizeof(hb), r.file_pos), (ssize_t)sizeof(hb));
    CHECK_EQ((int32_t)sl_load_be32(hb + BATCH_OFF_LEADER_EPOCH), 3);
    CHECK_EQ((int64_t)sl_load_be64(hb), 4);
    log_read_release(&r);
    /* truncation drops later epochs */
    CHECK_EQ(log_truncate_to(p, 5), 0);
    CHECK_EQ(log_end_offset(p), 4); /* batch boundary at or before 5 */
    CHECK_EQ(log_latest_epoch(p), 1);
    log_manager_close(m);
}

/* A follower appends a fetched chunk as it is: its batches keep their
 * offsets and the partition leader epochs they carry, and a chunk may span
 * epochs. Each batch's epoch starts its own cache entry (Kafka's
 * UnifiedLog.append assigns per batch), so OffsetForLeaderEpoch answers the
 * end of every epoch in the chunk, and the checkpoint keeps them. */
static void chunk_add(buf *chunk, int n, int64_t base, int32_t epoch) {
    buf b;
    buf_init(&b, 0);
    make_batch(&b, COMPRESS_NONE, n, (int)base, clk_wall_ms(), 10);
    batch_set_base_offset(b.data, base);
    batch_set_leader_epoch(b.data, epoch);
    buf_put(chunk, b.data, b.len);
    buf_free(&b);
}

static void check_epoch_end(log_partition *p, int32_t req, int32_t want_epoch,
                            int64_t want_end) {
    int32_t e;
    int64_t o;
    log_end_offset_for_epoch(p, req, &e, &o);
    CHECK_EQ(e, want_epoch);
    CHECK_EQ(o, want_end);
}

TEST(log_follower_chunk_spans_epochs) {
    const char *dir = test_tmpdir();
    log_manager *m = open_mgr(dir, NULL, 0);
    log_config c;
    log_config_default(&c);
    int16_t err;
    log_partition *p = log_create(m, "fe", 0, TOPIC_ID, &c, &err);
    CHECK_EQ(append_one(p, COMPRESS_NONE, 2, 0, clk_wall_ms(), 10, 1), 0);
    /* offsets 2-3 in epoch 1, 4-6 in epoch 2, 7 in epoch 4 */
    buf chunk;
    buf_init(&chunk, 0);
    chunk_add(&chunk, 2, 2, 1);
    chunk_add(&chunk, 3, 4, 2);
    chunk_add(&chunk, 1, 7, 4);
    log_append_info info;
    CHECK_EQ(
        log_append(p, chunk.data, chunk.len, 4, LOG_ORIGIN_REPLICATION, &info),
        0);
    buf_free(&chunk);
    CHECK_EQ(info.base_offset, 2);
    CHECK_EQ(info.last_offset, 7);
    CHECK_EQ(log_end_offset(p), 8);
    for (int pass = 0; pass < 2; pass++) {
        check_epoch_end(p, 1, 1, 4); /* epoch 2 starts at 4 */
        check_epoch_end(p, 2, 2, 7);
        check_epoch_end(p, 3, 2, 7); /* unknown: its floor, next start */
        check_epoch_end(p, 4, 4, 8); /* latest: LEO */
        check_epoch_end(p, 5, -1, -1);
        CHECK_EQ(log_latest_epoch(p), 4);
        CHECK_EQ(log_epoch_for_offset(p, 3), 1);
        CHECK_EQ(log_epoch_for_offset(p, 6), 2);
        CHECK_EQ(log_epoch_for_offset(p, 7), 4);
        if (pass == 0) { /* again from leader-epoch-checkpoint */
            log_manager_close(m);
            m = open_mgr(dir, NULL, 0);
            p = log_get(m, "fe", 0);
            CHECK(p != NULL);
        }
    }
    /* truncation below the chunk's last epoch drops it */
    CHECK_EQ(log_truncate_to(p, 7), 0);
    CHECK_EQ(log_latest_epoch(p), 2);
    check_epoch_end(p, 2, 2, 7);
    log_manager_close(m);
}

TEST(log_retention_by_time_and_size) {
    clk_manual clk = {1000000000LL, 1700000000000LL};
    clk_manual_install(&clk);
    log_manager *m = open_mgr(test_tmpdir(), NULL, 0);
    log_config c = small_cfg();
    c.retention_ms = 3600000;
    int16_t err;
    log_partition *p = log_create(m, "ret", 0, TOPIC_ID, &c, &err);
    for (int i = 0; i < 100; i++)
        append_one(p, COMPRESS_NONE, 5, i, clk.wall_ms - 7200000 + i, 100, 0);
    int segs = log_segment_count(p);
    CHECK(segs > 3);
    /* all records are 2h old, retention 1h: all segments go */
    CHECK_EQ(log_manager_tick(m), segs);
    CHECK_EQ(log_start_offset(p), 500);
    CHECK_EQ(log_end_offset(p), 500);
    CHECK_EQ(log_segment_count(p), 1);
    log_read_result r;
    CHECK_EQ(log_read(p, 0, 100, -1, true, &r), KERR_OFFSET_OUT_OF_RANGE);
    /* fresh data stays; appends continue */
    CHECK_EQ(append_one(p, COMPRESS_NONE, 5, 0, clk.wall_ms, 100, 0), 500);
    CHECK_EQ(log_manager_tick(m), 0);
    clk_manual_advance_ms(&clk, 3600010); /* newest record: +4 ms */
    CHECK_EQ(log_manager_tick(m), 1);
    CHECK_EQ(log_start_offset(p), 505);

    /* size: keep at most ~3 segments worth */
    log_config c2 = small_cfg();
    c2.retention_bytes = 40000;
    log_partition *q = log_create(m, "size", 0, TOPIC_ID, &c2, &err);
    for (int i = 0; i < 200; i++)
        append_one(q, COMPRESS_NONE, 5, i, clk.wall_ms, 100, 0);
    int64_t before = log_size_bytes(q);
    CHECK(before > 40000);
    CHECK(log_manager_tick(m) > 0);
    /* Kafka deletes whole segments while the rest stays >= retention.bytes */
    CHECK(log_size_bytes(q) >= 40000);
    CHECK(log_size_bytes(q) < 40000 + 16 * 1024);
    CHECK(log_start_offset(q) > 0);
    log_set_high_watermark(q, log_end_offset(q));
    CHECK_EQ(read_all(q), log_end_offset(q) - log_start_offset(q));
    /* log start survives a restart */
    int64_t ls = log_start_offset(q);
    log_manager_close(m);
    m = open_mgr(test_tmpdir(), NULL, 0);
    q = log_get(m, "size", 0);
    CHECK_EQ(log_start_offset(q), ls);
    log_manager_close(m);
}

TEST(log_delete_records_moves_log_start) {
    log_manager *m = open_mgr(test_tmpdir(), NULL, 0);
    log_config c = small_cfg();
    int16_t err;
    log_partition *p = log_create(m, "dr", 0, TOPIC_ID, &c, &err);
    for (int i = 0; i < 100; i++)
        append_one(p, COMPRESS_NONE, 5, i, 1000, 100, 0);
    int segs = log_segment_count(p);
    int64_t ls;
    CHECK_EQ(log_delete_records(p, 501, &ls), KERR_OFFSET_OUT_OF_RANGE);
    CHECK_EQ(log_delete_records(p, 250, &ls), 0);
    CHECK_EQ(ls, 250);
    CHECK_EQ(log_start_offset(p), 250);
    CHECK(log_segment_count(p) < segs);
    log_read_result r;
    CHECK_EQ(log_read(p, 249, 100, -1, true, &r), KERR_OFFSET_OUT_OF_RANGE);
    CHECK_EQ(log_read(p, 250, 100, -1, true, &r), 0);
    CHECK(r.len > 0);
    log_read_release(&r);
    int64_t o, t;
    CHECK_EQ(log_offset_for_timestamp(p, LOG_TS_EARLIEST, &o, &t), 0);
    CHECK_EQ(o, 250);
    CHECK_EQ(log_delete_records(p, -1, &ls), 0); /* to HW */
    CHECK_EQ(ls, 500);
    log_manager_close(m);
}

TEST(log_append_validation_errors) {
    log_manager *m = open_mgr(test_tmpdir(), NULL, 0);
    log_config c;
    log_config_default(&c);
    c.max_message_bytes = 2000;
    int16_t err;
    log_partition *p = log_create(m, "v", 0, TOPIC_ID, &c, &err);
    log_append_info info;
    buf b;
    buf_init(&b, 0);
    make_batch(&b, COMPRESS_NONE, 30, 0, clk_wall_ms(), 100);
    CHECK_EQ(log_append(p, b.data, b.len, 0, LOG_ORIGIN_CLIENT, &info),
             KERR_MESSAGE_TOO_LARGE);
    buf_reset(&b);
    make_batch(&b, COMPRESS_NONE, 3, 0, clk_wall_ms(), 10);
    b.data[b.len - 1] ^= 1;
    CHECK_EQ(log_append(p, b.data, b.len, 0, LOG_ORIGIN_CLIENT, &info),
             KERR_CORRUPT_MESSAGE);
    buf_reset(&b);
    make_batch(&b, COMPRESS_NONE, 3, 0, clk_wall_ms() + 7200000, 10);
    CHECK_EQ(log_append(p, b.data, b.len, 0, LOG_ORIGIN_CLIENT, &info),
             KERR_INVALID_TIMESTAMP);
    buf_reset(&b);
    batch_build_control(&b, 1, 0, BATCH_CONTROL_COMMIT, 0, clk_wall_ms());
    CHECK_EQ(log_append(p, b.data, b.len, 0, LOG_ORIGIN_CLIENT, &info),
             KERR_INVALID_RECORD);
    CHECK_EQ(log_append(p, b.data, b.len, 0, LOG_ORIGIN_COORDINATOR, &info), 0);
    CHECK_EQ(info.base_offset, 0);
    /* a good batch after a bad one in the same append: none is written */
    buf_reset(&b);
    make_batch(&b, COMPRESS_NONE, 2, 0, clk_wall_ms(), 10);
    size_t good = b.len;
    make_batch(&b, COMPRESS_NONE, 2, 0, clk_wall_ms(), 10);
    b.data[b.len - 1] ^= 1;
    CHECK_EQ(log_append(p, b.data, b.len, 0, LOG_ORIGIN_CLIENT, &info),
             KERR_CORRUPT_MESSAGE);
    CHECK_EQ(info.err_batch_index, 1);
    CHECK_EQ(log_end_offset(p), 1);
    b.data[b.len - 1] ^= 1;
    CHECK_EQ(log_append(p, b.data, b.len, 0, LOG_ORIGIN_CLIENT, &info), 0);
    CHECK_EQ(info.base_offset, 1);
    CHECK_EQ(info.last_offset, 4);
    (void)good;
    /* compacted topic: a null key is refused */
    log_config cc;
    log_config_default(&cc);
    cc.cleanup_policy = LOG_CLEANUP_COMPACT;
    log_partition *q = log_create(m, "compact", 0, TOPIC_ID, &cc, &err);
    batch_builder bb;
    buf_reset(&b);
    batch_builder_init(&bb, COMPRESS_ZSTD, 0);
    batch_builder_add(&bb, clk_wall_ms(), NULL, -1, "v", 1, NULL, 0);
    CHECK_EQ(batch_builder_finish(&bb, &b), 0);
    batch_builder_free(&bb);
    CHECK_EQ(log_append(q, b.data, b.len, 0, LOG_ORIGIN_CLIENT, &info),
             KERR_INVALID_RECORD);
    buf_free(&b);
    log_manager_close(m);
}

TEST(log_append_time_rewrites_timestamp) {
    clk_manual clk = {1000000000LL, 1700000000000LL};
    clk_manual_install(&clk);
    log_manager *m = open_mgr(test_tmpdir(), NULL, 0);
    log_config c;
    log_config_default(&c);
    c.message_timestamp_type = LOG_TS_LOG_APPEND_TIME;
    int16_t err;
    log_partition *p = log_create(m, "lat", 0, TOPIC_ID, &c, &err);
    buf b;
    buf_init(&b, 0);
    make_batch(&b, COMPRESS_GZIP, 3, 0, 5, 10); /* ancient timestamps */
    log_append_info info;
    CHECK_EQ(log_append(p, b.data, b.len, 0, LOG_ORIGIN_CLIENT, &info), 0);
    CHECK_EQ(info.log_append_time, 1700000000000LL);
    log_batch_header h;
    CHECK_EQ(batch_validate(b.data, b.len, &h), 0); /* rewritten in place */
    CHECK_EQ(h.max_timestamp, 1700000000000LL);
    CHECK(h.attributes & BATCH_ATTR_LOG_APPEND_TIME);
    buf_free(&b);
    log_manager_close(m);
}

TEST(log_thousands_of_partitions_small_fd_limit) {
    log_manager *m = open_mgr(test_tmpdir(), NULL, 16);
    log_config c;
    log_config_default(&c);
    c.segment_index_bytes = 1024;
    int16_t err;
    int N = 2000;
    for (int i = 0; i < N; i++) {
        log_partition *p = log_create(m, "many", i, TOPIC_ID, &c, &err);
        CHECK(p != NULL);
        if (!p)
            break;
        append_one(p, COMPRESS_NONE, 1 + i % 3, i, clk_wall_ms(), 20, 0);
    }
    log_manager_stats st;
    log_manager_get_stats(m, &st);
    CHECK(st.open_segments <= 16);
    CHECK_EQ(st.partitions, N);
    CHECK_EQ(log_manager_flush_dirty(m), N);
    for (int i = N - 1; i >= 0; i -= 7) {
        log_partition *p = log_get(m, "many", i);
        CHECK_EQ(log_end_offset(p), 1 + i % 3);
        CHECK_EQ(read_all(p), 1 + i % 3);
        append_one(p, COMPRESS_NONE, 1, 0, clk_wall_ms(), 20, 0);
    }
    log_manager_get_stats(m, &st);
    CHECK(st.open_segments <= 16);
    log_manager_close(m);
    m = open_mgr(test_tmpdir(), NULL, 16);
    log_manager_get_stats(m, &st);
    CHECK_EQ(st.partitions, N);
    CHECK_EQ(st.recovered_batches, 0);
    CHECK(st.open_segments <= 16);
    log_partition *p = log_get(m, "many", 1999);
    CHECK_EQ(log_end_offset(p), 2 + 1);
    log_manager_close(m);
}

/* Faulty io: fails fsync after `fsync_ok` calls; pwrite of the .log tears
 * (writes half, then fails) once `tear` is set. */
typedef struct fault_ctx {
    int fsync_ok;
    bool tear;
} fault_ctx;

static int f_fsync(void *c, int fd) {
    fault_ctx *f = c;
    if (f->fsync_ok-- <= 0) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}
static ssize_t f_pwrite(void *c, int fd, const void *b, size_t n, off_t o) {
    fault_ctx *f = c;
    if (f->tear && n > 100) {
        f->tear = false;
        ssize_t w = pwrite(fd, b, n / 2, o);
        (void)w;
        errno = ENOSPC;
        return -1;
    }
    return pwrite(fd, b, n, o);
}

TEST(log_fsync_failure_poisons_partition) {
    fault_ctx f = {1000000, false};
    log_io io = log_io_posix;
    io.fsync = f_fsync;
    io.pwrite = f_pwrite;
    io.ctx = &f;
    const char *dir = test_tmpdir();
    log_manager *m = open_mgr2(dir, &io);
    log_config c;
    log_config_default(&c);
    int16_t err;
    log_partition *p = log_create(m, "fs", 0, TOPIC_ID, &c, &err);
    /* placement: the dir with the fewest partitions, so q is in b */
    log_partition *q = log_create(m, "ok", 0, TOPIC_ID, &c, &err);
    log_partition *same = log_create(m, "fs", 1, TOPIC_ID, &c, &err);
    CHECK(strcmp(log_dir_path(p), log_dir_path(q)) != 0);
    CHECK_EQ(strcmp(log_dir_path(p), log_dir_path(same)), 0);
    append_one(p, COMPRESS_NONE, 2, 0, clk_wall_ms(), 10, 0);
    f.fsync_ok = 0;
    CHECK_EQ(log_flush(p), KERR_KAFKA_STORAGE_ERROR);
    CHECK(log_is_failed(p));
    f.fsync_ok = 1000000;
    /* never retried and trusted */
    CHECK_EQ(log_flush(p), KERR_KAFKA_STORAGE_ERROR);
    buf b;
    buf_init(&b, 0);
    make_batch(&b, COMPRESS_NONE, 2, 0, clk_wall_ms(), 10);
    log_append_info info;
    CHECK_EQ(log_append(p, b.data, b.len, 0, LOG_ORIGIN_CLIENT, &info),
             KERR_KAFKA_STORAGE_ERROR);
    log_read_result r;
    CHECK_EQ(log_read(p, 0, 100, -1, true, &r), KERR_KAFKA_STORAGE_ERROR);
    /* the whole dir went offline (Kafka's log dir failure), the other dir
     * is unaffected */
    CHECK(log_manager_dir_offline(m, 0));
    CHECK(!log_manager_dir_offline(m, 1));
    CHECK(log_is_failed(same));
    CHECK_EQ(log_append(same, b.data, b.len, 0, LOG_ORIGIN_CLIENT, &info),
             KERR_KAFKA_STORAGE_ERROR);
    CHECK_EQ(log_append(q, b.data, b.len, 0, LOG_ORIGIN_CLIENT, &info), 0);
    /* a torn write poisons too, and recovery cuts the half batch */
    f.tear = true;
    buf_reset(&b);
    make_batch(&b, COMPRESS_NONE, 5, 0, clk_wall_ms(), 50);
    CHECK_EQ(log_append(q, b.data, b.len, 0, LOG_ORIGIN_CLIENT, &info),
             KERR_KAFKA_STORAGE_ERROR);
    CHECK(log_is_failed(q));
    buf_free(&b);
    log_manager_abandon(m);
    m = open_mgr2(dir, NULL);
    q = log_get(m, "ok", 0);
    CHECK_EQ(log_end_offset(q), 2);
    CHECK(!log_is_failed(q));
    log_manager_stats st;
    log_manager_get_stats(m, &st);
    CHECK(st.truncated_bytes > 0);
    log_manager_close(m);
}

TEST(log_delete_partition_and_recreate) {
    const char *dir = test_tmpdir();
    log_manager *m = open_mgr(dir, NULL, 0);
    int16_t err;
    log_partition *p = log_create(m, "gone", 0, TOPIC_ID, NULL, &err);
    append_one(p, COMPRESS_NONE, 2, 0, clk_wall_ms(), 10, 0);
    CHECK_EQ(log_delete(m, p), 0);
    CHECK(log_get(m, "gone", 0) == NULL);
    char path[512];
    snprintf(path, sizeof(path), "%s/gone-0", dir);
    struct stat st;
    CHECK(stat(path, &st) != 0);
    p = log_create(m, "gone", 0, TOPIC_ID, NULL, &err);
    CHECK_EQ(log_end_offset(p), 0);
    log_manager_close(m);
}

TEST(log_segment_roll_by_time) {
    clk_manual clk = {1000000000LL, 1700000000000LL};
    clk_manual_install(&clk);
    log_manager *m = open_mgr(test_tmpdir(), NULL, 0);
    log_config c;
    log_config_default(&c);
    c.segment_ms = 60000;
    int16_t err;
    log_partition *p = log_create(m, "roll", 0, TOPIC_ID, &c, &err);
    append_one(p, COMPRESS_NONE, 1, 0, clk.wall_ms, 10, 0);
    append_one(p, COMPRESS_NONE, 1, 0, clk.wall_ms + 1000, 10, 0);
    CHECK_EQ(log_segment_count(p), 1);
    clk_manual_advance_ms(&clk, 61000);
    append_one(p, COMPRESS_NONE, 1, 0, clk.wall_ms, 10, 0);
    CHECK_EQ(log_segment_count(p), 2);
    log_manager_close(m);
}

TEST(log_two_dirs_placement_and_reopen) {
    char d1[512], d2[512];
    snprintf(d1, sizeof(d1), "%s/a", test_tmpdir());
    snprintf(d2, sizeof(d2), "%s/b", test_tmpdir());
    const char *dirs[2] = {d1, d2};
    log_manager_opts o = {0};
    o.log_dirs = dirs;
    o.n_log_dirs = 2;
    int16_t err;
    log_manager *m = log_manager_open(&o, &err);
    CHECK(m != NULL);
    for (int i = 0; i < 6; i++) {
        log_partition *p = log_create(m, "two", i, TOPIC_ID, NULL, &err);
        append_one(p, COMPRESS_NONE, i + 1, i, clk_wall_ms(), 10, 0);
    }
    int in_a = 0;
    for (int i = 0; i < 6; i++)
        in_a += !strcmp(log_dir_path(log_get(m, "two", i)), d1);
    CHECK_EQ(in_a, 3); /* the dir with the fewest partitions gets the next */
    log_manager_close(m);
    m = log_manager_open(&o, &err);
    for (int i = 0; i < 6; i++) {
        log_partition *p = log_get(m, "two", i);
        CHECK(p != NULL);
        if (p)
            CHECK_EQ(log_end_offset(p), i + 1);
    }
    log_manager_close(m);
}

TEST(log_multi_batch_append_and_truncate_across_segments) {
    log_manager *m = open_mgr(test_tmpdir(), NULL, 0);
    log_config c = small_cfg();
    c.segment_bytes = 2048;
    int16_t err;
    log_partition *p = log_create(m, "mb", 0, TOPIC_ID, &c, &err);
    /* three batches in one append: consecutive offsets, one write */
    buf b;
    buf_init(&b, 0);
    make_batch(&b, COMPRESS_NONE, 2, 0, 1000, 10);
    make_batch(&b, COMPRESS_GZIP, 3, 1, 1000, 10);
    make_batch(&b, COMPRESS_NONE, 4, 2, 1000, 10);
    log_append_info info;
    CHECK_EQ(log_append(p, b.data, b.len, 0, LOG_ORIGIN_CLIENT, &info), 0);
    CHECK_EQ(info.base_offset, 0);
    CHECK_EQ(info.last_offset, 8);
    CHECK_EQ(info.record_count, 9);
    buf_free(&b);
    for (int i = 0; i < 60; i++)
        append_one(p, COMPRESS_NONE, 2, i, 1000, 100, 0);
    CHECK(log_segment_count(p) > 3);
    int64_t leo = log_end_offset(p);
    CHECK_EQ(leo, 9 + 120);
    /* cut back into the first segments: later segments disappear */
    CHECK_EQ(log_truncate_to(p, 11), 0);
    CHECK_EQ(log_end_offset(p), 11);
    CHECK_EQ(log_segment_count(p), 1);
    CHECK(log_high_watermark(p) <= 11);
    CHECK_EQ(append_one(p, COMPRESS_NONE, 1, 0, 1000, 10, 0), 11);
    CHECK_EQ(read_all(p), 12);
    log_manager_close(m);
    m = open_mgr(test_tmpdir(), NULL, 0);
    p = log_get(m, "mb", 0);
    CHECK_EQ(log_end_offset(p), 12);
    log_manager_close(m);
}

/* Reads every batch of p from its log start; returns the number of
 * records (checks batch CRCs through batch parsing). */
static int64_t count_records(log_partition *p) {
    int64_t n = 0, off = log_start_offset(p);
    while (off < log_end_offset(p)) {
        log_read_result r;
        CHECK_EQ(log_read(p, off, 1 << 20, -1, true, &r), 0);
        CHECK(r.len > 0);
        uint8_t *data = xmalloc((size_t)r.len);
        CHECK_EQ(pread(r.fd, data, (size_t)r.len, r.file_pos), r.len);
        size_t pos = 0;
        while (pos + BATCH_HEADER_SIZE <= (size_t)r.len) {
            log_batch_header h;
            if (batch_validate(data + pos, (size_t)r.len - pos, &h) != 0)
                break;
            n += h.records_count;
            off = batch_last_offset(&h) + 1;
            pos += (size_t)batch_size(&h);
        }
        free(data);
        log_read_release(&r);
    }
    return n;
}

TEST(log_move_between_dirs_while_appending) {
    const char *dir = test_tmpdir();
    log_manager *m = open_mgr2(dir, NULL);
    log_config c;
    log_config_default(&c);
    c.segment_bytes = 4096;
    int16_t err;
    log_partition *p = log_create(m, "mv", 0, TOPIC_ID, &c, &err);
    for (int i = 0; i < 40; i++)
        append_one(p, COMPRESS_NONE, 5, i, clk_wall_ms(), 100, 0);
    CHECK(log_segment_count(p) > 3);
    int src = log_manager_dir_index(m, log_dir_path(p));
    int dst = 1 - src;
    CHECK_EQ(log_move_begin(p, 7), KERR_LOG_DIR_NOT_FOUND);
    CHECK_EQ(log_move_begin(p, src), 0); /* already there: nothing to do */
    int d;
    int64_t size, leo;
    CHECK(!log_move_info(p, &d, &size, &leo));
    CHECK_EQ(log_move_begin(p, dst), 0);
    CHECK(log_move_info(p, &d, &size, &leo));
    CHECK_EQ(d, dst);
    bool done = false;
    int steps = 0;
    while (!done) {
        CHECK_EQ(log_move_step(p, 1000, &done), 0);
        /* appends go on during the move */
        if (steps++ < 20)
            append_one(p, COMPRESS_NONE, 1, 100 + steps, clk_wall_ms(), 100, 0);
        CHECK(steps < 10000);
    }
    CHECK(steps > 5);
    CHECK(!log_move_info(p, &d, &size, &leo));
    CHECK_EQ(log_manager_dir_index(m, log_dir_path(p)), dst);
    CHECK_EQ(log_end_offset(p), 220);
    CHECK_EQ(count_records(p), 220);
    /* the old copy is gone, the log is served and appended to there */
    char old[4096];
    snprintf(old, sizeof old, "%s/mv-0", log_manager_dir(m, src));
    CHECK(access(old, F_OK) != 0);
    append_one(p, COMPRESS_NONE, 3, 999, clk_wall_ms(), 10, 0);
    log_manager_close(m);
    m = open_mgr2(dir, NULL);
    p = log_get(m, "mv", 0);
    CHECK(p != NULL);
    CHECK_EQ(log_manager_dir_index(m, log_dir_path(p)), dst);
    CHECK_EQ(log_end_offset(p), 223);
    CHECK_EQ(count_records(p), 223);
    log_manager_close(m);
}

TEST(log_move_interrupted_by_crash_starts_again) {
    const char *dir = test_tmpdir();
    log_manager *m = open_mgr2(dir, NULL);
    log_config c;
    log_config_default(&c);
    c.segment_bytes = 4096;
    int16_t err;
    log_partition *p = log_create(m, "mc", 0, TOPIC_ID, &c, &err);
    for (int i = 0; i < 30; i++)
        append_one(p, COMPRESS_NONE, 5, i, clk_wall_ms(), 100, 0);
    log_flush(p);
    int src = log_manager_dir_index(m, log_dir_path(p));
    CHECK_EQ(log_move_begin(p, 1 - src), 0);
    bool done = false;
    CHECK_EQ(log_move_step(p, 5000, &done), 0);
    CHECK(!done);
    log_manager_abandon(m); /* kill -9 */
    m = open_mgr2(dir, NULL);
    p = log_get(m, "mc", 0);
    CHECK(p != NULL);
    /* still served from the source, the move under way again */
    CHECK_EQ(log_manager_dir_index(m, log_dir_path(p)), src);
    CHECK_EQ(log_end_offset(p), 150);
    int d;
    int64_t size, leo;
    CHECK(log_move_info(p, &d, &size, &leo));
    CHECK_EQ(d, 1 - src);
    CHECK_EQ(size, 0);
    while (!done)
        CHECK_EQ(log_move_step(p, 1 << 20, &done), 0);
    CHECK_EQ(log_manager_dir_index(m, log_dir_path(p)), 1 - src);
    CHECK_EQ(count_records(p), 150);
    log_manager_close(m);
}
