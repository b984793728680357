/*
 * consumer.c - KIP-848 consumer groups (see consumer.h).
 *
 * A heartbeat does what Kafka's consumerGroupHeartbeat does, in order:
 *   1. find or create the group and the member (epoch 0 joins; a static
 *      member may replace its previous instance once that one left with
 *      epoch -2), validate the epoch (FENCED_MEMBER_EPOCH);
 *   2. apply the member's changes (subscription, assignor, rebalance
 *      timeout...); a changed subscription, or changed metadata of the
 *      subscribed topics (created, deleted, more partitions), bumps the
 *      group epoch;
 *   3. if the group epoch is ahead of the target assignment epoch, run the
 *      assignor for every member (sticky: it starts from the old target);
 *   4. reconcile this member towards its target (CurrentAssignmentBuilder):
 *      partitions to revoke are withheld first and the member stays at its
 *      epoch until its heartbeat no longer lists them; partitions still
 *      held (or being revoked) by another member are not handed out until
 *      released; otherwise the member moves to the target epoch.
 * Every change is written as ConsumerGroup* records (Kafka's formats) to
 * the group's __consumer_offsets partition in one batch, and replayed at
 * start. Invariants:
 *   - member epochs never exceed the assignment epoch, which never exceeds
 *     the group epoch;
 *   - a partition is in at most one member's assigned or pending
 *     revocation set (the owner check of step 4 guarantees it).
 */
#include "group/consumer.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "group/assignor.h"
#include "group/internal.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"

enum { MS_STABLE = 0, MS_UNREVOKED = 1, MS_UNRELEASED = 2, MS_UNKNOWN = 127 };

#define LEAVE_EPOCH (-1)
#define STATIC_LEAVE_EPOCH (-2)

typedef struct tpset {
    cg_tp *v;
    int n;
} tpset;

/* id .. client_host: owned proto_str copies (gs_dup), null when not given. */
typedef struct cg_member {
    proto_str id;
    proto_str instance_id;
    proto_str rack_id;
    proto_str client_id;
    proto_str client_host;
    char **topics;
    int n_topics;
    char *regex;
    char **regex_topics; /* topics the regex matches now, sorted */
    int n_regex_topics;
    char *assignor;
    int32_t rebalance_ms;
    int32_t epoch, prev_epoch;
    int state;
    tpset assigned, revoking, target;
    int64_t session_deadline;   /* mono ms */
    int64_t rebalance_deadline; /* mono ms, 0: none */
} cg_member;

/* subscription metadata: the subscribed topics as the image had them */
typedef struct cg_topic_meta {
    char *name;
    uint8_t id[16];
    int32_t n_parts;
} cg_topic_meta;

struct cg_group {
    int32_t group_epoch;
    int32_t assignment_epoch;
    cg_member **m;
    int n, cap;
    cg_topic_meta *meta;
    int n_meta;
};

/* ---- small helpers ------------------------------------------------------- */

static char *dupn(const char *s) {
    return s ? xstrdup(s) : NULL;
}

static bool seq(const char *a, const char *b) {
    if (!a || !b)
        return a == b;
    return !strcmp(a, b);
}

static void set_str(char **dst, const char *s) {
    free(*dst);
    *dst = dupn(s);
}

static void set_ps(proto_str *dst, proto_str s) {
    gs_free(dst);
    *dst = gs_dup(s);
}

static proto_str or_empty(proto_str s) {
    return s.len >= 0 ? s : proto_str_c("");
}

static void tpset_free(tpset *s) {
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static void tpset_copy(tpset *dst, const cg_tp *v, int n) {
    tpset_free(dst);
    if (n > 0) {
        dst->v = xmalloc((size_t)n * sizeof *v);
        memcpy(dst->v, v, (size_t)n * sizeof *v);
    }
    dst->n = n;
}

static bool tpset_eq(const tpset *a, const tpset *b) {
    return a->n == b->n &&
           (a->n == 0 || !memcmp(a->v, b->v, (size_t)a->n * sizeof *a->v));
}

static void tpset_add(tpset *s, int *cap, const cg_tp *tp) {
    if (s->n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        s->v = xrealloc(s->v, (size_t)*cap * sizeof *s->v);
    }
    s->v[s->n++] = *tp;
}

static void tpset_sort(tpset *s) {
    if (s->n > 1)
        qsort(s->v, (size_t)s->n, sizeof *s->v, cg_tp_cmp);
}

static bool owned_has(const cg_hb_req *rq, const cg_tp *tp) {
    for (int i = 0; i < rq->n_owned; i++) {
        if (memcmp(rq->owned[i].id, tp->id, 16))
            continue;
        for (int k = 0; k < rq->owned[i].n; k++)
            if (rq->owned[i].parts[k] == tp->part)
                return true;
    }
    return false;
}

static int64_t now_ms(void) {
    return clk_mono_ms();
}

static const char *state_name(int s) {
    switch (s) {
    case MS_STABLE:
        return "stable";
    case MS_UNREVOKED:
        return "unrevoked_partitions";
    case MS_UNRELEASED:
        return "unreleased_partitions";
    default:
        return "unknown";
    }
}

/* ---- groups and members ---------------------------------------------------
 */

static void member_free(cg_member *m) {
    if (!m)
        return;
    gs_free(&m->id);
    gs_free(&m->instance_id);
    gs_free(&m->rack_id);
    gs_free(&m->client_id);
    gs_free(&m->client_host);
    for (int i = 0; i < m->n_topics; i++)
        free(m->topics[i]);
    free(m->topics);
    free(m->regex);
    for (int i = 0; i < m->n_regex_topics; i++)
        free(m->regex_topics[i]);
    free(m->regex_topics);
    free(m->assignor);
    tpset_free(&m->assigned);
    tpset_free(&m->revoking);
    tpset_free(&m->target);
    free(m);
}

static void meta_free(cg_group *cg) {
    for (int i = 0; i < cg->n_meta; i++)
        free(cg->meta[i].name);
    free(cg->meta);
    cg->meta = NULL;
    cg->n_meta = 0;
}

void cg_free(cg_group *cg) {
    if (!cg)
        return;
    for (int i = 0; i < cg->n; i++)
        member_free(cg->m[i]);
    free(cg->m);
    meta_free(cg);
    free(cg);
}

int cg_n_members(const cg_group *cg) {
    return cg ? cg->n : 0;
}

bool grp_is_consumer(const grp_group *g) {
    return g && g->cg;
}

static cg_member *find_member(const cg_group *cg, proto_str id) {
    if (id.len < 0)
        return NULL;
    for (int i = 0; i < cg->n; i++)
        if (gs_eq(cg->m[i]->id, id))
            return cg->m[i];
    return NULL;
}

static cg_member *find_static(const cg_group *cg, proto_str iid) {
    if (iid.len < 0)
        return NULL;
    for (int i = 0; i < cg->n; i++)
        if (gs_eq(cg->m[i]->instance_id, iid))
            return cg->m[i];
    return NULL;
}

static cg_member *add_member(cg_group *cg, proto_str id) {
    cg_member *m = xcalloc(1, sizeof *m);
    m->id = gs_dup(or_empty(id));
    m->instance_id = m->rack_id = PROTO_STR_NULL;
    m->client_id = gs_dup(proto_str_c(""));
    m->client_host = gs_dup(proto_str_c(""));
    m->rebalance_ms = -1;
    if (cg->n == cg->cap) {
        cg->cap = cg->cap ? cg->cap * 2 : 4;
        cg->m = xrealloc(cg->m, (size_t)cg->cap * sizeof *cg->m);
    }
    cg->m[cg->n++] = m;
    return m;
}

static void drop_member(cg_group *cg, cg_member *m) {
    for (int i = 0; i < cg->n; i++)
        if (cg->m[i] == m) {
            cg->m[i] = cg->m[--cg->n];
            break;
        }
    member_free(m);
}

bool cg_subscribed_to(const cg_group *cg, const char *topic) {
    for (int i = 0; cg && i < cg->n; i++) {
        for (int k = 0; k < cg->m[i]->n_topics; k++)
            if (!strcmp(cg->m[i]->topics[k], topic))
                return true;
        for (int k = 0; k < cg->m[i]->n_regex_topics; k++)
            if (!strcmp(cg->m[i]->regex_topics[k], topic))
                return true;
    }
    return false;
}

/* The epoch of the member holding tp (assigned or being revoked), -1. */
static int32_t partition_epoch(const cg_group *cg, const cg_tp *tp,
                               const cg_member *except) {
    for (int i = 0; i < cg->n; i++) {
        const cg_member *m = cg->m[i];
        if (m == except)
            continue;
        if (cg_tp_has(m->assigned.v, m->assigned.n, tp->id, tp->part) ||
            cg_tp_has(m->revoking.v, m->revoking.n, tp->id, tp->part))
            return m->epoch;
    }
    return -1;
}

static bool reconciled(const cg_member *m, int32_t epoch) {
    return m->state == MS_STABLE && m->epoch == epoch;
}

static const char *group_state(const cg_group *cg) {
    if (!cg || cg->n == 0)
        return "Empty";
    if (cg->group_epoch > cg->assignment_epoch)
        return "Assigning";
    for (int i = 0; i < cg->n; i++)
        if (!reconciled(cg->m[i], cg->assignment_epoch))
            return "Reconciling";
    return "Stable";
}

static const char *group_assignor(const grp_coord *c, const cg_group *cg) {
    /* Kafka: the assignor the most members ask for, else the default */
    const char *best = NULL;
    int best_n = 0;
    for (int i = 0; cg && i < cg->n; i++) {
        const char *a = cg->m[i]->assignor;
        if (!a)
            continue;
        int k = 0;
        for (int j = 0; j < cg->n; j++)
            k += seq(cg->m[j]->assignor, a);
        if (k > best_n || (k == best_n && best && strcmp(a, best) < 0)) {
            best = a;
            best_n = k;
        }
    }
    if (best)
        return best;
    return c->cg_env.n_assignors ? c->cg_env.assignors[0] : "uniform";
}

/* ---- records ----------------------------------------------------------------
 */

typedef struct recs {
    buf *k, *v;
    bool *tomb;
    int n, cap;
} recs;

static void recs_add(recs *r, buf **k, buf **v, bool tomb) {
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->k = xrealloc(r->k, (size_t)r->cap * sizeof *r->k);
        r->v = xrealloc(r->v, (size_t)r->cap * sizeof *r->v);
        r->tomb = xrealloc(r->tomb, (size_t)r->cap * sizeof *r->tomb);
    }
    buf_init(&r->k[r->n], 64);
    buf_init(&r->v[r->n], 64);
    r->tomb[r->n] = tomb;
    *k = &r->k[r->n];
    *v = &r->v[r->n];
    r->n++;
}

