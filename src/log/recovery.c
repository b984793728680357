/*
 * recovery.c - loading a partition at log_manager_open: its directory
 * listed, segments whose data lies below the recovery point loaded as clean
 * (their indexes checked), the rest re-read batch by batch with their
 * indexes rebuilt (lg_seg_rebuild), the first invalid batch and everything
 * after it cut.
 *
 * Keeps (numbers of log_int.h):
 *  1. After load: log start = max(first base, checkpointed log start),
 *     HW clamped into [log start, LEO] (log_set_high_watermark).
 *  2. The recovery point starts at LEO: everything re-read was made
 *     durable (rebuilt indexes and .log fsynced) before it counts.
 *  3. Overlapping or out-of-order data is cut; a last segment left empty
 *     after data that ends below its base is dropped; non-last segments
 *     cover up to the next base.
 *  4. A clean segment whose indexes are not strictly growing or point
 *     outside its file is rebuilt.
 */
#include "log_int.h"
#include "cleaner.h"

/* ---- rebuild / recovery ---------------------------------------------------
 */

/* Re-reads s from byte 0, validating every batch; rebuilds its indexes in
 * memory and on disk; truncates the .log at the first invalid batch.
 * Returns false on I/O error (partition poisoned). *truncated set if bytes
 * were cut. */
bool lg_seg_rebuild(log_segment *s, bool *truncated) {
    log_partition *part = s->part;
    log_manager *mgr = part->mgr;
    *truncated = false;
    if (!lg_seg_open(s))
        return false;
    char lp[4096];
    lg_seg_file(part, s->base, ".log", lp, sizeof(lp));
    int64_t fsize = lg_file_size(mgr, lp);
    if (fsize < 0)
        fsize = 0;
    s->n_idx = s->n_tidx = 0;
    s->size = 0;
    s->next_offset = s->base;
    s->max_ts = s->max_ts_offset = -1;
    s->first_batch_ts = -1;
    s->last_tidx_ts = -1;
    s->bytes_since_index = 0;
    buf b;
    buf_init(&b, 1 << 16);
    int64_t pos = 0;
    int64_t prev_next = s->base;
    while (pos < fsize) {
        uint8_t hdr[BATCH_HEADER_SIZE];
        ssize_t r =
            log_io_read_full(mgr->io, s->fd, hdr, sizeof(hdr), (off_t)pos);
        if (r < 0) {
            buf_free(&b);
            lg_poison(part, "read segment");
            return false;
        }
        if (r < (ssize_t)BATCH_HEADER_SIZE)
            break;
        int32_t blen = (int32_t)sl_load_be32(hdr + BATCH_OFF_LENGTH);
        if (blen < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD ||
            (int64_t)blen + BATCH_LOG_OVERHEAD > fsize - pos)
            break;
        size_t total = (size_t)blen + BATCH_LOG_OVERHEAD;
        buf_reset(&b);
        buf_reserve(&b, total);
        r = log_io_read_full(mgr->io, s->fd, b.data, total, (off_t)pos);
        if (r < 0) {
            buf_free(&b);
            lg_poison(part, "read segment");
            return false;
        }
        if ((size_t)r != total)
            break;
        log_batch_header h;
        if (batch_validate_stored(b.data, total, &h) != KERR_NONE)
            break;
        if (h.base_offset < prev_next)
            break; /* offsets must grow */
        if (!lg_seg_account_batch(s, &h, pos, part->cfg.index_interval_bytes))
            break;
        s->size = pos + (int64_t)total;
        prev_next = batch_last_offset(&h) + 1;
        pos += (int64_t)total;
        mgr->stats.recovered_batches++;
        mgr->stats.recovered_bytes += (int64_t)total;
    }
    buf_free(&b);
    if (pos < fsize) {
        SL_WARN(MOD,
                "Found invalid or torn data in %s at byte %" PRId64
                "; truncating %" PRId64 " bytes",
                lp, pos, fsize - pos);
        mgr->stats.truncated_bytes += fsize - pos;
        if (IOCALL(mgr, ftruncate, s->fd, (off_t)pos) != 0) {
            lg_poison(part, "truncate segment");
            return false;
        }
        *truncated = true;
    }
    if (!lg_seg_write_indexes(s, false) || IOCALL(mgr, fsync, s->fd) != 0) {
        lg_poison(part, "write index");
        return false;
    }
    return true;
}

