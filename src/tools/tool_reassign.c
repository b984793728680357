/*
 * tool_reassign.c - `sluice reassign-partitions` /
 * kafka-reassign-partitions.sh: --generate (Kafka's rack-unaware replica
 * placement), --execute (with --throttle), --verify, --cancel and --list,
 * with Kafka 4.x's JSON formats and messages. Talks to the brokers through
 * kclient (Metadata, DescribeLogDirs, AlterPartitionReassignments,
 * ListPartitionReassignments, IncrementalAlterConfigs for throttles).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "tools/kclient.h"
#include "tools/tool_common.h"
#include "tools/tool_json.h"

static const tool_optdef ra_opts[] = {
    {"additional", TOOL_FLAG,
     "Execute this reassignment in addition to any other ongoing ones."},
    {"bootstrap-controller", TOOL_ARG,
     "The controller to use for reassignment (not supported by sluice)."},
    {"bootstrap-server", TOOL_ARG,
     "REQUIRED: the server(s) to use for bootstrapping."},
    {"broker-list", TOOL_ARG,
     "The list of brokers to which the partitions need to be reassigned in "
     "the form \"0,1,2\". This is required if --topics-to-move-json-file is "
     "used to generate reassignment configuration"},
    {"cancel", TOOL_FLAG,
     "Cancel an active reassignment. Requires --reassignment-json-file."},
    {"command-config", TOOL_ARG,
     "Property file containing configs to be passed to Admin Client."},
    {"disable-rack-aware", TOOL_FLAG, "Disable rack aware replica assignment"},
    {"execute", TOOL_FLAG,
     "Kick off the reassignment as specified in the --reassignment-json-file "
     "option."},
    {"generate", TOOL_FLAG,
     "Generate a candidate partition reassignment configuration. Note that "
     "this only generates a candidate assignment, it does not execute it."},
    {"list", TOOL_FLAG, "List all active partition reassignments."},
    {"preserve-throttles", TOOL_FLAG,
     "Do not modify broker or topic throttles."},
    {"reassignment-json-file", TOOL_ARG,
     "The JSON file with the partition reassignment configuration."},
    {"replica-alter-log-dirs-throttle", TOOL_ARG,
     "The movement of replicas between log directories on the same broker "
     "will be throttled to this value (bytes/sec). (default: -1)"},
    {"throttle", TOOL_ARG,
     "The movement of partitions between brokers will be throttled to this "
     "value (bytes/sec). (default: -1)"},
    {"timeout", TOOL_ARG,
     "The maximum time in ms to wait for log directory replica assignment "
     "to begin. (default: 10000)"},
    {"topics-to-move-json-file", TOOL_ARG,
     "Generate a reassignment configuration to move the partitions of the "
     "specified topics to the list of brokers specified by the "
     "--broker-list option."},
    {"verify", TOOL_FLAG,
     "Verify if the reassignment completed as specified by the "
     "--reassignment-json-file option. If there is a throttle engaged for "
     "the replicas specified, and the rebalance has completed, the throttle "
     "will be removed"},
    {"version", TOOL_FLAG, "Display Kafka version."},
};

typedef struct ra_ctx {
    tool_args *a;
    kc_conn kc;
    kc_metadata md;
    int timeout_ms;
    kc_logdir_entry *dirs;
    int ndirs;
    int32_t *dir_broker; /* broker of each dirs[] entry */
} ra_ctx;

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_reassign(const void *a, const void *b) {
    const kc_reassign *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->part > y->part) - (x->part < y->part);
}

static void json_string(buf *b, const char *s) {
    buf_put_u8(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            buf_put_u8(b, '\\');
        buf_put_u8(b, (uint8_t)*s);
    }
    buf_put_u8(b, '"');
}

/* Log dirs of the brokers holding a replica of one of v's n partitions
 * (v NULL: of every broker), DescribeLogDirs per broker. */
static void load_dirs_of(ra_ctx *c, const kc_reassign *v, int n) {
    for (int i = 0; i < c->md.nbrokers; i++) {
        bool wanted = !v;
        for (int j = 0; v && j < n && !wanted; j++)
            for (int k = 0; k < v[j].nreplicas && !wanted; k++)
                wanted = v[j].replicas[k] == c->md.brokers[i].id;
        if (!wanted)
            continue;
        kc_conn bc;
        char err[256];
        kc_conn *use = &c->kc;
        bool opened = false;
        if (strcmp(c->md.brokers[i].host, c->kc.host) ||
            c->md.brokers[i].port != c->kc.port) {
            if (!kc_connect_node(&bc, c->md.brokers[i].host,
                                 c->md.brokers[i].port, c->timeout_ms, err,
                                 sizeof(err)))
                continue;
            use = &bc;
            opened = true;
        }
        kc_logdir_entry *d;
        int n;
        if (kc_describe_log_dirs(use, &d, &n)) {
            c->dirs =
                xrealloc(c->dirs, (size_t)(c->ndirs + n + 1) * sizeof(*d));
            c->dir_broker = xrealloc(c->dir_broker, (size_t)(c->ndirs + n + 1) *
                                                        sizeof(int32_t));
            for (int k = 0; k < n; k++) {
                c->dirs[c->ndirs] = d[k];
                c->dir_broker[c->ndirs++] = c->md.brokers[i].id;
            }
            free(d);
        }
        if (opened)
            kc_close(&bc);
    }
}

static void load_dirs(ra_ctx *c) {
    load_dirs_of(c, NULL, 0);
}

static const char *dir_of(ra_ctx *c, int32_t broker, const char *topic,
                          int32_t p) {
    for (int i = 0; i < c->ndirs; i++)
        if (c->dir_broker[i] == broker && c->dirs[i].part == p &&
            !c->dirs[i].is_future && !strcmp(c->dirs[i].topic, topic))
            return c->dirs[i].dir;
    return "any";
}

