/*
 * tool_console.c - `sluice console-producer` / `sluice console-consumer`
 * (kafka-console-producer.sh, kafka-console-consumer.sh) on librdkafka:
 * Kafka 4.x's flags, LineMessageReader input parsing, DefaultMessageFormatter
 * output, deprecation notices and "Processed a total of N messages".
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "tools/tool_rdkafka.h"

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    SL_UNUSED(sig);
    g_stop = 1;
}

static bool prop_true(const tool_props *p, const char *k, bool dflt) {
    const char *v = tool_props_get(p, k);
    if (!v)
        return dflt;
    while (*v == ' ')
        v++;
    return !strncasecmp(v, "true", 4);
}

/* --property / --reader-property / --formatter-property style k=v lists. */
static bool add_kvs(tool_args *a, const char *opt, tool_props *p) {
    const char **v;
    int n = tool_getall(a, opt, &v);
    for (int i = 0; i < n; i++)
        if (!tool_props_add_kv(p, v[i])) {
            tool_usage_error(a, "Invalid command line properties: %s", v[i]);
            return false;
        }
    return true;
}

/* ======================= console-producer ========================== */

static const tool_optdef prod_opts[] = {
    {"batch-size", TOOL_ARG,
     "The buffer size in bytes allocated for a partition. (default: 16384)"},
    {"bootstrap-server", TOOL_ARG, "REQUIRED: The server(s) to connect to."},
    {"command-config", TOOL_ARG,
     "Producer config properties file. Note that --command-property takes "
     "precedence over this config."},
    {"command-property", TOOL_ARG,
     "Producer config properties in the form key=value."},
    {"compression-codec", TOOL_OPTARG,
     "The compression codec: either 'none', 'gzip', 'snappy', 'lz4', or "
     "'zstd'. If specified without value, then it defaults to 'gzip'"},
    {"line-reader", TOOL_ARG,
     "The class name of the class to use for reading lines from standard "
     "in. (default: org.apache.kafka.tools.LineMessageReader)"},
    {"max-block-ms", TOOL_ARG,
     "The max time that the producer will block for during a send request. "
     "(default: 60000)"},
    {"max-memory-bytes", TOOL_ARG,
     "The total memory used by the producer to buffer records waiting to be "
     "sent to the server. (default: 33554432)"},
    {"max-partition-memory-bytes", TOOL_ARG,
     "(Deprecated) The buffer size in bytes allocated for a partition."},
    {"message-send-max-retries", TOOL_ARG,
     "Number of retries before the producer gives up. (default: 3)"},
    {"metadata-expiry-ms", TOOL_ARG,
     "The period of time in milliseconds after which we force a refresh of "
     "metadata. (default: 300000)"},
    {"producer-property", TOOL_ARG,
     "(DEPRECATED) Producer config properties in the form key=value. Use "
     "--command-property instead."},
    {"producer.config", TOOL_ARG,
     "(DEPRECATED) Producer config properties file. Use --command-config "
     "instead."},
    {"property", TOOL_ARG,
     "(DEPRECATED) A mechanism to pass user-defined properties in the form "
     "key=value to the message reader. Use --reader-property instead."},
    {"reader-config", TOOL_ARG,
     "Config properties file for the message reader."},
    {"reader-property", TOOL_ARG,
     "A mechanism to pass user-defined properties in the form key=value to "
     "the message reader: parse.key, key.separator, parse.headers, "
     "headers.delimiter, headers.separator, headers.key.separator, "
     "ignore.error, null.marker."},
    {"request-required-acks", TOOL_ARG,
     "The required `acks` of the producer requests (default: -1)"},
    {"request-timeout-ms", TOOL_ARG,
     "The ack timeout of the producer requests. (default: 1500)"},
    {"retry-backoff-ms", TOOL_ARG,
     "Before each retry, the producer refreshes the metadata of relevant "
     "topics. (default: 100)"},
    {"socket-buffer-size", TOOL_ARG,
     "The size of the tcp RECV size. (default: 102400)"},
    {"sync", TOOL_FLAG,
     "If set message send requests to the brokers are synchronously, one at "
     "a time as they arrive."},
    {"timeout", TOOL_ARG,
     "If set and the producer is running in asynchronous mode, this gives "
     "the maximum amount of time a message will queue awaiting sufficient "
     "batch size. The value is given in ms. (default: 1000)"},
    {"topic", TOOL_ARG, "REQUIRED: The topic name to produce messages to."},
    {"version", TOOL_FLAG, "Display Kafka version."},
};

