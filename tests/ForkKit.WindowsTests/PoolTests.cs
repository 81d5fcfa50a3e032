using NUnit.Framework;

namespace ForkKit.WindowsTests;

/// <summary>Pool with workers started by CreateProcessW, talking over inherited anonymous pipes.</summary>
[TestFixture]
public class PoolTests
{
    [Test]
    public void ApplyRunsInAWorkerAndReturnsTheResult()
    {
        using var pool = new Pool(2);
        Assert.That(pool.Apply(Targets.Square, 7), Is.EqualTo(49));
        Assert.That(pool.WorkerPids, Has.Count.EqualTo(2).And.None.EqualTo(Environment.ProcessId));
    }

    [Test]
    public void MapKeepsTheInputOrder()
    {
        using var pool = new Pool(2);
        var items = Enumerable.Range(0, 200).ToList();
        Assert.That(pool.Map(Targets.Square, items), Is.EqualTo(items.Select(i => i * i).ToList()));
        Assert.That(pool.Map(Targets.Square, items, chunkSize: 7), Is.EqualTo(items.Select(i => i * i).ToList()));
    }

    [Test]
    public void AnExceptionInATaskReachesTheCallerWithTheWorkersTrace()
    {
        using var pool = new Pool(1);
        var e = Assert.Throws<ArgumentException>(() => pool.Apply(Targets.Fail, 5))!;
        Assert.That(e.Message, Does.Contain("no square for 5 today"));
        Assert.That(e.InnerException, Is.InstanceOf<RemoteTraceback>());
        Assert.That(e.InnerException!.Message, Does.Contain("Targets.Fail"));
        Assert.That(pool.Apply(Targets.Square, 3), Is.EqualTo(9), "the worker goes on after a failed task");
    }

    [Test]
    public void AWorkerKilledMidTaskFailsThatTaskWithWorkerLostAndThePoolGoesOn()
    {
        var marker = Path.Combine(Path.GetTempPath(), $"forkkit-pool-{Guid.NewGuid():N}");
        using var pool = new Pool(1);
        try
        {
            var victim = pool.ApplyAsync(Targets.MarkThenSleep, marker);
            Assert.That(Wait.Until(() => File.Exists(marker)), Is.True, "the task should have started");
            int pid = pool.WorkerPids.Single();
            Win32.Kill(pid);
            var lost = Assert.Throws<WorkerLostException>(() => victim.Get())!;
            Assert.That(lost.Pid, Is.EqualTo(pid));
            Assert.That(lost.ExitCode, Is.EqualTo(1), "the exit code TerminateProcess gave it");
            Assert.That(pool.Apply(Targets.Square, 12), Is.EqualTo(144));
            Assert.That(pool.WorkerPids.Single(), Is.Not.EqualTo(pid), "a fresh worker replaced the dead one");
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Test]
    public void CloseAndJoinEndEveryWorker()
    {
        var pool = new Pool(2);
        var pids = pool.WorkerPids;
        Assert.That(pool.Map(Targets.Square, [1, 2, 3]), Is.EqualTo(new[] { 1, 4, 9 }));
        pool.Close();
        pool.Join();
        Assert.That(pids.Where(Win32.IsRunning), Is.Empty);
    }

    [Test]
    public void WorkersLoadNoUnixPackage()
    {
        using var pool = new Pool(1);
        Assert.That(pool.Apply(Targets.LoadedUnixAssemblies), Is.Empty);
    }
}
