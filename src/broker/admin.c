/*
 * admin.c - CreateTopics (19), DeleteTopics (20), CreatePartitions (37):
 * validation as Kafka's ReplicationControlManager does it, then metadata
 * records committed by the in-process controller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
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

brk_status brk_handle_create_topics(brk_req *req) {
    brk_broker *brk = req->brk;
    proto_create_topics_request rq;
    if (proto_create_topics_request_decode(&req->body, req->arena,
                                           req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_create_topics_response rs;
    proto_create_topics_response_init(&rs);
    int32_t nt = BRK_RESP_ARRAY(req, rs.topics, rq.topics.n);
    int32_t live = ctl_live_brokers(brk);
    for (int32_t i = 0; i < nt; i++) {
        proto_create_topics_request_creatable_topic *q = &rq.topics.v[i];
        ct_result *r = &rs.topics.v[i];
        proto_create_topics_response_creatable_topic_result_init(r);
        r->name = q->name;
        r->error_message = PROTO_STR_NULL;
        char msg[600] = "";
        int16_t e = KERR_NONE;
        char *name =
            q->name.len >= 0 ? proto_str_dup(req->arena, q->name) : NULL;

        for (int32_t j = 0; j < nt && !e; j++)
            if (j != i && rq.topics.v[j].name.len == q->name.len &&
                q->name.len >= 0 &&
                !memcmp(rq.topics.v[j].name.p, q->name.p,
                        (size_t)q->name.len)) {
                e = KERR_INVALID_REQUEST;
                snprintf(msg, sizeof msg, "Duplicate topic name.");
            }
        if (!e && !name) {
            e = KERR_INVALID_TOPIC_EXCEPTION;
            snprintf(msg, sizeof msg, "Topic name is null");
        }
        /* validated with all its bytes: "a\0b" is an illegal name, not "a" */
        if (!e)
            e = ctl_validate_topic_name(q->name.p, (size_t)q->name.len, msg,
                                        sizeof msg);
        if (!e && cl_topic_find(brk->image, name, strlen(name))) {
            e = KERR_TOPIC_ALREADY_EXISTS;
            snprintf(msg, sizeof msg, "Topic '%s' already exists.", name);
        }
        cl_topic *col = (!e) ? colliding_topic(brk, name) : NULL;
        if (col) {
            e = KERR_INVALID_TOPIC_EXCEPTION;
            snprintf(msg, sizeof msg,
                     "Topic '%s' collides with existing topic: %s", name,
                     col->name);
        }
        int32_t np = q->num_partitions;
        int16_t rf = q->replication_factor;
        int32_t *assignment = NULL;
        if (!e && q->assignments.n > 0) {
            if (np != -1 || rf != -1) {
                e = KERR_INVALID_REQUEST;
                snprintf(msg, sizeof msg,
                         "Both numPartitions or replicationFactor and "
                         "replicasAssignments were set. Both cannot be used at "
                         "the same time.");
            } else {
                np = q->assignments.n;
                rf = (int16_t)q->assignments.v[0].broker_ids.n;
                assignment = arena_calloc(
                    req->arena, (size_t)np * (size_t)(rf > 0 ? rf : 1),
                    sizeof(int32_t));
                for (int32_t k = 0; k < np && !e; k++) {
                    proto_create_topics_request_creatable_replica_assignment
                        *a = NULL;
                    for (int32_t m = 0; m < np; m++)
                        if (q->assignments.v[m].partition_index == k)
                            a = &q->assignments.v[m];
                    if (!a) {
                        e = KERR_INVALID_REPLICA_ASSIGNMENT;
                        snprintf(msg, sizeof msg,
                                 "Partitions should be a consecutive 0-based "
                                 "integer sequence");
                        break;
                    }
                    if (a->broker_ids.n <= 0) {
                        e = KERR_INVALID_REPLICA_ASSIGNMENT;
                        snprintf(msg, sizeof msg,
                                 "The manual partition assignment includes an "
                                 "empty replica list.");
                        break;
                    }
                    if (a->broker_ids.n != rf) {
                        e = KERR_INVALID_REPLICA_ASSIGNMENT;
                        snprintf(msg, sizeof msg,
                                 "The manual partition assignment includes a "
                                 "partition with %d replica(s), but this is "
                                 "not consistent with previous partitions, "
                                 "which have %d replica(s).",
                                 a->broker_ids.n, rf);
                        break;
                    }
                    for (int32_t m = 0; m < rf && !e; m++) {
                        int32_t b = a->broker_ids.v[m];
                        for (int32_t o = 0; o < m; o++)
                            if (a->broker_ids.v[o] == b) {
                                e = KERR_INVALID_REPLICA_ASSIGNMENT;
                                snprintf(msg, sizeof msg,
                                         "The manual partition assignment "
                                         "includes the broker %d more than "
                                         "once.",
                                         b);
                            }
                        const cl_broker *cb = cl_broker_find(brk->image, b);
                        if (!e && (!cb || cb->fenced)) {
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
        if (!e && np == -1)
            np = (int32_t)brk_cfg_i64(brk->cfg, BRK_CFG_NUM_PARTITIONS);
        if (!e && rf == -1)
            rf = (int16_t)brk_cfg_i64(brk->cfg,
                                      BRK_CFG_DEFAULT_REPLICATION_FACTOR);
        if (!e && np <= 0) {
            e = KERR_INVALID_PARTITIONS;
            snprintf(msg, sizeof msg,
                     "Number of partitions was set to an invalid non-positive "
                     "value.");
        }
        if (!e && rf <= 0) {
            e = KERR_INVALID_REPLICATION_FACTOR;
            snprintf(msg, sizeof msg,
                     "Replication factor must be larger than 0, or -1 to use "
                     "the default value.");
        }
        if (!e && !assignment && rf > live) {
            e = KERR_INVALID_REPLICATION_FACTOR;
            snprintf(msg, sizeof msg,
                     "Unable to replicate the partition %d time(s): The target "
                     "replication factor of %d cannot be reached because only "
                     "%d broker(s) are registered.",
                     rf, rf, live);
        }
        if (!e && np > 100000) {
            e = KERR_INVALID_PARTITIONS;
            snprintf(msg, sizeof msg, "Too many partitions requested (%d).",
                     np);
        }
        /* configs */
        size_t nc = q->configs.n > 0 ? (size_t)q->configs.n : 0;
        brk_kv *kv = arena_calloc(req->arena, nc ? nc : 1, sizeof *kv);
        for (size_t k = 0; k < nc && !e; k++) {
            kv[k].name = proto_str_dup(req->arena, q->configs.v[k].name);
            kv[k].value =
                brk_config_value_dup(req->arena, q->configs.v[k].value);
            if (!kv[k].name)
                kv[k].name = "";
            for (size_t m = 0; m < k && !e; m++)
                if (!strcmp(kv[m].name, kv[k].name)) {
                    e = KERR_INVALID_REQUEST;
                    snprintf(msg, sizeof msg, "Duplicate config name: %s",
                             kv[k].name);
                }
            if (!e)
                e = brk_validate_topic_config(kv[k].name, kv[k].value, msg,
                                              sizeof msg);
        }
        if (!e && !rq.validate_only) {
            e = ctl_create_topic(brk, name, np, rf, assignment, kv, nc,
                                 r->topic_id.b);
            if (e)
                snprintf(msg, sizeof msg, "%s", proto_error_message(e));
        }
        r->error_code = e;
        if (e) {
            r->error_message = msg_dup(req, msg);
            r->num_partitions = -1;
            r->replication_factor = -1;
            r->configs.n = -1;
            r->configs.v = NULL;
            if (e != KERR_TOPIC_ALREADY_EXISTS)
                SL_INFO("server", "CreateTopics %s from %s: %s (%s)",
                        name ? name : "(null)", req->peer, proto_error_name(e),
                        msg);
        } else {
            r->num_partitions = np;
            r->replication_factor = rf;
            fill_created_configs(req, kv, nc, r);
        }
    }
    proto_create_topics_response_encode(brk_resp_buf(req), req->api_version,
                                        &rs);
    return BRK_DONE;
}

brk_status brk_handle_delete_topics(brk_req *req) {
    brk_broker *brk = req->brk;
    proto_delete_topics_request rq;
    if (proto_delete_topics_request_decode(&req->body, req->arena,
                                           req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_delete_topics_response rs;
    proto_delete_topics_response_init(&rs);
    bool v6 = req->api_version >= 6;
    int32_t n = v6 ? rq.topics.n : rq.topic_names.n;
    if (n < 0)
        n = 0;
    rs.responses.n = n;
    rs.responses.v =
        arena_calloc(req->arena, (size_t)(n ? n : 1), sizeof *rs.responses.v);
    bool enabled = brk_cfg_bool(brk->cfg, BRK_CFG_DELETE_TOPIC_ENABLE);
    for (int32_t i = 0; i < n; i++) {
        proto_delete_topics_response_deletable_topic_result *r =
            &rs.responses.v[i];
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
            if (!t)
                e = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        } else {
            t = proto_uuid_is_zero(&id) ? NULL
                                        : cl_topic_find_id(brk->image, id.b);
            if (!t)
                e = KERR_UNKNOWN_TOPIC_ID;
            else
                r->name = proto_str_c(
                    arena_strndup(req->arena, t->name, strlen(t->name)));
        }
        if (t) {
            memcpy(r->topic_id.b, t->id, 16);
            e = ctl_delete_topic(brk, t);
        }
        r->error_code = e;
        if (e && r->error_message.len < 0 && req->api_version >= 5)
            r->error_message = proto_str_c(proto_error_message(e));
    }
    proto_delete_topics_response_encode(brk_resp_buf(req), req->api_version,
                                        &rs);
    return BRK_DONE;
}

brk_status brk_handle_create_partitions(brk_req *req) {
    brk_broker *brk = req->brk;
    proto_create_partitions_request rq;
    if (proto_create_partitions_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_create_partitions_response rs;
    proto_create_partitions_response_init(&rs);
    int32_t n = BRK_RESP_ARRAY(req, rs.results, rq.topics.n);
    for (int32_t i = 0; i < n; i++) {
        proto_create_partitions_request_create_partitions_topic *q =
            &rq.topics.v[i];
        proto_create_partitions_response_create_partitions_topic_result *r =
            &rs.results.v[i];
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
            if (!t) {
                e = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                snprintf(msg, sizeof msg,
                         "This server does not host this "
                         "topic-partition.");
            }
        }
        if (!e && q->count < t->n_partitions) {
            e = KERR_INVALID_PARTITIONS;
            snprintf(msg, sizeof msg,
                     "The topic %s currently has %d partition(s); %d would not "
                     "be an increase.",
                     t->name, t->n_partitions, q->count);
        } else if (!e && q->count == t->n_partitions) {
            e = KERR_INVALID_PARTITIONS;
            snprintf(msg, sizeof msg, "Topic already has %d partition(s).",
                     t->n_partitions);
        }
        int16_t rf = 1;
        if (!e && t->n_partitions > 0 && t->parts[0])
            rf = (int16_t)t->parts[0]->n_replicas;
        int32_t add = !e ? q->count - t->n_partitions : 0;
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
        if (!e && !assignment && rf > ctl_live_brokers(brk)) {
            e = KERR_INVALID_REPLICATION_FACTOR;
            snprintf(msg, sizeof msg,
                     "Unable to replicate the partition %d time(s): not enough "
                     "live brokers.",
                     rf);
        }
        if (!e && q->count > 100000) {
            e = KERR_INVALID_PARTITIONS;
            snprintf(msg, sizeof msg, "Too many partitions requested (%d).",
                     q->count);
        }
        if (!e && !rq.validate_only)
            e = ctl_create_partitions(brk, t, q->count, assignment, rf);
        r->error_code = e;
        r->error_message =
            e ? msg_dup(req, msg[0] ? msg : proto_error_message(e))
              : PROTO_STR_NULL;
    }
    proto_create_partitions_response_encode(brk_resp_buf(req), req->api_version,
                                            &rs);
    return BRK_DONE;
}
