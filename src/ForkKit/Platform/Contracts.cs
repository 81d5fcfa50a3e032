using ForkKit.Diagnostics;
using Microsoft.Win32.SafeHandles;

namespace ForkKit.Platform;

/// <summary>
/// A started child process as the platform sees it, the shared part of Python's Popen classes:
/// poll, wait and signal. Process and Pool hold one of these; every launcher hands one back.
/// </summary>
interface IChild : IDisposable
{
    int Pid { get; }

    /// <summary>The exit code once the child has ended (reaping it), else null. Never blocks.</summary>
    int? Poll();

    /// <summary>Waits for the child to end, at most <paramref name="timeout"/> (null: no limit); reaps it. True when it has ended.</summary>
    bool Wait(TimeSpan? timeout);

    /// <summary>True once the child has been reaped (its exit code is known).</summary>
    bool IsReaped { get; }

    /// <summary>True once the child has ended, reaped or not. Never reaps: a test helper may ask.</summary>
    bool HasExited { get; }

    /// <summary>Asks the child to stop (SIGTERM), or forces it (SIGKILL); Windows: TerminateProcess either way. No-op once it has been reaped.</summary>
    void Stop(bool force);
}

/// <summary>
/// What the kit needs from the OS about processes: pipes, starting a program with some pipe
/// ends handed over, the worker's side of that hand-over, and the process table. Launchers
/// decide what program to start; a backend only knows how.
/// </summary>
interface IPlatform
{
    /// <summary>An anonymous pipe whose ends are not inherited by children unless handed over.</summary>
    (SafeFileHandle Read, SafeFileHandle Write) CreatePipe();

    /// <summary>
    /// How the child will name each of <paramref name="childEnds"/> once it has them (Unix: the
    /// descriptors 3, 4, ...; Windows: the inherited handle values). They go on its command line.
    /// </summary>
    IReadOnlyList<string> ChildEndNames(IReadOnlyList<SafeFileHandle> childEnds);

    /// <summary>
    /// Starts <paramref name="program"/> with <paramref name="argv"/> (argv[0] included) and this
    /// process's environment plus <paramref name="extraEnvironment"/>. The child receives
    /// <paramref name="childEnds"/> and nothing else that is open; stdin is the null device,
    /// stdout and stderr are inherited. With <paramref name="diesWithParent"/> (daemon children,
    /// pool workers) the OS ends the child when this process ends, however it ends, where the
    /// platform offers a way (Windows: a job object); elsewhere the exit hooks and the closed
    /// wire end it.
    /// </summary>
    IChild StartProgram(string program, IReadOnlyList<string> argv, IReadOnlyDictionary<string, string> extraEnvironment,
        IReadOnlyList<SafeFileHandle> childEnds, bool diesWithParent);

    /// <summary>
    /// Forks this process: the child runs <paramref name="child"/> and ends with its exit code,
    /// the parent gets the child. Only where the OS can fork and the runtime can survive it.
    /// </summary>
    /// <exception cref="NotSupportedException">This OS has no fork, or this process did not start with the fork-safe settings; nothing was started.</exception>
    IChild Fork(Func<int> child);

    /// <summary>
    /// The fork server of this process (StartMethod.ForkServer), not started yet:
    /// <paramref name="startServer"/> starts the server program with its end of the socket, on
    /// first use and again after a server died.
    /// </summary>
    /// <exception cref="NotSupportedException">This OS has no fork (Windows); nothing was started.</exception>
    IForkServer CreateForkServer(Func<SafeFileHandle, IChild> startServer);

    /// <summary>
    /// In a worker: takes ownership of a pipe end inherited from the parent, given by the name
    /// <see cref="ChildEndNames"/> made for it, and makes it non-inheritable (close-on-exec), so
    /// that processes this worker starts do not hold it open.
    /// </summary>
    SafeFileHandle AdoptInherited(string name);

    /// <summary>
    /// A directory for ForkKit's own files that only this user can write (Unix: mode 0700 under
    /// the user's data directory, or a fresh private temporary directory when that cannot be
    /// had; Windows: under the user's profile). Never a shared, predictable path such as
    /// /tmp/forkkit-USER, which another local user could create first and fill.
    /// </summary>
    string PrivateDirectory();

    /// <summary>In a worker: shows <paramref name="name"/> where the OS keeps a short process name (Linux comm); best effort.</summary>
    void SetProcessName(string name);

    /// <summary>The file name of a program on this OS: "dotnet" on Unix, "dotnet.exe" on Windows.</summary>
    string ExecutableName(string name);

    /// <summary>How this OS compares paths: case-sensitive on Unix, not on Windows.</summary>
    StringComparison PathComparison { get; }

    /// <summary>Every process visible now, sorted by pid. Reading it never waits for or reaps anything.</summary>
    IReadOnlyList<ProcessEntry> ProcessTable();

    /// <summary>One process, or null when there is none with that pid.</summary>
    ProcessEntry? FindProcess(int pid);

    /// <summary>
    /// True when process <paramref name="pid"/> has ended (gone, or a zombie), or its pid now
    /// belongs to a process whose <see cref="StartTag"/> is not <paramref name="startTag"/>
    /// (0: unknown, not compared). False for this process's own pid: the caller compares its
    /// own tag.
    /// </summary>
    bool HasEnded(int pid, uint startTag);

