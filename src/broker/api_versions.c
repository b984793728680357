/*
 * api_versions.c - ApiVersions (key 18): advertises exactly the handler
 * table (handlers.def, capped to the generated codecs) cut to the scope of
 * the listener asked, the supported and finalized features. An unknown
 * version is answered in server.c (v0 body, UNSUPPORTED_VERSION) before
 * this handler runs.
 */
#include <string.h>

#include "broker/features.h"
#include "broker/internal.h"
#include "core/util.h"
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

/* The features Kafka 4.3.1 knows, sorted, with the range Sluice supports.
 * metadata.version (3.3-IV3 = 7 .. 4.3-IV0 = 30) and group.version (1:
 * KIP-848 consumer groups, src/group/consumer.c) are finalized on new
 * clusters, as Kafka 4.3's format does. The others stay at 0:
 * transaction.version 2 would switch Java producers to KIP-890 part 2
 * (Produce v12, EndTxn v5), kraft.version 1 to dynamic quorums,
 * share/streams to their groups, eligible.leader.replicas to ELR; none of
 * that is here, so advertising Kafka's levels would make clients use APIs
 * Sluice lacks. */
static const struct {
    const char *name;
    int16_t min, max;
} supported[] = {
    {"eligible.leader.replicas.version", 0, 0},
    {"group.version", 0, 1},
    {"kraft.version", 0, 0},
    {"metadata.version", 7, 30},
    {"share.version", 0, 0},
    {"streams.version", 0, 0},
    {"transaction.version", 0, 0},
};

static void add_features(brk_req *req, proto_api_versions_response *rs) {
    size_t ns = SL_ARRAY_LEN(supported);
    rs->supported_features.n = (int32_t)ns;
    rs->supported_features.v =
        arena_calloc(req->arena, ns, sizeof *rs->supported_features.v);
    for (size_t i = 0; i < ns; i++) {
        rs->supported_features.v[i].name = proto_str_c(supported[i].name);
        rs->supported_features.v[i].min_version = supported[i].min;
        rs->supported_features.v[i].max_version = supported[i].max;
    }
    if (!req->brk->image) {
        rs->finalized_features_epoch = -1;
        return;
    }
    /* Kafka: the epoch is the offset of the metadata image. */
    rs->finalized_features_epoch = cl_image_offset(req->brk->image);
    size_t nf;
    const cl_feature *fs = cl_features(req->brk->image, &nf);
    rs->finalized_features.n = (int32_t)nf;
    rs->finalized_features.v =
        arena_calloc(req->arena, nf ? nf : 1, sizeof *rs->finalized_features.v);
    for (size_t i = 0; i < nf; i++) {
        rs->finalized_features.v[i].name = proto_str_c(fs[i].name);
        rs->finalized_features.v[i].min_version_level = fs[i].level;
        rs->finalized_features.v[i].max_version_level = fs[i].level;
    }
}

brk_status brk_handle_api_versions(brk_req *req) {
    proto_api_versions_request rq;
    if (proto_api_versions_request_decode(&req->body, req->arena,
                                          req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_api_versions_response rs;
    proto_api_versions_response_init(&rs);
    if (req->api_version >= 3 &&
        (!valid_software(rq.client_software_name) ||
         !valid_software(rq.client_software_version))) {
        /* Kafka's getErrorResponse: the error code alone, no API keys and
         * no features. */
        rs.error_code = KERR_INVALID_REQUEST;
        rs.api_keys.n = 0;
        proto_api_versions_response_encode(brk_resp_buf(req), req->api_version,
                                           &rs);
        return BRK_DONE;
    }
    /* Each listener lists its own scope (Kafka: ApiVersionsResponse for
     * ListenerType BROKER or CONTROLLER). */
    bool ctl = brk_listener_is_controller(req->brk, req->listener);
    size_t n;
    const brk_api *apis = brk_api_list(&n);
    rs.api_keys.v = arena_calloc(req->arena, n ? n : 1, sizeof *rs.api_keys.v);
    for (size_t i = 0; i < n; i++) {
        if (!brk_api_in_scope(&apis[i], ctl))
            continue;
        proto_api_versions_response_api_version *v =
            &rs.api_keys.v[rs.api_keys.n++];
        v->api_key = apis[i].key;
        v->min_version = apis[i].min_version;
        v->max_version = apis[i].max_version;
    }
    if (req->api_version >= 3)
        add_features(req, &rs);
    proto_api_versions_response_encode(brk_resp_buf(req), req->api_version,
                                       &rs);
    return BRK_DONE;
}

/* features.h: the same ranges validate UpdateFeatures (features.c). */
bool brk_feature_supported(const char *name, int16_t *min, int16_t *max) {
    for (size_t i = 0; i < SL_ARRAY_LEN(supported); i++)
        if (!strcmp(supported[i].name, name)) {
            *min = supported[i].min;
            *max = supported[i].max;
            return true;
        }
    return false;
}
