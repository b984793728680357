#include "clock.h"

#include "core/env.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static int64_t sys_mono_ns(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t sys_wall_ms(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The process clock is sl_env_process.clock; a NULL mono_ns there (or in
 * any env) means the system clock. */
void clk_set(const clk_ops *ops) {
    if (ops)
        sl_env_process.clock = *ops;
    else
        memset(&sl_env_process.clock, 0, sizeof sl_env_process.clock);
}
int64_t clk_mono_ns(void) {
    const clk_ops *c = &sl_env_cur()->clock;
    return c->mono_ns ? c->mono_ns(c->ctx) : sys_mono_ns(NULL);
}
int64_t clk_wall_ms(void) {
    const clk_ops *c = &sl_env_cur()->clock;
    return c->wall_ms ? c->wall_ms(c->ctx) : sys_wall_ms(NULL);
}

static int64_t man_mono(void *ctx) {
    return ((clk_manual *)ctx)->mono_ns;
}
static int64_t man_wall(void *ctx) {
    return ((clk_manual *)ctx)->wall_ms;
}

void clk_manual_install(clk_manual *m) {
    clk_ops ops = {man_mono, man_wall, m};
    clk_set(&ops);
}

void clk_manual_advance_ms(clk_manual *m, int64_t ms) {
    m->mono_ns += ms * 1000000;
    m->wall_ms += ms;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void rng_seed(rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t rng_below(rng *r, uint64_t n) {
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do
        v = rng_next(r);
    while (v >= lim);
    return v % n;
}

void rng_os_install(rng *r) {
    sl_env_process.rng = r;
}

void rng_os_bytes(void *p, unsigned n) {
    unsigned char *c = p;
    rng *seeded = sl_env_cur()->rng;
    if (seeded) {
        while (n) {
            uint64_t v = rng_next(seeded);
            unsigned k = n < 8 ? n : 8;
            memcpy(c, &v, k);
            c += k;
            n -= k;
        }
        return;
    }
    while (n) {
        ssize_t got = getrandom(c, n, 0);
        if (got <= 0) {
            /* Fall back to the clock: never used for security. */
            uint64_t x =
                (uint64_t)sys_mono_ns(NULL) ^ (uint64_t)sys_wall_ms(NULL);
            while (n) {
                uint64_t v = splitmix64(&x);
                unsigned k = n < 8 ? n : 8;
                memcpy(c, &v, k);
                c += k;
                n -= k;
            }
            return;
        }
        c += got;
        n -= (unsigned)got;
    }
}

uint64_t rng_os_seed(void) {
    uint64_t s;
    rng_os_bytes(&s, sizeof(s));
    return s;
}
