/*
 * cleaner.h - log compaction (Apache Kafka's LogCleaner) for partitions
 * whose cleanup.policy contains "compact".
 *
 * What a cleaning pass does, as Kafka's Cleaner.doClean:
 *  1. Pick the filthiest log: dirty bytes (from the cleaner checkpoint to the
 *     first uncleanable offset) over total, above min.cleanable.dirty.ratio,
 *     or any dirty bytes once the first dirty batch is older than
 *     max.compaction.lag.ms. The first uncleanable offset is the smallest of
 *     the active segment's base (the active segment is never cleaned), the
 *     last stable offset (open transactions) and the first segment newer
 *     than min.compaction.lag.ms.
 *  2. Build the offset map (key -> newest offset) over the dirty range; the
 *     map has a fixed size (log.cleaner.dedupe.buffer.size / threads, 24
 *     bytes a slot, load factor 0.9). When it fills, the pass stops there
 *     and the rest is cleaned by later passes (Kafka does the same).
 *  3. Rewrite the segments below the map's end, grouped so a group stays
 *     under segment.bytes, into <base>.log.cleaned: a record stays if it is
 *     the newest of its key (offsets are kept: consumers see gaps); a
 *     tombstone stays until delete.retention.ms after the pass that first
 *     kept it (the batch gets the delete-horizon attribute and its base
 *     timestamp becomes the horizon, as Kafka 3+); records of aborted
 *     transactions go; a transaction marker stays while data of its
 *     transaction stays, then until its own horizon; the last batch of an
 *     active producer stays (emptied if needed) for sequence/epoch checks;
 *     batches keep baseOffset and lastOffsetDelta.
 *  4. Swap each group in on the loop thread (log_replace_segments ->
 *     log_cleaner_swap_in),
 *     then record the map's end in <log.dir>/cleaner-offset-checkpoint.
 *
 * Crash safety (Kafka's .cleaned -> .swap scheme): a group is written and
 * fsynced as <base>.log.cleaned (+ .txnindex.cleaned, and .index.cleaned /
 * .timeindex.cleaned built while the .log was written, so the swap never
 * re-reads the segment); then <base>.swapend (the group's end offset) is
 * written, the .cleaned files are renamed to .swap (the .log.swap rename is
 * the commit point), the old segments' files are unlinked, the .swap files
 * renamed over <base>.index / .timeindex / .txnindex and last .log, and
 * <base>.swapend removed. A recovered swap keeps the new indexes only if
 * they were still .swap; index files missing (or torn) are rebuilt from the
 * .log when the segment loads.
 * At open, log_cleaner_recover_dir (called by the log before it lists the
 * segments) finishes a swap whose .swap files exist (deletes segments in
 * [base, end), renames) and otherwise drops .cleaned leftovers, so a kill at
 * any point leaves either the old or the new segments, never both or none.
 *
 * Threading (cleaner_int.h and the top of cleaner.c / cleaner_work.c give
 * the full invariants): log.cleaner.threads worker threads (Kafka's
 * CleanerThreads; 0 disables cleaning) do the heavy work - reading sealed
 * segments, building the offset map (each thread gets
 * log.cleaner.dedupe.buffer.size / threads bytes), writing the .cleaned
 * files - from a snapshot of the partition taken when the pass starts; they
 * never touch the log's in-memory state, which has no locks. The loop
 * thread (log_cleaner_step) picks the dirtiest log
 * (min.cleanable.dirty.ratio, min/max.compaction.lag.ms, rechecked every
 * log.cleaner.backoff.ms when nothing is cleanable), hands it to an idle
 * worker, and performs each swap (the .cleaned -> .swap -> live renames and
 * the segment list change, in one call) when the worker reports a group
 * done, after checking the group's segments are unchanged; so readers on
 * the loop never see a half-swapped log. Retention, DeleteRecords,
 * truncation or topic deletion during a pass abort it (or make its
 * remaining groups be discarded); the checkpoint moves only after a whole
 * pass. Reads and writes of all workers together are throttled to
 * log.cleaner.io.max.bytes.per.second.
 *
 * Ownership: a log_cleaner belongs to its log_manager's (loop) thread; every
 * function below is called from that thread. Offset maps are allocated per
 * pass by the worker and freed at its end.
 */
#ifndef SL_LOG_CLEANER_H
#define SL_LOG_CLEANER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log/log.h"

struct ps_state;

