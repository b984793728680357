/*
 * client.c - non-blocking Kafka client connection on the event loop. See
 * client.h for the model and the ownership rules.
 *
 * Re-entrancy: every entry from the loop (stream readiness, timers) runs
 * with c->busy raised; a callback that frees its own client only marks it,
 * and the memory goes once the outermost entry returns. Completion lists
 * are detached from the client before their callbacks run, so a callback
 * that sends or frees never sees a half-updated list.
 */
#include "net/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/util.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"

/* ---- the loop's transport ----------------------------------------------
 * A stream on the loop's own transport (net.h net_sys): a TCP socket
 * watched by epoll in production, a simulated connection under
 * tests/sim, so a client reaches a node over the same seam as the node's
 * listeners. */
typedef struct loop_stream {
    net_loop *loop;
    const net_sys *sys;
    int h;
    net_watch *w;
    net_stream_ready_fn ready;
    void *owner;
} loop_stream;

static void ls_on_ready(net_loop *loop, uint32_t events, void *ctx) {
    (void)loop;
    loop_stream *s = ctx;
    s->ready(s->owner, events);
}

static void *ls_open(const net_transport *t, net_loop *loop, const char *host,
                     int port, net_stream_ready_fn ready, void *owner,
                     char *err, size_t errlen) {
    (void)t;
    const net_sys *sys = net_loop_sys(loop);
    int h = sys->connect(sys, host, port, err, errlen);
    if (h < 0)
        return NULL;
    loop_stream *s = xcalloc(1, sizeof *s);
    s->loop = loop;
    s->sys = sys;
    s->h = h;
    s->ready = ready;
    s->owner = owner;
    s->w = net_watch_add(loop, h, NET_WRITABLE, ls_on_ready, s);
    if (!s->w) {
        snprintf(err, errlen, "poll: %s", strerror(errno));
        sys->close(sys, h);
        free(s);
        return NULL;
    }
    return s;
}

static int ls_connect_result(void *sp) {
    loop_stream *s = sp;
    return s->sys->connect_result(s->sys, s->h);
}

static ssize_t ls_read(void *sp, void *p, size_t n) {
    loop_stream *s = sp;
    return s->sys->read(s->sys, s->h, p, n);
}

static ssize_t ls_write(void *sp, const void *p, size_t n) {
    loop_stream *s = sp;
    struct iovec iov = {(void *)p, n};
    return s->sys->writev(s->sys, s->h, &iov, 1);
}

static void ls_want(void *sp, uint32_t mask) {
    loop_stream *s = sp;
    net_watch_set(s->w, mask);
}

static void ls_close(void *sp) {
    loop_stream *s = sp;
    net_watch_del(s->w);
    s->sys->close(s->sys, s->h);
    free(s);
}

const net_transport net_client_loop_transport = {
    .open = ls_open,
    .connect_result = ls_connect_result,
    .read = ls_read,
    .write = ls_write,
    .want = ls_want,
    .close = ls_close,
    .ctx = NULL,
};

/* ---- client ---------------------------------------------------------------
 */
typedef enum {
    ST_DOWN,        /* waiting for the reconnect backoff */
    ST_CONNECTING,  /* non-blocking connect in progress */
    ST_NEGOTIATING, /* ApiVersions in flight */
    ST_READY,
    ST_CLOSED, /* net_client_free called */
} client_state;

typedef struct req_ent {
    struct req_ent *next;
    int32_t corr;
    int16_t key, ver;
    buf frame; /* size-prefixed request, until written */
    net_client_cb cb;
    void *ctx;
    int64_t deadline;
} req_ent;

typedef struct req_list {
    req_ent *head, *tail;
    int n;
} req_list;

struct net_client {
    net_loop *loop;
    const net_transport *tp;
    char *host, *client_id;
    int port;
    int64_t connect_timeout_ms, request_timeout_ms;
    int64_t backoff_ms, backoff_max_ms, backoff_cur;
    int max_in_flight;
    int64_t max_response_bytes;
    net_client_state_fn on_state;
    void *state_ctx;

