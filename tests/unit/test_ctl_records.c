/* Unit tests: the controller's record encoders (controller/records.h) read
 * back by the image that applies them, and Kafka's striped replica
 * placement (controller/placement.h) over the image's brokers. */
#include <string.h>

#include "cluster/image.h"
#include "controller/placement.h"
#include "controller/records.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "test.h"

static void apply(cl_image *img, const buf *b) {
    CHECK(cl_image_apply(img, b->data, b->len));
}

static void register_broker_cs(cl_image *img, int32_t id, const char *rack,
                               bool fenced, bool in_cs) {
    proto_register_broker_record r;
    proto_register_broker_record_init(&r);
    r.broker_id = id;
    r.rack = rack ? proto_str_c(rack) : PROTO_STR_NULL;
    r.broker_epoch = 10 + id;
    r.fenced = fenced;
    r.in_controlled_shutdown = in_cs;
    buf b;
    buf_init(&b, 64);
    cl_record_frame(&b, PROTO_MD_REGISTER_BROKER_RECORD, 1);
    proto_register_broker_record_encode(&b, 1, &r);
    apply(img, &b);
    buf_free(&b);
}

static void register_broker(cl_image *img, int32_t id, const char *rack,
                            bool fenced) {
    register_broker_cs(img, id, rack, fenced, false);
}

TEST(ctl_records_apply_to_the_image) {
    cl_image *img = cl_image_new();
    uint8_t id[16];
    memset(id, 7, sizeof id);
    buf b;
    buf_init(&b, 64);
    ctl_rec_topic(&b, "orders", id);
    apply(img, &b);
    const int32_t reps[2][2] = {{2, 1}, {1, 2}};
    const int32_t isr1[1] = {1};
    for (int p = 0; p < 2; p++) {
        b.len = 0;
        ctl_rec_partition(&b, id, p, reps[p], 2, p ? isr1 : reps[p], p ? 1 : 2);
        apply(img, &b);
    }
    b.len = 0;
    ctl_rec_config(&b, 2, "orders", "retention.ms", "1000");
    apply(img, &b);
    cl_topic *t = cl_topic_find(img, "orders", 6);
    CHECK(t != NULL);
    CHECK_EQ(t->n_partitions, 2);
    CHECK_EQ(t->parts[0]->leader, 2);
    CHECK_EQ(t->parts[1]->leader, 1);
    CHECK_EQ(t->parts[0]->n_isr, 2);
    CHECK_EQ(t->parts[1]->n_isr, 1);
    CHECK_EQ(t->parts[1]->replicas[1], 2);
    CHECK_EQ(t->n_configs, 1);
    CHECK(!strcmp(t->configs[0].name, "retention.ms"));
    CHECK(!strcmp(t->configs[0].value, "1000"));
    b.len = 0;
    ctl_rec_config(&b, 2, "orders", "retention.ms", NULL); /* delete */
    apply(img, &b);
    CHECK_EQ(t->n_configs, 0);

    b.len = 0;
    ctl_rec_producer_ids(&b, 1, 5, 2000);
    apply(img, &b);
    CHECK_EQ(cl_next_producer_id(img), 2000);

    b.len = 0;
    ctl_rec_feature_level(&b, "metadata.version", 30);
    apply(img, &b);
    size_t nf;
    const cl_feature *fs = cl_features(img, &nf);
    bool found = false;
    for (size_t i = 0; i < nf; i++)
        found |= !strcmp(fs[i].name, "metadata.version") && fs[i].level == 30;
    CHECK(found);

    b.len = 0;
    ctl_rec_remove_topic(&b, id);
    apply(img, &b);
    CHECK(cl_topic_find(img, "orders", 6) == NULL);
    buf_free(&b);
    cl_image_free(img);
}

