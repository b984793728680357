/*
 * log_cleaner.c (broker) - runs the log cleaner (src/log/cleaner.h) inside
 * the broker: a start hook (hooks.def) creates it when log.cleaner.enable is
 * true; it starts log.cleaner.threads worker threads that do the reading,
 * mapping and writing. The loop side (log_cleaner_step: pick the dirtiest
 * log, swap finished groups into the log, reap passes) runs on this loop,
 * from a timer re-armed with the delay the step returns, and as soon as a
 * worker reports something: the worker's notify callback sets a flag and
 * wakes the loop (net_loop_wake, the only net call another thread may
 * make); a before-sleep hook sees the flag and steps. The log.cleaner.*
 * broker configs are re-read at every step, so dynamic changes apply
 * (a new thread count once the running passes end).
 * The cleaner sees the producer state of a partition through the txn layer
 * (last batch of each producer, first unstable offset), on the loop.
 *
 * Ownership: the node's brk_cleaner (brk->cleaner) lives from the start
 * hook until the node is freed (brk_log_cleaner_free); the cleaner in it
 * from the start hook to shutdown (freed before log_manager_close: it cancels
 * running passes, joins the workers, drops their .cleaned files and writes
 * cleaner-offset-checkpoint). Threading: everything here runs on the loop
 * thread except notify().
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "broker/broker.h"
#include "broker/internal.h"
#include "core/log.h"
#include "core/util.h"
#include "log/cleaner.h"
#include "log/log.h"
#include "net/net.h"
#include "txn/txn.h"

/* A node's cleaner (brk->cleaner). */
typedef struct brk_cleaner {
    brk_broker *brk;
    log_cleaner *cleaner;
    uint64_t timer;
    atomic_bool pending; /* a worker asked for a step */
} brk_cleaner;

static struct ps_state *producer_state(void *ctx, log_partition *part) {
    brk_broker *brk = ctx;
    return txn_part_state(brk->txn, part);
}

/* worker threads: must not touch anything but the flag and the wake fd */
static void notify(void *ctx) {
    brk_cleaner *bc = ctx;
    atomic_store(&bc->pending, true);
    net_loop_wake(bc->brk->loop);
}

static void opts_from_config(brk_cleaner *bc, log_cleaner_opts *o) {
    brk_broker *brk = bc->brk;
    log_cleaner_opts_default(o);
    const brk_config *c = brk->cfg;
    o->dedupe_buffer_size =
        brk_cfg_i64(c, BRK_CFG_LOG_CLEANER_DEDUPE_BUFFER_SIZE);
    o->threads = (int)brk_cfg_i64(c, BRK_CFG_LOG_CLEANER_THREADS);
    o->load_factor = c->v[BRK_CFG_LOG_CLEANER_IO_BUFFER_LOAD_FACTOR].d;
    o->backoff_ms = brk_cfg_i64(c, BRK_CFG_LOG_CLEANER_BACKOFF_MS);
    o->io_max_bytes_per_second =
        c->v[BRK_CFG_LOG_CLEANER_IO_MAX_BYTES_PER_SECOND].d;
    o->producer_state = producer_state;
    o->ctx = brk;
    o->notify = notify;
    o->notify_ctx = bc;
}

static void tick(net_loop *loop, void *ctx);

static void step(brk_cleaner *bc) {
    brk_broker *brk = bc->brk;
    if (bc->timer)
        net_timer_cancel(brk->loop, bc->timer);
    bc->timer = 0;
    if (!bc->cleaner || brk->shutting_down || net_loop_stopping(brk->loop))
        return;
    atomic_store(&bc->pending, false);
    log_cleaner_opts o;
    opts_from_config(bc, &o);
    log_cleaner_set_opts(bc->cleaner, &o);
    int64_t delay = log_cleaner_step(bc->cleaner);
    bc->timer = net_timer_add(brk->loop, delay < 1 ? 1 : delay, tick, bc);
}

static void tick(net_loop *loop, void *ctx) {
    SL_UNUSED(loop);
    brk_cleaner *bc = ctx;
    bc->timer = 0;
    step(bc);
}

static void before_sleep(net_loop *loop, void *ctx) {
    SL_UNUSED(loop);
    brk_cleaner *bc = ctx;
    if (bc->cleaner && atomic_load(&bc->pending))
        step(bc);
}

/* Stops and frees the cleaner; the struct itself stays until the node is
 * freed (the before-sleep hook still points at it while the loop drains). */
static void on_shutdown(brk_broker *brk, void *ctx) {
    brk_cleaner *bc = ctx;
    if (bc->timer)
        net_timer_cancel(brk->loop, bc->timer);
    bc->timer = 0;
    log_cleaner_free(bc->cleaner);
    bc->cleaner = NULL;
}

bool brk_log_cleaner_cleaning(const brk_broker *brk,
                              const log_partition *part) {
    return brk->cleaner && brk->cleaner->cleaner &&
           log_cleaner_cleaning(brk->cleaner->cleaner, part);
}

void log_cleaner_start(brk_broker *brk) {
    if (!brk->logs || !brk_cfg_bool(brk->cfg, BRK_CFG_LOG_CLEANER_ENABLE))
        return;
    brk_cleaner *bc = xcalloc(1, sizeof *bc);
    bc->brk = brk;
    atomic_init(&bc->pending, false);
    brk->cleaner = bc;
    log_cleaner_opts o;
    opts_from_config(bc, &o);
    bc->cleaner = log_cleaner_new(brk->logs, &o);
    brk_on_shutdown(brk, on_shutdown, bc);
    net_loop_add_before_sleep(brk->loop, before_sleep, bc);
    bc->timer = net_timer_add(brk->loop, 1000, tick, bc);
}

void brk_log_cleaner_free(brk_broker *brk) {
    if (!brk->cleaner)
        return;
    log_cleaner_free(brk->cleaner->cleaner);
    free(brk->cleaner);
    brk->cleaner = NULL;
}