    client_state st;
    void *stream;
    uint32_t want;
    int32_t next_corr;
    req_list inflight; /* written (or being written), oldest first */
    req_list queue;    /* waiting behind max_in_flight */
    buf wbuf;          /* bytes not yet written */
    buf rbuf;          /* bytes read, not yet a whole frame */
    uint64_t conn_timer, req_timer, retry_timer, fail_timer;
    int fail_err; /* fail_timer: the error to close with */
    int16_t vmin[PROTO_API_COUNT], vmax[PROTO_API_COUNT];
    int16_t api_versions_ver; /* ApiVersions version being tried */
    int busy;
    bool free_pending;
    char last_err[256];
};

const char *net_client_strerror(int err) {
    switch (err) {
    case NET_CLIENT_OK:
        return "ok";
    case NET_CLIENT_ERR_DISCONNECTED:
        return "disconnected";
    case NET_CLIENT_ERR_TIMEOUT:
        return "request timed out";
    case NET_CLIENT_ERR_MALFORMED:
        return "malformed response";
    case NET_CLIENT_ERR_CLOSED:
        return "client closed";
    case NET_CLIENT_ERR_NOT_READY:
        return "not connected";
    case NET_CLIENT_ERR_UNSUPPORTED:
        return "unsupported version";
    case NET_CLIENT_ERR_UNKNOWN_API:
        return "unknown api";
    default:
        return "unknown error";
    }
}

static void list_push(req_list *l, req_ent *e) {
    e->next = NULL;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
    l->n++;
}

static req_ent *list_pop(req_list *l) {
    req_ent *e = l->head;
    if (e) {
        l->head = e->next;
        if (!l->head)
            l->tail = NULL;
        l->n--;
        e->next = NULL;
    }
    return e;
}

/* Removes the entry with correlation id corr (NULL if none). */
static req_ent *list_take(req_list *l, int32_t corr) {
    req_ent *prev = NULL;
    for (req_ent *e = l->head; e; prev = e, e = e->next) {
        if (e->corr != corr)
            continue;
        if (prev)
            prev->next = e->next;
        else
            l->head = e->next;
        if (l->tail == e)
            l->tail = prev;
        l->n--;
        e->next = NULL;
        return e;
    }
    return NULL;
}

static void ent_free(req_ent *e) {
    buf_free(&e->frame);
    free(e);
}

static void complete(net_client *c, req_ent *e, int err, void *resp, arena *a) {
    if (e->cb) {
        net_client_result r = {.err = err,
                               .api_key = e->key,
                               .api_version = e->ver,
                               .correlation_id = e->corr,
                               .resp = resp,
                               .arena = a};
        e->cb(c, &r, e->ctx);
    }
    ent_free(e);
}

static void really_free(net_client *c) {
    buf_free(&c->wbuf);
    buf_free(&c->rbuf);
    free(c->host);
    free(c->client_id);
    free(c);
}

static void enter(net_client *c) {
    c->busy++;
}
/* Returns false when the client was freed. */
static bool leave(net_client *c) {
    if (--c->busy == 0 && c->free_pending) {
        really_free(c);
        return false;
    }
    return true;
}

static void cancel_timer(net_client *c, uint64_t *id) {
    if (*id)
        net_timer_cancel(c->loop, *id);
    *id = 0;
}

static void start_connect(net_client *c);

static void on_retry_timer(net_loop *loop, void *ctx) {
    (void)loop;
    net_client *c = ctx;
    c->retry_timer = 0;
    enter(c);
    if (c->st == ST_DOWN)
        start_connect(c);
    leave(c);
}

/* Closes the stream and completes every pending request: the oldest
 * in-flight one with first_err (the cause), the others with rest_err.
 * Then schedules a reconnect unless the client is being freed. */
