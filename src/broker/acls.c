/*
 * acls.c - CreateAcls (30), DescribeAcls (29), DeleteAcls (31) as Kafka's
 * AclApis + AclControlManager + StandardAuthorizer answer them.
 *
 * Without authorizer.class.name the broker has no authorizer and, as
 * Kafka, answers SECURITY_DISABLED. With it set (Kafka's
 * org.apache.kafka.metadata.authorizer.StandardAuthorizer), ACL bindings
 * are validated as Kafka does and stored as AccessControlEntryRecords /
 * RemoveAccessControlEntryRecords written through the controller to
 * __cluster_metadata-0 and kept by the image (cl_acls). Sluice stores and
 * describes ACLs only: requests are not authorized against them (there is
 * no authentication either, every client is User:ANONYMOUS).
 * Loop thread only; memory from the request arena.
 */
#include <stdio.h>
#include <string.h>

#include "broker/internal.h"
#include "core/util.h"
#include "core/uuid.h"
#include "proto/acl.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"

enum {
    RT_UNKNOWN = 0,
    RT_ANY = 1,
    RT_CLUSTER = 4,
    RT_MAX = 7, /* USER */
    PT_UNKNOWN = 0,
    PT_ANY = 1,
    PT_MATCH = 2,
    PT_LITERAL = 3,
    PT_PREFIXED = 4,
    OP_UNKNOWN = 0,
    OP_ANY = 1,
    OP_MAX = 15, /* TWO_PHASE_COMMIT */
    PERM_UNKNOWN = 0,
    PERM_ANY = 1,
    PERM_MAX = 3,
};

static bool authorizer_on(brk_req *req) {
    const char *a = brk_cfg_str(req->brk->cfg, BRK_CFG_AUTHORIZER_CLASS_NAME);
    return a && *a;
}

/* Codes outside Kafka's enums read as UNKNOWN (fromCode). */
static int8_t norm(int8_t v, int8_t max) {
    return v < 0 || v > max ? 0 : v;
}

static proto_str arena_str(brk_req *req, const char *s) {
    return proto_str_c(arena_strndup(req->arena, s, strlen(s)));
}

static bool str_is(proto_str s, const char *c) {
    return c && proto_str_eq(s, c);
}

/* ---- filters ---------------------------------------------------------- */

typedef struct acl_filter {
    int8_t rt, pt, op, perm;
    proto_str name, principal, host; /* len < 0: any */
} acl_filter;

/* ResourcePatternFilter.matches + AccessControlEntryFilter.matches. */
static bool filter_matches(const acl_filter *f, const cl_acl *a) {
    if (f->rt != RT_ANY && f->rt != a->resource_type)
        return false;
    if (f->pt != PT_ANY && f->pt != PT_MATCH && f->pt != a->pattern_type)
        return false;
    if (f->name.len >= 0) {
        if (f->pt == PT_ANY || f->pt == a->pattern_type) {
            if (!str_is(f->name, a->resource_name))
                return false;
        } else if (a->pattern_type == PT_LITERAL) {
            if (!str_is(f->name, a->resource_name) &&
                strcmp(a->resource_name, "*"))
                return false;
        } else if (a->pattern_type == PT_PREFIXED) {
            size_t pl = strlen(a->resource_name);
            if ((size_t)f->name.len < pl ||
                memcmp(f->name.p, a->resource_name, pl))
                return false;
        } else {
            return false;
        }
    }
    if (f->principal.len >= 0 && !str_is(f->principal, a->principal))
        return false;
    if (f->host.len >= 0 && !str_is(f->host, a->host))
        return false;
    if (f->op != OP_ANY && f->op != a->operation)
        return false;
    return f->perm == PERM_ANY || f->perm == a->permission_type;
}

/* AclControlManager.validateFilter: isUnknown() of either half. */
static const char *filter_invalid(const acl_filter *f) {
    if (f->rt == RT_UNKNOWN || f->pt == PT_UNKNOWN)
        return "Unknown patternFilter.";
    if (f->op == OP_UNKNOWN || f->perm == PERM_UNKNOWN)
        return "Unknown entryFilter.";
    return NULL;
}

/* ---- DescribeAcls ------------------------------------------------------ */

