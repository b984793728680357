/*
 * storage.c - the broker's use of the storage engine (src/log): opening the
 * log manager over log.dirs, opening the metadata log __cluster_metadata-0
 * and handing it to the controller (src/controller/meta_log.c writes and
 * replays it), and creating / deleting / configuring local partition logs
 * as the metadata image changes.
 *
 * State: brk->storage (struct brk_storage), no file-level statics.
 * The metadata log never expires: retention is unlimited on it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/data.h"
#include "broker/internal.h"
#include "controller/controller.h"
#include "core/env.h"
#include "core/log.h"
#include "core/util.h"
#include "core/uuid.h"
#include "log/log.h"
#include "proto/errors.h"
#include "replica/fetcher.h"
#include "replica/replica.h"
#include "txn/txn.h"

#define META_TOPIC "__cluster_metadata"

/* Creating a partition log costs a few fsyncs (~5 ms). A topic with
 * thousands of partitions would stall the loop for seconds, so at most
 * CREATE_BATCH logs are created per loop iteration; the rest wait in a
 * queue drained by a 0 ms timer, and meanwhile Metadata reports those
 * partitions as LEADER_NOT_AVAILABLE (brk_partition_pending) and the data
 * handlers answer NOT_LEADER_OR_FOLLOWER (no local log in the replica
 * manager yet), both retriable,
 * as Kafka does while a partition is being created. */
#define CREATE_BATCH 32

/* The node's storage state (brk->storage), made by brk_storage_open. */
struct brk_storage {
    cl_partition **pending; /* partition logs queued for creation */
    size_t n_pending, cap_pending;
    int sync_budget; /* logs still created synchronously this pass */
    bool drain_scheduled;
    bool budget_hook_added;
};

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
    if (brk->repl) {
        repl_fetchers_stop(brk->repl);
        repl_purgatory_shutdown(brk->repl);
    }
}

/* The replica fetchers' hooks: a follower's producer state follows its log
 * (src/txn). */
static void fetched_appended(void *ctx, log_partition *log,
                             const uint8_t *batches, size_t len) {
    brk_broker *brk = ctx;
    if (brk->txn)
        txn_replicated(brk->txn, log, batches, len);
}

static void fetched_truncated(void *ctx, log_partition *log) {
    brk_broker *brk = ctx;
    if (brk->txn)
        txn_truncated(brk->txn, log);
}

/* follower.replication.throttled.rate (dynamic, per broker). */
static int64_t follower_throttle_rate(void *ctx) {
    brk_broker *brk = ctx;
    return brk_cfg_i64(brk->cfg, BRK_CFG_FOLLOWER_REPLICATION_THROTTLED_RATE);
}

/* The replica fetchers (src/replica/fetcher.h), with the replica.* keys. */
static void fetchers_start(brk_broker *brk) {
    const brk_config *c = brk->cfg;
    repl_fetcher_opts o = {
        .listener = brk_cfg_str(c, BRK_CFG_INTER_BROKER_LISTENER_NAME),
        .num_fetchers = (int)brk_cfg_i64(c, BRK_CFG_NUM_REPLICA_FETCHERS),
        .max_bytes = (int32_t)brk_cfg_i64(c, BRK_CFG_REPLICA_FETCH_MAX_BYTES),
        .min_bytes = (int32_t)brk_cfg_i64(c, BRK_CFG_REPLICA_FETCH_MIN_BYTES),
        .wait_max_ms =
            (int32_t)brk_cfg_i64(c, BRK_CFG_REPLICA_FETCH_WAIT_MAX_MS),
        .response_max_bytes =
            (int32_t)brk_cfg_i64(c, BRK_CFG_REPLICA_FETCH_RESPONSE_MAX_BYTES),
        .backoff_ms = brk_cfg_i64(c, BRK_CFG_REPLICA_FETCH_BACKOFF_MS),
        .socket_timeout_ms = brk_cfg_i64(c, BRK_CFG_REPLICA_SOCKET_TIMEOUT_MS),
        .appended = fetched_appended,
        .truncated = fetched_truncated,
        .throttle_rate = follower_throttle_rate,
        .quota_window_num =
            (int)brk_cfg_i64(c, BRK_CFG_REPLICATION_QUOTA_WINDOW_NUM),
        .quota_window_ms =
            1000 *
            brk_cfg_i64(c, BRK_CFG_REPLICATION_QUOTA_WINDOW_SIZE_SECONDS),
        .ctx = brk,
    };
    repl_fetchers_start(brk->repl, brk->loop, brk->image, brk->node_id, &o);
}

