/*
 * config.c - the configuration table (config.def), parsing of
 * server.properties, the environment and --override, and topic-config
 * resolution through broker synonyms. See config.h.
 */
#include "broker/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/list.h"
#include "core/log.h"
#include "core/util.h"

const brk_cfg_def brk_cfg_defs[BRK_CFG_COUNT] = {
#define CFG(id, name, type, def, min, max, valid, flags, synonyms, doc)        \
    [id] = {name, type, def, min, max, valid, flags, synonyms, doc},
#include "broker/config.def"
#undef CFG
};

/* Broker keys only (topic keys are looked up with brk_config_find_topic). */
int brk_config_find(const char *name) {
    for (int i = 0; i < BRK_CFG_COUNT; i++)
        if (!(brk_cfg_defs[i].flags & CFG_F_NOT_BROKER) &&
            !strcmp(brk_cfg_defs[i].name, name))
            return i;
    return -1;
}

int brk_config_find_group(const char *name) {
    for (int i = 0; i < BRK_CFG_COUNT; i++)
        if ((brk_cfg_defs[i].flags & CFG_F_GROUP) &&
            !strcmp(brk_cfg_defs[i].name, name))
            return i;
    return -1;
}

int brk_config_find_client_metrics(const char *name) {
    for (int i = 0; i < BRK_CFG_COUNT; i++)
        if ((brk_cfg_defs[i].flags & CFG_F_CLIENT_METRICS) &&
            !strcmp(brk_cfg_defs[i].name, name))
            return i;
    return -1;
}

