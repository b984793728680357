/*
 * reassign.h - partition reassignment on the controller (KIP-455): Kafka
 * 4.3's ReplicationControlManager.changePartitionReassignment /
 * cancelPartitionReassignment, PartitionReassignmentReplicas,
 * PartitionReassignmentRevert and the PartitionChangeBuilder they go
 * through (targets for the ISR, replicas, adding and removing replicas;
 * completeReassignmentIfNeeded; the election; the leader epoch bump when
 * replicas leave). No ELR and no directories.
 *
 * A reassignment goes through three stages, as in Kafka:
 *  1. AlterPartitionReassignments writes a PartitionChangeRecord with
 *     replicas = target + the replicas leaving (sorted), adding = target -
 *     current, removing = current - target (both sorted); the leader stays.
 *  2. The new replicas create their logs and fetch from the leader; the
 *     leader proposes each into the ISR once caught up (AlterPartition).
 *  3. The AlterPartition whose ISR holds every adding replica completes
 *     the reassignment in the same record (ctl_partition_build): replicas
 *     = target, ISR without the removing replicas, adding / removing
 *     cleared, a new leader when the old one left (the first target
 *     replica in the ISR), and the leader epoch bumped when replicas left.
 * A reassignment whose target is already in the ISR completes at once
 * (stage 1 and 3 in one record).
 *
 * Invariants (of every record made here, asserted in the unit tests):
 *  1. adding is a subset of replicas, removing is a subset of replicas,
 *     and the two are disjoint; both empty once a reassignment completes
 *     or is cancelled.
 *  2. The ISR never becomes empty and only holds replicas.
 *  3. A leader, when there is one, is in the ISR and active.
 *
 * Pure: the image in, one framed record out (the caller submits it).
 * Threading: any thread.
 */
#ifndef SL_CONTROLLER_REASSIGN_H
#define SL_CONTROLLER_REASSIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/image.h"
#include "controller/cluster_ctl.h"
#include "core/buf.h"

/* Kafka's isReassignmentInProgress: adding or removing replicas. */
bool ctl_reassigning(const cl_partition *p);

/* Whether unclean leader election is enabled for t (its
 * unclean.leader.election.enable override, else dflt). */
bool ctl_topic_unclean(const cl_topic *t, bool dflt);

/* AlterPartitionReassignments for one partition: target NULL (n -1)
 * cancels (Kafka's cancelPartitionReassignment), else moves to target
 * (changePartitionReassignment with validateManualPartitionAssignment).
 * KERR_NONE with a framed PartitionChangeRecord appended to out, or
 * nothing when no change is needed; else Kafka's error with its message
 * in msg: INVALID_REPLICA_ASSIGNMENT (empty list, unregistered or repeated
 * broker; a cancel that needs an unclean election the topic does not
 * allow), NO_REASSIGNMENT_IN_PROGRESS (a cancel with none). The caller
 * checks the topic and partition exist. */
int16_t ctl_reassign(const cl_image *img, const cl_topic *t,
                     const cl_partition *p, const int32_t *target, int32_t n,
                     bool unclean_default, buf *out, char *msg, size_t msglen);

/* The partition after a change built by ctl_partition_build. */
typedef struct ctl_part_after {
    bool made;      /* a record was appended */
    bool completed; /* it completed a reassignment */
    int32_t leader, leader_epoch, partition_epoch;
    int32_t n_isr;
    int32_t *isr; /* owned: ctl_part_after_free */
} ctl_part_after;
void ctl_part_after_free(ctl_part_after *a);

/* An AlterPartition's ISR change through Kafka's PartitionChangeBuilder:
 * the new ISR as target, the reassignment completed if it now can, the
 * leader kept if still valid else elected (election ONLINE, or UNCLEAN
 * when the topic allows it). Appends the framed record to out unless
 * nothing changes; *after says what the partition will be. */
void ctl_partition_build(const cl_image *img, const cl_topic *t,
                         const cl_partition *p, const int32_t *isr,
                         int32_t n_isr, ctl_election election, buf *out,
                         ctl_part_after *after);

#endif
