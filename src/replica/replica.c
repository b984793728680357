/*
 * replica.c - the replica manager (see replica.h for the contract and the
 * invariants it keeps): replica records in a hash by (topic id, partition),
 * the high watermark, the append path and the purgatory.
 *
 * The purgatory (Kafka's DelayedOperationPurgatory) keeps each waiting
 * operation once in a list of all entries (for deadlines and shutdown) and
 * once in the watch list of every partition it watches. An entry is
 * reference-counted while a check walks a snapshot of a watch list, so a
 * completion that frees other entries (or the one being looked at) is safe.
 * Threading: loop thread only.
 */
#include "replica/replica.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "proto/errors.h"
#include "replica/internal.h"

/* ---- records ------------------------------------------------------------- */

/* What a leader knows of a follower (Kafka's Replica / ReplicaState). */
typedef struct repl_follower {
    int32_t id;
    int64_t leo;                   /* -1 until it fetched */
    int64_t last_fetch_leader_leo; /* the leader's LEO at its last fetch */
    int64_t last_fetch_ms;
    int64_t last_caught_up_ms; /* last time it had the leader's LEO */
    int64_t broker_epoch;      /* of its fetches (-1: not sent) */
    bool has_epoch;            /* it fetched since this leader began */
} repl_follower;

typedef enum {
    ISR_COMMITTED = 0,
    ISR_PENDING_EXPAND,
    ISR_PENDING_SHRINK,
} isr_state;

typedef struct repl_replica {
    struct repl_replica *next; /* hash chain */
    repl_key key;
    log_partition *log;
    repl_role role;
    int32_t leader; /* -1: none */
    int32_t leader_epoch;
    int32_t partition_epoch;
    int64_t epoch_start_offset; /* a leader's: where its epoch began */
    int32_t n_isr;
    int32_t *isr; /* committed: the image's or the last AlterPartition's */
    int32_t n_followers;
    repl_follower *followers; /* every other replica of the partition */
    /* a pending AlterPartition (leader only, one at a time) */
    isr_state pending;
    uint64_t pending_seq;
    int32_t n_sent;
    int32_t *sent_isr;    /* the ISR asked for */
    int64_t *sent_epochs; /* with its members' broker epochs */
} repl_replica;

typedef struct watch_list {
    struct watch_list *next; /* hash chain */
    repl_key key;
    repl_op **ops;
    int n, cap;
} watch_list;

struct repl_op {
    repl_manager *m;
    repl_op *prev, *next; /* all entries */
    repl_key *keys;
    int n_keys;
    repl_op_ops ops;
    void *ctx;
    int64_t deadline_ms;
    uint64_t timer_id; /* 0: none */
    bool done;
    int refs; /* snapshots holding it */
};

struct repl_manager {
    int32_t node_id;
    net_loop *loop;
    repl_replica **buckets;
    size_t n_buckets, n_replicas;
    watch_list **wbuckets;
    size_t n_wbuckets, n_watch;
    repl_op *ops; /* all entries */
    size_t n_ops;
    repl_fetchers *fetchers; /* fetcher.c; NULL until started */
    bool isr_on;             /* repl_isr_start was called */
    repl_isr_opts isr;
    uint64_t isr_seq;   /* the last pending state's number */
    uint64_t isr_timer; /* the shrink check, 0: none */
};

static uint64_t key_hash(const repl_key *k) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 16; i++)
        h = (h ^ k->topic_id[i]) * 1099511628211ull;
    h = (h ^ (uint32_t)k->partition) * 1099511628211ull;
    return h ^ (h >> 29);
}

static bool key_eq(const repl_key *a, const repl_key *b) {
    return a->partition == b->partition &&
           !memcmp(a->topic_id, b->topic_id, 16);
}

repl_key repl_key_of(const cl_partition *p) {
    repl_key k;
    memcpy(k.topic_id, p->topic->id, 16);
    k.partition = p->id;
    return k;
}

repl_manager *repl_manager_new(int32_t node_id, net_loop *loop) {
    repl_manager *m = xcalloc(1, sizeof *m);
    m->node_id = node_id;
    m->loop = loop;
    m->n_buckets = 256;
    m->buckets = xcalloc(m->n_buckets, sizeof *m->buckets);
    m->n_wbuckets = 256;
    m->wbuckets = xcalloc(m->n_wbuckets, sizeof *m->wbuckets);
    return m;
}

static void replica_free(repl_replica *r) {
    free(r->sent_isr);
    free(r->sent_epochs);
    free(r->isr);
    free(r->followers);
    free(r);
}

void repl_manager_free(repl_manager *m) {
    if (!m)
        return;
    SL_ASSERT(m->n_ops == 0); /* repl_purgatory_shutdown first */
    if (m->isr_timer && m->loop)
        net_timer_cancel(m->loop, m->isr_timer);
    m->isr_timer = 0;
    repl_fetchers_stop(m);
    for (size_t i = 0; i < m->n_buckets; i++)
        for (repl_replica *r = m->buckets[i], *nx; r; r = nx) {
            nx = r->next;
            replica_free(r);
        }
    for (size_t i = 0; i < m->n_wbuckets; i++)
        for (watch_list *w = m->wbuckets[i], *nx; w; w = nx) {
            nx = w->next;
            free(w->ops);
            free(w);
        }
    free(m->buckets);
    free(m->wbuckets);
    free(m);
}

