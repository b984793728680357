/*
 * records.h - the controller's metadata records, one encoder each: what an
 * admin operation becomes before ctl_submit (controller.h). Each function
 * appends one framed KRaft record (cl_record_frame: frame version, type,
 * record version, then the generated encoding) to b, so a submit's values
 * are one buf per record. Pure: no image, no I/O.
 *
 * Also the rule the controller checks before it writes them: Kafka's topic
 * name validation. Replica placement is placement.h.
 *
 * Ownership: the caller owns b and every input. Threading: any thread.
 */
#ifndef SL_CONTROLLER_RECORDS_H
#define SL_CONTROLLER_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/image.h"
#include "core/buf.h"

/* TopicRecord. */
void ctl_rec_topic(buf *b, const char *name, const uint8_t id[16]);
/* PartitionRecord of a new partition: replicas[0..rf), the ISR
 * isr[0..n_isr) (n_isr >= 1; Kafka puts the active replicas there), the
 * first of the ISR leader, leader and partition epochs 0. */
void ctl_rec_partition(buf *b, const uint8_t topic_id[16], int32_t partition,
                       const int32_t *replicas, int16_t rf, const int32_t *isr,
                       int16_t n_isr);
/* ConfigRecord: resource_type as in DescribeConfigs (2 topic, 4 broker,
 * 16 client metrics, 32 group); resource NULL is the default resource "";
 * value NULL deletes the key. */
void ctl_rec_config(buf *b, int8_t resource_type, const char *resource,
                    const char *name, const char *value);
/* RemoveTopicRecord. */
void ctl_rec_remove_topic(buf *b, const uint8_t topic_id[16]);
/* ProducerIdsRecord: ids below next_producer_id are handed out. */
void ctl_rec_producer_ids(buf *b, int32_t broker_id, int64_t broker_epoch,
                          int64_t next_producer_id);
/* FeatureLevelRecord. */
void ctl_rec_feature_level(buf *b, const char *name, int16_t level);

/* Kafka's topic name rules (Topic.validate): KERR_NONE if valid, else
 * KERR_INVALID_TOPIC_EXCEPTION with Kafka 4.3's message in msg. All len
 * bytes are checked (a NUL is an illegal character). */
int16_t ctl_validate_topic_name(const char *name, size_t len, char *msg,
                                size_t msglen);

/* Registered, unfenced brokers in img. */
int32_t ctl_live_brokers(const cl_image *img);
#endif
