/*
 * records.c - the controller's metadata record encoders, topic name rules
 * and replica placement (records.h).
 */
#include "controller/records.h"

#include <stdio.h>
#include <string.h>

#include "proto/errors.h"
#include "proto/gen/messages.h"

void ctl_rec_topic(buf *b, const char *name, const uint8_t id[16]) {
    proto_topic_record r;
    proto_topic_record_init(&r);
    r.name = proto_str_c(name);
    memcpy(r.topic_id.b, id, 16);
    cl_record_frame(b, PROTO_MD_TOPIC_RECORD, 0);
    proto_topic_record_encode(b, 0, &r);
}

void ctl_rec_partition(buf *b, const uint8_t topic_id[16], int32_t partition,
                       const int32_t *replicas, int16_t rf, const int32_t *isr,
                       int16_t n_isr) {
    proto_partition_record r;
    proto_partition_record_init(&r);
    r.partition_id = partition;
    memcpy(r.topic_id.b, topic_id, 16);
    r.replicas.n = rf;
    r.replicas.v = (int32_t *)replicas;
    r.isr.n = n_isr;
    r.isr.v = (int32_t *)isr;
    r.leader = isr[0];
    r.leader_epoch = 0;
    r.partition_epoch = 0;
    cl_record_frame(b, PROTO_MD_PARTITION_RECORD, 0);
    proto_partition_record_encode(b, 0, &r);
}

void ctl_rec_config(buf *b, int8_t resource_type, const char *resource,
                    const char *name, const char *value) {
    proto_config_record r;
    proto_config_record_init(&r);
    r.resource_type = resource_type;
    r.resource_name = proto_str_c(resource ? resource : "");
    r.name = proto_str_c(name);
    r.value = value ? proto_str_c(value) : PROTO_STR_NULL;
    cl_record_frame(b, PROTO_MD_CONFIG_RECORD, 0);
    proto_config_record_encode(b, 0, &r);
}

void ctl_rec_remove_topic(buf *b, const uint8_t topic_id[16]) {
    proto_remove_topic_record r;
    proto_remove_topic_record_init(&r);
    memcpy(r.topic_id.b, topic_id, 16);
    cl_record_frame(b, PROTO_MD_REMOVE_TOPIC_RECORD, 0);
    proto_remove_topic_record_encode(b, 0, &r);
}

void ctl_rec_producer_ids(buf *b, int32_t broker_id, int64_t broker_epoch,
                          int64_t next_producer_id) {
    proto_producer_ids_record r;
    proto_producer_ids_record_init(&r);
    r.broker_id = broker_id;
    r.broker_epoch = broker_epoch;
    r.next_producer_id = next_producer_id;
    cl_record_frame(b, PROTO_MD_PRODUCER_IDS_RECORD, 0);
    proto_producer_ids_record_encode(b, 0, &r);
}

void ctl_rec_feature_level(buf *b, const char *name, int16_t level) {
    proto_feature_level_record r;
    proto_feature_level_record_init(&r);
    r.name = proto_str_c(name);
    r.feature_level = level;
    cl_record_frame(b, PROTO_MD_FEATURE_LEVEL_RECORD, 0);
    proto_feature_level_record_encode(b, 0, &r);
}

/* Kafka's Topic.validate: non-empty, not "." or "..", at most 249 chars,
 * only [a-zA-Z0-9._-]; the messages of Kafka 4.3's detectInvalidTopic.
 * name is checked with all its len bytes (a NUL is an illegal character);
 * msg is a C string, so a name quoted in it ends at a NUL there. */
int16_t ctl_validate_topic_name(const char *name, size_t len, char *msg,
                                size_t msglen) {
    if (len == 0) {
        snprintf(msg, msglen,
                 "Topic name is invalid: the empty string is not allowed");
        return KERR_INVALID_TOPIC_EXCEPTION;
    }
    if ((len == 1 && name[0] == '.') || (len == 2 && !memcmp(name, "..", 2))) {
        snprintf(msg, msglen, "Topic name is invalid: '%.*s' is not allowed",
                 (int)len, name);
        return KERR_INVALID_TOPIC_EXCEPTION;
    }
    if (len > 249) {
        snprintf(msg, msglen,
                 "Topic name is invalid: the length of '%.*s' is longer than "
                 "the max allowed length 249",
                 (int)(len > 300 ? 300 : len), name);
        return KERR_INVALID_TOPIC_EXCEPTION;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
            snprintf(msg, msglen,
                     "Topic name is invalid: '%.*s' contains one or more "
                     "characters other than ASCII alphanumerics, '.', '_' "
                     "and '-'",
                     (int)len, name);
            return KERR_INVALID_TOPIC_EXCEPTION;
        }
    }
    return KERR_NONE;
}

int32_t ctl_live_brokers(const cl_image *img) {
    size_t n;
    const cl_broker *bs = cl_brokers(img, &n);
    int32_t live = 0;
    for (size_t i = 0; i < n; i++)
        live += !bs[i].fenced;
    return live;
}
