/*
 * cluster_ctl.h - the controller's view of the brokers: Kafka's
 * ClusterControlManager and BrokerHeartbeatManager (KIP-631). Broker
 * registrations, heartbeat sessions, fencing and controlled shutdown
 * become metadata records; what they do to partitions (leaders moved off
 * a fenced or stopping broker, ISRs shrunk) is Kafka's
 * generateLeaderAndIsrUpdates with its PartitionChangeBuilder election.
 *
 * Pure: requests, the image and the time in; records (framed, for
 * ctl_submit) and replies out. The caller submits the records and applies
 * them through the image as with every other controller change.
 *
 * Broker states (BrokerControlState): FENCED -> UNFENCED once a heartbeat
 * shows the broker's metadata caught up to its registration; UNFENCED ->
 * CONTROLLED_SHUTDOWN when it asks to shut down while leading partitions;
 * -> SHUTDOWN_NOW (fenced) when it leads nothing. A session expires after
 * broker.session.timeout.ms without a heartbeat: the broker is fenced.
 *
 * Invariants:
 *  1. A broker's epoch is the offset of its registration record (the
 *     caller passes the controller's next write offset), so epochs only
 *     grow; a re-registration of the same incarnation keeps its epoch.
 *  2. A heartbeat or registration naming another epoch or incarnation is
 *     refused with Kafka's error and changes nothing.
 *  3. A fenced or stopping broker is never chosen leader; an ISR never
 *     becomes empty (without ELR the last member stays, leaderless).
 *
 * Ownership: ctl_cluster owns its sessions; records appended to out are
 * the caller's (ctl_records_free). Threading: the controller's thread.
 */
#ifndef SL_CONTROLLER_CLUSTER_CTL_H
#define SL_CONTROLLER_CLUSTER_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/image.h"
#include "core/buf.h"
#include "proto/gen/messages.h"

/* A growing list of framed records for one ctl_submit. */
typedef struct ctl_records {
    buf *v;
    int n, cap;
} ctl_records;
buf *ctl_records_add(ctl_records *r);
void ctl_records_free(ctl_records *r);

typedef struct ctl_cluster ctl_cluster;

ctl_cluster *ctl_cluster_new(const char *cluster_id,
                             int64_t session_timeout_ms);
void ctl_cluster_free(ctl_cluster *cc);

/* The controller became active (Kafka's ClusterControlManager.activate):
 * the sessions are rebuilt from the image, every registered unfenced
 * broker gets a fresh session from now_ms (so a failover neither fences
 * everyone at once nor leaves a dead broker unfenced: it is fenced one
 * session timeout later unless it heartbeats), fenced ones none. */
void ctl_cluster_activate(ctl_cluster *cc, const cl_image *img, int64_t now_ms);

/* BrokerRegistration: on KERR_NONE the RegisterBrokerRecord is in out and
 * *epoch is the broker epoch (new_epoch for a new incarnation, invariant
 * 1). Errors: INCONSISTENT_CLUSTER_ID, DUPLICATE_BROKER_REGISTRATION
 * (another incarnation's session is alive), INVALID_REGISTRATION (no,
 * reserved or duplicate log dirs; no metadata.version), UNSUPPORTED_VERSION
 * (a finalized feature level outside the broker's range); msg gets
 * Kafka's message. */
int16_t ctl_cluster_register(ctl_cluster *cc, const cl_image *img,
                             const proto_broker_registration_request *rq,
                             int64_t new_epoch, int64_t now_ms,
                             ctl_records *out, int64_t *epoch, char *msg,
                             size_t msglen);

/* BrokerHeartbeat: the records of a state change (if any) in out, the
 * reply's flags in *reply; next_offset is the controller's next write
 * offset (where out's records will go). Error: STALE_BROKER_EPOCH (an
 * unknown broker too, as Kafka's checkBrokerEpoch). unclean_default: the
 * cluster's unclean.leader.election.enable (a topic's own config wins). */
int16_t ctl_cluster_heartbeat(ctl_cluster *cc, const cl_image *img,
                              const proto_broker_heartbeat_request *rq,
                              int64_t next_offset, int64_t now_ms,
                              bool unclean_default, ctl_records *out,
                              proto_broker_heartbeat_response *reply, char *msg,
                              size_t msglen);

/* Sessions expired by now_ms: fences the first such unfenced broker (its
 * records in out) and returns its id, or -1 if none. Call until -1. */
int32_t ctl_cluster_expire(ctl_cluster *cc, const cl_image *img, int64_t now_ms,
                           bool unclean_default, ctl_records *out);

/* The PartitionChangeRecords that take broker `remove` out of every ISR
 * it is in (leaders moved to another acceptable ISR member, else -1, or
 * an unclean election when the topic allows it); with remove -1 and add
 * set, elects add where partitions have no leader. Appended to out;
 * returns how many. */
int ctl_leader_and_isr_updates(const cl_image *img, int32_t remove, int32_t add,
                               bool unclean_default, ctl_records *out);

/* Election kinds of Kafka's PartitionChangeBuilder.Election. */
typedef enum {
    CTL_ELECT_PREFERRED, /* the first replica if it may lead */
    CTL_ELECT_ONLINE,    /* a live ISR member; unclean if the topic allows */
    CTL_ELECT_UNCLEAN    /* a live ISR member, else any live replica */
} ctl_election;

/* Kafka's ReplicationControlManager.electLeader for ElectLeaders: type 0
 * (PREFERRED) or 1 (UNCLEAN). KERR_NONE with one PartitionChangeRecord
 * appended to out; ELECTION_NOT_NEEDED (the preferred replica leads / the
 * partition has a leader), PREFERRED_LEADER_NOT_AVAILABLE or
 * ELIGIBLE_LEADERS_NOT_AVAILABLE with nothing appended. */
int16_t ctl_elect_leader(const cl_image *img, const cl_topic *t,
                         const cl_partition *p, int8_t type, buf *out);

/* Kafka's periodic electUnclean task (maybeElectUncleanLeaders): an
 * unclean election (ctl_elect_leader type 1) for every leaderless
 * partition whose topic allows it (its unclean.leader.election.enable,
 * else unclean_default), at most max; each is logged. Returns how many
 * records were appended to out. */
int ctl_elect_unclean_leaderless(const cl_image *img, bool unclean_default,
                                 int max, ctl_records *out);

/* Kafka's periodic electPreferred task (auto.leader.rebalance.enable,
 * maybeBalancePartitionLeaders): a preferred election (first replica,
 * else the current leader, else another live ISR member) for every
 * partition not led by its first replica, leaderless ones included, at
 * most max. Returns how many records were appended to out. */
int ctl_elect_preferred_imbalanced(const cl_image *img, int max,
                                   ctl_records *out);

#endif
