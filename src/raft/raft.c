/*
 * raft.c - the KRaft state machine (see raft.h), following Apache Kafka
 * 4.3.1's KafkaRaftClient, QuorumState, LeaderState, FollowerState,
 * CandidateState, ProspectiveState, UnattachedState and ResignedState: the
 * same states, transitions, checks and error codes, with the I/O turned
 * into outbox items.
 *
 * Invariants (asserted where they are established; where a peer's message
 * would break one, the message is ignored and counted in r->violations
 * instead, so bad input never crashes a node):
 *  I1  The epoch (qs.epoch) never decreases, and every change of the
 *      persisted part (epoch, leader, voted key) is PERSISTed before any
 *      message that depends on it leaves the outbox.
 *  I2  One vote per epoch: the voted key is set at most once in an epoch
 *      and only moves with the epoch. A pre-vote never sets it and never
 *      bumps the epoch.
 *  I3  A leader exists only after a majority granted its epoch; it appends
 *      only in its own epoch, at the log end, and never truncates.
 *  I4  The leader's high watermark is an offset that a majority of voters
 *      (the leader counting its durable end) hold, and it is set only once
 *      it exceeds the epoch start offset (the LeaderChange record of its
 *      own epoch is committed).
 *  I5  The committed offset a node reports (RAFT_OUT_COMMIT) never
 *      decreases in one life, and it never exceeds the log end.
 *  I6  A follower never truncates below its high watermark (or its
 *      committed offset), and its high watermark never moves back.
 *  I7  log_start <= durable_end <= log_end; an APPEND starts at log_end.
 *  I8  At most one leader per epoch: a request or response naming another
 *      leader for our epoch than the one we know is a protocol violation.
 *  I9  A response is handled only if it answers the request in flight to
 *      that peer (Kafka's RequestManager); stale and duplicated responses
 *      are dropped.
 */
#include "raft/raft.h"

#include <string.h>

#include "core/util.h"
#include "proto/errors.h"

#define CHECK_QUORUM_FACTOR_NUM 3 /* LeaderState: 1.5 x fetch timeout */
#define CHECK_QUORUM_FACTOR_DEN 2

static const uint8_t zero_dir[16];

/* ---------- helpers ---------- */

void raft_config_defaults(raft_config *cfg) {
    cfg->election_timeout_ms = 1000;
    cfg->fetch_timeout_ms = 2000;
    cfg->election_backoff_max_ms = 1000;
    cfg->request_timeout_ms = 2000;
    cfg->retry_backoff_ms = 20;
    cfg->fetch_max_wait_ms = 500;
    cfg->fetch_max_bytes = 1048576;
    cfg->fetch_snapshot_max_bytes = 1048576;
}

const char *raft_role_name(raft_role role) {
    static const char *names[] = {"Unattached", "Prospective", "Candidate",
                                  "Leader",     "Follower",    "Resigned"};
    return (unsigned)role < SL_ARRAY_LEN(names) ? names[role] : "?";
}

static bool dir_zero(const uint8_t d[16]) {
    return memcmp(d, zero_dir, 16) == 0;
}

/* A key in the voter set matches `k` when the ids agree and the directory
 * ids agree or one of them is unknown. */
static bool key_match(const raft_key *a, const raft_key *k) {
    return a->id == k->id && (dir_zero(a->dir) || dir_zero(k->dir) ||
                              memcmp(a->dir, k->dir, 16) == 0);
}

static int voter_index(const raft *r, int32_t id) {
    for (int i = 0; i < r->cfg.voters.n; i++)
        if (r->cfg.voters.v[i].id == id)
            return i;
    return -1;
}

static int self_index(const raft *r) {
    for (int i = 0; i < r->cfg.voters.n; i++)
        if (key_match(&r->cfg.voters.v[i], &r->cfg.self))
            return i;
    return -1;
}

static bool is_voter(const raft *r) {
    return self_index(r) >= 0;
}

static int majority(const raft *r) {
    return r->cfg.voters.n / 2 + 1;
}

static int64_t random_election_timeout(raft *r) {
    int64_t et = r->cfg.election_timeout_ms;
    if (et == 0)
        return 0;
    return et + (int64_t)rng_below(r->rng, (uint64_t)et);
}

static raft_out *out_push(raft *r, raft_out_kind kind) {
    SL_ASSERT(r->n_out < RAFT_OUT_CAP);
    raft_out *o = &r->out[r->n_out++];
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    return o;
}

static void persist(raft *r) {
    raft_out *o = out_push(r, RAFT_OUT_PERSIST);
    o->u.qstate = r->qs;
}

static raft_msg *out_msg(raft *r, raft_kind kind, int32_t to, int32_t corr) {
    raft_out *o = out_push(r, RAFT_OUT_SEND);
    raft_msg *m = &o->u.msg;
    m->kind = kind;
    m->from = r->cfg.self.id;
    m->to = to;
    m->correlation_id = corr;
    m->has_cluster_id = true;
    memcpy(m->cluster_id, r->cfg.cluster_id, RAFT_CLUSTER_ID_CAP);
    return m;
}

static raft_msg *out_response(raft *r, const raft_msg *req, raft_kind kind) {
    raft_msg *m = out_msg(r, kind, req->from, req->correlation_id);
    m->has_cluster_id = false;
    m->cluster_id[0] = 0;
    return m;
}

static bool valid_cluster_id(const raft *r, const raft_msg *m) {
    /* Kafka does not enforce the cluster id when it is absent. */
    return !m->has_cluster_id || strcmp(m->cluster_id, r->cfg.cluster_id) == 0;
}

/* A peer broke the protocol (two leaders in one epoch, a high watermark
 * moving back, a truncation below it). Kafka throws and stops its raft
 * thread; here the message is ignored and counted, so a bad peer cannot
 * crash a node and the simulation still fails on it. */
static void violation(raft *r) {
    r->violations++;
}

/* ---------- request manager (Kafka's RequestManager) ---------- */

static bool req_ready(const raft_peer *p, int64_t now) {
    return p->req_state == 0 || now >= p->req_until;
}

static bool req_backing_off(const raft_peer *p, int64_t now) {
    return p->req_state == 2 && now < p->req_until;
}

static bool req_in_flight(const raft_peer *p, int64_t now) {
    return p->req_state == 1 && now < p->req_until;
}

static void req_reset_all(raft *r) {
    for (int i = 0; i < r->cfg.voters.n; i++)
        r->voters[i].req_state = 0;
}

static bool any_in_flight(const raft *r) {
    for (int i = 0; i < r->cfg.voters.n; i++)
        if (req_in_flight(&r->voters[i], r->now))
            return true;
    return false;
}

static int32_t req_send(raft *r, raft_peer *p) {
    int32_t corr = r->next_corr++;
    if (r->next_corr < 0)
        r->next_corr = 0;
    p->req_state = 1;
    p->req_corr = corr;
    p->req_until = r->now + r->cfg.request_timeout_ms;
    return corr;
}

/* ---------- committed offset ---------- */

static void commit_to(raft *r, int64_t hw) {
    /* I5 */
    SL_ASSERT(hw <= r->log_end);
    if (hw > r->committed) {
        r->committed = hw;
        raft_out *o = out_push(r, RAFT_OUT_COMMIT);
        o->u.offset = hw;
    }
}

/* ---------- leader: parked fetches ---------- */

static void fetch_reply(raft *r, int32_t to, int32_t corr,
                        const raft_fetch_req *f, bool *empty_out);
static void respond_parked(raft *r, raft_peer *p) {
    p->parked = false;
    p->sent_hw = r->hw;
    fetch_reply(r, p->key.id, p->parked_corr, &p->parked_req, NULL);
}

