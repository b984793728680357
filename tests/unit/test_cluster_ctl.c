/* Unit tests: the controller's broker registrations, heartbeats and
 * fencing (controller/cluster_ctl.h), their records applied through the
 * image as the controller would: epochs, Kafka's errors, unfencing once
 * caught up, leaders moved off a fenced or stopping broker, ISRs that never
 * become empty, unclean elections where a topic allows them. */
#include <string.h>

#include "cluster/image.h"
#include "controller/cluster_ctl.h"
#include "controller/records.h"
#include "proto/errors.h"
#include "test.h"

#define CID "MkU3OEVBNTcwNTJENDM2Qk"

/* An image with metadata.version finalized, as every cluster has it. */
static cl_image *new_image(void) {
    cl_image *img = cl_image_new();
    buf b;
    buf_init(&b, 64);
    ctl_rec_feature_level(&b, "metadata.version", 30);
    CHECK(cl_image_apply(img, b.data, b.len));
    buf_free(&b);
    return img;
}

static void apply_all(cl_image *img, ctl_records *rs) {
    for (int i = 0; i < rs->n; i++)
        CHECK(cl_image_apply(img, rs->v[i].data, rs->v[i].len));
    ctl_records_free(rs);
}

static proto_broker_registration_request_feature mv_feature = {
    .name = {"metadata.version", 16},
    .min_supported_version = 1,
    .max_supported_version = 30};

static int16_t reg(ctl_cluster *cc, cl_image *img, int32_t id, uint8_t inc,
                   const char *cluster, int64_t new_epoch, int64_t now,
                   int64_t *epoch) {
    proto_broker_registration_request rq;
    proto_broker_registration_request_init(&rq);
    rq.broker_id = id;
    rq.cluster_id = proto_str_c(cluster);
    memset(rq.incarnation_id.b, inc, 16);
    rq.features.n = 1;
    rq.features.v = &mv_feature;
    proto_uuid dir;
    memset(dir.b, 0x42, 16);
    rq.log_dirs.n = 1;
    rq.log_dirs.v = &dir;
    ctl_records rs = {0};
    char msg[300];
    int16_t e = ctl_cluster_register(cc, img, &rq, new_epoch, now, &rs, epoch,
                                     msg, sizeof msg);
    if (!e)
        CHECK_EQ(rs.n, 1);
    apply_all(img, &rs);
    return e;
}

static int16_t hb(ctl_cluster *cc, cl_image *img, int32_t id, int64_t epoch,
                  int64_t offset, bool want_shutdown, int64_t now,
                  proto_broker_heartbeat_response *out, int *n_records) {
    proto_broker_heartbeat_request rq;
    proto_broker_heartbeat_request_init(&rq);
    rq.broker_id = id;
    rq.broker_epoch = epoch;
    rq.current_metadata_offset = offset;
    rq.want_shut_down = want_shutdown;
    proto_broker_heartbeat_response_init(out);
    ctl_records rs = {0};
    char msg[300];
    int16_t e = ctl_cluster_heartbeat(cc, img, &rq, 1000, now, false, &rs, out,
                                      msg, sizeof msg);
    if (n_records)
        *n_records = rs.n;
    apply_all(img, &rs);
    return e;
}

/* Brokers 1..n registered at epochs 10*id and unfenced. */
static void cluster_of(ctl_cluster *cc, cl_image *img, int n) {
    proto_broker_heartbeat_response r;
    for (int32_t id = 1; id <= n; id++) {
        int64_t ep;
        CHECK_EQ(reg(cc, img, id, (uint8_t)id, CID, 10 * id, 0, &ep),
                 KERR_NONE);
        CHECK_EQ(hb(cc, img, id, ep, 1000, false, 0, &r, NULL), KERR_NONE);
        CHECK(!r.is_fenced);
    }
}

static const cl_partition *add_partition(cl_image *img, const char *topic,
                                         uint8_t tid, int32_t part,
                                         const int32_t *reps, int16_t rf,
                                         const int32_t *isr, int16_t n_isr) {
    uint8_t id[16];
    memset(id, tid, sizeof id);
    buf b;
    buf_init(&b, 64);
    if (!cl_topic_find(img, topic, strlen(topic))) {
        ctl_rec_topic(&b, topic, id);
        CHECK(cl_image_apply(img, b.data, b.len));
    }
    b.len = 0;
    ctl_rec_partition(&b, id, part, reps, rf, isr, n_isr);
    CHECK(cl_image_apply(img, b.data, b.len));
    buf_free(&b);
    return cl_topic_find(img, topic, strlen(topic))->parts[part];
}