/* {"version":1,"partitions":[...]} with log_dirs (actual or "any"). */
static char *assignment_json(ra_ctx *c, kc_reassign *v, int n,
                             bool actual_dirs) {
    qsort(v, (size_t)n, sizeof(kc_reassign), cmp_reassign);
    buf b;
    buf_init(&b, 256);
    buf_printf(&b, "{\"version\":1,\"partitions\":[");
    for (int i = 0; i < n; i++) {
        buf_printf(&b, "%s{\"topic\":", i ? "," : "");
        json_string(&b, v[i].topic);
        buf_printf(&b, ",\"partition\":%d,\"replicas\":[", v[i].part);
        for (int k = 0; k < v[i].nreplicas; k++)
            buf_printf(&b, "%s%d", k ? "," : "", v[i].replicas[k]);
        buf_printf(&b, "],\"log_dirs\":[");
        for (int k = 0; k < v[i].nreplicas; k++) {
            buf_printf(&b, "%s", k ? "," : "");
            json_string(&b, actual_dirs ? dir_of(c, v[i].replicas[k],
                                                 v[i].topic, v[i].part)
                                        : "any");
        }
        buf_printf(&b, "]}");
    }
    buf_printf(&b, "]}");
    buf_put_u8(&b, 0);
    return (char *)b.data;
}

static const kc_topic *find_topic(const kc_metadata *md, const char *name) {
    for (int i = 0; i < md->ntopics; i++)
        if (!strcmp(md->topics[i].name, name) && !md->topics[i].error)
            return &md->topics[i];
    return NULL;
}

static const kc_partition *find_part(const kc_topic *t, int32_t p) {
    for (int i = 0; t && i < t->nparts; i++)
        if (t->parts[i].id == p)
            return &t->parts[i];
    return NULL;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *text = NULL, chunk[4096];
    size_t len = 0, k;
    while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        text = xrealloc(text, len + k + 1);
        memcpy(text + len, chunk, k);
        len += k;
    }
    fclose(f);
    if (!text)
        text = xstrdup("");
    text[len] = 0;
    return text;
}

static int fail(const char *fmt, const char *arg) {
    printf("Error: ");
    printf(fmt, arg);
    printf("\n");
    return 1;
}

/* Parses a reassignment JSON file into entries (replicas required unless
 * for_cancel). Returns count or -1 (message printed). */
static int parse_plan(const char *path, kc_reassign **out) {
    *out = NULL;
    char *text = read_file(path);
    if (!text)
        return fail("%s (No such file or directory)", path);
    char jerr[128];
    tj *doc = tool_json_parse(text, jerr, sizeof(jerr));
    free(text);
    const tj *parts = tool_json_get(doc, "partitions");
    if (!doc || !parts || parts->type != TJ_ARR) {
        tool_json_free(doc);
        return fail("%s", "The input string is not a valid JSON");
    }
    kc_reassign *v = xcalloc((size_t)parts->n + 1, sizeof(kc_reassign));
    int n = 0;
    for (int i = 0; i < parts->n; i++) {
        const tj *t = tool_json_get(parts->items[i], "topic");
        const tj *p = tool_json_get(parts->items[i], "partition");
        const tj *r = tool_json_get(parts->items[i], "replicas");
        if (!t || t->type != TJ_STR || !p || p->type != TJ_NUM || !r ||
            r->type != TJ_ARR) {
            kc_reassign_free(v, n);
            tool_json_free(doc);
            return fail("%s", "Partition reassignment list cannot be empty");
        }
        kc_reassign *e = &v[n++];
        e->topic = xstrdup(t->str);
        e->part = (int32_t)p->num;
        e->replicas = xcalloc((size_t)r->n + 1, sizeof(int32_t));
        for (int k = 0; k < r->n; k++) {
            e->replicas[k] = (int32_t)r->items[k]->num;
            for (int j = 0; j < k; j++)
                if (e->replicas[j] == e->replicas[k]) {
                    char m[300];
                    snprintf(m, sizeof(m),
                             "Duplicate replica assignment found: %s-%d",
                             e->topic, e->part);
                    kc_reassign_free(v, n);
                    tool_json_free(doc);
                    return fail("%s", m);
                }
        }
        e->nreplicas = r->n;
        /* Kafka's parsePartitionReassignmentData: "log_dirs" (optional)
         * has one entry per replica, "any" for no particular dir. */
        const tj *ld = tool_json_get(parts->items[i], "log_dirs");
        if (ld && ld->type == TJ_ARR) {
            if (ld->n != r->n) {
                char m[600];
                int o = snprintf(m, sizeof(m), "Size of replicas list [");
                for (int k = 0; k < r->n && o < 400; k++)
                    o += snprintf(m + o, sizeof(m) - (size_t)o, "%s%d",
                                  k ? ", " : "", e->replicas[k]);
                o += snprintf(m + o, sizeof(m) - (size_t)o,
                              "] is different from size of log dirs list [");
                for (int k = 0; k < ld->n && o < 500; k++)
                    o += snprintf(
                        m + o, sizeof(m) - (size_t)o, "%s%s", k ? ", " : "",
                        ld->items[k]->type == TJ_STR ? ld->items[k]->str : "");
                snprintf(m + o, sizeof(m) - (size_t)o, "] for partition %s-%d",
                         e->topic, e->part);
                kc_reassign_free(v, n);
                tool_json_free(doc);
                return fail("%s", m);
            }
            e->log_dirs = xcalloc((size_t)r->n + 1, sizeof(char *));
            for (int k = 0; k < ld->n; k++)
                if (ld->items[k]->type == TJ_STR &&
                    strcmp(ld->items[k]->str, "any"))
                    e->log_dirs[k] = xstrdup(ld->items[k]->str);
        }
    }
    tool_json_free(doc);
    if (n == 0) {
        free(v);
        return fail("%s", "Partition reassignment list cannot be empty");
    }
    *out = v;
    return n;
}

