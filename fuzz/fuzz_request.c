/*
 * fuzz_request.c - a request frame as the broker reads it (after the size
 * prefix): the header's api key and version pick the body codec. Decodes
 * header + body, re-encodes both, and checks the round trip.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    arena a;
    arena_init(&a, 4096);
    rd r;
    rd_init(&r, data, size);
    proto_request_header h;
    int rc = proto_request_header_decode(&r, &a, &h);
    const proto_api_info *api = proto_api(h.api_key);
    if (rc == PROTO_OK && api && h.api_version >= api->min_version &&
        h.api_version <= api->max_version) {
        void *body = arena_alloc(&a, api->req_size);
        rc = api->req_decode(&r, &a, h.api_version, body);
        if (rc == PROTO_OK) {
            /* header round trip */
            buf hb;
            buf_init(&hb, 64);
            proto_request_header_encode(&hb, &h);
            rd hr;
            rd_init(&hr, hb.data, hb.len);
            proto_request_header h2;
            FUZZ_CHECK(proto_request_header_decode(&hr, &a, &h2) == PROTO_OK);
            FUZZ_CHECK(rd_left(&hr) == 0);
            FUZZ_CHECK(h2.api_key == h.api_key &&
                       h2.api_version == h.api_version &&
                       h2.correlation_id == h.correlation_id);
            FUZZ_CHECK(h2.client_id.len == h.client_id.len);
            FUZZ_CHECK(h.client_id.len <= 0 ||
                       memcmp(h2.client_id.p, h.client_id.p,
                              (size_t)h.client_id.len) == 0);
            buf_free(&hb);
            fuzz_roundtrip(api->req, api->req_size, h.api_version, body, &a);
        }
    }
    arena_free(&a);
    return 0;
}
