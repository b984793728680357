/*
 * group.h - the group coordinator (classic protocol), as Apache Kafka's
 * GroupMetadataManager / ClassicGroup / OffsetMetadataManager do it:
 * groups with members, generations, protocol selection, the leader's
 * assignment handed out through SyncGroup, session / rebalance timeouts,
 * the initial rebalance delay, static membership (group.instance.id),
 * committed offsets with their metadata strings, offset retention, and the
 * __consumer_offsets records that make all of it survive a restart.
 *
 * This core knows nothing about sockets or the log: requests come in as
 * plain structs, answers leave through callbacks (which may run inside the
 * call, or later from grp_tick when a rebalance completes), and records go
 * out through grp_store (key/value pairs per __consumer_offsets partition).
 * src/group/handlers.c binds it to its node through the coordinator
 * runtime (coord_req, log appends, timers, loading at start).
 *
 * Time: deadlines are clk_mono_ms(); timestamps written to records are
 * clk_wall_ms() (core/clock.h, so unit tests drive both by hand). The owner
 * calls grp_tick often (the broker: every 50 ms) to fire expired deadlines.
 *
 * Strings: group ids (and the other protocol strings the coordinator keeps)
 * are Kafka STRINGs, bytes with a length that may hold NUL bytes: they come
 * in and go out as proto_str (len -1: null) and are compared, hashed and
 * written to records by their length, as Kafka compares Java Strings. Kept
 * copies are followed by a NUL that is not part of them (for log lines).
 * A null string in a request struct is PROTO_STR_NULL: a zeroed proto_str is
 * the empty string, so callers set every string field they pass.
 *
 * Ownership: the coordinator owns every group, member and string in it;
 * strings passed in are copied. Callbacks get pointers valid only during the
 * call. Threading: one thread (the broker loop); nothing locks.
 */
#ifndef SL_GROUP_H
#define SL_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

typedef struct grp_coord grp_coord;
typedef struct grp_group grp_group;
typedef struct grp_member grp_member;

/* ---- configuration ------------------------------------------------------- */
typedef struct grp_config {
    int32_t num_partitions;       /* offsets.topic.num.partitions */
    int32_t min_session_ms;       /* group.min.session.timeout.ms */
    int32_t max_session_ms;       /* group.max.session.timeout.ms */
    int32_t initial_delay_ms;     /* group.initial.rebalance.delay.ms */
    int32_t max_size;             /* group.max.size */
    int64_t offsets_retention_ms; /* offsets.retention.minutes * 60000 */
    int32_t metadata_max_bytes;   /* offset.metadata.max.bytes */
} grp_config;
void grp_config_default(grp_config *cfg);

/* ---- storage of records (__consumer_offsets) ------------------------------
 */
typedef struct grp_record {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value; /* NULL: tombstone */
    size_t value_len;
} grp_record;

typedef struct grp_store {
    /* Appends the records to __consumer_offsets partition `partition` as one
     * batch. Returns a Kafka error code; on error the coordinator does not
     * apply the change (commits answer that error). */
    int16_t (*append)(void *ctx, int32_t partition, const grp_record *recs,
                      int n);
    void *ctx;
} grp_store;

grp_coord *grp_new(const grp_config *cfg, const grp_store *store);
void grp_free(grp_coord *c);
const grp_config *grp_cfg(const grp_coord *c);

/* Kafka's partitionFor: Utils.abs(groupId.hashCode()) % partitions. */
int32_t grp_partition_for(const char *group_id, size_t len, int32_t n_parts);

/* ---- ownership of __consumer_offsets partitions ---------------------------
 */
enum grp_part_state {
    GRP_PART_NONE = 0,    /* not ours: NOT_COORDINATOR */
    GRP_PART_LOADING = 1, /* COORDINATOR_LOAD_IN_PROGRESS */
    GRP_PART_ACTIVE = 2,
};
void grp_set_partition_state(grp_coord *c, int32_t partition, int state);
int grp_partition_state(const grp_coord *c, int32_t partition);
/* 0, NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS for this group id. */
int16_t grp_check_coordinator(const grp_coord *c, proto_str group_id);
/* Replays one record of __consumer_offsets (during loading). Unknown record
 * types are skipped. Returns false if the bytes do not decode. */
bool grp_replay(grp_coord *c, int32_t partition, const uint8_t *key,
                size_t key_len, const uint8_t *value, size_t value_len);
