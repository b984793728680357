/*
 * epoch_cache.c - the leader epoch cache of a partition (Kafka's
 * LeaderEpochFileCache): entries (epoch, start offset), written to
 * <partition>/leader-epoch-checkpoint on every change.
 *
 * Keeps:
 *  - Entries grow strictly in epoch and in start offset; an entry is added
 *    only for an epoch above the latest (epochs_add).
 *  - Every entry's start offset is below LEO: truncation drops those at or
 *    past the new end (lg_epochs_truncate_end); DeleteRecords and retention
 *    move the first entry's start up to the log start
 *    (lg_epochs_truncate_start).
 */
#include "log_int.h"
#include "ckpt_file.h"

/* ---- leader epoch cache -----------------------------------------------------
 */
static bool epochs_write(log_partition *part) {
    buf b;
    buf_init(&b, 64);
    buf_printf(&b, "0\n%d\n", part->nepochs);
    for (int i = 0; i < part->nepochs; i++)
        buf_printf(&b, "%d %" PRId64 "\n", part->epochs[i].epoch,
                   part->epochs[i].start_offset);
    char *p = lg_path_join(part->path, "leader-epoch-checkpoint");
    bool ok = lg_write_file_atomic(part->mgr, p, b.data, b.len);
    free(p);
    buf_free(&b);
    return ok;
}

static bool epochs_load_entry(void *arg, const char *line) {
    log_partition *part = arg;
    int32_t e;
    int64_t off;
    if (sscanf(line, "%d %" SCNd64, &e, &off) != 2)
        return false;
    if (part->nepochs == part->capepochs) {
        part->capepochs = part->capepochs ? part->capepochs * 2 : 8;
        part->epochs = xrealloc(part->epochs, sizeof(*part->epochs) *
                                                  (size_t)part->capepochs);
    }
    part->epochs[part->nepochs++] = (epoch_entry){e, off};
    return true;
}

void lg_epochs_load(log_partition *part) {
    char *p = lg_path_join(part->path, "leader-epoch-checkpoint");
    char *txt = lg_read_text(part->mgr, p);
    free(p);
    if (!txt)
        return;
    ckpt_file_parse(txt, 0, epochs_load_entry, part);
    free(txt);
}

/* Adds (epoch, start) in memory if epoch is above the latest (a lower or
 * equal one is already covered); true if it was added. */
static bool epochs_add(log_partition *part, int32_t epoch, int64_t start) {
    if (epoch < 0)
        return false;
    if (part->nepochs && part->epochs[part->nepochs - 1].epoch >= epoch)
        return false;
    /* Entries grow in start offset too. A newer epoch may start where an
     * older one did when that one has no records (a leader that recorded
     * its epoch at its LEO, then lost leadership before writing): as
     * Kafka's LeaderEpochFileCache.assign, such entries give way. */
    while (part->nepochs &&
           part->epochs[part->nepochs - 1].start_offset >= start)
        part->nepochs--;
    SL_ASSERT(!part->nepochs ||
              part->epochs[part->nepochs - 1].start_offset < start);
    if (part->nepochs == part->capepochs) {
        part->capepochs = part->capepochs ? part->capepochs * 2 : 8;
        part->epochs = xrealloc(part->epochs, sizeof(*part->epochs) *
                                                  (size_t)part->capepochs);
    }
    part->epochs[part->nepochs++] = (epoch_entry){epoch, start};
    return true;
}

bool lg_epochs_assign_batches(log_partition *part, const uint8_t *batches,
                              size_t len) {
    bool added = false;
    for (size_t pos = 0; pos < len;) {
        log_batch_header h;
        batch_parse_header(batches + pos, len - pos, &h);
        if (epochs_add(part, h.partition_leader_epoch, h.base_offset))
            added = true;
        pos += (size_t)batch_size(&h);
    }
    return !added || epochs_write(part);
}

int16_t log_assign_epoch(log_partition *part, int32_t epoch, int64_t start) {
    if (part->failed)
        return KERR_KAFKA_STORAGE_ERROR;
    if (start != log_end_offset(part) || !epochs_add(part, epoch, start))
        return KERR_NONE;
    if (!epochs_write(part)) {
        lg_poison(part, "leader-epoch-checkpoint");
        return KERR_KAFKA_STORAGE_ERROR;
    }
    return KERR_NONE;
}

void lg_epochs_clear(log_partition *part) {
    if (part->nepochs) {
        part->nepochs = 0;
        epochs_write(part);
    }
}

/* Drops entries at or past end (truncation). */
void lg_epochs_truncate_end(log_partition *part, int64_t end) {
    int n = part->nepochs;
    while (part->nepochs && part->epochs[part->nepochs - 1].start_offset >= end)
        part->nepochs--;
    if (n != part->nepochs)
        epochs_write(part);
}

/* Entries wholly below start are dropped; the one covering start begins at
 * start (Kafka's truncateFromStart). */
void lg_epochs_truncate_start(log_partition *part, int64_t start) {
    int keep = 0;
    for (int i = 0; i < part->nepochs; i++)
        if (part->epochs[i].start_offset <= start)
            keep = i;
    if (keep == 0 &&
        (part->nepochs == 0 || part->epochs[0].start_offset >= start))
        return;
    memmove(part->epochs, part->epochs + keep,
            sizeof(*part->epochs) * (size_t)(part->nepochs - keep));
    part->nepochs -= keep;
    if (part->epochs[0].start_offset < start)
        part->epochs[0].start_offset = start;
    epochs_write(part);
}

int32_t log_latest_epoch(const log_partition *part) {
    return part->nepochs ? part->epochs[part->nepochs - 1].epoch : -1;
}

int32_t log_epoch_for_offset(const log_partition *part, int64_t offset) {
    int32_t e = -1;
    for (int i = 0; i < part->nepochs && part->epochs[i].start_offset <= offset;
         i++)
        e = part->epochs[i].epoch;
    return e;
}

void log_end_offset_for_epoch(log_partition *part, int32_t req, int32_t *epoch,
                              int64_t *end_offset) {
    *epoch = -1;
    *end_offset = -1;
    if (req < 0 || part->nepochs == 0)
        return;
    if (req == part->epochs[part->nepochs - 1].epoch) {
        *epoch = req;
        *end_offset = log_end_offset(part);
        return;
    }
    int higher = -1, floor = -1;
    for (int i = 0; i < part->nepochs; i++) {
        if (part->epochs[i].epoch > req) {
            higher = i;
            break;
        }
        floor = i;
    }
    if (higher < 0)
        return; /* requested epoch newer than any we know */
    if (floor < 0) {
        *epoch = req;
        *end_offset = part->epochs[higher].start_offset;
    } else {
        *epoch = part->epochs[floor].epoch;
        *end_offset = part->epochs[higher].start_offset;
    }
}
