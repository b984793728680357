/*
 * raft_sim.c - see raft_sim.h. One run is a sequence of steps drawn from a
 * seeded rng: deliver a due message (picked at random among the due ones:
 * reordering), advance the clock and tick every live node, propose a record
 * on a leader, complete an fsync, crash or restart a node, change the
 * network partition, take a snapshot. Time alternates between chaos phases
 * (crashes, partitions, 10% loss) and calm phases (everyone up and
 * connected, 2% loss) in which progress is required.
 *
 * Checkers, after every step or at the event that could break them:
 *  C1 at most one leader per epoch (over the whole run);
 *  C2 a node's persisted epoch never decreases (across restarts) and its
 *     persisted vote never changes within an epoch;
 *  C3 a node's committed offset (RAFT_OUT_COMMIT) never decreases in a life;
 *  C4 committed entries never change: every node that commits offset o, or
 *     writes an entry at o < the global committed offset, has the same
 *     entry there as the global committed log;
 *  C5 no node ever truncates a committed entry;
 *  C6 a majority of voters hold every committed entry durably (a crash
 *     loses only unsynced writes, so this must hold across crashes);
 *  C7 a snapshot sits at the log start and equals the replay of the
 *     committed log it replaces (its digest);
 *  C8 a leader never loads (installs) a snapshot;
 *  C9 progress: in a calm phase the committed offset advances;
 *  plus every SL_ASSERT invariant inside the core (I1..I9 of raft.c) and
 *  no protocol violation seen by any node (r->violations).
 * Any failure prints its seed and the command that replays it.
 */
#include "raft_sim.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "proto/errors.h"
#include "raft/raft.h"

#define MAX_NODES 8
#define CHUNK 16
#define SNAP_BYTES 40
#define OBSERVER_ID 100
#define PHASE_MS 20000 /* chaos 20 s, then calm 20 s */

typedef struct ent {
    int32_t epoch;
    uint64_t val; /* 0: the LeaderChange control record */
} ent;

typedef struct snode {
    int32_t id;
    bool voter;
    bool alive;
    raft r;
    rng rng;
    /* the log: entries [start, start + n) */
    int64_t start;
    ent *e;
    int64_t n, cap;
    int64_t synced; /* durable end (absolute) */
    /* durable quorum-state */
    raft_qstate qs;
    bool has_qs;
    /* the latest snapshot (served by FetchSnapshot) and the earliest one,
     * at `start` when start > 0 (Kafka keeps both) */
    raft_oe snap_id;
    uint8_t snap[SNAP_BYTES];
    raft_oe start_snap_id;
    uint8_t start_snap[SNAP_BYTES];
    /* a snapshot being fetched */
    uint8_t recv[SNAP_BYTES];
    uint32_t recv_len;
    int64_t committed; /* this life */
    int64_t match_end; /* log [0, match_end) is the committed log's */
} snode;

typedef struct smsg {
    raft_msg m;
    int64_t at;
    uint64_t vals[RAFT_MAX_FETCH_BATCHES];
    uint8_t chunk[CHUNK];
} smsg;

typedef struct sim {
    rsim_opts o;
    rsim_stats st;
    rng rng;
    int64_t now;
    int nn, nv;
    snode nodes[MAX_NODES];
    bool conn[MAX_NODES][MAX_NODES];
    smsg *q;
    size_t nq, capq;
    /* global committed log */
    ent *clog;
    uint64_t *cdig; /* cdig[o]: digest of clog[0, o) */
    int64_t G, capc;
    int32_t *leader_of; /* by epoch, 0 none */
    int64_t cap_leader;
    uint64_t next_val;
    bool failed;
    uint64_t step;
    /* phases */
    bool calm;
    int64_t phase_start;
    int64_t g_at_calm;
    double loss;
} sim;

static sim *cur; /* for the abort handler */

static void report_replay(const sim *s) {
    fprintf(stderr,
            "raft-sim: seed %llu, step %llu of %llu, t=%lld ms\n"
            "replay: make raft-sim SEED=%llu STEPS=%llu VOTERS=%d%s\n",
            (unsigned long long)s->o.seed, (unsigned long long)s->step,
            (unsigned long long)s->o.steps, (long long)s->now,
            (unsigned long long)s->o.seed, (unsigned long long)s->o.steps,
            s->o.voters, s->o.snapshots ? "" : " SNAPSHOTS=0");
}

