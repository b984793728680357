/*
 * test_cleaner.c - log compaction (src/log/cleaner.c): convergence to the
 * newest value per key, offsets kept, active segment untouched, tombstone
 * delete horizon, bounded offset map with multiple passes, and kill -9 at a
 * seeded random I/O operation of a cleaning pass (fork; the I/O of the
 * worker threads and of the loop's swaps both count; one worker for two
 * partitions or one each) followed by recovery and checks
 * (SLUICE_CLEANER_CRASH_ALL=1 tries every point). The threaded path:
 * deletion, DeleteRecords during a pass, reads on the loop during a pass,
 * two threads, the I/O throttle.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/util.h"
#include "log/batch.h"
#include "log/cleaner.h"
#include "log/log.h"
#include "log/producer_state.h"
#include "test.h"

static log_config compact_cfg(int32_t segment_bytes) {
    log_config c;
    log_config_default(&c);
    c.cleanup_policy = LOG_CLEANUP_COMPACT;
    c.segment_bytes = segment_bytes;
    c.min_cleanable_dirty_ratio = 0.0;
    c.timestamp_after_max_ms = INT64_MAX;
    c.timestamp_before_max_ms = INT64_MAX;
    return c;
}

static int nosync_fsync(void *c, int fd) {
    (void)c;
    (void)fd;
    return 0;
}

/* posix without fsync: these tests do not cut power, and the machine is
 * shared */
static const log_io *nosync_io(void) {
    static log_io io;
    io = log_io_posix;
    io.fsync = nosync_fsync;
    return &io;
}

static log_manager *open_dir(const char *dir, const log_io *io,
                             const log_config *cfg) {
    const char *dirs[1] = {dir};
    if (!io)
        io = nosync_io();
    log_manager_opts o = {
        .log_dirs = dirs, .n_log_dirs = 1, .io = io, .default_config = cfg};
    int16_t err = 0;
    log_manager *m = log_manager_open(&o, &err);
    CHECK(m != NULL);
    return m;
}

/* Appends one batch of n records key "k<key+i>" value "v<ver>" (value NULL
 * when ver < 0). Returns the base offset. */
static int64_t put_batch(log_partition *p, int key, int n, int ver,
                         int compression) {
    batch_builder b;
    batch_builder_init(&b, compression, 0);
    for (int i = 0; i < n; i++) {
        char k[32], v[64];
        int kl = snprintf(k, sizeof k, "k%d", key + i);
        int vl = snprintf(v, sizeof v, "v%d-%d", key + i, ver);
        batch_builder_add(&b, clk_wall_ms(), k, kl, ver < 0 ? NULL : v,
                          ver < 0 ? -1 : vl, NULL, 0);
    }
    buf out;
    buf_init(&out, 0);
    CHECK_EQ(batch_builder_finish(&b, &out), 0);
    log_append_info ai;
    CHECK_EQ(log_append(p, out.data, out.len, 0, LOG_ORIGIN_CLIENT, &ai), 0);
    log_set_high_watermark(p, log_end_offset(p));
    buf_free(&out);
    batch_builder_free(&b);
    return ai.base_offset;
}

typedef struct rec_ent {
    int64_t offset;
    char key[32];
    char value[64]; /* "" and tomb for null */
    bool tomb;
    bool control; /* a transaction marker */
} rec_ent;

typedef struct scan {
    rec_ent *r;
    int n, cap;
    bool ordered;
    bool ok;
} scan;

/* Reads the whole log from the start through log_read, like a consumer. */
static void scan_log(log_partition *p, scan *s) {
    memset(s, 0, sizeof(*s));
    s->ordered = s->ok = true;
    int64_t off = log_start_offset(p), leo = log_end_offset(p), prev = -1;
    while (off < leo) {
        log_read_result rr;
        if (log_read(p, off, 1 << 20, -1, true, &rr) != 0) {
            s->ok = false;
            return;
        }
        if (rr.len <= 0) {
            log_read_release(&rr);
            break;
        }
        uint8_t *data = xmalloc((size_t)rr.len);
        ssize_t got = pread(rr.fd, data, (size_t)rr.len, rr.file_pos);
        log_read_release(&rr);
        size_t pos = 0;
        int64_t before = off;
        while (got > 0 && pos + BATCH_HEADER_SIZE <= (size_t)got) {
            log_batch_header h;
            if (batch_validate_stored(data + pos, (size_t)got - pos, &h) != 0)
                break;
            buf plain;
            buf_init(&plain, 0);
            if (batch_decompress_records(&h, data + pos, 64 << 20, &plain) !=
                0) {
                s->ok = false;
                buf_free(&plain);
                break;
            }
            batch_iter it;
            batch_iter_init(&it, &h, plain.data, plain.len);
            log_record r;
            int rc;
            while ((rc = batch_iter_next(&it, &r)) == 1) {
                if (r.offset < off)
                    continue;
                if (r.offset <= prev)
                    s->ordered = false;
                prev = r.offset;
                if (s->n == s->cap) {
                    s->cap = s->cap ? s->cap * 2 : 1024;
                    s->r = xrealloc(s->r, sizeof(*s->r) * (size_t)s->cap);
                }
                rec_ent *e = &s->r[s->n++];
                memset(e, 0, sizeof(*e));
                e->offset = r.offset;
                e->control = batch_is_control(&h);
                snprintf(e->key, sizeof e->key, "%.*s", r.key_len,
                         (const char *)r.key);
                e->tomb = r.value_len < 0;
                if (!e->tomb)
                    snprintf(e->value, sizeof e->value, "%.*s", r.value_len,
                             (const char *)r.value);
            }
            if (rc < 0)
                s->ok = false;
            buf_free(&plain);
            off = batch_last_offset(&h) + 1;
            pos += (size_t)batch_size(&h);
        }
        free(data);
        if (off <= before) {
            s->ok = false;
            break;
        }
    }
}

