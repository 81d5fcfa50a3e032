using System.Diagnostics;
using System.Globalization;
using System.Text;
using NUnit.Framework;
using ForkKit.Diagnostics;

namespace ForkKit.Testing;

/// <summary>
/// Asserts that the current process has reaped every child it started: no zombie, no child
/// still running, and (optionally) no ForkKit named semaphore, shared memory object or
/// descriptor left. It
/// never waits for or reaps a child itself: zombies are read from /proc, so the check does not
/// change what it checks.
/// </summary>
public static class ChildProcesses
{
    /// <summary>How long a check waits by default for children that are on their way out.</summary>
    public static readonly TimeSpan DefaultGrace = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Fails (an NUnit assertion failure) when this process has a zombie child or a child that
    /// still runs once <paramref name="grace"/> has passed; with <paramref name="semaphores"/>,
    /// also when a ForkKit named semaphore or shared memory object (a Lock's owner word) created
    /// by this process (since the baseline, when one is given) still exists;
    /// with <paramref name="descriptors"/>, also when a descriptor opened since
    /// <paramref name="since"/> is still open. The message is a table: pid, state, age, command.
    /// </summary>
    /// <param name="grace">How long leaks may take to clear (a child being joined on another thread); 1 s if null.</param>
    /// <param name="semaphores">Also check ForkKit's named semaphores and shared memory.</param>
    /// <param name="descriptors">Also check descriptors; needs <paramref name="since"/>.</param>
    /// <param name="since">Report only what is new since this baseline.</param>
    public static void AssertAllReaped(TimeSpan? grace = null, bool semaphores = false, bool descriptors = false, LeakBaseline? since = null)
    {
        var report = WaitUntilClean(grace ?? DefaultGrace, semaphores, descriptors, since);
        if (!report.IsClean) Assert.Fail(report.ToString());
    }

    /// <summary>What is left now, without asserting: the same checks as <see cref="AssertAllReaped"/>.</summary>
    public static LeakReport FindLeaks(bool semaphores = false, bool descriptors = false, LeakBaseline? since = null)
    {
        if (descriptors && since is null)
            throw new ArgumentException("checking descriptors needs a baseline: take one with LeakBaseline.Take() before the code under test and pass it as 'since'.", nameof(descriptors));

        int self = Environment.ProcessId;
        var now = DateTime.UtcNow;
        var children = new List<LeakedChild>();
        foreach (var entry in OwnChildren(self))
        {
            if (since?.Children.Contains(entry.Pid) == true) continue;
            children.Add(new LeakedChild(entry.Pid, Describe(entry.State), now - entry.StartedAt, Command(entry)));
        }
        // A ForkKit Process whose child has exited but was never joined. On Linux the table
        // above already shows it as a zombie; on Windows it is the analogue: a process object
        // kept alive by the handle ForkKit holds.
        foreach (var p in Process.StartedNotReaped())
        {
            if (p.Pid is not { } pid || children.Any(c => c.Pid == pid) || since?.Children.Contains(pid) == true) continue;
            if (p.HasExited) children.Add(new LeakedChild(pid, "exited, not joined", null, p.Name));
        }

        // Only this process's names (the creator's pid is in each): another program using
        // ForkKit on the machine, a second test run for one, makes names of its own meanwhile.
        var leakedSemaphores = !semaphores ? [] : NamedSemaphores.List()
            .Where(s => s.CreatorPid == self && since?.Semaphores.Contains(s.Name) != true)
            .ToList();
        // A Lock is two names: its semaphore and the shared memory of its owner word. Either one
        // left linked is a leak in /dev/shm.
        var leakedSharedMemory = !semaphores ? [] : NamedSharedMemory.List()
            .Where(s => s.CreatorPid == self && since?.SharedMemory.Contains(s.Name) != true)
            .ToList();
        var leakedDescriptors = !descriptors ? [] : OpenDescriptors.List().Where(d => !since!.Descriptors.Contains(d)).ToList();
        return new LeakReport(self, children, leakedSemaphores, leakedSharedMemory, leakedDescriptors);
    }

    /// <summary>
    /// This process's children as a test sees them: its own, except the fork server, which lives
    /// as long as the process, plus the fork server's, which this process asked for
    /// (StartMethod.ForkServer).
    /// </summary>
    internal static IEnumerable<ProcessEntry> OwnChildren(int self)
    {
        int? server = Launching.ForkServerLauncher.ServerPid;
        var children = ProcessTable.ChildrenOf(self).Where(e => e.Pid != server);
        return children.Concat(Launching.ForkServerLauncher.ServersChildren());
    }

