/*
 * consumer.h - KIP-848 consumer groups (the "consumer" group protocol) in
 * the group coordinator, as Apache Kafka's GroupMetadataManager /
 * ConsumerGroup / CurrentAssignmentBuilder do it: member and group epochs,
 * a target assignment computed by a server-side assignor (assignor.h),
 * per-member reconciliation (a partition reaches its new owner only after
 * the previous owner acknowledged its revocation), static members, session
 * and rebalance timeouts, and the ConsumerGroup* records in
 * __consumer_offsets (written on each change, replayed at start).
 *
 * Consumer groups live in the same table as classic groups (group.h); a
 * grp_group with a consumer part is a consumer group. Offsets are shared.
 * Ownership: the coordinator owns everything; results handed out point
 * into it and are valid until the next call. Threading: loop thread only.
 */
#ifndef SL_GROUP_CONSUMER_H
#define SL_GROUP_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

typedef struct cg_group cg_group;
struct grp_coord;
struct grp_group;

/* A topic id and partition. Sets of them are arrays sorted by (id, part). */
typedef struct cg_tp {
    uint8_t id[16];
    int32_t part;
} cg_tp;

/* Topic metadata (the broker's image) and the group configuration. */
typedef struct cg_env {
    /* name -> id and partition count; false if the topic does not exist */
    bool (*topic_by_name)(void *ctx, const char *name, uint8_t id[16],
                          int32_t *n_parts);
    /* id -> name (valid until the next call), NULL if unknown */
    const char *(*topic_by_id)(void *ctx, const uint8_t id[16],
                               int32_t *n_parts);
    /* every topic name (not internal), for regex subscriptions: fills
     * names (valid until the next call), returns the count; may be NULL */
    int (*topic_names)(void *ctx, const char ***names);
    /* per-group overrides (consumer.session.timeout.ms / heartbeat);
     * may be NULL; leaves the values untouched when not set */
    void (*group_cfg)(void *ctx, const char *group, int32_t *session_ms,
                      int32_t *heartbeat_ms);
    void *ctx;
    int32_t heartbeat_ms; /* group.consumer.heartbeat.interval.ms */
    int32_t session_ms;   /* group.consumer.session.timeout.ms */
    int32_t max_size;     /* group.consumer.max.size */
    int n_assignors;      /* group.consumer.assignors; [0] is the default */
    const char *assignors[4];
    bool enabled; /* "consumer" in group.coordinator.rebalance.protocols */
} cg_env;

void grp_consumer_set_env(struct grp_coord *c, const cg_env *env);

/* ---- ConsumerGroupHeartbeat ---------------------------------------------- */
typedef struct cg_owned {
    uint8_t id[16];
    int32_t n;
    const int32_t *parts;
} cg_owned;

typedef struct cg_hb_req {
    proto_str group_id;
    proto_str member_id;
    int32_t member_epoch;
    proto_str instance_id; /* null: not given */
    proto_str rack_id;     /* null: not given */
    int32_t rebalance_ms;  /* -1: unchanged */
    bool topics_set;       /* SubscribedTopicNames not null */
    int n_topics;
    const char *const *topics;
    const char *regex;    /* NULL: not given */
    const char *assignor; /* NULL: not given; NUL-terminated copy */
    size_t assignor_len;  /* its bytes (a NUL among them: no such assignor) */
    bool owned_set;       /* TopicPartitions not null */
    int n_owned;
    const cg_owned *owned;
    proto_str client_id;
    proto_str client_host;
    int16_t api_version;
} cg_hb_req;

typedef struct cg_hb_resp {
    int16_t error;
    const char *message;   /* static, message_buf or NULL */
    char message_buf[128]; /* a message with figures (out lives as long) */
    proto_str member_id;   /* malloc'd copy: cg_hb_resp_free */
    int32_t member_epoch;
    int32_t heartbeat_ms;
    bool has_assignment;
    int n_assignment;  /* partitions, sorted */
    cg_tp *assignment; /* malloc'd: cg_hb_resp_free */
} cg_hb_resp;

void grp_consumer_heartbeat(struct grp_coord *c, const cg_hb_req *rq,
                            cg_hb_resp *out);
void cg_hb_resp_free(cg_hb_resp *r);

/* ---- read access (ConsumerGroupDescribe, ListGroups, tools) ---------------
 */
bool grp_is_consumer(const struct grp_group *g);
typedef struct cg_info {
    const char *state; /* "Empty", "Assigning", "Reconciling", "Stable" */
    int32_t group_epoch;
    int32_t assignment_epoch;
    const char *assignor; /* the group's assignor name */
    int n_members;
} cg_info;
void grp_consumer_info(const struct grp_coord *c, const struct grp_group *g,
                       cg_info *out);

typedef struct cg_member_info {
    proto_str member_id;
    proto_str instance_id; /* null if none */
    proto_str rack_id;     /* null if none */
    proto_str client_id;
    proto_str client_host;
    int32_t member_epoch;
    int n_topics;
    char *const *topics;
    const char *regex; /* NULL */
    int n_assigned;
    const cg_tp *assigned;
    int n_target;
    const cg_tp *target;
} cg_member_info;
void grp_consumer_member(const struct grp_group *g, int i, cg_member_info *out);

/* OffsetFetch v9+ of a consumer group member. */
int16_t grp_consumer_validate_fetch(const struct grp_group *g,
                                    proto_str member_id, int32_t epoch);

/* ---- used by group.c ------------------------------------------------------
 */
/* OffsetCommit / OffsetFetch member checks (Kafka's ConsumerGroup.
 * validateOffsetCommit / validateOffsetFetch). */
int16_t cg_validate_commit(const cg_group *cg, proto_str member_id,
                           int32_t epoch, int16_t api_version);
int16_t cg_validate_fetch(const cg_group *cg, proto_str member_id,
                          int32_t epoch);
int cg_n_members(const cg_group *cg);
bool cg_subscribed_to(const cg_group *cg, const char *topic);
void cg_free(cg_group *cg);
/* Tombstones for every record of the group (DeleteGroups, conversion). */
int16_t cg_write_tombstones(struct grp_coord *c, struct grp_group *g);
bool cg_replay(struct grp_coord *c, int32_t partition, int16_t kver,
               const uint8_t *key, size_t key_len, const uint8_t *value,
               size_t value_len);
void cg_loaded(struct grp_coord *c, struct grp_group *g);
void cg_tick(struct grp_coord *c, struct grp_group *g, int64_t now);

#endif
