/*
 * handlers.c - the group coordinator inside the broker: the request
 * handlers of FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * OffsetCommit, OffsetFetch, ListGroups, DescribeGroups, DeleteGroups,
 * OffsetDelete, TxnOffsetCommit and the KIP-848 ConsumerGroupHeartbeat and
 * ConsumerGroupDescribe (handlers.def), the __consumer_offsets topic
 * (created on the first FindCoordinator, as Kafka does), the record store
 * (one batch per change, appended through the log layer with
 * LOG_ORIGIN_COORDINATOR), the replay of that topic (groups and offsets
 * survive restarts), and the timers (grp_tick every 50 ms, offset expiry
 * every offsets.retention.check.interval.ms, deleted topics every second).
 *
 * The node's state is its grp_node (group/node.h). The
 * coordinator is created by the start hook (hooks.def, grp_node_start), which
 * replays __consumer_offsets in steps from the loop: meanwhile the groups
 * of a partition still loading answer COORDINATOR_LOAD_IN_PROGRESS, as
 * Kafka's do. A partition created later is loaded when it appears; on a
 * replicated cluster the coordinator follows the leadership of each
 * partition (grp_node_partition_changed: loaded when this node becomes its
 * leader, unloaded when it stops being it), and FindCoordinator names the
 * partition's leader.
 * What it needs from the rest of the node comes through its coord_rt; it
 * calls down into src/txn (FindCoordinator, TxnOffsetCommit), never up.
 * Threading: the node's loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coord/coord.h"
#include "cluster/image.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "group/consumer.h"
#include "group/group.h"
#include "group/node.h"
#include "log/batch.h"
#include "log/log.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "replica/replica.h"
#include "txn/txn.h"

#define OFFSETS_TOPIC "__consumer_offsets"
#define TICK_MS 50

static grp_coord *get_coord(grp_node *gn);

/* txn_offsets_listener: the transaction coordinator asks for a group's
 * partition and reports the markers that land on __consumer_offsets. */
static int32_t txn_partition_for(void *ctx, proto_str group) {
    grp_node *g = ctx;
    return grp_partition_for(group.p, group.len > 0 ? (size_t)group.len : 0,
                             grp_cfg(get_coord(g))->num_partitions);
}

static void txn_marker(void *ctx, int32_t p, int64_t producer_id, bool commit) {
    grp_node *g = ctx;
    get_coord(g);
    grp_txn_complete(g, p, producer_id, commit);
}

grp_node *grp_node_new(coord_rt *rt, txn_node *txn) {
    grp_node *g = xcalloc(1, sizeof *g);
    g->rt = rt;
    g->txn = txn;
    g->pending_tail = &g->pending_head;
    txn_offsets_listener l = {txn_partition_for, txn_marker, g};
    txn_set_offsets_listener(txn, &l);
    return g;
}

void grp_node_free(grp_node *g) {
    if (!g)
        return;
    grp_txn_free(g);
    free(g->bg.data);
    free(g->topic_names);
    if (g->coord)
        grp_free(g->coord);
    free(g);
}

/* ---- store: appends to __consumer_offsets
 * ------------------------------------- */

static cl_partition *offsets_partition(grp_node *gn, int32_t p) {
    cl_topic *t = cl_topic_find(coord_image(gn->rt), OFFSETS_TOPIC,
                                strlen(OFFSETS_TOPIC));
    if (!t || p < 0 || p >= t->n_partitions)
        return NULL;
    return t->parts[p];
}

/* The local log of part if this node leads it (the replica manager), else
 * NULL. */
static log_partition *leader_log(grp_node *gn, const cl_partition *part) {
    int16_t err;
    return part && coord_repl(gn->rt)
               ? repl_leader_log(coord_repl(gn->rt), part, &err)
               : NULL;
}

/* Appends a coordinator batch through the runtime (acks=all): the response
 * of the request being handled, and any completed after it, is held until
 * the HW covers the batch (coord.h). A Kafka error code, mapped as Kafka's
 * group coordinator does (coord_write_error). */
static int16_t coord_append(grp_node *gn, const cl_partition *part, buf *out,
                            log_append_info *info,
                            void (*appended)(void *, log_partition *,
                                             const log_append_info *),
                            void *ctx) {
    coord_write_req w = {
        .records = out->data,
        .len = out->len,
        .timeout_ms =
            coord_cfg_i64(gn->rt, COORD_CFG_OFFSETS_COMMIT_TIMEOUT_MS),
        .appended = appended,
        .ctx = ctx,
    };
    return coord_write(gn->rt, part, &w, info);
}

static int16_t store_append(void *ctx, int32_t partition,
                            const grp_record *recs, int n) {
    grp_node *gn = ctx;
    cl_partition *part = offsets_partition(gn, partition);
    if (!leader_log(gn, part))
        return KERR_NOT_COORDINATOR;
    batch_builder b;
    batch_builder_init(&b, 0, 0);
    batch_builder_set_leader_epoch(&b, part->leader_epoch);
    int64_t now = clk_wall_ms();
    for (int i = 0; i < n; i++)
        batch_builder_add(
            &b, now, recs[i].key, (int32_t)recs[i].key_len, recs[i].value,
            recs[i].value ? (int32_t)recs[i].value_len : -1, NULL, 0);
    buf out;
    buf_init(&out, 256);
    int16_t e = batch_builder_finish(&b, &out);
    batch_builder_free(&b);
    if (!e) {
        log_append_info info;
        e = coord_append(gn, part, &out, &info, NULL, NULL);
    }
    buf_free(&out);
    return e;
}

/* ---- loading
 * ----------------------------------------------------------------- */

static void replay_batch(grp_node *g, int32_t p, const uint8_t *batch,
                         const log_batch_header *h) {
    /* TxnOffsetCommit batches and their markers (txn_offsets.c). */
    if (grp_txn_replay_batch(g, p, batch, h))
        return;
    if (batch_is_control(h))
        return;
    buf dec;
    buf_init(&dec, 0);
    const uint8_t *recs = batch + BATCH_HEADER_SIZE;
    size_t n = (size_t)batch_size(h) - BATCH_HEADER_SIZE;
    if (batch_compression(h) != 0) {
        if (batch_decompress_records(h, batch, 64u << 20, &dec)) {
            SL_WARN("group",
                    "__consumer_offsets-%d: cannot decompress batch at %lld", p,
                    (long long)h->base_offset);
            buf_free(&dec);
            return;
        }
        recs = dec.data;
        n = dec.len;
    }
    batch_iter it;
    batch_iter_init(&it, h, recs, n);
    log_record r;
    while (batch_iter_next(&it, &r) == 1) {
        if (r.key_len < 0)
            continue;
        if (!grp_replay(g->coord, p, r.key, (size_t)r.key_len,
                        r.value_len >= 0 ? r.value : NULL,
                        r.value_len >= 0 ? (size_t)r.value_len : 0))
            SL_WARN(
                "group",
                "__consumer_offsets-%d: skipping undecodable record at %lld", p,
                (long long)r.offset);
    }
    buf_free(&dec);
}

/* Loading of one __consumer_offsets partition, in steps: while a partition
 * is GRP_PART_LOADING its groups answer COORDINATOR_LOAD_IN_PROGRESS (as
 * Kafka's coordinator does while its loader thread replays), so the start
 * hook replays a chunk per loop iteration instead of blocking requests. */
typedef grp_load_state load_state;

static bool load_begin(grp_node *gn, int32_t p, load_state *ls) {
    grp_coord *coord = gn->coord;
    log_partition *log = leader_log(gn, offsets_partition(gn, p));
    if (!log) {
        grp_set_partition_state(coord, p, GRP_PART_NONE);
        return false;
    }
    grp_set_partition_state(coord, p, GRP_PART_LOADING);
    ls->p = p;
    ls->off = log_start_offset(log);
    ls->t0 = clk_mono_ms();
    return true;
}

/* Replays up to 4 MiB; false once the partition is done. */
static bool load_chunk(grp_node *gn, load_state *ls) {
    cl_partition *part = offsets_partition(gn, ls->p);
    log_partition *log =
        part && coord_repl(gn->rt) ? repl_log(coord_repl(gn->rt), part) : NULL;
    if (!log || ls->off >= log_end_offset(log))
        return false;
    log_read_result rr;
    if (log_read(log, ls->off, 4 << 20, -1, true, &rr) || rr.len <= 0) {
        log_read_release(&rr);
        return false;
    }
    if ((size_t)rr.len > ls->cap) {
        ls->cap = (size_t)rr.len;
        ls->data = xrealloc(ls->data, ls->cap);
    }
    ssize_t got = log_read_pread(&rr, ls->data, (size_t)rr.len, rr.file_pos);
    log_read_release(&rr);
    if (got <= 0)
        return false;
    size_t pos = 0;
    int64_t next = ls->off;
    while (pos < (size_t)got) {
        log_batch_header h;
        if (batch_validate_stored(ls->data + pos, (size_t)got - pos, &h))
            break;
        if (batch_last_offset(&h) >= ls->off)
            replay_batch(gn, ls->p, ls->data + pos, &h);
        next = batch_last_offset(&h) + 1;
        pos += (size_t)batch_size(&h);
    }
    if (next <= ls->off)
        return false; /* no progress: a damaged batch; recovery should have
                         cut it */
    ls->off = next;
    return true;
}

static void load_finish(grp_coord *coord, load_state *ls) {
    free(ls->data);
    ls->data = NULL;
    ls->cap = 0;
    grp_partition_loaded(coord, ls->p);
    grp_set_partition_state(coord, ls->p, GRP_PART_ACTIVE);
    SL_DEBUG("group",
             "Finished loading offsets and group metadata from "
             "__consumer_offsets-%d "
             "in %lld milliseconds",
             ls->p, (long long)(clk_mono_ms() - ls->t0));
}

/* Synchronous load (partitions that appear while the broker runs: they
 * are new, so nearly empty). */
static void load_partition(grp_node *gn, int32_t p) {
    load_state ls = {0};
    if (!load_begin(gn, p, &ls))
        return;
    while (load_chunk(gn, &ls))
        ;
    load_finish(gn->coord, &ls);
}

/* Loads every partition of __consumer_offsets this node leads and has not
 * loaded yet (at the first group request, and again when the topic
 * appears later). */
