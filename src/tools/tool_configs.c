/*
 * tool_configs.c - `sluice configs` / kafka-configs.sh: describe and alter
 * dynamic configs of topics, brokers (one or the cluster default), broker
 * loggers and groups, with Kafka's output ("Dynamic configs for topic x
 * are:" + "  k=v sensitive=false synonyms={...}"). Uses kclient's
 * DescribeConfigs v4 and IncrementalAlterConfigs v1, as Kafka's tool does
 * (librdkafka 2.0 lacks IncrementalAlterConfigs and the GROUP resource).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/util.h"
#include "tools/kclient.h"
#include "tools/tool_common.h"

static const tool_optdef cfg_opts[] = {
    {"add-config", TOOL_ARG,
     "Key Value pairs of configs to add. Square brackets can be used to "
     "group values which contain commas: 'k1=v1,k2=[v1,v2,v2],k3=v3'."},
    {"add-config-file", TOOL_ARG,
     "Path to a properties file with configs to add."},
    {"all", TOOL_FLAG,
     "List all configs for the given entity, including static configs if "
     "available."},
    {"alter", TOOL_FLAG, "Alter the configuration for the entity."},
    {"bootstrap-controller", TOOL_ARG, "The Kafka controllers to connect to."},
    {"bootstrap-server", TOOL_ARG, "The Kafka servers to connect to."},
    {"broker", TOOL_ARG, "The broker's ID."},
    {"broker-defaults", TOOL_FLAG, "The config defaults for all brokers."},
    {"broker-logger", TOOL_ARG, "The broker's ID for its logger config."},
    {"command-config", TOOL_ARG,
     "Property file containing configs to be passed to Admin Client."},
    {"delete-config", TOOL_ARG, "config keys to remove 'k1,k2'"},
    {"describe", TOOL_FLAG, "List configs for the given entity."},
    {"entity-default", TOOL_FLAG,
     "Default entity name for clients/users/brokers/ips (applies to "
     "corresponding entity type)"},
    {"entity-name", TOOL_ARG,
     "Name of entity (topic name/client id/user principal name/broker "
     "id/ip/client metrics/group id)"},
    {"entity-type", TOOL_ARG,
     "Type of entity (topics/clients/users/brokers/broker-loggers/ips/"
     "client-metrics/groups)"},
    {"force", TOOL_FLAG, "Suppress console prompts"},
    {"group", TOOL_ARG, "The group's ID."},
    {"topic", TOOL_ARG, "The topic's name."},
    {"version", TOOL_FLAG, "Display Kafka version."},
};

typedef struct cfg_ctx {
    tool_args *a;
    kc_conn kc;
    int timeout_ms;
    int argc;
    char **argv;
} cfg_ctx;

/* Kafka's ConfigCommand prints both lines on stderr. */
static void exec_error(cfg_ctx *c, const char *what) {
    fflush(stdout);
    fprintf(stderr, "Error while executing config command with args '");
    for (int i = 1; i < c->argc; i++)
        fprintf(stderr, "%s%s", i > 1 ? " " : "", c->argv[i]);
    fprintf(stderr, "'\n%s\n", what);
}

static int cmp_cfg(const void *a, const void *b) {
    return strcmp(((const kc_config *)a)->name, ((const kc_config *)b)->name);
}

/* Prints one resource; returns false on a request failure. */
static bool describe_one(cfg_ctx *c, int8_t type, const char *name,
                         const char *label, int8_t dyn_source) {
    kc_config_result r;
    if (!kc_describe_configs(&c->kc, type, name, &r)) {
        exec_error(c, "org.apache.kafka.common.errors.TimeoutException: "
                      "describeConfigs failed");
        return false;
    }
    if (r.error == 3 && type == KC_RES_TOPIC) {
        printf("The topic '%s' doesn't exist and doesn't have dynamic "
               "config.\n",
               name);
        kc_config_result_free(&r);
        return true;
    }
    if (r.error) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s: %s", tool_java_exception(r.error),
                 r.error_message ? r.error_message
                                 : tool_error_message(r.error));
        exec_error(c, msg);
        kc_config_result_free(&r);
        return false;
    }
    bool all = tool_has(c->a, "all");
    /* label "D..." marks the cluster default, always titled "Default". */
    printf("%s configs for %s are:\n",
           label[0] == 'D' ? "Default"
           : all           ? "All"
                           : "Dynamic",
           label[0] == 'D' ? label + 1 : label);
    if (r.ncfg)
        qsort(r.cfg, (size_t)r.ncfg, sizeof(kc_config), cmp_cfg);
    for (int i = 0; i < r.ncfg; i++) {
        kc_config *e = &r.cfg[i];
        if (!all && e->source != dyn_source)
            continue;
        printf("  %s=%s sensitive=%s synonyms={", e->name,
               e->sensitive || !e->value ? "null" : e->value,
               e->sensitive ? "true" : "false");
        for (int j = 0; j < e->nsyn; j++)
            printf("%s%s:%s=%s", j ? ", " : "",
                   kc_config_source_name(e->syn[j].source), e->syn[j].name,
                   e->sensitive || !e->syn[j].value ? "null" : e->syn[j].value);
        printf("}\n");
    }
    kc_config_result_free(&r);
    return true;
}

