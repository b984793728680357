/*
 * test_proto_edge.c - targeted codec tests: truncation at every byte,
 * lying counts and lengths, unknown tagged fields, nullability, header
 * versions, and bytes checked by hand / captured from librdkafka.
 */
#include <stdlib.h>

#include "core/clock.h"
#include "core/util.h"
#include "proto/gen/messages.h"
#include "test.h"

static size_t unhex(const char *h, uint8_t *out) {
    size_t n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* Every strict prefix of a valid encoding must fail to decode, without
 * reading past the prefix (ASan checks the copy is not overrun). */
static void truncate_all(const proto_msg_desc *m, size_t size, int16_t ver,
                         rng *r) {
    arena a;
    arena_init(&a, 16 * 1024);
    void *msg = arena_calloc(&a, 1, size);
    proto_random_fill(m, ver, r, &a, msg);
    buf b;
    buf_init(&b, 64);
    proto_msg_encode(m, &b, ver, msg);
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *copy = xmalloc(cut ? cut : 1);
        memcpy(copy, b.data, cut);
        rd rr;
        rd_init(&rr, copy, cut);
        void *out = arena_alloc(&a, size);
        int rc = proto_msg_decode(m, &rr, &a, ver, out);
        if (rc == PROTO_OK)
            test_fail(__FILE__, __LINE__, "%s v%d: prefix %zu/%zu decoded",
                      m->name, ver, cut, b.len);
        free(copy);
        if (rc == PROTO_OK)
            break;
    }
    buf_free(&b);
    arena_free(&a);
}

TEST(proto_truncated_every_byte) {
    rng r;
    rng_seed(&r, test_seed());
    for (int k = 0; k < proto_api_count; k++) {
        const proto_api_info *api = &proto_apis[k];
        int16_t vs[2] = {api->min_version, api->max_version};
        for (int i = 0; i < 2 && api->min_version <= api->max_version; i++) {
            truncate_all(api->req, api->req_size, vs[i], &r);
            truncate_all(api->resp, api->resp_size, vs[i], &r);
        }
    }
}

TEST(proto_lying_array_count) {
    arena a;
    arena_init(&a, 4096);
    proto_produce_request req;
    /* Produce v3: transactional_id null, acks, timeout, then 2^31-1 topics. */
    uint8_t in[64];
    size_t n = unhex("ffff"
                     "ffff"
                     "00007530"
                     "7fffffff"
                     "0003616263",
                     in);
    rd r;
    rd_init(&r, in, n);
    CHECK_EQ(proto_produce_request_decode(&r, &a, 3, &req),
             PROTO_ERR_TRUNCATED);
    CHECK(a.total < 4096); /* nothing sized by the count was allocated */
    CHECK_STR(proto_error_field(), "TopicData");
    /* Flexible v9: compact count 0xffffffff - 1 via a 5-byte uvarint. */
    arena_reset(&a);
    n = unhex("00"
              "ffff"
              "00007530"
              "ffffffff0f"
              "00",
              in);
    rd_init(&r, in, n);
    CHECK(proto_produce_request_decode(&r, &a, 9, &req) < 0);
    CHECK(a.total < 4096);
    /* A string length beyond the input. */
    arena_reset(&a);
    n = unhex("7fff"
              "61",
              in);
    rd_init(&r, in, n);
    CHECK_EQ(proto_produce_request_decode(&r, &a, 3, &req),
             PROTO_ERR_TRUNCATED);
    /* Negative lengths other than -1 are malformed. */
    n = unhex("fffe", in);
    rd_init(&r, in, n);
    CHECK_EQ(proto_produce_request_decode(&r, &a, 3, &req), PROTO_ERR_INVALID);
    /* Unsupported version. */
    rd_init(&r, in, n);
    CHECK_EQ(proto_produce_request_decode(&r, &a, 99, &req), PROTO_ERR_VERSION);
    arena_free(&a);
}