TEST(cluster_ctl_registration_epochs_and_errors) {
    cl_image *img = new_image();
    ctl_cluster *cc = ctl_cluster_new(CID, 9000);
    int64_t ep = 0;
    CHECK_EQ(reg(cc, img, 1, 1, "otherCluster", 5, 0, &ep),
             KERR_INCONSISTENT_CLUSTER_ID);
    CHECK(cl_broker_find(img, 1) == NULL);
    /* a broker that cannot run the finalized metadata.version */
    mv_feature.max_supported_version = 29;
    CHECK_EQ(reg(cc, img, 1, 1, CID, 5, 0, &ep), KERR_UNSUPPORTED_VERSION);
    mv_feature.max_supported_version = 30;
    CHECK_EQ(reg(cc, img, 1, 1, CID, 5, 0, &ep), KERR_NONE);
    CHECK_EQ(ep, 5);
    const cl_broker *b = cl_broker_find(img, 1);
    CHECK(b && b->fenced && b->epoch == 5);
    /* the same incarnation again: the epoch stays */
    CHECK_EQ(reg(cc, img, 1, 1, CID, 9, 100, &ep), KERR_NONE);
    CHECK_EQ(ep, 5);
    /* another incarnation: accepted until a heartbeat opened a session */
    proto_broker_heartbeat_response r;
    CHECK_EQ(hb(cc, img, 1, 5, 0, false, 100, &r, NULL), KERR_NONE);
    CHECK_EQ(reg(cc, img, 1, 2, CID, 12, 5000, &ep),
             KERR_DUPLICATE_BROKER_REGISTRATION);
    /* once the session expired: a new epoch */
    CHECK_EQ(reg(cc, img, 1, 2, CID, 12, 100 + 9000, &ep), KERR_NONE);
    CHECK_EQ(ep, 12);
    CHECK_EQ(cl_broker_find(img, 1)->epoch, 12);
    ctl_cluster_free(cc);
    cl_image_free(img);
}

TEST(cluster_ctl_heartbeat_unfences_once_caught_up) {
    cl_image *img = new_image();
    ctl_cluster *cc = ctl_cluster_new(CID, 9000);
    int64_t ep;
    proto_broker_heartbeat_response r;
    CHECK_EQ(reg(cc, img, 1, 1, CID, 40, 0, &ep), KERR_NONE);
    CHECK_EQ(hb(cc, img, 2, 40, 50, false, 0, &r, NULL),
             KERR_STALE_BROKER_EPOCH);
    CHECK_EQ(hb(cc, img, 1, 39, 50, false, 0, &r, NULL),
             KERR_STALE_BROKER_EPOCH);
    int n;
    CHECK_EQ(hb(cc, img, 1, 40, 39, false, 10, &r, &n), KERR_NONE);
    CHECK(r.is_fenced && !r.is_caught_up);
    CHECK_EQ(n, 0);
    CHECK(cl_broker_find(img, 1)->fenced);
    CHECK_EQ(hb(cc, img, 1, 40, 40, false, 20, &r, &n), KERR_NONE);
    CHECK(!r.is_fenced && r.is_caught_up && !r.should_shut_down);
    CHECK(!cl_broker_find(img, 1)->fenced);
    ctl_cluster_free(cc);
    cl_image_free(img);
}

