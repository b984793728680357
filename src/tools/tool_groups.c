/*
 * tool_groups.c - `sluice consumer-groups` / kafka-consumer-groups.sh:
 * list, describe (offsets, members, state, verbose), reset-offsets (every
 * Kafka scenario, dry-run/execute/export), delete and delete-offsets, with
 * Kafka 4.x's tables and messages (ConsumerGroupCommand,
 * GroupOffsetsResetter). Built on librdkafka's group admin API; log offsets
 * through watermark / offsets_for_times queries.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/util.h"
#include "proto/gen/messages.h"
#include "tools/kclient.h"
#include "tools/tool_rdkafka.h"

static const tool_optdef grp_opts[] = {
    {"all-groups", TOOL_FLAG, "Apply to all consumer groups."},
    {"all-topics", TOOL_FLAG,
     "Consider all topics assigned to a group in the `reset-offsets` "
     "process."},
    {"bootstrap-server", TOOL_ARG,
     "The server(s) to connect to. REQUIRED for all options except for "
     "--validate-regex."},
    {"by-duration", TOOL_ARG,
     "Reset offsets to offset by duration from current timestamp. Format: "
     "'PnDTnHnMnS'"},
    {"command-config", TOOL_ARG,
     "Property file containing configs to be passed to Admin Client and "
     "Consumer."},
    {"delete", TOOL_FLAG,
     "Pass in groups to delete topic partition offsets and ownership "
     "information over the entire consumer group. For instance --group g1 "
     "--group g2"},
    {"delete-offsets", TOOL_FLAG,
     "Delete offsets of consumer group. Supports one consumer group at the "
     "time, and multiple topics."},
    {"describe", TOOL_FLAG,
     "Describe consumer group and list offset lag (number of messages not "
     "yet processed) related to given group."},
    {"dry-run", TOOL_FLAG,
     "Only show results without executing changes on Consumer Groups. "
     "Supported operations: reset-offsets."},
    {"execute", TOOL_FLAG,
     "Execute operation. Supported operations: reset-offsets."},
    {"export", TOOL_FLAG,
     "Export operation execution to a CSV file. Supported operations: "
     "reset-offsets."},
    {"from-file", TOOL_ARG, "Reset offsets to values defined in CSV file."},
    {"group", TOOL_ARG, "The consumer group we wish to act on."},
    {"list", TOOL_FLAG, "List all consumer groups."},
    {"members", TOOL_FLAG, "Describe members of the group."},
    {"offsets", TOOL_FLAG,
     "Describe the group and list all topic partitions in the group along "
     "with their offset lag. This is the default sub-action."},
    {"reset-offsets", TOOL_FLAG,
     "Reset offsets of consumer group. Supports one consumer group at the "
     "time, and instances should be inactive. Has 2 execution options: "
     "--dry-run (the default) and --execute; --export writes CSV."},
    {"shift-by", TOOL_ARG,
     "Reset offsets shifting current offset by 'n', where 'n' can be "
     "positive or negative."},
    {"state", TOOL_OPTARG,
     "When specified with '--describe', includes the state of the group. "
     "With '--list', displays the state of all groups, optionally filtered "
     "(e.g. stable,empty)."},
    {"timeout", TOOL_ARG,
     "The timeout that can be set for some use cases. (default: 30000)"},
    {"to-current", TOOL_FLAG, "Reset offsets to current offset."},
    {"to-datetime", TOOL_ARG,
     "Reset offsets to offset from datetime. Format: "
     "'YYYY-MM-DDThh:mm:ss.sss'"},
    {"to-earliest", TOOL_FLAG, "Reset offsets to earliest offset."},
    {"to-latest", TOOL_FLAG, "Reset offsets to latest offset."},
    {"to-offset", TOOL_ARG, "Reset offsets to a specific offset."},
    {"topic", TOOL_ARG,
     "The topic whose consumer group information should be deleted or topic "
     "whose should be included in the reset offset process (topic1:0,1,2 "
     "selects partitions)."},
    {"type", TOOL_OPTARG,
     "When specified with '--list', it displays the types of all the "
     "groups."},
    {"validate-regex", TOOL_ARG,
     "Validate that the syntax of the provided regular expression is "
     "valid."},
    {"verbose", TOOL_FLAG,
     "Provide additional information, if any, when describing the group."},
    {"version", TOOL_FLAG, "Display Kafka version."},
};

typedef struct tp_off {
    char *topic;
    int32_t part;
    int64_t off; /* -1: none */
} tp_off;

typedef struct tp_list {
    tp_off *v;
    int n, cap;
} tp_list;

static void tpl_add(tp_list *l, const char *topic, int32_t part, int64_t off) {
    for (int i = 0; i < l->n; i++)
        if (l->v[i].part == part && !strcmp(l->v[i].topic, topic)) {
            l->v[i].off = off;
            return;
        }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xrealloc(l->v, (size_t)l->cap * sizeof(tp_off));
    }
    l->v[l->n++] = (tp_off){xstrdup(topic), part, off};
}

static tp_off *tpl_find(const tp_list *l, const char *topic, int32_t part) {
    for (int i = 0; i < l->n; i++)
        if (l->v[i].part == part && !strcmp(l->v[i].topic, topic))
            return &l->v[i];
    return NULL;
}

static void tpl_free(tp_list *l) {
    for (int i = 0; i < l->n; i++)
        free(l->v[i].topic);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static int cmp_tp(const void *a, const void *b) {
    const tp_off *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->part > y->part) - (x->part < y->part);
}

static void tpl_sort(tp_list *l) {
    if (l->n)
        qsort(l->v, (size_t)l->n, sizeof(tp_off), cmp_tp);
}

typedef struct grp_ctx {
    tool_args *a;
    tool_admin ad;
} grp_ctx;

static void print_error(const char *fmt, const char *a1, const char *a2) {
    printf("\nError: ");
    printf(fmt, a1, a2);
    printf("\n");
}

static void cmd_failed(int code, const char *detail) {
    printf("\nError: Executing consumer group command failed due to %s: %s\n",
           tool_java_exception(code),
           detail && *detail ? detail : tool_error_message(code));
}

/* ---- admin calls ----------------------------------------------------- */

/* Group ids from ListConsumerGroups (in the broker's order), optionally with
 * states. Returns -1 on failure (already reported). */
