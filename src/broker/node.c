/*
 * node.c - the node lifecycle (node.h): start-up in named steps, the loop's
 * housekeeping timers, clean shutdown and crash, for one node among
 * possibly several in the process. What a step makes, the shutdown undoes
 * in reverse, so a start that fails at any step is released by
 * brk_node_free without leaks.
 *
 * Every disk operation here (meta.properties) goes through the node's file
 * system (sl_env_cur()->fs), so a simulated node formats its crashfs.
 * Threading: the node's thread; see node.h.
 */
#include "broker/node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/data.h"
#include "broker/internal.h"
#include "cluster/image.h"
#include "core/list.h"
#include "core/log.h"
#include "core/util.h"
#include "core/uuid.h"
#include "core/version.h"
#include "log/flush.h"
#include "log/log.h"

struct brk_node {
    brk_broker brk; /* brk.cfg points at cfg */
    brk_config cfg;
    const sl_env *env; /* NULL: the process env */
    char **dirs;       /* log.dirs, split */
    int n_dirs;
    int steps_done;          /* start steps completed (start_steps) */
    bool started;            /* every step done */
    bool shutdown_requested; /* brk_node_request_shutdown was called */
    bool stopped;            /* shut down (or abandoned) */
};

/* ---- storage format: meta.properties
 * ------------------------------------------------ */

static const log_io *node_fs(void) {
    const log_io *io = sl_env_cur()->fs;
    return io ? io : &log_io_posix;
}

