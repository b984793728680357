/*
 * net.c - event loop (on the transport net_sys), timers, before-sleep hooks,
 * listeners and connections with Kafka framing (int32 size + frame), ordered
 * response slots and response chains written with writev + sendfile.
 *
 * Invariants:
 *  1. A connection reads a frame's size first; a size < 0 or greater than
 *     socket.request.max.bytes closes the connection before any of the body
 *     is read or buffered (Kafka's InvalidReceiveException).
 *  2. The input buffer never holds more than one frame plus a partial next
 *     header beyond what has been dispatched: memory per connection is
 *     bounded by max_request_bytes + 4 + read chunk.
 *  3. Responses leave in slot (= request) order. A slot is freed when its
 *     chain has been written, or when it is filled after its connection died.
 *  4. While more than CONN_MAX_INFLIGHT slots or CONN_MAX_OUT_MEM bytes of
 *     memory chunks are queued, the connection stops reading (a slow reader
 *     cannot grow the broker).
 */
#include "net/net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/env.h"
#include "core/list.h"
#include "core/log.h"
#include "core/util.h"

#define CONN_MAX_INFLIGHT 128
#define CONN_MAX_OUT_MEM (32u << 20)
#define READ_CHUNK 65536
#define READ_MAX (1u << 20)

/* ---- chains ----------------------------------------------------------------
 */

void net_chain_init(net_chain *c) {
    memset(c, 0, sizeof *c);
}

static net_chunk *chunk_new(net_chain *c, net_chunk_kind kind) {
    net_chunk *k = xcalloc(1, sizeof *k);
    k->kind = kind;
    k->fd = -1;
    if (c->tail)
        c->tail->next = k;
    else
        c->head = k;
    c->tail = k;
    return k;
}

buf *net_chain_mem(net_chain *c) {
    if (!c->tail || c->tail->kind != NET_CHUNK_MEM) {
        net_chunk *k = chunk_new(c, NET_CHUNK_MEM);
        buf_init(&k->mem, 256);
    }
    return &c->tail->mem;
}

/* File chunks hold fds of the current env's file system (a node's fetch
 * handler runs in its env): kernel fds in production, crashfs's under the
 * simulator; the chunk remembers which, to send and close it. */
static void file_close(const log_io *fs, int fd) {
    if (fs)
        fs->close(fs->ctx, fd);
    else
        close(fd);
}

bool net_chain_file(net_chain *c, int fd, off_t off, size_t len) {
    if (len == 0)
        return true;
    const log_io *fs = sl_env_cur()->fs;
    int d = fs ? fs->dup(fs->ctx, fd) : fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0)
        return false;
    net_chunk *k = chunk_new(c, NET_CHUNK_FILE);
    k->fd = d;
    k->fs = fs;
    k->off = off;
    k->len = len;
    return true;
}

void net_chain_file_take(net_chain *c, int fd, off_t off, size_t len) {
    const log_io *fs = sl_env_cur()->fs;
    if (len == 0) {
        file_close(fs, fd);
        return;
    }
    net_chunk *k = chunk_new(c, NET_CHUNK_FILE);
    k->fd = fd;
    k->fs = fs;
    k->off = off;
    k->len = len;
}

static void chunk_free(net_chunk *k) {
    if (k->kind == NET_CHUNK_MEM)
        buf_free(&k->mem);
    else if (k->fd >= 0)
        file_close(k->fs, k->fd);
    free(k);
}

void net_chain_free(net_chain *c) {
    net_chunk *k = c->head;
    while (k) {
        net_chunk *n = k->next;
        chunk_free(k);
        k = n;
    }
    net_chain_init(c);
}

void net_chain_append(net_chain *dst, net_chain *src) {
    if (!src->head)
        return;
    if (dst->tail)
        dst->tail->next = src->head;
    else
        dst->head = src->head;
    dst->tail = src->tail;
    net_chain_init(src);
}

size_t net_chain_total(const net_chain *c) {
    size_t t = 0;
    for (const net_chunk *k = c->head; k; k = k->next)
        t += k->kind == NET_CHUNK_MEM ? k->mem.len : k->len;
    return t;
}

/* ---- loop -----------------------------------------------------------------
 */

typedef struct timer_ent {
    int64_t deadline_ns;
    uint64_t id;
    net_timer_fn fn;
    void *ctx;
} timer_ent;

typedef struct hook_ent {
    net_hook_fn fn;
    void *ctx;
} hook_ent;

struct net_slot {
    net_slot *next;
    net_conn *conn; /* NULL once orphaned */
    net_chain chain;
    bool filled;
    bool after_flush; /* held until the flushes begun before it completed */
    bool stamped;     /* flush_ticket set (after the hooks of its pass) */
    uint64_t flush_ticket;
};

