/*
 * nullbroker.c - a Kafka-protocol endpoint that does (almost) nothing, to
 * measure the load client's own ceiling on this machine.
 *
 * The throughput rows of `make bench` run the load client and the broker on
 * the same 2 cores. A broker that costs nothing would still leave the client
 * its own limit: this program is that broker, as near as one can get. It
 * answers ApiVersions, Metadata, CreateTopics, DeleteTopics, Produce,
 * ListOffsets and Fetch from memory:
 *   - Produce assigns offsets (from each batch's lastOffsetDelta) and, in
 *     --keep mode only, keeps a copy of the batches with their baseOffset
 *     rewritten (baseOffset is outside the batch CRC) so that they can be
 *     fetched; otherwise the records are dropped.
 *   - Fetch answers from the kept copy (whole batches, up to the
 *     partition's and the request's byte limits). A fetch that finds nothing
 *     waits, as Kafka's does, until a produce appends or its max_wait_ms
 *     passes (one parked fetch per connection; a later request on the same
 *     connection answers it first, keeping responses in order).
 * No disk, no validation beyond the framing, no durability: NOT a broker.
 * bench/bench.py runs rdperf against it beside the two real brokers and
 * reports its figures as "the client's ceiling".
 *
 * Usage: nullbroker PORT [--keep]
 * Threading: one thread, one epoll loop. Memory: the kept batches (--keep),
 * a bounded input buffer per connection (requests up to 100 MiB) and the
 * pending output.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "proto/gen/messages.h"

#define NB_MAX_FRAME (100u << 20)
#define NB_MAX_PARTS 1024

typedef struct nb_part {
    int64_t next;   /* next offset to assign */
    buf data;       /* kept batches (--keep) */
    int64_t *bases; /* baseOffset of each kept batch */
    size_t *pos;    /* its position in data */
    size_t nb, capb;
} nb_part;

typedef struct nb_topic {
    char *name;
    int32_t nparts;
    nb_part *parts;
    struct nb_topic *next;
} nb_topic;

typedef struct nb_conn {
    int fd;
    buf in;
    buf out;
    size_t out_off;
    bool want_out;
    uint8_t *parked; /* a fetch frame waiting for data, or NULL */
    size_t parked_len;
    int64_t parked_deadline_us;
    struct nb_conn *prev, *next; /* all connections */
} nb_conn;

static nb_conn *nb_conns;
/* Set by h_fetch when it found no data: how long the request may wait. */
static int32_t nb_fetch_wait_ms;

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static nb_topic *nb_topics;
static bool nb_keep;
static int nb_port;
static int nb_epfd;

static nb_topic *topic_find(proto_str name) {
    for (nb_topic *t = nb_topics; t; t = t->next)
        if ((int32_t)strlen(t->name) == name.len &&
            memcmp(t->name, name.p, (size_t)name.len) == 0)
            return t;
    return NULL;
}

static void topic_free(nb_topic *t) {
    for (int32_t i = 0; i < t->nparts; i++) {
        buf_free(&t->parts[i].data);
        free(t->parts[i].bases);
        free(t->parts[i].pos);
    }
    free(t->parts);
    free(t->name);
    free(t);
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "nullbroker: out of memory\n");
        exit(1);
    }
    return q;
}

/* A response array of n zeroed elements from the request's arena. */
#define NB_ARRAY(a, arr, count)                                                \
    do {                                                                       \
        (arr).n = (count);                                                     \
        (arr).v = arena_calloc((a), (size_t)((arr).n > 0 ? (arr).n : 0),       \
                               sizeof *(arr).v);                               \
    } while (0)

/* ---- handlers ----------------------------------------------------------- */
typedef struct nb_api {
    int16_t key, lo, hi;
} nb_api;

/* What librdkafka and the Admin client need, at versions that name topics. */
static const nb_api nb_apis[] = {
    {0, 3, 9},  /* Produce */
    {1, 4, 12}, /* Fetch (v13+ would name topics by id) */
    {2, 1, 7},  /* ListOffsets */
    {3, 1, 12}, /* Metadata */
    {18, 0, 4}, /* ApiVersions */
    {19, 2, 7}, /* CreateTopics */
    {20, 1, 6}, /* DeleteTopics */
};
#define NB_NAPIS ((int)(sizeof nb_apis / sizeof nb_apis[0]))

