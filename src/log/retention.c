/*
 * retention.c - what shortens a log: retention by time and size,
 * DeleteRecords (log_delete_records) and truncation (log_truncate_to).
 *
 * Keeps (numbers of log_int.h):
 *  1. The log start only moves forward (drop_front_segments,
 *     log_delete_records); segments are dropped only wholly below the HW;
 *     truncation pulls the HW down to the new LEO.
 *  2. Truncation rewrites the recovery-point checkpoint below the cut
 *     before cutting, and pulls the recovery point down to the new LEO.
 *  The files of dropped front segments are unlinked only after the new log
 *  start is checkpointed (doomed_flush).
 */
#include "log_int.h"

/* ---- retention, delete records, truncation ---------------------------------
 */

/* Removes the first k segments (k < nsegs, or k == nsegs after a roll). */

/* The files of dropped segments are deleted by doomed_flush, after the
 * new log start is durable: a crash may bring back any subset of them
 * (unlinks not yet fsynced), and only below a durable log start is such a
 * partial set harmless (never read, removed by the next retention pass) -
 * above the old one it was a hole. One checkpoint per log dir and call,
 * whatever the number of partitions that dropped segments. */
static void doomed_add(log_partition *part, int64_t base) {
    log_manager *mgr = part->mgr;
    if (mgr->ndoomed == mgr->capdoomed) {
        mgr->capdoomed = mgr->capdoomed ? mgr->capdoomed * 2 : 16;
        mgr->doomed = xrealloc(mgr->doomed,
                               sizeof(*mgr->doomed) * (size_t)mgr->capdoomed);
    }
    mgr->doomed[mgr->ndoomed++] = (doomed_seg){part, base};
    part->ls_state = LS_DOOMED;
}

static void doomed_flush(log_manager *mgr) {
    for (int d = 0; d < mgr->ndirs && mgr->ndoomed; d++) {
        bool any = false;
        for (int i = 0; i < mgr->ndoomed && !any; i++)
            any = mgr->doomed[i].part->dir_index == d;
        if (!any)
            continue;
        bool ok = lg_checkpoint_write(mgr, d, 1);
        for (int i = 0; i < mgr->ndoomed; i++) {
            log_partition *p = mgr->doomed[i].part;
            if (p->dir_index != d)
                continue;
            if (ok) {
                lg_seg_delete_files(p, mgr->doomed[i].base);
                p->ls_state = LS_UNLINKED;
            } else
                lg_poison(p, "log-start-offset-checkpoint");
        }
    }
    mgr->ndoomed = 0;
}

static void drop_front_segments(log_partition *part, int k) {
    for (int i = 0; i < k; i++) {
        log_segment *s = part->segs[i];
        lg_seg_close(s);
        doomed_add(part, s->base);
        free(s);
    }
    memmove(part->segs, part->segs + k,
            sizeof(*part->segs) * (size_t)(part->nsegs - k));
    part->nsegs -= k;
    if (part->segs[0]->base > part->log_start)
        part->log_start = part->segs[0]->base;
    if (part->hw < part->log_start)
        part->hw = part->log_start;
    if (part->recovery_point < part->log_start)
        part->recovery_point = part->log_start;
    lg_epochs_truncate_start(part, part->log_start);
}

/* Deletes the leading segments for which pred says yes, only those wholly
 * below the HW; the active one is rolled first if it must go. */
static int delete_old_segments(log_partition *part,
                               bool (*pred)(log_partition *, log_segment *,
                                            int64_t *state),
                               int64_t state) {
    int k = 0;
    while (k < part->nsegs) {
        log_segment *s = part->segs[k];
        bool last = k == part->nsegs - 1;
        int64_t upper = last ? s->next_offset : part->segs[k + 1]->base;
        if (last && s->size == 0)
            break;
        if (part->hw < upper || !pred(part, s, &state))
            break;
        k++;
    }
    if (k == 0)
        return 0;
    if (k == part->nsegs && !lg_roll(part))
        return 0;
    drop_front_segments(part, k);
    return k;
}

static bool pred_time(log_partition *part, log_segment *s, int64_t *now) {
    return part->cfg.retention_ms >= 0 && s->max_ts >= 0 &&
           *now - s->max_ts > part->cfg.retention_ms;
}

static bool pred_size(log_partition *part, log_segment *s, int64_t *diff) {
    (void)part;
    if (*diff - s->size >= 0) {
        *diff -= s->size;
        return true;
    }
    return false;
}

static bool pred_start(log_partition *part, log_segment *s, int64_t *unused) {
    (void)unused;
    return s->next_offset <= part->log_start && s->size > 0;
}

static int retention(log_partition *part, int64_t now) {
    if (part->failed || !(part->cfg.cleanup_policy & LOG_CLEANUP_DELETE))
        return delete_old_segments(part, pred_start, 0);
    int n = delete_old_segments(part, pred_start, 0);
    if (part->cfg.retention_ms >= 0)
        n += delete_old_segments(part, pred_time, now);
    if (part->cfg.retention_bytes >= 0) {
        int64_t diff = log_size_bytes(part) - part->cfg.retention_bytes;
        if (diff > 0)
            n += delete_old_segments(part, pred_size, diff);
    }
    if (n)
        SL_INFO(MOD,
                "Deleted %d segment(s) of %s-%d by retention; log start offset "
                "is now %" PRId64,
                n, part->topic, part->partition, part->log_start);
    return n;
}