static void fail_parked(raft *r, int16_t err) {
    raft_peer *sets[2] = {r->voters, r->observers};
    int ns[2] = {r->cfg.voters.n, r->n_observers};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < ns[s]; i++) {
            raft_peer *p = &sets[s][i];
            if (!p->parked)
                continue;
            p->parked = false;
            raft_msg *m =
                out_msg(r, RAFT_FETCH_RESP, p->key.id, p->parked_corr);
            m->has_cluster_id = false;
            m->cluster_id[0] = 0;
            raft_fetch_resp *fr = &m->u.fresp;
            fr->partition_error = err;
            fr->high_watermark = -1;
            fr->log_start_offset = r->log_start;
            fr->diverging = (raft_oe){-1, -1};
            fr->snapshot_id = (raft_oe){-1, -1};
            fr->leader_id = r->qs.leader_id;
            fr->leader_epoch = r->qs.epoch;
        }
}

/* Complete every parked fetch (fetchPurgatory.completeAll), or only those
 * whose deadline passed or that now have data. */
static void complete_parked(raft *r, bool all) {
    if (r->completing) {
        /* a response just built moved the high watermark: every parked
         * fetch is due, once the current pass is over */
        r->complete_all_again |= all;
        return;
    }
    r->completing = true;
    do {
        all |= r->complete_all_again;
        r->complete_all_again = false;
        raft_peer *sets[2] = {r->voters, r->observers};
        int ns[2] = {r->cfg.voters.n, r->n_observers};
        for (int s = 0; s < 2; s++)
            for (int i = 0; i < ns[s]; i++) {
                raft_peer *p = &sets[s][i];
                if (!p->parked)
                    continue;
                if (all || r->now >= p->parked_deadline ||
                    p->parked_req.fetch_offset < r->durable_end)
                    respond_parked(r, p);
            }
    } while (r->complete_all_again);
    r->completing = false;
}

/* ---------- transitions (QuorumState) ---------- */

static void reset_election(raft *r) {
    for (int i = 0; i < r->cfg.voters.n; i++)
        r->voters[i].vote = 0;
    int si = self_index(r);
    if (si >= 0)
        r->voters[si].vote = 1;
}

static int count_votes(const raft *r, int v) {
    int n = 0;
    for (int i = 0; i < r->cfg.voters.n; i++)
        n += r->voters[i].vote == v;
    return n;
}

static bool vote_granted(const raft *r) {
    return count_votes(r, 1) >= majority(r);
}

static bool vote_rejected(const raft *r) {
    return count_votes(r, 1) + count_votes(r, 0) < majority(r);
}

static void leave_leader(raft *r) {
    if (r->role == RAFT_LEADER)
        fail_parked(r, KERR_NOT_LEADER_OR_FOLLOWER);
}

static void set_epoch_state(raft *r, int32_t epoch, int32_t leader,
                            const raft_key *voted) {
    SL_ASSERT(epoch >= r->qs.epoch); /* I1 */
    if (epoch == r->qs.epoch && r->qs.voted.id != RAFT_NO_ID) {
        /* I2: the vote of an epoch never changes */
        SL_ASSERT(voted && voted->id == r->qs.voted.id);
    }
    r->qs.epoch = epoch;
    r->qs.leader_id = leader;
    if (voted)
        r->qs.voted = *voted;
    else
        r->qs.voted = (raft_key){.id = RAFT_NO_ID};
    persist(r);
}

static void to_unattached(raft *r, int32_t epoch, int32_t leader) {
    SL_ASSERT(epoch > r->qs.epoch ||
              (epoch == r->qs.epoch && r->role == RAFT_PROSPECTIVE));
    int64_t deadline;
    if (!is_voter(r))
        deadline = INT64_MAX;
    else if (r->role == RAFT_CANDIDATE || r->role == RAFT_UNATTACHED ||
             r->role == RAFT_RESIGNED ||
             (r->role == RAFT_PROSPECTIVE && !vote_rejected(r)))
        deadline = r->election_deadline;
    else
        deadline = r->now + random_election_timeout(r);
    leave_leader(r);
    raft_key voted = r->qs.voted;
    set_epoch_state(r, epoch, leader, epoch == r->qs.epoch ? &voted : NULL);
    r->role = RAFT_UNATTACHED;
    r->election_deadline = deadline;
    r->fetching_snapshot = false;
    req_reset_all(r);
}

static bool leader_known_endpoints(const raft *r, int32_t leader) {
    /* The static voter set gives every voter's endpoints; the glue resolves
     * them (Endpoints). A leader outside it has none. */
    return voter_index(r, leader) >= 0;
}

static void to_follower(raft *r, int32_t epoch, int32_t leader) {
    SL_ASSERT(leader != r->cfg.self.id);
    SL_ASSERT(epoch >= r->qs.epoch);
    SL_ASSERT(!(epoch == r->qs.epoch && r->role == RAFT_LEADER));
    leave_leader(r);
    raft_key voted = r->qs.voted;
    set_epoch_state(r, epoch, leader, epoch == r->qs.epoch ? &voted : NULL);
    r->role = RAFT_FOLLOWER;
    r->fetch_deadline = r->now + r->cfg.fetch_timeout_ms;
    r->has_fetched_from_leader = false;
    r->fetching_snapshot = false;
    req_reset_all(r);
}

static void become_leader(raft *r);

static void to_candidate(raft *r) {
    SL_ASSERT(is_voter(r) && r->role == RAFT_PROSPECTIVE);
    raft_key self = r->cfg.self;
    set_epoch_state(r, r->qs.epoch + 1, RAFT_NO_ID, &self);
    r->role = RAFT_CANDIDATE;
    r->election_deadline = r->now + random_election_timeout(r);
    r->vote_rejected_wait = false;
    reset_election(r);
    if (vote_granted(r))
        become_leader(r);
    else
        req_reset_all(r);
}

static void to_prospective(raft *r) {
    SL_ASSERT(is_voter(r));
    SL_ASSERT(r->role != RAFT_LEADER && r->role != RAFT_PROSPECTIVE);
    /* memory only: the persisted state does not change */
    r->role = RAFT_PROSPECTIVE;
    r->election_deadline = r->now + random_election_timeout(r);
    reset_election(r);
    if (vote_granted(r))
        to_candidate(r);
    else
        req_reset_all(r);
}

static void become_leader(raft *r) {
    SL_ASSERT(r->role == RAFT_CANDIDATE && vote_granted(r)); /* I3 */
    r->n_granting = 0;
    for (int i = 0; i < r->cfg.voters.n; i++)
        if (r->voters[i].vote == 1)
            r->granting[r->n_granting++] = r->cfg.voters.v[i].id;
    raft_key voted = r->qs.voted;
    set_epoch_state(r, r->qs.epoch, r->cfg.self.id, &voted);
    r->role = RAFT_LEADER;
    /* The leader does not keep the high watermark it knew: only a majority
     * holding an entry of its own epoch proves the next one (QuorumState). */
    r->hw = -1;
    r->epoch_start_offset = r->log_end;
    for (int i = 0; i < r->cfg.voters.n; i++) {
        raft_peer *p = &r->voters[i];
        p->end_offset = -1;
        p->last_fetch_ms = -1;
        p->last_caught_up_ms = -1;
        p->last_fetch_leader_end = -1;
        p->acked = key_match(&r->cfg.voters.v[i], &r->cfg.self);
        p->fetched = false;
        p->parked = false;
        p->sent_hw = -1;
    }
    r->n_observers = 0;
    r->check_quorum_deadline = r->now + (int64_t)r->cfg.fetch_timeout_ms *
                                            CHECK_QUORUM_FACTOR_NUM /
                                            CHECK_QUORUM_FACTOR_DEN;
    r->begin_epoch_deadline = r->now;
    /* The LeaderChange control record: the high watermark can only move
     * once an entry of this epoch is committed, so write one at once. */
    raft_out *o = out_push(r, RAFT_OUT_APPEND);
    o->u.batch = (raft_batch){.base_offset = r->log_end,
                              .last_offset = r->log_end,
                              .epoch = r->qs.epoch,
                              .control = true};
    r->log_end++;
    r->last_epoch = r->qs.epoch;
    req_reset_all(r);
}