struct net_conn {
    net_loop *loop;
    net_conn *prev, *next; /* loop's list */
    int fd;
    uint64_t id;
    const net_listener *lst;
    char peer[64];
    char ip[48];
    buf in;             /* unparsed input */
    int64_t frame_need; /* -1: reading size; else body bytes of this frame */
    net_slot *slots_head, *slots_tail;
    int n_slots;
    size_t out_mem; /* bytes in memory chunks queued */
    int64_t last_active_ms;
    bool want_write;
    bool reading_paused;
    bool closing; /* close once output drained */
    bool dead;
    bool in_dispatch; /* inside on_frame: writes wait until it returns */
    bool in_parse;    /* inside conn_parse (no re-entry) */
};

struct net_listener {
    net_loop *loop;
    int fd;
    int port;
    net_listen_opts opts;
    net_endpoint ep;
};

struct net_loop {
    const sl_env *env; /* made current while the loop runs; NULL: none */
    const net_sys *sys;
    void *poller;
    volatile int stop;
    timer_ent *timers;
    size_t n_timers, cap_timers;
    uint64_t next_timer_id;
    hook_ent hooks[16];
    int n_hooks;
    net_conn *conns;
    net_conn *graveyard;    /* closed, freed after the current iteration */
    net_watch *watch_grave; /* deleted watches, freed likewise */
    size_t n_conns;
    uint64_t next_conn_id;
    net_listener *listeners[32];
    int n_listeners;
    uint64_t idle_timer;
    /* connections with after-flush slots to release after the hooks */
    bool have_after_flush;
    /* asynchronous flushes: the last ticket begun and the last completed
     * (completions arrive in ticket order) */
    uint64_t flush_begun, flush_done;
};

/* Poller data: tag low bits to tell listeners and watches from
 * connections. */
enum { TAG_CONN = 0, TAG_LISTENER = 1, TAG_WATCH = 3 };

struct net_watch {
    net_loop *loop;
    int fd;
    bool dead;
    net_watch_fn fn;
    void *ctx;
    net_watch *next_dead;
};
static inline uint64_t tag_ptr(void *p, int tag) {
    return (uint64_t)(uintptr_t)p | (uint64_t)tag;
}

static void conn_close_now(net_conn *conn);
static void free_graveyard(net_loop *loop);
static void conn_try_write(net_conn *conn);
static void conn_update_events(net_conn *conn);
static void conn_read(net_conn *conn);
static bool conn_parse(net_conn *conn);

net_loop *net_loop_new(void) {
    net_loop *loop = xcalloc(1, sizeof *loop);
    loop->env = sl_env_entered();
    loop->sys = loop->env && loop->env->net ? loop->env->net : &net_sys_posix;
    loop->poller = loop->sys->poller_new(loop->sys);
    SL_ASSERT(loop->poller);
    loop->next_timer_id = 1;
    loop->next_conn_id = 1;
    return loop;
}

void net_loop_free(net_loop *loop) {
    if (!loop)
        return;
    net_loop_close_all(loop);
    for (int i = 0; i < loop->n_listeners; i++) {
        net_listener_close(loop->listeners[i]);
        free(loop->listeners[i]);
    }
    loop->sys->poller_free(loop->poller);
    free(loop->timers);
    free(loop);
}

void net_loop_wake(net_loop *loop) {
    loop->sys->poll_wake(loop->poller);
}

const net_sys *net_loop_sys(const net_loop *loop) {
    return loop->sys;
}

/* The loop's monotonic time: its env's clock even when called from outside
 * the loop (a timer added during start-up, a simulator's question). */
int64_t net_loop_now_ns(const net_loop *loop) {
    if (!loop->env)
        return clk_mono_ns();
    const sl_env *prev = sl_env_enter(loop->env);
    int64_t t = clk_mono_ns();
    sl_env_leave(prev);
    return t;
}

int64_t net_loop_timer_due_in_ns(const net_loop *loop) {
    if (!loop->n_timers)
        return INT64_MAX;
    int64_t d = loop->timers[0].deadline_ns - net_loop_now_ns(loop);
    return d > 0 ? d : 0;
}

void net_loop_stop(net_loop *loop) {
    loop->stop = 1;
    net_loop_wake(loop);
}

bool net_loop_stopping(const net_loop *loop) {
    return loop->stop != 0;
}

size_t net_loop_conn_count(const net_loop *loop) {
    return loop->n_conns;
}

/* ---- timers (binary min-heap) -----------------------------------------------
 */

static void heap_swap(timer_ent *a, timer_ent *b) {
    timer_ent t = *a;
    *a = *b;
    *b = t;
}

static void heap_up(net_loop *loop, size_t i) {
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (loop->timers[p].deadline_ns <= loop->timers[i].deadline_ns)
            break;
        heap_swap(&loop->timers[p], &loop->timers[i]);
        i = p;
    }
}