static int16_t recs_flush(grp_coord *c, grp_group *g, recs *r) {
    int16_t e = KERR_NONE;
    if (r->n) {
        grp_record *gr = xcalloc((size_t)r->n, sizeof *gr);
        for (int i = 0; i < r->n; i++) {
            gr[i].key = r->k[i].data;
            gr[i].key_len = r->k[i].len;
            gr[i].value = r->tomb[i] ? NULL : r->v[i].data;
            gr[i].value_len = r->tomb[i] ? 0 : r->v[i].len;
        }
        e = grp_store_append(c, g->partition, gr, r->n);
        if (e)
            SL_WARN("group", "writing records of consumer group %s failed: %s",
                    g->id.p, proto_error_name(e));
        free(gr);
    }
    for (int i = 0; i < r->n; i++) {
        buf_free(&r->k[i]);
        buf_free(&r->v[i]);
    }
    free(r->k);
    free(r->v);
    free(r->tomb);
    memset(r, 0, sizeof *r);
    return e;
}

static void rec_group_epoch(recs *r, proto_str gid, const cg_group *cg,
                            bool tomb) {
    buf *k, *v;
    recs_add(r, &k, &v, tomb);
    proto_consumer_group_metadata_key key;
    proto_consumer_group_metadata_key_init(&key);
    key.group_id = gid;
    buf_put_be16(k, 3);
    proto_consumer_group_metadata_key_encode(k, 3, &key);
    if (tomb)
        return;
    proto_consumer_group_metadata_value val;
    proto_consumer_group_metadata_value_init(&val);
    val.epoch = cg->group_epoch;
    buf_put_be16(v, 0);
    proto_consumer_group_metadata_value_encode(v, 0, &val);
}

static void rec_partition_meta(recs *r, proto_str gid, const cg_group *cg,
                               bool tomb) {
    buf *k, *v;
    recs_add(r, &k, &v, tomb);
    proto_consumer_group_partition_metadata_key key;
    proto_consumer_group_partition_metadata_key_init(&key);
    key.group_id = gid;
    buf_put_be16(k, 4);
    proto_consumer_group_partition_metadata_key_encode(k, 4, &key);
    if (tomb)
        return;
    proto_consumer_group_partition_metadata_value val;
    proto_consumer_group_partition_metadata_value_init(&val);
    proto_consumer_group_partition_metadata_value_topic_metadata *tm =
        xcalloc((size_t)(cg->n_meta ? cg->n_meta : 1), sizeof *tm);
    for (int i = 0; i < cg->n_meta; i++) {
        proto_consumer_group_partition_metadata_value_topic_metadata_init(
            &tm[i]);
        memcpy(tm[i].topic_id.b, cg->meta[i].id, 16);
        tm[i].topic_name = proto_str_c(cg->meta[i].name);
        tm[i].num_partitions = cg->meta[i].n_parts;
    }
    val.topics.n = cg->n_meta;
    val.topics.v = tm;
    buf_put_be16(v, 0);
    proto_consumer_group_partition_metadata_value_encode(v, 0, &val);
    free(tm);
}

static void rec_member(recs *r, proto_str gid, const cg_member *m, bool tomb) {
    buf *k, *v;
    recs_add(r, &k, &v, tomb);
    proto_consumer_group_member_metadata_key key;
    proto_consumer_group_member_metadata_key_init(&key);
    key.group_id = gid;
    key.member_id = m->id;
    buf_put_be16(k, 5);
    proto_consumer_group_member_metadata_key_encode(k, 5, &key);
    if (tomb)
        return;
    proto_consumer_group_member_metadata_value val;
    proto_consumer_group_member_metadata_value_init(&val);
    val.instance_id = m->instance_id;
    val.rack_id = m->rack_id;
    val.client_id = or_empty(m->client_id);
    val.client_host = or_empty(m->client_host);
    proto_str *ts =
        xcalloc((size_t)(m->n_topics ? m->n_topics : 1), sizeof *ts);
    for (int i = 0; i < m->n_topics; i++)
        ts[i] = proto_str_c(m->topics[i]);
    val.subscribed_topic_names.n = m->n_topics;
    val.subscribed_topic_names.v = ts;
    val.subscribed_topic_regex =
        m->regex ? proto_str_c(m->regex) : PROTO_STR_NULL;
    val.rebalance_timeout_ms = m->rebalance_ms;
    val.server_assignor =
        m->assignor ? proto_str_c(m->assignor) : PROTO_STR_NULL;
    buf_put_be16(v, 0);
    proto_consumer_group_member_metadata_value_encode(v, 0, &val);
    free(ts);
}

/* Groups a sorted partition set by topic into the record's layout. */
typedef struct topic_parts {
    uint8_t id[16];
    int32_t n;
    int32_t *parts;
} topic_parts;

static int group_by_topic(const tpset *s, topic_parts **out) {
    int nt = 0;
    for (int i = 0; i < s->n; i++)
        if (i == 0 || memcmp(s->v[i].id, s->v[i - 1].id, 16))
            nt++;
    topic_parts *t = xcalloc((size_t)(nt ? nt : 1), sizeof *t);
    int ti = -1;
    for (int i = 0; i < s->n; i++) {
        if (i == 0 || memcmp(s->v[i].id, s->v[i - 1].id, 16)) {
            ti++;
            memcpy(t[ti].id, s->v[i].id, 16);
            t[ti].parts = xcalloc((size_t)s->n, sizeof *t[ti].parts);
        }
        t[ti].parts[t[ti].n++] = s->v[i].part;
    }
    *out = t;
    return nt;
}

static void topic_parts_free(topic_parts *t, int n) {
    for (int i = 0; i < n; i++)
        free(t[i].parts);
    free(t);
}

static void rec_target_member(recs *r, proto_str gid, const cg_member *m,
                              bool tomb) {
    buf *k, *v;
    recs_add(r, &k, &v, tomb);
    proto_consumer_group_target_assignment_member_key key;
    proto_consumer_group_target_assignment_member_key_init(&key);
    key.group_id = gid;
    key.member_id = m->id;
    buf_put_be16(k, 7);
    proto_consumer_group_target_assignment_member_key_encode(k, 7, &key);
    if (tomb)
        return;
    topic_parts *tp;
    int nt = group_by_topic(&m->target, &tp);
    proto_consumer_group_target_assignment_member_value val;
    proto_consumer_group_target_assignment_member_value_init(&val);
    proto_consumer_group_target_assignment_member_value_topic_partition *vt =
        xcalloc((size_t)(nt ? nt : 1), sizeof *vt);
    for (int i = 0; i < nt; i++) {
        proto_consumer_group_target_assignment_member_value_topic_partition_init(
            &vt[i]);
        memcpy(vt[i].topic_id.b, tp[i].id, 16);
        vt[i].partitions.n = tp[i].n;
        vt[i].partitions.v = tp[i].parts;
    }
    val.topic_partitions.n = nt;
    val.topic_partitions.v = vt;
    buf_put_be16(v, 0);
    proto_consumer_group_target_assignment_member_value_encode(v, 0, &val);
    free(vt);
    topic_parts_free(tp, nt);
}