brk_status brk_handle_describe_acls(brk_req *req) {
    proto_describe_acls_request rq;
    if (proto_describe_acls_request_decode(&req->body, req->arena,
                                           req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_describe_acls_response rs;
    proto_describe_acls_response_init(&rs);
    if (!authorizer_on(req)) {
        rs.error_code = KERR_SECURITY_DISABLED;
        rs.error_message =
            proto_str_c("No Authorizer is configured on the broker");
        goto done;
    }
    acl_filter f = {
        norm(rq.resource_type_filter, RT_MAX),
        norm(req->api_version >= 1 ? rq.pattern_type_filter : PT_LITERAL,
             PT_PREFIXED),
        norm(rq.operation, OP_MAX),
        norm(rq.permission_type, PERM_MAX),
        rq.resource_name_filter,
        rq.principal_filter,
        rq.host_filter};
    const char *bad = filter_invalid(&f);
    if (bad) {
        rs.error_code = KERR_INVALID_REQUEST;
        rs.error_message = proto_str_c(bad);
        goto done;
    }
    size_t n;
    const cl_acl *acls = cl_acls(req->brk->image, &n);
    /* group the matching ACLs by resource pattern, in first-seen order */
    int32_t *grp = arena_calloc(req->arena, n + 1, sizeof *grp);
    int32_t nres = 0;
    int32_t *first = arena_calloc(req->arena, n + 1, sizeof *first);
    for (size_t i = 0; i < n; i++) {
        grp[i] = -1;
        if (!filter_matches(&f, &acls[i]))
            continue;
        for (int32_t g = 0; g < nres && grp[i] < 0; g++) {
            const cl_acl *o = &acls[first[g]];
            if (o->resource_type == acls[i].resource_type &&
                o->pattern_type == acls[i].pattern_type &&
                !strcmp(o->resource_name, acls[i].resource_name))
                grp[i] = g;
        }
        if (grp[i] < 0) {
            first[nres] = (int32_t)i;
            grp[i] = nres++;
        }
    }
    (void)BRK_RESP_ARRAY(req, rs.resources, nres);
    for (int32_t g = 0; g < nres; g++) {
        proto_describe_acls_response_describe_acls_resource *r =
            &rs.resources.v[g];
        proto_describe_acls_response_describe_acls_resource_init(r);
        const cl_acl *o = &acls[first[g]];
        r->resource_type = o->resource_type;
        r->resource_name = proto_str_c(o->resource_name);
        r->pattern_type = o->pattern_type;
        int32_t k = 0;
        for (size_t i = 0; i < n; i++)
            k += grp[i] == g;
        (void)BRK_RESP_ARRAY(req, r->acls, k);
        k = 0;
        for (size_t i = 0; i < n; i++) {
            if (grp[i] != g)
                continue;
            proto_describe_acls_response_acl_description *d = &r->acls.v[k++];
            proto_describe_acls_response_acl_description_init(d);
            d->principal = proto_str_c(acls[i].principal);
            d->host = proto_str_c(acls[i].host);
            d->operation = acls[i].operation;
            d->permission_type = acls[i].permission_type;
        }
    }
done:
    proto_describe_acls_response_encode(brk_resp_buf(req), req->api_version,
                                        &rs);
    return BRK_DONE;
}

/* ---- CreateAcls -------------------------------------------------------- */

/* AclApis' checks + AclControlManager.validateNewAcl; NULL when valid. */
static const char *acl_invalid(brk_req *req,
                               const proto_create_acls_request_acl_creation *c,
                               char *msg, size_t cap) {
    int8_t rt = norm(c->resource_type, RT_MAX);
    int8_t pt =
        norm(req->api_version >= 1 ? c->resource_pattern_type : PT_LITERAL,
             PT_PREFIXED);
    int8_t op = norm(c->operation, OP_MAX);
    int8_t perm = norm(c->permission_type, PERM_MAX);
    if (rt == RT_CLUSTER && !str_is(c->resource_name, "kafka-cluster"))
        return "The only valid name for the CLUSTER resource is "
               "kafka-cluster";
    if (c->resource_name.len <= 0)
        return "Invalid empty resource name";
    if (rt == RT_UNKNOWN || rt == RT_ANY) {
        snprintf(msg, cap, "Invalid resourceType %s",
                 proto_acl_resource_type_names[rt]);
        return msg;
    }
    if (pt != PT_LITERAL && pt != PT_PREFIXED) {
        snprintf(msg, cap, "Invalid patternType %s",
                 proto_acl_pattern_type_names[pt]);
        return msg;
    }
    if (op == OP_UNKNOWN || op == OP_ANY) {
        snprintf(msg, cap, "Invalid operation %s",
                 proto_acl_operation_names[op]);
        return msg;
    }
    if (perm == PERM_UNKNOWN || perm == PERM_ANY) {
        snprintf(msg, cap, "Invalid permissionType %s",
                 proto_acl_permission_names[perm]);
        return msg;
    }
    int32_t pl = c->principal.len > 0 ? c->principal.len : 0;
    if (!pl || !memchr(c->principal.p, ':', (size_t)pl)) {
        snprintf(msg, cap,
                 "Could not parse principal from `%.*s` (no colon is present "
                 "separating the principal type from the principal name)",
                 (int)pl, pl ? c->principal.p : "");
        return msg;
    }
    return NULL;
}

static bool same_acl(const cl_acl *a,
                     const proto_create_acls_request_acl_creation *c,
                     int8_t pt) {
    return a->resource_type == c->resource_type && a->pattern_type == pt &&
           a->operation == c->operation &&
           a->permission_type == c->permission_type &&
           str_is(c->resource_name, a->resource_name) &&
           str_is(c->principal, a->principal) && str_is(c->host, a->host);
}

/* CreateAcls' reply once its records committed (or failed): a commit
 * error goes to every creation that wrote a record. In req->arena. */
typedef struct create_acls_reply {
    proto_create_acls_response rs;
    int32_t *owner; /* creation index of each record */
    int nv;
    int16_t err;
} create_acls_reply;

static void create_acls_finish(brk_req *req, void *ctx) {
    create_acls_reply *c = ctx;
    for (int j = 0; j < c->nv && c->err; j++)
        c->rs.results.v[c->owner[j]].error_code = c->err;
    proto_create_acls_response_encode(brk_resp_buf(req), req->api_version,
                                      &c->rs);
}

brk_status brk_handle_create_acls(brk_req *req) {
    proto_create_acls_request rq;
    if (proto_create_acls_request_decode(&req->body, req->arena,
                                         req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    create_acls_reply *reply = arena_calloc(req->arena, 1, sizeof *reply);
    proto_create_acls_response_init(&reply->rs);
    int32_t n = BRK_RESP_ARRAY(req, reply->rs.results, rq.creations.n);
    bool on = authorizer_on(req);
    buf *vals = arena_calloc(req->arena, (size_t)n + 1, sizeof(buf));
    int32_t *owner = arena_calloc(req->arena, (size_t)n + 1, sizeof *owner);
    int nv = 0;
    size_t na;
    const cl_acl *acls = cl_acls(req->brk->image, &na);
    for (int32_t i = 0; i < n; i++) {
        proto_create_acls_response_acl_creation_result *r =
            &reply->rs.results.v[i];
        proto_create_acls_response_acl_creation_result_init(r);
        proto_create_acls_request_acl_creation *c = &rq.creations.v[i];
        if (!on) {
            r->error_code = KERR_SECURITY_DISABLED;
            r->error_message = proto_str_c("No Authorizer is configured.");
            continue;
        }
        char msg[512];
        const char *bad = acl_invalid(req, c, msg, sizeof msg);
        if (bad) {
            r->error_code = KERR_INVALID_REQUEST;
            r->error_message = arena_str(req, bad);
            continue;
        }
        int8_t pt =
            req->api_version >= 1 ? c->resource_pattern_type : PT_LITERAL;
        /* an existing ACL, or one earlier in this request: success, no
         * record (as Kafka) */
        bool dup = false;
        for (size_t k = 0; k < na && !dup; k++)
            dup = same_acl(&acls[k], c, pt);
        for (int j = 0; j < nv && !dup; j++) {
            proto_create_acls_request_acl_creation *o =
                &rq.creations.v[owner[j]];
            int8_t opt =
                req->api_version >= 1 ? o->resource_pattern_type : PT_LITERAL;
            dup = o->resource_type == c->resource_type && opt == pt &&
                  o->operation == c->operation &&
                  o->permission_type == c->permission_type &&
                  o->resource_name.len == c->resource_name.len &&
                  o->principal.len == c->principal.len &&
                  o->host.len == c->host.len &&
                  !memcmp(o->resource_name.p, c->resource_name.p,
                          (size_t)c->resource_name.len) &&
                  !memcmp(o->principal.p, c->principal.p,
                          (size_t)c->principal.len) &&
                  (c->host.len <= 0 ||
                   !memcmp(o->host.p, c->host.p, (size_t)c->host.len));
        }
        if (dup)
            continue;
        proto_access_control_entry_record e;
        proto_access_control_entry_record_init(&e);
        bool unique;
        do {
            uuid_random(e.id.b);
            unique = true;
            for (size_t k = 0; k < na; k++)
                unique &= memcmp(acls[k].id, e.id.b, 16) != 0;
        } while (!unique);
        e.resource_type = c->resource_type;
        e.resource_name = c->resource_name;
        e.pattern_type = pt;
        e.principal = c->principal;
        e.host = c->host;
        e.operation = c->operation;
        e.permission_type = c->permission_type;
        buf_init(&vals[nv], 128);
        cl_record_frame(&vals[nv], PROTO_MD_ACCESS_CONTROL_ENTRY_RECORD, 0);
        proto_access_control_entry_record_encode(&vals[nv], 0, &e);
        owner[nv++] = i;
    }
    reply->owner = owner;
    reply->nv = nv;
    brk_commit_wait *w = brk_commit_begin(req, create_acls_finish, reply);
    brk_commit(w, vals, nv, &reply->err);
    for (int j = 0; j < nv; j++)
        buf_free(&vals[j]);
    return brk_commit_end(w);
}

/* ---- DeleteAcls -------------------------------------------------------- */

/* DeleteAcls' reply once its removals committed (or failed): a commit
 * error goes to every filter without one. In req->arena. */
typedef struct delete_acls_reply {
    proto_delete_acls_response rs;
    int16_t err;
} delete_acls_reply;

static void delete_acls_finish(brk_req *req, void *ctx) {
    delete_acls_reply *d = ctx;
    for (int32_t i = 0; i < d->rs.filter_results.n && d->err; i++)
        if (!d->rs.filter_results.v[i].error_code)
            d->rs.filter_results.v[i].error_code = d->err;
    proto_delete_acls_response_encode(brk_resp_buf(req), req->api_version,
                                      &d->rs);
}

brk_status brk_handle_delete_acls(brk_req *req) {
    proto_delete_acls_request rq;
    if (proto_delete_acls_request_decode(&req->body, req->arena,
                                         req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    delete_acls_reply *reply = arena_calloc(req->arena, 1, sizeof *reply);
    proto_delete_acls_response_init(&reply->rs);
    brk_commit_wait *w = brk_commit_begin(req, delete_acls_finish, reply);
    int32_t nf = BRK_RESP_ARRAY(req, reply->rs.filter_results, rq.filters.n);
    bool on = authorizer_on(req);
    size_t na;
    const cl_acl *acls = cl_acls(req->brk->image, &na);
    bool *gone = arena_calloc(req->arena, na + 1, sizeof *gone);
    for (int32_t i = 0; i < nf; i++) {
        proto_delete_acls_response_delete_acls_filter_result *r =
            &reply->rs.filter_results.v[i];
        proto_delete_acls_response_delete_acls_filter_result_init(r);
        if (!on) {
            r->error_code = KERR_SECURITY_DISABLED;
            r->error_message = proto_str_c("No Authorizer is configured.");
            continue;
        }
        proto_delete_acls_request_delete_acls_filter *q = &rq.filters.v[i];
        acl_filter f = {
            norm(q->resource_type_filter, RT_MAX),
            norm(req->api_version >= 1 ? q->pattern_type_filter : PT_LITERAL,
                 PT_PREFIXED),
            norm(q->operation, OP_MAX),
            norm(q->permission_type, PERM_MAX),
            q->resource_name_filter,
            q->principal_filter,
            q->host_filter};
        const char *bad = filter_invalid(&f);
        if (bad) {
            r->error_code = KERR_INVALID_REQUEST;
            r->error_message = proto_str_c(bad);
            continue;
        }
        int32_t k = 0;
        for (size_t a = 0; a < na; a++)
            k += filter_matches(&f, &acls[a]);
        (void)BRK_RESP_ARRAY(req, r->matching_acls, k);
        k = 0;
        for (size_t a = 0; a < na; a++) {
            if (!filter_matches(&f, &acls[a]))
                continue;
            gone[a] = true;
            proto_delete_acls_response_delete_acls_matching_acl *m =
                &r->matching_acls.v[k++];
            proto_delete_acls_response_delete_acls_matching_acl_init(m);
            m->resource_type = acls[a].resource_type;
            m->resource_name = arena_str(req, acls[a].resource_name);
            m->pattern_type = acls[a].pattern_type;
            m->principal = arena_str(req, acls[a].principal);
            m->host = arena_str(req, acls[a].host);
            m->operation = acls[a].operation;
            m->permission_type = acls[a].permission_type;
        }
    }
    int nv = 0;
    for (size_t a = 0; a < na; a++)
        nv += gone[a];
    if (nv) {
        buf *vals = arena_calloc(req->arena, (size_t)nv, sizeof(buf));
        int j = 0;
        for (size_t a = 0; a < na; a++) {
            if (!gone[a])
                continue;
            proto_remove_access_control_entry_record d;
            proto_remove_access_control_entry_record_init(&d);
            memcpy(d.id.b, acls[a].id, 16);
            buf_init(&vals[j], 32);
            cl_record_frame(&vals[j],
                            PROTO_MD_REMOVE_ACCESS_CONTROL_ENTRY_RECORD, 0);
            proto_remove_access_control_entry_record_encode(&vals[j], 0, &d);
            j++;
        }
        brk_commit(w, vals, nv, &reply->err);
        for (int i = 0; i < nv; i++)
            buf_free(&vals[i]);
    }
    return brk_commit_end(w);
}
