/*
 * test_proto.c - round trips over every message the spec defines: for each
 * (api, version, request/response) and each data/metadata record version,
 * fill all fields valid at that version from a seeded rng, then
 * encode -> decode -> encode must be byte-identical and the decode must
 * consume every byte. Repeated ROUNDS times per version with fresh values.
 */
#include <stdlib.h>

#include "core/clock.h"
#include "proto/gen/messages.h"
#include "test.h"

#define ROUNDS 12

/* One round trip; returns false (and reports) on any mismatch. */
static bool round_trip(const proto_msg_desc *m, size_t size, int16_t ver,
                       rng *r, arena *a) {
    void *msg = arena_calloc(a, 1, size);
    void *back = arena_calloc(a, 1, size);
    proto_random_fill(m, ver, r, a, msg);
    buf b1, b2;
    buf_init(&b1, 64);
    buf_init(&b2, 64);
    proto_msg_encode(m, &b1, ver, msg);
    rd rdr;
    rd_init(&rdr, b1.data, b1.len);
    int rc = proto_msg_decode(m, &rdr, a, ver, back);
    bool ok = true;
    if (rc != PROTO_OK) {
        test_fail(__FILE__, __LINE__, "%s v%d: decode failed: %s (%zu bytes)",
                  m->name, ver, proto_strerror(rc), b1.len);
        ok = false;
    } else if (rd_left(&rdr) != 0) {
        test_fail(__FILE__, __LINE__, "%s v%d: %zu bytes left after decode",
                  m->name, ver, rd_left(&rdr));
        ok = false;
    } else {
        proto_msg_encode(m, &b2, ver, back);
        if (b1.len != b2.len ||
            (b1.len && memcmp(b1.data, b2.data, b1.len) != 0)) {
            test_fail(__FILE__, __LINE__,
                      "%s v%d: re-encoding differs (%zu vs %zu bytes)", m->name,
                      ver, b1.len, b2.len);
            ok = false;
        }
    }
    buf_free(&b1);
    buf_free(&b2);
    return ok;
}

TEST(proto_roundtrip_all_apis) {
    rng r;
    rng_seed(&r, test_seed());
    arena a;
    arena_init(&a, 64 * 1024);
    int checked = 0;
    CHECK(proto_api_count >= 88); /* keys 0..87 in the 4.0 spec, more later */
    for (int k = 0; k < proto_api_count; k++) {
        const proto_api_info *api = proto_api((int16_t)k);
        CHECK(api != NULL && api->key == k);
        if (!api)
            continue;
        for (int16_t v = api->min_version; v <= api->max_version; v++) {
            for (int round = 0; round < ROUNDS; round++) {
                bool ok = round_trip(api->req, api->req_size, v, &r, &a) &&
                          round_trip(api->resp, api->resp_size, v, &r, &a);
                arena_reset(&a);
                if (!ok)
                    break;
            }
            checked += 2;
        }
    }
    arena_free(&a);
    printf("proto: %d (api, version, direction) round trips x %d\n", checked,
           ROUNDS);
    CHECK(checked >= 600); /* every (api, version, direction) */
}

TEST(proto_roundtrip_all_records) {
    rng r;
    rng_seed(&r, test_seed() ^ 0x5eed);
    arena a;
    arena_init(&a, 64 * 1024);
    CHECK(proto_record_count >= 70);
    for (int i = 0; i < proto_record_count; i++) {
        const proto_record_info *ri = &proto_records[i];
        for (int16_t v = ri->desc->valid.lo; v <= ri->desc->valid.hi; v++) {
            for (int round = 0; round < ROUNDS; round++) {
                bool ok = round_trip(ri->desc, ri->size, v, &r, &a);
                arena_reset(&a);
                if (!ok)
                    break;
            }
        }
    }
    arena_free(&a);
    CHECK(proto_record_by_name("TopicRecord") != NULL);
    CHECK(proto_metadata_record(2) == proto_record_by_name("TopicRecord"));
    CHECK(proto_record_by_name("ProducerSnapshot") != NULL);
}