static int list_groups(grp_ctx *g, char ***ids, char ***states) {
    rd_kafka_AdminOptions_t *o =
        tool_admin_options(&g->ad, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
    rd_kafka_ListConsumerGroups(g->ad.rk, o, g->ad.q);
    char err[256];
    rd_kafka_event_t *ev = tool_admin_wait(
        &g->ad, RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT, err, sizeof(err));
    rd_kafka_AdminOptions_destroy(o);
    if (!ev) {
        printf("\nError: Executing consumer group command failed due to "
               "org.apache.kafka.common.errors.TimeoutException: %s Call: "
               "listGroups\n",
               err);
        return -1;
    }
    if (rd_kafka_event_error(ev)) {
        cmd_failed(rd_kafka_event_error(ev), rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return -1;
    }
    const rd_kafka_ListConsumerGroups_result_t *r =
        rd_kafka_event_ListConsumerGroups_result(ev);
    size_t n;
    const rd_kafka_ConsumerGroupListing_t **gl =
        rd_kafka_ListConsumerGroups_result_valid(r, &n);
    *ids = xcalloc(n + 1, sizeof(char *));
    if (states)
        *states = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        (*ids)[i] = xstrdup(rd_kafka_ConsumerGroupListing_group_id(gl[i]));
        if (states)
            (*states)[i] = xstrdup(rd_kafka_consumer_group_state_name(
                rd_kafka_ConsumerGroupListing_state(gl[i])));
    }
    rd_kafka_event_destroy(ev);
    return (int)n;
}

static void free_strs(char **v, int n) {
    if (!v)
        return;
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Committed offsets of a group (all partitions). false on failure. */
static bool committed_offsets(grp_ctx *g, const char *group, tp_list *out) {
    rd_kafka_ListConsumerGroupOffsets_t *req =
        rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
    rd_kafka_AdminOptions_t *o =
        tool_admin_options(&g->ad, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_ListConsumerGroupOffsets(g->ad.rk, &req, 1, o, g->ad.q);
    char err[256];
    rd_kafka_event_t *ev =
        tool_admin_wait(&g->ad, RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT,
                        err, sizeof(err));
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    if (!ev) {
        cmd_failed(7, err);
        return false;
    }
    bool ok = true;
    if (rd_kafka_event_error(ev)) {
        cmd_failed(rd_kafka_event_error(ev), rd_kafka_event_error_string(ev));
        ok = false;
    } else {
        size_t n;
        const rd_kafka_group_result_t **gr =
            rd_kafka_ListConsumerGroupOffsets_result_groups(
                rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
        for (size_t i = 0; i < n; i++) {
            const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[i]);
            if (e) {
                cmd_failed(rd_kafka_error_code(e), rd_kafka_error_string(e));
                ok = false;
                break;
            }
            const rd_kafka_topic_partition_list_t *p =
                rd_kafka_group_result_partitions(gr[i]);
            for (int j = 0; p && j < p->cnt; j++)
                if (!p->elems[j].err && p->elems[j].offset >= 0)
                    tpl_add(out, p->elems[j].topic, p->elems[j].partition,
                            p->elems[j].offset);
        }
    }
    rd_kafka_event_destroy(ev);
    return ok;
}

/* Log offsets: spec -1 latest, -2 earliest, else a timestamp (result -1
 * when no record is that late). false when the query failed. */
static bool log_offset(grp_ctx *g, const char *topic, int32_t part,
                       int64_t spec, int64_t *out) {
    if (spec == -1 || spec == -2) {
        int64_t lo, hi;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
            g->ad.rk, topic, part, &lo, &hi, g->ad.timeout_ms);
        if (e)
            return false;
        *out = spec == -1 ? hi : lo;
        return true;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, part)->offset = spec;
    rd_kafka_resp_err_t e =
        rd_kafka_offsets_for_times(g->ad.rk, l, g->ad.timeout_ms);
    bool ok = !e && !l->elems[0].err;
    if (ok)
        *out = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    return ok;
}

/* Partition count of a topic from metadata; -1 when unknown. */
static int topic_partitions(grp_ctx *g, const char *topic) {
    rd_kafka_topic_t *t = rd_kafka_topic_new(g->ad.rk, topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    int n = -1;
    if (rd_kafka_metadata(g->ad.rk, 0, t, &md, g->ad.timeout_ms) == 0) {
        if (md->topic_cnt == 1 && !md->topics[0].err)
            n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    return n;
}

typedef struct grp_desc {
    rd_kafka_event_t *ev;
    const rd_kafka_ConsumerGroupDescription_t **d;
    size_t n;
} grp_desc;

static bool describe_groups(grp_ctx *g, const char **ids, int n,
                            grp_desc *out) {
    memset(out, 0, sizeof(*out));
    rd_kafka_AdminOptions_t *o =
        tool_admin_options(&g->ad, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    rd_kafka_DescribeConsumerGroups(g->ad.rk, ids, (size_t)n, o, g->ad.q);
    char err[256];
    rd_kafka_event_t *ev = tool_admin_wait(
        &g->ad, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT, err, sizeof(err));
    rd_kafka_AdminOptions_destroy(o);
    if (!ev) {
        printf("\nError: Executing consumer group command failed due to "
               "org.apache.kafka.common.errors.TimeoutException: %s Call: "
               "describeConsumerGroups\n",
               err);
        return false;
    }
    if (rd_kafka_event_error(ev)) {
        cmd_failed(rd_kafka_event_error(ev), rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return false;
    }
    out->ev = ev;
    out->d = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &out->n);
    return true;
}

static const rd_kafka_ConsumerGroupDescription_t *find_desc(const grp_desc *gd,
                                                            const char *id) {
    for (size_t i = 0; i < gd->n; i++)
        if (!strcmp(rd_kafka_ConsumerGroupDescription_group_id(gd->d[i]), id))
            return gd->d[i];
    return NULL;
}

/* The group's error as Kafka's admin client reports it; a Dead group from a
 * classic-protocol broker is GroupIdNotFound too. Returns true if printed. */
static bool desc_failed(const rd_kafka_ConsumerGroupDescription_t *d,
                        const char *id) {
    const rd_kafka_error_t *e =
        d ? rd_kafka_ConsumerGroupDescription_error(d) : NULL;
    if (e) {
        int code = rd_kafka_error_code(e);
        char msg[256];
        if (code == 69)
            snprintf(msg, sizeof(msg), "Group %s not found.", id);
        else
            snprintf(msg, sizeof(msg), "%s", rd_kafka_error_string(e));
        cmd_failed(code, msg);
        return true;
    }
    if (!d || rd_kafka_ConsumerGroupDescription_state(d) ==
                  RD_KAFKA_CONSUMER_GROUP_STATE_DEAD) {
        char msg[256];
        snprintf(msg, sizeof(msg), "Group %s not found.", id);
        cmd_failed(69, msg);
        return true;
    }
    return false;
}

/* ---- KIP-848 consumer groups (ListGroups v5, ConsumerGroupDescribe)
 * The packaged librdkafka (2.0) knows neither group types nor
 * ConsumerGroupDescribe, so these go over kclient, as Kafka's admin client
 * does: ListGroups to every broker, ConsumerGroupDescribe to the
 * coordinator (a classic group answers GROUP_ID_NOT_FOUND there and is then
 * described the classic way). ------------------------------------------ */

typedef struct listed {
    char *id, *state, *type;
} listed;

static bool kc_open(grp_ctx *g, kc_conn *c) {
    char err[256];
    if (!kc_connect(c, tool_get(g->a, "bootstrap-server"), g->ad.timeout_ms,
                    err, sizeof(err))) {
        printf("\nError: Executing consumer group command failed due to "
               "org.apache.kafka.common.errors.TimeoutException: %s\n",
               err);
        return false;
    }
    return true;
}

/* Every group of every broker with its state and type; -1 on failure. */
static int list_groups_typed(grp_ctx *g, listed **out) {
    kc_conn c;
    *out = NULL;
    if (!kc_open(g, &c))
        return -1;
    kc_metadata md;
    memset(&md, 0, sizeof(md));
    bool have_md = kc_metadata_get(&c, NULL, 0, false, &md);
    int n = 0, cap = 0;
    int nb = have_md && md.nbrokers > 0 ? md.nbrokers : 1;
    for (int b = 0; b < nb; b++) {
        kc_conn bc, *cc = &c;
        if (have_md && md.nbrokers > 0 &&
            (strcmp(md.brokers[b].host, c.host) ||
             md.brokers[b].port != c.port)) {
            char err[256];
            if (!kc_connect_node(&bc, md.brokers[b].host, md.brokers[b].port,
                                 g->ad.timeout_ms, err, sizeof(err)))
                continue;
            cc = &bc;
        }
        int16_t ver = cc->api_max[16] < 5 ? cc->api_max[16] : 5;
        proto_list_groups_request rq;
        proto_list_groups_request_init(&rq);
        buf body, resp;
        buf_init(&body, 32);
        buf_init(&resp, 256);
        proto_list_groups_request_encode(&body, ver, &rq);
        if (ver >= 0 && kc_call(cc, 16, ver, ver >= 3, &body, &resp)) {
            arena a;
            arena_init(&a, 4096);
            rd r;
            rd_init(&r, resp.data, resp.len);
            proto_list_groups_response rs;
            if (proto_list_groups_response_decode(&r, &a, ver, &rs) ==
                    PROTO_OK &&
                !rs.error_code)
                for (int32_t i = 0; i < rs.groups.n; i++) {
                    if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        *out = xrealloc(*out, (size_t)cap * sizeof(**out));
                    }
                    proto_list_groups_response_listed_group *lg =
                        &rs.groups.v[i];
                    listed *l = &(*out)[n++];
                    l->id = xstrndup(
                        lg->group_id.p ? lg->group_id.p : "",
                        lg->group_id.len > 0 ? (size_t)lg->group_id.len : 0);
                    l->state = xstrndup(
                        lg->group_state.p ? lg->group_state.p : "",
                        lg->group_state.len > 0 ? (size_t)lg->group_state.len
                                                : 0);
                    const char *t =
                        lg->group_type.len > 0 ? lg->group_type.p : "classic";
                    size_t tl = lg->group_type.len > 0
                                    ? (size_t)lg->group_type.len
                                    : strlen("classic");
                    l->type = xstrndup(t, tl);
                    if (l->type[0])
                        l->type[0] = (char)toupper((unsigned char)l->type[0]);
                }
            arena_free(&a);
        }
        buf_free(&body);
        buf_free(&resp);
        if (cc != &c)
            kc_close(cc);
    }
    if (have_md)
        kc_metadata_free(&md);
    kc_close(&c);
    return n;
}

/* ---- list ------------------------------------------------------------ */

static int do_list(grp_ctx *g) {
    char **ids = NULL, **states = NULL;
    int n = list_groups(g, &ids, &states);
    if (n < 0)
        return 1;
    bool with_state = tool_has(g->a, "state"),
         with_type = tool_has(g->a, "type");
    if (!with_state && !with_type) {
        for (int i = 0; i < n; i++)
            printf("%s\n", ids[i]);
    } else {
        const char *filter = with_state ? tool_get(g->a, "state") : "";
        const char *tfilter = with_type ? tool_get(g->a, "type") : "";
        /* states and types as ListGroups v5 reports them */
        listed *ls = NULL;
        int nl = list_groups_typed(g, &ls);
        char **types = NULL;
        if (nl >= 0) {
            free_strs(ids, n);
            free_strs(states, n);
            n = nl;
            ids = xcalloc((size_t)n + 1, sizeof(char *));
            states = xcalloc((size_t)n + 1, sizeof(char *));
            types = xcalloc((size_t)n + 1, sizeof(char *));
            for (int i = 0; i < n; i++) {
                ids[i] = ls[i].id;
                states[i] = ls[i].state;
                types[i] = ls[i].type;
            }
            free(ls);
        }
        int w = 15;
        bool *keep = xcalloc((size_t)n + 1, sizeof(bool));
        for (int i = 0; i < n; i++) {
            keep[i] = true;
            if (*tfilter) {
                char *f = xstrdup(tfilter), *save = NULL;
                keep[i] = false;
                for (char *s = strtok_r(f, ",", &save); s;
                     s = strtok_r(NULL, ",", &save)) {
                    while (*s == ' ')
                        s++;
                    if (!strcasecmp(s, types ? types[i] : "classic"))
                        keep[i] = true;
                }
                free(f);
                if (!keep[i])
                    continue;
            }
            if (*filter) {
                char *f = xstrdup(filter), *save = NULL;
                keep[i] = false;
                for (char *s = strtok_r(f, ",", &save); s;
                     s = strtok_r(NULL, ",", &save)) {
                    while (*s == ' ')
                        s++;
                    if (!strcasecmp(s, states[i]))
                        keep[i] = true;
                }
                free(f);
            }
            if (keep[i] && (int)strlen(ids[i]) > w)
                w = (int)strlen(ids[i]);
        }
        w += 10;
        printf("%-*s", w, "GROUP");
        if (with_type)
            printf(" %-20s", "TYPE");
        if (with_state)
            printf(" %-20s", "STATE");
        printf("\n");
        for (int i = 0; i < n; i++) {
            if (!keep[i])
                continue;
            printf("%-*s", w, ids[i]);
            if (with_type)
                printf(" %-20s", types ? types[i] : "Classic");
            if (with_state)
                printf(" %-20s", states[i]);
            printf("\n");
        }
        free(keep);
        free_strs(types, types ? n : 0);
    }
    free_strs(ids, n < 0 ? 0 : n);
    free_strs(states, n < 0 ? 0 : n);
    return 0;
}

/* ---- describe -------------------------------------------------------- */

/* Prints Kafka's state notice; returns whether the table should follow. */
static bool should_print(const char *group, rd_kafka_consumer_group_state_t st,
                         int rows) {
    switch (st) {
    case RD_KAFKA_CONSUMER_GROUP_STATE_DEAD:
        print_error("Consumer group '%s' does not exist.%s", group, "");
        return false;
    case RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY:
        fflush(stdout);
        fprintf(stderr, "\nConsumer group '%s' has no active members.\n",
                group);
        break;
    case RD_KAFKA_CONSUMER_GROUP_STATE_PREPARING_REBALANCE:
    case RD_KAFKA_CONSUMER_GROUP_STATE_COMPLETING_REBALANCE:
        fflush(stdout);
        fprintf(stderr, "\nWarning: Consumer group '%s' is rebalancing.\n",
                group);
        break;
    default:
        break;
    }
    return rows > 0;
}

typedef struct offset_row {
    const char *group;
    char *topic; /* NULL: "-" */
    int32_t part;
    int64_t cur, end; /* -1: "-" */
    const char *cid, *host, *client;
} offset_row;

static void print_offset_table(offset_row *rows, int n, bool verbose) {
    int gw = 15, tw = 15, cw = 15, hw = 15;
    for (int i = 0; i < n; i++) {
        gw = SL_MAX(gw, (int)strlen(rows[i].group));
        tw = SL_MAX(tw, rows[i].topic ? (int)strlen(rows[i].topic) : 1);
        cw = SL_MAX(cw, (int)strlen(rows[i].cid));
        hw = SL_MAX(hw, (int)strlen(rows[i].host));
    }
    if (verbose)
        printf("\n%-*s %-*s %-10s %-15s %-15s %-15s %-15s %-*s %-*s %s", gw,
               "GROUP", tw, "TOPIC", "PARTITION", "LEADER-EPOCH",
               "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", cw, "CONSUMER-ID", hw,
               "HOST", "CLIENT-ID");
    else
        printf("\n%-*s %-*s %-10s %-15s %-15s %-15s %-*s %-*s %s", gw, "GROUP",
               tw, "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET",
               "LAG", cw, "CONSUMER-ID", hw, "HOST", "CLIENT-ID");
    for (int i = 0; i < n; i++) {
        offset_row *r = &rows[i];
        char part[16] = "-", cur[24] = "-", end[24] = "-", lag[24] = "-";
        if (r->topic)
            snprintf(part, sizeof(part), "%d", r->part);
        if (r->cur >= 0)
            snprintf(cur, sizeof(cur), "%lld", (long long)r->cur);
        if (r->end >= 0)
            snprintf(end, sizeof(end), "%lld", (long long)r->end);
        if (r->cur >= 0 && r->end >= 0)
            snprintf(lag, sizeof(lag), "%lld", (long long)(r->end - r->cur));
        printf("\n%-*s %-*s %-10s ", gw, r->group, tw,
               r->topic ? r->topic : "-", part);
        if (verbose)
            printf("%-15s ", "-");
        printf("%-15s %-15s %-15s %-*s %-*s %s", cur, end, lag, cw, r->cid, hw,
               r->host, r->client);
    }
    printf("\n");
}

static void add_rows_for(grp_ctx *g, offset_row **rows, int *n, int *cap,
                         const char *group, tp_list *parts,
                         const tp_list *committed, const char *cid,
                         const char *host, const char *client) {
    tpl_sort(parts);
    for (int i = 0; i < parts->n; i++) {
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *rows = xrealloc(*rows, (size_t)*cap * sizeof(offset_row));
        }
        int64_t end = -1;
        if (!log_offset(g, parts->v[i].topic, parts->v[i].part, -1, &end))
            end = -1;
        const tp_off *c =
            tpl_find(committed, parts->v[i].topic, parts->v[i].part);
        (*rows)[(*n)++] = (offset_row){group,
                                       xstrdup(parts->v[i].topic),
                                       parts->v[i].part,
                                       c ? c->off : -1,
                                       end,
                                       cid,
                                       host,
                                       client};
    }
}

static int cmp_member_size(const void *a, const void *b) {
    const rd_kafka_MemberDescription_t *x =
        *(const rd_kafka_MemberDescription_t *const *)a;
    const rd_kafka_MemberDescription_t *y =
        *(const rd_kafka_MemberDescription_t *const *)b;
    int nx = rd_kafka_MemberAssignment_partitions(
                 rd_kafka_MemberDescription_assignment(x))
                 ->cnt;
    int ny = rd_kafka_MemberAssignment_partitions(
                 rd_kafka_MemberDescription_assignment(y))
                 ->cnt;
    return (ny > nx) - (ny < nx);
}

static void describe_offsets(grp_ctx *g, const char *id,
                             const rd_kafka_ConsumerGroupDescription_t *d) {
    tp_list committed = {0};
    if (!committed_offsets(g, id, &committed))
        return;
    size_t nm = rd_kafka_ConsumerGroupDescription_member_count(d);
    const rd_kafka_MemberDescription_t **ms = xcalloc(nm + 1, sizeof(*ms));
    size_t k = 0;
    for (size_t i = 0; i < nm; i++) {
        const rd_kafka_MemberDescription_t *m =
            rd_kafka_ConsumerGroupDescription_member(d, i);
        if (rd_kafka_MemberAssignment_partitions(
                rd_kafka_MemberDescription_assignment(m))
                ->cnt > 0)
            ms[k++] = m;
    }
    qsort(ms, k, sizeof(*ms), cmp_member_size);
    offset_row *rows = NULL;
    int n = 0, cap = 0;
    tp_list assigned = {0};
    for (size_t i = 0; i < k; i++) {
        const rd_kafka_topic_partition_list_t *p =
            rd_kafka_MemberAssignment_partitions(
                rd_kafka_MemberDescription_assignment(ms[i]));
        tp_list parts = {0};
        for (int j = 0; j < p->cnt; j++) {
            tpl_add(&parts, p->elems[j].topic, p->elems[j].partition, -1);
            tpl_add(&assigned, p->elems[j].topic, p->elems[j].partition, -1);
        }
        add_rows_for(g, &rows, &n, &cap, id, &parts, &committed,
                     rd_kafka_MemberDescription_consumer_id(ms[i]),
                     rd_kafka_MemberDescription_host(ms[i]),
                     rd_kafka_MemberDescription_client_id(ms[i]));
        tpl_free(&parts);
    }
    tp_list unassigned = {0};
    for (int i = 0; i < committed.n; i++)
        if (!tpl_find(&assigned, committed.v[i].topic, committed.v[i].part))
            tpl_add(&unassigned, committed.v[i].topic, committed.v[i].part,
                    committed.v[i].off);
    add_rows_for(g, &rows, &n, &cap, id, &unassigned, &committed, "-", "-",
                 "-");
    if (should_print(id, rd_kafka_ConsumerGroupDescription_state(d), n))
        print_offset_table(rows, n, tool_has(g->a, "verbose"));
    for (int i = 0; i < n; i++)
        free(rows[i].topic);
    free(rows);
    free(ms);
    tpl_free(&assigned);
    tpl_free(&unassigned);
    tpl_free(&committed);
}

/* "t1:0,1;t2:3" as Kafka's getAssignmentString. */
static char *assignment_string(const rd_kafka_topic_partition_list_t *p) {
    tp_list l = {0};
    for (int j = 0; j < p->cnt; j++)
        tpl_add(&l, p->elems[j].topic, p->elems[j].partition, -1);
    tpl_sort(&l);
    buf b;
    buf_init(&b, 64);
    for (int i = 0; i < l.n; i++) {
        bool new_topic = i == 0 || strcmp(l.v[i].topic, l.v[i - 1].topic);
        if (new_topic)
            buf_printf(&b, "%s%s:%d", i ? ";" : "", l.v[i].topic, l.v[i].part);
        else
            buf_printf(&b, ",%d", l.v[i].part);
    }
    if (l.n == 0)
        buf_printf(&b, "-");
    buf_put_u8(&b, 0);
    tpl_free(&l);
    return (char *)b.data;
}

static void describe_members(grp_ctx *g, const char *id,
                             const rd_kafka_ConsumerGroupDescription_t *d) {
    bool verbose = tool_has(g->a, "verbose");
    size_t nm = rd_kafka_ConsumerGroupDescription_member_count(d);
    int gw = 15, cw = 15, iw = 17, hw = 15, lw = 15, aw = 20, tw = 20;
    bool with_inst = false;
    char **assign = xcalloc(nm + 1, sizeof(char *));
    for (size_t i = 0; i < nm; i++) {
        const rd_kafka_MemberDescription_t *m =
            rd_kafka_ConsumerGroupDescription_member(d, i);
        const char *inst = rd_kafka_MemberDescription_group_instance_id(m);
        gw = SL_MAX(gw, (int)strlen(id));
        cw = SL_MAX(cw, (int)strlen(rd_kafka_MemberDescription_consumer_id(m)));
        if (inst && *inst) {
            with_inst = true;
            iw = SL_MAX(iw, (int)strlen(inst));
        }
        hw = SL_MAX(hw, (int)strlen(rd_kafka_MemberDescription_host(m)));
        lw = SL_MAX(lw, (int)strlen(rd_kafka_MemberDescription_client_id(m)));
        assign[i] = assignment_string(rd_kafka_MemberAssignment_partitions(
            rd_kafka_MemberDescription_assignment(m)));
        aw = SL_MAX(aw, (int)strlen(assign[i]));
    }
    (void)should_print(id, rd_kafka_ConsumerGroupDescription_state(d), (int)nm);
    if (with_inst)
        printf("\n%-*s %-*s %-*s %-*s %-*s %-15s ", gw, "GROUP", cw,
               "CONSUMER-ID", iw, "GROUP-INSTANCE-ID", hw, "HOST", lw,
               "CLIENT-ID", "#PARTITIONS");
    else
        printf("\n%-*s %-*s %-*s %-*s %-15s ", gw, "GROUP", cw, "CONSUMER-ID",
               hw, "HOST", lw, "CLIENT-ID", "#PARTITIONS");
    if (verbose)
        printf("%-15s %-*s %-15s %-*s", "CURRENT-EPOCH", aw,
               "CURRENT-ASSIGNMENT", "TARGET-EPOCH", tw, "TARGET-ASSIGNMENT");
    printf("\n");
    for (size_t i = 0; i < nm; i++) {
        const rd_kafka_MemberDescription_t *m =
            rd_kafka_ConsumerGroupDescription_member(d, i);
        const char *inst = rd_kafka_MemberDescription_group_instance_id(m);
        int np = rd_kafka_MemberAssignment_partitions(
                     rd_kafka_MemberDescription_assignment(m))
                     ->cnt;
        if (with_inst)
            printf("%-*s %-*s %-*s %-*s %-*s %-15d ", gw, id, cw,
                   rd_kafka_MemberDescription_consumer_id(m), iw,
                   inst ? inst : "", hw, rd_kafka_MemberDescription_host(m), lw,
                   rd_kafka_MemberDescription_client_id(m), np);
        else
            printf("%-*s %-*s %-*s %-*s %-15d ", gw, id, cw,
                   rd_kafka_MemberDescription_consumer_id(m), hw,
                   rd_kafka_MemberDescription_host(m), lw,
                   rd_kafka_MemberDescription_client_id(m), np);
        if (verbose)
            printf("%-15s %-*s %-15s %-*s", "-", aw, assign[i], "-", tw, "-");
        printf("\n");
        free(assign[i]);
    }
    free(assign);
}

static void describe_state(grp_ctx *g, const char *id,
                           const rd_kafka_ConsumerGroupDescription_t *d) {
    rd_kafka_consumer_group_state_t st =
        rd_kafka_ConsumerGroupDescription_state(d);
    if (!should_print(id, st, 1))
        return;
    const rd_kafka_Node_t *c = rd_kafka_ConsumerGroupDescription_coordinator(d);
    char coord[300];
    snprintf(coord, sizeof(coord), "%s:%d  (%d)",
             c ? rd_kafka_Node_host(c) : "",
             c ? (int)rd_kafka_Node_port(c) : -1, c ? rd_kafka_Node_id(c) : -1);
    int cw = SL_MAX(25, (int)strlen(coord));
    int gw = SL_MAX(15, (int)strlen(id));
    const char *as = rd_kafka_ConsumerGroupDescription_partition_assignor(d);
    if (!as || !*as)
        as = "-";
    const char *sn = rd_kafka_consumer_group_state_name(st);
    int nm = (int)rd_kafka_ConsumerGroupDescription_member_count(d);
    if (tool_has(g->a, "verbose")) {
        printf("\n%-*s %-*s %-20s %-20s %-15s %-25s %s", gw, "GROUP", cw,
               "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE",
               "GROUP-EPOCH", "TARGET-ASSIGNMENT-EPOCH", "#MEMBERS");
        printf("\n%-*s %-*s %-20s %-20s %-15s %-25s %d", gw, id, cw, coord, as,
               sn, "-", "-", nm);
    } else {
        printf("\n%-*s %-*s %-20s %-20s %s", gw, "GROUP", cw,
               "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS");
        printf("\n%-*s %-*s %-20s %-20s %d", gw, id, cw, coord, as, sn, nm);
    }
    printf("\n");
}

typedef struct cg_member_d {
    char *id, *instance, *host, *client;
    int32_t epoch;
    tp_list assigned, target;
} cg_member_d;

typedef struct cg_desc {
    char *state, *assignor;
    int32_t epoch, target_epoch;
    cg_member_d *m;
    int n;
    char coord[300];
} cg_desc;

static void cg_desc_free(cg_desc *d) {
    for (int i = 0; i < d->n; i++) {
        free(d->m[i].id);
        free(d->m[i].instance);
        free(d->m[i].host);
        free(d->m[i].client);
        tpl_free(&d->m[i].assigned);
        tpl_free(&d->m[i].target);
    }
    free(d->m);
    free(d->state);
    free(d->assignor);
    memset(d, 0, sizeof(*d));
}

static char *pdup(proto_str s) {
    return s.len >= 0 ? xstrndup(s.p ? s.p : "", (size_t)s.len) : NULL;
}

static void cg_tpl(const proto_consumer_group_describe_response_assignment *as,
                   tp_list *out) {
    for (int32_t t = 0; t < as->topic_partitions.n; t++) {
        char *name = pdup(as->topic_partitions.v[t].topic_name);
        for (int32_t k = 0; k < as->topic_partitions.v[t].partitions.n; k++)
            tpl_add(out, name ? name : "",
                    as->topic_partitions.v[t].partitions.v[k], -1);
        free(name);
    }
    tpl_sort(out);
}

/* ConsumerGroupDescribe of one group: 1 described, 0 not a consumer group
 * (or the broker lacks the API), -1 failed (reported). */
static int cg_describe(grp_ctx *g, const char *id, cg_desc *out) {
    memset(out, 0, sizeof(*out));
    kc_conn c;
    if (!kc_open(g, &c))
        return -1;
    int ret = 0;
    /* the coordinator: FindCoordinator v1 */
    buf body, resp;
    buf_init(&body, 64);
    buf_init(&resp, 256);
    proto_find_coordinator_request fq;
    proto_find_coordinator_request_init(&fq);
    fq.key = proto_str_c(id);
    proto_find_coordinator_request_encode(&body, 1, &fq);
    kc_conn cc;
    kc_conn *use = &c;
    if (kc_call(&c, 10, 1, false, &body, &resp)) {
        arena a;
        arena_init(&a, 1024);
        rd r;
        rd_init(&r, resp.data, resp.len);
        proto_find_coordinator_response fr;
        if (proto_find_coordinator_response_decode(&r, &a, 1, &fr) ==
                PROTO_OK &&
            !fr.error_code) {
            char host[256];
            snprintf(host, sizeof(host), "%.*s", (int)fr.host.len,
                     fr.host.p ? fr.host.p : "");
            snprintf(out->coord, sizeof(out->coord), "%s:%d  (%d)", host,
                     (int)fr.port, (int)fr.node_id);
            char err[256];
            if ((strcmp(host, c.host) || fr.port != c.port) &&
                kc_connect_node(&cc, host, fr.port, g->ad.timeout_ms, err,
                                sizeof(err)))
                use = &cc;
        }
        arena_free(&a);
    }
    if (use->api_max[69] < 0) {
        ret = 0;
        goto out;
    }
    proto_consumer_group_describe_request rq;
    proto_consumer_group_describe_request_init(&rq);
    proto_str gid = proto_str_c(id);
    rq.group_ids.n = 1;
    rq.group_ids.v = &gid;
    buf_reset(&body);
    buf_reset(&resp);
    proto_consumer_group_describe_request_encode(&body, 0, &rq);
    if (!kc_call(use, 69, 0, true, &body, &resp)) {
        ret = 0;
        goto out;
    }
    arena a;
    arena_init(&a, 4096);
    rd r;
    rd_init(&r, resp.data, resp.len);
    proto_consumer_group_describe_response rs;
    if (proto_consumer_group_describe_response_decode(&r, &a, 0, &rs) ==
            PROTO_OK &&
        rs.groups.n == 1 && !rs.groups.v[0].error_code) {
        proto_consumer_group_describe_response_described_group *dg =
            &rs.groups.v[0];
        out->state = pdup(dg->group_state);
        out->assignor = pdup(dg->assignor_name);
        out->epoch = dg->group_epoch;
        out->target_epoch = dg->assignment_epoch;
        out->n = dg->members.n;
        out->m = xcalloc((size_t)(out->n ? out->n : 1), sizeof(*out->m));
        for (int i = 0; i < out->n; i++) {
            proto_consumer_group_describe_response_member *dm =
                &dg->members.v[i];
            out->m[i].id = pdup(dm->member_id);
            out->m[i].instance = pdup(dm->instance_id);
            out->m[i].host = pdup(dm->client_host);
            out->m[i].client = pdup(dm->client_id);
            out->m[i].epoch = dm->member_epoch;
            cg_tpl(&dm->assignment, &out->m[i].assigned);
            cg_tpl(&dm->target_assignment, &out->m[i].target);
        }
        ret = 1;
    }
    arena_free(&a);
out:
    buf_free(&body);
    buf_free(&resp);
    if (use != &c)
        kc_close(use);
    kc_close(&c);
    return ret;
}

/* Kafka's notices for the state; false when the table must not follow. */
static bool cg_should_print(const char *group, const char *state, int rows) {
    if (!strcmp(state, "Dead")) {
        print_error("Consumer group '%s' does not exist.%s", group, "");
        return false;
    }
    if (!strcmp(state, "Empty")) {
        fflush(stdout);
        fprintf(stderr, "\nConsumer group '%s' has no active members.\n",
                group);
    } else if (!strcmp(state, "Assigning") || !strcmp(state, "Reconciling")) {
        fflush(stdout);
        fprintf(stderr, "\nWarning: Consumer group '%s' is rebalancing.\n",
                group);
    }
    return rows > 0;
}

static char *tpl_string(const tp_list *l) {
    buf b;
    buf_init(&b, 64);
    for (int i = 0; i < l->n; i++) {
        bool new_topic = i == 0 || strcmp(l->v[i].topic, l->v[i - 1].topic);
        if (new_topic)
            buf_printf(&b, "%s%s:%d", i ? ";" : "", l->v[i].topic,
                       l->v[i].part);
        else
            buf_printf(&b, ",%d", l->v[i].part);
    }
    if (l->n == 0)
        buf_printf(&b, "-");
    buf_put_u8(&b, 0);
    return (char *)b.data;
}

static void cg_describe_members(grp_ctx *g, const char *id, cg_desc *d) {
    bool verbose = tool_has(g->a, "verbose");
    int gw = SL_MAX(15, (int)strlen(id)), cw = 15, iw = 17, hw = 15, lw = 15,
        aw = 20, tw = 20;
    bool with_inst = false;
    char **cur = xcalloc((size_t)d->n + 1, sizeof(char *));
    char **tgt = xcalloc((size_t)d->n + 1, sizeof(char *));
    for (int i = 0; i < d->n; i++) {
        cw = SL_MAX(cw, (int)strlen(d->m[i].id));
        if (d->m[i].instance && *d->m[i].instance) {
            with_inst = true;
            iw = SL_MAX(iw, (int)strlen(d->m[i].instance));
        }
        hw = SL_MAX(hw, (int)strlen(d->m[i].host));
        lw = SL_MAX(lw, (int)strlen(d->m[i].client));
        cur[i] = tpl_string(&d->m[i].assigned);
        tgt[i] = tpl_string(&d->m[i].target);
        aw = SL_MAX(aw, (int)strlen(cur[i]));
        tw = SL_MAX(tw, (int)strlen(tgt[i]));
    }
    if (cg_should_print(id, d->state, d->n)) {
        if (with_inst)
            printf("\n%-*s %-*s %-*s %-*s %-*s %-15s ", gw, "GROUP", cw,
                   "CONSUMER-ID", iw, "GROUP-INSTANCE-ID", hw, "HOST", lw,
                   "CLIENT-ID", "#PARTITIONS");
        else
            printf("\n%-*s %-*s %-*s %-*s %-15s ", gw, "GROUP", cw,
                   "CONSUMER-ID", hw, "HOST", lw, "CLIENT-ID", "#PARTITIONS");
        if (verbose)
            printf("%-15s %-*s %-15s %-*s", "CURRENT-EPOCH", aw,
                   "CURRENT-ASSIGNMENT", "TARGET-EPOCH", tw,
                   "TARGET-ASSIGNMENT");
        printf("\n");
        for (int i = 0; i < d->n; i++) {
            cg_member_d *m = &d->m[i];
            if (with_inst)
                printf("%-*s %-*s %-*s %-*s %-*s %-15d ", gw, id, cw, m->id, iw,
                       m->instance ? m->instance : "", hw, m->host, lw,
                       m->client, m->assigned.n);
            else
                printf("%-*s %-*s %-*s %-*s %-15d ", gw, id, cw, m->id, hw,
                       m->host, lw, m->client, m->assigned.n);
            if (verbose)
                printf("%-15d %-*s %-15d %-*s", m->epoch, aw, cur[i],
                       d->target_epoch, tw, tgt[i]);
            printf("\n");
        }
    }
    for (int i = 0; i < d->n; i++) {
        free(cur[i]);
        free(tgt[i]);
    }
    free(cur);
    free(tgt);
}

static void cg_describe_state(grp_ctx *g, const char *id, cg_desc *d) {
    if (!cg_should_print(id, d->state, 1))
        return;
    int cw = SL_MAX(25, (int)strlen(d->coord));
    int gw = SL_MAX(15, (int)strlen(id));
    const char *as = d->assignor && *d->assignor ? d->assignor : "-";
    if (tool_has(g->a, "verbose")) {
        printf("\n%-*s %-*s %-20s %-20s %-15s %-25s %s", gw, "GROUP", cw,
               "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE",
               "GROUP-EPOCH", "TARGET-ASSIGNMENT-EPOCH", "#MEMBERS");
        printf("\n%-*s %-*s %-20s %-20s %-15d %-25d %d", gw, id, cw, d->coord,
               as, d->state, d->epoch, d->target_epoch, d->n);
    } else {
        printf("\n%-*s %-*s %-20s %-20s %s", gw, "GROUP", cw,
               "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS");
        printf("\n%-*s %-*s %-20s %-20s %d", gw, id, cw, d->coord, as, d->state,
               d->n);
    }
    printf("\n");
}

static int cg_member_size(const void *a, const void *b) {
    const cg_member_d *x = a, *y = b;
    return (y->assigned.n > x->assigned.n) - (y->assigned.n < x->assigned.n);
}

static void cg_describe_offsets(grp_ctx *g, const char *id, cg_desc *d) {
    tp_list committed = {0};
    if (!committed_offsets(g, id, &committed))
        return;
    qsort(d->m, (size_t)d->n, sizeof(*d->m), cg_member_size);
    offset_row *rows = NULL;
    int n = 0, cap = 0;
    tp_list assigned = {0};
    for (int i = 0; i < d->n; i++) {
        if (!d->m[i].assigned.n)
            continue;
        tp_list parts = {0};
        for (int j = 0; j < d->m[i].assigned.n; j++) {
            tpl_add(&parts, d->m[i].assigned.v[j].topic,
                    d->m[i].assigned.v[j].part, -1);
            tpl_add(&assigned, d->m[i].assigned.v[j].topic,
                    d->m[i].assigned.v[j].part, -1);
        }
        add_rows_for(g, &rows, &n, &cap, id, &parts, &committed, d->m[i].id,
                     d->m[i].host, d->m[i].client);
        tpl_free(&parts);
    }
    tp_list unassigned = {0};
    for (int i = 0; i < committed.n; i++)
        if (!tpl_find(&assigned, committed.v[i].topic, committed.v[i].part))
            tpl_add(&unassigned, committed.v[i].topic, committed.v[i].part,
                    committed.v[i].off);
    add_rows_for(g, &rows, &n, &cap, id, &unassigned, &committed, "-", "-",
                 "-");
    if (cg_should_print(id, d->state, n))
        print_offset_table(rows, n, tool_has(g->a, "verbose"));
    for (int i = 0; i < n; i++)
        free(rows[i].topic);
    free(rows);
    tpl_free(&assigned);
    tpl_free(&unassigned);
    tpl_free(&committed);
}

static int collect_groups(grp_ctx *g, char ***ids) {
    if (tool_has(g->a, "all-groups"))
        return list_groups(g, ids, NULL);
    const char **v;
    int n = tool_getall(g->a, "group", &v);
    *ids = xcalloc((size_t)n + 1, sizeof(char *));
    for (int i = 0; i < n; i++)
        (*ids)[i] = xstrdup(v[i]);
    return n;
}

static int do_describe(grp_ctx *g) {
    char **ids;
    int n = collect_groups(g, &ids);
    if (n < 0)
        return 1;
    qsort(ids, (size_t)n, sizeof(char *), tool_strcmp_p); /* TreeMap order */
    grp_desc gd;
    if (n == 0 || !describe_groups(g, (const char **)ids, n, &gd)) {
        free_strs(ids, n);
        return 0;
    }
    bool members = tool_has(g->a, "members"), state = tool_has(g->a, "state"),
         offsets = tool_has(g->a, "offsets");
    /* consumer (KIP-848) groups through ConsumerGroupDescribe */
    cg_desc *cds = xcalloc((size_t)n + 1, sizeof(*cds));
    int *is_cg = xcalloc((size_t)n + 1, sizeof(int));
    for (int i = 0; i < n; i++)
        if ((is_cg[i] = cg_describe(g, ids[i], &cds[i])) < 0)
            goto done;
    /* Kafka collects every group first and fails on the first error. */
    for (int i = 0; i < n; i++)
        if (is_cg[i] != 1 && desc_failed(find_desc(&gd, ids[i]), ids[i]))
            goto done;
    for (int i = 0; i < n; i++) {
        if (is_cg[i] == 1) {
            if ((!members && !state) || offsets)
                cg_describe_offsets(g, ids[i], &cds[i]);
            else if (members)
                cg_describe_members(g, ids[i], &cds[i]);
            else
                cg_describe_state(g, ids[i], &cds[i]);
            continue;
        }
        const rd_kafka_ConsumerGroupDescription_t *d = find_desc(&gd, ids[i]);
        if ((!members && !state) || offsets)
            describe_offsets(g, ids[i], d);
        else if (members)
            describe_members(g, ids[i], d);
        else
            describe_state(g, ids[i], d);
    }
done:
    for (int i = 0; i < n; i++)
        cg_desc_free(&cds[i]);
    free(cds);
    free(is_cg);
    rd_kafka_event_destroy(gd.ev);
    free_strs(ids, n);
    return 0;
}

/* ---- delete ---------------------------------------------------------- */

static int do_delete(grp_ctx *g) {
    char **ids;
    int n = collect_groups(g, &ids);
    if (n < 0)
        return 1;
    if (n == 0) {
        printf("Deletion of requested consumer groups () was successful.\n");
        free(ids);
        return 0;
    }
    rd_kafka_DeleteGroup_t **dg = xcalloc((size_t)n, sizeof(*dg));
    for (int i = 0; i < n; i++)
        dg[i] = rd_kafka_DeleteGroup_new(ids[i]);
    rd_kafka_AdminOptions_t *o =
        tool_admin_options(&g->ad, RD_KAFKA_ADMIN_OP_DELETEGROUPS);
    rd_kafka_DeleteGroups(g->ad.rk, dg, (size_t)n, o, g->ad.q);
    char err[256];
    rd_kafka_event_t *ev = tool_admin_wait(
        &g->ad, RD_KAFKA_EVENT_DELETEGROUPS_RESULT, err, sizeof(err));
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_DeleteGroup_destroy_array(dg, (size_t)n);
    free(dg);
    if (!ev) {
        cmd_failed(7, err);
        free_strs(ids, n);
        return 0;
    }
    size_t nr = 0;
    const rd_kafka_group_result_t **gr =
        rd_kafka_event_error(ev)
            ? NULL
            : rd_kafka_DeleteGroups_result_groups(
                  rd_kafka_event_DeleteGroups_result(ev), &nr);
    buf ok, bad;
    buf_init(&ok, 128);
    buf_init(&bad, 128);
    for (size_t i = 0; i < nr; i++) {
        const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[i]);
        const char *name = rd_kafka_group_result_name(gr[i]);
        if (!e) {
            buf_printf(&ok, "%s'%s'", ok.len ? ", " : "", name);
        } else {
            int code = rd_kafka_error_code(e);
            buf_printf(
                &bad, "* Group '%s' could not be deleted due to: %s: %s\n",
                name, tool_java_exception(code), tool_error_message(code));
        }
    }
    buf_put_u8(&ok, 0);
    buf_put_u8(&bad, 0);
    if (rd_kafka_event_error(ev)) {
        cmd_failed(rd_kafka_event_error(ev), rd_kafka_event_error_string(ev));
    } else if (bad.len <= 1) {
        printf("Deletion of requested consumer groups (%s) was successful.\n",
               (char *)ok.data);
    } else {
        printf("\nError: Deletion of some consumer groups failed:\n%s",
               (char *)bad.data);
        if (ok.len > 1)
            printf("\nThese consumer groups were deleted successfully: %s\n",
                   (char *)ok.data);
    }
    buf_free(&ok);
    buf_free(&bad);
    rd_kafka_event_destroy(ev);
    free_strs(ids, n);
    return 0;
}

/* ---- delete-offsets ---------------------------------------------------- */

/* Adds "topic" (every partition) or "topic:0,1" to l. false if malformed
 * (message printed). */
static bool parse_topic_arg(grp_ctx *g, const char *arg, tp_list *l,
                            tp_list *unknown) {
    const char *colon = strchr(arg, ':');
    if (!colon) {
        int np = topic_partitions(g, arg);
        if (np < 0) {
            if (unknown)
                tpl_add(unknown, arg, -1, -1);
            return true;
        }
        for (int p = 0; p < np; p++)
            tpl_add(l, arg, p, -1);
        return true;
    }
    if (strchr(colon + 1, ':')) {
        printf("Invalid topic arg '%s', expected topic name and partitions\n",
               arg);
        return false;
    }
    char *topic = xstrndup(arg, (size_t)(colon - arg));
    char *ps = xstrdup(colon + 1), *save = NULL;
    bool ok = true;
    for (char *s = strtok_r(ps, ",", &save); s;
         s = strtok_r(NULL, ",", &save)) {
        int64_t p;
        if (!tool_parse_i64(s, &p)) {
            printf("Invalid partition '%s' specified in topic arg '%s''\n", s,
                   arg);
            ok = false;
            break;
        }
        tpl_add(l, topic, (int32_t)p, -1);
    }
    free(ps);
    free(topic);
    return ok;
}

static int do_delete_offsets(grp_ctx *g) {
    const char *group = tool_get(g->a, "group");
    const char **topics;
    int nt = tool_getall(g->a, "topic", &topics);
    tp_list parts = {0}, unknown = {0};
    for (int i = 0; i < nt; i++)
        if (!parse_topic_arg(g, topics[i], &parts, &unknown)) {
            tpl_free(&parts);
            tpl_free(&unknown);
            return 1;
        }
    rd_kafka_topic_partition_list_t *pl =
        rd_kafka_topic_partition_list_new(parts.n + 1);
    for (int i = 0; i < parts.n; i++)
        rd_kafka_topic_partition_list_add(pl, parts.v[i].topic,
                                          parts.v[i].part);
    rd_kafka_DeleteConsumerGroupOffsets_t *req =
        rd_kafka_DeleteConsumerGroupOffsets_new(group, pl);
    rd_kafka_AdminOptions_t *o = tool_admin_options(
        &g->ad, RD_KAFKA_ADMIN_OP_DELETECONSUMERGROUPOFFSETS);
    rd_kafka_DeleteConsumerGroupOffsets(g->ad.rk, &req, 1, o, g->ad.q);
    char err[256];
    rd_kafka_event_t *ev = tool_admin_wait(
        &g->ad, RD_KAFKA_EVENT_DELETECONSUMERGROUPOFFSETS_RESULT, err,
        sizeof(err));
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_DeleteConsumerGroupOffsets_destroy(req);
    rd_kafka_topic_partition_list_destroy(pl);
    if (!ev) {
        cmd_failed(7, err);
        tpl_free(&parts);
        tpl_free(&unknown);
        return 0;
    }
    int top = rd_kafka_event_error(ev);
    const rd_kafka_topic_partition_list_t *res = NULL;
    if (!top) {
        size_t n;
        const rd_kafka_group_result_t **gr =
            rd_kafka_DeleteConsumerGroupOffsets_result_groups(
                rd_kafka_event_DeleteConsumerGroupOffsets_result(ev), &n);
        if (n > 0) {
            const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[0]);
            if (e)
                top = rd_kafka_error_code(e);
            res = rd_kafka_group_result_partitions(gr[0]);
        }
    }
    /* Partition-level failures make the top level fail as in Kafka. */
    for (int i = 0; res && !top && i < res->cnt; i++)
        if (res->elems[i].err)
            top = res->elems[i].err;
    if (unknown.n && !top)
        top = 3;
    switch (top) {
    case 0:
        printf("Request succeeded for deleting offsets from group %s.\n",
               group);
        break;
    case 24: /* INVALID_GROUP_ID */
    case 69: /* GROUP_ID_NOT_FOUND */
    case 30: /* GROUP_AUTHORIZATION_FAILED */
    case 68: /* NON_EMPTY_GROUP */
        print_error("%s%s", tool_error_message(top), "");
        break;
    case 86: /* GROUP_SUBSCRIBED_TO_TOPIC */
    case 29:
    case 3:
        print_error("Encountered some partition-level error, see the "
                    "follow-up details.%s%s",
                    "", "");
        break;
    default:
        printf("\nError: Encountered some unknown error: %s\n",
               tool_java_exception(top));
    }
    /* Row per partition, sorted by topic+partition string as Kafka. */
    tp_list rows = {0};
    for (int i = 0; i < parts.n; i++) {
        int64_t e = 0;
        for (int j = 0; res && j < res->cnt; j++)
            if (res->elems[j].partition == parts.v[i].part &&
                !strcmp(res->elems[j].topic, parts.v[i].topic))
                e = res->elems[j].err;
        if (top && !res)
            e = top;
        tpl_add(&rows, parts.v[i].topic, parts.v[i].part, e);
    }
    for (int i = 0; i < unknown.n; i++)
        tpl_add(&rows, unknown.v[i].topic, -1, 3);
    tpl_sort(&rows);
    int tw = 15;
    for (int i = 0; i < rows.n; i++)
        tw = SL_MAX(tw, (int)strlen(rows.v[i].topic));
    printf("\n%-*s %-10s %-15s", tw, "TOPIC", "PARTITION", "STATUS");
    for (int i = 0; i < rows.n; i++) {
        char part[16] = "-";
        if (rows.v[i].part >= 0)
            snprintf(part, sizeof(part), "%d", rows.v[i].part);
        char status[300] = "Successful";
        if (rows.v[i].off)
            snprintf(status, sizeof(status), "Error: %s",
                     tool_error_message((int)rows.v[i].off));
        printf("\n%-*s %-10s %-15s", tw, rows.v[i].topic, part, status);
    }
    printf("\n");
    tpl_free(&rows);
    tpl_free(&parts);
    tpl_free(&unknown);
    rd_kafka_event_destroy(ev);
    return 0;
}

/* ---- reset-offsets ----------------------------------------------------- */

/* Kafka's Utils.getDateTime: yyyy-MM-ddTHH:mm:ss[.SSS][Z|+hh:mm|+hhmm]; no
 * zone means local time. */
static bool parse_datetime(const char *s, int64_t *ms) {
    struct tm tm = {0};
    int msec = 0;
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return false;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (isdigit((unsigned char)*p)) {
            if (digits < 3)
                msec = msec * 10 + (*p - '0');
            digits++;
            p++;
        }
        while (digits++ < 3)
            msec *= 10;
    }
    int64_t secs;
    if (!*p) {
        tm.tm_isdst = -1;
        secs = (int64_t)mktime(&tm);
    } else {
        secs = (int64_t)timegm(&tm);
        if (*p == 'Z' && !p[1]) {
            /* UTC */
        } else if (*p == '+' || *p == '-') {
            int hh = 0, mm = 0;
            if (sscanf(p + 1, "%2d:%2d", &hh, &mm) < 1 &&
                sscanf(p + 1, "%2d%2d", &hh, &mm) < 1)
                return false;
            int off = (hh * 60 + mm) * 60;
            secs -= *p == '+' ? off : -off;
        } else {
            return false;
        }
    }
    *ms = secs * 1000 + msec;
    return true;
}

