/*
 * tool_cluster.c - cluster-level tools over kclient with Kafka 4.x's output:
 *   features describe            (kafka-features.sh; ApiVersions v3 features)
 *   transactions list            (kafka-transactions.sh; ListTransactions)
 *   leader-election              (kafka-leader-election.sh; ElectLeaders v2)
 *   metadata-quorum describe --status / --replication
 *                                (kafka-metadata-quorum.sh; DescribeQuorum)
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/util.h"
#include "tools/kclient.h"
#include "tools/tool_common.h"
#include "tools/tool_features.h"
#include "tools/tool_json.h"
#include "tools/tool_quorum.h"
#include "tools/tool_txn.h"

/* Connects from --bootstrap-server or --bootstrap-controller (tool_connect),
 * with the --command-config timeout. */
static bool connect_from(tool_args *a, const char *cfgopt, kc_conn *kc,
                         int *timeout) {
    tool_props p = {0};
    if (cfgopt && tool_has(a, cfgopt) &&
        !tool_props_load(&p, tool_get(a, cfgopt)))
        return false;
    *timeout = tool_timeout_ms(&p, 60000);
    tool_props_free(&p);
    char err[256];
    if (!tool_connect(a, kc, *timeout, err, sizeof(err))) {
        fprintf(stderr,
                "org.apache.kafka.common.errors.TimeoutException: Timed out "
                "waiting "
                "for a node assignment. (%s)\n",
                err);
        return false;
    }
    return true;
}

/* ============================ features =============================== */

static void level_str(const char *feature, int level, char *out, size_t cap) {
    if (!strcmp(feature, "metadata.version")) {
        const char *name = tool_metadata_version_name(level);
        if (name)
            snprintf(out, cap, "%s", name);
        else /* as Kafka's FeatureCommand */
            snprintf(out, cap, "UNKNOWN %d", level);
        return;
    }
    snprintf(out, cap, "%d", level);
}

static int cmp_feature(const void *a, const void *b) {
    return strcmp(((const kc_feature *)a)->name, ((const kc_feature *)b)->name);
}

static const tool_optdef feat_opts[] = {
    {"bootstrap-controller", TOOL_ARG,
     "A comma-separated list of host:port pairs to use for "
     "establishing the connection to the KRaft controllers."},
    {"bootstrap-server", TOOL_ARG,
     "A comma-separated list of host:port pairs to use for "
     "establishing the connection to the Kafka cluster."},
    {"command-config", TOOL_ARG,
     "Property file containing configs to be passed to Admin "
     "Client."},
    {"dry-run", TOOL_FLAG,
     "upgrade/downgrade/disable: validate the change, but do not perform "
     "it."},
    {"feature", TOOL_ARG,
     "upgrade/downgrade: a feature change in feature=level format, e.g. "
     "`metadata.version=5`; disable: a feature flag to disable."},
    {"metadata", TOOL_ARG,
     "DEPRECATED -- The level to which we should upgrade/downgrade the "
     "metadata. For example, 3.3-IV3."},
    {"release-version", TOOL_ARG,
     "The release version to update all features to (upgrade/downgrade), "
     "or to map (version-mapping). For example, 3.9-IV0."},
    {"unsafe", TOOL_FLAG,
     "downgrade/disable: perform it even if it may irreversibly destroy "
     "metadata."},
};