/* ---- generate --------------------------------------------------------- */

static int do_generate(ra_ctx *c) {
    const char *path = tool_get(c->a, "topics-to-move-json-file");
    char *text = read_file(path);
    if (!text)
        return fail("%s (No such file or directory)", path);
    char jerr[128];
    tj *doc = tool_json_parse(text, jerr, sizeof(jerr));
    free(text);
    const tj *topics = tool_json_get(doc, "topics");
    if (!topics || topics->type != TJ_ARR) {
        tool_json_free(doc);
        return fail("%s", "The input string is not a valid JSON");
    }
    /* brokers, sorted */
    int32_t *brokers = NULL;
    int nb = 0;
    char *bl = xstrdup(tool_get(c->a, "broker-list")), *save = NULL;
    for (char *s = strtok_r(bl, ",", &save); s;
         s = strtok_r(NULL, ",", &save)) {
        int64_t id;
        if (!tool_parse_i64(s, &id)) {
            free(bl);
            free(brokers);
            tool_json_free(doc);
            return fail("For input string: \"%s\"", s);
        }
        brokers = xrealloc(brokers, (size_t)(nb + 1) * sizeof(int32_t));
        brokers[nb++] = (int32_t)id;
    }
    free(bl);
    for (int i = 0; i < nb; i++)
        for (int j = i + 1; j < nb; j++)
            if (brokers[j] < brokers[i]) {
                int32_t t = brokers[i];
                brokers[i] = brokers[j];
                brokers[j] = t;
            }
    for (int i = 0; i < nb; i++) {
        bool known = false;
        for (int k = 0; k < c->md.nbrokers; k++)
            known |= c->md.brokers[k].id == brokers[i];
        if (!known) {
            char m[32];
            snprintf(m, sizeof(m), "%d", brokers[i]);
            free(brokers);
            tool_json_free(doc);
            return fail("Unknown broker id %s", m);
        }
    }
    kc_reassign *cur = NULL, *prop = NULL;
    int ncur = 0;
    srand((unsigned)(time(NULL) ^ getpid()));
    int rc = 0;
    for (int i = 0; i < topics->n && !rc; i++) {
        const tj *t = tool_json_get(topics->items[i], "topic");
        if (!t || t->type != TJ_STR)
            continue;
        const kc_topic *mt = find_topic(&c->md, t->str);
        if (!mt) {
            rc = fail("Topic %s not found", t->str);
            break;
        }
        int rf = mt->nparts ? mt->parts[0].nreplicas : 1;
        if (rf > nb) {
            char m[200];
            snprintf(
                m, sizeof(m),
                "Replication factor: %d larger than available brokers: %d.", rf,
                nb);
            rc = fail("%s", m);
            break;
        }
        /* Kafka's assignReplicasToBrokersRackUnaware */
        int start = rand() % nb, shift = rand() % nb;
        cur = xrealloc(cur,
                       (size_t)(ncur + mt->nparts + 1) * sizeof(kc_reassign));
        prop = xrealloc(prop,
                        (size_t)(ncur + mt->nparts + 1) * sizeof(kc_reassign));
        for (int p = 0; p < mt->nparts; p++) {
            const kc_partition *mp = find_part(mt, p);
            if (p > 0 && p % nb == 0)
                shift++;
            int first = (p + start) % nb;
            kc_reassign *e = &prop[ncur];
            memset(e, 0, sizeof(*e));
            e->topic = xstrdup(t->str);
            e->part = p;
            e->replicas = xcalloc((size_t)rf + 1, sizeof(int32_t));
            e->nreplicas = rf;
            e->replicas[0] = brokers[first];
            for (int j = 0; j < rf - 1; j++) {
                int sh = nb > 1 ? 1 + (shift + j) % (nb - 1) : 0;
                e->replicas[j + 1] = brokers[(first + sh) % nb];
            }
            kc_reassign *o = &cur[ncur++];
            memset(o, 0, sizeof(*o));
            o->topic = xstrdup(t->str);
            o->part = p;
            int nr = mp ? mp->nreplicas : 0;
            o->replicas = xcalloc((size_t)nr + 1, sizeof(int32_t));
            if (nr)
                memcpy(o->replicas, mp->replicas, (size_t)nr * sizeof(int32_t));
            o->nreplicas = nr;
        }
    }
    if (!rc) {
        load_dirs(c);
        char *cj = assignment_json(c, cur, ncur, true);
        char *pj = assignment_json(c, prop, ncur, false);
        printf("Current partition replica assignment\n%s\n\nProposed partition "
               "reassignment configuration\n%s\n",
               cj, pj);
        free(cj);
        free(pj);
    }
    kc_reassign_free(cur, ncur);
    kc_reassign_free(prop, ncur);
    free(brokers);
    tool_json_free(doc);
    return rc;
}

/* A connection to broker id (the bootstrap one when it is that broker). */
static kc_conn *broker_conn(ra_ctx *c, int32_t id, kc_conn *tmp, bool *opened) {
    *opened = false;
    for (int i = 0; i < c->md.nbrokers; i++) {
        if (c->md.brokers[i].id != id)
            continue;
        if (!strcmp(c->md.brokers[i].host, c->kc.host) &&
            c->md.brokers[i].port == c->kc.port)
            return &c->kc;
        char err[256];
        if (!kc_connect_node(tmp, c->md.brokers[i].host, c->md.brokers[i].port,
                             c->timeout_ms, err, sizeof(err)))
            return NULL;
        *opened = true;
        return tmp;
    }
    return NULL;
}

