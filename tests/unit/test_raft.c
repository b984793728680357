/* src/raft: each RPC handler's edge cases, checked against the behaviour of
 * Kafka 4.3.1's KafkaRaftClient (error codes, transitions, what is
 * persisted), and a short sweep of the seeded simulation (tests/sim). */
#include <string.h>

#include "proto/errors.h"
#include "raft/raft.h"
#include "../sim/raft_sim.h"
#include "test.h"

#define CLUSTER "raftunittestclusterAAA"

/* A small in-memory log: one record per batch, epochs only. */
typedef struct tlog {
    int64_t start;
    int32_t epochs[64];
    int n;
    raft_oe snap;
} tlog;

static raft_oe tl_end_for_epoch(void *ctx, int32_t epoch) {
    tlog *l = ctx;
    int64_t end = l->start + l->n;
    int32_t last = l->n ? l->epochs[l->n - 1] : (l->start ? l->snap.epoch : 0);
    raft_oe none = {end, last};
    if (epoch < 0 || l->n == 0)
        return none;
    if (l->epochs[l->n - 1] == epoch)
        return (raft_oe){end, epoch};
    int i = l->n - 1;
    while (i >= 0 && l->epochs[i] > epoch)
        i--;
    if (i == l->n - 1)
        return none;
    raft_oe res = {l->start + i + 1, i < 0 ? epoch : l->epochs[i]};
    if (l->start > 0 && res.offset == l->start && res.epoch == epoch)
        return l->snap;
    return res;
}

static int32_t tl_epoch_at(void *ctx, int64_t off) {
    tlog *l = ctx;
    return off >= l->start && off < l->start + l->n ? l->epochs[off - l->start]
                                                    : -1;
}

static int tl_read(void *ctx, int64_t off, uint32_t max, raft_batch *out,
                   int cap) {
    tlog *l = ctx;
    (void)max;
    int k = 0;
    for (; off < l->start + l->n && k < cap; off++, k++)
        out[k] = (raft_batch){.base_offset = off,
                              .last_offset = off,
                              .epoch = l->epochs[off - l->start]};
    return k;
}

typedef struct tnode {
    raft r;
    tlog log;
    rng rng;
} tnode;

/* Node `id` of voters 1, 2, 3 with the quorum-state `qs` and log epochs. */
static void tn_boot(tnode *t, int32_t id, raft_qstate qs, const int32_t *ep,
                    int n) {
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < n; i++)
        t->log.epochs[i] = ep[i];
    t->log.n = n;
    t->log.snap = (raft_oe){-1, -1};
    raft_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    raft_config_defaults(&cfg);
    cfg.self.id = id;
    cfg.self.dir[0] = (uint8_t)id;
    snprintf(cfg.cluster_id, sizeof(cfg.cluster_id), "%s", CLUSTER);
    cfg.voters.n = 3;
    for (int i = 0; i < 3; i++) {
        cfg.voters.v[i].id = i + 1;
        cfg.voters.v[i].dir[0] = (uint8_t)(i + 1);
    }
    raft_log_ops ops = {tl_end_for_epoch, tl_epoch_at, tl_read, NULL, &t->log};
    raft_boot boot = {.qstate = qs,
                      .has_qstate = true,
                      .log_start = 0,
                      .log_end = n,
                      .last_epoch = n ? ep[n - 1] : 0,
                      .snapshot_id = {-1, -1}};
    rng_seed(&t->rng, 42);
    raft_init(&t->r, &cfg, &ops, &t->rng, &boot, 0);
    raft_out_clear(&t->r);
}

static raft_qstate qs_of(int32_t epoch, int32_t leader, int32_t voted) {
    raft_qstate q = {epoch, leader, {.id = voted}};
    if (voted >= 0)
        q.voted.dir[0] = (uint8_t)voted;
    return q;
}

/* Apply the outbox to the test log (appends and truncations). */
static void tn_apply(tnode *t) {
    for (int i = 0; i < t->r.n_out; i++) {
        raft_out *o = &t->r.out[i];
        if (o->kind == RAFT_OUT_APPEND)
            t->log.epochs[t->log.n++] = o->u.batch.epoch;
        else if (o->kind == RAFT_OUT_TRUNCATE)
            t->log.n = (int)(o->u.offset - t->log.start);
    }
}

static int count_out(const raft *r, raft_out_kind kind) {
    int n = 0;
    for (int i = 0; i < r->n_out; i++)
        n += r->out[i].kind == kind;
    return n;
}

/* The last message of `kind` in the outbox, or NULL. */
static const raft_msg *find_msg(const raft *r, raft_kind kind) {
    for (int i = r->n_out - 1; i >= 0; i--)
        if (r->out[i].kind == RAFT_OUT_SEND && r->out[i].u.msg.kind == kind)
            return &r->out[i].u.msg;
    return NULL;
}

static raft_msg vote_req(int32_t from, int32_t to, int32_t epoch,
                         int32_t last_epoch, int64_t last_off, bool pre) {
    raft_msg m;
    memset(&m, 0, sizeof(m));
    m.kind = RAFT_VOTE_REQ;
    m.from = from;
    m.to = to;
    m.correlation_id = 7;
    m.has_cluster_id = true;
    snprintf(m.cluster_id, sizeof(m.cluster_id), "%s", CLUSTER);
    m.u.vote.voter.id = to;
    m.u.vote.voter.dir[0] = (uint8_t)to;
    m.u.vote.replica.id = from;
    m.u.vote.replica.dir[0] = (uint8_t)from;
    m.u.vote.replica_epoch = epoch;
    m.u.vote.last_offset_epoch = last_epoch;
    m.u.vote.last_offset = last_off;
    m.u.vote.pre_vote = pre;
    return m;
}

