/*
 * log_cleaner.c (broker) - runs the log cleaner (src/log/cleaner.h) inside
 * the broker: a start hook (hooks.def) creates it when log.cleaner.enable is
 * true and drives it from a loop timer: each tick is one bounded step
 * (cleaner.h explains why there is no background thread), re-armed with the
 * delay the step returns (0 while working, the I/O throttle, or
 * log.cleaner.backoff.ms when no log is cleanable). The log.cleaner.* broker
 * configs are re-read at every step, so dynamic changes apply.
 * The cleaner sees the producer state of a partition through the txn layer
 * (last batch of each producer, first unstable offset).
 *
 * Ownership: the cleaner lives from the start hook to shutdown (freed before
 * log_manager_close, which drops a running pass and writes
 * cleaner-offset-checkpoint). Threading: loop thread only.
 */
#include "broker/broker.h"
#include "core/log.h"
#include "core/util.h"
#include "log/cleaner.h"
#include "log/log.h"
#include "txn/txn.h"

static log_cleaner *cleaner;
static uint64_t timer;

static struct ps_state *producer_state(void *ctx, log_partition *part) {
    return txn_part_state(ctx, part);
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
    o->step_budget_ms = 10; /* requests wait at most this long behind it */
    o->producer_state = producer_state;
    o->ctx = brk;
}

static void tick(net_loop *loop, void *ctx) {
    brk_broker *brk = ctx;
    timer = 0;
    if (!cleaner || brk->shutting_down || net_loop_stopping(loop))
        return;
    log_cleaner_opts o;
    opts_from_config(brk, &o);
    log_cleaner_set_opts(cleaner, &o);
    int64_t delay = log_cleaner_step(cleaner);
    timer = net_timer_add(loop, delay < 1 ? 1 : delay, tick, brk);
}

static void on_shutdown(brk_broker *brk, void *ctx) {
    SL_UNUSED(ctx);
    if (timer)
        net_timer_cancel(brk->loop, timer);
    timer = 0;
    log_cleaner_free(cleaner);
    cleaner = NULL;
}

void log_cleaner_start(brk_broker *brk) {
    if (!brk->logs || !brk_cfg_bool(brk->cfg, BRK_CFG_LOG_CLEANER_ENABLE))
        return;
    log_cleaner_opts o;
    opts_from_config(brk, &o);
    cleaner = log_cleaner_new(brk->logs, &o);
    brk_on_shutdown(on_shutdown, NULL);
    timer = net_timer_add(brk->loop, 1000, tick, brk);
}
