/* src/raft/raft_codec: every raft_msg kind round-trips through the Kafka
 * RPC bodies at the versions this node sends (and the older ones a peer
 * may pick), record batches and the LeaderChange control record
 * round-trip, and bad input (cut short, bit flips, another partition, a
 * corrupt batch) is an error, never a crash; the quorum-state file is
 * the JSON Kafka writes and a torn one is refused. */
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/uuid.h"
#include "log/batch.h"
#include "log/log.h"
#include "proto/errors.h"
#include "raft/quorum_state.h"
#include "raft/raft_codec.h"
#include "test.h"

#define CID "raftcodectestclusterAA"

static const raft_endpoint eps_v[] = {
    {1, "CONTROLLER", "localhost", 9093},
    {2, "CONTROLLER", "localhost", 9094},
    {3, "CONTROLLER", "localhost", 9095},
};
static const raft_endpoints eps = {3, eps_v};

static void key(raft_key *k, int32_t id) {
    k->id = id;
    for (int i = 0; i < 16; i++)
        k->dir[i] = (uint8_t)(id * 16 + i);
}

static raft_msg base(raft_kind kind) {
    raft_msg m;
    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.from = RAFT_NO_ID;
    m.to = RAFT_NO_ID;
    m.has_cluster_id = true;
    strcpy(m.cluster_id, CID);
    return m;
}

/* Encodes m at v and decodes it back into *out; returns the decode result. */
static int trip(const raft_msg *m, int16_t v, arena *a, buf *b, raft_msg *out) {
    buf_reset(b);
    raft_codec_encode(b, v, m, &eps);
    rd r;
    rd_init(&r, b->data, b->len);
    int16_t key = raft_codec_api_key(m->kind);
    return raft_codec_is_request(m->kind)
               ? raft_codec_decode_request(key, v, &r, a, out)
               : raft_codec_decode_response(key, v, &r, a, out);
}

/* Every strict prefix of the encoding fails to decode; random bit flips
 * decode or fail but never crash (ASan/UBSan builds check the memory). */
static void abuse(const raft_msg *m, int16_t v, arena *a) {
    buf b;
    buf_init(&b, 256);
    raft_codec_encode(&b, v, m, &eps);
    int16_t k = raft_codec_api_key(m->kind);
    bool req = raft_codec_is_request(m->kind);
    raft_msg out;
    for (size_t n = 0; n < b.len; n++) {
        rd r;
        rd_init(&r, b.data, n);
        int e = req ? raft_codec_decode_request(k, v, &r, a, &out)
                    : raft_codec_decode_response(k, v, &r, a, &out);
        if (e == RAFT_CODEC_OK)
            test_fail(__FILE__, __LINE__, "kind %d v%d: prefix %zu of %zu ok",
                      m->kind, v, n, b.len);
    }
    rng g;
    rng_seed(&g, test_seed());
    buf c;
    buf_init(&c, b.len);
    for (int i = 0; i < 300; i++) {
        buf_reset(&c);
        buf_put(&c, b.data, b.len);
        int flips = 1 + (int)rng_below(&g, 4);
        for (int f = 0; f < flips; f++)
            c.data[rng_below(&g, c.len)] ^= (uint8_t)(1u << rng_below(&g, 8));
        rd r;
        rd_init(&r, c.data, c.len);
        (void)(req ? raft_codec_decode_request(k, v, &r, a, &out)
                   : raft_codec_decode_response(k, v, &r, a, &out));
    }
    buf_free(&c);
    buf_free(&b);
}

