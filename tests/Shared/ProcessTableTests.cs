using ForkKit.Diagnostics;
using ForkKit.Tests.Support;

namespace ForkKit.Tests;

/// <summary>
/// The process table on both platforms (compiled into the Linux and the Windows suite): /proc
/// on Linux, a Toolhelp32 snapshot on Windows. ProcessTableTests.Unix.cs holds what only
/// /proc shows.
/// </summary>
public partial class ProcessTableTests
{
    [Test]
    public void AStartedChildIsListedAmongOurChildren()
    {
        using var p = new Process(ChildTargets.SleepSeconds, 30.0);
        p.Start();
        try
        {
            var children = ProcessTable.ChildrenOf(Environment.ProcessId);
            var child = children.SingleOrDefault(e => e.Pid == p.Pid);
            Assert.That(child, Is.Not.Null, $"pid {p.Pid} among [{string.Join(", ", children.Select(c => $"{c.Pid} {c.Name}"))}]");
            Assert.That(child!.ParentPid, Is.EqualTo(Environment.ProcessId));
            // Toolhelp names a process by its image file; Linux by its comm, which the child
            // sets to its process name once it runs managed code.
            if (OperatingSystem.IsWindows()) Assert.That(child.Name, Does.EndWith(".exe").IgnoreCase);
            Assert.That(ProcessTable.Find(p.Pid!.Value), Is.Not.Null);
        }
        finally
        {
            p.Terminate();
            p.JoinBounded();
        }
    }

    [Test]
    public void TheSnapshotListsThisProcess()
    {
        var me = ProcessTable.Find(Environment.ProcessId);
        Assert.That(me, Is.Not.Null);
        Assert.That(me!.StartedAt, Is.GreaterThan(DateTime.UtcNow.AddHours(-1)).And.LessThanOrEqualTo(DateTime.UtcNow.AddSeconds(1)));
    }

    [Test]
    public void FindReturnsNullForAPidThatDoesNotExist() =>
        Assert.That(ProcessTable.Find(int.MaxValue), Is.Null);
}
