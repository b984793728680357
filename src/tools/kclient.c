/*
 * kclient.c - blocking single-socket Kafka client for the CLI tools. See
 * kclient.h. Each API builds a generated request struct and goes through
 * kc_rpc (encode, kc_call, decode into an arena, reject trailing bytes); the
 * results are then copied to the heap structs of kclient.h.
 */
#include "tools/kclient.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/util.h"
#include "proto/gen/messages.h"

#define KC_MAX_RESPONSE (64u << 20) /* bound on what we accept from a peer */

static const char *const api_names[] = {
    [0] = "Produce",
    [1] = "Fetch",
    [2] = "ListOffsets",
    [3] = "Metadata",
    [4] = "LeaderAndIsr",
    [5] = "StopReplica",
    [6] = "UpdateMetadata",
    [7] = "ControlledShutdown",
    [8] = "OffsetCommit",
    [9] = "OffsetFetch",
    [10] = "FindCoordinator",
    [11] = "JoinGroup",
    [12] = "Heartbeat",
    [13] = "LeaveGroup",
    [14] = "SyncGroup",
    [15] = "DescribeGroups",
    [16] = "ListGroups",
    [17] = "SaslHandshake",
    [18] = "ApiVersions",
    [19] = "CreateTopics",
    [20] = "DeleteTopics",
    [21] = "DeleteRecords",
    [22] = "InitProducerId",
    [23] = "OffsetForLeaderEpoch",
    [24] = "AddPartitionsToTxn",
    [25] = "AddOffsetsToTxn",
    [26] = "EndTxn",
    [27] = "WriteTxnMarkers",
    [28] = "TxnOffsetCommit",
    [29] = "DescribeAcls",
    [30] = "CreateAcls",
    [31] = "DeleteAcls",
    [32] = "DescribeConfigs",
    [33] = "AlterConfigs",
    [34] = "AlterReplicaLogDirs",
    [35] = "DescribeLogDirs",
    [36] = "SaslAuthenticate",
    [37] = "CreatePartitions",
    [38] = "CreateDelegationToken",
    [39] = "RenewDelegationToken",
    [40] = "ExpireDelegationToken",
    [41] = "DescribeDelegationToken",
    [42] = "DeleteGroups",
    [43] = "ElectLeaders",
    [44] = "IncrementalAlterConfigs",
    [45] = "AlterPartitionReassignments",
    [46] = "ListPartitionReassignments",
    [47] = "OffsetDelete",
    [48] = "DescribeClientQuotas",
    [49] = "AlterClientQuotas",
    [50] = "DescribeUserScramCredentials",
    [51] = "AlterUserScramCredentials",
    [52] = "Vote",
    [53] = "BeginQuorumEpoch",
    [54] = "EndQuorumEpoch",
    [55] = "DescribeQuorum",
    [56] = "AlterPartition",
    [57] = "UpdateFeatures",
    [58] = "Envelope",
    [59] = "FetchSnapshot",
    [60] = "DescribeCluster",
    [61] = "DescribeProducers",
    [62] = "BrokerRegistration",
    [63] = "BrokerHeartbeat",
    [64] = "UnregisterBroker",
    [65] = "DescribeTransactions",
    [66] = "ListTransactions",
    [67] = "AllocateProducerIds",
    [68] = "ConsumerGroupHeartbeat",
    [69] = "ConsumerGroupDescribe",
    [70] = "ControllerRegistration",
    [71] = "GetTelemetrySubscriptions",
    [72] = "PushTelemetry",
    [73] = "AssignReplicasToDirs",
    [74] = "ListConfigResources",
    [75] = "DescribeTopicPartitions",
    [76] = "ShareGroupHeartbeat",
    [77] = "ShareGroupDescribe",
    [78] = "ShareFetch",
    [79] = "ShareAcknowledge",
    [80] = "AddRaftVoter",
    [81] = "RemoveRaftVoter",
    [82] = "UpdateRaftVoter",
    [83] = "InitializeShareGroupState",
    [84] = "ReadShareGroupState",
    [85] = "WriteShareGroupState",
    [86] = "DeleteShareGroupState",
    [87] = "ReadShareGroupStateSummary",
    [88] = "StreamsGroupHeartbeat",
    [89] = "StreamsGroupDescribe",
    [90] = "DescribeShareGroupOffsets",
    [91] = "AlterShareGroupOffsets",
    [92] = "DeleteShareGroupOffsets",
};

const char *kc_api_name(int key) {
    if (key < 0 || key >= (int)SL_ARRAY_LEN(api_names))
        return NULL;
    return api_names[key];
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- framing -------------------------------------------------------- */

/* Skips a tagged-field section (the response header v1's). */
static void skip_tags(rd *r) {
    uint32_t n = rd_uvarint32(r);
    for (uint32_t i = 0; i < n && !r->err; i++) {
        rd_uvarint32(r);
        rd_skip(r, rd_uvarint32(r));
    }
}

/* ---- generated codecs ------------------------------------------------
 * Requests are encoded and responses decoded with proto/gen (the broker's
 * own codecs); the decoded response and the bytes its strings point at
 * live in the caller's arena. */

static bool kc_rpc(kc_conn *c, int16_t key, int16_t ver, const void *req,
                   arena *a, void **resp) {
    const proto_api_info *api = proto_api(key);
    *resp = NULL;
    if (!api || ver < api->min_version || ver > api->max_version)
        return false;
    buf body, raw;
    buf_init(&body, 128);
    buf_init(&raw, 512);
    api->req_encode(&body, ver, req);
    bool ok =
        kc_call(c, key, ver, proto_msg_flexible(api->req, ver), &body, &raw);
    if (ok) {
        uint8_t *copy = arena_memdup(a, raw.data, raw.len ? raw.len : 1);
        rd r;
        rd_init(&r, copy, raw.len);
        void *out = arena_calloc(a, 1, api->resp_size);
        ok = api->resp_decode(&r, a, ver, out) == PROTO_OK && rd_left(&r) == 0;
        if (ok)
            *resp = out;
    }
    buf_free(&body);
    buf_free(&raw);
    return ok;
}

/* Heap copy of a decoded string; NULL for null. */
static char *str_dup(proto_str s) {
    return s.len < 0 ? NULL : xstrndup(s.p ? s.p : "", (size_t)s.len);
}
static char *str_dup_empty(proto_str s) {
    return s.len < 0 ? xstrdup("") : str_dup(s);
}

/* Heap copy of a decoded int32 array (one spare slot); returns the count,
 * -1 for null (then *out is NULL). */
static int i32s_dup(int32_t n, const int32_t *v, int32_t **out) {
    *out = NULL;
    if (n < 0)
        return -1;
    *out = xcalloc((size_t)n + 1, sizeof(int32_t));
    if (n)
        memcpy(*out, v, (size_t)n * sizeof(int32_t));
    return (int)n;
}

/* ---- socket --------------------------------------------------------- */

static bool io_all(kc_conn *c, void *p, size_t n, bool wr, int64_t deadline) {
    uint8_t *b = p;
    while (n) {
        int left = (int)(deadline - mono_ms());
        if (left <= 0)
            return false;
        struct pollfd pfd = {c->fd, wr ? POLLOUT : POLLIN, 0};
        int pr = poll(&pfd, 1, left);
        if (pr <= 0) {
            if (pr < 0 && errno == EINTR)
                continue;
            return false;
        }
        ssize_t k = wr ? send(c->fd, b, n, MSG_NOSIGNAL) : recv(c->fd, b, n, 0);
        if (k <= 0) {
            if (k < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            return false;
        }
        b += k;
        n -= (size_t)k;
    }
    return true;
}

bool kc_call(kc_conn *c, int16_t key, int16_t ver, bool flexible,
             const buf *body, buf *resp) {
    buf req;
    buf_init(&req, 64 + body->len);
    buf_put_be32(&req, 0);
    buf_put_be16(&req, (uint16_t)key);
    buf_put_be16(&req, (uint16_t)ver);
    int32_t corr = ++c->corr;
    buf_put_be32(&req, (uint32_t)corr);
    buf_put_be16(&req, 6);
    buf_put(&req, "sluice", 6);
    if (flexible)
        buf_put_uvarint(&req, 0);
    buf_put(&req, body->data, body->len);
    sl_store_be32(req.data, (uint32_t)(req.len - 4));
    int64_t deadline = mono_ms() + c->timeout_ms;
    bool ok = io_all(c, req.data, req.len, true, deadline);
    buf_free(&req);
    uint8_t hdr[4];
    if (!ok || !io_all(c, hdr, 4, false, deadline))
        return false;
    uint32_t n = sl_load_be32(hdr);
    if (n < 4 || n > KC_MAX_RESPONSE)
        return false;
    buf_reset(resp);
    uint8_t *p = buf_extend(resp, n);
    if (!io_all(c, p, n, false, deadline))
        return false;
    rd r;
    rd_init(&r, resp->data, resp->len);
    if ((int32_t)rd_be32(&r) != corr)
        return false;
    /* ApiVersions always answers with header v0. */
    if (flexible && key != 18)
        skip_tags(&r);
    if (r.err)
        return false;
    size_t hl = (size_t)(r.p - resp->data);
    memmove(resp->data, resp->data + hl, resp->len - hl);
    resp->len -= hl;
    return true;
}

static bool api_versions(kc_conn *c) {
    for (int i = 0; i < 128; i++)
        c->api_max[i] = c->api_min[i] = -1;
    arena a;
    arena_init(&a, 4096);
    proto_api_versions_request req;
    proto_api_versions_request_init(&req);
    proto_api_versions_response *resp;
    bool ok = kc_rpc(c, PROTO_API_API_VERSIONS, 0, &req, &a, (void **)&resp);
    if (ok) {
        for (int32_t i = 0; i < resp->api_keys.n; i++) {
            const proto_api_versions_response_api_version *k =
                &resp->api_keys.v[i];
            if (k->api_key >= 0 && k->api_key < 128) {
                c->api_min[k->api_key] = k->min_version;
                c->api_max[k->api_key] = k->max_version;
            }
        }
        ok = resp->error_code == 0;
    }
    arena_free(&a);
    return ok;
}

bool kc_connect_node(kc_conn *c, const char *host, int port, int timeout_ms,
                     char *err, size_t errsz) {
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->timeout_ms = timeout_ms;
    snprintf(c->host, sizeof(c->host), "%s", host);
    c->port = port;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int gr = getaddrinfo(host, ps, &hints, &ai);
    if (gr) {
        snprintf(err, errsz, "cannot resolve %s: %s", host, gai_strerror(gr));
        return false;
    }
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            c->fd = fd;
            break;
        }
        snprintf(err, errsz, "connection to %s:%d failed: %s", host, port,
                 strerror(errno));
        close(fd);
    }
    freeaddrinfo(ai);
    if (c->fd < 0)
        return false;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (!api_versions(c)) {
        snprintf(err, errsz, "no ApiVersions answer from %s:%d", host, port);
        kc_close(c);
        return false;
    }
    return true;
}

