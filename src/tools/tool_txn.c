/*
 * tool_txn.c - the kafka-transactions.sh commands that repair partitions:
 *   abort         (--start-offset, or --producer-id/--producer-epoch/
 *                  --coordinator-epoch): DescribeProducers on the leader to
 *                  find the transaction, then WriteTxnMarkers (ABORT) to the
 *                  leader, as Kafka's Admin.abortTransaction.
 *   find-hanging  (--broker-id / --topic [--partition],
 *                  --max-transaction-timeout): open transactions older than
 *                  the timeout whose coordinator does not list the
 *                  partition (or does not know the producer), in Kafka's
 *                  table.
 * Messages follow Kafka 4.3.1's TransactionsCommand.
 */
#include "tools/tool_txn.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"

/* Opens a connection to node `broker` (or the partition's leader when
 * broker < 0) using md; *use is kc itself when it is that node. */
static bool connect_broker(kc_conn *kc, const kc_metadata *md, int32_t broker,
                           int timeout, kc_conn *bc, kc_conn **use,
                           bool *opened) {
    *opened = false;
    for (int i = 0; i < md->nbrokers; i++) {
        if (md->brokers[i].id != broker)
            continue;
        if (!strcmp(md->brokers[i].host, kc->host) &&
            md->brokers[i].port == kc->port) {
            *use = kc;
            return true;
        }
        char err[256];
        if (!kc_connect_node(bc, md->brokers[i].host, md->brokers[i].port,
                             timeout, err, sizeof(err)))
            return false;
        *use = bc;
        *opened = true;
        return true;
    }
    return false;
}

static int32_t leader_of(const kc_metadata *md, const char *topic, int32_t part,
                         bool *exists) {
    *exists = false;
    for (int i = 0; i < md->ntopics; i++) {
        if (strcmp(md->topics[i].name, topic) || md->topics[i].error)
            continue;
        for (int j = 0; j < md->topics[i].nparts; j++)
            if (md->topics[i].parts[j].id == part) {
                *exists = true;
                return md->topics[i].parts[j].leader;
            }
    }
    return -1;
}

/* DescribeProducers for topic-part on broker (-1: the leader). */
static bool describe_producers_on(kc_conn *kc, const kc_metadata *md,
                                  int32_t broker, const char *topic,
                                  int32_t part, int timeout,
                                  kc_producer_state **ps, int *n, int16_t *e) {
    *ps = NULL;
    *n = 0;
    *e = 0;
    bool exists;
    int32_t leader = leader_of(md, topic, part, &exists);
    if (!exists) {
        *e = 3; /* UNKNOWN_TOPIC_OR_PARTITION */
        return true;
    }
    if (broker < 0)
        broker = leader;
    kc_conn bc, *use;
    bool opened;
    if (!connect_broker(kc, md, broker, timeout, &bc, &use, &opened)) {
        *e = 8; /* BROKER_NOT_AVAILABLE */
        return true;
    }
    bool ok = kc_describe_producers(use, topic, part, ps, n, e);
    if (opened)
        kc_close(&bc);
    return ok;
}

/* ================================ abort ================================ */

/* Kafka's printErrorAndExit(message, cause). */
static int fail(const char *what, const char *cause) {
    fprintf(stderr, "%s: %s. Enable debug logging for additional detail.\n",
            what, cause);
    return 1;
}