TEST(raft_codec_vote_round_trip) {
    arena a;
    arena_init(&a, 4096);
    buf b;
    buf_init(&b, 256);
    raft_msg m = base(RAFT_VOTE_REQ), o;
    key(&m.u.vote.voter, 2);
    key(&m.u.vote.replica, 1);
    m.u.vote.replica_epoch = 7;
    m.u.vote.last_offset_epoch = 6;
    m.u.vote.last_offset = 1234;
    m.u.vote.pre_vote = true;
    CHECK_EQ(raft_codec_api_key(m.kind), 52);
    CHECK_EQ(trip(&m, 2, &a, &b, &o), RAFT_CODEC_OK);
    CHECK_EQ(o.kind, RAFT_VOTE_REQ);
    CHECK_EQ(o.from, 1);
    CHECK_EQ(o.to, 2);
    CHECK(o.has_cluster_id);
    CHECK_STR(o.cluster_id, CID);
    CHECK_EQ(o.u.vote.replica_epoch, 7);
    CHECK_EQ(o.u.vote.last_offset_epoch, 6);
    CHECK_EQ(o.u.vote.last_offset, 1234);
    CHECK(o.u.vote.pre_vote);
    CHECK_EQ(o.u.vote.voter.id, 2);
    CHECK_MEM(o.u.vote.voter.dir, m.u.vote.voter.dir, 16);
    CHECK_MEM(o.u.vote.replica.dir, m.u.vote.replica.dir, 16);
    /* v1 has no PreVote: a standard vote */
    CHECK_EQ(trip(&m, 1, &a, &b, &o), RAFT_CODEC_OK);
    CHECK(!o.u.vote.pre_vote);
    CHECK_EQ(o.u.vote.replica.id, 1);
    /* null cluster id stays null */
    m.has_cluster_id = false;
    CHECK_EQ(trip(&m, 2, &a, &b, &o), RAFT_CODEC_OK);
    CHECK(!o.has_cluster_id);
    abuse(&m, 2, &a);

    raft_msg s = base(RAFT_VOTE_RESP);
    s.u.eresp.partition_error = KERR_FENCED_LEADER_EPOCH;
    s.u.eresp.leader_id = 3;
    s.u.eresp.leader_epoch = 9;
    s.u.eresp.vote_granted = true;
    for (int16_t v = 0; v <= 2; v++) {
        CHECK_EQ(trip(&s, v, &a, &b, &o), RAFT_CODEC_OK);
        CHECK_EQ(o.kind, RAFT_VOTE_RESP);
        CHECK_EQ(o.u.eresp.error_code, 0);
        CHECK_EQ(o.u.eresp.partition_error, KERR_FENCED_LEADER_EPOCH);
        CHECK_EQ(o.u.eresp.leader_id, 3);
        CHECK_EQ(o.u.eresp.leader_epoch, 9);
        CHECK(o.u.eresp.vote_granted);
    }
    abuse(&s, 2, &a);
    /* a top-level error carries no partition */
    s.u.eresp.error_code = KERR_INCONSISTENT_CLUSTER_ID;
    CHECK_EQ(trip(&s, 2, &a, &b, &o), RAFT_CODEC_OK);
    CHECK_EQ(o.u.eresp.error_code, KERR_INCONSISTENT_CLUSTER_ID);
    CHECK(!o.u.eresp.vote_granted);
    buf_free(&b);
    arena_free(&a);
}

