/*
 * batch.c - record batch header, validation, record iteration, builder.
 * See batch.h for the layout.
 */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "core/crc32c.h"
#include "core/util.h"
#include "proto/errors.h"

bool batch_parse_header(const uint8_t *p, size_t n, log_batch_header *h) {
    if (n < BATCH_HEADER_SIZE)
        return false;
    h->base_offset = (int64_t)sl_load_be64(p + BATCH_OFF_BASE_OFFSET);
    h->batch_length = (int32_t)sl_load_be32(p + BATCH_OFF_LENGTH);
    h->partition_leader_epoch =
        (int32_t)sl_load_be32(p + BATCH_OFF_LEADER_EPOCH);
    h->magic = (int8_t)p[BATCH_OFF_MAGIC];
    h->crc = sl_load_be32(p + BATCH_OFF_CRC);
    h->attributes = (int16_t)sl_load_be16(p + BATCH_OFF_ATTRIBUTES);
    h->last_offset_delta =
        (int32_t)sl_load_be32(p + BATCH_OFF_LAST_OFFSET_DELTA);
    h->base_timestamp = (int64_t)sl_load_be64(p + BATCH_OFF_BASE_TIMESTAMP);
    h->max_timestamp = (int64_t)sl_load_be64(p + BATCH_OFF_MAX_TIMESTAMP);
    h->producer_id = (int64_t)sl_load_be64(p + BATCH_OFF_PRODUCER_ID);
    h->producer_epoch = (int16_t)sl_load_be16(p + BATCH_OFF_PRODUCER_EPOCH);
    h->base_sequence = (int32_t)sl_load_be32(p + BATCH_OFF_BASE_SEQUENCE);
    h->records_count = (int32_t)sl_load_be32(p + BATCH_OFF_RECORDS_COUNT);
    return true;
}

uint32_t batch_compute_crc(const uint8_t *batch, size_t len) {
    return crc32c(0, batch + BATCH_OFF_ATTRIBUTES, len - BATCH_OFF_ATTRIBUTES);
}

int16_t batch_validate(const uint8_t *p, size_t n, log_batch_header *h) {
    /* Kafka: a batch shorter than the header or longer than what is left is
     * corrupt (CorruptRecordException). */
    if (n < BATCH_LOG_OVERHEAD + 5 || !batch_parse_header(p, n, h))
        return KERR_CORRUPT_MESSAGE;
    if (h->batch_length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD ||
        (uint64_t)h->batch_length > n - BATCH_LOG_OVERHEAD)
        return KERR_CORRUPT_MESSAGE;
    if (h->magic != BATCH_MAGIC)
        return KERR_CORRUPT_MESSAGE;
    if (batch_compute_crc(p, (size_t)batch_size(h)) != h->crc)
        return KERR_CORRUPT_MESSAGE;
    if (batch_compression(h) > COMPRESS_ZSTD)
        return KERR_UNSUPPORTED_COMPRESSION_TYPE;
    /* InvalidRecordException in Kafka's LogValidator. */
    if (h->last_offset_delta < 0 || h->records_count <= 0 ||
        (int64_t)h->records_count != (int64_t)h->last_offset_delta + 1)
        return KERR_INVALID_RECORD;
    return KERR_NONE;
}

int16_t batch_validate_stored(const uint8_t *p, size_t n, log_batch_header *h) {
    if (n < BATCH_LOG_OVERHEAD + 5 || !batch_parse_header(p, n, h))
        return KERR_CORRUPT_MESSAGE;
    if (h->batch_length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD ||
        (uint64_t)h->batch_length > n - BATCH_LOG_OVERHEAD)
        return KERR_CORRUPT_MESSAGE;
    if (h->magic != BATCH_MAGIC)
        return KERR_CORRUPT_MESSAGE;
    if (batch_compute_crc(p, (size_t)batch_size(h)) != h->crc)
        return KERR_CORRUPT_MESSAGE;
    if (batch_compression(h) > COMPRESS_ZSTD)
        return KERR_UNSUPPORTED_COMPRESSION_TYPE;
    if (h->last_offset_delta < 0 || h->records_count < 0 ||
        (int64_t)h->records_count > (int64_t)h->last_offset_delta + 1)
        return KERR_INVALID_RECORD;
    return KERR_NONE;
}

void batch_set_base_offset(uint8_t *batch, int64_t base_offset) {
    sl_store_be64(batch + BATCH_OFF_BASE_OFFSET, (uint64_t)base_offset);
}

void batch_set_leader_epoch(uint8_t *batch, int32_t epoch) {
    sl_store_be32(batch + BATCH_OFF_LEADER_EPOCH, (uint32_t)epoch);
}

