/*
 * reassign.c - partition reassignment on the controller (reassign.h):
 * Kafka 4.3's PartitionChangeBuilder over targets for the ISR, replicas,
 * adding and removing replicas, and the reassignment requests built on it.
 */
#include "controller/reassign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/placement.h"
#include "core/log.h"
#include "core/util.h"
#include "proto/errors.h"

typedef struct ivec {
    int32_t *v;
    int32_t n;
} ivec;

static ivec iv_copy(const int32_t *v, int32_t n) {
    ivec o = {xmalloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1)),
              n > 0 ? n : 0};
    if (o.n)
        memcpy(o.v, v, sizeof(int32_t) * (size_t)o.n);
    return o;
}

static bool has(const int32_t *v, int32_t n, int32_t x) {
    for (int32_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

/* every element of b is in a */
static bool contains_all(const int32_t *a, int32_t na, const int32_t *b,
                         int32_t nb) {
    for (int32_t i = 0; i < nb; i++)
        if (!has(a, na, b[i]))
            return false;
    return true;
}

static bool same(const ivec *a, const int32_t *v, int32_t n) {
    return a->n == n && (n == 0 || !memcmp(a->v, v, sizeof *v * (size_t)n));
}

/* a without the members of b, in a's order */
static ivec minus(const int32_t *a, int32_t na, const int32_t *b, int32_t nb) {
    ivec o = iv_copy(a, na);
    o.n = 0;
    for (int32_t i = 0; i < na; i++)
        if (!has(b, nb, a[i]))
            o.v[o.n++] = a[i];
    return o;
}

static int cmp_i32(const void *x, const void *y) {
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

bool ctl_reassigning(const cl_partition *p) {
    return p->n_adding > 0 || p->n_removing > 0;
}

bool ctl_topic_unclean(const cl_topic *t, bool dflt) {
    const char *v = cl_topic_config(t, "unclean.leader.election.enable");
    return v ? !strcmp(v, "true") : dflt;
}

/* ---- Kafka's PartitionChangeBuilder ---- */

typedef struct builder {
    const cl_image *img;
    const cl_topic *t;
    const cl_partition *p;
    ivec isr, replicas, adding, removing; /* targets, owned */
    ctl_election election;
    bool completed;
} builder;

static void b_init(builder *b, const cl_image *img, const cl_topic *t,
                   const cl_partition *p) {
    memset(b, 0, sizeof *b);
    b->img = img;
    b->t = t;
    b->p = p;
    b->isr = iv_copy(p->isr, p->n_isr);
    b->replicas = iv_copy(p->replicas, p->n_replicas);
    b->adding = iv_copy(p->adding, p->n_adding);
    b->removing = iv_copy(p->removing, p->n_removing);
    b->election = CTL_ELECT_ONLINE;
}

static void b_free(builder *b) {
    free(b->isr.v);
    free(b->replicas.v);
    free(b->adding.v);
    free(b->removing.v);
}

static void b_set(ivec *dst, ivec src) {
    free(dst->v);
    *dst = src;
}

/* PartitionReassignmentReplicas.maybeCompleteReassignment over the
 * targets. */
static void complete_if_needed(builder *b) {
    if (!b->adding.n && !b->removing.n)
        return;
    ivec isr = iv_copy(b->isr.v, b->isr.n);
    ivec reps = iv_copy(b->replicas.v, b->replicas.n);
    if (b->removing.n) {
        b_set(&isr, minus(b->isr.v, b->isr.n, b->removing.v, b->removing.n));
        b_set(&reps, minus(b->replicas.v, b->replicas.n, b->removing.v,
                           b->removing.n));
        if (!isr.n || !reps.n)
            goto no;
    }
    /* every new replica in sync (new brokers may be unhealthy) */
    if (!contains_all(isr.v, isr.n, b->adding.v, b->adding.n))
        goto no;
    /* a replication factor going down waits for every target replica */
    if (b->adding.n < b->removing.n &&
        !contains_all(isr.v, isr.n, reps.v, reps.n))
        goto no;
    b_set(&b->isr, isr);
    b_set(&b->replicas, reps);
    b->adding.n = 0;
    b->removing.n = 0;
    b->completed = true;
    return;
no:
    free(isr.v);
    free(reps.v);
}

static bool valid_leader(const builder *b, int32_t r) {
    return r >= 0 && has(b->isr.v, b->isr.n, r) && ctl_broker_active(b->img, r);
}

/* electLeader: the node, -1 for none; *unclean for an unclean one. */
static int32_t elect(const builder *b, bool *unclean) {
    *unclean = false;
    const ivec *r = &b->replicas;
    if (b->election == CTL_ELECT_PREFERRED && r->n > 0) {
        if (valid_leader(b, r->v[0]))
            return r->v[0];
        if (valid_leader(b, b->p->leader))
            return b->p->leader;
        for (int32_t i = 1; i < r->n; i++)
            if (valid_leader(b, r->v[i]))
                return r->v[i];
        return -1;
    }
    if (valid_leader(b, b->p->leader))
        return b->p->leader;
    for (int32_t i = 0; i < r->n; i++)
        if (valid_leader(b, r->v[i]))
            return r->v[i];
    if (b->election == CTL_ELECT_UNCLEAN)
        for (int32_t i = 0; i < r->n; i++)
            if (ctl_broker_active(b->img, r->v[i])) {
                *unclean = true;
                return r->v[i];
            }
    return -1;
}

/* build(): appends the record to out unless it is a no-op. */
static bool b_build(builder *b, buf *out, ctl_part_after *after) {
    const cl_partition *p = b->p;
    complete_if_needed(b);
    proto_partition_change_record r;
    proto_partition_change_record_init(&r);
    r.partition_id = p->id;
    memcpy(r.topic_id.b, b->t->id, 16);
    bool unclean;
    int32_t leader = elect(b, &unclean);
    if (leader != p->leader) {
        if (unclean)
            SL_INFO("controller",
                    "Setting new leader for %s-%d to %d using an unclean "
                    "election",
                    b->t->name, p->id, leader);
        r.leader = leader;
        if (unclean) {
            r.isr.n = 1;
            r.isr.v = &leader;
            r.leader_recovery_state = 1;
        }
    }
    /* triggerLeaderEpochBumpForReplicaReassignmentIfNeeded */
    if (r.leader == -2 &&
        !contains_all(b->replicas.v, b->replicas.n, p->replicas, p->n_replicas))
        r.leader = p->leader;
    if (r.isr.n < 0 && b->isr.n > 0 && !same(&b->isr, p->isr, p->n_isr)) {
        r.isr.n = b->isr.n;
        r.isr.v = b->isr.v;
    }
    if (b->replicas.n > 0 && !same(&b->replicas, p->replicas, p->n_replicas)) {
        r.replicas.n = b->replicas.n;
        r.replicas.v = b->replicas.v;
    }
    if (!same(&b->removing, p->removing, p->n_removing)) {
        r.removing_replicas.n = b->removing.n;
        r.removing_replicas.v = b->removing.v;
    }
    if (!same(&b->adding, p->adding, p->n_adding)) {
        r.adding_replicas.n = b->adding.n;
        r.adding_replicas.v = b->adding.v;
    }
    bool made = r.leader != -2 || r.isr.n >= 0 || r.replicas.n >= 0 ||
                r.removing_replicas.n >= 0 || r.adding_replicas.n >= 0 ||
                r.leader_recovery_state != -1;
    if (made) {
        cl_record_frame(out, PROTO_MD_PARTITION_CHANGE_RECORD, 0);
        proto_partition_change_record_encode(out, 0, &r);
    }
    if (after) {
        memset(after, 0, sizeof *after);
        after->made = made;
        after->completed = made && b->completed;
        after->leader = r.leader == -2 ? p->leader : r.leader;
        after->leader_epoch = p->leader_epoch + (r.leader != -2 ? 1 : 0);
        after->partition_epoch = p->partition_epoch + (made ? 1 : 0);
        ivec isr = r.isr.n >= 0 ? iv_copy(r.isr.v, r.isr.n)
                                : iv_copy(p->isr, p->n_isr);
        after->isr = isr.v;
        after->n_isr = isr.n;
    }
    return made;
}

void ctl_part_after_free(ctl_part_after *a) {
    free(a->isr);
    a->isr = NULL;
}

void ctl_partition_build(const cl_image *img, const cl_topic *t,
                         const cl_partition *p, const int32_t *isr,
                         int32_t n_isr, ctl_election election, buf *out,
                         ctl_part_after *after) {
    builder b;
    b_init(&b, img, t, p);
    b_set(&b.isr, iv_copy(isr, n_isr));
    b.election = election;
    b_build(&b, out, after);
    b_free(&b);
}

/* ---- AlterPartitionReassignments ---- */

/* validateManualPartitionAssignment (no replication factor to match) */
static int16_t validate(const cl_image *img, const int32_t *target, int32_t n,
                        char *msg, size_t msglen) {
    if (n <= 0) {
        snprintf(msg, msglen,
                 "The manual partition assignment includes an empty "
                 "replica list.");
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    ivec s = iv_copy(target, n);
    qsort(s.v, (size_t)s.n, sizeof *s.v, cmp_i32);
    int16_t e = KERR_NONE;
    for (int32_t i = 0; i < s.n && !e; i++) {
        if (!cl_broker_find(img, s.v[i])) {
            snprintf(msg, msglen,
                     "The manual partition assignment includes broker %d, "
                     "but no such broker is registered.",
                     s.v[i]);
            e = KERR_INVALID_REPLICA_ASSIGNMENT;
        } else if (i > 0 && s.v[i] == s.v[i - 1]) {
            snprintf(msg, msglen,
                     "The manual partition assignment includes the broker "
                     "%d more than once.",
                     s.v[i]);
            e = KERR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    free(s.v);
    return e;
}

/* sorted a - b (Kafka's calculateDifference, a TreeSet) */
static ivec sorted_minus(const int32_t *a, int32_t na, const int32_t *b,
                         int32_t nb) {
    ivec o = minus(a, na, b, nb);
    qsort(o.v, (size_t)o.n, sizeof *o.v, cmp_i32);
    return o;
}

static int16_t cancel(const cl_image *img, const cl_topic *t,
                      const cl_partition *p, bool unclean_default, buf *out,
                      char *msg, size_t msglen) {
    if (!ctl_reassigning(p)) {
        snprintf(msg, msglen, "%s",
                 proto_error_message(KERR_NO_REASSIGNMENT_IN_PROGRESS));
        return KERR_NO_REASSIGNMENT_IN_PROGRESS;
    }
    /* PartitionReassignmentRevert: the original replicas, the ISR without
     * the replicas being added */
    ivec reps = minus(p->replicas, p->n_replicas, p->adding, p->n_adding);
    ivec isr = minus(p->isr, p->n_isr, p->adding, p->n_adding);
    bool unclean_topic = ctl_topic_unclean(t, unclean_default);
    if (!isr.n) {
        if (!reps.n || !unclean_topic) {
            snprintf(msg, msglen,
                     reps.n ? "Unable to revert partition assignment for %s:%d "
                              "because it would require an unclean leader "
                              "election."
                            : "Invalid replica assignment: addingReplicas "
                              "contains all replicas.",
                     t->name, p->id);
            free(reps.v);
            free(isr.v);
            return KERR_INVALID_REPLICA_ASSIGNMENT;
        }
        isr.v[isr.n++] = reps.v[0];
    }
    builder b;
    b_init(&b, img, t, p);
    if (unclean_topic)
        b.election = CTL_ELECT_UNCLEAN;
    b_set(&b.isr, isr);
    b_set(&b.replicas, reps);
    b.adding.n = 0;
    b.removing.n = 0;
    b_build(&b, out, NULL);
    b_free(&b);
    return KERR_NONE;
}

int16_t ctl_reassign(const cl_image *img, const cl_topic *t,
                     const cl_partition *p, const int32_t *target, int32_t n,
                     bool unclean_default, buf *out, char *msg, size_t msglen) {
    msg[0] = '\0';
    if (!target || n < 0)
        return cancel(img, t, p, unclean_default, out, msg, msglen);
    int16_t e = validate(img, target, n, msg, msglen);
    if (e)
        return e;
    /* PartitionReassignmentReplicas(current, target) */
    ivec removing = sorted_minus(p->replicas, p->n_replicas, target, n);
    ivec adding = sorted_minus(target, n, p->replicas, p->n_replicas);
    ivec reps = iv_copy(target, n);
    reps.v = xrealloc(reps.v, sizeof *reps.v * (size_t)(n + removing.n + 1));
    for (int32_t i = 0; i < removing.n; i++)
        reps.v[reps.n++] = removing.v[i];
    builder b;
    b_init(&b, img, t, p);
    if (!same(&reps, p->replicas, p->n_replicas))
        b_set(&b.replicas, reps);
    else
        free(reps.v);
    /* as Kafka: an empty set leaves the partition's own in place */
    if (removing.n)
        b_set(&b.removing, removing);
    else
        free(removing.v);
    if (adding.n)
        b_set(&b.adding, adding);
    else
        free(adding.v);
    b_build(&b, out, NULL);
    b_free(&b);
    return KERR_NONE;
}
