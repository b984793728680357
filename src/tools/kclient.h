/*
 * kclient.h - a tiny blocking Kafka client over one plain TCP socket, for
 * the requests the packaged librdkafka (2.0.x) cannot make (Metadata with
 * topic ids, DescribeTopicPartitions (ELR), ApiVersions listing, ListOffsets
 * with the max-timestamp spec, and the admin APIs of the CLI tools). Every
 * request is encoded and every response decoded with the generated codecs
 * (proto/gen/messages.h), the broker's own; kc_call is only the framing.
 *
 * It stays blocking on purpose: a tool makes one request at a time to one
 * node and exits, so a poll() on one socket is simpler than driving the
 * event loop. Broker-to-broker traffic uses net/client.h instead.
 *
 * Ownership: kc_conn owns its socket; decoded results own their heap memory
 * (free with the matching *_free). Single-threaded; every call blocks for at
 * most the connection's timeout.
 */
#ifndef SL_TOOLS_KCLIENT_H
#define SL_TOOLS_KCLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct kc_conn {
    int fd;
    int timeout_ms;
    int32_t corr;
    char host[256];
    int port;
    int16_t api_max[128]; /* -1 when the broker lacks the API */
    int16_t api_min[128];
    char cluster_id[48]; /* from kc_connect_controller's DescribeCluster */
} kc_conn;

/* Tries each host:port of the comma-separated bootstrap list until one
 * accepts and answers ApiVersions, retrying until timeout_ms passes. On
 * failure writes a message into err and returns false. */
bool kc_connect(kc_conn *c, const char *bootstrap, int timeout_ms, char *err,
                size_t errsz);
bool kc_connect_node(kc_conn *c, const char *host, int port, int timeout_ms,
                     char *err, size_t errsz);
void kc_close(kc_conn *c);
/* --bootstrap-controller (Kafka's admin client with bootstrap.controllers,
 * KIP-919): connects to one of the listed controllers, asks it with
 * DescribeCluster (endpoint type CONTROLLER) for the controllers and the
 * active one, and ends connected to the active controller (or to the
 * bootstrap one when none is known yet). */
bool kc_connect_controller(kc_conn *c, const char *bootstrap, int timeout_ms,
                           char *err, size_t errsz);

/* Sends a request (header v1 or v2 chosen by `flexible`) whose body is in
 * body, and reads the whole response; resp receives the body after the
 * response header. */
bool kc_call(kc_conn *c, int16_t key, int16_t ver, bool flexible,
             const buf *body, buf *resp);

typedef struct kc_partition {
    int16_t error;
    int32_t id, leader, leader_epoch;
    int32_t *replicas, *isr, *elr, *last_elr, *offline;
    int nreplicas, nisr, nelr, nlast_elr, noffline; /* -1: null list */
} kc_partition;

typedef struct kc_topic {
    int16_t error;
    char *name;
    uint8_t id[16];
    bool internal;
    kc_partition *parts;
    int nparts;
} kc_topic;

typedef struct kc_broker {
    int32_t id;
    char *host;
    int32_t port;
    char *rack;
} kc_broker;

typedef struct kc_metadata {
    kc_broker *brokers;
    int nbrokers;
    char *cluster_id;
    int32_t controller;
    kc_topic *topics;
    int ntopics;
    bool has_elr; /* partitions came from DescribeTopicPartitions */
} kc_metadata;

/* Metadata v12 (or the highest the broker has) for the given topics (all
 * topics when ntopics < 0). With want_elr, partitions are re-read through
 * DescribeTopicPartitions when the broker supports it. */
bool kc_metadata_get(kc_conn *c, const char *const *topics, int ntopics,
                     bool want_elr, kc_metadata *md);
void kc_metadata_free(kc_metadata *md);

/* ListOffsets for one partition with a timestamp spec (-1 latest, -2
 * earliest, -3 max timestamp, -4/-5 as Kafka defines, or a time). Must be
 * sent to the leader. */
bool kc_list_offset(kc_conn *c, const char *topic, int32_t part, int64_t ts,
                    int64_t *offset, int16_t *error);

/* Kafka's names for api keys ("Produce", "Fetch", ...); NULL if unknown. */
const char *kc_api_name(int key);

/* ---- configs (DescribeConfigs v4, IncrementalAlterConfigs v1) ---------- */

/* Kafka's ConfigResource.Type codes. */
enum {
    KC_RES_TOPIC = 2,
    KC_RES_BROKER = 4,
    KC_RES_BROKER_LOGGER = 8,
    KC_RES_CLIENT_METRICS = 16,
    KC_RES_GROUP = 32
};

typedef struct kc_synonym {
    char *name, *value;
    int8_t source;
} kc_synonym;

typedef struct kc_config {
    char *name, *value; /* value NULL: null (or sensitive) */
    bool read_only, sensitive;
    int8_t source; /* DescribeConfigsResponse ConfigSource code */
    kc_synonym *syn;
    int nsyn;
} kc_config;