static void heap_down(net_loop *loop, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < loop->n_timers &&
            loop->timers[l].deadline_ns < loop->timers[m].deadline_ns)
            m = l;
        if (r < loop->n_timers &&
            loop->timers[r].deadline_ns < loop->timers[m].deadline_ns)
            m = r;
        if (m == i)
            break;
        heap_swap(&loop->timers[m], &loop->timers[i]);
        i = m;
    }
}

uint64_t net_timer_add(net_loop *loop, int64_t delay_ms, net_timer_fn fn,
                       void *ctx) {
    if (loop->n_timers == loop->cap_timers) {
        loop->cap_timers = loop->cap_timers ? loop->cap_timers * 2 : 64;
        loop->timers =
            xrealloc(loop->timers, loop->cap_timers * sizeof(timer_ent));
    }
    if (delay_ms < 0)
        delay_ms = 0;
    /* "never" (a Raft observer's election deadline, INT64_MAX) saturates
     * instead of overflowing */
    int64_t now_ns = net_loop_now_ns(loop);
    if (delay_ms > (INT64_MAX - now_ns) / 1000000)
        delay_ms = (INT64_MAX - now_ns) / 1000000;
    timer_ent *t = &loop->timers[loop->n_timers++];
    t->deadline_ns = now_ns + delay_ms * 1000000;
    uint64_t id = loop->next_timer_id++;
    t->id = id;
    t->fn = fn;
    t->ctx = ctx;
    heap_up(loop, loop->n_timers - 1); /* moves entries: t may now be another */
    return id;
}

bool net_timer_cancel(net_loop *loop, uint64_t id) {
    for (size_t i = 0; i < loop->n_timers; i++) {
        if (loop->timers[i].id == id) {
            loop->timers[i] = loop->timers[--loop->n_timers];
            if (i < loop->n_timers) {
                heap_down(loop, i);
                heap_up(loop, i);
            }
            return true;
        }
    }
    return false;
}

static void run_timers(net_loop *loop) {
    int64_t now = clk_mono_ns();
    /* Bounded per iteration so a timer that re-arms itself at 0 ms cannot
     * starve the network. */
    for (int n = 0; n < 1024 && loop->n_timers; n++) {
        timer_ent t = loop->timers[0];
        if (t.deadline_ns > now)
            break;
        loop->timers[0] = loop->timers[--loop->n_timers];
        if (loop->n_timers)
            heap_down(loop, 0);
        t.fn(loop, t.ctx);
    }
}

static int next_timeout_ms(net_loop *loop) {
    if (!loop->n_timers)
        return 1000;
    int64_t d = loop->timers[0].deadline_ns - clk_mono_ns();
    if (d <= 0)
        return 0;
    int64_t ms = (d + 999999) / 1000000;
    return ms > 1000 ? 1000 : (int)ms;
}

void net_loop_add_before_sleep(net_loop *loop, net_hook_fn fn, void *ctx) {
    SL_ASSERT(loop->n_hooks < (int)SL_ARRAY_LEN(loop->hooks));
    loop->hooks[loop->n_hooks].fn = fn;
    loop->hooks[loop->n_hooks].ctx = ctx;
    loop->n_hooks++;
}

void net_loop_remove_before_sleep(net_loop *loop, net_hook_fn fn, void *ctx) {
    for (int i = 0; i < loop->n_hooks; i++)
        if (loop->hooks[i].fn == fn && loop->hooks[i].ctx == ctx) {
            memmove(&loop->hooks[i], &loop->hooks[i + 1],
                    (size_t)(loop->n_hooks - i - 1) * sizeof loop->hooks[0]);
            loop->n_hooks--;
            return;
        }
}

void net_loop_flush_begun(net_loop *loop, uint64_t ticket) {
    SL_ASSERT(ticket >= loop->flush_begun);
    loop->flush_begun = ticket;
}

void net_loop_flush_done(net_loop *loop, uint64_t ticket) {
    SL_ASSERT(ticket <= loop->flush_begun);
    if (ticket > loop->flush_done)
        loop->flush_done = ticket;
}

/* After the hooks ran: an after-flush slot filled during this pass waits
 * for every flush begun up to now (the one these hooks may just have begun
 * covers what its request wrote); slots whose ticket is done are released.
 * With nothing in flight that is at once, as before asynchronous flushes. */
static void release_after_flush(net_loop *loop) {
    if (!loop->have_after_flush)
        return;
    loop->have_after_flush = false;
    net_conn *c = loop->conns;
    while (c) {
        net_conn *next = c->next;
        bool any = false;
        for (net_slot *s = c->slots_head; s; s = s->next) {
            if (!s->filled || !s->after_flush)
                continue;
            if (!s->stamped) {
                s->stamped = true;
                s->flush_ticket = loop->flush_begun;
            }
            if (s->flush_ticket <= loop->flush_done) {
                s->after_flush = false;
                any = true;
            } else {
                loop->have_after_flush = true;
            }
        }
        if (any)
            conn_try_write(c);
        c = next;
    }
}

