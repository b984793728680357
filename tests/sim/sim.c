/*
 * sim.c - the deterministic simulator (`make sim SEED=... STEPS=...`):
 * N broker nodes in one process, each on its own simulated clock (with
 * skew), crash file system and host of the simulated network, driven by a
 * seeded workload of Produce (acks 1 and all), Fetch, consumer-group and
 * transaction requests sent through net/client.c on the generated codecs,
 * with faults (power loss, kill -9, partitions, dropped connections) and
 * checkers after every step. Any failure prints its seed and the command
 * that replays it (TigerBeetle's VOPR, FoundationDB's simulation).
 *
 * A step: one workload or fault action chosen by the seeded rng, then the
 * world runs (every live node's loop, then the clients' loop) and time
 * jumps to the next event (a delivery or a timer), up to a few ms of
 * simulated time; then the checkers:
 *  - acknowledged data is never lost: every record acknowledged is in the
 *    log at its offset with its value (LEO and content), also after a kill
 *    and restart; after a power loss, everything acknowledged on a topic
 *    with flush.messages=1 (answered only once fsynced) must be there and
 *    whatever survives of the others must be what was acknowledged (Kafka
 *    without replication loses unflushed acks=1/all data on power loss);
 *  - the high watermark never moves backwards while a node lives, and is
 *    above every acks=all acknowledgement;
 *  - replica logs agree below the high watermark (each partition has one
 *    replica today: the check runs over the replicas a partition has);
 *  - a fetch returns only produced values, at their acknowledged offsets,
 *    below the high watermark; read_committed never returns an aborted
 *    transaction's records (filtered as a client does) - of the
 *    transactions since the node's last power loss: markers and
 *    __transaction_state are not fsynced (Kafka relies on replication), so
 *    a power loss may lose an abort marker and leave the outcome to a later
 *    marker of the same producer id;
 *  - a committed group offset reads back (after a kill too).
 * Named fault points (core/faults.def) are armed at random; a node that
 * hits one crashes there, half of the time with a power loss.
 * The last line, "digest", hashes every node's files and the figures: the
 * same seed must give the same digest (make sim-sweep checks it).
 * Nodes are independent today (each its own cluster and controller); the
 * quorum and replication issues connect them.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/log.h"
#include "core/util.h"
#include "crashfs.h"
#include "log/batch.h"
#include "log/log.h"
#include "net/client.h"
#include "net/net.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "sim_node.h"
#include "simnet.h"
#include "wire_req.h"

#define MAX_NODES 5
#define N_TOPICS 2
#define MAX_PARTS 3

/* ---- configuration and world ----------------------------------------------
 */
static uint64_t seed = 1;
static int64_t steps = 2000;
static int n_nodes = 1;
static int verbose;
static const char *argv0 = "build/sim";

typedef struct topic_def {
    const char *name;
    int parts;
    bool durable; /* flush.messages=1: acknowledged once fsynced */
} topic_def;
static const topic_def topics[N_TOPICS] = {
    {"sim-a", 3, false},
    {"sim-d", 2, true},
};

/* An acknowledged record. */
typedef struct ack {
    int64_t offset;
    uint64_t val;
    bool all; /* acks=all */
} ack;

typedef struct part_model {
    ack *acks;
    int n, cap;
    int64_t hw_seen;   /* highest HW seen since the node last started */
    int64_t acked_end; /* 1 + highest acknowledged offset */
} part_model;

typedef struct node_slot {
    int id;
    char host[16];
    sl_env env;
    rng r;
    sl_faults faults;
    crashfs *fs;
    int64_t skew_ns;
    sim_node *node;   /* NULL while down */
    bool dying;       /* a fault or halt fired: crash after this pass */
    bool dying_power; /* ... as a power loss (a fault point), else kill */
    int64_t down_until;
    net_client *cl; /* the workload's connection to this node */
    bool topics_made;
    bool power_loss_pending; /* restart must reconcile with a power loss */
    /* consumer group: one member of group "sim-g" */
    int g_state; /* G_* */
    bool g_busy;
    bool g_found; /* FindCoordinator answered (it creates the offsets
                     topic); NOT_COORDINATOR asks again, as clients do */
    char g_member[128];
    int32_t g_gen;
    int64_t g_committed[MAX_PARTS]; /* last commit acknowledged, -1 none */
    bool g_maybe_lost; /* a power loss since: commits may be gone */
    int64_t g_joins, g_commits, g_fetches;
    /* transactions: producer "sim-tx-<id>-<x_gen>"; a power loss moves
     * to the next x_gen: the coordinator's state may have lost the last
     * epoch bumps (__transaction_state is not fsynced), and the epoch it
     * hands out again would make the new batches duplicates of surviving
     * ones (acknowledged at the old batches' offsets) */
    int x_gen;
    int x_state; /* X_* */
    bool x_busy;
    int64_t x_pid;
    int16_t x_epoch;
    int x_part;
    int32_t x_seq[MAX_PARTS];
    uint64_t x_vals[64];
    int x_nvals;
    int64_t x_commits, x_aborts;
    part_model parts[N_TOPICS][MAX_PARTS];
    int64_t starts, kills, power_losses, faults_fired, clean_restarts;
} node_slot;

static struct world {
    int64_t now;
    rng r;
    simnet *net;
    node_slot nodes[MAX_NODES];
    sl_env cli_env;
    net_loop *cli;
    uint64_t next_val;
    int inflight;
    /* figures */
    int64_t produced, acked, acked_all, fetched_records, fetches;
    int64_t lost_unflushed; /* acks lost to a power loss (not a bug) */
    int64_t checks;
    int64_t bugs;
} W;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int64_t cur_step;
static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\nSIM FAILURE at step %" PRId64 " (t=%.3fs): ", cur_step,
            (double)W.now / 1e9);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr,
            "\n  seed %" PRIu64 ", %d node(s); replay with:\n"
            "    make sim SEED=%" PRIu64 " STEPS=%" PRId64 " NODES=%d\n"
            "  or %s --seed %" PRIu64 " --steps %" PRId64 " --nodes %d\n",
            seed, n_nodes, seed, cur_step + 1, n_nodes, argv0, seed,
            cur_step + 1, n_nodes);
    exit(2);
}

/* ---- clocks ------------------------------------------------------------- */
static int64_t node_mono(void *ctx) {
    node_slot *s = ctx;
    return W.now + s->skew_ns;
}
static int64_t node_wall(void *ctx) {
    return 1767225600000LL + node_mono(ctx) / 1000000; /* 2026-01-01 */
}
static int64_t cli_mono(void *ctx) {
    (void)ctx;
    return W.now;
}
static int64_t cli_wall(void *ctx) {
    return 1767225600000LL + cli_mono(ctx) / 1000000;
}

/* A fault point or a fatal halt of a node: it crashes after this pass. */
static void on_fault(void *ctx, sl_fault_id id) {
    node_slot *s = ctx;
    if (verbose)
        printf("  node %d: fault %s fired\n", s->id, sl_fault_name(id));
    s->dying = true;
    /* the machine crashes there: half of the time a power loss (unsynced
     * writes dropped or torn), else the process dies (kill -9) */
    s->dying_power = rng_below(&W.r, 2);
    s->faults_fired++;
    crashfs_cut_after(s->fs, 0); /* the power is off from here on */
    simnet_host_crash(W.net, s->host);
}
static void on_halt(void *ctx, int code) {
    node_slot *s = ctx;
    if (verbose)
        printf("  node %d: halted (%d)\n", s->id, code);
    if (!s->dying)
        s->dying_power = false; /* _exit: the page cache survives */
    s->dying = true;
    crashfs_cut_after(s->fs, 0);
    simnet_host_crash(W.net, s->host);
}

