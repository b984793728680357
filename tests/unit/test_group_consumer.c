/*
 * test_group_consumer.c - KIP-848 consumer groups (src/group/consumer.c,
 * assignor.c) driven by hand: the assignors on plain arrays, and the
 * coordinator with a manual clock, fake topic metadata and an in-memory
 * record store (replayed into a second coordinator to check persistence).
 */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/util.h"
#include "group/assignor.h"
#include "group/consumer.h"
#include "group/group.h"
#include "proto/errors.h"
#include "test.h"

/* ---- assignors ------------------------------------------------------------
 */

static void tid(uint8_t id[16], int n) {
    memset(id, 0, 16);
    id[15] = (uint8_t)n;
}

static int count_topic(const asg_member *m, int t) {
    int k = 0;
    for (int i = 0; i < m->n_out; i++)
        k += m->out[i].id[15] == t;
    return k;
}

TEST(cg_range_assignor_co_partitions) {
    asg_topic ts[2] = {{{0}, "a", 3}, {{0}, "b", 3}};
    tid(ts[0].id, 1);
    tid(ts[1].id, 2);
    int both[2] = {0, 1};
    asg_member ms[2] = {{.id = "m2", .n_topics = 2, .topics = both},
                        {.id = "m1", .n_topics = 2, .topics = both}};
    asg_assign("range", ms, 2, ts, 2);
    /* sorted by member id: m1 first gets 0,1 of each topic */
    CHECK_EQ(ms[1].n_out, 4);
    CHECK_EQ(ms[0].n_out, 2);
    CHECK_EQ(ms[1].out[0].part, 0);
    CHECK_EQ(ms[1].out[1].part, 1);
    CHECK_EQ(ms[1].out[2].part, 0);
    CHECK_EQ(ms[0].out[0].part, 2);
    CHECK_EQ(ms[0].out[1].part, 2);
    asg_free(ms, 2);
    /* static members sort first, by instance id */
    asg_member st[2] = {
        {.id = "a", .n_topics = 2, .topics = both},
        {.id = "z", .instance_id = "i", .n_topics = 2, .topics = both}};
    asg_assign("range", st, 2, ts, 2);
    CHECK_EQ(st[1].n_out, 4);
    CHECK_EQ(st[1].out[0].part, 0);
    asg_free(st, 2);
}

TEST(cg_uniform_assignor_balanced_and_sticky) {
    asg_topic ts[1] = {{{0}, "t", 7}};
    tid(ts[0].id, 1);
    int one[1] = {0};
    asg_member ms[3] = {{.id = "a", .n_topics = 1, .topics = one},
                        {.id = "b", .n_topics = 1, .topics = one},
                        {.id = "c", .n_topics = 1, .topics = one}};
    asg_assign("uniform", ms, 3, ts, 1);
    int total = 0;
    for (int i = 0; i < 3; i++) {
        CHECK(ms[i].n_out == 2 || ms[i].n_out == 3);
        total += ms[i].n_out;
    }
    CHECK_EQ(total, 7);
    /* a fourth member: the others keep what they had, up to their quota */
    cg_tp *prev[3];
    int nprev[3];
    for (int i = 0; i < 3; i++) {
        prev[i] = ms[i].out;
        nprev[i] = ms[i].n_out;
        ms[i].out = NULL;
    }
    asg_member m4[4] = {{.id = "a",
                         .n_topics = 1,
                         .topics = one,
                         .n_current = nprev[0],
                         .current = prev[0]},
                        {.id = "b",
                         .n_topics = 1,
                         .topics = one,
                         .n_current = nprev[1],
                         .current = prev[1]},
                        {.id = "c",
                         .n_topics = 1,
                         .topics = one,
                         .n_current = nprev[2],
                         .current = prev[2]},
                        {.id = "d", .n_topics = 1, .topics = one}};
    asg_assign("uniform", m4, 4, ts, 1);
    total = 0;
    for (int i = 0; i < 4; i++) {
        CHECK(m4[i].n_out == 1 || m4[i].n_out == 2);
        total += m4[i].n_out;
    }
    CHECK_EQ(total, 7);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < m4[i].n_out; k++)
            CHECK(cg_tp_has(prev[i], nprev[i], m4[i].out[k].id,
                            m4[i].out[k].part));
    for (int i = 0; i < 3; i++)
        free(prev[i]);
    asg_free(m4, 4);
}

