/*
 * tool_topics.c - `sluice topics` / kafka-topics.sh: create, list, describe,
 * alter (partitions) and delete topics with Apache Kafka 4.x's flags, output
 * and exit codes (TopicCommand). Reads go through kclient (topic ids and
 * ELR need Metadata v12 / DescribeTopicPartitions); writes and configs go
 * through librdkafka's admin API.
 */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "tools/kclient.h"
#include "tools/tool_rdkafka.h"

static const tool_optdef topic_opts[] = {
    {"alter", TOOL_FLAG,
     "Alter the number of partitions and replica assignment. (To alter topic "
     "configurations, the kafka-configs tool can be used.)"},
    {"at-min-isr-partitions", TOOL_FLAG,
     "If set when describing topics, only show partitions whose isr count is "
     "equal to the configured minimum."},
    {"bootstrap-server", TOOL_ARG, "REQUIRED: The Kafka server to connect to."},
    {"command-config", TOOL_ARG,
     "Property file containing configs to be passed to Admin Client."},
    {"config", TOOL_ARG,
     "A topic configuration override for the topic being created. It is "
     "supported only in combination with --create."},
    {"create", TOOL_FLAG, "Create a new topic."},
    {"delete", TOOL_FLAG, "Delete a topic."},
    {"delete-config", TOOL_ARG,
     "This option is no longer supported and has been deprecated since 4.0"},
    {"describe", TOOL_FLAG, "List details for the given topics."},
    {"exclude-internal", TOOL_FLAG,
     "Exclude internal topics when listing or describing topics. By default, "
     "the internal topics are included."},
    {"if-exists", TOOL_FLAG,
     "If set when altering or deleting or describing topics, the action will "
     "only execute if the topic exists."},
    {"if-not-exists", TOOL_FLAG,
     "If set when creating topics, the create request will not fail if the "
     "topic already exists, but the request will still be sent."},
    {"list", TOOL_FLAG, "List all available topics."},
    {"partition-size-limit-per-response", TOOL_ARG,
     "The maximum partition size to be included in one "
     "DescribeTopicPartitions response."},
    {"partitions", TOOL_ARG,
     "The number of partitions for the topic being created or altered. If "
     "not supplied with --create, the topic uses the cluster default."},
    {"replica-assignment", TOOL_ARG,
     "A list of manual partition-to-broker assignments for the topic being "
     "created or altered."},
    {"replication-factor", TOOL_ARG,
     "The replication factor for each partition in the topic being created. "
     "If not supplied, the topic uses the cluster default."},
    {"topic", TOOL_ARG,
     "The topic to create, alter, describe or delete. It also accepts a "
     "regular expression, except for --create option."},
    {"topic-id", TOOL_ARG, "The topic-id to describe."},
    {"topics-with-overrides", TOOL_FLAG,
     "If set when describing topics, only show topics that have overridden "
     "configs."},
    {"unavailable-partitions", TOOL_FLAG,
     "If set when describing topics, only show partitions whose leader is "
     "not available."},
    {"under-min-isr-partitions", TOOL_FLAG,
     "If set when describing topics, only show partitions whose isr count is "
     "less than the configured minimum."},
    {"under-replicated-partitions", TOOL_FLAG,
     "If set when describing topics, only show under-replicated partitions."},
    {"version", TOOL_FLAG, "Display Kafka version."},
};

#define ERRPFX "Error while executing topic command : "

typedef struct topics_ctx {
    tool_args *a;
    tool_admin ad;
    kc_conn kc;
    bool kc_open;
} topics_ctx;

static int fail(const char *fmt, const char *arg) {
    printf(ERRPFX);
    printf(fmt, arg);
    printf("\n");
    return 1;
}

static bool kc_ready(topics_ctx *t, const char *call) {
    if (t->kc_open)
        return true;
    char err[256];
    if (!kc_connect(&t->kc, t->ad.bootstrap, t->ad.timeout_ms, err,
                    sizeof(err))) {
        printf(ERRPFX "Timed out waiting for a node assignment. Call: %s\n",
               call);
        fprintf(stderr, "(%s)\n", err);
        return false;
    }
    t->kc_open = true;
    return true;
}