TEST(cluster_ctl_session_expiry_fences_and_moves_leaders) {
    cl_image *img = new_image();
    ctl_cluster *cc = ctl_cluster_new(CID, 9000);
    cluster_of(cc, img, 3);
    const int32_t r123[3] = {1, 2, 3}, r1[1] = {1};
    const cl_partition *p0 = add_partition(img, "t", 7, 0, r123, 3, r123, 3);
    const cl_partition *p1 = add_partition(img, "t", 7, 1, r1, 1, r1, 1);
    CHECK_EQ(p0->leader, 1);
    /* 2 and 3 keep heartbeating, 1 goes silent */
    proto_broker_heartbeat_response r;
    CHECK_EQ(hb(cc, img, 2, 20, 1000, false, 8000, &r, NULL), KERR_NONE);
    CHECK_EQ(hb(cc, img, 3, 30, 1000, false, 8000, &r, NULL), KERR_NONE);
    ctl_records rs = {0};
    CHECK_EQ(ctl_cluster_expire(cc, img, 8999, false, &rs), -1);
    CHECK_EQ(rs.n, 0);
    CHECK_EQ(ctl_cluster_expire(cc, img, 9000, false, &rs), 1);
    apply_all(img, &rs);
    CHECK_EQ(ctl_cluster_expire(cc, img, 9000, false, &rs), -1);
    CHECK(cl_broker_find(img, 1)->fenced);
    CHECK_EQ(p0->leader, 2); /* next replica in the ISR */
    CHECK_EQ(p0->n_isr, 2);
    CHECK_EQ(p0->isr[0], 2);
    CHECK_EQ(p0->isr[1], 3);
    CHECK_EQ(p0->leader_epoch, 1);
    CHECK_EQ(p1->leader, -1); /* its only replica: leaderless */
    CHECK_EQ(p1->n_isr, 1);   /* and the ISR never empty */
    CHECK_EQ(p1->isr[0], 1);
    /* broker 1 comes back (same incarnation, caught up): unfenced, and
     * leads the partition that had no leader */
    int n;
    CHECK_EQ(hb(cc, img, 1, 10, 1000, false, 9500, &r, &n), KERR_NONE);
    CHECK(!r.is_fenced);
    CHECK_EQ(n, 2);
    CHECK_EQ(p1->leader, 1);
    CHECK_EQ(p0->leader, 2); /* not moved back (no preferred election) */
    ctl_cluster_free(cc);
    cl_image_free(img);
}

TEST(cluster_ctl_unclean_election_when_the_topic_allows_it) {
    cl_image *img = new_image();
    ctl_cluster *cc = ctl_cluster_new(CID, 9000);
    cluster_of(cc, img, 2);
    const int32_t r12[2] = {1, 2}, i1[1] = {1};
    const cl_partition *p = add_partition(img, "u", 8, 0, r12, 2, i1, 1);
    buf b;
    buf_init(&b, 64);
    ctl_rec_config(&b, 2, "u", "unclean.leader.election.enable", "true");
    CHECK(cl_image_apply(img, b.data, b.len));
    buf_free(&b);
    ctl_records rs = {0};
    CHECK_EQ(ctl_leader_and_isr_updates(img, 1, -1, false, &rs), 1);
    apply_all(img, &rs);
    CHECK_EQ(p->leader, 2);
    CHECK_EQ(p->n_isr, 1);
    CHECK_EQ(p->isr[0], 2);
    /* a clean cluster default does not override the topic; without the
     * topic config the partition would stay leaderless */
    ctl_cluster_free(cc);
    cl_image_free(img);
}

TEST(cluster_ctl_controlled_shutdown_moves_leaders_first) {
    cl_image *img = new_image();
    ctl_cluster *cc = ctl_cluster_new(CID, 9000);
    cluster_of(cc, img, 2);
    const int32_t r12[2] = {1, 2};
    const cl_partition *p = add_partition(img, "s", 9, 0, r12, 2, r12, 2);
    proto_broker_heartbeat_response r;
    int n;
    CHECK_EQ(hb(cc, img, 1, 10, 1000, true, 100, &r, &n), KERR_NONE);
    CHECK(!r.should_shut_down); /* it led a partition: leadership first */
    CHECK_EQ(n, 2);
    CHECK(cl_broker_find(img, 1)->in_controlled_shutdown);
    CHECK_EQ(p->leader, 2);
    CHECK_EQ(p->n_isr, 1);
    /* broker 2 has not seen the change yet: wait */
    CHECK_EQ(hb(cc, img, 1, 10, 1002, true, 200, &r, &n), KERR_NONE);
    CHECK(!r.should_shut_down);
    CHECK_EQ(hb(cc, img, 2, 20, 1001, false, 200, &r, NULL), KERR_NONE);
    CHECK_EQ(hb(cc, img, 1, 10, 1002, true, 300, &r, &n), KERR_NONE);
    CHECK(r.should_shut_down && r.is_fenced);
    CHECK(cl_broker_find(img, 1)->fenced);
    ctl_cluster_free(cc);
    cl_image_free(img);
}