static raft_msg fetch_req(int32_t from, int32_t to, int32_t epoch, int64_t off,
                          int32_t lfe) {
    raft_msg m;
    memset(&m, 0, sizeof(m));
    m.kind = RAFT_FETCH_REQ;
    m.from = from;
    m.to = to;
    m.correlation_id = 9;
    m.has_cluster_id = true;
    snprintf(m.cluster_id, sizeof(m.cluster_id), "%s", CLUSTER);
    m.u.fetch.replica.id = from;
    m.u.fetch.replica.dir[0] = (uint8_t)from;
    m.u.fetch.max_wait_ms = 0;
    m.u.fetch.max_bytes = 1 << 20;
    m.u.fetch.current_leader_epoch = epoch;
    m.u.fetch.fetch_offset = off;
    m.u.fetch.last_fetched_epoch = lfe;
    m.u.fetch.high_watermark = -1;
    return m;
}

TEST(raft_vote_stale_epoch_is_fenced) {
    tnode t;
    tn_boot(&t, 1, qs_of(5, -1, -1), NULL, 0);
    raft_msg m = vote_req(2, 1, 3, 0, 0, false);
    raft_receive(&t.r, 1, &m);
    const raft_msg *resp = find_msg(&t.r, RAFT_VOTE_RESP);
    CHECK(resp != NULL);
    if (!resp)
        return;
    CHECK_EQ(resp->u.eresp.error_code, KERR_NONE);
    CHECK_EQ(resp->u.eresp.partition_error, KERR_FENCED_LEADER_EPOCH);
    CHECK_EQ(resp->u.eresp.leader_epoch, 5);
    CHECK(!resp->u.eresp.vote_granted);
    CHECK_EQ(resp->correlation_id, 7);
    CHECK_EQ(count_out(&t.r, RAFT_OUT_PERSIST), 0);
}

TEST(raft_wrong_cluster_id_is_inconsistent) {
    tnode t;
    tn_boot(&t, 1, qs_of(1, -1, -1), NULL, 0);
    raft_msg m = vote_req(2, 1, 2, 0, 0, false);
    snprintf(m.cluster_id, sizeof(m.cluster_id), "otherclusterAAAAAAAAAA");
    raft_receive(&t.r, 1, &m);
    const raft_msg *resp = find_msg(&t.r, RAFT_VOTE_RESP);
    CHECK(resp && resp->u.eresp.error_code == KERR_INCONSISTENT_CLUSTER_ID);
    CHECK_EQ(t.r.qs.epoch, 1); /* nothing moved */
    raft_out_clear(&t.r);
    /* the same for Fetch and BeginQuorumEpoch */
    raft_msg f = fetch_req(2, 1, 1, 0, 0);
    snprintf(f.cluster_id, sizeof(f.cluster_id), "x");
    raft_receive(&t.r, 1, &f);
    resp = find_msg(&t.r, RAFT_FETCH_RESP);
    CHECK(resp && resp->u.fresp.error_code == KERR_INCONSISTENT_CLUSTER_ID);
    raft_out_clear(&t.r);
    raft_msg b;
    memset(&b, 0, sizeof(b));
    b.kind = RAFT_BEGIN_REQ;
    b.from = 2;
    b.has_cluster_id = true;
    snprintf(b.cluster_id, sizeof(b.cluster_id), "x");
    b.u.begin.leader_id = 2;
    b.u.begin.leader_epoch = 4;
    b.u.begin.voter.id = 1;
    raft_receive(&t.r, 1, &b);
    resp = find_msg(&t.r, RAFT_BEGIN_RESP);
    CHECK(resp && resp->u.eresp.error_code == KERR_INCONSISTENT_CLUSTER_ID);
    CHECK_EQ(t.r.qs.epoch, 1);
    /* an absent cluster id is not enforced (Kafka) */
    raft_out_clear(&t.r);
    m = vote_req(2, 1, 2, 0, 0, false);
    m.has_cluster_id = false;
    raft_receive(&t.r, 1, &m);
    resp = find_msg(&t.r, RAFT_VOTE_RESP);
    CHECK(resp && resp->u.eresp.error_code == KERR_NONE &&
          resp->u.eresp.vote_granted);
}

TEST(raft_one_vote_per_epoch) {
    tnode t;
    tn_boot(&t, 1, qs_of(1, -1, -1), NULL, 0);
    raft_msg m = vote_req(2, 1, 2, 0, 0, false);
    raft_receive(&t.r, 1, &m);
    /* the vote is persisted before the response leaves */
    int persist_at = -1, send_at = -1;
    for (int i = 0; i < t.r.n_out; i++) {
        if (t.r.out[i].kind == RAFT_OUT_PERSIST &&
            t.r.out[i].u.qstate.voted.id == 2)
            persist_at = i;
        if (t.r.out[i].kind == RAFT_OUT_SEND &&
            t.r.out[i].u.msg.kind == RAFT_VOTE_RESP)
            send_at = i;
    }
    CHECK(persist_at >= 0 && send_at > persist_at);
    const raft_msg *resp = find_msg(&t.r, RAFT_VOTE_RESP);
    CHECK(resp && resp->u.eresp.vote_granted);
    CHECK_EQ(t.r.qs.epoch, 2);
    CHECK_EQ(t.r.qs.voted.id, 2);
    raft_out_clear(&t.r);
    /* another candidate in the same epoch: rejected */
    m = vote_req(3, 1, 2, 0, 0, false);
    raft_receive(&t.r, 2, &m);
    resp = find_msg(&t.r, RAFT_VOTE_RESP);
    CHECK(resp && !resp->u.eresp.vote_granted &&
          resp->u.eresp.partition_error == KERR_NONE);
    CHECK_EQ(t.r.qs.voted.id, 2);
    raft_out_clear(&t.r);
    /* the same candidate again (a retry): granted again, nothing persisted */
    m = vote_req(2, 1, 2, 0, 0, false);
    raft_receive(&t.r, 3, &m);
    resp = find_msg(&t.r, RAFT_VOTE_RESP);
    CHECK(resp && resp->u.eresp.vote_granted);
    CHECK_EQ(count_out(&t.r, RAFT_OUT_PERSIST), 0);
}

