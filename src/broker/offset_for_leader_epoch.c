/*
 * offset_for_leader_epoch.c - OffsetForLeaderEpoch (api key 23), versions
 * 0-4: for each requested epoch, the largest epoch <= it and the start
 * offset of the next epoch (or LEO for the latest), from the leader-epoch
 * cache; (-1, -1) when unknown. current_leader_epoch (v2+) is checked
 * (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH).
 * Threading: loop thread.
 */
#include "broker/broker.h"
#include "broker/data.h"
#include "cluster/image.h"
#include "log/log.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "proto/proto.h"

brk_status brk_handle_offset_for_leader_epoch(brk_req *req) {
    proto_offset_for_leader_epoch_request rq;
    if (proto_offset_for_leader_epoch_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_offset_for_leader_epoch_response rs;
    proto_offset_for_leader_epoch_response_init(&rs);
    int32_t nt = BRK_RESP_ARRAY(req, rs.topics, rq.topics.n);
    for (int32_t i = 0; i < nt; i++) {
        proto_offset_for_leader_epoch_request_offset_for_leader_topic *qt =
            &rq.topics.v[i];
        proto_offset_for_leader_epoch_response_offset_for_leader_topic_result
            *rt = &rs.topics.v[i];
        proto_offset_for_leader_epoch_response_offset_for_leader_topic_result_init(
            rt);
        rt->topic = qt->topic;
        int32_t np = BRK_RESP_ARRAY(req, rt->partitions, qt->partitions.n);
        for (int32_t j = 0; j < np; j++) {
            proto_offset_for_leader_epoch_request_offset_for_leader_partition
                *q = &qt->partitions.v[j];
            proto_offset_for_leader_epoch_response_epoch_end_offset *r =
                &rt->partitions.v[j];
            proto_offset_for_leader_epoch_response_epoch_end_offset_init(r);
            r->partition = q->partition;
            r->leader_epoch = -1;
            r->end_offset = -1;
            int16_t err;
            log_partition *log;
            cl_partition *p = brk_data_partition(
                req->brk, qt->topic.p,
                qt->topic.len > 0 ? (size_t)qt->topic.len : 0, q->partition,
                &log, &err);
            if (p)
                err = repl_check_epoch(req->brk->repl, p,
                                       q->current_leader_epoch);
            if (p && !err)
                log_end_offset_for_epoch(log, q->leader_epoch, &r->leader_epoch,
                                         &r->end_offset);
            r->error_code = err;
        }
    }
    proto_offset_for_leader_epoch_response_encode(brk_resp_buf(req),
                                                  req->api_version, &rs);
    return BRK_DONE;
}
