/*
 * controller.c - the broker's side of the controller (src/controller):
 * admin operations become metadata records (encoded by controller/records.h:
 * TopicRecord, PartitionRecord,
 * ConfigRecord, RemoveTopicRecord, RegisterBrokerRecord, FeatureLevelRecord)
 * submitted to brk->ctl, which writes them to __cluster_metadata-0 and
 * applies them to the image once durable, so a restart replays exactly what
 * was committed. Handlers wait for their commits with brk_commit (the reply
 * is deferred); only start-up and the coordinators' services still commit
 * synchronously (ctl_commit).
 *
 * A single node registers itself at every start (a RegisterBrokerRecord
 * applied in memory with the current endpoints; not persisted, since
 * endpoints may change between starts and the record would only be
 * superseded). In a quorum every node's broker registers with the active
 * controller over the network (lifecycle_net.c): its registration is a
 * committed record, so every node's image lists every broker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/features.h"
#include "broker/internal.h"
#include "controller/controller.h"
#include "controller/placement.h"
#include "controller/records.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "core/uuid.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"

/* metadata.version a new cluster is bootstrapped with: Kafka 4.3.1's
 * default (4.3-IV0 = 30; clusters formatted earlier keep their level). */
#define SL_METADATA_VERSION 30

int16_t ctl_commit(brk_broker *brk, buf *values, int n) {
    if (n <= 0)
        return KERR_NONE;
    return ctl_commit_sync(brk->ctl, values, n);
}

/* ---- deferred replies on commits (internal.h) ---- */

struct brk_commit_wait {
    brk_req *req;
    brk_commit_finish_fn finish;
    void *ctx;
    int pending; /* submits not completed */
    bool ended;  /* brk_commit_end was called */
};

typedef struct commit_one {
    brk_commit_wait *w;
    int16_t *err_out;
    ctl_done_fn then; /* runs first, may be NULL */
    void *then_arg;
} commit_one;

brk_commit_wait *brk_commit_begin(brk_req *req, brk_commit_finish_fn finish,
                                  void *ctx) {
    brk_commit_wait *w = arena_calloc(req->arena, 1, sizeof *w);
    w->req = req;
    w->finish = finish;
    w->ctx = ctx;
    return w;
}

static void commit_done(void *arg, int16_t err) {
    commit_one *o = arg;
    brk_commit_wait *w = o->w;
    if (o->then)
        o->then(o->then_arg, err);
    if (o->err_out)
        *o->err_out = err;
    SL_ASSERT(w->pending > 0);
    if (--w->pending == 0 && w->ended) {
        w->finish(w->req, w->ctx);
        brk_req_complete(w->req, BRK_DONE);
    }
}

void brk_commit(brk_commit_wait *w, const buf *values, int n,
                int16_t *err_out) {
    brk_commit_then(w, values, n, err_out, NULL, NULL);
}

brk_broker *brk_commit_broker(const brk_commit_wait *w) {
    return w->req->brk;
}

void brk_commit_then(brk_commit_wait *w, const buf *values, int n,
                     int16_t *err_out, ctl_done_fn then, void *then_arg) {
    SL_ASSERT(!w->ended);
    if (n <= 0) {
        if (err_out)
            *err_out = KERR_NONE;
        if (then)
            then(then_arg, KERR_NONE);
        return;
    }
    commit_one *o = arena_calloc(w->req->arena, 1, sizeof *o);
    o->w = w;
    o->err_out = err_out;
    o->then = then;
    o->then_arg = then_arg;
    w->pending++;
    ctl_submit(w->req->brk->ctl, values, n, commit_done, o);
}

typedef struct serial_wait {
    brk_req *req;
    brk_status (*fn)(brk_req *req);
} serial_wait;

static void serial_run(void *arg, bool cancelled) {
    serial_wait *s = arg;
    brk_req *req = s->req;
    if (cancelled || brk_req_orphan(req)) {
        /* shutting down, or nobody to answer: do nothing */
        brk_req_complete(req, BRK_NO_RESPONSE);
        return;
    }
    brk_status st = s->fn(req);
    if (st != BRK_DEFER)
        brk_req_complete(req, st == BRK_CLOSE ? BRK_NO_RESPONSE : st);
}

/* Shutdown begins: requests still waiting for an idle controller go
 * unanswered (their connections close). */
