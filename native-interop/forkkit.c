/* libforkkit: see forkkit.h for why this code is C and what each function promises.
 *
 * Portability: built and tested on Linux. What only Linux has (prctl, pidfd_open,
 * close_range) sits behind __linux__, with a POSIX fallback or an ENOSYS failure elsewhere;
 * what macOS lacks of POSIX (pipe2, sem_timedwait, a working sem_getvalue) sits behind
 * __APPLE__. The other branches compile but have not been run: docs/design.md, "The C shim
 * beyond Linux". */
#define _GNU_SOURCE
#include "forkkit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/mman.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#define CHILD_NAME "forkkit-child"

/* The name ps shows for this process (comm). Linux's prctl(PR_SET_NAME) names the calling
 * thread, which in a freshly forked child is the whole process. */
static int set_comm(const char *name) {
#if defined(__linux__)
    return prctl(PR_SET_NAME, name, 0, 0, 0);
#else
    /* Elsewhere no call renames a process for ps (macOS's pthread_setname_np names only the
     * calling thread, for debuggers). */
    (void)name;
    errno = ENOSYS;
    return -1;
#endif
}

/* Resets every caught signal to its default action. Runs in a freshly forked child, with all
 * signals blocked: the parent's handlers belong to the .NET runtime, and a .NET handler that
 * ran here would write into pipes shared with the parent (its signal pipe) or wait for a
 * runtime thread that does not exist in the child. Ignored signals stay ignored, as across
 * execve. */
/* True for the signals a .NET runtime turns into exceptions on the thread that caused them
 * (SIGSEGV: NullReferenceException; SIGFPE: DivideByZeroException; ...) and for the real-time
 * signals it uses to interrupt its own threads. Those handlers run on the faulting thread, need
 * no other thread, and a forked runtime that runs managed code must keep them. */
static int is_synchronous_runtime_signal(int sig) {
    if (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP) return 1;
#if defined(SIGRTMIN)
    if (sig >= SIGRTMIN && sig <= SIGRTMAX) return 1;
#endif
    return 0;
}

/* keep_synchronous: leave the handlers of is_synchronous_runtime_signal in place (a child that
 * goes on running managed code); otherwise every caught signal goes back to its default. */
static void reset_signal_handlers_keeping(int keep_synchronous) {
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction old;
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        if (keep_synchronous && is_synchronous_runtime_signal(sig)) continue;
        if (sigaction(sig, NULL, &old) != 0) continue; /* EINVAL: glibc-reserved numbers */
        if (old.sa_handler == SIG_IGN || old.sa_handler == SIG_DFL) continue;
        struct sigaction dfl = {0};
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(sig, &dfl, NULL);
    }
}

static void reset_signal_handlers(void) { reset_signal_handlers_keeping(0); }

/* Blocks every signal in the calling thread and saves the old mask: between fork and the
 * child's reset_signal_handlers, no runtime handler may run in the child. */
static void block_all_signals(sigset_t *old) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, old);
}

static void restore_signal_mask(const sigset_t *old) {
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

static int read_full(int fd, void *buf, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(fd, (char *)buf + done, len - done);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        done += (size_t)n;
    }
    return (int)done;
}

static pid_t waitpid_eintr(pid_t pid, int *status) {
    pid_t r;
    do r = waitpid(pid, status, 0); while (r == -1 && errno == EINTR);
    return r;
}

/* How many bytes of its (step, errno) report a failing child writes. Always the whole report;
 * the shim's own test builds it with fewer, to prove the parent never reads a cut-short report
 * as success. */
#ifndef FORKKIT_CHILD_REPORT_BYTES
#define FORKKIT_CHILD_REPORT_BYTES sizeof(int[2])
#endif

/* In the child after vfork: report (step, errno) through the close-on-exec pipe and leave
 * without running atexit handlers or flushing the parent's stdio buffers. */
static void __attribute__((noreturn)) child_fail(int err_fd, int step) {
    int report[2] = {step, errno};
    ssize_t ignored;
    do ignored = write(err_fd, report, FORKKIT_CHILD_REPORT_BYTES); while (ignored == -1 && errno == EINTR);
    (void)ignored;
    _exit(127);
}