int tool_txn_abort(tool_args *a, kc_conn *kc, int timeout) {
    const char *topic = tool_get(a, "topic");
    int64_t part, start = -1, pid = -1, pepoch = -1, cepoch = -1;
    if (!topic || !tool_has(a, "partition")) {
        fprintf(stderr,
                "kafka-transactions.sh abort: error: argument %s is "
                "required\n",
                !topic ? "--topic" : "--partition");
        return 1;
    }
    if (!tool_parse_i64(tool_get(a, "partition"), &part) || part < 0 ||
        part > INT32_MAX) {
        fprintf(stderr,
                "kafka-transactions.sh abort: error: argument --partition: "
                "could not convert '%s' to Integer\n",
                tool_get(a, "partition"));
        return 1;
    }
    static const char *const nums[] = {"start-offset", "producer-id",
                                       "producer-epoch", "coordinator-epoch"};
    int64_t *dst[] = {&start, &pid, &pepoch, &cepoch};
    for (int i = 0; i < 4; i++)
        if (tool_has(a, nums[i]) &&
            !tool_parse_i64(tool_get(a, nums[i]), dst[i])) {
            fprintf(stderr,
                    "kafka-transactions.sh abort: error: argument --%s: could "
                    "not convert '%s' to %s\n",
                    nums[i], tool_get(a, nums[i]),
                    i == 0 || i == 1 ? "Long"
                    : i == 2         ? "Short"
                                     : "Integer");
            return 1;
        }
    bool has_start = tool_has(a, "start-offset");
    if (!has_start && !tool_has(a, "producer-id")) {
        fprintf(stderr,
                "The transaction to abort must be identified either with "
                "--start-offset (for brokers on 3.0 or above) or with "
                "--producer-id, --producer-epoch, and --coordinator-epoch "
                "(for older brokers)\n");
        return 1;
    }
    char tp[512];
    snprintf(tp, sizeof(tp), "%s-%d", topic, (int)part);
    kc_metadata md;
    const char *const topics[] = {topic};
    if (!kc_metadata_get(kc, topics, 1, false, &md)) {
        fprintf(stderr, "metadata request failed\n");
        return 1;
    }
    int rc = 1;
    if (!has_start) {
        if (!tool_has(a, "producer-epoch")) {
            fprintf(stderr, "Missing required argument --producer-epoch\n");
            goto out;
        }
        if (!tool_has(a, "coordinator-epoch")) {
            fprintf(stderr, "Missing required argument --coordinator-epoch\n");
            goto out;
        }
        /* a transaction that hung before its first marker shows coordinator
         * epoch -1; 0 is <= any real one (as Kafka) */
        if (cepoch < 0)
            cepoch = 0;
    } else {
        kc_producer_state *ps;
        int n;
        int16_t e;
        if (!describe_producers_on(kc, &md, -1, topic, (int32_t)part, timeout,
                                   &ps, &n, &e) ||
            e) {
            char what[600];
            snprintf(what, sizeof(what),
                     "Failed to validate producer state for partition %s", tp);
            rc = fail(what,
                      e ? tool_error_message(e) : "DescribeProducers failed");
            free(ps);
            goto out;
        }
        int found = -1;
        for (int i = 0; i < n && found < 0; i++)
            if (ps[i].txn_start_offset >= 0 && ps[i].txn_start_offset == start)
                found = i;
        if (found < 0) {
            fprintf(stderr,
                    "Could not find any open transactions starting at offset "
                    "%lld on partition %s\n",
                    (long long)start, tp);
            free(ps);
            goto out;
        }
        pid = ps[found].producer_id;
        pepoch = (int16_t)ps[found].producer_epoch;
        cepoch =
            ps[found].coordinator_epoch < 0 ? 0 : ps[found].coordinator_epoch;
        free(ps);
    }
    char spec[700];
    snprintf(spec, sizeof(spec),
             "AbortTransactionSpec(topicPartition=%s, producerId=%lld, "
             "producerEpoch=%d, coordinatorEpoch=%d)",
             tp, (long long)pid, (int)(int16_t)pepoch, (int)cepoch);
    bool exists;
    int32_t leader = leader_of(&md, topic, (int32_t)part, &exists);
    kc_conn bc, *use = NULL;
    bool opened = false;
    int16_t e = 0;
    bool sent =
        exists && connect_broker(kc, &md, leader, timeout, &bc, &use, &opened);
    if (sent)
        sent = kc_write_txn_marker(use, topic, (int32_t)part, pid,
                                   (int16_t)pepoch, (int32_t)cepoch, false, &e);
    if (opened)
        kc_close(&bc);
    char what[800], cause[1200];
    snprintf(what, sizeof(what), "Failed to abort transaction %s", spec);
    if (!exists) {
        rc = fail(what, "This server does not host this topic-partition");
    } else if (!sent) {
        snprintf(cause, sizeof(cause),
                 "Timed out waiting for a node assignment. Call: "
                 "abortTransaction");
        rc = fail(what, cause);
    } else if (e == 47) { /* INVALID_PRODUCER_EPOCH */
        snprintf(cause, sizeof(cause),
                 "WriteTxnMarkers request with %s failed due an invalid "
                 "producer epoch",
                 spec);
        rc = fail(what, cause);
    } else if (e == 52) { /* TRANSACTION_COORDINATOR_FENCED */
        snprintf(cause, sizeof(cause),
                 "WriteTxnMarkers request with %s failed since the provided "
                 "coordinator epoch %d has been fenced by the active "
                 "coordinator",
                 spec, (int)cepoch);
        rc = fail(what, cause);
    } else if (e == 31) { /* CLUSTER_AUTHORIZATION_FAILED */
        snprintf(cause, sizeof(cause),
                 "WriteTxnMarkers request with %s failed due to cluster "
                 "authorization error",
                 spec);
        rc = fail(what, cause);
    } else if (e) {
        snprintf(cause, sizeof(cause),
                 "WriteTxnMarkers request with %s failed due to unexpected "
                 "error: %s",
                 spec, tool_error_message(e));
        rc = fail(what, cause);
    } else {
        rc = 0; /* Kafka prints nothing on success */
    }
out:
    kc_metadata_free(&md);
    return rc;
}

/* ============================ find-hanging ============================= */

