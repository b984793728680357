/*
 * metadata.c - Metadata (key 3, with auto topic creation), DescribeCluster
 * (key 60) and DescribeTopicPartitions (key 75), all answered from the
 * metadata image. Brokers are described with the advertised address of the
 * listener the client connected through.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "core/log.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "raft/raft_node.h"
#include "replica/replica.h"

/* Kafka's topic operations bitfield when no authorizer is configured:
 * READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS,
 * ALTER_CONFIGS. */
#define TOPIC_ALL_OPS                                                          \
    ((1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) |         \
     (1 << 10) | (1 << 11))
/* cluster: CREATE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS,
 * IDEMPOTENT_WRITE, ALTER, DESCRIBE */
#define CLUSTER_ALL_OPS                                                        \
    ((1 << 5) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 7) |      \
     (1 << 8))

/* The endpoint of broker b for listener `name`, or NULL. */
static const cl_endpoint *broker_endpoint(const cl_broker *b,
                                          const char *name) {
    for (int32_t i = 0; i < b->n_endpoints; i++)
        if (!strcmp(b->endpoints[i].name, name))
            return &b->endpoints[i];
    return NULL;
}

/* Listener name for a request: a client on a controller listener gets the
 * broker addresses of the first non-controller listener. */
static const char *req_listener_name(const brk_req *req) {
    const brk_broker *brk = req->brk;
    if (!brk_listener_is_controller(brk, req->listener))
        return brk->listeners[req->listener].name;
    for (int i = 0; i < brk->n_listeners; i++)
        if (!brk_listener_is_controller(brk, i))
            return brk->listeners[i].name;
    return brk->listeners[req->listener].name;
}

/* This node's replica of p sits in a failed log dir. */
static bool local_log_failed(brk_broker *brk, const cl_partition *p) {
    log_partition *log = brk->repl ? repl_log(brk->repl, p) : NULL;
    return log && log_is_failed(log);
}

/* A node of a quorum that is starting (its registration not yet committed
 * and unfenced) lists itself at its own advertised address, so clients
 * that reached it have a broker and a controller to talk to (Kafka's
 * broker does not serve clients before it is unfenced; here the listeners
 * answer from the start). NULL otherwise. */
static const net_endpoint *self_pending(brk_broker *brk, const char *lname) {
    const cl_broker *me = cl_broker_find(brk->image, brk->node_id);
    if (!brk_lm_starting(brk) || (me && !me->fenced))
        return NULL;
    for (int i = 0; i < brk->n_listeners; i++)
        if (!strcmp(brk->listeners[i].name, lname))
            return &brk->advertised[i];
    return NULL;
}

static bool broker_live(brk_broker *brk, int32_t id) {
    const cl_broker *b = cl_broker_find(brk->image, id);
    return b && !b->fenced;
}

/* Auto-creation as Kafka's AutoTopicCreationManager does for Metadata. */
static int16_t auto_create(brk_req *req, const char *name, size_t len) {
    brk_broker *brk = req->brk;
    char msg[512];
    int16_t e = ctl_validate_topic_name(name, len, msg, sizeof msg);
    if (e)
        return e;
    /* Internal topics are created by their coordinators with their own
     * partition counts and configs (FindCoordinator), never as plain
     * auto-created topics. */
    if ((len == 18 && !memcmp(name, "__consumer_offsets", 18)) ||
        (len == 19 && !memcmp(name, "__transaction_state", 19)))
        return KERR_LEADER_NOT_AVAILABLE;
    int32_t np = (int32_t)brk_cfg_i64(brk->cfg, BRK_CFG_NUM_PARTITIONS);
    int16_t rf =
        (int16_t)brk_cfg_i64(brk->cfg, BRK_CFG_DEFAULT_REPLICATION_FACTOR);
    if (rf > ctl_live_brokers(brk->image))
        return KERR_INVALID_REPLICATION_FACTOR;
    char *n = arena_strndup(req->arena, name, len);
    if (ctl_topic_creating(brk, n))
        return KERR_LEADER_NOT_AVAILABLE;
    /* submitted, not waited for: as Kafka's AutoTopicCreationManager, the
     * topic is reported LEADER_NOT_AVAILABLE until it exists (clients
     * retry) */
    if (!brk_forward_create_topic(brk, n, np, rf, NULL, 0))
        ctl_create_topic_async(NULL, NULL, brk, n, np, rf, NULL, NULL, 0, NULL);
    SL_INFO("server", "auto-creating topic %s (Metadata from %s)", n,
            req->peer);
    return KERR_LEADER_NOT_AVAILABLE;
}

