/*
 * quorum_log.c - the ctl_log of a node in a KRaft quorum (ctl_log.h): the
 * controller's records go through the Raft leader (raft_node_propose), and
 * "durable" means committed: below the quorum's high watermark and handed
 * to the controller, which applies every committed record in log order
 * through the committed() op (its own and the ones other leaders wrote), so
 * a follower's image is the replay of the committed log, as Kafka's
 * MetadataLoader builds it.
 *
 * Keeps: `applied` (the offset after the last record handed over) only
 * moves forward and never passes the high watermark; an append made in an
 * epoch that is over when it was not yet committed is failed with
 * NOT_CONTROLLER (Kafka's QuorumController renounce: the client retries on
 * the new active controller), even if the new leader later commits it (it
 * is then applied from the log like any other record).
 *
 * Snapshots (Kafka's SnapshotGenerator, on every node): once the committed
 * records applied since the latest snapshot reach
 * metadata.log.max.record.bytes.between.snapshots (counted as record value
 * bytes), or metadata.log.max.snapshot.interval.ms passed with some
 * applied, the image (which is exactly the replay of the committed log up
 * to `applied`) is written out (cl_image_dump) as snapshot
 * (applied, epoch of the batch before it) and handed to the raft node,
 * which writes the file off the loop. At start-up replay() loads the
 * latest snapshot and the log after it follows through committed(); when
 * the node installed a leader's snapshot past what was applied (the log no
 * longer holds the records in between), committed() replaces the image:
 * the removals of what the snapshot lacks, then its records.
 * Threading: loop thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "cluster/image.h"
#include "controller/ctl_log.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "proto/errors.h"
#include "raft/raft_node.h"
#include "raft/snapshot.h"

typedef struct quorum_log {
    ctl_log base;
    raft_node *rn;
    int64_t applied;
    bool pending;  /* own appends not yet reported committed */
    int32_t epoch; /* the epoch they were made in */
    int64_t last;  /* offset of the last one */
    /* snapshots */
    cl_image *image;
    ctl_snapshot_opts so;
    int64_t bytes_since; /* record bytes applied since the latest snapshot */
    int64_t last_snap_ms;
} quorum_log;

/* Kafka's QuorumController claims leadership only once the listener has
 * read up to the leader's epoch start: everything committed in earlier
 * epochs is applied, so validation sees the latest state. */
static bool ql_active(ctl_log *l) {
    quorum_log *q = (quorum_log *)l;
    raft_info in;
    raft_node_info(q->rn, &in);
    return in.role == RAFT_LEADER && q->applied >= in.epoch_start_offset;
}

static int16_t ql_append(ctl_log *l, const buf *values, int n, int64_t *last) {
    quorum_log *q = (quorum_log *)l;
    raft_info in;
    raft_node_info(q->rn, &in);
    if (!ql_active(l))
        return KERR_NOT_CONTROLLER;
    int16_t e = raft_node_propose(q->rn, values, n, last);
    if (e)
        return KERR_NOT_CONTROLLER;
    q->pending = true;
    q->epoch = in.epoch;
    q->last = *last;
    return KERR_NONE;
}

static int16_t ql_durable(ctl_log *l, int64_t *end) {
    quorum_log *q = (quorum_log *)l;
    if (raft_node_failed(q->rn))
        return KERR_KAFKA_STORAGE_ERROR;
    *end = q->applied;
    if (q->pending && q->last < q->applied)
        q->pending = false;
    if (q->pending) {
        raft_info in;
        raft_node_info(q->rn, &in);
        if (in.role != RAFT_LEADER || in.epoch != q->epoch) {
            q->pending = false;
            return KERR_NOT_CONTROLLER; /* below *end: committed */
        }
    }
    return KERR_NONE;
}

static int16_t ql_sync(ctl_log *l) {
    (void)l;
    return KERR_NOT_CONTROLLER; /* a quorum commits on the loop only */
}

/* Snapshot records go to fn at the offset before the snapshot's end (the
 * image's offset is then the last record the snapshot contains). */
typedef struct snap_feed {
    ctl_replay_fn fn;
    void *arg;
    int64_t offset;
    cl_image *scratch;
    int64_t n;
} snap_feed;

static void feed_rec(void *arg, const uint8_t *v, size_t len, int64_t off) {
    (void)off;
    snap_feed *f = arg;
    f->fn(f->arg, v, len, f->offset);
    f->n++;
}

static void feed_sink(void *arg, const uint8_t *v, size_t len) {
    feed_rec(arg, v, len, 0);
}

static void scratch_rec(void *arg, const uint8_t *v, size_t len, int64_t off) {
    (void)off;
    snap_feed *f = arg;
    if (!cl_image_apply(f->scratch, v, len))
        SL_WARN("controller", "a snapshot record does not decode");
}