/* A new active controller (failover) rebuilds the sessions from the image
 * (Kafka's ClusterControlManager.activate): every unfenced broker gets one
 * session timeout from the activation, so nobody is fenced at once, a
 * broker that never heartbeats the new controller is fenced then, and a
 * second incarnation is refused while the rebuilt session lives. */
TEST(cluster_ctl_activate_rebuilds_sessions_from_the_image) {
    cl_image *img = new_image();
    ctl_cluster *old = ctl_cluster_new(CID, 9000);
    cluster_of(old, img, 3); /* all three unfenced, sessions from time 0 */
    /* broker 3 fenced under the old controller */
    ctl_records rs = {0};
    proto_broker_heartbeat_response r;
    CHECK_EQ(hb(old, img, 1, 10, 1000, false, 8000, &r, NULL), KERR_NONE);
    CHECK_EQ(hb(old, img, 2, 20, 1000, false, 8000, &r, NULL), KERR_NONE);
    CHECK_EQ(ctl_cluster_expire(old, img, 9000, false, &rs), 3);
    apply_all(img, &rs);
    ctl_cluster_free(old);
    /* the new controller activates long after the last heartbeats */
    ctl_cluster *cc = ctl_cluster_new(CID, 9000);
    ctl_cluster_activate(cc, img, 50000);
    CHECK_EQ(ctl_cluster_expire(cc, img, 50000 + 8999, false, &rs), -1);
    CHECK_EQ(rs.n, 0);
    int64_t ep;
    /* broker 2 restarted with a new incarnation: its old session lives */
    CHECK_EQ(reg(cc, img, 2, 9, CID, 70, 50001, &ep),
             KERR_DUPLICATE_BROKER_REGISTRATION);
    /* broker 1 heartbeats the new controller, 2 stays silent */
    CHECK_EQ(hb(cc, img, 1, 10, 1000, false, 55000, &r, NULL), KERR_NONE);
    CHECK(!r.is_fenced);
    CHECK_EQ(ctl_cluster_expire(cc, img, 50000 + 9000, false, &rs), 2);
    apply_all(img, &rs);
    CHECK_EQ(ctl_cluster_expire(cc, img, 50000 + 9000, false, &rs), -1);
    CHECK(cl_broker_find(img, 2)->fenced);
    CHECK(!cl_broker_find(img, 1)->fenced);
    /* the fenced broker 3 had no session: it registers again at once */
    CHECK_EQ(reg(cc, img, 3, 8, CID, 80, 50002, &ep), KERR_NONE);
    CHECK_EQ(ep, 80);
    ctl_cluster_free(cc);
    cl_image_free(img);
}

/* Kafka's periodic electUnclean task: a leaderless partition whose ISR is
 * all down gets the live out-of-sync replica only when its topic (or the
 * cluster default) allows unclean elections; ElectLeaders' UNCLEAN type
 * elects it whatever the topic says. */