/* ISO-8601 duration PnDTnHnMn.nS -> ms. */
static bool parse_duration(const char *s, int64_t *ms) {
    const char *p = s;
    int sign = 1;
    if (*p == '-' || *p == '+')
        sign = *p++ == '-' ? -1 : 1;
    if (toupper((unsigned char)*p) != 'P')
        return false;
    p++;
    bool in_time = false, any = false;
    double total = 0;
    while (*p) {
        if (toupper((unsigned char)*p) == 'T') {
            in_time = true;
            p++;
            continue;
        }
        char *end;
        double v = strtod(p, &end);
        if (end == p)
            return false;
        char u = (char)toupper((unsigned char)*end);
        if (!in_time && u == 'D')
            total += v * 86400e3;
        else if (in_time && u == 'H')
            total += v * 3600e3;
        else if (in_time && u == 'M')
            total += v * 60e3;
        else if (in_time && u == 'S')
            total += v * 1e3;
        else
            return false;
        any = true;
        p = end + 1;
    }
    if (!any)
        return false;
    *ms = sign * (int64_t)total;
    return true;
}

/* Clamps to [log start, log end] as Kafka's checkOffsetsRange. */
static int64_t clamp_offset(grp_ctx *g, const char *topic, int32_t part,
                            int64_t off) {
    int64_t lo, hi;
    if (log_offset(g, topic, part, -1, &hi) && off > hi)
        return hi;
    if (log_offset(g, topic, part, -2, &lo) && off < lo)
        return lo;
    return off;
}