TEST(raft_prevote_does_not_bump_or_vote) {
    int32_t ep[] = {1, 1, 1};
    tnode t;
    tn_boot(&t, 1, qs_of(1, -1, -1), ep, 3);
    raft_msg m = vote_req(2, 1, 1, 1, 3, true);
    raft_receive(&t.r, 1, &m);
    const raft_msg *resp = find_msg(&t.r, RAFT_VOTE_RESP);
    CHECK(resp && resp->u.eresp.vote_granted);
    CHECK_EQ(t.r.qs.epoch, 1);
    CHECK_EQ(t.r.qs.voted.id, RAFT_NO_ID);
    CHECK_EQ(count_out(&t.r, RAFT_OUT_PERSIST), 0);
    raft_out_clear(&t.r);
    /* a pre-vote from a shorter log is refused */
    m = vote_req(3, 1, 1, 1, 2, true);
    raft_receive(&t.r, 2, &m);
    resp = find_msg(&t.r, RAFT_VOTE_RESP);
    CHECK(resp && !resp->u.eresp.vote_granted);
    raft_out_clear(&t.r);
    /* a real vote after granting a pre-vote: still free to vote */
    m = vote_req(3, 1, 2, 1, 3, false);
    raft_receive(&t.r, 3, &m);
    resp = find_msg(&t.r, RAFT_VOTE_RESP);
    CHECK(resp && resp->u.eresp.vote_granted);
    CHECK_EQ(t.r.qs.voted.id, 3);
}

TEST(raft_vote_checks_log_and_request) {
    int32_t ep[] = {1, 1, 2};
    tnode t;
    tn_boot(&t, 1, qs_of(2, -1, -1), ep, 3);
    /* candidate's log ends in an older epoch: rejected */
    raft_msg m = vote_req(2, 1, 3, 1, 10, false);
    raft_receive(&t.r, 1, &m);
    const raft_msg *resp = find_msg(&t.r, RAFT_VOTE_RESP);
    CHECK(resp && !resp->u.eresp.vote_granted &&
          resp->u.eresp.partition_error == KERR_NONE);
    CHECK_EQ(t.r.qs.epoch, 3); /* the higher epoch is adopted anyway */
    raft_out_clear(&t.r);
    /* LastOffsetEpoch >= ReplicaEpoch on a real vote: INVALID_REQUEST */
    m = vote_req(2, 1, 3, 3, 10, false);
    raft_receive(&t.r, 2, &m);
    resp = find_msg(&t.r, RAFT_VOTE_RESP);
    CHECK(resp && resp->u.eresp.partition_error == KERR_INVALID_REQUEST);
    raft_out_clear(&t.r);
    /* addressed to another voter (VoterId/VoterDirectoryId): the request is
     * not for us, INVALID_VOTER_KEY */
    m = vote_req(2, 1, 3, 2, 3, false);
    m.u.vote.voter.dir[0] = 99;
    raft_receive(&t.r, 3, &m);
    resp = find_msg(&t.r, RAFT_VOTE_RESP);
    CHECK(resp && resp->u.eresp.partition_error == KERR_INVALID_VOTER_KEY);
    CHECK_EQ(t.r.qs.voted.id, RAFT_NO_ID);
    raft_out_clear(&t.r);
    /* a negative replica id */
    m = vote_req(-1, 1, 4, 2, 3, false);
    raft_receive(&t.r, 4, &m);
    resp = find_msg(&t.r, RAFT_VOTE_RESP);
    CHECK(resp && resp->u.eresp.partition_error == KERR_INVALID_REQUEST);
}

TEST(raft_begin_quorum_epoch) {
    tnode t;
    tn_boot(&t, 1, qs_of(4, -1, -1), NULL, 0);
    raft_msg b;
    memset(&b, 0, sizeof(b));
    b.kind = RAFT_BEGIN_REQ;
    b.from = 2;
    b.u.begin.voter.id = 1;
    b.u.begin.leader_id = 2;
    b.u.begin.leader_epoch = 3;
    raft_receive(&t.r, 1, &b);
    const raft_msg *resp = find_msg(&t.r, RAFT_BEGIN_RESP);
    CHECK(resp && resp->u.eresp.partition_error == KERR_FENCED_LEADER_EPOCH &&
          resp->u.eresp.leader_epoch == 4);
    CHECK_EQ(t.r.role, RAFT_UNATTACHED);
    raft_out_clear(&t.r);
    b.u.begin.leader_epoch = 6;
    raft_receive(&t.r, 2, &b);
    resp = find_msg(&t.r, RAFT_BEGIN_RESP);
    CHECK(resp && resp->u.eresp.partition_error == KERR_NONE &&
          resp->u.eresp.leader_id == 2 && resp->u.eresp.leader_epoch == 6);
    CHECK_EQ(t.r.role, RAFT_FOLLOWER);
    CHECK_EQ(t.r.qs.epoch, 6);
    CHECK_EQ(t.r.qs.leader_id, 2);
    /* the follower starts fetching from its leader at once */
    const raft_msg *f = find_msg(&t.r, RAFT_FETCH_REQ);
    CHECK(f && f->to == 2 && f->u.fetch.current_leader_epoch == 6 &&
          f->u.fetch.fetch_offset == 0);
}

