/*
 * flusher.c - flushes: the synchronous log_flush, the dirty list
 * (log_manager_flush_dirty) and the asynchronous flusher of flush.h (tasks
 * on a one-worker executor of the node's environment fsyncing the files of
 * begun jobs, the loop reaping them; under a simulator the executor is
 * inline and a batch is synced inside log_manager_flush_begin).
 *
 * Keeps (numbers of log_int.h):
 *  2. The recovery point moves forward only once the data below it is
 *     synced: in log_flush after the fsyncs, in log_manager_flush_reap to a
 *     done job's target (only if the job's generation is still the
 *     partition's: a truncation makes older jobs count for nothing).
 *  7. The directories a flush depends on are fsynced before its files
 *     (lg_sync_part_dirs; the flusher syncs job->dirs first).
 * Threading: the job lists and fl_* fields are shared with the flusher
 * task under fl_mu; job->part is read by the loop thread only.
 */
#include "log_int.h"

/* ---- flush ------------------------------------------------------------------
 */
static bool sync_pending_jobs(log_partition *part);

int16_t log_flush(log_partition *part) {
    if (part->failed)
        return KERR_KAFKA_STORAGE_ERROR;
    log_segment *s = lg_active(part);
    int64_t leo = s->next_offset;
    if (part->recovery_point >= leo && part->unflushed_msgs == 0)
        return KERR_NONE;
    /* rolled segments still waiting for the flusher are synced first, so
     * that everything below the new recovery point is on disk */
    if (!sync_pending_jobs(part) || !lg_sync_part_dirs(part, NULL) ||
        !lg_seg_open(s) || IOCALL(part->mgr, fsync, s->fd) != 0) {
        lg_poison(part, "fsync");
        return KERR_KAFKA_STORAGE_ERROR;
    }
    part->recovery_point = leo;
    part->unflushed_msgs = 0;
    part->last_flush_ms = clk_mono_ms();
    part->flush_due = false; /* left in mgr->due; skipped there */
    return KERR_NONE;
}

/* Invariant 7 for a flush: the directories whose new entries the flushed
 * data needs. With job, they are handed to it (fsynced on the flusher
 * before its files); else fsynced now. False on an fsync error. */
bool lg_sync_part_dirs(log_partition *part, flush_job *job) {
    log_manager *mgr = part->mgr;
    const char *dirs[2];
    int n = 0;
    if (part->dir_unsynced)
        dirs[n++] = part->path;
    if (part->parent_unsynced)
        dirs[n++] = mgr->dirs[part->dir_index];
    for (int i = 0; i < n; i++) {
        if (job)
            job->dirs[job->ndirs++] = xstrdup(dirs[i]);
        else if (IOCALL(mgr, fsync_dir, dirs[i]) != 0)
            return false;
    }
    part->dir_unsynced = part->parent_unsynced = false;
    return true;
}

void lg_mark_dirty(log_partition *part) {
    log_manager *mgr = part->mgr;
    if (part->dirty)
        return;
    if (mgr->ndirty == mgr->capdirty) {
        mgr->capdirty = mgr->capdirty ? mgr->capdirty * 2 : 64;
        mgr->dirty =
            xrealloc(mgr->dirty, sizeof(*mgr->dirty) * (size_t)mgr->capdirty);
    }
    mgr->dirty[mgr->ndirty++] = part;
    part->dirty = true;
}

int log_manager_flush_dirty(log_manager *mgr) {
    int n = 0;
    for (int i = 0; i < mgr->ndirty; i++) {
        log_partition *part = mgr->dirty[i];
        part->dirty = false;
        log_flush(part);
        n++;
    }
    mgr->ndirty = 0;
    return n;
}