typedef struct kc_config_result {
    int16_t error;
    char *error_message;
    kc_config *cfg;
    int ncfg;
} kc_config_result;

/* Describes one resource with synonyms. false on transport failure. */
bool kc_describe_configs(kc_conn *c, int8_t type, const char *name,
                         kc_config_result *out);
void kc_config_result_free(kc_config_result *r);
/* Kafka's admin ConfigEntry.ConfigSource name for a wire source code. */
const char *kc_config_source_name(int8_t source);

typedef struct kc_alter_op {
    const char *name;
    const char *value; /* NULL for DELETE */
    int8_t op;         /* 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT */
} kc_alter_op;

/* IncrementalAlterConfigs for one resource; *error / errmsg (heap, may be
 * NULL) receive the resource's result. false on transport failure. */
bool kc_incremental_alter(kc_conn *c, int8_t type, const char *name,
                          const kc_alter_op *ops, int nops, int16_t *error,
                          char **errmsg);

/* ---- partition reassignment / log dirs ---------------------------------- */

typedef struct kc_reassign {
    char *topic;
    int32_t part;
    int32_t *replicas; /* target (alter) or current (list); NULL: cancel */
    int nreplicas;
    int32_t *adding, *removing;
    int nadding, nremoving;
    int16_t error;
    char *error_message;
    char **log_dirs; /* per replica (tool plans): a dir, or NULL for "any" */
} kc_reassign;

/* AlterPartitionReassignments v0 for n entries (replicas NULL cancels);
 * per-entry error/error_message are filled in. *top gets the top-level
 * error. false on transport failure. */
bool kc_alter_reassignments(kc_conn *c, kc_reassign *v, int n, int16_t *top,
                            char **top_msg);
/* ListPartitionReassignments v0; filter (n >= 0) or all (n < 0). Results
 * are returned in *out (free with kc_reassign_free). */
bool kc_list_reassignments(kc_conn *c, const kc_reassign *filter, int n,
                           kc_reassign **out, int *nout, int16_t *top);
void kc_reassign_free(kc_reassign *v, int n);

typedef struct kc_logdir_entry {
    char *dir, *topic;
    int32_t part;
    int64_t size, offset_lag;
    bool is_future;
} kc_logdir_entry;

/* DescribeLogDirs (v2..v4) of every partition on the connected broker. */
bool kc_describe_log_dirs(kc_conn *c, kc_logdir_entry **out, int *nout);
void kc_logdir_free(kc_logdir_entry *v, int n);
/* AlterReplicaLogDirs v2 of one replica on the connected broker: false if
 * the request failed, else the partition's error code in *err. */
bool kc_alter_replica_log_dir(kc_conn *c, const char *dir, const char *topic,
                              int32_t part, int16_t *err);

/* ---- features, transactions, leader election, quorum -------------------- */

typedef struct kc_feature {
    char *name;
    int16_t min, max;  /* supported */
    int16_t finalized; /* -1: not finalized */
} kc_feature;

/* ApiVersions v3 SupportedFeatures/FinalizedFeatures (tagged fields). */
bool kc_features(kc_conn *c, kc_feature **out, int *n, int64_t *epoch);
void kc_features_free(kc_feature *v, int n);

typedef struct kc_txn {
    char *id, *state;
    int64_t producer_id;
} kc_txn;

/* ListTransactions v0 on the connected broker (the coordinator). */
bool kc_list_transactions(kc_conn *c, kc_txn **out, int *n, int16_t *err);
void kc_txn_free(kc_txn *v, int n);

/* ElectLeaders v2; entries with topic == NULL mean "all partitions".
 * type 0 preferred, 1 unclean. Results are filled into v (allocated,
 * kc_reassign reused for topic/part/error/error_message). */
bool kc_elect_leaders(kc_conn *c, int8_t type, const kc_reassign *req, int nreq,
                      kc_reassign **out, int *nout, int16_t *top);

typedef struct kc_replica_state {
    int32_t id;
    uint8_t dir[16];
    int64_t leo, last_fetch, last_caught_up;
} kc_replica_state;

typedef struct kc_quorum {
    int16_t error;
    int32_t leader, epoch;
    int64_t hw;
    kc_replica_state *voters, *observers;
    int nvoters, nobservers;
    struct {
        int32_t id;
        char *listener, *host;
        int port;
    } * nodes;
    int nnodes;
} kc_quorum;

/* DescribeQuorum (v0..v2) for __cluster_metadata-0. */
bool kc_describe_quorum(kc_conn *c, kc_quorum *q);
void kc_quorum_free(kc_quorum *q);

/* ---- transaction details --------------------------------------------------
 */

/* FindCoordinator (key_type 0 group, 1 transaction). false on transport
 * failure; *error gets the coordinator lookup's error code. */
bool kc_find_coordinator(kc_conn *c, int8_t key_type, const char *key,
                         int32_t *node, char **host, int32_t *port,
                         int16_t *error);