TEST(cluster_ctl_periodic_unclean_election_follows_the_topic_config) {
    cl_image *img = new_image();
    ctl_cluster *cc = ctl_cluster_new(CID, 9000);
    cluster_of(cc, img, 2);
    const int32_t r12[2] = {1, 2}, i1[1] = {1};
    const cl_partition *a = add_partition(img, "a", 11, 0, r12, 2, i1, 1);
    const cl_partition *b = add_partition(img, "b", 12, 0, r12, 2, i1, 1);
    const cl_partition *c = add_partition(img, "c", 13, 0, r12, 2, i1, 1);
    ctl_records rs = {0};
    /* broker 1 (the whole ISR) fenced: all three go offline, ISR kept */
    CHECK_EQ(ctl_cluster_expire(cc, img, 10000, false, &rs), 1);
    CHECK_EQ(rs.n, 4);
    apply_all(img, &rs);
    CHECK(cl_broker_find(img, 1)->fenced);
    CHECK_EQ(a->leader, -1);
    CHECK_EQ(a->n_isr, 1);
    CHECK_EQ(a->isr[0], 1);
    CHECK_EQ(ctl_elect_unclean_leaderless(img, false, 1000, &rs), 0);
    CHECK_EQ(rs.n, 0);
    /* b allows it (dynamically): only b is elected */
    buf v;
    buf_init(&v, 64);
    ctl_rec_config(&v, 2, "b", "unclean.leader.election.enable", "true");
    CHECK(cl_image_apply(img, v.data, v.len));
    int32_t ep = b->leader_epoch;
    CHECK_EQ(ctl_elect_unclean_leaderless(img, false, 1000, &rs), 1);
    apply_all(img, &rs);
    CHECK_EQ(b->leader, 2);
    CHECK(b->leader_epoch > ep);
    CHECK_EQ(b->n_isr, 1);
    CHECK_EQ(b->isr[0], 2);
    CHECK_EQ(a->leader, -1);
    CHECK_EQ(c->leader, -1);
    /* a topic's false wins over a true cluster default */
    v.len = 0;
    ctl_rec_config(&v, 2, "a", "unclean.leader.election.enable", "false");
    CHECK(cl_image_apply(img, v.data, v.len));
    CHECK_EQ(ctl_elect_unclean_leaderless(img, true, 1000, &rs), 1);
    apply_all(img, &rs);
    CHECK_EQ(a->leader, -1);
    CHECK_EQ(c->leader, 2);
    /* ElectLeaders UNCLEAN elects a whatever its config */
    v.len = 0;
    CHECK_EQ(ctl_elect_leader(img, a->topic, a, 1, &v), KERR_NONE);
    CHECK(cl_image_apply(img, v.data, v.len));
    CHECK_EQ(a->leader, 2);
    v.len = 0;
    CHECK_EQ(ctl_elect_leader(img, a->topic, a, 1, &v),
             KERR_ELECTION_NOT_NEEDED);
    CHECK_EQ(v.len, 0);
    buf_free(&v);
    ctl_cluster_free(cc);
    cl_image_free(img);
}

/* ElectLeaders' PREFERRED type and the auto.leader.rebalance.enable task
 * (Kafka's maybeBalancePartitionLeaders): leadership goes back to the
 * first replica once it is in the ISR and unfenced, not before. */
TEST(cluster_ctl_preferred_elections) {
    cl_image *img = new_image();
    ctl_cluster *cc = ctl_cluster_new(CID, 9000);
    cluster_of(cc, img, 3);
    const int32_t r12[2] = {1, 2}, r21[2] = {2, 1}, r3[1] = {3};
    const int32_t r13[2] = {1, 3}, i3[1] = {3};
    const cl_partition *p = add_partition(img, "p", 21, 0, r12, 2, r12, 2);
    const cl_partition *q = add_partition(img, "p", 21, 1, r21, 2, r21, 2);
    const cl_partition *o = add_partition(img, "p", 21, 2, r3, 1, r3, 1);
    const cl_partition *x = add_partition(img, "p", 21, 3, r13, 2, i3, 1);
    CHECK_EQ(p->leader, 1);
    buf v;
    buf_init(&v, 64);
    CHECK_EQ(ctl_elect_leader(img, p->topic, p, 0, &v),
             KERR_ELECTION_NOT_NEEDED);
    /* move p's leadership to 2 (as a fencing of 1 would) */
    proto_partition_change_record r;
    proto_partition_change_record_init(&r);
    r.partition_id = 0;
    memset(r.topic_id.b, 21, 16);
    r.leader = 2;
    cl_record_frame(&v, PROTO_MD_PARTITION_CHANGE_RECORD, 0);
    proto_partition_change_record_encode(&v, 0, &r);
    CHECK(cl_image_apply(img, v.data, v.len));
    CHECK_EQ(p->leader, 2);
    /* x: its preferred replica 1 is out of the ISR */
    v.len = 0;
    CHECK_EQ(ctl_elect_leader(img, x->topic, x, 0, &v),
             KERR_PREFERRED_LEADER_NOT_AVAILABLE);
    CHECK_EQ(v.len, 0);
    ctl_records rs = {0};
    CHECK_EQ(ctl_elect_preferred_imbalanced(img, 1000, &rs), 1);
    apply_all(img, &rs);
    CHECK_EQ(p->leader, 1);
    CHECK_EQ(q->leader, 2);
    CHECK_EQ(o->leader, 3);
    CHECK_EQ(x->leader, 3);
    CHECK_EQ(ctl_elect_preferred_imbalanced(img, 1000, &rs), 0);
    buf_free(&v);
    ctl_cluster_free(cc);
    cl_image_free(img);
}