/* Reads a reset plan CSV: "topic,partition,offset" (single group) or
 * "group,topic,partition,offset". */
static bool read_plan(const char *path, const char *group, tp_list *out,
                      bool single) {
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("\nError: Executing consumer group command failed due to "
               "java.nio.file.NoSuchFileException: %s\n",
               path);
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    bool ok = true;
    while (getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\r\n")] = 0;
        if (!*line)
            continue;
        char *f1 = line, *f2 = NULL, *f3 = NULL, *f4 = NULL;
        int nf = 1;
        for (char *c = line; *c; c++)
            if (*c == ',') {
                *c = 0;
                if (nf == 1)
                    f2 = c + 1;
                else if (nf == 2)
                    f3 = c + 1;
                else if (nf == 3)
                    f4 = c + 1;
                nf++;
            }
        int64_t part, off;
        if (nf == 3 && single) {
            if (!tool_parse_i64(f2, &part) || !tool_parse_i64(f3, &off)) {
                ok = false;
                break;
            }
            tpl_add(out, f1, (int32_t)part, off);
        } else if (nf == 4) {
            if (strcmp(f1, group) != 0)
                continue;
            if (!tool_parse_i64(f3, &part) || !tool_parse_i64(f4, &off)) {
                ok = false;
                break;
            }
            tpl_add(out, f2, (int32_t)part, off);
        } else {
            ok = false;
            break;
        }
    }
    free(line);
    fclose(f);
    if (!ok)
        printf("\nError: Executing consumer group command failed due to "
               "malformed reset plan in %s\n",
               path);
    return ok;
}