int tool_features_main(int argc, char **argv) {
    tool_args a;
    int rc = tool_parse(
        &a, "kafka-features.sh",
        "usage: kafka-features [-h] [--command-config COMMAND_CONFIG] "
        "(--bootstrap-server BOOTSTRAP_SERVER | --bootstrap-controller "
        "BOOTSTRAP_CONTROLLER) {describe,upgrade,downgrade,disable,"
        "version-mapping,feature-dependencies} ...",
        feat_opts, SL_ARRAY_LEN(feat_opts), argc, argv);
    if (rc >= 0)
        return rc;
    kc_conn kc = {.fd = -1};
    const char *cmd = a.npositional ? a.positional[0] : NULL;
    if (cmd && !strcmp(cmd, "version-mapping")) {
        rc = tool_features_version_mapping(&a);
        goto out;
    }
    if (cmd && !strcmp(cmd, "feature-dependencies")) {
        rc = tool_features_dependencies(&a);
        goto out;
    }
    if (!tool_has(&a, "bootstrap-server") &&
        !tool_has(&a, "bootstrap-controller")) {
        fprintf(
            stderr,
            "kafka-features: error: one of the arguments --bootstrap-server "
            "--bootstrap-controller is required\n");
        rc = 1;
        goto out;
    }
    bool update = cmd && (!strcmp(cmd, "upgrade") ||
                          !strcmp(cmd, "downgrade") || !strcmp(cmd, "disable"));
    if (!cmd || (strcmp(cmd, "describe") && !update)) {
        fprintf(stderr, "kafka-features: error: %s\n",
                cmd ? "invalid choice: expected one of describe, upgrade, "
                      "downgrade, disable, version-mapping, "
                      "feature-dependencies"
                    : "too few arguments");
        rc = 1;
        goto out;
    }
    int timeout;
    if (!connect_from(&a, "command-config", &kc, &timeout)) {
        rc = 1;
        goto out;
    }
    if (update) {
        rc = tool_features_update(&a, cmd, &kc);
        goto out;
    }
    kc_feature *f;
    int n;
    int64_t epoch;
    if (!kc_features(&kc, &f, &n, &epoch)) {
        fprintf(stderr, "org.apache.kafka.common.errors."
                        "UnsupportedVersionException: the broker "
                        "does not report features (ApiVersions v3)\n");
        rc = 1;
        goto out;
    }
    qsort(f, (size_t)n, sizeof(kc_feature), cmp_feature);
    for (int i = 0; i < n; i++) {
        char mn[32], mx[32], fin[32];
        level_str(f[i].name, f[i].min, mn, sizeof(mn));
        level_str(f[i].name, f[i].max, mx, sizeof(mx));
        level_str(f[i].name, f[i].finalized < 0 ? 0 : f[i].finalized, fin,
                  sizeof(fin));
        printf("Feature: %-40s  SupportedMinVersion: %-15s  "
               "SupportedMaxVersion: %-15s  "
               "FinalizedVersionLevel: %-15s  Epoch: %lld\n",
               f[i].name, mn, mx, fin, (long long)epoch);
    }
    kc_features_free(f, n);
    rc = 0;
out:
    if (kc.fd >= 0)
        kc_close(&kc);
    tool_args_free(&a);
    return rc;
}

/* =========================== transactions ============================ */

static const tool_optdef txn_opts[] = {
    {"bootstrap-server", TOOL_ARG,
     "REQUIRED: hostname and port for the broker to connect to, "
     "in the form `host:port`."},
    {"broker-id", TOOL_ARG,
     "describe-producers, find-hanging: the broker to query (default: the "
     "leader)"},
    {"command-config", TOOL_ARG,
     "Property file containing configs to be passed to admin "
     "client"},
    {"coordinator-epoch", TOOL_ARG, "abort: coordinator epoch"},
    {"max-transaction-timeout", TOOL_ARG,
     "find-hanging: maximum transaction timeout in minutes to limit the "
     "scope of the search (15 minutes by default)"},
    {"partition", TOOL_ARG, "describe-producers, abort: partition number"},
    {"producer-epoch", TOOL_ARG, "abort: producer epoch"},
    {"producer-id", TOOL_ARG, "abort: producer id"},
    {"start-offset", TOOL_ARG,
     "abort: start offset of the transaction to abort"},
    {"topic", TOOL_ARG, "describe-producers, abort, find-hanging: topic name"},
    {"transactional-id", TOOL_ARG, "describe: transactional id"},
};

