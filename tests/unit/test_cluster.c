/* Unit tests: the metadata image changes only through KRaft records
 * (TopicRecord, PartitionRecord, PartitionChangeRecord, ConfigRecord,
 * RemoveTopicRecord) and its lookups by name and id. */
#include <stdio.h>
#include <string.h>

#include "broker/config.h"
#include "cluster/image.h"
#include "proto/gen/messages.h"
#include "test.h"

static void topic_rec(buf *b, const char *name, uint8_t idb) {
    proto_topic_record r;
    proto_topic_record_init(&r);
    r.name = proto_str_c(name);
    memset(r.topic_id.b, 0, 16);
    r.topic_id.b[0] = idb;
    r.topic_id.b[15] = idb;
    cl_record_frame(b, 2, 0);
    proto_topic_record_encode(b, 0, &r);
}

static void part_rec(buf *b, uint8_t idb, int32_t p, int32_t leader) {
    proto_partition_record r;
    proto_partition_record_init(&r);
    memset(r.topic_id.b, 0, 16);
    r.topic_id.b[0] = idb;
    r.topic_id.b[15] = idb;
    r.partition_id = p;
    int32_t reps[1] = {leader};
    r.replicas.n = 1;
    r.replicas.v = reps;
    r.isr.n = 1;
    r.isr.v = reps;
    r.leader = leader;
    r.leader_epoch = 0;
    r.partition_epoch = 0;
    cl_record_frame(b, 3, 0);
    proto_partition_record_encode(b, 0, &r);
}

static bool apply(cl_image *img, buf *b) {
    bool ok = cl_image_apply(img, b->data, b->len);
    buf_reset(b);
    return ok;
}

TEST(cluster_image_applies_records) {
    brk_config cfg;
    brk_config_init(&cfg);
    cl_image *img = brk_image_new(&cfg);
    buf b;
    buf_init(&b, 128);
    /* many topics: lookups by name (sorted) and id (hashed) */
    for (int i = 1; i <= 200; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%03d", i);
        topic_rec(&b, name, (uint8_t)i);
        CHECK(apply(img, &b));
        part_rec(&b, (uint8_t)i, 0, 1);
        CHECK(apply(img, &b));
    }
    CHECK_EQ(cl_topic_count(img), 200);
    uint8_t id[16] = {0};
    id[0] = id[15] = 77;
    cl_topic *t = cl_topic_find_id(img, id);
    CHECK(t != NULL);
    CHECK_STR(t->name, "t077");
    CHECK(cl_topic_find(img, "t077", 4) == t);
    CHECK(cl_topic_find(img, "t07", 3) == NULL);
    size_t n;
    cl_topic **all = cl_topics(img, &n);
    CHECK_STR(all[0]->name, "t001");
    CHECK_STR(all[199]->name, "t200");

    /* partitions grow, change, keep their pointers */
    part_rec(&b, 77, 1, 1);
    CHECK(apply(img, &b));
    CHECK_EQ(t->n_partitions, 2);
    cl_partition *p0 = t->parts[0];
    proto_partition_change_record pc;
    proto_partition_change_record_init(&pc);
    memcpy(pc.topic_id.b, id, 16);
    pc.partition_id = 0;
    pc.leader = 2;
    cl_record_frame(&b, 5, 0);
    proto_partition_change_record_encode(&b, 0, &pc);
    CHECK(apply(img, &b));
    CHECK(t->parts[0] == p0);
    CHECK_EQ(p0->leader, 2);
    CHECK_EQ(p0->leader_epoch, 1);
    CHECK_EQ(p0->n_isr, 1); /* isr null in the record: unchanged */

    /* topic config overrides feed the storage config */
    buf_reset(&b);
    proto_config_record cr;
    proto_config_record_init(&cr);
    cr.resource_type = 2;
    cr.resource_name = proto_str_c("t077");
    cr.name = proto_str_c("retention.ms");
    cr.value = proto_str_c("1234");
    cl_record_frame(&b, 4, 0);
    proto_config_record_encode(&b, 0, &cr);
    CHECK(apply(img, &b));
    CHECK_STR(cl_topic_config(t, "retention.ms"), "1234");
    CHECK_EQ(t->log_cfg.retention_ms, 1234);
    CHECK_EQ(t->log_cfg.segment_bytes, 1073741824);
    cr.value = PROTO_STR_NULL;
    cl_record_frame(&b, 4, 0);
    proto_config_record_encode(&b, 0, &cr);
    CHECK(apply(img, &b));
    CHECK(cl_topic_config(t, "retention.ms") == NULL);
    CHECK_EQ(t->log_cfg.retention_ms, 604800000);

    /* remove */
    proto_remove_topic_record rr;
    proto_remove_topic_record_init(&rr);
    memcpy(rr.topic_id.b, id, 16);
    cl_record_frame(&b, 9, 0);
    proto_remove_topic_record_encode(&b, 0, &rr);
    CHECK(apply(img, &b));
    CHECK(cl_topic_find_id(img, id) == NULL);
    CHECK(cl_topic_find(img, "t077", 4) == NULL);
    CHECK_EQ(cl_topic_count(img), 199);
    id[0] = id[15] = 78;
    CHECK(cl_topic_find_id(img, id) != NULL);

    /* garbage does not decode, unknown record types are skipped */
    const uint8_t junk[] = {1, 3, 0, 0xff, 0xff};
    CHECK(!cl_image_apply(img, junk, sizeof junk));
    const uint8_t unknown[] = {1, 99, 0};
    CHECK(cl_image_apply(img, unknown, sizeof unknown));
    buf_free(&b);
    cl_image_free(img);
    brk_config_free(&cfg);
}

