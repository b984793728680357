/*
 * sys_posix.c - the production transport of the loop (net.h net_sys):
 * epoll with an eventfd for wake-ups, TCP sockets, sendfile.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/util.h"
#include "core/fs.h"
#include "net/net.h"

typedef struct px_poller {
    int epfd, evfd;
} px_poller;

/* The eventfd's registration: no handle's data can be this (net.c tags
 * pointers in their low bits, and never registers all ones). */
#define WAKE_DATA UINT64_MAX

static uint32_t to_epoll(uint32_t mask) {
    return (mask & NET_READABLE ? (uint32_t)(EPOLLIN | EPOLLRDHUP) : 0u) |
           (mask & NET_WRITABLE ? (uint32_t)EPOLLOUT : 0u) | EPOLLRDHUP;
}

static void *px_poller_new(const net_sys *sys) {
    (void)sys;
    px_poller *p = xcalloc(1, sizeof *p);
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    SL_ASSERT(p->epfd >= 0 && p->evfd >= 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_DATA};
    epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->evfd, &ev);
    return p;
}

static void px_poller_free(void *pp) {
    px_poller *p = pp;
    close(p->epfd);
    close(p->evfd);
    free(p);
}

static int px_ctl(void *pp, int op, int h, uint32_t mask, uint64_t data) {
    px_poller *p = pp;
    struct epoll_event ev = {.events = to_epoll(mask), .data.u64 = data};
    return epoll_ctl(p->epfd, op, h, &ev);
}
static int px_poll_add(void *pp, int h, uint32_t mask, uint64_t data) {
    return px_ctl(pp, EPOLL_CTL_ADD, h, mask, data);
}
static int px_poll_mod(void *pp, int h, uint32_t mask, uint64_t data) {
    return px_ctl(pp, EPOLL_CTL_MOD, h, mask, data);
}
static int px_poll_del(void *pp, int h) {
    px_poller *p = pp;
    return epoll_ctl(p->epfd, EPOLL_CTL_DEL, h, NULL);
}

static int px_poll_wait(void *pp, net_sys_event *evs, int max, int timeout_ms) {
    px_poller *p = pp;
    struct epoll_event e[256];
    if (max > 256)
        max = 256;
    int n = epoll_wait(p->epfd, e, max, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (e[i].data.u64 == WAKE_DATA) {
            uint64_t v;
            ssize_t r = read(p->evfd, &v, sizeof v);
            (void)r;
            continue;
        }
        uint32_t ev = 0;
        if (e[i].events & EPOLLIN)
            ev |= NET_READABLE;
        if (e[i].events & EPOLLOUT)
            ev |= NET_WRITABLE;
        if (e[i].events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP))
            ev |= NET_HANGUP;
        evs[k].events = ev;
        evs[k].data = e[i].data.u64;
        k++;
    }
    return k;
}

/* Async-signal-safe: one write(2). */
static void px_poll_wake(void *pp) {
    px_poller *p = pp;
    uint64_t one = 1;
    ssize_t r = write(p->evfd, &one, sizeof one);
    (void)r;
}

