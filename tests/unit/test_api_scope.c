/*
 * test_api_scope.c - the listener scope of every api in handlers.def
 * (brk_api_in_scope: broker listener / controller listener) is the
 * "listeners" array of its request JSON in Kafka 4.3.1's spec. The spec is
 * read from $SLUICE_KAFKA_SPEC, else ../shared/kafka-spec (the main
 * checkout) or ../../shared/kafka-spec (a worktree under wt/), as the
 * Makefile's SPEC; the test fails when none is there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "broker/broker.h"
#include "proto/proto.h"
#include "test.h"

static const char *spec_dir(void) {
    static const char *const cands[] = {"../shared/kafka-spec",
                                        "../../shared/kafka-spec"};
    const char *env = getenv("SLUICE_KAFKA_SPEC");
    struct stat st;
    if (env && *env)
        return env;
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/message", cands[i]);
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            return cands[i];
    }
    return NULL;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    fclose(f);
    s[got] = 0;
    return s;
}

/* PROTO_LISTENER_BROKER / _CONTROLLER bits of the "listeners" array, -1 if
 * the file has none (no JSON parser: the array holds plain strings). */
static int spec_listeners(const char *json) {
    const char *p = strstr(json, "\"listeners\"");
    if (!p)
        return -1;
    const char *open = strchr(p, '['), *close = open ? strchr(open, ']') : 0;
    if (!close)
        return -1;
    int bits = 0;
    for (const char *q = open; q && q < close; q = strchr(q + 1, '"')) {
        if (*q != '"')
            continue;
        if (!strncmp(q, "\"broker\"", 8))
            bits |= PROTO_LISTENER_BROKER;
        else if (!strncmp(q, "\"controller\"", 12))
            bits |= PROTO_LISTENER_CONTROLLER;
        q = strchr(q + 1, '"'); /* skip to the closing quote */
        if (!q)
            break;
    }
    return bits;
}

TEST(api_scope_matches_spec_listeners) {
    const char *dir = spec_dir();
    if (!dir) {
        test_fail(__FILE__, __LINE__,
                  "Kafka spec not found: set SLUICE_KAFKA_SPEC to the "
                  "kafka-spec folder");
        return;
    }
    size_t n;
    const brk_api *apis = brk_api_list(&n);
    CHECK(n > 40);
    int checked = 0, on_ctl = 0;
    for (size_t i = 0; i < n; i++) {
        const proto_api_info *pi = proto_api(apis[i].key);
        CHECK(pi != NULL);
        if (!pi)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/message/%sRequest.json", dir, pi->name);
        char *json = slurp(path);
        if (!json) {
            test_fail(__FILE__, __LINE__, "cannot read %s", path);
            continue;
        }
        /* "apiKey": N, with or without the space (BrokerRegistration's
         * file has none) */
        const char *k = strstr(json, "\"apiKey\"");
        CHECK(k != NULL);
        if (k) {
            k += 8;
            while (*k == ' ' || *k == ':')
                k++;
            CHECK_EQ(atoi(k), apis[i].key);
        }
        int want = spec_listeners(json);
        free(json);
        CHECK(want > 0);
        bool b = brk_api_in_scope(&apis[i], false);
        bool c = brk_api_in_scope(&apis[i], true);
        if (b != !!(want & PROTO_LISTENER_BROKER) ||
            c != !!(want & PROTO_LISTENER_CONTROLLER))
            test_fail(__FILE__, __LINE__,
                      "%s (key %d): broker %d controller %d, spec %d", pi->name,
                      apis[i].key, b, c, want);
        checked++;
        on_ctl += c;
    }
    CHECK_EQ(checked, (int)n);
    /* Metadata is broker-only, CreateTopics both (spot checks). */
    CHECK(!brk_api_in_scope(brk_api_find(3), true));
    CHECK(brk_api_in_scope(brk_api_find(3), false));
    CHECK(brk_api_in_scope(brk_api_find(19), true));
    CHECK(on_ctl > 10 && on_ctl < checked);
}
