/* Record batches (src/log/batch.c) and codecs (src/log/compress.c). */
#include <glob.h>
#include <stdlib.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/util.h"
#include "log/batch.h"
#include "log/compress.h"
#include "proto/errors.h"
#include "test.h"

static void build_sample(buf *out, int codec, int n) {
    batch_builder b;
    batch_builder_init(&b, codec, 0);
    for (int i = 0; i < n; i++) {
        char k[32], v[64];
        int kl = snprintf(k, sizeof(k), "key-%d", i);
        int vl = snprintf(v, sizeof(v), "value-%d-%s", i, "xxxxxxxxxxxxxxxx");
        log_record_header h[2] = {
            {(const uint8_t *)"h1", 2, (const uint8_t *)"v1", 2},
            {(const uint8_t *)"h2", 2, NULL, -1}};
        if (i % 3 == 0) /* null key, tombstone value */
            batch_builder_add(&b, 1000 + i, NULL, -1, NULL, -1, NULL, 0);
        else
            batch_builder_add(&b, 1000 + i, k, kl, v, vl, h, i % 2 ? 2 : 0);
    }
    CHECK_EQ(batch_builder_finish(&b, out), KERR_NONE);
    batch_builder_free(&b);
}

static void check_sample(const uint8_t *p, size_t n, int codec, int count) {
    log_batch_header h;
    CHECK_EQ(batch_validate(p, n, &h), KERR_NONE);
    CHECK_EQ(batch_size(&h), (int64_t)n);
    CHECK_EQ(batch_compression(&h), codec);
    CHECK_EQ(h.records_count, count);
    CHECK_EQ(h.last_offset_delta, count - 1);
    CHECK_EQ(h.base_timestamp, 1000);
    CHECK_EQ(h.max_timestamp, 1000 + count - 1);
    CHECK_EQ(h.producer_id, -1);
    buf plain;
    buf_init(&plain, 0);
    CHECK_EQ(batch_decompress_records(&h, p, 1 << 20, &plain), KERR_NONE);
    batch_iter it;
    batch_iter_init(&it, &h, plain.data, plain.len);
    log_record r;
    int i = 0, rc;
    while ((rc = batch_iter_next(&it, &r)) == 1) {
        CHECK_EQ(r.offset, i);
        CHECK_EQ(r.timestamp, 1000 + i);
        if (i % 3 == 0) {
            CHECK_EQ(r.key_len, -1);
            CHECK_EQ(r.value_len, -1);
            CHECK_EQ(r.headers_count, 0);
        } else {
            char k[32];
            int kl = snprintf(k, sizeof(k), "key-%d", i);
            CHECK_EQ(r.key_len, kl);
            CHECK_MEM(r.key, k, (size_t)kl);
            CHECK_EQ(r.headers_count, i % 2 ? 2 : 0);
            if (i % 2) {
                const uint8_t *hp = r.headers;
                log_record_header hh;
                CHECK_EQ(batch_header_next(&hp, r.headers + r.headers_len, &hh),
                         1);
                CHECK_EQ(hh.key_len, 2);
                CHECK_MEM(hh.value, "v1", 2);
                CHECK_EQ(batch_header_next(&hp, r.headers + r.headers_len, &hh),
                         1);
                CHECK_EQ(hh.value_len, -1);
                CHECK_EQ(batch_header_next(&hp, r.headers + r.headers_len, &hh),
                         0);
            }
        }
        i++;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(i, count);
    buf_free(&plain);
}

TEST(log_batch_builder_roundtrip_all_codecs) {
    for (int codec = 0; codec <= 4; codec++) {
        buf out;
        buf_init(&out, 0);
        build_sample(&out, codec, 50);
        check_sample(out.data, out.len, codec, 50);
        buf_free(&out);
    }
}

TEST(log_batch_validate_rejects_corruption) {
    buf out;
    buf_init(&out, 0);
    build_sample(&out, COMPRESS_NONE, 5);
    log_batch_header h;
    /* every single-byte flip inside the CRC range is caught */
    for (size_t i = BATCH_OFF_ATTRIBUTES; i < out.len; i++) {
        out.data[i] ^= 0x40;
        CHECK(batch_validate(out.data, out.len, &h) != KERR_NONE);
        out.data[i] ^= 0x40;
    }
    /* the CRC does not cover baseOffset and the leader epoch */
    batch_set_base_offset(out.data, 12345);
    batch_set_leader_epoch(out.data, 7);
    CHECK_EQ(batch_validate(out.data, out.len, &h), KERR_NONE);
    CHECK_EQ(h.base_offset, 12345);
    CHECK_EQ(h.partition_leader_epoch, 7);
    /* truncated */
    CHECK_EQ(batch_validate(out.data, out.len - 1, &h), KERR_CORRUPT_MESSAGE);
    CHECK_EQ(batch_validate(out.data, 10, &h), KERR_CORRUPT_MESSAGE);
    /* magic 1 */
    out.data[BATCH_OFF_MAGIC] = 1;
    CHECK_EQ(batch_validate(out.data, out.len, &h), KERR_CORRUPT_MESSAGE);
    out.data[BATCH_OFF_MAGIC] = 2;
    /* count disagreeing with lastOffsetDelta, with a correct CRC */
    sl_store_be32(out.data + BATCH_OFF_RECORDS_COUNT, 4);
    sl_store_be32(out.data + BATCH_OFF_CRC,
                  batch_compute_crc(out.data, out.len));
    CHECK_EQ(batch_validate(out.data, out.len, &h), KERR_INVALID_RECORD);
    buf_free(&out);
}

TEST(log_batch_log_append_time_rewrite_keeps_crc_valid) {
    buf out;
    buf_init(&out, 0);
    build_sample(&out, COMPRESS_LZ4, 3);
    batch_set_log_append_time(out.data, out.len, 999999);
    log_batch_header h;
    CHECK_EQ(batch_validate(out.data, out.len, &h), KERR_NONE);
    CHECK_EQ(h.max_timestamp, 999999);
    CHECK(h.attributes & BATCH_ATTR_LOG_APPEND_TIME);
    buf_free(&out);
}

TEST(log_batch_control_marker) {
    buf out;
    buf_init(&out, 0);
    batch_build_control(&out, 42, 3, BATCH_CONTROL_COMMIT, 9, 5000);
    log_batch_header h;
    CHECK_EQ(batch_validate(out.data, out.len, &h), KERR_NONE);
    CHECK(batch_is_control(&h));
    CHECK(batch_is_transactional(&h));
    CHECK_EQ(h.producer_id, 42);
    CHECK_EQ(h.producer_epoch, 3);
    batch_iter it;
    batch_iter_init(&it, &h, out.data + BATCH_HEADER_SIZE,
                    out.len - BATCH_HEADER_SIZE);
    log_record r;
    CHECK_EQ(batch_iter_next(&it, &r), 1);
    CHECK_EQ(r.key_len, 4);
    CHECK_EQ(sl_load_be16(r.key + 2), BATCH_CONTROL_COMMIT);
    CHECK_EQ(r.value_len, 6);
    CHECK_EQ((int32_t)sl_load_be32(r.value + 2), 9);
    CHECK_EQ(batch_iter_next(&it, &r), 0);
    buf_free(&out);
}

TEST(log_batch_recompress_between_codecs) {
    for (int from = 0; from <= 4; from++)
        for (int to = 0; to <= 4; to++) {
            buf a, b;
            buf_init(&a, 0);
            buf_init(&b, 0);
            build_sample(&a, from, 20);
            log_batch_header h;
            CHECK_EQ(batch_validate(a.data, a.len, &h), KERR_NONE);
            CHECK_EQ(batch_recompress(a.data, &h, to, 1 << 20, &b), KERR_NONE);
            check_sample(b.data, b.len, to, 20);
            buf_free(&a);
            buf_free(&b);
        }
}

TEST(log_batch_iter_rejects_bad_records) {
    buf out;
    buf_init(&out, 0);
    build_sample(&out, COMPRESS_NONE, 4);
    log_batch_header h;
    batch_parse_header(out.data, out.len, &h);
    /* claim more records than present */
    h.records_count = 5;
    batch_iter it;
    batch_iter_init(&it, &h, out.data + BATCH_HEADER_SIZE,
                    out.len - BATCH_HEADER_SIZE);
    log_record r;
    int rc;
    while ((rc = batch_iter_next(&it, &r)) == 1)
        ;
    CHECK_EQ(rc, -1);
    /* fewer: trailing bytes are an error */
    h.records_count = 3;
    batch_iter_init(&it, &h, out.data + BATCH_HEADER_SIZE,
                    out.len - BATCH_HEADER_SIZE);
    while ((rc = batch_iter_next(&it, &r)) == 1)
        ;
    CHECK_EQ(rc, -1);
    buf_free(&out);
}

TEST(log_compress_roundtrip_and_bomb) {
    size_t n = 4 << 20;
    uint8_t *zeros = xcalloc(1, n);
    rng r;
    rng_seed(&r, test_seed());
    uint8_t *rnd = xmalloc(100000);
    for (size_t i = 0; i < 100000; i++)
        rnd[i] = (uint8_t)rng_below(&r, 16);
    for (int codec = 1; codec <= 4; codec++) {
        buf c, d;
        buf_init(&c, 0);
        buf_init(&d, 0);
        CHECK_EQ(compress_compress(codec, rnd, 100000, -1, &c), KERR_NONE);
        CHECK_EQ(compress_decompress(codec, c.data, c.len, 100000, &d),
                 KERR_NONE);
        CHECK_EQ(d.len, 100000);
        CHECK_MEM(d.data, rnd, 100000);
        /* one byte less room than needed is refused */
        buf_reset(&d);
        CHECK_EQ(compress_decompress(codec, c.data, c.len, 99999, &d),
                 KERR_MESSAGE_TOO_LARGE);
        CHECK_EQ(d.len, 0);
        /* a 4 MiB bomb against a 64 KiB bound: refused, memory stays small */
        buf_reset(&c);
        buf_free(&d);
        buf_init(&d, 0);
        CHECK_EQ(compress_compress(codec, zeros, n, -1, &c), KERR_NONE);
        CHECK(c.len < n / 10);
        CHECK_EQ(compress_decompress(codec, c.data, c.len, 65536, &d),
                 KERR_MESSAGE_TOO_LARGE);
        CHECK(d.cap <= 65536 * 2);
        /* truncated input is corrupt, never a crash */
        buf_reset(&d);
        CHECK(compress_decompress(codec, c.data, c.len / 2, n, &d) !=
              KERR_NONE);
        /* garbage */
        buf_reset(&d);
        CHECK(compress_decompress(codec, rnd, 1000, n, &d) != KERR_NONE);
        buf_free(&c);
        buf_free(&d);
    }
    free(zeros);
    free(rnd);
    CHECK_EQ(compress_parse_type("producer"), -1);
    CHECK_EQ(compress_parse_type("zstd"), 4);
    CHECK_EQ(compress_parse_type("uncompressed"), 0);
    CHECK_EQ(compress_parse_type("brotli"), -2);
}

TEST(log_compress_plain_snappy_accepted) {
    /* librdkafka may send raw snappy without the xerial framing */
    const char *msg = "hello hello hello hello snappy";
    buf c, d;
    buf_init(&c, 0);
    buf_init(&d, 0);
    CHECK_EQ(compress_compress(COMPRESS_SNAPPY, (const uint8_t *)msg,
                               strlen(msg), -1, &c),
             KERR_NONE);
    CHECK_MEM(c.data, "\x82SNAPPY\0", 8);
    /* strip the xerial framing: 16 byte header + 4 byte block length */
    CHECK_EQ(
        compress_decompress(COMPRESS_SNAPPY, c.data + 20, c.len - 20, 1000, &d),
        KERR_NONE);
    CHECK_EQ(d.len, strlen(msg));
    CHECK_MEM(d.data, msg, strlen(msg));
    buf_free(&c);
    buf_free(&d);
}

/* Batches captured from real clients (Java, kcat/librdkafka, Python) in
 * tests/vectors, kept as fuzz seeds: every codec they used validates,
 * decompresses (xerial snappy, LZ4 frame, ...), iterates and recompresses. */
TEST(log_batch_real_client_batches_decode) {
    glob_t g;
    int found = 0;
    if (glob("fuzz/corpus/fuzz_record_batch/real_*", 0, NULL, &g) == 0) {
        int codecs_seen = 0;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            FILE *f = fopen(g.gl_pathv[i], "rb");
            if (!f)
                continue;
            static uint8_t b[1 << 16];
            size_t n = fread(b, 1, sizeof(b), f);
            fclose(f);
            found++;
            log_batch_header h;
            CHECK_EQ(batch_validate(b, n, &h), KERR_NONE);
            codecs_seen |= 1 << batch_compression(&h);
            buf plain;
            buf_init(&plain, 0);
            CHECK_EQ(batch_decompress_records(&h, b, 1 << 20, &plain),
                     KERR_NONE);
            batch_iter it;
            batch_iter_init(&it, &h, plain.data, plain.len);
            log_record r;
            int cnt = 0, rc;
            while ((rc = batch_iter_next(&it, &r)) == 1)
                cnt++;
            CHECK_EQ(rc, 0);
            CHECK_EQ(cnt, h.records_count);
            buf re;
            buf_init(&re, 0);
            CHECK_EQ(batch_recompress(b, &h, COMPRESS_ZSTD, 1 << 20, &re),
                     KERR_NONE);
            log_batch_header h2;
            CHECK_EQ(batch_validate(re.data, re.len, &h2), KERR_NONE);
            CHECK_EQ(h2.records_count, h.records_count);
            buf_free(&re);
            buf_free(&plain);
        }
        CHECK_EQ(codecs_seen, 0x1f); /* none, gzip, snappy, lz4, zstd */
        globfree(&g);
    }
    CHECK(found >= 5);
}
