/*
 * alter_partition_mgr.c - the partition leader's side of AlterPartition:
 * Kafka's DefaultAlterPartitionManager with its
 * NodeToControllerChannelManager. The replica manager (replica.h,
 * repl_isr_opts.submit) queues one item per partition (a second one for
 * the same partition gets OPERATION_NOT_ATTEMPTED); at most one
 * AlterPartition request is in flight, carrying every queued item, sent to
 * the controller listener of the Raft leader over a net_client (a new
 * leader gets a new connection). Each answered item goes back to the
 * replica manager (repl_isr_result, which may queue it again to retry); a
 * top-level error (NOT_CONTROLLER, STALE_BROKER_EPOCH, a busy controller's
 * REQUEST_TIMED_OUT) or a network error keeps every item queued and sends
 * again after RETRY_MS, as Kafka's manager does.
 *
 * Only in a quorum (a single node has nobody to add to an ISR).
 *
 * Ownership: brk->apm, freed by the shutdown hook (the client first: its
 * callbacks complete inside net_client_free and see the manager closing).
 * Threading: the node's loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "core/log.h"
#include "core/util.h"
#include "net/client.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "raft/raft_node.h"
#include "replica/replica.h"

#define RETRY_MS 50

typedef struct apm_item {
    repl_key key;
    uint64_t seq;
    int32_t leader_epoch, partition_epoch;
    int32_t n_isr;
    int32_t *isr;
    int64_t *epochs;
    bool in_flight; /* part of the request on the wire */
} apm_item;

struct brk_apm {
    brk_broker *brk;
    apm_item *items; /* the queued ones (unsentIsrUpdates) */
    int n, cap;
    bool in_flight;
    bool closing;
    uint64_t timer;
    net_client *c;
    int32_t c_node;
};

static void apm_send(brk_apm *a);

static void item_free(apm_item *it) {
    free(it->isr);
    free(it->epochs);
}

static void item_drop(brk_apm *a, int i) {
    item_free(&a->items[i]);
    a->items[i] = a->items[--a->n];
}

static int item_find(const brk_apm *a, const repl_key *k) {
    for (int i = 0; i < a->n; i++)
        if (a->items[i].key.partition == k->partition &&
            !memcmp(a->items[i].key.topic_id, k->topic_id, 16))
            return i;
    return -1;
}

static void apm_tick(net_loop *loop, void *ctx) {
    (void)loop;
    brk_apm *a = ctx;
    a->timer = 0;
    apm_send(a);
}

static void apm_later(brk_apm *a, int64_t ms) {
    if (a->closing || a->timer || net_loop_stopping(a->brk->loop))
        return;
    a->timer = net_timer_add(a->brk->loop, ms, apm_tick, a);
}

static void on_client_state(net_client *c, bool up, void *ctx) {
    brk_apm *a = ctx;
    if (up && c == a->c && !a->in_flight && a->n > 0)
        apm_later(a, 0);
}

static void drop_client(brk_apm *a) {
    /* an in-flight answer fails now: retried */
    brk_controller_client_drop(&a->c, &a->c_node);
}

/* The client to the active controller (the Raft leader), NULL while there
 * is none. */
static net_client *controller(brk_apm *a) {
    return brk_controller_client(a->brk, &a->c, &a->c_node, "alter-partition",
                                 16 << 20, on_client_state, a);
}

/* The answer for one partition goes back to the replica manager; done
 * with the queue entry first, so a retry can queue it again. */
static void deliver(brk_apm *a, const repl_key *k, int16_t err,
                    const proto_alter_partition_response_partition_data *p) {
    int i = item_find(a, k);
    if (i < 0 || !a->items[i].in_flight)
        return;
    uint64_t seq = a->items[i].seq;
    item_drop(a, i);
    repl_isr_result(a->brk->repl, k, seq, err, p ? p->leader_epoch : -1,
                    p ? p->partition_epoch : -1, p ? p->isr.v : NULL,
                    p ? p->isr.n : 0);
}

static void on_response(net_client *c, const net_client_result *res,
                        void *ctx) {
    (void)c;
    brk_apm *a = ctx;
    a->in_flight = false;
    if (a->closing)
        return;
    int16_t top = KERR_NETWORK_EXCEPTION;
    bool part_err = false;
    if (res->err == NET_CLIENT_OK) {
        const proto_alter_partition_response *rs = res->resp;
        top = rs->error_code;
        if (top == KERR_NONE) {
            for (int32_t t = 0; t < rs->topics.n; t++) {
                const proto_alter_partition_response_topic_data *td =
                    &rs->topics.v[t];
                for (int32_t p = 0; p < td->partitions.n; p++) {
                    const proto_alter_partition_response_partition_data *pd =
                        &td->partitions.v[p];
                    repl_key k;
                    memcpy(k.topic_id, td->topic_id.b, 16);
                    k.partition = pd->partition_index;
                    part_err |= pd->error_code != KERR_NONE;
                    deliver(a, &k, pd->error_code, pd->error_code ? NULL : pd);
                }
            }
        } else {
            SL_WARN("isr",
                    "[AlterPartitionManager id=%d] Controller returned an "
                    "unexpected top-level error when handling AlterPartition "
                    "request: %s",
                    a->brk->node_id, proto_error_name(top));
        }
    }
    for (int i = 0; i < a->n; i++) /* not answered: sent again */
        a->items[i].in_flight = false;
    if (a->n > 0)
        apm_later(a, top == KERR_NONE && !part_err ? 0 : RETRY_MS);
}

