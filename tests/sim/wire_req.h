/*
 * wire_req.h - Produce and Fetch requests the way the unit tests and the
 * simulator send them to a node: one topic, one partition, over a
 * net_client (src/net/client.h). Test-only; one builder shared by
 * tests/unit (test_node.c, test_produce_defer.c) and tests/sim (sim.c).
 *
 * Ownership: nothing is kept; the request is encoded inside the send, so
 * records may be freed when it returns. Threading: the client's loop.
 */
#ifndef SL_TESTS_WIRE_REQ_H
#define SL_TESTS_WIRE_REQ_H

#include <stdint.h>

#include "core/buf.h"
#include "net/client.h"

/* Produce of records (a v2 record batch) to topic-partition, at most
 * max_version. Returns what net_client_send returns (> 0: sent). */
int32_t wire_send_produce(net_client *c, int16_t max_version, const char *topic,
                          int32_t partition, int16_t acks, int32_t timeout_ms,
                          const buf *records, net_client_cb cb, void *ctx);

typedef struct wire_fetch {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int32_t partition_max_bytes;
    int32_t max_wait_ms;
    int8_t isolation_level; /* 0 read_uncommitted, 1 read_committed */
    int32_t session_epoch;  /* 0 opens a session (KIP-227), -1 none */
} wire_fetch;

/* Fetch of one partition (min_bytes 1, max_bytes 64 KiB), at most
 * max_version. Returns what net_client_send returns. */
int32_t wire_send_fetch(net_client *c, int16_t max_version, const wire_fetch *f,
                        net_client_cb cb, void *ctx);

#endif
