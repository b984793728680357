/*
 * log.h (core) - leveled diagnostic logging to stderr:
 *   [2026-11-23 17:20:01,123] INFO message (module)
 * in the shape of Kafka's log4j lines. Not to be confused with src/log/, the
 * partition log. Lines say what happened and what to do about it.
 * Threading: one fprintf per line, so lines from threads do not interleave.
 */
#ifndef SL_CORE_LOG_H
#define SL_CORE_LOG_H

typedef enum {
    SL_LOG_DEBUG,
    SL_LOG_INFO,
    SL_LOG_WARN,
    SL_LOG_ERROR
} sl_log_level;

extern sl_log_level sl_log_min_level;

void sl_log_set_level(sl_log_level lvl);
/* Parses "debug", "info", "warn", "error" (case-insensitive); -1 if unknown. */
int sl_log_parse_level(const char *s);
void sl_log(sl_log_level lvl, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define SL_DEBUG(mod, ...)                                                     \
    do {                                                                       \
        if (sl_log_min_level <= SL_LOG_DEBUG)                                  \
            sl_log(SL_LOG_DEBUG, mod, __VA_ARGS__);                            \
    } while (0)
#define SL_INFO(mod, ...) sl_log(SL_LOG_INFO, mod, __VA_ARGS__)
#define SL_WARN(mod, ...) sl_log(SL_LOG_WARN, mod, __VA_ARGS__)
#define SL_ERROR(mod, ...) sl_log(SL_LOG_ERROR, mod, __VA_ARGS__)

#endif
