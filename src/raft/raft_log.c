/*
 * raft_log.c - the quorum's log over __cluster_metadata-0 (raft_log.h).
 *
 * Keeps: the core's log view (end, last epoch) equals the partition's after
 * every append/truncate the glue applies (checked by the core's own
 * assertions on what it reads back); the high watermark of the partition
 * only moves forward (log_set_high_watermark asserts it).
 */
#include "raft/raft_log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "log/batch.h"
#include "log/flush.h"
#include "proto/errors.h"
#include "raft/raft_codec.h"
#include "raft/snapshot.h"

#define MAX_READ (8 << 20)        /* one read of the core: at most this much */
#define MAX_SNAP_CHUNK (8 << 20)  /* one FetchSnapshot chunk at most */
#define MAX_SNAP_FILE (1LL << 30) /* a snapshot we load whole */

struct raft_log {
    log_manager *mgr;
    log_partition *part;
    const log_io *io;
    char *dir;
    uint8_t **reads; /* buffers handed out since the last release */
    int n_reads, cap_reads;
    /* snapshots on disk, valid, oldest first */
    raft_oe snaps[RAFT_LOG_MAX_SNAPSHOTS];
    int n_snaps;
    /* follower: the .part of the snapshot being fetched */
    int fetch_fd;
    raft_oe fetch_id;
};

raft_log *raft_log_new(log_manager *mgr, log_partition *part,
                       int32_t segment_bytes, int64_t segment_ms) {
    raft_log *l = xcalloc(1, sizeof *l);
    l->mgr = mgr;
    l->part = part;
    l->io = log_partition_io(part);
    l->dir = xstrdup(log_path(part));
    l->fetch_fd = -1;
    log_config c = *log_get_config(part);
    c.retention_ms = -1;
    c.retention_bytes = -1;
    c.flush_messages = 1; /* every batch is made durable (by the flusher) */
    if (segment_bytes > 0)
        c.segment_bytes = segment_bytes;
    if (segment_ms > 0)
        c.segment_ms = segment_ms;
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
    if (l->fetch_fd >= 0)
        l->io->close(l->io->ctx, l->fetch_fd);
    free(l->reads);
    free(l->dir);
    free(l);
}

