/*
 * quota.c - replication throttles and the rack-aware read replica selector
 * (see quota.h). The rate is Kafka's SampledStat + SimpleRate: samples
 * advance when the current one is a window old, samples older than
 * n_samples windows are reset to empty at measurement, the window is at
 * least one sample long. Threading: none of its own.
 */
#include "replica/quota.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

void repl_quota_init(repl_quota *q, int n_samples, int64_t window_ms) {
    memset(q, 0, sizeof *q);
    q->n_samples = n_samples > 0 ? n_samples : 11;
    q->window_ms = window_ms > 0 ? window_ms : 1000;
    q->s = xcalloc((size_t)q->n_samples, sizeof *q->s);
}

void repl_quota_free(repl_quota *q) {
    free(q->s);
    q->s = NULL;
    q->used = 0;
}

static void sample_reset(repl_quota_sample *s, int64_t now) {
    s->start_ms = now;
    s->events = 0;
    s->value = 0;
}

/* SampledStat.current: the first sample is made on first use. */
static repl_quota_sample *current(repl_quota *q, int64_t now) {
    if (q->used == 0) {
        sample_reset(&q->s[0], now);
        q->used = 1;
        q->cur = 0;
    }
    return &q->s[q->cur];
}

void repl_quota_record(repl_quota *q, int64_t bytes, int64_t now_ms) {
    repl_quota_sample *s = current(q, now_ms);
    if (now_ms - s->start_ms >= q->window_ms) {
        /* SampledStat.advance */
        q->cur = (q->cur + 1) % q->n_samples;
        if (q->cur >= q->used)
            q->used = q->cur + 1;
        s = &q->s[q->cur];
        sample_reset(s, now_ms);
    }
    s->value += (double)bytes;
    s->events++;
}

double repl_quota_rate(repl_quota *q, int64_t now_ms) {
    /* purgeObsoleteSamples, then Sum.combine over the samples */
    int64_t expire = (int64_t)q->n_samples * q->window_ms;
    double total = 0;
    for (int i = 0; i < q->used; i++) {
        if (now_ms - q->s[i].start_ms >= expire)
            sample_reset(&q->s[i], now_ms);
        total += q->s[i].value;
    }
    /* SimpleRate.windowSize: from the oldest sample's start (a sample is
     * made when there is none), at least one window */
    int64_t oldest = current(q, now_ms)->start_ms;
    for (int i = 0; i < q->used; i++)
        oldest = SL_MIN(oldest, q->s[i].start_ms);
    int64_t win = SL_MAX(now_ms - oldest, q->window_ms);
    return total / ((double)win / 1000.0);
}

bool repl_quota_exceeded(repl_quota *q, int64_t bound, int64_t now_ms) {
    if (bound == INT64_MAX)
        return false; /* Kafka's unbounded quota: Long.MAX_VALUE */
    return repl_quota_rate(q, now_ms) > (double)bound;
}

bool repl_throttled_list(const char *list, int32_t partition,
                         int32_t broker_id) {
    if (!list)
        return false;
    const char *p = list;
    while (*p == ' ')
        p++;
    if (p[0] == '*' && p[1 + strspn(p + 1, " ")] == '\0')
        return true;
    while (*p) {
        char *end;
        long part = strtol(p, &end, 10);
        if (end == p)
            return false; /* not Kafka's format (validated on alter) */
        p = end;
        while (*p == ' ')
            p++;
        if (*p != ':')
            return false;
        long broker = strtol(p + 1, &end, 10);
        if (end == p + 1)
            return false;
        if (part == partition && broker == broker_id)
            return true;
        p = end;
        while (*p == ' ' || *p == ',')
            p++;
    }
    return false;
}

bool repl_topic_throttled(const cl_topic *t, const char *key, int32_t partition,
                          int32_t broker_id) {
    if (!t)
        return false;
    for (size_t i = 0; i < t->n_configs; i++)
        if (t->configs[i].name && !strcmp(t->configs[i].name, key))
            return repl_throttled_list(t->configs[i].value, partition,
                                       broker_id);
    return false;
}

/* ReplicaView.comparator: log end offset, then time since caught up
 * reversed, then id; true when a ranks above b. */
static bool view_above(const repl_read_replica *a, const repl_read_replica *b) {
    if (a->leo != b->leo)
        return a->leo > b->leo;
    if (a->since_caught_up_ms != b->since_caught_up_ms)
        return a->since_caught_up_ms < b->since_caught_up_ms;
    return a->id > b->id;
}

int32_t repl_select_read_replica(const char *client_rack,
                                 const repl_read_replica *cands, int n,
                                 int32_t leader) {
    if (!client_rack || !*client_rack)
        return leader;
    const repl_read_replica *best = NULL;
    for (int i = 0; i < n; i++) {
        const repl_read_replica *c = &cands[i];
        if (!c->rack || strcmp(c->rack, client_rack))
            continue;
        if (c->id == leader)
            return leader; /* the leader is in the client's rack */
        if (!best || view_above(c, best))
            best = c;
    }
    return best ? best->id : leader;
}