/* Entity type + name from --entity-type/--entity-name or the shortcut
 * flags (--topic, --broker, ...). */
typedef struct entity {
    const char *type_name; /* "topics", "brokers", ... */
    const char *name;      /* NULL: all; "" default */
    bool is_default;
} entity;

static bool resolve_entity(cfg_ctx *c, entity *e) {
    memset(e, 0, sizeof(*e));
    tool_args *a = c->a;
    if (tool_has(a, "topic")) {
        e->type_name = "topics";
        e->name = tool_get(a, "topic");
    } else if (tool_has(a, "broker")) {
        e->type_name = "brokers";
        e->name = tool_get(a, "broker");
    } else if (tool_has(a, "broker-defaults")) {
        e->type_name = "brokers";
        e->is_default = true;
    } else if (tool_has(a, "broker-logger")) {
        e->type_name = "broker-loggers";
        e->name = tool_get(a, "broker-logger");
    } else if (tool_has(a, "group")) {
        e->type_name = "groups";
        e->name = tool_get(a, "group");
    } else {
        e->type_name = tool_get(a, "entity-type");
        e->name = tool_get(a, "entity-name");
        e->is_default = tool_has(a, "entity-default");
    }
    if (!e->type_name) {
        tool_usage_error(a, "At least one entity type must be specified");
        return false;
    }
    static const char *const known[] = {
        "topics",  "brokers", "broker-loggers", "groups", "users",
        "clients", "ips",     "client-metrics"};
    bool ok = false;
    for (size_t i = 0; i < SL_ARRAY_LEN(known); i++)
        ok |= !strcmp(known[i], e->type_name);
    if (!ok) {
        tool_usage_error(a,
                         "Invalid entity type %s, the entity type must be "
                         "one of topics, clients, users, brokers, "
                         "broker-loggers, ips, client-metrics, groups",
                         e->type_name);
        return false;
    }
    if (e->is_default && e->name) {
        tool_usage_error(a, "--entity-default and --entity-name cannot be "
                            "specified together");
        return false;
    }
    return true;
}

static int8_t res_type(const char *t) {
    if (!strcmp(t, "topics"))
        return KC_RES_TOPIC;
    if (!strcmp(t, "brokers"))
        return KC_RES_BROKER;
    if (!strcmp(t, "broker-loggers"))
        return KC_RES_BROKER_LOGGER;
    if (!strcmp(t, "groups"))
        return KC_RES_GROUP;
    if (!strcmp(t, "client-metrics"))
        return KC_RES_CLIENT_METRICS;
    return 0;
}

/* ---- client quotas (users, clients, ips) -------------------------------- */

static const char *quota_entity_type(const char *t) {
    return !strcmp(t, "users")     ? "user"
           : !strcmp(t, "clients") ? "client-id"
                                   : "ip";
}

static const char *quota_label(const char *type) {
    return !strcmp(type, "user") ? "user-principal" : type;
}

static int cmp_str_idx(const void *a, const void *b) {
    return strcmp(**(const char *const *const *)a,
                  **(const char *const *const *)b);
}