bool kc_connect(kc_conn *c, const char *bootstrap, int timeout_ms, char *err,
                size_t errsz) {
    int64_t deadline = mono_ms() + timeout_ms;
    snprintf(err, errsz, "no bootstrap server given");
    for (;;) {
        char *list = xstrdup(bootstrap), *save = NULL;
        for (char *tok = strtok_r(list, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ')
                tok++;
            char *colon = strrchr(tok, ':');
            int port = 9092;
            if (colon) {
                *colon = 0;
                port = atoi(colon + 1);
            }
            const char *h = tok;
            if (*h == '[') { /* [v6addr]:port */
                h++;
                char *rb = strchr(tok, ']');
                if (rb)
                    *rb = 0;
            }
            int left = (int)(deadline - mono_ms());
            if (kc_connect_node(c, h, port, left > 1000 ? left : 1000, err,
                                errsz)) {
                free(list);
                c->timeout_ms = timeout_ms;
                return true;
            }
        }
        free(list);
        if (mono_ms() + 500 >= deadline)
            return false;
        usleep(500 * 1000);
    }
}

bool kc_connect_controller(kc_conn *c, const char *bootstrap, int timeout_ms,
                           char *err, size_t errsz) {
    if (!kc_connect(c, bootstrap, timeout_ms, err, errsz))
        return false;
    if (c->api_max[PROTO_API_DESCRIBE_CLUSTER] < 1)
        return true; /* no KIP-919: stay on the bootstrap controller */
    arena a;
    arena_init(&a, 4096);
    proto_describe_cluster_request req;
    proto_describe_cluster_request_init(&req);
    req.endpoint_type = 2; /* CONTROLLER */
    proto_describe_cluster_response *resp;
    char host[256] = "";
    int port = 0;
    char cid[sizeof c->cluster_id] = "";
    if (kc_rpc(c, PROTO_API_DESCRIBE_CLUSTER, 1, &req, &a, (void **)&resp) &&
        !resp->error_code) {
        if (resp->cluster_id.len > 0)
            snprintf(cid, sizeof cid, "%.*s", (int)resp->cluster_id.len,
                     resp->cluster_id.p);
        for (int32_t i = 0; i < resp->brokers.n; i++) {
            const proto_describe_cluster_response_describe_cluster_broker *b =
                &resp->brokers.v[i];
            if (b->broker_id == resp->controller_id && b->host.len > 0) {
                snprintf(host, sizeof host, "%.*s", (int)b->host.len,
                         b->host.p);
                port = b->port;
            }
        }
    }
    arena_free(&a);
    memcpy(c->cluster_id, cid, sizeof cid);
    if (!host[0] || (!strcmp(host, c->host) && port == c->port))
        return true;
    kc_conn active = {.fd = -1};
    if (!kc_connect_node(&active, host, port, timeout_ms, err, errsz))
        return true; /* the bootstrap controller answers what it can */
    active.timeout_ms = timeout_ms;
    memcpy(active.cluster_id, cid, sizeof cid);
    kc_close(c);
    *c = active;
    return true;
}

void kc_close(kc_conn *c) {
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* ---- Metadata / DescribeTopicPartitions ----------------------------- */

static void free_part(kc_partition *p) {
    free(p->replicas);
    free(p->isr);
    free(p->elr);
    free(p->last_elr);
    free(p->offline);
}

void kc_metadata_free(kc_metadata *md) {
    for (int i = 0; i < md->nbrokers; i++) {
        free(md->brokers[i].host);
        free(md->brokers[i].rack);
    }
    free(md->brokers);
    for (int i = 0; i < md->ntopics; i++) {
        free(md->topics[i].name);
        for (int j = 0; j < md->topics[i].nparts; j++)
            free_part(&md->topics[i].parts[j]);
        free(md->topics[i].parts);
    }
    free(md->topics);
    free(md->cluster_id);
    memset(md, 0, sizeof(*md));
}

static bool metadata_v12(kc_conn *c, const char *const *topics, int ntopics,
                         kc_metadata *md) {
    arena a;
    arena_init(&a, 16384);
    proto_metadata_request req;
    proto_metadata_request_init(&req);
    if (ntopics < 0) {
        req.topics.n = -1; /* null: all topics */
        req.topics.v = NULL;
    } else {
        req.topics.n = ntopics;
        req.topics.v =
            arena_calloc(&a, (size_t)ntopics + 1, sizeof(*req.topics.v));
        for (int i = 0; i < ntopics; i++) {
            proto_metadata_request_metadata_request_topic_init(
                &req.topics.v[i]);
            req.topics.v[i].name = proto_str_c(topics[i]);
        }
    }
    req.allow_auto_topic_creation = false;
    req.include_topic_authorized_operations = false;
    proto_metadata_response *resp;
    bool ok = kc_rpc(c, PROTO_API_METADATA, 12, &req, &a, (void **)&resp);
    if (!ok) {
        arena_free(&a);
        return false;
    }
    md->brokers = xcalloc((size_t)resp->brokers.n + 1, sizeof(kc_broker));
    for (int32_t i = 0; i < resp->brokers.n; i++) {
        const proto_metadata_response_metadata_response_broker *rb =
            &resp->brokers.v[i];
        kc_broker *b = &md->brokers[md->nbrokers++];
        b->id = rb->node_id;
        b->host = str_dup(rb->host);
        b->port = rb->port;
        b->rack = str_dup(rb->rack);
    }
    md->cluster_id = str_dup(resp->cluster_id);
    md->controller = resp->controller_id;
    md->topics = xcalloc((size_t)resp->topics.n + 1, sizeof(kc_topic));
    for (int32_t i = 0; i < resp->topics.n; i++) {
        const proto_metadata_response_metadata_response_topic *rt =
            &resp->topics.v[i];
        kc_topic *t = &md->topics[md->ntopics++];
        t->error = rt->error_code;
        t->name = str_dup_empty(rt->name);
        memcpy(t->id, rt->topic_id.b, 16);
        t->internal = rt->is_internal;
        t->parts = xcalloc((size_t)rt->partitions.n + 1, sizeof(kc_partition));
        for (int32_t j = 0; j < rt->partitions.n; j++) {
            const proto_metadata_response_metadata_response_partition *rp =
                &rt->partitions.v[j];
            kc_partition *p = &t->parts[t->nparts++];
            p->error = rp->error_code;
            p->id = rp->partition_index;
            p->leader = rp->leader_id;
            p->leader_epoch = rp->leader_epoch;
            p->nreplicas = i32s_dup(rp->replica_nodes.n, rp->replica_nodes.v,
                                    &p->replicas);
            p->nisr = i32s_dup(rp->isr_nodes.n, rp->isr_nodes.v, &p->isr);
            p->noffline = i32s_dup(rp->offline_replicas.n,
                                   rp->offline_replicas.v, &p->offline);
            p->nelr = p->nlast_elr = -1;
        }
    }
    arena_free(&a);
    return true;
}

/* Replaces each topic's partitions with DescribeTopicPartitions' answer
 * (which carries ELR). Pages with the cursor until done. */
static bool describe_topic_partitions(kc_conn *c, kc_metadata *md) {
    for (int ti = 0; ti < md->ntopics; ti++) {
        kc_topic *t = &md->topics[ti];
        if (t->error)
            continue;
        kc_partition *parts = NULL;
        int nparts = 0;
        int32_t cursor = -1;
        for (;;) {
            arena a;
            arena_init(&a, 16384);
            proto_describe_topic_partitions_request_topic_request tr;
            proto_describe_topic_partitions_request_topic_request_init(&tr);
            tr.name = proto_str_c(t->name);
            proto_describe_topic_partitions_request_cursor cur;
            proto_describe_topic_partitions_request_cursor_init(&cur);
            cur.topic_name = proto_str_c(t->name);
            cur.partition_index = cursor;
            proto_describe_topic_partitions_request req;
            proto_describe_topic_partitions_request_init(&req);
            req.topics.n = 1;
            req.topics.v = &tr;
            req.response_partition_limit = 2000;
            req.cursor = cursor < 0 ? NULL : &cur;
            proto_describe_topic_partitions_response *resp;
            bool ok = kc_rpc(c, PROTO_API_DESCRIBE_TOPIC_PARTITIONS, 0, &req,
                             &a, (void **)&resp);
            if (!ok) {
                arena_free(&a);
                for (int j = 0; j < nparts; j++)
                    free_part(&parts[j]);
                free(parts);
                return false;
            }
            for (int32_t i = 0; i < resp->topics.n; i++) {
                const proto_describe_topic_partitions_response_describe_topic_partitions_response_topic
                    *rt = &resp->topics.v[i];
                parts = xrealloc(
                    parts, ((size_t)nparts + (size_t)rt->partitions.n + 1) *
                               sizeof(kc_partition));
                for (int32_t j = 0; j < rt->partitions.n; j++) {
                    const proto_describe_topic_partitions_response_describe_topic_partitions_response_partition
                        *rp = &rt->partitions.v[j];
                    kc_partition *p = &parts[nparts++];
                    memset(p, 0, sizeof(*p));
                    p->error = rp->error_code;
                    p->id = rp->partition_index;
                    p->leader = rp->leader_id;
                    p->leader_epoch = rp->leader_epoch;
                    p->nreplicas = i32s_dup(rp->replica_nodes.n,
                                            rp->replica_nodes.v, &p->replicas);
                    p->nisr =
                        i32s_dup(rp->isr_nodes.n, rp->isr_nodes.v, &p->isr);
                    p->nelr = i32s_dup(rp->eligible_leader_replicas.n,
                                       rp->eligible_leader_replicas.v, &p->elr);
                    p->nlast_elr = i32s_dup(rp->last_known_elr.n,
                                            rp->last_known_elr.v, &p->last_elr);
                    p->noffline = i32s_dup(rp->offline_replicas.n,
                                           rp->offline_replicas.v, &p->offline);
                }
                if (rt->error_code)
                    t->error = rt->error_code;
            }
            cursor =
                resp->next_cursor ? resp->next_cursor->partition_index : -1;
            arena_free(&a);
            if (cursor < 0)
                break;
        }
        for (int j = 0; j < t->nparts; j++)
            free_part(&t->parts[j]);
        free(t->parts);
        t->parts = parts;
        t->nparts = nparts;
    }
    md->has_elr = true;
    return true;
}

bool kc_metadata_get(kc_conn *c, const char *const *topics, int ntopics,
                     bool want_elr, kc_metadata *md) {
    memset(md, 0, sizeof(*md));
    if (c->api_max[3] < 12) {
        /* Older brokers: the tools need topic ids (v10+); v12 is what
         * every Kafka since 3.1 and Sluice speak. */
        if (c->api_max[3] < 0)
            return false;
    }
    if (!metadata_v12(c, topics, ntopics, md)) {
        kc_metadata_free(md);
        return false;
    }
    if (want_elr && c->api_max[75] >= 0 && !describe_topic_partitions(c, md)) {
        kc_metadata_free(md);
        return false;
    }
    return true;
}

/* ---- ListOffsets ---------------------------------------------------- */

bool kc_list_offset(kc_conn *c, const char *topic, int32_t part, int64_t ts,
                    int64_t *offset, int16_t *error) {
    /* v7 added the max-timestamp spec, v8 earliest-local, v9
     * latest-tiered; the request layout is the same from v7 to v9. */
    int16_t mx = c->api_max[PROTO_API_LIST_OFFSETS];
    int16_t ver = mx >= 7 ? (mx < 9 ? mx : 9) : -1;
    if (ver < 0) {
        *error = 35; /* UNSUPPORTED_VERSION */
        return true;
    }
    arena a;
    arena_init(&a, 1024);
    proto_list_offsets_request_list_offsets_partition lp;
    proto_list_offsets_request_list_offsets_partition_init(&lp);
    lp.partition_index = part;
    lp.current_leader_epoch = -1;
    lp.timestamp = ts;
    proto_list_offsets_request_list_offsets_topic lt;
    proto_list_offsets_request_list_offsets_topic_init(&lt);
    lt.name = proto_str_c(topic);
    lt.partitions.n = 1;
    lt.partitions.v = &lp;
    proto_list_offsets_request req;
    proto_list_offsets_request_init(&req);
    req.replica_id = -1;
    req.isolation_level = 0; /* read_uncommitted */
    req.topics.n = 1;
    req.topics.v = &lt;
    proto_list_offsets_response *resp;
    bool ok = kc_rpc(c, PROTO_API_LIST_OFFSETS, ver, &req, &a, (void **)&resp);
    if (ok) {
        *error = 3; /* UNKNOWN_TOPIC_OR_PARTITION unless found */
        *offset = -1;
        for (int32_t i = 0; i < resp->topics.n; i++)
            for (int32_t j = 0; j < resp->topics.v[i].partitions.n; j++) {
                const proto_list_offsets_response_list_offsets_partition_response
                    *pr = &resp->topics.v[i].partitions.v[j];
                if (pr->partition_index == part) {
                    *error = pr->error_code;
                    *offset = pr->offset;
                }
            }
    }
    arena_free(&a);
    return ok;
}

/* ---- configs -------------------------------------------------------- */

const char *kc_config_source_name(int8_t s) {
    switch (s) {
    case 1:
        return "DYNAMIC_TOPIC_CONFIG";
    case 2:
        return "DYNAMIC_BROKER_CONFIG";
    case 3:
        return "DYNAMIC_DEFAULT_BROKER_CONFIG";
    case 4:
        return "STATIC_BROKER_CONFIG";
    case 5:
        return "DEFAULT_CONFIG";
    case 6:
        return "DYNAMIC_BROKER_LOGGER_CONFIG";
    case 7:
        return "DYNAMIC_CLIENT_METRICS_CONFIG";
    case 8:
        return "DYNAMIC_GROUP_CONFIG";
    default:
        return "UNKNOWN";
    }
}

void kc_config_result_free(kc_config_result *r) {
    for (int i = 0; i < r->ncfg; i++) {
        free(r->cfg[i].name);
        free(r->cfg[i].value);
        for (int j = 0; j < r->cfg[i].nsyn; j++) {
            free(r->cfg[i].syn[j].name);
            free(r->cfg[i].syn[j].value);
        }
        free(r->cfg[i].syn);
    }
    free(r->cfg);
    free(r->error_message);
    memset(r, 0, sizeof(*r));
}

bool kc_describe_configs(kc_conn *c, int8_t type, const char *name,
                         kc_config_result *out) {
    memset(out, 0, sizeof(*out));
    int16_t ver = c->api_max[PROTO_API_DESCRIBE_CONFIGS] >= 4 ? 4 : -1;
    if (ver < 0) {
        out->error = 35;
        return true;
    }
    arena a;
    arena_init(&a, 16384);
    proto_describe_configs_request_describe_configs_resource res;
    proto_describe_configs_request_describe_configs_resource_init(&res);
    res.resource_type = type;
    res.resource_name = proto_str_c(name);
    res.configuration_keys.n = -1; /* null: every config */
    res.configuration_keys.v = NULL;
    proto_describe_configs_request req;
    proto_describe_configs_request_init(&req);
    req.resources.n = 1;
    req.resources.v = &res;
    req.include_synonyms = true;
    req.include_documentation = false;
    proto_describe_configs_response *resp;
    bool ok =
        kc_rpc(c, PROTO_API_DESCRIBE_CONFIGS, ver, &req, &a, (void **)&resp);
    if (ok && resp->results.n > 0) {
        const proto_describe_configs_response_describe_configs_result *rr =
            &resp->results.v[0];
        out->error = rr->error_code;
        out->error_message = str_dup(rr->error_message);
        out->cfg = xcalloc((size_t)rr->configs.n + 1, sizeof(kc_config));
        for (int32_t j = 0; j < rr->configs.n; j++) {
            const proto_describe_configs_response_describe_configs_resource_result
                *rc = &rr->configs.v[j];
            kc_config *e = &out->cfg[out->ncfg++];
            e->name = str_dup_empty(rc->name);
            e->value = str_dup(rc->value);
            e->read_only = rc->read_only;
            e->source = rc->config_source;
            e->sensitive = rc->is_sensitive;
            e->syn = xcalloc((size_t)rc->synonyms.n + 1, sizeof(kc_synonym));
            for (int32_t k = 0; k < rc->synonyms.n; k++) {
                const proto_describe_configs_response_describe_configs_synonym
                    *sy = &rc->synonyms.v[k];
                kc_synonym *ks = &e->syn[e->nsyn++];
                ks->name = str_dup_empty(sy->name);
                ks->value = str_dup(sy->value);
                ks->source = sy->source;
            }
        }
    }
    arena_free(&a);
    return ok;
}

bool kc_incremental_alter(kc_conn *c, int8_t type, const char *name,
                          const kc_alter_op *ops, int nops, int16_t *error,
                          char **errmsg) {
    *error = 0;
    *errmsg = NULL;
    if (c->api_max[PROTO_API_INCREMENTAL_ALTER_CONFIGS] < 1) {
        *error = 35;
        return true;
    }
    arena a;
    arena_init(&a, 4096);
    proto_incremental_alter_configs_request_alterable_config *cf =
        arena_calloc(&a, (size_t)nops + 1, sizeof(*cf));
    for (int i = 0; i < nops; i++) {
        proto_incremental_alter_configs_request_alterable_config_init(&cf[i]);
        cf[i].name = proto_str_c(ops[i].name);
        cf[i].config_operation = ops[i].op;
        cf[i].value = proto_str_c(ops[i].value); /* NULL: null */
    }
    proto_incremental_alter_configs_request_alter_configs_resource res;
    proto_incremental_alter_configs_request_alter_configs_resource_init(&res);
    res.resource_type = type;
    res.resource_name = proto_str_c(name);
    res.configs.n = nops;
    res.configs.v = cf;
    proto_incremental_alter_configs_request req;
    proto_incremental_alter_configs_request_init(&req);
    req.resources.n = 1;
    req.resources.v = &res;
    req.validate_only = false;
    proto_incremental_alter_configs_response *resp;
    bool ok = kc_rpc(c, PROTO_API_INCREMENTAL_ALTER_CONFIGS, 1, &req, &a,
                     (void **)&resp);
    if (ok && resp->responses.n > 0) {
        *error = resp->responses.v[0].error_code;
        *errmsg = str_dup(resp->responses.v[0].error_message);
    }
    arena_free(&a);
    return ok;
}

/* ---- partition reassignment / log dirs ---------------------------------- */

void kc_reassign_free(kc_reassign *v, int n) {
    for (int i = 0; i < n; i++) {
        free(v[i].topic);
        free(v[i].replicas);
        free(v[i].adding);
        free(v[i].removing);
        free(v[i].error_message);
        for (int k = 0; v[i].log_dirs && k < v[i].nreplicas; k++)
            free(v[i].log_dirs[k]);
        free(v[i].log_dirs);
    }
    free(v);
}

/* Groups entries by topic, in first-seen order, for the request arrays. */
static int topic_groups(const kc_reassign *v, int n, int *first) {
    int ng = 0;
    for (int i = 0; i < n; i++) {
        bool seen = false;
        for (int g = 0; g < ng; g++)
            seen |= !strcmp(v[first[g]].topic, v[i].topic);
        if (!seen)
            first[ng++] = i;
    }
    return ng;
}

bool kc_alter_reassignments(kc_conn *c, kc_reassign *v, int n, int16_t *top,
                            char **top_msg) {
    *top = 0;
    *top_msg = NULL;
    if (c->api_max[PROTO_API_ALTER_PARTITION_REASSIGNMENTS] < 0) {
        *top = 35;
        return true;
    }
    arena a;
    arena_init(&a, 4096);
    proto_alter_partition_reassignments_request req;
    proto_alter_partition_reassignments_request_init(&req);
    req.timeout_ms = c->timeout_ms;
    int *first = xcalloc((size_t)n + 1, sizeof(int));
    int ng = topic_groups(v, n, first);
    req.topics.n = ng;
    req.topics.v = arena_calloc(&a, (size_t)ng + 1, sizeof(*req.topics.v));
    for (int g = 0; g < ng; g++) {
        proto_alter_partition_reassignments_request_reassignable_topic *rt =
            &req.topics.v[g];
        proto_alter_partition_reassignments_request_reassignable_topic_init(rt);
        const char *t = v[first[g]].topic;
        rt->name = proto_str_c(t);
        rt->partitions.v =
            arena_calloc(&a, (size_t)n + 1, sizeof(*rt->partitions.v));
        rt->partitions.n = 0;
        for (int i = 0; i < n; i++) {
            if (strcmp(v[i].topic, t))
                continue;
            proto_alter_partition_reassignments_request_reassignable_partition
                *rp = &rt->partitions.v[rt->partitions.n++];
            proto_alter_partition_reassignments_request_reassignable_partition_init(
                rp);
            rp->partition_index = v[i].part;
            rp->replicas.n = v[i].replicas ? v[i].nreplicas : -1; /* cancel */
            rp->replicas.v = v[i].replicas;
        }
    }
    free(first);
    proto_alter_partition_reassignments_response *resp;
    bool ok = kc_rpc(c, PROTO_API_ALTER_PARTITION_REASSIGNMENTS, 0, &req, &a,
                     (void **)&resp);
    if (ok) {
        *top = resp->error_code;
        *top_msg = str_dup(resp->error_message);
        for (int32_t i = 0; i < resp->responses.n; i++) {
            const proto_alter_partition_reassignments_response_reassignable_topic_response
                *tr = &resp->responses.v[i];
            for (int32_t j = 0; j < tr->partitions.n; j++) {
                const proto_alter_partition_reassignments_response_reassignable_partition_response
                    *pr = &tr->partitions.v[j];
                for (int k = 0; k < n; k++)
                    if (v[k].part == pr->partition_index &&
                        proto_str_eq(tr->name, v[k].topic)) {
                        v[k].error = pr->error_code;
                        free(v[k].error_message);
                        v[k].error_message = str_dup(pr->error_message);
                        break;
                    }
            }
        }
    }
    arena_free(&a);
    return ok;
}

bool kc_list_reassignments(kc_conn *c, const kc_reassign *filter, int n,
                           kc_reassign **out, int *nout, int16_t *top) {
    *out = NULL;
    *nout = 0;
    *top = 0;
    if (c->api_max[PROTO_API_LIST_PARTITION_REASSIGNMENTS] < 0) {
        *top = 35;
        return true;
    }
    arena a;
    arena_init(&a, 4096);
    proto_list_partition_reassignments_request req;
    proto_list_partition_reassignments_request_init(&req);
    req.timeout_ms = c->timeout_ms;
    if (n < 0) {
        req.topics.n = -1; /* null: every ongoing reassignment */
        req.topics.v = NULL;
    } else {
        int *first = xcalloc((size_t)n + 1, sizeof(int));
        int ng = topic_groups(filter, n, first);
        req.topics.n = ng;
        req.topics.v = arena_calloc(&a, (size_t)ng + 1, sizeof(*req.topics.v));
        for (int g = 0; g < ng; g++) {
            proto_list_partition_reassignments_request_list_partition_reassignments_topics
                *lt = &req.topics.v[g];
            proto_list_partition_reassignments_request_list_partition_reassignments_topics_init(
                lt);
            const char *t = filter[first[g]].topic;
            lt->name = proto_str_c(t);
            lt->partition_indexes.v =
                arena_calloc(&a, (size_t)n + 1, sizeof(int32_t));
            lt->partition_indexes.n = 0;
            for (int i = 0; i < n; i++)
                if (!strcmp(filter[i].topic, t))
                    lt->partition_indexes.v[lt->partition_indexes.n++] =
                        filter[i].part;
        }
        free(first);
    }
    proto_list_partition_reassignments_response *resp;
    bool ok = kc_rpc(c, PROTO_API_LIST_PARTITION_REASSIGNMENTS, 0, &req, &a,
                     (void **)&resp);
    if (ok) {
        *top = resp->error_code;
        for (int32_t i = 0; i < resp->topics.n; i++) {
            const proto_list_partition_reassignments_response_ongoing_topic_reassignment
                *tr = &resp->topics.v[i];
            int32_t np = tr->partitions.n;
            *out = xrealloc(*out, ((size_t)*nout + (size_t)np + 1) *
                                      sizeof(kc_reassign));
            for (int32_t j = 0; j < np; j++) {
                const proto_list_partition_reassignments_response_ongoing_partition_reassignment
                    *pr = &tr->partitions.v[j];
                kc_reassign *e = &(*out)[(*nout)++];
                memset(e, 0, sizeof(*e));
                e->topic = str_dup_empty(tr->name);
                e->part = pr->partition_index;
                e->nreplicas =
                    i32s_dup(pr->replicas.n, pr->replicas.v, &e->replicas);
                e->nadding = i32s_dup(pr->adding_replicas.n,
                                      pr->adding_replicas.v, &e->adding);
                e->nremoving = i32s_dup(pr->removing_replicas.n,
                                        pr->removing_replicas.v, &e->removing);
            }
        }
    }
    arena_free(&a);
    return ok;
}

void kc_logdir_free(kc_logdir_entry *v, int n) {
    for (int i = 0; i < n; i++) {
        free(v[i].dir);
        free(v[i].topic);
    }
    free(v);
}

bool kc_describe_log_dirs(kc_conn *c, kc_logdir_entry **out, int *nout) {
    *out = NULL;
    *nout = 0;
    int16_t mx = c->api_max[PROTO_API_DESCRIBE_LOG_DIRS];
    int16_t ver = mx < 4 ? mx : 4;
    if (ver < 2)
        return false;
    arena a;
    arena_init(&a, 16384);
    proto_describe_log_dirs_request req;
    proto_describe_log_dirs_request_init(&req);
    req.topics.n = -1; /* null: every topic */
    req.topics.v = NULL;
    proto_describe_log_dirs_response *resp;
    bool ok =
        kc_rpc(c, PROTO_API_DESCRIBE_LOG_DIRS, ver, &req, &a, (void **)&resp);
    for (int32_t i = 0; ok && i < resp->results.n; i++) {
        const proto_describe_log_dirs_response_describe_log_dirs_result *dr =
            &resp->results.v[i];
        for (int32_t t = 0; t < dr->topics.n; t++) {
            const proto_describe_log_dirs_response_describe_log_dirs_topic *dt =
                &dr->topics.v[t];
            int32_t np = dt->partitions.n;
            *out = xrealloc(*out, ((size_t)*nout + (size_t)np + 1) *
                                      sizeof(kc_logdir_entry));
            for (int32_t p = 0; p < np; p++) {
                const proto_describe_log_dirs_response_describe_log_dirs_partition
                    *dp = &dt->partitions.v[p];
                kc_logdir_entry *e = &(*out)[(*nout)++];
                e->dir = str_dup_empty(dr->log_dir);
                e->topic = str_dup_empty(dt->name);
                e->part = dp->partition_index;
                e->size = dr->error_code ? -1 : dp->partition_size;
                e->offset_lag = dp->offset_lag;
                e->is_future = dp->is_future_key;
            }
        }
    }
    arena_free(&a);
    return ok;
}

bool kc_alter_replica_log_dir(kc_conn *c, const char *dir, const char *topic,
                              int32_t part, int16_t *err) {
    *err = 0;
    if (c->api_max[PROTO_API_ALTER_REPLICA_LOG_DIRS] < 2)
        return false;
    arena a;
    arena_init(&a, 1024);
    proto_alter_replica_log_dirs_request req;
    proto_alter_replica_log_dirs_request_init(&req);
    proto_alter_replica_log_dirs_request_alter_replica_log_dir d;
    proto_alter_replica_log_dirs_request_alter_replica_log_dir_init(&d);
    proto_alter_replica_log_dirs_request_alter_replica_log_dir_topic t;
    proto_alter_replica_log_dirs_request_alter_replica_log_dir_topic_init(&t);
    t.name = proto_str_c(topic);
    t.partitions.n = 1;
    t.partitions.v = &part;
    d.path = proto_str_c(dir);
    d.topics.n = 1;
    d.topics.v = &t;
    req.dirs.n = 1;
    req.dirs.v = &d;
    proto_alter_replica_log_dirs_response *resp;
    bool ok = kc_rpc(c, PROTO_API_ALTER_REPLICA_LOG_DIRS, 2, &req, &a,
                     (void **)&resp);
    for (int32_t i = 0; ok && i < resp->results.n; i++)
        for (int32_t k = 0; k < resp->results.v[i].partitions.n; k++)
            *err = resp->results.v[i].partitions.v[k].error_code;
    arena_free(&a);
    return ok;
}

/* ---- features, transactions, leader election, quorum -------------------- */

void kc_features_free(kc_feature *v, int n) {
    for (int i = 0; i < n; i++)
        free(v[i].name);
    free(v);
}

bool kc_features(kc_conn *c, kc_feature **out, int *n, int64_t *epoch) {
    *out = NULL;
    *n = 0;
    *epoch = -1;
    if (c->api_max[PROTO_API_API_VERSIONS] < 3)
        return false;
    arena a;
    arena_init(&a, 4096);
    proto_api_versions_request req;
    proto_api_versions_request_init(&req);
    req.client_software_name = proto_str_c("sluice");
    req.client_software_version = proto_str_c("0.1.0");
    /* v4 also reports features whose minimum version is 0 (KAFKA-17011). */
    int16_t ver = c->api_max[PROTO_API_API_VERSIONS] >= 4 ? 4 : 3;
    proto_api_versions_response *resp;
    bool ok = kc_rpc(c, PROTO_API_API_VERSIONS, ver, &req, &a, (void **)&resp);
    if (ok) {
        int32_t nf = resp->supported_features.n;
        *out = xcalloc((size_t)nf + 1, sizeof(kc_feature));
        for (int32_t i = 0; i < nf; i++) {
            const proto_api_versions_response_supported_feature_key *sf =
                &resp->supported_features.v[i];
            kc_feature *e = &(*out)[(*n)++];
            e->name = str_dup_empty(sf->name);
            e->min = sf->min_version;
            e->max = sf->max_version;
            e->finalized = -1;
        }
        *epoch = resp->finalized_features_epoch;
        for (int32_t i = 0; i < resp->finalized_features.n; i++) {
            const proto_api_versions_response_finalized_feature_key *ff =
                &resp->finalized_features.v[i];
            for (int k = 0; k < *n; k++)
                if (proto_str_eq(ff->name, (*out)[k].name))
                    (*out)[k].finalized = ff->max_version_level;
        }
    }
    arena_free(&a);
    return ok;
}

void kc_txn_free(kc_txn *v, int n) {
    for (int i = 0; i < n; i++) {
        free(v[i].id);
        free(v[i].state);
    }
    free(v);
}

bool kc_list_transactions(kc_conn *c, kc_txn **out, int *n, int16_t *err) {
    *out = NULL;
    *n = 0;
    *err = 0;
    if (c->api_max[PROTO_API_LIST_TRANSACTIONS] < 0) {
        *err = 35;
        return true;
    }
    arena a;
    arena_init(&a, 4096);
    proto_list_transactions_request req;
    proto_list_transactions_request_init(&req);
    proto_list_transactions_response *resp;
    bool ok =
        kc_rpc(c, PROTO_API_LIST_TRANSACTIONS, 0, &req, &a, (void **)&resp);
    if (ok) {
        *err = resp->error_code;
        int32_t nt = resp->transaction_states.n;
        *out = xcalloc((size_t)nt + 1, sizeof(kc_txn));
        for (int32_t i = 0; i < nt; i++) {
            const proto_list_transactions_response_transaction_state *ts =
                &resp->transaction_states.v[i];
            kc_txn *t = &(*out)[(*n)++];
            t->id = str_dup_empty(ts->transactional_id);
            t->producer_id = ts->producer_id;
            t->state = str_dup_empty(ts->transaction_state);
        }
    }
    arena_free(&a);
    return ok;
}

bool kc_elect_leaders(kc_conn *c, int8_t type, const kc_reassign *req, int nreq,
                      kc_reassign **out, int *nout, int16_t *top) {
    *out = NULL;
    *nout = 0;
    *top = 0;
    if (c->api_max[PROTO_API_ELECT_LEADERS] < 2) {
        *top = 35;
        return true;
    }
    arena a;
    arena_init(&a, 4096);
    proto_elect_leaders_request r;
    proto_elect_leaders_request_init(&r);
    r.election_type = type;
    if (nreq < 0) {
        r.topic_partitions.n = -1; /* null: every partition */
        r.topic_partitions.v = NULL;
    } else {
        int *first = xcalloc((size_t)nreq + 1, sizeof(int));
        int ng = topic_groups(req, nreq, first);
        r.topic_partitions.n = ng;
        r.topic_partitions.v =
            arena_calloc(&a, (size_t)ng + 1, sizeof(*r.topic_partitions.v));
        for (int g = 0; g < ng; g++) {
            proto_elect_leaders_request_topic_partitions *tp =
                &r.topic_partitions.v[g];
            proto_elect_leaders_request_topic_partitions_init(tp);
            const char *t = req[first[g]].topic;
            tp->topic = proto_str_c(t);
            tp->partitions.v =
                arena_calloc(&a, (size_t)nreq + 1, sizeof(int32_t));
            tp->partitions.n = 0;
            for (int i = 0; i < nreq; i++)
                if (!strcmp(req[i].topic, t))
                    tp->partitions.v[tp->partitions.n++] = req[i].part;
        }
        free(first);
    }
    r.timeout_ms = c->timeout_ms;
    proto_elect_leaders_response *resp;
    bool ok = kc_rpc(c, PROTO_API_ELECT_LEADERS, 2, &r, &a, (void **)&resp);
    if (ok) {
        *top = resp->error_code;
        for (int32_t i = 0; i < resp->replica_election_results.n; i++) {
            const proto_elect_leaders_response_replica_election_result *er =
                &resp->replica_election_results.v[i];
            int32_t np = er->partition_result.n;
            *out = xrealloc(*out, ((size_t)*nout + (size_t)np + 1) *
                                      sizeof(kc_reassign));
            for (int32_t j = 0; j < np; j++) {
                const proto_elect_leaders_response_partition_result *pr =
                    &er->partition_result.v[j];
                kc_reassign *e = &(*out)[(*nout)++];
                memset(e, 0, sizeof(*e));
                e->topic = str_dup_empty(er->topic);
                e->part = pr->partition_id;
                e->error = pr->error_code;
                e->error_message = str_dup(pr->error_message);
            }
        }
    }
    arena_free(&a);
    return ok;
}

void kc_quorum_free(kc_quorum *q) {
    free(q->voters);
    free(q->observers);
    for (int i = 0; i < q->nnodes; i++) {
        free(q->nodes[i].listener);
        free(q->nodes[i].host);
    }
    free(q->nodes);
    memset(q, 0, sizeof(*q));
}

static int copy_replicas(int32_t n,
                         const proto_describe_quorum_response_replica_state *v,
                         kc_replica_state **out) {
    *out = xcalloc((size_t)n + 1, sizeof(kc_replica_state));
    for (int32_t i = 0; i < n; i++) {
        kc_replica_state *s = &(*out)[i];
        s->id = v[i].replica_id;
        memcpy(s->dir, v[i].replica_directory_id.b, 16);
        s->leo = v[i].log_end_offset;
        s->last_fetch = v[i].last_fetch_timestamp;
        s->last_caught_up = v[i].last_caught_up_timestamp;
    }
    return (int)n;
}

bool kc_describe_quorum(kc_conn *c, kc_quorum *q) {
    memset(q, 0, sizeof(*q));
    int16_t mx = c->api_max[PROTO_API_DESCRIBE_QUORUM];
    int16_t ver = mx < 2 ? mx : 2;
    if (ver < 0) {
        q->error = 35;
        return true;
    }
    arena a;
    arena_init(&a, 4096);
    int32_t part = 0;
    proto_describe_quorum_request_partition_data pd;
    proto_describe_quorum_request_partition_data_init(&pd);
    pd.partition_index = part;
    proto_describe_quorum_request_topic_data td;
    proto_describe_quorum_request_topic_data_init(&td);
    td.topic_name = proto_str_c("__cluster_metadata");
    td.partitions.n = 1;
    td.partitions.v = &pd;
    proto_describe_quorum_request req;
    proto_describe_quorum_request_init(&req);
    req.topics.n = 1;
    req.topics.v = &td;
    proto_describe_quorum_response *resp;
    bool ok =
        kc_rpc(c, PROTO_API_DESCRIBE_QUORUM, ver, &req, &a, (void **)&resp);
    if (ok) {
        q->error = resp->error_code;
        for (int32_t i = 0; i < resp->topics.n; i++)
            for (int32_t j = 0; j < resp->topics.v[i].partitions.n; j++) {
                const proto_describe_quorum_response_partition_data *p =
                    &resp->topics.v[i].partitions.v[j];
                if (p->error_code && !q->error)
                    q->error = p->error_code;
                q->leader = p->leader_id;
                q->epoch = p->leader_epoch;
                q->hw = p->high_watermark;
                free(q->voters);
                free(q->observers);
                q->nvoters = copy_replicas(p->current_voters.n,
                                           p->current_voters.v, &q->voters);
                q->nobservers = copy_replicas(p->observers.n, p->observers.v,
                                              &q->observers);
            }
        for (int32_t i = 0; i < resp->nodes.n; i++) {
            const proto_describe_quorum_response_node *nd = &resp->nodes.v[i];
            for (int32_t l = 0; l < nd->listeners.n; l++) {
                q->nodes = xrealloc(q->nodes, (size_t)(q->nnodes + 1) *
                                                  sizeof(*q->nodes));
                q->nodes[q->nnodes].id = nd->node_id;
                q->nodes[q->nnodes].listener = str_dup(nd->listeners.v[l].name);
                q->nodes[q->nnodes].host = str_dup(nd->listeners.v[l].host);
                q->nodes[q->nnodes].port = nd->listeners.v[l].port;
                q->nnodes++;
            }
        }
    }
    arena_free(&a);
    return ok;
}

/* ---- transaction details --------------------------------------------------
 */

bool kc_find_coordinator(kc_conn *c, int8_t key_type, const char *key,
                         int32_t *node, char **host, int32_t *port,
                         int16_t *error) {
    *node = -1;
    *host = NULL;
    *port = -1;
    *error = 0;
    int16_t mx = c->api_max[PROTO_API_FIND_COORDINATOR];
    int16_t ver = mx >= 4 ? 4 : mx >= 3 ? 3 : -1;
    if (ver < 0) {
        *error = 35;
        return true;
    }
    arena a;
    arena_init(&a, 1024);
    proto_find_coordinator_request req;
    proto_find_coordinator_request_init(&req);
    req.key_type = key_type;
    proto_str k = proto_str_c(key);
    if (ver == 3) {
        req.key = k;
    } else {
        req.coordinator_keys.n = 1;
        req.coordinator_keys.v = &k;
    }
    proto_find_coordinator_response *resp;
    bool ok =
        kc_rpc(c, PROTO_API_FIND_COORDINATOR, ver, &req, &a, (void **)&resp);
    if (ok && ver == 3) {
        *error = resp->error_code;
        *node = resp->node_id;
        *host = str_dup(resp->host);
        *port = resp->port;
    } else if (ok && resp->coordinators.n > 0) {
        const proto_find_coordinator_response_coordinator *co =
            &resp->coordinators.v[0];
        *node = co->node_id;
        *host = str_dup(co->host);
        *port = co->port;
        *error = co->error_code;
    }
    arena_free(&a);
    return ok;
}

void kc_txn_desc_free(kc_txn_desc *d) {
    free(d->state);
    free(d->partitions);
    memset(d, 0, sizeof(*d));
}

bool kc_describe_transaction(kc_conn *c, const char *id, kc_txn_desc *out) {
    memset(out, 0, sizeof(*out));
    if (c->api_max[PROTO_API_DESCRIBE_TRANSACTIONS] < 0) {
        out->error = 35;
        return true;
    }
    arena a;
    arena_init(&a, 4096);
    proto_describe_transactions_request req;
    proto_describe_transactions_request_init(&req);
    proto_str ids = proto_str_c(id);
    req.transactional_ids.n = 1;
    req.transactional_ids.v = &ids;
    proto_describe_transactions_response *resp;
    bool ok =
        kc_rpc(c, PROTO_API_DESCRIBE_TRANSACTIONS, 0, &req, &a, (void **)&resp);
    if (ok && resp->transaction_states.n > 0) {
        const proto_describe_transactions_response_transaction_state *ts =
            &resp->transaction_states.v[0];
        buf parts;
        buf_init(&parts, 64);
        for (int32_t t = 0; t < ts->topics.n; t++) {
            const proto_describe_transactions_response_topic_data *td =
                &ts->topics.v[t];
            for (int32_t k = 0; k < td->partitions.n; k++)
                buf_printf(&parts, "%s%.*s-%d", parts.len ? "," : "",
                           td->topic.len > 0 ? (int)td->topic.len : 0,
                           td->topic.len > 0 ? td->topic.p : "",
                           td->partitions.v[k]);
        }
        buf_put_u8(&parts, 0);
        out->error = ts->error_code;
        out->state = str_dup_empty(ts->transaction_state);
        out->timeout_ms = ts->transaction_timeout_ms;
        out->start_ms = ts->transaction_start_time_ms;
        out->producer_id = ts->producer_id;
        out->producer_epoch = ts->producer_epoch;
        out->partitions = (char *)parts.data;
    }
    arena_free(&a);
    return ok;
}

bool kc_describe_producers(kc_conn *c, const char *topic, int32_t part,
                           kc_producer_state **out, int *n, int16_t *error) {
    *out = NULL;
    *n = 0;
    *error = 0;
    if (c->api_max[PROTO_API_DESCRIBE_PRODUCERS] < 0) {
        *error = 35;
        return true;
    }
    arena a;
    arena_init(&a, 4096);
    proto_describe_producers_request req;
    proto_describe_producers_request_init(&req);
    proto_describe_producers_request_topic_request tr;
    proto_describe_producers_request_topic_request_init(&tr);
    tr.name = proto_str_c(topic);
    tr.partition_indexes.n = 1;
    tr.partition_indexes.v = &part;
    req.topics.n = 1;
    req.topics.v = &tr;
    proto_describe_producers_response *resp;
    bool ok =
        kc_rpc(c, PROTO_API_DESCRIBE_PRODUCERS, 0, &req, &a, (void **)&resp);
    for (int32_t t = 0; ok && t < resp->topics.n; t++) {
        const proto_describe_producers_response_topic_response *to =
            &resp->topics.v[t];
        for (int32_t p = 0; p < to->partitions.n; p++) {
            const proto_describe_producers_response_partition_response *pr =
                &to->partitions.v[p];
            *error = pr->error_code;
            int32_t na = pr->active_producers.n;
            *out = xrealloc(*out, ((size_t)*n + (size_t)na + 1) *
                                      sizeof(kc_producer_state));
            for (int32_t i = 0; i < na; i++) {
                const proto_describe_producers_response_producer_state *ps =
                    &pr->active_producers.v[i];
                kc_producer_state *s = &(*out)[(*n)++];
                s->producer_id = ps->producer_id;
                s->producer_epoch = ps->producer_epoch;
                s->last_sequence = ps->last_sequence;
                s->last_timestamp = ps->last_timestamp;
                s->coordinator_epoch = ps->coordinator_epoch;
                s->txn_start_offset = ps->current_txn_start_offset;
            }
        }
    }
    arena_free(&a);
    return ok;
}

/* ---- client quotas ---------------------------------------------------------
 */

void kc_quota_entries_free(kc_quota_entry *v, int n) {
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < v[i].ncomp; k++) {
            free(v[i].types[k]);
            free(v[i].names[k]);
        }
        for (int k = 0; k < v[i].nvalues; k++)
            free(v[i].keys[k]);
        free(v[i].keys);
        free(v[i].values);
    }
    free(v);
}