int log_manager_tick(log_manager *mgr) {
    int64_t now = clk_wall_ms();
    int n = 0;
    for (size_t i = 0; i < mgr->nbuckets; i++)
        for (log_partition *p = mgr->buckets[i]; p; p = p->hnext) {
            n += retention(p, now);
        }
    doomed_flush(mgr);
    return n;
}

int16_t log_delete_records(log_partition *part, int64_t offset,
                           int64_t *new_log_start) {
    if (part->failed)
        return KERR_KAFKA_STORAGE_ERROR;
    if (offset == -1)
        offset = part->hw;
    if (offset < 0 || offset > part->hw)
        return KERR_OFFSET_OUT_OF_RANGE;
    if (offset > part->log_start) {
        part->log_start = offset;
        lg_epochs_truncate_start(part, offset);
        delete_old_segments(part, pred_start, 0);
        doomed_flush(part->mgr);
        if (part->failed)
            return KERR_KAFKA_STORAGE_ERROR;
    }
    *new_log_start = part->log_start;
    return KERR_NONE;
}

int16_t log_truncate_to(log_partition *part, int64_t offset) {
    if (part->failed)
        return KERR_KAFKA_STORAGE_ERROR;
    if (offset >= log_end_offset(part)) {
        lg_epochs_truncate_end(part, log_end_offset(part));
        return KERR_NONE;
    }
    if (offset < part->log_start)
        offset = part->log_start;
    /* The recovery-point checkpoint must not name an offset past the new
     * end once anything is cut: at the next unclean start the segments
     * below it would load as clean, with the cut half undone by a crash.
     * So it is rewritten first, at the base of the segment that keeps the
     * last offset below the cut (the active one afterwards; Kafka rewrites
     * it after LogManager.truncateTo, which leaves a window). */
    int64_t floor =
        part->segs[lg_seg_index_for(part, offset > 0 ? offset - 1 : 0)]->base;
    if (part->recovery_point > floor) {
        part->recovery_point = floor;
        if (!lg_checkpoint_write(part->mgr, part->dir_index, 0)) {
            lg_poison(part, "recovery-point checkpoint");
            return KERR_KAFKA_STORAGE_ERROR;
        }
    }
    /* Drop whole segments at or after offset (keep at least one). */
    while (part->nsegs > 1 && lg_active(part)->base >= offset) {
        log_segment *s = lg_active(part);
        lg_seg_close(s);
        lg_seg_delete_files(part, s->base);
        free(s);
        part->nsegs--;
    }
    log_segment *s = lg_active(part);
    if (!lg_seg_open(s))
        return KERR_KAFKA_STORAGE_ERROR;
    int64_t pos = offset <= s->base ? 0 : lg_seg_lookup_pos(s, offset);
    if (pos < 0 || IOCALL(part->mgr, ftruncate, s->fd, (off_t)pos) != 0) {
        lg_poison(part, "truncate");
        return KERR_KAFKA_STORAGE_ERROR;
    }
    /* Reopen as active with rebuilt indexes. */
    lg_seg_close(s);
    bool cut;
    if (!lg_seg_rebuild(s, &cut))
        return KERR_KAFKA_STORAGE_ERROR;
    if (s->size == 0)
        s->next_offset = SL_MAX(s->base, offset <= s->base ? s->base : offset);
    lg_seg_close(s);
    if (!lg_seg_open(s))
        return KERR_KAFKA_STORAGE_ERROR;
    int64_t leo = log_end_offset(part);
    part->gen++; /* flush jobs begun before do not cover the new tail */
    if (part->hw > leo)
        part->hw = leo;
    if (part->recovery_point > leo)
        part->recovery_point = leo;
    lg_epochs_truncate_end(part, leo);
    return KERR_NONE;
}

int16_t log_truncate_fully(log_partition *part, int64_t offset) {
    if (part->failed)
        return KERR_KAFKA_STORAGE_ERROR;
    /* The checkpoints first name nothing below offset as clean or kept. */
    part->recovery_point = offset;
    part->log_start = offset;
    part->hw = offset;
    if (!lg_checkpoint_write(part->mgr, part->dir_index, 0)) {
        lg_poison(part, "recovery-point checkpoint");
        return KERR_KAFKA_STORAGE_ERROR;
    }
    while (part->nsegs > 0) {
        log_segment *s = lg_active(part);
        lg_seg_close(s);
        lg_seg_delete_files(part, s->base);
        free(s);
        part->nsegs--;
    }
    if (!lg_add_new_segment(part, offset))
        return KERR_KAFKA_STORAGE_ERROR;
    part->gen++;
    lg_epochs_clear(part);
    SL_ASSERT(log_end_offset(part) == offset && part->log_start == offset);
    return KERR_NONE;
}
