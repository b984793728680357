/*
 * raft_codec.c - raft_msg <-> Vote / BeginQuorumEpoch / EndQuorumEpoch /
 * Fetch / FetchSnapshot bodies, and raft_batch <-> record batches (see
 * raft_codec.h). Field by field what Kafka 4.3.1's RaftUtil.singleton*
 * builders write; the generated codecs (proto/gen) do the bytes.
 */
#include "raft/raft_codec.h"

#include <string.h>

#include "core/util.h"
#include "core/uuid.h"
#include "log/batch.h"
#include "log/compress.h"
#include "proto/errors.h"

#define TOPIC RAFT_METADATA_TOPIC

int16_t raft_codec_api_key(raft_kind kind) {
    switch (kind) {
    case RAFT_VOTE_REQ:
    case RAFT_VOTE_RESP:
        return PROTO_API_VOTE;
    case RAFT_BEGIN_REQ:
    case RAFT_BEGIN_RESP:
        return PROTO_API_BEGIN_QUORUM_EPOCH;
    case RAFT_END_REQ:
    case RAFT_END_RESP:
        return PROTO_API_END_QUORUM_EPOCH;
    case RAFT_FETCH_REQ:
    case RAFT_FETCH_RESP:
        return PROTO_API_FETCH;
    case RAFT_FSNAP_REQ:
    case RAFT_FSNAP_RESP:
        return PROTO_API_FETCH_SNAPSHOT;
    }
    return -1;
}

bool raft_codec_is_request(raft_kind kind) {
    return kind == RAFT_VOTE_REQ || kind == RAFT_BEGIN_REQ ||
           kind == RAFT_END_REQ || kind == RAFT_FETCH_REQ ||
           kind == RAFT_FSNAP_REQ;
}

int16_t raft_codec_version(int16_t api_key) {
    switch (api_key) {
    case PROTO_API_VOTE:
        return RAFT_VOTE_VERSION;
    case PROTO_API_BEGIN_QUORUM_EPOCH:
        return RAFT_BEGIN_VERSION;
    case PROTO_API_END_QUORUM_EPOCH:
        return RAFT_END_VERSION;
    case PROTO_API_FETCH:
        return RAFT_FETCH_VERSION;
    case PROTO_API_FETCH_SNAPSHOT:
        return RAFT_FSNAP_VERSION;
    }
    return -1;
}

/* ---- helpers ------------------------------------------------------------ */

static proto_str cluster_str(const raft_msg *m) {
    return m->has_cluster_id ? proto_str_c(m->cluster_id) : PROTO_STR_NULL;
}

/* ClusterId into the message. One too long for any node's (Kafka's are
 * 22 characters) becomes "", which matches no node's either, so the core
 * answers INCONSISTENT_CLUSTER_ID as Kafka does. */
static bool set_cluster(raft_msg *out, proto_str s) {
    out->has_cluster_id = s.len >= 0;
    out->cluster_id[0] = 0;
    if (s.len < 0 || s.len >= RAFT_CLUSTER_ID_CAP)
        return true;
    memcpy(out->cluster_id, s.p, (size_t)s.len);
    out->cluster_id[s.len] = 0;
    return true;
}

static bool is_topic(proto_str s) {
    return proto_str_eq(s, TOPIC);
}

static const raft_endpoint *leader_endpoint(const raft_endpoints *eps,
                                            int32_t id) {
    if (!eps || id < 0)
        return NULL;
    for (int i = 0; i < eps->n; i++)
        if (eps->v[i].id == id)
            return &eps->v[i];
    return NULL;
}

static int finish(rd *r, int perr) {
    if (perr != PROTO_OK || r->err || rd_left(r) != 0)
        return RAFT_CODEC_MALFORMED;
    return RAFT_CODEC_OK;
}

static void init_msg(raft_msg *out, raft_kind kind) {
    memset(out, 0, sizeof *out);
    out->kind = kind;
    out->from = RAFT_NO_ID;
    out->to = RAFT_NO_ID;
}

/* ---- Vote ------------------------------------------------------------------
 */

static void enc_vote_req(buf *b, int16_t v, const raft_msg *m) {
    const raft_vote_req *q = &m->u.vote;
    proto_vote_request rq;
    proto_vote_request_init(&rq);
    proto_vote_request_topic_data t;
    proto_vote_request_topic_data_init(&t);
    proto_vote_request_partition_data p;
    proto_vote_request_partition_data_init(&p);
    rq.cluster_id = cluster_str(m);
    rq.voter_id = q->voter.id;
    t.topic_name = proto_str_c(TOPIC);
    p.partition_index = 0;
    p.replica_epoch = q->replica_epoch;
    p.replica_id = q->replica.id;
    memcpy(p.replica_directory_id.b, q->replica.dir, 16);
    memcpy(p.voter_directory_id.b, q->voter.dir, 16);
    p.last_offset_epoch = q->last_offset_epoch;
    p.last_offset = q->last_offset;
    p.pre_vote = q->pre_vote;
    t.partitions.n = 1;
    t.partitions.v = &p;
    rq.topics.n = 1;
    rq.topics.v = &t;
    proto_vote_request_encode(b, v, &rq);
}

