/*
 * simnet.c - the simulated network (simnet.h).
 */
#include "simnet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "core/clock.h"
#include "core/fs.h"
#include "core/util.h"

#define SEND_CAP (1u << 20) /* bytes in flight + unread, per direction */
#define NEVER INT64_MAX

typedef struct segment {
    struct segment *next;
    int64_t at; /* delivery time */
    size_t len, off;
    uint8_t data[];
} segment;

typedef struct pending_conn {
    struct pending_conn *next;
    int h; /* the server-side socket, accepted once at <= now */
    int64_t at;
} pending_conn;

typedef struct sim_host sim_host;

typedef enum { SK_LISTEN, SK_CONN } sk_kind;
typedef enum { CS_CONNECTING, CS_OPEN, CS_REFUSED } conn_state;

typedef struct sock {
    sk_kind kind;
    sim_host *host;
    int port;
    /* listener */
    pending_conn *acc_head, *acc_tail;
    /* connection */
    conn_state st;
    int peer;            /* handle of the other end, -1 once it is gone */
    sim_host *peer_host; /* the other end's host (kept after it is gone) */
    int peer_port;
    int64_t ready_at; /* connecting: connect done (or refused) */
    segment *rx_head, *rx_tail;
    int64_t last_at;  /* last delivery time into rx (ordering) */
    int64_t fin_at;   /* peer's FIN delivered at (NEVER: none) */
    int64_t reset_at; /* connection reset seen at (NEVER: none) */
    size_t in_flight; /* bytes sent to the peer not yet read there */
    bool dead;        /* host crashed: every call fails */
} sock;

struct sim_host {
    net_sys sys; /* first: the net_sys pointer is the host */
    simnet *net;
    char name[64];
    int next_port;
};

typedef struct reg {
    int h;
    uint32_t mask;
    uint64_t data;
} reg;

typedef struct poller {
    simnet *net;
    sim_host *host;
    reg *v;
    int n, cap;
} poller;

struct simnet {
    const int64_t *now;
    rng r;
    int64_t dmin, dmax;
    uint32_t drop_ppm;
    sim_host **hosts;
    int n_hosts;
    sock **socks; /* by handle - SIMNET_HANDLE_BASE; NULL once closed */
    int n_socks, cap_socks;
    char (*cuts)[2][64];
    int n_cuts;
    simnet_stats st;
};

static int64_t now(const simnet *n) {
    return *n->now;
}

static sock *get(const simnet *n, int h) {
    int i = h - SIMNET_HANDLE_BASE;
    if (i < 0 || i >= n->n_socks)
        return NULL;
    return n->socks[i];
}

static int add_sock(simnet *n, sock *s) {
    if (n->n_socks == n->cap_socks) {
        n->cap_socks = n->cap_socks ? 2 * n->cap_socks : 64;
        n->socks = xrealloc(n->socks, (size_t)n->cap_socks * sizeof *n->socks);
    }
    n->socks[n->n_socks] = s;
    n->st.open_socks++;
    return SIMNET_HANDLE_BASE + n->n_socks++;
}

static int64_t delay(simnet *n) {
    int64_t span = n->dmax - n->dmin;
    return n->dmin +
           (span > 0 ? (int64_t)rng_below(&n->r, (uint64_t)span + 1) : 0);
}

bool simnet_partitioned(const simnet *n, const char *a, const char *b) {
    for (int i = 0; i < n->n_cuts; i++)
        if ((!strcmp(n->cuts[i][0], a) && !strcmp(n->cuts[i][1], b)) ||
            (!strcmp(n->cuts[i][0], b) && !strcmp(n->cuts[i][1], a)))
            return true;
    return false;
}

static bool cut(const simnet *n, const sim_host *a, const sim_host *b) {
    return a != b && n->n_cuts && simnet_partitioned(n, a->name, b->name);
}

/* Something scheduled at `at` on socket s is visible now. */
static bool visible(const simnet *n, const sock *s, int64_t at) {
    if (at > now(n))
        return false;
    if (s->peer_host && cut(n, s->host, s->peer_host)) {
        ((simnet *)n)->st.held++;
        return false;
    }
    return true;
}

