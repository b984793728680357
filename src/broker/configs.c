/*
 * configs.c - DescribeConfigs (32), AlterConfigs (33) and
 * IncrementalAlterConfigs (44) for TOPIC and BROKER resources. Values,
 * sources and synonyms come from the config table (config.def); changes are
 * ConfigRecords committed by the controller (so they survive restarts).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "core/list.h"
#include "core/log.h"
#include "core/util.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"

#define RES_TOPIC 2
#define RES_BROKER 4
#define RES_BROKER_LOGGER 8
#define RES_GROUP 32
#define RES_CLIENT_METRICS 16

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

static bool
wanted(const proto_describe_configs_request_describe_configs_resource *q,
       const char *name);

/* A client-metrics subscription (ConfigHelper.createClientMetricsConfigEntry):
 * every key, its own value or the default, a synonym only when set. */
static void describe_client_metrics(
    brk_req *req, const char *name,
    const proto_describe_configs_request_describe_configs_resource *q, bool syn,
    bool doc, proto_describe_configs_response_describe_configs_result *r) {
    brk_kv ov[8];
    size_t n =
        cl_resource_configs(req->brk->image, RES_CLIENT_METRICS, name, ov, 8);
    r->configs.v = arena_calloc(req->arena, 8, sizeof *r->configs.v);
    for (int i = 0; i < BRK_CFG_COUNT; i++) {
        const brk_cfg_def *d = &brk_cfg_defs[i];
        if (!(d->flags & CFG_F_CLIENT_METRICS) || !wanted(q, d->name))
            continue;
        const char *v = d->def;
        bool set = false;
        for (size_t k = 0; k < n; k++)
            if (!strcmp(ov[k].name, d->name)) {
                v = ov[k].value;
                set = true;
            }
        dc_entry *c = &r->configs.v[r->configs.n++];
        proto_describe_configs_response_describe_configs_resource_result_init(
            c);
        c->name = proto_str_c(d->name);
        c->value = sdup(req, v);
        c->read_only = false;
        c->is_default = !set;
        c->config_source = set ? CFG_SRC_CLIENT_METRICS : CFG_SRC_DEFAULT;
        c->config_type = config_type(d->type);
        c->documentation = doc ? proto_str_c(d->doc) : PROTO_STR_NULL;
        c->synonyms.n = 0;
        if (syn && set) {
            c->synonyms.v = arena_calloc(req->arena, 1, sizeof *c->synonyms.v);
            c->synonyms.v[c->synonyms.n++] =
                (dc_syn){.name = proto_str_c(d->name),
                         .value = sdup(req, v),
                         .source = CFG_SRC_CLIENT_METRICS};
        }
    }
}

/* Kafka's DynamicBrokerConfig.brokerConfigSynonyms: the keys that
 * stand for the same setting in other units, primary first. */
static int broker_synonym_ids(int id, int *out) {
    static const int groups[][4] = {
        {BRK_CFG_LOG_ROLL_MS, BRK_CFG_LOG_ROLL_HOURS, -1, -1},
        {BRK_CFG_LOG_ROLL_JITTER_MS, BRK_CFG_LOG_ROLL_JITTER_HOURS, -1, -1},
        {BRK_CFG_LOG_RETENTION_MS, BRK_CFG_LOG_RETENTION_MINUTES,
         BRK_CFG_LOG_RETENTION_HOURS, -1},
    };
    for (size_t g = 0; g < SL_ARRAY_LEN(groups); g++)
        for (int k = 0; k < 4 && groups[g][k] >= 0; k++)
            if (groups[g][k] == id) {
                int n = 0;
                for (int j = 0; j < 4 && groups[g][j] >= 0; j++)
                    out[n++] = groups[g][j];
                return n;
            }
    /* only log.flush.interval.ms has log.flush.scheduler.interval.ms as
     * its synonym, not the other way round */
    if (id == BRK_CFG_LOG_FLUSH_INTERVAL_MS) {
        out[0] = id;
        out[1] = BRK_CFG_LOG_FLUSH_SCHEDULER_INTERVAL_MS;
        return 2;
    }
    out[0] = id;
    return 1;
}

/* Synonyms of one broker key as Kafka's ConfigHelper.configSynonyms lists
 * them: levels outer (dynamic broker, dynamic default, static, default),
 * synonym keys inner, everything before the key itself dropped. */
