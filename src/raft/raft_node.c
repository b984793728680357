/*
 * raft_node.c - the quorum member on the loop (raft_node.h).
 *
 * Inbound requests get a token (the correlation id the core sees and puts
 * on its response) from a fixed table; the table is full only when peers
 * flood us, then the oldest waiting request is dropped (its connection
 * closed), so memory stays bounded.
 */
#include "raft/raft_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdatomic.h>

#include "core/env.h"
#include "core/log.h"
#include "core/util.h"
#include "net/client.h"
#include "proto/errors.h"
#include "raft/quorum_state.h"
#include "raft/snapshot.h"

#define MAX_INBOUND 64

typedef struct inbound {
    bool used;
    int32_t token;
    int16_t api_key, api_version;
    raft_reply_fn reply;
    void *ctx;
    uint64_t seq; /* age, for eviction */
} inbound;

typedef struct peer {
    int32_t id;
    net_client *client;
    bool has_queued; /* a request waiting for the connection */
    raft_msg queued;
    struct raft_node *node;
} peer;

/* A snapshot the caller made, written by the executor off the loop. */
typedef struct snap_job {
    raft_oe id;
    uint8_t *data;
    size_t len;
    const log_io *io;
    const char *dir;
    net_loop *loop;
    bool ok;
    char err[256];
    atomic_bool done;
} snap_job;

typedef struct sent {
    struct raft_node *node;
    int32_t peer_id;
    int32_t corr; /* the core's correlation id */
    raft_kind kind;
} sent;

struct raft_node {
    raft *r;
    raft_log *log;
    net_loop *loop;
    const log_io *io;
    char *dir;
    raft_endpoint *eps;
    int n_eps;
    raft_endpoints epv;
    peer peers[RAFT_MAX_VOTERS];
    int n_peers;
    inbound in[MAX_INBOUND];
    int32_t next_token;
    uint64_t seq;
    uint64_t timer;
    int64_t timer_at;
    int64_t synced;    /* durable end reported to the core */
    int64_t committed; /* last COMMIT seen */
    raft_info last;    /* for on_change */
    bool failed;
    bool closing;
    bool draining;
    rng own_rng; /* when the caller gives none */
    /* snapshots */
    sl_executor *exec; /* one worker: snapshot files */
    snap_job *job;     /* being written, or NULL */
    int64_t retention_bytes, retention_ms;
    int64_t next_clean_check;
    void (*on_commit)(void *ctx, int64_t hw);
    void (*on_change)(void *ctx, const raft_info *info);
    void *ctx;
};

static int64_t now_ms(raft_node *n) {
    return net_loop_now_ms(n->loop);
}

static void drain(raft_node *n);

/* ---- timer ------------------------------------------------------------ */

static void on_timer(net_loop *loop, void *ctx) {
    (void)loop;
    raft_node *n = ctx;
    n->timer = 0;
    n->timer_at = INT64_MAX;
    if (n->failed || n->closing)
        return;
    raft_tick(n->r, now_ms(n));
    drain(n);
}

static void arm(raft_node *n) {
    if (n->failed || n->closing)
        return;
    int64_t at = raft_next_deadline(n->r);
    if (n->timer && at == n->timer_at)
        return;
    if (n->timer)
        net_timer_cancel(n->loop, n->timer);
    int64_t d = at - now_ms(n);
    n->timer_at = at;
    n->timer = net_timer_add(n->loop, d > 0 ? d : 0, on_timer, n);
}

/* ---- outbound ----------------------------------------------------------- */

static peer *find_peer(raft_node *n, int32_t id) {
    for (int i = 0; i < n->n_peers; i++)
        if (n->peers[i].id == id)
            return &n->peers[i];
    return NULL;
}

static void on_response(net_client *c, const net_client_result *res,
                        void *ctx) {
    (void)c;
    sent *s = ctx;
    raft_node *n = s->node;
    if (n->closing || n->failed || res->err != NET_CLIENT_OK) {
        free(s); /* the core's request timeout retries */
        return;
    }
    arena a;
    arena_init(&a, 4096);
    buf scratch;
    buf_init(&scratch, 256);
    raft_msg m;
    int rc = raft_codec_response_from_struct(res->api_key, res->api_version,
                                             res->resp, &a, &scratch, &m);
    if (rc == RAFT_CODEC_OK) {
        m.from = s->peer_id;
        m.to = n->r->cfg.self.id;
        m.correlation_id = s->corr;
        raft_receive(n->r, now_ms(n), &m);
        drain(n); /* before scratch goes: batches point into it */
    } else {
        SL_WARN("raft", "dropping a malformed %s response from node %d",
                proto_api(res->api_key) ? proto_api(res->api_key)->name : "?",
                s->peer_id);
    }
    buf_free(&scratch);
    arena_free(&a);
    free(s);
}