/* Computes the new offsets for one group. Returns false after printing an
 * error; exit_code set when Kafka would exit non-zero. */
static bool prepare_reset(grp_ctx *g, const char *group, bool single,
                          tp_list *plan, int *exit_code) {
    tp_list parts = {0}, committed = {0};
    bool ok = true;
    if (!committed_offsets(g, group, &committed))
        return false;
    if (tool_has(g->a, "all-topics")) {
        for (int i = 0; i < committed.n; i++)
            tpl_add(&parts, committed.v[i].topic, committed.v[i].part, -1);
    } else if (tool_has(g->a, "topic")) {
        const char **topics;
        int nt = tool_getall(g->a, "topic", &topics);
        tp_list unknown = {0};
        for (int i = 0; i < nt && ok; i++)
            ok = parse_topic_arg(g, topics[i], &parts, &unknown);
        if (ok && unknown.n) {
            printf("\nError: Executing consumer group command failed due to "
                   "org.apache.kafka.common.errors."
                   "UnknownTopicOrPartitionException: This server does not "
                   "host this topic-partition.\n");
            ok = false;
        }
        tpl_free(&unknown);
    } else if (!tool_has(g->a, "from-file")) {
        tool_usage_error(g->a, "One of the reset scopes should be defined: "
                               "--all-topics, --topic.");
        *exit_code = 1;
        ok = false;
    }
    /* Every partition must exist (checkAllTopicPartitionsValid). */
    for (int i = 0; ok && i < parts.n; i++) {
        int np = topic_partitions(g, parts.v[i].topic);
        if (np < 0 || parts.v[i].part >= np || parts.v[i].part < 0) {
            printf("\nError: Executing consumer group command failed due to "
                   "org.apache.kafka.common.errors."
                   "UnknownTopicOrPartitionException: This server does not "
                   "host this topic-partition.\n");
            ok = false;
        }
    }
    for (int i = 0; ok && i < parts.n; i++) {
        const char *t = parts.v[i].topic;
        int32_t p = parts.v[i].part;
        int64_t off = -1, v;
        if (tool_has(g->a, "to-offset")) {
            if (!tool_parse_i64(tool_get(g->a, "to-offset"), &v)) {
                ok = false;
                break;
            }
            off = clamp_offset(g, t, p, v);
        } else if (tool_has(g->a, "to-earliest") ||
                   tool_has(g->a, "to-latest")) {
            bool early = tool_has(g->a, "to-earliest");
            if (!log_offset(g, t, p, early ? -2 : -1, &off)) {
                printf("Error getting %s offset of topic partition: %s-%d\n",
                       early ? "starting" : "ending", t, p);
                ok = false;
            }
        } else if (tool_has(g->a, "shift-by")) {
            const tp_off *c = tpl_find(&committed, t, p);
            if (!tool_parse_i64(tool_get(g->a, "shift-by"), &v)) {
                ok = false;
                break;
            }
            if (!c) {
                tool_usage_error(g->a,
                                 "Cannot shift offset for partition %s-%d "
                                 "since there is no current committed "
                                 "offset",
                                 t, p);
                *exit_code = 1;
                ok = false;
                break;
            }
            off = clamp_offset(g, t, p, c->off + v);
        } else if (tool_has(g->a, "to-datetime") ||
                   tool_has(g->a, "by-duration")) {
            int64_t ts;
            if (tool_has(g->a, "to-datetime")) {
                if (!parse_datetime(tool_get(g->a, "to-datetime"), &ts)) {
                    printf("\nError: Executing consumer group command failed "
                           "due to java.text.ParseException: Unparseable "
                           "date: \"%s\"\n",
                           tool_get(g->a, "to-datetime"));
                    ok = false;
                    break;
                }
            } else {
                int64_t d;
                if (!parse_duration(tool_get(g->a, "by-duration"), &d)) {
                    printf("\nError: Executing consumer group command failed "
                           "due to java.time.format.DateTimeParseException: "
                           "Text cannot be parsed to a Duration\n");
                    ok = false;
                    break;
                }
                ts = tool_now_ms() - d;
            }
            if (!log_offset(g, t, p, ts, &off) || off < 0) {
                printf("\nWarn: Partition %d from topic %s is empty. Falling "
                       "back to latest known offset.\n",
                       p, t);
                log_offset(g, t, p, -1, &off);
            }
        } else if (tool_has(g->a, "to-current")) {
            const tp_off *c = tpl_find(&committed, t, p);
            if (c)
                off = c->off;
            else
                log_offset(g, t, p, -1, &off);
        } else if (!tool_has(g->a, "from-file")) {
            ok = false;
        }
        if (ok)
            tpl_add(plan, t, p, off);
    }
    if (ok && tool_has(g->a, "from-file") && !tool_has(g->a, "all-topics") &&
        !tool_has(g->a, "topic"))
        ok = read_plan(tool_get(g->a, "from-file"), group, plan, single);
    tpl_free(&parts);
    tpl_free(&committed);
    return ok;
}

