/* Unit tests: the controller's side of AlterPartition
 * (controller/alter_partition.h) against an image, its records applied as
 * the controller would: Kafka's checks in Kafka's order (stale broker
 * epoch, unknown topic id, epochs ahead -> NOT_CONTROLLER, fenced leader
 * epoch, not the leader, stale partition epoch, invalid ISRs, ineligible
 * replicas per KIP-841/KIP-903), a shrink and an expansion that bump the
 * partition epoch, and an unchanged ISR that makes no record. */
#include <string.h>

#include "cluster/image.h"
#include "controller/alter_partition.h"
#include "controller/cluster_ctl.h"
#include "controller/records.h"
#include "proto/errors.h"
#include "cluster_fixture.h"
#include "test.h"

#define CID "MkU3OEVBNTcwNTJENDM2Qk"

/* Brokers 1..3 registered at epochs 10*id and unfenced; topic "t" (id
 * 0x11...) with one partition, replicas [1, 2, 3], ISR [1, 2, 3], leader
 * 1, partition epoch 0. */
static cl_image *ap_image(void) {
    cl_image *img = ctl_fx_image(CID, 3);
    int32_t reps[3] = {1, 2, 3};
    ctl_fx_topic(img, 0x11, reps, 3);
    return img;
}

static const cl_partition *ap_part(cl_image *img) {
    return cl_topic_find(img, "t", 1)->parts[0];
}

/* One AlterPartition v3 from broker (epoch bep) for t-0; isr ids with
 * their epochs. Applies the records; returns the partition's error (or
 * the top-level one) and the response partition in *out. */
typedef struct ap_result {
    int16_t top, err;
    int n_records;
    int32_t leader, leader_epoch, partition_epoch, n_isr;
    int32_t isr[8];
} ap_result;

