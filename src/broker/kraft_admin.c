/*
 * kraft_admin.c - controller admin APIs on the single node, as Kafka's
 * ReplicationControlManager / QuorumController answer them:
 *   ElectLeaders (43), AlterPartitionReassignments (45),
 *   ListPartitionReassignments (46), DescribeQuorum (55: the quorum
 *   member's true state when there is a quorum of several controllers).
 * Leader and replica changes are PartitionChangeRecords written to
 * __cluster_metadata-0 through the controller (brk_commit) and applied to the
 * image like every other change. A reassignment (controller/reassign.h)
 * adds the target replicas and marks adding/removing ones; the new
 * replicas fetch, and the AlterPartition that brings the last of them into
 * the ISR completes it (controller/alter_partition.c). List reports the
 * partitions with adding/removing replicas.
 * Loop thread only; memory from the request arena.
 */
#include <stdio.h>
#include <string.h>

#include "broker/internal.h"
#include "controller/cluster_ctl.h"
#include "controller/reassign.h"
#include "core/log.h"
#include "core/clock.h"
#include "core/util.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "raft/raft_node.h"

/* ---- ElectLeaders ------------------------------------------------------- */

typedef proto_elect_leaders_response_partition_result elect_result;

/* Kafka's ReplicationControlManager.electLeader: an error, or KERR_NONE
 * with a record submitted whose commit error lands in *commit_err. */
