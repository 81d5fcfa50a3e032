using NUnit.Framework;

namespace ForkKit.WindowsTests;

/// <summary>Lock and Semaphore across processes, on named semaphores and a named file mapping.</summary>
[TestFixture]
public class LockTests
{
    [Test]
    public void FourProcessesIncrementingAFileUnderTheLockLoseNoUpdate()
    {
        var file = Path.Combine(Path.GetTempPath(), $"forkkit-count-{Guid.NewGuid():N}");
        File.WriteAllText(file, "0");
        using var lk = new Lock();
        var children = Enumerable.Range(0, 4).Select(_ => new Process(Targets.Increment, lk, file, 200)).ToList();
        try
        {
            foreach (var p in children) p.Start();
            foreach (var p in children) p.Join();
            Assert.That(children.Select(p => p.ExitCode), Is.All.EqualTo(0));
            Assert.That(File.ReadAllText(file), Is.EqualTo("800"));
        }
        finally
        {
            foreach (var p in children) p.Dispose();
            File.Delete(file);
        }
    }

    [Test]
    public void ALockWhoseHolderDiedIsReportedAbandonedThenFree()
    {
        using var lk = new Lock();
        using var holder = new Process(Targets.AcquireAndExit, lk);
        holder.Start();
        holder.Join();
        Assert.That(holder.ExitCode, Is.EqualTo(0));
        var e = Assert.Throws<AbandonedLockException>(() => lk.Acquire(true, TimeSpan.FromSeconds(10)))!;
        Assert.That(e.OwnerPid, Is.EqualTo(holder.Pid));
        Assert.That(lk.Acquire(true, TimeSpan.FromSeconds(1)), Is.True);
        lk.Release();
    }

    [Test]
    public void ALockHeldHereMakesANonBlockingAcquireFail()
    {
        using var lk = new Lock();
        Assert.That(lk.Acquire(), Is.True);
        Assert.That(lk.Acquire(block: false), Is.False);
        lk.Release();
        Assert.Throws<InvalidOperationException>(() => lk.Release());
    }

    [Test]
    public void ASemaphoreReleasedInAChildIsAcquiredHereAndItsValueIsReadable()
    {
        using var sem = new Semaphore(0);
        Assert.That(sem.Value, Is.EqualTo(0));
        using var p = new Process(Targets.ReleaseOne, sem);
        p.Start();
        Assert.That(sem.Acquire(true, TimeSpan.FromSeconds(30)), Is.True);
        p.Join();
        Assert.That(p.ExitCode, Is.EqualTo(0));
        sem.Release();
        sem.Release();
        Assert.That(sem.Value, Is.EqualTo(2));
    }

    [Test]
    public void AnRLockIsReentrantForItsHolder()
    {
        using var rl = new RLock();
        Assert.That(rl.Acquire(), Is.True);
        Assert.That(rl.Acquire(block: false), Is.True);
        rl.Release();
        rl.Release();
    }

    [Test]
    public void ACollidingNameIsRetriedWithAFreshOne()
    {
        // CreateSemaphoreW opens an existing name instead of failing; ERROR_ALREADY_EXISTS is
        // what tells a collision, and the lock must then take another name.
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
    public void ANameVanishesWithItsLastHandle()
    {
        var sem = new Semaphore(0);
        var name = sem.Name;
        using (Hosting.Platform.Kernel.OpenSemaphore(name)) { }
        sem.Dispose();
        var e = Assert.Throws<Windows.WindowsApiException>(() => Hosting.Platform.Kernel.OpenSemaphore(name))!;
        Assert.That(e.ErrorName, Is.EqualTo("ERROR_FILE_NOT_FOUND"));
        Assert.That(e.Message, Does.StartWith($"OpenSemaphoreW(\"Local\\{name}\") failed: ERROR_FILE_NOT_FOUND"));
    }
}