static void to_resigned(raft *r) {
    SL_ASSERT(r->role == RAFT_LEADER);
    fail_parked(r, KERR_NOT_LEADER_OR_FOLLOWER);
    /* preferred successors: voters by descending fetch offset */
    r->n_successors = 0;
    int si = self_index(r);
    for (int i = 0; i < r->cfg.voters.n; i++) {
        if (i == si)
            continue;
        int j = r->n_successors++;
        while (j > 0) {
            int k = voter_index(r, r->successors[j - 1].id);
            if (r->voters[k].end_offset >= r->voters[i].end_offset)
                break;
            r->successors[j] = r->successors[j - 1];
            j--;
        }
        r->successors[j] = r->cfg.voters.v[i];
    }
    for (int i = 0; i < r->cfg.voters.n; i++)
        r->voters[i].unacked_end = i != si;
    r->role = RAFT_RESIGNED;
    r->election_deadline = r->now + random_election_timeout(r);
    req_reset_all(r);
}

/* hasConsistentLeader + maybeTransition */
static void maybe_transition(raft *r, int32_t leader, int32_t epoch) {
    if (leader >= 0 && leader == r->cfg.self.id) {
        if (r->role != RAFT_LEADER && epoch == r->qs.epoch) {
            violation(r); /* I8: we do not lead this epoch */
            return;
        }
        if (epoch != r->qs.epoch && epoch > r->qs.epoch) {
            violation(r); /* we never led a later epoch */
            return;
        }
        if (epoch != r->qs.epoch)
            return;
    } else if (epoch == r->qs.epoch && leader >= 0 && r->qs.leader_id >= 0 &&
               leader != r->qs.leader_id) {
        violation(r); /* I8: another leader for our epoch */
        return;
    }
    if (epoch > r->qs.epoch) {
        if (leader >= 0 && leader != r->cfg.self.id &&
            leader_known_endpoints(r, leader))
            to_follower(r, epoch, leader);
        else
            to_unattached(r, epoch, RAFT_NO_ID);
    } else if (epoch == r->qs.epoch && leader >= 0 && r->qs.leader_id < 0 &&
               leader != r->cfg.self.id && leader_known_endpoints(r, leader)) {
        to_follower(r, epoch, leader);
    }
}

/* maybeHandleCommonResponse: -1 not handled, 0 handled (back off), 1
 * handled. */
static int handle_common_response(raft *r, int16_t err, int32_t leader,
                                  int32_t epoch) {
    if (epoch < r->qs.epoch || err == KERR_UNKNOWN_LEADER_EPOCH)
        return 1;
    if (epoch > r->qs.epoch || err == KERR_FENCED_LEADER_EPOCH ||
        err == KERR_NOT_LEADER_OR_FOLLOWER) {
        maybe_transition(r, leader, epoch);
        return 1;
    }
    if (epoch == r->qs.epoch && leader >= 0 && r->qs.leader_id < 0) {
        maybe_transition(r, leader, epoch);
        return err == KERR_NONE && r->role == RAFT_FOLLOWER ? -1 : 1;
    }
    if (err == KERR_BROKER_NOT_AVAILABLE)
        return 0;
    if (err == KERR_INVALID_VOTER_KEY)
        return 1;
    if (err == KERR_INVALID_REQUEST) {
        /* Kafka throws IllegalStateException here, which stops its raft
         * thread; a peer's answer must not crash us: back off instead. */
        return 0;
    }
    return -1;
}

/* ---------- leader: replica state and the high watermark ---------- */

static void on_hw_update(raft *r) {
    commit_to(r, r->hw);
    complete_parked(r, true);
}

static void maybe_update_hw(raft *r) {
    int n = r->cfg.voters.n;
    int64_t offs[RAFT_MAX_VOTERS] = {0};
    int si = self_index(r);
    for (int i = 0; i < n; i++)
        offs[i] = i == si ? r->durable_end : r->voters[i].end_offset;
    /* descending; unknown (-1) last */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && offs[j] > offs[j - 1]; j--) {
            int64_t t = offs[j];
            offs[j] = offs[j - 1];
            offs[j - 1] = t;
        }
    int64_t v = offs[n / 2];
    if (v < 0 || v <= r->epoch_start_offset)
        return; /* I4: an entry of this epoch must be committed first */
    if (v > r->hw) {
        SL_ASSERT(v <= r->log_end);
        r->hw = v;
        on_hw_update(r);
    }
}

static raft_peer *replica_state(raft *r, const raft_key *key) {
    int vi = voter_index(r, key->id);
    if (vi >= 0 && key_match(&r->cfg.voters.v[vi], key))
        return &r->voters[vi];
    for (int i = 0; i < r->n_observers; i++)
        if (r->observers[i].key.id == key->id &&
            memcmp(r->observers[i].key.dir, key->dir, 16) == 0)
            return &r->observers[i];
    /* a new observer: reuse the least recently seen slot when full */
    int slot = r->n_observers;
    if (slot == RAFT_MAX_OBSERVERS) {
        slot = 0;
        for (int i = 1; i < RAFT_MAX_OBSERVERS; i++)
            if (!r->observers[i].parked && r->observers[i].last_fetch_ms <
                                               r->observers[slot].last_fetch_ms)
                slot = i;
        if (r->observers[slot].parked)
            respond_parked(r, &r->observers[slot]);
    } else {
        r->n_observers++;
    }
    raft_peer *p = &r->observers[slot];
    memset(p, 0, sizeof(*p));
    p->key = *key;
    p->end_offset = -1;
    p->sent_hw = -1;
    p->last_fetch_ms = -1;
    p->last_caught_up_ms = -1;
    p->last_fetch_leader_end = -1;
    return p;
}

static void update_check_quorum(raft *r, const raft_key *key) {
    int vi = voter_index(r, key->id);
    if (vi < 0 || !key_match(&r->cfg.voters.v[vi], key) ||
        key->id == r->cfg.self.id)
        return;
    r->voters[vi].fetched = true;
    int need = majority(r) - (is_voter(r) ? 1 : 0);
    int got = 0;
    for (int i = 0; i < r->cfg.voters.n; i++)
        got += r->voters[i].fetched;
    if (got >= need) {
        for (int i = 0; i < r->cfg.voters.n; i++)
            r->voters[i].fetched = false;
        r->check_quorum_deadline = r->now + (int64_t)r->cfg.fetch_timeout_ms *
                                                CHECK_QUORUM_FACTOR_NUM /
                                                CHECK_QUORUM_FACTOR_DEN;
    }
}

/* ---------- Fetch (leader side) ---------- */

typedef enum { OE_VALID, OE_DIVERGING, OE_SNAPSHOT } oe_kind;

/* RaftLog.validateOffsetAndEpoch */
static oe_kind validate_offset_epoch(raft *r, int64_t offset, int32_t epoch,
                                     raft_oe *out) {
    if (r->log_start == 0 && offset == 0) {
        *out = (raft_oe){0, 0};
        return OE_VALID;
    }
    if (r->log_start > 0 &&
        (offset < r->log_start ||
         (offset == r->log_start && epoch != r->start_epoch) ||
         epoch < r->start_epoch)) {
        SL_ASSERT(r->snapshot_id.offset >= 0);
        *out = r->snapshot_id;
        return OE_SNAPSHOT;
    }
    raft_oe eo = r->log.end_offset_for_epoch(r->log.ctx, epoch);
    if (eo.epoch != epoch || eo.offset < offset) {
        *out = eo;
        return OE_DIVERGING;
    }
    *out = (raft_oe){offset, epoch};
    return OE_VALID;
}

/* validateLeaderOnlyRequest */
static int16_t validate_leader_only(const raft *r, int32_t epoch) {
    if (epoch < r->qs.epoch)
        return KERR_FENCED_LEADER_EPOCH;
    if (epoch > r->qs.epoch)
        return KERR_UNKNOWN_LEADER_EPOCH;
    if (r->role != RAFT_LEADER)
        return KERR_NOT_LEADER_OR_FOLLOWER;
    return KERR_NONE;
}

/* tryCompleteFetchRequest: builds the response into the outbox. *empty_out
 * (if given) says whether the response may be parked instead. */