static int describe_quotas(cfg_ctx *c, entity *e) {
    const char *type = quota_entity_type(e->type_name);
    int match = e->is_default ? 1 : e->name ? 0 : 2;
    kc_quota_entry *q;
    int n;
    int16_t err;
    char *msg;
    if (!kc_describe_quotas(&c->kc, type, match, e->name, &q, &n, &err, &msg)) {
        exec_error(c, "org.apache.kafka.common.errors.TimeoutException: "
                      "describeClientQuotas failed");
        return 1;
    }
    if (err) {
        char m[512];
        snprintf(m, sizeof(m), "%s: %s", tool_java_exception(err),
                 msg ? msg : tool_error_message(err));
        exec_error(c, m);
        free(msg);
        kc_quota_entries_free(q, n);
        return 1;
    }
    free(msg);
    for (int i = 0; i < n; i++) {
        if (q[i].nvalues == 0)
            continue;
        printf("Quota configs for ");
        for (int k = 0; k < q[i].ncomp; k++) {
            if (q[i].names[k])
                printf("%s%s '%s'", k ? ", " : "", quota_label(q[i].types[k]),
                       q[i].names[k]);
            else
                printf("%sthe default %s", k ? ", " : "",
                       quota_label(q[i].types[k]));
        }
        printf(" are ");
        char ***idx = xcalloc((size_t)q[i].nvalues, sizeof(char **));
        for (int k = 0; k < q[i].nvalues; k++)
            idx[k] = &q[i].keys[k];
        qsort(idx, (size_t)q[i].nvalues, sizeof(char **), cmp_str_idx);
        for (int k = 0; k < q[i].nvalues; k++) {
            int j = (int)(idx[k] - q[i].keys);
            char d[64];
            tool_java_double(q[i].values[j], d, sizeof(d));
            printf("%s%s=%s", k ? ", " : "", q[i].keys[j], d);
        }
        printf("\n");
        free(idx);
    }
    kc_quota_entries_free(q, n);
    return 0;
}

static int alter_quotas(cfg_ctx *c, entity *e, const tool_props *add,
                        char **dels, int ndel) {
    const char *type = quota_entity_type(e->type_name);
    if (!e->name && !e->is_default) {
        tool_usage_error(c->a,
                         "an entity name must be specified with --alter of %s",
                         e->type_name);
        return 1;
    }
    int nops = add->n + ndel;
    const char **keys = xcalloc((size_t)nops + 1, sizeof(char *));
    double *vals = xcalloc((size_t)nops + 1, sizeof(double));
    bool *rem = xcalloc((size_t)nops + 1, sizeof(bool));
    int k = 0;
    for (int i = 0; i < add->n; i++) {
        char *end;
        double v = strtod(add->vals[i], &end);
        if (*end || end == add->vals[i]) {
            fprintf(stderr,
                    "Cannot parse quota configuration value for %s: %s\n",
                    add->keys[i], add->vals[i]);
            free(keys);
            free(vals);
            free(rem);
            return 1;
        }
        keys[k] = add->keys[i];
        vals[k++] = v;
    }
    for (int i = 0; i < ndel; i++) {
        keys[k] = dels[i];
        rem[k++] = true;
    }
    int16_t err;
    char *msg = NULL;
    int rc = 0;
    if (!kc_alter_quotas(&c->kc, type, e->is_default ? NULL : e->name, keys,
                         vals, rem, nops, &err, &msg)) {
        exec_error(c, "org.apache.kafka.common.errors.TimeoutException: "
                      "alterClientQuotas failed");
        rc = 1;
    } else if (err) {
        char m[512];
        snprintf(m, sizeof(m), "%s: %s", tool_java_exception(err),
                 msg ? msg : tool_error_message(err));
        exec_error(c, m);
        rc = 1;
    } else {
        const char *what = !strcmp(type, "user") ? "user"
                           : !strcmp(type, "ip") ? "ip"
                                                 : "client";
        if (e->is_default)
            printf(
                "Completed updating default config for %ss in the cluster.\n",
                what);
        else
            printf("Completed updating config for %s %s.\n", what, e->name);
    }
    free(msg);
    free(keys);
    free(vals);
    free(rem);
    return rc;
}

/* ---- SCRAM credentials (users) ------------------------------------------ */

static int scram_mechanism(const char *name) {
    return !strcmp(name, "SCRAM-SHA-256")   ? 1
           : !strcmp(name, "SCRAM-SHA-512") ? 2
                                            : 0;
}

