/* The C half of bench/c_abi.sh: per-call cost of exec `true` (argv, no
 * shell) through the C ABI (kled_terminal_execute, JSON spec parsing and
 * result accessors included), on a terminal named by KLED_BENCH_TERMINAL
 * in $KLED_HOME.
 *
 *   c_abi setup          create and start the terminal
 *   c_abi run N          print "c_abi n=N p50_us=X p99_us=Y fixed_p50_us=Z"
 *
 * fixed_p50_us is what the C layer itself costs, measured without any I/O:
 * a call whose spec is parsed and then refused by the core before it
 * reaches the agent (guard, UTF-8 check, JSON parse, runtime entry, error
 * path). An upper bound: a successful call skips the error message.
 *   c_abi teardown       remove it */
#define _POSIX_C_SOURCE 200809L
#include <kled.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void die(kled_status st, const char *what) {
    fprintf(stderr, "c_abi: %s: %s (%s)\n", what, kled_last_error_message(), kled_status_name(st));
    exit(1);
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One exec of `true`, as a C program would do it: run, read the exit, free. */
static void exec_true(const kled_terminal *t) {
    kled_exec_result *r = NULL;
    kled_exit e;
    kled_status st = kled_terminal_execute(t, "[\"true\"]", &r);
    if (st != KLED_OK) die(st, "execute");
    kled_exec_result_exit(r, &e);
    if (!e.has_exit_code || e.exit_code != 0) die(KLED_OK, "true did not exit 0");
    kled_exec_result_free(r);
}

int main(int argc, char **argv) {
    const char *name = getenv("KLED_BENCH_TERMINAL");
    if (argc < 2 || !name) {
        fprintf(stderr, "usage: KLED_HOME=DIR KLED_BENCH_TERMINAL=NAME c_abi setup|run N|teardown\n");
        return 2;
    }
    kled_manager *m = NULL;
    kled_terminal *t = NULL;
    kled_status st = kled_manager_new(NULL, NULL, &m);
    if (st != KLED_OK) die(st, "manager");
    if (strcmp(argv[1], "setup") == 0) {
        if ((st = kled_manager_create_terminal(m, "local", name, NULL, &t)) != KLED_OK) die(st, "create");
        if ((st = kled_terminal_start(t)) != KLED_OK) die(st, "start");
    } else if (strcmp(argv[1], "teardown") == 0) {
        if ((st = kled_manager_remove_terminal(m, name)) != KLED_OK) die(st, "remove");
    } else if (strcmp(argv[1], "run") == 0 && argc == 3) {
        int n = atoi(argv[2]);
        if (n < 1) return 2;
        if ((st = kled_manager_get_terminal(m, name, &t)) != KLED_OK) die(st, "get");
        for (int i = 0; i < 50; i++) exec_true(t); /* warm up: runtime, connection */
        double *times = malloc(sizeof *times * (size_t)n);
        for (int i = 0; i < n; i++) {
            double start = now_us();
            exec_true(t);
            times[i] = now_us() - start;
        }
        qsort(times, (size_t)n, sizeof *times, by_value);
        double p50 = times[n / 2], p99 = times[(int)(n * 0.99)];
        for (int i = 0; i < n; i++) {
            kled_exec_result *r = NULL;
            double start = now_us();
            st = kled_terminal_execute(t, "{\"command\": [\"\"]}", &r);
            times[i] = now_us() - start;
            if (st != KLED_ERR_INVALID_ARGUMENT) die(st, "an empty argv was not refused");
        }
        qsort(times, (size_t)n, sizeof *times, by_value);
        printf("c_abi n=%d p50_us=%.1f p99_us=%.1f fixed_p50_us=%.2f\n", n, p50, p99, times[n / 2]);
        free(times);
    } else {
        return 2;
    }
    kled_terminal_free(t);
    kled_manager_free(m);
    return 0;
}
