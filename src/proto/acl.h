/*
 * acl.h - the names of Kafka's ACL enums by their wire codes
 * (ResourceType, PatternType, AclOperation, AclPermissionType), as Kafka's
 * toString prints them; shared by the broker's ACL APIs and kafka-acls.
 *
 * Ownership: static tables. Threading: read-only, any thread.
 */
#ifndef SLUICE_PROTO_ACL_H
#define SLUICE_PROTO_ACL_H

#include <stddef.h>

#define PROTO_ACL_RESOURCE_TYPES 8 /* UNKNOWN(0) .. USER(7) */
#define PROTO_ACL_PATTERN_TYPES 5  /* UNKNOWN(0) .. PREFIXED(4) */
#define PROTO_ACL_OPERATIONS 16    /* UNKNOWN(0) .. TWO_PHASE_COMMIT(15) */
#define PROTO_ACL_PERMISSIONS 4    /* UNKNOWN(0) .. ALLOW(3) */

extern const char
    *const proto_acl_resource_type_names[PROTO_ACL_RESOURCE_TYPES];
extern const char *const proto_acl_pattern_type_names[PROTO_ACL_PATTERN_TYPES];
extern const char *const proto_acl_operation_names[PROTO_ACL_OPERATIONS];
extern const char *const proto_acl_permission_names[PROTO_ACL_PERMISSIONS];

#endif
