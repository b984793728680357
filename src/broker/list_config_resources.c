/*
 * list_config_resources.c - ListConfigResources (api key 74, KIP-1142;
 * v0 was ListClientMetricsResources). As Kafka 4.3.1's
 * KafkaApis.handleListConfigResources: v0 lists client-metrics resources
 * only; v1 lists the requested types (empty = all of TOPIC, BROKER,
 * BROKER_LOGGER, CLIENT_METRICS, GROUP), in Kafka's order: groups with a
 * config override, client-metrics subscriptions, broker loggers and brokers
 * (the registered brokers with an endpoint on the request's listener), then
 * every topic. A type outside that set answers UNSUPPORTED_VERSION with no
 * resources. Without an authorizer there is no CLUSTER DESCRIBE_CONFIGS check
 * to fail (acls.c). Threading: loop thread.
 */
#include <stdio.h>
#include <string.h>

#include "broker/internal.h"
#include "cluster/image.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"

/* ConfigResource.Type ids. */
enum {
    RT_TOPIC = 2,
    RT_BROKER = 4,
    RT_BROKER_LOGGER = 8,
    RT_CLIENT_METRICS = 16,
    RT_GROUP = 32,
};

typedef proto_list_config_resources_response_config_resource lcr_res;

static bool has_type(const int8_t *types, int32_t n, int8_t t) {
    for (int32_t i = 0; i < n; i++)
        if (types[i] == t)
            return true;
    return false;
}

static bool has_endpoint(const cl_broker *b, const char *listener) {
    for (int32_t i = 0; i < b->n_endpoints; i++)
        if (!strcmp(b->endpoints[i].name, listener))
            return true;
    return false;
}

brk_status brk_handle_list_config_resources(brk_req *req) {
    proto_list_config_resources_request rq;
    if (proto_list_config_resources_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_list_config_resources_response rs;
    proto_list_config_resources_response_init(&rs);
    rs.config_resources.n = 0;

    static const int8_t v0_types[] = {RT_CLIENT_METRICS};
    static const int8_t v1_types[] = {RT_TOPIC, RT_BROKER, RT_BROKER_LOGGER,
                                      RT_CLIENT_METRICS, RT_GROUP};
    const int8_t *supported = req->api_version == 0 ? v0_types : v1_types;
    int32_t n_supported =
        req->api_version == 0 ? 1 : (int32_t)(sizeof v1_types);
    const int8_t *types = rq.resource_types.v;
    int32_t n_types = rq.resource_types.n;
    if (n_types <= 0) {
        types = supported;
        n_types = n_supported;
    }
    for (int32_t i = 0; i < n_types; i++)
        if (!has_type(supported, n_supported, types[i])) {
            rs.error_code = KERR_UNSUPPORTED_VERSION;
            goto out;
        }

    cl_image *img = req->brk->image;
    size_t nb = 0, nt = 0;
    const cl_broker *bs = img ? cl_brokers(img, &nb) : NULL;
    cl_topic **ts = img ? cl_topics(img, &nt) : NULL;
    size_t nr_max = 4096;
    const char **groups = arena_calloc(req->arena, nr_max, sizeof *groups);
    const char **metrics = arena_calloc(req->arena, nr_max, sizeof *metrics);
    size_t ng = img && has_type(types, n_types, RT_GROUP)
                    ? cl_config_resources(img, RT_GROUP, groups, nr_max)
                    : 0;
    size_t nm =
        img && has_type(types, n_types, RT_CLIENT_METRICS)
            ? cl_config_resources(img, RT_CLIENT_METRICS, metrics, nr_max)
            : 0;
    size_t cap = ng + nm + 2 * nb + nt;
    lcr_res *v = arena_calloc(req->arena, cap ? cap : 1, sizeof *v);
    int32_t n = 0;
    for (size_t i = 0; i < ng; i++) {
        proto_list_config_resources_response_config_resource_init(&v[n]);
        v[n].resource_name = proto_str_c(groups[i]);
        v[n++].resource_type = RT_GROUP;
    }
    for (size_t i = 0; i < nm; i++) {
        proto_list_config_resources_response_config_resource_init(&v[n]);
        v[n].resource_name = proto_str_c(metrics[i]);
        v[n++].resource_type = RT_CLIENT_METRICS;
    }
    const char *listener = req->brk->listeners[req->listener].name;
    static const int8_t broker_types[] = {RT_BROKER_LOGGER, RT_BROKER};
    for (size_t k = 0; k < 2; k++) {
        if (!has_type(types, n_types, broker_types[k]))
            continue;
        for (size_t i = 0; i < nb; i++) {
            if (!has_endpoint(&bs[i], listener))
                continue;
            char id[16];
            snprintf(id, sizeof id, "%d", bs[i].id);
            proto_list_config_resources_response_config_resource_init(&v[n]);
            v[n].resource_name =
                proto_str_c(arena_strndup(req->arena, id, strlen(id)));
            v[n++].resource_type = broker_types[k];
        }
    }
    if (has_type(types, n_types, RT_TOPIC))
        for (size_t i = 0; i < nt; i++) {
            proto_list_config_resources_response_config_resource_init(&v[n]);
            v[n].resource_name = proto_str_c(ts[i]->name);
            v[n++].resource_type = RT_TOPIC;
        }
    rs.config_resources.n = n;
    rs.config_resources.v = v;
out:
    proto_list_config_resources_response_encode(brk_resp_buf(req),
                                                req->api_version, &rs);
    return BRK_DONE;
}
