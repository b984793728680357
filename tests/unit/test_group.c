/*
 * test_group.c - the classic group coordinator state machine (src/group/
 * group.c) driven by hand: a manual clock, an in-memory record store, and
 * callbacks that keep the last answer of each "client".
 */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/util.h"
#include "group/group.h"
#include "proto/errors.h"
#include "test.h"

/* ---- fixtures ---------------------------------------------------------------
 */

typedef struct mem_rec {
    int32_t partition;
    uint8_t *key;
    size_t key_len;
    uint8_t *val; /* NULL: tombstone */
    size_t val_len;
} mem_rec;

typedef struct mem_store {
    mem_rec *v;
    int n, cap;
    int16_t fail; /* next append fails with this */
} mem_store;

static int16_t mem_append(void *ctx, int32_t p, const grp_record *r, int n) {
    mem_store *s = ctx;
    if (s->fail)
        return s->fail;
    for (int i = 0; i < n; i++) {
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 16;
            s->v = xrealloc(s->v, (size_t)s->cap * sizeof *s->v);
        }
        mem_rec *m = &s->v[s->n++];
        m->partition = p;
        m->key = xmalloc(r[i].key_len);
        memcpy(m->key, r[i].key, r[i].key_len);
        m->key_len = r[i].key_len;
        m->val = NULL;
        m->val_len = 0;
        if (r[i].value) {
            m->val = xmalloc(r[i].value_len + 1);
            memcpy(m->val, r[i].value, r[i].value_len);
            m->val_len = r[i].value_len;
        }
    }
    return KERR_NONE;
}

static void mem_free(mem_store *s) {
    for (int i = 0; i < s->n; i++) {
        free(s->v[i].key);
        free(s->v[i].val);
    }
    free(s->v);
}

typedef struct env {
    clk_manual clk;
    mem_store store;
    grp_coord *c;
    grp_config cfg;
} env;

static void env_init(env *e, int32_t initial_delay) {
    memset(e, 0, sizeof *e);
    e->clk.mono_ns = 1000000000LL;
    e->clk.wall_ms = 1700000000000LL;
    clk_manual_install(&e->clk);
    grp_config_default(&e->cfg);
    e->cfg.num_partitions = 4;
    e->cfg.initial_delay_ms = initial_delay;
    e->cfg.min_session_ms = 1000;
    grp_store st = {mem_append, &e->store};
    e->c = grp_new(&e->cfg, &st);
    for (int p = 0; p < 4; p++)
        grp_set_partition_state(e->c, p, GRP_PART_ACTIVE);
}

static void env_free(env *e) {
    grp_free(e->c);
    mem_free(&e->store);
    clk_set(NULL);
}

static void advance(env *e, int64_t ms) {
    /* tick in small steps, like the broker's 50 ms timer */
    while (ms > 0) {
        int64_t d = ms < 50 ? ms : 50;
        clk_manual_advance_ms(&e->clk, d);
        ms -= d;
        grp_tick(e->c);
    }
}

/* One client's last answers. */
typedef struct client {
    const char *name;
    char member_id[128];
    int joins, syncs;
    int16_t join_err, sync_err;
    int32_t generation;
    char leader[128];
    char protocol[32];
    int n_members;
    bool skip;
    char assignment[64];
} client;

static void on_join(void *ctx, const grp_join_result *r) {
    client *c = ctx;
    c->joins++;
    c->join_err = r->error;
    if (r->member_id.len > 0)
        snprintf(c->member_id, sizeof c->member_id, "%.*s", r->member_id.len,
                 r->member_id.p);
    c->generation = r->generation;
    snprintf(c->leader, sizeof c->leader, "%.*s",
             r->leader.len > 0 ? r->leader.len : 0, r->leader.p);
    snprintf(c->protocol, sizeof c->protocol, "%s",
             r->protocol_name.len > 0 ? r->protocol_name.p : "");
    c->n_members = r->n_members;
    c->skip = r->skip_assignment;
}

static void on_sync(void *ctx, const grp_sync_result *r) {
    client *c = ctx;
    c->syncs++;
    c->sync_err = r->error;
    snprintf(c->assignment, sizeof c->assignment, "%.*s",
             (int)r->assignment_len,
             r->assignment ? (const char *)r->assignment : "");
}

static void join_as(env *e, client *cl, const char *group, const char *instance,
                    int32_t session, const char *protos) {
    /* protos: comma-separated protocol names, metadata = name */
    grp_protocol_in p[4];
    int n = 0;
    const char *s = protos;
    while (*s && n < 4) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        p[n].name = s;
        p[n].name_len = len;
        p[n].metadata = (const uint8_t *)s;
        p[n].metadata_len = (int32_t)len;
        n++;
        s += len + (comma ? 1 : 0);
    }
    grp_join_req rq = {
        .group_id = proto_str_c(group),
        .member_id = proto_str_c(cl->member_id),
        .instance_id = proto_str_c(instance),
        .client_id = proto_str_c(cl->name),
        .client_host = proto_str_c("/127.0.0.1"),
        .protocol_type = proto_str_c("consumer"),
        .session_timeout_ms = session,
        .rebalance_timeout_ms = 5000,
        .n_protocols = n,
        .protocols = p,
        .require_known_member_id = true,
        .supports_skip_assignment = true,
    };
    grp_join(e->c, &rq, on_join, cl);
}