/* Kafka's AdminClient sends a broker's config change to that broker. */
static void alter_broker(ra_ctx *c, int32_t id, const kc_alter_op *ops,
                         int nops) {
    char s[16];
    snprintf(s, sizeof s, "%d", id);
    kc_conn tmp, *use;
    bool opened;
    use = broker_conn(c, id, &tmp, &opened);
    int16_t e;
    char *m = NULL;
    if (use)
        kc_incremental_alter(use, KC_RES_BROKER, s, ops, nops, &e, &m);
    free(m);
    if (opened)
        kc_close(&tmp);
}

/* ---- throttles --------------------------------------------------------- */

static void clear_throttles(ra_ctx *c, kc_reassign *v, int n, bool blank) {
    static const kc_alter_op bops[] = {
        {"leader.replication.throttled.rate", NULL, 1},
        {"follower.replication.throttled.rate", NULL, 1},
        {"replica.alter.log.dirs.io.max.bytes.per.second", NULL, 1},
    };
    static const kc_alter_op tops[] = {
        {"leader.replication.throttled.replicas", NULL, 1},
        {"follower.replication.throttled.replicas", NULL, 1},
    };
    if (blank)
        printf("\n");
    /* Kafka's clearAllThrottles: the cluster's brokers and every target
     * replica, a HashSet<Integer> (ascending for broker ids) */
    int nr = 0;
    for (int i = 0; i < n; i++)
        nr += v[i].nreplicas;
    int32_t *bids = xcalloc((size_t)(c->md.nbrokers + nr + 1), sizeof(int32_t));
    int nb = 0;
    for (int i = 0; i < c->md.nbrokers; i++)
        bids[nb++] = c->md.brokers[i].id;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < v[i].nreplicas; k++)
            bids[nb++] = v[i].replicas[k];
    qsort(bids, (size_t)nb, sizeof *bids, cmp_i32);
    buf ids;
    buf_init(&ids, 64);
    int nu = 0;
    for (int i = 0; i < nb; i++) {
        if (i && bids[i] == bids[i - 1])
            continue;
        nu++;
        char id[16];
        snprintf(id, sizeof(id), "%d", bids[i]);
        buf_printf(&ids, "%s%s", ids.len ? "," : "", id);
        alter_broker(c, bids[i], bops, 3);
    }
    free(bids);
    buf_put_u8(&ids, 0);
    printf("Clearing broker-level throttles on broker%s %s\n",
           nu == 1 ? "" : "s", (char *)ids.data);
    buf_free(&ids);
    qsort(v, (size_t)n, sizeof(kc_reassign), cmp_reassign);
    buf b;
    buf_init(&b, 128);
    int ntopics = 0;
    for (int i = 0; i < n; i++) {
        if (i && !strcmp(v[i].topic, v[i - 1].topic))
            continue;
        ntopics++;
        buf_printf(&b, "%s%s", b.len ? "," : "", v[i].topic);
        int16_t e;
        char *m = NULL;
        kc_incremental_alter(&c->kc, KC_RES_TOPIC, v[i].topic, tops, 2, &e, &m);
        free(m);
    }
    buf_put_u8(&b, 0);
    /* Kafka: "topic" + (topics.size() == 1 ? "" : "s") */
    printf("Clearing topic-level throttles on topic%s %s\n",
           ntopics == 1 ? "" : "s", (char *)b.data);
    buf_free(&b);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "p:b" strings sorted and deduplicated (Kafka's TreeSet<String>), joined
 * with commas into out. Frees the strings. */
static void join_sorted(char **v, int n, buf *out) {
    qsort(v, (size_t)n, sizeof *v, cmp_str);
    for (int i = 0; i < n; i++) {
        if (!i || strcmp(v[i], v[i - 1]))
            buf_printf(out, "%s%s", out->len ? "," : "", v[i]);
        free(v[i]);
    }
    buf_put_u8(out, 0);
}

/* Kafka's modifyReassignmentThrottle: per topic, leader throttles on the
 * sources ("partition:broker", the current replicas) and follower
 * throttles on the destinations not among them, each a sorted set; the
 * rate on every broker involved (sources and destinations). */
static void set_throttles(ra_ctx *c, kc_reassign *v, int n, const char *rate) {
    qsort(v, (size_t)n, sizeof(kc_reassign), cmp_reassign);
    int32_t *brokers = NULL;
    int nb = 0;
    for (int i = 0; i < n; i++) {
        if (i && !strcmp(v[i].topic, v[i - 1].topic))
            continue;
        char **lv = NULL, **fv = NULL;
        int nl = 0, nf = 0;
        const kc_topic *t = find_topic(&c->md, v[i].topic);
        for (int j = i; j < n && !strcmp(v[j].topic, v[i].topic); j++) {
            const kc_partition *p = find_part(t, v[j].part);
            int np = p ? p->nreplicas : 0;
            lv = xrealloc(lv, sizeof *lv * (size_t)(nl + np + 1));
            fv = xrealloc(fv, sizeof *fv * (size_t)(nf + v[j].nreplicas + 1));
            brokers =
                xrealloc(brokers, sizeof *brokers *
                                      (size_t)(nb + np + v[j].nreplicas + 1));
            for (int k = 0; k < np; k++) {
                char s[32];
                snprintf(s, sizeof s, "%d:%d", v[j].part, p->replicas[k]);
                lv[nl++] = xstrdup(s);
                brokers[nb++] = p->replicas[k];
            }
            for (int k = 0; k < v[j].nreplicas; k++) {
                bool existing = false;
                for (int q = 0; q < np; q++)
                    existing |= p->replicas[q] == v[j].replicas[k];
                if (existing)
                    continue;
                char s[32];
                snprintf(s, sizeof s, "%d:%d", v[j].part, v[j].replicas[k]);
                fv[nf++] = xstrdup(s);
                brokers[nb++] = v[j].replicas[k];
            }
        }
        buf lead, fol;
        buf_init(&lead, 64);
        buf_init(&fol, 64);
        join_sorted(lv, nl, &lead);
        join_sorted(fv, nf, &fol);
        free(lv);
        free(fv);
        kc_alter_op ops[2] = {
            {"leader.replication.throttled.replicas", (char *)lead.data, 0},
            {"follower.replication.throttled.replicas", (char *)fol.data, 0},
        };
        int16_t e;
        char *m = NULL;
        kc_incremental_alter(&c->kc, KC_RES_TOPIC, v[i].topic, ops, 2, &e, &m);
        free(m);
        buf_free(&lead);
        buf_free(&fol);
    }
    if (nb)
        qsort(brokers, (size_t)nb, sizeof *brokers, cmp_i32);
    for (int i = 0; i < nb; i++) {
        if (i && brokers[i] == brokers[i - 1])
            continue;
        kc_alter_op ops[2] = {{"leader.replication.throttled.rate", rate, 0},
                              {"follower.replication.throttled.rate", rate, 0}};
        alter_broker(c, brokers[i], ops, 2);
    }
    free(brokers);
    printf("The inter-broker throttle limit was set to %s B/s\n", rate);
}

/* ---- replica moves between log dirs ------------------------------------ */

typedef struct ra_move {
    const char *topic;
    int32_t part, broker;
    const char *dir;
    bool started;
} ra_move;

static int cmp_move(const void *a, const void *b) {
    const ra_move *x = a, *y = b;
    if (x->broker != y->broker)
        return (x->broker > y->broker) - (x->broker < y->broker);
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->part > y->part) - (x->part < y->part);
}