static void teardown(net_client *c, int first_err, int rest_err) {
    if (c->stream) {
        c->tp->close(c->stream);
        c->stream = NULL;
    }
    c->want = 0;
    cancel_timer(c, &c->conn_timer);
    cancel_timer(c, &c->req_timer);
    cancel_timer(c, &c->fail_timer);
    buf_reset(&c->wbuf);
    buf_reset(&c->rbuf);
    if (c->st != ST_CLOSED)
        c->st = ST_DOWN;
    req_list a = c->inflight, b = c->queue;
    memset(&c->inflight, 0, sizeof c->inflight);
    memset(&c->queue, 0, sizeof c->queue);
    bool first = true;
    req_ent *e;
    while ((e = list_pop(&a))) {
        complete(c, e, first ? first_err : rest_err, NULL, NULL);
        first = false;
    }
    while ((e = list_pop(&b))) {
        complete(c, e, first ? first_err : rest_err, NULL, NULL);
        first = false;
    }
    if (c->st == ST_CLOSED)
        return;
    if (!c->retry_timer) {
        c->retry_timer =
            net_timer_add(c->loop, c->backoff_cur, on_retry_timer, c);
        c->backoff_cur = c->backoff_cur * 2 > c->backoff_max_ms
                             ? c->backoff_max_ms
                             : c->backoff_cur * 2;
    }
    if (c->on_state)
        c->on_state(c, false, c->state_ctx);
}

static void set_want(net_client *c, uint32_t mask) {
    if (c->stream && mask != c->want) {
        c->want = mask;
        c->tp->want(c->stream, mask);
    }
}

static void on_fail_timer(net_loop *loop, void *ctx) {
    (void)loop;
    net_client *c = ctx;
    c->fail_timer = 0;
    enter(c);
    teardown(c, c->fail_err, NET_CLIENT_ERR_DISCONNECTED);
    leave(c);
}

/* A failure found inside net_client_send: completed from a timer so no
 * callback runs inside the send call. */
static void fail_later(net_client *c, int err) {
    if (!c->fail_timer) {
        c->fail_err = err;
        c->fail_timer = net_timer_add(c->loop, 0, on_fail_timer, c);
    }
}

/* Writes what it can. Returns false on a write error (errno in last_err). */
static bool flush_out(net_client *c) {
    while (c->wbuf.len) {
        ssize_t k = c->tp->write(c->stream, c->wbuf.data, c->wbuf.len);
        if (k < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            snprintf(c->last_err, sizeof c->last_err, "write to %s:%d: %s",
                     c->host, c->port, strerror(errno));
            return false;
        }
        memmove(c->wbuf.data, c->wbuf.data + k, c->wbuf.len - (size_t)k);
        c->wbuf.len -= (size_t)k;
    }
    set_want(c, NET_READABLE | (c->wbuf.len ? NET_WRITABLE : 0u));
    return true;
}

static void arm_req_timer(net_client *c);

/* Moves queued requests onto the wire while under the in-flight cap. */
static void pump(net_client *c) {
    while (c->queue.head && c->inflight.n < c->max_in_flight) {
        req_ent *e = list_pop(&c->queue);
        buf_put(&c->wbuf, e->frame.data, e->frame.len);
        buf_free(&e->frame);
        list_push(&c->inflight, e);
    }
}

static void on_req_timer(net_loop *loop, void *ctx) {
    (void)loop;
    net_client *c = ctx;
    c->req_timer = 0;
    enter(c);
    req_ent *oldest = c->inflight.head ? c->inflight.head : c->queue.head;
    if (oldest && net_loop_now_ms(c->loop) >= oldest->deadline) {
        snprintf(c->last_err, sizeof c->last_err,
                 "request (api %d, correlation %d) to %s:%d timed out",
                 oldest->key, oldest->corr, c->host, c->port);
        teardown(c, NET_CLIENT_ERR_TIMEOUT, NET_CLIENT_ERR_DISCONNECTED);
    } else {
        arm_req_timer(c);
    }
    leave(c);
}

/* Deadlines grow in send order, so the oldest pending request (in-flight
 * head, else queue head) is the next to expire. */
