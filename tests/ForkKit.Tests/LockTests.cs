using System.Diagnostics;
using System.Text.RegularExpressions;
using ForkKit.Diagnostics;
using ForkKit.Tests.Support;
using ForkKit.Unix;

namespace ForkKit.Tests;

/// <summary>Targets that use a lock in a child.</summary>
static class LockTargets
{
    /// <summary>Adds 1 to the number in <paramref name="file"/>, <paramref name="times"/> times, each under the lock.</summary>
    public static void Increment(Lock lk, string file, int times)
    {
        for (int i = 0; i < times; i++)
        {
            using (lk.Hold())
                File.WriteAllText(file, (int.Parse(File.ReadAllText(file)) + 1).ToString());
        }
    }

    /// <summary>Acquires the lock and exits without releasing it.</summary>
    public static void AcquireAndExit(Lock lk)
    {
        lk.Acquire();
        Environment.Exit(7);
    }

    /// <summary>Acquires the lock, says so in <paramref name="marker"/>, then sleeps holding it.</summary>
    public static void AcquireAndSleep(Lock lk, string marker)
    {
        lk.Acquire();
        File.WriteAllText(marker, "held");
        Thread.Sleep(60_000);
    }

    public static bool TryLock(Lock lk) => lk.Acquire(block: false);

    public static int TakePermit(Semaphore sem) => sem.Acquire(block: false) ? 1 : 0;
}

public class LockTests
{
    // ---- Python's semantics ----

