/*
 * assignor.c - uniform and range server-side assignors (see assignor.h).
 */
#include "group/assignor.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

int cg_tp_cmp(const void *a, const void *b) {
    const cg_tp *x = a, *y = b;
    int c = memcmp(x->id, y->id, 16);
    if (c)
        return c;
    return (x->part > y->part) - (x->part < y->part);
}

bool cg_tp_has(const cg_tp *set, int n, const uint8_t id[16], int32_t part) {
    cg_tp k;
    memcpy(k.id, id, 16);
    k.part = part;
    return n > 0 && bsearch(&k, set, (size_t)n, sizeof *set, cg_tp_cmp);
}

bool asg_known(const char *name) {
    return name && (!strcmp(name, "uniform") || !strcmp(name, "range"));
}

static void out_add(asg_member *m, const uint8_t id[16], int32_t part,
                    int *cap) {
    if (m->n_out == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        m->out = xrealloc(m->out, (size_t)*cap * sizeof *m->out);
    }
    memcpy(m->out[m->n_out].id, id, 16);
    m->out[m->n_out].part = part;
    m->n_out++;
}

static bool subscribed(const asg_member *m, int t) {
    for (int i = 0; i < m->n_topics; i++)
        if (m->topics[i] == t)
            return true;
    return false;
}

/* ---- range ----------------------------------------------------------------
 */

static int range_order(const void *a, const void *b) {
    const asg_member *x = *(asg_member *const *)a;
    const asg_member *y = *(asg_member *const *)b;
    if (x->instance_id && y->instance_id)
        return strcmp(x->instance_id, y->instance_id);
    if (x->instance_id)
        return -1;
    if (y->instance_id)
        return 1;
    return strcmp(x->id, y->id);
}

static void assign_range(asg_member *ms, int n, const asg_topic *ts, int nt,
                         int *caps) {
    asg_member **sorted = xcalloc((size_t)(n ? n : 1), sizeof *sorted);
    for (int i = 0; i < n; i++)
        sorted[i] = &ms[i];
    qsort(sorted, (size_t)n, sizeof *sorted, range_order);
    for (int t = 0; t < nt; t++) {
        int subs = 0;
        for (int i = 0; i < n; i++)
            subs += subscribed(sorted[i], t);
        if (!subs)
            continue;
        int32_t quota = ts[t].n_parts / subs, extra = ts[t].n_parts % subs;
        int32_t next = 0;
        for (int i = 0; i < n; i++) {
            if (!subscribed(sorted[i], t))
                continue;
            int32_t q = quota + (extra > 0 ? 1 : 0);
            if (extra > 0)
                extra--;
            for (int32_t p = next; p < next + q && p < ts[t].n_parts; p++)
                out_add(sorted[i], ts[t].id, p, &caps[sorted[i] - ms]);
            next += q;
        }
    }
    free(sorted);
}

/* ---- uniform --------------------------------------------------------------
 */

static int find_topic(const asg_topic *ts, int nt, const uint8_t id[16]) {
    for (int t = 0; t < nt; t++)
        if (!memcmp(ts[t].id, id, 16))
            return t;
    return -1;
}

static int by_load_desc(const void *a, const void *b) {
    const asg_member *x = *(asg_member *const *)a;
    const asg_member *y = *(asg_member *const *)b;
    if (x->n_current != y->n_current)
        return y->n_current - x->n_current;
    return strcmp(x->id, y->id);
}

static bool homogeneous(const asg_member *ms, int n) {
    for (int i = 1; i < n; i++) {
        if (ms[i].n_topics != ms[0].n_topics)
            return false;
        for (int k = 0; k < ms[i].n_topics; k++)
            if (!subscribed(&ms[0], ms[i].topics[k]))
                return false;
    }
    return true;
}

/* Kafka's UniformHomogeneousAssignmentBuilder: every member keeps its
 * partitions up to its quota; the rest (and those nobody holds) fill the
 * members below quota. Members holding the most get the extra partitions
 * first, so fewer partitions move. */