static void sync_as(env *e, client *cl, const char *group, int n, client **who,
                    const char **assign) {
    grp_assignment_in a[8];
    for (int i = 0; i < n; i++) {
        a[i].member_id = who[i]->member_id;
        a[i].member_id_len = strlen(who[i]->member_id);
        a[i].assignment = (const uint8_t *)assign[i];
        a[i].assignment_len = (int32_t)strlen(assign[i]);
    }
    grp_sync_req rq = {.group_id = proto_str_c(group),
                       .member_id = proto_str_c(cl->member_id),
                       .instance_id = PROTO_STR_NULL,
                       .protocol_type = PROTO_STR_NULL,
                       .protocol_name = PROTO_STR_NULL,
                       .generation = cl->generation,
                       .n_assignments = n,
                       .assignments = a};
    grp_sync(e->c, &rq, on_sync, cl);
}

static int group_state(env *e, const char *g) {
    grp_group *gr = grp_find(e->c, proto_str_c(g));
    if (!gr)
        return GRP_DEAD;
    grp_info i;
    grp_get_info(gr, &i);
    return i.state;
}

/* Two dynamic members joined and synced: a leader ("a") and "b". */
static void two_member_group(env *e, client *a, client *b, const char *g) {
    join_as(e, a, g, NULL, 3000, "range");
    CHECK_EQ(a->join_err, KERR_MEMBER_ID_REQUIRED);
    CHECK(!strncmp(a->member_id, "ca-", 3));
    join_as(e, b, g, NULL, 3000, "range");
    CHECK_EQ(b->join_err, KERR_MEMBER_ID_REQUIRED);
    join_as(e, a, g, NULL, 3000, "range");
    join_as(e, b, g, NULL, 3000, "range");
    CHECK_EQ(a->joins, 1); /* still waiting */
    advance(e, 50);        /* initial delay 0 elapses on the next tick */
    CHECK_EQ(a->joins, 2);
    CHECK_EQ(b->joins, 2);
    CHECK_EQ(a->join_err, 0);
    CHECK_EQ(b->join_err, 0);
    CHECK_EQ(a->generation, 1);
    CHECK_STR(a->leader, a->member_id);
    CHECK_EQ(a->n_members, 2);
    CHECK_EQ(b->n_members, 0);
    CHECK_EQ(group_state(e, g), GRP_COMPLETING_REBALANCE);
    sync_as(e, b, g, 0, NULL, NULL);
    CHECK_EQ(b->syncs, 0); /* waits for the leader */
    client *who[2] = {a, b};
    const char *as[2] = {"A0", "B1"};
    sync_as(e, a, g, 2, who, as);
    CHECK_EQ(a->syncs, 1);
    CHECK_EQ(b->syncs, 1);
    CHECK_STR(a->assignment, "A0");
    CHECK_STR(b->assignment, "B1");
    CHECK_EQ(group_state(e, g), GRP_STABLE);
}

/* ---- tests
 * ------------------------------------------------------------------- */

TEST(group_join_sync_two_members) {
    env e;
    env_init(&e, 0);
    client a = {.name = "ca"}, b = {.name = "cb"};
    two_member_group(&e, &a, &b, "g1");
    /* the metadata record was written once, at the leader's SyncGroup */
    CHECK_EQ(e.store.n, 1);
    CHECK_EQ(grp_heartbeat(e.c, proto_str_c("g1"), 1, proto_str_c(a.member_id),
                           proto_str_c(NULL)),
             0);
    CHECK_EQ(grp_heartbeat(e.c, proto_str_c("g1"), 0, proto_str_c(a.member_id),
                           proto_str_c(NULL)),
             KERR_ILLEGAL_GENERATION);
    CHECK_EQ(grp_heartbeat(e.c, proto_str_c("g1"), 1, proto_str_c("nobody"),
                           proto_str_c(NULL)),
             KERR_UNKNOWN_MEMBER_ID);
    CHECK_EQ(grp_heartbeat(e.c, proto_str_c("nogroup"), 1, proto_str_c("x"),
                           proto_str_c(NULL)),
             KERR_UNKNOWN_MEMBER_ID);
    env_free(&e);
}

TEST(group_session_timeout_removes_member_and_rebalances) {
    env e;
    env_init(&e, 0);
    client a = {.name = "ca"}, b = {.name = "cb"};
    two_member_group(&e, &a, &b, "g");
    /* a heartbeats, b is silent */
    for (int i = 0; i < 4; i++) {
        advance(&e, 1000);
        int16_t hb = grp_heartbeat(e.c, proto_str_c("g"), a.generation,
                                   proto_str_c(a.member_id), proto_str_c(NULL));
        if (hb)
            break;
    }
    CHECK_EQ(group_state(&e, "g"), GRP_PREPARING_REBALANCE);
    CHECK_EQ(grp_heartbeat(e.c, proto_str_c("g"), 1, proto_str_c(b.member_id),
                           proto_str_c(NULL)),
             KERR_UNKNOWN_MEMBER_ID);
    CHECK_EQ(grp_heartbeat(e.c, proto_str_c("g"), 1, proto_str_c(a.member_id),
                           proto_str_c(NULL)),
             KERR_REBALANCE_IN_PROGRESS);
    /* the only member left rejoins: the join completes at once */
    join_as(&e, &a, "g", NULL, 3000, "range");
    CHECK_EQ(a.join_err, 0);
    CHECK_EQ(a.generation, 2);
    CHECK_EQ(a.n_members, 1);
    env_free(&e);
}

