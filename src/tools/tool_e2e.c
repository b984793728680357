/*
 * tool_e2e.c - `sluice e2e-latency` (kafka-e2e-latency.sh, EndToEndLatency):
 * sends one record at a time with linger 0, waits for its ack, polls it
 * back on an assigned consumer positioned at the end, and prints Kafka's
 * progress lines, "Avg latency: %.4f ms" and the percentile line. Accepts
 * Kafka 4.x's named flags and the deprecated positional form
 * (broker_list topic num_messages producer_acks message_size [props]).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "tools/tool_rdkafka.h"

static const tool_optdef e2e_opts[] = {
    {"bootstrap-server", TOOL_ARG,
     "REQUIRED: The Kafka broker list string in the form "
     "HOST1:PORT1,HOST2:PORT2."},
    {"command-config", TOOL_ARG,
     "Optional: A property file for Kafka producer/consumer/admin client "
     "configuration."},
    {"num-headers", TOOL_ARG,
     "Optional: The number of headers to include in each message. (default: "
     "0)"},
    {"num-records", TOOL_ARG, "REQUIRED: The number of messages to send."},
    {"producer-acks", TOOL_ARG,
     "REQUIRED: Producer acknowledgements. Must be '1' or 'all'."},
    {"record-header-key-size", TOOL_ARG,
     "Optional: The size of the message header key in bytes. (default: 0)"},
    {"record-header-size", TOOL_ARG,
     "Optional: The size of message header value in bytes. Use -1 for null "
     "header value. (default: 0)"},
    {"record-key-size", TOOL_ARG,
     "Optional: The size of the message key in bytes. If not set, messages "
     "are sent without a key. (default: 0)"},
    {"record-size", TOOL_ARG,
     "REQUIRED: The size of each message payload in bytes."},
    {"topic", TOOL_ARG, "REQUIRED: The topic to use for the test."},
    {"version", TOOL_FLAG, "Display Kafka version."},
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int e2e_delivered;
static rd_kafka_resp_err_t e2e_err;
static void e2e_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *op) {
    SL_UNUSED(rk);
    SL_UNUSED(op);
    e2e_err = m->err;
    e2e_delivered = 1;
}

int tool_e2e_latency_main(int argc, char **argv) {
    tool_args a;
    int rc = tool_parse(&a, "kafka-e2e-latency.sh",
                        "This tool measures end-to-end latency in Kafka by "
                        "sending messages and timing their reception.",
                        e2e_opts, SL_ARRAY_LEN(e2e_opts), argc, argv);
    if (rc >= 0)
        return rc;
    tool_props props = {0};
    rd_kafka_t *prod = NULL, *cons = NULL;
    int64_t *lat = NULL;
    char *payload = NULL, *key = NULL, *hkey = NULL, *hval = NULL;
    const char *brokers, *topic, *acks, *cfg;
    int64_t num = 0, size = 0, key_size = 0, nheaders = 0, hkey_size = 0,
            hsize = 0;
    if (tool_has(&a, "version")) {
        printf("4.3.1 (sluice)\n");
        rc = 0;
        goto out;
    }
    if (a.npositional > 0) {
        printf("WARNING: Positional argument usage is deprecated and will be "
               "removed in Apache Kafka 5.0. Please use named arguments "
               "instead: --bootstrap-server, --topic, --num-records, "
               "--producer-acks, --record-size, --command-config\n");
        if (a.npositional != 5 && a.npositional != 6) {
            fprintf(stderr,
                    "USAGE: java org.apache.kafka.tools.EndToEndLatency "
                    "broker_list topic num_messages producer_acks "
                    "message_size_bytes [optional] properties_file\n");
            rc = 1;
            goto out;
        }
        brokers = a.positional[0];
        topic = a.positional[1];
        acks = a.positional[3];
        cfg = a.npositional > 5 && *a.positional[5] ? a.positional[5] : NULL;
        if (!tool_parse_i64(a.positional[2], &num) ||
            !tool_parse_i64(a.positional[4], &size)) {
            fprintf(stderr, "For input string: \"%s\"\n", a.positional[2]);
            rc = 1;
            goto out;
        }
    } else {
        static const char *const req[] = {"bootstrap-server", "topic",
                                          "num-records", "producer-acks",
                                          "record-size"};
        for (size_t i = 0; i < SL_ARRAY_LEN(req); i++)
            if (!tool_has(&a, req[i])) {
                rc = tool_usage_error(&a, "Missing required argument \"[%s]\"",
                                      req[i]);
                goto out;
            }
        brokers = tool_get(&a, "bootstrap-server");
        topic = tool_get(&a, "topic");
        acks = tool_get(&a, "producer-acks");
        cfg = tool_get(&a, "command-config");
        tool_parse_i64(tool_get(&a, "num-records"), &num);
        tool_parse_i64(tool_get(&a, "record-size"), &size);
        if (tool_has(&a, "record-key-size"))
            tool_parse_i64(tool_get(&a, "record-key-size"), &key_size);
        if (tool_has(&a, "num-headers"))
            tool_parse_i64(tool_get(&a, "num-headers"), &nheaders);
        if (tool_has(&a, "record-header-key-size"))
            tool_parse_i64(tool_get(&a, "record-header-key-size"), &hkey_size);
        if (tool_has(&a, "record-header-size"))
            tool_parse_i64(tool_get(&a, "record-header-size"), &hsize);
    }
    if (strcmp(acks, "1") && strcmp(acks, "all")) {
        fprintf(stderr, "Latency testing requires synchronous acknowledgement. "
                        "Please use 1 or all\n");
        rc = 1;
        goto out;
    }
    if (num <= 0 || size < 0) {
        fprintf(stderr,
                "num_messages and message_size_bytes must be positive\n");
        rc = 1;
        goto out;
    }
    if (cfg && !tool_props_load(&props, cfg)) {
        rc = 1;
        goto out;
    }
    char err[512];
    /* Topic: create with 1 partition / RF 1 when missing, as Kafka does. */
    rd_kafka_conf_t *pc = tool_conf_new(brokers, &props);
    tool_conf_set(pc, "linger.ms", "0");
    tool_conf_set(pc, "acks", acks);
    rd_kafka_conf_set_dr_msg_cb(pc, e2e_dr);
    prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err));
    if (!prod) {
        fprintf(stderr, "%s\n", err);
        rd_kafka_conf_destroy(pc);
        rc = 1;
        goto out;
    }
    const rd_kafka_metadata_t *md = NULL;
    bool exists = false;
    if (rd_kafka_metadata(prod, 1, NULL, &md, 30000) == 0) {
        for (int i = 0; i < md->topic_cnt; i++)
            if (!strcmp(md->topics[i].topic, topic) && !md->topics[i].err)
                exists = true;
        rd_kafka_metadata_destroy(md);
    } else {
        fprintf(stderr, "Timed out waiting for a node assignment.\n");
        rc = 1;
        goto out;
    }
    if (!exists) {
        printf("Topic \"%s\" does not exist. Will create topic with 1 "
               "partition(s) and replication factor = 1\n",
               topic);
        fflush(stdout);
        rd_kafka_NewTopic_t *nt =
            rd_kafka_NewTopic_new(topic, 1, 1, err, sizeof(err));
        rd_kafka_queue_t *q = rd_kafka_queue_new(prod);
        rd_kafka_CreateTopics(prod, &nt, 1, NULL, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 60000);
        bool ok = ev && !rd_kafka_event_error(ev);
        if (ok) {
            size_t n;
            const rd_kafka_topic_result_t **r =
                rd_kafka_CreateTopics_result_topics(
                    rd_kafka_event_CreateTopics_result(ev), &n);
            for (size_t i = 0; i < n; i++)
                ok &= rd_kafka_topic_result_error(r[i]) == 0;
        }
        if (ev)
            rd_kafka_event_destroy(ev);
        rd_kafka_NewTopic_destroy(nt);
        rd_kafka_queue_destroy(q);
        if (!ok) {
            printf("Creation of topic %s failed\n", topic);
            rc = 1;
            goto out;
        }
    }
    rd_kafka_conf_t *cc = tool_conf_new(brokers, &props);
    char gid[64];
    snprintf(gid, sizeof(gid), "test-group-%lld", (long long)tool_now_ms());
    tool_conf_set(cc, "group.id", gid);
    tool_conf_set(cc, "enable.auto.commit", "false");
    tool_conf_set(cc, "auto.offset.reset", "latest");
    tool_conf_set(cc, "fetch.wait.max.ms", "0");
    tool_conf_set(cc, "fetch.error.backoff.ms", "0");
    cons = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err));
    if (!cons) {
        fprintf(stderr, "%s\n", err);
        rd_kafka_conf_destroy(cc);
        rc = 1;
        goto out;
    }
    rd_kafka_poll_set_consumer(cons);
    /* Assign every partition at its end offset. */
    int nparts = 1;
    for (int tries = 0; tries < 100; tries++) {
        rd_kafka_topic_t *t = rd_kafka_topic_new(cons, topic, NULL);
        if (rd_kafka_metadata(cons, 0, t, &md, 10000) == 0) {
            bool ok = md->topic_cnt == 1 && !md->topics[0].err &&
                      md->topics[0].partition_cnt > 0;
            if (ok)
                nparts = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
            rd_kafka_topic_destroy(t);
            if (ok)
                break;
        } else {
            rd_kafka_topic_destroy(t);
        }
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
    rd_kafka_topic_partition_list_t *tpl =
        rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_query_watermark_offsets(cons, topic, p, &lo, &hi, 10000);
        rd_kafka_topic_partition_list_add(tpl, topic, p)->offset = hi;
    }
    rd_kafka_assign(cons, tpl);
    rd_kafka_topic_partition_list_destroy(tpl);
    lat = xcalloc((size_t)num, sizeof(int64_t));
    payload = xmalloc((size_t)size + 1);
    if (key_size > 0) {
        key = xmalloc((size_t)key_size);
        memset(key, 'k', (size_t)key_size);
    }
    if (nheaders > 0) {
        hkey = xcalloc((size_t)hkey_size + 1, 1);
        memset(hkey, 'h', (size_t)hkey_size);
        if (hsize > 0) {
            hval = xmalloc((size_t)hsize);
            memset(hval, 'v', (size_t)hsize);
        }
    }
    srand(0);
    double total = 0;
    for (int64_t i = 0; i < num; i++) {
        memset(payload, 'A' + rand() % 26, (size_t)size);
        rd_kafka_headers_t *h = NULL;
        if (nheaders > 0) {
            h = rd_kafka_headers_new((size_t)nheaders);
            for (int64_t k = 0; k < nheaders; k++)
                rd_kafka_header_add(h, hkey, (ssize_t)hkey_size,
                                    hsize < 0 ? NULL : hval,
                                    hsize < 0 ? 0 : (ssize_t)hsize);
        }
        int64_t begin = now_ns();
        e2e_delivered = 0;
        rd_kafka_resp_err_t e =
            rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(topic),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY(key, key ? (size_t)key_size : 0),
                              RD_KAFKA_V_VALUE(payload, (size_t)size),
                              RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (e) {
            if (h)
                rd_kafka_headers_destroy(h);
            fprintf(stderr, "%s\n", rd_kafka_err2str(e));
            rc = 1;
            goto out;
        }
        while (!e2e_delivered)
            rd_kafka_poll(prod, 1);
        if (e2e_err) {
            fprintf(stderr, "org.apache.kafka.common.KafkaException: %s\n",
                    rd_kafka_err2str(e2e_err));
            rc = 1;
            goto out;
        }
        rd_kafka_message_t *m = NULL;
        int64_t deadline = now_ns() + 10000LL * 1000000;
        while (!m && now_ns() < deadline) {
            m = rd_kafka_consumer_poll(cons, 10);
            if (m && m->err) {
                rd_kafka_message_destroy(m);
                m = NULL;
            }
        }
        int64_t elapsed = now_ns() - begin;
        if (!m) {
            fprintf(stderr, "poll() timed out before finding a result "
                            "(timeout:[10000])\n");
            rc = 1;
            goto out;
        }
        bool same = m->len == (size_t)size &&
                    !memcmp(m->payload, payload, (size_t)size);
        rd_kafka_message_destroy(m);
        if (!same) {
            fprintf(stderr,
                    "The message read did not match the message sent\n");
            rc = 1;
            goto out;
        }
        if (i % 1000 == 0) {
            char d[64];
            tool_java_double(elapsed / 1000.0 / 1000.0, d, sizeof(d));
            printf("%lld\t%s\n", (long long)i, d);
            fflush(stdout);
        }
        total += (double)elapsed;
        lat[i] = elapsed / 1000 / 1000;
    }
    printf("Avg latency: %.4f ms\n", total / num / 1000.0 / 1000.0);
    qsort(lat, (size_t)num, sizeof(int64_t), cmp_i64);
    printf("Percentiles: 50th = %d, 99th = %d, 99.9th = %d\n",
           (int)lat[(int)(num * 0.5)], (int)lat[(int)(num * 0.99)],
           (int)lat[(int)(num * 0.999)]);
    rc = 0;
out:
    if (cons) {
        rd_kafka_consumer_close(cons);
        rd_kafka_destroy(cons);
    }
    if (prod)
        rd_kafka_destroy(prod);
    free(lat);
    free(payload);
    free(key);
    free(hkey);
    free(hval);
    tool_props_free(&props);
    tool_args_free(&a);
    return rc;
}