TEST(raft_end_quorum_epoch_preferred_successor_runs_first) {
    tnode t;
    tn_boot(&t, 1, qs_of(3, 2, -1), NULL, 0);
    CHECK_EQ(t.r.role, RAFT_FOLLOWER);
    raft_out_clear(&t.r);
    raft_msg e;
    memset(&e, 0, sizeof(e));
    e.kind = RAFT_END_REQ;
    e.from = 2;
    e.u.end.leader_id = 2;
    e.u.end.leader_epoch = 3;
    e.u.end.n_candidates = 2;
    e.u.end.candidates[0].id = 1;
    e.u.end.candidates[1].id = 3;
    raft_receive(&t.r, 10, &e);
    const raft_msg *resp = find_msg(&t.r, RAFT_END_RESP);
    CHECK(resp && resp->u.eresp.partition_error == KERR_NONE);
    /* first preferred successor: no backoff, a pre-vote at once */
    CHECK_EQ(t.r.role, RAFT_PROSPECTIVE);
    CHECK(find_msg(&t.r, RAFT_VOTE_REQ) != NULL);
    const raft_msg *v = find_msg(&t.r, RAFT_VOTE_REQ);
    CHECK(v && v->u.vote.pre_vote && v->u.vote.replica_epoch == 3);
    /* the second one backs off (strict exponential, max 1000 ms) */
    tnode u;
    tn_boot(&u, 3, qs_of(3, 2, -1), NULL, 0);
    e.to = 3;
    raft_receive(&u.r, 10, &e);
    CHECK_EQ(u.r.role, RAFT_FOLLOWER);
    CHECK_EQ(u.r.fetch_deadline, 10 + 1000 / 2);
}

TEST(raft_fetch_errors) {
    tnode t;
    tn_boot(&t, 1, qs_of(3, 2, -1), NULL, 0);
    /* a follower is not the leader */
    raft_msg f = fetch_req(3, 1, 3, 0, 0);
    raft_receive(&t.r, 1, &f);
    const raft_msg *resp = find_msg(&t.r, RAFT_FETCH_RESP);
    CHECK(resp &&
          resp->u.fresp.partition_error == KERR_NOT_LEADER_OR_FOLLOWER &&
          resp->u.fresp.leader_id == 2 && resp->u.fresp.leader_epoch == 3);
    raft_out_clear(&t.r);
    f = fetch_req(3, 1, 2, 0, 0);
    raft_receive(&t.r, 2, &f);
    resp = find_msg(&t.r, RAFT_FETCH_RESP);
    CHECK(resp && resp->u.fresp.partition_error == KERR_FENCED_LEADER_EPOCH);
    raft_out_clear(&t.r);
    f = fetch_req(3, 1, 4, 0, 0);
    raft_receive(&t.r, 3, &f);
    resp = find_msg(&t.r, RAFT_FETCH_RESP);
    CHECK(resp && resp->u.fresp.partition_error == KERR_UNKNOWN_LEADER_EPOCH);
    CHECK_EQ(t.r.qs.epoch, 3); /* a Fetch never moves the epoch */
    raft_out_clear(&t.r);
    f = fetch_req(3, 1, 3, 0, 4); /* LastFetchedEpoch > CurrentLeaderEpoch */
    raft_receive(&t.r, 4, &f);
    resp = find_msg(&t.r, RAFT_FETCH_RESP);
    CHECK(resp && resp->u.fresp.partition_error == KERR_INVALID_REQUEST);
    raft_out_clear(&t.r);
    f = fetch_req(3, 1, 3, -1, 0);
    raft_receive(&t.r, 5, &f);
    resp = find_msg(&t.r, RAFT_FETCH_RESP);
    CHECK(resp && resp->u.fresp.partition_error == KERR_INVALID_REQUEST);
}

/* Drive node 1 to leadership of epoch qs.epoch + 1 with node 2's votes. */
static void tn_elect(tnode *t) {
    raft_tick(&t->r, 5000); /* past the election timeout: prospective */
    tn_apply(t);
    CHECK_EQ(t->r.role, RAFT_PROSPECTIVE);
    for (int round = 0; round < 2; round++) {
        const raft_msg *v = NULL;
        for (int i = 0; i < t->r.n_out; i++)
            if (t->r.out[i].kind == RAFT_OUT_SEND &&
                t->r.out[i].u.msg.kind == RAFT_VOTE_REQ &&
                t->r.out[i].u.msg.to == 2)
                v = &t->r.out[i].u.msg;
        CHECK(v != NULL);
        if (!v)
            return;
        raft_msg resp;
        memset(&resp, 0, sizeof(resp));
        resp.kind = RAFT_VOTE_RESP;
        resp.from = 2;
        resp.to = 1;
        resp.correlation_id = v->correlation_id;
        resp.u.eresp.leader_id = -1;
        resp.u.eresp.leader_epoch = v->u.vote.replica_epoch;
        resp.u.eresp.vote_granted = true;
        raft_out_clear(&t->r);
        raft_receive(&t->r, 5001 + round, &resp);
        tn_apply(t);
    }
    CHECK_EQ(t->r.role, RAFT_LEADER);
}