static void cancel_serial(brk_broker *brk, void *ctx) {
    (void)ctx;
    if (brk->ctl)
        ctl_cancel_waiters(brk->ctl);
}

brk_status brk_ctl_serial(brk_req *req, brk_status (*fn)(brk_req *req)) {
    brk_broker *brk = req->brk;
    if (!brk->ctl || ctl_idle(brk->ctl))
        return fn(req);
    serial_wait *s = arena_calloc(req->arena, 1, sizeof *s);
    s->req = req;
    s->fn = fn;
    ctl_when_idle(brk->ctl, serial_run, s);
    return BRK_DEFER;
}

brk_status brk_commit_end(brk_commit_wait *w) {
    w->ended = true;
    if (w->pending)
        return BRK_DEFER;
    w->finish(w->req, w->ctx);
    return BRK_DONE;
}

/* ---- topics: records, then a commit (sync) or a submit (async) ---- */

/* What admin requests have submitted and not yet seen commit, so later
 * requests are validated against it as Kafka's controller validates against
 * its latest in-memory state (not only the committed image):
 *  - topic names being created: a second create answers
 *    TOPIC_ALREADY_EXISTS;
 *  - topic ids being deleted: a second delete (or CreatePartitions) does not
 *    find them;
 *  - partition counts being raised: CreatePartitions counts from the
 *    pending total. */
typedef struct pending_parts {
    uint8_t id[16];
    int32_t total;
} pending_parts;

struct brk_creating {
    char **names;
    size_t n, cap;
    uint8_t (*deleting)[16];
    size_t n_del, cap_del;
    pending_parts *parts;
    size_t n_parts, cap_parts;
};

static struct brk_creating *pending(brk_broker *brk) {
    if (!brk->creating)
        brk->creating = xcalloc(1, sizeof *brk->creating);
    return brk->creating;
}

bool ctl_topic_deleting(brk_broker *brk, const uint8_t id[16]) {
    struct brk_creating *c = brk->creating;
    for (size_t i = 0; c && i < c->n_del; i++)
        if (!memcmp(c->deleting[i], id, 16))
            return true;
    return false;
}

static void deleting_del(brk_broker *brk, const uint8_t id[16]) {
    struct brk_creating *c = brk->creating;
    for (size_t i = 0; c && i < c->n_del; i++)
        if (!memcmp(c->deleting[i], id, 16)) {
            memcpy(c->deleting[i], c->deleting[--c->n_del], 16);
            return;
        }
}

static pending_parts *parts_find(brk_broker *brk, const uint8_t id[16]) {
    struct brk_creating *c = brk->creating;
    for (size_t i = 0; c && i < c->n_parts; i++)
        if (!memcmp(c->parts[i].id, id, 16))
            return &c->parts[i];
    return NULL;
}

int32_t ctl_partition_count(brk_broker *brk, const cl_topic *t) {
    const pending_parts *p = parts_find(brk, t->id);
    return p && p->total > t->n_partitions ? p->total : t->n_partitions;
}

bool ctl_topic_creating(brk_broker *brk, const char *name) {
    struct brk_creating *c = brk->creating;
    for (size_t i = 0; c && i < c->n; i++)
        if (!strcmp(c->names[i], name))
            return true;
    return false;
}

static void creating_add(brk_broker *brk, const char *name) {
    struct brk_creating *c = pending(brk);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 8;
        c->names = xrealloc(c->names, c->cap * sizeof *c->names);
    }
    c->names[c->n++] = xstrdup(name);
}

static void creating_del(brk_broker *brk, const char *name) {
    struct brk_creating *c = brk->creating;
    for (size_t i = 0; c && i < c->n; i++)
        if (!strcmp(c->names[i], name)) {
            free(c->names[i]);
            c->names[i] = c->names[--c->n];
            return;
        }
}

/* PartitionRecords for partitions first.. of topic id into vals[0..n):
 * the ISR is the replicas that are unfenced, as Kafka builds it. */
static int16_t partition_records(brk_broker *brk, buf *vals,
                                 const uint8_t id[16], int32_t first, int32_t n,
                                 const int32_t *assignment, int16_t rf) {
    int32_t *isr = xmalloc((size_t)rf * sizeof *isr);
    int16_t e = KERR_NONE;
    for (int32_t p = 0; p < n && !e; p++) {
        const int32_t *reps = assignment + (size_t)p * (size_t)rf;
        int16_t n_isr = ctl_active_replicas(brk->image, reps, rf, isr);
        if (n_isr == 0)
            e = KERR_INVALID_REPLICATION_FACTOR; /* every replica fenced */
        else
            ctl_rec_partition(&vals[p], id, first + p, reps, rf, isr, n_isr);
    }
    free(isr);
    return e;
}

