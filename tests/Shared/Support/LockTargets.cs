namespace ForkKit.Tests.Support;

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

    /// <summary>Acquires the lock and returns without releasing it: the child exits 0 holding it.</summary>
    public static void AcquireAndReturn(Lock lk) => lk.Acquire();

    /// <summary>Acquires the lock, says so in <paramref name="marker"/>, then sleeps holding it.</summary>
    public static void AcquireAndSleep(Lock lk, string marker)
    {
        lk.Acquire();
        File.WriteAllText(marker, "held");
        Thread.Sleep(60_000);
    }

    /// <summary>Acquires the RLock and returns without releasing it: the child exits 0 holding it.</summary>
    public static void AcquireRLockAndReturn(RLock rl) => rl.Acquire();

    /// <summary>Takes the lock, releases it, and says in which process it ran.</summary>
    public static int TakeAndRelease(Lock lk)
    {
        using (lk.Hold()) return Environment.ProcessId;
    }

    public static bool TryLock(Lock lk) => lk.Acquire(block: false);

    public static int TakePermit(Semaphore sem) => sem.Acquire(block: false) ? 1 : 0;

    public static void ReleaseOne(Semaphore sem) => sem.Release();
}
