/*
 * produce.c - Produce (api key 0), versions 3-11: the batches are validated
 * by the log and written as received, with baseOffset and
 * partitionLeaderEpoch rewritten in place inside the request frame (the
 * page cache is the only other copy). A topic whose compression.type names a
 * codec other than the producer's gets the batch rebuilt with that codec.
 *
 * Every append goes through the replica manager (repl_append,
 * src/replica/replica.h), which moves the high watermark.
 * acks: 0 -> no response (connection closed if a partition failed, as Kafka
 * does so the client refreshes metadata), 1 -> answered after the appends,
 * -1 -> answered once the high watermark covers every partition's batch
 * (with one replica at once; else the request is deferred, BRK_DEFER, until
 * the purgatory completes each partition, or REQUEST_TIMED_OUT after the
 * request's timeout_ms: Kafka's DelayedProduce). Either way, if an append
 * made a flush due (flush.messages, src/log/flush.h), after that flush
 * completed (BRK_AFTER_FLUSH), as Kafka flushes inside the append. acks=-1
 * with fewer in-sync replicas than min(min.insync.replicas, replicas) ->
 * NOT_ENOUGH_REPLICAS, nothing written.
 * A deferred response must not borrow from the request frame (for Produce
 * the connection's buffer, gone once the handler returns): the response
 * owns its names and messages (request arena).
 * Versions 0-2 are advertised, as Kafka 4 does (KAFKA-18659: librdkafka
 * disables gzip/snappy unless Produce v2 is listed), but only magic-2
 * batches are accepted on any version (INVALID_RECORD otherwise).
 * Threading: loop thread.
 */
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/data.h"
#include "cluster/image.h"
#include "core/util.h"
#include "log/batch.h"
#include "log/compress.h"
#include "log/flush.h"
#include "log/log.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "proto/proto.h"
#include "replica/replica.h"
#include "txn/txn.h"

#define RECOMPRESS_MAX (64u << 20)

cl_partition *brk_data_partition(brk_broker *brk, const char *topic,
                                 size_t topic_len, int32_t partition,
                                 log_partition **log, int16_t *err) {
    *log = NULL;
    const cl_partition *p =
        brk_find_partition(brk, topic, topic_len, partition, err);
    if (!p)
        return NULL;
    *log = brk_data_log(brk, p, err);
    return *log ? (cl_partition *)p : NULL;
}

log_partition *brk_data_log(brk_broker *brk, const cl_partition *part,
                            int16_t *err) {
    if (!brk->repl) {
        *err = KERR_NOT_LEADER_OR_FOLLOWER;
        return NULL;
    }
    return repl_leader_log(brk->repl, part, err);
}

/* ---- the request in flight --------------------------------------------- */

/* One Produce request: its response (request arena, owning its strings)
 * and the partitions still waiting for acks=all. */
typedef struct produce_ctx {
    brk_req *req;
    proto_produce_response rs;
    int waiting;    /* partitions not completed yet, +1 while handling */
    bool deferred;  /* the handler returned BRK_DEFER */
    bool flush_due; /* an append made a flush due */
} produce_ctx;

/* One partition's append (request arena). */
typedef struct produce_part {
    produce_ctx *pc;
    proto_produce_response_partition_produce_response *r;
    brk_broker *brk;
    log_batch_header h;
} produce_part;

static void produce_send(produce_ctx *pc) {
    brk_req *req = pc->req;
    proto_produce_response_encode(brk_resp_buf(req), req->api_version, &pc->rs);
    brk_req_complete(req, pc->flush_due ? BRK_AFTER_FLUSH : BRK_DONE);
}

/* A partition is done: the one that completes a deferred request sends its
 * response. */
static void produce_part_done(produce_ctx *pc) {
    SL_ASSERT(pc->waiting > 0);
    if (--pc->waiting == 0 && pc->deferred)
        produce_send(pc);
}

/* repl_append's appended hook: the producer state follows the log before
 * the high watermark moves (txn hook). */
static void produce_appended(void *ctx, log_partition *log,
                             const log_append_info *info) {
    produce_part *pp = ctx;
    txn_produce_appended(pp->brk->txn, log, &pp->h, info->base_offset);
}