/* The replicas of v with a log dir, sorted as Kafka sorts them (broker,
 * topic, partition). */
static ra_move *plan_moves(const kc_reassign *v, int n, int *nm) {
    ra_move *m = NULL;
    *nm = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; v[i].log_dirs && k < v[i].nreplicas; k++)
            if (v[i].log_dirs[k]) {
                m = xrealloc(m, (size_t)(*nm + 1) * sizeof(*m));
                m[(*nm)++] = (ra_move){v[i].topic, v[i].part, v[i].replicas[k],
                                       v[i].log_dirs[k], false};
            }
    if (*nm > 1)
        qsort(m, (size_t)*nm, sizeof(*m), cmp_move);
    return m;
}

/* Kafka's executeMoves: AlterReplicaLogDirs until every move has started
 * (REPLICA_NOT_AVAILABLE: the replica is not on the broker yet, retried
 * every 100 ms until --timeout). */
static int execute_moves(ra_ctx *c, ra_move *m, int nm) {
    int64_t timeout = 10000;
    if (tool_get(c->a, "timeout"))
        tool_parse_i64(tool_get(c->a, "timeout"), &timeout);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int pending = 0;
        for (int i = 0; i < nm; i++) {
            if (m[i].started)
                continue;
            kc_conn tmp, *use;
            bool opened;
            int16_t e = 0;
            use = broker_conn(c, m[i].broker, &tmp, &opened);
            bool ok = use && kc_alter_replica_log_dir(use, m[i].dir, m[i].topic,
                                                      m[i].part, &e);
            if (opened)
                kc_close(&tmp);
            if (ok && e == 0) {
                m[i].started = true;
                printf("Successfully started moving log directory to %s for "
                       "replica %s-%d with broker %d \n",
                       m[i].dir, m[i].topic, m[i].part, m[i].broker);
                continue;
            }
            if (ok && e != 9) { /* REPLICA_NOT_AVAILABLE is retried */
                printf("Error: Failed to alter dir for %s-%d-%d\n", m[i].topic,
                       m[i].part, m[i].broker);
                fprintf(stderr,
                        "org.apache.kafka.server.common."
                        "AdminCommandFailedException: Failed to alter dir for "
                        "%s-%d-%d\nCaused by: %s\n",
                        m[i].topic, m[i].part, m[i].broker,
                        tool_error_message(e));
                return 1;
            }
            pending++;
        }
        if (!pending)
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        int64_t ms = (t1.tv_sec - t0.tv_sec) * 1000 +
                     (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms >= timeout) {
            buf b;
            buf_init(&b, 128);
            for (int i = 0; i < nm; i++)
                if (!m[i].started)
                    buf_printf(&b, "%s%s-%d-%d", b.len ? "," : "", m[i].topic,
                               m[i].part, m[i].broker);
            buf_put_u8(&b, 0);
            printf("Error: Timed out before log directory move%s could be "
                   "started for: %s\n",
                   pending == 1 ? "" : "s", (char *)b.data);
            buf_free(&b);
            return 1;
        }
        usleep(100000);
    }
}

/* Kafka's findLogDirMoveStates + replicaMoveStatesToString: one line per
 * replica with a target dir. Returns true while any move is not done. */
static bool print_move_states(ra_ctx *c, ra_move *m, int nm) {
    load_dirs(c);
    bool ongoing = false;
    for (int i = 0; i < nm; i++) {
        const char *cur = NULL, *fut = NULL;
        bool seen = false;
        for (int k = 0; k < c->ndirs; k++) {
            if (c->dir_broker[k] != m[i].broker ||
                c->dirs[k].part != m[i].part ||
                strcmp(c->dirs[k].topic, m[i].topic))
                continue;
            seen = true;
            if (c->dirs[k].is_future)
                fut = c->dirs[k].dir;
            else if (c->dirs[k].size >= 0)
                cur = c->dirs[k].dir;
        }
        bool broker_known = false;
        for (int k = 0; k < c->ndirs; k++)
            broker_known |= c->dir_broker[k] == m[i].broker;
        if (!seen && !broker_known) {
            printf("Partition %s-%d cannot be found in any live log directory "
                   "on broker %d.\n",
                   m[i].topic, m[i].part, m[i].broker);
            ongoing = true;
        } else if (!cur) {
            printf("Partition %s-%d is not found in any live log dir on "
                   "broker %d. There is likely an offline log directory on "
                   "the broker.\n",
                   m[i].topic, m[i].part, m[i].broker);
            ongoing = true;
        } else if (fut) {
            ongoing = true;
            if (!strcmp(fut, m[i].dir))
                printf("Reassignment of replica %s-%d-%d is still in "
                       "progress.\n",
                       m[i].topic, m[i].part, m[i].broker);
            else
                printf("Partition %s-%d on broker %d is being moved to log "
                       "dir %s instead of %s.\n",
                       m[i].topic, m[i].part, m[i].broker, fut, m[i].dir);
        } else if (!strcmp(cur, m[i].dir)) {
            printf("Reassignment of replica %s-%d-%d completed "
                   "successfully.\n",
                   m[i].topic, m[i].part, m[i].broker);
        } else {
            ongoing = true;
            printf("Partition %s-%d on broker %d is not being moved from log "
                   "dir %s to %s.\n",
                   m[i].topic, m[i].part, m[i].broker, cur, m[i].dir);
        }
    }
    return ongoing;
}