typedef struct open_txn {
    const char *topic;
    int32_t part;
    kc_producer_state ps;
    bool hanging;
} open_txn;

static int cmp_open(const void *x, const void *y) {
    const open_txn *a = x, *b = y;
    int c = strcmp(a->topic, b->topic);
    if (c)
        return c;
    if (a->part != b->part)
        return a->part < b->part ? -1 : 1;
    return a->ps.producer_id < b->ps.producer_id   ? -1
           : a->ps.producer_id > b->ps.producer_id ? 1
                                                   : 0;
}

/* The transactional id of producer pid from ListTransactions on every
 * broker (heap), or NULL. */
static char *txn_id_of(kc_conn *kc, const kc_metadata *md, int timeout,
                       int64_t pid) {
    char *id = NULL;
    for (int b = 0; b < md->nbrokers && !id; b++) {
        kc_conn bc, *use;
        bool opened;
        if (!connect_broker(kc, md, md->brokers[b].id, timeout, &bc, &use,
                            &opened))
            continue;
        kc_txn *t;
        int n;
        int16_t e;
        if (kc_list_transactions(use, &t, &n, &e) && !e) {
            for (int i = 0; i < n && !id; i++)
                if (t[i].producer_id == pid)
                    id = xstrdup(t[i].id);
            kc_txn_free(t, n);
        }
        if (opened)
            kc_close(&bc);
    }
    return id;
}

/* The partitions the coordinator of txid lists ("t-0,t-1", heap), or NULL
 * when the id is unknown there (TRANSACTIONAL_ID_NOT_FOUND). */
static char *txn_partitions(kc_conn *kc, int timeout, const char *txid) {
    int32_t node, port;
    char *host = NULL;
    int16_t e;
    char *res = NULL;
    if (!kc_find_coordinator(kc, 1, txid, &node, &host, &port, &e) || e) {
        free(host);
        return NULL;
    }
    kc_conn cc, *use = kc;
    bool opened = false;
    char err[256];
    if (host && (strcmp(host, kc->host) || port != kc->port)) {
        if (!kc_connect_node(&cc, host, port, timeout, err, sizeof(err))) {
            free(host);
            return NULL;
        }
        use = &cc;
        opened = true;
    }
    kc_txn_desc d;
    if (kc_describe_transaction(use, txid, &d) && !d.error) {
        res = d.partitions;
        d.partitions = NULL;
    }
    kc_txn_desc_free(&d);
    if (opened)
        kc_close(&cc);
    free(host);
    return res;
}

static bool list_has(const char *list, const char *tp) {
    size_t n = strlen(tp);
    for (const char *p = list; p && *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == n && !memcmp(p, tp, n))
            return true;
        p = c ? c + 1 : NULL;
    }
    return false;
}

