/*
 * gen_seeds.c - writes the committed seed corpora: one valid random message
 * per (api, version) for fuzz_request (header + body) and fuzz_response
 * (selector + body), one per (record, version) for fuzz_records.
 * Not built by make (only fuzz/fuzz_*.c are targets); regenerate with
 *   cc -std=c17 -D_GNU_SOURCE -Isrc -o build/gen_seeds fuzz/gen_seeds.c \
 *      src/core/*.c src/proto/*.c src/proto/gen/*.c && build/gen_seeds
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/clock.h"
#include "proto/gen/messages.h"

static void put_file(const char *dir, const char *name, int16_t ver, const buf *b) {
    char path[512];
    snprintf(path, sizeof(path), "fuzz/corpus/%s/%s_v%d", dir, name, ver);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fwrite(b->data, 1, b->len, f);
    fclose(f);
}

int main(void) {
    rng r;
    rng_seed(&r, 20261123);
    arena a;
    arena_init(&a, 65536);
    buf b;
    buf_init(&b, 64);
    for (int k = 0; k < proto_api_count; k++) {
        const proto_api_info *api = &proto_apis[k];
        for (int16_t v = api->min_version; v <= api->max_version; v++) {
            void *m = arena_alloc(&a, api->req_size);
            proto_random_fill(api->req, v, &r, &a, m);
            proto_request_header h = {api->key, v, 1000 + v, proto_str_c("seed"), {0, NULL}};
            buf_reset(&b);
            proto_request_header_encode(&b, &h);
            api->req_encode(&b, v, m);
            put_file("fuzz_request", api->name, v, &b);
            m = arena_alloc(&a, api->resp_size);
            proto_random_fill(api->resp, v, &r, &a, m);
            buf_reset(&b);
            buf_put_be16(&b, (uint16_t)api->key);
            buf_put_be16(&b, (uint16_t)(v - api->min_version));
            api->resp_encode(&b, v, m);
            put_file("fuzz_response", api->name, v, &b);
            arena_reset(&a);
        }
    }
    for (int i = 0; i < proto_record_count; i++) {
        const proto_record_info *ri = &proto_records[i];
        for (int16_t v = ri->desc->valid.lo; v <= ri->desc->valid.hi; v++) {
            void *m = arena_alloc(&a, ri->size);
            proto_random_fill(ri->desc, v, &r, &a, m);
            buf_reset(&b);
            buf_put_u8(&b, (uint8_t)i);
            buf_put_be16(&b, (uint16_t)(v - ri->desc->valid.lo));
            ri->encode(&b, v, m);
            put_file("fuzz_records", ri->desc->name, v, &b);
            arena_reset(&a);
        }
    }
    buf_free(&b);
    arena_free(&a);
    return 0;
}
