/*
 * tool_perf.c - `sluice producer-perf-test` / `sluice consumer-perf-test`
 * (kafka-producer-perf-test.sh, kafka-consumer-perf-test.sh) on librdkafka,
 * with Kafka 4.x's flags and output lines (ProducerPerformance's window and
 * total lines with latency percentiles; ConsumerPerformance's CSV-ish
 * summary and --show-detailed-stats rows). The benchmark (issue 8) parses
 * these lines, so they follow Kafka's printf formats exactly.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "tools/tool_rdkafka.h"

/* argparse4j's nargs("+"): "--producer-props a=1 b=2" becomes repeated
 * "--producer-props a=1 --producer-props b=2" for tool_parse. */
static char **expand_nargs(int argc, char **argv, const char *const *multi,
                           int nmulti, int *out_argc) {
    char **out = xcalloc((size_t)argc * 2 + 1, sizeof(char *));
    int n = 0;
    const char *cur = NULL;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!strncmp(s, "--", 2)) {
            cur = NULL;
            for (int k = 0; k < nmulti; k++)
                if (!strcmp(s, multi[k]))
                    cur = multi[k];
            out[n++] = argv[i];
            if (cur && i + 1 < argc) {
                out[n++] = argv[++i];
            }
            continue;
        }
        if (cur) {
            out[n++] = (char *)cur;
            out[n++] = argv[i];
            continue;
        }
        out[n++] = argv[i];
    }
    *out_argc = n;
    return out;
}

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    SL_UNUSED(sig);
    g_stop = 1;
}

/* ========================= producer-perf-test ======================== */

static const tool_optdef pp_opts[] = {
    {"bootstrap-server", TOOL_ARG,
     "The server(s) to connect to. This config takes precedence over "
     "bootstrap.servers specified via --command-property or "
     "--command-config."},
    {"command-config", TOOL_ARG, "Producer config properties file."},
    {"command-property", TOOL_ARG,
     "Producer related configuration properties like client.id. "
     "PROP-NAME=PROP-VALUE [PROP-NAME=PROP-VALUE ...]"},
    {"num-records", TOOL_ARG, "Number of records to produce."},
    {"payload-delimiter", TOOL_ARG,
     "Delimiter to be used when --payload-file is provided. Defaults to new "
     "line."},
    {"payload-file", TOOL_ARG,
     "File to read the record payloads from (UTF-8 text); a payload is "
     "picked at random per record."},
    {"payload-monotonic", TOOL_FLAG,
     "Payload is a monotonically increasing integer."},
    {"print-metrics", TOOL_FLAG, "Print out metrics at the end of the test."},
    {"producer-props", TOOL_ARG,
     "(DEPRECATED) Producer related configuration properties. Use "
     "--command-property instead."},
    {"producer.config", TOOL_ARG,
     "(DEPRECATED) Producer config properties file. Use --command-config "
     "instead."},
    {"record-size", TOOL_ARG, "Record size in bytes."},
    {"reporting-interval", TOOL_ARG,
     "Interval in milliseconds at which to print progress info. (default: "
     "5000)"},
    {"throughput", TOOL_ARG,
     "Throttle maximum record throughput to *approximately* THROUGHPUT "
     "records/sec. Set this to -1 to disable throttling."},
    {"topic", TOOL_ARG, "Produce records to this topic."},
    {"transaction-duration-ms", TOOL_ARG,
     "The max age of each transaction. (default: 3000 when transactions "
     "are enabled)"},
    {"transactional-id", TOOL_ARG, "The transactional id to use."},
    {"warmup-records", TOOL_ARG,
     "The number of records to treat as warmup; a steady-state summary "
     "line follows the total. (default: 0)"},
};

typedef struct pstats {
    int64_t start, window_start, interval;
    int *lat;
    int64_t lat_cap, sampling, iteration;
    int index;
    int64_t count, bytes, total_lat, window_count, window_bytes,
        window_total_lat;
    int max_lat, window_max_lat;
    bool steady, suppress;
} pstats;