/* Java's IncludeList: commas separate alternatives. */
static char *include_pattern(const char *topic) {
    char *p = xstrdup(topic);
    for (char *c = p; *c; c++)
        if (*c == ',')
            *c = '|';
    return p;
}

/* Sorted names of topics matching --topic (all when absent). Returns -1
 * when the metadata could not be read (message already printed). */
static int get_topics(topics_ctx *t, const char *call, char ***out) {
    *out = NULL;
    if (!kc_ready(t, call))
        return -1;
    kc_metadata md;
    if (!kc_metadata_get(&t->kc, NULL, -1, false, &md)) {
        printf(ERRPFX "metadata request failed. Call: %s\n", call);
        return -1;
    }
    const char *topic = tool_get(t->a, "topic");
    bool excl = tool_has(t->a, "exclude-internal");
    char *pat = topic ? include_pattern(topic) : NULL;
    char **names = xcalloc((size_t)md.ntopics + 1, sizeof(char *));
    int n = 0;
    for (int i = 0; i < md.ntopics; i++) {
        const char *nm = md.topics[i].name;
        if (md.topics[i].error)
            continue;
        if (excl && tool_topic_is_internal(nm))
            continue;
        if (pat && !tool_topic_matches(pat, nm))
            continue;
        names[n++] = xstrdup(nm);
    }
    free(pat);
    kc_metadata_free(&md);
    qsort(names, (size_t)n, sizeof(char *), tool_strcmp_p);
    *out = names;
    return n;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int ensure_exists(topics_ctx *t, int n) {
    const char *topic = tool_get(t->a, "topic");
    if (n == 0 && topic && *topic && !tool_has(t->a, "if-exists")) {
        printf(ERRPFX "Topic '%s' does not exist as expected\n", topic);
        return 1;
    }
    return 0;
}

/* "1:2,3:4" -> per-partition broker lists. Returns partition count or -1. */
static int parse_assignment(const char *s, int32_t ***lists, int **lens) {
    char *copy = xstrdup(s), *save = NULL;
    int n = 0, cap = 8, rf = -1;
    *lists = xcalloc((size_t)cap, sizeof(int32_t *));
    *lens = xcalloc((size_t)cap, sizeof(int));
    for (char *p = strtok_r(copy, ",", &save); p;
         p = strtok_r(NULL, ",", &save)) {
        if (n == cap) {
            cap *= 2;
            *lists = xrealloc(*lists, (size_t)cap * sizeof(int32_t *));
            *lens = xrealloc(*lens, (size_t)cap * sizeof(int));
        }
        int32_t *l = xcalloc(strlen(p) + 1, sizeof(int32_t));
        int k = 0;
        char *s2 = NULL;
        for (char *b = strtok_r(p, ":", &s2); b; b = strtok_r(NULL, ":", &s2)) {
            while (*b == ' ')
                b++;
            int64_t v;
            char *e = b + strlen(b);
            while (e > b && e[-1] == ' ')
                *--e = 0;
            if (!tool_parse_i64(b, &v)) {
                printf(ERRPFX "For input string: \"%s\"\n", b);
                free(l);
                free(copy);
                return -1;
            }
            for (int j = 0; j < k; j++)
                if (l[j] == v) {
                    printf(ERRPFX "Partition replica lists may not contain "
                                  "duplicate entries: %d\n",
                           (int)v);
                    free(l);
                    free(copy);
                    return -1;
                }
            l[k++] = (int32_t)v;
        }
        if (rf < 0)
            rf = k;
        (*lists)[n] = l;
        (*lens)[n] = k;
        if (k != rf) {
            printf(ERRPFX "Partition %d has different replication factor: [",
                   n);
            for (int j = 0; j < k; j++)
                printf("%s%d", j ? ", " : "", l[j]);
            printf("]\n");
            free(copy);
            return -1;
        }
        n++;
    }
    free(copy);
    return n;
}

static int do_create(topics_ctx *t) {
    const char *name = tool_get(t->a, "topic");
    int64_t parts = -1, rf = -1;
    if (tool_has(t->a, "partitions") &&
        !tool_parse_i64(tool_get(t->a, "partitions"), &parts))
        return fail("For input string: \"%s\"", tool_get(t->a, "partitions"));
    if (tool_has(t->a, "replication-factor") &&
        !tool_parse_i64(tool_get(t->a, "replication-factor"), &rf))
        return fail("For input string: \"%s\"",
                    tool_get(t->a, "replication-factor"));
    if (strchr(name, '.') && strchr(name, '_'))
        printf("WARNING: Due to limitations in metric names, topics with a "
               "period ('.') or underscore ('_') could collide. To avoid "
               "issues it is best to use either, but not both.\n");
    if (tool_has(t->a, "replication-factor") && (rf > 32767 || rf < 1)) {
        fprintf(stderr, "The replication factor must be between 1 and 32767 "
                        "inclusive\n");
        return 1;
    }
    if (tool_has(t->a, "partitions") && parts < 1) {
        fprintf(stderr, "The partitions must be greater than 0\n");
        return 1;
    }
    const char **cfgs;
    int ncfg = tool_getall(t->a, "config", &cfgs);
    for (int i = 0; i < ncfg; i++)
        if (!strchr(cfgs[i], '=')) {
            fprintf(stderr, "requirement failed: Invalid topic config: all "
                            "configs to be added must be in the format "
                            "\"key=val\".\n");
            return 1;
        }
    int32_t **alists = NULL;
    int *alens = NULL;
    int nassign = 0;
    const char *ra = tool_get(t->a, "replica-assignment");
    if (ra && *ra) {
        nassign = parse_assignment(ra, &alists, &alens);
        if (nassign < 0)
            return 1;
        parts = nassign;
        rf = -1;
    }
    char err[512];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(name, (int)parts, (int)rf, err, sizeof(err));
    if (!nt)
        return fail("%s", err);
    for (int i = 0; i < nassign; i++) {
        rd_kafka_NewTopic_set_replica_assignment(
            nt, i, alists[i], (size_t)alens[i], err, sizeof(err));
        free(alists[i]);
    }
    free(alists);
    free(alens);
    for (int i = 0; i < ncfg; i++) {
        char *k = xstrdup(cfgs[i]);
        char *eq = strchr(k, '=');
        *eq = 0;
        char *key = k, *val = eq + 1;
        while (*key == ' ')
            key++;
        for (char *e = key + strlen(key); e > key && e[-1] == ' ';)
            *--e = 0;
        while (*val == ' ')
            val++;
        rd_kafka_NewTopic_set_config(nt, key, val);
        free(k);
    }
    rd_kafka_AdminOptions_t *o =
        tool_admin_options(&t->ad, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_CreateTopics(t->ad.rk, &nt, 1, o, t->ad.q);
    rd_kafka_event_t *ev = tool_admin_wait(
        &t->ad, RD_KAFKA_EVENT_CREATETOPICS_RESULT, err, sizeof(err));
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_NewTopic_destroy(nt);
    if (!ev) {
        printf(ERRPFX "Timed out waiting for a node assignment. Call: "
                      "createTopics\n");
        return 1;
    }
    int rc = 0;
    if (rd_kafka_event_error(ev)) {
        rc = fail("%s", rd_kafka_event_error_string(ev));
    } else {
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(
                rd_kafka_event_CreateTopics_result(ev), &n);
        for (size_t i = 0; i < n; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
            if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS &&
                tool_has(t->a, "if-not-exists"))
                continue;
            if (e) {
                const char *msg = rd_kafka_topic_result_error_string(res[i]);
                rc = fail("%s", msg && *msg ? msg : rd_kafka_err2str(e));
            } else {
                printf("Created topic %s.\n", name);
            }
        }
    }
    rd_kafka_event_destroy(ev);
    return rc;
}

static int do_list(topics_ctx *t) {
    char **names;
    int n = get_topics(t, "listTopics", &names);
    if (n < 0)
        return 1;
    for (int i = 0; i < n; i++)
        printf("%s\n", names[i]);
    /* Kafka prints the joined list with println: an empty list still
     * prints one empty line. */
    if (n == 0)
        printf("\n");
    free_names(names, n);
    return 0;
}

static int do_delete(topics_ctx *t) {
    char **names;
    int n = get_topics(t, "listTopics", &names);
    if (n < 0)
        return 1;
    int rc = ensure_exists(t, n);
    if (rc || n == 0) {
        free_names(names, n);
        return rc;
    }
    rd_kafka_DeleteTopic_t **dt = xcalloc((size_t)n, sizeof(*dt));
    for (int i = 0; i < n; i++)
        dt[i] = rd_kafka_DeleteTopic_new(names[i]);
    rd_kafka_AdminOptions_t *o =
        tool_admin_options(&t->ad, RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_DeleteTopics(t->ad.rk, dt, (size_t)n, o, t->ad.q);
    char err[256];
    rd_kafka_event_t *ev = tool_admin_wait(
        &t->ad, RD_KAFKA_EVENT_DELETETOPICS_RESULT, err, sizeof(err));
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_DeleteTopic_destroy_array(dt, (size_t)n);
    free(dt);
    if (!ev) {
        printf(ERRPFX "%s Call: deleteTopics\n", err);
        free_names(names, n);
        return 1;
    }
    if (rd_kafka_event_error(ev)) {
        rc = fail("%s", rd_kafka_event_error_string(ev));
    } else {
        size_t nr;
        const rd_kafka_topic_result_t **res =
            rd_kafka_DeleteTopics_result_topics(
                rd_kafka_event_DeleteTopics_result(ev), &nr);
        for (size_t i = 0; i < nr && !rc; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
            if (e) {
                const char *msg = rd_kafka_topic_result_error_string(res[i]);
                rc = fail("%s", msg && *msg ? msg : rd_kafka_err2str(e));
            }
        }
    }
    rd_kafka_event_destroy(ev);
    free_names(names, n);
    return rc;
}

static int do_alter(topics_ctx *t) {
    int64_t parts;
    if (!tool_parse_i64(tool_get(t->a, "partitions"), &parts))
        return fail("For input string: \"%s\"", tool_get(t->a, "partitions"));
    char **names;
    int n = get_topics(t, "listTopics", &names);
    if (n < 0)
        return 1;
    int rc = ensure_exists(t, n);
    if (rc || n == 0) {
        free_names(names, n);
        return rc;
    }
    int32_t **alists = NULL;
    int *alens = NULL;
    int nassign = 0;
    const char *ra = tool_get(t->a, "replica-assignment");
    if (ra && *ra && (nassign = parse_assignment(ra, &alists, &alens)) < 0) {
        free_names(names, n);
        return 1;
    }
    kc_metadata md = {0};
    if (nassign &&
        !kc_metadata_get(&t->kc, (const char *const *)names, n, false, &md)) {
        printf(ERRPFX "metadata request failed\n");
        free_names(names, n);
        return 1;
    }
    rd_kafka_NewPartitions_t **np = xcalloc((size_t)n, sizeof(*np));
    char err[512];
    for (int i = 0; i < n; i++) {
        np[i] = rd_kafka_NewPartitions_new(names[i], (size_t)parts, err,
                                           sizeof(err));
        if (nassign) {
            int cur = 0;
            for (int j = 0; j < md.ntopics; j++)
                if (!strcmp(md.topics[j].name, names[i]))
                    cur = md.topics[j].nparts;
            for (int p = cur; p < nassign; p++)
                rd_kafka_NewPartitions_set_replica_assignment(
                    np[i], p - cur, alists[p], (size_t)alens[p], err,
                    sizeof(err));
        }
    }
    for (int p = 0; p < nassign; p++)
        free(alists[p]);
    free(alists);
    free(alens);
    kc_metadata_free(&md);
    rd_kafka_AdminOptions_t *o =
        tool_admin_options(&t->ad, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS);
    rd_kafka_CreatePartitions(t->ad.rk, np, (size_t)n, o, t->ad.q);
    rd_kafka_event_t *ev = tool_admin_wait(
        &t->ad, RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT, err, sizeof(err));
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_NewPartitions_destroy_array(np, (size_t)n);
    free(np);
    if (!ev) {
        printf(ERRPFX "%s Call: createPartitions\n", err);
        free_names(names, n);
        return 1;
    }
    if (rd_kafka_event_error(ev)) {
        rc = fail("%s", rd_kafka_event_error_string(ev));
    } else {
        size_t nr;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreatePartitions_result_topics(
                rd_kafka_event_CreatePartitions_result(ev), &nr);
        for (size_t i = 0; i < nr && !rc; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
            if (e) {
                const char *msg = rd_kafka_topic_result_error_string(res[i]);
                rc = fail("%s", msg && *msg ? msg : rd_kafka_err2str(e));
            }
        }
    }
    rd_kafka_event_destroy(ev);
    free_names(names, n);
    return rc;
}

/* Non-default config entries ("k=v,k=v") and min.insync.replicas. */
typedef struct topic_cfg {
    char *overrides;
    int min_isr;
} topic_cfg;

static bool describe_configs(topics_ctx *t, char **names, int n,
                             topic_cfg *out) {
    if (n == 0)
        return true;
    rd_kafka_ConfigResource_t **cr = xcalloc((size_t)n, sizeof(*cr));
    for (int i = 0; i < n; i++) {
        cr[i] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, names[i]);
        out[i].min_isr = 1;
        out[i].overrides = xstrdup("");
    }
    rd_kafka_AdminOptions_t *o =
        tool_admin_options(&t->ad, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_DescribeConfigs(t->ad.rk, cr, (size_t)n, o, t->ad.q);
    char err[256];
    rd_kafka_event_t *ev = tool_admin_wait(
        &t->ad, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, err, sizeof(err));
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ConfigResource_destroy_array(cr, (size_t)n);
    free(cr);
    if (!ev) {
        printf(ERRPFX "%s Call: describeConfigs\n", err);
        return false;
    }
    bool ok = !rd_kafka_event_error(ev);
    if (!ok)
        printf(ERRPFX "%s\n", rd_kafka_event_error_string(ev));
    size_t nr = 0;
    const rd_kafka_ConfigResource_t **res =
        ok ? rd_kafka_DescribeConfigs_result_resources(
                 rd_kafka_event_DescribeConfigs_result(ev), &nr)
           : NULL;
    for (size_t i = 0; i < nr; i++) {
        const char *rn = rd_kafka_ConfigResource_name(res[i]);
        int idx = -1;
        for (int j = 0; j < n; j++)
            if (!strcmp(names[j], rn))
                idx = j;
        if (idx < 0)
            continue;
        size_t ne;
        const rd_kafka_ConfigEntry_t **ents =
            rd_kafka_ConfigResource_configs(res[i], &ne);
        buf b;
        buf_init(&b, 128);
        for (size_t k = 0; k < ne; k++) {
            const char *nm = rd_kafka_ConfigEntry_name(ents[k]);
            const char *v = rd_kafka_ConfigEntry_value(ents[k]);
            if (!strcmp(nm, "min.insync.replicas") && v)
                out[idx].min_isr = atoi(v);
            if (rd_kafka_ConfigEntry_source(ents[k]) ==
                RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG)
                continue;
            buf_printf(&b, "%s%s=%s", b.len ? "," : "", nm, v ? v : "null");
        }
        buf_put_u8(&b, 0);
        free(out[idx].overrides);
        out[idx].overrides = (char *)b.data;
    }
    rd_kafka_event_destroy(ev);
    return ok;
}

static void print_list(const char *label, const int32_t *v, int n) {
    printf("\t%s: ", label);
    if (n < 0) {
        printf("N/A");
        return;
    }
    for (int i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", v[i]);
}

static int cmp_part(const void *a, const void *b) {
    const kc_partition *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static int do_describe(topics_ctx *t) {
    char **names = NULL;
    int n;
    const char *tid = tool_get(t->a, "topic-id");
    if (!kc_ready(t, "describeTopics"))
        return 1;
    if (tid && strcmp(tid, "AAAAAAAAAAAAAAAAAAAAAA") != 0) {
        kc_metadata all;
        if (!kc_metadata_get(&t->kc, NULL, -1, false, &all))
            return fail("%s", "metadata request failed");
        names = xcalloc(2, sizeof(char *));
        n = 0;
        for (int i = 0; i < all.ntopics; i++) {
            char s[23];
            uuid_to_string(all.topics[i].id, s);
            if (!strcmp(s, tid))
                names[n++] = xstrdup(all.topics[i].name);
        }
        kc_metadata_free(&all);
        if (n == 0 && !tool_has(t->a, "if-exists")) {
            printf(ERRPFX "TopicId '%s' does not exist as expected\n", tid);
            free(names);
            return 1;
        }
    } else {
        n = get_topics(t, "listTopics", &names);
        if (n < 0)
            return 1;
        int rc = ensure_exists(t, n);
        if (rc) {
            free_names(names, n);
            return rc;
        }
    }
    if (n == 0) {
        free_names(names, n);
        return 0;
    }
    kc_metadata md;
    if (!kc_metadata_get(&t->kc, (const char *const *)names, n, true, &md)) {
        free_names(names, n);
        return fail("%s", "metadata request failed");
    }
    topic_cfg *cfg = xcalloc((size_t)n, sizeof(topic_cfg));
    int rc = describe_configs(t, names, n, cfg) ? 0 : 1;
    bool urp = tool_has(t->a, "under-replicated-partitions");
    bool unavail = tool_has(t->a, "unavailable-partitions");
    bool under_min = tool_has(t->a, "under-min-isr-partitions");
    bool at_min = tool_has(t->a, "at-min-isr-partitions");
    bool overrides = tool_has(t->a, "topics-with-overrides");
    bool describe_configs_line = !urp && !unavail && !under_min && !at_min;
    for (int i = 0; i < n && !rc; i++) {
        kc_topic *tp = NULL;
        for (int j = 0; j < md.ntopics; j++)
            if (!strcmp(md.topics[j].name, names[i]))
                tp = &md.topics[j];
        if (!tp || tp->error || tp->nparts == 0)
            continue;
        qsort(tp->parts, (size_t)tp->nparts, sizeof(kc_partition), cmp_part);
        if (describe_configs_line && (!overrides || *cfg[i].overrides)) {
            printf("Topic: %s", tp->name);
            static const uint8_t zero[16];
            if (memcmp(tp->id, zero, 16)) {
                char s[23];
                uuid_to_string(tp->id, s);
                printf("\tTopicId: %s", s);
            }
            printf("\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: "
                   "%s\n",
                   tp->nparts, tp->parts[0].nreplicas, cfg[i].overrides);
        }
        if (overrides)
            continue;
        for (int j = 0; j < tp->nparts; j++) {
            kc_partition *p = &tp->parts[j];
            bool has_leader = p->leader >= 0;
            bool live = false;
            for (int b = 0; b < md.nbrokers; b++)
                live |= md.brokers[b].id == p->leader;
            bool show =
                describe_configs_line || (urp && p->nreplicas - p->nisr > 0) ||
                (unavail && (!has_leader || !live)) ||
                (under_min && (!has_leader || p->nisr < cfg[i].min_isr)) ||
                (at_min && p->nisr == cfg[i].min_isr);
            if (!show)
                continue;
            printf("\tTopic: %s\tPartition: %d\tLeader: ", tp->name, p->id);
            if (has_leader)
                printf("%d", p->leader);
            else
                printf("none");
            print_list("Replicas", p->replicas, p->nreplicas);
            print_list("Isr", p->isr, p->nisr);
            print_list("Elr", p->elr, md.has_elr ? p->nelr : -1);
            print_list("LastKnownElr", p->last_elr,
                       md.has_elr ? p->nlast_elr : -1);
            printf("\n");
        }
    }
    for (int i = 0; i < n; i++)
        free(cfg[i].overrides);
    free(cfg);
    kc_metadata_free(&md);
    free_names(names, n);
    return rc;
}

int tool_topics_main(int argc, char **argv) {
    tool_args a;
    int rc = tool_parse(&a, "kafka-topics.sh",
                        "This tool helps to create, delete, describe, or "
                        "change a topic.",
                        topic_opts, SL_ARRAY_LEN(topic_opts), argc, argv);
    if (rc >= 0)
        return rc;
    if (tool_has(&a, "version")) {
        printf("4.3.1 (sluice)\n");
        tool_args_free(&a);
        return 0;
    }
    if (argc <= 1) {
        rc = tool_usage_error(&a,
                              "Create, delete, describe, or change a topic.");
        goto out;
    }
    int actions = tool_has(&a, "create") + tool_has(&a, "list") +
                  tool_has(&a, "alter") + tool_has(&a, "describe") +
                  tool_has(&a, "delete");
    if (actions != 1) {
        rc = tool_usage_error(&a, "Command must include exactly one action: "
                                  "--list, --describe, --create, --alter or "
                                  "--delete");
        goto out;
    }
    if (tool_has(&a, "delete-config"))
        fprintf(stderr, "delete-config option is no longer supported and "
                        "deprecated since version 4.0. The config will be "
                        "fully removed in future releases.\n");
    if (!tool_has(&a, "bootstrap-server")) {
        fprintf(stderr, "--bootstrap-server must be specified\n");
        rc = 1;
        goto out;
    }
    if (!tool_has(&a, "list") && !tool_has(&a, "describe") &&
        !tool_has(&a, "topic")) {
        rc = tool_usage_error(&a, "Missing required argument \"[topic]\"");
        goto out;
    }
    if (tool_has(&a, "alter") && tool_has(&a, "config")) {
        rc = tool_usage_error(&a, "Option \"[alter]\" can't be used with "
                                  "option \"[config]\" (To alter topic "
                                  "configurations, the kafka-configs tool can "
                                  "be used.)");
        goto out;
    }
    if (tool_has(&a, "alter") && !tool_has(&a, "partitions")) {
        rc = tool_usage_error(&a, "Missing required argument \"[partitions]\"");
        goto out;
    }
    static const struct {
        const char *opt;
        const char *allowed[3];
    } only[] = {
        {"config", {"create", "alter", NULL}},
        {"partitions", {"create", "alter", NULL}},
        {"replication-factor", {"create", NULL, NULL}},
        {"replica-assignment", {"create", "alter", NULL}},
        {"under-replicated-partitions", {"describe", NULL, NULL}},
        {"topics-with-overrides", {"describe", NULL, NULL}},
        {"if-exists", {"alter", "delete", "describe"}},
        {"if-not-exists", {"create", NULL, NULL}},
        {"exclude-internal", {"list", "describe", NULL}},
    };
    static const char *const actions_names[] = {"create", "list", "alter",
                                                "describe", "delete"};
    const char *act = NULL;
    for (size_t i = 0; i < SL_ARRAY_LEN(actions_names); i++)
        if (tool_has(&a, actions_names[i]))
            act = actions_names[i];
    for (size_t i = 0; i < SL_ARRAY_LEN(only); i++) {
        if (!tool_has(&a, only[i].opt))
            continue;
        bool ok = false;
        for (int j = 0; j < 3; j++)
            ok |= only[i].allowed[j] && !strcmp(only[i].allowed[j], act);
        if (!ok) {
            rc = tool_usage_error(&a,
                                  "Option \"[%s]\" can't be used with "
                                  "option \"[%s]\"",
                                  only[i].opt, act);
            goto out;
        }
    }
    if (tool_has(&a, "create") && tool_has(&a, "replica-assignment") &&
        (tool_has(&a, "partitions") || tool_has(&a, "replication-factor"))) {
        rc = tool_usage_error(&a, "Option \"[replica-assignment]\" can't be "
                                  "used with option \"[partitions]\"");
        goto out;
    }
    topics_ctx t = {.a = &a};
    if (!tool_admin_open(&t.ad, tool_get(&a, "bootstrap-server"),
                         tool_get(&a, "command-config"), 60000)) {
        rc = 1;
        goto out;
    }
    if (tool_has(&a, "create"))
        rc = do_create(&t);
    else if (tool_has(&a, "list"))
        rc = do_list(&t);
    else if (tool_has(&a, "describe"))
        rc = do_describe(&t);
    else if (tool_has(&a, "delete"))
        rc = do_delete(&t);
    else
        rc = do_alter(&t);
    if (t.kc_open)
        kc_close(&t.kc);
    tool_admin_close(&t.ad);
out:
    tool_args_free(&a);
    return rc;
}
