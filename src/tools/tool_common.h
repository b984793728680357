/*
 * tool_common.h - shared pieces of the command-line tools (src/tools/):
 * Kafka-style flag parsing (jopt-simple rules: --name value, --name=value,
 * unique prefixes), Java-properties files, librdkafka configuration built
 * from Kafka's flags, an admin-client wrapper that waits for results with the
 * tool's timeout, and small output helpers.
 *
 * Ownership: tool_args owns copies of nothing (values point into argv);
 * tool_props owns its strings. Each tool is a short-lived single process;
 * none of these helpers is shared between threads.
 */
#ifndef SL_TOOL_COMMON_H
#define SL_TOOL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

#include "core/uuid.h" /* Kafka's Uuid, as every tool prints and parses it */

/* ---- flags ---------------------------------------------------------- */

/* TOOL_OPTARG: the value is optional (taken only when the next word does
 * not start with "--"); a missing value reads as "". */
enum { TOOL_FLAG = 0, TOOL_ARG = 1, TOOL_OPTARG = 2 };

typedef struct tool_optdef {
    const char *name; /* without the leading "--" */
    int arg;          /* TOOL_FLAG or TOOL_ARG */
    const char *help;
} tool_optdef;

#define TOOL_MAX_OPTS 96

typedef struct tool_args {
    const char *prog;    /* e.g. "kafka-topics.sh" for messages */
    const char *summary; /* first usage line */
    const tool_optdef *defs;
    size_t ndefs;
    int count[TOOL_MAX_OPTS];
    const char **vals[TOOL_MAX_OPTS]; /* vals[i][0..count[i]) */
    const char **positional;
    int npositional;
} tool_args;

/* Parses argv[1..] against defs. Returns -1 when parsing succeeded and the
 * tool should continue; otherwise the exit code the tool must return (0
 * after --help, 1 after printing the error and the usage on stderr). */
int tool_parse(tool_args *a, const char *prog, const char *summary,
               const tool_optdef *defs, size_t ndefs, int argc, char **argv);
void tool_args_free(tool_args *a);
bool tool_has(const tool_args *a, const char *name);
const char *tool_get(const tool_args *a, const char *name); /* last value */
const char *tool_get_or(const tool_args *a, const char *name, const char *d);
int tool_getall(const tool_args *a, const char *name, const char ***vals);
void tool_usage(const tool_args *a, FILE *f);
/* Prints msg (if any) and the usage on stderr; returns 1 for `return`. */
int tool_usage_error(const tool_args *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Parses a whole decimal number; false (and *out untouched) otherwise. */
bool tool_parse_i64(const char *s, int64_t *out);

/* ---- properties ---------------------------------------------------- */

typedef struct tool_props {
    char **keys;
    char **vals;
    int n, cap;
} tool_props;

void tool_props_set(tool_props *p, const char *k, const char *v);
const char *tool_props_get(const tool_props *p, const char *k);
/* Java properties file: k=v or k: v lines, # and ! comments. Returns false
 * (after printing an error) when the file cannot be read. */
bool tool_props_load(tool_props *p, const char *path);
/* "k=v" (split at the first '='); false when there is no '='. */
bool tool_props_add_kv(tool_props *p, const char *kv);
void tool_props_free(tool_props *p);

/* ---- librdkafka configuration ------------------------------------- */

/* Builds a conf with bootstrap.servers and every property of props applied.
 * Java-client-only keys (serializers, ...) are skipped; keys librdkafka does
 * not know get a warning on stderr and are skipped. */
rd_kafka_conf_t *tool_conf_new(const char *bootstrap, const tool_props *props);
bool tool_conf_set(rd_kafka_conf_t *c, const char *k, const char *v);

/* Timeout from "default.api.timeout.ms" in props, else dflt. */
int tool_timeout_ms(const tool_props *props, int dflt);

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

/* ---- output helpers ----------------------------------------------- */

/* Lexicographic string compare for qsort over char* arrays. */
int tool_strcmp_p(const void *a, const void *b);
/* Java's Topic.isInternal: __consumer_offsets, __transaction_state, and
 * __share_group_state. */
bool tool_topic_is_internal(const char *topic);
/* Java regex-ish include list used by --topic: we support exact names, and
 * ".*"-style patterns through POSIX extended regex matched on the whole
 * name. */
bool tool_topic_matches(const char *pattern, const char *topic);
int64_t tool_now_ms(void);

/* ---- Kafka error presentation --------------------------------------- */

/* Kafka's exception class for an error code, e.g. 69 ->
 * "org.apache.kafka.common.errors.GroupIdNotFoundException". Static
 * storage, overwritten by the next call. */
const char *tool_java_exception(int code);
/* Kafka's default message for a code ("The group id does not exist."). */
const char *tool_error_message(int code);
/* Java's Double.toString formatting (shortest round-trip digits). */
void tool_java_double(double v, char *out, size_t cap);
/* Kafka's ToolsUtils.prettyPrintTable: every cell left-aligned to its
 * column's width and followed by a tab. */
void tool_pretty_table(const char *const *hdr, int ncol, char ***rows,
                       int nrows);
#endif
