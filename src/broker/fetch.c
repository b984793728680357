/*
 * fetch.c - Fetch (api key 1), versions 4-17: records go out with sendfile
 * straight from the segment files (brk_resp_file), never through user space.
 *
 * - Limits as Kafka: max_bytes for the whole response and partition_max_bytes
 *   per partition; the first partition that has data may return one whole
 *   batch larger than both (so a consumer always progresses); a partition
 *   whose first batch does not fit in what is left gets no records (Kafka
 *   drops an incomplete first entry), later batches may be cut (clients
 *   drop the partial tail).
 * - Long polling: when fewer than min_bytes are available and max_wait_ms > 0
 *   the request is deferred (BRK_DEFER) as an entry of the replica
 *   manager's purgatory (src/replica/replica.h, Kafka's DelayedFetch) until
 *   a move of the HW or LEO of one of its partitions makes min_bytes
 *   available, a partition goes away, or the wait ends.
 * - KIP-227 incremental fetch sessions: epoch 0 opens a session, later
 *   requests send only changes (forgotten_topics_data removes partitions)
 *   and the response lists only partitions with news (records, error, or a
 *   changed high watermark / last stable offset / log start offset).
 *   Partitions are answered in session order, new ones appended; after an
 *   incremental response the partitions that returned records move to the
 *   end (Kafka's IncrementalFetchContext), so with a small max_bytes every
 *   partition gets its turn to be first. A topic whose partitions are not
 *   adjacent is listed once per run, as Kafka's FetchResponse does.
 * - isolation_level 1 (read_committed) reads to the last stable offset
 *   (= high watermark until transactions exist); a replica reads to LEO.
 *   A replica id that is not a registered broker gets
 *   NOT_LEADER_OR_FOLLOWER for every partition.
 * - The response is encoded by hand because the records field is a file
 *   range in the middle of it.
 * Versions 0-3 (message formats 0/1) are not served, as in Kafka 4.
 * Threading: loop thread; sessions (per node: brk->fetch_sessions) are
 * loop-thread state (the waiting fetches are the purgatory's).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/data.h"
#include "broker/internal.h"
#include "cluster/image.h"
#include "core/clock.h"
#include "core/util.h"
#include "log/log.h"
#include "net/net.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "proto/proto.h"
#include "replica/quota.h"
#include "replica/replica.h"
#include "txn/txn.h"

#define MAX_SESSIONS 1000 /* max.incremental.fetch.session.cache.slots */

/* ---- sessions ------------------------------------------------------------ */
typedef struct fs_part {
    char *topic;
    uint8_t topic_id[16];
    int32_t partition;
    int64_t fetch_offset;
    int32_t max_bytes;
    int32_t current_leader_epoch;
    int32_t last_fetched_epoch;
    /* what the last response said, for incremental responses */
    bool sent;
    int64_t sent_hw, sent_lso, sent_start;
} fs_part;

typedef struct fetch_session {
    struct fetch_session *next;
    int32_t id;
    int32_t epoch; /* next expected */
    int64_t last_used_ms;
    fs_part *parts;
    int n, cap;
} fetch_session;

/* A node's sessions (brk->fetch_sessions), made at the first one, and
 * the leader's replication quota (Kafka's quotas.leader). */
typedef struct brk_fetch_sessions {
    fetch_session *head;
    int n;
    uint32_t next_id;
    repl_quota leader_quota;
} brk_fetch_sessions;

static brk_fetch_sessions *sessions_of(brk_broker *brk) {
    if (!brk->fetch_sessions) {
        brk->fetch_sessions = xcalloc(1, sizeof *brk->fetch_sessions);
        brk->fetch_sessions->next_id = 1;
        repl_quota_init(
            &brk->fetch_sessions->leader_quota,
            (int)brk_cfg_i64(brk->cfg, BRK_CFG_REPLICATION_QUOTA_WINDOW_NUM),
            1000 * brk_cfg_i64(brk->cfg,
                               BRK_CFG_REPLICATION_QUOTA_WINDOW_SIZE_SECONDS));
    }
    return brk->fetch_sessions;
}

static void session_free(fetch_session *s) {
    for (int i = 0; i < s->n; i++)
        free(s->parts[i].topic);
    free(s->parts);
    free(s);
}

void brk_fetch_sessions_free(brk_broker *brk) {
    brk_fetch_sessions *ss = brk->fetch_sessions;
    if (!ss)
        return;
    while (ss->head) {
        fetch_session *s = ss->head;
        ss->head = s->next;
        session_free(s);
    }
    repl_quota_free(&ss->leader_quota);
    free(ss);
    brk->fetch_sessions = NULL;
}