/* repl_append's done: acks met (now or from the purgatory). */
static void produce_acked(void *ctx, int16_t err, const log_append_info *info) {
    produce_part *pp = ctx;
    proto_produce_response_partition_produce_response *r = pp->r;
    r->log_start_offset = info->log_start_offset;
    r->base_offset = info->base_offset;
    r->log_append_time_ms = info->log_append_time;
    r->error_code = err;
    produce_part_done(pp->pc);
}

/* The records Kafka's LogValidator rejected, collected for record_errors
 * (request arena). */
typedef struct rec_errs {
    arena *a;
    proto_produce_response_batch_index_and_error_message *v;
    int32_t n, cap;
} rec_errs;

static void rec_errs_add(void *ctx, int32_t index, const char *message) {
    rec_errs *re = ctx;
    if (re->n == re->cap) {
        int32_t cap = re->cap ? re->cap * 2 : 8;
        proto_produce_response_batch_index_and_error_message *v =
            arena_calloc(re->a, (size_t)cap, sizeof(*v));
        if (re->n)
            memcpy(v, re->v, (size_t)re->n * sizeof(*v));
        re->v = v;
        re->cap = cap;
    }
    proto_produce_response_batch_index_and_error_message *e = &re->v[re->n++];
    proto_produce_response_batch_index_and_error_message_init(e);
    e->batch_index = index;
    e->batch_index_error_message =
        proto_str_c(arena_strndup(re->a, message, strlen(message)));
}

/* Kafka's partition error_message for a RecordValidationException
 * (LogValidator.processRecordErrors): the count and the first three
 * RecordErrors as Java's List.toString prints them. */
static const char *rec_errs_summary(arena *a, int16_t err, const rec_errs *re) {
    if (err == KERR_INVALID_TIMESTAMP)
        return "One or more records have been rejected due to invalid "
               "timestamp";
    buf b;
    buf_init(&b, 256);
    buf_printf(&b,
               "One or more records have been rejected due to %d record "
               "errors in total, and only showing the first three errors at "
               "most: [",
               (int)re->n);
    for (int32_t i = 0; i < re->n && i < 3; i++) {
        const proto_str *m = &re->v[i].batch_index_error_message;
        buf_printf(&b, "%sRecordError(batchIndex=%d, message='%.*s')",
                   i ? ", " : "", (int)re->v[i].batch_index, (int)m->len, m->p);
    }
    buf_printf(&b, "]");
    char *out = arena_strndup(a, (const char *)b.data, b.len);
    buf_free(&b);
    return out;
}

/* Kafka's ByteBufferLogInputStream.nextBatchSize on the bytes at p: 0 and
 * *size (batch size with its 12-byte prefix, 0 when the header up to the
 * magic byte is not all there), or CORRUPT_MESSAGE (size field below 14,
 * magic outside 0..2), with Kafka's text in msg when wanted. */
static int16_t next_batch_size(const uint8_t *p, size_t n, size_t *size,
                               char *msg, size_t cap) {
    *size = 0;
    if (n < BATCH_LOG_OVERHEAD)
        return KERR_NONE;
    int32_t rs = (int32_t)sl_load_be32(p + BATCH_OFF_LENGTH);
    if (rs < 14) {
        if (msg)
            snprintf(msg, cap,
                     "Record size %d is less than the minimum record "
                     "overhead (14)",
                     (int)rs);
        return KERR_CORRUPT_MESSAGE;
    }
    if (n < BATCH_OFF_MAGIC + 1)
        return KERR_NONE;
    int8_t magic = (int8_t)p[BATCH_OFF_MAGIC];
    if (magic < 0 || magic > BATCH_MAGIC) {
        if (msg)
            snprintf(msg, cap, "Invalid magic found in record: %d", magic);
        return KERR_CORRUPT_MESSAGE;
    }
    *size = (size_t)rs + BATCH_LOG_OVERHEAD;
    return KERR_NONE;
}

/* Kafka's ProduceRequest.validateRecords on one partition: a first whole
 * batch of magic 2 (no ZSTD before v7) and no second whole batch. Bytes
 * after the batch that do not make a whole one are dropped (*len shrinks),
 * as Kafka's log trims them. */