static void ps_init(pstats *s, int64_t num, bool steady, int64_t interval) {
    memset(s, 0, sizeof(*s));
    s->start = s->window_start = tool_now_ms();
    s->sampling = num / SL_MIN(num, 500000);
    if (s->sampling < 1)
        s->sampling = 1;
    s->lat_cap = num / s->sampling + 1;
    s->lat = xcalloc((size_t)s->lat_cap, sizeof(int));
    s->steady = steady;
    s->interval = interval;
}

static void ps_window(pstats *s) {
    int64_t elapsed = tool_now_ms() - s->window_start;
    if (elapsed <= 0)
        elapsed = 1;
    printf("%lld records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg "
           "latency, %.1f ms max latency.\n",
           (long long)s->window_count, 1000.0 * s->window_count / elapsed,
           1000.0 * s->window_bytes / elapsed / (1024.0 * 1024.0),
           s->window_count ? s->window_total_lat / (double)s->window_count
                           : 0.0,
           (double)s->window_max_lat);
    fflush(stdout);
}

static void ps_record(pstats *s, int lat, int bytes, int64_t now) {
    s->count++;
    s->bytes += bytes;
    s->total_lat += lat;
    s->max_lat = SL_MAX(s->max_lat, lat);
    s->window_count++;
    s->window_bytes += bytes;
    s->window_total_lat += lat;
    s->window_max_lat = SL_MAX(s->window_max_lat, lat);
    if (s->iteration % s->sampling == 0 && s->index < s->lat_cap)
        s->lat[s->index++] = lat;
    if (now - s->window_start >= s->interval) {
        if (s->steady && s->count == s->window_count)
            printf("In steady state.\n");
        if (!s->suppress)
            ps_window(s);
        s->window_start = tool_now_ms();
        s->window_count = s->window_bytes = s->window_total_lat = 0;
        s->window_max_lat = 0;
    }
    s->iteration++;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void ps_total(pstats *s) {
    int64_t elapsed = tool_now_ms() - s->start;
    if (elapsed <= 0)
        elapsed = 1;
    int size = s->index;
    qsort(s->lat, (size_t)size, sizeof(int), cmp_int);
    int p[4] = {0, 0, 0, 0};
    static const double pct[4] = {0.5, 0.95, 0.99, 0.999};
    for (int i = 0; i < 4 && size > 0; i++)
        p[i] = s->lat[(int)(pct[i] * size) < size ? (int)(pct[i] * size)
                                                  : size - 1];
    printf("%lld%s records sent, %f records/sec (%.2f MB/sec), %.2f ms avg "
           "latency, %.2f ms max latency, %d ms 50th, %d ms 95th, %d ms 99th, "
           "%d ms 99.9th.\n",
           (long long)s->count, s->steady ? " steady state" : "",
           1000.0 * s->count / elapsed,
           1000.0 * s->bytes / elapsed / (1024.0 * 1024.0),
           s->count ? s->total_lat / (double)s->count : 0.0, (double)s->max_lat,
           p[0], p[1], p[2], p[3]);
}

typedef struct pp_state {
    pstats stats, steady;
    bool has_steady;
    int64_t warmup;
    int64_t failed;
} pp_state;

static pp_state g_pp;

/* The message opaque carries (send time ms << 1 | in_steady_state). */
static void pp_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    SL_UNUSED(rk);
    SL_UNUSED(opaque);
    int64_t now = tool_now_ms();
    uintptr_t tag = (uintptr_t)m->_private;
    int64_t start = (int64_t)(tag >> 1);
    int lat = (int)(now - start);
    if (m->err) {
        g_pp.failed++;
        if (g_pp.failed <= 10)
            fprintf(stderr, "org.apache.kafka.common.KafkaException: %s\n",
                    rd_kafka_err2str(m->err));
        return;
    }
    ps_record(&g_pp.stats, lat, (int)m->len, now);
    if (g_pp.has_steady && (tag & 1))
        ps_record(&g_pp.steady, lat, (int)m->len, now);
}

