/*
 * scram.c - SCRAM credentials: DescribeUserScramCredentials (50) and
 * AlterUserScramCredentials (51), as Kafka's ScramImage.describe and
 * ScramControlManager.alterCredentials answer them. The client sends the
 * salt and the salted password (PBKDF2, computed by the admin client); the
 * broker derives StoredKey = H(HMAC(salted, "Client Key")) and ServerKey =
 * HMAC(salted, "Server Key") (Kafka's ScramFormatter) and writes only those
 * in UserScramCredentialRecords through the controller to
 * __cluster_metadata-0; deletions are RemoveUserScramCredentialRecords. The
 * image keeps them (cl_scram_creds). SASL/SCRAM authentication itself is
 * not implemented.
 * Loop thread only; memory from the request arena.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "broker/internal.h"
#include "core/util.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"

#define SCRAM_MIN_ITERATIONS 4096
#define SCRAM_MAX_ITERATIONS 16384

static const EVP_MD *scram_md(int8_t mechanism) {
    return mechanism == 1 ? EVP_sha256() : mechanism == 2 ? EVP_sha512() : NULL;
}

static int32_t str_len(proto_str s) {
    return s.len > 0 ? s.len : 0;
}

static bool str_is(proto_str a, proto_str b) {
    return str_len(a) == str_len(b) &&
           (str_len(a) == 0 || !memcmp(a.p, b.p, (size_t)a.len));
}

/* ---- DescribeUserScramCredentials ------------------------------------- */

