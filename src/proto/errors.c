/* errors.c - the Kafka error table (see errors.h). */
#include "proto/errors.h"

#include <stddef.h>

typedef struct proto_error_info {
    const char *name;
    const char *msg;
    bool retriable;
} proto_error_info;

/* Indexed by code + 1 (UNKNOWN_SERVER_ERROR is -1). */
static const proto_error_info errs[] = {
    {"UNKNOWN_SERVER_ERROR",
     "The server experienced an unexpected error when processing the request.",
     false},             /* -1 */
    {"NONE", "", false}, /* 0 */
    {"OFFSET_OUT_OF_RANGE",
     "The requested offset is not within the range of offsets maintained by "
     "the server.",
     false}, /* 1 */
    {"CORRUPT_MESSAGE",
     "This message has failed its CRC checksum, exceeds the valid size, has a "
     "null key for a compacted topic, or is otherwise corrupt.",
     true}, /* 2 */
    {"UNKNOWN_TOPIC_OR_PARTITION",
     "This server does not host this topic-partition.", true}, /* 3 */
    {"INVALID_FETCH_SIZE", "The requested fetch size is invalid.",
     false}, /* 4 */
    {"LEADER_NOT_AVAILABLE",
     "There is no leader for this topic-partition as we are in the middle of a "
     "leadership election.",
     true}, /* 5 */
    {"NOT_LEADER_OR_FOLLOWER",
     "For requests intended only for the leader, this error indicates that the "
     "broker is not the current leader. For requests intended for any replica, "
     "this error indicates that the broker is not a replica of the topic "
     "partition.",
     true},                                                          /* 6 */
    {"REQUEST_TIMED_OUT", "The request timed out.", true},           /* 7 */
    {"BROKER_NOT_AVAILABLE", "The broker is not available.", false}, /* 8 */
    {"REPLICA_NOT_AVAILABLE",
     "The replica is not available for the requested topic-partition. "
     "Produce/Fetch requests and other requests intended only for the leader "
     "or follower return NOT_LEADER_OR_FOLLOWER if the broker is not a replica "
     "of the topic-partition.",
     true}, /* 9 */
    {"MESSAGE_TOO_LARGE",
     "The request included a message larger than the max message size the "
     "server will accept.",
     false}, /* 10 */
    {"STALE_CONTROLLER_EPOCH", "The controller moved to another broker.",
     false}, /* 11 */
    {"OFFSET_METADATA_TOO_LARGE",
     "The metadata field of the offset request was too large.", false}, /* 12 */
    {"NETWORK_EXCEPTION",
     "The server disconnected before a response was received.", true}, /* 13 */
    {"COORDINATOR_LOAD_IN_PROGRESS",
     "The coordinator is loading and hence can't process requests.",
     true}, /* 14 */
    {"COORDINATOR_NOT_AVAILABLE", "The coordinator is not available.",
     true},                                                            /* 15 */
    {"NOT_COORDINATOR", "This is not the correct coordinator.", true}, /* 16 */
    {"INVALID_TOPIC_EXCEPTION",
     "The request attempted to perform an operation on an invalid topic.",
     false}, /* 17 */
    {"RECORD_LIST_TOO_LARGE",
     "The request included message batch larger than the configured segment "
     "size on the server.",
     false}, /* 18 */
    {"NOT_ENOUGH_REPLICAS",
     "Messages are rejected since there are fewer in-sync replicas than "
     "required.",
     true}, /* 19 */
    {"NOT_ENOUGH_REPLICAS_AFTER_APPEND",
     "Messages are written to the log, but to fewer in-sync replicas than "
     "required.",
     true}, /* 20 */
    {"INVALID_REQUIRED_ACKS",
     "Produce request specified an invalid value for required acks.",
     false}, /* 21 */
    {"ILLEGAL_GENERATION", "Specified group generation id is not valid.",
     false}, /* 22 */
    {"INCONSISTENT_GROUP_PROTOCOL",
     "The group member's supported protocols are incompatible with those of "
     "existing members or first group member tried to join with empty protocol "
     "type or empty protocol list.",
     false},                                                 /* 23 */
    {"INVALID_GROUP_ID", "The group id is invalid.", false}, /* 24 */
    {"UNKNOWN_MEMBER_ID", "The coordinator is not aware of this member.",
     false}, /* 25 */
    {"INVALID_SESSION_TIMEOUT",
     "The session timeout is not within the range allowed by the broker (as "
     "configured by group.min.session.timeout.ms and "
     "group.max.session.timeout.ms).",
     false}, /* 26 */
    {"REBALANCE_IN_PROGRESS",
     "The group is rebalancing, so a rejoin is needed.", false}, /* 27 */
    {"INVALID_COMMIT_OFFSET_SIZE",
     "The committing offset data size is not valid.", false}, /* 28 */
    {"TOPIC_AUTHORIZATION_FAILED", "Topic authorization failed.",
     false}, /* 29 */
    {"GROUP_AUTHORIZATION_FAILED", "Group authorization failed.",
     false}, /* 30 */
    {"CLUSTER_AUTHORIZATION_FAILED", "Cluster authorization failed.",
     false}, /* 31 */
    {"INVALID_TIMESTAMP",
     "The timestamp of the message is out of acceptable range.",
     false}, /* 32 */
    {"UNSUPPORTED_SASL_MECHANISM",
     "The broker does not support the requested SASL mechanism.",
     false}, /* 33 */
    {"ILLEGAL_SASL_STATE", "Request is not valid given the current SASL state.",
     false}, /* 34 */
    {"UNSUPPORTED_VERSION", "The version of API is not supported.",
     false}, /* 35 */
    {"TOPIC_ALREADY_EXISTS", "Topic with this name already exists.",
     false},                                                           /* 36 */
    {"INVALID_PARTITIONS", "Number of partitions is below 1.", false}, /* 37 */
    {"INVALID_REPLICATION_FACTOR",
     "Replication factor is below 1 or larger than the number of available "
     "brokers.",
     false}, /* 38 */
    {"INVALID_REPLICA_ASSIGNMENT", "Replica assignment is invalid.",
     false},                                                /* 39 */
    {"INVALID_CONFIG", "Configuration is invalid.", false}, /* 40 */
    {"NOT_CONTROLLER", "This is not the correct controller for this cluster.",
     true}, /* 41 */
    {"INVALID_REQUEST",
     "This most likely occurs because of a request being malformed by the "
     "client library or the message was sent to an incompatible broker. See "
     "the broker logs for more details.",
     false}, /* 42 */
    {"UNSUPPORTED_FOR_MESSAGE_FORMAT",
     "The message format version on the broker does not support the request.",
     false}, /* 43 */
    {"POLICY_VIOLATION",
     "Request parameters do not satisfy the configured policy.",
     false}, /* 44 */
    {"OUT_OF_ORDER_SEQUENCE_NUMBER",
     "The broker received an out of order sequence number.", false}, /* 45 */
    {"DUPLICATE_SEQUENCE_NUMBER",
     "The broker received a duplicate sequence number.", false}, /* 46 */
    {"INVALID_PRODUCER_EPOCH",
     "Producer attempted to produce with an old epoch.", false}, /* 47 */
    {"INVALID_TXN_STATE",
     "The producer attempted a transactional operation in an invalid state.",
     false}, /* 48 */
    {"INVALID_PRODUCER_ID_MAPPING",
     "The producer attempted to use a producer id which is not currently "
     "assigned to its transactional id.",
     false}, /* 49 */
    {"INVALID_TRANSACTION_TIMEOUT",
     "The transaction timeout is larger than the maximum value allowed by the "
     "broker (as configured by transaction.max.timeout.ms).",
     false}, /* 50 */
    {"CONCURRENT_TRANSACTIONS",
     "The producer attempted to update a transaction while another concurrent "
     "operation on the same transaction was ongoing.",
     true}, /* 51 */
    {"TRANSACTION_COORDINATOR_FENCED",
     "Indicates that the transaction coordinator sending a WriteTxnMarker is "
     "no longer the current coordinator for a given producer.",
     false}, /* 52 */
    {"TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
     "Transactional Id authorization failed.", false},               /* 53 */
    {"SECURITY_DISABLED", "Security features are disabled.", false}, /* 54 */
    {"OPERATION_NOT_ATTEMPTED",
     "The broker did not attempt to execute this operation. This may happen "
     "for batched RPCs where some operations in the batch failed, causing the "
     "broker to respond without trying the rest.",
     false}, /* 55 */
    {"KAFKA_STORAGE_ERROR",
     "Disk error when trying to access log file on the disk.", true}, /* 56 */
    {"LOG_DIR_NOT_FOUND",
     "The user-specified log directory is not found in the broker config.",
     false}, /* 57 */
    {"SASL_AUTHENTICATION_FAILED", "SASL Authentication failed.",
     false}, /* 58 */
    {"UNKNOWN_PRODUCER_ID",
     "This exception is raised by the broker if it could not locate the "
     "producer metadata associated with the producerId in question. This could "
     "happen if, for instance, the producer's records were deleted because "
     "their retention time had elapsed. Once the last records of the "
     "producerId are removed, the producer's metadata is removed from the "
     "broker, and future appends by the producer will return this exception.",
     false}, /* 59 */
    {"REASSIGNMENT_IN_PROGRESS", "A partition reassignment is in progress.",
     false}, /* 60 */
    {"DELEGATION_TOKEN_AUTH_DISABLED",
     "Delegation Token feature is not enabled.", false}, /* 61 */
    {"DELEGATION_TOKEN_NOT_FOUND", "Delegation Token is not found on server.",
     false}, /* 62 */
    {"DELEGATION_TOKEN_OWNER_MISMATCH",
     "Specified Principal is not valid Owner/Renewer.", false}, /* 63 */
    {"DELEGATION_TOKEN_REQUEST_NOT_ALLOWED",
     "Delegation Token requests are not allowed on PLAINTEXT/1-way SSL "
     "channels and on delegation token authenticated channels.",
     false}, /* 64 */
    {"DELEGATION_TOKEN_AUTHORIZATION_FAILED",
     "Delegation Token authorization failed.", false}, /* 65 */
    {"DELEGATION_TOKEN_EXPIRED", "Delegation Token is expired.",
     false}, /* 66 */
    {"INVALID_PRINCIPAL_TYPE", "Supplied principalType is not supported.",
     false},                                                       /* 67 */
    {"NON_EMPTY_GROUP", "The group is not empty.", false},         /* 68 */
    {"GROUP_ID_NOT_FOUND", "The group id does not exist.", false}, /* 69 */
    {"FETCH_SESSION_ID_NOT_FOUND", "The fetch session ID was not found.",
     true}, /* 70 */
    {"INVALID_FETCH_SESSION_EPOCH", "The fetch session epoch is invalid.",
     true}, /* 71 */
    {"LISTENER_NOT_FOUND",
     "There is no listener on the leader broker that matches the listener on "
     "which metadata request was processed.",
     true},                                                            /* 72 */
    {"TOPIC_DELETION_DISABLED", "Topic deletion is disabled.", false}, /* 73 */
    {"FENCED_LEADER_EPOCH",
     "The leader epoch in the request is older than the epoch on the broker.",
     true}, /* 74 */
    {"UNKNOWN_LEADER_EPOCH",
     "The leader epoch in the request is newer than the epoch on the broker.",
     true}, /* 75 */
    {"UNSUPPORTED_COMPRESSION_TYPE",
     "The requesting client does not support the compression type of given "
     "partition.",
     false},                                                    /* 76 */
    {"STALE_BROKER_EPOCH", "Broker epoch has changed.", false}, /* 77 */
    {"OFFSET_NOT_AVAILABLE",
     "The leader high watermark has not caught up from a recent leader "
     "election so the offsets cannot be guaranteed to be monotonically "
     "increasing.",
     true}, /* 78 */
    {"MEMBER_ID_REQUIRED",
     "The group member needs to have a valid member id before actually "
     "entering a consumer group.",
     false}, /* 79 */
    {"PREFERRED_LEADER_NOT_AVAILABLE",
     "The preferred leader was not available.", true}, /* 80 */
    {"GROUP_MAX_SIZE_REACHED", "The group has reached its maximum size.",
     false}, /* 81 */
    {"FENCED_INSTANCE_ID",
     "The broker rejected this static consumer since another consumer with the "
     "same group.instance.id has registered with a different member.id.",
     false}, /* 82 */
    {"ELIGIBLE_LEADERS_NOT_AVAILABLE",
     "Eligible topic partition leaders are not available.", true}, /* 83 */
    {"ELECTION_NOT_NEEDED", "Leader election not needed for topic partition.",
     true}, /* 84 */
    {"NO_REASSIGNMENT_IN_PROGRESS", "No partition reassignment is in progress.",
     false}, /* 85 */
    {"GROUP_SUBSCRIBED_TO_TOPIC",
     "Deleting offsets of a topic is forbidden while the consumer group is "
     "actively subscribed to it.",
     false}, /* 86 */
    {"INVALID_RECORD",
     "This record has failed the validation on broker and hence will be "
     "rejected.",
     false}, /* 87 */
    {"UNSTABLE_OFFSET_COMMIT",
     "There are unstable offsets that need to be cleared.", true}, /* 88 */
    {"THROTTLING_QUOTA_EXCEEDED", "The throttling quota has been exceeded.",
     true}, /* 89 */
    {"PRODUCER_FENCED",
     "There is a newer producer with the same transactionalId which fences the "
     "current one.",
     false}, /* 90 */
    {"RESOURCE_NOT_FOUND",
     "A request illegally referred to a resource that does not exist.",
     false}, /* 91 */
    {"DUPLICATE_RESOURCE",
     "A request illegally referred to the same resource twice.",
     false}, /* 92 */
    {"UNACCEPTABLE_CREDENTIAL",
     "Requested credential would not meet criteria for acceptability.",
     false}, /* 93 */
    {"INCONSISTENT_VOTER_SET",
     "Indicates that the either the sender or recipient of a voter-only "
     "request is not one of the expected voters.",
     false}, /* 94 */
    {"INVALID_UPDATE_VERSION", "The given update version was invalid.",
     false}, /* 95 */
    {"FEATURE_UPDATE_FAILED",
     "Unable to update finalized features due to an unexpected server error.",
     false}, /* 96 */
    {"PRINCIPAL_DESERIALIZATION_FAILURE",
     "Request principal deserialization failed during forwarding. This "
     "indicates an internal error on the broker cluster security setup.",
     false},                                                            /* 97 */
    {"SNAPSHOT_NOT_FOUND", "Requested snapshot was not found.", false}, /* 98 */
    {"POSITION_OUT_OF_RANGE",
     "Requested position is not greater than or equal to zero, and less than "
     "the size of the snapshot.",
     false}, /* 99 */
    {"UNKNOWN_TOPIC_ID", "This server does not host this topic ID.",
     true}, /* 100 */
    {"DUPLICATE_BROKER_REGISTRATION", "This broker ID is already in use.",
     false}, /* 101 */
    {"BROKER_ID_NOT_REGISTERED", "The given broker ID was not registered.",
     false}, /* 102 */
    {"INCONSISTENT_TOPIC_ID",
     "The log's topic ID did not match the topic ID in the request.",
     true}, /* 103 */
    {"INCONSISTENT_CLUSTER_ID",
     "The clusterId in the request does not match that found on the server.",
     false}, /* 104 */
    {"TRANSACTIONAL_ID_NOT_FOUND", "The transactionalId could not be found.",
     false}, /* 105 */
    {"FETCH_SESSION_TOPIC_ID_ERROR",
     "The fetch session encountered inconsistent topic ID usage.",
     true}, /* 106 */
    {"INELIGIBLE_REPLICA",
     "The new ISR contains at least one ineligible replica.", false}, /* 107 */
    {"NEW_LEADER_ELECTED",
     "The AlterPartition request successfully updated the partition state but "
     "the leader has changed.",
     false}, /* 108 */
    {"OFFSET_MOVED_TO_TIERED_STORAGE",
     "The requested offset is moved to tiered storage.", false}, /* 109 */
    {"FENCED_MEMBER_EPOCH",
     "The member epoch is fenced by the group coordinator. The member must "
     "abandon all its partitions and rejoin.",
     false}, /* 110 */
    {"UNRELEASED_INSTANCE_ID",
     "The instance ID is still used by another member in the consumer group. "
     "That member must leave first.",
     false}, /* 111 */
    {"UNSUPPORTED_ASSIGNOR",
     "The assignor or its version range is not supported by the consumer "
     "group.",
     false}, /* 112 */
    {"STALE_MEMBER_EPOCH",
     "The member epoch is stale. The member must retry after receiving its "
     "updated member epoch via the ConsumerGroupHeartbeat API.",
     false}, /* 113 */
    {"MISMATCHED_ENDPOINT_TYPE",
     "The request was sent to an endpoint of the wrong type.", false}, /* 114 */
    {"UNSUPPORTED_ENDPOINT_TYPE", "This endpoint type is not supported yet.",
     false}, /* 115 */
    {"UNKNOWN_CONTROLLER_ID", "This controller ID is not known.",
     false}, /* 116 */
    {"UNKNOWN_SUBSCRIPTION_ID",
     "Client sent a push telemetry request with an invalid or outdated "
     "subscription ID.",
     false}, /* 117 */
    {"TELEMETRY_TOO_LARGE",
     "Client sent a push telemetry request larger than the maximum size the "
     "broker will accept.",
     false}, /* 118 */
    {"INVALID_REGISTRATION",
     "The controller has considered the broker registration to be invalid.",
     false}, /* 119 */
    {"TRANSACTION_ABORTABLE",
     "The server encountered an error with the transaction. The client can "
     "abort the transaction to continue using this transactional ID.",
     false}, /* 120 */
    {"INVALID_RECORD_STATE",
     "The record state is invalid. The acknowledgement of delivery could not "
     "be completed.",
     false}, /* 121 */
    {"SHARE_SESSION_NOT_FOUND", "The share session was not found.",
     true}, /* 122 */
    {"INVALID_SHARE_SESSION_EPOCH", "The share session epoch is invalid.",
     true}, /* 123 */
    {"FENCED_STATE_EPOCH",
     "The share coordinator rejected the request because the share-group state "
     "epoch did not match.",
     false}, /* 124 */
    {"INVALID_VOTER_KEY",
     "The voter key doesn't match the receiving replica's key.",
     false}, /* 125 */
    {"DUPLICATE_VOTER", "The voter is already part of the set of voters.",
     false}, /* 126 */
    {"VOTER_NOT_FOUND", "The voter is not part of the set of voters.",
     false}, /* 127 */
    {"INVALID_REGULAR_EXPRESSION", "The regular expression is not valid.",
     false}, /* 128 */
    {"REBOOTSTRAP_REQUIRED",
     "Client metadata is stale. The client should rebootstrap to obtain new "
     "metadata.",
     false}, /* 129 */
    {"STREAMS_INVALID_TOPOLOGY", "The supplied topology is invalid.",
     false}, /* 130 */
    {"STREAMS_INVALID_TOPOLOGY_EPOCH",
     "The supplied topology epoch is invalid.", false}, /* 131 */
    {"STREAMS_TOPOLOGY_FENCED", "The supplied topology epoch is outdated.",
     false}, /* 132 */
    {"SHARE_SESSION_LIMIT_REACHED",
     "The limit of share sessions has been reached.", true}, /* 133 */
};

static const proto_error_info *lookup(int16_t code) {
    int idx = (int)code + 1;
    if (idx < 0 || (size_t)idx >= sizeof(errs) / sizeof(errs[0]))
        return NULL;
    return &errs[idx];
}

const char *proto_error_name(int16_t code) {
    const proto_error_info *e = lookup(code);
    return e ? e->name : "UNKNOWN";
}

const char *proto_error_message(int16_t code) {
    const proto_error_info *e = lookup(code);
    return e ? e->msg : "Unknown error code";
}

bool proto_error_retriable(int16_t code) {
    const proto_error_info *e = lookup(code);
    return e && e->retriable;
}

bool proto_error_known(int16_t code) {
    return lookup(code) != NULL;
}
