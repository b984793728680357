/*
 * tool_quorum.h - kafka-metadata-quorum.sh's add-controller and
 * remove-controller commands (tool_quorum.c), called by
 * tool_metadata_quorum_main (tool_cluster.c) once connected.
 * Single-threaded; each call owns what it allocates.
 */
#ifndef SL_TOOLS_TOOL_QUORUM_H
#define SL_TOOLS_TOOL_QUORUM_H

#include "tools/kclient.h"
#include "tools/tool_common.h"

/* Return the tool's exit code (0 or 1). add-controller needs
 * --command-config (checked by the caller). */
int tool_quorum_add_controller(tool_args *a, kc_conn *kc);
int tool_quorum_remove_controller(tool_args *a, kc_conn *kc);

#endif