static fetch_session *session_find(brk_broker *brk, int32_t id) {
    for (fetch_session *s = sessions_of(brk)->head; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

static void session_remove(brk_broker *brk, int32_t id) {
    brk_fetch_sessions *ss = sessions_of(brk);
    for (fetch_session **pp = &ss->head; *pp; pp = &(*pp)->next)
        if ((*pp)->id == id) {
            fetch_session *s = *pp;
            *pp = s->next;
            session_free(s);
            ss->n--;
            return;
        }
}

static fetch_session *session_new(brk_broker *brk) {
    brk_fetch_sessions *ss = sessions_of(brk);
    if (ss->n >= MAX_SESSIONS) {
        /* evict the least recently used */
        fetch_session *old = ss->head;
        for (fetch_session *s = ss->head; s; s = s->next)
            if (s->last_used_ms < old->last_used_ms)
                old = s;
        if (!old || clk_mono_ms() - old->last_used_ms < 1000)
            return NULL; /* all busy: sessionless */
        session_remove(brk, old->id);
    }
    fetch_session *s = xcalloc(1, sizeof(*s));
    do {
        s->id = (int32_t)(ss->next_id++ & 0x7fffffff);
    } while (s->id == 0 || session_find(brk, s->id));
    s->epoch = 1;
    s->last_used_ms = clk_mono_ms();
    s->next = ss->head;
    ss->head = s;
    ss->n++;
    return s;
}

static fs_part *session_part(fetch_session *s, const char *topic,
                             const uint8_t id[16], int32_t p, bool by_id,
                             bool create) {
    for (int i = 0; i < s->n; i++) {
        fs_part *fp = &s->parts[i];
        if (fp->partition == p &&
            (by_id ? !memcmp(fp->topic_id, id, 16) : !strcmp(fp->topic, topic)))
            return fp;
    }
    if (!create)
        return NULL;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->parts = xrealloc(s->parts, sizeof(*s->parts) * (size_t)s->cap);
    }
    fs_part *fp = &s->parts[s->n++];
    memset(fp, 0, sizeof(*fp));
    fp->topic = xstrdup(topic ? topic : "");
    if (id)
        memcpy(fp->topic_id, id, 16);
    fp->partition = p;
    return fp;
}

/* ---- one fetch in flight --------------------------------------------------
 */
typedef struct fetch_ctx {
    brk_req *req;
    proto_fetch_request rq;
    bool by_id;            /* v13+ */
    bool replica;          /* from a broker (reads to LEO) */
    int32_t replica_id;    /* that broker */
    int64_t replica_epoch; /* its broker epoch (ReplicaState, v15+), or -1 */
    bool bad_replica;      /* replica id not a broker */
    /* KIP-392: a consumer's fetch (v11+, Kafka's ClientMetadata) may read
     * a follower replica, and the leader may name a preferred read replica
     * when replica.selector.class is set */
    bool any_replica;
    bool selector;
    int32_t session_id; /* in the response */
    int16_t top_error;
    bool incremental;
    /* the partitions to consider, flattened */
    fs_part *parts;
    int n;
    bool own_parts;   /* parts allocated in arena (no session) */
    int32_t sess_ref; /* session id whose parts we use, 0 none */
} fetch_ctx;

/* Resolves a partition to the image and its local log (this node the
 * leader); NULL with err set on failure, *part set when the image knows it. */
/* The local replica a fetch reads: the leader's (brk_data_log), or for a
 * consumer's v11+ fetch any replica hosted here (Kafka's FetchParams
 * .fetchOnlyLeader is false with ClientMetadata). */
static log_partition *read_log(brk_broker *brk, const cl_partition *p,
                               bool any_replica, int16_t *err) {
    if (!any_replica || !brk->repl || repl_is_leader(brk->repl, p))
        return brk_data_log(brk, p, err);
    log_partition *log = repl_log(brk->repl, p);
    if (!log || repl_role_of(brk->repl, p) != REPL_ROLE_FOLLOWER) {
        *err = KERR_NOT_LEADER_OR_FOLLOWER;
        return NULL;
    }
    if (log_is_failed(log)) {
        *err = KERR_KAFKA_STORAGE_ERROR;
        return NULL;
    }
    *err = KERR_NONE;
    return log;
}

static log_partition *resolve(brk_broker *brk, const fs_part *fp, bool by_id,
                              bool any_replica, int16_t version,
                              const cl_partition **part, int16_t *err) {
    const cl_partition *p;
    if (by_id) {
        p = brk_find_partition_id(brk, fp->topic_id, fp->partition, err);
        /* A session partition keeps the name it had (Kafka's
         * CachedPartition): once its id is gone, Kafka checks that name
         * (UNKNOWN_TOPIC_OR_PARTITION, or INCONSISTENT_TOPIC_ID when the
         * name now has another id); a name never known is UNKNOWN_TOPIC_ID. */
        if (!p && *err == KERR_UNKNOWN_TOPIC_ID && fp->topic[0])
            *err = cl_topic_find(brk->image, fp->topic, strlen(fp->topic))
                       ? KERR_INCONSISTENT_TOPIC_ID
                       : KERR_UNKNOWN_TOPIC_OR_PARTITION;
    } else
        p = brk_find_partition(brk, fp->topic, strlen(fp->topic), fp->partition,
                               err);
    *part = p;
    if (!p)
        return NULL;
    log_partition *log = read_log(brk, p, any_replica, err);
    /* Kafka (KafkaApis.maybeDownConvertStorageError): v5 and older
     * clients may not know KAFKA_STORAGE_ERROR; they get
     * NOT_LEADER_OR_FOLLOWER, which makes them refresh metadata. */
    if (*err == KERR_KAFKA_STORAGE_ERROR && version <= 5)
        *err = KERR_NOT_LEADER_OR_FOLLOWER;
    if (*err)
        return NULL;
    *err = repl_check_epoch(brk->repl, p, fp->current_leader_epoch);
    return *err ? NULL : log;
}

static fs_part *ctx_parts(fetch_ctx *c, int *n) {
    if (c->sess_ref) {
        fetch_session *s = session_find(c->req->brk, c->sess_ref);
        if (!s) {
            *n = 0;
            return NULL;
        }
        *n = s->n;
        return s->parts;
    }
    *n = c->n;
    return c->parts;
}

/* The offset a read of this fetch stops at: LEO for a replica, the last
 * stable offset for read_committed, else the high watermark. */
static int64_t read_limit(fetch_ctx *c, log_partition *log) {
    return c->replica ? -1
           : c->rq.isolation_level == 1
               ? txn_lso(c->req->brk->txn, log) /* txn */
               : log_high_watermark(log);
}

/* Replication throttles on the leader (Kafka's ReplicaManager
 * shouldLeaderThrottle): a follower's fetch of a partition that
 * leader.replication.throttled.replicas names for this broker gets no
 * records while leader.replication.throttled.rate is exceeded, unless the
 * follower is in the ISR (no ISR thrashing). */
static bool leader_listed(fetch_ctx *c, const cl_partition *p) {
    return c->replica && p &&
           repl_topic_throttled(p->topic, REPL_LEADER_THROTTLED_REPLICAS, p->id,
                                c->req->brk->node_id);
}

static bool leader_throttles(fetch_ctx *c, const cl_partition *p) {
    brk_broker *brk = c->req->brk;
    return leader_listed(c, p) &&
           !repl_isr_contains(brk->repl, p, c->replica_id) &&
           repl_quota_exceeded(
               &sessions_of(brk)->leader_quota,
               brk_cfg_i64(brk->cfg, BRK_CFG_LEADER_REPLICATION_THROTTLED_RATE),
               clk_mono_ms());
}

/* A broker's endpoint on the listener named. */
static bool has_endpoint(const cl_broker *b, const char *listener) {
    for (int32_t i = 0; b && i < b->n_endpoints; i++)
        if (b->endpoints[i].name && !strcasecmp(b->endpoints[i].name, listener))
            return true;
    return false;
}

/* KIP-392 on the leader (Kafka's ReplicaManager.findPreferredReadReplica
 * with RackAwareReplicaSelector): the replicas a consumer may read from
 * are the leader and the committed ISR's followers that hold the fetch
 * offset (LEO at or above it, our log start at or below it) and have an
 * endpoint on the request's listener; the selector picks one by the
 * client's rack. Returns a follower's id, or -1 (the leader, no selector,
 * not a consumer, not the leader). */
static int32_t preferred_replica(fetch_ctx *c, const cl_partition *p,
                                 log_partition *log, int64_t fetch_offset) {
    brk_broker *brk = c->req->brk;
    if (!c->selector || c->replica || !p || !repl_is_leader(brk->repl, p))
        return -1;
    int32_t max = p->n_replicas > 0 ? p->n_replicas : 1;
    repl_follower_view *v = arena_calloc(c->req->arena, (size_t)max, sizeof *v);
    repl_read_replica *cand =
        arena_calloc(c->req->arena, (size_t)max + 1, sizeof *cand);
    int32_t nv = repl_follower_views(brk->repl, p, v, max);
    const char *lname = brk->listeners[c->req->listener].name;
    int n = 0;
    for (int32_t i = 0; i < nv; i++) {
        const cl_broker *b = cl_broker_find(brk->image, v[i].id);
        if (!v[i].in_isr || v[i].leo < fetch_offset ||
            log_start_offset(log) > fetch_offset || !has_endpoint(b, lname))
            continue;
        cand[n++] = (repl_read_replica){v[i].id, b->rack, v[i].leo,
                                        v[i].since_caught_up_ms};
    }
    const cl_broker *self = cl_broker_find(brk->image, brk->node_id);
    const char *own_rack = brk_cfg_str(brk->cfg, BRK_CFG_BROKER_RACK);
    cand[n++] = (repl_read_replica){brk->node_id,
                                    self && self->rack ? self->rack : own_rack,
                                    log_end_offset(log), 0};
    char *rack = proto_str_dup(c->req->arena, c->rq.rack_id);
    int32_t sel = repl_select_read_replica(rack, cand, n, brk->node_id);
    return sel == brk->node_id ? -1 : sel;
}

/* Bytes readable now for the whole request (for min_bytes), and whether a
 * partition has an error (answer at once). On arrival (arriving), a
 * partition the metadata does not know (UNKNOWN_TOPIC_OR_PARTITION,
 * UNKNOWN_TOPIC_ID) is no reason to answer at once unless no partition is
 * known: Kafka sets those aside before the read and waits for the others
 * (KafkaApis.handleFetchRequest "erroneous"); a client fetching a deleted
 * topic's partitions in its session would otherwise spin. No known
 * partition at all (an empty session included): answer at once. Once
 * waiting, a partition that went away completes the fetch (DelayedFetch
 * case C). */
static int64_t bytes_available(fetch_ctx *c, bool arriving, bool *has_error) {
    brk_broker *brk = c->req->brk;
    int n;
    fs_part *ps = ctx_parts(c, &n);
    int64_t total = 0;
    int known = 0;
    *has_error = false;
    for (int i = 0; i < n; i++) {
        int16_t err = KERR_NONE;
        const cl_partition *p;
        log_partition *log =
            c->bad_replica ? NULL
                           : resolve(brk, &ps[i], c->by_id, c->any_replica,
                                     c->req->api_version, &p, &err);
        if (!log) {
            if (!arriving || (err != KERR_UNKNOWN_TOPIC_OR_PARTITION &&
                              err != KERR_UNKNOWN_TOPIC_ID))
                *has_error = true;
            continue;
        }
        known++;
        if (c->replica && leader_throttles(c, p))
            continue; /* counts nothing (Kafka's DelayedFetch) */
        if (preferred_replica(c, p, log, ps[i].fetch_offset) >= 0) {
            *has_error = true; /* answered at once (Kafka's
                                  hasPreferredReadReplica) */
            continue;
        }
        int32_t len = 0;
        err = log_read_len(log, ps[i].fetch_offset, ps[i].max_bytes,
                           read_limit(c, log), true, &len);
        if (err) {
            *has_error = true;
            continue;
        }
        total += len;
        if (total >= c->rq.min_bytes)
            return total; /* enough: no need to look further */
    }
    if (known == 0)
        *has_error = true; /* nothing to wait for: Kafka answers at once */
    return total;
}

/* Moves the session partitions that returned records to the end, keeping
 * both groups in order (Kafka: session.partitionMap remove + mustAdd). */
static void rotate_served(fs_part *ps, int n, const bool *served) {
    int moved = 0;
    for (int i = 0; i < n; i++)
        moved += served[i];
    if (moved == 0 || moved == n)
        return;
    fs_part *tmp = xmalloc(sizeof(*tmp) * (size_t)n);
    int k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++)
            if (served[i] == (pass == 1))
                tmp[k++] = ps[i];
    memcpy(ps, tmp, sizeof(*tmp) * (size_t)n);
    free(tmp);
}