static int16_t check_records(const uint8_t *p, size_t *len, int16_t version) {
    size_t n = *len, bs;
    int16_t e = next_batch_size(p, n, &bs, NULL, 0);
    if (e)
        return e;
    if (bs == 0 || bs > n)
        return KERR_INVALID_RECORD; /* "must have at least one batch" */
    if (p[BATCH_OFF_MAGIC] != BATCH_MAGIC)
        return KERR_INVALID_RECORD; /* "only ... magic version 2" */
    if (version < 7 &&
        (sl_load_be16(p + BATCH_OFF_ATTRIBUTES) & 7) == COMPRESS_ZSTD)
        return KERR_UNSUPPORTED_COMPRESSION_TYPE;
    size_t bs2;
    e = next_batch_size(p + bs, n - bs, &bs2, NULL, 0);
    if (e)
        return e;
    if (bs2 && bs2 <= n - bs)
        return KERR_INVALID_RECORD; /* "exactly one record batch" */
    *len = bs;
    return KERR_NONE;
}

/* Errors Kafka gives the whole request before looking at any partition:
 * reading each partition's first batch header
 * (RequestUtils.hasTransactionalRecords, which stops at the first
 * transactional batch) can throw CorruptRecordException; before v7, a
 * first batch whose codec id is not one Kafka knows makes
 * ProduceRequest.validateRecords throw (UNKNOWN_SERVER_ERROR, no text). */
static int16_t check_request(brk_broker *brk, proto_produce_request *rq,
                             int16_t version, char *msg, size_t cap) {
    msg[0] = 0;
    for (int32_t i = 0; i < rq->topic_data.n; i++) {
        proto_produce_request_topic_produce_data *td = &rq->topic_data.v[i];
        for (int32_t j = 0; j < td->partition_data.n; j++) {
            const uint8_t *p =
                (const uint8_t *)td->partition_data.v[j].records.p;
            int32_t n = td->partition_data.v[j].records.len;
            size_t bs;
            if (n <= 0)
                continue;
            int16_t e = next_batch_size(p, (size_t)n, &bs, msg, cap);
            if (e)
                return e;
            if (bs && bs <= (size_t)n && p[BATCH_OFF_MAGIC] == BATCH_MAGIC &&
                (sl_load_be16(p + BATCH_OFF_ATTRIBUTES) &
                 BATCH_ATTR_TRANSACTIONAL))
                goto txn_found;
        }
    }
txn_found:
    if (version >= 7)
        return KERR_NONE;
    for (int32_t i = 0; i < rq->topic_data.n; i++) {
        proto_produce_request_topic_produce_data *td = &rq->topic_data.v[i];
        if (td->name.len <= 0 ||
            !cl_topic_find(brk->image, td->name.p, (size_t)td->name.len))
            continue;
        for (int32_t j = 0; j < td->partition_data.n; j++) {
            const uint8_t *p =
                (const uint8_t *)td->partition_data.v[j].records.p;
            int32_t n = td->partition_data.v[j].records.len;
            size_t bs;
            if (n <= 0 || next_batch_size(p, (size_t)n, &bs, NULL, 0) || !bs ||
                bs > (size_t)n || p[BATCH_OFF_MAGIC] != BATCH_MAGIC)
                continue;
            if ((sl_load_be16(p + BATCH_OFF_ATTRIBUTES) & 7) > COMPRESS_ZSTD)
                return KERR_UNKNOWN_SERVER_ERROR;
        }
    }
    return KERR_NONE;
}

/* Produces one partition's records; fills r. Like Kafka, error_message is
 * only set for records rejected by validation (LogAppendResult's
 * hasCustomErrorMessage); every other error goes without one. */