bool kc_describe_quotas(kc_conn *c, const char *type, int match,
                        const char *name, kc_quota_entry **out, int *n,
                        int16_t *err, char **errmsg) {
    *out = NULL;
    *n = 0;
    *err = 0;
    *errmsg = NULL;
    if (c->api_max[PROTO_API_DESCRIBE_CLIENT_QUOTAS] < 1) {
        *err = 35;
        return true;
    }
    arena a;
    arena_init(&a, 4096);
    proto_describe_client_quotas_request_component_data comp;
    proto_describe_client_quotas_request_component_data_init(&comp);
    comp.entity_type = proto_str_c(type);
    comp.match_type = (int8_t)match;
    comp.match = match == 0 && name ? proto_str_c(name) : PROTO_STR_NULL;
    proto_describe_client_quotas_request req;
    proto_describe_client_quotas_request_init(&req);
    req.components.n = 1;
    req.components.v = &comp;
    req.strict = false;
    proto_describe_client_quotas_response *resp;
    bool ok = kc_rpc(c, PROTO_API_DESCRIBE_CLIENT_QUOTAS, 1, &req, &a,
                     (void **)&resp);
    if (ok) {
        *err = resp->error_code;
        *errmsg = str_dup(resp->error_message);
        int32_t ne = resp->entries.n > 0 ? resp->entries.n : 0;
        *out = xcalloc((size_t)ne + 1, sizeof(kc_quota_entry));
        for (int32_t i = 0; i < ne; i++) {
            const proto_describe_client_quotas_response_entry_data *ed =
                &resp->entries.v[i];
            kc_quota_entry *e = &(*out)[(*n)++];
            for (int32_t k = 0; k < ed->entity.n && e->ncomp < 2; k++) {
                e->types[e->ncomp] = str_dup_empty(ed->entity.v[k].entity_type);
                e->names[e->ncomp++] = str_dup(ed->entity.v[k].entity_name);
            }
            e->keys = xcalloc((size_t)ed->values.n + 1, sizeof(char *));
            e->values = xcalloc((size_t)ed->values.n + 1, sizeof(double));
            for (int32_t k = 0; k < ed->values.n; k++) {
                e->keys[e->nvalues] = str_dup_empty(ed->values.v[k].key);
                e->values[e->nvalues++] = ed->values.v[k].value;
            }
        }
    }
    arena_free(&a);
    return ok;
}