TEST(group_rebalance_timeout_drops_members_that_do_not_rejoin) {
    env e;
    env_init(&e, 0);
    client a = {.name = "ca"}, b = {.name = "cb"}, c = {.name = "cc"};
    two_member_group(&e, &a, &b, "g");
    join_as(&e, &c, "g", NULL, 3000, "range");
    join_as(&e, &c, "g", NULL, 3000,
            "range"); /* with its id: rebalance starts */
    CHECK_EQ(group_state(&e, "g"), GRP_PREPARING_REBALANCE);
    /* a rejoins; b only heartbeats (and learns of the rebalance) */
    join_as(&e, &a, "g", NULL, 3000, "range");
    int ja = a.joins;
    for (int i = 0; i < 4; i++) {
        advance(&e, 1000);
        grp_heartbeat(e.c, proto_str_c("g"), 1, proto_str_c(b.member_id),
                      proto_str_c(NULL));
    }
    CHECK_EQ(a.joins, ja);
    advance(&e, 1100); /* 5 s rebalance timeout */
    CHECK_EQ(a.joins, ja + 1);
    CHECK_EQ(a.join_err, 0);
    CHECK_EQ(a.generation, 2);
    CHECK_EQ(a.n_members, 2); /* a and c; b is out */
    CHECK_EQ(grp_heartbeat(e.c, proto_str_c("g"), 2, proto_str_c(b.member_id),
                           proto_str_c(NULL)),
             KERR_UNKNOWN_MEMBER_ID);
    env_free(&e);
}

TEST(group_initial_rebalance_delay_waits_for_more_members) {
    env e;
    env_init(&e, 3000);
    client a = {.name = "ca"}, b = {.name = "cb"};
    join_as(&e, &a, "g", NULL, 3000, "range");
    join_as(&e, &a, "g", NULL, 3000, "range");
    advance(&e, 1000);
    join_as(&e, &b, "g", NULL, 3000, "range");
    join_as(&e, &b, "g", NULL, 3000, "range");
    advance(&e, 1950);
    CHECK_EQ(a.joins, 1); /* still in the first delay */
    advance(&e, 100);
    CHECK_EQ(a.joins,
             1); /* b arrived: one more delay (capped by the timeout) */
    advance(&e, 2000);
    CHECK_EQ(a.joins, 2);
    CHECK_EQ(b.joins, 2);
    CHECK_EQ(a.n_members, 2);
    env_free(&e);
}

TEST(group_protocol_selection_and_inconsistent_protocol) {
    env e;
    env_init(&e, 0);
    client a = {.name = "ca"}, b = {.name = "cb"}, c = {.name = "cc"};
    join_as(&e, &a, "g", NULL, 3000, "range,roundrobin");
    join_as(&e, &a, "g", NULL, 3000, "range,roundrobin");
    join_as(&e, &b, "g", NULL, 3000, "roundrobin,sticky");
    CHECK_EQ(b.join_err, KERR_MEMBER_ID_REQUIRED);
    join_as(&e, &b, "g", NULL, 3000, "roundrobin,sticky");
    advance(&e, 50);
    CHECK_STR(a.protocol, "roundrobin");
    CHECK_STR(b.protocol, "roundrobin");
    /* no protocol in common with the group */
    join_as(&e, &c, "g", NULL, 3000, "sticky");
    CHECK_EQ(c.join_err, KERR_INCONSISTENT_GROUP_PROTOCOL);
    env_free(&e);
}

TEST(group_join_errors) {
    env e;
    env_init(&e, 0);
    client a = {.name = "ca"};
    join_as(&e, &a, "g", NULL, 10, "range");
    CHECK_EQ(a.join_err, KERR_INVALID_SESSION_TIMEOUT);
    join_as(&e, &a, "g", NULL, 99999999, "range");
    CHECK_EQ(a.join_err, KERR_INVALID_SESSION_TIMEOUT);
    snprintf(a.member_id, sizeof a.member_id, "ghost");
    join_as(&e, &a, "g", NULL, 3000, "range");
    CHECK_EQ(a.join_err, KERR_UNKNOWN_MEMBER_ID);
    a.member_id[0] = 0;
    join_as(&e, &a, "", NULL, 3000, "range");
    CHECK_EQ(a.join_err, KERR_INVALID_GROUP_ID);
    /* a pending member id that is never used expires */
    join_as(&e, &a, "g", NULL, 3000, "range");
    CHECK_EQ(a.join_err, KERR_MEMBER_ID_REQUIRED);
    advance(&e, 3100);
    join_as(&e, &a, "g", NULL, 3000, "range");
    CHECK_EQ(a.join_err, KERR_UNKNOWN_MEMBER_ID);
    env_free(&e);
}

