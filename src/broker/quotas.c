/*
 * quotas.c - client quotas: AlterClientQuotas (49) and DescribeClientQuotas
 * (48), as Kafka's ClientQuotaControlManager / ClientQuotasImage answer
 * them. Changes are ClientQuotaRecords (one per value) written through the
 * controller to __cluster_metadata-0 and kept in the image (cl_quotas).
 * Quotas are stored and described only: Sluice does not throttle.
 * Loop thread only; memory from the request arena.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "broker/internal.h"
#include "core/util.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"

static bool is_type(proto_str t, const char *c) {
    return proto_str_eq(t, c);
}

/* Kafka's ClientQuotaControlManager.validateEntity + configKeysForEntityType.
 * Returns an error code with msg set, or KERR_NONE with *ip set. */
static int16_t
check_entity(const proto_alter_client_quotas_request_entry_data *e, bool *ip,
             char *msg, size_t msglen) {
    bool seen[3] = {false, false, false}; /* user, client-id, ip */
    if (e->entity.n <= 0) {
        snprintf(msg, msglen, "Invalid empty client quota entity");
        return KERR_INVALID_REQUEST;
    }
    for (int32_t i = 0; i < e->entity.n; i++) {
        proto_str t = e->entity.v[i].entity_type;
        int k = is_type(t, "user")        ? 0
                : is_type(t, "client-id") ? 1
                : is_type(t, "ip")        ? 2
                                          : -1;
        if (k < 0) {
            snprintf(msg, msglen, "Unhandled client quota entity type: %.*s",
                     t.len > 0 ? (int)t.len : 0, t.p ? t.p : "");
            return KERR_INVALID_REQUEST;
        }
        if (seen[k]) {
            snprintf(msg, msglen, "Duplicate entity type %.*s", (int)t.len,
                     t.p);
            return KERR_INVALID_REQUEST;
        }
        seen[k] = true;
    }
    if (seen[2] && (seen[0] || seen[1])) {
        snprintf(msg, msglen,
                 "Invalid quota entity combination, IP entity should not be "
                 "used with user/client ID entity.");
        return KERR_INVALID_REQUEST;
    }
    *ip = seen[2];
    return KERR_NONE;
}

static int16_t check_op(const proto_alter_client_quotas_request_op_data *o,
                        bool ip, char *msg, size_t msglen) {
    static const char *const client_keys[] = {
        "producer_byte_rate", "consumer_byte_rate", "request_percentage",
        "controller_mutation_rate"};
    bool ok = false, whole = false;
    if (ip) {
        ok = proto_str_eq(o->key, "connection_creation_rate");
        whole = ok;
    } else {
        for (size_t i = 0; i < SL_ARRAY_LEN(client_keys); i++)
            if (proto_str_eq(o->key, client_keys[i])) {
                ok = true;
                whole = i < 2; /* the byte rates are LONG configs */
            }
    }
    if (!ok) {
        snprintf(msg, msglen, "Invalid configuration key %.*s",
                 o->key.len > 0 ? (int)o->key.len : 0,
                 o->key.p ? o->key.p : "");
        return KERR_INVALID_REQUEST;
    }
    if (!o->remove && whole && o->value != floor(o->value)) {
        snprintf(msg, msglen, "Configuration %.*s must be a Long value",
                 (int)o->key.len, o->key.p);
        return KERR_INVALID_REQUEST;
    }
    return KERR_NONE;
}

/* The reply once every entry's records committed: a commit error is
 * reported with its name as the message. */
static void alter_quotas_finish(brk_req *req, void *ctx) {
    proto_alter_client_quotas_response *rs = ctx;
    for (int32_t i = 0; i < rs->entries.n; i++) {
        proto_alter_client_quotas_response_entry_data *er = &rs->entries.v[i];
        if (er->error_code && er->error_message.len < 0)
            er->error_message = proto_str_c(proto_error_name(er->error_code));
    }
    proto_alter_client_quotas_response_encode(brk_resp_buf(req),
                                              req->api_version, rs);
}

