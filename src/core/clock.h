/*
 * clock.h - time and randomness behind a small interface, so tests and the
 * simulator can control them (TigerBeetle, FoundationDB).
 *
 * Production code reads time only through clk_mono_ns/clk_wall_ms, which
 * read the clock of the current environment (core/env.h: each simulated
 * node has its own, so skew can be simulated); clk_set installs the clock
 * of the process environment (what a thread that entered no env sees): a
 * test installs its own clock with it and advances it by hand.
 *
 * rng: xoshiro256** seeded explicitly; every test that uses randomness prints
 * its seed so a run can be replayed.
 * Threading: clk_set must be called before other threads start; the rng is
 * per-owner state, not shared.
 */
#ifndef SL_CLOCK_H
#define SL_CLOCK_H

#include <stdint.h>

typedef struct clk_ops {
    int64_t (*mono_ns)(void *ctx); /* monotonic nanoseconds */
    int64_t (*wall_ms)(void *ctx); /* milliseconds since the Unix epoch */
    void *ctx;
} clk_ops;

/* Install a clock; NULL restores the system clock. */
void clk_set(const clk_ops *ops);
int64_t clk_mono_ns(void);
static inline int64_t clk_mono_ms(void) {
    return clk_mono_ns() / 1000000;
}
int64_t clk_wall_ms(void);

/* A manual clock for tests: time moves only when advanced. */
typedef struct clk_manual {
    int64_t mono_ns;
    int64_t wall_ms;
} clk_manual;
void clk_manual_install(clk_manual *m);
void clk_manual_advance_ms(clk_manual *m, int64_t ms);

typedef struct rng {
    uint64_t s[4];
} rng;

void rng_seed(rng *r, uint64_t seed);
uint64_t rng_next(rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t rng_below(rng *r, uint64_t n);
/* A seed from the OS (getrandom), for production use and printed test seeds. */
uint64_t rng_os_seed(void);
/* Fill with the random source of the current environment (cluster ids,
 * topic ids, producer ids): the OS, unless the env has a seeded rng. */
void rng_os_bytes(void *p, unsigned n);
/* Replace the OS source of the process environment with a seeded rng (a
 * test; a simulator gives each node's env its own); NULL restores the OS.
 * Like clk_set: before other threads start, and the rng is then drawn from
 * without a lock, so only for single-threaded runs. */
void rng_os_install(rng *r);

#endif
