#include <stdlib.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/crc32c.h"
#include "core/murmur2.h"
#include "core/varint.h"
#include "test.h"

TEST(crc32c_known_vectors) {
    /* RFC 3720 B.4 and the common check value. */
    CHECK_EQ(crc32c(0, "123456789", 9), 0xe3069283u);
    uint8_t zeros[32] = {0}, ones[32], inc[32];
    memset(ones, 0xff, sizeof(ones));
    for (int i = 0; i < 32; i++)
        inc[i] = (uint8_t)i;
    CHECK_EQ(crc32c(0, zeros, 32), 0x8a9136aau);
    CHECK_EQ(crc32c(0, ones, 32), 0x62a8ab43u);
    CHECK_EQ(crc32c(0, inc, 32), 0x46dd794eu);
    CHECK_EQ(crc32c(0, "", 0), 0);
}

TEST(crc32c_hw_matches_sw) {
    rng r;
    rng_seed(&r, test_seed());
    uint8_t data[1031];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)rng_next(&r);
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n < sizeof(data) - off; n += 37)
            CHECK_EQ(crc32c(0, data + off, n), crc32c_sw(0, data + off, n));
    /* incremental == one shot */
    uint32_t c = crc32c(0, data, 100);
    c = crc32c(c, data + 100, 931);
    CHECK_EQ(c, crc32c_sw(0, data, 1031));
}

TEST(murmur2_matches_kafka) {
    /* Values from Kafka's UtilsTest.testMurmur2 */
    CHECK_EQ(murmur2("21", 2), -973932308);
    CHECK_EQ(murmur2("foobar", 6), -790332482);
    CHECK_EQ(murmur2("a-little-bit-long-string", 24), -985981536);
    CHECK_EQ(murmur2("a-little-bit-longer-string", 26), -1486304829);
    CHECK_EQ(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 48),
             -58897971);
    const char abc[] = {'a', 'b', 'c'};
    CHECK_EQ(murmur2(abc, 3), 479470107);
}

TEST(java_string_hash_matches_java) {
    CHECK_EQ(java_string_hash("", 0), 0);
    CHECK_EQ(java_string_hash("hello", 5), 99162322);
    CHECK_EQ(java_string_hash("my-group", 8), -1906497762);
    CHECK_EQ(java_string_hash("\xf0\x9f\x98\x80x", 5),
             54959989); /* surrogate pair */
    /* "é" is one UTF-16 unit 0xe9 */
    CHECK_EQ(java_string_hash("\xc3\xa9", 2), 0xe9);
}

TEST(varint_roundtrip_and_bounds) {
    uint64_t vals[] = {0,     1,     127,        128,       300,
                       16383, 16384, UINT32_MAX, UINT64_MAX};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        uint8_t b[10];
        size_t n = varint_put_u(b, vals[i]);
        CHECK_EQ(n, varint_len_u(vals[i]));
        uint64_t out;
        CHECK_EQ(varint_get_u(b, n, &out), (int)n);
        CHECK(out == vals[i]);
        if (n > 1)
            CHECK_EQ(varint_get_u(b, n - 1, &out), 0); /* truncated */
    }
    int64_t s[] = {0, -1, 1, -64, 64, INT32_MIN, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        CHECK(varint_unzigzag64(varint_zigzag64(s[i])) == s[i]);
    CHECK_EQ(varint_zigzag64(-1), 1);
    CHECK_EQ(varint_zigzag64(1), 2);
    uint8_t over[11];
    memset(over, 0xff, sizeof(over));
    uint64_t out;
    CHECK_EQ(varint_get_u(over, sizeof(over), &out), -1);
}

TEST(buf_and_reader) {
    buf b;
    buf_init(&b, 0);
    buf_put_be16(&b, 0x1234);
    buf_put_be32(&b, 0xdeadbeef);
    buf_put_be64(&b, 0x0102030405060708ull);
    buf_put_varint(&b, -300);
    buf_put_uvarint(&b, 1u << 31);
    buf_printf(&b, "%s-%d", "x", 7);
    rd r;
    rd_init(&r, b.data, b.len);
    CHECK_EQ(rd_be16(&r), 0x1234);
    CHECK_EQ(rd_be32(&r), 0xdeadbeef);
    CHECK(rd_be64(&r) == 0x0102030405060708ull);
    CHECK_EQ(rd_varint(&r), -300);
    CHECK_EQ(rd_uvarint32(&r), 1u << 31);
    const uint8_t *p = rd_bytes(&r, 3);
    CHECK(p && !memcmp(p, "x-7", 3));
    CHECK(!r.err);
    CHECK_EQ(rd_left(&r), 0);
    CHECK_EQ(rd_u8(&r), 0);
    CHECK(r.err);
    buf_free(&b);
}

