/*
 * assignor.h - the server-side assignors of KIP-848 consumer groups, as
 * Apache Kafka's UniformAssignor and RangeAssignor compute them:
 *   uniform: balanced (every member gets floor or ceil of its share) and
 *            sticky (a member keeps what it had up to its quota); groups
 *            whose members subscribe to different topics are balanced per
 *            topic subscriber set, moving as little as possible;
 *   range:   per topic, contiguous ranges of partitions to the subscribed
 *            members sorted by instance id (static members first), then
 *            member id; the first (partitions % members) get one extra, so
 *            topics with equal partition counts are co-partitioned.
 * Pure functions over plain arrays (unit-tested in
 * tests/unit/test_group_consumer.c). Output arrays are malloc'd; the caller
 * frees them (asg_free). Threading: none.
 */
#ifndef SL_GROUP_ASSIGNOR_H
#define SL_GROUP_ASSIGNOR_H

#include <stdbool.h>
#include <stdint.h>

#include "group/consumer.h"

typedef struct asg_topic {
    uint8_t id[16];
    const char *name;
    int32_t n_parts;
} asg_topic;

typedef struct asg_member {
    const char *id;
    const char *instance_id; /* NULL if dynamic */
    int n_topics;            /* subscribed topics (indexes into topics[]) */
    const int *topics;
    int n_current; /* current target assignment (stickiness), sorted */
    const cg_tp *current;
    /* out: the new target, sorted */
    int n_out;
    cg_tp *out;
} asg_member;

/* true if name is a known assignor ("uniform", "range"). */
bool asg_known(const char *name);
/* Fills members[i].out. Topics must exist (n_parts > 0 or 0). */
void asg_assign(const char *assignor, asg_member *members, int n,
                const asg_topic *topics, int n_topics);
void asg_free(asg_member *members, int n);

/* set helpers on sorted cg_tp arrays */
int cg_tp_cmp(const void *a, const void *b);
bool cg_tp_has(const cg_tp *set, int n, const uint8_t id[16], int32_t part);

#endif
