/* Unit tests: partition reassignment on the controller
 * (controller/reassign.h, controller/alter_partition.h) against an image,
 * its records applied as the controller would: a move to other brokers
 * (replicas = target + removing, adding/removing set, leader kept), the
 * AlterPartition that completes it (replicas = target, the removed leader
 * replaced, NEW_LEADER_ELECTED), a replication factor raised 1 -> 3, a
 * cancel reverting to the original replicas, NO_REASSIGNMENT_IN_PROGRESS,
 * Kafka's validation messages, a reorder completing at once, and the
 * adding/removing replicas kept through an image dump. */
#include <string.h>

#include "cluster/image.h"
#include "controller/alter_partition.h"
#include "controller/cluster_ctl.h"
#include "controller/reassign.h"
#include "controller/records.h"
#include "proto/errors.h"
#include "cluster_fixture.h"
#include "test.h"

#define RA_CID "MkU3OEVBNTcwNTJENDM2Qk"

/* Brokers 1..5 registered at epochs 10*id and unfenced; topic "t" (id
 * 0x22...) with one partition of replicas reps (ISR = reps, leader the
 * first). */
static cl_image *ra_image(const int32_t *reps, int16_t n) {
    cl_image *img = ctl_fx_image(RA_CID, 5);
    ctl_fx_topic(img, 0x22, reps, n);
    return img;
}

static cl_topic *ra_topic(cl_image *img) {
    return cl_topic_find(img, "t", 1);
}

static const cl_partition *ra_part(cl_image *img) {
    return ra_topic(img)->parts[0];
}

/* ctl_reassign (target NULL: cancel), its record applied; the number of
 * records made in *n_rec. */
static int16_t ra_reassign(cl_image *img, const int32_t *target, int32_t n,
                           int *n_rec, char *msg) {
    buf b;
    buf_init(&b, 64);
    int16_t e = ctl_reassign(img, ra_topic(img), ra_part(img), target,
                             target ? n : -1, false, &b, msg, 512);
    if (e)
        CHECK_EQ(b.len, 0);
    *n_rec = b.len ? 1 : 0;
    if (b.len)
        CHECK(cl_image_apply(img, b.data, b.len));
    buf_free(&b);
    return e;
}

static bool ra_is(const int32_t *v, int32_t n, const int32_t *want,
                  int32_t nw) {
    return n == nw && (n == 0 || !memcmp(v, want, sizeof *v * (size_t)n));
}

/* reassign.h invariants 1-3 on the partition as it is */
static void ra_invariants(cl_image *img) {
    const cl_partition *p = ra_part(img);
    for (int32_t i = 0; i < p->n_adding; i++) {
        bool in = false;
        for (int32_t k = 0; k < p->n_replicas; k++)
            in |= p->replicas[k] == p->adding[i];
        CHECK(in);
        for (int32_t k = 0; k < p->n_removing; k++)
            CHECK(p->removing[k] != p->adding[i]);
    }
    for (int32_t i = 0; i < p->n_removing; i++) {
        bool in = false;
        for (int32_t k = 0; k < p->n_replicas; k++)
            in |= p->replicas[k] == p->removing[i];
        CHECK(in);
    }
    CHECK(p->n_isr > 0);
    bool leader_in = p->leader < 0;
    for (int32_t i = 0; i < p->n_isr; i++) {
        bool in = false;
        for (int32_t k = 0; k < p->n_replicas; k++)
            in |= p->replicas[k] == p->isr[i];
        CHECK(in);
        leader_in |= p->isr[i] == p->leader;
    }
    CHECK(leader_in);
}

/* AlterPartition v3 from the leader with the new ISR (epochs -1). */
typedef struct ra_ap {
    int16_t err;
    int n_records;
    int32_t leader, leader_epoch, partition_epoch, n_isr;
} ra_ap;

static ra_ap ra_alter_isr(cl_image *img, const int32_t *ids, int n) {
    const cl_partition *p = ra_part(img);
    proto_alter_partition_request rq;
    proto_alter_partition_request_init(&rq);
    rq.broker_id = p->leader;
    rq.broker_epoch = 10 * p->leader;
    proto_alter_partition_request_topic_data td;
    proto_alter_partition_request_topic_data_init(&td);
    memset(td.topic_id.b, 0x22, 16);
    proto_alter_partition_request_partition_data pd;
    proto_alter_partition_request_partition_data_init(&pd);
    pd.partition_index = 0;
    pd.leader_epoch = p->leader_epoch;
    pd.partition_epoch = p->partition_epoch;
    proto_alter_partition_request_broker_state st[8];
    for (int i = 0; i < n; i++) {
        proto_alter_partition_request_broker_state_init(&st[i]);
        st[i].broker_id = ids[i];
        st[i].broker_epoch = -1;
    }
    pd.new_isr_with_epochs.n = n;
    pd.new_isr_with_epochs.v = st;
    td.partitions.n = 1;
    td.partitions.v = &pd;
    rq.topics.n = 1;
    rq.topics.v = &td;
    arena a;
    arena_init(&a, 1024);
    proto_alter_partition_response rs;
    proto_alter_partition_response_init(&rs);
    ctl_records recs = {0};
    CHECK_EQ(ctl_alter_partition(img, &rq, 3, &a, &recs, &rs), KERR_NONE);
    ra_ap r;
    memset(&r, 0, sizeof r);
    const proto_alter_partition_response_partition_data *o =
        &rs.topics.v[0].partitions.v[0];
    r.err = o->error_code;
    r.leader = o->leader_id;
    r.leader_epoch = o->leader_epoch;
    r.partition_epoch = o->partition_epoch;
    r.n_isr = o->isr.n;
    r.n_records = recs.n;
    ctl_fx_apply(img, &recs);
    arena_free(&a);
    ra_invariants(img);
    return r;
}

