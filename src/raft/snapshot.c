/*
 * snapshot.c - KRaft snapshot files (snapshot.h).
 *
 * Keeps: a ".checkpoint" file appears only whole (written as ".part",
 * fsynced, then renamed, then the directory fsynced), so a crash leaves
 * either the complete snapshot or a ".part" that start-up deletes; a
 * snapshot is used only after raft_snap_validate accepted every byte.
 */
#include "raft/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/util.h"
#include "log/compress.h"
#include "log/log.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "raft/raft_codec.h"

#define BATCH_TARGET (1 << 20)

static const char *const suffixes[] = {".checkpoint", ".checkpoint.part",
                                       ".checkpoint.deleted"};

void raft_snap_filename(char *out, size_t n, raft_oe id, int kind) {
    snprintf(out, n, "%020lld-%010d%s", (long long)id.offset, (int)id.epoch,
             suffixes[kind]);
}

bool raft_snap_parse_name(const char *name, raft_oe *id, int *kind) {
    size_t l = strlen(name);
    int k = -1;
    for (int i = 2; i >= 0 && k < 0; i--) {
        size_t sl = strlen(suffixes[i]);
        if (l >= sl && !strcmp(name + l - sl, suffixes[i]))
            k = i;
    }
    if (k < 0 || l < 31 || name[20] != '-')
        return false;
    int64_t off = 0;
    int64_t ep = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        off = off * 10 + (name[i] - '0');
        if (off < 0)
            return false;
    }
    for (int i = 21; i < 31; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        ep = ep * 10 + (name[i] - '0');
    }
    if (ep > INT32_MAX)
        return false;
    /* a .part may carry a random part after the id (createTempFile) */
    if (k == RAFT_SNAP_FILE && l != 31 + strlen(suffixes[0]))
        return false;
    id->offset = off;
    id->epoch = (int32_t)ep;
    *kind = k;
    return true;
}

/* ---- building ------------------------------------------------------------ */

static void control_batch(buf *out, int64_t base, int32_t epoch, int64_t ts,
                          int16_t type, const buf *value) {
    uint8_t key[4];
    sl_store_be16(key, 0);
    sl_store_be16(key + 2, (uint16_t)type);
    batch_builder bb;
    batch_builder_init(&bb, COMPRESS_NONE, base);
    batch_builder_set_leader_epoch(&bb, epoch);
    batch_builder_set_control(&bb, true);
    batch_builder_add(&bb, ts, key, 4, value->data, (int32_t)value->len, NULL,
                      0);
    int16_t e = batch_builder_finish(&bb, out);
    SL_ASSERT(e == KERR_NONE);
    batch_builder_free(&bb);
}

void raft_snap_begin(raft_snap_builder *b, raft_oe id,
                     int64_t last_contained_ts, int64_t now_ms) {
    memset(b, 0, sizeof *b);
    buf_init(&b->out, 4096);
    b->id = id;
    b->now = now_ms;
    proto_snapshot_header_record h;
    proto_snapshot_header_record_init(&h);
    h.version = 0; /* ControlRecordUtils.SNAPSHOT_HEADER_CURRENT_VERSION */
    h.last_contained_log_timestamp = last_contained_ts;
    buf v;
    buf_init(&v, 32);
    proto_snapshot_header_record_encode(&v, 0, &h);
    control_batch(&b->out, 0, id.epoch, now_ms, RAFT_CONTROL_SNAPSHOT_HEADER,
                  &v);
    buf_free(&v);
    b->next_offset = 1;
}

static void close_batch(raft_snap_builder *b) {
    if (!b->open)
        return;
    int16_t e = batch_builder_finish(&b->bb, &b->out);
    SL_ASSERT(e == KERR_NONE);
    batch_builder_free(&b->bb);
    b->open = false;
    b->batch_bytes = 0;
}

