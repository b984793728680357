#include "varint.h"

size_t varint_put_u(uint8_t *p, uint64_t v) {
    size_t i = 0;
    while (v >= 0x80) {
        p[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[i++] = (uint8_t)v;
    return i;
}

int varint_get_u(const uint8_t *p, size_t n, uint64_t *out) {
    uint64_t v = 0;
    for (size_t i = 0; i < VARINT_MAX_LEN; i++) {
        if (i >= n)
            return 0;
        uint8_t b = p[i];
        if (i == 9 && b > 1)
            return -1; /* would overflow 64 bits */
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return (int)(i + 1);
        }
    }
    return -1;
}

size_t varint_len_u(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}
