/*
 * alter_partition.c - AlterPartition on the controller (alter_partition.h):
 * Kafka 4.3's ReplicationControlManager.alterPartition and
 * validateAlterPartitionData, with the ISR part of PartitionChangeBuilder.
 * An ISR that holds every replica a reassignment adds completes it in the
 * same record (reassign.h), as Kafka completes it inside AlterPartition.
 * The image keeps no leader recovery state: every partition is RECOVERED
 * here (an unclean election's RECOVERING is not tracked yet).
 */
#include "controller/alter_partition.h"
#include "controller/reassign.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "proto/errors.h"

typedef proto_alter_partition_request_partition_data req_part;
typedef proto_alter_partition_response_partition_data resp_part;
typedef proto_alter_partition_response_topic_data resp_topic;

/* One entry of the new ISR: id and broker epoch (-1: not checked). */
typedef struct isr_entry {
    int32_t id;
    int64_t epoch;
} isr_entry;

static bool has(const int32_t *v, int32_t n, int32_t x) {
    for (int32_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

/* Kafka's Replicas.validateIsr: no negative ids, no duplicates, every
 * member a replica. */
static bool isr_valid(const cl_partition *p, const isr_entry *isr, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        if (isr[i].id < 0 || !has(p->replicas, p->n_replicas, isr[i].id))
            return false;
        for (int32_t j = 0; j < i; j++)
            if (isr[j].id == isr[i].id)
                return false;
    }
    return true;
}

/* KIP-841/KIP-903: Kafka's ineligibleReplicasForIsr. */
static bool isr_eligible(const cl_image *img, const isr_entry *isr, int32_t n,
                         const char *topic, int32_t part) {
    bool ok = true;
    for (int32_t i = 0; i < n; i++) {
        const cl_broker *b = cl_broker_find(img, isr[i].id);
        const char *why = !b                          ? "not registered"
                          : b->in_controlled_shutdown ? "shutting down"
                          : b->fenced                 ? "fenced"
                          : isr[i].epoch != -1 && isr[i].epoch != b->epoch
                              ? "broker epoch mismatch"
                              : NULL;
        if (why) {
            SL_INFO("controller",
                    "Rejecting AlterPartition request for %s-%d because it "
                    "specified ineligible replica %d (%s) in the new ISR",
                    topic, part, isr[i].id, why);
            ok = false;
        }
    }
    return ok;
}

static int16_t validate(const cl_image *img, int32_t broker, const cl_topic *t,
                        const cl_partition *p, const req_part *rp,
                        const isr_entry *isr, int32_t n) {
    if (!p)
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    /* A leader ahead of this controller: it is likely not the active one
     * any more; the leader looks for the new one. */
    if (rp->leader_epoch > p->leader_epoch ||
        rp->partition_epoch > p->partition_epoch)
        return KERR_NOT_CONTROLLER;
    if (rp->leader_epoch < p->leader_epoch)
        return KERR_FENCED_LEADER_EPOCH;
    if (broker != p->leader) {
        SL_INFO("controller",
                "Rejecting AlterPartition request from node %d for %s-%d "
                "because the current leader is %d",
                broker, t->name, p->id, p->leader);
        return KERR_INVALID_REQUEST;
    }
    if (rp->partition_epoch < p->partition_epoch) {
        SL_INFO("controller",
                "Rejecting AlterPartition request from node %d for %s-%d "
                "because the current partition epoch is %d, not %d",
                broker, t->name, p->id, p->partition_epoch,
                rp->partition_epoch);
        return KERR_INVALID_UPDATE_VERSION;
    }
    if (!isr_valid(p, isr, n))
        return KERR_INVALID_REQUEST;
    bool leader_in = false;
    for (int32_t i = 0; i < n; i++)
        leader_in |= isr[i].id == p->leader;
    if (!leader_in)
        return KERR_INVALID_REQUEST;
    /* RECOVERING (1) with more than one replica, or RECOVERED -> RECOVERING
     * (every partition is RECOVERED here) */
    if (rp->leader_recovery_state != 0)
        return KERR_INVALID_REQUEST;
    if (!isr_eligible(img, isr, n, t->name, p->id))
        return KERR_INELIGIBLE_REPLICA;
    return KERR_NONE;
}

int16_t ctl_alter_partition(const cl_image *img,
                            const proto_alter_partition_request *rq,
                            int16_t version, arena *a, ctl_records *out,
                            proto_alter_partition_response *rs) {
    const cl_broker *me = cl_broker_find(img, rq->broker_id);
    if (!me || me->epoch != rq->broker_epoch) {
        rs->error_code = KERR_STALE_BROKER_EPOCH;
        return rs->error_code;
    }
    rs->error_code = KERR_NONE;
    rs->topics.n = rq->topics.n;
    rs->topics.v = arena_calloc(
        a, (size_t)(rq->topics.n > 0 ? rq->topics.n : 1), sizeof *rs->topics.v);
    for (int32_t ti = 0; ti < rq->topics.n; ti++) {
        const proto_alter_partition_request_topic_data *rt = &rq->topics.v[ti];
        resp_topic *ot = &rs->topics.v[ti];
        proto_alter_partition_response_topic_data_init(ot);
        ot->topic_id = rt->topic_id;
        ot->topic_name = rt->topic_name;
        static const uint8_t zero[16];
        cl_topic *t =
            version >= 2
                ? (memcmp(rt->topic_id.b, zero, 16)
                       ? cl_topic_find_id((cl_image *)img, rt->topic_id.b)
                       : NULL)
                : cl_topic_find((cl_image *)img, rt->topic_name.p,
                                (size_t)SL_MAX(rt->topic_name.len, 0));
        ot->partitions.n = rt->partitions.n;
        ot->partitions.v = arena_calloc(
            a, (size_t)(rt->partitions.n > 0 ? rt->partitions.n : 1),
            sizeof *ot->partitions.v);
        for (int32_t pi = 0; pi < rt->partitions.n; pi++) {
            const req_part *rp = &rt->partitions.v[pi];
            resp_part *op = &ot->partitions.v[pi];
            proto_alter_partition_response_partition_data_init(op);
            op->partition_index = rp->partition_index;
            if (!t) {
                op->error_code = version >= 2 ? KERR_UNKNOWN_TOPIC_ID
                                              : KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            int32_t n =
                version >= 3 ? rp->new_isr_with_epochs.n : rp->new_isr.n;
            n = SL_MAX(n, 0);
            isr_entry *isr =
                arena_calloc(a, (size_t)(n > 0 ? n : 1), sizeof *isr);
            for (int32_t i = 0; i < n; i++) {
                isr[i].id = version >= 3
                                ? rp->new_isr_with_epochs.v[i].broker_id
                                : rp->new_isr.v[i];
                isr[i].epoch = version >= 3
                                   ? rp->new_isr_with_epochs.v[i].broker_epoch
                                   : -1;
            }
            const cl_partition *p =
                rp->partition_index >= 0 &&
                        rp->partition_index < t->n_partitions
                    ? t->parts[rp->partition_index]
                    : NULL;
            op->error_code = validate(img, rq->broker_id, t, p, rp, isr, n);
            if (op->error_code)
                continue;
            /* Kafka's PartitionChangeBuilder: the ISR asked for, and the
             * reassignment completed when it now can (reassign.h) */
            int32_t *ids =
                arena_calloc(a, (size_t)(n > 0 ? n : 1), sizeof(int32_t));
            for (int32_t i = 0; i < n; i++)
                ids[i] = isr[i].id;
            buf rec;
            buf_init(&rec, 64);
            ctl_part_after after;
            ctl_partition_build(img, t, p, ids, n,
                                ctl_topic_unclean(t, false) ? CTL_ELECT_UNCLEAN
                                                            : CTL_ELECT_ONLINE,
                                &rec, &after);
            if (after.made)
                buf_put(ctl_records_add(out), rec.data, rec.len);
            buf_free(&rec);
            if (after.made)
                SL_INFO("controller",
                        "Node %d has altered ISR for %s-%d: %d -> %d members, "
                        "partition epoch %d -> %d%s",
                        rq->broker_id, t->name, p->id, p->n_isr, after.n_isr,
                        p->partition_epoch, after.partition_epoch,
                        after.completed ? " (completed the ongoing partition "
                                          "reassignment)"
                                        : "");
            if (after.made && after.leader != rq->broker_id &&
                after.leader != p->leader) {
                /* the completed reassignment moved the leader: the old
                 * one learns it from the metadata (Kafka answers so) */
                SL_INFO("controller",
                        "AlterPartition request from node %d for %s-%d "
                        "completed the ongoing partition reassignment and "
                        "triggered a leadership change. Returning "
                        "NEW_LEADER_ELECTED.",
                        rq->broker_id, t->name, p->id);
                op->error_code = KERR_NEW_LEADER_ELECTED;
                ctl_part_after_free(&after);
                continue;
            }
            op->leader_id = after.leader;
            op->leader_epoch = after.leader_epoch;
            op->isr.n = after.n_isr;
            op->isr.v =
                arena_calloc(a, (size_t)(after.n_isr > 0 ? after.n_isr : 1),
                             sizeof(int32_t));
            for (int32_t i = 0; i < after.n_isr; i++)
                op->isr.v[i] = after.isr[i];
            op->leader_recovery_state = 0;
            op->partition_epoch = after.partition_epoch;
            ctl_part_after_free(&after);
        }
    }
    return KERR_NONE;
}
