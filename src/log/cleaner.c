/*
 * cleaner.c - log compaction (see cleaner.h for the algorithm, the crash-safe
 * swap and why it runs as incremental steps on the broker loop).
 *
 * INVARIANTS
 *  1. A pass never touches the active segment: groups are made only of
 *     segments below the first uncleanable offset, which is at most the
 *     active segment's base.
 *  2. Offsets never change: every written batch keeps its baseOffset and
 *     lastOffsetDelta, records keep their offset deltas; batches stay in
 *     order. So a group's cleaned file covers exactly the offsets of the
 *     group and can replace it.
 *  3. The offset map holds at most max_entries keys in nslots*24 bytes,
 *     both fixed when the pass starts from log.cleaner.dedupe.buffer.size;
 *     nothing else grows with the number of keys (one batch and its
 *     decompressed records are buffered at a time, plus the output buffer,
 *     flushed at 1 MiB).
 *  4. Before a step touches the log it checks that the partition still
 *     exists (same topic id) and that the group's segments are unchanged
 *     (bases and sizes); otherwise the pass is dropped and its .cleaned
 *     files removed. The checkpoint only moves after a whole pass.
 */
#include "cleaner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "compress.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "producer_state.h"

#define MOD "log-cleaner"
#define CKPT_NAME "cleaner-offset-checkpoint"
#define SLOT_BYTES 24
#define OUT_FLUSH (1u << 20)
#define READ_CHUNK (1u << 20)
#define MAX_BATCH (64u << 20)
#define MAX_PLAIN (256u << 20)

#define IOC(io, op, ...) ((io)->op((io)->ctx, __VA_ARGS__))

/* ---- options --------------------------------------------------------------
 */
void log_cleaner_opts_default(log_cleaner_opts *o) {
    memset(o, 0, sizeof(*o));
    o->dedupe_buffer_size = 134217728;
    o->threads = 1;
    o->load_factor = 0.9;
    o->backoff_ms = 15000;
    o->io_max_bytes_per_second = 0;
    o->step_budget_ms = 20;
    o->step_budget_bytes = 8 << 20;
}

/* ---- offset map: 128-bit key hash (MurmurHash3 x64_128) -> offset
 * ------------ */
struct log_cleaner_slot {
    uint64_t h1, h2;
    int64_t offset; /* -1: empty */
};

