/*
 * list.h - comma-separated lists as Kafka's ConfigDef LIST type reads them:
 * the value trimmed, then split at "\s*,\s*" keeping empty entries (so
 * "a,,b" has three and "" or "  " has none). Listeners, bootstrap servers,
 * voters and ValidList values all go through this one reader.
 *
 * Usage:
 *     list_iter it = list_start(value, true);
 *     const char *item; size_t len;
 *     while (list_next(&it, &item, &len)) ... item[0..len) ...
 *
 * Entries point into the caller's string (not NUL-terminated). Threading:
 * no shared state.
 */
#ifndef SL_LIST_H
#define SL_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct list_iter {
    const char *p; /* start of the next entry; NULL when done */
    bool skip_empty;
} list_iter;

/* s may be NULL (no entries). skip_empty drops "" entries, for the readers
 * that always ignored stray commas (listeners, bootstrap servers). */
list_iter list_start(const char *s, bool skip_empty);
/* The next entry, trimmed of whitespace; false after the last. */
bool list_next(list_iter *it, const char **item, size_t *len);

#endif