static int txn_describe(tool_args *a, kc_conn *kc, int timeout) {
    const char *id = tool_get(a, "transactional-id");
    if (!id) {
        fprintf(stderr, "kafka-transactions.sh describe: error: argument "
                        "--transactional-id "
                        "is required\n");
        return 1;
    }
    int32_t node, port;
    char *host = NULL;
    int16_t e;
    char why[512] = "";
    kc_txn_desc d = {0};
    kc_conn cc;
    bool opened = false;
    if (!kc_find_coordinator(kc, 1, id, &node, &host, &port, &e)) {
        snprintf(why, sizeof(why), "FindCoordinator failed");
    } else if (e) {
        snprintf(why, sizeof(why), "%s", tool_error_message(e));
    } else {
        char err[256];
        kc_conn *use = kc;
        if (host && (strcmp(host, kc->host) || port != kc->port)) {
            if (!kc_connect_node(&cc, host, port, timeout, err, sizeof(err))) {
                snprintf(why, sizeof(why), "%s", err);
            } else {
                use = &cc;
                opened = true;
            }
        }
        if (!*why && !kc_describe_transaction(use, id, &d))
            snprintf(why, sizeof(why), "DescribeTransactions failed");
        else if (!*why && d.error == 105) /* TRANSACTIONAL_ID_NOT_FOUND */
            snprintf(why, sizeof(why),
                     "DescribeTransactions request for transactionalId `%s` "
                     "failed because the "
                     "ID could not be found. Enable debug logging for "
                     "additional detail.",
                     id);
        else if (!*why && d.error)
            snprintf(why, sizeof(why), "%s", tool_error_message(d.error));
    }
    free(host);
    if (opened)
        kc_close(&cc);
    if (*why) {
        fprintf(stderr,
                "Failed to describe transaction state of transactional-id "
                "`%s`: %s\n",
                id, why);
        kc_txn_desc_free(&d);
        return 1;
    }
    char c0[16], c2[32], c3[16], c5[16], c6[32], c7[32];
    snprintf(c0, sizeof(c0), "%d", node);
    snprintf(c2, sizeof(c2), "%lld", (long long)d.producer_id);
    snprintf(c3, sizeof(c3), "%d", d.producer_epoch);
    snprintf(c5, sizeof(c5), "%d", d.timeout_ms);
    if (d.start_ms >= 0) {
        snprintf(c6, sizeof(c6), "%lld", (long long)d.start_ms);
        snprintf(c7, sizeof(c7), "%lld",
                 (long long)(tool_now_ms() - d.start_ms));
    } else {
        snprintf(c6, sizeof(c6), "None");
        snprintf(c7, sizeof(c7), "None");
    }
    char *row[] = {c0, (char *)id, c2, c3, d.state, c5, c6, c7, d.partitions};
    char **rows[] = {row};
    static const char *const hdr[] = {"CoordinatorId",
                                      "TransactionalId",
                                      "ProducerId",
                                      "ProducerEpoch",
                                      "TransactionState",
                                      "TransactionTimeoutMs",
                                      "CurrentTransactionStartTimeMs",
                                      "TransactionDurationMs",
                                      "TopicPartitions"};
    tool_pretty_table(hdr, 9, rows, 1);
    kc_txn_desc_free(&d);
    return 0;
}

static int txn_describe_producers(tool_args *a, kc_conn *kc, int timeout) {
    const char *topic = tool_get(a, "topic");
    int64_t part, broker = -1;
    if (!topic || !tool_parse_i64(tool_get_or(a, "partition", ""), &part)) {
        fprintf(stderr, "kafka-transactions.sh describe-producers: error: "
                        "arguments --topic "
                        "and --partition are required\n");
        return 1;
    }
    if (tool_has(a, "broker-id"))
        tool_parse_i64(tool_get(a, "broker-id"), &broker);
    kc_metadata md;
    const char *const topics[] = {topic};
    if (!kc_metadata_get(kc, topics, 1, false, &md)) {
        fprintf(stderr, "metadata request failed\n");
        return 1;
    }
    if (broker < 0)
        for (int i = 0; i < md.ntopics; i++)
            for (int j = 0; j < md.topics[i].nparts; j++)
                if (md.topics[i].parts[j].id == part)
                    broker = md.topics[i].parts[j].leader;
    const char *host = NULL;
    int port = -1;
    for (int i = 0; i < md.nbrokers; i++)
        if (md.brokers[i].id == broker) {
            host = md.brokers[i].host;
            port = md.brokers[i].port;
        }
    int rc = 1;
    if (!host) {
        fprintf(stderr,
                "Failed to describe producers for partition %s-%lld: "
                "This server does not host this topic-partition.\n",
                topic, (long long)part);
        kc_metadata_free(&md);
        return 1;
    }
    kc_conn bc, *use = kc;
    char err[256];
    bool opened = false;
    if (strcmp(host, kc->host) || port != kc->port) {
        if (kc_connect_node(&bc, host, port, timeout, err, sizeof(err))) {
            use = &bc;
            opened = true;
        } else {
            use = NULL;
        }
    }
    kc_producer_state *ps = NULL;
    int n = 0;
    int16_t e = 0;
    if (!use ||
        !kc_describe_producers(use, topic, (int32_t)part, &ps, &n, &e) || e) {
        fprintf(stderr,
                "Failed to describe producers for partition %s-%lld on broker "
                "%lld: %s\n",
                topic, (long long)part, (long long)broker,
                e ? tool_error_message(e) : "request failed");
    } else {
        char ***rows = xcalloc((size_t)n + 1, sizeof(char **));
        for (int i = 0; i < n; i++) {
            rows[i] = xcalloc(6, sizeof(char *));
            char tmp[32];
            snprintf(tmp, sizeof(tmp), "%lld", (long long)ps[i].producer_id);
            rows[i][0] = xstrdup(tmp);
            snprintf(tmp, sizeof(tmp), "%d", ps[i].producer_epoch);
            rows[i][1] = xstrdup(tmp);
            snprintf(tmp, sizeof(tmp), "%d", ps[i].coordinator_epoch);
            rows[i][2] = xstrdup(tmp);
            snprintf(tmp, sizeof(tmp), "%d", ps[i].last_sequence);
            rows[i][3] = xstrdup(tmp);
            snprintf(tmp, sizeof(tmp), "%lld", (long long)ps[i].last_timestamp);
            rows[i][4] = xstrdup(tmp);
            if (ps[i].txn_start_offset >= 0)
                snprintf(tmp, sizeof(tmp), "%lld",
                         (long long)ps[i].txn_start_offset);
            else
                snprintf(tmp, sizeof(tmp), "None");
            rows[i][5] = xstrdup(tmp);
        }
        static const char *const hdr[] = {
            "ProducerId",   "ProducerEpoch", "LatestCoordinatorEpoch",
            "LastSequence", "LastTimestamp", "CurrentTransactionStartOffset"};
        tool_pretty_table(hdr, 6, rows, n);
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < 6; k++)
                free(rows[i][k]);
            free(rows[i]);
        }
        free(rows);
        rc = 0;
    }
    free(ps);
    if (opened)
        kc_close(&bc);
    kc_metadata_free(&md);
    return rc;
}