/* After the replay of a partition: loaded groups with members become
 * Stable with fresh session deadlines, groups without members Empty. */
void grp_partition_loaded(grp_coord *c, int32_t partition);

/* ---- group states ----------------------------------------------------------
 */
enum grp_state {
    GRP_EMPTY = 0,
    GRP_PREPARING_REBALANCE,
    GRP_COMPLETING_REBALANCE,
    GRP_STABLE,
    GRP_DEAD,
};
const char *grp_state_name(int state); /* "Stable", "PreparingRebalance"... */

/* ---- JoinGroup --------------------------------------------------------------
 */
typedef struct grp_protocol_in {
    const char *name;
    size_t name_len;
    const uint8_t *metadata;
    int32_t metadata_len;
} grp_protocol_in;

typedef struct grp_join_req {
    proto_str group_id;
    proto_str member_id;   /* "" for a new member */
    proto_str instance_id; /* null if dynamic */
    proto_str client_id;
    proto_str client_host;
    proto_str protocol_type;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms; /* v0: = session timeout */
    int n_protocols;
    const grp_protocol_in *protocols;
    bool require_known_member_id;  /* v4+: MEMBER_ID_REQUIRED first */
    bool supports_skip_assignment; /* v9+ */
} grp_join_req;

typedef struct grp_join_member {
    proto_str member_id;
    proto_str instance_id;   /* null if dynamic */
    const uint8_t *metadata; /* for the selected protocol */
    int32_t metadata_len;
} grp_join_member;

typedef struct grp_join_result {
    int16_t error;
    int32_t generation;      /* -1 on error */
    proto_str protocol_type; /* null if none */
    proto_str protocol_name; /* null if none */
    proto_str leader;        /* "" if none */
    proto_str member_id;     /* the member's id ("" if none) */
    bool skip_assignment;
    int n_members; /* only for the leader */
    const grp_join_member *members;
} grp_join_result;
typedef void (*grp_join_fn)(void *ctx, const grp_join_result *r);

/* Answers through fn, now or when the rebalance completes. */
void grp_join(grp_coord *c, const grp_join_req *rq, grp_join_fn fn, void *ctx);

/* ---- SyncGroup
 * --------------------------------------------------------------- */
typedef struct grp_assignment_in {
    const char *member_id;
    size_t member_id_len;
    const uint8_t *assignment;
    int32_t assignment_len;
} grp_assignment_in;

typedef struct grp_sync_req {
    proto_str group_id;
    proto_str member_id;
    proto_str instance_id;   /* null if dynamic */
    proto_str protocol_type; /* v5+, null if absent */
    proto_str protocol_name; /* v5+, null if absent */
    int32_t generation;
    int n_assignments;
    const grp_assignment_in *assignments;
} grp_sync_req;

typedef struct grp_sync_result {
    int16_t error;
    proto_str protocol_type; /* null if none */
    proto_str protocol_name; /* null if none */
    const uint8_t *assignment;
    int32_t assignment_len;
} grp_sync_result;
typedef void (*grp_sync_fn)(void *ctx, const grp_sync_result *r);

void grp_sync(grp_coord *c, const grp_sync_req *rq, grp_sync_fn fn, void *ctx);

/* ---- Heartbeat / LeaveGroup
 * ---------------------------------------------------- */
int16_t grp_heartbeat(grp_coord *c, proto_str group_id, int32_t generation,
                      proto_str member_id, proto_str instance_id);
/* Top-level check of a LeaveGroup: 0, or the error for the whole request. */
int16_t grp_leave_check(grp_coord *c, proto_str group_id);
/* One member leaving (member_id "" + instance_id: by instance id). */
int16_t grp_leave(grp_coord *c, proto_str group_id, proto_str member_id,
                  proto_str instance_id, const char *reason);

/* ---- offsets ----------------------------------------------------------------
 */
typedef struct grp_offset {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;      /* never NULL ("" if none); may hold NUL bytes */
    size_t metadata_len; /* the metadata is a Kafka STRING: its bytes */
    int64_t commit_ts;   /* wall ms */
    int64_t expire_ts;   /* -1: by retention */
} grp_offset;

typedef struct grp_commit_in {
    const char *topic;
    size_t topic_len;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    const char *metadata; /* NULL: "" */
    size_t metadata_len;
    int64_t expire_ts; /* -1 */
    int16_t error;     /* in: a per-partition error decided by the
                          caller (UNKNOWN_TOPIC_OR_PARTITION), out:
                          the result */
} grp_commit_in;