static void on_abort(int sig) {
    (void)sig;
    if (cur)
        report_replay(cur);
    signal(SIGABRT, SIG_DFL);
}

__attribute__((format(printf, 2, 3))) static void fail(sim *s, const char *fmt,
                                                       ...) {
    if (s->failed)
        return;
    s->failed = true;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "raft-sim FAILED: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    report_replay(s);
}

#define TRACE(s, ...)                                                          \
    do {                                                                       \
        if ((s)->o.trace) {                                                    \
            printf("%8lld ", (long long)(s)->now);                             \
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
        }                                                                      \
    } while (0)

static uint64_t fold(uint64_t d, const ent *e) {
    d ^= e->val + (uint64_t)e->epoch * 0x9e3779b97f4a7c15ULL;
    return d * 0x100000001b3ULL;
}

static bool chance(sim *s, unsigned per_mille) {
    return rng_below(&s->rng, 1000) < per_mille;
}

/* ---------- the simulated log (raft_log_ops) ---------- */

static int64_t lend(const snode *n) {
    return n->start + n->n;
}

static int32_t llast_epoch(const snode *n) {
    if (n->n > 0)
        return n->e[n->n - 1].epoch;
    return n->start > 0 ? n->start_snap_id.epoch : 0;
}

/* KafkaRaftLog.endOffsetForEpoch over LeaderEpochFileCache.endOffsetFor */
static raft_oe log_end_offset_for_epoch(void *ctx, int32_t epoch) {
    snode *n = ctx;
    raft_oe none = {lend(n), llast_epoch(n)};
    if (epoch < 0 || n->n == 0)
        return none;
    raft_oe res;
    if (n->e[n->n - 1].epoch == epoch) {
        res = (raft_oe){lend(n), epoch};
    } else {
        int64_t i = n->n - 1;
        while (i >= 0 && n->e[i].epoch > epoch)
            i--;
        if (i == n->n - 1)
            return none; /* no higher epoch: requested is past the latest */
        int64_t higher = n->start + i + 1;
        res =
            i < 0 ? (raft_oe){higher, epoch} : (raft_oe){higher, n->e[i].epoch};
    }
    if (n->start > 0 && res.offset == n->start && res.epoch == epoch)
        return n->start_snap_id;
    return res;
}

static int32_t log_epoch_at(void *ctx, int64_t off) {
    snode *n = ctx;
    if (off < n->start || off >= lend(n))
        return -1;
    return n->e[off - n->start].epoch;
}

static int log_read(void *ctx, int64_t off, uint32_t max, raft_batch *out,
                    int cap) {
    snode *n = ctx;
    int k = 0;
    uint32_t bytes = 0;
    while (off < lend(n) && k < cap && (k == 0 || bytes + 8 <= max)) {
        ent *e = &n->e[off - n->start];
        out[k] = (raft_batch){.base_offset = off,
                              .last_offset = off,
                              .epoch = e->epoch,
                              .control = e->val == 0,
                              .data = e->val ? (const uint8_t *)&e->val : NULL,
                              .len = e->val ? 8 : 0};
        bytes += 8;
        k++;
        off++;
    }
    return k;
}

static bool log_read_snapshot(void *ctx, raft_oe id, int64_t pos, uint32_t max,
                              const uint8_t **data, uint32_t *len,
                              int64_t *size) {
    snode *n = ctx;
    if (n->snap_id.offset <= 0 || n->snap_id.offset != id.offset ||
        n->snap_id.epoch != id.epoch)
        return false;
    *size = SNAP_BYTES;
    if (pos < 0 || pos >= SNAP_BYTES) {
        *data = NULL;
        *len = 0;
        return true;
    }
    *data = n->snap + pos;
    *len = (uint32_t)(SNAP_BYTES - pos < max ? SNAP_BYTES - pos : max);
    return true;
}

static void log_push(snode *n, ent e) {
    if (n->n == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 256;
        n->e = realloc(n->e, sizeof(ent) * (size_t)n->cap);
        if (!n->e)
            abort();
    }
    n->e[n->n++] = e;
}

/* Move the log start to `off` (entries below it go). */
static void log_drop_prefix(snode *n, int64_t off) {
    if (off <= n->start)
        return;
    int64_t k = off - n->start;
    if (k > n->n)
        k = n->n;
    memmove(n->e, n->e + k, sizeof(ent) * (size_t)(n->n - k));
    n->n -= k;
    n->start = off;
}

