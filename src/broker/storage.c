/*
 * storage.c - the broker's use of the storage engine (src/log): opening the
 * log manager over log.dirs, the metadata log __cluster_metadata-0 where the
 * controller keeps its records (as KRaft does), replay at start, and
 * creating / deleting / configuring local partition logs as the metadata
 * image changes.
 *
 * The metadata log holds plain magic-2 batches whose record values are
 * framed KRaft metadata records (cl_record_frame). It never expires:
 * retention is unlimited on it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/data.h"
#include "broker/internal.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/log.h"
#include "core/util.h"
#include "core/uuid.h"
#include "core/varint.h"
#include "log/batch.h"
#include "log/compress.h"
#include "log/log.h"
#include "proto/errors.h"
#include "replica/replica.h"

#define META_TOPIC "__cluster_metadata"

static void meta_log_config(log_config *lc) {
    log_config_default(lc);
    lc->retention_ms = -1;
    lc->retention_bytes = -1;
    lc->segment_bytes = 8 << 20;
    lc->max_message_bytes = 8 << 20;
}

/* A log dir failed (log.h): as Kafka 4.3.1 (ReplicaManager /
 * LogManager.handleLogDirFailure), the broker halts when it was the
 * metadata log's dir or when no dir is left; otherwise it goes on with the
 * others (the failed dir's partitions answer KAFKA_STORAGE_ERROR). */
static void on_dir_failure(void *ctx, int d) {
    brk_broker *brk = ctx;
    const char *dir = log_manager_dir(brk->logs, d);
    if (brk->meta_log && !strcmp(log_dir_path(brk->meta_log), dir)) {
        SL_ERROR("server",
                 "Shutdown broker because the metadata log dir %s "
                 "has failed",
                 dir);
        sl_env_halt(1); /* exits, but under a simulator */
        return;
    }
    int n = log_manager_n_dirs(brk->logs);
    bool all = true;
    for (int i = 0; i < n; i++)
        all &= log_manager_dir_offline(brk->logs, i);
    if (all) {
        buf b;
        buf_init(&b, 128);
        for (int i = 0; i < n; i++)
            buf_printf(&b, "%s%s", i ? ", " : "",
                       log_manager_dir(brk->logs, i));
        buf_put_u8(&b, 0);
        SL_ERROR("server",
                 "Shutdown broker because all log dirs in %s have "
                 "failed",
                 (char *)b.data);
        sl_env_halt(1); /* exits, but under a simulator */
        return;
    }
    SL_WARN("server", "Stopped serving replicas in dir %s", dir);
}

/* Shutdown hook: the purgatory's waiting requests answer before the loop
 * stops. */
static void repl_shutdown(brk_broker *brk, void *ctx) {
    (void)ctx;
    if (brk->repl)
        repl_purgatory_shutdown(brk->repl);
}

int brk_storage_open(brk_broker *brk, const char *const *dirs, int n_dirs,
                     char *err, size_t errlen) {
    brk->image = cl_image_new(brk->cfg);
    cl_image_set_listener(brk->image, brk_storage_on_image, brk);
    log_config def;
    log_config_default(&def);
    log_manager_opts o = {
        .log_dirs = dirs,
        .n_log_dirs = n_dirs,
        .io = sl_env_cur()->fs, /* the node's file system */
        .max_open_segments = 0,
        .default_config = &def,
    };
    int16_t e = 0;
    brk->logs = log_manager_open(&o, &e);
    if (!brk->logs) {
        snprintf(err, errlen, "cannot open log dirs: %s", proto_error_name(e));
        return -1;
    }
    brk->repl = repl_manager_new(brk->node_id, brk->loop);
    brk_on_shutdown(brk, repl_shutdown, NULL);
    log_manager_on_dir_failure(brk->logs, on_dir_failure, brk);
    brk->meta_log = log_get(brk->logs, META_TOPIC, 0);
    log_config mc;
    meta_log_config(&mc);
    if (!brk->meta_log)
        brk->meta_log = log_create(brk->logs, META_TOPIC, 0,
                                   uuid_metadata_topic_id, &mc, &e);
    else
        log_set_config(brk->meta_log, &mc);
    if (!brk->meta_log) {
        snprintf(err, errlen, "cannot create %s-0: %s", META_TOPIC,
                 proto_error_name(e));
        return -1;
    }
    return brk_meta_replay(brk, err, errlen);
}