TEST(cg_uniform_assignor_heterogeneous) {
    asg_topic ts[2] = {{{0}, "a", 4}, {{0}, "b", 2}};
    tid(ts[0].id, 1);
    tid(ts[1].id, 2);
    int ab[2] = {0, 1}, b[1] = {1};
    asg_member ms[2] = {{.id = "x", .n_topics = 2, .topics = ab},
                        {.id = "y", .n_topics = 1, .topics = b}};
    asg_assign("uniform", ms, 2, ts, 2);
    CHECK_EQ(count_topic(&ms[1], 1), 0); /* y is not subscribed to a */
    CHECK_EQ(count_topic(&ms[0], 1), 4);
    CHECK_EQ(count_topic(&ms[0], 2) + count_topic(&ms[1], 2), 2);
    CHECK_EQ(count_topic(&ms[1], 2), 2); /* balanced: 4 vs 2 */
    asg_free(ms, 2);
}

/* ---- the coordinator ------------------------------------------------------
 */

typedef struct rec {
    int32_t p;
    uint8_t *k, *v;
    size_t kl, vl;
} rec;

typedef struct env {
    clk_manual clk;
    grp_coord *c;
    rec *recs;
    int n, cap;
    int32_t parts; /* partitions of topic "t" */
} env;

static int16_t env_append(void *ctx, int32_t p, const grp_record *r, int n) {
    env *e = ctx;
    for (int i = 0; i < n; i++) {
        if (e->n == e->cap) {
            e->cap = e->cap ? e->cap * 2 : 64;
            e->recs = xrealloc(e->recs, (size_t)e->cap * sizeof *e->recs);
        }
        rec *x = &e->recs[e->n++];
        x->p = p;
        x->k = xmalloc(r[i].key_len);
        memcpy(x->k, r[i].key, r[i].key_len);
        x->kl = r[i].key_len;
        x->v = NULL;
        x->vl = 0;
        if (r[i].value) {
            x->v = xmalloc(r[i].value_len + 1);
            memcpy(x->v, r[i].value, r[i].value_len);
            x->vl = r[i].value_len;
        }
    }
    return KERR_NONE;
}

static bool env_topic(void *ctx, const char *name, uint8_t id[16],
                      int32_t *np) {
    env *e = ctx;
    if (strcmp(name, "t"))
        return false;
    tid(id, 1);
    *np = e->parts;
    return true;
}

static grp_coord *env_coord(env *e) {
    grp_config cfg;
    grp_config_default(&cfg);
    cfg.num_partitions = 1;
    grp_store st = {env_append, e};
    grp_coord *c = grp_new(&cfg, &st);
    grp_set_partition_state(c, 0, GRP_PART_ACTIVE);
    cg_env ce = {.topic_by_name = env_topic,
                 .ctx = e,
                 .heartbeat_ms = 500,
                 .session_ms = 6000,
                 .max_size = 3,
                 .n_assignors = 2,
                 .assignors = {"uniform", "range"},
                 .enabled = true};
    grp_consumer_set_env(c, &ce);
    return c;
}

static void env_init(env *e, int32_t parts) {
    memset(e, 0, sizeof *e);
    clk_manual_install(&e->clk);
    e->parts = parts;
    e->c = env_coord(e);
}

static void env_free(env *e) {
    grp_free(e->c);
    for (int i = 0; i < e->n; i++) {
        free(e->recs[i].k);
        free(e->recs[i].v);
    }
    free(e->recs);
    clk_set(NULL);
}

static const char *T[] = {"t"};