/* ---------- snapshots ---------- */

static void snap_encode(uint8_t out[SNAP_BYTES], uint64_t dig, raft_oe id) {
    memset(out, 0, SNAP_BYTES);
    memcpy(out, &dig, 8);
    memcpy(out + 8, &id.offset, 8);
    memcpy(out + 16, &id.epoch, 4);
    for (int i = 20; i < SNAP_BYTES; i++)
        out[i] = (uint8_t)(dig >> (i % 8) * 8);
}

static uint64_t snap_digest(const uint8_t in[SNAP_BYTES]) {
    uint64_t d;
    memcpy(&d, in, 8);
    return d;
}

/* The digest of a node's state at `off` (<= its log end): its snapshot's
 * digest folded with its entries from the start. */
static uint64_t node_digest(const snode *n, int64_t off) {
    uint64_t d = n->start > 0 ? snap_digest(n->start_snap) : 0;
    for (int64_t o = n->start; o < off; o++)
        d = fold(d, &n->e[o - n->start]);
    return d;
}

/* ---------- the global committed log (C4) ---------- */

static bool ent_eq(const ent *a, const ent *b) {
    return a->epoch == b->epoch && a->val == b->val;
}

static void clog_extend(sim *s, const snode *src, int64_t hw) {
    while (s->G < hw) {
        int64_t o = s->G;
        if (o < src->start) {
            fail(s,
                 "node %d commits %lld but its log starts at %lld past "
                 "the global committed offset %lld",
                 src->id, (long long)hw, (long long)src->start,
                 (long long)s->G);
            return;
        }
        if (s->G + 1 >= s->capc) {
            s->capc = s->capc ? s->capc * 2 : 1024;
            s->clog = realloc(s->clog, sizeof(ent) * (size_t)s->capc);
            s->cdig = realloc(s->cdig, sizeof(uint64_t) * (size_t)s->capc);
            if (!s->clog || !s->cdig)
                abort();
            if (o == 0)
                s->cdig[0] = 0;
        }
        s->clog[o] = src->e[o - src->start];
        s->cdig[o + 1] = fold(s->cdig[o], &s->clog[o]);
        s->G++;
    }
}

/* How far a node's log agrees with the committed log: a node may hold
 * stale, uncommitted entries at committed offsets (a deposed leader, its
 * followers) until it truncates them, so only the agreeing prefix counts
 * toward C6. */
static void match_advance(sim *s, snode *n) {
    if (n->match_end < n->start)
        n->match_end = n->start; /* a verified snapshot covers the rest */
    while (n->match_end < s->G && n->match_end < lend(n) &&
           ent_eq(&n->e[n->match_end - n->start], &s->clog[n->match_end]))
        n->match_end++;
}

/* A message's main fields, for --trace. */
static const char *describe(const raft_msg *m) {
    static char buf[160];
    switch (m->kind) {
    case RAFT_VOTE_REQ:
        snprintf(buf, sizeof(buf), " vote epoch %d last %lld/%d%s",
                 m->u.vote.replica_epoch, (long long)m->u.vote.last_offset,
                 m->u.vote.last_offset_epoch, m->u.vote.pre_vote ? " pre" : "");
        break;
    case RAFT_FETCH_REQ:
        snprintf(
            buf, sizeof(buf), " fetch epoch %d offset %lld last %d hw %lld",
            m->u.fetch.current_leader_epoch, (long long)m->u.fetch.fetch_offset,
            m->u.fetch.last_fetched_epoch,
            (long long)m->u.fetch.high_watermark);
        break;
    case RAFT_FETCH_RESP:
        snprintf(buf, sizeof(buf),
                 " err %d/%d leader %d epoch %d hw %lld batches %d div %lld/%d "
                 "snap %lld/%d",
                 m->u.fresp.error_code, m->u.fresp.partition_error,
                 m->u.fresp.leader_id, m->u.fresp.leader_epoch,
                 (long long)m->u.fresp.high_watermark, m->u.fresp.n_batches,
                 (long long)m->u.fresp.diverging.offset,
                 m->u.fresp.diverging.epoch,
                 (long long)m->u.fresp.snapshot_id.offset,
                 m->u.fresp.snapshot_id.epoch);
        break;
    case RAFT_VOTE_RESP:
    case RAFT_BEGIN_RESP:
    case RAFT_END_RESP:
        snprintf(buf, sizeof(buf), " err %d/%d leader %d epoch %d%s",
                 m->u.eresp.error_code, m->u.eresp.partition_error,
                 m->u.eresp.leader_id, m->u.eresp.leader_epoch,
                 m->u.eresp.vote_granted ? " granted" : "");
        break;
    default:
        buf[0] = 0;
        break;
    }
    return buf;
}

