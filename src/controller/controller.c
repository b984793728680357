/*
 * controller.c - the commit pipeline of controller.h: submits appended to
 * the ctl_log at once, completed in order by ctl_poll once durable.
 */
#include "controller/controller.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "proto/errors.h"

typedef struct ctl_waiter {
    struct ctl_waiter *next;
    ctl_idle_fn fn;
    void *arg;
} ctl_waiter;

typedef struct ctl_entry {
    struct ctl_entry *next;
    buf *values; /* copies, applied on commit */
    int n;
    int64_t last; /* log offset of the batch's last record */
    int16_t err;  /* append failed: completes with it */
    ctl_done_fn done;
    void *arg;
} ctl_entry;

struct ctl_controller {
    cl_image *image;
    ctl_log *log;     /* NULL: in memory only */
    net_loop *loop;   /* NULL: synchronous submits */
    ctl_entry *head;  /* pending, in submission (= log) order */
    ctl_entry **tail; /* &last->next */
    size_t n_pending;
    int16_t failed;      /* the log failed: every submit fails with it */
    bool polling;        /* inside ctl_poll (no re-entry from a callback) */
    bool submitted;      /* a submit since the hook last ran */
    int64_t next;        /* log offset after the last appended batch */
    ctl_waiter *waiters; /* ctl_when_idle, in order */
    ctl_waiter **wtail;
    bool closing; /* ctl_free: waiters are cancelled */
};

ctl_controller *ctl_new(cl_image *img, ctl_log *log) {
    ctl_controller *c = xcalloc(1, sizeof *c);
    c->image = img;
    c->log = log;
    c->tail = &c->head;
    c->wtail = &c->waiters;
    return c;
}

static void entry_free(ctl_entry *e) {
    for (int i = 0; i < e->n; i++)
        buf_free(&e->values[i]);
    free(e->values);
    free(e);
}

int64_t ctl_next_offset(const ctl_controller *c) {
    int64_t applied = cl_image_offset(c->image) + 1;
    return c->next > applied ? c->next : applied;
}

bool ctl_active(const ctl_controller *c) {
    return !c->log || !c->log->ops->active || c->log->ops->active(c->log);
}

size_t ctl_pending(const ctl_controller *c) {
    return c->n_pending;
}

bool ctl_idle(const ctl_controller *c) {
    return c->n_pending == 0 && !c->waiters;
}

/* Invariant 4: each waiter runs alone, with nothing pending. */
static void run_waiters(ctl_controller *c) {
    while (c->waiters && (c->n_pending == 0 || c->closing)) {
        ctl_waiter *w = c->waiters;
        c->waiters = w->next;
        if (!c->waiters)
            c->wtail = &c->waiters;
        w->fn(w->arg, c->closing);
        free(w);
    }
}

void ctl_cancel_waiters(ctl_controller *c) {
    c->closing = true;
    run_waiters(c);
}

void ctl_when_idle(ctl_controller *c, ctl_idle_fn fn, void *arg) {
    ctl_waiter *w = xcalloc(1, sizeof *w);
    w->fn = fn;
    w->arg = arg;
    *c->wtail = w;
    c->wtail = &w->next;
    /* never inside the caller: from the loop's next before-sleep poll, or
     * at once without a loop */
    if (c->closing || (!c->loop && !c->polling))
        run_waiters(c);
    else if (c->loop)
        net_loop_wake(c->loop);
}

/* Invariant 2: applied only once durable, in order; then the callback. */
static void complete(ctl_controller *c, ctl_entry *e, int16_t err) {
    SL_ASSERT(c->head == e);
    c->head = e->next;
    if (!c->head)
        c->tail = &c->head;
    c->n_pending--;
    if (!err && !(c->log && c->log->ops->committed)) {
        for (int i = 0; i < e->n; i++)
            if (!cl_image_apply(c->image, e->values[i].data, e->values[i].len))
                SL_ERROR("controller", "own metadata record does not decode");
        if (c->log)
            cl_image_set_offset(c->image, e->last);
    }
    if (e->done)
        e->done(e->arg, err);
    entry_free(e);
}

/* A record the replicated log committed (ctl_log committed()). */
static void apply_committed(void *arg, const uint8_t *value, size_t len,
                            int64_t offset) {
    ctl_controller *c = arg;
    if (!cl_image_apply(c->image, value, len))
        SL_WARN("controller", "metadata record at offset %lld does not decode",
                (long long)offset);
    cl_image_set_offset(c->image, offset);
}