int brk_config_find_topic(const char *name) {
    for (int i = 0; i < BRK_CFG_COUNT; i++)
        if ((brk_cfg_defs[i].flags & CFG_F_TOPIC) &&
            !strcmp(brk_cfg_defs[i].name, name))
            return i;
    return -1;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

static bool in_valid_list(const char *valid, const char *v, size_t n,
                          bool icase) {
    const char *p = valid;
    while (*p) {
        const char *e = strchr(p, '|');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && (icase ? !strncasecmp(p, v, n) : !strncmp(p, v, n)))
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

/* Kafka's ValidString message lists the values joined by ", "; the
 * case-insensitive validator lists them upper-cased. */
static void valid_list_text(const brk_cfg_def *d, char *out, size_t n) {
    size_t o = 0;
    for (const char *p = d->valid; *p && o + 3 < n; p++) {
        if (*p == '|') {
            out[o++] = ',';
            out[o++] = ' ';
        } else
            out[o++] = (d->flags & CFG_F_ICASE)
                           ? (char)toupper((unsigned char)*p)
                           : *p;
    }
    out[o] = 0;
}

/* A double as Java's Double.toString prints the common cases (0.5, 1.0,
 * 1.0E-4 is not needed by any Kafka range). */
static void java_double(double x, char *out, size_t n) {
    if (x == (double)(long long)x && fabs(x) < 1e7) {
        snprintf(out, n, "%.1f", x);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, x);
        if (strtod(out, NULL) == x)
            return;
    }
}

/* Parses text for def d into *i / *dbl, with Kafka's ConfigDef.parseType
 * and validator messages ("Invalid value <v> for configuration <k>: ...").
 * 0 ok, -1 with err. */
static int parse_value(int id, const char *text, int64_t *iv, double *dv,
                       char *err, size_t errlen) {
    const brk_cfg_def *d = &brk_cfg_defs[id];
    *iv = 0;
    *dv = 0;
    if (!text)
        return 0;
    char tmp[8192];
    snprintf(tmp, sizeof tmp, "%s", text);
    char *v = trim(tmp);
    static const char *const tn[] = {"BOOLEAN", "INT",      "SHORT",
                                     "LONG",    "DOUBLE",   "STRING",
                                     "LIST",    "PASSWORD", "CLASS"};
    switch (d->type) {
    case CFG_BOOL:
        if (!strcasecmp(v, "true"))
            *iv = 1;
        else if (!strcasecmp(v, "false"))
            *iv = 0;
        else {
            snprintf(err, errlen,
                     "Invalid value %s for configuration %s: Expected value "
                     "to be either true or false",
                     text, d->name);
            return -1;
        }
        return 0;
    case CFG_INT:
    case CFG_SHORT:
    case CFG_LONG: {
        errno = 0;
        char *end = v;
        long long x = *v && *v != ' ' ? strtoll(v, &end, 10) : 0;
        if (!*v || errno || *end ||
            (d->type == CFG_INT && (x < INT32_MIN || x > INT32_MAX)) ||
            (d->type == CFG_SHORT && (x < INT16_MIN || x > INT16_MAX))) {
            snprintf(err, errlen,
                     "Invalid value %s for configuration %s: Not a number of "
                     "type %s",
                     text, d->name, tn[d->type]);
            return -1;
        }
        if (d->min && (double)x < strtod(d->min, NULL)) {
            snprintf(err, errlen,
                     "Invalid value %lld for configuration %s: Value must be "
                     "at least %s",
                     x, d->name, d->min);
            return -1;
        }
        if (d->max && (double)x > strtod(d->max, NULL)) {
            snprintf(err, errlen,
                     "Invalid value %lld for configuration %s: Value must be "
                     "no more than %s",
                     x, d->name, d->max);
            return -1;
        }
        *iv = x;
        return 0;
    }
    case CFG_DOUBLE: {
        char *end = v;
        errno = 0;
        double x = *v ? strtod(v, &end) : 0;
        if (!*v || errno || *end || isnan(x)) {
            snprintf(err, errlen,
                     "Invalid value %s for configuration %s: Not a number of "
                     "type DOUBLE",
                     text, d->name);
            return -1;
        }
        char xs[40];
        java_double(x, xs, sizeof xs);
        if (d->min && x < strtod(d->min, NULL)) {
            snprintf(err, errlen,
                     "Invalid value %s for configuration %s: Value must be at "
                     "least %s",
                     xs, d->name, d->min);
            return -1;
        }
        if (d->max && x > strtod(d->max, NULL)) {
            snprintf(err, errlen,
                     "Invalid value %s for configuration %s: Value must be no "
                     "more than %s",
                     xs, d->name, d->max);
            return -1;
        }
        *dv = x;
        return 0;
    }
    case CFG_STRING:
    case CFG_PASSWORD:
        if ((d->flags & CFG_F_NONEMPTY) && !*v) {
            snprintf(err, errlen,
                     "Invalid value  for configuration %s: String must be "
                     "non-empty",
                     d->name);
            return -1;
        }
        if (d->valid && !in_valid_list(d->valid, v, strlen(v),
                                       (d->flags & CFG_F_ICASE) != 0)) {
            char vl[512];
            valid_list_text(d, vl, sizeof vl);
            snprintf(err, errlen,
                     "Invalid value %s for configuration %s: String must be "
                     "one of%s: %s",
                     v, d->name,
                     (d->flags & CFG_F_ICASE) ? " (case insensitive)" : "", vl);
            return -1;
        }
        return 0;
    case CFG_LIST:
        if (d->valid && *v) {
            /* Kafka's ValidList: items split at \s*,\s*; no empty item,
             * each one of the valid values. (Duplicates pass: Kafka 4.3.1
             * accepts log.cleanup.policy=delete,delete.) */
            const char *items[64];
            size_t lens[64];
            int ni = 0;
            list_iter it = list_start(v, false);
            while (ni < 64 && list_next(&it, &items[ni], &lens[ni]))
                ni++;
            for (int k = 0; k < ni; k++) {
                if (!lens[k]) {
                    snprintf(err, errlen,
                             "Configuration '%s' values must not be empty.",
                             d->name);
                    return -1;
                }
                if (!in_valid_list(d->valid, items[k], lens[k], false)) {
                    char vl[512];
                    valid_list_text(d, vl, sizeof vl);
                    snprintf(err, errlen,
                             "Invalid value %.*s for configuration %s: String "
                             "must be one of: %s",
                             (int)lens[k], items[k], d->name, vl);
                    return -1;
                }
            }
        }
        return 0;
    default:
        return 0;
    }
}

int brk_config_validate(int id, const char *text, char *err, size_t errlen) {
    int64_t iv;
    double dv;
    if (id < 0 || id >= BRK_CFG_COUNT) {
        snprintf(err, errlen, "Unknown configuration");
        return -1;
    }
    return parse_value(id, text, &iv, &dv, err, errlen);
}

static void set_effective(brk_config *cfg, int id, const char *text,
                          brk_cfg_source src) {
    brk_cfg_val *v = &cfg->v[id];
    free(v->text);
    v->text = text ? xstrdup(text) : NULL;
    if (v->text) {
        char *t = trim(v->text);
        memmove(v->text, t, strlen(t) + 1);
    }
    v->src = src;
    char err[256];
    if (parse_value(id, v->text, &v->i, &v->d, err, sizeof err) < 0) {
        /* Only reachable for a default; the table is wrong. */
        SL_ERROR("config", "bad default: %s", err);
    }
}

/* Recomputes the effective value of id from its layers. */
static void recompute(brk_config *cfg, int id) {
    if (cfg->dyn_broker[id])
        set_effective(cfg, id, cfg->dyn_broker[id], CFG_SRC_DYNAMIC_BROKER);
    else if (cfg->dyn_default[id])
        set_effective(cfg, id, cfg->dyn_default[id],
                      CFG_SRC_DYNAMIC_DEFAULT_BROKER);
    else if (cfg->static_text[id])
        set_effective(cfg, id, cfg->static_text[id], CFG_SRC_STATIC_BROKER);
    else
        set_effective(cfg, id, brk_cfg_defs[id].def, CFG_SRC_DEFAULT);
}

void brk_config_init(brk_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    for (int i = 0; i < BRK_CFG_COUNT; i++)
        recompute(cfg, i);
}

void brk_config_free(brk_config *cfg) {
    for (int i = 0; i < BRK_CFG_COUNT; i++) {
        free(cfg->v[i].text);
        free(cfg->static_text[i]);
        free(cfg->dyn_broker[i]);
        free(cfg->dyn_default[i]);
    }
    free(cfg->config_file);
    memset(cfg, 0, sizeof *cfg);
}

int brk_config_report_unimplemented(const brk_config *cfg) {
    int n = 0;
    for (int i = 0; i < BRK_CFG_COUNT; i++)
        if (cfg->static_text[i] && (brk_cfg_defs[i].flags & CFG_F_NOIMPL)) {
            SL_INFO("config",
                    "'%s' is accepted but has no effect yet (not implemented "
                    "by sluice; see docs/configuration.md)",
                    brk_cfg_defs[i].name);
            n++;
        }
    return n;
}

int brk_config_set(brk_config *cfg, const char *name, const char *value,
                   char *err, size_t errlen) {
    int id = brk_config_find(name);
    if (id < 0)
        return 1;
    if (brk_config_validate(id, value, err, errlen) < 0)
        return -1;
    free(cfg->static_text[id]);
    cfg->static_text[id] = xstrdup(value);
    recompute(cfg, id);
    return 0;
}

void brk_config_set_dynamic(brk_config *cfg, int id, const char *value,
                            bool default_scope) {
    if (id < 0 || id >= BRK_CFG_COUNT)
        return;
    char **slot = default_scope ? &cfg->dyn_default[id] : &cfg->dyn_broker[id];
    free(*slot);
    *slot = value ? xstrdup(value) : NULL;
    recompute(cfg, id);
}

/* java.util.Properties, the parts server.properties files use: comments
 * (# !), key=value / key:value / key value, backslash line continuation,
 * \t \n \\ \uXXXX (ASCII only) escapes. */
int brk_config_load_file(brk_config *cfg, const char *path, char *err,
                         size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    free(cfg->config_file);
    cfg->config_file = xstrdup(path);
    buf logical;
    buf_init(&logical, 256);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    bool cont = false;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        char *s = line;
        if (cont)
            while (isspace((unsigned char)*s))
                s++;
        else {
            char *t = s;
            while (isspace((unsigned char)*t))
                t++;
            if (*t == '#' || *t == '!' || !*t)
                continue;
        }
        size_t len = strlen(s);
        size_t bs = 0;
        while (bs < len && s[len - 1 - bs] == '\\')
            bs++;
        cont = bs % 2 == 1;
        buf_put(&logical, s, cont ? len - 1 : len);
        if (cont)
            continue;
        buf_put_u8(&logical, 0);
        /* split key / value, unescaping */
        char *p = (char *)logical.data;
        while (isspace((unsigned char)*p))
            p++;
        char key[256], val[8192];
        size_t kl = 0, vl = 0;
        while (*p && *p != '=' && *p != ':' && !isspace((unsigned char)*p)) {
            if (*p == '\\' && p[1])
                p++;
            if (kl + 1 < sizeof key)
                key[kl++] = *p;
            p++;
        }
        key[kl] = 0;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '=' || *p == ':')
            p++;
        while (isspace((unsigned char)*p))
            p++;
        while (*p) {
            char c = *p++;
            if (c == '\\' && *p) {
                c = *p++;
                if (c == 't')
                    c = '\t';
                else if (c == 'n')
                    c = '\n';
                else if (c == 'r')
                    c = '\r';
                else if (c == 'u' && strlen(p) >= 4) {
                    char hex[5] = {p[0], p[1], p[2], p[3], 0};
                    c = (char)strtol(hex, NULL, 16);
                    p += 4;
                }
            }
            if (vl + 1 < sizeof val)
                val[vl++] = c;
        }
        val[vl] = 0;
        buf_reset(&logical);
        int r = brk_config_set(cfg, key, val, err, errlen);
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r > 0)
            SL_WARN("config",
                    "The configuration '%s' was supplied but isn't a known "
                    "config.",
                    key);
    }
    free(line);
    buf_free(&logical);
    fclose(f);
    return rc;
}