TEST(raft_leader_answers_diverging_epoch_and_follower_truncates) {
    /* leader 1: epochs 1,1,1 then its LeaderChange in epoch 3 */
    int32_t lep[] = {1, 1, 1};
    tnode l;
    tn_boot(&l, 1, qs_of(2, -1, -1), lep, 3);
    tn_elect(&l);
    CHECK_EQ(l.r.qs.epoch, 3);
    CHECK_EQ(l.log.n, 4);
    CHECK_EQ(l.log.epochs[3], 3);
    raft_out_clear(&l.r);
    /* follower 2 holds 1,1,1,2,2 (an uncommitted tail of epoch 2) */
    int32_t fep[] = {1, 1, 1, 2, 2};
    tnode f;
    tn_boot(&f, 2, qs_of(3, 1, -1), fep, 5);
    raft_tick(&f.r, 1);
    const raft_msg *req = find_msg(&f.r, RAFT_FETCH_REQ);
    CHECK(req && req->u.fetch.fetch_offset == 5 &&
          req->u.fetch.last_fetched_epoch == 2);
    if (!req)
        return;
    raft_msg fr = *req;
    raft_out_clear(&f.r);
    raft_receive(&l.r, 5100, &fr);
    const raft_msg *resp = find_msg(&l.r, RAFT_FETCH_RESP);
    CHECK(resp && resp->u.fresp.partition_error == KERR_NONE &&
          resp->u.fresp.diverging.epoch == 1 &&
          resp->u.fresp.diverging.offset == 3 && resp->u.fresp.n_batches == 0);
    if (!resp)
        return;
    raft_msg back = *resp;
    raft_out_clear(&l.r);
    raft_receive(&f.r, 5101, &back);
    CHECK_EQ(count_out(&f.r, RAFT_OUT_TRUNCATE), 1);
    tn_apply(&f);
    CHECK_EQ(f.log.n, 3);
    raft_info info;
    raft_get_info(&f.r, &info);
    CHECK_EQ(info.log_end, 3);
    CHECK_EQ(info.last_epoch, 1);
    /* the next fetch, sent at once (a truncation needs no fsync), is from
     * the truncation point and gets the epoch-3 LeaderChange record */
    req = find_msg(&f.r, RAFT_FETCH_REQ);
    CHECK(req && req->u.fetch.fetch_offset == 3 &&
          req->u.fetch.last_fetched_epoch == 1);
    if (!req)
        return;
    fr = *req;
    raft_out_clear(&f.r);
    raft_receive(&l.r, 5103, &fr);
    resp = find_msg(&l.r, RAFT_FETCH_RESP);
    CHECK(resp && resp->u.fresp.n_batches == 1 &&
          resp->u.fresp.batches[0].epoch == 3 &&
          resp->u.fresp.diverging.epoch == -1);
}

TEST(raft_leader_high_watermark_needs_its_epoch_committed_durably) {
    int32_t lep[] = {1, 1};
    tnode l;
    tn_boot(&l, 1, qs_of(1, -1, -1), lep, 2);
    tn_elect(&l);
    raft_out_clear(&l.r);
    raft_info info;
    /* follower 2 fetched up to 2 (not yet the LeaderChange at 2) */
    raft_msg f = fetch_req(2, 1, 2, 2, 1);
    raft_receive(&l.r, 6000, &f);
    raft_get_info(&l.r, &info);
    CHECK_EQ(info.high_watermark, -1);
    raft_out_clear(&l.r);
    /* it fetched the LeaderChange: a majority holds offset 3... */
    f = fetch_req(2, 1, 2, 3, 2);
    raft_receive(&l.r, 6001, &f);
    raft_get_info(&l.r, &info);
    /* ...but the leader has not synced its own copy yet */
    CHECK_EQ(info.high_watermark, -1);
    CHECK_EQ(count_out(&l.r, RAFT_OUT_COMMIT), 0);
    raft_out_clear(&l.r);
    raft_log_synced(&l.r, 6002, 3);
    raft_get_info(&l.r, &info);
    CHECK_EQ(info.high_watermark, 3);
    CHECK_EQ(count_out(&l.r, RAFT_OUT_COMMIT), 1);
}

TEST(raft_fetch_below_log_start_gets_snapshot_id) {
    tnode t;
    tn_boot(&t, 1, qs_of(1, -1, -1), NULL, 0);
    t.log.start = 10;
    t.log.snap = (raft_oe){10, 1};
    t.r.log_start = 10;
    t.r.log_end = 10;
    t.r.durable_end = 10;
    t.r.last_epoch = 1;
    t.r.start_epoch = 1;
    t.r.snapshot_id = (raft_oe){10, 1};
    tn_elect(&t);
    raft_out_clear(&t.r);
    raft_msg f = fetch_req(2, 1, 2, 4, 1);
    raft_receive(&t.r, 7000, &f);
    const raft_msg *resp = find_msg(&t.r, RAFT_FETCH_RESP);
    CHECK(resp && resp->u.fresp.snapshot_id.offset == 10 &&
          resp->u.fresp.snapshot_id.epoch == 1 &&
          resp->u.fresp.log_start_offset == 10 && resp->u.fresp.n_batches == 0);
}

TEST(raft_restart_as_leader_resigns) {
    int32_t ep[] = {1, 2};
    tnode t;
    tn_boot(&t, 1, qs_of(2, 1, 1), ep, 2);
    CHECK_EQ(t.r.role, RAFT_RESIGNED);
    CHECK_EQ(t.r.qs.epoch, 2);
    raft_tick(&t.r, 1);
    CHECK(find_msg(&t.r, RAFT_END_REQ) != NULL);
    /* a vote in the epoch it led is refused */
    raft_out_clear(&t.r);
    raft_msg m = vote_req(2, 1, 2, 1, 5, false);
    raft_receive(&t.r, 2, &m);
    const raft_msg *resp = find_msg(&t.r, RAFT_VOTE_RESP);
    CHECK(resp && !resp->u.eresp.vote_granted);
}

TEST(raft_sim_short_sweep) {
    /* A short sweep of the simulation from this run's seed: 3 and 5
     * voters, an observer, crashes, partitions and snapshots. The long one
     * is make raft-sim-long. */
    uint64_t seed = test_seed() % 1000000000ULL;
    for (int k = 0; k < 16; k++) {
        rsim_opts o = {.seed = seed + (uint64_t)k,
                       .steps = 250000,
                       .voters = k % 2 ? 5 : 3,
                       .observers = 1,
                       .snapshots = true,
                       .quiet = true};
        rsim_stats st;
        bool ok = rsim_run(&o, &st);
        CHECK(ok);
        if (!ok)
            return;
        CHECK(st.committed > 0);
    }
}