TEST(raft_codec_begin_end_round_trip) {
    arena a;
    arena_init(&a, 4096);
    buf b;
    buf_init(&b, 256);
    raft_msg m = base(RAFT_BEGIN_REQ), o;
    key(&m.u.begin.voter, 3);
    m.u.begin.leader_id = 1;
    m.u.begin.leader_epoch = 5;
    for (int16_t v = 0; v <= 1; v++) {
        CHECK_EQ(trip(&m, v, &a, &b, &o), RAFT_CODEC_OK);
        CHECK_EQ(o.kind, RAFT_BEGIN_REQ);
        CHECK_EQ(o.from, 1);
        CHECK_EQ(o.u.begin.leader_id, 1);
        CHECK_EQ(o.u.begin.leader_epoch, 5);
        CHECK_STR(o.cluster_id, CID);
    }
    CHECK_EQ(o.to, 3);
    CHECK_EQ(o.u.begin.voter.id, 3);
    CHECK_MEM(o.u.begin.voter.dir, m.u.begin.voter.dir, 16);
    abuse(&m, 1, &a);

    raft_msg e = base(RAFT_END_REQ);
    e.u.end.leader_id = 2;
    e.u.end.leader_epoch = 11;
    e.u.end.n_candidates = 2;
    key(&e.u.end.candidates[0], 3);
    key(&e.u.end.candidates[1], 1);
    for (int16_t v = 0; v <= 1; v++) {
        CHECK_EQ(trip(&e, v, &a, &b, &o), RAFT_CODEC_OK);
        CHECK_EQ(o.kind, RAFT_END_REQ);
        CHECK_EQ(o.from, 2);
        CHECK_EQ(o.u.end.leader_epoch, 11);
        CHECK_EQ(o.u.end.n_candidates, 2);
        CHECK_EQ(o.u.end.candidates[0].id, 3);
        CHECK_EQ(o.u.end.candidates[1].id, 1);
    }
    CHECK_MEM(o.u.end.candidates[0].dir, e.u.end.candidates[0].dir, 16);
    abuse(&e, 1, &a);
    abuse(&e, 0, &a);

    raft_kind rk[] = {RAFT_BEGIN_RESP, RAFT_END_RESP};
    for (int i = 0; i < 2; i++) {
        raft_msg s = base(rk[i]);
        s.u.eresp.partition_error = KERR_NOT_LEADER_OR_FOLLOWER;
        s.u.eresp.leader_id = 2;
        s.u.eresp.leader_epoch = 4;
        for (int16_t v = 0; v <= 1; v++) {
            CHECK_EQ(trip(&s, v, &a, &b, &o), RAFT_CODEC_OK);
            CHECK_EQ(o.kind, rk[i]);
            CHECK_EQ(o.u.eresp.partition_error, KERR_NOT_LEADER_OR_FOLLOWER);
            CHECK_EQ(o.u.eresp.leader_id, 2);
            CHECK_EQ(o.u.eresp.leader_epoch, 4);
        }
        abuse(&s, 1, &a);
    }
    buf_free(&b);
    arena_free(&a);
}

/* Three batches at offsets 10.., epoch 4: a LeaderChange, two data. */
static void three_batches(buf *out, raft_batch *bs) {
    raft_voters vs = {3, {{.id = 1}, {.id = 2}, {.id = 3}}};
    int32_t granting[] = {1, 3};
    raft_leader_change_batch(out, 10, 4, 1000, 1, &vs, granting, 2);
    size_t o1 = out->len;
    buf vals[2];
    buf_init(&vals[0], 8);
    buf_init(&vals[1], 8);
    buf_put(&vals[0], "abc", 3);
    buf_put(&vals[1], "defgh", 5);
    raft_batch_build(out, 11, 4, 1001, vals, 2);
    size_t o2 = out->len;
    raft_batch_build(out, 0, 0, 1002, vals, 1);
    raft_batch_place(out->data + o2, 13, 4);
    buf_free(&vals[0]);
    buf_free(&vals[1]);
    size_t ends[] = {0, o1, o2, out->len};
    for (int i = 0; i < 3; i++)
        CHECK_EQ(raft_batch_parse(out->data + ends[i], ends[i + 1] - ends[i],
                                  &bs[i]),
                 KERR_NONE);
}

TEST(raft_codec_batches_and_leader_change) {
    arena a;
    arena_init(&a, 4096);
    buf b;
    buf_init(&b, 512);
    raft_batch bs[3];
    three_batches(&b, bs);
    CHECK_EQ(bs[0].base_offset, 10);
    CHECK_EQ(bs[0].last_offset, 10);
    CHECK(bs[0].control);
    CHECK_EQ(bs[0].epoch, 4);
    CHECK_EQ(bs[1].base_offset, 11);
    CHECK_EQ(bs[1].last_offset, 12);
    CHECK(!bs[1].control);
    CHECK_EQ(bs[2].base_offset, 13);
    CHECK_EQ(bs[2].last_offset, 13);
    CHECK_EQ(bs[2].epoch, 4);
    CHECK_EQ(raft_control_type(&bs[0]), RAFT_CONTROL_LEADER_CHANGE);
    CHECK_EQ(raft_control_type(&bs[1]), -1);
    proto_leader_change_message lc;
    CHECK_EQ(raft_leader_change_parse(&bs[0], &a, &lc), RAFT_CODEC_OK);
    CHECK_EQ(lc.version, 0);
    CHECK_EQ(lc.leader_id, 1);
    CHECK_EQ(lc.voters.n, 3);
    CHECK_EQ(lc.voters.v[2].voter_id, 3);
    CHECK_EQ(lc.granting_voters.n, 2);
    CHECK_EQ(lc.granting_voters.v[1].voter_id, 3);
    CHECK(raft_leader_change_parse(&bs[1], &a, &lc) != RAFT_CODEC_OK);
    /* a flipped payload byte fails the CRC; a short buffer fails */
    buf c;
    buf_init(&c, b.len);
    buf_put(&c, b.data, b.len);
    c.data[bs[0].len - 1] ^= 1;
    raft_batch x;
    CHECK(raft_batch_parse(c.data, c.len, &x) != KERR_NONE);
    CHECK(raft_batch_parse(b.data, 30, &x) != KERR_NONE);
    CHECK(raft_batch_parse(b.data, bs[0].len - 1, &x) != KERR_NONE);
    buf_free(&c);
    buf_free(&b);
    arena_free(&a);
}

