/*
 * raft_sim_main.c - the raft-sim command (make raft-sim / raft-sim-long):
 *   raft_sim [--seed N] [--steps N] [--voters 3|5] [--observers 0|1]
 *            [--snapshots 0|1] [--sweep K] [--trace]
 * --sweep K runs K seeds from --seed on, alternating 3 and 5 voters unless
 * --voters is given, and prints the figures (steps/s). Exit status 1 on the
 * first failure, which prints the command that replays it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "raft_sim.h"

int main(int argc, char **argv) {
    rsim_opts o = {.seed = 0,
                   .steps = 200000,
                   .voters = 0,
                   .observers = 1,
                   .snapshots = true};
    uint64_t sweep = 0;
    bool seed_given = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--seed")) {
            o.seed = strtoull(v, NULL, 0), i++;
            seed_given = true;
        } else if (!strcmp(a, "--steps")) {
            o.steps = strtoull(v, NULL, 0), i++;
        } else if (!strcmp(a, "--voters")) {
            o.voters = atoi(v), i++;
        } else if (!strcmp(a, "--observers")) {
            o.observers = atoi(v), i++;
        } else if (!strcmp(a, "--snapshots")) {
            o.snapshots = atoi(v) != 0, i++;
        } else if (!strcmp(a, "--sweep")) {
            sweep = strtoull(v, NULL, 0), i++;
        } else if (!strcmp(a, "--trace")) {
            o.trace = true;
        } else {
            fprintf(stderr,
                    "usage: %s [--seed N] [--steps N] [--voters 3|5] "
                    "[--observers 0|1] [--snapshots 0|1] [--sweep K] "
                    "[--trace]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!seed_given)
        o.seed = rng_os_seed() % 1000000000ULL;
    int fixed_voters = o.voters;
    uint64_t runs = sweep ? sweep : 1;
    uint64_t total_steps = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t seed0 = o.seed;
    for (uint64_t k = 0; k < runs; k++) {
        o.seed = seed0 + k;
        o.voters = fixed_voters ? fixed_voters : (k % 2 ? 5 : 3);
        o.quiet = sweep > 1 && !o.trace;
        rsim_stats st;
        bool ok = rsim_run(&o, &st);
        total_steps += st.steps;
        if (!ok)
            return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) +
                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("raft-sim: %llu run(s) from seed %llu, %llu steps in %.1f s "
           "(%.0f steps/s), all checkers held\n",
           (unsigned long long)runs, (unsigned long long)seed0,
           (unsigned long long)total_steps, secs,
           secs > 0 ? (double)total_steps / secs : 0.0);
    return 0;
}
