/*
 * batch.h - Kafka record batches (magic 2): the 61-byte header, validation,
 * record iteration and a batch builder.
 *
 *   baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32
 *   | magic int8 | crc uint32 | attributes int16 | lastOffsetDelta int32
 *   | baseTimestamp int64 | maxTimestamp int64 | producerId int64
 *   | producerEpoch int16 | baseSequence int32 | recordsCount int32 | records
 *
 * The CRC-32C covers attributes..end, so baseOffset and partitionLeaderEpoch
 * can be rewritten in place without recomputing it.
 *
 * Ownership: parsed records point into the caller's bytes (or into the
 * caller's decompression buf); nothing here allocates except the builder's
 * own buf and the output buf the caller passes. Threading: pure functions;
 * a builder belongs to one thread.
 */
#ifndef SL_LOG_BATCH_H
#define SL_LOG_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define BATCH_HEADER_SIZE 61
#define BATCH_LOG_OVERHEAD 12 /* baseOffset + batchLength */
#define BATCH_MAGIC 2

/* Field positions inside a batch. */
#define BATCH_OFF_BASE_OFFSET 0
#define BATCH_OFF_LENGTH 8
#define BATCH_OFF_LEADER_EPOCH 12
#define BATCH_OFF_MAGIC 16
#define BATCH_OFF_CRC 17
#define BATCH_OFF_ATTRIBUTES 21
#define BATCH_OFF_LAST_OFFSET_DELTA 23
#define BATCH_OFF_BASE_TIMESTAMP 27
#define BATCH_OFF_MAX_TIMESTAMP 35
#define BATCH_OFF_PRODUCER_ID 43
#define BATCH_OFF_PRODUCER_EPOCH 51
#define BATCH_OFF_BASE_SEQUENCE 53
#define BATCH_OFF_RECORDS_COUNT 57

/* attributes bits */
#define BATCH_ATTR_COMPRESSION_MASK 0x07
#define BATCH_ATTR_LOG_APPEND_TIME 0x08
#define BATCH_ATTR_TRANSACTIONAL 0x10
#define BATCH_ATTR_CONTROL 0x20
#define BATCH_ATTR_DELETE_HORIZON 0x40

/* Control record types (key: version int16, type int16). */
#define BATCH_CONTROL_ABORT 0
#define BATCH_CONTROL_COMMIT 1

typedef struct log_batch_header {
    int64_t base_offset;
    int32_t batch_length; /* bytes after this field */
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t records_count;
} log_batch_header;

static inline int batch_compression(const log_batch_header *h) {
    return h->attributes & BATCH_ATTR_COMPRESSION_MASK;
}
static inline bool batch_is_transactional(const log_batch_header *h) {
    return (h->attributes & BATCH_ATTR_TRANSACTIONAL) != 0;
}
static inline bool batch_is_control(const log_batch_header *h) {
    return (h->attributes & BATCH_ATTR_CONTROL) != 0;
}
static inline int64_t batch_last_offset(const log_batch_header *h) {
    return (int64_t)((uint64_t)h->base_offset +
                     (uint64_t)(int64_t)h->last_offset_delta);
}
/* Whole size of the batch on disk / on the wire. */
static inline int64_t batch_size(const log_batch_header *h) {
    return (int64_t)h->batch_length + BATCH_LOG_OVERHEAD;
}

/* Decodes the fixed header from p (needs n >= BATCH_HEADER_SIZE, else
 * returns false). No validation beyond that. */
bool batch_parse_header(const uint8_t *p, size_t n, log_batch_header *h);

/* Full check of one batch at p with n bytes available (n may hold more
 * batches after it): batchLength fits n and >= 49, magic 2, CRC-32C,
 * recordsCount > 0 and == lastOffsetDelta + 1, known codec. Returns a Kafka
 * error code: KERR_CORRUPT_MESSAGE (size, magic, crc), KERR_INVALID_RECORD
 * (counts), KERR_UNSUPPORTED_COMPRESSION_TYPE, or KERR_NONE with *h filled. */
int16_t batch_validate(const uint8_t *p, size_t n, log_batch_header *h);

/* The same for a batch read back from a log: a compacted batch keeps its
 * lastOffsetDelta with fewer records (recordsCount <= lastOffsetDelta + 1,
 * even 0 when the cleaner kept only a producer's header), as Kafka's
 * cleaner writes them. Used by log recovery and the cleaner. */
int16_t batch_validate_stored(const uint8_t *p, size_t n, log_batch_header *h);

/* CRC-32C of a whole batch (attributes..end); len = batch size. */
uint32_t batch_compute_crc(const uint8_t *batch, size_t len);
/* In-place rewrites on a validated batch. */
void batch_set_base_offset(uint8_t *batch, int64_t base_offset);
void batch_set_leader_epoch(uint8_t *batch, int32_t epoch);
/* Sets the LogAppendTime attribute and maxTimestamp and recomputes the CRC
 * (the only rewrite that needs a new CRC). */
