/*
 * tool_verifiable.c - `sluice verifiable-producer` / `sluice
 * verifiable-consumer` (kafka-verifiable-producer.sh,
 * kafka-verifiable-consumer.sh): Kafka's system-test clients on librdkafka,
 * printing Kafka's JSON event lines with Jackson's field order
 * (startup_complete, producer_send_success/error, shutdown_complete,
 * tool_data; partitions_assigned/revoked, records_consumed, record_data,
 * offsets_committed, shutdown_requested).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "tools/tool_rdkafka.h"

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    SL_UNUSED(sig);
    g_stop = 1;
}

static void json_str(FILE *f, const char *s, size_t n) {
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* ======================== verifiable-producer ========================= */

static const tool_optdef vp_opts[] = {
    {"acks", TOOL_ARG,
     "Acks required on each produced message. See Kafka docs on acks for "
     "details. (default: -1)"},
    {"bootstrap-server", TOOL_ARG,
     "REQUIRED: The server(s) to connect to. Comma-separated list of Kafka "
     "brokers in the form HOST1:PORT1,HOST2:PORT2,..."},
    {"command-config", TOOL_ARG, "Producer config properties file."},
    {"max-messages", TOOL_ARG,
     "Produce this many messages. If -1, produce messages until the process "
     "is killed externally. (default: -1)"},
    {"message-create-time", TOOL_ARG,
     "Send messages with creation time starting at the arguments value, in "
     "milliseconds since epoch (default: -1)"},
    {"producer.config", TOOL_ARG,
     "(DEPRECATED) Producer config properties file. Use --command-config."},
    {"repeating-keys", TOOL_ARG,
     "If specified, each produced record will have a key starting at 0 "
     "increment by 1 up to the number specified (exclusive), then the key "
     "is set to 0 again"},
    {"throughput", TOOL_ARG,
     "If set >= 0, throttle maximum message throughput to *approximately* "
     "THROUGHPUT messages/sec. (default: -1)"},
    {"topic", TOOL_ARG, "Produce messages to this topic."},
    {"value-prefix", TOOL_ARG,
     "If specified, each produced value will have this prefix with a dot "
     "separator"},
};

static int64_t g_acked;
static const char *g_topic;

static void vp_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    SL_UNUSED(rk);
    SL_UNUSED(opaque);
    printf("{\"timestamp\":%lld,\"name\":\"%s\",\"key\":",
           (long long)tool_now_ms(),
           m->err ? "producer_send_error" : "producer_send_success");
    json_str(stdout, m->key, m->key_len);
    printf(",\"value\":");
    json_str(stdout, m->payload, m->len);
    if (m->err) {
        printf(",\"topic\":");
        json_str(stdout, g_topic, strlen(g_topic));
        printf(",\"exception\":\"class %s\",\"message\":",
               tool_java_exception(m->err > 0 ? m->err : 7));
        const char *msg = rd_kafka_err2str(m->err);
        json_str(stdout, msg, strlen(msg));
        printf("}\n");
    } else {
        g_acked++;
        printf(",\"offset\":%lld,\"topic\":", (long long)m->offset);
        json_str(stdout, g_topic, strlen(g_topic));
        printf(",\"partition\":%d}\n", (int)m->partition);
    }
    fflush(stdout);
}

static int argparse_error(const char *prog, const char *usage,
                          const char *msg) {
    fprintf(stderr, "usage: %s %s\n%s: error: %s\n", prog, usage, prog, msg);
    return 1;
}