/* Sets close-on-exec on every descriptor above stderr that is not a target of fd_map. Marks
 * rather than closes, because the exec-error pipe must stay usable until execve. */
static void mark_close_on_exec_except(const int *fd_map, int fd_map_pairs, int max_target) {
    for (int fd = 3; fd <= max_target; fd++) {
        int is_target = 0;
        for (int i = 0; i < fd_map_pairs; i++)
            if (fd_map[2 * i + 1] == fd) is_target = 1;
        if (!is_target) {
            int flags = fcntl(fd, F_GETFD);
            if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
        }
    }
#if defined(__linux__) && defined(SYS_close_range) && defined(CLOSE_RANGE_CLOEXEC)
    if (syscall(SYS_close_range, (unsigned)max_target + 1, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
#endif
    /* Linux before 5.11, and every other Unix: one fcntl per possible descriptor. */
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (int fd = max_target + 1; fd < max; fd++) {
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
}

/* The child side of ForkKit_spawn, after vfork: map descriptors, point stdin at /dev/null,
 * restore the signal mask and execve. Never returns. Kept out of ForkKit_spawn so that no
 * variable of the parent's frame is live across vfork. */
static void __attribute__((noinline, noreturn))
spawn_child(const char *path, char *const argv[], char *const envp[], const int *fd_map,
            int fd_map_pairs, int err_fd, const sigset_t *old_mask) {
    reset_signal_handlers();
    /* A controlled start: the new program can wait for children of its own. */
    signal(SIGCHLD, SIG_DFL);

    /* The highest target number: a source at or below it may be overwritten by an earlier
     * dup2, so it is first moved above it. */
    int max_target = 2;
    for (int i = 0; i < fd_map_pairs; i++)
        if (fd_map[2 * i + 1] > max_target) max_target = fd_map[2 * i + 1];

    /* The exec-error pipe is new, so it has the lowest free numbers, which may be targets (3,
     * 4, ...): a dup2 onto it would close it, and a failed exec would then read as success.
     * It moves above every target first. */
    if (err_fd <= max_target) {
        int moved_err = fcntl(err_fd, F_DUPFD_CLOEXEC, max_target + 1);
        if (moved_err < 0) child_fail(err_fd, FORKKIT_STEP_DUP2);
        err_fd = moved_err;
    }

    int moved[FORKKIT_MAX_FD_MAP];
    for (int i = 0; i < fd_map_pairs; i++) {
        int src = fd_map[2 * i];
        moved[i] = src;
        if (src <= max_target && src != fd_map[2 * i + 1]) {
            moved[i] = fcntl(src, F_DUPFD_CLOEXEC, max_target + 1);
            if (moved[i] < 0) child_fail(err_fd, FORKKIT_STEP_DUP2);
        }
    }
    for (int i = 0; i < fd_map_pairs; i++) {
        int target = fd_map[2 * i + 1];
        if (moved[i] == target) {
            /* Already in place: only clear close-on-exec so that it survives execve. */
            int flags = fcntl(target, F_GETFD);
            if (flags < 0 || fcntl(target, F_SETFD, flags & ~FD_CLOEXEC) < 0)
                child_fail(err_fd, FORKKIT_STEP_DUP2);
        } else if (dup2(moved[i], target) < 0) {
            child_fail(err_fd, FORKKIT_STEP_DUP2);
        }
    }

    /* Everything else this process has open stays behind: descriptors the runtime or a
     * parent program left without close-on-exec would otherwise leak into the new program. */
    mark_close_on_exec_except(fd_map, fd_map_pairs, max_target);

    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0) child_fail(err_fd, FORKKIT_STEP_DEVNULL);

    restore_signal_mask(old_mask);
    execve(path, argv, envp);
    child_fail(err_fd, FORKKIT_STEP_EXECVE);
}

#if defined(__APPLE__) || !defined(SOCK_CLOEXEC)
/* Marks both descriptors of a new pair close-on-exec; on failure closes both. 0, or -1 with
 * errno. For systems without pipe2 or SOCK_CLOEXEC, where the flag comes a moment later. */
static int cloexec_both(int fds[2]) {
    if (ForkKit_set_cloexec(fds[0]) == 0 && ForkKit_set_cloexec(fds[1]) == 0) return 0;
    int saved = errno;
    close(fds[0]);
    close(fds[1]);
    errno = saved;
    return -1;
}
#endif

/* A pipe with both ends close-on-exec. */
static int cloexec_pipe(int fds[2]) {
#if defined(__APPLE__)
    /* macOS has no pipe2, so the flag is set a moment after pipe(). A fork by another thread
     * in that moment copies both ends without it; a child of ForkKit_spawn still drops them at
     * execve (mark_close_on_exec_except), a child of another library may not. */
    if (pipe(fds) != 0) return -1;
    return cloexec_both(fds);
#else
    return pipe2(fds, O_CLOEXEC);
#endif
}

int ForkKit_spawn(const char *path, char *const argv[], char *const envp[],
                  const int *fd_map, int fd_map_pairs, int *failed_step) {
    *failed_step = FORKKIT_STEP_NONE;
    if (fd_map_pairs < 0 || fd_map_pairs > FORKKIT_MAX_FD_MAP) {
        *failed_step = FORKKIT_STEP_DUP2;
        errno = EINVAL;
        return -1;
    }
    int err_pipe[2];
    if (cloexec_pipe(err_pipe) != 0) {
        *failed_step = FORKKIT_STEP_PIPE;
        return -1;
    }

    sigset_t old_mask;
    block_all_signals(&old_mask);

    /* vfork, as dotnet/runtime's pal_process.c does: the child borrows the parent's memory
     * instead of copying the page tables of a large runtime, and this thread sleeps until the
     * child has called execve or _exit. The child touches only the stack below this frame and
     * calls only async-signal-safe functions. */
    pid_t pid = vfork();
    if (pid == 0)
        spawn_child(path, argv, envp, fd_map, fd_map_pairs, err_pipe[1], &old_mask);

    /* The parent: the child has exec'd, failed, or was never made. */
    int fork_errno = errno;
    restore_signal_mask(&old_mask);
    close(err_pipe[1]);
    if (pid < 0) {
        close(err_pipe[0]);
        *failed_step = FORKKIT_STEP_FORK;
        errno = fork_errno;
        return -1;
    }

    /* execve closed the write end (close-on-exec), so a successful exec reads 0 bytes here;
     * a failed child wrote its (step, errno) before _exit(127). */
    int report[2];
    int got = read_full(err_pipe[0], report, sizeof report);
    int read_errno = errno;
    close(err_pipe[0]);
    if (got == 0) return pid;
    /* Anything but end-of-file at once means the child did not exec: a whole report says
     * why; a cut-short one, or a failed read, cannot, and is never taken for success. */
    int status;
    waitpid_eintr(pid, &status); /* reap the failed child: nothing is left behind (ECHILD when
                                    SIGCHLD is ignored: the kernel has reaped it) */
    if (got == (int)sizeof report) {
        *failed_step = report[0];
        errno = report[1];
    } else {
        *failed_step = FORKKIT_STEP_REPORT;
        errno = got < 0 ? read_errno : EIO;
    }
    return -1;
}

int ForkKit_fork(void) {
    sigset_t old_mask;
    block_all_signals(&old_mask);
    pid_t pid = fork();
    if (pid == 0) {
        /* The child: the runtime's handlers of asynchronous signals (SIGTERM, SIGINT, SIGCHLD,
         * ...), which hand the signal to a thread the child does not have, go before any signal
         * can reach one; the fault handlers that make exceptions stay. Then every signal may
         * arrive again. */
        reset_signal_handlers_keeping(1);
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, NULL);
        return 0;
    }
    int saved = errno;
    restore_signal_mask(&old_mask);
    errno = saved;
    return pid;
}

int ForkKit_fork_exit(int exit_code) {
    sigset_t old_mask;
    block_all_signals(&old_mask);
    pid_t pid = fork();
    if (pid == 0) {
        /* The child: name itself for ps, then exit at once. Signals are still blocked, so no
         * runtime handler can run before _exit. */
        set_comm(CHILD_NAME);
        _exit(exit_code);
    }
    int saved = errno;
    restore_signal_mask(&old_mask);
    errno = saved;
    return pid;
}

/* Closes every descriptor above stderr in a forked child, so a child that outlives its parent
 * does not keep the parent's pipes (or a test runner's) open. */
static void close_inherited_descriptors(void) {
#if defined(__linux__) && defined(SYS_close_range)
    if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
#endif
    /* Linux before 5.9, and every other Unix: close each possible descriptor. */
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (int fd = 3; fd < max; fd++) close(fd);
}

int ForkKit_fork_sleep_exit(int64_t sleep_ms, int exit_code) {
    sigset_t old_mask;
    block_all_signals(&old_mask);
    pid_t pid = fork();
    if (pid == 0) {
        /* The child: only async-signal-safe calls until _exit. */
        set_comm(CHILD_NAME);
        reset_signal_handlers();
        close_inherited_descriptors();
        restore_signal_mask(&old_mask);
        struct timespec left = {(time_t)(sleep_ms / 1000), (long)(sleep_ms % 1000) * 1000000L};
        while (nanosleep(&left, &left) == -1 && errno == EINTR) {
        }
        _exit(exit_code);
    }
    int saved = errno;
    restore_signal_mask(&old_mask);
    errno = saved;
    return pid;
}

int ForkKit_pidfd_open(int pid) {
#if defined(__linux__) && defined(SYS_pidfd_open)
    return (int)syscall(SYS_pidfd_open, (pid_t)pid, 0U);
#else
    /* No pidfd here: the caller falls back to polling the process table. */
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

static int64_t monotonic_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int ForkKit_wait_readable(int fd, int timeout_ms) {
    int64_t deadline = timeout_ms < 0 ? -1 : monotonic_ms() + timeout_ms;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int wait_ms = -1;
        if (deadline >= 0) {
            int64_t left = deadline - monotonic_ms();
            wait_ms = left > 0 ? (int)left : 0;
        }
        int r = poll(&p, 1, wait_ms);
        if (r > 0) return 1;
        if (r == 0) return 0;
        if (errno != EINTR) return -1;
    }
}

int ForkKit_set_comm(const char *name) { return set_comm(name); }

int ForkKit_set_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

/* ---- named semaphores and shared memory ---- */

#define NAME_MAX_LEN 250

/* "/" + name, as sem_open and shm_open want it. Returns 0, or -1 with ENAMETOOLONG. */
static int slash_name(const char *name, char *out) {
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_LEN) {
        errno = ENAMETOOLONG;
        return -1;
    }
    out[0] = '/';
    memcpy(out + 1, name, n + 1);
    return 0;
}

