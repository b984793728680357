/*
 * tool_features.h - kafka-features.sh's upgrade / downgrade / disable and
 * version-mapping commands (tool_features.c), called by tool_features_main
 * (tool_cluster.c). Single-threaded; each call owns what it allocates.
 */
#ifndef SL_TOOLS_TOOL_FEATURES_H
#define SL_TOOLS_TOOL_FEATURES_H

#include "tools/kclient.h"
#include "tools/tool_common.h"

/* op: "upgrade", "downgrade" or "disable". Returns the exit code. */
int tool_features_update(tool_args *a, const char *op, kc_conn *kc);
/* MetadataVersion.fromVersionString(s, true): the level, or -1 with
 * Kafka's message in err. */
int tool_metadata_version_level(const char *s, char *err, size_t cap);
/* The MetadataVersion name of a level ("4.0-IV3"), NULL if none. */
const char *tool_metadata_version_name(int level);

/* Offline: the feature levels a release version bootstraps with. */
int tool_features_version_mapping(tool_args *a);
/* feature-dependencies --feature f=level...: what each level requires. */
int tool_features_dependencies(tool_args *a);

#endif