/* ---- flusher ----------------------------------------------------------------
 * Asynchronous flushes (flush.h). A job owns its fds (dup'ed or taken over
 * from a rolled segment), so segments may close, roll or be deleted while it
 * runs; only the loop thread reads job->part, and log_delete clears it.
 * jobs_head..jobs_tail are the begun jobs in ticket order; the thread takes
 * them from fl_next and marks them done; the loop reaps from the head. */

flush_job *lg_job_new(log_partition *part, int64_t target) {
    flush_job *j = xcalloc(1, sizeof(*j));
    j->part = part;
    j->gen = part->gen;
    j->target = target;
    return j;
}

void lg_job_free(log_manager *mgr, flush_job *j) {
    for (int i = 0; i < j->nfds; i++)
        IOCALL(mgr, close, j->fds[i]);
    for (int i = 0; i < j->ndirs; i++)
        free(j->dirs[i]);
    free(j->sync_path);
    free(j);
}

/* One task per begun batch, on a one-worker executor (so batches are synced
 * in ticket order): syncs every job not taken yet (a task may find the jobs
 * of later batches too, and a later task then finds nothing). */
static void flusher_run(void *arg) {
    log_manager *mgr = arg;
    pthread_mutex_lock(&mgr->fl_mu);
    while (!mgr->fl_abandon && mgr->fl_next) {
        flush_job *j = mgr->fl_next;
        mgr->fl_next = j->next;
        pthread_mutex_unlock(&mgr->fl_mu);
        int err = 0;
        if (j->sync_path && IOCALL(mgr, syncfs, j->sync_path) != 0)
            err = errno ? errno : EIO;
        for (int i = 0; i < j->ndirs && !err; i++)
            if (IOCALL(mgr, fsync_dir, j->dirs[i]) != 0)
                err = errno ? errno : EIO;
        (void)SL_FAULT(LOG_FLUSH_MID); /* crash tests: crash here */
        for (int i = 0; i < j->nfds && !err; i++)
            if (IOCALL(mgr, fsync, j->fds[i]) != 0)
                err = errno ? errno : EIO;
        pthread_mutex_lock(&mgr->fl_mu);
        j->err = err;
        j->done = true;
        pthread_cond_broadcast(&mgr->fl_cv); /* log_manager_flush_wait */
        /* one wake-up per batch: after its last job */
        if (!j->next || j->next->ticket != j->ticket) {
            void (*fn)(void *) = mgr->fl_notify;
            void *ctx = mgr->fl_notify_ctx;
            pthread_mutex_unlock(&mgr->fl_mu);
            if (fn)
                fn(ctx);
            pthread_mutex_lock(&mgr->fl_mu);
        }
    }
    pthread_mutex_unlock(&mgr->fl_mu);
}

void log_manager_set_flush_notify(log_manager *mgr, void (*fn)(void *ctx),
                                  void *ctx) {
    pthread_mutex_lock(&mgr->fl_mu);
    mgr->fl_notify = fn;
    mgr->fl_notify_ctx = ctx;
    pthread_mutex_unlock(&mgr->fl_mu);
}

bool log_flush_is_due(const log_partition *part) {
    return part->flush_due;
}

void lg_mark_due(log_partition *part) {
    log_manager *mgr = part->mgr;
    if (part->flush_due)
        return;
    if (mgr->ndue == mgr->capdue) {
        mgr->capdue = mgr->capdue ? mgr->capdue * 2 : 64;
        mgr->due = xrealloc(mgr->due, sizeof(*mgr->due) * (size_t)mgr->capdue);
    }
    mgr->due[mgr->ndue++] = part;
    part->flush_due = true;
}

void lg_hold_job(log_manager *mgr, flush_job *j) {
    if (mgr->held_tail)
        mgr->held_tail->next = j;
    else
        mgr->held_head = j;
    mgr->held_tail = j;
}

