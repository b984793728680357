/* Unit tests: cl_image_dump is the exact inverse of cl_image_apply. A rich
 * image (features, brokers, topics with changed partitions and a removed
 * one, topic/group/client-metrics/broker configs, quotas, producer ids,
 * ACLs, SCRAM) is written out as records and applied to an empty image; the
 * two must be equal field by field, and writing the copy out again gives
 * the same bytes. */
#include <stdio.h>
#include <string.h>

#include "cluster/image.h"
#include "proto/gen/messages.h"
#include "test.h"

typedef struct hooks_seen {
    int calls;
    char last[128];
} hooks_seen;

static bool hk_key(void *ctx, const char *name) {
    (void)ctx;
    return !strcmp(name, "log.retention.ms");
}
static void hk_broker(void *ctx, const char *name, const char *value,
                      bool def_scope) {
    hooks_seen *h = ctx;
    h->calls++;
    snprintf(h->last, sizeof h->last, "%s=%s/%d", name, value ? value : "-",
             def_scope);
}
static void hk_topic(void *ctx, cl_topic *t) {
    (void)ctx;
    log_config_default(&t->log_cfg);
}

static void ap(cl_image *img, buf *b) {
    CHECK(cl_image_apply(img, b->data, b->len));
    buf_reset(b);
}

static void id16(uint8_t out[16], int v) {
    memset(out, 0, 16);
    out[0] = (uint8_t)v;
    out[15] = (uint8_t)(v * 7 + 1);
}

static void rec_feature(cl_image *img, buf *b, const char *n, int16_t l) {
    proto_feature_level_record r;
    proto_feature_level_record_init(&r);
    r.name = proto_str_c(n);
    r.feature_level = l;
    cl_record_frame(b, PROTO_MD_FEATURE_LEVEL_RECORD, 0);
    proto_feature_level_record_encode(b, 0, &r);
    ap(img, b);
}

static void rec_broker(cl_image *img, buf *b, int32_t id, const char *rack,
                       bool fenced, bool in_cs) {
    proto_register_broker_record r;
    proto_register_broker_record_init(&r);
    proto_register_broker_record_broker_endpoint e[2];
    for (int i = 0; i < 2; i++) {
        proto_register_broker_record_broker_endpoint_init(&e[i]);
        e[i].name = proto_str_c(i ? "CONTROLLER" : "PLAINTEXT");
        e[i].host = proto_str_c("localhost");
        e[i].port = (uint16_t)(9092 + id * 10 + i);
        e[i].security_protocol = 0;
    }
    r.broker_id = id;
    r.broker_epoch = 100 + id;
    id16(r.incarnation_id.b, 50 + id);
    r.end_points.n = 2;
    r.end_points.v = e;
    r.rack = rack ? proto_str_c(rack) : (proto_str){NULL, -1};
    r.fenced = fenced;
    r.in_controlled_shutdown = in_cs;
    cl_record_frame(b, PROTO_MD_REGISTER_BROKER_RECORD, 1);
    proto_register_broker_record_encode(b, 1, &r);
    ap(img, b);
}

static void rec_topic(cl_image *img, buf *b, const char *name, int idv,
                      int parts) {
    proto_topic_record t;
    proto_topic_record_init(&t);
    t.name = proto_str_c(name);
    id16(t.topic_id.b, idv);
    cl_record_frame(b, PROTO_MD_TOPIC_RECORD, 0);
    proto_topic_record_encode(b, 0, &t);
    ap(img, b);
    for (int p = 0; p < parts; p++) {
        proto_partition_record r;
        proto_partition_record_init(&r);
        id16(r.topic_id.b, idv);
        r.partition_id = p;
        int32_t reps[3] = {1 + p % 3, 1 + (p + 1) % 3, 1 + (p + 2) % 3};
        r.replicas.n = 3;
        r.replicas.v = reps;
        r.isr.n = 2;
        r.isr.v = reps;
        r.leader = reps[0];
        r.leader_epoch = 0;
        r.partition_epoch = 0;
        cl_record_frame(b, PROTO_MD_PARTITION_RECORD, 0);
        proto_partition_record_encode(b, 0, &r);
        ap(img, b);
    }
}