static void fetch_reply(raft *r, int32_t to, int32_t corr,
                        const raft_fetch_req *f, bool *empty_out) {
    raft_msg *m = out_msg(r, RAFT_FETCH_RESP, to, corr);
    m->has_cluster_id = false;
    m->cluster_id[0] = 0;
    raft_fetch_resp *fr = &m->u.fresp;
    fr->diverging = (raft_oe){-1, -1};
    fr->snapshot_id = (raft_oe){-1, -1};
    fr->leader_id = r->qs.leader_id;
    fr->leader_epoch = r->qs.epoch;
    fr->log_start_offset = r->log_start;
    fr->high_watermark = -1;
    int16_t err = validate_leader_only(r, f->current_leader_epoch);
    if (!err && f->replica.id == r->cfg.self.id)
        err = KERR_UNKNOWN_SERVER_ERROR; /* Kafka: "matches the leader ID" */
    if (err) {
        fr->partition_error = err;
        if (empty_out)
            *empty_out = false;
        return;
    }
    raft_oe oe;
    oe_kind kind;
    if (f->fetch_offset == 0 && r->snapshot_id.offset > 0) {
        /* an empty follower takes the latest snapshot at once */
        oe = r->snapshot_id;
        kind = OE_SNAPSHOT;
    } else {
        kind = validate_offset_epoch(r, f->fetch_offset, f->last_fetched_epoch,
                                     &oe);
    }
    if (kind == OE_VALID) {
        if (f->fetch_offset < r->log_end) {
            uint32_t max = f->max_bytes > 0 ? (uint32_t)f->max_bytes : 1;
            fr->n_batches = r->log.read(r->log.ctx, f->fetch_offset, max,
                                        fr->batches, RAFT_MAX_FETCH_BATCHES);
            SL_ASSERT(fr->n_batches >= 0 &&
                      fr->n_batches <= RAFT_MAX_FETCH_BATCHES);
        }
        if (f->replica.id >= 0) {
            raft_peer *p = replica_state(r, &f->replica);
            if (p->end_offset > f->fetch_offset) {
                /* non-monotonic fetch offset (a truncated follower) */
            }
            /* ReplicaState.updateFollowerState: caught up when it reached
             * the leader's end, or the end the leader had at its previous
             * fetch (then as of that fetch) */
            int64_t lend = r->durable_end;
            if (f->fetch_offset >= lend) {
                if (r->now > p->last_caught_up_ms)
                    p->last_caught_up_ms = r->now;
            } else if (p->last_fetch_leader_end > 0 &&
                       f->fetch_offset >= p->last_fetch_leader_end &&
                       p->last_fetch_ms > p->last_caught_up_ms) {
                p->last_caught_up_ms = p->last_fetch_ms;
            }
            p->last_fetch_leader_end = lend;
            p->end_offset = f->fetch_offset;
            if (r->now > p->last_fetch_ms)
                p->last_fetch_ms = r->now;
            p->acked = true;
            update_check_quorum(r, &f->replica);
            if (p >= r->voters && p < r->voters + RAFT_MAX_VOTERS)
                maybe_update_hw(r);
        }
    } else if (kind == OE_DIVERGING) {
        fr->diverging = oe;
    } else {
        fr->snapshot_id = oe;
    }
    /* the high watermark may have moved in maybe_update_hw */
    fr->high_watermark = r->hw;
    if (empty_out)
        *empty_out = kind == OE_VALID && fr->n_batches == 0 &&
                     !(f->high_watermark < fr->high_watermark);
}

static void handle_fetch_request(raft *r, const raft_msg *m) {
    const raft_fetch_req *f = &m->u.fetch;
    if (!valid_cluster_id(r, m)) {
        raft_msg *resp = out_response(r, m, RAFT_FETCH_RESP);
        resp->u.fresp.error_code = KERR_INCONSISTENT_CLUSTER_ID;
        return;
    }
    if (f->max_wait_ms < 0 || f->fetch_offset < 0 ||
        f->last_fetched_epoch < 0 ||
        f->last_fetched_epoch > f->current_leader_epoch) {
        raft_msg *resp = out_response(r, m, RAFT_FETCH_RESP);
        raft_fetch_resp *fr = &resp->u.fresp;
        fr->partition_error = KERR_INVALID_REQUEST;
        fr->high_watermark = -1;
        fr->log_start_offset = r->log_start;
        fr->diverging = (raft_oe){-1, -1};
        fr->snapshot_id = (raft_oe){-1, -1};
        fr->leader_id = r->qs.leader_id;
        fr->leader_epoch = r->qs.epoch;
        return;
    }
    bool can_park = false;
    int at = r->n_out;
    fetch_reply(r, m->from, m->correlation_id, f, &can_park);
    if (!can_park || f->max_wait_ms == 0 || f->replica.id < 0)
        return;
    raft_peer *p = replica_state(r, &f->replica);
    if (f->high_watermark == INT64_MAX && r->hw > p->sent_hw) {
        /* A Fetch before v18 does not say which high watermark the peer
         * knows: if it has not been sent this one, answer now (this very
         * fetch may have moved it) rather than at max wait. */
        p->sent_hw = r->hw;
        return;
    }
    /* Park it (Kafka's fetch purgatory): drop the response just built
     * (the item at `at`; fetch_reply pushes it first). */
    if (p->parked)
        respond_parked(r, p); /* a newer fetch replaces it */
    /* respond_parked may have added an item after ours */
    memmove(&r->out[at], &r->out[at + 1],
            sizeof(r->out[0]) * (size_t)(r->n_out - at - 1));
    r->n_out--;
    p->parked = true;
    p->parked_req = *f;
    p->parked_corr = m->correlation_id;
    p->parked_deadline = r->now + f->max_wait_ms;
}

/* ---------- Fetch (follower side) ---------- */

/* RaftLog.truncateToEndOffset */
static int64_t truncation_offset(raft *r, raft_oe div) {
    if (div.epoch == 0)
        return SL_MIN(div.offset, r->log_end);
    raft_oe local = r->log.end_offset_for_epoch(r->log.ctx, div.epoch);
    if (local.epoch == div.epoch)
        return SL_MIN(local.offset, div.offset);
    return local.offset;
}

static void truncate_to(raft *r, int64_t off) {
    SL_ASSERT(off >= r->log_start);
    if (off >= r->log_end)
        return;
    /* I6 */
    SL_ASSERT(r->hw < 0 || off >= r->hw);
    SL_ASSERT(off >= r->committed);
    int32_t e = off == r->log_start ? r->start_epoch
                                    : r->log.epoch_at(r->log.ctx, off - 1);
    SL_ASSERT(e >= 0);
    raft_out *o = out_push(r, RAFT_OUT_TRUNCATE);
    o->u.offset = off;
    r->log_end = off;
    r->last_epoch = e;
    if (r->durable_end > off)
        r->durable_end = off;
}

static void follower_update_hw(raft *r, int64_t leader_hw) {
    if (leader_hw < 0)
        return;
    int64_t hw = SL_MIN(r->log_end, leader_hw);
    if (hw < r->hw) {
        violation(r); /* FollowerState: non-monotonic update */
        return;
    }
    if (hw > r->hw) {
        r->hw = hw;
        commit_to(r, hw);
    }
}