void batch_set_log_append_time(uint8_t *batch, size_t len, int64_t ts) {
    uint16_t attr = sl_load_be16(batch + BATCH_OFF_ATTRIBUTES);
    sl_store_be16(batch + BATCH_OFF_ATTRIBUTES,
                  (uint16_t)(attr | BATCH_ATTR_LOG_APPEND_TIME));
    sl_store_be64(batch + BATCH_OFF_MAX_TIMESTAMP, (uint64_t)ts);
    sl_store_be32(batch + BATCH_OFF_CRC, batch_compute_crc(batch, len));
}

/* ---- records ---------------------------------------------------------- */

void batch_iter_init(batch_iter *it, const log_batch_header *h,
                     const uint8_t *records, size_t n) {
    static const uint8_t empty[1];
    if (!records) /* NULL + 0 is UB (an empty decompressed area) */
        records = empty, n = 0;
    it->p = records;
    it->end = records + n;
    it->base_offset = h->base_offset;
    it->base_timestamp = h->base_timestamp;
    it->max_timestamp = h->max_timestamp;
    it->log_append_time = (h->attributes & BATCH_ATTR_LOG_APPEND_TIME) != 0;
    it->remaining = h->records_count;
    it->index = 0;
    it->err = false;
}

/* Reads a varint length followed by that many bytes; -1 = null. */
static bool rd_varbytes(rd *r, const uint8_t **p, int32_t *len) {
    int32_t l = rd_varint32(r);
    if (r->err || l < -1)
        return false;
    *len = l;
    *p = NULL;
    if (l >= 0) {
        *p = rd_bytes(r, (size_t)l);
        if (!*p)
            return false;
    }
    return true;
}

int batch_header_next(const uint8_t **p, const uint8_t *end,
                      log_record_header *out) {
    if (*p >= end)
        return 0;
    rd r;
    rd_init(&r, *p, (size_t)(end - *p));
    if (!rd_varbytes(&r, &out->key, &out->key_len) || out->key_len < 0 ||
        !rd_varbytes(&r, &out->value, &out->value_len))
        return -1;
    *p = r.p;
    return 1;
}

int batch_iter_next(batch_iter *it, log_record *rec) {
    if (it->err)
        return -1;
    if (it->remaining == 0) {
        if (it->p != it->end)
            goto err_parse; /* trailing bytes after the announced records */
        return 0;
    }
    rd r;
    rd_init(&r, it->p, (size_t)(it->end - it->p));
    int32_t len = rd_varint32(&r);
    if (r.err || len < 0 || (size_t)len > rd_left(&r))
        goto err_parse;
    rd rr;
    rd_init(&rr, r.p, (size_t)len);
    rec->attributes = (int8_t)rd_u8(&rr);
    int64_t ts_delta = rd_varint(&rr);
    rec->offset_delta = rd_varint32(&rr);
    if (rr.err)
        goto err_parse;
    /* wrapping sums: the inputs come from the network */
    rec->offset = (int64_t)((uint64_t)it->base_offset +
                            (uint64_t)(int64_t)rec->offset_delta);
    rec->timestamp =
        it->log_append_time
            ? it->max_timestamp
            : (int64_t)((uint64_t)it->base_timestamp + (uint64_t)ts_delta);
    if (!rd_varbytes(&rr, &rec->key, &rec->key_len) ||
        !rd_varbytes(&rr, &rec->value, &rec->value_len))
        goto err_parse;
    rec->headers_count = rd_varint32(&rr);
    if (rr.err || rec->headers_count < 0 ||
        (size_t)rec->headers_count > rd_left(&rr) / 2)
        goto err_parse;
    rec->headers = rr.p;
    for (int32_t i = 0; i < rec->headers_count; i++) {
        log_record_header hh;
        const uint8_t *hp = rr.p;
        if (batch_header_next(&hp, rr.end, &hh) != 1)
            goto err_parse;
        rr.p = hp;
    }
    rec->headers_len = (size_t)(rr.p - rec->headers);
    if (rd_left(&rr) != 0)
        goto err_parse; /* record length disagrees with its fields */
    it->p = rr.end;
    it->remaining--;
    it->index++;
    return 1;
err_parse:
    it->err = true;
    return -1;
}

int16_t batch_decompress_records(const log_batch_header *h,
                                 const uint8_t *batch, size_t max_out,
                                 buf *out) {
    size_t n = (size_t)batch_size(h) - BATCH_HEADER_SIZE;
    return compress_decompress(batch_compression(h), batch + BATCH_HEADER_SIZE,
                               n, max_out, out);
}

