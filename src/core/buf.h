/*
 * buf.h - growable byte buffer (writer) and bounded cursor (reader).
 *
 * buf: owns its heap storage (free with buf_free). Writers append big-endian
 * integers, varints and raw bytes; capacity grows geometrically and aborts on
 * out-of-memory (see util.h). buf_reserve_at lets a caller leave room for a
 * length prefix and patch it later.
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

uint8_t rd_u8(rd *r);
uint16_t rd_be16(rd *r);
uint32_t rd_be32(rd *r);
uint64_t rd_be64(rd *r);
uint64_t rd_uvarint(rd *r);   /* at most 10 bytes */
uint32_t rd_uvarint32(rd *r); /* at most 5 bytes, fails if > UINT32_MAX */
int64_t rd_varint(rd *r);     /* zig-zag, 64-bit */
int32_t rd_varint32(rd *r);   /* zig-zag, 32-bit */
/* Returns a pointer to n bytes inside the reader's range and skips them, or
 * NULL (and sets err) if fewer are left. */
const uint8_t *rd_bytes(rd *r, size_t n);
bool rd_skip(rd *r, size_t n);

#endif