static bool is_quota_key(const char *k) {
    return !strcmp(k, "producer_byte_rate") ||
           !strcmp(k, "consumer_byte_rate") ||
           !strcmp(k, "request_percentage") ||
           !strcmp(k, "controller_mutation_rate");
}

/* Kafka's describeClientQuotaAndUserScramCredentialConfigs, SCRAM part:
 * one line per user with credentials (a named user without any prints
 * nothing). */
static int describe_scram(cfg_ctx *c, entity *e) {
    kc_scram_user *u;
    int n;
    int16_t top;
    char *top_msg;
    const char *names[1] = {e->name};
    if (!kc_describe_scram(&c->kc, names, e->name ? 1 : 0, &u, &n, &top,
                           &top_msg)) {
        exec_error(c, "org.apache.kafka.common.errors.TimeoutException: "
                      "describeUserScramCredentials failed");
        return 1;
    }
    int rc = 0;
    if (top) {
        char m[512];
        snprintf(m, sizeof(m), "%s: %s", tool_java_exception(top),
                 top_msg ? top_msg : tool_error_message(top));
        exec_error(c, m);
        rc = 1;
    }
    for (int i = 0; i < n && !rc; i++) {
        if (u[i].error == 91) /* RESOURCE_NOT_FOUND: not listed */
            continue;
        if (u[i].error) {
            const char *cls = strrchr(tool_java_exception(u[i].error), '.');
            printf("Error retrieving SCRAM credential configs for "
                   "user-principal '%s': %s: %s\n",
                   u[i].user, cls ? cls + 1 : "ApiException",
                   u[i].error_message ? u[i].error_message
                                      : tool_error_message(u[i].error));
            continue;
        }
        printf("SCRAM credential configs for user-principal '%s' are ",
               u[i].user);
        for (int k = 0; k < u[i].n; k++)
            printf("%s%s=iterations=%d", k ? ", " : "",
                   u[i].mechanisms[k] == 1   ? "SCRAM-SHA-256"
                   : u[i].mechanisms[k] == 2 ? "SCRAM-SHA-512"
                                             : "UNKNOWN",
                   u[i].iterations[k]);
        printf("\n");
    }
    free(top_msg);
    kc_scram_users_free(u, n);
    return rc;
}

/* Kafka's ScramFormatter.secureRandomBytes: a random 130-bit number in
 * base 36, as bytes. */
