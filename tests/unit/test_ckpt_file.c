/* The checkpoint file text format (log/ckpt_file.h), shared by the
 * recovery-point, log-start, high-watermark, cleaner-offset and leader-epoch
 * checkpoints. */
#include <stdlib.h>

#include "log/ckpt_file.h"
#include "test.h"

typedef struct seen {
    int n;
    char lines[8][32];
    int stop_at; /* entry index whose callback returns false (-1: none) */
} seen;

static bool collect(void *arg, const char *line) {
    seen *s = arg;
    if (s->n < 8)
        snprintf(s->lines[s->n], sizeof s->lines[0], "%s", line);
    return s->n++ != s->stop_at;
}

static bool parse(const char *text, int version, seen *s) {
    char *t = strdup(text);
    bool ok = ckpt_file_parse(t, version, collect, s);
    free(t);
    return ok;
}

TEST(ckpt_file_parses_entries_in_order) {
    seen s = {.stop_at = -1};
    CHECK(parse("0\n2\nt 0 5\nt 1 7\n", 0, &s));
    CHECK_EQ(s.n, 2);
    CHECK(!strcmp(s.lines[0], "t 0 5"));
    CHECK(!strcmp(s.lines[1], "t 1 7"));
}

TEST(ckpt_file_refuses_bad_headers) {
    seen s = {.stop_at = -1};
    CHECK(!parse("1\n1\nt 0 5\n", 0, &s));  /* another version */
    CHECK(!parse("0\n-1\nt 0 5\n", 0, &s)); /* negative count */
    CHECK(!parse("0x\n1\nt 0 5\n", 0, &s)); /* not a number */
    CHECK(!parse("0\n", 0, &s));            /* no count */
    CHECK(!parse("", 0, &s));
    CHECK(!parse("0\n20000000\n", 0, &s)); /* count beyond the bound */
    CHECK_EQ(s.n, 0);
}

TEST(ckpt_file_stops_at_count_or_callback) {
    seen s = {.stop_at = -1};
    CHECK(parse("0\n1\na\nb\n", 0, &s)); /* lines past the count ignored */
    CHECK_EQ(s.n, 1);
    seen s2 = {.stop_at = -1};
    CHECK(parse("0\n5\na\nb\n", 0, &s2)); /* fewer lines than the count */
    CHECK_EQ(s2.n, 2);
    seen s3 = {.stop_at = 0};
    CHECK(parse("0\n3\na\nb\nc\n", 0, &s3)); /* the callback stops it */
    CHECK_EQ(s3.n, 1);
}