static void keep_read(raft_log *l, uint8_t *data) {
    if (l->n_reads == l->cap_reads) {
        l->cap_reads = l->cap_reads ? l->cap_reads * 2 : 8;
        l->reads = xrealloc(l->reads, (size_t)l->cap_reads * sizeof *l->reads);
    }
    l->reads[l->n_reads++] = data;
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

/* The snapshot at the log start (the earliest kept), offset -1 none. */
static raft_oe start_snapshot(const raft_log *l) {
    int64_t start = log_start_offset(l->part);
    for (int i = 0; i < l->n_snaps; i++)
        if (l->snaps[i].offset == start)
            return l->snaps[i];
    return (raft_oe){-1, -1};
}

/* KafkaMetadataLog.endOffsetForEpoch over the epoch cache: the earliest
 * snapshot's id when the epoch ends exactly there. */
static raft_oe rl_end_offset_for_epoch(void *ctx, int32_t epoch) {
    raft_log *l = ctx;
    int32_t e;
    int64_t off;
    log_end_offset_for_epoch(l->part, epoch, &e, &off);
    if (e < 0 || off < 0)
        return (raft_oe){log_end_offset(l->part), last_epoch(l)};
    raft_oe s = start_snapshot(l);
    if (s.offset >= 0 && off == s.offset && e == epoch)
        return s;
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
    keep_read(l, data);
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

static bool have_snapshot(const raft_log *l, raft_oe id) {
    for (int i = 0; i < l->n_snaps; i++)
        if (l->snaps[i].offset == id.offset && l->snaps[i].epoch == id.epoch)
            return true;
    return false;
}

/* FetchSnapshot on the leader: a bounded chunk of the file. */
static bool rl_read_snapshot(void *ctx, raft_oe id, int64_t position,
                             uint32_t max, const uint8_t **data, uint32_t *len,
                             int64_t *size) {
    raft_log *l = ctx;
    if (!have_snapshot(l, id))
        return false;
    int64_t sz = raft_snap_size(l->io, l->dir, id);
    if (sz < 0)
        return false;
    *size = sz;
    *data = NULL;
    *len = 0;
    if (position < 0 || position >= sz)
        return true; /* the core answers POSITION_OUT_OF_RANGE */
    int64_t want = sz - position;
    if (max > MAX_SNAP_CHUNK)
        max = MAX_SNAP_CHUNK;
    if (want > (int64_t)max)
        want = max;
    uint8_t *b = xmalloc((size_t)want);
    ssize_t got = raft_snap_pread(l->io, l->dir, id, b, (size_t)want, position);
    if (got <= 0) {
        free(b);
        return false;
    }
    keep_read(l, b);
    *data = b;
    *len = (uint32_t)got;
    return true;
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

static void add_snapshot(raft_log *l, raft_oe id) {
    if (have_snapshot(l, id))
        return;
    if (l->n_snaps == RAFT_LOG_MAX_SNAPSHOTS) { /* the oldest above start */
        int drop = l->snaps[0].offset == log_start_offset(l->part) ? 1 : 0;
        raft_snap_delete(l->io, l->dir, l->snaps[drop]);
        memmove(&l->snaps[drop], &l->snaps[drop + 1],
                (size_t)(l->n_snaps - drop - 1) * sizeof l->snaps[0]);
        l->n_snaps--;
    }
    int i = l->n_snaps;
    while (i > 0 && l->snaps[i - 1].offset > id.offset) {
        l->snaps[i] = l->snaps[i - 1];
        i--;
    }
    l->snaps[i] = id;
    l->n_snaps++;
}

/* Kafka deletes the snapshots below the log start (they can no longer be
 * needed: the one at the log start covers them). */
static void delete_below(raft_log *l, int64_t start) {
    int k = 0;
    for (int i = 0; i < l->n_snaps; i++) {
        if (l->snaps[i].offset < start) {
            raft_snap_delete(l->io, l->dir, l->snaps[i]);
            SL_INFO("raft", "Deleted snapshot %lld-%d below the log start %lld",
                    (long long)l->snaps[i].offset, l->snaps[i].epoch,
                    (long long)start);
        } else {
            l->snaps[k++] = l->snaps[i];
        }
    }
    l->n_snaps = k;
}

int raft_log_boot(raft_log *l, raft_boot *b, char *err, size_t errlen) {
    raft_oe ids[64];
    int n = raft_snap_list(l->io, l->dir, ids, 64, true);
    if (n < 0) {
        snprintf(err, errlen, "cannot list %s", l->dir);
        return -1;
    }
    /* newest first: a snapshot that fails validation is dropped (Kafka's
     * reader would refuse it), older ones may still serve */
    l->n_snaps = 0;
    for (int i = n - 1; i >= 0; i--) {
        size_t len;
        uint8_t *data =
            raft_snap_read(l->io, l->dir, ids[i], (size_t)MAX_SNAP_FILE, &len);
        char why[256] = "unreadable";
        if (!data || raft_snap_validate(data, len, why, sizeof why) < 0) {
            SL_WARN("raft", "Deleting invalid snapshot %lld-%d in %s: %s",
                    (long long)ids[i].offset, ids[i].epoch, l->dir, why);
            raft_snap_delete(l->io, l->dir, ids[i]);
        } else if (l->n_snaps < RAFT_LOG_MAX_SNAPSHOTS) {
            add_snapshot(l, ids[i]);
        }
        free(data);
    }
    int64_t start = log_start_offset(l->part);
    int64_t end = log_end_offset(l->part);
    raft_oe latest = l->n_snaps ? l->snaps[l->n_snaps - 1] : (raft_oe){-1, -1};
    if (latest.offset > end) {
        /* a snapshot past the log: installed (or fetched) before a crash
         * cut the log over; Kafka's truncateToLatestSnapshot */
        int16_t e = log_truncate_fully(l->part, latest.offset);
        if (e) {
            snprintf(err, errlen, "cannot restart the log at %lld: %s",
                     (long long)latest.offset, proto_error_name(e));
            return -1;
        }
    } else if (start > 0 && start_snapshot(l).offset < 0) {
        /* the log start is not at a snapshot (a crash between moving it
         * and checkpointing it): move it up to the first snapshot in it */
        raft_oe s = {-1, -1};
        for (int i = 0; i < l->n_snaps && s.offset < 0; i++)
            if (l->snaps[i].offset >= start)
                s = l->snaps[i];
        if (s.offset < 0) {
            snprintf(err, errlen,
                     "the metadata log starts at %lld but no snapshot "
                     "covers the offsets below it",
                     (long long)start);
            return -1;
        }
        if (log_high_watermark(l->part) < s.offset)
            log_set_high_watermark(l->part, s.offset); /* it is committed */
        int64_t ns;
        int16_t e = log_delete_records(l->part, s.offset, &ns);
        if (e) {
            snprintf(err, errlen, "cannot move the log start to %lld: %s",
                     (long long)s.offset, proto_error_name(e));
            return -1;
        }
    }
    delete_below(l, log_start_offset(l->part));
    b->log_start = log_start_offset(l->part);
    b->log_end = log_end_offset(l->part);
    b->last_epoch = last_epoch(l);
    b->snapshot_id = l->n_snaps ? l->snaps[l->n_snaps - 1] : (raft_oe){-1, -1};
    raft_oe ss = start_snapshot(l);
    b->start_epoch = ss.offset >= 0 ? ss.epoch : 0;
    if (b->log_end == b->log_start && ss.offset >= 0)
        b->last_epoch = ss.epoch;
    return 0;
}

raft_oe raft_log_latest_snapshot(const raft_log *l) {
    return l->n_snaps ? l->snaps[l->n_snaps - 1] : (raft_oe){-1, -1};
}

void raft_log_snapshot_added(raft_log *l, raft_oe id) {
    add_snapshot(l, id);
}

int64_t raft_log_snapshot_bytes(const raft_log *l) {
    int64_t t = 0;
    for (int i = 0; i < l->n_snaps; i++) {
        int64_t s = raft_snap_size(l->io, l->dir, l->snaps[i]);
        if (s > 0)
            t += s;
    }
    return t;
}

int raft_log_snapshots(const raft_log *l, raft_oe *out, int64_t *sizes,
                       int cap) {
    int k = 0;
    for (int i = 0; i < l->n_snaps && k < cap; i++, k++) {
        out[k] = l->snaps[i];
        sizes[k] = raft_snap_size(l->io, l->dir, l->snaps[i]);
    }
    return k;
}

int64_t raft_log_snapshot_ts(const raft_log *l, raft_oe id) {
    uint8_t head[512];
    ssize_t got = raft_snap_pread(l->io, l->dir, id, head, sizeof head, 0);
    return got > 0 ? raft_snap_header_ts(head, (size_t)got) : -1;
}

int16_t raft_log_start_moved(raft_log *l, int64_t offset) {
    int64_t ns;
    int16_t e = KERR_NONE;
    if (offset > log_start_offset(l->part))
        e = log_delete_records(l->part, offset, &ns);
    if (!e)
        delete_below(l, log_start_offset(l->part));
    return e;
}

int16_t raft_log_snapshot_write(raft_log *l, raft_oe id, int64_t position,
                                const uint8_t *data, uint32_t len) {
    if (l->fetch_fd >= 0 && (position == 0 || id.offset != l->fetch_id.offset ||
                             id.epoch != l->fetch_id.epoch)) {
        l->io->close(l->io->ctx, l->fetch_fd);
        l->fetch_fd = -1;
    }
    char path[4096], name[RAFT_SNAP_NAME_CAP];
    raft_snap_filename(name, sizeof name, id, RAFT_SNAP_PART);
    snprintf(path, sizeof path, "%s/%s", l->dir, name);
    if (l->fetch_fd < 0) {
        if (position != 0)
            return KERR_KAFKA_STORAGE_ERROR; /* the core restarts at 0 */
        l->fetch_fd =
            l->io->open(l->io->ctx, path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (l->fetch_fd < 0)
            return KERR_KAFKA_STORAGE_ERROR;
        l->fetch_id = id;
    }
    if (len && !log_io_write_all(l->io, l->fetch_fd, data, len, position))
        return KERR_KAFKA_STORAGE_ERROR;
    return KERR_NONE;
}

int16_t raft_log_snapshot_install(raft_log *l, raft_oe id, char *err,
                                  size_t errlen) {
    char part[4096], final[4096], name[RAFT_SNAP_NAME_CAP];
    raft_snap_filename(name, sizeof name, id, RAFT_SNAP_PART);
    snprintf(part, sizeof part, "%s/%s", l->dir, name);
    raft_snap_filename(name, sizeof name, id, RAFT_SNAP_FILE);
    snprintf(final, sizeof final, "%s/%s", l->dir, name);
    if (l->fetch_fd < 0 || l->fetch_id.offset != id.offset ||
        l->fetch_id.epoch != id.epoch) {
        snprintf(err, errlen, "no snapshot %lld-%d being fetched",
                 (long long)id.offset, id.epoch);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    bool ok = l->io->fsync(l->io->ctx, l->fetch_fd) == 0;
    l->io->close(l->io->ctx, l->fetch_fd);
    l->fetch_fd = -1;
    size_t len = 0;
    uint8_t *data =
        ok ? log_io_read_file(l->io, part, (size_t)MAX_SNAP_FILE, &len) : NULL;
    char why[256] = "cannot write it";
    if (!data || raft_snap_validate(data, len, why, sizeof why) < 0) {
        free(data);
        l->io->unlink(l->io->ctx, part);
        snprintf(err, errlen, "the fetched snapshot %lld-%d is invalid: %s",
                 (long long)id.offset, id.epoch, why);
        return KERR_CORRUPT_MESSAGE;
    }
    free(data);
    if (l->io->rename(l->io->ctx, part, final) != 0 ||
        l->io->fsync_dir(l->io->ctx, l->dir) != 0) {
        snprintf(err, errlen, "cannot install %s", final);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    add_snapshot(l, id);
    int16_t e = log_truncate_fully(l->part, id.offset);
    if (e) {
        snprintf(err, errlen, "cannot restart the log at %lld: %s",
                 (long long)id.offset, proto_error_name(e));
        return e;
    }
    delete_below(l, id.offset);
    return KERR_NONE;
}

int raft_log_snapshot_records(raft_log *l, raft_oe id, raft_record_fn fn,
                              void *arg, char *err, size_t errlen) {
    size_t len;
    uint8_t *data =
        raft_snap_read(l->io, l->dir, id, (size_t)MAX_SNAP_FILE, &len);
    char why[256] = "unreadable";
    if (!data || raft_snap_validate(data, len, why, sizeof why) < 0 ||
        raft_snap_records(data, len, fn, arg) < 0) {
        free(data);
        snprintf(err, errlen, "snapshot %lld-%d: %s", (long long)id.offset,
                 id.epoch, why);
        return -1;
    }
    free(data);
    return 0;
}

const char *raft_log_dir(const raft_log *l) {
    return l->dir;
}

const log_io *raft_log_io(const raft_log *l) {
    return l->io;
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