static void assign_uniform_homogeneous(asg_member *ms, int n,
                                       const asg_topic *ts, int nt, int *caps) {
    int64_t total = 0;
    for (int k = 0; k < ms[0].n_topics; k++)
        total += ts[ms[0].topics[k]].n_parts;
    if (total == 0)
        return;
    asg_member **order = xcalloc((size_t)n, sizeof *order);
    for (int i = 0; i < n; i++)
        order[i] = &ms[i];
    qsort(order, (size_t)n, sizeof *order, by_load_desc);
    int64_t minq = total / n, extra = total % n;
    /* taken[t][p]: held by someone after the keep phase */
    bool **taken = xcalloc((size_t)(nt ? nt : 1), sizeof *taken);
    for (int t = 0; t < nt; t++)
        taken[t] = xcalloc((size_t)(ts[t].n_parts ? ts[t].n_parts : 1), 1);
    int64_t *room = xcalloc((size_t)n, sizeof *room);
    for (int i = 0; i < n; i++) {
        asg_member *m = order[i];
        int64_t q = minq + (extra > 0 ? 1 : 0);
        if (extra > 0)
            extra--;
        for (int k = 0; k < m->n_current && q > 0; k++) {
            int t = find_topic(ts, nt, m->current[k].id);
            int32_t p = m->current[k].part;
            if (t < 0 || !subscribed(m, t) || p >= ts[t].n_parts || taken[t][p])
                continue;
            taken[t][p] = true;
            out_add(m, ts[t].id, p, &caps[m - ms]);
            q--;
        }
        room[i] = q;
    }
    int i = 0;
    for (int k = 0; k < ms[0].n_topics; k++) {
        int t = ms[0].topics[k];
        for (int32_t p = 0; p < ts[t].n_parts; p++) {
            if (taken[t][p])
                continue;
            while (i < n && room[i] == 0)
                i++;
            if (i == n)
                break;
            out_add(order[i], ts[t].id, p, &caps[order[i] - ms]);
            room[i]--;
        }
    }
    for (int t = 0; t < nt; t++)
        free(taken[t]);
    free(taken);
    free(room);
    free(order);
}

/* Members subscribe to different topics: keep what is still subscribed,
 * give each free partition to the least loaded subscriber, then move
 * partitions from a member to a subscriber holding two or more fewer until
 * no such move is left (bounded). */
static void assign_uniform_heterogeneous(asg_member *ms, int n,
                                         const asg_topic *ts, int nt,
                                         int *caps) {
    int **owner = xcalloc((size_t)(nt ? nt : 1), sizeof *owner);
    for (int t = 0; t < nt; t++) {
        owner[t] = xmalloc((size_t)(ts[t].n_parts ? ts[t].n_parts : 1) *
                           sizeof **owner);
        for (int32_t p = 0; p < ts[t].n_parts; p++)
            owner[t][p] = -1;
    }
    int *load = xcalloc((size_t)n, sizeof *load);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < ms[i].n_current; k++) {
            int t = find_topic(ts, nt, ms[i].current[k].id);
            int32_t p = ms[i].current[k].part;
            if (t < 0 || !subscribed(&ms[i], t) || p >= ts[t].n_parts ||
                owner[t][p] >= 0)
                continue;
            owner[t][p] = i;
            load[i]++;
        }
    for (int t = 0; t < nt; t++)
        for (int32_t p = 0; p < ts[t].n_parts; p++) {
            if (owner[t][p] >= 0)
                continue;
            int best = -1;
            for (int i = 0; i < n; i++)
                if (subscribed(&ms[i], t) &&
                    (best < 0 || load[i] < load[best] ||
                     (load[i] == load[best] &&
                      strcmp(ms[i].id, ms[best].id) < 0)))
                    best = i;
            if (best >= 0) {
                owner[t][p] = best;
                load[best]++;
            }
        }
    for (int round = 0; round < 100000; round++) {
        bool moved = false;
        for (int t = 0; t < nt && !moved; t++)
            for (int32_t p = ts[t].n_parts - 1; p >= 0 && !moved; p--) {
                int o = owner[t][p];
                if (o < 0)
                    continue;
                for (int i = 0; i < n; i++)
                    if (i != o && subscribed(&ms[i], t) &&
                        load[i] + 1 < load[o]) {
                        owner[t][p] = i;
                        load[o]--;
                        load[i]++;
                        moved = true;
                        break;
                    }
            }
        if (!moved)
            break;
    }
    for (int t = 0; t < nt; t++)
        for (int32_t p = 0; p < ts[t].n_parts; p++)
            if (owner[t][p] >= 0)
                out_add(&ms[owner[t][p]], ts[t].id, p, &caps[owner[t][p]]);
    for (int t = 0; t < nt; t++)
        free(owner[t]);
    free(owner);
    free(load);
}

void asg_assign(const char *assignor, asg_member *ms, int n,
                const asg_topic *ts, int nt) {
    for (int i = 0; i < n; i++) {
        ms[i].n_out = 0;
        ms[i].out = NULL;
    }
    if (n == 0)
        return;
    int *caps = xcalloc((size_t)n, sizeof *caps);
    if (assignor && !strcmp(assignor, "range"))
        assign_range(ms, n, ts, nt, caps);
    else if (homogeneous(ms, n))
        assign_uniform_homogeneous(ms, n, ts, nt, caps);
    else
        assign_uniform_heterogeneous(ms, n, ts, nt, caps);
    for (int i = 0; i < n; i++)
        if (ms[i].n_out > 1)
            qsort(ms[i].out, (size_t)ms[i].n_out, sizeof *ms[i].out, cg_tp_cmp);
    free(caps);
}

void asg_free(asg_member *ms, int n) {
    for (int i = 0; i < n; i++) {
        free(ms[i].out);
        ms[i].out = NULL;
        ms[i].n_out = 0;
    }
}