static void before_sleep(net_loop *loop) {
    for (int i = 0; i < loop->n_hooks; i++)
        loop->hooks[i].fn(loop, loop->hooks[i].ctx);
    release_after_flush(loop);
}

static void accept_conns(net_listener *l);

static void loop_once(net_loop *loop, int timeout_ms) {
    net_sys_event evs[256];
    int n = loop->sys->poll_wait(loop->poller, evs, 256, timeout_ms);
    if (n < 0)
        SL_ERROR("net", "poll: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
        uint64_t d = evs[i].data;
        uint32_t ev = evs[i].events;
        int tag = (int)(d & 3);
        void *p = (void *)(uintptr_t)(d & ~(uint64_t)3);
        if (tag == TAG_LISTENER) {
            accept_conns((net_listener *)p);
        } else if (tag == TAG_WATCH) {
            net_watch *w = p;
            if (w->dead)
                continue;
            uint32_t e = ev & (NET_READABLE | NET_WRITABLE);
            if (ev & NET_HANGUP)
                e |= NET_READABLE | NET_WRITABLE;
            w->fn(loop, e, w->ctx);
        } else {
            net_conn *conn = p;
            if (conn->dead)
                continue;
            if (ev & NET_WRITABLE)
                conn_try_write(conn);
            if (!conn->dead && (ev & (NET_READABLE | NET_HANGUP)))
                conn_read(conn);
        }
    }
    run_timers(loop);
    free_graveyard(loop);
}

/* Every entry that runs callbacks makes the loop's env current. */
static const sl_env *loop_enter(const net_loop *loop) {
    return loop->env ? sl_env_enter(loop->env) : sl_env_entered();
}

int net_loop_run(net_loop *loop) {
    const sl_env *prev = loop_enter(loop);
    while (!loop->stop) {
        before_sleep(loop);
        if (loop->stop)
            break;
        loop_once(loop, next_timeout_ms(loop));
    }
    before_sleep(loop);
    sl_env_leave(prev);
    return 0;
}

void net_loop_poll(net_loop *loop, int timeout_ms) {
    const sl_env *prev = loop_enter(loop);
    before_sleep(loop);
    int t = next_timeout_ms(loop);
    if (t < 0 || t > timeout_ms)
        t = timeout_ms;
    loop_once(loop, t);
    sl_env_leave(prev);
}

static bool loop_drained(net_loop *loop) {
    for (net_conn *c = loop->conns; c; c = c->next)
        if (c->slots_head)
            return false;
    return true;
}

bool net_loop_drain(net_loop *loop, int64_t timeout_ms) {
    const sl_env *prev = loop_enter(loop);
    int64_t end = clk_mono_ms() + timeout_ms;
    bool done;
    /* A simulated transport never blocks and its time moves only between
     * the simulator's steps: bound the passes instead of waiting for a
     * clock that stands still. */
    int passes = loop->env && loop->env->net ? 1000 : -1;
    for (;;) {
        before_sleep(loop);
        if ((done = loop_drained(loop)))
            break;
        int64_t left = end - clk_mono_ms();
        if (left <= 0 || passes-- == 0)
            break;
        int t = next_timeout_ms(loop);
        if (t > left)
            t = (int)left;
        if (t > 50)
            t = 50;
        loop_once(loop, t);
    }
    sl_env_leave(prev);
    return done;
}

void net_loop_close_listeners(net_loop *loop) {
    for (int i = 0; i < loop->n_listeners; i++)
        net_listener_close(loop->listeners[i]);
}

void net_loop_close_all(net_loop *loop) {
    while (loop->conns)
        conn_close_now(loop->conns);
    free_graveyard(loop);
}

/* ---- listeners
 * ------------------------------------------------------------------ */

