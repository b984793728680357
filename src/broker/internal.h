/*
 * internal.h - functions shared by the server's own files (server.c,
 * storage.c, controller.c, the admin handlers). Not part of the handler
 * contract (that is broker.h).
 * Threading: loop thread only.
 */
#ifndef SL_BROKER_INTERNAL_H
#define SL_BROKER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/broker.h"
#include "cluster/image.h"
#include "controller/records.h"
#include "core/arena.h"
#include "core/buf.h"
#include "proto/proto.h"

/* server.c */
int brk_load_config(brk_config *cfg, int argc, char **argv, char **envp,
                    char *err, size_t errlen);
/* admin.c: a config value of a request (NULL for null) as the C string the
 * config table validates and keeps. In a value with NUL bytes, those at
 * either end are trimmed as Java's String.trim() does before Kafka parses a
 * value, and one inside becomes the six characters \u0000, as Java prints
 * it, so the value is validated whole (INVALID_CONFIG, as Kafka answers,
 * for every typed or enumerated config) instead of cut at the NUL ("1\0x"
 * was taken for retention.ms=1). */
char *brk_config_value_dup(arena *a, proto_str v);
/* {key, value} pairs, {NULL, NULL} last: config/server.properties, the
 * static layer of a start without a file. */
extern const char *const brk_quickstart_config[][2];
bool brk_listener_is_controller(const brk_broker *brk, int i);
/* Parses listeners, their protocols and advertised.listeners into brk
 * (ports as configured; 0 is resolved when bound). 0 or -1 with err. */
int brk_setup_listeners(brk_broker *brk, char *err, size_t errlen);
/* The listeners' frame callback (net_listen_opts.on_frame, ctx the
 * broker): one request, dispatched through the handler table. */
bool brk_on_frame(net_conn *conn, const uint8_t *frame, size_t len);

/* storage.c: the log manager and the metadata log (__cluster_metadata-0).
 * When the log layer is not linked in, everything runs in memory. */
int brk_storage_open(brk_broker *brk, const char *const *dirs, int n_dirs,
                     char *err, size_t errlen);
/* The controller (brk->ctl) is made over the metadata log, which it then
 * replays into brk->image. */
/* True while the local log of part is queued for creation (large topics
 * are created CREATE_BATCH partitions per loop iteration). */
bool brk_partition_pending(const cl_partition *part);
/* Creates every queued log (shutdown), before log_manager_close. */
void brk_storage_close(brk_broker *brk);
/* Image listener: creates/deletes local partition logs, pushes configs. */
void brk_coordinators_on_partition(brk_broker *brk, const cl_partition *part);
void brk_storage_on_image(void *ctx, cl_event ev, cl_topic *t,
                          cl_partition *part);

/* controller.c: the broker's side of the controller. It validates, turns
 * admin operations into metadata records and submits them to brk->ctl
 * (src/controller), which applies them to the image once durable. */
int brk_cluster_start(brk_broker *brk, char *err, size_t errlen);
void brk_cluster_stop(brk_broker *brk);
/* Commits record values and waits (syncing the metadata log on the
 * calling thread): start-up and the coordinator services only, which
 * cannot wait for a callback yet. Handlers use brk_commit below. */
int16_t ctl_commit(brk_broker *brk, buf *values, int n);

/* ---- deferred replies on controller commits (controller.c)
 * A handler that commits records builds its response in req->arena, submits
 * through brk_commit (each submit's Kafka error is stored in *err_out, if
 * not NULL, when it commits or fails) and returns brk_commit_end(w): once
 * every submit has completed, finish(req, ctx) encodes the response and the
 * request completes (BRK_DEFER), or at once if nothing was submitted
 * (BRK_DONE). The reply is deferred, so what finish reads (ctx, the decoded
 * request, names) must live in req->arena, never on the handler's stack. */
typedef void (*brk_commit_finish_fn)(brk_req *req, void *ctx);
typedef struct brk_commit_wait brk_commit_wait;
brk_commit_wait *brk_commit_begin(brk_req *req, brk_commit_finish_fn finish,
                                  void *ctx);
void brk_commit(brk_commit_wait *w, const buf *values, int n, int16_t *err_out);
brk_status brk_commit_end(brk_commit_wait *w);
/* Runs a controller handler whose records are computed from the image
 * (AlterPartition, broker registration and heartbeat, elections,
 * reassignments) only while no other submit is in flight (ctl_when_idle):
 * at once when the controller is idle, else deferred until it is. */
brk_status brk_ctl_serial(brk_req *req, brk_status (*fn)(brk_req *req));
/* brk_commit with then(then_arg, err) run on completion first (logging,
 * bookkeeping); then owns then_arg. */
void brk_commit_then(brk_commit_wait *w, const buf *values, int n,
                     int16_t *err_out, void (*then)(void *arg, int16_t err),
                     void *then_arg);
