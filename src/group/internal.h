/*
 * internal.h - the coordinator's structures, shared by group.c (classic
 * groups, offsets, records) and consumer.c (KIP-848 consumer groups). Not
 * for use outside src/group. Ownership and threading as group.h: the
 * coordinator owns everything; loop thread only.
 */
#ifndef SL_GROUP_INTERNAL_H
#define SL_GROUP_INTERNAL_H

#include "core/clock.h"
#include "group/consumer.h"
#include "group/group.h"

typedef struct gproto {
    proto_str name; /* owned (gs_dup) */
    uint8_t *meta;
    int32_t len;
} gproto;

/* Member strings are owned proto_str copies (gs_dup); instance_id is null
 * for a dynamic member. */
struct grp_member {
    proto_str id;
    proto_str instance_id;
    proto_str client_id;
    proto_str client_host;
    int32_t session_ms;
    int32_t rebalance_ms;
    gproto *protos;
    int n_protos;
    uint8_t *assignment;
    int32_t assignment_len;
    int64_t hb_deadline;
    bool pending_sync;
    grp_join_fn join_fn;
    void *join_ctx;
    grp_sync_fn sync_fn;
    void *sync_ctx;
};

typedef struct gpending {
    proto_str id;
    int64_t deadline;
} gpending;

struct grp_group {
    proto_str id; /* owned copy (gs_dup) */
    int32_t partition;
    int state;
    int32_t generation;
    proto_str protocol_type; /* owned; null: none */
    proto_str protocol_name; /* owned; null: none */
    proto_str leader;        /* null: none; else equals a member's id */
    grp_member **m;
    int n, cap;
    gpending *pending;
    int n_pending, cap_pending;
    int64_t state_ts; /* wall ms of the last state change */
    /* join phase */
    int64_t join_deadline; /* 0: none */
    bool initial;
    int64_t initial_remaining;
    bool new_member_added;
    /* sync phase */
    int64_t sync_deadline; /* 0: none */
    /* committed offsets */
    grp_offset *offs;
    int n_offs, cap_offs;
    bool offs_sorted;
    /* KIP-848: non-NULL when this is a consumer (new protocol) group; the
     * classic fields above stay Empty with no members then. */
    cg_group *cg;
    grp_group *next; /* hash chain */
};

struct grp_coord {
    grp_config cfg;
    grp_store store;
    grp_group **tab;
    size_t tab_size, n_groups;
    int8_t *part_state;
    cg_env cg_env;  /* topic metadata and configuration of consumer groups */
    rng member_rng; /* KIP-848 member ids (make_member_id) */
    bool member_rng_seeded;
};

/* Kept protocol strings (group.h): gs_dup copies s (bytes, then a NUL
 * that is not part of it; the null string stays null), gs_free frees such a
 * copy, gs_eq compares by length and bytes (null equals only null). */
proto_str gs_dup(proto_str s);
void gs_free(proto_str *s);
bool gs_eq(proto_str a, proto_str b);

/* group.c helpers used by consumer.c */
grp_group *grp_group_create(grp_coord *c, proto_str id);
void grp_group_remove(grp_coord *c, grp_group *g);
int16_t grp_store_append(grp_coord *c, int32_t partition, const grp_record *r,
                         int n);
void grp_classic_tombstone(grp_coord *c, grp_group *g);

#endif
