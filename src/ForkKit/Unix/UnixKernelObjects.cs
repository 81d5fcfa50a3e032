using System.Runtime.InteropServices;
using System.Text;
using ForkKit.Platform;

namespace ForkKit.Unix;

/// <summary>POSIX named semaphores (sem_open) and shared memory (shm_open), through the C shim.</summary>
sealed unsafe class UnixKernelObjects : IKernelObjects
{
    const int ENOENT = 2, EEXIST = 17;

    public KernelSemaphore CreateSemaphore(string name, int value) =>
        new UnixSemaphore(Open(name, $"sem_open(\"/{name}\", O_CREAT|O_EXCL, 0600, {value})", p => Shim.SemCreate(p, (uint)value)), name);

    public bool IsNameTaken(Exception e) => e is SyscallException { Errno: EEXIST };

    public KernelSemaphore OpenSemaphore(string name) =>
        new UnixSemaphore(Open(name, $"sem_open(\"/{name}\")", p => Shim.SemOpen(p)), name);

    public SharedMemory CreateSharedMemory(string name, int size) =>
        new UnixSharedMemory(Open(name, $"shm_open(\"/{name}\", O_CREAT|O_EXCL, 0600)", p => Shim.ShmCreate(p, size)), size);

    public SharedMemory OpenSharedMemory(string name, int size) =>
        new UnixSharedMemory(Open(name, $"shm_open(\"/{name}\")", p => Shim.ShmOpen(p, size)), size);

    public void Remove(string name)
    {
        RemoveSemaphore(name);
        Unlink(name, "shm_unlink", p => Shim.ShmUnlink(p));
    }

    public void RemoveSemaphore(string name) => Unlink(name, "sem_unlink", p => Shim.SemUnlink(p));

    public void Track(string name) => ResourceTracker.Instance.Register(name);

    public void Untrack(string name) => ResourceTracker.Instance.Unregister(name);

    const string ShmDir = "/dev/shm";

    /// <remarks>Linux keeps a POSIX named semaphore as the file /dev/shm/sem.NAME until sem_unlink; other Unixes list none.</remarks>
    public IReadOnlyList<(string Name, string Path)> ListSemaphores(string prefix) => ListShmDir("sem.", prefix);

    /// <remarks>Linux keeps a POSIX shared memory object as the file /dev/shm/NAME until shm_unlink; other Unixes list none.</remarks>
    public IReadOnlyList<(string Name, string Path)> ListSharedMemory(string prefix) => ListShmDir("", prefix);

    /// <summary>The files /dev/shm/KIND+PREFIX*, each with its name as the object's (KIND taken off).</summary>
    static IReadOnlyList<(string Name, string Path)> ListShmDir(string kind, string prefix)
    {
        if (!Directory.Exists(ShmDir)) return [];
        return Directory.EnumerateFiles(ShmDir, kind + prefix + "*")
            .Select(path => (System.IO.Path.GetFileName(path)[kind.Length..], path))
            .ToList();
    }

    delegate IntPtr NamedCall(byte* name);
    delegate int NamedStatusCall(byte* name);

    /// <summary>Calls the shim with the name as NUL-terminated UTF-8; a NULL result throws with the call and errno.</summary>
    static IntPtr Open(string name, string callText, NamedCall call)
    {
        var bytes = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* p = bytes)
        {
            var handle = call(p);
            int errno = Marshal.GetLastPInvokeError(); // before the trace line, which makes calls of its own
            if (Diagnostics.OsTrace.Enabled) Diagnostics.OsTrace.Write($"{callText} = {(handle != IntPtr.Zero ? "ok" : "failed")}");
            if (handle != IntPtr.Zero) return handle;
            throw new SyscallException(callText, errno);
        }
    }

    static void Unlink(string name, string what, NamedStatusCall call)
    {
        var bytes = Encoding.UTF8.GetBytes(name + "\0");
        int r;
        fixed (byte* p = bytes) r = call(p);
        int errno = Marshal.GetLastPInvokeError(); // before the trace line, which makes calls of its own
        if (Diagnostics.OsTrace.Enabled) Diagnostics.OsTrace.Write($"{what}(\"/{name}\") = {(r == 0 ? "0" : errno == ENOENT ? "-1 ENOENT (already gone)" : "-1")}");
        if (r == 0) return;
        // Already removed (by the tracker, or by a second Dispose): the goal is reached.
        if (errno != ENOENT) throw new SyscallException($"{what}(\"/{name}\")", errno);
    }
}

