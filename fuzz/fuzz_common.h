/*
 * fuzz_common.h - shared by the libFuzzer targets: decode with a fresh
 * arena, re-encode, decode that again and require a byte-identical second
 * encoding (the codec is a fixed point after one round). Any violation
 * aborts so libFuzzer records the input.
 */
#ifndef SL_FUZZ_COMMON_H
#define SL_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "proto/gen/messages.h"

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond,          \
                    __FILE__, __LINE__);                                       \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Re-encode msg (already decoded at ver) and check the round trip. */
static inline void fuzz_roundtrip(const proto_msg_desc *m, size_t size,
                                  int16_t ver, const void *msg, arena *a) {
    buf e1, e2;
    buf_init(&e1, 64);
    buf_init(&e2, 64);
    proto_msg_encode(m, &e1, ver, msg);
    void *back = arena_alloc(a, size);
    rd r;
    rd_init(&r, e1.data, e1.len);
    int rc = proto_msg_decode(m, &r, a, ver, back);
    if (rc != PROTO_OK)
        fprintf(stderr, "%s v%d: re-decode: %s\n", m->name, ver,
                proto_strerror(rc));
    FUZZ_CHECK(rc == PROTO_OK);
    FUZZ_CHECK(rd_left(&r) == 0);
    proto_msg_encode(m, &e2, ver, back);
    FUZZ_CHECK(e1.len == e2.len);
    FUZZ_CHECK(e1.len == 0 || memcmp(e1.data, e2.data, e1.len) == 0);
    buf_free(&e1);
    buf_free(&e2);
}

#endif