static void put_tag_hdr(buf *b, uint32_t tag, size_t size) {
    buf_put_uvarint(b, tag);
    buf_put_uvarint(b, size);
}

/* ---- the response ---------------------------------------------------------
 * fetch_respond: the header, then each partition read (fetch_read_part) and
 * kept or left out (fetch_include, incremental sessions), then the kept ones
 * written grouped by topic (fetch_write_topics, fetch_write_part). */

/* One partition of the response. */
typedef struct out_part {
    fs_part *fp;
    const cl_partition *part; /* the image's, NULL when unknown */
    int16_t err;
    log_partition *log; /* NULL on an error */
    log_read_result r;
    int64_t hw, lso, start;
    int32_t div_epoch;
    int64_t div_end;
    int32_t preferred; /* preferred_read_replica, -1: none */
} out_part;

/* What is left of the response's max_bytes, and whether the next partition
 * with data may still return one whole batch beyond it (the first may). */
typedef struct read_budget {
    int64_t limit;
    bool min_one;
} read_budget;

static void fetch_write_header(fetch_ctx *c, buf *b) {
    buf_put_be32(b, 0); /* throttle_time_ms (v1+) */
    if (c->req->api_version >= 7) {
        buf_put_be16(b, (uint16_t)c->top_error);
        buf_put_be32(b, (uint32_t)c->session_id);
    }
}

