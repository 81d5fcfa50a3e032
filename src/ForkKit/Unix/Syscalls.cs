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
/// A forked copy of a .NET process may run managed code only under the conditions of
/// docs/design.md fact 1b (the JIT's shared code mapping, locks held by threads that do not
/// exist in the child, signal handling routed to a missing thread). So <see cref="Fork"/> is
/// guarded by <see cref="ForkSafety"/>, and the other forking helpers run their whole child in
/// C (native-interop/forkkit.c) and never return into .NET there.
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
    /// fork(2): a copy of this process, which goes on from here in both. Returns 0 in the child
    /// and the child's pid in the parent. In the child, signal handlers are back to their
    /// defaults and no signal is blocked; <see cref="Environment.ProcessId"/> is the child's own.
    /// </summary>
    /// <remarks>
    /// <para><b>Safety.</b> A forked .NET runtime crashes or hangs unless the process started
    /// with <see cref="ForkSafety.Settings"/> and the forking thread is the only one doing work
    /// (docs/design.md, facts 1 and 1b). Without the settings this method refuses; with threads
    /// of the program's own it warns on stderr, as CPython 3.12 does, and forks. The child has
    /// only the forking thread. It should end with <see cref="Exit"/>, never by returning from
    /// Main or with Environment.Exit: those run the parent's exit handlers in the child, which
    /// would join the parent's children and remove the parent's named semaphores.</para>
    /// </remarks>
    /// <exception cref="InvalidOperationException">The process did not start with the fork-safe settings.</exception>
    /// <exception cref="SyscallException">fork failed (EAGAIN, ENOMEM).</exception>
    public static int Fork()
    {
        if (!ForkSafety.IsEnabled)
            throw new InvalidOperationException(
                "Syscalls.Fork() refused: this process did not start with the fork-safe settings, and a forked .NET runtime " +
                "then crashes (SIGSEGV in the JIT's shared code mapping) or hangs (a lock held by a thread the child does not have). " +
                $"Start the program with {ForkSafety.SettingsText} (docs/design.md, facts 1 and 1b), or use StartMethod.Spawn.");
        var own = ForkSafety.OwnThreads();
        if (own.Count > 0)
            Console.Error.WriteLine(
                $"ForkKit: warning: this process has {own.Count} thread(s) of its own ({string.Join(", ", own.Distinct())}); " +
                "a forked child may deadlock on a lock one of them held. Fork before starting threads.");
        return ForkUnchecked();
    }

    /// <summary>
    /// fork(2) without the guard or the thread check, for a caller that has made sure of both:
    /// the fork server, which checked the settings at start and starts no thread.
    /// </summary>
    internal static int ForkUnchecked()
    {
        int pid = Shim.Fork();
        if (pid < 0) throw new SyscallException("fork", Marshal.GetLastPInvokeError());
        if (pid == 0)
        {
            // The runtime caches the pid on first read; the child must not report its parent's.
            s_processIdCache?.SetValue(null, 0);
            ChildLinks.LeaveInForkedChild();
            return 0;
        }
        if (Diagnostics.OsTrace.Enabled) Diagnostics.OsTrace.Write($"fork() = {pid}; child: goes on running managed code");
        return pid;
    }

    /// <summary>
    /// Compiles, in a process about to fork many times, what a forked child runs before its own
    /// code: resetting the pid cache (set here to this process's own pid, which it is) and the
    /// _exit stub. A forked child that compiles them pays milliseconds each time.
    /// </summary>
    internal static void PrepareForkedChildPath()
    {
        s_processIdCache?.SetValue(null, Environment.ProcessId);
        Marshal.Prelink(typeof(Tmds.Linux.LibC).GetMethod(nameof(_exit))!);
        Marshal.Prelink(typeof(Tmds.Linux.LibC).GetMethod(nameof(close))!);
        System.Runtime.CompilerServices.RuntimeHelpers.PrepareMethod(typeof(Syscalls).GetMethod(nameof(Exit))!.MethodHandle);
        System.Runtime.CompilerServices.RuntimeHelpers.PrepareMethod(typeof(ChildLinks).GetMethod(nameof(ChildLinks.LeaveInForkedChild))!.MethodHandle);
    }

    /// <summary>Environment.ProcessId's cache (a private field of the runtime); null if a runtime names it otherwise.</summary>
    static readonly System.Reflection.FieldInfo? s_processIdCache =
        typeof(Environment).GetField("s_processId", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic);

    /// <summary>
    /// _exit(2): ends this process at once with <paramref name="code"/>, running no exit handlers
    /// (the console's writers are flushed first, nothing else). How a forked child ends, as
    /// Python's os._exit.
    /// </summary>
    public static void Exit(int code)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        _exit(code);
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
