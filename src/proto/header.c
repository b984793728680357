/*
 * header.c - request/response headers (RequestHeader.json,
 * ResponseHeader.json, hand-written because their version follows from the
 * api key and version they carry) and the API / record table lookups.
 */
#include <string.h>

#include "proto/gen/messages.h"

const proto_api_info *proto_api(int16_t key) {
    if (key < 0 || key >= proto_api_count)
        return NULL;
    return &proto_apis[key];
}

const proto_record_info *proto_record_by_name(const char *name) {
    for (int i = 0; i < proto_record_count; i++)
        if (strcmp(proto_records[i].desc->name, name) == 0)
            return &proto_records[i];
    return NULL;
}

const proto_record_info *proto_metadata_record(int16_t type) {
    for (int i = 0; i < proto_record_count; i++) {
        const proto_msg_desc *d = proto_records[i].desc;
        if (d->api_key == type && strcmp(d->dir, "metadata") == 0)
            return &proto_records[i];
    }
    return NULL;
}

static bool api_flexible(const proto_api_info *api, int16_t ver) {
    /* Uses the flexible range, not validVersions: a client may send an
     * ApiVersions request newer than we know, and its header version still
     * follows the open-ended flexibleVersions ("3+"). */
    return api->first_flexible >= 0 && ver >= api->first_flexible;
}

int16_t proto_request_header_version(int16_t api_key, int16_t api_version) {
    const proto_api_info *api = proto_api(api_key);
    if (!api)
        return -1;
    if (api_key == PROTO_API_CONTROLLED_SHUTDOWN && api_version == 0)
        return 0;
    return api_flexible(api, api_version) ? 2 : 1;
}

int16_t proto_response_header_version(int16_t api_key, int16_t api_version) {
    const proto_api_info *api = proto_api(api_key);
    if (!api)
        return -1;
    /* ApiVersions responses always use v0 so that a client that sent a
     * version the broker does not know can still read the error. */
    if (api_key == PROTO_API_API_VERSIONS)
        return 0;
    return api_flexible(api, api_version) ? 1 : 0;
}

int proto_request_header_decode(rd *r, arena *a, proto_request_header *out) {
    memset(out, 0, sizeof(*out));
    out->client_id = PROTO_STR_NULL;
    out->api_key = (int16_t)rd_be16(r);
    out->api_version = (int16_t)rd_be16(r);
    out->correlation_id = (int32_t)rd_be32(r);
    if (r->err)
        return PROTO_ERR_TRUNCATED;
    int16_t hv = proto_request_header_version(out->api_key, out->api_version);
    if (hv < 0) {
        r->err = true;
        return PROTO_ERR_UNKNOWN_API;
    }
    if (hv >= 1) {
        /* ClientId keeps the int16 length even in v2 (flexibleVersions none).
         */
        int rc = proto_read_string(r, false, &out->client_id);
        if (rc) {
            r->err = true;
            return rc;
        }
    }
    if (hv >= 2)
        return proto_read_tags(r, a, &out->tags);
    return PROTO_OK;
}

void proto_request_header_encode(buf *b, const proto_request_header *h) {
    int16_t hv = proto_request_header_version(h->api_key, h->api_version);
    if (hv < 0)
        hv = 1;
    buf_put_be16(b, (uint16_t)h->api_key);
    buf_put_be16(b, (uint16_t)h->api_version);
    buf_put_be32(b, (uint32_t)h->correlation_id);
    if (hv >= 1)
        proto_write_string(b, false, h->client_id);
    if (hv >= 2)
        proto_write_tags(b, &h->tags);
}

void proto_response_header_encode(buf *b, int16_t api_key, int16_t api_version,
                                  int32_t correlation_id) {
    buf_put_be32(b, (uint32_t)correlation_id);
    if (proto_response_header_version(api_key, api_version) >= 1)
        buf_put_u8(b, 0); /* no tagged fields */
}

int proto_response_header_decode(rd *r, arena *a, int16_t api_key,
                                 int16_t api_version,
                                 proto_response_header *out) {
    memset(out, 0, sizeof(*out));
    int16_t hv = proto_response_header_version(api_key, api_version);
    if (hv < 0)
        return PROTO_ERR_UNKNOWN_API;
    out->correlation_id = (int32_t)rd_be32(r);
    if (r->err)
        return PROTO_ERR_TRUNCATED;
    if (hv >= 1)
        return proto_read_tags(r, a, &out->tags);
    return PROTO_OK;
}