static size_t scram_salt(uint8_t out[32]) {
    uint8_t r[17];
    if (RAND_bytes(r, sizeof r) != 1)
        return 0;
    r[0] &= 0x03; /* 130 bits */
    size_t n = 0;
    /* repeated division of the big-endian number by 36 */
    uint8_t digits[32];
    for (;;) {
        unsigned rem = 0;
        bool zero = true;
        for (size_t i = 0; i < sizeof r; i++) {
            unsigned cur = rem * 256 + r[i];
            r[i] = (uint8_t)(cur / 36);
            rem = cur % 36;
            zero &= r[i] == 0;
        }
        digits[n++] = (uint8_t)(rem < 10 ? '0' + rem : 'a' + rem - 10);
        if (zero || n == sizeof digits)
            break;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = digits[n - 1 - i];
    return n;
}

/* ConfigCommand.alterUserScramCredentialConfigs for one user. */
static int alter_scram(cfg_ctx *c, entity *e, const tool_props *add,
                       char **dels, int ndel) {
    kc_scram_op ops[8];
    uint8_t salts[8][32], salted[8][64];
    int nops = 0;
    for (int i = 0; i < ndel && nops < 8; i++)
        ops[nops++] = (kc_scram_op){
            .mechanism = (int8_t)scram_mechanism(dels[i]), .remove = true};
    for (int i = 0; i < add->n && nops < 8; i++) {
        int mech = scram_mechanism(add->keys[i]);
        const char *v = add->vals[i];
        /* (?:iterations=(-?[0-9]*),)?password=(.*) */
        const char *pw = NULL;
        long long it = 4096;
        if (!strncmp(v, "iterations=", 11)) {
            const char *p = v + 11, *q = p;
            if (*q == '-')
                q++;
            while (*q >= '0' && *q <= '9')
                q++;
            if (!strncmp(q, ",password=", 10)) {
                char num[32];
                snprintf(num, sizeof num, "%.*s", (int)(q - p), p);
                if (*num && strcmp(num, "-1"))
                    it = atoll(num);
                pw = q + 10;
            }
        }
        if (!pw && !strncmp(v, "password=", 9))
            pw = v + 9;
        if (!pw) {
            fprintf(stderr, "Invalid credential property %s=%s\n",
                    mech == 1 ? "SCRAM_SHA_256" : "SCRAM_SHA_512", v);
            return 1;
        }
        if (it < 4096) {
            fprintf(stderr,
                    "Iterations %lld is less than the minimum 4096 required "
                    "for %s\n",
                    it, add->keys[i]);
            return 1;
        }
        kc_scram_op *o = &ops[nops];
        o->mechanism = (int8_t)mech;
        o->remove = false;
        o->iterations = it > INT32_MAX ? INT32_MAX : (int32_t)it;
        o->salt_len = scram_salt(salts[nops]);
        o->salt = salts[nops];
        const EVP_MD *md = mech == 1 ? EVP_sha256() : EVP_sha512();
        o->salted_len = (size_t)EVP_MD_size(md);
        /* Kafka's ScramFormatter.hi: PBKDF2-HMAC over the UTF-8 password */
        if (o->salt_len == 0 ||
            PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), o->salt, (int)o->salt_len,
                              o->iterations, md, (int)o->salted_len,
                              salted[nops]) != 1) {
            fprintf(stderr, "cannot compute the salted password\n");
            return 1;
        }
        o->salted = salted[nops];
        nops++;
    }
    int16_t err;
    char *msg = NULL;
    if (!kc_alter_scram(&c->kc, e->name, ops, nops, &err, &msg)) {
        exec_error(c, "org.apache.kafka.common.errors.TimeoutException: "
                      "alterUserScramCredentials failed");
        return 1;
    }
    if (err) {
        char m[600];
        snprintf(m, sizeof(m),
                 "java.util.concurrent.ExecutionException: %s: %s",
                 tool_java_exception(err), msg ? msg : tool_error_message(err));
        exec_error(c, m);
        free(msg);
        return 1;
    }
    free(msg);
    printf("Completed updating config for user %s.\n", e->name);
    return 0;
}

/* ConfigCommand's checks for users/clients before altering; returns -1 to
 * go on with quotas, else the exit code (SCRAM handled here). */
static int alter_users_clients(cfg_ctx *c, entity *e, const tool_props *add,
                               char **dels, int ndel) {
    bool users = !strcmp(e->type_name, "users");
    if (strcmp(e->type_name, "users") && strcmp(e->type_name, "clients"))
        return -1;
    int nscram_add = 0, nscram_del = 0, nquota = 0;
    buf unknown_add, unknown_del;
    buf_init(&unknown_add, 64);
    buf_init(&unknown_del, 64);
    for (int i = 0; i < add->n; i++) {
        bool sc = scram_mechanism(add->keys[i]) != 0;
        nscram_add += sc;
        nquota += is_quota_key(add->keys[i]);
        if ((!sc || !users) && !is_quota_key(add->keys[i]))
            buf_printf(&unknown_add, "%s%s", unknown_add.len ? ", " : "",
                       add->keys[i]);
    }
    for (int i = 0; i < ndel; i++) {
        bool sc = scram_mechanism(dels[i]) != 0;
        nscram_del += sc;
        nquota += is_quota_key(dels[i]);
        if ((!sc || !users) && !is_quota_key(dels[i]))
            buf_printf(&unknown_del, "%s%s", unknown_del.len ? ", " : "",
                       dels[i]);
    }
    buf_put_u8(&unknown_add, 0);
    buf_put_u8(&unknown_del, 0);
    int rc = -1;
    if (unknown_add.len > 1) {
        fprintf(stderr,
                "Only quota %sconfigs can be added for '%s' using "
                "--bootstrap-server. Unexpected config names: Set(%s)\n",
                users ? "and SCRAM credential " : "", e->type_name,
                (char *)unknown_add.data);
        rc = 1;
    } else if (unknown_del.len > 1) {
        fprintf(stderr,
                "Only quota %sconfigs can be deleted for '%s' using "
                "--bootstrap-server. Unexpected config names: List(%s)\n",
                users ? "and SCRAM credential " : "", e->type_name,
                (char *)unknown_del.data);
        rc = 1;
    } else if (nscram_add || nscram_del) {
        if (e->is_default) {
            fprintf(stderr,
                    "The use of --entity-default or --user-defaults is not "
                    "allowed with User SCRAM Credentials using "
                    "--bootstrap-server.\n");
            rc = 1;
        } else if (nquota) {
            fprintf(stderr,
                    "Cannot alter both quota and SCRAM credential configs "
                    "simultaneously for 'users' using --bootstrap-server.\n");
            rc = 1;
        } else {
            rc = alter_scram(c, e, add, dels, ndel);
        }
    }
    buf_free(&unknown_add);
    buf_free(&unknown_del);
    return rc;
}