static void add_broker_synonyms(brk_req *req, const brk_config *cfg, int id,
                                dc_syn *out, int32_t *n) {
    int ids[4];
    int nids = broker_synonym_ids(id, ids);
    bool started = false;
    for (int level = 0; level < 4; level++)
        for (int k = 0; k < nids; k++) {
            int b = ids[k];
            const char *v = level == 0   ? cfg->dyn_broker[b]
                            : level == 1 ? cfg->dyn_default[b]
                            : level == 2 ? cfg->static_text[b]
                            : (brk_cfg_defs[b].flags & CFG_F_REQUIRED)
                                ? NULL
                                : brk_cfg_defs[b].def;
            if (!v || (!started && b != id))
                continue;
            started = true;
            out[(*n)++] =
                (dc_syn){.name = proto_str_c(brk_cfg_defs[b].name),
                         .value = sdup(req, v),
                         .source = level == 0   ? CFG_SRC_DYNAMIC_BROKER
                                   : level == 1 ? CFG_SRC_DYNAMIC_DEFAULT_BROKER
                                   : level == 2 ? CFG_SRC_STATIC_BROKER
                                                : CFG_SRC_DEFAULT};
        }
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
        if (!(d->flags & CFG_F_TOPIC) || (d->flags & CFG_F_INTERNAL) ||
            !wanted(q, d->name))
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
        /* Kafka describes KafkaConfig's non-internal keys only */
        if ((d->flags & (CFG_F_NOT_BROKER | CFG_F_INTERNAL | CFG_F_QUOTA |
                         CFG_F_PLUGIN)) ||
            !wanted(q, d->name))
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
            c->synonyms.v = arena_calloc(req->arena, 16, sizeof *c->synonyms.v);
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

/* Dynamic broker keys KafkaConfig does not define: Kafka describes them
 * with no value, as sensitive, read-only and of unknown type, at the
 * levels where they are set (per broker first, then the default). */
static void describe_unknown_broker_keys(
    brk_req *req, bool default_scope,
    const proto_describe_configs_request_describe_configs_resource *q, bool syn,
    proto_describe_configs_response_describe_configs_result *r) {
    char nid[16];
    snprintf(nid, sizeof nid, "%d", req->brk->node_id);
    brk_kv mine[64], dflt[64];
    size_t nm = default_scope ? 0
                              : cl_resource_configs(req->brk->image, RES_BROKER,
                                                    nid, mine, 64);
    size_t nd = cl_resource_configs(req->brk->image, RES_BROKER, "", dflt, 64);
    if (!nm && !nd)
        return;
    dc_entry *v =
        arena_calloc(req->arena, (size_t)r->configs.n + nm + nd, sizeof *v);
    memcpy(v, r->configs.v, (size_t)r->configs.n * sizeof *v);
    r->configs.v = v;
    for (size_t i = 0; i < nm + nd; i++) {
        const char *name = i < nm ? mine[i].name : dflt[i - nm].name;
        bool dup = false;
        for (size_t k = 0; k < nm && i >= nm; k++)
            dup |= !strcmp(mine[k].name, name);
        if (dup || !wanted(q, name))
            continue;
        bool at_default = i >= nm;
        for (size_t k = 0; k < nd && !at_default; k++)
            at_default = !strcmp(dflt[k].name, name);
        dc_entry *c = &r->configs.v[r->configs.n++];
        proto_describe_configs_response_describe_configs_resource_result_init(
            c);
        c->name = proto_str_c(name);
        c->value = PROTO_STR_NULL;
        c->read_only = true;
        c->is_sensitive = true;
        c->config_source =
            i < nm ? CFG_SRC_DYNAMIC_BROKER : CFG_SRC_DYNAMIC_DEFAULT_BROKER;
        c->config_type = 0;
        c->documentation = PROTO_STR_NULL;
        c->synonyms.n = 0;
        if (!syn)
            continue;
        c->synonyms.v = arena_calloc(req->arena, 2, sizeof *c->synonyms.v);
        if (i < nm)
            c->synonyms.v[c->synonyms.n++] =
                (dc_syn){.name = proto_str_c(name),
                         .value = PROTO_STR_NULL,
                         .source = CFG_SRC_DYNAMIC_BROKER};
        if (at_default)
            c->synonyms.v[c->synonyms.n++] =
                (dc_syn){.name = proto_str_c(name),
                         .value = PROTO_STR_NULL,
                         .source = CFG_SRC_DYNAMIC_DEFAULT_BROKER};
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
        if (!syn)
            continue;
        /* Kafka's createGroupConfigEntry: the group's own value, then the
         * broker synonym at every level where it is set, or else the
         * group config's own default */
        c->synonyms.v = arena_calloc(req->arena, 8, sizeof *c->synonyms.v);
        if (src == CFG_SRC_GROUP)
            c->synonyms.v[c->synonyms.n++] =
                (dc_syn){.name = proto_str_c(d->name),
                         .value = sdup(req, v),
                         .source = CFG_SRC_GROUP};
        brk_cfg_syn syns[6];
        int ns = brk_topic_cfg_synonyms(cfg, (brk_cfg_id)i, syns, 6);
        for (int k = 0; k < ns; k++)
            c->synonyms.v[c->synonyms.n++] =
                (dc_syn){.name = proto_str_c(syns[k].name),
                         .value = sdup(req, syns[k].value),
                         .source = (int8_t)syns[k].src};
        if (!d->synonyms && d->def)
            c->synonyms.v[c->synonyms.n++] =
                (dc_syn){.name = proto_str_c(d->name),
                         .value = proto_str_c(d->def),
                         .source = CFG_SRC_DEFAULT};
    }
}

/* Checks a BROKER resource name: our node id or "" (cluster default).
 * DescribeConfigs (ConfigHelper) and the alter APIs (ConfigAdminManager)
 * word their errors differently. */
static int16_t check_broker_name(brk_req *req, proto_str name, bool *def_scope,
                                 bool alter, char *msg, size_t msglen) {
    *def_scope = name.len <= 0;
    if (*def_scope)
        return KERR_NONE;
    int nl = (int)(name.len > 64 ? 64 : name.len);
    char *end;
    char tmp[72];
    snprintf(tmp, sizeof tmp, "%.*s", nl, name.p);
    errno = 0;
    long v = strtol(tmp, &end, 10);
    if (*end || errno || !*tmp || v < INT32_MIN || v > INT32_MAX) {
        snprintf(msg, msglen, "%s id must be an integer, but it is: %s",
                 alter ? "Node" : "Broker", tmp);
        return KERR_INVALID_REQUEST;
    }
    /* An alter forwarded by the broker it names (in an Envelope: that
     * broker checked the id, Kafka's ConfigAdminManager.preprocess) is the
     * controller's to write, whatever its own id. */
    if (v != req->brk->node_id && !(alter && req->parent_)) {
        snprintf(msg, msglen,
                 "Unexpected broker id, expected %d%s, but received %s",
                 req->brk->node_id, alter ? "" : " or empty string", tmp);
        return KERR_INVALID_REQUEST;
    }
    return KERR_NONE;
}

/* Kafka's Topic.validate wording ("Topic name is invalid: ..."), which
 * DescribeConfigs uses; CreateTopics words it differently. */
static bool describe_topic_name_invalid(proto_str n, char *msg, size_t msglen) {
    if (!ctl_validate_topic_name(n.p, (size_t)n.len, msg, msglen))
        return false;
    size_t len = (size_t)n.len;
    int shown = (int)(len > 300 ? 300 : len);
    if (len == 0)
        snprintf(msg, msglen,
                 "Topic name is invalid: the empty string is not allowed");
    else if (len == 1 && n.p[0] == '.')
        snprintf(msg, msglen, "Topic name is invalid: '.' is not allowed");
    else if (len == 2 && !memcmp(n.p, "..", 2))
        snprintf(msg, msglen, "Topic name is invalid: '..' is not allowed");
    else if (len > 249)
        snprintf(msg, msglen,
                 "Topic name is invalid: the length of '%.*s' is longer than "
                 "the max allowed length 249",
                 shown, n.p);
    else
        snprintf(msg, msglen,
                 "Topic name is invalid: '%.*s' contains one or more "
                 "characters other than ASCII alphanumerics, '.', '_' and '-'",
                 shown, n.p);
    return true;
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
        r->error_message = proto_str_c(""); /* Kafka's non-null default */
        char msg[512] = "";
        int16_t e = KERR_NONE;
        if (q->resource_type == RES_TOPIC) {
            cl_topic *t = NULL;
            if (q->resource_name.len >= 0 &&
                describe_topic_name_invalid(q->resource_name, msg, sizeof msg))
                e = KERR_INVALID_TOPIC_EXCEPTION;
            else if (!(t = q->resource_name.len >= 0
                               ? cl_topic_find(brk->image, q->resource_name.p,
                                               (size_t)q->resource_name.len)
                               : NULL)) {
                e = KERR_UNKNOWN_TOPIC_OR_PARTITION; /* Kafka: no message */
                msg[0] = 0;
                r->error_message = proto_str_c("");
            } else
                describe_topic(req, t, q, syn, doc, r);
        } else if (q->resource_type == RES_BROKER) {
            bool def_scope;
            e = check_broker_name(req, q->resource_name, &def_scope, false, msg,
                                  sizeof msg);
            if (!e) {
                describe_broker(req, def_scope, q, syn, doc, r);
                describe_unknown_broker_keys(req, def_scope, q, syn, r);
            }
        } else if (q->resource_type == RES_BROKER_LOGGER) {
            bool def_scope;
            e = check_broker_name(req, q->resource_name, &def_scope, false, msg,
                                  sizeof msg);
            if (def_scope) {
                e = KERR_INVALID_REQUEST;
                snprintf(msg, sizeof msg, "Broker id must not be empty");
            } else if (e)
                snprintf(msg, sizeof msg,
                         "Unexpected broker id, expected %d but received %.*s",
                         brk->node_id, (int)q->resource_name.len,
                         q->resource_name.p);
            r->configs.n = 0; /* no per-logger levels */
        } else if (q->resource_type == RES_GROUP) {
            char *g = proto_str_dup(req->arena, q->resource_name);
            if (!g || !*g) {
                e = KERR_INVALID_REQUEST;
                snprintf(msg, sizeof msg, "Group name must not be empty");
            } else
                describe_group(req, g, q, syn, doc, r);
        } else if (q->resource_type == RES_CLIENT_METRICS) {
            char *m = proto_str_dup(req->arena, q->resource_name);
            if (!m || !*m) {
                e = KERR_INVALID_REQUEST;
                snprintf(msg, sizeof msg,
                         "Client metrics subscription name must not be empty");
            } else
                describe_client_metrics(req, m, q, syn, doc, r);
        } else {
            e = KERR_INVALID_REQUEST; /* Kafka fails the request: default
                                         message */
        }
        r->error_code = e;
        if (e) {
            if (e != KERR_UNKNOWN_TOPIC_OR_PARTITION)
                r->error_message =
                    sdup(req, msg[0] ? msg : proto_error_message(e));
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

/* Appends name to a Kafka "[a, b]" key-set message. */
static void set_add(char *set, size_t n, const char *name) {
    size_t l = strlen(set);
    snprintf(set + l, n - l, "%s%s", l ? ", " : "", name);
}

/* Kafka's checks of a BROKER alter (ConfigAdminManager.preprocess and
 * DynamicBrokerConfig.validateConfigs), in Kafka's order: APPEND/SUBTRACT
 * only on lists; no read-only key; no bare SSL key (only per listener);
 * each value parses and is in range; per-broker keys not at the cluster
 * default. Keys Kafka does not know are accepted and stored, as Kafka
 * does. APPEND/SUBTRACT are turned into SET of the edited list. */
/* A broker key KafkaConfig defines (plugin keys are Kafka-unknown). */
static int kafka_broker_key(const char *name) {
    int id = brk_config_find(name);
    return id >= 0 && !(brk_cfg_defs[id].flags & CFG_F_PLUGIN) ? id : -1;
}

static int16_t check_broker_ops(brk_req *req, alter_op *ops, int32_t nops,
                                bool def_scope, char *msg, size_t msglen) {
    brk_broker *brk = req->brk;
    for (int32_t i = 0; i < nops; i++) {
        alter_op *o = &ops[i];
        int id = kafka_broker_key(o->name);
        if (o->op != 2 && o->op != 3)
            continue;
        if (id < 0 || brk_cfg_defs[id].type != CFG_LIST) {
            snprintf(msg, msglen,
                     "Config value append is not allowed for config key: %s",
                     o->name);
            return KERR_INVALID_CONFIG;
        }
        o->value = list_edit(req->arena, brk->cfg->v[id].text,
                             o->value ? o->value : "", o->op == 2);
        o->op = 0;
    }
    char set[384] = "";
    for (int32_t i = 0; i < nops; i++) {
        int id = kafka_broker_key(ops[i].name);
        if (ops[i].op == 0 && id >= 0 &&
            !(brk_cfg_defs[id].flags & CFG_F_DYNAMIC))
            set_add(set, sizeof set, ops[i].name);
    }
    if (set[0]) {
        snprintf(msg, msglen, "Cannot update these configs dynamically: [%s]",
                 set);
        return KERR_INVALID_REQUEST;
    }
    for (int32_t i = 0; i < nops; i++)
        if (ops[i].op == 0 && !strncmp(ops[i].name, "ssl.", 4) &&
            kafka_broker_key(ops[i].name) >= 0 &&
            (brk_cfg_defs[kafka_broker_key(ops[i].name)].flags &
             CFG_F_PER_BROKER))
            set_add(set, sizeof set, ops[i].name);
    if (set[0]) {
        snprintf(msg, msglen,
                 "These security configs can be dynamically updated only "
                 "per-listener using the listener prefix: [%s]",
                 set);
        return KERR_INVALID_REQUEST;
    }
    for (int32_t i = 0; i < nops; i++) {
        int id = kafka_broker_key(ops[i].name);
        if (ops[i].op == 0 && id >= 0 &&
            brk_config_validate(id, ops[i].value, msg, msglen) < 0)
            return KERR_INVALID_REQUEST;
    }
    for (int32_t i = 0; i < nops; i++) {
        int id = kafka_broker_key(ops[i].name);
        if (def_scope && ops[i].op == 0 && id >= 0 &&
            (brk_cfg_defs[id].flags & CFG_F_PER_BROKER) &&
            !(brk_cfg_defs[id].flags & CFG_F_QUOTA))
            set_add(set, sizeof set, ops[i].name);
    }
    if (set[0]) {
        snprintf(msg, msglen,
                 "Cannot update these configs at default cluster level, "
                 "broker id must be specified: [%s]",
                 set);
        return KERR_INVALID_REQUEST;
    }
    return KERR_NONE;
}

/* ClientMetricsConfigs.validate as Kafka's controller applies it: a name,
 * known keys, values of the keys' types, a push interval of 100 ms..1 h,
 * match patterns "<selector>=<regex>" over the six client selectors. */
static int16_t check_client_metrics(const char *sub, alter_op *ops,
                                    int32_t nops, char *msg, size_t msglen) {
    if (!sub || !*sub) {
        snprintf(msg, msglen, "Subscription name can't be empty");
        return KERR_INVALID_REQUEST;
    }
    for (int32_t i = 0; i < nops; i++) {
        alter_op *o = &ops[i];
        int id = brk_config_find_client_metrics(o->name);
        if (id < 0) {
            snprintf(msg, msglen, "Unknown client metrics configuration: %s",
                     o->name);
            return KERR_INVALID_REQUEST;
        }
        /* Kafka's controller knows no client-metrics config types, so
         * it refuses APPEND/SUBTRACT even on the list keys */
        if (o->op == 2 || o->op == 3) {
            snprintf(msg, msglen,
                     "Can't %s to key %s because its type is not LIST.",
                     o->op == 2 ? "APPEND" : "SUBTRACT", o->name);
            return KERR_INVALID_CONFIG;
        }
        if (o->op != 0)
            continue;
        if (brk_config_validate(id, o->value, msg, msglen) < 0)
            return KERR_INVALID_CONFIG;
        if (id == BRK_MCFG_INTERVAL_MS) {
            long v = strtol(o->value, NULL, 10);
            if (v < 100 || v > 3600000) {
                snprintf(msg, msglen,
                         "Invalid value %ld for interval.ms, interval must be "
                         "between 100 and 3600000 (1 hour)",
                         v);
                return KERR_INVALID_REQUEST;
            }
        }
        if (id == BRK_MCFG_MATCH && *o->value) {
            static const char *const sel[] = {
                "client_instance_id",    "client_id",
                "client_software_name",  "client_software_version",
                "client_source_address", "client_source_port"};
            const char *p = o->value;
            for (;;) {
                const char *e = strchr(p, ',');
                size_t len = e ? (size_t)(e - p) : strlen(p);
                char pat[512];
                snprintf(pat, sizeof pat, "%.*s", (int)len, p);
                char *s0 = pat;
                while (*s0 == ' ')
                    s0++;
                char *eq = strchr(s0, '=');
                bool ok = eq && eq != s0 && !strchr(eq + 1, '=') && eq[1];
                if (ok) {
                    *eq = 0;
                    char *ke = eq;
                    while (ke > s0 && ke[-1] == ' ')
                        *--ke = 0;
                    ok = false;
                    for (size_t k = 0; k < SL_ARRAY_LEN(sel); k++)
                        ok |= !strcmp(s0, sel[k]);
                    *eq = '=';
                }
                if (!ok) {
                    snprintf(msg, msglen,
                             "Illegal client matching pattern: %.400s", s0);
                    return KERR_INVALID_CONFIG;
                }
                if (!e)
                    break;
                p = e + 1;
            }
        }
    }
    return KERR_NONE;
}

/* ShareGroupAutoOffsetResetStrategy: earliest, latest or
 * by_duration:<ISO-8601 duration, not negative> (case-insensitive). */
static bool share_offset_reset_ok(const char *v) {
    if (!strcasecmp(v, "earliest") || !strcasecmp(v, "latest"))
        return true;
    if (strncasecmp(v, "by_duration:", 12))
        return false;
    const char *p = v + 12;
    if (*p != 'P' && *p != 'p')
        return false;
    bool digit = false;
    for (p++; *p; p++) {
        if (isdigit((unsigned char)*p))
            digit = true;
        else if (!strchr(".DTHMSdthms", *p))
            return false;
    }
    return digit;
}

/* Kafka's GroupConfig.validateValues on the group's configs after the
 * change (its overrides, else the broker's values): each key within the
 * broker's min/max keys, in Kafka's order (the assignment intervals only
 * when the group sets them), then every session timeout above its
 * heartbeat interval. */
static int16_t group_validate_values(brk_broker *brk, const char *group,
                                     const alter_op *ops, int32_t nops,
                                     bool incremental, char *msg,
                                     size_t msglen) {
    brk_kv ov[48];
    size_t n = incremental ? cl_group_configs(brk->image, group, ov, 32) : 0;
    for (int32_t i = 0; i < nops; i++) {
        size_t k;
        for (k = 0; k < n && strcmp(ov[k].name, ops[i].name); k++)
            ;
        if (ops[i].op == 1) {
            if (k < n)
                ov[k] = ov[--n];
        } else if (k < n)
            ov[k].value = ops[i].value;
        else if (n < SL_ARRAY_LEN(ov))
            ov[n++] = (brk_kv){ops[i].name, ops[i].value};
    }
    static const struct {
        const char *key, *min, *max;
        bool only_if_set;
    } bounds[] = {
        {"consumer.heartbeat.interval.ms",
         "group.consumer.min.heartbeat.interval.ms",
         "group.consumer.max.heartbeat.interval.ms", false},
        {"consumer.session.timeout.ms", "group.consumer.min.session.timeout.ms",
         "group.consumer.max.session.timeout.ms", false},
        {"consumer.assignment.interval.ms",
         "group.consumer.min.assignment.interval.ms",
         "group.consumer.max.assignment.interval.ms", true},
        {"share.heartbeat.interval.ms", "group.share.min.heartbeat.interval.ms",
         "group.share.max.heartbeat.interval.ms", false},
        {"share.session.timeout.ms", "group.share.min.session.timeout.ms",
         "group.share.max.session.timeout.ms", false},
        {"share.record.lock.duration.ms",
         "group.share.min.record.lock.duration.ms",
         "group.share.max.record.lock.duration.ms", false},
        {"share.delivery.count.limit", "group.share.min.delivery.count.limit",
         "group.share.max.delivery.count.limit", false},
        {"share.partition.max.record.locks",
         "group.share.min.partition.max.record.locks",
         "group.share.max.partition.max.record.locks", false},
        {"share.assignment.interval.ms",
         "group.share.min.assignment.interval.ms",
         "group.share.max.assignment.interval.ms", true},
        {"streams.heartbeat.interval.ms",
         "group.streams.min.heartbeat.interval.ms",
         "group.streams.max.heartbeat.interval.ms", false},
        {"streams.session.timeout.ms", "group.streams.min.session.timeout.ms",
         "group.streams.max.session.timeout.ms", false},
        {"streams.num.standby.replicas", NULL,
         "group.streams.max.standby.replicas", false},
        {"streams.assignment.interval.ms",
         "group.streams.min.assignment.interval.ms",
         "group.streams.max.assignment.interval.ms", true},
    };
    static const char *const pairs[][2] = {
        {"consumer.session.timeout.ms", "consumer.heartbeat.interval.ms"},
        {"share.session.timeout.ms", "share.heartbeat.interval.ms"},
        {"streams.session.timeout.ms", "streams.heartbeat.interval.ms"},
    };
    char tmp[32];
    for (size_t b = 0; b < SL_ARRAY_LEN(bounds); b++) {
        int id = brk_config_find_group(bounds[b].key);
        if (id < 0)
            continue;
        bool set = false;
        for (size_t k = 0; k < n; k++)
            set |= !strcmp(ov[k].name, bounds[b].key);
        if (bounds[b].only_if_set && !set)
            continue;
        const char *t =
            brk_topic_cfg_text(brk->cfg, ov, n, (brk_cfg_id)id, NULL, tmp);
        int64_t v = t ? strtoll(t, NULL, 10) : 0;
        int lo = bounds[b].min ? brk_config_find(bounds[b].min) : -1;
        int hi = brk_config_find(bounds[b].max);
        if (lo >= 0 && v < brk_cfg_i64(brk->cfg, (brk_cfg_id)lo)) {
            snprintf(msg, msglen, "%s must be greater than or equal to %s",
                     bounds[b].key, bounds[b].min);
            return KERR_INVALID_CONFIG;
        }
        if (hi >= 0 && v > brk_cfg_i64(brk->cfg, (brk_cfg_id)hi)) {
            snprintf(msg, msglen, "%s must be less than or equal to %s",
                     bounds[b].key, bounds[b].max);
            return KERR_INVALID_CONFIG;
        }
    }
    for (size_t p = 0; p < SL_ARRAY_LEN(pairs); p++) {
        int s = brk_config_find_group(pairs[p][0]);
        int h = brk_config_find_group(pairs[p][1]);
        if (s < 0 || h < 0)
            continue;
        const char *ts =
            brk_topic_cfg_text(brk->cfg, ov, n, (brk_cfg_id)s, NULL, tmp);
        int64_t sv = ts ? strtoll(ts, NULL, 10) : 0;
        const char *th =
            brk_topic_cfg_text(brk->cfg, ov, n, (brk_cfg_id)h, NULL, tmp);
        int64_t hv = th ? strtoll(th, NULL, 10) : 0;
        if (sv <= hv) {
            snprintf(msg, msglen, "%s must be greater than %s", pairs[p][0],
                     pairs[p][1]);
            return KERR_INVALID_CONFIG;
        }
    }
    return KERR_NONE;
}

/* LogConfig checks beyond type and range: the throttled-replica lists
 * (ThrottledReplicaListValidator: "*" alone or partition:broker pairs)
 * and remote storage, which needs remote.log.storage.system.enable. */
static int16_t topic_value_check(const brk_config *cfg, int id, const char *v,
                                 char *msg, size_t msglen) {
    if (id == BRK_TCFG_LEADER_REPLICATION_THROTTLED_REPLICAS ||
        id == BRK_TCFG_FOLLOWER_REPLICATION_THROTTLED_REPLICAS) {
        char list[160] = "";
        bool ok = true, star = false;
        int items = 0;
        list_iter it = list_start(v, true);
        const char *p;
        size_t n;
        while (list_next(&it, &p, &n)) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%.*s", l ? ", " : "", (int)n,
                     p);
            items++;
            if (n == 1 && *p == '*')
                star = true;
            else {
                size_t k = 0, d1 = 0, d2 = 0;
                while (k < n && isdigit((unsigned char)p[k]))
                    k++, d1++;
                bool colon = k < n && p[k] == ':';
                if (colon)
                    k++;
                while (k < n && isdigit((unsigned char)p[k]))
                    k++, d2++;
                ok &= colon && d1 && d2 && k == n;
            }
        }
        if (!ok || (star && items > 1)) {
            const char *name = brk_cfg_defs[id].name;
            snprintf(msg, msglen,
                     "Invalid value [%s] for configuration %s: %s must be the "
                     "literal '*' or a list of replicas in the following "
                     "format: [partitionId]:[brokerId],[partitionId]:"
                     "[brokerId],...",
                     list, name, name);
            return KERR_INVALID_CONFIG;
        }
    }
    if (id == BRK_TCFG_REMOTE_STORAGE_ENABLE && !strcasecmp(v, "true") &&
        !brk_cfg_bool(cfg, BRK_CFG_REMOTE_LOG_STORAGE_SYSTEM_ENABLE)) {
        snprintf(msg, msglen,
                 "Tiered Storage functionality is disabled in the broker. "
                 "Topic cannot be configured with remote log storage.");
        return KERR_INVALID_CONFIG;
    }
    return KERR_NONE;
}

/* The steps of alter_resource, one per resource type: validate the ops
 * (APPEND/SUBTRACT resolved against the current value) and append the
 * ConfigRecords to vals[*nv...] (unless validate_only). A Kafka error with
 * msg, or KERR_NONE. */
static int16_t topic_records(brk_req *req, proto_str rname, alter_op *ops,
                             int32_t nops, bool incremental, bool validate_only,
                             buf *vals, int *nv, char *msg, size_t msglen) {
    brk_broker *brk = req->brk;
    int16_t e = KERR_NONE;
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
        if ((o->op == 2 || o->op == 3) && brk_cfg_defs[id].type != CFG_LIST) {
            snprintf(msg, msglen,
                     "Can't %s to key %s because its type is not LIST.",
                     o->op == 2 ? "APPEND" : "SUBTRACT", o->name);
            e = KERR_INVALID_CONFIG;
            break;
        }
        if (o->op == 2 || o->op == 3) {
            char tmp[32];
            const char *cur = brk_topic_cfg_text(
                brk->cfg, t->configs, t->n_configs, (brk_cfg_id)id, NULL, tmp);
            o->value = list_edit(req->arena, cur, o->value ? o->value : "",
                                 o->op == 2);
            o->op = 0;
        }
        if (o->op == 0) {
            e = brk_validate_topic_config(o->name, o->value, msg, msglen);
            if (e)
                break;
            e = topic_value_check(brk->cfg, id, o->value, msg, msglen);
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
                buf_init(&vals[*nv], 64);
                ctl_rec_config(&vals[(*nv)++], RES_TOPIC, t->name,
                               t->configs[k].name, NULL);
            }
        }
    for (int32_t i = 0; i < nops; i++) {
        buf_init(&vals[*nv], 64);
        ctl_rec_config(&vals[(*nv)++], RES_TOPIC, t->name, ops[i].name,
                       ops[i].op == 1 ? NULL : ops[i].value);
    }
    return KERR_NONE;
}