static repl_replica *find(const repl_manager *m, const repl_key *k) {
    for (repl_replica *r = m->buckets[key_hash(k) % m->n_buckets]; r;
         r = r->next)
        if (key_eq(&r->key, k))
            return r;
    return NULL;
}

static void grow(repl_manager *m) {
    size_t nb = m->n_buckets * 2;
    repl_replica **b = xcalloc(nb, sizeof *b);
    for (size_t i = 0; i < m->n_buckets; i++)
        for (repl_replica *r = m->buckets[i], *nx; r; r = nx) {
            nx = r->next;
            size_t h = key_hash(&r->key) % nb;
            r->next = b[h];
            b[h] = r;
        }
    free(m->buckets);
    m->buckets = b;
    m->n_buckets = nb;
}

static repl_replica *find_or_add(repl_manager *m, const repl_key *k) {
    repl_replica *r = find(m, k);
    if (r)
        return r;
    if (m->n_replicas >= m->n_buckets * 2)
        grow(m);
    r = xcalloc(1, sizeof *r);
    r->key = *k;
    r->leader_epoch = -1;
    r->leader = -1;
    size_t h = key_hash(k) % m->n_buckets;
    r->next = m->buckets[h];
    m->buckets[h] = r;
    m->n_replicas++;
    return r;
}

/* ---- the high watermark --------------------------------------------------
 */

static int64_t now_ms(const repl_manager *m) {
    return m->isr.now_ms ? m->isr.now_ms(m->isr.ctx) : clk_mono_ms();
}