void *ForkKit_sem_create(const char *name, unsigned value) {
    char full[NAME_MAX_LEN + 2];
    if (slash_name(name, full) != 0) return NULL;
    sem_t *s = sem_open(full, O_CREAT | O_EXCL, 0600, value);
    return s == SEM_FAILED ? NULL : s;
}

void *ForkKit_sem_open(const char *name) {
    char full[NAME_MAX_LEN + 2];
    if (slash_name(name, full) != 0) return NULL;
    sem_t *s = sem_open(full, 0);
    return s == SEM_FAILED ? NULL : s;
}

int ForkKit_sem_wait_polling_ms(void *sem, int timeout_ms) {
    int64_t deadline = timeout_ms < 0 ? -1 : monotonic_ms() + timeout_ms;
    long pause_ms = 1;
    for (;;) {
        if (sem_trywait((sem_t *)sem) == 0) return 1;
        if (errno != EAGAIN && errno != EINTR) return -1;
        int64_t left = deadline < 0 ? pause_ms : deadline - monotonic_ms();
        if (left <= 0) return 0;
        long nap = left < pause_ms ? (long)left : pause_ms;
        struct timespec t = {nap / 1000, (nap % 1000) * 1000000L};
        nanosleep(&t, NULL); /* EINTR: the loop looks again */
        if (pause_ms < 10) pause_ms *= 2;
    }
}