TEST(ctl_place_replicas_checks_as_kafka) {
    cl_image *img = cl_image_new();
    int32_t out[8];
    char msg[400];
    CHECK_EQ(ctl_place_replicas(img, 1, 1, out, msg, sizeof msg),
             KERR_INVALID_REPLICATION_FACTOR);
    CHECK(strstr(msg, "All brokers are currently fenced") != NULL);
    register_broker(img, 1, NULL, false);
    register_broker(img, 2, NULL, true);
    CHECK_EQ(ctl_place_replicas(img, 1, 0, out, msg, sizeof msg),
             KERR_INVALID_REPLICATION_FACTOR);
    CHECK(strstr(msg, "must be positive") != NULL);
    CHECK_EQ(ctl_place_replicas(img, 1, 3, out, msg, sizeof msg),
             KERR_INVALID_REPLICATION_FACTOR);
    CHECK(strstr(msg, "The target replication factor of 3 cannot be reached "
                      "because only 2 broker(s) are registered") != NULL);
    /* A fenced broker may hold a replica, never the leader; it is not in
     * the ISR of a new partition. */
    for (int k = 0; k < 4; k++) {
        CHECK_EQ(ctl_place_replicas(img, 1, 2, out, msg, sizeof msg),
                 KERR_NONE);
        CHECK_EQ(out[0], 1);
        CHECK_EQ(out[1], 2);
    }
    int32_t isr[2];
    CHECK_EQ(ctl_active_replicas(img, out, 2, isr), 1);
    CHECK_EQ(isr[0], 1);
    /* a broker in controlled shutdown is neither placed nor in an ISR */
    register_broker_cs(img, 3, NULL, false, true);
    CHECK(!ctl_broker_active(img, 3));
    CHECK_EQ(ctl_place_replicas(img, 1, 3, out, msg, sizeof msg),
             KERR_INVALID_REPLICATION_FACTOR);
    CHECK(strstr(msg, "only 2 broker(s) are registered") != NULL);
    cl_image_free(img);
}

TEST(ctl_place_replicas_stripes_brokers_and_racks) {
    cl_image *img = cl_image_new();
    for (int32_t id = 1; id <= 3; id++)
        register_broker(img, id, NULL, false);
    int32_t out[12 * 2];
    char msg[400];
    CHECK_EQ(ctl_place_replicas(img, 12, 2, out, msg, sizeof msg), KERR_NONE);
    int leaders[4] = {0}, replicas[4] = {0};
    for (int p = 0; p < 12; p++) {
        int32_t a = out[p * 2], b = out[p * 2 + 1];
        CHECK(a != b);
        CHECK(a >= 1 && a <= 3 && b >= 1 && b <= 3);
        leaders[a]++;
        replicas[a]++;
        replicas[b]++;
    }
    for (int id = 1; id <= 3; id++) {
        CHECK_EQ(leaders[id], 4); /* leaders even over the brokers */
        CHECK_EQ(replicas[id], 8);
    }
    cl_image_free(img);

    /* Two racks of two: every partition has a replica in each rack. */
    img = cl_image_new();
    register_broker(img, 1, "a", false);
    register_broker(img, 2, "a", false);
    register_broker(img, 3, "b", false);
    register_broker(img, 4, "b", false);
    CHECK_EQ(ctl_place_replicas(img, 12, 2, out, msg, sizeof msg), KERR_NONE);
    int lead_a = 0;
    for (int p = 0; p < 12; p++) {
        int32_t a = out[p * 2], b = out[p * 2 + 1];
        CHECK((a <= 2) != (b <= 2));
        lead_a += a <= 2;
    }
    CHECK_EQ(lead_a, 6); /* leaders alternate between the racks */
    cl_image_free(img);
}

TEST(ctl_validate_topic_name_follows_kafka) {
    char msg[512];
    CHECK_EQ(ctl_validate_topic_name("ok.name-1_x", 11, msg, sizeof msg),
             KERR_NONE);
    CHECK_EQ(ctl_validate_topic_name("", 0, msg, sizeof msg),
             KERR_INVALID_TOPIC_EXCEPTION);
    CHECK(strstr(msg, "the empty string is not allowed") != NULL);
    CHECK_EQ(ctl_validate_topic_name("..", 2, msg, sizeof msg),
             KERR_INVALID_TOPIC_EXCEPTION);
    CHECK_EQ(ctl_validate_topic_name("a\0b", 3, msg, sizeof msg),
             KERR_INVALID_TOPIC_EXCEPTION);
    char longname[251];
    memset(longname, 'a', 250);
    longname[250] = 0;
    CHECK_EQ(ctl_validate_topic_name(longname, 250, msg, sizeof msg),
             KERR_INVALID_TOPIC_EXCEPTION);
    CHECK(strstr(msg, "max allowed length 249") != NULL);
    CHECK_EQ(ctl_validate_topic_name(longname, 249, msg, sizeof msg),
             KERR_NONE);
}