void raft_snap_add(raft_snap_builder *b, const uint8_t *value, size_t len) {
    if (b->open && b->batch_bytes + len > BATCH_TARGET)
        close_batch(b);
    if (!b->open) {
        batch_builder_init(&b->bb, COMPRESS_NONE, b->next_offset);
        batch_builder_set_leader_epoch(&b->bb, b->id.epoch);
        b->open = true;
    }
    batch_builder_add(&b->bb, b->now, NULL, -1, value, (int32_t)len, NULL, 0);
    b->batch_bytes += len + 16;
    b->next_offset++;
    b->records++;
}

void raft_snap_finish(raft_snap_builder *b) {
    close_batch(b);
    proto_snapshot_footer_record f;
    proto_snapshot_footer_record_init(&f);
    f.version = 0;
    buf v;
    buf_init(&v, 16);
    proto_snapshot_footer_record_encode(&v, 0, &f);
    control_batch(&b->out, b->next_offset, b->id.epoch, b->now,
                  RAFT_CONTROL_SNAPSHOT_FOOTER, &v);
    buf_free(&v);
    b->next_offset++;
}

void raft_snap_builder_free(raft_snap_builder *b) {
    if (b->open)
        batch_builder_free(&b->bb);
    b->open = false;
    buf_free(&b->out);
}

/* ---- reading --------------------------------------------------------------
 */

int raft_snap_validate(const uint8_t *p, size_t n, char *err, size_t errlen) {
    size_t pos = 0;
    int batches = 0;
    int last_type = -1;
    while (pos < n) {
        raft_batch b;
        int16_t e = raft_batch_parse(p + pos, n - pos, &b);
        if (e) {
            snprintf(err, errlen, "batch %d at byte %zu: %s", batches, pos,
                     proto_error_name(e));
            return -1;
        }
        int type = b.control ? raft_control_type(&b) : -1;
        if (batches == 0 && type != RAFT_CONTROL_SNAPSHOT_HEADER) {
            snprintf(err, errlen, "no SnapshotHeader control batch first");
            return -1;
        }
        if (last_type == RAFT_CONTROL_SNAPSHOT_FOOTER) {
            snprintf(err, errlen, "batches after the SnapshotFooter");
            return -1;
        }
        last_type = type;
        pos += b.len;
        batches++;
    }
    if (last_type != RAFT_CONTROL_SNAPSHOT_FOOTER) {
        snprintf(err, errlen, "no SnapshotFooter control batch last");
        return -1;
    }
    return 0;
}

int raft_snap_records(const uint8_t *p, size_t n, raft_snap_record_fn fn,
                      void *arg) {
    size_t pos = 0;
    while (pos < n) {
        raft_batch b;
        if (raft_batch_parse(p + pos, n - pos, &b) != KERR_NONE)
            return -1;
        pos += b.len;
        if (b.control)
            continue;
        log_batch_header h;
        batch_parse_header(b.data, b.len, &h);
        if (batch_compression(&h) != 0)
            return -1; /* we never write compressed snapshots */
        batch_iter it;
        batch_iter_init(&it, &h, b.data + BATCH_HEADER_SIZE,
                        b.len - BATCH_HEADER_SIZE);
        log_record rec;
        int r;
        while ((r = batch_iter_next(&it, &rec)) == 1)
            if (rec.value_len >= 0)
                fn(arg, rec.value, (size_t)rec.value_len, rec.offset);
        if (r < 0)
            return -1;
    }
    return 0;
}

/* ---- files ------------------------------------------------------------------
 */

static void path_of(char *out, size_t n, const char *dir, raft_oe id,
                    int kind) {
    char name[RAFT_SNAP_NAME_CAP];
    raft_snap_filename(name, sizeof name, id, kind);
    snprintf(out, n, "%s/%s", dir, name);
}