/* A fetcher that names its last fetched epoch learns where its log diverges
 * from ours (followers, KIP-595). */
static void fetch_diverging(const fs_part *fp, out_part *o) {
    if (fp->last_fetched_epoch < 0)
        return;
    int32_t e;
    int64_t end;
    log_end_offset_for_epoch(o->log, fp->last_fetched_epoch, &e, &end);
    if (e >= 0 && (end < fp->fetch_offset || e < fp->last_fetched_epoch)) {
        o->div_epoch = e;
        o->div_end = end;
    }
}

/* A follower's fetch of p (Kafka's Partition.followerReplicaOrThrow and
 * Replica.updateFetchStateOrThrow): a broker that is not a replica of p gets
 * UNKNOWN_LEADER_EPOCH (NOT_LEADER_OR_FOLLOWER without a leader epoch in the
 * request), one whose ReplicaState names an older broker epoch than its
 * registration NOT_LEADER_OR_FOLLOWER. */
static int16_t follower_check(const fetch_ctx *c, const cl_partition *p,
                              const fs_part *fp) {
    bool replica = false;
    for (int32_t i = 0; i < p->n_replicas && !replica; i++)
        replica = p->replicas[i] == c->replica_id;
    if (!replica)
        return fp->current_leader_epoch >= 0 ? KERR_UNKNOWN_LEADER_EPOCH
                                             : KERR_NOT_LEADER_OR_FOLLOWER;
    const cl_broker *b = cl_broker_find(c->req->brk->image, c->replica_id);
    if (c->replica_epoch != -1 && b && b->epoch > c->replica_epoch)
        return KERR_NOT_LEADER_OR_FOLLOWER;
    return KERR_NONE;
}