TEST(group_static_member_rejoins_without_rebalance) {
    env e;
    env_init(&e, 0);
    client a = {.name = "ca"}, b = {.name = "cb"};
    join_as(&e, &a, "g", "ia", 5000,
            "range"); /* static: no MEMBER_ID_REQUIRED */
    join_as(&e, &b, "g", "ib", 5000, "range");
    advance(&e, 50);
    CHECK_EQ(a.join_err, 0);
    CHECK_EQ(b.join_err, 0);
    CHECK(!strncmp(a.member_id, "ia-", 3));
    client *who[2] = {&a, &b};
    const char *as[2] = {"A", "B"};
    sync_as(&e, &b, "g", 0, NULL, NULL);
    sync_as(&e, &a, "g", 2, who, as);
    CHECK_STR(b.assignment, "B");
    int32_t gen = a.generation;
    /* b restarts: new process, unknown member id, same instance id */
    client b2 = {.name = "cb"};
    join_as(&e, &b2, "g", "ib", 5000, "range");
    CHECK_EQ(b2.join_err, 0);
    CHECK_EQ(b2.generation, gen);
    CHECK(strcmp(b2.member_id, b.member_id) != 0);
    CHECK_EQ(group_state(&e, "g"), GRP_STABLE);
    sync_as(&e, &b2, "g", 0, NULL, NULL);
    CHECK_EQ(b2.sync_err, 0);
    CHECK_STR(b2.assignment, "B");
    /* the old incarnation is fenced */
    CHECK_EQ(grp_heartbeat(e.c, proto_str_c("g"), gen, proto_str_c(b.member_id),
                           proto_str_c("ib")),
             KERR_FENCED_INSTANCE_ID);
    CHECK_EQ(grp_heartbeat(e.c, proto_str_c("g"), gen,
                           proto_str_c(b2.member_id), proto_str_c("ib")),
             0);
    CHECK_EQ(grp_heartbeat(e.c, proto_str_c("g"), gen, proto_str_c(a.member_id),
                           proto_str_c("ia")),
             0);
    /* the leader restarting gets the members back with skip_assignment */
    client a2 = {.name = "ca"};
    join_as(&e, &a2, "g", "ia", 5000, "range");
    CHECK_EQ(a2.join_err, 0);
    CHECK(a2.skip);
    CHECK_EQ(a2.n_members, 2);
    CHECK_STR(a2.leader, a2.member_id);
    CHECK_EQ(group_state(&e, "g"), GRP_STABLE);
    env_free(&e);
}

TEST(group_leave_triggers_rebalance) {
    env e;
    env_init(&e, 0);
    client a = {.name = "ca"}, b = {.name = "cb"};
    two_member_group(&e, &a, &b, "g");
    CHECK_EQ(grp_leave(e.c, proto_str_c("g"), proto_str_c("nobody"),
                       proto_str_c(NULL), NULL),
             KERR_UNKNOWN_MEMBER_ID);
    CHECK_EQ(grp_leave(e.c, proto_str_c("g"), proto_str_c(b.member_id),
                       proto_str_c(NULL), "bye"),
             0);
    CHECK_EQ(group_state(&e, "g"), GRP_PREPARING_REBALANCE);
    join_as(&e, &a, "g", NULL, 3000, "range");
    CHECK_EQ(a.generation, 2);
    CHECK_EQ(a.n_members, 1);
    /* the last member leaving: every (zero) member has rejoined, so the
     * join phase completes at once and the group is Empty */
    CHECK_EQ(grp_leave(e.c, proto_str_c("g"), proto_str_c(a.member_id),
                       proto_str_c(NULL), NULL),
             0);
    CHECK_EQ(group_state(&e, "g"), GRP_EMPTY);
    env_free(&e);
}

