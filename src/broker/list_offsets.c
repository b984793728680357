/*
 * list_offsets.c - ListOffsets (api key 2), versions 1-10: earliest (-2),
 * latest (-1: high watermark, or last stable offset for read_committed),
 * max timestamp (-3), earliest local (-4, = earliest without tiered
 * storage), latest tiered (-5, -1 without tiered storage), earliest pending
 * upload (-6, -1 likewise), and by timestamp (first record whose timestamp
 * is >= the target, below the fetchable end). Version 0 (old_style_offsets)
 * is not served, as in Kafka 4.
 * Threading: loop thread.
 */
#include <string.h>

#include "broker/broker.h"
#include "broker/data.h"
#include "cluster/image.h"
#include "log/log.h"
#include "proto/errors.h"
#include "txn/txn.h"
#include "proto/gen/messages.h"
#include "proto/proto.h"

static void
list_one(brk_req *req, const proto_list_offsets_request *rq,
         const proto_str *topic,
         const proto_list_offsets_request_list_offsets_partition *q,
         proto_list_offsets_response_list_offsets_partition_response *r) {
    brk_broker *brk = req->brk;
    r->partition_index = q->partition_index;
    r->timestamp = -1;
    r->offset = -1;
    r->leader_epoch = -1;
    int16_t err;
    log_partition *log;
    size_t tlen = topic->len > 0 ? (size_t)topic->len : 0;
    cl_partition *p =
        brk_data_partition(brk, topic->p, tlen, q->partition_index, &log, &err);
    /* Kafka's ReplicaManager.fetchOffset: fetchOnlyFromLeader unless the
     * debugging replica id (-2), which a follower answers too */
    if (!p && err == KERR_NOT_LEADER_OR_FOLLOWER && rq->replica_id == -2 &&
        brk->repl) {
        int16_t e2;
        const cl_partition *f =
            brk_find_partition(brk, topic->p, tlen, q->partition_index, &e2);
        log = f ? repl_log(brk->repl, f) : NULL;
        if (log && !log_is_failed(log) &&
            repl_role_of(brk->repl, f) == REPL_ROLE_FOLLOWER)
            p = (cl_partition *)f;
    }
    if (p)
        err = repl_check_epoch(brk->repl, p, q->current_leader_epoch);
    if (err) {
        r->error_code = err;
        return;
    }
    /* isolation applies to consumers (-1) only, Kafka's isolationLevelOpt */
    int64_t fetchable = rq->replica_id != -1 ? log_end_offset(log)
                        : rq->isolation_level == 1
                            ? txn_lso(brk->txn, log) /* txn hook */
                            : log_high_watermark(log);
    int64_t ts = q->timestamp, off = -1, rts = -1;
    int32_t epoch = -1;
    switch (ts) {
    case LOG_TS_LATEST:
        off = fetchable;
        epoch = repl_leader_epoch(brk->repl, p);
        break;
    case LOG_TS_EARLIEST:
    case -4: /* EARLIEST_LOCAL */
        off = log_start_offset(log);
        epoch = log_epoch_for_offset(log, off);
        break;
    case -5: /* LATEST_TIERED */
    case -6: /* EARLIEST_PENDING_UPLOAD */
        break;
    default:
        if (ts < -3) {
            err = KERR_INVALID_REQUEST;
            break;
        }
        err = log_offset_for_timestamp(log, ts, &off, &rts);
        if (!err && off >= fetchable)
            off = rts = -1; /* not yet fetchable */
        if (!err && off >= 0)
            epoch = log_epoch_for_offset(log, off);
        break;
    }
    r->error_code = err;
    if (!err) {
        r->offset = off;
        r->timestamp = rts;
        r->leader_epoch = epoch;
    }
}

brk_status brk_handle_list_offsets(brk_req *req) {
    proto_list_offsets_request rq;
    if (proto_list_offsets_request_decode(&req->body, req->arena,
                                          req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_list_offsets_response rs;
    proto_list_offsets_response_init(&rs);
    int32_t nt = BRK_RESP_ARRAY(req, rs.topics, rq.topics.n);
    for (int32_t i = 0; i < nt; i++) {
        proto_list_offsets_request_list_offsets_topic *qt = &rq.topics.v[i];
        proto_list_offsets_response_list_offsets_topic_response *rt =
            &rs.topics.v[i];
        proto_list_offsets_response_list_offsets_topic_response_init(rt);
        rt->name = qt->name;
        int32_t np = BRK_RESP_ARRAY(req, rt->partitions, qt->partitions.n);
        for (int32_t j = 0; j < np; j++) {
            proto_list_offsets_response_list_offsets_partition_response_init(
                &rt->partitions.v[j]);
            list_one(req, &rq, &qt->name, &qt->partitions.v[j],
                     &rt->partitions.v[j]);
        }
    }
    proto_list_offsets_response_encode(brk_resp_buf(req), req->api_version,
                                       &rs);
    return BRK_DONE;
}
