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
 * Threading: loop thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "controller/ctl_log.h"
#include "core/log.h"
#include "core/util.h"
#include "proto/errors.h"
#include "raft/raft_node.h"

typedef struct quorum_log {
    ctl_log base;
    raft_node *rn;
    int64_t applied;
    bool pending;  /* own appends not yet reported committed */
    int32_t epoch; /* the epoch they were made in */
    int64_t last;  /* offset of the last one */
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

static int ql_replay(ctl_log *l, ctl_replay_fn fn, void *arg, char *err,
                     size_t errlen) {
    (void)l, (void)fn, (void)arg, (void)err, (void)errlen;
    return 0; /* the image follows the high watermark (committed()) */
}

static void ql_committed(ctl_log *l, ctl_replay_fn fn, void *arg) {
    quorum_log *q = (quorum_log *)l;
    int64_t next;
    char err[256];
    if (raft_node_committed(q->rn, q->applied, fn, arg, &next, err,
                            sizeof err) < 0) {
        SL_ERROR("controller", "cannot read committed metadata: %s", err);
        return;
    }
    if (next > q->applied)
        q->applied = next;
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

ctl_log *ctl_quorum_log_new(raft_node *rn) {
    quorum_log *q = xcalloc(1, sizeof *q);
    q->base.ops = &quorum_log_ops;
    q->rn = rn;
    return &q->base;
}