/* Newest record of key in s, or NULL. */
static const rec_ent *newest(const scan *s, const char *key) {
    for (int i = s->n - 1; i >= 0; i--)
        if (!strcmp(s->r[i].key, key))
            return &s->r[i];
    return NULL;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys that appear more than once among records below offset `below`. */
static int dup_keys_below(const scan *s, int64_t below) {
    const char **v = xmalloc(sizeof(*v) * (size_t)(s->n + 1));
    int n = 0, d = 0;
    for (int i = 0; i < s->n; i++)
        if (s->r[i].offset < below)
            v[n++] = s->r[i].key;
    qsort(v, (size_t)n, sizeof(*v), cmp_str);
    for (int i = 1; i < n; i++)
        d += !strcmp(v[i], v[i - 1]);
    free(v);
    return d;
}

static log_cleaner *new_cleaner(log_manager *m, int64_t buffer,
                                const log_io *io) {
    log_cleaner_opts o;
    log_cleaner_opts_default(&o);
    o.backoff_ms = 0;
    o.dedupe_buffer_size = buffer;
    o.io = io ? io : nosync_io();
    return log_cleaner_new(m, &o);
}

static int64_t file_len(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

TEST(cleaner_converges_keeps_offsets_and_active) {
    const char *dir = test_tmpdir();
    log_config cfg = compact_cfg(4096);
    log_manager *m = open_dir(dir, NULL, &cfg);
    int16_t err;
    log_partition *p = log_create(m, "cmp", 0, NULL, &cfg, &err);
    enum { KEYS = 100, ROUNDS = 12 };
    int64_t newest_off[KEYS];
    for (int v = 0; v < ROUNDS; v++)
        for (int k = 0; k < KEYS; k += 10) {
            int64_t b = put_batch(p, k, 10, v, v % 3 == 1 ? 4 /* zstd */ : 0);
            for (int i = 0; i < 10; i++)
                newest_off[k + i] = b + i;
        }
    int segs_before = log_segment_count(p);
    int64_t leo = log_end_offset(p);
    int64_t size_before = log_size_bytes(p);
    CHECK(segs_before > 5);
    log_segment_info act;
    log_segment_get(p, segs_before - 1, &act);
    char ap[4096];
    snprintf(ap, sizeof ap, "%s/cmp-0/%020lld.log", dir, (long long)act.base);
    int64_t act_len = file_len(ap);

    log_cleaner *c = new_cleaner(m, 1 << 20, NULL);
    CHECK(log_cleaner_run_until_idle(c) >= 1);
    log_cleaner_stats st;
    log_cleaner_get_stats(c, &st);
    CHECK(st.records_removed > 0);
    CHECK_EQ(st.aborted_passes, 0);
    CHECK(log_size_bytes(p) < size_before / 3);
    CHECK_EQ(log_end_offset(p), leo);
    CHECK_EQ(log_cleaner_checkpoint_of(c, p), act.base);
    /* the active segment is untouched */
    log_segment_info act2;
    log_segment_get(p, log_segment_count(p) - 1, &act2);
    CHECK_EQ(act2.base, act.base);
    CHECK_EQ(file_len(ap), act_len);

    scan s;
    scan_log(p, &s);
    CHECK(s.ok);
    CHECK(s.ordered);
    for (int k = 0; k < KEYS; k++) {
        char key[32], val[64];
        snprintf(key, sizeof key, "k%d", k);
        snprintf(val, sizeof val, "v%d-%d", k, ROUNDS - 1);
        const rec_ent *e = newest(&s, key);
        CHECK(e != NULL);
        if (!e)
            continue;
        CHECK_STR(e->value, val);
        CHECK_EQ(e->offset, newest_off[k]); /* offsets kept */
    }
    /* below the active segment each key appears once */
    CHECK_EQ(dup_keys_below(&s, act.base), 0);
    free(s.r);
    log_cleaner_free(c);
    log_manager_close(m);

    /* survives a restart: checkpoint and data */
    m = open_dir(dir, NULL, &cfg);
    p = log_get(m, "cmp", 0);
    log_set_config(p, &cfg);
    c = new_cleaner(m, 1 << 20, NULL);
    CHECK_EQ(log_cleaner_checkpoint_of(c, p), act.base);
    scan_log(p, &s);
    CHECK(s.ok && s.ordered);
    const rec_ent *e = newest(&s, "k7");
    CHECK(e && !strcmp(e->value, "v7-11"));
    free(s.r);
    log_cleaner_free(c);
    log_manager_close(m);
}

TEST(cleaner_tombstone_delete_horizon) {
    clk_manual mc = {1000000000LL, 1700000000000LL};
    clk_manual_install(&mc);
    const char *dir = test_tmpdir();
    log_config cfg = compact_cfg(1024);
    cfg.delete_retention_ms = 10000;
    log_manager *m = open_dir(dir, NULL, &cfg);
    int16_t err;
    log_partition *p = log_create(m, "tomb", 0, NULL, &cfg, &err);
    put_batch(p, 0, 5, 1, 0);  /* k0..k4 = v1 */
    put_batch(p, 0, 2, -1, 0); /* k0, k1 deleted */
    for (int i = 0; i < 30; i++)
        put_batch(p, 100, 5, i, 0); /* filler, rolls segments */
    log_cleaner *c = new_cleaner(m, 1 << 20, NULL);
    log_cleaner_run_until_idle(c);
    scan s;
    scan_log(p, &s);
    const rec_ent *e0 = newest(&s, "k0");
    CHECK(e0 && e0->tomb); /* tombstone kept within delete.retention.ms */
    int k0_count = 0;
    for (int i = 0; i < s.n; i++)
        k0_count += !strcmp(s.r[i].key, "k0");
    CHECK_EQ(k0_count, 1); /* the old value is gone */
    const rec_ent *e2 = newest(&s, "k2");
    CHECK(e2 && !strcmp(e2->value, "v2-1"));
    free(s.r);

    /* before the horizon another pass keeps it */
    clk_manual_advance_ms(&mc, 5000);
    for (int i = 0; i < 30; i++)
        put_batch(p, 100, 5, 100 + i, 0);
    log_cleaner_run_until_idle(c);
    scan_log(p, &s);
    e0 = newest(&s, "k0");
    CHECK(e0 && e0->tomb);
    free(s.r);

    /* past the horizon the next pass removes it */
    clk_manual_advance_ms(&mc, 6000);
    for (int i = 0; i < 30; i++)
        put_batch(p, 100, 5, 200 + i, 0);
    log_cleaner_run_until_idle(c);
    scan_log(p, &s);
    CHECK(s.ok && s.ordered);
    CHECK(newest(&s, "k0") == NULL);
    CHECK(newest(&s, "k1") == NULL);
    e2 = newest(&s, "k2");
    CHECK(e2 && !strcmp(e2->value, "v2-1"));
    free(s.r);
    log_cleaner_free(c);
    log_manager_close(m);
    clk_set(NULL);
}

TEST(cleaner_map_bounded_million_keys) {
    /* The map never grows: a million distinct keys into a 1 MiB map. */
    size_t mem = 1 << 20;
    log_cleaner_map map;
    log_cleaner_map_init(&map, mem, 0.9, 1000000);
    CHECK(log_cleaner_map_bytes(&map) <= mem);
    int added = 0, refused = 0;
    for (int i = 0; i < 1000000; i++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "key-%d", i);
        if (log_cleaner_map_put(&map, k, (size_t)kl, i))
            added++;
        else
            refused++;
    }
    CHECK(log_cleaner_map_bytes(&map) <= mem);
    CHECK_EQ((size_t)added, map.max_entries);
    CHECK(refused > 900000);
    CHECK_EQ(log_cleaner_map_get(&map, "key-5", 5), 5);
    CHECK_EQ(log_cleaner_map_get(&map, "key-999999", 10), -1);
    /* an existing key is still updated when full */
    CHECK(log_cleaner_map_put(&map, "key-5", 5, 2000000));
    CHECK_EQ(log_cleaner_map_get(&map, "key-5", 5), 2000000);
    log_cleaner_map_free(&map);
}

TEST(cleaner_multiple_passes_when_map_full) {
    const char *dir = test_tmpdir();
    log_config cfg = compact_cfg(64 << 10);
    log_manager *m = open_dir(dir, NULL, &cfg);
    int16_t err;
    log_partition *p = log_create(m, "big", 0, NULL, &cfg, &err);
    enum { KEYS = 20000 };
    for (int v = 0; v < 2; v++)
        for (int k = 0; k < KEYS; k += 100)
            put_batch(p, k, 100, v, v ? 3 /* lz4 */ : 0);
    put_batch(p, 0, 1, 9, 0);   /* roll: everything before is cleanable */
    int64_t buffer = 2000 * 24; /* ~1800 keys a pass */
    log_cleaner *c = new_cleaner(m, buffer, NULL);
    int passes = log_cleaner_run_until_idle(c);
    log_cleaner_stats st;
    log_cleaner_get_stats(c, &st);
    CHECK(passes > 5);
    CHECK(st.map_passes_full > 5);
    CHECK(st.map_max_bytes <= (size_t)buffer);
    CHECK_EQ(st.aborted_passes, 0);
    scan s;
    scan_log(p, &s);
    CHECK(s.ok && s.ordered);
    /* below the active segment every key appears once */
    log_segment_info act;
    log_segment_get(p, log_segment_count(p) - 1, &act);
    CHECK(act.base > KEYS); /* most of the log was cleanable */
    CHECK_EQ(dup_keys_below(&s, act.base), 0);
    for (int k = 1; k < KEYS; k += 997) {
        char key[32], val[64];
        snprintf(key, sizeof key, "k%d", k);
        snprintf(val, sizeof val, "v%d-1", k);
        const rec_ent *e = newest(&s, key);
        CHECK(e && !strcmp(e->value, val));
    }
    free(s.r);
    log_cleaner_free(c);
    log_manager_close(m);
}

/* ---- crash at a random I/O operation of a pass
 * --------------------------------- */
/* the loop (swaps) and the worker thread (writes) both count */
static long crash_at;
static _Atomic long crash_ops;
static ssize_t cr_pwrite(void *c, int fd, const void *b, size_t n, off_t o) {
    if (++crash_ops == crash_at)
        raise(SIGKILL);
    return log_io_posix.pwrite(c, fd, b, n, o);
}
/* No real fsync: a kill -9 keeps the page cache, and the machine is slow. */
static int cr_fsync(void *c, int fd) {
    (void)c;
    (void)fd;
    if (++crash_ops == crash_at)
        raise(SIGKILL);
    return 0;
}
static int cr_rename(void *c, const char *a, const char *b) {
    if (++crash_ops == crash_at)
        raise(SIGKILL);
    int r = log_io_posix.rename(c, a, b);
    if (++crash_ops == crash_at)
        raise(SIGKILL);
    return r;
}
static int cr_unlink(void *c, const char *p) {
    if (++crash_ops == crash_at)
        raise(SIGKILL);
    int r = log_io_posix.unlink(c, p);
    if (++crash_ops == crash_at)
        raise(SIGKILL);
    return r;
}
static int cr_ftruncate(void *c, int fd, off_t l) {
    if (++crash_ops == crash_at)
        raise(SIGKILL);
    return log_io_posix.ftruncate(c, fd, l);
}

static log_io crash_io;

/* Both partitions of the crash test ("crash" cleaned by one pass, "crash2"
 * by another, on a second thread when there are two). */
static const char *const crash_topics[] = {"crash", "crash2"};

static void check_one(log_manager *m, const char *topic, int keys, int rounds,
                      bool *ok) {
    log_partition *p = log_get(m, topic, 0);
    if (!p) {
        *ok = false;
        return;
    }
    scan s;
    scan_log(p, &s);
    if (!s.ok || !s.ordered)
        *ok = false;
    for (int k = 0; k < keys; k++) {
        char key[32], val[64];
        snprintf(key, sizeof key, "k%d", k);
        snprintf(val, sizeof val, "v%d-%d", k,
                 k < keys / 2 ? rounds - 1 : rounds / 2 - 1);
        const rec_ent *e = newest(&s, key);
        if (!e || strcmp(e->value, val))
            *ok = false;
    }
    free(s.r);
}

/* Reads a whole file; NULL (len -1) if missing. */
static uint8_t *slurp(const char *path, int64_t *len) {
    *len = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    uint8_t *d = NULL;
    if (fstat(fd, &st) == 0) {
        d = xmalloc((size_t)st.st_size + 1);
        ssize_t r = pread(fd, d, (size_t)st.st_size, 0);
        *len = r;
    }
    close(fd);
    return d;
}

/* Every .index entry (rel, pos) of every segment in pdir names the batch at
 * pos whose last offset is base + rel; every .timeindex entry an offset of
 * the segment (what a crash must never leave wrong once recovered). */
static void check_index_files(const char *pdir, bool *ok) {
    DIR *d = opendir(pdir);
    if (!d) {
        *ok = false;
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strlen(de->d_name) != 24 || strcmp(de->d_name + 20, ".log"))
            continue;
        long long base = strtoll(de->d_name, NULL, 10);
        char lp[4400], ip[4400], tp[4400];
        snprintf(lp, sizeof lp, "%s/%s", pdir, de->d_name);
        snprintf(ip, sizeof ip, "%s/%020lld.index", pdir, base);
        snprintf(tp, sizeof tp, "%s/%020lld.timeindex", pdir, base);
        int64_t ll, il, tl;
        uint8_t *l = slurp(lp, &ll), *ix = slurp(ip, &il), *tx = slurp(tp, &tl);
        if ((il > 0 && il % 8) || (tl > 0 && tl % 12))
            *ok = false; /* missing: rebuilt at the next open */
        for (int64_t i = 0; i + 8 <= il && l; i += 8) {
            int64_t rel = (int32_t)sl_load_be32(ix + i);
            int64_t pos = (int32_t)sl_load_be32(ix + i + 4);
            if (pos < 0 || pos + BATCH_HEADER_SIZE > ll) {
                *ok = false;
                break;
            }
            log_batch_header h;
            batch_parse_header(l + pos, BATCH_HEADER_SIZE, &h);
            if (batch_last_offset(&h) != base + rel)
                *ok = false;
        }
        for (int64_t i = 0; i + 12 <= tl; i += 12)
            if ((int32_t)sl_load_be32(tx + i + 8) < 0)
                *ok = false;
        if (!*ok)
            fprintf(stderr, "  bad index files for %s (%lld, %lld)\n", lp,
                    (long long)il, (long long)tl);
        free(l);
        free(ix);
        free(tx);
    }
    closedir(d);
}