static void send_now(raft_node *n, peer *p, const raft_msg *m) {
    arena a;
    arena_init(&a, 4096);
    buf scratch;
    buf_init(&scratch, 256);
    int16_t key = raft_codec_api_key(m->kind);
    void *req = raft_codec_request_struct(m, &n->epv, &a, &scratch);
    sent *s = xmalloc(sizeof *s);
    *s = (sent){n, p->id, m->correlation_id, m->kind};
    int32_t rc = net_client_send(p->client, key, raft_codec_version(key), req,
                                 on_response, s);
    if (rc < 0)
        free(s); /* left to the core's request timeout */
    buf_free(&scratch);
    arena_free(&a);
}

static void on_client_state(net_client *c, bool up, void *ctx) {
    (void)c;
    peer *p = ctx;
    if (!up || !p->has_queued || p->node->closing)
        return;
    p->has_queued = false;
    send_now(p->node, p, &p->queued);
}

static void send_request(raft_node *n, const raft_msg *m) {
    peer *p = find_peer(n, m->to);
    if (!p || !p->client)
        return;
    if (!net_client_ready(p->client)) {
        p->queued = *m; /* requests carry no borrowed bytes */
        p->has_queued = true;
        return;
    }
    send_now(n, p, m);
}

/* ---- inbound ------------------------------------------------------------ */

static inbound *find_inbound(raft_node *n, int32_t token) {
    for (int i = 0; i < MAX_INBOUND; i++)
        if (n->in[i].used && n->in[i].token == token)
            return &n->in[i];
    return NULL;
}

static void send_response(raft_node *n, const raft_msg *m) {
    inbound *in = find_inbound(n, m->correlation_id);
    if (!in)
        return; /* evicted meanwhile */
    buf body;
    buf_init(&body, 256);
    raft_codec_encode(&body, in->api_version, m, &n->epv);
    raft_reply_fn reply = in->reply;
    void *ctx = in->ctx;
    in->used = false;
    reply(ctx, &body);
    buf_free(&body);
}

static raft_kind response_kind(int16_t api_key) {
    switch (api_key) {
    case PROTO_API_VOTE:
        return RAFT_VOTE_RESP;
    case PROTO_API_BEGIN_QUORUM_EPOCH:
        return RAFT_BEGIN_RESP;
    case PROTO_API_END_QUORUM_EPOCH:
        return RAFT_END_RESP;
    case PROTO_API_FETCH_SNAPSHOT:
        return RAFT_FSNAP_RESP;
    default:
        return RAFT_FETCH_RESP;
    }
}

int raft_node_request(raft_node *n, int16_t api_key, int16_t api_version,
                      const uint8_t *body, size_t len, raft_reply_fn reply,
                      void *reply_ctx) {
    if (n->closing)
        return -1;
    arena a;
    arena_init(&a, 4096);
    rd r;
    rd_init(&r, body, len);
    raft_msg m;
    int rc = raft_codec_decode_request(api_key, api_version, &r, &a, &m);
    arena_free(&a); /* the decoded request keeps nothing in it */
    if (rc == RAFT_CODEC_MALFORMED)
        return -1;
    if (rc == RAFT_CODEC_WRONG_PARTITION || n->failed) {
        /* Kafka's hasValidTopicPartition: INVALID_REQUEST, top level */
        raft_msg e;
        memset(&e, 0, sizeof e);
        e.kind = response_kind(api_key);
        if (e.kind == RAFT_FETCH_RESP)
            e.u.fresp.error_code = rc == RAFT_CODEC_WRONG_PARTITION
                                       ? KERR_INVALID_REQUEST
                                       : KERR_UNKNOWN_SERVER_ERROR;
        else if (e.kind == RAFT_FSNAP_RESP)
            e.u.sresp.error_code = KERR_INVALID_REQUEST;
        else
            e.u.eresp.error_code = KERR_INVALID_REQUEST;
        buf out;
        buf_init(&out, 64);
        raft_codec_encode(&out, api_version, &e, NULL);
        reply(reply_ctx, &out);
        buf_free(&out);
        return 0;
    }
    inbound *slot = NULL;
    for (int i = 0; i < MAX_INBOUND && !slot; i++)
        if (!n->in[i].used)
            slot = &n->in[i];
    if (!slot) { /* evict the oldest: its peer retries */
        slot = &n->in[0];
        for (int i = 1; i < MAX_INBOUND; i++)
            if (n->in[i].seq < slot->seq)
                slot = &n->in[i];
        slot->used = false;
        slot->reply(slot->ctx, NULL);
    }
    if (++n->next_token <= 0)
        n->next_token = 1;
    *slot = (inbound){true,  n->next_token, api_key, api_version,
                      reply, reply_ctx,     ++n->seq};
    m.correlation_id = slot->token;
    if (m.to < 0)
        m.to = n->r->cfg.self.id;
    raft_receive(n->r, now_ms(n), &m);
    drain(n);
    return 0;
}