static const nb_api *api_find(int16_t key) {
    for (int i = 0; i < NB_NAPIS; i++)
        if (nb_apis[i].key == key)
            return &nb_apis[i];
    return NULL;
}

static void h_api_versions(arena *a, int16_t v, buf *o) {
    proto_api_versions_response r;
    proto_api_versions_response_init(&r);
    NB_ARRAY(a, r.api_keys, NB_NAPIS);
    for (int i = 0; i < NB_NAPIS; i++) {
        r.api_keys.v[i].api_key = nb_apis[i].key;
        r.api_keys.v[i].min_version = nb_apis[i].lo;
        r.api_keys.v[i].max_version = nb_apis[i].hi;
    }
    proto_api_versions_response_encode(o, v, &r);
}

static void fill_topic_md(arena *a,
                          proto_metadata_response_metadata_response_topic *mt,
                          const nb_topic *t) {
    NB_ARRAY(a, mt->partitions, t->nparts);
    for (int32_t p = 0; p < t->nparts; p++) {
        proto_metadata_response_metadata_response_partition *mp =
            &mt->partitions.v[p];
        int32_t *one = arena_alloc(a, sizeof *one);
        *one = 1;
        mp->partition_index = p;
        mp->leader_id = 1;
        mp->leader_epoch = -1;
        mp->replica_nodes.n = mp->isr_nodes.n = 1;
        mp->replica_nodes.v = mp->isr_nodes.v = one;
    }
}

static int h_metadata(arena *a, rd *in, int16_t v, buf *o) {
    proto_metadata_request q;
    if (proto_metadata_request_decode(in, a, v, &q) != PROTO_OK)
        return -1;
    proto_metadata_response r;
    proto_metadata_response_init(&r);
    NB_ARRAY(a, r.brokers, 1);
    r.brokers.v[0].node_id = 1;
    r.brokers.v[0].host = proto_str_c("127.0.0.1");
    r.brokers.v[0].port = nb_port;
    r.cluster_id = proto_str_c("nullbroker");
    r.controller_id = 1;
    int32_t n = 0;
    if (q.topics.n < 0)
        for (nb_topic *t = nb_topics; t; t = t->next)
            n++;
    else
        n = q.topics.n;
    NB_ARRAY(a, r.topics, n);
    int32_t i = 0;
    if (q.topics.n < 0) {
        for (nb_topic *t = nb_topics; t; t = t->next, i++) {
            r.topics.v[i].name = proto_str_c(t->name);
            fill_topic_md(a, &r.topics.v[i], t);
        }
    } else {
        for (; i < n; i++) {
            proto_metadata_response_metadata_response_topic *mt =
                &r.topics.v[i];
            mt->name = q.topics.v[i].name;
            nb_topic *t = topic_find(q.topics.v[i].name);
            if (!t)
                mt->error_code = 3; /* UNKNOWN_TOPIC_OR_PARTITION */
            else
                fill_topic_md(a, mt, t);
        }
    }
    proto_metadata_response_encode(o, v, &r);
    return 0;
}

static int h_create_topics(arena *a, rd *in, int16_t v, buf *o) {
    proto_create_topics_request q;
    if (proto_create_topics_request_decode(in, a, v, &q) != PROTO_OK)
        return -1;
    proto_create_topics_response r;
    proto_create_topics_response_init(&r);
    NB_ARRAY(a, r.topics, q.topics.n);
    for (int32_t i = 0; i < q.topics.n; i++) {
        proto_create_topics_request_creatable_topic *qt = &q.topics.v[i];
        proto_create_topics_response_creatable_topic_result *rt =
            &r.topics.v[i];
        proto_create_topics_response_creatable_topic_result_init(rt);
        rt->name = qt->name;
        int32_t np = qt->num_partitions < 1 ? 1 : qt->num_partitions;
        if (topic_find(qt->name)) {
            rt->error_code = 36; /* TOPIC_ALREADY_EXISTS */
            continue;
        }
        if (np > NB_MAX_PARTS || qt->name.len <= 0) {
            rt->error_code = 37; /* INVALID_PARTITIONS */
            continue;
        }
        rt->num_partitions = np;
        rt->replication_factor = 1;
        if (q.validate_only)
            continue;
        nb_topic *t = calloc(1, sizeof *t);
        if (!t)
            exit(1);
        t->name = strndup(qt->name.p, (size_t)qt->name.len);
        t->nparts = np;
        t->parts = calloc((size_t)np, sizeof *t->parts);
        if (!t->name || !t->parts)
            exit(1);
        t->next = nb_topics;
        nb_topics = t;
    }
    proto_create_topics_response_encode(o, v, &r);
    return 0;
}

