/*
 * fetcher.c - the replica fetchers (see fetcher.h): Kafka's
 * ReplicaFetcherManager, AbstractFetcherThread and ReplicaFetcherThread on
 * the node's loop.
 *
 * One fetch round of a fetcher (Kafka's AbstractFetcherThread.doWork): a
 * sessionless Fetch (a FULL request every time) with, per partition, the
 * fetch offset = the local LEO, the last fetched epoch = the latest epoch
 * of the local epoch cache, the current leader epoch and
 * replica.fetch.max.bytes; replica.fetch.wait.max.ms / min.bytes /
 * response.max.bytes for the whole request. The response, per partition
 * (processFetchRequest):
 *   - records: whole batches appended as the leader wrote them
 *     (REPL_ORIGIN_REPLICATION: offsets and epochs kept, so the epoch cache
 *     matches the leader's), a cut last batch dropped; then the follower
 *     HW = min(leader HW, own LEO) and the log start follows the leader's;
 *   - DivergingEpoch (KIP-320): truncate as getOffsetTruncationState does
 *     (to the end of the largest common epoch, capped by the leader's end
 *     offset for it);
 *   - OFFSET_OUT_OF_RANGE: a log longer than the leader's HW... is cut to
 *     it (no epoch to compare: the unclean case), a log that ends below the
 *     leader's log start is emptied and starts there (truncateFullyAndStartAt);
 *   - any other error: the partition waits replica.fetch.backoff.ms.
 * A network error backs the whole fetcher off; a corrupt response (a batch
 * that fails validation, an undecodable or oversized response, which the
 * client already treats as a broken stream) drops the connection and the
 * next round reconnects: memory per fetcher stays one response (the client
 * caps it at replica.fetch.response.max.bytes plus headroom).
 *
 * Invariants (asserted where written):
 *   F1. A partition is in at most one fetcher, the one of its leader and
 *       fetcher index, and only while the replica manager has it as a
 *       follower of that leader (rf_partition_changed keeps this).
 *   F2. A fetcher appends only to a partition still a follower at the
 *       epoch its request was built with, whose LEO is still the offset it
 *       asked from (Kafka checks the fetch offset too), and only a chunk
 *       whose first batch starts at or after that LEO (a batch across an
 *       empty log's start restarts the log at the batch): nothing lands
 *       twice or out of place.
 *   F3. At most one Fetch per fetcher is in flight.
 *   F4. A follower's HW never exceeds its LEO nor the leader's HW it was
 *       given (repl_follower_set_hw).
 * Threading: loop thread only.
 */
#include "replica/fetcher.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "log/batch.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "proto/proto.h"
#include "replica/internal.h"
#include "replica/quota.h"

#define MOD "replica"
#define FETCH_V_MAX 17 /* the newest Fetch version our codecs have */

typedef struct rf_part {
    repl_key key;
    int32_t epoch;       /* leader epoch fetched under */
    int64_t delay_until; /* backoff of this partition (mono ms), 0: none */
    int64_t lag; /* leader HW - our LEO after the last fetch with data, -1
                    before one: Kafka's PartitionFetchState.lag */
} rf_part;

typedef struct rf_sent {
    repl_key key;
    int32_t epoch;
    int64_t fetch_offset;
} rf_sent;

/* A partition of the fetch session as the leader holds it (what we last
 * sent for it): Kafka's FetchSessionHandler.sessionPartitions. */
typedef struct rf_sess_part {
    repl_key key;
    char *topic; /* for forgetting it by name (v7-12) */
    int32_t epoch, last_epoch;
    int64_t fetch_offset, log_start;
} rf_sess_part;

typedef struct rf_fetcher {
    repl_fetchers *fs;
    int32_t leader;
    int index;
    net_client *client;
    char host[256];
    int port;
    rf_part *parts;
    int n, cap;
    rf_sent *sent; /* the request in flight: every partition it covers */
    int n_sent;
    /* KIP-227 (Kafka's FetchSessionHandler): session id (0: none) and the
     * epoch of the next request (0: a full one, which opens a session) */
    int32_t sess_id, sess_epoch;
    bool sent_full; /* the request in flight is a full one */
    rf_sess_part *sp;
    int n_sp, cap_sp;
    bool in_flight;
    bool in_cb;     /* its response is being processed */
    bool dead;      /* no partitions left: freed after the callback */
    bool reconnect; /* drop the connection after the callback */
    uint64_t timer;
    int64_t timer_at;
    int64_t backoff_until; /* the whole fetcher (network errors) */
} rf_fetcher;