int tool_transactions_main(int argc, char **argv) {
    tool_args a;
    int rc = tool_parse(
        &a, "kafka-transactions.sh",
        "usage: kafka-transactions.sh [-h] [-v] [--command-config FILE] "
        "--bootstrap-server host:port COMMAND ...",
        txn_opts, SL_ARRAY_LEN(txn_opts), argc, argv);
    if (rc >= 0)
        return rc;
    kc_conn kc = {.fd = -1};
    kc_metadata md = {0};
    const char *cmd = a.npositional ? a.positional[0] : NULL;
    if (!tool_has(&a, "bootstrap-server")) {
        fprintf(stderr,
                "kafka-transactions.sh: error: argument --bootstrap-server is "
                "required\n");
        rc = 1;
        goto out;
    }
    if (!cmd || (strcmp(cmd, "list") && strcmp(cmd, "describe") &&
                 strcmp(cmd, "describe-producers") && strcmp(cmd, "abort") &&
                 strcmp(cmd, "find-hanging"))) {
        fprintf(stderr, "kafka-transactions.sh: error: %s\n",
                cmd ? "supported commands: list, describe, "
                      "describe-producers, abort, find-hanging"
                    : "too few arguments");
        rc = 1;
        goto out;
    }
    int timeout;
    if (!connect_from(&a, "command-config", &kc, &timeout)) {
        rc = 1;
        goto out;
    }
    if (!strcmp(cmd, "describe")) {
        rc = txn_describe(&a, &kc, timeout);
        goto out;
    }
    if (!strcmp(cmd, "abort")) {
        rc = tool_txn_abort(&a, &kc, timeout);
        goto out;
    }
    if (!strcmp(cmd, "find-hanging")) {
        rc = tool_txn_find_hanging(&a, &kc, timeout);
        goto out;
    }
    if (!strcmp(cmd, "describe-producers")) {
        rc = txn_describe_producers(&a, &kc, timeout);
        goto out;
    }
    if (!kc_metadata_get(&kc, NULL, 0, false, &md)) {
        fprintf(stderr, "metadata request failed\n");
        rc = 1;
        goto out;
    }
    char ***rows = NULL;
    int nrows = 0;
    for (int b = 0; b < md.nbrokers; b++) {
        kc_conn bc, *use = &kc;
        char err[256];
        bool opened = false;
        if (strcmp(md.brokers[b].host, kc.host) ||
            md.brokers[b].port != kc.port) {
            if (!kc_connect_node(&bc, md.brokers[b].host, md.brokers[b].port,
                                 timeout, err, sizeof(err)))
                continue;
            use = &bc;
            opened = true;
        }
        kc_txn *t;
        int n;
        int16_t e;
        if (kc_list_transactions(use, &t, &n, &e) && !e) {
            for (int i = 0; i < n; i++) {
                rows = xrealloc(rows, (size_t)(nrows + 1) * sizeof(char **));
                char **row = xcalloc(4, sizeof(char *));
                row[0] = xstrdup(t[i].id);
                char tmp[32];
                snprintf(tmp, sizeof(tmp), "%d", md.brokers[b].id);
                row[1] = xstrdup(tmp);
                snprintf(tmp, sizeof(tmp), "%lld", (long long)t[i].producer_id);
                row[2] = xstrdup(tmp);
                row[3] = xstrdup(t[i].state);
                rows[nrows++] = row;
            }
            kc_txn_free(t, n);
        } else if (e) {
            fprintf(stderr, "Failed to list transactions on broker %d: %s\n",
                    md.brokers[b].id, tool_error_message(e));
        }
        if (opened)
            kc_close(&bc);
    }
    static const char *const hdr[] = {"TransactionalId", "Coordinator",
                                      "ProducerId", "TransactionState"};
    tool_pretty_table(hdr, 4, rows, nrows);
    for (int r = 0; r < nrows; r++) {
        for (int c = 0; c < 4; c++)
            free(rows[r][c]);
        free(rows[r]);
    }
    free(rows);
    rc = 0;
out:
    kc_metadata_free(&md);
    if (kc.fd >= 0)
        kc_close(&kc);
    tool_args_free(&a);
    return rc;
}