/* ---- builder ---------------------------------------------------------- */

void batch_builder_init(batch_builder *b, int compression,
                        int64_t base_offset) {
    buf_init(&b->records, 256);
    b->compression = compression;
    b->base_offset = base_offset;
    b->base_timestamp = -1;
    b->max_timestamp = -1;
    b->count = 0;
    b->last_offset_delta = -1;
    b->leader_epoch = -1;
    b->producer_id = -1;
    b->producer_epoch = -1;
    b->base_sequence = -1;
    b->extra_attributes = 0;
}

void batch_builder_free(batch_builder *b) {
    buf_free(&b->records);
}

void batch_builder_set_producer(batch_builder *b, int64_t producer_id,
                                int16_t producer_epoch, int32_t base_sequence) {
    b->producer_id = producer_id;
    b->producer_epoch = producer_epoch;
    b->base_sequence = base_sequence;
}

void batch_builder_set_transactional(batch_builder *b, bool on) {
    if (on)
        b->extra_attributes |= BATCH_ATTR_TRANSACTIONAL;
    else
        b->extra_attributes &= (int16_t)~BATCH_ATTR_TRANSACTIONAL;
}

void batch_builder_set_control(batch_builder *b, bool on) {
    if (on)
        b->extra_attributes |= BATCH_ATTR_CONTROL;
    else
        b->extra_attributes &= (int16_t)~BATCH_ATTR_CONTROL;
}

void batch_builder_set_leader_epoch(batch_builder *b, int32_t epoch) {
    b->leader_epoch = epoch;
}

static void put_varbytes(buf *o, const void *p, int32_t len) {
    if (!p || len < 0) {
        buf_put_varint(o, -1);
        return;
    }
    buf_put_varint(o, len);
    buf_put(o, p, (size_t)len);
}

void batch_builder_add_at(batch_builder *b, int32_t offset_delta,
                          int64_t timestamp, const void *key, int32_t key_len,
                          const void *value, int32_t value_len,
                          const log_record_header *headers, int n_headers) {
    SL_ASSERT(offset_delta > b->last_offset_delta);
    if (b->count == 0)
        b->base_timestamp = timestamp;
    if (timestamp > b->max_timestamp)
        b->max_timestamp = timestamp;
    /* Body first into a scratch buf, then its length as a varint. */
    buf body;
    buf_init(&body, 64);
    buf_put_u8(&body, 0);
    buf_put_varint(
        &body, (int64_t)((uint64_t)timestamp - (uint64_t)b->base_timestamp));
    buf_put_varint(&body, offset_delta);
    put_varbytes(&body, key, key_len);
    put_varbytes(&body, value, value_len);
    buf_put_varint(&body, n_headers);
    for (int i = 0; i < n_headers; i++) {
        put_varbytes(&body, headers[i].key,
                     headers[i].key_len < 0 ? 0 : headers[i].key_len);
        put_varbytes(&body, headers[i].value, headers[i].value_len);
    }
    buf_put_varint(&b->records, (int64_t)body.len);
    buf_put(&b->records, body.data, body.len);
    buf_free(&body);
    b->count++;
    b->last_offset_delta = offset_delta;
}

void batch_builder_add(batch_builder *b, int64_t timestamp, const void *key,
                       int32_t key_len, const void *value, int32_t value_len,
                       const log_record_header *headers, int n_headers) {
    batch_builder_add_at(b, b->last_offset_delta + 1, timestamp, key, key_len,
                         value, value_len, headers, n_headers);
}

int16_t batch_builder_finish(batch_builder *b, buf *out) {
    if (b->count == 0)
        return KERR_INVALID_RECORD;
    size_t start = out->len;
    uint8_t *h = buf_extend(out, BATCH_HEADER_SIZE);
    memset(h, 0, BATCH_HEADER_SIZE);
    int16_t err = compress_compress(b->compression, b->records.data,
                                    b->records.len, -1, out);
    if (err) {
        out->len = start;
        return err;
    }
    h = out->data + start; /* out may have moved */
    size_t total = out->len - start;
    int16_t attrs = (int16_t)((b->compression & BATCH_ATTR_COMPRESSION_MASK) |
                              b->extra_attributes);
    sl_store_be64(h + BATCH_OFF_BASE_OFFSET, (uint64_t)b->base_offset);
    sl_store_be32(h + BATCH_OFF_LENGTH, (uint32_t)(total - BATCH_LOG_OVERHEAD));
    sl_store_be32(h + BATCH_OFF_LEADER_EPOCH, (uint32_t)b->leader_epoch);
    h[BATCH_OFF_MAGIC] = BATCH_MAGIC;
    sl_store_be16(h + BATCH_OFF_ATTRIBUTES, (uint16_t)attrs);
    sl_store_be32(h + BATCH_OFF_LAST_OFFSET_DELTA,
                  (uint32_t)b->last_offset_delta);
    sl_store_be64(h + BATCH_OFF_BASE_TIMESTAMP, (uint64_t)b->base_timestamp);
    sl_store_be64(h + BATCH_OFF_MAX_TIMESTAMP, (uint64_t)b->max_timestamp);
    sl_store_be64(h + BATCH_OFF_PRODUCER_ID, (uint64_t)b->producer_id);
    sl_store_be16(h + BATCH_OFF_PRODUCER_EPOCH, (uint16_t)b->producer_epoch);
    sl_store_be32(h + BATCH_OFF_BASE_SEQUENCE, (uint32_t)b->base_sequence);
    sl_store_be32(h + BATCH_OFF_RECORDS_COUNT, (uint32_t)b->count);
    sl_store_be32(h + BATCH_OFF_CRC, batch_compute_crc(h, total));
    return KERR_NONE;
}

