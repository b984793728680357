/*
 * delete_records.c - DeleteRecords (api key 21), versions 0-2: moves each
 * partition's log start offset (offset -1 means the high watermark; beyond
 * it is OFFSET_OUT_OF_RANGE) and answers the new low watermark. Segments
 * wholly below it are deleted at once. One replica: no waiting.
 * Threading: loop thread.
 */
#include "broker/broker.h"
#include "broker/data.h"
#include "cluster/image.h"
#include "log/log.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "proto/proto.h"

brk_status brk_handle_delete_records(brk_req *req) {
    proto_delete_records_request rq;
    if (proto_delete_records_request_decode(&req->body, req->arena,
                                            req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_delete_records_response rs;
    proto_delete_records_response_init(&rs);
    int32_t nt = BRK_RESP_ARRAY(req, rs.topics, rq.topics.n);
    for (int32_t i = 0; i < nt; i++) {
        proto_delete_records_request_delete_records_topic *qt = &rq.topics.v[i];
        proto_delete_records_response_delete_records_topic_result *rt =
            &rs.topics.v[i];
        proto_delete_records_response_delete_records_topic_result_init(rt);
        rt->name = qt->name;
        int32_t np = BRK_RESP_ARRAY(req, rt->partitions, qt->partitions.n);
        for (int32_t j = 0; j < np; j++) {
            proto_delete_records_request_delete_records_partition *q =
                &qt->partitions.v[j];
            proto_delete_records_response_delete_records_partition_result *r =
                &rt->partitions.v[j];
            proto_delete_records_response_delete_records_partition_result_init(
                r);
            r->partition_index = q->partition_index;
            r->low_watermark = -1;
            int16_t err;
            log_partition *log;
            cl_partition *p =
                brk_data_partition(req->brk, qt->name.p,
                                   qt->name.len > 0 ? (size_t)qt->name.len : 0,
                                   q->partition_index, &log, &err);
            if (p) {
                int64_t lw = -1;
                err = log_delete_records(log, q->offset, &lw);
                if (!err)
                    r->low_watermark = lw;
            }
            r->error_code = err;
        }
    }
    proto_delete_records_response_encode(brk_resp_buf(req), req->api_version,
                                         &rs);
    return BRK_DONE;
}
