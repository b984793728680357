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
 *   the request is deferred (BRK_DEFER) until an append to one of its
 *   partitions makes min_bytes available (brk_fetch_notify) or the wait ends.
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
 * Threading: loop thread; sessions (per node: brk->fetch_sessions) and
 * waiters are loop-thread state.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/data.h"
#include "cluster/image.h"
#include "core/clock.h"
#include "core/util.h"
#include "log/log.h"
#include "net/net.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "proto/proto.h"
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

/* A node's sessions (brk->fetch_sessions), made at the first one. */
typedef struct brk_fetch_sessions {
    fetch_session *head;
    int n;
    uint32_t next_id;
} brk_fetch_sessions;

static brk_fetch_sessions *sessions_of(brk_broker *brk) {
    if (!brk->fetch_sessions) {
        brk->fetch_sessions = xcalloc(1, sizeof *brk->fetch_sessions);
        brk->fetch_sessions->next_id = 1;
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
    struct fetch_ctx *next; /* waiters list */
    brk_req *req;
    proto_fetch_request rq;
    bool by_id;         /* v13+ */
    bool replica;       /* from a broker (reads to LEO) */
    bool bad_replica;   /* replica id not a broker */
    int32_t session_id; /* in the response */
    int16_t top_error;
    bool incremental;
    /* the partitions to consider, flattened */
    fs_part *parts;
    int n;
    bool own_parts;            /* parts allocated in arena (no session) */
    int32_t sess_ref;          /* session id whose parts we use, 0 none */
    struct fetch_timer *timer; /* heap cookie shared with the timer */
    uint64_t timer_id;
} fetch_ctx;

/* The timer's context lives on the heap, not in the request arena: a
 * finished fetch cancels the timer and frees it, or, should the cancel not
 * find it, only detaches it (c = NULL) and the timer frees it when it fires;
 * either way no timer can touch a freed request. */
typedef struct fetch_timer {
    fetch_ctx *c;
} fetch_timer;

static fetch_ctx *waiters;

/* Resolves a partition to the image; err set on failure. */
static cl_partition *resolve(brk_broker *brk, const fs_part *fp, bool by_id,
                             int16_t version, int16_t *err) {
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
    if (!p)
        return NULL;
    *err = brk_data_check(brk, p);
    /* Kafka (KafkaApis.maybeDownConvertStorageError): v5 and older
     * clients may not know KAFKA_STORAGE_ERROR; they get
     * NOT_LEADER_OR_FOLLOWER, which makes them refresh metadata. */
    if (*err == KERR_KAFKA_STORAGE_ERROR && version <= 5)
        *err = KERR_NOT_LEADER_OR_FOLLOWER;
    if (*err)
        return NULL;
    if (fp->current_leader_epoch >= 0) {
        if (fp->current_leader_epoch < p->leader_epoch)
            *err = KERR_FENCED_LEADER_EPOCH;
        else if (fp->current_leader_epoch > p->leader_epoch)
            *err = KERR_UNKNOWN_LEADER_EPOCH;
        if (*err)
            return NULL;
    }
    return (cl_partition *)p;
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
        cl_partition *p = c->bad_replica ? NULL
                                         : resolve(brk, &ps[i], c->by_id,
                                                   c->req->api_version, &err);
        if (!p) {
            if (!arriving || (err != KERR_UNKNOWN_TOPIC_OR_PARTITION &&
                              err != KERR_UNKNOWN_TOPIC_ID))
                *has_error = true;
            continue;
        }
        known++;
        int64_t max_off = c->replica ? -1
                          : c->rq.isolation_level == 1
                              ? txn_lso(brk, p->log) /* txn hook */
                              : log_high_watermark(p->log);
        int32_t len = 0;
        err = log_read_len(p->log, ps[i].fetch_offset, ps[i].max_bytes, max_off,
                           true, &len);
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

/* Writes the response into req and returns true, or false if an fd could
 * not be attached (the caller closes the connection). */
static bool fetch_respond(fetch_ctx *c) {
    brk_req *req = c->req;
    brk_broker *brk = req->brk;
    int16_t v = req->api_version;
    bool flex = v >= 12;
    buf *b = brk_resp_buf(req);
    buf_put_be32(b, 0); /* throttle_time_ms (v1+) */
    if (v >= 7) {
        buf_put_be16(b, (uint16_t)c->top_error);
        buf_put_be32(b, (uint32_t)c->session_id);
    }
    int n;
    fs_part *ps = c->top_error ? NULL : ctx_parts(c, &n);
    if (c->top_error)
        n = 0;
    /* Group consecutive partitions of one topic; decide inclusion first. */
    typedef struct out_part {
        fs_part *fp;
        int16_t err;
        cl_partition *p;
        log_read_result r;
        int64_t hw, lso, start;
        int32_t div_epoch;
        int64_t div_end;
    } out_part;
    out_part *op = arena_calloc(req->arena, (size_t)(n ? n : 1), sizeof(*op));
    bool *had_records = arena_calloc(req->arena, (size_t)(n ? n : 1), 1);
    int64_t limit = c->rq.max_bytes > 0 ? c->rq.max_bytes : 0;
    bool min_one = true;
    int nout = 0;
    for (int i = 0; i < n; i++) {
        out_part *o = &op[nout];
        o->fp = &ps[i];
        o->r.fd = -1;
        o->hw = o->lso = o->start = -1;
        o->div_epoch = -1;
        o->div_end = -1;
        int16_t err = KERR_NONE;
        cl_partition *p = NULL;
        if (c->bad_replica)
            err = KERR_NOT_LEADER_OR_FOLLOWER;
        else
            p = resolve(brk, &ps[i], c->by_id, c->req->api_version, &err);
        o->p = p;
        if (p) {
            o->hw = log_high_watermark(p->log);
            o->lso = c->rq.isolation_level == 1
                         ? txn_lso(brk, p->log) /* txn hook */
                         : log_last_stable_offset(p->log);
            o->start = log_start_offset(p->log);
            /* A fetcher that names its last fetched epoch learns where its
             * log diverges from ours (followers, KIP-595). */
            if (ps[i].last_fetched_epoch >= 0) {
                int32_t e;
                int64_t end;
                log_end_offset_for_epoch(p->log, ps[i].last_fetched_epoch, &e,
                                         &end);
                if (e >= 0 && (end < ps[i].fetch_offset ||
                               e < ps[i].last_fetched_epoch)) {
                    o->div_epoch = e;
                    o->div_end = end;
                }
            }
            if (o->div_epoch < 0) {
                int64_t max_off = c->replica                   ? -1
                                  : c->rq.isolation_level == 1 ? o->lso
                                                               : o->hw;
                int64_t pmax =
                    SL_MIN((int64_t)(ps[i].max_bytes > 0 ? ps[i].max_bytes : 0),
                           limit);
                err = log_read(p->log, ps[i].fetch_offset, (int32_t)pmax,
                               max_off, min_one, &o->r);
                if (!err && o->r.len > 0) {
                    min_one = false;
                    limit = SL_MAX(0, limit - o->r.len);
                    had_records[i] = true;
                }
            }
        }
        o->err = err;
        bool include = true;
        if (c->incremental) {
            include = err || o->r.len > 0 || o->div_epoch >= 0 || !ps[i].sent ||
                      o->hw != ps[i].sent_hw || o->lso != ps[i].sent_lso ||
                      o->start != ps[i].sent_start;
        }
        if (include) {
            ps[i].sent = true;
            ps[i].sent_hw = o->hw;
            ps[i].sent_lso = o->lso;
            ps[i].sent_start = o->start;
            nout++;
        } else {
            log_read_release(&o->r);
        }
    }
    /* count topics */
    int ntopics = 0;
    for (int i = 0; i < nout; i++)
        if (i == 0 ||
            (c->by_id ? memcmp(op[i].fp->topic_id, op[i - 1].fp->topic_id, 16)
                      : strcmp(op[i].fp->topic, op[i - 1].fp->topic)))
            ntopics++;
    proto_write_array_len(b, flex, ntopics);
    bool ok = true;
    for (int i = 0; i < nout;) {
        int j = i + 1;
        while (j < nout &&
               !(c->by_id ? memcmp(op[j].fp->topic_id, op[i].fp->topic_id, 16)
                          : strcmp(op[j].fp->topic, op[i].fp->topic)))
            j++;
        b = brk_resp_buf(req);
        if (v >= 13) {
            proto_uuid u;
            memcpy(u.b, op[i].fp->topic_id, 16);
            proto_write_uuid(b, &u);
        } else {
            proto_write_string(b, flex, proto_str_c(op[i].fp->topic));
        }
        proto_write_array_len(b, flex, j - i);
        for (int k = i; k < j; k++) {
            out_part *o = &op[k];
            b = brk_resp_buf(req);
            buf_put_be32(b, (uint32_t)o->fp->partition);
            buf_put_be16(b, (uint16_t)o->err);
            buf_put_be64(b, (uint64_t)o->hw);
            buf_put_be64(b, (uint64_t)o->lso); /* v4+ */
            if (v >= 5)
                buf_put_be64(b, (uint64_t)o->start);
            /* aborted_transactions: null for read_uncommitted */
            if (c->rq.isolation_level == 1 && o->p && !o->err) /* txn hook */
                txn_fetch_write_aborted(req->brk, b, flex, o->p->log,
                                        o->fp->fetch_offset, o->lso);
            else
                proto_write_array_len(b, flex,
                                      c->rq.isolation_level == 1 ? 0 : -1);
            if (v >= 11)
                buf_put_be32(b, (uint32_t)-1); /* preferred_read_replica */
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
            b = brk_resp_buf(req);
            if (flex) {
                if (o->div_epoch >= 0) {
                    /* tag 0: DivergingEpoch {epoch int32, end_offset int64,
                     * tags} */
                    buf_put_uvarint(b, 1);
                    put_tag_hdr(b, 0, 4 + 8 + 1);
                    buf_put_be32(b, (uint32_t)o->div_epoch);
                    buf_put_be64(b, (uint64_t)o->div_end);
                    buf_put_uvarint(b, 0);
                } else {
                    buf_put_uvarint(b, 0);
                }
            }
        }
        if (flex)
            buf_put_uvarint(brk_resp_buf(req), 0); /* topic tags */
        i = j;
    }
    if (flex)
        buf_put_uvarint(brk_resp_buf(req), 0); /* top-level tags */
    if (c->incremental)
        rotate_served(ps, n, had_records);
    return ok;
}

static void waiter_unlink(fetch_ctx *c) {
    for (fetch_ctx **pp = &waiters; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            return;
        }
}

static void fetch_finish(fetch_ctx *c) {
    waiter_unlink(c);
    if (c->timer) {
        if (net_timer_cancel(c->req->brk->loop, c->timer_id))
            free(c->timer);
        else
            c->timer->c = NULL; /* the timer frees the cookie when it fires */
    }
    c->timer = NULL;
    brk_req *req = c->req;
    if (brk_req_orphan(req)) {
        brk_req_complete(req, BRK_DONE);
        return;
    }
    fetch_respond(
        c); /* a failed dup leaves a short body: rare, logged by net */
    brk_req_complete(req, BRK_DONE);
}

static void fetch_timeout(net_loop *loop, void *ctx) {
    (void)loop;
    fetch_timer *t = ctx;
    fetch_ctx *c = t->c;
    free(t);
    if (c) {
        c->timer = NULL;
        fetch_finish(c);
    }
}

void brk_fetch_notify(brk_broker *brk, log_partition *log) {
    (void)brk;
    const char *topic = log_topic(log);
    int32_t pid = log_partition_id(log);
    uint8_t tid[16];
    log_topic_id(log, tid);
    fetch_ctx *c = waiters;
    while (c) {
        fetch_ctx *next = c->next;
        int n;
        fs_part *ps = ctx_parts(c, &n);
        bool mine = false;
        for (int i = 0; i < n && !mine; i++)
            mine = ps[i].partition == pid &&
                   (c->by_id ? !memcmp(ps[i].topic_id, tid, 16)
                             : !strcmp(ps[i].topic, topic));
        if (mine) {
            bool has_err;
            if (brk_req_orphan(c->req) ||
                bytes_available(c, false, &has_err) >= c->rq.min_bytes ||
                has_err)
                fetch_finish(c);
        }
        c = next;
    }
}

void brk_fetch_wake(brk_broker *brk, const cl_topic *t, int32_t partition) {
    for (fetch_ctx *c = waiters; c; c = c->next) {
        int n;
        fs_part *ps = ctx_parts(c, &n);
        bool mine = false;
        for (int i = 0; i < n && !mine; i++)
            mine = (partition < 0 || ps[i].partition == partition) &&
                   (c->by_id ? !memcmp(ps[i].topic_id, t->id, 16)
                             : !strcmp(ps[i].topic, t->name));
        /* Answer from a fresh timer: the image still holds the topic now. */
        if (mine && c->timer && net_timer_cancel(brk->loop, c->timer_id))
            c->timer_id = net_timer_add(brk->loop, 0, fetch_timeout, c->timer);
    }
}

static void fetch_shutdown(brk_broker *brk, void *ctx) {
    (void)brk;
    (void)ctx;
    while (waiters)
        fetch_finish(waiters);
}

/* Copies a request partition into fp. */
static void set_part(fs_part *fp,
                     const proto_fetch_request_fetch_partition *rp) {
    fp->fetch_offset = rp->fetch_offset;
    fp->max_bytes = rp->partition_max_bytes;
    fp->current_leader_epoch = rp->current_leader_epoch;
    fp->last_fetched_epoch = rp->last_fetched_epoch;
}

void brk_fetch_start(brk_broker *brk) {
    brk_on_shutdown(brk, fetch_shutdown, NULL);
}

brk_status brk_handle_fetch(brk_req *req) {
    brk_broker *brk = req->brk;
    fetch_ctx *c = arena_calloc(req->arena, 1, sizeof(*c));
    c->req = req;
    if (proto_fetch_request_decode(&req->body, req->arena, req->api_version,
                                   &c->rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_fetch_request *rq = &c->rq;
    c->by_id = req->api_version >= 13;
    int32_t replica_id =
        req->api_version >= 15 ? rq->replica_state.replica_id : rq->replica_id;
    if (replica_id >= 0) {
        c->replica = true;
        c->bad_replica = !cl_broker_find(brk->image, replica_id) ||
                         replica_id == brk->node_id;
    }
    /* Topic names for v13+ requests (ids) are looked up for the session. */
    int32_t nt = rq->topics.n > 0 ? rq->topics.n : 0;
    int total = 0;
    for (int32_t i = 0; i < nt; i++)
        total +=
            rq->topics.v[i].partitions.n > 0 ? rq->topics.v[i].partitions.n : 0;

    int32_t sid = rq->session_id, sepoch = rq->session_epoch;
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
    } else if (s) {
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
    if (!c->top_error) {
        /* add / update the request's partitions */
        for (int32_t i = 0; i < nt; i++) {
            proto_fetch_request_fetch_topic *ft = &rq->topics.v[i];
            char *tname = NULL;
            if (c->by_id) {
                cl_topic *t = cl_topic_find_id(brk->image, ft->topic_id.b);
                /* a copy: the topic may go while the fetch waits */
                tname = t ? arena_strndup(req->arena, t->name, strlen(t->name))
                          : "";
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
        /* forgotten partitions (incremental only) */
        if (s && c->incremental)
            for (int32_t i = 0; i < rq->forgotten_topics_data.n; i++) {
                proto_fetch_request_forgotten_topic *ft =
                    &rq->forgotten_topics_data.v[i];
                char *tname =
                    c->by_id ? NULL : proto_str_dup(req->arena, ft->topic);
                for (int32_t j = 0; j < ft->partitions.n; j++) {
                    fs_part *fp =
                        session_part(s, tname ? tname : "", ft->topic_id.b,
                                     ft->partitions.v[j], c->by_id, false);
                    if (fp) { /* the others keep their order */
                        free(fp->topic);
                        size_t at = (size_t)(fp - s->parts);
                        memmove(fp, fp + 1,
                                sizeof(*fp) * ((size_t)--s->n - at));
                    }
                }
            }
    }
    bool has_err = false;
    int64_t avail = c->top_error ? 0 : bytes_available(c, true, &has_err);
    if (c->top_error || has_err || rq->max_wait_ms <= 0 ||
        avail >= rq->min_bytes || brk->shutting_down) {
        bool ok = fetch_respond(c);
        return ok ? BRK_DONE : BRK_CLOSE;
    }
    /* long poll */
    c->next = waiters;
    waiters = c;
    c->timer = xmalloc(sizeof(*c->timer));
    c->timer->c = c;
    c->timer_id =
        net_timer_add(brk->loop, rq->max_wait_ms, fetch_timeout, c->timer);
    return BRK_DEFER;
}