bool kc_alter_quotas(kc_conn *c, const char *type, const char *name,
                     const char *const *keys, const double *values,
                     const bool *remove, int nops, int16_t *err,
                     char **errmsg) {
    *err = 0;
    *errmsg = NULL;
    if (c->api_max[PROTO_API_ALTER_CLIENT_QUOTAS] < 1) {
        *err = 35;
        return true;
    }
    arena a;
    arena_init(&a, 4096);
    proto_alter_client_quotas_request_op_data *ops =
        arena_calloc(&a, (size_t)nops + 1, sizeof(*ops));
    for (int i = 0; i < nops; i++) {
        proto_alter_client_quotas_request_op_data_init(&ops[i]);
        ops[i].key = proto_str_c(keys[i]);
        ops[i].value = values[i];
        ops[i].remove = remove[i];
    }
    proto_alter_client_quotas_request_entity_data ent;
    proto_alter_client_quotas_request_entity_data_init(&ent);
    ent.entity_type = proto_str_c(type);
    ent.entity_name = proto_str_c(name); /* NULL: the default entity */
    proto_alter_client_quotas_request_entry_data entry;
    proto_alter_client_quotas_request_entry_data_init(&entry);
    entry.entity.n = 1;
    entry.entity.v = &ent;
    entry.ops.n = nops;
    entry.ops.v = ops;
    proto_alter_client_quotas_request req;
    proto_alter_client_quotas_request_init(&req);
    req.entries.n = 1;
    req.entries.v = &entry;
    req.validate_only = false;
    proto_alter_client_quotas_response *resp;
    bool ok =
        kc_rpc(c, PROTO_API_ALTER_CLIENT_QUOTAS, 1, &req, &a, (void **)&resp);
    if (ok && resp->entries.n > 0) {
        *err = resp->entries.v[0].error_code;
        *errmsg = str_dup(resp->entries.v[0].error_message);
    }
    arena_free(&a);
    return ok;
}