    /// <summary>Checks again every few milliseconds until clean or <paramref name="grace"/> has passed; returns the last report.</summary>
    internal static LeakReport WaitUntilClean(TimeSpan grace, bool semaphores, bool descriptors, LeakBaseline? since)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var report = FindLeaks(semaphores, descriptors, since);
            if (report.IsClean || clock.Elapsed >= grace) return report;
            Thread.Sleep(20);
        }
    }

    static string Describe(ProcessState state) => state switch
    {
        ProcessState.Zombie => "zombie (exited, not waited for)",
        ProcessState.Running => "running",
        ProcessState.Sleeping or ProcessState.DiskSleep or ProcessState.Idle => "running (sleeping)",
        ProcessState.Stopped or ProcessState.TracingStop => "stopped",
        _ => state.ToString().ToLowerInvariant(),
    };

    /// <summary>As ps prints it: the command line, or [comm] &lt;defunct&gt; for a zombie, which has none.</summary>
    static string Command(ProcessEntry e) =>
        e.State == ProcessState.Zombie ? $"[{e.Name}] <defunct>" : e.CommandLine.Length == 0 ? $"[{e.Name}]" : e.CommandLine;
}

/// <summary>A child that should have been reaped.</summary>
/// <param name="Pid">Its pid.</param>
/// <param name="State">What it is doing: "zombie (exited, not waited for)", "running", ...</param>
/// <param name="Age">How long since it started; null where the OS cannot tell.</param>
/// <param name="Command">Its command line, or [comm] for a zombie.</param>
public sealed record LeakedChild(int Pid, string State, TimeSpan? Age, string Command);

/// <summary>The leaks one check found; <see cref="ToString"/> is the failure message.</summary>
public sealed class LeakReport
{
    internal LeakReport(int pid, IReadOnlyList<LeakedChild> children, IReadOnlyList<NamedSemaphoreEntry> semaphores,
        IReadOnlyList<NamedSharedMemoryEntry> sharedMemory, IReadOnlyList<string> descriptors)
    {
        Pid = pid;
        Children = children;
        Semaphores = semaphores;
        SharedMemory = sharedMemory;
        Descriptors = descriptors;
    }

    /// <summary>The process that was checked.</summary>
    public int Pid { get; }
    public IReadOnlyList<LeakedChild> Children { get; }
    public IReadOnlyList<NamedSemaphoreEntry> Semaphores { get; }
    /// <summary>ForkKit shared memory objects left linked: a Lock's owner word.</summary>
    public IReadOnlyList<NamedSharedMemoryEntry> SharedMemory { get; }
    public IReadOnlyList<string> Descriptors { get; }
    public bool IsClean => Children.Count == 0 && Semaphores.Count == 0 && SharedMemory.Count == 0 && Descriptors.Count == 0;

    public override string ToString()
    {
        if (IsClean) return $"process {Pid} has reaped every child";
        var text = new StringBuilder();
        if (Children.Count > 0)
        {
            text.AppendLine($"{Children.Count} child process(es) of pid {Pid} not reaped:");
            text.AppendLine($"  {"PID",7}  {"STATE",-32} {"AGE",8}  COMMAND");
            foreach (var c in Children)
            {
                var age = c.Age is { } a ? a.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s" : "?";
                var command = c.Command.Length > 90 ? c.Command[..87] + "..." : c.Command;
                text.AppendLine($"  {c.Pid,7}  {c.State,-32} {age,8}  {command}");
            }
            text.AppendLine("  Reap every child: Join() each Process (or Dispose it), WaitPid(pid) each raw child.");
        }
        if (Semaphores.Count > 0)
        {
            text.AppendLine($"{Semaphores.Count} ForkKit named semaphore(s) left linked:");
            foreach (var s in Semaphores) text.AppendLine($"  {s.Path} (created by pid {s.CreatorPid})");
            text.AppendLine("  Dispose every Lock, RLock and Semaphore.");
        }
        if (SharedMemory.Count > 0)
        {
            text.AppendLine($"{SharedMemory.Count} ForkKit shared memory object(s) left linked:");
            foreach (var s in SharedMemory) text.AppendLine($"  {s.Path} (created by pid {s.CreatorPid})");
            text.AppendLine("  Dispose every Lock and RLock: each keeps its owner word in shared memory.");
        }
        if (Descriptors.Count > 0)
        {
            text.AppendLine($"{Descriptors.Count} descriptor(s) opened since the baseline still open:");
            foreach (var d in Descriptors) text.AppendLine($"  {d}");
        }
        return text.ToString().TrimEnd();
    }
}