int ForkKit_sem_wait_ms(void *sem, int timeout_ms) {
#if defined(__APPLE__)
    return ForkKit_sem_wait_polling_ms(sem, timeout_ms);
#else
    sem_t *s = (sem_t *)sem;
    if (timeout_ms == 0) {
        if (sem_trywait(s) == 0) return 1;
        return errno == EAGAIN ? 0 : -1;
    }
    if (timeout_ms < 0) {
        int r;
        do r = sem_wait(s); while (r == -1 && errno == EINTR);
        return r == 0 ? 1 : -1;
    }
    /* An absolute deadline, computed once, so an EINTR restart waits only for the time that is
     * left. On the monotonic clock where the C library has sem_clockwait (glibc 2.30): a
     * wall-clock deadline moves when the clock is set, and a timed Acquire would wait that much
     * longer or shorter. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 30))
    const clockid_t clock = CLOCK_MONOTONIC;
#else
    const clockid_t clock = CLOCK_REALTIME;
#endif
    struct timespec deadline;
    clock_gettime(clock, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
    }
    int r;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 30))
    do r = sem_clockwait(s, clock, &deadline); while (r == -1 && errno == EINTR);
#else
    do r = sem_timedwait(s, &deadline); while (r == -1 && errno == EINTR);
#endif
    if (r == 0) return 1;
    return errno == ETIMEDOUT ? 0 : -1;
#endif
}

int ForkKit_sem_post(void *sem) { return sem_post((sem_t *)sem); }

int ForkKit_sem_getvalue(void *sem) {
#if defined(__APPLE__)
    (void)sem;
    errno = ENOSYS;
    return -1;
#else
    int value;
    if (sem_getvalue((sem_t *)sem, &value) != 0) return -1;
    return value < 0 ? 0 : value;
#endif
}

int ForkKit_sem_close(void *sem) { return sem_close((sem_t *)sem); }

int ForkKit_sem_unlink(const char *name) {
    char full[NAME_MAX_LEN + 2];
    if (slash_name(name, full) != 0) return -1;
    return sem_unlink(full);
}

static void *map_shared(int fd, int size) {
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int saved = errno;
    close(fd);
    errno = saved;
    return p == MAP_FAILED ? NULL : p;
}

void *ForkKit_shm_create(const char *name, int size) {
    char full[NAME_MAX_LEN + 2];
    if (slash_name(name, full) != 0) return NULL;
    /* No O_CLOEXEC: POSIX has shm_open set FD_CLOEXEC itself (glibc adds the flag), macOS
     * documents only the access, O_CREAT, O_EXCL and O_TRUNC flags, and map_shared closes the
     * descriptor at once anyway. */
    int fd = shm_open(full, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) return NULL;
    if (ftruncate(fd, size) != 0) {
        int saved = errno;
        close(fd);
        shm_unlink(full);
        errno = saved;
        return NULL;
    }
    return map_shared(fd, size);
}