/* The image is pure: a broker ConfigRecord reaches the node only through
 * the config hooks it registered (and every topic's log config is then
 * recomputed by them); with no hooks the key is kept and described, and
 * nothing else happens. */
typedef struct hook_log {
    int broker_calls, topic_calls;
    char name[64], value[64];
    bool def_scope;
} hook_log;
static bool hk_key(void *ctx, const char *name) {
    (void)ctx;
    return !strcmp(name, "log.retention.ms");
}
static void hk_broker(void *ctx, const char *name, const char *value,
                      bool def_scope) {
    hook_log *h = ctx;
    h->broker_calls++;
    snprintf(h->name, sizeof h->name, "%s", name);
    snprintf(h->value, sizeof h->value, "%s", value ? value : "(null)");
    h->def_scope = def_scope;
}
static void hk_topic(void *ctx, cl_topic *t) {
    hook_log *h = ctx;
    h->topic_calls++;
    log_config_default(&t->log_cfg);
    t->log_cfg.retention_ms = 1234;
}

static void broker_cfg_rec(buf *b, const char *name, const char *value) {
    proto_config_record r;
    proto_config_record_init(&r);
    r.resource_type = 4;
    r.resource_name = proto_str_c("");
    r.name = proto_str_c(name);
    r.value = proto_str_c(value);
    cl_record_frame(b, 4, 0);
    proto_config_record_encode(b, 0, &r);
}

TEST(cluster_image_config_flows_through_hooks) {
    buf b;
    buf_init(&b, 128);
    /* no hooks: kept as an unknown key, described, no effect */
    cl_image *img = cl_image_new();
    broker_cfg_rec(&b, "log.retention.ms", "5000");
    CHECK(apply(img, &b));
    sl_kv kv[4];
    CHECK_EQ(cl_resource_configs(img, 4, "", kv, 4), 1);
    topic_rec(&b, "t", 1);
    CHECK(apply(img, &b));
    CHECK_EQ(cl_topic_find(img, "t", 1)->log_cfg.retention_ms,
             (int64_t)7 * 24 * 3600 * 1000); /* log_config_default's */
    cl_image_free(img);

    /* with hooks: the node is told, and topics are recomputed */
    hook_log h = {0};
    cl_config_hooks hooks = {&h, hk_key, hk_broker, hk_topic};
    img = cl_image_new();
    cl_image_set_config_hooks(img, &hooks);
    topic_rec(&b, "t", 1);
    CHECK(apply(img, &b));
    CHECK_EQ(h.topic_calls, 1);
    broker_cfg_rec(&b, "log.retention.ms", "5000");
    CHECK(apply(img, &b));
    CHECK_EQ(h.broker_calls, 1);
    CHECK(!strcmp(h.name, "log.retention.ms"));
    CHECK(!strcmp(h.value, "5000"));
    CHECK(h.def_scope);
    CHECK_EQ(h.topic_calls, 2);
    CHECK_EQ(cl_resource_configs(img, 4, "", kv, 4), 0);
    CHECK_EQ(cl_topic_find(img, "t", 1)->log_cfg.retention_ms, 1234);
    /* a key the node does not apply stays in the image */
    broker_cfg_rec(&b, "no.such.key", "x");
    CHECK(apply(img, &b));
    CHECK_EQ(h.broker_calls, 1);
    CHECK_EQ(cl_resource_configs(img, 4, "", kv, 4), 1);
    cl_image_free(img);
    buf_free(&b);
}