static void rec_change(cl_image *img, buf *b, int idv, int32_t p,
                       int32_t leader) {
    proto_partition_change_record r;
    proto_partition_change_record_init(&r);
    id16(r.topic_id.b, idv);
    r.partition_id = p;
    r.leader = leader;
    int32_t isr[1] = {leader};
    r.isr.n = 1;
    r.isr.v = isr;
    cl_record_frame(b, PROTO_MD_PARTITION_CHANGE_RECORD, 0);
    proto_partition_change_record_encode(b, 0, &r);
    ap(img, b);
}

static void rec_config(cl_image *img, buf *b, int8_t type, const char *res,
                       const char *name, const char *value) {
    proto_config_record r;
    proto_config_record_init(&r);
    r.resource_type = type;
    r.resource_name = proto_str_c(res);
    r.name = proto_str_c(name);
    r.value = value ? proto_str_c(value) : (proto_str){NULL, -1};
    cl_record_frame(b, PROTO_MD_CONFIG_RECORD, 0);
    proto_config_record_encode(b, 0, &r);
    ap(img, b);
}

static void rec_quota(cl_image *img, buf *b, const char *t1, const char *n1,
                      const char *t2, const char *n2, const char *key,
                      double v) {
    proto_client_quota_record r;
    proto_client_quota_record_init(&r);
    proto_client_quota_record_entity_data e[2];
    proto_client_quota_record_entity_data_init(&e[0]);
    proto_client_quota_record_entity_data_init(&e[1]);
    e[0].entity_type = proto_str_c(t1);
    e[0].entity_name = n1 ? proto_str_c(n1) : (proto_str){NULL, -1};
    if (t2) {
        e[1].entity_type = proto_str_c(t2);
        e[1].entity_name = n2 ? proto_str_c(n2) : (proto_str){NULL, -1};
    }
    r.entity.n = t2 ? 2 : 1;
    r.entity.v = e;
    r.key = proto_str_c(key);
    r.value = v;
    cl_record_frame(b, PROTO_MD_CLIENT_QUOTA_RECORD, 0);
    proto_client_quota_record_encode(b, 0, &r);
    ap(img, b);
}

static void rec_scram(cl_image *img, buf *b, const char *user, int8_t mech,
                      int32_t iters) {
    proto_user_scram_credential_record r;
    proto_user_scram_credential_record_init(&r);
    uint8_t salt[5] = {1, 2, 3, 4, (uint8_t)iters};
    uint8_t key[8] = {9, 8, 7, 6, 5, 4, 3, (uint8_t)mech};
    r.name = proto_str_c(user);
    r.mechanism = mech;
    r.salt = (proto_bytes){salt, 5};
    r.stored_key = (proto_bytes){key, 8};
    r.server_key = (proto_bytes){key, 7};
    r.iterations = iters;
    cl_record_frame(b, PROTO_MD_USER_SCRAM_CREDENTIAL_RECORD, 0);
    proto_user_scram_credential_record_encode(b, 0, &r);
    ap(img, b);
}

static void rec_acl(cl_image *img, buf *b, int idv, const char *res,
                    int8_t op) {
    proto_access_control_entry_record r;
    proto_access_control_entry_record_init(&r);
    id16(r.id.b, idv);
    r.resource_type = 2;
    r.resource_name = proto_str_c(res);
    r.pattern_type = 3;
    r.principal = proto_str_c("User:alice");
    r.host = proto_str_c("*");
    r.operation = op;
    r.permission_type = 3;
    cl_record_frame(b, PROTO_MD_ACCESS_CONTROL_ENTRY_RECORD, 0);
    proto_access_control_entry_record_encode(b, 0, &r);
    ap(img, b);
}

static void collect(void *arg, const uint8_t *v, size_t len) {
    buf *out = arg;
    buf_put_be32(out, (uint32_t)len);
    buf_put(out, v, len);
}

typedef struct apply_ctx {
    cl_image *img;
    int n;
    bool ok;
} apply_ctx;

static void apply_sink(void *arg, const uint8_t *v, size_t len) {
    apply_ctx *a = arg;
    a->n++;
    if (!cl_image_apply(a->img, v, len))
        a->ok = false;
}

static bool str_eq(const char *a, const char *b) {
    return a && b ? !strcmp(a, b) : a == b;
}