/* ---- hosts ----------------------------------------------------------------
 */
static const net_sys host_sys;

static sim_host *find_host(const simnet *n, const char *name) {
    for (int i = 0; i < n->n_hosts; i++)
        if (!strcmp(n->hosts[i]->name, name))
            return n->hosts[i];
    return NULL;
}

const net_sys *simnet_host(simnet *n, const char *name) {
    sim_host *h = find_host(n, name);
    if (!h) {
        h = xcalloc(1, sizeof *h);
        h->sys = host_sys;
        h->sys.ctx = h;
        h->net = n;
        snprintf(h->name, sizeof h->name, "%s", name);
        h->next_port = 40000;
        n->hosts =
            xrealloc(n->hosts, (size_t)(n->n_hosts + 1) * sizeof *n->hosts);
        n->hosts[n->n_hosts++] = h;
    }
    return &h->sys;
}

static sim_host *host_of(const net_sys *sys) {
    return sys->ctx;
}

/* ---- poller ---------------------------------------------------------------
 */
static void *sn_poller_new(const net_sys *sys) {
    poller *p = xcalloc(1, sizeof *p);
    p->host = host_of(sys);
    p->net = p->host->net;
    return p;
}

static void sn_poller_free(void *pp) {
    poller *p = pp;
    free(p->v);
    free(p);
}

static int sn_poll_add(void *pp, int h, uint32_t mask, uint64_t data) {
    poller *p = pp;
    if (!get(p->net, h)) {
        errno = EBADF;
        return -1;
    }
    for (int i = 0; i < p->n; i++)
        if (p->v[i].h == h) {
            errno = EEXIST;
            return -1;
        }
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 16;
        p->v = xrealloc(p->v, (size_t)p->cap * sizeof *p->v);
    }
    p->v[p->n++] = (reg){h, mask, data};
    return 0;
}

static int sn_poll_mod(void *pp, int h, uint32_t mask, uint64_t data) {
    poller *p = pp;
    for (int i = 0; i < p->n; i++)
        if (p->v[i].h == h) {
            p->v[i].mask = mask;
            p->v[i].data = data;
            return 0;
        }
    errno = ENOENT;
    return -1;
}

static int sn_poll_del(void *pp, int h) {
    poller *p = pp;
    for (int i = 0; i < p->n; i++)
        if (p->v[i].h == h) {
            memmove(&p->v[i], &p->v[i + 1],
                    (size_t)(p->n - i - 1) * sizeof *p->v);
            p->n--;
            return 0;
        }
    errno = ENOENT;
    return -1;
}

static bool rx_ready(const simnet *n, const sock *s) {
    return s->rx_head && visible(n, s, s->rx_head->at);
}

static uint32_t readiness(const simnet *n, const sock *s) {
    if (s->dead)
        return NET_READABLE | NET_WRITABLE | NET_HANGUP;
    if (s->kind == SK_LISTEN) {
        const pending_conn *pc = s->acc_head;
        return pc && visible(n, get(n, pc->h), pc->at) ? NET_READABLE : 0;
    }
    if (s->st == CS_CONNECTING || s->st == CS_REFUSED)
        return visible(n, s, s->ready_at) ? NET_WRITABLE : 0;
    uint32_t ev = 0;
    if (s->reset_at != NEVER && visible(n, s, s->reset_at))
        return NET_READABLE | NET_WRITABLE | NET_HANGUP;
    if (rx_ready(n, s))
        ev |= NET_READABLE;
    else if (s->fin_at != NEVER && visible(n, s, s->fin_at))
        ev |= NET_READABLE | NET_HANGUP;
    if (s->in_flight < SEND_CAP)
        ev |= NET_WRITABLE;
    return ev;
}