bool raft_snap_write(const log_io *io, const char *dir, raft_oe id,
                     const uint8_t *p, size_t n, char *err, size_t errlen) {
    char part[4096], final[4096];
    path_of(part, sizeof part, dir, id, RAFT_SNAP_PART);
    path_of(final, sizeof final, dir, id, RAFT_SNAP_FILE);
    int fd = io->open(io->ctx, part, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", part, strerror(errno));
        return false;
    }
    bool ok = log_io_write_all(io, fd, p, n, 0) && io->fsync(io->ctx, fd) == 0;
    int e = errno;
    io->close(io->ctx, fd);
    if (ok && io->rename(io->ctx, part, final) != 0) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        io->unlink(io->ctx, part);
        snprintf(err, errlen, "cannot write %s: %s", final, strerror(e));
        return false;
    }
    if (io->fsync_dir(io->ctx, dir) != 0) {
        snprintf(err, errlen, "cannot fsync %s: %s", dir, strerror(errno));
        return false;
    }
    return true;
}

uint8_t *raft_snap_read(const log_io *io, const char *dir, raft_oe id,
                        size_t max, size_t *n) {
    char path[4096];
    path_of(path, sizeof path, dir, id, RAFT_SNAP_FILE);
    return log_io_read_file(io, path, max, n);
}

int64_t raft_snap_size(const log_io *io, const char *dir, raft_oe id) {
    char path[4096];
    path_of(path, sizeof path, dir, id, RAFT_SNAP_FILE);
    log_io_stat st;
    if (io->stat(io->ctx, path, &st) != 0 || st.is_dir)
        return -1;
    return st.size;
}

ssize_t raft_snap_pread(const log_io *io, const char *dir, raft_oe id,
                        void *buf, size_t len, int64_t pos) {
    char path[4096];
    path_of(path, sizeof path, dir, id, RAFT_SNAP_FILE);
    int fd = io->open(io->ctx, path, O_RDONLY, 0);
    if (fd < 0)
        return -1;
    ssize_t got = log_io_read_full(io, fd, buf, len, (off_t)pos);
    io->close(io->ctx, fd);
    return got;
}

bool raft_snap_delete(const log_io *io, const char *dir, raft_oe id) {
    char path[4096];
    path_of(path, sizeof path, dir, id, RAFT_SNAP_FILE);
    return io->unlink(io->ctx, path) == 0;
}

static int cmp_oe(const void *a, const void *b) {
    const raft_oe *x = a, *y = b;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return x->epoch < y->epoch ? -1 : x->epoch > y->epoch;
}

int raft_snap_list(const log_io *io, const char *dir, raft_oe *ids, int cap,
                   bool cleanup) {
    int nn = 0;
    char **names = log_io_list_names(io, dir, &nn);
    if (!names)
        return -1;
    int k = 0;
    for (int i = 0; i < nn; i++) {
        raft_oe id;
        int kind;
        if (!raft_snap_parse_name(names[i], &id, &kind))
            continue;
        if (kind != RAFT_SNAP_FILE) {
            if (cleanup) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", dir, names[i]);
                io->unlink(io->ctx, path);
            }
            continue;
        }
        if (k < cap)
            ids[k++] = id;
    }
    log_io_free_names(names, nn);
    qsort(ids, (size_t)k, sizeof *ids, cmp_oe);
    return k;
}

int64_t raft_snap_header_ts(const uint8_t *p, size_t n) {
    raft_batch b;
    if (raft_batch_parse(p, n, &b) != KERR_NONE || !b.control ||
        raft_control_type(&b) != RAFT_CONTROL_SNAPSHOT_HEADER)
        return -1;
    log_batch_header h;
    batch_parse_header(b.data, b.len, &h);
    batch_iter it;
    batch_iter_init(&it, &h, b.data + BATCH_HEADER_SIZE,
                    b.len - BATCH_HEADER_SIZE);
    log_record rec;
    if (batch_iter_next(&it, &rec) != 1 || rec.value_len < 0)
        return -1;
    rd r;
    rd_init(&r, rec.value, (size_t)rec.value_len);
    arena a;
    arena_init(&a, 256);
    proto_snapshot_header_record hr;
    int rc = proto_snapshot_header_record_decode(&r, &a, 0, &hr);
    arena_free(&a);
    return rc == PROTO_OK ? hr.last_contained_log_timestamp : -1;
}