/* Variables of the container images that are not configs. */
static bool env_ignored(const char *k) {
    static const char *const skip[] = {"KAFKA_HEAP_OPTS",
                                       "KAFKA_OPTS",
                                       "KAFKA_JVM_PERFORMANCE_OPTS",
                                       "KAFKA_LOG4J_OPTS",
                                       "KAFKA_JMX_OPTS",
                                       "KAFKA_GC_LOG_OPTS",
                                       "KAFKA_DEBUG",
                                       "KAFKA_HOME",
                                       "KAFKA_VERSION",
                                       "KAFKA_LOG4J_ROOT_LOGLEVEL",
                                       "KAFKA_LOG4J_LOGGERS",
                                       "KAFKA_TOOLS_LOG4J_LOGLEVEL",
                                       "KAFKA_CLUSTER_ID",
                                       "KAFKA_ENABLE_KRAFT",
                                       "KAFKA_KRAFT_CLUSTER_ID",
                                       "KAFKA_CLASSPATH",
                                       "KAFKA_JMX_PORT",
                                       "KAFKA_JMX_HOSTNAME",
                                       "KAFKA_CONF_FILE",
                                       "KAFKA_MOUNTED_CONF_DIR",
                                       "KAFKA_CREATE_TOPICS",
                                       "KAFKA_CFG_KRAFT_CLUSTER_ID",
                                       NULL};
    for (int i = 0; skip[i]; i++)
        if (!strcmp(k, skip[i]))
            return true;
    return false;
}