/* ---- execute / verify / cancel / list -------------------------------- */

static int do_execute(ra_ctx *c) {
    kc_reassign *v;
    int n = parse_plan(tool_get(c->a, "reassignment-json-file"), &v);
    if (n < 0)
        return 1;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < v[i].nreplicas; k++) {
            bool known = false;
            for (int b = 0; b < c->md.nbrokers; b++)
                known |= c->md.brokers[b].id == v[i].replicas[k];
            if (!known) {
                char m[32];
                snprintf(m, sizeof(m), "%d", v[i].replicas[k]);
                kc_reassign_free(v, n);
                fail("Unknown broker id %s", m);
                printf("org.apache.kafka.tools.AdminCommandFailedException: "
                       "Unknown broker id %s\n\n",
                       m);
                return 1;
            }
        }
    kc_reassign *ongoing;
    int nongoing;
    int16_t top;
    if (!tool_has(c->a, "additional") &&
        kc_list_reassignments(&c->kc, NULL, -1, &ongoing, &nongoing, &top)) {
        kc_reassign_free(ongoing, nongoing);
        if (nongoing > 0) {
            kc_reassign_free(v, n);
            return fail("%s",
                        "Cannot execute because there is an existing partition "
                        "assignment.  Use --additional to override this and "
                        "create a new partition assignment in addition to the "
                        "existing one. The --additional flag can also be used "
                        "to change the throttle by resubmitting the current "
                        "reassignment.");
        }
    }
    /* current assignment, for rollback */
    kc_reassign *cur = xcalloc((size_t)n + 1, sizeof(kc_reassign));
    for (int i = 0; i < n; i++) {
        const kc_partition *p =
            find_part(find_topic(&c->md, v[i].topic), v[i].part);
        if (!p) {
            char m[300];
            snprintf(m, sizeof(m), "Topic %s not found", v[i].topic);
            kc_reassign_free(cur, i);
            kc_reassign_free(v, n);
            fprintf(stderr,
                    "org.apache.kafka.common.errors."
                    "UnknownTopicOrPartitionException: %s\n",
                    m);
            return fail("%s", m);
        }
        cur[i].topic = xstrdup(v[i].topic);
        cur[i].part = v[i].part;
        cur[i].replicas = xcalloc((size_t)p->nreplicas + 1, sizeof(int32_t));
        memcpy(cur[i].replicas, p->replicas,
               (size_t)p->nreplicas * sizeof(int32_t));
        cur[i].nreplicas = p->nreplicas;
    }
    /* Kafka's getReplicaToLogDir: the current replicas' brokers only (a
     * target broker may be down) */
    load_dirs_of(c, cur, n);
    char *cj = assignment_json(c, cur, n, true);
    printf(
        "Current partition replica assignment\n\n%s\n\nSave this to use as the "
        "--reassignment-json-file option during rollback\n",
        cj);
    free(cj);
    kc_reassign_free(cur, n);
    const char *throttle = tool_get(c->a, "throttle");
    const char *dthrottle = tool_get(c->a, "replica-alter-log-dirs-throttle");
    bool inter = throttle && throttle[0] != '-';
    bool dirs = dthrottle && dthrottle[0] != '-';
    if (inter || dirs)
        printf("Warning: You must run --verify periodically, until the "
               "reassignment completes, to ensure the throttle is removed.\n");
    if (inter)
        set_throttles(c, v, n, throttle);
    if (dirs) {
        /* Kafka's modifyLogDirThrottle: on every broker with a move. */
        int nm;
        ra_move *m = plan_moves(v, n, &nm);
        kc_alter_op op = {"replica.alter.log.dirs.io.max.bytes.per.second",
                          dthrottle, 0};
        for (int i = 0; i < nm; i++) {
            if (i && m[i].broker == m[i - 1].broker)
                continue;
            char id[16];
            snprintf(id, sizeof(id), "%d", m[i].broker);
            int16_t e;
            char *msg = NULL;
            kc_incremental_alter(&c->kc, KC_RES_BROKER, id, &op, 1, &e, &msg);
            free(msg);
        }
        free(m);
        printf("The replica-alter-dir throttle limit was set to %s B/s\n",
               dthrottle);
    }
    char *tmsg = NULL;
    int rc = 0;
    if (!kc_alter_reassignments(&c->kc, v, n, &top, &tmsg)) {
        rc = fail("%s", "AlterPartitionReassignments request failed");
    } else if (top) {
        rc = fail("%s", tmsg ? tmsg : tool_error_message(top));
    } else {
        qsort(v, (size_t)n, sizeof(kc_reassign), cmp_reassign);
        buf ok, bad;
        buf_init(&ok, 128);
        buf_init(&bad, 128);
        for (int i = 0; i < n; i++) {
            if (v[i].error)
                buf_printf(&bad, "%s-%d: %s\n", v[i].topic, v[i].part,
                           v[i].error_message ? v[i].error_message
                                              : tool_error_message(v[i].error));
            else
                buf_printf(&ok, "%s%s-%d", ok.len ? "," : "", v[i].topic,
                           v[i].part);
        }
        buf_put_u8(&ok, 0);
        buf_put_u8(&bad, 0);
        if (ok.len > 1)
            printf("Successfully started partition reassignment%s for %s\n",
                   strchr((char *)ok.data, ',') ? "s" : "", (char *)ok.data);
        if (bad.len > 1) {
            printf("Error reassigning partition(s):\n%s", (char *)bad.data);
            rc = 1;
        }
        buf_free(&ok);
        buf_free(&bad);
    }
    if (!rc) {
        int nm;
        ra_move *m = plan_moves(v, n, &nm);
        if (nm)
            rc = execute_moves(c, m, nm);
        free(m);
    }
    free(tmsg);
    kc_reassign_free(v, n);
    return rc;
}

