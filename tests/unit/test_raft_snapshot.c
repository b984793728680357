/* Unit tests: KRaft snapshot files (src/raft/snapshot.c): Kafka's names,
 * header / data / footer batches, validation that rejects a bad CRC, a torn
 * tail and a missing footer, and crash safety of the .part + rename write
 * under crashfs (a crash leaves the whole snapshot or none, never a torn
 * .checkpoint). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/crashfs.h"
#include "core/util.h"
#include "log/log.h"
#include "raft/raft_codec.h"
#include "raft/raft_log.h"
#include "raft/snapshot.h"
#include "test.h"

typedef struct seen {
    int n;
    int64_t last_offset;
    bool bad;
} seen;

static void count_rec(void *arg, const uint8_t *v, size_t len, int64_t off) {
    seen *s = arg;
    char want[64];
    int wl = snprintf(want, sizeof want, "record-%d-", s->n);
    if (len < (size_t)wl || memcmp(v, want, (size_t)wl))
        s->bad = true;
    s->n++;
    s->last_offset = off;
}

static void build(raft_snap_builder *b, raft_oe id, int n, size_t pad) {
    raft_snap_begin(b, id, 1700000000000, 1700000001000);
    char *v = xmalloc(pad + 64);
    for (int i = 0; i < n; i++) {
        int l = snprintf(v, 64, "record-%d-", i);
        memset(v + l, 'x', pad);
        raft_snap_add(b, (const uint8_t *)v, (size_t)l + pad);
    }
    free(v);
    raft_snap_finish(b);
}

TEST(raft_snapshot_names) {
    char name[RAFT_SNAP_NAME_CAP];
    raft_snap_filename(name, sizeof name, (raft_oe){123, 4}, RAFT_SNAP_FILE);
    CHECK_STR(name, "00000000000000000123-0000000004.checkpoint");
    raft_oe id;
    int kind;
    CHECK(raft_snap_parse_name(name, &id, &kind));
    CHECK_EQ(id.offset, 123);
    CHECK_EQ(id.epoch, 4);
    CHECK_EQ(kind, RAFT_SNAP_FILE);
    CHECK(raft_snap_parse_name(
        "00000000000000000123-0000000004-123456.checkpoint.part", &id, &kind));
    CHECK_EQ(kind, RAFT_SNAP_PART);
    CHECK(raft_snap_parse_name("00000000000000000009-0000000001.checkpoint"
                               ".deleted",
                               &id, &kind));
    CHECK_EQ(kind, RAFT_SNAP_DELETED);
    CHECK(!raft_snap_parse_name("00000000000000000000.log", &id, &kind));
    CHECK(!raft_snap_parse_name("0000000000000000012x-0000000004.checkpoint",
                                &id, &kind));
    CHECK(!raft_snap_parse_name("quorum-state", &id, &kind));
}

TEST(raft_snapshot_write_read_validate) {
    const char *dir = test_tmpdir();
    const log_io *io = &log_io_posix;
    raft_snap_builder b;
    raft_oe id = {5000, 3};
    build(&b, id, 3000, 1000); /* ~3 MB: several data batches */
    char err[256];
    CHECK_EQ(raft_snap_validate(b.out.data, b.out.len, err, sizeof err), 0);
    CHECK(raft_snap_write(io, dir, id, b.out.data, b.out.len, err, sizeof err));
    /* an older one and a leftover .part */
    raft_snap_builder b2;
    build(&b2, (raft_oe){10, 1}, 2, 0);
    CHECK(raft_snap_write(io, dir, (raft_oe){10, 1}, b2.out.data, b2.out.len,
                          err, sizeof err));
    char part[4096];
    snprintf(part, sizeof part,
             "%s/00000000000000009999-0000000003.checkpoint.part", dir);
    FILE *f = fopen(part, "w");
    CHECK(f != NULL);
    fputs("torn", f);
    fclose(f);
    raft_oe ids[8];
    CHECK_EQ(raft_snap_list(io, dir, ids, 8, true), 2);
    CHECK_EQ(ids[0].offset, 10);
    CHECK_EQ(ids[1].offset, 5000);
    CHECK_EQ(ids[1].epoch, 3);
    CHECK(!log_io_exists(io, part));
    CHECK_EQ(raft_snap_size(io, dir, id), (int64_t)b.out.len);
    size_t n;
    uint8_t *data = raft_snap_read(io, dir, id, 64 << 20, &n);
    CHECK(data != NULL);
    CHECK_EQ(n, b.out.len);
    CHECK(!memcmp(data, b.out.data, n));
    seen s = {0};
    CHECK_EQ(raft_snap_records(data, n, count_rec, &s), 0);
    CHECK_EQ(s.n, 3000);
    CHECK(!s.bad);
    CHECK_EQ(s.last_offset, 3000); /* header at 0, records from 1 */
    uint8_t chunk[100];
    CHECK_EQ(raft_snap_pread(io, dir, id, chunk, 100, 1000), 100);
    CHECK(!memcmp(chunk, data + 1000, 100));

    /* a flipped byte fails its batch's CRC */
    data[n / 2] ^= 0x40;
    CHECK_EQ(raft_snap_validate(data, n, err, sizeof err), -1);
    data[n / 2] ^= 0x40;
    CHECK_EQ(raft_snap_validate(data, n, err, sizeof err), 0);
    /* a torn tail; no footer */
    CHECK_EQ(raft_snap_validate(data, n - 7, err, sizeof err), -1);
    raft_snap_builder nf;
    raft_snap_begin(&nf, id, 0, 0);
    raft_snap_add(&nf, (const uint8_t *)"record-0-", 9);
    if (nf.open) { /* the data batch without the footer */
        batch_builder_finish(&nf.bb, &nf.out);
        batch_builder_free(&nf.bb);
        nf.open = false;
    }
    CHECK_EQ(raft_snap_validate(nf.out.data, nf.out.len, err, sizeof err), -1);
    /* no header: the same bytes without the first batch */
    raft_batch hb;
    CHECK_EQ(raft_batch_parse(b2.out.data, b2.out.len, &hb), 0);
    CHECK_EQ(raft_snap_validate(b2.out.data + hb.len, b2.out.len - hb.len, err,
                                sizeof err),
             -1);
    CHECK_EQ(raft_snap_validate(b2.out.data, 0, err, sizeof err), -1);
    raft_snap_builder_free(&nf);
    free(data);
    CHECK(raft_snap_delete(io, dir, (raft_oe){10, 1}));
    CHECK_EQ(raft_snap_list(io, dir, ids, 8, false), 1);
    raft_snap_builder_free(&b);
    raft_snap_builder_free(&b2);
}