/* The inline varint readers (fast path up to three bytes) give the checked
 * readers' value, position and error for every input of up to 3 bytes drawn
 * from the bytes that matter (continuation bit set or not, 0, 1, the
 * largest), for every reader length and an already failed reader. */
TEST(varint_inline_readers_match_checked) {
    static const uint8_t pick[] = {0x00, 0x01, 0x40, 0x7f, 0x80,
                                   0x81, 0xc0, 0xff, 0x0f, 0x10};
    const size_t np = sizeof pick;
    for (size_t a = 0; a < np; a++)
        for (size_t b = 0; b < np; b++)
            for (size_t c = 0; c < np; c++)
                for (size_t len = 0; len <= 3; len++)
                    for (int failed = 0; failed <= 1; failed++) {
                        uint8_t in[3] = {pick[a], pick[b], pick[c]};
                        rd f, s;
                        rd_init(&f, in, len);
                        f.err = failed;
                        s = f;
                        uint64_t vf = rd_uvarint(&f), vs = rd_uvarint_slow(&s);
                        CHECK(vf == vs && f.p == s.p && f.err == s.err);
                        rd_init(&f, in, len);
                        f.err = failed;
                        s = f;
                        uint32_t wf = rd_uvarint32(&f);
                        uint32_t ws = rd_uvarint32_slow(&s);
                        CHECK(wf == ws && f.p == s.p && f.err == s.err);
                        rd_init(&f, in, len);
                        f.err = failed;
                        s = f;
                        int32_t zf = rd_varint32(&f);
                        int32_t zs =
                            (int32_t)varint_unzigzag64(rd_uvarint32_slow(&s));
                        CHECK(zf == zs && f.p == s.p && f.err == s.err);
                        rd_init(&f, in, len);
                        f.err = failed;
                        s = f;
                        int64_t yf = rd_varint(&f);
                        int64_t ys = varint_unzigzag64(rd_uvarint_slow(&s));
                        CHECK(yf == ys && f.p == s.p && f.err == s.err);
                    }
    /* the largest values and a 5-byte 32-bit overflow still go the slow way */
    uint8_t big[5] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    rd r;
    rd_init(&r, big, 5);
    CHECK_EQ(rd_uvarint32(&r), UINT32_MAX);
    CHECK(!r.err);
    big[4] = 0x1f;
    rd_init(&r, big, 5);
    CHECK_EQ(rd_uvarint32(&r), 0);
    CHECK(r.err);
    rd_init(&r, big, 5);
    CHECK(rd_varint32(&r) == 0 && r.err);
}

TEST(arena_alignment_and_reset) {
    arena a;
    arena_init(&a, 256);
    for (int i = 1; i < 200; i++) {
        void *p = arena_alloc(&a, (size_t)i * 7);
        CHECK(((uintptr_t)p & 15) == 0);
        memset(p, 0xab, (size_t)i * 7);
    }
    char *s = arena_strndup(&a, "hello world", 5);
    CHECK_STR(s, "hello");
    arena_reset(&a);
    CHECK_EQ(a.total, 0);
    int *z = arena_calloc(&a, 10, sizeof(int));
    CHECK_EQ(z[9], 0);
    arena_free(&a);
}

TEST(manual_clock_controls_time) {
    clk_manual m = {1000000000, 1700000000000};
    clk_manual_install(&m);
    CHECK_EQ(clk_mono_ms(), 1000);
    clk_manual_advance_ms(&m, 250);
    CHECK_EQ(clk_mono_ms(), 1250);
    CHECK_EQ(clk_wall_ms(), 1700000000250);
    clk_set(NULL);
    CHECK(clk_wall_ms() > 1700000000000);
}

TEST(rng_is_replayable) {
    rng a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    for (int i = 0; i < 100; i++)
        CHECK(rng_next(&a) == rng_next(&b));
    for (int i = 0; i < 1000; i++)
        CHECK(rng_below(&a, 7) < 7);
}
