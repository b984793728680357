/*
 * sim_node.c - hosting a broker node in the simulator (sim_node.h): the
 * node lifecycle of src/broker/node.h in the node's simulated env. The
 * configuration is what `sluice server --override ...` would load with no
 * file (config/server.properties' settings), with the node's id, one data
 * dir on its crashfs and its listeners on its simnet host.
 */
#include "sim_node.h"

#include <stdio.h>
#include <stdlib.h>

#include "broker/internal.h"
#include "broker/node.h"
#include "core/util.h"

struct sim_node {
    brk_node *node;
};

sim_node *sim_node_start(const sl_env *env, int id, const char *host,
                         const char *const *extra, char *err, size_t errlen) {
    char a_id[64], a_lis[256];
    snprintf(a_id, sizeof a_id, "node.id=%d", id);
    snprintf(a_lis, sizeof a_lis,
             "listeners=PLAINTEXT://%s:9092,CONTROLLER://%s:9093", host, host);
    const char *fixed[] = {a_id, "log.dirs=/data", a_lis};
    int n_extra = 0;
    while (extra && extra[n_extra])
        n_extra++;
    int argc = 1 + 2 * (3 + n_extra);
    char **argv = xcalloc((size_t)argc + 1, sizeof *argv);
    int k = 0;
    argv[k++] = "server";
    for (int i = 0; i < 3 + n_extra; i++) {
        argv[k++] = "--override";
        argv[k++] = (char *)(i < 3 ? fixed[i] : extra[i - 3]);
    }
    char *envp[] = {NULL};
    brk_config cfg;
    const sl_env *prev = sl_env_enter(env);
    int rc = brk_load_config(&cfg, argc, argv, envp, err, errlen);
    sl_env_leave(prev);
    free(argv);
    if (rc < 0) {
        brk_config_free(&cfg);
        return NULL;
    }
    brk_node *node = brk_node_new(&cfg, env);
    if (brk_node_start(node, err, errlen) < 0) {
        brk_node_free(node);
        return NULL;
    }
    sim_node *n = xcalloc(1, sizeof *n);
    n->node = node;
    return n;
}

void sim_node_poll(sim_node *n) {
    brk_node_poll(n->node, 0);
}

int64_t sim_node_due_in_ns(const sim_node *n) {
    return brk_node_due_in_ns(n->node);
}

void sim_node_stop(sim_node *n) {
    brk_node_stop(n->node);
    brk_node_free(n->node);
    free(n);
}

void sim_node_abandon(sim_node *n) {
    brk_node_abandon(n->node);
    brk_node_free(n->node);
    free(n);
}

log_manager *sim_node_logs(sim_node *n) {
    return brk_node_broker(n->node)->logs;
}
