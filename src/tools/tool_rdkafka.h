/*
 * tool_rdkafka.h - librdkafka configuration built from Kafka's flags, and an
 * admin-client wrapper that waits for results with the tool's timeout. Only
 * the tools that include this header need librdkafka: the Makefile builds
 * them (and this file) into build/sluice-tools, never into build/sluice.
 *
 * Ownership as in tool_common.h; single-threaded tools.
 */
#ifndef SL_TOOL_RDKAFKA_H
#define SL_TOOL_RDKAFKA_H

#include <librdkafka/rdkafka.h>

#include "tools/tool_common.h"

/* ---- librdkafka configuration ------------------------------------- */

/* Builds a conf with bootstrap.servers and every property of props applied.
 * Java-client-only keys (serializers, ...) are skipped; keys librdkafka does
 * not know get a warning on stderr and are skipped. */
rd_kafka_conf_t *tool_conf_new(const char *bootstrap, const tool_props *props);
bool tool_conf_set(rd_kafka_conf_t *c, const char *k, const char *v);

/* ---- admin wrapper ------------------------------------------------- */

typedef struct tool_admin {
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    int timeout_ms;
    char bootstrap[512];
    tool_props props;
} tool_admin;

/* Creates the client from --bootstrap-server and --command-config (props
 * file) ; returns false after printing an error. */
bool tool_admin_open(tool_admin *ad, const char *bootstrap,
                     const char *command_config, int dflt_timeout_ms);
void tool_admin_close(tool_admin *ad);
/* Admin options with the request timeout set to the tool's timeout. */
rd_kafka_AdminOptions_t *tool_admin_options(tool_admin *ad,
                                            rd_kafka_admin_op_t op);
/* Waits for the result event of type evtype; NULL on timeout (an error
 * message saying so is written into err). The caller destroys the event. */
rd_kafka_event_t *tool_admin_wait(tool_admin *ad, rd_kafka_event_type_t evtype,
                                  char *err, size_t errsz);

#endif
