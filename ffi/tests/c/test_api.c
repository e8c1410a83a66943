/* The C API of libkled against real local terminals: happy paths, every
 * NULL argument, invalid UTF-8, malformed and hostile JSON, unknown
 * terminals, freeing NULL, and 8 threads at once. Every terminal made here
 * is removed again; the state lives in a private directory under /tmp.
 *
 * Run by scripts/suites/20-c-go.sh, under AddressSanitizer and valgrind. */
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char home[128];

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* True when `len` bytes at `data` are exactly the string `want`. */
static int bytes_are(const uint8_t *data, size_t len, const char *want) {
    return len == strlen(want) && (len == 0 || memcmp(data, want, len) == 0);
}

static int stdout_is(const kled_exec_result *r, const char *want) {
    const uint8_t *data = NULL;
    size_t len = 0;
    if (kled_exec_result_stdout(r, &data, &len) != KLED_OK) return 0;
    if (!bytes_are(data, len, want)) {
        fprintf(stderr, "stdout was %.*s, want %s\n", (int)len, (const char *)data, want);
        return 0;
    }
    return 1;
}

static kled_exit exit_of(const kled_exec_result *r) {
    kled_exit e;
    memset(&e, 0xff, sizeof e);
    kled_exec_result_exit(r, &e);
    return e;
}

/* Runs `spec` and checks it exits 0 with `want` on stdout. */
static void run_expect(const kled_terminal *t, const char *spec, const char *want) {
    kled_exec_result *r = NULL;
    CHECK_OK(kled_terminal_execute(t, spec, &r));
    if (!r) return;
    CHECK(stdout_is(r, want));
    kled_exit e = exit_of(r);
    CHECK(e.has_exit_code && e.exit_code == 0 && !e.has_signal && !e.timed_out && !e.truncated);
    kled_exec_result_free(r);
}

static kled_terminal *started(kled_manager *m, const char *name) {
    kled_terminal *t = NULL;
    CHECK_OK(kled_manager_create_terminal(m, "local", name, NULL, &t));
    if (t) CHECK_OK(kled_terminal_start(t));
    return t;
}

static void remove_and_free(kled_terminal *t) {
    CHECK_OK(kled_terminal_remove(t));
    kled_terminal_free(t);
}

static void test_versions(void) {
    CHECK(kled_abi_version() == KLED_ABI_VERSION);
    CHECK(strcmp(kled_version(), KLED_VERSION) == 0);
    CHECK(strcmp(kled_status_name(KLED_OK), "ok") == 0);
    CHECK(strcmp(kled_status_name(KLED_ERR_NOT_FOUND), "not_found") == 0);
    CHECK(strcmp(kled_status_name(KLED_ERR_PANIC), "panic") == 0);
    CHECK(strcmp(kled_status_name(999), "unknown") == 0);
    CHECK(strcmp(kled_status_name(-1), "unknown") == 0);
}

static void *fresh_thread_message(void *arg) {
    (void)arg;
    const char *m = kled_last_error_message();
    return (void *)(intptr_t)(m != NULL && m[0] == '\0');
}

static void test_last_error_is_per_thread(void) {
    pthread_t th;
    void *empty = NULL;
    CHECK_STATUS(kled_manager_get_terminal(NULL, "x", NULL), KLED_ERR_NULL_ARGUMENT);
    pthread_create(&th, NULL, fresh_thread_message, NULL);
    pthread_join(th, &empty);
    CHECK(empty == (void *)1); /* a new thread has no message from this one */
    CHECK_MESSAGE_HAS("manager");
}

static void test_manager(void) {
    kled_manager *m = (kled_manager *)1, *other = NULL;
    char *path = NULL;
    CHECK_STATUS(kled_manager_new(home, "/nonexistent/kled-config.yaml", &m), KLED_ERR_CONFIG);
    CHECK(m == NULL);
    CHECK_MESSAGE_HAS("/nonexistent/kled-config.yaml");

    char config[192];
    snprintf(config, sizeof config, "%s/bad-config.yaml", home);
    FILE *f = fopen(config, "w");
    fputs("no_such_section: 1\n", f);
    fclose(f);
    CHECK_STATUS(kled_manager_new(home, config, &m), KLED_ERR_CONFIG);
    CHECK_MESSAGE_HAS("no_such_section");

    CHECK_OK(kled_manager_new(home, NULL, &m));
    CHECK_OK(kled_manager_state_dir(m, &path));
    CHECK(path && strcmp(path, home) == 0);
    kled_string_free(path);

    /* NULL state_dir: $KLED_HOME. */
    setenv("KLED_HOME", home, 1);
    CHECK_OK(kled_manager_new(NULL, NULL, &other));
    CHECK_OK(kled_manager_state_dir(other, &path));
    CHECK(path && strcmp(path, home) == 0);
    kled_string_free(path);
    kled_manager_free(other);

    /* A state directory is a host path: any bytes, not only UTF-8. */
    char odd[192];
    snprintf(odd, sizeof odd, "%s/odd-\xff\xfe", home);
    CHECK_OK(kled_manager_new(odd, NULL, &other));
    char *json = NULL;
    CHECK_OK(kled_manager_list_terminals(other, &json));
    CHECK(json && strcmp(json, "{\"problems\":[],\"terminals\":[]}") == 0);
    kled_string_free(json);
    kled_manager_free(other);

    CHECK_OK(kled_manager_providers(m, &json));
    CHECK(json && strstr(json, "\"kind\":\"local\"") && strstr(json, "\"available\":true"));
    kled_string_free(json);
    kled_manager_free(m);
}