typedef struct line_reader {
    bool parse_key, parse_headers, ignore_error;
    const char *key_sep, *hdr_delim, *hdr_sep, *hdr_key_sep, *null_marker;
} line_reader;

static int64_t g_send_errors;
static int64_t g_inflight;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    SL_UNUSED(rk);
    SL_UNUSED(opaque);
    g_inflight--;
    if (m->err) {
        g_send_errors++;
        fprintf(stderr,
                "ERROR Error when sending message to topic %s with key: %s, "
                "value: %zu bytes with error: %s "
                "(org.apache.kafka.clients.producer.internals."
                "ErrorLoggingCallback)\n",
                rd_kafka_topic_name(m->rkt), m->key ? "<key>" : "null", m->len,
                rd_kafka_err2str(m->err));
    }
}

/* Finds needle in hay from start; returns index or -1. */
static long find_from(const char *hay, size_t start, const char *needle) {
    if (!*needle)
        return (long)start;
    const char *p = strstr(hay + start, needle);
    return p ? (long)(p - hay) : -1;
}

int tool_console_producer_main(int argc, char **argv) {
    tool_args a;
    int rc = tool_parse(&a, "kafka-console-producer.sh",
                        "This tool helps to read data from standard input and "
                        "publish it to Kafka.",
                        prod_opts, SL_ARRAY_LEN(prod_opts), argc, argv);
    if (rc >= 0)
        return rc;
    tool_props pp = {0}, rp = {0};
    rd_kafka_t *rk = NULL;
    if (tool_has(&a, "version")) {
        printf("4.3.1 (sluice)\n");
        rc = 0;
        goto out;
    }
    if (!tool_has(&a, "topic") || !tool_has(&a, "bootstrap-server")) {
        rc = tool_usage_error(&a, "Missing required argument \"[%s]\"",
                              !tool_has(&a, "topic") ? "topic"
                                                     : "bootstrap-server");
        goto out;
    }
    if (tool_has(&a, "producer-property") && tool_has(&a, "command-property")) {
        rc = tool_usage_error(&a, "Options --producer-property and "
                                  "--command-property cannot be specified "
                                  "together.");
        goto out;
    }
    if (tool_has(&a, "producer.config") && tool_has(&a, "command-config")) {
        rc = tool_usage_error(&a, "Options --producer.config and "
                                  "--command-config cannot be specified "
                                  "together.");
        goto out;
    }
    if (tool_has(&a, "property") && tool_has(&a, "reader-property")) {
        rc = tool_usage_error(&a, "Options --property and --reader-property "
                                  "cannot be specified together.");
        goto out;
    }
    if (tool_has(&a, "line-reader") &&
        strcmp(tool_get(&a, "line-reader"),
               "org.apache.kafka.tools.LineMessageReader") != 0) {
        fprintf(stderr, "Only org.apache.kafka.tools.LineMessageReader is "
                        "supported as --line-reader\n");
        rc = 1;
        goto out;
    }
    if (tool_has(&a, "producer-property"))
        printf("Warning: --producer-property is deprecated and will be "
               "removed in a future version. Use --command-property "
               "instead.\n");
    if (tool_has(&a, "producer.config"))
        printf("Warning: --producer.config is deprecated and will be removed "
               "in a future version. Use --command-config instead.\n");
    if (tool_has(&a, "property"))
        printf("Warning: --property is deprecated and will be removed in a "
               "future version. Use --reader-property instead.\n");
    fflush(stdout);

    /* Producer properties: Kafka's tool defaults, then the file, then the
     * k=v flags, then the dedicated flags. */
    tool_props_set(&pp, "acks", tool_get_or(&a, "request-required-acks", "-1"));
    tool_props_set(&pp, "linger.ms", tool_get_or(&a, "timeout", "1000"));
    tool_props_set(&pp, "retries",
                   tool_get_or(&a, "message-send-max-retries", "3"));
    tool_props_set(&pp, "retry.backoff.ms",
                   tool_get_or(&a, "retry-backoff-ms", "100"));
    tool_props_set(&pp, "request.timeout.ms",
                   tool_get_or(&a, "request-timeout-ms", "1500"));
    tool_props_set(&pp, "batch.size", tool_get_or(&a, "batch-size", "16384"));
    tool_props_set(&pp, "client.id", "console-producer");
    if (tool_has(&a, "metadata-expiry-ms"))
        tool_props_set(&pp, "topic.metadata.refresh.interval.ms",
                       tool_get(&a, "metadata-expiry-ms"));
    if (tool_has(&a, "socket-buffer-size"))
        tool_props_set(&pp, "socket.receive.buffer.bytes",
                       tool_get(&a, "socket-buffer-size"));
    if (tool_has(&a, "compression-codec")) {
        const char *c = tool_get(&a, "compression-codec");
        tool_props_set(&pp, "compression.type", *c ? c : "gzip");
    }
    const char *cfgfile = tool_get(&a, "command-config");
    if (!cfgfile)
        cfgfile = tool_get(&a, "producer.config");
    if (cfgfile && !tool_props_load(&pp, cfgfile)) {
        rc = 1;
        goto out;
    }
    if (!add_kvs(&a, "producer-property", &pp) ||
        !add_kvs(&a, "command-property", &pp)) {
        rc = 1;
        goto out;
    }
    /* Java's delivery.timeout.ms default (librdkafka's is 300 s): an
     * unreachable broker fails the sends within Kafka's time. */
    if (!tool_props_get(&pp, "delivery.timeout.ms") &&
        !tool_props_get(&pp, "message.timeout.ms"))
        tool_props_set(&pp, "message.timeout.ms", "120000");
    /* With --sync every record is its own request. */
    if (tool_has(&a, "sync"))
        tool_props_set(&pp, "linger.ms", "0");

    if (tool_has(&a, "reader-config") &&
        !tool_props_load(&rp, tool_get(&a, "reader-config"))) {
        rc = 1;
        goto out;
    }
    if (!add_kvs(&a, "property", &rp) || !add_kvs(&a, "reader-property", &rp)) {
        rc = 1;
        goto out;
    }
    line_reader lr = {
        .parse_key = prop_true(&rp, "parse.key", false),
        .parse_headers = prop_true(&rp, "parse.headers", false),
        .ignore_error = prop_true(&rp, "ignore.error", false),
        .key_sep = tool_props_get(&rp, "key.separator"),
        .hdr_delim = tool_props_get(&rp, "headers.delimiter"),
        .hdr_sep = tool_props_get(&rp, "headers.separator"),
        .hdr_key_sep = tool_props_get(&rp, "headers.key.separator"),
        .null_marker = tool_props_get(&rp, "null.marker"),
    };
    if (!lr.key_sep)
        lr.key_sep = "\t";
    if (!lr.hdr_delim)
        lr.hdr_delim = "\t";
    if (!lr.hdr_sep)
        lr.hdr_sep = ",";
    if (!lr.hdr_key_sep)
        lr.hdr_key_sep = ":";
    const char *clash = NULL;
    if (!strcmp(lr.hdr_delim, lr.hdr_sep))
        clash = "headers.delimiter and headers.separator may not be equal";
    else if (!strcmp(lr.hdr_delim, lr.hdr_key_sep))
        clash = "headers.delimiter and headers.key.separator may not be equal";
    else if (!strcmp(lr.hdr_sep, lr.hdr_key_sep))
        clash = "headers.separator and headers.key.separator may not be equal";
    else if (lr.null_marker && !strcmp(lr.key_sep, lr.null_marker))
        clash = "null.marker and key.separator may not be equal";
    if (clash) {
        fprintf(stderr, "%s\n", clash);
        rc = 1;
        goto out;
    }

    rd_kafka_conf_t *conf =
        tool_conf_new(tool_get(&a, "bootstrap-server"), &pp);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
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
    const char *topic = tool_get(&a, "topic");
    bool prompt = isatty(0) && isatty(1);
    bool sync = tool_has(&a, "sync");
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    rc = 0;
    for (;;) {
        lineno++;
        if (prompt) {
            printf(">");
            fflush(stdout);
        }
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0 || g_stop)
            break;
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = 0;
        if (n > 0 && line[n - 1] == '\r')
            line[--n] = 0;
        size_t hoff = 0, koff = 0;
        long hend = -1, kend = -1;
        const char *perr = NULL;
        if (lr.parse_headers) {
            hend = find_from(line, 0, lr.hdr_delim);
            if (hend < 0 && !lr.ignore_error)
                perr = "headers delimiter";
            else if (hend >= 0)
                hoff = (size_t)hend + strlen(lr.hdr_delim);
        }
        if (!perr && lr.parse_key) {
            kend = find_from(line, hoff, lr.key_sep);
            if (kend < 0 && !lr.ignore_error)
                perr = "key separator";
            else if (kend >= 0)
                koff = (size_t)kend - hoff + strlen(lr.key_sep);
        }
        if (perr) {
            fprintf(stderr, "No %s found on line number %ld: '%s'\n", perr,
                    lineno, line);
            rc = 1;
            break;
        }
        char *key = NULL;
        size_t klen = 0;
        if (kend >= 0) {
            key = line + hoff;
            klen = (size_t)kend - hoff;
            if (lr.null_marker && strlen(lr.null_marker) == klen &&
                !memcmp(key, lr.null_marker, klen))
                key = NULL;
        }
        char *val = line + hoff + koff;
        size_t vlen = strlen(val);
        if (lr.null_marker && !strcmp(val, lr.null_marker))
            val = NULL;
        rd_kafka_headers_t *hdrs = NULL;
        if (hend >= 0) {
            char *hs = xstrndup(line, (size_t)hend);
            if (!lr.null_marker || strcmp(hs, lr.null_marker)) {
                hdrs = rd_kafka_headers_new(4);
                size_t sl = strlen(lr.hdr_sep);
                char *p = hs;
                for (;;) {
                    char *e = strstr(p, lr.hdr_sep);
                    if (e)
                        *e = 0;
                    char *ks = strstr(p, lr.hdr_key_sep);
                    if (!ks && !lr.ignore_error) {
                        fprintf(stderr,
                                "No header key separator found in pair '%s' "
                                "on line number %ld\n",
                                p, lineno);
                        rc = 1;
                        break;
                    }
                    if (!ks) {
                        rd_kafka_header_add(hdrs, p, -1, NULL, 0);
                    } else {
                        *ks = 0;
                        const char *hv = ks + strlen(lr.hdr_key_sep);
                        if (lr.null_marker && !strcmp(hv, lr.null_marker))
                            rd_kafka_header_add(hdrs, p, -1, NULL, 0);
                        else
                            rd_kafka_header_add(hdrs, p, -1, hv,
                                                (ssize_t)strlen(hv));
                    }
                    if (!e)
                        break;
                    p = e + sl;
                }
            }
            free(hs);
            if (rc) {
                rd_kafka_headers_destroy(hdrs);
                break;
            }
        }
        rd_kafka_resp_err_t e;
        do {
            e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_KEY(key, key ? klen : 0),
                                  RD_KAFKA_V_VALUE(val, val ? vlen : 0),
                                  RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 100);
        } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        if (e) {
            if (hdrs)
                rd_kafka_headers_destroy(hdrs);
            fprintf(stderr,
                    "ERROR Error when sending message to topic %s: "
                    "%s\n",
                    topic, rd_kafka_err2str(e));
            g_send_errors++;
            continue;
        }
        g_inflight++;
        if (sync)
            while (g_inflight > 0 && !g_stop)
                rd_kafka_poll(rk, 50);
        else
            rd_kafka_poll(rk, 0);
    }
    free(line);
    rd_kafka_flush(rk, 60000);