/* Resolves and reads one partition into o; returns true if it returned
 * records. */
static bool fetch_read_part(fetch_ctx *c, fs_part *fp, out_part *o,
                            read_budget *bud) {
    brk_broker *brk = c->req->brk;
    memset(o, 0, sizeof *o);
    o->fp = fp;
    o->r.fd = -1;
    o->hw = o->lso = o->start = -1;
    o->div_epoch = -1;
    o->div_end = -1;
    o->preferred = -1;
    const cl_partition *p = NULL;
    int16_t err = KERR_NONE;
    if (c->bad_replica)
        err = KERR_NOT_LEADER_OR_FOLLOWER;
    else
        o->log = resolve(brk, fp, c->by_id, c->any_replica, c->req->api_version,
                         &p, &err);
    o->part = p;
    if (!err && c->replica)
        err = follower_check(c, p, fp);
    o->err = err;
    if (err)
        o->log = NULL;
    if (!o->log)
        return false;
    fetch_diverging(fp, o);
    /* A follower's fetch offset is its log end offset (Kafka's
     * Partition.updateFollowerFetchState), the proof that it holds
     * everything below, unless its log diverges from ours: then the HW may
     * move. */
    if (c->replica && o->div_epoch < 0)
        repl_follower_fetch_state(brk->repl, p, c->replica_id, c->replica_epoch,
                                  fp->fetch_offset);
    o->hw = log_high_watermark(o->log);
    o->lso = c->rq.isolation_level == 1
                 ? txn_lso(brk->txn, o->log) /* txn hook */
                 : log_last_stable_offset(o->log);
    o->start = log_start_offset(o->log);
    if (o->div_epoch >= 0)
        return false;
    if (c->replica && leader_throttles(c, p))
        return false; /* an empty read, offsets as they are */
    /* the leader sends the consumer elsewhere: no read (Kafka skips it) */
    o->preferred = preferred_replica(c, p, o->log, fp->fetch_offset);
    if (o->preferred >= 0)
        return false;
    int64_t max_off = c->replica                   ? -1
                      : c->rq.isolation_level == 1 ? o->lso
                                                   : o->hw;
    int64_t pmax =
        SL_MIN((int64_t)(fp->max_bytes > 0 ? fp->max_bytes : 0), bud->limit);
    o->err = log_read(o->log, fp->fetch_offset, (int32_t)pmax, max_off,
                      bud->min_one, &o->r);
    if (o->err || o->r.len <= 0)
        return false;
    bud->min_one = false;
    bud->limit = SL_MAX(0, bud->limit - o->r.len);
    return true;
}

/* A follower's fetch states its log end offset as it arrives (Kafka's
 * ReplicaManager.fetchMessages reads, and so updates the follower's fetch
 * state, before it parks the request): the HW moves, and acks=all produces
 * complete, without waiting for this fetch's replica.fetch.wait.max.ms. */
static void fetch_follower_arrived(fetch_ctx *c) {
    int n;
    fs_part *ps = ctx_parts(c, &n);
    for (int i = 0; i < n; i++) {
        out_part o = {.div_epoch = -1, .div_end = -1};
        const cl_partition *p = NULL;
        int16_t err = KERR_NONE;
        o.log = resolve(c->req->brk, &ps[i], c->by_id, false,
                        c->req->api_version, &p, &err);
        if (!o.log || follower_check(c, p, &ps[i]))
            continue;
        fetch_diverging(&ps[i], &o);
        if (o.div_epoch < 0)
            repl_follower_fetch_state(c->req->brk->repl, p, c->replica_id,
                                      c->replica_epoch, ps[i].fetch_offset);
    }
}

/* Whether an incremental response lists the partition (news: records, an
 * error, a diverging epoch, or a changed HW / LSO / log start), and what the
 * session remembers of it. */