TEST(raft_describe_quorum_replica_states) {
    int32_t lep[] = {1};
    tnode l;
    tn_boot(&l, 1, qs_of(1, -1, -1), lep, 1);
    raft_replica_info ri[8];
    int nv = 0;
    CHECK_EQ(raft_describe_quorum(&l.r, 0, ri, 8, &nv), -1); /* not leader */
    tn_elect(&l);
    raft_out_clear(&l.r);
    raft_log_synced(&l.r, 6000, 2);
    raft_out_clear(&l.r);
    /* voter 2 behind, then caught up; observer 100 fetches once */
    raft_msg f = fetch_req(2, 1, 2, 1, 1);
    raft_receive(&l.r, 6100, &f);
    raft_out_clear(&l.r);
    f = fetch_req(2, 1, 2, 2, 2);
    raft_receive(&l.r, 6200, &f);
    raft_out_clear(&l.r);
    f = fetch_req(100, 1, 2, 0, 0);
    f.u.fetch.replica.dir[0] = 7;
    raft_receive(&l.r, 6300, &f);
    raft_out_clear(&l.r);
    int n = raft_describe_quorum(&l.r, 6400, ri, 8, &nv);
    CHECK_EQ(n, 4);
    CHECK_EQ(nv, 3);
    CHECK_EQ(ri[0].key.id, 1);
    CHECK_EQ(ri[0].log_end_offset, 2);
    CHECK_EQ(ri[0].last_fetch_ms, 6400);
    CHECK_EQ(ri[1].key.id, 2);
    CHECK_EQ(ri[1].log_end_offset, 2);
    CHECK_EQ(ri[1].last_fetch_ms, 6200);
    CHECK_EQ(ri[1].last_caught_up_ms, 6200);
    CHECK_EQ(ri[2].key.id, 3);
    CHECK_EQ(ri[2].log_end_offset, -1);
    CHECK_EQ(ri[2].last_caught_up_ms, -1);
    CHECK_EQ(ri[3].key.id, 100);
    CHECK_EQ(ri[3].log_end_offset, 0);
    CHECK_EQ(ri[3].last_caught_up_ms, -1);
    /* a fetch from an observer does not count toward the high watermark:
     * 2 of 3 voters hold offset 2 */
    raft_info info;
    raft_get_info(&l.r, &info);
    CHECK_EQ(info.high_watermark, 2);
}

TEST(raft_fetch_long_poll) {
    int32_t lep[] = {1};
    tnode l;
    tn_boot(&l, 1, qs_of(1, -1, -1), lep, 1);
    tn_elect(&l);
    raft_out_clear(&l.r);
    raft_log_synced(&l.r, 6000, 2);
    raft_out_clear(&l.r);
    /* caught up, nothing new, same high watermark: parked (no response) */
    raft_msg f = fetch_req(2, 1, 2, 2, 2);
    f.u.fetch.max_wait_ms = 500;
    f.u.fetch.high_watermark = -1;
    raft_receive(&l.r, 6001, &f); /* moves the high watermark: answered */
    CHECK(find_msg(&l.r, RAFT_FETCH_RESP) != NULL);
    raft_out_clear(&l.r);
    f.u.fetch.high_watermark = 2;
    raft_receive(&l.r, 6002, &f);
    CHECK(find_msg(&l.r, RAFT_FETCH_RESP) == NULL);
    /* new durable data completes it */
    uint64_t v = 77;
    int64_t base = -1;
    CHECK_EQ(raft_propose(&l.r, 6003, (const uint8_t *)&v, 8, 1, &base),
             KERR_NONE);
    CHECK_EQ(base, 2);
    tn_apply(&l);
    raft_out_clear(&l.r);
    raft_tick(&l.r, 6004); /* not durable yet: still parked */
    CHECK(find_msg(&l.r, RAFT_FETCH_RESP) == NULL);
    raft_log_synced(&l.r, 6005, 3);
    const raft_msg *resp = find_msg(&l.r, RAFT_FETCH_RESP);
    CHECK(resp && resp->correlation_id == 9 && resp->u.fresp.n_batches == 1);
    raft_out_clear(&l.r);
    /* parked again at the end: answered empty when max wait expires */
    f.u.fetch.fetch_offset = 3;
    f.u.fetch.high_watermark = 2;
    raft_receive(&l.r, 6100, &f);
    resp = find_msg(&l.r, RAFT_FETCH_RESP);
    /* offset 3 from voter 2 commits offset 3: the high watermark moved */
    CHECK(resp && resp->u.fresp.high_watermark == 3);
    raft_out_clear(&l.r);
    f.u.fetch.high_watermark = 3;
    raft_receive(&l.r, 6101, &f);
    CHECK(find_msg(&l.r, RAFT_FETCH_RESP) == NULL);
    raft_tick(&l.r, 6500);
    CHECK(find_msg(&l.r, RAFT_FETCH_RESP) == NULL);
    raft_tick(&l.r, 6601);
    resp = find_msg(&l.r, RAFT_FETCH_RESP);
    CHECK(resp && resp->u.fresp.n_batches == 0 &&
          resp->u.fresp.partition_error == KERR_NONE);
}

/* A Fetch without the peer's high watermark (before v18): the one that
 * moves the high watermark is answered at once with it, the next is parked
 * (without this, a follower learned each commit only at max wait). */