struct repl_fetchers {
    repl_manager *m;
    net_loop *loop;
    const cl_image *img;
    int32_t node_id;
    repl_fetcher_opts o;
    char *listener;
    rf_fetcher **f;
    int n, cap;
    repl_fetcher_stats st;
    repl_quota quota; /* follower.replication.throttled.rate's (Kafka's
                         quotas.follower), shared by the fetchers */
};

static void fetcher_kick(rf_fetcher *f);

/* ---- fetchers -------------------------------------------------------------
 */

static int fetcher_index(const repl_fetchers *fs, const repl_key *k) {
    /* Kafka's getFetcherId: hash of (topic, partition) mod num fetchers */
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ k->topic_id[i]) * 16777619u;
    h = (h ^ (uint32_t)k->partition) * 16777619u;
    return (int)(h % (uint32_t)fs->o.num_fetchers);
}

static void on_client_state(net_client *c, bool up, void *ctx) {
    (void)c;
    rf_fetcher *f = ctx;
    if (up)
        fetcher_kick(f);
}

/* The leader's endpoint for the inter-broker listener, from the image. */
static bool leader_endpoint(const repl_fetchers *fs, int32_t leader,
                            const char **host, int *port) {
    const cl_broker *b = cl_broker_find(fs->img, leader);
    if (!b)
        return false;
    for (int32_t i = 0; i < b->n_endpoints; i++)
        if (b->endpoints[i].name &&
            !strcasecmp(b->endpoints[i].name, fs->listener)) {
            *host = b->endpoints[i].host;
            *port = b->endpoints[i].port;
            return *host != NULL;
        }
    return false;
}

/* Makes (or remakes, when the leader's endpoint moved) the connection. */
static bool fetcher_connect(rf_fetcher *f) {
    repl_fetchers *fs = f->fs;
    const char *host;
    int port;
    if (!leader_endpoint(fs, f->leader, &host, &port))
        return false;
    if (f->client && !f->reconnect && f->port == port && !strcmp(f->host, host))
        return true;
    if (f->client)
        net_client_free(f->client);
    f->client = NULL;
    f->reconnect = false;
    snprintf(f->host, sizeof f->host, "%s", host);
    f->port = port;
    char cid[64];
    snprintf(cid, sizeof cid, "broker-%d-fetcher-%d", fs->node_id, f->index);
    int64_t resp_max = (int64_t)fs->o.response_max_bytes +
                       SL_MAX((int64_t)fs->o.max_bytes, 1 << 20) + (1 << 16);
    net_client_opts co = {
        .host = f->host,
        .port = f->port,
        .client_id = cid,
        .request_timeout_ms = fs->o.socket_timeout_ms + fs->o.wait_max_ms,
        .reconnect_backoff_ms = SL_MAX(fs->o.backoff_ms / 10, 50),
        .reconnect_backoff_max_ms = SL_MAX(fs->o.backoff_ms, 50),
        .max_in_flight = 1,
        .max_response_bytes = resp_max,
        .transport = fs->o.transport,
        .on_state = on_client_state,
        .ctx = f,
    };
    f->client = net_client_new(fs->loop, &co);
    SL_INFO(MOD,
            "[ReplicaFetcher replicaId=%d, leaderId=%d, fetcherId=%d] "
            "connecting to %s:%d",
            fs->node_id, f->leader, f->index, f->host, f->port);
    return true;
}

static rf_fetcher *fetcher_find(repl_fetchers *fs, int32_t leader, int index) {
    for (int i = 0; i < fs->n; i++)
        if (fs->f[i]->leader == leader && fs->f[i]->index == index &&
            !fs->f[i]->dead)
            return fs->f[i];
    return NULL;
}

static void fetcher_free(rf_fetcher *f) {
    if (f->timer)
        net_timer_cancel(f->fs->loop, f->timer);
    f->timer = 0;
    f->dead = true;
    f->in_cb = true; /* the CLOSED completions must not resend */
    if (f->client)
        net_client_free(f->client);
    free(f->parts);
    free(f->sent);
    for (int i = 0; i < f->n_sp; i++)
        free(f->sp[i].topic);
    free(f->sp);
    free(f);
}

/* Takes f out of the list and frees it (deferred while its callback runs). */
static void fetcher_drop(repl_fetchers *fs, rf_fetcher *f) {
    f->dead = true;
    if (f->in_cb)
        return;
    for (int i = 0; i < fs->n; i++)
        if (fs->f[i] == f) {
            fs->f[i] = fs->f[--fs->n];
            break;
        }
    SL_INFO(MOD,
            "[ReplicaFetcher replicaId=%d, leaderId=%d, fetcherId=%d] "
            "stopped",
            fs->node_id, f->leader, f->index);
    fetcher_free(f);
}

