/*
 * coord.c - the coordinator runtime of a node (coord.h): the services the
 * broker registered, shutdown hooks, partition lookups for the
 * coordinators, and coordinator writes with the responses held behind them.
 *
 * Invariants: rt->pending holds the sequence numbers of the writes whose
 * done has not run, in increasing order; a waiter (a held response) with
 * mark m completes once no pending write has a sequence number <= m, in
 * FIFO order, exactly once (coord_rt_shutdown completes what is left).
 * Threading: the node's loop thread only.
 */
#include "coord/coord.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/util.h"
#include "proto/errors.h"

/* A response held until the writes issued before it completed. */
typedef struct coord_waiter {
    struct coord_waiter *next;
    coord_req *req;
    coord_status st;
    uint64_t mark; /* rt->next_seq when it was held */
} coord_waiter;

/* One pending coord_write. */
typedef struct write_op {
    coord_rt *rt;
    uint64_t seq;
    void (*appended)(void *ctx, log_partition *log,
                     const log_append_info *info);
    coord_write_done_fn done;
    void *ctx;
    bool raw_errors;
} write_op;

coord_rt *coord_rt_new(const coord_services *svc, int32_t node_id,
                       net_loop *loop) {
    coord_rt *rt = xcalloc(1, sizeof *rt);
    rt->svc = *svc;
    rt->node_id = node_id;
    rt->loop = loop;
    rt->wait_tail = &rt->wait_head;
    return rt;
}

void coord_rt_free(coord_rt *rt) {
    if (!rt)
        return;
    /* After the loop stopped: the purgatory completed every write and
     * coord_rt_shutdown every held response. */
    if (rt->n_pending || rt->wait_head)
        SL_WARN("coord", "%d coordinator write(s) still pending at free",
                rt->n_pending);
    free(rt->pending);
    free(rt);
}

void coord_on_shutdown(coord_rt *rt, coord_hook_fn fn, void *arg) {
    SL_ASSERT(rt->n_hooks < COORD_MAX_HOOKS);
    rt->hooks[rt->n_hooks].fn = fn;
    rt->hooks[rt->n_hooks].arg = arg;
    rt->n_hooks++;
}

static void flush_waiters(coord_rt *rt, bool all);

void coord_rt_shutdown(coord_rt *rt) {
    rt->stopping = true;
    for (int i = 0; i < rt->n_hooks; i++)
        rt->hooks[i].fn(rt->hooks[i].arg);
    /* Held responses go out now: the node stops and a write that is still
     * waiting for followers will not complete. */
    flush_waiters(rt, true);
}

/* ---- held responses ------------------------------------------------------ */

static void flush_waiters(coord_rt *rt, bool all) {
    if (rt->flushing)
        return; /* a completion re-entered: the outer loop continues */
    rt->flushing = true;
    while (rt->wait_head) {
        coord_waiter *w = rt->wait_head;
        if (!all && rt->n_pending > 0 && rt->pending[0] <= w->mark)
            break;
        rt->wait_head = w->next;
        if (!rt->wait_head)
            rt->wait_tail = &rt->wait_head;
        w->req->ops->complete(w->req, w->st); /* w is in its arena: gone */
    }
    rt->flushing = false;
}

/* Holds req's response (status st) behind the pending writes. */
static void hold(coord_rt *rt, coord_req *req, coord_status st) {
    coord_waiter *w = arena_calloc(req->arena, 1, sizeof *w);
    w->req = req;
    w->st = st;
    w->mark = rt->next_seq;
    *rt->wait_tail = w;
    rt->wait_tail = &w->next;
}

void coord_req_complete(coord_req *req, coord_status st) {
    SL_ASSERT(st == COORD_DONE || st == COORD_AFTER_FLUSH ||
              st == COORD_NO_RESPONSE);
    coord_rt *rt = req->rt;
    if (rt && !rt->stopping && (rt->n_pending > 0 || rt->wait_head))
        hold(rt, req, st);
    else
        req->ops->complete(req, st);
}

coord_status coord_req_finish(coord_req *req, coord_status st) {
    coord_rt *rt = req->rt;
    if (st == COORD_DEFER || st == COORD_CLOSE || !rt || rt->stopping ||
        (rt->n_pending == 0 && !rt->wait_head))
        return st;
    hold(rt, req, st);
    return COORD_DEFER;
}

/* ---- writes -------------------------------------------------------------- */

int16_t coord_write_error(int16_t e) {
    switch (e) {
    case KERR_UNKNOWN_TOPIC_OR_PARTITION:
    case KERR_NOT_ENOUGH_REPLICAS:
    case KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case KERR_REQUEST_TIMED_OUT:
        return KERR_COORDINATOR_NOT_AVAILABLE;
    case KERR_NOT_LEADER_OR_FOLLOWER:
    case KERR_KAFKA_STORAGE_ERROR:
        return KERR_NOT_COORDINATOR;
    case KERR_MESSAGE_TOO_LARGE:
    case KERR_RECORD_LIST_TOO_LARGE:
    case KERR_INVALID_FETCH_SIZE:
        return KERR_UNKNOWN_SERVER_ERROR;
    default:
        return e;
    }
}