/* Field-by-field equality through the public accessors. */
static void check_equal(cl_image *a, cl_image *b) {
    size_t na, nb;
    const cl_feature *fa = cl_features(a, &na), *fb = cl_features(b, &nb);
    CHECK_EQ(na, nb);
    for (size_t i = 0; i < na && i < nb; i++) {
        bool found = false;
        for (size_t j = 0; j < nb; j++)
            found |=
                !strcmp(fa[i].name, fb[j].name) && fa[i].level == fb[j].level;
        CHECK(found);
    }
    const cl_broker *ba = cl_brokers(a, &na), *bb = cl_brokers(b, &nb);
    CHECK_EQ(na, nb);
    for (size_t i = 0; i < na && i < nb; i++) {
        CHECK_EQ(ba[i].id, bb[i].id);
        CHECK_EQ(ba[i].epoch, bb[i].epoch);
        CHECK(!memcmp(ba[i].incarnation_id, bb[i].incarnation_id, 16));
        CHECK(str_eq(ba[i].rack, bb[i].rack));
        CHECK_EQ(ba[i].fenced, bb[i].fenced);
        CHECK_EQ(ba[i].in_controlled_shutdown, bb[i].in_controlled_shutdown);
        CHECK_EQ(ba[i].n_endpoints, bb[i].n_endpoints);
        for (int j = 0; j < ba[i].n_endpoints && j < bb[i].n_endpoints; j++) {
            CHECK_STR(ba[i].endpoints[j].name, bb[i].endpoints[j].name);
            CHECK_STR(ba[i].endpoints[j].host, bb[i].endpoints[j].host);
            CHECK_EQ(ba[i].endpoints[j].port, bb[i].endpoints[j].port);
        }
    }
    cl_topic **ta = cl_topics(a, &na), **tb = cl_topics(b, &nb);
    CHECK_EQ(na, nb);
    for (size_t i = 0; i < na && i < nb; i++) {
        CHECK_STR(ta[i]->name, tb[i]->name);
        CHECK(!memcmp(ta[i]->id, tb[i]->id, 16));
        CHECK(cl_topic_find_id(b, ta[i]->id) == tb[i]);
        CHECK_EQ(ta[i]->n_partitions, tb[i]->n_partitions);
        for (int32_t p = 0; p < ta[i]->n_partitions; p++) {
            cl_partition *x = ta[i]->parts[p], *y = tb[i]->parts[p];
            CHECK(x && y);
            if (!x || !y)
                continue;
            CHECK_EQ(x->leader, y->leader);
            CHECK_EQ(x->leader_epoch, y->leader_epoch);
            CHECK_EQ(x->partition_epoch, y->partition_epoch);
            CHECK_EQ(x->n_replicas, y->n_replicas);
            CHECK_EQ(x->n_isr, y->n_isr);
            CHECK(!memcmp(x->replicas, y->replicas,
                          (size_t)x->n_replicas * sizeof(int32_t)));
            CHECK(!memcmp(x->isr, y->isr, (size_t)x->n_isr * sizeof(int32_t)));
        }
        CHECK_EQ(ta[i]->n_configs, tb[i]->n_configs);
        for (size_t k = 0; k < ta[i]->n_configs; k++)
            CHECK(str_eq(ta[i]->configs[k].value,
                         cl_topic_config(tb[i], ta[i]->configs[k].name)));
    }
    int8_t types[3] = {32, 16, 4};
    const char *res[4] = {"g1", "cm1", "", "1"};
    for (int t = 0; t < 3; t++)
        for (int r = 0; r < 4; r++) {
            sl_kv ka[8], kb[8];
            size_t ca = cl_resource_configs(a, types[t], res[r], ka, 8);
            size_t cb = cl_resource_configs(b, types[t], res[r], kb, 8);
            CHECK_EQ(ca, cb);
            for (size_t i = 0; i < ca && i < cb; i++) {
                CHECK_STR(ka[i].name, kb[i].name);
                CHECK_STR(ka[i].value, kb[i].value);
            }
        }
    const cl_quota *qa = cl_quotas(a, &na), *qb = cl_quotas(b, &nb);
    CHECK_EQ(na, nb);
    for (size_t i = 0; i < na && i < nb; i++) {
        CHECK_EQ(qa[i].n_ent, qb[i].n_ent);
        for (int j = 0; j < qa[i].n_ent && j < qb[i].n_ent; j++) {
            CHECK_STR(qa[i].etype[j], qb[i].etype[j]);
            CHECK(str_eq(qa[i].ename[j], qb[i].ename[j]));
        }
        CHECK_EQ(qa[i].n_vals, qb[i].n_vals);
        for (int j = 0; j < qa[i].n_vals && j < qb[i].n_vals; j++) {
            CHECK_STR(qa[i].key[j], qb[i].key[j]);
            CHECK(qa[i].val[j] == qb[i].val[j]);
        }
    }
    CHECK_EQ(cl_next_producer_id(a), cl_next_producer_id(b));
    const cl_acl *aa = cl_acls(a, &na), *ab = cl_acls(b, &nb);
    CHECK_EQ(na, nb);
    for (size_t i = 0; i < na && i < nb; i++) {
        CHECK(!memcmp(aa[i].id, ab[i].id, 16));
        CHECK_EQ(aa[i].operation, ab[i].operation);
        CHECK_STR(aa[i].resource_name, ab[i].resource_name);
        CHECK_STR(aa[i].principal, ab[i].principal);
        CHECK_STR(aa[i].host, ab[i].host);
    }
    const cl_scram *sa = cl_scram_creds(a, &na), *sb = cl_scram_creds(b, &nb);
    CHECK_EQ(na, nb);
    for (size_t i = 0; i < na && i < nb; i++) {
        CHECK_STR(sa[i].user, sb[i].user);
        CHECK_EQ(sa[i].mechanism, sb[i].mechanism);
        CHECK_EQ(sa[i].iterations, sb[i].iterations);
        CHECK_EQ(sa[i].salt_len, sb[i].salt_len);
        CHECK(!memcmp(sa[i].salt, sb[i].salt, (size_t)sa[i].salt_len));
        CHECK_EQ(sa[i].stored_key_len, sb[i].stored_key_len);
        CHECK(!memcmp(sa[i].stored_key, sb[i].stored_key,
                      (size_t)sa[i].stored_key_len));
        CHECK_EQ(sa[i].server_key_len, sb[i].server_key_len);
    }
}