static int part_find(const rf_fetcher *f, const repl_key *k) {
    for (int i = 0; i < f->n; i++)
        if (f->parts[i].key.partition == k->partition &&
            !memcmp(f->parts[i].key.topic_id, k->topic_id, 16))
            return i;
    return -1;
}

/* Takes k out of whichever fetcher has it. */
static void part_remove_any(repl_fetchers *fs, const repl_key *k) {
    for (int i = 0; i < fs->n; i++) {
        rf_fetcher *f = fs->f[i];
        int j = part_find(f, k);
        if (j < 0)
            continue;
        f->parts[j] = f->parts[--f->n];
        fs->st.partitions--;
        if (f->n == 0)
            fetcher_drop(fs, f);
        return;
    }
}

void rf_partition_changed(repl_fetchers *fs, const repl_key *k) {
    repl_info ri;
    part_remove_any(fs, k);
    if (!repl_info_of(fs->m, k, &ri) || ri.role != REPL_ROLE_FOLLOWER ||
        ri.leader < 0 || !ri.log)
        return;
    int idx = fetcher_index(fs, k);
    rf_fetcher *f = fetcher_find(fs, ri.leader, idx);
    if (!f) {
        f = xcalloc(1, sizeof *f);
        f->fs = fs;
        f->leader = ri.leader;
        f->index = idx;
        if (fs->n == fs->cap) {
            fs->cap = fs->cap ? fs->cap * 2 : 4;
            fs->f = xrealloc(fs->f, sizeof *fs->f * (size_t)fs->cap);
        }
        fs->f[fs->n++] = f;
        SL_INFO(MOD,
                "[ReplicaFetcher replicaId=%d, leaderId=%d, fetcherId=%d] "
                "started",
                fs->node_id, f->leader, f->index);
    }
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->parts = xrealloc(f->parts, sizeof *f->parts * (size_t)f->cap);
    }
    f->parts[f->n++] = (rf_part){*k, ri.leader_epoch, 0, -1};
    fs->st.partitions++;
    /* F1: exactly one fetcher holds k */
    int holders = 0;
    for (int i = 0; i < fs->n; i++)
        holders += part_find(fs->f[i], k) >= 0;
    SL_ASSERT(holders == 1);
    SL_INFO(MOD,
            "[ReplicaFetcherManager on broker %d] Added fetcher to broker %d "
            "for %s-%d with leader epoch %d, offset %" PRId64,
            fs->node_id, ri.leader, log_topic(ri.log), log_partition_id(ri.log),
            ri.leader_epoch, log_end_offset(ri.log));
    fetcher_kick(f);
}

void rf_partition_removed(repl_fetchers *fs, const repl_key *k) {
    part_remove_any(fs, k);
}

/* ---- the request ----------------------------------------------------------
 */

static void on_timer(net_loop *loop, void *ctx) {
    (void)loop;
    rf_fetcher *f = ctx;
    f->timer = 0;
    fetcher_kick(f);
}

static void arm_timer(rf_fetcher *f, int64_t at) {
    if (f->timer && f->timer_at <= at)
        return;
    if (f->timer)
        net_timer_cancel(f->fs->loop, f->timer);
    f->timer_at = at;
    f->timer =
        net_timer_add(f->fs->loop, SL_MAX(at - clk_mono_ms(), 0), on_timer, f);
}

static void on_response(net_client *c, const net_client_result *res, void *ctx);

/* follower.replication.throttled.replicas names k for this broker. */
static bool follower_listed(const repl_fetchers *fs, const repl_key *k) {
    return repl_topic_throttled(
        cl_topic_find_id((cl_image *)fs->img, k->topic_id),
        REPL_FOLLOWER_THROTTLED_REPLICAS, k->partition, fs->node_id);
}

/* Kafka's RemoteLeaderEndPoint.shouldFollowerThrottle: a listed partition
 * that is not in sync (not at the leader's HW after its last fetch) stays
 * out of the request while the follower quota is exceeded. */
static bool follower_throttles(repl_fetchers *fs, const rf_part *p,
                               int64_t now) {
    if (p->lag == 0 || !fs->o.throttle_rate || !follower_listed(fs, &p->key))
        return false;
    return repl_quota_exceeded(&fs->quota, fs->o.throttle_rate(fs->o.ctx), now);
}

/* After an error: the next request is a full one, closing the session
 * (Kafka's nextCloseExisting: same id, epoch 0) or, when the leader does
 * not know it, without one (INITIAL). */
static void session_close(rf_fetcher *f) {
    f->sess_epoch = 0;
}