/* A crash at any point of the write leaves no snapshot or the whole one. */
TEST(raft_snapshot_torn_write_under_crashfs) {
    raft_snap_builder b;
    raft_oe id = {77, 2};
    build(&b, id, 50, 100);
    int whole = 0, none = 0;
    for (int cut = 0; cut < 12; cut++)
        for (uint64_t seed = 1; seed <= 6; seed++) {
            crashfs *fs = crashfs_new();
            const log_io *io = crashfs_io(fs);
            CHECK_EQ(io->mkdir(io->ctx, "/m", 0755), 0);
            crashfs_sync_all(fs);
            crashfs_cut_after(fs, cut);
            char err[256];
            (void)raft_snap_write(io, "/m", id, b.out.data, b.out.len, err,
                                  sizeof err);
            crashfs_crash(fs, seed);
            raft_oe ids[4];
            int k = raft_snap_list(io, "/m", ids, 4, true);
            CHECK(k == 0 || k == 1);
            if (k == 1) {
                size_t n;
                uint8_t *d = raft_snap_read(io, "/m", id, 1 << 20, &n);
                CHECK(d != NULL);
                CHECK(d && raft_snap_validate(d, n, err, sizeof err) == 0);
                CHECK(n == b.out.len);
                free(d);
                whole++;
            } else {
                none++;
            }
            int nn = 0;
            char **names = log_io_list_names(io, "/m", &nn);
            CHECK_EQ(nn, k); /* the .part is gone */
            log_io_free_names(names, nn);
            crashfs_free(fs);
        }
    CHECK(whole > 0);
    CHECK(none > 0);
    raft_snap_builder_free(&b);
}

/* ---- raft_log: snapshots next to the metadata log ------------------------ */

