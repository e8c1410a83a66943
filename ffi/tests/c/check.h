/* A minimal test harness for the C tests of libkled: CHECK counts, a
 * failure prints where and kled's last error, and the summary line is
 * "N passed, N failed". Counters are atomic: tests run threads. */
#ifndef KLED_CHECK_H
#define KLED_CHECK_H

#include <kled.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_int checks_passed;
static atomic_int checks_failed;

#define CHECK(cond)                                                                                  \
    do {                                                                                             \
        if (cond) {                                                                                  \
            atomic_fetch_add(&checks_passed, 1);                                                     \
        } else {                                                                                     \
            atomic_fetch_add(&checks_failed, 1);                                                     \
            fprintf(stderr, "%s:%d: CHECK(%s) failed (last kled error: %s)\n", __FILE__, __LINE__,    \
                    #cond, kled_last_error_message());                                               \
        }                                                                                            \
    } while (0)

/* Checks that `expr` returns the status `want`. */
#define CHECK_STATUS(expr, want)                                                                     \
    do {                                                                                             \
        kled_status got_ = (expr);                                                                   \
        if (got_ == (want)) {                                                                        \
            atomic_fetch_add(&checks_passed, 1);                                                     \
        } else {                                                                                     \
            atomic_fetch_add(&checks_failed, 1);                                                     \
            fprintf(stderr, "%s:%d: %s gave %s, want %s (last kled error: %s)\n", __FILE__,         \
                    __LINE__, #expr, kled_status_name(got_), kled_status_name(want),                 \
                    kled_last_error_message());                                                      \
        }                                                                                            \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, KLED_OK)

/* Checks that the last error message on this thread contains `needle`. */
#define CHECK_MESSAGE_HAS(needle)                                                                    \
    do {                                                                                             \
        const char *msg_ = kled_last_error_message();                                                \
        if (msg_ && strstr(msg_, (needle))) {                                                        \
            atomic_fetch_add(&checks_passed, 1);                                                     \
        } else {                                                                                     \
            atomic_fetch_add(&checks_failed, 1);                                                     \
            fprintf(stderr, "%s:%d: last error %s does not mention %s\n", __FILE__, __LINE__,        \
                    msg_ ? msg_ : "(null)", (needle));                                               \
        }                                                                                            \
    } while (0)

/* Prints the summary line and gives the process's exit status. */
static int checks_summary(const char *suite) {
    int p = atomic_load(&checks_passed), f = atomic_load(&checks_failed);
    printf("%s: %d passed, %d failed\n", suite, p, f);
    return f == 0 && p > 0 ? 0 : 1;
}

#endif
