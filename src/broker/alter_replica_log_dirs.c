/*
 * alter_replica_log_dirs.c - AlterReplicaLogDirs (api key 34, v1-2) and the
 * mover that carries the moves out, as Kafka 4.3.1's
 * ReplicaManager.alterReplicaLogDirs + ReplicaAlterLogDirsThread.
 *
 * Per partition, in Kafka's order of checks: a future dir name longer than
 * 255 bytes is INVALID_TOPIC_EXCEPTION; a path that is not one of log.dirs
 * LOG_DIR_NOT_FOUND; an offline destination or an offline replica
 * KAFKA_STORAGE_ERROR; a partition the metadata does not have
 * UNKNOWN_TOPIC_OR_PARTITION; one not hosted here REPLICA_NOT_AVAILABLE
 * (Kafka keeps that code for NOT_LEADER_OR_FOLLOWER here). Otherwise the
 * move starts (log_move_begin: nothing to do when the replica is in that
 * dir already; a move elsewhere is replaced) and the answer is NONE.
 *
 * Moves interrupted by a restart start again (log_manager_open resumes
 * them from their -future dirs; brk_log_dirs_start tracks them).
 * The mover steps every running move from a timer on the loop thread
 * (log_move_step: copy, then swap in one call), throttled to
 * replica.alter.log.dirs.io.max.bytes.per.second when the broker (or the
 * cluster default) has one, as Kafka's alter-log-dirs quota does.
 * Threading: loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "cluster/image.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "log/log.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "replica/replica.h"

#define MOVE_TICK_MS 20
/* Unthrottled: bytes copied per tick, so one big move does not stall the
 * loop for long (requests are served between ticks). */
#define MOVE_CHUNK (8LL << 20)

typedef struct moving {
    char *topic;
    int32_t partition;
} moving;

/* The mover's state, owned by its broker (brk->mover): made at the first
 * move, freed at shutdown. */
struct brk_mover {
    moving *moves;
    size_t n_moves, cap_moves;
    uint64_t timer;
    int64_t tokens, last_ns; /* the throttle's token bucket */
};

static void on_shutdown(brk_broker *brk, void *ctx) {
    SL_UNUSED(ctx);
    brk_mover *m = brk->mover;
    if (!m)
        return;
    if (m->timer)
        net_timer_cancel(brk->loop, m->timer);
    for (size_t i = 0; i < m->n_moves; i++)
        free(m->moves[i].topic);
    free(m->moves);
    free(m);
    brk->mover = NULL;
}

static void tick(net_loop *loop, void *ctx);

static void arm(brk_broker *brk) {
    brk_mover *m = brk->mover;
    if (!m->timer && m->n_moves)
        m->timer = net_timer_add(brk->loop, MOVE_TICK_MS, tick, brk);
}

static void tick(net_loop *loop, void *ctx) {
    SL_UNUSED(loop);
    brk_broker *brk = ctx;
    brk_mover *m = brk->mover;
    m->timer = 0;
    int64_t rate = brk_cfg_i64(
        brk->cfg, BRK_CFG_REPLICA_ALTER_LOG_DIRS_IO_MAX_BYTES_PER_SECOND);
    if (rate >= (1LL << 40)) /* Kafka's default is Long.MAX_VALUE */
        rate = -1;
    int64_t now = clk_mono_ns();
    if (rate >= 0) {
        /* A token bucket of at most one second of the rate. */
        m->tokens += (now - m->last_ns) / 1000 * rate / 1000000;
        if (m->tokens > rate)
            m->tokens = rate;
    }
    m->last_ns = now;
    for (size_t i = 0; i < m->n_moves;) {
        log_partition *part = brk->logs ? log_get(brk->logs, m->moves[i].topic,
                                                  m->moves[i].partition)
                                        : NULL;
        int dest;
        int64_t size, leo;
        if (!part || !log_move_info(part, &dest, &size, &leo)) {
            free(m->moves[i].topic);
            m->moves[i] = m->moves[--m->n_moves];
            continue;
        }
        int64_t budget = MOVE_CHUNK;
        if (rate >= 0)
            budget = SL_MIN(budget, m->tokens);
        /* A cleaning pass started before the move replaces segments of the
         * current log (a .log may even grow, merged): nothing is copied
         * until it is over (the cleaner picks no moving log after that). */
        if (brk_log_cleaner_cleaning(brk, part))
            budget = 0;
        if (budget <= 0) {
            i++;
            continue;
        }
        int64_t before = size;
        bool done = false;
        int16_t e = log_move_step(part, budget, &done);
        if (rate >= 0 && !done && log_move_info(part, &dest, &size, &leo))
            m->tokens -= size - before;
        if (e != KERR_NONE)
            SL_ERROR("logdirs", "moving %s-%d failed: %s", m->moves[i].topic,
                     m->moves[i].partition, proto_error_name(e));
        if (done || e != KERR_NONE) {
            free(m->moves[i].topic);
            m->moves[i] = m->moves[--m->n_moves];
            continue;
        }
        i++;
    }
    arm(brk);
}