static void arm_req_timer(net_client *c) {
    if (c->req_timer)
        return;
    req_ent *oldest = c->inflight.head ? c->inflight.head : c->queue.head;
    if (!oldest)
        return;
    int64_t d = oldest->deadline - net_loop_now_ms(c->loop);
    c->req_timer = net_timer_add(c->loop, d < 0 ? 0 : d, on_req_timer, c);
}

/* Encodes a request frame (size, header, body) into e. */
static void encode_frame(net_client *c, req_ent *e, const proto_api_info *api,
                         const void *req) {
    buf_init(&e->frame, 128);
    buf_put_be32(&e->frame, 0);
    proto_request_header h = {.api_key = e->key,
                              .api_version = e->ver,
                              .correlation_id = e->corr,
                              .client_id = proto_str_c(c->client_id)};
    proto_request_header_encode(&e->frame, &h);
    api->req_encode(&e->frame, e->ver, req);
    sl_store_be32(e->frame.data, (uint32_t)(e->frame.len - 4));
}

static req_ent *new_ent(net_client *c, int16_t key, int16_t ver,
                        net_client_cb cb, void *ctx) {
    req_ent *e = xcalloc(1, sizeof *e);
    if (c->next_corr <= 0 || c->next_corr == INT32_MAX)
        c->next_corr = 1;
    e->corr = c->next_corr++;
    e->key = key;
    e->ver = ver;
    e->cb = cb;
    e->ctx = ctx;
    e->deadline = net_loop_now_ms(c->loop) + c->request_timeout_ms;
    return e;
}

/* ---- ApiVersions negotiation --------------------------------------------
 */
static void on_api_versions(net_client *c, const net_client_result *r,
                            void *ctx);

static void send_api_versions(net_client *c) {
    const proto_api_info *api = proto_api(PROTO_API_API_VERSIONS);
    proto_api_versions_request req;
    proto_api_versions_request_init(&req);
    req.client_software_name = proto_str_c("sluice");
    req.client_software_version = proto_str_c("1.0");
    req_ent *e = new_ent(c, PROTO_API_API_VERSIONS, c->api_versions_ver,
                         on_api_versions, NULL);
    encode_frame(c, e, api, &req);
    buf_put(&c->wbuf, e->frame.data, e->frame.len);
    buf_free(&e->frame);
    list_push(&c->inflight, e);
    arm_req_timer(c);
}

static void on_api_versions(net_client *c, const net_client_result *r,
                            void *ctx) {
    (void)ctx;
    if (r->err != NET_CLIENT_OK)
        return; /* the teardown that completed us handles the state */
    const proto_api_versions_response *v = r->resp;
    if (v->error_code == KERR_UNSUPPORTED_VERSION && c->api_versions_ver > 0) {
        /* The broker answered in v0 with the range it has for
         * ApiVersions: retry at its max (Kafka's client does the same). */
        int16_t theirs = 0;
        for (int32_t i = 0; i < v->api_keys.n; i++)
            if (v->api_keys.v[i].api_key == PROTO_API_API_VERSIONS)
                theirs = v->api_keys.v[i].max_version;
        c->api_versions_ver =
            theirs < c->api_versions_ver ? theirs : (int16_t)0;
        send_api_versions(c);
        if (!flush_out(c))
            fail_later(c, NET_CLIENT_ERR_DISCONNECTED);
        return;
    }
    if (v->error_code != 0) {
        snprintf(c->last_err, sizeof c->last_err,
                 "ApiVersions error %d from %s:%d", v->error_code, c->host,
                 c->port);
        fail_later(c, NET_CLIENT_ERR_DISCONNECTED);
        return;
    }
    for (int i = 0; i < PROTO_API_COUNT; i++)
        c->vmin[i] = c->vmax[i] = -1;
    for (int32_t i = 0; i < v->api_keys.n; i++) {
        const proto_api_versions_response_api_version *k = &v->api_keys.v[i];
        const proto_api_info *ours = proto_api(k->api_key);
        if (!ours)
            continue;
        int16_t lo = k->min_version > ours->min_version ? k->min_version
                                                        : ours->min_version;
        int16_t mx = proto_api_max_stable(ours);
        int16_t hi = k->max_version < mx ? k->max_version : mx;
        if (lo <= hi) {
            c->vmin[k->api_key] = lo;
            c->vmax[k->api_key] = hi;
        }
    }
    c->st = ST_READY;
    c->backoff_cur = c->backoff_ms;
    cancel_timer(c, &c->conn_timer);
    if (c->on_state)
        c->on_state(c, true, c->state_ctx);
}