static int do_describe(cfg_ctx *c, entity *e) {
    int8_t type = res_type(e->type_name);
    if (!type) { /* users/clients/ips: client quotas (+ users' SCRAM) */
        int rc = describe_quotas(c, e);
        if (!rc && !strcmp(e->type_name, "users") && !e->is_default)
            rc = describe_scram(c, e);
        return rc;
    }
    char label[512];
    if (type == KC_RES_TOPIC) {
        if (e->name) {
            snprintf(label, sizeof(label), "topic %s", e->name);
            return describe_one(c, type, e->name, label, 1) ? 0 : 1;
        }
        kc_metadata md;
        if (!kc_metadata_get(&c->kc, NULL, -1, false, &md)) {
            exec_error(c, "metadata request failed");
            return 1;
        }
        char **names = xcalloc((size_t)md.ntopics + 1, sizeof(char *));
        for (int i = 0; i < md.ntopics; i++)
            names[i] = md.topics[i].name;
        qsort(names, (size_t)md.ntopics, sizeof(char *), tool_strcmp_p);
        int rc = 0;
        for (int i = 0; i < md.ntopics && !rc; i++) {
            snprintf(label, sizeof(label), "topic %s", names[i]);
            rc = describe_one(c, type, names[i], label, 1) ? 0 : 1;
        }
        free(names);
        kc_metadata_free(&md);
        return rc;
    }
    if (type == KC_RES_BROKER) {
        if (e->is_default)
            return describe_one(c, type, "", "Dbrokers in the cluster", 3) ? 0
                                                                           : 1;
        if (e->name) {
            snprintf(label, sizeof(label), "broker %s", e->name);
            return describe_one(c, type, e->name, label, 2) ? 0 : 1;
        }
        kc_metadata md;
        if (!kc_metadata_get(&c->kc, (const char *const *)NULL, 0, false,
                             &md)) {
            exec_error(c, "metadata request failed");
            return 1;
        }
        int rc = 0;
        for (int i = 0; i < md.nbrokers && !rc; i++) {
            char id[16];
            snprintf(id, sizeof(id), "%d", md.brokers[i].id);
            snprintf(label, sizeof(label), "broker %s", id);
            rc = describe_one(c, type, id, label, 2) ? 0 : 1;
        }
        kc_metadata_free(&md);
        if (!rc)
            rc =
                describe_one(c, type, "", "Dbrokers in the cluster", 3) ? 0 : 1;
        return rc;
    }
    if (!e->name) {
        tool_usage_error(c->a,
                         "an entity name must be specified with --describe "
                         "of %s",
                         e->type_name);
        return 1;
    }
    if (type == KC_RES_BROKER_LOGGER) {
        snprintf(label, sizeof(label), "broker-logger %s", e->name);
        return describe_one(c, type, e->name, label, 6) ? 0 : 1;
    }
    if (type == KC_RES_CLIENT_METRICS) {
        snprintf(label, sizeof(label), "client-metric %s", e->name);
        return describe_one(c, type, e->name, label, 7) ? 0 : 1;
    }
    snprintf(label, sizeof(label), "group %s", e->name);
    return describe_one(c, type, e->name, label, 8) ? 0 : 1;
}

/* Splits "k1=v1,k2=[a,b],k3=v3" as Kafka's parseConfigsToBeAdded. Returns
 * the number of pairs or -1 when malformed. */