/* ---- WriteTxnMarkers -------------------------------------------------------
 */

bool kc_write_txn_marker(kc_conn *c, const char *topic, int32_t part,
                         int64_t producer_id, int16_t producer_epoch,
                         int32_t coordinator_epoch, bool commit,
                         int16_t *error) {
    *error = 0;
    if (c->api_max[PROTO_API_WRITE_TXN_MARKERS] < 1) {
        *error = 35; /* UNSUPPORTED_VERSION */
        return true;
    }
    arena a;
    arena_init(&a, 1024);
    proto_write_txn_markers_request_writable_txn_marker_topic mt;
    proto_write_txn_markers_request_writable_txn_marker_topic_init(&mt);
    mt.name = proto_str_c(topic);
    mt.partition_indexes.n = 1;
    mt.partition_indexes.v = &part;
    proto_write_txn_markers_request_writable_txn_marker m;
    proto_write_txn_markers_request_writable_txn_marker_init(&m);
    m.producer_id = producer_id;
    m.producer_epoch = producer_epoch;
    m.transaction_result = commit;
    m.topics.n = 1;
    m.topics.v = &mt;
    m.coordinator_epoch = coordinator_epoch;
    proto_write_txn_markers_request req;
    proto_write_txn_markers_request_init(&req);
    req.markers.n = 1;
    req.markers.v = &m;
    proto_write_txn_markers_response *resp;
    bool ok =
        kc_rpc(c, PROTO_API_WRITE_TXN_MARKERS, 1, &req, &a, (void **)&resp);
    int found = 0;
    for (int32_t i = 0; ok && i < resp->markers.n; i++) {
        const proto_write_txn_markers_response_writable_txn_marker_result *mr =
            &resp->markers.v[i];
        for (int32_t t = 0; t < mr->topics.n; t++) {
            const proto_write_txn_markers_response_writable_txn_marker_topic_result
                *tr = &mr->topics.v[t];
            for (int32_t p = 0; p < tr->partitions.n; p++) {
                if (mr->producer_id == producer_id &&
                    proto_str_eq(tr->name, topic) &&
                    tr->partitions.v[p].partition_index == part) {
                    *error = tr->partitions.v[p].error_code;
                    found++;
                }
            }
        }
    }
    arena_free(&a);
    return ok && found == 1;
}

