/*
 * config.h - the broker's configuration: ONE table (config.def) of Apache
 * Kafka's keys with type, default, valid range, documentation, whether the
 * key is a topic-level config and, for topic configs, the broker-level
 * synonyms (retention.ms <- log.retention.ms, log.retention.minutes,
 * log.retention.hours).
 *
 * Layers applied in order: defaults, server.properties, the environment
 * (bitnami KAFKA_CFG_LOG_DIRS, confluent KAFKA_LOG_DIRS), --override k=v;
 * later dynamic broker configs (AlterConfigs, persisted as ConfigRecords).
 * An invalid value fails with a message naming the key; an unknown key warns.
 *
 * Topic configs: a topic keeps only its overrides (name=value strings, in the
 * metadata image); brk_topic_cfg_* resolve override -> broker synonyms ->
 * default, as Kafka's LogConfig does.
 *
 * Ownership: brk_config owns all its strings. Threading: loop thread only
 * (built before the loop starts; dynamic changes happen on the loop).
 */
#ifndef SL_BROKER_CONFIG_H
#define SL_BROKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

typedef enum {
    CFG_BOOL,
    CFG_INT,   /* int32 */
    CFG_SHORT, /* int16 */
    CFG_LONG,  /* int64 */
    CFG_DOUBLE,
    CFG_STRING,
    CFG_LIST, /* comma-separated */
    CFG_PASSWORD,
    CFG_CLASS,
} brk_cfg_type;

/* Flags (config.def is generated; see tools/kafka-configdef/). */
#define CFG_F_TOPIC 1u   /* a topic-level config (retention.ms ...) */
#define CFG_F_DYNAMIC 2u /* broker config that may be altered at runtime */
#define CFG_F_NULLDEF 4u /* default is null */
#define CFG_F_SENSITIVE 8u
#define CFG_F_GROUP 16u      /* a group-level config */
#define CFG_F_PER_BROKER 32u /* dynamic only per broker, not cluster-wide */
#define CFG_F_NOIMPL 64u     /* accepted and stored; no effect yet */
#define CFG_F_INTERNAL 128u  /* Kafka internal: settable, never described */
#define CFG_F_QUOTA 256u     /* DynamicConfig.Broker quota: never described */
#define CFG_F_CLIENT_METRICS 512u /* a client-metrics resource config */
#define CFG_F_REQUIRED 1024u      /* Kafka has no default */
#define CFG_F_ICASE 2048u         /* valid values compare case-insensitively */
#define CFG_F_NONEMPTY 4096u      /* string must be non-empty */
#define CFG_F_PLUGIN                                                           \
    8192u /* read by a Kafka plugin (authorizer), not by                       \
             KafkaConfig: known, never described */
/* Not broker keys (looked up by their own find functions). */
#define CFG_F_NOT_BROKER (CFG_F_TOPIC | CFG_F_GROUP | CFG_F_CLIENT_METRICS)

typedef enum {
#define CFG(id, name, type, def, min, max, valid, flags, synonyms, doc) id,
#include "broker/config.def"
#undef CFG
    BRK_CFG_COUNT
} brk_cfg_id;

typedef struct brk_cfg_def {
    const char *name;
    brk_cfg_type type;
    const char *def;       /* default as text; NULL when null */
    const char *min, *max; /* numeric range (inclusive) as Kafka prints it,
                              NULL: unbounded */
    const char *valid;     /* "a|b|c" allowed values (STRING/LIST), or NULL */
    unsigned flags;
    const char *synonyms; /* topic configs:
                             "log.retention.ms:1,log.retention.hours:3600000" */
    const char *doc;
} brk_cfg_def;

extern const brk_cfg_def brk_cfg_defs[BRK_CFG_COUNT];

/* Where a value comes from (DescribeConfigs ConfigSource). */
typedef enum {
    CFG_SRC_UNKNOWN = 0,
    CFG_SRC_DYNAMIC_TOPIC = 1,
    CFG_SRC_DYNAMIC_BROKER = 2,
    CFG_SRC_DYNAMIC_DEFAULT_BROKER = 3,
    CFG_SRC_STATIC_BROKER = 4,
    CFG_SRC_DEFAULT = 5,
    CFG_SRC_DYNAMIC_BROKER_LOGGER = 6,
    CFG_SRC_CLIENT_METRICS = 7,
    CFG_SRC_GROUP = 8,
} brk_cfg_source;

typedef struct brk_cfg_val {
    char *text; /* NULL when the value is null */
    brk_cfg_source src;
    int64_t i; /* BOOL/INT/SHORT/LONG */
    double d;  /* DOUBLE */
} brk_cfg_val;

typedef struct brk_config {
    brk_cfg_val v[BRK_CFG_COUNT];     /* effective broker values */
    char *static_text[BRK_CFG_COUNT]; /* file/env/override value or NULL */
    char *dyn_broker[BRK_CFG_COUNT];  /* dynamic per-broker value or NULL */
    char *dyn_default[BRK_CFG_COUNT]; /* dynamic cluster default or NULL */
    char *config_file;
} brk_config;

