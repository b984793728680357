/*
 * tool_offsets.c - offset-oriented tools with Kafka 4.x's flags and output:
 *   get-offsets (kafka-get-offsets.sh, GetOffsetShell): "topic:part:offset"
 *   delete-records (kafka-delete-records.sh, DeleteRecordsCommand)
 *   broker-api-versions (kafka-broker-api-versions.sh)
 * ListOffsets and ApiVersions go through kclient (librdkafka 2.0 has no
 * max-timestamp spec nor per-broker version listing); DeleteRecords through
 * librdkafka.
 */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "tools/kclient.h"
#include "tools/tool_rdkafka.h"
#include "tools/tool_json.h"

/* One connection per broker id, opened on first use. */
typedef struct conn_pool {
    kc_conn *conns;
    int32_t *ids;
    int n;
    int timeout_ms;
} conn_pool;

static kc_conn *pool_get(conn_pool *p, const kc_metadata *md, int32_t id) {
    for (int i = 0; i < p->n; i++)
        if (p->ids[i] == id)
            return &p->conns[i];
    for (int b = 0; b < md->nbrokers; b++) {
        if (md->brokers[b].id != id)
            continue;
        kc_conn c;
        char err[256];
        if (!kc_connect_node(&c, md->brokers[b].host, md->brokers[b].port,
                             p->timeout_ms, err, sizeof(err)))
            return NULL;
        p->conns = xrealloc(p->conns, (size_t)(p->n + 1) * sizeof(kc_conn));
        p->ids = xrealloc(p->ids, (size_t)(p->n + 1) * sizeof(int32_t));
        p->conns[p->n] = c;
        p->ids[p->n] = id;
        return &p->conns[p->n++];
    }
    return NULL;
}

static void pool_free(conn_pool *p) {
    for (int i = 0; i < p->n; i++)
        kc_close(&p->conns[i]);
    free(p->conns);
    free(p->ids);
}

/* ========================== get-offsets ============================== */

static const tool_optdef go_opts[] = {
    {"bootstrap-server", TOOL_ARG,
     "REQUIRED. The server(s) to connect to in the form "
     "HOST1:PORT1,HOST2:PORT2."},
    {"broker-list", TOOL_ARG,
     "DEPRECATED (Kafka 2.x), kept for old scripts: same as "
     "--bootstrap-server."},
    {"command-config", TOOL_ARG,
     "Property file containing configs to be passed to Admin Client."},
    {"exclude-internal-topics", TOOL_FLAG,
     "By default, internal topics are included. If specified, internal "
     "topics are excluded."},
    {"partitions", TOOL_ARG,
     "Comma separated list of partition ids to get the offsets for. If not "
     "present, all partitions of the authorized topics are queried. Cannot "
     "be used if --topic-partitions is present."},
    {"time", TOOL_ARG,
     "timestamp of the offsets before that. <timestamp> / -1 or latest / -2 "
     "or earliest / -3 or max-timestamp / -4 or earliest-local / -5 or "
     "latest-tiered (default: latest)"},
    {"topic", TOOL_ARG,
     "The topic to get the offsets for. It also accepts a regular "
     "expression. If not present, all authorized topics are queried. Cannot "
     "be used if --topic-partitions is present."},
    {"topic-partitions", TOOL_ARG,
     "Comma separated list of topic-partition patterns to get the offsets "
     "for, e.g. topic1:1,topic2:0-3,topic3,topic4:5-,topic5:-3"},
    {"version", TOOL_FLAG, "Display Kafka version."},
};

typedef struct tp_rule {
    char *topic_re; /* NULL: any */
    int lo, hi;     /* [lo, hi) */
} tp_rule;

static bool parse_rule(const char *spec, tp_rule *r) {
    memset(r, 0, sizeof(*r));
    r->hi = INT32_MAX;
    const char *colon = strrchr(spec, ':');
    char *topic =
        colon ? xstrndup(spec, (size_t)(colon - spec)) : xstrdup(spec);
    r->topic_re = *topic ? topic : (free(topic), NULL);
    if (!colon)
        return true;
    const char *ps = colon + 1;
    const char *dash = strchr(ps, '-');
    int64_t v;
    if (!dash) {
        if (!tool_parse_i64(ps, &v))
            return false;
        r->lo = (int)v;
        r->hi = (int)v + 1;
        return true;
    }
    char *lo = xstrndup(ps, (size_t)(dash - ps));
    bool ok = true;
    if (*lo) {
        ok = tool_parse_i64(lo, &v);
        r->lo = (int)v;
    }
    free(lo);
    if (ok && dash[1]) {
        ok = tool_parse_i64(dash + 1, &v);
        r->hi = (int)v;
    }
    return ok && (*ps != '-' || dash[1]);
}

