/*
 * sim_node.h - one broker node hosted inside the simulator: the real
 * server code (config, storage, listeners, handlers, coordinators) started
 * in a simulated environment (core/env.h: simulated clock and network, a
 * crashfs, an inline executor, seeded randomness). The adapter between the
 * simulator and the broker's node lifecycle (src/broker/node.h).
 *
 * Ownership: the simulator owns env and the crashfs behind env->fs; a
 * node is freed by sim_node_stop (clean shutdown) or sim_node_abandon (a
 * crash: nothing more reaches the disk, memory is released).
 * Threading: the simulator's thread; every call enters env.
 */
#ifndef SL_TESTS_SIM_NODE_H
#define SL_TESTS_SIM_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/env.h"
#include "log/log.h"

typedef struct sim_node sim_node;

/* node.id id, log.dirs /data on env->fs, listeners PLAINTEXT://host:9092
 * and CONTROLLER://host:9093 on env->net. extra: more "key=value"
 * settings (NULL-terminated, may be NULL). NULL with err on failure. */
sim_node *sim_node_start(const sl_env *env, int id, const char *host,
                         const char *const *extra, char *err, size_t errlen);
/* Runs what is ready now (one loop pass). */
void sim_node_poll(sim_node *n);
/* Nanoseconds until the node's next timer, INT64_MAX if none. */
int64_t sim_node_due_in_ns(const sim_node *n);
/* Clean shutdown (flush, checkpoints), then free. */
void sim_node_stop(sim_node *n);
/* Crash: free everything without writing anything more. */
void sim_node_abandon(sim_node *n);
/* The node's storage, for the checkers (NULL if not open). */
log_manager *sim_node_logs(sim_node *n);

#endif