static int do_verify(ra_ctx *c) {
    kc_reassign *v;
    int n = parse_plan(tool_get(c->a, "reassignment-json-file"), &v);
    if (n < 0)
        return 1;
    kc_reassign *ongoing;
    int nongoing;
    int16_t top;
    if (!kc_list_reassignments(&c->kc, v, n, &ongoing, &nongoing, &top)) {
        kc_reassign_free(v, n);
        return fail("%s", "ListPartitionReassignments request failed");
    }
    qsort(v, (size_t)n, sizeof(kc_reassign), cmp_reassign);
    printf("Status of partition reassignment:\n");
    bool all_done = true;
    for (int i = 0; i < n; i++) {
        bool active = false;
        for (int k = 0; k < nongoing; k++)
            active |= ongoing[k].part == v[i].part &&
                      !strcmp(ongoing[k].topic, v[i].topic);
        if (active) {
            all_done = false;
            printf("Reassignment of partition %s-%d is still in progress.\n",
                   v[i].topic, v[i].part);
            continue;
        }
        const kc_partition *p =
            find_part(find_topic(&c->md, v[i].topic), v[i].part);
        bool same = p && p->nreplicas == v[i].nreplicas &&
                    !memcmp(p->replicas, v[i].replicas,
                            (size_t)v[i].nreplicas * sizeof(int32_t));
        if (same) {
            printf("Reassignment of partition %s-%d is completed.\n",
                   v[i].topic, v[i].part);
        } else {
            printf("There is no active reassignment of partition %s-%d, but "
                   "replica set is [",
                   v[i].topic, v[i].part);
            for (int k = 0; p && k < p->nreplicas; k++)
                printf("%s%d", k ? ", " : "", p->replicas[k]);
            printf("] rather than [");
            for (int k = 0; k < v[i].nreplicas; k++)
                printf("%s%d", k ? ", " : "", v[i].replicas[k]);
            printf("].\n");
        }
    }
    kc_reassign_free(ongoing, nongoing);
    /* Kafka prints the replica move states (an empty line when the plan
     * names no log dirs) and clears the throttles once all is done. */
    int nm;
    ra_move *m = plan_moves(v, n, &nm);
    bool moving = nm && print_move_states(c, m, nm);
    free(m);
    if (!nm)
        printf("\n");
    if (all_done && !moving && !tool_has(c->a, "preserve-throttles"))
        clear_throttles(c, v, n, false);
    kc_reassign_free(v, n);
    return 0;
}

static int do_cancel(ra_ctx *c) {
    kc_reassign *v;
    int n = parse_plan(tool_get(c->a, "reassignment-json-file"), &v);
    if (n < 0)
        return 1;
    /* The plan's log dir moves (their strings stay in `dirs` below). */
    int nm;
    ra_move *m = plan_moves(v, n, &nm);
    char **mdirs = xcalloc((size_t)nm + 1, sizeof(char *));
    char **mtopics = xcalloc((size_t)nm + 1, sizeof(char *));
    for (int i = 0; i < nm; i++) {
        mdirs[i] = xstrdup(m[i].dir);
        mtopics[i] = xstrdup(m[i].topic);
        m[i].dir = mdirs[i];
        m[i].topic = mtopics[i];
    }
    for (int i = 0; i < n; i++) {
        for (int k = 0; v[i].log_dirs && k < v[i].nreplicas; k++)
            free(v[i].log_dirs[k]);
        free(v[i].log_dirs);
        v[i].log_dirs = NULL;
        free(v[i].replicas);
        v[i].replicas = NULL;
        v[i].nreplicas = 0;
    }
    int16_t top;
    char *tmsg = NULL;
    int rc = 0;
    if (!kc_alter_reassignments(&c->kc, v, n, &top, &tmsg) || top) {
        rc = fail("%s",
                  tmsg ? tmsg : "AlterPartitionReassignments request failed");
    } else {
        qsort(v, (size_t)n, sizeof(kc_reassign), cmp_reassign);
        buf ok;
        buf_init(&ok, 128);
        for (int i = 0; i < n; i++)
            if (!v[i].error)
                buf_printf(&ok, "%s%s-%d", ok.len ? "," : "", v[i].topic,
                           v[i].part);
            else if (v[i].error != 85) /* NO_REASSIGNMENT_IN_PROGRESS */
                printf(
                    "Error cancelling partition reassignment for %s-%d: %s\n",
                    v[i].topic, v[i].part, tool_error_message(v[i].error));
        buf_put_u8(&ok, 0);
        if (ok.len > 1)
            printf("Successfully cancelled partition reassignments for: %s\n",
                   (char *)ok.data);
        else
            printf(
                "None of the specified partition reassignments are active.\n");
        /* Kafka's cancelAssignment: a replica whose move is active is
         * moved back to (kept in) its current dir; with none, this line,
         * without a newline, before the throttle lines. Log dirs only
         * when the plan moves some (a target broker may be down). */
        if (nm)
            load_dirs(c);
        int nactive = 0;
        for (int i = 0; i < nm; i++) {
            const char *cur = NULL, *fut = NULL;
            for (int k = 0; k < c->ndirs; k++)
                if (c->dir_broker[k] == m[i].broker &&
                    c->dirs[k].part == m[i].part &&
                    !strcmp(c->dirs[k].topic, m[i].topic)) {
                    if (c->dirs[k].is_future)
                        fut = c->dirs[k].dir;
                    else if (c->dirs[k].size >= 0)
                        cur = c->dirs[k].dir;
                }
            if (cur && fut) {
                m[i].dir = cur;
                m[nactive++] = m[i];
            }
        }
        if (!nactive)
            printf("None of the specified partition moves are active.");
        else if (execute_moves(c, m, nactive))
            rc = 1;
        buf_free(&ok);
        /* Kafka prints the throttle lines without a blank line here. */
        if (!tool_has(c->a, "preserve-throttles"))
            clear_throttles(c, v, n, false);
    }
    free(tmsg);
    kc_reassign_free(v, n);
    for (int i = 0; i < nm; i++) {
        free(mdirs[i]);
        free(mtopics[i]);
    }
    free(mdirs);
    free(mtopics);
    free(m);
    return rc;
}

