/*
 * meta_log.c - the ctl_log of a single node: __cluster_metadata-0, a
 * partition of the node's log manager. Each submit is one uncompressed
 * magic-2 batch (built with the log's batch builder) whose record values
 * are framed KRaft metadata records (cl_record_frame); retention is
 * unlimited. Durability: the partition flushes every append
 * (flush.messages = 1), so the append makes a flush due and the loop's
 * before-sleep flush hook hands it to the log manager's flusher (an
 * executor of the node's environment); durable() reaps the finished
 * flushes and reports the recovery point. No fsync on the loop, except
 * sync(), which is for start-up and shutdown.
 *
 * Keeps: the high watermark of the metadata log is the durable end (what
 * the controller has committed), moved only forward, in durable().
 * Threading: loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/ctl_log.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "log/batch.h"
#include "log/compress.h"
#include "log/flush.h"
#include "log/log.h"
#include "proto/errors.h"

typedef struct meta_log {
    ctl_log base;
    log_manager *mgr;
    log_partition *part;
} meta_log;

static int16_t ml_append(ctl_log *l, const buf *values, int n, int64_t *last) {
    meta_log *m = (meta_log *)l;
    int64_t now = clk_wall_ms();
    batch_builder bb;
    batch_builder_init(&bb, COMPRESS_NONE, 0);
    batch_builder_set_leader_epoch(&bb, 0); /* the single node's epoch */
    for (int i = 0; i < n; i++)
        batch_builder_add(&bb, now, NULL, -1, values[i].data,
                          (int32_t)values[i].len, NULL, 0);
    buf b;
    buf_init(&b, 256);
    int16_t e = batch_builder_finish(&bb, &b);
    batch_builder_free(&bb);
    log_append_info info = {0};
    if (!e)
        e = log_append(m->part, b.data, b.len, 0, LOG_ORIGIN_COORDINATOR,
                       &info);
    buf_free(&b);
    if (!e)
        *last = info.last_offset;
    return e;
}

static void advance_hw(meta_log *m) {
    int64_t rp = log_recovery_point(m->part);
    if (rp > log_high_watermark(m->part))
        log_set_high_watermark(m->part, rp);
}

static int16_t ml_durable(ctl_log *l, int64_t *end) {
    meta_log *m = (meta_log *)l;
    log_manager_flush_reap(m->mgr); /* applies finished flushes */
    if (log_is_failed(m->part))
        return KERR_KAFKA_STORAGE_ERROR;
    advance_hw(m);
    *end = log_recovery_point(m->part);
    return KERR_NONE;
}

static int16_t ml_sync(ctl_log *l) {
    meta_log *m = (meta_log *)l;
    int16_t e = log_flush(m->part);
    if (!e)
        advance_hw(m);
    return e;
}

/* Calls fn for the records of one batch (uncompressed, as written). */
static int replay_batch(const uint8_t *p, size_t n, ctl_replay_fn fn,
                        void *arg) {
    log_batch_header h;
    if (!batch_parse_header(p, n, &h) || h.magic != 2 ||
        batch_size(&h) > (int64_t)n || batch_compression(&h) != 0)
        return -1; /* we never write compressed metadata batches */
    if (batch_is_control(&h))
        return 0;
    batch_iter it;
    batch_iter_init(&it, &h, p + BATCH_HEADER_SIZE,
                    (size_t)batch_size(&h) - BATCH_HEADER_SIZE);
    log_record rec;
    int r;
    while ((r = batch_iter_next(&it, &rec)) == 1)
        if (rec.value_len >= 0)
            fn(arg, rec.value, (size_t)rec.value_len, rec.offset);
    return r;
}

static int ml_replay(ctl_log *l, ctl_replay_fn fn, void *arg, char *err,
                     size_t errlen) {
    meta_log *m = (meta_log *)l;
    const char *name = "__cluster_metadata-0";
    int64_t off = log_start_offset(m->part);
    int64_t end = log_end_offset(m->part);
    log_set_high_watermark(m->part, end);
    int64_t applied = 0;
    while (off < end) {
        log_read_result rr;
        int16_t e = log_read(m->part, off, 8 << 20, end, true, &rr);
        if (e) {
            snprintf(err, errlen, "cannot read %s at %lld: %s", name,
                     (long long)off, proto_error_name(e));
            return -1;
        }
        if (rr.len <= 0) {
            log_read_release(&rr);
            break;
        }
        uint8_t *data = xmalloc((size_t)rr.len);
        ssize_t got = log_read_pread(&rr, data, (size_t)rr.len, rr.file_pos);
        log_read_release(&rr);
        if (got != rr.len) {
            free(data);
            snprintf(err, errlen, "short read of %s", name);
            return -1;
        }
        size_t pos = 0;
        int64_t next = off;
        log_batch_header h;
        while (batch_parse_header(data + pos, (size_t)got - pos, &h) &&
               h.batch_length >= 49 &&
               pos + (size_t)batch_size(&h) <= (size_t)got) {
            if (batch_last_offset(&h) >= off) {
                if (replay_batch(data + pos, (size_t)batch_size(&h), fn, arg) <
                    0) {
                    free(data);
                    snprintf(err, errlen, "corrupt batch in %s at offset %lld",
                             name, (long long)h.base_offset);
                    return -1;
                }
                applied++;
            }
            next = batch_last_offset(&h) + 1;
            pos += (size_t)batch_size(&h);
        }
        free(data);
        if (next <= off)
            break;
        off = next;
    }
    if (applied)
        SL_INFO("controller", "replayed %lld metadata batches from %s",
                (long long)applied, name);
    return 0;
}

static void ml_free(ctl_log *l) {
    free(l); /* the partition belongs to the log manager */
}

static const ctl_log_ops meta_log_ops = {
    .append = ml_append,
    .durable = ml_durable,
    .sync = ml_sync,
    .replay = ml_replay,
    .free = ml_free,
};

ctl_log *ctl_meta_log_new(log_manager *mgr, log_partition *part) {
    meta_log *m = xcalloc(1, sizeof *m);
    m->base.ops = &meta_log_ops;
    m->mgr = mgr;
    m->part = part;
    log_config c = *log_get_config(part);
    c.retention_ms = -1;
    c.retention_bytes = -1;
    c.flush_messages = 1; /* every batch is made durable (by the flusher) */
    log_set_config(part, &c);
    return &m->base;
}