static void records_free(buf *vals, int n);

/* The records of a new topic: TopicRecord, ConfigRecords, PartitionRecords
 * (*n of them, in vals to free with records_free); id gets the new id.
 * assignment NULL: placed by controller/placement.h. NULL with *err set
 * when the replicas cannot be placed. */
static buf *topic_records(brk_broker *brk, const char *name, int32_t n_parts,
                          int16_t rf, const int32_t *assignment,
                          const brk_kv *configs, size_t n_configs,
                          uint8_t id[16], int *n, int16_t *err) {
    int32_t *a = NULL;
    if (!assignment) {
        char msg[400];
        a = xmalloc((size_t)n_parts * (size_t)rf * sizeof(int32_t));
        *err = ctl_place_replicas(brk->image, n_parts, rf, a, msg, sizeof msg);
        if (*err) {
            SL_WARN("controller", "cannot create topic %s: %s", name, msg);
            free(a);
            return NULL;
        }
        assignment = a;
    }
    do
        uuid_random(id);
    while (cl_topic_find_id(brk->image, id));
    *n = 1 + (int)n_configs + n_parts;
    buf *vals = xcalloc((size_t)*n, sizeof(buf));
    for (int i = 0; i < *n; i++)
        buf_init(&vals[i], 64);
    ctl_rec_topic(&vals[0], name, id);
    for (size_t i = 0; i < n_configs; i++)
        ctl_rec_config(&vals[1 + i], 2, name, configs[i].name,
                       configs[i].value);
    *err = partition_records(brk, vals + 1 + n_configs, id, 0, n_parts,
                             assignment, rf);
    free(a);
    if (*err) {
        records_free(vals, *n);
        return NULL;
    }
    return vals;
}

static void records_free(buf *vals, int n) {
    for (int i = 0; i < n; i++)
        buf_free(&vals[i]);
    free(vals);
}

/* What a topic creation does on commit, whichever way it was made. */
typedef struct topic_created {
    brk_broker *brk;
    char *name;
    uint8_t id[16];
    int32_t n_parts;
    int16_t rf;
} topic_created;

static void on_topic_created(void *arg, int16_t err) {
    topic_created *c = arg;
    creating_del(c->brk, c->name);
    if (!err) {
        char ids[23];
        uuid_to_string(c->id, ids);
        SL_INFO("controller",
                "Created topic %s with topic ID %s, %d partitions, replication "
                "factor %d",
                c->name, ids, c->n_parts, c->rf);
    }
    free(c->name);
    free(c);
}

/* What both ways of creating a topic do before committing: its records
 * (id chosen into id), the completion state *c for on_topic_created, and
 * the name marked as being created; NULL with *err if it cannot be
 * placed. */
static buf *topic_begin(brk_broker *brk, const char *name, int32_t n_parts,
                        int16_t rf, const int32_t *assignment,
                        const brk_kv *configs, size_t n_configs, uint8_t id[16],
                        int *n, topic_created **c, int16_t *err) {
    buf *vals = topic_records(brk, name, n_parts, rf, assignment, configs,
                              n_configs, id, n, err);
    if (!vals)
        return NULL;
    *c = xcalloc(1, sizeof **c);
    **c = (topic_created){brk, xstrdup(name), {0}, n_parts, rf};
    memcpy((*c)->id, id, 16);
    creating_add(brk, name);
    return vals;
}

int16_t ctl_create_topic(brk_broker *brk, const char *name, int32_t n_parts,
                         int16_t rf, const int32_t *assignment,
                         const brk_kv *configs, size_t n_configs,
                         uint8_t id_out[16]) {
    uint8_t id[16];
    int n;
    topic_created *c;
    int16_t e;
    buf *vals = topic_begin(brk, name, n_parts, rf, assignment, configs,
                            n_configs, id, &n, &c, &e);
    if (!vals)
        return e;
    e = ctl_commit(brk, vals, n);
    on_topic_created(c, e);
    records_free(vals, n);
    if (!e && id_out)
        memcpy(id_out, id, 16);
    return e;
}

