/*
 * log.c - the partition log's API on one partition (see log.h): config
 * defaults, accessors, the high watermark, append, read and
 * offset-for-timestamp. The other concerns live beside it (log_int.h lists
 * the files and the invariants).
 *
 * Keeps (numbers of log_int.h):
 *  1. LEO moves forward only in log_append_checked, after the whole input
 *     validated (pass 1 changes nothing); the high watermark only in
 *     log_set_high_watermark, clamped to [log start, LEO] and never
 *     backwards (the replica manager, src/replica, is its caller).
 *  3. Appends go to the active segment only, whole batches, one write; the
 *     segment is rolled first when should_roll says so.
 *  5. A failed partition answers KAFKA_STORAGE_ERROR to every call here.
 */
#include "log_int.h"
#include "compress.h"

void log_config_default(log_config *cfg) {
    cfg->segment_bytes = 1073741824;
    cfg->segment_ms = 604800000LL;
    cfg->retention_ms = 604800000LL;
    cfg->retention_bytes = -1;
    cfg->max_message_bytes = 1048588;
    cfg->index_interval_bytes = 4096;
    cfg->segment_index_bytes = 10485760;
    cfg->flush_messages = INT64_MAX;
    cfg->flush_ms = INT64_MAX;
    cfg->min_insync_replicas = 1;
    cfg->cleanup_policy = LOG_CLEANUP_DELETE;
    cfg->compression_type = LOG_COMPRESSION_PRODUCER;
    cfg->message_timestamp_type = LOG_TS_CREATE_TIME;
    cfg->timestamp_before_max_ms = INT64_MAX;
    cfg->timestamp_after_max_ms = 3600000LL; /* Kafka 4.0 default */
    cfg->delete_retention_ms = 86400000LL;
    cfg->min_compaction_lag_ms = 0;
    cfg->max_compaction_lag_ms = INT64_MAX;
    cfg->min_cleanable_dirty_ratio = 0.5;
}

/* ---- accessors
 * --------------------------------------------------------------- */
void log_set_config(log_partition *part, const log_config *cfg) {
    part->cfg = *cfg;
}
const log_config *log_get_config(const log_partition *part) {
    return &part->cfg;
}
const char *log_topic(const log_partition *part) {
    return part->topic;
}
int32_t log_partition_id(const log_partition *part) {
    return part->partition;
}
void log_topic_id(const log_partition *part, uint8_t out[16]) {
    memcpy(out, part->topic_id, 16);
}
const char *log_dir_path(const log_partition *part) {
    return part->mgr->dirs[part->dir_index];
}
const log_io *log_manager_io(const log_manager *mgr) {
    return mgr->io;
}
const log_io *log_partition_io(const log_partition *part) {
    return part->mgr->io;
}
int64_t log_start_offset(const log_partition *part) {
    return part->log_start;
}
int64_t log_end_offset(const log_partition *part) {
    return part->segs[part->nsegs - 1]->next_offset;
}
int64_t log_high_watermark(const log_partition *part) {
    return part->hw;
}
int64_t log_last_stable_offset(const log_partition *part) {
    return part->hw;
}
int64_t log_recovery_point(const log_partition *part) {
    return part->recovery_point;
}
int64_t log_size_bytes(const log_partition *part) {
    int64_t n = 0;
    for (int i = 0; i < part->nsegs; i++)
        n += part->segs[i]->size;
    return n;
}
int log_segment_count(const log_partition *part) {
    return part->nsegs;
}
bool log_is_failed(const log_partition *part) {
    return part->failed;
}

void log_set_high_watermark(log_partition *part, int64_t hw) {
    int64_t leo = log_end_offset(part);
    if (hw > leo)
        hw = leo;
    if (hw < part->log_start)
        hw = part->log_start;
    SL_ASSERT(hw >= part->hw); /* forward only (src/replica/replica.h) */
    part->hw = hw;
    SL_ASSERT(part->log_start <= part->hw && part->hw <= leo);
}

static bool should_roll(log_partition *part, int64_t append_bytes,
                        int64_t max_ts, int64_t last_offset, int64_t now) {
    log_segment *s = lg_active(part);
    const log_config *c = &part->cfg;
    if (s->size == 0)
        return false;
    if (s->size > (int64_t)c->segment_bytes - append_bytes)
        return true;
    int64_t waited = s->first_batch_ts >= 0 ? max_ts - s->first_batch_ts
                                            : now - s->created_ms;
    if (waited > c->segment_ms)
        return true;
    if ((int64_t)(s->n_idx + 1) * IDX_ENTRY > c->segment_index_bytes ||
        (int64_t)(s->n_tidx + 1) * TIDX_ENTRY > c->segment_index_bytes)
        return true;
    if (last_offset - s->base > INT32_MAX)
        return true;
    return false;
}