int net_parse_listeners(const char *s, net_endpoint *out, int max, char *err,
                        size_t errlen) {
    int n = 0;
    list_iter it = list_start(s, true);
    const char *p;
    size_t len;
    while (list_next(&it, &p, &len)) {
        char one[512];
        if (len >= sizeof one) {
            snprintf(err, errlen, "listener too long");
            return -1;
        }
        memcpy(one, p, len);
        one[len] = 0;
        if (n >= max) {
            snprintf(err, errlen, "too many listeners (max %d)", max);
            return -1;
        }
        net_endpoint *ep = &out[n];
        memset(ep, 0, sizeof *ep);
        char *sep = strstr(one, "://");
        if (!sep || sep == one) {
            snprintf(err, errlen,
                     "Error creating broker listeners from '%s': Unable to "
                     "parse %s to a broker endpoint",
                     s, one);
            return -1;
        }
        *sep = 0;
        if (strlen(one) >= sizeof ep->name) {
            snprintf(err, errlen, "listener name too long: %s", one);
            return -1;
        }
        for (char *c = one; *c; c++) {
            if (!(isalnum((unsigned char)*c) || *c == '_' || *c == '-')) {
                snprintf(err, errlen,
                         "Error creating broker listeners from '%s': invalid "
                         "listener name %s",
                         s, one);
                return -1;
            }
            *c = (char)toupper((unsigned char)*c);
        }
        memcpy(ep->name, one, strlen(one) + 1); /* length checked above */
        char *hp = sep + 3;
        char *colon = strrchr(hp, ':');
        if (!colon) {
            snprintf(err, errlen,
                     "Error creating broker listeners from '%s': Unable to "
                     "parse %s://%s to a broker endpoint",
                     s, one, hp);
            return -1;
        }
        *colon = 0;
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || port < 0 || port > 65535) {
            snprintf(err, errlen,
                     "Error creating broker listeners from '%s': invalid port "
                     "in %s",
                     s, colon + 1);
            return -1;
        }
        size_t hl = strlen(hp);
        if (hl >= 2 && hp[0] == '[' && hp[hl - 1] == ']') {
            hp[hl - 1] = 0;
            hp++;
        }
        if (strlen(hp) >= sizeof ep->host) {
            snprintf(err, errlen, "listener host too long");
            return -1;
        }
        memcpy(ep->host, hp, strlen(hp) + 1);
        ep->port = (int)port;
        for (int i = 0; i < n; i++)
            if (!strcmp(out[i].name, ep->name)) {
                snprintf(err, errlen,
                         "Each listener must have a different name, listeners: "
                         "%s",
                         s);
                return -1;
            }
        n++;
    }
    return n;
}

net_listener *net_listen(net_loop *loop, const net_listen_opts *opts, char *err,
                         size_t errlen) {
    const net_endpoint *ep = opts->ep;
    char why[128] = "";
    int port = 0;
    int fd = loop->sys->listen(loop->sys, ep->host, ep->port,
                               opts->recv_buffer_bytes, &port, why, sizeof why);
    if (fd < 0) {
        snprintf(err, errlen,
                 "Socket server failed to bind to %s:%d (listener %s): %s",
                 ep->host[0] ? ep->host : "0.0.0.0", ep->port, ep->name, why);
        return NULL;
    }
    net_listener *l = xcalloc(1, sizeof *l);
    l->loop = loop;
    l->fd = fd;
    l->opts = *opts;
    l->ep = *ep;
    l->opts.ep = &l->ep;
    l->port = port;
    loop->sys->poll_add(loop->poller, fd, NET_READABLE,
                        tag_ptr(l, TAG_LISTENER));
    SL_ASSERT(loop->n_listeners < (int)SL_ARRAY_LEN(loop->listeners));
    loop->listeners[loop->n_listeners++] = l;
    return l;
}

int net_listener_port(const net_listener *l) {
    return l->port;
}

void net_listener_close(net_listener *l) {
    if (l->fd >= 0) {
        l->loop->sys->poll_del(l->loop->poller, l->fd);
        l->loop->sys->close(l->loop->sys, l->fd);
        l->fd = -1;
    }
}

static void idle_check(net_loop *loop, void *ctx);

static void accept_conns(net_listener *l) {
    net_loop *loop = l->loop;
    for (int i = 0; i < 64 && l->fd >= 0; i++) {
        char host[INET6_ADDRSTRLEN];
        int port = 0;
        int fd = loop->sys->accept(loop->sys, l->fd, host, sizeof host, &port,
                                   l->opts.send_buffer_bytes);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                SL_WARN("net", "accept on listener %s: %s", l->ep.name,
                        strerror(errno));
            return;
        }
        net_conn *c = xcalloc(1, sizeof *c);
        c->loop = loop;
        c->fd = fd;
        c->id = loop->next_conn_id++;
        c->lst = l;
        c->frame_need = -1;
        c->last_active_ms = clk_mono_ms();
        buf_init(&c->in, 4096);
        snprintf(c->peer, sizeof c->peer, "%s:%d", host, port);
        snprintf(c->ip, sizeof c->ip, "%s", host);
        /* Kafka's connection quotas: beyond max.connections or
         * max.connections.per.ip a new connection is closed at once. */
        bool over = l->opts.max_conns > 0 &&
                    (int64_t)loop->n_conns >= l->opts.max_conns;
        if (!over && l->opts.max_conns_per_ip > 0) {
            int64_t same = 0;
            for (net_conn *o = loop->conns; o; o = o->next)
                same += !strcmp(o->ip, c->ip);
            over = same >= l->opts.max_conns_per_ip;
        }
        if (over) {
            SL_WARN("net",
                    "closing connection from %s: connection limit reached",
                    c->peer);
            loop->sys->close(loop->sys, fd);
            buf_free(&c->in);
            free(c);
            continue;
        }
        c->next = loop->conns;
        if (loop->conns)
            loop->conns->prev = c;
        loop->conns = c;
        loop->n_conns++;
        loop->sys->poll_add(loop->poller, fd, NET_READABLE,
                            tag_ptr(c, TAG_CONN));
        if (l->opts.idle_ms > 0 && !loop->idle_timer) {
            int64_t every = l->opts.idle_ms / 4;
            if (every < 10)
                every = 10;
            if (every > 1000)
                every = 1000;
            loop->idle_timer = net_timer_add(loop, every, idle_check, NULL);
        }
        SL_DEBUG("net", "accepted %s on listener %s (conn %llu)", c->peer,
                 l->ep.name, (unsigned long long)c->id);
    }
}

