/*
 * forkkit-tracker: removes the named semaphores and shared memory objects of one process when
 * that process ends, however it ends (return, unhandled exception, SIGKILL). Python's
 * multiprocessing has the same helper, resource_tracker.
 *
 * The process that creates ForkKit kernel objects starts one tracker and keeps the write end
 * of a pipe to it (descriptor 3 here). It writes one line per name: "+NAME" when it creates an
 * object, "-NAME" when it has unlinked it itself. The kernel closes the write end when the
 * process dies, even by SIGKILL: the tracker then reads end-of-file, unlinks every name still
 * registered, and exits.
 *
 * The tracker detaches at once (fork, the first copy exits, the second calls setsid): it is
 * not a child of the program it watches, so it never counts as that program's unreaped child,
 * and Ctrl-C in the program's terminal does not reach it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

#define MAX_NAME 251

struct names {
    char **items;
    size_t count, capacity;
};

static void add_name(struct names *n, const char *name) {
    if (n->count == n->capacity) {
        size_t capacity = n->capacity ? n->capacity * 2 : 16;
        char **items = realloc(n->items, capacity * sizeof *items);
        if (items == NULL) return; /* out of memory: this name will not be cleaned up */
        n->items = items;
        n->capacity = capacity;
    }
    n->items[n->count] = strdup(name);
    if (n->items[n->count] != NULL) n->count++;
}

static void remove_name(struct names *n, const char *name) {
    for (size_t i = 0; i < n->count; i++) {
        if (strcmp(n->items[i], name) == 0) {
            free(n->items[i]);
            n->items[i] = n->items[--n->count];
            return;
        }
    }
}

/* Unlinks both kinds of object a ForkKit name can stand for; ENOENT (already gone) is fine. */
static void unlink_all(struct names *n) {
    char full[MAX_NAME + 2];
    for (size_t i = 0; i < n->count; i++) {
        snprintf(full, sizeof full, "/%s", n->items[i]);
        sem_unlink(full);
        shm_unlink(full);
    }
}

int main(int argc, char **argv) {
    int fd = argc > 1 ? atoi(argv[1]) : 3;

    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid > 0) _exit(0); /* the starter reaps this copy; the tracker lives on detached */
    setsid();
#if defined(__linux__)
    prctl(PR_SET_NAME, "forkkit-tracker", 0, 0, 0);
#endif
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);

    struct names names = {0};
    char line[MAX_NAME + 2];
    size_t used = 0;
    char buffer[4096];
    for (;;) {
        ssize_t got = read(fd, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break; /* end-of-file: the watched process has exited */
        for (ssize_t i = 0; i < got; i++) {
            char c = buffer[i];
            if (c != '\n') {
                if (used < sizeof line - 1) line[used++] = c;
                continue;
            }
            line[used] = '\0';
            if (used > 1 && line[0] == '+') add_name(&names, line + 1);
            else if (used > 1 && line[0] == '-') remove_name(&names, line + 1);
            used = 0;
        }
    }
    unlink_all(&names);
    return 0;
}
