/*
 * configs.c - DescribeConfigs (32), AlterConfigs (33) and
 * IncrementalAlterConfigs (44) for TOPIC and BROKER resources. Values,
 * sources and synonyms come from the config table (config.def); changes are
 * ConfigRecords committed by the controller (so they survive restarts).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "core/log.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"

#define RES_TOPIC 2
#define RES_BROKER 4
#define RES_BROKER_LOGGER 8
#define RES_GROUP 32

int16_t brk_validate_topic_config(const char *name, const char *value,
                                  char *msg, size_t msglen);

static proto_str sdup(brk_req *req, const char *s) {
    return s ? proto_str_c(arena_strndup(req->arena, s, strlen(s)))
             : PROTO_STR_NULL;
}

static int8_t config_type(brk_cfg_type t) {
    switch (t) {
    case CFG_BOOL:
        return 1;
    case CFG_STRING:
        return 2;
    case CFG_INT:
        return 3;
    case CFG_SHORT:
        return 4;
    case CFG_LONG:
        return 5;
    case CFG_DOUBLE:
        return 6;
    case CFG_LIST:
        return 7;
    case CFG_CLASS:
        return 8;
    case CFG_PASSWORD:
        return 9;
    }
    return 0;
}

typedef proto_describe_configs_response_describe_configs_resource_result
    dc_entry;
typedef proto_describe_configs_response_describe_configs_synonym dc_syn;

/* Synonyms of one broker key at every level where it has a value, in
 * Kafka's order (dynamic broker, dynamic default, static, default). */
static void add_broker_synonyms(brk_req *req, const brk_config *cfg, int id,
                                dc_syn *out, int32_t *n) {
    const char *name = brk_cfg_defs[id].name;
    if (cfg->dyn_broker[id])
        out[(*n)++] = (dc_syn){.name = proto_str_c(name),
                               .value = sdup(req, cfg->dyn_broker[id]),
                               .source = CFG_SRC_DYNAMIC_BROKER};
    if (cfg->dyn_default[id])
        out[(*n)++] = (dc_syn){.name = proto_str_c(name),
                               .value = sdup(req, cfg->dyn_default[id]),
                               .source = CFG_SRC_DYNAMIC_DEFAULT_BROKER};
    if (cfg->static_text[id])
        out[(*n)++] = (dc_syn){.name = proto_str_c(name),
                               .value = sdup(req, cfg->static_text[id]),
                               .source = CFG_SRC_STATIC_BROKER};
    if (brk_cfg_defs[id].def)
        out[(*n)++] = (dc_syn){.name = proto_str_c(name),
                               .value = proto_str_c(brk_cfg_defs[id].def),
                               .source = CFG_SRC_DEFAULT};
}

static bool
wanted(const proto_describe_configs_request_describe_configs_resource *q,
       const char *name) {
    if (q->configuration_keys.n < 0)
        return true;
    for (int32_t i = 0; i < q->configuration_keys.n; i++)
        if (proto_str_eq(q->configuration_keys.v[i], name))
            return true;
    return false;
}