/* KAFKA_CFG_LOG_DIRS / KAFKA_LOG_DIRS -> log.dirs. Confluent also maps "__"
 * to "_" and "___" to "-"; we do the same. */
static void env_to_key(const char *s, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        if (s[i] == '_' && i + 2 < n && s[i + 1] == '_' && s[i + 2] == '_') {
            out[o++] = '-';
            i += 2;
        } else if (s[i] == '_' && i + 1 < n && s[i + 1] == '_') {
            out[o++] = '_';
            i += 1;
        } else if (s[i] == '_') {
            out[o++] = '.';
        } else {
            out[o++] = (char)tolower((unsigned char)s[i]);
        }
    }
    out[o] = 0;
}

int brk_config_load_env(brk_config *cfg, char **envp, char *err,
                        size_t errlen) {
    if (!envp)
        return 0;
    /* Two passes: confluent KAFKA_* first, bitnami KAFKA_CFG_* second (the
     * more specific convention wins when both name a key). */
    for (int pass = 0; pass < 2; pass++) {
        for (char **e = envp; *e; e++) {
            const char *kv = *e;
            const char *eq = strchr(kv, '=');
            if (!eq || strncmp(kv, "KAFKA_", 6))
                continue;
            char name[256];
            size_t nl = (size_t)(eq - kv);
            if (nl >= sizeof name)
                continue;
            memcpy(name, kv, nl);
            name[nl] = 0;
            bool bitnami = !strncmp(name, "KAFKA_CFG_", 10);
            if (bitnami != (pass == 1) || env_ignored(name))
                continue;
            const char *body = name + (bitnami ? 10 : 6);
            char key[256];
            env_to_key(body, strlen(body), key, sizeof key);
            int r = brk_config_set(cfg, key, eq + 1, err, errlen);
            if (r < 0)
                return -1;
            if (r > 0)
                SL_WARN("config",
                        "environment variable %s names no known config (%s); "
                        "ignored",
                        name, key);
        }
    }
    return 0;
}

