/*
 * admin.c - CreateTopics (19), DeleteTopics (20), CreatePartitions (37):
 * validation as Kafka's ReplicationControlManager does it, then metadata
 * records committed by the in-process controller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "controller/placement.h"
#include "core/log.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"

static proto_str msg_dup(brk_req *req, const char *m) {
    return proto_str_c(arena_strndup(req->arena, m, strlen(m)));
}

/* '.' and '_' collide in metric names: a.b and a_b cannot both exist. */
static cl_topic *colliding_topic(brk_broker *brk, const char *name) {
    size_t n;
    cl_topic **ts = cl_topics(brk->image, &n);
    size_t nl = strlen(name);
    for (size_t i = 0; i < n; i++) {
        const char *o = ts[i]->name;
        if (strlen(o) != nl || !strcmp(o, name))
            continue;
        bool same = true;
        for (size_t k = 0; k < nl && same; k++) {
            char a = name[k] == '.' ? '_' : name[k];
            char b = o[k] == '.' ? '_' : o[k];
            same = a == b;
        }
        if (same)
            return ts[i];
    }
    return NULL;
}

/* Validates topic configs of a CreateTopics / AlterConfigs request.
 * Returns 0 or KERR_INVALID_CONFIG with msg. */
int16_t brk_validate_topic_config(const char *name, const char *value,
                                  char *msg, size_t msglen) {
    int id = brk_config_find_topic(name);
    if (id < 0) {
        snprintf(msg, msglen, "Unknown topic config name: %s", name);
        return KERR_INVALID_CONFIG;
    }
    if (!value) {
        snprintf(msg, msglen, "Null value not supported for topic configs: %s",
                 name);
        return KERR_INVALID_CONFIG;
    }
    if (brk_config_validate(id, value, msg, msglen) < 0)
        return KERR_INVALID_CONFIG;
    return KERR_NONE;
}

char *brk_config_value_dup(arena *a, proto_str v) {
    if (v.len < 0)
        return NULL;
    size_t nul = 0;
    for (int32_t i = 0; i < v.len; i++)
        nul += v.p[i] == 0;
    if (!nul)
        return arena_strndup(a, v.p, (size_t)v.len);
    /* Kafka parses String.trim()'d values: NULs and the other characters
     * up to ' ' at either end do not count. */
    int32_t b = 0, e = v.len;
    while (b < e && (unsigned char)v.p[b] <= ' ')
        b++;
    while (e > b && (unsigned char)v.p[e - 1] <= ' ')
        e--;
    char *out = arena_alloc(a, (size_t)v.len + nul * 5 + 1);
    size_t o = 0;
    for (int32_t i = b; i < e; i++) {
        if (v.p[i]) {
            out[o++] = v.p[i];
        } else {
            memcpy(out + o, "\\u0000", 6);
            o += 6;
        }
    }
    out[o] = 0;
    return out;
}

typedef proto_create_topics_response_creatable_topic_result ct_result;

static void fill_created_configs(brk_req *req, const brk_kv *ov, size_t n,
                                 ct_result *r) {
    brk_config *cfg = req->brk->cfg;
    int cnt = 0;
    for (int i = 0; i < BRK_CFG_COUNT; i++)
        cnt += (brk_cfg_defs[i].flags & CFG_F_TOPIC) != 0;
    r->configs.n = 0;
    r->configs.v = arena_calloc(req->arena, (size_t)cnt, sizeof *r->configs.v);
    for (int i = 0; i < BRK_CFG_COUNT; i++) {
        if (!(brk_cfg_defs[i].flags & CFG_F_TOPIC))
            continue;
        proto_create_topics_response_creatable_topic_configs *c =
            &r->configs.v[r->configs.n++];
        proto_create_topics_response_creatable_topic_configs_init(c);
        char tmp[32];
        brk_cfg_source src;
        const char *v =
            brk_topic_cfg_text(cfg, ov, n, (brk_cfg_id)i, &src, tmp);
        c->name = proto_str_c(brk_cfg_defs[i].name);
        c->value = v ? msg_dup(req, v) : PROTO_STR_NULL;
        c->read_only = false;
        c->config_source = (int8_t)src;
        c->is_sensitive = false;
    }
}

