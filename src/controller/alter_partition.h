/*
 * alter_partition.h - the controller's side of AlterPartition (API 56,
 * KIP-497, KIP-841, KIP-903): a partition leader asks to change its ISR;
 * Kafka 4.3's ReplicationControlManager.alterPartition with its
 * validateAlterPartitionData checks and PartitionChangeBuilder
 * (controller/reassign.h; no ELR): the ISR changes, and an ISR that holds
 * every replica an ongoing reassignment adds completes it in the same
 * record (replicas = target, removed replicas out, a new leader when the
 * old one left: the partition then answers NEW_LEADER_ELECTED).
 *
 * Pure: the request, the image in; PartitionChangeRecords (framed, for
 * ctl_submit) and the response out. The caller commits the records and
 * answers once they are committed (Kafka's QuorumController answers after
 * the write), so the partition epoch in a reply is the one the image will
 * have.
 *
 * Checks, per partition, in Kafka's order: unknown topic id
 * (UNKNOWN_TOPIC_ID) or partition (UNKNOWN_TOPIC_OR_PARTITION); a leader or
 * partition epoch above the image's (NOT_CONTROLLER: this controller is
 * behind); a leader epoch below (FENCED_LEADER_EPOCH); a requester that is
 * not the leader (INVALID_REQUEST); a partition epoch below
 * (INVALID_UPDATE_VERSION); an ISR that is not a duplicate-free subset of
 * the replicas or lacks the leader (INVALID_REQUEST); a RECOVERED partition
 * going RECOVERING, or RECOVERING with more than one replica in the ISR
 * (INVALID_REQUEST); a replica in the new ISR that is not registered, is
 * fenced, is in controlled shutdown, or whose broker epoch (when not -1)
 * differs from its registration's (INELIGIBLE_REPLICA, KIP-841/KIP-903).
 * The whole request: the requester's broker epoch must be its
 * registration's (STALE_BROKER_EPOCH, as ClusterControlManager
 * .checkBrokerEpoch).
 *
 * Invariant: a record is made only for a partition that passed every
 * check, and only when it changes something; its ISR always holds the
 * leader.
 *
 * Ownership: the response's arrays live in arena a; records appended to
 * out are the caller's (ctl_records_free). Threading: any thread.
 */
#ifndef SL_CONTROLLER_ALTER_PARTITION_H
#define SL_CONTROLLER_ALTER_PARTITION_H

#include <stdint.h>

#include "cluster/image.h"
#include "controller/cluster_ctl.h"
#include "core/arena.h"
#include "proto/gen/messages.h"

/* Fills rs (initialized by the caller) and appends the records to out.
 * version is the request's (v2+: topic ids; v3: broker epochs in the new
 * ISR, v2's plain ids count as epoch -1). Returns the top-level error
 * (also in rs->error_code). */
int16_t ctl_alter_partition(const cl_image *img,
                            const proto_alter_partition_request *rq,
                            int16_t version, arena *a, ctl_records *out,
                            proto_alter_partition_response *rs);

#endif
