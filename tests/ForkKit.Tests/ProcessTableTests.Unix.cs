using ForkKit.Diagnostics;
using ForkKit.Unix;

namespace ForkKit.Tests;

/// <summary>The process table from /proc: zombies, stopped children, the parent pid, the stat line.</summary>
public partial class ProcessTableTests
{
    [Test]
    public void AnExitedChildIsAZombieUntilReapedThenGone()
    {
        int pid = Syscalls.ForkExit(3);
        try
        {
            var entry = WaitForState(pid, ProcessState.Zombie);
            Assert.That(entry.ParentPid, Is.EqualTo(Environment.ProcessId));
            Assert.That(entry.Name, Is.EqualTo("forkkit-child"));
            Assert.That(entry.IsForkKit, Is.True);
            Assert.That(ProcessTable.ChildrenOf(Environment.ProcessId).Select(e => e.Pid), Does.Contain(pid));
        }
        finally
        {
            Assert.That(Syscalls.WaitPid(pid), Is.EqualTo(new WaitStatus.Exited(pid, 3)));
        }
        Assert.That(ProcessTable.Find(pid), Is.Null);
        Assert.That(ProcessTable.ChildrenOf(Environment.ProcessId).Select(e => e.Pid), Does.Not.Contain(pid));
    }

    [Test]
    public void TheSnapshotHoldsThisProcessAsRunningWithItsParent()
    {
        var self = ProcessTable.Snapshot().Single(e => e.Pid == Environment.ProcessId);
        // The state of a multi-threaded process is its main thread's, which may be waiting.
        Assert.That(self.State, Is.AnyOf(ProcessState.Running, ProcessState.Sleeping));
        Assert.That(self.ParentPid, Is.EqualTo(Syscalls.GetParentPid()));
        Assert.That(self.StartedAt, Is.LessThan(DateTime.UtcNow).And.GreaterThan(DateTime.UtcNow.AddDays(-1)));
    }

    [Test]
    public void ASleepingChildIsSleepingAndAStoppedOneIsStopped()
    {
        int pid = Syscalls.ForkSleepExit(TimeSpan.FromSeconds(30), 0);
        try
        {
            Assert.That(WaitForState(pid, ProcessState.Sleeping).Name, Is.EqualTo("forkkit-child"));
            Syscalls.Kill(pid, 19); // SIGSTOP
            WaitForState(pid, ProcessState.Stopped);
        }
        finally
        {
            Syscalls.Kill(pid, Syscalls.SIGKILL);
            Assert.That(Syscalls.WaitPid(pid), Is.TypeOf<WaitStatus.Signaled>());
        }
    }

    [Test]
    public void ParseHandlesANameWithSpacesAndParentheses()
    {
        var stat = "42 (a (b) c) S 7 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 500 1000 100 18446744073709551615";
        var e = ProcFs.Parse(42, stat, "cmd")!;
        Assert.That((e.Name, e.State, e.ParentPid), Is.EqualTo(("a (b) c", ProcessState.Sleeping, 7)));
    }

    /// <summary>Polls the table until the process shows the state (a child changes state on its own schedule).</summary>
    internal static ProcessEntry WaitForState(int pid, ProcessState state)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var entry = ProcessTable.Find(pid);
            if (entry?.State == state) return entry;
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
                Assert.Fail($"pid {pid} never reached {state}; last seen: {entry}");
            Thread.Sleep(2);
        }
    }
}