typedef struct go_row {
    char key[300]; /* "topic-part": Kafka sorts by TopicPartition.toString */
    char *topic;
    int32_t part;
    int64_t off;
} go_row;

static int cmp_row(const void *a, const void *b) {
    return strcmp(((const go_row *)a)->key, ((const go_row *)b)->key);
}

static int terse(const char *msg) {
    fprintf(stderr, "Error occurred: %s\n", msg);
    return 1;
}

int tool_get_offsets_main(int argc, char **argv) {
    tool_args a;
    int rc = tool_parse(&a, "kafka-get-offsets.sh",
                        "An interactive shell for getting topic-partition "
                        "offsets.",
                        go_opts, SL_ARRAY_LEN(go_opts), argc, argv);
    if (rc >= 0)
        return rc;
    tp_rule *rules = NULL;
    int nrules = 0;
    tool_props props = {0};
    kc_conn kc = {.fd = -1};
    kc_metadata md = {0};
    conn_pool pool = {0};
    go_row *rows = NULL;
    int nrows = 0;
    if (tool_has(&a, "version")) {
        printf("4.3.1 (sluice)\n");
        rc = 0;
        goto out;
    }
    if (argc <= 1) {
        rc = tool_usage_error(&a, "An interactive shell for getting "
                                  "topic-partition offsets.");
        goto out;
    }
    const char *bootstrap = tool_get(&a, "bootstrap-server");
    if (!bootstrap)
        bootstrap = tool_get(&a, "broker-list");
    if (!bootstrap) {
        rc = tool_usage_error(&a, "Missing required argument "
                                  "\"[bootstrap-server]\"");
        goto out;
    }
    if (tool_has(&a, "topic-partitions") &&
        (tool_has(&a, "topic") || tool_has(&a, "partitions"))) {
        rc = terse("--topic-partitions cannot be used with --topic or "
                   "--partitions");
        goto out;
    }
    const char *tm = tool_get_or(&a, "time", "latest");
    int64_t spec;
    static const struct {
        const char *name;
        int64_t v;
    } names[] = {{"earliest", -2},      {"latest", -1},
                 {"max-timestamp", -3}, {"earliest-local", -4},
                 {"latest-tiered", -5}, {"earliest-pending-upload", -6}};
    bool found = false;
    for (size_t i = 0; i < SL_ARRAY_LEN(names); i++)
        if (!strcmp(tm, names[i].name)) {
            spec = names[i].v;
            found = true;
        }
    if (!found && !tool_parse_i64(tm, &spec)) {
        char m[400];
        snprintf(m, sizeof(m),
                 "Malformed time argument %s. Please use -1 or latest / -2 or "
                 "earliest / -3 or max-timestamp / -4 or earliest-local / -5 "
                 "or latest-tiered / -6 or earliest-pending-upload, or a "
                 "specified long format timestamp",
                 tm);
        rc = terse(m);
        goto out;
    }
    if (tool_has(&a, "topic-partitions")) {
        char *s = xstrdup(tool_get(&a, "topic-partitions")), *save = NULL;
        for (char *t = strtok_r(s, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            rules = xrealloc(rules, (size_t)(nrules + 1) * sizeof(tp_rule));
            if (!parse_rule(t, &rules[nrules++])) {
                char m[300];
                snprintf(m, sizeof(m), "Invalid rule specification: %s", t);
                free(s);
                rc = terse(m);
                goto out;
            }
        }
        free(s);
    } else {
        const char *topic = tool_get(&a, "topic");
        const char *parts = tool_get(&a, "partitions");
        if (!parts || !*parts) {
            rules = xcalloc(1, sizeof(tp_rule));
            rules[0] = (tp_rule){topic ? xstrdup(topic) : NULL, 0, INT32_MAX};
            nrules = 1;
        } else {
            char *s = xstrdup(parts), *save = NULL;
            for (char *t = strtok_r(s, ",", &save); t;
                 t = strtok_r(NULL, ",", &save)) {
                int64_t p;
                if (!tool_parse_i64(t, &p)) {
                    char m[300];
                    snprintf(m, sizeof(m),
                             "--partitions expects a comma separated list of "
                             "numeric partition ids, but received: %s",
                             parts);
                    free(s);
                    rc = terse(m);
                    goto out;
                }
                rules = xrealloc(rules, (size_t)(nrules + 1) * sizeof(tp_rule));
                rules[nrules++] = (tp_rule){topic ? xstrdup(topic) : NULL,
                                            (int)p, (int)p + 1};
            }
            free(s);
        }
    }
    if (tool_has(&a, "command-config") &&
        !tool_props_load(&props, tool_get(&a, "command-config"))) {
        rc = 1;
        goto out;
    }
    char err[256];
    int timeout = tool_timeout_ms(&props, 60000);
    if (!kc_connect(&kc, bootstrap, timeout, err, sizeof(err))) {
        char m[400];
        snprintf(m, sizeof(m), "Timed out waiting for a node assignment. (%s)",
                 err);
        rc = terse(m);
        goto out;
    }
    if (!kc_metadata_get(&kc, NULL, -1, false, &md)) {
        rc = terse("metadata request failed");
        goto out;
    }
    pool.timeout_ms = timeout;
    bool excl = tool_has(&a, "exclude-internal-topics");
    for (int i = 0; i < md.ntopics; i++) {
        kc_topic *t = &md.topics[i];
        if (t->error || (excl && tool_topic_is_internal(t->name)))
            continue;
        for (int j = 0; j < t->nparts; j++) {
            bool ok = false;
            for (int r = 0; r < nrules && !ok; r++) {
                if (rules[r].topic_re) {
                    char *pat = xstrdup(rules[r].topic_re);
                    for (char *c = pat; *c; c++)
                        if (*c == ',')
                            *c = '|';
                    bool m = tool_topic_matches(pat, t->name);
                    free(pat);
                    if (!m)
                        continue;
                }
                ok = t->parts[j].id >= rules[r].lo &&
                     t->parts[j].id < rules[r].hi;
            }
            if (!ok)
                continue;
            rows = xrealloc(rows, (size_t)(nrows + 1) * sizeof(go_row));
            go_row *row = &rows[nrows++];
            snprintf(row->key, sizeof(row->key), "%s-%d", t->name,
                     t->parts[j].id);
            row->topic = t->name;
            row->part = t->parts[j].id;
            row->off = -1;
            kc_conn *c = pool_get(&pool, &md, t->parts[j].leader);
            int16_t e = 0;
            if (!c ||
                !kc_list_offset(c, t->name, row->part, spec, &row->off, &e)) {
                fprintf(stderr,
                        "Skip getting offsets for topic-partition %s "
                        "due to error: leader not available\n",
                        row->key);
                row->off = -1;
            } else if (e) {
                fprintf(stderr,
                        "Skip getting offsets for topic-partition %s "
                        "due to error: %s: %s\n",
                        row->key, tool_java_exception(e),
                        tool_error_message(e));
                row->off = -1;
            }
        }
    }
    if (nrows == 0) {
        rc = terse("Could not match any topic-partitions with the specified "
                   "filters");
        goto out;
    }
    qsort(rows, (size_t)nrows, sizeof(go_row), cmp_row);
    for (int i = 0; i < nrows; i++)
        if (rows[i].off != -1)
            printf("%s:%d:%lld\n", rows[i].topic, rows[i].part,
                   (long long)rows[i].off);
    rc = 0;
out:
    free(rows);
    pool_free(&pool);
    kc_metadata_free(&md);
    if (kc.fd >= 0)
        kc_close(&kc);
    for (int i = 0; i < nrules; i++)
        free(rules[i].topic_re);
    free(rules);
    tool_props_free(&props);
    tool_args_free(&a);
    return rc;
}

/* ========================= delete-records ============================ */

static const tool_optdef dr_opts[] = {
    {"bootstrap-server", TOOL_ARG, "REQUIRED: The server to connect to."},
    {"command-config", TOOL_ARG,
     "A property file containing configs to be passed to Admin Client."},
    {"offset-json-file", TOOL_ARG,
     "REQUIRED: The JSON file with offset per partition. The format to use "
     "is: {\"partitions\": [{\"topic\": \"foo\", \"partition\": 1, "
     "\"offset\": 1}], \"version\":1 }"},
    {"version", TOOL_FLAG, "Display Kafka version."},
};

typedef struct dr_row {
    char key[300];
    rd_kafka_resp_err_t err;
    int64_t low;
} dr_row;

static int cmp_dr(const void *a, const void *b) {
    return strcmp(((const dr_row *)a)->key, ((const dr_row *)b)->key);
}

int tool_delete_records_main(int argc, char **argv) {
    tool_args a;
    int rc = tool_parse(&a, "kafka-delete-records.sh",
                        "This tool helps to delete records of the given "
                        "partitions down to the specified offset.",
                        dr_opts, SL_ARRAY_LEN(dr_opts), argc, argv);
    if (rc >= 0)
        return rc;
    tj *doc = NULL;
    char *text = NULL;
    tool_admin ad = {0};
    rd_kafka_topic_partition_list_t *pl = NULL;
    if (tool_has(&a, "version")) {
        printf("4.3.1 (sluice)\n");
        rc = 0;
        goto out;
    }
    if (!tool_has(&a, "bootstrap-server") ||
        !tool_has(&a, "offset-json-file")) {
        rc = tool_usage_error(&a, "Missing required argument \"[%s]\"",
                              !tool_has(&a, "bootstrap-server")
                                  ? "bootstrap-server"
                                  : "offset-json-file");
        goto out;
    }
    FILE *f = fopen(tool_get(&a, "offset-json-file"), "r");
    if (!f) {
        fprintf(stderr, "Error: %s (No such file or directory)\n",
                tool_get(&a, "offset-json-file"));
        rc = 1;
        goto out;
    }
    size_t cap = 0, len = 0;
    char chunk[4096];
    size_t k;
    while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        text = xrealloc(text, cap = len + k + 1);
        memcpy(text + len, chunk, k);
        len += k;
    }
    fclose(f);
    if (!text)
        text = xstrdup("");
    text[len] = 0;
    char jerr[128];
    doc = tool_json_parse(text, jerr, sizeof(jerr));
    const tj *parts = tool_json_get(doc, "partitions");
    if (!doc || !parts || parts->type != TJ_ARR) {
        fprintf(stderr, "Offset json file doesn't contain valid JSON data.\n");
        rc = 1;
        goto out;
    }
    const tj *ver = tool_json_get(doc, "version");
    if (ver && (ver->type != TJ_NUM || ver->num != 1)) {
        fprintf(stderr, "Not supported version field value %lld\n",
                ver->type == TJ_NUM ? (long long)ver->num : -1LL);
        rc = 1;
        goto out;
    }
    pl = rd_kafka_topic_partition_list_new(parts->n + 1);
    for (int i = 0; i < parts->n; i++) {
        const tj *t = tool_json_get(parts->items[i], "topic");
        const tj *p = tool_json_get(parts->items[i], "partition");
        const tj *o = tool_json_get(parts->items[i], "offset");
        if (!t || t->type != TJ_STR || !p || p->type != TJ_NUM || !o ||
            o->type != TJ_NUM) {
            fprintf(stderr, "Offset json file doesn't contain valid JSON "
                            "data.\n");
            rc = 1;
            goto out;
        }
        for (int j = 0; j < pl->cnt; j++)
            if (pl->elems[j].partition == p->num &&
                !strcmp(pl->elems[j].topic, t->str)) {
                fprintf(stderr,
                        "Offset json file contains duplicate "
                        "topic partitions: %s-%lld\n",
                        t->str, (long long)p->num);
                rc = 1;
                goto out;
            }
        rd_kafka_topic_partition_list_add(pl, t->str, (int32_t)p->num)->offset =
            o->num;
    }
    if (!tool_admin_open(&ad, tool_get(&a, "bootstrap-server"),
                         tool_get(&a, "command-config"), 60000)) {
        rc = 1;
        goto out;
    }
    printf("Executing records delete operation\n");
    fflush(stdout);
    rd_kafka_DeleteRecords_t *del = rd_kafka_DeleteRecords_new(pl);
    rd_kafka_AdminOptions_t *o =
        tool_admin_options(&ad, RD_KAFKA_ADMIN_OP_DELETERECORDS);
    char err[256];
    rd_kafka_AdminOptions_set_operation_timeout(o, ad.timeout_ms, err,
                                                sizeof(err));
    rd_kafka_DeleteRecords(ad.rk, &del, 1, o, ad.q);
    rd_kafka_event_t *ev = tool_admin_wait(
        &ad, RD_KAFKA_EVENT_DELETERECORDS_RESULT, err, sizeof(err));
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_DeleteRecords_destroy(del);
    if (!ev) {
        fprintf(stderr, "Error: %s\n", err);
        rc = 1;
        goto out;
    }
    const rd_kafka_topic_partition_list_t *res =
        rd_kafka_event_error(ev) && !rd_kafka_event_DeleteRecords_result(ev)
            ? NULL
            : rd_kafka_DeleteRecords_result_offsets(
                  rd_kafka_event_DeleteRecords_result(ev));
    printf("Records delete operation completed:\n");
    dr_row *rows = xcalloc((size_t)pl->cnt + 1, sizeof(dr_row));
    int n = 0;
    for (int i = 0; i < pl->cnt; i++) {
        dr_row *r = &rows[n++];
        snprintf(r->key, sizeof(r->key), "%s-%d", pl->elems[i].topic,
                 pl->elems[i].partition);
        r->err = res ? RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
                     : rd_kafka_event_error(ev);
        for (int j = 0; res && j < res->cnt; j++)
            if (res->elems[j].partition == pl->elems[i].partition &&
                !strcmp(res->elems[j].topic, pl->elems[i].topic)) {
                r->err = res->elems[j].err;
                r->low = res->elems[j].offset;
            }
    }
    qsort(rows, (size_t)n, sizeof(dr_row), cmp_dr);
    for (int i = 0; i < n; i++) {
        if (rows[i].err)
            printf("partition: %s\terror: %s: %s\n", rows[i].key,
                   tool_java_exception(rows[i].err),
                   tool_error_message(rows[i].err));
        else
            printf("partition: %s\tlow_watermark: %lld\n", rows[i].key,
                   (long long)rows[i].low);
    }
    free(rows);
    rd_kafka_event_destroy(ev);
    rc = 0;
out:
    if (pl)
        rd_kafka_topic_partition_list_destroy(pl);
    if (ad.rk)
        tool_admin_close(&ad);
    tool_json_free(doc);
    free(text);
    tool_args_free(&a);
    return rc;
}

