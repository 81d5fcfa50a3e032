using ForkKit.Tests.Support;

namespace ForkKit.Tests;

/// <summary>
/// Pool on Windows only: a task's exception (the shared test of it does not run under Wine), a
/// worker ended from outside by TerminateProcess, and workers that never load a Unix package.
/// </summary>
public partial class PoolTests
{
    // The shared AnExceptionInATaskIsRethrownAsItsTypeWithTheRemoteTrace does not run under
    // Wine; this is its one-failure-per-worker form.
    [Test]
    public void AnExceptionInATaskReachesTheCallerWithTheWorkersTrace()
    {
        using var pool = new Pool(1);
        var e = Assert.Throws<InvalidOperationException>(() => pool.Apply(PoolTargets.Fail, "no square for 5 today"))!;
        Assert.That(e.Message, Does.Contain("no square for 5 today"));
        Assert.That(e.InnerException, Is.InstanceOf<RemoteTraceback>());
        Assert.That(e.InnerException!.Message, Does.Contain("PoolTargets.Fail"));
        Assert.That(pool.Apply(PoolTargets.Square, 3), Is.EqualTo(9), "the worker goes on after a failed task");
    }

    [Test]
    public void AWorkerKilledMidTaskFailsThatTaskWithWorkerLostAndThePoolGoesOn()
    {
        using var pool = new Pool(1);
        var victim = pool.ApplyAsync(PoolTargets.AnnounceThenSleep, Scratch, 60_000);
        Assert.That(Wait.Until(() => File.Exists(Scratch)), Is.True, "the task should have started");
        int pid = pool.WorkerPids.Single();
        Win32.Kill(pid);
        var lost = Assert.Throws<WorkerLostException>(() => victim.Get(Bounded.Limit))!;
        Assert.That(lost.Pid, Is.EqualTo(pid));
        Assert.That(lost.ExitCode, Is.EqualTo(1), "the exit code TerminateProcess gave it");
        Assert.That(pool.Apply(PoolTargets.Square, 12), Is.EqualTo(144));
        Assert.That(pool.WorkerPids.Single(), Is.Not.EqualTo(pid), "a fresh worker replaced the dead one");
    }

    [Test]
    public void WorkersLoadNoUnixPackage()
    {
        using var pool = new Pool(1);
        Assert.That(pool.Apply(ChildTargets.LoadedUnixAssemblies), Is.Empty);
    }
}

public partial class PoolTests
{
    [Test]
    public void APoolOnTheForkServerIsRefusedOnWindowsLeavingNothing()
    {
        int before = ForkKit.Diagnostics.ProcessTable.ChildrenOf(Environment.ProcessId).Count;
        Assert.Throws(Is.TypeOf<NotSupportedException>().With.Message.Contains("Windows has no fork"), () => new Pool(2, startMethod: StartMethod.ForkServer));
        Assert.That(ForkKit.Diagnostics.ProcessTable.ChildrenOf(Environment.ProcessId), Has.Count.EqualTo(before), "no worker was started");
    }
}
