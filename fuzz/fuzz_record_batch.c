/*
 * fuzz_record_batch.c - record batches as the log receives them: validate
 * the 61-byte header and CRC, decompress with a hard bound, iterate the
 * records, rebuild the batch uncompressed with the builder and require the
 * same records back. Inputs whose CRC or length is wrong are also tried with
 * both fixed, so the fuzzer reaches the record parser and the codecs.
 * Any violation aborts so libFuzzer records the input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"
#include "log/batch.h"
#include "log/compress.h"
#include "proto/errors.h"

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond,          \
                    __FILE__, __LINE__);                                       \
            abort();                                                           \
        }                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OUT (1u << 20)

static void check_same_records(const log_batch_header *h1, const buf *r1,
                               const uint8_t *b2, size_t n2) {
    log_batch_header h2;
    FUZZ_CHECK(batch_validate(b2, n2, &h2) == KERR_NONE);
    FUZZ_CHECK(h2.records_count == h1->records_count);
    FUZZ_CHECK(h2.last_offset_delta == h1->last_offset_delta);
    FUZZ_CHECK(h2.producer_id == h1->producer_id);
    FUZZ_CHECK(h2.max_timestamp == h1->max_timestamp);
    batch_iter a, b;
    batch_iter_init(&a, h1, r1->data, r1->len);
    a.log_append_time = false;
    batch_iter_init(&b, &h2, b2 + BATCH_HEADER_SIZE, n2 - BATCH_HEADER_SIZE);
    b.log_append_time = false;
    log_record x, y;
    for (;;) {
        int ra = batch_iter_next(&a, &x), rb = batch_iter_next(&b, &y);
        FUZZ_CHECK(ra == rb);
        if (ra != 1)
            break;
        FUZZ_CHECK(x.offset == y.offset && x.timestamp == y.timestamp);
        FUZZ_CHECK(x.key_len == y.key_len && x.value_len == y.value_len);
        FUZZ_CHECK(x.key_len <= 0 || !memcmp(x.key, y.key, (size_t)x.key_len));
        FUZZ_CHECK(x.value_len <= 0 ||
                   !memcmp(x.value, y.value, (size_t)x.value_len));
        FUZZ_CHECK(x.headers_count == y.headers_count);
    }
}

static void one(const uint8_t *p, size_t n) {
    log_batch_header h;
    if (batch_validate(p, n, &h) != KERR_NONE)
        return;
    FUZZ_CHECK(batch_size(&h) <= (int64_t)n);
    buf plain;
    buf_init(&plain, 0);
    if (batch_decompress_records(&h, p, MAX_OUT, &plain) == KERR_NONE) {
        FUZZ_CHECK(plain.len <= MAX_OUT);
        batch_iter it;
        batch_iter_init(&it, &h, plain.data, plain.len);
        log_record r;
        int rc;
        while ((rc = batch_iter_next(&it, &r)) == 1) {
            const uint8_t *hp = r.headers;
            log_record_header hh;
            for (int32_t i = 0; i < r.headers_count; i++)
                FUZZ_CHECK(batch_header_next(&hp, r.headers + r.headers_len,
                                             &hh) == 1);
        }
        if (rc == 0) {
            buf out;
            buf_init(&out, 0);
            int16_t e = batch_recompress(p, &h, COMPRESS_NONE, MAX_OUT, &out);
            /* records with non-increasing offset deltas are refused */
            if (e == KERR_NONE)
                check_same_records(&h, &plain, out.data, out.len);
            buf_free(&out);
        }
    }
    buf_free(&plain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    one(data, size);
    if (size < BATCH_HEADER_SIZE || size > (4u << 20))
        return 0;
    /* Same bytes with length and CRC made right. */
    uint8_t *c = xmalloc(size);
    memcpy(c, data, size);
    sl_store_be32(c + BATCH_OFF_LENGTH, (uint32_t)(size - BATCH_LOG_OVERHEAD));
    c[BATCH_OFF_MAGIC] = BATCH_MAGIC;
    sl_store_be32(c + BATCH_OFF_CRC, batch_compute_crc(c, size));
    one(c, size);
    free(c);
    return 0;
}