static int16_t broker_records(brk_req *req, proto_str rname, alter_op *ops,
                              int32_t nops, bool incremental,
                              bool validate_only, buf *vals, int *nv, char *msg,
                              size_t msglen) {
    brk_broker *brk = req->brk;
    int16_t e = KERR_NONE;
    bool def_scope;
    e = check_broker_name(req, rname, &def_scope, true, msg, msglen);
    if (e)
        return e;
    e = check_broker_ops(req, ops, nops, def_scope, msg, msglen);
    if (e || validate_only)
        return e;
    /* the broker named (this one, or the sender of a forwarded alter) */
    char nid[72];
    snprintf(nid, sizeof nid, "%.*s", (int)(rname.len > 64 ? 64 : rname.len),
             rname.p ? rname.p : "");
    const char *res = def_scope ? "" : nid;
    if (!incremental)
        for (int i = 0; i < BRK_CFG_COUNT; i++) {
            char *cur =
                def_scope ? brk->cfg->dyn_default[i] : brk->cfg->dyn_broker[i];
            if (!cur)
                continue;
            bool kept = false;
            for (int32_t k = 0; k < nops; k++)
                kept |= !strcmp(ops[k].name, brk_cfg_defs[i].name);
            if (!kept) {
                buf_init(&vals[*nv], 64);
                ctl_rec_config(&vals[(*nv)++], RES_BROKER, res,
                               brk_cfg_defs[i].name, NULL);
            }
        }
    if (!incremental) { /* and the keys KafkaConfig does not define */
        brk_kv unk[64];
        size_t nu = cl_resource_configs(brk->image, RES_BROKER, res, unk, 64);
        for (size_t u = 0; u < nu; u++) {
            bool kept = false;
            for (int32_t k = 0; k < nops; k++)
                kept |= !strcmp(ops[k].name, unk[u].name);
            if (!kept) {
                buf_init(&vals[*nv], 64);
                ctl_rec_config(&vals[(*nv)++], RES_BROKER, res, unk[u].name,
                               NULL);
            }
        }
    }
    for (int32_t i = 0; i < nops; i++) {
        buf_init(&vals[*nv], 64);
        ctl_rec_config(&vals[(*nv)++], RES_BROKER, res, ops[i].name,
                       ops[i].op == 1 ? NULL : ops[i].value);
    }
    return KERR_NONE;
}