/* ---- AddRaftVoter / RemoveRaftVoter ------------------------------------
 */

/* AddRaftVoter and RemoveRaftVoter responses share their layout. */
static bool voter_call(kc_conn *c, int16_t key, const void *req, int16_t *error,
                       char **msg) {
    *error = 0;
    *msg = NULL;
    if (c->api_max[key] < 0) {
        *error = 35; /* UNSUPPORTED_VERSION */
        return true;
    }
    arena a;
    arena_init(&a, 1024);
    proto_add_raft_voter_response *ar;
    proto_remove_raft_voter_response *rr;
    bool ok;
    if (key == PROTO_API_ADD_RAFT_VOTER) {
        ok = kc_rpc(c, key, 0, req, &a, (void **)&ar);
        if (ok) {
            *error = ar->error_code;
            *msg = str_dup(ar->error_message);
        }
    } else {
        ok = kc_rpc(c, key, 0, req, &a, (void **)&rr);
        if (ok) {
            *error = rr->error_code;
            *msg = str_dup(rr->error_message);
        }
    }
    arena_free(&a);
    return ok;
}

bool kc_add_raft_voter(kc_conn *c, int32_t id, const uint8_t dir[16],
                       const kc_endpoint *eps, int neps, int16_t *error,
                       char **msg) {
    proto_add_raft_voter_request req;
    proto_add_raft_voter_request_init(&req);
    req.cluster_id = PROTO_STR_NULL;
    req.timeout_ms = c->timeout_ms;
    req.voter_id = id;
    memcpy(req.voter_directory_id.b, dir, 16);
    proto_add_raft_voter_request_listener *ls =
        xcalloc((size_t)neps + 1, sizeof(*ls));
    for (int i = 0; i < neps; i++) {
        proto_add_raft_voter_request_listener_init(&ls[i]);
        ls[i].name = proto_str_c(eps[i].listener);
        ls[i].host = proto_str_c(eps[i].host);
        ls[i].port = (uint16_t)eps[i].port;
    }
    req.listeners.n = neps;
    req.listeners.v = ls;
    bool ok = voter_call(c, PROTO_API_ADD_RAFT_VOTER, &req, error, msg);
    free(ls);
    return ok;
}