static void describe_topic(
    brk_req *req, cl_topic *t,
    const proto_describe_configs_request_describe_configs_resource *q, bool syn,
    bool doc, proto_describe_configs_response_describe_configs_result *r) {
    const brk_config *cfg = req->brk->cfg;
    r->configs.v =
        arena_calloc(req->arena, BRK_CFG_COUNT, sizeof *r->configs.v);
    for (int i = 0; i < BRK_CFG_COUNT; i++) {
        const brk_cfg_def *d = &brk_cfg_defs[i];
        if (!(d->flags & CFG_F_TOPIC) || !wanted(q, d->name))
            continue;
        dc_entry *c = &r->configs.v[r->configs.n++];
        proto_describe_configs_response_describe_configs_resource_result_init(
            c);
        char tmp[32];
        brk_cfg_source src;
        const char *v = brk_topic_cfg_text(cfg, t->configs, t->n_configs,
                                           (brk_cfg_id)i, &src, tmp);
        c->name = proto_str_c(d->name);
        c->value = sdup(req, v);
        c->read_only = false;
        c->is_default = src == CFG_SRC_DEFAULT;
        c->config_source = (int8_t)src;
        c->is_sensitive = false;
        c->config_type = config_type(d->type);
        c->documentation = doc ? proto_str_c(d->doc) : PROTO_STR_NULL;
        c->synonyms.n = 0;
        if (!syn)
            continue;
        c->synonyms.v = arena_calloc(req->arena, 32, sizeof *c->synonyms.v);
        const char *ov = cl_topic_config(t, d->name);
        if (ov)
            c->synonyms.v[c->synonyms.n++] =
                (dc_syn){.name = proto_str_c(d->name),
                         .value = sdup(req, ov),
                         .source = CFG_SRC_DYNAMIC_TOPIC};
        brk_cfg_syn syns[24];
        int ns = brk_topic_cfg_synonyms(cfg, (brk_cfg_id)i, syns, 24);
        for (int k = 0; k < ns; k++)
            c->synonyms.v[c->synonyms.n++] =
                (dc_syn){.name = proto_str_c(syns[k].name),
                         .value = sdup(req, syns[k].value),
                         .source = (int8_t)syns[k].src};
    }
}

static void describe_broker(
    brk_req *req, bool default_scope,
    const proto_describe_configs_request_describe_configs_resource *q, bool syn,
    bool doc, proto_describe_configs_response_describe_configs_result *r) {
    const brk_config *cfg = req->brk->cfg;
    r->configs.v =
        arena_calloc(req->arena, BRK_CFG_COUNT, sizeof *r->configs.v);
    for (int i = 0; i < BRK_CFG_COUNT; i++) {
        const brk_cfg_def *d = &brk_cfg_defs[i];
        if ((d->flags & CFG_F_TOPIC) || !wanted(q, d->name))
            continue;
        if (default_scope && !cfg->dyn_default[i])
            continue;
        dc_entry *c = &r->configs.v[r->configs.n++];
        proto_describe_configs_response_describe_configs_resource_result_init(
            c);
        bool sensitive =
            (d->flags & CFG_F_SENSITIVE) || d->type == CFG_PASSWORD;
        c->name = proto_str_c(d->name);
        if (default_scope) {
            c->value =
                sensitive ? PROTO_STR_NULL : sdup(req, cfg->dyn_default[i]);
            c->config_source = CFG_SRC_DYNAMIC_DEFAULT_BROKER;
        } else {
            c->value = sensitive ? PROTO_STR_NULL : sdup(req, cfg->v[i].text);
            c->config_source = (int8_t)cfg->v[i].src;
        }
        c->read_only = !(d->flags & CFG_F_DYNAMIC);
        c->is_default = c->config_source == CFG_SRC_DEFAULT;
        c->is_sensitive = sensitive;
        c->config_type = config_type(d->type);
        c->documentation = doc ? proto_str_c(d->doc) : PROTO_STR_NULL;
        c->synonyms.n = 0;
        if (syn) {
            c->synonyms.v = arena_calloc(req->arena, 4, sizeof *c->synonyms.v);
            add_broker_synonyms(req, cfg, i, c->synonyms.v, &c->synonyms.n);
            if (default_scope) {
                /* only the dynamic default level applies */
                c->synonyms.n = 0;
                c->synonyms.v[c->synonyms.n++] =
                    (dc_syn){.name = proto_str_c(d->name),
                             .value = sdup(req, cfg->dyn_default[i]),
                             .source = CFG_SRC_DYNAMIC_DEFAULT_BROKER};
            }
            if (sensitive)
                for (int32_t k = 0; k < c->synonyms.n; k++)
                    c->synonyms.v[k].value = PROTO_STR_NULL;
        }
    }
}