static void load_all(grp_node *gn) {
    grp_coord *coord = gn->coord;
    cl_topic *t = cl_topic_find(coord_image(gn->rt), OFFSETS_TOPIC,
                                strlen(OFFSETS_TOPIC));
    if (!t)
        return;
    for (int32_t p = 0;
         p < t->n_partitions && p < grp_cfg(coord)->num_partitions; p++)
        if (grp_partition_state(coord, p) == GRP_PART_NONE)
            load_partition(gn, p);
}

/* The start-up loader (grp_start): every partition this node leads is
 * marked LOADING at once, then replayed one chunk per loop iteration from
 * a 0 ms timer, partition after partition. */
static void mark_loading(grp_node *gn) {
    grp_coord *coord = gn->coord;
    cl_topic *t = cl_topic_find(coord_image(gn->rt), OFFSETS_TOPIC,
                                strlen(OFFSETS_TOPIC));
    if (!t)
        return;
    for (int32_t p = 0;
         p < t->n_partitions && p < grp_cfg(coord)->num_partitions; p++) {
        cl_partition *part = t->parts[p];
        if (grp_partition_state(coord, p) == GRP_PART_NONE &&
            leader_log(gn, part))
            grp_set_partition_state(coord, p, GRP_PART_LOADING);
    }
}

static void load_step(net_loop *loop, void *ctx) {
    grp_node *g = ctx;
    g->load_timer = 0;
    if (g->stopping || !g->coord)
        return;
    if (!g->bg_active) {
        int32_t n = grp_cfg(g->coord)->num_partitions;
        int32_t p = 0;
        while (p < n && grp_partition_state(g->coord, p) != GRP_PART_LOADING)
            p++;
        if (p == n) {
            SL_INFO("group", "Finished loading __consumer_offsets");
            return;
        }
        g->bg_active = load_begin(g, p, &g->bg);
    } else if (!load_chunk(g, &g->bg)) {
        load_finish(g->coord, &g->bg);
        g->bg_active = false;
    }
    g->load_timer = net_timer_add(loop, 0, load_step, g);
}

/* Starts the stepped loader if it is idle (a partition became LOADING). */
static void load_kick(grp_node *g) {
    if (!g->load_timer && !g->bg_active && !g->stopping && g->rt->loop)
        g->load_timer = net_timer_add(g->rt->loop, 0, load_step, g);
}

void grp_node_partition_changed(grp_node *gn, int32_t p, bool leader) {
    grp_coord *c = gn->coord;
    if (!c || gn->stopping || p < 0 || p >= grp_cfg(c)->num_partitions)
        return; /* not started: the start hook loads what this node leads */
    int st = grp_partition_state(c, p);
    if (leader && st == GRP_PART_NONE) {
        SL_INFO("group",
                "Elected as the group coordinator for partition %d: "
                "loading %s-%d",
                p, OFFSETS_TOPIC, p);
        grp_set_partition_state(c, p, GRP_PART_LOADING);
        load_kick(gn);
    } else if (!leader && st != GRP_PART_NONE) {
        if (gn->bg_active && gn->bg.p == p) {
            /* resigned while loading it: the loader moves on */
            free(gn->bg.data);
            gn->bg.data = NULL;
            gn->bg.cap = 0;
            gn->bg_active = false;
        }
        grp_unload_partition(c, p);
        grp_txn_drop_partition(gn, p);
        SL_INFO("group",
                "Resigned as the group coordinator for partition %d: "
                "unloaded %s-%d",
                p, OFFSETS_TOPIC, p);
    }
}

static void set_consumer_env(grp_node *gn, grp_coord *c);

/* BRK_START_HOOK (hooks.def): creates the coordinator and starts loading
 * __consumer_offsets before the first request is read. */
void grp_node_start(grp_node *gn) {
    grp_node *g = gn;
    g->starting = true;
    get_coord(gn);
    g->starting = false;
    g->load_timer = net_timer_add(gn->rt->loop, 0, load_step, g);
}

/* ---- timers and lifecycle
 * --------------------------------------------------------- */

static void tick_cb(net_loop *loop, void *ctx) {
    grp_node *g = ctx;
    g->tick_timer = 0;
    if (g->stopping || !g->coord)
        return;
    grp_tick(g->coord);
    g->tick_timer = net_timer_add(loop, TICK_MS, tick_cb, g);
}

static bool topic_exists(void *ctx, const char *topic) {
    grp_node *gn = ctx;
    return cl_topic_find(coord_image(gn->rt), topic, strlen(topic)) != NULL;
}

/* Offsets of deleted topics go away (Kafka's onPartitionsDeleted); checked
 * once a second since the image has no listener slot for us. */
static void deleted_topics_cb(net_loop *loop, void *ctx) {
    grp_node *g = ctx;
    g->deleted_timer = 0;
    if (g->stopping || !g->coord)
        return;
    grp_drop_deleted_topics(g->coord, topic_exists, g);
    g->deleted_timer = net_timer_add(loop, 1000, deleted_topics_cb, g);
}

static void expire_cb(net_loop *loop, void *ctx) {
    grp_node *g = ctx;
    g->expire_timer = 0;
    if (g->stopping || !g->coord)
        return;
    grp_expire_offsets(g->coord);
    g->expire_timer = net_timer_add(
        loop,
        coord_cfg_i64(g->rt, COORD_CFG_OFFSETS_RETENTION_CHECK_INTERVAL_MS),
        expire_cb, g);
}

static void on_shutdown(void *arg) {
    grp_node *g = arg, *gn = g;
    g->stopping = true;
    if (g->load_timer)
        net_timer_cancel(gn->rt->loop, g->load_timer);
    g->load_timer = 0;
    free(g->bg.data);
    g->bg.data = NULL;
    if (g->tick_timer)
        net_timer_cancel(gn->rt->loop, g->tick_timer);
    if (g->expire_timer)
        net_timer_cancel(gn->rt->loop, g->expire_timer);
    if (g->deleted_timer)
        net_timer_cancel(gn->rt->loop, g->deleted_timer);
    g->tick_timer = g->expire_timer = g->deleted_timer = 0;
    if (g->coord)
        grp_fail_waiters(g->coord, KERR_NOT_COORDINATOR);
}

static grp_coord *get_coord(grp_node *gn) {
    grp_node *g = gn;
    if (g->coord)
        return g->coord;
    grp_config cfg;
    grp_config_default(&cfg);
    cfg.num_partitions =
        (int32_t)coord_cfg_i64(gn->rt, COORD_CFG_OFFSETS_TOPIC_NUM_PARTITIONS);
    cl_topic *t = cl_topic_find(coord_image(gn->rt), OFFSETS_TOPIC,
                                strlen(OFFSETS_TOPIC));
    if (t && t->n_partitions > 0)
        cfg.num_partitions = t->n_partitions; /* what is on disk wins */
    cfg.min_session_ms =
        (int32_t)coord_cfg_i64(gn->rt, COORD_CFG_GROUP_MIN_SESSION_TIMEOUT_MS);
    cfg.max_session_ms =
        (int32_t)coord_cfg_i64(gn->rt, COORD_CFG_GROUP_MAX_SESSION_TIMEOUT_MS);
    cfg.initial_delay_ms = (int32_t)coord_cfg_i64(
        gn->rt, COORD_CFG_GROUP_INITIAL_REBALANCE_DELAY_MS);
    cfg.max_size = (int32_t)coord_cfg_i64(gn->rt, COORD_CFG_GROUP_MAX_SIZE);
    cfg.offsets_retention_ms =
        coord_cfg_i64(gn->rt, COORD_CFG_OFFSETS_RETENTION_MINUTES) * 60000;
    cfg.metadata_max_bytes =
        (int32_t)coord_cfg_i64(gn->rt, COORD_CFG_OFFSET_METADATA_MAX_BYTES);
    grp_store st = {store_append, gn};
    g->coord = grp_new(&cfg, &st);
    set_consumer_env(gn, g->coord);
    if (g->starting)
        mark_loading(gn); /* grp_start: replayed in steps by load_step */
    else
        load_all(gn);
    coord_on_shutdown(gn->rt, on_shutdown, gn);
    g->tick_timer = net_timer_add(gn->rt->loop, TICK_MS, tick_cb, g);
    g->deleted_timer = net_timer_add(gn->rt->loop, 1000, deleted_topics_cb, g);
    g->expire_timer = net_timer_add(
        gn->rt->loop,
        coord_cfg_i64(gn->rt, COORD_CFG_OFFSETS_RETENTION_CHECK_INTERVAL_MS),
        expire_cb, g);
    return g->coord;
}

grp_coord *grp_node_coord(grp_node *gn) {
    return get_coord(gn);
}

/* Creates __consumer_offsets if missing (Kafka does this on the first
 * FindCoordinator, answering COORDINATOR_NOT_AVAILABLE until it exists);
 * 0 once it is in the image, else COORDINATOR_NOT_AVAILABLE. */
static int16_t ensure_offsets_topic(grp_node *gn) {
    grp_coord *c = get_coord(gn);
    if (cl_topic_find(coord_image(gn->rt), OFFSETS_TOPIC,
                      strlen(OFFSETS_TOPIC))) {
        load_all(gn); /* created by someone else meanwhile */
        return KERR_NONE;
    }
    int16_t rf = (int16_t)coord_cfg_i64(
        gn->rt, COORD_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR);
    if (rf > gn->rt->svc.live_brokers(gn->rt->svc.host)) {
        SL_WARN(
            "group",
            "cannot create %s: offsets.topic.replication.factor %d > %d live "
            "brokers",
            OFFSETS_TOPIC, rf, gn->rt->svc.live_brokers(gn->rt->svc.host));
        return KERR_COORDINATOR_NOT_AVAILABLE;
    }
    char seg[32];
    snprintf(seg, sizeof seg, "%lld",
             (long long)coord_cfg_i64(gn->rt,
                                      COORD_CFG_OFFSETS_TOPIC_SEGMENT_BYTES));
    sl_kv kv[] = {{"cleanup.policy", "compact"},
                  {"compression.type", "producer"},
                  {"segment.bytes", seg}};
    int16_t e = gn->rt->svc.create_topic(gn->rt->svc.host, OFFSETS_TOPIC,
                                         grp_cfg(c)->num_partitions, rf, kv,
                                         SL_ARRAY_LEN(kv));
    if (e) {
        SL_WARN("group", "creating %s failed: %s", OFFSETS_TOPIC,
                proto_error_name(e));
        return KERR_COORDINATOR_NOT_AVAILABLE;
    }
    /* submitted: the coordinator loads it once it is in the image */
    return KERR_COORDINATOR_NOT_AVAILABLE;
}

