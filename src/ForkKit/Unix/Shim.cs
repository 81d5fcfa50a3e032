using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ForkKit.Unix;

/// <summary>
/// P/Invoke declarations for libforkkit (native-interop/forkkit.c). One declaration per C
/// function; each says what it returns. Every one sets errno on failure, so each is declared
/// with SetLastError and the caller reads <see cref="Marshal.GetLastPInvokeError"/> at once.
/// </summary>
static unsafe class Shim
{
    const string Library = "forkkit";

    /// <summary>
    /// vfork, then in the child: map fds, stdin from /dev/null, execve. Returns:
    /// 1) the child's pid once it has exec'd;
    /// 2) -1, errno set and failedStep naming the step (see <see cref="SpawnStep"/>); a child
    ///    that failed after vfork is already reaped.
    /// </summary>
    [DllImport(Library, EntryPoint = "ForkKit_spawn", SetLastError = true)]
    public static extern int Spawn(byte* path, byte** argv, byte** envp, int* fdMap, int fdMapPairs, out SpawnStep failedStep);

    /// <summary>
    /// fork for <see cref="Syscalls.Fork"/>: signals blocked around it; in the child, caught
    /// signals reset to their defaults and the mask emptied. Returns 1) 0 in the child; 2) the
    /// child's pid in the parent; 3) -1 with errno.
    /// </summary>
    [DllImport(Library, EntryPoint = "ForkKit_fork", SetLastError = true)]
    public static extern int Fork();

    /// <summary>fork; the child _exit(exitCode)s at once. Returns 1) the child's pid; 2) -1 with errno.</summary>
    [DllImport(Library, EntryPoint = "ForkKit_fork_exit", SetLastError = true)]
    public static extern int ForkExit(int exitCode);

    /// <summary>fork; the child sleeps, then _exits. Returns 1) the child's pid; 2) -1 with errno.</summary>
    [DllImport(Library, EntryPoint = "ForkKit_fork_sleep_exit", SetLastError = true)]
    public static extern int ForkSleepExit(long sleepMs, int exitCode);

    /// <summary>pidfd_open(pid, 0). Returns 1) a close-on-exec descriptor; 2) -1 with errno (ENOSYS before Linux 5.3 and off Linux).</summary>
    [DllImport(Library, EntryPoint = "ForkKit_pidfd_open", SetLastError = true)]
    public static extern int PidfdOpen(int pid);

    /// <summary>poll(fd, POLLIN) with EINTR restarts. Returns 1) 1 readable; 2) 0 timed out; 3) -1 with errno.</summary>
    [DllImport(Library, EntryPoint = "ForkKit_wait_readable", SetLastError = true)]
    public static extern int WaitReadable(int fd, int timeoutMs);

    /// <summary>prctl(PR_SET_NAME). Returns 1) 0; 2) -1 with errno (ENOSYS off Linux).</summary>
    [DllImport(Library, EntryPoint = "ForkKit_set_comm", SetLastError = true)]
    public static extern int SetComm(byte* name);

    /// <summary>Sets FD_CLOEXEC on fd. Returns 1) 0; 2) -1 with errno.</summary>
    [DllImport(Library, EntryPoint = "ForkKit_set_cloexec", SetLastError = true)]
    public static extern int SetCloseOnExec(int fd);

    /// <summary>prctl(PR_SET_CHILD_SUBREAPER). Returns 1) 0; 2) -1 with errno (ENOSYS off Linux).</summary>
    [DllImport(Library, EntryPoint = "ForkKit_set_child_subreaper", SetLastError = true)]
    public static extern int SetChildSubreaper(int on);

    // ---- the fork server's socket and its children ----

    /// <summary>The most descriptors one fork-server message carries (forkkit.h).</summary>
    public const int MaxPassedFds = 8;

