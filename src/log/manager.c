/*
 * manager.c - the log manager: the partition map, creating and deleting
 * partitions, opening (recovery of every log dir) and closing the manager,
 * and log dir failure.
 *
 * Keeps (numbers of log_int.h):
 *  5. An I/O error on a partition fails it and its whole log dir
 *     (lg_poison -> lg_dir_fail, Kafka's LogDirFailureChannel).
 *  7. A new partition's directory entry is made durable with the next
 *     flush_begin (create_sync) before its first flush completes.
 *  A clean shutdown (log_manager_close) writes .kafka_cleanshutdown last,
 *  only when every flush, finalize and checkpoint succeeded; open removes
 *  it durably before anything new is written.
 */
#include "log_int.h"
#include "cleaner.h"
#include "core/uuid.h"

/* ---- small helpers ------------------------------------------------------ */
/* The random part of a "-delete" / "-future" directory name: Kafka's
 * UUID.randomUUID without its dashes (32 hex digits). */
void lg_dir_suffix(char hex[33]) {
    uint8_t u[16];
    uuid_v4(u);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", u[i]);
}

/* An I/O error on a log fails its whole log dir, as Kafka's
 * LogDirFailureChannel does (lg_dir_fail). */
void lg_poison(log_partition *part, const char *what) {
    if (!part->failed)
        SL_ERROR(MOD,
                 "I/O error on partition %s-%d (%s: %s); the partition is "
                 "offline until restart (check the disk under %s)",
                 part->topic, part->partition, what, strerror(errno),
                 part->path);
    part->failed = true;
    lg_dir_fail(part->mgr, part->dir_index);
}

/* ---- partition map --------------------------------------------------------
 */