/* CreateTopics, one topic at a time in named steps: the name, a manual
 * assignment, the partition count and replication factor, the configs;
 * then its records are submitted and the reply waits for the commits. */
#define CT_MSG 600

/* One topic of the request, kept (in req->arena) until the reply. */
typedef struct ct_topic {
    char *name; /* NULL for a null name */
    int32_t np;
    int16_t rf;
    brk_kv *kv; /* its configs */
    size_t nc;
    int16_t err;
    char msg[CT_MSG];
} ct_topic;

/* Step 1: the name (unique in the request, valid, not taken). */
static int16_t ct_check_name(brk_req *req,
                             const proto_create_topics_request *rq, int32_t i,
                             const char *name, char *msg) {
    brk_broker *brk = req->brk;
    const proto_create_topics_request_creatable_topic *q = &rq->topics.v[i];
    for (int32_t j = 0; j < rq->topics.n; j++)
        if (j != i && rq->topics.v[j].name.len == q->name.len &&
            q->name.len >= 0 &&
            !memcmp(rq->topics.v[j].name.p, q->name.p, (size_t)q->name.len)) {
            snprintf(msg, CT_MSG, "Duplicate topic name.");
            return KERR_INVALID_REQUEST;
        }
    if (!name) {
        snprintf(msg, CT_MSG, "Topic name is null");
        return KERR_INVALID_TOPIC_EXCEPTION;
    }
    /* validated with all its bytes: "a\0b" is an illegal name, not "a" */
    int16_t e =
        ctl_validate_topic_name(q->name.p, (size_t)q->name.len, msg, CT_MSG);
    if (e)
        return e;
    if (cl_topic_find(brk->image, name, strlen(name)) ||
        ctl_topic_creating(brk, name)) {
        snprintf(msg, CT_MSG, "Topic '%s' already exists.", name);
        return KERR_TOPIC_ALREADY_EXISTS;
    }
    cl_topic *col = colliding_topic(brk, name);
    if (col) {
        snprintf(msg, CT_MSG, "Topic '%s' collides with existing topic: %s",
                 name, col->name);
        return KERR_INVALID_TOPIC_EXCEPTION;
    }
    return KERR_NONE;
}

/* Step 2: a manual assignment (consecutive partitions, each with the same
 * number of distinct registered brokers); sets *np, *rf and *out. */
static int16_t
ct_check_assignment(brk_req *req,
                    const proto_create_topics_request_creatable_topic *q,
                    int32_t *np, int16_t *rf, int32_t **out, char *msg) {
    brk_broker *brk = req->brk;
    if (q->assignments.n <= 0)
        return KERR_NONE;
    if (*np != -1 || *rf != -1) {
        snprintf(msg, CT_MSG,
                 "Both numPartitions or replicationFactor and "
                 "replicasAssignments were set. Both cannot be used at "
                 "the same time.");
        return KERR_INVALID_REQUEST;
    }
    int32_t n_p = q->assignments.n;
    int16_t r_f = (int16_t)q->assignments.v[0].broker_ids.n;
    *np = n_p;
    *rf = r_f;
    int32_t *assignment = arena_calloc(
        req->arena, (size_t)n_p * (size_t)(r_f > 0 ? r_f : 1), sizeof(int32_t));
    *out = assignment;
    for (int32_t k = 0; k < n_p; k++) {
        const proto_create_topics_request_creatable_replica_assignment *a =
            NULL;
        for (int32_t m = 0; m < n_p; m++)
            if (q->assignments.v[m].partition_index == k)
                a = &q->assignments.v[m];
        if (!a) {
            snprintf(msg, CT_MSG,
                     "Partitions should be a consecutive 0-based "
                     "integer sequence");
            return KERR_INVALID_REPLICA_ASSIGNMENT;
        }
        if (a->broker_ids.n <= 0) {
            snprintf(msg, CT_MSG,
                     "The manual partition assignment includes an "
                     "empty replica list.");
            return KERR_INVALID_REPLICA_ASSIGNMENT;
        }
        if (a->broker_ids.n != r_f) {
            snprintf(msg, CT_MSG,
                     "The manual partition assignment includes a "
                     "partition with %d replica(s), but this is "
                     "not consistent with previous partitions, "
                     "which have %d replica(s).",
                     a->broker_ids.n, r_f);
            return KERR_INVALID_REPLICA_ASSIGNMENT;
        }
        for (int32_t m = 0; m < r_f; m++) {
            int32_t b = a->broker_ids.v[m];
            for (int32_t o = 0; o < m; o++)
                if (a->broker_ids.v[o] == b) {
                    snprintf(msg, CT_MSG,
                             "The manual partition assignment "
                             "includes the broker %d more than "
                             "once.",
                             b);
                    return KERR_INVALID_REPLICA_ASSIGNMENT;
                }
            const cl_broker *cb = cl_broker_find(brk->image, b);
            if (!cb || cb->fenced) {
                snprintf(msg, CT_MSG,
                         "The manual partition assignment includes "
                         "broker %d, but no such broker is "
                         "registered.",
                         b);
                return KERR_INVALID_REPLICA_ASSIGNMENT;
            }
            assignment[k * r_f + m] = b;
        }
    }
    return KERR_NONE;
}