    /// <summary>socketpair(AF_UNIX, SOCK_STREAM), both ends close-on-exec. Returns 1) 0; 2) -1 with errno.</summary>
    [DllImport(Library, EntryPoint = "ForkKit_socketpair", SetLastError = true)]
    public static extern int SocketPair(int* fds);

    /// <summary>Sends all bytes, the descriptors with the first. Returns 1) 0; 2) -1 with errno (EPIPE: the peer is gone).</summary>
    [DllImport(Library, EntryPoint = "ForkKit_send_fds", SetLastError = true)]
    public static extern int SendFds(int sock, byte* buf, int len, int* fds, int nfds);

    /// <summary>Receives exactly len bytes and their descriptors. Returns 1) len; 2) 0 when the peer closed first; 3) -1 with errno.</summary>
    [DllImport(Library, EntryPoint = "ForkKit_recv_fds", SetLastError = true)]
    public static extern int RecvFds(int sock, byte* buf, int len, int* fds, int maxFds, out int nfds);

    /// <summary>pidfd_send_signal. Returns 1) 0; 2) -1 with errno (ESRCH once reaped).</summary>
    [DllImport(Library, EntryPoint = "ForkKit_pidfd_send_signal", SetLastError = true)]
    public static extern int PidfdSendSignal(int pidfd, int signal);

    /// <summary>poll for input on many descriptors. Returns 1) how many are readable; 2) 0 on timeout; 3) -1 with errno.</summary>
    [DllImport(Library, EntryPoint = "ForkKit_poll_readable", SetLastError = true)]
    public static extern int PollReadable(int* fds, int count, int timeoutMs, byte* readable);

    /// <summary>write until done, EINTR retried. Returns 1) 0; 2) -1 with errno.</summary>
    [DllImport(Library, EntryPoint = "ForkKit_write_all", SetLastError = true)]
    public static extern int WriteAll(int fd, byte* buf, int len);

    /// <summary>One read, EINTR retried. Returns 1) bytes read; 2) 0 at end-of-file; 3) -1 with errno.</summary>
    [DllImport(Library, EntryPoint = "ForkKit_read_some", SetLastError = true)]
    public static extern int ReadSome(int fd, byte* buf, int len);

    // ---- named semaphores and shared memory (names without the leading slash) ----

    /// <summary>sem_open(O_CREAT|O_EXCL, 0600). Returns 1) a handle; 2) NULL with errno (EEXIST: the name is taken).</summary>
    [DllImport(Library, EntryPoint = "ForkKit_sem_create", SetLastError = true)]
    public static extern IntPtr SemCreate(byte* name, uint value);

    /// <summary>sem_open of an existing name. Returns 1) a handle; 2) NULL with errno (ENOENT, EACCES).</summary>
    [DllImport(Library, EntryPoint = "ForkKit_sem_open", SetLastError = true)]
    public static extern IntPtr SemOpen(byte* name);

    /// <summary>Timed sem_wait (timeoutMs &lt; 0: no limit). Returns 1) 1 decremented; 2) 0 timed out; 3) -1 with errno.</summary>
    [DllImport(Library, EntryPoint = "ForkKit_sem_wait_ms", SetLastError = true)]
    public static extern int SemWait(IntPtr sem, int timeoutMs);

    /// <summary>The sem_trywait-and-sleep wait used where sem_timedwait is missing; same returns as <see cref="SemWait"/>.</summary>
    [DllImport(Library, EntryPoint = "ForkKit_sem_wait_polling_ms", SetLastError = true)]
    public static extern int SemWaitPolling(IntPtr sem, int timeoutMs);

    /// <summary>sem_post. Returns 1) 0; 2) -1 with errno (EOVERFLOW).</summary>
    [DllImport(Library, EntryPoint = "ForkKit_sem_post", SetLastError = true)]
    public static extern int SemPost(IntPtr sem);

    /// <summary>sem_getvalue. Returns 1) the value; 2) -1 with errno (ENOSYS on macOS).</summary>
    [DllImport(Library, EntryPoint = "ForkKit_sem_getvalue", SetLastError = true)]
    public static extern int SemGetValue(IntPtr sem);