static void check_log(const char *dir, const log_config *cfg, int keys,
                      int rounds, bool *ok) {
    crash_at = -1;
    log_manager *m = open_dir(dir, &crash_io, cfg);
    if (!m) {
        *ok = false;
        return;
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(crash_topics); i++)
        check_one(m, crash_topics[i], keys, rounds, ok);
    log_manager_close(m);
    for (size_t i = 0; i < SL_ARRAY_LEN(crash_topics); i++) {
        char pd[4200];
        snprintf(pd, sizeof pd, "%s/%s-0", dir, crash_topics[i]);
        check_index_files(pd, ok);
    }
}

static log_cleaner *crash_cleaner(log_manager *m, const log_io *io,
                                  int threads) {
    log_cleaner_opts o;
    log_cleaner_opts_default(&o);
    o.backoff_ms = 0;
    o.dedupe_buffer_size = (int64_t)threads << 20;
    o.threads = threads;
    o.io = io;
    return log_cleaner_new(m, &o);
}

TEST(cleaner_kill9_during_cleaning) {
    const char *base = test_tmpdir();
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/template", base);
    log_config cfg = compact_cfg(2048);
    enum { KEYS = 60, ROUNDS = 8 }; /* KEYS/2 divisible by 6 */
    {
        log_io nosync = log_io_posix;
        nosync.fsync = cr_fsync;
        crash_at = -1;
        log_manager *m = open_dir(tmpl, &nosync, &cfg);
        int16_t err;
        log_partition *parts[2];
        for (int i = 0; i < 2; i++)
            parts[i] = log_create(m, crash_topics[i], 0, NULL, &cfg, &err);
        /* half the rounds, cleaned (small segments), then the rest: the
         * pass under test merges small cleaned segments into groups */
        for (int half = 0; half < 2; half++) {
            for (int pi = 0; pi < 2; pi++) {
                log_partition *p = parts[pi];
                /* the second half updates only the first half of the keys: the
                 * others' newest values sit in small cleaned segments that the
                 * pass under test merges */
                for (int v = half * ROUNDS / 2; v < (half + 1) * ROUNDS / 2;
                     v++)
                    for (int k = 0; k < (half ? KEYS / 2 : KEYS); k += 6)
                        put_batch(p, k, 6, v, v & 1 ? 1 /* gzip */ : 0);
                /* other keys after them: the newest values above sit in
                 * segments the cleaner rewrites, not in the active one */
                for (int v = 0; v < 3; v++)
                    for (int k = 1000; k < 1000 + KEYS; k += 6)
                        put_batch(p, k, 6, v, 0);
            }
            if (half == 0) {
                log_cleaner *c = new_cleaner(m, 1 << 20, &nosync);
                log_cleaner_run_until_idle(c);
                log_cleaner_free(c);
            }
        }
        log_manager_close(m);
    }
    log_io io = log_io_posix;
    io.pwrite = cr_pwrite;
    io.fsync = cr_fsync;
    io.rename = cr_rename;
    io.unlink = cr_unlink;
    io.ftruncate = cr_ftruncate;
    crash_io = io;
    /* count the operations of a full pass */
    char work[4200];
    snprintf(work, sizeof work, "%s/count", base);
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", tmpl, work);
    CHECK_EQ(system(cmd), 0);
    crash_at = -1;
    crash_ops = 0;
    {
        log_manager *m = open_dir(work, &io, &cfg);
        crash_ops = 0; /* count from the pass on */
        log_cleaner *c = crash_cleaner(m, &io, 2);
        log_cleaner_run_until_idle(c);
        log_cleaner_free(c);
        log_manager_abandon(m);
    }
    long total = crash_ops;
    CHECK(total > 10);
    fprintf(stderr, "  a cleaning pass does %ld I/O operations\n", total);
    bool ok = true;
    check_log(work, &cfg, KEYS, ROUNDS, &ok);
    CHECK(ok);
    uint64_t seed = test_seed();
    rng r;
    rng_seed(&r, seed);
    /* 16 seeded points; SLUICE_CLEANER_CRASH_ALL=1 tries every one */
    bool all = getenv("SLUICE_CLEANER_CRASH_ALL") != NULL;
    int iters = all ? (int)total : 16;
    for (int it = 0; it < iters; it++) {
        long at = all ? it + 1 : 1 + (long)rng_below(&r, (uint64_t)total);
        snprintf(work, sizeof work, "%s/run%d", base, it);
        snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", tmpl, work);
        CHECK_EQ(system(cmd), 0);
        pid_t pid = fork();
        if (pid == 0) {
            log_manager *m = open_dir(work, &io, &cfg);
            crash_at = at;
            crash_ops = 0;
            /* one worker for both partitions, or one each */
            log_cleaner *c = crash_cleaner(m, &io, 1 + (it & 1));
            log_cleaner_run_until_idle(c);
            log_cleaner_free(c);
            _exit(3); /* not reached when the crash point is hit */
        }
        int status = 0;
        waitpid(pid, &status, 0);
        bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        if (!killed)
            fprintf(stderr,
                    "  crash point %ld of %ld not reached (status %d)\n", at,
                    total, status);
        bool good = true;
        check_log(work, &cfg, KEYS, ROUNDS, &good);
        if (!good)
            fprintf(stderr,
                    "  kill -9 at I/O op %ld of %ld (seed %llu): log "
                    "wrong after recovery\n",
                    at, total, (unsigned long long)seed);
        CHECK(good);
        /* and cleaning completes afterwards */
        crash_at = -1;
        log_manager *m = open_dir(work, &io, &cfg);
        log_cleaner *c = crash_cleaner(m, &io, 2);
        log_cleaner_run_until_idle(c);
        log_cleaner_stats st;
        log_cleaner_get_stats(c, &st);
        CHECK_EQ(st.aborted_passes, 0);
        log_cleaner_free(c);
        log_manager_close(m);
        good = true;
        check_log(work, &cfg, KEYS, ROUNDS, &good);
        CHECK(good);
    }
}

