/*
 * placement.h - where new partitions' replicas go: Kafka's
 * StripedReplicaPlacer (org.apache.kafka.metadata.placement) over the
 * brokers registered in the image.
 *
 * Brokers in controlled shutdown are not used; fenced ones may hold a
 * follower replica. Goals, highest first: spread each partition's replicas over
 * racks (broker.rack; brokers without a rack form one rack), then over brokers
 * (leaders too), and prefer unfenced brokers. Constraints: one replica per
 * broker, so rf <= registered brokers; the leader (first replica) is never
 * fenced. Racks are visited round robin from a random start that moves one
 * rack per partition (the "stripes"); within a rack, brokers round robin
 * from a random start, unfenced before fenced. Once as many partitions as
 * there are unfenced brokers are placed, racks and brokers are shuffled.
 * Randomness comes from the current environment (rng_os_bytes), so a
 * simulation places deterministically.
 *
 * Ownership: the caller owns img and out. Threading: the image's thread.
 */
#ifndef SL_CONTROLLER_PLACEMENT_H
#define SL_CONTROLLER_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/image.h"

/* Replicas for n_parts new partitions, rf each, into out[p * rf + r].
 * KERR_NONE, or KERR_INVALID_REPLICATION_FACTOR with Kafka's message in
 * msg (rf not positive; no unfenced broker; rf above the registered
 * brokers), in Kafka's order of checks. */
int16_t ctl_place_replicas(const cl_image *img, int32_t n_parts, int16_t rf,
                           int32_t *out, char *msg, size_t msglen);

/* Kafka's ClusterControlManager.isActive: registered, unfenced and not in
 * controlled shutdown. */
bool ctl_broker_active(const cl_image *img, int32_t id);

/* The ISR of a new partition, as Kafka's controller builds it: the
 * replicas that are active (ctl_broker_active), in replica order, into
 * isr. Returns its size (0: no replica is active). */
int16_t ctl_active_replicas(const cl_image *img, const int32_t *replicas,
                            int16_t rf, int32_t *isr);

#endif
