/*
 * tool_txn.h - kafka-transactions.sh's abort and find-hanging commands
 * (tool_txn.c), called by tool_transactions_main (tool_cluster.c) with the
 * parsed flags and a connection to the bootstrap broker.
 * Single-threaded; each call owns what it allocates.
 */
#ifndef SL_TOOLS_TOOL_TXN_H
#define SL_TOOLS_TOOL_TXN_H

#include "tools/kclient.h"
#include "tools/tool_common.h"

/* Return the tool's exit code (0 or 1). */
int tool_txn_abort(tool_args *a, kc_conn *kc, int timeout);
int tool_txn_find_hanging(tool_args *a, kc_conn *kc, int timeout);

#endif