out:
    if (rk)
        rd_kafka_destroy(rk);
    tool_props_free(&pp);
    tool_props_free(&rp);
    tool_args_free(&a);
    return rc;
}

/* ======================= console-consumer ========================== */

static const tool_optdef cons_opts[] = {
    {"bootstrap-server", TOOL_ARG, "REQUIRED: The server(s) to connect to."},
    {"command-config", TOOL_ARG,
     "Consumer config properties file. Note that --command-property takes "
     "precedence over this config."},
    {"command-property", TOOL_ARG,
     "Consumer config properties in the form key=value."},
    {"consumer-property", TOOL_ARG,
     "(DEPRECATED) Consumer config properties in the form key=value. Use "
     "--command-property instead."},
    {"consumer.config", TOOL_ARG,
     "(DEPRECATED) Consumer config properties file. Use --command-config "
     "instead."},
    {"enable-systest-events", TOOL_FLAG,
     "Log lifecycle events of the consumer in addition to logging consumed "
     "messages. (This is specific for system tests.)"},
    {"formatter", TOOL_ARG,
     "The name of a class to use for formatting kafka messages for display. "
     "(default: org.apache.kafka.tools.consumer.DefaultMessageFormatter)"},
    {"formatter-config", TOOL_ARG,
     "Config properties file to initialize the message formatter."},
    {"formatter-property", TOOL_ARG,
     "The properties to initialize the message formatter: print.timestamp, "
     "print.key, print.offset, print.partition, print.headers, print.value, "
     "key.separator, line.separator, headers.separator, null.literal."},
    {"from-beginning", TOOL_FLAG,
     "If the consumer does not already have an established offset to "
     "consume from, start with the earliest message present in the log "
     "rather than the latest message."},
    {"group", TOOL_ARG, "The consumer group id of the consumer."},
    {"include", TOOL_ARG,
     "Regular expression specifying list of topics to include for "
     "consumption."},
    {"isolation-level", TOOL_ARG,
     "Set to read_committed in order to filter out transactional messages "
     "which are not committed. Set to read_uncommitted to read all "
     "messages. (default: read_uncommitted)"},
    {"key-deserializer", TOOL_ARG,
     "The name of the class to use for deserializing keys."},
    {"max-messages", TOOL_ARG,
     "The maximum number of messages to consume before exiting. If not set, "
     "consumption is continual."},
    {"offset", TOOL_ARG,
     "The offset to consume from (a non-negative number), or 'earliest' "
     "which means from beginning, or 'latest' which means from end "
     "(default: latest)"},
    {"partition", TOOL_ARG,
     "The partition to consume from. Consumption starts from the end of the "
     "partition unless '--offset' is specified."},
    {"property", TOOL_ARG,
     "(DEPRECATED) The properties to initialize the message formatter. Use "
     "--formatter-property instead."},
    {"skip-message-on-error", TOOL_FLAG,
     "If there is an error when processing a message, skip it instead of "
     "halt."},
    {"timeout-ms", TOOL_ARG,
     "If specified, exit if no message is available for consumption for the "
     "specified interval."},
    {"topic", TOOL_ARG, "The topic to consume from."},
    {"value-deserializer", TOOL_ARG,
     "The name of the class to use for deserializing values."},
    {"version", TOOL_FLAG, "Display Kafka version."},
};