static inline uint64_t rotl64(uint64_t x, int r) {
    return (x << r) | (x >> (64 - r));
}
static inline uint64_t fmix64(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static void murmur3_128(const void *key, size_t len, uint64_t *o1,
                        uint64_t *o2) {
    const uint8_t *data = key;
    size_t nblocks = len / 16;
    uint64_t h1 = 0x9747b28c, h2 = 0x9747b28c;
    const uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
    for (size_t i = 0; i < nblocks; i++) {
        uint64_t k1, k2;
        memcpy(&k1, data + i * 16, 8);
        memcpy(&k2, data + i * 16 + 8, 8);
        k1 *= c1;
        k1 = rotl64(k1, 31);
        k1 *= c2;
        h1 ^= k1;
        h1 = rotl64(h1, 27);
        h1 += h2;
        h1 = h1 * 5 + 0x52dce729;
        k2 *= c2;
        k2 = rotl64(k2, 33);
        k2 *= c1;
        h2 ^= k2;
        h2 = rotl64(h2, 31);
        h2 += h1;
        h2 = h2 * 5 + 0x38495ab5;
    }
    const uint8_t *tail = data + nblocks * 16;
    uint64_t k1 = 0, k2 = 0;
    switch (len & 15) {
    case 15:
        k2 ^= (uint64_t)tail[14] << 48; /* fallthrough */
    case 14:
        k2 ^= (uint64_t)tail[13] << 40; /* fallthrough */
    case 13:
        k2 ^= (uint64_t)tail[12] << 32; /* fallthrough */
    case 12:
        k2 ^= (uint64_t)tail[11] << 24; /* fallthrough */
    case 11:
        k2 ^= (uint64_t)tail[10] << 16; /* fallthrough */
    case 10:
        k2 ^= (uint64_t)tail[9] << 8; /* fallthrough */
    case 9:
        k2 ^= (uint64_t)tail[8];
        k2 *= c2;
        k2 = rotl64(k2, 33);
        k2 *= c1;
        h2 ^= k2;
        /* fallthrough */
    case 8:
        k1 ^= (uint64_t)tail[7] << 56; /* fallthrough */
    case 7:
        k1 ^= (uint64_t)tail[6] << 48; /* fallthrough */
    case 6:
        k1 ^= (uint64_t)tail[5] << 40; /* fallthrough */
    case 5:
        k1 ^= (uint64_t)tail[4] << 32; /* fallthrough */
    case 4:
        k1 ^= (uint64_t)tail[3] << 24; /* fallthrough */
    case 3:
        k1 ^= (uint64_t)tail[2] << 16; /* fallthrough */
    case 2:
        k1 ^= (uint64_t)tail[1] << 8; /* fallthrough */
    case 1:
        k1 ^= (uint64_t)tail[0];
        k1 *= c1;
        k1 = rotl64(k1, 31);
        k1 *= c2;
        h1 ^= k1;
        break;
    default:
        break;
    }
    h1 ^= (uint64_t)len;
    h2 ^= (uint64_t)len;
    h1 += h2;
    h2 += h1;
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 += h2;
    h2 += h1;
    *o1 = h1;
    *o2 = h2;
}

void log_cleaner_map_init(log_cleaner_map *m, size_t memory_bytes,
                          double load_factor, size_t need_entries) {
    memset(m, 0, sizeof(*m));
    if (load_factor <= 0 || load_factor > 1)
        load_factor = 0.9;
    size_t slots = memory_bytes / SLOT_BYTES;
    size_t want = (size_t)((double)need_entries / load_factor) + 16;
    if (want < slots)
        slots = want;
    if (slots < 2)
        slots = 2;
    m->nslots = slots;
    m->max_entries = (size_t)((double)slots * load_factor);
    if (m->max_entries < 1)
        m->max_entries = 1;
    m->slots = xmalloc(slots * sizeof(*m->slots));
    for (size_t i = 0; i < slots; i++)
        m->slots[i].offset = -1;
    m->latest_offset = -1;
}

void log_cleaner_map_free(log_cleaner_map *m) {
    free(m->slots);
    m->slots = NULL;
    m->nslots = m->n = 0;
}

size_t log_cleaner_map_bytes(const log_cleaner_map *m) {
    return m->nslots * sizeof(*m->slots);
}

static struct log_cleaner_slot *map_find(log_cleaner_map *m, uint64_t h1,
                                         uint64_t h2) {
    size_t i = (size_t)(h1 % m->nslots);
    m->lookups++;
    for (;;) {
        struct log_cleaner_slot *s = &m->slots[i];
        m->probes++;
        if (s->offset < 0 || (s->h1 == h1 && s->h2 == h2))
            return s;
        if (++i == m->nslots)
            i = 0;
    }
}

bool log_cleaner_map_put(log_cleaner_map *m, const void *key, size_t len,
                         int64_t offset) {
    uint64_t h1, h2;
    murmur3_128(key, len, &h1, &h2);
    struct log_cleaner_slot *s = map_find(m, h1, h2);
    if (s->offset < 0) {
        if (m->n >= m->max_entries)
            return false; /* n < nslots always: probing terminates */
        s->h1 = h1;
        s->h2 = h2;
        m->n++;
    }
    s->offset = offset;
    if (offset > m->latest_offset)
        m->latest_offset = offset;
    return true;
}

int64_t log_cleaner_map_get(log_cleaner_map *m, const void *key, size_t len) {
    uint64_t h1, h2;
    murmur3_128(key, len, &h1, &h2);
    struct log_cleaner_slot *s = map_find(m, h1, h2);
    return s->offset;
}

/* ---- small file helpers
 * ------------------------------------------------------ */
static void fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static bool write_all_io(const log_io *io, int fd, const void *p, size_t n,
                         off_t off) {
    const uint8_t *b = p;
    while (n) {
        ssize_t w = IOC(io, pwrite, fd, b, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        b += w;
        n -= (size_t)w;
        off += w;
    }
    return true;
}

static ssize_t read_full_io(const log_io *io, int fd, void *p, size_t n,
                            off_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t r =
            IOC(io, pread, fd, (uint8_t *)p + got, n - got, off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static bool file_exists(const char *p) {
    return access(p, F_OK) == 0;
}

static bool write_small_atomic(const log_io *io, const char *path,
                               const void *d, size_t n) {
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = IOC(io, open, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return false;
    bool ok = write_all_io(io, fd, d, n, 0) && IOC(io, fsync, fd) == 0;
    IOC(io, close, fd);
    if (!ok || IOC(io, rename, tmp, path) != 0) {
        IOC(io, unlink, tmp);
        return false;
    }
    return true;
}

static void seg_name(char *out, size_t n, const char *dir, int64_t base,
                     const char *ext) {
    snprintf(out, n, "%s/%020" PRId64 "%s", dir, base, ext);
}

/* ---- swap (crash-safe replacement) -----------------------------------------
 */
int log_cleaner_swap_in(const log_io *io, const char *dir, const int64_t *bases,
                        int n, int64_t end, const char *cleaned_log,
                        const char *cleaned_txnindex) {
    if (!io)
        io = &log_io_posix;
    int64_t base = bases[0];
    char ep[4200], ls[4200], lp[4200], ts[4200], tp[4200];
    seg_name(ep, sizeof ep, dir, base, ".swapend");
    seg_name(lp, sizeof lp, dir, base, ".log");
    seg_name(ls, sizeof ls, dir, base, ".log.swap");
    seg_name(tp, sizeof tp, dir, base, ".txnindex");
    seg_name(ts, sizeof ts, dir, base, ".txnindex.swap");
    char txt[32];
    int tl = snprintf(txt, sizeof txt, "%" PRId64 "\n", end);
    /* 1. the group's end, for recovery (the cleaned data may end earlier) */
    if (!write_small_atomic(io, ep, txt, (size_t)tl))
        return -1;
    /* 2. .cleaned -> .swap; the .log.swap rename is the commit point */
    if (cleaned_txnindex && IOC(io, rename, cleaned_txnindex, ts) != 0)
        return -1;
    if (IOC(io, rename, cleaned_log, ls) != 0)
        return -1;
    fsync_dir(dir);
    /* 3. old files go (the first segment's .log is replaced by rename) */
    static const char *idx_exts[] = {".index", ".timeindex", ".txnindex"};
    for (int i = n - 1; i >= 0; i--) {
        char p[4200];
        for (size_t k = 0; k < SL_ARRAY_LEN(idx_exts); k++) {
            seg_name(p, sizeof p, dir, bases[i], idx_exts[k]);
            if (IOC(io, unlink, p) != 0 && errno != ENOENT)
                return -1;
        }
        if (i > 0) {
            seg_name(p, sizeof p, dir, bases[i], ".log");
            if (IOC(io, unlink, p) != 0 && errno != ENOENT)
                return -1;
        }
    }
    /* 4. .swap -> final names */
    if (cleaned_txnindex && IOC(io, rename, ts, tp) != 0)
        return -1;
    if (IOC(io, rename, ls, lp) != 0)
        return -1;
    fsync_dir(dir);
    IOC(io, unlink, ep);
    return 0;
}

static bool parse_seg_file(const char *name, const char *ext, int64_t *base) {
    size_t el = strlen(ext);
    if (strlen(name) != 20 + el || strcmp(name + 20, ext))
        return false;
    char *e;
    long long b = strtoll(name, &e, 10);
    if (e != name + 20 || b < 0)
        return false;
    *base = b;
    return true;
}

void log_cleaner_recover_dir(const log_io *io, const char *dir) {
    if (!io)
        io = &log_io_posix;
    DIR *d = opendir(dir);
    if (!d)
        return;
    int64_t *swaps = NULL;
    int ns = 0;
    int64_t *logs = NULL;
    int nl = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        int64_t b;
        if (parse_seg_file(de->d_name, ".swapend", &b)) {
            swaps = xrealloc(swaps, sizeof(*swaps) * (size_t)(ns + 1));
            swaps[ns++] = b;
        } else if (parse_seg_file(de->d_name, ".log", &b)) {
            logs = xrealloc(logs, sizeof(*logs) * (size_t)(nl + 1));
            logs[nl++] = b;
        }
    }
    closedir(d);
    for (int i = 0; i < ns; i++) {
        int64_t base = swaps[i];
        char ep[4200], ls[4200], lp[4200], ts[4200], tp[4200];
        seg_name(ep, sizeof ep, dir, base, ".swapend");
        seg_name(lp, sizeof lp, dir, base, ".log");
        seg_name(ls, sizeof ls, dir, base, ".log.swap");
        seg_name(tp, sizeof tp, dir, base, ".txnindex");
        seg_name(ts, sizeof ts, dir, base, ".txnindex.swap");
        int fd = open(ep, O_RDONLY | O_CLOEXEC);
        char txt[64] = {0};
        int64_t end = -1;
        if (fd >= 0) {
            ssize_t r = read(fd, txt, sizeof(txt) - 1);
            close(fd);
            if (r > 0)
                end = strtoll(txt, NULL, 10);
        }
        if (file_exists(ls) && end > base) {
            /* committed: finish it */
            SL_WARN(MOD,
                    "Completing an interrupted log cleaner swap in %s "
                    "(segment %" PRId64 ", end %" PRId64 ")",
                    dir, base, end);
            for (int k = 0; k < nl; k++) {
                if (logs[k] < base || logs[k] >= end)
                    continue;
                static const char *exts[] = {".index", ".timeindex",
                                             ".txnindex", ".log"};
                for (size_t x = 0; x < SL_ARRAY_LEN(exts); x++) {
                    if (logs[k] == base && x == 3)
                        continue;
                    char p[4200];
                    seg_name(p, sizeof p, dir, logs[k], exts[x]);
                    IOC(io, unlink, p);
                }
            }
            if (file_exists(ts))
                IOC(io, rename, ts, tp);
            IOC(io, rename, ls, lp);
        } else {
            /* not committed (or nothing to do): roll back */
            IOC(io, unlink, ts);
            IOC(io, unlink, ls);
        }
        fsync_dir(dir);
        IOC(io, unlink, ep);
    }
    free(swaps);
    free(logs);
}

/* ---- checkpoint
 * ---------------------------------------------------------------- */
typedef struct ckpt_ent {
    char *topic;
    int32_t partition;
    int64_t offset;
} ckpt_ent;

/* ---- transaction bookkeeping (Kafka's CleanedTransactionMetadata)
 * ------------- */
typedef struct ongoing_abort {
    int64_t pid;
    bool observed; /* a batch of it was seen (and discarded) */
} ongoing_abort;

typedef struct txn_meta {
    ps_aborted *ab; /* sorted by first offset */
    int nab, iab;
    ongoing_abort *oa;
    int noa, capoa;
    int64_t *committed;
    int ncom, capcom;
} txn_meta;

static int cmp_first(const void *a, const void *b) {
    const ps_aborted *x = a, *y = b;
    return x->first_offset < y->first_offset
               ? -1
               : x->first_offset > y->first_offset;
}

static void txn_meta_init(txn_meta *t, const ps_aborted *all, int n, int64_t lo,
                          int64_t hi) {
    memset(t, 0, sizeof(*t));
    t->ab = xmalloc(sizeof(*t->ab) * (size_t)(n + 1));
    for (int i = 0; i < n; i++)
        if (all[i].last_offset >= lo && all[i].first_offset < hi)
            t->ab[t->nab++] = all[i];
    qsort(t->ab, (size_t)t->nab, sizeof(*t->ab), cmp_first);
}

static void txn_meta_free(txn_meta *t) {
    free(t->ab);
    free(t->oa);
    free(t->committed);
    memset(t, 0, sizeof(*t));
}

static int oa_find(txn_meta *t, int64_t pid) {
    for (int i = 0; i < t->noa; i++)
        if (t->oa[i].pid == pid)
            return i;
    return -1;
}

static void consume_upto(txn_meta *t, int64_t offset) {
    while (t->iab < t->nab && t->ab[t->iab].first_offset <= offset) {
        int64_t pid = t->ab[t->iab++].producer_id;
        if (oa_find(t, pid) >= 0)
            continue;
        if (t->noa == t->capoa) {
            t->capoa = t->capoa ? t->capoa * 2 : 8;
            t->oa = xrealloc(t->oa, sizeof(*t->oa) * (size_t)t->capoa);
        }
        t->oa[t->noa++] = (ongoing_abort){pid, false};
    }
}

/* Data batch: true if it belongs to an aborted transaction (discard). */
static bool txn_on_batch(txn_meta *t, const log_batch_header *h) {
    consume_upto(t, batch_last_offset(h));
    if (!batch_is_transactional(h))
        return false;
    int i = oa_find(t, h->producer_id);
    if (i >= 0) {
        t->oa[i].observed = true;
        return true;
    }
    for (int k = 0; k < t->ncom; k++)
        if (t->committed[k] == h->producer_id)
            return false;
    if (t->ncom == t->capcom) {
        t->capcom = t->capcom ? t->capcom * 2 : 8;
        t->committed =
            xrealloc(t->committed, sizeof(int64_t) * (size_t)t->capcom);
    }
    t->committed[t->ncom++] = h->producer_id;
    return false;
}

/* Control batch of type `type` (-1: empty batch): true if the marker may be
 * discarded (once past its delete horizon). */
static bool txn_on_control(txn_meta *t, const log_batch_header *h, int type) {
    consume_upto(t, batch_last_offset(h));
    if (type < 0)
        return true;
    if (type == BATCH_CONTROL_ABORT) {
        int i = oa_find(t, h->producer_id);
        if (i < 0)
            return true;
        bool observed = t->oa[i].observed;
        t->oa[i] = t->oa[--t->noa];
        return !observed; /* keep it while data of the txn is kept */
    }
    if (type == BATCH_CONTROL_COMMIT) {
        for (int k = 0; k < t->ncom; k++)
            if (t->committed[k] == h->producer_id) {
                t->committed[k] = t->committed[--t->ncom];
                return false;
            }
        return true;
    }
    return false;
}

/* ---- cleaner state
 * ---------------------------------------------------------------- */
typedef struct seg_ref {
    int64_t base, end, size;
} seg_ref;

typedef struct producer_last {
    int64_t pid;
    int64_t last_data_offset; /* -1: only a marker */
    int16_t epoch;
} producer_last;

enum { PH_MAP = 1, PH_CLEAN = 2 };

typedef struct job {
    char *topic;
    int32_t partition;
    uint8_t topic_id[16];
    log_partition *part;
    char *dir;
    int phase;
    int64_t first_dirty, uncleanable, map_end;
    int64_t now; /* wall clock at pass start (horizons) */
    int64_t delete_retention_ms;
    log_cleaner_map map;
    ps_aborted *aborted;
    int naborted;
    producer_last *plast;
    int nplast;
    txn_meta map_txn;
    /* segments (non-active, base < map_end / uncleanable) at pass start */
    seg_ref *segs;
    int nsegs;
    /* cursor: segment index in segs and byte position */
    int cur_seg;
    int64_t cur_pos;
    int rfd;             /* open .log of segs[cur_seg], -1 */
    buf rbuf;            /* read window */
    int64_t rbuf_pos;    /* file position of rbuf.data[0] */
    buf plain, rec, out; /* scratch */
    /* current group (PH_CLEAN) */
    int g_first, g_count; /* indexes into segs */
    int ofd;              /* .cleaned fd */
    int64_t opos;
    char *cleaned_path;
    txn_meta g_txn;
    bool map_full;
} job;

struct log_cleaner {
    log_manager *mgr;
    log_cleaner_opts o;
    const log_io *io;
    ckpt_ent *ck;
    int nck, capck;
    job *job;
    log_cleaner_stats st;
    int64_t step_bytes;
};

static ckpt_ent *ck_find(const log_cleaner *c, const char *topic, int32_t p) {
    for (int i = 0; i < c->nck; i++)
        if (c->ck[i].partition == p && !strcmp(c->ck[i].topic, topic))
            return &c->ck[i];
    return NULL;
}

static void ck_set(log_cleaner *c, const char *topic, int32_t p, int64_t off) {
    ckpt_ent *e = ck_find(c, topic, p);
    if (!e) {
        if (c->nck == c->capck) {
            c->capck = c->capck ? c->capck * 2 : 16;
            c->ck = xrealloc(c->ck, sizeof(*c->ck) * (size_t)c->capck);
        }
        e = &c->ck[c->nck++];
        e->topic = xstrdup(topic);
        e->partition = p;
    }
    e->offset = off;
}

static void ck_load(log_cleaner *c, const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, CKPT_NAME);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char line[512];
    int ver = -1, n = 0;
    if (fgets(line, sizeof line, f))
        ver = atoi(line);
    if (ver == 0 && fgets(line, sizeof line, f))
        n = atoi(line);
    for (int i = 0; ver == 0 && i < n && fgets(line, sizeof line, f); i++) {
        char topic[256];
        int32_t p;
        int64_t off;
        if (sscanf(line, "%255s %d %" SCNd64, topic, &p, &off) == 3)
            ck_set(c, topic, p, off);
    }
    fclose(f);
}

typedef struct ck_write_ctx {
    log_cleaner *c;
    const char *dir;
    buf *body;
    int n;
} ck_write_ctx;

static void ck_write_one(void *ctx, log_partition *part) {
    ck_write_ctx *w = ctx;
    if (strcmp(log_dir_path(part), w->dir))
        return;
    ckpt_ent *e = ck_find(w->c, log_topic(part), log_partition_id(part));
    if (!e)
        return;
    buf_printf(w->body, "%s %d %" PRId64 "\n", e->topic, e->partition,
               e->offset);
    w->n++;
}

static void ck_write(log_cleaner *c) {
    for (int d = 0; d < log_manager_n_dirs(c->mgr); d++) {
        buf body, all;
        buf_init(&body, 256);
        buf_init(&all, 256);
        ck_write_ctx w = {c, log_manager_dir(c->mgr, d), &body, 0};
        log_manager_foreach(c->mgr, ck_write_one, &w);
        buf_printf(&all, "0\n%d\n", w.n);
        buf_put(&all, body.data, body.len);
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", w.dir, CKPT_NAME);
        if (!write_small_atomic(c->io, path, all.data, all.len))
            SL_WARN(MOD, "cannot write %s: %s", path, strerror(errno));
        buf_free(&body);
        buf_free(&all);
    }
}

log_cleaner *log_cleaner_new(log_manager *mgr, const log_cleaner_opts *o) {
    log_cleaner *c = xcalloc(1, sizeof(*c));
    c->mgr = mgr;
    log_cleaner_set_opts(c, o);
    for (int d = 0; d < log_manager_n_dirs(mgr); d++)
        ck_load(c, log_manager_dir(mgr, d));
    return c;
}

void log_cleaner_set_opts(log_cleaner *c, const log_cleaner_opts *o) {
    if (o)
        c->o = *o;
    else
        log_cleaner_opts_default(&c->o);
    if (c->o.step_budget_ms <= 0)
        c->o.step_budget_ms = 20;
    if (c->o.step_budget_bytes <= 0)
        c->o.step_budget_bytes = 8 << 20;
    c->io = c->o.io ? c->o.io : &log_io_posix;
}

/* ---- job lifecycle
 * ---------------------------------------------------------------- */
static void reader_close(job *j, const log_io *io) {
    if (j->rfd >= 0)
        IOC(io, close, j->rfd);
    j->rfd = -1;
    buf_reset(&j->rbuf);
    j->rbuf_pos = 0;
}

static void job_free(log_cleaner *c, job *j, bool drop_files) {
    if (!j)
        return;
    reader_close(j, c->io);
    if (j->ofd >= 0)
        IOC(c->io, close, j->ofd);
    if (drop_files && j->cleaned_path) {
        IOC(c->io, unlink, j->cleaned_path);
        char tp[4200];
        seg_name(tp, sizeof tp, j->dir, j->segs[j->g_first].base,
                 ".txnindex.cleaned");
        IOC(c->io, unlink, tp);
    }
    log_cleaner_map_free(&j->map);
    txn_meta_free(&j->map_txn);
    txn_meta_free(&j->g_txn);
    buf_free(&j->rbuf);
    buf_free(&j->plain);
    buf_free(&j->rec);
    buf_free(&j->out);
    free(j->aborted);
    free(j->plast);
    free(j->segs);
    free(j->cleaned_path);
    free(j->topic);
    free(j->dir);
    free(j);
}

static void job_abort(log_cleaner *c, const char *why) {
    job *j = c->job;
    SL_INFO(MOD, "Cleaning of %s-%d aborted: %s", j->topic, j->partition, why);
    c->st.aborted_passes++;
    job_free(c, j, true);
    c->job = NULL;
}

void log_cleaner_free(log_cleaner *c) {
    if (!c)
        return;
    if (c->job) {
        job_free(c, c->job, true);
        c->job = NULL;
    }
    ck_write(c);
    for (int i = 0; i < c->nck; i++)
        free(c->ck[i].topic);
    free(c->ck);
    free(c);
}

bool log_cleaner_busy(const log_cleaner *c) {
    return c->job != NULL;
}

void log_cleaner_get_stats(const log_cleaner *c, log_cleaner_stats *out) {
    *out = c->st;
}

int64_t log_cleaner_checkpoint_of(const log_cleaner *c,
                                  const log_partition *part) {
    ckpt_ent *e = ck_find(c, log_topic(part), log_partition_id(part));
    return e ? e->offset : -1;
}

/* ---- choosing a log
 * ------------------------------------------------------------- */
typedef struct pick_ctx {
    log_cleaner *c;
    int64_t now;
    log_partition *best;
    double best_ratio;
    int64_t best_first_dirty, best_uncleanable;
} pick_ctx;

static int64_t first_unstable(log_cleaner *c, log_partition *part) {
    if (!c->o.producer_state)
        return -1;
    ps_state *ps = c->o.producer_state(c->o.ctx, part);
    return ps ? ps_first_unstable(ps) : -1;
}

static void pick_one(void *ctx, log_partition *part) {
    pick_ctx *pc = ctx;
    log_cleaner *c = pc->c;
    const log_config *cfg = log_get_config(part);
    if (!(cfg->cleanup_policy & LOG_CLEANUP_COMPACT) || log_is_failed(part))
        return;
    int n = log_segment_count(part);
    if (n < 2)
        return;
    int64_t start = log_start_offset(part), leo = log_end_offset(part);
    ckpt_ent *e = ck_find(c, log_topic(part), log_partition_id(part));
    int64_t first_dirty = e ? e->offset : start;
    if (first_dirty < start || first_dirty > leo)
        first_dirty = start; /* truncated or deleted and re-created */
    log_segment_info act;
    log_segment_get(part, n - 1, &act);
    int64_t unc = act.base;
    int64_t fu = first_unstable(c, part);
    if (fu >= 0 && fu < unc)
        unc = fu;
    int64_t hw = log_high_watermark(part);
    if (hw < unc)
        unc = hw;
    int64_t clean_bytes = 0, dirty_bytes = 0;
    int64_t first_dirty_ts = -1;
    bool lag_hit = false;
    for (int i = 0; i < n - 1; i++) {
        log_segment_info s;
        log_segment_get(part, i, &s);
        if (s.end_offset <= first_dirty) {
            clean_bytes += s.size;
            continue;
        }
        if (s.base >= unc)
            break;
        if (!lag_hit && cfg->min_compaction_lag_ms > 0 &&
            s.max_timestamp >= 0 &&
            s.max_timestamp > pc->now - cfg->min_compaction_lag_ms) {
            lag_hit = true;
            if (s.base < unc)
                unc = SL_MAX(s.base, first_dirty);
            break;
        }
        if (first_dirty_ts < 0)
            first_dirty_ts = s.first_batch_timestamp;
        dirty_bytes += s.size;
    }
    if (unc <= first_dirty || dirty_bytes <= 0)
        return;
    double ratio = (double)dirty_bytes / (double)(clean_bytes + dirty_bytes);
    bool need_now = cfg->max_compaction_lag_ms != INT64_MAX &&
                    first_dirty_ts >= 0 &&
                    pc->now - first_dirty_ts > cfg->max_compaction_lag_ms;
    if (!(ratio > cfg->min_cleanable_dirty_ratio || need_now))
        return;
    double score = need_now ? ratio + 2.0 : ratio;
    if (!pc->best || score > pc->best_ratio) {
        pc->best = part;
        pc->best_ratio = score;
        pc->best_first_dirty = first_dirty;
        pc->best_uncleanable = unc;
    }
}

static void load_producers(log_cleaner *c, job *j) {
    if (!c->o.producer_state)
        return;
    ps_state *ps = c->o.producer_state(c->o.ctx, j->part);
    if (!ps)
        return;
    j->plast = xmalloc(sizeof(*j->plast) * (size_t)(ps->n + 1));
    for (int i = 0; i < ps->n; i++) {
        const ps_entry *e = &ps->entries[i];
        j->plast[j->nplast++] = (producer_last){
            e->producer_id,
            e->n_batches ? e->batches[e->n_batches - 1].last_offset : -1,
            e->epoch};
    }
}

static bool start_job(log_cleaner *c) {
    pick_ctx pc = {c, clk_wall_ms(), NULL, 0, 0, 0};
    log_manager_foreach(c->mgr, pick_one, &pc);
    if (!pc.best)
        return false;
    job *j = xcalloc(1, sizeof(*j));
    j->part = pc.best;
    j->topic = xstrdup(log_topic(pc.best));
    j->partition = log_partition_id(pc.best);
    log_topic_id(pc.best, j->topic_id);
    j->dir = xstrdup(log_path(pc.best));
    j->first_dirty = pc.best_first_dirty;
    j->uncleanable = pc.best_uncleanable;
    j->now = pc.now;
    j->delete_retention_ms = log_get_config(pc.best)->delete_retention_ms;
    j->rfd = j->ofd = -1;
    buf_init(&j->rbuf, 0);
    buf_init(&j->plain, 0);
    buf_init(&j->rec, 0);
    buf_init(&j->out, 0);
    int n = log_segment_count(pc.best);
    j->segs = xmalloc(sizeof(*j->segs) * (size_t)n);
    for (int i = 0; i < n - 1; i++) {
        log_segment_info s;
        log_segment_get(pc.best, i, &s);
        if (s.base >= j->uncleanable)
            break;
        j->segs[j->nsegs++] = (seg_ref){s.base, s.end_offset, s.size};
    }
    /* keys <= records <= offsets in the dirty range: size the map to it */
    size_t mem = (size_t)SL_MIN(c->o.dedupe_buffer_size /
                                    (c->o.threads > 0 ? c->o.threads : 1),
                                (int64_t)INT32_MAX);
    log_cleaner_map_init(&j->map, mem, c->o.load_factor,
                         (size_t)(j->uncleanable - j->first_dirty));
    c->st.map_bytes = log_cleaner_map_bytes(&j->map);
    if (c->st.map_bytes > c->st.map_max_bytes)
        c->st.map_max_bytes = c->st.map_bytes;
    ps_state tmp;
    ps_init(&tmp);
    ps_txnindex_load(&tmp, j->dir, 0, INT64_MAX);
    j->naborted = tmp.n_aborted;
    j->aborted = xmalloc(sizeof(*j->aborted) * (size_t)(tmp.n_aborted + 1));
    if (tmp.n_aborted)
        memcpy(j->aborted, tmp.aborted,
               sizeof(*j->aborted) * (size_t)tmp.n_aborted);
    ps_free(&tmp);
    load_producers(c, j);
    txn_meta_init(&j->map_txn, j->aborted, j->naborted, j->first_dirty,
                  j->uncleanable);
    j->phase = PH_MAP;
    j->cur_seg = 0;
    while (j->cur_seg < j->nsegs && j->segs[j->cur_seg].end <= j->first_dirty)
        j->cur_seg++;
    j->cur_pos = 0;
    j->map_end = j->first_dirty;
    c->job = j;
    SL_INFO(MOD,
            "Beginning cleaning of %s-%d: dirty range [%" PRId64 ", %" PRId64
            "), offset map %zu bytes",
            j->topic, j->partition, j->first_dirty, j->uncleanable,
            log_cleaner_map_bytes(&j->map));
    return true;
}

/* ---- reading batches
 * -------------------------------------------------------------- */
/* Is the partition still there and are segs [from, to) unchanged? Returns the
 * index in the log of segs[from], or -1. */
static int revalidate(log_cleaner *c, job *j, int from, int to) {
    log_partition *p = log_get(c->mgr, j->topic, j->partition);
    if (p != j->part || log_is_failed(p))
        return -1;
    uint8_t id[16];
    log_topic_id(p, id);
    if (memcmp(id, j->topic_id, 16))
        return -1;
    int n = log_segment_count(p);
    int at = -1;
    for (int i = 0; i < n - 1; i++) {
        log_segment_info s;
        log_segment_get(p, i, &s);
        if (s.base == j->segs[from].base) {
            at = i;
            break;
        }
    }
    if (at < 0 || at + (to - from) >= n)
        return -1;
    for (int k = from; k < to; k++) {
        log_segment_info s;
        log_segment_get(p, at + (k - from), &s);
        if (s.base != j->segs[k].base || s.size != j->segs[k].size)
            return -1;
    }
    return at;
}

/* The job's partition still exists (not deleted, or deleted and re-created
 * at the same address: the topic id tells) and is healthy. */
static bool part_alive(log_cleaner *c, job *j) {
    log_partition *p = log_get(c->mgr, j->topic, j->partition);
    if (p != j->part || log_is_failed(p))
        return false;
    uint8_t id[16];
    log_topic_id(p, id);
    return memcmp(id, j->topic_id, 16) == 0;
}

/* Next batch of the current segment: 1 (*p, *h filled; valid until the
 * next call), 0 at the end of the segment, -1 on error. */
static int next_batch(log_cleaner *c, job *j, const uint8_t **p,
                      log_batch_header *h) {
    seg_ref *s = &j->segs[j->cur_seg];
    if (j->cur_pos >= s->size)
        return 0;
    if (j->rfd < 0) {
        char lp[4200];
        seg_name(lp, sizeof lp, j->dir, s->base, ".log");
        j->rfd = IOC(c->io, open, lp, O_RDONLY, 0);
        if (j->rfd < 0)
            return -1;
        buf_reset(&j->rbuf);
        j->rbuf_pos = 0;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        int64_t off = j->cur_pos - j->rbuf_pos;
        if (off >= 0 && (size_t)off + BATCH_HEADER_SIZE <= j->rbuf.len) {
            const uint8_t *q = j->rbuf.data + off;
            int32_t blen = (int32_t)sl_load_be32(q + BATCH_OFF_LENGTH);
            if (blen < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD ||
                (uint64_t)blen + BATCH_LOG_OVERHEAD > MAX_BATCH ||
                j->cur_pos + blen + BATCH_LOG_OVERHEAD > s->size)
                return -1;
            size_t total = (size_t)blen + BATCH_LOG_OVERHEAD;
            if ((size_t)off + total <= j->rbuf.len) {
                if (batch_validate_stored(q, total, h) != KERR_NONE)
                    return -1;
                *p = q;
                j->cur_pos += (int64_t)total;
                c->step_bytes += (int64_t)total;
                c->st.bytes_read += (int64_t)total;
                return 1;
            }
        }
        /* refill at cur_pos with at least the batch */
        size_t want = READ_CHUNK;
        if (off >= 0 && (size_t)off + 12 <= j->rbuf.len) {
            size_t need = (size_t)(int32_t)sl_load_be32(j->rbuf.data + off +
                                                        BATCH_OFF_LENGTH) +
                          BATCH_LOG_OVERHEAD;
            if (need > want)
                want = need;
        }
        if ((int64_t)want > s->size - j->cur_pos)
            want = (size_t)(s->size - j->cur_pos);
        buf_reset(&j->rbuf);
        buf_reserve(&j->rbuf, want);
        ssize_t r =
            read_full_io(c->io, j->rfd, j->rbuf.data, want, (off_t)j->cur_pos);
        if (r != (ssize_t)want)
            return -1;
        j->rbuf.len = want;
        j->rbuf_pos = j->cur_pos;
    }
    return -1;
}

static void advance_seg(log_cleaner *c, job *j) {
    reader_close(j, c->io);
    j->cur_seg++;
    j->cur_pos = 0;
}

/* Records of a batch, decompressed into j->plain; false if malformed. */
static bool batch_records(job *j, const uint8_t *p, const log_batch_header *h,
                          const uint8_t **recs, size_t *n) {
    if (batch_compression(h) == COMPRESS_NONE) {
        *recs = p + BATCH_HEADER_SIZE;
        *n = (size_t)batch_size(h) - BATCH_HEADER_SIZE;
        return true;
    }
    buf_reset(&j->plain);
    if (batch_decompress_records(h, p, MAX_PLAIN, &j->plain) != KERR_NONE)
        return false;
    *recs = j->plain.data;
    *n = j->plain.len;
    return true;
}

static int control_type(job *j, const uint8_t *p, const log_batch_header *h) {
    const uint8_t *recs;
    size_t n;
    if (h->records_count == 0 || !batch_records(j, p, h, &recs, &n))
        return -1;
    batch_iter it;
    batch_iter_init(&it, h, recs, n);
    log_record r;
    if (batch_iter_next(&it, &r) != 1 || r.key_len < 4)
        return -1;
    return (int16_t)sl_load_be16(r.key + 2);
}

/* ---- phase 1: offset map
 * ---------------------------------------------------------- */
/* Returns 1 when the phase is done, 0 to continue later, -1 on error. */
static int map_work(log_cleaner *c, job *j, int64_t deadline_ns) {
    while (j->cur_seg < j->nsegs) {
        if (j->segs[j->cur_seg].base >= j->uncleanable)
            break;
        const uint8_t *p;
        log_batch_header h;
        int rc = next_batch(c, j, &p, &h);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            advance_seg(c, j);
            continue;
        }
        if (h.base_offset >= j->uncleanable) {
            j->cur_seg = j->nsegs;
            break;
        }
        int64_t last = batch_last_offset(&h);
        if (last < j->first_dirty)
            continue;
        if (batch_is_control(&h)) {
            txn_on_control(&j->map_txn, &h, control_type(j, p, &h));
        } else if (!txn_on_batch(&j->map_txn, &h)) {
            if (j->map.n > 0 &&
                j->map.n + (size_t)h.records_count > j->map.max_entries) {
                /* full: this batch and the rest wait for the next pass */
                j->map_full = true;
                j->map_end = h.base_offset;
                c->st.map_passes_full++;
                return 1;
            }
            const uint8_t *recs;
            size_t n;
            if (!batch_records(j, p, &h, &recs, &n))
                return -1;
            batch_iter it;
            batch_iter_init(&it, &h, recs, n);
            log_record r;
            int k;
            while ((k = batch_iter_next(&it, &r)) == 1) {
                if (r.key_len < 0 || r.offset < j->first_dirty)
                    continue;
                if (!log_cleaner_map_put(&j->map, r.key, (size_t)r.key_len,
                                         r.offset)) {
                    j->map_full = true;
                    j->map_end = r.offset; /* later records of it are kept */
                    c->st.map_passes_full++;
                    return 1;
                }
            }
            if (k < 0)
                return -1;
        }
        j->map_end = last + 1;
        if (c->step_bytes >= c->o.step_budget_bytes ||
            clk_mono_ns() > deadline_ns)
            return 0;
    }
    if (j->map_end < j->uncleanable && !j->map_full)
        j->map_end = j->uncleanable;
    return 1;
}

/* Groups for PH_CLEAN: segments below map_end, grouped by size. */
static bool next_group(log_cleaner *c, job *j, int from) {
    const log_config *cfg = log_get_config(j->part);
    int i = from;
    if (i >= j->nsegs || j->segs[i].base >= j->map_end)
        return false;
    int64_t total = j->segs[i].size;
    int k = i + 1;
    while (k < j->nsegs && j->segs[k].base < j->map_end &&
           total + j->segs[k].size <= (int64_t)cfg->segment_bytes &&
           j->segs[k].end - j->segs[i].base <= INT32_MAX) {
        total += j->segs[k].size;
        k++;
    }
    j->g_first = i;
    j->g_count = k - i;
    j->cur_seg = i;
    j->cur_pos = 0;
    reader_close(j, c->io);
    int64_t lo = j->segs[i].base, hi = j->segs[k - 1].end;
    txn_meta_free(&j->g_txn);
    txn_meta_init(&j->g_txn, j->aborted, j->naborted, lo, hi);
    char path[4200];
    seg_name(path, sizeof path, j->dir, lo, ".log.cleaned");
    free(j->cleaned_path);
    j->cleaned_path = xstrdup(path);
    j->ofd = IOC(c->io, open, path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    j->opos = 0;
    buf_reset(&j->out);
    return j->ofd >= 0;
}

/* ---- phase 2: cleaning
 * ------------------------------------------------------------- */
static bool is_last_of_producer(job *j, const log_batch_header *h) {
    if (h->producer_id < 0)
        return false;
    for (int i = 0; i < j->nplast; i++)
        if (j->plast[i].pid == h->producer_id) {
            if (j->plast[i].last_data_offset >= 0)
                return batch_last_offset(h) == j->plast[i].last_data_offset;
            return batch_is_control(h) &&
                   h->producer_epoch == j->plast[i].epoch;
        }
    return false;
}

static void put_varbytes(buf *o, const uint8_t *p, int32_t len) {
    if (!p || len < 0) {
        buf_put_varint(o, -1);
        return;
    }
    buf_put_varint(o, len);
    buf_put(o, p, (size_t)len);
}

/* Writes a batch header + records (compressed with codec) to j->out. */
static bool write_batch(job *j, const log_batch_header *h, int16_t attrs,
                        int64_t base_ts, int64_t max_ts, int32_t count,
                        const uint8_t *recs, size_t n) {
    size_t start = j->out.len;
    uint8_t *hp = buf_extend(&j->out, BATCH_HEADER_SIZE);
    memset(hp, 0, BATCH_HEADER_SIZE);
    int codec = attrs & BATCH_ATTR_COMPRESSION_MASK;
    if (n > 0 && codec != COMPRESS_NONE) {
        if (compress_compress(codec, recs, n, -1, &j->out) != KERR_NONE) {
            j->out.len = start;
            return false;
        }
    } else if (n > 0) {
        buf_put(&j->out, recs, n);
    }
    hp = j->out.data + start;
    size_t total = j->out.len - start;
    sl_store_be64(hp + BATCH_OFF_BASE_OFFSET, (uint64_t)h->base_offset);
    sl_store_be32(hp + BATCH_OFF_LENGTH,
                  (uint32_t)(total - BATCH_LOG_OVERHEAD));
    sl_store_be32(hp + BATCH_OFF_LEADER_EPOCH,
                  (uint32_t)h->partition_leader_epoch);
    hp[BATCH_OFF_MAGIC] = BATCH_MAGIC;
    sl_store_be16(hp + BATCH_OFF_ATTRIBUTES, (uint16_t)attrs);
    sl_store_be32(hp + BATCH_OFF_LAST_OFFSET_DELTA,
                  (uint32_t)h->last_offset_delta);
    sl_store_be64(hp + BATCH_OFF_BASE_TIMESTAMP, (uint64_t)base_ts);
    sl_store_be64(hp + BATCH_OFF_MAX_TIMESTAMP, (uint64_t)max_ts);
    sl_store_be64(hp + BATCH_OFF_PRODUCER_ID, (uint64_t)h->producer_id);
    sl_store_be16(hp + BATCH_OFF_PRODUCER_EPOCH, (uint16_t)h->producer_epoch);
    sl_store_be32(hp + BATCH_OFF_BASE_SEQUENCE, (uint32_t)h->base_sequence);
    sl_store_be32(hp + BATCH_OFF_RECORDS_COUNT, (uint32_t)count);
    sl_store_be32(hp + BATCH_OFF_CRC, batch_compute_crc(hp, total));
    return true;
}

/* Filters one batch into j->out (Kafka's filterTo with the cleaner's
 * RecordFilter). false on malformed data. */
static bool clean_batch(log_cleaner *c, job *j, const uint8_t *p,
                        const log_batch_header *h) {
    bool has_horizon = (h->attributes & BATCH_ATTR_DELETE_HORIZON) != 0;
    int64_t horizon = has_horizon ? h->base_timestamp : -1;
    if (batch_last_offset(h) >= j->map_end) {
        /* past the map: nothing known about newer values, keep as is */
        buf_put(&j->out, p, (size_t)batch_size(h));
        return true;
    }
    bool can_discard;
    bool discard_records;
    if (batch_is_control(h)) {
        can_discard = txn_on_control(&j->g_txn, h, control_type(j, p, h));
        discard_records = can_discard && has_horizon && horizon <= j->now;
    } else {
        can_discard = txn_on_batch(&j->g_txn, h);
        discard_records = can_discard;
    }
    bool retain_empty = is_last_of_producer(j, h);
    if (batch_is_control(h)) {
        if (discard_records) {
            if (retain_empty)
                return write_batch(
                    j, h,
                    (int16_t)(h->attributes & ~BATCH_ATTR_COMPRESSION_MASK),
                    h->max_timestamp, h->max_timestamp, 0, NULL, 0);
            c->st.records_removed += h->records_count;
            return true;
        }
        if (can_discard && !has_horizon) {
            /* marker of an empty txn: keep it delete.retention.ms more */
            const uint8_t *recs;
            size_t n;
            if (!batch_records(j, p, h, &recs, &n))
                return false;
            /* records are re-based on the horizon: re-encode them */
            batch_iter it;
            batch_iter_init(&it, h, recs, n);
            log_record r;
            buf_reset(&j->rec);
            int64_t hz = j->now + j->delete_retention_ms;
            int cnt = 0, k;
            int64_t maxts = -1;
            while ((k = batch_iter_next(&it, &r)) == 1) {
                buf body;
                buf_init(&body, 64);
                buf_put_u8(&body, (uint8_t)r.attributes);
                buf_put_varint(&body, r.timestamp - hz);
                buf_put_varint(&body, r.offset_delta);
                put_varbytes(&body, r.key, r.key_len);
                put_varbytes(&body, r.value, r.value_len);
                buf_put_varint(&body, r.headers_count);
                buf_put(&body, r.headers, r.headers_len);
                buf_put_varint(&j->rec, (int64_t)body.len);
                buf_put(&j->rec, body.data, body.len);
                buf_free(&body);
                cnt++;
                if (r.timestamp > maxts)
                    maxts = r.timestamp;
            }
            if (k < 0)
                return false;
            return write_batch(
                j, h, (int16_t)(h->attributes | BATCH_ATTR_DELETE_HORIZON), hz,
                h->max_timestamp, cnt, j->rec.data, j->rec.len);
        }
        buf_put(&j->out, p, (size_t)batch_size(h));
        return true;
    }
    /* data batch */
    if (h->records_count == 0) {
        /* emptied earlier to keep a producer's state: gone once the
         * producer is no longer active */
        if (retain_empty)
            buf_put(&j->out, p, (size_t)batch_size(h));
        return true;
    }
    const uint8_t *recs;
    size_t n;
    if (!batch_records(j, p, h, &recs, &n))
        return false;
    batch_iter it;
    batch_iter_init(&it, h, recs, n);
    log_record r;
    buf_reset(&j->rec);
    int kept = 0, k;
    bool tombstones = false;
    int64_t maxts = -1, first_ts = -1;
    /* Two passes: decide (and find whether a horizon is needed), then
     * encode relative to the right base timestamp. Decisions are kept in a
     * small bitmap in j->plain's tail would alias; use a local vector. */
    uint8_t *keep = xmalloc((size_t)h->records_count + 1);
    int idx = 0;
    while ((k = batch_iter_next(&it, &r)) == 1) {
        bool ok;
        if (discard_records || r.key_len < 0) {
            ok = false;
        } else {
            int64_t found =
                log_cleaner_map_get(&j->map, r.key, (size_t)r.key_len);
            bool latest = r.offset >= found;
            bool retain_delete = !has_horizon || j->now < horizon;
            ok = latest && (r.value_len >= 0 || retain_delete);
        }
        if (idx <= h->records_count)
            keep[idx] = ok;
        idx++;
        if (ok) {
            kept++;
            if (r.value_len < 0)
                tombstones = true;
            if (first_ts < 0)
                first_ts = r.timestamp;
            if (r.timestamp > maxts)
                maxts = r.timestamp;
        }
    }
    if (k < 0 || idx != h->records_count) {
        free(keep);
        return false;
    }
    c->st.records_removed += h->records_count - kept;
    bool set_horizon = tombstones && !has_horizon;
    bool ok = true;
    if (kept == h->records_count && !set_horizon) {
        buf_put(&j->out, p, (size_t)batch_size(h));
    } else if (kept == 0) {
        if (retain_empty)
            ok = write_batch(
                j, h, (int16_t)(h->attributes & ~BATCH_ATTR_COMPRESSION_MASK),
                h->max_timestamp, h->max_timestamp, 0, NULL, 0);
    } else {
        int64_t base_ts = set_horizon   ? j->now + j->delete_retention_ms
                          : has_horizon ? horizon
                                        : first_ts;
        int16_t attrs = h->attributes;
        if (set_horizon)
            attrs = (int16_t)(attrs | BATCH_ATTR_DELETE_HORIZON);
        if (h->attributes & BATCH_ATTR_LOG_APPEND_TIME)
            maxts = h->max_timestamp;
        batch_iter_init(&it, h, recs, n);
        idx = 0;
        while (batch_iter_next(&it, &r) == 1) {
            if (!keep[idx++])
                continue;
            buf body;
            buf_init(&body, 64);
            buf_put_u8(&body, (uint8_t)r.attributes);
            buf_put_varint(&body, r.timestamp - base_ts);
            buf_put_varint(&body, r.offset_delta);
            put_varbytes(&body, r.key, r.key_len);
            put_varbytes(&body, r.value, r.value_len);
            buf_put_varint(&body, r.headers_count);
            if (r.headers_len)
                buf_put(&body, r.headers, r.headers_len);
            buf_put_varint(&j->rec, (int64_t)body.len);
            buf_put(&j->rec, body.data, body.len);
            buf_free(&body);
        }
        ok = write_batch(j, h, attrs, base_ts, maxts, kept, j->rec.data,
                         j->rec.len);
    }
    free(keep);
    return ok;
}

static bool flush_out(log_cleaner *c, job *j) {
    if (!j->out.len)
        return true;
    if (!write_all_io(c->io, j->ofd, j->out.data, j->out.len, (off_t)j->opos))
        return false;
    j->opos += (int64_t)j->out.len;
    c->st.bytes_written += (int64_t)j->out.len;
    c->step_bytes += (int64_t)j->out.len;
    buf_reset(&j->out);
    return true;
}

/* Concatenates the group's .txnindex files into <base>.txnindex.cleaned;
 * sets *path (NULL if none). */
static bool write_group_txnindex(log_cleaner *c, job *j, char **path) {
    *path = NULL;
    buf all;
    buf_init(&all, 0);
    for (int i = j->g_first; i < j->g_first + j->g_count; i++) {
        char tp[4200];
        seg_name(tp, sizeof tp, j->dir, j->segs[i].base, ".txnindex");
        int fd = open(tp, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_size > 0) {
            size_t n = (size_t)st.st_size;
            buf_reserve(&all, n);
            if (read_full_io(c->io, fd, all.data + all.len, n, 0) == (ssize_t)n)
                all.len += n;
        }
        close(fd);
    }
    if (all.len == 0) {
        buf_free(&all);
        return true;
    }
    char tp[4200];
    seg_name(tp, sizeof tp, j->dir, j->segs[j->g_first].base,
             ".txnindex.cleaned");
    int fd = IOC(c->io, open, tp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    bool ok = fd >= 0 && write_all_io(c->io, fd, all.data, all.len, 0) &&
              IOC(c->io, fsync, fd) == 0;
    if (fd >= 0)
        IOC(c->io, close, fd);
    buf_free(&all);
    if (ok)
        *path = xstrdup(tp);
    return ok;
}

/* Finishes the current group: fsync, swap in. 1 ok, -1 abort. */
static int finish_group(log_cleaner *c, job *j) {
    if (!flush_out(c, j) || IOC(c->io, fsync, j->ofd) != 0)
        return -1;
    IOC(c->io, close, j->ofd);
    j->ofd = -1;
    int at = revalidate(c, j, j->g_first, j->g_first + j->g_count);
    if (at < 0)
        return -1;
    char *txn = NULL;
    if (!write_group_txnindex(c, j, &txn))
        return -1;
    int16_t e =
        log_replace_segments(j->part, at, j->g_count, j->cleaned_path, txn);
    free(txn);
    if (e != KERR_NONE)
        return -1;
    free(j->cleaned_path);
    j->cleaned_path = NULL;
    c->st.segments_swapped++;
    /* The group is one segment now; later refs are unchanged. */
    log_segment_info s;
    log_segment_get(j->part, at, &s);
    int64_t end = j->segs[j->g_first + j->g_count - 1].end;
    j->segs[j->g_first] = (seg_ref){s.base, end, s.size};
    memmove(j->segs + j->g_first + 1, j->segs + j->g_first + j->g_count,
            sizeof(*j->segs) * (size_t)(j->nsegs - j->g_first - j->g_count));
    j->nsegs -= j->g_count - 1;
    j->cur_seg = j->g_first + 1;
    j->cur_pos = 0;
    return 1;
}

static int clean_work(log_cleaner *c, job *j, int64_t deadline_ns) {
    for (;;) {
        if (j->ofd < 0) {
            if (!next_group(c, j, j->cur_seg))
                return j->cleaned_path ? -1 : 1; /* no more groups: done */
        }
        /* the group's segments must not have changed under us */
        if (revalidate(c, j, j->g_first, j->g_first + j->g_count) < 0)
            return -1;
        while (j->cur_seg < j->g_first + j->g_count) {
            const uint8_t *p;
            log_batch_header h;
            int rc = next_batch(c, j, &p, &h);
            if (rc < 0)
                return -1;
            if (rc == 0) {
                advance_seg(c, j);
                continue;
            }
            if (!clean_batch(c, j, p, &h))
                return -1;
            if (j->out.len >= OUT_FLUSH && !flush_out(c, j))
                return -1;
            if (c->step_bytes >= c->o.step_budget_bytes ||
                clk_mono_ns() > deadline_ns)
                return 0;
        }
        if (finish_group(c, j) < 0)
            return -1;
        if (c->step_bytes >= c->o.step_budget_bytes ||
            clk_mono_ns() > deadline_ns)
            return 0;
    }
}

static void finish_job(log_cleaner *c) {
    job *j = c->job;
    ck_set(c, j->topic, j->partition, j->map_end);
    ck_write(c);
    c->st.passes++;
    SL_INFO(MOD,
            "Cleaned %s-%d up to offset %" PRId64 " (%s); %" PRId64
            " records removed so far",
            j->topic, j->partition, j->map_end,
            j->map_full ? "offset map full, more passes follow" : "done",
            c->st.records_removed);
    job_free(c, j, false);
    c->job = NULL;
}

int64_t log_cleaner_step(log_cleaner *c) {
    if (c->o.threads <= 0)
        return c->o.backoff_ms;
    c->step_bytes = 0;
    int64_t t0 = clk_mono_ns();
    int64_t deadline = t0 + c->o.step_budget_ms * 1000000;
    if (!c->job && !start_job(c))
        return c->o.backoff_ms;
    job *j = c->job;
    if (!part_alive(c, j)) {
        job_abort(c, "the partition was deleted or failed");
        return c->o.backoff_ms;
    }
    if (j->phase == PH_MAP) {
        int rc = map_work(c, j, deadline);
        if (rc < 0) {
            job_abort(c, "cannot read the dirty section");
            return c->o.backoff_ms;
        }
        if (rc == 1) {
            txn_meta_free(&j->map_txn);
            reader_close(j, c->io);
            j->phase = PH_CLEAN;
            j->cur_seg = 0;
            if (j->map.n == 0 && j->map_end <= j->first_dirty) {
                job_abort(c, "nothing to clean");
                return c->o.backoff_ms;
            }
        }
    } else {
        int rc = clean_work(c, j, deadline);
        if (rc < 0) {
            job_abort(c, "the log changed or could not be read/written");
            return c->o.backoff_ms;
        }
        if (rc == 1)
            finish_job(c);
    }
    /* throttle: bytes of this step at the configured rate */
    double rate = c->o.io_max_bytes_per_second;
    if (rate > 0 && rate < 1e300) {
        double need_ms = (double)c->step_bytes * 1000.0 / rate;
        double spent_ms = (double)(clk_mono_ns() - t0) / 1e6;
        if (need_ms > spent_ms)
            return (int64_t)(need_ms - spent_ms) + 1;
    }
    return 0;
}

int log_cleaner_run_until_idle(log_cleaner *c) {
    int64_t before = c->st.passes, aborted0 = c->st.aborted_passes;
    for (;;) {
        bool had = c->job != NULL;
        log_cleaner_step(c);
        if (!had && !c->job)
            break; /* nothing cleanable */
        if (c->st.aborted_passes - aborted0 > 3)
            break; /* failing repeatedly: let the caller see it */
    }
    return (int)(c->st.passes - before);
}
