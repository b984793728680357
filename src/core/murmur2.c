#include "murmur2.h"

int32_t murmur2(const void *data, size_t n) {
    const unsigned char *p = data;
    const uint32_t seed = 0x9747b28cu, m = 0x5bd1e995u;
    const int r = 24;
    uint32_t h = seed ^ (uint32_t)n;
    size_t len4 = n / 4;
    for (size_t i = 0; i < len4; i++) {
        size_t i4 = i * 4;
        uint32_t k = (uint32_t)p[i4] | (uint32_t)p[i4 + 1] << 8 |
                     (uint32_t)p[i4 + 2] << 16 | (uint32_t)p[i4 + 3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    switch (n % 4) {
    case 3:
        h ^= (uint32_t)p[(n & ~(size_t)3) + 2] << 16;
        /* fallthrough */
    case 2:
        h ^= (uint32_t)p[(n & ~(size_t)3) + 1] << 8;
        /* fallthrough */
    case 1:
        h ^= (uint32_t)p[n & ~(size_t)3];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h;
}

int32_t java_string_hash(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    uint32_t h = 0;
    size_t i = 0;
    while (i < n) {
        uint32_t cp = p[i];
        size_t len = 1;
        if (cp >= 0xf0 && i + 3 < n) {
            cp = (cp & 0x07) << 18 | (uint32_t)(p[i + 1] & 0x3f) << 12 |
                 (uint32_t)(p[i + 2] & 0x3f) << 6 | (p[i + 3] & 0x3f);
            len = 4;
        } else if (cp >= 0xe0 && i + 2 < n) {
            cp = (cp & 0x0f) << 12 | (uint32_t)(p[i + 1] & 0x3f) << 6 |
                 (p[i + 2] & 0x3f);
            len = 3;
        } else if (cp >= 0xc0 && i + 1 < n) {
            cp = (cp & 0x1f) << 6 | (p[i + 1] & 0x3f);
            len = 2;
        }
        if (cp >= 0x10000) { /* surrogate pair, as Java stores it */
            cp -= 0x10000;
            h = 31 * h + (0xd800 + (cp >> 10));
            h = 31 * h + (0xdc00 + (cp & 0x3ff));
        } else {
            h = 31 * h + cp;
        }
        i += len;
    }
    return (int32_t)h;
}