static bool handle_fetch_response(raft *r, const raft_msg *m) {
    const raft_fetch_resp *fr = &m->u.fresp;
    if (fr->error_code)
        return false; /* handleTopLevelError */
    int h = handle_common_response(r, fr->partition_error, fr->leader_id,
                                   fr->leader_epoch);
    if (h >= 0)
        return h == 1;
    if (r->role != RAFT_FOLLOWER)
        return true;
    if (fr->partition_error != KERR_NONE)
        return false;
    if (fr->n_batches < 0 || fr->n_batches > RAFT_MAX_FETCH_BATCHES)
        return false;
    if (fr->diverging.epoch >= 0) {
        /* the leader asks us to truncate before fetching again */
        int64_t t = truncation_offset(r, fr->diverging);
        if (fr->diverging.offset < r->hw || t < r->hw || t < r->committed ||
            t < r->log_start) {
            violation(r); /* I6: below the high watermark */
            return false;
        }
        truncate_to(r, t);
    } else if (fr->snapshot_id.epoch >= 0 || fr->snapshot_id.offset >= 0) {
        if (fr->snapshot_id.epoch < 0 || fr->snapshot_id.offset < 0)
            return false;
        if (fr->snapshot_id.offset != r->snapshot_id.offset ||
            fr->snapshot_id.epoch != r->snapshot_id.epoch) {
            r->fetching_snapshot = true;
            r->fetch_snap_id = fr->snapshot_id;
            r->fetch_snap_pos = 0;
        }
    } else {
        for (int i = 0; i < fr->n_batches; i++) {
            const raft_batch *b = &fr->batches[i];
            if (b->base_offset != r->log_end ||
                b->last_offset < b->base_offset || b->epoch < r->last_epoch ||
                b->epoch > r->qs.epoch)
                break; /* Kafka's append would fail: drop the rest */
            raft_out *o = out_push(r, RAFT_OUT_APPEND);
            o->u.batch = *b;
            r->log_end = b->last_offset + 1;
            r->last_epoch = b->epoch;
        }
        follower_update_hw(r, fr->high_watermark);
    }
    r->fetch_deadline = r->now + r->cfg.fetch_timeout_ms;
    r->has_fetched_from_leader = true;
    return true;
}

/* ---------- FetchSnapshot (KIP-630) ---------- */

static void handle_fsnap_request(raft *r, const raft_msg *m) {
    const raft_fsnap_req *q = &m->u.fsnap;
    raft_msg *resp = out_response(r, m, RAFT_FSNAP_RESP);
    raft_fsnap_resp *sr = &resp->u.sresp;
    if (!valid_cluster_id(r, m)) {
        sr->error_code = KERR_INCONSISTENT_CLUSTER_ID;
        return;
    }
    sr->snapshot_id = q->snapshot_id;
    sr->leader_id = r->qs.leader_id;
    sr->leader_epoch = r->qs.epoch;
    int16_t err = validate_leader_only(r, q->current_leader_epoch);
    if (err) {
        sr->partition_error = err;
        return;
    }
    if (q->position < 0) {
        sr->partition_error = KERR_POSITION_OUT_OF_RANGE;
        return;
    }
    const uint8_t *data = NULL;
    uint32_t len = 0;
    int64_t size = 0;
    uint32_t max = (uint32_t)SL_MIN(q->max_bytes > 0 ? q->max_bytes : 1,
                                    r->cfg.fetch_snapshot_max_bytes);
    if (!r->log.read_snapshot ||
        !r->log.read_snapshot(r->log.ctx, q->snapshot_id, q->position, max,
                              &data, &len, &size)) {
        sr->partition_error = KERR_SNAPSHOT_NOT_FOUND;
        return;
    }
    if (q->position < 0 || q->position >= size) {
        sr->partition_error = q->position == 0 && size == 0
                                  ? KERR_NONE
                                  : KERR_POSITION_OUT_OF_RANGE;
        if (sr->partition_error)
            return;
    }
    if (q->replica.id >= 0 && q->replica.id != r->cfg.self.id) {
        raft_peer *p = replica_state(r, &q->replica);
        if (r->now > p->last_fetch_ms)
            p->last_fetch_ms = r->now;
        update_check_quorum(r, &q->replica);
    }
    sr->size = size;
    sr->position = q->position;
    sr->data = data;
    sr->len = len;
}

static bool handle_fsnap_response(raft *r, const raft_msg *m) {
    const raft_fsnap_resp *sr = &m->u.sresp;
    if (sr->error_code)
        return false;
    int h = handle_common_response(r, sr->partition_error, sr->leader_id,
                                   sr->leader_epoch);
    if (h >= 0)
        return h == 1;
    if (r->role != RAFT_FOLLOWER || !r->fetching_snapshot)
        return true;
    if (sr->partition_error == KERR_SNAPSHOT_NOT_FOUND ||
        sr->partition_error == KERR_POSITION_OUT_OF_RANGE) {
        /* the leader dropped it: start over with a Fetch */
        r->fetching_snapshot = false;
        return true;
    }
    if (sr->partition_error)
        return false;
    if (sr->snapshot_id.offset != r->fetch_snap_id.offset ||
        sr->snapshot_id.epoch != r->fetch_snap_id.epoch ||
        sr->position != r->fetch_snap_pos)
        return false;
    raft_out *o = out_push(r, RAFT_OUT_SNAPSHOT_WRITE);
    o->u.snap.id = sr->snapshot_id;
    o->u.snap.position = sr->position;
    o->u.snap.data = sr->data;
    o->u.snap.len = sr->len;
    r->fetch_snap_pos += sr->len;
    if (r->fetch_snap_pos >= sr->size) {
        /* complete: the log restarts at the snapshot */
        raft_oe id = sr->snapshot_id;
        if (id.offset < r->committed) {
            violation(r);
            return false;
        }
        o = out_push(r, RAFT_OUT_SNAPSHOT_INSTALL);
        o->u.snap.id = id;
        r->fetching_snapshot = false;
        r->snapshot_id = id;
        r->log_start = id.offset;
        r->start_epoch = id.epoch;
        r->log_end = id.offset;
        r->durable_end = id.offset;
        r->last_epoch = id.epoch;
        if (id.offset > r->hw)
            r->hw = id.offset;
        commit_to(r, r->hw);
    }
    r->fetch_deadline = r->now + r->cfg.fetch_timeout_ms;
    r->has_fetched_from_leader = true;
    return true;
}

/* ---------- Vote ---------- */

/* EpochState.canGrantVote for each state */
static bool can_grant_vote(const raft *r, const raft_key *key, bool up_to_date,
                           bool pre_vote) {
    switch (r->role) {
    case RAFT_UNATTACHED:
    case RAFT_PROSPECTIVE:
        if (pre_vote)
            return up_to_date;
        if (r->qs.voted.id != RAFT_NO_ID)
            return r->qs.voted.id == key->id &&
                   (dir_zero(r->qs.voted.dir) ||
                    memcmp(r->qs.voted.dir, key->dir, 16) == 0);
        if (r->qs.leader_id >= 0)
            return false;
        return up_to_date;
    case RAFT_FOLLOWER:
        return pre_vote && !r->has_fetched_from_leader && up_to_date;
    case RAFT_CANDIDATE:
    case RAFT_RESIGNED:
        return pre_vote && up_to_date;
    case RAFT_LEADER:
        return false;
    }
    return false;
}

/* validateVoterOnlyRequest */
static int16_t validate_voter_only(const raft *r, int32_t remote,
                                   int32_t epoch) {
    if (epoch < r->qs.epoch)
        return KERR_FENCED_LEADER_EPOCH;
    if (remote < 0)
        return KERR_INVALID_REQUEST;
    return KERR_NONE;
}

static bool valid_voter_key(const raft *r, const raft_key *k) {
    /* the request names its intended receiver; -1 means "not given" */
    if (k->id < 0)
        return true;
    if (k->id != r->cfg.self.id)
        return false;
    return dir_zero(k->dir) || memcmp(k->dir, r->cfg.self.dir, 16) == 0;
}

static void epoch_response(raft *r, raft_msg *resp, int16_t err) {
    resp->u.eresp.partition_error = err;
    resp->u.eresp.leader_id = r->qs.leader_id;
    resp->u.eresp.leader_epoch = r->qs.epoch;
}