TEST(proto_alloc_budget) {
    /* Metadata v9 response: many empty-ish brokers would need far more arena
     * than the input allows; the per-decode budget stops it. 100000
     * partitions at 1 byte each cannot fit in 20 bytes of input. */
    arena a;
    arena_init(&a, 4096);
    uint8_t in[32];
    size_t n = unhex("00000000"
                     "a08d06",
                     in); /* throttle, brokers: 100000 */
    rd r;
    rd_init(&r, in, n);
    proto_metadata_response m;
    CHECK(proto_metadata_response_decode(&r, &a, 9, &m) < 0);
    CHECK(a.total < 4096);
    arena_free(&a);
}

TEST(proto_unknown_tags_preserved) {
    /* ApiVersions v3 request with two unknown root tags (5 and 9) after
     * the two compact strings. */
    uint8_t in[64];
    size_t n = unhex("0261"
                     "0262"
                     "02"
                     "0502abcd"
                     "0900",
                     in);
    arena a;
    arena_init(&a, 4096);
    rd r;
    rd_init(&r, in, n);
    proto_api_versions_request req;
    CHECK_EQ(proto_api_versions_request_decode(&r, &a, 3, &req), PROTO_OK);
    CHECK_EQ(rd_left(&r), 0);
    CHECK(proto_str_eq(req.client_software_name, "a"));
    CHECK(proto_str_eq(req.client_software_version, "b"));
    CHECK_EQ(req.unknown_tags.n, 2);
    CHECK_EQ(req.unknown_tags.v[0].tag, 5);
    CHECK_EQ(req.unknown_tags.v[0].data.len, 2);
    CHECK_EQ(req.unknown_tags.v[0].data.p[0], 0xab);
    CHECK_EQ(req.unknown_tags.v[1].tag, 9);
    CHECK_EQ(req.unknown_tags.v[1].data.len, 0);
    buf b;
    buf_init(&b, 64);
    proto_api_versions_request_encode(&b, 3, &req);
    CHECK_EQ(b.len, n);
    CHECK_MEM(b.data, in, n);
    /* A known tag is decoded into its field and sorted with unknown ones:
     * FetchRequest v12 ClusterId is tag 0. */
    proto_fetch_request f;
    proto_fetch_request_init(&f);
    CHECK(f.cluster_id.len == -1 && f.replica_id == -1 &&
          f.session_epoch == -1);
    f.cluster_id = proto_str_c("c1");
    proto_tagged_field extra = {3, {(const uint8_t *)"\x01", 1}};
    f.unknown_tags.n = 1;
    f.unknown_tags.v = &extra;
    buf_reset(&b);
    proto_fetch_request_encode(&b, 12, &f);
    /* ... root tag section at the end: 2 fields, tag 0 (len 3: 03 'c' '1'),
     * tag 3 (len 1). */
    static const uint8_t tail[] = {0x02, 0x00, 0x03, 0x03, 'c',
                                   '1',  0x03, 0x01, 0x01};
    CHECK(b.len > sizeof(tail));
    CHECK_MEM(b.data + b.len - sizeof(tail), tail, sizeof(tail));
    rd_init(&r, b.data, b.len);
    proto_fetch_request f2;
    CHECK_EQ(proto_fetch_request_decode(&r, &a, 12, &f2), PROTO_OK);
    CHECK(proto_str_eq(f2.cluster_id, "c1"));
    CHECK_EQ(f2.unknown_tags.n, 1);
    CHECK_EQ(f2.unknown_tags.v[0].tag, 3);
    /* The size of a known tag must match its value. */
    uint8_t bad[64];
    memcpy(bad, b.data, b.len);
    bad[b.len - sizeof(tail) + 2] = 0x04; /* claims 4 bytes; value takes 3 */
    rd_init(&r, bad, b.len);
    CHECK(proto_fetch_request_decode(&r, &a, 12, &f2) < 0);
    buf_free(&b);
    arena_free(&a);
}