static bool in_list(const int32_t *v, int32_t n, int32_t x) {
    for (int32_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

static repl_follower *follower_of(const repl_replica *r, int32_t id) {
    for (int32_t i = 0; i < r->n_followers; i++)
        if (r->followers[i].id == id)
            return &r->followers[i];
    return NULL;
}

/* The maximal ISR (KIP-497): the committed one, plus the member a pending
 * expansion adds (a pending shrink still counts the leaving ones). */
static bool in_maximal_isr(const repl_replica *r, int32_t id) {
    return in_list(r->isr, r->n_isr, id) ||
           (r->pending == ISR_PENDING_EXPAND &&
            in_list(r->sent_isr, r->n_sent, id));
}

static int32_t maximal_isr_size(const repl_replica *r) {
    return r->pending == ISR_PENDING_EXPAND ? r->n_sent : r->n_isr;
}

/* min.insync.replicas capped at the replica count (KIP-966, Kafka's
 * Partition.effectiveMinIsr). */
static int32_t effective_min_isr(const repl_replica *r) {
    return SL_MIN(log_get_config(r->log)->min_insync_replicas,
                  r->n_followers + 1);
}

/* Kafka's ReplicaState.isCaughtUp. */
static bool caught_up(const repl_manager *m, const repl_follower *f,
                      int64_t leader_leo, int64_t now) {
    return leader_leo == f->leo ||
           now - f->last_caught_up_ms <= m->isr.lag_time_max_ms;
}

/* Kafka's Partition.isReplicaIsrEligible (KIP-841, KIP-903): registered,
 * not fenced, not shutting down, and it fetched with its registration's
 * broker epoch (or -1) since this leader began. */
static bool isr_eligible(const repl_manager *m, const repl_follower *f) {
    if (!m->isr_on || !m->isr.image || !f->has_epoch)
        return false;
    const cl_broker *b = cl_broker_find(m->isr.image, f->id);
    return b && !b->fenced && !b->in_controlled_shutdown &&
           (f->broker_epoch == -1 || f->broker_epoch == b->epoch);
}

/* Invariant 1: a leader's HW is the smallest LEO of its maximal ISR (and
 * of the followers caught up and eligible to join it, Kafka's
 * maybeIncrementLeaderHW), and moves only forward; not at all while the
 * committed ISR is under min.insync.replicas (Kafka 4, KIP-966). Returns
 * true if it moved. */
static bool hw_maybe_advance(repl_manager *m, repl_replica *r) {
    if (r->role != REPL_ROLE_LEADER || !r->log || log_is_failed(r->log))
        return false;
    if (r->n_isr < effective_min_isr(r))
        return false;
    int64_t leo = log_end_offset(r->log);
    int64_t now = m->isr_on ? now_ms(m) : 0;
    int64_t cand = leo;
    for (int32_t i = 0; i < r->n_isr; i++) /* members without a record */
        if (r->isr[i] != m->node_id && !follower_of(r, r->isr[i]))
            cand = -1;
    for (int32_t i = 0; i < r->n_followers; i++) {
        const repl_follower *f = &r->followers[i];
        bool counts =
            in_maximal_isr(r, f->id) ||
            (m->isr_on && caught_up(m, f, leo, now) && isr_eligible(m, f));
        if (counts && f->leo < cand)
            cand = f->leo;
    }
    int64_t old = log_high_watermark(r->log);
    if (cand <= old)
        return false;
    log_set_high_watermark(r->log, cand);
    SL_ASSERT(log_high_watermark(r->log) == cand &&
              log_high_watermark(r->log) > old);
    return true;
}

/* ---- ISR changes (Kafka's Partition.maybeExpandIsr / maybeShrinkIsr) ---- */

static void isr_str(char *out, size_t len, const int32_t *v, int32_t n) {
    size_t o = 0;
    out[0] = 0;
    for (int32_t i = 0; i < n && o + 12 < len; i++)
        o += (size_t)snprintf(out + o, len - o, "%s%d", i ? "," : "", v[i]);
}

static void isr_reset(repl_replica *r) {
    r->pending = ISR_COMMITTED;
    r->pending_seq = 0;
    r->n_sent = 0;
}

static void isr_submit(repl_manager *m, repl_replica *r);

/* Kafka's prepareIsrExpand / prepareIsrShrink: the pending state, with
 * the broker epochs of the members as this leader knows them. */
static void isr_propose(repl_manager *m, repl_replica *r, isr_state kind,
                        const int32_t *ids, int32_t n) {
    r->sent_isr = xrealloc(r->sent_isr, sizeof *r->sent_isr * (size_t)(n + 1));
    r->sent_epochs =
        xrealloc(r->sent_epochs, sizeof *r->sent_epochs * (size_t)(n + 1));
    for (int32_t i = 0; i < n; i++) {
        const repl_follower *f = follower_of(r, ids[i]);
        r->sent_isr[i] = ids[i];
        r->sent_epochs[i] =
            ids[i] == m->node_id
                ? (m->isr.broker_epoch ? m->isr.broker_epoch(m->isr.ctx) : -1)
            : f && f->has_epoch ? f->broker_epoch
                                : -1;
    }
    r->n_sent = n;
    r->pending = kind;
    r->pending_seq = ++m->isr_seq;
    isr_submit(m, r);
}

static void isr_submit(repl_manager *m, repl_replica *r) {
    SL_ASSERT(r->pending != ISR_COMMITTED);
    repl_isr_change c = {
        .key = r->key,
        .seq = r->pending_seq,
        .leader_epoch = r->leader_epoch,
        .partition_epoch = r->partition_epoch,
        .n_isr = r->n_sent,
        .isr = r->sent_isr,
        .broker_epochs = r->sent_epochs,
    };
    int16_t err = m->isr.submit ? m->isr.submit(m->isr.ctx, &c)
                                : KERR_OPERATION_NOT_ATTEMPTED;
    if (err) /* one is queued for it already: back to the committed ISR */
        isr_reset(r);
}

static void maybe_expand(repl_manager *m, repl_replica *r,
                         const repl_follower *f) {
    if (!m->isr_on || r->role != REPL_ROLE_LEADER || !r->log ||
        log_is_failed(r->log) || r->pending != ISR_COMMITTED ||
        in_list(r->isr, r->n_isr, f->id) || !isr_eligible(m, f))
        return;
    /* caught up to the HW and into this leader's epoch (Kafka's
     * isFollowerInSync) */
    if (f->leo < log_high_watermark(r->log) || f->leo < r->epoch_start_offset)
        return;
    int32_t *ids = xmalloc(sizeof *ids * (size_t)(r->n_isr + 1));
    memcpy(ids, r->isr, sizeof *ids * (size_t)r->n_isr);
    ids[r->n_isr] = f->id;
    char from[128], to[128];
    isr_str(from, sizeof from, r->isr, r->n_isr);
    isr_str(to, sizeof to, ids, r->n_isr + 1);
    SL_INFO("replica",
            "[Partition %s-%d broker=%d] Expanding ISR from %s to %s "
            "(replica %d at %" PRId64 ", high watermark %" PRId64 ")",
            log_topic(r->log), log_partition_id(r->log), m->node_id, from, to,
            f->id, f->leo, log_high_watermark(r->log));
    isr_propose(m, r, ISR_PENDING_EXPAND, ids, r->n_isr + 1);
    free(ids);
}

static void maybe_shrink(repl_manager *m, repl_replica *r, int64_t now) {
    if (r->role != REPL_ROLE_LEADER || !r->log || log_is_failed(r->log) ||
        r->pending != ISR_COMMITTED)
        return;
    int64_t leo = log_end_offset(r->log);
    int32_t *keep = xmalloc(sizeof *keep * (size_t)(r->n_isr + 1));
    int32_t nk = 0;
    char outs[512];
    size_t o = 0;
    outs[0] = 0;
    for (int32_t i = 0; i < r->n_isr; i++) {
        int32_t id = r->isr[i];
        const repl_follower *f = follower_of(r, id);
        if (id == m->node_id || (f && caught_up(m, f, leo, now))) {
            keep[nk++] = id;
        } else if (o + 100 < sizeof outs) {
            o += (size_t)snprintf(outs + o, sizeof outs - o,
                                  "%s(brokerId: %d, endOffset: %" PRId64
                                  ", lastCaughtUpTimeMs: %" PRId64 ")",
                                  o ? " " : "", id, f ? f->leo : -1,
                                  f ? f->last_caught_up_ms : -1);
        }
    }
    if (nk < r->n_isr) {
        char from[128], to[128];
        isr_str(from, sizeof from, r->isr, r->n_isr);
        isr_str(to, sizeof to, keep, nk);
        SL_INFO("replica",
                "[Partition %s-%d broker=%d] Shrinking ISR from %s to %s. "
                "Leader: (highWatermark: %" PRId64 ", endOffset: %" PRId64
                "). Out of sync replicas: %s.",
                log_topic(r->log), log_partition_id(r->log), m->node_id, from,
                to, log_high_watermark(r->log), leo, outs);
        isr_propose(m, r, ISR_PENDING_SHRINK, keep, nk);
    }
    free(keep);
}

static void isr_tick(net_loop *loop, void *ctx) {
    repl_manager *m = ctx;
    m->isr_timer = 0;
    repl_isr_check(m);
    m->isr_timer = net_timer_add(
        loop, SL_MAX(m->isr.lag_time_max_ms / 2, (int64_t)1), isr_tick, m);
}

void repl_isr_start(repl_manager *m, const repl_isr_opts *o) {
    m->isr = *o;
    m->isr_on = true;
    if (m->loop && !m->isr_timer)
        m->isr_timer = net_timer_add(
            m->loop, SL_MAX(o->lag_time_max_ms / 2, (int64_t)1), isr_tick, m);
}

void repl_isr_stop(repl_manager *m) {
    if (m->isr_timer && m->loop)
        net_timer_cancel(m->loop, m->isr_timer);
    m->isr_timer = 0;
    m->isr_on = false;
    memset(&m->isr, 0, sizeof m->isr);
}

void repl_isr_check(repl_manager *m) {
    if (!m->isr_on)
        return;
    int64_t now = now_ms(m);
    for (size_t i = 0; i < m->n_buckets; i++)
        for (repl_replica *r = m->buckets[i]; r; r = r->next)
            maybe_shrink(m, r, now);
}

void repl_isr_result(repl_manager *m, const repl_key *k, uint64_t seq,
                     int16_t err, int32_t leader_epoch, int32_t partition_epoch,
                     const int32_t *isr, int32_t n_isr) {
    repl_replica *r = find(m, k);
    if (!r || r->pending == ISR_COMMITTED || r->pending_seq != seq)
        return; /* the state moved on (the image, a new proposal) */
    const char *topic = r->log ? log_topic(r->log) : "?";
    if (err) {
        switch (err) {
        case KERR_OPERATION_NOT_ATTEMPTED:
        case KERR_INELIGIBLE_REPLICA:
            /* the controller says the request was not applied */
            SL_INFO("replica",
                    "[Partition %s-%d broker=%d] Failed to alter partition "
                    "since the controller rejected the request with %s. "
                    "Partition state has been reset to the latest committed "
                    "state.",
                    topic, k->partition, m->node_id, proto_error_name(err));
            isr_reset(r);
            return;
        case KERR_UNKNOWN_TOPIC_OR_PARTITION:
        case KERR_UNKNOWN_TOPIC_ID:
        case KERR_FENCED_LEADER_EPOCH:
        case KERR_INVALID_UPDATE_VERSION:
        case KERR_INVALID_REQUEST:
        case KERR_NEW_LEADER_ELECTED:
            /* pending until the image says what happened */
            SL_INFO("replica",
                    "[Partition %s-%d broker=%d] Failed to alter partition: "
                    "%s; awaiting the latest metadata.",
                    topic, k->partition, m->node_id, proto_error_name(err));
            return;
        default:
            SL_WARN("replica",
                    "[Partition %s-%d broker=%d] Failed to update ISR due to "
                    "unexpected %s. Retrying.",
                    topic, k->partition, m->node_id, proto_error_name(err));
            isr_submit(m, r);
            return;
        }
    }
    if (leader_epoch != r->leader_epoch || partition_epoch < r->partition_epoch)
        return; /* stale: stays pending until the image */
    SL_ASSERT(partition_epoch >= r->partition_epoch); /* invariant 4 */
    r->isr = xrealloc(r->isr, sizeof *r->isr * (size_t)(n_isr + 1));
    if (n_isr > 0)
        memcpy(r->isr, isr, sizeof *r->isr * (size_t)n_isr);
    r->n_isr = n_isr;
    r->partition_epoch = partition_epoch;
    isr_reset(r);
    char now_isr[128];
    isr_str(now_isr, sizeof now_isr, r->isr, r->n_isr);
    SL_INFO("replica",
            "[Partition %s-%d broker=%d] ISR updated to %s%s and version "
            "updated to %d",
            topic, k->partition, m->node_id, now_isr,
            r->log && r->n_isr < effective_min_isr(r) ? " (under-min-isr)" : "",
            partition_epoch);
    hw_maybe_advance(m, r);
    /* the HW moved, or waiters now see NOT_ENOUGH_REPLICAS_AFTER_APPEND */
    repl_purgatory_check(m, k);
}

int32_t repl_isr_size(const repl_manager *m, const cl_partition *p) {
    repl_key k = repl_key_of(p);
    const repl_replica *r = find(m, &k);
    return r && r->role == REPL_ROLE_LEADER ? r->n_isr : p->n_isr;
}

bool repl_isr_contains(const repl_manager *m, const cl_partition *p,
                       int32_t id) {
    repl_key k = repl_key_of(p);
    const repl_replica *r = find(m, &k);
    if (r && r->role == REPL_ROLE_LEADER)
        return in_list(r->isr, r->n_isr, id);
    return in_list(p->isr, p->n_isr, id);
}

int32_t repl_follower_views(const repl_manager *m, const cl_partition *p,
                            repl_follower_view *out, int32_t max) {
    repl_key k = repl_key_of(p);
    const repl_replica *r = find(m, &k);
    if (!r || r->role != REPL_ROLE_LEADER)
        return -1;
    int64_t now = m->isr_on ? now_ms(m) : 0;
    int32_t n = 0;
    for (int32_t i = 0; i < r->n_followers && n < max; i++) {
        const repl_follower *f = &r->followers[i];
        out[n++] =
            (repl_follower_view){f->id, f->leo, now - f->last_caught_up_ms,
                                 in_list(r->isr, r->n_isr, f->id)};
    }
    return n;
}

int32_t repl_isr_state(const repl_manager *m, const cl_partition *p,
                       int32_t *out, int32_t max, bool *pending) {
    repl_key k = repl_key_of(p);
    const repl_replica *r = find(m, &k);
    if (!r || r->role != REPL_ROLE_LEADER)
        return -1;
    const int32_t *v = r->pending == ISR_PENDING_EXPAND ? r->sent_isr : r->isr;
    int32_t n = maximal_isr_size(r);
    for (int32_t i = 0; i < n && i < max; i++)
        out[i] = v[i];
    if (pending)
        *pending = r->pending != ISR_COMMITTED;
    return n;
}

/* ---- replicas ------------------------------------------------------------
 */

void repl_update(repl_manager *m, const cl_partition *p, log_partition *log) {
    repl_key k = repl_key_of(p);
    repl_replica *r = find_or_add(m, &k);
    if (log)
        r->log = log;
    repl_role was = r->role;
    int32_t was_leader = r->leader, was_epoch = r->leader_epoch;
    r->role = !r->log                   ? REPL_ROLE_NONE
              : p->leader == m->node_id ? REPL_ROLE_LEADER
                                        : REPL_ROLE_FOLLOWER;
    r->leader = p->leader;
    r->leader_epoch = p->leader_epoch;
    bool new_term = was != r->role || was_leader != r->leader ||
                    was_epoch != r->leader_epoch;
    /* Kafka's makeLeader / makeFollower: a registration older than the
     * partition epoch an AlterPartition answer brought leaves the ISR;
     * any other replaces it and ends a pending change. */
    if (new_term || p->partition_epoch >= r->partition_epoch) {
        r->isr = xrealloc(r->isr, sizeof *r->isr * (size_t)(p->n_isr + 1));
        r->n_isr = p->n_isr;
        if (p->n_isr > 0)
            memcpy(r->isr, p->isr, sizeof *r->isr * (size_t)p->n_isr);
        r->partition_epoch = p->partition_epoch;
        isr_reset(r);
    }
    /* Followers: every other replica, keeping what is known of them. */
    repl_follower *fs = xcalloc((size_t)(p->n_replicas + 1), sizeof *fs);
    int32_t nf = 0;
    for (int32_t i = 0; i < p->n_replicas; i++) {
        if (p->replicas[i] == m->node_id)
            continue;
        const repl_follower *old = follower_of(r, p->replicas[i]);
        if (old) {
            fs[nf] = *old;
        } else {
            fs[nf].id = p->replicas[i];
            fs[nf].leo = -1;
            fs[nf].last_fetch_leader_leo = -1;
            fs[nf].broker_epoch = -1;
        }
        nf++;
    }
    free(r->followers);
    r->followers = fs;
    r->n_followers = nf;
    if (new_term && r->role == REPL_ROLE_LEADER) {
        /* Kafka's makeLeader: what the followers had fetched under an
         * older epoch proves nothing now (they may have diverged), and
         * the new epoch starts at the LEO before anything is written.
         * Their caught-up time starts now for the ISR members
         * (resetReplicaState), so each has replica.lag.time.max.ms to
         * fetch from the new leader. */
        int64_t now = m->isr_on ? now_ms(m) : 0;
        bool new_leader = was != REPL_ROLE_LEADER;
        for (int32_t i = 0; i < nf; i++) {
            bool in_isr = in_list(r->isr, r->n_isr, fs[i].id);
            fs[i].leo = -1;
            fs[i].last_caught_up_ms = in_isr ? now : 0;
            fs[i].last_fetch_leader_leo =
                new_leader ? -1 : log_end_offset(r->log);
            fs[i].last_fetch_ms = new_leader || !in_isr ? 0 : now;
            if (new_leader)
                fs[i].has_epoch = false;
        }
        r->epoch_start_offset = log_end_offset(r->log);
        if (log_assign_epoch(r->log, r->leader_epoch, log_end_offset(r->log)) ==
            KERR_NONE)
            SL_INFO("replica",
                    "%s-%d: leader at epoch %d, epoch start offset %" PRId64,
                    log_topic(r->log), log_partition_id(r->log),
                    r->leader_epoch, log_end_offset(r->log));
    }
    if (new_term && m->fetchers)
        rf_partition_changed(m->fetchers, &k);
    bool moved = hw_maybe_advance(m, r);
    if (moved || was != r->role)
        repl_purgatory_check(m, &k);
}

log_partition *repl_remove(repl_manager *m, const cl_partition *p) {
    repl_key k = repl_key_of(p);
    repl_purgatory_poke(m, k.topic_id, k.partition);
    if (m->fetchers)
        rf_partition_removed(m->fetchers, &k);
    size_t h = key_hash(&k) % m->n_buckets;
    for (repl_replica **pp = &m->buckets[h]; *pp; pp = &(*pp)->next)
        if (key_eq(&(*pp)->key, &k)) {
            repl_replica *r = *pp;
            *pp = r->next;
            log_partition *log = r->log;
            replica_free(r);
            m->n_replicas--;
            return log;
        }
    return NULL;
}

log_partition *repl_log(const repl_manager *m, const cl_partition *p) {
    repl_key k = repl_key_of(p);
    repl_replica *r = find(m, &k);
    return r ? r->log : NULL;
}

static log_partition *leader_log(const repl_replica *r, int16_t *err) {
    if (!r || !r->log || r->role != REPL_ROLE_LEADER) {
        *err = KERR_NOT_LEADER_OR_FOLLOWER;
        return NULL;
    }
    if (log_is_failed(r->log)) {
        *err = KERR_KAFKA_STORAGE_ERROR;
        return NULL;
    }
    *err = KERR_NONE;
    return r->log;
}

log_partition *repl_leader_log(const repl_manager *m, const cl_partition *p,
                               int16_t *err) {
    repl_key k = repl_key_of(p);
    return leader_log(find(m, &k), err);
}

bool repl_is_leader(const repl_manager *m, const cl_partition *p) {
    return repl_role_of(m, p) == REPL_ROLE_LEADER;
}

repl_role repl_role_of(const repl_manager *m, const cl_partition *p) {
    repl_key k = repl_key_of(p);
    repl_replica *r = find(m, &k);
    return r ? r->role : REPL_ROLE_NONE;
}

int32_t repl_leader_epoch(const repl_manager *m, const cl_partition *p) {
    repl_key k = repl_key_of(p);
    repl_replica *r = find(m, &k);
    return r ? r->leader_epoch : -1;
}

int16_t repl_check_epoch(const repl_manager *m, const cl_partition *p,
                         int32_t current_leader_epoch) {
    if (current_leader_epoch < 0)
        return KERR_NONE;
    int32_t epoch = repl_leader_epoch(m, p);
    return current_leader_epoch < epoch   ? KERR_FENCED_LEADER_EPOCH
           : current_leader_epoch > epoch ? KERR_UNKNOWN_LEADER_EPOCH
                                          : KERR_NONE;
}

void repl_follower_fetch_state(repl_manager *m, const cl_partition *p,
                               int32_t replica_id, int64_t broker_epoch,
                               int64_t fetch_offset) {
    repl_key k = repl_key_of(p);
    repl_replica *r = find(m, &k);
    repl_follower *f = r ? follower_of(r, replica_id) : NULL;
    if (!f)
        return;
    /* Kafka's Replica.updateFetchStateOrThrow */
    int64_t now = m->isr_on ? now_ms(m) : 0;
    int64_t leader_leo = r->log ? log_end_offset(r->log) : -1;
    if (fetch_offset >= leader_leo)
        f->last_caught_up_ms = SL_MAX(f->last_caught_up_ms, now);
    else if (fetch_offset >= f->last_fetch_leader_leo)
        f->last_caught_up_ms = SL_MAX(f->last_caught_up_ms, f->last_fetch_ms);
    f->leo = fetch_offset;
    f->last_fetch_leader_leo = SL_MAX(leader_leo, f->last_fetch_leader_leo);
    f->last_fetch_ms = now;
    f->broker_epoch = broker_epoch;
    f->has_epoch = true;
    maybe_expand(m, r, f);
    if (hw_maybe_advance(m, r))
        repl_purgatory_check(m, &k);
}

void repl_follower_fetched(repl_manager *m, const cl_partition *p,
                           int32_t replica_id, int64_t leo) {
    repl_follower_fetch_state(m, p, replica_id, -1, leo);
}

/* ---- the follower side (fetcher.c) ---------------------------------------
 */

bool repl_info_of(const repl_manager *m, const repl_key *k, repl_info *out) {
    repl_replica *r = find(m, k);
    if (!r)
        return false;
    out->log = r->log;
    out->role = r->role;
    out->leader = r->leader;
    out->leader_epoch = r->leader_epoch;
    return true;
}

static repl_replica *follower(const repl_manager *m, const repl_key *k) {
    repl_replica *r = find(m, k);
    return r && r->log && r->role == REPL_ROLE_FOLLOWER ? r : NULL;
}

int16_t repl_follower_append(repl_manager *m, const repl_key *k,
                             int32_t leader_epoch, uint8_t *records, size_t len,
                             log_append_info *info) {
    repl_replica *r = follower(m, k);
    memset(info, 0, sizeof *info);
    if (!r)
        return KERR_NOT_LEADER_OR_FOLLOWER;
    if (r->leader_epoch != leader_epoch)
        return KERR_FENCED_LEADER_EPOCH;
    if (log_is_failed(r->log))
        return KERR_KAFKA_STORAGE_ERROR;
    int16_t err = log_append_checked(r->log, records, len, r->leader_epoch,
                                     (int)REPL_ORIGIN_REPLICATION, NULL, info);
    if (!err)
        repl_purgatory_check(m, k); /* the LEO moved */
    return err;
}

/* Invariant 1, follower side: the HW is the leader's, capped at the own
 * LEO, and moves only forward here (truncation may lower it). */
void repl_follower_set_hw(repl_manager *m, const repl_key *k,
                          int64_t leader_hw) {
    repl_replica *r = follower(m, k);
    if (!r || log_is_failed(r->log))
        return;
    int64_t cand = SL_MIN(leader_hw, log_end_offset(r->log));
    int64_t old = log_high_watermark(r->log);
    if (cand <= old)
        return;
    log_set_high_watermark(r->log, cand);
    SL_ASSERT(log_high_watermark(r->log) == cand);
    repl_purgatory_check(m, k);
}

int16_t repl_follower_truncate(repl_manager *m, const repl_key *k,
                               int64_t offset) {
    repl_replica *r = follower(m, k);
    if (!r)
        return KERR_NOT_LEADER_OR_FOLLOWER;
    int16_t err = log_truncate_to(r->log, offset);
    SL_ASSERT(err || log_end_offset(r->log) <=
                         SL_MAX(offset, log_start_offset(r->log)));
    SL_ASSERT(err || log_high_watermark(r->log) <= log_end_offset(r->log));
    return err;
}

int16_t repl_follower_truncate_fully(repl_manager *m, const repl_key *k,
                                     int64_t offset) {
    repl_replica *r = follower(m, k);
    if (!r)
        return KERR_NOT_LEADER_OR_FOLLOWER;
    return log_truncate_fully(r->log, offset);
}

repl_fetchers *repl_manager_fetchers(const repl_manager *m) {
    return m->fetchers;
}

void repl_manager_set_fetchers(repl_manager *m, repl_fetchers *fs) {
    m->fetchers = fs;
}

/* ---- append --------------------------------------------------------------
 */

/* An acks=all append waiting for the HW (Kafka's DelayedProduce, one
 * partition). */
typedef struct append_wait {
    repl_manager *m;
    repl_key key;
    int64_t required; /* the HW that covers the batch */
    log_append_info info;
    repl_done_fn done;
    void *ctx;
} append_wait;

static bool append_covered(const append_wait *w, int16_t *err) {
    repl_replica *r = find(w->m, &w->key);
    if (!r || r->role != REPL_ROLE_LEADER || !r->log) {
        *err = KERR_NOT_LEADER_OR_FOLLOWER;
        return true;
    }
    *err = KERR_NONE;
    if (log_high_watermark(r->log) < w->required)
        return false;
    /* Kafka's Partition.checkEnoughReplicasReachOffset: the ISR has the
     * batch, but if it shrank below min.insync.replicas (capped at the
     * replica count, KIP-966) since the append, the producer is told. */
    if (maximal_isr_size(r) < effective_min_isr(r))
        *err = KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
    return true;
}

static bool append_try(void *ctx) {
    int16_t err;
    return append_covered(ctx, &err);
}

static void append_complete(void *ctx, bool expired) {
    append_wait *w = ctx;
    int16_t err;
    if (!append_covered(w, &err) && expired)
        err = KERR_REQUEST_TIMED_OUT;
    if (w->done)
        w->done(w->ctx, err, &w->info);
    free(w);
}

static const repl_op_ops append_ops = {append_try, append_complete};

int16_t repl_append(repl_manager *m, const cl_partition *p,
                    const repl_append_req *rq, log_append_info *info) {
    repl_key k = repl_key_of(p);
    repl_replica *r = find(m, &k);
    int16_t err;
    log_partition *log;
    if (rq->origin == REPL_ORIGIN_REPLICATION) {
        bool ok = r && r->log && r->role == REPL_ROLE_FOLLOWER;
        log = ok ? r->log : NULL;
        err = !ok                  ? KERR_NOT_LEADER_OR_FOLLOWER
              : log_is_failed(log) ? KERR_KAFKA_STORAGE_ERROR
                                   : KERR_NONE;
    } else {
        log = leader_log(r, &err);
    }
    if (err) {
        memset(info, 0, sizeof *info);
        return err;
    }
    err = log_append_checked(log, rq->records, rq->len, r->leader_epoch,
                             (int)rq->origin, rq->sink, info);
    if (err)
        return err;
    if (rq->appended)
        rq->appended(rq->ctx, log, info);
    hw_maybe_advance(m, r);
    repl_purgatory_check(m, &k); /* the LEO moved, maybe the HW */
    int64_t required = info->last_offset + 1;
    if (rq->acks != -1 || rq->origin == REPL_ORIGIN_REPLICATION ||
        log_high_watermark(log) >= required) {
        if (rq->done)
            rq->done(rq->ctx, KERR_NONE, info);
        return KERR_NONE;
    }
    append_wait *w = xcalloc(1, sizeof *w);
    w->m = m;
    w->key = k;
    w->required = required;
    w->info = *info;
    w->done = rq->done;
    w->ctx = rq->ctx;
    repl_purgatory_add(m, &k, 1, rq->timeout_ms, &append_ops, w);
    return KERR_NONE;
}

/* ---- purgatory ------------------------------------------------------------
 */

static watch_list *watch_find(repl_manager *m, const repl_key *k, bool add) {
    size_t h = key_hash(k) % m->n_wbuckets;
    for (watch_list *w = m->wbuckets[h]; w; w = w->next)
        if (key_eq(&w->key, k))
            return w;
    if (!add)
        return NULL;
    if (m->n_watch >= m->n_wbuckets * 2) { /* grow: rehash the lists */
        size_t nb = m->n_wbuckets * 2;
        watch_list **b = xcalloc(nb, sizeof *b);
        for (size_t i = 0; i < m->n_wbuckets; i++)
            for (watch_list *w = m->wbuckets[i], *nx; w; w = nx) {
                nx = w->next;
                size_t j = key_hash(&w->key) % nb;
                w->next = b[j];
                b[j] = w;
            }
        free(m->wbuckets);
        m->wbuckets = b;
        m->n_wbuckets = nb;
        h = key_hash(k) % nb;
    }
    watch_list *w = xcalloc(1, sizeof *w);
    w->key = *k;
    w->next = m->wbuckets[h];
    m->wbuckets[h] = w;
    m->n_watch++;
    return w;
}

/* Takes op out of the watch lists of its keys; a list left empty is freed
 * (checks walk a copy of a list, never the list itself). */
static void watch_drop(repl_manager *m, repl_op *op) {
    for (int i = 0; i < op->n_keys; i++) {
        size_t h = key_hash(&op->keys[i]) % m->n_wbuckets;
        for (watch_list **pp = &m->wbuckets[h]; *pp; pp = &(*pp)->next) {
            watch_list *w = *pp;
            if (!key_eq(&w->key, &op->keys[i]))
                continue;
            for (int j = 0; j < w->n; j++)
                if (w->ops[j] == op) {
                    w->ops[j] = w->ops[--w->n];
                    break;
                }
            if (w->n == 0) {
                *pp = w->next;
                free(w->ops);
                free(w);
                m->n_watch--;
            }
            break;
        }
    }
}

static void op_release(repl_op *op) {
    if (--op->refs > 0 || !op->done)
        return;
    free(op->keys);
    free(op);
}

static void op_complete(repl_op *op, bool expired) {
    if (op->done)
        return;
    repl_manager *m = op->m;
    op->done = true;
    if (op->timer_id && m->loop)
        net_timer_cancel(m->loop, op->timer_id);
    op->timer_id = 0;
    if (op->prev)
        op->prev->next = op->next;
    else
        m->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    m->n_ops--;
    watch_drop(m, op);
    op->refs++;
    op->ops.complete(op->ctx, expired);
    op_release(op);
}

static void op_timer(net_loop *loop, void *ctx) {
    (void)loop;
    repl_op *op = ctx;
    op->timer_id = 0;
    op_complete(op, true);
}

repl_op *repl_purgatory_add(repl_manager *m, const repl_key *keys, int n,
                            int64_t timeout_ms, const repl_op_ops *ops,
                            void *ctx) {
    repl_op *op = xcalloc(1, sizeof *op);
    op->m = m;
    op->keys = xmalloc(sizeof *op->keys * (size_t)(n > 0 ? n : 1));
    if (n > 0)
        memcpy(op->keys, keys, sizeof *op->keys * (size_t)n);
    op->n_keys = n;
    op->ops = *ops;
    op->ctx = ctx;
    if (timeout_ms < 0)
        timeout_ms = 0;
    op->deadline_ms = clk_mono_ms() + timeout_ms;
    op->next = m->ops;
    if (m->ops)
        m->ops->prev = op;
    m->ops = op;
    m->n_ops++;
    for (int i = 0; i < n; i++) {
        watch_list *w = watch_find(m, &keys[i], true);
        bool dup = false;
        for (int j = 0; j < w->n && !dup; j++)
            dup = w->ops[j] == op;
        if (dup)
            continue;
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 4;
            w->ops = xrealloc(w->ops, sizeof *w->ops * (size_t)w->cap);
        }
        w->ops[w->n++] = op;
    }
    if (m->loop)
        op->timer_id = net_timer_add(m->loop, timeout_ms, op_timer, op);
    return op;
}

/* Runs fn on a snapshot of ops (each held while the walk lasts). */
static void walk(repl_op **snap, int n, bool check, bool expired) {
    for (int i = 0; i < n; i++)
        snap[i]->refs++;
    for (int i = 0; i < n; i++) {
        repl_op *op = snap[i];
        if (!op->done && (!check || op->ops.try_complete(op->ctx)))
            op_complete(op, expired);
    }
    for (int i = 0; i < n; i++)
        op_release(snap[i]);
}

void repl_purgatory_check(repl_manager *m, const repl_key *key) {
    watch_list *w = watch_find(m, key, false);
    if (!w || w->n == 0)
        return;
    int n = w->n;
    repl_op **snap = xmalloc(sizeof *snap * (size_t)n);
    memcpy(snap, w->ops, sizeof *snap * (size_t)n);
    walk(snap, n, true, false);
    free(snap);
}

void repl_purgatory_poke(repl_manager *m, const uint8_t topic_id[16],
                         int32_t partition) {
    for (repl_op *op = m->ops; op; op = op->next) {
        bool mine = false;
        for (int i = 0; i < op->n_keys && !mine; i++)
            mine = (partition < 0 || op->keys[i].partition == partition) &&
                   !memcmp(op->keys[i].topic_id, topic_id, 16);
        if (!mine)
            continue;
        op->deadline_ms = INT64_MIN;
        if (m->loop && op->timer_id && net_timer_cancel(m->loop, op->timer_id))
            op->timer_id = net_timer_add(m->loop, 0, op_timer, op);
    }
}

void repl_purgatory_expire(repl_manager *m, int64_t now_ms) {
    int n = 0;
    for (repl_op *op = m->ops; op; op = op->next)
        n += op->deadline_ms <= now_ms;
    if (n == 0)
        return;
    repl_op **snap = xmalloc(sizeof *snap * (size_t)n);
    int k = 0;
    for (repl_op *op = m->ops; op; op = op->next)
        if (op->deadline_ms <= now_ms)
            snap[k++] = op;
    walk(snap, n, false, true);
    free(snap);
}

void repl_purgatory_shutdown(repl_manager *m) {
    while (m->ops)
        op_complete(m->ops, true);
}

size_t repl_purgatory_size(const repl_manager *m) {
    return m->n_ops;
}