void *ForkKit_shm_open(const char *name, int size) {
    char full[NAME_MAX_LEN + 2];
    if (slash_name(name, full) != 0) return NULL;
    int fd = shm_open(full, O_RDWR, 0);
    if (fd < 0) return NULL;
    return map_shared(fd, size);
}

int ForkKit_shm_close(void *mapping, int size) { return munmap(mapping, (size_t)size); }

int ForkKit_shm_unlink(const char *name) {
    char full[NAME_MAX_LEN + 2];
    if (slash_name(name, full) != 0) return -1;
    return shm_unlink(full);
}

int ForkKit_set_child_subreaper(int on) {
#if defined(__linux__) && defined(PR_SET_CHILD_SUBREAPER)
    return prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0);
#else
    /* FreeBSD's procctl(PROC_REAP_ACQUIRE) is the nearest thing; not used here. */
    (void)on;
    errno = ENOSYS;
    return -1;
#endif
}

/* ---- The fork server's socket: one connected pair, descriptors passed with SCM_RIGHTS ---- */

int ForkKit_socketpair(int fds[2]) {
#if defined(SOCK_CLOEXEC)
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
#else
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return -1;
    return cloexec_both(fds);
#endif
}

int ForkKit_send_fds(int sock, const void *buf, int len, const int *fds, int nfds) {
    if (len <= 0 || nfds < 0 || nfds > FORKKIT_MAX_PASSED_FDS) {
        errno = EINVAL;
        return -1;
    }
    const char *p = buf;
    int sent = 0;
    while (sent < len) {
        struct iovec iov = {.iov_base = (void *)(p + sent), .iov_len = (size_t)(len - sent)};
        struct msghdr msg;
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        union {
            char buf[CMSG_SPACE(sizeof(int) * FORKKIT_MAX_PASSED_FDS)];
            struct cmsghdr align;
        } control;
        if (sent == 0 && nfds > 0) {
            /* The descriptors ride with the first byte; the rest of the bytes follow plainly. */
            memset(&control, 0, sizeof control);
            msg.msg_control = control.buf;
            msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
            struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
            memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
        }
#if defined(MSG_NOSIGNAL)
        ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
#else
        ssize_t n = sendmsg(sock, &msg, 0);
#endif
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        sent += (int)n;
    }
    return 0;
}

