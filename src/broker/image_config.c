/*
 * image_config.c - the node's side of the metadata image's config hooks
 * (cluster/image.h): the image is pure, so the dynamic broker configs its
 * ConfigRecords carry are written into brk_config here, and a topic's
 * effective log config (overrides over the broker's) is computed here.
 * Threading: loop thread only (the image's).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "broker/config.h"
#include "cluster/image.h"

static bool broker_key(void *ctx, const char *name) {
    (void)ctx;
    int id = brk_config_find(name);
    /* a key KafkaConfig does not define (or a plugin's) is kept and
     * described by the image, as Kafka keeps it, with no effect */
    return id >= 0 && !(brk_cfg_defs[id].flags & CFG_F_PLUGIN);
}

static void broker_config(void *ctx, const char *name, const char *value,
                          bool def_scope) {
    brk_config *cfg = ctx;
    int id = brk_config_find(name);
    if (id >= 0)
        brk_config_set_dynamic(cfg, id, value, def_scope);
}

/* Kafka's LogConfig of a topic: its overrides over the broker's values. */
static void topic_log_config(void *ctx, cl_topic *t) {
    const brk_config *cfg = ctx;
    log_config *lc = &t->log_cfg;
    const brk_kv *ov = t->configs;
    size_t n = t->n_configs;
    memset(lc, 0, sizeof *lc);
    lc->segment_bytes =
        (int32_t)brk_topic_cfg_i64(cfg, ov, n, BRK_TCFG_SEGMENT_BYTES);
    lc->segment_ms = brk_topic_cfg_i64(cfg, ov, n, BRK_TCFG_SEGMENT_MS);
    lc->retention_ms = brk_topic_cfg_i64(cfg, ov, n, BRK_TCFG_RETENTION_MS);
    lc->retention_bytes =
        brk_topic_cfg_i64(cfg, ov, n, BRK_TCFG_RETENTION_BYTES);
    lc->max_message_bytes =
        (int32_t)brk_topic_cfg_i64(cfg, ov, n, BRK_TCFG_MAX_MESSAGE_BYTES);
    lc->index_interval_bytes =
        (int32_t)brk_topic_cfg_i64(cfg, ov, n, BRK_TCFG_INDEX_INTERVAL_BYTES);
    lc->segment_index_bytes =
        (int32_t)brk_topic_cfg_i64(cfg, ov, n, BRK_TCFG_SEGMENT_INDEX_BYTES);
    lc->flush_messages = brk_topic_cfg_i64(cfg, ov, n, BRK_TCFG_FLUSH_MESSAGES);
    lc->flush_ms = brk_topic_cfg_i64(cfg, ov, n, BRK_TCFG_FLUSH_MS);
    lc->min_insync_replicas =
        (int32_t)brk_topic_cfg_i64(cfg, ov, n, BRK_TCFG_MIN_INSYNC_REPLICAS);
    lc->timestamp_before_max_ms =
        brk_topic_cfg_i64(cfg, ov, n, BRK_TCFG_MESSAGE_TIMESTAMP_BEFORE_MAX_MS);
    lc->timestamp_after_max_ms =
        brk_topic_cfg_i64(cfg, ov, n, BRK_TCFG_MESSAGE_TIMESTAMP_AFTER_MAX_MS);
    lc->delete_retention_ms =
        brk_topic_cfg_i64(cfg, ov, n, BRK_TCFG_DELETE_RETENTION_MS);
    lc->min_compaction_lag_ms =
        brk_topic_cfg_i64(cfg, ov, n, BRK_TCFG_MIN_COMPACTION_LAG_MS);
    lc->max_compaction_lag_ms =
        brk_topic_cfg_i64(cfg, ov, n, BRK_TCFG_MAX_COMPACTION_LAG_MS);
    lc->min_cleanable_dirty_ratio =
        brk_topic_cfg_double(cfg, ov, n, BRK_TCFG_MIN_CLEANABLE_DIRTY_RATIO);
    char tmp[32];
    const char *cp =
        brk_topic_cfg_text(cfg, ov, n, BRK_TCFG_CLEANUP_POLICY, NULL, tmp);
    lc->cleanup_policy = 0;
    if (cp && strstr(cp, "delete"))
        lc->cleanup_policy |= LOG_CLEANUP_DELETE;
    if (cp && strstr(cp, "compact"))
        lc->cleanup_policy |= LOG_CLEANUP_COMPACT;
    const char *ct =
        brk_topic_cfg_text(cfg, ov, n, BRK_TCFG_COMPRESSION_TYPE, NULL, tmp);
    static const char *const codecs[] = {"uncompressed", "gzip", "snappy",
                                         "lz4", "zstd"};
    lc->compression_type = LOG_COMPRESSION_PRODUCER;
    for (int i = 0; i < 5; i++)
        if (ct && !strcasecmp(ct, codecs[i]))
            lc->compression_type = i;
    const char *tt = brk_topic_cfg_text(
        cfg, ov, n, BRK_TCFG_MESSAGE_TIMESTAMP_TYPE, NULL, tmp);
    lc->message_timestamp_type = tt && !strcasecmp(tt, "LogAppendTime")
                                     ? LOG_TS_LOG_APPEND_TIME
                                     : LOG_TS_CREATE_TIME;
}

struct cl_image *brk_image_new(brk_config *cfg) {
    cl_image *img = cl_image_new();
    cl_config_hooks h = {
        .ctx = cfg,
        .broker_key = broker_key,
        .broker_config = broker_config,
        .topic_log_config = topic_log_config,
    };
    cl_image_set_config_hooks(img, &h);
    return img;
}