typedef struct formatter {
    bool ts, key, value, partition, offset, headers;
    const char *key_sep, *line_sep, *hdr_sep, *null_lit;
} formatter;

static void fmt_sep(const formatter *f, bool column) {
    fputs(column ? f->key_sep : f->line_sep, stdout);
}

static void fmt_bytes(const formatter *f, const void *p, size_t n) {
    if (!p)
        fputs(f->null_lit, stdout);
    else
        fwrite(p, 1, n, stdout);
}

static void format_message(const formatter *f, const rd_kafka_message_t *m) {
    if (f->ts) {
        rd_kafka_timestamp_type_t tt;
        int64_t ts = rd_kafka_message_timestamp(m, &tt);
        if (tt == RD_KAFKA_TIMESTAMP_CREATE_TIME)
            printf("CreateTime:%lld", (long long)ts);
        else if (tt == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME)
            printf("LogAppendTime:%lld", (long long)ts);
        else
            printf("NO_TIMESTAMP");
        fmt_sep(f,
                f->partition || f->offset || f->headers || f->key || f->value);
    }
    if (f->partition) {
        printf("Partition:%d", (int)m->partition);
        fmt_sep(f, f->offset || f->headers || f->key || f->value);
    }
    if (f->offset) {
        printf("Offset:%lld", (long long)m->offset);
        fmt_sep(f, f->headers || f->key || f->value);
    }
    if (f->headers) {
        rd_kafka_headers_t *h = NULL;
        size_t cnt = 0;
        if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR)
            cnt = rd_kafka_header_cnt(h);
        if (cnt == 0)
            printf("NO_HEADERS");
        for (size_t i = 0; i < cnt; i++) {
            const char *name;
            const void *val;
            size_t vs;
            rd_kafka_header_get_all(h, i, &name, &val, &vs);
            printf("%s:", name);
            fmt_bytes(f, val, vs);
            if (i + 1 < cnt)
                fputs(f->hdr_sep, stdout);
        }
        fmt_sep(f, f->key || f->value);
    }
    if (f->key) {
        fmt_bytes(f, m->key, m->key_len);
        fmt_sep(f, f->value);
    }
    if (f->value) {
        fmt_bytes(f, m->payload, m->len);
        fputs(f->line_sep, stdout);
    }
}