TEST(reassign_moves_replicas_and_completes_on_the_isr) {
    int32_t cur[3] = {1, 2, 3};
    cl_image *img = ra_image(cur, 3);
    const cl_partition *p = ra_part(img);
    char msg[512];
    int nr;
    int32_t target[3] = {3, 4, 5};
    CHECK_EQ(ra_reassign(img, target, 3, &nr, msg), KERR_NONE);
    CHECK_EQ(nr, 1);
    ra_invariants(img);
    /* stage 1: replicas = target + removing, leader and its epoch kept */
    int32_t u[5] = {3, 4, 5, 1, 2}, add[2] = {4, 5}, rem[2] = {1, 2};
    CHECK(ra_is(p->replicas, p->n_replicas, u, 5));
    CHECK(ra_is(p->adding, p->n_adding, add, 2));
    CHECK(ra_is(p->removing, p->n_removing, rem, 2));
    CHECK(ra_is(p->isr, p->n_isr, cur, 3));
    CHECK_EQ(p->leader, 1);
    CHECK_EQ(p->leader_epoch, 0);
    CHECK_EQ(p->partition_epoch, 1);
    CHECK(ctl_reassigning(p));
    /* one new replica in sync: not yet */
    int32_t isr4[4] = {1, 2, 3, 4};
    ra_ap r = ra_alter_isr(img, isr4, 4);
    CHECK_EQ(r.err, KERR_NONE);
    CHECK_EQ(r.n_records, 1);
    CHECK(ctl_reassigning(p));
    CHECK(ra_is(p->isr, p->n_isr, isr4, 4));
    CHECK_EQ(p->n_replicas, 5);
    /* both: complete in the same record; leader 1 left, 3 leads */
    int32_t isr5[5] = {1, 2, 3, 4, 5};
    r = ra_alter_isr(img, isr5, 5);
    CHECK_EQ(r.err, KERR_NEW_LEADER_ELECTED);
    CHECK_EQ(r.n_records, 1);
    CHECK(!ctl_reassigning(p));
    CHECK(ra_is(p->replicas, p->n_replicas, target, 3));
    CHECK(ra_is(p->isr, p->n_isr, target, 3));
    CHECK_EQ(p->n_adding, 0);
    CHECK_EQ(p->n_removing, 0);
    CHECK_EQ(p->leader, 3);
    CHECK_EQ(p->leader_epoch, 1);
    CHECK_EQ(p->partition_epoch, 3);
    cl_image_free(img);
}

TEST(reassign_raises_the_replication_factor) {
    int32_t one[1] = {1};
    cl_image *img = ra_image(one, 1);
    const cl_partition *p = ra_part(img);
    char msg[512];
    int nr;
    int32_t target[3] = {1, 2, 3};
    CHECK_EQ(ra_reassign(img, target, 3, &nr, msg), KERR_NONE);
    int32_t add[2] = {2, 3};
    CHECK(ra_is(p->replicas, p->n_replicas, target, 3));
    CHECK(ra_is(p->adding, p->n_adding, add, 2));
    CHECK_EQ(p->n_removing, 0);
    CHECK_EQ(p->leader_epoch, 0);
    int32_t isr2[2] = {1, 2};
    ra_ap r = ra_alter_isr(img, isr2, 2);
    CHECK_EQ(r.err, KERR_NONE);
    CHECK(ctl_reassigning(p));
    r = ra_alter_isr(img, target, 3);
    /* completed, the leader (and its epoch: nothing left) kept */
    CHECK_EQ(r.err, KERR_NONE);
    CHECK_EQ(r.leader, 1);
    CHECK_EQ(r.leader_epoch, 0);
    CHECK_EQ(r.n_isr, 3);
    CHECK_EQ(r.partition_epoch, 3);
    CHECK(!ctl_reassigning(p));
    CHECK(ra_is(p->replicas, p->n_replicas, target, 3));
    CHECK_EQ(p->partition_epoch, 3);
    cl_image_free(img);
}