    [Test]
    public void AcquireIsTrueAndANonBlockingAcquireWhileHeldIsFalseAtOnce()
    {
        using var lk = new Lock();
        Assert.That(lk.Acquire(), Is.True);
        var clock = Stopwatch.StartNew();
        Assert.That(lk.Acquire(block: false), Is.False, "also by the holder: a Lock is not re-entrant");
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromMilliseconds(100)));
        lk.Release();
        Assert.That(lk.Acquire(block: false), Is.True);
        lk.Release();
    }

    [Test]
    public void AcquireWithATimeoutReturnsFalseAfterAboutTheTimeout()
    {
        using var lk = new Lock();
        lk.Acquire();
        var clock = Stopwatch.StartNew();
        Assert.That(lk.Acquire(true, TimeSpan.FromMilliseconds(300)), Is.False);
        Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(290)).And.LessThan(TimeSpan.FromSeconds(2)));
        lk.Release();
    }

    [Test]
    public void ANegativeTimeoutCountsAsZero()
    {
        using var lk = new Lock();
        using var rl = new RLock();
        using var sem = new Semaphore(0);
        lk.Acquire();
        var clock = Stopwatch.StartNew();
        Assert.That(lk.Acquire(true, TimeSpan.FromSeconds(-5)), Is.False);
        Assert.That(sem.Acquire(true, TimeSpan.FromSeconds(-5)), Is.False);
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromMilliseconds(200)));
        lk.Release();
    }

    [Test]
    public void ReleasingAnUnheldLockThrows()
    {
        using var lk = new Lock();
        Assert.That(lk.Release, Throws.InvalidOperationException.With.Message.Contains("released too many times"));
        lk.Acquire();
        lk.Release();
        Assert.That(lk.Release, Throws.InvalidOperationException.With.Message.Contains("released too many times"));
    }

    [Test]
    public void HoldReleasesOnDispose()
    {
        using var lk = new Lock();
        using (lk.Hold())
            Assert.That(lk.Acquire(block: false), Is.False);
        Assert.That(lk.Acquire(block: false), Is.True);
        lk.Release();
    }

    [Test]
    public void AnRLockReentersThreeTimesAndNeedsThreeReleases()
    {
        using var rl = new RLock();
        Assert.That(rl.Acquire() && rl.Acquire() && rl.Acquire(), Is.True);
        rl.Release();
        rl.Release();
        Assert.That(OtherThread(() => rl.Acquire(block: false)), Is.False, "still held after two of three releases");
        rl.Release();
        Assert.That(rl.Release, Throws.InvalidOperationException, "a fourth release");
        Assert.That(OtherThread(() => { bool got = rl.Acquire(block: false); if (got) rl.Release(); return got; }), Is.True);
    }

    [Test]
    public void AnRLockCanOnlyBeReleasedByItsHolder()
    {
        using var rl = new RLock();
        rl.Acquire();
        Assert.That(OtherThread(() => Assert.Throws<InvalidOperationException>(rl.Release)!.Message), Does.Contain("cannot release un-acquired lock"));
        rl.Release();
    }

    [Test]
    public void ASemaphoreOfTwoCountsDownToZero()
    {
        using var sem = new Semaphore(2);
        Assert.That(sem.Value, Is.EqualTo(2));
        Assert.That(sem.Acquire(), Is.True);
        Assert.That(sem.Value, Is.EqualTo(1));
        Assert.That(sem.Acquire(), Is.True);
        Assert.That(sem.Value, Is.EqualTo(0));
        Assert.That(sem.Acquire(block: false), Is.False);
        var clock = Stopwatch.StartNew();
        Assert.That(sem.Acquire(true, TimeSpan.FromMilliseconds(200)), Is.False);
        Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(190)));
        sem.Release();
        Assert.That(sem.Value, Is.EqualTo(1));
        using (sem.Hold()) Assert.That(sem.Value, Is.EqualTo(0));
        Assert.That(sem.Value, Is.EqualTo(1));
        Assert.That(() => new Semaphore(-1), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void TheTimedWaitWithoutSemTimedwaitWorks()
    {
        // Where the OS lacks sem_timedwait (macOS), the shim waits with sem_trywait and short
        // sleeps; that code is built and tested here too.
        using var sem = new Semaphore(0);
        var handle = OpenRaw(sem.Name);
        try
        {
            var clock = Stopwatch.StartNew();
            Assert.That(Shim.SemWaitPolling(handle, 250), Is.EqualTo(0), "timed out");
            Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(240)).And.LessThan(TimeSpan.FromSeconds(2)));
            sem.Release();
            Assert.That(Shim.SemWaitPolling(handle, 250), Is.EqualTo(1), "took the permit");
            Assert.That(sem.Value, Is.EqualTo(0));
            var poster = Task.Run(() => { Thread.Sleep(100); sem.Release(); });
            Assert.That(Shim.SemWaitPolling(handle, 5000), Is.EqualTo(1), "woken by a post");
            poster.Wait();
        }
        finally
        {
            Shim.SemClose(handle);
        }
    }

    static unsafe IntPtr OpenRaw(string name)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* p = bytes) return Shim.SemOpen(p);
    }

    static T OtherThread<T>(Func<T> f)
    {
        T result = default!;
        var t = new Thread(() => result = f());
        t.Start();
        t.Join();
        return result;
    }

    // ---- across processes ----

    [Test]
    public void FourProcessesIncrementingAThousandTimesUnderTheLockCountExactly4000()
    {
        using var lk = new Lock();
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "0");
            var processes = Enumerable.Range(0, 4).Select(_ => new Process(LockTargets.Increment, lk, file, 1000)).ToList();
            processes.ForEach(p => p.Start());
            processes.ForEach(p => p.Join());
            Assert.That(processes.Select(p => p.ExitCode), Is.All.EqualTo(0));
            Assert.That(File.ReadAllText(file), Is.EqualTo("4000"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void ALockHeldInTheParentIsSeenHeldByAChildAndByAPoolTask()
    {
        using var lk = new Lock();
        using var sem = new Semaphore(1);
        using var pool = new Pool(1);
        lk.Acquire();
        Assert.That(pool.Apply(LockTargets.TryLock, lk), Is.False);
        lk.Release();
        Assert.That(pool.Apply(LockTargets.TryLock, lk), Is.True, "the task took it and exits holding it...");
        Assert.That(lk.Acquire(block: false), Is.False, "...so the parent sees it held by the worker");
        Assert.That(pool.Apply(LockTargets.TakePermit, sem), Is.EqualTo(1));
        Assert.That(sem.Value, Is.EqualTo(0));
    }

    // ---- beyond Python: a holder that dies ----

    [Test]
    public void TheNextAcquireAfterTheHolderExitedThrowsAbandonedAndTheLockWorksAgain()
    {
        using var lk = new Lock();
        using var holder = new Process(LockTargets.AcquireAndExit, lk);
        holder.Start();
        var clock = Stopwatch.StartNew();
        while (!holder.HasExited && clock.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(5);
        // The holder is a zombie now (not joined yet): dead all the same.
        clock.Restart();
        var e = Assert.Throws<AbandonedLockException>(() => lk.Acquire())!;
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)));
        Assert.That(e.OwnerPid, Is.EqualTo(holder.Pid));
        Assert.That(e.Message, Does.Contain($"pid {holder.Pid}").And.Contain(lk.Name));
        Assert.That(lk.Acquire(block: false), Is.True, "usable again");
        lk.Release();
        holder.Join();
        Assert.That(holder.ExitCode, Is.EqualTo(7));
    }

    [Test]
    public void AWaiterBlockedOnAHolderThatIsKilledGetsAbandonedWithinASecond()
    {
        using var lk = new Lock();
        var marker = Path.Combine(Path.GetTempPath(), $"forkkit-holder-{Guid.NewGuid():N}");
        using var holder = new Process(LockTargets.AcquireAndSleep, lk, marker);
        holder.Start();
        try
        {
            var clock = Stopwatch.StartNew();
            while (!File.Exists(marker) && clock.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(5);
            var waiter = Task.Run(() =>
            {
                try { lk.Acquire(); return (Exception?)null; }
                catch (Exception e) { return e; }
            });
            Thread.Sleep(300); // the waiter is asleep on the semaphore by now, or about to be
            Assert.That(waiter.IsCompleted, Is.False, "the holder is alive: the waiter waits");
            holder.Kill();
            var killed = Stopwatch.StartNew();
            Assert.That(waiter.Wait(TimeSpan.FromSeconds(1)), Is.True, "the waiter noticed within one second");
            Assert.That(waiter.Result, Is.TypeOf<AbandonedLockException>().With.Property("OwnerPid").EqualTo(holder.Pid));
            Assert.That(lk.Acquire(true, TimeSpan.FromSeconds(5)), Is.True);
            lk.Release();
        }
        finally
        {
            holder.Kill();
            holder.Join();
            File.Delete(marker);
        }
    }

    // ---- names ----

    [Test]
    public void TheNameIsAKernelObjectInDevShmWithMode0600()
    {
        using var lk = new Lock();
        using var sem = new Semaphore(3);
        foreach (var name in new[] { lk.Name, sem.Name })
        {
            Assert.That(name, Does.Match($@"^forkkit-{Environment.ProcessId}-[0-9a-f]{{12}}$"));
            var info = new FileInfo($"/dev/shm/sem.{name}");
            Assert.That(info.Exists, Is.True);
            Assert.That(info.UnixFileMode, Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        }
        Assert.That(new FileInfo($"/dev/shm/{lk.Name}").UnixFileMode, Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), "the lock's shared owner word");
    }

    [Test]
    public void ASecondUserCannotOpenTheSemaphore()
    {
        Assume.That(Environment.UserName, Is.EqualTo("root"), "switching to another user needs root");
        using var lk = new Lock();
        var r = Repo.Run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "cat", $"/dev/shm/sem.{lk.Name}"], TimeSpan.FromSeconds(30));
        Assert.That(r.ExitCode, Is.Not.EqualTo(0));
        Assert.That(r.Stderr, Does.Contain("Permission denied"));
    }

    [Test]
    public void ACollidingNameIsRetriedWithAFreshOne()
    {
        using var taken = new Semaphore(1);
        var fresh = Diagnostics.NamedSemaphores.NewName();
        var names = new Queue<string>([taken.Name, fresh]);
        var original = Synchronization.KernelNames.NewName;
        Synchronization.KernelNames.NewName = () => names.Count > 0 ? names.Dequeue() : original();
        try
        {
            using var lk = new Lock();
            Assert.That(lk.Name, Is.EqualTo(fresh));
            Assert.That(taken.Value, Is.EqualTo(1), "the other semaphore was left alone");
        }
        finally
        {
            Synchronization.KernelNames.NewName = original;
        }
    }

    // ---- no leaks ----

    static string[] LeftOver(string name) =>
        [.. new[] { $"/dev/shm/sem.{name}", $"/dev/shm/{name}" }.Where(File.Exists)];

    [Test]
    public void DisposeRemovesTheNames()
    {
        var lk = new Lock();
        var sem = new Semaphore();
        var names = new[] { lk.Name, sem.Name };
        Assert.That(names.SelectMany(LeftOver), Is.Not.Empty);
        lk.Dispose();
        sem.Dispose();
        Assert.That(names.SelectMany(LeftOver), Is.Empty);
        lk.Dispose();
    }

    static string[] NamesFrom(Repo.Result r)
    {
        var m = Regex.Match(r.Stdout, @"names (\S+) (\S+)");
        Assert.That(m.Success, Is.True, r.Stdout + r.Stderr);
        return [m.Groups[1].Value, m.Groups[2].Value];
    }

    static void AssertGoneWithin(string[] names, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (names.SelectMany(LeftOver).Any() && clock.Elapsed < limit) Thread.Sleep(20);
        Assert.That(names.SelectMany(LeftOver), Is.Empty, $"left after {limit.TotalSeconds} s");
    }

    static string AppDll => Path.Combine(Repo.OutputDir, "ForkKit.TestApp.dll");

    [Test]
    public void NothingIsLeftAfterTheOwnerExitsNormally()
    {
        var r = Repo.Run(Repo.Dotnet, ["exec", AppDll, "lock-exit"], TimeSpan.FromMinutes(1));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Stderr);
        AssertGoneWithin(NamesFrom(r), TimeSpan.FromSeconds(2));
    }

    [Test]
    public void NothingIsLeftAfterAnUnhandledException()
    {
        var r = Repo.Run(Repo.Dotnet, ["exec", AppDll, "lock-throw"], TimeSpan.FromMinutes(1));
        Assert.That(r.ExitCode, Is.Not.EqualTo(0));
        Assert.That(r.Stderr, Does.Contain("unhandled on purpose"));
        AssertGoneWithin(NamesFrom(r), TimeSpan.FromSeconds(2));
    }

    [Test]
    public void NothingIsLeftAfterTheOwnerIsKilledWithSigkill()
    {
        var info = new ProcessStartInfo(Repo.Dotnet) { RedirectStandardOutput = true };
        foreach (var a in new[] { "exec", AppDll, "lock-sleep" }) info.ArgumentList.Add(a);
        using var app = System.Diagnostics.Process.Start(info)!;
        try
        {
            var line = app.StandardOutput.ReadLine() ?? "";
            var names = NamesFrom(new Repo.Result(0, line, "", TimeSpan.Zero));
            Assert.That(names.SelectMany(LeftOver), Is.Not.Empty, "the objects exist while the owner lives");
            Syscalls.Kill(app.Id, Syscalls.SIGKILL);
            app.WaitForExit();
            AssertGoneWithin(names, TimeSpan.FromSeconds(2));
        }
        finally
        {
            if (!app.HasExited) app.Kill();
            app.WaitForExit();
        }
    }

    [Test]
    public void TheResourceTrackerIsNotAChildOfTheProgram()
    {
        using var lk = new Lock();
        var tracker = ProcessTable.Snapshot().Where(e => e.Name == "forkkit-tracker" && e.CommandLine.Contains($"(parent {Environment.ProcessId})")).ToList();
        Assert.That(tracker, Has.Count.EqualTo(1));
        Assert.That(tracker[0].ParentPid, Is.Not.EqualTo(Environment.ProcessId));
    }

    [Test]
    public void ToStringSaysWhoHoldsIt()
    {
        using var lk = new Lock();
        Assert.That(lk.ToString(), Is.EqualTo($"<Lock {lk.Name} free>"));
        lk.Acquire();
        Assert.That(lk.ToString(), Is.EqualTo($"<Lock {lk.Name} held by pid {Environment.ProcessId}>"));
        lk.Release();
    }
}
