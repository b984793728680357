/*
 * data.h - glue shared by the data-path handlers of the log layer
 * (produce.c, fetch.c, list_offsets.c, delete_records.c,
 * offset_for_leader_epoch.c, describe_log_dirs.c). Not a public contract.
 * Threading: loop thread only.
 */
#ifndef SL_BROKER_DATA_H
#define SL_BROKER_DATA_H

#include <stdbool.h>

#include "broker/broker.h"
#include "cluster/image.h"
#include "log/log.h"

/* After an append: moves the high watermark (single replica: to LEO; the
 * replication layer will take over when ISR > 1) and wakes long-polling
 * fetches waiting on this partition. */
void brk_data_appended(brk_broker *brk, cl_partition *part);
/* Wakes fetches waiting on this log (fetch.c). */
void brk_fetch_notify(brk_broker *brk, log_partition *log);
/* A topic is being removed from the image (or partition, -1 = all, changed
 * leader): fetches waiting on it answer as soon as the loop runs again, after
 * the image change, with the partition's error (Kafka's DelayedFetch
 * completes when a partition is gone, cases A-C). */
void brk_fetch_wake(brk_broker *brk, const cl_topic *t, int32_t partition);
/* Frees the node's fetch sessions (brk->fetch_sessions; node free). */
void brk_fetch_sessions_free(brk_broker *brk);

/* The partition for a data request on this broker: known topic, hosted
 * here, this node the leader. NULL with *err set (UNKNOWN_TOPIC_OR_PARTITION,
 * NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR). */
cl_partition *brk_data_partition(brk_broker *brk, const char *topic,
                                 size_t topic_len, int32_t partition,
                                 int16_t *err);
/* Checks a partition found by id or name: hosted, leader, log healthy. */
int16_t brk_data_check(brk_broker *brk, const cl_partition *part);

#endif