static int16_t group_records(brk_req *req, proto_str rname, alter_op *ops,
                             int32_t nops, bool incremental, bool validate_only,
                             buf *vals, int *nv, char *msg, size_t msglen) {
    brk_broker *brk = req->brk;
    int16_t e = KERR_NONE;
    char *group = proto_str_dup(req->arena, rname);
    if (!group || !*group) {
        snprintf(msg, msglen, "Default group resources are not allowed.");
        return KERR_INVALID_REQUEST;
    }
    for (int32_t i = 0; i < nops && !e; i++) {
        alter_op *o = &ops[i];
        int id = brk_config_find_group(o->name);
        if (o->op == 2 || o->op == 3) {
            snprintf(msg, msglen,
                     "Can't %s to key %s because its type is not LIST.",
                     o->op == 2 ? "APPEND" : "SUBTRACT", o->name);
            e = KERR_INVALID_CONFIG;
            break;
        }
        if (id < 0) {
            snprintf(msg, msglen, "Unknown group config name: %s", o->name);
            e = KERR_INVALID_CONFIG;
            break;
        }
        if (o->op != 0)
            continue;
        if (brk_config_validate(id, o->value, msg, msglen) < 0) {
            e = KERR_INVALID_CONFIG;
            break;
        }
        if (id == BRK_GCFG_SHARE_AUTO_OFFSET_RESET &&
            !share_offset_reset_ok(o->value)) {
            snprintf(msg, msglen,
                     "Invalid value %s for configuration %s: Invalid value "
                     "`%s` for configuration %s. The value must be either "
                     "'earliest', 'latest' or of the format "
                     "'by_duration:<PnDTnHnMn.nS>'.",
                     o->value, o->name, o->value, o->name);
            e = KERR_INVALID_CONFIG;
        }
    }
    if (!e)
        e = group_validate_values(brk, group, ops, nops, incremental, msg,
                                  msglen);
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
                buf_init(&vals[*nv], 64);
                ctl_rec_config(&vals[(*nv)++], RES_GROUP, group, cur[k].name,
                               NULL);
            }
        }
    }
    for (int32_t i = 0; i < nops; i++) {
        buf_init(&vals[*nv], 64);
        ctl_rec_config(&vals[(*nv)++], RES_GROUP, group, ops[i].name,
                       ops[i].op == 1 ? NULL : ops[i].value);
    }
    return KERR_NONE;
}

