/*
 * segment.c - one segment of a partition log: its files
 * (<base>.log/.index/.timeindex), open/close under the LRU, the offset and
 * time indexes, finalizing at roll and close, position lookup, the roll
 * itself; and the cleaner's view of segments (log_segment_get,
 * log_replace_segments, the log_seg_index builder).
 *
 * Keeps (numbers of log_int.h):
 *  3. segs[] sorted and contiguous: segments are added only at the end
 *     (lg_segs_push, lg_add_new_segment at the next offset) and replaced
 *     only by a cleaned group covering the same range.
 *  4. Index entries grow strictly (idx_append, tidx_maybe_append skip
 *     anything not above the last); rolled segments' index files are
 *     trimmed (lg_seg_finalize), the active one's preallocated.
 *  6. At most max_open segments are open: lg_seg_open closes the least
 *     recently used first.
 *  7. lg_roll fsyncs the partition directory (the old segment's entry)
 *     before the new segment's file is created.
 */
#include "log_int.h"
#include "cleaner.h"

void lg_seg_file(const log_partition *part, int64_t base, const char *ext,
                 char *out, size_t n) {
    snprintf(out, n, "%s/%020" PRId64 "%s", part->path, base, ext);
}

/* ---- segment open/close (LRU) ------------------------------------------- */
static void lru_unlink(log_manager *mgr, log_segment *s) {
    if (s->lru_prev)
        s->lru_prev->lru_next = s->lru_next;
    else
        mgr->lru_head = s->lru_next;
    if (s->lru_next)
        s->lru_next->lru_prev = s->lru_prev;
    else
        mgr->lru_tail = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
}

static void lru_push(log_manager *mgr, log_segment *s) {
    s->lru_prev = NULL;
    s->lru_next = mgr->lru_head;
    if (mgr->lru_head)
        mgr->lru_head->lru_prev = s;
    mgr->lru_head = s;
    if (!mgr->lru_tail)
        mgr->lru_tail = s;
}

void lg_seg_close(log_segment *s) {
    log_manager *mgr = s->part->mgr;
    if (s->fd < 0)
        return;
    IOCALL(mgr, close, s->fd);
    if (s->idx_fd >= 0)
        IOCALL(mgr, close, s->idx_fd);
    if (s->tidx_fd >= 0)
        IOCALL(mgr, close, s->tidx_fd);
    s->fd = s->idx_fd = s->tidx_fd = -1;
    s->idx_lazy = false;
    free(s->idx);
    free(s->tidx);
    s->idx = NULL;
    s->tidx = NULL;
    s->cap_idx = s->cap_tidx = 0;
    lru_unlink(mgr, s);
    mgr->open_count--;
}

static bool load_index_file(log_manager *mgr, const char *path, void **arr,
                            int32_t n, size_t esz) {
    if (n == 0)
        return true;
    int fd = IOCALL(mgr, open, path, O_RDONLY, 0);
    if (fd < 0)
        return false;
    uint8_t *raw = xmalloc((size_t)n * esz);
    ssize_t r = log_io_read_full(mgr->io, fd, raw, (size_t)n * esz, 0);
    IOCALL(mgr, close, fd);
    if (r != (ssize_t)((size_t)n * esz)) {
        free(raw);
        return false;
    }
    if (esz == IDX_ENTRY) {
        idx_entry *e = xmalloc(sizeof(*e) * (size_t)n);
        for (int32_t i = 0; i < n; i++) {
            e[i].rel = (int32_t)sl_load_be32(raw + i * 8);
            e[i].pos = (int32_t)sl_load_be32(raw + i * 8 + 4);
        }
        *arr = e;
    } else {
        tidx_entry *e = xmalloc(sizeof(*e) * (size_t)n);
        for (int32_t i = 0; i < n; i++) {
            e[i].ts = (int64_t)sl_load_be64(raw + i * 12);
            e[i].rel = (int32_t)sl_load_be32(raw + i * 12 + 8);
        }
        *arr = e;
    }
    free(raw);
    return true;
}

static bool is_active(const log_segment *s) {
    const log_partition *p = s->part;
    return p->nsegs > 0 && p->segs[p->nsegs - 1] == s;
}

/* Makes s open (fd + index arrays; index fds for the active segment). */
static bool seg_open_index_files(log_segment *s);

