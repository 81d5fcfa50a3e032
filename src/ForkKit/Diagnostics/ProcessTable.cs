using ForkKit.Platform;

namespace ForkKit.Diagnostics;

/// <summary>A process's scheduling state, the STAT letter of ps (proc(5), /proc/PID/stat field 3).</summary>
public enum ProcessState
{
    /// <summary>R: running or runnable.</summary>
    Running,
    /// <summary>S: interruptible sleep, waiting for an event (most processes, most of the time).</summary>
    Sleeping,
    /// <summary>D: uninterruptible sleep, usually disk I/O.</summary>
    DiskSleep,
    /// <summary>Z: exited, but not yet waited for by its parent.</summary>
    Zombie,
    /// <summary>T: stopped by a signal (SIGSTOP, SIGTSTP).</summary>
    Stopped,
    /// <summary>t: stopped by a debugger.</summary>
    TracingStop,
    /// <summary>X: being removed.</summary>
    Dead,
    /// <summary>I: an idle kernel thread.</summary>
    Idle,
    /// <summary>Any other letter.</summary>
    Unknown,
}

/// <summary>One row of the process table.</summary>
/// <param name="Pid">The process id.</param>
/// <param name="ParentPid">Its parent's pid (1, or a subreaper, once the parent has died).</param>
/// <param name="State">Its state.</param>
/// <param name="Name">Its comm: the short name ps shows, at most 15 bytes.</param>
/// <param name="CommandLine">Its arguments joined by spaces; empty for a zombie or a kernel thread.</param>
/// <param name="StartedAt">When it started (UTC).</param>
public sealed record ProcessEntry(int Pid, int ParentPid, ProcessState State, string Name, string CommandLine, DateTime StartedAt)
{
    /// <summary>The STAT letter ps prints for <see cref="State"/>.</summary>
    public char StateLetter => State switch
    {
        ProcessState.Running => 'R',
        ProcessState.Sleeping => 'S',
        ProcessState.DiskSleep => 'D',
        ProcessState.Zombie => 'Z',
        ProcessState.Stopped => 'T',
        ProcessState.TracingStop => 't',
        ProcessState.Dead => 'X',
        ProcessState.Idle => 'I',
        _ => '?',
    };

    /// <summary>True for processes ForkKit started: workers ("forkkit: ..." titles) and the C shim's children.</summary>
    public bool IsForkKit => CommandLine.StartsWith("forkkit", StringComparison.Ordinal) || Name == "forkkit-child";
}

/// <summary>
/// The process table, read from /proc on Linux and from a Toolhelp snapshot on Windows (the
/// backends do the reading): what ps shows, for demos and for tests that check every child was
/// reaped. Reading it never waits for or reaps anything.
/// </summary>
public static class ProcessTable
{
    /// <summary>Every process visible now. Processes that vanish while the table is read are left out.</summary>
    public static IReadOnlyList<ProcessEntry> Snapshot() => Os.Current.ProcessTable();

    /// <summary>The direct children of <paramref name="pid"/>, zombies included.</summary>
    /// <remarks>
    /// Windows never rewrites a parent pid, so a process whose parent died may name a newer
    /// process that got the same pid; only processes started after the parent count.
    /// </remarks>
    public static IReadOnlyList<ProcessEntry> ChildrenOf(int pid)
    {
        var table = Snapshot();
        var parent = table.FirstOrDefault(e => e.Pid == pid);
        return table.Where(e => e.ParentPid == pid && e.Pid != pid && (parent is null || e.StartedAt >= parent.StartedAt.AddSeconds(-1))).ToList();
    }

    /// <summary>One process, or null when there is none with that pid.</summary>
    public static ProcessEntry? Find(int pid) => Os.Current.FindProcess(pid);
}