TEST(group_offset_commit_rules) {
    env e;
    env_init(&e, 0);
    client a = {.name = "ca"}, b = {.name = "cb"};
    two_member_group(&e, &a, &b, "g");
    grp_commit_in o = {.topic = "t",
                       .topic_len = 1,
                       .partition = 0,
                       .offset = 42,
                       .leader_epoch = 3,
                       .metadata = "md",
                       .metadata_len = 2,
                       .expire_ts = -1};
    grp_commit(e.c, proto_str_c("g"), a.generation, proto_str_c(a.member_id),
               proto_str_c(NULL), &o, 1, 8);
    CHECK_EQ(o.error, 0);
    o.error = 0;
    grp_commit(e.c, proto_str_c("g"), a.generation - 1,
               proto_str_c(a.member_id), proto_str_c(NULL), &o, 1, 8);
    CHECK_EQ(o.error, KERR_ILLEGAL_GENERATION);
    o.error = 0;
    grp_commit(e.c, proto_str_c("g"), a.generation, proto_str_c("nobody"),
               proto_str_c(NULL), &o, 1, 8);
    CHECK_EQ(o.error, KERR_UNKNOWN_MEMBER_ID);
    o.error = 0;
    grp_commit(e.c, proto_str_c("g"), -1, proto_str_c(""), proto_str_c(NULL),
               &o, 1, 8); /* standalone, group not empty */
    CHECK_EQ(o.error, KERR_UNKNOWN_MEMBER_ID);
    /* metadata over offset.metadata.max.bytes */
    char big[5000];
    memset(big, 'x', sizeof big);
    grp_commit_in ob = o;
    ob.error = 0;
    ob.metadata = big;
    ob.metadata_len = sizeof big;
    grp_commit(e.c, proto_str_c("g"), a.generation, proto_str_c(a.member_id),
               proto_str_c(NULL), &ob, 1, 8);
    CHECK_EQ(ob.error, KERR_OFFSET_METADATA_TOO_LARGE);
    /* during CompletingRebalance: REBALANCE_IN_PROGRESS */
    CHECK_EQ(grp_leave(e.c, proto_str_c("g"), proto_str_c(b.member_id),
                       proto_str_c(NULL), NULL),
             0);
    join_as(&e, &a, "g", NULL, 3000, "range");
    CHECK_EQ(group_state(&e, "g"), GRP_COMPLETING_REBALANCE);
    o.error = 0;
    grp_commit(e.c, proto_str_c("g"), a.generation, proto_str_c(a.member_id),
               proto_str_c(NULL), &o, 1, 8);
    CHECK_EQ(o.error, KERR_REBALANCE_IN_PROGRESS);
    /* missing group with a generation: ILLEGAL_GENERATION (v9: not found) */
    o.error = 0;
    grp_commit(e.c, proto_str_c("nog"), 3, proto_str_c("m"), proto_str_c(NULL),
               &o, 1, 8);
    CHECK_EQ(o.error, KERR_ILLEGAL_GENERATION);
    o.error = 0;
    grp_commit(e.c, proto_str_c("nog"), 3, proto_str_c("m"), proto_str_c(NULL),
               &o, 1, 9);
    CHECK_EQ(o.error, KERR_GROUP_ID_NOT_FOUND);
    /* standalone consumer: creates an Empty group */
    o.error = 0;
    grp_commit(e.c, proto_str_c("solo"), -1, proto_str_c(""), proto_str_c(NULL),
               &o, 1, 8);
    CHECK_EQ(o.error, 0);
    CHECK_EQ(group_state(&e, "solo"), GRP_EMPTY);
    const grp_offset *got =
        grp_offset_get(grp_find(e.c, proto_str_c("g")), "t", 1, 0);
    CHECK(got != NULL);
    CHECK_EQ(got->offset, 42);
    CHECK_STR(got->metadata, "md");
    CHECK_EQ(got->leader_epoch, 3);
    /* a failed write applies nothing */
    e.store.fail = KERR_KAFKA_STORAGE_ERROR;
    o.error = 0;
    o.offset = 77;
    grp_commit(e.c, proto_str_c("solo"), -1, proto_str_c(""), proto_str_c(NULL),
               &o, 1, 8);
    CHECK_EQ(o.error, KERR_COORDINATOR_NOT_AVAILABLE);
    CHECK_EQ(
        grp_offset_get(grp_find(e.c, proto_str_c("solo")), "t", 1, 0)->offset,
        42);
    env_free(&e);
}

TEST(group_state_survives_replay) {
    env e;
    env_init(&e, 0);
    client a = {.name = "ca"}, b = {.name = "cb"};
    two_member_group(&e, &a, &b, "g");
    grp_commit_in o[2] = {
        {.topic = "t",
         .topic_len = 1,
         .partition = 0,
         .offset = 5,
         .leader_epoch = -1,
         .metadata = "m0",
         .metadata_len = 2,
         .expire_ts = -1},
        {.topic = "t",
         .topic_len = 1,
         .partition = 1,
         .offset = 9,
         .leader_epoch = -1,
         .metadata = NULL,
         .expire_ts = -1},
    };
    grp_commit(e.c, proto_str_c("g"), a.generation, proto_str_c(a.member_id),
               proto_str_c(NULL), o, 2, 8);
    o[1].offset = 11;
    o[0].error = o[1].error = 0;
    grp_commit(e.c, proto_str_c("g"), a.generation, proto_str_c(a.member_id),
               proto_str_c(NULL), &o[1], 1, 8);
    grp_commit_in so = {.topic = "u",
                        .topic_len = 1,
                        .partition = 0,
                        .offset = 1,
                        .leader_epoch = -1,
                        .expire_ts = -1};
    grp_commit(e.c, proto_str_c("gone"), -1, proto_str_c(""), proto_str_c(NULL),
               &so, 1, 8);
    CHECK_EQ(grp_delete_group(e.c, proto_str_c("gone")), 0);
    CHECK_EQ(grp_delete_group(e.c, proto_str_c("g")), KERR_NON_EMPTY_GROUP);
    CHECK_EQ(grp_delete_group(e.c, proto_str_c("nope")),
             KERR_GROUP_ID_NOT_FOUND);

    /* a new coordinator replays the records */
    grp_store st = {mem_append, &e.store};
    grp_coord *c2 = grp_new(&e.cfg, &st);
    int n = e.store.n;
    for (int i = 0; i < n; i++)
        CHECK(grp_replay(c2, e.store.v[i].partition, e.store.v[i].key,
                         e.store.v[i].key_len, e.store.v[i].val,
                         e.store.v[i].val_len));
    for (int p = 0; p < 4; p++) {
        grp_partition_loaded(c2, p);
        grp_set_partition_state(c2, p, GRP_PART_ACTIVE);
    }
    grp_group *g = grp_find(c2, proto_str_c("g"));
    CHECK(g != NULL);
    CHECK(grp_find(c2, proto_str_c("gone")) == NULL);
    grp_info gi;
    grp_get_info(g, &gi);
    CHECK_EQ(gi.state, GRP_STABLE);
    CHECK_EQ(gi.generation, 1);
    CHECK_EQ(gi.n_members, 2);
    CHECK_STR(gi.protocol_name.p, "range");
    CHECK_STR(gi.leader.p, a.member_id);
    CHECK_EQ(grp_offset_get(g, "t", 1, 0)->offset, 5);
    CHECK_STR(grp_offset_get(g, "t", 1, 0)->metadata, "m0");
    CHECK_EQ(grp_offset_get(g, "t", 1, 1)->offset, 11);
    CHECK_STR(grp_offset_get(g, "t", 1, 1)->metadata, "");
    /* members come back with their assignment and can keep going */
    CHECK_EQ(grp_heartbeat(c2, proto_str_c("g"), 1, proto_str_c(b.member_id),
                           proto_str_c(NULL)),
             0);
    grp_sync_req sr = {.group_id = proto_str_c("g"),
                       .member_id = proto_str_c(b.member_id),
                       .instance_id = PROTO_STR_NULL,
                       .protocol_type = PROTO_STR_NULL,
                       .protocol_name = PROTO_STR_NULL,
                       .generation = 1};
    client b2 = b;
    b2.syncs = 0;
    grp_sync(c2, &sr, on_sync, &b2);
    CHECK_EQ(b2.syncs, 1);
    CHECK_STR(b2.assignment, "B1");
    /* a partition that is still loading answers COORDINATOR_LOAD_IN_PROGRESS */
    int32_t p = grp_partition_for("g", 1, 4);
    grp_set_partition_state(c2, p, GRP_PART_LOADING);
    CHECK_EQ(grp_check_coordinator(c2, proto_str_c("g")),
             KERR_COORDINATOR_LOAD_IN_PROGRESS);
    grp_set_partition_state(c2, p, GRP_PART_NONE);
    CHECK_EQ(grp_check_coordinator(c2, proto_str_c("g")), KERR_NOT_COORDINATOR);
    grp_free(c2);
    env_free(&e);
}

