/*
 * list.c - Kafka's ConfigDef LIST split (see list.h).
 */
#include "core/list.h"

#include <ctype.h>
#include <string.h>

static const char *skip_space(const char *p) {
    while (isspace((unsigned char)*p))
        p++;
    return p;
}

list_iter list_start(const char *s, bool skip_empty) {
    list_iter it = {NULL, skip_empty};
    if (s && *skip_space(s))
        it.p = s; /* a blank value is an empty list, as trimmed.isEmpty() */
    return it;
}

bool list_next(list_iter *it, const char **item, size_t *len) {
    while (it->p) {
        const char *p = skip_space(it->p);
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n && isspace((unsigned char)p[n - 1]))
            n--;
        it->p = e ? e + 1 : NULL;
        if (n || !it->skip_empty) {
            *item = p;
            *len = n;
            return true;
        }
    }
    return false;
}