void batch_set_log_append_time(uint8_t *batch, size_t len, int64_t ts);

/* ---- records ---------------------------------------------------------- */
typedef struct log_record_header {
    const uint8_t *key;
    int32_t key_len; /* never null in Kafka; -1 tolerated on input */
    const uint8_t *value;
    int32_t value_len; /* -1 = null */
} log_record_header;

typedef struct log_record {
    int64_t offset;    /* base offset + offsetDelta */
    int64_t timestamp; /* base timestamp + delta (or LogAppendTime) */
    int8_t attributes;
    int32_t offset_delta;
    const uint8_t *key;
    int32_t key_len; /* -1 = null */
    const uint8_t *value;
    int32_t value_len; /* -1 = null (tombstone) */
    int32_t headers_count;
    const uint8_t *headers; /* encoded headers, walk with batch_header_next */
    size_t headers_len;
} log_record;

typedef struct batch_iter {
    const uint8_t *p, *end;
    int64_t base_offset, base_timestamp, max_timestamp;
    bool log_append_time;
    int32_t remaining; /* records still announced by recordsCount */
    int32_t index;
    bool err;
} batch_iter;

/* Iterate the records area of a batch: for an uncompressed batch that is
 * batch + 61 .. batch end; for a compressed one the output of
 * batch_decompress_records. */
void batch_iter_init(batch_iter *it, const log_batch_header *h,
                     const uint8_t *records, size_t n);
/* 1: *rec filled; 0: end (all records read and no bytes left); -1: malformed
 * (it->err set): a length past the end, a record count mismatch, trailing
 * bytes, headers that do not parse. */
int batch_iter_next(batch_iter *it, log_record *rec);
/* Walks rec->headers: 1 with *out filled, 0 at end, -1 malformed. */
int batch_header_next(const uint8_t **p, const uint8_t *end,
                      log_record_header *out);

/* Records area of a batch (batch + 61, n = batch size - 61) decompressed
 * into out (appended), at most max_out bytes. For an uncompressed batch
 * this copies. Kafka error code. */
int16_t batch_decompress_records(const log_batch_header *h,
                                 const uint8_t *batch, size_t max_out,
                                 buf *out);

/* ---- builder ---------------------------------------------------------- */
typedef struct batch_builder {
    buf records;     /* encoded records, uncompressed */
    int compression; /* COMPRESS_* */
    int64_t base_offset;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int32_t count;
    int32_t last_offset_delta;
    int32_t leader_epoch;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int16_t extra_attributes; /* TRANSACTIONAL / CONTROL / LOG_APPEND_TIME */
} batch_builder;

/* A builder for a batch starting at base_offset (0 is fine when the log
 * assigns offsets), non-idempotent (producer id/epoch/sequence -1). */
void batch_builder_init(batch_builder *b, int compression, int64_t base_offset);
void batch_builder_free(batch_builder *b);
void batch_builder_set_producer(batch_builder *b, int64_t producer_id,
                                int16_t producer_epoch, int32_t base_sequence);
void batch_builder_set_transactional(batch_builder *b, bool on);
void batch_builder_set_control(batch_builder *b, bool on);
void batch_builder_set_leader_epoch(batch_builder *b, int32_t epoch);
/* Appends a record with the next offset delta. key/value NULL with len -1 =
 * null. */
void batch_builder_add(batch_builder *b, int64_t timestamp, const void *key,
                       int32_t key_len, const void *value, int32_t value_len,
                       const log_record_header *headers, int n_headers);
/* Same with an explicit offset delta (must grow; used to copy compacted or
 * recompressed batches). */
void batch_builder_add_at(batch_builder *b, int32_t offset_delta,
                          int64_t timestamp, const void *key, int32_t key_len,
                          const void *value, int32_t value_len,
                          const log_record_header *headers, int n_headers);
/* Appends the finished batch (header, compressed records, CRC) to out.
 * A builder with no records produces nothing and returns KERR_INVALID_RECORD.
 * The builder can be reused after batch_builder_init again. */
int16_t batch_builder_finish(batch_builder *b, buf *out);

/* A transaction marker batch (control, transactional, one record):
 * type BATCH_CONTROL_COMMIT or _ABORT. */
void batch_build_control(buf *out, int64_t producer_id, int16_t producer_epoch,
                         int type, int32_t coordinator_epoch,
                         int64_t timestamp);

/* Rewrites one validated batch with another codec (broker-side
 * compression.type): same offsets deltas, timestamps, producer fields and
 * attributes bits except the codec. Appends to out. max_out bounds the
 * decompressed size. */
int16_t batch_recompress(const uint8_t *batch, const log_batch_header *h,
                         int codec, size_t max_out, buf *out);

#endif
