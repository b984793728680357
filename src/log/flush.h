/*
 * flush.h - Kafka's flush policy for the partition logs, with the fsyncs done
 * by a flusher so the event loop never blocks in fsync (implemented in
 * flusher.c, on the partition state of log_int.h).
 *
 * Policy (as Kafka's UnifiedLog/LogManager):
 *  - flush.messages (log.flush.interval.messages): once a partition holds that
 *    many records not yet flushed, an append makes a flush due; the request
 *    that did it is answered only after that flush completed (Kafka flushes
 *    inside the append before answering, whatever acks).
 *  - flush.ms (log.flush.interval.ms, else log.flush.scheduler.interval.ms):
 *    log_manager_flush_check, run every log.flush.scheduler.interval.ms, makes
 *    due every partition not flushed for that long. Nobody waits for it.
 *  - segment roll: the rolled segment (.log, .index, .timeindex) is synced in
 *    the background and the recovery point moves to the new segment's base.
 *  - clean shutdown (log_manager_close): everything, synchronously.
 *  Defaults (Long.MAX_VALUE): never; data is left to the OS's write-back, so
 *  a killed process loses nothing (the page cache keeps it), an OS crash or
 *  power loss may lose what was not written back, and the restart re-reads
 *  every segment after the recovery point (unclean shutdown).
 *
 * Loop-thread protocol (the server's before-sleep hook):
 *   done = log_manager_flush_reap(mgr);      apply finished jobs
 *   if (log_manager_flush_pending(mgr))      something due or rolled
 *       t = log_manager_flush_begin(mgr);    hand it to the flusher
 * A finished job moves the partition's recovery point (if the partition was
 * not truncated or deleted meanwhile) or, on an fsync error, takes the
 * partition offline (KAFKA_STORAGE_ERROR) as a failed synchronous flush does.
 * The flusher is a one-worker executor of the node's environment (core/env.h:
 * a thread in production; inline under a simulator, where a batch is synced
 * inside log_manager_flush_begin and notify runs there). It calls the
 * notify function (from its worker) after each
 * batch; it must only wake the loop (net_loop_wake).
 *
 * Threading: every function here is for the loop thread (the thread that
 * owns the log_manager), except that notify runs on the flusher's worker. The
 * log_io of the manager must allow fsync, fsync_dir and syncfs from the
 * flusher's worker (posix does; tests/sim/crashfs locks).
 */
#ifndef SL_LOG_FLUSH_H
#define SL_LOG_FLUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "log/log.h"

/* Sets the function the flusher calls after finishing a batch. */
void log_manager_set_flush_notify(log_manager *mgr, void (*fn)(void *ctx),
                                  void *ctx);
/* True if the last append made a flush of this partition due (flush.messages
 * reached) and it has not been begun yet: the produce handler answers after
 * the flush (BRK_AFTER_FLUSH). */
bool log_flush_is_due(const log_partition *part);
/* Makes due every partition with unflushed records whose flush.ms elapsed
 * (Kafka's kafka-log-flusher task). Returns how many. */
int log_manager_flush_check(log_manager *mgr);
/* True if there is work to hand to the flusher. */
bool log_manager_flush_pending(const log_manager *mgr);
/* Hands every due partition and rolled segment to the flusher (started
 * on first use) as one batch; returns its ticket (increasing from 1). */
uint64_t log_manager_flush_begin(log_manager *mgr);
/* Applies the finished jobs; returns the highest ticket whose jobs, and
 * every earlier ticket's, are all done (0 if none yet). */
uint64_t log_manager_flush_reap(log_manager *mgr);
/* Blocks until every begun job is done, then reaps (tests, shutdown). */
uint64_t log_manager_flush_wait(log_manager *mgr);

#endif
