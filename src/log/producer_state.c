/*
 * producer_state.c - see producer_state.h (Kafka's ProducerStateManager).
 *
 * Invariants:
 *  - entries hold at most PS_MAX_BATCHES batch metadata, oldest first; they
 *    all have the entry's epoch (a new epoch clears them).
 *  - txn_first_offset >= 0 exactly while the producer has data batches of an
 *    open transaction in this partition (set by the first transactional
 *    batch, cleared by its COMMIT/ABORT marker).
 *  - aborted is sorted by last_offset and holds no two entries with the
 *    same (producer id, last offset).
 * Threading: loop thread only.
 */
#include "log/producer_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/crc32c.h"
#include "core/util.h"
#include "log/log.h"
#include "proto/errors.h"

#define SNAP_VERSION 1
#define SNAP_ENTRY 46

void ps_init(ps_state *s) {
    memset(s, 0, sizeof *s);
}

void ps_free(ps_state *s) {
    free(s->entries);
    free(s->aborted);
    memset(s, 0, sizeof *s);
}

void ps_clear(ps_state *s) {
    s->n = 0;
    s->n_aborted = 0;
}

ps_entry *ps_find(ps_state *s, int64_t producer_id) {
    for (int i = 0; i < s->n; i++)
        if (s->entries[i].producer_id == producer_id)
            return &s->entries[i];
    return NULL;
}

static ps_entry *entry_get(ps_state *s, int64_t pid) {
    ps_entry *e = ps_find(s, pid);
    if (e)
        return e;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->entries = xrealloc(s->entries, (size_t)s->cap * sizeof *s->entries);
    }
    e = &s->entries[s->n++];
    memset(e, 0, sizeof *e);
    e->producer_id = pid;
    e->epoch = -1;
    e->last_timestamp = -1;
    e->coordinator_epoch = -1;
    e->txn_first_offset = -1;
    return e;
}

/* DefaultRecordBatch.incrementSequence */
static int32_t seq_add(int32_t seq, int32_t inc) {
    if (seq > INT32_MAX - inc)
        return inc - (INT32_MAX - seq) - 1;
    return seq + inc;
}

static bool in_sequence(int32_t last, int32_t next) {
    return (int64_t)next == (int64_t)last + 1 ||
           (next == 0 && last == INT32_MAX);
}

static int32_t entry_last_seq(const ps_entry *e) {
    return e->n_batches ? e->batches[e->n_batches - 1].last_seq : -1;
}

int ps_check(ps_state *s, const log_batch_header *h, ps_batch_meta *dup,
             const char **msg) {
    *msg = NULL;
    if (h->producer_id < 0)
        return 0;
    ps_entry *e = ps_find(s, h->producer_id);
    bool txn = batch_is_transactional(h);
    if (!e) /* unknown producer: any sequence (state may have expired) */
        return 0;
    if (h->producer_epoch < e->epoch) {
        *msg = "Epoch of producer is smaller than the last seen epoch";
        return KERR_INVALID_PRODUCER_EPOCH;
    }
    int32_t first = h->base_sequence;
    int32_t last = seq_add(first, h->last_offset_delta);
    if (h->producer_epoch == e->epoch) {
        for (int i = 0; i < e->n_batches; i++) {
            if (e->batches[i].first_seq == first &&
                e->batches[i].last_seq == last) {
                *dup = e->batches[i];
                return PS_DUPLICATE;
            }
        }
    }
    if (h->producer_epoch != e->epoch) {
        if (first != 0 && e->epoch != -1) {
            *msg = "Invalid sequence number for new epoch";
            return KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
        }
    } else {
        int32_t cur = entry_last_seq(e);
        if (!(e->epoch == -1 || in_sequence(cur, first))) {
            *msg = "Out of order sequence number";
            return KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
        }
    }
    if (!txn && e->txn_first_offset >= 0 && h->producer_epoch == e->epoch) {
        *msg = "Expected transactional write from producer";
        return KERR_INVALID_TXN_STATE;
    }
    return 0;
}

static void entry_set_epoch(ps_entry *e, int16_t epoch) {
    if (e->epoch != epoch) {
        e->epoch = epoch;
        e->n_batches = 0;
    }
}

void ps_update(ps_state *s, const log_batch_header *h) {
    if (h->producer_id < 0 || batch_is_control(h))
        return;
    ps_entry *e = entry_get(s, h->producer_id);
    entry_set_epoch(e, h->producer_epoch);
    if (h->base_sequence >= 0) {
        if (e->n_batches == PS_MAX_BATCHES) {
            memmove(&e->batches[0], &e->batches[1],
                    (PS_MAX_BATCHES - 1) * sizeof e->batches[0]);
            e->n_batches--;
        }
        ps_batch_meta *m = &e->batches[e->n_batches++];
        m->first_seq = h->base_sequence;
        m->last_seq = seq_add(h->base_sequence, h->last_offset_delta);
        m->first_offset = h->base_offset;
        m->last_offset = batch_last_offset(h);
        m->timestamp = h->max_timestamp;
    }
    e->last_timestamp = h->max_timestamp;
    if (batch_is_transactional(h) && e->txn_first_offset < 0)
        e->txn_first_offset = h->base_offset;
}