static void test_lifecycle(kled_manager *m) {
    kled_terminal *t = NULL, *again = NULL;
    kled_state state = -1;
    const char *s = NULL;
    char *json = NULL;

    CHECK_OK(kled_manager_create_terminal(m, "local", "life", "{\"env\": {\"GREETING\": \"hi\"}}", &t));
    if (!t) return;
    CHECK_OK(kled_terminal_name(t, &s));
    CHECK(s && strcmp(s, "life") == 0);
    CHECK_OK(kled_terminal_kind(t, &s));
    CHECK(s && strcmp(s, "local") == 0);
    CHECK_OK(kled_terminal_state(t, &state));
    CHECK(state == KLED_STATE_CREATED);
    CHECK_OK(kled_terminal_info(t, &json));
    CHECK(json && strstr(json, "\"state\":\"created\"") && strstr(json, "\"GREETING\":\"hi\""));
    kled_string_free(json);

    CHECK_OK(kled_terminal_start(t));
    CHECK_OK(kled_terminal_start(t)); /* idempotent */
    CHECK_OK(kled_terminal_state(t, &state));
    CHECK(state == KLED_STATE_RUNNING);
    run_expect(t, "\"echo $GREETING\"", "hi\n");

    CHECK_OK(kled_manager_list_terminals(m, &json));
    CHECK(json && strstr(json, "\"name\":\"life\"") && strstr(json, "\"state\":\"running\""));
    kled_string_free(json);

    CHECK_OK(kled_manager_get_terminal(m, "life", &again));
    CHECK_OK(kled_terminal_name(again, &s));
    CHECK(s && strcmp(s, "life") == 0);

    CHECK_OK(kled_terminal_stop(t));
    CHECK_OK(kled_terminal_stop(t)); /* idempotent */
    CHECK_OK(kled_terminal_state(again, &state));
    CHECK(state == KLED_STATE_STOPPED);
    kled_exec_result *r = (kled_exec_result *)1;
    CHECK_STATUS(kled_terminal_execute(again, "\"true\"", &r), KLED_ERR_INVALID_STATE);
    CHECK(r == NULL);
    CHECK_MESSAGE_HAS("stopped");
    /* The core's hint, in C terms: at the end of the message and alone. */
    CHECK_MESSAGE_HAS("; start it with kled_terminal_start() on terminal \"life\"");
    CHECK(strcmp(kled_last_error_hint(), "start it with kled_terminal_start() on terminal \"life\"") == 0);
    CHECK_OK(kled_terminal_start(again));
    run_expect(t, "[\"true\"]", "");

    CHECK_OK(kled_terminal_remove(t));
    CHECK_STATUS(kled_terminal_state(again, &state), KLED_ERR_NOT_FOUND);
    CHECK_STATUS(kled_terminal_start(again), KLED_ERR_NOT_FOUND);
    CHECK_STATUS(kled_manager_remove_terminal(m, "life"), KLED_ERR_NOT_FOUND);
    CHECK(strcmp(kled_last_error_hint(), "kled_manager_list_terminals() shows the terminals that exist") == 0);
    kled_terminal_free(t);
    kled_terminal_free(again);

    /* A terminal handle outlives its manager: they share state. */
    kled_manager *short_lived = NULL;
    CHECK_OK(kled_manager_new(home, NULL, &short_lived));
    t = started(short_lived, "outlives");
    kled_manager_free(short_lived);
    run_expect(t, "\"echo still here\"", "still here\n");
    remove_and_free(t);
}