TEST(cluster_image_dump_is_the_inverse_of_apply) {
    hooks_seen ha = {0}, hb = {0};
    cl_config_hooks hooks_a = {&ha, hk_key, hk_broker, hk_topic};
    cl_config_hooks hooks_b = {&hb, hk_key, hk_broker, hk_topic};
    cl_image *img = cl_image_new();
    cl_image_set_config_hooks(img, &hooks_a);
    buf b;
    buf_init(&b, 256);
    rec_feature(img, &b, "group.version", 1);
    rec_feature(img, &b, "metadata.version", 27);
    rec_feature(img, &b, "transaction.version", 2);
    rec_feature(img, &b, "transaction.version", 0); /* removed */
    rec_broker(img, &b, 1, "rack-a", false, false);
    rec_broker(img, &b, 2, NULL, true, false);
    rec_broker(img, &b, 3, "rack-b", false, true);
    rec_topic(img, &b, "orders", 1, 3);
    rec_topic(img, &b, "__consumer_offsets", 2, 2);
    rec_topic(img, &b, "gone", 3, 1);
    rec_topic(img, &b, "a-topic", 4, 1);
    rec_change(img, &b, 1, 1, 3); /* leader moves: epochs bump */
    rec_change(img, &b, 1, 1, 1);
    {
        proto_remove_topic_record r;
        proto_remove_topic_record_init(&r);
        id16(r.topic_id.b, 3);
        cl_record_frame(&b, PROTO_MD_REMOVE_TOPIC_RECORD, 0);
        proto_remove_topic_record_encode(&b, 0, &r);
        ap(img, &b);
    }
    rec_config(img, &b, 2, "orders", "retention.ms", "1000");
    rec_config(img, &b, 2, "orders", "cleanup.policy", "compact");
    rec_config(img, &b, 2, "orders", "retention.ms", NULL); /* deleted */
    rec_config(img, &b, 32, "g1", "consumer.session.timeout.ms", "50000");
    rec_config(img, &b, 16, "cm1", "interval.ms", "1000");
    rec_config(img, &b, 4, "", "no.such.key", "x");
    rec_config(img, &b, 4, "1", "log.retention.ms", "777");
    rec_quota(img, &b, "user", "alice", NULL, NULL, "producer_byte_rate", 1024);
    rec_quota(img, &b, "user", NULL, "client-id", "c1", "consumer_byte_rate",
              2048);
    rec_quota(img, &b, "user", "alice", NULL, NULL, "request_percentage", 50);
    rec_scram(img, &b, "alice", 1, 4096);
    rec_scram(img, &b, "bob", 2, 8192);
    rec_acl(img, &b, 9, "orders", 3);
    rec_acl(img, &b, 10, "payments", 4);
    {
        proto_producer_ids_record r;
        proto_producer_ids_record_init(&r);
        r.broker_id = 1;
        r.broker_epoch = 101;
        r.next_producer_id = 5000;
        cl_record_frame(&b, PROTO_MD_PRODUCER_IDS_RECORD, 0);
        proto_producer_ids_record_encode(&b, 0, &r);
        ap(img, &b);
    }
    CHECK_EQ(ha.calls, 1);

    buf d1, d2;
    buf_init(&d1, 1024);
    buf_init(&d2, 1024);
    cl_image_dump(img, collect, &d1);
    cl_image *copy = cl_image_new();
    cl_image_set_config_hooks(copy, &hooks_b);
    apply_ctx ac = {copy, 0, true};
    cl_image_dump(img, apply_sink, &ac);
    CHECK(ac.ok);
    CHECK(ac.n > 20);
    check_equal(img, copy);
    /* the broker key the node applies went to the copy's node too */
    CHECK_EQ(hb.calls, 1);
    CHECK_STR(hb.last, ha.last);
    /* and the copy writes out the same records */
    cl_image_dump(copy, collect, &d2);
    CHECK_EQ(d1.len, d2.len);
    CHECK(d1.len == d2.len && !memcmp(d1.data, d2.data, d1.len));

    /* an empty image writes nothing */
    cl_image *empty = cl_image_new();
    apply_ctx ae = {copy, 0, true};
    cl_image_dump(empty, apply_sink, &ae);
    CHECK_EQ(ae.n, 0);
    cl_image_free(empty);
    cl_image_free(copy);
    cl_image_free(img);
    buf_free(&d1);
    buf_free(&d2);
    buf_free(&b);
}