/* ======================= broker-api-versions ========================= */

static const tool_optdef bav_opts[] = {
    {"bootstrap-controller", TOOL_ARG,
     "A comma-separated list of controller host:port (not supported by "
     "sluice; use --bootstrap-server)."},
    {"bootstrap-server", TOOL_ARG, "REQUIRED: The server to connect to."},
    {"command-config", TOOL_ARG,
     "A property file containing configs to be passed to Admin Client."},
    {"version", TOOL_FLAG, "Display Kafka version."},
};

/* Apache Kafka 4.3.1 clients' ApiKeys: id, name, oldest, latest, and
 * whether it is in ApiKeys.clientApis() (listed as UNSUPPORTED when a
 * broker lacks it). Taken from kafka-clients-4.3.1.jar. */
static const struct {
    int id;
    const char *name;
    int oldest, latest;
    int client;
} api_keys[] = {
    {0, "Produce", 3, 13, 1},
    {1, "Fetch", 4, 18, 1},
    {2, "ListOffsets", 1, 11, 1},
    {3, "Metadata", 0, 13, 1},
    {4, "LeaderAndIsr", 0, -1, 0},
    {5, "StopReplica", 0, -1, 0},
    {6, "UpdateMetadata", 0, -1, 0},
    {7, "ControlledShutdown", 0, -1, 0},
    {8, "OffsetCommit", 2, 10, 1},
    {9, "OffsetFetch", 1, 10, 1},
    {10, "FindCoordinator", 0, 6, 1},
    {11, "JoinGroup", 0, 9, 1},
    {12, "Heartbeat", 0, 4, 1},
    {13, "LeaveGroup", 0, 5, 1},
    {14, "SyncGroup", 0, 5, 1},
    {15, "DescribeGroups", 0, 6, 1},
    {16, "ListGroups", 0, 5, 1},
    {17, "SaslHandshake", 0, 1, 1},
    {18, "ApiVersions", 0, 4, 1},
    {19, "CreateTopics", 2, 7, 1},
    {20, "DeleteTopics", 1, 6, 1},
    {21, "DeleteRecords", 0, 2, 1},
    {22, "InitProducerId", 0, 6, 1},
    {23, "OffsetForLeaderEpoch", 2, 4, 1},
    {24, "AddPartitionsToTxn", 0, 5, 1},
    {25, "AddOffsetsToTxn", 0, 4, 1},
    {26, "EndTxn", 0, 5, 1},
    {27, "WriteTxnMarkers", 1, 2, 1},
    {28, "TxnOffsetCommit", 0, 5, 1},
    {29, "DescribeAcls", 1, 3, 1},
    {30, "CreateAcls", 1, 3, 1},
    {31, "DeleteAcls", 1, 3, 1},
    {32, "DescribeConfigs", 1, 4, 1},
    {33, "AlterConfigs", 0, 2, 1},
    {34, "AlterReplicaLogDirs", 1, 2, 1},
    {35, "DescribeLogDirs", 1, 5, 1},
    {36, "SaslAuthenticate", 0, 2, 1},
    {37, "CreatePartitions", 0, 3, 1},
    {38, "CreateDelegationToken", 1, 3, 1},
    {39, "RenewDelegationToken", 1, 2, 1},
    {40, "ExpireDelegationToken", 1, 2, 1},
    {41, "DescribeDelegationToken", 1, 3, 1},
    {42, "DeleteGroups", 0, 2, 1},
    {43, "ElectLeaders", 0, 2, 1},
    {44, "IncrementalAlterConfigs", 0, 1, 1},
    {45, "AlterPartitionReassignments", 0, 1, 1},
    {46, "ListPartitionReassignments", 0, 0, 1},
    {47, "OffsetDelete", 0, 0, 1},
    {48, "DescribeClientQuotas", 0, 1, 1},
    {49, "AlterClientQuotas", 0, 1, 1},
    {50, "DescribeUserScramCredentials", 0, 0, 1},
    {51, "AlterUserScramCredentials", 0, 0, 1},
    {52, "Vote", 0, 2, 0},
    {53, "BeginQuorumEpoch", 0, 1, 0},
    {54, "EndQuorumEpoch", 0, 1, 0},
    {55, "DescribeQuorum", 0, 2, 1},
    {56, "AlterPartition", 2, 3, 0},
    {57, "UpdateFeatures", 0, 2, 1},
    {58, "Envelope", 0, 0, 0},
    {59, "FetchSnapshot", 0, 1, 0},
    {60, "DescribeCluster", 0, 2, 1},
    {61, "DescribeProducers", 0, 0, 1},
    {62, "BrokerRegistration", 0, 4, 0},
    {63, "BrokerHeartbeat", 0, 2, 0},
    {64, "UnregisterBroker", 0, 0, 1},
    {65, "DescribeTransactions", 0, 0, 1},
    {66, "ListTransactions", 0, 2, 1},
    {67, "AllocateProducerIds", 0, 0, 0},
    {68, "ConsumerGroupHeartbeat", 0, 1, 1},
    {69, "ConsumerGroupDescribe", 0, 1, 1},
    {70, "ControllerRegistration", 0, 0, 0},
    {71, "GetTelemetrySubscriptions", 0, 0, 1},
    {72, "PushTelemetry", 0, 0, 1},
    {73, "AssignReplicasToDirs", 0, 0, 0},
    {74, "ListConfigResources", 0, 1, 1},
    {75, "DescribeTopicPartitions", 0, 0, 1},
    {76, "ShareGroupHeartbeat", 1, 1, 1},
    {77, "ShareGroupDescribe", 1, 1, 1},
    {78, "ShareFetch", 1, 2, 1},
    {79, "ShareAcknowledge", 1, 2, 1},
    {80, "AddRaftVoter", 0, 1, 1},
    {81, "RemoveRaftVoter", 0, 0, 1},
    {82, "UpdateRaftVoter", 0, 0, 0},
    {83, "InitializeShareGroupState", 0, 0, 1},
    {84, "ReadShareGroupState", 0, 0, 1},
    {85, "WriteShareGroupState", 0, 1, 1},
    {86, "DeleteShareGroupState", 0, 0, 1},
    {87, "ReadShareGroupStateSummary", 0, 1, 1},
    {88, "StreamsGroupHeartbeat", 0, 0, 1},
    {89, "StreamsGroupDescribe", 0, 0, 1},
    {90, "DescribeShareGroupOffsets", 0, 1, 1},
    {91, "AlterShareGroupOffsets", 0, 0, 1},
    {92, "DeleteShareGroupOffsets", 0, 0, 1},
};

