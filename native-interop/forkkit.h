/*
 * libforkkit: the C shim of ForkKit.
 *
 * Why this library exists: a forked copy of a .NET process must not run managed code.
 * The runtime keeps JIT'd code in a shared double mapping, holds locks that other (now
 * missing) threads owned at the moment of fork, and routes signals to a thread that does not
 * exist in the child. So everything that happens in a child between fork() and execve() or
 * _exit() happens here, in C, using only async-signal-safe calls (docs/design.md, facts 1
 * and 1b, has the measurements).
 *
 * Conventions: every function returns -1 and leaves errno set on failure, unless its comment
 * says otherwise. Every blocking call is retried on EINTR.
 */
#ifndef FORKKIT_H
#define FORKKIT_H

#include <stdint.h>

/* The most (source, target) pairs ForkKit_spawn maps into a child. */
#define FORKKIT_MAX_FD_MAP 16

/* Which step of ForkKit_spawn failed; written to *failed_step when it returns -1. */
enum ForkKit_SpawnStep {
    FORKKIT_STEP_NONE = 0,
    FORKKIT_STEP_PIPE = 1,      /* pipe2() for the exec-error pipe, in the parent */
    FORKKIT_STEP_FORK = 2,      /* vfork(), in the parent */
    FORKKIT_STEP_DUP2 = 3,      /* dup2()/fcntl() while mapping descriptors, in the child */
    FORKKIT_STEP_DEVNULL = 4,   /* open("/dev/null") for the child's stdin */
    FORKKIT_STEP_EXECVE = 5,    /* execve() itself */
    FORKKIT_STEP_REPORT = 6     /* the child's failure report came cut short (errno EIO) */
};

/*
 * Starts a new program in a child process: vfork, then in the child map descriptors and
 * execve(path, argv, envp).
 *
 * fd_map holds fd_map_pairs pairs (source, target): the child gets source at number target,
 * without close-on-exec. Every other descriptor above 2 keeps its own close-on-exec flag, so
 * only descriptors the caller created without O_CLOEXEC leak; ForkKit creates none.
 * The child's stdin is /dev/null; stdout and stderr are inherited. SIGCHLD goes back to its
 * default action in the child (an inherited "ignore" would keep it from ever reading an exit
 * status of its own children); every other ignored signal stays ignored, every caught one goes
 * back to its default.
 *
 * Returns:
 *   1) the child's pid, once the child has called execve successfully;
 *   2) -1 with errno set and *failed_step naming the step, when any step failed. A child that
 *      failed after vfork has already been reaped: nothing is left behind.
 */
int ForkKit_spawn(const char *path, char *const argv[], char *const envp[],
                  const int *fd_map, int fd_map_pairs, int *failed_step);

/*
 * fork() for ForkKit's guarded Syscalls.Fork(): the caller's managed code goes on in the child.
 * That is sound only in a process that started with the settings of docs/design.md fact 1b;
 * the managed side refuses otherwise. Signals are blocked around the fork; in the child every
 * caught asynchronous signal (SIGTERM, SIGINT, SIGCHLD, ...) is reset to its default action
 * (the runtime's handlers would hand it to a thread the child does not have), the handlers of
 * faults the runtime turns into exceptions (SIGSEGV, SIGFPE, SIGBUS, SIGILL, SIGTRAP) and of
 * the real-time signals stay, and the signal mask is emptied before it returns.
 * Returns 0 in the child, the child's pid in the parent, or -1 with errno set.
 */
int ForkKit_fork(void);

/*
 * Forks a child that sets its name to "forkkit-child" and calls _exit(exit_code) at once.
 * Until the caller waits for it, the child is a zombie (state Z in ps).
 * Returns the child's pid, or -1 with errno set when fork() failed.
 */
int ForkKit_fork_exit(int exit_code);

/*
 * Forks a child that sleeps for sleep_ms milliseconds and then calls _exit(exit_code). The
 * child resets every caught signal to its default action first, so SIGTERM ends it.
 * Returns the child's pid, or -1 with errno set when fork() failed.
 */
int ForkKit_fork_sleep_exit(int64_t sleep_ms, int exit_code);

/*
 * Opens a pidfd for pid (Linux 5.3+). A pidfd becomes readable when the process exits, which
 * lets a parent wait for a child with a timeout without reaping it.
 * Returns the descriptor (close-on-exec), or -1 with errno (ENOSYS on older kernels and off
 * Linux).
 */
int ForkKit_pidfd_open(int pid);

/*
 * Waits until fd is readable or timeout_ms elapses (timeout_ms < 0: no limit). EINTR restarts
 * the wait with the time that is left.
 * Returns 1 when readable (or hung up), 0 on timeout, -1 with errno on error.
 */
int ForkKit_wait_readable(int fd, int timeout_ms);

/*
 * Sets the calling thread's name, the "comm" that ps shows (prctl(PR_SET_NAME); the kernel
 * keeps 15 bytes). Returns 0, or -1 with errno (ENOSYS off Linux).
 */
int ForkKit_set_comm(const char *name);

/*
 * Sets close-on-exec on fd, so programs this process starts do not inherit it.
 * Returns 0, or -1 with errno.
 */
int ForkKit_set_cloexec(int fd);

