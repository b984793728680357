/*
 * env.h - the injected environment of a node (sl_env): its clock, its
 * seeded random source, its file system, the executor of its background
 * work, its network transport and its fault points. Production runs on the
 * process environment (system clock, OS randomness, POSIX files, threads,
 * epoll on sockets, no fault armed); tests/sim runs several nodes in one
 * process, each on an environment of simulated time (with its own skew),
 * a seeded rng, a crash file system (tests/sim/crashfs.h), an inline
 * executor and an in-memory network (tests/sim/simnet.h), so a whole run
 * replays from one seed (TigerBeetle's VOPR, FoundationDB's simulation).
 *
 * How code reaches its environment: through the CURRENT environment of the
 * calling thread (sl_env_cur), not through a parameter. A net_loop is bound
 * to the environment current when it was made (net_loop_new) and makes it
 * current while it runs (net_loop_run / poll / drain), so every handler,
 * timer and hook of a node runs with that node's environment; a thread that
 * never entered one (production, a worker thread) sees the process
 * environment, so production sets nothing and pays one thread-local load
 * per clock read. Why this and not explicit passing: the clock alone is
 * read at ~60 call sites in every layer (log, group, txn, broker, net) and
 * randomness at the UUID and jitter sites; threading an env (or a node)
 * pointer through all of them, and through the log and codec APIs that do
 * not otherwise need one, would touch most signatures of the tree while
 * the other reshaping steps are in flight, for no gain in soundness: the
 * threading model already says that a node's state is used only on its
 * loop's thread, and the loop is exactly where the environment is switched.
 * What it costs: code that runs for a node outside its loop (start-up
 * before the loop runs, a test poking at a node) must enter the node's
 * environment itself (sl_env_enter / sl_env_leave), and background work
 * (flusher, cleaner) must go through the executor of its env: under
 * simulation that runs inline, on the loop, in the node's env; in
 * production worker threads see the process env, which is the node's.
 *
 * Fields left NULL mean the production implementation, so an env built for
 * a test names only what it replaces.
 *
 * Ownership: an env and everything it points to belong to whoever made it
 * (the simulator, a test) and must outlive every loop bound to it.
 * Threading: the current env is per thread. sl_env_process is changed only
 * before other threads start (clk_set, rng_os_install); the rng of an env
 * is drawn from without a lock, so an env with an rng is for one thread.
 */
#ifndef SL_ENV_H
#define SL_ENV_H

#include <stdbool.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/fault.h"
#include "core/fs.h"

struct log_io;  /* the file-system seam, src/log/log.h */
struct net_sys; /* the loop's transport, src/net/net.h */

/* ---- executor --------------------------------------------------------------
 * Background work: the log flusher and the cleaner workers submit tasks
 * instead of owning threads. A production executor runs them on its own
 * worker threads (threads == 1: in submission order); the inline one runs
 * each task at once, inside sl_exec_submit, on the caller's thread, so a
 * simulation stays single-threaded and deterministic. */
typedef struct sl_executor sl_executor;
typedef void (*sl_task_fn)(void *arg);

typedef struct sl_exec_ops {
    /* A new executor of `threads` workers named name (thread names). */
    sl_executor *(*create)(void *ctx, const char *name, int threads);
    void *ctx;
} sl_exec_ops;

struct sl_executor {
    void (*submit)(sl_executor *ex, sl_task_fn fn, void *arg);
    /* Runs what was submitted to the end, stops the workers, frees. */
    void (*destroy)(sl_executor *ex);
    bool is_inline; /* tasks run inside submit */
};

/* Worker threads (production). */
extern const sl_exec_ops sl_exec_threads;
/* Inline (simulation, tests). */
extern const sl_exec_ops sl_exec_inline;

/* ---- the environment ------------------------------------------------------
 */
typedef struct sl_env {
    const char *name;          /* for diagnostics: "node-1" */
    clk_ops clock;             /* mono_ns == NULL: the system clock */
    rng *rng;                  /* UUIDs, jitter, seeds; NULL: the OS */
    const struct log_io *fs;   /* NULL: log_io_posix */
    const sl_exec_ops *exec;   /* NULL: sl_exec_threads */
    const struct net_sys *net; /* NULL: epoll on sockets (net_sys_posix) */
    sl_faults *faults;         /* NULL: the process registry */
    /* A fatal error stops the node (a failed metadata log dir...): NULL
     * exits the process (_exit(code)); a simulator marks the node dead
     * and crashes it after the current callback returns. */
    void (*halt)(void *ctx, int code);
    void *halt_ctx;
} sl_env;

/* The process environment: what a thread that entered none sees. */
extern sl_env sl_env_process;
extern _Thread_local const sl_env *sl_env_tls;

static inline const sl_env *sl_env_cur(void) {
    const sl_env *e = sl_env_tls;
    return e ? e : &sl_env_process;
}
/* The env entered on this thread, NULL if none (the process env applies). */
static inline const sl_env *sl_env_entered(void) {
    return sl_env_tls;
}
/* Makes env current on this thread (NULL: the process env) and returns the
 * previous one for sl_env_leave. Nests. */
static inline const sl_env *sl_env_enter(const sl_env *env) {
    const sl_env *prev = sl_env_tls;
    sl_env_tls = env;
    return prev;
}
static inline void sl_env_leave(const sl_env *prev) {
    sl_env_tls = prev;
}

/* Helpers on the current env. */
sl_executor *sl_exec_new(const char *name, int threads);
static inline void sl_exec_submit(sl_executor *ex, sl_task_fn fn, void *arg) {
    ex->submit(ex, fn, arg);
}
static inline void sl_exec_free(sl_executor *ex) {
    if (ex)
        ex->destroy(ex);
}
/* Stops the node of the current env (see halt); returns only under a
 * simulator. */
void sl_env_halt(int code);

#endif