/* One heartbeat; owned: partitions of topic t (n < 0: null). */
static cg_hb_resp hb(env *e, const char *member, int32_t epoch,
                     const char *instance, const int32_t *owned, int n) {
    cg_owned o;
    tid(o.id, 1);
    o.n = n;
    o.parts = owned;
    cg_hb_req rq = {.group_id = proto_str_c("g"),
                    .member_id = proto_str_c(member),
                    .member_epoch = epoch,
                    .instance_id = proto_str_c(instance),
                    .rack_id = PROTO_STR_NULL,
                    .rebalance_ms = epoch == 0 ? 30000 : -1,
                    .topics_set = epoch == 0,
                    .n_topics = epoch == 0 ? 1 : 0,
                    .topics = T,
                    .owned_set = n >= 0,
                    .n_owned = n > 0 ? 1 : 0,
                    .owned = &o,
                    .client_id = proto_str_c("c"),
                    .client_host = proto_str_c("/h"),
                    .api_version = 1};
    cg_hb_resp r;
    grp_consumer_heartbeat(e->c, &rq, &r);
    return r;
}

static int parts_of(const cg_hb_resp *r, int32_t *out) {
    for (int i = 0; i < r->n_assignment; i++)
        out[i] = r->assignment[i].part;
    return r->n_assignment;
}

TEST(cg_reconcile_revoke_before_assign) {
    env e;
    env_init(&e, 4);
    cg_hb_resp a = hb(&e, "A", 0, NULL, NULL, 0);
    CHECK_EQ(a.error, 0);
    CHECK_EQ(a.member_epoch, 1);
    CHECK_EQ(a.n_assignment, 4);
    CHECK_EQ(a.heartbeat_ms, 500);
    cg_hb_resp_free(&a);
    cg_hb_resp b = hb(&e, "B", 0, NULL, NULL, 0);
    CHECK_EQ(b.error, 0);
    CHECK_EQ(b.member_epoch, 2);
    CHECK(b.has_assignment);
    CHECK_EQ(b.n_assignment, 0); /* A still owns everything */
    cg_hb_resp_free(&b);
    int32_t all[4] = {0, 1, 2, 3}, kept[4];
    a = hb(&e, "A", 1, NULL, all, 4);
    CHECK_EQ(a.member_epoch, 1); /* revoking: epoch held */
    CHECK(a.has_assignment);
    int nk = parts_of(&a, kept);
    CHECK_EQ(nk, 2);
    cg_hb_resp_free(&a);
    b = hb(&e, "B", 2, NULL, NULL, -1);
    CHECK_EQ(b.n_assignment, 0);
    CHECK(!b.has_assignment);
    cg_hb_resp_free(&b);
    /* a heartbeat still listing the revoked partitions changes nothing */
    a = hb(&e, "A", 1, NULL, all, 4);
    CHECK_EQ(a.member_epoch, 1);
    cg_hb_resp_free(&a);
    a = hb(&e, "A", 1, NULL, kept, nk);
    CHECK_EQ(a.member_epoch, 2);
    cg_hb_resp_free(&a);
    b = hb(&e, "B", 2, NULL, NULL, 0);
    CHECK_EQ(b.n_assignment, 2);
    for (int i = 0; i < b.n_assignment; i++)
        for (int k = 0; k < nk; k++)
            CHECK(b.assignment[i].part != kept[k]);
    cg_hb_resp_free(&b);
    grp_group *g = grp_find(e.c, proto_str_c("g"));
    cg_info ci;
    grp_consumer_info(e.c, g, &ci);
    CHECK_STR(ci.state, "Stable");
    CHECK_EQ(ci.group_epoch, 2);
    CHECK_EQ(ci.assignment_epoch, 2);
    CHECK_STR(ci.assignor, "uniform");
    env_free(&e);
}