static void idle_check(net_loop *loop, void *ctx) {
    (void)ctx;
    loop->idle_timer = 0;
    int64_t now = clk_mono_ms();
    int64_t min_every = 1000;
    net_conn *c = loop->conns;
    while (c) {
        net_conn *next = c->next;
        int64_t idle = c->lst->opts.idle_ms;
        if (idle > 0) {
            if (idle / 4 < min_every)
                min_every = idle / 4 < 10 ? 10 : idle / 4;
            /* A connection waiting on a deferred response is not idle. */
            if (!c->slots_head && now - c->last_active_ms > idle) {
                SL_DEBUG("net", "closing idle connection %s", c->peer);
                conn_close_now(c);
            }
        }
        c = next;
    }
    if (loop->conns)
        loop->idle_timer = net_timer_add(loop, min_every, idle_check, NULL);
}

/* ---- connections
 * ------------------------------------------------------------------ */

int net_conn_listener(const net_conn *conn) {
    return conn->lst->opts.index;
}
void *net_conn_ctx(const net_conn *conn) {
    return conn->lst->opts.ctx;
}
net_loop *net_conn_loop(const net_conn *conn) {
    return conn->loop;
}
const char *net_conn_peer(const net_conn *conn) {
    return conn->peer;
}
uint64_t net_conn_id(const net_conn *conn) {
    return conn->id;
}

static void conn_close_now(net_conn *conn) {
    if (conn->dead)
        return;
    net_loop *loop = conn->loop;
    conn->dead = true;
    loop->sys->poll_del(loop->poller, conn->fd);
    loop->sys->close(loop->sys, conn->fd);
    /* Unfilled slots become orphans (their owner fills them later and they
     * are freed then); filled ones are freed now. */
    net_slot *s = conn->slots_head;
    while (s) {
        net_slot *n = s->next;
        if (s->filled) {
            net_chain_free(&s->chain);
            free(s);
        } else {
            s->conn = NULL;
            s->next = NULL;
        }
        s = n;
    }
    conn->slots_head = conn->slots_tail = NULL;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        loop->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    loop->n_conns--;
    buf_free(&conn->in);
    /* Freed later (free_graveyard), so every caller up the stack may still
     * look at conn->dead. */
    conn->next = loop->graveyard;
    loop->graveyard = conn;
}

net_watch *net_watch_add(net_loop *loop, int fd, uint32_t mask, net_watch_fn fn,
                         void *ctx) {
    net_watch *w = xcalloc(1, sizeof *w);
    w->loop = loop;
    w->fd = fd;
    w->fn = fn;
    w->ctx = ctx;
    if (loop->sys->poll_add(loop->poller, fd, mask, tag_ptr(w, TAG_WATCH)) <
        0) {
        free(w);
        return NULL;
    }
    return w;
}

void net_watch_set(net_watch *w, uint32_t mask) {
    w->loop->sys->poll_mod(w->loop->poller, w->fd, mask, tag_ptr(w, TAG_WATCH));
}

void net_watch_del(net_watch *w) {
    if (!w || w->dead)
        return;
    w->dead = true;
    w->loop->sys->poll_del(w->loop->poller, w->fd);
    w->next_dead = w->loop->watch_grave;
    w->loop->watch_grave = w;
}

static void free_graveyard(net_loop *loop) {
    while (loop->watch_grave) {
        net_watch *w = loop->watch_grave;
        loop->watch_grave = w->next_dead;
        free(w);
    }
    while (loop->graveyard) {
        net_conn *c = loop->graveyard;
        loop->graveyard = c->next;
        free(c);
    }
}

void net_conn_close(net_conn *conn) {
    conn_close_now(conn);
}