int64_t ps_first_unstable(const ps_state *s) {
    int64_t m = -1;
    for (int i = 0; i < s->n; i++) {
        int64_t f = s->entries[i].txn_first_offset;
        if (f >= 0 && (m < 0 || f < m))
            m = f;
    }
    return m;
}

void ps_add_aborted(ps_state *s, const ps_aborted *ab) {
    int i = s->n_aborted;
    while (i > 0 && s->aborted[i - 1].last_offset > ab->last_offset)
        i--;
    for (int j = i - 1; j >= 0 && s->aborted[j].last_offset == ab->last_offset;
         j--)
        if (s->aborted[j].producer_id == ab->producer_id)
            return;
    if (s->n_aborted == s->cap_aborted) {
        s->cap_aborted = s->cap_aborted ? s->cap_aborted * 2 : 8;
        s->aborted =
            xrealloc(s->aborted, (size_t)s->cap_aborted * sizeof *s->aborted);
    }
    memmove(&s->aborted[i + 1], &s->aborted[i],
            (size_t)(s->n_aborted - i) * sizeof *s->aborted);
    s->aborted[i] = *ab;
    s->n_aborted++;
}

int16_t ps_check_marker(ps_state *s, int64_t producer_id,
                        int32_t coordinator_epoch) {
    const ps_entry *e = ps_find(s, producer_id);
    return e && e->coordinator_epoch > coordinator_epoch
               ? KERR_TRANSACTION_COORDINATOR_FENCED
               : KERR_NONE;
}

bool ps_apply_marker(ps_state *s, int64_t producer_id, int16_t epoch, int type,
                     int32_t coordinator_epoch, int64_t offset,
                     ps_aborted *ab) {
    ps_entry *e = entry_get(s, producer_id);
    int64_t first = e->txn_first_offset >= 0 ? e->txn_first_offset : offset;
    if (epoch > e->epoch)
        entry_set_epoch(e, epoch);
    e->txn_first_offset = -1;
    e->coordinator_epoch = coordinator_epoch;
    if (type != BATCH_CONTROL_ABORT)
        return false;
    int64_t fu = ps_first_unstable(s);
    ab->producer_id = producer_id;
    ab->first_offset = first;
    ab->last_offset = offset;
    ab->last_stable_offset = fu >= 0 ? fu : offset + 1;
    ps_add_aborted(s, ab);
    return true;
}

bool ps_replay_batch(ps_state *s, const uint8_t *batch,
                     const log_batch_header *h, ps_aborted *ab) {
    if (h->producer_id < 0)
        return false;
    if (!batch_is_control(h)) {
        ps_update(s, h);
        return false;
    }
    /* Control record: uncompressed in practice; key = version int16, type
     * int16. */
    if (batch_compression(h) != 0 || batch_size(h) <= BATCH_HEADER_SIZE)
        return false;
    batch_iter it;
    batch_iter_init(&it, h, batch + BATCH_HEADER_SIZE,
                    (size_t)batch_size(h) - BATCH_HEADER_SIZE);
    log_record r;
    if (batch_iter_next(&it, &r) != 1 || r.key_len < 4)
        return false;
    int type = (int16_t)sl_load_be16(r.key + 2);
    if (type != BATCH_CONTROL_ABORT && type != BATCH_CONTROL_COMMIT)
        return false;
    int32_t ce = r.value_len >= 6 ? (int32_t)sl_load_be32(r.value + 2) : -1;
    return ps_apply_marker(s, h->producer_id, h->producer_epoch, type, ce,
                           h->base_offset, ab);
}

int ps_aborted_in(const ps_state *s, int64_t from, int64_t to,
                  void (*fn)(void *ctx, const ps_aborted *ab), void *ctx) {
    int n = 0;
    for (int i = 0; i < s->n_aborted; i++) {
        const ps_aborted *a = &s->aborted[i];
        if (a->last_offset >= from && a->first_offset < to) {
            if (fn)
                fn(ctx, a);
            n++;
        }
    }
    return n;
}

void ps_trim_aborted(ps_state *s, int64_t offset) {
    int k = 0;
    while (k < s->n_aborted && s->aborted[k].last_offset < offset)
        k++;
    if (k) {
        memmove(s->aborted, s->aborted + k,
                (size_t)(s->n_aborted - k) * sizeof *s->aborted);
        s->n_aborted -= k;
    }
}

