/*
 * internal.h - what replica.c shares with the replica fetchers
 * (fetcher.c) inside src/replica: the follower side of the append path,
 * the follower's high watermark and truncation, and the hooks by which the
 * replica manager tells the fetchers about role changes.
 * Threading: loop thread only, like the rest of the module.
 */
#ifndef SL_REPLICA_INTERNAL_H
#define SL_REPLICA_INTERNAL_H

#include "replica/fetcher.h"
#include "replica/replica.h"

/* What the manager knows of a replica (false: not hosted). */
typedef struct repl_info {
    log_partition *log; /* NULL while not open */
    repl_role role;
    int32_t leader; /* -1: none */
    int32_t leader_epoch;
} repl_info;
bool repl_info_of(const repl_manager *m, const repl_key *k, repl_info *out);

/* Appends fetched batches (offsets and epochs as the leader wrote them) to
 * the follower replica k, which must still be a follower at leader_epoch.
 * Returns the log's error, or NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH
 * when the replica changed. */
int16_t repl_follower_append(repl_manager *m, const repl_key *k,
                             int32_t leader_epoch, uint8_t *records, size_t len,
                             log_append_info *info);
/* The follower's high watermark from the leader's: min(leader HW, own LEO),
 * raised only (a truncation lowers it). */
void repl_follower_set_hw(repl_manager *m, const repl_key *k,
                          int64_t leader_hw);
/* Truncates the follower replica k to offset (divergence, out of range). */
int16_t repl_follower_truncate(repl_manager *m, const repl_key *k,
                               int64_t offset);
/* Truncates everything and starts the log at offset (the leader's log start
 * is past our log end: Kafka's truncateFullyAndStartAt). */
int16_t repl_follower_truncate_fully(repl_manager *m, const repl_key *k,
                                     int64_t offset);

/* The fetchers (fetcher.c), called by replica.c. */
void rf_partition_changed(repl_fetchers *fs, const repl_key *k);
void rf_partition_removed(repl_fetchers *fs, const repl_key *k);
repl_fetchers *repl_manager_fetchers(const repl_manager *m);
void repl_manager_set_fetchers(repl_manager *m, repl_fetchers *fs);

#endif
