#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "test.h"

#define MAX_TESTS 4096

static struct {
    const char *name;
    test_fn fn;
} tests[MAX_TESTS];
static int ntests;
static int cur_failed;
static uint64_t seed;
static char tmpdir[256];

void test_register(const char *name, test_fn fn) {
    if (ntests < MAX_TESTS) {
        tests[ntests].name = name;
        tests[ntests].fn = fn;
        ntests++;
    }
}

void test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    cur_failed++;
}

uint64_t test_seed(void) {
    return seed;
}

const char *test_tmpdir(void) {
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/sluice-unit-XXXXXX");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            abort();
        }
    }
    return tmpdir;
}

static void tmpdir_cleanup(void) {
    if (tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "warning: could not remove %s\n", tmpdir);
        tmpdir[0] = 0;
    }
}

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    /* Tests provoke errors on purpose; the broker's log lines would bury the
     * results. SLUICE_TEST_LOG=debug|info|warn|error shows them. */
    const char *lvl = getenv("SLUICE_TEST_LOG");
    int parsed = lvl ? sl_log_parse_level(lvl) : -1;
    sl_log_set_level(parsed >= 0 ? (sl_log_level)parsed
                                 : (sl_log_level)(SL_LOG_ERROR + 1));
    const char *env = getenv("SLUICE_TEST_SEED");
    seed = env ? strtoull(env, NULL, 0) : rng_os_seed();
    printf("seed %llu (replay with SLUICE_TEST_SEED=%llu)\n",
           (unsigned long long)seed, (unsigned long long)seed);
    int passed = 0, failed = 0;
    for (int i = 0; i < ntests; i++) {
        if (filter && !strstr(tests[i].name, filter))
            continue;
        cur_failed = 0;
        tests[i].fn();
        tmpdir_cleanup();
        clk_set(NULL);
        if (cur_failed) {
            printf("FAIL %s\n", tests[i].name);
            failed++;
        } else {
            passed++;
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