bool lg_seg_open(log_segment *s) {
    log_partition *part = s->part;
    log_manager *mgr = part->mgr;
    if (s->fd >= 0) {
        if (mgr->lru_head != s) {
            lru_unlink(mgr, s);
            lru_push(mgr, s);
        }
        return true;
    }
    while (mgr->open_count >= mgr->max_open && mgr->lru_tail)
        lg_seg_close(mgr->lru_tail);
    char path[4096];
    lg_seg_file(part, s->base, ".log", path, sizeof(path));
    int fd = IOCALL(mgr, open, path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
        lg_poison(part, "open segment");
        return false;
    }
    s->fd = fd;
    s->idx_fd = s->tidx_fd = -1;
    mgr->stats.segment_opens++;
    char ip[4096], tp[4096];
    lg_seg_file(part, s->base, ".index", ip, sizeof(ip));
    lg_seg_file(part, s->base, ".timeindex", tp, sizeof(tp));
    void *a = NULL, *b = NULL;
    if (!load_index_file(mgr, ip, &a, s->n_idx, IDX_ENTRY) ||
        !load_index_file(mgr, tp, &b, s->n_tidx, TIDX_ENTRY)) {
        free(a);
        IOCALL(mgr, close, fd);
        s->fd = -1;
        lg_poison(part, "read index");
        return false;
    }
    s->idx = a;
    s->tidx = b;
    s->cap_idx = s->n_idx;
    s->cap_tidx = s->n_tidx;
    lru_push(mgr, s);
    mgr->open_count++;
    if (is_active(s)) {
        /* An empty active segment gets its index files with its first index
         * entry (Kafka's LazyIndex): a new partition costs one file less
         * of each, which is most of the time of creating many. */
        if (s->n_idx == 0 && s->n_tidx == 0 && !s->active_files) {
            s->idx_lazy = true;
            return true;
        }
        return seg_open_index_files(s);
    }
    return true;
}

/* Opens (creating, preallocated) the index files of the open active s. */
static bool seg_open_index_files(log_segment *s) {
    log_partition *part = s->part;
    log_manager *mgr = part->mgr;
    char ip[4096], tp[4096];
    lg_seg_file(part, s->base, ".index", ip, sizeof(ip));
    lg_seg_file(part, s->base, ".timeindex", tp, sizeof(tp));
    s->idx_lazy = false;
    s->idx_fd = IOCALL(mgr, open, ip, O_RDWR | O_CREAT, 0644);
    s->tidx_fd = IOCALL(mgr, open, tp, O_RDWR | O_CREAT, 0644);
    if (s->idx_fd < 0 || s->tidx_fd < 0) {
        lg_seg_close(s);
        lg_poison(part, "open index");
        return false;
    }
    if (!s->active_files) {
        /* Preallocate as Kafka does (sparse). */
        int32_t ib = part->cfg.segment_index_bytes;
        IOCALL(mgr, ftruncate, s->idx_fd, (off_t)(ib / IDX_ENTRY * IDX_ENTRY));
        IOCALL(mgr, ftruncate, s->tidx_fd,
               (off_t)(ib / TIDX_ENTRY * TIDX_ENTRY));
        s->active_files = true;
    }
    return true;
}

log_segment *lg_seg_new(log_partition *part, int64_t base) {
    log_segment *s = xcalloc(1, sizeof(*s));
    s->part = part;
    s->base = base;
    s->next_offset = base;
    s->max_ts = -1;
    s->max_ts_offset = -1;
    s->first_batch_ts = -1;
    s->last_tidx_ts = -1;
    s->created_ms = clk_wall_ms();
    s->fd = s->idx_fd = s->tidx_fd = -1;
    return s;
}

void lg_seg_free(log_segment *s) {
    lg_seg_close(s);
    free(s);
}

/* ---- index maintenance -----------------------------------------------------
 */
