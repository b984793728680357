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
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "proto/errors.h"
#include "replica/internal.h"

/* ---- records ------------------------------------------------------------- */

typedef struct repl_follower {
    int32_t id;
    int64_t leo; /* -1 until it fetched */
} repl_follower;

typedef struct repl_replica {
    struct repl_replica *next; /* hash chain */
    repl_key key;
    log_partition *log;
    repl_role role;
    int32_t leader; /* -1: none */
    int32_t leader_epoch;
    int32_t n_isr;
    int32_t *isr;
    int32_t n_followers;
    repl_follower *followers; /* every other replica of the partition */
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
    free(r->isr);
    free(r->followers);
    free(r);
}

void repl_manager_free(repl_manager *m) {
    if (!m)
        return;
    SL_ASSERT(m->n_ops == 0); /* repl_purgatory_shutdown first */
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

static int64_t follower_leo(const repl_replica *r, int32_t id) {
    for (int32_t i = 0; i < r->n_followers; i++)
        if (r->followers[i].id == id)
            return r->followers[i].leo;
    return -1;
}

/* Invariant 1: a leader's HW is the smallest LEO of its ISR, and moves only
 * forward. Returns true if it moved. */
static bool hw_maybe_advance(repl_manager *m, repl_replica *r) {
    if (r->role != REPL_ROLE_LEADER || !r->log || log_is_failed(r->log))
        return false;
    int64_t cand = log_end_offset(r->log);
    for (int32_t i = 0; i < r->n_isr; i++)
        if (r->isr[i] != m->node_id)
            cand = SL_MIN(cand, follower_leo(r, r->isr[i]));
    int64_t old = log_high_watermark(r->log);
    if (cand <= old)
        return false;
    log_set_high_watermark(r->log, cand);
    SL_ASSERT(log_high_watermark(r->log) == cand &&
              log_high_watermark(r->log) > old);
    return true;
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
    r->isr = xrealloc(r->isr, sizeof *r->isr * (size_t)(p->n_isr + 1));
    r->n_isr = p->n_isr;
    if (p->n_isr > 0)
        memcpy(r->isr, p->isr, sizeof *r->isr * (size_t)p->n_isr);
    /* Followers: every other replica, keeping what is known of them. */
    repl_follower *fs = xcalloc((size_t)(p->n_replicas + 1), sizeof *fs);
    int32_t nf = 0;
    for (int32_t i = 0; i < p->n_replicas; i++) {
        if (p->replicas[i] == m->node_id)
            continue;
        fs[nf].id = p->replicas[i];
        fs[nf].leo = follower_leo(r, p->replicas[i]);
        nf++;
    }
    free(r->followers);
    r->followers = fs;
    r->n_followers = nf;
    if (new_term && r->role == REPL_ROLE_LEADER) {
        /* Kafka's makeLeader: what the followers had fetched under an
         * older epoch proves nothing now (they may have diverged), and
         * the new epoch starts at the LEO before anything is written. */
        for (int32_t i = 0; i < nf; i++)
            fs[i].leo = -1;
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

void repl_follower_fetched(repl_manager *m, const cl_partition *p,
                           int32_t replica_id, int64_t leo) {
    repl_key k = repl_key_of(p);
    repl_replica *r = find(m, &k);
    if (!r)
        return;
    for (int32_t i = 0; i < r->n_followers; i++)
        if (r->followers[i].id == replica_id)
            r->followers[i].leo = SL_MAX(r->followers[i].leo, leo);
    if (hw_maybe_advance(m, r))
        repl_purgatory_check(m, &k);
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
    int32_t min_isr =
        SL_MIN(log_get_config(r->log)->min_insync_replicas, r->n_followers + 1);
    if (r->n_isr < min_isr)
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