static bool fetch_include(fetch_ctx *c, fs_part *fp, const out_part *o) {
    bool include = !c->incremental || o->err || o->r.len > 0 ||
                   o->div_epoch >= 0 || o->preferred >= 0 || !fp->sent ||
                   o->hw != fp->sent_hw || o->lso != fp->sent_lso ||
                   o->start != fp->sent_start;
    if (include) {
        fp->sent = true;
        fp->sent_hw = o->hw;
        fp->sent_lso = o->lso;
        fp->sent_start = o->start;
    }
    return include;
}

static bool same_topic(const fetch_ctx *c, const fs_part *a, const fs_part *b) {
    return c->by_id ? !memcmp(a->topic_id, b->topic_id, 16)
                    : !strcmp(a->topic, b->topic);
}

/* One partition: its fields, the records as a file range (sendfile), the
 * diverging epoch tag. Releases o's read. */
static void fetch_write_part(fetch_ctx *c, out_part *o) {
    brk_req *req = c->req;
    int16_t v = req->api_version;
    bool flex = v >= 12;
    buf *b = brk_resp_buf(req);
    buf_put_be32(b, (uint32_t)o->fp->partition);
    buf_put_be16(b, (uint16_t)o->err);
    buf_put_be64(b, (uint64_t)o->hw);
    buf_put_be64(b, (uint64_t)o->lso); /* v4+ */
    if (v >= 5)
        buf_put_be64(b, (uint64_t)o->start);
    /* aborted_transactions: null for read_uncommitted */
    if (c->rq.isolation_level == 1 && o->log && !o->err) /* txn hook */
        txn_fetch_write_aborted(req->brk->txn, b, flex, o->log,
                                o->fp->fetch_offset, o->lso);
    else
        proto_write_array_len(b, flex, c->rq.isolation_level == 1 ? 0 : -1);
    if (v >= 11)
        buf_put_be32(b, (uint32_t)o->preferred); /* preferred_read_replica */
    int32_t len = o->err ? 0 : o->r.len;
    if (flex)
        buf_put_uvarint(b, (uint64_t)len + 1);
    else
        buf_put_be32(b, (uint32_t)len);
    if (len > 0) {
        /* the chain takes the fd log_read dup'ed (no second dup) */
        net_chain_file_take(&req->resp, o->r.fd, (off_t)o->r.file_pos,
                            (size_t)len);
        o->r.fd = -1;
    }
    log_read_release(&o->r);
    if (!flex)
        return;
    b = brk_resp_buf(req);
    if (o->div_epoch >= 0) {
        /* tag 0: DivergingEpoch {epoch int32, end_offset int64, tags} */
        buf_put_uvarint(b, 1);
        put_tag_hdr(b, 0, 4 + 8 + 1);
        buf_put_be32(b, (uint32_t)o->div_epoch);
        buf_put_be64(b, (uint64_t)o->div_end);
        buf_put_uvarint(b, 0);
    } else {
        buf_put_uvarint(b, 0);
    }
}

/* The kept partitions, consecutive ones of a topic under one topic entry
 * (a topic whose partitions are not adjacent is listed once per run). */
static void fetch_write_topics(fetch_ctx *c, out_part *op, int nout) {
    brk_req *req = c->req;
    bool flex = req->api_version >= 12;
    int ntopics = 0;
    for (int i = 0; i < nout; i++)
        if (i == 0 || !same_topic(c, op[i].fp, op[i - 1].fp))
            ntopics++;
    proto_write_array_len(brk_resp_buf(req), flex, ntopics);
    for (int i = 0; i < nout;) {
        int j = i + 1;
        while (j < nout && same_topic(c, op[j].fp, op[i].fp))
            j++;
        buf *b = brk_resp_buf(req);
        if (req->api_version >= 13) {
            proto_uuid u;
            memcpy(u.b, op[i].fp->topic_id, 16);
            proto_write_uuid(b, &u);
        } else {
            proto_write_string(b, flex, proto_str_c(op[i].fp->topic));
        }
        proto_write_array_len(b, flex, j - i);
        for (int k = i; k < j; k++)
            fetch_write_part(c, &op[k]);
        if (flex)
            buf_put_uvarint(brk_resp_buf(req), 0); /* topic tags */
        i = j;
    }
}

/* Writes the response into req (a failed dup leaves a short body: rare,
 * logged by net). */