static bool alter_offsets(grp_ctx *g, const char *group, const tp_list *plan) {
    rd_kafka_topic_partition_list_t *pl =
        rd_kafka_topic_partition_list_new(plan->n + 1);
    for (int i = 0; i < plan->n; i++)
        rd_kafka_topic_partition_list_add(pl, plan->v[i].topic, plan->v[i].part)
            ->offset = plan->v[i].off;
    rd_kafka_AlterConsumerGroupOffsets_t *req =
        rd_kafka_AlterConsumerGroupOffsets_new(group, pl);
    rd_kafka_AdminOptions_t *o =
        tool_admin_options(&g->ad, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
    rd_kafka_AlterConsumerGroupOffsets(g->ad.rk, &req, 1, o, g->ad.q);
    char err[256];
    rd_kafka_event_t *ev =
        tool_admin_wait(&g->ad, RD_KAFKA_EVENT_ALTERCONSUMERGROUPOFFSETS_RESULT,
                        err, sizeof(err));
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_AlterConsumerGroupOffsets_destroy(req);
    rd_kafka_topic_partition_list_destroy(pl);
    if (!ev) {
        cmd_failed(7, err);
        return false;
    }
    int code = rd_kafka_event_error(ev);
    if (!code) {
        size_t n;
        const rd_kafka_group_result_t **gr =
            rd_kafka_AlterConsumerGroupOffsets_result_groups(
                rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &n);
        for (size_t i = 0; i < n && !code; i++) {
            const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[i]);
            if (e)
                code = rd_kafka_error_code(e);
            const rd_kafka_topic_partition_list_t *p =
                rd_kafka_group_result_partitions(gr[i]);
            for (int j = 0; p && j < p->cnt && !code; j++)
                code = p->elems[j].err;
        }
    }
    rd_kafka_event_destroy(ev);
    if (code) {
        cmd_failed(code, NULL);
        return false;
    }
    return true;
}