int brk_config_finish(brk_config *cfg, char *err, size_t errlen) {
    /* node.id: broker.id is the legacy alias. */
    if (!cfg->static_text[BRK_CFG_NODE_ID] &&
        cfg->static_text[BRK_CFG_BROKER_ID] &&
        brk_cfg_i64(cfg, BRK_CFG_BROKER_ID) >= 0)
        brk_config_set(cfg, "node.id", cfg->static_text[BRK_CFG_BROKER_ID], err,
                       errlen);
    /* Kafka fills broker.id from node.id (described as a static value) */
    if (!cfg->static_text[BRK_CFG_BROKER_ID] &&
        cfg->static_text[BRK_CFG_NODE_ID])
        brk_config_set(cfg, "broker.id", cfg->static_text[BRK_CFG_NODE_ID], err,
                       errlen);
    if (brk_cfg_i64(cfg, BRK_CFG_NODE_ID) < 0) {
        snprintf(err, errlen,
                 "Invalid value -1 for configuration node.id: Missing "
                 "required configuration \"node.id\" which has no default "
                 "value.");
        return -1;
    }
    /* Kafka loads replica.selector.class when its ReplicaManager starts
     * (Utils.newInstance): a class it cannot find stops the broker. Sluice
     * has Kafka's RackAwareReplicaSelector only (fetch.c). */
    const char *sel = brk_cfg_str(cfg, BRK_CFG_REPLICA_SELECTOR_CLASS);
    if (sel &&
        strcmp(sel,
               "org.apache.kafka.common.replica.RackAwareReplicaSelector")) {
        snprintf(err, errlen,
                 "Invalid value %s for configuration replica.selector.class: "
                 "Class %s cannot be found (sluice implements "
                 "org.apache.kafka.common.replica.RackAwareReplicaSelector)",
                 sel, sel);
        return -1;
    }
    const char *roles = brk_cfg_str(cfg, BRK_CFG_PROCESS_ROLES);
    if (!roles || !*roles) {
        snprintf(err, errlen,
                 "Invalid value for configuration process.roles: must contain "
                 "broker and/or controller");
        return -1;
    }
    /* each role is checked when the value is set (config.def's
     * broker|controller validator, Kafka's ConfigDef message) */
    const char *l = brk_cfg_str(cfg, BRK_CFG_LISTENERS);
    if (!l || !*l) {
        snprintf(err, errlen,
                 "Invalid value for configuration listeners: at least one "
                 "listener is required");
        return -1;
    }
    if (brk_cfg_i64(cfg, BRK_CFG_SOCKET_REQUEST_MAX_BYTES) < 16) {
        snprintf(err, errlen,
                 "Invalid value for configuration socket.request.max.bytes: "
                 "too small");
        return -1;
    }
    brk_config_report_unimplemented(cfg);
    return 0;
}

/* ---- topic configs ----------------------------------------------------------
 */

int brk_topic_cfg_synonyms(const brk_config *cfg, brk_cfg_id id,
                           brk_cfg_syn *out, int max) {
    const brk_cfg_def *d = &brk_cfg_defs[id];
    int ids[8];
    int nids = 0;
    const char *p = d->synonyms;
    while (p && *p && nids < 8) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char one[128];
        snprintf(one, sizeof one, "%.*s", (int)len, p);
        char *colon = strchr(one, ':');
        if (colon)
            *colon = 0;
        int bid = brk_config_find(one);
        if (bid >= 0)
            ids[nids++] = bid;
        else if (nids == 0)
            return 0; /* primary synonym unknown: no list */
        p = e ? e + 1 : NULL;
    }
    if (nids == 0)
        return 0;
    int n = 0;
    bool started = false;
    for (int level = 0; level < 4; level++)
        for (int k = 0; k < nids; k++) {
            int b = ids[k];
            const char *v = level == 0   ? cfg->dyn_broker[b]
                            : level == 1 ? cfg->dyn_default[b]
                            : level == 2 ? cfg->static_text[b]
                                         : brk_cfg_defs[b].def;
            if (!v)
                continue;
            if (!started && b != ids[0])
                continue; /* Kafka's dropWhile(name != primary) */
            started = true;
            if (n < max) {
                out[n].name = brk_cfg_defs[b].name;
                out[n].value = v;
                out[n].src = level == 0   ? CFG_SRC_DYNAMIC_BROKER
                             : level == 1 ? CFG_SRC_DYNAMIC_DEFAULT_BROKER
                             : level == 2 ? CFG_SRC_STATIC_BROKER
                                          : CFG_SRC_DEFAULT;
                n++;
            }
        }
    return n;
}