/* Step 3: the defaults for -1, the limits, and (without a manual
 * assignment) the placement of the replicas (controller/placement.h) into
 * *assignment. */
static int16_t ct_check_counts(brk_req *req, int32_t **assignment, int32_t *np,
                               int16_t *rf, char *msg) {
    brk_broker *brk = req->brk;
    if (*np == -1)
        *np = (int32_t)brk_cfg_i64(brk->cfg, BRK_CFG_NUM_PARTITIONS);
    if (*rf == -1)
        *rf =
            (int16_t)brk_cfg_i64(brk->cfg, BRK_CFG_DEFAULT_REPLICATION_FACTOR);
    if (*np <= 0) {
        snprintf(msg, CT_MSG,
                 "Number of partitions was set to an invalid non-positive "
                 "value.");
        return KERR_INVALID_PARTITIONS;
    }
    if (*rf <= 0) {
        snprintf(msg, CT_MSG,
                 "Replication factor must be larger than 0, or -1 to use "
                 "the default value.");
        return KERR_INVALID_REPLICATION_FACTOR;
    }
    if (*np > 100000) {
        snprintf(msg, CT_MSG, "Too many partitions requested (%d).", *np);
        return KERR_INVALID_PARTITIONS;
    }
    if (*assignment)
        return KERR_NONE;
    int32_t *a = arena_calloc(req->arena, (size_t)*np * (size_t)*rf, sizeof *a);
    char why[400];
    int16_t e = ctl_place_replicas(brk->image, *np, *rf, a, why, sizeof why);
    if (e) {
        snprintf(msg, CT_MSG,
                 "Unable to replicate the partition %d time(s): %s", *rf, why);
        return e;
    }
    *assignment = a;
    return KERR_NONE;
}

/* Step 4: the configs (unique names, valid values), into t->kv. */
static int16_t
ct_check_configs(brk_req *req,
                 const proto_create_topics_request_creatable_topic *q,
                 ct_topic *t, char *msg) {
    t->nc = q->configs.n > 0 ? (size_t)q->configs.n : 0;
    t->kv = arena_calloc(req->arena, t->nc ? t->nc : 1, sizeof *t->kv);
    int16_t e = KERR_NONE;
    for (size_t k = 0; k < t->nc && !e; k++) {
        brk_kv *kv = t->kv;
        kv[k].name = proto_str_dup(req->arena, q->configs.v[k].name);
        kv[k].value = brk_config_value_dup(req->arena, q->configs.v[k].value);
        if (!kv[k].name)
            kv[k].name = "";
        for (size_t m = 0; m < k && !e; m++)
            if (!strcmp(kv[m].name, kv[k].name)) {
                e = KERR_INVALID_REQUEST;
                snprintf(msg, CT_MSG, "Duplicate config name: %s", kv[k].name);
            }
        if (!e)
            e = brk_validate_topic_config(kv[k].name, kv[k].value, msg, CT_MSG);
    }
    return e;
}