brk_status brk_handle_describe_user_scram_credentials(brk_req *req) {
    proto_describe_user_scram_credentials_request rq;
    if (proto_describe_user_scram_credentials_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_describe_user_scram_credentials_response rs;
    proto_describe_user_scram_credentials_response_init(&rs);
    size_t nc;
    const cl_scram *cs = cl_scram_creds(req->brk->image, &nc);
    /* the users asked for (all with credentials when none), each once;
     * dup[i]: asked for twice */
    int32_t nu = 0;
    proto_str *users;
    bool *dup;
    if (rq.users.n <= 0) {
        users = arena_calloc(req->arena, nc + 1, sizeof *users);
        dup = arena_calloc(req->arena, nc + 1, sizeof *dup);
        for (size_t i = 0; i < nc; i++) {
            proto_str u = proto_str_c(cs[i].user);
            bool seen = false;
            for (int32_t j = 0; j < nu && !seen; j++)
                seen = str_is(users[j], u);
            if (!seen)
                users[nu++] = u;
        }
    } else {
        users = arena_calloc(req->arena, (size_t)rq.users.n, sizeof *users);
        dup = arena_calloc(req->arena, (size_t)rq.users.n, sizeof *dup);
        for (int32_t i = 0; i < rq.users.n; i++) {
            proto_str u = rq.users.v[i].name;
            int32_t j = 0;
            while (j < nu && !str_is(users[j], u))
                j++;
            if (j < nu)
                dup[j] = true;
            else
                users[nu++] = u;
        }
    }
    int32_t nr = BRK_RESP_ARRAY(req, rs.results, nu);
    for (int32_t i = 0; i < nr; i++) {
        proto_describe_user_scram_credentials_response_describe_user_scram_credentials_result
            *r = &rs.results.v[i];
        proto_describe_user_scram_credentials_response_describe_user_scram_credentials_result_init(
            r);
        r->user = users[i];
        char msg[512];
        if (dup[i]) {
            r->error_code = KERR_DUPLICATE_RESOURCE;
            snprintf(msg, sizeof msg,
                     "Cannot describe SCRAM credentials for the same user "
                     "twice in a single request: %.*s",
                     (int)str_len(users[i]), users[i].p ? users[i].p : "");
            r->error_message =
                proto_str_c(arena_strndup(req->arena, msg, strlen(msg)));
            continue;
        }
        int32_t k = 0;
        for (size_t c = 0; c < nc; c++)
            k += proto_str_eq(users[i], cs[c].user);
        if (!k) {
            r->error_code = KERR_RESOURCE_NOT_FOUND;
            snprintf(msg, sizeof msg,
                     "Attempt to describe a user credential that does not "
                     "exist: %.*s",
                     (int)str_len(users[i]), users[i].p ? users[i].p : "");
            r->error_message =
                proto_str_c(arena_strndup(req->arena, msg, strlen(msg)));
            continue;
        }
        (void)BRK_RESP_ARRAY(req, r->credential_infos, k);
        k = 0;
        /* mechanism order: SCRAM-SHA-256 then SCRAM-SHA-512 */
        for (int8_t m = 1; m <= 2; m++)
            for (size_t c = 0; c < nc; c++)
                if (cs[c].mechanism == m &&
                    proto_str_eq(users[i], cs[c].user)) {
                    proto_describe_user_scram_credentials_response_credential_info
                        *ci = &r->credential_infos.v[k++];
                    proto_describe_user_scram_credentials_response_credential_info_init(
                        ci);
                    ci->mechanism = m;
                    ci->iterations = cs[c].iterations;
                }
        r->credential_infos.n = k;
    }
    proto_describe_user_scram_credentials_response_encode(
        brk_resp_buf(req), req->api_version, &rs);
    return BRK_DONE;
}

/* ---- AlterUserScramCredentials ---------------------------------------- */

/* Kafka's ScramFormatter: StoredKey = H(HMAC(salted, "Client Key")),
 * ServerKey = HMAC(salted, "Server Key"). */
static bool derive_keys(int8_t mechanism, proto_bytes salted,
                        uint8_t stored[64], unsigned *stored_len,
                        uint8_t server[64], unsigned *server_len) {
    const EVP_MD *md = scram_md(mechanism);
    if (!md || salted.len < 0)
        return false;
    uint8_t client[64];
    unsigned cl = 0;
    static const uint8_t empty[1];
    const uint8_t *key = salted.len ? salted.p : empty;
    if (!HMAC(md, key, salted.len, (const uint8_t *)"Client Key", 10, client,
              &cl) ||
        !EVP_Digest(client, cl, stored, stored_len, md, NULL) ||
        !HMAC(md, key, salted.len, (const uint8_t *)"Server Key", 10, server,
              server_len))
        return false;
    return true;
}

static bool has_cred(brk_broker *brk, proto_str user, int8_t mechanism) {
    size_t nc;
    const cl_scram *cs = cl_scram_creds(brk->image, &nc);
    for (size_t i = 0; i < nc; i++)
        if (cs[i].mechanism == mechanism && proto_str_eq(user, cs[i].user))
            return true;
    return false;
}

typedef struct scram_res {
    proto_str user;
    int16_t error;
    const char *msg;
    int kind; /* 0 error, 1 deletion, 2 upsertion */
    int32_t idx;
} scram_res;

static scram_res *find_res(scram_res *v, int32_t n, proto_str user) {
    for (int32_t i = 0; i < n; i++)
        if (str_is(v[i].user, user))
            return &v[i];
    return NULL;
}

/* AlterUserScramCredentials' reply once its records committed: every
 * deletion and upsertion gets the commit's error. In req->arena. */
typedef struct alter_scram_reply {
    scram_res *res;
    int32_t n;
    int16_t err; /* the commit's */
} alter_scram_reply;

static void alter_scram_finish(brk_req *req, void *ctx) {
    alter_scram_reply *c = ctx;
    proto_alter_user_scram_credentials_response rs;
    proto_alter_user_scram_credentials_response_init(&rs);
    (void)BRK_RESP_ARRAY(req, rs.results, c->n);
    int32_t k = 0;
    /* Kafka lists deletions, then upsertions, then errors */
    for (int pass = 1; pass <= 3; pass++)
        for (int32_t i = 0; i < c->n; i++) {
            scram_res *r = &c->res[i];
            if ((pass < 3 && r->kind != pass) || (pass == 3 && r->kind != 0))
                continue;
            proto_alter_user_scram_credentials_response_alter_user_scram_credentials_result
                *o = &rs.results.v[k++];
            proto_alter_user_scram_credentials_response_alter_user_scram_credentials_result_init(
                o);
            o->user = r->user;
            o->error_code = r->kind ? c->err : r->error;
            o->error_message = r->kind ? PROTO_STR_NULL : proto_str_c(r->msg);
        }
    proto_alter_user_scram_credentials_response_encode(brk_resp_buf(req),
                                                       req->api_version, &rs);
}

brk_status brk_handle_alter_user_scram_credentials(brk_req *req) {
    proto_alter_user_scram_credentials_request rq;
    if (proto_alter_user_scram_credentials_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    brk_broker *brk = req->brk;
    int32_t nd = rq.deletions.n > 0 ? rq.deletions.n : 0;
    int32_t nup = rq.upsertions.n > 0 ? rq.upsertions.n : 0;
    scram_res *res =
        arena_calloc(req->arena, (size_t)(nd + nup) + 1, sizeof *res);
    int32_t n = 0;
    /* metadata.version 3.5-IV2 (11) and later support SCRAM */
    size_t nf;
    const cl_feature *fs = cl_features(brk->image, &nf);
    bool supported = false;
    for (size_t i = 0; i < nf; i++)
        if (!strcmp(fs[i].name, "metadata.version"))
            supported = fs[i].level >= 11;
    static const char twice[] =
        "A user credential cannot be altered twice in the same request";
    /* Kafka's order: deletions, then upsertions; a user named twice fails */
    for (int32_t i = 0; i < nd + nup; i++) {
        bool del = i < nd;
        proto_str user =
            del ? rq.deletions.v[i].name : rq.upsertions.v[i - nd].name;
        int8_t mech = del ? rq.deletions.v[i].mechanism
                          : rq.upsertions.v[i - nd].mechanism;
        scram_res *r = find_res(res, n, user);
        if (r && r->kind == 0)
            continue;
        if (r) {
            r->kind = 0;
            r->error = KERR_DUPLICATE_RESOURCE;
            r->msg = twice;
            continue;
        }
        r = &res[n++];
        r->user = user;
        r->kind = del ? 1 : 2;
        r->idx = del ? i : i - nd;
        if (!supported) {
            r->kind = 0;
            r->error = KERR_UNSUPPORTED_VERSION;
            r->msg = "The current metadata.version does not support SCRAM";
        } else if (str_len(user) == 0) {
            r->kind = 0;
            r->error = KERR_UNACCEPTABLE_CREDENTIAL;
            r->msg = "Username must not be empty";
        } else if (!scram_md(mech)) {
            r->kind = 0;
            r->error = KERR_UNSUPPORTED_SASL_MECHANISM;
            r->msg = "Unknown SCRAM mechanism";
        } else if (del && !has_cred(brk, user, mech)) {
            r->kind = 0;
            r->error = KERR_RESOURCE_NOT_FOUND;
            r->msg = "Attempt to delete a user credential that does not exist";
        } else if (!del) {
            int32_t it = rq.upsertions.v[i - nd].iterations;
            if (it < SCRAM_MIN_ITERATIONS || it > SCRAM_MAX_ITERATIONS) {
                r->kind = 0;
                r->error = KERR_UNACCEPTABLE_CREDENTIAL;
                r->msg = it < SCRAM_MIN_ITERATIONS ? "Too few iterations"
                                                   : "Too many iterations";
            }
        }
    }
    /* records: deletions, then upsertions (one atomic batch) */
    buf *vals = arena_calloc(req->arena, (size_t)n + 1, sizeof(buf));
    int nv = 0;
    for (int pass = 1; pass <= 2; pass++)
        for (int32_t i = 0; i < n; i++) {
            scram_res *r = &res[i];
            if (r->kind != pass)
                continue;
            buf_init(&vals[nv], 128);
            if (pass == 1) {
                proto_remove_user_scram_credential_record d;
                proto_remove_user_scram_credential_record_init(&d);
                d.name = r->user;
                d.mechanism = rq.deletions.v[r->idx].mechanism;
                cl_record_frame(
                    &vals[nv], PROTO_MD_REMOVE_USER_SCRAM_CREDENTIAL_RECORD, 0);
                proto_remove_user_scram_credential_record_encode(&vals[nv], 0,
                                                                 &d);
                nv++;
                continue;
            }
            proto_alter_user_scram_credentials_request_scram_credential_upsertion
                *u = &rq.upsertions.v[r->idx];
            uint8_t stored[64], server[64];
            unsigned sl = 0, vl = 0;
            if (!derive_keys(u->mechanism, u->salted_password, stored, &sl,
                             server, &vl)) {
                buf_free(&vals[nv]);
                r->kind = 0;
                r->error = KERR_UNKNOWN_SERVER_ERROR;
                r->msg = "cannot derive the SCRAM keys";
                continue;
            }
            proto_user_scram_credential_record c;
            proto_user_scram_credential_record_init(&c);
            c.name = u->name;
            c.mechanism = u->mechanism;
            c.salt = u->salt;
            c.stored_key = (proto_bytes){stored, (int32_t)sl};
            c.server_key = (proto_bytes){server, (int32_t)vl};
            c.iterations = u->iterations;
            cl_record_frame(&vals[nv], PROTO_MD_USER_SCRAM_CREDENTIAL_RECORD,
                            0);
            proto_user_scram_credential_record_encode(&vals[nv], 0, &c);
            nv++;
        }
    alter_scram_reply *reply = arena_calloc(req->arena, 1, sizeof *reply);
    reply->res = res;
    reply->n = n;
    brk_commit_wait *w = brk_commit_begin(req, alter_scram_finish, reply);
    brk_commit(w, vals, nv, &reply->err);
    for (int i = 0; i < nv; i++)
        buf_free(&vals[i]);
    return brk_commit_end(w);
}