TEST(proto_nullable) {
    arena a;
    arena_init(&a, 4096);
    buf b;
    buf_init(&b, 64);
    proto_metadata_request m;
    proto_metadata_request_init(&m);
    m.topics.n = -1; /* null: all topics (nullable from v1) */
    proto_metadata_request_encode(&b, 1, &m);
    uint8_t v1[] = {0xff, 0xff, 0xff, 0xff};
    CHECK_EQ(b.len, 4);
    CHECK_MEM(b.data, v1, 4);
    /* v0: not nullable, written as empty; reading -1 at v0 is malformed. */
    buf_reset(&b);
    proto_metadata_request_encode(&b, 0, &m);
    uint8_t v0[] = {0, 0, 0, 0};
    CHECK_EQ(b.len, 4);
    CHECK_MEM(b.data, v0, 4);
    rd r;
    rd_init(&r, v1, 4);
    CHECK_EQ(proto_metadata_request_decode(&r, &a, 0, &m), PROTO_ERR_INVALID);
    rd_init(&r, v1, 4);
    CHECK_EQ(proto_metadata_request_decode(&r, &a, 1, &m), PROTO_OK);
    CHECK_EQ(m.topics.n, -1);
    /* Flexible null array is a 0 uvarint. v12: topics null, then
     * allow_auto_topic_creation, include_topic_authorized_operations. */
    uint8_t v12[] = {0x00, 0x01, 0x00, 0x00};
    rd_init(&r, v12, 4);
    CHECK_EQ(proto_metadata_request_decode(&r, &a, 12, &m), PROTO_OK);
    CHECK_EQ(m.topics.n, -1);
    CHECK(m.allow_auto_topic_creation);
    /* Nullable struct (pointer): ConsumerGroupHeartbeatResponse.Assignment. */
    proto_consumer_group_heartbeat_response h;
    proto_consumer_group_heartbeat_response_init(&h);
    CHECK(h.assignment == NULL);
    CHECK_EQ(h.heartbeat_interval_ms, 0);
    buf_reset(&b);
    proto_consumer_group_heartbeat_response_encode(&b, 0, &h);
    /* ..., assignment marker -1, empty tag section */
    CHECK(b.len >= 2 && b.data[b.len - 2] == 0xff && b.data[b.len - 1] == 0);
    /* Defaults from the spec. */
    proto_produce_request p;
    proto_produce_request_init(&p);
    CHECK_EQ(p.transactional_id.len, -1);
    proto_join_group_request j;
    proto_join_group_request_init(&j);
    CHECK_EQ(j.rebalance_timeout_ms, -1);
    CHECK_EQ(j.group_instance_id.len, -1);
    proto_fetch_request fr;
    proto_fetch_request_init(&fr);
    CHECK(proto_str_eq(fr.rack_id, ""));
    CHECK_EQ(fr.isolation_level, 0);
    CHECK_EQ(fr.max_bytes, 0x7fffffff);
    buf_free(&b);
    arena_free(&a);
}

