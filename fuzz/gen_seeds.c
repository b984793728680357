/*
 * gen_seeds.c - writes the committed seed corpora: one valid random message
 * per (api, version) for fuzz_request (header + body) and fuzz_response
 * (selector + body), one per (record, version) for fuzz_records.
 * Every target also gets the real frames of tests/vectors/ (vec_*): request
 * frames, response bodies, and for fuzz_record_batch (the log helper's
 * target) the record batches of every captured Produce request.
 * Not built by make (only fuzz/fuzz_*.c are targets); fuzz/README.md has
 * the command (core + proto sources only), run from the repo root.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>

#include "core/clock.h"
#include "core/util.h"
#include "proto/gen/messages.h"

static void put_file(const char *dir, const char *name, int16_t ver,
                     const buf *b) {
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

static void put_raw(const char *path, const uint8_t *p1, size_t n1,
                    const uint8_t *p2, size_t n2) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fwrite(p1, 1, n1, f);
    fwrite(p2, 1, n2, f);
    fclose(f);
}

/* Real frames from tests/vectors/<src>/NNNN_<key>_v<ver>_{req,resp}.bin
 * (versions our spec knows): requests as is for fuzz_request, response
 * bodies behind the selector for fuzz_response, and the record batches of
 * every Produce request (raw) for fuzz_record_batch. Named after the
 * vector, so reruns are deterministic. */
static void vector_seeds(void) {
    const char *srcs[] = {"kcat", "java", "python"};
    static uint8_t data[1 << 20];
    for (int s = 0; s < 3; s++) {
        char dir[256];
        snprintf(dir, sizeof(dir), "tests/vectors/%s", srcs[s]);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            int seq, key, ver;
            char kind[8];
            if (sscanf(e->d_name, "%d_%d_v%d_%4[a-z].bin", &seq, &key, &ver,
                       kind) != 4)
                continue;
            const proto_api_info *api = proto_api((int16_t)key);
            if (!api || ver < api->min_version || ver > api->max_version)
                continue;
            char path[600], out[700];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            FILE *f = fopen(path, "rb");
            if (!f)
                continue;
            size_t n = fread(data, 1, sizeof(data), f);
            fclose(f);
            arena a;
            arena_init(&a, 65536);
            rd r;
            rd_init(&r, data, n);
            if (strcmp(kind, "req") == 0) {
                snprintf(out, sizeof(out),
                         "fuzz/corpus/fuzz_request/vec_%s_%d_%d_v%d", srcs[s],
                         seq, key, ver);
                put_raw(out, data, n, NULL, 0);
                proto_request_header h;
                proto_produce_request req;
                if (key == 0 && proto_request_header_decode(&r, &a, &h) == 0 &&
                    proto_produce_request_decode(&r, &a, (int16_t)ver, &req) ==
                        0) {
                    for (int t = 0; t < req.topic_data.n; t++)
                        for (int p = 0;
                             p < req.topic_data.v[t].partition_data.n; p++) {
                            proto_bytes rec =
                                req.topic_data.v[t].partition_data.v[p].records;
                            if (rec.len <= 0)
                                continue;
                            snprintf(
                                out, sizeof(out),
                                "fuzz/corpus/fuzz_record_batch/vec_%s_%d_%d_%d",
                                srcs[s], seq, t, p);
                            put_raw(out, rec.p, (size_t)rec.len, NULL, 0);
                        }
                }
            } else {
                proto_response_header rh;
                if (proto_response_header_decode(&r, &a, (int16_t)key,
                                                 (int16_t)ver, &rh) == 0) {
                    uint8_t sel[4];
                    sl_store_be16(sel, (uint16_t)key);
                    sl_store_be16(sel + 2, (uint16_t)(ver - api->min_version));
                    snprintf(out, sizeof(out),
                             "fuzz/corpus/fuzz_response/vec_%s_%d_%d_v%d",
                             srcs[s], seq, key, ver);
                    put_raw(out, sel, 4, r.p, rd_left(&r));
                }
            }
            arena_free(&a);
        }
        closedir(d);
    }
}

int main(void) {
    vector_seeds();
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
            proto_request_header h = {
                api->key, v, 1000 + v, proto_str_c("seed"), {0, NULL}};
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