/* ========================== leader-election ========================== */

static const tool_optdef le_opts[] = {
    {"admin.config", TOOL_ARG,
     "Configuration properties files to pass to the admin client"},
    {"all-topic-partitions", TOOL_FLAG,
     "Perform election on all of the eligible topic partitions based on the "
     "type of election "
     "(see the --election-type flag). Not allowed if --topic or "
     "--path-to-json-file is "
     "specified."},
    {"bootstrap-server", TOOL_ARG,
     "A hostname and port for the broker to connect to, in the "
     "form host:port. Multiple comma separated URLs can be "
     "given. REQUIRED."},
    {"election-type", TOOL_ARG,
     "Type of election to attempt. Possible values are \"preferred\" "
     "for preferred leader election or \"unclean\" for unclean "
     "leader election."},
    {"partition", TOOL_ARG,
     "Partition id for which to perform an election. REQUIRED if "
     "--topic is specified."},
    {"path-to-json-file", TOOL_ARG,
     "The JSON file with the list of partition for which leader "
     "elections should be performed."},
    {"topic", TOOL_ARG, "Name of topic for which to perform an election."},
    {"version", TOOL_FLAG, "Display Kafka version."},
};

int tool_leader_election_main(int argc, char **argv) {
    tool_args a;
    int rc = tool_parse(
        &a, "kafka-leader-election.sh",
        "This tool attempts to elect a new leader for a set of topic "
        "partitions. The type of elections supported are preferred "
        "replicas and unclean replicas.",
        le_opts, SL_ARRAY_LEN(le_opts), argc, argv);
    if (rc >= 0)
        return rc;
    kc_conn kc = {.fd = -1};
    kc_reassign *req = NULL, *res = NULL;
    int nreq = -1, nres = 0;
    if (tool_has(&a, "version")) {
        printf("4.3.1 (sluice)\n");
        rc = 0;
        goto out;
    }
    if (!tool_has(&a, "bootstrap-server")) {
        rc = tool_usage_error(&a,
                              "Missing required option(s) [bootstrap-server]");
        goto out;
    }
    if (!tool_has(&a, "election-type")) {
        rc = tool_usage_error(&a, "Missing required option(s) [election-type]");
        goto out;
    }
    const char *et = tool_get(&a, "election-type");
    int8_t type;
    if (!strcasecmp(et, "preferred"))
        type = 0;
    else if (!strcasecmp(et, "unclean"))
        type = 1;
    else {
        rc = tool_usage_error(
            &a, "Cannot parse argument '%s' of option election-type", et);
        goto out;
    }
    int scopes = tool_has(&a, "all-topic-partitions") + tool_has(&a, "topic") +
                 tool_has(&a, "path-to-json-file");
    if (scopes != 1) {
        rc = tool_usage_error(
            &a, "One and only one of the following options is required: "
                "all-topic-partitions, topic, path-to-json-file");
        goto out;
    }
    if (tool_has(&a, "topic")) {
        int64_t p;
        if (!tool_has(&a, "partition") ||
            !tool_parse_i64(tool_get(&a, "partition"), &p)) {
            rc = tool_usage_error(&a, "Missing required option(s) [partition]");
            goto out;
        }
        req = xcalloc(1, sizeof(kc_reassign));
        req[0].topic = xstrdup(tool_get(&a, "topic"));
        req[0].part = (int32_t)p;
        nreq = 1;
    } else if (tool_has(&a, "path-to-json-file")) {
        FILE *f = fopen(tool_get(&a, "path-to-json-file"), "r");
        char text[65536];
        size_t len = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
        if (f)
            fclose(f);
        text[len] = 0;
        char jerr[128];
        tj *doc = tool_json_parse(text, jerr, sizeof(jerr));
        const tj *parts = tool_json_get(doc, "partitions");
        if (!parts || parts->type != TJ_ARR) {
            tool_json_free(doc);
            fprintf(stderr, "Error: Expected a list of partitions in %s\n",
                    tool_get(&a, "path-to-json-file"));
            rc = 1;
            goto out;
        }
        req = xcalloc((size_t)parts->n + 1, sizeof(kc_reassign));
        nreq = 0;
        for (int i = 0; i < parts->n; i++) {
            const tj *t = tool_json_get(parts->items[i], "topic");
            const tj *p = tool_json_get(parts->items[i], "partition");
            if (t && t->type == TJ_STR && p && p->type == TJ_NUM) {
                req[nreq].topic = xstrdup(t->str);
                req[nreq++].part = (int32_t)p->num;
            }
        }
        tool_json_free(doc);
    }
    int timeout;
    if (!connect_from(&a, "admin.config", &kc, &timeout)) {
        rc = 1;
        goto out;
    }
    int16_t top;
    if (!kc_elect_leaders(&kc, type, req, nreq, &res, &nres, &top) || top) {
        fprintf(stderr, "Error while making request: %s\n",
                top ? tool_error_message(top) : "ElectLeaders failed");
        rc = 1;
        goto out;
    }
    buf ok, noop, bad;
    buf_init(&ok, 128);
    buf_init(&noop, 128);
    buf_init(&bad, 128);
    int nbad = 0;
    const char *tname = type ? "UNCLEAN" : "PREFERRED";
    for (int i = 0; i < nres; i++) {
        if (res[i].error == 0)
            buf_printf(&ok, "%s%s-%d", ok.len ? ", " : "", res[i].topic,
                       res[i].part);
        else if (res[i].error == 84) /* ELECTION_NOT_NEEDED */
            buf_printf(&noop, "%s%s-%d", noop.len ? ", " : "", res[i].topic,
                       res[i].part);
        else {
            nbad++;
            buf_printf(
                &bad,
                "Error completing leader election (%s) for partition: %s-%d: "
                "%s: %s\n",
                tname, res[i].topic, res[i].part,
                tool_java_exception(res[i].error),
                res[i].error_message ? res[i].error_message
                                     : tool_error_message(res[i].error));
        }
    }
    buf_put_u8(&ok, 0);
    buf_put_u8(&noop, 0);
    buf_put_u8(&bad, 0);
    if (ok.len > 1)
        printf(
            "Successfully completed leader election (%s) for partitions %s\n",
            tname, (char *)ok.data);
    if (noop.len > 1)
        printf("Valid replica already elected for partitions %s\n",
               (char *)noop.data);
    if (nbad) {
        printf("%s", (char *)bad.data);
        fprintf(stderr, "Error: %d replica(s) could not be elected\n", nbad);
        rc = 1;
    } else {
        rc = 0;
    }
    buf_free(&ok);
    buf_free(&noop);
    buf_free(&bad);
out:
    kc_reassign_free(req, nreq < 0 ? 0 : nreq);
    kc_reassign_free(res, nres);
    if (kc.fd >= 0)
        kc_close(&kc);
    tool_args_free(&a);
    return rc;
}