typedef struct log_cleaner_opts {
    int64_t dedupe_buffer_size; /* log.cleaner.dedupe.buffer.size, 128 MiB */
    int threads;                /* log.cleaner.threads, 1 (0: disabled) */
    double load_factor;         /* log.cleaner.io.buffer.load.factor, 0.9 */
    int64_t backoff_ms;         /* log.cleaner.backoff.ms, 15000 */
    double io_max_bytes_per_second; /* throttle; <= 0 or huge: none */
    /* Called by a worker thread (any thread!) when the loop should call
     * log_cleaner_step soon (a group is ready to swap, a pass ended); the
     * broker wakes its loop. Read once, at log_cleaner_new. Optional. */
    void (*notify)(void *notify_ctx);
    void *notify_ctx;
    /* Producer state of a partition (last batch of each producer, first
     * unstable offset), or NULL if unknown. Optional. */
    struct ps_state *(*producer_state)(void *ctx, log_partition *part);
    void *ctx;
    const log_io *io; /* NULL: log_io_posix (tests inject crashes) */
} log_cleaner_opts;

void log_cleaner_opts_default(log_cleaner_opts *o);

typedef struct log_cleaner log_cleaner;

typedef struct log_cleaner_stats {
    int64_t passes;         /* completed passes */
    int64_t aborted_passes; /* dropped (log changed under them, errors) */
    int64_t bytes_read, bytes_written;
    int64_t records_removed;
    int64_t segments_swapped; /* groups swapped in (by the loop) */
    int64_t swap_us_max;      /* longest swap (time the loop spent) */
    int threads;              /* worker threads running */
    int running_passes;       /* passes handed to workers, not yet reaped */
    int64_t map_passes_full;  /* passes that stopped because the map filled */
    size_t map_bytes;         /* memory of the current/last offset map */
    size_t map_max_bytes;     /* largest map allocated so far */
} log_cleaner_stats;

/* Loads cleaner-offset-checkpoint of every log dir; starts the workers. */
log_cleaner *log_cleaner_new(log_manager *mgr, const log_cleaner_opts *o);
/* Cancels running passes, joins the workers, drops their .cleaned files,
 * writes the checkpoints, frees. */
void log_cleaner_free(log_cleaner *c);
void log_cleaner_set_opts(log_cleaner *c, const log_cleaner_opts *o);
/* Loop side: swaps the groups workers finished, reaps finished passes,
 * aborts passes whose partition is gone, hands the dirtiest log to an idle
 * worker. Returns the delay in ms before it should run again (earlier if
 * notify fires). Never blocks on a worker. */
int64_t log_cleaner_step(log_cleaner *c);
/* Waits up to timeout_ms for a worker event (tests). true if one came. */
bool log_cleaner_wait(log_cleaner *c, int64_t timeout_ms);
/* Steps (waiting for the workers) until no log is cleanable (tests, tools).
 * Returns passes done. */
int log_cleaner_run_until_idle(log_cleaner *c);
bool log_cleaner_busy(const log_cleaner *c);
/* A pass on part is running (its swap would come later); a log being
 * moved to another log dir is not picked (log_move_info). */
bool log_cleaner_cleaning(const log_cleaner *c, const log_partition *part);
void log_cleaner_get_stats(const log_cleaner *c, log_cleaner_stats *out);
/* The cleaner checkpoint (first dirty offset) of a partition, -1 if none. */
int64_t log_cleaner_checkpoint_of(const log_cleaner *c,
                                  const log_partition *part);

/* ---- offset map (exposed for tests) ---------------------------------------
 */
typedef struct log_cleaner_map {
    struct log_cleaner_slot *slots;
    size_t nslots, n, max_entries;
    int64_t latest_offset; /* -1 */
    int64_t lookups, probes;
} log_cleaner_map;
/* memory_bytes bounds the allocation (24 bytes a slot); at most
 * need_entries/load_factor slots are made (smaller dirty ranges). */
void log_cleaner_map_init(log_cleaner_map *m, size_t memory_bytes,
                          double load_factor, size_t need_entries);
void log_cleaner_map_free(log_cleaner_map *m);
size_t log_cleaner_map_bytes(const log_cleaner_map *m);
/* false if the map is full (entry not added; an existing key is updated). */
bool log_cleaner_map_put(log_cleaner_map *m, const void *key, size_t len,
                         int64_t offset);
int64_t log_cleaner_map_get(log_cleaner_map *m, const void *key, size_t len);

/* ---- file-level swap (called by the log) -----------------------------------
 */
/* Swaps <dir>/<bases[0]>.log for cleaned_log (and .txnindex for
 * cleaned_txnindex, may be NULL) and removes the segments bases[1..n)
 * (and every old index file), crash-safely (see above). with_indexes:
 * <bases[0]>.index.cleaned and .timeindex.cleaned (written and fsynced
 * with cleaned_log) become the segment's .index and .timeindex through the
 * same .cleaned -> .swap -> live renames. 0 or -1. */
int log_cleaner_swap_in(const log_io *io, const char *dir, const int64_t *bases,
                        int n, int64_t end, const char *cleaned_log,
                        const char *cleaned_txnindex, bool with_indexes);
/* At open: completes an interrupted swap in dir or rolls it back. 0, or -1
 * with errno if dir cannot be listed or its fsync failed (the caller takes
 * the partition offline). */
int log_cleaner_recover_dir(const log_io *io, const char *dir);

#endif