int log_manager_flush_check(log_manager *mgr) {
    int64_t mono = clk_mono_ms();
    int n = 0;
    for (size_t i = 0; i < mgr->nbuckets; i++)
        for (log_partition *p = mgr->buckets[i]; p; p = p->hnext)
            if (!p->failed && p->cfg.flush_ms != INT64_MAX &&
                p->unflushed_msgs > 0 &&
                mono - p->last_flush_ms >= p->cfg.flush_ms && !p->flush_due) {
                lg_mark_due(p);
                n++;
            }
    return n;
}

bool log_manager_flush_pending(const log_manager *mgr) {
    return mgr->ndue > 0 || mgr->held_head || mgr->create_sync;
}

uint64_t log_manager_flush_begin(log_manager *mgr) {
    /* held roll jobs first: a partition's recovery point then only moves
     * past segments synced before */
    flush_job *head = mgr->held_head, *tail = mgr->held_tail;
    mgr->held_head = mgr->held_tail = NULL;
    if (mgr->create_sync) {
        /* new partitions (directories, partition.metadata): one syncfs per
         * log dir, whatever their number */
        mgr->create_sync = false;
        for (int d = 0; d < mgr->ndirs; d++) {
            flush_job *j = xcalloc(1, sizeof(*j));
            j->sync_path = xstrdup(mgr->dirs[d]);
            j->target = -1;
            if (tail)
                tail->next = j;
            else
                head = j;
            tail = j;
        }
    }
    for (int i = 0; i < mgr->ndue; i++) {
        log_partition *p = mgr->due[i];
        if (!p->flush_due)
            continue;
        p->flush_due = false;
        if (p->failed)
            continue;
        log_segment *s = lg_active(p);
        int fd = lg_seg_open(s) ? IOCALL(mgr, dup, s->fd) : -1;
        if (fd < 0) {
            lg_poison(p, "flush");
            continue;
        }
        flush_job *j = lg_job_new(p, s->next_offset);
        lg_sync_part_dirs(p, j);
        j->fds[j->nfds++] = fd;
        p->unflushed_msgs = 0;
        p->last_flush_ms = clk_mono_ms();
        if (tail)
            tail->next = j;
        else
            head = j;
        tail = j;
    }
    mgr->ndue = 0;
    if (!head)
        return mgr->fl_ticket;
    uint64_t ticket = ++mgr->fl_ticket;
    for (flush_job *j = head; j; j = j->next)
        j->ticket = ticket;
    pthread_mutex_lock(&mgr->fl_mu);
    if (mgr->jobs_tail)
        mgr->jobs_tail->next = head;
    else
        mgr->jobs_head = head;
    mgr->jobs_tail = tail;
    if (!mgr->fl_next)
        mgr->fl_next = head;
    pthread_mutex_unlock(&mgr->fl_mu);
    /* Made at the first batch, in the environment current then (the loop's:
     * worker threads in production, inline under a simulator). Submitted
     * outside fl_mu: an inline task takes it. */
    if (!mgr->fl_exec)
        mgr->fl_exec = sl_exec_new("sl-flusher", 1);
    sl_exec_submit(mgr->fl_exec, flusher_run, mgr);
    return ticket;
}

uint64_t log_manager_flush_reap(log_manager *mgr) {
    flush_job *done = NULL, **dt = &done;
    pthread_mutex_lock(&mgr->fl_mu);
    while (mgr->jobs_head && mgr->jobs_head->done) {
        flush_job *j = mgr->jobs_head;
        mgr->jobs_head = j->next;
        if (!mgr->jobs_head)
            mgr->jobs_tail = NULL;
        j->next = NULL;
        *dt = j;
        dt = &j->next;
    }
    uint64_t upto =
        mgr->jobs_head ? mgr->jobs_head->ticket - 1 : mgr->fl_ticket;
    pthread_mutex_unlock(&mgr->fl_mu);
    while (done) {
        flush_job *j = done;
        done = j->next;
        log_partition *p = j->part;
        if (p && j->gen == p->gen && !p->failed) {
            if (j->err) {
                errno = j->err;
                lg_poison(p, "fsync");
            } else if (j->target > p->recovery_point &&
                       j->target <= log_end_offset(p)) {
                p->recovery_point = j->target;
            }
        }
        lg_job_free(mgr, j);
    }
    return upto;
}