static void apm_send(brk_apm *a) {
    brk_broker *brk = a->brk;
    if (a->closing || a->in_flight || a->n == 0)
        return;
    net_client *c = controller(a);
    if (!c || !net_client_ready(c)) {
        apm_later(a, RETRY_MS); /* no leader yet, or connecting */
        return;
    }
    /* one TopicData per topic id */
    proto_alter_partition_request rq;
    proto_alter_partition_request_init(&rq);
    rq.broker_id = brk->node_id;
    rq.broker_epoch = brk_lm_broker_epoch(brk);
    proto_alter_partition_request_topic_data *tds =
        xcalloc((size_t)a->n, sizeof *tds);
    proto_alter_partition_request_partition_data *pds =
        xcalloc((size_t)a->n, sizeof *pds);
    int total = 0;
    for (int i = 0; i < a->n; i++)
        total += a->items[i].n_isr;
    proto_alter_partition_request_broker_state *sts =
        xcalloc((size_t)(total > 0 ? total : 1), sizeof *sts);
    bool *done = xcalloc((size_t)a->n, sizeof *done);
    int nt = 0, np = 0, ns = 0;
    for (int i = 0; i < a->n; i++) {
        if (done[i])
            continue;
        proto_alter_partition_request_topic_data *td = &tds[nt++];
        proto_alter_partition_request_topic_data_init(td);
        memcpy(td->topic_id.b, a->items[i].key.topic_id, 16);
        td->partitions.v = &pds[np];
        for (int j = i; j < a->n; j++) {
            apm_item *it = &a->items[j];
            if (done[j] || memcmp(it->key.topic_id, td->topic_id.b, 16))
                continue;
            done[j] = true;
            it->in_flight = true;
            proto_alter_partition_request_partition_data *pd = &pds[np++];
            proto_alter_partition_request_partition_data_init(pd);
            pd->partition_index = it->key.partition;
            pd->leader_epoch = it->leader_epoch;
            pd->partition_epoch = it->partition_epoch;
            pd->leader_recovery_state = 0;
            pd->new_isr_with_epochs.v = &sts[ns];
            for (int32_t m = 0; m < it->n_isr; m++) {
                proto_alter_partition_request_broker_state_init(&sts[ns]);
                sts[ns].broker_id = it->isr[m];
                sts[ns].broker_epoch = it->epochs[m];
                ns++;
            }
            pd->new_isr_with_epochs.n = it->n_isr;
            td->partitions.n++;
        }
    }
    rq.topics.n = nt;
    rq.topics.v = tds;
    int32_t rc =
        net_client_send(c, PROTO_API_ALTER_PARTITION, -1, &rq, on_response, a);
    free(tds);
    free(pds);
    free(sts);
    free(done);
    if (rc < 0) {
        SL_WARN("isr",
                "[AlterPartitionManager id=%d] cannot send to the controller "
                "%d: %s",
                brk->node_id, a->c_node, net_client_strerror(rc));
        for (int i = 0; i < a->n; i++)
            a->items[i].in_flight = false;
        apm_later(a, RETRY_MS);
        return;
    }
    a->in_flight = true;
}

/* repl_isr_opts.submit */
static int16_t apm_submit(void *ctx, const repl_isr_change *chg) {
    brk_apm *a = ctx;
    if (a->closing || item_find(a, &chg->key) >= 0)
        return KERR_OPERATION_NOT_ATTEMPTED;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 8;
        a->items = xrealloc(a->items, sizeof *a->items * (size_t)a->cap);
    }
    apm_item *it = &a->items[a->n++];
    memset(it, 0, sizeof *it);
    it->key = chg->key;
    it->seq = chg->seq;
    it->leader_epoch = chg->leader_epoch;
    it->partition_epoch = chg->partition_epoch;
    it->n_isr = chg->n_isr;
    it->isr = xmalloc(sizeof *it->isr * (size_t)(chg->n_isr + 1));
    it->epochs = xmalloc(sizeof *it->epochs * (size_t)(chg->n_isr + 1));
    if (chg->n_isr > 0) {
        memcpy(it->isr, chg->isr, sizeof *it->isr * (size_t)chg->n_isr);
        memcpy(it->epochs, chg->broker_epochs,
               sizeof *it->epochs * (size_t)chg->n_isr);
    }
    if (!a->in_flight)
        apm_later(a, 0); /* never inside submit: repl_isr_result may be
                            on the stack */
    return KERR_NONE;
}

static int64_t apm_broker_epoch(void *ctx) {
    brk_apm *a = ctx;
    return brk_lm_broker_epoch(a->brk);
}

static void apm_on_shutdown(brk_broker *brk, void *ctx) {
    (void)ctx;
    brk_apm *a = brk->apm;
    if (!a)
        return;
    a->closing = true;
    if (brk->repl)
        repl_isr_stop(brk->repl);
    if (a->timer)
        net_timer_cancel(brk->loop, a->timer);
    a->timer = 0;
    if (a->c)
        drop_client(a);
    for (int i = 0; i < a->n; i++)
        item_free(&a->items[i]);
    free(a->items);
    brk->apm = NULL;
    free(a);
}

void brk_apm_start(brk_broker *brk) {
    if (!brk->quorum || !brk->loop || !brk->repl || brk->apm)
        return;
    brk_apm *a = xcalloc(1, sizeof *a);
    a->brk = brk;
    a->c_node = -1;
    brk->apm = a;
    brk_on_shutdown(brk, apm_on_shutdown, NULL);
    repl_isr_opts o = {
        .lag_time_max_ms =
            brk_cfg_i64(brk->cfg, BRK_CFG_REPLICA_LAG_TIME_MAX_MS),
        .image = brk->image,
        .submit = apm_submit,
        .broker_epoch = apm_broker_epoch,
        .ctx = a,
    };
    repl_isr_start(brk->repl, &o);
}
