/*
 * net.h - event loop (over a transport: epoll on sockets, or a simulated
 * network), timers, before-sleep hooks, listeners and
 * connections speaking Kafka framing, and response chains (memory chunks and
 * file ranges sent with sendfile).
 *
 * Model (Redis ae + networking.c): one net_loop per thread; everything a loop
 * owns (its connections, timers, hooks, requests) is touched only by that
 * thread. Today the server runs one loop thread that does both network I/O and
 * request handling; num.network.threads / num.io.threads can later map onto
 * several loops, each with its own connections.
 *
 * Ownership: a loop owns its connections and timers. A response chain owns the
 * memory chunks and the (dup'ed) file descriptors it holds and releases them
 * once sent or when the connection dies.
 * Threading: net_loop_wake is the only function another thread may call.
 */
#ifndef SL_NET_H
#define SL_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"

typedef struct net_loop net_loop;
typedef struct net_conn net_conn;
typedef struct net_listener net_listener;
struct iovec;
struct log_io;

/* ---- transport -------------------------------------------------------------
 * Everything the loop asks of the operating system: a poller (readiness of
 * handles, a wake-up from other threads) and stream sockets (listen,
 * accept, connect, read, write, sendfile, close). net_sys_posix is epoll on
 * sockets (handles are fds); tests/sim/simnet.h is an in-memory network
 * with seeded delays, drops and partitions between node addresses, whose
 * poller never blocks (simulated time moves only when the simulator moves
 * it). A loop takes the transport of the environment current when it is
 * made (core/env.h; none: posix), and so does every listener, server
 * connection and net/client.c stream on it: one seam for both directions.
 *
 * Each call returns what the POSIX call does (-1 with errno: EAGAIN when
 * nothing can move). Readiness is level-triggered. Handles are the
 * transport's own numbers.
 * Threading: poll_wake may be called from any thread (and, for posix, from
 * a signal handler); everything else on the loop's thread. */
#define NET_READABLE 1u
#define NET_WRITABLE 2u
#define NET_HANGUP 4u /* peer closed or connection error */

typedef struct net_sys_event {
    uint32_t events; /* NET_READABLE | NET_WRITABLE | NET_HANGUP */
    uint64_t data;   /* as registered */
} net_sys_event;

typedef struct net_sys {
    void *(*poller_new)(const struct net_sys *sys);
    void (*poller_free)(void *poller);
    /* Interest in a handle: mask of NET_READABLE | NET_WRITABLE (hang-ups
     * are always reported). add/mod/del return 0 or -1. */
    int (*poll_add)(void *poller, int h, uint32_t mask, uint64_t data);
    int (*poll_mod)(void *poller, int h, uint32_t mask, uint64_t data);
    int (*poll_del)(void *poller, int h);
    /* Waits up to timeout_ms (never, for a simulated network) for ready
     * handles; returns how many were written to evs (<= max), or -1. */
    int (*poll_wait)(void *poller, net_sys_event *evs, int max, int timeout_ms);
    void (*poll_wake)(void *poller);
    /* A listening socket on host ("" all interfaces):port (0 picks one,
     * written to *bound_port); rcvbuf > 0 sets SO_RCVBUF. -1 with a message
     * in err. */
    int (*listen)(const struct net_sys *sys, const char *host, int port,
                  int rcvbuf, int *bound_port, char *err, size_t errlen);
    /* A connection from a listener: its handle, the peer's address into
     * host (INET6_ADDRSTRLEN) and *port; sndbuf > 0 sets SO_SNDBUF. -1 with
     * EAGAIN when none waits. */
    int (*accept)(const struct net_sys *sys, int lh, char *host, size_t hostlen,
                  int *port, int sndbuf);
    /* Begins a non-blocking connect to host:port (the handle is reported
     * writable once it completed; connect_result says how). -1 with a
     * message in err. */
    int (*connect)(const struct net_sys *sys, const char *host, int port,
                   char *err, size_t errlen);
    int (*connect_result)(const struct net_sys *sys, int h); /* 0 or errno */
    ssize_t (*read)(const struct net_sys *sys, int h, void *p, size_t n);
    ssize_t (*writev)(const struct net_sys *sys, int h, const struct iovec *iov,
                      int n);
    /* Up to n bytes of file fd of fs (NULL: a kernel fd) from *off, which
     * advances. */
    ssize_t (*sendfile)(const struct net_sys *sys, int h,
                        const struct log_io *fs, int fd, off_t *off, size_t n);
    int (*close)(const struct net_sys *sys, int h);
    void *ctx;
} net_sys;

extern const net_sys net_sys_posix;

/* ---- loop ---------------------------------------------------------------- */

/* A loop on the transport of the current environment (core/env.h), which
 * the loop makes current while it runs: see env.h. */
