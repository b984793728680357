/*
 * checkpoint.c - the small files beside the logs: per log dir,
 * recovery-point-offset-checkpoint, log-start-offset-checkpoint and
 * replication-offset-checkpoint (Kafka's text format: version, count,
 * "topic partition offset" lines); per partition, partition.metadata.
 *
 * Keeps (numbers of log_int.h):
 *  2. A checkpoint holds values that were true when it was written; each
 *     is replaced atomically (temp, fsync, rename, directory fsync).
 *  1. The log-start checkpoint keeps a partition's entry while its dropped
 *     segments' unlinks are not durable (ckpt_keeps_log_start), so a
 *     crash never brings the log start back below them.
 */
#include "log_int.h"
#include "ckpt_file.h"
#include "core/uuid.h"

/* A new partition's partition.metadata, written in place in its new
 * directory (nothing to replace) and not fsynced here: the creations of a
 * loop pass are made durable together by one syncfs on the flusher thread
 * (log_manager_flush_begin), instead of file + directory fsyncs for each
 * partition on the loop thread. The metadata log, fsynced, is the record of
 * the partition; a missing or torn file only loses the topic id hint. */
bool lg_write_partition_metadata(log_partition *part) {
    char id[UUID_STR_LEN + 1];
    uuid_to_string(part->topic_id, id);
    char txt[64];
    int n = snprintf(txt, sizeof(txt), "version: 0\ntopic_id: %s\n", id);
    char *p = lg_path_join(part->path, "partition.metadata");
    log_manager *mgr = part->mgr;
    int fd = IOCALL(mgr, open, p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    free(p);
    if (fd < 0)
        return false;
    bool ok = log_io_write_all(mgr->io, fd, txt, (size_t)n, 0);
    IOCALL(mgr, close, fd);
    mgr->create_sync = true;
    return ok;
}

void lg_read_partition_metadata(log_partition *part) {
    char *p = lg_path_join(part->path, "partition.metadata");
    char *txt = lg_read_text(part->mgr, p);
    free(p);
    if (!txt)
        return;
    char *t = strstr(txt, "topic_id:");
    if (t) {
        t += 9;
        char id[32];
        if (sscanf(t, " %31s", id) == 1)
            uuid_parse(id, part->topic_id, NULL, 0);
    }
    free(txt);
}

/* ---- checkpoints
 * ---------------------------------------------------------------- */

bool ckpt_file_parse(char *txt, int version, ckpt_entry_fn fn, void *arg) {
    char *save = NULL;
    char *line = strtok_r(txt, "\n", &save);
    char *end;
    if (!line || strtol(line, &end, 10) != version || *end)
        return false;
    line = strtok_r(NULL, "\n", &save);
    long n = line ? strtol(line, &end, 10) : -1;
    if (!line || *end || n < 0 || n > 10000000)
        return false;
    for (long i = 0; i < n && (line = strtok_r(NULL, "\n", &save)); i++)
        if (!fn(arg, line))
            break;
    return true;
}

static bool ckpt_entry_add(void *arg, const char *line) {
    ckpt *c = arg;
    char topic[256];
    int32_t part;
    int64_t off;
    if (sscanf(line, "%255s %d %" SCNd64, topic, &part, &off) != 3)
        return false;
    if ((c->n & (c->n - 1)) == 0) /* 0, 1, 2, 4, ...: grow to the double */
        c->e = xrealloc(c->e, sizeof(*c->e) * (size_t)(c->n ? 2 * c->n : 1));
    c->e[c->n++] = (ckpt_entry){xstrdup(topic), part, off};
    return true;
}

void lg_ckpt_load(log_manager *mgr, const char *dir, const char *name,
                  ckpt *c) {
    c->e = NULL;
    c->n = 0;
    char *p = lg_path_join(dir, name);
    char *txt = lg_read_text(mgr, p);
    free(p);
    if (!txt)
        return;
    ckpt_file_parse(txt, 0, ckpt_entry_add, c);
    free(txt);
}

void lg_ckpt_free(ckpt *c) {
    for (int i = 0; i < c->n; i++)
        free(c->e[i].topic);
    free(c->e);
}

int64_t lg_ckpt_find(const ckpt *c, const char *topic, int32_t p) {
    for (int i = 0; i < c->n; i++)
        if (c->e[i].partition == p && !strcmp(c->e[i].topic, topic))
            return c->e[i].offset;
    return -1;
}

/* Whether the log-start checkpoint lists p. Kafka's lists a log only when
 * its start is above the first segment's base; here also while dropped
 * segments' unlinks are not durable (ls_state), and the unlinks of an
 * LS_UNLINKED log are made durable first so its entry can go. */
static bool ckpt_keeps_log_start(log_partition *p) {
    if (p->log_start > p->segs[0]->base || p->ls_state == LS_DOOMED)
        return true;
    if (p->ls_state == LS_UNLINKED) {
        if (IOCALL(p->mgr, fsync_dir, p->path) != 0)
            return true;
        p->ls_state = LS_NONE;
    }
    return false;
}

/* Writes checkpoint k (0 recovery point, 1 log start, 2 HW) of log dir d:
 * false with errno on failure. */
bool lg_checkpoint_write(log_manager *mgr, int d, int k) {
    static const char *names[3] = {"recovery-point-offset-checkpoint",
                                   "log-start-offset-checkpoint",
                                   "replication-offset-checkpoint"};
    if (log_manager_dir_offline(mgr, d)) {
        errno = EIO;
        return false;
    }
    bool ok = true;
    {
        {
            buf b, body;
            buf_init(&b, 256);
            buf_init(&body, 256);
            int n = 0;
            for (size_t i = 0; i < mgr->nbuckets; i++)
                for (log_partition *p = mgr->buckets[i]; p; p = p->hnext) {
                    if (p->dir_index != d)
                        continue;
                    /* Kafka checkpoints a log start offset only when it
                     * is above the first segment's base (the default). */
                    if (k == 1 && !ckpt_keeps_log_start(p))
                        continue;
                    int64_t v = k == 0   ? p->recovery_point
                                : k == 1 ? p->log_start
                                         : p->hw;
                    buf_printf(&body, "%s %d %" PRId64 "\n", p->topic,
                               p->partition, v);
                    n++;
                }
            buf_printf(&b, "0\n%d\n", n);
            buf_put(&b, body.data, body.len);
            char *path = lg_path_join(mgr->dirs[d], names[k]);
            if (!lg_write_file_atomic(mgr, path, b.data, b.len)) {
                SL_ERROR(MOD, "cannot write %s: %s", path, strerror(errno));
                ok = false;
                lg_dir_fail(mgr, d);
            }
            free(path);
            buf_free(&b);
            buf_free(&body);
        }
    }
    return ok;
}

/* Offline dirs are skipped; a dir whose write fails goes offline
 * (lg_dir_fail) and the call answers KAFKA_STORAGE_ERROR. */
int16_t log_manager_checkpoint(log_manager *mgr) {
    int16_t err = KERR_NONE;
    for (int d = 0; d < mgr->ndirs; d++)
        for (int k = 0; k < 3 && !log_manager_dir_offline(mgr, d); k++)
            if (!lg_checkpoint_write(mgr, d, k))
                err = KERR_KAFKA_STORAGE_ERROR;
    return err;
}

int16_t log_manager_checkpoint_kind(log_manager *mgr, log_ckpt_kind kind) {
    SL_ASSERT(kind >= LOG_CKPT_RECOVERY_POINT &&
              kind <= LOG_CKPT_HIGH_WATERMARK);
    int16_t err = KERR_NONE;
    for (int d = 0; d < mgr->ndirs; d++)
        if (!log_manager_dir_offline(mgr, d) &&
            !lg_checkpoint_write(mgr, d, (int)kind))
            err = KERR_KAFKA_STORAGE_ERROR;
    return err;
}
