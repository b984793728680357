/* acl.c - see acl.h. Codes from Kafka's ResourceType, PatternType,
 * AclOperation and AclPermissionType (org.apache.kafka.common.*). */
#include "proto/acl.h"

const char *const proto_acl_resource_type_names[PROTO_ACL_RESOURCE_TYPES] = {
    "UNKNOWN",          "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID",
    "DELEGATION_TOKEN", "USER"};

const char *const proto_acl_pattern_type_names[PROTO_ACL_PATTERN_TYPES] = {
    "UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED"};

const char *const proto_acl_operation_names[PROTO_ACL_OPERATIONS] = {
    "UNKNOWN",
    "ANY",
    "ALL",
    "READ",
    "WRITE",
    "CREATE",
    "DELETE",
    "ALTER",
    "DESCRIBE",
    "CLUSTER_ACTION",
    "DESCRIBE_CONFIGS",
    "ALTER_CONFIGS",
    "IDEMPOTENT_WRITE",
    "CREATE_TOKENS",
    "DESCRIBE_TOKENS",
    "TWO_PHASE_COMMIT"};

const char *const proto_acl_permission_names[PROTO_ACL_PERMISSIONS] = {
    "UNKNOWN", "ANY", "DENY", "ALLOW"};