int ps_expire(ps_state *s, int64_t now_ms, int64_t expiration_ms) {
    int n = 0;
    for (int i = 0; i < s->n;) {
        ps_entry *e = &s->entries[i];
        if (e->txn_first_offset < 0 &&
            now_ms - e->last_timestamp >= expiration_ms) {
            s->entries[i] = s->entries[--s->n];
            n++;
        } else {
            i++;
        }
    }
    return n;
}

/* ---- snapshots
 * -------------------------------------------------------------------- */

void ps_snapshot_encode(const ps_state *s, buf *out) {
    size_t start = out->len;
    buf_put_be16(out, SNAP_VERSION);
    buf_put_be32(out, 0); /* crc, below */
    size_t body = out->len;
    buf_put_be32(out, (uint32_t)s->n);
    for (int i = 0; i < s->n; i++) {
        const ps_entry *e = &s->entries[i];
        const ps_batch_meta *m =
            e->n_batches ? &e->batches[e->n_batches - 1] : NULL;
        buf_put_be64(out, (uint64_t)e->producer_id);
        buf_put_be16(out, (uint16_t)e->epoch);
        buf_put_be32(out, (uint32_t)(m ? m->last_seq : -1));
        buf_put_be64(out, (uint64_t)(m ? m->last_offset : -1));
        buf_put_be32(
            out,
            (uint32_t)(m ? (int32_t)(m->last_offset - m->first_offset) : 0));
        buf_put_be64(out, (uint64_t)e->last_timestamp);
        buf_put_be32(out, (uint32_t)e->coordinator_epoch);
        buf_put_be64(out, (uint64_t)e->txn_first_offset);
    }
    uint32_t crc = crc32c(0, out->data + body, out->len - body);
    sl_store_be32(out->data + start + 2, crc);
}

bool ps_snapshot_decode(ps_state *s, const uint8_t *p, size_t n) {
    if (n < 10 || sl_load_be16(p) != SNAP_VERSION)
        return false;
    uint32_t crc = sl_load_be32(p + 2);
    if (crc32c(0, p + 6, n - 6) != crc)
        return false;
    int32_t cnt = (int32_t)sl_load_be32(p + 6);
    if (cnt < 0 || (size_t)cnt * SNAP_ENTRY != n - 10)
        return false;
    s->n = 0;
    const uint8_t *q = p + 10;
    for (int32_t i = 0; i < cnt; i++, q += SNAP_ENTRY) {
        ps_entry *e = entry_get(s, (int64_t)sl_load_be64(q));
        e->epoch = (int16_t)sl_load_be16(q + 8);
        int32_t last_seq = (int32_t)sl_load_be32(q + 10);
        int64_t last_off = (int64_t)sl_load_be64(q + 14);
        int32_t delta = (int32_t)sl_load_be32(q + 22);
        e->last_timestamp = (int64_t)sl_load_be64(q + 26);
        e->coordinator_epoch = (int32_t)sl_load_be32(q + 34);
        e->txn_first_offset = (int64_t)sl_load_be64(q + 38);
        e->n_batches = 0;
        if (last_seq >= 0 && last_off >= 0) {
            ps_batch_meta *m = &e->batches[e->n_batches++];
            m->last_seq = last_seq;
            m->first_seq = last_seq - delta >= 0 ? last_seq - delta : 0;
            m->last_offset = last_off;
            m->first_offset = last_off - delta;
            m->timestamp = e->last_timestamp;
        }
    }
    return true;
}

static const log_io *io_or_posix(const log_io *io) {
    return io ? io : &log_io_posix;
}

/* temp + fsync + rename; no directory fsync: a snapshot that reverts after
 * a crash only makes the next load use an older one and scan more. */
int ps_snapshot_write(const log_io *io, const ps_state *s, const char *dir,
                      int64_t offset) {
    io = io_or_posix(io);
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%020" PRId64 ".snapshot", dir, offset);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    buf b;
    buf_init(&b, 256);
    ps_snapshot_encode(s, &b);
    int fd = io->open(io->ctx, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = -1;
    if (fd >= 0) {
        if (log_io_write_all(io, fd, b.data, b.len, 0) &&
            io->fsync(io->ctx, fd) == 0)
            rc = 0;
        io->close(io->ctx, fd);
        if (rc == 0 && io->rename(io->ctx, tmp, path) != 0)
            rc = -1;
        if (rc)
            io->unlink(io->ctx, tmp);
    }
    buf_free(&b);
    return rc;
}

static bool parse_name(const char *name, const char *ext, int64_t *off) {
    size_t n = strlen(name), e = strlen(ext);
    if (n != 20 + e || strcmp(name + 20, ext) != 0)
        return false;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        v = v * 10 + (name[i] - '0');
    }
    *off = v;
    return true;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Offsets of dir's files named <20 digits><ext>, sorted. */
static int64_t *list_offsets(const log_io *io, const char *dir, const char *ext,
                             int *n) {
    *n = 0;
    int nnames;
    char **names = log_io_list_names(io, dir, &nnames);
    if (!names)
        return NULL;
    int64_t *v = NULL;
    int cap = 0;
    for (int k = 0; k < nnames; k++) {
        int64_t off;
        if (!parse_name(names[k], ext, &off))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            v = xrealloc(v, (size_t)cap * sizeof *v);
        }
        v[(*n)++] = off;
    }
    log_io_free_names(names, nnames);
    if (*n)
        qsort(v, (size_t)*n, sizeof *v, cmp_i64);
    return v;
}