TEST(raft_codec_fetch_round_trip) {
    arena a;
    arena_init(&a, 8192);
    buf b;
    buf_init(&b, 256);
    raft_msg m = base(RAFT_FETCH_REQ), o;
    key(&m.u.fetch.replica, 2);
    m.u.fetch.max_wait_ms = 500;
    m.u.fetch.max_bytes = 8 << 20;
    m.u.fetch.current_leader_epoch = 4;
    m.u.fetch.fetch_offset = 77;
    m.u.fetch.last_fetched_epoch = 3;
    m.u.fetch.high_watermark = 50;
    CHECK_EQ(raft_codec_api_key(m.kind), 1);
    CHECK_EQ(trip(&m, 17, &a, &b, &o), RAFT_CODEC_OK);
    CHECK_EQ(o.kind, RAFT_FETCH_REQ);
    CHECK_EQ(o.from, 2);
    CHECK_EQ(o.u.fetch.replica.id, 2);
    CHECK_MEM(o.u.fetch.replica.dir, m.u.fetch.replica.dir, 16);
    CHECK_EQ(o.u.fetch.max_wait_ms, 500);
    CHECK_EQ(o.u.fetch.max_bytes, 8 << 20);
    CHECK_EQ(o.u.fetch.current_leader_epoch, 4);
    CHECK_EQ(o.u.fetch.fetch_offset, 77);
    CHECK_EQ(o.u.fetch.last_fetched_epoch, 3);
    CHECK(o.u.fetch.high_watermark == INT64_MAX); /* v17 has none */
    CHECK_STR(o.cluster_id, CID);
    abuse(&m, 17, &a);

    buf recs;
    buf_init(&recs, 512);
    raft_msg s = base(RAFT_FETCH_RESP);
    raft_fetch_resp *f = &s.u.fresp;
    three_batches(&recs, f->batches);
    f->n_batches = 3;
    f->high_watermark = 12;
    f->log_start_offset = 0;
    f->diverging = (raft_oe){-1, -1};
    f->snapshot_id = (raft_oe){-1, -1};
    f->leader_id = 1;
    f->leader_epoch = 4;
    CHECK_EQ(trip(&s, 17, &a, &b, &o), RAFT_CODEC_OK);
    CHECK_EQ(o.kind, RAFT_FETCH_RESP);
    CHECK_EQ(o.u.fresp.n_batches, 3);
    CHECK_EQ(o.u.fresp.high_watermark, 12);
    CHECK_EQ(o.u.fresp.leader_id, 1);
    CHECK_EQ(o.u.fresp.leader_epoch, 4);
    CHECK_EQ(o.u.fresp.diverging.epoch, -1);
    CHECK_EQ(o.u.fresp.snapshot_id.offset, -1);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(o.u.fresp.batches[i].base_offset, f->batches[i].base_offset);
        CHECK_EQ(o.u.fresp.batches[i].last_offset, f->batches[i].last_offset);
        CHECK_EQ(o.u.fresp.batches[i].epoch, 4);
        CHECK_EQ(o.u.fresp.batches[i].control, f->batches[i].control);
        CHECK_EQ(o.u.fresp.batches[i].len, f->batches[i].len);
        CHECK_MEM(o.u.fresp.batches[i].data, f->batches[i].data,
                  f->batches[i].len);
    }
    abuse(&s, 17, &a);
    /* a partial last batch is dropped (the next fetch gets it) */
    f->batches[2].len -= 5;
    CHECK_EQ(trip(&s, 17, &a, &b, &o), RAFT_CODEC_OK);
    CHECK_EQ(o.u.fresp.n_batches, 2);
    f->batches[2].len += 5;
    /* a corrupt batch makes the response malformed */
    recs.data[f->batches[0].len + BATCH_HEADER_SIZE] ^= 0x40;
    CHECK_EQ(trip(&s, 17, &a, &b, &o), RAFT_CODEC_MALFORMED);
    recs.data[f->batches[0].len + BATCH_HEADER_SIZE] ^= 0x40;
    /* diverging epoch and snapshot id, no records */
    f->n_batches = 0;
    f->diverging = (raft_oe){40, 3};
    f->snapshot_id = (raft_oe){30, 2};
    f->partition_error = KERR_NONE;
    CHECK_EQ(trip(&s, 17, &a, &b, &o), RAFT_CODEC_OK);
    CHECK_EQ(o.u.fresp.n_batches, 0);
    CHECK_EQ(o.u.fresp.diverging.offset, 40);
    CHECK_EQ(o.u.fresp.diverging.epoch, 3);
    CHECK_EQ(o.u.fresp.snapshot_id.offset, 30);
    CHECK_EQ(o.u.fresp.snapshot_id.epoch, 2);
    /* top-level error */
    f->error_code = KERR_INCONSISTENT_CLUSTER_ID;
    CHECK_EQ(trip(&s, 17, &a, &b, &o), RAFT_CODEC_OK);
    CHECK_EQ(o.u.fresp.error_code, KERR_INCONSISTENT_CLUSTER_ID);
    buf_free(&recs);
    buf_free(&b);
    arena_free(&a);
}