static void handle_vote_request(raft *r, const raft_msg *m) {
    const raft_vote_req *v = &m->u.vote;
    if (!valid_cluster_id(r, m)) {
        raft_msg *resp = out_response(r, m, RAFT_VOTE_RESP);
        resp->u.eresp.error_code = KERR_INCONSISTENT_CLUSTER_ID;
        return;
    }
    /* A candidate bumped its epoch before asking, so its last epoch is
     * below it; a prospective did not, so it may equal it. */
    bool illegal = v->pre_vote ? v->last_offset_epoch > v->replica_epoch
                               : v->last_offset_epoch >= v->replica_epoch;
    int16_t err = KERR_NONE;
    if (v->last_offset < 0 || v->last_offset_epoch < 0 || illegal)
        err = KERR_INVALID_REQUEST;
    if (!err)
        err = validate_voter_only(r, v->replica.id, v->replica_epoch);
    if (err) {
        epoch_response(r, out_response(r, m, RAFT_VOTE_RESP), err);
        return;
    }
    if (v->replica_epoch > r->qs.epoch)
        to_unattached(r, v->replica_epoch, RAFT_NO_ID);
    if (!valid_voter_key(r, &v->voter)) {
        epoch_response(r, out_response(r, m, RAFT_VOTE_RESP),
                       KERR_INVALID_VOTER_KEY);
        return;
    }
    /* OffsetAndEpoch order: epoch first, then offset */
    bool up_to_date =
        v->last_offset_epoch > r->last_epoch ||
        (v->last_offset_epoch == r->last_epoch && v->last_offset >= r->log_end);
    /* our own id: never "granted" (the self-vote is implicit) */
    bool granted = v->replica.id != r->cfg.self.id &&
                   can_grant_vote(r, &v->replica, up_to_date, v->pre_vote);
    if (granted && !v->pre_vote && r->qs.voted.id == RAFT_NO_ID &&
        (r->role == RAFT_UNATTACHED || r->role == RAFT_PROSPECTIVE)) {
        set_epoch_state(r, r->qs.epoch, r->qs.leader_id, &v->replica);
        /* reset the election timer: the candidate has as good a chance */
        r->election_deadline = r->now + random_election_timeout(r);
    }
    raft_msg *resp = out_response(r, m, RAFT_VOTE_RESP);
    epoch_response(r, resp, KERR_NONE);
    resp->u.eresp.vote_granted = granted;
}

/* The response handlers return false to back off from that peer
 * (Kafka's handleTopLevelError / handleUnexpectedError), true otherwise. */
static bool handle_vote_response(raft *r, const raft_msg *m, int vi) {
    const raft_epoch_resp *e = &m->u.eresp;
    if (e->error_code == KERR_UNSUPPORTED_VERSION &&
        r->role == RAFT_PROSPECTIVE) {
        to_candidate(r);
        return true;
    }
    if (e->error_code)
        return false;
    int h = handle_common_response(r, e->partition_error, e->leader_id,
                                   e->leader_epoch);
    if (h >= 0)
        return h == 1;
    if (e->partition_error)
        return false;
    if (r->role != RAFT_PROSPECTIVE && r->role != RAFT_CANDIDATE)
        return true;
    raft_peer *p = &r->voters[vi];
    if (e->vote_granted) {
        if (p->vote == -1 && r->role == RAFT_CANDIDATE)
            return true; /* CandidateState refuses a grant after a no */
        p->vote = 1;
        if (vote_granted(r)) {
            if (r->role == RAFT_PROSPECTIVE)
                to_candidate(r);
            else
                become_leader(r);
        }
    } else {
        if (p->vote == 1 && r->role == RAFT_CANDIDATE)
            return true;
        p->vote = -1;
        if (vote_rejected(r)) {
            if (r->role == RAFT_PROSPECTIVE) {
                /* prospectiveTransitionAfterElectionLoss */
                if (r->qs.leader_id >= 0 &&
                    leader_known_endpoints(r, r->qs.leader_id) &&
                    r->qs.leader_id != r->cfg.self.id)
                    to_follower(r, r->qs.epoch, r->qs.leader_id);
                else
                    to_unattached(r, r->qs.epoch, r->qs.leader_id);
            } else {
                /* a candidate waits out the rest of its election timeout */
                r->vote_rejected_wait = true;
            }
        }
    }
    return true;
}

/* ---------- BeginQuorumEpoch / EndQuorumEpoch ---------- */

static void handle_begin_request(raft *r, const raft_msg *m) {
    const raft_begin_req *b = &m->u.begin;
    if (!valid_cluster_id(r, m)) {
        raft_msg *resp = out_response(r, m, RAFT_BEGIN_RESP);
        resp->u.eresp.error_code = KERR_INCONSISTENT_CLUSTER_ID;
        return;
    }
    int16_t err = validate_voter_only(r, b->leader_id, b->leader_epoch);
    if (err) {
        epoch_response(r, out_response(r, m, RAFT_BEGIN_RESP), err);
        return;
    }
    maybe_transition(r, b->leader_id, b->leader_epoch);
    if (!valid_voter_key(r, &b->voter)) {
        epoch_response(r, out_response(r, m, RAFT_BEGIN_RESP),
                       KERR_INVALID_VOTER_KEY);
        return;
    }
    epoch_response(r, out_response(r, m, RAFT_BEGIN_RESP), KERR_NONE);
}

static bool handle_begin_response(raft *r, const raft_msg *m, int vi) {
    const raft_epoch_resp *e = &m->u.eresp;
    if (e->error_code)
        return false;
    int h = handle_common_response(r, e->partition_error, e->leader_id,
                                   e->leader_epoch);
    if (h >= 0)
        return h == 1;
    if (e->partition_error)
        return false;
    if (r->role == RAFT_LEADER)
        r->voters[vi].acked = true;
    return true;
}

/* strictExponentialElectionBackoffMs */
static int64_t exp_backoff(const raft *r, int pos, int total) {
    int64_t max = r->cfg.election_backoff_max_ms;
    if (pos == 0)
        return 0;
    if (pos < 0 || pos >= total)
        return max;
    int64_t base = max >> (total - 1);
    return SL_MIN(max, base << (pos - 1));
}

static void handle_end_request(raft *r, const raft_msg *m) {
    const raft_end_req *e = &m->u.end;
    if (!valid_cluster_id(r, m)) {
        raft_msg *resp = out_response(r, m, RAFT_END_RESP);
        resp->u.eresp.error_code = KERR_INCONSISTENT_CLUSTER_ID;
        return;
    }
    int16_t err = validate_voter_only(r, e->leader_id, e->leader_epoch);
    if (err) {
        epoch_response(r, out_response(r, m, RAFT_END_RESP), err);
        return;
    }
    maybe_transition(r, e->leader_id, e->leader_epoch);
    if (r->role == RAFT_FOLLOWER && r->qs.leader_id == e->leader_id) {
        int pos = 0, n = SL_MIN(e->n_candidates, RAFT_MAX_VOTERS);
        for (; pos < n; pos++)
            if (key_match(&e->candidates[pos], &r->cfg.self))
                break;
        r->fetch_deadline = r->now + exp_backoff(r, pos, n);
    }
    epoch_response(r, out_response(r, m, RAFT_END_RESP), KERR_NONE);
}

static bool handle_end_response(raft *r, const raft_msg *m, int vi) {
    const raft_epoch_resp *e = &m->u.eresp;
    if (e->error_code)
        return false;
    int h = handle_common_response(r, e->partition_error, e->leader_id,
                                   e->leader_epoch);
    if (h >= 0)
        return h == 1;
    if (e->partition_error)
        return false;
    if (r->role == RAFT_RESIGNED)
        r->voters[vi].unacked_end = false;
    return true;
}

/* ---------- inputs ---------- */

static void check_invariants(const raft *r) {
    SL_ASSERT(r->log_start <= r->durable_end); /* I7 */
    SL_ASSERT(r->durable_end <= r->log_end);
    SL_ASSERT(r->committed <= r->log_end || r->committed <= r->log_start);
    SL_ASSERT(r->role != RAFT_LEADER || r->qs.leader_id == r->cfg.self.id);
    SL_ASSERT(r->role != RAFT_CANDIDATE || r->qs.voted.id == r->cfg.self.id);
    SL_ASSERT(r->role != RAFT_FOLLOWER ||
              (r->qs.leader_id >= 0 && r->qs.leader_id != r->cfg.self.id));
}

static void poll(raft *r);