static int h_delete_topics(arena *a, rd *in, int16_t v, buf *o) {
    proto_delete_topics_request q;
    if (proto_delete_topics_request_decode(in, a, v, &q) != PROTO_OK)
        return -1;
    int32_t n = v >= 6 ? q.topics.n : q.topic_names.n;
    proto_delete_topics_response r;
    proto_delete_topics_response_init(&r);
    NB_ARRAY(a, r.responses, n);
    for (int32_t i = 0; i < n; i++) {
        proto_str name = v >= 6 ? q.topics.v[i].name : q.topic_names.v[i];
        proto_delete_topics_response_deletable_topic_result *rt =
            &r.responses.v[i];
        proto_delete_topics_response_deletable_topic_result_init(rt);
        rt->name = name;
        nb_topic **pp = &nb_topics;
        while (*pp && !((int32_t)strlen((*pp)->name) == name.len &&
                        memcmp((*pp)->name, name.p, (size_t)name.len) == 0))
            pp = &(*pp)->next;
        if (!*pp) {
            rt->error_code = 3;
            continue;
        }
        nb_topic *t = *pp;
        *pp = t->next;
        topic_free(t);
    }
    proto_delete_topics_response_encode(o, v, &r);
    return 0;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static void put_be64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* Assign offsets to the batches of one partition's records; keep them in
 * --keep mode. Returns the base offset, or -1 if the framing is bad. */
static int64_t append(nb_part *p, proto_bytes recs) {
    int64_t base = p->next;
    size_t off = 0, len = recs.len > 0 ? (size_t)recs.len : 0;
    while (len - off >= 61) {
        const uint8_t *b = recs.p + off;
        size_t blen = 12 + (size_t)be32(b + 8);
        if (blen < 61 || blen > len - off)
            return -1;
        int64_t delta = (int32_t)be32(b + 23);
        if (nb_keep) {
            if (p->nb == p->capb) {
                p->capb = p->capb ? p->capb * 2 : 1024;
                p->bases = xrealloc(p->bases, p->capb * sizeof *p->bases);
                p->pos = xrealloc(p->pos, p->capb * sizeof *p->pos);
            }
            p->bases[p->nb] = p->next;
            p->pos[p->nb] = p->data.len;
            p->nb++;
            uint8_t *dst = buf_extend(&p->data, blen);
            memcpy(dst, b, blen);
            put_be64(dst, (uint64_t)p->next);
        }
        p->next += delta + 1;
        off += blen;
    }
    return off == len ? base : -1;
}

static int h_produce(arena *a, rd *in, int16_t v, buf *o) {
    proto_produce_request q;
    if (proto_produce_request_decode(in, a, v, &q) != PROTO_OK)
        return -1;
    proto_produce_response r;
    proto_produce_response_init(&r);
    NB_ARRAY(a, r.responses, q.topic_data.n);
    for (int32_t i = 0; i < q.topic_data.n; i++) {
        proto_produce_request_topic_produce_data *qt = &q.topic_data.v[i];
        proto_produce_response_topic_produce_response *rt = &r.responses.v[i];
        nb_topic *t = topic_find(qt->name);
        rt->name = qt->name;
        NB_ARRAY(a, rt->partition_responses, qt->partition_data.n);
        for (int32_t j = 0; j < qt->partition_data.n; j++) {
            proto_produce_response_partition_produce_response *rp =
                &rt->partition_responses.v[j];
            proto_produce_response_partition_produce_response_init(rp);
            int32_t idx = qt->partition_data.v[j].index;
            rp->index = idx;
            if (!t || idx < 0 || idx >= t->nparts) {
                rp->error_code = 3;
                continue;
            }
            int64_t base =
                append(&t->parts[idx], qt->partition_data.v[j].records);
            if (base < 0)
                rp->error_code = 87; /* INVALID_RECORD */
            else
                rp->base_offset = base;
            rp->log_start_offset = 0;
        }
    }
    if (q.acks == 0)
        return 1; /* no response */
    proto_produce_response_encode(o, v, &r);
    return 0;
}

static int h_list_offsets(arena *a, rd *in, int16_t v, buf *o) {
    proto_list_offsets_request q;
    if (proto_list_offsets_request_decode(in, a, v, &q) != PROTO_OK)
        return -1;
    proto_list_offsets_response r;
    proto_list_offsets_response_init(&r);
    NB_ARRAY(a, r.topics, q.topics.n);
    for (int32_t i = 0; i < q.topics.n; i++) {
        nb_topic *t = topic_find(q.topics.v[i].name);
        r.topics.v[i].name = q.topics.v[i].name;
        int32_t np = q.topics.v[i].partitions.n;
        NB_ARRAY(a, r.topics.v[i].partitions, np);
        for (int32_t j = 0; j < np; j++) {
            proto_list_offsets_request_list_offsets_partition *qp =
                &q.topics.v[i].partitions.v[j];
            proto_list_offsets_response_list_offsets_partition_response *rp =
                &r.topics.v[i].partitions.v[j];
            proto_list_offsets_response_list_offsets_partition_response_init(
                rp);
            rp->partition_index = qp->partition_index;
            if (!t || qp->partition_index < 0 ||
                qp->partition_index >= t->nparts) {
                rp->error_code = 3;
                continue;
            }
            rp->offset =
                qp->timestamp == -2 ? 0 : t->parts[qp->partition_index].next;
        }
    }
    proto_list_offsets_response_encode(o, v, &r);
    return 0;
}

/* Index of the kept batch holding offset off (last base <= off). */
static size_t batch_at(const nb_part *p, int64_t off) {
    size_t lo = 0, hi = p->nb;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->bases[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static int h_fetch(arena *a, rd *in, int16_t v, buf *o, bool may_wait) {
    proto_fetch_request q;
    if (proto_fetch_request_decode(in, a, v, &q) != PROTO_OK)
        return -1;
    proto_fetch_response r;
    proto_fetch_response_init(&r);
    NB_ARRAY(a, r.responses, q.topics.n);
    int64_t left = q.max_bytes > 0 ? q.max_bytes : 1, start_left = left;
    bool errors = false;
    for (int32_t i = 0; i < q.topics.n; i++) {
        proto_fetch_request_fetch_topic *qt = &q.topics.v[i];
        proto_fetch_response_fetchable_topic_response *rt = &r.responses.v[i];
        nb_topic *t = topic_find(qt->topic);
        rt->topic = qt->topic;
        NB_ARRAY(a, rt->partitions, qt->partitions.n);
        for (int32_t j = 0; j < qt->partitions.n; j++) {
            proto_fetch_request_fetch_partition *qp = &qt->partitions.v[j];
            proto_fetch_response_partition_data *rp = &rt->partitions.v[j];
            proto_fetch_response_partition_data_init(rp);
            rp->partition_index = qp->partition;
            rp->aborted_transactions.n = -1;
            if (!t || qp->partition < 0 || qp->partition >= t->nparts) {
                rp->error_code = 3;
                errors = true;
                continue;
            }
            nb_part *p = &t->parts[qp->partition];
            rp->high_watermark = rp->last_stable_offset = p->next;
            rp->log_start_offset = 0;
            if (qp->fetch_offset < 0 || qp->fetch_offset > p->next) {
                rp->error_code = 1; /* OFFSET_OUT_OF_RANGE */
                errors = true;
                continue;
            }
            rp->records = (proto_bytes){(const uint8_t *)"", 0};
            if (qp->fetch_offset == p->next || p->nb == 0 || left <= 0)
                continue;
            size_t k = batch_at(p, qp->fetch_offset), start = p->pos[k],
                   end = start;
            int64_t cap =
                qp->partition_max_bytes < left ? qp->partition_max_bytes : left;
            for (; k < p->nb; k++) {
                size_t bend = k + 1 < p->nb ? p->pos[k + 1] : p->data.len;
                if (end > start && (int64_t)(bend - start) > cap)
                    break;
                end = bend;
            }
            rp->records =
                (proto_bytes){p->data.data + start, (int32_t)(end - start)};
            left -= (int64_t)(end - start);
        }
    }
    if (may_wait && left == start_left && !errors && q.max_wait_ms > 0) {
        nb_fetch_wait_ms = q.max_wait_ms;
        return 2; /* nothing yet: the caller may park the request */
    }
    proto_fetch_response_encode(o, v, &r);
    return 0;
}

/* ---- connections -------------------------------------------------------- */
static int on_frame(nb_conn *c, const uint8_t *p, size_t n, arena *a,
                    bool final);
static void wake_parked(bool all);

/* Answer c's parked fetch: with data if there is some now, or (final)
 * whatever there is. Returns -1 to close. */
static int unpark(nb_conn *c, arena *a, bool final) {
    uint8_t *f = c->parked;
    size_t n = c->parked_len;
    int64_t deadline = c->parked_deadline_us;
    c->parked = NULL;
    int rc = on_frame(c, f, n, a, final);
    arena_reset(a);
    if (c->parked) { /* parked again: keep the original deadline */
        free(c->parked);
        c->parked = f;
        c->parked_deadline_us = deadline;
        return rc;
    }
    free(f);
    return rc;
}

/* One request frame (without its size). final: a fetch is answered even
 * when it finds nothing (no parking). Returns -1 to close. */
static int on_frame(nb_conn *c, const uint8_t *p, size_t n, arena *a,
                    bool final) {
    rd in;
    rd_init(&in, p, n);
    proto_request_header h;
    int rc = proto_request_header_decode(&in, a, &h);
    if (rc != PROTO_OK && rc != PROTO_ERR_UNKNOWN_API)
        return -1;
    const nb_api *api = api_find(h.api_key);
    if (!api)
        return -1;
    size_t at = c->out.len;
    buf_put_be32(&c->out, 0);
    if (h.api_key == 18 &&
        (h.api_version < api->lo || h.api_version > api->hi)) {
        /* Kafka's answer: v0 with UNSUPPORTED_VERSION and our ranges. */
        proto_response_header_encode(&c->out, 18, 0, h.correlation_id);
        size_t e = c->out.len;
        h_api_versions(a, 0, &c->out);
        c->out.data[e] = 0, c->out.data[e + 1] = 35;
    } else if (h.api_version < api->lo || h.api_version > api->hi) {
        return -1;
    } else {
        proto_response_header_encode(&c->out, h.api_key, h.api_version,
                                     h.correlation_id);
        switch (h.api_key) {
        case 18:
            h_api_versions(a, h.api_version, &c->out);
            rc = 0;
            break;
        case 3:
            rc = h_metadata(a, &in, h.api_version, &c->out);
            break;
        case 19:
            rc = h_create_topics(a, &in, h.api_version, &c->out);
            break;
        case 20:
            rc = h_delete_topics(a, &in, h.api_version, &c->out);
            break;
        case 0:
            rc = h_produce(a, &in, h.api_version, &c->out);
            if (rc >= 0)
                wake_parked(false);
            break;
        case 2:
            rc = h_list_offsets(a, &in, h.api_version, &c->out);
            break;
        default:
            rc = h_fetch(a, &in, h.api_version, &c->out, !final);
            break;
        }
        if (rc < 0)
            return -1;
        if (rc == 2) { /* park until data or the deadline */
            c->out.len = at;
            c->parked = malloc(n);
            if (!c->parked)
                exit(1);
            memcpy(c->parked, p, n);
            c->parked_len = n;
            c->parked_deadline_us = now_us() + (int64_t)nb_fetch_wait_ms * 1000;
            return 0;
        }
        if (rc == 1) { /* acks=0: nothing to send */
            c->out.len = at;
            return 0;
        }
    }
    size_t len = c->out.len - at - 4;
    uint8_t *s = c->out.data + at;
    s[0] = (uint8_t)(len >> 24), s[1] = (uint8_t)(len >> 16),
    s[2] = (uint8_t)(len >> 8), s[3] = (uint8_t)len;
    return 0;
}

static void conn_close(nb_conn *c) {
    if (c->prev)
        c->prev->next = c->next;
    else
        nb_conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->parked);
    close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    free(c);
}

static int conn_flush(nb_conn *c) {
    while (c->out_off < c->out.len) {
        ssize_t w = send(c->fd, c->out.data + c->out_off,
                         c->out.len - c->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            return -1;
        }
        c->out_off += (size_t)w;
    }
    if (c->out_off == c->out.len)
        c->out.len = c->out_off = 0;
    bool want = c->out.len > 0;
    if (want != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0),
                                 .data.ptr = c};
        epoll_ctl(nb_epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = want;
    }
    return 0;
}

/* Parked fetches: after a produce (all = false) each is answered if it now
 * finds data; on the timer (all = true) those past their deadline are
 * answered as they are. Uses its own arena: a produce's request is still
 * in the caller's. Write errors surface at the connection's next event. */
static void wake_parked(bool all) {
    static arena wa;
    static bool wa_init;
    if (!wa_init) {
        arena_init(&wa, 64 * 1024);
        wa_init = true;
    }
    int64_t now = all ? now_us() : 0;
    for (nb_conn *c = nb_conns; c; c = c->next) {
        if (!c->parked || (all && now < c->parked_deadline_us))
            continue;
        if (unpark(c, &wa, all) == 0)
            conn_flush(c);
    }
}

/* Milliseconds until the first parked fetch's deadline, -1 if none. */
static int next_deadline_ms(void) {
    int64_t first = -1;
    for (nb_conn *c = nb_conns; c; c = c->next)
        if (c->parked && (first < 0 || c->parked_deadline_us < first))
            first = c->parked_deadline_us;
    if (first < 0)
        return -1;
    int64_t d = first - now_us();
    return d <= 0 ? 0 : (int)((d + 999) / 1000);
}

static int conn_read(nb_conn *c, arena *a) {
    for (;;) {
        buf_reserve(&c->in, 256 * 1024);
        ssize_t n =
            recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
        if (n == 0)
            return -1;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            return -1;
        }
        c->in.len += (size_t)n;
        size_t off = 0;
        while (c->in.len - off >= 4) {
            uint32_t fl = be32(c->in.data + off);
            if (fl > NB_MAX_FRAME)
                return -1;
            if (c->in.len - off - 4 < fl) {
                buf_reserve(&c->in, fl + 4);
                break;
            }
            /* A parked fetch is answered before the next request. */
            if (c->parked && unpark(c, a, true) < 0)
                return -1;
            int rc = on_frame(c, c->in.data + off + 4, fl, a, false);
            arena_reset(a);
            if (rc < 0)
                return -1;
            off += 4 + fl;
        }
        memmove(c->in.data, c->in.data + off, c->in.len - off);
        c->in.len -= off;
    }
    return conn_flush(c);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: nullbroker PORT [--keep]\n");
        return 2;
    }
    nb_port = atoi(argv[1]);
    nb_keep = argc > 2 && strcmp(argv[2], "--keep") == 0;
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)nb_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 128)) {
        perror("nullbroker: bind");
        return 1;
    }
    nb_epfd = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(nb_epfd, EPOLL_CTL_ADD, ls, &ev);
    arena a;
    arena_init(&a, 64 * 1024);
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(nb_epfd, evs, 64, next_deadline_ms());
        wake_parked(true);
        for (int i = 0; i < n; i++) {
            nb_conn *c = evs[i].data.ptr;
            if (!c) {
                int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
                if (fd < 0)
                    continue;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                c = calloc(1, sizeof *c);
                if (!c)
                    exit(1);
                c->fd = fd;
                c->next = nb_conns;
                if (nb_conns)
                    nb_conns->prev = c;
                nb_conns = c;
                struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(nb_epfd, EPOLL_CTL_ADD, fd, &cev);
                continue;
            }
            int rc = 0;
            if (evs[i].events & EPOLLOUT)
                rc = conn_flush(c);
            if (rc == 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                rc = conn_read(c, &a);
            if (rc < 0) {
                epoll_ctl(nb_epfd, EPOLL_CTL_DEL, c->fd, NULL);
                conn_close(c);
            }
        }
    }
}
