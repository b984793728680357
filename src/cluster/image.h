/*
 * image.h - the metadata image: topics (names, ids, configs), partitions
 * (leader, leader epoch, partition epoch, replicas, ISR, adding and
 * removing replicas), broker
 * registrations and dynamic configs. It changes ONLY by applying KRaft
 * metadata records (TopicRecord, PartitionRecord, PartitionChangeRecord,
 * ConfigRecord, RemoveTopicRecord, RegisterBrokerRecord, ...), the same
 * records the controller writes to __cluster_metadata-0 and replays at start,
 * so a multi-node cluster later applies the very same stream.
 *
 * Ownership: the image owns every topic, partition and string in it. Pointers
 * (cl_topic *, cl_partition *) stay valid until the topic is removed (a
 * RemoveTopicRecord) or the image is freed; partitions added later do not
 * move existing ones.
 * Threading: loop thread only.
 */
#ifndef SL_CLUSTER_IMAGE_H
#define SL_CLUSTER_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/util.h"
#include "log/log.h"

typedef struct cl_topic cl_topic;

typedef struct cl_partition {
    cl_topic *topic;
    int32_t id;
    int32_t leader; /* node id, -1 if none */
    int32_t leader_epoch;
    int32_t partition_epoch;
    int32_t n_replicas, n_isr;
    int32_t *replicas; /* owned */
    int32_t *isr;      /* owned */
    /* A reassignment in progress (KIP-455): replicas holds the target and
     * the replicas leaving; adding / removing name which is which (both
     * empty when none is in progress). Owned. */
    int32_t n_adding, n_removing;
    int32_t *adding;
    int32_t *removing;
    /* The local replica, if any, is the replica manager's
     * (src/replica/replica.h), not the image's. */
    bool log_pending; /* local log queued for creation (storage.c) */
} cl_partition;

struct cl_topic {
    char *name;
    uint8_t id[16];
    bool internal; /* __consumer_offsets, __transaction_state */
    int32_t n_partitions;
    cl_partition **parts; /* [n_partitions], index = partition id */
    size_t n_configs;
    sl_kv *configs;     /* overrides (owned strings) */
    log_config log_cfg; /* effective storage config (overrides + broker),
                           computed by the config hooks */
};

typedef struct cl_endpoint {
    char *name; /* listener name */
    char *host;
    int32_t port;
    int16_t security_protocol;
} cl_endpoint;

typedef struct cl_broker {
    int32_t id;
    int64_t epoch;
    uint8_t incarnation_id[16];
    int32_t n_endpoints;
    cl_endpoint *endpoints;
    char *rack; /* NULL if none */
    bool fenced;
    bool in_controlled_shutdown;
} cl_broker;

typedef struct cl_image cl_image;

cl_image *cl_image_new(void);

/* The image is pure: it never reads or writes the node's configuration.
 * What must flow between the two goes through these hooks, registered by
 * the node (broker/image_config.c); without them broker ConfigRecords are
 * kept and described as unknown keys, and topics get log_config_default. */
typedef struct cl_config_hooks {
    void *ctx;
    /* Whether a BROKER ConfigRecord's name is a config the node applies
     * (else it is kept here, as Kafka keeps keys it does not define). */
    bool (*broker_key)(void *ctx, const char *name);
    /* A dynamic broker config changed: value NULL deletes it; def_scope is
     * the cluster default (empty resource name), else this broker. */
    void (*broker_config)(void *ctx, const char *name, const char *value,
                          bool def_scope);
    /* Computes t->log_cfg from t's overrides and the node's config. */
    void (*topic_log_config)(void *ctx, cl_topic *t);
} cl_config_hooks;
void cl_image_set_config_hooks(cl_image *img, const cl_config_hooks *h);
void cl_image_free(cl_image *img);

/* Applies one metadata record value (the serialized KRaft record: frame
 * version, type, version, fields). Unknown record types are skipped.
 * Returns false if the bytes do not decode. */
bool cl_image_apply(cl_image *img, const uint8_t *val, size_t len);
/* The first producer id no broker has been given yet: the NextProducerId of
 * the last ProducerIdsRecord (0 before any). */
int64_t cl_next_producer_id(const cl_image *img);
/* Offset of the last applied record (-1 initially). */
int64_t cl_image_offset(const cl_image *img);
void cl_image_set_offset(cl_image *img, int64_t off);
/* The image written out as metadata records, Kafka's MetadataImage.write
 * (what a snapshot holds): features (metadata.version first), brokers
 * (RegisterBrokerRecord v1), topics with their partitions (TopicRecord,
 * PartitionRecord v0 with its adding / removing replicas), configs (topic,
 * group, client-metrics and broker, those the node applies included), client
 * quotas, producer ids, ACLs and SCRAM credentials. The exact inverse of
 * cl_image_apply: applying the records in order to an empty image gives an
 * image equal to img (the offset aside). fn gets each framed record value,
 * borrowed for the call. */