static void session_forget(rf_fetcher *f) {
    f->sess_id = 0;
    f->sess_epoch = 0;
}

/* The answer to a request of the session (Kafka's
 * FetchSessionHandler.handleResponse without errors): a full one opens the
 * session the leader names (none: full again), an incremental one moves
 * the epoch on unless the leader closed the session. */
static void session_answered(rf_fetcher *f, int32_t session_id) {
    if (session_id == 0) {
        session_forget(f);
    } else if (f->sent_full) {
        f->sess_id = session_id;
        f->sess_epoch = 1;
    } else {
        f->sess_epoch = f->sess_epoch == INT32_MAX ? 1 : f->sess_epoch + 1;
    }
}

/* The fetch session's next request (Kafka's FetchSessionHandler.Builder):
 * the partitions due now are ts/ps[0..n); a full request sends them all,
 * an incremental one only those added or altered since they were last
 * sent (offset, epochs, log start), and forgets the session's others. The
 * session becomes what is due now. Returns the partitions to send (ts/ps
 * compacted), *fg the forgotten ones (xcalloc'ed, caller frees). */
static int session_build(rf_fetcher *f, proto_fetch_request_fetch_topic *ts,
                         proto_fetch_request_fetch_partition *ps, int n,
                         proto_fetch_request_forgotten_topic **fg, int *n_fg,
                         int32_t **fg_parts) {
    *fg = NULL;
    *fg_parts = NULL;
    *n_fg = 0;
    int m = n;
    if (f->sess_epoch > 0) {
        *fg = xcalloc((size_t)f->n_sp + 1, sizeof **fg);
        *fg_parts = xcalloc((size_t)f->n_sp + 1, sizeof **fg_parts);
        for (int i = 0; i < f->n_sp; i++) {
            const rf_sess_part *sp = &f->sp[i];
            bool due = false;
            for (int k = 0; k < n && !due; k++)
                due = ps[k].partition == sp->key.partition &&
                      !memcmp(ts[k].topic_id.b, sp->key.topic_id, 16);
            if (due)
                continue;
            proto_fetch_request_forgotten_topic *ft = &(*fg)[(*n_fg)++];
            proto_fetch_request_forgotten_topic_init(ft);
            memcpy(ft->topic_id.b, sp->key.topic_id, 16);
            ft->topic = proto_str_c(sp->topic);
            (*fg_parts)[i] = sp->key.partition;
            ft->partitions.n = 1;
            ft->partitions.v = &(*fg_parts)[i];
        }
        m = 0;
        for (int k = 0; k < n; k++) {
            const rf_sess_part *old = NULL;
            for (int i = 0; i < f->n_sp && !old; i++)
                if (f->sp[i].key.partition == ps[k].partition &&
                    !memcmp(f->sp[i].key.topic_id, ts[k].topic_id.b, 16))
                    old = &f->sp[i];
            if (old && old->epoch == ps[k].current_leader_epoch &&
                old->last_epoch == ps[k].last_fetched_epoch &&
                old->fetch_offset == ps[k].fetch_offset &&
                old->log_start == ps[k].log_start_offset)
                continue; /* the leader has it as it is */
            ts[m] = ts[k];
            ps[m] = ps[k];
            ts[m].partitions.v = &ps[m];
            m++;
        }
    }
    /* the session is now the partitions due (k-th of the request or not) */
    for (int i = 0; i < f->n_sp; i++)
        free(f->sp[i].topic);
    if (n > f->cap_sp) {
        f->cap_sp = n;
        f->sp = xrealloc(f->sp, sizeof *f->sp * (size_t)f->cap_sp);
    }
    f->n_sp = n;
    for (int k = 0; k < n; k++) {
        const rf_sent *s = &f->sent[k];
        repl_info ri;
        f->sp[k] =
            (rf_sess_part){s->key, NULL, s->epoch, -1, s->fetch_offset, -1};
        f->sp[k].topic = xstrdup(repl_info_of(f->fs->m, &s->key, &ri) && ri.log
                                     ? log_topic(ri.log)
                                     : "");
        if (ri.log) {
            f->sp[k].last_epoch = log_latest_epoch(ri.log);
            f->sp[k].log_start = log_start_offset(ri.log);
        }
    }
    return m;
}

