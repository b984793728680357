/*
 * test.h - the C unit-test runner. A test is
 *     TEST(name) { CHECK(cond); CHECK_EQ(a, b); ... }
 * registered at load time; `build/test_unit [substring]` runs all (or those
 * whose name contains the substring) and ends with "N passed, N failed".
 * Tests that use randomness take their seed from test_seed() (printed; set
 * SLUICE_TEST_SEED to replay a run).
 */
#ifndef SL_TEST_H
#define SL_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
/* Record a failure for the running test (the test keeps running). */
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
uint64_t test_seed(void);
/* A fresh empty directory for this test (removed afterwards). */
const char *test_tmpdir(void);

#define TEST(name)                                                             \
    static void test_##name(void);                                             \
    __attribute__((constructor)) static void test_reg_##name(void) {           \
        test_register(#name, test_##name);                                     \
    }                                                                          \
    static void test_##name(void)

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                 \
    } while (0)

#define CHECK_EQ(a, b)                                                         \
    do {                                                                       \
        long long _a = (long long)(a), _b = (long long)(b);                    \
        if (_a != _b)                                                          \
            test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b,    \
                      _a, _b);                                                 \
    } while (0)

#define CHECK_STR(a, b)                                                        \
    do {                                                                       \
        const char *_a = (a), *_b = (b);                                       \
        if (!_a || !_b || strcmp(_a, _b))                                      \
            test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a,    \
                      #b, _a ? _a : "(null)", _b ? _b : "(null)");             \
    } while (0)

#define CHECK_MEM(a, b, n)                                                     \
    do {                                                                       \
        if (memcmp((a), (b), (n)))                                             \
            test_fail(__FILE__, __LINE__, "memory %s != %s (%zu bytes)", #a,   \
                      #b, (size_t)(n));                                        \
    } while (0)

#endif
