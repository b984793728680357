/* rdperf: a small librdkafka-based load client for bench/bench.py.
 *
 * The same binary drives Apache Kafka and Sluice, so the client side of each
 * comparison is identical. Every mode prints exactly one JSON object on
 * stdout (figures) and diagnostics on stderr.
 *
 *   rdperf produce -b HOST:PORT -t TOPIC -s SIZE -n COUNT [-a ACKS] [-r RATE]
 *          [-X key=val]...
 *       COUNT records of SIZE bytes, round-robin over the topic's partitions,
 *       as fast as possible (or RATE records/s); throughput + ack latency.
 *   rdperf consume -b HOST:PORT -t TOPIC -n COUNT [-X key=val]...
 *       reads COUNT records from offset 0 of every partition (legacy consumer, no
 *       group), reports throughput.
 *   rdperf e2e -b HOST:PORT -t TOPIC -s SIZE -r RATE -d SECONDS [-a ACKS]
 *       produces RATE records/s for SECONDS while a consumer in the same
 *       process reads them; the payload carries the send time (monotonic
 *       clock, same host), so latency = receive time - send time.
 *       The first second is warm-up and not counted.
 *   -T SECONDS (all modes, default 600): give up then, print what was done
 *       and exit 3; a run with no progress for 20 s also gives up early, so
 *       a broker that does not serve Produce/Fetch fails fast.
 *
 * Threading: produce/consume run on the main thread; e2e adds one consumer
 * thread. Memory: latency samples live in one growable array per mode.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_X 32

struct opts {
    const char *mode, *brokers, *topic, *acks;
    long size, count, rate;
    double duration, timeout; /* timeout: give up after this many seconds */
    const char *xk[MAX_X], *xv[MAX_X];
    int nx;
};

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("rdperf: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ---- per-thread CPU ------------------------------------------------------------
 * The busiest thread of this process over a run (librdkafka names its threads
 * rdk:main, rdk:broker<N>, ...): a thread near 100% of the run's wall time is
 * the client's ceiling, whatever the broker does. */
#define MAX_THREADS 64
struct thr {
    int tid;
    char comm[32];
    long ticks;
};
struct thr_snap {
    struct thr t[MAX_THREADS];
    int n;
};

static void thr_snapshot(struct thr_snap *s)
{
    s->n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && s->n < MAX_THREADS) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
        if (!lp || !rp)
            continue;
        struct thr *t = &s->t[s->n];
        t->tid = atoi(e->d_name);
        size_t cl = (size_t)(rp - lp - 1) < sizeof t->comm - 1 ? (size_t)(rp - lp - 1)
                                                               : sizeof t->comm - 1;
        memcpy(t->comm, lp + 1, cl);
        t->comm[cl] = 0;
        /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt
         * majflt cmajflt utime stime */
        long ut = 0, st = 0;
        if (sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st) == 2) {
            t->ticks = ut + st;
            s->n++;
        }
    }
    closedir(d);
}

/* Prints ,"busiest_thread":"name","busiest_cpu_s":x for the thread that used
 * the most CPU since `before`. */
static void print_busiest(const struct thr_snap *before)
{
    struct thr_snap now;
    thr_snapshot(&now);
    double hz = (double)sysconf(_SC_CLK_TCK), best = -1;
    const char *name = "?";
    for (int i = 0; i < now.n; i++) {
        long prev = 0;
        for (int j = 0; j < before->n; j++)
            if (before->t[j].tid == now.t[i].tid)
                prev = before->t[j].ticks;
        double cpu = (double)(now.t[i].ticks - prev) / hz;
        if (cpu > best) {
            best = cpu;
            name = now.t[i].comm;
        }
    }
    printf(",\"busiest_thread\":\"%s\",\"busiest_cpu_s\":%.2f", name, best < 0 ? 0 : best);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
    struct timespec ts = {.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

/* ---- latency samples (microseconds) --------------------------------------- */
struct samples {
    int64_t *v;
    size_t n, cap;
};

static void samples_add(struct samples *s, int64_t us)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 65536;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v)
            die("out of memory");
    }
    s->v[s->n++] = us;
}

/* Room for n samples up front, touched now: growing the array during a run
 * would put page faults into the client's measured time. */