/* Sends the next Fetch if none is in flight and a partition is due. */
static void fetcher_kick(rf_fetcher *f) {
    repl_fetchers *fs = f->fs;
    if (f->in_flight || f->in_cb || f->dead || f->n == 0)
        return;
    int64_t now = clk_mono_ms();
    if (f->backoff_until > now) {
        arm_timer(f, f->backoff_until);
        return;
    }
    if (!fetcher_connect(f)) {
        /* the leader is not (yet) registered with that listener */
        f->backoff_until = now + SL_MAX(fs->o.backoff_ms, 1);
        arm_timer(f, f->backoff_until);
        return;
    }
    int16_t vmin, vmax;
    if (!net_client_ready(f->client) ||
        !net_client_versions(f->client, PROTO_API_FETCH, &vmin, &vmax))
        return; /* on_client_state kicks again */
    int16_t v = SL_MIN(vmax, FETCH_V_MAX);
    proto_fetch_request rq;
    proto_fetch_request_init(&rq);
    proto_fetch_request_fetch_topic *ts = xcalloc((size_t)f->n, sizeof *ts);
    proto_fetch_request_fetch_partition *ps = xcalloc((size_t)f->n, sizeof *ps);
    f->sent = xrealloc(f->sent, sizeof *f->sent * (size_t)f->n);
    f->n_sent = 0;
    int64_t next_due = INT64_MAX;
    for (int i = 0; i < f->n; i++) {
        rf_part *p = &f->parts[i];
        repl_info ri;
        if (p->delay_until > now) {
            next_due = SL_MIN(next_due, p->delay_until);
            continue;
        }
        if (!repl_info_of(fs->m, &p->key, &ri) || !ri.log ||
            ri.role != REPL_ROLE_FOLLOWER || log_is_failed(ri.log))
            continue;
        if (follower_throttles(fs, p, now)) {
            /* looked at again after replica.fetch.backoff.ms, as Kafka's
             * fetcher thread waits when its request is empty */
            next_due = SL_MIN(next_due, now + SL_MAX(fs->o.backoff_ms, 10));
            fs->st.throttled++;
            continue;
        }
        int k = f->n_sent;
        proto_fetch_request_fetch_topic_init(&ts[k]);
        proto_fetch_request_fetch_partition_init(&ps[k]);
        memcpy(ts[k].topic_id.b, p->key.topic_id, 16);
        ts[k].topic = proto_str_c(log_topic(ri.log));
        ps[k].partition = p->key.partition;
        ps[k].current_leader_epoch = p->epoch;
        ps[k].fetch_offset = log_end_offset(ri.log);
        ps[k].last_fetched_epoch = log_latest_epoch(ri.log);
        ps[k].log_start_offset = log_start_offset(ri.log);
        ps[k].partition_max_bytes = fs->o.max_bytes;
        ts[k].partitions.n = 1;
        ts[k].partitions.v = &ps[k];
        f->sent[k] = (rf_sent){p->key, p->epoch, ps[k].fetch_offset};
        f->n_sent++;
    }
    /* KIP-227 from v7: an incremental request while a session is open
     * (Kafka's replica fetchers use one); a session with nothing left and
     * nothing to forget sends nothing, as Kafka's buildFetch */
    proto_fetch_request_forgotten_topic *fg = NULL;
    int32_t *fg_parts = NULL;
    int n_fg = 0, n_req = f->n_sent;
    if (v >= 7)
        n_req = session_build(f, ts, ps, f->n_sent, &fg, &n_fg, &fg_parts);
    if (f->n_sent == 0 && n_fg == 0) {
        free(ts);
        free(ps);
        free(fg);
        free(fg_parts);
        if (next_due != INT64_MAX)
            arm_timer(f, next_due);
        return;
    }
    /* ReplicaState: who fetches (v15+ in a tagged struct, before in the
     * replica_id field), with this broker's registration epoch. */
    const cl_broker *self = cl_broker_find(fs->img, fs->node_id);
    if (v >= 15) {
        rq.replica_state.replica_id = fs->node_id;
        rq.replica_state.replica_epoch = self ? self->epoch : -1;
    } else {
        rq.replica_id = fs->node_id;
    }
    rq.max_wait_ms = fs->o.wait_max_ms;
    rq.min_bytes = fs->o.min_bytes;
    rq.max_bytes = fs->o.response_max_bytes;
    rq.isolation_level = 0;
    rq.session_id = v >= 7 ? f->sess_id : 0;
    rq.session_epoch = v >= 7 ? f->sess_epoch : -1; /* -1: sessionless */
    f->sent_full = f->sess_epoch == 0;
    rq.topics.n = n_req;
    rq.topics.v = ts;
    rq.forgotten_topics_data.n = n_fg;
    rq.forgotten_topics_data.v = fg;
    int32_t cid =
        net_client_send(f->client, PROTO_API_FETCH, v, &rq, on_response, f);
    free(ts);
    free(ps);
    free(fg);
    free(fg_parts);
    if (n_req < f->n_sent)
        fs->st.incremental++;
    if (cid <= 0) {
        SL_WARN(MOD,
                "[ReplicaFetcher replicaId=%d, leaderId=%d, fetcherId=%d] "
                "cannot send Fetch: %s",
                fs->node_id, f->leader, f->index, net_client_strerror(cid));
        f->backoff_until = now + SL_MAX(fs->o.backoff_ms, 1);
        arm_timer(f, f->backoff_until);
        session_close(f);
        return;
    }
    f->in_flight = true;
    fs->st.requests++;
    SL_ASSERT(net_client_in_flight(f->client) + net_client_queued(f->client) ==
              1); /* F3 */
}