static int api_index(int key) {
    for (size_t i = 0; i < SL_ARRAY_LEN(api_keys); i++)
        if (api_keys[i].id == key)
            return (int)i;
    return -1;
}

static void print_versions(const kc_conn *c) {
    bool first = true;
    for (int key = 0; key < 128; key++) {
        int ai = api_index(key);
        bool has = c->api_max[key] >= 0;
        if (!has && (ai < 0 || !api_keys[ai].client))
            continue;
        printf("%s\n\t", first ? "" : ",");
        first = false;
        if (ai >= 0)
            printf("%s(%d): ", api_keys[ai].name, key);
        else
            printf("UNKNOWN(%d): ", key);
        if (!has) {
            printf("UNSUPPORTED");
            continue;
        }
        if (c->api_min[key] == c->api_max[key])
            printf("%d", c->api_min[key]);
        else
            printf("%d to %d", c->api_min[key], c->api_max[key]);
        if (ai < 0)
            continue;
        if (api_keys[ai].latest < c->api_min[key])
            printf(" [unusable: node too new]");
        else if (c->api_max[key] < api_keys[ai].oldest)
            printf(" [unusable: node too old]");
        else
            printf(" [usable: %d]",
                   SL_MIN(api_keys[ai].latest, c->api_max[key]));
    }
    printf("\n)\n");
}

