/*
 * fuzz_response.c - response bodies: input bytes 0-1 pick the api key
 * (modulo the table), 2-3 the version (modulo its range); the rest is the
 * body. Decodes, re-encodes and checks the round trip; also the response
 * header decoder on the same bytes.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4)
        return 0;
    const proto_api_info *api =
        proto_api((int16_t)(sl_load_be16(data) % proto_api_count));
    int span = api->max_version - api->min_version + 1;
    int16_t ver = (int16_t)(api->min_version + sl_load_be16(data + 2) % span);
    arena a;
    arena_init(&a, 4096);
    rd r;
    rd_init(&r, data + 4, size - 4);
    void *body = arena_alloc(&a, api->resp_size);
    if (api->resp_decode(&r, &a, ver, body) == PROTO_OK)
        fuzz_roundtrip(api->resp, api->resp_size, ver, body, &a);
    rd_init(&r, data + 4, size - 4);
    proto_response_header rh;
    (void)proto_response_header_decode(&r, &a, api->key, ver, &rh);
    arena_free(&a);
    return 0;
}