static void
fill_partitions(brk_req *req, cl_topic *t,
                proto_metadata_response_metadata_response_topic *rt) {
    rt->partitions.n = t->n_partitions;
    rt->partitions.v = arena_calloc(
        req->arena, (size_t)(t->n_partitions ? t->n_partitions : 1),
        sizeof *rt->partitions.v);
    for (int32_t i = 0; i < t->n_partitions; i++) {
        proto_metadata_response_metadata_response_partition *rp =
            &rt->partitions.v[i];
        proto_metadata_response_metadata_response_partition_init(rp);
        cl_partition *p = t->parts[i];
        rp->partition_index = i;
        if (!p) {
            rp->error_code = KERR_LEADER_NOT_AVAILABLE;
            rp->leader_id = -1;
            continue;
        }
        rp->leader_id = p->leader;
        rp->leader_epoch = p->leader_epoch;
        rp->replica_nodes.n = p->n_replicas;
        rp->replica_nodes.v = p->replicas;
        rp->isr_nodes.n = p->n_isr;
        rp->isr_nodes.v = p->isr;
        int32_t off = 0;
        int32_t *offl = arena_calloc(
            req->arena, (size_t)(p->n_replicas ? p->n_replicas : 1),
            sizeof(int32_t));
        /* This node's replica sits in a failed log dir: a single Kafka
         * node reports it offline, the partition without a leader (its
         * controller's handleDirectoriesOffline: leader -1, ISR emptied). */
        bool dir_failed = local_log_failed(req->brk, p);
        for (int32_t r = 0; r < p->n_replicas; r++)
            if (!broker_live(req->brk, p->replicas[r]) ||
                (dir_failed && p->replicas[r] == req->brk->node_id))
                offl[off++] = p->replicas[r];
        rp->offline_replicas.n = off;
        rp->offline_replicas.v = offl;
        if (dir_failed && p->n_replicas == 1) {
            rp->leader_id = -1;
            rp->isr_nodes.n = 0;
            rp->error_code = KERR_LEADER_NOT_AVAILABLE;
            continue;
        }
        if (p->leader < 0 || !broker_live(req->brk, p->leader) ||
            brk_partition_pending(p)) {
            rp->error_code = KERR_LEADER_NOT_AVAILABLE;
            if (brk_partition_pending(p))
                rp->leader_id = -1; /* still being created */
        }
    }
}

static void fill_topic(brk_req *req, cl_topic *t, bool ops,
                       proto_metadata_response_metadata_response_topic *rt) {
    rt->name = proto_str_c(t->name);
    memcpy(rt->topic_id.b, t->id, 16);
    rt->is_internal = t->internal;
    rt->topic_authorized_operations = ops ? TOPIC_ALL_OPS : INT32_MIN;
    fill_partitions(req, t, rt);
}

