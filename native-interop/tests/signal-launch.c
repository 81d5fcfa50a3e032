/*
 * signal-launch: runs a program with chosen signal dispositions, as a shell, a daemon manager
 * or a container runtime may start one, for the tests of how ForkKit behaves then.
 *
 *   signal-launch [--ignore SIG]... [--default SIG]... [--setsid] -- PROGRAM [ARG]...
 *
 * SIG is a number. An ignored disposition survives execve; --setsid makes the program the
 * leader of a new session and process group, so a test can signal the whole group as a
 * terminal's Ctrl-C does.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void set(int sig, void (*action)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = action;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) {
        perror("signal-launch: sigaction");
        exit(125);
    }
}

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--ignore") == 0 && i + 1 < argc) set(atoi(argv[++i]), SIG_IGN);
        else if (strcmp(argv[i], "--default") == 0 && i + 1 < argc) set(atoi(argv[++i]), SIG_DFL);
        else if (strcmp(argv[i], "--setsid") == 0) {
            if (setsid() < 0) {
                perror("signal-launch: setsid");
                return 125;
            }
        } else {
            fprintf(stderr, "usage: signal-launch [--ignore SIG]... [--default SIG]... [--setsid] -- PROGRAM [ARG]...\n");
            return 125;
        }
    }
    if (i + 1 >= argc) {
        fprintf(stderr, "signal-launch: no program after --\n");
        return 125;
    }
    execvp(argv[i + 1], argv + i + 1);
    perror("signal-launch: execvp");
    return 127;
}
