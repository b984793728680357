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

struct part_rec;
struct txn_meta;

struct txn_node {
    coord_rt *rt; /* the node's coordinator runtime (services, loop) */
    /* partition side (txn_part.c): producer state per partition log */
    struct part_rec **buckets; /* TXN_PART_BUCKETS hash chains */
    uint64_t expire_timer;     /* producer id expiration */
    bool part_hooked;          /* shutdown hook and timer in place */
    bool part_stopping;
    int64_t pid_next, pid_end; /* the producer id block in use */
    /* coordinator side (txn_coord.c): transactional ids */
    struct txn_meta **metas;
    int n_metas, cap_metas;
    bool loaded, loading, coord_stopping;
    uint64_t tick_timer;
    int64_t next_expire_ms;
    txn_offsets_listener offsets; /* the group coordinator's */
};

/* The local log of part if this node leads it (the replica manager), else
 * NULL (txn_part.c). */
log_partition *txn_leader_log(txn_node *tn, const cl_partition *part);
/* The local log of part whatever its role, or NULL. */
log_partition *txn_local_log(txn_node *tn, const cl_partition *part);

/* Frees the partition side / the coordinator side (txn_node_free). */
void txn_part_free(txn_node *t);
void txn_coord_free(txn_node *t);

#endif