/* Offset-commit metadata is a Kafka STRING: NUL bytes are part of it, in
 * the OffsetCommitValue record written to __consumer_offsets (int16 length
 * then the bytes, right after version, offset and leader epoch) and after a
 * replay of that record. */
TEST(group_offset_metadata_keeps_nul_bytes_in_the_record) {
    env e;
    env_init(&e, 0);
    static const char md[] = "a\0b\0";
    grp_commit_in o = {.topic = "t",
                       .topic_len = 1,
                       .partition = 0,
                       .offset = 7,
                       .leader_epoch = -1,
                       .metadata = md,
                       .metadata_len = 4,
                       .expire_ts = -1};
    grp_commit(e.c, proto_str_c("g"), -1, proto_str_c(""), proto_str_c(NULL),
               &o, 1, 8);
    CHECK_EQ(o.error, 0);
    CHECK_EQ(e.store.n, 1);
    const uint8_t *v = e.store.v[0].val;
    CHECK(e.store.v[0].val_len >= 2 + 8 + 4 + 2 + 4);
    CHECK_EQ(v[0] << 8 | v[1], 3); /* OffsetCommitValue v3 */
    CHECK_EQ(v[14] << 8 | v[15], 4);
    CHECK_MEM(v + 16, md, 4);
    const grp_offset *got =
        grp_offset_get(grp_find(e.c, proto_str_c("g")), "t", 1, 0);
    CHECK_EQ(got->metadata_len, 4);
    CHECK_MEM(got->metadata, md, 4);

    grp_store st = {mem_append, &e.store};
    grp_coord *c2 = grp_new(&e.cfg, &st);
    CHECK(grp_replay(c2, e.store.v[0].partition, e.store.v[0].key,
                     e.store.v[0].key_len, e.store.v[0].val,
                     e.store.v[0].val_len));
    got = grp_offset_get(grp_find(c2, proto_str_c("g")), "t", 1, 0);
    CHECK(got != NULL);
    CHECK_EQ(got->offset, 7);
    CHECK_EQ(got->metadata_len, 4);
    CHECK_MEM(got->metadata, md, 4);
    grp_free(c2);
    env_free(&e);
}

TEST(group_offsets_expire_by_retention) {
    env e;
    env_init(&e, 0);
    e.cfg.offsets_retention_ms = 60000;
    grp_free(e.c);
    grp_store st = {mem_append, &e.store};
    e.c = grp_new(&e.cfg, &st);
    for (int p = 0; p < 4; p++)
        grp_set_partition_state(e.c, p, GRP_PART_ACTIVE);
    client a = {.name = "ca"}, b = {.name = "cb"};
    two_member_group(&e, &a, &b, "g");
    grp_commit_in o = {.topic = "t",
                       .topic_len = 1,
                       .partition = 0,
                       .offset = 5,
                       .leader_epoch = -1,
                       .expire_ts = -1};
    grp_commit(e.c, proto_str_c("g"), a.generation, proto_str_c(a.member_id),
               proto_str_c(NULL), &o, 1, 8);
    o.error = 0;
    grp_commit(e.c, proto_str_c("solo"), -1, proto_str_c(""), proto_str_c(NULL),
               &o, 1, 8);
    e.clk.wall_ms += 30000;
    CHECK_EQ(grp_expire_offsets(e.c), 0);
    e.clk.wall_ms += 31000;
    /* the standalone group's offset expires by commit time; the group with
     * members keeps its offsets (topic t is subscribed? metadata is not a
     * ConsumerProtocolSubscription here, so nothing is known: kept) */
    CHECK_EQ(grp_expire_offsets(e.c), 1);
    CHECK(grp_find(e.c, proto_str_c("solo")) == NULL);
    CHECK(grp_offset_get(grp_find(e.c, proto_str_c("g")), "t", 1, 0) != NULL);
    /* the group empties: its offsets live retention after that */
    CHECK_EQ(grp_leave(e.c, proto_str_c("g"), proto_str_c(a.member_id),
                       proto_str_c(NULL), NULL),
             0);
    CHECK_EQ(grp_leave(e.c, proto_str_c("g"), proto_str_c(b.member_id),
                       proto_str_c(NULL), NULL),
             0);
    advance(&e, 50);
    CHECK_EQ(group_state(&e, "g"), GRP_EMPTY);
    e.clk.wall_ms += 59000;
    CHECK_EQ(grp_expire_offsets(e.c), 0);
    e.clk.wall_ms += 2000;
    CHECK_EQ(grp_expire_offsets(e.c), 1);
    CHECK(grp_find(e.c, proto_str_c("g")) == NULL);
    env_free(&e);
}