void batch_build_control(buf *out, int64_t producer_id, int16_t producer_epoch,
                         int type, int32_t coordinator_epoch,
                         int64_t timestamp) {
    batch_builder b;
    batch_builder_init(&b, COMPRESS_NONE, 0);
    batch_builder_set_producer(&b, producer_id, producer_epoch, -1);
    batch_builder_set_transactional(&b, true);
    batch_builder_set_control(&b, true);
    uint8_t key[4], value[6];
    sl_store_be16(key, 0);
    sl_store_be16(key + 2, (uint16_t)type);
    sl_store_be16(value, 0);
    sl_store_be32(value + 2, (uint32_t)coordinator_epoch);
    batch_builder_add(&b, timestamp, key, 4, value, 6, NULL, 0);
    int16_t err = batch_builder_finish(&b, out);
    SL_ASSERT(err == KERR_NONE);
    batch_builder_free(&b);
}

int16_t batch_recompress(const uint8_t *batch, const log_batch_header *h,
                         int codec, size_t max_out, buf *out) {
    buf plain;
    buf_init(&plain, 0);
    int16_t err = batch_decompress_records(h, batch, max_out, &plain);
    if (err) {
        buf_free(&plain);
        return err;
    }
    batch_builder b;
    batch_builder_init(&b, codec, h->base_offset);
    batch_builder_set_producer(&b, h->producer_id, h->producer_epoch,
                               h->base_sequence);
    batch_builder_set_leader_epoch(&b, h->partition_leader_epoch);
    b.extra_attributes =
        (int16_t)(h->attributes & ~BATCH_ATTR_COMPRESSION_MASK);
    batch_iter it;
    batch_iter_init(&it, h, plain.data, plain.len);
    it.log_append_time = false; /* keep the records' own timestamps */
    log_record rec;
    int rc;
    size_t start = out->len;
    while ((rc = batch_iter_next(&it, &rec)) == 1) {
        /* Header values are re-parsed into an array for the builder. */
        log_record_header hdrs[64];
        log_record_header *hv = hdrs;
        if (rec.headers_count > 64)
            hv = xmalloc(sizeof(*hv) * (size_t)rec.headers_count);
        const uint8_t *hp = rec.headers;
        for (int32_t i = 0; i < rec.headers_count; i++)
            batch_header_next(&hp, rec.headers + rec.headers_len, &hv[i]);
        bool ok = rec.offset_delta > b.last_offset_delta;
        if (ok)
            batch_builder_add_at(&b, rec.offset_delta, rec.timestamp, rec.key,
                                 rec.key_len, rec.value, rec.value_len, hv,
                                 rec.headers_count);
        if (hv != hdrs)
            free(hv);
        if (!ok) {
            rc = -1;
            break;
        }
    }
    if (rc == 0 && b.count == h->records_count &&
        b.last_offset_delta == h->last_offset_delta) {
        /* Record timestamps are kept (deltas from the first record); the
         * header's maxTimestamp is kept as it was (LogAppendTime sets it). */
        err = batch_builder_finish(&b, out);
        if (!err) {
            uint8_t *nb = out->data + start;
            sl_store_be64(nb + BATCH_OFF_MAX_TIMESTAMP,
                          (uint64_t)h->max_timestamp);
            sl_store_be32(nb + BATCH_OFF_CRC,
                          batch_compute_crc(nb, out->len - start));
        }
    } else {
        err = KERR_CORRUPT_MESSAGE;
    }
    batch_builder_free(&b);
    buf_free(&plain);
    return err;
}