static void
produce_partition(produce_ctx *pc, int16_t acks, int64_t timeout_ms,
                  cl_topic *t, proto_produce_request_partition_produce_data *pd,
                  proto_produce_response_partition_produce_response *r) {
    brk_req *req = pc->req;
    brk_broker *brk = req->brk;
    log_partition *log = NULL;
    r->index = pd->index;
    r->base_offset = -1;
    r->log_append_time_ms = -1;
    r->log_start_offset = -1;
    int16_t err = KERR_NONE;
    cl_partition *part = NULL;
    uint8_t *recs = (uint8_t *)pd->records.p; /* request frame, arena-owned */
    size_t len = pd->records.len > 0 ? (size_t)pd->records.len : 0;
    /* Kafka's order: unknown topic (KafkaApis), the request's records
     * (ProduceRequest.validateRecords), acks, internal topic (ReplicaManager),
     * the partition's leader, then the log. */
    if (!t || pd->index < 0 || pd->index >= t->n_partitions ||
        !t->parts[pd->index])
        err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
    else
        err = check_records(recs, &len, req->api_version);
    if (!err && acks != 0 && acks != 1 && acks != -1) {
        err = KERR_INVALID_REQUIRED_ACKS;
    } else if (!err && t->internal) {
        err = KERR_INVALID_TOPIC_EXCEPTION; /* "Cannot append to internal topic"
                                             */
    } else if (!err) {
        part = t->parts[pd->index];
        log = brk_data_log(brk, part, &err);
    }
    /* Kafka 4 caps min.insync.replicas at the replica count (KIP-966,
     * Partition.effectiveMinIsr). */
    if (!err && acks == -1 &&
        repl_isr_size(brk->repl, part) <
            SL_MIN(t->log_cfg.min_insync_replicas, part->n_replicas)) {
        err = KERR_NOT_ENOUGH_REPLICAS;
    }
    /* Kafka: DefaultRecordBatch.isValid (size >= 61) in the log's checks */
    log_batch_header h = {0};
    if (!err && (len < BATCH_HEADER_SIZE || !batch_parse_header(recs, len, &h)))
        err = KERR_CORRUPT_MESSAGE;
    buf rebuilt;
    buf_init(&rebuilt, 0);
    int ct = t ? t->log_cfg.compression_type : LOG_COMPRESSION_PRODUCER;
    if (!err && ct != LOG_COMPRESSION_PRODUCER && ct != batch_compression(&h)) {
        /* Broker-side compression: validate what the producer sent, then
         * rebuild with the topic's codec. */
        err = batch_validate(recs, len, &h);
        if (err == KERR_UNSUPPORTED_COMPRESSION_TYPE)
            err = KERR_UNKNOWN_SERVER_ERROR; /* see below */
        if (!err)
            err = batch_recompress(recs, &h, ct, RECOMPRESS_MAX, &rebuilt);
        if (!err) {
            recs = rebuilt.data;
            len = rebuilt.len;
        }
    }
    /* txn hook: sequence/epoch checks; a retried batch is answered with
     * its original offsets and not written again (src/txn/txn.h). */
    bool dup = false;
    if (!err) {
        int64_t dup_base = -1;
        const char *tmsg = NULL;
        int tr = txn_produce_check(brk->txn, log, &h, &dup_base, &tmsg);
        if (tr == TXN_DUPLICATE) {
            dup = true;
            r->base_offset = dup_base;
            r->log_start_offset = log_start_offset(log);
        } else if (tr) {
            err = (int16_t)tr; /* Kafka sends tmsg in its log only */
        }
    }
    const char *custom_msg = NULL;
    if (!err && !dup) {
        log_append_info info;
        rec_errs re = {.a = req->arena};
        log_record_sink sink = {.add = rec_errs_add, .ctx = &re};
        produce_part *pp = arena_calloc(req->arena, 1, sizeof *pp);
        pp->pc = pc;
        pp->r = r;
        pp->brk = brk;
        pp->h = h;
        repl_append_req ar = {
            .origin = REPL_ORIGIN_CLIENT,
            .records = recs,
            .len = len,
            .acks = acks,
            .timeout_ms = timeout_ms,
            .sink = &sink,
            .appended = produce_appended, /* txn hook */
            .done = produce_acked,
            .ctx = pp,
        };
        pc->waiting++; /* produce_acked counts it down, now or later */
        err = repl_append(brk->repl, part, &ar, &info);
        if (err)
            pc->waiting--; /* done is not called on an append error */
        if (err == KERR_UNSUPPORTED_COMPRESSION_TYPE)
            err = KERR_UNKNOWN_SERVER_ERROR; /* Kafka: CompressionType.forId
                                                throws IllegalArgument */
        if (!err) {
            if (log_flush_is_due(log))
                pc->flush_due = true;
        } else if (info.n_record_errors > 0) {
            /* Kafka lists every rejected record (v8+). */
            re.n = info.n_record_errors;
            custom_msg = rec_errs_summary(req->arena, err, &re);
            if (req->api_version >= 8) {
                r->record_errors.n = re.n;
                r->record_errors.v = re.v;
            }
        }
    }
    buf_free(&rebuilt);
    /* From the leader check on, Kafka leaves log_start_offset at -1 for the
     * errors ReplicaManager knows by name and fills it for the others
     * (processFailedRecord): NOT_ENOUGH_REPLICAS, producer-state errors,
     * record validation, UNKNOWN_SERVER_ERROR. */
    if (err && log && err != KERR_CORRUPT_MESSAGE &&
        err != KERR_MESSAGE_TOO_LARGE && err != KERR_RECORD_LIST_TOO_LARGE &&
        err != KERR_KAFKA_STORAGE_ERROR && err != KERR_NOT_LEADER_OR_FOLLOWER &&
        err != KERR_UNKNOWN_TOPIC_OR_PARTITION)
        r->log_start_offset = log_start_offset(log);
    if (err)
        r->error_code = err;
    if (custom_msg && req->api_version >= 8)
        r->error_message = proto_str_c(custom_msg);
}