typedef void (*cl_record_sink)(void *arg, const uint8_t *value, size_t len);
void cl_image_dump(const cl_image *img, cl_record_sink fn, void *arg);
/* The records that take out of cur what next does not hold (topics,
 * configs, brokers, features, quotas, ACLs, SCRAM credentials): applying
 * them to cur and then cl_image_dump(next) gives an image equal to next (a
 * follower that installs a snapshot over the image it had). */
void cl_image_diff_removals(cl_image *cur, cl_image *next, cl_record_sink fn,
                            void *arg);
/* Writes the record value prefix: frame version 1, record type, version;
 * the caller then encodes the record itself (proto_<rec>_encode). */
void cl_record_frame(buf *b, int16_t type, int16_t version);

cl_topic *cl_topic_find(cl_image *img, const char *name, size_t name_len);
cl_topic *cl_topic_find_id(cl_image *img, const uint8_t id[16]);
/* Topics in name order (stable for Metadata responses). *n set to count.
 * The array is owned by the image and valid until the next change. */
cl_topic **cl_topics(cl_image *img, size_t *n);
size_t cl_topic_count(const cl_image *img);
const cl_broker *cl_broker_find(const cl_image *img, int32_t id);
const cl_broker *cl_brokers(const cl_image *img, size_t *n);
/* Group config overrides (ConfigRecord resource type GROUP = 32): the value
 * of one, or NULL; cl_group_configs copies up to max pairs of a group. */
const char *cl_group_config(const cl_image *img, const char *group,
                            const char *name);
size_t cl_group_configs(const cl_image *img, const char *group, sl_kv *out,
                        size_t max);
/* The same for any resource type kept this way: GROUP (32),
 * CLIENT_METRICS (16, a client-metrics subscription) and BROKER (4: dynamic
 * keys that are not KafkaConfig's, by node id or "" for the default). */
size_t cl_resource_configs(const cl_image *img, int8_t type, const char *res,
                           sl_kv *out, size_t max);
/* The resources of a type kept as above (GROUP 32, CLIENT_METRICS 16) that
 * have at least one config, each once (order unspecified, as Kafka's); up
 * to max. Returns the count. */
size_t cl_config_resources(const cl_image *img, int8_t type, const char **out,
                           size_t max);

/* Finalized features (FeatureLevelRecord), level > 0 only, in record
 * order; valid until the next change. */
typedef struct cl_feature {
    char name[48];
    int16_t level;
} cl_feature;
const cl_feature *cl_features(const cl_image *img, size_t *n);

/* Client quotas (ClientQuotaRecord): one entry per entity (1-3 parts
 * sorted by type: "client-id", "ip", "user"; name NULL = the default
 * entity) with its values; valid until the next change. */
typedef struct cl_quota {
    int n_ent;
    char *etype[3];
    char *ename[3];
    int n_vals;
    char *key[8];
    double val[8];
} cl_quota;
const cl_quota *cl_quotas(const cl_image *img, size_t *n);

/* SCRAM credentials (UserScramCredentialRecord /
 * RemoveUserScramCredentialRecord): one per (user, mechanism; 1
 * SCRAM-SHA-256, 2 SCRAM-SHA-512), in the order they were first set; valid
 * until the next change. Only salted/derived keys are kept, never a
 * password. */
typedef struct cl_scram {
    char *user;
    int8_t mechanism;
    int32_t iterations;
    uint8_t *salt, *stored_key, *server_key;
    int32_t salt_len, stored_key_len, server_key_len;
} cl_scram;
const cl_scram *cl_scram_creds(const cl_image *img, size_t *n);

/* ACLs (AccessControlEntryRecord / RemoveAccessControlEntryRecord), with
 * Kafka's codes (resource type 2 topic .. 7 user; pattern 3 literal, 4
 * prefixed; operation; permission 2 deny, 3 allow), in the order they were
 * created; valid until the next change. */
typedef struct cl_acl {
    uint8_t id[16];
    int8_t resource_type, pattern_type, operation, permission_type;
    char *resource_name, *principal, *host;
} cl_acl;
const cl_acl *cl_acls(const cl_image *img, size_t *n);

/* Value of a topic override, or NULL. */
const char *cl_topic_config(const cl_topic *t, const char *name);

/* Hook called after a change is applied (the broker opens/creates/deletes
 * local logs and refreshes log configs here). */
typedef enum {
    CL_EV_TOPIC_ADDED,
    CL_EV_PARTITION_ADDED,   /* part set */
    CL_EV_PARTITION_CHANGED, /* leader/isr/replicas changed */
    CL_EV_TOPIC_REMOVING,    /* before the topic's memory is freed */
    CL_EV_TOPIC_CONFIG,      /* a topic override changed */
    CL_EV_BROKER_CONFIG,     /* a dynamic broker config changed */
} cl_event;
typedef void (*cl_listener_fn)(void *ctx, cl_event ev, cl_topic *t,
                               cl_partition *part);
void cl_image_set_listener(cl_image *img, cl_listener_fn fn, void *ctx);

#endif