static void samples_reserve(struct samples *s, size_t n)
{
    if (n <= s->cap)
        return;
    s->v = realloc(s->v, n * sizeof *s->v);
    if (!s->v)
        die("out of memory");
    memset(s->v + s->cap, 0, (n - s->cap) * sizeof *s->v);
    s->cap = n;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(const struct samples *s, double p)
{
    if (!s->n)
        return -1;
    size_t i = (size_t)(p / 100.0 * (double)s->n);
    if (i >= s->n)
        i = s->n - 1;
    return (double)s->v[i] / 1000.0;
}

static void print_latency(const struct samples *s)
{
    qsort(s->v, s->n, sizeof *s->v, cmp_i64);
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += (double)s->v[i];
    printf(",\"lat_n\":%zu,\"lat_avg_ms\":%.3f,\"lat_p50_ms\":%.3f,\"lat_p99_ms\":%.3f,"
           "\"lat_p999_ms\":%.3f,\"lat_max_ms\":%.3f",
           s->n, s->n ? sum / (double)s->n / 1000.0 : -1, pct_ms(s, 50), pct_ms(s, 99),
           pct_ms(s, 99.9), s->n ? (double)s->v[s->n - 1] / 1000.0 : -1);
}

/* ---- client setup ------------------------------------------------------------ */
static void conf_set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char err[512];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
        die("config %s=%s: %s", k, v, err);
}

static char last_log[256]; /* last librdkafka warning: the reason a run stalls */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 4 && strcmp(fac, "CONFWARN")) {
        fprintf(stderr, "rdperf: librdkafka %s: %s\n", fac, buf);
        snprintf(last_log, sizeof last_log, "%s: %s", fac, buf);
    }
}

/* Stalled or out of time? Prints the reason once. */
static int give_up(const struct opts *o, int64_t t0, int64_t last_progress, const char *what)
{
    int64_t now = now_ns();
    const char *why = NULL;
    if (now - t0 > (int64_t)(o->timeout * 1e9))
        why = "timeout";
    else if (now - last_progress > 20ll * 1000000000)
        why = "no progress for 20 s";
    if (!why)
        return 0;
    fprintf(stderr, "rdperf: %s: %s (last librdkafka message: %s)\n", what, why,
            last_log[0] ? last_log : "none");
    return 1;
}

static rd_kafka_conf_t *base_conf(const struct opts *o)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    conf_set(c, "bootstrap.servers", o->brokers);
    conf_set(c, "client.id", "rdperf");
    rd_kafka_conf_set_log_cb(c, log_cb);
    return c;
}

static void apply_x(rd_kafka_conf_t *c, const struct opts *o, int producer)
{
    for (int i = 0; i < o->nx; i++) {
        /* -X applies to both sides; a key only one side knows is skipped
         * on the other (librdkafka rejects producer keys on consumers). */
        char err[512];
        if (rd_kafka_conf_set(c, o->xk[i], o->xv[i], err, sizeof err) != RD_KAFKA_CONF_OK)
            fprintf(stderr, "rdperf: %s: ignoring %s=%s: %s\n",
                    producer ? "producer" : "consumer", o->xk[i], o->xv[i], err);
    }
}

static int partition_count(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    for (int tries = 0; tries < 50 && n <= 0; tries++) {
        if (rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (md->topic_cnt == 1 && md->topics[0].err == 0)
                n = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
        if (n <= 0)
            usleep(100000);
    }
    rd_kafka_topic_destroy(t);
    if (n <= 0)
        die("topic %s: no metadata", topic);
    return n;
}

/* ---- produce ----------------------------------------------------------------- */
struct prod_state {
    struct samples lat;
    long acked, failed;
    int64_t last_progress;
    unsigned since_clock; /* reports since the clock was read; 0 = read it */
    char last_err[256];
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct prod_state *st = opaque;
    if (m->err) {
        st->last_progress = now_ns();
        st->failed++;
        snprintf(st->last_err, sizeof st->last_err, "%s", rd_kafka_err2str(m->err));
        if (st->failed <= 5)
            fprintf(stderr, "rdperf: delivery failed: %s\n", rd_kafka_err2str(m->err));
        return;
    }
    /* Delivery reports come in bursts from one poll: read the clock at the
     * first of each poll's reports and then once per 32 (a few microseconds
     * of error at most), not per record. */
    st->acked++;
    if ((st->since_clock++ & 31) == 0)
        st->last_progress = now_ns();
    int64_t sent = (int64_t)(intptr_t)m->_private;
    if (sent)
        samples_add(&st->lat, (st->last_progress - sent) / 1000);
}

static void prod_poll(rd_kafka_t *rk, struct prod_state *st, int ms)
{
    st->since_clock = 0;
    rd_kafka_poll(rk, ms);
}

static rd_kafka_t *new_producer(const struct opts *o, void *opaque)
{
    rd_kafka_conf_t *c = base_conf(o);
    conf_set(c, "acks", o->acks);
    conf_set(c, "queue.buffering.max.messages", "1000000");
    conf_set(c, "queue.buffering.max.kbytes", "1048576");
    apply_x(c, o, 1);
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_conf_set_opaque(c, opaque);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!rk)
        die("producer: %s", err);
    return rk;
}