void net_conn_close_after_write(net_conn *conn) {
    conn->closing = true;
    if (!conn->slots_head)
        conn_close_now(conn);
}

static void conn_update_events(net_conn *conn) {
    if (conn->dead)
        return;
    uint32_t events = 0;
    bool paused = conn->n_slots >= CONN_MAX_INFLIGHT ||
                  conn->out_mem >= CONN_MAX_OUT_MEM || conn->closing;
    conn->reading_paused = paused;
    if (!paused)
        events |= NET_READABLE;
    if (conn->want_write)
        events |= NET_WRITABLE;
    net_loop *loop = conn->loop;
    loop->sys->poll_mod(loop->poller, conn->fd, events,
                        tag_ptr(conn, TAG_CONN));
}

net_slot *net_conn_reserve(net_conn *conn) {
    net_slot *s = xcalloc(1, sizeof *s);
    s->conn = conn;
    net_chain_init(&s->chain);
    if (conn->slots_tail)
        conn->slots_tail->next = s;
    else
        conn->slots_head = s;
    conn->slots_tail = s;
    conn->n_slots++;
    return s;
}

bool net_slot_orphan(const net_slot *slot) {
    return slot->conn == NULL;
}

static size_t chain_mem_bytes(const net_chain *c) {
    size_t t = 0;
    for (const net_chunk *k = c->head; k; k = k->next)
        if (k->kind == NET_CHUNK_MEM)
            t += k->mem.len;
    return t;
}

void net_slot_fill(net_slot *slot, net_chain *chain, bool after_flush) {
    net_conn *conn = slot->conn;
    if (!conn) {
        net_chain_free(chain);
        net_chain_free(&slot->chain);
        free(slot);
        return;
    }
    slot->chain = *chain;
    net_chain_init(chain);
    slot->filled = true;
    slot->after_flush = after_flush;
    conn->out_mem += chain_mem_bytes(&slot->chain);
    if (after_flush)
        conn->loop->have_after_flush = true;
    else if (slot == conn->slots_head && !conn->in_dispatch)
        conn_try_write(conn);
}

/* Pops finished slots and writes as much as the socket takes. */
static void conn_try_write(net_conn *conn) {
    if (conn->dead)
        return;
    for (;;) {
        net_slot *s = conn->slots_head;
        if (!s || !s->filled || s->after_flush)
            break;
        net_chunk *k = s->chain.head;
        if (!k) {
            conn->slots_head = s->next;
            if (!conn->slots_head)
                conn->slots_tail = NULL;
            conn->n_slots--;
            free(s);
            continue;
        }
        if (k->kind == NET_CHUNK_MEM) {
            /* gather consecutive memory chunks (across slots too would be
             * nice; within a chain is enough). */
            struct iovec iov[16];
            int n = 0;
            for (net_chunk *m = k; m && m->kind == NET_CHUNK_MEM && n < 16;
                 m = m->next)
                iov[n++] = (struct iovec){m->mem.data, m->mem.len};
            ssize_t w =
                conn->loop->sys->writev(conn->loop->sys, conn->fd, iov, n);
            if (w < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    goto blocked;
                if (errno == EINTR)
                    continue;
                conn_close_now(conn);
                return;
            }
            conn->last_active_ms = clk_mono_ms();
            size_t left = (size_t)w;
            while (left && s->chain.head &&
                   s->chain.head->kind == NET_CHUNK_MEM) {
                net_chunk *m = s->chain.head;
                if (left >= m->mem.len) {
                    left -= m->mem.len;
                    conn->out_mem -= m->mem.len;
                    s->chain.head = m->next;
                    if (!s->chain.head)
                        s->chain.tail = NULL;
                    chunk_free(m);
                } else {
                    memmove(m->mem.data, m->mem.data + left, m->mem.len - left);
                    m->mem.len -= left;
                    conn->out_mem -= left;
                    left = 0;
                }
            }
            /* drop empty mem chunks */
            while (s->chain.head && s->chain.head->kind == NET_CHUNK_MEM &&
                   s->chain.head->mem.len == 0) {
                net_chunk *m = s->chain.head;
                s->chain.head = m->next;
                if (!s->chain.head)
                    s->chain.tail = NULL;
                chunk_free(m);
            }
        } else {
            off_t off = k->off;
            size_t want = k->len > (1u << 30) ? (1u << 30) : k->len;
            ssize_t w = conn->loop->sys->sendfile(conn->loop->sys, conn->fd,
                                                  k->fs, k->fd, &off, want);
            if (w < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    goto blocked;
                if (errno == EINTR)
                    continue;
                SL_WARN("net", "sendfile to %s: %s", conn->peer,
                        strerror(errno));
                conn_close_now(conn);
                return;
            }
            if (w == 0) {
                /* File shorter than promised (truncated under us): the
                 * response cannot be completed; the client must reconnect. */
                SL_WARN("net", "sendfile to %s: file range ended early",
                        conn->peer);
                conn_close_now(conn);
                return;
            }
            conn->last_active_ms = clk_mono_ms();
            k->off = off;
            k->len -= (size_t)w;
            if (k->len == 0) {
                s->chain.head = k->next;
                if (!s->chain.head)
                    s->chain.tail = NULL;
                chunk_free(k);
            }
        }
    }
    /* everything writable written */
    if (conn->want_write) {
        conn->want_write = false;
        conn_update_events(conn);
    } else if (conn->reading_paused) {
        conn_update_events(conn);
    }
    if (conn->closing && !conn->slots_head) {
        conn_close_now(conn);
        return;
    }
    /* Reading may have been paused with a full frame already buffered. */
    if (!conn->reading_paused && conn->in.len && !conn->in_dispatch &&
        !conn->in_parse) {
        if (conn_parse(conn) && conn->slots_head && conn->slots_head->filled &&
            !conn->slots_head->after_flush)
            conn_try_write(conn);
    }
    return;
blocked:
    if (!conn->want_write) {
        conn->want_write = true;
        conn_update_events(conn);
    }
}

