/*
 * tool_common.h - shared pieces of the command-line tools (src/tools/):
 * Kafka-style flag parsing (jopt-simple rules: --name value, --name=value,
 * unique prefixes), Java-properties files and small output helpers. The
 * librdkafka configuration and admin wrapper are in tool_rdkafka.h (only the
 * tools of build/sluice-tools link librdkafka).
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

struct kc_conn;
/* Connects kc for a tool: to --bootstrap-server (kc_connect), or through
 * --bootstrap-controller to the active controller (kc_connect_controller).
 * false with a message in err when neither answers within timeout_ms. */
bool tool_connect(const tool_args *a, struct kc_conn *kc, int timeout_ms,
                  char *err, size_t errsz);
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

/* Timeout from "default.api.timeout.ms" in props, else dflt. */
int tool_timeout_ms(const tool_props *props, int dflt);

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

/* Running another command of src/commands.def from a tool: the tools sit
 * below main in src/LAYERS, so main passes its dispatcher (sl_command_run:
 * the command's exit code, or -1 for no such command) to the tool that
 * needs it instead of tools calling up. */
typedef int (*tool_command_runner)(const char *name, int argc, char **argv);
/* kafka-run-class.sh: runs the command for a Kafka tool class through run
 * (main's `run-class` command, sl_run_class, calls it). */
int tool_run_class_main(int argc, char **argv, tool_command_runner run);

#endif