static void fill_payload(char *p, long size)
{
    /* Kafka's ProducerPerformance uses random uppercase letters; so do we
     * (compressible data would favour whoever compresses). */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (long i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (char)('A' + x % 26);
    }
}

static int mode_produce(const struct opts *o)
{
    struct prod_state st = {0};
    rd_kafka_t *rk = new_producer(o, &st);
    int parts = partition_count(rk, o->topic);
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, o->topic, NULL);
    char *payload = malloc((size_t)o->size);
    fill_payload(payload, o->size);

    samples_reserve(&st.lat, (size_t)o->count);
    struct thr_snap thr0;
    thr_snapshot(&thr0);
    int64_t t0 = now_ns();
    st.last_progress = t0;
    int stalled = 0;
    int64_t interval = o->rate > 0 ? 1000000000 / o->rate : 0;
    /* Records go round-robin over the partitions (like the sticky-free
     * default of the perf tools, so a 6-partition run really spreads over 6
     * partitions), enqueued PRODUCE_BATCH at a time with
     * rd_kafka_produce_batch (one queue lock per batch, not per record) and
     * without RD_KAFKA_MSG_F_COPY (the payload never changes and outlives the
     * producer, so librdkafka references it instead of copying it). The load
     * client should cost as little as it can, so that what shows is the
     * broker under test; both brokers get the same client. */
    enum { PRODUCE_BATCH = 256 };
    rd_kafka_message_t batch[PRODUCE_BATCH];
    for (long i = 0; i < o->count && !stalled;) {
        int n = interval ? 1 : (int)(o->count - i < PRODUCE_BATCH ? o->count - i : PRODUCE_BATCH);
        if (interval)
            sleep_until(t0 + i * interval);
        int64_t ts = now_ns();
        for (int k = 0; k < n; k++)
            batch[k] = (rd_kafka_message_t){.partition = (int32_t)((i + k) % parts),
                                            .payload = payload,
                                            .len = (size_t)o->size,
                                            ._private = (void *)(intptr_t)ts};
        int left = n;
        while (!stalled) {
            rd_kafka_produce_batch(t, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_PARTITION, batch,
                                   left);
            /* Keep the records that failed (their .err is set) for another
             * try; only a full queue is worth waiting out. */
            int keep = 0;
            for (int k = 0; k < left; k++) {
                if (!batch[k].err)
                    continue;
                if (batch[k].err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                    die("produce: %s", rd_kafka_err2str(batch[k].err));
                batch[keep] = batch[k];
                batch[keep++].err = RD_KAFKA_RESP_ERR_NO_ERROR;
            }
            if (!(left = keep))
                break;
            prod_poll(rk, &st, 10);
            stalled = give_up(o, t0, st.last_progress, "produce");
        }
        i += n;
        if ((i & 1023) < n)
            prod_poll(rk, &st, 0);
    }
    while (!stalled && rd_kafka_outq_len(rk) > 0) {
        prod_poll(rk, &st, 50);
        stalled = give_up(o, t0, st.last_progress, "produce");
    }
    if (st.failed)
        fprintf(stderr, "rdperf: %ld deliveries failed: %s\n", st.failed, st.last_err);
    int64_t t1 = now_ns();
    double secs = (double)(t1 - t0) / 1e9;
    double bytes = (double)st.acked * (double)o->size;
    printf("{\"mode\":\"produce\",\"partitions\":%d,\"records\":%ld,\"failed\":%ld,"
           "\"bytes\":%.0f,\"secs\":%.3f,\"rps\":%.1f,\"mbps\":%.3f",
           parts, st.acked, st.failed, bytes, secs, (double)st.acked / secs,
           bytes / secs / 1048576.0);
    print_busiest(&thr0);
    print_latency(&st.lat);
    printf("}\n");
    rd_kafka_topic_destroy(t);
    if (stalled) {
        fflush(stdout);
        _exit(3); /* rd_kafka_destroy would wait for the undelivered queue */
    }
    rd_kafka_destroy(rk);
    free(payload);
    free(st.lat.v);
    return st.failed || st.acked != o->count ? 2 : 0;
}