const char *brk_topic_cfg_text(const brk_config *cfg, const brk_kv *ov,
                               size_t n, brk_cfg_id id, brk_cfg_source *src,
                               char *tmp) {
    const brk_cfg_def *d = &brk_cfg_defs[id];
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ov[i].name, d->name)) {
            if (src)
                *src = CFG_SRC_DYNAMIC_TOPIC;
            return ov[i].value;
        }
    /* Broker synonyms: the first one set (dynamic or static) wins; else the
     * first with a non-null default. */
    const char *best = NULL;
    int64_t best_mult = 1;
    brk_cfg_source best_src = CFG_SRC_DEFAULT;
    for (int pass = 0; pass < 2 && !best && d->synonyms; pass++) {
        const char *p = d->synonyms;
        while (*p) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            char one[128];
            snprintf(one, sizeof one, "%.*s", (int)len, p);
            char *colon = strchr(one, ':');
            int64_t mult = 1;
            if (colon) {
                *colon = 0;
                mult = strtoll(colon + 1, NULL, 10);
            }
            int bid = brk_config_find(one);
            if (bid >= 0) {
                const brk_cfg_val *v = &cfg->v[bid];
                bool set = v->src != CFG_SRC_DEFAULT;
                if ((pass == 0 && set && v->text) || (pass == 1 && v->text)) {
                    best = v->text;
                    best_mult = mult;
                    best_src = v->src;
                    break;
                }
            }
            if (!e)
                break;
            p = e + 1;
        }
    }
    (void)best_src;
    if (src) {
        /* the source Kafka reports: head of its synonym list */
        brk_cfg_syn syn[1];
        *src = brk_topic_cfg_synonyms(cfg, id, syn, 1) > 0 ? syn[0].src
                                                           : CFG_SRC_DEFAULT;
    }
    if (!best)
        return d->def;
    if (best_mult != 1) {
        long long x = strtoll(best, NULL, 10);
        if (x > 0 && x > INT64_MAX / best_mult)
            x = INT64_MAX;
        else
            x = x < 0 ? x : x * best_mult;
        snprintf(tmp, 32, "%lld", x);
        return tmp;
    }
    return best;
}

int64_t brk_topic_cfg_i64(const brk_config *cfg, const brk_kv *ov, size_t n,
                          brk_cfg_id id) {
    char tmp[32];
    const char *t = brk_topic_cfg_text(cfg, ov, n, id, NULL, tmp);
    if (!t)
        return 0;
    if (brk_cfg_defs[id].type == CFG_BOOL)
        return !strcasecmp(t, "true");
    return strtoll(t, NULL, 10);
}

double brk_topic_cfg_double(const brk_config *cfg, const brk_kv *ov, size_t n,
                            brk_cfg_id id) {
    char tmp[32];
    const char *t = brk_topic_cfg_text(cfg, ov, n, id, NULL, tmp);
    return t ? strtod(t, NULL) : 0;
}

int brk_cfg_roles(const brk_config *cfg) {
    const char *roles = brk_cfg_str(cfg, BRK_CFG_PROCESS_ROLES);
    int out = 0;
    list_iter it = list_start(roles ? roles : "", true);
    const char *p;
    size_t len;
    while (list_next(&it, &p, &len)) {
        if (len == 6 && !memcmp(p, "broker", 6))
            out |= BRK_ROLE_BROKER;
        else if (len == 10 && !memcmp(p, "controller", 10))
            out |= BRK_ROLE_CONTROLLER;
        else
            return 0;
    }
    return out;
}