static bool idx_append(log_segment *s, int64_t last_offset, int64_t pos) {
    log_manager *mgr = s->part->mgr;
    if (s->n_idx == s->cap_idx) {
        s->cap_idx = s->cap_idx ? s->cap_idx * 2 : 64;
        s->idx = xrealloc(s->idx, sizeof(*s->idx) * (size_t)s->cap_idx);
    }
    idx_entry e = {(int32_t)(last_offset - s->base), (int32_t)pos};
    if (s->n_idx && (e.rel <= s->idx[s->n_idx - 1].rel))
        return true; /* keep strictly increasing */
    /* invariant 4: positions grow with offsets (a later batch lies after) */
    SL_ASSERT(!s->n_idx || e.pos > s->idx[s->n_idx - 1].pos);
    if (s->idx_lazy && !seg_open_index_files(s))
        return false;
    s->idx[s->n_idx] = e;
    if (s->idx_fd >= 0) {
        uint8_t raw[8];
        sl_store_be32(raw, (uint32_t)e.rel);
        sl_store_be32(raw + 4, (uint32_t)e.pos);
        if (!log_io_write_all(mgr->io, s->idx_fd, raw, 8,
                              (off_t)s->n_idx * IDX_ENTRY))
            return false;
    }
    s->n_idx++;
    return true;
}

static bool tidx_maybe_append(log_segment *s, int64_t ts, int64_t offset) {
    log_manager *mgr = s->part->mgr;
    if (ts < 0 || ts <= s->last_tidx_ts)
        return true;
    if (s->n_tidx && (int32_t)(offset - s->base) < s->tidx[s->n_tidx - 1].rel)
        return true;
    if (s->n_tidx == s->cap_tidx) {
        s->cap_tidx = s->cap_tidx ? s->cap_tidx * 2 : 64;
        s->tidx = xrealloc(s->tidx, sizeof(*s->tidx) * (size_t)s->cap_tidx);
    }
    if (s->idx_lazy && !seg_open_index_files(s))
        return false;
    tidx_entry e = {ts, (int32_t)(offset - s->base)};
    if (s->n_tidx && s->tidx[s->n_tidx - 1].rel == e.rel) {
        /* same offset, larger timestamp: overwrite the last entry */
        s->n_tidx--;
    }
    s->tidx[s->n_tidx] = e;
    if (s->tidx_fd >= 0) {
        uint8_t raw[12];
        sl_store_be64(raw, (uint64_t)e.ts);
        sl_store_be32(raw + 8, (uint32_t)e.rel);
        if (!log_io_write_all(mgr->io, s->tidx_fd, raw, 12,
                              (off_t)s->n_tidx * TIDX_ENTRY))
            return false;
    }
    s->n_tidx++;
    s->last_tidx_ts = ts;
    return true;
}

/* Accounts one batch that now sits at pos in s (append and rebuild). */
bool lg_seg_account_batch(log_segment *s, const log_batch_header *h,
                          int64_t pos, int32_t interval) {
    /* invariants 3 and 4: whole batches, back to back, offsets growing */
    SL_ASSERT(pos == s->size && h->base_offset >= s->next_offset);
    int64_t last = batch_last_offset(h);
    if (s->size == 0 || s->first_batch_ts < 0)
        s->first_batch_ts = h->max_timestamp;
    if (h->max_timestamp > s->max_ts) {
        s->max_ts = h->max_timestamp;
        s->max_ts_offset = last;
    }
    bool ok = true;
    if (s->bytes_since_index > interval) {
        ok = idx_append(s, last, pos) &&
             tidx_maybe_append(s, s->max_ts, s->max_ts_offset);
        s->bytes_since_index = 0;
    }
    s->bytes_since_index += batch_size(h);
    s->next_offset = last + 1;
    return ok;
}

/* Writes the arrays of s to its index files at their exact size (used after a
 * rebuild and at roll/close). prealloc: active segment stays
 * preallocated. */
bool lg_seg_write_indexes(log_segment *s, bool prealloc) {
    log_partition *part = s->part;
    log_manager *mgr = part->mgr;
    char ip[4096], tp[4096];
    lg_seg_file(part, s->base, ".index", ip, sizeof(ip));
    lg_seg_file(part, s->base, ".timeindex", tp, sizeof(tp));
    bool ok = true;
    for (int k = 0; k < 2 && ok; k++) {
        int fd = IOCALL(mgr, open, k ? tp : ip, O_RDWR | O_CREAT, 0644);
        if (fd < 0)
            return false;
        size_t esz = k ? TIDX_ENTRY : IDX_ENTRY;
        int32_t n = k ? s->n_tidx : s->n_idx;
        uint8_t *raw = xmalloc((size_t)n * esz + 1);
        for (int32_t i = 0; i < n; i++) {
            if (k) {
                sl_store_be64(raw + i * 12, (uint64_t)s->tidx[i].ts);
                sl_store_be32(raw + i * 12 + 8, (uint32_t)s->tidx[i].rel);
            } else {
                sl_store_be32(raw + i * 8, (uint32_t)s->idx[i].rel);
                sl_store_be32(raw + i * 8 + 4, (uint32_t)s->idx[i].pos);
            }
        }
        off_t len = (off_t)((size_t)n * esz);
        if (prealloc)
            len = (off_t)(part->cfg.segment_index_bytes / (int32_t)esz *
                          (int32_t)esz);
        ok = IOCALL(mgr, ftruncate, fd, 0) == 0 &&
             IOCALL(mgr, ftruncate, fd, len) == 0 &&
             log_io_write_all(mgr->io, fd, raw, (size_t)n * esz, 0);
        free(raw);
        IOCALL(mgr, close, fd);
    }
    s->active_files = prealloc;
    return ok;
}