TEST(raft_codec_fetch_snapshot_round_trip) {
    arena a;
    arena_init(&a, 4096);
    buf b;
    buf_init(&b, 256);
    raft_msg m = base(RAFT_FSNAP_REQ), o;
    key(&m.u.fsnap.replica, 3);
    m.u.fsnap.max_bytes = 4096;
    m.u.fsnap.current_leader_epoch = 8;
    m.u.fsnap.snapshot_id = (raft_oe){100, 7};
    m.u.fsnap.position = 2048;
    for (int16_t v = 0; v <= 1; v++) {
        CHECK_EQ(trip(&m, v, &a, &b, &o), RAFT_CODEC_OK);
        CHECK_EQ(o.kind, RAFT_FSNAP_REQ);
        CHECK_EQ(o.from, 3);
        CHECK_EQ(o.u.fsnap.max_bytes, 4096);
        CHECK_EQ(o.u.fsnap.current_leader_epoch, 8);
        CHECK_EQ(o.u.fsnap.snapshot_id.offset, 100);
        CHECK_EQ(o.u.fsnap.snapshot_id.epoch, 7);
        CHECK_EQ(o.u.fsnap.position, 2048);
        CHECK_STR(o.cluster_id, CID);
    }
    CHECK_MEM(o.u.fsnap.replica.dir, m.u.fsnap.replica.dir, 16);
    abuse(&m, 1, &a);

    raft_msg s = base(RAFT_FSNAP_RESP);
    static const uint8_t chunk[] = "snapshot bytes";
    s.u.sresp.snapshot_id = (raft_oe){100, 7};
    s.u.sresp.leader_id = 1;
    s.u.sresp.leader_epoch = 8;
    s.u.sresp.size = 5000;
    s.u.sresp.position = 2048;
    s.u.sresp.data = chunk;
    s.u.sresp.len = sizeof chunk;
    for (int16_t v = 0; v <= 1; v++) {
        CHECK_EQ(trip(&s, v, &a, &b, &o), RAFT_CODEC_OK);
        CHECK_EQ(o.u.sresp.snapshot_id.offset, 100);
        CHECK_EQ(o.u.sresp.leader_id, 1);
        CHECK_EQ(o.u.sresp.leader_epoch, 8);
        CHECK_EQ(o.u.sresp.size, 5000);
        CHECK_EQ(o.u.sresp.position, 2048);
        CHECK_EQ(o.u.sresp.len, sizeof chunk);
        CHECK_MEM(o.u.sresp.data, chunk, sizeof chunk);
    }
    abuse(&s, 1, &a);
    buf_free(&b);
    arena_free(&a);
}