static int sn_poll_wait(void *pp, net_sys_event *evs, int max, int timeout_ms) {
    (void)timeout_ms; /* never blocks: the simulator moves time */
    poller *p = pp;
    int k = 0;
    for (int i = 0; i < p->n && k < max; i++) {
        sock *s = get(p->net, p->v[i].h);
        if (!s)
            continue;
        uint32_t ev = readiness(p->net, s);
        uint32_t want = p->v[i].mask | NET_HANGUP;
        if (ev & NET_HANGUP)
            want |= NET_READABLE | NET_WRITABLE;
        ev &= want;
        if (ev)
            evs[k++] = (net_sys_event){ev, p->v[i].data};
    }
    return k;
}

static void sn_poll_wake(void *pp) {
    (void)pp; /* the poller never sleeps */
}

/* ---- sockets --------------------------------------------------------------
 */
static bool local_name(const char *h) {
    return !h[0] || !strcmp(h, "localhost") || !strcmp(h, "127.0.0.1") ||
           !strcmp(h, "0.0.0.0") || !strcmp(h, "::");
}

static sock *find_listener(const simnet *n, const sim_host *h, int port) {
    for (int i = 0; i < n->n_socks; i++) {
        sock *s = n->socks[i];
        if (s && s->kind == SK_LISTEN && !s->dead && s->host == h &&
            s->port == port)
            return s;
    }
    return NULL;
}

static int sn_listen(const net_sys *sys, const char *host, int port, int rcvbuf,
                     int *bound_port, char *err, size_t errlen) {
    (void)rcvbuf;
    sim_host *h = host_of(sys);
    simnet *n = h->net;
    if (!local_name(host) && strcmp(host, h->name)) {
        snprintf(err, errlen,
                 "Cannot assign requested address (%s is not "
                 "simulated host %s)",
                 host, h->name);
        errno = EADDRNOTAVAIL;
        return -1;
    }
    if (port == 0)
        port = h->next_port++;
    if (find_listener(n, h, port)) {
        snprintf(err, errlen, "Address already in use");
        errno = EADDRINUSE;
        return -1;
    }
    sock *s = xcalloc(1, sizeof *s);
    s->kind = SK_LISTEN;
    s->host = h;
    s->port = port;
    *bound_port = port;
    return add_sock(n, s);
}

static sock *new_conn(sim_host *h, int port) {
    sock *s = xcalloc(1, sizeof *s);
    s->kind = SK_CONN;
    s->host = h;
    s->port = port;
    s->peer = -1;
    s->fin_at = s->reset_at = NEVER;
    return s;
}

static int sn_connect(const net_sys *sys, const char *host, int port, char *err,
                      size_t errlen) {
    (void)err;
    (void)errlen;
    sim_host *h = host_of(sys);
    simnet *n = h->net;
    sim_host *to = local_name(host) ? h : find_host(n, host);
    n->st.connects++;
    sock *c = new_conn(h, h->next_port++);
    c->st = CS_CONNECTING;
    int ch = add_sock(n, c);
    sock *l = to ? find_listener(n, to, port) : NULL;
    int64_t d1 = delay(n);
    if (!l) {
        /* RST after one way (an unknown host: no route, the same). */
        c->st = CS_REFUSED;
        c->peer_host = to;
        c->ready_at = now(n) + d1;
        n->st.refused++;
        return ch;
    }
    sock *sv = new_conn(to, port);
    sv->st = CS_OPEN;
    sv->peer = ch;
    sv->peer_host = h;
    sv->peer_port = c->port;
    int sh = add_sock(n, sv);
    c->peer = sh;
    c->peer_host = to;
    c->peer_port = port;
    c->ready_at = now(n) + d1 + delay(n);
    c->last_at = c->ready_at;
    sv->last_at = now(n) + d1;
    pending_conn *pc = xcalloc(1, sizeof *pc);
    pc->h = sh;
    pc->at = now(n) + d1;
    if (l->acc_tail)
        l->acc_tail->next = pc;
    else
        l->acc_head = pc;
    l->acc_tail = pc;
    return ch;
}