static int16_t elect_one(brk_req *req, brk_commit_wait *w, int8_t type,
                         cl_topic *t, int32_t part, const char **msg,
                         int16_t *commit_err) {
    *msg = NULL;
    if (!t) {
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (part < 0 || part >= t->n_partitions || !t->parts[part]) {
        char *m = arena_alloc(req->arena, 300);
        snprintf(m, 300, "No such partition as %s-%d", t->name, part);
        *msg = m;
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    buf v;
    buf_init(&v, 64);
    int16_t e = ctl_elect_leader(req->brk->image, t, t->parts[part], type, &v);
    if (e == KERR_NONE)
        brk_commit(w, &v, 1, commit_err);
    buf_free(&v);
    return e;
}

static void elect_leaders_finish(brk_req *req, void *ctx) {
    proto_elect_leaders_response_encode(brk_resp_buf(req), req->api_version,
                                        ctx);
}

brk_status brk_handle_elect_leaders(brk_req *req) {
    proto_elect_leaders_request rq;
    if (proto_elect_leaders_request_decode(&req->body, req->arena,
                                           req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    /* the reply, in req->arena: it waits for the commits */
    proto_elect_leaders_response *rsp =
        arena_calloc(req->arena, 1, sizeof *rsp);
    proto_elect_leaders_response_init(rsp);
    brk_commit_wait *w = brk_commit_begin(req, elect_leaders_finish, rsp);
    int8_t type = req->api_version >= 1 ? rq.election_type : 0;
    if (type != 0 && type != 1) {
        rsp->error_code = KERR_INVALID_REQUEST;
        proto_elect_leaders_response_encode(brk_resp_buf(req), req->api_version,
                                            rsp);
        return BRK_DONE;
    }
    typedef proto_elect_leaders_response_replica_election_result topic_res;
    if (rq.topic_partitions.n < 0) {
        /* all partitions: Kafka leaves out those that needed no election */
        size_t nt;
        cl_topic **ts = cl_topics(req->brk->image, &nt);
        rsp->replica_election_results.v =
            arena_calloc(req->arena, nt ? nt : 1, sizeof(topic_res));
        int32_t k = 0;
        for (size_t i = 0; i < nt; i++) {
            cl_topic *t = ts[i];
            topic_res *tr = &rsp->replica_election_results.v[k];
            tr->topic = proto_str_c(
                arena_strndup(req->arena, t->name, strlen(t->name)));
            tr->partition_result.v = arena_calloc(
                req->arena, t->n_partitions ? (size_t)t->n_partitions : 1,
                sizeof(elect_result));
            for (int32_t p = 0; p < t->n_partitions; p++) {
                const char *msg;
                elect_result *pr =
                    &tr->partition_result.v[tr->partition_result.n];
                int16_t e =
                    elect_one(req, w, type, t, p, &msg, &pr->error_code);
                if (e == KERR_ELECTION_NOT_NEEDED)
                    continue; /* nothing submitted: the slot is reused */
                tr->partition_result.n++;
                pr->partition_id = p;
                if (e)
                    pr->error_code = e;
                pr->error_message = msg ? proto_str_c(msg) : PROTO_STR_NULL;
            }
            if (tr->partition_result.n)
                k++;
        }
        rsp->replica_election_results.n = k;
    } else {
        int32_t nt = rq.topic_partitions.n;
        rsp->replica_election_results.n = nt;
        rsp->replica_election_results.v =
            arena_calloc(req->arena, nt ? (size_t)nt : 1, sizeof(topic_res));
        for (int32_t i = 0; i < nt; i++) {
            proto_elect_leaders_request_topic_partitions *tp =
                &rq.topic_partitions.v[i];
            topic_res *tr = &rsp->replica_election_results.v[i];
            tr->topic = tp->topic;
            cl_topic *t = tp->topic.len > 0
                              ? cl_topic_find(req->brk->image, tp->topic.p,
                                              (size_t)tp->topic.len)
                              : NULL;
            int32_t np =
                BRK_RESP_ARRAY(req, tr->partition_result, tp->partitions.n);
            for (int32_t j = 0; j < np; j++) {
                elect_result *pr = &tr->partition_result.v[j];
                const char *msg;
                pr->partition_id = tp->partitions.v[j];
                int16_t e = elect_one(req, w, type, t, tp->partitions.v[j],
                                      &msg, &pr->error_code);
                if (e)
                    pr->error_code = e;
                if (!t) {
                    char *m = arena_alloc(req->arena, 300);
                    snprintf(m, 300, "No such topic as %.*s",
                             (int)(tp->topic.len > 0 ? tp->topic.len : 0),
                             tp->topic.p ? tp->topic.p : "");
                    msg = m;
                }
                pr->error_message = msg ? proto_str_c(msg) : PROTO_STR_NULL;
            }
        }
    }
    return brk_commit_end(w);
}

/* ---- AlterPartitionReassignments ---------------------------------------- */

/* Kafka's ReplicationControlManager.alterPartitionReassignment: the
 * change itself is controller/reassign.h's. */
static int16_t reassign_one(
    brk_req *req, brk_commit_wait *w, cl_topic *t, const char *tname,
    const proto_alter_partition_reassignments_request_reassignable_partition
        *rp,
    const char **msg, int16_t *commit_err) {
    char *m = arena_alloc(req->arena, 512);
    *msg = m;
    if (!t) {
        snprintf(m, 512, "Unable to find a topic named %s.", tname);
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (rp->partition_index < 0 || rp->partition_index >= t->n_partitions ||
        !t->parts[rp->partition_index]) {
        snprintf(m, 512, "Unable to find partition %s:%d.", tname,
                 rp->partition_index);
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    const cl_partition *p = t->parts[rp->partition_index];
    buf v;
    buf_init(&v, 64);
    int16_t e = ctl_reassign(
        req->brk->image, t, p, rp->replicas.n < 0 ? NULL : rp->replicas.v,
        rp->replicas.n,
        brk_cfg_bool(req->brk->cfg, BRK_CFG_UNCLEAN_LEADER_ELECTION_ENABLE), &v,
        m, 512);
    if (e == KERR_NONE) {
        *msg = NULL;
        if (v.len)
            brk_commit(w, &v, 1, commit_err);
    } else {
        SL_INFO("controller",
                "Unable to alter partition reassignment for %s:%d because "
                "of an %s error: %s",
                tname, p->id, proto_error_name(e), m);
    }
    buf_free(&v);
    return e;
}

static void reassignments_finish(brk_req *req, void *ctx) {
    proto_alter_partition_reassignments_response_encode(brk_resp_buf(req),
                                                        req->api_version, ctx);
}

brk_status brk_handle_alter_partition_reassignments(brk_req *req) {
    proto_alter_partition_reassignments_request rq;
    if (proto_alter_partition_reassignments_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    /* the reply, in req->arena: it waits for the commits */
    proto_alter_partition_reassignments_response *rsp =
        arena_calloc(req->arena, 1, sizeof *rsp);
    proto_alter_partition_reassignments_response_init(rsp);
    brk_commit_wait *w = brk_commit_begin(req, reassignments_finish, rsp);
    typedef proto_alter_partition_reassignments_response_reassignable_topic_response
        topic_res;
    typedef proto_alter_partition_reassignments_response_reassignable_partition_response
        part_res;
    int32_t nt = BRK_RESP_ARRAY(req, rsp->responses, rq.topics.n);
    for (int32_t i = 0; i < nt; i++) {
        proto_alter_partition_reassignments_request_reassignable_topic *rt =
            &rq.topics.v[i];
        topic_res *tr = &rsp->responses.v[i];
        tr->name = rt->name;
        const char *tname = proto_str_dup(req->arena, rt->name);
        if (!tname)
            tname = "";
        /* with all its bytes: "a\0b" is no topic, not "a" */
        cl_topic *t = cl_topic_find(
            req->brk->image, rt->name.len > 0 ? rt->name.p : tname,
            rt->name.len > 0 ? (size_t)rt->name.len : 0);
        int32_t np = BRK_RESP_ARRAY(req, tr->partitions, rt->partitions.n);
        for (int32_t j = 0; j < np; j++) {
            const char *msg;
            part_res *pr = &tr->partitions.v[j];
            pr->partition_index = rt->partitions.v[j].partition_index;
            int16_t e = reassign_one(req, w, t, tname, &rt->partitions.v[j],
                                     &msg, &pr->error_code);
            if (e)
                pr->error_code = e;
            pr->error_message = msg ? proto_str_c(msg) : PROTO_STR_NULL;
        }
    }
    return brk_commit_end(w);
}

/* ---- ListPartitionReassignments ----------------------------------------- */

typedef proto_list_partition_reassignments_response_ongoing_topic_reassignment
    ongoing_topic;
typedef proto_list_partition_reassignments_response_ongoing_partition_reassignment
    ongoing_part;

/* Kafka's getOngoingPartitionReassignment into *op; false if none. */
static bool ongoing(brk_req *req, const cl_topic *t, int32_t part,
                    ongoing_part *op) {
    if (part < 0 || part >= t->n_partitions || !t->parts[part] ||
        !ctl_reassigning(t->parts[part]))
        return false;
    const cl_partition *p = t->parts[part];
    proto_list_partition_reassignments_response_ongoing_partition_reassignment_init(
        op);
    op->partition_index = part;
#define COPY(dst, src, cnt)                                                    \
    do {                                                                       \
        (dst).n = (cnt);                                                       \
        (dst).v = arena_calloc(req->arena, (size_t)((cnt) > 0 ? (cnt) : 1),    \
                               sizeof(int32_t));                               \
        if ((cnt) > 0)                                                         \
            memcpy((dst).v, (src), sizeof(int32_t) * (size_t)(cnt));           \
    } while (0)
    COPY(op->replicas, p->replicas, p->n_replicas);
    COPY(op->adding_replicas, p->adding, p->n_adding);
    COPY(op->removing_replicas, p->removing, p->n_removing);
#undef COPY
    return true;
}

/* Kafka's listReassigningTopic: the topic only if one of parts (n of
 * them; NULL: every partition) is being reassigned. */
static void list_topic(brk_req *req, const cl_topic *t, const int32_t *parts,
                       int32_t n, ongoing_topic *out, int32_t *n_out) {
    int32_t cnt = parts ? n : t->n_partitions;
    ongoing_part *ps =
        arena_calloc(req->arena, (size_t)(cnt > 0 ? cnt : 1), sizeof *ps);
    int32_t k = 0;
    for (int32_t i = 0; i < cnt; i++)
        if (ongoing(req, t, parts ? parts[i] : i, &ps[k]))
            k++;
    if (!k)
        return;
    ongoing_topic *ot = &out[(*n_out)++];
    proto_list_partition_reassignments_response_ongoing_topic_reassignment_init(
        ot);
    ot->name = proto_str_c(t->name);
    ot->partitions.n = k;
    ot->partitions.v = ps;
}

brk_status brk_handle_list_partition_reassignments(brk_req *req) {
    proto_list_partition_reassignments_request rq;
    if (proto_list_partition_reassignments_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    /* Kafka lists the partitions with adding/removing replicas; unknown
     * topics are skipped silently. */
    proto_list_partition_reassignments_response rs;
    proto_list_partition_reassignments_response_init(&rs);
    rs.error_message = PROTO_STR_NULL;
    size_t nt;
    cl_topic **ts = cl_topics(req->brk->image, &nt);
    int32_t cap = rq.topics.n < 0 ? (int32_t)nt : rq.topics.n;
    ongoing_topic *out =
        arena_calloc(req->arena, (size_t)(cap > 0 ? cap : 1), sizeof *out);
    int32_t n = 0;
    if (rq.topics.n < 0) {
        for (size_t i = 0; i < nt; i++)
            list_topic(req, ts[i], NULL, 0, out, &n);
    } else {
        for (int32_t i = 0; i < rq.topics.n; i++) {
            const proto_list_partition_reassignments_request_list_partition_reassignments_topics
                *rt = &rq.topics.v[i];
            cl_topic *t = rt->name.len > 0
                              ? cl_topic_find(req->brk->image, rt->name.p,
                                              (size_t)rt->name.len)
                              : NULL;
            if (t)
                list_topic(req, t, rt->partition_indexes.v,
                           SL_MAX(rt->partition_indexes.n, 0), out, &n);
        }
    }
    rs.topics.n = n;
    rs.topics.v = out;
    proto_list_partition_reassignments_response_encode(brk_resp_buf(req),
                                                       req->api_version, &rs);
    return BRK_DONE;
}

/* ---- DescribeQuorum ----------------------------------------------------- */

/* Kafka's KafkaRaftClient.handleDescribeQuorumRequest over the quorum
 * member: the leader answers with its voters' and observers' states (its
 * timestamps are monotonic: shown as wall-clock times here); any other
 * member answers NOT_LEADER_OR_FOLLOWER for the partition. */
static brk_status describe_quorum_raft(brk_req *req,
                                       proto_describe_quorum_response *rs) {
    brk_broker *brk = req->brk;
    const raft *r = raft_node_core(brk->quorum);
    raft_info in;
    raft_get_info(r, &in);
    proto_describe_quorum_response_partition_data *pd =
        arena_calloc(req->arena, 1, sizeof *pd);
    pd->partition_index = 0;
    pd->error_message = PROTO_STR_NULL;
    pd->leader_id = in.leader_id;
    pd->leader_epoch = in.epoch;
    pd->high_watermark = in.high_watermark;
    int64_t mono = net_loop_now_ms(brk->loop), wall = clk_wall_ms();
    enum { CAP = RAFT_MAX_VOTERS + RAFT_MAX_OBSERVERS };
    raft_replica_info *reps = arena_calloc(req->arena, CAP, sizeof *reps);
    int nv = 0;
    int n = raft_describe_quorum(r, mono, reps, CAP, &nv);
    if (n < 0) {
        pd->error_code = KERR_NOT_LEADER_OR_FOLLOWER;
        pd->error_message =
            proto_str_c(proto_error_message(KERR_NOT_LEADER_OR_FOLLOWER));
        pd->leader_id = -1;
        pd->leader_epoch = -1;
        pd->high_watermark = -1;
    } else {
        proto_describe_quorum_response_replica_state *st =
            arena_calloc(req->arena, (size_t)n + 1, sizeof *st);
        for (int i = 0; i < n; i++) {
            st[i].replica_id = reps[i].key.id;
            memcpy(st[i].replica_directory_id.b, reps[i].key.dir, 16);
            st[i].log_end_offset = reps[i].log_end_offset;
            st[i].last_fetch_timestamp =
                reps[i].last_fetch_ms < 0
                    ? -1
                    : wall - (mono - reps[i].last_fetch_ms);
            st[i].last_caught_up_timestamp =
                reps[i].last_caught_up_ms < 0
                    ? -1
                    : wall - (mono - reps[i].last_caught_up_ms);
        }
        pd->current_voters.n = nv;
        pd->current_voters.v = st;
        pd->observers.n = n - nv;
        pd->observers.v = st + nv;
    }
    proto_describe_quorum_response_topic_data *td =
        arena_calloc(req->arena, 1, sizeof *td);
    td->topic_name = proto_str_c("__cluster_metadata");
    td->partitions.n = 1;
    td->partitions.v = pd;
    rs->topics.n = 1;
    rs->topics.v = td;
    /* v2: every voter's controller endpoint */
    const raft_endpoint *eps;
    int ne = raft_node_endpoints(brk->quorum, &eps);
    rs->nodes.v = arena_calloc(req->arena, (size_t)ne + 1, sizeof *rs->nodes.v);
    for (int i = 0; i < ne; i++) {
        proto_describe_quorum_response_node *node = &rs->nodes.v[rs->nodes.n++];
        node->node_id = eps[i].id;
        node->listeners.v =
            arena_calloc(req->arena, 1, sizeof *node->listeners.v);
        node->listeners.n = 1;
        node->listeners.v[0].name = proto_str_c(eps[i].listener);
        node->listeners.v[0].host = proto_str_c(eps[i].host);
        node->listeners.v[0].port = eps[i].port;
    }
    proto_describe_quorum_response_encode(brk_resp_buf(req), req->api_version,
                                          rs);
    return BRK_DONE;
}

brk_status brk_handle_describe_quorum(brk_req *req) {
    proto_describe_quorum_request rq;
    if (proto_describe_quorum_request_decode(&req->body, req->arena,
                                             req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    brk_broker *brk = req->brk;
    proto_describe_quorum_response rs;
    proto_describe_quorum_response_init(&rs);
    /* Kafka answers INVALID_REQUEST unless the request names exactly
     * __cluster_metadata-0 (DescribeQuorumRequest/KafkaRaftClient). */
    bool ok = rq.topics.n == 1 &&
              proto_str_eq(rq.topics.v[0].topic_name, "__cluster_metadata") &&
              rq.topics.v[0].partitions.n == 1 &&
              rq.topics.v[0].partitions.v[0].partition_index == 0;
    if (!ok) {
        rs.error_code = KERR_INVALID_REQUEST;
        proto_describe_quorum_response_encode(brk_resp_buf(req),
                                              req->api_version, &rs);
        return BRK_DONE;
    }
    if (brk->quorum)
        return describe_quorum_raft(req, &rs);
    /* One voter, the leader (this node), always caught up; epoch 1 is
     * the epoch a fresh single-node KRaft quorum elects itself with. */
    int64_t leo = cl_image_offset(brk->image) + 1;
    int64_t now = clk_wall_ms();
    proto_describe_quorum_response_replica_state *voter =
        arena_calloc(req->arena, 1, sizeof *voter);
    voter->replica_id = brk->node_id;
    voter->log_end_offset = leo;
    voter->last_fetch_timestamp = now;
    voter->last_caught_up_timestamp = now;
    proto_describe_quorum_response_partition_data *pd =
        arena_calloc(req->arena, 1, sizeof *pd);
    pd->partition_index = 0;
    pd->error_message = PROTO_STR_NULL;
    pd->leader_id = brk->node_id;
    pd->leader_epoch = 1;
    pd->high_watermark = leo;
    pd->current_voters.n = 1;
    pd->current_voters.v = voter;
    proto_describe_quorum_response_topic_data *td =
        arena_calloc(req->arena, 1, sizeof *td);
    td->topic_name = proto_str_c("__cluster_metadata");
    td->partitions.n = 1;
    td->partitions.v = pd;
    rs.topics.n = 1;
    rs.topics.v = td;
    /* v2: the voter's controller endpoints */
    proto_describe_quorum_response_node *node =
        arena_calloc(req->arena, 1, sizeof *node);
    node->node_id = brk->node_id;
    node->listeners.v = arena_calloc(req->arena, (size_t)brk->n_listeners + 1,
                                     sizeof *node->listeners.v);
    for (int i = 0; i < brk->n_listeners; i++) {
        if (!brk_listener_is_controller(brk, i))
            continue;
        proto_describe_quorum_response_listener *l =
            &node->listeners.v[node->listeners.n++];
        l->name = proto_str_c(brk->advertised[i].name);
        l->host = proto_str_c(brk->advertised[i].host);
        l->port = (uint16_t)brk->advertised[i].port;
    }
    rs.nodes.n = 1;
    rs.nodes.v = node;
    proto_describe_quorum_response_encode(brk_resp_buf(req), req->api_version,
                                          &rs);
    return BRK_DONE;
}
