/*
 * spawn-test: checks ForkKit_spawn's exec-error pipe where the managed tests cannot reach it.
 * It is built twice from this file with the shim compiled in: as is, and with a failing child
 * that writes only part of its report (FORKKIT_CHILD_REPORT_BYTES), which must still read as a
 * failure. Prints one line per check and exits 0 when all passed, 1 otherwise.
 */
#include "../forkkit.c"

#include <stdio.h>

static int failures;

static void check(int ok, const char *what) {
    printf("%s: %s\n", ok ? "ok" : "FAILED", what);
    if (!ok) failures++;
}

/* Two descriptors of /dev/null at numbers above 3 and 4, with 3 and 4 left free: the exec-error
 * pipe ForkKit_spawn makes then gets 3 and 4, the targets of the map. */
static void free_three_and_four(int *a, int *b) {
    *a = open("/dev/null", O_RDONLY | O_CLOEXEC);
    *b = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int high_a = fcntl(*a, F_DUPFD_CLOEXEC, 10), high_b = fcntl(*b, F_DUPFD_CLOEXEC, 10);
    close(*a);
    close(*b);
    *a = high_a;
    *b = high_b;
}

int main(void) {
    int a, b;
    free_three_and_four(&a, &b);
    int map[4] = {a, 3, b, 4};
    char *argv_missing[] = {"missing", NULL};
    char *envp[] = {NULL};
    int step = -1;

    errno = 0;
    int pid = ForkKit_spawn("/nonexistent/forkkit-spawn-test", argv_missing, envp, map, 2, &step);
#if defined(SHORT_REPORT)
    check(pid == -1 && step == FORKKIT_STEP_REPORT && errno == EIO,
          "a cut-short failure report (pipe on the mapped descriptors 3 and 4) is a failure with EIO");
#else
    check(pid == -1 && step == FORKKIT_STEP_EXECVE && errno == ENOENT,
          "a failed execve with the exec-error pipe on the mapped descriptors 3 and 4 reports ENOENT");
    char *argv_true[] = {"true", NULL};
    int status = -1;
    pid = ForkKit_spawn("/bin/true", argv_true, envp, map, 2, &step);
    check(pid > 0 && waitpid_eintr(pid, &status) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "a successful execve with the same descriptors runs the program");
#endif
    int status_any;
    check(waitpid(-1, &status_any, WNOHANG) == -1 && errno == ECHILD, "no child is left unreaped");
    return failures == 0 ? 0 : 1;
}