/* ---- the response ---------------------------------------------------------
 */

static void backoff_part(rf_fetcher *f, const repl_key *k) {
    int j = part_find(f, k);
    if (j >= 0)
        f->parts[j].delay_until = clk_mono_ms() + f->fs->o.backoff_ms;
}

static void truncated(repl_fetchers *fs, const repl_key *k, const char *why,
                      int64_t to) {
    repl_info ri;
    if (!repl_info_of(fs->m, k, &ri) || !ri.log)
        return;
    fs->st.truncations++;
    SL_INFO(MOD,
            "[ReplicaFetcher replicaId=%d] Truncated %s-%d to offset %" PRId64
            " (%s); log end offset now %" PRId64,
            fs->node_id, log_topic(ri.log), log_partition_id(ri.log), to, why,
            log_end_offset(ri.log));
    if (fs->o.truncated)
        fs->o.truncated(fs->o.ctx, ri.log);
}

/* KIP-320: the leader says our log diverges at (epoch, end offset). Kafka's
 * AbstractFetcherThread.getOffsetTruncationState. */
static void truncate_diverging(repl_fetchers *fs, const repl_key *k,
                               log_partition *log, int32_t lepoch,
                               int64_t lend) {
    int64_t leo = log_end_offset(log);
    int32_t e;
    int64_t end;
    log_end_offset_for_epoch(log, lepoch, &e, &end);
    int64_t to = e < 0 ? SL_MIN(lend, leo) : SL_MIN(lend, end);
    if (repl_follower_truncate(fs->m, k, to) == KERR_NONE)
        truncated(fs, k, "diverging epoch", to);
}

/* OFFSET_OUT_OF_RANGE (Kafka's handleOutOfRangeError without the
 * ListOffsets round: the response carries the leader's HW and log start). */
static void out_of_range(repl_fetchers *fs, const repl_key *k,
                         log_partition *log, int64_t leader_hw,
                         int64_t leader_start) {
    int64_t leo = log_end_offset(log);
    if (leader_start >= 0 && leo < leader_start) {
        if (repl_follower_truncate_fully(fs->m, k, leader_start) == KERR_NONE)
            truncated(fs, k, "below the leader's log start", leader_start);
    } else if (leader_hw >= 0 && leo > leader_hw) {
        /* longer than the leader without an epoch to compare: the
         * unclean case, keep what the leader has committed */
        if (repl_follower_truncate(fs->m, k, leader_hw) == KERR_NONE)
            truncated(fs, k, "above the leader's high watermark", leader_hw);
    }
}

/* The whole batches at the start of [p, p+len). */
static size_t whole_batches(const uint8_t *p, size_t len, bool *bad) {
    size_t pos = 0;
    *bad = false;
    while (pos + BATCH_LOG_OVERHEAD <= len) {
        log_batch_header h;
        if (!batch_parse_header(p + pos, len - pos, &h)) {
            /* a cut last batch is normal; a header that does not parse
             * where a whole one fits is not */
            int32_t sz = (int32_t)sl_load_be32(p + pos + 8);
            if (sz <= 0 || (size_t)sz + BATCH_LOG_OVERHEAD <= len - pos)
                *bad = true;
            break;
        }
        if ((size_t)batch_size(&h) > len - pos)
            break;
        pos += (size_t)batch_size(&h);
    }
    return pos;
}

