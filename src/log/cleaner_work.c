/*
 * cleaner_work.c - the worker threads' half of the log cleaner (see
 * cleaner.h for the algorithm and cleaner_int.h for who owns what): the
 * offset map, reading sealed segment files, and writing each group of
 * segments as <base>.log.cleaned (+ .txnindex.cleaned, and the .index /
 * .timeindex it builds while writing the .log) which the loop thread then
 * swaps in without reading the segment.
 *
 * THREADING INVARIANTS (a worker runs this file's code only)
 *  1. A worker never calls log.h functions (but the log_seg_index_* ones,
 *     which build an index in memory it owns) and never touches a
 *     log_partition: it works from the job's snapshot (segment bases and
 *     sizes, config values, aborted transactions, producers' last batches)
 *     taken by the loop when the job was handed out.
 *  2. It only READS the .log and .txnindex files of the snapshot's
 *     segments. They are sealed (rolled, below the active segment), and the
 *     log never rewrites a sealed .log in place: it appends only to the
 *     active segment, retention / DeleteRecords / topic deletion unlink
 *     whole files (an fd already open keeps the old bytes; a later open
 *     fails) and truncation shortens files (a read comes back short). So a
 *     read either sees the bytes of the snapshot or fails, and the pass
 *     fails with it; nothing is ever half-read silently (every batch is
 *     CRC-checked too).
 *  3. It only WRITES <base>.log.cleaned, <base>.txnindex.cleaned,
 *     <base>.index.cleaned and <base>.timeindex.cleaned of its own groups (one
 * job per partition at a time, so no other writer uses these names); a posted
 * group's files belong to the loop from then on.
 *  4. The cancel flag is polled at every batch: a cancelled or failed pass
 *     removes its unposted .cleaned file and ends; the loop discards posted
 *     but unswapped groups. Whether the result may go into the log is
 *     decided by the loop alone, at swap time (cleaner.c).
 *  5. Memory: the offset map (fixed at pass start from this thread's share
 *     of log.cleaner.dedupe.buffer.size) plus one batch, its decompressed
 *     records and a 1 MiB output buffer; nothing grows with the number of
 *     keys. Offsets never change (batches keep baseOffset and
 *     lastOffsetDelta), so a group's cleaned file covers exactly the
 *     offsets of the group.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "cleaner_int.h"
#include "compress.h"
#include "core/log.h"
#include "core/util.h"

#define MOD LOG_CL_MOD
#define SLOT_BYTES 24
#define OUT_FLUSH (1u << 20)
#define READ_CHUNK (1u << 20)
#define MAX_BATCH (64u << 20)
#define MAX_PLAIN (256u << 20)

typedef log_cl_job job;

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

static int next_batch(job *j, const uint8_t **p, log_batch_header *h) {
    seg_ref *s = &j->segs[j->cur_seg];
    if (j->cur_pos >= s->size)
        return 0;
    if (atomic_load_explicit(&j->cancel, memory_order_relaxed))
        return -1;
    if (j->rfd < 0) {
        char lp[4200];
        log_cl_seg_name(lp, sizeof lp, j->dir, s->base, ".log");
        j->rfd = IOC(j->io, open, lp, O_RDONLY, 0);
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
                j->st.bytes_read += (int64_t)total;
                log_cl_throttle(j->c, j, (int64_t)total);
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
        ssize_t r = log_io_read_full(j->io, j->rfd, j->rbuf.data, want,
                                     (off_t)j->cur_pos);
        if (r != (ssize_t)want)
            return -1;
        j->rbuf.len = want;
        j->rbuf_pos = j->cur_pos;
    }
    return -1;
}

static void reader_close(job *j) {
    if (j->rfd >= 0)
        IOC(j->io, close, j->rfd);
    j->rfd = -1;
    buf_reset(&j->rbuf);
    j->rbuf_pos = 0;
}

static void advance_seg(job *j) {
    reader_close(j);
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
static int map_work(job *j) {
    while (j->cur_seg < j->nsegs) {
        if (j->segs[j->cur_seg].base >= j->uncleanable)
            break;
        const uint8_t *p;
        log_batch_header h;
        int rc = next_batch(j, &p, &h);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            advance_seg(j);
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
                j->st.map_passes_full++;
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
                    j->st.map_passes_full++;
                    return 1;
                }
            }
            if (k < 0)
                return -1;
        }
        j->map_end = last + 1;
    }
    if (j->map_end < j->uncleanable && !j->map_full)
        j->map_end = j->uncleanable;
    return 1;
}

/* Groups for PH_CLEAN: segments below map_end, grouped by size. */
static bool next_group(job *j, int from) {
    int i = from;
    if (i >= j->nsegs || j->segs[i].base >= j->map_end)
        return false;
    int64_t total = j->segs[i].size;
    int k = i + 1;
    while (k < j->nsegs && j->segs[k].base < j->map_end &&
           total + j->segs[k].size <= (int64_t)j->segment_bytes &&
           j->segs[k].end - j->segs[i].base <= INT32_MAX) {
        total += j->segs[k].size;
        k++;
    }
    j->g_first = i;
    j->g_count = k - i;
    j->cur_seg = i;
    j->cur_pos = 0;
    reader_close(j);
    int64_t lo = j->segs[i].base, hi = j->segs[k - 1].end;
    txn_meta_free(&j->g_txn);
    txn_meta_init(&j->g_txn, j->aborted, j->naborted, lo, hi);
    char path[4200];
    log_cl_seg_name(path, sizeof path, j->dir, lo, ".log.cleaned");
    free(j->cleaned_path);
    j->cleaned_path = xstrdup(path);
    j->ofd = IOC(j->io, open, path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    j->opos = 0;
    log_seg_index_free(&j->gidx);
    log_seg_index_init(&j->gidx, lo, j->index_interval);
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
static bool clean_batch(job *j, const uint8_t *p, const log_batch_header *h) {
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
            j->st.records_removed += h->records_count;
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
    j->st.records_removed += h->records_count - kept;
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

static bool flush_out(job *j) {
    if (!j->out.len)
        return true;
    /* j->out holds whole batches: index them where they land */
    for (size_t off = 0; off + BATCH_HEADER_SIZE <= j->out.len;) {
        log_seg_index_add(&j->gidx, j->out.data + off);
        off += (size_t)sl_load_be32(j->out.data + off + BATCH_OFF_LENGTH) +
               BATCH_LOG_OVERHEAD;
    }
    SL_ASSERT(j->gidx.size == j->opos + (int64_t)j->out.len);
    if (!log_io_write_all(j->io, j->ofd, j->out.data, j->out.len,
                          (off_t)j->opos))
        return false;
    j->opos += (int64_t)j->out.len;
    j->st.bytes_written += (int64_t)j->out.len;
    log_cl_throttle(j->c, j, (int64_t)j->out.len);
    buf_reset(&j->out);
    return true;
}

/* Concatenates the group's .txnindex files into <base>.txnindex.cleaned;
 * sets *path (NULL if none). */
static bool write_group_txnindex(job *j, char **path) {
    *path = NULL;
    buf all;
    buf_init(&all, 0);
    for (int i = j->g_first; i < j->g_first + j->g_count; i++) {
        char tp[4200];
        log_cl_seg_name(tp, sizeof tp, j->dir, j->segs[i].base, ".txnindex");
        int fd = IOC(j->io, open, tp, O_RDONLY, 0);
        if (fd < 0)
            continue;
        log_io_stat st;
        if (IOC(j->io, fstat, fd, &st) == 0 && st.size > 0) {
            size_t n = (size_t)st.size;
            buf_reserve(&all, n);
            if (log_io_read_full(j->io, fd, all.data + all.len, n, 0) ==
                (ssize_t)n)
                all.len += n;
        }
        IOC(j->io, close, fd);
    }
    if (all.len == 0) {
        buf_free(&all);
        return true;
    }
    char tp[4200];
    log_cl_seg_name(tp, sizeof tp, j->dir, j->segs[j->g_first].base,
                    ".txnindex.cleaned");
    int fd = IOC(j->io, open, tp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    bool ok = fd >= 0 && log_io_write_all(j->io, fd, all.data, all.len, 0) &&
              IOC(j->io, fsync, fd) == 0;
    if (fd >= 0)
        IOC(j->io, close, fd);
    buf_free(&all);
    if (ok)
        *path = xstrdup(tp);
    else
        IOC(j->io, unlink, tp);
    return ok;
}

/* Writes the group's index as <base>.index.cleaned and
 * <base>.timeindex.cleaned (fsynced: the swap commits them with the .log). */
static bool write_group_indexes(job *j) {
    const log_seg_index *x = &j->gidx;
    for (int k = 0; k < 2; k++) {
        char p[4200];
        log_cl_seg_name(p, sizeof p, j->dir, x->base,
                        k ? ".timeindex.cleaned" : ".index.cleaned");
        size_t n = k ? (size_t)x->n_tidx * 12 : (size_t)x->n_idx * 8;
        int fd = IOC(j->io, open, p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        bool ok = fd >= 0 &&
                  (n == 0 ||
                   log_io_write_all(j->io, fd, k ? x->tidx : x->idx, n, 0)) &&
                  IOC(j->io, fsync, fd) == 0;
        if (fd >= 0)
            IOC(j->io, close, fd);
        if (!ok)
            return false;
    }
    return true;
}

/* Finishes the current group: fsync, close, hand it to the loop. */
static bool finish_group(job *j) {
    if (!flush_out(j) || IOC(j->io, fsync, j->ofd) != 0)
        return false;
    IOC(j->io, close, j->ofd);
    j->ofd = -1;
    if (!write_group_indexes(j))
        return false;
    char *txn = NULL;
    if (!write_group_txnindex(j, &txn))
        return false;
    int64_t end = j->segs[j->g_first + j->g_count - 1].end;
    if (log_cl_write_swapend(j->io, j->dir, j->segs[j->g_first].base, end)) {
        if (txn)
            IOC(j->io, unlink, txn);
        free(txn);
        return false;
    }
    char *log_path = j->cleaned_path;
    j->cleaned_path =
        NULL; /* the loop's now (or removed by log_cl_post_group) */
    log_seg_index *idx = xmalloc(sizeof(*idx));
    *idx = j->gidx; /* moved */
    log_seg_index_init(&j->gidx, 0, j->index_interval);
    if (!log_cl_post_group(j, j->g_first, j->g_count, log_path, txn, idx))
        return false;
    j->cur_seg = j->g_first + j->g_count;
    j->cur_pos = 0;
    return true;
}

static bool clean_work(job *j) {
    j->cur_seg = 0;
    for (;;) {
        if (!next_group(j, j->cur_seg))
            return j->ofd < 0 && !j->cleaned_path ? true : false;
        while (j->cur_seg < j->g_first + j->g_count) {
            const uint8_t *p;
            log_batch_header h;
            int rc = next_batch(j, &p, &h);
            if (rc < 0)
                return false;
            if (rc == 0) {
                advance_seg(j);
                continue;
            }
            if (!clean_batch(j, p, &h))
                return false;
            if (j->out.len >= OUT_FLUSH && !flush_out(j))
                return false;
        }
        if (!finish_group(j))
            return false;
    }
}

/* Frees what the pass allocated; drops an unposted .cleaned file. */
static void pass_release(job *j, bool failed) {
    reader_close(j);
    if (j->ofd >= 0)
        IOC(j->io, close, j->ofd);
    j->ofd = -1;
    if (j->cleaned_path) {
        if (failed) {
            char tp[4200];
            log_cl_seg_name(tp, sizeof tp, j->dir, j->segs[j->g_first].base,
                            ".txnindex.cleaned");
            log_cl_drop_group(j->io, j->dir, j->segs[j->g_first].base,
                              j->cleaned_path, tp);
        }
        free(j->cleaned_path);
        j->cleaned_path = NULL;
    }
    log_seg_index_free(&j->gidx);
    log_cleaner_map_free(&j->map);
    txn_meta_free(&j->map_txn);
    txn_meta_free(&j->g_txn);
    buf_free(&j->rbuf);
    buf_free(&j->plain);
    buf_free(&j->rec);
    buf_free(&j->out);
}

bool log_cl_run_job(job *j, const char **why) {
    j->rfd = j->ofd = -1;
    buf_init(&j->rbuf, 0);
    buf_init(&j->plain, 0);
    buf_init(&j->rec, 0);
    buf_init(&j->out, 0);
    /* keys <= records <= offsets in the dirty range: size the map to it */
    log_cleaner_map_init(&j->map, j->map_memory, j->load_factor,
                         (size_t)(j->uncleanable - j->first_dirty));
    j->st.map_bytes = log_cleaner_map_bytes(&j->map);
    j->st.map_max_bytes = j->st.map_bytes;
    txn_meta_init(&j->map_txn, j->aborted, j->naborted, j->first_dirty,
                  j->uncleanable);
    j->cur_seg = 0;
    while (j->cur_seg < j->nsegs && j->segs[j->cur_seg].end <= j->first_dirty)
        j->cur_seg++;
    j->cur_pos = 0;
    j->map_end = j->first_dirty;
    bool ok = false;
    if (map_work(j) < 0) {
        *why = "cannot read the dirty section";
    } else if (j->map.n == 0 && j->map_end <= j->first_dirty) {
        *why = "nothing to clean";
    } else {
        txn_meta_free(&j->map_txn);
        reader_close(j);
        ok = clean_work(j);
        if (!ok)
            *why = "the log changed or could not be read/written";
    }
    if (!ok && atomic_load(&j->cancel))
        *why = "aborted (the log changed or the cleaner stops)";
    pass_release(j, !ok);
    return ok;
}