static void log_error(const char *msg, const char *cls, const char *exc) {
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char ts[32];
    strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(stderr, "[%s,000] ERROR %s (%s)\n%s\n", ts, msg, cls, exc);
}

int tool_console_consumer_main(int argc, char **argv) {
    tool_args a;
    int rc = tool_parse(&a, "kafka-console-consumer.sh",
                        "This tool helps to read data from Kafka topics and "
                        "outputs it to standard output.",
                        cons_opts, SL_ARRAY_LEN(cons_opts), argc, argv);
    if (rc >= 0)
        return rc;
    tool_props cp = {0}, fp = {0};
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *tpl = NULL;
    int64_t count = 0;
    bool started = false;
    if (tool_has(&a, "version")) {
        printf("4.3.1 (sluice)\n");
        rc = 0;
        goto out;
    }
    if (tool_has(&a, "topic") == tool_has(&a, "include")) {
        rc = tool_usage_error(&a, "Exactly one of the following arguments "
                                  "is required: [topic], [include]");
        goto out;
    }
    if (tool_has(&a, "partition")) {
        if (!tool_has(&a, "topic")) {
            rc = tool_usage_error(&a, "The topic is required when partition "
                                      "is specified.");
            goto out;
        }
        if (tool_has(&a, "from-beginning") && tool_has(&a, "offset")) {
            rc = tool_usage_error(&a, "Options from-beginning and offset "
                                      "cannot be specified together.");
            goto out;
        }
    } else if (tool_has(&a, "offset")) {
        rc = tool_usage_error(&a, "The partition is required when offset is "
                                  "specified.");
        goto out;
    }
    if (!tool_has(&a, "bootstrap-server")) {
        rc = tool_usage_error(&a, "Missing required argument "
                                  "\"[bootstrap-server]\"");
        goto out;
    }
    if (tool_has(&a, "consumer-property") && tool_has(&a, "command-property")) {
        rc = tool_usage_error(&a, "Options --consumer-property and "
                                  "--command-property cannot be specified "
                                  "together.");
        goto out;
    }
    if (tool_has(&a, "consumer.config") && tool_has(&a, "command-config")) {
        rc = tool_usage_error(&a, "Options --consumer.config and "
                                  "--command-config cannot be specified "
                                  "together.");
        goto out;
    }
    const char *cfgfile = tool_get(&a, "command-config");
    if (!cfgfile)
        cfgfile = tool_get(&a, "consumer.config");
    tool_props fileprops = {0}, extra = {0};
    if (cfgfile && !tool_props_load(&fileprops, cfgfile)) {
        rc = 1;
        goto out;
    }
    if (!add_kvs(&a, "consumer-property", &extra) ||
        !add_kvs(&a, "command-property", &extra)) {
        tool_props_free(&fileprops);
        rc = 1;
        goto out;
    }
    /* Group ids given in several places must agree (Kafka's rule). */
    const char *groups[3] = {tool_get(&a, "group"),
                             tool_props_get(&fileprops, "group.id"),
                             tool_props_get(&extra, "group.id")};
    const char *group = NULL;
    for (int i = 0; i < 3; i++) {
        if (!groups[i])
            continue;
        if (group && strcmp(group, groups[i])) {
            tool_props_free(&fileprops);
            tool_props_free(&extra);
            rc = tool_usage_error(
                &a,
                "The group ids provided in different places (directly "
                "using '--group', via '--consumer-property', or via "
                "'--consumer.config') do not match. Detected group ids: "
                "'%s', '%s'",
                group, groups[i]);
            goto out;
        }
        group = groups[i];
    }
    if (group && tool_has(&a, "partition")) {
        tool_props_free(&fileprops);
        tool_props_free(&extra);
        rc = tool_usage_error(&a, "Options group and partition cannot be "
                                  "specified together.");
        goto out;
    }
    if (tool_has(&a, "consumer-property"))
        printf("Option --consumer-property is deprecated and will be removed "
               "in a future version. Use --command-property instead.\n");
    if (tool_has(&a, "consumer.config"))
        printf("Option --consumer.config is deprecated and will be removed in "
               "a future version. Use --command-config instead.\n");
    for (int i = 0; i < fileprops.n; i++)
        tool_props_set(&cp, fileprops.keys[i], fileprops.vals[i]);
    for (int i = 0; i < extra.n; i++)
        tool_props_set(&cp, extra.keys[i], extra.vals[i]);
    tool_props_free(&fileprops);
    tool_props_free(&extra);
    const char *aor = tool_props_get(&cp, "auto.offset.reset");
    if (aor) {
        if (tool_has(&a, "from-beginning") && strcmp(aor, "earliest")) {
            fprintf(stderr,
                    "Can't simultaneously specify --from-beginning "
                    "and 'auto.offset.reset=%s', please remove one "
                    "option\n",
                    aor);
            rc = 1;
            goto out;
        }
    } else {
        tool_props_set(&cp, "auto.offset.reset",
                       tool_has(&a, "from-beginning") ? "earliest" : "latest");
    }
    if (!tool_props_get(&cp, "client.id"))
        tool_props_set(&cp, "client.id", "console-consumer");
    if (tool_has(&a, "isolation-level"))
        tool_props_set(&cp, "isolation.level", tool_get(&a, "isolation-level"));
    if (!group) {
        char g[64];
        srand((unsigned)(time(NULL) ^ getpid()));
        snprintf(g, sizeof(g), "console-consumer-%d", rand() % 100000);
        tool_props_set(&cp, "group.id", g);
        if (!tool_props_get(&cp, "enable.auto.commit"))
            tool_props_set(&cp, "enable.auto.commit", "false");
    } else {
        tool_props_set(&cp, "group.id", group);
    }
    int64_t offset = RD_KAFKA_OFFSET_END, partition = -1;
    if (tool_has(&a, "partition") &&
        !tool_parse_i64(tool_get(&a, "partition"), &partition)) {
        rc = tool_usage_error(&a,
                              "Cannot parse argument '%s' of option "
                              "partition",
                              tool_get(&a, "partition"));
        goto out;
    }
    const char *os = tool_get(&a, "offset");
    if (tool_has(&a, "from-beginning"))
        offset = RD_KAFKA_OFFSET_BEGINNING;
    if (os) {
        if (!strcasecmp(os, "earliest"))
            offset = RD_KAFKA_OFFSET_BEGINNING;
        else if (!strcasecmp(os, "latest"))
            offset = RD_KAFKA_OFFSET_END;
        else if (!tool_parse_i64(os, &offset) || offset < 0) {
            rc = tool_usage_error(&a,
                                  "The provided offset value '%s' is "
                                  "incorrect. Valid values are "
                                  "'earliest', 'latest', or a "
                                  "non-negative long.",
                                  os);
            goto out;
        }
    }
    int64_t timeout_ms = -1, max_messages = -1;
    if (tool_has(&a, "timeout-ms") &&
        !tool_parse_i64(tool_get(&a, "timeout-ms"), &timeout_ms)) {
        rc = tool_usage_error(&a,
                              "Cannot parse argument '%s' of option "
                              "timeout-ms",
                              tool_get(&a, "timeout-ms"));
        goto out;
    }
    if (tool_has(&a, "max-messages") &&
        !tool_parse_i64(tool_get(&a, "max-messages"), &max_messages)) {
        rc = tool_usage_error(&a,
                              "Cannot parse argument '%s' of option "
                              "max-messages",
                              tool_get(&a, "max-messages"));
        goto out;
    }
    const char *fcls = tool_get(&a, "formatter");
    if (fcls &&
        strcmp(fcls, "org.apache.kafka.tools.consumer."
                     "DefaultMessageFormatter") &&
        strcmp(fcls, "kafka.tools.DefaultMessageFormatter")) {
        fprintf(stderr, "Only DefaultMessageFormatter is supported as "
                        "--formatter\n");
        rc = 1;
        goto out;
    }
    if (tool_has(&a, "property") && tool_has(&a, "formatter-property")) {
        rc = tool_usage_error(&a, "Options --property and --formatter-property "
                                  "cannot be specified together.");
        goto out;
    }
    if (tool_has(&a, "property"))
        printf("Option --property is deprecated and will be removed in a "
               "future version. Use --formatter-property instead.\n");
    if (tool_has(&a, "formatter-config") &&
        !tool_props_load(&fp, tool_get(&a, "formatter-config"))) {
        rc = 1;
        goto out;
    }
    if (!add_kvs(&a, "property", &fp) ||
        !add_kvs(&a, "formatter-property", &fp)) {
        rc = 1;
        goto out;
    }
    fflush(stdout);
    formatter f = {
        .ts = prop_true(&fp, "print.timestamp", false),
        .key = prop_true(&fp, "print.key", false),
        .value = prop_true(&fp, "print.value", true),
        .partition = prop_true(&fp, "print.partition", false),
        .offset = prop_true(&fp, "print.offset", false),
        .headers = prop_true(&fp, "print.headers", false),
        .key_sep = tool_props_get(&fp, "key.separator"),
        .line_sep = tool_props_get(&fp, "line.separator"),
        .hdr_sep = tool_props_get(&fp, "headers.separator"),
        .null_lit = tool_props_get(&fp, "null.literal"),
    };
    if (!f.key_sep)
        f.key_sep = "\t";
    if (!f.line_sep)
        f.line_sep = "\n";
    if (!f.hdr_sep)
        f.hdr_sep = ",";
    if (!f.null_lit)
        f.null_lit = "null";

    rd_kafka_conf_t *conf =
        tool_conf_new(tool_get(&a, "bootstrap-server"), &cp);
    char err[512];
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "%s\n", err);
        rd_kafka_conf_destroy(conf);
        rc = 1;
        goto out;
    }
    rd_kafka_poll_set_consumer(rk);
    const char *topic = tool_get(&a, "topic");
    tpl = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t e;
    if (partition >= 0) {
        rd_kafka_topic_partition_list_add(tpl, topic, (int32_t)partition)
            ->offset = offset;
        e = rd_kafka_assign(rk, tpl);
    } else {
        if (topic) {
            rd_kafka_topic_partition_list_add(tpl, topic,
                                              RD_KAFKA_PARTITION_UA);
        } else {
            /* librdkafka subscribes to a regex when the name starts with
             * '^'. */
            char *re = xmalloc(strlen(tool_get(&a, "include")) + 2);
            sprintf(re, "^%s", tool_get(&a, "include"));
            rd_kafka_topic_partition_list_add(tpl, re, RD_KAFKA_PARTITION_UA);
            free(re);
        }
        e = rd_kafka_subscribe(rk, tpl);
    }
    if (e) {
        fprintf(stderr, "%s\n", rd_kafka_err2str(e));
        rc = 1;
        goto out;
    }
    started = true;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (tool_has(&a, "enable-systest-events"))
        printf("{\"timestamp\":%lld,\"name\":\"startup_complete\"}\n",
               (long long)tool_now_ms());
    rc = 0;
    while (!g_stop && (max_messages < 0 || count < max_messages)) {
        int64_t start = tool_now_ms();
        rd_kafka_message_t *m = NULL;
        while (!g_stop) {
            m = rd_kafka_consumer_poll(rk, 100);
            if (m && m->err) {
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ||
                    m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                    m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
                    m->err == RD_KAFKA_RESP_ERR__TRANSPORT ||
                    m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
                    rd_kafka_message_destroy(m);
                    m = NULL;
                } else if (m->err == RD_KAFKA_RESP_ERR__FATAL ||
                           !tool_has(&a, "skip-message-on-error")) {
                    log_error("Error processing message, terminating "
                              "consumer process: ",
                              "org.apache.kafka.tools.consumer."
                              "ConsoleConsumer",
                              rd_kafka_message_errstr(m));
                    rd_kafka_message_destroy(m);
                    m = NULL;
                    g_stop = 1;
                    break;
                } else {
                    log_error("Error processing message, skipping this "
                              "message: ",
                              "org.apache.kafka.tools.consumer."
                              "ConsoleConsumer",
                              rd_kafka_message_errstr(m));
                    rd_kafka_message_destroy(m);
                    m = NULL;
                }
            }
            if (m)
                break;
            if (timeout_ms >= 0 && tool_now_ms() - start > timeout_ms) {
                log_error("Error processing message, terminating consumer "
                          "process: ",
                          "org.apache.kafka.tools.consumer.ConsoleConsumer",
                          "org.apache.kafka.common.errors.TimeoutException");
                g_stop = 1;
                break;
            }
        }
        if (!m)
            break;
        count++;
        format_message(&f, m);
        rd_kafka_message_destroy(m);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "Unable to write to standard out, closing "
                            "consumer.\n");
            break;
        }
    }
out:
    if (rk) {
        /* With a group, close commits the offsets of what was printed
         * (auto-commit stores only offsets handed out by poll). */
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    if (started)
        fprintf(stderr, "Processed a total of %lld messages\n",
                (long long)count);
    if (tpl)
        rd_kafka_topic_partition_list_destroy(tpl);
    tool_props_free(&cp);
    tool_props_free(&fp);
    tool_args_free(&a);
    return rc;
}