void ctl_create_topic_async(brk_commit_wait *w, int16_t *err_out,
                            brk_broker *brk, const char *name, int32_t n_parts,
                            int16_t rf, const int32_t *assignment,
                            const brk_kv *configs, size_t n_configs,
                            uint8_t id_out[16]) {
    uint8_t id[16];
    int n;
    topic_created *c;
    int16_t e;
    buf *vals = topic_begin(brk, name, n_parts, rf, assignment, configs,
                            n_configs, id, &n, &c, &e);
    if (!vals) {
        if (err_out)
            *err_out = e;
        return;
    }
    if (id_out)
        memcpy(id_out, id, 16);
    if (w)
        brk_commit_then(w, vals, n, err_out, on_topic_created, c);
    else
        ctl_submit(brk->ctl, vals, n, on_topic_created, c);
    records_free(vals, n);
}

typedef struct topic_deleted {
    brk_broker *brk;
    uint8_t id[16];
    char name[];
} topic_deleted;

static void on_topic_deleted(void *arg, int16_t err) {
    topic_deleted *d = arg;
    deleting_del(d->brk, d->id);
    if (!err)
        SL_INFO("controller", "Deleted topic %s", d->name);
    free(d);
}

void ctl_delete_topic(brk_commit_wait *w, int16_t *err_out, cl_topic *t) {
    brk_broker *brk = brk_commit_broker(w);
    struct brk_creating *c = pending(brk);
    if (c->n_del == c->cap_del) {
        c->cap_del = c->cap_del ? c->cap_del * 2 : 8;
        c->deleting = xrealloc(c->deleting, c->cap_del * sizeof *c->deleting);
    }
    memcpy(c->deleting[c->n_del++], t->id, 16);
    size_t nl = strlen(t->name);
    topic_deleted *d = xmalloc(sizeof *d + nl + 1);
    d->brk = brk;
    memcpy(d->id, t->id, 16);
    memcpy(d->name, t->name, nl + 1);
    buf v;
    buf_init(&v, 32);
    ctl_rec_remove_topic(&v, t->id);
    brk_commit_then(w, &v, 1, err_out, on_topic_deleted, d);
    buf_free(&v);
}

typedef struct parts_added {
    brk_broker *brk;
    uint8_t id[16];
    int32_t total;
} parts_added;

static void on_partitions_added(void *arg, int16_t err) {
    parts_added *a = arg;
    (void)err;
    struct brk_creating *c = a->brk->creating;
    pending_parts *p = parts_find(a->brk, a->id);
    if (p && p->total == a->total) /* no later raise pending */
        *p = c->parts[--c->n_parts];
    free(a);
}

void ctl_create_partitions(brk_commit_wait *w, int16_t *err_out, cl_topic *t,
                           int32_t new_total, const int32_t *assignment,
                           int16_t rf) {
    brk_broker *brk = brk_commit_broker(w);
    int32_t old = ctl_partition_count(brk, t);
    int32_t add = new_total - old;
    if (add <= 0)
        return;
    buf *vals = xcalloc((size_t)add, sizeof(buf));
    for (int32_t p = 0; p < add; p++)
        buf_init(&vals[p], 64);
    int16_t e = partition_records(brk, vals, t->id, old, add, assignment, rf);
    if (e) {
        if (err_out)
            *err_out = e;
    } else {
        pending_parts *p = parts_find(brk, t->id);
        if (!p) {
            struct brk_creating *c = pending(brk);
            if (c->n_parts == c->cap_parts) {
                c->cap_parts = c->cap_parts ? c->cap_parts * 2 : 8;
                c->parts = xrealloc(c->parts, c->cap_parts * sizeof *c->parts);
            }
            p = &c->parts[c->n_parts++];
            memcpy(p->id, t->id, 16);
        }
        p->total = new_total;
        parts_added *a = xmalloc(sizeof *a);
        *a = (parts_added){brk, {0}, new_total};
        memcpy(a->id, t->id, 16);
        brk_commit_then(w, vals, add, err_out, on_partitions_added, a);
    }
    records_free(vals, add);
}

/* Kafka's ProducerIdControlManager: a broker asks for a block of producer
 * ids; the controller hands out [next, next + block) and records the new
 * next in a ProducerIdsRecord, so no id is given twice, across restarts now
 * (the record is in __cluster_metadata) and across brokers later. */
typedef struct pid_block {
    ctl_pid_done_fn done;
    void *arg;
    int64_t first;
} pid_block;