TEST(group_sync_deadline_removes_members_that_never_sync) {
    env e;
    env_init(&e, 0);
    client a = {.name = "ca"}, b = {.name = "cb"};
    join_as(&e, &a, "g", NULL, 3000, "range");
    join_as(&e, &a, "g", NULL, 3000, "range");
    join_as(&e, &b, "g", NULL, 3000, "range");
    join_as(&e, &b, "g", NULL, 3000, "range");
    advance(&e, 50);
    CHECK_EQ(group_state(&e, "g"), GRP_COMPLETING_REBALANCE);
    /* only b syncs (and waits); the leader never does */
    sync_as(&e, &b, "g", 0, NULL, NULL);
    for (int i = 0; i < 6; i++) {
        advance(&e, 900);
        grp_heartbeat(e.c, proto_str_c("g"), 1, proto_str_c(b.member_id),
                      proto_str_c(NULL));
    }
    CHECK_EQ(b.syncs, 1);
    CHECK_EQ(b.sync_err, KERR_REBALANCE_IN_PROGRESS);
    CHECK_EQ(group_state(&e, "g"), GRP_PREPARING_REBALANCE);
    CHECK_EQ(grp_heartbeat(e.c, proto_str_c("g"), 1, proto_str_c(a.member_id),
                           proto_str_c(NULL)),
             KERR_UNKNOWN_MEMBER_ID);
    env_free(&e);
}

TEST(group_partition_for_matches_kafka) {
    /* Utils.abs("my-group".hashCode()) % 50, computed with Java */
    CHECK_EQ(grp_partition_for("my-group", 8, 50), 12);
    CHECK_EQ(grp_partition_for("", 0, 50), 0);
}

TEST(group_offset_delete_respects_subscriptions) {
    env e;
    env_init(&e, 0);
    /* ConsumerProtocolSubscription v0: version, topics ["sub"], userdata */
    static const uint8_t meta[] = {0,   0,   0,   0,    0,    1,    0,   3,
                                   's', 'u', 'b', 0xff, 0xff, 0xff, 0xff};
    grp_protocol_in p = {"range", 5, meta, (int32_t)sizeof meta};
    client a = {.name = "ca"};
    grp_join_req rq = {.group_id = proto_str_c("g"),
                       .member_id = proto_str_c(""),
                       .instance_id = PROTO_STR_NULL,
                       .client_id = proto_str_c("ca"),
                       .client_host = proto_str_c("/h"),
                       .protocol_type = proto_str_c("consumer"),
                       .session_timeout_ms = 3000,
                       .rebalance_timeout_ms = 3000,
                       .n_protocols = 1,
                       .protocols = &p,
                       .require_known_member_id = false};
    grp_join(e.c, &rq, on_join, &a);
    advance(&e, 50);
    CHECK_EQ(a.join_err, 0);
    sync_as(&e, &a, "g", 0, NULL, NULL);
    CHECK_EQ(group_state(&e, "g"), GRP_STABLE);
    grp_commit_in o[2] = {
        {.topic = "sub",
         .topic_len = 3,
         .partition = 0,
         .offset = 1,
         .leader_epoch = -1,
         .expire_ts = -1},
        {.topic = "other",
         .topic_len = 5,
         .partition = 0,
         .offset = 2,
         .leader_epoch = -1,
         .expire_ts = -1},
    };
    grp_commit(e.c, proto_str_c("g"), a.generation, proto_str_c(a.member_id),
               proto_str_c(NULL), o, 2, 8);
    CHECK_EQ(o[0].error, 0);
    CHECK_EQ(o[1].error, 0);
    const char *topics[2] = {"sub", "other"};
    int32_t parts[2] = {0, 0};
    int16_t errs[2];
    CHECK_EQ(grp_offset_delete(e.c, proto_str_c("g"), topics, parts, 2, errs),
             0);
    CHECK_EQ(errs[0], KERR_GROUP_SUBSCRIBED_TO_TOPIC);
    CHECK_EQ(errs[1], 0);
    grp_group *g = grp_find(e.c, proto_str_c("g"));
    CHECK(grp_offset_get(g, "sub", 3, 0) != NULL);
    CHECK(grp_offset_get(g, "other", 5, 0) == NULL);
    CHECK_EQ(grp_offset_delete(e.c, proto_str_c("nog"), topics, parts, 2, errs),
             KERR_GROUP_ID_NOT_FOUND);
    /* once empty, every offset can go */
    CHECK_EQ(grp_leave(e.c, proto_str_c("g"), proto_str_c(a.member_id),
                       proto_str_c(NULL), NULL),
             0);
    CHECK_EQ(grp_offset_delete(e.c, proto_str_c("g"), topics, parts, 1, errs),
             0);
    CHECK_EQ(errs[0], 0);
    CHECK(grp_offset_get(g, "sub", 3, 0) == NULL);
    env_free(&e);
}