static int pp_error(tool_args *a, const char *fmt, const char *arg) {
    fprintf(stderr, "usage: kafka-producer-perf-test [-h] [--bootstrap-server "
                    "BOOTSTRAP-SERVER] --topic TOPIC --num-records NUM-RECORDS "
                    "--throughput THROUGHPUT (--record-size RECORD-SIZE | "
                    "--payload-file PAYLOAD-FILE | --payload-monotonic) ...\n"
                    "kafka-producer-perf-test: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    SL_UNUSED(a);
    return 1;
}

int tool_producer_perf_main(int argc, char **argv) {
    static const char *const multi[] = {"--producer-props",
                                        "--command-property"};
    int eargc;
    char **eargv = expand_nargs(argc, argv, multi, 2, &eargc);
    tool_args a;
    int rc = tool_parse(&a, "kafka-producer-perf-test.sh",
                        "This tool is used to verify the producer performance.",
                        pp_opts, SL_ARRAY_LEN(pp_opts), eargc, eargv);
    if (rc >= 0) {
        free(eargv);
        return rc;
    }
    tool_props props = {0};
    rd_kafka_t *rk = NULL;
    char **payloads = NULL;
    int npayloads = 0;
    char *payload = NULL;
    if (argc <= 1) {
        tool_usage(&a, stdout);
        rc = 0;
        goto out;
    }
    static const char *const required[] = {"topic", "num-records",
                                           "throughput"};
    for (size_t i = 0; i < SL_ARRAY_LEN(required); i++)
        if (!tool_has(&a, required[i])) {
            rc = pp_error(&a, "argument --%s is required", required[i]);
            goto out;
        }
    int payload_kinds = tool_has(&a, "record-size") +
                        tool_has(&a, "payload-file") +
                        tool_has(&a, "payload-monotonic");
    if (payload_kinds != 1) {
        rc =
            pp_error(&a, "%s",
                     payload_kinds ? "argument --record-size: not allowed with "
                                     "argument --payload-file"
                                   : "one of the arguments --record-size "
                                     "--payload-file --payload-monotonic is "
                                     "required");
        goto out;
    }
    int64_t num, record_size = 0, warmup = 0, interval = 5000, tx_ms = 0;
    double throughput = atof(tool_get(&a, "throughput"));
    if (!tool_parse_i64(tool_get(&a, "num-records"), &num) || num <= 0) {
        rc = pp_error(&a, "%s", "--num-records should be greater than zero");
        goto out;
    }
    if (tool_has(&a, "record-size") &&
        (!tool_parse_i64(tool_get(&a, "record-size"), &record_size) ||
         record_size <= 0)) {
        rc = pp_error(&a, "%s", "--record-size should be greater than zero");
        goto out;
    }
    if (tool_has(&a, "warmup-records"))
        tool_parse_i64(tool_get(&a, "warmup-records"), &warmup);
    if (warmup < 0)
        warmup = 0;
    if (warmup >= num) {
        rc = pp_error(&a, "%s",
                      "The value for --warmup-records must be "
                      "strictly fewer than the number of records in "
                      "the test, --num-records.");
        goto out;
    }
    if (tool_has(&a, "reporting-interval"))
        tool_parse_i64(tool_get(&a, "reporting-interval"), &interval);
    if (!tool_has(&a, "producer-props") && !tool_has(&a, "producer.config") &&
        !tool_has(&a, "command-property") && !tool_has(&a, "command-config") &&
        !tool_has(&a, "bootstrap-server")) {
        rc = pp_error(&a, "%s",
                      "At least one of --bootstrap-server, "
                      "--command-property, --producer-props, "
                      "--producer.config or --command-config must be "
                      "specified.");
        goto out;
    }
    if (tool_has(&a, "producer-props"))
        printf("Option --producer-props has been deprecated and will be "
               "removed in a future version. Use --command-property "
               "instead.\n");
    if (tool_has(&a, "producer.config"))
        printf("Option --producer.config has been deprecated and will be "
               "removed in a future version. Use --command-config instead.\n");
    const char *cfg = tool_get(&a, "command-config");
    if (!cfg)
        cfg = tool_get(&a, "producer.config");
    if (cfg && !tool_props_load(&props, cfg)) {
        rc = 1;
        goto out;
    }
    const char *opts2[] = {"producer-props", "command-property"};
    for (int k = 0; k < 2; k++) {
        const char **v;
        int n = tool_getall(&a, opts2[k], &v);
        for (int i = 0; i < n; i++) {
            const char *eq = strchr(v[i], '=');
            if (!eq || strchr(eq + 1, '=')) {
                fprintf(stderr, "Invalid property: %s\n", v[i]);
                rc = 1;
                goto out;
            }
            tool_props_add_kv(&props, v[i]);
        }
    }
    if (!tool_props_get(&props, "client.id"))
        tool_props_set(&props, "client.id", "perf-producer-client");
    if (tool_has(&a, "transactional-id"))
        tool_props_set(&props, "transactional.id",
                       tool_get(&a, "transactional-id"));
    bool tx = tool_has(&a, "transaction-duration-ms") ||
              tool_props_get(&props, "transactional.id");
    if (tx) {
        if (!tool_props_get(&props, "transactional.id")) {
            char id[64];
            snprintf(id, sizeof(id), "performance-producer-%08x%08x",
                     (unsigned)rand(), (unsigned)getpid());
            tool_props_set(&props, "transactional.id", id);
        }
        tx_ms = 3000;
        if (tool_has(&a, "transaction-duration-ms") &&
            (!tool_parse_i64(tool_get(&a, "transaction-duration-ms"), &tx_ms) ||
             tx_ms <= 0)) {
            rc = pp_error(&a, "%s",
                          "--transaction-duration-ms should be "
                          "greater than zero");
            goto out;
        }
    }
    if (tool_has(&a, "payload-file")) {
        const char *path = tool_get(&a, "payload-file");
        const char *delim = tool_get_or(&a, "payload-delimiter", "\\n");
        if (!strcmp(delim, "\\n"))
            delim = "\n";
        printf("Reading payloads from: %s\n", path);
        FILE *f = fopen(path, "r");
        char *text = NULL;
        size_t len = 0;
        if (f) {
            char chunk[65536];
            size_t k;
            while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0) {
                text = xrealloc(text, len + k + 1);
                memcpy(text + len, chunk, k);
                len += k;
            }
            fclose(f);
        }
        if (!len) {
            fprintf(stderr, "File does not exist or empty file provided.\n");
            free(text);
            rc = 1;
            goto out;
        }
        text[len] = 0;
        size_t dl = strlen(delim);
        char *p = text;
        while (*p) {
            char *e = dl ? strstr(p, delim) : NULL;
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (n > 0) {
                payloads = xrealloc(payloads,
                                    (size_t)(npayloads + 1) * sizeof(char *));
                payloads[npayloads++] = xstrndup(p, n);
            }
            if (!e)
                break;
            p = e + dl;
        }
        free(text);
        printf("Number of messages read: %d\n", npayloads);
        if (!npayloads) {
            fprintf(stderr, "File does not exist or empty file provided.\n");
            rc = 1;
            goto out;
        }
    }
    fflush(stdout);
    rd_kafka_conf_t *conf =
        tool_conf_new(tool_get(&a, "bootstrap-server"), &props);
    rd_kafka_conf_set_dr_msg_cb(conf, pp_dr);
    char err[512];
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "%s\n", err);
        rd_kafka_conf_destroy(conf);
        rc = 1;
        goto out;
    }
    if (tx) {
        rd_kafka_error_t *e = rd_kafka_init_transactions(rk, 60000);
        if (e) {
            fprintf(stderr, "%s\n", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            rc = 1;
            goto out;
        }
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (warmup > 0)
        printf("Warmup first %lld records. Steady state results will print "
               "after the complete test summary.\n",
               (long long)warmup);
    memset(&g_pp, 0, sizeof(g_pp));
    ps_init(&g_pp.stats, num, false, interval);
    if (warmup > 0) {
        ps_init(&g_pp.steady, num - warmup, true, interval);
        g_pp.has_steady = true;
    }
    if (record_size)
        payload = xmalloc((size_t)record_size);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    const char *topic = tool_get(&a, "topic");
    int64_t start_ms = tool_now_ms();
    int64_t tx_start = 0, tx_size = 0;
    char mono[32];
    rc = 0;
    for (int64_t i = 0; i < num && !g_stop; i++) {
        const void *val;
        size_t vlen;
        if (npayloads) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            int k = (int)(rng % (uint64_t)npayloads);
            val = payloads[k];
            vlen = strlen(payloads[k]);
        } else if (record_size) {
            for (int64_t j = 0; j < record_size; j++) {
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                payload[j] = (char)('A' + rng % 26);
            }
            val = payload;
            vlen = (size_t)record_size;
        } else {
            snprintf(mono, sizeof(mono), "%lld", (long long)i);
            val = mono;
            vlen = strlen(mono);
        }
        if (tx && tx_size == 0) {
            rd_kafka_error_t *e = rd_kafka_begin_transaction(rk);
            if (e) {
                fprintf(stderr, "%s\n", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
                rc = 1;
                break;
            }
            tx_start = tool_now_ms();
        }
        int64_t send_ms = tool_now_ms();
        if (warmup > 0 && i == warmup)
            g_pp.stats.suppress = true;
        uintptr_t tag = ((uintptr_t)send_ms << 1) | (warmup > 0 && i >= warmup);
        rd_kafka_resp_err_t e;
        for (;;) {
            e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_VALUE((void *)val, vlen),
                                  RD_KAFKA_V_OPAQUE((void *)tag),
                                  RD_KAFKA_V_END);
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                break;
            rd_kafka_poll(rk, 1);
        }
        if (e) {
            fprintf(stderr, "org.apache.kafka.common.KafkaException: %s\n",
                    rd_kafka_err2str(e));
            continue;
        }
        rd_kafka_poll(rk, 0);
        tx_size++;
        if (tx && tx_ms <= send_ms - tx_start) {
            rd_kafka_error_t *te = rd_kafka_commit_transaction(rk, 60000);
            if (te) {
                fprintf(stderr, "%s\n", rd_kafka_error_string(te));
                rd_kafka_error_destroy(te);
            }
            tx_size = 0;
        }
        /* ThroughputThrottler: sleep until the schedule catches up. */
        if (throughput > 0) {
            double elapsed = (double)(send_ms - start_ms);
            if (elapsed > 0 && (i + 1) / (elapsed / 1000.0) > throughput) {
                int64_t target =
                    start_ms + (int64_t)((i + 1) * 1000.0 / throughput);
                while (tool_now_ms() < target && !g_stop)
                    rd_kafka_poll(rk, (int)SL_MIN(target - tool_now_ms(), 100));
            }
        }
    }
    if (tx && tx_size) {
        rd_kafka_error_t *te = rd_kafka_commit_transaction(rk, 60000);
        if (te) {
            fprintf(stderr, "%s\n", rd_kafka_error_string(te));
            rd_kafka_error_destroy(te);
        }
    }
    rd_kafka_flush(rk, 120000);
    ps_total(&g_pp.stats);
    if (g_pp.has_steady)
        ps_total(&g_pp.steady);
    if (tool_has(&a, "print-metrics"))
        fprintf(stderr,
                "--print-metrics: Java client metrics are not available from "
                "librdkafka; nothing printed.\n");
    free(g_pp.stats.lat);
    free(g_pp.steady.lat);
out:
    if (rk)
        rd_kafka_destroy(rk);
    for (int i = 0; i < npayloads; i++)
        free(payloads[i]);
    free(payloads);
    free(payload);
    tool_props_free(&props);
    tool_args_free(&a);
    free(eargv);
    return rc;
}