/* ---- batches
 * ----------------------------------------------------------------- */

/* One uncompressed batch holding values[0..n) as record values (null
 * keys, no headers, all stamped now), as Kafka's metadata log writes them. */
static void build_batch(buf *out, buf *values, int n) {
    int64_t now = clk_wall_ms();
    batch_builder bb;
    batch_builder_init(&bb, COMPRESS_NONE, 0);
    batch_builder_set_leader_epoch(&bb, 0); /* the single node's epoch */
    for (int i = 0; i < n; i++)
        batch_builder_add(&bb, now, NULL, -1, values[i].data,
                          (int32_t)values[i].len, NULL, 0);
    int16_t e = batch_builder_finish(&bb, out);
    SL_ASSERT(e == KERR_NONE); /* n > 0, no codec to fail */
    (void)e;
    batch_builder_free(&bb);
}

int16_t brk_meta_append(brk_broker *brk, buf *values, int n) {
    if (!brk->meta_log || !brk->logs)
        return KERR_NONE; /* in memory only */
    buf b;
    buf_init(&b, 256);
    build_batch(&b, values, n);
    log_append_info info;
    int16_t e = log_append(brk->meta_log, b.data, b.len, 0,
                           LOG_ORIGIN_COORDINATOR, &info);
    buf_free(&b);
    if (e)
        return e;
    log_set_high_watermark(brk->meta_log, log_end_offset(brk->meta_log));
    e = log_flush(brk->meta_log);
    if (!e)
        cl_image_set_offset(brk->image, info.last_offset);
    return e;
}

/* Parses the records of one uncompressed batch and applies them. */
static int apply_batch(brk_broker *brk, const uint8_t *p, size_t n,
                       int64_t base) {
    if (n < 61 || p[16] != 2)
        return -1;
    int16_t attrs = (int16_t)sl_load_be16(p + 21);
    if (attrs & 0x07)
        return -1; /* we never write compressed metadata batches */
    if (attrs & 0x20)
        return 0; /* control batch */
    int32_t count = (int32_t)sl_load_be32(p + 57);
    rd r;
    rd_init(&r, p + 61, n - 61);
    for (int32_t i = 0; i < count && !r.err; i++) {
        int32_t len = rd_varint32(&r);
        if (r.err || len < 0 || (size_t)len > rd_left(&r))
            return -1;
        rd rec;
        rd_init(&rec, r.p, (size_t)len);
        rd_skip(&r, (size_t)len);
        rd_u8(&rec);
        rd_varint(&rec);
        int32_t od = rd_varint32(&rec);
        int32_t kl = rd_varint32(&rec);
        if (kl > 0)
            rd_skip(&rec, (size_t)kl);
        int32_t vl = rd_varint32(&rec);
        if (rec.err || vl < 0 || (size_t)vl > rd_left(&rec))
            return -1;
        if (!cl_image_apply(brk->image, rec.p, (size_t)vl))
            SL_WARN("server", "metadata record at offset %lld does not decode",
                    (long long)(base + od));
        cl_image_set_offset(brk->image, base + od);
    }
    return r.err ? -1 : 0;
}