static int sn_accept(const net_sys *sys, int lh, char *host, size_t hostlen,
                     int *port, int sndbuf) {
    (void)sndbuf;
    simnet *n = host_of(sys)->net;
    sock *l = get(n, lh);
    if (!l || l->kind != SK_LISTEN) {
        errno = EBADF;
        return -1;
    }
    pending_conn *pc = l->acc_head;
    if (!pc || !visible(n, get(n, pc->h), pc->at)) {
        errno = EAGAIN;
        return -1;
    }
    l->acc_head = pc->next;
    if (!l->acc_head)
        l->acc_tail = NULL;
    int h = pc->h;
    free(pc);
    sock *s = get(n, h);
    snprintf(host, hostlen, "%s", s->peer_host->name);
    *port = s->peer_port;
    n->st.accepted++;
    return h;
}

static int sn_connect_result(const net_sys *sys, int h) {
    sock *s = get(host_of(sys)->net, h);
    if (!s || s->dead)
        return EBADF;
    if (s->st == CS_REFUSED)
        return ECONNREFUSED;
    if (s->st == CS_CONNECTING) {
        if (!visible(host_of(sys)->net, s, s->ready_at))
            return EINPROGRESS;
        s->st = CS_OPEN;
    }
    return 0;
}

/* Both ends see a reset one delay from now; what is in flight is lost. */
static void reset_pair(simnet *n, sock *s) {
    int64_t at = now(n) + delay(n);
    sock *p = s->peer >= 0 ? get(n, s->peer) : NULL;
    if (s->reset_at == NEVER)
        s->reset_at = at;
    if (p && p->reset_at == NEVER)
        p->reset_at = at;
}

static void drop_rx(sock *s) {
    while (s->rx_head) {
        segment *g = s->rx_head;
        s->rx_head = g->next;
        free(g);
    }
    s->rx_tail = NULL;
}

static ssize_t sn_read(const net_sys *sys, int h, void *buf, size_t len) {
    simnet *n = host_of(sys)->net;
    sock *s = get(n, h);
    if (!s || s->kind != SK_CONN || s->dead) {
        errno = EBADF;
        return -1;
    }
    if (s->reset_at != NEVER && visible(n, s, s->reset_at)) {
        drop_rx(s);
        errno = ECONNRESET;
        n->st.resets++;
        return -1;
    }
    size_t got = 0;
    uint8_t *out = buf;
    while (got < len && rx_ready(n, s)) {
        segment *g = s->rx_head;
        size_t k = SL_MIN(len - got, g->len - g->off);
        memcpy(out + got, g->data + g->off, k);
        got += k;
        g->off += k;
        if (g->off == g->len) {
            s->rx_head = g->next;
            if (!s->rx_head)
                s->rx_tail = NULL;
            free(g);
        }
    }
    if (got) {
        sock *p = s->peer >= 0 ? get(n, s->peer) : NULL;
        if (p)
            p->in_flight -= got;
        return (ssize_t)got;
    }
    if (!s->rx_head && s->fin_at != NEVER && visible(n, s, s->fin_at))
        return 0;
    errno = EAGAIN;
    return -1;
}

static ssize_t send_bytes(simnet *n, sock *s, const struct iovec *iov,
                          int iovcnt) {
    if (s->kind != SK_CONN || s->dead) {
        errno = EBADF;
        return -1;
    }
    if (s->st != CS_OPEN || s->reset_at != NEVER) {
        errno = s->st == CS_CONNECTING ? EAGAIN : EPIPE;
        return -1;
    }
    sock *p = s->peer >= 0 ? get(n, s->peer) : NULL;
    if (!p) {
        /* The peer closed: a write there is answered with RST. */
        reset_pair(n, s);
        errno = EPIPE;
        return -1;
    }
    size_t room = s->in_flight < SEND_CAP ? SEND_CAP - s->in_flight : 0;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    size_t take = SL_MIN(total, room);
    if (take == 0) {
        errno = EAGAIN;
        return -1;
    }
    if (n->drop_ppm && rng_below(&n->r, 1000000) < n->drop_ppm) {
        n->st.drops++;
        reset_pair(n, s);
        return (ssize_t)take; /* written, and lost with the connection */
    }
    segment *g = xmalloc(sizeof *g + take);
    g->next = NULL;
    g->len = take;
    g->off = 0;
    size_t at = 0;
    for (int i = 0; i < iovcnt && at < take; i++) {
        size_t k = SL_MIN(iov[i].iov_len, take - at);
        memcpy(g->data + at, iov[i].iov_base, k);
        at += k;
    }
    int64_t t = now(n) + delay(n);
    if (t < p->last_at)
        t = p->last_at;
    g->at = p->last_at = t;
    if (p->rx_tail)
        p->rx_tail->next = g;
    else
        p->rx_head = g;
    p->rx_tail = g;
    s->in_flight += take;
    n->st.segments++;
    n->st.bytes += (int64_t)take;
    return (ssize_t)take;
}

