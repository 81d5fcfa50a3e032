using System.Diagnostics;
using ForkKit.Diagnostics;
using ForkKit.Tests.Support;
using ForkKit.Unix;

namespace ForkKit.Tests;

/// <summary>Pool on Linux only: an initializer's report on the inherited stderr, SIGKILL from outside, ps.</summary>
public partial class PoolTests
{
    [Test]
    public void AFailingInitializerFailsTheTasksInsteadOfHanging()
    {
        using var stderr = StdioCapture.Stderr();
        Pool? pool = null;
        stderr.During(() => pool = new Pool(1, PoolTargets.InitFails));
        using (pool)
        {
            var r = pool!.ApplyAsync(PoolTargets.Square, 2);
            Assert.That(() => r.Get(Patience), Throws.InvalidOperationException.With.Message.Contains("initializer failed"));
        }
        Assert.That(stderr.ReadToEnd(), Does.Contain("initializer failed on purpose"));
    }

    // ---- beyond Python: a worker that dies mid-task ----

    [Test]
    public void AWorkerKilledMidTaskFailsThatTaskWithWorkerLostAndIsReplaced()
    {
        var pool = new Pool(2);
        var before = pool.WorkerPids.ToList();
        try
        {
            var victim = pool.ApplyAsync(PoolTargets.AnnounceThenSleep, Scratch, 60_000);
            var clock = Stopwatch.StartNew();
            while (!File.Exists(Scratch) && clock.Elapsed < Patience) Thread.Sleep(10);
            int pid = int.Parse(File.ReadAllText(Scratch));

            Syscalls.Kill(pid, Syscalls.SIGKILL);
            // Soon after the kill, not when the 60 s task would have ended: 20 s leaves a loaded
            // machine room.
            Assert.That(victim.Wait(TimeSpan.FromSeconds(20)), Is.True, "the task failed soon after the kill");
            var lost = Assert.Throws<WorkerLostException>(() => victim.Get(Patience))!;
            Assert.That(lost.Pid, Is.EqualTo(pid));
            Assert.That(lost.ExitCode, Is.EqualTo(-9));
            Assert.That(lost.Message, Does.Contain($"(pid {pid})").And.Contain("SIGKILL").And.Contain("AnnounceThenSleep"));

            var others = Enumerable.Range(0, 10).Select(i => pool.ApplyAsync(PoolTargets.Square, i)).ToList();
            Assert.That(others.Select(r => r.Get(Patience)), Is.EqualTo(Enumerable.Range(0, 10).Select(i => i * i)));
            // The replacement starts outside the pool's lock, after the lost task has failed: wait for it, bounded.
            Wait.Until(() => pool.WorkerPids.Count == 2 && !pool.WorkerPids.Contains(pid));
            Assert.That(pool.WorkerPids, Has.Count.EqualTo(2).And.Not.Contain(pid), "a replacement started");
            Assert.That(pool.WorkerPids.Except(before), Is.Not.Empty);
        }
        finally
        {
            pool.Close();
            pool.JoinBounded();
        }
        Assert.That(pool.WorkerPids, Is.Empty);
    }

    // ---- ps ----

    [Test]
    public void WorkersAreVisibleInPsByRole()
    {
        using var pool = new Pool(2);
        pool.Map(PoolTargets.Square, [1, 2], 1); // both workers are up and named
        foreach (var pid in pool.WorkerPids)
        {
            var entry = ProcessTable.Find(pid)!;
            Assert.That(entry.Name, Does.Match(@"^PoolWorker-\d+$"));
            Assert.That(entry.CommandLine, Does.Match($@"^forkkit: {entry.Name} \(parent {Environment.ProcessId}\) "));
        }
    }
}