/* ========================= metadata-quorum ============================ */

static const tool_optdef mq_opts[] = {
    {"bootstrap-controller", TOOL_ARG,
     "A comma-separated list of host:port pairs to use for "
     "establishing the connection to the Kafka controllers."},
    {"bootstrap-server", TOOL_ARG,
     "A comma-separated list of host:port pairs to use for "
     "establishing the connection to the Kafka cluster."},
    {"command-config", TOOL_ARG,
     "Property file containing configs to be passed to Admin "
     "Client. For add-controller, the file is used to specify the "
     "controller properties as well."},
    {"controller-directory-id", TOOL_ARG,
     "remove-controller: the directory ID of the controller to remove "
     "(-d)."},
    {"controller-id", TOOL_ARG,
     "remove-controller: the id of the controller to remove (-i)."},
    {"dry-run", TOOL_FLAG,
     "add-controller, remove-controller: print what would be done, but do "
     "not do it."},
    {"human-readable", TOOL_FLAG,
     "Print human-readable timestamps (with --replication)."},
    {"replication", TOOL_FLAG,
     "Detailed information about the replication of the quorum."},
    {"status", TOOL_FLAG, "A short summary of the quorum status."},
};

static void voter_json(buf *b, const kc_quorum *q, const kc_replica_state *s) {
    static const uint8_t zero[16];
    buf_printf(b, "{\"id\": %d", s->id);
    if (memcmp(s->dir, zero, 16)) {
        char d[23];
        uuid_to_string(s->dir, d);
        buf_printf(b, ", \"directoryId\": \"%s\"", d);
    }
    /* Kafka's tool leaves "endpoints" out when the node has none */
    int k = 0;
    for (int i = 0; i < q->nnodes; i++)
        if (q->nodes[i].id == s->id)
            buf_printf(b, "%s\"%s://%s:%d\"", k++ ? ", " : ", \"endpoints\": [",
                       q->nodes[i].listener, q->nodes[i].host,
                       q->nodes[i].port);
    buf_printf(b, "%s}", k ? "]" : "");
}