void raft_receive(raft *r, int64_t now_ms, const raft_msg *m) {
    if (now_ms > r->now)
        r->now = now_ms;
    switch (m->kind) {
    case RAFT_VOTE_REQ:
        handle_vote_request(r, m);
        break;
    case RAFT_BEGIN_REQ:
        handle_begin_request(r, m);
        break;
    case RAFT_END_REQ:
        handle_end_request(r, m);
        break;
    case RAFT_FETCH_REQ:
        handle_fetch_request(r, m);
        break;
    case RAFT_FSNAP_REQ:
        handle_fsnap_request(r, m);
        break;
    default: {
        /* a response: only the one answering our request in flight */
        int vi = voter_index(r, m->from);
        if (vi < 0)
            break;
        raft_peer *p = &r->voters[vi];
        if (p->req_state != 1 || p->req_corr != m->correlation_id)
            break; /* I9 */
        bool ok = true;
        switch (m->kind) {
        case RAFT_VOTE_RESP:
            ok = handle_vote_response(r, m, vi);
            break;
        case RAFT_BEGIN_RESP:
            ok = handle_begin_response(r, m, vi);
            break;
        case RAFT_END_RESP:
            ok = handle_end_response(r, m, vi);
            break;
        case RAFT_FETCH_RESP:
            ok = handle_fetch_response(r, m);
            break;
        case RAFT_FSNAP_RESP:
            ok = handle_fsnap_response(r, m);
            break;
        default:
            break;
        }
        /* a transition may have reset the connections already */
        if (p->req_state == 1 && p->req_corr == m->correlation_id) {
            if (ok) {
                p->req_state = 0;
            } else {
                p->req_state = 2;
                p->req_until = r->now + r->cfg.retry_backoff_ms;
            }
        }
        break;
    }
    }
    poll(r);
    check_invariants(r);
}

/* ---------- poll (KafkaRaftClient.pollCurrentState) ---------- */

static void send_vote_requests(raft *r) {
    if (vote_rejected(r))
        return;
    bool pre = r->role == RAFT_PROSPECTIVE;
    for (int i = 0; i < r->cfg.voters.n; i++) {
        raft_peer *p = &r->voters[i];
        if (p->vote != 0 || !req_ready(p, r->now))
            continue;
        raft_msg *m =
            out_msg(r, RAFT_VOTE_REQ, r->cfg.voters.v[i].id, req_send(r, p));
        raft_vote_req *v = &m->u.vote;
        v->voter = r->cfg.voters.v[i];
        v->replica_epoch = r->qs.epoch;
        v->replica = r->cfg.self;
        v->last_offset_epoch = r->last_epoch;
        v->last_offset = r->log_end;
        v->pre_vote = pre;
    }
}

static void send_fetch(raft *r, int vi) {
    raft_peer *p = &r->voters[vi];
    int32_t to = r->cfg.voters.v[vi].id;
    if (r->fetching_snapshot && r->role == RAFT_FOLLOWER) {
        raft_msg *m = out_msg(r, RAFT_FSNAP_REQ, to, req_send(r, p));
        raft_fsnap_req *q = &m->u.fsnap;
        q->replica = r->cfg.self;
        q->max_bytes = r->cfg.fetch_snapshot_max_bytes;
        q->current_leader_epoch = r->qs.epoch;
        q->snapshot_id = r->fetch_snap_id;
        q->position = r->fetch_snap_pos;
        return;
    }
    raft_msg *m = out_msg(r, RAFT_FETCH_REQ, to, req_send(r, p));
    raft_fetch_req *f = &m->u.fetch;
    f->replica = r->cfg.self;
    f->max_wait_ms = r->cfg.fetch_max_wait_ms;
    f->max_bytes = r->cfg.fetch_max_bytes;
    f->current_leader_epoch = r->qs.epoch;
    f->fetch_offset = r->log_end;
    f->last_fetched_epoch = r->last_epoch;
    f->high_watermark = r->hw;
}

/* A voter fetches only what it has made durable (Kafka flushes before the
 * next Fetch, and the leader counts the fetch offset toward the high
 * watermark). */
static bool may_fetch(const raft *r) {
    return !is_voter(r) || r->durable_end == r->log_end;
}

static void fetch_any_bootstrap(raft *r) {
    if (any_in_flight(r) || !may_fetch(r))
        return;
    int n = r->cfg.voters.n;
    int start = (int)rng_below(r->rng, (uint64_t)n);
    for (int k = 0; k < n; k++) {
        int i = (start + k) % n;
        if (r->cfg.voters.v[i].id == r->cfg.self.id)
            continue;
        if (req_ready(&r->voters[i], r->now)) {
            send_fetch(r, i);
            return;
        }
    }
}

static void fetch_best_node(raft *r) {
    int li = voter_index(r, r->qs.leader_id);
    SL_ASSERT(li >= 0);
    raft_peer *lp = &r->voters[li];
    if (lp->req_state == 1 && r->now >= lp->req_until) {
        lp->req_state = 0; /* timed out: try another voter */
        fetch_any_bootstrap(r);
    } else if (req_backing_off(lp, r->now)) {
        fetch_any_bootstrap(r);
    } else if (!any_in_flight(r) && may_fetch(r)) {
        send_fetch(r, li);
    }
}

static void poll_leader(raft *r) {
    if (r->cfg.voters.n > 1 && r->now >= r->check_quorum_deadline) {
        to_resigned(r);
        return;
    }
    complete_parked(r, false);
    if (r->now >= r->begin_epoch_deadline) {
        int si = self_index(r);
        int64_t half = r->cfg.fetch_timeout_ms / 2;
        for (int i = 0; i < r->cfg.voters.n; i++) {
            raft_peer *p = &r->voters[i];
            if (i == si ||
                (p->last_fetch_ms >= 0 && r->now - p->last_fetch_ms < half))
                continue;
            if (!req_ready(p, r->now))
                continue;
            raft_msg *m = out_msg(r, RAFT_BEGIN_REQ, r->cfg.voters.v[i].id,
                                  req_send(r, p));
            m->u.begin.voter = r->cfg.voters.v[i];
            m->u.begin.leader_id = r->cfg.self.id;
            m->u.begin.leader_epoch = r->qs.epoch;
        }
        r->begin_epoch_deadline = r->now + half;
    }
}

static void poll_resigned(raft *r) {
    for (int i = 0; i < r->cfg.voters.n; i++) {
        raft_peer *p = &r->voters[i];
        if (!p->unacked_end || !req_ready(p, r->now))
            continue;
        raft_msg *m =
            out_msg(r, RAFT_END_REQ, r->cfg.voters.v[i].id, req_send(r, p));
        raft_end_req *e = &m->u.end;
        e->leader_id = r->cfg.self.id;
        e->leader_epoch = r->qs.epoch;
        e->n_candidates = r->n_successors;
        memcpy(e->candidates, r->successors,
               sizeof(raft_key) * (size_t)r->n_successors);
    }
    if (r->now >= r->election_deadline)
        to_unattached(r, r->qs.epoch + 1, RAFT_NO_ID);
}

static void poll(raft *r) {
    /* a transition may call for the next state's poll at once */
    for (int guard = 0; guard < 4; guard++) {
        raft_role role = r->role;
        int32_t epoch = r->qs.epoch;
        switch (r->role) {
        case RAFT_LEADER:
            poll_leader(r);
            break;
        case RAFT_RESIGNED:
            poll_resigned(r);
            break;
        case RAFT_CANDIDATE:
            if (r->now >= r->election_deadline)
                to_prospective(r);
            else
                send_vote_requests(r);
            break;
        case RAFT_PROSPECTIVE:
            if (r->now >= r->election_deadline) {
                if (r->qs.leader_id >= 0 && r->qs.leader_id != r->cfg.self.id &&
                    leader_known_endpoints(r, r->qs.leader_id))
                    to_follower(r, r->qs.epoch, r->qs.leader_id);
                else
                    to_unattached(r, r->qs.epoch, r->qs.leader_id);
            } else {
                send_vote_requests(r);
            }
            break;
        case RAFT_FOLLOWER:
            if (is_voter(r) && r->now >= r->fetch_deadline)
                to_prospective(r);
            else
                fetch_best_node(r);
            break;
        case RAFT_UNATTACHED:
            if (is_voter(r) && r->now >= r->election_deadline)
                to_prospective(r);
            else
                fetch_any_bootstrap(r);
            break;
        }
        if (r->role == role && r->qs.epoch == epoch)
            break;
    }
}

