using System.Diagnostics;
using System.Reflection;
using ForkKit.Diagnostics;
using ForkKit.Pooling;
using ForkKit.Tests.Support;
using ForkKit.Unix;
using ForkKit.Wire;
using Microsoft.Win32.SafeHandles;

namespace ForkKit.Tests;

/// <summary>
/// The pool's window: several tasks in flight per worker, written by a writer thread per worker,
/// answered in order. What the window must not change (Map order, maxTasksPerChild, a dead
/// worker losing only the task it ran) and what it adds (nothing blocks on a worker that does
/// not read).
/// </summary>
public class PoolWindowTests : ScratchFileFixture
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [TestCase(StartMethod.Spawn)]
    [TestCase(StartMethod.ForkServer)]
    public void MapKeepsInputOrderWhenWindowedTasksFinishScrambled(StartMethod method)
    {
        using var pool = new Pool(3, startMethod: method);
        var items = Enumerable.Range(0, 48).ToList();
        PoolTimeline.Start();
        List<int> squares;
        IReadOnlyList<TimelineEntry> timeline;
        try
        {
            // Sleeps of 0 to 40 ms in an order unrelated to the input's.
            squares = pool.Starmap(PoolTargets.SlowSquare, items.Select(n => (n, n * 7 % 5 * 10)), chunkSize: 1);
        }
        finally
        {
            timeline = PoolTimeline.Stop();
        }
        Assert.That(squares, Is.EqualTo(items.Select(n => n * n)));
        Assert.That(timeline, Has.Count.EqualTo(items.Count));
        // The window was used: some task was written to its worker before that worker had answered the one before it.
        bool overlapped = timeline.GroupBy(e => e.Pid).Any(worker =>
            worker.Zip(worker.Skip(1)).Any(pair => pair.Second.Sent < pair.First.Answered));
        Assert.That(overlapped, Is.True, "a worker had a second task in flight");
    }

    [TestCase(StartMethod.Spawn)]
    [TestCase(StartMethod.ForkServer)]
    public void AWorkerKilledWithAFullWindowLosesOnlyTheTaskItRanAndTheOthersRunElsewhere(StartMethod method)
    {
        var pool = new Pool(2, startMethod: method);
        try
        {
            var victim = pool.ApplyAsync(PoolTargets.AnnounceThenSleep, Scratch, 60_000);
            Assert.That(Wait.Until(() => File.Exists(Scratch)), Is.True, "the first task started");
            int killed = int.Parse(File.ReadAllText(Scratch));

            // The other worker stays busy, so hand-out fills both windows: the victim's holds
            // Window - 1 tasks behind the one it runs, and a few more wait in the queue.
            var others = Enumerable.Range(0, 2 * WorkerSet.Window + 3).Select(_ => pool.ApplyAsync(PoolTargets.PidAfter, 300)).ToList();
            Assert.That(Wait.Until(() => InFlightOn(pool, killed) == WorkerSet.Window), Is.True, "the victim's window is full");

            Syscalls.Kill(killed, Syscalls.SIGKILL);
            var lost = Assert.Throws<WorkerLostException>(() => victim.Get(Patience))!;
            Assert.That(lost.Pid, Is.EqualTo(killed));
            Assert.That(lost.ExitCode, Is.EqualTo(-9));
            Assert.That(lost.Message, Does.Match($@"^worker PoolWorker-\d+ \(pid {killed}\) was killed by signal 9 \(SIGKILL\) while running task \d+ \(.*AnnounceThenSleep.*\); its result will never come$"));

            // Every other task completes (Get would throw otherwise), none on the killed worker.
            var pids = others.Select(r => r.Get(Patience)).ToList();
            Assert.That(pids, Has.None.EqualTo(killed));
            // The replacement starts outside the pool's lock, after the lost task has failed: wait for it, bounded.
            Wait.Until(() => pool.WorkerPids.Count == 2 && !pool.WorkerPids.Contains(killed));
            Assert.That(pool.WorkerPids, Has.Count.EqualTo(2).And.Not.Contain(killed), "a replacement started");
        }
        finally
        {
            pool.Close();
            pool.JoinBounded();
        }
    }

    [TestCase(StartMethod.Spawn)]
    [TestCase(StartMethod.ForkServer)]
    public void MaxTasksPerChildStillMeansExactlyThatManyTasksPerWorker(StartMethod method)
    {
        var pool = new Pool(2, maxTasksPerChild: 3, startMethod: method);
        List<int> pids;
        try
        {
            // The window holds at least 3, so a fresh worker is handed its three tasks at once
            // and retired; 30 tasks make exactly 10 workers' worth.
            Assert.That(WorkerSet.Window, Is.GreaterThanOrEqualTo(3));
            pids = pool.Map(PoolTargets.PidAfter, Enumerable.Repeat(20, 30), chunkSize: 1);
        }
        finally
        {
            pool.Close();
            pool.JoinBounded();
        }
        var perWorker = pids.GroupBy(p => p).ToDictionary(g => g.Key, g => g.Count());
        Assert.That(perWorker.Values, Is.All.EqualTo(3), string.Join(", ", perWorker.Select(kv => $"pid {kv.Key}: {kv.Value}")));
        Assert.That(perWorker, Has.Count.EqualTo(10));
    }

    [TestCase(StartMethod.Spawn)]
    [TestCase(StartMethod.ForkServer)]
    public void AWorkerThatNeverReadsBlocksNeitherApplyAsyncNorCloseNorTerminate(StartMethod method)
    {
        // using: a failed assertion still terminates the worker, which would never end on its own.
        using var pool = new Pool(1, PoolTargets.InitBlocksForever, startMethod: method);
        var small = pool.ApplyAsync(PoolTargets.Length, "warm");

        // A 1 MiB frame cannot fit in the pipe of a worker that never reads: its writer blocks, the caller must not.
        // Blocked, these calls would never return (hence run with a limit); the time bounds tell
        // "at once" from "after a wait", with room for a loaded machine.
        var clock = Stopwatch.StartNew();
        var large = Bounded.Call(() => pool.ApplyAsync(PoolTargets.Length, new string('x', 1 << 20)), "ApplyAsync", pool.Terminate);
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "ApplyAsync returned at once");

        clock.Restart();
        Bounded.Call(pool.Close, "Close", pool.Terminate);
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "Close returned at once");

        clock.Restart();
        Bounded.Call(pool.Terminate, "Terminate");
        // Terminate gives the worker 1 s after SIGTERM, then SIGKILL.
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "Terminate stopped and reaped the worker");
        Assert.That(pool.WorkerPids, Is.Empty);
        foreach (var r in new[] { small, large })
            Assert.Throws(Is.TypeOf<InvalidOperationException>().With.Message.EqualTo("the pool was terminated before the task finished"), () => r.Get(Patience));
        pool.JoinBounded();
    }

    [Test]
    public void AnAnswerOutOfTurnFailsThatTaskAndStopsTheWorker()
    {
        var pool = new Pool(1);
        try
        {
            int worker = pool.WorkerPids.Single();
            var forged = pool.ApplyAsync(WindowTargets.AnswersForAnotherTask, 999_999L);
            var e = Assert.Throws<InvalidDataException>(() => forged.Get(Patience))!;
            Assert.That(e.Message, Does.Contain($"(pid {worker}) answered task 999999 when task ").And.Contain("AnswersForAnotherTask"));
            Assert.That(Wait.Until(() => !pool.WorkerPids.Contains(worker) && pool.WorkerPids.Count == 1), Is.True, "the worker was stopped and replaced");
            Assert.That(pool.Apply(PoolTargets.Square, 7), Is.EqualTo(49), "the pool keeps working");
        }
        finally
        {
            pool.Close();
            pool.JoinBounded();
        }
    }

    /// <summary>Tasks in flight on the worker <paramref name="pid"/>, from the pool's worker set (a private field of Pool).</summary>
    static int InFlightOn(Pool pool, int pid) =>
        ((WorkerSet)typeof(Pool).GetField("_workers", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(pool)!).InFlightOn(pid);
}

/// <summary>Targets that break the pool protocol from inside a worker.</summary>
static class WindowTargets
{
    /// <summary>Writes an answer for task <paramref name="id"/> on the worker's result pipe (descriptor 4), before the worker answers this task.</summary>
    public static int AnswersForAnotherTask(long id)
    {
        using var results = new FileStream(new SafeFileHandle(4, ownsHandle: false), FileAccess.Write, bufferSize: 0);
        Frames.Write(results, PoolMessages.Values(id, w => w.WriteNumberValue(0)));
        return 0;
    }
}