int ForkKit_recv_fds(int sock, void *buf, int len, int *fds, int max_fds, int *nfds) {
    *nfds = 0;
    if (len <= 0 || max_fds < 0 || max_fds > FORKKIT_MAX_PASSED_FDS) {
        errno = EINVAL;
        return -1;
    }
    char *p = buf;
    int got = 0;
    while (got < len) {
        struct iovec iov = {.iov_base = p + got, .iov_len = (size_t)(len - got)};
        struct msghdr msg;
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        union {
            char buf[CMSG_SPACE(sizeof(int) * FORKKIT_MAX_PASSED_FDS)];
            struct cmsghdr align;
        } control;
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof control.buf;
#if defined(MSG_CMSG_CLOEXEC)
        ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
#else
        ssize_t n = recvmsg(sock, &msg, 0);
#endif
        if (n < 0) {
            if (errno == EINTR) continue;
            goto fail;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            int *passed = (int *)CMSG_DATA(c);
            for (int i = 0; i < count; i++) {
                int fd;
                memcpy(&fd, passed + i, sizeof fd);
#if !defined(MSG_CMSG_CLOEXEC)
                ForkKit_set_cloexec(fd);
#endif
                if (*nfds < max_fds) fds[(*nfds)++] = fd;
                else close(fd); /* more than the message may carry: not ours to keep */
            }
        }
        if (msg.msg_flags & MSG_CTRUNC) {
            errno = EMSGSIZE;
            goto fail;
        }
        if (n == 0) {
            if (got == 0 && *nfds == 0) return 0; /* the other end closed between messages */
            errno = ECONNRESET;                    /* it closed in the middle of one */
            goto fail;
        }
        got += (int)n;
    }
    return got;
fail: {
        int saved = errno;
        for (int i = 0; i < *nfds; i++) close(fds[i]);
        *nfds = 0;
        errno = saved;
        return -1;
    }
}

int ForkKit_pidfd_send_signal(int pidfd, int sig) {
#if defined(__linux__) && defined(SYS_pidfd_send_signal)
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0U);
#else
    (void)pidfd;
    (void)sig;
    errno = ENOSYS;
    return -1;
#endif
}

int ForkKit_poll_readable(const int *fds, int count, int timeout_ms, unsigned char *readable) {
    struct pollfd stack[64];
    struct pollfd *p = count <= 64 ? stack : calloc((size_t)count, sizeof *p);
    if (p == NULL) return -1;
    for (int i = 0; i < count; i++) {
        p[i].fd = fds[i];
        p[i].events = POLLIN;
        p[i].revents = 0;
    }
    int64_t deadline = timeout_ms < 0 ? -1 : monotonic_ms() + timeout_ms;
    int r;
    for (;;) {
        int wait_ms = -1;
        if (deadline >= 0) {
            int64_t left = deadline - monotonic_ms();
            wait_ms = left > 0 ? (int)left : 0;
        }
        r = poll(p, (nfds_t)count, wait_ms);
        if (r >= 0 || errno != EINTR) break;
    }
    if (r > 0)
        for (int i = 0; i < count; i++) readable[i] = (p[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0;
    int saved = errno;
    if (p != stack) free(p);
    errno = saved;
    return r;
}

int ForkKit_write_all(int fd, const void *buf, int len) {
    const char *p = buf;
    int done = 0;
    while (done < len) {
        ssize_t n = write(fd, p + done, (size_t)(len - done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        done += (int)n;
    }
    return 0;
}

int ForkKit_read_some(int fd, void *buf, int len) {
    for (;;) {
        ssize_t n = read(fd, buf, (size_t)len);
        if (n >= 0 || errno != EINTR) return (int)n;
    }
}