brk_broker *brk_commit_broker(const brk_commit_wait *w);

/* Creates a topic (records: TopicRecord, ConfigRecords, PartitionRecords).
 * assignment: n_parts x rf node ids or NULL (placed by
 * controller/placement.h; a placement error is returned). configs: validated
 * already. Committed before it returns (ctl_commit: start-up, coordinator
 * services); a Kafka error code; on success id_out (may be NULL) gets the topic
 * id. */
int16_t ctl_create_topic(brk_broker *brk, const char *name, int32_t n_parts,
                         int16_t rf, const int32_t *assignment,
                         const brk_kv *configs, size_t n_configs,
                         uint8_t id_out[16]);
/* The same, submitted: through w (the reply waits; *err_out gets the
 * commit's error), or with w NULL in the background (Metadata's
 * auto-creation). id_out gets the id at once. Until it commits,
 * ctl_topic_creating(name) is true. */
void ctl_create_topic_async(brk_commit_wait *w, int16_t *err_out,
                            brk_broker *brk, const char *name, int32_t n_parts,
                            int16_t rf, const int32_t *assignment,
                            const brk_kv *configs, size_t n_configs,
                            uint8_t id_out[16]);
bool ctl_topic_creating(brk_broker *brk, const char *name);
/* A RemoveTopicRecord for the topic is submitted and not committed yet:
 * requests treat the topic as gone, as Kafka's controller does. */
bool ctl_topic_deleting(brk_broker *brk, const uint8_t id[16]);
/* The topic's partition count with the CreatePartitions submitted and not
 * committed yet (what the next CreatePartitions counts from). */
int32_t ctl_partition_count(brk_broker *brk, const cl_topic *t);
/* A RemoveTopicRecord / PartitionRecords submitted through w; the new
 * partitions' assignment ((new_total - ctl_partition_count) x rf node ids)
 * is the caller's (a manual one, or controller/placement.h). */
void ctl_delete_topic(brk_commit_wait *w, int16_t *err_out, cl_topic *t);
void ctl_create_partitions(brk_commit_wait *w, int16_t *err_out, cl_topic *t,
                           int32_t new_total, const int32_t *assignment,
                           int16_t rf);

/* Reserves producer ids [first, first + block) through a
 * ProducerIdsRecord, first at least floor: done(arg, err, first) runs once
 * the record is committed (or failed: err, first -1), possibly inside the
 * call. One allocation at a time (the next starts from the image). */
typedef void (*ctl_pid_done_fn)(void *arg, int16_t err, int64_t first);
void ctl_allocate_producer_ids(brk_broker *brk, int32_t block, int64_t floor,
                               ctl_pid_done_fn done, void *arg);
/* The controller's part: a block for broker_id, recorded in its
 * ProducerIdsRecord (AllocateProducerIds from another node, or this one). */
void ctl_allocate_producer_ids_for(brk_broker *brk, int32_t broker_id,
                                   int64_t broker_epoch, int32_t block,
                                   int64_t floor, ctl_pid_done_fn done,
                                   void *arg);

/* broker_lifecycle.c: the session timer that fences brokers whose
 * heartbeats stopped (started with the loop), and its teardown. */
void brk_lifecycle_start(brk_broker *brk);
void brk_lifecycle_stop(brk_broker *brk);

/* lifecycle_net.c: this broker registering and heartbeating with the
 * active controller over the network (a quorum only; a single node
 * registers itself in controller.c). */
typedef struct brk_lm brk_lm;
void brk_lm_start(brk_broker *brk);
/* The Raft leader changed: talk to the new one. */
void brk_lm_controller_changed(brk_broker *brk);
/* Controlled shutdown (controlled.shutdown.enable): WantShutDown
 * heartbeats until the controller moved this broker's leaderships away and
 * answered ShouldShutDown, at most broker.session.timeout.ms; then
 * done(brk, ctx), at once when there is nothing to do. */
void brk_lm_shutdown(brk_broker *brk, void (*done)(brk_broker *, void *),
                     void *ctx);
/* This node's broker has caught up with the metadata log once since it
 * started (the controller answered IsCaughtUp: Kafka's initialCatchUpFuture),
 * or has no quorum to catch up with. */
bool brk_lm_caught_up(const brk_broker *brk);
/* This node's broker has not been RUNNING (registered and unfenced) yet
 * since it started. */
bool brk_lm_starting(const brk_broker *brk);
/* This broker's epoch from its registration, -1 before one. */
int64_t brk_lm_broker_epoch(const brk_broker *brk);

/* alter_partition_mgr.c: ISR changes of the partitions this node leads go
 * to the active controller as AlterPartition (a quorum only). */