/* ---------- network ---------- */

static int node_index(const sim *s, int32_t id) {
    for (int i = 0; i < s->nn; i++)
        if (s->nodes[i].id == id)
            return i;
    return -1;
}

static void net_send(sim *s, const raft_msg *m) {
    int a = node_index(s, m->from), b = node_index(s, m->to);
    if (b < 0 || !s->conn[a][b] || rng_below(&s->rng, 1000) < s->loss * 1000) {
        s->st.dropped++;
        return;
    }
    if (s->nq == s->capq) {
        s->capq = s->capq ? s->capq * 2 : 256;
        s->q = realloc(s->q, sizeof(smsg) * s->capq);
        if (!s->q)
            abort();
    }
    smsg *x = &s->q[s->nq++];
    x->m = *m;
    /* delay: mostly short, sometimes long (reordering) */
    int64_t d = (int64_t)rng_below(&s->rng, 20);
    if (chance(s, 30))
        d += (int64_t)rng_below(&s->rng, 600);
    x->at = s->now + d;
    if (m->kind == RAFT_FETCH_RESP) {
        for (int i = 0; i < m->u.fresp.n_batches; i++) {
            const raft_batch *bt = &m->u.fresp.batches[i];
            x->vals[i] = 0;
            if (bt->data)
                memcpy(&x->vals[i], bt->data, 8);
        }
    } else if (m->kind == RAFT_FSNAP_RESP && m->u.sresp.len) {
        if (m->u.sresp.len > CHUNK)
            abort();
        memcpy(x->chunk, m->u.sresp.data, m->u.sresp.len);
    }
}

/* ---------- a node's outbox ---------- */

static void node_crash(sim *s, snode *n);

/* Carry out a node's outbox in order. In a chaos phase the node sometimes
 * crashes part way through (after a random prefix of the items), which is
 * what the ordering contract of raft.h must survive. */