static void describe_group(
    brk_req *req, const char *group,
    const proto_describe_configs_request_describe_configs_resource *q, bool syn,
    bool doc, proto_describe_configs_response_describe_configs_result *r) {
    const brk_config *cfg = req->brk->cfg;
    brk_kv ov[32];
    size_t n = cl_group_configs(req->brk->image, group, ov, 32);
    r->configs.v =
        arena_calloc(req->arena, BRK_CFG_COUNT, sizeof *r->configs.v);
    for (int i = 0; i < BRK_CFG_COUNT; i++) {
        const brk_cfg_def *d = &brk_cfg_defs[i];
        if (!(d->flags & CFG_F_GROUP) || !wanted(q, d->name))
            continue;
        dc_entry *c = &r->configs.v[r->configs.n++];
        proto_describe_configs_response_describe_configs_resource_result_init(
            c);
        char tmp[32];
        brk_cfg_source src;
        const char *v =
            brk_topic_cfg_text(cfg, ov, n, (brk_cfg_id)i, &src, tmp);
        if (src == CFG_SRC_DYNAMIC_TOPIC)
            src = CFG_SRC_GROUP;
        c->name = proto_str_c(d->name);
        c->value = sdup(req, v);
        c->read_only = false;
        c->is_default = src == CFG_SRC_DEFAULT;
        c->config_source = (int8_t)src;
        c->config_type = config_type(d->type);
        c->documentation = doc ? proto_str_c(d->doc) : PROTO_STR_NULL;
        c->synonyms.n = 0;
        if (syn && src == CFG_SRC_GROUP) {
            c->synonyms.v = arena_calloc(req->arena, 1, sizeof *c->synonyms.v);
            c->synonyms.v[c->synonyms.n++] =
                (dc_syn){.name = proto_str_c(d->name),
                         .value = sdup(req, v),
                         .source = CFG_SRC_GROUP};
        }
    }
}

/* Checks a BROKER resource name: our node id or "" (cluster default). */
static int16_t check_broker_name(brk_req *req, proto_str name, bool *def_scope,
                                 char *msg, size_t msglen) {
    *def_scope = name.len <= 0;
    if (*def_scope)
        return KERR_NONE;
    char buf_[32];
    snprintf(buf_, sizeof buf_, "%d", req->brk->node_id);
    if (!proto_str_eq(name, buf_)) {
        snprintf(msg, msglen,
                 "Unexpected broker id, expected %d or empty string, but "
                 "received %.*s",
                 req->brk->node_id, (int)(name.len > 64 ? 64 : name.len),
                 name.p);
        return KERR_INVALID_REQUEST;
    }
    return KERR_NONE;
}