static void track(brk_broker *brk, const char *topic, int32_t partition) {
    if (!brk->mover) {
        brk->mover = xcalloc(1, sizeof *brk->mover);
        brk_on_shutdown(brk, on_shutdown, NULL);
    }
    brk_mover *m = brk->mover;
    for (size_t i = 0; i < m->n_moves; i++)
        if (m->moves[i].partition == partition &&
            !strcmp(m->moves[i].topic, topic))
            return;
    if (m->n_moves == 0) { /* the throttle's bucket starts empty */
        m->last_ns = clk_mono_ns();
        m->tokens = 0;
    }
    if (m->n_moves == m->cap_moves) {
        m->cap_moves = m->cap_moves ? m->cap_moves * 2 : 8;
        m->moves = xrealloc(m->moves, m->cap_moves * sizeof *m->moves);
    }
    m->moves[m->n_moves].topic = xstrdup(topic);
    m->moves[m->n_moves++].partition = partition;
    arm(brk);
}

static void track_moving(void *ctx, log_partition *part) {
    int dest;
    int64_t size, leo;
    if (log_move_info(part, &dest, &size, &leo))
        track(ctx, log_topic(part), log_partition_id(part));
}

/* hooks.def: moves the log resumed at open (a -future dir found, as Kafka
 * resumes them after a restart) are carried on. */
void brk_log_dirs_start(brk_broker *brk) {
    if (brk->logs)
        log_manager_foreach(brk->logs, track_moving, brk);
}

static int16_t alter_one(brk_broker *brk, const char *dir, const char *topic,
                         int32_t partition) {
    /* UnifiedLog.logFutureDirName: <topic>-<p>.<32 hex>-future */
    char num[16];
    int nl = snprintf(num, sizeof num, "%d", partition);
    if (strlen(topic) + 1 + (size_t)nl + 1 + 32 + 7 > 255)
        return KERR_INVALID_TOPIC_EXCEPTION;
    int d = brk->logs ? log_manager_dir_index(brk->logs, dir) : -1;
    if (d < 0)
        return KERR_LOG_DIR_NOT_FOUND;
    if (log_manager_dir_offline(brk->logs, d))
        return KERR_KAFKA_STORAGE_ERROR;
    cl_topic *t =
        brk->image ? cl_topic_find(brk->image, topic, strlen(topic)) : NULL;
    cl_partition *p = t && partition >= 0 && partition < t->n_partitions
                          ? t->parts[partition]
                          : NULL;
    if (!p)
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    log_partition *log = brk->repl ? repl_log(brk->repl, p) : NULL;
    if (!log)
        return KERR_REPLICA_NOT_AVAILABLE;
    if (log_is_failed(log))
        return KERR_KAFKA_STORAGE_ERROR;
    int16_t e = log_move_begin(log, d);
    int dest;
    int64_t size, leo;
    if (e == KERR_NONE && log_move_info(log, &dest, &size, &leo))
        track(brk, topic, partition);
    return e;
}

typedef proto_alter_replica_log_dirs_response_alter_replica_log_dir_topic_result
    ard_topic;
typedef proto_alter_replica_log_dirs_response_alter_replica_log_dir_partition_result
    ard_part;

brk_status brk_handle_alter_replica_log_dirs(brk_req *req) {
    proto_alter_replica_log_dirs_request rq;
    if (proto_alter_replica_log_dirs_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_alter_replica_log_dirs_response rs;
    proto_alter_replica_log_dirs_response_init(&rs);
    size_t total = 0, ntopics = 0;
    for (int32_t i = 0; i < rq.dirs.n; i++)
        for (int32_t j = 0; j < rq.dirs.v[i].topics.n; j++) {
            ntopics++;
            total += (size_t)SL_MAX(0, rq.dirs.v[i].topics.v[j].partitions.n);
        }
    ard_topic *ts = arena_calloc(req->arena, ntopics ? ntopics : 1, sizeof *ts);
    int32_t nt = 0;
    for (int32_t i = 0; i < rq.dirs.n; i++) {
        const char *dir = proto_str_dup(req->arena, rq.dirs.v[i].path);
        for (int32_t j = 0; j < rq.dirs.v[i].topics.n; j++) {
            const proto_alter_replica_log_dirs_request_alter_replica_log_dir_topic
                *rt = &rq.dirs.v[i].topics.v[j];
            const char *topic = proto_str_dup(req->arena, rt->name);
            /* One result per topic (Kafka groups the results by topic). */
            ard_topic *ot = NULL;
            for (int32_t k = 0; k < nt && !ot; k++)
                if (!strcmp(ts[k].topic_name.p, topic))
                    ot = &ts[k];
            if (!ot) {
                ot = &ts[nt++];
                proto_alter_replica_log_dirs_response_alter_replica_log_dir_topic_result_init(
                    ot);
                ot->topic_name = proto_str_c(topic);
                ot->partitions.n = 0;
                ot->partitions.v = arena_calloc(req->arena, total ? total : 1,
                                                sizeof(*ot->partitions.v));
            }
            for (int32_t k = 0; k < rt->partitions.n; k++) {
                int32_t pn = rt->partitions.v[k];
                int16_t e = dir && topic ? alter_one(req->brk, dir, topic, pn)
                                         : KERR_LOG_DIR_NOT_FOUND;
                ard_part *op = NULL;
                for (int32_t q = 0; q < ot->partitions.n && !op; q++)
                    if (ot->partitions.v[q].partition_index == pn)
                        op = &ot->partitions.v[q];
                if (!op) {
                    op = &ot->partitions.v[ot->partitions.n++];
                    proto_alter_replica_log_dirs_response_alter_replica_log_dir_partition_result_init(
                        op);
                    op->partition_index = pn;
                }
                op->error_code = e;
            }
        }
    }
    rs.results.n = nt;
    rs.results.v = ts;
    proto_alter_replica_log_dirs_response_encode(brk_resp_buf(req),
                                                 req->api_version, &rs);
    return BRK_DONE;
}
