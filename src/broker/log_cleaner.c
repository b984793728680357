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
 * Ownership: the cleaner lives from the start hook to shutdown (freed before
 * log_manager_close: it cancels running passes, joins the workers, drops
 * their .cleaned files and writes cleaner-offset-checkpoint).
 * Threading: everything here runs on the loop thread except notify().
 */
#include <stdatomic.h>

#include "broker/broker.h"
#include "core/log.h"
#include "core/util.h"
#include "log/cleaner.h"
#include "log/log.h"
#include "net/net.h"
#include "txn/txn.h"

static log_cleaner *cleaner;
static uint64_t timer;
static atomic_bool pending; /* a worker asked for a step */

static struct ps_state *producer_state(void *ctx, log_partition *part) {
    return txn_part_state(ctx, part);
}

/* worker threads: must not touch anything but the flag and the wake fd */
static void notify(void *ctx) {
    brk_broker *brk = ctx;
    atomic_store(&pending, true);
    net_loop_wake(brk->loop);
}

static void opts_from_config(brk_broker *brk, log_cleaner_opts *o) {
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
    o->notify_ctx = brk;
}

static void tick(net_loop *loop, void *ctx);

static void step(brk_broker *brk) {
    if (timer)
        net_timer_cancel(brk->loop, timer);
    timer = 0;
    if (!cleaner || brk->shutting_down || net_loop_stopping(brk->loop))
        return;
    atomic_store(&pending, false);
    log_cleaner_opts o;
    opts_from_config(brk, &o);
    log_cleaner_set_opts(cleaner, &o);
    int64_t delay = log_cleaner_step(cleaner);
    timer = net_timer_add(brk->loop, delay < 1 ? 1 : delay, tick, brk);
}

static void tick(net_loop *loop, void *ctx) {
    SL_UNUSED(loop);
    timer = 0;
    step(ctx);
}

static void before_sleep(net_loop *loop, void *ctx) {
    SL_UNUSED(loop);
    if (atomic_load(&pending))
        step(ctx);
}

static void on_shutdown(brk_broker *brk, void *ctx) {
    SL_UNUSED(ctx);
    if (timer)
        net_timer_cancel(brk->loop, timer);
    timer = 0;
    log_cleaner_free(cleaner);
    cleaner = NULL;
}

bool brk_log_cleaner_cleaning(const log_partition *part) {
    return cleaner && log_cleaner_cleaning(cleaner, part);
}

void log_cleaner_start(brk_broker *brk) {
    if (!brk->logs || !brk_cfg_bool(brk->cfg, BRK_CFG_LOG_CLEANER_ENABLE))
        return;
    log_cleaner_opts o;
    opts_from_config(brk, &o);
    cleaner = log_cleaner_new(brk->logs, &o);
    brk_on_shutdown(on_shutdown, NULL);
    net_loop_add_before_sleep(brk->loop, before_sleep, brk);
    timer = net_timer_add(brk->loop, 1000, tick, brk);
}