int brk_meta_replay(brk_broker *brk, char *err, size_t errlen) {
    if (!brk->meta_log)
        return 0;
    int64_t off = log_start_offset(brk->meta_log);
    int64_t end = log_end_offset(brk->meta_log);
    log_set_high_watermark(brk->meta_log, end);
    int64_t applied = 0;
    while (off < end) {
        log_read_result rr;
        int16_t e = log_read(brk->meta_log, off, 8 << 20, end, true, &rr);
        if (e) {
            snprintf(err, errlen, "cannot read %s-0 at %lld: %s", META_TOPIC,
                     (long long)off, proto_error_name(e));
            return -1;
        }
        if (rr.len <= 0) {
            log_read_release(&rr);
            break;
        }
        uint8_t *data = xmalloc((size_t)rr.len);
        ssize_t got = log_read_pread(&rr, data, (size_t)rr.len, rr.file_pos);
        log_read_release(&rr);
        if (got != rr.len) {
            free(data);
            snprintf(err, errlen, "short read of %s-0", META_TOPIC);
            return -1;
        }
        size_t pos = 0;
        int64_t next = off;
        while (pos + 12 <= (size_t)got) {
            int64_t base = (int64_t)sl_load_be64(data + pos);
            int32_t blen = (int32_t)sl_load_be32(data + pos + 8);
            if (blen < 49 || pos + 12 + (size_t)blen > (size_t)got)
                break;
            int32_t lod = (int32_t)sl_load_be32(data + pos + 23);
            if (base + lod >= off) {
                if (apply_batch(brk, data + pos, 12 + (size_t)blen, base) < 0) {
                    free(data);
                    snprintf(err, errlen,
                             "corrupt batch in %s-0 at offset %lld", META_TOPIC,
                             (long long)base);
                    return -1;
                }
                applied++;
            }
            next = base + lod + 1;
            pos += 12 + (size_t)blen;
        }
        free(data);
        if (next <= off)
            break;
        off = next;
    }
    if (applied)
        SL_INFO("server",
                "replayed %lld metadata batches (%zu topics) from %s-0",
                (long long)applied, cl_topic_count(brk->image), META_TOPIC);
    return 0;
}

/* ---- image -> local logs
 * ------------------------------------------------------- */

static bool hosts_replica(const brk_broker *brk, const cl_partition *p) {
    for (int32_t i = 0; i < p->n_replicas; i++)
        if (p->replicas[i] == brk->node_id)
            return true;
    return false;
}

/* Creating a partition log costs a few fsyncs (~5 ms). A topic with
 * thousands of partitions would stall the loop for seconds, so at most
 * CREATE_BATCH logs are created per loop iteration; the rest wait in a
 * queue drained by a 0 ms timer, and meanwhile Metadata reports those
 * partitions as LEADER_NOT_AVAILABLE (brk_partition_pending) and the data
 * handlers answer NOT_LEADER_OR_FOLLOWER (no local log in the replica
 * manager yet), both retriable,
 * as Kafka does while a partition is being created. */
#define CREATE_BATCH 32

static cl_partition **pending;
static size_t n_pending, cap_pending;
static int sync_budget = CREATE_BATCH;
static bool drain_scheduled;
static bool budget_hook_added;

static void create_now(brk_broker *brk, cl_partition *part) {
    cl_topic *t = part->topic;
    part->log_pending = false;
    int16_t e = 0;
    log_partition *log =
        log_create(brk->logs, t->name, part->id, t->id, &t->log_cfg, &e);
    if (!log)
        SL_ERROR("server", "cannot create log for %s-%d: %s", t->name, part->id,
                 proto_error_name(e));
    else /* the replica manager takes the role (and the HW of a leader) */
        repl_update(brk->repl, part, log);
}

bool brk_partition_pending(const cl_partition *part) {
    return part->log_pending;
}

static void drain_pending(net_loop *loop, void *ctx) {
    brk_broker *brk = ctx;
    drain_scheduled = false;
    size_t n = SL_MIN(n_pending, (size_t)CREATE_BATCH);
    for (size_t i = 0; i < n; i++)
        create_now(brk, pending[i]);
    memmove(pending, pending + n, (n_pending - n) * sizeof *pending);
    n_pending -= n;
    if (n_pending && !net_loop_stopping(loop)) {
        drain_scheduled = true;
        net_timer_add(loop, 0, drain_pending, brk);
    }
}

