/* The JSON arguments of the C ABI (manager config, terminal options, exec
 * specs, code requests) fed hostile text: random mutations of valid seeds,
 * deep nesting, huge numbers, wrong types. Every call must return a status
 * (with a message when it is an error) and never crash, leak or touch
 * memory it should not: this runs under AddressSanitizer and valgrind.
 *
 * Nothing harmful can run: the terminal's shell is /bin/true, so a mutated
 * shell-string command runs nothing, and argv seeds name /bin/true only.
 * Bounded: FUZZ_ITERATIONS cases per target (default 1500) or 20 seconds. */
#include "check.h"

#include <stdint.h>
#include <time.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *tokens[] = {"{", "}", "[", "]", ",", ":", "\"", "null", "true", "-1", "1e999", "0.0",
                               "18446744073709551616", "\"command\"", "\"timeout_secs\"", "\"env\"",
                               "\"max_output\"", "\"tty\"", "\"lang\"", "\"code\"", "\\u0000", "\\ud800", "\xc3\x28"};

/* A mutation of `seed` into `out` (NUL-terminated, at most cap-1 bytes). */
static void mutate(const char *seed, char *out, size_t cap) {
    size_t n = strlen(seed);
    if (n >= cap) n = cap - 1;
    memcpy(out, seed, n);
    out[n] = 0;
    int edits = 1 + (int)(next() % 4);
    for (int e = 0; e < edits; e++) {
        size_t len = strlen(out), at = len ? next() % (len + 1) : 0;
        switch (next() % 4) {
        case 0: /* flip a byte (never to NUL) */
            if (len) {
                char c = (char)(next() % 255 + 1);
                out[at % len] = c;
            }
            break;
        case 1: { /* insert a token */
            const char *t = tokens[next() % (sizeof tokens / sizeof *tokens)];
            size_t tl = strlen(t);
            if (len + tl < cap) {
                memmove(out + at + tl, out + at, len - at + 1);
                memcpy(out + at, t, tl);
            }
            break;
        }
        case 2: /* truncate */
            out[at] = 0;
            break;
        default: /* delete a byte */
            if (at < len) memmove(out + at, out + at + 1, len - at);
            break;
        }
    }
}

/* `depth` levels of [ ... ] around `inner` (serde_json's recursion limit must answer). */
static char *nested(int depth, const char *inner) {
    size_t n = strlen(inner);
    char *s = malloc(2 * (size_t)depth + n + 1);
    memset(s, '[', (size_t)depth);
    memcpy(s + depth, inner, n);
    memset(s + depth + n, ']', (size_t)depth);
    s[2 * depth + n] = 0;
    return s;
}

static int budget_left(time_t start) { return time(NULL) - start < 20; }

/* A status that is an error must come with a message. */
static void check_answer(kled_status st) {
    CHECK(st == KLED_OK || (kled_last_error_message() && kled_last_error_message()[0]));
}

int main(void) {
    const char *env_iter = getenv("FUZZ_ITERATIONS");
    int iterations = env_iter ? atoi(env_iter) : 1500;
    /* Under the suite's scratch dir when it has one (removed after the run). */
    const char *base = getenv("KLED_TEST_TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/kled-fuzz-XXXXXX", base && base[0] ? base : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    kled_manager *m = NULL;
    CHECK_OK(kled_manager_new(dir, NULL, &m));
    kled_terminal *t = NULL;
    CHECK_OK(kled_manager_create_terminal(m, "local", "fuzz", "{\"shell\": \"/bin/true\"}", &t));
    CHECK_OK(kled_terminal_start(t));

    static const char *option_seeds[] = {"{\"shell\": \"/bin/true\", \"env\": {\"A\": \"b\"}}", "{\"os\": \"linux\"}",
                                         "{\"env\": {\"K\": \"V\", \"L\": \"W\"}}", "null"};
    static const char *spec_seeds[] = {"{\"command\": \"x\", \"timeout_secs\": 1.5, \"env\": {\"K\": \"V\"}}",
                                       "{\"command\": [\"/bin/true\", \"a\"], \"max_output\": 10, \"cwd\": \"/\"}",
                                       "{\"command\": \"y\", \"stdin\": \"data\", \"tty\": {\"rows\": 5, \"cols\": 7}}",
                                       "\"z\"", "[\"/bin/true\"]"};
    static const char *code_seeds[] = {"{\"lang\": \"sh\", \"code\": \"x\", \"timeout_secs\": 2}",
                                       "{\"lang\": \"nope\", \"code\": \"\", \"args\": [\"a\"]}"};
    char buf[1024];
    time_t start = time(NULL);
    int cases = 0, ok = 0;
    for (int i = 0; i < iterations && budget_left(start); i++) {
        char name[32];
        snprintf(name, sizeof name, "f%d", i);
        mutate(option_seeds[next() % 4], buf, sizeof buf);
        kled_terminal *made = NULL;
        kled_status st = kled_manager_create_terminal(m, "local", name, buf, &made);
        check_answer(st);
        CHECK((st == KLED_OK) == (made != NULL));
        if (made) {
            CHECK_OK(kled_terminal_remove(made));
            kled_terminal_free(made);
        }
        mutate(spec_seeds[next() % 5], buf, sizeof buf);
        kled_exec_result *r = NULL;
        st = kled_terminal_execute(t, buf, &r);
        check_answer(st);
        CHECK((st == KLED_OK) == (r != NULL));
        ok += st == KLED_OK;
        kled_exec_result_free(r);
        mutate(code_seeds[next() % 2], buf, sizeof buf);
        r = NULL;
        st = kled_terminal_run_code_with(t, buf, &r);
        check_answer(st);
        kled_exec_result_free(r);
        cases += 3;
    }
    /* Deep nesting and odd shapes, for every JSON argument. */
    int depths[] = {1, 100, 200, 5000, 100000};
    for (size_t i = 0; i < sizeof depths / sizeof *depths; i++) {
        char *deep = nested(depths[i], "\"x\"");
        kled_terminal *made = NULL;
        check_answer(kled_manager_create_terminal(m, "local", "deep", deep, &made));
        if (made) {
            kled_terminal_remove(made);
            kled_terminal_free(made);
        }
        kled_exec_result *r = NULL;
        check_answer(kled_terminal_execute(t, deep, &r));
        kled_exec_result_free(r);
        r = NULL;
        check_answer(kled_terminal_run_code_with(t, deep, &r));
        kled_exec_result_free(r);
        free(deep);
    }
    printf("fuzzed %d calls in %ld s (%d execs accepted)\n", cases, (long)(time(NULL) - start), ok);
    CHECK(cases > 0);
    CHECK_OK(kled_terminal_remove(t));
    kled_terminal_free(t);
    kled_manager_free(m);
    return checks_summary("fuzz_json");
}