TEST(reassign_cancel_reverts_to_the_original_replicas) {
    int32_t cur[3] = {1, 2, 3};
    cl_image *img = ra_image(cur, 3);
    const cl_partition *p = ra_part(img);
    char msg[512];
    int nr;
    CHECK_EQ(ra_reassign(img, NULL, 0, &nr, msg),
             KERR_NO_REASSIGNMENT_IN_PROGRESS);
    CHECK_STR(msg, "No partition reassignment is in progress.");
    int32_t target[3] = {1, 4, 5};
    CHECK_EQ(ra_reassign(img, target, 3, &nr, msg), KERR_NONE);
    int32_t isr4[4] = {1, 2, 3, 4};
    CHECK_EQ(ra_alter_isr(img, isr4, 4).err, KERR_NONE);
    CHECK_EQ(p->n_replicas, 5);
    CHECK_EQ(ra_reassign(img, NULL, 0, &nr, msg), KERR_NONE);
    CHECK_EQ(nr, 1);
    ra_invariants(img);
    /* the added replicas leave the replicas and the ISR; the leader
     * stays, its epoch bumped (replicas left) */
    CHECK(ra_is(p->replicas, p->n_replicas, cur, 3));
    CHECK(ra_is(p->isr, p->n_isr, cur, 3));
    CHECK_EQ(p->n_adding, 0);
    CHECK_EQ(p->n_removing, 0);
    CHECK_EQ(p->leader, 1);
    CHECK_EQ(p->leader_epoch, 1);
    CHECK_EQ(ra_reassign(img, NULL, 0, &nr, msg),
             KERR_NO_REASSIGNMENT_IN_PROGRESS);
    cl_image_free(img);
}

TEST(reassign_validation_and_immediate_completion) {
    int32_t cur[3] = {1, 2, 3};
    cl_image *img = ra_image(cur, 3);
    const cl_partition *p = ra_part(img);
    char msg[512];
    int nr;
    CHECK_EQ(ra_reassign(img, cur, 0, &nr, msg),
             KERR_INVALID_REPLICA_ASSIGNMENT);
    CHECK_STR(msg, "The manual partition assignment includes an empty "
                   "replica list.");
    int32_t unknown[3] = {9, 1, 7};
    CHECK_EQ(ra_reassign(img, unknown, 3, &nr, msg),
             KERR_INVALID_REPLICA_ASSIGNMENT);
    CHECK_STR(msg, "The manual partition assignment includes broker 7, but "
                   "no such broker is registered.");
    int32_t dup[3] = {2, 1, 2};
    CHECK_EQ(ra_reassign(img, dup, 3, &nr, msg),
             KERR_INVALID_REPLICA_ASSIGNMENT);
    CHECK_STR(msg, "The manual partition assignment includes the broker 2 "
                   "more than once.");
    CHECK_EQ(p->partition_epoch, 0);
    /* the same replicas: no record */
    CHECK_EQ(ra_reassign(img, cur, 3, &nr, msg), KERR_NONE);
    CHECK_EQ(nr, 0);
    /* a subset of the ISR completes at once (Kafka's stages 1-3 in one) */
    int32_t two[2] = {2, 1};
    CHECK_EQ(ra_reassign(img, two, 2, &nr, msg), KERR_NONE);
    CHECK_EQ(nr, 1);
    CHECK(!ctl_reassigning(p));
    CHECK(ra_is(p->replicas, p->n_replicas, two, 2));
    int32_t isr[2] = {1, 2};
    CHECK(ra_is(p->isr, p->n_isr, isr, 2));
    CHECK_EQ(p->leader, 1);
    CHECK_EQ(p->leader_epoch, 1);
    ra_invariants(img);
    cl_image_free(img);
}

static void ra_dump_sink(void *arg, const uint8_t *v, size_t len) {
    CHECK(cl_image_apply(arg, v, len));
}

TEST(reassign_state_survives_an_image_dump) {
    int32_t cur[2] = {1, 2};
    cl_image *img = ra_image(cur, 2);
    char msg[512];
    int nr;
    int32_t target[2] = {2, 3};
    CHECK_EQ(ra_reassign(img, target, 2, &nr, msg), KERR_NONE);
    cl_image *copy = cl_image_new();
    cl_image_dump(img, ra_dump_sink, copy);
    const cl_partition *p = ra_part(copy);
    int32_t u[3] = {2, 3, 1}, add[1] = {3}, rem[1] = {1};
    CHECK(ra_is(p->replicas, p->n_replicas, u, 3));
    CHECK(ra_is(p->adding, p->n_adding, add, 1));
    CHECK(ra_is(p->removing, p->n_removing, rem, 1));
    CHECK(ctl_reassigning(p));
    cl_image_free(copy);
    cl_image_free(img);
}