/* The segment is no longer written: final time-index entry, trim the index
 * files, fsync everything (Kafka's onBecomeInactiveSegment + flush). With
 * job (roll), the fsyncs are left to the flusher: the index fds are handed
 * over to the job and the .log fd is dup'ed into it. */
bool lg_seg_finalize(log_segment *s, flush_job *job) {
    log_manager *mgr = s->part->mgr;
    if (!lg_seg_open(s))
        return false;
    if (s->max_ts >= 0 && !tidx_maybe_append(s, s->max_ts, s->max_ts_offset))
        return false;
    bool ok = true;
    if (s->idx_fd >= 0) {
        ok = IOCALL(mgr, ftruncate, s->idx_fd, (off_t)s->n_idx * IDX_ENTRY) ==
                 0 &&
             IOCALL(mgr, ftruncate, s->tidx_fd,
                    (off_t)s->n_tidx * TIDX_ENTRY) == 0;
        if (job) {
            job->fds[job->nfds++] = s->idx_fd;
            job->fds[job->nfds++] = s->tidx_fd;
        } else {
            ok = ok && IOCALL(mgr, fsync, s->idx_fd) == 0 &&
                 IOCALL(mgr, fsync, s->tidx_fd) == 0;
            IOCALL(mgr, close, s->idx_fd);
            IOCALL(mgr, close, s->tidx_fd);
        }
        s->idx_fd = s->tidx_fd = -1;
    } else if (s->active_files) {
        ok = lg_seg_write_indexes(s, false);
    }
    s->active_files = false;
    if (job) {
        int fd = ok ? IOCALL(mgr, dup, s->fd) : -1;
        if (fd < 0)
            return false;
        job->fds[job->nfds++] = fd;
        return true;
    }
    return ok && IOCALL(mgr, fsync, s->fd) == 0;
}

/* Finds the position of the first batch in s whose last offset >= offset,
 * starting from the index; s->size if none. -1 on I/O error. */
int64_t lg_seg_lookup_pos(log_segment *s, int64_t offset) {
    log_manager *mgr = s->part->mgr;
    if (offset >= s->next_offset)
        return s->size;
    int64_t pos = 0;
    int32_t rel = (int32_t)SL_MIN(offset - s->base, (int64_t)INT32_MAX);
    int32_t lo = 0, hi = s->n_idx - 1, found = -1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (s->idx[mid].rel <= rel) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    if (found >= 0)
        pos = s->idx[found].pos;
    uint8_t h[BATCH_OFF_BASE_TIMESTAMP];
    while (pos < s->size) {
        ssize_t r = log_io_read_full(mgr->io, s->fd, h, sizeof(h), (off_t)pos);
        if (r != (ssize_t)sizeof(h))
            return -1;
        int64_t bo = (int64_t)sl_load_be64(h);
        int32_t len = (int32_t)sl_load_be32(h + BATCH_OFF_LENGTH);
        int32_t lod = (int32_t)sl_load_be32(h + BATCH_OFF_LAST_OFFSET_DELTA);
        if (bo + lod >= offset)
            return pos;
        pos += (int64_t)len + BATCH_LOG_OVERHEAD;
    }
    return s->size;
}

/* ---- partition lifecycle
 * ----------------------------------------------------- */
log_segment *lg_active(log_partition *part) {
    return part->segs[part->nsegs - 1];
}