TEST(proto_header_versions) {
    CHECK_EQ(proto_response_header_version(PROTO_API_API_VERSIONS, 3), 0);
    CHECK_EQ(proto_response_header_version(PROTO_API_API_VERSIONS, 4), 0);
    CHECK_EQ(proto_response_header_version(PROTO_API_METADATA, 9), 1);
    CHECK_EQ(proto_response_header_version(PROTO_API_METADATA, 8), 0);
    CHECK_EQ(proto_request_header_version(PROTO_API_API_VERSIONS, 3), 2);
    CHECK_EQ(proto_request_header_version(PROTO_API_API_VERSIONS, 99), 2);
    CHECK_EQ(proto_request_header_version(PROTO_API_API_VERSIONS, 2), 1);
    CHECK_EQ(proto_request_header_version(PROTO_API_CONTROLLED_SHUTDOWN, 0), 0);
    CHECK_EQ(proto_request_header_version(PROTO_API_CONTROLLED_SHUTDOWN, 1), 1);
    CHECK_EQ(proto_request_header_version(PROTO_API_PRODUCE, 9), 2);
    CHECK_EQ(proto_request_header_version(PROTO_API_PRODUCE, 8), 1);
    CHECK_EQ(proto_request_header_version(200, 0), -1);
    buf b;
    buf_init(&b, 64);
    proto_response_header_encode(&b, PROTO_API_API_VERSIONS, 3, 7);
    CHECK_EQ(b.len, 4);
    buf_reset(&b);
    proto_response_header_encode(&b, PROTO_API_METADATA, 12, 7);
    uint8_t want[] = {0, 0, 0, 7, 0};
    CHECK_EQ(b.len, 5);
    CHECK_MEM(b.data, want, 5);
    /* Unknown api key: error, but the correlation id is available. */
    uint8_t unk[] = {0x01, 0x00, 0x00, 0x00, 0x00,
                     0x00, 0x00, 0x2a, 0xff, 0xff};
    arena a;
    arena_init(&a, 1024);
    rd r;
    rd_init(&r, unk, sizeof(unk));
    proto_request_header h;
    CHECK_EQ(proto_request_header_decode(&r, &a, &h), PROTO_ERR_UNKNOWN_API);
    CHECK_EQ(h.api_key, 256);
    CHECK_EQ(h.correlation_id, 42);
    /* ControlledShutdown v0: header v0 has no client id. */
    uint8_t cs0[] = {0x00, 0x07, 0x00, 0x00, 0x00, 0x00,
                     0x00, 0x05, 0x00, 0x00, 0x00, 0x01};
    rd_init(&r, cs0, sizeof(cs0));
    CHECK_EQ(proto_request_header_decode(&r, &a, &h), PROTO_OK);
    CHECK_EQ(h.client_id.len, -1);
    CHECK_EQ(rd_left(&r), 4);
    buf_free(&b);
    arena_free(&a);
}

/* ApiVersions v3 request as librdkafka 2.0.2 (kcat 1.7.1) sent it,
 * captured off the socket: size, header v2, body. */
TEST(proto_known_bytes_librdkafka_api_versions) {
    uint8_t frame[64];
    size_t n = unhex("00000024"
                     "0012"
                     "0003"
                     "00000001"
                     "0007"
                     "72646b61666b61"
                     "00"
                     "0b"
                     "6c696272646b61666b61"
                     "06"
                     "322e302e32"
                     "00",
                     frame);
    CHECK_EQ(n, 40);
    CHECK_EQ(sl_load_be32(frame), n - 4);
    arena a;
    arena_init(&a, 1024);
    rd r;
    rd_init(&r, frame + 4, n - 4);
    proto_request_header h;
    CHECK_EQ(proto_request_header_decode(&r, &a, &h), PROTO_OK);
    CHECK_EQ(h.api_key, PROTO_API_API_VERSIONS);
    CHECK_EQ(h.api_version, 3);
    CHECK_EQ(h.correlation_id, 1);
    CHECK(proto_str_eq(h.client_id, "rdkafka"));
    CHECK_EQ(h.tags.n, 0);
    proto_api_versions_request req;
    CHECK_EQ(proto_api_versions_request_decode(&r, &a, 3, &req), PROTO_OK);
    CHECK_EQ(rd_left(&r), 0);
    CHECK(proto_str_eq(req.client_software_name, "librdkafka"));
    CHECK(proto_str_eq(req.client_software_version, "2.0.2"));
    buf b;
    buf_init(&b, 64);
    proto_request_header_encode(&b, &h);
    proto_api_versions_request_encode(&b, 3, &req);
    CHECK_EQ(b.len, n - 4);
    CHECK_MEM(b.data, frame + 4, n - 4);
    buf_free(&b);
    arena_free(&a);
}

/* An ApiVersions v3 response built by hand from the protocol guide:
 * error 0, one key (Produce 0..9, no tags), throttle 0, no tags. */
