/*
 * internal.h - the transaction layer's per-node state, shared by
 * txn_part.c (producer states of the partitions, producer id blocks) and
 * txn_coord.c (the transaction coordinator). Not for use outside src/txn.
 *
 * Ownership: a txn_node is made by txn_node_new when its node starts and
 * freed by txn_node_free after the node's loop has stopped; it owns every
 * record and meta below. Threading: the node's loop thread only.
 */
#ifndef SL_TXN_INTERNAL_H
#define SL_TXN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "txn/txn.h"

#define TXN_PART_BUCKETS 4096
/* txn_alloc_producer_id: no block yet, one is being allocated; the caller
 * waits for txn_pid_block_ready (not a Kafka error code). */
#define TXN_PID_PENDING 0x7f00

struct part_rec;
struct txn_meta;
struct pid_op;
struct pid_waiter;

struct txn_node {
    coord_rt *rt; /* the node's coordinator runtime (services, loop) */
    /* partition side (txn_part.c): producer state per partition log */
    struct part_rec **buckets; /* TXN_PART_BUCKETS hash chains */
    uint64_t expire_timer;     /* producer id expiration */
    bool part_hooked;          /* shutdown hook and timer in place */
    bool part_stopping;
    int64_t pid_next, pid_end; /* the producer id block in use */
    struct pid_op *pid_op;     /* the block allocation in flight, or NULL */
    /* InitProducerId requests waiting for it (txn_coord.c), FIFO */
    struct pid_waiter *pid_waiters, **pid_waiters_tail;
    /* coordinator side (txn_coord.c): transactional ids */
    struct txn_meta **metas;
    int n_metas, cap_metas;
    bool loaded; /* started: shutdown hook and tick in place */
    bool loading, coord_stopping;
    /* per __transaction_state partition: 1 while this node leads it and
     * its ids are loaded (txn_coord_ensure / txn_partition_changed) */
    uint8_t *part_loaded;
    int32_t n_part_loaded;
    uint64_t tick_timer;
    int64_t next_expire_ms;
    txn_offsets_listener offsets; /* the group coordinator's */
    uint64_t meta_serial;         /* the last txn_meta serial given */
    uint64_t retry_timer;         /* markers retried (txn_coord.c) */
    /* WriteTxnMarkers clients per destination broker (txn_markers.c) */
    struct txn_marker_client *mclients;
    int n_mclients;
};

/* ---- txn_markers.c: markers for partitions led by other brokers ---- */
/* The answer of a txn_markers_send: the partitions as sent, each with its
 * error (KERR_NONE: its marker is written and replicated). */
typedef void (*txn_markers_done_fn)(void *ctx, const char *const *topics,
                                    const int32_t *parts, const int16_t *errs,
                                    int n);
/* Sends WriteTxnMarkers for producer_id/epoch (commit or abort) for the
 * partitions topics[i]/parts[i] to broker, their leader. KERR_NONE: done
 * runs exactly once later; else (not connected yet, unknown broker, node
 * stopping) done never runs and the caller retries. */
int16_t txn_markers_send(txn_node *tn, int32_t broker, int64_t producer_id,
                         int16_t epoch, bool commit, int32_t coordinator_epoch,
                         const char *const *topics, const int32_t *parts, int n,
                         txn_markers_done_fn done, void *ctx);
/* Closes the clients (shutdown): what is in flight gets its done, with
 * errors. */
void txn_markers_close(txn_node *tn);

/* The local log of part if this node leads it (the replica manager), else
 * NULL (txn_part.c). */
log_partition *txn_leader_log(txn_node *tn, const cl_partition *part);
/* The local log of part whatever its role, or NULL. */
log_partition *txn_local_log(txn_node *tn, const cl_partition *part);

/* Frees the partition side / the coordinator side / the producer id
 * allocation (txn_node_free). */
void txn_part_free(txn_node *t);
void txn_coord_free(txn_node *t);
void txn_pid_free(txn_node *t);
/* A producer id block arrived (err 0) or its allocation failed: the waiting
 * InitProducerId requests run again or fail (txn_coord.c). */
void txn_pid_block_ready(txn_node *t, int16_t err);
/* Shutdown hook: the waiting InitProducerId requests are answered. */
void txn_pid_shutdown(void *arg);

#endif