/* ---- append
 * ---------------------------------------------------------------------- */
static int16_t fail_append(log_append_info *out, int16_t err, int32_t bi,
                           int32_t ri, const char *msg) {
    out->err_batch_index = bi;
    out->err_record_index = ri;
    out->err_message = msg;
    return err;
}

/* Java long arithmetic (wraps), for Kafka's timestamp bounds. */
static int64_t wrap_add(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* Kafka's LogValidator.validateTimestamp for one record: NULL if it is
 * accepted, else Kafka's message for it (written into text). */
static const char *check_record_ts(const log_config *c,
                                   const log_batch_header *h,
                                   const log_record *r, int64_t now, char *text,
                                   size_t cap) {
    if (c->message_timestamp_type == LOG_TS_CREATE_TIME && r->timestamp != -1) {
        int64_t diff = wrap_add(now, (int64_t)(0 - (uint64_t)r->timestamp));
        int64_t neg = (int64_t)(0 - (uint64_t)diff);
        if (diff > c->timestamp_before_max_ms ||
            neg > c->timestamp_after_max_ms) {
            snprintf(
                text, cap,
                "Timestamp %" PRId64 " of message with offset %" PRId64
                " is out of range. The timestamp should be within "
                "[%" PRId64 ", %" PRId64 "]",
                r->timestamp, r->offset,
                wrap_add(now,
                         (int64_t)(0 - (uint64_t)c->timestamp_before_max_ms)),
                wrap_add(now, c->timestamp_after_max_ms));
            return text;
        }
    } else if (h->attributes & BATCH_ATTR_LOG_APPEND_TIME) {
        snprintf(
            text, cap,
            "Invalid timestamp type in message DefaultRecord(offset=%" PRId64
            ", timestamp=%" PRId64 ", key=%d bytes, value=%d bytes). "
            "Producer should not set timestamp type to LogAppendTime.",
            r->offset, r->timestamp, r->key_len > 0 ? r->key_len : 0,
            r->value_len > 0 ? r->value_len : 0);
        return text;
    }
    return NULL;
}

/* Whether a compressed batch's header says a record may fail the timestamp
 * check (then its records are read to find which, as Kafka does for every
 * compressed batch; an honest header spares the decompression). */
static bool batch_ts_suspect(const log_config *c, const log_batch_header *h,
                             int64_t now) {
    if (batch_is_control(h))
        return false;
    if (h->attributes & BATCH_ATTR_LOG_APPEND_TIME)
        return true;
    if (c->message_timestamp_type != LOG_TS_CREATE_TIME)
        return false;
    int64_t ts[2] = {h->base_timestamp, h->max_timestamp};
    for (int i = 0; i < 2; i++) {
        if (ts[i] == -1)
            continue;
        int64_t diff = wrap_add(now, (int64_t)(0 - (uint64_t)ts[i]));
        if (diff > c->timestamp_before_max_ms ||
            (int64_t)(0 - (uint64_t)diff) > c->timestamp_after_max_ms)
            return true;
    }
    return false;
}

/* Checks the records of an uncompressed batch (or a decompressed one) for
 * keys and timestamps as Kafka's LogValidator.validateRecord does: every
 * rejected record goes to sink and is counted in *n_bad; the batch then
 * fails with INVALID_TIMESTAMP if one of them has a bad timestamp, else
 * INVALID_RECORD. A record that cannot be read fails the batch as a whole
 * (*n_bad = 0), as Kafka's record iterator throws. */
static int16_t validate_records(const log_partition *part,
                                const log_batch_header *h, const uint8_t *recs,
                                size_t n, int64_t now,
                                const log_record_sink *sink, int32_t *n_bad,
                                int32_t *bad_index, const char **msg) {
    const log_config *c = &part->cfg;
    bool compact = (c->cleanup_policy & LOG_CLEANUP_COMPACT) != 0;
    bool ts_check = !batch_is_control(h);
    batch_iter it;
    batch_iter_init(&it, h, recs, n);
    log_record r;
    int rc;
    int64_t expect_delta = 0;
    int32_t bad = 0;
    bool ts_bad = false;
    *bad_index = -1;
    *n_bad = 0;
    char text[512];
    while ((rc = batch_iter_next(&it, &r)) == 1) {
        if (r.offset_delta != expect_delta++) {
            /* Kafka rewrites such a batch; Sluice writes batches in place,
             * so it refuses it as a whole. */
            *bad_index = it.index - 1;
            *msg = "Inner record offsets are not consecutive";
            return KERR_INVALID_RECORD;
        }
        const char *why = NULL;
        if (compact && r.key_len < 0) {
            snprintf(text, sizeof(text),
                     "Compacted topic cannot accept message without key in "
                     "topic partition %s-%d",
                     part->topic, part->partition);
            why = text;
        } else if (ts_check) {
            why = check_record_ts(c, h, &r, now, text, sizeof(text));
            ts_bad |= why != NULL;
        }
        if (!why)
            continue;
        if (bad++ == 0) {
            *bad_index = it.index - 1;
            *msg = ts_bad ? "Timestamp of the record is out of range"
                          : "Compacted topic cannot accept message without key";
        }
        if (sink)
            sink->add(sink->ctx, it.index - 1, why);
    }
    if (rc < 0 || expect_delta != h->records_count) {
        /* Kafka: InvalidRecordException ("Incorrect declared batch size"). */
        *bad_index = -1;
        *msg = "Malformed record in batch";
        return KERR_INVALID_RECORD;
    }
    *n_bad = bad;
    if (!bad)
        return KERR_NONE;
    return ts_bad ? KERR_INVALID_TIMESTAMP : KERR_INVALID_RECORD;
}

int16_t log_append(log_partition *part, uint8_t *batches, size_t len,
                   int32_t leader_epoch, int origin, log_append_info *out) {
    return log_append_checked(part, batches, len, leader_epoch, origin, NULL,
                              out);
}

int16_t log_append_checked(log_partition *part, uint8_t *batches, size_t len,
                           int32_t leader_epoch, int origin,
                           const log_record_sink *sink, log_append_info *out) {
    log_manager *mgr = part->mgr;
    const log_config *c = &part->cfg;
    memset(out, 0, sizeof(*out));
    out->base_offset = out->last_offset = -1;
    out->log_append_time = -1;
    out->err_batch_index = out->err_record_index = -1;
    out->log_start_offset = part->log_start;
    if (part->failed)
        return KERR_KAFKA_STORAGE_ERROR;
    if (len == 0)
        return fail_append(out, KERR_CORRUPT_MESSAGE, -1, -1, "Empty records");
    int64_t now = clk_wall_ms();

    /* Pass 1: validate all, change nothing. */
    size_t pos = 0;
    int32_t bi = 0;
    int32_t total_records = 0;
    int64_t max_ts = -1;
    int64_t leo_before = log_end_offset(part);
    int64_t expect_next = leo_before;
    while (pos < len) {
        log_batch_header h;
        /* Kafka's order (UnifiedLog.analyzeAndValidateRecords): a client
         * batch's baseOffset, max.message.bytes, then CRC and the rest. */
        if (batch_parse_header(batches + pos, len - pos, &h)) {
            if (origin == LOG_ORIGIN_CLIENT && h.base_offset != 0)
                return fail_append(out, KERR_INVALID_RECORD, bi, -1,
                                   "The baseOffset of the record batch "
                                   "should be 0");
            if (batch_size(&h) > c->max_message_bytes)
                return fail_append(
                    out, KERR_MESSAGE_TOO_LARGE, bi, -1,
                    "Record batch larger than max.message.bytes");
        }
        int16_t e = batch_validate(batches + pos, len - pos, &h);
        if (e)
            return fail_append(
                out, e, bi, -1,
                e == KERR_CORRUPT_MESSAGE
                    ? "Record batch is corrupt (size, magic or CRC)"
                    : "Invalid record batch");
        if (batch_is_control(&h) && origin == LOG_ORIGIN_CLIENT)
            return fail_append(
                out, KERR_INVALID_RECORD, bi, -1,
                "Clients are not allowed to write control records");
        if (origin == LOG_ORIGIN_REPLICATION) {
            if (h.base_offset < expect_next)
                return fail_append(out, KERR_INVALID_RECORD, bi, -1,
                                   "Out of order offsets from replication");
            expect_next = batch_last_offset(&h) + 1;
        }
        const uint8_t *recs = batches + pos + BATCH_HEADER_SIZE;
        size_t rn = (size_t)batch_size(&h) - BATCH_HEADER_SIZE;
        bool need_records = origin != LOG_ORIGIN_REPLICATION &&
                            (batch_compression(&h) == COMPRESS_NONE ||
                             (c->cleanup_policy & LOG_CLEANUP_COMPACT) ||
                             batch_ts_suspect(c, &h, now));
        if (need_records) {
            buf plain;
            buf_init(&plain, 0);
            int16_t de = KERR_NONE;
            if (batch_compression(&h) != COMPRESS_NONE) {
                de = batch_decompress_records(&h, batches + pos,
                                              (size_t)c->max_message_bytes * 64,
                                              &plain);
                recs = plain.data;
                rn = plain.len;
            }
            int32_t ri = -1, n_bad = 0;
            const char *msg = "Malformed compressed records";
            if (!de)
                de = validate_records(part, &h, recs, rn, now, sink, &n_bad,
                                      &ri, &msg);
            buf_free(&plain);
            if (de) {
                out->n_record_errors = n_bad;
                return fail_append(out, de, bi, ri, msg);
            }
        }
        if (h.max_timestamp > max_ts)
            max_ts = h.max_timestamp;
        total_records += h.records_count;
        pos += (size_t)batch_size(&h);
        bi++;
    }

    /* Kafka checks the segment size after validation. */
    if (len > (size_t)c->segment_bytes)
        return fail_append(out, KERR_RECORD_LIST_TOO_LARGE, -1, -1,
                           "Record batch larger than segment.bytes");

    /* Pass 2: assign offsets in place. */
    int64_t next = log_end_offset(part);
    int64_t first = -1;
    bool lat = c->message_timestamp_type == LOG_TS_LOG_APPEND_TIME &&
               origin != LOG_ORIGIN_REPLICATION;
    for (pos = 0; pos < len;) {
        log_batch_header h;
        batch_parse_header(batches + pos, len - pos, &h);
        size_t bs = (size_t)batch_size(&h);
        if (origin != LOG_ORIGIN_REPLICATION) {
            batch_set_base_offset(batches + pos, next);
            batch_set_leader_epoch(batches + pos, leader_epoch);
            if (lat)
                batch_set_log_append_time(batches + pos, bs, now);
            h.base_offset = next;
        }
        if (first < 0)
            first = h.base_offset;
        next = batch_last_offset(&h) + 1;
        pos += bs;
    }
    if (lat)
        max_ts = now;
    int64_t last = next - 1;

    /* Roll if needed, then one write. */
    if (should_roll(part, (int64_t)len, max_ts, last, now) && !lg_roll(part))
        return KERR_KAFKA_STORAGE_ERROR;
    log_segment *s = lg_active(part);
    if (!lg_seg_open(s))
        return KERR_KAFKA_STORAGE_ERROR;
    int64_t at = s->size;
    if (!log_io_write_all(mgr->io, s->fd, batches, len, (off_t)at)) {
        lg_poison(part, "append");
        return KERR_KAFKA_STORAGE_ERROR;
    }
    if (origin == LOG_ORIGIN_REPLICATION && first > s->next_offset &&
        s->size == 0)
        s->next_offset = first;
    for (pos = 0; pos < len;) {
        log_batch_header h;
        batch_parse_header(batches + pos, len - pos, &h);
        if (!lg_seg_account_batch(s, &h, at + (int64_t)pos,
                                  c->index_interval_bytes)) {
            lg_poison(part, "index append");
            return KERR_KAFKA_STORAGE_ERROR;
        }
        s->size = at + (int64_t)pos + batch_size(&h);
        pos += (size_t)batch_size(&h);
    }
    /* per batch: a follower's chunk keeps the epochs its batches carry
     * (pass 2 wrote leader_epoch into every batch of the other origins) */
    if (!lg_epochs_assign_batches(part, batches, len)) {
        lg_poison(part, "leader-epoch-checkpoint");
        return KERR_KAFKA_STORAGE_ERROR;
    }
    part->unflushed_msgs += total_records;
    lg_mark_dirty(part);
    /* invariant 1: LEO moved forward, to just past the last batch */
    SL_ASSERT(first >= leo_before && log_end_offset(part) == last + 1);
    out->base_offset = first;
    out->last_offset = last;
    out->log_append_time = lat ? now : -1;
    out->log_start_offset = part->log_start;
    out->record_count = total_records;
    if (part->unflushed_msgs >= c->flush_messages)
        lg_mark_due(part); /* flush.h: begun before the loop sleeps */
    return KERR_NONE;
}

/* ---- read
 * ------------------------------------------------------------------------ */

void log_read_release(log_read_result *r) {
    if (r->fd >= 0)
        r->io->close(r->io->ctx, r->fd);
    r->fd = -1;
}

ssize_t log_read_pread(const log_read_result *r, void *buf, size_t n,
                       int64_t file_pos) {
    return log_io_read_full(r->io, r->fd, buf, n, (off_t)file_pos);
}

static int16_t read_impl(log_partition *part, int64_t offset, int32_t max_bytes,
                         int64_t max_offset, bool min_one_batch, bool want_fd,
                         log_read_result *out);

int16_t log_read(log_partition *part, int64_t offset, int32_t max_bytes,
                 int64_t max_offset, bool min_one_batch, log_read_result *out) {
    return read_impl(part, offset, max_bytes, max_offset, min_one_batch, true,
                     out);
}

int16_t log_read_len(log_partition *part, int64_t offset, int32_t max_bytes,
                     int64_t max_offset, bool min_one_batch, int32_t *len) {
    log_read_result r;
    int16_t e = read_impl(part, offset, max_bytes, max_offset, min_one_batch,
                          false, &r);
    *len = r.len;
    return e;
}

static int16_t read_impl(log_partition *part, int64_t offset, int32_t max_bytes,
                         int64_t max_offset, bool min_one_batch, bool want_fd,
                         log_read_result *out) {
    memset(out, 0, sizeof(*out));
    out->fd = -1;
    out->io = part->mgr->io;
    out->first_batch_offset = -1;
    out->high_watermark = part->hw;
    out->last_stable_offset = part->hw;
    out->log_start_offset = part->log_start;
    int64_t leo = log_end_offset(part);
    out->log_end_offset = leo;
    if (part->failed)
        return KERR_KAFKA_STORAGE_ERROR;
    if (offset < part->log_start || offset > leo)
        return KERR_OFFSET_OUT_OF_RANGE;
    if (max_offset < 0 || max_offset > leo)
        max_offset = leo;
    if (offset >= max_offset)
        return KERR_NONE;
    for (int i = lg_seg_index_for(part, offset); i < part->nsegs; i++) {
        log_segment *s = part->segs[i];
        if (s->base >= max_offset)
            break;
        if (!lg_seg_open(s))
            return KERR_KAFKA_STORAGE_ERROR;
        int64_t pos = lg_seg_lookup_pos(s, offset);
        if (pos < 0) {
            lg_poison(part, "read");
            return KERR_KAFKA_STORAGE_ERROR;
        }
        if (pos >= s->size)
            continue; /* nothing at or after offset here: next segment */
        int64_t max_pos = max_offset >= s->next_offset
                              ? s->size
                              : lg_seg_lookup_pos(s, max_offset);
        if (max_pos < 0) {
            lg_poison(part, "read");
            return KERR_KAFKA_STORAGE_ERROR;
        }
        if (pos >= max_pos)
            return KERR_NONE;
        uint8_t h[BATCH_OFF_LEADER_EPOCH];
        if (log_io_read_full(part->mgr->io, s->fd, h, sizeof(h), (off_t)pos) !=
            (ssize_t)sizeof(h)) {
            lg_poison(part, "read");
            return KERR_KAFKA_STORAGE_ERROR;
        }
        int64_t first_size =
            (int64_t)(int32_t)sl_load_be32(h + BATCH_OFF_LENGTH) +
            BATCH_LOG_OVERHEAD;
        int64_t adjusted = max_bytes < 0 ? 0 : max_bytes;
        if (min_one_batch && first_size > adjusted)
            adjusted = first_size;
        if (adjusted < first_size)
            return KERR_NONE; /* no cut first batch: see log.h */
        int64_t n = SL_MIN(max_pos - pos, adjusted);
        if (n <= 0)
            return KERR_NONE;
        int fd = want_fd ? IOCALL(part->mgr, dup, s->fd) : -1;
        if (want_fd && fd < 0)
            return KERR_KAFKA_STORAGE_ERROR;
        out->fd = fd;
        out->file_pos = pos;
        out->len = (int32_t)SL_MIN(n, (int64_t)INT32_MAX);
        out->first_batch_offset = (int64_t)sl_load_be64(h);
        return KERR_NONE;
    }
    return KERR_NONE;
}

/* ---- timestamps
 * ---------------------------------------------------------------- */

/* First record with timestamp >= ts in the batch at pos of s (decoding it);
 * false if none in that batch. */
static bool batch_find_ts(log_segment *s, int64_t pos, int64_t ts,
                          bool exact_max, int64_t *off, int64_t *rts) {
    log_manager *mgr = s->part->mgr;
    uint8_t hb[BATCH_HEADER_SIZE];
    if (log_io_read_full(mgr->io, s->fd, hb, sizeof(hb), (off_t)pos) !=
        (ssize_t)sizeof(hb))
        return false;
    log_batch_header h;
    batch_parse_header(hb, sizeof(hb), &h);
    size_t total = (size_t)batch_size(&h);
    if (total > (size_t)(s->size - pos))
        return false;
    uint8_t *raw = xmalloc(total);
    bool found = false;
    if (log_io_read_full(mgr->io, s->fd, raw, total, (off_t)pos) ==
        (ssize_t)total) {
        buf plain;
        buf_init(&plain, 0);
        if (batch_decompress_records(&h, raw, 64u << 20, &plain) == KERR_NONE) {
            batch_iter it;
            batch_iter_init(&it, &h, plain.data, plain.len);
            log_record r;
            while (batch_iter_next(&it, &r) == 1) {
                if (exact_max ? r.timestamp == h.max_timestamp
                              : r.timestamp >= ts) {
                    *off = r.offset;
                    *rts = r.timestamp;
                    found = true;
                    break;
                }
            }
        }
        buf_free(&plain);
    }
    free(raw);
    if (!found && exact_max) {
        *off = batch_last_offset(&h);
        *rts = h.max_timestamp;
        found = true;
    }
    return found;
}

int16_t log_offset_for_timestamp(log_partition *part, int64_t ts,
                                 int64_t *offset, int64_t *timestamp) {
    *offset = -1;
    *timestamp = -1;
    if (part->failed)
        return KERR_KAFKA_STORAGE_ERROR;
    if (ts == LOG_TS_EARLIEST) {
        *offset = part->log_start;
        return KERR_NONE;
    }
    if (ts == LOG_TS_LATEST) {
        *offset = part->hw;
        return KERR_NONE;
    }
    if (ts == LOG_TS_MAX_TIMESTAMP) {
        log_segment *best = NULL;
        for (int i = 0; i < part->nsegs; i++)
            if (part->segs[i]->max_ts >= 0 &&
                (!best || part->segs[i]->max_ts > best->max_ts))
                best = part->segs[i];
        if (!best)
            return KERR_NONE;
        if (!lg_seg_open(best))
            return KERR_KAFKA_STORAGE_ERROR;
        int64_t pos = lg_seg_lookup_pos(best, best->max_ts_offset);
        if (pos < 0 || pos >= best->size)
            return KERR_NONE;
        batch_find_ts(best, pos, best->max_ts, true, offset, timestamp);
        return KERR_NONE;
    }
    if (ts < 0)
        return KERR_INVALID_REQUEST;
    for (int i = 0; i < part->nsegs; i++) {
        log_segment *s = part->segs[i];
        if (s->max_ts < ts)
            continue;
        if (!lg_seg_open(s))
            return KERR_KAFKA_STORAGE_ERROR;
        /* Largest time-index entry with timestamp < ts: everything up to its
         * offset is older than ts, so start scanning after it. */
        int64_t from = s->base;
        for (int32_t k = 0; k < s->n_tidx && s->tidx[k].ts < ts; k++)
            from = s->base + s->tidx[k].rel;
        int64_t pos = lg_seg_lookup_pos(s, from);
        if (pos < 0)
            return KERR_KAFKA_STORAGE_ERROR;
        while (pos < s->size) {
            uint8_t hb[BATCH_HEADER_SIZE];
            if (log_io_read_full(part->mgr->io, s->fd, hb, sizeof(hb),
                                 (off_t)pos) != (ssize_t)sizeof(hb))
                return KERR_KAFKA_STORAGE_ERROR;
            log_batch_header h;
            batch_parse_header(hb, sizeof(hb), &h);
            if (h.max_timestamp >= ts &&
                batch_find_ts(s, pos, ts, false, offset, timestamp)) {
                if (*offset < part->log_start)
                    *offset = part->log_start;
                return KERR_NONE;
            }
            pos += batch_size(&h);
        }
    }
    return KERR_NONE;
}