/* Loads the size, counts and last offsets of a segment that was cleanly
 * written (below the recovery point or after a clean shutdown). Returns
 * false if its indexes look wrong (caller rebuilds). */
static bool seg_load_clean(log_segment *s, bool last) {
    log_partition *part = s->part;
    log_manager *mgr = part->mgr;
    char lp[4096], ip[4096], tp[4096];
    lg_seg_file(part, s->base, ".log", lp, sizeof(lp));
    lg_seg_file(part, s->base, ".index", ip, sizeof(ip));
    lg_seg_file(part, s->base, ".timeindex", tp, sizeof(tp));
    s->size = lg_file_size(mgr, lp);
    int64_t isz = lg_file_size(mgr, ip), tsz = lg_file_size(mgr, tp);
    /* an empty segment's index files are created with its first entry */
    if (s->size == 0 && isz < 0 && tsz < 0)
        isz = tsz = 0;
    if (s->size < 0 || isz < 0 || tsz < 0 || isz % IDX_ENTRY ||
        tsz % TIDX_ENTRY)
        return false;
    if (isz / IDX_ENTRY > INT32_MAX / 2 || tsz / TIDX_ENTRY > INT32_MAX / 2)
        return false;
    s->n_idx = (int32_t)(isz / IDX_ENTRY);
    s->n_tidx = (int32_t)(tsz / TIDX_ENTRY);
    if (!lg_seg_open(s))
        return false;
    /* sanity: entries strictly increasing, positions inside the file */
    for (int32_t i = 0; i < s->n_idx; i++)
        if (s->idx[i].pos <= 0 || s->idx[i].pos >= s->size ||
            (i && (s->idx[i].rel <= s->idx[i - 1].rel ||
                   s->idx[i].pos <= s->idx[i - 1].pos)))
            return false;
    for (int32_t i = 1; i < s->n_tidx; i++)
        if (s->tidx[i].ts <= s->tidx[i - 1].ts)
            return false;
    if (s->n_tidx) {
        s->last_tidx_ts = s->tidx[s->n_tidx - 1].ts;
        s->max_ts = s->last_tidx_ts;
        s->max_ts_offset = s->base + s->tidx[s->n_tidx - 1].rel;
    }
    /* Scan from the last index entry to the end for next_offset (and the
     * max timestamp of the tail, which may postdate the last entry). */
    int64_t pos = s->n_idx ? s->idx[s->n_idx - 1].pos : 0;
    s->next_offset = s->base;
    s->bytes_since_index = 0;
    uint8_t h[BATCH_HEADER_SIZE];
    if (s->size > 0 &&
        log_io_read_full(mgr->io, s->fd, h, sizeof(h), 0) == (ssize_t)sizeof(h))
        s->first_batch_ts = (int64_t)sl_load_be64(h + BATCH_OFF_MAX_TIMESTAMP);
    while (pos < s->size) {
        if (log_io_read_full(mgr->io, s->fd, h, sizeof(h), (off_t)pos) !=
            (ssize_t)sizeof(h))
            return false;
        log_batch_header bh;
        batch_parse_header(h, sizeof(h), &bh);
        if (bh.batch_length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD ||
            pos + batch_size(&bh) > s->size)
            return false;
        if (bh.max_timestamp > s->max_ts) {
            s->max_ts = bh.max_timestamp;
            s->max_ts_offset = batch_last_offset(&bh);
        }
        s->next_offset = batch_last_offset(&bh) + 1;
        s->bytes_since_index += batch_size(&bh);
        pos += batch_size(&bh);
    }
    (void)last;
    return true;
}