/* ---- consume ----------------------------------------------------------------- */
static rd_kafka_t *new_consumer(const struct opts *o)
{
    rd_kafka_conf_t *c = base_conf(o);
    conf_set(c, "enable.partition.eof", "false");
    apply_x(c, o, 0);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    if (!rk)
        die("consumer: %s", err);
    return rk;
}

/* The legacy (group-less) consumer: every partition feeds one queue, so the
 * benchmark needs only Metadata, ListOffsets and Fetch from the broker. */
struct cons {
    rd_kafka_t *rk;
    rd_kafka_topic_t *t;
    rd_kafka_queue_t *q;
    int parts;
};

static void cons_start(struct cons *c, const char *topic, int parts, const int64_t *offsets)
{
    c->t = rd_kafka_topic_new(c->rk, topic, NULL);
    c->q = rd_kafka_queue_new(c->rk);
    c->parts = parts;
    for (int p = 0; p < parts; p++)
        if (rd_kafka_consume_start_queue(c->t, p, offsets ? offsets[p] : RD_KAFKA_OFFSET_BEGINNING,
                                         c->q) == -1)
            die("consume start: %s", rd_kafka_err2str(rd_kafka_last_error()));
}

static void cons_stop(struct cons *c)
{
    for (int p = 0; p < c->parts; p++)
        rd_kafka_consume_stop(c->t, p);
    rd_kafka_queue_destroy(c->q);
    rd_kafka_topic_destroy(c->t);
    rd_kafka_destroy(c->rk);
}

static int mode_consume(const struct opts *o)
{
    struct cons c = {.rk = new_consumer(o)};
    int parts = partition_count(c.rk, o->topic);
    struct thr_snap thr0;
    thr_snapshot(&thr0);
    int64_t t0 = now_ns();
    cons_start(&c, o->topic, parts, NULL);
    long n = 0;
    double bytes = 0;
    int64_t first = 0, last = t0;
    int stalled = 0;
    /* Records are taken up to 1024 at a time (one queue lock per batch, not
     * per record) and the clock is read once per batch: the client should
     * cost as little as it can, so that what shows is the broker. */
    enum { CONSUME_BATCH = 1024 };
    rd_kafka_message_t *ms[CONSUME_BATCH];
    while (n < o->count) {
        /* Never ask for more than remain: the call waits for a full batch. */
        long want = o->count - n < CONSUME_BATCH ? o->count - n : CONSUME_BATCH;
        ssize_t got = rd_kafka_consume_batch_queue(c.q, 1000, ms, (size_t)want);
        if (got <= 0) {
            if ((stalled = give_up(o, t0, last, "consume")))
                break;
            continue;
        }
        for (ssize_t i = 0; i < got; i++) {
            rd_kafka_message_t *m = ms[i];
            if (m->err) {
                fprintf(stderr, "rdperf: consume: %s\n", rd_kafka_message_errstr(m));
            } else {
                if (!n)
                    first = now_ns();
                n++;
                bytes += (double)m->len;
            }
            rd_kafka_message_destroy(m);
        }
        last = now_ns();
    }
    double secs = (double)(last - t0) / 1e9;
    printf("{\"mode\":\"consume\",\"partitions\":%d,\"records\":%ld,\"bytes\":%.0f,"
           "\"secs\":%.3f,\"first_ms\":%.1f,\"rps\":%.1f,\"mbps\":%.3f",
           parts, n, bytes, secs, first ? (double)(first - t0) / 1e6 : -1, (double)n / secs,
           bytes / secs / 1048576.0);
    print_busiest(&thr0);
    printf("}\n");
    if (stalled) {
        fflush(stdout);
        _exit(3);
    }
    cons_stop(&c);
    return n == o->count ? 0 : 2;
}

/* ---- end-to-end latency ---------------------------------------------------- */
struct e2e {
    struct cons c;
    int64_t warm_until, stop_at;
    atomic_long expected; /* records sent after warm-up start; -1 until known */
    long received;
    struct samples lat;
};

static void *e2e_consumer(void *arg)
{
    struct e2e *e = arg;
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consume_queue(e->c.q, 100);
        int64_t now = now_ns();
        if (m) {
            if (!m->err && m->len >= 8) {
                int64_t sent;
                memcpy(&sent, m->payload, 8);
                e->received++;
                if (sent >= e->warm_until)
                    samples_add(&e->lat, (now - sent) / 1000);
            }
            rd_kafka_message_destroy(m);
        }
        long exp = atomic_load(&e->expected);
        if (exp >= 0 && (e->received >= exp || now > e->stop_at + 10ll * 1000000000))
            break;
        if (now > e->stop_at + 30ll * 1000000000)
            break; /* producer stuck too */
    }
    return NULL;
}