int coord_writes_pending(const coord_rt *rt) {
    return rt->n_pending;
}

static void pending_add(coord_rt *rt, uint64_t seq) {
    if (rt->n_pending == rt->cap_pending) {
        rt->cap_pending = rt->cap_pending ? rt->cap_pending * 2 : 16;
        rt->pending = xrealloc(rt->pending,
                               (size_t)rt->cap_pending * sizeof *rt->pending);
    }
    SL_ASSERT(rt->n_pending == 0 || rt->pending[rt->n_pending - 1] < seq);
    rt->pending[rt->n_pending++] = seq;
}

static void pending_remove(coord_rt *rt, uint64_t seq) {
    for (int i = 0; i < rt->n_pending; i++)
        if (rt->pending[i] == seq) {
            memmove(rt->pending + i, rt->pending + i + 1,
                    (size_t)(rt->n_pending - i - 1) * sizeof *rt->pending);
            rt->n_pending--;
            return;
        }
    SL_ASSERT(!"coord: completed write was not pending");
}

static void write_appended(void *ctx, log_partition *log,
                           const log_append_info *info) {
    write_op *op = ctx;
    if (op->appended)
        op->appended(op->ctx, log, info);
}

static void write_done(void *ctx, int16_t err, const log_append_info *info) {
    SL_UNUSED(info);
    write_op *op = ctx;
    coord_rt *rt = op->rt;
    int16_t e = op->raw_errors ? err : coord_write_error(err);
    if (e)
        SL_WARN("coord", "coordinator write %llu failed while waiting: %s",
                (unsigned long long)op->seq, proto_error_name(err));
    if (op->done)
        op->done(op->ctx, e);
    pending_remove(rt, op->seq);
    free(op);
    flush_waiters(rt, false);
}

int16_t coord_write(coord_rt *rt, const cl_partition *part,
                    const coord_write_req *w, log_append_info *info) {
    repl_manager *m = part ? coord_repl(rt) : NULL;
    if (!m)
        return KERR_NOT_COORDINATOR;
    write_op *op = xcalloc(1, sizeof *op);
    op->rt = rt;
    op->seq = ++rt->next_seq;
    op->appended = w->appended;
    op->done = w->done;
    op->ctx = w->ctx;
    op->raw_errors = w->raw_errors;
    pending_add(rt, op->seq);
    repl_append_req rq = {
        .origin = REPL_ORIGIN_COORDINATOR,
        .records = w->records,
        .len = w->len,
        .acks = -1,
        .timeout_ms = w->timeout_ms > 0 ? w->timeout_ms : 30000,
        .appended = write_appended,
        .done = write_done,
        .ctx = op,
    };
    log_append_info tmp;
    int16_t e = repl_append(m, part, &rq, info ? info : &tmp);
    if (e) {
        /* done was not called: the write never happened */
        pending_remove(rt, op->seq);
        free(op);
        flush_waiters(rt, false);
        return w->raw_errors ? e : coord_write_error(e);
    }
    return KERR_NONE; /* op may be gone already (done ran inside) */
}

cl_partition *coord_find_partition(const coord_rt *rt, const char *topic,
                                   size_t topic_len, int32_t partition,
                                   int16_t *err) {
    cl_image *img = coord_image(rt);
    cl_topic *t = img ? cl_topic_find(img, topic, topic_len) : NULL;
    if (!t || partition < 0 || partition >= t->n_partitions ||
        !t->parts[partition]) {
        *err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return NULL;
    }
    *err = KERR_NONE;
    return t->parts[partition];
}

log_partition *coord_leader_log(const coord_rt *rt, const cl_partition *part) {
    repl_manager *m = part ? coord_repl(rt) : NULL;
    int16_t err;
    return m ? repl_leader_log(m, part, &err) : NULL;
}

log_partition *coord_local_log(const coord_rt *rt, const cl_partition *part) {
    repl_manager *m = part ? coord_repl(rt) : NULL;
    return m ? repl_log(m, part) : NULL;
}

bool coord_broker_endpoint(const coord_rt *rt, int32_t node_id,
                           const char *listener, const char **host,
                           int32_t *port) {
    cl_image *img = coord_image(rt);
    const cl_broker *b =
        img && node_id >= 0 ? cl_broker_find(img, node_id) : NULL;
    if (!b || !listener)
        return false;
    for (int32_t i = 0; i < b->n_endpoints; i++)
        if (b->endpoints[i].name && b->endpoints[i].host &&
            !strcasecmp(b->endpoints[i].name, listener)) {
            *host = b->endpoints[i].host;
            *port = b->endpoints[i].port;
            return true;
        }
    return false;
}

const char *coord_inter_broker_listener(const coord_rt *rt) {
    const char *l = coord_cfg_str(rt, COORD_CFG_INTER_BROKER_LISTENER_NAME);
    return l && *l ? l : "PLAINTEXT";
}