static int ql_replay(ctl_log *l, ctl_replay_fn fn, void *arg, char *err,
                     size_t errlen) {
    quorum_log *q = (quorum_log *)l;
    q->last_snap_ms = clk_mono_ms();
    raft_oe s = raft_node_latest_snapshot(q->rn);
    if (s.offset <= 0)
        return 0; /* the image follows the high watermark (committed()) */
    snap_feed f = {fn, arg, s.offset - 1, NULL, 0};
    if (raft_node_snapshot_records(q->rn, s, feed_rec, &f, err, errlen) < 0)
        return -1;
    q->applied = s.offset;
    SL_INFO("controller",
            "loaded metadata snapshot %lld-%d (%lld records); the log "
            "follows from offset %lld",
            (long long)s.offset, s.epoch, (long long)f.n, (long long)s.offset);
    return 0;
}

/* The node installed a snapshot past what we applied: the image becomes
 * the snapshot's (removals first, then its records). */
static void load_installed(quorum_log *q, raft_oe s, ctl_replay_fn fn,
                           void *arg) {
    char err[256];
    snap_feed f = {fn, arg, s.offset - 1, cl_image_new(), 0};
    if (raft_node_snapshot_records(q->rn, s, scratch_rec, &f, err, sizeof err) <
        0) {
        SL_ERROR("controller", "cannot load the installed %s", err);
        cl_image_free(f.scratch);
        return;
    }
    if (q->image)
        cl_image_diff_removals(q->image, f.scratch, feed_sink, &f);
    cl_image_dump(f.scratch, feed_sink, &f);
    cl_image_free(f.scratch);
    SL_INFO("controller",
            "metadata image replaced by the leader's snapshot %lld-%d (%lld "
            "records applied, was at %lld)",
            (long long)s.offset, s.epoch, (long long)f.n,
            (long long)q->applied);
    q->applied = s.offset;
    q->bytes_since = 0;
    q->last_snap_ms = clk_mono_ms();
}

typedef struct count_feed {
    ctl_replay_fn fn;
    void *arg;
    int64_t bytes;
} count_feed;

static void count_rec(void *arg, const uint8_t *v, size_t len, int64_t off) {
    count_feed *c = arg;
    c->bytes += (int64_t)len;
    c->fn(c->arg, v, len, off);
}

static void snap_add(void *arg, const uint8_t *v, size_t len) {
    raft_snap_add(arg, v, len);
}

/* SnapshotGenerator: the committed image out as a snapshot, when due. */
static void maybe_snapshot(quorum_log *q) {
    if (!q->image || raft_node_snapshot_busy(q->rn) || q->bytes_since <= 0)
        return;
    int64_t now = clk_mono_ms();
    bool due = (q->so.max_bytes_between > 0 &&
                q->bytes_since >= q->so.max_bytes_between) ||
               (q->so.max_interval_ms > 0 &&
                now - q->last_snap_ms >= q->so.max_interval_ms);
    if (!due)
        return;
    raft_oe latest = raft_node_latest_snapshot(q->rn);
    if (q->applied <= latest.offset)
        return;
    int32_t epoch = raft_node_epoch_at(q->rn, q->applied - 1);
    if (epoch < 0)
        return;
    raft_oe id = {q->applied, epoch};
    raft_snap_builder b;
    raft_snap_begin(&b, id, clk_wall_ms(), clk_wall_ms());
    cl_image_dump(q->image, snap_add, &b);
    raft_snap_finish(&b);
    uint8_t *data = b.out.data;
    size_t len = b.out.len;
    b.out.data = NULL;
    raft_snap_builder_free(&b);
    if (raft_node_snapshot_submit(q->rn, id, data, len)) {
        q->bytes_since = 0;
        q->last_snap_ms = now;
    }
}

static void ql_committed(ctl_log *l, ctl_replay_fn fn, void *arg) {
    quorum_log *q = (quorum_log *)l;
    raft_oe s = raft_node_latest_snapshot(q->rn);
    if (s.offset > q->applied) {
        raft_info in;
        raft_node_info(q->rn, &in);
        if (in.log_start > q->applied)
            load_installed(q, s, fn, arg);
    }
    int64_t next;
    char err[256];
    count_feed c = {fn, arg, 0};
    if (raft_node_committed(q->rn, q->applied, count_rec, &c, &next, err,
                            sizeof err) < 0) {
        SL_ERROR("controller", "cannot read committed metadata: %s", err);
        return;
    }
    if (next > q->applied)
        q->applied = next;
    q->bytes_since += c.bytes;
    maybe_snapshot(q);
}

static void ql_free(ctl_log *l) {
    free(l); /* the raft node belongs to the broker's storage */
}

static const ctl_log_ops quorum_log_ops = {
    .append = ql_append,
    .durable = ql_durable,
    .sync = ql_sync,
    .replay = ql_replay,
    .committed = ql_committed,
    .free = ql_free,
    .active = ql_active,
};

ctl_log *ctl_quorum_log_new(raft_node *rn, struct cl_image *image,
                            const ctl_snapshot_opts *so) {
    quorum_log *q = xcalloc(1, sizeof *q);
    q->base.ops = &quorum_log_ops;
    q->rn = rn;
    q->image = image;
    if (so)
        q->so = *so;
    q->last_snap_ms = clk_mono_ms();
    return &q->base;
}