/* Step 5 (the reply, once the commits are done): each topic's result. */
typedef struct ct_reply {
    proto_create_topics_response rs;
    ct_topic *topics;
} ct_reply;

static void ct_finish(brk_req *req, void *ctx) {
    ct_reply *c = ctx;
    for (int32_t i = 0; i < c->rs.topics.n; i++) {
        ct_result *r = &c->rs.topics.v[i];
        ct_topic *t = &c->topics[i];
        int16_t e = t->err;
        r->error_code = e;
        if (e) {
            if (!t->msg[0])
                snprintf(t->msg, CT_MSG, "%s", proto_error_message(e));
            r->error_message = msg_dup(req, t->msg);
            memset(r->topic_id.b, 0, 16); /* set when it was submitted */
            r->num_partitions = -1;
            r->replication_factor = -1;
            r->configs.n = -1;
            r->configs.v = NULL;
            if (e != KERR_TOPIC_ALREADY_EXISTS)
                SL_INFO("server", "CreateTopics %s from %s: %s (%s)",
                        t->name ? t->name : "(null)", req->peer,
                        proto_error_name(e), t->msg);
        } else {
            r->num_partitions = t->np;
            r->replication_factor = t->rf;
            fill_created_configs(req, t->kv, t->nc, r);
        }
    }
    proto_create_topics_response_encode(brk_resp_buf(req), req->api_version,
                                        &c->rs);
}

