/* Measures the floor under every start method: what fork, exec, a named semaphore and a pipe
 * cost on this machine with no runtime around them.
 *
 * Build and run:  cc -O2 -o limit limit.c -lpthread && ./limit
 * Prints four lines, which bench/run.sh reads:
 *   fork+_exit+waitpid: X us             (1000 children)
 *   fork+exec(/bin/true)+waitpid: X us   (300 children)
 *   sem_wait+sem_post: X ns              (10,000,000 pairs, uncontended)
 *   pipe round trip: X us                (100,000 round trips of 8 bytes to a child and back)
 *
 * Every child is reaped and must exit with code 0, and every blocking call is restarted when
 * a signal interrupts it (EINTR): a figure measured on failed calls would be no figure. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { FORKS = 1000, EXECS = 300, SEM_PAIRS = 10000000, ROUND_TRIPS = 100000 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Reports a failed call with its errno and ends the program. Used only while no child is
 * outstanding, so exiting here leaves nothing behind. */
static void fail(const char *call) {
    perror(call);
    exit(1);
}

/* Waits for one child and checks that it exited with code 0. */
static void reap(pid_t pid, const char *what) {
    int status;
    pid_t r;
    do r = waitpid(pid, &status, 0); while (r == -1 && errno == EINTR);
    if (r == -1) fail("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFSIGNALED(status))
            fprintf(stderr, "limit: %s child %ld was killed by signal %d\n", what, (long)pid, WTERMSIG(status));
        else
            fprintf(stderr, "limit: %s child %ld exited with code %d\n", what, (long)pid, WEXITSTATUS(status));
        exit(1);
    }
}

/* Writes all of buf. Returns 0, or -1 with errno. */
static int write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads len bytes unless end-of-file comes first. Returns the count read, or -1 with errno. */
static ssize_t read_full(int fd, char *buf, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(fd, buf + done, len - done);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        done += (size_t)n;
    }
    return (ssize_t)done;
}

/* fork, and the child leaves at once: the cost of copying this small process's page tables
 * and of the kernel's process bookkeeping. */
static void fork_exit(void) {
    double t = now();
    for (int i = 0; i < FORKS; i++) {
        pid_t pid = fork();
        if (pid < 0) fail("fork");
        if (pid == 0) _exit(0); /* _exit: no atexit handlers, no stdio flush in the copy */
        reap(pid, "fork+_exit");
    }
    printf("fork+_exit+waitpid: %.1f us\n", (now() - t) / FORKS * 1e6);
}

/* fork, then execve a program that does nothing: adds loading a new program image. */
static void fork_exec(void) {
    char *const argv[] = {"true", NULL};
    double t = now();
    for (int i = 0; i < EXECS; i++) {
        pid_t pid = fork();
        if (pid < 0) fail("fork");
        if (pid == 0) {
            execve("/bin/true", argv, environ);
            _exit(127); /* exec failed: reap() reports the code */
        }
        reap(pid, "fork+exec");
    }
    printf("fork+exec(/bin/true)+waitpid: %.1f us\n", (now() - t) / EXECS * 1e6);
}

/* An uncontended POSIX named semaphore: on Linux both calls stay in user space (an atomic
 * operation on shared memory) unless a waiter has to sleep. */
static void semaphore(void) {
    char name[64];
    snprintf(name, sizeof name, "/forkkit-limit-%ld", (long)getpid());
    sem_t *sem = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
    if (sem == SEM_FAILED) fail("sem_open");
    /* Unlinked at once: the open handle keeps working, and no /dev/shm/sem.forkkit-limit-*
     * is left behind even if this program is killed. */
    if (sem_unlink(name) != 0) fail("sem_unlink");

    double t = now();
    for (int i = 0; i < SEM_PAIRS; i++) {
        int r;
        do r = sem_wait(sem); while (r == -1 && errno == EINTR);
        if (r != 0) fail("sem_wait");
        if (sem_post(sem) != 0) fail("sem_post");
    }
    printf("sem_wait+sem_post: %.1f ns\n", (now() - t) / SEM_PAIRS * 1e9);
    if (sem_close(sem) != 0) fail("sem_close");
}

/* 8 bytes to a child over one pipe and back over another: two context switches and four
 * system calls per round trip, the least a request to a worker process can cost. */
static void pipe_round_trip(void) {
    int up[2], down[2];
    char buf[8] = {0};
    if (pipe(up) != 0) fail("pipe");
    if (pipe(down) != 0) fail("pipe");
    pid_t pid = fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {
        /* The child echoes until end-of-file, which comes when the parent closes up[1]. */
        close(up[1]);
        close(down[0]);
        for (;;) {
            ssize_t n = read_full(up[0], buf, sizeof buf);
            if (n == 0) _exit(0);
            if (n != (ssize_t)sizeof buf || write_all(down[1], buf, sizeof buf) != 0) _exit(1);
        }
    }
    close(up[0]);
    close(down[1]);

    const char *failed = NULL;
    int failed_errno = 0;
    double t = now();
    for (int i = 0; i < ROUND_TRIPS && failed == NULL; i++) {
        if (write_all(up[1], buf, sizeof buf) != 0) {
            failed = "write";
            failed_errno = errno;
        } else {
            ssize_t n = read_full(down[0], buf, sizeof buf);
            if (n != (ssize_t)sizeof buf) {
                failed = "read";
                failed_errno = n < 0 ? errno : EPIPE; /* short read: the child ended early */
            }
        }
    }
    double elapsed = now() - t;

    /* Closing the write end ends the child's loop; it is reaped before any error is reported. */
    close(up[1]);
    close(down[0]);
    if (failed != NULL) {
        int status;
        while (waitpid(pid, &status, 0) == -1 && errno == EINTR) {
        }
        errno = failed_errno;
        fail(failed);
    }
    reap(pid, "pipe echo");
    printf("pipe round trip: %.1f us\n", elapsed / ROUND_TRIPS * 1e6);
}

int main(void) {
    /* Line-buffered even into a pipe, so no printed line sits in a buffer that fork copies. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* A write to a pipe whose reader died fails with EPIPE instead of killing this program. */
    signal(SIGPIPE, SIG_IGN);

    fork_exit();
    fork_exec();
    semaphore();
    pipe_round_trip();
    return 0;
}