static log_manager *meta_mgr(const char *dir, log_partition **part) {
    const char *dirs[1] = {dir};
    log_manager_opts o = {0};
    o.log_dirs = dirs;
    o.n_log_dirs = 1;
    int16_t err;
    log_manager *m = log_manager_open(&o, &err);
    CHECK(m != NULL);
    static const uint8_t id[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                   0, 0, 0, 0, 0, 0, 0, 1};
    *part = log_get(m, "__cluster_metadata", 0);
    if (!*part) {
        log_config c;
        log_config_default(&c);
        *part = log_create(m, "__cluster_metadata", 0, id, &c, &err);
    }
    CHECK(*part != NULL);
    return m;
}

/* Appends batches of 5 records each in epoch `epoch` up to `end`. */
static void append_to(raft_log *l, log_partition *part, int64_t end,
                      int32_t epoch) {
    buf vals[5];
    for (int i = 0; i < 5; i++) {
        buf_init(&vals[i], 16);
        buf_put(&vals[i], "value", 5);
    }
    while (log_end_offset(part) < end) {
        buf b;
        buf_init(&b, 256);
        int64_t base = log_end_offset(part);
        raft_batch_build(&b, base, epoch, 1700000000000, vals, 5);
        raft_batch rb;
        CHECK_EQ(raft_batch_parse(b.data, b.len, &rb), 0);
        CHECK_EQ(raft_log_append(l, &rb), 0);
        buf_free(&b);
    }
    for (int i = 0; i < 5; i++)
        buf_free(&vals[i]);
}