static int mode_e2e(const struct opts *o)
{
    if (o->rate <= 0 || o->duration <= 0 || o->size < 8)
        die("e2e needs -r RATE, -d SECONDS and -s >= 8");
    struct prod_state st = {0};
    rd_kafka_t *prod = new_producer(o, &st);
    int parts = partition_count(prod, o->topic);
    struct e2e e = {.c.rk = new_consumer(o)};
    atomic_init(&e.expected, -1);
    int64_t *offs = calloc((size_t)parts, sizeof *offs);
    for (int p = 0; p < parts; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(e.c.rk, o->topic, p, &lo, &hi, 10000);
        if (err)
            die("watermarks: %s", rd_kafka_err2str(err));
        offs[p] = hi;
    }
    cons_start(&e.c, o->topic, parts, offs);
    free(offs);

    rd_kafka_topic_t *t = rd_kafka_topic_new(prod, o->topic, NULL);
    char *payload = malloc((size_t)o->size);
    fill_payload(payload, o->size);
    int64_t t0 = now_ns() + 200000000; /* let the consumer's fetches start */
    e.warm_until = t0 + 1000000000;
    e.stop_at = t0 + (int64_t)(o->duration * 1e9);
    pthread_t th;
    pthread_create(&th, NULL, e2e_consumer, &e);
    int64_t interval = 1000000000 / o->rate;
    long sent = 0;
    for (;; sent++) {
        int64_t due = t0 + sent * interval;
        if (due >= e.stop_at)
            break;
        sleep_until(due);
        int64_t ts = now_ns();
        memcpy(payload, &ts, 8);
        while (rd_kafka_produce(t, (int32_t)(sent % parts), RD_KAFKA_MSG_F_COPY, payload,
                                (size_t)o->size, NULL, 0, NULL) == -1) {
            if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                die("produce: %s", rd_kafka_err2str(rd_kafka_last_error()));
            rd_kafka_poll(prod, 1);
        }
        rd_kafka_poll(prod, 0);
    }
    rd_kafka_flush(prod, 20000);
    atomic_store(&e.expected, sent);
    pthread_join(th, NULL);
    printf("{\"mode\":\"e2e\",\"partitions\":%d,\"rate\":%ld,\"sent\":%ld,\"received\":%ld,"
           "\"failed\":%ld",
           parts, o->rate, sent, e.received, st.failed);
    print_latency(&e.lat);
    printf("}\n");
    rd_kafka_topic_destroy(t);
    if (e.received != sent) {
        fprintf(stderr, "rdperf: e2e: received %ld of %ld (last librdkafka message: %s)\n",
                e.received, sent, last_log[0] ? last_log : "none");
        fflush(stdout);
        _exit(2);
    }
    rd_kafka_destroy(prod);
    cons_stop(&e.c);
    free(payload);
    return 0;
}

static void usage(void)
{
    fputs("usage: rdperf produce|consume|e2e -b BROKERS -t TOPIC [-s SIZE] [-n COUNT]\n"
          "              [-a ACKS] [-r RATE] [-d SECONDS] [-T SECONDS] [-X key=val]...\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    struct opts o = {.acks = "1", .size = 100, .count = 100000, .timeout = 600};
    if (argc < 2)
        usage();
    o.mode = argv[1];
    optind = 2;
    int c;
    while ((c = getopt(argc, argv, "b:t:s:n:a:r:d:T:X:")) != -1) {
        switch (c) {
        case 'b': o.brokers = optarg; break;
        case 't': o.topic = optarg; break;
        case 's': o.size = atol(optarg); break;
        case 'n': o.count = atol(optarg); break;
        case 'a': o.acks = optarg; break;
        case 'r': o.rate = atol(optarg); break;
        case 'd': o.duration = atof(optarg); break;
        case 'T': o.timeout = atof(optarg); break;
        case 'X': {
            char *eq = strchr(optarg, '=');
            if (!eq || o.nx == MAX_X)
                usage();
            *eq = 0;
            o.xk[o.nx] = optarg;
            o.xv[o.nx++] = eq + 1;
            break;
        }
        default: usage();
        }
    }
    if (!o.brokers || !o.topic || o.size <= 0)
        usage();
    if (!strcmp(o.mode, "produce"))
        return mode_produce(&o);
    if (!strcmp(o.mode, "consume"))
        return mode_consume(&o);
    if (!strcmp(o.mode, "e2e"))
        return mode_e2e(&o);
    usage();
    return 2;
}