/* One partition of the response; false: the response is corrupt. */
static bool process_part(rf_fetcher *f, const rf_sent *s,
                         const proto_fetch_response_partition_data *pd) {
    repl_fetchers *fs = f->fs;
    int j = part_find(f, &s->key);
    repl_info ri;
    /* the partition moved on while the request was out (Kafka: "partition
     * state changed", the response is dropped) */
    if (j < 0 || f->parts[j].epoch != s->epoch ||
        !repl_info_of(fs->m, &s->key, &ri) || !ri.log ||
        ri.role != REPL_ROLE_FOLLOWER || ri.leader_epoch != s->epoch ||
        log_end_offset(ri.log) != s->fetch_offset)
        return true;
    switch (pd->error_code) {
    case KERR_NONE:
        break;
    case KERR_OFFSET_OUT_OF_RANGE:
        out_of_range(fs, &s->key, ri.log, pd->high_watermark,
                     pd->log_start_offset);
        return true;
    default:
        fs->st.errors++;
        SL_DEBUG(MOD, "fetch of %s-%d from %d: %s", log_topic(ri.log),
                 log_partition_id(ri.log), f->leader,
                 proto_error_name(pd->error_code));
        backoff_part(f, &s->key);
        return true;
    }
    if (pd->diverging_epoch.epoch >= 0 && pd->diverging_epoch.end_offset >= 0) {
        truncate_diverging(fs, &s->key, ri.log, pd->diverging_epoch.epoch,
                           pd->diverging_epoch.end_offset);
        return true;
    }
    size_t len = pd->records.len > 0 ? (size_t)pd->records.len : 0;
    bool bad = false;
    size_t whole = len ? whole_batches(pd->records.p, len, &bad) : 0;
    if (bad)
        return false;
    if (whole > 0) {
        log_batch_header h;
        batch_parse_header(pd->records.p, whole, &h);
        /* the batch holding the fetch offset, or a later one (compacted
         * logs have gaps) */
        if (batch_last_offset(&h) < s->fetch_offset)
            return false; /* not where we asked from */
        if (h.base_offset < s->fetch_offset) {
            /* The leader's log start is inside this batch and our log is
             * empty from there (a follower that started at the leader's
             * log start): start at the batch's base, as Kafka's
             * Partition.appendRecordsToFollowerOrFutureReplica does on
             * UnexpectedAppendOffsetException. Anything else straddling
             * our LEO is a log that diverged unannounced. */
            if (log_end_offset(ri.log) != log_start_offset(ri.log) ||
                repl_follower_truncate_fully(fs->m, &s->key, h.base_offset))
                return false;
            truncated(fs, &s->key, "batch across the log start", h.base_offset);
        }
        /* F2: still a follower at the request's epoch, at the LEO asked
         * (or at the start of the first batch, just above) */
        SL_ASSERT(log_end_offset(ri.log) <= h.base_offset);
        log_append_info info;
        uint8_t *recs = (uint8_t *)pd->records.p;
        int16_t err =
            repl_follower_append(fs->m, &s->key, s->epoch, recs, whole, &info);
        if (err == KERR_CORRUPT_MESSAGE || err == KERR_INVALID_RECORD)
            return false;
        if (err) {
            fs->st.errors++;
            SL_WARN(MOD, "append of fetched data to %s-%d failed: %s",
                    log_topic(ri.log), log_partition_id(ri.log),
                    proto_error_name(err));
            backoff_part(f, &s->key);
            return true;
        }
        SL_ASSERT(info.base_offset == h.base_offset); /* F2 */
        if (fs->o.appended)
            fs->o.appended(fs->o.ctx, ri.log, recs, whole);
    }
    repl_follower_set_hw(fs->m, &s->key, pd->high_watermark);
    SL_ASSERT(log_high_watermark(ri.log) <= log_end_offset(ri.log)); /* F4 */
    /* Kafka's processFetchRequest: the lag moves with data (or the first
     * answer); the quota counts what the listed partitions bring, in sync
     * or not */
    if (whole > 0 || f->parts[j].lag < 0)
        f->parts[j].lag =
            SL_MAX(0, pd->high_watermark - log_end_offset(ri.log));
    if (whole > 0 && fs->o.throttle_rate && follower_listed(fs, &s->key))
        repl_quota_record(&fs->quota, (int64_t)whole, clk_mono_ms());
    if (pd->log_start_offset > log_start_offset(ri.log)) {
        int64_t ns;
        int64_t to = SL_MIN(pd->log_start_offset, log_high_watermark(ri.log));
        if (to > log_start_offset(ri.log))
            (void)log_delete_records(ri.log, to, &ns);
    }
    return true;
}

static const rf_sent *sent_find(const rf_fetcher *f, const uint8_t id[16],
                                int32_t partition) {
    for (int i = 0; i < f->n_sent; i++)
        if (f->sent[i].key.partition == partition &&
            !memcmp(f->sent[i].key.topic_id, id, 16))
            return &f->sent[i];
    return NULL;
}