int tool_verifiable_producer_main(int argc, char **argv) {
    tool_args a;
    int rc = tool_parse(&a, "kafka-verifiable-producer.sh",
                        "This tool produces increasing integers to the "
                        "specified topic and prints JSON metadata to stdout on "
                        "each \"send\" request, making externally visible "
                        "which messages have been acked and which have not.",
                        vp_opts, SL_ARRAY_LEN(vp_opts), argc, argv);
    if (rc >= 0)
        return rc;
    tool_props props = {0};
    rd_kafka_t *rk = NULL;
    static const char usage[] =
        "[-h] --topic TOPIC [--max-messages MAX-MESSAGES] [--throughput "
        "THROUGHPUT] [--acks ACKS] [--producer.config CONFIG-FILE] "
        "[--message-create-time CREATE-TIME] [--value-prefix VALUE-PREFIX] "
        "[--repeating-keys REPEATING-KEYS] [--command-config CONFIG-FILE] "
        "--bootstrap-server HOST1:PORT1[,HOST2:PORT2[...]]";
    if (!tool_has(&a, "topic") || !tool_has(&a, "bootstrap-server")) {
        rc = argparse_error("verifiable-producer", usage,
                            !tool_has(&a, "topic")
                                ? "argument --topic is required"
                                : "argument --bootstrap-server is required");
        goto out;
    }
    int64_t max = -1, create_time = -1, keys = -1;
    double throughput = -1;
    if (tool_has(&a, "max-messages"))
        tool_parse_i64(tool_get(&a, "max-messages"), &max);
    if (tool_has(&a, "message-create-time"))
        tool_parse_i64(tool_get(&a, "message-create-time"), &create_time);
    if (tool_has(&a, "repeating-keys"))
        tool_parse_i64(tool_get(&a, "repeating-keys"), &keys);
    if (tool_has(&a, "throughput"))
        throughput = atof(tool_get(&a, "throughput"));
    const char *cfg = tool_get(&a, "command-config");
    if (!cfg)
        cfg = tool_get(&a, "producer.config");
    if (cfg && !tool_props_load(&props, cfg)) {
        rc = 1;
        goto out;
    }
    tool_props_set(&props, "acks", tool_get_or(&a, "acks", "-1"));
    /* Kafka's tool: one retry-free, in-order stream of increasing values. */
    if (!tool_props_get(&props, "retries"))
        tool_props_set(&props, "retries", "0");
    rd_kafka_conf_t *conf =
        tool_conf_new(tool_get(&a, "bootstrap-server"), &props);
    rd_kafka_conf_set_dr_msg_cb(conf, vp_dr);
    char err[512];
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "%s\n", err);
        rd_kafka_conf_destroy(conf);
        rc = 1;
        goto out;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    g_topic = tool_get(&a, "topic");
    g_acked = 0;
    const char *prefix = tool_get(&a, "value-prefix");
    printf("{\"timestamp\":%lld,\"name\":\"startup_complete\"}\n",
           (long long)tool_now_ms());
    fflush(stdout);
    int64_t start = tool_now_ms(), sent = 0;
    for (int64_t i = 0; (max < 0 || i < max) && !g_stop; i++) {
        char val[128], key[32];
        if (prefix)
            snprintf(val, sizeof(val), "%s.%lld", prefix, (long long)i);
        else
            snprintf(val, sizeof(val), "%lld", (long long)i);
        bool with_key = keys > 0;
        if (with_key)
            snprintf(key, sizeof(key), "%lld", (long long)(i % keys));
        int64_t ts =
            create_time >= 0 ? create_time + (tool_now_ms() - start) : 0;
        rd_kafka_resp_err_t e;
        for (;;) {
            e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(g_topic),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_KEY(with_key ? key : NULL,
                                                 with_key ? strlen(key) : 0),
                                  RD_KAFKA_V_VALUE(val, strlen(val)),
                                  RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_END);
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                break;
            rd_kafka_poll(rk, 10);
        }
        if (e) {
            printf("{\"timestamp\":%lld,\"name\":\"producer_send_error\","
                   "\"key\":null,\"value\":\"%s\",\"topic\":",
                   (long long)tool_now_ms(), val);
            json_str(stdout, g_topic, strlen(g_topic));
            printf(",\"exception\":\"class "
                   "org.apache.kafka.common.KafkaException\","
                   "\"message\":\"%s\"}\n",
                   rd_kafka_err2str(e));
        }
        sent++;
        rd_kafka_poll(rk, 0);
        if (throughput > 0) {
            int64_t target = start + (int64_t)((i + 1) * 1000.0 / throughput);
            while (tool_now_ms() < target && !g_stop)
                rd_kafka_poll(rk, (int)SL_MIN(target - tool_now_ms(), 50));
        }
    }
    rd_kafka_flush(rk, 60000);
    int64_t stop = tool_now_ms();
    printf("{\"timestamp\":%lld,\"name\":\"shutdown_complete\"}\n",
           (long long)stop);
    char avg[64];
    double secs = (stop - start) / 1000.0;
    tool_java_double(secs > 0 ? g_acked / secs : 0.0, avg, sizeof(avg));
    printf("{\"timestamp\":%lld,\"name\":\"tool_data\",\"sent\":%lld,\"acked\":"
           "%lld,"
           "\"target_throughput\":%lld,\"avg_throughput\":%s}\n",
           (long long)tool_now_ms(), (long long)sent, (long long)g_acked,
           (long long)throughput, avg);
    fflush(stdout);
    rc = 0;
