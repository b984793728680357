/*
 * node.h - one Sluice node: the object that holds a broker (brk_broker,
 * broker.h) with everything its modules keep, its configuration, its
 * environment (core/env.h: clock, rng, file system, executor, transport),
 * its event loop, its data directories and its listeners. Nothing of a node
 * is process-wide, so several nodes run in one process: tests/unit
 * test_node.c starts three, tests/sim runs N over a simulated network, disk
 * and clock.
 *
 * Life of a node:
 *   brk_node_new(cfg, env)   takes the configuration (loaded and finished:
 *                            brk_load_config), remembers the env
 *   brk_node_start(n, ...)   the start-up, in named steps (node.c
 *                            start_steps: listeners, format, loop, storage,
 *                            bind, cluster, coordinators, housekeeping); on
 *                            failure it returns -1 with the step's message
 *                            and brk_node_free releases what was made
 *   brk_node_run(n)          runs the loop until brk_node_request_stop, or
 *   brk_node_poll(n, ms)     one loop pass (tests, the simulator)
 *   brk_node_stop(n)         clean shutdown: listeners closed, shutdown
 *                            hooks, responses drained, coordinators,
 *                            storage and loop freed (flush, checkpoints)
 *   brk_node_abandon(n)      a crash instead: nothing more is written (the
 *                            log manager is abandoned), memory is released
 *   brk_node_free(n)         frees what is left (stops first if needed)
 * Every call enters the node's env (sl_env_enter) for its duration; the loop
 * does so itself while it runs.
 *
 * Ownership: the caller owns the node and the env, which must outlive it.
 * Threading: a node is used from one thread at a time (its loop's), except
 * brk_node_request_stop, which any thread or a signal handler may call.
 */
#ifndef SL_BROKER_NODE_H
#define SL_BROKER_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"
#include "broker/config.h"
#include "core/env.h"
#include "net/net.h"

typedef struct brk_node brk_node;

/* A node of configuration *cfg (moved into the node: *cfg is left empty,
 * brk_config_free on it is a no-op) in env (NULL: the process env). */
brk_node *brk_node_new(brk_config *cfg, const sl_env *env);
/* Runs the start-up steps; 0, or -1 with "step: message" in err (then
 * brk_node_free). Logs "Kafka Server started" when done. */
int brk_node_start(brk_node *n, char *err, size_t errlen);
/* Runs the loop until brk_node_request_stop. */
void brk_node_run(brk_node *n);
/* One pass of the loop, waiting at most timeout_ms. */
void brk_node_poll(brk_node *n, int timeout_ms);
/* Nanoseconds until the node's next timer (its env's clock), 0 if due,
 * INT64_MAX if none. */
int64_t brk_node_due_in_ns(const brk_node *n);
/* Makes brk_node_run return (async-signal-safe). */
void brk_node_request_stop(brk_node *n);
/* SIGTERM (loop thread): a controlled shutdown first when the node's broker
 * is registered with a quorum's controller (controlled.shutdown.enable:
 * its leaderships move away), then brk_node_run returns; a second call
 * returns at once. */
void brk_node_request_shutdown(brk_node *n);
/* Clean shutdown (see above); idempotent. */
void brk_node_stop(brk_node *n);
/* Crash: releases everything without writing anything more. */
void brk_node_abandon(brk_node *n);
void brk_node_free(brk_node *n);

brk_broker *brk_node_broker(brk_node *n);
net_loop *brk_node_loop(brk_node *n);
/* The bound port of listener name (its port resolved when it was 0), -1 if
 * no such listener. */
int brk_node_port(const brk_node *n, const char *listener);

/* The `sluice server` command (src/commands.def): argv and the
 * configuration file, signals, then one node run to its end (server.c). */
int server_main(int argc, char **argv);

#endif
