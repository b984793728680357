/*
 * arena.h - region allocator: one per request (nginx pool). Everything a
 * request decodes or builds lives in its arena and is released at once when
 * the response has been sent.
 *
 * Ownership: memory from arena_alloc belongs to the arena; never free() it.
 * arena_reset keeps the first block for reuse; arena_free releases all.
 * Threading: an arena belongs to one thread at a time; no locking.
 */
#ifndef SL_ARENA_H
#define SL_ARENA_H

#include <stddef.h>

typedef struct arena_block arena_block;

typedef struct arena {
    arena_block *head; /* current block (linked to older ones) */
    size_t block_size; /* default size of new blocks */
    size_t total;      /* bytes handed out since the last reset */
} arena;

void arena_init(arena *a, size_t block_size);
/* 16-byte aligned, never NULL (aborts on out-of-memory). */
void *arena_alloc(arena *a, size_t n);
/* Zeroed. */
void *arena_calloc(arena *a, size_t count, size_t size);
char *arena_strndup(arena *a, const char *s, size_t n);
void *arena_memdup(arena *a, const void *p, size_t n);
void arena_reset(arena *a);
void arena_free(arena *a);

#endif