static int parse_add(const char *s, tool_props *out) {
    int n = 0;
    const char *p = s;
    while (*p) {
        const char *start = p;
        int depth = 0;
        while (*p && (depth > 0 || *p != ',')) {
            if (*p == '[')
                depth++;
            else if (*p == ']' && depth > 0)
                depth--;
            p++;
        }
        char *item = xstrndup(start, (size_t)(p - start));
        char *eq = strchr(item, '=');
        if (!eq || eq == item) {
            free(item);
            return -1;
        }
        *eq = 0;
        char *v = eq + 1;
        size_t vl = strlen(v);
        if (vl >= 2 && v[0] == '[' && v[vl - 1] == ']') {
            v[vl - 1] = 0;
            v++;
        }
        tool_props_set(out, item, v);
        free(item);
        n++;
        if (*p == ',')
            p++;
    }
    return n;
}

static int do_alter(cfg_ctx *c, entity *e) {
    int8_t type = res_type(e->type_name);
    tool_props add = {0};
    const char **adds;
    int nadd = tool_getall(c->a, "add-config", &adds);
    for (int i = 0; i < nadd; i++)
        if (parse_add(adds[i], &add) < 0) {
            fprintf(stderr, "requirement failed: Invalid entity config: all "
                            "configs to be added must be in the format "
                            "\"key=val\" or  \"key=[val1,val2]\" to group "
                            "values which contain commas.\n");
            tool_props_free(&add);
            return 1;
        }
    if (tool_has(c->a, "add-config-file") &&
        !tool_props_load(&add, tool_get(c->a, "add-config-file"))) {
        tool_props_free(&add);
        return 1;
    }
    const char **dels;
    int ndelarg = tool_getall(c->a, "delete-config", &dels);
    kc_alter_op *ops = xcalloc((size_t)add.n + 64, sizeof(kc_alter_op));
    int nops = 0, cap = add.n + 64;
    for (int i = 0; i < add.n; i++)
        ops[nops++] = (kc_alter_op){add.keys[i], add.vals[i], 0};
    char **delnames = NULL;
    int ndel = 0;
    for (int i = 0; i < ndelarg; i++) {
        char *s = xstrdup(dels[i]), *save = NULL;
        for (char *t = strtok_r(s, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            while (*t == ' ')
                t++;
            if (tool_props_get(&add, t)) {
                tool_usage_error(c->a,
                                 "Invalid alter config: the same key "
                                 "cannot be both added and deleted: %s",
                                 t);
                free(s);
                goto fail;
            }
            delnames = xrealloc(delnames, (size_t)(ndel + 1) * sizeof(char *));
            delnames[ndel++] = xstrdup(t);
            if (nops == cap) {
                cap *= 2;
                ops = xrealloc(ops, (size_t)cap * sizeof(kc_alter_op));
            }
            ops[nops++] = (kc_alter_op){delnames[ndel - 1], NULL, 1};
        }
        free(s);
    }
    if (nops == 0) {
        tool_usage_error(c->a,
                         "At least one of --add-config, --add-config-file, "
                         "or --delete-config must be specified with "
                         "--alter");
        goto fail;
    }
    if (!type && !e->name && !e->is_default) {
        tool_usage_error(c->a,
                         "an entity name must be specified with --alter of %s",
                         e->type_name);
        goto fail;
    }
    if (!type) {
        int qrc = alter_users_clients(c, e, &add, delnames, ndel);
        if (qrc < 0)
            qrc = alter_quotas(c, e, &add, delnames, ndel);
        for (int i = 0; i < ndel; i++)
            free(delnames[i]);
        free(delnames);
        free(ops);
        tool_props_free(&add);
        return qrc;
    }
    const char *name = e->is_default ? "" : e->name;
    if (!name) {
        tool_usage_error(c->a,
                         "an entity name must be specified with --alter "
                         "of %s",
                         e->type_name);
        goto fail;
    }
    int16_t err;
    char *msg = NULL;
    if (!kc_incremental_alter(&c->kc, type, name, ops, nops, &err, &msg)) {
        exec_error(c, "org.apache.kafka.common.errors.TimeoutException: "
                      "incrementalAlterConfigs failed");
        goto fail;
    }
    if (err) {
        char m[600];
        snprintf(m, sizeof(m), "%s: %s", tool_java_exception(err),
                 msg ? msg : tool_error_message(err));
        exec_error(c, m);
        free(msg);
        goto fail;
    }
    free(msg);
    if (type == KC_RES_BROKER && e->is_default)
        printf("Completed updating default config for brokers in the "
               "cluster.\n");
    else
        printf("Completed updating config for %s %s.\n",
               type == KC_RES_TOPIC           ? "topic"
               : type == KC_RES_BROKER        ? "broker"
               : type == KC_RES_BROKER_LOGGER ? "broker-logger"
               : type == KC_RES_GROUP         ? "group"
                                              : "client-metric",
               name);
    for (int i = 0; i < ndel; i++)
        free(delnames[i]);
    free(delnames);
    free(ops);
    tool_props_free(&add);
    return 0;
fail:
    for (int i = 0; i < ndel; i++)
        free(delnames[i]);
    free(delnames);
    free(ops);
    tool_props_free(&add);
    return 1;
}

int tool_configs_main(int argc, char **argv) {
    tool_args a;
    int rc = tool_parse(&a, "kafka-configs.sh",
                        "This tool helps to manipulate and describe entity "
                        "config for a topic, client, user, broker, ip, "
                        "client-metrics or group",
                        cfg_opts, SL_ARRAY_LEN(cfg_opts), argc, argv);
    if (rc >= 0)
        return rc;
    cfg_ctx c = {.a = &a, .argc = argc, .argv = argv};
    tool_props props = {0};
    bool open = false;
    if (tool_has(&a, "version")) {
        printf("4.3.1 (sluice)\n");
        rc = 0;
        goto out;
    }
    if (tool_has(&a, "describe") + tool_has(&a, "alter") != 1) {
        rc = tool_usage_error(&a, "Command must include exactly one action: "
                                  "--describe, --alter");
        goto out;
    }
    if (!tool_has(&a, "bootstrap-server") &&
        !tool_has(&a, "bootstrap-controller")) {
        rc = tool_usage_error(&a, "One of the required bootstrap flags must be "
                                  "set: --bootstrap-server or "
                                  "--bootstrap-controller");
        goto out;
    }
    if (tool_has(&a, "describe") &&
        (tool_has(&a, "add-config") || tool_has(&a, "delete-config"))) {
        rc = tool_usage_error(&a, "Option \"[describe]\" can't be used with "
                                  "option \"[add-config]\"");
        goto out;
    }
    if (tool_has(&a, "all") && !tool_has(&a, "describe")) {
        rc = tool_usage_error(&a, "Option \"[all]\" can't be used with option "
                                  "\"[alter]\"");
        goto out;
    }
    entity e;
    if (!resolve_entity(&c, &e)) {
        rc = 1;
        goto out;
    }
    if (tool_has(&a, "command-config") &&
        !tool_props_load(&props, tool_get(&a, "command-config"))) {
        rc = 1;
        goto out;
    }
    c.timeout_ms = tool_timeout_ms(&props, 60000);
    char err[256];
    if (!tool_connect(&a, &c.kc, c.timeout_ms, err, sizeof(err))) {
        char m[400];
        snprintf(m, sizeof(m),
                 "org.apache.kafka.common.errors.TimeoutException: Timed out "
                 "waiting for a node assignment. (%s)",
                 err);
        exec_error(&c, m);
        rc = 1;
        goto out;
    }
    open = true;
    /* Broker-specific resources go to that broker. */
    if ((!strcmp(e.type_name, "brokers") ||
         !strcmp(e.type_name, "broker-loggers")) &&
        e.name && !e.is_default) {
        kc_metadata md;
        if (kc_metadata_get(&c.kc, NULL, 0, false, &md)) {
            for (int i = 0; i < md.nbrokers; i++) {
                char id[16];
                snprintf(id, sizeof(id), "%d", md.brokers[i].id);
                if (!strcmp(id, e.name) &&
                    (strcmp(md.brokers[i].host, c.kc.host) ||
                     md.brokers[i].port != c.kc.port)) {
                    kc_conn nc;
                    if (kc_connect_node(&nc, md.brokers[i].host,
                                        md.brokers[i].port, c.timeout_ms, err,
                                        sizeof(err))) {
                        kc_close(&c.kc);
                        c.kc = nc;
                    }
                }
            }
            kc_metadata_free(&md);
        }
    }
    rc = tool_has(&a, "describe") ? do_describe(&c, &e) : do_alter(&c, &e);
out:
    if (open)
        kc_close(&c.kc);
    tool_props_free(&props);
    tool_args_free(&a);
    return rc;
}