/* Parses as many complete frames as are buffered and dispatches them.
 * Returns false if the connection was closed. */
static bool conn_parse(net_conn *conn) {
    if (conn->in_parse)
        return !conn->dead;
    conn->in_parse = true;
    size_t pos = 0;
    bool ok = true;
    while (!conn->dead) {
        if (conn->n_slots >= CONN_MAX_INFLIGHT ||
            conn->out_mem >= CONN_MAX_OUT_MEM || conn->closing)
            break;
        size_t avail = conn->in.len - pos;
        if (conn->frame_need < 0) {
            if (avail < 4)
                break;
            int32_t size = (int32_t)sl_load_be32(conn->in.data + pos);
            if (size < 0 || (int64_t)size > conn->lst->opts.max_request_bytes) {
                SL_WARN("net",
                        "Unexpected error from %s (conn %llu); closing "
                        "connection: Invalid receive (size = %d larger than "
                        "%lld)",
                        conn->peer, (unsigned long long)conn->id, size,
                        (long long)conn->lst->opts.max_request_bytes);
                conn_close_now(conn);
                ok = false;
                break;
            }
            conn->frame_need = size;
            pos += 4;
            continue;
        }
        if (avail < (size_t)conn->frame_need)
            break;
        const uint8_t *frame = conn->in.data + pos;
        size_t len = (size_t)conn->frame_need;
        pos += len;
        conn->frame_need = -1;
        conn->in_dispatch = true;
        bool keep = conn->lst->opts.on_frame(conn, frame, len);
        conn->in_dispatch = false;
        if (conn->dead) {
            ok = false;
            break;
        }
        if (!keep) {
            conn_close_now(conn);
            ok = false;
            break;
        }
    }
    conn->in_parse = false;
    if (conn->dead)
        return false;
    if (pos) {
        memmove(conn->in.data, conn->in.data + pos, conn->in.len - pos);
        conn->in.len -= pos;
    }
    (void)ok;
    return true;
}

static void conn_read(net_conn *conn) {
    for (int rounds = 0; rounds < 16; rounds++) {
        if (conn->dead)
            return;
        if (conn->n_slots >= CONN_MAX_INFLIGHT ||
            conn->out_mem >= CONN_MAX_OUT_MEM || conn->closing) {
            if (!conn->reading_paused)
                conn_update_events(conn);
            break;
        }
        /* Bound what we buffer: the current frame (its size was checked)
         * grows as its bytes arrive, at most READ_MAX per read, so a peer
         * that announces a large frame and sends nothing costs nothing. */
        size_t want = READ_CHUNK;
        if (conn->frame_need >= 0) {
            size_t have = conn->in.len;
            size_t need = (size_t)conn->frame_need;
            if (need > have && need - have > want)
                want = SL_MIN(need - have, (size_t)READ_MAX);
        }
        buf_reserve(&conn->in, want);
        ssize_t r = conn->loop->sys->read(conn->loop->sys, conn->fd,
                                          conn->in.data + conn->in.len, want);
        if (r == 0) {
            /* Peer closed its side. Kafka closes the channel. */
            conn_close_now(conn);
            return;
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            conn_close_now(conn);
            return;
        }
        conn->in.len += (size_t)r;
        conn->last_active_ms = clk_mono_ms();
        if (!conn_parse(conn))
            return;
        if ((size_t)r < want)
            break;
    }
    if (!conn->dead && conn->slots_head)
        conn_try_write(conn);
}

/* Entry from the poller / the write path: conn_read may close conn. */
