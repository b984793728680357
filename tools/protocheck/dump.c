/* dump.c - writes N random valid encodings of every (message, version)
 * as <outdir>/<folder>.<Name>.<version>.<i>.bin for XCheck.java. */
#include <stdio.h>
#include <stdlib.h>
#include "core/clock.h"
#include "proto/gen/messages.h"

static const char *outdir = "out";
static void dump(const proto_msg_desc *m, size_t size, int16_t v, rng *r,
                 arena *a, int i) {
    void *msg = arena_calloc(a, 1, size);
    proto_random_fill(m, v, r, a, msg);
    buf b;
    buf_init(&b, 0);
    proto_msg_encode(m, &b, v, msg);
    char path[256];
    snprintf(path, sizeof path, "%s/%s.%s.%d.%d.bin", outdir, m->dir, m->name,
             v, i);
    FILE *f = fopen(path, "wb");
    fwrite(b.data, 1, b.len, f);
    fclose(f);
    buf_free(&b);
}
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 3;
    if (argc > 2)
        outdir = argv[2];
    rng r;
    rng_seed(&r, 42);
    arena a;
    arena_init(&a, 65536);
    for (int k = 0; k < proto_api_count; k++) {
        const proto_api_info *api = &proto_apis[k];
        for (int16_t v = api->min_version; v <= api->max_version; v++)
            for (int i = 0; i < n; i++) {
                dump(api->req, api->req_size, v, &r, &a, i);
                dump(api->resp, api->resp_size, v, &r, &a, i);
                arena_reset(&a);
            }
    }
    for (int k = 0; k < proto_record_count; k++) {
        const proto_record_info *ri = &proto_records[k];
        for (int16_t v = ri->desc->valid.lo; v <= ri->desc->valid.hi; v++)
            for (int i = 0; i < n; i++) {
                dump(ri->desc, ri->size, v, &r, &a, i);
                arena_reset(&a);
            }
    }
    return 0;
}