/* ---- reading ---------------------------------------------------------------
 */

/* Decodes one response frame (without its size). Returns false when the
 * connection must close (the offending request is completed already). */
static bool handle_frame(net_client *c, const uint8_t *frame, size_t len) {
    rd hr;
    rd_init(&hr, frame, len);
    int32_t corr = (int32_t)rd_be32(&hr);
    req_ent *e = hr.err ? NULL : list_take(&c->inflight, corr);
    if (!e) {
        snprintf(c->last_err, sizeof c->last_err,
                 "response with unknown correlation id %d from %s:%d", corr,
                 c->host, c->port);
        teardown(c, NET_CLIENT_ERR_MALFORMED, NET_CLIENT_ERR_DISCONNECTED);
        return false;
    }
    const proto_api_info *api = proto_api(e->key);
    arena a;
    arena_init(&a, len * 2 + 1024);
    /* The response is copied into the arena so that it (and every string
     * the decoder points at) belongs to the callback's scope alone. */
    uint8_t *copy = arena_memdup(&a, frame, len);
    rd r;
    rd_init(&r, copy, len);
    proto_response_header h;
    int rc = proto_response_header_decode(&r, &a, e->key, e->ver, &h);
    void *resp = arena_calloc(&a, 1, api->resp_size);
    const uint8_t *body = r.p;
    size_t body_len = rd_left(&r);
    if (rc == PROTO_OK)
        rc = api->resp_decode(&r, &a, e->ver, resp);
    if (rc == PROTO_OK && rd_left(&r) != 0)
        rc = PROTO_ERR_INVALID;
    if (rc != PROTO_OK && e->key == PROTO_API_API_VERSIONS && e->ver > 0) {
        /* An UNSUPPORTED_VERSION answer comes in v0 whatever we asked. */
        rd_init(&r, body, body_len);
        int rc0 = api->resp_decode(&r, &a, 0, resp);
        if (rc0 == PROTO_OK && rd_left(&r) == 0 &&
            ((proto_api_versions_response *)resp)->error_code ==
                KERR_UNSUPPORTED_VERSION)
            rc = PROTO_OK;
    }
    if (rc != PROTO_OK) {
        snprintf(c->last_err, sizeof c->last_err,
                 "malformed %s v%d response from %s:%d: %s", api->name, e->ver,
                 c->host, c->port, proto_strerror(rc));
        arena_free(&a);
        complete(c, e, NET_CLIENT_ERR_MALFORMED, NULL, NULL);
        teardown(c, NET_CLIENT_ERR_DISCONNECTED, NET_CLIENT_ERR_DISCONNECTED);
        return false;
    }
    complete(c, e, NET_CLIENT_OK, resp, &a);
    arena_free(&a);
    return true;
}

