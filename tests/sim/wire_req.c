/* wire_req.c - one-partition Produce and Fetch requests (wire_req.h). */
#include "wire_req.h"

#include "proto/gen/messages.h"

int32_t wire_send_produce(net_client *c, int16_t max_version, const char *topic,
                          int32_t partition, int16_t acks, int32_t timeout_ms,
                          const buf *records, net_client_cb cb, void *ctx) {
    proto_produce_request rq;
    proto_produce_request_init(&rq);
    proto_produce_request_topic_produce_data td;
    proto_produce_request_topic_produce_data_init(&td);
    proto_produce_request_partition_produce_data pd;
    proto_produce_request_partition_produce_data_init(&pd);
    pd.index = partition;
    pd.records = (proto_bytes){records->data, (int32_t)records->len};
    td.name = proto_str_c(topic);
    td.partition_data.n = 1;
    td.partition_data.v = &pd;
    rq.acks = acks;
    rq.timeout_ms = timeout_ms;
    rq.topic_data.n = 1;
    rq.topic_data.v = &td;
    return net_client_send(c, PROTO_API_PRODUCE, max_version, &rq, cb, ctx);
}

int32_t wire_send_fetch(net_client *c, int16_t max_version, const wire_fetch *f,
                        net_client_cb cb, void *ctx) {
    proto_fetch_request rq;
    proto_fetch_request_init(&rq);
    proto_fetch_request_fetch_topic ft;
    proto_fetch_request_fetch_topic_init(&ft);
    proto_fetch_request_fetch_partition fp;
    proto_fetch_request_fetch_partition_init(&fp);
    fp.partition = f->partition;
    fp.fetch_offset = f->offset;
    fp.partition_max_bytes = f->partition_max_bytes;
    ft.topic = proto_str_c(f->topic);
    ft.partitions.n = 1;
    ft.partitions.v = &fp;
    rq.max_wait_ms = f->max_wait_ms;
    rq.min_bytes = 1;
    rq.max_bytes = 65536;
    rq.isolation_level = f->isolation_level;
    rq.session_id = 0;
    rq.session_epoch = f->session_epoch;
    rq.topics.n = 1;
    rq.topics.v = &ft;
    return net_client_send(c, PROTO_API_FETCH, max_version, &rq, cb, ctx);
}