brk_status brk_handle_create_topics(brk_req *req) {
    brk_broker *brk = req->brk;
    proto_create_topics_request rq;
    if (proto_create_topics_request_decode(&req->body, req->arena,
                                           req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    ct_reply *c = arena_calloc(req->arena, 1, sizeof *c);
    proto_create_topics_response_init(&c->rs);
    int32_t nt = BRK_RESP_ARRAY(req, c->rs.topics, rq.topics.n);
    c->topics = arena_calloc(req->arena, (size_t)nt + 1, sizeof *c->topics);
    brk_commit_wait *w = brk_commit_begin(req, ct_finish, c);
    for (int32_t i = 0; i < nt; i++) {
        proto_create_topics_request_creatable_topic *q = &rq.topics.v[i];
        ct_result *r = &c->rs.topics.v[i];
        ct_topic *t = &c->topics[i];
        proto_create_topics_response_creatable_topic_result_init(r);
        r->name = q->name;
        r->error_message = PROTO_STR_NULL;
        t->name = q->name.len >= 0 ? proto_str_dup(req->arena, q->name) : NULL;
        t->np = q->num_partitions;
        t->rf = q->replication_factor;
        int32_t *assignment = NULL;
        int16_t e = ct_check_name(req, &rq, i, t->name, t->msg);
        if (!e)
            e = ct_check_assignment(req, q, &t->np, &t->rf, &assignment,
                                    t->msg);
        if (!e)
            e = ct_check_counts(req, &assignment, &t->np, &t->rf, t->msg);
        if (!e)
            e = ct_check_configs(req, q, t, t->msg);
        t->err = e;
        if (!e && !rq.validate_only)
            ctl_create_topic_async(w, &t->err, brk, t->name, t->np, t->rf,
                                   assignment, t->kv, t->nc, r->topic_id.b);
    }
    return brk_commit_end(w);
}

/* DeleteTopics' reply once its removals committed: a commit error gets
 * Kafka's message (v5+). */
static void delete_topics_finish(brk_req *req, void *ctx) {
    proto_delete_topics_response *rs = ctx;
    for (int32_t i = 0; i < rs->responses.n; i++) {
        proto_delete_topics_response_deletable_topic_result *r =
            &rs->responses.v[i];
        if (r->error_code && r->error_message.len < 0 && req->api_version >= 5)
            r->error_message = proto_str_c(proto_error_message(r->error_code));
    }
    proto_delete_topics_response_encode(brk_resp_buf(req), req->api_version,
                                        rs);
}

brk_status brk_handle_delete_topics(brk_req *req) {
    brk_broker *brk = req->brk;
    proto_delete_topics_request rq;
    if (proto_delete_topics_request_decode(&req->body, req->arena,
                                           req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_delete_topics_response *rsp =
        arena_calloc(req->arena, 1, sizeof *rsp);
    proto_delete_topics_response_init(rsp);
    brk_commit_wait *w = brk_commit_begin(req, delete_topics_finish, rsp);
    bool v6 = req->api_version >= 6;
    int32_t n = v6 ? rq.topics.n : rq.topic_names.n;
    if (n < 0)
        n = 0;
    rsp->responses.n = n;
    rsp->responses.v =
        arena_calloc(req->arena, (size_t)(n ? n : 1), sizeof *rsp->responses.v);
    bool enabled = brk_cfg_bool(brk->cfg, BRK_CFG_DELETE_TOPIC_ENABLE);
    for (int32_t i = 0; i < n; i++) {
        proto_delete_topics_response_deletable_topic_result *r =
            &rsp->responses.v[i];
        proto_delete_topics_response_deletable_topic_result_init(r);
        proto_str name = v6 ? rq.topics.v[i].name : rq.topic_names.v[i];
        proto_uuid id = {{0}};
        if (v6)
            id = rq.topics.v[i].topic_id;
        r->name = name;
        r->topic_id = id;
        cl_topic *t = NULL;
        int16_t e = KERR_NONE;
        if (!enabled) {
            e = KERR_TOPIC_DELETION_DISABLED;
        } else if (name.len >= 0 && !proto_uuid_is_zero(&id)) {
            e = KERR_INVALID_REQUEST;
            r->error_message = proto_str_c(
                "You may not specify both topic name and topic id.");
        } else if (name.len >= 0) {
            t = cl_topic_find(brk->image, name.p, (size_t)name.len);
            if (t && ctl_topic_deleting(brk, t->id))
                t = NULL; /* its removal is submitted already */
            if (!t)
                e = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        } else {
            t = proto_uuid_is_zero(&id) ? NULL
                                        : cl_topic_find_id(brk->image, id.b);
            if (t && ctl_topic_deleting(brk, t->id))
                t = NULL;
            if (!t)
                e = KERR_UNKNOWN_TOPIC_ID;
            else
                r->name = proto_str_c(
                    arena_strndup(req->arena, t->name, strlen(t->name)));
        }
        r->error_code = e;
        if (t) {
            memcpy(r->topic_id.b, t->id, 16);
            ctl_delete_topic(w, &r->error_code, t);
        }
    }
    return brk_commit_end(w);
}

/* CreatePartitions' reply once its records committed. */
static void create_partitions_finish(brk_req *req, void *ctx) {
    proto_create_partitions_response *rs = ctx;
    for (int32_t i = 0; i < rs->results.n; i++) {
        proto_create_partitions_response_create_partitions_topic_result *r =
            &rs->results.v[i];
        if (r->error_code && r->error_message.len < 0)
            r->error_message = msg_dup(req, proto_error_message(r->error_code));
    }
    proto_create_partitions_response_encode(brk_resp_buf(req), req->api_version,
                                            rs);
}

brk_status brk_handle_create_partitions(brk_req *req) {
    brk_broker *brk = req->brk;
    proto_create_partitions_request rq;
    if (proto_create_partitions_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_create_partitions_response *rsp =
        arena_calloc(req->arena, 1, sizeof *rsp);
    proto_create_partitions_response_init(rsp);
    brk_commit_wait *w = brk_commit_begin(req, create_partitions_finish, rsp);
    int32_t n = BRK_RESP_ARRAY(req, rsp->results, rq.topics.n);
    for (int32_t i = 0; i < n; i++) {
        proto_create_partitions_request_create_partitions_topic *q =
            &rq.topics.v[i];
        proto_create_partitions_response_create_partitions_topic_result *r =
            &rsp->results.v[i];
        proto_create_partitions_response_create_partitions_topic_result_init(r);
        r->name = q->name;
        char msg[512] = "";
        int16_t e = KERR_NONE;
        for (int32_t j = 0; j < n && !e; j++)
            if (j != i && rq.topics.v[j].name.len == q->name.len &&
                !memcmp(rq.topics.v[j].name.p, q->name.p,
                        (size_t)(q->name.len > 0 ? q->name.len : 0))) {
                e = KERR_INVALID_REQUEST;
                snprintf(msg, sizeof msg, "Duplicate topic name.");
            }
        cl_topic *t = NULL;
        if (!e) {
            t = q->name.len >= 0
                    ? cl_topic_find(brk->image, q->name.p, (size_t)q->name.len)
                    : NULL;
            if (t && ctl_topic_deleting(brk, t->id))
                t = NULL; /* its removal is submitted */
            if (!t) {
                e = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                snprintf(msg, sizeof msg,
                         "This server does not host this "
                         "topic-partition.");
            }
        }
        /* counted with what earlier requests submitted */
        int32_t cur = t ? ctl_partition_count(brk, t) : 0;
        if (!e && q->count < cur) {
            e = KERR_INVALID_PARTITIONS;
            snprintf(msg, sizeof msg,
                     "The topic %s currently has %d partition(s); %d would not "
                     "be an increase.",
                     t->name, cur, q->count);
        } else if (!e && q->count == cur) {
            e = KERR_INVALID_PARTITIONS;
            snprintf(msg, sizeof msg, "Topic already has %d partition(s).",
                     cur);
        }
        int16_t rf = 1;
        if (!e && t->n_partitions > 0 && t->parts[0])
            rf = (int16_t)t->parts[0]->n_replicas;
        int32_t add = !e ? q->count - cur : 0;
        int32_t *assignment = NULL;
        if (!e && q->assignments.n >= 0) {
            if (q->assignments.n != add) {
                e = KERR_INVALID_REPLICA_ASSIGNMENT;
                snprintf(msg, sizeof msg,
                         "Attempted to add %d additional partition(s), but "
                         "only %d assignment(s) were specified.",
                         add, q->assignments.n);
            } else {
                assignment = arena_calloc(
                    req->arena, (size_t)add * (size_t)(rf > 0 ? rf : 1),
                    sizeof(int32_t));
                for (int32_t k = 0; k < add && !e; k++) {
                    if (q->assignments.v[k].broker_ids.n != rf) {
                        e = KERR_INVALID_REPLICA_ASSIGNMENT;
                        snprintf(msg, sizeof msg,
                                 "The manual partition assignment includes a "
                                 "partition with %d replica(s), but this is "
                                 "not consistent with previous partitions, "
                                 "which have %d replica(s).",
                                 q->assignments.v[k].broker_ids.n, rf);
                        break;
                    }
                    for (int32_t m = 0; m < rf && !e; m++) {
                        int32_t b = q->assignments.v[k].broker_ids.v[m];
                        const cl_broker *cb = cl_broker_find(brk->image, b);
                        if (!cb || cb->fenced) {
                            e = KERR_INVALID_REPLICA_ASSIGNMENT;
                            snprintf(msg, sizeof msg,
                                     "The manual partition assignment includes "
                                     "broker %d, but no such broker is "
                                     "registered.",
                                     b);
                        }
                        assignment[k * rf + m] = b;
                    }
                }
            }
        }
        if (!e && q->count > 100000) {
            e = KERR_INVALID_PARTITIONS;
            snprintf(msg, sizeof msg, "Too many partitions requested (%d).",
                     q->count);
        }
        if (!e && !assignment) {
            assignment = arena_calloc(req->arena, (size_t)add * (size_t)rf,
                                      sizeof *assignment);
            e = ctl_place_replicas(brk->image, add, rf, assignment, msg,
                                   sizeof msg);
        }
        r->error_code = e;
        r->error_message =
            e ? msg_dup(req, msg[0] ? msg : proto_error_message(e))
              : PROTO_STR_NULL;
        if (!e && !rq.validate_only)
            ctl_create_partitions(w, &r->error_code, t, q->count, assignment,
                                  rf);
    }
    return brk_commit_end(w);
}
