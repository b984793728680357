/*
 * alter_partition.c - AlterPartition (56) on the controller listener: the
 * active controller validates a partition leader's ISR change
 * (controller/alter_partition.h), commits the PartitionChangeRecords
 * through brk->ctl and answers once they are committed, as Kafka's
 * QuorumController does. NOT_CONTROLLER (top level) when this node's
 * controller is not the active one; the leader's AlterPartition manager
 * (alter_partition_mgr.c) retries elsewhere.
 *
 * The checks read the committed image. While other submits are still in
 * flight the image may not show them yet (a broker being fenced, another
 * ISR change), and a change validated against it could undo theirs; Kafka's
 * controller validates against its latest in-memory state instead. So the
 * handler runs only once nothing else is in flight (server.c routes it
 * through brk_ctl_serial).
 *
 * Loop thread only; the reply lives in the request arena.
 */
#include "broker/internal.h"
#include "controller/alter_partition.h"
#include "controller/controller.h"
#include "core/log.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"

static void alter_partition_finish(brk_req *req, void *ctx) {
    proto_alter_partition_response *rs = ctx;
    if (rs->error_code) { /* the commit failed: nothing changed */
        rs->topics.n = 0;
    }
    proto_alter_partition_response_encode(brk_resp_buf(req), req->api_version,
                                          rs);
}

brk_status brk_handle_alter_partition(brk_req *req) {
    brk_broker *brk = req->brk;
    proto_alter_partition_request rq;
    if (proto_alter_partition_request_decode(&req->body, req->arena,
                                             req->api_version, &rq))
        return BRK_CLOSE;
    proto_alter_partition_response *rs =
        arena_calloc(req->arena, 1, sizeof *rs);
    proto_alter_partition_response_init(rs);
    brk_commit_wait *w = brk_commit_begin(req, alter_partition_finish, rs);
    if (!brk->ctl || (brk->quorum && !ctl_active(brk->ctl))) {
        rs->error_code = KERR_NOT_CONTROLLER;
        return brk_commit_end(w);
    }
    SL_ASSERT(ctl_pending(brk->ctl) == 0); /* brk_ctl_serial */
    ctl_records recs = {0};
    ctl_alter_partition(brk->image, &rq, req->api_version, req->arena, &recs,
                        rs);
    if (rs->error_code == KERR_STALE_BROKER_EPOCH)
        SL_WARN("controller",
                "AlterPartition from broker %d with stale broker epoch %lld",
                rq.broker_id, (long long)rq.broker_epoch);
    if (!rs->error_code && recs.n)
        brk_commit(w, recs.v, recs.n, &rs->error_code);
    ctl_records_free(&recs);
    return brk_commit_end(w);
}