bool kc_remove_raft_voter(kc_conn *c, int32_t id, const uint8_t dir[16],
                          int16_t *error, char **msg) {
    proto_remove_raft_voter_request req;
    proto_remove_raft_voter_request_init(&req);
    req.cluster_id = PROTO_STR_NULL;
    req.voter_id = id;
    memcpy(req.voter_directory_id.b, dir, 16);
    return voter_call(c, PROTO_API_REMOVE_RAFT_VOTER, &req, error, msg);
}

/* ---- SCRAM credentials -----------------------------------------------------
 */

void kc_scram_users_free(kc_scram_user *v, int n) {
    for (int i = 0; i < n; i++) {
        free(v[i].user);
        free(v[i].error_message);
    }
    free(v);
}

bool kc_describe_scram(kc_conn *c, const char *const *users, int nusers,
                       kc_scram_user **out, int *nout, int16_t *top,
                       char **top_msg) {
    *out = NULL;
    *nout = 0;
    *top = 0;
    *top_msg = NULL;
    if (c->api_max[PROTO_API_DESCRIBE_USER_SCRAM_CREDENTIALS] < 0) {
        *top = 35;
        return true;
    }
    arena a;
    arena_init(&a, 4096);
    proto_describe_user_scram_credentials_request req;
    proto_describe_user_scram_credentials_request_init(&req);
    if (nusers <= 0) {
        req.users.n = -1; /* null: every user */
        req.users.v = NULL;
    } else {
        req.users.n = nusers;
        req.users.v = arena_calloc(&a, (size_t)nusers, sizeof(*req.users.v));
        for (int i = 0; i < nusers; i++) {
            proto_describe_user_scram_credentials_request_user_name_init(
                &req.users.v[i]);
            req.users.v[i].name = proto_str_c(users[i]);
        }
    }
    proto_describe_user_scram_credentials_response *resp;
    bool ok = kc_rpc(c, PROTO_API_DESCRIBE_USER_SCRAM_CREDENTIALS, 0, &req, &a,
                     (void **)&resp);
    if (ok) {
        *top = resp->error_code;
        *top_msg = str_dup(resp->error_message);
        *out = xcalloc((size_t)resp->results.n + 1, sizeof(kc_scram_user));
        for (int32_t i = 0; i < resp->results.n; i++) {
            const proto_describe_user_scram_credentials_response_describe_user_scram_credentials_result
                *r = &resp->results.v[i];
            kc_scram_user *u = &(*out)[(*nout)++];
            u->user = str_dup_empty(r->user);
            u->error = r->error_code;
            u->error_message = str_dup(r->error_message);
            for (int32_t k = 0; k < r->credential_infos.n && u->n < 4; k++) {
                u->mechanisms[u->n] = r->credential_infos.v[k].mechanism;
                u->iterations[u->n++] = r->credential_infos.v[k].iterations;
            }
        }
    }
    arena_free(&a);
    return ok;
}

