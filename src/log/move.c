/*
 * move.c - moving a partition to another log dir (AlterReplicaLogDirs; see
 * log.h). The loop thread does everything: a step copies part of the .log
 * files with pread/pwrite into <dest>/<topic>-<p>.<hex>-future; the last
 * step makes the copy complete and durable and swaps in one call.
 *
 * Keeps:
 *  - The source stays the partition's log until the future directory is
 *    complete, fsynced and renamed into place with its log dir fsynced; a
 *    crash between the renames leaves two identical copies.
 *  - A truncation (part->gen changes) restarts the copy from scratch.
 */
#include "log_int.h"

/* ---- moving a partition to another log dir --------------------------------
 * (AlterReplicaLogDirs; see log.h.) The loop thread does everything: a step
 * copies part of the .log files with pread/pwrite; the last step makes the
 * copy complete and durable and swaps in one call. */

/* fsync of a directory through the seam; false with errno on failure. */
static bool fsync_path_dir(log_manager *mgr, const char *dir) {
    return IOCALL(mgr, fsync_dir, dir) == 0;
}

/* Copies [from, to) of src into dst at the same offsets (dst created if
 * needed). Chunks that are all zeros are not written (preallocated index
 * files stay sparse); truncate_to >= 0 sets dst's length afterwards.
 * fsyncs dst when sync. false on an I/O error (errno set). */
static bool copy_file_range_io(log_manager *mgr, const char *src,
                               const char *dst, int64_t from, int64_t to,
                               int64_t truncate_to, bool sync) {
    int in = IOCALL(mgr, open, src, O_RDONLY, 0);
    if (in < 0)
        return false;
    int out = IOCALL(mgr, open, dst, O_WRONLY | O_CREAT, 0644);
    if (out < 0) {
        int e = errno;
        IOCALL(mgr, close, in);
        errno = e;
        return false;
    }
    enum { CHUNK = 1 << 20 };
    uint8_t *b = xmalloc(CHUNK);
    bool ok = true;
    for (int64_t at = from; ok && at < to;) {
        size_t want = (size_t)SL_MIN((int64_t)CHUNK, to - at);
        ssize_t r = log_io_read_full(mgr->io, in, b, want, (off_t)at);
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* the source shrank under us */
            ok = false;
            break;
        }
        bool zero = true;
        for (ssize_t i = 0; i < r && zero; i++)
            zero = b[i] == 0;
        if (!zero)
            ok = log_io_write_all(mgr->io, out, b, (size_t)r, (off_t)at);
        at += r;
    }
    free(b);
    if (ok && truncate_to >= 0)
        ok = IOCALL(mgr, ftruncate, out, (off_t)truncate_to) == 0;
    if (ok && sync)
        ok = IOCALL(mgr, fsync, out) == 0;
    int e = errno;
    IOCALL(mgr, close, out);
    IOCALL(mgr, close, in);
    errno = e;
    return ok;
}

void log_move_cancel(log_partition *part) {
    log_move *m = part->move;
    if (!m)
        return;
    lg_remove_dir_files(part->mgr, m->future_path);
    free(m->future_path);
    free(m);
    part->move = NULL;
}

