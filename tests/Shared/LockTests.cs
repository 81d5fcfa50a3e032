using System.Diagnostics;
using ForkKit.Tests.Support;

namespace ForkKit.Tests;

/// <summary>
/// Lock, RLock and Semaphore as Python's, on both platforms (compiled into the Linux and the
/// Windows suite), within a process and across processes, and a holder that dies.
/// LockTests.Unix.cs and LockTests.Windows.cs hold what only one platform has.
/// Exceptions are caught with Assert.Throws, which calls the code directly, not with
/// Assert.That(code, Throws...), which calls it through Delegate.DynamicInvoke: under Wine, an
/// exception thrown through a reflection call can hang or crash the test process.
/// </summary>
public partial class LockTests : ScratchFileFixture
{
    // ---- Python's semantics ----

    [Test]
    public void AcquireIsTrueAndANonBlockingAcquireWhileHeldIsFalseAtOnce()
    {
        using var lk = new Lock();
        Assert.That(lk.Acquire(), Is.True);
        var clock = Stopwatch.StartNew();
        Assert.That(lk.Acquire(block: false), Is.False, "also by the holder: a Lock is not re-entrant");
        // A wait here would never end (the holder is this thread): the bound only has to be finite.
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
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
        // At least the timeout; the upper bound only tells a timed wait from an endless one.
        Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(290)).And.LessThan(TimeSpan.FromSeconds(10)));
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
        // Read as +5 s the two calls would take 10 s, read as endless they would never return.
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
        lk.Release();
    }

    [Test]
    public void ReleasingAnUnheldLockThrows()
    {
        using var lk = new Lock();
        Assert.Throws(Is.TypeOf<InvalidOperationException>().With.Message.Contains("released too many times"), lk.Release);
        lk.Acquire();
        lk.Release();
        Assert.Throws(Is.TypeOf<InvalidOperationException>().With.Message.Contains("released too many times"), lk.Release);
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
        Assert.Throws(Is.TypeOf<InvalidOperationException>(), rl.Release, "a fourth release");
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
        Assert.Throws(Is.TypeOf<ArgumentOutOfRangeException>(), () => new Semaphore(-1));
    }

    static T OtherThread<T>(Func<T> f)
    {
        T result = default!;
        var t = new Thread(() => result = f());
        t.Start();
        Assert.That(t.Join(Bounded.Limit), Is.True, "the other thread returned");
        return result;
    }

    // ---- across processes ----

    [Test]
    public void FourProcessesIncrementingFiveHundredTimesUnderTheLockCountExactly2000()
    {
        using var lk = new Lock();
        File.WriteAllText(Scratch, "0");
        var processes = Enumerable.Range(0, 4).Select(_ => new Process(LockTargets.Increment, lk, Scratch, 500)).ToList();
        try
        {
            processes.ForEach(p => p.Start());
            processes.ForEach(p => p.JoinBounded());
            Assert.That(processes.Select(p => p.ExitCode), Is.All.EqualTo(0));
            Assert.That(File.ReadAllText(Scratch), Is.EqualTo("2000"));
        }
        finally
        {
            processes.ForEach(p => p.Dispose());
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

    [Test]
    public void ASemaphoreReleasedInAChildIsAcquiredHereAndItsValueIsReadable()
    {
        using var sem = new Semaphore(0);
        Assert.That(sem.Value, Is.EqualTo(0));
        using var p = new Process(LockTargets.ReleaseOne, sem);
        p.Start();
        Assert.That(sem.Acquire(true, TimeSpan.FromSeconds(30)), Is.True);
        p.JoinBounded();
        Assert.That(p.ExitCode, Is.EqualTo(0));
        sem.Release();
        sem.Release();
        Assert.That(sem.Value, Is.EqualTo(2));
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
        // Acquire() without a timeout: told by the owner word that the holder is dead, it throws
        // instead of waiting for ever (run with a limit, so that a regression fails, not hangs).
        var e = Assert.Throws<AbandonedLockException>(() => Bounded.Call(() => lk.Acquire(), "Acquire() on an abandoned lock"))!;
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "found abandoned at once, not after some long poll");
        Assert.That(e.OwnerPid, Is.EqualTo(holder.Pid));
        Assert.That(e.Message, Does.Contain($"pid {holder.Pid}").And.Contain(lk.Name));
        Assert.That(lk.Acquire(block: false), Is.True, "usable again");
        lk.Release();
        holder.JoinBounded();
        Assert.That(holder.ExitCode, Is.EqualTo(7));
    }

    [Test]
    public void AWaiterBlockedOnAHolderThatIsKilledGetsAbandonedWithinASecond()
    {
        using var lk = new Lock();
        using var holder = new Process(LockTargets.AcquireAndSleep, lk, Scratch);
        holder.Start();
        try
        {
            var clock = Stopwatch.StartNew();
            while (!File.Exists(Scratch) && clock.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(5);
            var waiter = Task.Run(() =>
            {
                try { lk.Acquire(); return (Exception?)null; }
                catch (Exception e) { return e; }
            });
            // Counted in the waiter table: it sleeps on the semaphore now, or is about to.
            Assert.That(Wait.Until(() => lk.Core.WaiterCount == 1), Is.True, "the waiter never got as far as sleeping");
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
        }
    }

    [Test]
    public void ALockWhoseHolderDiedIsReportedAbandonedThenFree()
    {
        using var lk = new Lock();
        using var holder = new Process(LockTargets.AcquireAndReturn, lk);
        holder.Start();
        holder.JoinBounded();
        Assert.That(holder.ExitCode, Is.EqualTo(0));
        var e = Assert.Throws<AbandonedLockException>(() => lk.Acquire(true, TimeSpan.FromSeconds(10)))!;
        Assert.That(e.OwnerPid, Is.EqualTo(holder.Pid));
        Assert.That(lk.Acquire(true, TimeSpan.FromSeconds(10)), Is.True);
        lk.Release();
    }

    // ---- races with a recovery, and a waiter that dies ----

    [Test]
    public void ARecoveryWritesNothingAfterFreeingTheWordSoTheNextRLockHoldersCountSurvives()
    {
        using var rl = new RLock();
        using var dead = new Process(LockTargets.AcquireRLockAndReturn, rl);
        dead.Start();
        dead.Join();
        using var next = new OwnThread();
        Synchronization.LockCore.InterleavingHook = point =>
        {
            // Between the recovering waiter's swap and its throw, another thread takes the lock twice.
            if (point == "recovered") next.Run(() => rl.Acquire() && rl.Acquire());
        };
        try
        {
            Assert.Throws<AbandonedLockException>(() => rl.Acquire(true, TimeSpan.FromSeconds(10)));
        }
        finally
        {
            Synchronization.LockCore.InterleavingHook = null;
        }
        next.Run(() => { rl.Release(); return true; });
        Assert.That(rl.Acquire(block: false), Is.False, "still held after one of two releases");
        next.Run(() => { rl.Release(); return true; });
        Assert.That(rl.Acquire(block: false), Is.True, "free after the second");
        rl.Release();
    }

    [Test]
    public void AWordThatChangedHandsBetweenTheVerdictAndTheSwapIsLeftToItsLiveHolder()
    {
        using var lk = new Lock();
        using var dead = new Process(LockTargets.AcquireAndReturn, lk);
        dead.Start();
        dead.Join();
        using var live = new Process(LockTargets.AcquireAndSleep, lk, Scratch);
        Exception? otherWaiter = null;
        int once = 0;
        Synchronization.LockCore.InterleavingHook = point =>
        {
            if (point != "judged-dead" || Interlocked.Exchange(ref once, 1) != 0) return;
            // This waiter has judged the dead holder's word; before it swaps, another waiter
            // frees that word and a live process takes the lock.
            otherWaiter = OtherThread(() => Assert.Throws<AbandonedLockException>(() => lk.Acquire(block: false)));
            live.Start();
            Assert.That(Wait.Until(() => File.Exists(Scratch)), Is.True, "the live holder never took the lock");
        };
        try
        {
            Assert.That(lk.Acquire(block: false), Is.False, "the lock is the live holder's now");
            Assert.That(otherWaiter, Is.TypeOf<AbandonedLockException>().With.Property("OwnerPid").EqualTo(dead.Pid));
            Assert.That(lk.Core.HolderPid, Is.EqualTo(live.Pid));
        }
        finally
        {
            Synchronization.LockCore.InterleavingHook = null;
            if (live.Pid is not null)
            {
                live.Kill();
                live.Join();
            }
        }
    }

    [Test]
    public void AWaiterKilledWhileItWaitsIsSweptAndTheSemaphoreStaysBounded()
    {
        using var lk = new Lock();
        lk.Acquire();
        using var waiter = new Process(LockTargets.AcquireAndSleep, lk, Scratch);
        waiter.Start();
        try
        {
            Assert.That(Wait.Until(() => lk.Core.WaiterCount == 1), Is.True, "the child never waited");
            waiter.Kill();
            waiter.Join();
            Assert.That(lk.Core.WaiterCount, Is.EqualTo(1), "the dead waiter's slot is still claimed");
            for (int i = 0; i < 50; i++)
            {
                lk.Release();
                Assert.That(lk.Acquire(true, TimeSpan.FromSeconds(5)), Is.True, $"round {i}");
            }
            lk.Release();
            Assert.That(Wait.Until(() =>
            {
                // A release sweeps dead waiters at most once per slice.
                lk.Acquire();
                lk.Release();
                return lk.Core.WaiterCount == 0;
            }, seconds: 5), Is.True, "the dead waiter was never swept");
            Assert.That(lk.Core.PendingWakeUps, Is.LessThanOrEqualTo(1), "51 releases, at most one wake-up left over");
            Assert.That(File.Exists(Scratch), Is.False, "the killed child never held the lock");

            // And a new waiter is still woken by a release.
            lk.Acquire();
            var next = Task.Run(() => lk.Acquire(true, TimeSpan.FromSeconds(30)));
            Assert.That(Wait.Until(() => lk.Core.WaiterCount == 1), Is.True);
            lk.Release();
            Assert.That(next.Wait(TimeSpan.FromSeconds(30)) && next.Result, Is.True);
            lk.Release();
            Assert.That(lk.Core.WaiterCount, Is.EqualTo(0));
        }
        finally
        {
            waiter.Kill();
            waiter.Join();
        }
    }

    // ---- one mapping per lock and process ----

    [Test]
    public void CopiesOfALockOpenedInOneProcessShareItsStateAndOneCopysDisposeLeavesTheOthersWorking()
    {
        using var lk = new Lock();
        var a = Lock.Open(lk.Name);
        var b = Lock.Open(lk.Name);
        Assert.That(a.Core, Is.SameAs(lk.Core));
        Assert.That(b.Core, Is.SameAs(lk.Core));
        a.Dispose();
        Assert.Throws<ObjectDisposedException>(() => a.Acquire());
        Assert.That(a.ToString(), Is.EqualTo($"<Lock {lk.Name} closed>"));
        Assert.That(b.Acquire(block: false), Is.True);
        Assert.That(lk.Acquire(block: false), Is.False, "one lock");
        b.Release();
        b.Dispose();
        Assert.That(lk.Acquire(block: false), Is.True, "the creator's copy still works");
        lk.Release();
    }

    [Test]
    public void AnRLockOpenedAgainWhileHeldHereReentersWithTheSameCount()
    {
        using var rl = new RLock();
        rl.Acquire();
        using (var copy = RLock.Open(rl.Name))
        {
            Assert.That(copy.Acquire(block: false), Is.True, "the holding thread re-enters through the copy");
            copy.Release();
        }
        Assert.That(OtherThread(() => rl.Acquire(block: false)), Is.False, "still held once");
        rl.Release();
        Assert.That(OtherThread(() => { bool got = rl.Acquire(block: false); if (got) rl.Release(); return got; }), Is.True);
    }

    /// <summary>A thread that runs what it is given, one thing at a time: an RLock is released by the thread that took it.</summary>
    sealed class OwnThread : IDisposable
    {
        readonly System.Collections.Concurrent.BlockingCollection<Action> _work = [];
        readonly Thread _thread;

        public OwnThread()
        {
            _thread = new Thread(() => { foreach (var work in _work.GetConsumingEnumerable()) work(); }) { IsBackground = true };
            _thread.Start();
        }

        public T Run<T>(Func<T> f)
        {
            var done = new TaskCompletionSource<T>();
            _work.Add(() =>
            {
                try { done.SetResult(f()); }
                catch (Exception e) { done.SetException(e); }
            });
            Assert.That(done.Task.Wait(TimeSpan.FromSeconds(30)), Is.True, "the thread did not finish within 30 s");
            return done.Task.Result;
        }

        public void Dispose()
        {
            _work.CompleteAdding();
            _thread.Join(TimeSpan.FromSeconds(30));
        }
    }

    // ---- names ----

    [Test]
    public void ACollidingNameIsRetriedWithAFreshOne()
    {
        // sem_open with O_EXCL fails with EEXIST on a taken name; CreateSemaphoreW opens the
        // existing object instead, and only ERROR_ALREADY_EXISTS tells. Either way the new lock
        // must take another name and leave the other objects alone.
        using var taken = new Semaphore(1);
        using var takenLock = new Lock();
        var fresh = Diagnostics.NamedSemaphores.NewName();
        var names = new Queue<string>([taken.Name, takenLock.Name, fresh]);
        var original = Synchronization.KernelNames.NewName;
        Synchronization.KernelNames.NewName = () => names.Count > 0 ? names.Dequeue() : original();
        try
        {
            using var lk = new Lock();
            Assert.That(lk.Name, Is.EqualTo(fresh));
            Assert.That(taken.Value, Is.EqualTo(1), "the other semaphore was left alone");
            Assert.That(takenLock.Acquire(block: false), Is.True, "the other lock was left alone");
            takenLock.Release();
        }
        finally
        {
            Synchronization.KernelNames.NewName = original;
        }
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