static void test_exec(kled_terminal *t) {
    kled_exec_result *r = NULL;
    const uint8_t *data;
    size_t len;
    kled_exit e;

    CHECK_OK(kled_terminal_execute(t, "{\"command\": \"echo out; echo err >&2; exit 42\"}", &r));
    CHECK(stdout_is(r, "out\n"));
    CHECK_OK(kled_exec_result_stderr(r, &data, &len));
    CHECK(bytes_are(data, len, "err\n"));
    e = exit_of(r);
    CHECK(e.has_exit_code && e.exit_code == 42 && !e.has_signal && e.signal == 0);
    CHECK(!e.timed_out && !e.truncated && e.duration_secs > 0 && e.duration_secs < 5);
    kled_exec_result_free(r);

    run_expect(t, "\"printf hi\"", "hi");
    run_expect(t, "[\"printf\", \"%s|%s\", \"a b\", \"$HOME\"]", "a b|$HOME"); /* argv: no shell */
    run_expect(t, "{\"command\": \"echo $FOO; pwd\", \"env\": {\"FOO\": \"bar\"}, \"cwd\": \"/tmp\"}", "bar\n/tmp\n");
    run_expect(t, "{\"command\": \"cat\", \"stdin\": \"piped \\u00e9\"}", "piped \xc3\xa9");
    run_expect(t, "\"printf '\\\\303\\\\251t\\\\303\\\\251'\"", "\xc3\xa9t\xc3\xa9");

    CHECK_OK(kled_terminal_execute(t, "[\"no-such-program-kled\"]", &r));
    e = exit_of(r);
    CHECK(e.has_exit_code && e.exit_code == 127);
    kled_exec_result_free(r);

    /* Binary stdin, NUL bytes included, comes back unchanged. */
    uint8_t all[256];
    for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
    CHECK_OK(kled_terminal_execute_with_stdin(t, "\"cat\"", all, sizeof all, &r));
    CHECK_OK(kled_exec_result_stdout(r, &data, &len));
    CHECK(len == 256 && memcmp(data, all, 256) == 0);
    kled_exec_result_free(r);
    CHECK_OK(kled_terminal_execute_with_stdin(t, "\"wc -c\"", NULL, 0, &r));
    CHECK(stdout_is(r, "0\n"));
    kled_exec_result_free(r);
    CHECK_STATUS(kled_terminal_execute_with_stdin(t, "{\"command\": \"cat\", \"stdin\": \"x\"}", all, 1, &r),
                 KLED_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("stdin");
    CHECK_STATUS(kled_terminal_execute_with_stdin(t, "\"cat\"", NULL, 5, &r), KLED_ERR_NULL_ARGUMENT);

    /* Empty output: a valid pointer and length 0. */
    CHECK_OK(kled_terminal_execute(t, "\"true\"", &r));
    data = NULL;
    CHECK_OK(kled_exec_result_stdout(r, &data, &len));
    CHECK(data != NULL && len == 0);
    kled_exec_result_free(r);

    /* Killed by a signal. */
    CHECK_OK(kled_terminal_execute(t, "\"kill -9 $$\"", &r));
    e = exit_of(r);
    CHECK(!e.has_exit_code && e.has_signal && e.signal == 9);
    kled_exec_result_free(r);

    /* A timeout kills the command and keeps what it printed. */
    CHECK_OK(kled_terminal_execute(t, "{\"command\": \"echo early; sleep 5\", \"timeout_secs\": 0.3}", &r));
    CHECK(stdout_is(r, "early\n"));
    e = exit_of(r);
    CHECK(e.timed_out && e.duration_secs < 4);
    kled_exec_result_free(r);

    /* Output past max_output is cut and said so. */
    CHECK_OK(kled_terminal_execute(t, "{\"command\": \"head -c 100000 /dev/zero\", \"max_output\": 1000}", &r));
    CHECK_OK(kled_exec_result_stdout(r, &data, &len));
    CHECK(len == 1000);
    e = exit_of(r);
    CHECK(e.truncated && e.has_exit_code && e.exit_code == 0);
    kled_exec_result_free(r);

    /* Code. */
    CHECK_OK(kled_terminal_run_code(t, "bash", "echo $((6 * 7))", &r));
    CHECK(stdout_is(r, "42\n"));
    kled_exec_result_free(r);
    r = (kled_exec_result *)1;
    CHECK_STATUS(kled_terminal_run_code(t, "klingon", "x", &r), KLED_ERR_INVALID_ARGUMENT);
    CHECK(r == NULL);
    CHECK_MESSAGE_HAS("klingon");
}

static void test_files(kled_terminal *t) {
    uint8_t all[256];
    for (int i = 0; i < 256; i++) all[i] = (uint8_t)(255 - i);
    kled_buf buf = {(uint8_t *)1, 99};

    CHECK_OK(kled_terminal_write_file(t, "dir/sub/a.bin", all, sizeof all, 0600));
    CHECK_OK(kled_terminal_read_file(t, "dir/sub/a.bin", &buf));
    CHECK(buf.len == 256 && buf.data && memcmp(buf.data, all, 256) == 0);
    kled_buf_free(&buf);
    CHECK(buf.data == NULL && buf.len == 0);
    kled_buf_free(&buf); /* reset by the first free: harmless */
    run_expect(t, "\"stat -c %a dir/sub/a.bin\"", "600\n");

    CHECK_OK(kled_terminal_write_file(t, "dir/a.bin", all, 10, -1));
    run_expect(t, "\"stat -c %a dir/a.bin\"", "644\n");

    CHECK_OK(kled_terminal_write_file(t, "empty", NULL, 0, -1));
    CHECK_OK(kled_terminal_read_file(t, "empty", &buf));
    CHECK(buf.data == NULL && buf.len == 0);
    kled_buf_free(&buf);

    buf.data = (uint8_t *)1;
    CHECK_STATUS(kled_terminal_read_file(t, "no/such/file", &buf), KLED_ERR_NOT_FOUND);
    CHECK(buf.data == NULL && buf.len == 0);
    CHECK_STATUS(kled_terminal_read_file(t, "", &buf), KLED_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(kled_terminal_write_file(t, "x", all, 1, -2), KLED_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(kled_terminal_write_file(t, "x", all, 1, 010000), KLED_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(kled_terminal_write_file(t, "x", NULL, 1, -1), KLED_ERR_NULL_ARGUMENT);
}

/* Reads a stream to its end: stdout and stderr appended to the buffers. */
static kled_exit drain(kled_exec_stream *s, char *out, size_t out_cap, char *err, size_t err_cap) {
    kled_exit ended;
    memset(&ended, 0, sizeof ended);
    size_t no = 0, ne = 0;
    for (int steps = 0; steps < 10000; steps++) {
        kled_event ev;
        if (kled_exec_stream_next(s, -1, &ev) != KLED_OK) break;
        if (ev.kind == KLED_EVENT_STDOUT && no + ev.len < out_cap) {
            memcpy(out + no, ev.data, ev.len);
            no += ev.len;
        } else if (ev.kind == KLED_EVENT_STDERR && ne + ev.len < err_cap) {
            memcpy(err + ne, ev.data, ev.len);
            ne += ev.len;
        } else if (ev.kind == KLED_EVENT_EXIT) {
            ended = ev.exit;
        } else if (ev.kind == KLED_EVENT_END) {
            break;
        }
    }
    out[no] = '\0';
    err[ne] = '\0';
    return ended;
}

static void test_stream(kled_terminal *t) {
    kled_exec_stream *s = NULL;
    kled_event ev;
    char out[256], err[256];

    CHECK_OK(kled_terminal_exec_stream(t, "\"echo a; sleep 0.2; echo b >&2; exit 7\"", &s));
    kled_exit e = drain(s, out, sizeof out, err, sizeof err);
    CHECK(strcmp(out, "a\n") == 0 && strcmp(err, "b\n") == 0);
    CHECK(e.has_exit_code && e.exit_code == 7);
    CHECK_OK(kled_exec_stream_next(s, -1, &ev));
    CHECK(ev.kind == KLED_EVENT_END && ev.data == NULL && ev.len == 0);
    CHECK_OK(kled_exec_stream_next(s, 0, &ev));
    CHECK(ev.kind == KLED_EVENT_END);
    CHECK_STATUS(kled_exec_stream_signal(s, 15), KLED_ERR_INVALID_STATE);
    kled_exec_stream_free(s);

    /* A timeout that passes first gives NONE; the output comes later. */
    CHECK_OK(kled_terminal_exec_stream(t, "\"sleep 0.5; echo late\"", &s));
    CHECK_OK(kled_exec_stream_next(s, 50, &ev));
    CHECK(ev.kind == KLED_EVENT_NONE);
    CHECK_OK(kled_exec_stream_next(s, 0, &ev));
    CHECK(ev.kind == KLED_EVENT_NONE);
    e = drain(s, out, sizeof out, err, sizeof err);
    CHECK(strcmp(out, "late\n") == 0 && e.has_exit_code && e.exit_code == 0);
    kled_exec_stream_free(s);

    /* Signals reach the command. */
    CHECK_OK(kled_terminal_exec_stream(t, "\"sleep 30\"", &s));
    CHECK_OK(kled_exec_stream_next(s, 100, &ev));
    CHECK(ev.kind == KLED_EVENT_NONE);
    CHECK_STATUS(kled_exec_stream_signal(s, 0), KLED_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(kled_exec_stream_signal(s, 999), KLED_ERR_INVALID_ARGUMENT);
    CHECK_OK(kled_exec_stream_signal(s, 15));
    e = drain(s, out, sizeof out, err, sizeof err);
    CHECK(e.has_signal && e.signal == 15 && !e.has_exit_code);
    kled_exec_stream_free(s);

    /* Stdin as bytes. */
    CHECK_OK(kled_terminal_exec_stream_with_stdin(t, "\"cat\"", (const uint8_t *)"xyz", 3, &s));
    e = drain(s, out, sizeof out, err, sizeof err);
    CHECK(strcmp(out, "xyz") == 0 && e.has_exit_code && e.exit_code == 0);
    kled_exec_stream_free(s);

    /* Freeing a stream before the exit kills the command. */
    CHECK_OK(kled_terminal_exec_stream(t, "\"echo $$; exec sleep 30\"", &s));
    CHECK_OK(kled_exec_stream_next(s, 5000, &ev));
    long pid = 0;
    if (ev.kind == KLED_EVENT_STDOUT) {
        char digits[32] = {0};
        memcpy(digits, ev.data, ev.len < 31 ? ev.len : 31);
        pid = strtol(digits, NULL, 10);
    }
    CHECK(pid > 1 && kill((pid_t)pid, 0) == 0);
    kled_exec_stream_free(s);
    int gone = 0;
    for (int i = 0; i < 250 && !gone; i++) {
        gone = pid > 1 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
        if (!gone) sleep_ms(20);
    }
    CHECK(gone);

    s = (kled_exec_stream *)1;
    CHECK_STATUS(kled_terminal_exec_stream(t, "{\"command\": \"\"}", &s), KLED_ERR_INVALID_ARGUMENT);
    CHECK(s == NULL);
}

struct blocked_next {
    kled_exec_stream *s;
    kled_exit exit;
};

static void *next_until_exit(void *arg) {
    struct blocked_next *b = arg;
    char out[64], err[64];
    b->exit = drain(b->s, out, sizeof out, err, sizeof err);
    return NULL;
}

/* Open stdin, pseudo-terminals and resizes; a signal to a stream whose
 * next() blocks on another thread. */
static void test_stream_control(kled_terminal *t) {
    kled_exec_stream *s = NULL;
    char out[256], err[256];

    CHECK_OK(kled_terminal_exec_stream(t, "{\"command\": \"cat; echo done\", \"stdin_open\": true}", &s));
    CHECK_OK(kled_exec_stream_write(s, (const uint8_t *)"one ", 4));
    CHECK_OK(kled_exec_stream_write(s, NULL, 0));
    CHECK_OK(kled_exec_stream_write(s, (const uint8_t *)"two\n", 4));
    CHECK_STATUS(kled_exec_stream_write(s, NULL, 3), KLED_ERR_NULL_ARGUMENT);
    CHECK_OK(kled_exec_stream_close_stdin(s));
    kled_exit e = drain(s, out, sizeof out, err, sizeof err);
    CHECK(strcmp(out, "one two\ndone\n") == 0 && e.has_exit_code && e.exit_code == 0);
    CHECK_STATUS(kled_exec_stream_write(s, (const uint8_t *)"x", 1), KLED_ERR_INVALID_STATE);
    kled_exec_stream_free(s);

    /* A terminal of 30x100, resized before the command looks. */
    CHECK_OK(kled_terminal_exec_stream(
        t, "{\"command\": \"sleep 0.3; stty size; echo e >&2\", \"tty\": {\"rows\": 30, \"cols\": 100}}", &s));
    CHECK_STATUS(kled_exec_stream_resize(s, 0, 80), KLED_ERR_INVALID_ARGUMENT);
    CHECK_OK(kled_exec_stream_resize(s, 50, 132));
    e = drain(s, out, sizeof out, err, sizeof err);
    CHECK(strcmp(out, "50 132\r\ne\r\n") == 0 && err[0] == '\0' && e.has_exit_code && e.exit_code == 0);
    kled_exec_stream_free(s);

    /* signal() does not wait for a next() blocked on another thread. */
    struct blocked_next b = {NULL, {0}};
    CHECK_OK(kled_terminal_exec_stream(t, "\"sleep 30\"", &b.s));
    pthread_t reader;
    CHECK(pthread_create(&reader, NULL, next_until_exit, &b) == 0);
    sleep_ms(200);
    CHECK_OK(kled_exec_stream_signal(b.s, 15));
    CHECK(pthread_join(reader, NULL) == 0);
    CHECK(b.exit.has_signal && b.exit.signal == 15);
    kled_exec_stream_free(b.s);

    CHECK_STATUS(kled_exec_stream_write(NULL, NULL, 0), KLED_ERR_NULL_ARGUMENT);
    CHECK_STATUS(kled_exec_stream_close_stdin(NULL), KLED_ERR_NULL_ARGUMENT);
    CHECK_STATUS(kled_exec_stream_resize(NULL, 1, 1), KLED_ERR_NULL_ARGUMENT);
}

/* kled_terminal_run_code_with on a started local terminal: args, stdin,
 * timeout, and requests refused before anything runs. */
static void test_run_code_with(kled_terminal *t) {
    kled_exec_result *r = NULL;
    const uint8_t *data;
    size_t len;
    kled_exit e;

    CHECK_OK(kled_terminal_run_code_with(t, "{\"lang\": \"bash\", \"code\": \"echo $((6 * 7))\"}", &r));
    CHECK(stdout_is(r, "42\n"));
    kled_exec_result_free(r);
    CHECK_OK(kled_terminal_run_code_with(
        t, "{\"lang\": \"bash\", \"code\": \"echo \\\"$1|$2\\\"; cat; echo err >&2; exit 3\", \"args\": [\"a b\", \"c\"], "
           "\"stdin\": \"fed\", \"remote\": false}",
        &r));
    CHECK(stdout_is(r, "a b|c\nfed"));
    CHECK_OK(kled_exec_result_stderr(r, &data, &len));
    CHECK(bytes_are(data, len, "err\n"));
    e = exit_of(r);
    CHECK(e.has_exit_code && e.exit_code == 3 && !e.timed_out);
    kled_exec_result_free(r);
    CHECK_OK(kled_terminal_run_code_with(t, "{\"lang\": \"sh\", \"code\": \"echo early; sleep 5\", \"timeout_secs\": 0.3}", &r));
    CHECK(stdout_is(r, "early\n"));
    e = exit_of(r);
    CHECK(e.timed_out && e.duration_secs < 4);
    kled_exec_result_free(r);

    /* Malformed or wrong requests: KLED_ERR_INVALID_ARGUMENT, a NULL result, a message. */
    const char *bad[] = {
        "", "{", "null", "[]", "\"py\"", "42", "{\"lang\": \"py\"}", "{\"code\": \"1\"}",
        "{\"lang\": \"py\", \"code\": \"1\", \"bogus\": 1}", "{\"lang\": 5, \"code\": \"1\"}",
        "{\"lang\": \"py\", \"code\": \"1\", \"remote\": \"yes\"}", "{\"lang\": \"py\", \"code\": \"1\", \"args\": \"a\"}",
        "{\"lang\": \"py\", \"code\": \"1\", \"timeout_secs\": -1}", "{\"lang\": \"py\", \"code\": \"1\", \"timeout_secs\": \"soon\"}",
        "{\"lang\": \"py\", \"code\": \"1\"} trailing",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = (kled_exec_result *)1;
        kled_status st = kled_terminal_run_code_with(t, bad[i], &r);
        if (st != KLED_ERR_INVALID_ARGUMENT) fprintf(stderr, "request %s\n", bad[i]);
        CHECK(st == KLED_ERR_INVALID_ARGUMENT);
        CHECK(r == NULL);
        CHECK_MESSAGE_HAS("request_json");
    }
    CHECK_STATUS(kled_terminal_run_code_with(t, "{\"lang\": \"py\"}", &r), KLED_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("code");
    CHECK_STATUS(kled_terminal_run_code_with(t, "{\"lang\": \"klingon\", \"code\": \"x\"}", &r), KLED_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("klingon");
    /* The API has no stdin: refused before any request is sent. */
    CHECK_STATUS(kled_terminal_run_code_with(t, "{\"lang\": \"py\", \"code\": \"1\", \"stdin\": \"x\", \"remote\": true}", &r),
                 KLED_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("stdin");
    CHECK(r == NULL);
    run_expect(t, "\"echo ok\"", "ok\n");
}

/* A TCP port on 127.0.0.1 on which nothing listens: bound, then closed. */
static int dead_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t n = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &n) != 0) {
        perror("dead_port");
        if (fd >= 0) close(fd);
        return 1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* A manager on the test's state dir whose configuration is `yaml`. */
static kled_manager *manager_with_config(const char *file, const char *yaml) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", home, file);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(yaml, f);
    fclose(f);
    kled_manager *m = NULL;
    CHECK_OK(kled_manager_new(home, path, &m));
    return m;
}

/* Remote runs whose service cannot be used fail clearly, and at once. */
static void test_remote_unreachable(void) {
    char yaml[256], url[64];
    int port = dead_port();
    snprintf(url, sizeof url, "127.0.0.1:%d", port);
    snprintf(yaml, sizeof yaml, "librechat:\n  base_url: http://%s/v1\n  api_key: secret-key-123\n  timeout: 20\n", url);
    kled_manager *m = manager_with_config("dead.yaml", yaml);
    if (!m) return;
    kled_terminal *t = NULL;
    kled_exec_result *r = (kled_exec_result *)1;
    /* Never started: a remote run does not need the terminal running. */
    CHECK_OK(kled_manager_create_terminal(m, "local", "remote-dead", NULL, &t));
    if (t) {
        time_t before = time(NULL);
        CHECK_STATUS(kled_terminal_run_code_with(t, "{\"lang\": \"py\", \"code\": \"print(1)\", \"remote\": true}", &r),
                     KLED_ERR_RUNTIME_UNAVAILABLE);
        CHECK(r == NULL);
        CHECK_MESSAGE_HAS("LIBRECHAT_CODE_BASEURL");
        CHECK_MESSAGE_HAS(url);
        CHECK_MESSAGE_HAS("POST /exec");
        CHECK(strstr(kled_last_error_message(), "secret-key-123") == NULL); /* the key never shows */
        CHECK(time(NULL) - before < 10);
        kled_state state = -1;
        CHECK_OK(kled_terminal_state(t, &state));
        CHECK(state == KLED_STATE_CREATED);
        remove_and_free(t);
    }
    kled_manager_free(m);

    m = manager_with_config("not-a-url.yaml", "librechat:\n  base_url: not a url\n");
    if (!m) return;
    CHECK_OK(kled_manager_create_terminal(m, "local", "remote-bad-url", NULL, &t));
    if (t) {
        CHECK_STATUS(kled_terminal_run_code_with(t, "{\"lang\": \"py\", \"code\": \"1\", \"remote\": true}", &r), KLED_ERR_CONFIG);
        CHECK_MESSAGE_HAS("LIBRECHAT_CODE_BASEURL");
        remove_and_free(t);
    }
    kled_manager_free(m);
}

/* Remote runs against the `kled serve codeapi` that scripts/suites/20-c-go.sh
 * starts (KLED_TEST_CODEAPI_URL, KLED_TEST_CODEAPI_KEY): files one run
 * writes to /mnt/data are there for the next run of the same terminal. */
static void test_remote_round_trip(void) {
    const char *url = getenv("KLED_TEST_CODEAPI_URL"), *key = getenv("KLED_TEST_CODEAPI_KEY");
    if (!url || !*url || !key || !*key) {
        printf("SKIP remote round trip: KLED_TEST_CODEAPI_URL and KLED_TEST_CODEAPI_KEY are not set\n");
        return;
    }
    char yaml[512];
    snprintf(yaml, sizeof yaml, "librechat:\n  base_url: %s\n  api_key: %s\n  timeout: 240\n", url, key);
    kled_manager *m = manager_with_config("live.yaml", yaml);
    if (!m) return;
    kled_terminal *t = NULL;
    kled_exec_result *r = NULL;
    const uint8_t *data;
    size_t len;
    kled_exit e;
    CHECK_OK(kled_manager_create_terminal(m, "local", "remote", NULL, &t));
    if (t) {
        CHECK_OK(kled_terminal_run_code_with(
            t, "{\"lang\": \"py\", \"code\": \"open('/mnt/data/note.txt', 'w').write('from run 1')\\nprint(6 * 7)\", \"remote\": true}",
            &r));
        if (r) {
            CHECK(stdout_is(r, "42\n"));
            e = exit_of(r);
            CHECK(e.has_exit_code && e.exit_code == 0 && !e.has_signal && !e.timed_out);
            kled_exec_result_free(r);
            r = NULL;
        }
        CHECK_OK(kled_terminal_run_code_with(
            t, "{\"lang\": \"python\", \"code\": \"print(open('/mnt/data/note.txt').read())\", \"remote\": true}", &r));
        if (r) {
            CHECK(stdout_is(r, "from run 1\n"));
            kled_exec_result_free(r);
            r = NULL;
        }
        CHECK_OK(kled_terminal_run_code_with(
            t,
            "{\"lang\": \"py\", \"code\": \"import sys\\nprint(sys.argv[1:])\\nprint('bad', file=sys.stderr)\\nsys.exit(3)\", "
            "\"args\": [\"x\", \"y z\"], \"timeout_secs\": 120, \"remote\": true}",
            &r));
        if (r) {
            CHECK(stdout_is(r, "['x', 'y z']\n"));
            CHECK_OK(kled_exec_result_stderr(r, &data, &len));
            CHECK(bytes_are(data, len, "bad\n"));
            e = exit_of(r);
            CHECK(e.has_exit_code && e.exit_code == 3);
            kled_exec_result_free(r);
            r = NULL;
        }
        remove_and_free(t);
    }
    kled_manager_free(m);

    /* A key the service refuses: KLED_ERR_CONFIG, naming the variable, not the key. */
    snprintf(yaml, sizeof yaml, "librechat:\n  base_url: %s\n  api_key: wrong-key-456\n", url);
    m = manager_with_config("wrong-key.yaml", yaml);
    if (!m) return;
    CHECK_OK(kled_manager_create_terminal(m, "local", "remote-wrong-key", NULL, &t));
    if (t) {
        CHECK_STATUS(kled_terminal_run_code_with(t, "{\"lang\": \"py\", \"code\": \"1\", \"remote\": true}", &r), KLED_ERR_CONFIG);
        CHECK_MESSAGE_HAS("401");
        CHECK_MESSAGE_HAS("LIBRECHAT_CODE_API_KEY");
        CHECK(strstr(kled_last_error_message(), "wrong-key-456") == NULL);
        remove_and_free(t);
    }
    kled_manager_free(m);
}

/* Every pointer argument that must not be NULL, one at a time. */
static void test_null_arguments(kled_manager *m, kled_terminal *t) {
    const int N = KLED_ERR_NULL_ARGUMENT;
    kled_manager *mo = NULL;
    kled_terminal *to = NULL;
    kled_exec_result *ro = NULL;
    kled_exec_stream *so = NULL;
    char *json = NULL;
    const char *s = NULL;
    kled_state st;
    kled_buf buf;
    kled_event ev;
    kled_exit ex;
    const uint8_t *data;
    size_t len;

    CHECK_STATUS(kled_manager_new(home, NULL, NULL), N);

    CHECK_STATUS(kled_manager_create_terminal(NULL, "local", "n", NULL, &to), N);
    CHECK_STATUS(kled_manager_create_terminal(m, NULL, "n", NULL, &to), N);
    CHECK_MESSAGE_HAS("kind");
    CHECK_STATUS(kled_manager_create_terminal(m, "local", NULL, NULL, &to), N);
    CHECK_MESSAGE_HAS("name");
    CHECK_STATUS(kled_manager_create_terminal(m, "local", "n", NULL, NULL), N);
    CHECK_MESSAGE_HAS("terminal_out");
    CHECK_STATUS(kled_manager_get_terminal(NULL, "n", &to), N);
    CHECK_STATUS(kled_manager_get_terminal(m, NULL, &to), N);
    CHECK_STATUS(kled_manager_get_terminal(m, "n", NULL), N);
    CHECK_STATUS(kled_manager_list_terminals(NULL, &json), N);
    CHECK_STATUS(kled_manager_list_terminals(m, NULL), N);
    CHECK_STATUS(kled_manager_remove_terminal(NULL, "n"), N);
    CHECK_STATUS(kled_manager_remove_terminal(m, NULL), N);
    CHECK_STATUS(kled_manager_create_bulk(NULL, "local", 1, NULL, NULL, false, &json), N);
    CHECK_STATUS(kled_manager_create_bulk(m, NULL, 1, NULL, NULL, false, &json), N);
    CHECK_STATUS(kled_manager_create_bulk(m, "local", 1, NULL, NULL, false, NULL), N);
    CHECK_STATUS(kled_manager_providers(NULL, &json), N);
    CHECK_STATUS(kled_manager_providers(m, NULL), N);
    CHECK_STATUS(kled_manager_state_dir(NULL, &json), N);
    CHECK_STATUS(kled_manager_state_dir(m, NULL), N);

    CHECK_STATUS(kled_terminal_name(NULL, &s), N);
    CHECK_STATUS(kled_terminal_name(t, NULL), N);
    CHECK_STATUS(kled_terminal_kind(NULL, &s), N);
    CHECK_STATUS(kled_terminal_kind(t, NULL), N);
    CHECK_STATUS(kled_terminal_state(NULL, &st), N);
    CHECK_STATUS(kled_terminal_state(t, NULL), N);
    CHECK_STATUS(kled_terminal_info(NULL, &json), N);
    CHECK_STATUS(kled_terminal_info(t, NULL), N);
    CHECK_STATUS(kled_terminal_start(NULL), N);
    CHECK_STATUS(kled_terminal_stop(NULL), N);
    CHECK_STATUS(kled_terminal_remove(NULL), N);
    CHECK_STATUS(kled_terminal_execute(NULL, "\"true\"", &ro), N);
    CHECK_STATUS(kled_terminal_execute(t, NULL, &ro), N);
    CHECK_MESSAGE_HAS("spec_json");
    CHECK_STATUS(kled_terminal_execute(t, "\"true\"", NULL), N);
    CHECK_STATUS(kled_terminal_execute_with_stdin(NULL, "\"true\"", NULL, 0, &ro), N);
    CHECK_STATUS(kled_terminal_execute_with_stdin(t, NULL, NULL, 0, &ro), N);
    CHECK_STATUS(kled_terminal_execute_with_stdin(t, "\"true\"", NULL, 1, &ro), N);
    CHECK_STATUS(kled_terminal_execute_with_stdin(t, "\"true\"", NULL, 0, NULL), N);
    CHECK_STATUS(kled_terminal_exec_stream(NULL, "\"true\"", &so), N);
    CHECK_STATUS(kled_terminal_exec_stream(t, NULL, &so), N);
    CHECK_STATUS(kled_terminal_exec_stream(t, "\"true\"", NULL), N);
    CHECK_STATUS(kled_terminal_exec_stream_with_stdin(NULL, "\"true\"", NULL, 0, &so), N);
    CHECK_STATUS(kled_terminal_exec_stream_with_stdin(t, NULL, NULL, 0, &so), N);
    CHECK_STATUS(kled_terminal_exec_stream_with_stdin(t, "\"true\"", NULL, 1, &so), N);
    CHECK_STATUS(kled_terminal_exec_stream_with_stdin(t, "\"true\"", NULL, 0, NULL), N);
    CHECK_STATUS(kled_terminal_run_code(NULL, "bash", "true", &ro), N);
    CHECK_STATUS(kled_terminal_run_code(t, NULL, "true", &ro), N);
    CHECK_STATUS(kled_terminal_run_code(t, "bash", NULL, &ro), N);
    CHECK_STATUS(kled_terminal_run_code(t, "bash", "true", NULL), N);
    CHECK_STATUS(kled_terminal_run_code_with(NULL, "{\"lang\": \"sh\", \"code\": \"true\"}", &ro), N);
    CHECK_STATUS(kled_terminal_run_code_with(t, NULL, &ro), N);
    CHECK_MESSAGE_HAS("request_json");
    CHECK_STATUS(kled_terminal_run_code_with(t, "{\"lang\": \"sh\", \"code\": \"true\"}", NULL), N);
    CHECK_MESSAGE_HAS("result_out");
    CHECK_STATUS(kled_terminal_read_file(NULL, "f", &buf), N);
    CHECK_STATUS(kled_terminal_read_file(t, NULL, &buf), N);
    CHECK_STATUS(kled_terminal_read_file(t, "f", NULL), N);
    CHECK_STATUS(kled_terminal_write_file(NULL, "f", NULL, 0, -1), N);
    CHECK_STATUS(kled_terminal_write_file(t, NULL, NULL, 0, -1), N);

    CHECK_OK(kled_terminal_execute(t, "\"true\"", &ro));
    CHECK_STATUS(kled_exec_result_stdout(NULL, &data, &len), N);
    CHECK_STATUS(kled_exec_result_stdout(ro, NULL, &len), N);
    CHECK_STATUS(kled_exec_result_stdout(ro, &data, NULL), N);
    CHECK_STATUS(kled_exec_result_stderr(NULL, &data, &len), N);
    CHECK_STATUS(kled_exec_result_stderr(ro, NULL, &len), N);
    CHECK_STATUS(kled_exec_result_stderr(ro, &data, NULL), N);
    CHECK_STATUS(kled_exec_result_exit(NULL, &ex), N);
    CHECK_STATUS(kled_exec_result_exit(ro, NULL), N);
    kled_exec_result_free(ro);

    CHECK_OK(kled_terminal_exec_stream(t, "\"true\"", &so));
    CHECK_STATUS(kled_exec_stream_next(NULL, 0, &ev), N);
    CHECK_STATUS(kled_exec_stream_next(so, 0, NULL), N);
    CHECK_STATUS(kled_exec_stream_signal(NULL, 15), N);
    kled_exec_stream_free(so);

    /* Freeing NULL is a no-op, for every free function. */
    kled_manager_free(NULL);
    kled_terminal_free(NULL);
    kled_exec_result_free(NULL);
    kled_exec_stream_free(NULL);
    kled_string_free(NULL);
    kled_buf_free(NULL);
    buf.data = NULL;
    buf.len = 7;
    kled_buf_free(&buf);
    CHECK(buf.data == NULL && buf.len == 0);
    (void)mo;
}

static void test_invalid_utf8(kled_manager *m, kled_terminal *t) {
    const int U = KLED_ERR_INVALID_UTF8;
    const char *bad = "bad-\xff\xfe-\xc3";
    kled_terminal *to = NULL;
    kled_exec_result *ro = NULL;
    kled_exec_stream *so = NULL;
    char *json = NULL;
    kled_buf buf;

    CHECK_STATUS(kled_manager_create_terminal(m, bad, "u", NULL, &to), U);
    CHECK_MESSAGE_HAS("kind");
    CHECK_STATUS(kled_manager_create_terminal(m, "local", bad, NULL, &to), U);
    CHECK_STATUS(kled_manager_create_terminal(m, "local", "u", "{\"env\": {\"A\": \"\xff\"}}", &to), U);
    CHECK_MESSAGE_HAS("options_json");
    CHECK_STATUS(kled_manager_get_terminal(m, bad, &to), U);
    CHECK_STATUS(kled_manager_remove_terminal(m, bad), U);
    CHECK_STATUS(kled_manager_create_bulk(m, "local", 1, NULL, bad, false, &json), U);
    CHECK_STATUS(kled_terminal_execute(t, "\"echo \xff\"", &ro), U);
    CHECK_STATUS(kled_terminal_exec_stream(t, bad, &so), U);
    CHECK_STATUS(kled_terminal_run_code(t, bad, "x", &ro), U);
    CHECK_STATUS(kled_terminal_run_code(t, "bash", bad, &ro), U);
    CHECK_STATUS(kled_terminal_run_code_with(t, "{\"lang\": \"sh\", \"code\": \"echo \xff\"}", &ro), U);
    CHECK_MESSAGE_HAS("request_json");
    CHECK_STATUS(kled_terminal_read_file(t, bad, &buf), U);
    CHECK_STATUS(kled_terminal_write_file(t, bad, NULL, 0, -1), U);
    /* Bytes are bytes: invalid UTF-8 in data and output is fine. */
    CHECK_OK(kled_terminal_execute_with_stdin(t, "\"cat\"", (const uint8_t *)bad, strlen(bad), &ro));
    CHECK(stdout_is(ro, bad));
    kled_exec_result_free(ro);
}

/* A string of `n` copies of `open` (and of `close` after it). */
static char *nested(size_t n, char open, char close) {
    char *s = malloc(2 * n + 1);
    memset(s, open, n);
    memset(s + n, close, n);
    s[2 * n] = '\0';
    return s;
}

static void test_hostile_json(kled_manager *m, kled_terminal *t) {
    const int I = KLED_ERR_INVALID_ARGUMENT;
    kled_terminal *to = (kled_terminal *)1;
    kled_exec_result *ro = NULL;

    const char *bad_options[] = {
        "", "{", "{\"env\": }", "[1, 2]", "\"str\"", "42", "{\"bogus\": 1}", "{\"env\": {\"A=B\": \"x\"}}",
        "{\"workdir\": \"relative\"}", "{\"shell\": 5}", "{} trailing", "{\"env\": {\"A\": \"\\ud800\"}}",
        "{\"os\": \"plan9\"}", "1e999999",
    };
    for (size_t i = 0; i < sizeof bad_options / sizeof *bad_options; i++) {
        to = (kled_terminal *)1;
        CHECK_STATUS(kled_manager_create_terminal(m, "local", "hostile", bad_options[i], &to), I);
        CHECK(to == NULL);
        CHECK(kled_last_error_message()[0] != '\0');
    }
    /* Deep nesting is refused, not a stack overflow. */
    char *deep = nested(200000, '[', ']');
    CHECK_STATUS(kled_manager_create_terminal(m, "local", "hostile", deep, &to), I);
    CHECK_STATUS(kled_terminal_execute(t, deep, &ro), I);
    free(deep);
    deep = nested(100000, '{', '}');
    CHECK_STATUS(kled_terminal_execute(t, deep, &ro), I);
    free(deep);
    /* A big document with a long key is an ordinary error. */
    size_t big = 4 << 20;
    char *huge = malloc(big + 64);
    strcpy(huge, "{\"");
    memset(huge + 2, 'k', big);
    strcpy(huge + 2 + big, "\": 1}");
    CHECK_STATUS(kled_manager_create_terminal(m, "local", "hostile", huge, &to), I);
    CHECK_STATUS(kled_terminal_execute(t, huge, &ro), I);
    free(huge);
    /* Nothing was left behind by the failures. */
    CHECK_STATUS(kled_manager_get_terminal(m, "hostile", &to), KLED_ERR_NOT_FOUND);

    const char *bad_specs[] = {
        "", "{", "{}", "null", "5", "{\"command\": 5}", "{\"command\": \"x\", \"bogus\": 1}", "{\"command\": \"\"}",
        "{\"command\": \"   \"}", "{\"command\": []}", "[\"\"]", "{\"command\": \"x\", \"timeout_secs\": -1}",
        "{\"command\": \"x\", \"timeout_secs\": 0}", "{\"command\": \"x\", \"timeout_secs\": 1e400}",
        "{\"command\": \"x\", \"timeout_secs\": \"soon\"}", "{\"command\": \"a\\u0000b\"}",
        "[\"echo\", \"a\\u0000b\"]", "{\"command\": \"x\", \"env\": {\"\": \"v\"}}",
        "{\"command\": \"x\", \"env\": {\"A=B\": \"v\"}}", "{\"command\": \"x\", \"cwd\": \"a\\u0000\"}",
        "{\"command\": \"x\", \"max_output\": -1}", "{\"command\": \"x\", \"env\": [1]}", "\"x\" \"y\"",
        "{\"command\": \"x\", \"stdin\": 7}", "[1, 2]", "{\"command\": \"\\ud800\"}",
    };
    for (size_t i = 0; i < sizeof bad_specs / sizeof *bad_specs; i++) {
        ro = (kled_exec_result *)1;
        kled_status st = kled_terminal_execute(t, bad_specs[i], &ro);
        if (st != I) fprintf(stderr, "spec %s\n", bad_specs[i]);
        CHECK(st == I);
        CHECK(ro == NULL);
        CHECK(kled_last_error_message()[0] != '\0');
    }
    /* Still fine afterwards. */
    run_expect(t, "\"echo ok\"", "ok\n");
}

static void test_unknown_and_conflicts(kled_manager *m) {
    kled_terminal *t = NULL, *dup = NULL;
    char *names = (char *)1;

    CHECK_STATUS(kled_manager_get_terminal(m, "nope", &t), KLED_ERR_NOT_FOUND);
    CHECK(t == NULL);
    CHECK_MESSAGE_HAS("nope");
    CHECK_STATUS(kled_manager_remove_terminal(m, "nope"), KLED_ERR_NOT_FOUND);
    CHECK_STATUS(kled_manager_create_terminal(m, "no-such-runtime", "x", NULL, &t), KLED_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("known runtimes");
    CHECK_STATUS(kled_manager_create_terminal(m, "local", "-bad", NULL, &t), KLED_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(kled_manager_create_terminal(m, "local", "a/b", NULL, &t), KLED_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(kled_manager_create_terminal(m, "local", "", NULL, &t), KLED_ERR_INVALID_ARGUMENT);
    char long_name[100];
    memset(long_name, 'a', 99);
    long_name[99] = '\0';
    CHECK_STATUS(kled_manager_create_terminal(m, "local", long_name, NULL, &t), KLED_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(kled_manager_get_terminal(m, "../etc", &t), KLED_ERR_INVALID_ARGUMENT);

    CHECK_OK(kled_manager_create_terminal(m, "local", "twice", NULL, &t));
    CHECK_STATUS(kled_manager_create_terminal(m, "local", "twice", NULL, &dup), KLED_ERR_ALREADY_EXISTS);
    CHECK(dup == NULL);
    remove_and_free(t); /* never started: remove works too */

    /* Bulk: all or nothing, names in order. */
    CHECK_STATUS(kled_manager_create_bulk(m, "local", 0, NULL, "w", true, &names), KLED_ERR_INVALID_ARGUMENT);
    CHECK(names == NULL);
    CHECK_OK(kled_manager_create_bulk(m, "local", 3, "{\"env\": {\"B\": \"1\"}}", "w", true, &names));
    CHECK(names && strcmp(names, "[\"w-1\",\"w-2\",\"w-3\"]") == 0);
    kled_string_free(names);
    for (int i = 1; i <= 3; i++) {
        char name[8];
        snprintf(name, sizeof name, "w-%d", i);
        t = NULL;
        CHECK_OK(kled_manager_get_terminal(m, name, &t));
        if (!t) continue;
        run_expect(t, "\"echo $B\"", "1\n");
        remove_and_free(t);
    }
    CHECK_OK(kled_manager_create_terminal(m, "local", "taken-2", NULL, &t));
    CHECK_STATUS(kled_manager_create_bulk(m, "local", 3, NULL, "taken", false, &names), KLED_ERR_ALREADY_EXISTS);
    CHECK_STATUS(kled_manager_get_terminal(m, "taken-1", &dup), KLED_ERR_NOT_FOUND);
    remove_and_free(t);
}

struct worker {
    int id;
    kled_manager *m;
    kled_terminal *shared;
};

/* One of 8 threads using the same manager and terminal at once. */
static void *work(void *arg) {
    struct worker *w = arg;
    char spec[128], want[64], name[32];
    for (int j = 0; j < 15; j++) {
        snprintf(spec, sizeof spec, "{\"command\": \"echo $N\", \"env\": {\"N\": \"%d-%d\"}}", w->id, j);
        snprintf(want, sizeof want, "%d-%d\n", w->id, j);
        run_expect(w->shared, spec, want);
    }
    snprintf(name, sizeof name, "thread-%d", w->id);
    kled_terminal *own = started(w->m, name);
    if (own) {
        snprintf(spec, sizeof spec, "[\"printf\", \"%%s\", \"%d\"]", w->id);
        snprintf(want, sizeof want, "%d", w->id);
        run_expect(own, spec, want);
        remove_and_free(own);
    }
    /* Each thread reads its own last error, whatever the others do. */
    for (int j = 0; j < 20; j++) {
        snprintf(name, sizeof name, "missing-%d", w->id);
        kled_terminal *none = NULL;
        CHECK_STATUS(kled_manager_get_terminal(w->m, name, &none), KLED_ERR_NOT_FOUND);
        char quoted[40];
        snprintf(quoted, sizeof quoted, "\"missing-%d\"", w->id);
        CHECK_MESSAGE_HAS(quoted);
    }
    return NULL;
}

static void test_threads(kled_manager *m, kled_terminal *shared) {
    pthread_t threads[8];
    struct worker workers[8];
    for (int i = 0; i < 8; i++) {
        workers[i] = (struct worker){i, m, shared};
        CHECK(pthread_create(&threads[i], NULL, work, &workers[i]) == 0);
    }
    for (int i = 0; i < 8; i++) pthread_join(threads[i], NULL);
}

int main(void) {
    /* Short: agent sockets live under it (sun_path is 108 bytes). */
    const char *base = getenv("KLED_TEST_TMPDIR");
    snprintf(home, sizeof home, "%s/kled-ctest-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(home)) {
        perror("mkdtemp");
        return 1;
    }
    /* The tests' configuration files name the Code Interpreter service; the
     * environment would override them (unset here, before any thread runs). */
    unsetenv("LIBRECHAT_CODE_BASEURL");
    unsetenv("LIBRECHAT_CODE_API_KEY");
    unsetenv("KLED_LIBRECHAT_AUTH");
    test_versions();
    test_last_error_is_per_thread();
    test_manager();

    kled_manager *m = NULL;
    CHECK_OK(kled_manager_new(home, NULL, &m));
    if (m) {
        test_lifecycle(m);
        kled_terminal *t = started(m, "main");
        if (t) {
            test_exec(t);
            test_run_code_with(t);
            test_files(t);
            test_stream(t);
            test_stream_control(t);
            test_null_arguments(m, t);
            test_invalid_utf8(m, t);
            test_hostile_json(m, t);
            test_threads(m, t);
            remove_and_free(t);
        }
        test_unknown_and_conflicts(m);
        test_remote_unreachable();
        test_remote_round_trip();
        char *json = NULL;
        CHECK_OK(kled_manager_list_terminals(m, &json));
        CHECK(json && strcmp(json, "{\"problems\":[],\"terminals\":[]}") == 0); /* all cleaned up */
        kled_string_free(json);
        kled_manager_free(m);
    }
    char cmd[192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", home);
    return checks_summary("test_api");
}