int tool_metadata_quorum_main(int argc, char **argv) {
    /* argparse4j's short forms of remove-controller's options */
    char **av = xcalloc((size_t)argc + 1, sizeof(char *));
    for (int i = 0; i < argc; i++)
        av[i] = !strcmp(argv[i], "-i")   ? "--controller-id"
                : !strcmp(argv[i], "-d") ? "--controller-directory-id"
                                         : argv[i];
    tool_args a;
    int rc = tool_parse(
        &a, "kafka-metadata-quorum.sh",
        "usage: kafka-metadata-quorum [-h] [--command-config COMMAND_CONFIG] "
        "(--bootstrap-server BOOTSTRAP_SERVER | --bootstrap-controller "
        "BOOTSTRAP_CONTROLLER) {describe,add-controller,remove-controller} ...",
        mq_opts, SL_ARRAY_LEN(mq_opts), argc, av);
    if (rc >= 0) {
        free(av);
        return rc;
    }
    kc_conn kc = {.fd = -1};
    kc_quorum q = {0};
    kc_metadata md = {0};
    const char *cmd = a.npositional ? a.positional[0] : NULL;
    if (!tool_has(&a, "bootstrap-server") &&
        !tool_has(&a, "bootstrap-controller")) {
        fprintf(stderr,
                "kafka-metadata-quorum: error: one of the arguments "
                "--bootstrap-server --bootstrap-controller is required\n");
        rc = 1;
        goto out;
    }
    bool add = cmd && !strcmp(cmd, "add-controller");
    bool remove = cmd && !strcmp(cmd, "remove-controller");
    if (remove && (!tool_has(&a, "controller-id") ||
                   !tool_has(&a, "controller-directory-id"))) {
        fprintf(stderr,
                "kafka-metadata-quorum remove-controller: error: argument %s "
                "is required\n",
                !tool_has(&a, "controller-id")
                    ? "--controller-id/-i"
                    : "--controller-directory-id/-d");
        rc = 1;
        goto out;
    }
    if ((add || remove) && tool_has(&a, "command-config")) {
        struct stat st;
        if (stat(tool_get(&a, "command-config"), &st) != 0) {
            fprintf(stderr, "Properties file %s does not exists!\n",
                    tool_get(&a, "command-config"));
            rc = 1;
            goto out;
        }
    }
    if (add && !tool_has(&a, "command-config")) {
        fprintf(stderr, "You must supply the configuration file of the "
                        "controller you are adding when using "
                        "add-controller.\n");
        rc = 1;
        goto out;
    }
    if (!add && !remove &&
        (!cmd || strcmp(cmd, "describe") ||
         tool_has(&a, "status") + tool_has(&a, "replication") != 1)) {
        fprintf(
            stderr, "kafka-metadata-quorum: error: %s\n",
            cmd && strcmp(cmd, "describe")
                ? "invalid choice: expected one of describe, add-controller, "
                  "remove-controller"
                : "one of the arguments --status --replication is required");
        rc = 1;
        goto out;
    }
    int timeout;
    if (!connect_from(&a, "command-config", &kc, &timeout)) {
        rc = 1;
        goto out;
    }
    if (add || remove) {
        rc = add ? tool_quorum_add_controller(&a, &kc)
                 : tool_quorum_remove_controller(&a, &kc);
        goto out;
    }
    if (!kc_describe_quorum(&kc, &q) || q.error) {
        fprintf(stderr, "%s: %s\n", tool_java_exception(q.error ? q.error : 7),
                q.error ? tool_error_message(q.error)
                        : "DescribeQuorum failed");
        rc = 1;
        goto out;
    }
    const kc_replica_state *leader = NULL;
    for (int i = 0; i < q.nvoters; i++)
        if (q.voters[i].id == q.leader)
            leader = &q.voters[i];
    if (tool_has(&a, "status")) {
        kc_metadata_get(&kc, NULL, 0, false, &md);
        int64_t max_lag = 0, max_lag_ms = 0;
        for (int k = 0; k < 2; k++) {
            const kc_replica_state *v = k ? q.observers : q.voters;
            int n = k ? q.nobservers : q.nvoters;
            for (int i = 0; i < n; i++) {
                if (leader && v[i].id == leader->id && !k)
                    continue;
                if (leader) {
                    max_lag = SL_MAX(max_lag, leader->leo - v[i].leo);
                    if (v[i].last_caught_up >= 0 && leader->last_caught_up >= 0)
                        max_lag_ms =
                            SL_MAX(max_lag_ms, leader->last_caught_up -
                                                   v[i].last_caught_up);
                }
            }
        }
        buf vb, ob;
        buf_init(&vb, 128);
        buf_init(&ob, 128);
        for (int i = 0; i < q.nvoters; i++) {
            buf_printf(&vb, "%s", i ? ", " : "");
            voter_json(&vb, &q, &q.voters[i]);
        }
        for (int i = 0; i < q.nobservers; i++) {
            buf_printf(&ob, "%s", i ? ", " : "");
            voter_json(&ob, &q, &q.observers[i]);
        }
        buf_put_u8(&vb, 0);
        buf_put_u8(&ob, 0);
        printf("ClusterId:              %s\n",
               md.cluster_id ? md.cluster_id : kc.cluster_id);
        printf("LeaderId:               %d\n", q.leader);
        printf("LeaderEpoch:            %d\n", q.epoch);
        printf("HighWatermark:          %lld\n", (long long)q.hw);
        printf("MaxFollowerLag:         %lld\n", (long long)max_lag);
        printf("MaxFollowerLagTimeMs:   %lld\n", (long long)max_lag_ms);
        printf("CurrentVoters:          [%s]\n", (char *)vb.data);
        printf("CurrentObservers:       [%s]\n", (char *)ob.data);
        buf_free(&vb);
        buf_free(&ob);
    } else {
        int n = q.nvoters + q.nobservers;
        char ***rows = xcalloc((size_t)n + 1, sizeof(char **));
        int nr = 0;
        /* leader first, then the other voters, then observers */
        for (int pass = 0; pass < 3; pass++) {
            const kc_replica_state *v = pass == 2 ? q.observers : q.voters;
            int cnt = pass == 2 ? q.nobservers : q.nvoters;
            for (int i = 0; i < cnt; i++) {
                bool is_leader = pass < 2 && v[i].id == q.leader;
                if ((pass == 0) != is_leader && pass < 2)
                    continue;
                char **row = xcalloc(7, sizeof(char *));
                char tmp[64];
                snprintf(tmp, sizeof(tmp), "%d", v[i].id);
                row[0] = xstrdup(tmp);
                uuid_to_string(v[i].dir, tmp);
                row[1] = xstrdup(tmp);
                snprintf(tmp, sizeof(tmp), "%lld", (long long)v[i].leo);
                row[2] = xstrdup(tmp);
                snprintf(tmp, sizeof(tmp), "%lld",
                         (long long)(leader ? leader->leo - v[i].leo : 0));
                row[3] = xstrdup(tmp);
                snprintf(tmp, sizeof(tmp), "%lld", (long long)v[i].last_fetch);
                row[4] = xstrdup(tmp);
                snprintf(tmp, sizeof(tmp), "%lld",
                         (long long)v[i].last_caught_up);
                row[5] = xstrdup(tmp);
                row[6] = xstrdup(pass == 0   ? "Leader"
                                 : pass == 1 ? "Follower"
                                             : "Observer");
                rows[nr++] = row;
            }
        }
        static const char *const hdr[] = {
            "NodeId", "DirectoryId",        "LogEndOffset",
            "Lag",    "LastFetchTimestamp", "LastCaughtUpTimestamp",
            "Status"};
        tool_pretty_table(hdr, 7, rows, nr);
        for (int r = 0; r < nr; r++) {
            for (int c = 0; c < 7; c++)
                free(rows[r][c]);
            free(rows[r]);
        }
        free(rows);
    }
    rc = 0;
out:
    free(av);
    kc_metadata_free(&md);
    kc_quorum_free(&q);
    if (kc.fd >= 0)
        kc_close(&kc);
    tool_args_free(&a);
    return rc;
}
