/*
 * api_versions.c - ApiVersions (key 18): advertises exactly the handler
 * table (handlers.def, capped to the generated codecs), the supported and
 * finalized features. An unknown version is answered in server.c (v0 body,
 * UNSUPPORTED_VERSION) before this handler runs.
 */
#include <string.h>

#include "broker/internal.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"

/* Kafka's ApiVersionsRequest.isValid:
 * [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? */
static bool valid_software(proto_str s) {
    if (s.len <= 0)
        return false;
    for (int32_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9');
        bool inner = c == '-' || c == '.';
        if (!alnum && (!inner || i == 0 || i == s.len - 1))
            return false;
    }
    return true;
}

brk_status brk_handle_api_versions(brk_req *req) {
    proto_api_versions_request rq;
    if (proto_api_versions_request_decode(&req->body, req->arena,
                                          req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_api_versions_response rs;
    proto_api_versions_response_init(&rs);
    if (req->api_version >= 3 && (!valid_software(rq.client_software_name) ||
                                  !valid_software(rq.client_software_version)))
        rs.error_code = KERR_INVALID_REQUEST;
    size_t n;
    const brk_api *apis = brk_api_list(&n);
    rs.api_keys.n = (int32_t)n;
    rs.api_keys.v = arena_calloc(req->arena, n ? n : 1, sizeof *rs.api_keys.v);
    for (size_t i = 0; i < n; i++) {
        rs.api_keys.v[i].api_key = apis[i].key;
        rs.api_keys.v[i].min_version = apis[i].min_version;
        rs.api_keys.v[i].max_version = apis[i].max_version;
    }
    if (req->api_version >= 3) {
        rs.supported_features.n = 1;
        rs.supported_features.v =
            arena_calloc(req->arena, 1, sizeof *rs.supported_features.v);
        rs.supported_features.v[0].name = proto_str_c("metadata.version");
        rs.supported_features.v[0].min_version = 1;
        rs.supported_features.v[0].max_version = 25;
        rs.finalized_features_epoch =
            req->brk->image ? cl_image_offset(req->brk->image) : -1;
        rs.finalized_features.n = 1;
        rs.finalized_features.v =
            arena_calloc(req->arena, 1, sizeof *rs.finalized_features.v);
        rs.finalized_features.v[0].name = proto_str_c("metadata.version");
        rs.finalized_features.v[0].min_version_level = 25;
        rs.finalized_features.v[0].max_version_level = 25;
    }
    proto_api_versions_response_encode(brk_resp_buf(req), req->api_version,
                                       &rs);
    return BRK_DONE;
}