static void rec_target_epoch(recs *r, proto_str gid, const cg_group *cg,
                             bool tomb) {
    buf *k, *v;
    recs_add(r, &k, &v, tomb);
    proto_consumer_group_target_assignment_metadata_key key;
    proto_consumer_group_target_assignment_metadata_key_init(&key);
    key.group_id = gid;
    buf_put_be16(k, 6);
    proto_consumer_group_target_assignment_metadata_key_encode(k, 6, &key);
    if (tomb)
        return;
    proto_consumer_group_target_assignment_metadata_value val;
    proto_consumer_group_target_assignment_metadata_value_init(&val);
    val.assignment_epoch = cg->assignment_epoch;
    buf_put_be16(v, 0);
    proto_consumer_group_target_assignment_metadata_value_encode(v, 0, &val);
}

typedef proto_consumer_group_current_member_assignment_value_topic_partitions
    cur_tp;

static cur_tp *to_cur(const tpset *s, int *n, topic_parts **keep) {
    int nt = group_by_topic(s, keep);
    cur_tp *v = xcalloc((size_t)(nt ? nt : 1), sizeof *v);
    for (int i = 0; i < nt; i++) {
        proto_consumer_group_current_member_assignment_value_topic_partitions_init(
            &v[i]);
        memcpy(v[i].topic_id.b, (*keep)[i].id, 16);
        v[i].partitions.n = (*keep)[i].n;
        v[i].partitions.v = (*keep)[i].parts;
    }
    *n = nt;
    return v;
}

static void rec_current(recs *r, proto_str gid, const cg_member *m, bool tomb) {
    buf *k, *v;
    recs_add(r, &k, &v, tomb);
    proto_consumer_group_current_member_assignment_key key;
    proto_consumer_group_current_member_assignment_key_init(&key);
    key.group_id = gid;
    key.member_id = m->id;
    buf_put_be16(k, 8);
    proto_consumer_group_current_member_assignment_key_encode(k, 8, &key);
    if (tomb)
        return;
    proto_consumer_group_current_member_assignment_value val;
    proto_consumer_group_current_member_assignment_value_init(&val);
    val.member_epoch = m->epoch;
    val.previous_member_epoch = m->prev_epoch;
    val.state = (int8_t)m->state;
    topic_parts *ka, *kr;
    int na, nr;
    cur_tp *a = to_cur(&m->assigned, &na, &ka);
    cur_tp *rv = to_cur(&m->revoking, &nr, &kr);
    val.assigned_partitions.n = na;
    val.assigned_partitions.v = a;
    val.partitions_pending_revocation.n = nr;
    val.partitions_pending_revocation.v = rv;
    buf_put_be16(v, 0);
    proto_consumer_group_current_member_assignment_value_encode(v, 0, &val);
    free(a);
    free(rv);
    topic_parts_free(ka, na);
    topic_parts_free(kr, nr);
}

/* Kafka's removeMember: current assignment, target and member tombstones. */
static void rec_remove_member(recs *r, proto_str gid, const cg_member *m) {
    rec_current(r, gid, m, true);
    rec_target_member(r, gid, m, true);
    rec_member(r, gid, m, true);
}

int16_t cg_write_tombstones(grp_coord *c, grp_group *g) {
    if (!g->cg)
        return KERR_NONE;
    recs r = {0};
    for (int i = 0; i < g->cg->n; i++)
        rec_remove_member(&r, g->id, g->cg->m[i]);
    rec_target_epoch(&r, g->id, g->cg, true);
    rec_partition_meta(&r, g->id, g->cg, true);
    rec_group_epoch(&r, g->id, g->cg, true);
    return recs_flush(c, g, &r);
}

/* ---- subscription metadata ------------------------------------------------
 */

static int str_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The subscribed topic names of all members (plus/minus one member's
 * change), sorted and unique, resolved against the image. */
static cg_topic_meta *compute_meta(grp_coord *c, const cg_group *cg,
                                   int *n_out) {
    int total = 0;
    for (int i = 0; i < cg->n; i++)
        total += cg->m[i]->n_topics + cg->m[i]->n_regex_topics;
    char **names = xcalloc((size_t)(total ? total : 1), sizeof *names);
    int nn = 0;
    for (int i = 0; i < cg->n; i++) {
        for (int k = 0; k < cg->m[i]->n_topics; k++)
            names[nn++] = cg->m[i]->topics[k];
        for (int k = 0; k < cg->m[i]->n_regex_topics; k++)
            names[nn++] = cg->m[i]->regex_topics[k];
    }
    qsort(names, (size_t)nn, sizeof *names, str_cmp);
    cg_topic_meta *meta = xcalloc((size_t)(nn ? nn : 1), sizeof *meta);
    int nm = 0;
    for (int i = 0; i < nn; i++) {
        if (i > 0 && !strcmp(names[i], names[i - 1]))
            continue;
        uint8_t id[16];
        int32_t np = 0;
        if (!c->cg_env.topic_by_name ||
            !c->cg_env.topic_by_name(c->cg_env.ctx, names[i], id, &np))
            continue;
        meta[nm].name = xstrdup(names[i]);
        memcpy(meta[nm].id, id, 16);
        meta[nm].n_parts = np;
        nm++;
    }
    free(names);
    *n_out = nm;
    return meta;
}

static bool meta_eq(const cg_topic_meta *a, int na, const cg_topic_meta *b,
                    int nb) {
    if (na != nb)
        return false;
    for (int i = 0; i < na; i++)
        if (strcmp(a[i].name, b[i].name) || memcmp(a[i].id, b[i].id, 16) ||
            a[i].n_parts != b[i].n_parts)
            return false;
    return true;
}

/* Recomputes the subscription metadata; true (and a record) if changed. */
static bool refresh_meta(grp_coord *c, grp_group *g, recs *r) {
    cg_group *cg = g->cg;
    int nm;
    cg_topic_meta *meta = compute_meta(c, cg, &nm);
    if (meta_eq(meta, nm, cg->meta, cg->n_meta)) {
        for (int i = 0; i < nm; i++)
            free(meta[i].name);
        free(meta);
        return false;
    }
    meta_free(cg);
    cg->meta = meta;
    cg->n_meta = nm;
    rec_partition_meta(r, g->id, cg, false);
    return true;
}

/* Kafka matches SubscribedTopicRegex with RE2/J, against the whole topic
 * name. This compiles it with POSIX extended syntax after rewriting the RE2
 * forms clients send (franz-go: ".*(?:(?:a)|(?:b)).*"): (?:...) groups and
 * the \d \w \s classes (and their negations), and a leading (?i); other
 * flags and Perl forms stay invalid. */
static bool rx_compile(const char *rx, regex_t *re) {
    int flags = REG_EXTENDED | REG_NOSUB;
    if (!strncmp(rx, "(?i)", 4)) {
        flags |= REG_ICASE;
        rx += 4;
    }
    buf b;
    buf_init(&b, strlen(rx) * 2 + 8);
    buf_printf(&b, "^(");
    bool in_set = false;
    for (const char *p = rx; *p; p++) {
        if (in_set) {
            if (p[0] == '[' && p[1] == ':') { /* [:class:] */
                const char *e = strstr(p + 2, ":]");
                if (e) {
                    buf_put(&b, p, (size_t)(e + 2 - p));
                    p = e + 1;
                    continue;
                }
            }
            if (*p == ']') {
                in_set = false;
            } else if (*p == '\\' && p[1]) {
                p++;
                const char *cls = *p == 'd'   ? "0-9"
                                  : *p == 'w' ? "A-Za-z0-9_"
                                  : *p == 's' ? "[:space:]"
                                              : NULL;
                if (cls)
                    buf_put(&b, cls, strlen(cls));
                else
                    buf_put(&b, p, 1);
                continue;
            }
            buf_put(&b, p, 1);
            continue;
        }
        if (*p == '[') {
            in_set = true;
            buf_put(&b, p, 1);
            if (p[1] == '^')
                buf_put(&b, ++p, 1);
            if (p[1] == ']') /* a leading ] is literal */
                buf_put(&b, ++p, 1);
        } else if (p[0] == '(' && p[1] == '?' && p[2] == ':') {
            buf_put(&b, "(", 1);
            p += 2;
        } else if (*p == '\\' && p[1]) {
            p++;
            const char *cls = *p == 'd'   ? "[0-9]"
                              : *p == 'D' ? "[^0-9]"
                              : *p == 'w' ? "[A-Za-z0-9_]"
                              : *p == 'W' ? "[^A-Za-z0-9_]"
                              : *p == 's' ? "[[:space:]]"
                              : *p == 'S' ? "[^[:space:]]"
                                          : NULL;
            if (cls) {
                buf_put(&b, cls, strlen(cls));
            } else {
                buf_put(&b, p - 1, 2);
            }
        } else {
            buf_put(&b, p, 1);
        }
    }
    buf_printf(&b, ")$");
    buf_put(&b, "", 1);
    int e = regcomp(re, (const char *)b.data, flags);
    buf_free(&b);
    return e == 0;
}