/* ---- the outbox -----------------------------------------------------------
 */

static void fail(raft_node *n, const char *what) {
    SL_ERROR("raft", "the metadata quorum member stops: %s", what);
    n->failed = true;
    if (n->timer)
        net_timer_cancel(n->loop, n->timer);
    n->timer = 0;
}

static void drain(raft_node *n) {
    if (n->draining)
        return;
    n->draining = true;
    raft *r = n->r;
    int64_t commit = -1;
    char err[512];
    for (int i = 0; i < r->n_out && !n->failed; i++) {
        raft_out *o = &r->out[i];
        switch (o->kind) {
        case RAFT_OUT_PERSIST:
            if (!raft_qstate_write(n->io, n->dir, &o->u.qstate, 0,
                                   &r->cfg.voters, err, sizeof err))
                fail(n, err);
            break;
        case RAFT_OUT_TRUNCATE: {
            int16_t e = raft_log_truncate(n->log, o->u.offset);
            if (e) {
                snprintf(err, sizeof err, "truncating the log: %s",
                         proto_error_name(e));
                fail(n, err);
            }
            if (n->synced > o->u.offset)
                n->synced = o->u.offset;
            break;
        }
        case RAFT_OUT_APPEND: {
            raft_batch b = o->u.batch;
            buf lc;
            buf_init(&lc, 0);
            if (!b.data) { /* the core's LeaderChange at the epoch start */
                raft_leader_change_batch(
                    &lc, b.base_offset, b.epoch, clk_wall_ms(), r->cfg.self.id,
                    &r->cfg.voters, r->granting, r->n_granting);
                b.data = lc.data;
                b.len = (uint32_t)lc.len;
            }
            int16_t e = raft_log_append(n->log, &b);
            buf_free(&lc);
            if (e) {
                snprintf(err, sizeof err, "appending at %lld: %s",
                         (long long)b.base_offset, proto_error_name(e));
                fail(n, err);
            }
            break;
        }
        case RAFT_OUT_SEND:
            if (raft_codec_is_request(o->u.msg.kind))
                send_request(n, &o->u.msg);
            else
                send_response(n, &o->u.msg);
            break;
        case RAFT_OUT_COMMIT:
            raft_log_set_hw(n->log, o->u.offset);
            commit = o->u.offset;
            break;
        case RAFT_OUT_SNAPSHOT_WRITE: {
            int16_t e = raft_log_snapshot_write(n->log, o->u.snap.id,
                                                o->u.snap.position,
                                                o->u.snap.data, o->u.snap.len);
            if (e) {
                snprintf(err, sizeof err, "writing the fetched snapshot: %s",
                         proto_error_name(e));
                fail(n, err);
            }
            break;
        }
        case RAFT_OUT_SNAPSHOT_INSTALL: {
            char why[300];
            int16_t e = raft_log_snapshot_install(n->log, o->u.snap.id, why,
                                                  sizeof why);
            if (e) {
                fail(n, why);
                break;
            }
            n->synced = o->u.snap.id.offset;
            SL_INFO("raft",
                    "[RaftManager id=%d] installed the leader's snapshot "
                    "%lld-%d; the log restarts there",
                    r->cfg.self.id, (long long)o->u.snap.id.offset,
                    o->u.snap.id.epoch);
            break;
        }
        case RAFT_OUT_LOG_START: {
            int16_t e = raft_log_start_moved(n->log, o->u.offset);
            if (e)
                SL_WARN("raft",
                        "cannot move the metadata log start to %lld: %s",
                        (long long)o->u.offset, proto_error_name(e));
            else
                SL_INFO("raft",
                        "[RaftManager id=%d] the metadata log starts at %lld "
                        "(snapshot); older segments and snapshots deleted",
                        r->cfg.self.id, (long long)o->u.offset);
            break;
        }
        }
    }
    raft_out_clear(r);
    raft_log_release_reads(n->log);
    n->draining = false;
    arm(n);
    raft_info info;
    raft_get_info(r, &info);
    bool changed = info.role != n->last.role || info.epoch != n->last.epoch ||
                   info.leader_id != n->last.leader_id;
    n->last = info;
    if (changed && n->on_change)
        n->on_change(n->ctx, &info);
    if (commit > n->committed) {
        n->committed = commit;
        if (n->on_commit)
            n->on_commit(n->ctx, commit);
    }
}