brk_status brk_handle_metadata(brk_req *req) {
    brk_broker *brk = req->brk;
    proto_metadata_request rq;
    if (proto_metadata_request_decode(&req->body, req->arena, req->api_version,
                                      &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_metadata_response rs;
    proto_metadata_response_init(&rs);

    /* brokers */
    const char *lname = req_listener_name(req);
    size_t nb;
    const cl_broker *bs = cl_brokers(brk->image, &nb);
    rs.brokers.v = arena_calloc(req->arena, nb + 1, sizeof *rs.brokers.v);
    for (size_t i = 0; i < nb; i++) {
        if (bs[i].fenced)
            continue;
        const cl_endpoint *ep = broker_endpoint(&bs[i], lname);
        if (!ep)
            continue;
        proto_metadata_response_metadata_response_broker *b =
            &rs.brokers.v[rs.brokers.n++];
        proto_metadata_response_metadata_response_broker_init(b);
        b->node_id = bs[i].id;
        b->host = proto_str_c(ep->host);
        b->port = ep->port;
        b->rack = bs[i].rack ? proto_str_c(bs[i].rack) : PROTO_STR_NULL;
    }
    const net_endpoint *self = self_pending(brk, lname);
    if (self) {
        proto_metadata_response_metadata_response_broker *b =
            &rs.brokers.v[rs.brokers.n++];
        proto_metadata_response_metadata_response_broker_init(b);
        b->node_id = brk->node_id;
        b->host = proto_str_c(self->host);
        b->port = self->port;
        const char *rack = brk_cfg_str(brk->cfg, BRK_CFG_BROKER_RACK);
        b->rack = rack ? proto_str_c(rack) : PROTO_STR_NULL;
    }
    rs.cluster_id = proto_str_c(brk->cluster_id);
    rs.controller_id = brk_active_controller(brk);
    if (req->api_version >= 8 && req->api_version <= 10 &&
        rq.include_cluster_authorized_operations)
        rs.cluster_authorized_operations = CLUSTER_ALL_OPS;
    bool ops = req->api_version >= 8 && rq.include_topic_authorized_operations;

    bool all = rq.topics.n < 0 || (req->api_version == 0 && rq.topics.n == 0);
    if (all) {
        size_t nt;
        cl_topic **ts = cl_topics(brk->image, &nt);
        rs.topics.n = (int32_t)nt;
        rs.topics.v =
            arena_calloc(req->arena, nt ? nt : 1, sizeof *rs.topics.v);
        for (size_t i = 0; i < nt; i++) {
            proto_metadata_response_metadata_response_topic_init(
                &rs.topics.v[i]);
            fill_topic(req, ts[i], ops, &rs.topics.v[i]);
        }
    } else {
        bool allow_auto = req->api_version < 4 || rq.allow_auto_topic_creation;
        allow_auto = allow_auto &&
                     brk_cfg_bool(brk->cfg, BRK_CFG_AUTO_CREATE_TOPICS_ENABLE);
        rs.topics.n = rq.topics.n;
        rs.topics.v =
            arena_calloc(req->arena, (size_t)(rq.topics.n ? rq.topics.n : 1),
                         sizeof *rs.topics.v);
        for (int32_t i = 0; i < rq.topics.n; i++) {
            proto_metadata_request_metadata_request_topic *q = &rq.topics.v[i];
            proto_metadata_response_metadata_response_topic *rt =
                &rs.topics.v[i];
            proto_metadata_response_metadata_response_topic_init(rt);
            rt->topic_authorized_operations = INT32_MIN;
            if (q->name.len < 0) {
                /* by topic id (v10+) */
                memcpy(rt->topic_id.b, q->topic_id.b, 16);
                rt->name = PROTO_STR_NULL;
                cl_topic *t = proto_uuid_is_zero(&q->topic_id)
                                  ? NULL
                                  : cl_topic_find_id(brk->image, q->topic_id.b);
                if (!t) {
                    rt->error_code = KERR_UNKNOWN_TOPIC_ID;
                    continue;
                }
                fill_topic(req, t, ops, rt);
                continue;
            }
            rt->name = q->name;
            cl_topic *t =
                cl_topic_find(brk->image, q->name.p, (size_t)q->name.len);
            if (!t) {
                char msg[512];
                if (ctl_validate_topic_name(q->name.p, (size_t)q->name.len, msg,
                                            sizeof msg)) {
                    rt->error_code = KERR_INVALID_TOPIC_EXCEPTION;
                    continue;
                }
                if (!allow_auto) {
                    rt->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                    continue;
                }
                int16_t e = auto_create(req, q->name.p, (size_t)q->name.len);
                t = e ? NULL
                      : cl_topic_find(brk->image, q->name.p,
                                      (size_t)q->name.len);
                if (!t) {
                    rt->error_code = e ? e : KERR_UNKNOWN_TOPIC_OR_PARTITION;
                    continue;
                }
            }
            fill_topic(req, t, ops, rt);
        }
    }
    proto_metadata_response_encode(brk_resp_buf(req), req->api_version, &rs);
    return BRK_DONE;
}

/* The controllers, at their controller listener (Kafka's
 * ControllerRegistrationsPublisher.describeClusterControllers): the voters
 * of controller.quorum.voters, or this node alone when it is the quorum by
 * itself (controller.quorum.bootstrap.servers naming its own listener).
 * The controller id is the Raft leader when it is one of them, else -1. */
static void describe_controllers(brk_req *req,
                                 proto_describe_cluster_response *rs) {
    brk_broker *brk = req->brk;
    brk_voter v[16];
    int n = brk_quorum_voters(brk->cfg, v, 16);
    if (n <= 0) {
        n = 1;
        v[0].id = brk->node_id;
        snprintf(v[0].host, sizeof v[0].host, "%s",
                 brk->advertised[req->listener].host);
        v[0].port = brk->advertised[req->listener].port;
    }
    rs->brokers.v = arena_calloc(req->arena, (size_t)n, sizeof *rs->brokers.v);
    /* the Raft leader, registered as a broker or not */
    rs->controller_id = brk->node_id;
    if (brk->quorum) {
        raft_info in;
        raft_node_info(brk->quorum, &in);
        rs->controller_id = in.leader_id;
    }
    bool leader_listed = false;
    for (int i = 0; i < n; i++) {
        proto_describe_cluster_response_describe_cluster_broker *b =
            &rs->brokers.v[rs->brokers.n++];
        b->broker_id = v[i].id;
        b->host = proto_str_c(
            arena_strndup(req->arena, v[i].host, strlen(v[i].host)));
        b->port = v[i].port;
        b->rack = PROTO_STR_NULL;
        leader_listed |= v[i].id == rs->controller_id;
    }
    if (!leader_listed)
        rs->controller_id = -1;
}

brk_status brk_handle_describe_cluster(brk_req *req) {
    brk_broker *brk = req->brk;
    proto_describe_cluster_request rq;
    if (proto_describe_cluster_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_describe_cluster_response rs;
    proto_describe_cluster_response_init(&rs);
    rs.endpoint_type = rq.endpoint_type;
    rs.cluster_id = proto_str_c(brk->cluster_id);
    rs.controller_id = brk_active_controller(brk);
    if (rq.include_cluster_authorized_operations)
        rs.cluster_authorized_operations = CLUSTER_ALL_OPS;
    /* AuthHelper.computeDescribeClusterResponse: a broker listener serves
     * endpoint type 1 (BROKER), a controller listener 2 (CONTROLLER,
     * KIP-919: the tools' --bootstrap-controller) */
    bool on_ctl = brk_listener_is_controller(brk, req->listener);
    int8_t want = on_ctl ? 2 : 1;
    if (rq.endpoint_type != 1 && rq.endpoint_type != 2) {
        rs.error_code = req->api_version == 0 ? KERR_INVALID_REQUEST
                                              : KERR_UNSUPPORTED_ENDPOINT_TYPE;
        char *m = arena_alloc(req->arena, 64);
        snprintf(m, 64, "Unsupported endpoint type %d", rq.endpoint_type);
        rs.error_message = proto_str_c(m);
    } else if (rq.endpoint_type != want) {
        rs.error_code = req->api_version == 0 ? KERR_INVALID_REQUEST
                                              : KERR_MISMATCHED_ENDPOINT_TYPE;
        char *m = arena_alloc(req->arena, 128);
        snprintf(m, 128,
                 "The request was sent to an endpoint of type %s, but we "
                 "wanted an endpoint of type %s",
                 on_ctl ? "CONTROLLER" : "BROKER",
                 on_ctl ? "BROKER" : "CONTROLLER");
        rs.error_message = proto_str_c(m);
    } else if (on_ctl) {
        describe_controllers(req, &rs);
    } else {
        const char *lname = req_listener_name(req);
        size_t nb;
        const cl_broker *bs = cl_brokers(brk->image, &nb);
        rs.brokers.v = arena_calloc(req->arena, nb + 1, sizeof *rs.brokers.v);
        for (size_t i = 0; i < nb; i++) {
            if (bs[i].fenced)
                continue;
            const cl_endpoint *ep = broker_endpoint(&bs[i], lname);
            if (!ep)
                continue;
            proto_describe_cluster_response_describe_cluster_broker *b =
                &rs.brokers.v[rs.brokers.n++];
            b->broker_id = bs[i].id;
            b->host = proto_str_c(ep->host);
            b->port = ep->port;
            b->rack = bs[i].rack ? proto_str_c(bs[i].rack) : PROTO_STR_NULL;
        }
        const net_endpoint *self = self_pending(brk, lname);
        if (self) {
            proto_describe_cluster_response_describe_cluster_broker *b =
                &rs.brokers.v[rs.brokers.n++];
            b->broker_id = brk->node_id;
            b->host = proto_str_c(self->host);
            b->port = self->port;
            const char *rack = brk_cfg_str(brk->cfg, BRK_CFG_BROKER_RACK);
            b->rack = rack ? proto_str_c(rack) : PROTO_STR_NULL;
        }
    }
    proto_describe_cluster_response_encode(brk_resp_buf(req), req->api_version,
                                           &rs);
    return BRK_DONE;
}

typedef proto_describe_topic_partitions_response_describe_topic_partitions_response_topic
    dtp_topic;
typedef proto_describe_topic_partitions_response_describe_topic_partitions_response_partition
    dtp_part;

static int cmp_str(const void *a, const void *b) {
    const proto_str *x = a, *y = b;
    int32_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, (size_t)(n > 0 ? n : 0));
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* DescribeTopicPartitions: topics sorted by name, at most
 * response_partition_limit partitions, then a cursor to continue from. */
brk_status brk_handle_describe_topic_partitions(brk_req *req) {
    brk_broker *brk = req->brk;
    proto_describe_topic_partitions_request rq;
    if (proto_describe_topic_partitions_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_describe_topic_partitions_response rs;
    proto_describe_topic_partitions_response_init(&rs);
    int32_t limit = rq.response_partition_limit;
    if (limit <= 0 || limit > 2000)
        limit = 2000;
    /* the list of names to describe */
    proto_str *names;
    size_t nn;
    if (rq.topics.n > 0) {
        nn = (size_t)rq.topics.n;
        names = arena_calloc(req->arena, nn, sizeof *names);
        for (size_t i = 0; i < nn; i++)
            names[i] = rq.topics.v[i].name;
    } else {
        cl_topic **ts = cl_topics(brk->image, &nn);
        names = arena_calloc(req->arena, nn ? nn : 1, sizeof *names);
        for (size_t i = 0; i < nn; i++)
            names[i] = proto_str_c(ts[i]->name);
    }
    qsort(names, nn, sizeof *names, cmp_str);
    rs.topics.v = arena_calloc(req->arena, nn ? nn : 1, sizeof *rs.topics.v);
    int32_t budget = limit;
    size_t i = 0;
    if (rq.cursor) {
        while (i < nn && cmp_str(&names[i], &rq.cursor->topic_name) < 0)
            i++;
    }
    for (; i < nn; i++) {
        dtp_topic *rt = &rs.topics.v[rs.topics.n];
        proto_describe_topic_partitions_response_describe_topic_partitions_response_topic_init(
            rt);
        rt->name = names[i];
        cl_topic *t = names[i].len >= 0 ? cl_topic_find(brk->image, names[i].p,
                                                        (size_t)names[i].len)
                                        : NULL;
        if (!t) {
            rt->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            rs.topics.n++;
            continue;
        }
        int32_t first = 0;
        if (rq.cursor && cmp_str(&names[i], &rq.cursor->topic_name) == 0)
            first =
                rq.cursor->partition_index > 0 ? rq.cursor->partition_index : 0;
        if (budget <= 0) {
            rs.next_cursor =
                arena_calloc(req->arena, 1, sizeof *rs.next_cursor);
            rs.next_cursor->topic_name = names[i];
            rs.next_cursor->partition_index = first;
            break;
        }
        memcpy(rt->topic_id.b, t->id, 16);
        rt->is_internal = t->internal;
        rt->topic_authorized_operations = TOPIC_ALL_OPS;
        int32_t n = t->n_partitions - first;
        if (n < 0)
            n = 0;
        if (n > budget)
            n = budget;
        rt->partitions.n = n;
        rt->partitions.v = arena_calloc(req->arena, (size_t)(n ? n : 1),
                                        sizeof *rt->partitions.v);
        for (int32_t k = 0; k < n; k++) {
            dtp_part *rp = &rt->partitions.v[k];
            proto_describe_topic_partitions_response_describe_topic_partitions_response_partition_init(
                rp);
            cl_partition *p = t->parts[first + k];
            rp->partition_index = first + k;
            if (!p) {
                rp->error_code = KERR_LEADER_NOT_AVAILABLE;
                rp->leader_id = -1;
                continue;
            }
            rp->leader_id = brk_partition_pending(p) ? -1 : p->leader;
            rp->leader_epoch = p->leader_epoch;
            rp->replica_nodes.n = p->n_replicas;
            rp->replica_nodes.v = p->replicas;
            rp->isr_nodes.n = p->n_isr;
            rp->isr_nodes.v = p->isr;
            rp->eligible_leader_replicas.n = 0;
            rp->last_known_elr.n = 0;
            rp->offline_replicas.n = 0;
            if (local_log_failed(brk, p) && p->n_replicas == 1) {
                /* Its log dir failed: what a single Kafka 4.3.1 node shows
                 * (no leader, ISR emptied, the replica eligible (ELR) and
                 * offline). */
                int32_t *self = arena_calloc(req->arena, 1, sizeof *self);
                *self = brk->node_id;
                rp->leader_id = -1;
                rp->isr_nodes.n = 0;
                rp->eligible_leader_replicas.n = 1;
                rp->eligible_leader_replicas.v = self;
                rp->last_known_elr.n = 1;
                rp->last_known_elr.v = self;
                rp->offline_replicas.n = 1;
                rp->offline_replicas.v = self;
            }
        }
        rs.topics.n++;
        budget -= n;
        if (first + n < t->n_partitions) {
            rs.next_cursor =
                arena_calloc(req->arena, 1, sizeof *rs.next_cursor);
            rs.next_cursor->topic_name = names[i];
            rs.next_cursor->partition_index = first + n;
            break;
        }
    }
    proto_describe_topic_partitions_response_encode(brk_resp_buf(req),
                                                    req->api_version, &rs);
    return BRK_DONE;
}
