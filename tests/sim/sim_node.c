/*
 * sim_node.c - hosting a broker node in the simulator (sim_node.h).
 * Placeholder until the node lifecycle (src/broker/node.h) lands.
 */
#include "sim_node.h"

#include <stdio.h>

sim_node *sim_node_start(const sl_env *env, int id, const char *host,
                         const char *const *extra, char *err, size_t errlen) {
    (void)env;
    (void)id;
    (void)host;
    (void)extra;
    snprintf(err, errlen, "no node lifecycle yet");
    return NULL;
}
void sim_node_poll(sim_node *n) {
    (void)n;
}
int64_t sim_node_due_in_ns(const sim_node *n) {
    (void)n;
    return INT64_MAX;
}
void sim_node_stop(sim_node *n) {
    (void)n;
}
void sim_node_abandon(sim_node *n) {
    (void)n;
}
log_manager *sim_node_logs(sim_node *n) {
    (void)n;
    return NULL;
}
