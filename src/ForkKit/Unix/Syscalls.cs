using System.Runtime.InteropServices;
using Tmds.Linux;
using static Tmds.Linux.LibC;
using ForkKit.Platform;

namespace ForkKit.Unix;

/// <summary>
/// The Unix primitives the kit is built from, one method per system call, each throwing a
/// <see cref="SyscallException"/> that names the call and carries errno when it fails.
/// </summary>
/// <remarks>
/// There is deliberately no managed <c>Fork()</c> here: a forked copy of a .NET process must
/// not run managed code (the JIT's shared code mapping, locks held by threads that do not
/// exist in the child, signal handling routed to a missing thread). The forking helpers below
/// run their whole child in C (native-interop/forkkit.c) and never return into .NET there.
/// </remarks>
public static class Syscalls
{
    /// <summary>getpid(2).</summary>
    public static int GetPid() => getpid();

    /// <summary>getppid(2): the parent's pid, 1 (or a subreaper's pid) once the parent has died.</summary>
    public static int GetParentPid() => getppid();

    /// <summary>
    /// waitpid(2) for one child. Blocks until it changes state, unless <paramref name="noHang"/>
    /// (WNOHANG), which returns <see cref="WaitStatus.StillRunning"/> for a child that runs on.
    /// Reaps the child when it has ended: afterwards its pid may be reused. Retried on EINTR.
    /// </summary>
    /// <exception cref="SyscallException">ECHILD: pid is not an unwaited child of this process.</exception>
    public static WaitStatus WaitPid(int pid, bool noHang = false)
    {
        var options = noHang ? Mono.Unix.Native.WaitOptions.WNOHANG : 0;
        while (true)
        {
            int r = Mono.Unix.Native.Syscall.waitpid(pid, out int status, options);
            if (r > 0)
            {
                var decoded = WaitStatus.Decode(r, status);
                if (Diagnostics.OsTrace.Enabled) Diagnostics.OsTrace.Write($"waitpid({pid}{(noHang ? ", WNOHANG" : "")}) = {r}  {Describe(decoded)}: reaped");
                return decoded;
            }
            if (r == 0) return new WaitStatus.StillRunning(pid);
            int errno = Marshal.GetLastPInvokeError();
            if (errno == EINTR) continue;
            throw new SyscallException($"waitpid({pid})", errno);
        }
    }

    /// <summary>kill(2): sends <paramref name="signal"/> to <paramref name="pid"/>.</summary>
    /// <exception cref="SyscallException">ESRCH: no such process; EPERM: not allowed.</exception>
    public static void Kill(int pid, int signal)
    {
        if (Diagnostics.OsTrace.Enabled) Diagnostics.OsTrace.Write($"kill({pid}, {SignalName(signal)})");
        if (kill(pid, signal) == 0) return;
        throw new SyscallException($"kill({pid}, {signal})", errno);
    }

    /// <summary>
    /// Forks a child (in C) that names itself "forkkit-child" and calls _exit(exitCode) at once.
    /// It stays a zombie, state Z in ps, until the caller reaps it with <see cref="WaitPid"/>.
    /// Returns the child's pid.
    /// </summary>
    public static int ForkExit(int exitCode)
    {
        int pid = Shim.ForkExit(exitCode);
        if (pid < 0) throw new SyscallException("fork", Marshal.GetLastPInvokeError());
        if (Diagnostics.OsTrace.Enabled) Diagnostics.OsTrace.Write($"fork() = {pid}; child: _exit({exitCode}) at once");
        return pid;
    }

    /// <summary>
    /// Forks a child (in C) that sleeps for <paramref name="sleep"/> and then calls
    /// _exit(exitCode). Its signal handlers are reset, so SIGTERM ends it. Returns its pid.
    /// </summary>
    public static int ForkSleepExit(TimeSpan sleep, int exitCode)
    {
        if (sleep < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(sleep), sleep, "the sleep must not be negative");
        int pid = Shim.ForkSleepExit((long)sleep.TotalMilliseconds, exitCode);
        if (pid < 0) throw new SyscallException("fork", Marshal.GetLastPInvokeError());
        if (Diagnostics.OsTrace.Enabled) Diagnostics.OsTrace.Write($"fork() = {pid}; child: nanosleep({sleep.TotalSeconds:0.###} s), then _exit({exitCode})");
        return pid;
    }

    /// <summary>
    /// prctl(PR_SET_CHILD_SUBREAPER): with it on, an orphaned descendant of this process is
    /// reparented to this process rather than to init, and this process must reap it.
    /// </summary>
    public static void SetChildSubreaper(bool on)
    {
        if (Diagnostics.OsTrace.Enabled) Diagnostics.OsTrace.Write($"prctl(PR_SET_CHILD_SUBREAPER, {(on ? 1 : 0)})");
        if (Shim.SetChildSubreaper(on ? 1 : 0) != 0)
            throw new SyscallException("prctl(PR_SET_CHILD_SUBREAPER)", Marshal.GetLastPInvokeError());
    }

    /// <summary>How a reaped child ended, in the trace's words (Platform/ExitDescriptions.cs).</summary>
    static string Describe(WaitStatus status) => ExitDescriptions.Describe(status.ToExitCode());

    /// <summary>"SIGTERM" for 15, and so on for the signals a student meets; "signal N" otherwise.</summary>
    public static string SignalName(int signal) => ExitDescriptions.SignalName(signal);

    /// <summary>The signal numbers the kit sends (Linux values).</summary>
    public const int SIGKILL = ExitDescriptions.SIGKILL, SIGTERM = ExitDescriptions.SIGTERM;
}
