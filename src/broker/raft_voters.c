/*
 * raft_voters.c - AddRaftVoter (80) and RemoveRaftVoter (81), answered as
 * Kafka 4.3.1's KafkaRaftClient / AddVoterHandler / RemoveVoterHandler
 * answer them for a static quorum: this node is the only voter and
 * kraft.version is 0 (Sluice supports no dynamic quorum, and advertises
 * kraft.version 0..0), so after the same request checks Kafka makes first
 * (cluster id, a voter with a directory id, the controller listener's
 * endpoint) every change is refused with UNSUPPORTED_VERSION and Kafka's
 * message, exactly what `kafka-metadata-quorum add-controller /
 * remove-controller` get from a Kafka node configured like Sluice.
 * Loop thread only; memory from the request arena.
 */
#include <stdio.h>
#include <string.h>

#include "broker/internal.h"
#include "core/util.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"

/* INCONSISTENT_CLUSTER_ID when a cluster id is given and is not ours. */
static int16_t check_cluster(brk_req *req, proto_str cid, char *msg,
                             size_t cap) {
    if (cid.len < 0 || proto_str_eq(cid, req->brk->cluster_id))
        return KERR_NONE;
    snprintf(msg, cap,
             "The given id \"%.*s\" doesn't match the cluster id "
             "\"%s\"",
             (int)cid.len, cid.p, req->brk->cluster_id);
    return KERR_INCONSISTENT_CLUSTER_ID;
}

/* The default listener of the quorum: the first controller listener name,
 * upper-cased as Kafka's ListenerName.normalised. */
static void default_listener(brk_req *req, char *out, size_t cap) {
    const char *names =
        brk_cfg_str(req->brk->cfg, BRK_CFG_CONTROLLER_LISTENER_NAMES);
    if (!names)
        names = "CONTROLLER";
    size_t n = strcspn(names, ",");
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(names[i] >= 'a' && names[i] <= 'z' ? names[i] - 32
                                                           : names[i]);
    out[n] = 0;
}

brk_status brk_handle_add_raft_voter(brk_req *req) {
    proto_add_raft_voter_request rq;
    if (proto_add_raft_voter_request_decode(&req->body, req->arena,
                                            req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_add_raft_voter_response rs;
    proto_add_raft_voter_response_init(&rs);
    char msg[1024];
    int16_t e = check_cluster(req, rq.cluster_id, msg, sizeof msg);
    if (!e && proto_uuid_is_zero(&rq.voter_directory_id)) {
        e = KERR_INVALID_REQUEST;
        snprintf(msg, sizeof msg,
                 "Add voter request didn't include a valid voter");
    }
    if (!e) {
        char dl[128];
        default_listener(req, dl, sizeof dl);
        bool found = false;
        for (int32_t i = 0; i < rq.listeners.n; i++)
            found |= proto_str_eq(rq.listeners.v[i].name, dl);
        if (!found) {
            /* Kafka's Endpoints.toString:
             * {ListenerName(X)=host/<unresolved>:port, ...} */
            int k = snprintf(msg, sizeof msg,
                             "Add voter request didn't include the endpoint "
                             "(Endpoints(endpoints={");
            for (int32_t i = 0;
                 i < rq.listeners.n && k > 0 && (size_t)k < sizeof msg; i++) {
                proto_add_raft_voter_request_listener *l = &rq.listeners.v[i];
                k += snprintf(msg + k, sizeof msg - (size_t)k,
                              "%sListenerName(%.*s)=%.*s/<unresolved>:%u",
                              i ? ", " : "",
                              l->name.len > 0 ? (int)l->name.len : 0,
                              l->name.p ? l->name.p : "",
                              l->host.len > 0 ? (int)l->host.len : 0,
                              l->host.p ? l->host.p : "", (unsigned)l->port);
            }
            if (k > 0 && (size_t)k < sizeof msg)
                snprintf(msg + k, sizeof msg - (size_t)k,
                         "})) for the default listener ListenerName(%s)", dl);
            e = KERR_INVALID_REQUEST;
        }
    }
    if (!e) {
        e = KERR_UNSUPPORTED_VERSION;
        snprintf(msg, sizeof msg,
                 "Cluster doesn't support adding voter because the "
                 "kraft.version feature is 0");
    }
    rs.error_code = e;
    rs.error_message = proto_str_c(arena_strndup(req->arena, msg, strlen(msg)));
    proto_add_raft_voter_response_encode(brk_resp_buf(req), req->api_version,
                                         &rs);
    return BRK_DONE;
}

brk_status brk_handle_remove_raft_voter(brk_req *req) {
    proto_remove_raft_voter_request rq;
    if (proto_remove_raft_voter_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_remove_raft_voter_response rs;
    proto_remove_raft_voter_response_init(&rs);
    char msg[512];
    int16_t e = check_cluster(req, rq.cluster_id, msg, sizeof msg);
    if (!e && proto_uuid_is_zero(&rq.voter_directory_id)) {
        e = KERR_INVALID_REQUEST;
        snprintf(msg, sizeof msg,
                 "Remove voter request didn't include a valid voter");
    }
    if (!e) {
        e = KERR_UNSUPPORTED_VERSION;
        snprintf(msg, sizeof msg,
                 "Cluster doesn't support removing voter because the "
                 "kraft.version feature is 0");
    }
    rs.error_code = e;
    rs.error_message = proto_str_c(arena_strndup(req->arena, msg, strlen(msg)));
    proto_remove_raft_voter_response_encode(brk_resp_buf(req), req->api_version,
                                            &rs);
    return BRK_DONE;
}