/* 0, NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS for the group. */
static int16_t check_coord(grp_node *gn, proto_str group) {
    grp_coord *c = get_coord(gn);
    return grp_check_coordinator(c, group);
}

/* ---- helpers
 * --------------------------------------------------------------------- */

static char *sdup(coord_req *req, proto_str s) {
    if (s.len < 0)
        return NULL;
    return arena_strndup(req->arena, s.p, (size_t)s.len);
}

static char *sdup0(coord_req *req, proto_str s) {
    char *r = sdup(req, s);
    return r ? r : arena_strndup(req->arena, "", 0);
}

/* A group id as the coordinator takes it: its bytes, NUL bytes included
 * (Kafka takes "a\0b" for a group of its own, not for "a"); null as "". */
static proto_str gid_dup(coord_req *req, proto_str s) {
    (void)req;
    return s.len >= 0 ? s : proto_str_c("");
}

/* prefix + group id (all its bytes) + suffix, in the request's arena. */
static proto_str msg_with_gid(coord_req *req, const char *prefix, proto_str gid,
                              const char *suffix) {
    size_t a = strlen(prefix), n = gid.len > 0 ? (size_t)gid.len : 0,
           z = strlen(suffix);
    char *m = arena_alloc(req->arena, a + n + z + 1);
    memcpy(m, prefix, a);
    if (n)
        memcpy(m + a, gid.p, n);
    memcpy(m + a + n, suffix, z + 1);
    return (proto_str){m, (int32_t)(a + n + z)};
}

/* A copy of s in the request's arena (all its bytes). */
static proto_str ps_copy(coord_req *req, proto_str s) {
    if (s.len < 0)
        return PROTO_STR_NULL;
    return (proto_str){arena_strndup(req->arena, s.p, (size_t)s.len), s.len};
}

/* A request string, "" if null. */
static proto_str or_empty(proto_str s) {
    return s.len >= 0 ? s : proto_str_c("");
}

/* The client id of the request header, all its bytes. */
static proto_str client_id(coord_req *req) {
    return (proto_str){req->client_id ? req->client_id : "",
                       req->client_id ? (int32_t)req->client_id_len : 0};
}

static proto_str pstr(const char *s) {
    return s ? proto_str_c(s) : PROTO_STR_NULL;
}

/* Kafka's client host: "/" + address. */
static const char *client_host(coord_req *req) {
    const char *p = req->peer ? req->peer : "";
    const char *colon = strrchr(p, ':');
    size_t n = colon ? (size_t)(colon - p) : strlen(p);
    char *h = arena_alloc(req->arena, n + 2);
    h[0] = '/';
    memcpy(h + 1, p, n);
    h[n + 1] = 0;
    return h;
}

typedef struct waiter {
    coord_req *req;
    bool in_call;
    bool answered;
} waiter;

static coord_status finish(waiter *w) {
    w->in_call = false;
    return w->answered ? COORD_DONE : COORD_DEFER;
}

static void deliver(waiter *w) {
    if (w->in_call)
        w->answered = true;
    else
        coord_req_complete(w->req, COORD_DONE);
}

/* ---- FindCoordinator (10)
 * -------------------------------------------------------- */

static void fill_coordinator(grp_node *gn, coord_req *req, int8_t type,
                             proto_str key, int16_t *err, const char **msg,
                             int32_t *node, const char **host, int32_t *port) {
    grp_coord *coord = get_coord(gn);
    *node = -1;
    *host = "";
    *port = -1;
    *msg = NULL;
    if (type != 0 && type != 1) {
        *err = KERR_INVALID_REQUEST;
        *msg = "Unsupported key type";
        return;
    }
    int32_t leader = -1;
    cl_partition *part;
    if (type == 0) {
        *err = ensure_offsets_topic(gn);
        if (*err)
            return;
        int32_t p = grp_partition_for(key.p, key.len > 0 ? (size_t)key.len : 0,
                                      grp_cfg(coord)->num_partitions);
        leader = (part = offsets_partition(gn, p)) ? part->leader : -1;
    }
    /* TRANSACTION keys: the leader of the id's __transaction_state
     * partition, once the topic exists. */
    if (type == 1) {
        *err = txn_ensure_state_topic(gn->txn);
        if (*err)
            return;
        leader = txn_coordinator_of(gn->txn, key);
    }
    /* Kafka's getCoordinator: the partition leader's endpoint for the
     * request's listener, COORDINATOR_NOT_AVAILABLE without one. */
    if (leader == gn->rt->node_id) {
        *host = req->adv_host;
        *port = req->adv_port;
    } else if (leader < 0 ||
               !coord_broker_endpoint(gn->rt, leader, req->listener_name, host,
                                      port)) {
        *host = "";
        *port = -1;
        *err = KERR_COORDINATOR_NOT_AVAILABLE;
        return;
    }
    *err = KERR_NONE;
    *node = leader;
}

