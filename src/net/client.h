/*
 * client.h - a non-blocking Kafka client connection on the event loop
 * (net.h): one connection to one node, requests encoded and responses
 * decoded with the generated codecs (proto/gen/messages.h). Meant for
 * broker-to-broker traffic (Raft RPCs, replica fetchers, AlterPartition,
 * heartbeats, transaction markers, request forwarding).
 *
 * Model (Kafka's NetworkClient for one node): the client connects on its
 * own (non-blocking connect with a timeout), negotiates versions with
 * ApiVersions (per API: [max(our min, their min), min(our max, their max)]),
 * then reports itself ready. Requests may be sent only while ready
 * (net_client_ready); up to max_in_flight are on the wire at once, the rest
 * wait in order in a send queue. Responses are matched by correlation id.
 * A request that gets no response within request_timeout_ms closes the
 * connection (as Kafka does: the stream can no longer be trusted). After
 * any disconnect the client reconnects after an exponential backoff
 * (reconnect_backoff_ms doubling up to reconnect_backoff_max_ms).
 *
 * Completion: every request accepted by net_client_send completes exactly
 * once through its callback: with a decoded response, or with a network
 * error (timeout, disconnect, malformed response, client freed).
 *
 * Ownership: the caller owns the request struct only for the duration of
 * net_client_send (it is encoded at once). The response struct, every
 * string/array in it and the response bytes live in an arena owned by the
 * client that is valid only during the callback: copy what must outlive it.
 * The client owns its socket/transport stream; net_client_free completes
 * what is pending with NET_CLIENT_ERR_CLOSED.
 *
 * I/O goes through a small transport interface; the default,
 * net_client_loop_transport, opens streams on the loop's own transport
 * (net.h net_sys: sockets in production, tests/sim/simnet.h's in-memory
 * network under the simulator), the same seam the loop's listeners use.
 *
 * Threading: a client belongs to one loop and is used only on its thread.
 * Callbacks run on that thread; they may send further requests and may call
 * net_client_free on their own client (freed once the callback returns).
 * Layering: net depends on proto and core, never on broker/.
 */
#ifndef SL_NET_CLIENT_H
#define SL_NET_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/arena.h"
#include "net/net.h"

/* ---- transport ------------------------------------------------------------
 * A byte stream to host:port. open begins a non-blocking connect and calls
 * ready(owner, NET_READABLE/NET_WRITABLE) on the loop whenever the stream
 * may have progress for what was asked with want (connect completion is
 * reported as writable). */
typedef void (*net_stream_ready_fn)(void *owner, uint32_t events);

typedef struct net_transport {
    /* Returns a stream handle or NULL with a message in err. */
    void *(*open)(const struct net_transport *t, net_loop *loop,
                  const char *host, int port, net_stream_ready_fn ready,
                  void *owner, char *err, size_t errlen);
    /* After a writable report while connecting: 0 connected, else errno. */
    int (*connect_result)(void *s);
    /* Like read(2)/write(2): -1 with errno EAGAIN when nothing can move,
     * read 0 at end of stream. */
    ssize_t (*read)(void *s, void *p, size_t n);
    ssize_t (*write)(void *s, const void *p, size_t n);
    /* Which readiness reports to deliver (NET_READABLE | NET_WRITABLE). */
    void (*want)(void *s, uint32_t mask);
    void (*close)(void *s);
    void *ctx; /* the transport's own state */
} net_transport;

/* A stream on the loop's transport (net_loop_sys): with posix, plain TCP
 * through the loop's epoll (name resolution, getaddrinfo, blocks; numeric
 * addresses and names in /etc/hosts are immediate). */
extern const net_transport net_client_loop_transport;

/* ---- client ---------------------------------------------------------------
 */
typedef struct net_client net_client;

/* Results (negative; 0 is success). */
#define NET_CLIENT_OK 0
#define NET_CLIENT_ERR_DISCONNECTED (-1) /* connection lost / refused */
#define NET_CLIENT_ERR_TIMEOUT (-2)      /* no response in time */
#define NET_CLIENT_ERR_MALFORMED (-3)    /* response did not decode */
#define NET_CLIENT_ERR_CLOSED (-4)       /* net_client_free */
#define NET_CLIENT_ERR_NOT_READY (-5)    /* send: not connected (yet) */
#define NET_CLIENT_ERR_UNSUPPORTED                                             \
    (-6)                                /* send: no common version, or the     \
                                           request uses a field the version    \
                                           lacks */
#define NET_CLIENT_ERR_UNKNOWN_API (-7) /* send: key not in proto table */
const char *net_client_strerror(int err);

typedef struct net_client_result {
    int err; /* NET_CLIENT_OK or NET_CLIENT_ERR_* */
    int16_t api_key, api_version;
    int32_t correlation_id;
    /* err == OK: the decoded response (proto_<api>_response *), in arena */
    void *resp;
    arena *arena; /* valid during the callback only */
} net_client_result;

typedef void (*net_client_cb)(net_client *c, const net_client_result *res,
                              void *ctx);
/* up: ApiVersions done, requests may be sent. !up: connection lost (after
 * every in-flight request was completed) or a connect attempt failed. */
typedef void (*net_client_state_fn)(net_client *c, bool up, void *ctx);

typedef struct net_client_opts {
    const char *host; /* copied */
    int port;
    const char *client_id;            /* copied; NULL: "sluice" */
    int64_t connect_timeout_ms;       /* <= 0: 10000 */
    int64_t request_timeout_ms;       /* <= 0: 30000 */
    int64_t reconnect_backoff_ms;     /* <= 0: 50 */
    int64_t reconnect_backoff_max_ms; /* <= 0: 1000 */
    int max_in_flight;                /* <= 0: 5 */
    int64_t max_response_bytes;       /* <= 0: 100 MiB */
    const net_transport *transport;   /* NULL: the loop's */
    net_client_state_fn on_state;     /* optional */
    void *ctx;                        /* given to on_state */
} net_client_opts;

/* Creates the client and starts connecting at once. */
net_client *net_client_new(net_loop *loop, const net_client_opts *opts);
/* Completes everything pending with NET_CLIENT_ERR_CLOSED, closes. */
void net_client_free(net_client *c);

bool net_client_ready(const net_client *c);
/* Negotiated version range for an API; false if the peer lacks it (or the
 * client is not ready). */
bool net_client_versions(const net_client *c, int16_t api_key, int16_t *min,
                         int16_t *max);
/* Sends req (a proto_<api>_request *) at the highest common version, capped
 * at max_version when >= 0. Returns the correlation id (> 0) once accepted
 * (cb will then run exactly once, never from inside this call), or a
 * NET_CLIENT_ERR_* (cb is not called). */
int32_t net_client_send(net_client *c, int16_t api_key, int16_t max_version,
                        const void *req, net_client_cb cb, void *ctx);
/* Requests on the wire, and waiting behind the in-flight cap. */
int net_client_in_flight(const net_client *c);
int net_client_queued(const net_client *c);
/* Last connection error text ("" if none). */
const char *net_client_last_error(const net_client *c);

#endif