static void do_read(net_client *c) {
    for (;;) {
        buf_reserve(&c->rbuf, 64 * 1024);
        ssize_t k = c->tp->read(c->stream, c->rbuf.data + c->rbuf.len,
                                c->rbuf.cap - c->rbuf.len);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            snprintf(c->last_err, sizeof c->last_err,
                     "connection to %s:%d lost: %s", c->host, c->port,
                     k == 0 ? "closed by peer" : strerror(errno));
            teardown(c, NET_CLIENT_ERR_DISCONNECTED,
                     NET_CLIENT_ERR_DISCONNECTED);
            return;
        }
        if (k < 0)
            break;
        c->rbuf.len += (size_t)k;
        size_t off = 0;
        while (c->rbuf.len - off >= 4) {
            uint32_t n = sl_load_be32(c->rbuf.data + off);
            if (n < 4 || (int64_t)n > c->max_response_bytes) {
                snprintf(c->last_err, sizeof c->last_err,
                         "invalid response size %u from %s:%d", n, c->host,
                         c->port);
                teardown(c, NET_CLIENT_ERR_MALFORMED,
                         NET_CLIENT_ERR_DISCONNECTED);
                return;
            }
            if (c->rbuf.len - off - 4 < n)
                break;
            if (!handle_frame(c, c->rbuf.data + off + 4, n))
                return;
            off += 4 + n;
            /* A callback may have freed the client or torn it down (a
             * failed ApiVersions): stop touching the buffer then. */
            if (c->free_pending || c->st == ST_DOWN || c->st == ST_CLOSED ||
                !c->stream)
                return;
        }
        memmove(c->rbuf.data, c->rbuf.data + off, c->rbuf.len - off);
        c->rbuf.len -= off;
        if (c->rbuf.len == c->rbuf.cap)
            continue;
        break;
    }
    /* Responses made room under the cap, and deadlines moved. */
    pump(c);
    cancel_timer(c, &c->req_timer);
    arm_req_timer(c);
    if (!flush_out(c))
        teardown(c, NET_CLIENT_ERR_DISCONNECTED, NET_CLIENT_ERR_DISCONNECTED);
}

static void on_stream_ready(void *owner, uint32_t events) {
    net_client *c = owner;
    enter(c);
    if (c->st == ST_CONNECTING) {
        if (!(events & NET_WRITABLE))
            goto out;
        int e = c->tp->connect_result(c->stream);
        if (e != 0) {
            snprintf(c->last_err, sizeof c->last_err,
                     "connection to %s:%d failed: %s", c->host, c->port,
                     strerror(e));
            teardown(c, NET_CLIENT_ERR_DISCONNECTED,
                     NET_CLIENT_ERR_DISCONNECTED);
            goto out;
        }
        c->st = ST_NEGOTIATING;
        send_api_versions(c);
        if (!flush_out(c))
            teardown(c, NET_CLIENT_ERR_DISCONNECTED,
                     NET_CLIENT_ERR_DISCONNECTED);
        goto out;
    }
    if (c->st != ST_NEGOTIATING && c->st != ST_READY)
        goto out;
    if ((events & NET_WRITABLE) && c->wbuf.len && !flush_out(c)) {
        teardown(c, NET_CLIENT_ERR_DISCONNECTED, NET_CLIENT_ERR_DISCONNECTED);
        goto out;
    }
    if (events & NET_READABLE)
        do_read(c);
out:
    leave(c);
}

static void on_conn_timer(net_loop *loop, void *ctx) {
    (void)loop;
    net_client *c = ctx;
    c->conn_timer = 0;
    enter(c);
    if (c->st == ST_CONNECTING || c->st == ST_NEGOTIATING) {
        snprintf(c->last_err, sizeof c->last_err,
                 "connection to %s:%d timed out", c->host, c->port);
        teardown(c, NET_CLIENT_ERR_TIMEOUT, NET_CLIENT_ERR_DISCONNECTED);
    }
    leave(c);
}

static void start_connect(net_client *c) {
    for (int i = 0; i < PROTO_API_COUNT; i++)
        c->vmin[i] = c->vmax[i] = -1;
    c->api_versions_ver =
        proto_api_max_stable(proto_api(PROTO_API_API_VERSIONS));
    c->want = NET_WRITABLE;
    c->stream = c->tp->open(c->tp, c->loop, c->host, c->port, on_stream_ready,
                            c, c->last_err, sizeof c->last_err);
    if (!c->stream) {
        teardown(c, NET_CLIENT_ERR_DISCONNECTED, NET_CLIENT_ERR_DISCONNECTED);
        return;
    }
    c->st = ST_CONNECTING;
    c->conn_timer =
        net_timer_add(c->loop, c->connect_timeout_ms, on_conn_timer, c);
}