static ssize_t sn_writev(const net_sys *sys, int h, const struct iovec *iov,
                         int iovcnt) {
    simnet *n = host_of(sys)->net;
    sock *s = get(n, h);
    if (!s) {
        errno = EBADF;
        return -1;
    }
    return send_bytes(n, s, iov, iovcnt);
}

static ssize_t sn_sendfile(const net_sys *sys, int h, const log_io *fs, int fd,
                           off_t *off, size_t len) {
    if (!fs) {
        errno = EINVAL; /* a simulated node has a simulated disk */
        return -1;
    }
    uint8_t b[65536];
    if (len > sizeof b)
        len = sizeof b;
    ssize_t r = fs->pread(fs->ctx, fd, b, len, *off);
    if (r <= 0)
        return r;
    struct iovec iov = {b, (size_t)r};
    ssize_t w = sn_writev(sys, h, &iov, 1);
    if (w > 0)
        *off += w;
    return w;
}

static void free_sock(simnet *n, int h) {
    sock *s = get(n, h);
    drop_rx(s);
    while (s->acc_head) {
        pending_conn *pc = s->acc_head;
        s->acc_head = pc->next;
        free(pc);
    }
    n->socks[h - SIMNET_HANDLE_BASE] = NULL;
    n->st.open_socks--;
    free(s);
}

/* A listener going away: connections not accepted yet are reset. */
static void close_listener(simnet *n, sock *l) {
    while (l->acc_head) {
        pending_conn *pc = l->acc_head;
        l->acc_head = pc->next;
        sock *sv = get(n, pc->h);
        if (sv) {
            reset_pair(n, sv);
            sock *c = sv->peer >= 0 ? get(n, sv->peer) : NULL;
            if (c)
                c->peer = -1;
            free_sock(n, pc->h);
        }
        free(pc);
    }
    l->acc_tail = NULL;
}

static int sn_close(const net_sys *sys, int h) {
    simnet *n = host_of(sys)->net;
    sock *s = get(n, h);
    if (!s) {
        errno = EBADF;
        return -1;
    }
    if (s->kind == SK_LISTEN) {
        close_listener(n, s);
    } else {
        sock *p = s->peer >= 0 ? get(n, s->peer) : NULL;
        if (p) {
            if (s->rx_head || (s->reset_at != NEVER))
                /* unread data at close: RST, as TCP does */
                reset_pair(n, s);
            else if (p->fin_at == NEVER) {
                int64_t t = now(n) + delay(n);
                p->fin_at = t > p->last_at ? t : p->last_at;
            }
            p->peer = -1;
        }
    }
    free_sock(n, h);
    return 0;
}

static const net_sys host_sys = {
    .poller_new = sn_poller_new,
    .poller_free = sn_poller_free,
    .poll_add = sn_poll_add,
    .poll_mod = sn_poll_mod,
    .poll_del = sn_poll_del,
    .poll_wait = sn_poll_wait,
    .poll_wake = sn_poll_wake,
    .listen = sn_listen,
    .accept = sn_accept,
    .connect = sn_connect,
    .connect_result = sn_connect_result,
    .read = sn_read,
    .writev = sn_writev,
    .sendfile = sn_sendfile,
    .close = sn_close,
};

/* ---- the network ----------------------------------------------------------
 */