static bool not_gone(void *ctx, const char *topic) {
    (void)ctx;
    return strcmp(topic, "gone") != 0;
}

TEST(group_offsets_of_deleted_topics_removed) {
    env e;
    env_init(&e, 0);
    grp_commit_in o[2] = {
        {.topic = "t",
         .topic_len = 1,
         .partition = 0,
         .offset = 1,
         .leader_epoch = -1,
         .expire_ts = -1},
        {.topic = "gone",
         .topic_len = 4,
         .partition = 3,
         .offset = 2,
         .leader_epoch = -1,
         .expire_ts = -1},
    };
    grp_commit(e.c, proto_str_c("solo"), -1, proto_str_c(""), proto_str_c(NULL),
               o, 2, 8);
    int before = e.store.n;
    CHECK_EQ(grp_drop_deleted_topics(e.c, not_gone, NULL), 1);
    CHECK_EQ(e.store.n, before + 1);
    CHECK(e.store.v[before].val == NULL); /* a tombstone */
    grp_group *g = grp_find(e.c, proto_str_c("solo"));
    CHECK(grp_offset_get(g, "gone", 4, 3) == NULL);
    CHECK(grp_offset_get(g, "t", 1, 0) != NULL);
    CHECK_EQ(grp_drop_deleted_topics(e.c, not_gone, NULL), 0);
    env_free(&e);
}

/* A coordinator that resigns a partition (Kafka's onResignation) forgets
 * its groups: a member waiting in JoinGroup is answered NOT_COORDINATOR,
 * the partition answers NOT_COORDINATOR, the groups of other partitions
 * stay; loading the partition again from its records brings the group and
 * its offsets back (onElection). */
TEST(group_unload_partition_and_load_again) {
    env e;
    env_init(&e, 0);
    client a = {.name = "ca"}, b = {.name = "cb"};
    two_member_group(&e, &a, &b, "g");
    grp_commit_in o = {.topic = "t",
                       .topic_len = 1,
                       .partition = 0,
                       .offset = 42,
                       .leader_epoch = -1,
                       .expire_ts = -1};
    grp_commit(e.c, proto_str_c("g"), a.generation, proto_str_c(a.member_id),
               proto_str_c(NULL), &o, 1, 8);
    int32_t p = grp_partition_for("g", 1, 4);
    /* another group on another partition */
    const char *other = NULL;
    static const char *names[] = {"h", "i", "j", "k", "l", "m", "n"};
    for (size_t i = 0; i < SL_ARRAY_LEN(names) && !other; i++)
        if (grp_partition_for(names[i], 1, 4) != p)
            other = names[i];
    CHECK(other != NULL);
    grp_commit_in so = o;
    grp_commit(e.c, proto_str_c(other), -1, proto_str_c(""), proto_str_c(NULL),
               &so, 1, 8);
    /* a third member joins: the group rebalances and c waits for a, b */
    client c = {.name = "cc"};
    join_as(&e, &c, "g", NULL, 3000, "range");
    CHECK_EQ(c.join_err, KERR_MEMBER_ID_REQUIRED);
    join_as(&e, &c, "g", NULL, 3000, "range");
    CHECK_EQ(c.joins, 1); /* waiting */

    grp_unload_partition(e.c, p);
    CHECK_EQ(c.joins, 2);
    CHECK_EQ(c.join_err, KERR_NOT_COORDINATOR);
    CHECK(grp_find(e.c, proto_str_c("g")) == NULL);
    CHECK_EQ(grp_partition_state(e.c, p), GRP_PART_NONE);
    CHECK_EQ(grp_check_coordinator(e.c, proto_str_c("g")),
             KERR_NOT_COORDINATOR);
    CHECK(grp_find(e.c, proto_str_c(other)) != NULL);
    CHECK_EQ(grp_check_coordinator(e.c, proto_str_c(other)), 0);
    advance(&e, 10000); /* no timer touches the forgotten group */

    /* elected again: the partition's records are replayed */
    for (int i = 0; i < e.store.n; i++)
        if (e.store.v[i].partition == p)
            CHECK(grp_replay(e.c, p, e.store.v[i].key, e.store.v[i].key_len,
                             e.store.v[i].val, e.store.v[i].val_len));
    grp_partition_loaded(e.c, p);
    grp_set_partition_state(e.c, p, GRP_PART_ACTIVE);
    grp_group *g = grp_find(e.c, proto_str_c("g"));
    CHECK(g != NULL);
    CHECK_EQ(grp_offset_get(g, "t", 1, 0)->offset, 42);
    CHECK_EQ(grp_check_coordinator(e.c, proto_str_c("g")), 0);
    env_free(&e);
}