/* ========================= consumer-perf-test ======================== */

static const tool_optdef cp_opts[] = {
    {"bootstrap-server", TOOL_ARG, "REQUIRED: The server(s) to connect to."},
    {"command-config", TOOL_ARG, "Config properties file."},
    {"command-property", TOOL_ARG,
     "Kafka consumer related configuration properties like client.id."},
    {"consumer.config", TOOL_ARG,
     "(DEPRECATED) Consumer config properties file. Use --command-config."},
    {"date-format", TOOL_ARG,
     "The date format to use for formatting the time field. (default: "
     "yyyy-MM-dd HH:mm:ss:SSS)"},
    {"fetch-size", TOOL_ARG,
     "The maximum amount of data to fetch in a single request. (default: "
     "1048576)"},
    {"from-latest", TOOL_FLAG,
     "If the consumer does not already have an established offset to "
     "consume from, start with the latest message present in the log."},
    {"group", TOOL_ARG,
     "The group id to consume on. (default: perf-consumer-<n>)"},
    {"hide-header", TOOL_FLAG,
     "If set, skips printing the header for the stats"},
    {"include", TOOL_ARG,
     "Regular expression specifying list of topics to include for "
     "consumption."},
    {"messages", TOOL_ARG,
     "(DEPRECATED) The number of records to consume. Use --num-records."},
    {"num-records", TOOL_ARG, "REQUIRED: The number of records to consume"},
    {"print-metrics", TOOL_FLAG, "Print out the metrics."},
    {"reporting-interval", TOOL_ARG,
     "Interval in milliseconds at which to print progress info. (default: "
     "5000)"},
    {"show-detailed-stats", TOOL_FLAG,
     "If set, stats are reported for each reporting interval as configured "
     "by reporting-interval"},
    {"socket-buffer-size", TOOL_ARG,
     "The size of the tcp RECV size. (default: 2097152)"},
    {"timeout", TOOL_OPTARG,
     "The maximum allowed time in milliseconds between returned records. "
     "(default: 10000)"},
    {"topic", TOOL_ARG, "The topic to consume from."},
    {"version", TOOL_FLAG, "Display Kafka version."},
};

