/*
 * controller.h - the controller's commit pipeline: metadata records in, a
 * callback on commit. ctl_submit appends the records to the controller's
 * log (ctl_log.h) at once, so commit order is submission order, and returns;
 * once the log says the batch is durable (checked by a before-sleep hook of
 * the loop, after the flusher woke it) the records are applied to the image
 * and the callback runs with KERR_NONE. No fsync runs on the event loop.
 *
 * Invariants (asserted where written):
 *  1. Callbacks run in submission order, each exactly once, never inside
 *     ctl_submit while a loop is attached (a handler that defers its reply
 *     may submit and then return BRK_DEFER).
 *  2. A batch's records are applied to the image before its callback runs
 *     and only once the log reports them durable; the image offset is the
 *     last applied record's.
 *  3. When the log fails (an fsync error), every pending submit, and every
 *     later one, fails with that Kafka error (KAFKA_STORAGE_ERROR) and is
 *     not applied: what the image holds is what a restart replays.
 *  4. An idle waiter (ctl_when_idle) runs only while nothing is pending, so
 *     records it computes from the image see every earlier submit applied.
 *
 * Without a loop (start-up before the loop runs, tools, tests) a submit
 * syncs at once and its callback runs inside ctl_submit.
 *
 * Ownership: the controller owns its ctl_log and the pending entries (with
 * copies of their records); the image belongs to the caller.
 * Threading: loop thread only.
 */
#ifndef SL_CONTROLLER_H
#define SL_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/image.h"
#include "controller/ctl_log.h"
#include "core/buf.h"
#include "net/net.h"

typedef struct ctl_controller ctl_controller;
/* err: KERR_NONE once committed and applied, else a Kafka error code. */
typedef void (*ctl_done_fn)(void *arg, int16_t err);

/* log NULL: in memory only (records are applied at the next poll). */
ctl_controller *ctl_new(cl_image *img, ctl_log *log);
/* Completes what is pending (syncing the log), then frees. */
void ctl_free(ctl_controller *c);
/* From now on submits complete asynchronously, polled by a before-sleep
 * hook on loop (which wakes itself while entries are waiting to be
 * flushed or completed). */
void ctl_attach_loop(ctl_controller *c, net_loop *loop);
/* Rebuilds the image from the log (start-up). 0, or -1 with err. */
int ctl_replay(ctl_controller *c, char *err, size_t errlen);

/* Submits values[0..n) (framed KRaft records, cl_record_frame), copied.
 * done (may be NULL) runs once, on commit or failure (invariant 1). */
void ctl_submit(ctl_controller *c, const buf *values, int n, ctl_done_fn done,
                void *arg);
/* Completes the submits the log now reports durable (or failed). The
 * before-sleep hook calls it; tests call it directly. */
void ctl_poll(ctl_controller *c);
/* Submits and blocks until committed (syncing the log on this thread);
 * for start-up and the coordinator services that cannot wait yet.
 * Returns the Kafka error. */
int16_t ctl_commit_sync(ctl_controller *c, const buf *values, int n);
/* The log offset the next submit's first record gets (Kafka's
 * nextWriteOffset: broker epochs are the offsets of registrations). */
int64_t ctl_next_offset(const ctl_controller *c);
/* The controller is the active one (Kafka's QuorumController claimed
 * leadership): a single node always; in a quorum the Raft leader once it
 * has applied everything committed before its epoch. Otherwise submits
 * fail NOT_CONTROLLER. */
bool ctl_active(const ctl_controller *c);
/* Submits not completed yet. */
size_t ctl_pending(const ctl_controller *c);

/* Operations that compute their records from the image (ISR changes,
 * fencing, elections, reassignments) must not run while other submits are
 * in flight: the image does not show those yet, and a record computed
 * without them would undo them (Kafka's controller reads its latest
 * in-memory state; this one reads the committed image, so such operations
 * wait for the pipeline to drain). fn(arg, false) runs once nothing is
 * pending, from the next ctl_poll (the loop's before-sleep hook; at once
 * without a loop), never inside ctl_when_idle; waiters run in order, one at a
 * time, the next only while nothing is pending (a waiter that submits holds the
 * others back until its commit). At ctl_free the waiters left run with
 * cancelled = true and must not submit. */
typedef void (*ctl_idle_fn)(void *arg, bool cancelled);
void ctl_when_idle(ctl_controller *c, ctl_idle_fn fn, void *arg);
/* Shutdown: every idle waiter runs now with cancelled = true, and so does
 * any later one. */
void ctl_cancel_waiters(ctl_controller *c);
/* Nothing pending and no idle waiter queued. */
bool ctl_idle(const ctl_controller *c);

#endif