static void on_response(net_client *c, const net_client_result *res,
                        void *ctx) {
    (void)c;
    rf_fetcher *f = ctx;
    repl_fetchers *fs = f->fs;
    f->in_flight = false;
    if (res->err == NET_CLIENT_ERR_CLOSED || f->dead)
        return; /* being freed */
    f->in_cb = true;
    bool corrupt = false;
    if (res->err != NET_CLIENT_OK) {
        fs->st.errors++;
        SL_WARN(MOD,
                "[ReplicaFetcher replicaId=%d, leaderId=%d, fetcherId=%d] "
                "Error sending fetch request: %s",
                fs->node_id, f->leader, f->index,
                net_client_strerror(res->err));
        f->backoff_until = clk_mono_ms() + fs->o.backoff_ms;
        corrupt = res->err == NET_CLIENT_ERR_MALFORMED;
        session_close(f);
    } else {
        fs->st.responses++;
        const proto_fetch_response *rs = res->resp;
        if (rs->error_code == KERR_FETCH_SESSION_ID_NOT_FOUND) {
            session_forget(f);
        } else if (rs->error_code != KERR_NONE) {
            session_close(f);
        } else if (res->api_version >= 7) {
            session_answered(f, rs->session_id);
        }
        if (rs->error_code != KERR_NONE) {
            fs->st.errors++;
            f->backoff_until = clk_mono_ms() + fs->o.backoff_ms;
        }
        for (int32_t t = 0; t < rs->responses.n && !corrupt; t++) {
            const proto_fetch_response_fetchable_topic_response *tr =
                &rs->responses.v[t];
            for (int32_t i = 0; i < tr->partitions.n && !corrupt; i++) {
                const proto_fetch_response_partition_data *pd =
                    &tr->partitions.v[i];
                const rf_sent *s = NULL;
                if (res->api_version >= 13) {
                    s = sent_find(f, tr->topic_id.b, pd->partition_index);
                } else {
                    for (int k = 0; k < f->n_sent && !s; k++) {
                        repl_info ri;
                        if (f->sent[k].key.partition == pd->partition_index &&
                            repl_info_of(fs->m, &f->sent[k].key, &ri) &&
                            ri.log &&
                            proto_str_eq(tr->topic, log_topic(ri.log)))
                            s = &f->sent[k];
                    }
                }
                if (s && !process_part(f, s, pd))
                    corrupt = true;
            }
        }
    }
    if (corrupt) {
        fs->st.errors++;
        SL_WARN(MOD,
                "[ReplicaFetcher replicaId=%d, leaderId=%d, fetcherId=%d] "
                "corrupt fetch response: dropping the connection",
                fs->node_id, f->leader, f->index);
        f->reconnect = true;
        f->backoff_until = clk_mono_ms() + fs->o.backoff_ms;
        session_close(f);
    }
    f->n_sent = 0;
    f->in_cb = false;
    if (f->dead) {
        fetcher_drop(fs, f);
        return;
    }
    fetcher_kick(f);
}

/* ---- start / stop ---------------------------------------------------------
 */

void repl_fetchers_start(repl_manager *m, net_loop *loop, const cl_image *img,
                         int32_t node_id, const repl_fetcher_opts *o) {
    SL_ASSERT(!repl_manager_fetchers(m));
    repl_fetchers *fs = xcalloc(1, sizeof *fs);
    fs->m = m;
    fs->loop = loop;
    fs->img = img;
    fs->node_id = node_id;
    fs->o = *o;
    fs->listener =
        xstrdup(o->listener && *o->listener ? o->listener : "PLAINTEXT");
    fs->o.listener = fs->listener;
    if (fs->o.num_fetchers < 1)
        fs->o.num_fetchers = 1;
    if (fs->o.max_bytes <= 0)
        fs->o.max_bytes = 1 << 20;
    if (fs->o.response_max_bytes <= 0)
        fs->o.response_max_bytes = 10 << 20;
    if (fs->o.backoff_ms < 0)
        fs->o.backoff_ms = 0;
    if (fs->o.socket_timeout_ms <= 0)
        fs->o.socket_timeout_ms = 30000;
    repl_quota_init(&fs->quota, o->quota_window_num, o->quota_window_ms);
    repl_manager_set_fetchers(m, fs);
}

void repl_fetchers_stop(repl_manager *m) {
    repl_fetchers *fs = repl_manager_fetchers(m);
    if (!fs)
        return;
    repl_manager_set_fetchers(m, NULL);
    for (int i = 0; i < fs->n; i++)
        fetcher_free(fs->f[i]);
    free(fs->f);
    free(fs->listener);
    repl_quota_free(&fs->quota);
    free(fs);
}

void repl_fetchers_stats(const repl_manager *m, repl_fetcher_stats *out) {
    repl_fetchers *fs = repl_manager_fetchers(m);
    memset(out, 0, sizeof *out);
    if (!fs)
        return;
    *out = fs->st;
    out->fetchers = fs->n;
}