static int dec_vote_req(int16_t v, rd *r, arena *a, raft_msg *out) {
    proto_vote_request rq;
    int e = finish(r, proto_vote_request_decode(r, a, v, &rq));
    if (e)
        return e;
    init_msg(out, RAFT_VOTE_REQ);
    if (!set_cluster(out, rq.cluster_id))
        return RAFT_CODEC_MALFORMED;
    if (rq.topics.n != 1 || !is_topic(rq.topics.v[0].topic_name) ||
        rq.topics.v[0].partitions.n != 1 ||
        rq.topics.v[0].partitions.v[0].partition_index != 0)
        return RAFT_CODEC_WRONG_PARTITION;
    const proto_vote_request_partition_data *p =
        &rq.topics.v[0].partitions.v[0];
    raft_vote_req *q = &out->u.vote;
    q->voter.id = rq.voter_id;
    memcpy(q->voter.dir, p->voter_directory_id.b, 16);
    q->replica_epoch = p->replica_epoch;
    q->replica.id = p->replica_id;
    memcpy(q->replica.dir, p->replica_directory_id.b, 16);
    q->last_offset_epoch = p->last_offset_epoch;
    q->last_offset = p->last_offset;
    q->pre_vote = v >= 2 && p->pre_vote;
    out->from = p->replica_id;
    out->to = rq.voter_id;
    return RAFT_CODEC_OK;
}

/* The NodeEndpoints of a response: the known leader's address. */
#define FILL_NODE_ENDPOINT(rs, type, eps, leader)                              \
    type ne_;                                                                  \
    do {                                                                       \
        const raft_endpoint *ep_ = leader_endpoint(eps, leader);               \
        if (ep_) {                                                             \
            memset(&ne_, 0, sizeof ne_);                                       \
            ne_.node_id = leader;                                              \
            ne_.host = proto_str_c(ep_->host);                                 \
            ne_.port = ep_->port;                                              \
            (rs).node_endpoints.n = 1;                                         \
            (rs).node_endpoints.v = &ne_;                                      \
        }                                                                      \
    } while (0)

static void enc_vote_resp(buf *b, int16_t v, const raft_msg *m,
                          const raft_endpoints *eps) {
    const raft_epoch_resp *s = &m->u.eresp;
    proto_vote_response rs;
    proto_vote_response_init(&rs);
    proto_vote_response_topic_data t;
    proto_vote_response_topic_data_init(&t);
    proto_vote_response_partition_data p;
    proto_vote_response_partition_data_init(&p);
    rs.error_code = s->error_code;
    if (!s->error_code) {
        t.topic_name = proto_str_c(TOPIC);
        p.error_code = s->partition_error;
        p.leader_id = s->leader_id;
        p.leader_epoch = s->leader_epoch;
        p.vote_granted = s->vote_granted;
        t.partitions.n = 1;
        t.partitions.v = &p;
        rs.topics.n = 1;
        rs.topics.v = &t;
        FILL_NODE_ENDPOINT(rs, proto_vote_response_node_endpoint, eps,
                           s->leader_id);
        proto_vote_response_encode(b, v, &rs);
        return;
    }
    proto_vote_response_encode(b, v, &rs);
}

