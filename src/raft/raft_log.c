/*
 * raft_log.c - the quorum's log over __cluster_metadata-0 (raft_log.h).
 *
 * Keeps: the core's log view (end, last epoch) equals the partition's after
 * every append/truncate the glue applies (checked by the core's own
 * assertions on what it reads back); the high watermark of the partition
 * only moves forward (log_set_high_watermark asserts it).
 */
#include "raft/raft_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "log/batch.h"
#include "log/flush.h"
#include "proto/errors.h"
#include "raft/raft_codec.h"

#define MAX_READ (8 << 20) /* one read of the core: at most this much */

struct raft_log {
    log_manager *mgr;
    log_partition *part;
    uint8_t **reads; /* buffers handed out since the last release */
    int n_reads, cap_reads;
};

raft_log *raft_log_new(log_manager *mgr, log_partition *part) {
    raft_log *l = xcalloc(1, sizeof *l);
    l->mgr = mgr;
    l->part = part;
    log_config c = *log_get_config(part);
    c.retention_ms = -1;
    c.retention_bytes = -1;
    c.flush_messages = 1; /* every batch is made durable (by the flusher) */
    log_set_config(part, &c);
    return l;
}

void raft_log_release_reads(raft_log *l) {
    for (int i = 0; i < l->n_reads; i++)
        free(l->reads[i]);
    l->n_reads = 0;
}

void raft_log_free(raft_log *l) {
    if (!l)
        return;
    raft_log_release_reads(l);
    free(l->reads);
    free(l);
}

log_partition *raft_log_partition(raft_log *l) {
    return l->part;
}

static int32_t last_epoch(raft_log *l) {
    int32_t e = log_latest_epoch(l->part);
    return e < 0 ? 0 : e;
}

/* The bytes of the batches from the one holding `offset`, up to max (at
 * least one batch); NULL with *n 0 at the end. The buffer is the caller's. */
static uint8_t *read_bytes(raft_log *l, int64_t offset, uint32_t max,
                           size_t *n) {
    *n = 0;
    log_read_result rr;
    int32_t m = max > MAX_READ ? MAX_READ : (int32_t)max;
    if (log_read(l->part, offset, m, -1, true, &rr) != KERR_NONE)
        return NULL;
    if (rr.len <= 0) {
        log_read_release(&rr);
        return NULL;
    }
    uint8_t *data = xmalloc((size_t)rr.len);
    ssize_t got = log_read_pread(&rr, data, (size_t)rr.len, rr.file_pos);
    log_read_release(&rr);
    if (got != rr.len) {
        free(data);
        return NULL;
    }
    *n = (size_t)got;
    return data;
}

/* ---- raft_log_ops ------------------------------------------------------ */

/* KafkaMetadataLog.endOffsetForEpoch over the epoch cache (no snapshots
 * yet, so never the snapshot id). */
static raft_oe rl_end_offset_for_epoch(void *ctx, int32_t epoch) {
    raft_log *l = ctx;
    int32_t e;
    int64_t off;
    log_end_offset_for_epoch(l->part, epoch, &e, &off);
    if (e < 0 || off < 0)
        return (raft_oe){log_end_offset(l->part), last_epoch(l)};
    return (raft_oe){off, e};
}

static int32_t rl_epoch_at(void *ctx, int64_t offset) {
    raft_log *l = ctx;
    if (offset < log_start_offset(l->part) || offset >= log_end_offset(l->part))
        return -1;
    return log_epoch_for_offset(l->part, offset);
}

static int rl_read(void *ctx, int64_t offset, uint32_t max_bytes,
                   raft_batch *out, int cap) {
    raft_log *l = ctx;
    size_t n;
    uint8_t *data = read_bytes(l, offset, max_bytes ? max_bytes : 1, &n);
    if (!data)
        return 0;
    if (l->n_reads == l->cap_reads) {
        l->cap_reads = l->cap_reads ? l->cap_reads * 2 : 8;
        l->reads = xrealloc(l->reads, (size_t)l->cap_reads * sizeof *l->reads);
    }
    l->reads[l->n_reads++] = data;
    int k = 0;
    size_t pos = 0;
    while (k < cap && pos < n) {
        raft_batch b;
        if (raft_batch_parse(data + pos, n - pos, &b) != KERR_NONE)
            break; /* a partial last batch (max_bytes) */
        if (b.last_offset >= offset)
            out[k++] = b;
        pos += b.len;
        if (pos >= max_bytes && k > 0)
            break;
    }
    return k;
}