/*
 * prctl(PR_SET_CHILD_SUBREAPER): when on, orphans among this process's descendants are
 * reparented to it instead of to init. Returns 0, or -1 with errno (ENOSYS off Linux).
 */
int ForkKit_set_child_subreaper(int on);

/* ---- Named semaphores and shared memory, for Lock, RLock and Semaphore ----
 *
 * Names are given without the leading slash ("forkkit-1234-ab12"); the shim adds it. A POSIX
 * named semaphore appears as /dev/shm/sem.NAME on Linux, a shared memory object as
 * /dev/shm/NAME, until unlinked. Handles are opaque pointers to the C side. */

/* sem_open(name, O_CREAT|O_EXCL, 0600, value). Returns the handle, or NULL with errno (EEXIST on a collision). */
void *ForkKit_sem_create(const char *name, unsigned value);

/* sem_open(name, 0): an existing semaphore. Returns the handle, or NULL with errno. */
void *ForkKit_sem_open(const char *name);

/* Waits for the semaphore (decrements it), at most timeout_ms (< 0: no limit, 0: try once).
 * Returns 1 when decremented, 0 on timeout, -1 with errno. EINTR restarts with the time left.
 * The deadline is on the monotonic clock where the C library has sem_clockwait (glibc 2.30 and
 * later), so setting the wall clock does not stretch or cut a wait; elsewhere it is
 * sem_timedwait's wall clock. Where the OS has no timed wait (macOS), this is
 * ForkKit_sem_wait_polling_ms. */
int ForkKit_sem_wait_ms(void *sem, int timeout_ms);

/* The timed wait built from sem_trywait and short sleeps (1 ms doubling to 10 ms), for systems
 * without sem_timedwait. Same contract as ForkKit_sem_wait_ms; exported so it can be tested. */
int ForkKit_sem_wait_polling_ms(void *sem, int timeout_ms);

/* sem_post. Returns 0, or -1 with errno (EOVERFLOW at SEM_VALUE_MAX). */
int ForkKit_sem_post(void *sem);

/* sem_getvalue. Returns the value (>= 0), or -1 with errno (ENOSYS where the OS cannot tell). */
int ForkKit_sem_getvalue(void *sem);

/* sem_close. Returns 0, or -1 with errno. */
int ForkKit_sem_close(void *sem);

/* sem_unlink: removes the name; processes that have it open keep using it. 0, or -1 with errno. */
int ForkKit_sem_unlink(const char *name);

/* shm_open(name, O_CREAT|O_EXCL|O_RDWR, 0600), ftruncate to size, mmap shared. Returns the
 * mapping (zero-filled), or NULL with errno. */
void *ForkKit_shm_create(const char *name, int size);

/* shm_open(name, O_RDWR) and mmap an existing object. Returns the mapping, or NULL with errno. */
void *ForkKit_shm_open(const char *name, int size);

/* munmap. Returns 0, or -1 with errno. */
int ForkKit_shm_close(void *mapping, int size);

/* shm_unlink. Returns 0, or -1 with errno. */
int ForkKit_shm_unlink(const char *name);

/* ---- The fork server's socket and its children ---- */

/* The most descriptors one message carries (a start request: status, task and result ends). */
#define FORKKIT_MAX_PASSED_FDS 8

/* socketpair(AF_UNIX, SOCK_STREAM), both ends close-on-exec. 0, or -1 with errno. */
int ForkKit_socketpair(int fds[2]);

/* Sends all len bytes on a stream socket; the nfds descriptors travel with the first byte
 * (SCM_RIGHTS), so the receiver gets them with the message they belong to. Never raises
 * SIGPIPE (MSG_NOSIGNAL); retried on EINTR. 0, or -1 with errno (EPIPE: the peer is gone). */
int ForkKit_send_fds(int sock, const void *buf, int len, const int *fds, int nfds);

/* Receives exactly len bytes and the descriptors sent with them (close-on-exec, at most
 * max_fds; *nfds says how many). Returns len; 0 when the peer closed before the message
 * began; -1 with errno otherwise (ECONNRESET when it closed in the middle, EMSGSIZE when more
 * descriptors came than fit), and then no descriptor is left open. Retried on EINTR. */
int ForkKit_recv_fds(int sock, void *buf, int len, int *fds, int max_fds, int *nfds);

/* pidfd_send_signal(2): signals the process a pidfd refers to, and only that one, even once
 * its pid is reused. 0, or -1 with errno (ESRCH: it has been reaped; ENOSYS: no pidfd here). */
int ForkKit_pidfd_send_signal(int pidfd, int sig);

/* poll(2) for input on count descriptors, at most timeout_ms (< 0: no limit); readable[i]
 * is set to 1 for each that is readable or hung up. Returns how many, 0 on timeout, -1 with
 * errno. Retried on EINTR with the time left. */
int ForkKit_poll_readable(const int *fds, int count, int timeout_ms, unsigned char *readable);

/* write(2) until all len bytes are written, retried on EINTR. 0, or -1 with errno. */
int ForkKit_write_all(int fd, const void *buf, int len);

/* read(2) once, retried on EINTR: the bytes read, 0 at end-of-file, -1 with errno. */
int ForkKit_read_some(int fd, void *buf, int len);

#endif