static void reset_budget(net_loop *loop, void *ctx) {
    (void)loop;
    (void)ctx;
    sync_budget = CREATE_BATCH;
}

static void create_or_queue(brk_broker *brk, cl_partition *part) {
    if (!budget_hook_added && brk->loop) {
        net_loop_add_before_sleep(brk->loop, reset_budget, NULL);
        budget_hook_added = true;
    }
    /* Internal topics (50 partitions) are used by their coordinator at
     * once: always created synchronously. */
    if (sync_budget > 0 || !brk->loop || part->topic->internal) {
        sync_budget--;
        create_now(brk, part);
        return;
    }
    if (n_pending == cap_pending) {
        cap_pending = cap_pending ? cap_pending * 2 : 256;
        pending = xrealloc(pending, cap_pending * sizeof *pending);
    }
    pending[n_pending++] = part;
    part->log_pending = true;
    if (!drain_scheduled) {
        drain_scheduled = true;
        net_timer_add(brk->loop, 0, drain_pending, brk);
    }
}

void brk_storage_close(brk_broker *brk) {
    /* Create what is still queued: the metadata log says these partitions
     * exist, and the next start expects their logs. */
    for (size_t i = 0; i < n_pending; i++)
        create_now(brk, pending[i]);
    free(pending);
    pending = NULL;
    n_pending = cap_pending = 0;
    repl_manager_free(brk->repl); /* the purgatory emptied at shutdown */
    brk->repl = NULL;
}

/* Pushes the topic's storage config to its local logs. */
static void push_log_config(brk_broker *brk, const cl_topic *t) {
    for (int32_t i = 0; i < t->n_partitions; i++) {
        log_partition *log =
            t->parts[i] ? repl_log(brk->repl, t->parts[i]) : NULL;
        if (log)
            log_set_config(log, &t->log_cfg);
    }
}

void brk_storage_on_image(void *ctx, cl_event ev, cl_topic *t,
                          cl_partition *part) {
    brk_broker *brk = ctx;
    if (!brk->logs || !brk->repl)
        return;
    switch (ev) {
    case CL_EV_PARTITION_ADDED:
    case CL_EV_PARTITION_CHANGED:
        if (repl_log(brk->repl, part)) {
            /* role, epoch, ISR; a leader's HW (replica manager) */
            repl_update(brk->repl, part, NULL);
        } else if (hosts_replica(brk, part) && !part->log_pending) {
            log_partition *log = log_get(brk->logs, t->name, part->id);
            if (log) {
                log_set_config(log, &t->log_cfg);
                repl_update(brk->repl, part, log);
            } else {
                create_or_queue(brk, part);
            }
        }
        if (ev == CL_EV_PARTITION_CHANGED && !repl_is_leader(brk->repl, part))
            /* no longer the leader: its waiting fetches answer */
            repl_purgatory_poke(brk->repl, t->id, part->id);
        break;
    case CL_EV_TOPIC_REMOVING: {
        repl_purgatory_poke(brk->repl, t->id, -1);
        size_t k = 0;
        for (size_t i = 0; i < n_pending; i++)
            if (pending[i]->topic != t)
                pending[k++] = pending[i];
        n_pending = k;
    }
        for (int32_t i = 0; i < t->n_partitions; i++) {
            log_partition *log =
                t->parts[i] ? repl_remove(brk->repl, t->parts[i]) : NULL;
            if (log)
                log_delete(brk->logs, log);
        }
        break;
    case CL_EV_TOPIC_CONFIG:
        push_log_config(brk, t);
        break;
    case CL_EV_BROKER_CONFIG: {
        size_t n;
        cl_topic **ts = cl_topics(brk->image, &n);
        for (size_t k = 0; k < n; k++)
            push_log_config(brk, ts[k]);
        break;
    }
    case CL_EV_TOPIC_ADDED:
        break;
    }
}