static void fetch_respond(fetch_ctx *c) {
    brk_req *req = c->req;
    fetch_write_header(c, brk_resp_buf(req));
    int n = 0;
    fs_part *ps = c->top_error ? NULL : ctx_parts(c, &n);
    out_part *op = arena_calloc(req->arena, (size_t)(n ? n : 1), sizeof(*op));
    bool *had_records = arena_calloc(req->arena, (size_t)(n ? n : 1), 1);
    read_budget bud = {c->rq.max_bytes > 0 ? c->rq.max_bytes : 0, true};
    int nout = 0;
    for (int i = 0; i < n; i++) {
        out_part *o = &op[nout];
        had_records[i] = fetch_read_part(c, &ps[i], o, &bud);
        if (fetch_include(c, &ps[i], o))
            nout++;
        else
            log_read_release(&o->r);
    }
    /* Kafka's KafkaApis.sizeOfThrottledPartitions: what the listed
     * partitions send to any follower, ISR members included, counts */
    int64_t throttled = 0;
    for (int i = 0; i < nout; i++)
        if (!op[i].err && leader_listed(c, op[i].part))
            throttled += op[i].r.len;
    if (throttled > 0)
        repl_quota_record(&sessions_of(req->brk)->leader_quota, throttled,
                          clk_mono_ms());
    fetch_write_topics(c, op, nout);
    if (req->api_version >= 12)
        buf_put_uvarint(brk_resp_buf(req), 0); /* top-level tags */
    if (c->incremental)
        rotate_served(ps, n, had_records);
}

/* ---- long polling: the replica manager's purgatory -------------------------
 * A fetch that waits is a purgatory entry (Kafka's DelayedFetch) watching
 * its partitions: checked when their HW or LEO moves, completed then, at
 * max_wait_ms, when a partition goes away, or at shutdown. */

static bool fetch_try_complete(void *ctx) {
    fetch_ctx *c = ctx;
    bool has_err;
    return brk_req_orphan(c->req) ||
           bytes_available(c, false, &has_err) >= c->rq.min_bytes || has_err;
}

static void fetch_complete(void *ctx, bool expired) {
    (void)expired; /* answered with what there is, as at max_wait_ms */
    fetch_ctx *c = ctx;
    brk_req *req = c->req;
    if (!brk_req_orphan(req))
        fetch_respond(c);
    brk_req_complete(req, BRK_DONE);
}

static const repl_op_ops fetch_ops = {fetch_try_complete, fetch_complete};

/* Defers the fetch: the keys of its partitions the image knows. */
static brk_status fetch_wait(fetch_ctx *c) {
    brk_broker *brk = c->req->brk;
    int n;
    fs_part *ps = ctx_parts(c, &n);
    repl_key *keys =
        arena_calloc(c->req->arena, (size_t)(n ? n : 1), sizeof *keys);
    int nk = 0;
    for (int i = 0; i < n; i++) {
        const cl_topic *t =
            c->by_id
                ? cl_topic_find_id(brk->image, ps[i].topic_id)
                : cl_topic_find(brk->image, ps[i].topic, strlen(ps[i].topic));
        if (!t)
            continue;
        memcpy(keys[nk].topic_id, t->id, 16);
        keys[nk].partition = ps[i].partition;
        nk++;
    }
    repl_purgatory_add(brk->repl, keys, nk, c->rq.max_wait_ms, &fetch_ops, c);
    return BRK_DEFER;
}

/* ---- the request ------------------------------------------------------------
 * brk_handle_fetch: decode (fetch_decode), find or open the session
 * (fetch_session_step), take the request's partitions into it or into the
 * request (fetch_add_partitions, fetch_forget_partitions), then answer or
 * wait. */

/* Copies a request partition into fp. */
static void set_part(fs_part *fp,
                     const proto_fetch_request_fetch_partition *rp) {
    fp->fetch_offset = rp->fetch_offset;
    fp->max_bytes = rp->partition_max_bytes;
    fp->current_leader_epoch = rp->current_leader_epoch;
    fp->last_fetched_epoch = rp->last_fetched_epoch;
}

static bool fetch_decode(brk_req *req, fetch_ctx *c) {
    brk_broker *brk = req->brk;
    c->req = req;
    if (proto_fetch_request_decode(&req->body, req->arena, req->api_version,
                                   &c->rq) != PROTO_OK)
        return false;
    c->by_id = req->api_version >= 13;
    int32_t replica_id = req->api_version >= 15 ? c->rq.replica_state.replica_id
                                                : c->rq.replica_id;
    if (replica_id >= 0) {
        c->replica = true;
        c->replica_id = replica_id;
        c->replica_epoch =
            req->api_version >= 15 ? c->rq.replica_state.replica_epoch : -1;
        c->bad_replica = !cl_broker_find(brk->image, replica_id) ||
                         replica_id == brk->node_id;
    } else if (req->api_version >= 11) {
        c->any_replica = true;
        c->selector =
            brk_cfg_str(brk->cfg, BRK_CFG_REPLICA_SELECTOR_CLASS) != NULL;
    }
    return true;
}

/* KIP-227: the session of this request (NULL: sessionless), or a top-level
 * error; sets session_id, incremental and where the partitions live. */
