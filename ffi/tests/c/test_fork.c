/* fork() and libkled, under the core's one fork policy (core/src/fork.rs,
 * the Python module's too). A child forked before the parent's first kled
 * call uses libkled as any process does. So does a child forked after it:
 * its first call starts a runtime of its own, the parent's manager and
 * terminal handles work there, and the parent's exec stream fails with
 * KLED_ERR_INVALID_STATE (it stays the parent's); freeing the inherited
 * handles leaves the parent's terminal and running command alone; after
 * exec the child uses libkled normally. (A build whose tokio uses
 * parking_lot refuses in the child instead: then every call that needs the
 * runtime must fail at once, never hang.) alarm() turns a hang into a
 * failure. */
#include "check.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static int stdout_is(const kled_exec_result *r, const char *want) {
    const uint8_t *data = NULL;
    size_t len = 0;
    return kled_exec_result_stdout(r, &data, &len) == KLED_OK && len == strlen(want) &&
           memcmp(data, want, len) == 0;
}

static void run_expect(const kled_terminal *t, const char *spec, const char *want) {
    kled_exec_result *r = NULL;
    CHECK_OK(kled_terminal_execute(t, spec, &r));
    if (r) CHECK(stdout_is(r, want));
    kled_exec_result_free(r);
}

/* Reads a stream to its exit; returns its stdout (static buffer). */
static const char *drain(kled_exec_stream *s, kled_status *status) {
    static char out[256];
    size_t n = 0;
    kled_event ev;
    for (;;) {
        *status = kled_exec_stream_next(s, 10000, &ev);
        if (*status != KLED_OK || ev.kind == KLED_EVENT_EXIT || ev.kind == KLED_EVENT_END ||
            ev.kind == KLED_EVENT_NONE)
            break;
        if (ev.kind == KLED_EVENT_STDOUT && n + ev.len < sizeof out) {
            memcpy(out + n, ev.data, ev.len);
            n += ev.len;
        }
    }
    out[n] = '\0';
    return out;
}

/* This program, to exec again (not /proc/self/exe: under valgrind that is valgrind). */
static char self_path[4096];

static int failures(void) { return atomic_load(&checks_failed) == 0 ? 0 : 1; }

/* Runs `body` in a child process; returns its exit status (128+N if killed). */
static int in_child(int (*body)(void *), void *arg) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(30);
        int rc = body(arg);
        fflush(NULL);
        _exit(rc);
    }
    int status = -1;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
    if (WIFSIGNALED(status)) fprintf(stderr, "child killed by signal %d (hung?)\n", WTERMSIG(status));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Forked before the parent's first kled call: everything works. */
static int fresh_child(void *home) {
    kled_manager *m = NULL;
    kled_terminal *t = NULL;
    CHECK_OK(kled_manager_new(home, NULL, &m));
    CHECK_OK(kled_manager_create_terminal(m, "local", "before-fork", NULL, &t));
    CHECK_OK(kled_terminal_start(t));
    run_expect(t, "\"echo fresh\"", "fresh\n");
    CHECK_OK(kled_terminal_remove(t));
    kled_terminal_free(t);
    kled_manager_free(m);
    return failures();
}

struct inherited {
    const char *home;
    kled_manager *m;
    kled_terminal *t;
    kled_exec_stream *stream;
    kled_exec_result *result;
};

