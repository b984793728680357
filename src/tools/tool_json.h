/*
 * tool_json.h - a small JSON reader for the tools' input files
 * (delete-records --offset-json-file, reassignment plans). Parses the first
 * value of a document (trailing text is ignored, as Jackson does) into a
 * tree; numbers keep their int64 value.
 *
 * Ownership: tool_json_parse returns a tree owned by the caller (free with
 * tool_json_free); lookups return borrowed pointers into it.
 * Single-threaded; depth is bounded (64) so hostile input cannot recurse
 * without limit.
 */
#ifndef SL_TOOL_JSON_H
#define SL_TOOL_JSON_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { TJ_NULL, TJ_BOOL, TJ_NUM, TJ_STR, TJ_ARR, TJ_OBJ } tj_type;

typedef struct tj {
    tj_type type;
    bool b;
    int64_t num;
    double dbl;
    char *str;         /* TJ_STR */
    struct tj **items; /* TJ_ARR values / TJ_OBJ values */
    char **keys;       /* TJ_OBJ keys */
    int n;
} tj;

/* NULL on malformed input (err gets a message). */
tj *tool_json_parse(const char *text, char *err, int errsz);
void tool_json_free(tj *v);
const tj *tool_json_get(const tj *obj, const char *key); /* NULL if absent */

#endif