brk_status brk_handle_alter_client_quotas(brk_req *req) {
    proto_alter_client_quotas_request rq;
    if (proto_alter_client_quotas_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    typedef proto_alter_client_quotas_response_entry_data entry_res;
    proto_alter_client_quotas_response *rs =
        arena_calloc(req->arena, 1, sizeof *rs);
    proto_alter_client_quotas_response_init(rs);
    brk_commit_wait *w = brk_commit_begin(req, alter_quotas_finish, rs);
    int32_t ne = BRK_RESP_ARRAY(req, rs->entries, rq.entries.n);
    for (int32_t i = 0; i < ne; i++) {
        const proto_alter_client_quotas_request_entry_data *e =
            &rq.entries.v[i];
        entry_res *er = &rs->entries.v[i];
        er->error_message = PROTO_STR_NULL;
        int32_t nent = BRK_RESP_ARRAY(req, er->entity, e->entity.n);
        for (int32_t k = 0; k < nent; k++) {
            er->entity.v[k].entity_type = e->entity.v[k].entity_type;
            er->entity.v[k].entity_name = e->entity.v[k].entity_name;
        }
        char *msg = arena_alloc(req->arena, 256);
        bool ip = false;
        int16_t err = check_entity(e, &ip, msg, 256);
        for (int32_t k = 0; !err && k < e->ops.n; k++)
            err = check_op(&e->ops.v[k], ip, msg, 256);
        er->error_code = err;
        if (err)
            er->error_message = proto_str_c(msg);
        if (!err && !rq.validate_only && e->ops.n > 0) {
            buf *vals = arena_calloc(req->arena, (size_t)e->ops.n, sizeof(buf));
            proto_client_quota_record_entity_data *ents =
                arena_calloc(req->arena, (size_t)nent, sizeof *ents);
            for (int32_t k = 0; k < nent; k++) {
                ents[k].entity_type = e->entity.v[k].entity_type;
                ents[k].entity_name = e->entity.v[k].entity_name;
            }
            for (int32_t k = 0; k < e->ops.n; k++) {
                proto_client_quota_record r;
                proto_client_quota_record_init(&r);
                r.entity.n = nent;
                r.entity.v = ents;
                r.key = e->ops.v[k].key;
                r.value = e->ops.v[k].value;
                r.remove = e->ops.v[k].remove;
                buf_init(&vals[k], 64);
                cl_record_frame(&vals[k], PROTO_MD_CLIENT_QUOTA_RECORD, 0);
                proto_client_quota_record_encode(&vals[k], 0, &r);
            }
            brk_commit(w, vals, e->ops.n, &er->error_code);
            for (int32_t k = 0; k < e->ops.n; k++)
                buf_free(&vals[k]);
        }
    }
    return brk_commit_end(w);
}

/* ClientQuotasImage.describe: every component must match a part of the
 * entity; strict also wants no other parts. */
static bool matches(const cl_quota *q,
                    const proto_describe_client_quotas_request *rq) {
    if (rq->strict && q->n_ent != rq->components.n)
        return false;
    for (int32_t c = 0; c < rq->components.n; c++) {
        const proto_describe_client_quotas_request_component_data *cd =
            &rq->components.v[c];
        int i = 0;
        while (i < q->n_ent && !proto_str_eq(cd->entity_type, q->etype[i]))
            i++;
        if (i == q->n_ent)
            return false;
        if (cd->match_type == 0 &&
            (!q->ename[i] || !proto_str_eq(cd->match, q->ename[i])))
            return false;
        if (cd->match_type == 1 && q->ename[i])
            return false;
    }
    return true;
}

brk_status brk_handle_describe_client_quotas(brk_req *req) {
    proto_describe_client_quotas_request rq;
    if (proto_describe_client_quotas_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_describe_client_quotas_response rs;
    proto_describe_client_quotas_response_init(&rs);
    rs.error_message = PROTO_STR_NULL;
    if (rq.components.n < 0)
        rq.components.n = 0;
    for (int32_t c = 0; c < rq.components.n && !rs.error_code; c++) {
        const proto_describe_client_quotas_request_component_data *cd =
            &rq.components.v[c];
        for (int32_t d = 0; d < c; d++)
            if (proto_str_eq(cd->entity_type,
                             proto_str_dup(req->arena,
                                           rq.components.v[d].entity_type))) {
                rs.error_code = KERR_INVALID_REQUEST;
                rs.error_message =
                    proto_str_c("Duplicate filter component entity type");
            }
        if (cd->match_type < 0 || cd->match_type > 2 ||
            (cd->match_type == 0 && cd->match.len < 0)) {
            rs.error_code = KERR_INVALID_REQUEST;
            rs.error_message = proto_str_c("Invalid match type or match");
        }
    }
    if (rs.error_code) {
        rs.entries.n = -1;
        proto_describe_client_quotas_response_encode(brk_resp_buf(req),
                                                     req->api_version, &rs);
        return BRK_DONE;
    }
    size_t nq;
    const cl_quota *qs = cl_quotas(req->brk->image, &nq);
    typedef proto_describe_client_quotas_response_entry_data entry_res;
    rs.entries.v = arena_calloc(req->arena, nq ? nq : 1, sizeof(entry_res));
    for (size_t i = 0; i < nq; i++) {
        const cl_quota *q = &qs[i];
        if (!matches(q, &rq))
            continue;
        entry_res *er = &rs.entries.v[rs.entries.n++];
        er->entity.n = q->n_ent;
        er->entity.v =
            arena_calloc(req->arena, (size_t)q->n_ent, sizeof *er->entity.v);
        for (int k = 0; k < q->n_ent; k++) {
            er->entity.v[k].entity_type = proto_str_c(q->etype[k]);
            er->entity.v[k].entity_name =
                q->ename[k] ? proto_str_c(q->ename[k]) : PROTO_STR_NULL;
        }
        er->values.n = q->n_vals;
        er->values.v =
            arena_calloc(req->arena, q->n_vals ? (size_t)q->n_vals : 1,
                         sizeof *er->values.v);
        for (int k = 0; k < q->n_vals; k++) {
            er->values.v[k].key = proto_str_c(q->key[k]);
            er->values.v[k].value = q->val[k];
        }
    }
    proto_describe_client_quotas_response_encode(brk_resp_buf(req),
                                                 req->api_version, &rs);
    return BRK_DONE;
}