static int64_t g_join_start, g_join_ms, g_join_round;
static int g_assigned;

static void cp_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    SL_UNUSED(opaque);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (g_assigned == 0) {
            int64_t e = tool_now_ms() - g_join_start;
            g_join_ms += e;
            g_join_round += e;
        }
        g_assigned += parts->cnt;
        rd_kafka_assign(rk, parts);
    } else {
        g_assigned -= parts->cnt;
        if (g_assigned <= 0) {
            g_assigned = 0;
            g_join_start = tool_now_ms();
        }
        rd_kafka_assign(rk, NULL);
    }
}

/* SimpleDateFormat subset: yyyy MM dd HH mm ss SSS and literals. */
static void fmt_date(const char *pat, int64_t ms, char *out, size_t cap) {
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&s, &tm);
    size_t o = 0;
    for (const char *p = pat; *p && o + 8 < cap;) {
        int n = 1;
        while (p[n] == p[0])
            n++;
        int v = -1, w = n;
        switch (*p) {
        case 'y':
            v = tm.tm_year + 1900;
            w = n == 2 ? 2 : 4;
            if (n == 2)
                v %= 100;
            break;
        case 'M':
            v = tm.tm_mon + 1;
            break;
        case 'd':
            v = tm.tm_mday;
            break;
        case 'H':
            v = tm.tm_hour;
            break;
        case 'm':
            v = tm.tm_min;
            break;
        case 's':
            v = tm.tm_sec;
            break;
        case 'S':
            v = (int)(ms % 1000);
            w = 3;
            break;
        default:
            break;
        }
        if (v >= 0) {
            o += (size_t)snprintf(out + o, cap - o, "%0*d", w, v);
            p += n;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = 0;
}

int tool_consumer_perf_main(int argc, char **argv) {
    tool_args a;
    int rc = tool_parse(&a, "kafka-consumer-perf-test.sh",
                        "This tool is used to verify the consumer performance.",
                        cp_opts, SL_ARRAY_LEN(cp_opts), argc, argv);
    if (rc >= 0)
        return rc;
    tool_props props = {0};
    rd_kafka_t *rk = NULL;
    if (tool_has(&a, "version")) {
        printf("4.3.1 (sluice)\n");
        rc = 0;
        goto out;
    }
    if (!tool_has(&a, "num-records") && !tool_has(&a, "messages")) {
        rc =
            tool_usage_error(&a, "Missing required argument \"[num-records]\"");
        goto out;
    }
    if (tool_has(&a, "topic") == tool_has(&a, "include")) {
        rc = tool_usage_error(&a, "Exactly one of the following arguments is "
                                  "required: [topic], [include]");
        goto out;
    }
    if (!tool_has(&a, "bootstrap-server")) {
        rc = tool_usage_error(&a, "Missing required argument "
                                  "\"[bootstrap-server]\"");
        goto out;
    }
    if (tool_has(&a, "messages"))
        printf(
            "Warning: --messages is deprecated. Use --num-records instead.\n");
    int64_t num = 0, interval = 5000, timeout = 10000;
    if (!tool_parse_i64(tool_get(&a, tool_has(&a, "num-records") ? "num-records"
                                                                 : "messages"),
                        &num)) {
        rc =
            tool_usage_error(&a, "Cannot parse argument of option num-records");
        goto out;
    }
    if (tool_has(&a, "reporting-interval") &&
        (!tool_parse_i64(tool_get(&a, "reporting-interval"), &interval) ||
         interval <= 0)) {
        rc = tool_usage_error(&a,
                              "Cannot parse argument '%s' of option "
                              "reporting-interval",
                              tool_get(&a, "reporting-interval"));
        goto out;
    }
    if (tool_has(&a, "timeout") && *tool_get(&a, "timeout"))
        tool_parse_i64(tool_get(&a, "timeout"), &timeout);
    const char *cfg = tool_get(&a, "command-config");
    if (!cfg)
        cfg = tool_get(&a, "consumer.config");
    if (cfg && !tool_props_load(&props, cfg)) {
        rc = 1;
        goto out;
    }
    const char **v;
    int nv = tool_getall(&a, "command-property", &v);
    for (int i = 0; i < nv; i++)
        tool_props_add_kv(&props, v[i]);
    char gid[64];
    srand((unsigned)(time(NULL) ^ getpid()));
    snprintf(gid, sizeof(gid), "perf-consumer-%d", rand() % 100000);
    tool_props_set(&props, "group.id", tool_get_or(&a, "group", gid));
    tool_props_set(&props, "socket.receive.buffer.bytes",
                   tool_get_or(&a, "socket-buffer-size", "2097152"));
    tool_props_set(&props, "max.partition.fetch.bytes",
                   tool_get_or(&a, "fetch-size", "1048576"));
    tool_props_set(&props, "auto.offset.reset",
                   tool_has(&a, "from-latest") ? "latest" : "earliest");
    if (!tool_props_get(&props, "client.id"))
        tool_props_set(&props, "client.id", "perf-consumer-client");
    const char *datefmt =
        tool_get_or(&a, "date-format", "yyyy-MM-dd HH:mm:ss:SSS");
    bool detailed = tool_has(&a, "show-detailed-stats");
    if (!tool_has(&a, "hide-header")) {
        if (!detailed)
            printf("start.time, end.time, data.consumed.in.MB, MB.sec, "
                   "data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, "
                   "fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n");
        else
            printf("time, threadId, data.consumed.in.MB, MB.sec, "
                   "data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, "
                   "fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n");
    }
    fflush(stdout);
    rd_kafka_conf_t *conf =
        tool_conf_new(tool_get(&a, "bootstrap-server"), &props);
    rd_kafka_conf_set_rebalance_cb(conf, cp_rebalance);
    char err[512];
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "%s\n", err);
        rd_kafka_conf_destroy(conf);
        rc = 1;
        goto out;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *tpl = rd_kafka_topic_partition_list_new(1);
    if (tool_has(&a, "topic")) {
        rd_kafka_topic_partition_list_add(tpl, tool_get(&a, "topic"),
                                          RD_KAFKA_PARTITION_UA);
    } else {
        char *re = xmalloc(strlen(tool_get(&a, "include")) + 2);
        sprintf(re, "^%s", tool_get(&a, "include"));
        rd_kafka_topic_partition_list_add(tpl, re, RD_KAFKA_PARTITION_UA);
        free(re);
    }
    int64_t start_ms = tool_now_ms();
    g_join_start = start_ms;
    g_join_ms = g_join_round = 0;
    g_assigned = 0;
    rd_kafka_subscribe(rk, tpl);
    rd_kafka_topic_partition_list_destroy(tpl);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int64_t msgs = 0, bytes = 0, last_msgs = 0, last_bytes = 0;
    int64_t now = tool_now_ms(), last_report = now, last_consumed = now;
    while (!g_stop && msgs < num && now - last_consumed <= timeout) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        now = tool_now_ms();
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        last_consumed = now;
        msgs++;
        bytes += (int64_t)m->key_len + (int64_t)m->len;
        rd_kafka_message_destroy(m);
        if (now - last_report >= interval) {
            if (detailed) {
                char ds[64];
                fmt_date(datefmt, now, ds, sizeof(ds));
                double el = (double)(now - last_report);
                double mb = bytes / (1024.0 * 1024.0);
                double imb = (bytes - last_bytes) / (1024.0 * 1024.0);
                int64_t fetch = now - last_report - g_join_round;
                printf(
                    "%s, %d, %.4f, %.4f, %lld, %.4f, %lld, %lld, %.4f, %.4f\n",
                    ds, 0, mb, 1000.0 * imb / el, (long long)msgs,
                    (msgs - last_msgs) / el * 1000.0, (long long)g_join_round,
                    (long long)fetch, fetch <= 0 ? 0.0 : 1000.0 * imb / fetch,
                    fetch <= 0 ? 0.0 : 1000.0 * (msgs - last_msgs) / fetch);
                fflush(stdout);
            }
            g_join_round = 0;
            last_report = now;
            last_msgs = msgs;
            last_bytes = bytes;
        }
    }
    if (msgs < num)
        printf("WARNING: Exiting before consuming the expected number of "
               "messages: timeout (%lld ms) exceeded. You can use the "
               "--timeout option to increase the timeout.\n",
               (long long)timeout);
    int64_t end_ms = tool_now_ms();
    rd_kafka_consumer_close(rk);
    if (!detailed) {
        char s1[64], s2[64];
        fmt_date(datefmt, start_ms, s1, sizeof(s1));
        fmt_date(datefmt, end_ms, s2, sizeof(s2));
        double el = (end_ms - start_ms) / 1000.0;
        if (el <= 0)
            el = 0.001;
        int64_t fetch = (end_ms - start_ms) - g_join_ms;
        double mb = bytes / (1024.0 * 1024.0);
        printf("%s, %s, %.4f, %.4f, %lld, %.4f, %lld, %lld, %.4f, %.4f\n", s1,
               s2, mb, mb / el, (long long)msgs, msgs / el,
               (long long)g_join_ms, (long long)fetch,
               fetch > 0 ? mb / (fetch / 1000.0) : 0.0,
               fetch > 0 ? msgs / (fetch / 1000.0) : 0.0);
    }
    rc = 0;
out:
    if (rk)
        rd_kafka_destroy(rk);
    tool_props_free(&props);
    tool_args_free(&a);
    return rc;
}