net_loop *net_loop_new(void);
/* The loop's transport, for streams of its own (net/client.c). */
const net_sys *net_loop_sys(const net_loop *loop);
/* The loop's monotonic time: its env's clock (clk_mono_ns), also when
 * called from outside the loop (deadlines of a request sent by a test or a
 * simulator's workload). */
int64_t net_loop_now_ns(const net_loop *loop);
static inline int64_t net_loop_now_ms(const net_loop *loop) {
    return net_loop_now_ns(loop) / 1000000;
}
/* Nanoseconds (of the loop env's clock) until the earliest timer is due,
 * 0 if overdue, INT64_MAX if none: a simulator advances time by it. */
int64_t net_loop_timer_due_in_ns(const net_loop *loop);
void net_loop_free(net_loop *loop);
/* Runs until net_loop_stop; returns 0. */
int net_loop_run(net_loop *loop);
/* One iteration of the loop: before-sleep hooks, a wait of at most
 * timeout_ms (less when a timer is due), events, timers. For callers that
 * run the loop until their own condition holds (tests, blocking tools);
 * ignores net_loop_stop. */
void net_loop_poll(net_loop *loop, int timeout_ms);
/* Ask the loop to return from net_loop_run after the current iteration
 * (async-signal-safe through an eventfd). */
void net_loop_stop(net_loop *loop);
void net_loop_wake(net_loop *loop);
bool net_loop_stopping(const net_loop *loop);
/* After net_loop_run returned: keep running (timers, writes) until every
 * connection has written its queued responses and no slot is pending, or
 * timeout_ms passed. Returns true if fully drained. */
bool net_loop_drain(net_loop *loop, int64_t timeout_ms);
/* Stops accepting on every listener (shutdown). */
void net_loop_close_listeners(net_loop *loop);
/* Closes every connection (end of shutdown). */
void net_loop_close_all(net_loop *loop);

/* Timers: fn runs on the loop thread once, delay_ms from now (monotonic
 * clock). Returns an id > 0 usable with net_timer_cancel (cancelling a timer
 * that already ran is a no-op returning false). */
typedef void (*net_timer_fn)(net_loop *loop, void *ctx);
uint64_t net_timer_add(net_loop *loop, int64_t delay_ms, net_timer_fn fn,
                       void *ctx);
bool net_timer_cancel(net_loop *loop, uint64_t id);

/* Before-sleep hooks run, in registration order, every time the loop is
 * about to wait in epoll (Redis beforeSleep); the after-flush responses
 * (net_slot_fill) are released after all hooks have run, see below. */
typedef void (*net_hook_fn)(net_loop *loop, void *ctx);
void net_loop_add_before_sleep(net_loop *loop, net_hook_fn fn, void *ctx);
/* Removes the hook registered with exactly fn and ctx (no-op if none). */
void net_loop_remove_before_sleep(net_loop *loop, net_hook_fn fn, void *ctx);

/* Asynchronous flushes (fsync on another thread). A hook that hands work to
 * a flusher calls net_loop_flush_begun with an increasing ticket; when that
 * work is done (the flusher wakes the loop with net_loop_wake), a hook calls
 * net_loop_flush_done with it. Tickets complete in order. An after-flush
 * slot filled before the hooks of a pass is held until the last ticket begun
 * by the end of those hooks is done: at once if no flush is in flight. */
void net_loop_flush_begun(net_loop *loop, uint64_t ticket);
void net_loop_flush_done(net_loop *loop, uint64_t ticket);

/* File-descriptor watches: fn runs on the loop thread when fd is ready for
 * what mask asks (NET_READABLE / NET_WRITABLE; hang-ups and errors are
 * reported as NET_READABLE | NET_WRITABLE so either path sees them). For
 * outbound sockets (net/client.c) and anything else that is not a Kafka
 * server connection. The loop never closes or reads fd; the watch owner
 * does. net_watch_del may be called from fn itself: the watch is freed after
 * the current iteration. */
typedef struct net_watch net_watch;
typedef void (*net_watch_fn)(net_loop *loop, uint32_t events, void *ctx);
net_watch *net_watch_add(net_loop *loop, int fd, uint32_t mask, net_watch_fn fn,
                         void *ctx);
void net_watch_set(net_watch *w, uint32_t mask);
/* Stops watching (before the owner closes fd). */
void net_watch_del(net_watch *w);

/* ---- response chains ------------------------------------------------------
 */

typedef enum { NET_CHUNK_MEM, NET_CHUNK_FILE } net_chunk_kind;

typedef struct net_chunk {
    struct net_chunk *next;
    net_chunk_kind kind;
    buf mem;                 /* NET_CHUNK_MEM: bytes to send (owned) */
    int fd;                  /* NET_CHUNK_FILE: dup'ed fd, closed when sent */
    const struct log_io *fs; /* NET_CHUNK_FILE: fd's file system, the
                                current env's when added (NULL: kernel) */
    off_t off;               /* NET_CHUNK_FILE: next byte to send */
    size_t len;              /* NET_CHUNK_FILE: bytes left to send */
} net_chunk;