static int cmp_broker(const void *a, const void *b) {
    const kc_broker *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

int tool_broker_api_versions_main(int argc, char **argv) {
    tool_args a;
    int rc = tool_parse(&a, "kafka-broker-api-versions.sh",
                        "This tool helps to retrieve broker version "
                        "information.",
                        bav_opts, SL_ARRAY_LEN(bav_opts), argc, argv);
    if (rc >= 0)
        return rc;
    tool_props props = {0};
    kc_conn kc = {.fd = -1};
    kc_metadata md = {0};
    if (tool_has(&a, "version")) {
        printf("4.3.1 (sluice)\n");
        rc = 0;
        goto out;
    }
    if (!tool_has(&a, "bootstrap-server")) {
        rc = tool_usage_error(&a, "Exactly one of the following arguments is "
                                  "required: [bootstrap-server], "
                                  "[bootstrap-controller]");
        goto out;
    }
    if (tool_has(&a, "command-config") &&
        !tool_props_load(&props, tool_get(&a, "command-config"))) {
        rc = 1;
        goto out;
    }
    int timeout = tool_timeout_ms(&props, 60000);
    char err[256];
    if (!kc_connect(&kc, tool_get(&a, "bootstrap-server"), timeout, err,
                    sizeof(err)) ||
        !kc_metadata_get(&kc, NULL, 0, false, &md)) {
        fprintf(stderr,
                "Error: Request METADATA failed on brokers List(%s) "
                "(%s)\n",
                tool_get(&a, "bootstrap-server"), err);
        rc = 1;
        goto out;
    }
    qsort(md.brokers, (size_t)md.nbrokers, sizeof(kc_broker), cmp_broker);
    for (int i = 0; i < md.nbrokers; i++) {
        kc_broker *b = &md.brokers[i];
        printf("%s:%d (id: %d rack: %s isFenced: false) -> (", b->host, b->port,
               b->id, b->rack ? b->rack : "null");
        kc_conn bc;
        if (!strcmp(b->host, kc.host) && b->port == kc.port) {
            print_versions(&kc);
        } else if (kc_connect_node(&bc, b->host, b->port, timeout, err,
                                   sizeof(err))) {
            print_versions(&bc);
            kc_close(&bc);
        } else {
            printf("\n)\n");
            fprintf(stderr, "%s:%d (id: %d) -> ERROR: %s\n", b->host, b->port,
                    b->id, err);
        }
    }
    rc = 0;
out:
    kc_metadata_free(&md);
    if (kc.fd >= 0)
        kc_close(&kc);
    tool_props_free(&props);
    tool_args_free(&a);
    return rc;
}
