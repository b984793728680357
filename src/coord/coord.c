/*
 * coord.c - the coordinator runtime of a node (coord.h): the services the
 * broker registered, shutdown hooks, partition lookups for the
 * coordinators. Threading: the node's loop thread only.
 */
#include "coord/coord.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "proto/errors.h"

coord_rt *coord_rt_new(const coord_services *svc, int32_t node_id,
                       net_loop *loop) {
    coord_rt *rt = xcalloc(1, sizeof *rt);
    rt->svc = *svc;
    rt->node_id = node_id;
    rt->loop = loop;
    return rt;
}

void coord_rt_free(coord_rt *rt) {
    free(rt);
}

void coord_on_shutdown(coord_rt *rt, coord_hook_fn fn, void *arg) {
    SL_ASSERT(rt->n_hooks < COORD_MAX_HOOKS);
    rt->hooks[rt->n_hooks].fn = fn;
    rt->hooks[rt->n_hooks].arg = arg;
    rt->n_hooks++;
}

void coord_rt_shutdown(coord_rt *rt) {
    rt->stopping = true;
    for (int i = 0; i < rt->n_hooks; i++)
        rt->hooks[i].fn(rt->hooks[i].arg);
}

cl_partition *coord_find_partition(const coord_rt *rt, const char *topic,
                                   size_t topic_len, int32_t partition,
                                   int16_t *err) {
    cl_image *img = coord_image(rt);
    cl_topic *t = img ? cl_topic_find(img, topic, topic_len) : NULL;
    if (!t || partition < 0 || partition >= t->n_partitions ||
        !t->parts[partition]) {
        *err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return NULL;
    }
    *err = KERR_NONE;
    return t->parts[partition];
}

log_partition *coord_leader_log(const coord_rt *rt, const cl_partition *part) {
    repl_manager *m = part ? coord_repl(rt) : NULL;
    int16_t err;
    return m ? repl_leader_log(m, part, &err) : NULL;
}

log_partition *coord_local_log(const coord_rt *rt, const cl_partition *part) {
    repl_manager *m = part ? coord_repl(rt) : NULL;
    return m ? repl_log(m, part) : NULL;
}