/* Kafka's hasValidTopicPartition: another topic or partition, or more than
 * one, is not this quorum's request. */
TEST(raft_codec_wrong_partition) {
    arena a;
    arena_init(&a, 4096);
    buf b;
    buf_init(&b, 256);
    proto_vote_request rq;
    proto_vote_request_init(&rq);
    proto_vote_request_topic_data t;
    proto_vote_request_topic_data_init(&t);
    proto_vote_request_partition_data p;
    proto_vote_request_partition_data_init(&p);
    t.topic_name = proto_str_c("other");
    t.partitions.n = 1;
    t.partitions.v = &p;
    rq.topics.n = 1;
    rq.topics.v = &t;
    proto_vote_request_encode(&b, 2, &rq);
    raft_msg o;
    rd r;
    rd_init(&r, b.data, b.len);
    CHECK_EQ(raft_codec_decode_request(52, 2, &r, &a, &o),
             RAFT_CODEC_WRONG_PARTITION);
    t.topic_name = proto_str_c(RAFT_METADATA_TOPIC);
    p.partition_index = 1;
    buf_reset(&b);
    proto_vote_request_encode(&b, 2, &rq);
    rd_init(&r, b.data, b.len);
    CHECK_EQ(raft_codec_decode_request(52, 2, &r, &a, &o),
             RAFT_CODEC_WRONG_PARTITION);
    p.partition_index = 0;
    buf_reset(&b);
    proto_vote_request_encode(&b, 2, &rq);
    rd_init(&r, b.data, b.len);
    CHECK_EQ(raft_codec_decode_request(52, 2, &r, &a, &o), RAFT_CODEC_OK);
    /* trailing bytes, an unknown version */
    buf_put_u8(&b, 0);
    rd_init(&r, b.data, b.len);
    CHECK_EQ(raft_codec_decode_request(52, 2, &r, &a, &o),
             RAFT_CODEC_MALFORMED);
    rd_init(&r, b.data, b.len - 1);
    CHECK_EQ(raft_codec_decode_request(52, 9, &r, &a, &o),
             RAFT_CODEC_MALFORMED);
    /* a Fetch for a data topic id */
    proto_fetch_request fr;
    proto_fetch_request_init(&fr);
    proto_fetch_request_fetch_topic ft;
    proto_fetch_request_fetch_topic_init(&ft);
    proto_fetch_request_fetch_partition fp;
    proto_fetch_request_fetch_partition_init(&fp);
    ft.topic_id.b[0] = 9;
    ft.partitions.n = 1;
    ft.partitions.v = &fp;
    fr.topics.n = 1;
    fr.topics.v = &ft;
    buf_reset(&b);
    proto_fetch_request_encode(&b, 17, &fr);
    rd_init(&r, b.data, b.len);
    CHECK_EQ(raft_codec_decode_request(1, 17, &r, &a, &o),
             RAFT_CODEC_WRONG_PARTITION);
    memcpy(ft.topic_id.b, uuid_metadata_topic_id, 16);
    buf_reset(&b);
    proto_fetch_request_encode(&b, 17, &fr);
    rd_init(&r, b.data, b.len);
    CHECK_EQ(raft_codec_decode_request(1, 17, &r, &a, &o), RAFT_CODEC_OK);
    /* a cluster id longer than any node's (Kafka's are 22 characters)
     * decodes as one that matches none */
    rq.cluster_id = proto_str_c("this-cluster-id-is-far-too-long-for-us");
    buf_reset(&b);
    proto_vote_request_encode(&b, 2, &rq);
    rd_init(&r, b.data, b.len);
    CHECK_EQ(raft_codec_decode_request(52, 2, &r, &a, &o), RAFT_CODEC_OK);
    CHECK(o.has_cluster_id);
    CHECK_STR(o.cluster_id, "");
    buf_free(&b);
    arena_free(&a);
}