/* The worker builds the cleaned segment's .index/.timeindex while writing
 * it; the swap adopts them: they equal what a full rebuild of the segment
 * produces, and the loop reads no segment while swapping. */
static _Atomic long mgr_preads;
/* fds of segment (.log) files opened through the manager's io: only reads
 * of those count (the swap reads its small .swapend through the seam) */
static _Atomic bool seg_fd[4096];
static int counting_open(void *c, const char *path, int f, int m) {
    int fd = log_io_posix.open(c, path, f, m);
    size_t l = strlen(path);
    if (fd >= 0 && fd < 4096)
        seg_fd[fd] = l > 4 && !strcmp(path + l - 4, ".log");
    return fd;
}
static int counting_dup(void *c, int fd) {
    int d = log_io_posix.dup(c, fd);
    if (d >= 0 && d < 4096 && fd >= 0 && fd < 4096)
        seg_fd[d] = seg_fd[fd];
    return d;
}
static ssize_t counting_pread(void *c, int fd, void *b, size_t n, off_t o) {
    if (fd >= 0 && fd < 4096 && seg_fd[fd])
        mgr_preads++;
    return log_io_posix.pread(c, fd, b, n, o);
}

TEST(cleaner_swap_adopts_worker_built_indexes) {
    const char *dir = test_tmpdir();
    log_config cfg = compact_cfg(4096);
    cfg.index_interval_bytes = 100; /* many entries */
    log_io io = *nosync_io();
    io.pread = counting_pread;
    io.open = counting_open;
    io.dup = counting_dup;
    log_manager *m = open_dir(dir, &io, &cfg);
    int16_t err;
    log_partition *p = log_create(m, "adopt", 0, NULL, &cfg, &err);
    for (int v = 0; v < 10; v++)
        for (int k = 0; k < 200; k += 4)
            put_batch(p, k + (v & 1), 4, v, v % 3 == 2 ? 1 /* gzip */ : 0);
    /* other keys after them: the newest values above get cleaned */
    for (int k = 1000; k < 1040; k += 4)
        put_batch(p, k, 4, 0, 0);
    CHECK(log_segment_count(p) > 6);
    log_cleaner *c = new_cleaner(m, 1 << 20, NULL); /* worker: not counted */
    mgr_preads = 0;
    CHECK(log_cleaner_run_until_idle(c) >= 1);
    long loop_reads = mgr_preads;
    log_cleaner_stats st;
    log_cleaner_get_stats(c, &st);
    CHECK(st.segments_swapped >= 1);
    CHECK_EQ(st.aborted_passes, 0);
    /* the loop's swaps (and everything else it did) read no segment */
    CHECK_EQ(loop_reads, 0);
    fprintf(stderr, "  %lld group(s) swapped, longest swap %lld us\n",
            (long long)st.segments_swapped, (long long)st.swap_us_max);
    int nseg = log_segment_count(p);
    enum { MAXS = 64 };
    CHECK(nseg <= MAXS);
    int64_t bases[MAXS];
    uint8_t *files[MAXS][2];
    int64_t lens[MAXS][2];
    int entries = 0;
    for (int i = 0; i < nseg - 1 && i < MAXS; i++) {
        log_segment_info si;
        log_segment_get(p, i, &si);
        bases[i] = si.base;
        for (int k = 0; k < 2; k++) {
            char fp[4200];
            snprintf(fp, sizeof fp, "%s/adopt-0/%020lld%s", dir,
                     (long long)si.base, k ? ".timeindex" : ".index");
            files[i][k] = slurp(fp, &lens[i][k]);
            CHECK(lens[i][k] >= 0);
            entries += lens[i][k] > 0;
        }
    }
    CHECK(entries > 2);
    /* reads through the adopted indexes */
    scan s;
    scan_log(p, &s);
    CHECK(s.ok && s.ordered);
    free(s.r);
    log_cleaner_free(c);
    log_manager_close(m);
    /* remove the index files: the next open rebuilds them from the .log */
    for (int i = 0; i < nseg - 1; i++)
        for (int k = 0; k < 2; k++) {
            char fp[4200];
            snprintf(fp, sizeof fp, "%s/adopt-0/%020lld%s", dir,
                     (long long)bases[i], k ? ".timeindex" : ".index");
            CHECK_EQ(unlink(fp), 0);
        }
    m = open_dir(dir, NULL, &cfg);
    p = log_get(m, "adopt", 0);
    CHECK(p != NULL);
    scan_log(p, &s);
    CHECK(s.ok && s.ordered);
    free(s.r);
    log_manager_close(m);
    for (int i = 0; i < nseg - 1; i++)
        for (int k = 0; k < 2; k++) {
            char fp[4200];
            snprintf(fp, sizeof fp, "%s/adopt-0/%020lld%s", dir,
                     (long long)bases[i], k ? ".timeindex" : ".index");
            int64_t rl;
            uint8_t *rebuilt = slurp(fp, &rl);
            if (rl < 0 && lens[i][k] == 0)
                rl = 0; /* an empty segment needs no index files */
            CHECK_EQ(rl, lens[i][k]);
            CHECK(rl <= 0 || rl != lens[i][k] ||
                  memcmp(rebuilt, files[i][k], (size_t)rl) == 0);
            free(rebuilt);
            free(files[i][k]);
        }
    bool ok = true;
    char pd[4200];
    snprintf(pd, sizeof pd, "%s/adopt-0", dir);
    check_index_files(pd, &ok);
    CHECK(ok);
}

