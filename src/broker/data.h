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
#include "replica/replica.h"

/* Frees the node's fetch sessions (brk->fetch_sessions; node free). */
void brk_fetch_sessions_free(brk_broker *brk);

/* The partition for a data request on this broker: known topic, hosted
 * here, this node the leader (the replica manager says so), with its local
 * log in *log. NULL with *err set (UNKNOWN_TOPIC_OR_PARTITION,
 * NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR). */
cl_partition *brk_data_partition(brk_broker *brk, const char *topic,
                                 size_t topic_len, int32_t partition,
                                 log_partition **log, int16_t *err);
/* The local log of a partition found by id or name if this node leads it
 * and its log is healthy (repl_leader_log); NULL with *err set. */
log_partition *brk_data_log(brk_broker *brk, const cl_partition *part,
                            int16_t *err);

#endif
