#include "clock.h"

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

static const clk_ops sys_clock = {sys_mono_ns, sys_wall_ms, NULL};
static clk_ops cur = {sys_mono_ns, sys_wall_ms, NULL};

void clk_set(const clk_ops *ops) {
    cur = ops ? *ops : sys_clock;
}
int64_t clk_mono_ns(void) {
    return cur.mono_ns(cur.ctx);
}
int64_t clk_wall_ms(void) {
    return cur.wall_ms(cur.ctx);
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

static rng *os_override;

void rng_os_install(rng *r) {
    os_override = r;
}

void rng_os_bytes(void *p, unsigned n) {
    unsigned char *c = p;
    if (os_override) {
        while (n) {
            uint64_t v = rng_next(os_override);
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
