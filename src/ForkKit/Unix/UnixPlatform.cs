using System.Collections;
using System.Runtime.InteropServices;
using ForkKit.Diagnostics;
using ForkKit.Platform;
using Microsoft.Win32.SafeHandles;

namespace ForkKit.Unix;

/// <summary>The Unix backend: fork+exec through the C shim, waitpid, kill, pipes.</summary>
sealed class UnixPlatform : IPlatform
{
    /// <summary>Handed-over pipe ends arrive in the child as descriptors 3, 4, ...</summary>
    const int FirstChildFd = 3;

    public (SafeFileHandle Read, SafeFileHandle Write) CreatePipe()
    {
        var pipe = Pipe.Create();
        return (pipe.Read, pipe.Write);
    }

    public IReadOnlyList<string> ChildEndNames(IReadOnlyList<SafeFileHandle> childEnds) =>
        Enumerable.Range(FirstChildFd, childEnds.Count).Select(fd => fd.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();

    /// <remarks>
    /// Beside <paramref name="childEnds"/> the child gets the write end of its exit report and,
    /// with <paramref name="diesWithParent"/>, the read end of this process's parent watch
    /// (<see cref="ChildLinks"/>), at the next descriptor numbers, named in its environment.
    /// </remarks>
    public IChild StartProgram(string program, IReadOnlyList<string> argv, IReadOnlyDictionary<string, string> extraEnvironment,
        IReadOnlyList<SafeFileHandle> childEnds, bool diesWithParent)
    {
        var environment = CurrentEnvironment();
        foreach (var (key, value) in extraEnvironment) environment.Add($"{key}={value}");
        var report = Pipe.Create();
        var ends = new List<SafeFileHandle>(childEnds) { report.Write };
        environment.Add($"{ChildLinks.ExitReportVariable}={FirstChildFd + ends.Count - 1}");
        if (diesWithParent)
        {
            ends.Add(ChildLinks.ParentWatchReadEnd);
            environment.Add($"{ChildLinks.ParentWatchVariable}={FirstChildFd + ends.Count - 1}");
        }
        int pid;
        try
        {
            string pipes = childEnds.Count switch
            {
                0 => "",
                1 => $"pipe to fd {FirstChildFd}, ",
                _ => $"pipes to fd {FirstChildFd}..{FirstChildFd + childEnds.Count - 1}, ",
            };
            pid = Spawn(program, argv, environment, ends,
                $"dup2 {pipes}exit report to fd {FirstChildFd + childEnds.Count}{(diesWithParent ? $", parent watch to fd {FirstChildFd + childEnds.Count + 1}" : "")}");
        }
        catch
        {
            report.Dispose();
            throw;
        }
        report.Write.Dispose(); // the child's now: end-of-file once it has exited
        return new UnixChild(pid, report.Read);
    }

    /// <remarks>
    /// The guard of <see cref="Syscalls.Fork"/>, as a NotSupportedException: the start method is
    /// not available in this process. In the child nothing returns: whatever <paramref name="child"/>
    /// does, the child ends in _exit, so no code of the parent's runs on in it. The child must not
    /// start threads of ForkKit's own: measured, a collection in a forked child that had started
    /// one aborted (SIGABRT) every time.
    /// </remarks>
    public IChild Fork(Func<int> child)
    {
        if (!ForkSafety.IsEnabled)
            throw new NotSupportedException(
                "StartMethod.Fork is not available in this process: a forked .NET runtime runs managed code safely only when it " +
                $"started with {ForkSafety.SettingsText} (docs/design.md, facts 1 and 1b). Start the program with them, or use StartMethod.Spawn.");
        var report = Pipe.Create();
        int pid;
        try
        {
            pid = Syscalls.Fork();
        }
        catch
        {
            report.Dispose();
            throw;
        }
        if (pid == 0)
        {
            int code = 1;
            try
            {
                code = child();
            }
            finally
            {
                ChildLinks.WriteCode((int)report.Write.DangerousGetHandle(), code);
                Syscalls.Exit(code);
            }
        }
        report.Write.Dispose();
        return new UnixChild(pid, report.Read);
    }

    public IForkServer CreateForkServer(Func<SafeFileHandle, IChild> startServer) => new ForkServerClient(startServer);

    public SafeFileHandle AdoptInherited(string name)
    {
        var fd = int.Parse(name, System.Globalization.CultureInfo.InvariantCulture);
        if (Shim.SetCloseOnExec(fd) != 0) throw new SyscallException($"fcntl({fd}, F_SETFD, FD_CLOEXEC)", Marshal.GetLastPInvokeError());
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    public unsafe void SetProcessName(string name)
    {
        if (Diagnostics.OsTrace.Enabled) Diagnostics.OsTrace.Write($"worker host started (after execve): prctl(PR_SET_NAME, \"{(name.Length > 15 ? name[..15] : name)}\")");
        // comm holds 15 bytes; argv[0] already carries the long title.
        var bytes = System.Text.Encoding.UTF8.GetBytes(name.Length > 15 ? name[..15] : name);
        fixed (byte* p = new byte[bytes.Length + 1])
        {
            bytes.CopyTo(new Span<byte>(p, bytes.Length));
            Shim.SetComm(p); // best effort: a name is a courtesy, not a requirement
        }
    }

    public string ExecutableName(string name) => name;

#pragma warning disable CA1416 // this backend runs only where Os.cs chose it: not on Windows
    public string PrivateDirectory() => PrivateDirectoryUnder(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData));
#pragma warning restore CA1416

    /// <summary>BASE/forkkit made with mode 0700 when group and others cannot write it; otherwise a fresh private temporary directory.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // Os.cs chooses this backend only off Windows
    internal static string PrivateDirectoryUnder(string baseDirectory)
    {
        const UnixFileMode OthersWrite = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;
        try
        {
            if (baseDirectory.Length > 0)
            {
                var dir = Directory.CreateDirectory(Path.Combine(baseDirectory, "forkkit"),
                    UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                if ((dir.UnixFileMode & OthersWrite) == 0) return dir.FullName;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Fall through to a private temporary directory.
        }
        return Directory.CreateTempSubdirectory("forkkit-").FullName; // mode 0700, a random name
    }

    public StringComparison PathComparison => StringComparison.Ordinal;

    public IReadOnlyList<ProcessEntry> ProcessTable() => ProcFs.Snapshot();

    public ProcessEntry? FindProcess(int pid) => ProcFs.Find(pid);

    public bool HasEnded(int pid, uint startTag)
    {
        if (pid == Environment.ProcessId) return false;
        var entry = ProcFs.Find(pid);
        if (entry is null || entry.State is ProcessState.Zombie or ProcessState.Dead) return true;
        return startTag != 0 && ProcFs.StartTicks(pid) is { } now && StartTag.Of(now) != startTag;
    }

    /// <remarks>Read again in a forked child, which would otherwise keep its parent's.</remarks>
    public long OwnStartTicks
    {
        get
        {
            var known = _ownStart;
            int pid = Environment.ProcessId;
            if (known?.Pid == pid) return known.Ticks;
            _ownStart = known = new OwnStart(pid, ProcFs.StartTicks(pid) ?? 0);
            return known.Ticks;
        }
    }

    sealed record OwnStart(int Pid, long Ticks);

    OwnStart? _ownStart; // replaced whole, so a reader never sees one process's pid with another's start

    /// <summary>
    /// Starts <paramref name="path"/> with fork+exec in the C shim and returns the child's pid.
    /// Nothing managed runs in the child: the shim maps the descriptors and calls execve.
    /// <paramref name="handOver"/> is how the trace names the descriptors handed over (default:
    /// "dup2 pipes to fd 3..N").
    /// </summary>
    internal static unsafe int Spawn(string path, IReadOnlyList<string> argv, IReadOnlyList<string> envp, IReadOnlyList<SafeFileHandle> childEnds,
        string? handOver = null)
    {
        // Marshal everything before the fork: the child must not allocate.
        var strings = new List<IntPtr>();
        IntPtr Utf8(string s)
        {
            var p = Marshal.StringToCoTaskMemUTF8(s);
            strings.Add(p);
            return p;
        }
        var added = new List<SafeFileHandle>();
        try
        {
            var argvPtrs = new IntPtr[argv.Count + 1];
            for (int i = 0; i < argv.Count; i++) argvPtrs[i] = Utf8(argv[i]);
            var envPtrs = new IntPtr[envp.Count + 1];
            for (int i = 0; i < envp.Count; i++) envPtrs[i] = Utf8(envp[i]);
            var fdMap = new int[childEnds.Count * 2];
            for (int i = 0; i < childEnds.Count; i++)
            {
                bool ok = false;
                childEnds[i].DangerousAddRef(ref ok); // keep the fd number valid until the child has it
                added.Add(childEnds[i]);
                fdMap[2 * i] = (int)childEnds[i].DangerousGetHandle();
                fdMap[2 * i + 1] = FirstChildFd + i;
            }

            var pathPtr = Utf8(path);
            fixed (IntPtr* a = argvPtrs)
            fixed (IntPtr* e = envPtrs)
            fixed (int* m = fdMap)
            {
                int pid = Shim.Spawn((byte*)pathPtr, (byte**)a, (byte**)e, m, childEnds.Count, out var step);
                if (pid > 0)
                {
                    if (Diagnostics.OsTrace.Enabled)
                        Diagnostics.OsTrace.Write($"vfork() = {pid}; child: {handOver ?? $"dup2 pipes to fd 3..{2 + childEnds.Count}"}, stdin </dev/null, execve(\"{path}\", [\"{argv[0]}\", ...{argv.Count - 1} more])");
                    return pid;
                }
                int errno = Marshal.GetLastPInvokeError();
                throw new SyscallException(Shim.CallName(step) + (step == Shim.SpawnStep.Execve ? $"(\"{path}\")" : ""), errno,
                    step == Shim.SpawnStep.Execve ? "The child was reaped; nothing is left running." : null);
            }
        }
        finally
        {
            foreach (var h in added) h.DangerousRelease();
            foreach (var p in strings) Marshal.FreeCoTaskMem(p);
        }
    }

    /// <summary>
    /// The environment as .NET sees it. Environment.SetEnvironmentVariable changes only the
    /// runtime's copy, not the C environ, so children get this list explicitly.
    /// </summary>
    internal static List<string> CurrentEnvironment()
    {
        var list = new List<string>();
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
            list.Add($"{entry.Key}={entry.Value}");
        return list;
    }
}

/// <summary>
/// A child started by this process: reaped with waitpid, waited for through a pidfd (readable
/// once the child has exited) so that a timed wait needs neither a thread nor a polling loop,
/// and signalled through it, so that a signal never reaches a later process with the same pid.
/// </summary>
/// <remarks>
/// Where SIGCHLD is ignored the child is reaped by the kernel (or the runtime) the moment it
/// ends, and waitpid says ECHILD. The exit code is then the one the child wrote to its exit
/// report (<see cref="ChildLinks"/>): exact for a target that returns, throws or calls
/// Environment.Exit(n). A child that wrote none was killed by a signal, which cannot be known
/// then: the code is minus the signal this process sent it, if it sent one (Terminate, Kill),
/// else 255, as for a fork server child whose server died.
/// </remarks>
sealed class UnixChild : ChildBase
{
    readonly SafeFileHandle? _pidfd;
    readonly SafeFileHandle? _report;
    int _signalSent;

    public UnixChild(int pid, SafeFileHandle? exitReport = null) : base(pid)
    {
        _report = exitReport;
        // The pid cannot be reused before we reap it, so opening the pidfd after the fork
        // is race-free. (Where SIGCHLD is ignored, it is not reaped before it ends; ForkKit's
        // children run far longer than the moment between the fork and this call.)
        int fd = Shim.PidfdOpen(pid);
        if (fd >= 0) _pidfd = new SafeFileHandle((IntPtr)fd, ownsHandle: true);
    }

    protected override bool HasExitedUnreaped()
    {
        if (_pidfd is null) return ProcFs.Find(Pid)?.State is null or ProcessState.Zombie;
        bool added = false;
        try
        {
            _pidfd.DangerousAddRef(ref added);
            return Shim.WaitReadable((int)_pidfd.DangerousGetHandle(), 0) == 1;
        }
        catch (ObjectDisposedException)
        {
            return true; // reaped meanwhile
        }
        finally
        {
            if (added) _pidfd.DangerousRelease();
        }
    }

    protected override int? TryReap()
    {
        int? code;
        try
        {
            var status = Syscalls.WaitPid(Pid, noHang: true);
            if (status is WaitStatus.StillRunning) return null;
            code = status.ToExitCode();
        }
        catch (SyscallException e) when (e.Errno == Tmds.Linux.LibC.ECHILD)
        {
            // Reaped already, by the kernel or the runtime: SIGCHLD is ignored.
            code = (_report is null ? null : ChildLinks.ReadReport(_report))
                ?? (_signalSent != 0 ? -_signalSent : Wire.ForkStatus.Unknown);
        }
        _pidfd?.Dispose();
        _report?.Dispose();
        return code;
    }

    protected override void WaitForExit(long ms)
    {
        int timeout = ms < 0 ? -1 : (int)Math.Min(ms, int.MaxValue);
        var pidfd = _pidfd;
        bool added = false;
        try
        {
            // AddRef fails once another thread has reaped the child and disposed the pidfd:
            // then there is nothing left to wait for.
            pidfd?.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return;
        }
        try
        {
            if (added)
            {
                int r = Shim.WaitReadable((int)pidfd!.DangerousGetHandle(), timeout);
                int errno = Marshal.GetLastPInvokeError(); // before the trace line, which makes calls of its own
                if (Diagnostics.OsTrace.Enabled && timeout != 0)
                    Diagnostics.OsTrace.Write($"poll(pidfd of {Pid}, {(timeout < 0 ? "no timeout" : timeout + " ms")}) = {(r == 1 ? "readable: it has exited" : "timed out")}");
                if (r < 0)
                    throw new SyscallException($"poll(pidfd of {Pid})", errno);
                return;
            }
            // Kernels before 5.3 have no pidfd: look again every few milliseconds.
            Thread.Sleep(timeout < 0 ? 5 : Math.Min(timeout, 5));
        }
        finally
        {
            if (added) pidfd!.DangerousRelease();
        }
    }

    protected override void Signal(bool force)
    {
        int signal = force ? Syscalls.SIGKILL : Syscalls.SIGTERM;
        _signalSent = signal;
        var pidfd = _pidfd;
        bool added = false;
        try
        {
            pidfd?.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return; // reaped meanwhile
        }
        try
        {
            if (added)
            {
                if (Diagnostics.OsTrace.Enabled) Diagnostics.OsTrace.Write($"pidfd_send_signal(pidfd of {Pid}, {Syscalls.SignalName(signal)})");
                if (Shim.PidfdSendSignal((int)pidfd!.DangerousGetHandle(), signal) == 0) return;
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Tmds.Linux.LibC.ESRCH) return; // it has exited: a zombie waiting for Poll, or reaped by the kernel
                if (errno != Tmds.Linux.LibC.ENOSYS) throw new SyscallException($"pidfd_send_signal(pidfd of {Pid}, {signal})", errno);
            }
            Syscalls.Kill(Pid, signal);
        }
        catch (SyscallException e) when (e.Errno == Tmds.Linux.LibC.ESRCH)
        {
            // Don't throw if the process has exited: it is a zombie waiting for Poll.
        }
        finally
        {
            if (added) pidfd!.DangerousRelease();
        }
    }

    /// <summary>The descriptors held for this child until it is reaped: its pidfd and its exit report's read end.</summary>
    internal IEnumerable<int> Descriptors =>
        new[] { _pidfd, _report }.Where(h => h is { IsClosed: false }).Select(h => (int)h!.DangerousGetHandle()).ToList();

    public override void Dispose()
    {
        _pidfd?.Dispose();
        _report?.Dispose();
    }
}