TEST(raft_fetch_pre_v18_learns_hw_at_once) {
    int32_t lep[] = {1};
    tnode l;
    tn_boot(&l, 1, qs_of(1, -1, -1), lep, 1);
    tn_elect(&l);
    raft_out_clear(&l.r);
    raft_log_synced(&l.r, 6000, 2);
    raft_out_clear(&l.r);
    raft_msg f = fetch_req(2, 1, 2, 2, 2);
    f.u.fetch.max_wait_ms = 500;
    f.u.fetch.high_watermark = INT64_MAX;
    raft_receive(&l.r, 6001, &f); /* voter 2 holds 2: hw 2, answered */
    const raft_msg *resp = find_msg(&l.r, RAFT_FETCH_RESP);
    CHECK(resp && resp->u.fresp.high_watermark == 2 &&
          resp->u.fresp.n_batches == 0);
    raft_out_clear(&l.r);
    raft_receive(&l.r, 6002, &f); /* nothing new for it: parked */
    CHECK(find_msg(&l.r, RAFT_FETCH_RESP) == NULL);
    raft_tick(&l.r, 6503);
    CHECK(find_msg(&l.r, RAFT_FETCH_RESP) != NULL);
}

TEST(raft_leader_without_quorum_resigns) {
    tnode l;
    tn_boot(&l, 1, qs_of(1, -1, -1), NULL, 0);
    tn_elect(&l);
    raft_out_clear(&l.r);
    /* 1.5 x controller.quorum.fetch.timeout.ms (2000) without a fetch from
     * a majority: resign and tell the others with EndQuorumEpoch */
    raft_tick(&l.r, 5002 + 2999);
    CHECK_EQ(l.r.role, RAFT_LEADER);
    raft_out_clear(&l.r);
    raft_tick(&l.r, 5002 + 3000);
    CHECK_EQ(l.r.role, RAFT_RESIGNED);
    const raft_msg *e = find_msg(&l.r, RAFT_END_REQ);
    CHECK(e && e->u.end.leader_id == 1 && e->u.end.leader_epoch == 2 &&
          e->u.end.n_candidates == 2);
    /* and a proposal is refused */
    uint64_t v = 1;
    CHECK_EQ(raft_propose(&l.r, 8100, (const uint8_t *)&v, 8, 1, NULL),
             KERR_NOT_LEADER_OR_FOLLOWER);
    /* after an election timeout it leaves the epoch (epoch + 1) */
    raft_out_clear(&l.r);
    raft_tick(&l.r, 20000);
    CHECK(l.r.qs.epoch >= 3);
    CHECK(l.r.role != RAFT_RESIGNED && l.r.role != RAFT_LEADER);
}

TEST(raft_fetch_snapshot_errors) {
    tnode t;
    tn_boot(&t, 1, qs_of(1, -1, -1), NULL, 0);
    tn_elect(&t);
    raft_out_clear(&t.r);
    raft_msg q;
    memset(&q, 0, sizeof(q));
    q.kind = RAFT_FSNAP_REQ;
    q.from = 2;
    q.u.fsnap.replica.id = 2;
    q.u.fsnap.max_bytes = 100;
    q.u.fsnap.current_leader_epoch = 2;
    q.u.fsnap.snapshot_id = (raft_oe){5, 1};
    raft_receive(&t.r, 6000, &q); /* no read_snapshot in this log */
    const raft_msg *resp = find_msg(&t.r, RAFT_FSNAP_RESP);
    CHECK(resp && resp->u.sresp.partition_error == KERR_SNAPSHOT_NOT_FOUND);
    raft_out_clear(&t.r);
    q.u.fsnap.position = -1;
    raft_receive(&t.r, 6001, &q);
    resp = find_msg(&t.r, RAFT_FSNAP_RESP);
    CHECK(resp && resp->u.sresp.partition_error == KERR_POSITION_OUT_OF_RANGE);
    raft_out_clear(&t.r);
    q.u.fsnap.current_leader_epoch = 1;
    raft_receive(&t.r, 6002, &q);
    resp = find_msg(&t.r, RAFT_FSNAP_RESP);
    CHECK(resp && resp->u.sresp.partition_error == KERR_FENCED_LEADER_EPOCH);
}

TEST(raft_unknown_voter) {
    tnode t;
    tn_boot(&t, 1, qs_of(1, -1, -1), NULL, 0);
    /* a BeginQuorumEpoch from a leader outside the voter set: the epoch is
     * taken, but with no endpoints to fetch from the node stays unattached
     * (Kafka would need LeaderEndpoints in the request to follow it) */
    raft_msg b;
    memset(&b, 0, sizeof(b));
    b.kind = RAFT_BEGIN_REQ;
    b.from = 9;
    b.u.begin.voter.id = 1;
    b.u.begin.leader_id = 9;
    b.u.begin.leader_epoch = 4;
    raft_receive(&t.r, 1, &b);
    const raft_msg *resp = find_msg(&t.r, RAFT_BEGIN_RESP);
    CHECK(resp && resp->u.eresp.partition_error == KERR_NONE &&
          resp->u.eresp.leader_epoch == 4);
    CHECK_EQ(t.r.role, RAFT_UNATTACHED);
    CHECK_EQ(t.r.qs.epoch, 4);
    raft_out_clear(&t.r);
    /* Kafka judges a Vote by the nominee's log, not its membership; a
     * request addressed to another voter key is refused */
    raft_msg m = vote_req(9, 1, 5, 0, 0, false);
    m.u.vote.voter.id = 2;
    raft_receive(&t.r, 2, &m);
    resp = find_msg(&t.r, RAFT_VOTE_RESP);
    CHECK(resp && resp->u.eresp.partition_error == KERR_INVALID_VOTER_KEY &&
          !resp->u.eresp.vote_granted);
    CHECK_EQ(t.r.qs.voted.id, RAFT_NO_ID);
    /* a non-voter never becomes a candidate: an observer node waits */
    tnode o;
    tn_boot(&o, 100, qs_of(1, -1, -1), NULL, 0);
    raft_tick(&o.r, 100000);
    CHECK_EQ(o.r.role, RAFT_UNATTACHED);
    CHECK(find_msg(&o.r, RAFT_VOTE_REQ) == NULL);
    CHECK(find_msg(&o.r, RAFT_FETCH_REQ) != NULL); /* it looks for a leader */
}