/* Defaults only. */
void brk_config_init(brk_config *cfg);
void brk_config_free(brk_config *cfg);
/* Id of a broker key, or -1. */
int brk_config_find(const char *name);
/* Id of a topic-level key (CFG_F_TOPIC), or -1. */
int brk_config_find_topic(const char *name);
/* Id of a group-level key (CFG_F_GROUP), or -1. */
int brk_config_find_group(const char *name);
/* Id of a client-metrics key (CFG_F_CLIENT_METRICS), or -1. */
int brk_config_find_client_metrics(const char *name);
/* Logs, for each key set in the static layers (file, environment,
 * --override) that Sluice accepts but does not act on yet (CFG_F_NOIMPL),
 * that it has no effect. Returns how many. */
int brk_config_report_unimplemented(const brk_config *cfg);

/* Sets one static value from the file/env/override (src STATIC_BROKER).
 * Returns 0, or -1 with a message naming the key in err (invalid value).
 * Unknown keys return 1 (the caller warns). */
int brk_config_set(brk_config *cfg, const char *name, const char *value,
                   char *err, size_t errlen);
/* Validates text for key id (type, range, valid values). 0 or -1 + err. */
int brk_config_validate(int id, const char *text, char *err, size_t errlen);
/* Loads a java-properties file (key=value or key: value, # and ! comments,
 * backslash continuations). 0, or -1 with err. Unknown keys are warned. */
int brk_config_load_file(brk_config *cfg, const char *path, char *err,
                         size_t errlen);
/* Applies KAFKA_CFG_* and KAFKA_* variables from envp. 0 or -1 with err. */
int brk_config_load_env(brk_config *cfg, char **envp, char *err, size_t errlen);
/* Cross-key checks and derived values after all layers (log.dirs from
 * log.dir, node.id, listeners...). 0 or -1 with err. */
int brk_config_finish(brk_config *cfg, char *err, size_t errlen);

/* process.roles as a set (Kafka's KafkaConfig.processRoles): BRK_ROLE_BROKER
 * and/or BRK_ROLE_CONTROLLER; 0 for an unset or invalid value (which
 * brk_config_finish refuses). */
enum { BRK_ROLE_BROKER = 1, BRK_ROLE_CONTROLLER = 2 };
int brk_cfg_roles(const brk_config *cfg);
/* Dynamic broker config (ConfigRecord BROKER). value NULL deletes.
 * default_scope: resource name "" (cluster-wide default). */
void brk_config_set_dynamic(brk_config *cfg, int id, const char *value,
                            bool default_scope);

static inline int64_t brk_cfg_i64(const brk_config *cfg, brk_cfg_id id) {
    return cfg->v[id].i;
}
static inline const char *brk_cfg_str(const brk_config *cfg, brk_cfg_id id) {
    return cfg->v[id].text;
}
static inline bool brk_cfg_bool(const brk_config *cfg, brk_cfg_id id) {
    return cfg->v[id].i != 0;
}

/* Topic configs. overrides: n name/value pairs (a topic's dynamic configs). */
typedef sl_kv brk_kv; /* core/util.h, shared with the metadata image */

/* The effective text of topic config id (CFG_F_TOPIC) for a topic with these
 * overrides; *src (may be NULL) gets where it came from. Returned text is
 * static/owned by cfg or the overrides, or written into tmp (size >= 32) for
 * unit conversions. NULL for a null value. */
const char *brk_topic_cfg_text(const brk_config *cfg, const brk_kv *ov,
                               size_t n, brk_cfg_id id, brk_cfg_source *src,
                               char *tmp);
/* Kafka's synonym list of topic config id (ConfigHelper.configSynonyms):
 * the broker synonyms at every level where they have a value (levels
 * outer: dynamic broker, dynamic default, static, default; names inner),
 * with everything before the first entry of the primary synonym dropped.
 * The topic override (if any) is NOT included. Returns the count. The
 * first entry's source is Kafka's reported source when the topic has no
 * override (DEFAULT_CONFIG when the list is empty). */
typedef struct brk_cfg_syn {
    const char *name;
    const char *value;
    brk_cfg_source src;
} brk_cfg_syn;
int brk_topic_cfg_synonyms(const brk_config *cfg, brk_cfg_id id,
                           brk_cfg_syn *out, int max);

int64_t brk_topic_cfg_i64(const brk_config *cfg, const brk_kv *ov, size_t n,
                          brk_cfg_id id);
double brk_topic_cfg_double(const brk_config *cfg, const brk_kv *ov, size_t n,
                            brk_cfg_id id);

/* A new metadata image whose config hooks (cluster/image.h) write the
 * dynamic broker configs into cfg and compute topics' log configs from it
 * (image_config.c). cfg must outlive the image. */
struct cl_image *brk_image_new(brk_config *cfg);

#endif