brk_status brk_handle_produce(brk_req *req) {
    brk_broker *brk = req->brk;
    proto_produce_request rq;
    if (proto_produce_request_decode(&req->body, req->arena, req->api_version,
                                     &rq) != PROTO_OK)
        return BRK_CLOSE;
    char req_msg[128];
    int16_t req_err =
        check_request(brk, &rq, req->api_version, req_msg, sizeof(req_msg));
    produce_ctx *pc = arena_calloc(req->arena, 1, sizeof *pc);
    pc->req = req;
    pc->waiting = 1; /* the handler itself, until it has looked at all */
    proto_produce_response *rs = &pc->rs;
    proto_produce_response_init(rs);
    int32_t nt = rq.topic_data.n > 0 ? rq.topic_data.n : 0;
    rs->responses.n = nt;
    rs->responses.v = arena_calloc(req->arena, (size_t)(nt ? nt : 1),
                                   sizeof(*rs->responses.v));
    for (int32_t i = 0; i < nt; i++) {
        proto_produce_request_topic_produce_data *td = &rq.topic_data.v[i];
        proto_produce_response_topic_produce_response *tr = &rs->responses.v[i];
        proto_produce_response_topic_produce_response_init(tr);
        /* a copy: the frame is gone if the response is deferred */
        tr->name.p = proto_str_dup(req->arena, td->name);
        tr->name.len = td->name.len;
        cl_topic *t = td->name.len > 0 ? cl_topic_find(brk->image, td->name.p,
                                                       (size_t)td->name.len)
                                       : NULL;
        int32_t np = td->partition_data.n > 0 ? td->partition_data.n : 0;
        tr->partition_responses.n = np;
        tr->partition_responses.v =
            arena_calloc(req->arena, (size_t)(np ? np : 1),
                         sizeof(*tr->partition_responses.v));
        for (int32_t j = 0; j < np; j++) {
            proto_produce_response_partition_produce_response *r =
                &tr->partition_responses.v[j];
            proto_produce_response_partition_produce_response_init(r);
            if (req_err) { /* Kafka's ProduceRequest.getErrorResponse */
                r->index = td->partition_data.v[j].index;
                r->error_code = req_err;
                r->base_offset = r->log_append_time_ms = -1;
                r->log_start_offset = -1;
                if (req_msg[0] && req->api_version >= 8)
                    r->error_message = proto_str_c(
                        arena_strndup(req->arena, req_msg, strlen(req_msg)));
            } else {
                produce_partition(pc, rq.acks, rq.timeout_ms, t,
                                  &td->partition_data.v[j], r);
            }
        }
    }
    if (rq.acks == 0) { /* never waits: every partition is done */
        bool any_err = false;
        for (int32_t i = 0; i < nt; i++)
            for (int32_t j = 0; j < rs->responses.v[i].partition_responses.n;
                 j++)
                any_err |=
                    rs->responses.v[i].partition_responses.v[j].error_code != 0;
        return any_err ? BRK_CLOSE : BRK_NO_RESPONSE;
    }
    if (--pc->waiting > 0) { /* acks=all waits in the purgatory */
        pc->deferred = true;
        return BRK_DEFER;
    }
    proto_produce_response_encode(brk_resp_buf(req), req->api_version, rs);
    return pc->flush_due ? BRK_AFTER_FLUSH : BRK_DONE;
}