static fetch_session *fetch_session_step(fetch_ctx *c, int total) {
    brk_req *req = c->req;
    brk_broker *brk = req->brk;
    int32_t sid = c->rq.session_id, sepoch = c->rq.session_epoch;
    fetch_session *s = NULL;
    if (sid != 0 && sepoch > 0) {
        /* incremental */
        s = session_find(brk, sid);
        if (!s) {
            c->top_error = KERR_FETCH_SESSION_ID_NOT_FOUND;
        } else if (s->epoch != sepoch) {
            c->top_error = KERR_INVALID_FETCH_SESSION_EPOCH;
        } else {
            s->epoch = s->epoch == INT32_MAX ? 1 : s->epoch + 1;
            c->incremental = true;
        }
    } else if (sid != 0) {
        session_remove(brk, sid); /* epoch 0 (restart) or -1 (close) */
    }
    if (!c->top_error && !c->incremental && sepoch == 0 &&
        req->api_version >= 7)
        s = session_new(brk); /* a full fetch that opens a session */
    if (c->top_error) {
        c->session_id = 0;
        return NULL;
    }
    if (s) {
        c->session_id = s->id;
        c->sess_ref = s->id;
        s->last_used_ms = clk_mono_ms();
        if (!c->incremental) {
            for (int i = 0; i < s->n; i++)
                free(s->parts[i].topic);
            s->n = 0;
        }
    } else {
        c->session_id = 0;
        c->parts = arena_calloc(req->arena, (size_t)(total ? total : 1),
                                sizeof(fs_part));
    }
    return s;
}

/* Adds / updates the request's partitions (into s, or the request's own). */
static void fetch_add_partitions(fetch_ctx *c, fetch_session *s) {
    brk_req *req = c->req;
    brk_broker *brk = req->brk;
    for (int32_t i = 0; i < c->rq.topics.n; i++) {
        proto_fetch_request_fetch_topic *ft = &c->rq.topics.v[i];
        char *tname = NULL;
        if (c->by_id) {
            cl_topic *t = cl_topic_find_id(brk->image, ft->topic_id.b);
            /* a copy: the topic may go while the fetch waits */
            tname =
                t ? arena_strndup(req->arena, t->name, strlen(t->name)) : "";
        } else {
            tname = proto_str_dup(req->arena, ft->topic);
            if (!tname)
                tname = "";
        }
        for (int32_t j = 0; j < ft->partitions.n; j++) {
            proto_fetch_request_fetch_partition *rp = &ft->partitions.v[j];
            fs_part *fp;
            if (s) {
                fp = session_part(s, tname, ft->topic_id.b, rp->partition,
                                  c->by_id, true);
            } else {
                fp = &c->parts[c->n++];
                fp->topic = tname;
                memcpy(fp->topic_id, ft->topic_id.b, 16);
                fp->partition = rp->partition;
            }
            set_part(fp, rp);
        }
    }
}

/* forgotten_topics_data (incremental only): the others keep their order. */
static void fetch_forget_partitions(fetch_ctx *c, fetch_session *s) {
    for (int32_t i = 0; i < c->rq.forgotten_topics_data.n; i++) {
        proto_fetch_request_forgotten_topic *ft =
            &c->rq.forgotten_topics_data.v[i];
        char *tname = c->by_id ? NULL : proto_str_dup(c->req->arena, ft->topic);
        for (int32_t j = 0; j < ft->partitions.n; j++) {
            fs_part *fp = session_part(s, tname ? tname : "", ft->topic_id.b,
                                       ft->partitions.v[j], c->by_id, false);
            if (fp) {
                free(fp->topic);
                size_t at = (size_t)(fp - s->parts);
                memmove(fp, fp + 1, sizeof(*fp) * ((size_t)--s->n - at));
            }
        }
    }
}

brk_status brk_handle_fetch(brk_req *req) {
    brk_broker *brk = req->brk;
    /* on a controller listener, Fetch is the quorum's (raft_voters.c) */
    if (brk_listener_is_controller(brk, req->listener))
        return brk_handle_raft_rpc(req);
    fetch_ctx *c = arena_calloc(req->arena, 1, sizeof(*c));
    if (!fetch_decode(req, c))
        return BRK_CLOSE;
    proto_fetch_request *rq = &c->rq;
    int total = 0;
    for (int32_t i = 0; i < rq->topics.n; i++)
        total +=
            rq->topics.v[i].partitions.n > 0 ? rq->topics.v[i].partitions.n : 0;
    fetch_session *s = fetch_session_step(c, total);
    if (!c->top_error) {
        fetch_add_partitions(c, s);
        if (s && c->incremental)
            fetch_forget_partitions(c, s);
    }
    if (c->replica && !c->top_error && !c->bad_replica)
        fetch_follower_arrived(c);
    bool has_err = false;
    int64_t avail = c->top_error ? 0 : bytes_available(c, true, &has_err);
    if (c->top_error || has_err || rq->max_wait_ms <= 0 ||
        avail >= rq->min_bytes || brk->shutting_down) {
        fetch_respond(c);
        return BRK_DONE;
    }
    return fetch_wait(c); /* long poll */
}