/* Kafka's KafkaRaftLog.maybeClean (cleanSnapshotsRetentionSize, then
 * cleanSnapshotsRetentionMs): the snapshots oldest first; while there are
 * two or more and the oldest breaches metadata.max.retention.bytes (the
 * log plus the snapshots it still counts exceed it) or
 * metadata.max.retention.ms (its LastContainedLogTimestamp is older), the
 * log start moves up to the next snapshot (raft_snapshot_created:
 * LOG_START deletes the segments wholly below it and the snapshots before
 * it). Kafka checks every 60 s; this every second (and when a snapshot was
 * written). Only snapshots of committed, durable records (the core asserts
 * it). */
static void maybe_clean(raft_node *n, bool now) {
    raft *r = n->r;
    int64_t t = now_ms(n);
    if (!now && t < n->next_clean_check)
        return;
    n->next_clean_check = t + 1000;
    raft_oe s[RAFT_LOG_MAX_SNAPSHOTS];
    int64_t size[RAFT_LOG_MAX_SNAPSHOTS];
    int k = raft_log_snapshots(n->log, s, size, RAFT_LOG_MAX_SNAPSHOTS);
    if (k < 2)
        return;
    log_partition *part = raft_log_partition(n->log);
    int64_t total = 0;
    for (int i = 0; i < k; i++)
        total += size[i] > 0 ? size[i] : 0;
    for (int i = 0; i + 1 < k && !n->failed; i++) {
        bool breach = false;
        if (n->retention_bytes >= 0 &&
            log_size_bytes(part) + total > n->retention_bytes) {
            breach = true;
            total -= size[i] > 0 ? size[i] : 0;
        } else if (n->retention_ms >= 0) {
            int64_t ts = raft_log_snapshot_ts(n->log, s[i]);
            breach = ts >= 0 && clk_wall_ms() - ts > n->retention_ms;
        }
        raft_oe next = s[i + 1];
        if (!breach || next.offset > r->committed ||
            next.offset > r->durable_end)
            return;
        if (next.offset > r->log_start) {
            raft_snapshot_created(r, next);
            drain(n);
        }
    }
}

static void finish_job(raft_node *n) {
    snap_job *j = n->job;
    n->job = NULL;
    if (j->ok) {
        raft_log_snapshot_added(n->log, j->id);
        SL_INFO("raft",
                "[RaftManager id=%d] wrote snapshot %lld-%d (%zu bytes) in %s",
                n->r->cfg.self.id, (long long)j->id.offset, j->id.epoch, j->len,
                n->dir);
    } else {
        SL_WARN("raft", "cannot write snapshot %lld-%d: %s",
                (long long)j->id.offset, j->id.epoch, j->err);
    }
    free(j->data);
    free(j);
    maybe_clean(n, true);
}

/* Before sleeping: what the flusher made durable goes to the core. */
static void before_sleep(net_loop *loop, void *ctx) {
    (void)loop;
    raft_node *n = ctx;
    if (n->failed || n->closing)
        return;
    if (n->job && atomic_load_explicit(&n->job->done, memory_order_acquire))
        finish_job(n);
    maybe_clean(n, false);
    int64_t end;
    int16_t e = raft_log_durable(n->log, &end);
    if (e) {
        fail(n, "the metadata log failed");
        return;
    }
    if (end > n->synced) {
        n->synced = end;
        raft_log_synced(n->r, now_ms(n), end);
        drain(n);
    }
}