static int16_t client_metrics_records(brk_req *req, proto_str rname,
                                      alter_op *ops, int32_t nops,
                                      bool incremental, bool validate_only,
                                      buf *vals, int *nv, char *msg,
                                      size_t msglen) {
    brk_broker *brk = req->brk;
    int16_t e = KERR_NONE;
    char *sub = proto_str_dup(req->arena, rname);
    e = check_client_metrics(sub, ops, nops, msg, msglen);
    if (e || validate_only)
        return e;
    if (!incremental) {
        brk_kv cur[8];
        size_t nc =
            cl_resource_configs(brk->image, RES_CLIENT_METRICS, sub, cur, 8);
        for (size_t k = 0; k < nc; k++) {
            bool kept = false;
            for (int32_t i = 0; i < nops; i++)
                kept |= !strcmp(ops[i].name, cur[k].name);
            if (!kept) {
                buf_init(&vals[*nv], 64);
                ctl_rec_config(&vals[(*nv)++], RES_CLIENT_METRICS, sub,
                               cur[k].name, NULL);
            }
        }
    }
    for (int32_t i = 0; i < nops; i++) {
        buf_init(&vals[*nv], 64);
        ctl_rec_config(&vals[(*nv)++], RES_CLIENT_METRICS, sub, ops[i].name,
                       ops[i].op == 1 ? NULL : ops[i].value);
    }
    return KERR_NONE;
}