static ap_result ap_send(cl_image *img, int32_t broker, int64_t bep,
                         int32_t leader_epoch, int32_t partition_epoch,
                         const int32_t *ids, const int64_t *eps, int n,
                         uint8_t tid_byte) {
    proto_alter_partition_request rq;
    proto_alter_partition_request_init(&rq);
    rq.broker_id = broker;
    rq.broker_epoch = bep;
    proto_alter_partition_request_topic_data td;
    proto_alter_partition_request_topic_data_init(&td);
    memset(td.topic_id.b, tid_byte, 16);
    proto_alter_partition_request_partition_data pd;
    proto_alter_partition_request_partition_data_init(&pd);
    pd.partition_index = 0;
    pd.leader_epoch = leader_epoch;
    pd.partition_epoch = partition_epoch;
    proto_alter_partition_request_broker_state st[8];
    for (int i = 0; i < n; i++) {
        proto_alter_partition_request_broker_state_init(&st[i]);
        st[i].broker_id = ids[i];
        st[i].broker_epoch = eps ? eps[i] : -1;
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
    ap_result r;
    memset(&r, 0, sizeof r);
    r.top = ctl_alter_partition(img, &rq, 3, &a, &recs, &rs);
    CHECK_EQ(r.top, rs.error_code);
    r.n_records = recs.n;
    if (!r.top) {
        CHECK_EQ(rs.topics.n, 1);
        CHECK_EQ(rs.topics.v[0].partitions.n, 1);
        const proto_alter_partition_response_partition_data *p =
            &rs.topics.v[0].partitions.v[0];
        r.err = p->error_code;
        r.leader = p->leader_id;
        r.leader_epoch = p->leader_epoch;
        r.partition_epoch = p->partition_epoch;
        r.n_isr = p->isr.n;
        for (int i = 0; i < p->isr.n && i < 8; i++)
            r.isr[i] = p->isr.v[i];
    } else {
        CHECK_EQ(rs.topics.n, 0);
    }
    if (r.err)
        CHECK_EQ(recs.n, 0);
    ctl_fx_apply(img, &recs);
    arena_free(&a);
    return r;
}

static void ap_broker_change(cl_image *img, int32_t id, int8_t fenced,
                             int8_t in_cs) {
    proto_broker_registration_change_record r;
    proto_broker_registration_change_record_init(&r);
    r.broker_id = id;
    r.broker_epoch = cl_broker_find(img, id)->epoch;
    r.fenced = fenced;
    r.in_controlled_shutdown = in_cs;
    buf b;
    buf_init(&b, 64);
    cl_record_frame(&b, PROTO_MD_BROKER_REGISTRATION_CHANGE_RECORD, 1);
    proto_broker_registration_change_record_encode(&b, 1, &r);
    CHECK(cl_image_apply(img, b.data, b.len));
    buf_free(&b);
}

TEST(alter_partition_shrink_and_expand_bump_the_partition_epoch) {
    cl_image *img = ap_image();
    const cl_partition *p = ap_part(img);
    int32_t shrunk[2] = {1, 2};
    int64_t eps[3] = {10, 20, 30};
    ap_result r = ap_send(img, 1, 10, 0, 0, shrunk, eps, 2, 0x11);
    CHECK_EQ(r.err, KERR_NONE);
    CHECK_EQ(r.n_records, 1);
    CHECK_EQ(r.partition_epoch, 1);
    CHECK_EQ(r.leader, 1);
    CHECK_EQ(r.leader_epoch, 0);
    CHECK_EQ(r.n_isr, 2);
    CHECK_EQ(p->n_isr, 2);
    CHECK_EQ(p->partition_epoch, 1);
    CHECK_EQ(p->leader_epoch, 0); /* no leader epoch bump on a shrink */
    /* the same ISR again: nothing to write, the current epoch answered */
    r = ap_send(img, 1, 10, 0, 1, shrunk, eps, 2, 0x11);
    CHECK_EQ(r.err, KERR_NONE);
    CHECK_EQ(r.n_records, 0);
    CHECK_EQ(r.partition_epoch, 1);
    /* expansion back to three, epoch -1 skips the broker epoch check */
    int32_t full[3] = {1, 2, 3};
    int64_t eps_skip[3] = {10, 20, -1};
    r = ap_send(img, 1, 10, 0, 1, full, eps_skip, 3, 0x11);
    CHECK_EQ(r.err, KERR_NONE);
    CHECK_EQ(r.partition_epoch, 2);
    CHECK_EQ(p->n_isr, 3);
    CHECK_EQ(p->partition_epoch, 2);
    cl_image_free(img);
}

TEST(alter_partition_rejects_stale_and_foreign_requests) {
    cl_image *img = ap_image();
    const cl_partition *p = ap_part(img);
    int32_t isr[2] = {1, 2};
    /* the requester's broker epoch is not its registration's */
    ap_result r = ap_send(img, 1, 11, 0, 0, isr, NULL, 2, 0x11);
    CHECK_EQ(r.top, KERR_STALE_BROKER_EPOCH);
    r = ap_send(img, 9, 10, 0, 0, isr, NULL, 2, 0x11);
    CHECK_EQ(r.top, KERR_STALE_BROKER_EPOCH);
    /* unknown topic id, and the zero id */
    CHECK_EQ(ap_send(img, 1, 10, 0, 0, isr, NULL, 2, 0x22).err,
             KERR_UNKNOWN_TOPIC_ID);
    CHECK_EQ(ap_send(img, 1, 10, 0, 0, isr, NULL, 2, 0x00).err,
             KERR_UNKNOWN_TOPIC_ID);
    /* epochs ahead of this controller's image: NOT_CONTROLLER */
    CHECK_EQ(ap_send(img, 1, 10, 1, 0, isr, NULL, 2, 0x11).err,
             KERR_NOT_CONTROLLER);
    CHECK_EQ(ap_send(img, 1, 10, 0, 1, isr, NULL, 2, 0x11).err,
             KERR_NOT_CONTROLLER);
    /* not the leader */
    CHECK_EQ(ap_send(img, 2, 20, 0, 0, isr, NULL, 2, 0x11).err,
             KERR_INVALID_REQUEST);
    /* a shrink commits: partition epoch 1 */
    CHECK_EQ(ap_send(img, 1, 10, 0, 0, isr, NULL, 2, 0x11).err, KERR_NONE);
    CHECK_EQ(p->partition_epoch, 1);
    /* the stale partition epoch 0 is refused and changes nothing */
    int32_t one[1] = {1};
    ap_result st = ap_send(img, 1, 10, 0, 0, one, NULL, 1, 0x11);
    CHECK_EQ(st.err, KERR_INVALID_UPDATE_VERSION);
    CHECK_EQ(p->n_isr, 2);
    /* a leader change (image: leader 2, leader epoch 1) fences epoch 0 */
    proto_partition_change_record pc;
    proto_partition_change_record_init(&pc);
    memset(pc.topic_id.b, 0x11, 16);
    pc.partition_id = 0;
    pc.leader = 2;
    buf b;
    buf_init(&b, 64);
    cl_record_frame(&b, PROTO_MD_PARTITION_CHANGE_RECORD, 0);
    proto_partition_change_record_encode(&b, 0, &pc);
    CHECK(cl_image_apply(img, b.data, b.len));
    buf_free(&b);
    CHECK_EQ(p->leader_epoch, 1);
    CHECK_EQ(ap_send(img, 1, 10, 0, 2, isr, NULL, 2, 0x11).err,
             KERR_FENCED_LEADER_EPOCH);
    /* the old leader at the new epochs is still not the leader */
    CHECK_EQ(ap_send(img, 1, 10, 1, 2, isr, NULL, 2, 0x11).err,
             KERR_INVALID_REQUEST);
    CHECK_EQ(p->n_isr, 2);
    cl_image_free(img);
}

TEST(alter_partition_rejects_invalid_isrs) {
    cl_image *img = ap_image();
    int32_t no_leader[2] = {2, 3};
    int32_t dup[3] = {1, 2, 2};
    int32_t stranger[2] = {1, 4};
    int32_t negative[2] = {1, -1};
    CHECK_EQ(ap_send(img, 1, 10, 0, 0, no_leader, NULL, 2, 0x11).err,
             KERR_INVALID_REQUEST);
    CHECK_EQ(ap_send(img, 1, 10, 0, 0, dup, NULL, 3, 0x11).err,
             KERR_INVALID_REQUEST);
    CHECK_EQ(ap_send(img, 1, 10, 0, 0, stranger, NULL, 2, 0x11).err,
             KERR_INVALID_REQUEST);
    CHECK_EQ(ap_send(img, 1, 10, 0, 0, negative, NULL, 2, 0x11).err,
             KERR_INVALID_REQUEST);
    CHECK_EQ(ap_send(img, 1, 10, 0, 0, NULL, NULL, 0, 0x11).err,
             KERR_INVALID_REQUEST);
    CHECK_EQ(ap_part(img)->partition_epoch, 0);
    cl_image_free(img);
}

TEST(alter_partition_ineligible_replicas_cannot_join) {
    cl_image *img = ap_image();
    const cl_partition *p = ap_part(img);
    int32_t two[2] = {1, 2};
    CHECK_EQ(ap_send(img, 1, 10, 0, 0, two, NULL, 2, 0x11).err, KERR_NONE);
    int32_t three[3] = {1, 2, 3};
    /* KIP-903: a broker epoch that is not the registration's (a rebooted
     * broker's old incarnation fetched) */
    int64_t old_epoch[3] = {10, 20, 29};
    CHECK_EQ(ap_send(img, 1, 10, 0, 1, three, old_epoch, 3, 0x11).err,
             KERR_INELIGIBLE_REPLICA);
    /* KIP-841: fenced, or in controlled shutdown */
    ap_broker_change(img, 3, 1, 0);
    CHECK_EQ(ap_send(img, 1, 10, 0, 1, three, NULL, 3, 0x11).err,
             KERR_INELIGIBLE_REPLICA);
    ap_broker_change(img, 3, -1, 1);
    CHECK(!cl_broker_find(img, 3)->fenced);
    CHECK(cl_broker_find(img, 3)->in_controlled_shutdown);
    CHECK_EQ(ap_send(img, 1, 10, 0, 1, three, NULL, 3, 0x11).err,
             KERR_INELIGIBLE_REPLICA);
    CHECK_EQ(p->n_isr, 2);
    CHECK_EQ(p->partition_epoch, 1);
    cl_image_free(img);
}