static void on_pid_block(void *arg, int16_t err) {
    pid_block *b = arg;
    b->done(b->arg, err, err ? -1 : b->first);
    free(b);
}

void ctl_allocate_producer_ids(brk_broker *brk, int32_t block, int64_t floor,
                               ctl_pid_done_fn done, void *arg) {
    /* Another node is the active controller: ask it (AllocateProducerIds,
     * forward.c), as Kafka's RPCProducerIdManager does. */
    if (brk_forward_allocate_producer_ids(brk, done, arg))
        return;
    const cl_broker *self = cl_broker_find(brk->image, brk->node_id);
    ctl_allocate_producer_ids_for(brk, brk->node_id, self ? self->epoch : -1,
                                  block, floor, done, arg);
}

void ctl_allocate_producer_ids_for(brk_broker *brk, int32_t broker_id,
                                   int64_t broker_epoch, int32_t block,
                                   int64_t floor, ctl_pid_done_fn done,
                                   void *arg) {
    /* Blocks handed out but not committed yet count: several brokers may
     * ask before the first record commits. */
    int64_t start = cl_next_producer_id(brk->image);
    if (start < brk->pid_next_pending)
        start = brk->pid_next_pending;
    if (start < floor)
        start = floor;
    if (block <= 0 || start > INT64_MAX - block) {
        SL_ERROR("controller", "exhausted all producer ids");
        done(arg, KERR_UNKNOWN_SERVER_ERROR, -1);
        return;
    }
    buf v;
    buf_init(&v, 32);
    ctl_rec_producer_ids(&v, broker_id, broker_epoch, start + block);
    brk->pid_next_pending = start + block;
    pid_block *b = xcalloc(1, sizeof *b);
    b->done = done;
    b->arg = arg;
    b->first = start;
    ctl_submit(brk->ctl, &v, 1, on_pid_block, b);
    buf_free(&v);
}

static void register_self(brk_broker *brk) {
    proto_register_broker_record r;
    proto_register_broker_record_init(&r);
    r.broker_id = brk->node_id;
    uuid_random(r.incarnation_id.b);
    r.broker_epoch = clk_wall_ms();
    proto_register_broker_record_broker_endpoint eps[16];
    int n = 0;
    for (int i = 0; i < brk->n_listeners; i++) {
        if (brk_listener_is_controller(brk, i))
            continue;
        proto_register_broker_record_broker_endpoint *e = &eps[n++];
        memset(e, 0, sizeof *e);
        e->name = proto_str_c(brk->advertised[i].name);
        e->host = proto_str_c(brk->advertised[i].host);
        e->port = (uint16_t)brk->advertised[i].port;
        e->security_protocol = 0; /* PLAINTEXT */
    }
    r.end_points.n = n;
    r.end_points.v = eps;
    const char *rack = brk_cfg_str(brk->cfg, BRK_CFG_BROKER_RACK);
    r.rack = rack ? proto_str_c(rack) : PROTO_STR_NULL;
    r.fenced = false;
    buf v;
    buf_init(&v, 128);
    cl_record_frame(&v, PROTO_MD_REGISTER_BROKER_RECORD, 1);
    proto_register_broker_record_encode(&v, 1, &r);
    cl_image_apply(brk->image, v.data, v.len);
    buf_free(&v);
}

/* wurstmeister/kafka's
 * KAFKA_CREATE_TOPICS="name:partitions:replicas[:policy],..." creates the
 * missing topics at start, so those compose files carry over. */