/* Topics a member's regex matches now (whole-name match, rx_compile).
 * true if the set changed. */
static bool resolve_regex(grp_coord *c, cg_member *m) {
    char **nv = NULL;
    int nn = 0;
    if (m->regex && c->cg_env.topic_names) {
        regex_t re;
        if (rx_compile(m->regex, &re)) {
            const char **names;
            int n = c->cg_env.topic_names(c->cg_env.ctx, &names);
            nv = xcalloc((size_t)(n > 0 ? n : 1), sizeof *nv);
            for (int i = 0; i < n; i++)
                if (!regexec(&re, names[i], 0, NULL, 0))
                    nv[nn++] = xstrdup(names[i]);
            regfree(&re);
        }
    }
    if (nn > 1)
        qsort(nv, (size_t)nn, sizeof *nv, str_cmp);
    bool same = nn == m->n_regex_topics;
    for (int i = 0; same && i < nn; i++)
        same = !strcmp(nv[i], m->regex_topics[i]);
    if (same) {
        for (int i = 0; i < nn; i++)
            free(nv[i]);
        free(nv);
        return false;
    }
    for (int i = 0; i < m->n_regex_topics; i++)
        free(m->regex_topics[i]);
    free(m->regex_topics);
    m->regex_topics = nv;
    m->n_regex_topics = nn;
    return true;
}

static bool regex_valid(const char *rx) {
    regex_t re;
    if (!rx_compile(rx, &re))
        return false;
    regfree(&re);
    return true;
}

static void bump_group_epoch(grp_group *g, recs *r, const char *why) {
    g->cg->group_epoch++;
    rec_group_epoch(r, g->id, g->cg, false);
    SL_INFO("group", "[GroupId %s] Bumped group epoch to %d (%s).", g->id.p,
            g->cg->group_epoch, why);
}

/* ---- target assignment ----------------------------------------------------
 */

static void update_target(grp_coord *c, grp_group *g, recs *r) {
    cg_group *cg = g->cg;
    int nt = cg->n_meta;
    asg_topic *ts = xcalloc((size_t)(nt ? nt : 1), sizeof *ts);
    for (int t = 0; t < nt; t++) {
        memcpy(ts[t].id, cg->meta[t].id, 16);
        ts[t].name = cg->meta[t].name;
        ts[t].n_parts = cg->meta[t].n_parts;
    }
    asg_member *ms = xcalloc((size_t)(cg->n ? cg->n : 1), sizeof *ms);
    int **tidx = xcalloc((size_t)(cg->n ? cg->n : 1), sizeof *tidx);
    for (int i = 0; i < cg->n; i++) {
        cg_member *m = cg->m[i];
        tidx[i] = xcalloc((size_t)(nt ? nt : 1), sizeof **tidx);
        int k = 0;
        for (int t = 0; t < nt; t++) {
            bool sub = false;
            for (int j = 0; j < m->n_topics && !sub; j++)
                sub = !strcmp(ts[t].name, m->topics[j]);
            for (int j = 0; j < m->n_regex_topics && !sub; j++)
                sub = !strcmp(ts[t].name, m->regex_topics[j]);
            if (sub)
                tidx[i][k++] = t;
        }
        ms[i].id = m->id.p;
        ms[i].instance_id = m->instance_id.p; /* NULL if dynamic */
        ms[i].n_topics = k;
        ms[i].topics = tidx[i];
        ms[i].n_current = m->target.n;
        ms[i].current = m->target.v;
    }
    const char *an = group_assignor(c, cg);
    asg_assign(an, ms, cg->n, ts, nt);
    for (int i = 0; i < cg->n; i++) {
        cg_member *m = cg->m[i];
        tpset nw = {ms[i].out, ms[i].n_out};
        if (!tpset_eq(&nw, &m->target)) {
            tpset_copy(&m->target, nw.v, nw.n);
            rec_target_member(r, g->id, m, false);
        }
        free(tidx[i]);
    }
    asg_free(ms, cg->n);
    free(ms);
    free(tidx);
    free(ts);
    cg->assignment_epoch = cg->group_epoch;
    rec_target_epoch(r, g->id, cg, false);
    SL_INFO("group",
            "[GroupId %s] Computed a new target assignment for epoch %d with "
            "'%s' assignor.",
            g->id.p, cg->assignment_epoch, an);
}

/* ---- reconciliation (Kafka's CurrentAssignmentBuilder) --------------------
 */

/* owned: the member's owned partitions (NULL request: unknown). */
static bool owns_any(const cg_hb_req *rq, const tpset *s) {
    if (!rq || !rq->owned_set)
        return true;
    for (int i = 0; i < s->n; i++)
        if (owned_has(rq, &s->v[i]))
            return true;
    return false;
}

static void compute_next(grp_coord *c, cg_group *cg, cg_member *m,
                         int32_t epoch, const cg_hb_req *rq) {
    (void)c;
    const tpset *tg = &m->target;
    tpset assigned = {0}, revoking = {0}, pending = {0};
    int ca = 0, cr = 0, cp = 0;
    bool unreleased = false;
    for (int i = 0; i < m->assigned.n; i++) {
        const cg_tp *tp = &m->assigned.v[i];
        if (cg_tp_has(tg->v, tg->n, tp->id, tp->part))
            tpset_add(&assigned, &ca, tp);
        else
            tpset_add(&revoking, &cr, tp);
    }
    for (int i = 0; i < tg->n; i++) {
        const cg_tp *tp = &tg->v[i];
        if (cg_tp_has(m->assigned.v, m->assigned.n, tp->id, tp->part))
            continue;
        if (partition_epoch(cg, tp, m) != -1)
            unreleased = true;
        else
            tpset_add(&pending, &cp, tp);
    }
    int32_t target_epoch = cg->assignment_epoch;
    if (revoking.n > 0 && owns_any(rq, &revoking)) {
        m->state = MS_UNREVOKED;
        if (epoch != m->epoch) {
            m->prev_epoch = m->epoch;
            m->epoch = epoch;
        }
        tpset_free(&m->assigned);
        m->assigned = assigned;
        tpset_free(&m->revoking);
        m->revoking = revoking;
        tpset_free(&pending);
        return;
    }
    for (int i = 0; i < pending.n; i++)
        tpset_add(&assigned, &ca, &pending.v[i]);
    tpset_sort(&assigned);
    tpset_free(&pending);
    tpset_free(&revoking);
    m->state = unreleased ? MS_UNRELEASED : MS_STABLE;
    if (target_epoch != m->epoch) {
        m->prev_epoch = m->epoch;
        m->epoch = target_epoch;
    }
    tpset_free(&m->assigned);
    m->assigned = assigned;
    tpset_free(&m->revoking);
}

/* Moves the member towards its target; true if anything changed. */
static bool reconcile(grp_coord *c, grp_group *g, cg_member *m,
                      const cg_hb_req *rq, recs *r) {
    cg_group *cg = g->cg;
    if (reconciled(m, cg->assignment_epoch))
        return false;
    int32_t e0 = m->epoch, p0 = m->prev_epoch;
    int s0 = m->state;
    tpset a0 = {0}, r0 = {0};
    tpset_copy(&a0, m->assigned.v, m->assigned.n);
    tpset_copy(&r0, m->revoking.v, m->revoking.n);
    switch (m->state) {
    case MS_STABLE:
        if (m->epoch != cg->assignment_epoch)
            compute_next(c, cg, m, m->epoch, rq);
        break;
    case MS_UNREVOKED:
        if (!owns_any(rq, &m->revoking))
            compute_next(c, cg, m, m->epoch + 1, rq);
        break;
    case MS_UNRELEASED:
        compute_next(c, cg, m, m->epoch, rq);
        break;
    default:
        compute_next(c, cg, m, cg->assignment_epoch, rq);
        break;
    }
    bool changed = e0 != m->epoch || p0 != m->prev_epoch || s0 != m->state ||
                   !tpset_eq(&a0, &m->assigned) || !tpset_eq(&r0, &m->revoking);
    tpset_free(&a0);
    tpset_free(&r0);
    if (!changed)
        return false;
    rec_current(r, g->id, m, false);
    SL_DEBUG("group",
             "[GroupId %s] Member %s new assignment state: epoch=%d, "
             "previousEpoch=%d, state=%s, assigned=%d, revoking=%d.",
             g->id.p, m->id.p, m->epoch, m->prev_epoch, state_name(m->state),
             m->assigned.n, m->revoking.n);
    if (m->state == MS_UNREVOKED)
        m->rebalance_deadline =
            now_ms() + (m->rebalance_ms > 0 ? m->rebalance_ms : 300000);
    else
        m->rebalance_deadline = 0;
    return true;
}

