#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

#include "clock.h"

sl_log_level sl_log_min_level = SL_LOG_INFO;

void sl_log_set_level(sl_log_level lvl) {
    sl_log_min_level = lvl;
}

int sl_log_parse_level(const char *s) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(s, names[i]))
            return i;
    if (!strcasecmp(s, "warning"))
        return SL_LOG_WARN;
    return -1;
}

void sl_log(sl_log_level lvl, const char *module, const char *fmt, ...) {
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (lvl < sl_log_min_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int64_t ms = clk_wall_ms();
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char ts[32];
    strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(stderr, "[%s,%03d] %s %s (%s)\n", ts, (int)(ms % 1000), names[lvl],
            msg, module);
}
