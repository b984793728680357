/* The three-way interleaved hardware CRC-32C (src/core/crc32c.c): streams
 * joined by the shift tables must give exactly the portable result at every
 * length around the block sizes (3 x 256 and 3 x 8192 bytes), at every
 * alignment, and when a CRC is continued across calls. */
#include <stdlib.h>

#include "core/clock.h"
#include "core/crc32c.h"
#include "test.h"

#define MAXN (3 * 8192 * 3 + 64)

TEST(crc32c_interleaved_matches_sw_all_lengths_and_alignments) {
    rng r;
    rng_seed(&r, test_seed());
    unsigned char *data = malloc(MAXN + 16);
    for (size_t i = 0; i < MAXN + 16; i++)
        data[i] = (unsigned char)rng_next(&r);
    static const size_t base[] = {0,        768,          1536,
                                  3 * 8192, 2 * 3 * 8192, 3 * 8192 + 768};
    int mism = 0;
    for (size_t b = 0; b < sizeof base / sizeof base[0]; b++)
        for (size_t d = 0; d < 40; d++)
            for (int sgn = -1; sgn <= 1; sgn += 2) {
                long n = (long)base[b] + sgn * (long)d;
                if (n < 0 || n > MAXN)
                    continue;
                for (size_t off = 0; off < 16; off++)
                    if (crc32c(0, data + off, (size_t)n) !=
                        crc32c_sw(0, data + off, (size_t)n))
                        mism++;
            }
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)rng_below(&r, MAXN);
        size_t off = (size_t)rng_below(&r, 16);
        uint32_t seed = (uint32_t)rng_next(&r);
        if (crc32c(seed, data + off, n) != crc32c_sw(seed, data + off, n))
            mism++;
    }
    CHECK_EQ(mism, 0);
    free(data);
}

TEST(crc32c_interleaved_continues_across_calls) {
    rng r;
    rng_seed(&r, test_seed() ^ 0x5eed);
    unsigned char *data = malloc(MAXN);
    for (size_t i = 0; i < MAXN; i++)
        data[i] = (unsigned char)rng_next(&r);
    uint32_t whole = crc32c_sw(0, data, MAXN);
    CHECK_EQ(crc32c(0, data, MAXN), whole);
    for (int i = 0; i < 300; i++) {
        size_t cut = (size_t)rng_below(&r, MAXN);
        uint32_t c = crc32c(0, data, cut);
        CHECK_EQ(crc32c(c, data + cut, MAXN - cut), whole);
    }
    /* all zeros and all ones, long enough for the long blocks */
    memset(data, 0, MAXN);
    CHECK_EQ(crc32c(0, data, MAXN), crc32c_sw(0, data, MAXN));
    memset(data, 0xff, MAXN);
    CHECK_EQ(crc32c(0, data, MAXN), crc32c_sw(0, data, MAXN));
    free(data);
}
