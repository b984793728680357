/*
 * buf.h - growable byte buffer (writer) and bounded cursor (reader).
 *
 * buf: owns its heap storage (free with buf_free). Writers append big-endian
 * integers, varints and raw bytes; capacity grows geometrically and aborts on
 * out-of-memory (see util.h). A caller leaves room for a length prefix with
 * buf_extend and patches it later at its offset in data.
 *
 * rd: a read-only view over bytes it does not own. Every read checks the
 * bytes left; a failed read sets rd.err (sticky) and returns 0, so a decoder
 * may read a run of fields and check rd.err once (librdkafka's err_parse).
 * Threading: neither type is shared between threads.
 */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "varint.h"

typedef struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} buf;

void buf_init(buf *b, size_t cap);
void buf_free(buf *b);
void buf_reset(buf *b);                 /* len = 0, keeps storage */
void buf_reserve(buf *b, size_t extra); /* ensure cap >= len + extra */
/* Append n uninitialised bytes and return a pointer to them (valid until the
 * next append). */
uint8_t *buf_extend(buf *b, size_t n);
void buf_put(buf *b, const void *p, size_t n);
void buf_put_u8(buf *b, uint8_t v);
void buf_put_be16(buf *b, uint16_t v);
void buf_put_be32(buf *b, uint32_t v);
void buf_put_be64(buf *b, uint64_t v);
void buf_put_uvarint(buf *b, uint64_t v);
void buf_put_varint(buf *b, int64_t v); /* zig-zag */
void buf_printf(buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

typedef struct rd {
    const uint8_t *p;   /* next byte */
    const uint8_t *end; /* one past the last byte */
    bool err;           /* sticky: set by the first failed read */
} rd;

static inline void rd_init(rd *r, const void *p, size_t n) {
    static const uint8_t empty[1];
    /* NULL + 0 is undefined behaviour in C; an empty reader points at a
     * static byte instead (a buf with no capacity has data == NULL). */
    r->p = p ? (const uint8_t *)p : empty;
    r->end = r->p + (p ? n : 0);
    r->err = false;
}
static inline size_t rd_left(const rd *r) {
    return (size_t)(r->end - r->p);
}

/* True when n more bytes are left; otherwise sets err. */
static inline bool rd_need(rd *r, size_t n) {
    if (__builtin_expect(r->err || rd_left(r) < n, 0)) {
        r->err = true;
        return false;
    }
    return true;
}
static inline uint8_t rd_u8(rd *r) {
    return rd_need(r, 1) ? *r->p++ : 0;
}
uint16_t rd_be16(rd *r);
uint32_t rd_be32(rd *r);
uint64_t rd_be64(rd *r);
uint64_t rd_uvarint_slow(rd *r);   /* at most 10 bytes */
uint32_t rd_uvarint32_slow(rd *r); /* at most 5 bytes, fails if > UINT32_MAX */

/* Varint readers. Values of up to three bytes (the lengths, deltas and
 * counts of nearly every record) are read inline; anything longer, a short or
 * failed reader goes through the checked out-of-line reader. Same results
 * and errors either way. */
static inline bool rd_varint_short(rd *r, uint32_t *v) {
    const uint8_t *p = r->p;
    if (r->err || r->end - p < 2)
        return false;
    if (p[0] < 0x80) {
        *v = p[0];
        r->p = p + 1;
        return true;
    }
    if (p[1] < 0x80) {
        *v = (uint32_t)(p[0] & 0x7f) | (uint32_t)p[1] << 7;
        r->p = p + 2;
        return true;
    }
    if (r->end - p >= 3 && p[2] < 0x80) {
        *v = (uint32_t)(p[0] & 0x7f) | (uint32_t)(p[1] & 0x7f) << 7 |
             (uint32_t)p[2] << 14;
        r->p = p + 3;
        return true;
    }
    return false;
}
/* at most 10 bytes */
static inline uint64_t rd_uvarint(rd *r) {
    uint32_t v;
    return rd_varint_short(r, &v) ? v : rd_uvarint_slow(r);
}
/* at most 5 bytes, fails if > UINT32_MAX */
static inline uint32_t rd_uvarint32(rd *r) {
    uint32_t v;
    return rd_varint_short(r, &v) ? v : rd_uvarint32_slow(r);
}
/* zig-zag, 64-bit */
static inline int64_t rd_varint(rd *r) {
    return varint_unzigzag64(rd_uvarint(r));
}
/* zig-zag, 32-bit */
static inline int32_t rd_varint32(rd *r) {
    return (int32_t)varint_unzigzag64(rd_uvarint32(r));
}
/* Returns a pointer to n bytes inside the reader's range and skips them, or
 * NULL (and sets err) if fewer are left. */
static inline const uint8_t *rd_bytes(rd *r, size_t n) {
    if (!rd_need(r, n))
        return NULL;
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}
bool rd_skip(rd *r, size_t n);

#endif