/* A follower installing a snapshot over its image: removals, then the
 * snapshot's records, give the snapshot's image. */
TEST(cluster_image_diff_then_dump_gives_the_new_image) {
    buf b;
    buf_init(&b, 256);
    cl_image *cur = cl_image_new();
    cl_image *next = cl_image_new();
    rec_feature(cur, &b, "metadata.version", 27);
    rec_feature(cur, &b, "kraft.version", 1);
    rec_broker(cur, &b, 1, "r", false, false);
    rec_broker(cur, &b, 2, NULL, false, false);
    rec_topic(cur, &b, "kept", 1, 2);
    rec_topic(cur, &b, "deleted", 2, 1);
    rec_topic(cur, &b, "recreated", 3, 1);
    rec_config(cur, &b, 2, "kept", "retention.ms", "5");
    rec_config(cur, &b, 2, "kept", "cleanup.policy", "compact");
    rec_config(cur, &b, 32, "g1", "consumer.session.timeout.ms", "50000");
    rec_quota(cur, &b, "user", "alice", NULL, NULL, "producer_byte_rate", 1);
    rec_quota(cur, &b, "user", "alice", NULL, NULL, "consumer_byte_rate", 2);
    rec_quota(cur, &b, "user", "bob", NULL, NULL, "producer_byte_rate", 3);
    rec_scram(cur, &b, "alice", 1, 4096);
    rec_scram(cur, &b, "bob", 1, 4096);
    rec_acl(cur, &b, 9, "kept", 3);
    rec_acl(cur, &b, 10, "deleted", 3);

    rec_feature(next, &b, "metadata.version", 27);
    rec_broker(next, &b, 1, "r2", true, false);
    rec_topic(next, &b, "kept", 1, 3); /* a partition more */
    rec_topic(next, &b, "recreated", 4, 2);
    rec_topic(next, &b, "new", 5, 1);
    rec_change(next, &b, 1, 0, 2);
    rec_config(next, &b, 2, "kept", "retention.ms", "6");
    rec_quota(next, &b, "user", "alice", NULL, NULL, "producer_byte_rate", 7);
    rec_scram(next, &b, "alice", 1, 8192);
    rec_acl(next, &b, 9, "kept", 3);
    rec_acl(next, &b, 11, "new", 4);

    apply_ctx ac = {cur, 0, true};
    cl_image_diff_removals(cur, next, apply_sink, &ac);
    CHECK(ac.ok);
    CHECK(ac.n >= 8);
    cl_image_dump(next, apply_sink, &ac);
    CHECK(ac.ok);
    check_equal(cur, next);
    cl_image_free(cur);
    cl_image_free(next);
    buf_free(&b);
}