int tool_txn_find_hanging(tool_args *a, kc_conn *kc, int timeout) {
    const char *topic = tool_get(a, "topic");
    int64_t broker = -1, part = -1, max_min = 15;
    if (tool_has(a, "broker-id") &&
        !tool_parse_i64(tool_get(a, "broker-id"), &broker)) {
        fprintf(stderr,
                "kafka-transactions.sh find-hanging: error: argument "
                "--broker-id: could not convert '%s' to Integer\n",
                tool_get(a, "broker-id"));
        return 1;
    }
    if (tool_has(a, "partition") &&
        !tool_parse_i64(tool_get(a, "partition"), &part)) {
        fprintf(stderr,
                "kafka-transactions.sh find-hanging: error: argument "
                "--partition: could not convert '%s' to Integer\n",
                tool_get(a, "partition"));
        return 1;
    }
    if (tool_has(a, "max-transaction-timeout") &&
        !tool_parse_i64(tool_get(a, "max-transaction-timeout"), &max_min)) {
        fprintf(stderr,
                "kafka-transactions.sh find-hanging: error: argument "
                "--max-transaction-timeout: could not convert '%s' to "
                "Integer\n",
                tool_get(a, "max-transaction-timeout"));
        return 1;
    }
    if (!topic && !tool_has(a, "broker-id")) {
        fprintf(stderr, "The `find-hanging` command requires either --topic "
                        "or --broker-id to limit the scope of the search\n");
        return 1;
    }
    if (tool_has(a, "partition") && !topic) {
        fprintf(stderr,
                "The --partition argument requires --topic to be provided\n");
        return 1;
    }
    kc_metadata md;
    const char *const topics[] = {topic};
    if (!kc_metadata_get(kc, topic ? topics : NULL, topic ? 1 : -1, false,
                         &md)) {
        fprintf(stderr, "Failed to list topics: metadata request failed. "
                        "Enable debug logging for additional detail.\n");
        return 1;
    }
    int rc = 1;
    if (topic && (md.ntopics != 1 || md.topics[0].error)) {
        fprintf(stderr,
                "Failed to describe 1 topics: %s. Enable debug logging for "
                "additional detail.\n",
                tool_error_message(md.ntopics ? md.topics[0].error : 3));
        kc_metadata_free(&md);
        return 1;
    }
    /* partitions to search: the named one, or every partition of the
     * topic(s) with a replica on --broker-id */
    open_txn *ot = NULL;
    int not = 0;
    int64_t now = tool_now_ms();
    int64_t max_ms = max_min * 60000;
    for (int i = 0; i < md.ntopics; i++) {
        const kc_topic *t = &md.topics[i];
        if (t->error)
            continue;
        for (int j = 0; j < t->nparts; j++) {
            const kc_partition *p = &t->parts[j];
            if (part >= 0 && p->id != part)
                continue;
            if (part < 0 && broker >= 0) {
                bool has = false;
                for (int r = 0; r < p->nreplicas; r++)
                    has |= p->replicas[r] == broker;
                if (!has)
                    continue;
            }
            kc_producer_state *ps;
            int n;
            int16_t e;
            if (!describe_producers_on(kc, &md, (int32_t)broker, t->name, p->id,
                                       timeout, &ps, &n, &e) ||
                e) {
                char b[32];
                if (broker >= 0)
                    snprintf(b, sizeof(b), "Optional[%lld]", (long long)broker);
                else
                    snprintf(b, sizeof(b), "Optional.empty");
                fprintf(stderr,
                        "Failed to describe producers for 1 partitions on "
                        "broker %s: %s. Enable debug logging for additional "
                        "detail.\n",
                        b, e ? tool_error_message(e) : "request failed");
                free(ps);
                free(ot);
                kc_metadata_free(&md);
                return 1;
            }
            for (int k = 0; k < n; k++)
                if (ps[k].txn_start_offset >= 0 &&
                    now - ps[k].last_timestamp > max_ms) {
                    ot = xrealloc(ot, (size_t)(not +1) * sizeof(open_txn));
                    ot[not ++] = (open_txn){t->name, p->id, ps[k], false};
                }
            free(ps);
        }
    }
    /* a candidate hangs when its producer has no transactional id, the id
     * is unknown to its coordinator, or the coordinator does not list the
     * partition in the ongoing transaction */
    for (int i = 0; i < not ; i++) {
        char *txid = txn_id_of(kc, &md, timeout, ot[i].ps.producer_id);
        char *parts = txid ? txn_partitions(kc, timeout, txid) : NULL;
        char tp[512];
        snprintf(tp, sizeof(tp), "%s-%d", ot[i].topic, ot[i].part);
        ot[i].hanging = !txid || !parts || !list_has(parts, tp);
        free(txid);
        free(parts);
    }
    if (not )
        qsort(ot, (size_t) not, sizeof(open_txn), cmp_open);
    char ***rows = xcalloc((size_t) not +1, sizeof(char **));
    int nr = 0;
    for (int i = 0; i < not ; i++) {
        if (!ot[i].hanging)
            continue;
        char **row = xcalloc(8, sizeof(char *));
        char tmp[64];
        row[0] = xstrdup(ot[i].topic);
        snprintf(tmp, sizeof(tmp), "%d", ot[i].part);
        row[1] = xstrdup(tmp);
        snprintf(tmp, sizeof(tmp), "%lld", (long long)ot[i].ps.producer_id);
        row[2] = xstrdup(tmp);
        snprintf(tmp, sizeof(tmp), "%d", ot[i].ps.producer_epoch);
        row[3] = xstrdup(tmp);
        snprintf(tmp, sizeof(tmp), "%d", ot[i].ps.coordinator_epoch);
        row[4] = xstrdup(tmp);
        snprintf(tmp, sizeof(tmp), "%lld",
                 (long long)ot[i].ps.txn_start_offset);
        row[5] = xstrdup(tmp);
        snprintf(tmp, sizeof(tmp), "%lld", (long long)ot[i].ps.last_timestamp);
        row[6] = xstrdup(tmp);
        snprintf(tmp, sizeof(tmp), "%lld",
                 (long long)((now - ot[i].ps.last_timestamp) / 60000));
        row[7] = xstrdup(tmp);
        rows[nr++] = row;
    }
    static const char *const hdr[] = {
        "Topic",         "Partition",        "ProducerId",
        "ProducerEpoch", "CoordinatorEpoch", "StartOffset",
        "LastTimestamp", "Duration(min)"};
    tool_pretty_table(hdr, 8, rows, nr);
    for (int r = 0; r < nr; r++) {
        for (int c = 0; c < 8; c++)
            free(rows[r][c]);
        free(rows[r]);
    }
    free(rows);
    free(ot);
    rc = 0;
    kc_metadata_free(&md);
    return rc;
}
