/*
 * gen_seeds.c - writes the committed seed corpora: one valid random message
 * per (api, version) for fuzz_request (header + body) and fuzz_response
 * (selector + body), one per (record, version) for fuzz_records.
 * fuzz_record_batch (the log helper's target) also gets the record batches
 * of every captured Produce request in tests/vectors/ (vec_NNN).
 * Not built by make (only fuzz/fuzz_*.c are targets); regenerate with
 * scripts in the header of fuzz/README (cc ... fuzz/gen_seeds.c, the .c files
 * of src/core, src/proto, src/proto/gen, src/log/batch.c and compress.c,
 * linked with zstd, lz4, zlib, snappy), run from the repo root.
 */
#include <stdio.h>
#include <stdlib.h>

#include <dirent.h>

#include "core/clock.h"
#include "log/batch.h"
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

static int nbatch;

/* Raw batch bytes (fuzz_record_batch takes the batch as is). */
static void put_batch(const uint8_t *p, size_t n) {
    char path[512];
    snprintf(path, sizeof(path), "fuzz/corpus/fuzz_record_batch/vec_%03d",
             nbatch++);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fwrite(p, 1, n, f);
    fclose(f);
}

/* The record batches inside every captured Produce request. */
static void vector_seeds(void) {
    const char *srcs[] = {"kcat", "java", "python"};
    for (int s = 0; s < 3; s++) {
        char dir[256];
        snprintf(dir, sizeof(dir), "tests/vectors/%s", srcs[s]);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            int seq, ver;
            if (sscanf(e->d_name, "%d_0_v%d_req.bin", &seq, &ver) != 2)
                continue;
            char path[600];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            FILE *f = fopen(path, "rb");
            static uint8_t data[1 << 20];
            size_t n = fread(data, 1, sizeof(data), f);
            fclose(f);
            arena a;
            arena_init(&a, 65536);
            rd r;
            rd_init(&r, data, n);
            proto_request_header h;
            proto_produce_request req;
            if (proto_request_header_decode(&r, &a, &h) == 0 &&
                ver <= proto_api(0)->max_version &&
                proto_produce_request_decode(&r, &a, (int16_t)ver, &req) == 0) {
                for (int t = 0; t < req.topic_data.n; t++)
                    for (int p = 0; p < req.topic_data.v[t].partition_data.n;
                         p++) {
                        proto_bytes rec =
                            req.topic_data.v[t].partition_data.v[p].records;
                        if (rec.len > 0 && nbatch < 200)
                            put_batch(rec.p, (size_t)rec.len);
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