typedef struct brk_apm brk_apm;
void brk_apm_start(brk_broker *brk);
/* The node id Metadata and DescribeCluster name as the controller: in a
 * quorum the active controller's (the Raft leader) when its broker is
 * registered and unfenced (Kafka names a random live broker, which then
 * forwards; naming the active one spares the hop); else this node. */
int32_t brk_active_controller(brk_broker *brk);
/* lifecycle_net.c: a client to the active controller (the Raft leader) on
 * its controller listener, kept in *c and made or replaced as the leader
 * changes (*node: the controller it is connected to, -1 none); NULL while
 * there is no leader. Used by the lifecycle manager and the AlterPartition
 * manager, each with its own client (Kafka's NodeToControllerChannel). */
struct net_client;
struct net_client *
brk_controller_client(brk_broker *brk, struct net_client **c, int32_t *node,
                      const char *purpose, int64_t max_response_bytes,
                      void (*on_state)(struct net_client *, bool, void *),
                      void *ctx);
/* Frees *c (its in-flight callbacks run now, with *c already NULL). */
void brk_controller_client_drop(struct net_client **c, int32_t *node);

/* coordinators.c: the group and transaction coordinators' state and
 * runtime (brk->txn, brk->grp, brk->coord), made before the start
 * hooks and freed after the loop has closed its connections. */
void brk_coordinators_start(brk_broker *brk);
void brk_coordinators_free(brk_broker *brk);

/* log_cleaner.c: a cleaning pass on part is running. */
bool brk_log_cleaner_cleaning(const brk_broker *brk, const log_partition *part);
/* Frees brk->cleaner (after the loop is freed). */
void brk_log_cleaner_free(brk_broker *brk);

/* raft_voters.c: the KRaft quorum of several controllers. */
/* controller.quorum.voters names more than one controller. */
bool brk_quorum_configured(const brk_config *cfg);
/* The quorum keys make sense for this node (0), or -1 with Kafka's kind of
 * message naming the key. */
int brk_quorum_check_config(const brk_config *cfg, char *err, size_t errlen);
/* Start-up step "quorum" (after storage): the member and the controller
 * over it, when configured. 0 or -1 with a message. */
int brk_quorum_start(brk_broker *brk, char *err, size_t errlen);
/* After the controller is gone (brk_cluster_stop). */
void brk_quorum_free(brk_broker *brk);
/* controller.quorum.voters as configured: up to max voters (id, host,
 * port of their controller listener) into out; 0 when unset, -1 when
 * malformed. */
typedef struct brk_voter {
    int32_t id;
    char host[256];
    int port;
} brk_voter;
int brk_quorum_voters(const brk_config *cfg, brk_voter *out, int max);

/* forward.c: requests for the active controller (Kafka's ForwardingManager
 * and ControllerApis' Envelope). On a broker listener, a request Kafka
 * forwards (ApiKeys.forwardable) goes to the active controller in an
 * Envelope when that is another node; true when taken (it completes
 * later), false when the local handler must answer (this node is the
 * active controller, none is known, a single node). */
bool brk_forward_request(brk_req *req);
/* A producer-id block from the active controller when that is another
 * node (AllocateProducerIds, Kafka's RPCProducerIdManager): true when
 * asked (done runs later: the block's first id, or an error), false when
 * this node must allocate itself. */
bool brk_forward_allocate_producer_ids(brk_broker *brk, ctl_pid_done_fn done,
                                       void *arg);
/* Topic creation by the broker itself (its coordinators' internal topics,
 * Metadata's auto-creation) when another node is the active controller:
 * CreateTopics goes to it (Kafka's AutoTopicCreationManager over the
 * controller channel), not waited for; true when that node is asked (or
 * will be, once connected: the caller asks again as clients retry), false
 * when this node must create it itself. */
bool brk_forward_create_topic(brk_broker *brk, const char *name,
                              int32_t n_parts, int16_t rf,
                              const brk_kv *configs, size_t n_configs);
/* Closes the forwarding clients; what is in flight completes with no
 * response (shutdown). */
void brk_forward_free(brk_broker *brk);

/* server.c, for forward.c: runs req's handler and completes it unless
 * deferred (after a failed forward). */
brk_status brk_req_run_local(brk_req *req);
/* Runs an embedded request (Envelope's RequestData: header and body) on
 * this node, as if it had come on parent's connection; its response
 * (header and body) or NULL goes to done(parent, ...), maybe before this
 * returns. KERR_NONE, or the Envelope error when it cannot run
 * (INVALID_REQUEST: an api allowed() refuses or this node lacks;
 * UNSUPPORTED_VERSION: an unparsable header or a version it does not
 * serve, as Kafka's EnvelopeUtils answers). */
int16_t brk_dispatch_embedded(brk_req *parent, const uint8_t *frame, size_t len,
                              bool (*allowed)(int16_t api_key),
                              void (*done)(brk_req *parent, const uint8_t *resp,
                                           size_t len));

#endif