bool kc_alter_scram(kc_conn *c, const char *user, const kc_scram_op *ops,
                    int nops, int16_t *error, char **msg) {
    *error = 0;
    *msg = NULL;
    if (c->api_max[PROTO_API_ALTER_USER_SCRAM_CREDENTIALS] < 0) {
        *error = 35;
        return true;
    }
    arena a;
    arena_init(&a, 4096);
    proto_alter_user_scram_credentials_request req;
    proto_alter_user_scram_credentials_request_init(&req);
    req.deletions.v =
        arena_calloc(&a, (size_t)nops + 1, sizeof(*req.deletions.v));
    req.upsertions.v =
        arena_calloc(&a, (size_t)nops + 1, sizeof(*req.upsertions.v));
    req.deletions.n = req.upsertions.n = 0;
    for (int i = 0; i < nops; i++) {
        if (ops[i].remove) {
            proto_alter_user_scram_credentials_request_scram_credential_deletion
                *d = &req.deletions.v[req.deletions.n++];
            proto_alter_user_scram_credentials_request_scram_credential_deletion_init(
                d);
            d->name = proto_str_c(user);
            d->mechanism = ops[i].mechanism;
        } else {
            proto_alter_user_scram_credentials_request_scram_credential_upsertion
                *u = &req.upsertions.v[req.upsertions.n++];
            proto_alter_user_scram_credentials_request_scram_credential_upsertion_init(
                u);
            u->name = proto_str_c(user);
            u->mechanism = ops[i].mechanism;
            u->iterations = ops[i].iterations;
            u->salt = (proto_bytes){ops[i].salt, (int32_t)ops[i].salt_len};
            u->salted_password =
                (proto_bytes){ops[i].salted, (int32_t)ops[i].salted_len};
        }
    }
    proto_alter_user_scram_credentials_response *resp;
    bool ok = kc_rpc(c, PROTO_API_ALTER_USER_SCRAM_CREDENTIALS, 0, &req, &a,
                     (void **)&resp);
    for (int32_t i = 0; ok && i < resp->results.n; i++) {
        if (resp->results.v[i].error_code && !*error) {
            *error = resp->results.v[i].error_code;
            *msg = str_dup(resp->results.v[i].error_message);
        }
    }
    arena_free(&a);
    return ok;
}

/* ---- ACLs ------------------------------------------------------------------
 */

static int16_t acl_version(kc_conn *c, int key) {
    return c->api_max[key] >= 3 ? 3 : 2;
}

void kc_acls_free(kc_acl *v, int n) {
    for (int i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].principal);
        free(v[i].host);
    }
    free(v);
}

bool kc_describe_acls(kc_conn *c, const kc_acl *f, kc_acl **out, int *nout,
                      int16_t *err, char **msg) {
    *out = NULL;
    *nout = 0;
    *err = 0;
    *msg = NULL;
    if (c->api_max[PROTO_API_DESCRIBE_ACLS] < 2) {
        *err = 35;
        return true;
    }
    arena a;
    arena_init(&a, 4096);
    proto_describe_acls_request req;
    proto_describe_acls_request_init(&req);
    req.resource_type_filter = f->rt;
    req.resource_name_filter = proto_str_c(f->name);
    req.pattern_type_filter = f->pt;
    req.principal_filter = proto_str_c(f->principal);
    req.host_filter = proto_str_c(f->host);
    req.operation = f->op;
    req.permission_type = f->perm;
    proto_describe_acls_response *resp;
    bool ok = kc_rpc(c, PROTO_API_DESCRIBE_ACLS,
                     acl_version(c, PROTO_API_DESCRIBE_ACLS), &req, &a,
                     (void **)&resp);
    if (ok) {
        *err = resp->error_code;
        *msg = str_dup(resp->error_message);
        int cap = 0;
        for (int32_t i = 0; i < resp->resources.n; i++) {
            const proto_describe_acls_response_describe_acls_resource *res =
                &resp->resources.v[i];
            for (int32_t k = 0; k < res->acls.n; k++) {
                const proto_describe_acls_response_acl_description *d =
                    &res->acls.v[k];
                if (*nout == cap) {
                    cap = cap ? cap * 2 : 16;
                    *out = xrealloc(*out, (size_t)cap * sizeof(kc_acl));
                }
                kc_acl *o = &(*out)[(*nout)++];
                o->rt = res->resource_type;
                o->pt = res->pattern_type;
                o->name = str_dup_empty(res->resource_name);
                o->principal = str_dup_empty(d->principal);
                o->host = str_dup_empty(d->host);
                o->op = d->operation;
                o->perm = d->permission_type;
            }
        }
    }
    arena_free(&a);
    return ok;
}

bool kc_create_acls(kc_conn *c, const kc_acl *v, int n, int16_t *err,
                    char **msg) {
    *err = 0;
    *msg = NULL;
    if (c->api_max[PROTO_API_CREATE_ACLS] < 2) {
        *err = 35;
        return true;
    }
    arena a;
    arena_init(&a, 4096);
    proto_create_acls_request req;
    proto_create_acls_request_init(&req);
    req.creations.n = n;
    req.creations.v = arena_calloc(&a, (size_t)n + 1, sizeof(*req.creations.v));
    for (int i = 0; i < n; i++) {
        proto_create_acls_request_acl_creation *cr = &req.creations.v[i];
        proto_create_acls_request_acl_creation_init(cr);
        cr->resource_type = v[i].rt;
        cr->resource_name = proto_str_c(v[i].name ? v[i].name : "");
        cr->resource_pattern_type = v[i].pt;
        cr->principal = proto_str_c(v[i].principal ? v[i].principal : "");
        cr->host = proto_str_c(v[i].host ? v[i].host : "");
        cr->operation = v[i].op;
        cr->permission_type = v[i].perm;
    }
    proto_create_acls_response *resp;
    bool ok =
        kc_rpc(c, PROTO_API_CREATE_ACLS, acl_version(c, PROTO_API_CREATE_ACLS),
               &req, &a, (void **)&resp);
    for (int32_t i = 0; ok && i < resp->results.n; i++) {
        if (resp->results.v[i].error_code && !*err) {
            *err = resp->results.v[i].error_code;
            *msg = str_dup(resp->results.v[i].error_message);
        }
    }
    arena_free(&a);
    return ok;
}

bool kc_delete_acls(kc_conn *c, const kc_acl *f, int n, int16_t *err,
                    char **msg) {
    *err = 0;
    *msg = NULL;
    if (c->api_max[PROTO_API_DELETE_ACLS] < 2) {
        *err = 35;
        return true;
    }
    arena a;
    arena_init(&a, 4096);
    proto_delete_acls_request req;
    proto_delete_acls_request_init(&req);
    req.filters.n = n;
    req.filters.v = arena_calloc(&a, (size_t)n + 1, sizeof(*req.filters.v));
    for (int i = 0; i < n; i++) {
        proto_delete_acls_request_delete_acls_filter *df = &req.filters.v[i];
        proto_delete_acls_request_delete_acls_filter_init(df);
        df->resource_type_filter = f[i].rt;
        df->resource_name_filter = proto_str_c(f[i].name);
        df->pattern_type_filter = f[i].pt;
        df->principal_filter = proto_str_c(f[i].principal);
        df->host_filter = proto_str_c(f[i].host);
        df->operation = f[i].op;
        df->permission_type = f[i].perm;
    }
    proto_delete_acls_response *resp;
    bool ok =
        kc_rpc(c, PROTO_API_DELETE_ACLS, acl_version(c, PROTO_API_DELETE_ACLS),
               &req, &a, (void **)&resp);
    for (int32_t i = 0; ok && i < resp->filter_results.n; i++) {
        if (resp->filter_results.v[i].error_code && !*err) {
            *err = resp->filter_results.v[i].error_code;
            *msg = str_dup(resp->filter_results.v[i].error_message);
        }
    }
    arena_free(&a);
    return ok;
}
