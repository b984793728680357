/*
 * tool_json.c - recursive-descent JSON reader. See tool_json.h.
 */
#include "tools/tool_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"

typedef struct jp {
    const char *p;
    char *err;
    int errsz;
    bool failed;
} jp;

static void fail(jp *j, const char *what) {
    if (!j->failed)
        snprintf(j->err, (size_t)j->errsz, "%s", what);
    j->failed = true;
}

static void ws(jp *j) {
    while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
        j->p++;
}

static tj *value(jp *j, int depth);

static char *string(jp *j) {
    if (*j->p != '"') {
        fail(j, "expected a string");
        return NULL;
    }
    j->p++;
    buf b;
    buf_init(&b, 16);
    while (*j->p && *j->p != '"') {
        char c = *j->p++;
        if (c == '\\') {
            char e = *j->p++;
            switch (e) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'u': {
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    char h = *j->p++;
                    v <<= 4;
                    if (h >= '0' && h <= '9')
                        v |= (unsigned)(h - '0');
                    else if (h >= 'a' && h <= 'f')
                        v |= (unsigned)(h - 'a' + 10);
                    else if (h >= 'A' && h <= 'F')
                        v |= (unsigned)(h - 'A' + 10);
                    else {
                        fail(j, "bad \\u escape");
                        buf_free(&b);
                        return NULL;
                    }
                }
                if (v < 0x80) {
                    buf_put_u8(&b, (uint8_t)v);
                } else if (v < 0x800) {
                    buf_put_u8(&b, (uint8_t)(0xc0 | (v >> 6)));
                    buf_put_u8(&b, (uint8_t)(0x80 | (v & 63)));
                } else {
                    buf_put_u8(&b, (uint8_t)(0xe0 | (v >> 12)));
                    buf_put_u8(&b, (uint8_t)(0x80 | ((v >> 6) & 63)));
                    buf_put_u8(&b, (uint8_t)(0x80 | (v & 63)));
                }
                continue;
            }
            case 0:
                fail(j, "unterminated string");
                buf_free(&b);
                return NULL;
            default:
                c = e;
                break;
            }
        }
        buf_put_u8(&b, (uint8_t)c);
    }
    if (*j->p != '"') {
        fail(j, "unterminated string");
        buf_free(&b);
        return NULL;
    }
    j->p++;
    buf_put_u8(&b, 0);
    return (char *)b.data;
}

static tj *container(jp *j, int depth, bool obj) {
    tj *v = xcalloc(1, sizeof(tj));
    v->type = obj ? TJ_OBJ : TJ_ARR;
    j->p++;
    ws(j);
    char close = obj ? '}' : ']';
    if (*j->p == close) {
        j->p++;
        return v;
    }
    int cap = 0;
    for (;;) {
        ws(j);
        char *key = NULL;
        if (obj) {
            key = string(j);
            ws(j);
            if (!key || *j->p != ':') {
                free(key);
                fail(j, "expected ':'");
                break;
            }
            j->p++;
        }
        tj *item = value(j, depth + 1);
        if (!item) {
            free(key);
            break;
        }
        if (v->n == cap) {
            cap = cap ? cap * 2 : 4;
            v->items = xrealloc(v->items, (size_t)cap * sizeof(tj *));
            if (obj)
                v->keys = xrealloc(v->keys, (size_t)cap * sizeof(char *));
        }
        if (obj)
            v->keys[v->n] = key;
        v->items[v->n++] = item;
        ws(j);
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p == close) {
            j->p++;
            return v;
        }
        fail(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        break;
    }
    tool_json_free(v);
    return NULL;
}

static tj *value(jp *j, int depth) {
    if (depth > 64) {
        fail(j, "nesting too deep");
        return NULL;
    }
    ws(j);
    char c = *j->p;
    if (c == '{' || c == '[')
        return container(j, depth, c == '{');
    tj *v = xcalloc(1, sizeof(tj));
    if (c == '"') {
        v->type = TJ_STR;
        v->str = string(j);
        if (!v->str) {
            free(v);
            return NULL;
        }
    } else if (!strncmp(j->p, "true", 4) || !strncmp(j->p, "false", 5)) {
        v->type = TJ_BOOL;
        v->b = c == 't';
        j->p += v->b ? 4 : 5;
    } else if (!strncmp(j->p, "null", 4)) {
        v->type = TJ_NULL;
        j->p += 4;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        char *end;
        v->type = TJ_NUM;
        v->num = strtoll(j->p, &end, 10);
        v->dbl = strtod(j->p, &end);
        j->p = end;
    } else {
        fail(j, "unexpected character");
        free(v);
        return NULL;
    }
    return v;
}

tj *tool_json_parse(const char *text, char *err, int errsz) {
    jp j = {text, err, errsz, false};
    /* Like Jackson's readTree (Kafka's parser), text after the first
     * complete value is ignored: the seed's delete-records example has a
     * stray '}' and still works with Kafka's tool. */
    return value(&j, 0);
}

void tool_json_free(tj *v) {
    if (!v)
        return;
    for (int i = 0; i < v->n; i++) {
        tool_json_free(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

const tj *tool_json_get(const tj *obj, const char *key) {
    if (!obj || obj->type != TJ_OBJ)
        return NULL;
    for (int i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key))
            return obj->items[i];
    return NULL;
}