/* ---- life ------------------------------------------------------------------
 */

raft_node *raft_node_new(const raft_node_opts *o, char *err, size_t errlen) {
    raft_node *n = xcalloc(1, sizeof *n);
    n->loop = o->loop;
    n->io = o->io;
    n->dir = xstrdup(o->dir);
    n->on_commit = o->on_commit;
    n->on_change = o->on_change;
    n->ctx = o->ctx;
    n->timer_at = INT64_MAX;
    n->committed = -1;
    n->last.role = (raft_role)-1;
    n->n_eps = o->n_endpoints;
    n->eps =
        xcalloc((size_t)(o->n_endpoints ? o->n_endpoints : 1), sizeof *n->eps);
    for (int i = 0; i < o->n_endpoints; i++) {
        n->eps[i] = o->endpoints[i];
        n->eps[i].listener = xstrdup(o->endpoints[i].listener);
        n->eps[i].host = xstrdup(o->endpoints[i].host);
    }
    n->epv = (raft_endpoints){n->n_eps, n->eps};
    raft_boot b;
    memset(&b, 0, sizeof b);
    int rc = raft_qstate_read(o->io, o->dir, &b.qstate, err, errlen);
    if (rc < 0) {
        raft_node_free(n);
        return NULL;
    }
    b.has_qstate = rc == 1;
    if (!b.has_qstate)
        b.qstate = (raft_qstate){0, RAFT_NO_ID, {.id = RAFT_NO_ID}};
    n->retention_bytes = o->retention_bytes;
    n->retention_ms = o->retention_ms;
    n->log = raft_log_new(o->mgr, o->part, o->segment_bytes, o->segment_ms);
    if (raft_log_boot(n->log, &b, err, errlen) < 0) {
        raft_node_free(n);
        return NULL;
    }
    n->synced = b.log_end; /* recovered: all of it durable */
    raft_log_ops ops = raft_log_get_ops(n->log);
    n->r = xcalloc(1, sizeof *n->r);
    rng *g = o->rng;
    if (!g) {
        rng_seed(&n->own_rng, rng_os_seed());
        g = &n->own_rng;
    }
    raft_init(n->r, &o->cfg, &ops, g, &b, now_ms(n));
    /* a client to every other voter's controller listener */
    for (int i = 0; i < o->cfg.voters.n; i++) {
        int32_t id = o->cfg.voters.v[i].id;
        if (id == o->cfg.self.id)
            continue;
        peer *p = &n->peers[n->n_peers++];
        p->id = id;
        p->node = n;
        const raft_endpoint *ep = NULL;
        for (int k = 0; k < n->n_eps && !ep; k++)
            if (n->eps[k].id == id)
                ep = &n->eps[k];
        if (!ep)
            continue;
        char cid[64];
        snprintf(cid, sizeof cid, "raft-client-%d", o->cfg.self.id);
        net_client_opts co = {
            .host = ep->host,
            .port = ep->port,
            .client_id = cid,
            .request_timeout_ms = o->cfg.request_timeout_ms,
            .reconnect_backoff_ms = 50,
            .reconnect_backoff_max_ms = 1000,
            .max_in_flight = 5,
            .on_state = on_client_state,
            .ctx = p,
        };
        p->client = net_client_new(n->loop, &co);
    }
    net_loop_add_before_sleep(n->loop, before_sleep, n);
    drain(n); /* raft_init may PERSIST */
    if (n->failed) {
        snprintf(err, errlen, "cannot write %s/quorum-state", o->dir);
        raft_node_free(n);
        return NULL;
    }
    SL_INFO("raft",
            "node %d joins the metadata quorum (%d voters) at epoch %d as %s, "
            "log [%lld, %lld), latest snapshot %lld-%d",
            o->cfg.self.id, o->cfg.voters.n, n->r->qs.epoch,
            raft_role_name(n->r->role), (long long)b.log_start,
            (long long)b.log_end, (long long)b.snapshot_id.offset,
            b.snapshot_id.epoch);
    return n;
}

void raft_node_close(raft_node *n) {
    if (!n || n->closing)
        return;
    n->closing = true;
    if (n->timer)
        net_timer_cancel(n->loop, n->timer);
    n->timer = 0;
    for (int i = 0; i < n->n_peers; i++)
        if (n->peers[i].client) {
            net_client_free(n->peers[i].client);
            n->peers[i].client = NULL;
        }
    for (int i = 0; i < MAX_INBOUND; i++)
        if (n->in[i].used) {
            n->in[i].used = false;
            n->in[i].reply(n->in[i].ctx, NULL);
        }
}