static void node_apply(sim *s, snode *n) {
    raft *r = &n->r;
    int stop = r->n_out;
    if (!s->calm && r->n_out > 0 && chance(s, 3))
        stop = (int)rng_below(&s->rng, (uint64_t)r->n_out);
    for (int k = 0; k < stop && !s->failed; k++) {
        raft_out *o = &r->out[k];
        switch (o->kind) {
        case RAFT_OUT_PERSIST: {
            const raft_qstate *q = &o->u.qstate;
            if (n->has_qs) {
                if (q->epoch < n->qs.epoch) /* C2 */
                    fail(s, "C2: node %d persisted epoch %d after %d", n->id,
                         q->epoch, n->qs.epoch);
                if (q->epoch == n->qs.epoch && n->qs.voted.id >= 0 &&
                    q->voted.id != n->qs.voted.id)
                    fail(s,
                         "C2: node %d changed its vote in epoch %d: %d -> %d",
                         n->id, q->epoch, n->qs.voted.id, q->voted.id);
            }
            n->qs = *q;
            n->has_qs = true;
            TRACE(s, "n%d persist epoch %d leader %d voted %d", n->id, q->epoch,
                  q->leader_id, q->voted.id);
            break;
        }
        case RAFT_OUT_TRUNCATE: {
            int64_t t = o->u.offset;
            if (t < s->G && t < lend(n) && t >= n->start &&
                ent_eq(&n->e[t - n->start], &s->clog[t])) /* C5 */
                fail(s,
                     "C5: node %d truncates committed offset %lld "
                     "(committed %lld)",
                     n->id, (long long)t, (long long)s->G);
            if (t < n->start || t > lend(n))
                fail(s, "node %d truncates to %lld outside [%lld, %lld]", n->id,
                     (long long)t, (long long)n->start, (long long)lend(n));
            TRACE(s, "n%d truncate %lld (end %lld)", n->id, (long long)t,
                  (long long)lend(n));
            n->n = t - n->start;
            if (n->synced > t)
                n->synced = t;
            if (n->match_end > t)
                n->match_end = t;
            break;
        }
        case RAFT_OUT_APPEND: {
            const raft_batch *b = &o->u.batch;
            if (b->base_offset != lend(n)) {
                fail(s, "node %d appends at %lld, log end %lld", n->id,
                     (long long)b->base_offset, (long long)lend(n));
                break;
            }
            for (int64_t off = b->base_offset; off <= b->last_offset; off++) {
                ent e = {b->epoch, 0};
                if (!b->control && b->data)
                    memcpy(&e.val, b->data, 8);
                log_push(n, e);
            }
            TRACE(s, "n%d append [%lld..%lld] epoch %d", n->id,
                  (long long)b->base_offset, (long long)b->last_offset,
                  b->epoch);
            break;
        }
        case RAFT_OUT_SEND:
            TRACE(s, "n%d send kind %d to %d corr %d", n->id, o->u.msg.kind,
                  o->u.msg.to, o->u.msg.correlation_id);
            net_send(s, &o->u.msg);
            break;
        case RAFT_OUT_COMMIT: {
            int64_t hw = o->u.offset;
            if (hw < n->committed) /* C3 */
                fail(s, "C3: node %d committed %lld after %lld", n->id,
                     (long long)hw, (long long)n->committed);
            if (hw > lend(n))
                fail(s, "node %d commits %lld past its log end %lld", n->id,
                     (long long)hw, (long long)lend(n));
            /* C4: what it commits matches what was committed */
            int64_t from = n->committed > n->start ? n->committed : n->start;
            for (int64_t off = from; off < hw && off < s->G && !s->failed;
                 off++)
                if (!ent_eq(&n->e[off - n->start], &s->clog[off]))
                    fail(s, "C4: node %d commits a different entry at %lld",
                         n->id, (long long)off);
            clog_extend(s, n, hw);
            n->committed = hw;
            for (int i = 0; i < s->nn; i++)
                match_advance(s, &s->nodes[i]);
            TRACE(s, "n%d commit %lld (G %lld)", n->id, (long long)hw,
                  (long long)s->G);
            break;
        }
        case RAFT_OUT_SNAPSHOT_WRITE:
            if (o->u.snap.position == 0)
                n->recv_len = 0;
            if (o->u.snap.position != n->recv_len ||
                n->recv_len + o->u.snap.len > SNAP_BYTES) {
                fail(s, "node %d snapshot chunk at %lld, has %u", n->id,
                     (long long)o->u.snap.position, n->recv_len);
                break;
            }
            memcpy(n->recv + n->recv_len, o->u.snap.data, o->u.snap.len);
            n->recv_len += o->u.snap.len;
            break;
        case RAFT_OUT_SNAPSHOT_INSTALL: {
            raft_oe id = o->u.snap.id;
            if (n->r.role == RAFT_LEADER) /* C8 */
                fail(s, "C8: leader %d loads a snapshot", n->id);
            if (n->recv_len != SNAP_BYTES)
                fail(s, "node %d installs a partial snapshot", n->id);
            if (id.offset > s->G ||
                snap_digest(n->recv) != s->cdig[id.offset]) /* C7 */
                fail(s,
                     "C7: node %d installs snapshot %lld/%d that is not "
                     "the committed log's replay",
                     n->id, (long long)id.offset, id.epoch);
            memcpy(n->snap, n->recv, SNAP_BYTES);
            n->snap_id = id;
            memcpy(n->start_snap, n->recv, SNAP_BYTES);
            n->start_snap_id = id;
            n->start = id.offset;
            n->n = 0;
            n->synced = id.offset;
            n->match_end = id.offset;
            s->st.snapshots_installed++;
            TRACE(s, "n%d install snapshot %lld/%d", n->id,
                  (long long)id.offset, id.epoch);
            break;
        }
        case RAFT_OUT_LOG_START:
            /* C7: a snapshot sits at the log start */
            if (o->u.offset != n->snap_id.offset)
                fail(s,
                     "C7: node %d moves its log start to %lld, its "
                     "snapshot is at %lld",
                     n->id, (long long)o->u.offset,
                     (long long)n->snap_id.offset);
            log_drop_prefix(n, o->u.offset);
            memcpy(n->start_snap, n->snap, SNAP_BYTES);
            n->start_snap_id = n->snap_id;
            break;
        }
    }
    bool crash_now = stop < r->n_out;
    raft_out_clear(r);
    if (crash_now && !s->failed) {
        TRACE(s, "n%d crash in the middle of its outbox", n->id);
        node_crash(s, n);
    }
}

/* ---------- node life ---------- */