static int do_reset(grp_ctx *g) {
    char **ids;
    int n = collect_groups(g, &ids);
    if (n < 0)
        return 1;
    if (!tool_has(g->a, "dry-run") && !tool_has(g->a, "execute"))
        fprintf(stderr,
                "WARN: No action will be performed as the --execute option "
                "is missing. In version 5.0, this command will require "
                "either --dry-run or --execute to be specified. You should "
                "add the --dry-run option explicitly if you are scripting "
                "this command and want to keep the current default behavior "
                "without prompting.\n");
    bool execute = tool_has(g->a, "execute") && !tool_has(g->a, "dry-run");
    bool single = tool_getall(g->a, "group", &(const char **){NULL}) == 1;
    grp_desc gd = {0};
    if (n > 0 && !describe_groups(g, (const char **)ids, n, &gd)) {
        free_strs(ids, n);
        return 0;
    }
    tp_list *plans = xcalloc((size_t)n + 1, sizeof(tp_list));
    int rc = 0;
    bool failed = false;
    for (int i = 0; i < n && !failed; i++) {
        const rd_kafka_ConsumerGroupDescription_t *d = find_desc(&gd, ids[i]);
        const rd_kafka_error_t *e =
            d ? rd_kafka_ConsumerGroupDescription_error(d) : NULL;
        if (e && rd_kafka_error_code(e) != 69) {
            cmd_failed(rd_kafka_error_code(e), rd_kafka_error_string(e));
            failed = true;
            break;
        }
        rd_kafka_consumer_group_state_t st =
            d && !e ? rd_kafka_ConsumerGroupDescription_state(d)
                    : RD_KAFKA_CONSUMER_GROUP_STATE_DEAD;
        if (st != RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY &&
            st != RD_KAFKA_CONSUMER_GROUP_STATE_DEAD) {
            printf("\nError: Assignments can only be reset if the group '%s' "
                   "is inactive, but the current state is %s.\n",
                   ids[i], rd_kafka_consumer_group_state_name(st));
            continue;
        }
        if (!prepare_reset(g, ids[i], single, &plans[i], &rc)) {
            failed = true;
            break;
        }
        if (execute && plans[i].n && !alter_offsets(g, ids[i], &plans[i])) {
            failed = true;
            break;
        }
    }
    if (!failed) {
        if (tool_has(g->a, "export")) {
            for (int i = 0; i < n; i++) {
                tpl_sort(&plans[i]);
                for (int j = 0; j < plans[i].n; j++) {
                    if (!single)
                        printf("%s,", ids[i]);
                    printf("%s,%d,%lld\n", plans[i].v[j].topic,
                           plans[i].v[j].part, (long long)plans[i].v[j].off);
                }
            }
            printf("\n");
        } else {
            int gw = 15, tw = 15;
            for (int i = 0; i < n; i++) {
                gw = SL_MAX(gw, (int)strlen(ids[i]));
                for (int j = 0; j < plans[i].n; j++)
                    tw = SL_MAX(tw, (int)strlen(plans[i].v[j].topic));
            }
            if (n > 0)
                printf("\n%-*s %-*s %-10s %s", gw, "GROUP", tw, "TOPIC",
                       "PARTITION", "NEW-OFFSET");
            for (int i = 0; i < n; i++) {
                tpl_sort(&plans[i]);
                for (int j = 0; j < plans[i].n; j++) {
                    char part[16];
                    snprintf(part, sizeof(part), "%d", plans[i].v[j].part);
                    printf("\n%-*s %-*s %-10s %lld", gw, ids[i], tw,
                           plans[i].v[j].topic, part,
                           (long long)plans[i].v[j].off);
                }
            }
            printf("\n");
        }
    }
    for (int i = 0; i < n; i++)
        tpl_free(&plans[i]);
    free(plans);
    if (gd.ev)
        rd_kafka_event_destroy(gd.ev);
    free_strs(ids, n);
    return rc;
}

