#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct arena_block {
    arena_block *prev;
    size_t cap;
    size_t used;
    _Alignas(16) unsigned char data[];
};

void arena_init(arena *a, size_t block_size) {
    a->head = NULL;
    a->block_size = block_size ? block_size : 4096;
    a->total = 0;
}

static arena_block *block_new(size_t cap, arena_block *prev) {
    arena_block *b = xmalloc(sizeof(*b) + cap);
    b->prev = prev;
    b->cap = cap;
    b->used = 0;
    return b;
}

void *arena_alloc(arena *a, size_t n) {
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n)
        sl_assert_fail("arena size overflow", __FILE__, __LINE__);
    arena_block *b = a->head;
    if (!b || b->cap - b->used < need) {
        size_t cap = need > a->block_size ? need : a->block_size;
        if (b && need > a->block_size) {
            /* Big allocation: give it its own block behind the current one
             * so the current block's free space is not wasted. */
            arena_block *big = block_new(cap, b->prev);
            b->prev = big;
            big->used = need;
            a->total += need;
            return big->data;
        }
        b = block_new(cap, b);
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += need;
    a->total += need;
    return p;
}

void *arena_calloc(arena *a, size_t count, size_t size) {
    if (size && count > SIZE_MAX / size)
        sl_assert_fail("arena calloc overflow", __FILE__, __LINE__);
    void *p = arena_alloc(a, count * size);
    memset(p, 0, count * size);
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n) {
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void *arena_memdup(arena *a, const void *src, size_t n) {
    void *p = arena_alloc(a, n);
    if (n)
        memcpy(p, src, n);
    return p;
}

void arena_reset(arena *a) {
    arena_block *b = a->head;
    if (!b)
        return;
    /* Keep the oldest default-sized block; free the rest. */
    arena_block *keep = NULL;
    while (b) {
        arena_block *prev = b->prev;
        if (!prev && b->cap == a->block_size)
            keep = b;
        else
            free(b);
        b = prev;
    }
    if (keep) {
        keep->used = 0;
        keep->prev = NULL;
    }
    a->head = keep;
    a->total = 0;
}

void arena_free(arena *a) {
    arena_block *b = a->head;
    while (b) {
        arena_block *prev = b->prev;
        free(b);
        b = prev;
    }
    a->head = NULL;
    a->total = 0;
}