int64_t ps_snapshot_load_latest(const log_io *io, ps_state *s, const char *dir,
                                int64_t max_offset) {
    io = io_or_posix(io);
    int n;
    int64_t *offs = list_offsets(io, dir, ".snapshot", &n);
    int64_t found = -1;
    for (int i = n - 1; i >= 0 && found < 0; i--) {
        if (offs[i] > max_offset)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%020" PRId64 ".snapshot", dir, offs[i]);
        size_t len;
        uint8_t *p = log_io_read_file(io, path, 256u << 20, &len);
        if (p && ps_snapshot_decode(s, p, len))
            found = offs[i];
        free(p);
    }
    free(offs);
    return found;
}

void ps_snapshot_clean(const log_io *io, const char *dir, int keep,
                       int64_t max_offset) {
    io = io_or_posix(io);
    int n;
    int64_t *offs = list_offsets(io, dir, ".snapshot", &n);
    int kept = 0;
    for (int i = n - 1; i >= 0; i--) {
        if (offs[i] <= max_offset && kept < keep) {
            kept++;
            continue;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%020" PRId64 ".snapshot", dir, offs[i]);
        io->unlink(io->ctx, path);
    }
    free(offs);
}

/* ---- .txnindex
 * ---------------------------------------------------------------------- */

void ps_txnindex_encode(const ps_aborted *ab, uint8_t out[PS_TXNINDEX_ENTRY]) {
    sl_store_be16(out, 0);
    sl_store_be64(out + 2, (uint64_t)ab->producer_id);
    sl_store_be64(out + 10, (uint64_t)ab->first_offset);
    sl_store_be64(out + 18, (uint64_t)ab->last_offset);
    sl_store_be64(out + 26, (uint64_t)ab->last_stable_offset);
}

int ps_txnindex_append(const log_io *io, const char *dir,
                       const ps_aborted *ab) {
    io = io_or_posix(io);
    int n;
    int64_t *segs = list_offsets(io, dir, ".log", &n);
    int64_t base = 0;
    for (int i = 0; i < n; i++)
        if (segs[i] <= ab->last_offset)
            base = segs[i];
    free(segs);
    char path[4096];
    snprintf(path, sizeof path, "%s/%020" PRId64 ".txnindex", dir, base);
    /* appended at the file's size (one writer: the loop thread), not with
     * O_APPEND, which the seam does not model */
    int fd = io->open(io->ctx, path, O_WRONLY | O_CREAT, 0644);
    if (fd < 0)
        return -1;
    uint8_t e[PS_TXNINDEX_ENTRY];
    ps_txnindex_encode(ab, e);
    log_io_stat st;
    int rc = io->fstat(io->ctx, fd, &st) == 0 &&
                     log_io_write_all(io, fd, e, sizeof e, (off_t)st.size) &&
                     io->fsync(io->ctx, fd) == 0
                 ? 0
                 : -1;
    io->close(io->ctx, fd);
    return rc;
}

int ps_txnindex_load(const log_io *io, ps_state *s, const char *dir, int64_t lo,
                     int64_t hi) {
    io = io_or_posix(io);
    int n, added = 0;
    int64_t *segs = list_offsets(io, dir, ".txnindex", &n);
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%020" PRId64 ".txnindex", dir, segs[i]);
        size_t len;
        uint8_t *p = log_io_read_file(io, path, 1u << 30, &len);
        if (!p)
            continue;
        for (size_t k = 0; k + PS_TXNINDEX_ENTRY <= len;
             k += PS_TXNINDEX_ENTRY) {
            const uint8_t *q = p + k;
            if (sl_load_be16(q) != 0)
                break;
            ps_aborted ab = {
                (int64_t)sl_load_be64(q + 2), (int64_t)sl_load_be64(q + 10),
                (int64_t)sl_load_be64(q + 18), (int64_t)sl_load_be64(q + 26)};
            if (ab.last_offset >= lo && ab.last_offset < hi) {
                ps_add_aborted(s, &ab);
                added++;
            }
        }
        free(p);
    }
    free(segs);
    return added;
}