out:
    if (rk)
        rd_kafka_destroy(rk);
    tool_props_free(&props);
    tool_args_free(&a);
    return rc;
}

/* ======================== verifiable-consumer ========================= */

static const tool_optdef vc_opts[] = {
    {"assignment-strategy", TOOL_ARG,
     "Set assignment strategy (e.g. "
     "org.apache.kafka.clients.consumer.RoundRobinAssignor)"},
    {"bootstrap-server", TOOL_ARG, "REQUIRED: The server(s) to connect to."},
    {"command-config", TOOL_ARG, "Consumer config properties file."},
    {"consumer.config", TOOL_ARG,
     "(DEPRECATED) Consumer config properties file. Use --command-config."},
    {"enable-autocommit", TOOL_FLAG,
     "Enable offset auto-commit on consumer (default: false)"},
    {"group-id", TOOL_ARG, "The group id of the consumer group"},
    {"group-instance-id", TOOL_ARG,
     "A unique identifier of the consumer instance"},
    {"group-protocol", TOOL_ARG, "Group protocol (must be classic here)"},
    {"group-remote-assignor", TOOL_ARG,
     "Group remote assignor (consumer protocol only)"},
    {"max-messages", TOOL_ARG,
     "Consume this many messages. If -1 (the default), the consumer will "
     "consume until the process is killed externally"},
    {"reset-policy", TOOL_ARG,
     "Set reset policy (must be either 'earliest', 'latest', or 'none' "
     "(default: earliest)"},
    {"session-timeout", TOOL_ARG,
     "Set the consumer's session timeout (default: 30000)"},
    {"topic", TOOL_ARG, "Consumes messages from this topic."},
    {"verbose", TOOL_FLAG, "Enable to log individual consumed records"},
};

static void print_parts(const char *name,
                        const rd_kafka_topic_partition_list_t *p) {
    printf("{\"timestamp\":%lld,\"name\":\"%s\",\"partitions\":[",
           (long long)tool_now_ms(), name);
    for (int i = 0; i < p->cnt; i++) {
        printf("%s{\"topic\":", i ? "," : "");
        json_str(stdout, p->elems[i].topic, strlen(p->elems[i].topic));
        printf(",\"partition\":%d}", (int)p->elems[i].partition);
    }
    printf("]}\n");
    fflush(stdout);
}

static void vc_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    SL_UNUSED(opaque);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        print_parts("partitions_assigned", parts);
        rd_kafka_assign(rk, parts);
    } else {
        print_parts("partitions_revoked", parts);
        rd_kafka_assign(rk, NULL);
    }
}

typedef struct vc_part {
    char *topic;
    int32_t part;
    int64_t count, min, max;
} vc_part;