void raft_tick(raft *r, int64_t now_ms) {
    if (now_ms > r->now)
        r->now = now_ms;
    poll(r);
    check_invariants(r);
}

int raft_propose(raft *r, int64_t now_ms, const uint8_t *data, uint32_t len,
                 uint32_t count, int64_t *base_offset) {
    if (now_ms > r->now)
        r->now = now_ms;
    if (r->role != RAFT_LEADER || count == 0)
        return KERR_NOT_LEADER_OR_FOLLOWER;
    raft_out *o = out_push(r, RAFT_OUT_APPEND);
    o->u.batch = (raft_batch){.base_offset = r->log_end,
                              .last_offset = r->log_end + count - 1,
                              .epoch = r->qs.epoch,
                              .data = data,
                              .len = len};
    if (base_offset)
        *base_offset = r->log_end;
    r->log_end += count;
    r->last_epoch = r->qs.epoch;
    return KERR_NONE;
}

void raft_log_synced(raft *r, int64_t now_ms, int64_t end) {
    if (now_ms > r->now)
        r->now = now_ms;
    if (end > r->log_end)
        end = r->log_end; /* a sync that raced a truncation */
    if (end > r->durable_end)
        r->durable_end = end;
    if (r->role == RAFT_LEADER) {
        maybe_update_hw(r);
        complete_parked(r, false);
    }
    poll(r);
    check_invariants(r);
}

void raft_snapshot_created(raft *r, raft_oe id) {
    SL_ASSERT(id.offset <= r->committed && id.offset <= r->durable_end);
    if (id.offset <= r->log_start)
        return;
    r->snapshot_id = id;
    r->log_start = id.offset;
    r->start_epoch = id.epoch;
    raft_out *o = out_push(r, RAFT_OUT_LOG_START);
    o->u.offset = id.offset;
}

void raft_resign(raft *r, int64_t now_ms) {
    if (now_ms > r->now)
        r->now = now_ms;
    if (r->role == RAFT_LEADER)
        to_resigned(r);
    poll(r);
}

int64_t raft_next_deadline(const raft *r) {
    int64_t d = INT64_MAX;
    switch (r->role) {
    case RAFT_LEADER:
        d = SL_MIN(r->check_quorum_deadline, r->begin_epoch_deadline);
        for (int i = 0; i < r->cfg.voters.n; i++)
            if (r->voters[i].parked)
                d = SL_MIN(d, r->voters[i].parked_deadline);
        for (int i = 0; i < r->n_observers; i++)
            if (r->observers[i].parked)
                d = SL_MIN(d, r->observers[i].parked_deadline);
        break;
    case RAFT_FOLLOWER:
        d = r->fetch_deadline;
        break;
    default:
        d = r->election_deadline;
        break;
    }
    /* An observer has no election or fetch-timeout transitions: it polls
     * for its next Fetch every retry backoff (Kafka's
     * pollFollowerAsObserver / pollUnattachedAsObserver), else an observer
     * whose first Fetch could not go out would never send one, and one
     * past its fetch deadline would be polled without pause. */
    if (!is_voter(r) && r->role != RAFT_LEADER)
        d = r->now + r->cfg.retry_backoff_ms;
    for (int i = 0; i < r->cfg.voters.n; i++)
        if (r->voters[i].req_state != 0)
            d = SL_MIN(d, r->voters[i].req_until);
    return d;
}

void raft_get_info(const raft *r, raft_info *info) {
    info->role = r->role;
    info->epoch = r->qs.epoch;
    info->leader_id = r->qs.leader_id;
    info->voted = r->qs.voted;
    info->high_watermark = r->hw;
    info->committed = r->committed;
    info->log_start = r->log_start;
    info->log_end = r->log_end;
    info->durable_end = r->durable_end;
    info->last_epoch = r->last_epoch;
    info->epoch_start_offset = r->epoch_start_offset;
    info->is_voter = is_voter(r);
}

int raft_describe_quorum(const raft *r, int64_t now_ms, raft_replica_info *out,
                         int cap, int *n_voters) {
    if (r->role != RAFT_LEADER)
        return -1;
    int n = 0, si = self_index(r);
    for (int i = 0; i < r->cfg.voters.n && n < cap; i++, n++) {
        const raft_peer *p = &r->voters[i];
        out[n].key = r->cfg.voters.v[i];
        out[n].log_end_offset = i == si ? r->durable_end : p->end_offset;
        out[n].last_fetch_ms = i == si ? now_ms : p->last_fetch_ms;
        out[n].last_caught_up_ms = i == si ? now_ms : p->last_caught_up_ms;
    }
    if (n_voters)
        *n_voters = n;
    for (int i = 0; i < r->n_observers && n < cap; i++, n++) {
        const raft_peer *p = &r->observers[i];
        out[n].key = p->key;
        out[n].log_end_offset = p->end_offset;
        out[n].last_fetch_ms = p->last_fetch_ms;
        out[n].last_caught_up_ms = p->last_caught_up_ms;
    }
    return n;
}

void raft_init(raft *r, const raft_config *cfg, const raft_log_ops *log,
               rng *rng, const raft_boot *boot, int64_t now_ms) {
    memset(r, 0, sizeof(*r));
    r->cfg = *cfg;
    SL_ASSERT(cfg->voters.n >= 1 && cfg->voters.n <= RAFT_MAX_VOTERS);
    r->log = *log;
    r->rng = rng;
    r->now = now_ms;
    r->hw = -1;
    r->committed = -1;
    r->log_start = boot->log_start;
    r->log_end = boot->log_end;
    r->durable_end = boot->log_end;
    r->last_epoch = boot->last_epoch;
    r->snapshot_id = boot->snapshot_id;
    r->start_epoch = boot->log_start > 0 ? boot->start_epoch : 0;
    r->epoch_start_offset = -1;
    for (int i = 0; i < cfg->voters.n; i++) {
        r->voters[i].key = cfg->voters.v[i];
        r->voters[i].end_offset = -1;
        r->voters[i].last_fetch_ms = -1;
    }
    raft_qstate qs = boot->has_qstate
                         ? boot->qstate
                         : (raft_qstate){0, RAFT_NO_ID, {.id = RAFT_NO_ID}};
    int64_t et = random_election_timeout(r);
    bool voter = is_voter(r);
    r->qs = qs;
    r->election_deadline = voter ? now_ms + et : INT64_MAX;
    if (qs.epoch < r->last_epoch) {
        /* the quorum-state lags the log: start unattached at its epoch */
        r->qs = (raft_qstate){r->last_epoch, RAFT_NO_ID, {.id = RAFT_NO_ID}};
        r->role = RAFT_UNATTACHED;
    } else if (qs.leader_id == cfg->self.id && voter) {
        /* we led this epoch: resign it (no second vote, no reuse of an
         * offset+epoch whose data may have been lost) */
        r->role = RAFT_LEADER; /* to_resigned's precondition */
        to_resigned(r);
        r->election_deadline = now_ms + et;
        r->n_out = 0; /* nothing parked; no messages yet */
        r->qs = qs;
        persist(r);
        return;
    } else if (qs.voted.id == cfg->self.id && voter &&
               key_match(&qs.voted, &cfg->self) && r->last_epoch < qs.epoch) {
        /* Kafka restarts a node that voted for itself as a candidate even
         * when its log already holds that epoch (it lost to a leader it then
         * followed, and the quorum-state kept its vote): its Vote requests
         * would then carry LastOffsetEpoch == ReplicaEpoch, which every
         * voter answers with INVALID_REQUEST. Only a log behind the epoch
         * restarts as candidate here; the other case follows the leader
         * recorded with the vote, or waits unattached. */
        r->role = RAFT_CANDIDATE;
        r->qs.leader_id = RAFT_NO_ID;
        reset_election(r);
    } else if (qs.leader_id >= 0 && qs.leader_id != cfg->self.id &&
               voter_index(r, qs.leader_id) >= 0) {
        r->role = RAFT_FOLLOWER;
        r->fetch_deadline = now_ms + cfg->fetch_timeout_ms;
    } else {
        r->role = RAFT_UNATTACHED;
    }
    persist(r);
}