brk_status brk_handle_describe_configs(brk_req *req) {
    brk_broker *brk = req->brk;
    proto_describe_configs_request rq;
    if (proto_describe_configs_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_describe_configs_response rs;
    proto_describe_configs_response_init(&rs);
    int32_t n = BRK_RESP_ARRAY(req, rs.results, rq.resources.n);
    bool syn = req->api_version >= 1 && rq.include_synonyms;
    bool doc = req->api_version >= 3 && rq.include_documentation;
    for (int32_t i = 0; i < n; i++) {
        proto_describe_configs_request_describe_configs_resource *q =
            &rq.resources.v[i];
        proto_describe_configs_response_describe_configs_result *r =
            &rs.results.v[i];
        proto_describe_configs_response_describe_configs_result_init(r);
        r->resource_type = q->resource_type;
        r->resource_name = q->resource_name;
        r->error_message = PROTO_STR_NULL;
        char msg[512] = "";
        int16_t e = KERR_NONE;
        if (q->resource_type == RES_TOPIC) {
            cl_topic *t = NULL;
            if (q->resource_name.len >= 0 &&
                ctl_validate_topic_name(q->resource_name.p,
                                        (size_t)q->resource_name.len, msg,
                                        sizeof msg))
                e = KERR_INVALID_TOPIC_EXCEPTION;
            else if (!(t = q->resource_name.len >= 0
                               ? cl_topic_find(brk->image, q->resource_name.p,
                                               (size_t)q->resource_name.len)
                               : NULL)) {
                e = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                snprintf(
                    msg, sizeof msg, "The topic '%.*s' does not exist.",
                    (int)(q->resource_name.len > 0 ? q->resource_name.len : 0),
                    q->resource_name.p ? q->resource_name.p : "");
            } else
                describe_topic(req, t, q, syn, doc, r);
        } else if (q->resource_type == RES_BROKER) {
            bool def_scope;
            e = check_broker_name(req, q->resource_name, &def_scope, msg,
                                  sizeof msg);
            if (!e)
                describe_broker(req, def_scope, q, syn, doc, r);
        } else if (q->resource_type == RES_BROKER_LOGGER) {
            r->configs.n = 0; /* no per-logger levels */
        } else if (q->resource_type == RES_GROUP) {
            char *g = proto_str_dup(req->arena, q->resource_name);
            if (!g || !*g) {
                e = KERR_INVALID_REQUEST;
                snprintf(msg, sizeof msg, "Group name must not be empty");
            } else
                describe_group(req, g, q, syn, doc, r);
        } else {
            e = KERR_INVALID_REQUEST;
            snprintf(msg, sizeof msg, "Unsupported resource type %d",
                     q->resource_type);
        }
        r->error_code = e;
        if (e) {
            r->error_message = sdup(req, msg[0] ? msg : proto_error_message(e));
            r->configs.n = 0;
        }
    }
    proto_describe_configs_response_encode(brk_resp_buf(req), req->api_version,
                                           &rs);
    return BRK_DONE;
}

/* ---- alter
 * ---------------------------------------------------------------------- */

typedef struct alter_op {
    const char *name;
    const char *value; /* NULL: delete */
    int8_t op;         /* 0 set, 1 delete, 2 append, 3 subtract */
} alter_op;

/* Comma-list helpers for APPEND/SUBTRACT. */
static char *list_edit(arena *a, const char *cur, const char *val,
                       bool append) {
    buf out;
    buf_init(&out, 64);
    /* start with current items (minus subtracted ones) */
    const char *p = cur ? cur : "";
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        size_t len = (size_t)(e - p);
        bool drop = false;
        if (!append) {
            const char *q = val;
            while (*q && !drop) {
                while (*q == ',' || *q == ' ')
                    q++;
                const char *qe = q;
                while (*qe && *qe != ',')
                    qe++;
                drop = (size_t)(qe - q) == len && !memcmp(q, p, len);
                q = qe;
            }
        }
        if (!drop) {
            if (out.len)
                buf_put_u8(&out, ',');
            buf_put(&out, p, len);
        }
        p = e;
    }
    if (append) {
        const char *q = val;
        while (*q) {
            while (*q == ',' || *q == ' ')
                q++;
            if (!*q)
                break;
            const char *qe = q;
            while (*qe && *qe != ',')
                qe++;
            size_t len = (size_t)(qe - q);
            /* skip if already present */
            bool present = false;
            const char *c = cur ? cur : "";
            while (*c && !present) {
                while (*c == ',' || *c == ' ')
                    c++;
                const char *ce = c;
                while (*ce && *ce != ',')
                    ce++;
                present = (size_t)(ce - c) == len && !memcmp(c, q, len);
                c = ce;
            }
            if (!present) {
                if (out.len)
                    buf_put_u8(&out, ',');
                buf_put(&out, q, len);
            }
            q = qe;
        }
    }
    char *s = arena_strndup(a, (const char *)out.data, out.len);
    buf_free(&out);
    return s;
}

/* Validates and applies the ops of one resource. incremental: ops are
 * deltas; else the given set replaces every dynamic value of the resource. */

/* Kafka's DynamicConfig.Broker quota keys: alterable per broker but not in
 * the broker config table (DescribeConfigs does not list them). Sluice
 * does not replicate, so there is nothing to throttle; the values are only
 * recorded (ConfigRecords the image ignores). kafka-reassign-partitions
 * deletes them after every --verify that finds nothing in progress. */