    /// <summary>When this process started, in the OS's units (0 where unknown): with the pid, it tells a process from a later one that got the same pid.</summary>
    long OwnStartTicks { get; }
}

/// <summary>A process's start time folded into 32 bits, to travel with its pid in one 64-bit word.</summary>
static class StartTag
{
    /// <summary>
    /// 0 for an unknown start (0 ticks), else never 0. Two starts may share a tag; then a later
    /// process with a dead one's pid looks like it, never the other way round: a live process
    /// always has the tag its start gives.
    /// </summary>
    public static uint Of(long startTicks)
    {
        if (startTicks == 0) return 0;
        uint tag = (uint)startTicks ^ (uint)((ulong)startTicks >> 32);
        return tag != 0 ? tag : 1;
    }
}

/// <summary>
/// A fork server: a quiet runtime of its own, started with the fork-safe settings, that forks
/// children on request (docs/design.md, "The fork server"). One per process.
/// </summary>
interface IForkServer
{
    /// <summary>
    /// Has the server fork a child for <paramref name="request"/>, and returns once the child
    /// reports that it runs.
    /// </summary>
    /// <exception cref="ForkServerException">The server died or did not answer, or the child died or hung before it ran; nothing is left running.</exception>
    IChild Start(ForkRequest request);

    /// <summary>The server's pid while one runs, else null.</summary>
    int? Pid { get; }

    /// <summary>This process's end of the server's socket while a server runs (a descriptor leak checks leave out), else null.</summary>
    int? Socket { get; }

    /// <summary>Every descriptor this process holds for the server while one runs: its socket, and the server's pidfd and exit report (leak checks leave them out).</summary>
    IReadOnlyList<int> Descriptors { get; }
}

/// <summary>
/// One child for the fork server to fork: its name, its role, its start message (what a spawned
/// worker would read from its first pipe) and the pipe ends it gets (a pool worker's task read
/// end and result write end; none for a Process child).
/// </summary>
sealed record ForkRequest(string Name, Wire.WorkerRole Role, byte[] StartMessage, IReadOnlyList<SafeFileHandle> ChildEnds, bool DiesWithParent = false);

/// <summary>
/// A named counting semaphore of the OS (POSIX sem_open; Windows CreateSemaphoreW). Waits and
/// posts are the kernel calls a student can trace.
/// </summary>
abstract class KernelSemaphore : IDisposable
{
    /// <summary>Decrements, waiting at most timeoutMs (&lt; 0: no limit; 0: try once). True when decremented.</summary>
    public abstract bool Wait(int timeoutMs);

    /// <summary>Increments, waking one waiter.</summary>
    public abstract void Post();

    /// <summary>The current value, where the OS can tell; null elsewhere.</summary>
    public abstract int? Value { get; }

    public abstract void Dispose();
}

/// <summary>A named shared memory object, mapped into this process.</summary>
abstract class SharedMemory : IDisposable
{
    public abstract IntPtr Address { get; }
    public abstract void Dispose();
}

/// <summary>What Lock, RLock and Semaphore need from the OS: named kernel objects and their clean-up.</summary>
interface IKernelObjects
{
    /// <summary>Creates a semaphore that must not exist yet (O_CREAT|O_EXCL, mode 0600).</summary>
    /// <exception cref="Exception">An exception for which <see cref="IsNameTaken"/> is true when the name is taken.</exception>
    KernelSemaphore CreateSemaphore(string name, int value);

    /// <summary>True when <paramref name="e"/>, thrown by a Create call, says the name is taken (Unix EEXIST, Windows ERROR_ALREADY_EXISTS).</summary>
    bool IsNameTaken(Exception e);

    /// <summary>Opens an existing semaphore by name.</summary>
    KernelSemaphore OpenSemaphore(string name);

    /// <summary>Creates and maps a zero-filled shared memory object that must not exist yet (mode 0600).</summary>
    SharedMemory CreateSharedMemory(string name, int size);

    /// <summary>Maps an existing shared memory object.</summary>
    SharedMemory OpenSharedMemory(string name, int size);

    /// <summary>Removes the name's semaphore and shared memory (already gone is fine).</summary>
    void Remove(string name);

    /// <summary>Removes only the name's semaphore (already gone is fine).</summary>
    void RemoveSemaphore(string name);

    /// <summary>
    /// Registers a name for removal when this process dies, however it dies, before the objects
    /// are created (so a crash in between leaks nothing); <see cref="Untrack"/> after removal.
    /// </summary>
    void Track(string name);

    void Untrack(string name);

    /// <summary>
    /// The semaphores whose names start with <paramref name="prefix"/> and where each appears
    /// in the file system (Linux: /dev/shm/sem.NAME). Empty where the OS cannot list them
    /// (Windows names are no files).
    /// </summary>
    IReadOnlyList<(string Name, string Path)> ListSemaphores(string prefix);

    /// <summary>
    /// The shared memory objects whose names start with <paramref name="prefix"/> (a Lock's
    /// owner word) and where each appears in the file system (Linux: /dev/shm/NAME). Empty
    /// where the OS cannot list them.
    /// </summary>
    IReadOnlyList<(string Name, string Path)> ListSharedMemory(string prefix);
}
