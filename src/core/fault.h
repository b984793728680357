/*
 * fault.h - named fault points (FoundationDB's BUGGIFY, SQLite's
 * test-control hooks): one registry, core/faults.def, instead of ad-hoc
 * crash hooks read from getenv in each module.
 *
 *   (void)SL_FAULT(TXN_AFTER_PREPARE);   crash here when armed
 *   if (SL_FAULT(X)) return error;       or stop what it was doing
 *
 * A point is off unless armed; while nothing at all is armed in the
 * process, SL_FAULT is one load and a not-taken branch (sl_faults_armed).
 * An armed point fires on its nth next hit (or every hit): the registry's
 * on_fire runs (NULL: SIGKILL the process, as the old crash hooks did) and
 * SL_FAULT is true, so the call site may also stop what it was doing when
 * on_fire returns (a simulator's crash returns: the node is dead from then
 * on, its disk and network cut, and it is restarted once the current
 * callback unwinds).
 *
 * Registries: each sl_env may carry its own (a simulator arms node by
 * node); code uses the current env's (core/env.h), the process registry
 * when the env has none.
 * Threading: arming is for set-up (before threads, or on the owning
 * loop's thread); hits may come from any thread of the env.
 */
#ifndef SL_FAULT_H
#define SL_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

typedef enum sl_fault_id {
#define SL_FAULT_POINT(id, name, doc) SL_FAULT_##id,
#include "core/faults.def"
#undef SL_FAULT_POINT
    SL_FAULT_COUNT
} sl_fault_id;

typedef struct sl_faults {
    /* 0 off; n > 0 fire on the nth next hit (then off); -1 every hit */
    int64_t armed[SL_FAULT_COUNT];
    int64_t hits[SL_FAULT_COUNT]; /* hits while armed */
    int64_t fired[SL_FAULT_COUNT];
    void (*on_fire)(void *ctx, sl_fault_id id); /* NULL: SIGKILL */
    void *ctx;
} sl_faults;

/* Points armed in any registry of the process (the fast path's test). */
extern int sl_faults_armed;

bool sl_fault_hit_(sl_fault_id id);
#define SL_FAULT(id)                                                           \
    (SL_UNLIKELY(sl_faults_armed != 0) && sl_fault_hit_(SL_FAULT_##id))

/* The point named name ("txn.after-prepare"), or -1. */
int sl_fault_lookup(const char *name);
const char *sl_fault_name(sl_fault_id id);
/* Arms id in f (NULL: the process registry): fire on the nth next hit
 * (nth >= 1) or on every hit (nth = -1); 0 disarms. */
void sl_fault_arm(sl_faults *f, sl_fault_id id, int64_t nth);
/* Arms from a list "name[@nth][,name[@nth]...]" (SLUICE_FAULTS); -1 with a
 * message naming the unknown point in err. */
int sl_fault_arm_list(sl_faults *f, const char *list, char *err, size_t errlen);
/* Disarms every point of f and forgets its counts. */
void sl_fault_reset(sl_faults *f);

#endif