coord_status grp_handle_find_coordinator(grp_node *gn, coord_req *req) {
    proto_find_coordinator_request rq;
    if (proto_find_coordinator_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    proto_find_coordinator_response rs;
    proto_find_coordinator_response_init(&rs);
    if (req->api_version < 4) {
        int16_t err;
        const char *msg, *host;
        int32_t node, port;
        fill_coordinator(gn, req, req->api_version >= 1 ? rq.key_type : 0,
                         rq.key, &err, &msg, &node, &host, &port);
        rs.error_code = err;
        rs.error_message =
            err ? pstr(msg ? msg : proto_error_message(err)) : PROTO_STR_NULL;
        rs.node_id = node;
        rs.host = proto_str_c(host);
        rs.port = port;
    } else {
        int32_t n = rq.coordinator_keys.n;
        rs.coordinators.n = n;
        rs.coordinators.v = arena_calloc(req->arena, (size_t)(n ? n : 1),
                                         sizeof *rs.coordinators.v);
        for (int32_t i = 0; i < n; i++) {
            proto_find_coordinator_response_coordinator *c =
                &rs.coordinators.v[i];
            proto_find_coordinator_response_coordinator_init(c);
            int16_t err;
            const char *msg, *host;
            int32_t node, port;
            fill_coordinator(gn, req, rq.key_type, rq.coordinator_keys.v[i],
                             &err, &msg, &node, &host, &port);
            c->key = rq.coordinator_keys.v[i];
            c->error_code = err;
            c->error_message = err ? pstr(msg ? msg : proto_error_message(err))
                                   : PROTO_STR_NULL;
            c->node_id = node;
            c->host = proto_str_c(host);
            c->port = port;
        }
    }
    proto_find_coordinator_response_encode(coord_resp_buf(req),
                                           req->api_version, &rs);
    return COORD_DONE;
}

/* ---- JoinGroup (11)
 * ------------------------------------------------------------ */

static void join_done(void *ctx, const grp_join_result *r) {
    waiter *w = ctx;
    coord_req *req = w->req;
    proto_join_group_response rs;
    proto_join_group_response_init(&rs);
    rs.error_code = r->error;
    rs.generation_id = r->generation;
    rs.protocol_type = r->protocol_type;
    rs.protocol_name = r->protocol_name;
    rs.leader = r->leader.len >= 0 ? r->leader : proto_str_c("");
    rs.skip_assignment = r->skip_assignment;
    rs.member_id = r->member_id.len >= 0 ? r->member_id : proto_str_c("");
    rs.members.n = r->n_members;
    rs.members.v =
        arena_calloc(req->arena, (size_t)(r->n_members ? r->n_members : 1),
                     sizeof *rs.members.v);
    for (int i = 0; i < r->n_members; i++) {
        proto_join_group_response_join_group_response_member *m =
            &rs.members.v[i];
        proto_join_group_response_join_group_response_member_init(m);
        m->member_id = r->members[i].member_id;
        m->group_instance_id = r->members[i].instance_id;
        m->metadata =
            (proto_bytes){r->members[i].metadata, r->members[i].metadata_len};
    }
    proto_join_group_response_encode(coord_resp_buf(req), req->api_version,
                                     &rs);
    deliver(w);
}

coord_status grp_handle_join_group(grp_node *gn, coord_req *req) {
    grp_coord *coord = get_coord(gn);
    proto_join_group_request rq;
    if (proto_join_group_request_decode(&req->body, req->arena,
                                        req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    waiter *w = arena_calloc(req->arena, 1, sizeof *w);
    w->req = req;
    w->in_call = true;
    proto_str gid = gid_dup(req, rq.group_id);
    proto_str mid = or_empty(rq.member_id);
    int16_t e = check_coord(gn, gid);
    if (e) {
        grp_join_result r = {.error = e,
                             .generation = -1,
                             .leader = proto_str_c(""),
                             .member_id = mid};
        join_done(w, &r);
        return finish(w);
    }
    grp_protocol_in *protos =
        arena_calloc(req->arena, (size_t)(rq.protocols.n ? rq.protocols.n : 1),
                     sizeof *protos);
    for (int32_t i = 0; i < rq.protocols.n; i++) {
        protos[i].name =
            rq.protocols.v[i].name.p ? rq.protocols.v[i].name.p : "";
        protos[i].name_len = rq.protocols.v[i].name.len > 0
                                 ? (size_t)rq.protocols.v[i].name.len
                                 : 0;
        protos[i].metadata = rq.protocols.v[i].metadata.p;
        protos[i].metadata_len = rq.protocols.v[i].metadata.len;
    }
    grp_join_req jr = {
        .group_id = gid,
        .member_id = mid,
        .instance_id =
            req->api_version >= 5 ? rq.group_instance_id : PROTO_STR_NULL,
        .client_id = client_id(req),
        .client_host = proto_str_c(client_host(req)),
        .protocol_type = or_empty(rq.protocol_type),
        .session_timeout_ms = rq.session_timeout_ms,
        .rebalance_timeout_ms =
            req->api_version >= 1 && rq.rebalance_timeout_ms >= 0
                ? rq.rebalance_timeout_ms
                : rq.session_timeout_ms,
        .n_protocols = rq.protocols.n,
        .protocols = protos,
        .require_known_member_id = req->api_version >= 4,
        .supports_skip_assignment = req->api_version >= 9,
    };
    grp_join(coord, &jr, join_done, w);
    return finish(w);
}

/* ---- SyncGroup (14)
 * ------------------------------------------------------------ */

static void sync_done(void *ctx, const grp_sync_result *r) {
    waiter *w = ctx;
    coord_req *req = w->req;
    proto_sync_group_response rs;
    proto_sync_group_response_init(&rs);
    rs.error_code = r->error;
    rs.protocol_type = r->error ? PROTO_STR_NULL : r->protocol_type;
    rs.protocol_name = r->error ? PROTO_STR_NULL : r->protocol_name;
    rs.assignment =
        (proto_bytes){r->assignment ? r->assignment : (const uint8_t *)"",
                      r->assignment ? r->assignment_len : 0};
    proto_sync_group_response_encode(coord_resp_buf(req), req->api_version,
                                     &rs);
    deliver(w);
}

coord_status grp_handle_sync_group(grp_node *gn, coord_req *req) {
    grp_coord *coord = get_coord(gn);
    proto_sync_group_request rq;
    if (proto_sync_group_request_decode(&req->body, req->arena,
                                        req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    waiter *w = arena_calloc(req->arena, 1, sizeof *w);
    w->req = req;
    w->in_call = true;
    proto_str gid = gid_dup(req, rq.group_id);
    int16_t e = check_coord(gn, gid);
    if (e) {
        grp_sync_result r = {.error = e};
        sync_done(w, &r);
        return finish(w);
    }
    grp_assignment_in *as = arena_calloc(
        req->arena, (size_t)(rq.assignments.n ? rq.assignments.n : 1),
        sizeof *as);
    for (int32_t i = 0; i < rq.assignments.n; i++) {
        as[i].member_id = rq.assignments.v[i].member_id.p
                              ? rq.assignments.v[i].member_id.p
                              : "";
        as[i].member_id_len = rq.assignments.v[i].member_id.len > 0
                                  ? (size_t)rq.assignments.v[i].member_id.len
                                  : 0;
        as[i].assignment = rq.assignments.v[i].assignment.p;
        as[i].assignment_len = rq.assignments.v[i].assignment.len;
    }
    grp_sync_req sr = {
        .group_id = gid,
        .member_id = or_empty(rq.member_id),
        .instance_id =
            req->api_version >= 3 ? rq.group_instance_id : PROTO_STR_NULL,
        .protocol_type =
            req->api_version >= 5 ? rq.protocol_type : PROTO_STR_NULL,
        .protocol_name =
            req->api_version >= 5 ? rq.protocol_name : PROTO_STR_NULL,
        .generation = rq.generation_id,
        .n_assignments = rq.assignments.n,
        .assignments = as,
    };
    grp_sync(coord, &sr, sync_done, w);
    return finish(w);
}

/* ---- Heartbeat (12)
 * --------------------------------------------------------------- */

coord_status grp_handle_heartbeat(grp_node *gn, coord_req *req) {
    grp_coord *coord = get_coord(gn);
    proto_heartbeat_request rq;
    if (proto_heartbeat_request_decode(&req->body, req->arena, req->api_version,
                                       &rq) != PROTO_OK)
        return COORD_CLOSE;
    proto_heartbeat_response rs;
    proto_heartbeat_response_init(&rs);
    proto_str gid = gid_dup(req, rq.group_id);
    rs.error_code = check_coord(gn, gid);
    if (!rs.error_code)
        rs.error_code = grp_heartbeat(
            coord, gid, rq.generation_id, or_empty(rq.member_id),
            req->api_version >= 3 ? rq.group_instance_id : PROTO_STR_NULL);
    proto_heartbeat_response_encode(coord_resp_buf(req), req->api_version, &rs);
    return COORD_DONE;
}

/* ---- LeaveGroup (13)
 * --------------------------------------------------------------- */

coord_status grp_handle_leave_group(grp_node *gn, coord_req *req) {
    grp_coord *coord = get_coord(gn);
    proto_leave_group_request rq;
    if (proto_leave_group_request_decode(&req->body, req->arena,
                                         req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    proto_leave_group_response rs;
    proto_leave_group_response_init(&rs);
    proto_str gid = gid_dup(req, rq.group_id);
    int16_t e = check_coord(gn, gid);
    if (!e)
        e = grp_leave_check(coord, gid);
    if (req->api_version < 3) {
        rs.error_code = e ? e
                          : grp_leave(coord, gid, or_empty(rq.member_id),
                                      PROTO_STR_NULL, NULL);
    } else if (e) {
        rs.error_code = e;
    } else {
        int32_t n = rq.members.n;
        rs.members.n = n;
        rs.members.v =
            arena_calloc(req->arena, (size_t)(n ? n : 1), sizeof *rs.members.v);
        for (int32_t i = 0; i < n; i++) {
            proto_leave_group_request_member_identity *mi = &rq.members.v[i];
            proto_leave_group_response_member_response *mr = &rs.members.v[i];
            proto_leave_group_response_member_response_init(mr);
            mr->member_id = mi->member_id;
            mr->group_instance_id = mi->group_instance_id;
            mr->error_code = grp_leave(
                coord, gid, or_empty(mi->member_id), mi->group_instance_id,
                req->api_version >= 5 ? sdup(req, mi->reason) : NULL);
        }
    }
    proto_leave_group_response_encode(coord_resp_buf(req), req->api_version,
                                      &rs);
    return COORD_DONE;
}

/* ---- OffsetCommit (8)
 * -------------------------------------------------------------- */

coord_status grp_handle_offset_commit(grp_node *gn, coord_req *req) {
    grp_coord *coord = get_coord(gn);
    proto_offset_commit_request rq;
    if (proto_offset_commit_request_decode(&req->body, req->arena,
                                           req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    proto_str gid = gid_dup(req, rq.group_id);
    int16_t e = check_coord(gn, gid);
    int n = 0;
    for (int32_t t = 0; t < rq.topics.n; t++)
        n += rq.topics.v[t].partitions.n;
    grp_commit_in *in =
        arena_calloc(req->arena, (size_t)(n ? n : 1), sizeof *in);
    int64_t expire = -1;
    if (req->api_version >= 2 && req->api_version <= 4 &&
        rq.retention_time_ms >= 0)
        expire = clk_wall_ms() + rq.retention_time_ms;
    int k = 0;
    for (int32_t t = 0; t < rq.topics.n; t++) {
        proto_offset_commit_request_offset_commit_request_topic *tp =
            &rq.topics.v[t];
        bool exists =
            tp->name.len > 0 && cl_topic_find(coord_image(gn->rt), tp->name.p,
                                              (size_t)tp->name.len);
        for (int32_t p = 0; p < tp->partitions.n; p++, k++) {
            proto_offset_commit_request_offset_commit_request_partition *pp =
                &tp->partitions.v[p];
            in[k].topic = tp->name.p ? tp->name.p : "";
            in[k].topic_len = tp->name.len > 0 ? (size_t)tp->name.len : 0;
            in[k].partition = pp->partition_index;
            in[k].offset = pp->committed_offset;
            in[k].leader_epoch =
                req->api_version >= 6 ? pp->committed_leader_epoch : -1;
            in[k].metadata = pp->committed_metadata.len >= 0
                                 ? pp->committed_metadata.p
                                 : NULL;
            in[k].metadata_len = pp->committed_metadata.len > 0
                                     ? (size_t)pp->committed_metadata.len
                                     : 0;
            in[k].expire_ts = expire;
            in[k].error =
                e ? e : (exists ? KERR_NONE : KERR_UNKNOWN_TOPIC_OR_PARTITION);
        }
    }
    if (!e)
        grp_commit(
            coord, gid,
            req->api_version >= 1 ? rq.generation_id_or_member_epoch : -1,
            req->api_version >= 1 ? or_empty(rq.member_id) : proto_str_c(""),
            req->api_version >= 7 ? rq.group_instance_id : PROTO_STR_NULL, in,
            n, req->api_version);
    proto_offset_commit_response rs;
    proto_offset_commit_response_init(&rs);
    rs.topics.n = rq.topics.n;
    rs.topics.v =
        arena_calloc(req->arena, (size_t)(rq.topics.n ? rq.topics.n : 1),
                     sizeof *rs.topics.v);
    k = 0;
    for (int32_t t = 0; t < rq.topics.n; t++) {
        proto_offset_commit_response_offset_commit_response_topic *rt =
            &rs.topics.v[t];
        proto_offset_commit_response_offset_commit_response_topic_init(rt);
        rt->name = rq.topics.v[t].name;
        int32_t np = rq.topics.v[t].partitions.n;
        rt->partitions.n = np;
        rt->partitions.v = arena_calloc(req->arena, (size_t)(np ? np : 1),
                                        sizeof *rt->partitions.v);
        for (int32_t p = 0; p < np; p++, k++) {
            proto_offset_commit_response_offset_commit_response_partition_init(
                &rt->partitions.v[p]);
            rt->partitions.v[p].partition_index = in[k].partition;
            rt->partitions.v[p].error_code = in[k].error;
        }
    }
    proto_offset_commit_response_encode(coord_resp_buf(req), req->api_version,
                                        &rs);
    return COORD_AFTER_FLUSH;
}

/* ---- OffsetFetch (9)
 * ----------------------------------------------------------------- */

typedef proto_offset_fetch_response_offset_fetch_response_partitions
    fetch_part8;
typedef proto_offset_fetch_response_offset_fetch_response_topics fetch_topic8;

/* One group's offsets in the v8+ layout (the v0-7 layout has the same
 * fields; it is converted below). topics_n < 0: all committed offsets. */
static int16_t fetch_group(grp_node *gn, coord_req *req, proto_str gid,
                           int32_t topics_n, const proto_str *names,
                           const int32_t *const *parts, const int32_t *parts_n,
                           fetch_topic8 **out, int32_t *out_n,
                           bool require_stable) {
    grp_coord *coord = get_coord(gn);
    int16_t e = check_coord(gn, gid);
    *out = NULL;
    *out_n = 0;
    if (e)
        return e;
    grp_group *g = grp_find(coord, gid);
    if (topics_n < 0) {
        int n = 0;
        const grp_offset *offs = g ? grp_offsets(g, &n) : NULL;
        /* group the sorted offsets by topic */
        int nt = 0;
        for (int i = 0; i < n; i++)
            if (i == 0 || strcmp(offs[i].topic, offs[i - 1].topic))
                nt++;
        fetch_topic8 *ts =
            arena_calloc(req->arena, (size_t)(nt ? nt : 1), sizeof *ts);
        int ti = -1;
        for (int i = 0; i < n; i++) {
            if (i == 0 || strcmp(offs[i].topic, offs[i - 1].topic)) {
                ti++;
                proto_offset_fetch_response_offset_fetch_response_topics_init(
                    &ts[ti]);
                ts[ti].name = proto_str_c(arena_strndup(
                    req->arena, offs[i].topic, strlen(offs[i].topic)));
                int cnt = 0;
                for (int j = i; j < n && !strcmp(offs[j].topic, offs[i].topic);
                     j++)
                    cnt++;
                ts[ti].partitions.v = arena_calloc(req->arena, (size_t)cnt,
                                                   sizeof *ts[ti].partitions.v);
            }
            fetch_part8 *p = &ts[ti].partitions.v[ts[ti].partitions.n++];
            proto_offset_fetch_response_offset_fetch_response_partitions_init(
                p);
            p->partition_index = offs[i].partition;
            p->committed_offset = offs[i].offset;
            p->committed_leader_epoch = offs[i].leader_epoch;
            p->metadata =
                (proto_str){arena_strndup(req->arena, offs[i].metadata,
                                          offs[i].metadata_len),
                            (int32_t)offs[i].metadata_len};
        }
        *out = ts;
        *out_n = nt;
        return KERR_NONE;
    }
    fetch_topic8 *ts =
        arena_calloc(req->arena, (size_t)(topics_n ? topics_n : 1), sizeof *ts);
    for (int32_t t = 0; t < topics_n; t++) {
        proto_offset_fetch_response_offset_fetch_response_topics_init(&ts[t]);
        ts[t].name = names[t];
        ts[t].partitions.n = parts_n[t];
        ts[t].partitions.v =
            arena_calloc(req->arena, (size_t)(parts_n[t] ? parts_n[t] : 1),
                         sizeof *ts[t].partitions.v);
        for (int32_t i = 0; i < parts_n[t]; i++) {
            fetch_part8 *p = &ts[t].partitions.v[i];
            proto_offset_fetch_response_offset_fetch_response_partitions_init(
                p);
            p->partition_index = parts[t][i];
            const grp_offset *o =
                g && names[t].len >= 0
                    ? grp_offset_get(g, names[t].p, (size_t)names[t].len,
                                     parts[t][i])
                    : NULL;
            p->committed_offset = o ? o->offset : -1;
            p->committed_leader_epoch = o ? o->leader_epoch : -1;
            /* KIP-447: offsets of an open transaction are not stable yet */
            if (require_stable &&
                grp_txn_pending(gn, gid, names[t], parts[t][i])) {
                p->error_code = KERR_UNSTABLE_OFFSET_COMMIT;
                p->committed_offset = -1;
                p->committed_leader_epoch = -1;
            }
            p->metadata = o ? (proto_str){arena_strndup(req->arena, o->metadata,
                                                        o->metadata_len),
                                          (int32_t)o->metadata_len}
                            : proto_str_c("");
        }
    }
    *out = ts;
    *out_n = topics_n;
    return KERR_NONE;
}

coord_status grp_handle_offset_fetch(grp_node *gn, coord_req *req) {
    grp_coord *coord = get_coord(gn);
    proto_offset_fetch_request rq;
    if (proto_offset_fetch_request_decode(&req->body, req->arena,
                                          req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    proto_offset_fetch_response rs;
    proto_offset_fetch_response_init(&rs);
    int16_t v = req->api_version;
    if (v >= 8) {
        int32_t ng = rq.groups.n;
        rs.groups.n = ng;
        rs.groups.v = arena_calloc(req->arena, (size_t)(ng ? ng : 1),
                                   sizeof *rs.groups.v);
        for (int32_t i = 0; i < ng; i++) {
            proto_offset_fetch_request_offset_fetch_request_group *rg =
                &rq.groups.v[i];
            proto_offset_fetch_response_offset_fetch_response_group *og =
                &rs.groups.v[i];
            proto_offset_fetch_response_offset_fetch_response_group_init(og);
            og->group_id = rg->group_id;
            int32_t tn = rg->topics.v || rg->topics.n > 0 ? rg->topics.n : -1;
            proto_str *names = arena_calloc(
                req->arena, (size_t)(tn > 0 ? tn : 1), sizeof *names);
            const int32_t **parts = arena_calloc(
                req->arena, (size_t)(tn > 0 ? tn : 1), sizeof *parts);
            int32_t *pn =
                arena_calloc(req->arena, (size_t)(tn > 0 ? tn : 1), sizeof *pn);
            for (int32_t t = 0; t < tn; t++) {
                names[t] = rg->topics.v[t].name;
                parts[t] = rg->topics.v[t].partition_indexes.v;
                pn[t] = rg->topics.v[t].partition_indexes.n;
            }
            fetch_topic8 *ts = NULL;
            int32_t nts = 0;
            /* v9+: a consumer group member fetches with its epoch
             * (Kafka's ConsumerGroup.validateOffsetFetch) */
            proto_str fgid = gid_dup(req, rg->group_id);
            grp_group *fg =
                v >= 9 && !check_coord(gn, fgid) ? grp_find(coord, fgid) : NULL;
            int16_t ve = fg && grp_is_consumer(fg)
                             ? grp_consumer_validate_fetch(fg, rg->member_id,
                                                           rg->member_epoch)
                             : KERR_NONE;
            og->error_code = ve ? ve
                                : fetch_group(gn, req, fgid, tn, names, parts,
                                              pn, &ts, &nts, rq.require_stable);
            og->topics.n = nts;
            og->topics.v = ts;
        }
    } else {
        bool all = v >= 2 && !rq.topics.v && rq.topics.n <= 0;
        int32_t tn = all ? -1 : rq.topics.n;
        proto_str *names =
            arena_calloc(req->arena, (size_t)(tn > 0 ? tn : 1), sizeof *names);
        const int32_t **parts =
            arena_calloc(req->arena, (size_t)(tn > 0 ? tn : 1), sizeof *parts);
        int32_t *pn =
            arena_calloc(req->arena, (size_t)(tn > 0 ? tn : 1), sizeof *pn);
        for (int32_t t = 0; t < tn; t++) {
            names[t] = rq.topics.v[t].name;
            parts[t] = rq.topics.v[t].partition_indexes.v;
            pn[t] = rq.topics.v[t].partition_indexes.n;
        }
        fetch_topic8 *ts;
        int32_t nts;
        int16_t e =
            fetch_group(gn, req, gid_dup(req, rq.group_id), tn, names, parts,
                        pn, &ts, &nts, v >= 7 && rq.require_stable);
        if (e && tn > 0) {
            /* v0-1 carry the error per partition; later versions at the
             * top too. Answer the partitions asked for with it. */
            nts = tn;
            ts = arena_calloc(req->arena, (size_t)tn, sizeof *ts);
            for (int32_t t = 0; t < tn; t++) {
                ts[t].name = names[t];
                ts[t].partitions.n = pn[t];
                ts[t].partitions.v =
                    arena_calloc(req->arena, (size_t)(pn[t] ? pn[t] : 1),
                                 sizeof *ts[t].partitions.v);
                for (int32_t i = 0; i < pn[t]; i++) {
                    fetch_part8 *p = &ts[t].partitions.v[i];
                    proto_offset_fetch_response_offset_fetch_response_partitions_init(
                        p);
                    p->partition_index = parts[t][i];
                    p->committed_offset = -1;
                    p->metadata = proto_str_c("");
                    p->error_code = e;
                }
            }
        }
        rs.error_code = e;
        rs.topics.n = nts;
        rs.topics.v = arena_calloc(req->arena, (size_t)(nts ? nts : 1),
                                   sizeof *rs.topics.v);
        for (int32_t t = 0; t < nts; t++) {
            proto_offset_fetch_response_offset_fetch_response_topic *ot =
                &rs.topics.v[t];
            proto_offset_fetch_response_offset_fetch_response_topic_init(ot);
            ot->name = ts[t].name;
            ot->partitions.n = ts[t].partitions.n;
            ot->partitions.v = arena_calloc(
                req->arena, (size_t)(ot->partitions.n ? ot->partitions.n : 1),
                sizeof *ot->partitions.v);
            for (int32_t i = 0; i < ot->partitions.n; i++) {
                proto_offset_fetch_response_offset_fetch_response_partition
                    *op = &ot->partitions.v[i];
                fetch_part8 *ip = &ts[t].partitions.v[i];
                proto_offset_fetch_response_offset_fetch_response_partition_init(
                    op);
                op->partition_index = ip->partition_index;
                op->committed_offset = ip->committed_offset;
                op->committed_leader_epoch = ip->committed_leader_epoch;
                op->metadata = ip->metadata;
                op->error_code = ip->error_code;
            }
        }
    }
    proto_offset_fetch_response_encode(coord_resp_buf(req), v, &rs);
    return COORD_DONE;
}

/* ---- ListGroups (16)
 * ------------------------------------------------------------------ */

typedef struct list_ctx {
    grp_node *gn;
    coord_req *req;
    proto_list_groups_request *rq;
    proto_list_groups_response *rs;
    int cap;
} list_ctx;

static bool filter_has(proto_str *v, int32_t n, const char *s) {
    if (n <= 0)
        return true;
    for (int32_t i = 0; i < n; i++)
        if (v[i].len >= 0 && (size_t)v[i].len == strlen(s) &&
            !strncasecmp(v[i].p, s, (size_t)v[i].len))
            return true;
    return false;
}

static void list_one(void *ctx, grp_group *g) {
    list_ctx *lc = ctx;
    grp_info gi;
    grp_get_info(g, &gi);
    grp_coord *coord = get_coord(lc->gn);
    if (grp_check_coordinator(coord, gi.group_id))
        return;
    bool consumer = grp_is_consumer(g);
    const char *state = grp_state_name(gi.state);
    if (consumer) {
        cg_info ci;
        grp_consumer_info(coord, g, &ci);
        state = ci.state;
        gi.protocol_type = proto_str_c("consumer");
    }
    const char *type = consumer ? "consumer" : "classic";
    if (lc->req->api_version >= 4 &&
        !filter_has(lc->rq->states_filter.v, lc->rq->states_filter.n, state))
        return;
    if (lc->req->api_version >= 5 &&
        !filter_has(lc->rq->types_filter.v, lc->rq->types_filter.n, type))
        return;
    if (lc->rs->groups.n == lc->cap) {
        int nc = lc->cap ? lc->cap * 2 : 16;
        proto_list_groups_response_listed_group *nv =
            arena_calloc(lc->req->arena, (size_t)nc, sizeof *nv);
        if (lc->cap)
            memcpy(nv, lc->rs->groups.v, (size_t)lc->cap * sizeof *nv);
        lc->rs->groups.v = nv;
        lc->cap = nc;
    }
    proto_list_groups_response_listed_group *lg =
        &lc->rs->groups.v[lc->rs->groups.n++];
    proto_list_groups_response_listed_group_init(lg);
    lg->group_id = (proto_str){
        arena_strndup(lc->req->arena, gi.group_id.p, (size_t)gi.group_id.len),
        gi.group_id.len};
    lg->protocol_type = ps_copy(lc->req, gi.protocol_type);
    lg->group_state = proto_str_c(state);
    lg->group_type = proto_str_c(type);
}

coord_status grp_handle_list_groups(grp_node *gn, coord_req *req) {
    proto_list_groups_request rq;
    if (proto_list_groups_request_decode(&req->body, req->arena,
                                         req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    proto_list_groups_response rs;
    proto_list_groups_response_init(&rs);
    grp_coord *c = get_coord(gn);
    list_ctx lc = {gn, req, &rq, &rs, 0};
    grp_foreach(c, list_one, &lc);
    proto_list_groups_response_encode(coord_resp_buf(req), req->api_version,
                                      &rs);
    return COORD_DONE;
}

/* ---- DescribeGroups (15)
 * ----------------------------------------------------------------- */

/* READ, DELETE, DESCRIBE: what a group allows without an authorizer. */
#define GROUP_OPS ((1 << 3) | (1 << 6) | (1 << 8))

coord_status grp_handle_describe_groups(grp_node *gn, coord_req *req) {
    grp_coord *coord = get_coord(gn);
    proto_describe_groups_request rq;
    if (proto_describe_groups_request_decode(&req->body, req->arena,
                                             req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    proto_describe_groups_response rs;
    proto_describe_groups_response_init(&rs);
    int32_t n = rq.groups.n;
    rs.groups.n = n;
    rs.groups.v =
        arena_calloc(req->arena, (size_t)(n ? n : 1), sizeof *rs.groups.v);
    for (int32_t i = 0; i < n; i++) {
        proto_describe_groups_response_described_group *dg = &rs.groups.v[i];
        proto_describe_groups_response_described_group_init(dg);
        proto_str gid = gid_dup(req, rq.groups.v[i]);
        dg->group_id = rq.groups.v[i];
        dg->error_code = check_coord(gn, gid);
        dg->group_state = proto_str_c("");
        dg->protocol_type = proto_str_c("");
        dg->protocol_data = proto_str_c("");
        if (dg->error_code)
            continue;
        if (req->api_version >= 3 && rq.include_authorized_operations)
            dg->authorized_operations = GROUP_OPS;
        grp_group *g = grp_find(coord, gid);
        if (!g || grp_is_consumer(g)) {
            /* Kafka: a group that is not a classic group is described
             * as Dead (v0-5) */
            dg->group_state = proto_str_c("Dead");
            continue;
        }
        grp_info gi;
        grp_get_info(g, &gi);
        bool stable = gi.state == GRP_STABLE;
        dg->group_state = proto_str_c(grp_state_name(gi.state));
        dg->protocol_type = ps_copy(req, gi.protocol_type);
        dg->protocol_data =
            stable ? ps_copy(req, gi.protocol_name) : proto_str_c("");
        dg->members.n = gi.n_members;
        dg->members.v =
            arena_calloc(req->arena, (size_t)(gi.n_members ? gi.n_members : 1),
                         sizeof *dg->members.v);
        for (int k = 0; k < gi.n_members; k++) {
            grp_member_info mi;
            grp_get_member(g, k, &mi);
            proto_describe_groups_response_described_group_member *dm =
                &dg->members.v[k];
            proto_describe_groups_response_described_group_member_init(dm);
            dm->member_id = ps_copy(req, mi.member_id);
            dm->group_instance_id = mi.instance_id.len >= 0
                                        ? ps_copy(req, mi.instance_id)
                                        : PROTO_STR_NULL;
            dm->client_id = ps_copy(req, mi.client_id);
            dm->client_host = ps_copy(req, mi.client_host);
            dm->member_metadata = (proto_bytes){(const uint8_t *)"", 0};
            dm->member_assignment = (proto_bytes){(const uint8_t *)"", 0};
            if (stable) {
                if (mi.metadata_len > 0)
                    dm->member_metadata =
                        (proto_bytes){arena_memdup(req->arena, mi.metadata,
                                                   (size_t)mi.metadata_len),
                                      mi.metadata_len};
                if (mi.assignment_len > 0)
                    dm->member_assignment =
                        (proto_bytes){arena_memdup(req->arena, mi.assignment,
                                                   (size_t)mi.assignment_len),
                                      mi.assignment_len};
            }
        }
    }
    proto_describe_groups_response_encode(coord_resp_buf(req), req->api_version,
                                          &rs);
    return COORD_DONE;
}

/* ---- DeleteGroups (42)
 * ------------------------------------------------------------------ */

coord_status grp_handle_delete_groups(grp_node *gn, coord_req *req) {
    grp_coord *coord = get_coord(gn);
    proto_delete_groups_request rq;
    if (proto_delete_groups_request_decode(&req->body, req->arena,
                                           req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    proto_delete_groups_response rs;
    proto_delete_groups_response_init(&rs);
    int32_t n = rq.groups_names.n;
    rs.results.n = n;
    rs.results.v =
        arena_calloc(req->arena, (size_t)(n ? n : 1), sizeof *rs.results.v);
    for (int32_t i = 0; i < n; i++) {
        proto_delete_groups_response_deletable_group_result *r =
            &rs.results.v[i];
        proto_delete_groups_response_deletable_group_result_init(r);
        proto_str gid = gid_dup(req, rq.groups_names.v[i]);
        r->group_id = rq.groups_names.v[i];
        r->error_code = check_coord(gn, gid);
        if (!r->error_code)
            r->error_code = grp_delete_group(coord, gid);
    }
    proto_delete_groups_response_encode(coord_resp_buf(req), req->api_version,
                                        &rs);
    return COORD_AFTER_FLUSH;
}

/* ---- OffsetDelete (47)
 * ------------------------------------------------------------------- */

coord_status grp_handle_offset_delete(grp_node *gn, coord_req *req) {
    grp_coord *coord = get_coord(gn);
    proto_offset_delete_request rq;
    if (proto_offset_delete_request_decode(&req->body, req->arena,
                                           req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    proto_offset_delete_response rs;
    proto_offset_delete_response_init(&rs);
    proto_str gid = gid_dup(req, rq.group_id);
    rs.error_code = check_coord(gn, gid);
    int n = 0;
    for (int32_t t = 0; t < rq.topics.n; t++)
        n += rq.topics.v[t].partitions.n;
    const char **topics =
        arena_calloc(req->arena, (size_t)(n ? n : 1), sizeof *topics);
    int32_t *parts =
        arena_calloc(req->arena, (size_t)(n ? n : 1), sizeof *parts);
    int16_t *errs = arena_calloc(req->arena, (size_t)(n ? n : 1), sizeof *errs);
    int16_t *pre = arena_calloc(req->arena, (size_t)(n ? n : 1), sizeof *pre);
    /* unknown topics are answered per partition; the rest go to the group */
    const char **ktopics =
        arena_calloc(req->arena, (size_t)(n ? n : 1), sizeof *ktopics);
    int32_t *kparts =
        arena_calloc(req->arena, (size_t)(n ? n : 1), sizeof *kparts);
    int16_t *kerrs =
        arena_calloc(req->arena, (size_t)(n ? n : 1), sizeof *kerrs);
    int *kidx = arena_calloc(req->arena, (size_t)(n ? n : 1), sizeof *kidx);
    int k = 0, nk = 0;
    for (int32_t t = 0; t < rq.topics.n; t++) {
        char *name = sdup0(req, rq.topics.v[t].name);
        /* looked up with all its bytes ("a\0b" is no topic, not "a") */
        proto_str tn = rq.topics.v[t].name;
        bool exists = tn.len > 0 && cl_topic_find(coord_image(gn->rt), tn.p,
                                                  (size_t)tn.len) != NULL;
        for (int32_t p = 0; p < rq.topics.v[t].partitions.n; p++, k++) {
            topics[k] = name;
            parts[k] = rq.topics.v[t].partitions.v[p].partition_index;
            pre[k] = exists ? KERR_NONE : KERR_UNKNOWN_TOPIC_OR_PARTITION;
            if (exists) {
                ktopics[nk] = name;
                kparts[nk] = parts[k];
                kidx[nk++] = k;
            }
        }
    }
    if (!rs.error_code)
        rs.error_code =
            grp_offset_delete(coord, gid, ktopics, kparts, nk, kerrs);
    for (int i = 0; i < n; i++)
        errs[i] = pre[i];
    for (int i = 0; i < nk; i++)
        errs[kidx[i]] = kerrs[i];
    if (!rs.error_code) {
        rs.topics.n = rq.topics.n;
        rs.topics.v =
            arena_calloc(req->arena, (size_t)(rq.topics.n ? rq.topics.n : 1),
                         sizeof *rs.topics.v);
        k = 0;
        for (int32_t t = 0; t < rq.topics.n; t++) {
            proto_offset_delete_response_offset_delete_response_topic *rt =
                &rs.topics.v[t];
            proto_offset_delete_response_offset_delete_response_topic_init(rt);
            rt->name = rq.topics.v[t].name;
            int32_t np = rq.topics.v[t].partitions.n;
            rt->partitions.n = np;
            rt->partitions.v = arena_calloc(req->arena, (size_t)(np ? np : 1),
                                            sizeof *rt->partitions.v);
            for (int32_t p = 0; p < np; p++, k++) {
                proto_offset_delete_response_offset_delete_response_partition_init(
                    &rt->partitions.v[p]);
                rt->partitions.v[p].partition_index = parts[k];
                rt->partitions.v[p].error_code = errs[k];
            }
        }
    }
    proto_offset_delete_response_encode(coord_resp_buf(req), req->api_version,
                                        &rs);
    return COORD_AFTER_FLUSH;
}

/* ---- TxnOffsetCommit (28)
 * -------------------------------------------------------------- */

/* The producer state follows the log (txn hook), before the HW moves. */
typedef struct txn_appended_ctx {
    grp_node *gn;
    const buf *batch; /* rewritten in place by the append */
} txn_appended_ctx;

static void txn_appended(void *ctx, log_partition *log,
                         const log_append_info *info) {
    txn_appended_ctx *tac = ctx;
    log_batch_header h;
    if (batch_parse_header(tac->batch->data, tac->batch->len, &h))
        txn_produce_appended(tac->gn->txn, log, &h, info->base_offset);
}

coord_status grp_handle_txn_offset_commit(grp_node *gn, coord_req *req) {
    proto_txn_offset_commit_request rq;
    if (proto_txn_offset_commit_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    proto_txn_offset_commit_response rs;
    proto_txn_offset_commit_response_init(&rs);
    int32_t nt = COORD_RESP_ARRAY(req, rs.topics, rq.topics.n);
    /* The group id keeps all its bytes (a NUL among them makes another
     * group, as on Kafka). */
    proto_str gid = rq.group_id;
    grp_node *g = gn;
    grp_coord *gc = grp_node_coord(gn);
    int16_t top = KERR_NONE;
    if (gid.len <= 0)
        top = KERR_INVALID_GROUP_ID;
    else
        top = grp_check_coordinator(gc, gid);
    /* The producer must be the current one of its transactional id. */
    if (!top && rq.transactional_id.len > 0)
        top = txn_check_offset_commit(gn->txn, rq.transactional_id,
                                      rq.producer_id, rq.producer_epoch);
    /* v3+: the member must belong to the group's current generation (a
     * classic group) or hold the group's current member epoch (a KIP-848
     * consumer group). */
    if (!top && req->api_version >= 3)
        top = grp_txn_commit_check(gc, gid, rq.member_id, rq.generation_id);
    int32_t gp = gid.len > 0 ? grp_partition_for(gid.p, (size_t)gid.len,
                                                 grp_cfg(gc)->num_partitions)
                             : 0;
    cl_partition *opart = offsets_partition(gn, gp);
    if (!top && !leader_log(gn, opart))
        top = KERR_NOT_COORDINATOR;
    int64_t now = clk_wall_ms();
    int32_t max_meta = grp_cfg(gc)->metadata_max_bytes;
    batch_builder b;
    batch_builder_init(&b, 0, 0);
    batch_builder_set_producer(&b, rq.producer_id, rq.producer_epoch, -1);
    batch_builder_set_transactional(&b, true);
    int n_recs = 0;
    /* records kept to register as pending after the append */
    typedef struct kvrec {
        buf k, v;
    } kvrec;
    int total = 0;
    for (int32_t i = 0; i < nt; i++)
        total +=
            rq.topics.v[i].partitions.n > 0 ? rq.topics.v[i].partitions.n : 0;
    kvrec *kvs = xcalloc((size_t)(total ? total : 1), sizeof *kvs);
    for (int32_t i = 0; i < nt; i++) {
        proto_txn_offset_commit_request_txn_offset_commit_request_topic *t =
            &rq.topics.v[i];
        proto_txn_offset_commit_response_txn_offset_commit_response_topic *tr =
            &rs.topics.v[i];
        proto_txn_offset_commit_response_txn_offset_commit_response_topic_init(
            tr);
        tr->name = t->name;
        int32_t np = COORD_RESP_ARRAY(req, tr->partitions, t->partitions.n);
        for (int32_t j = 0; j < np; j++) {
            proto_txn_offset_commit_request_txn_offset_commit_request_partition
                *p = &t->partitions.v[j];
            proto_txn_offset_commit_response_txn_offset_commit_response_partition
                *pr = &tr->partitions.v[j];
            proto_txn_offset_commit_response_txn_offset_commit_response_partition_init(
                pr);
            pr->partition_index = p->partition_index;
            int16_t e = top;
            int16_t fe;
            if (!e &&
                !coord_find_partition(gn->rt, t->name.p ? t->name.p : "",
                                      t->name.len > 0 ? (size_t)t->name.len : 0,
                                      p->partition_index, &fe))
                e = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            if (!e && p->committed_metadata.len > max_meta)
                e = KERR_OFFSET_METADATA_TOO_LARGE;
            pr->error_code = e;
            if (e)
                continue;
            kvrec *kv = &kvs[n_recs++];
            buf_init(&kv->k, 64);
            buf_init(&kv->v, 64);
            proto_offset_commit_key k;
            proto_offset_commit_key_init(&k);
            k.group = gid;
            k.topic = t->name;
            k.partition = p->partition_index;
            buf_put_be16(&kv->k, 1);
            proto_offset_commit_key_encode(&kv->k, 1, &k);
            proto_offset_commit_value v;
            proto_offset_commit_value_init(&v);
            v.offset = p->committed_offset;
            v.leader_epoch =
                req->api_version >= 2 ? p->committed_leader_epoch : -1;
            v.metadata = p->committed_metadata.len > 0 ? p->committed_metadata
                                                       : proto_str_c("");
            v.commit_timestamp = now;
            v.expire_timestamp = -1;
            buf_put_be16(&kv->v, 3);
            proto_offset_commit_value_encode(&kv->v, 3, &v);
            batch_builder_add(&b, now, kv->k.data, (int32_t)kv->k.len,
                              kv->v.data, (int32_t)kv->v.len, NULL, 0);
        }
    }
    if (n_recs > 0) {
        batch_builder_set_leader_epoch(&b, opart->leader_epoch);
        buf out;
        buf_init(&out, 512);
        int16_t e = batch_builder_finish(&b, &out);
        log_append_info info;
        memset(&info, 0, sizeof info);
        txn_appended_ctx tac = {gn, &out};
        if (!e)
            e = coord_append(gn, opart, &out, &info, txn_appended, &tac);
        if (!e) {
            for (int i = 0; i < n_recs; i++)
                grp_txn_add_pending(g, gp, rq.producer_id, kvs[i].k.data,
                                    kvs[i].k.len, kvs[i].v.data, kvs[i].v.len);
        } else {
            for (int32_t i = 0; i < nt; i++)
                for (int32_t j = 0; j < rs.topics.v[i].partitions.n; j++)
                    if (!rs.topics.v[i].partitions.v[j].error_code)
                        rs.topics.v[i].partitions.v[j].error_code =
                            e == KERR_KAFKA_STORAGE_ERROR
                                ? KERR_COORDINATOR_NOT_AVAILABLE
                                : e;
        }
        buf_free(&out);
    }
    batch_builder_free(&b);
    for (int i = 0; i < n_recs; i++) {
        buf_free(&kvs[i].k);
        buf_free(&kvs[i].v);
    }
    free(kvs);
    proto_txn_offset_commit_response_encode(coord_resp_buf(req),
                                            req->api_version, &rs);
    return COORD_DONE;
}

/* ---- KIP-848 consumer groups
 * -------------------------------------------------------------- */

static bool cg_topic_by_name(void *ctx, const char *name, uint8_t id[16],
                             int32_t *n_parts) {
    grp_node *gn = ctx;
    cl_topic *t = cl_topic_find(coord_image(gn->rt), name, strlen(name));
    if (!t)
        return false;
    memcpy(id, t->id, 16);
    *n_parts = t->n_partitions;
    return true;
}

static const char *cg_topic_by_id(void *ctx, const uint8_t id[16],
                                  int32_t *n_parts) {
    grp_node *gn = ctx;
    cl_topic *t = cl_topic_find_id(coord_image(gn->rt), id);
    if (!t)
        return NULL;
    *n_parts = t->n_partitions;
    return t->name;
}

/* Topic names for regex subscriptions (internal topics excluded, as
 * Kafka's regex resolution does). */
static int cg_topic_names(void *ctx, const char ***names) {
    grp_node *gn = ctx;
    grp_node *g = gn;
    size_t n;
    cl_topic **ts = cl_topics(coord_image(gn->rt), &n);
    if (n > g->topic_names_cap) {
        g->topic_names_cap = n;
        g->topic_names = xrealloc(g->topic_names, n * sizeof *g->topic_names);
    }
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (!ts[i]->internal)
            g->topic_names[k++] = ts[i]->name;
    *names = g->topic_names;
    return k;
}

/* Group-level consumer.session.timeout.ms / consumer.heartbeat.interval.ms
 * (IncrementalAlterConfigs on the GROUP resource). */
static void cg_group_cfg(void *ctx, const char *group, int32_t *session_ms,
                         int32_t *heartbeat_ms) {
    grp_node *gn = ctx;
    const char *s = cl_group_config(coord_image(gn->rt), group,
                                    "consumer.session.timeout.ms");
    const char *h = cl_group_config(coord_image(gn->rt), group,
                                    "consumer.heartbeat.interval.ms");
    if (s && atoi(s) > 0)
        *session_ms = atoi(s);
    if (h && atoi(h) > 0)
        *heartbeat_ms = atoi(h);
}

/* group.consumer.assignors: builtin names or Kafka's class names. */
static const char *assignor_name(const char *s, size_t n) {
    static const struct {
        const char *name, *cls;
    } known[] = {
        {"uniform",
         "org.apache.kafka.coordinator.group.assignor.UniformAssignor"},
        {"range", "org.apache.kafka.coordinator.group.assignor.RangeAssignor"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(known); i++)
        if ((strlen(known[i].name) == n && !strncmp(s, known[i].name, n)) ||
            (strlen(known[i].cls) == n && !strncmp(s, known[i].cls, n)))
            return known[i].name;
    return NULL;
}

static bool list_has(const char *list, const char *item) {
    size_t n = strlen(item);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        if ((size_t)(t - p) == n && !strncasecmp(p, item, n))
            return true;
        p = e;
    }
    return false;
}

static void set_consumer_env(grp_node *gn, grp_coord *c) {
    cg_env env = {0};
    env.topic_by_name = cg_topic_by_name;
    env.topic_by_id = cg_topic_by_id;
    env.group_cfg = cg_group_cfg;
    env.topic_names = cg_topic_names;
    env.ctx = gn;
    env.heartbeat_ms = (int32_t)coord_cfg_i64(
        gn->rt, COORD_CFG_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS);
    env.session_ms = (int32_t)coord_cfg_i64(
        gn->rt, COORD_CFG_GROUP_CONSUMER_SESSION_TIMEOUT_MS);
    env.max_size =
        (int32_t)coord_cfg_i64(gn->rt, COORD_CFG_GROUP_CONSUMER_MAX_SIZE);
    const char *as = coord_cfg_str(gn->rt, COORD_CFG_GROUP_CONSUMER_ASSIGNORS);
    for (const char *p = as; p && *p && env.n_assignors < 4;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        const char *name = assignor_name(p, (size_t)(e - p));
        if (name)
            env.assignors[env.n_assignors++] = name;
        else if (e > p)
            SL_WARN("group", "group.consumer.assignors: unknown assignor %.*s",
                    (int)(e - p), p);
        p = e;
    }
    if (!env.n_assignors) {
        env.assignors[0] = "uniform";
        env.assignors[1] = "range";
        env.n_assignors = 2;
    }
    env.enabled = list_has(
        coord_cfg_str(gn->rt, COORD_CFG_GROUP_COORDINATOR_REBALANCE_PROTOCOLS),
        "consumer");
    grp_consumer_set_env(c, &env);
}

typedef proto_consumer_group_heartbeat_response_topic_partitions hb_tp;

coord_status grp_handle_consumer_group_heartbeat(grp_node *gn, coord_req *req) {
    proto_consumer_group_heartbeat_request rq;
    if (proto_consumer_group_heartbeat_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    proto_consumer_group_heartbeat_response rs;
    proto_consumer_group_heartbeat_response_init(&rs);
    grp_coord *c = get_coord(gn);
    int32_t nt = rq.subscribed_topic_names.n;
    const char **topics =
        arena_calloc(req->arena, (size_t)(nt > 0 ? nt : 1), sizeof *topics);
    for (int32_t i = 0; i < nt; i++)
        topics[i] = sdup0(req, rq.subscribed_topic_names.v[i]);
    int32_t no = rq.topic_partitions.n;
    cg_owned *owned =
        arena_calloc(req->arena, (size_t)(no > 0 ? no : 1), sizeof *owned);
    for (int32_t i = 0; i < no; i++) {
        memcpy(owned[i].id, rq.topic_partitions.v[i].topic_id.b, 16);
        owned[i].n = rq.topic_partitions.v[i].partitions.n > 0
                         ? rq.topic_partitions.v[i].partitions.n
                         : 0;
        owned[i].parts = rq.topic_partitions.v[i].partitions.v;
    }
    cg_hb_req hr = {
        .group_id = gid_dup(req, rq.group_id),
        .member_id = or_empty(rq.member_id),
        .member_epoch = rq.member_epoch,
        .instance_id = rq.instance_id,
        .rack_id = rq.rack_id,
        .rebalance_ms = rq.rebalance_timeout_ms,
        .topics_set = nt >= 0,
        .n_topics = nt > 0 ? nt : 0,
        .topics = topics,
        /* an empty regex clears the regex subscription (librdkafka sends
         * "" when it subscribes by names) */
        .regex = req->api_version >= 1 && rq.subscribed_topic_regex.len > 0
                     ? sdup(req, rq.subscribed_topic_regex)
                     : NULL,
        .assignor = sdup(req, rq.server_assignor),
        .assignor_len =
            rq.server_assignor.len > 0 ? (size_t)rq.server_assignor.len : 0,
        .owned_set = no >= 0,
        .n_owned = no > 0 ? no : 0,
        .owned = owned,
        .client_id = client_id(req),
        .client_host = proto_str_c(client_host(req)),
        .api_version = req->api_version,
    };
    cg_hb_resp out;
    grp_consumer_heartbeat(c, &hr, &out);
    if (out.error)
        SL_DEBUG(
            "group",
            "ConsumerGroupHeartbeat v%d of %s (member %s, epoch %d): %s%s%s",
            req->api_version, hr.group_id.p, out.member_id.p, hr.member_epoch,
            proto_error_name(out.error), out.message ? ": " : "",
            out.message ? out.message : "");
    rs.error_code = out.error;
    rs.error_message =
        out.error
            ? pstr(out.message ? out.message : proto_error_message(out.error))
            : PROTO_STR_NULL;
    rs.member_id = out.error && out.member_id.len <= 0
                       ? PROTO_STR_NULL
                       : ps_copy(req, out.member_id);
    rs.member_epoch = out.member_epoch;
    rs.heartbeat_interval_ms = out.heartbeat_ms;
    if (!out.error && out.has_assignment) {
        proto_consumer_group_heartbeat_response_assignment *as =
            arena_calloc(req->arena, 1, sizeof *as);
        proto_consumer_group_heartbeat_response_assignment_init(as);
        int ntp = 0;
        for (int i = 0; i < out.n_assignment; i++)
            if (i == 0 ||
                memcmp(out.assignment[i].id, out.assignment[i - 1].id, 16))
                ntp++;
        hb_tp *tps =
            arena_calloc(req->arena, (size_t)(ntp ? ntp : 1), sizeof *tps);
        int ti = -1;
        for (int i = 0; i < out.n_assignment; i++) {
            if (i == 0 ||
                memcmp(out.assignment[i].id, out.assignment[i - 1].id, 16)) {
                ti++;
                proto_consumer_group_heartbeat_response_topic_partitions_init(
                    &tps[ti]);
                memcpy(tps[ti].topic_id.b, out.assignment[i].id, 16);
                tps[ti].partitions.v = arena_calloc(
                    req->arena, (size_t)out.n_assignment, sizeof(int32_t));
            }
            tps[ti].partitions.v[tps[ti].partitions.n++] =
                out.assignment[i].part;
        }
        as->topic_partitions.n = ntp;
        as->topic_partitions.v = tps;
        rs.assignment = as;
    }
    cg_hb_resp_free(&out);
    proto_consumer_group_heartbeat_response_encode(coord_resp_buf(req),
                                                   req->api_version, &rs);
    return COORD_AFTER_FLUSH;
}

typedef proto_consumer_group_describe_response_topic_partitions desc_tp;

static void
describe_assignment(grp_node *gn, coord_req *req, const cg_tp *v, int n,
                    proto_consumer_group_describe_response_assignment *out) {
    proto_consumer_group_describe_response_assignment_init(out);
    int ntp = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || memcmp(v[i].id, v[i - 1].id, 16))
            ntp++;
    desc_tp *tps =
        arena_calloc(req->arena, (size_t)(ntp ? ntp : 1), sizeof *tps);
    int ti = -1;
    for (int i = 0; i < n; i++) {
        if (i == 0 || memcmp(v[i].id, v[i - 1].id, 16)) {
            ti++;
            proto_consumer_group_describe_response_topic_partitions_init(
                &tps[ti]);
            memcpy(tps[ti].topic_id.b, v[i].id, 16);
            cl_topic *t = cl_topic_find_id(coord_image(gn->rt), v[i].id);
            tps[ti].topic_name = proto_str_c(
                t ? arena_strndup(req->arena, t->name, strlen(t->name)) : "");
            tps[ti].partitions.v =
                arena_calloc(req->arena, (size_t)n, sizeof(int32_t));
        }
        tps[ti].partitions.v[tps[ti].partitions.n++] = v[i].part;
    }
    out->topic_partitions.n = ntp;
    out->topic_partitions.v = tps;
}

static proto_str adup(coord_req *req, const char *s) {
    return s ? proto_str_c(arena_strndup(req->arena, s, strlen(s)))
             : PROTO_STR_NULL;
}

coord_status grp_handle_consumer_group_describe(grp_node *gn, coord_req *req) {
    proto_consumer_group_describe_request rq;
    if (proto_consumer_group_describe_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return COORD_CLOSE;
    proto_consumer_group_describe_response rs;
    proto_consumer_group_describe_response_init(&rs);
    grp_coord *c = get_coord(gn);
    int32_t n = rq.group_ids.n > 0 ? rq.group_ids.n : 0;
    rs.groups.n = n;
    rs.groups.v =
        arena_calloc(req->arena, (size_t)(n ? n : 1), sizeof *rs.groups.v);
    for (int32_t i = 0; i < n; i++) {
        proto_consumer_group_describe_response_described_group *dg =
            &rs.groups.v[i];
        proto_consumer_group_describe_response_described_group_init(dg);
        proto_str gid = gid_dup(req, rq.group_ids.v[i]);
        dg->group_id = rq.group_ids.v[i];
        dg->group_state = proto_str_c("");
        dg->assignor_name = proto_str_c("");
        dg->error_code = check_coord(gn, gid);
        if (dg->error_code)
            continue;
        grp_group *g = grp_find(c, gid);
        if (!g || !grp_is_consumer(g)) {
            /* Kafka: GROUP_ID_NOT_FOUND for a missing group and for a
             * group of another type */
            dg->error_code = KERR_GROUP_ID_NOT_FOUND;
            dg->error_message =
                msg_with_gid(req, "Group ", gid,
                             g ? " is not a consumer group." : " not found.");
            continue;
        }
        if (rq.include_authorized_operations)
            dg->authorized_operations = GROUP_OPS;
        cg_info ci;
        grp_consumer_info(c, g, &ci);
        dg->group_state = proto_str_c(ci.state);
        dg->group_epoch = ci.group_epoch;
        dg->assignment_epoch = ci.assignment_epoch;
        dg->assignor_name = adup(req, ci.assignor);
        dg->members.n = ci.n_members;
        dg->members.v =
            arena_calloc(req->arena, (size_t)(ci.n_members ? ci.n_members : 1),
                         sizeof *dg->members.v);
        for (int k = 0; k < ci.n_members; k++) {
            cg_member_info mi;
            grp_consumer_member(g, k, &mi);
            proto_consumer_group_describe_response_member *dm =
                &dg->members.v[k];
            proto_consumer_group_describe_response_member_init(dm);
            dm->member_id = ps_copy(req, mi.member_id);
            dm->instance_id = ps_copy(req, mi.instance_id);
            dm->rack_id = ps_copy(req, mi.rack_id);
            dm->member_epoch = mi.member_epoch;
            dm->client_id = ps_copy(req, mi.client_id);
            dm->client_host = ps_copy(req, mi.client_host);
            dm->subscribed_topic_names.n = mi.n_topics;
            dm->subscribed_topic_names.v = arena_calloc(
                req->arena, (size_t)(mi.n_topics ? mi.n_topics : 1),
                sizeof(proto_str));
            for (int t = 0; t < mi.n_topics; t++)
                dm->subscribed_topic_names.v[t] = adup(req, mi.topics[t]);
            dm->subscribed_topic_regex = adup(req, mi.regex ? mi.regex : "");
            describe_assignment(gn, req, mi.assigned, mi.n_assigned,
                                &dm->assignment);
            describe_assignment(gn, req, mi.target, mi.n_target,
                                &dm->target_assignment);
        }
    }
    proto_consumer_group_describe_response_encode(coord_resp_buf(req),
                                                  req->api_version, &rs);
    return COORD_DONE;
}