/* ---- quorum-state ------------------------------------------------------- */
TEST(raft_quorum_state_is_kafkas_json) {
    raft_qstate qs = {.epoch = 2, .leader_id = 1, .voted = {.id = -1}};
    raft_voters vs = {3, {{.id = 1}, {.id = 2}, {.id = 3}}};
    buf b;
    buf_init(&b, 256);
    raft_qstate_json(&b, &qs, 0, &vs);
    buf_put_u8(&b, 0);
    CHECK_STR((const char *)b.data,
              "{\"clusterId\":\"\",\"leaderId\":1,\"leaderEpoch\":2,"
              "\"votedId\":-1,\"appliedOffset\":0,\"currentVoters\":[{"
              "\"voterId\":1},{\"voterId\":2},{\"voterId\":3}],\"data_"
              "version\":0}");
    raft_qstate o;
    int ver;
    char err[256];
    CHECK(raft_qstate_parse((const char *)b.data, b.len - 1, &o, &ver, err,
                            sizeof err));
    CHECK_EQ(ver, 0);
    CHECK_EQ(o.epoch, 2);
    CHECK_EQ(o.leader_id, 1);
    CHECK_EQ(o.voted.id, RAFT_NO_ID);
    /* version 1, Kafka's own example from FileQuorumStateStore */
    const char *k1 = "{\n  \"leaderId\": -1,\n  \"leaderEpoch\": 2,\n  "
                     "\"votedId\": 1,\n  \"votedDirectoryId\": "
                     "\"J8aAPcfLQt2bqs1JT_rMgQ\",\n  \"data_version\": 1\n}";
    CHECK(raft_qstate_parse(k1, strlen(k1), &o, &ver, err, sizeof err));
    CHECK_EQ(ver, 1);
    CHECK_EQ(o.leader_id, RAFT_NO_ID);
    CHECK_EQ(o.voted.id, 1);
    buf_reset(&b);
    raft_qstate_json(&b, &o, 1, NULL);
    buf_put_u8(&b, 0);
    CHECK_STR((const char *)b.data,
              "{\"leaderId\":-1,\"leaderEpoch\":2,\"votedId\":1,"
              "\"votedDirectoryId\":\"J8aAPcfLQt2bqs1JT_rMgQ\",\"data_"
              "version\":1}");
    /* every strict prefix (a torn file) is refused, never a crash */
    for (size_t n = 0; n + 1 < b.len; n++)
        CHECK(!raft_qstate_parse((const char *)b.data, n, &o, &ver, err,
                                 sizeof err));
    const char *bad[] = {"",
                         "{}",
                         "{\"leaderEpoch\":1}",
                         "{\"leaderEpoch\":1,\"data_version\":7}",
                         "{\"leaderEpoch\":99999999999,\"data_version\":0}",
                         "{\"leaderEpoch\":1,\"data_version\":0} x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(!raft_qstate_parse(bad[i], strlen(bad[i]), &o, &ver, err,
                                 sizeof err));
    buf_free(&b);

    /* through the file system seam */
    const char *dir = test_tmpdir();
    CHECK_EQ(raft_qstate_read(&log_io_posix, dir, &o, err, sizeof err), 0);
    qs = (raft_qstate){.epoch = 7, .leader_id = -1, .voted = {.id = 3}};
    CHECK(raft_qstate_write(&log_io_posix, dir, &qs, 0, &vs, err, sizeof err));
    CHECK_EQ(raft_qstate_read(&log_io_posix, dir, &o, err, sizeof err), 1);
    CHECK_EQ(o.epoch, 7);
    CHECK_EQ(o.voted.id, 3);
    char path[512];
    snprintf(path, sizeof path, "%s/quorum-state", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"leaderId\":1,\"lead", f);
    fclose(f);
    CHECK_EQ(raft_qstate_read(&log_io_posix, dir, &o, err, sizeof err), -1);
}
