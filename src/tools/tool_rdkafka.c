/*
 * tool_rdkafka.c - librdkafka configuration from Kafka's flags and the admin
 * wrapper, for the tools built on librdkafka (build/sluice-tools). See
 * tool_rdkafka.h.
 */
#include "tools/tool_rdkafka.h"

#include <string.h>

#include "core/util.h"

/* ---- librdkafka configuration ------------------------------------- */

/* Java client settings that have no librdkafka meaning (serdes, Java-only
 * tuning); silently ignored so Kafka's config files keep working. */
static const char *const java_only[] = {
    "key.serializer",
    "value.serializer",
    "key.deserializer",
    "value.deserializer",
    "default.api.timeout.ms",
    "buffer.memory",
    "max.block.ms",
    "interceptor.classes",
    "partitioner.class",
    "metric.reporters",
    "exclude.internal.topics",
    "max.poll.records",
    "retry.backoff.max.ms",
    "metadata.max.idle.ms",
    "sasl.jaas.config",
    "group.protocol",
    "ssl.truststore.type",
    "ssl.keystore.type",
    "ssl.truststore.password",
    "ssl.keystore.password",
    "ssl.truststore.location",
    "ssl.keystore.location",
    "ssl.key.password",
};

bool tool_conf_set(rd_kafka_conf_t *c, const char *k, const char *v) {
    for (size_t i = 0; i < SL_ARRAY_LEN(java_only); i++)
        if (!strcmp(k, java_only[i]))
            return true;
    char err[256];
    const char *key = k;
    /* A few Java names differ from librdkafka's. */
    static const char *const renamed[][2] = {
        {"max.in.flight.requests.per.connection", "max.in.flight"},
        {"fetch.max.wait.ms", "fetch.wait.max.ms"},
        {"receive.buffer.bytes", "socket.receive.buffer.bytes"},
        {"send.buffer.bytes", "socket.send.buffer.bytes"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(renamed); i++)
        if (!strcmp(k, renamed[i][0]))
            key = renamed[i][1];
    if (rd_kafka_conf_set(c, key, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "WARN: ignoring property %s=%s: %s\n", k, v, err);
        return false;
    }
    return true;
}

rd_kafka_conf_t *tool_conf_new(const char *bootstrap, const tool_props *props) {
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    /* Java clients hash keys with murmur2; keyed records must land on the
     * same partitions whichever client wrote them. */
    tool_conf_set(c, "partitioner", "murmur2_random");
    if (props)
        for (int i = 0; i < props->n; i++)
            tool_conf_set(c, props->keys[i], props->vals[i]);
    if (bootstrap)
        tool_conf_set(c, "bootstrap.servers", bootstrap);
    /* librdkafka's own logs would clutter tool output; errors surface
     * through the results. */
    tool_conf_set(c, "log_level", "0");
    return c;
}

/* ---- admin wrapper ------------------------------------------------- */

bool tool_admin_open(tool_admin *ad, const char *bootstrap,
                     const char *command_config, int dflt_timeout_ms) {
    memset(ad, 0, sizeof(*ad));
    if (command_config && !tool_props_load(&ad->props, command_config))
        return false;
    if (!bootstrap)
        bootstrap = tool_props_get(&ad->props, "bootstrap.servers");
    if (!bootstrap) {
        fprintf(stderr, "Missing required option(s) [bootstrap-server]\n");
        return false;
    }
    snprintf(ad->bootstrap, sizeof(ad->bootstrap), "%s", bootstrap);
    ad->timeout_ms = tool_timeout_ms(&ad->props, dflt_timeout_ms);
    rd_kafka_conf_t *c = tool_conf_new(bootstrap, &ad->props);
    char err[512];
    ad->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    if (!ad->rk) {
        fprintf(stderr, "Error: %s\n", err);
        rd_kafka_conf_destroy(c);
        return false;
    }
    ad->q = rd_kafka_queue_new(ad->rk);
    return true;
}

void tool_admin_close(tool_admin *ad) {
    if (ad->q)
        rd_kafka_queue_destroy(ad->q);
    if (ad->rk)
        rd_kafka_destroy(ad->rk);
    tool_props_free(&ad->props);
    memset(ad, 0, sizeof(*ad));
}

rd_kafka_AdminOptions_t *tool_admin_options(tool_admin *ad,
                                            rd_kafka_admin_op_t op) {
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(ad->rk, op);
    char err[256];
    rd_kafka_AdminOptions_set_request_timeout(o, ad->timeout_ms, err,
                                              sizeof(err));
    return o;
}

rd_kafka_event_t *tool_admin_wait(tool_admin *ad, rd_kafka_event_type_t evtype,
                                  char *err, size_t errsz) {
    int64_t deadline = tool_now_ms() + ad->timeout_ms + 2000;
    for (;;) {
        int64_t left = deadline - tool_now_ms();
        if (left <= 0) {
            snprintf(err, errsz, "Timed out waiting for a node assignment.");
            return NULL;
        }
        rd_kafka_event_t *ev = rd_kafka_queue_poll(ad->q, (int)left);
        if (!ev)
            continue;
        if (rd_kafka_event_type(ev) == evtype)
            return ev;
        rd_kafka_event_destroy(ev);
    }
}
