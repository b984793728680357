/* core/list: Kafka's ConfigDef LIST split, trimmed.split("\\s*,\\s*", -1)
 * with a blank value an empty list. The "kafka" column was printed by
 * ConfigDef.parseType(..., Type.LIST) of kafka-clients-4.3.1.jar. */
#include <stdio.h>
#include <string.h>

#include "core/list.h"
#include "test.h"

/* The entries joined with '|', for comparing whole lists at once. */
static void joined(const char *s, bool skip_empty, char *out, size_t cap) {
    list_iter it = list_start(s, skip_empty);
    const char *item;
    size_t len, o = 0;
    out[0] = 0;
    int n = 0;
    while (list_next(&it, &item, &len))
        o += (size_t)snprintf(out + o, cap - o, "%s%.*s", n++ ? "|" : "",
                              (int)len, item);
    snprintf(out + o, cap - o, "#%d", n);
}

TEST(list_splits_as_kafka_configdef) {
    static const struct {
        const char *in, *kafka, *skipping;
    } v[] = {
        {NULL, "#0", "#0"},
        {"", "#0", "#0"},
        {" \t ", "#0", "#0"},
        {"a", "a#1", "a#1"},
        {" a , b\t,c ", "a|b|c#3", "a|b|c#3"},
        {"a,,b", "a||b#3", "a|b#2"},
        {"a, ,b", "a||b#3", "a|b#2"},
        {"a,", "a|#2", "a#1"},
        {",a", "|a#2", "a#1"},
        {",", "|#2", "#0"},
        {"PLAINTEXT://:9092, CONTROLLER://h:9093",
         "PLAINTEXT://:9092|CONTROLLER://h:9093#2",
         "PLAINTEXT://:9092|CONTROLLER://h:9093#2"},
        {"x y,z", "x y|z#2", "x y|z#2"}, /* inner spaces stay */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char got[256];
        joined(v[i].in, false, got, sizeof got);
        CHECK_STR(got, v[i].kafka);
        joined(v[i].in, true, got, sizeof got);
        CHECK_STR(got, v[i].skipping);
    }
}