static uint64_t tp_hash(const char *topic, int32_t p) {
    uint64_t h = 1469598103934665603ULL;
    for (const char *c = topic; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ULL;
    h = (h ^ (uint32_t)p) * 1099511628211ULL;
    return h;
}

void lg_map_insert(log_manager *mgr, log_partition *part) {
    if (mgr->nparts + 1 > mgr->nbuckets) {
        size_t nb = mgr->nbuckets ? mgr->nbuckets * 2 : 64;
        log_partition **b = xcalloc(nb, sizeof(*b));
        for (size_t i = 0; i < mgr->nbuckets; i++) {
            log_partition *p = mgr->buckets[i];
            while (p) {
                log_partition *nx = p->hnext;
                size_t k = tp_hash(p->topic, p->partition) & (nb - 1);
                p->hnext = b[k];
                b[k] = p;
                p = nx;
            }
        }
        free(mgr->buckets);
        mgr->buckets = b;
        mgr->nbuckets = nb;
    }
    size_t k = tp_hash(part->topic, part->partition) & (mgr->nbuckets - 1);
    part->hnext = mgr->buckets[k];
    mgr->buckets[k] = part;
    mgr->nparts++;
}

static void map_remove(log_manager *mgr, log_partition *part) {
    size_t k = tp_hash(part->topic, part->partition) & (mgr->nbuckets - 1);
    for (log_partition **pp = &mgr->buckets[k]; *pp; pp = &(*pp)->hnext)
        if (*pp == part) {
            *pp = part->hnext;
            mgr->nparts--;
            return;
        }
}

log_partition *log_get(log_manager *mgr, const char *topic, int32_t partition) {
    if (!mgr->nbuckets)
        return NULL;
    size_t k = tp_hash(topic, partition) & (mgr->nbuckets - 1);
    for (log_partition *p = mgr->buckets[k]; p; p = p->hnext)
        if (p->partition == partition && !strcmp(p->topic, topic))
            return p;
    return NULL;
}

log_partition *lg_part_new(log_manager *mgr, const char *topic,
                           int32_t partition, int dir_index) {
    log_partition *part = xcalloc(1, sizeof(*part));
    part->mgr = mgr;
    part->topic = xstrdup(topic);
    part->partition = partition;
    part->dir_index = dir_index;
    char name[512];
    snprintf(name, sizeof(name), "%s-%d", topic, partition);
    part->path = lg_path_join(mgr->dirs[dir_index], name);
    part->cfg = mgr->default_cfg;
    part->last_flush_ms = clk_mono_ms();
    return part;
}

void lg_part_free(log_partition *part) {
    if (part->move) {
        free(part->move->future_path);
        free(part->move);
    }
    for (int i = 0; i < part->nsegs; i++)
        lg_seg_free(part->segs[i]);
    free(part->segs);
    free(part->epochs);
    free(part->topic);
    free(part->path);
    free(part);
}

log_partition *log_create(log_manager *mgr, const char *topic,
                          int32_t partition, const uint8_t topic_id[16],
                          const log_config *cfg, int16_t *err) {
    *err = KERR_NONE;
    log_partition *part = log_get(mgr, topic, partition);
    if (part)
        return part;
    /* The dir with the fewest partitions (Kafka's placement rule). */
    int best = 0;
    if (mgr->ndirs > 1) {
        if (!mgr->dir_parts) {
            mgr->dir_parts = xcalloc((size_t)mgr->ndirs, sizeof(int));
            for (size_t i = 0; i < mgr->nbuckets; i++)
                for (log_partition *p = mgr->buckets[i]; p; p = p->hnext)
                    mgr->dir_parts[p->dir_index]++;
        }
        best = -1;
        for (int i = 0; i < mgr->ndirs; i++)
            if (!log_manager_dir_offline(mgr, i) &&
                (best < 0 || mgr->dir_parts[i] < mgr->dir_parts[best]))
                best = i;
    } else if (log_manager_dir_offline(mgr, 0)) {
        best = -1;
    }
    if (best < 0) { /* every log dir is offline */
        *err = KERR_KAFKA_STORAGE_ERROR;
        return NULL;
    }
    part = lg_part_new(mgr, topic, partition, best);
    if (cfg)
        part->cfg = *cfg;
    if (topic_id)
        memcpy(part->topic_id, topic_id, 16);
    if (IOCALL(mgr, mkdir, part->path, 0755) != 0 && errno != EEXIST) {
        SL_ERROR(MOD, "cannot create %s: %s", part->path, strerror(errno));
        lg_part_free(part);
        *err = KERR_KAFKA_STORAGE_ERROR;
        return NULL;
    }
    part->parent_unsynced = true;
    if (!lg_write_partition_metadata(part) || !lg_add_new_segment(part, 0)) {
        SL_ERROR(MOD, "cannot initialise %s: %s", part->path, strerror(errno));
        lg_part_free(part);
        *err = KERR_KAFKA_STORAGE_ERROR;
        return NULL;
    }
    lg_map_insert(mgr, part);
    if (mgr->dir_parts)
        mgr->dir_parts[best]++;
    return part;
}

bool lg_remove_dir_files(log_manager *mgr, const char *dir) {
    int n;
    char **names = log_io_list_names(mgr->io, dir, &n);
    if (!names)
        return false;
    for (int i = 0; i < n; i++) {
        char *p = lg_path_join(dir, names[i]);
        IOCALL(mgr, unlink, p);
        free(p);
    }
    log_io_free_names(names, n);
    return IOCALL(mgr, rmdir, dir) == 0;
}

int16_t log_delete(log_manager *mgr, log_partition *part) {
    log_move_cancel(part);
    map_remove(mgr, part);
    lg_flush_forget(part);
    if (mgr->dir_parts)
        mgr->dir_parts[part->dir_index]--;
    for (int i = 0; i < mgr->ndirty; i++)
        if (mgr->dirty[i] == part)
            mgr->dirty[i] = mgr->dirty[--mgr->ndirty];
    for (int i = 0; i < part->nsegs; i++)
        lg_seg_close(part->segs[i]);
    char hex[33];
    lg_dir_suffix(hex);
    char name[600];
    snprintf(name, sizeof(name), "%s-%d.%s-delete", part->topic,
             part->partition, hex);
    char *to = lg_path_join(mgr->dirs[part->dir_index], name);
    int16_t err = KERR_NONE;
    if (IOCALL(mgr, rename, part->path, to) != 0 ||
        !lg_remove_dir_files(mgr, to))
        err = KERR_KAFKA_STORAGE_ERROR;
    free(to);
    lg_part_free(part);
    return err;
}

log_manager *log_manager_open(const log_manager_opts *opts, int16_t *err) {
    *err = KERR_NONE;
    log_manager *mgr = xcalloc(1, sizeof(*mgr));
    pthread_mutex_init(&mgr->fl_mu, NULL);
    pthread_cond_init(&mgr->fl_cv, NULL);
    mgr->io = opts->io ? opts->io : &log_io_posix;
    mgr->max_open = opts->max_open_segments > 0 ? opts->max_open_segments
                                                : DEFAULT_MAX_OPEN;
    if (mgr->max_open < 4)
        mgr->max_open = 4;
    if (opts->default_config)
        mgr->default_cfg = *opts->default_config;
    else
        log_config_default(&mgr->default_cfg);
    mgr->ndirs = opts->n_log_dirs;
    mgr->dirs = xcalloc((size_t)SL_MAX(1, mgr->ndirs), sizeof(char *));
    for (int d = 0; d < mgr->ndirs; d++) {
        mgr->dirs[d] = xstrdup(opts->log_dirs[d]);
        if (IOCALL(mgr, mkdir, mgr->dirs[d], 0755) != 0 && errno != EEXIST) {
            SL_ERROR(MOD, "cannot create log dir %s: %s", mgr->dirs[d],
                     strerror(errno));
            *err = KERR_KAFKA_STORAGE_ERROR;
            log_manager_close(mgr);
            return NULL;
        }
    }
    struct {
        int dir;
        char *path;
    } *futures = NULL;
    int nfut = 0;
    for (int d = 0; d < mgr->ndirs; d++) {
        char *marker = lg_path_join(mgr->dirs[d], CLEAN_SHUTDOWN_FILE);
        bool clean = log_io_exists(mgr->io, marker);
        ckpt rp, ls, hw;
        lg_ckpt_load(mgr, mgr->dirs[d], "recovery-point-offset-checkpoint",
                     &rp);
        lg_ckpt_load(mgr, mgr->dirs[d], "log-start-offset-checkpoint", &ls);
        lg_ckpt_load(mgr, mgr->dirs[d], "replication-offset-checkpoint", &hw);
        int nnames;
        char **names = log_io_list_names(mgr->io, mgr->dirs[d], &nnames);
        if (!names) {
            SL_ERROR(MOD, "cannot list log dir %s: %s", mgr->dirs[d],
                     strerror(errno));
            for (int i = 0; i < nfut; i++)
                free(futures[i].path);
            free(futures);
            *err = KERR_KAFKA_STORAGE_ERROR;
            free(marker);
            lg_ckpt_free(&rp);
            lg_ckpt_free(&ls);
            lg_ckpt_free(&hw);
            log_manager_close(mgr);
            return NULL;
        }
        char **todel = NULL;
        int ntodel = 0;
        for (int k = 0; k < nnames; k++) {
            const char *name = names[k];
            if (name[0] == '.')
                continue;
            char *p = lg_path_join(mgr->dirs[d], name);
            log_io_stat st;
            if (IOCALL(mgr, stat, p, &st) != 0 || !st.is_dir) {
                free(p);
                continue;
            }
            if (lg_has_suffix(name, "-future")) {
                /* A move to this dir that did not finish (the current log
                 * elsewhere is intact): started again below. */
                futures =
                    xrealloc(futures, sizeof(*futures) * (size_t)(nfut + 1));
                futures[nfut].dir = d;
                futures[nfut++].path = p;
                continue;
            }
            if (lg_has_suffix(name, "-delete")) {
                todel = xrealloc(todel, sizeof(*todel) * (size_t)(ntodel + 1));
                todel[ntodel++] = p;
                continue;
            }
            free(p);
            if (lg_has_suffix(name, "-stray"))
                continue;
            lg_load_partition(mgr, d, name, clean, &rp, &ls, &hw);
        }
        log_io_free_names(names, nnames);
        for (int i = 0; i < ntodel; i++) {
            lg_remove_dir_files(mgr, todel[i]);
            free(todel[i]);
        }
        free(todel);
        lg_ckpt_free(&rp);
        lg_ckpt_free(&ls);
        lg_ckpt_free(&hw);
        /* From now on a crash is unclean until log_manager_close: the
         * marker's removal must not revert (a crash would then skip the
         * recovery of what is written from now on). */
        bool gone = IOCALL(mgr, unlink, marker) != 0 ||
                    IOCALL(mgr, fsync_dir, mgr->dirs[d]) == 0;
        free(marker);
        if (!gone) {
            SL_ERROR(MOD, "cannot remove %s from %s: %s", CLEAN_SHUTDOWN_FILE,
                     mgr->dirs[d], strerror(errno));
            *err = KERR_KAFKA_STORAGE_ERROR;
            log_manager_close(mgr);
            return NULL;
        }
    }
    /* Kafka resumes a move whose -future log it finds at start; here the
     * copy starts over (the partial one is removed). */
    for (int i = 0; i < nfut; i++) {
        const char *name = strrchr(futures[i].path, '/') + 1;
        char tp[512];
        snprintf(tp, sizeof(tp), "%s", name);
        char *dot = strrchr(tp, '.'); /* <topic>-<p>.<hex>-future */
        log_partition *part = NULL;
        if (dot) {
            *dot = 0;
            char *dash = strrchr(tp, '-');
            char *end = NULL;
            long pn = dash ? strtol(dash + 1, &end, 10) : -1;
            if (dash && end && !*end && pn >= 0 && pn <= INT32_MAX) {
                *dash = 0;
                part = log_get(mgr, tp, (int32_t)pn);
            }
        }
        lg_remove_dir_files(mgr, futures[i].path);
        if (part && !part->failed && part->dir_index != futures[i].dir &&
            log_move_begin(part, futures[i].dir) == KERR_NONE)
            SL_INFO(MOD, "Resuming the move of %s-%d to %s", part->topic,
                    part->partition, mgr->dirs[futures[i].dir]);
        free(futures[i].path);
    }
    free(futures);
    SL_INFO(MOD,
            "Loaded %zu partition log(s); recovery re-read %" PRId64
            " batch(es)",
            mgr->nparts, mgr->stats.recovered_batches);
    return mgr;
}

void log_manager_close(log_manager *mgr) {
    if (!mgr)
        return;
    mgr->closing = true;
    lg_flusher_stop(mgr, true);
    bool all_ok = true;
    for (size_t i = 0; i < mgr->nbuckets; i++)
        for (log_partition *p = mgr->buckets[i]; p; p = p->hnext) {
            if (p->failed) {
                all_ok = false;
                continue;
            }
            if (log_flush(p) != KERR_NONE ||
                !lg_seg_finalize(lg_active(p), NULL)) {
                lg_poison(p, "close");
                all_ok = false;
            }
        }
    if (mgr->ndirs && log_manager_checkpoint(mgr) != KERR_NONE)
        all_ok = false;
    for (int d = 0; d < mgr->ndirs && all_ok; d++) {
        char *marker = lg_path_join(mgr->dirs[d], CLEAN_SHUTDOWN_FILE);
        const char *txt = "{\"version\":0,\"brokerEpoch\":-1}";
        lg_write_file_atomic(mgr, marker, txt, strlen(txt));
        free(marker);
    }
    for (size_t i = 0; i < mgr->nbuckets; i++) {
        log_partition *p = mgr->buckets[i];
        while (p) {
            log_partition *nx = p->hnext;
            lg_part_free(p);
            p = nx;
        }
    }
    for (int d = 0; d < mgr->ndirs; d++)
        free(mgr->dirs[d]);
    free(mgr->dirs);
    free(mgr->buckets);
    free(mgr->dirty);
    free(mgr->due);
    free(mgr->dir_parts);
    free(mgr->doomed);
    free(mgr->dir_offline);
    pthread_mutex_destroy(&mgr->fl_mu);
    pthread_cond_destroy(&mgr->fl_cv);
    free(mgr);
}

void log_manager_abandon(log_manager *mgr) {
    lg_flusher_stop(mgr, false);
    for (int d = 0; d < mgr->ndirs; d++)
        free(mgr->dirs[d]);
    mgr->ndirs = 0; /* no checkpoints, no marker */
    for (size_t i = 0; i < mgr->nbuckets; i++)
        for (log_partition *p = mgr->buckets[i]; p; p = p->hnext)
            p->failed = true; /* skip flush and finalize */
    log_manager_close(mgr);
}

void log_manager_get_stats(const log_manager *mgr, log_manager_stats *out) {
    *out = mgr->stats;
    out->open_segments = mgr->open_count;
    out->partitions = (int)mgr->nparts;
}

void log_manager_foreach(log_manager *mgr,
                         void (*fn)(void *ctx, log_partition *part),
                         void *ctx) {
    for (size_t i = 0; i < mgr->nbuckets; i++)
        for (log_partition *p = mgr->buckets[i]; p; p = p->hnext)
            fn(ctx, p);
}

int log_manager_n_dirs(const log_manager *mgr) {
    return mgr->ndirs;
}

const char *log_manager_dir(const log_manager *mgr, int i) {
    return mgr->dirs[i];
}

bool log_manager_dir_offline(const log_manager *mgr, int i) {
    return mgr->dir_offline && i >= 0 && i < mgr->ndirs && mgr->dir_offline[i];
}

void log_manager_on_dir_failure(log_manager *mgr,
                                void (*fn)(void *ctx, int dir), void *ctx) {
    mgr->dir_fail_fn = fn;
    mgr->dir_fail_ctx = ctx;
}

/* Kafka's LogManager.handleLogDirFailure: every log of the dir goes
 * offline (KAFKA_STORAGE_ERROR from then on), moves into it stop, new
 * partitions go elsewhere; the owner decides whether the broker can go on
 * (dir_fail_fn). */
void lg_dir_fail(log_manager *mgr, int d) {
    if (mgr->closing || d < 0 || d >= mgr->ndirs)
        return;
    if (!mgr->dir_offline)
        mgr->dir_offline = xcalloc((size_t)mgr->ndirs, sizeof(bool));
    if (mgr->dir_offline[d])
        return;
    mgr->dir_offline[d] = true;
    SL_WARN(MOD,
            "Stopping serving replicas in dir %s because the log directory "
            "has failed.",
            mgr->dirs[d]);
    int n = 0;
    for (size_t i = 0; i < mgr->nbuckets; i++)
        for (log_partition *p = mgr->buckets[i]; p; p = p->hnext) {
            if (p->move && p->move->dest == d)
                log_move_cancel(p);
            if (p->dir_index == d && !p->failed) {
                p->failed = true;
                n++;
            }
        }
    SL_ERROR(MOD, "Logs of %d more partition(s) in dir %s are offline", n,
             mgr->dirs[d]);
    if (mgr->dir_fail_fn)
        mgr->dir_fail_fn(mgr->dir_fail_ctx, d);
}

int log_manager_dir_index(const log_manager *mgr, const char *path) {
    for (int i = 0; i < mgr->ndirs; i++)
        if (!strcmp(mgr->dirs[i], path))
            return i;
    return -1;
}