    /// <summary>sem_close. Returns 1) 0; 2) -1 with errno.</summary>
    [DllImport(Library, EntryPoint = "ForkKit_sem_close", SetLastError = true)]
    public static extern int SemClose(IntPtr sem);

    /// <summary>sem_unlink. Returns 1) 0; 2) -1 with errno (ENOENT: already gone).</summary>
    [DllImport(Library, EntryPoint = "ForkKit_sem_unlink", SetLastError = true)]
    public static extern int SemUnlink(byte* name);

    /// <summary>shm_open(O_CREAT|O_EXCL, 0600) + ftruncate + mmap. Returns 1) the zeroed mapping; 2) NULL with errno.</summary>
    [DllImport(Library, EntryPoint = "ForkKit_shm_create", SetLastError = true)]
    public static extern IntPtr ShmCreate(byte* name, int size);

    /// <summary>shm_open of an existing name + mmap. Returns 1) the mapping; 2) NULL with errno.</summary>
    [DllImport(Library, EntryPoint = "ForkKit_shm_open", SetLastError = true)]
    public static extern IntPtr ShmOpen(byte* name, int size);

    /// <summary>munmap. Returns 1) 0; 2) -1 with errno.</summary>
    [DllImport(Library, EntryPoint = "ForkKit_shm_close", SetLastError = true)]
    public static extern int ShmClose(IntPtr mapping, int size);

    /// <summary>shm_unlink. Returns 1) 0; 2) -1 with errno (ENOENT: already gone).</summary>
    [DllImport(Library, EntryPoint = "ForkKit_shm_unlink", SetLastError = true)]
    public static extern int ShmUnlink(byte* name);

    /// <summary>The step of ForkKit_spawn that failed (enum ForkKit_SpawnStep in forkkit.h).</summary>
    public enum SpawnStep
    {
        None = 0,
        Pipe = 1,
        Fork = 2,
        Dup2 = 3,
        DevNull = 4,
        Execve = 5,
        Report = 6,
    }

    /// <summary>The C call that a failed step made, for error messages.</summary>
    public static string CallName(SpawnStep step) => step switch
    {
        SpawnStep.Pipe => "pipe2",
        SpawnStep.Fork => "vfork",
        SpawnStep.Dup2 => "dup2",
        SpawnStep.DevNull => "open(\"/dev/null\")",
        SpawnStep.Execve => "execve",
        SpawnStep.Report => "read(exec-error pipe)",
        _ => "spawn",
    };

    /// <summary>
    /// Points DllImport("forkkit") at libforkkit.so where <see cref="NativeAssets"/> finds it
    /// (beside ForkKit.dll, or under runtimes/RID/native/ from the package), with a message that
    /// says what to do when it is missing.
    /// </summary>
    // A library's module initializer (CA2255): the resolver must be in place before the first
    // call into the shim, whichever ForkKit type makes it.
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255", Justification = "the resolver must precede any P/Invoke into the shim")]
    [ModuleInitializer]
    internal static void RegisterResolver()
    {
        NativeLibrary.SetDllImportResolver(typeof(Shim).Assembly, Resolve);
    }

    static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != Library) return IntPtr.Zero;
        var file = OperatingSystem.IsMacOS() ? "libforkkit.dylib" : "libforkkit.so";
        if (NativeAssets.Find(file) is { } found) return NativeLibrary.Load(found);
        throw new DllNotFoundException(
            $"{file} (ForkKit's C shim) was not found; looked in {NativeAssets.Searched()}. " +
            "The ForkKit package carries it for linux-x64 and linux-arm64; elsewhere build it with `make` at the top of the ForkKit tree " +
            "(it runs `make -C native-interop`), " +
            "or copy native-interop/build/" + file + " beside ForkKit.dll.");
    }
}
