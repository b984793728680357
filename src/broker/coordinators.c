/*
 * coordinators.c - plugs the group and transaction coordinators into their
 * node: makes their per-node state when the node starts (before the start
 * hooks, txn first: the group coordinator registers with it), hands them
 * the node's services they must not call up for (brk_coord_services: the
 * controller's topic creation, live brokers and producer id blocks, the
 * fetch wake-up after a marker), and frees the state once the node's loop
 * has closed its connections.
 *
 * This is the only broker file that knows both sides: src/group and
 * src/txn include broker/broker.h only, never broker/internal.h or
 * broker/data.h, so the graph stays broker -> group -> txn.
 * Threading: the node's loop thread.
 */
#include "broker/data.h"
#include "broker/internal.h"
#include "group/node.h"
#include "txn/txn.h"

static int16_t create_topic(brk_broker *brk, const char *name, int32_t n_parts,
                            int16_t rf, const brk_kv *configs,
                            size_t n_configs) {
    return ctl_create_topic(brk, name, n_parts, rf, NULL, configs, n_configs,
                            NULL);
}

static int32_t live_brokers(brk_broker *brk) {
    return ctl_live_brokers(brk->image);
}

void brk_coordinators_start(brk_broker *brk) {
    brk->coord_svc = (brk_coord_services){
        .create_topic = create_topic,
        .live_brokers = live_brokers,
        .allocate_producer_ids = ctl_allocate_producer_ids,
    };
    brk->txn = txn_node_new(brk);
    brk->grp = grp_node_new(brk);
}

void brk_coordinators_free(brk_broker *brk) {
    grp_node_free(brk->grp);
    txn_node_free(brk->txn);
    brk->grp = NULL;
    brk->txn = NULL;
}