void ctl_poll(ctl_controller *c) {
    if (c->polling)
        return; /* a callback submitted: the loop below picks it up */
    c->polling = true;
    if (c->log && c->log->ops->committed && !c->failed)
        c->log->ops->committed(c->log, apply_committed, c);
    while (c->head) {
        int64_t end = INT64_MAX;
        if (c->log && !c->failed) {
            int16_t e = c->log->ops->durable(c->log, &end);
            if (e == KERR_NOT_CONTROLLER) {
                /* leadership moved: what is below end committed, the rest
                 * will not as ours (the client retries elsewhere) */
                while (c->head) {
                    ctl_entry *h = c->head;
                    complete(c, h,
                             h->err          ? h->err
                             : h->last < end ? KERR_NONE
                                             : KERR_NOT_CONTROLLER);
                }
                break;
            }
            if (e) {
                SL_ERROR("controller",
                         "the metadata log failed (%s): failing %zu pending "
                         "submits",
                         proto_error_name(e), c->n_pending);
                c->failed = e;
            }
        }
        ctl_entry *e = c->head;
        if (e->err || c->failed)
            complete(c, e, e->err ? e->err : c->failed);
        else if (!c->log || e->last < end)
            complete(c, e, KERR_NONE);
        else
            break;
    }
    c->polling = false;
    run_waiters(c);
}

void ctl_submit(ctl_controller *c, const buf *values, int n, ctl_done_fn done,
                void *arg) {
    ctl_entry *e = xcalloc(1, sizeof *e);
    e->done = done;
    e->arg = arg;
    e->last = -1;
    e->n = n > 0 ? n : 0;
    e->values = xcalloc((size_t)e->n + 1, sizeof(buf));
    for (int i = 0; i < e->n; i++) {
        buf_init(&e->values[i], values[i].len ? values[i].len : 1);
        buf_put(&e->values[i], values[i].data, values[i].len);
    }
    if (c->failed)
        e->err = c->failed;
    else if (c->log && e->n > 0)
        e->err = c->log->ops->append(c->log, values, e->n, &e->last);
    if (!e->err && e->last >= c->next)
        c->next = e->last + 1;
    if (e->err)
        SL_ERROR("controller", "cannot write metadata records: %s",
                 proto_error_name(e->err));
    *c->tail = e;
    c->tail = &e->next;
    c->n_pending++;
    c->submitted = true;
    if (!c->loop) {
        /* No loop to come back on: durable now (invariant 1 allows a
         * callback inside submit only here). */
        if (c->log && !c->failed && !e->err) {
            int16_t se = c->log->ops->sync(c->log);
            if (se)
                c->failed = se;
        }
        ctl_poll(c);
    }
}

typedef struct sync_wait {
    bool done;
    int16_t err;
} sync_wait;

static void sync_done(void *arg, int16_t err) {
    sync_wait *w = arg;
    w->done = true;
    w->err = err;
}

int16_t ctl_commit_sync(ctl_controller *c, const buf *values, int n) {
    sync_wait w = {false, KERR_NONE};
    ctl_submit(c, values, n, sync_done, &w);
    if (!w.done && c->log && !c->failed) {
        int16_t se = c->log->ops->sync(c->log);
        if (se)
            c->failed = se;
    }
    if (!w.done)
        ctl_poll(c);
    SL_ASSERT(w.done); /* synced: nothing before it can still wait */
    return w.err;
}

/* Before-sleep hook: completes what became durable. A submit made inside a
 * callback here may have missed this pass's flush hook: pass once more. */
static void before_sleep(net_loop *loop, void *ctx) {
    ctl_controller *c = ctx;
    c->submitted = false;
    ctl_poll(c);
    if (c->submitted && c->head)
        net_loop_wake(loop);
}

void ctl_attach_loop(ctl_controller *c, net_loop *loop) {
    SL_ASSERT(!c->loop);
    c->loop = loop;
    net_loop_add_before_sleep(loop, before_sleep, c);
}

typedef struct replay_ctx {
    ctl_controller *c;
    int64_t n;
} replay_ctx;

static void replay_one(void *arg, const uint8_t *value, size_t len,
                       int64_t offset) {
    replay_ctx *r = arg;
    if (!cl_image_apply(r->c->image, value, len))
        SL_WARN("controller", "metadata record at offset %lld does not decode",
                (long long)offset);
    cl_image_set_offset(r->c->image, offset);
    r->n++;
}

int ctl_replay(ctl_controller *c, char *err, size_t errlen) {
    if (!c->log)
        return 0;
    replay_ctx r = {c, 0};
    return c->log->ops->replay(c->log, replay_one, &r, err, errlen);
}

void ctl_free(ctl_controller *c) {
    if (!c)
        return;
    if (c->head && c->log && !c->failed) {
        int16_t se = c->log->ops->sync(c->log);
        if (se)
            c->failed = se;
    }
    c->closing = true;
    ctl_poll(c);
    SL_ASSERT(!c->head && !c->waiters);
    if (c->log)
        c->log->ops->free(c->log);
    free(c);
}