/* ---- heartbeat ------------------------------------------------------------
 */

static void session_and_interval(grp_coord *c, proto_str gid, int32_t *s,
                                 int32_t *hb) {
    *s = c->cg_env.session_ms > 0 ? c->cg_env.session_ms : 45000;
    *hb = c->cg_env.heartbeat_ms > 0 ? c->cg_env.heartbeat_ms : 5000;
    /* Group configs are kept by C-string name: an id with a NUL byte has
     * none of its own (it must not take those of the id cut at the NUL). */
    if (c->cg_env.group_cfg && !memchr(gid.p, 0, (size_t)gid.len))
        c->cg_env.group_cfg(c->cg_env.ctx, gid.p, s, hb);
}

static void fail(cg_hb_resp *out, int16_t e, const char *msg) {
    out->error = e;
    out->message = msg;
}

/* Removes a member and bumps the group epoch (Kafka's fenceMember). */
static void fence_member(grp_coord *c, grp_group *g, cg_member *m, recs *r,
                         const char *why) {
    SL_INFO("group", "[GroupId %s] Member %s %s.", g->id.p, m->id.p, why);
    rec_remove_member(r, g->id, m);
    drop_member(g->cg, m);
    refresh_meta(c, g, r);
    bump_group_epoch(g, r, why);
}

/* A new member id from the coordinator's generator (seeded at its first
 * use). */