int brk_storage_open(brk_broker *brk, const char *const *dirs, int n_dirs,
                     char *err, size_t errlen) {
    brk->storage = xcalloc(1, sizeof *brk->storage);
    brk->storage->sync_budget = CREATE_BATCH;
    brk->image = brk_image_new(brk->cfg);
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
    if (brk->loop)
        fetchers_start(brk);
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
    /* in a quorum the controller goes over the quorum member (the step
     * after this one, brk_quorum_start), its image from what is committed */
    if (brk_quorum_configured(brk->cfg))
        return 0;
    /* the controller commits to it (src/controller/meta_log.c) */
    brk->ctl = ctl_new(brk->image, ctl_meta_log_new(brk->logs, brk->meta_log));
    if (ctl_replay(brk->ctl, err, errlen) < 0)
        return -1;
    SL_INFO("server", "metadata image at offset %lld (%zu topics) from %s-0",
            (long long)cl_image_offset(brk->image), cl_topic_count(brk->image),
            META_TOPIC);
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

static void create_now(brk_broker *brk, cl_partition *part) {
    cl_topic *t = part->topic;
    part->log_pending = false;
    if (!hosts_replica(brk, part))
        return; /* moved away while queued */
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
    struct brk_storage *st = brk->storage;
    st->drain_scheduled = false;
    size_t n = SL_MIN(st->n_pending, (size_t)CREATE_BATCH);
    for (size_t i = 0; i < n; i++)
        create_now(brk, st->pending[i]);
    memmove(st->pending, st->pending + n,
            (st->n_pending - n) * sizeof *st->pending);
    st->n_pending -= n;
    if (st->n_pending && !net_loop_stopping(loop)) {
        st->drain_scheduled = true;
        net_timer_add(loop, 0, drain_pending, brk);
    }
}

static void reset_budget(net_loop *loop, void *ctx) {
    (void)loop;
    struct brk_storage *st = ctx;
    st->sync_budget = CREATE_BATCH;
}

static void create_or_queue(brk_broker *brk, cl_partition *part) {
    struct brk_storage *st = brk->storage;
    if (!st->budget_hook_added && brk->loop) {
        net_loop_add_before_sleep(brk->loop, reset_budget, st);
        st->budget_hook_added = true;
    }
    /* Internal topics (50 partitions) are used by their coordinator at
     * once: always created synchronously. */
    if (st->sync_budget > 0 || !brk->loop || part->topic->internal) {
        st->sync_budget--;
        create_now(brk, part);
        return;
    }
    if (st->n_pending == st->cap_pending) {
        st->cap_pending = st->cap_pending ? st->cap_pending * 2 : 256;
        st->pending =
            xrealloc(st->pending, st->cap_pending * sizeof *st->pending);
    }
    st->pending[st->n_pending++] = part;
    part->log_pending = true;
    if (!st->drain_scheduled) {
        st->drain_scheduled = true;
        net_timer_add(brk->loop, 0, drain_pending, brk);
    }
}

void brk_storage_close(brk_broker *brk) {
    struct brk_storage *st = brk->storage;
    if (!st)
        return;
    /* Create what is still queued: the metadata log says these partitions
     * exist, and the next start expects their logs. */
    for (size_t i = 0; i < st->n_pending; i++)
        create_now(brk, st->pending[i]);
    free(st->pending);
    free(st);
    brk->storage = NULL;
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
        if (repl_log(brk->repl, part) && !hosts_replica(brk, part)) {
            /* no longer a replica (a reassignment moved it away): its
             * fetcher stops and the log is deleted, as Kafka's
             * ReplicaManager.applyDelta does for a local delete */
            log_partition *log = repl_remove(brk->repl, part);
            SL_INFO("server",
                    "%s-%d: no longer a replica on this broker; deleting "
                    "the local log",
                    t->name, part->id);
            if (log)
                log_delete(brk->logs, log);
        } else if (repl_log(brk->repl, part)) {
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
        brk_coordinators_on_partition(brk, part); /* coordinators follow */
        break;
    case CL_EV_TOPIC_REMOVING: {
        repl_purgatory_poke(brk->repl, t->id, -1);
        struct brk_storage *st = brk->storage;
        size_t k = 0;
        for (size_t i = 0; i < st->n_pending; i++)
            if (st->pending[i]->topic != t)
                st->pending[k++] = st->pending[i];
        st->n_pending = k;
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