/* Transactions: records of an aborted transaction go; its ABORT marker stays
 * while its data does, then (a pass later) gets a delete horizon and goes
 * once that is over; committed transactional records stay. */
TEST(cleaner_aborted_txn_and_markers) {
    clk_manual mc = {1000000000LL, 1700000000000LL};
    clk_manual_install(&mc);
    const char *dir = test_tmpdir();
    log_config cfg = compact_cfg(1024);
    cfg.delete_retention_ms = 10000;
    log_manager *m = open_dir(dir, NULL, &cfg);
    int16_t err;
    log_partition *p = log_create(m, "txn", 0, NULL, &cfg, &err);
    put_batch(p, 0, 4, 1, 0); /* k0..k3 = v1 */
    /* producer 7: transactional k0, k1 = "aborted", then ABORT */
    batch_builder b;
    batch_builder_init(&b, 0, 0);
    batch_builder_set_producer(&b, 7, 0, 0);
    batch_builder_set_transactional(&b, true);
    batch_builder_add(&b, clk_wall_ms(), "k0", 2, "aborted", 7, NULL, 0);
    batch_builder_add(&b, clk_wall_ms(), "k1", 2, "aborted", 7, NULL, 0);
    buf out;
    buf_init(&out, 0);
    CHECK_EQ(batch_builder_finish(&b, &out), 0);
    batch_builder_free(&b);
    log_append_info ai;
    CHECK_EQ(log_append(p, out.data, out.len, 0, LOG_ORIGIN_CLIENT, &ai), 0);
    int64_t txn_first = ai.base_offset;
    buf_reset(&out);
    batch_build_control(&out, 7, 0, BATCH_CONTROL_ABORT, 0, clk_wall_ms());
    CHECK_EQ(log_append(p, out.data, out.len, 0, LOG_ORIGIN_COORDINATOR, &ai),
             0);
    int64_t marker = ai.base_offset;
    char pdir[4096];
    snprintf(pdir, sizeof pdir, "%s/txn-0", dir);
    ps_aborted ab = {7, txn_first, marker, marker};
    CHECK_EQ(ps_txnindex_append(NULL, pdir, &ab), 0);
    /* producer 8: transactional k2 = "committed", then COMMIT */
    batch_builder_init(&b, 0, 0);
    batch_builder_set_producer(&b, 8, 0, 0);
    batch_builder_set_transactional(&b, true);
    batch_builder_add(&b, clk_wall_ms(), "k2", 2, "committed", 9, NULL, 0);
    buf_reset(&out);
    CHECK_EQ(batch_builder_finish(&b, &out), 0);
    batch_builder_free(&b);
    CHECK_EQ(log_append(p, out.data, out.len, 0, LOG_ORIGIN_CLIENT, &ai), 0);
    buf_reset(&out);
    batch_build_control(&out, 8, 0, BATCH_CONTROL_COMMIT, 0, clk_wall_ms());
    CHECK_EQ(log_append(p, out.data, out.len, 0, LOG_ORIGIN_COORDINATOR, &ai),
             0);
    buf_free(&out);
    for (int i = 0; i < 20; i++)
        put_batch(p, 100, 5, i, 0); /* filler: everything above rolls */
    log_set_high_watermark(p, log_end_offset(p));

    log_cleaner *c = new_cleaner(m, 1 << 20, NULL);
    log_cleaner_run_until_idle(c);
    scan s;
    scan_log(p, &s);
    CHECK(s.ok && s.ordered);
    const rec_ent *e = newest(&s, "k0");
    CHECK(e && !strcmp(e->value, "v0-1")); /* the aborted value is gone */
    e = newest(&s, "k2");
    CHECK(e && !strcmp(e->value, "committed"));
    int markers = 0;
    for (int i = 0; i < s.n; i++) {
        CHECK(strcmp(s.r[i].value, "aborted") != 0);
        if (s.r[i].control && s.r[i].offset == marker)
            markers++;
    }
    CHECK_EQ(markers, 1); /* kept: its transaction's data was just removed */
    free(s.r);

    /* next passes: the marker gets a horizon, then goes after it */
    for (int round = 0; round < 2; round++) {
        clk_manual_advance_ms(&mc, 11000); /* > delete.retention.ms */
        for (int i = 0; i < 20; i++)
            put_batch(p, 100, 5, 100 + 20 * round + i, 0);
        log_cleaner_run_until_idle(c);
    }
    scan_log(p, &s);
    CHECK(s.ok && s.ordered);
    markers = 0;
    for (int i = 0; i < s.n; i++)
        if (s.r[i].control && s.r[i].offset == marker)
            markers++;
    CHECK_EQ(markers, 0);
    e = newest(&s, "k0");
    CHECK(e && !strcmp(e->value, "v0-1"));
    free(s.r);
    log_cleaner_free(c);
    log_manager_close(m);
    clk_set(NULL);
}

