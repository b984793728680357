/*
 * cluster_fixture.h - a metadata image for the controller's unit tests: a
 * fresh image at metadata.version 30 with brokers 1..n registered through
 * the controller's own ClusterControlManager (ctl_cluster, epochs 10*id,
 * one log dir each) and unfenced by a first heartbeat, optionally with a
 * topic "t" of one partition. Records are applied as the controller would
 * (ctl_fx_apply). Test code only; single-threaded.
 */
#ifndef SL_TESTS_CLUSTER_FIXTURE_H
#define SL_TESTS_CLUSTER_FIXTURE_H

#include <stdint.h>

#include "cluster/image.h"
#include "controller/cluster_ctl.h"

/* Applies and frees rs (every record must decode). */
void ctl_fx_apply(cl_image *img, ctl_records *rs);
/* Brokers 1..n registered (cluster id cid) and unfenced. */
cl_image *ctl_fx_image(const char *cid, int32_t n);
/* Adds topic "t" (id 16 bytes of idb) with one partition: replicas reps,
 * ISR reps, leader reps[0]. */
void ctl_fx_topic(cl_image *img, uint8_t idb, const int32_t *reps, int32_t n);

#endif