static bool rl_read_snapshot(void *ctx, raft_oe id, int64_t position,
                             uint32_t max, const uint8_t **data, uint32_t *len,
                             int64_t *size) {
    (void)ctx, (void)id, (void)position, (void)max, (void)data, (void)len,
        (void)size;
    return false; /* no snapshots yet */
}

raft_log_ops raft_log_get_ops(raft_log *l) {
    return (raft_log_ops){
        .end_offset_for_epoch = rl_end_offset_for_epoch,
        .epoch_at = rl_epoch_at,
        .read = rl_read,
        .read_snapshot = rl_read_snapshot,
        .ctx = l,
    };
}

void raft_log_boot(raft_log *l, raft_boot *b) {
    b->log_start = log_start_offset(l->part);
    b->log_end = log_end_offset(l->part);
    b->last_epoch = last_epoch(l);
    b->snapshot_id = (raft_oe){-1, -1};
    b->start_epoch = 0;
}

/* ---- writes ------------------------------------------------------------- */

int16_t raft_log_append(raft_log *l, const raft_batch *b) {
    SL_ASSERT(b->data && b->base_offset == log_end_offset(l->part));
    uint8_t *copy = xmalloc(b->len);
    memcpy(copy, b->data, b->len);
    /* a proposal was built before the core gave it its offset and epoch */
    raft_batch_place(copy, b->base_offset, b->epoch);
    log_append_info info;
    memset(&info, 0, sizeof info);
    int16_t e = log_append(l->part, copy, b->len, b->epoch,
                           LOG_ORIGIN_REPLICATION, &info);
    free(copy);
    return e;
}

int16_t raft_log_truncate(raft_log *l, int64_t end) {
    if (end >= log_end_offset(l->part))
        return KERR_NONE;
    return log_truncate_to(l->part, end);
}

int16_t raft_log_durable(raft_log *l, int64_t *end) {
    log_manager_flush_reap(l->mgr);
    if (log_is_failed(l->part))
        return KERR_KAFKA_STORAGE_ERROR;
    int64_t rp = log_recovery_point(l->part);
    int64_t leo = log_end_offset(l->part);
    *end = rp < leo ? rp : leo;
    return KERR_NONE;
}

void raft_log_set_hw(raft_log *l, int64_t hw) {
    int64_t leo = log_end_offset(l->part);
    if (hw > leo)
        hw = leo;
    if (hw > log_high_watermark(l->part))
        log_set_high_watermark(l->part, hw);
}

int raft_log_records(raft_log *l, int64_t from, int64_t to, raft_record_fn fn,
                     void *arg, int64_t *next, char *err, size_t errlen) {
    int64_t off =
        from < log_start_offset(l->part) ? log_start_offset(l->part) : from;
    *next = off;
    while (off < to) {
        size_t n;
        uint8_t *data = read_bytes(l, off, 1 << 20, &n);
        if (!data)
            break;
        size_t pos = 0;
        int64_t start = off;
        while (pos < n) {
            raft_batch b;
            if (raft_batch_parse(data + pos, n - pos, &b) != KERR_NONE)
                break;
            if (b.last_offset >= to)
                break; /* not committed yet as a whole */
            pos += b.len;
            if (b.last_offset < off)
                continue;
            if (!b.control) {
                log_batch_header h;
                batch_parse_header(b.data, b.len, &h);
                if (batch_compression(&h) != 0) {
                    free(data);
                    snprintf(err, errlen,
                             "compressed metadata batch at offset %lld",
                             (long long)b.base_offset);
                    return -1;
                }
                batch_iter it;
                batch_iter_init(&it, &h, b.data + BATCH_HEADER_SIZE,
                                b.len - BATCH_HEADER_SIZE);
                log_record rec;
                int r;
                while ((r = batch_iter_next(&it, &rec)) == 1)
                    if (rec.value_len >= 0)
                        fn(arg, rec.value, (size_t)rec.value_len, rec.offset);
                if (r < 0) {
                    free(data);
                    snprintf(err, errlen, "corrupt metadata batch at %lld",
                             (long long)b.base_offset);
                    return -1;
                }
            }
            off = b.last_offset + 1;
            *next = off;
        }
        free(data);
        if (off == start)
            break; /* nothing whole below `to` here */
    }
    return 0;
}