/* ---- a gate in the worker's reads: the test decides when a pass moves on */
static atomic_int gate_open = 1, gate_waiting;
static ssize_t gated_pread(void *c, int fd, void *b, size_t n, off_t o) {
    while (!atomic_load(&gate_open)) {
        atomic_store(&gate_waiting, 1);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return log_io_posix.pread(c, fd, b, n, o);
}
static const log_io *gated_io(void) {
    static log_io io;
    io = *nosync_io();
    io.pread = gated_pread;
    return &io;
}
static log_cleaner *gated_cleaner(log_manager *m) {
    log_cleaner_opts o;
    log_cleaner_opts_default(&o);
    o.backoff_ms = 0;
    o.io = gated_io();
    atomic_store(&gate_open, 0);
    atomic_store(&gate_waiting, 0);
    return log_cleaner_new(m, &o);
}
/* Steps until the worker is parked in the gate (its pass has started). */
static bool wait_worker_parked(log_cleaner *c) {
    for (int i = 0; i < 5000 && !atomic_load(&gate_waiting); i++) {
        log_cleaner_step(c);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return atomic_load(&gate_waiting) != 0;
}
static void release_and_idle(log_cleaner *c) {
    atomic_store(&gate_open, 1);
    for (int i = 0; i < 2000 && log_cleaner_busy(c); i++) {
        log_cleaner_step(c);
        log_cleaner_wait(c, 10);
    }
}
static int count_files(const char *dir, const char *suffix) {
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "find '%s' -name '*%s' | wc -l", dir, suffix);
    FILE *f = popen(cmd, "r");
    int n = -1;
    if (f) {
        if (fscanf(f, "%d", &n) != 1)
            n = -1;
        pclose(f);
    }
    return n;
}

/* Topic deletion while a worker is in the middle of a pass: the loop
 * cancels the pass, nothing is swapped, no .cleaned file is left behind,
 * and a partition re-created under the same name is not touched by it. */
TEST(cleaner_pass_aborted_when_partition_deleted) {
    const char *dir = test_tmpdir();
    log_config cfg = compact_cfg(1024);
    log_manager *m = open_dir(dir, NULL, &cfg);
    int16_t err;
    log_partition *p = log_create(m, "gone", 0, NULL, &cfg, &err);
    for (int v = 0; v < 10; v++)
        put_batch(p, 0, 10, v, 0);
    log_cleaner *c = gated_cleaner(m);
    CHECK(wait_worker_parked(c));
    CHECK(log_cleaner_busy(c));
    CHECK_EQ(log_delete(m, p), 0);
    /* same name again, new topic id, new data */
    p = log_create(m, "gone", 0, NULL, &cfg, &err);
    CHECK(p != NULL);
    log_cleaner_step(c); /* the loop notices: cancel */
    release_and_idle(c);
    CHECK(!log_cleaner_busy(c));
    log_cleaner_stats st;
    log_cleaner_get_stats(c, &st);
    CHECK_EQ(st.aborted_passes, 1);
    CHECK_EQ(st.segments_swapped, 0);
    CHECK_EQ(count_files(dir, ".cleaned"), 0);
    CHECK_EQ(count_files(dir, ".swapend"), 0);
    CHECK_EQ(log_end_offset(p), 0);
    log_cleaner_free(c);
    log_manager_close(m);
}

/* DeleteRecords (and, the same way, retention) removing segments while a
 * worker cleans them: the result is discarded at swap time, the log stays
 * readable and consistent, and the next pass cleans what is left. */
TEST(cleaner_result_discarded_when_segments_deleted) {
    const char *dir = test_tmpdir();
    log_config cfg = compact_cfg(1024);
    log_manager *m = open_dir(dir, NULL, &cfg);
    int16_t err;
    log_partition *p = log_create(m, "dr", 0, NULL, &cfg, &err);
    for (int v = 0; v < 20; v++)
        put_batch(p, 0, 10, v, 0);
    put_batch(p, 500, 1, 0, 0);
    log_cleaner *c = gated_cleaner(m);
    CHECK(wait_worker_parked(c));
    int segs = log_segment_count(p);
    int64_t newstart = 0;
    CHECK_EQ(log_delete_records(p, 60, &newstart), 0);
    CHECK(log_segment_count(p) < segs);
    release_and_idle(c);
    log_cleaner_stats st;
    log_cleaner_get_stats(c, &st);
    CHECK_EQ(st.aborted_passes, 1);
    CHECK_EQ(count_files(dir, ".cleaned"), 0);
    CHECK_EQ(count_files(dir, ".swap"), 0);
    CHECK_EQ(count_files(dir, ".swapend"), 0);
    /* the next pass (started as soon as the aborted one was reaped) works
     * on what is left */
    log_cleaner_run_until_idle(c);
    log_cleaner_get_stats(c, &st);
    CHECK_EQ(st.aborted_passes, 1);
    CHECK(st.passes >= 1);
    scan s;
    scan_log(p, &s);
    CHECK(s.ok && s.ordered);
    CHECK(s.n > 0 && s.r[0].offset >= 60);
    log_segment_info act;
    log_segment_get(p, log_segment_count(p) - 1, &act);
    CHECK_EQ(dup_keys_below(&s, act.base), 0);
    const rec_ent *e = newest(&s, "k3");
    CHECK(e && !strcmp(e->value, "v3-19"));
    free(s.r);
    log_cleaner_free(c);
    log_manager_close(m);
}

/* While a worker writes, the loop keeps serving the log: reads from offset
 * 0 between steps always see ordered offsets and every key's newest value,
 * whether or not the swap has happened yet. */
TEST(cleaner_loop_reads_consistent_during_threaded_pass) {
    const char *dir = test_tmpdir();
    log_config cfg = compact_cfg(2048);
    log_manager *m = open_dir(dir, NULL, &cfg);
    int16_t err;
    log_partition *p = log_create(m, "rd", 0, NULL, &cfg, &err);
    enum { KEYS = 200, ROUNDS = 10 };
    for (int v = 0; v < ROUNDS; v++)
        for (int k = 0; k < KEYS; k += 10)
            put_batch(p, k, 10, v, v & 1 ? 4 : 0);
    put_batch(p, 1000, 1, 0, 0);
    log_cleaner *c = new_cleaner(m, 1 << 20, NULL);
    int reads = 0;
    bool ok = true;
    for (int i = 0; i < 20000; i++) {
        log_cleaner_step(c);
        scan s;
        scan_log(p, &s);
        ok = ok && s.ok && s.ordered;
        for (int k = 0; k < KEYS; k += 7) {
            char key[32], val[64];
            snprintf(key, sizeof key, "k%d", k);
            snprintf(val, sizeof val, "v%d-%d", k, ROUNDS - 1);
            const rec_ent *e = newest(&s, key);
            ok = ok && e && !strcmp(e->value, val);
        }
        free(s.r);
        reads++;
        log_cleaner_stats st;
        log_cleaner_get_stats(c, &st);
        if (st.passes >= 1 && !log_cleaner_busy(c))
            break;
    }
    CHECK(ok);
    CHECK(reads > 1);
    log_cleaner_stats st;
    log_cleaner_get_stats(c, &st);
    CHECK(st.passes >= 1);
    CHECK(st.segments_swapped >= 1);
    log_cleaner_free(c);
    log_manager_close(m);
}

/* log.cleaner.threads = 2: two partitions are cleaned at the same time,
 * each pass with half the dedupe buffer. */
TEST(cleaner_two_threads_two_partitions) {
    const char *dir = test_tmpdir();
    log_config cfg = compact_cfg(8192);
    log_manager *m = open_dir(dir, NULL, &cfg);
    int16_t err;
    log_partition *p[2];
    for (int i = 0; i < 2; i++) {
        p[i] = log_create(m, i ? "two-b" : "two-a", 0, NULL, &cfg, &err);
        for (int v = 0; v < 4; v++)
            for (int k = 0; k < 3000; k += 100)
                put_batch(p[i], k, 100, v, 3);
        put_batch(p[i], 9999, 1, 0, 0);
    }
    int64_t buffer = 2 * 1000 * 24; /* ~900 keys per thread and pass */
    log_cleaner_opts o;
    log_cleaner_opts_default(&o);
    o.backoff_ms = 0;
    o.dedupe_buffer_size = buffer;
    o.threads = 2;
    o.io = gated_io();
    atomic_store(&gate_open, 0);
    atomic_store(&gate_waiting, 0);
    log_cleaner *c = log_cleaner_new(m, &o);
    /* both workers get a pass before either can finish */
    log_cleaner_step(c);
    int running = 0;
    for (int i = 0; i < 2; i++)
        running += log_cleaner_checkpoint_of(c, p[i]) < 0;
    CHECK(log_cleaner_busy(c));
    atomic_store(&gate_open, 1);
    int passes = log_cleaner_run_until_idle(c);
    log_cleaner_stats st;
    log_cleaner_get_stats(c, &st);
    CHECK(passes >= 6); /* 3000 keys, ~900 a pass, two partitions */
    CHECK(st.map_max_bytes <= (size_t)buffer / 2);
    CHECK_EQ(st.aborted_passes, 0);
    CHECK_EQ(running, 2);
    for (int i = 0; i < 2; i++) {
        scan s;
        scan_log(p[i], &s);
        CHECK(s.ok && s.ordered);
        log_segment_info act;
        log_segment_get(p[i], log_segment_count(p[i]) - 1, &act);
        CHECK_EQ(dup_keys_below(&s, act.base), 0);
        const rec_ent *e = newest(&s, "k2999");
        CHECK(e && !strcmp(e->value, "v2999-3"));
        free(s.r);
    }
    log_cleaner_free(c);
    log_manager_close(m);
}

/* log.cleaner.io.max.bytes.per.second bounds read+write I/O of the workers
 * together. */
TEST(cleaner_io_throttle) {
    const char *dir = test_tmpdir();
    log_config cfg = compact_cfg(64 << 10);
    log_manager *m = open_dir(dir, NULL, &cfg);
    int16_t err;
    log_partition *p = log_create(m, "thr", 0, NULL, &cfg, &err);
    for (int v = 0; v < 3; v++)
        for (int k = 0; k < 6000; k += 100)
            put_batch(p, k, 100, v, 0);
    put_batch(p, 9999, 1, 0, 0);
    log_cleaner_opts o;
    log_cleaner_opts_default(&o);
    o.backoff_ms = 0;
    o.io = nosync_io();
    o.io_max_bytes_per_second = 1 << 20;
    log_cleaner *c = log_cleaner_new(m, &o);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(log_cleaner_run_until_idle(c) >= 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) +
                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    log_cleaner_stats st;
    log_cleaner_get_stats(c, &st);
    double bytes = (double)(st.bytes_read + st.bytes_written);
    CHECK(bytes > 400000);
    /* one 100 ms window may pass unthrottled */
    fprintf(stderr, "  %.0f bytes in %.2f s at 1 MiB/s\n", bytes, secs);
    CHECK(secs >= bytes / (1 << 20) - 0.15);
    if (0)
        fprintf(stderr, "  %.0f bytes in %.2f s at 1 MiB/s\n", bytes, secs);
    log_cleaner_free(c);
    log_manager_close(m);
}

/* log.cleaner.threads is dynamic (as in Kafka): a new count applies once the
 * running passes end; 0 stops cleaning. */
TEST(cleaner_threads_resized_at_runtime) {
    const char *dir = test_tmpdir();
    log_config cfg = compact_cfg(1024);
    log_manager *m = open_dir(dir, NULL, &cfg);
    int16_t err;
    log_partition *p[2];
    for (int i = 0; i < 2; i++) {
        p[i] = log_create(m, i ? "rs-b" : "rs-a", 0, NULL, &cfg, &err);
        for (int v = 0; v < 10; v++)
            put_batch(p[i], 0, 10, v, 0);
    }
    log_cleaner *c = gated_cleaner(m); /* one thread */
    log_cleaner_stats st;
    log_cleaner_get_stats(c, &st);
    CHECK_EQ(st.threads, 1);
    log_cleaner_opts o;
    log_cleaner_opts_default(&o);
    o.backoff_ms = 0;
    o.io = gated_io();
    o.threads = 3;
    log_cleaner_set_opts(c, &o);
    log_cleaner_step(c);
    log_cleaner_get_stats(c, &st);
    CHECK_EQ(st.threads, 3);
    CHECK_EQ(st.running_passes, 2); /* both partitions at once */
    o.threads = 0;
    log_cleaner_set_opts(c, &o);
    log_cleaner_step(c);
    log_cleaner_get_stats(c, &st);
    CHECK_EQ(st.threads, 3); /* not while passes run */
    atomic_store(&gate_open, 1);
    for (int i = 0; i < 2000 && log_cleaner_busy(c); i++) {
        log_cleaner_step(c);
        log_cleaner_wait(c, 10);
    }
    log_cleaner_step(c);
    log_cleaner_get_stats(c, &st);
    CHECK_EQ(st.threads, 0);
    CHECK_EQ(st.passes, 2);
    /* no threads: nothing more is cleaned */
    for (int v = 10; v < 20; v++)
        put_batch(p[0], 0, 10, v, 0);
    CHECK_EQ(log_cleaner_run_until_idle(c), 0);
    log_cleaner_free(c);
    log_manager_close(m);
}

/* ---- the executor of the environment (core/env.h) -------------------------
 * Under an inline executor (the simulator's) a pass runs inside
 * log_cleaner_step on the calling thread: no cleaner thread exists, and the
 * result equals the threaded one. */
static _Atomic int off_thread_writes;
static pthread_t inline_thread;
static ssize_t thread_pwrite(void *c, int fd, const void *b, size_t n,
                             off_t o) {
    (void)c;
    if (!pthread_equal(pthread_self(), inline_thread))
        atomic_fetch_add(&off_thread_writes, 1);
    return pwrite(fd, b, n, o);
}

TEST(cleaner_inline_executor_runs_passes_on_the_loop) {
    const char *dir = test_tmpdir();
    log_config cfg = compact_cfg(4096);
    static log_io io;
    io = *nosync_io();
    io.pwrite = thread_pwrite;
    inline_thread = pthread_self();
    atomic_store(&off_thread_writes, 0);
    sl_env env = {.name = "inline", .exec = &sl_exec_inline};
    const sl_env *prev = sl_env_enter(&env);
    log_manager *m = open_dir(dir, &io, &cfg);
    int16_t err;
    log_partition *p = log_create(m, "inl", 0, NULL, &cfg, &err);
    for (int v = 0; v < 8; v++)
        for (int k = 0; k < 50; k += 10)
            put_batch(p, k, 10, v, 0);
    int64_t before = log_size_bytes(p), leo = log_end_offset(p);
    log_cleaner *c = new_cleaner(m, 1 << 20, &io);
    /* one step: the pass is picked and runs to its end inside it */
    log_cleaner_step(c);
    log_cleaner_stats st;
    log_cleaner_get_stats(c, &st);
    CHECK_EQ(st.running_passes, 1); /* done, waiting for the loop's swap */
    CHECK(log_cleaner_run_until_idle(c) >= 0);
    log_cleaner_get_stats(c, &st);
    CHECK(st.passes >= 1);
    CHECK(st.records_removed > 0);
    CHECK_EQ(st.aborted_passes, 0);
    CHECK(log_size_bytes(p) < before);
    CHECK_EQ(log_end_offset(p), leo);
    CHECK_EQ(atomic_load(&off_thread_writes), 0); /* all on this thread */
    log_cleaner_free(c);
    log_manager_close(m);
    sl_env_leave(prev);
}