/* ---- main ------------------------------------------------------------- */

int tool_consumer_groups_main(int argc, char **argv) {
    tool_args a;
    int rc = tool_parse(&a, "kafka-consumer-groups.sh",
                        "This tool helps to list all consumer groups, describe "
                        "a consumer group, delete consumer group info, or "
                        "reset consumer group offsets.",
                        grp_opts, SL_ARRAY_LEN(grp_opts), argc, argv);
    if (rc >= 0)
        return rc;
    if (tool_has(&a, "version")) {
        printf("4.3.1 (sluice)\n");
        tool_args_free(&a);
        return 0;
    }
    if (argc <= 1) {
        rc = tool_usage_error(&a, "List all consumer groups, describe a "
                                  "consumer group, delete consumer group "
                                  "info, or reset consumer group offsets.");
        goto out;
    }
    int actions = tool_has(&a, "list") + tool_has(&a, "describe") +
                  tool_has(&a, "delete") + tool_has(&a, "reset-offsets") +
                  tool_has(&a, "delete-offsets") +
                  tool_has(&a, "validate-regex");
    if (actions != 1) {
        rc = tool_usage_error(&a, "Command must include exactly one action: "
                                  "--list, --describe, --delete, "
                                  "--reset-offsets, --delete-offsets, "
                                  "--validate-regex.");
        goto out;
    }
    if (tool_has(&a, "validate-regex")) {
        printf("The regular expression `%s` is valid.\n",
               tool_get(&a, "validate-regex"));
        rc = 0;
        goto out;
    }
    if (!tool_has(&a, "bootstrap-server")) {
        rc = tool_usage_error(&a, "Missing required argument "
                                  "\"[bootstrap-server]\"");
        goto out;
    }
    bool need_group = tool_has(&a, "describe") || tool_has(&a, "delete") ||
                      tool_has(&a, "reset-offsets");
    if (need_group && !tool_has(&a, "group") && !tool_has(&a, "all-groups")) {
        rc = tool_usage_error(&a,
                              "Option [%s] takes one of these options: "
                              "[all-groups], [group]",
                              tool_has(&a, "describe") ? "describe"
                              : tool_has(&a, "delete") ? "delete"
                                                       : "reset-offsets");
        goto out;
    }
    if (tool_has(&a, "delete-offsets") &&
        (!tool_has(&a, "group") || !tool_has(&a, "topic"))) {
        rc = tool_usage_error(&a, "Option [delete-offsets] takes the following "
                                  "options: [topic], [group]");
        goto out;
    }
    if (tool_has(&a, "reset-offsets")) {
        int scen = tool_has(&a, "to-datetime") + tool_has(&a, "by-duration") +
                   tool_has(&a, "to-earliest") + tool_has(&a, "to-latest") +
                   tool_has(&a, "shift-by") + tool_has(&a, "from-file") +
                   tool_has(&a, "to-current") + tool_has(&a, "to-offset");
        if (scen != 1) {
            rc = tool_usage_error(
                &a, "Option [reset-offsets] takes exactly one of these "
                    "options: [to-datetime], [by-duration], [to-earliest], "
                    "[to-latest], [shift-by], [from-file], [to-current], "
                    "[to-offset]");
            goto out;
        }
        if (tool_has(&a, "dry-run") && tool_has(&a, "execute")) {
            rc = tool_usage_error(&a, "Option [reset-offsets] only accepts one "
                                      "of [execute, dry-run]");
            goto out;
        }
        if (tool_has(&a, "all-topics") && tool_has(&a, "topic")) {
            rc = tool_usage_error(&a, "Option [reset-offsets] takes at most "
                                      "one of these options: [all-topics], "
                                      "[topic]");
            goto out;
        }
    }
    if ((tool_has(&a, "members") || tool_has(&a, "offsets") ||
         tool_has(&a, "verbose")) &&
        !tool_has(&a, "describe")) {
        rc = tool_usage_error(&a,
                              "Option [%s] can only be used with "
                              "[describe]",
                              tool_has(&a, "members")   ? "members"
                              : tool_has(&a, "offsets") ? "offsets"
                                                        : "verbose");
        goto out;
    }
    if (tool_has(&a, "describe") && tool_has(&a, "members") +
                                            tool_has(&a, "offsets") +
                                            tool_has(&a, "state") >
                                        1) {
        rc = tool_usage_error(&a, "Option [describe] takes at most one of "
                                  "these options: [members], [offsets], "
                                  "[state]");
        goto out;
    }
    int64_t timeout = 30000;
    if (tool_has(&a, "timeout") &&
        (!tool_parse_i64(tool_get(&a, "timeout"), &timeout) || timeout <= 0)) {
        rc = tool_usage_error(&a,
                              "Cannot parse argument '%s' of option "
                              "timeout",
                              tool_get(&a, "timeout"));
        goto out;
    }
    grp_ctx g = {.a = &a};
    if (!tool_admin_open(&g.ad, tool_get(&a, "bootstrap-server"),
                         tool_get(&a, "command-config"), (int)timeout)) {
        rc = 1;
        goto out;
    }
    if (tool_has(&a, "timeout"))
        g.ad.timeout_ms = (int)timeout;
    if (tool_has(&a, "list"))
        rc = do_list(&g);
    else if (tool_has(&a, "describe"))
        rc = do_describe(&g);
    else if (tool_has(&a, "delete"))
        rc = do_delete(&g);
    else if (tool_has(&a, "reset-offsets"))
        rc = do_reset(&g);
    else
        rc = do_delete_offsets(&g);
    tool_admin_close(&g.ad);
out:
    tool_args_free(&a);
    return rc;
}
