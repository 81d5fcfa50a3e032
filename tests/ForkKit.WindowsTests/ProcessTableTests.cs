using ForkKit.Diagnostics;
using NUnit.Framework;

namespace ForkKit.WindowsTests;

/// <summary>The process table from a Toolhelp32 snapshot.</summary>
[TestFixture]
public class ProcessTableTests
{
    [Test]
    public void AStartedChildIsListedAmongOurChildren()
    {
        using var p = new Process(Targets.Sleep, 30_000);
        p.Start();
        try
        {
            var children = ProcessTable.ChildrenOf(Environment.ProcessId);
            var child = children.SingleOrDefault(e => e.Pid == p.Pid);
            Assert.That(child, Is.Not.Null, $"pid {p.Pid} among [{string.Join(", ", children.Select(c => $"{c.Pid} {c.Name}"))}]");
            Assert.That(child!.ParentPid, Is.EqualTo(Environment.ProcessId));
            Assert.That(child.Name, Does.EndWith(".exe").IgnoreCase);
            Assert.That(ProcessTable.Find(p.Pid!.Value), Is.Not.Null);
        }
        finally
        {
            p.Terminate();
            p.Join();
        }
    }

    [Test]
    public void TheSnapshotListsThisProcess()
    {
        var me = ProcessTable.Find(Environment.ProcessId);
        Assert.That(me, Is.Not.Null);
        Assert.That(me!.StartedAt, Is.GreaterThan(DateTime.UtcNow.AddHours(-1)).And.LessThanOrEqualTo(DateTime.UtcNow.AddSeconds(1)));
    }
}