/* ---- workload: requests ----------------------------------------------------
 */
typedef struct produce_ctx {
    node_slot *s;
    int t, p;
    uint64_t first_val;
    int count;
    bool all;
} produce_ctx;

static void val_text(uint64_t v, char *out, size_t n) {
    snprintf(out, n, "sim:%016" PRIx64, v);
}
static bool val_parse(const uint8_t *p, int32_t len, uint64_t *v) {
    if (len != 20 || memcmp(p, "sim:", 4))
        return false;
    char tmp[17];
    memcpy(tmp, p + 4, 16);
    tmp[16] = 0;
    char *end;
    *v = strtoull(tmp, &end, 16);
    return *end == 0;
}

static void model_ack(node_slot *s, int t, int p, int64_t off, uint64_t v,
                      bool all) {
    part_model *m = &s->parts[t][p];
    for (int i = 0; i < m->n; i++)
        if (m->acks[i].offset == off)
            fail("node %d %s-%d: offset %" PRId64
                 " acknowledged twice (values %" PRIx64 " and %" PRIx64 ")",
                 s->id, topics[t].name, p, off, m->acks[i].val, v);
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->acks = xrealloc(m->acks, (size_t)m->cap * sizeof *m->acks);
    }
    /* keep sorted by offset (acks may complete out of order? no: one
     * connection answers in order; insertion sort for safety) */
    int i = m->n++;
    while (i > 0 && m->acks[i - 1].offset > off) {
        m->acks[i] = m->acks[i - 1];
        i--;
    }
    m->acks[i] = (ack){off, v, all};
    if (off + 1 > m->acked_end)
        m->acked_end = off + 1;
}

static void on_produce(net_client *c, const net_client_result *r, void *ctx) {
    (void)c;
    produce_ctx *pc = ctx;
    W.inflight--;
    if (r->err == NET_CLIENT_OK) {
        const proto_produce_response *rs = r->resp;
        if (rs->responses.n == 1 &&
            rs->responses.v[0].partition_responses.n == 1) {
            const proto_produce_response_partition_produce_response *pr =
                &rs->responses.v[0].partition_responses.v[0];
            if (pr->error_code == KERR_NONE) {
                for (int i = 0; i < pc->count; i++)
                    model_ack(pc->s, pc->t, pc->p, pr->base_offset + i,
                              pc->first_val + (uint64_t)i, pc->all);
                W.acked += pc->count;
                if (pc->all)
                    W.acked_all += pc->count;
            } else if (verbose > 1) {
                printf("  produce %s-%d: %s\n", topics[pc->t].name, pc->p,
                       proto_error_name(pr->error_code));
            }
        }
    }
    free(pc);
}

static void do_produce(node_slot *s) {
    int t = (int)rng_below(&W.r, N_TOPICS);
    int p = (int)rng_below(&W.r, (uint64_t)topics[t].parts);
    int count = 1 + (int)rng_below(&W.r, 5);
    bool all = rng_below(&W.r, 2);
    batch_builder b;
    batch_builder_init(&b, 0, 0);
    uint64_t first = W.next_val;
    for (int i = 0; i < count; i++) {
        char v[32];
        val_text(W.next_val++, v, sizeof v);
        batch_builder_add(&b, node_wall(s), NULL, -1, v, 20, NULL, 0);
    }
    buf rec;
    buf_init(&rec, 256);
    batch_builder_finish(&b, &rec);
    batch_builder_free(&b);
    produce_ctx *pc = xcalloc(1, sizeof *pc);
    *pc = (produce_ctx){s, t, p, first, count, all};
    if (wire_send_produce(s->cl, 12, topics[t].name, p, all ? -1 : 1, 30000,
                          &rec, on_produce, pc) > 0) {
        W.inflight++;
        W.produced += count;
    } else {
        free(pc);
    }
    buf_free(&rec);
}

enum { TX_NONE, TX_OPEN, TX_COMMITTED, TX_ABORTED };
static uint8_t get_txn_status(uint64_t v);

/* ---- fetch and its checks --------------------------------------------------
 */
typedef struct fetch_ctx {
    node_slot *s;
    int t, p;
    int64_t from;
    bool committed;
} fetch_ctx;