static int do_list(ra_ctx *c) {
    kc_reassign *ongoing;
    int n;
    int16_t top;
    if (!kc_list_reassignments(&c->kc, NULL, -1, &ongoing, &n, &top))
        return fail("%s", "ListPartitionReassignments request failed");
    if (n == 0) {
        printf("No partition reassignments found.\n");
    } else {
        qsort(ongoing, (size_t)n, sizeof(kc_reassign), cmp_reassign);
        printf("Current partition reassignments:\n");
        for (int i = 0; i < n; i++) {
            printf("%s-%d: replicas: ", ongoing[i].topic, ongoing[i].part);
            for (int k = 0; k < ongoing[i].nreplicas; k++)
                printf("%s%d", k ? "," : "", ongoing[i].replicas[k]);
            printf(".");
            /* Kafka's curReassignmentsToString: empty sets left out */
            if (ongoing[i].nadding)
                printf(" adding: ");
            for (int k = 0; k < ongoing[i].nadding; k++)
                printf("%s%d%s", k ? "," : "", ongoing[i].adding[k],
                       k == ongoing[i].nadding - 1 ? "." : "");
            if (ongoing[i].nremoving)
                printf(" removing: ");
            for (int k = 0; k < ongoing[i].nremoving; k++)
                printf("%s%d%s", k ? "," : "", ongoing[i].removing[k],
                       k == ongoing[i].nremoving - 1 ? "." : "");
            printf("\n");
        }
    }
    kc_reassign_free(ongoing, n);
    return 0;
}

int tool_reassign_main(int argc, char **argv) {
    tool_args a;
    int rc = tool_parse(&a, "kafka-reassign-partitions.sh",
                        "This tool helps to move topic partitions between "
                        "replicas.",
                        ra_opts, SL_ARRAY_LEN(ra_opts), argc, argv);
    if (rc >= 0)
        return rc;
    ra_ctx c = {.a = &a};
    tool_props props = {0};
    bool open = false;
    if (tool_has(&a, "version")) {
        printf("4.3.1 (sluice)\n");
        rc = 0;
        goto out;
    }
    int actions = tool_has(&a, "generate") + tool_has(&a, "execute") +
                  tool_has(&a, "verify") + tool_has(&a, "cancel") +
                  tool_has(&a, "list");
    if (actions != 1) {
        rc = tool_usage_error(&a, "Command must include exactly one action: "
                                  "--generate, --execute, --verify, --cancel, "
                                  "--list");
        goto out;
    }
    if (!tool_has(&a, "bootstrap-server")) {
        rc = tool_usage_error(&a, "Please specify --bootstrap-server");
        goto out;
    }
    if (tool_has(&a, "generate") &&
        (!tool_has(&a, "topics-to-move-json-file") ||
         !tool_has(&a, "broker-list"))) {
        rc = tool_usage_error(&a, "Missing required argument \"[%s]\"",
                              !tool_has(&a, "topics-to-move-json-file")
                                  ? "topics-to-move-json-file"
                                  : "broker-list");
        goto out;
    }
    if ((tool_has(&a, "execute") || tool_has(&a, "verify") ||
         tool_has(&a, "cancel")) &&
        !tool_has(&a, "reassignment-json-file")) {
        rc = tool_usage_error(&a, "Missing required argument "
                                  "\"[reassignment-json-file]\"");
        goto out;
    }
    if (tool_has(&a, "command-config") &&
        !tool_props_load(&props, tool_get(&a, "command-config"))) {
        rc = 1;
        goto out;
    }
    c.timeout_ms = tool_timeout_ms(&props, 60000);
    char err[256];
    if (!kc_connect(&c.kc, tool_get(&a, "bootstrap-server"), c.timeout_ms, err,
                    sizeof(err))) {
        rc = fail("Timed out waiting for a node assignment. (%s)", err);
        goto out;
    }
    open = true;
    if (!kc_metadata_get(&c.kc, NULL, -1, false, &c.md)) {
        rc = fail("%s", "metadata request failed");
        goto out;
    }
    if (tool_has(&a, "generate"))
        rc = do_generate(&c);
    else if (tool_has(&a, "execute"))
        rc = do_execute(&c);
    else if (tool_has(&a, "verify"))
        rc = do_verify(&c);
    else if (tool_has(&a, "cancel"))
        rc = do_cancel(&c);
    else
        rc = do_list(&c);
out:
    kc_metadata_free(&c.md);
    kc_logdir_free(c.dirs, c.ndirs);
    free(c.dir_broker);
    if (open)
        kc_close(&c.kc);
    tool_props_free(&props);
    tool_args_free(&a);
    return rc;
}