void lg_segs_push(log_partition *part, log_segment *s) {
    /* invariant 3: sorted by base offset */
    SL_ASSERT(!part->nsegs || part->segs[part->nsegs - 1]->base < s->base);
    if (part->nsegs == part->capsegs) {
        part->capsegs = part->capsegs ? part->capsegs * 2 : 4;
        part->segs =
            xrealloc(part->segs, sizeof(*part->segs) * (size_t)part->capsegs);
    }
    part->segs[part->nsegs++] = s;
}

void lg_seg_delete_files(log_partition *part, int64_t base) {
    static const char *exts[] = {".log", ".index", ".timeindex", ".txnindex"};
    /* invariant 7: the unlinks are durable before a flush counts on them
     * (a truncated segment that came back would serve divergent data) */
    part->dir_unsynced = true;
    for (size_t i = 0; i < SL_ARRAY_LEN(exts); i++) {
        char p[4096];
        lg_seg_file(part, base, exts[i], p, sizeof(p));
        IOCALL(part->mgr, unlink, p);
    }
}

bool lg_add_new_segment(log_partition *part, int64_t base) {
    log_segment *s = lg_seg_new(part, base);
    lg_segs_push(part, s);
    part->dir_unsynced = true; /* lg_seg_open creates the .log */
    if (!lg_seg_open(s)) {
        return false;
    }
    return true;
}

/* ---- roll
 * ---------------------------------------------------------------------- */
bool lg_roll(log_partition *part) {
    log_segment *old = lg_active(part);
    int64_t base = old->next_offset;
    /* Kafka flushes the rolled segment asynchronously (flushUptoOffset-
     * Exclusive = the new base); the recovery point follows when done. */
    flush_job *job = lg_job_new(part, base);
    if (!lg_seg_finalize(old, job)) {
        lg_job_free(part->mgr, job);
        lg_poison(part, "roll");
        return false;
    }
    lg_hold_job(part->mgr, job);
    /* Invariant 7: the old segment's entry is durable before the new
     * segment's can be (one directory fsync per roll, always: a flush job
     * that took the directory may not have run yet). */
    part->dir_unsynced = true;
    if (!lg_sync_part_dirs(part, NULL)) {
        lg_poison(part, "fsync directory");
        return false;
    }
    (void)SL_FAULT(LOG_ROLL_MID); /* crash tests: crash here */
    /* A stale file of that name (left by a crash) is replaced. */
    lg_seg_delete_files(part, base);
    if (!lg_add_new_segment(part, base))
        return false;
    SL_DEBUG(MOD, "Rolled new log segment for %s-%d at offset %" PRId64,
             part->topic, part->partition, base);
    return true;
}