uint64_t log_manager_flush_wait(log_manager *mgr) {
    pthread_mutex_lock(&mgr->fl_mu);
    while (mgr->jobs_tail && !mgr->jobs_tail->done)
        pthread_cond_wait(&mgr->fl_cv, &mgr->fl_mu);
    pthread_mutex_unlock(&mgr->fl_mu);
    return log_manager_flush_reap(mgr);
}

/* For a synchronous flush: fsyncs now the files of the partition's jobs
 * that may not be done yet (the flusher may sync them again: harmless). */
static bool sync_pending_jobs(log_partition *part) {
    log_manager *mgr = part->mgr;
    bool ok = true;
    for (flush_job *j = mgr->held_head; j && ok; j = j->next)
        if (j->part == part) {
            for (int i = 0; i < j->ndirs && ok; i++)
                ok = IOCALL(mgr, fsync_dir, j->dirs[i]) == 0;
            for (int i = 0; i < j->nfds && ok; i++)
                ok = IOCALL(mgr, fsync, j->fds[i]) == 0;
        }
    pthread_mutex_lock(&mgr->fl_mu);
    for (flush_job *j = mgr->jobs_head; j && ok; j = j->next)
        if (j->part == part && !j->done) {
            for (int i = 0; i < j->ndirs && ok; i++)
                ok = IOCALL(mgr, fsync_dir, j->dirs[i]) == 0;
            for (int i = 0; i < j->nfds && ok; i++)
                ok = IOCALL(mgr, fsync, j->fds[i]) == 0;
        }
    pthread_mutex_unlock(&mgr->fl_mu);
    return ok;
}

/* Deleted partition: its jobs no longer point at it. */
void lg_flush_forget(log_partition *part) {
    log_manager *mgr = part->mgr;
    for (int i = 0; i < mgr->ndue; i++)
        if (mgr->due[i] == part)
            mgr->due[i] = mgr->due[--mgr->ndue];
    part->flush_due = false;
    for (flush_job *j = mgr->held_head; j; j = j->next)
        if (j->part == part)
            j->part = NULL;
    pthread_mutex_lock(&mgr->fl_mu);
    for (flush_job *j = mgr->jobs_head; j; j = j->next)
        if (j->part == part)
            j->part = NULL;
    pthread_mutex_unlock(&mgr->fl_mu);
}

/* Stops the flusher: after finishing every begun job (drain) or after the
 * current one (abandon: a crash loses the rest, as it would). */
void lg_flusher_stop(log_manager *mgr, bool drain) {
    if (drain && log_manager_flush_pending(mgr))
        log_manager_flush_begin(mgr);
    if (!drain) { /* a crash: nothing more is synced */
        mgr->create_sync = false;
        for (int i = 0; i < mgr->ndue; i++)
            mgr->due[i]->flush_due = false;
        mgr->ndue = 0;
    }
    pthread_mutex_lock(&mgr->fl_mu);
    mgr->fl_stop = true;
    mgr->fl_abandon = !drain;
    pthread_mutex_unlock(&mgr->fl_mu);
    sl_exec_free(mgr->fl_exec); /* runs (or skips, abandoning) what is left */
    mgr->fl_exec = NULL;
    if (drain)
        log_manager_flush_reap(mgr);
    flush_job *lists[2] = {mgr->jobs_head, mgr->held_head};
    for (int i = 0; i < 2; i++)
        while (lists[i]) {
            flush_job *n = lists[i]->next;
            lg_job_free(mgr, lists[i]);
            lists[i] = n;
        }
    mgr->jobs_head = mgr->jobs_tail = mgr->fl_next = NULL;
    mgr->held_head = mgr->held_tail = NULL;
}