static void node_boot(sim *s, snode *n) {
    raft_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    raft_config_defaults(&cfg);
    cfg.self.id = n->id;
    cfg.self.dir[0] = (uint8_t)n->id; /* a directory id per node */
    cfg.self.dir[15] = 0x5a;
    snprintf(cfg.cluster_id, sizeof(cfg.cluster_id), "simclusteridAAAAAAAAAA");
    cfg.voters.n = s->nv;
    for (int i = 0; i < s->nv; i++) {
        cfg.voters.v[i].id = s->nodes[i].id;
        cfg.voters.v[i].dir[0] = (uint8_t)s->nodes[i].id;
        cfg.voters.v[i].dir[15] = 0x5a;
    }
    cfg.fetch_snapshot_max_bytes = CHUNK;
    cfg.fetch_max_bytes = 64; /* 8 records a fetch: more round trips */
    raft_log_ops ops = {log_end_offset_for_epoch, log_epoch_at, log_read,
                        log_read_snapshot, n};
    raft_boot boot = {.qstate = n->qs,
                      .has_qstate = n->has_qs,
                      .log_start = n->start,
                      .log_end = lend(n),
                      .last_epoch = llast_epoch(n),
                      .snapshot_id = n->snap_id.offset > 0 ? n->snap_id
                                                           : (raft_oe){-1, -1},
                      .start_epoch = n->start > 0 ? n->start_snap_id.epoch : 0};
    rng_seed(&n->rng, rng_next(&s->rng));
    raft_init(&n->r, &cfg, &ops, &n->rng, &boot, s->now);
    n->alive = true;
    n->committed = -1;
    n->recv_len = 0;
    n->synced = lend(n);
    node_apply(s, n);
}

static void node_crash(sim *s, snode *n) {
    /* unsynced writes: lost, or kept in part (torn at the last one) */
    int64_t unsynced = lend(n) - n->synced;
    int64_t keep =
        unsynced > 0 ? (int64_t)rng_below(&s->rng, (uint64_t)unsynced + 1) : 0;
    n->n = n->synced + keep - n->start;
    n->synced = lend(n);
    if (n->match_end > lend(n))
        n->match_end = lend(n);
    n->alive = false;
    s->st.crashes++;
    TRACE(s, "n%d crash (kept %lld of %lld unsynced)", n->id, (long long)keep,
          (long long)unsynced);
}

static void node_sync(sim *s, snode *n) {
    if (n->synced == lend(n))
        return;
    n->synced = lend(n);
    TRACE(s, "n%d synced %lld", n->id, (long long)n->synced);
    raft_log_synced(&n->r, s->now, n->synced);
    node_apply(s, n);
}

static void node_snapshot(sim *s, snode *n) {
    int64_t off = n->committed;
    if (off > n->synced)
        off = n->synced;
    if (off <= n->start + 4 || off > lend(n))
        return;
    raft_oe id = {off, n->e[off - 1 - n->start].epoch};
    uint64_t d = node_digest(n, off);
    if (off > s->G || d != s->cdig[off]) { /* C7 */
        fail(s, "C7: node %d snapshot at %lld differs from the committed log",
             n->id, (long long)off);
        return;
    }
    snap_encode(n->snap, d, id);
    n->snap_id = id;
    s->st.snapshots_taken++;
    TRACE(s, "n%d snapshot %lld/%d", n->id, (long long)off, id.epoch);
    raft_snapshot_created(&n->r, id);
    node_apply(s, n);
}

/* ---------- checks after every step ---------- */

static void check_step(sim *s) {
    int count = 0;
    for (int i = 0; i < s->nn; i++) {
        snode *n = &s->nodes[i];
        if (n->alive && n->r.role == RAFT_LEADER) { /* C1 */
            int32_t e = n->r.qs.epoch;
            if (e >= s->cap_leader) {
                int64_t c = s->cap_leader;
                s->cap_leader = e * 2 + 16;
                s->leader_of = realloc(s->leader_of,
                                       sizeof(int32_t) * (size_t)s->cap_leader);
                if (!s->leader_of)
                    abort();
                memset(s->leader_of + c, 0,
                       sizeof(int32_t) * (size_t)(s->cap_leader - c));
            }
            if (s->leader_of[e] == 0) {
                s->leader_of[e] = n->id;
                s->st.elections++;
            } else if (s->leader_of[e] != n->id) {
                fail(s, "C1: two leaders in epoch %d: %d and %d", e,
                     s->leader_of[e], n->id);
            }
        }
        if (n->alive && n->r.violations) /* a peer broke the protocol */
            fail(s,
                 "node %d saw %llu protocol violations (two leaders in "
                 "an epoch, a high watermark moving back, a truncation "
                 "below it)",
                 n->id, (unsigned long long)n->r.violations);
        match_advance(s, n);
        /* C6, crashed ones included */
        if (n->voter && n->synced >= s->G && n->match_end >= s->G)
            count++;
    }
    if (s->G > 0 && count < s->nv / 2 + 1)
        fail(s, "C6: only %d voters hold the committed log up to %lld durably",
             count, (long long)s->G);
}

