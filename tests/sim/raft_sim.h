/*
 * raft_sim.h - a seeded, deterministic simulation of a KRaft quorum
 * (src/raft) in one process: 3 or 5 voters and an observer over a simulated
 * network (loss, delay, reordering, duplication, partitions) and simulated
 * disks (unsynced log writes dropped or kept in part at a crash), with
 * checkers run after every step (Kafka's RaftEventSimulationTest invariants
 * and more, see raft_sim.c). Test-only: never linked into the broker.
 *
 * Ownership: rsim_run allocates and frees everything it uses.
 * Threading: single-threaded; one run at a time per thread.
 */
#ifndef SL_RAFT_SIM_H
#define SL_RAFT_SIM_H

#include <stdbool.h>
#include <stdint.h>

typedef struct rsim_opts {
    uint64_t seed;
    uint64_t steps;
    int voters;     /* 3 or 5 */
    int observers;  /* 0 or 1 */
    bool snapshots; /* take snapshots and catch up through FetchSnapshot */
    bool trace;     /* print every event */
    bool quiet;     /* no summary line */
} rsim_opts;

typedef struct rsim_stats {
    uint64_t steps;
    uint64_t delivered, dropped, duplicated;
    uint64_t crashes, partitions;
    uint64_t elections; /* distinct leader epochs */
    int64_t committed;  /* global committed offset at the end */
    int64_t sim_ms;
    uint64_t snapshots_installed, snapshots_taken;
} rsim_stats;

/* Run one simulation. Returns true when every checker held; on a failure
 * prints what failed, the seed and the command that replays it. */
bool rsim_run(const rsim_opts *opts, rsim_stats *stats);

#endif