/* Vote, Begin and End responses share this shape. */
#define DEC_EPOCH_RESP(type, vote_field)                                       \
    do {                                                                       \
        type rs;                                                               \
        int e_ = finish(r, type##_decode(r, a, v, &rs));                       \
        if (e_)                                                                \
            return e_;                                                         \
        out->u.eresp.error_code = rs.error_code;                               \
        if (rs.error_code)                                                     \
            return RAFT_CODEC_OK; /* handleTopLevelError */                    \
        if (rs.topics.n != 1 || !is_topic(rs.topics.v[0].topic_name) ||        \
            rs.topics.v[0].partitions.n != 1 ||                                \
            rs.topics.v[0].partitions.v[0].partition_index != 0)               \
            return RAFT_CODEC_WRONG_PARTITION;                                 \
        out->u.eresp.partition_error =                                         \
            rs.topics.v[0].partitions.v[0].error_code;                         \
        out->u.eresp.leader_id = rs.topics.v[0].partitions.v[0].leader_id;     \
        out->u.eresp.leader_epoch =                                            \
            rs.topics.v[0].partitions.v[0].leader_epoch;                       \
        vote_field;                                                            \
        return RAFT_CODEC_OK;                                                  \
    } while (0)

static int dec_vote_resp(int16_t v, rd *r, arena *a, raft_msg *out) {
    init_msg(out, RAFT_VOTE_RESP);
    DEC_EPOCH_RESP(proto_vote_response,
                   out->u.eresp.vote_granted =
                       rs.topics.v[0].partitions.v[0].vote_granted);
}

/* ---- BeginQuorumEpoch ------------------------------------------------------
 */

static void enc_begin_req(buf *b, int16_t v, const raft_msg *m,
                          const raft_endpoints *eps) {
    const raft_begin_req *q = &m->u.begin;
    proto_begin_quorum_epoch_request rq;
    proto_begin_quorum_epoch_request_init(&rq);
    proto_begin_quorum_epoch_request_topic_data t;
    proto_begin_quorum_epoch_request_topic_data_init(&t);
    proto_begin_quorum_epoch_request_partition_data p;
    proto_begin_quorum_epoch_request_partition_data_init(&p);
    rq.cluster_id = cluster_str(m);
    rq.voter_id = q->voter.id;
    t.topic_name = proto_str_c(TOPIC);
    p.partition_index = 0;
    memcpy(p.voter_directory_id.b, q->voter.dir, 16);
    p.leader_id = q->leader_id;
    p.leader_epoch = q->leader_epoch;
    t.partitions.n = 1;
    t.partitions.v = &p;
    rq.topics.n = 1;
    rq.topics.v = &t;
    proto_begin_quorum_epoch_request_leader_endpoint le[RAFT_MAX_VOTERS * 2];
    int n = 0;
    if (eps)
        for (int i = 0; i < eps->n && n < RAFT_MAX_VOTERS * 2; i++) {
            if (eps->v[i].id != q->leader_id)
                continue;
            proto_begin_quorum_epoch_request_leader_endpoint_init(&le[n]);
            le[n].name = proto_str_c(eps->v[i].listener);
            le[n].host = proto_str_c(eps->v[i].host);
            le[n].port = eps->v[i].port;
            n++;
        }
    rq.leader_endpoints.n = n;
    rq.leader_endpoints.v = n ? le : NULL;
    proto_begin_quorum_epoch_request_encode(b, v, &rq);
}

static int dec_begin_req(int16_t v, rd *r, arena *a, raft_msg *out) {
    proto_begin_quorum_epoch_request rq;
    int e = finish(r, proto_begin_quorum_epoch_request_decode(r, a, v, &rq));
    if (e)
        return e;
    init_msg(out, RAFT_BEGIN_REQ);
    if (!set_cluster(out, rq.cluster_id))
        return RAFT_CODEC_MALFORMED;
    if (rq.topics.n != 1 || !is_topic(rq.topics.v[0].topic_name) ||
        rq.topics.v[0].partitions.n != 1 ||
        rq.topics.v[0].partitions.v[0].partition_index != 0)
        return RAFT_CODEC_WRONG_PARTITION;
    const proto_begin_quorum_epoch_request_partition_data *p =
        &rq.topics.v[0].partitions.v[0];
    raft_begin_req *q = &out->u.begin;
    q->voter.id = rq.voter_id;
    memcpy(q->voter.dir, p->voter_directory_id.b, 16);
    q->leader_id = p->leader_id;
    q->leader_epoch = p->leader_epoch;
    out->from = p->leader_id;
    out->to = rq.voter_id;
    return RAFT_CODEC_OK;
}

static void enc_begin_resp(buf *b, int16_t v, const raft_msg *m,
                           const raft_endpoints *eps) {
    const raft_epoch_resp *s = &m->u.eresp;
    proto_begin_quorum_epoch_response rs;
    proto_begin_quorum_epoch_response_init(&rs);
    proto_begin_quorum_epoch_response_topic_data t;
    proto_begin_quorum_epoch_response_topic_data_init(&t);
    proto_begin_quorum_epoch_response_partition_data p;
    proto_begin_quorum_epoch_response_partition_data_init(&p);
    rs.error_code = s->error_code;
    if (!s->error_code) {
        t.topic_name = proto_str_c(TOPIC);
        p.error_code = s->partition_error;
        p.leader_id = s->leader_id;
        p.leader_epoch = s->leader_epoch;
        t.partitions.n = 1;
        t.partitions.v = &p;
        rs.topics.n = 1;
        rs.topics.v = &t;
        FILL_NODE_ENDPOINT(rs, proto_begin_quorum_epoch_response_node_endpoint,
                           eps, s->leader_id);
        proto_begin_quorum_epoch_response_encode(b, v, &rs);
        return;
    }
    proto_begin_quorum_epoch_response_encode(b, v, &rs);
}

static int dec_begin_resp(int16_t v, rd *r, arena *a, raft_msg *out) {
    init_msg(out, RAFT_BEGIN_RESP);
    DEC_EPOCH_RESP(proto_begin_quorum_epoch_response, (void)0);
}

/* ---- EndQuorumEpoch --------------------------------------------------------
 */

static void enc_end_req(buf *b, int16_t v, const raft_msg *m,
                        const raft_endpoints *eps) {
    const raft_end_req *q = &m->u.end;
    proto_end_quorum_epoch_request rq;
    proto_end_quorum_epoch_request_init(&rq);
    proto_end_quorum_epoch_request_topic_data t;
    proto_end_quorum_epoch_request_topic_data_init(&t);
    proto_end_quorum_epoch_request_partition_data p;
    proto_end_quorum_epoch_request_partition_data_init(&p);
    rq.cluster_id = cluster_str(m);
    t.topic_name = proto_str_c(TOPIC);
    p.partition_index = 0;
    p.leader_id = q->leader_id;
    p.leader_epoch = q->leader_epoch;
    int32_t ids[RAFT_MAX_VOTERS];
    proto_end_quorum_epoch_request_replica_info cands[RAFT_MAX_VOTERS];
    int nc = q->n_candidates < 0                 ? 0
             : q->n_candidates > RAFT_MAX_VOTERS ? RAFT_MAX_VOTERS
                                                 : q->n_candidates;
    for (int i = 0; i < nc; i++) {
        ids[i] = q->candidates[i].id;
        proto_end_quorum_epoch_request_replica_info_init(&cands[i]);
        cands[i].candidate_id = q->candidates[i].id;
        memcpy(cands[i].candidate_directory_id.b, q->candidates[i].dir, 16);
    }
    p.preferred_successors.n = nc;
    p.preferred_successors.v = nc ? ids : NULL;
    p.preferred_candidates.n = nc;
    p.preferred_candidates.v = nc ? cands : NULL;
    t.partitions.n = 1;
    t.partitions.v = &p;
    rq.topics.n = 1;
    rq.topics.v = &t;
    proto_end_quorum_epoch_request_leader_endpoint le[RAFT_MAX_VOTERS * 2];
    int n = 0;
    if (eps)
        for (int i = 0; i < eps->n && n < RAFT_MAX_VOTERS * 2; i++) {
            if (eps->v[i].id != q->leader_id)
                continue;
            proto_end_quorum_epoch_request_leader_endpoint_init(&le[n]);
            le[n].name = proto_str_c(eps->v[i].listener);
            le[n].host = proto_str_c(eps->v[i].host);
            le[n].port = eps->v[i].port;
            n++;
        }
    rq.leader_endpoints.n = n;
    rq.leader_endpoints.v = n ? le : NULL;
    proto_end_quorum_epoch_request_encode(b, v, &rq);
}

static int dec_end_req(int16_t v, rd *r, arena *a, raft_msg *out) {
    proto_end_quorum_epoch_request rq;
    int e = finish(r, proto_end_quorum_epoch_request_decode(r, a, v, &rq));
    if (e)
        return e;
    init_msg(out, RAFT_END_REQ);
    if (!set_cluster(out, rq.cluster_id))
        return RAFT_CODEC_MALFORMED;
    if (rq.topics.n != 1 || !is_topic(rq.topics.v[0].topic_name) ||
        rq.topics.v[0].partitions.n != 1 ||
        rq.topics.v[0].partitions.v[0].partition_index != 0)
        return RAFT_CODEC_WRONG_PARTITION;
    const proto_end_quorum_epoch_request_partition_data *p =
        &rq.topics.v[0].partitions.v[0];
    raft_end_req *q = &out->u.end;
    q->leader_id = p->leader_id;
    q->leader_epoch = p->leader_epoch;
    /* v0 names successors by id, v1 by ReplicaKey; more than a quorum can
     * hold is malformed */
    if (v >= 1) {
        if (p->preferred_candidates.n > RAFT_MAX_VOTERS)
            return RAFT_CODEC_MALFORMED;
        q->n_candidates = p->preferred_candidates.n;
        for (int i = 0; i < q->n_candidates; i++) {
            q->candidates[i].id = p->preferred_candidates.v[i].candidate_id;
            memcpy(q->candidates[i].dir,
                   p->preferred_candidates.v[i].candidate_directory_id.b, 16);
        }
    } else {
        if (p->preferred_successors.n > RAFT_MAX_VOTERS)
            return RAFT_CODEC_MALFORMED;
        q->n_candidates = p->preferred_successors.n;
        for (int i = 0; i < q->n_candidates; i++)
            q->candidates[i].id = p->preferred_successors.v[i];
    }
    if (q->n_candidates < 0)
        q->n_candidates = 0;
    out->from = p->leader_id;
    return RAFT_CODEC_OK;
}

static void enc_end_resp(buf *b, int16_t v, const raft_msg *m,
                         const raft_endpoints *eps) {
    const raft_epoch_resp *s = &m->u.eresp;
    proto_end_quorum_epoch_response rs;
    proto_end_quorum_epoch_response_init(&rs);
    proto_end_quorum_epoch_response_topic_data t;
    proto_end_quorum_epoch_response_topic_data_init(&t);
    proto_end_quorum_epoch_response_partition_data p;
    proto_end_quorum_epoch_response_partition_data_init(&p);
    rs.error_code = s->error_code;
    if (!s->error_code) {
        t.topic_name = proto_str_c(TOPIC);
        p.error_code = s->partition_error;
        p.leader_id = s->leader_id;
        p.leader_epoch = s->leader_epoch;
        t.partitions.n = 1;
        t.partitions.v = &p;
        rs.topics.n = 1;
        rs.topics.v = &t;
        FILL_NODE_ENDPOINT(rs, proto_end_quorum_epoch_response_node_endpoint,
                           eps, s->leader_id);
        proto_end_quorum_epoch_response_encode(b, v, &rs);
        return;
    }
    proto_end_quorum_epoch_response_encode(b, v, &rs);
}

static int dec_end_resp(int16_t v, rd *r, arena *a, raft_msg *out) {
    init_msg(out, RAFT_END_RESP);
    DEC_EPOCH_RESP(proto_end_quorum_epoch_response, (void)0);
}

/* ---- Fetch ------------------------------------------------------------------
 */

static void enc_fetch_req(buf *b, int16_t v, const raft_msg *m) {
    const raft_fetch_req *q = &m->u.fetch;
    proto_fetch_request rq;
    proto_fetch_request_init(&rq);
    proto_fetch_request_fetch_topic t;
    proto_fetch_request_fetch_topic_init(&t);
    proto_fetch_request_fetch_partition p;
    proto_fetch_request_fetch_partition_init(&p);
    rq.cluster_id = cluster_str(m);
    rq.replica_id = q->replica.id;
    rq.replica_state.replica_id = q->replica.id;
    rq.max_wait_ms = q->max_wait_ms;
    rq.max_bytes = q->max_bytes;
    t.topic = proto_str_c(TOPIC);
    memcpy(t.topic_id.b, uuid_metadata_topic_id, 16);
    p.partition = 0;
    p.current_leader_epoch = q->current_leader_epoch;
    p.fetch_offset = q->fetch_offset;
    p.last_fetched_epoch = q->last_fetched_epoch;
    memcpy(p.replica_directory_id.b, q->replica.dir, 16);
    t.partitions.n = 1;
    t.partitions.v = &p;
    rq.topics.n = 1;
    rq.topics.v = &t;
    proto_fetch_request_encode(b, v, &rq);
}

static int dec_fetch_req(int16_t v, rd *r, arena *a, raft_msg *out) {
    proto_fetch_request rq;
    int e = finish(r, proto_fetch_request_decode(r, a, v, &rq));
    if (e)
        return e;
    init_msg(out, RAFT_FETCH_REQ);
    if (!set_cluster(out, rq.cluster_id))
        return RAFT_CODEC_MALFORMED;
    if (rq.topics.n != 1 || rq.topics.v[0].partitions.n != 1 ||
        rq.topics.v[0].partitions.v[0].partition != 0)
        return RAFT_CODEC_WRONG_PARTITION;
    if (v >= 13 ? memcmp(rq.topics.v[0].topic_id.b, uuid_metadata_topic_id, 16)
                : !is_topic(rq.topics.v[0].topic))
        return RAFT_CODEC_WRONG_PARTITION;
    const proto_fetch_request_fetch_partition *p =
        &rq.topics.v[0].partitions.v[0];
    raft_fetch_req *q = &out->u.fetch;
    q->replica.id = v >= 15 ? rq.replica_state.replica_id : rq.replica_id;
    memcpy(q->replica.dir, p->replica_directory_id.b, 16);
    q->max_wait_ms = rq.max_wait_ms;
    q->max_bytes = rq.max_bytes;
    q->current_leader_epoch = p->current_leader_epoch;
    q->fetch_offset = p->fetch_offset;
    q->last_fetched_epoch = p->last_fetched_epoch;
    q->high_watermark = INT64_MAX; /* v18's field, absent */
    out->from = q->replica.id;
    return RAFT_CODEC_OK;
}

static void enc_fetch_resp(buf *b, int16_t v, const raft_msg *m,
                           const raft_endpoints *eps) {
    const raft_fetch_resp *s = &m->u.fresp;
    proto_fetch_response rs;
    proto_fetch_response_init(&rs);
    proto_fetch_response_fetchable_topic_response t;
    proto_fetch_response_fetchable_topic_response_init(&t);
    proto_fetch_response_partition_data p;
    proto_fetch_response_partition_data_init(&p);
    rs.error_code = s->error_code;
    if (s->error_code) {
        proto_fetch_response_encode(b, v, &rs);
        return;
    }
    t.topic = proto_str_c(TOPIC);
    memcpy(t.topic_id.b, uuid_metadata_topic_id, 16);
    p.partition_index = 0;
    p.error_code = s->partition_error;
    p.high_watermark = s->high_watermark;
    p.log_start_offset = s->log_start_offset;
    p.diverging_epoch.epoch = s->diverging.epoch;
    p.diverging_epoch.end_offset = s->diverging.offset;
    p.current_leader.leader_id = s->leader_id;
    p.current_leader.leader_epoch = s->leader_epoch;
    p.snapshot_id.end_offset = s->snapshot_id.offset;
    p.snapshot_id.epoch = s->snapshot_id.epoch;
    buf recs;
    buf_init(&recs, 0);
    int nb = s->n_batches < 0                        ? 0
             : s->n_batches > RAFT_MAX_FETCH_BATCHES ? RAFT_MAX_FETCH_BATCHES
                                                     : s->n_batches;
    for (int i = 0; i < nb; i++)
        if (s->batches[i].data)
            buf_put(&recs, s->batches[i].data, s->batches[i].len);
    p.records = (proto_bytes){recs.data, (int32_t)recs.len};
    if (!recs.data)
        p.records = (proto_bytes){(const uint8_t *)"", 0};
    t.partitions.n = 1;
    t.partitions.v = &p;
    rs.responses.n = 1;
    rs.responses.v = &t;
    proto_fetch_response_node_endpoint ne;
    const raft_endpoint *ep = leader_endpoint(eps, s->leader_id);
    if (ep) {
        proto_fetch_response_node_endpoint_init(&ne);
        ne.node_id = s->leader_id;
        ne.host = proto_str_c(ep->host);
        ne.port = ep->port;
        rs.node_endpoints.n = 1;
        rs.node_endpoints.v = &ne;
    }
    proto_fetch_response_encode(b, v, &rs);
    buf_free(&recs);
}

/* Splits a Fetch response's records into whole batches: at most
 * RAFT_MAX_FETCH_BATCHES; a partial trailing batch is dropped; a batch that
 * fails validation makes the whole response malformed. */
static int split_batches(proto_bytes recs, raft_fetch_resp *s) {
    s->n_batches = 0;
    if (recs.len <= 0)
        return RAFT_CODEC_OK;
    const uint8_t *p = recs.p;
    size_t left = (size_t)recs.len;
    while (s->n_batches < RAFT_MAX_FETCH_BATCHES && left >= BATCH_HEADER_SIZE) {
        log_batch_header h;
        if (!batch_parse_header(p, left, &h))
            break;
        if (h.batch_length >= 0 && batch_size(&h) > (int64_t)left)
            break; /* partial: the rest comes with the next fetch */
        if (raft_batch_parse(p, left, &s->batches[s->n_batches]) != KERR_NONE)
            return RAFT_CODEC_MALFORMED;
        size_t sz = s->batches[s->n_batches].len;
        p += sz;
        left -= sz;
        s->n_batches++;
    }
    return RAFT_CODEC_OK;
}

static int dec_fetch_resp(int16_t v, rd *r, arena *a, raft_msg *out) {
    proto_fetch_response rs;
    int e = finish(r, proto_fetch_response_decode(r, a, v, &rs));
    if (e)
        return e;
    init_msg(out, RAFT_FETCH_RESP);
    raft_fetch_resp *s = &out->u.fresp;
    s->error_code = rs.error_code;
    s->high_watermark = -1;
    s->diverging = (raft_oe){-1, -1};
    s->snapshot_id = (raft_oe){-1, -1};
    s->leader_id = RAFT_NO_ID;
    s->leader_epoch = -1;
    if (rs.error_code)
        return RAFT_CODEC_OK;
    if (rs.responses.n != 1 || rs.responses.v[0].partitions.n != 1 ||
        rs.responses.v[0].partitions.v[0].partition_index != 0)
        return RAFT_CODEC_WRONG_PARTITION;
    if (v >= 13
            ? memcmp(rs.responses.v[0].topic_id.b, uuid_metadata_topic_id, 16)
            : !is_topic(rs.responses.v[0].topic))
        return RAFT_CODEC_WRONG_PARTITION;
    const proto_fetch_response_partition_data *p =
        &rs.responses.v[0].partitions.v[0];
    s->partition_error = p->error_code;
    s->high_watermark = p->high_watermark;
    s->log_start_offset = p->log_start_offset;
    s->diverging =
        (raft_oe){p->diverging_epoch.end_offset, p->diverging_epoch.epoch};
    s->leader_id = p->current_leader.leader_id;
    s->leader_epoch = p->current_leader.leader_epoch;
    s->snapshot_id = (raft_oe){p->snapshot_id.end_offset, p->snapshot_id.epoch};
    return split_batches(p->records, s);
}

/* ---- FetchSnapshot ------------------------------------------------------- */

static void enc_fsnap_req(buf *b, int16_t v, const raft_msg *m) {
    const raft_fsnap_req *q = &m->u.fsnap;
    proto_fetch_snapshot_request rq;
    proto_fetch_snapshot_request_init(&rq);
    proto_fetch_snapshot_request_topic_snapshot t;
    proto_fetch_snapshot_request_topic_snapshot_init(&t);
    proto_fetch_snapshot_request_partition_snapshot p;
    proto_fetch_snapshot_request_partition_snapshot_init(&p);
    rq.cluster_id = cluster_str(m);
    rq.replica_id = q->replica.id;
    rq.max_bytes = q->max_bytes;
    t.name = proto_str_c(TOPIC);
    p.partition = 0;
    p.current_leader_epoch = q->current_leader_epoch;
    p.snapshot_id.end_offset = q->snapshot_id.offset;
    p.snapshot_id.epoch = q->snapshot_id.epoch;
    p.position = q->position;
    memcpy(p.replica_directory_id.b, q->replica.dir, 16);
    t.partitions.n = 1;
    t.partitions.v = &p;
    rq.topics.n = 1;
    rq.topics.v = &t;
    proto_fetch_snapshot_request_encode(b, v, &rq);
}

static int dec_fsnap_req(int16_t v, rd *r, arena *a, raft_msg *out) {
    proto_fetch_snapshot_request rq;
    int e = finish(r, proto_fetch_snapshot_request_decode(r, a, v, &rq));
    if (e)
        return e;
    init_msg(out, RAFT_FSNAP_REQ);
    if (!set_cluster(out, rq.cluster_id))
        return RAFT_CODEC_MALFORMED;
    if (rq.topics.n != 1 || !is_topic(rq.topics.v[0].name) ||
        rq.topics.v[0].partitions.n != 1 ||
        rq.topics.v[0].partitions.v[0].partition != 0)
        return RAFT_CODEC_WRONG_PARTITION;
    const proto_fetch_snapshot_request_partition_snapshot *p =
        &rq.topics.v[0].partitions.v[0];
    raft_fsnap_req *q = &out->u.fsnap;
    q->replica.id = rq.replica_id;
    memcpy(q->replica.dir, p->replica_directory_id.b, 16);
    q->max_bytes = rq.max_bytes;
    q->current_leader_epoch = p->current_leader_epoch;
    q->snapshot_id = (raft_oe){p->snapshot_id.end_offset, p->snapshot_id.epoch};
    q->position = p->position;
    out->from = rq.replica_id;
    return RAFT_CODEC_OK;
}

static void enc_fsnap_resp(buf *b, int16_t v, const raft_msg *m,
                           const raft_endpoints *eps) {
    const raft_fsnap_resp *s = &m->u.sresp;
    proto_fetch_snapshot_response rs;
    proto_fetch_snapshot_response_init(&rs);
    proto_fetch_snapshot_response_topic_snapshot t;
    proto_fetch_snapshot_response_topic_snapshot_init(&t);
    proto_fetch_snapshot_response_partition_snapshot p;
    proto_fetch_snapshot_response_partition_snapshot_init(&p);
    rs.error_code = s->error_code;
    if (s->error_code) {
        proto_fetch_snapshot_response_encode(b, v, &rs);
        return;
    }
    t.name = proto_str_c(TOPIC);
    p.index = 0;
    p.error_code = s->partition_error;
    p.snapshot_id.end_offset = s->snapshot_id.offset;
    p.snapshot_id.epoch = s->snapshot_id.epoch;
    p.current_leader.leader_id = s->leader_id;
    p.current_leader.leader_epoch = s->leader_epoch;
    p.size = s->size;
    p.position = s->position;
    p.unaligned_records = (proto_bytes){s->data ? s->data : (const uint8_t *)"",
                                        (int32_t)(s->data ? s->len : 0)};
    t.partitions.n = 1;
    t.partitions.v = &p;
    rs.topics.n = 1;
    rs.topics.v = &t;
    FILL_NODE_ENDPOINT(rs, proto_fetch_snapshot_response_node_endpoint, eps,
                       s->leader_id);
    proto_fetch_snapshot_response_encode(b, v, &rs);
}

static int dec_fsnap_resp(int16_t v, rd *r, arena *a, raft_msg *out) {
    proto_fetch_snapshot_response rs;
    int e = finish(r, proto_fetch_snapshot_response_decode(r, a, v, &rs));
    if (e)
        return e;
    init_msg(out, RAFT_FSNAP_RESP);
    raft_fsnap_resp *s = &out->u.sresp;
    s->error_code = rs.error_code;
    s->snapshot_id = (raft_oe){-1, -1};
    s->leader_id = RAFT_NO_ID;
    s->leader_epoch = -1;
    if (rs.error_code)
        return RAFT_CODEC_OK;
    if (rs.topics.n != 1 || !is_topic(rs.topics.v[0].name) ||
        rs.topics.v[0].partitions.n != 1 ||
        rs.topics.v[0].partitions.v[0].index != 0)
        return RAFT_CODEC_WRONG_PARTITION;
    const proto_fetch_snapshot_response_partition_snapshot *p =
        &rs.topics.v[0].partitions.v[0];
    s->partition_error = p->error_code;
    s->snapshot_id = (raft_oe){p->snapshot_id.end_offset, p->snapshot_id.epoch};
    s->leader_id = p->current_leader.leader_id;
    s->leader_epoch = p->current_leader.leader_epoch;
    s->size = p->size;
    s->position = p->position;
    if (p->unaligned_records.len > 0) {
        s->data = p->unaligned_records.p;
        s->len = (uint32_t)p->unaligned_records.len;
    }
    return RAFT_CODEC_OK;
}

/* ---- dispatch ---------------------------------------------------------- */

void raft_codec_encode(buf *b, int16_t version, const raft_msg *m,
                       const raft_endpoints *eps) {
    switch (m->kind) {
    case RAFT_VOTE_REQ:
        enc_vote_req(b, version, m);
        break;
    case RAFT_VOTE_RESP:
        enc_vote_resp(b, version, m, eps);
        break;
    case RAFT_BEGIN_REQ:
        enc_begin_req(b, version, m, eps);
        break;
    case RAFT_BEGIN_RESP:
        enc_begin_resp(b, version, m, eps);
        break;
    case RAFT_END_REQ:
        enc_end_req(b, version, m, eps);
        break;
    case RAFT_END_RESP:
        enc_end_resp(b, version, m, eps);
        break;
    case RAFT_FETCH_REQ:
        enc_fetch_req(b, version, m);
        break;
    case RAFT_FETCH_RESP:
        enc_fetch_resp(b, version, m, eps);
        break;
    case RAFT_FSNAP_REQ:
        enc_fsnap_req(b, version, m);
        break;
    case RAFT_FSNAP_RESP:
        enc_fsnap_resp(b, version, m, eps);
        break;
    }
}

static bool version_ok(int16_t api_key, int16_t version) {
    const proto_api_info *api = proto_api(api_key);
    return api && version >= api->min_version && version <= api->max_version;
}

int raft_codec_decode_request(int16_t api_key, int16_t version, rd *r, arena *a,
                              raft_msg *out) {
    if (!version_ok(api_key, version))
        return RAFT_CODEC_MALFORMED;
    switch (api_key) {
    case PROTO_API_VOTE:
        return dec_vote_req(version, r, a, out);
    case PROTO_API_BEGIN_QUORUM_EPOCH:
        return dec_begin_req(version, r, a, out);
    case PROTO_API_END_QUORUM_EPOCH:
        return dec_end_req(version, r, a, out);
    case PROTO_API_FETCH:
        return dec_fetch_req(version, r, a, out);
    case PROTO_API_FETCH_SNAPSHOT:
        return dec_fsnap_req(version, r, a, out);
    }
    return RAFT_CODEC_MALFORMED;
}

int raft_codec_decode_response(int16_t api_key, int16_t version, rd *r,
                               arena *a, raft_msg *out) {
    if (!version_ok(api_key, version))
        return RAFT_CODEC_MALFORMED;
    switch (api_key) {
    case PROTO_API_VOTE:
        return dec_vote_resp(version, r, a, out);
    case PROTO_API_BEGIN_QUORUM_EPOCH:
        return dec_begin_resp(version, r, a, out);
    case PROTO_API_END_QUORUM_EPOCH:
        return dec_end_resp(version, r, a, out);
    case PROTO_API_FETCH:
        return dec_fetch_resp(version, r, a, out);
    case PROTO_API_FETCH_SNAPSHOT:
        return dec_fsnap_resp(version, r, a, out);
    }
    return RAFT_CODEC_MALFORMED;
}

/* ---- record batches ------------------------------------------------------ */

int16_t raft_batch_parse(const uint8_t *p, size_t n, raft_batch *out) {
    log_batch_header h;
    int16_t e = batch_validate(p, n, &h);
    if (e)
        return e;
    if (h.base_offset < 0)
        return KERR_CORRUPT_MESSAGE;
    memset(out, 0, sizeof *out);
    out->base_offset = h.base_offset;
    out->last_offset = batch_last_offset(&h);
    out->epoch = h.partition_leader_epoch;
    out->control = batch_is_control(&h);
    out->data = p;
    out->len = (uint32_t)batch_size(&h);
    return KERR_NONE;
}

void raft_batch_build(buf *out, int64_t base_offset, int32_t epoch, int64_t ts,
                      const buf *values, int n) {
    batch_builder bb;
    batch_builder_init(&bb, COMPRESS_NONE, base_offset);
    batch_builder_set_leader_epoch(&bb, epoch);
    for (int i = 0; i < n; i++)
        batch_builder_add(&bb, ts, NULL, -1, values[i].data,
                          (int32_t)values[i].len, NULL, 0);
    int16_t e = batch_builder_finish(&bb, out);
    SL_ASSERT(e == KERR_NONE || n == 0);
    batch_builder_free(&bb);
}

void raft_batch_place(uint8_t *batch, int64_t base_offset, int32_t epoch) {
    batch_set_base_offset(batch, base_offset);
    batch_set_leader_epoch(batch, epoch);
}

void raft_leader_change_batch(buf *out, int64_t base_offset, int32_t epoch,
                              int64_t ts, int32_t leader_id,
                              const raft_voters *voters,
                              const int32_t *granting, int n_granting) {
    proto_leader_change_message lc;
    proto_leader_change_message_init(&lc);
    proto_leader_change_message_voter vs[RAFT_MAX_VOTERS];
    proto_leader_change_message_voter gs[RAFT_MAX_VOTERS];
    int nv = voters->n > RAFT_MAX_VOTERS ? RAFT_MAX_VOTERS : voters->n;
    int ng = n_granting > RAFT_MAX_VOTERS ? RAFT_MAX_VOTERS : n_granting;
    for (int i = 0; i < nv; i++) {
        proto_leader_change_message_voter_init(&vs[i]);
        vs[i].voter_id = voters->v[i].id;
    }
    for (int i = 0; i < ng; i++) {
        proto_leader_change_message_voter_init(&gs[i]);
        gs[i].voter_id = granting[i];
    }
    lc.version = 0; /* ControlRecordUtils.LEADER_CHANGE_CURRENT_VERSION */
    lc.leader_id = leader_id;
    lc.voters.n = nv;
    lc.voters.v = nv ? vs : NULL;
    lc.granting_voters.n = ng;
    lc.granting_voters.v = ng ? gs : NULL;
    buf value;
    buf_init(&value, 64);
    proto_leader_change_message_encode(&value, 0, &lc);
    uint8_t key[4];
    sl_store_be16(key, 0); /* ControlRecordType key version */
    sl_store_be16(key + 2, RAFT_CONTROL_LEADER_CHANGE);
    batch_builder bb;
    batch_builder_init(&bb, COMPRESS_NONE, base_offset);
    batch_builder_set_leader_epoch(&bb, epoch);
    batch_builder_set_control(&bb, true);
    batch_builder_add(&bb, ts, key, 4, value.data, (int32_t)value.len, NULL, 0);
    int16_t e = batch_builder_finish(&bb, out);
    SL_ASSERT(e == KERR_NONE);
    batch_builder_free(&bb);
    buf_free(&value);
}

/* The first record of an uncompressed control batch. */
static bool control_record(const raft_batch *b, log_record *rec) {
    log_batch_header h;
    if (!b->data || !b->control || !batch_parse_header(b->data, b->len, &h) ||
        batch_compression(&h) != 0 || batch_size(&h) > (int64_t)b->len)
        return false;
    batch_iter it;
    batch_iter_init(&it, &h, b->data + BATCH_HEADER_SIZE,
                    (size_t)batch_size(&h) - BATCH_HEADER_SIZE);
    return batch_iter_next(&it, rec) == 1 && rec->key && rec->key_len >= 4;
}

int raft_control_type(const raft_batch *b) {
    log_record rec;
    if (!control_record(b, &rec))
        return -1;
    return (int)(int16_t)sl_load_be16(rec.key + 2);
}

int raft_leader_change_parse(const raft_batch *b, arena *a,
                             proto_leader_change_message *out) {
    log_record rec;
    if (!control_record(b, &rec) ||
        (int16_t)sl_load_be16(rec.key + 2) != RAFT_CONTROL_LEADER_CHANGE ||
        rec.value_len < 0)
        return RAFT_CODEC_MALFORMED;
    rd r;
    rd_init(&r, rec.value, (size_t)rec.value_len);
    return finish(&r, proto_leader_change_message_decode(&r, a, 0, out));
}

/* ---- the generated structs (net/client.h speaks them) ------------------- */

void *raft_codec_request_struct(const raft_msg *m, const raft_endpoints *eps,
                                arena *a, buf *scratch) {
    int16_t key = raft_codec_api_key(m->kind);
    int16_t v = raft_codec_version(key);
    const proto_api_info *api = proto_api(key);
    buf_reset(scratch);
    raft_codec_encode(scratch, v, m, eps);
    void *s = arena_calloc(a, 1, api->req_size);
    rd r;
    rd_init(&r, scratch->data, scratch->len);
    int rc = api->req_decode(&r, a, v, s);
    SL_ASSERT(rc == PROTO_OK && rd_left(&r) == 0); /* our own bytes */
    return s;
}

int raft_codec_response_from_struct(int16_t api_key, int16_t version,
                                    const void *resp, arena *a, buf *scratch,
                                    raft_msg *out) {
    const proto_api_info *api = proto_api(api_key);
    if (!api || !version_ok(api_key, version))
        return RAFT_CODEC_MALFORMED;
    buf_reset(scratch);
    api->resp_encode(scratch, version, resp);
    rd r;
    rd_init(&r, scratch->data, scratch->len);
    return raft_codec_decode_response(api_key, version, &r, a, out);
}