static void print_committed(const rd_kafka_topic_partition_list_t *offs,
                            rd_kafka_resp_err_t err) {
    printf("{\"timestamp\":%lld,\"name\":\"offsets_committed\",\"offsets\":[",
           (long long)tool_now_ms());
    int k = 0;
    for (int i = 0; offs && i < offs->cnt; i++) {
        if (offs->elems[i].offset < 0)
            continue;
        printf("%s{\"topic\":", k++ ? "," : "");
        json_str(stdout, offs->elems[i].topic, strlen(offs->elems[i].topic));
        printf(",\"partition\":%d,\"offset\":%lld}",
               (int)offs->elems[i].partition, (long long)offs->elems[i].offset);
    }
    printf("]");
    if (err) {
        printf(",\"error\":");
        const char *m = rd_kafka_err2str(err);
        json_str(stdout, m, strlen(m));
    }
    printf(",\"success\":%s}\n", err ? "false" : "true");
    fflush(stdout);
}

static void vc_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *offs, void *opaque) {
    SL_UNUSED(rk);
    SL_UNUSED(opaque);
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    print_committed(offs, err);
}

int tool_verifiable_consumer_main(int argc, char **argv) {
    tool_args a;
    int rc = tool_parse(&a, "kafka-verifiable-consumer.sh",
                        "This tool consumes messages from a specific topic and "
                        "emits consumer events (e.g. group rebalances, "
                        "received messages, and offsets committed) as JSON "
                        "objects to STDOUT.",
                        vc_opts, SL_ARRAY_LEN(vc_opts), argc, argv);
    if (rc >= 0)
        return rc;
    tool_props props = {0};
    rd_kafka_t *rk = NULL;
    static const char usage[] =
        "[-h] --topic TOPIC [--group-protocol GROUP-PROTOCOL] "
        "[--group-remote-assignor GROUP-REMOTE-ASSIGNOR] --group-id GROUP-ID "
        "[--group-instance-id GROUP-INSTANCE-ID] [--max-messages "
        "MAX-MESSAGES] [--session-timeout TIMEOUT-MS] [--verbose] "
        "[--enable-autocommit] [--reset-policy RESET-POLICY] "
        "[--assignment-strategy ASSIGNMENT-STRATEGY] [--command-config "
        "CONFIG-FILE] --bootstrap-server HOST1:PORT1[,HOST2:PORT2[...]]";
    const char *missing = !tool_has(&a, "topic")      ? "--topic"
                          : !tool_has(&a, "group-id") ? "--group-id"
                          : !tool_has(&a, "bootstrap-server")
                              ? "--bootstrap-server"
                              : NULL;
    if (missing) {
        char m[80];
        snprintf(m, sizeof(m), "argument %s is required", missing);
        rc = argparse_error("verifiable-consumer", usage, m);
        goto out;
    }
    int64_t max = -1;
    if (tool_has(&a, "max-messages"))
        tool_parse_i64(tool_get(&a, "max-messages"), &max);
    const char *cfg = tool_get(&a, "command-config");
    if (!cfg)
        cfg = tool_get(&a, "consumer.config");
    if (cfg && !tool_props_load(&props, cfg)) {
        rc = 1;
        goto out;
    }
    bool autocommit = tool_has(&a, "enable-autocommit");
    tool_props_set(&props, "group.id", tool_get(&a, "group-id"));
    if (tool_has(&a, "group-instance-id"))
        tool_props_set(&props, "group.instance.id",
                       tool_get(&a, "group-instance-id"));
    tool_props_set(&props, "enable.auto.commit", autocommit ? "true" : "false");
    tool_props_set(&props, "auto.offset.reset",
                   tool_get_or(&a, "reset-policy", "earliest"));
    tool_props_set(&props, "session.timeout.ms",
                   tool_get_or(&a, "session-timeout", "30000"));
    if (tool_has(&a, "assignment-strategy")) {
        const char *s = tool_get(&a, "assignment-strategy");
        const char *lib = strstr(s, "RoundRobin") ? "roundrobin"
                          : strstr(s, "Sticky")   ? "cooperative-sticky"
                                                  : "range";
        tool_props_set(&props, "partition.assignment.strategy", lib);
    }
    rd_kafka_conf_t *conf =
        tool_conf_new(tool_get(&a, "bootstrap-server"), &props);
    rd_kafka_conf_set_rebalance_cb(conf, vc_rebalance);
    if (autocommit)
        rd_kafka_conf_set_offset_commit_cb(conf, vc_commit_cb);
    char err[512];
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "%s\n", err);
        rd_kafka_conf_destroy(conf);
        rc = 1;
        goto out;
    }
    rd_kafka_poll_set_consumer(rk);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, tool_get(&a, "topic"),
                                      RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    printf("{\"timestamp\":%lld,\"name\":\"startup_complete\"}\n",
           (long long)tool_now_ms());
    fflush(stdout);
    bool verbose = tool_has(&a, "verbose");
    int64_t consumed = 0;
    while (!g_stop && (max < 0 || consumed < max)) {
        /* A "poll": the first message with a 100 ms wait, then whatever is
         * already buffered (Java's poll returns a batch). */
        vc_part *parts = NULL;
        int nparts = 0, batch = 0;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        while (m) {
            if (!m->err) {
                const char *t = rd_kafka_topic_name(m->rkt);
                vc_part *p = NULL;
                for (int i = 0; i < nparts; i++)
                    if (parts[i].part == m->partition &&
                        !strcmp(parts[i].topic, t))
                        p = &parts[i];
                if (!p) {
                    parts =
                        xrealloc(parts, (size_t)(nparts + 1) * sizeof(vc_part));
                    p = &parts[nparts++];
                    *p = (vc_part){xstrdup(t), m->partition, 0, m->offset,
                                   m->offset};
                }
                p->count++;
                p->min = SL_MIN(p->min, m->offset);
                p->max = SL_MAX(p->max, m->offset);
                if (verbose) {
                    printf(
                        "{\"timestamp\":%lld,\"name\":\"record_data\",\"key\":",
                        (long long)tool_now_ms());
                    json_str(stdout, m->key, m->key_len);
                    printf(",\"value\":");
                    json_str(stdout, m->payload, m->len);
                    printf(",\"topic\":");
                    json_str(stdout, t, strlen(t));
                    printf(",\"partition\":%d,\"offset\":%lld}\n",
                           (int)m->partition, (long long)m->offset);
                }
                batch++;
                consumed++;
            }
            rd_kafka_message_destroy(m);
            if (max >= 0 && consumed >= max)
                break;
            m = rd_kafka_consumer_poll(rk, 0);
        }
        if (batch == 0)
            continue;
        printf("{\"timestamp\":%lld,\"name\":\"records_consumed\",\"count\":%d,"
               "\"partitions\":[",
               (long long)tool_now_ms(), batch);
        for (int i = 0; i < nparts; i++) {
            printf("%s{\"topic\":", i ? "," : "");
            json_str(stdout, parts[i].topic, strlen(parts[i].topic));
            printf(",\"partition\":%d,\"count\":%lld,\"minOffset\":%lld,"
                   "\"maxOffset\":%lld}",
                   (int)parts[i].part, (long long)parts[i].count,
                   (long long)parts[i].min, (long long)parts[i].max);
        }
        printf("]}\n");
        fflush(stdout);
        if (!autocommit) {
            rd_kafka_topic_partition_list_t *offs =
                rd_kafka_topic_partition_list_new(nparts + 1);
            for (int i = 0; i < nparts; i++)
                rd_kafka_topic_partition_list_add(offs, parts[i].topic,
                                                  parts[i].part)
                    ->offset = parts[i].max + 1;
            rd_kafka_resp_err_t ce = rd_kafka_commit(rk, offs, 0);
            print_committed(offs, ce);
            rd_kafka_topic_partition_list_destroy(offs);
        }
        for (int i = 0; i < nparts; i++)
            free(parts[i].topic);
        free(parts);
    }
    rd_kafka_consumer_close(rk);
    printf("{\"timestamp\":%lld,\"name\":\"shutdown_complete\"}\n",
           (long long)tool_now_ms());
    printf("{\"timestamp\":%lld,\"name\":\"shutdown_requested\"}\n",
           (long long)tool_now_ms());
    fflush(stdout);
    rc = 0;
out:
    if (rk)
        rd_kafka_destroy(rk);
    tool_props_free(&props);
    tool_args_free(&a);
    return rc;
}