static const ack *find_ack(const part_model *m, int64_t off) {
    int lo = 0, hi = m->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (m->acks[mid].offset == off)
            return &m->acks[mid];
        if (m->acks[mid].offset < off)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

/* Calls fn for every data record of the batches in [p, p+n). */
typedef void (*rec_fn)(void *arg, const log_batch_header *h,
                       const log_record *rec);
static int walk_batches(const uint8_t *p, size_t n, rec_fn fn, void *arg) {
    size_t pos = 0;
    int batches = 0;
    while (pos + 61 <= n) {
        log_batch_header h;
        if (!batch_parse_header(p + pos, n - pos, &h))
            break;
        size_t sz = (size_t)batch_size(&h);
        if (pos + sz > n)
            break; /* a partial batch at the end of a fetch */
        batches++;
        if (!batch_is_control(&h)) {
            buf recs;
            buf_init(&recs, 256);
            if (batch_decompress_records(&h, p + pos, 64u << 20, &recs) ==
                KERR_NONE) {
                batch_iter it;
                batch_iter_init(&it, &h, recs.data, recs.len);
                log_record r;
                while (batch_iter_next(&it, &r) == 1)
                    fn(arg, &h, &r);
            }
            buf_free(&recs);
        } else {
            fn(arg, &h, NULL);
        }
        pos += sz;
    }
    return batches;
}

typedef struct fetch_check {
    fetch_ctx *fc;
    int64_t hw;
    const proto_fetch_response_partition_data *pd;
    int64_t aborted_pid[64], aborted_first[64];
    int n_aborted;
} fetch_check;

static void check_fetched(void *arg, const log_batch_header *h,
                          const log_record *r) {
    fetch_check *x = arg;
    fetch_ctx *fc = x->fc;
    part_model *m = &fc->s->parts[fc->t][fc->p];
    if (!r) {
        /* a control batch: a marker ends that producer's aborted range if
         * the range has begun (as a read_committed client filters,
         * KafkaConsumer's CompletedFetch.abortedProducerIds: a range joins
         * the set once a batch at or past its first offset is read; a
         * marker of an earlier transaction of the same producer must not
         * end a later aborted range) */
        for (int i = 0; i < x->n_aborted; i++)
            if (x->aborted_pid[i] == h->producer_id &&
                x->aborted_first[i] <= h->base_offset)
                x->aborted_pid[i] = -2;
        return;
    }
    if (fc->committed && batch_is_transactional(h)) {
        for (int i = 0; i < x->n_aborted; i++)
            if (x->aborted_pid[i] == h->producer_id &&
                x->aborted_first[i] <= h->base_offset)
                return; /* filtered out by the client */
    }
    if (r->offset >= x->hw)
        fail("node %d %s-%d: fetch returned offset %" PRId64
             " at or above the high watermark %" PRId64,
             fc->s->id, topics[fc->t].name, fc->p, r->offset, x->hw);
    uint64_t v;
    if (!val_parse(r->value, r->value_len, &v) || v >= W.next_val)
        fail("node %d %s-%d: fetch returned a value never produced at "
             "offset %" PRId64,
             fc->s->id, topics[fc->t].name, fc->p, r->offset);
    if (fc->committed && get_txn_status(v) == TX_ABORTED)
        fail("node %d %s-%d: read_committed fetch returned offset %" PRId64
             " of an aborted transaction",
             fc->s->id, topics[fc->t].name, fc->p, r->offset);
    if (fc->committed && x->pd->last_stable_offset >= 0 &&
        r->offset >= x->pd->last_stable_offset)
        fail("node %d %s-%d: read_committed fetch returned offset %" PRId64
             " at or above the last stable offset %" PRId64,
             fc->s->id, topics[fc->t].name, fc->p, r->offset,
             x->pd->last_stable_offset);
    const ack *a = find_ack(m, r->offset);
    if (a && a->val != v)
        fail("node %d %s-%d: offset %" PRId64 " holds value %" PRIx64
             " but %" PRIx64 " was acknowledged there",
             fc->s->id, topics[fc->t].name, fc->p, r->offset, v, a->val);
    W.fetched_records++;
}

static void on_fetch(net_client *c, const net_client_result *r, void *ctx) {
    (void)c;
    fetch_ctx *fc = ctx;
    W.inflight--;
    if (r->err == NET_CLIENT_OK) {
        const proto_fetch_response *rs = r->resp;
        W.fetches++;
        if (rs->responses.n == 1 && rs->responses.v[0].partitions.n == 1) {
            const proto_fetch_response_partition_data *pd =
                &rs->responses.v[0].partitions.v[0];
            if (pd->error_code == KERR_NONE && pd->records.len > 0) {
                fetch_check x = {.fc = fc, .hw = pd->high_watermark, .pd = pd};
                for (int i = 0; i < pd->aborted_transactions.n && i < 64; i++) {
                    x.aborted_pid[i] =
                        pd->aborted_transactions.v[i].producer_id;
                    x.aborted_first[i] =
                        pd->aborted_transactions.v[i].first_offset;
                    x.n_aborted++;
                }
                walk_batches(pd->records.p, (size_t)pd->records.len,
                             check_fetched, &x);
            }
        }
    }
    free(fc);
}

static void do_fetch(node_slot *s) {
    int t = (int)rng_below(&W.r, N_TOPICS);
    int p = (int)rng_below(&W.r, (uint64_t)topics[t].parts);
    part_model *m = &s->parts[t][p];
    int64_t from =
        m->acked_end ? (int64_t)rng_below(&W.r, (uint64_t)m->acked_end) : 0;
    int32_t max_wait = (int32_t)rng_below(&W.r, 50);
    bool committed = rng_below(&W.r, 2);
    wire_fetch f = {.topic = topics[t].name,
                    .partition = p,
                    .offset = from,
                    .partition_max_bytes = 4096,
                    .max_wait_ms = max_wait,
                    .isolation_level = committed ? 1 : 0,
                    .session_epoch = -1};
    fetch_ctx *fc = xcalloc(1, sizeof *fc);
    *fc = (fetch_ctx){s, t, p, from, committed};
    if (wire_send_fetch(s->cl, 12, &f, on_fetch, fc) > 0)
        W.inflight++;
    else
        free(fc);
}

/* ---- consumer group --------------------------------------------------------
 * One classic member per node: JoinGroup (with the member-id round trip),
 * SyncGroup as leader, Heartbeat, OffsetCommit; OffsetFetch checks that the
 * last acknowledged commit reads back (after a kill too; after a power loss
 * the offsets topic, which is not flushed by default, may have lost it). */
enum { G_IDLE, G_JOINED, G_STABLE };
#define GROUP "sim-g"

static bool retriable_group(int16_t e) {
    return e == KERR_REBALANCE_IN_PROGRESS || e == KERR_NOT_COORDINATOR ||
           e == KERR_COORDINATOR_LOAD_IN_PROGRESS ||
           e == KERR_COORDINATOR_NOT_AVAILABLE || e == KERR_UNKNOWN_MEMBER_ID ||
           e == KERR_ILLEGAL_GENERATION || e == KERR_MEMBER_ID_REQUIRED;
}

static void g_reset(node_slot *s, int16_t e) {
    if (e == KERR_UNKNOWN_MEMBER_ID)
        s->g_member[0] = 0;
    if (e == KERR_NOT_COORDINATOR || e == KERR_COORDINATOR_NOT_AVAILABLE)
        s->g_found = false;
    s->g_state = G_IDLE;
}

static void on_find(net_client *c, const net_client_result *r, void *ctx) {
    (void)c;
    node_slot *s = ctx;
    W.inflight--;
    s->g_busy = false;
    if (r->err != NET_CLIENT_OK)
        return;
    const proto_find_coordinator_response *rs = r->resp;
    if (rs->error_code == KERR_NONE) {
        if (rs->node_id != s->id)
            fail("node %d: FindCoordinator names node %d", s->id,
                 (int)rs->node_id);
        s->g_found = true;
    } else if (!retriable_group(rs->error_code)) {
        fail("node %d: FindCoordinator failed with %s", s->id,
             proto_error_name(rs->error_code));
    }
}

static void on_join(net_client *c, const net_client_result *r, void *ctx) {
    (void)c;
    node_slot *s = ctx;
    W.inflight--;
    s->g_busy = false;
    if (verbose > 1)
        printf("  node %d: JoinGroup: %s\n", s->id,
               r->err ? net_client_strerror(r->err)
                      : proto_error_name(
                            ((const proto_join_group_response *)r->resp)
                                ->error_code));
    if (r->err != NET_CLIENT_OK)
        return;
    const proto_join_group_response *rs = r->resp;
    if (rs->member_id.len > 0 && rs->member_id.len < 127)
        snprintf(s->g_member, sizeof s->g_member, "%.*s",
                 (int)rs->member_id.len, rs->member_id.p);
    if (rs->error_code == KERR_NONE) {
        s->g_gen = rs->generation_id;
        s->g_state = G_JOINED;
        s->g_joins++;
    } else if (retriable_group(rs->error_code)) {
        if (rs->error_code != KERR_MEMBER_ID_REQUIRED)
            g_reset(s, rs->error_code);
    } else {
        fail("node %d: JoinGroup failed with %s", s->id,
             proto_error_name(rs->error_code));
    }
}

static void on_sync(net_client *c, const net_client_result *r, void *ctx) {
    (void)c;
    node_slot *s = ctx;
    W.inflight--;
    s->g_busy = false;
    if (r->err != NET_CLIENT_OK)
        return;
    const proto_sync_group_response *rs = r->resp;
    if (rs->error_code == KERR_NONE)
        s->g_state = G_STABLE;
    else if (retriable_group(rs->error_code))
        g_reset(s, rs->error_code);
    else
        fail("node %d: SyncGroup failed with %s", s->id,
             proto_error_name(rs->error_code));
}

static void on_heartbeat(net_client *c, const net_client_result *r, void *ctx) {
    (void)c;
    node_slot *s = ctx;
    W.inflight--;
    s->g_busy = false;
    if (r->err != NET_CLIENT_OK)
        return;
    const proto_heartbeat_response *rs = r->resp;
    if (rs->error_code != KERR_NONE) {
        if (!retriable_group(rs->error_code))
            fail("node %d: Heartbeat failed with %s", s->id,
                 proto_error_name(rs->error_code));
        g_reset(s, rs->error_code);
    }
}

typedef struct commit_ctx {
    node_slot *s;
    int p;
    int64_t off;
} commit_ctx;

static void on_commit(net_client *c, const net_client_result *r, void *ctx) {
    (void)c;
    commit_ctx *cc = ctx;
    node_slot *s = cc->s;
    W.inflight--;
    s->g_busy = false;
    if (r->err == NET_CLIENT_OK) {
        const proto_offset_commit_response *rs = r->resp;
        int16_t e = rs->topics.n == 1 && rs->topics.v[0].partitions.n == 1
                        ? rs->topics.v[0].partitions.v[0].error_code
                        : KERR_UNKNOWN_SERVER_ERROR;
        if (e == KERR_NONE) {
            s->g_committed[cc->p] = cc->off;
            s->g_commits++;
        } else if (retriable_group(e)) {
            g_reset(s, e);
        } else {
            fail("node %d: OffsetCommit failed with %s", s->id,
                 proto_error_name(e));
        }
    }
    free(cc);
}

static void on_offset_fetch(net_client *c, const net_client_result *r,
                            void *ctx) {
    (void)c;
    node_slot *s = ctx;
    W.inflight--;
    s->g_busy = false;
    if (r->err != NET_CLIENT_OK)
        return;
    const proto_offset_fetch_response *rs = r->resp;
    if (rs->error_code != KERR_NONE || rs->topics.n != 1)
        return; /* loading after a restart: asked again later */
    s->g_fetches++;
    for (int i = 0; i < rs->topics.v[0].partitions.n; i++) {
        const proto_offset_fetch_response_offset_fetch_response_partition *pp =
            &rs->topics.v[0].partitions.v[i];
        int p = pp->partition_index;
        if (p < 0 || p >= MAX_PARTS || pp->error_code != KERR_NONE)
            continue;
        W.checks++;
        if (pp->committed_offset != s->g_committed[p]) {
            if (s->g_maybe_lost) {
                s->g_committed[p] = pp->committed_offset;
                continue;
            }
            fail("node %d: group %s partition %d reads back committed offset "
                 "%" PRId64 " but %" PRId64 " was the last acknowledged commit",
                 s->id, GROUP, p, pp->committed_offset, s->g_committed[p]);
        }
    }
    s->g_maybe_lost = false;
}

static void group_step(node_slot *s) {
    if (s->g_busy || !net_client_ready(s->cl))
        return;
    int32_t ok = 0;
    uint64_t what = rng_below(&W.r, 10);
    if (!s->g_found) {
        proto_find_coordinator_request rq;
        proto_find_coordinator_request_init(&rq);
        rq.key = proto_str_c(GROUP);
        rq.key_type = 0;
        ok = net_client_send(s->cl, PROTO_API_FIND_COORDINATOR, 3, &rq, on_find,
                             s);
    } else if (s->g_state == G_IDLE) {
        proto_join_group_request rq;
        proto_join_group_request_init(&rq);
        proto_join_group_request_join_group_request_protocol pr;
        proto_join_group_request_join_group_request_protocol_init(&pr);
        pr.name = proto_str_c("range");
        static const uint8_t meta[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        pr.metadata = (proto_bytes){meta, sizeof meta};
        rq.group_id = proto_str_c(GROUP);
        rq.session_timeout_ms = 30000;
        rq.rebalance_timeout_ms = 30000;
        rq.member_id = proto_str_c(s->g_member);
        rq.protocol_type = proto_str_c("consumer");
        rq.protocols.n = 1;
        rq.protocols.v = &pr;
        ok = net_client_send(s->cl, PROTO_API_JOIN_GROUP, -1, &rq, on_join, s);
    } else if (s->g_state == G_JOINED) {
        proto_sync_group_request rq;
        proto_sync_group_request_init(&rq);
        proto_sync_group_request_sync_group_request_assignment as;
        proto_sync_group_request_sync_group_request_assignment_init(&as);
        as.member_id = proto_str_c(s->g_member);
        static const uint8_t asg[] = {0, 0, 0, 0, 0, 0, 0, 0};
        as.assignment = (proto_bytes){asg, sizeof asg};
        rq.group_id = proto_str_c(GROUP);
        rq.generation_id = s->g_gen;
        rq.member_id = proto_str_c(s->g_member);
        rq.protocol_type = proto_str_c("consumer");
        rq.protocol_name = proto_str_c("range");
        rq.assignments.n = 1;
        rq.assignments.v = &as;
        ok = net_client_send(s->cl, PROTO_API_SYNC_GROUP, -1, &rq, on_sync, s);
    } else if (what < 3) {
        proto_heartbeat_request rq;
        proto_heartbeat_request_init(&rq);
        rq.group_id = proto_str_c(GROUP);
        rq.generation_id = s->g_gen;
        rq.member_id = proto_str_c(s->g_member);
        ok = net_client_send(s->cl, PROTO_API_HEARTBEAT, -1, &rq, on_heartbeat,
                             s);
    } else if (what < 7) {
        int p = (int)rng_below(&W.r, (uint64_t)topics[0].parts);
        int64_t off = (int64_t)rng_below(&W.r, 1000000);
        proto_offset_commit_request rq;
        proto_offset_commit_request_init(&rq);
        proto_offset_commit_request_offset_commit_request_topic t;
        proto_offset_commit_request_offset_commit_request_topic_init(&t);
        proto_offset_commit_request_offset_commit_request_partition pp;
        proto_offset_commit_request_offset_commit_request_partition_init(&pp);
        pp.partition_index = p;
        pp.committed_offset = off;
        pp.committed_metadata = proto_str_c("");
        t.name = proto_str_c(topics[0].name);
        t.partitions.n = 1;
        t.partitions.v = &pp;
        rq.group_id = proto_str_c(GROUP);
        rq.generation_id_or_member_epoch = s->g_gen;
        rq.member_id = proto_str_c(s->g_member);
        rq.topics.n = 1;
        rq.topics.v = &t;
        commit_ctx *cc = xcalloc(1, sizeof *cc);
        *cc = (commit_ctx){s, p, off};
        ok = net_client_send(s->cl, PROTO_API_OFFSET_COMMIT, 8, &rq, on_commit,
                             cc);
        if (ok <= 0)
            free(cc);
    } else {
        proto_offset_fetch_request rq;
        proto_offset_fetch_request_init(&rq);
        proto_offset_fetch_request_offset_fetch_request_topic t;
        proto_offset_fetch_request_offset_fetch_request_topic_init(&t);
        int32_t ps[MAX_PARTS];
        for (int i = 0; i < topics[0].parts; i++)
            ps[i] = i;
        t.name = proto_str_c(topics[0].name);
        t.partition_indexes.n = topics[0].parts;
        t.partition_indexes.v = ps;
        rq.group_id = proto_str_c(GROUP);
        rq.topics.n = 1;
        rq.topics.v = &t;
        ok = net_client_send(s->cl, PROTO_API_OFFSET_FETCH, 7, &rq,
                             on_offset_fetch, s);
    }
    if (ok > 0) {
        s->g_busy = true;
        W.inflight++;
    }
}

/* ---- transactions
 * ------------------------------------------------------------ One
 * transactional producer per node: InitProducerId, AddPartitionsToTxn,
 * transactional Produce (acks=all), EndTxn commit or abort; a
 * read_committed fetch must never return an aborted transaction's
 * records (after the client-side filter of aborted_transactions). */
enum { X_IDLE, X_READY, X_ADDED, X_PRODUCED };
/* By value id: the status in the low four bits (0 not transactional or
 * unknown, 1 open, 2 committed, 3 aborted), the id of the node whose
 * producer wrote it in the high four. */
static uint8_t *txn_status;
static size_t txn_cap;
static uint8_t *txn_slot(uint64_t v) {
    size_t need = (size_t)v + 1;
    if (need > txn_cap) {
        size_t nc = txn_cap ? txn_cap : 4096;
        while (nc < need)
            nc *= 2;
        txn_status = xrealloc(txn_status, nc);
        memset(txn_status + txn_cap, 0, nc - txn_cap);
        txn_cap = nc;
    }
    return &txn_status[v];
}
static void set_txn_status(uint64_t v, uint8_t st) {
    uint8_t *x = txn_slot(v);
    *x = (uint8_t)((*x & 0xf0) | st);
}
static void set_txn_owner(uint64_t v, int node_id) {
    uint8_t *x = txn_slot(v);
    *x = (uint8_t)((node_id << 4) | (*x & 0x0f));
}
static uint8_t get_txn_status(uint64_t v) {
    return v < txn_cap ? txn_status[v] & 0x0f : TX_NONE;
}

/* A power loss of node s: the outcome of its producer's finished
 * transactions is unknown from here on. Their markers on the data
 * partitions and the coordinator's __transaction_state records are not
 * fsynced (Kafka relies on replication for both), so a marker may be lost
 * while the records survive: a later marker of the same producer id then
 * decides them (an aborted transaction may end up committed). The
 * read_committed check covers the transactions since the node's last
 * power loss. */
static void txn_power_loss(node_slot *s) {
    for (size_t v = 0; v < txn_cap; v++)
        if ((txn_status[v] >> 4) == s->id)
            txn_status[v] = (uint8_t)((s->id << 4) | TX_NONE);
}

static void x_fail(node_slot *s) {
    for (int i = 0; i < s->x_nvals; i++)
        set_txn_status(s->x_vals[i], TX_NONE); /* unknown outcome */
    s->x_nvals = 0;
    s->x_state = X_IDLE;
}

static void on_init_pid(net_client *c, const net_client_result *r, void *ctx) {
    (void)c;
    node_slot *s = ctx;
    W.inflight--;
    s->x_busy = false;
    if (r->err != NET_CLIENT_OK)
        return;
    const proto_init_producer_id_response *rs = r->resp;
    if (rs->error_code != KERR_NONE)
        return; /* loading, concurrent transactions: again later */
    s->x_pid = rs->producer_id;
    s->x_epoch = rs->producer_epoch;
    if (verbose)
        printf("  node %d: InitProducerId: pid %" PRId64 " epoch %d\n", s->id,
               s->x_pid, s->x_epoch);
    memset(s->x_seq, 0, sizeof s->x_seq);
    s->x_state = X_READY;
}

static void on_add_parts(net_client *c, const net_client_result *r, void *ctx) {
    (void)c;
    node_slot *s = ctx;
    W.inflight--;
    s->x_busy = false;
    if (r->err != NET_CLIENT_OK) {
        x_fail(s);
        return;
    }
    const proto_add_partitions_to_txn_response *rs = r->resp;
    int16_t e = KERR_UNKNOWN_SERVER_ERROR;
    if (rs->results_by_topic_v3_and_below.n == 1 &&
        rs->results_by_topic_v3_and_below.v[0].results_by_partition.n == 1)
        e = rs->results_by_topic_v3_and_below.v[0]
                .results_by_partition.v[0]
                .partition_error_code;
    if (e == KERR_NONE)
        s->x_state = X_ADDED;
    else
        x_fail(s);
}

typedef struct txp_ctx {
    node_slot *s;
    int count;
    uint64_t first;
} txp_ctx;

static void on_txn_produce(net_client *c, const net_client_result *r,
                           void *ctx) {
    (void)c;
    txp_ctx *tc = ctx;
    node_slot *s = tc->s;
    W.inflight--;
    s->x_busy = false;
    int16_t e = KERR_UNKNOWN_SERVER_ERROR;
    int64_t base = -1;
    if (r->err == NET_CLIENT_OK) {
        const proto_produce_response *rs = r->resp;
        if (rs->responses.n == 1 &&
            rs->responses.v[0].partition_responses.n == 1) {
            e = rs->responses.v[0].partition_responses.v[0].error_code;
            base = rs->responses.v[0].partition_responses.v[0].base_offset;
        }
    }
    if (verbose)
        printf("  node %d: txn produce pid %" PRId64 " epoch %d %s-%d: %s at "
               "%" PRId64 " (%d records)\n",
               s->id, s->x_pid, s->x_epoch, topics[0].name, s->x_part,
               r->err ? net_client_strerror(r->err) : proto_error_name(e), base,
               tc->count);
    if (e == KERR_NONE) {
        s->x_seq[s->x_part] += tc->count;
        for (int i = 0; i < tc->count; i++)
            model_ack(s, 0, s->x_part, base + i, tc->first + (uint64_t)i, true);
        s->x_state = X_PRODUCED;
    } else {
        x_fail(s);
    }
    free(tc);
}

typedef struct end_ctx {
    node_slot *s;
    bool commit;
} end_ctx;

static void on_end_txn(net_client *c, const net_client_result *r, void *ctx) {
    (void)c;
    end_ctx *ec = ctx;
    node_slot *s = ec->s;
    W.inflight--;
    s->x_busy = false;
    const proto_end_txn_response *rs = r->err == NET_CLIENT_OK ? r->resp : NULL;
    if (verbose)
        printf("  node %d: EndTxn(%s) pid %" PRId64 " epoch %d: %s\n", s->id,
               ec->commit ? "commit" : "abort", s->x_pid, s->x_epoch,
               rs ? proto_error_name(rs->error_code)
                  : net_client_strerror(r->err));
    if (rs && rs->error_code == KERR_NONE) {
        for (int i = 0; i < s->x_nvals; i++)
            set_txn_status(s->x_vals[i],
                           ec->commit ? TX_COMMITTED : TX_ABORTED);
        s->x_nvals = 0;
        if (ec->commit)
            s->x_commits++;
        else
            s->x_aborts++;
        s->x_state = X_READY;
    } else {
        x_fail(s);
    }
    free(ec);
}

static void txn_step(node_slot *s) {
    if (s->x_busy || !net_client_ready(s->cl))
        return;
    char tid[32];
    snprintf(tid, sizeof tid, "sim-tx-%d-%d", s->id, s->x_gen);
    int32_t ok = 0;
    if (s->x_state == X_IDLE) {
        proto_init_producer_id_request rq;
        proto_init_producer_id_request_init(&rq);
        rq.transactional_id = proto_str_c(tid);
        rq.transaction_timeout_ms = 60000;
        ok = net_client_send(s->cl, PROTO_API_INIT_PRODUCER_ID, 4, &rq,
                             on_init_pid, s);
    } else if (s->x_state == X_READY) {
        s->x_part = (int)rng_below(&W.r, (uint64_t)topics[0].parts);
        proto_add_partitions_to_txn_request rq;
        proto_add_partitions_to_txn_request_init(&rq);
        proto_add_partitions_to_txn_request_add_partitions_to_txn_topic t;
        proto_add_partitions_to_txn_request_add_partitions_to_txn_topic_init(
            &t);
        int32_t part = s->x_part;
        t.name = proto_str_c(topics[0].name);
        t.partitions.n = 1;
        t.partitions.v = &part;
        rq.v3_and_below_transactional_id = proto_str_c(tid);
        rq.v3_and_below_producer_id = s->x_pid;
        rq.v3_and_below_producer_epoch = s->x_epoch;
        rq.v3_and_below_topics.n = 1;
        rq.v3_and_below_topics.v = &t;
        ok = net_client_send(s->cl, PROTO_API_ADD_PARTITIONS_TO_TXN, 3, &rq,
                             on_add_parts, s);
    } else if (s->x_state == X_ADDED ||
               (s->x_state == X_PRODUCED && rng_below(&W.r, 2) &&
                s->x_nvals < 48)) {
        int count = 1 + (int)rng_below(&W.r, 3);
        batch_builder b;
        batch_builder_init(&b, 0, 0);
        batch_builder_set_producer(&b, s->x_pid, s->x_epoch,
                                   s->x_seq[s->x_part]);
        batch_builder_set_transactional(&b, true);
        uint64_t first = W.next_val;
        for (int i = 0; i < count; i++) {
            char v[32];
            set_txn_owner(W.next_val, s->id);
            set_txn_status(W.next_val, TX_OPEN);
            s->x_vals[s->x_nvals++] = W.next_val;
            val_text(W.next_val++, v, sizeof v);
            batch_builder_add(&b, node_wall(s), NULL, -1, v, 20, NULL, 0);
        }
        buf rec;
        buf_init(&rec, 256);
        batch_builder_finish(&b, &rec);
        batch_builder_free(&b);
        proto_produce_request rq;
        proto_produce_request_init(&rq);
        proto_produce_request_topic_produce_data td;
        proto_produce_request_topic_produce_data_init(&td);
        proto_produce_request_partition_produce_data pd;
        proto_produce_request_partition_produce_data_init(&pd);
        pd.index = s->x_part;
        pd.records = (proto_bytes){rec.data, (int32_t)rec.len};
        td.name = proto_str_c(topics[0].name);
        td.partition_data.n = 1;
        td.partition_data.v = &pd;
        rq.transactional_id = proto_str_c(tid);
        rq.acks = -1;
        rq.timeout_ms = 30000;
        rq.topic_data.n = 1;
        rq.topic_data.v = &td;
        txp_ctx *tc = xcalloc(1, sizeof *tc);
        *tc = (txp_ctx){s, count, first};
        ok = net_client_send(s->cl, PROTO_API_PRODUCE, 12, &rq, on_txn_produce,
                             tc);
        if (ok <= 0)
            free(tc);
        else
            W.produced += count;
        buf_free(&rec);
    } else if (s->x_state == X_PRODUCED) {
        proto_end_txn_request rq;
        proto_end_txn_request_init(&rq);
        end_ctx *ec = xcalloc(1, sizeof *ec);
        ec->s = s;
        ec->commit = rng_below(&W.r, 10) < 7;
        rq.transactional_id = proto_str_c(tid);
        rq.producer_id = s->x_pid;
        rq.producer_epoch = s->x_epoch;
        rq.committed = ec->commit;
        ok = net_client_send(s->cl, PROTO_API_END_TXN, 4, &rq, on_end_txn, ec);
        if (ok <= 0)
            free(ec);
    }
    if (ok > 0) {
        s->x_busy = true;
        W.inflight++;
    }
}

/* ---- topics ------------------------------------------------------------- */
static void on_created(net_client *c, const net_client_result *r, void *ctx) {
    (void)c;
    node_slot *s = ctx;
    W.inflight--;
    if (r->err != NET_CLIENT_OK)
        return;
    const proto_create_topics_response *rs = r->resp;
    bool ok = true;
    for (int i = 0; i < rs->topics.n; i++)
        ok &= rs->topics.v[i].error_code == KERR_NONE ||
              rs->topics.v[i].error_code == KERR_TOPIC_ALREADY_EXISTS;
    s->topics_made = ok;
}

static void make_topics(node_slot *s) {
    proto_create_topics_request rq;
    proto_create_topics_request_init(&rq);
    proto_create_topics_request_creatable_topic ct[N_TOPICS];
    proto_create_topics_request_creatable_topic_config cfg;
    proto_create_topics_request_creatable_topic_config_init(&cfg);
    cfg.name = proto_str_c("flush.messages");
    cfg.value = proto_str_c("1");
    for (int i = 0; i < N_TOPICS; i++) {
        proto_create_topics_request_creatable_topic_init(&ct[i]);
        ct[i].name = proto_str_c(topics[i].name);
        ct[i].num_partitions = topics[i].parts;
        ct[i].replication_factor = 1;
        if (topics[i].durable) {
            ct[i].configs.n = 1;
            ct[i].configs.v = &cfg;
        }
    }
    rq.topics.n = N_TOPICS;
    rq.topics.v = ct;
    rq.timeout_ms = 30000;
    if (net_client_send(s->cl, PROTO_API_CREATE_TOPICS, -1, &rq, on_created,
                        s) > 0)
        W.inflight++;
}

/* ---- nodes -------------------------------------------------------------- */
static void client_connect(node_slot *s) {
    net_client_opts o = {.host = s->host,
                         .port = 9092,
                         .client_id = "sim",
                         .request_timeout_ms = 10000,
                         .reconnect_backoff_ms = 50,
                         .reconnect_backoff_max_ms = 500,
                         .max_in_flight = 5};
    s->cl = net_client_new(W.cli, &o);
}

static void node_crash(node_slot *s, bool power);
static void node_crashed(node_slot *s, bool power);

/* Starts the node; false if a fault point fired during the start-up (it
 * crashed there and restarts later). */
static bool node_start(node_slot *s) {
    char err[512];
    static const char *const extra[] = {
        /* segments roll often (by time: log.segment.bytes may not go
         * below 1 MiB): more segments to recover */
        "log.roll.ms=2000",
        "group.initial.rebalance.delay.ms=0",
        NULL,
    };
    s->dying = false;
    s->node = sim_node_start(&s->env, s->id, s->host, extra, err, sizeof err);
    s->starts++;
    for (int t = 0; t < N_TOPICS; t++)
        for (int p = 0; p < MAX_PARTS; p++)
            s->parts[t][p].hw_seen = 0;
    if (s->dying) { /* a fault point fired in the start-up (recovery) */
        if (s->node)
            node_crash(s, s->dying_power);
        else
            node_crashed(s, s->dying_power);
        return false;
    }
    if (!s->node)
        fail("node %d did not start: %s", s->id, err);
    return true;
}

/* Verifies, after a restart, what survived against the model; after a
 * power loss the unflushed acknowledgements of non-durable topics may be
 * gone (counted, and dropped from the model). */
static void check_logs_full(node_slot *s, bool power_loss);

static void node_crash(node_slot *s, bool power) {
    if (!s->node)
        return;
    if (verbose)
        printf("  node %d: %s\n", s->id, power ? "power loss" : "kill -9");
    /* The process is gone at this instant: nothing it would still do
     * (the shutdown's flushes, checkpoints, the clean-shutdown marker,
     * responses) may reach the disk or the network. */
    crashfs_cut_after(s->fs, 0);
    simnet_host_crash(W.net, s->host);
    sim_node_abandon(s->node);
    s->node = NULL;
    node_crashed(s, power);
}

/* What a crash leaves: the disk (power loss or kill) and the workload's
 * view of the node. */
static void node_crashed(node_slot *s, bool power) {
    if (power) {
        crashfs_crash(s->fs, rng_next(&W.r));
        s->power_losses++;
    } else {
        crashfs_kill(s->fs);
        s->kills++;
    }
    s->dying = false;
    s->down_until = W.now + 50000000 + (int64_t)rng_below(&W.r, 500000000);
    s->power_loss_pending |= power; /* until a start checked it */
    s->g_state = G_IDLE;
    s->g_found = false;
    s->g_busy = false;
    if (power) {
        s->g_maybe_lost = true;
        txn_power_loss(s);
        s->x_gen++;
    }
    x_fail(s);
    s->x_busy = false;
}

typedef struct content_check {
    node_slot *s;
    int t, p;
    int64_t *seen_off;
    uint64_t *seen_val;
    int n, cap;
    int64_t next; /* 1 + last offset of the batches walked */
} content_check;

static void collect(void *arg, const log_batch_header *h, const log_record *r) {
    content_check *x = arg;
    if (batch_last_offset(h) + 1 > x->next)
        x->next = batch_last_offset(h) + 1;
    if (!r)
        return;
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 256;
        x->seen_off = xrealloc(x->seen_off, (size_t)x->cap * sizeof(int64_t));
        x->seen_val = xrealloc(x->seen_val, (size_t)x->cap * sizeof(uint64_t));
    }
    uint64_t v = UINT64_MAX;
    if (!val_parse(r->value, r->value_len, &v))
        fail("node %d %s-%d: offset %" PRId64 " holds a value never produced",
             x->s->id, topics[x->t].name, x->p, r->offset);
    x->seen_off[x->n] = r->offset;
    x->seen_val[x->n] = v;
    x->n++;
}

/* Reads the whole log of a partition through the log API (pread of the
 * env's file system) into x. */
static void read_log(node_slot *s, log_partition *lp, content_check *x) {
    int64_t off = log_start_offset(lp), end = log_end_offset(lp);
    while (off < end) {
        log_read_result rr;
        int16_t e = log_read(lp, off, 1 << 20, -1, true, &rr);
        if (e != KERR_NONE)
            fail("node %d %s: log_read at %" PRId64 ": %s", s->id,
                 log_topic(lp), off, proto_error_name(e));
        if (rr.len == 0) {
            log_read_release(&rr);
            break;
        }
        uint8_t *b = xmalloc((size_t)rr.len);
        ssize_t got = log_read_pread(&rr, b, (size_t)rr.len, rr.file_pos);
        log_read_release(&rr);
        if (got != (ssize_t)rr.len)
            fail("node %d %s: short pread", s->id, log_topic(lp));
        int nb = walk_batches(b, (size_t)got, collect, x);
        free(b);
        if (nb == 0 || x->next <= off)
            fail("node %d %s: no whole batch at offset %" PRId64
                 " below the log end %" PRId64,
                 s->id, log_topic(lp), off, end);
        off = x->next;
    }
}

static void check_logs_full(node_slot *s, bool power_loss) {
    log_manager *mgr = sim_node_logs(s->node);
    if (!mgr)
        return;
    for (int t = 0; t < N_TOPICS; t++)
        for (int p = 0; p < topics[t].parts; p++) {
            part_model *m = &s->parts[t][p];
            log_partition *lp = log_get(mgr, topics[t].name, p);
            if (!lp) {
                if (m->n && (!power_loss || topics[t].durable))
                    fail("node %d %s-%d: the partition is gone with %d "
                         "acknowledged records",
                         s->id, topics[t].name, p, m->n);
                m->n = 0;
                m->acked_end = 0;
                continue;
            }
            content_check x = {.s = s, .t = t, .p = p};
            read_log(s, lp, &x);
            W.checks++;
            /* every acknowledged record at its offset, with its value */
            int j = 0, keep = 0;
            for (int i = 0; i < m->n; i++) {
                ack a = m->acks[i];
                while (j < x.n && x.seen_off[j] < a.offset)
                    j++;
                bool there = j < x.n && x.seen_off[j] == a.offset;
                if (there && x.seen_val[j] != a.val)
                    fail("node %d %s-%d: offset %" PRId64 " holds %" PRIx64
                         " but %" PRIx64 " was acknowledged there%s",
                         s->id, topics[t].name, p, a.offset, x.seen_val[j],
                         a.val, power_loss ? " (after a power loss)" : "");
                if (!there) {
                    if (!power_loss || topics[t].durable)
                        fail("node %d %s-%d: acknowledged offset %" PRId64
                             " (acks=%s) is lost%s",
                             s->id, topics[t].name, p, a.offset,
                             a.all ? "all" : "1",
                             power_loss ? " after a power loss although "
                                          "flushed before the ack"
                                        : " after a restart");
                    W.lost_unflushed++;
                    continue;
                }
                m->acks[keep++] = a;
            }
            m->n = keep;
            m->acked_end = keep ? m->acks[keep - 1].offset + 1 : 0;
            if (power_loss && log_end_offset(lp) < m->acked_end)
                fail("node %d %s-%d: LEO below an acknowledged offset", s->id,
                     topics[t].name, p);
            free(x.seen_off);
            free(x.seen_val);
        }
}

/* Cheap checks after every step. */
static void check_step(node_slot *s) {
    log_manager *mgr = sim_node_logs(s->node);
    if (!mgr)
        return;
    for (int t = 0; t < N_TOPICS; t++)
        for (int p = 0; p < topics[t].parts; p++) {
            part_model *m = &s->parts[t][p];
            log_partition *lp = log_get(mgr, topics[t].name, p);
            if (!lp)
                continue;
            int64_t hw = log_high_watermark(lp), leo = log_end_offset(lp);
            W.checks++;
            if (hw < m->hw_seen)
                fail("node %d %s-%d: high watermark went back from %" PRId64
                     " to %" PRId64,
                     s->id, topics[t].name, p, m->hw_seen, hw);
            m->hw_seen = hw;
            if (hw > leo)
                fail("node %d %s-%d: high watermark %" PRId64
                     " above the log end %" PRId64,
                     s->id, topics[t].name, p, hw, leo);
            if (leo < m->acked_end)
                fail("node %d %s-%d: log end %" PRId64
                     " below acknowledged offset %" PRId64,
                     s->id, topics[t].name, p, leo, m->acked_end - 1);
            for (int i = m->n - 1; i >= 0 && i >= m->n - 8; i--)
                if (m->acks[i].all && m->acks[i].offset >= hw)
                    fail("node %d %s-%d: acks=all acknowledged offset %" PRId64
                         " is not below the high watermark %" PRId64,
                         s->id, topics[t].name, p, m->acks[i].offset, hw);
        }
}

/* Replica logs agree below the high watermark: every pair of replicas of a
 * partition. Each partition has one replica today (nodes are separate
 * clusters), so this compares nothing yet; it is the check replication
 * will have to pass. */
static void check_replicas(void) {
    /* replicas of (topic, partition) are the live nodes hosting it in the
     * same cluster: none share a cluster today */
}

/* ---- the world ---------------------------------------------------------- */
static void run_for(int64_t ns) {
    int64_t end = W.now + ns;
    for (int guard = 0; guard < 100000; guard++) {
        for (int i = 0; i < n_nodes; i++) {
            node_slot *s = &W.nodes[i];
            if (s->node)
                sim_node_poll(s->node);
            if (s->dying) /* a fault point (power loss or SIGKILL), or
                             _exit after a fatal error */
                node_crash(s, s->dying_power);
        }
        net_loop_poll(W.cli, 0);
        int64_t step = simnet_next_event_ns(W.net);
        step = step == INT64_MAX ? INT64_MAX : step - W.now;
        step = SL_MIN(step, net_loop_timer_due_in_ns(W.cli));
        for (int i = 0; i < n_nodes; i++)
            if (W.nodes[i].node)
                step = SL_MIN(step, sim_node_due_in_ns(W.nodes[i].node));
        if (W.now >= end)
            return;
        if (step > end - W.now)
            step = end - W.now;
        if (step > 0)
            W.now += step;
    }
    fail("the world does not settle (a loop keeps itself busy at t=%" PRId64
         ")",
         W.now);
}

static void restart_due(void) {
    for (int i = 0; i < n_nodes; i++) {
        node_slot *s = &W.nodes[i];
        if (s->node || W.now < s->down_until)
            continue;
        if (!node_start(s))
            continue;
        check_logs_full(s, s->power_loss_pending);
        s->power_loss_pending = false;
    }
}

/* A clean shutdown (flush, checkpoints, the clean-shutdown marker), then a
 * power loss, then a start: a clean shutdown makes everything durable, so
 * nothing acknowledged may be lost, on any topic. */
static void node_restart_clean(node_slot *s) {
    if (!s->node)
        return;
    if (verbose)
        printf("  node %d: clean shutdown, power loss, start\n", s->id);
    sim_node_stop(s->node);
    s->node = NULL;
    crashfs_crash(s->fs, rng_next(&W.r));
    s->g_state = G_IDLE;
    s->g_found = false;
    s->g_busy = false;
    x_fail(s);
    s->x_busy = false;
    s->clean_restarts++;
    if (node_start(s)) {
        check_logs_full(s, s->power_loss_pending);
        s->power_loss_pending = false;
    }
}

static void step_once(void) {
    node_slot *s = &W.nodes[rng_below(&W.r, (uint64_t)n_nodes)];
    uint64_t roll = rng_below(&W.r, 1000);
    if (s->node && !s->topics_made && net_client_ready(s->cl) &&
        W.inflight < 64) {
        make_topics(s);
    } else if (roll < 450) {
        if (s->node && s->topics_made && net_client_ready(s->cl))
            do_produce(s);
    } else if (roll < 750) {
        if (s->node && s->topics_made && net_client_ready(s->cl))
            do_fetch(s);
    } else if (roll < 760) {
        node_crash(s, true);
    } else if (roll < 770) {
        node_crash(s, false);
    } else if (roll < 775) {
        simnet_partition(W.net, "client", s->host);
    } else if (roll < 800) {
        simnet_heal_all(W.net);
    } else if (roll < 803) {
        /* a clock step on one node (NTP) */
        s->skew_ns += (int64_t)rng_below(&W.r, 2000000000);
    } else if (roll < 808) {
        /* a named fault point: the node crashes when it is hit */
        sl_fault_id id = (sl_fault_id)rng_below(&W.r, SL_FAULT_COUNT);
        sl_fault_arm(&s->faults, id, 1 + (int64_t)rng_below(&W.r, 3));
    } else if (roll < 811) {
        node_restart_clean(s);
    } else if (roll < 900) {
        if (s->node && s->topics_made)
            group_step(s);
    } else {
        if (s->node && s->topics_made)
            txn_step(s);
    }
    run_for(1000000 + (int64_t)rng_below(&W.r, 20000000));
    restart_due();
    for (int i = 0; i < n_nodes; i++)
        if (W.nodes[i].node)
            check_step(&W.nodes[i]);
    check_replicas();
}

static void world_init(void) {
    W.now = 1000000000;
    rng_seed(&W.r, seed);
    W.net = simnet_new(rng_next(&W.r), &W.now);
    simnet_set_delay(W.net, 50000, 3000000);
    simnet_set_drop(W.net, 200); /* 0.02% of writes reset a connection */
    W.cli_env = (sl_env){.name = "client",
                         .clock = {cli_mono, cli_wall, NULL},
                         .net = simnet_host(W.net, "client"),
                         .exec = &sl_exec_inline};
    const sl_env *prev = sl_env_enter(&W.cli_env);
    W.cli = net_loop_new();
    sl_env_leave(prev);
    for (int i = 0; i < n_nodes; i++) {
        node_slot *s = &W.nodes[i];
        s->id = i + 1;
        snprintf(s->host, sizeof s->host, "node%d", s->id);
        rng_seed(&s->r, rng_next(&W.r));
        s->fs = crashfs_new();
        s->skew_ns = (int64_t)rng_below(&W.r, 500000000);
        s->faults.on_fire = on_fault;
        s->faults.ctx = s;
        s->env = (sl_env){.name = s->host,
                          .clock = {node_mono, node_wall, s},
                          .rng = &s->r,
                          .fs = crashfs_io(s->fs),
                          .exec = &sl_exec_inline,
                          .net = simnet_host(W.net, s->host),
                          .faults = &s->faults,
                          .halt = on_halt,
                          .halt_ctx = s};
        for (int p = 0; p < MAX_PARTS; p++)
            s->g_committed[p] = -1;
        node_start(s);
        client_connect(s);
    }
}

static void world_free(void) {
    for (int i = 0; i < n_nodes; i++) {
        node_slot *s = &W.nodes[i];
        net_client_free(s->cl);
    }
    run_for(1000000);
    for (int i = 0; i < n_nodes; i++) {
        node_slot *s = &W.nodes[i];
        if (s->node) {
            sim_node_stop(s->node);
            s->node = NULL;
        }
        for (int t = 0; t < N_TOPICS; t++)
            for (int p = 0; p < MAX_PARTS; p++)
                free(s->parts[t][p].acks);
        crashfs_free(s->fs);
    }
    net_loop_free(W.cli);
    simnet_free(W.net);
}

static void usage(void) {
    fprintf(stderr, "usage: %s [--seed N] [--steps N] [--nodes N] [-v]\n",
            argv0);
    exit(1);
}

int main(int argc, char **argv) {
    argv0 = argv[0];
    seed = (uint64_t)time(NULL);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = strtoll(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--nodes") && i + 1 < argc)
            n_nodes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-v"))
            verbose++;
        else
            usage();
    }
    if (n_nodes < 1 || n_nodes > MAX_NODES)
        usage();
    sl_log_set_level(verbose > 1 ? SL_LOG_INFO : SL_LOG_ERROR);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    world_init();
    for (cur_step = 0; cur_step < steps; cur_step++)
        step_once();
    /* The end: every node restarts once more from a kill, and everything
     * acknowledged must be there. */
    for (int i = 0; i < n_nodes; i++) {
        node_slot *s = &W.nodes[i];
        sl_fault_reset(&s->faults);
        if (s->node)
            node_crash(s, false);
        s->down_until = W.now;
    }
    restart_due();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) +
                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    int64_t starts = 0, kills = 0, powers = 0, faults = 0, cleans = 0;
    int64_t joins = 0, commits = 0, ofetches = 0, txc = 0, txa = 0;
    for (int i = 0; i < n_nodes; i++) {
        node_slot *s = &W.nodes[i];
        starts += s->starts;
        kills += s->kills;
        powers += s->power_losses;
        faults += s->faults_fired;
        cleans += s->clean_restarts;
        joins += s->g_joins;
        commits += s->g_commits;
        ofetches += s->g_fetches;
        txc += s->x_commits;
        txa += s->x_aborts;
    }
    simnet_stats ns;
    simnet_get_stats(W.net, &ns);
    printf("sim seed %" PRIu64 ": %" PRId64 " steps, %d node(s), %.1fs "
           "simulated in %.2fs (%.0f steps/s); produced %" PRId64
           ", acknowledged %" PRId64 " (%" PRId64 " acks=all), fetches %" PRId64
           " (%" PRId64 " records checked), %" PRId64 " starts, %" PRId64
           " kills, %" PRId64 " power losses (%" PRId64
           " unflushed acks lost, as Kafka without replicas), %" PRId64
           " clean restarts, %" PRId64 " fault points fired; groups: %" PRId64
           " joins, %" PRId64 " commits, %" PRId64
           " offset fetches; transactions: %" PRId64 " committed, %" PRId64
           " aborted; network %" PRId64 " segments, %" PRId64 " drops; %" PRId64
           " checks passed\n",
           seed, steps, n_nodes, (double)(W.now - 1000000000) / 1e9, secs,
           (double)steps / secs, W.produced, W.acked, W.acked_all, W.fetches,
           W.fetched_records, starts, kills, powers, W.lost_unflushed, cleans,
           faults, joins, commits, ofetches, txc, txa, ns.segments, ns.drops,
           W.checks);
    /* The replay check: the same seed must end in the same state (every
     * node's files, byte for byte, and the model's figures). */
    uint64_t digest = 14695981039346656037ULL;
    for (int i = 0; i < n_nodes; i++)
        digest = (digest ^ crashfs_digest(W.nodes[i].fs)) * 1099511628211ULL;
    digest = (digest ^ (uint64_t)W.acked ^ ((uint64_t)W.checks << 20)) *
             1099511628211ULL;
    printf("sim seed %" PRIu64 " digest %016" PRIx64 "\n", seed, digest);
    world_free();
    return 0;
}