TEST(proto_known_bytes_api_versions_response) {
    proto_api_versions_response resp;
    proto_api_versions_response_init(&resp);
    proto_api_versions_response_api_version k = {0};
    proto_api_versions_response_api_version_init(&k);
    k.api_key = 0;
    k.min_version = 0;
    k.max_version = 9;
    resp.api_keys.n = 1;
    resp.api_keys.v = &k;
    buf b;
    buf_init(&b, 64);
    proto_response_header_encode(&b, PROTO_API_API_VERSIONS, 3, 1);
    proto_api_versions_response_encode(&b, 3, &resp);
    uint8_t want[] = {0, 0, 0, 1,          /* correlation id, header v0 */
                      0, 0,                /* error_code */
                      2,                   /* compact array, 1 element */
                      0, 0, 0, 0, 0, 9, 0, /* key, min, max, tags */
                      0, 0, 0, 0,          /* throttle_time_ms */
                      0};                  /* tags */
    CHECK_EQ(b.len, sizeof(want));
    CHECK_MEM(b.data, want, sizeof(want));
    /* v0 of the same (non-flexible): int32 count, no throttle, no tags. */
    buf_reset(&b);
    proto_api_versions_response_encode(&b, 0, &resp);
    uint8_t want0[] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 9};
    CHECK_EQ(b.len, sizeof(want0));
    CHECK_MEM(b.data, want0, sizeof(want0));
    buf_free(&b);
}

TEST(proto_api_table) {
    CHECK_EQ(PROTO_API_PRODUCE, 0);
    CHECK_EQ(PROTO_API_FETCH, 1);
    CHECK_EQ(PROTO_API_API_VERSIONS, 18);
    const proto_api_info *p = proto_api(PROTO_API_PRODUCE);
    CHECK_STR(p->name, "Produce");
    CHECK_EQ(p->first_flexible, 9);
    CHECK(p->listeners & PROTO_LISTENER_BROKER);
    CHECK(p->req_size == sizeof(proto_produce_request));
    const proto_api_info *av = proto_api(PROTO_API_API_VERSIONS);
    CHECK_EQ(av->min_version, 0);
    CHECK_EQ(av->first_flexible, 3);
    CHECK(proto_api(-1) == NULL);
    CHECK(proto_api((int16_t)proto_api_count) == NULL);
    for (int k = 0; k < proto_api_count; k++) {
        CHECK(proto_apis[k].key == k);
        CHECK(proto_apis[k].req->api_key == k &&
              proto_apis[k].resp->api_key == k);
    }
    CHECK_STR(proto_str_dup(NULL, PROTO_STR_NULL) == NULL ? "null" : "x",
              "null");
}

TEST(proto_lossy_fields) {
    /* Produce: TransactionalId (v3+) is not ignorable. */
    proto_produce_request p;
    proto_produce_request_init(&p);
    CHECK(proto_msg_lossy_field(&proto_produce_request_desc, 2, &p) == NULL);
    p.transactional_id = proto_str_c("tx");
    CHECK_STR(proto_msg_lossy_field(&proto_produce_request_desc, 2, &p),
              "TransactionalId");
    CHECK(proto_msg_lossy_field(&proto_produce_request_desc, 3, &p) == NULL);
    /* ApiVersions: ClientSoftwareName (v3+) is ignorable. */
    proto_api_versions_request av;
    proto_api_versions_request_init(&av);
    av.client_software_name = proto_str_c("x");
    CHECK(proto_msg_lossy_field(&proto_api_versions_request_desc, 0, &av) ==
          NULL);
    /* latestVersionUnstable lowers what a broker advertises. */
    for (int k = 0; k < proto_api_count; k++) {
        const proto_api_info *api = &proto_apis[k];
        CHECK_EQ(proto_api_max_stable(api),
                 api->max_version - (api->latest_unstable ? 1 : 0));
    }
}