/* Forked after: the parent's handles work, its stream is refused, nothing of the parent's disturbed; then exec. */
static int late_child(void *arg) {
    struct inherited *in = arg;
    const int S = KLED_ERR_INVALID_STATE;
    kled_exec_result *r = NULL;
    kled_state st;
    kled_event ev;

    kled_status first = kled_terminal_execute(in->t, "\"echo child\"", &r);
    if (first == S && strstr(kled_last_error_message(), "parking_lot")) {
        /* A build that cannot run in a forked child: refused, at once. */
        CHECK(r == NULL);
        CHECK_MESSAGE_HAS("fork()");
        CHECK_STATUS(kled_terminal_state(in->t, &st), S);
    } else {
        CHECK_OK(first);
        if (r) CHECK(stdout_is(r, "child\n"));
        kled_exec_result_free(r);
        CHECK_OK(kled_terminal_state(in->t, &st));
        CHECK(st == KLED_STATE_RUNNING);
        /* A new terminal, made and used in the child. */
        kled_terminal *mine = NULL;
        CHECK_OK(kled_manager_create_terminal(in->m, "local", "made-by-child", NULL, &mine));
        CHECK_OK(kled_terminal_start(mine));
        run_expect(mine, "\"echo mine\"", "mine\n");
        CHECK_OK(kled_terminal_remove(mine));
        kled_terminal_free(mine);
    }
    /* The parent's stream stays the parent's. */
    CHECK_STATUS(kled_exec_stream_next(in->stream, 0, &ev), S);
    CHECK_MESSAGE_HAS("fork");
    CHECK_STATUS(kled_exec_stream_signal(in->stream, 9), S);

    /* What needs no runtime works in every build: accessors, results, a new manager. */
    const char *name = NULL;
    CHECK_OK(kled_terminal_name(in->t, &name));
    CHECK(name && strcmp(name, "forky") == 0);
    CHECK(stdout_is(in->result, "parent\n"));
    kled_manager *mine = NULL;
    CHECK_OK(kled_manager_new(in->home, NULL, &mine));
    char *json = NULL;
    CHECK_OK(kled_manager_providers(mine, &json));
    kled_string_free(json);

    /* Freeing the inherited handles leaves the parent's command running. */
    kled_exec_stream_free(in->stream);
    kled_terminal_free(in->t);
    kled_manager_free(in->m);
    kled_manager_free(mine);
    kled_exec_result_free(in->result);
    if (failures()) return 1;

    /* After exec, libkled works in the same process. */
    char *args[] = {"test_fork", "exec-child", (char *)in->home, NULL};
    execv(self_path, args);
    perror("execv");
    return 1;
}

/* The program the late child execs: a fresh process on the same terminal. */
static int exec_child(const char *home) {
    kled_manager *m = NULL;
    kled_terminal *t = NULL;
    CHECK_OK(kled_manager_new(home, NULL, &m));
    CHECK_OK(kled_manager_get_terminal(m, "forky", &t));
    if (t) run_expect(t, "\"echo after exec\"", "after exec\n");
    kled_terminal_free(t);
    kled_manager_free(m);
    return failures();
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "exec-child") == 0) {
        alarm(30);
        return exec_child(argv[2]);
    }
    if (!realpath(argv[0], self_path)) return 1;
    char home[128];
    const char *base = getenv("KLED_TEST_TMPDIR");
    snprintf(home, sizeof home, "%s/kled-cfork-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(home)) return 1;
    alarm(120);

    CHECK(in_child(fresh_child, home) == 0);

    struct inherited in = {home, NULL, NULL, NULL, NULL};
    CHECK_OK(kled_manager_new(home, NULL, &in.m));
    CHECK_OK(kled_manager_create_terminal(in.m, "local", "forky", NULL, &in.t));
    CHECK_OK(kled_terminal_start(in.t));
    CHECK_OK(kled_terminal_execute(in.t, "\"echo parent\"", &in.result));
    CHECK_OK(kled_terminal_exec_stream(in.t, "\"sleep 0.5; echo from-parent\"", &in.stream));

    /* Twice: right after activity (threads busy) and a little later. */
    CHECK(in_child(late_child, &in) == 0);
    usleep(100000);
    CHECK(in_child(late_child, &in) == 0);

    /* The parent is unaffected: its command ran on, its runtime works. */
    kled_status st;
    CHECK(strcmp(drain(in.stream, &st), "from-parent\n") == 0 && st == KLED_OK);
    kled_exec_stream_free(in.stream);
    kled_exec_result_free(in.result);
    run_expect(in.t, "\"echo parent again\"", "parent again\n");

    kled_terminal *gone = NULL;
    CHECK_STATUS(kled_manager_get_terminal(in.m, "made-by-child", &gone), KLED_ERR_NOT_FOUND);
    CHECK_STATUS(kled_manager_get_terminal(in.m, "before-fork", &gone), KLED_ERR_NOT_FOUND);
    CHECK_OK(kled_terminal_remove(in.t));
    kled_terminal_free(in.t);
    kled_manager_free(in.m);

    char cmd[192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", home);
    return checks_summary("test_fork");
}