TEST(raft_error_response_backs_off) {
    tnode t;
    tn_boot(&t, 1, qs_of(1, -1, -1), NULL, 0);
    raft_tick(&t.r, 5000); /* prospective: pre-votes to 2 and 3 */
    const raft_msg *v = find_msg(&t.r, RAFT_VOTE_REQ);
    CHECK(v != NULL);
    if (!v)
        return;
    int32_t corr2 = -1;
    for (int i = 0; i < t.r.n_out; i++)
        if (t.r.out[i].kind == RAFT_OUT_SEND && t.r.out[i].u.msg.to == 2)
            corr2 = t.r.out[i].u.msg.correlation_id;
    raft_out_clear(&t.r);
    /* the connection to 2 dropped: Kafka completes the request with an
     * error response and backs off (controller.quorum.retry.backoff.ms) */
    raft_msg e;
    memset(&e, 0, sizeof(e));
    e.kind = RAFT_VOTE_RESP;
    e.from = 2;
    e.to = 1;
    e.correlation_id = corr2;
    e.u.eresp.error_code = KERR_NETWORK_EXCEPTION;
    raft_receive(&t.r, 5001, &e);
    CHECK(find_msg(&t.r, RAFT_VOTE_REQ) == NULL);
    raft_tick(&t.r, 5020);
    CHECK(find_msg(&t.r, RAFT_VOTE_REQ) == NULL);
    raft_tick(&t.r, 5021);
    v = find_msg(&t.r, RAFT_VOTE_REQ);
    CHECK(v && v->to == 2 && v->u.vote.pre_vote);
    /* a response to an older request (stale correlation id) is dropped */
    raft_out_clear(&t.r);
    e.u.eresp.error_code = 0;
    e.u.eresp.leader_id = -1;
    e.u.eresp.leader_epoch = 1;
    e.u.eresp.vote_granted = true;
    raft_receive(&t.r, 5022, &e);
    CHECK_EQ(t.r.role, RAFT_PROSPECTIVE);
}

/* Reject every pending Vote request of `t` (from each voter asked). */
static void tn_reject_votes(tnode *t, int64_t now) {
    raft_msg reqs[RAFT_MAX_VOTERS];
    int n = 0;
    for (int i = 0; i < t->r.n_out && n < RAFT_MAX_VOTERS; i++)
        if (t->r.out[i].kind == RAFT_OUT_SEND &&
            t->r.out[i].u.msg.kind == RAFT_VOTE_REQ)
            reqs[n++] = t->r.out[i].u.msg;
    raft_out_clear(&t->r);
    for (int i = 0; i < n; i++) {
        raft_msg resp;
        memset(&resp, 0, sizeof(resp));
        resp.kind = RAFT_VOTE_RESP;
        resp.from = reqs[i].to;
        resp.to = reqs[i].from;
        resp.correlation_id = reqs[i].correlation_id;
        resp.u.eresp.leader_id = t->r.qs.leader_id;
        resp.u.eresp.leader_epoch = reqs[i].u.vote.replica_epoch;
        raft_receive(&t->r, now, &resp);
    }
}

TEST(raft_prospective_loss_returns_to_leader_keeping_vote) {
    int32_t ep[] = {1, 3};
    tnode t;
    /* follower of 2 in epoch 3, having voted for 3 in that epoch */
    tn_boot(&t, 1, qs_of(3, 2, 3), ep, 2);
    CHECK_EQ(t.r.role, RAFT_FOLLOWER);
    raft_out_clear(&t.r);
    raft_tick(&t.r, 2000); /* controller.quorum.fetch.timeout.ms */
    CHECK_EQ(t.r.role, RAFT_PROSPECTIVE);
    CHECK_EQ(count_out(&t.r, RAFT_OUT_PERSIST), 0); /* memory only */
    const raft_msg *v = find_msg(&t.r, RAFT_VOTE_REQ);
    CHECK(v && v->u.vote.pre_vote && v->u.vote.replica_epoch == 3 &&
          v->u.vote.last_offset == 2 && v->u.vote.last_offset_epoch == 3);
    tn_reject_votes(&t, 2001);
    /* the pre-vote lost: back to the known leader, same epoch, same vote */
    CHECK_EQ(t.r.role, RAFT_FOLLOWER);
    CHECK_EQ(t.r.qs.epoch, 3);
    CHECK_EQ(t.r.qs.leader_id, 2);
    CHECK_EQ(t.r.qs.voted.id, 3);
}

TEST(raft_candidate_times_out_to_prospective) {
    int32_t ep[] = {1};
    tnode t;
    tn_boot(&t, 1, qs_of(2, -1, 1), ep, 1); /* voted for itself in 2 */
    CHECK_EQ(t.r.role, RAFT_CANDIDATE);
    raft_tick(&t.r, 1);
    const raft_msg *v = find_msg(&t.r, RAFT_VOTE_REQ);
    CHECK(v && !v->u.vote.pre_vote && v->u.vote.replica_epoch == 2);
    tn_reject_votes(&t, 2);
    /* rejected by all: it waits out its election timeout, then goes back
     * to Prospective without bumping the epoch (Kafka 4 with KIP-996) */
    CHECK_EQ(t.r.role, RAFT_CANDIDATE);
    CHECK(find_msg(&t.r, RAFT_VOTE_REQ) == NULL);
    raft_tick(&t.r, 4000);
    CHECK_EQ(t.r.role, RAFT_PROSPECTIVE);
    CHECK_EQ(t.r.qs.epoch, 2);
    v = find_msg(&t.r, RAFT_VOTE_REQ);
    CHECK(v && v->u.vote.pre_vote && v->u.vote.replica_epoch == 2);
}