typedef struct kc_txn_desc {
    int16_t error;
    char *state;
    int32_t timeout_ms;
    int64_t start_ms, producer_id;
    int16_t producer_epoch;
    char *partitions; /* "t-0,t-1" */
} kc_txn_desc;

bool kc_describe_transaction(kc_conn *c, const char *id, kc_txn_desc *out);
void kc_txn_desc_free(kc_txn_desc *d);

typedef struct kc_producer_state {
    int64_t producer_id, last_timestamp, txn_start_offset;
    int32_t producer_epoch, last_sequence, coordinator_epoch;
} kc_producer_state;

/* DescribeProducers for one partition (send to its leader). */
bool kc_describe_producers(kc_conn *c, const char *topic, int32_t part,
                           kc_producer_state **out, int *n, int16_t *error);

/* WriteTxnMarkers v1 with one marker for one partition (send to the
 * partition's leader), as Kafka's Admin.abortTransaction does. *error gets
 * the partition's error code; false on transport failure or a response
 * that does not name exactly that partition. */
bool kc_write_txn_marker(kc_conn *c, const char *topic, int32_t part,
                         int64_t producer_id, int16_t producer_epoch,
                         int32_t coordinator_epoch, bool commit,
                         int16_t *error);

/* AddRaftVoter v0 / RemoveRaftVoter v0 (cluster id null). *error and
 * *msg (heap, may be NULL) get the response's error. false on transport
 * failure. */
typedef struct kc_endpoint {
    const char *listener, *host;
    int port;
} kc_endpoint;
bool kc_add_raft_voter(kc_conn *c, int32_t id, const uint8_t dir[16],
                       const kc_endpoint *eps, int neps, int16_t *error,
                       char **msg);
bool kc_remove_raft_voter(kc_conn *c, int32_t id, const uint8_t dir[16],
                          int16_t *error, char **msg);

/* ---- SCRAM credentials (Describe/AlterUserScramCredentials v0) -------- */

typedef struct kc_scram_user {
    char *user;
    int16_t error;
    char *error_message;
    int8_t mechanisms[4];
    int32_t iterations[4];
    int n;
} kc_scram_user;

/* users NULL/n 0: every user with credentials. *top gets the top-level
 * error. false on transport failure. */
bool kc_describe_scram(kc_conn *c, const char *const *users, int nusers,
                       kc_scram_user **out, int *nout, int16_t *top,
                       char **top_msg);
void kc_scram_users_free(kc_scram_user *v, int n);

typedef struct kc_scram_op {
    int8_t mechanism;    /* 1 SCRAM-SHA-256, 2 SCRAM-SHA-512 */
    bool remove;         /* deletion when true */
    int32_t iterations;  /* upsertion: */
    const uint8_t *salt; /* salt bytes */
    size_t salt_len;
    const uint8_t *salted; /* PBKDF2(password, salt, iterations) */
    size_t salted_len;
} kc_scram_op;

/* One user's deletions and upsertions; *error and *msg (heap) get the first
 * failed result. false on transport failure. */
bool kc_alter_scram(kc_conn *c, const char *user, const kc_scram_op *ops,
                    int nops, int16_t *error, char **msg);

/* ---- ACLs (DescribeAcls / CreateAcls / DeleteAcls, v2-3) ---------------- */

/* One binding (or filter: NULL strings and ANY codes match anything), with
 * Kafka's codes. */
typedef struct kc_acl {
    int8_t rt, pt, op, perm;
    char *name, *principal, *host;
} kc_acl;

bool kc_describe_acls(kc_conn *c, const kc_acl *filter, kc_acl **out, int *nout,
                      int16_t *err, char **msg);
/* *err and *msg: the first failed creation (or deletion filter). */
bool kc_create_acls(kc_conn *c, const kc_acl *v, int n, int16_t *err,
                    char **msg);
bool kc_delete_acls(kc_conn *c, const kc_acl *filters, int n, int16_t *err,
                    char **msg);
void kc_acls_free(kc_acl *v, int n);

/* ---- client quotas (DescribeClientQuotas v1, AlterClientQuotas v1) ------- */

typedef struct kc_quota_entry {
    char *types[2], *names[2]; /* entity components; names NULL = default */
    int ncomp;
    char **keys;
    double *values;
    int nvalues;
} kc_quota_entry;

/* One component filter: match 0 exact name, 1 default, 2 any. */
bool kc_describe_quotas(kc_conn *c, const char *type, int match,
                        const char *name, kc_quota_entry **out, int *n,
                        int16_t *err, char **errmsg);
void kc_quota_entries_free(kc_quota_entry *v, int n);
/* Sets (remove false) or removes keys for one entity (name NULL = default). */
bool kc_alter_quotas(kc_conn *c, const char *type, const char *name,
                     const char *const *keys, const double *values,
                     const bool *remove, int nops, int16_t *err, char **errmsg);
#endif