/* ---------- the run ---------- */

static void set_partition(sim *s) {
    for (int a = 0; a < s->nn; a++)
        for (int b = 0; b < s->nn; b++)
            s->conn[a][b] = true;
    unsigned kind = (unsigned)rng_below(&s->rng, 3);
    if (kind == 0) {
        TRACE(s, "heal");
        return;
    }
    if (kind == 1) { /* isolate one node */
        int x = (int)rng_below(&s->rng, (uint64_t)s->nn);
        for (int b = 0; b < s->nn; b++)
            if (b != x)
                s->conn[x][b] = s->conn[b][x] = false;
        TRACE(s, "isolate n%d", s->nodes[x].id);
        return;
    }
    /* split in two random groups; sometimes one way only */
    bool side[MAX_NODES];
    for (int a = 0; a < s->nn; a++)
        side[a] = rng_below(&s->rng, 2);
    bool oneway = chance(s, 250);
    for (int a = 0; a < s->nn; a++)
        for (int b = 0; b < s->nn; b++)
            if (side[a] != side[b] && (!oneway || side[a]))
                s->conn[a][b] = false;
    TRACE(s, "split%s", oneway ? " (one way)" : "");
    s->st.partitions++;
}

static void advance(sim *s);

/* Deliver one due message, picked at random (reordering); with none due,
 * let time pass instead. */
static void deliver(sim *s) {
    size_t due[64];
    size_t nd = 0;
    for (size_t i = 0; i < s->nq && nd < 64; i++)
        if (s->q[i].at <= s->now)
            due[nd++] = i;
    if (!nd) {
        advance(s);
        return;
    }
    size_t i = due[rng_below(&s->rng, nd)];
    smsg x = s->q[i];
    if (chance(s, 20)) {
        s->q[i].at = s->now + (int64_t)rng_below(&s->rng, 50); /* duplicate */
        s->st.duplicated++;
    } else {
        s->q[i] = s->q[--s->nq];
    }
    int b = node_index(s, x.m.to);
    snode *n = &s->nodes[b];
    if (!n->alive) {
        s->st.dropped++;
        return;
    }
    if (x.m.kind == RAFT_FETCH_RESP)
        for (int k = 0; k < x.m.u.fresp.n_batches; k++)
            x.m.u.fresp.batches[k].data = x.m.u.fresp.batches[k].control
                                              ? NULL
                                              : (const uint8_t *)&x.vals[k];
    if (x.m.kind == RAFT_FSNAP_RESP)
        x.m.u.sresp.data = x.chunk;
    s->st.delivered++;
    TRACE(s, "n%d recv kind %d from %d corr %d%s", n->id, x.m.kind, x.m.from,
          x.m.correlation_id, describe(&x.m));
    raft_receive(&n->r, s->now, &x.m);
    node_apply(s, n);
}

static void advance(sim *s) {
    int64_t dt = 1 + (int64_t)rng_below(&s->rng, 10);
    s->now += dt;
    for (int i = 0; i < s->nn && !s->failed; i++) {
        snode *n = &s->nodes[i];
        if (!n->alive)
            continue;
        raft_tick(&n->r, s->now);
        node_apply(s, n);
    }
}

static void phase(sim *s) {
    if (s->now - s->phase_start < PHASE_MS)
        return;
    if (s->calm) {
        /* C9: a calm phase must commit something */
        if (s->G <= s->g_at_calm)
            fail(s,
                 "C9: no progress in %d ms with every node up and "
                 "connected (committed %lld)",
                 PHASE_MS, (long long)s->G);
        s->calm = false;
        s->loss = 0.10;
    } else {
        s->calm = true;
        s->loss = 0.02;
        for (int a = 0; a < s->nn; a++)
            for (int b = 0; b < s->nn; b++)
                s->conn[a][b] = true;
        for (int i = 0; i < s->nn; i++)
            if (!s->nodes[i].alive)
                node_boot(s, &s->nodes[i]);
        s->g_at_calm = s->G;
        TRACE(s, "calm");
    }
    s->phase_start = s->now;
}