static void create_env_topics(brk_broker *brk) {
    const char *spec = getenv("KAFKA_CREATE_TOPICS");
    if (!spec || !*spec)
        return;
    char *copy = xstrdup(spec);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save)) {
        char *f[4] = {0};
        int nf = 0;
        char *s2 = NULL;
        for (char *x = strtok_r(tok, ":", &s2); x && nf < 4;
             x = strtok_r(NULL, ":", &s2))
            f[nf++] = x;
        char msg[512];
        if (nf < 2 ||
            ctl_validate_topic_name(f[0], strlen(f[0]), msg, sizeof msg)) {
            SL_WARN("controller", "KAFKA_CREATE_TOPICS: cannot parse '%s'",
                    tok);
            continue;
        }
        if (cl_topic_find(brk->image, f[0], strlen(f[0])))
            continue;
        int32_t np = atoi(f[1]);
        int16_t rf = nf > 2 ? (int16_t)atoi(f[2]) : 1;
        if (np <= 0 || rf <= 0 || rf > ctl_live_brokers(brk->image)) {
            SL_WARN(
                "controller",
                "KAFKA_CREATE_TOPICS: %s: %d partitions, replication factor "
                "%d cannot be created on %d broker(s)",
                f[0], np, rf, ctl_live_brokers(brk->image));
            continue;
        }
        brk_kv kv[1] = {{"cleanup.policy", nf > 3 ? f[3] : "delete"}};
        if (brk_config_validate(BRK_TCFG_CLEANUP_POLICY, kv[0].value, msg,
                                sizeof msg) < 0) {
            SL_WARN("controller", "KAFKA_CREATE_TOPICS: %s", msg);
            continue;
        }
        ctl_create_topic(brk, f[0], np, rf, NULL, kv, nf > 3 ? 1 : 0, NULL);
    }
    free(copy);
}

int brk_cluster_start(brk_broker *brk, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    if (!brk->image) {
        brk->image = brk_image_new(brk->cfg);
        cl_image_set_listener(brk->image, brk_storage_on_image, brk);
    }
    if (!brk->ctl)
        brk->ctl = ctl_new(brk->image, NULL); /* no log dirs: in memory */
    /* First start: bootstrap metadata.version (persisted, as KRaft's
     * bootstrap checkpoint would). */
    if (!brk->quorum && cl_image_offset(brk->image) < 0 &&
        !brk_bootstrap_commit(brk)) {
        buf v[2];
        buf_init(&v[0], 64);
        ctl_rec_feature_level(&v[0], "metadata.version", SL_METADATA_VERSION);
        /* group.version 1 (KIP-848 consumer groups), as Kafka 4.3's
         * storage format finalizes it */
        buf_init(&v[1], 64);
        ctl_rec_feature_level(&v[1], "group.version", 1);
        ctl_commit(brk, v, 2);
        buf_free(&v[0]);
        buf_free(&v[1]);
    }
    if (!brk->quorum) {
        register_self(brk);
        create_env_topics(brk);
    }
    /* From here on commits complete on the loop, once durable. */
    if (brk->loop)
        ctl_attach_loop(brk->ctl, brk->loop);
    brk_on_shutdown(brk, cancel_serial, NULL);
    brk_lifecycle_start(brk);
    /* A controller-only node (process.roles=controller) is no broker: it
     * neither registers nor leads partitions (Kafka's ControllerServer
     * runs without a BrokerServer beside it). */
    if (brk_cfg_roles(brk->cfg) & BRK_ROLE_BROKER) {
        brk_lm_start(brk);  /* a quorum: registers with the active controller */
        brk_apm_start(brk); /* and asks it for ISR changes */
    }
    return 0;
}

void brk_cluster_stop(brk_broker *brk) {
    brk_lifecycle_stop(brk);
    ctl_free(brk->ctl); /* completes what is pending */
    brk->ctl = NULL;
    if (brk->creating) {
        /* all completed above */
        SL_ASSERT(brk->creating->n == 0 && brk->creating->n_del == 0 &&
                  brk->creating->n_parts == 0);
        free(brk->creating->names);
        free(brk->creating->deleting);
        free(brk->creating->parts);
        free(brk->creating);
        brk->creating = NULL;
    }
    cl_image_free(brk->image);
    brk->image = NULL;
}

/* ---- lookups for handlers (broker.h)
 * ------------------------------------------- */

const cl_partition *brk_find_partition(brk_broker *brk, const char *topic,
                                       size_t topic_len, int32_t partition,
                                       int16_t *err) {
    cl_topic *t = cl_topic_find(brk->image, topic, topic_len);
    if (!t || partition < 0 || partition >= t->n_partitions ||
        !t->parts[partition]) {
        *err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return NULL;
    }
    *err = KERR_NONE;
    return t->parts[partition];
}

const cl_partition *brk_find_partition_id(brk_broker *brk, const uint8_t id[16],
                                          int32_t partition, int16_t *err) {
    cl_topic *t = cl_topic_find_id(brk->image, id);
    if (!t) {
        *err = KERR_UNKNOWN_TOPIC_ID;
        return NULL;
    }
    if (partition < 0 || partition >= t->n_partitions || !t->parts[partition]) {
        *err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return NULL;
    }
    *err = KERR_NONE;
    return t->parts[partition];
}
