/*
 * util.h - small shared helpers: checked allocation, endian loads/stores,
 * likely/unlikely, array length.
 *
 * Out-of-memory policy (decided once, held everywhere): small allocations
 * abort the process through xmalloc/xcalloc/xrealloc. Every size that comes
 * from the network is bounded before it reaches an allocator, so an abort
 * here means the machine is out of memory, not that a peer lied.
 *
 * Threading: all functions are thread-safe (they hold no state).
 */
#ifndef SL_UTIL_H
#define SL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A name/value pair of C strings (configs): owned by whoever holds it. */
typedef struct sl_kv {
    const char *name;
    const char *value;
} sl_kv;

#define SL_LIKELY(x) __builtin_expect(!!(x), 1)
#define SL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SL_MAX(a, b) ((a) > (b) ? (a) : (b))
#define SL_UNUSED(x) ((void)(x))

/* Cheap invariant that stays on in production builds (haproxy BUG_ON). */
#define SL_ASSERT(cond)                                                        \
    do {                                                                       \
        if (SL_UNLIKELY(!(cond)))                                              \
            sl_assert_fail(#cond, __FILE__, __LINE__);                         \
    } while (0)

_Noreturn void sl_assert_fail(const char *expr, const char *file, int line);

/* Allocation that aborts on failure. Returned memory is owned by the caller
 * and released with free(). */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

static inline uint16_t sl_load_be16(const uint8_t *p) {
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t sl_load_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}
static inline uint64_t sl_load_be64(const uint8_t *p) {
    return (uint64_t)sl_load_be32(p) << 32 | sl_load_be32(p + 4);
}
static inline void sl_store_be16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void sl_store_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void sl_store_be64(uint8_t *p, uint64_t v) {
    sl_store_be32(p, (uint32_t)(v >> 32));
    sl_store_be32(p + 4, (uint32_t)v);
}

#endif