sealed class UnixSemaphore : KernelSemaphore
{
    IntPtr _handle;
    readonly string _name;

    public UnixSemaphore(IntPtr handle, string name)
    {
        _handle = handle;
        _name = name;
    }

    public override bool Wait(int timeoutMs)
    {
        int r = Shim.SemWait(Handle, timeoutMs);
        int errno = Marshal.GetLastPInvokeError(); // before the trace line, which makes calls of its own
        if (Diagnostics.OsTrace.Enabled)
            Diagnostics.OsTrace.Write($"{(timeoutMs == 0 ? "sem_trywait" : timeoutMs < 0 ? "sem_wait" : $"sem_timedwait(up to {timeoutMs} ms)")}(\"/{_name}\") = {(r == 1 ? "taken" : r == 0 ? "timed out" : "error")}");
        if (r >= 0) return r == 1;
        throw new SyscallException($"sem_timedwait(\"/{_name}\")", errno);
    }

    public override void Post()
    {
        if (Diagnostics.OsTrace.Enabled) Diagnostics.OsTrace.Write($"sem_post(\"/{_name}\")");
        if (Shim.SemPost(Handle) == 0) return;
        int errno = Marshal.GetLastPInvokeError();
        throw new SyscallException($"sem_post(\"/{_name}\")", errno,
            errno == 75 ? "The semaphore is at its maximum value (SEM_VALUE_MAX)." : null);
    }

    public override int? Value
    {
        get
        {
            int v = Shim.SemGetValue(Handle);
            return v >= 0 ? v : null;
        }
    }

    IntPtr Handle => _handle != IntPtr.Zero ? _handle : throw new ObjectDisposedException($"semaphore {_name}");

    public override void Dispose()
    {
        var h = Interlocked.Exchange(ref _handle, IntPtr.Zero);
        if (h != IntPtr.Zero) Shim.SemClose(h);
    }
}

sealed class UnixSharedMemory(IntPtr address, int size) : SharedMemory
{
    IntPtr _address = address;

    public override IntPtr Address => _address != IntPtr.Zero ? _address : throw new ObjectDisposedException("shared memory");

    public override void Dispose()
    {
        var a = Interlocked.Exchange(ref _address, IntPtr.Zero);
        if (a != IntPtr.Zero) Shim.ShmClose(a, size);
    }
}

/// <summary>
/// The parent's side of native-interop/forkkit-tracker.c: started on the first name this process
/// creates, it is told each name ("+NAME", "-NAME") over a pipe and removes the ones left when
/// the pipe closes, that is, when this process has died.
/// </summary>
sealed class ResourceTracker
{
    static readonly Lazy<ResourceTracker> s_instance = new(() => new ResourceTracker());
    readonly object _gate = new();
    readonly FileStream _pipe;

    public static ResourceTracker Instance => s_instance.Value;

    ResourceTracker()
    {
        var program = NativeAssets.FindProgram("forkkit-tracker") ?? throw new FileNotFoundException(
            $"forkkit-tracker (ForkKit's clean-up helper for named semaphores) was not found; looked in {NativeAssets.Searched()}. " +
            "The ForkKit package carries it for linux-x64 and linux-arm64; elsewhere build it with `make` at the top of the ForkKit tree, " +
            "or copy native-interop/build/forkkit-tracker beside ForkKit.dll.", "forkkit-tracker");
        var pipe = Pipe.Create();
        int pid;
        using (pipe.Read)
            pid = UnixPlatform.Spawn(program, [$"forkkit: resource tracker (parent {Environment.ProcessId})", "3"], UnixPlatform.CurrentEnvironment(), [pipe.Read]);
        // The tracker forks once and its first copy exits at once: reap that copy here. The
        // tracker itself runs on detached, adopted by init, so it is nobody's unreaped child.
        try
        {
            Syscalls.WaitPid(pid);
        }
        catch (SyscallException e) when (e.Errno == Tmds.Linux.LibC.ECHILD)
        {
            // SIGCHLD is ignored: the kernel has reaped it already.
        }
        _pipe = new FileStream(pipe.Write, FileAccess.Write, bufferSize: 0);
    }

    public void Register(string name) => Send("+" + name);

    public void Unregister(string name) => Send("-" + name);

    void Send(string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line + "\n");
        lock (_gate) _pipe.Write(bytes);
    }
}