static void one_step(sim *s) {
    unsigned r = (unsigned)rng_below(&s->rng, 1000);
    snode *n = &s->nodes[rng_below(&s->rng, (uint64_t)s->nn)];
    if (!s->calm && r < 2) {
        if (n->alive)
            node_crash(s, n);
    } else if (!s->calm && r < 6) {
        if (!n->alive)
            node_boot(s, n);
    } else if (!s->calm && r < 8) {
        set_partition(s);
    } else if (r < 40) {
        if (n->alive && n->r.role == RAFT_LEADER) {
            uint64_t v = ++s->next_val;
            int64_t base;
            if (raft_propose(&n->r, s->now, (const uint8_t *)&v, 8, 1, &base) ==
                KERR_NONE) {
                TRACE(s, "n%d propose %llu at %lld", n->id,
                      (unsigned long long)v, (long long)base);
                node_apply(s, n);
            }
        }
    } else if (r < 41) {
        /* a controlled shutdown's resignation (RaftClient.resign) */
        if (n->alive && n->r.role == RAFT_LEADER && chance(s, 100)) {
            TRACE(s, "n%d resign", n->id);
            raft_resign(&n->r, s->now);
            node_apply(s, n);
        }
    } else if (r < 45 && s->o.snapshots) {
        if (n->alive)
            node_snapshot(s, n);
    } else if (r < 200) {
        if (n->alive)
            node_sync(s, n);
    } else if (r < 700) {
        deliver(s);
    } else {
        advance(s);
    }
}

bool rsim_run(const rsim_opts *opts, rsim_stats *stats) {
    sim *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    s->o = *opts;
    if (s->o.voters < 1 || s->o.voters > 7)
        s->o.voters = 3;
    rng_seed(&s->rng, s->o.seed);
    s->nv = s->o.voters;
    s->nn = s->nv + (s->o.observers > 0 ? 1 : 0);
    for (int i = 0; i < s->nn; i++) {
        snode *n = &s->nodes[i];
        n->id = i < s->nv ? i + 1 : OBSERVER_ID;
        n->voter = i < s->nv;
        n->snap_id = (raft_oe){-1, -1};
        n->start_snap_id = (raft_oe){-1, -1};
    }
    for (int a = 0; a < s->nn; a++)
        for (int b = 0; b < s->nn; b++)
            s->conn[a][b] = true;
    s->calm = true;
    s->loss = 0.02;
    cur = s;
    void (*old)(int) = signal(SIGABRT, on_abort);
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < s->nn; i++)
        node_boot(s, &s->nodes[i]);
    for (s->step = 0; s->step < s->o.steps && !s->failed; s->step++) {
        one_step(s);
        if (!s->failed)
            check_step(s);
        phase(s);
    }
    s->st.steps = s->step;
    s->st.committed = s->G;
    s->st.sim_ms = s->now;
    bool ok = !s->failed;
    if (!s->o.quiet)
        printf("raft-sim seed %llu voters %d: %s, %llu steps, %lld s "
               "simulated, committed %lld, %llu leader epochs, %llu "
               "crashes, %llu partitions, %llu delivered, %llu dropped, "
               "%llu duplicated, snapshots %llu taken %llu installed\n",
               (unsigned long long)s->o.seed, s->nv, ok ? "ok" : "FAILED",
               (unsigned long long)s->st.steps, (long long)(s->now / 1000),
               (long long)s->G, (unsigned long long)s->st.elections,
               (unsigned long long)s->st.crashes,
               (unsigned long long)s->st.partitions,
               (unsigned long long)s->st.delivered,
               (unsigned long long)s->st.dropped,
               (unsigned long long)s->st.duplicated,
               (unsigned long long)s->st.snapshots_taken,
               (unsigned long long)s->st.snapshots_installed);
    if (stats)
        *stats = s->st;
    signal(SIGABRT, old);
    cur = NULL;
    for (int i = 0; i < s->nn; i++)
        free(s->nodes[i].e);
    free(s->q);
    free(s->clog);
    free(s->cdig);
    free(s->leader_of);
    free(s);
    return ok;
}
