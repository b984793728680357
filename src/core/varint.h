/*
 * varint.h - Kafka's variable-length integers: unsigned LEB128-style
 * varints (7 bits per byte, least significant group first) and zig-zag
 * signed varints. Pure functions; thread-safe.
 */
#ifndef SL_VARINT_H
#define SL_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define VARINT_MAX_LEN 10

static inline uint64_t varint_zigzag64(int64_t v) {
    return ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63));
}
static inline int64_t varint_unzigzag64(uint64_t v) {
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Writes v at p (room for VARINT_MAX_LEN bytes needed); returns bytes written.
 */
size_t varint_put_u(uint8_t *p, uint64_t v);
/* Reads from at most n bytes. Returns bytes consumed, 0 if truncated, -1 if
 * longer than VARINT_MAX_LEN or overflowing 64 bits. */
int varint_get_u(const uint8_t *p, size_t n, uint64_t *out);
/* Encoded length of v. */
size_t varint_len_u(uint64_t v);

#endif