/* OffsetCommit: validates the member/generation (Kafka's
 * validateOffsetCommit), checks metadata sizes, writes the records and
 * applies them. Per-partition errors are left in offs[i].error. A
 * generation < 0 with an empty member id commits for a standalone consumer
 * (the group is created Empty if missing). A missing group with a
 * generation >= 0 gets ILLEGAL_GENERATION (v9+: GROUP_ID_NOT_FOUND). */
void grp_commit(grp_coord *c, proto_str group_id, int32_t generation,
                proto_str member_id, proto_str instance_id, grp_commit_in *offs,
                int n, int16_t api_version);

/* TxnOffsetCommit v3+ member check for either group type (for the txn
 * layer): 0, ILLEGAL_GENERATION (a generation / member epoch that is not
 * the member's current one; Kafka maps STALE_MEMBER_EPOCH to it for this
 * API) or UNKNOWN_MEMBER_ID. A missing group passes (the commit creates
 * it), as does generation < 0. */
int16_t grp_txn_commit_check(grp_coord *c, proto_str group_id,
                             proto_str member_id, int32_t generation);

grp_group *grp_find(grp_coord *c, proto_str group_id);
/* The committed offset, or NULL. */
const grp_offset *grp_offset_get(const grp_group *g, const char *topic,
                                 size_t topic_len, int32_t partition);
/* All committed offsets of a group (array, n set), sorted by topic then
 * partition. Valid until the next change. */
const grp_offset *grp_offsets(grp_group *g, int *n);

/* OffsetDelete: top-level error in the return value; per-partition errors
 * (GROUP_SUBSCRIBED_TO_TOPIC) in errs. */
int16_t grp_offset_delete(grp_coord *c, proto_str group_id,
                          const char *const *topics, const int32_t *parts,
                          int n, int16_t *errs);
/* DeleteGroups for one group. */
int16_t grp_delete_group(grp_coord *c, proto_str group_id);

/* Expires offsets by offsets.retention.minutes (Kafka's rules: for an Empty
 * group from the time it became empty; for a group without a protocol type
 * (standalone consumers) from each commit's time; never for a group with
 * members), deletes Empty groups left without offsets. Returns the number
 * of offsets removed. */
int grp_expire_offsets(grp_coord *c);

/* Removes (with tombstones) the committed offsets of topics for which
 * topic_exists returns false, as Kafka does when a topic is deleted
 * (onPartitionsDeleted). Returns the number of offsets removed. */
int grp_drop_deleted_topics(grp_coord *c,
                            bool (*topic_exists)(void *ctx, const char *topic),
                            void *ctx);

/* Fires expired deadlines: session timeouts, pending members, the join
 * phase (rebalance timeout, initial delay), the sync phase. */
void grp_tick(grp_coord *c);

/* Forgets every group of __consumer_offsets partition p (their waiting
 * JoinGroup / SyncGroup answers get NOT_COORDINATOR) and marks p
 * GRP_PART_NONE: this node no longer coordinates them (Kafka's
 * onResignation / unload). */
void grp_unload_partition(grp_coord *c, int32_t p);
/* Completes every waiting JoinGroup / SyncGroup with `error` (shutdown). */
void grp_fail_waiters(grp_coord *c, int16_t error);

/* ---- read access for List/DescribeGroups
 * --------------------------------------- */
typedef struct grp_member_info {
    proto_str member_id;
    proto_str instance_id; /* null if dynamic */
    proto_str client_id;
    proto_str client_host;
    const uint8_t *metadata; /* selected protocol's, NULL if none */
    int32_t metadata_len;
    const uint8_t *assignment;
    int32_t assignment_len;
} grp_member_info;

typedef struct grp_info {
    proto_str group_id;
    int state;
    int32_t generation;
    proto_str protocol_type; /* "" if none */
    proto_str protocol_name; /* "" if none */
    proto_str leader;        /* "" if none */
    int32_t partition;
    int n_members;
} grp_info;

void grp_get_info(const grp_group *g, grp_info *out);
/* Member i (0 <= i < n_members). */
void grp_get_member(const grp_group *g, int i, grp_member_info *out);
/* Calls fn for every live group (not Dead). fn must not change groups. */
void grp_foreach(grp_coord *c, void (*fn)(void *ctx, grp_group *g), void *ctx);

#endif
