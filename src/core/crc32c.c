#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82f63b78u

/* Built once (pthread_once: any thread may compute the first CRC), read
 * only afterwards. */
static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_build(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = table[0][n];
        for (int k = 1; k < 8; k++) {
            c = table[0][c & 0xff] ^ (c >> 8);
            table[k][n] = c;
        }
    }
}

static void table_init(void) {
    pthread_once(&table_once, table_build);
}

uint32_t crc32c_sw(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = data;
    table_init();
    crc = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc;
        crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^
              table[5][(w >> 16) & 0xff] ^ table[4][(w >> 24) & 0xff] ^
              table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
              table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__)
/* Three-way interleaved hardware CRC (as Mark Adler's crc32c.c): crc32q has
 * a latency of 3 cycles and a throughput of 1 per cycle, so a block is cut in
 * three equal streams computed side by side, then joined. Joining uses the
 * linearity of the CRC: the state after A||B is shift(state after A, |B|)
 * xor (the state of B alone from 0), where shift(x, n) is x followed by n
 * zero bytes, a linear map on 32 bits applied with four byte tables. */
#define CRC_LONG 8192u /* bytes per stream, long blocks */
#define CRC_SHORT 256u /* bytes per stream, short blocks */

static uint32_t shift_long[4][256], shift_short[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2"))) static uint32_t zeros_hw(uint32_t c,
                                                           size_t n) {
    uint64_t s = c;
    for (size_t i = 0; i < n; i += 8)
        s = __builtin_ia32_crc32di(s, 0);
    return (uint32_t)s;
}

/* tab[k][b] = shift(b << 8k, n): built from the 32 single-bit images. */
static void shift_table(uint32_t tab[4][256], size_t n) {
    uint32_t bit[32];
    for (int i = 0; i < 32; i++)
        bit[i] = zeros_hw(1u << i, n);
    for (int k = 0; k < 4; k++)
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t v = 0;
            for (int i = 0; i < 8; i++)
                if (b >> i & 1)
                    v ^= bit[8 * k + i];
            tab[k][b] = v;
        }
}

static void shift_init(void) {
    shift_table(shift_long, CRC_LONG);
    shift_table(shift_short, CRC_SHORT);
}

static inline uint32_t shift_apply(uint32_t tab[4][256], uint32_t c) {
    return tab[0][c & 0xff] ^ tab[1][(c >> 8) & 0xff] ^
           tab[2][(c >> 16) & 0xff] ^ tab[3][c >> 24];
}

/* Three streams of len bytes each from p; returns the joined state. */
__attribute__((target("sse4.2"))) static uint64_t
crc3_block(uint64_t c0, const unsigned char *p, size_t len,
           uint32_t tab[4][256]) {
    uint64_t c1 = 0, c2 = 0;
    const unsigned char *end = p + len;
    do {
        uint64_t a, b, d;
        memcpy(&a, p, 8);
        memcpy(&b, p + len, 8);
        memcpy(&d, p + 2 * len, 8);
        c0 = __builtin_ia32_crc32di(c0, a);
        c1 = __builtin_ia32_crc32di(c1, b);
        c2 = __builtin_ia32_crc32di(c2, d);
        p += 8;
    } while (p < end);
    uint32_t c = shift_apply(tab, (uint32_t)c0) ^ (uint32_t)c1;
    return shift_apply(tab, c) ^ (uint32_t)c2;
}

__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = data;
    uint64_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        n--;
    }
    if (n >= 3 * CRC_SHORT) {
        pthread_once(&shift_once, shift_init);
        while (n >= 3 * CRC_LONG) {
            c = crc3_block(c, p, CRC_LONG, shift_long);
            p += 3 * CRC_LONG;
            n -= 3 * CRC_LONG;
        }
        while (n >= 3 * CRC_SHORT) {
            c = crc3_block(c, p, CRC_SHORT, shift_short);
            p += 3 * CRC_SHORT;
            n -= 3 * CRC_SHORT;
        }
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        n -= 8;
    }
    while (n--)
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

static int hw_ok; /* set once by hw_detect */
static pthread_once_t hw_once = PTHREAD_ONCE_INIT;

static void hw_detect(void) {
    __builtin_cpu_init();
    hw_ok = __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

int crc32c_hw_available(void) {
    pthread_once(&hw_once, hw_detect);
    return hw_ok;
}

uint32_t crc32c(uint32_t crc, const void *data, size_t n) {
    if (crc32c_hw_available())
        return crc32c_hw(crc, data, n);
    return crc32c_sw(crc, data, n);
}
#else
int crc32c_hw_available(void) {
    return 0;
}
uint32_t crc32c(uint32_t crc, const void *data, size_t n) {
    return crc32c_sw(crc, data, n);
}
#endif