TEST(cg_errors_and_fencing) {
    env e;
    env_init(&e, 2);
    cg_hb_resp a = hb(&e, "A", 0, NULL, NULL, 0);
    cg_hb_resp_free(&a);
    a = hb(&e, "A", 5, NULL, NULL, -1);
    CHECK_EQ(a.error, KERR_FENCED_MEMBER_EPOCH);
    cg_hb_resp_free(&a);
    a = hb(&e, "X", 1, NULL, NULL, -1);
    CHECK_EQ(a.error, KERR_UNKNOWN_MEMBER_ID);
    cg_hb_resp_free(&a);
    a = hb(&e, "", 0, NULL, NULL, 0);
    CHECK_EQ(a.error, KERR_INVALID_REQUEST);
    cg_hb_resp_free(&a);
    /* group.consumer.max.size 3 */
    cg_hb_resp r = hb(&e, "B", 0, NULL, NULL, 0);
    int32_t eb = r.member_epoch;
    cg_hb_resp_free(&r);
    r = hb(&e, "C", 0, NULL, NULL, 0);
    int32_t ec = r.member_epoch;
    cg_hb_resp_free(&r);
    r = hb(&e, "D", 0, NULL, NULL, 0);
    CHECK_EQ(r.error, KERR_GROUP_MAX_SIZE_REACHED);
    cg_hb_resp_free(&r);
    /* session timeout: A stops heartbeating and is fenced */
    grp_group *g = grp_find(e.c, proto_str_c("g"));
    cg_info ci;
    grp_consumer_info(e.c, g, &ci);
    CHECK_EQ(ci.n_members, 3);
    int32_t ep = ci.group_epoch;
    clk_manual_advance_ms(&e.clk, 3000);
    r = hb(&e, "B", eb, NULL, NULL, -1);
    CHECK_EQ(r.error, 0);
    cg_hb_resp_free(&r);
    r = hb(&e, "C", ec, NULL, NULL, -1);
    CHECK_EQ(r.error, 0);
    cg_hb_resp_free(&r);
    clk_manual_advance_ms(&e.clk, 3500);
    grp_tick(e.c);
    grp_consumer_info(e.c, g, &ci);
    CHECK_EQ(ci.n_members, 2);
    CHECK_EQ(ci.group_epoch, ep + 1);
    a = hb(&e, "A", 1, NULL, NULL, -1);
    CHECK_EQ(a.error, KERR_UNKNOWN_MEMBER_ID);
    cg_hb_resp_free(&a);
    /* commits carry the member epoch */
    cg_member_info mi;
    grp_consumer_member(g, 0, &mi);
    int32_t mep = mi.member_epoch;
    grp_commit_in in = {.topic = "t",
                        .topic_len = 1,
                        .offset = 3,
                        .leader_epoch = -1,
                        .expire_ts = -1};
    grp_commit(e.c, proto_str_c("g"), mep, mi.member_id, proto_str_c(NULL), &in,
               1, 9);
    CHECK_EQ(in.error, 0);
    in.error = 0;
    grp_commit(e.c, proto_str_c("g"), mep + 1, mi.member_id, proto_str_c(NULL),
               &in, 1, 9);
    CHECK_EQ(in.error, KERR_STALE_MEMBER_EPOCH);
    in.error = 0;
    grp_commit(e.c, proto_str_c("g"), mep, proto_str_c("nobody"),
               proto_str_c(NULL), &in, 1, 9);
    CHECK_EQ(in.error, KERR_UNKNOWN_MEMBER_ID);
    in.error = 0;
    grp_commit(e.c, proto_str_c("g"), -1, proto_str_c(""), proto_str_c(NULL),
               &in, 1, 9);
    CHECK_EQ(in.error, KERR_UNKNOWN_MEMBER_ID);
    CHECK_EQ(grp_delete_group(e.c, proto_str_c("g")), KERR_NON_EMPTY_GROUP);
    /* TxnOffsetCommit's member check */
    CHECK_EQ(grp_txn_commit_check(e.c, proto_str_c("g"), mi.member_id, mep), 0);
    CHECK_EQ(grp_txn_commit_check(e.c, proto_str_c("g"), mi.member_id, mep + 1),
             KERR_ILLEGAL_GENERATION);
    CHECK_EQ(
        grp_txn_commit_check(e.c, proto_str_c("g"), proto_str_c("nobody"), mep),
        KERR_UNKNOWN_MEMBER_ID);
    env_free(&e);
}