typedef struct net_chain {
    net_chunk *head, *tail;
} net_chain;

void net_chain_init(net_chain *c);
/* The memory chunk at the tail (a new one if the tail is a file range). */
buf *net_chain_mem(net_chain *c);
/* Appends a file range; the fd is dup'ed, so the caller keeps its own and a
 * segment deleted meanwhile stays readable. Returns false if dup fails. */
bool net_chain_file(net_chain *c, int fd, off_t off, size_t len);
/* As net_chain_file, but takes fd over (closed once sent or freed) instead
 * of dup'ing it: for an fd dup'ed already (log_read). */
void net_chain_file_take(net_chain *c, int fd, off_t off, size_t len);
void net_chain_free(net_chain *c);
/* Bytes in all chunks (memory + file ranges). */
size_t net_chain_total(const net_chain *c);
/* Moves every chunk of src to the end of dst (src is left empty). */
void net_chain_append(net_chain *dst, net_chain *src);

/* ---- listeners ------------------------------------------------------------
 */

/* A parsed listener: NAME://host:port. host "" binds all interfaces. */
typedef struct net_endpoint {
    char name[64];  /* listener name, upper case (PLAINTEXT, INTERNAL) */
    char host[256]; /* "" = all interfaces */
    int port;
    char protocol[32]; /* security protocol from listener.security.protocol.map
                        */
} net_endpoint;

/* Parses a comma-separated listener list ("PLAINTEXT://:9092,X://h:1").
 * Returns the number parsed (<= max) or -1 with a message in err. */
int net_parse_listeners(const char *s, net_endpoint *out, int max, char *err,
                        size_t errlen);

/* ---- connections -----------------------------------------------------------
 */

/* Called with each complete request frame (without its size prefix). The
 * frame memory (the connection's input buffer) is valid during the call only;
 * the callback may modify it in place. Return false to close the
 * connection. */
typedef bool (*net_frame_fn)(net_conn *conn, const uint8_t *frame, size_t len);

typedef struct net_listen_opts {
    const net_endpoint *ep;
    int index; /* listener index, given back by net_conn_listener */
    int64_t max_request_bytes; /* socket.request.max.bytes */
    int64_t idle_ms;           /* connections.max.idle.ms (<= 0: never) */
    int64_t max_conns;         /* max.connections (whole loop; <= 0: no cap) */
    int64_t max_conns_per_ip;  /* max.connections.per.ip (<= 0: no cap) */
    int send_buffer_bytes;     /* socket.send.buffer.bytes: SO_SNDBUF of each
                                  accepted socket (<= 0: the OS's, autotuned) */
    int recv_buffer_bytes;     /* socket.receive.buffer.bytes: SO_RCVBUF of
                                  the listening socket, inherited by accepted
                                  ones (<= 0: the OS's) */
    net_frame_fn on_frame;
    void *ctx; /* returned by net_conn_ctx */
} net_listen_opts;

/* Binds and listens; port 0 picks a free port (see net_listener_port).
 * Returns NULL with a message in err. */
net_listener *net_listen(net_loop *loop, const net_listen_opts *opts, char *err,
                         size_t errlen);
int net_listener_port(const net_listener *l);
/* Stops accepting (shutdown); existing connections stay. */
void net_listener_close(net_listener *l);

int net_conn_listener(const net_conn *conn);
void *net_conn_ctx(const net_conn *conn);
net_loop *net_conn_loop(const net_conn *conn);
const char *net_conn_peer(const net_conn *conn); /* "1.2.3.4:5678" */
uint64_t net_conn_id(const net_conn *conn);

/* Response slots keep pipelined responses in request order: a slot is
 * reserved when a request is read, filled later (maybe from a timer), and
 * responses leave in slot order. */
typedef struct net_slot net_slot;
net_slot *net_conn_reserve(net_conn *conn);
/* Fills the slot with chain (taken over; *chain is reset). Nothing is sent
 * for an empty chain (acks=0). If the connection has died meanwhile the chain
 * is freed. after_flush: hold it until the flushes begun by the
 * before-sleep hooks of this pass are done (net_loop_flush_begun). */
void net_slot_fill(net_slot *slot, net_chain *chain, bool after_flush);
/* True if the connection of this slot is closed (result will be dropped). */
bool net_slot_orphan(const net_slot *slot);

/* Close after the queued responses are written. */
void net_conn_close_after_write(net_conn *conn);
void net_conn_close(net_conn *conn);
/* Hold/resume reading (back-pressure while too many responses are queued). */
size_t net_loop_conn_count(const net_loop *loop);

#endif
