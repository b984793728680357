/*
 * txn_markers.c - transaction markers for partitions led by other brokers
 * (a reduced form of Kafka's TransactionMarkerChannelManager): the
 * transaction coordinator writes the markers of the partitions this node
 * leads itself (txn_write_marker) and sends WriteTxnMarkers (27) for the
 * others to their leader, on the broker's inter.broker.listener.name
 * endpoint from its registration in the image.
 *
 * One non-blocking client per destination broker, made on first use and
 * kept (net/client.h reconnects with backoff; a broker that comes back on
 * another endpoint is not followed yet). A send to a client that is not
 * connected yet fails at once (the coordinator retries after a backoff, as
 * Kafka's channel manager requeues).
 *
 * Invariants: a txn_markers_send that returned 0 calls its done exactly
 * once (with the response, or with errors when the request failed or the
 * clients were closed at shutdown); one that returned an error never calls
 * it. Ownership: the clients belong to the node's txn_node and are closed by
 * txn_markers_close (the coordinator's shutdown hook). Threading: the
 * node's loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "net/client.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "txn/internal.h"

#define API_WRITE_TXN_MARKERS 27

struct txn_marker_client {
    int32_t id;
    char *host;
    int32_t port;
    net_client *c;
};

typedef struct send_ctx {
    txn_markers_done_fn done;
    void *ctx;
    int n;
    char **topics; /* copies, in the caller's order */
    int32_t *parts;
} send_ctx;

static void send_ctx_free(send_ctx *s) {
    for (int i = 0; i < s->n; i++)
        free(s->topics[i]);
    free(s->topics);
    free(s->parts);
    free(s);
}

static net_client *client_for(txn_node *tn, int32_t broker) {
    const char *host;
    int32_t port;
    if (!coord_broker_endpoint(
            tn->rt, broker, coord_inter_broker_listener(tn->rt), &host, &port))
        return NULL;
    struct txn_marker_client *mc = NULL;
    for (int i = 0; i < tn->n_mclients; i++)
        if (tn->mclients[i].id == broker)
            mc = &tn->mclients[i];
    if (!mc) {
        tn->mclients = xrealloc(tn->mclients, (size_t)(tn->n_mclients + 1) *
                                                  sizeof *tn->mclients);
        mc = &tn->mclients[tn->n_mclients++];
        memset(mc, 0, sizeof *mc);
        mc->id = broker;
    }
    if (!mc->c) {
        char cid[64];
        snprintf(cid, sizeof cid, "broker-%d-txn-marker-sender",
                 tn->rt->node_id);
        net_client_opts o = {
            .host = host,
            .port = port,
            .client_id = cid,
            .connect_timeout_ms = 5000,
            .request_timeout_ms = 30000,
            .max_in_flight = 16,
        };
        mc->host = xstrdup(host);
        mc->port = port;
        mc->c = net_client_new(tn->rt->loop, &o);
    }
    return mc->c;
}

static void on_response(net_client *c, const net_client_result *res,
                        void *arg) {
    (void)c;
    send_ctx *s = arg;
    int16_t *errs = xcalloc((size_t)(s->n > 0 ? s->n : 1), sizeof *errs);
    for (int i = 0; i < s->n; i++)
        errs[i] = KERR_NETWORK_EXCEPTION; /* unless answered below */
    if (res->err == NET_CLIENT_OK) {
        const proto_write_txn_markers_response *r = res->resp;
        for (int32_t m = 0; m < r->markers.n; m++)
            for (int32_t t = 0; t < r->markers.v[m].topics.n; t++) {
                const proto_write_txn_markers_response_writable_txn_marker_topic_result
                    *tr = &r->markers.v[m].topics.v[t];
                for (int32_t p = 0; p < tr->partitions.n; p++)
                    for (int i = 0; i < s->n; i++)
                        if (s->parts[i] ==
                                tr->partitions.v[p].partition_index &&
                            tr->name.len == (int32_t)strlen(s->topics[i]) &&
                            !memcmp(tr->name.p, s->topics[i],
                                    (size_t)tr->name.len))
                            errs[i] = tr->partitions.v[p].error_code;
            }
    } else {
        SL_DEBUG("txn", "WriteTxnMarkers failed: %s",
                 net_client_strerror(res->err));
    }
    s->done(s->ctx, (const char *const *)s->topics, s->parts, errs, s->n);
    free(errs);
    send_ctx_free(s);
}

int16_t txn_markers_send(txn_node *tn, int32_t broker, int64_t producer_id,
                         int16_t epoch, bool commit, int32_t coordinator_epoch,
                         const char *const *topics, const int32_t *parts, int n,
                         txn_markers_done_fn done, void *ctx) {
    if (tn->coord_stopping || !tn->rt->loop || n <= 0)
        return KERR_NOT_COORDINATOR;
    net_client *c = client_for(tn, broker);
    if (!c)
        return KERR_BROKER_NOT_AVAILABLE;
    if (!net_client_ready(c))
        return KERR_NETWORK_EXCEPTION; /* connecting: retried */
    /* one marker, its partitions grouped by topic */
    proto_write_txn_markers_request rq;
    proto_write_txn_markers_request_init(&rq);
    proto_write_txn_markers_request_writable_txn_marker mk;
    proto_write_txn_markers_request_writable_txn_marker_init(&mk);
    mk.producer_id = producer_id;
    mk.producer_epoch = epoch;
    mk.transaction_result = commit;
    mk.coordinator_epoch = coordinator_epoch;
    proto_write_txn_markers_request_writable_txn_marker_topic *ts =
        xcalloc((size_t)n, sizeof *ts);
    int32_t *ids = xcalloc((size_t)n, sizeof *ids);
    bool *used = xcalloc((size_t)n, sizeof *used);
    int nt = 0, ni = 0;
    for (int i = 0; i < n; i++) {
        if (used[i])
            continue;
        proto_write_txn_markers_request_writable_txn_marker_topic *t =
            &ts[nt++];
        proto_write_txn_markers_request_writable_txn_marker_topic_init(t);
        t->name = proto_str_c(topics[i]);
        t->partition_indexes.v = ids + ni;
        for (int j = i; j < n; j++)
            if (!used[j] && !strcmp(topics[j], topics[i])) {
                used[j] = true;
                ids[ni++] = parts[j];
                t->partition_indexes.n++;
            }
    }
    mk.topics.n = nt;
    mk.topics.v = ts;
    rq.markers.n = 1;
    rq.markers.v = &mk;
    send_ctx *s = xcalloc(1, sizeof *s);
    s->done = done;
    s->ctx = ctx;
    s->n = n;
    s->topics = xcalloc((size_t)n, sizeof *s->topics);
    s->parts = xcalloc((size_t)n, sizeof *s->parts);
    for (int i = 0; i < n; i++) {
        s->topics[i] = xstrdup(topics[i]);
        s->parts[i] = parts[i];
    }
    int32_t corr =
        net_client_send(c, API_WRITE_TXN_MARKERS, -1, &rq, on_response, s);
    free(ts);
    free(ids);
    free(used);
    if (corr <= 0) {
        send_ctx_free(s);
        return KERR_NETWORK_EXCEPTION;
    }
    return KERR_NONE;
}

void txn_markers_close(txn_node *tn) {
    for (int i = 0; i < tn->n_mclients; i++) {
        if (tn->mclients[i].c)
            net_client_free(tn->mclients[i].c); /* pending: done(errors) */
        free(tn->mclients[i].host);
    }
    free(tn->mclients);
    tn->mclients = NULL;
    tn->n_mclients = 0;
}