static bool is_throttle_rate(const char *name) {
    return !strcmp(name, "leader.replication.throttled.rate") ||
           !strcmp(name, "follower.replication.throttled.rate") ||
           !strcmp(name, "replica.alter.log.dirs.io.max.bytes.per.second");
}

static int16_t check_throttle_rate(const alter_op *o, char *msg,
                                   size_t msglen) {
    if (o->op == 2 || o->op == 3) {
        snprintf(msg, msglen,
                 "Config value append is not allowed for config key: %s",
                 o->name);
        return KERR_INVALID_CONFIG;
    }
    if (o->op != 0)
        return KERR_NONE;
    char *end;
    errno = 0;
    long long v = o->value ? strtoll(o->value, &end, 10) : -1;
    if (!o->value || !*o->value || *end || errno || v < 0) {
        snprintf(msg, msglen, "Invalid value %s for configuration %s: %s",
                 o->value ? o->value : "null", o->name,
                 o->value && *o->value && !*end && !errno
                     ? "Value must be at least 0"
                     : "Not a number of type LONG");
        return KERR_INVALID_CONFIG;
    }
    return KERR_NONE;
}

static int16_t alter_resource(brk_req *req, int8_t type, proto_str rname,
                              alter_op *ops, int32_t nops, bool incremental,
                              bool validate_only, char *msg, size_t msglen) {
    brk_broker *brk = req->brk;
    for (int32_t i = 0; i < nops; i++)
        for (int32_t j = 0; j < i; j++)
            if (!strcmp(ops[i].name, ops[j].name)) {
                snprintf(msg, msglen, "Error due to duplicate config keys");
                return KERR_INVALID_REQUEST;
            }
    for (int32_t i = 0; i < nops; i++)
        if (ops[i].op < 0 || ops[i].op > 3) {
            snprintf(msg, msglen, "Unknown alter config operation %d",
                     ops[i].op);
            return KERR_INVALID_REQUEST;
        }
    buf *vals = arena_calloc(req->arena, (size_t)(nops + BRK_CFG_COUNT + 1),
                             sizeof(buf));
    int nv = 0;
    int16_t e = KERR_NONE;
    if (type == RES_TOPIC) {
        char *name = proto_str_dup(req->arena, rname);
        size_t nlen = rname.len > 0 ? (size_t)rname.len : 0;
        cl_topic *t = name ? cl_topic_find(brk->image, rname.p, nlen) : NULL;
        if (!t) {
            if (name && ctl_validate_topic_name(rname.p, nlen, msg, msglen))
                return KERR_INVALID_TOPIC_EXCEPTION;
            snprintf(msg, msglen, "The topic '%s' does not exist.",
                     name ? name : "");
            return KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
        for (int32_t i = 0; i < nops && !e; i++) {
            alter_op *o = &ops[i];
            int id = brk_config_find_topic(o->name);
            if (id < 0) {
                snprintf(msg, msglen, "Unknown topic config name: %s", o->name);
                e = KERR_INVALID_CONFIG;
                break;
            }
            if ((o->op == 2 || o->op == 3) &&
                brk_cfg_defs[id].type != CFG_LIST) {
                snprintf(
                    msg, msglen,
                    "Config value append is not allowed for config key: %s",
                    o->name);
                e = KERR_INVALID_CONFIG;
                break;
            }
            if (o->op == 2 || o->op == 3) {
                char tmp[32];
                const char *cur =
                    brk_topic_cfg_text(brk->cfg, t->configs, t->n_configs,
                                       (brk_cfg_id)id, NULL, tmp);
                o->value = list_edit(req->arena, cur, o->value ? o->value : "",
                                     o->op == 2);
                o->op = 0;
            }
            if (o->op == 0) {
                e = brk_validate_topic_config(o->name, o->value, msg, msglen);
                if (e)
                    break;
            }
        }
        if (e || validate_only)
            return e;
        if (!incremental) /* full replacement: drop overrides not given */
            for (size_t k = 0; k < t->n_configs; k++) {
                bool kept = false;
                for (int32_t i = 0; i < nops; i++)
                    kept |= !strcmp(ops[i].name, t->configs[k].name);
                if (!kept) {
                    buf_init(&vals[nv], 64);
                    ctl_config_record(&vals[nv++], RES_TOPIC, t->name,
                                      t->configs[k].name, NULL);
                }
            }
        for (int32_t i = 0; i < nops; i++) {
            buf_init(&vals[nv], 64);
            ctl_config_record(&vals[nv++], RES_TOPIC, t->name, ops[i].name,
                              ops[i].op == 1 ? NULL : ops[i].value);
        }
    } else if (type == RES_BROKER) {
        bool def_scope;
        e = check_broker_name(req, rname, &def_scope, msg, msglen);
        if (e)
            return e;
        for (int32_t i = 0; i < nops && !e; i++) {
            alter_op *o = &ops[i];
            int id = brk_config_find(o->name);
            if (id < 0 && is_throttle_rate(o->name)) {
                e = check_throttle_rate(o, msg, msglen);
                continue;
            }
            if (id < 0 || !(brk_cfg_defs[id].flags & CFG_F_DYNAMIC)) {
                snprintf(msg, msglen,
                         "Cannot update these configs dynamically: "
                         "Set(%s)",
                         o->name);
                e = KERR_INVALID_REQUEST;
                break;
            }
            if (o->op == 2 || o->op == 3) {
                if (brk_cfg_defs[id].type != CFG_LIST) {
                    snprintf(msg, msglen,
                             "Config value append is not allowed for config "
                             "key: %s",
                             o->name);
                    e = KERR_INVALID_CONFIG;
                    break;
                }
                o->value = list_edit(req->arena, brk->cfg->v[id].text,
                                     o->value ? o->value : "", o->op == 2);
                o->op = 0;
            }
            if (o->op == 0 &&
                brk_config_validate(id, o->value, msg, msglen) < 0) {
                e = KERR_INVALID_CONFIG;
                break;
            }
        }
        if (e || validate_only)
            return e;
        char nid[16];
        snprintf(nid, sizeof nid, "%d", brk->node_id);
        const char *res = def_scope ? "" : nid;
        if (!incremental)
            for (int i = 0; i < BRK_CFG_COUNT; i++) {
                char *cur = def_scope ? brk->cfg->dyn_default[i]
                                      : brk->cfg->dyn_broker[i];
                if (!cur)
                    continue;
                bool kept = false;
                for (int32_t k = 0; k < nops; k++)
                    kept |= !strcmp(ops[k].name, brk_cfg_defs[i].name);
                if (!kept) {
                    buf_init(&vals[nv], 64);
                    ctl_config_record(&vals[nv++], RES_BROKER, res,
                                      brk_cfg_defs[i].name, NULL);
                }
            }
        for (int32_t i = 0; i < nops; i++) {
            buf_init(&vals[nv], 64);
            ctl_config_record(&vals[nv++], RES_BROKER, res, ops[i].name,
                              ops[i].op == 1 ? NULL : ops[i].value);
        }
    } else if (type == RES_GROUP) {
        char *group = proto_str_dup(req->arena, rname);
        if (!group || !*group) {
            snprintf(msg, msglen, "Group name must not be empty");
            return KERR_INVALID_REQUEST;
        }
        for (int32_t i = 0; i < nops && !e; i++) {
            alter_op *o = &ops[i];
            int id = brk_config_find_group(o->name);
            if (id < 0) {
                snprintf(msg, msglen, "Unknown group config name: %s", o->name);
                e = KERR_INVALID_CONFIG;
                break;
            }
            if (o->op == 2 || o->op == 3) {
                snprintf(
                    msg, msglen,
                    "Config value append is not allowed for config key: %s",
                    o->name);
                e = KERR_INVALID_CONFIG;
                break;
            }
            if (o->op != 0)
                continue;
            if (brk_config_validate(id, o->value, msg, msglen) < 0) {
                e = KERR_INVALID_CONFIG;
                break;
            }
            /* the broker's bounds, as Kafka's GroupConfig validation */
            int64_t v = strtoll(o->value, NULL, 10);
            int lo = -1, hi = -1;
            if (id == BRK_GCFG_CONSUMER_SESSION_TIMEOUT_MS) {
                lo = BRK_CFG_GROUP_CONSUMER_MIN_SESSION_TIMEOUT_MS;
                hi = BRK_CFG_GROUP_CONSUMER_MAX_SESSION_TIMEOUT_MS;
            } else if (id == BRK_GCFG_CONSUMER_HEARTBEAT_INTERVAL_MS) {
                lo = BRK_CFG_GROUP_CONSUMER_MIN_HEARTBEAT_INTERVAL_MS;
                hi = BRK_CFG_GROUP_CONSUMER_MAX_HEARTBEAT_INTERVAL_MS;
            }
            if (lo >= 0 && (v < brk_cfg_i64(brk->cfg, (brk_cfg_id)lo) ||
                            v > brk_cfg_i64(brk->cfg, (brk_cfg_id)hi))) {
                snprintf(msg, msglen,
                         "%s must be greater than or equal to %s and "
                         "less than or equal to %s",
                         o->name, brk_cfg_defs[lo].name, brk_cfg_defs[hi].name);
                e = KERR_INVALID_CONFIG;
                break;
            }
        }
        if (e || validate_only)
            return e;
        if (!incremental) {
            brk_kv cur[32];
            size_t nc = cl_group_configs(brk->image, group, cur, 32);
            for (size_t k = 0; k < nc; k++) {
                bool kept = false;
                for (int32_t i = 0; i < nops; i++)
                    kept |= !strcmp(ops[i].name, cur[k].name);
                if (!kept) {
                    buf_init(&vals[nv], 64);
                    ctl_config_record(&vals[nv++], RES_GROUP, group,
                                      cur[k].name, NULL);
                }
            }
        }
        for (int32_t i = 0; i < nops; i++) {
            buf_init(&vals[nv], 64);
            ctl_config_record(&vals[nv++], RES_GROUP, group, ops[i].name,
                              ops[i].op == 1 ? NULL : ops[i].value);
        }
    } else {
        snprintf(msg, msglen, "Unsupported resource type %d", type);
        return KERR_INVALID_REQUEST;
    }
    e = ctl_commit(brk, vals, nv);
    for (int i = 0; i < nv; i++)
        buf_free(&vals[i]);
    return e;
}

/* One resource of an AlterConfigs or IncrementalAlterConfigs request, in
 * the shape alter_resource takes; the two APIs differ only in how the ops
 * are spelled (a null value deletes in the legacy API) and in whether
 * unnamed keys keep their value (incremental) or are reset (legacy). */
typedef struct {
    int8_t type;
    proto_str name;
    alter_op *ops;
    int32_t nops;
    int16_t error_code;      /* out */
    proto_str error_message; /* out */
} alter_res;

static bool dup_resource(const alter_res *res, int32_t n, int32_t i) {
    for (int32_t j = 0; j < n; j++)
        if (j != i && res[j].type == res[i].type &&
            res[j].name.len == res[i].name.len &&
            (res[i].name.len <= 0 ||
             !memcmp(res[j].name.p, res[i].name.p, (size_t)res[i].name.len)))
            return true;
    return false;
}

static void alter_all(brk_req *req, alter_res *res, int32_t n, bool incremental,
                      bool validate_only) {
    for (int32_t i = 0; i < n; i++) {
        char msg[512] = "";
        int16_t e;
        if (dup_resource(res, n, i)) {
            e = KERR_INVALID_REQUEST;
            snprintf(msg, sizeof msg, "Duplicate resource.");
        } else {
            e = alter_resource(req, res[i].type, res[i].name, res[i].ops,
                               res[i].nops, incremental, validate_only, msg,
                               sizeof msg);
        }
        res[i].error_code = e;
        res[i].error_message =
            e ? sdup(req, msg[0] ? msg : proto_error_message(e))
              : PROTO_STR_NULL;
    }
}

static alter_op *new_ops(brk_req *req, int32_t n) {
    return arena_calloc(req->arena, (size_t)(n > 0 ? n : 0), sizeof(alter_op));
}

static void set_op(brk_req *req, alter_op *op, proto_str name,
                   proto_str value) {
    op->name = proto_str_dup(req->arena, name);
    if (!op->name)
        op->name = "";
    op->value = brk_config_value_dup(req->arena, value);
}

brk_status brk_handle_alter_configs(brk_req *req) {
    proto_alter_configs_request rq;
    if (proto_alter_configs_request_decode(&req->body, req->arena,
                                           req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_alter_configs_response rs;
    proto_alter_configs_response_init(&rs);
    int32_t n = BRK_RESP_ARRAY(req, rs.responses, rq.resources.n);
    alter_res *res = arena_calloc(req->arena, (size_t)n, sizeof *res);
    for (int32_t i = 0; i < n; i++) {
        proto_alter_configs_request_alter_configs_resource *q =
            &rq.resources.v[i];
        res[i].type = q->resource_type;
        res[i].name = q->resource_name;
        res[i].nops = q->configs.n > 0 ? q->configs.n : 0;
        res[i].ops = new_ops(req, res[i].nops);
        for (int32_t k = 0; k < res[i].nops; k++) {
            set_op(req, &res[i].ops[k], q->configs.v[k].name,
                   q->configs.v[k].value);
            res[i].ops[k].op = res[i].ops[k].value ? 0 : 1; /* null: delete */
        }
    }
    alter_all(req, res, n, false, rq.validate_only);
    for (int32_t i = 0; i < n; i++) {
        proto_alter_configs_response_alter_configs_resource_response *r =
            &rs.responses.v[i];
        proto_alter_configs_response_alter_configs_resource_response_init(r);
        r->resource_type = res[i].type;
        r->resource_name = res[i].name;
        r->error_code = res[i].error_code;
        r->error_message = res[i].error_message;
    }
    proto_alter_configs_response_encode(brk_resp_buf(req), req->api_version,
                                        &rs);
    return BRK_DONE;
}

brk_status brk_handle_incremental_alter_configs(brk_req *req) {
    proto_incremental_alter_configs_request rq;
    if (proto_incremental_alter_configs_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_incremental_alter_configs_response rs;
    proto_incremental_alter_configs_response_init(&rs);
    int32_t n = BRK_RESP_ARRAY(req, rs.responses, rq.resources.n);
    alter_res *res = arena_calloc(req->arena, (size_t)n, sizeof *res);
    for (int32_t i = 0; i < n; i++) {
        proto_incremental_alter_configs_request_alter_configs_resource *q =
            &rq.resources.v[i];
        res[i].type = q->resource_type;
        res[i].name = q->resource_name;
        res[i].nops = q->configs.n > 0 ? q->configs.n : 0;
        res[i].ops = new_ops(req, res[i].nops);
        for (int32_t k = 0; k < res[i].nops; k++) {
            set_op(req, &res[i].ops[k], q->configs.v[k].name,
                   q->configs.v[k].value);
            res[i].ops[k].op = q->configs.v[k].config_operation;
        }
    }
    alter_all(req, res, n, true, rq.validate_only);
    for (int32_t i = 0; i < n; i++) {
        proto_incremental_alter_configs_response_alter_configs_resource_response
            *r = &rs.responses.v[i];
        proto_incremental_alter_configs_response_alter_configs_resource_response_init(
            r);
        r->resource_type = res[i].type;
        r->resource_name = res[i].name;
        r->error_code = res[i].error_code;
        r->error_message = res[i].error_message;
    }
    proto_incremental_alter_configs_response_encode(brk_resp_buf(req),
                                                    req->api_version, &rs);
    return BRK_DONE;
}