bool raft_node_closed(const raft_node *n) {
    return n->closing;
}

void raft_node_free(raft_node *n) {
    if (!n)
        return;
    raft_node_close(n);
    net_loop_remove_before_sleep(n->loop, before_sleep, n);
    sl_exec_free(n->exec); /* waits for a snapshot being written */
    n->exec = NULL;
    if (n->job) {
        free(n->job->data);
        free(n->job);
    }
    raft_log_free(n->log);
    n->log = NULL;
    free(n->r);
    for (int i = 0; i < n->n_eps; i++) {
        free((char *)n->eps[i].listener);
        free((char *)n->eps[i].host);
    }
    free(n->eps);
    free(n->dir);
    free(n);
}

/* ---- API ------------------------------------------------------------------
 */

int16_t raft_node_propose(raft_node *n, const buf *values, int count,
                          int64_t *last) {
    if (n->failed || count <= 0)
        return KERR_NOT_LEADER_OR_FOLLOWER;
    buf b;
    buf_init(&b, 256);
    raft_batch_build(&b, 0, 0, clk_wall_ms(), values, count);
    int64_t base;
    int e = raft_propose(n->r, now_ms(n), b.data, (uint32_t)b.len,
                         (uint32_t)count, &base);
    if (!e) {
        drain(n); /* the APPEND borrows b */
        *last = base + count - 1;
    }
    buf_free(&b);
    return (int16_t)e;
}

int raft_node_committed(raft_node *n, int64_t from, raft_record_fn fn,
                        void *arg, int64_t *next, char *err, size_t errlen) {
    int64_t hw = n->committed;
    if (hw <= from) {
        *next = from;
        return 0;
    }
    return raft_log_records(n->log, from, hw, fn, arg, next, err, errlen);
}

void raft_node_info(const raft_node *n, raft_info *out) {
    raft_get_info(n->r, out);
}

int raft_node_endpoints(const raft_node *n, const raft_endpoint **out) {
    *out = n->eps;
    return n->n_eps;
}

const raft *raft_node_core(const raft_node *n) {
    return n->r;
}

bool raft_node_failed(const raft_node *n) {
    return n->failed;
}

void raft_node_resign(raft_node *n) {
    if (n->failed)
        return;
    raft_resign(n->r, now_ms(n));
    drain(n);
}

/* ---- snapshots ------------------------------------------------------------
 */

raft_oe raft_node_latest_snapshot(const raft_node *n) {
    return raft_log_latest_snapshot(n->log);
}

int raft_node_snapshot_records(raft_node *n, raft_oe id, raft_record_fn fn,
                               void *arg, char *err, size_t errlen) {
    return raft_log_snapshot_records(n->log, id, fn, arg, err, errlen);
}

int32_t raft_node_epoch_at(raft_node *n, int64_t offset) {
    raft_log_ops ops = raft_log_get_ops(n->log);
    return ops.epoch_at(ops.ctx, offset);
}

static void write_job(void *arg) {
    snap_job *j = arg;
    j->ok = raft_snap_write(j->io, j->dir, j->id, j->data, j->len, j->err,
                            sizeof j->err);
    atomic_store_explicit(&j->done, true, memory_order_release);
    net_loop_wake(j->loop);
}

bool raft_node_snapshot_busy(const raft_node *n) {
    return n->job != NULL;
}

bool raft_node_snapshot_submit(raft_node *n, raft_oe id, uint8_t *data,
                               size_t len) {
    raft_oe latest = raft_log_latest_snapshot(n->log);
    if (n->failed || n->closing || n->job || id.offset <= latest.offset ||
        id.offset > n->r->committed) {
        free(data);
        return false;
    }
    if (!n->exec)
        n->exec = sl_exec_new("sl-snapshot", 1);
    snap_job *j = xcalloc(1, sizeof *j);
    j->id = id;
    j->data = data;
    j->len = len;
    j->io = raft_log_io(n->log);
    j->dir = raft_log_dir(n->log);
    j->loop = n->loop;
    atomic_init(&j->done, false);
    n->job = j;
    sl_exec_submit(n->exec, write_job, j);
    return true;
}