simnet *simnet_new(uint64_t seed, const int64_t *now_ns) {
    simnet *n = xcalloc(1, sizeof *n);
    n->now = now_ns;
    rng_seed(&n->r, seed);
    n->dmin = 100000;  /* 0.1 ms */
    n->dmax = 2000000; /* 2 ms */
    return n;
}

void simnet_free(simnet *n) {
    if (!n)
        return;
    for (int i = 0; i < n->n_socks; i++)
        if (n->socks[i])
            free_sock(n, SIMNET_HANDLE_BASE + i);
    free(n->socks);
    for (int i = 0; i < n->n_hosts; i++)
        free(n->hosts[i]);
    free(n->hosts);
    free(n->cuts);
    free(n);
}

void simnet_set_delay(simnet *n, int64_t min_ns, int64_t max_ns) {
    n->dmin = min_ns;
    n->dmax = max_ns < min_ns ? min_ns : max_ns;
}

void simnet_set_drop(simnet *n, uint32_t per_million) {
    n->drop_ppm = per_million;
}

void simnet_partition(simnet *n, const char *a, const char *b) {
    if (simnet_partitioned(n, a, b))
        return;
    n->cuts = xrealloc(n->cuts, (size_t)(n->n_cuts + 1) * sizeof *n->cuts);
    snprintf(n->cuts[n->n_cuts][0], 64, "%s", a);
    snprintf(n->cuts[n->n_cuts][1], 64, "%s", b);
    n->n_cuts++;
}

void simnet_heal(simnet *n, const char *a, const char *b) {
    for (int i = 0; i < n->n_cuts; i++)
        if ((!strcmp(n->cuts[i][0], a) && !strcmp(n->cuts[i][1], b)) ||
            (!strcmp(n->cuts[i][0], b) && !strcmp(n->cuts[i][1], a))) {
            memmove(&n->cuts[i], &n->cuts[i + 1],
                    (size_t)(n->n_cuts - i - 1) * sizeof *n->cuts);
            n->n_cuts--;
            return;
        }
}

void simnet_heal_all(simnet *n) {
    n->n_cuts = 0;
}

void simnet_host_crash(simnet *n, const char *name) {
    sim_host *h = find_host(n, name);
    if (!h)
        return;
    for (int i = 0; i < n->n_socks; i++) {
        sock *s = n->socks[i];
        if (!s || s->host != h || s->dead)
            continue;
        if (s->kind == SK_LISTEN) {
            close_listener(n, s);
        } else {
            sock *p = s->peer >= 0 ? get(n, s->peer) : NULL;
            if (p) {
                if (p->reset_at == NEVER)
                    p->reset_at = now(n) + delay(n);
                p->peer = -1;
            }
            drop_rx(s);
        }
        s->dead = true;
    }
}

int64_t simnet_next_event_ns(const simnet *n) {
    int64_t t = NEVER, cur = now(n);
#define CONSIDER(s, at)                                                        \
    do {                                                                       \
        int64_t _a = (at);                                                     \
        if (_a > cur && _a < t &&                                              \
            !((s)->peer_host && cut(n, (s)->host, (s)->peer_host)))            \
            t = _a;                                                            \
    } while (0)
    for (int i = 0; i < n->n_socks; i++) {
        const sock *s = n->socks[i];
        if (!s || s->dead)
            continue;
        if (s->kind == SK_LISTEN) {
            for (const pending_conn *pc = s->acc_head; pc; pc = pc->next) {
                const sock *sv = get(n, pc->h);
                if (sv)
                    CONSIDER(sv, pc->at);
            }
            continue;
        }
        if (s->st != CS_OPEN)
            CONSIDER(s, s->ready_at);
        for (const segment *g = s->rx_head; g; g = g->next)
            if (g->at > cur) {
                CONSIDER(s, g->at);
                break;
            }
        if (s->fin_at != NEVER)
            CONSIDER(s, s->fin_at);
        if (s->reset_at != NEVER)
            CONSIDER(s, s->reset_at);
    }
#undef CONSIDER
    return t;
}

void simnet_get_stats(const simnet *n, simnet_stats *out) {
    *out = n->st;
}
