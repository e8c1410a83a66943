/* Creates a local terminal, runs a command in it, prints its output and
 * exit code, and removes the terminal.
 *
 *   cc hello.c $(pkg-config --cflags --libs kled) -o hello && ./hello
 *
 * The terminal's state lives in $KLED_HOME (default ~/.local/state/kled). */
#include <kled.h>
#include <stdio.h>
#include <unistd.h>

/* Prints what failed and why, and says whether it did. */
static int failed(kled_status status, const char *what) {
    if (status == KLED_OK) return 0;
    fprintf(stderr, "%s: %s (%s)\n", what, kled_last_error_message(), kled_status_name(status));
    return 1;
}

int main(void) {
    kled_manager *manager = NULL;
    kled_terminal *terminal = NULL;
    kled_exec_result *result = NULL;
    char name[64];
    int rc = 1;

    snprintf(name, sizeof name, "hello-c-%ld", (long)getpid());
    if (failed(kled_manager_new(NULL, NULL, &manager), "open manager")) return 1;
    if (failed(kled_manager_create_terminal(manager, "local", name, NULL, &terminal), "create")) goto out;
    if (failed(kled_terminal_start(terminal), "start")) goto remove;
    if (failed(kled_terminal_execute(terminal, "{\"command\": \"echo hello from $0; exit 3\"}", &result), "execute"))
        goto remove;

    const uint8_t *out;
    size_t len;
    kled_exit ended;
    kled_exec_result_stdout(result, &out, &len);
    kled_exec_result_exit(result, &ended);
    fwrite(out, 1, len, stdout);
    printf("exit code: %d\n", ended.has_exit_code ? ended.exit_code : -1);
    rc = 0;

remove:
    if (failed(kled_terminal_remove(terminal), "remove")) rc = 1;
out:
    kled_exec_result_free(result);
    kled_terminal_free(terminal);
    kled_manager_free(manager);
    return rc;
}