TEST(cg_static_member_replaced_and_replayed) {
    env e;
    env_init(&e, 4);
    cg_hb_resp a = hb(&e, "A", 0, "ia", NULL, 0);
    CHECK_EQ(a.n_assignment, 4);
    cg_hb_resp_free(&a);
    cg_hb_resp x = hb(&e, "A2", 0, "ia", NULL, 0);
    CHECK_EQ(x.error, KERR_UNRELEASED_INSTANCE_ID);
    cg_hb_resp_free(&x);
    a = hb(&e, "A", -2, "ia", NULL, -1);
    CHECK_EQ(a.error, 0);
    CHECK_EQ(a.member_epoch, -2);
    cg_hb_resp_free(&a);
    x = hb(&e, "A2", 0, "ia", NULL, 0);
    CHECK_EQ(x.error, 0);
    CHECK_EQ(x.member_epoch, 1); /* no new group epoch */
    CHECK_EQ(x.n_assignment, 4);
    cg_hb_resp_free(&x);

    /* replay the records into a fresh coordinator: same group */
    env e2;
    memset(&e2, 0, sizeof e2);
    e2.parts = 4;
    grp_coord *c2 = env_coord(&e2);
    grp_set_partition_state(c2, 0, GRP_PART_LOADING);
    for (int i = 0; i < e.n; i++)
        CHECK(grp_replay(c2, 0, e.recs[i].k, e.recs[i].kl, e.recs[i].v,
                         e.recs[i].vl));
    grp_partition_loaded(c2, 0);
    grp_set_partition_state(c2, 0, GRP_PART_ACTIVE);
    grp_group *g2 = grp_find(c2, proto_str_c("g"));
    CHECK(g2 && grp_is_consumer(g2));
    cg_info ci;
    grp_consumer_info(c2, g2, &ci);
    CHECK_EQ(ci.n_members, 1);
    CHECK_EQ(ci.group_epoch, 1);
    CHECK_EQ(ci.assignment_epoch, 1);
    cg_member_info mi;
    grp_consumer_member(g2, 0, &mi);
    CHECK_STR(mi.member_id.p, "A2");
    CHECK_STR(mi.instance_id.p, "ia");
    CHECK_EQ(mi.member_epoch, 1);
    CHECK_EQ(mi.n_assigned, 4);
    CHECK_EQ(mi.n_target, 4);
    CHECK_EQ(mi.n_topics, 1);
    /* the member heartbeats on against the new coordinator */
    grp_coord *c1 = e.c;
    e.c = c2;
    int32_t all[4] = {0, 1, 2, 3};
    x = hb(&e, "A2", 1, "ia", all, 4);
    CHECK_EQ(x.error, 0);
    CHECK_EQ(x.member_epoch, 1);
    cg_hb_resp_free(&x);
    e.c = c1;
    grp_free(c2);
    for (int i = 0; i < e2.n; i++) {
        free(e2.recs[i].k);
        free(e2.recs[i].v);
    }
    free(e2.recs);
    env_free(&e);
}

TEST(cg_new_partitions_reassigned) {
    env e;
    env_init(&e, 2);
    cg_hb_resp a = hb(&e, "A", 0, NULL, NULL, 0);
    CHECK_EQ(a.n_assignment, 2);
    cg_hb_resp_free(&a);
    e.parts = 5; /* CreatePartitions */
    int32_t own[2] = {0, 1};
    a = hb(&e, "A", 1, NULL, own, 2);
    CHECK_EQ(a.member_epoch, 2);
    CHECK_EQ(a.n_assignment, 5);
    cg_hb_resp_free(&a);
    env_free(&e);
}