/* The checks every resource's ops get first. */
static int16_t check_ops(const alter_op *ops, int32_t nops, char *msg,
                         size_t msglen) {
    for (int32_t i = 0; i < nops; i++)
        for (int32_t j = 0; j < i; j++)
            if (!strcmp(ops[i].name, ops[j].name)) {
                snprintf(msg, msglen, "Error due to duplicate config keys");
                return KERR_INVALID_REQUEST;
            }
    char nulls[384] = "";
    for (int32_t i = 0; i < nops; i++)
        if (ops[i].op != 1 && !ops[i].value)
            set_add(nulls, sizeof nulls, ops[i].name);
    if (nulls[0]) {
        snprintf(msg, msglen, "Null value not supported for : %s", nulls);
        return KERR_INVALID_REQUEST;
    }
    for (int32_t i = 0; i < nops; i++)
        if (ops[i].op < 0 || ops[i].op > 3) {
            snprintf(msg, msglen, "Unknown operations type %d", ops[i].op);
            return KERR_INVALID_REQUEST;
        }
    return KERR_NONE;
}

/* Validates one resource's ops and submits its records through w; the
 * commit's error lands in *commit_err. Returns a validation error (msg
 * set) or KERR_NONE. */
static int16_t alter_resource(brk_req *req, brk_commit_wait *w, int8_t type,
                              proto_str rname, alter_op *ops, int32_t nops,
                              bool incremental, bool validate_only,
                              int16_t *commit_err, char *msg, size_t msglen) {
    int16_t e = check_ops(ops, nops, msg, msglen);
    if (e)
        return e;
    /* room for every op plus the removals of a full replacement (each
     * table key, up to 64 other keys) */
    buf *vals = arena_calloc(req->arena, (size_t)(nops + BRK_CFG_COUNT + 65),
                             sizeof(buf));
    int nv = 0;
    int16_t (*step)(brk_req *, proto_str, alter_op *, int32_t, bool, bool,
                    buf *, int *, char *, size_t) =
        type == RES_TOPIC            ? topic_records
        : type == RES_BROKER         ? broker_records
        : type == RES_GROUP          ? group_records
        : type == RES_CLIENT_METRICS ? client_metrics_records
                                     : NULL;
    if (!step) {
        snprintf(msg, msglen, "Unknown resource type %d", type);
        return KERR_INVALID_REQUEST;
    }
    e = step(req, rname, ops, nops, incremental, validate_only, vals, &nv, msg,
             msglen);
    if (!e && !validate_only)
        brk_commit(w, vals, nv, commit_err);
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

/* Validates and submits every resource; the reply (finish) waits for the
 * commits. A commit error is reported with Kafka's message for it. */
static brk_status alter_all(brk_req *req, alter_res *res, int32_t n,
                            bool incremental, bool validate_only,
                            brk_commit_finish_fn finish, void *ctx) {
    brk_commit_wait *w = brk_commit_begin(req, finish, ctx);
    for (int32_t i = 0; i < n; i++) {
        char msg[512] = "";
        int16_t e;
        res[i].error_message = PROTO_STR_NULL;
        if (dup_resource(res, n, i)) {
            e = KERR_INVALID_REQUEST;
            snprintf(msg, sizeof msg,
                     "Each resource must appear at most once.");
        } else {
            e = alter_resource(req, w, res[i].type, res[i].name, res[i].ops,
                               res[i].nops, incremental, validate_only,
                               &res[i].error_code, msg, sizeof msg);
        }
        if (e) {
            res[i].error_code = e;
            res[i].error_message =
                sdup(req, msg[0] ? msg : proto_error_message(e));
        }
    }
    return brk_commit_end(w);
}

/* A failed commit's message (validation errors have theirs already). */
static void commit_messages(brk_req *req, alter_res *res, int32_t n) {
    for (int32_t i = 0; i < n; i++)
        if (res[i].error_code && res[i].error_message.len < 0)
            res[i].error_message =
                sdup(req, proto_error_message(res[i].error_code));
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

/* A reply waiting for its resources' commits, in req->arena. */
typedef struct alter_reply {
    alter_res *res;
    int32_t n;
} alter_reply;

static void alter_configs_finish(brk_req *req, void *ctx) {
    alter_reply *a = ctx;
    commit_messages(req, a->res, a->n);
    proto_alter_configs_response rs;
    proto_alter_configs_response_init(&rs);
    (void)BRK_RESP_ARRAY(req, rs.responses, a->n);
    for (int32_t i = 0; i < a->n; i++) {
        proto_alter_configs_response_alter_configs_resource_response *r =
            &rs.responses.v[i];
        proto_alter_configs_response_alter_configs_resource_response_init(r);
        r->resource_type = a->res[i].type;
        r->resource_name = a->res[i].name;
        r->error_code = a->res[i].error_code;
        r->error_message = a->res[i].error_message;
    }
    proto_alter_configs_response_encode(brk_resp_buf(req), req->api_version,
                                        &rs);
}

brk_status brk_handle_alter_configs(brk_req *req) {
    proto_alter_configs_request rq;
    if (proto_alter_configs_request_decode(&req->body, req->arena,
                                           req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    int32_t n = rq.resources.n > 0 ? rq.resources.n : 0;
    alter_res *res = arena_calloc(req->arena, (size_t)n + 1, sizeof *res);
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
            /* a null value is refused ("Null value not supported"), as
             * Kafka's ConfigAdminManager does; the legacy API has no
             * delete: configs left out are removed */
            res[i].ops[k].op = 0;
        }
    }
    alter_reply *reply = arena_calloc(req->arena, 1, sizeof *reply);
    reply->res = res;
    reply->n = n;
    return alter_all(req, res, n, false, rq.validate_only, alter_configs_finish,
                     reply);
}

static void incremental_alter_configs_finish(brk_req *req, void *ctx) {
    alter_reply *a = ctx;
    commit_messages(req, a->res, a->n);
    proto_incremental_alter_configs_response rs;
    proto_incremental_alter_configs_response_init(&rs);
    (void)BRK_RESP_ARRAY(req, rs.responses, a->n);
    for (int32_t i = 0; i < a->n; i++) {
        proto_incremental_alter_configs_response_alter_configs_resource_response
            *r = &rs.responses.v[i];
        proto_incremental_alter_configs_response_alter_configs_resource_response_init(
            r);
        r->resource_type = a->res[i].type;
        r->resource_name = a->res[i].name;
        r->error_code = a->res[i].error_code;
        r->error_message = a->res[i].error_message;
    }
    proto_incremental_alter_configs_response_encode(brk_resp_buf(req),
                                                    req->api_version, &rs);
}

brk_status brk_handle_incremental_alter_configs(brk_req *req) {
    proto_incremental_alter_configs_request rq;
    if (proto_incremental_alter_configs_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    int32_t n = rq.resources.n > 0 ? rq.resources.n : 0;
    alter_res *res = arena_calloc(req->arena, (size_t)n + 1, sizeof *res);
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
    alter_reply *reply = arena_calloc(req->arena, 1, sizeof *reply);
    reply->res = res;
    reply->n = n;
    return alter_all(req, res, n, true, rq.validate_only,
                     incremental_alter_configs_finish, reply);
}