static void make_member_id(grp_coord *c, char *out, size_t cap) {
    /* Kafka's Uuid.randomUuid().toString(): 22 base64url characters */
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    if (!c->member_rng_seeded) {
        rng_seed(&c->member_rng,
                 (uint64_t)clk_wall_ms() ^ (uint64_t)clk_mono_ns());
        c->member_rng_seeded = true;
    }
    uint8_t b[16];
    uint64_t x = rng_next(&c->member_rng), y = rng_next(&c->member_rng);
    memcpy(b, &x, 8);
    memcpy(b + 8, &y, 8);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    size_t o = 0;
    for (int i = 0; i < 16 && o + 4 < cap; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16;
        if (i + 1 < 16)
            v |= (uint32_t)b[i + 1] << 8;
        if (i + 2 < 16)
            v |= b[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        if (i + 1 < 16)
            out[o++] = b64[(v >> 6) & 63];
        if (i + 2 < 16)
            out[o++] = b64[v & 63];
    }
    out[o] = 0;
}

static bool topics_differ(const cg_member *m, const cg_hb_req *rq) {
    if (m->n_topics != rq->n_topics)
        return true;
    for (int i = 0; i < rq->n_topics; i++) {
        bool found = false;
        for (int k = 0; k < m->n_topics && !found; k++)
            found = !strcmp(m->topics[k], rq->topics[i]);
        if (!found)
            return true;
    }
    return false;
}

static void set_topics(cg_member *m, const cg_hb_req *rq) {
    for (int i = 0; i < m->n_topics; i++)
        free(m->topics[i]);
    free(m->topics);
    m->topics =
        xcalloc((size_t)(rq->n_topics ? rq->n_topics : 1), sizeof *m->topics);
    m->n_topics = 0;
    for (int i = 0; i < rq->n_topics; i++) {
        bool dup = false;
        for (int k = 0; k < m->n_topics && !dup; k++)
            dup = !strcmp(m->topics[k], rq->topics[i]);
        if (!dup)
            m->topics[m->n_topics++] = xstrdup(rq->topics[i]);
    }
    qsort(m->topics, (size_t)m->n_topics, sizeof *m->topics, str_cmp);
}

static bool is_subset_owned(const cg_hb_req *rq, const tpset *assigned) {
    if (!rq->owned_set)
        return false;
    for (int i = 0; i < rq->n_owned; i++)
        for (int k = 0; k < rq->owned[i].n; k++)
            if (!cg_tp_has(assigned->v, assigned->n, rq->owned[i].id,
                           rq->owned[i].parts[k]))
                return false;
    return true;
}

static int16_t check_epoch(const cg_member *m, const cg_hb_req *rq,
                           const char **msg) {
    if (rq->member_epoch > m->epoch) {
        *msg = "The consumer group member has a greater member epoch than "
               "the one known by the group coordinator. The member must "
               "abandon all its partitions and rejoin.";
        return KERR_FENCED_MEMBER_EPOCH;
    }
    if (rq->member_epoch < m->epoch && (rq->member_epoch != m->prev_epoch ||
                                        !is_subset_owned(rq, &m->assigned))) {
        *msg = "The consumer group member has a smaller member epoch than "
               "the one known by the group coordinator. The member must "
               "abandon all its partitions and rejoin.";
        return KERR_FENCED_MEMBER_EPOCH;
    }
    return KERR_NONE;
}

static void answer_assignment(const cg_member *m, cg_hb_resp *out) {
    out->has_assignment = true;
    out->n_assignment = m->assigned.n;
    out->assignment =
        xmalloc((size_t)(m->assigned.n ? m->assigned.n : 1) * sizeof(cg_tp));
    if (m->assigned.n)
        memcpy(out->assignment, m->assigned.v,
               (size_t)m->assigned.n * sizeof(cg_tp));
}

static bool assignor_ok(const grp_coord *c, const char *name) {
    for (int i = 0; i < c->cg_env.n_assignors; i++)
        if (!strcmp(c->cg_env.assignors[i], name))
            return true;
    return c->cg_env.n_assignors == 0 && asg_known(name);
}

static void leave(grp_coord *c, grp_group *g, const cg_hb_req *rq,
                  cg_hb_resp *out, recs *r) {
    cg_group *cg = g->cg;
    set_ps(&out->member_id, or_empty(rq->member_id));
    out->member_epoch = rq->member_epoch;
    cg_member *m;
    if (rq->instance_id.len < 0) {
        m = find_member(cg, rq->member_id);
        if (!m) {
            fail(out, KERR_UNKNOWN_MEMBER_ID, NULL);
            return;
        }
        fence_member(c, g, m, r, "left the consumer group");
        return;
    }
    m = find_static(cg, rq->instance_id);
    if (!m) {
        fail(out, KERR_UNKNOWN_MEMBER_ID, "Instance id is unknown.");
        return;
    }
    if (!gs_eq(m->id, rq->member_id)) {
        fail(out, KERR_FENCED_INSTANCE_ID,
             "The static member is fenced by an existing member.");
        return;
    }
    if (rq->member_epoch == STATIC_LEAVE_EPOCH) {
        SL_INFO("group",
                "[GroupId %s] Static Member %s with instance id %s "
                "temporarily left the consumer group.",
                g->id.p, m->id.p, m->instance_id.p);
        m->epoch = STATIC_LEAVE_EPOCH;
        tpset_free(&m->revoking);
        m->rebalance_deadline = 0;
        rec_current(r, g->id, m, false);
        return;
    }
    fence_member(c, g, m, r, "left the consumer group");
}

static cg_group *cg_new(void) {
    cg_group *cg = xcalloc(1, sizeof *cg);
    return cg;
}

/* ---- ConsumerGroupHeartbeat, step by step -------------------------------
 * The steps of the comment at the top of this file, one function each:
 * the request checks (hb_acceptable), 1. the group (hb_group) and the member
 * (hb_dynamic_member, hb_static_join, hb_static_member), 2. its changes
 * (hb_update_member), 3. and 4. the target assignment and reconciliation
 * (hb_reconcile_and_answer). The records of all steps go to the store in
 * one batch at the end (recs_flush). */

/* Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid, by member epoch:
 * false with out's error if the request is malformed. */
static bool hb_request_valid(const cg_hb_req *rq, cg_hb_resp *out) {
    if (rq->group_id.len <= 0) {
        fail(out, KERR_INVALID_REQUEST, "GroupId can't be empty.");
        return false;
    }
    if (rq->instance_id.len == 0) {
        fail(out, KERR_INVALID_REQUEST, "InstanceId can't be empty.");
        return false;
    }
    if (rq->rack_id.len == 0) {
        fail(out, KERR_INVALID_REQUEST, "RackId can't be empty.");
        return false;
    }
    if (rq->member_epoch > 0 || rq->member_epoch == LEAVE_EPOCH) {
        if (rq->member_id.len <= 0) {
            fail(out, KERR_INVALID_REQUEST, "MemberId can't be empty.");
            return false;
        }
    } else if (rq->member_epoch == 0) {
        if (rq->api_version >= 1 && rq->member_id.len <= 0) {
            fail(out, KERR_INVALID_REQUEST, "MemberId can't be empty.");
            return false;
        }
        if (rq->rebalance_ms == -1) {
            fail(out, KERR_INVALID_REQUEST,
                 "RebalanceTimeoutMs must be provided in first request.");
            return false;
        }
        if (!rq->owned_set || rq->n_owned > 0) {
            fail(out, KERR_INVALID_REQUEST,
                 "TopicPartitions must be empty when (re-)joining.");
            return false;
        }
        if ((!rq->topics_set || rq->n_topics == 0) && !rq->regex) {
            fail(out, KERR_INVALID_REQUEST,
                 rq->api_version >= 1
                     ? "SubscribedTopicNames or SubscribedTopicRegex "
                       "must be set in first request."
                     : "SubscribedTopicNames must be set in first "
                       "request.");
            return false;
        }
    } else if (rq->member_epoch == STATIC_LEAVE_EPOCH) {
        if (rq->member_id.len <= 0) {
            fail(out, KERR_INVALID_REQUEST, "MemberId can't be empty.");
            return false;
        }
        if (rq->instance_id.len < 0) {
            fail(out, KERR_INVALID_REQUEST, "InstanceId can't be null.");
            return false;
        }
    } else {
        fail(out, KERR_INVALID_REQUEST, "MemberEpoch is invalid.");
        return false;
    }
    return true;
}

/* The checks after the request's shape: the protocol is enabled, the regex
 * compiles, the assignor is one of the broker's and this node coordinates
 * the group. false with out's error. */
static bool hb_acceptable(grp_coord *c, const cg_hb_req *rq, cg_hb_resp *out) {
    if (!c->cg_env.enabled) {
        fail(out, KERR_UNSUPPORTED_VERSION,
             "The new consumer group protocol is not enabled.");
        return false;
    }
    if (!hb_request_valid(rq, out))
        return false;
    if (rq->regex && !regex_valid(rq->regex)) {
        fail(out, KERR_INVALID_REGULAR_EXPRESSION,
             "SubscribedTopicRegex is not a valid regular expression.");
        return false;
    }
    if (rq->assignor && (strlen(rq->assignor) != rq->assignor_len ||
                         !assignor_ok(c, rq->assignor))) {
        fail(out, KERR_UNSUPPORTED_ASSIGNOR,
             "ServerAssignor is not supported.");
        return false;
    }
    int16_t e = grp_check_coordinator(c, rq->group_id);
    if (e) {
        fail(out, e, NULL);
        return false;
    }
    return true;
}

/* The consumer group of the heartbeat: the existing one, or a new one when
 * a member joins (an empty classic group of that id is replaced, Kafka's
 * maybeDeleteEmptyClassicGroup: its record goes, its offsets stay). NULL
 * with out's error. */
static grp_group *hb_group(grp_coord *c, const cg_hb_req *rq, cg_hb_resp *out) {
    grp_group *g = grp_find(c, rq->group_id);
    bool join = rq->member_epoch == 0;
    if (g && !g->cg) {
        grp_info gi;
        grp_get_info(g, &gi);
        bool empty_classic = gi.state == GRP_EMPTY && gi.n_members == 0;
        if (!join || !empty_classic) {
            fail(out, KERR_GROUP_ID_NOT_FOUND,
                 "Group is not a consumer group.");
            return NULL;
        }
        grp_classic_tombstone(c, g);
        g->cg = cg_new();
    }
    if (!g) {
        if (!join) {
            fail(out, KERR_GROUP_ID_NOT_FOUND, "Consumer group not found.");
            return NULL;
        }
        g = grp_group_create(c, rq->group_id);
        g->cg = cg_new();
    }
    return g;
}

/* group.consumer.max.size: a member the group does not know yet cannot
 * join a full group. false with out's error. */
static bool hb_has_room(const grp_coord *c, const cg_group *cg, proto_str mid,
                        cg_hb_resp *out) {
    if (cg->n < c->cg_env.max_size || c->cg_env.max_size <= 0 ||
        find_member(cg, mid))
        return true;
    snprintf(out->message_buf, sizeof out->message_buf,
             "The consumer group has reached its maximum capacity of %d "
             "members.",
             c->cg_env.max_size);
    fail(out, KERR_GROUP_MAX_SIZE_REACHED, out->message_buf);
    return false;
}

/* The member of a heartbeat without instance id: added when it joins,
 * else found and its epoch checked. NULL with out's error. */
static cg_member *hb_dynamic_member(grp_group *g, const cg_hb_req *rq,
                                    proto_str mid, bool *is_new,
                                    cg_hb_resp *out) {
    cg_member *m = find_member(g->cg, mid);
    if (!m) {
        if (rq->member_epoch != 0) {
            fail(out, KERR_UNKNOWN_MEMBER_ID, NULL);
            return NULL;
        }
        m = add_member(g->cg, mid);
        *is_new = true;
        SL_INFO("group",
                "[GroupId %s] Member %s joins the consumer group using "
                "the consumer protocol.",
                g->id.p, mid.p);
        return m;
    }
    const char *msg = NULL;
    int16_t e = check_epoch(m, rq, &msg);
    if (e) {
        fail(out, e, msg);
        return NULL;
    }
    return m;
}

/* A static member joining: new, or taking over the instance id of a member
 * that left with epoch -2 (Kafka's replaceMember: the new member id takes
 * over the old one's assignment and target). NULL with out's error. */
static cg_member *hb_static_join(grp_group *g, const cg_hb_req *rq,
                                 proto_str mid, bool *is_new, recs *r,
                                 cg_hb_resp *out) {
    cg_member *old = find_static(g->cg, rq->instance_id);
    if (!old) {
        cg_member *m = find_member(g->cg, mid);
        if (!m) {
            m = add_member(g->cg, mid);
            *is_new = true;
        }
        SL_INFO("group",
                "[GroupId %s] Static member %s with instance id %s "
                "joins the consumer group using the consumer "
                "protocol.",
                g->id.p, mid.p, rq->instance_id.p);
        return m;
    }
    if (old->epoch != STATIC_LEAVE_EPOCH) {
        fail(out, KERR_UNRELEASED_INSTANCE_ID,
             "Static member cannot join the group "
             "because the instance id is owned by "
             "another member.");
        return NULL;
    }
    rec_remove_member(r, g->id, old);
    set_ps(&old->id, mid);
    old->epoch = 0;
    old->prev_epoch = 0;
    rec_member(r, g->id, old, false);
    rec_target_member(r, g->id, old, false);
    rec_current(r, g->id, old, false);
    SL_INFO("group",
            "[GroupId %s] Static member with instance id %s "
            "re-joins the consumer group using the consumer "
            "protocol. Created a new member %s to replace the "
            "existing member.",
            g->id.p, rq->instance_id.p, mid.p);
    return old;
}

/* A static member's heartbeat after its join: its instance id must be
 * known, held by this member id, at the expected epoch. NULL with out's
 * error. */
static cg_member *hb_static_member(grp_group *g, const cg_hb_req *rq,
                                   proto_str mid, cg_hb_resp *out) {
    cg_member *old = find_static(g->cg, rq->instance_id);
    if (!old) {
        fail(out, KERR_UNKNOWN_MEMBER_ID, "Instance id is unknown.");
        return NULL;
    }
    if (!gs_eq(old->id, mid)) {
        fail(out, KERR_FENCED_INSTANCE_ID,
             "The static member is fenced by an existing member.");
        return NULL;
    }
    const char *msg = NULL;
    int16_t e = check_epoch(old, rq, &msg);
    if (e) {
        fail(out, e, msg);
        return NULL;
    }
    return old;
}

/* Step 2: the member's changes (instance, rack, rebalance timeout,
 * assignor, subscription, client), recorded. Returns true if the group
 * epoch must be bumped: a new member, another subscription or assignor, a
 * regex now matching other topics, or topic metadata that changed. */
static bool hb_update_member(grp_coord *c, grp_group *g, cg_member *m,
                             const cg_hb_req *rq, bool is_new, recs *r) {
    cg_group *cg = g->cg;
    bool changed = is_new, bump = is_new;
    if (rq->instance_id.len >= 0 && !gs_eq(m->instance_id, rq->instance_id)) {
        set_ps(&m->instance_id, rq->instance_id);
        changed = true;
    }
    if (rq->rack_id.len >= 0 && !gs_eq(m->rack_id, rq->rack_id)) {
        set_ps(&m->rack_id, rq->rack_id);
        changed = true;
    }
    if (rq->rebalance_ms != -1 && m->rebalance_ms != rq->rebalance_ms) {
        m->rebalance_ms = rq->rebalance_ms;
        changed = true;
    }
    if (rq->assignor && !seq(m->assignor, rq->assignor)) {
        set_str(&m->assignor, rq->assignor);
        changed = bump = true;
    }
    if (rq->topics_set && topics_differ(m, rq)) {
        set_topics(m, rq);
        changed = bump = true;
    }
    if (rq->regex && !seq(m->regex, rq->regex)) {
        set_str(&m->regex, rq->regex);
        changed = bump = true;
    } else if (!rq->regex && rq->topics_set && m->regex) {
        /* subscribing by names drops the regex */
        set_str(&m->regex, NULL);
        changed = bump = true;
    }
    /* regex subscriptions follow topics being created and deleted */
    for (int i = 0; i < cg->n; i++)
        if (cg->m[i]->regex && resolve_regex(c, cg->m[i]))
            bump = true;
    if (!gs_eq(m->client_id, or_empty(rq->client_id))) {
        set_ps(&m->client_id, or_empty(rq->client_id));
        changed = true;
    }
    if (!gs_eq(m->client_host, or_empty(rq->client_host))) {
        set_ps(&m->client_host, or_empty(rq->client_host));
        changed = true;
    }
    if (changed)
        rec_member(r, g->id, m, false);
    /* metadata of the subscribed topics: checked on every heartbeat, so
     * created/deleted topics and added partitions reach the assignment
     * within a heartbeat interval */
    if (refresh_meta(c, g, r))
        bump = true;
    return bump;
}

/* Steps 3 and 4 and the answer: the target assignment when the group epoch
 * moved past it, the member reconciled towards it, its session renewed; the
 * assignment is sent when it changed or on a full request (a join, or one
 * with every field set after a client-side reset). */
static void hb_reconcile_and_answer(grp_coord *c, grp_group *g, cg_member *m,
                                    const cg_hb_req *rq, recs *r,
                                    cg_hb_resp *out) {
    cg_group *cg = g->cg;
    if (cg->group_epoch > cg->assignment_epoch)
        update_target(c, g, r);

    tpset before = {0};
    tpset_copy(&before, m->assigned.v, m->assigned.n);
    reconcile(c, g, m, rq, r);

    int32_t session_ms, hb_ms;
    session_and_interval(c, g->id, &session_ms, &hb_ms);
    m->session_deadline = now_ms() + session_ms;

    set_ps(&out->member_id, m->id);
    out->member_epoch = m->epoch;
    out->heartbeat_ms = hb_ms;
    bool full = rq->member_epoch == 0 ||
                (rq->rebalance_ms != -1 && rq->topics_set && rq->owned_set);
    if (full || !tpset_eq(&before, &m->assigned))
        answer_assignment(m, out);
    tpset_free(&before);
}

void grp_consumer_heartbeat(grp_coord *c, const cg_hb_req *rq,
                            cg_hb_resp *out) {
    memset(out, 0, sizeof *out);
    out->member_epoch = rq->member_epoch;
    out->member_id = gs_dup(or_empty(rq->member_id));
    if (!hb_acceptable(c, rq, out))
        return;
    grp_group *g = hb_group(c, rq, out);
    if (!g)
        return;

    recs r = {0};
    if (rq->member_epoch == LEAVE_EPOCH ||
        rq->member_epoch == STATIC_LEAVE_EPOCH) {
        leave(c, g, rq, out, &r);
        recs_flush(c, g, &r);
        return;
    }

    char made[64];
    proto_str mid = or_empty(rq->member_id);
    if (mid.len == 0) {
        make_member_id(c, made, sizeof made);
        mid = proto_str_c(made);
    }
    if (!hb_has_room(c, g->cg, mid, out))
        return;

    bool join = rq->member_epoch == 0, is_new = false;
    cg_member *m;
    if (rq->instance_id.len < 0) {
        m = hb_dynamic_member(g, rq, mid, &is_new, out);
    } else if (join) {
        m = hb_static_join(g, rq, mid, &is_new, &r, out);
    } else {
        m = hb_static_member(g, rq, mid, out);
        if (!m)
            recs_flush(c, g, &r);
    }
    if (!m)
        return;

    if (hb_update_member(c, g, m, rq, is_new, &r))
        bump_group_epoch(g, &r,
                         is_new ? "member joined" : "subscription changed");
    hb_reconcile_and_answer(c, g, m, rq, &r, out);
    recs_flush(c, g, &r);
}

void cg_hb_resp_free(cg_hb_resp *r) {
    gs_free(&r->member_id);
    free(r->assignment);
    r->assignment = NULL;
}

/* ---- timers ---------------------------------------------------------------
 */

void cg_tick(grp_coord *c, grp_group *g, int64_t now) {
    cg_group *cg = g->cg;
    recs r = {0};
    for (int i = cg->n - 1; i >= 0; i--) {
        cg_member *m = cg->m[i];
        if (m->session_deadline && now >= m->session_deadline) {
            fence_member(c, g, m, &r,
                         "fenced from the group because its session expired");
            i = cg->n;
            continue;
        }
        if (m->rebalance_deadline && now >= m->rebalance_deadline &&
            m->state == MS_UNREVOKED) {
            fence_member(c, g, m, &r,
                         "fenced from the group because it failed to "
                         "revoke partitions within the rebalance timeout");
            i = cg->n;
        }
    }
    recs_flush(c, g, &r);
}

void cg_loaded(grp_coord *c, grp_group *g) {
    int64_t now = now_ms();
    int32_t session_ms, hb_ms;
    session_and_interval(c, g->id, &session_ms, &hb_ms);
    for (int i = 0; i < g->cg->n; i++) {
        cg_member *m = g->cg->m[i];
        /* Kafka: every member gets a fresh session at load */
        m->session_deadline = now + session_ms;
        if (m->regex)
            resolve_regex(c, m);
        if (m->state == MS_UNREVOKED)
            m->rebalance_deadline =
                now + (m->rebalance_ms > 0 ? m->rebalance_ms : 300000);
    }
}

/* Set by the coordinator's owner (group/handlers.c) right after grp_new,
 * before __consumer_offsets is replayed, so the sessions given at load
 * (cg_loaded) use the configured timeout. */
void grp_consumer_set_env(grp_coord *c, const cg_env *env) {
    c->cg_env = *env;
}

/* ---- offsets --------------------------------------------------------------
 */

int16_t cg_validate_commit(const cg_group *cg, proto_str member_id,
                           int32_t epoch, int16_t api_version) {
    if (epoch < 0 && cg->n == 0)
        return KERR_NONE;
    const cg_member *m = find_member(cg, member_id);
    if (!m)
        return KERR_UNKNOWN_MEMBER_ID;
    if (api_version < 9)
        return KERR_UNSUPPORTED_VERSION;
    if (epoch != m->epoch)
        return KERR_STALE_MEMBER_EPOCH;
    return KERR_NONE;
}

int16_t grp_consumer_validate_fetch(const grp_group *g, proto_str member_id,
                                    int32_t epoch) {
    return cg_validate_fetch(g->cg, member_id, epoch);
}

int16_t cg_validate_fetch(const cg_group *cg, proto_str member_id,
                          int32_t epoch) {
    if (member_id.len < 0 && epoch < 0)
        return KERR_NONE;
    const cg_member *m = find_member(cg, member_id);
    if (!m)
        return KERR_UNKNOWN_MEMBER_ID;
    if (epoch != m->epoch)
        return KERR_STALE_MEMBER_EPOCH;
    return KERR_NONE;
}

/* ---- read access ----------------------------------------------------------
 */

void grp_consumer_info(const grp_coord *c, const grp_group *g, cg_info *out) {
    memset(out, 0, sizeof *out);
    const cg_group *cg = g->cg;
    out->state = group_state(cg);
    if (!cg)
        return;
    out->group_epoch = cg->group_epoch;
    out->assignment_epoch = cg->assignment_epoch;
    out->n_members = cg->n;
    out->assignor = group_assignor(c, cg);
}

static int member_order(const void *a, const void *b) {
    const cg_member *x = *(cg_member *const *)a;
    const cg_member *y = *(cg_member *const *)b;
    size_t n = (size_t)(x->id.len < y->id.len ? x->id.len : y->id.len);
    int r = memcmp(x->id.p, y->id.p, n);
    return r ? r : (x->id.len > y->id.len) - (x->id.len < y->id.len);
}

void grp_consumer_member(const grp_group *g, int i, cg_member_info *out) {
    /* members in member id order: stable output for describe */
    cg_group *cg = g->cg;
    qsort(cg->m, (size_t)cg->n, sizeof *cg->m, member_order);
    const cg_member *m = cg->m[i];
    out->member_id = m->id;
    out->instance_id = m->instance_id;
    out->rack_id = m->rack_id;
    out->client_id = or_empty(m->client_id);
    out->client_host = or_empty(m->client_host);
    out->member_epoch = m->epoch;
    out->n_topics = m->n_topics;
    out->topics = m->topics;
    out->regex = m->regex;
    out->n_assigned = m->assigned.n;
    out->assigned = m->assigned.v;
    out->n_target = m->target.n;
    out->target = m->target.v;
}

/* ---- replay ---------------------------------------------------------------
 */

static cg_group *replay_group(grp_coord *c, int32_t partition, proto_str gid,
                              bool create) {
    grp_group *g = grp_find(c, gid);
    if (!g) {
        if (!create)
            return NULL;
        g = grp_group_create(c, gid);
    }
    g->partition = partition;
    if (!g->cg) {
        if (!create)
            return NULL;
        g->cg = cg_new();
    }
    return g->cg;
}

static void set_from_topics(tpset *dst, const uint8_t (*ids)[16],
                            const int32_t *counts, int32_t *const *parts,
                            int nt) {
    tpset_free(dst);
    int cap = 0;
    for (int t = 0; t < nt; t++)
        for (int32_t k = 0; k < counts[t]; k++) {
            cg_tp tp;
            memcpy(tp.id, ids[t], 16);
            tp.part = parts[t][k];
            tpset_add(dst, &cap, &tp);
        }
    tpset_sort(dst);
}

#define REPLAY_TP(dst, arr)                                                    \
    do {                                                                       \
        int nt_ = (arr).n;                                                     \
        uint8_t(*ids_)[16] = xcalloc((size_t)(nt_ ? nt_ : 1), 16);             \
        int32_t *cnt_ = xcalloc((size_t)(nt_ ? nt_ : 1), sizeof *cnt_);        \
        int32_t **pp_ = xcalloc((size_t)(nt_ ? nt_ : 1), sizeof *pp_);         \
        for (int i_ = 0; i_ < nt_; i_++) {                                     \
            memcpy(ids_[i_], (arr).v[i_].topic_id.b, 16);                      \
            cnt_[i_] = (arr).v[i_].partitions.n;                               \
            pp_[i_] = (arr).v[i_].partitions.v;                                \
        }                                                                      \
        set_from_topics((dst), (const uint8_t(*)[16])ids_, cnt_, pp_, nt_);    \
        free(ids_);                                                            \
        free(cnt_);                                                            \
        free(pp_);                                                             \
    } while (0)

bool cg_replay(grp_coord *c, int32_t partition, int16_t kver,
               const uint8_t *key, size_t key_len, const uint8_t *value,
               size_t value_len) {
    arena a;
    arena_init(&a, 4096);
    bool ok = false;
    rd r, vr;
    rd_init(&r, key, key_len);
    (void)rd_be16(&r);
    int16_t vver = 0;
    if (value) {
        rd_init(&vr, value, value_len);
        vver = (int16_t)rd_be16(&vr);
        if (vr.err || vver != 0)
            goto out;
    }
    switch (kver) {
    case 3: {
        proto_consumer_group_metadata_key k;
        if (proto_consumer_group_metadata_key_decode(&r, &a, 3, &k))
            goto out;
        proto_str gid = k.group_id;
        if (!value) {
            grp_group *g = grp_find(c, gid);
            if (g && g->cg) {
                cg_free(g->cg);
                g->cg = NULL;
                if (g->n_offs == 0 && g->n == 0)
                    grp_group_remove(c, g);
            }
            ok = true;
            goto out;
        }
        proto_consumer_group_metadata_value v;
        if (proto_consumer_group_metadata_value_decode(&vr, &a, 0, &v))
            goto out;
        replay_group(c, partition, gid, true)->group_epoch = v.epoch;
        ok = true;
        break;
    }
    case 4: {
        proto_consumer_group_partition_metadata_key k;
        if (proto_consumer_group_partition_metadata_key_decode(&r, &a, 4, &k))
            goto out;
        proto_str gid = k.group_id;
        cg_group *cg = replay_group(c, partition, gid, value != NULL);
        if (!cg) {
            ok = true;
            goto out;
        }
        meta_free(cg);
        if (value) {
            proto_consumer_group_partition_metadata_value v;
            if (proto_consumer_group_partition_metadata_value_decode(&vr, &a, 0,
                                                                     &v))
                goto out;
            cg->meta = xcalloc((size_t)(v.topics.n ? v.topics.n : 1),
                               sizeof *cg->meta);
            for (int32_t i = 0; i < v.topics.n; i++) {
                cg->meta[i].name =
                    xstrdup(proto_str_dup(&a, v.topics.v[i].topic_name));
                memcpy(cg->meta[i].id, v.topics.v[i].topic_id.b, 16);
                cg->meta[i].n_parts = v.topics.v[i].num_partitions;
            }
            cg->n_meta = v.topics.n;
        }
        ok = true;
        break;
    }
    case 5: {
        proto_consumer_group_member_metadata_key k;
        if (proto_consumer_group_member_metadata_key_decode(&r, &a, 5, &k))
            goto out;
        proto_str gid = k.group_id;
        proto_str mid = k.member_id;
        cg_group *cg = replay_group(c, partition, gid, value != NULL);
        if (!cg) {
            ok = true;
            goto out;
        }
        cg_member *m = find_member(cg, mid);
        if (!value) {
            if (m)
                drop_member(cg, m);
            ok = true;
            goto out;
        }
        proto_consumer_group_member_metadata_value v;
        if (proto_consumer_group_member_metadata_value_decode(&vr, &a, 0, &v))
            goto out;
        if (!m)
            m = add_member(cg, mid);
        set_ps(&m->instance_id, v.instance_id);
        set_ps(&m->rack_id, v.rack_id);
        set_ps(&m->client_id, or_empty(v.client_id));
        set_ps(&m->client_host, or_empty(v.client_host));
        set_str(&m->regex, v.subscribed_topic_regex.len > 0
                               ? proto_str_dup(&a, v.subscribed_topic_regex)
                               : NULL);
        set_str(&m->assignor, v.server_assignor.len >= 0
                                  ? proto_str_dup(&a, v.server_assignor)
                                  : NULL);
        m->rebalance_ms = v.rebalance_timeout_ms;
        const char **names = xcalloc((size_t)(v.subscribed_topic_names.n
                                                  ? v.subscribed_topic_names.n
                                                  : 1),
                                     sizeof *names);
        for (int32_t i = 0; i < v.subscribed_topic_names.n; i++)
            names[i] = proto_str_dup(&a, v.subscribed_topic_names.v[i]);
        cg_hb_req fake = {.n_topics = v.subscribed_topic_names.n,
                          .topics = names};
        set_topics(m, &fake);
        free(names);
        ok = true;
        break;
    }
    case 6: {
        proto_consumer_group_target_assignment_metadata_key k;
        if (proto_consumer_group_target_assignment_metadata_key_decode(&r, &a,
                                                                       6, &k))
            goto out;
        proto_str gid = k.group_id;
        cg_group *cg = replay_group(c, partition, gid, value != NULL);
        if (cg && value) {
            proto_consumer_group_target_assignment_metadata_value v;
            if (proto_consumer_group_target_assignment_metadata_value_decode(
                    &vr, &a, 0, &v))
                goto out;
            cg->assignment_epoch = v.assignment_epoch;
        } else if (cg) {
            cg->assignment_epoch = 0;
        }
        ok = true;
        break;
    }
    case 7: {
        proto_consumer_group_target_assignment_member_key k;
        if (proto_consumer_group_target_assignment_member_key_decode(&r, &a, 7,
                                                                     &k))
            goto out;
        proto_str gid = k.group_id;
        proto_str mid = k.member_id;
        cg_group *cg = replay_group(c, partition, gid, value != NULL);
        cg_member *m = cg ? find_member(cg, mid) : NULL;
        if (value) {
            proto_consumer_group_target_assignment_member_value v;
            if (proto_consumer_group_target_assignment_member_value_decode(
                    &vr, &a, 0, &v))
                goto out;
            if (!m)
                m = add_member(cg, mid);
            REPLAY_TP(&m->target, v.topic_partitions);
        } else if (m) {
            tpset_free(&m->target);
        }
        ok = true;
        break;
    }
    case 8: {
        proto_consumer_group_current_member_assignment_key k;
        if (proto_consumer_group_current_member_assignment_key_decode(&r, &a, 8,
                                                                      &k))
            goto out;
        proto_str gid = k.group_id;
        proto_str mid = k.member_id;
        cg_group *cg = replay_group(c, partition, gid, value != NULL);
        cg_member *m = cg ? find_member(cg, mid) : NULL;
        if (value) {
            proto_consumer_group_current_member_assignment_value v;
            if (proto_consumer_group_current_member_assignment_value_decode(
                    &vr, &a, 0, &v))
                goto out;
            if (!m)
                m = add_member(cg, mid);
            m->epoch = v.member_epoch;
            m->prev_epoch = v.previous_member_epoch;
            m->state = v.state;
            REPLAY_TP(&m->assigned, v.assigned_partitions);
            REPLAY_TP(&m->revoking, v.partitions_pending_revocation);
        } else if (m) {
            m->epoch = 0;
            m->prev_epoch = 0;
            m->state = MS_STABLE;
            tpset_free(&m->assigned);
            tpset_free(&m->revoking);
        }
        ok = true;
        break;
    }
    default:
        ok = true; /* share / streams group records: not ours */
        break;
    }
out:
    arena_free(&a);
    return ok;
}