TEST(raft_log_snapshots_boot_read_move_install) {
    const char *dir = test_tmpdir();
    log_partition *part;
    log_manager *m = meta_mgr(dir, &part);
    raft_log *l = raft_log_new(m, part, 1024, 0); /* small segments */
    append_to(l, part, 100, 1);
    CHECK(log_segment_count(part) > 2);
    raft_log_set_hw(l, 100);
    /* a snapshot at 50 (epoch 1), a torn one at 90 and a leftover .part */
    raft_snap_builder b;
    build(&b, (raft_oe){50, 1}, 20, 10);
    char err[256];
    const log_io *io = &log_io_posix;
    const char *mdir = log_path(part);
    CHECK(raft_snap_write(io, mdir, (raft_oe){50, 1}, b.out.data, b.out.len,
                          err, sizeof err));
    raft_snap_builder bad;
    build(&bad, (raft_oe){90, 1}, 20, 10);
    CHECK(raft_snap_write(io, mdir, (raft_oe){90, 1}, bad.out.data,
                          bad.out.len - 30, err, sizeof err));
    char part_path[4096];
    snprintf(part_path, sizeof part_path,
             "%s/00000000000000000095-0000000001.checkpoint.part", mdir);
    FILE *f = fopen(part_path, "w");
    fputs("x", f);
    fclose(f);

    raft_boot rb;
    memset(&rb, 0, sizeof rb);
    CHECK_EQ(raft_log_boot(l, &rb, err, sizeof err), 0);
    CHECK_EQ(rb.snapshot_id.offset, 50); /* the torn one was dropped */
    CHECK_EQ(rb.snapshot_id.epoch, 1);
    CHECK_EQ(rb.log_start, 0);
    CHECK_EQ(rb.log_end, 100);
    CHECK(!log_io_exists(io, part_path));
    raft_oe ids[4];
    CHECK_EQ(raft_snap_list(io, mdir, ids, 4, false), 1);

    /* FetchSnapshot reads: bounded chunks that add up to the file */
    raft_log_ops ops = raft_log_get_ops(l);
    const uint8_t *data;
    uint32_t len;
    int64_t size;
    CHECK(!ops.read_snapshot(ops.ctx, (raft_oe){50, 2}, 0, 100, &data, &len,
                             &size));
    buf whole;
    buf_init(&whole, 1024);
    for (int64_t pos = 0;;) {
        CHECK(ops.read_snapshot(ops.ctx, (raft_oe){50, 1}, pos, 100, &data,
                                &len, &size));
        CHECK_EQ(size, (int64_t)b.out.len);
        if (pos >= size)
            break;
        CHECK(len > 0 && len <= 100);
        buf_put(&whole, data, len);
        pos += len;
        raft_log_release_reads(l);
    }
    CHECK_EQ(whole.len, b.out.len);
    CHECK(!memcmp(whole.data, b.out.data, whole.len));
    buf_free(&whole);

    /* the log start moves up to the snapshot: segments wholly below go */
    CHECK_EQ(raft_log_start_moved(l, 50), 0);
    CHECK_EQ(log_start_offset(part), 50);
    CHECK(ops.epoch_at(ops.ctx, 49) == -1);
    CHECK_EQ(ops.epoch_at(ops.ctx, 50), 1);
    /* endOffsetForEpoch of an epoch ending at the start: the snapshot */
    append_to(l, part, 110, 2);
    raft_oe eo = ops.end_offset_for_epoch(ops.ctx, 1);
    CHECK_EQ(eo.offset, 100);
    CHECK_EQ(eo.epoch, 1);

    /* a follower installs a fetched snapshot past its end */
    raft_snap_builder fb;
    raft_oe fid = {500, 3};
    build(&fb, fid, 30, 10);
    size_t half = fb.out.len / 2;
    CHECK_EQ(raft_log_snapshot_write(l, fid, 0, fb.out.data, (uint32_t)half),
             0);
    CHECK_EQ(raft_log_snapshot_write(l, fid, (int64_t)half, fb.out.data + half,
                                     (uint32_t)(fb.out.len - half)),
             0);
    CHECK_EQ(raft_log_snapshot_install(l, fid, err, sizeof err), 0);
    CHECK_EQ(log_start_offset(part), 500);
    CHECK_EQ(log_end_offset(part), 500);
    CHECK_EQ(raft_log_latest_snapshot(l).offset, 500);
    CHECK_EQ(raft_snap_list(io, mdir, ids, 4, false), 1); /* 50 went */
    append_to(l, part, 510, 3);
    seen s = {0};
    CHECK_EQ(raft_log_snapshot_records(l, fid, (raft_record_fn)count_rec, &s,
                                       err, sizeof err),
             0);
    CHECK_EQ(s.n, 30);
    /* a corrupt transfer is refused and leaves nothing */
    raft_oe cid = {900, 3};
    fb.out.data[fb.out.len / 2] ^= 1;
    CHECK_EQ(
        raft_log_snapshot_write(l, cid, 0, fb.out.data, (uint32_t)fb.out.len),
        0);
    CHECK(raft_log_snapshot_install(l, cid, err, sizeof err) != 0);
    CHECK_EQ(raft_log_latest_snapshot(l).offset, 500);
    raft_log_free(l);
    log_manager_close(m);

    /* restart: the log starts at the snapshot */
    m = meta_mgr(dir, &part);
    l = raft_log_new(m, part, 1024, 0);
    memset(&rb, 0, sizeof rb);
    CHECK_EQ(raft_log_boot(l, &rb, err, sizeof err), 0);
    CHECK_EQ(rb.log_start, 500);
    CHECK_EQ(rb.log_end, 510);
    CHECK_EQ(rb.snapshot_id.offset, 500);
    CHECK_EQ(rb.start_epoch, 3);
    raft_log_free(l);
    log_manager_close(m);

    /* a snapshot past the log end (installed, then a crash before the log
     * restarted): boot restarts the log there */
    m = meta_mgr(dir, &part);
    raft_snap_builder pb;
    build(&pb, (raft_oe){800, 4}, 3, 1);
    CHECK(raft_snap_write(io, log_path(part), (raft_oe){800, 4}, pb.out.data,
                          pb.out.len, err, sizeof err));
    l = raft_log_new(m, part, 1024, 0);
    memset(&rb, 0, sizeof rb);
    CHECK_EQ(raft_log_boot(l, &rb, err, sizeof err), 0);
    CHECK_EQ(rb.log_start, 800);
    CHECK_EQ(rb.log_end, 800);
    CHECK_EQ(rb.last_epoch, 4);
    CHECK_EQ(rb.start_epoch, 4);
    CHECK_EQ(rb.snapshot_id.offset, 800);
    raft_log_free(l);
    log_manager_close(m);
    raft_snap_builder_free(&b);
    raft_snap_builder_free(&bad);
    raft_snap_builder_free(&fb);
    raft_snap_builder_free(&pb);
}