int lg_seg_index_for(const log_partition *part, int64_t offset) {
    int lo = 0, hi = part->nsegs - 1, ans = 0;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (part->segs[mid]->base <= offset) {
            ans = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return ans;
}

/* ---- cleaner hooks
 * ------------------------------------------------------------- */
void log_segment_get(const log_partition *part, int i, log_segment_info *out) {
    const log_segment *s = part->segs[i];
    out->base = s->base;
    out->end_offset = s->next_offset;
    out->size = s->size;
    out->max_timestamp = s->max_ts;
    out->first_batch_timestamp = s->first_batch_ts;
}

const char *log_path(const log_partition *part) {
    return part->path;
}

int16_t log_replace_segments(log_partition *part, int first, int count,
                             const char *cleaned_log,
                             const char *cleaned_txnindex,
                             const log_seg_index *built) {
    if (part->failed)
        return KERR_KAFKA_STORAGE_ERROR;
    if (first < 0 || count <= 0 || first + count >= part->nsegs)
        return KERR_INVALID_REQUEST; /* never the active segment */
    int64_t end = part->segs[first + count]->base;
    int64_t *bases = xmalloc(sizeof(*bases) * (size_t)count);
    for (int i = 0; i < count; i++) {
        bases[i] = part->segs[first + i]->base;
        lg_seg_close(part->segs[first + i]);
    }
    int rc = log_cleaner_swap_in(part->mgr->io, part->path, bases, count, end,
                                 cleaned_log, cleaned_txnindex, built != NULL);
    free(bases);
    if (rc != 0) {
        lg_poison(part, "replace segments");
        return KERR_KAFKA_STORAGE_ERROR;
    }
    log_segment *ns = lg_seg_new(part, part->segs[first]->base);
    for (int i = 0; i < count; i++)
        free(part->segs[first + i]);
    part->segs[first] = ns;
    memmove(part->segs + first + 1, part->segs + first + count,
            sizeof(*part->segs) * (size_t)(part->nsegs - first - count));
    part->nsegs -= count - 1;
    if (built) {
        /* the writer's index is what a rebuild would produce: adopt it
         * (the entries load from the swapped-in files when opened) */
        ns->size = built->size;
        ns->max_ts = built->max_ts;
        ns->max_ts_offset = built->max_ts_offset;
        ns->first_batch_ts = built->first_batch_ts;
        ns->last_tidx_ts = built->last_tidx_ts;
        ns->bytes_since_index = built->bytes_since_index;
        ns->n_idx = built->n_idx;
        ns->n_tidx = built->n_tidx;
    } else {
        bool cut = false;
        if (!lg_seg_rebuild(ns, &cut))
            return KERR_KAFKA_STORAGE_ERROR;
    }
    ns->next_offset = end;
    lg_seg_close(ns);
    return KERR_NONE;
}

void log_seg_index_init(log_seg_index *x, int64_t base, int32_t interval) {
    memset(x, 0, sizeof(*x));
    x->base = base;
    x->interval = interval;
    x->next_offset = base;
    x->max_ts = x->max_ts_offset = -1;
    x->first_batch_ts = x->last_tidx_ts = -1;
}

void log_seg_index_free(log_seg_index *x) {
    free(x->idx);
    free(x->tidx);
    x->idx = x->tidx = NULL;
    x->n_idx = x->n_tidx = x->cap_idx = x->cap_tidx = 0;
}

static int32_t sidx_last_rel(const log_seg_index *x) {
    return (int32_t)sl_load_be32(x->idx + (size_t)(x->n_idx - 1) * IDX_ENTRY);
}

static int32_t sidx_last_trel(const log_seg_index *x) {
    return (int32_t)sl_load_be32(x->tidx +
                                 (size_t)(x->n_tidx - 1) * TIDX_ENTRY + 8);
}

/* Mirrors lg_seg_account_batch + idx_append + tidx_maybe_append. */
void log_seg_index_add(log_seg_index *x, const uint8_t *hdr) {
    log_batch_header h;
    batch_parse_header(hdr, BATCH_HEADER_SIZE, &h);
    int64_t pos = x->size;
    int64_t last = batch_last_offset(&h);
    if (pos == 0 || x->first_batch_ts < 0)
        x->first_batch_ts = h.max_timestamp;
    if (h.max_timestamp > x->max_ts) {
        x->max_ts = h.max_timestamp;
        x->max_ts_offset = last;
    }
    if (x->bytes_since_index > x->interval) {
        int32_t rel = (int32_t)(last - x->base);
        if (!x->n_idx || rel > sidx_last_rel(x)) {
            if (x->n_idx == x->cap_idx) {
                x->cap_idx = x->cap_idx ? x->cap_idx * 2 : 64;
                x->idx = xrealloc(x->idx, (size_t)x->cap_idx * IDX_ENTRY);
            }
            uint8_t *e = x->idx + (size_t)x->n_idx * IDX_ENTRY;
            sl_store_be32(e, (uint32_t)rel);
            sl_store_be32(e + 4, (uint32_t)pos);
            x->n_idx++;
        }
        int64_t ts = x->max_ts;
        int32_t trel = (int32_t)(x->max_ts_offset - x->base);
        if (ts >= 0 && ts > x->last_tidx_ts &&
            !(x->n_tidx && trel < sidx_last_trel(x))) {
            if (x->n_tidx && sidx_last_trel(x) == trel)
                x->n_tidx--; /* same offset, larger timestamp */
            if (x->n_tidx == x->cap_tidx) {
                x->cap_tidx = x->cap_tidx ? x->cap_tidx * 2 : 64;
                x->tidx = xrealloc(x->tidx, (size_t)x->cap_tidx * TIDX_ENTRY);
            }
            uint8_t *e = x->tidx + (size_t)x->n_tidx * TIDX_ENTRY;
            sl_store_be64(e, (uint64_t)ts);
            sl_store_be32(e + 8, (uint32_t)trel);
            x->n_tidx++;
            x->last_tidx_ts = ts;
        }
        x->bytes_since_index = 0;
    }
    x->bytes_since_index += batch_size(&h);
    x->next_offset = last + 1;
    x->size = pos + batch_size(&h);
}