static char *read_prop(const char *text, const char *key) {
    size_t kl = strlen(key);
    const char *p = text;
    while (p && *p) {
        if (!strncmp(p, key, kl) && p[kl] == '=') {
            const char *v = p + kl + 1;
            const char *e = strchr(v, '\n');
            size_t n = e ? (size_t)(e - v) : strlen(v);
            while (n && (v[n - 1] == '\r' || v[n - 1] == ' '))
                n--;
            return xstrndup(v, n);
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NULL;
}

static int mkdirs(const log_io *io, const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (io->mkdir(io->ctx, tmp, 0755) < 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (io->mkdir(io->ctx, tmp, 0755) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Checks a meta.properties read from path against node_id and cluster_id
 * (in/out: "" takes the file's). */
static int check_props(const char *path, const char *text, int32_t node_id,
                       char *cluster_id, char *err, size_t errlen) {
    char *cid = read_prop(text, "cluster.id");
    char *nid = read_prop(text, "node.id");
    int rc = 0;
    if (!cid || !nid) {
        snprintf(err, errlen, "%.512s is missing cluster.id or node.id", path);
        rc = -1;
    } else if (atoi(nid) != node_id) {
        snprintf(err, errlen,
                 "Stored node id %s doesn't match previous node id %d in "
                 "%.512s. If you moved your data, make sure your configured "
                 "node id matches. If you intend to create a new node, "
                 "you should remove all data in your data directories.",
                 nid, node_id, path);
        rc = -1;
    } else if (cluster_id[0] && strcmp(cluster_id, cid)) {
        snprintf(err, errlen,
                 "Invalid cluster.id in: %.512s. Expected %s, but read %s",
                 path, cluster_id, cid);
        rc = -1;
    } else {
        snprintf(cluster_id, 32, "%s", cid);
    }
    free(cid);
    free(nid);
    return rc;
}

/* The cluster id a new storage dir gets when none is known: the container
 * images pass it to `kafka-storage format` from the environment:
 * CLUSTER_ID (confluent), KAFKA_KRAFT_CLUSTER_ID (bitnami),
 * KAFKA_CLUSTER_ID. It is used only when formatting; a formatted dir keeps
 * its own. Otherwise a random one (the env's rng). */
static int new_cluster_id(char *cluster_id, char *err, size_t errlen) {
    const char *envs[] = {"CLUSTER_ID", "KAFKA_KRAFT_CLUSTER_ID",
                          "KAFKA_CLUSTER_ID"};
    for (int i = 0; i < 3 && !cluster_id[0]; i++) {
        const char *v = getenv(envs[i]);
        if (!v || !*v)
            continue;
        uint8_t id[16];
        if (strlen(v) != UUID_STR_LEN || !uuid_parse(v, id, NULL, 0)) {
            snprintf(err, errlen,
                     "%s=%.64s is not a valid cluster id (22 characters of "
                     "base64url, e.g. from `kafka-storage random-uuid`)",
                     envs[i], v);
            return -1;
        }
        snprintf(cluster_id, 32, "%s", v);
    }
    if (!cluster_id[0])
        uuid_random_string(cluster_id);
    return 0;
}

/* Reads or writes <dir>/meta.properties. cluster_id in/out: "" means
 * "not known yet" (take the dir's or make one). Returns 0 or -1 + err. */
static int format_dir(const char *dir, int32_t node_id, char *cluster_id,
                      char *err, size_t errlen) {
    const log_io *io = node_fs();
    char path[4200];
    snprintf(path, sizeof path, "%s/meta.properties", dir);
    size_t n;
    uint8_t *text = log_io_read_file(io, path, 64 << 10, &n);
    if (text) {
        int rc = check_props(path, (const char *)text, node_id, cluster_id, err,
                             errlen);
        free(text);
        return rc;
    }
    if (errno != ENOENT) {
        snprintf(err, errlen, "cannot read %.512s: %s", path, strerror(errno));
        return -1;
    }
    if (mkdirs(io, dir) < 0) {
        snprintf(err, errlen, "cannot create log dir %s: %s", dir,
                 strerror(errno));
        return -1;
    }
    if (!cluster_id[0] && new_cluster_id(cluster_id, err, errlen) < 0)
        return -1;
    char dir_id[UUID_STR_LEN + 1];
    uuid_random_string(dir_id);
    char props[512];
    int len = snprintf(props, sizeof props,
                       "#\n#Written by sluice %s\ncluster.id=%s\n"
                       "directory.id=%s\nnode.id=%d\nversion=1\n",
                       SLUICE_VERSION, cluster_id, dir_id, node_id);
    if (!log_io_write_atomic(io, path, props, (size_t)len)) {
        snprintf(err, errlen, "cannot write %.512s: %s", path, strerror(errno));
        return -1;
    }
    SL_INFO("server", "Formatted storage directory %s (cluster.id %s)", dir,
            cluster_id);
    return 0;
}

/* ---- housekeeping
 * ------------------------------------------------------------------ */

/* Kafka's flush policy (src/log/flush.h): the fsyncs run on the log
 * manager's flusher (the env's executor); after-flush responses (a produce
 * that made a flush due) are released once the flush begun here is done. */
static void before_sleep_flush(net_loop *loop, void *ctx) {
    brk_broker *brk = ctx;
    if (!brk->logs)
        return;
    net_loop_flush_done(loop, log_manager_flush_reap(brk->logs));
    if (log_manager_flush_pending(brk->logs))
        net_loop_flush_begun(loop, log_manager_flush_begin(brk->logs));
}

static void flush_wake(void *ctx) {
    net_loop_wake(ctx);
}

/* Kafka's kafka-log-flusher task: every log.flush.scheduler.interval.ms,
 * partitions whose flush.ms elapsed are flushed. */
static void flush_check_tick(net_loop *loop, void *ctx) {
    brk_broker *brk = ctx;
    if (brk->logs)
        log_manager_flush_check(brk->logs);
    int64_t every =
        brk_cfg_i64(brk->cfg, BRK_CFG_LOG_FLUSH_SCHEDULER_INTERVAL_MS);
    if (!net_loop_stopping(loop))
        net_timer_add(loop, every, flush_check_tick, brk);
}

static void retention_tick(net_loop *loop, void *ctx) {
    brk_broker *brk = ctx;
    if (brk->logs)
        log_manager_tick(brk->logs);
    if (!net_loop_stopping(loop))
        net_timer_add(
            loop,
            brk_cfg_i64(brk->cfg, BRK_CFG_LOG_RETENTION_CHECK_INTERVAL_MS),
            retention_tick, brk);
}

/* Kafka's three checkpoint tasks (LogManager's kafka-recovery-point-
 * checkpoint and kafka-log-start-offset-checkpoint, ReplicaManager's
 * highwatermark-checkpoint), each on its own period; a period <= 0 runs
 * once (Kafka's scheduler: no repetition). Shutdown writes all three
 * (log_manager_close). */
static int64_t ckpt_period(const brk_broker *brk, log_ckpt_kind k) {
    switch (k) {
    case LOG_CKPT_RECOVERY_POINT:
        return brk_cfg_i64(brk->cfg,
                           BRK_CFG_LOG_FLUSH_OFFSET_CHECKPOINT_INTERVAL_MS);
    case LOG_CKPT_LOG_START:
        return brk_cfg_i64(
            brk->cfg, BRK_CFG_LOG_FLUSH_START_OFFSET_CHECKPOINT_INTERVAL_MS);
    case LOG_CKPT_HIGH_WATERMARK:
        break;
    }
    return brk_cfg_i64(brk->cfg,
                       BRK_CFG_REPLICA_HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS);
}

static void checkpoint_run(net_loop *loop, brk_broker *brk, log_ckpt_kind k,
                           net_timer_fn again) {
    if (brk->logs)
        log_manager_checkpoint_kind(brk->logs, k);
    int64_t every = ckpt_period(brk, k);
    if (every > 0 && !net_loop_stopping(loop))
        net_timer_add(loop, every, again, brk);
}

static void ckpt_recovery_tick(net_loop *loop, void *ctx) {
    checkpoint_run(loop, ctx, LOG_CKPT_RECOVERY_POINT, ckpt_recovery_tick);
}

static void ckpt_log_start_tick(net_loop *loop, void *ctx) {
    checkpoint_run(loop, ctx, LOG_CKPT_LOG_START, ckpt_log_start_tick);
}

static void ckpt_hw_tick(net_loop *loop, void *ctx) {
    checkpoint_run(loop, ctx, LOG_CKPT_HIGH_WATERMARK, ckpt_hw_tick);
}

/* ---- start-up steps
 * ---------------------------------------------------------------- */

/* socket.*.buffer.bytes to net's convention (<= 0: OS default). */
static int sock_buf_size(int64_t v) {
    return v < 0 ? 0 : v == 0 ? 1 : (int)v;
}

/* listeners, advertised.listeners and their protocols, parsed. */
static int step_listeners(brk_node *n, char *err, size_t errlen) {
    return brk_setup_listeners(&n->brk, err, errlen);
}

/* log.dirs (or log.dir) split; every dir (and metadata.log.dir) formatted
 * or checked (meta.properties: node id, one cluster id). */
static int step_format(brk_node *n, char *err, size_t errlen) {
    const char *s = brk_cfg_str(&n->cfg, BRK_CFG_LOG_DIRS);
    if (!s || !*s)
        s = brk_cfg_str(&n->cfg, BRK_CFG_LOG_DIR);
    list_iter it = list_start(s, true);
    const char *item;
    size_t len;
    while (list_next(&it, &item, &len)) {
        n->dirs = xrealloc(n->dirs, (size_t)(n->n_dirs + 1) * sizeof *n->dirs);
        n->dirs[n->n_dirs++] = xstrndup(item, len);
    }
    if (n->n_dirs == 0) {
        snprintf(err, errlen, "log.dirs is empty");
        return -1;
    }
    brk_broker *brk = &n->brk;
    for (int i = 0; i < n->n_dirs; i++)
        if (format_dir(n->dirs[i], brk->node_id, brk->cluster_id, err, errlen) <
            0)
            return -1;
    const char *meta_dir = brk_cfg_str(&n->cfg, BRK_CFG_METADATA_LOG_DIR);
    if (meta_dir && *meta_dir &&
        format_dir(meta_dir, brk->node_id, brk->cluster_id, err, errlen) < 0)
        return -1;
    return 0;
}

/* The node's loop, on its env's transport. */
static int step_loop(brk_node *n, char *err, size_t errlen) {
    SL_UNUSED(err);
    SL_UNUSED(errlen);
    n->brk.loop = net_loop_new();
    return 0;
}

/* The log manager over log.dirs, the metadata log replayed. */
static int step_storage(brk_node *n, char *err, size_t errlen) {
    return brk_storage_open(&n->brk, (const char *const *)n->dirs, n->n_dirs,
                            err, errlen);
}

/* The KRaft quorum member and the controller over it, when
 * controller.quorum.voters names several controllers (raft_voters.c). */
static int step_quorum(brk_node *n, char *err, size_t errlen) {
    return brk_quorum_start(&n->brk, err, errlen);
}

/* Every listener bound (a port of 0 resolved), advertised hosts filled. */
static int step_bind(brk_node *n, char *err, size_t errlen) {
    brk_broker *brk = &n->brk;
    const brk_config *cfg = &n->cfg;
    for (int i = 0; i < brk->n_listeners; i++) {
        net_listen_opts o = {
            .ep = &brk->listeners[i],
            .index = i,
            .max_request_bytes =
                brk_cfg_i64(cfg, BRK_CFG_SOCKET_REQUEST_MAX_BYTES),
            .idle_ms = brk_cfg_i64(cfg, BRK_CFG_CONNECTIONS_MAX_IDLE_MS),
            .max_conns = brk_cfg_i64(cfg, BRK_CFG_MAX_CONNECTIONS),
            .max_conns_per_ip =
                brk_cfg_i64(cfg, BRK_CFG_MAX_CONNECTIONS_PER_IP),
            /* -1 leaves the OS's size, as Kafka; 0 (which Kafka's JVM
             * refuses at start) asks the kernel for its smallest. */
            .send_buffer_bytes = sock_buf_size(
                brk_cfg_i64(cfg, BRK_CFG_SOCKET_SEND_BUFFER_BYTES)),
            .recv_buffer_bytes = sock_buf_size(
                brk_cfg_i64(cfg, BRK_CFG_SOCKET_RECEIVE_BUFFER_BYTES)),
            .on_frame = brk_on_frame,
            .ctx = brk,
        };
        net_listener *l = net_listen(brk->loop, &o, err, errlen);
        if (!l)
            return -1;
        int port = net_listener_port(l);
        if (brk->listeners[i].port == 0) {
            brk->listeners[i].port = port;
            if (brk->advertised[i].port == 0)
                brk->advertised[i].port = port;
        }
        if (!brk->advertised[i].host[0] ||
            !strcmp(brk->advertised[i].host, "0.0.0.0") ||
            !strcmp(brk->advertised[i].host, "::")) {
            char hn[256];
            if (gethostname(hn, sizeof hn) == 0)
                snprintf(brk->advertised[i].host,
                         sizeof brk->advertised[i].host, "%s", hn);
        }
        SL_INFO("server", "Awaiting socket connections on %s:%d (listener %s)",
                brk->listeners[i].host[0] ? brk->listeners[i].host : "0.0.0.0",
                brk->listeners[i].port, brk->listeners[i].name);
    }
    return 0;
}

/* The in-process controller: bootstrap records, this broker registered. */
static int step_cluster(brk_node *n, char *err, size_t errlen) {
    return brk_cluster_start(&n->brk, err, errlen);
}

/* The group and transaction coordinators, then the layers' start hooks
 * (hooks.def). */
static int step_coordinators(brk_node *n, char *err, size_t errlen) {
    SL_UNUSED(err);
    SL_UNUSED(errlen);
    brk_broker *brk = &n->brk;
    brk_coordinators_start(brk);
#define BRK_START_HOOK(fn) fn(brk);
#include "broker/hooks.def"
#undef BRK_START_HOOK
    return 0;
}

/* The flush policy's before-sleep hook and the periodic log tasks. */
static int step_housekeeping(brk_node *n, char *err, size_t errlen) {
    SL_UNUSED(err);
    SL_UNUSED(errlen);
    brk_broker *brk = &n->brk;
    net_loop *loop = brk->loop;
    net_loop_add_before_sleep(loop, before_sleep_flush, brk);
    if (brk->logs)
        log_manager_set_flush_notify(brk->logs, flush_wake, loop);
    /* Long.MAX_VALUE (the default): the task never runs. */
    int64_t every =
        brk_cfg_i64(&n->cfg, BRK_CFG_LOG_FLUSH_SCHEDULER_INTERVAL_MS);
    if (every > 0 && every < INT64_MAX / 2000000)
        net_timer_add(loop, every, flush_check_tick, brk);
    net_timer_add(loop,
                  brk_cfg_i64(&n->cfg, BRK_CFG_LOG_RETENTION_CHECK_INTERVAL_MS),
                  retention_tick, brk);
    net_timer_add(loop, SL_MAX(ckpt_period(brk, LOG_CKPT_RECOVERY_POINT), 0),
                  ckpt_recovery_tick, brk);
    net_timer_add(loop, SL_MAX(ckpt_period(brk, LOG_CKPT_LOG_START), 0),
                  ckpt_log_start_tick, brk);
    net_timer_add(loop, SL_MAX(ckpt_period(brk, LOG_CKPT_HIGH_WATERMARK), 0),
                  ckpt_hw_tick, brk);
    return 0;
}

typedef struct start_step {
    const char *name;
    int (*fn)(brk_node *n, char *err, size_t errlen);
} start_step;

static const start_step start_steps[] = {
    {"listeners", step_listeners},
    {"format", step_format},
    {"loop", step_loop},
    {"storage", step_storage},
    {"quorum", step_quorum},
    {"bind", step_bind},
    {"cluster", step_cluster},
    {"coordinators", step_coordinators},
    {"housekeeping", step_housekeeping},
};

/* ---- lifecycle
 * --------------------------------------------------------------------- */

brk_node *brk_node_new(brk_config *cfg, const sl_env *env) {
    brk_node *n = xcalloc(1, sizeof *n);
    n->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    n->env = env;
    n->brk.cfg = &n->cfg;
    n->brk.node_id = (int32_t)brk_cfg_i64(&n->cfg, BRK_CFG_NODE_ID);
    return n;
}

int brk_node_start(brk_node *n, char *err, size_t errlen) {
    SL_ASSERT(!n->steps_done && !n->stopped);
    const sl_env *prev = sl_env_enter(n->env);
    int rc = 0;
    for (size_t i = 0; i < SL_ARRAY_LEN(start_steps); i++) {
        char msg[1024] = "";
        if (start_steps[i].fn(n, msg, sizeof msg) < 0) {
            snprintf(err, errlen, "%s: %s", start_steps[i].name, msg);
            rc = -1;
            break;
        }
        n->steps_done++;
    }
    if (!rc) {
        n->started = true;
        SL_INFO("server",
                "[KafkaRaftServer nodeId=%d] Kafka Server started (sluice %s, "
                "cluster.id %s)",
                n->brk.node_id, SLUICE_VERSION, n->brk.cluster_id);
        /* A line tests and scripts can wait for. */
        fflush(stderr);
    }
    sl_env_leave(prev);
    return rc;
}

void brk_node_run(brk_node *n) {
    net_loop_run(n->brk.loop);
}

void brk_node_poll(brk_node *n, int timeout_ms) {
    net_loop_poll(n->brk.loop, timeout_ms);
}

int64_t brk_node_due_in_ns(const brk_node *n) {
    return n->brk.loop ? net_loop_timer_due_in_ns(n->brk.loop) : INT64_MAX;
}

void brk_node_request_stop(brk_node *n) {
    if (n->brk.loop)
        net_loop_stop(n->brk.loop);
}

static void stop_after_controlled_shutdown(brk_broker *brk, void *ctx) {
    (void)ctx;
    if (brk->loop)
        net_loop_stop(brk->loop);
}

void brk_node_request_shutdown(brk_node *n) {
    brk_broker *brk = &n->brk;
    if (!brk->loop)
        return;
    if (n->shutdown_requested || !n->started) {
        net_loop_stop(brk->loop); /* a second signal: at once */
        return;
    }
    n->shutdown_requested = true;
    const sl_env *prev = sl_env_enter(n->env);
    brk_lm_shutdown(brk, stop_after_controlled_shutdown, NULL);
    sl_env_leave(prev);
}

/* The shutdown of whatever the start made, in reverse. crash: nothing is
 * written any more (no drain of responses, the log manager abandoned). */
static void node_down(brk_node *n, bool crash) {
    if (n->stopped)
        return;
    n->stopped = true;
    const sl_env *prev = sl_env_enter(n->env);
    brk_broker *brk = &n->brk;
    net_loop *loop = brk->loop;
    if (n->started)
        SL_INFO("server", "[KafkaRaftServer nodeId=%d] %s", brk->node_id,
                crash ? "crashed" : "shutting down");
    brk->shutting_down = true;
    if (loop) {
        net_loop_stop(loop); /* timers stop re-arming */
        net_loop_close_listeners(loop);
        for (int i = 0; i < brk->n_shutdown_hooks; i++)
            brk->shutdown_hooks[i].fn(brk, brk->shutdown_hooks[i].ctx);
        brk->n_shutdown_hooks = 0;
        if (!crash)
            net_loop_drain(loop, 5000);
        net_loop_close_all(loop);
    }
    brk_coordinators_free(brk);
    if (brk->logs)
        brk_storage_close(brk);
    brk_cluster_stop(brk);
    brk_quorum_free(brk); /* after the controller over it */
    if (brk->logs) {
        if (crash)
            log_manager_abandon(brk->logs);
        else
            log_manager_close(brk->logs);
        brk->logs = NULL;
        brk->meta_log = NULL;
    }
    net_loop_free(loop);
    brk->loop = NULL;
    brk_log_cleaner_free(brk);
    brk_fetch_sessions_free(brk);
    if (n->started && !crash)
        SL_INFO("server", "[KafkaRaftServer nodeId=%d] shut down completed",
                brk->node_id);
    sl_env_leave(prev);
}

void brk_node_stop(brk_node *n) {
    node_down(n, false);
}

void brk_node_abandon(brk_node *n) {
    node_down(n, true);
}

void brk_node_free(brk_node *n) {
    if (!n)
        return;
    node_down(n, false);
    for (int i = 0; i < n->n_dirs; i++)
        free(n->dirs[i]);
    free(n->dirs);
    brk_config_free(&n->cfg);
    free(n);
}

brk_broker *brk_node_broker(brk_node *n) {
    return &n->brk;
}

net_loop *brk_node_loop(brk_node *n) {
    return n->brk.loop;
}

int brk_node_port(const brk_node *n, const char *listener) {
    for (int i = 0; i < n->brk.n_listeners; i++)
        if (!strcasecmp(n->brk.listeners[i].name, listener))
            return n->brk.listeners[i].port;
    return -1;
}