static int px_listen(const net_sys *sys, const char *host_in, int port,
                     int rcvbuf, int *bound_port, char *err, size_t errlen) {
    (void)sys;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    const char *host = host_in && host_in[0] ? host_in : NULL;
    int fd = -1;
    char last_err[128] = "";
    /* No host: all interfaces, dual-stack IPv6 first, then IPv4 (hosts
     * without IPv6). */
    for (int attempt = 0; attempt < 2 && fd < 0; attempt++) {
        if (host && attempt == 1)
            break;
        hints.ai_family = host ? AF_UNSPEC : attempt == 0 ? AF_INET6 : AF_INET;
        int rc = getaddrinfo(host, portstr, &hints, &res);
        if (rc != 0) {
            snprintf(last_err, sizeof last_err, "cannot resolve host: %s",
                     gai_strerror(rc));
            res = NULL;
            continue;
        }
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
            fd = socket(ai->ai_family,
                        ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                snprintf(last_err, sizeof last_err, "%s", strerror(errno));
                continue;
            }
            int one = 1, zero = 0;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (ai->ai_family == AF_INET6)
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
            /* Before listen, as Kafka's acceptor does: the window scale is
             * agreed in the handshake from this size. */
            if (rcvbuf > 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
            if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
                listen(fd, 511) == 0)
                break;
            snprintf(last_err, sizeof last_err, "%s", strerror(errno));
            close(fd);
            fd = -1;
        }
        freeaddrinfo(res);
        res = NULL;
    }
    if (fd < 0) {
        snprintf(err, errlen, "%s", last_err);
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *bound_port =
        ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static int px_accept(const net_sys *sys, int lh, char *host, size_t hostlen,
                     int *port, int sndbuf) {
    (void)sys;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd =
        accept4(lh, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (sndbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    snprintf(host, hostlen, "?");
    *port = 0;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, (socklen_t)hostlen);
        *port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, (socklen_t)hostlen);
        *port = ntohs(a->sin6_port);
        if (!strncmp(host, "::ffff:", 7))
            memmove(host, host + 7, strlen(host + 7) + 1);
    }
    return fd;
}

static int px_connect(const net_sys *sys, const char *host, int port, char *err,
                      size_t errlen) {
    (void)sys;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int gr = getaddrinfo(host, ps, &hints, &ai);
    if (gr != 0 || !ai) {
        snprintf(err, errlen, "cannot resolve %s: %s", host,
                 gr ? gai_strerror(gr) : "no address");
        return -1;
    }
    /* First address only: a non-blocking connect cannot fall through the
     * list in one call; the caller's reconnect backoff retries. */
    int fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc < 0 && errno != EINPROGRESS) {
        snprintf(err, errlen, "connection to %s:%d failed: %s", host, port,
                 strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int px_connect_result(const net_sys *sys, int h) {
    (void)sys;
    int e = 0;
    socklen_t l = sizeof e;
    if (getsockopt(h, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
        return errno;
    return e;
}

static ssize_t px_read(const net_sys *sys, int h, void *p, size_t n) {
    (void)sys;
    ssize_t k;
    do
        k = recv(h, p, n, 0);
    while (k < 0 && errno == EINTR);
    return k;
}

static ssize_t px_writev(const net_sys *sys, int h, const struct iovec *iov,
                         int n) {
    (void)sys;
    struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
    ssize_t k;
    do
        k = sendmsg(h, &m, MSG_NOSIGNAL);
    while (k < 0 && errno == EINTR);
    return k;
}

static ssize_t px_sendfile(const net_sys *sys, int h, const log_io *fs, int fd,
                           off_t *off, size_t n) {
    if (!fs)
        return sendfile(h, fd, off, n);
    /* A file of a file system of its own (crashfs; log_io_posix named
     * explicitly also lands here, correct if slower): through memory. */
    uint8_t b[65536];
    if (n > sizeof b)
        n = sizeof b;
    ssize_t r = fs->pread(fs->ctx, fd, b, n, *off);
    if (r <= 0)
        return r;
    struct iovec iov = {b, (size_t)r};
    ssize_t w = px_writev(sys, h, &iov, 1);
    if (w > 0)
        *off += w;
    return w;
}

static int px_close(const net_sys *sys, int h) {
    (void)sys;
    return close(h);
}

const net_sys net_sys_posix = {
    .poller_new = px_poller_new,
    .poller_free = px_poller_free,
    .poll_add = px_poll_add,
    .poll_mod = px_poll_mod,
    .poll_del = px_poll_del,
    .poll_wait = px_poll_wait,
    .poll_wake = px_poll_wake,
    .listen = px_listen,
    .accept = px_accept,
    .connect = px_connect,
    .connect_result = px_connect_result,
    .read = px_read,
    .writev = px_writev,
    .sendfile = px_sendfile,
    .close = px_close,
};