int16_t log_move_begin(log_partition *part, int dest) {
    log_manager *mgr = part->mgr;
    if (dest < 0 || dest >= mgr->ndirs)
        return KERR_LOG_DIR_NOT_FOUND;
    if (part->failed)
        return KERR_KAFKA_STORAGE_ERROR;
    if (part->move && part->move->dest == dest)
        return KERR_NONE;  /* already going there */
    log_move_cancel(part); /* a move elsewhere stops (Kafka does too) */
    if (dest == part->dir_index)
        return KERR_NONE;
    char hex[33];
    lg_dir_suffix(hex);
    char name[600];
    snprintf(name, sizeof(name), "%s-%d.%s-future", part->topic,
             part->partition, hex);
    char *fp = lg_path_join(mgr->dirs[dest], name);
    if (IOCALL(mgr, mkdir, fp, 0755) != 0) {
        SL_ERROR(MOD, "cannot create %s: %s", fp, strerror(errno));
        free(fp);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    log_move *m = xcalloc(1, sizeof(*m));
    m->dest = dest;
    m->future_path = fp;
    m->gen = part->gen;
    m->cur_base = part->segs[0]->base;
    m->future_leo = part->log_start;
    part->move = m;
    SL_INFO(MOD, "Moving %s-%d from %s to %s", part->topic, part->partition,
            mgr->dirs[part->dir_index], mgr->dirs[dest]);
    return KERR_NONE;
}

bool log_move_info(const log_partition *part, int *dest, int64_t *size,
                   int64_t *leo) {
    const log_move *m = part->move;
    if (!m)
        return false;
    *dest = m->dest;
    *size = m->copied;
    *leo = m->future_leo;
    return true;
}

static int seg_at_or_after(const log_partition *part, int64_t base) {
    for (int i = 0; i < part->nsegs; i++)
        if (part->segs[i]->base >= base)
            return i;
    return -1;
}

/* The last step: everything durable in the future dir, then the swap. */
static int16_t move_finish(log_partition *part) {
    log_manager *mgr = part->mgr;
    log_move *m = part->move;
    if (log_flush(part) != KERR_NONE)
        return KERR_KAFKA_STORAGE_ERROR;
    int nnames;
    char **names = log_io_list_names(mgr->io, part->path, &nnames);
    if (!names)
        return KERR_KAFKA_STORAGE_ERROR;
    bool ok = true;
    for (int k = 0; ok && k < nnames; k++) {
        const char *n = names[k];
        if (n[0] == '.' || lg_has_suffix(n, ".tmp") ||
            lg_has_suffix(n, ".cleaned") || lg_has_suffix(n, ".swap") ||
            lg_has_suffix(n, ".deleted"))
            continue;
        char *src = lg_path_join(part->path, n);
        char *dst = lg_path_join(m->future_path, n);
        int64_t ssz = lg_file_size(mgr, src), dsz = lg_file_size(mgr, dst);
        int64_t from = 0;
        /* .log files are append-only: what an earlier step copied stays */
        if (lg_has_suffix(n, ".log") && dsz > 0 && dsz <= ssz)
            from = dsz;
        if (ssz >= 0)
            ok = copy_file_range_io(mgr, src, dst, from, ssz, ssz, true);
        free(src);
        free(dst);
    }
    log_io_free_names(names, nnames);
    if (!ok)
        return KERR_KAFKA_STORAGE_ERROR;
    /* Files the source no longer has (segments deleted meanwhile). */
    names = log_io_list_names(mgr->io, m->future_path, &nnames);
    if (!names)
        return KERR_KAFKA_STORAGE_ERROR;
    for (int k = 0; k < nnames; k++) {
        if (names[k][0] == '.')
            continue;
        char *src = lg_path_join(part->path, names[k]);
        if (lg_file_size(mgr, src) < 0) {
            char *dst = lg_path_join(m->future_path, names[k]);
            IOCALL(mgr, unlink, dst);
            free(dst);
        }
        free(src);
    }
    log_io_free_names(names, nnames);
    if (!fsync_path_dir(mgr, m->future_path))
        return KERR_KAFKA_STORAGE_ERROR;

    /* The swap: the future dir takes the partition's name in its log dir,
     * then the current one is renamed away. A crash between the two
     * renames leaves two identical copies; open keeps one. */
    char name[600];
    snprintf(name, sizeof(name), "%s-%d", part->topic, part->partition);
    char *final_path = lg_path_join(mgr->dirs[m->dest], name);
    if (lg_file_size(mgr, final_path) >=
        0) /* a stale copy from an earlier crash */
        lg_remove_dir_files(mgr, final_path);
    for (int i = 0; i < part->nsegs; i++)
        lg_seg_close(part->segs[i]);
    if (IOCALL(mgr, rename, m->future_path, final_path) != 0) {
        SL_ERROR(MOD, "cannot rename %s to %s: %s", m->future_path, final_path,
                 strerror(errno));
        free(final_path);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    if (!fsync_path_dir(mgr, mgr->dirs[m->dest])) {
        /* the rename may revert at a crash: keep the source, fail here */
        SL_ERROR(MOD, "cannot fsync %s: %s", mgr->dirs[m->dest],
                 strerror(errno));
        free(final_path);
        lg_poison(part, "move");
        return KERR_KAFKA_STORAGE_ERROR;
    }
    char hex[33];
    lg_dir_suffix(hex);
    snprintf(name, sizeof(name), "%s-%d.%s-delete", part->topic,
             part->partition, hex);
    char *old = lg_path_join(mgr->dirs[part->dir_index], name);
    bool renamed = IOCALL(mgr, rename, part->path, old) == 0;
    if (renamed && !fsync_path_dir(mgr, mgr->dirs[part->dir_index])) {
        SL_ERROR(MOD, "cannot fsync %s: %s", mgr->dirs[part->dir_index],
                 strerror(errno));
        lg_poison(part, "move");
    }
    if (renamed) {
        lg_remove_dir_files(mgr, old);
    } else if (!lg_remove_dir_files(mgr, part->path)) {
        /* Two copies would stay and a restart might load the stale one. */
        SL_ERROR(MOD, "cannot remove %s after moving it: %s", part->path,
                 strerror(errno));
        lg_poison(part, "move");
    }
    free(old);
    if (mgr->dir_parts) {
        mgr->dir_parts[part->dir_index]--;
        mgr->dir_parts[m->dest]++;
    }
    SL_INFO(MOD, "Moved %s-%d from %s to %s", part->topic, part->partition,
            mgr->dirs[part->dir_index], mgr->dirs[m->dest]);
    free(part->path);
    part->path = final_path;
    part->dir_index = m->dest;
    free(m->future_path);
    free(m);
    part->move = NULL;
    return part->failed ? KERR_KAFKA_STORAGE_ERROR : KERR_NONE;
}

int16_t log_move_step(log_partition *part, int64_t budget, bool *done) {
    *done = false;
    log_move *m = part->move;
    if (!m)
        return KERR_NONE;
    if (part->failed) {
        log_move_cancel(part);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    log_manager *mgr = part->mgr;
    if (m->gen != part->gen) { /* truncated: start over */
        m->gen = part->gen;
        m->cur_base = part->segs[0]->base;
        m->cur_pos = m->copied = 0;
        m->future_leo = part->log_start;
        int nnames;
        char **names = log_io_list_names(mgr->io, m->future_path, &nnames);
        for (int k = 0; names && k < nnames; k++)
            if (names[k][0] != '.') {
                char *p = lg_path_join(m->future_path, names[k]);
                IOCALL(mgr, unlink, p);
                free(p);
            }
        if (names)
            log_io_free_names(names, nnames);
    }
    while (budget > 0) {
        int i = seg_at_or_after(part, m->cur_base);
        if (i < 0)
            i = part->nsegs - 1;
        log_segment *s = part->segs[i];
        if (s->base != m->cur_base) { /* deleted by retention meanwhile */
            m->cur_base = s->base;
            m->cur_pos = 0;
        }
        bool last = i == part->nsegs - 1;
        int64_t left = s->size - m->cur_pos;
        if (last && left <= budget)
            break;
        int64_t n = SL_MIN(left, budget);
        if (n > 0) {
            char src[4096], dst[4096];
            lg_seg_file(part, s->base, ".log", src, sizeof(src));
            snprintf(dst, sizeof(dst), "%s/%020" PRId64 ".log", m->future_path,
                     s->base);
            if (!copy_file_range_io(mgr, src, dst, m->cur_pos, m->cur_pos + n,
                                    -1, false)) {
                SL_ERROR(MOD, "copying %s to %s: %s", src, dst,
                         strerror(errno));
                log_move_cancel(part);
                return KERR_KAFKA_STORAGE_ERROR;
            }
            m->cur_pos += n;
            m->copied += n;
            budget -= n;
        }
        if (!last && m->cur_pos >= s->size) {
            m->future_leo = s->next_offset;
            m->cur_base = part->segs[i + 1]->base;
            m->cur_pos = 0;
        }
    }
    if (budget <= 0)
        return KERR_NONE;
    int16_t e = move_finish(part);
    if (e != KERR_NONE) {
        log_move_cancel(part);
        return e;
    }
    *done = true;
    return KERR_NONE;
}