/* ---- public ----------------------------------------------------------------
 */
net_client *net_client_new(net_loop *loop, const net_client_opts *o) {
    net_client *c = xcalloc(1, sizeof *c);
    c->loop = loop;
    c->tp = o->transport ? o->transport : &net_client_loop_transport;
    c->host = xstrdup(o->host ? o->host : "localhost");
    c->port = o->port;
    c->client_id = xstrdup(o->client_id ? o->client_id : "sluice");
    c->connect_timeout_ms =
        o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000;
    c->request_timeout_ms =
        o->request_timeout_ms > 0 ? o->request_timeout_ms : 30000;
    c->backoff_ms = o->reconnect_backoff_ms > 0 ? o->reconnect_backoff_ms : 50;
    c->backoff_max_ms =
        o->reconnect_backoff_max_ms > 0 ? o->reconnect_backoff_max_ms : 1000;
    if (c->backoff_max_ms < c->backoff_ms)
        c->backoff_max_ms = c->backoff_ms;
    c->backoff_cur = c->backoff_ms;
    c->max_in_flight = o->max_in_flight > 0 ? o->max_in_flight : 5;
    c->max_response_bytes =
        o->max_response_bytes > 0 ? o->max_response_bytes : 100 << 20;
    c->on_state = o->on_state;
    c->state_ctx = o->ctx;
    buf_init(&c->wbuf, 4096);
    buf_init(&c->rbuf, 64 * 1024);
    c->st = ST_DOWN;
    enter(c);
    start_connect(c);
    leave(c);
    return c;
}

void net_client_free(net_client *c) {
    if (!c || c->st == ST_CLOSED)
        return;
    enter(c);
    c->st = ST_CLOSED;
    cancel_timer(c, &c->retry_timer);
    teardown(c, NET_CLIENT_ERR_CLOSED, NET_CLIENT_ERR_CLOSED);
    c->free_pending = true;
    leave(c);
}

bool net_client_ready(const net_client *c) {
    return c->st == ST_READY;
}

bool net_client_versions(const net_client *c, int16_t key, int16_t *min,
                         int16_t *max) {
    if (c->st != ST_READY || key < 0 || key >= PROTO_API_COUNT ||
        c->vmax[key] < 0)
        return false;
    *min = c->vmin[key];
    *max = c->vmax[key];
    return true;
}

int32_t net_client_send(net_client *c, int16_t key, int16_t max_version,
                        const void *req, net_client_cb cb, void *ctx) {
    const proto_api_info *api = proto_api(key);
    if (!api)
        return NET_CLIENT_ERR_UNKNOWN_API;
    if (c->st != ST_READY || c->fail_timer)
        return NET_CLIENT_ERR_NOT_READY;
    int16_t lo, hi;
    if (!net_client_versions(c, key, &lo, &hi))
        return NET_CLIENT_ERR_UNSUPPORTED;
    if (max_version >= 0 && max_version < hi)
        hi = max_version;
    if (hi < lo)
        return NET_CLIENT_ERR_UNSUPPORTED;
    /* Kafka refuses to send a request whose set fields the version cannot
     * carry (UnsupportedVersionException); so do we. */
    if (proto_msg_lossy_field(api->req, hi, req))
        return NET_CLIENT_ERR_UNSUPPORTED;
    req_ent *e = new_ent(c, key, hi, cb, ctx);
    encode_frame(c, e, api, req);
    int32_t corr = e->corr;
    list_push(&c->queue, e);
    pump(c);
    arm_req_timer(c);
    if (!flush_out(c))
        fail_later(c, NET_CLIENT_ERR_DISCONNECTED);
    return corr;
}

int net_client_in_flight(const net_client *c) {
    return c->inflight.n;
}
int net_client_queued(const net_client *c) {
    return c->queue.n;
}
const char *net_client_last_error(const net_client *c) {
    return c->last_err;
}
