#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "varint.h"

void buf_init(buf *b, size_t cap) {
    b->data = cap ? xmalloc(cap) : NULL;
    b->len = 0;
    b->cap = cap;
}

void buf_free(buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_reset(buf *b) {
    b->len = 0;
}

void buf_reserve(buf *b, size_t extra) {
    if (b->cap - b->len >= extra)
        return;
    size_t need = b->len + extra;
    if (need < b->len)
        sl_assert_fail("buf size overflow", __FILE__, __LINE__);
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap * 2 > cap ? cap * 2 : need;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

uint8_t *buf_extend(buf *b, size_t n) {
    buf_reserve(b, n);
    uint8_t *p = b->data + b->len;
    b->len += n;
    return p;
}

void buf_put(buf *b, const void *p, size_t n) {
    if (n)
        memcpy(buf_extend(b, n), p, n);
}
void buf_put_u8(buf *b, uint8_t v) {
    *buf_extend(b, 1) = v;
}
void buf_put_be16(buf *b, uint16_t v) {
    sl_store_be16(buf_extend(b, 2), v);
}
void buf_put_be32(buf *b, uint32_t v) {
    sl_store_be32(buf_extend(b, 4), v);
}
void buf_put_be64(buf *b, uint64_t v) {
    sl_store_be64(buf_extend(b, 8), v);
}

void buf_put_uvarint(buf *b, uint64_t v) {
    buf_reserve(b, VARINT_MAX_LEN);
    b->len += varint_put_u(b->data + b->len, v);
}

void buf_put_varint(buf *b, int64_t v) {
    buf_put_uvarint(b, varint_zigzag64(v));
}

void buf_printf(buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        buf_put(b, tmp, (size_t)n);
        return;
    }
    buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

uint16_t rd_be16(rd *r) {
    if (!rd_need(r, 2))
        return 0;
    uint16_t v = sl_load_be16(r->p);
    r->p += 2;
    return v;
}
uint32_t rd_be32(rd *r) {
    if (!rd_need(r, 4))
        return 0;
    uint32_t v = sl_load_be32(r->p);
    r->p += 4;
    return v;
}
uint64_t rd_be64(rd *r) {
    if (!rd_need(r, 8))
        return 0;
    uint64_t v = sl_load_be64(r->p);
    r->p += 8;
    return v;
}

uint64_t rd_uvarint_slow(rd *r) {
    uint64_t v;
    if (r->err)
        return 0;
    int n = varint_get_u(r->p, rd_left(r), &v);
    if (n <= 0) {
        r->err = true;
        return 0;
    }
    r->p += n;
    return v;
}

uint32_t rd_uvarint32_slow(rd *r) {
    if (r->err)
        return 0;
    const uint8_t *start = r->p;
    uint64_t v = rd_uvarint_slow(r);
    if (r->err || r->p - start > 5 || v > UINT32_MAX) {
        r->err = true;
        return 0;
    }
    return (uint32_t)v;
}

bool rd_skip(rd *r, size_t n) {
    return rd_bytes(r, n) != NULL || n == 0;
}