/* ---- open / close
 * ---------------------------------------------------------------- */
static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Loads one partition directory. */
void lg_load_partition(log_manager *mgr, int d, const char *name, bool clean,
                       const ckpt *rp, const ckpt *ls, const ckpt *hw) {
    const char *dash = strrchr(name, '-');
    if (!dash || dash == name || !dash[1])
        return;
    char *end;
    long pn = strtol(dash + 1, &end, 10);
    if (*end || pn < 0 || pn > INT32_MAX)
        return;
    char topic[256];
    size_t tl = (size_t)(dash - name);
    if (tl >= sizeof(topic))
        return;
    memcpy(topic, name, tl);
    topic[tl] = 0;
    if (log_get(mgr, topic, (int32_t)pn)) {
        SL_WARN(MOD, "Duplicate log directory for %s found in %s, ignored",
                name, mgr->dirs[d]);
        return;
    }
    log_partition *part = lg_part_new(mgr, topic, (int32_t)pn, d);
    lg_read_partition_metadata(part);

    /* Completes (or rolls back) a cleaner swap interrupted by a crash;
     * leftover .cleaned files are removed below. If that fails the
     * partition loads offline (a failed directory fsync is not retried). */
    bool swap_failed = log_cleaner_recover_dir(mgr->io, part->path) != 0;
    if (swap_failed)
        SL_ERROR(MOD, "cannot recover the cleaner swap in %s: %s", part->path,
                 strerror(errno));
    /* Segments by base offset. */
    int nnames;
    char **names = log_io_list_names(mgr->io, part->path, &nnames);
    if (!names) {
        SL_ERROR(MOD, "cannot list %s: %s", part->path, strerror(errno));
        lg_part_free(part);
        return;
    }
    int64_t *bases = NULL;
    int nb = 0, cap = 0;
    for (int k = 0; k < nnames; k++) {
        const char *n = names[k];
        if (lg_has_suffix(n, ".deleted") || lg_has_suffix(n, ".cleaned") ||
            lg_has_suffix(n, ".swap") || lg_has_suffix(n, ".tmp")) {
            char *p = lg_path_join(part->path, n);
            IOCALL(mgr, unlink, p);
            free(p);
            continue;
        }
        if (strlen(n) == 24 && lg_has_suffix(n, ".log")) {
            char *e2;
            long long b = strtoll(n, &e2, 10);
            if (e2 != n + 20 || b < 0)
                continue;
            if (nb == cap) {
                cap = cap ? cap * 2 : 8;
                bases = xrealloc(bases, sizeof(*bases) * (size_t)cap);
            }
            bases[nb++] = b;
        }
    }
    log_io_free_names(names, nnames);
    if (nb > 1)
        qsort(bases, (size_t)nb, sizeof(*bases), cmp_i64);
    int64_t ckpt_start = lg_ckpt_find(ls, topic, (int32_t)pn);
    for (int i = 0; i < nb; i++)
        lg_segs_push(part, lg_seg_new(part, bases[i]));
    free(bases);
    lg_map_insert(mgr, part);
    if (part->nsegs == 0) {
        int64_t base = ckpt_start > 0 ? ckpt_start : 0;
        if (!lg_add_new_segment(part, base))
            return;
    }
    int64_t recovery = clean ? INT64_MAX : lg_ckpt_find(rp, topic, (int32_t)pn);
    if (recovery < 0)
        recovery = 0;
    /* Segments wholly below the recovery point load as clean; the one
     * holding it and later ones are re-read. */
    int first_dirty = part->nsegs;
    if (!clean)
        for (int i = 0; i < part->nsegs; i++) {
            int64_t upper =
                i + 1 < part->nsegs ? part->segs[i + 1]->base : INT64_MAX;
            if (upper > recovery) {
                first_dirty = i;
                break;
            }
        }
    for (int i = 0; i < part->nsegs; i++) {
        log_segment *s = part->segs[i];
        bool last = i == part->nsegs - 1;
        bool ok = i < first_dirty && seg_load_clean(s, last);
        if (!ok) {
            if (i < first_dirty)
                SL_WARN(MOD, "Rebuilding the indexes of %s/%020" PRId64 ".log",
                        part->path, s->base);
            lg_seg_close(s);
            bool cut = false;
            if (!lg_seg_rebuild(s, &cut))
                break;
            if (i + 1 < part->nsegs && s->next_offset > part->segs[i + 1]->base)
                cut = true; /* overlap: keep the earlier data only */
            if (cut && i + 1 < part->nsegs) {
                /* Everything after a truncation point goes (Kafka). */
                for (int j = i + 1; j < part->nsegs; j++) {
                    lg_seg_close(part->segs[j]);
                    lg_seg_delete_files(part, part->segs[j]->base);
                    free(part->segs[j]);
                }
                part->nsegs = i + 1;
            }
            if (s->size == 0 && i > 0)
                s->next_offset = s->base;
        }
        lg_seg_close(s); /* reopened lazily; active gets its index fds then */
    }
    /* A re-read last segment left empty (its file lost or cut at byte 0)
     * after one whose data ends below its base: the data before it was
     * not durable either, and LEO is where the data ends, not a hole
     * later (a compaction gap below it ends with it too: nothing above
     * survived). Its files go. */
    while (part->nsegs > 1 && part->nsegs - 1 >= first_dirty &&
           lg_active(part)->size == 0 &&
           part->segs[part->nsegs - 2]->next_offset < lg_active(part)->base) {
        log_segment *s = lg_active(part);
        SL_WARN(MOD,
                "Dropping the empty segment %s/%020" PRId64 ".log: the "
                "data before it ends at offset %" PRId64,
                part->path, s->base, part->segs[part->nsegs - 2]->next_offset);
        lg_seg_close(s);
        lg_seg_delete_files(part, s->base);
        free(s);
        part->nsegs--;
        part->dir_unsynced = true;
    }
    /* Non-last segments cover up to the next base even if a gap exists. */
    for (int i = 0; i + 1 < part->nsegs; i++)
        if (part->segs[i]->next_offset < part->segs[i + 1]->base)
            part->segs[i]->next_offset = part->segs[i + 1]->base;
    if (ckpt_start > lg_active(part)->next_offset) {
        /* Everything below a durable log start was deleted (DeleteRecords,
         * retention), and what was above it did not survive the crash:
         * the log starts empty there, so that no offset below it is ever
         * handed out again (Kafka's truncateFullyAndStartAt). */
        SL_WARN(MOD,
                "Log start offset %" PRId64 " of %s is past the recovered "
                "end %" PRId64 "; the log restarts empty at it",
                ckpt_start, part->path, lg_active(part)->next_offset);
        for (int i = 0; i < part->nsegs; i++) {
            lg_seg_close(part->segs[i]);
            lg_seg_delete_files(part, part->segs[i]->base);
            free(part->segs[i]);
        }
        part->nsegs = 0;
        if (!lg_add_new_segment(part, ckpt_start))
            part->failed = true;
        lg_seg_close(lg_active(part));
    }
    /* The active segment's index files are rewritten preallocated on open. */
    log_segment *act = lg_active(part);
    act->active_files = false;
    int64_t leo = act->next_offset;
    part->log_start = SL_MAX(part->segs[0]->base, ckpt_start);
    if (part->log_start > leo)
        part->log_start = leo;
    part->recovery_point = leo;
    int64_t h = lg_ckpt_find(hw, topic, (int32_t)pn);
    /* the checkpoint's HW, clamped into [log start, LEO] (a torn tail may
     * have cut the log below it) */
    part->hw = part->log_start;
    log_set_high_watermark(part, h < 0 ? part->log_start : h);
    lg_epochs_load(part);
    lg_epochs_truncate_end(part, leo);
    if (swap_failed)
        part->failed = true;
}
