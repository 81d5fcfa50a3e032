using ForkKit.Synchronization;

namespace ForkKit;

/// <summary>
/// A lock shared between processes, as Python's <c>multiprocessing.Lock</c>, built on a named
/// OS semaphore a student can see (<c>ls /dev/shm</c> shows <c>sem.</c><see cref="Name"/>) and a
/// shared word that records the holder. Pass it to a Process or Pool target as an argument: the
/// child opens the same kernel objects by name. When the holder dies, the next Acquire throws
/// <see cref="AbandonedLockException"/> instead of blocking for ever.
/// </summary>
/// <remarks>With implicit usings, <c>Lock</c> also names System.Threading.Lock: write
/// <c>using Lock = ForkKit.Lock;</c>.</remarks>
public sealed class Lock : IDisposable
{
    readonly LockCore _core;

    /// <summary>Creates a new lock (O_CREAT|O_EXCL, mode 0600, a fresh name).</summary>
    public Lock() : this(LockCore.Create()) { }

    Lock(LockCore core) => _core = core;

    /// <summary>Opens the lock another process created, by its name (how a child receives one).</summary>
    internal static Lock Open(string name) => new(LockCore.Open(name));

    /// <summary>The OS-level name, e.g. "forkkit-4242-1a2b3c4d5e6f" (/dev/shm/sem.forkkit-4242-1a2b3c4d5e6f).</summary>
    public string Name => _core.Name;

    /// <summary>
    /// Acquires the lock. Blocking: waits, at most <paramref name="timeout"/> when given (a
    /// negative timeout counts as zero). Returns false when not acquired. A Lock is not
    /// re-entrant: a second Acquire by the holder waits (or returns false) like any other.
    /// </summary>
    /// <exception cref="AbandonedLockException">The holder died holding it; the lock is free again.</exception>
    public bool Acquire(bool block = true, TimeSpan? timeout = null) => _core.Acquire(block, timeout, recursive: false);

    /// <summary>Releases the lock. Any thread or process may release it, as in Python.</summary>
    /// <exception cref="InvalidOperationException">The lock is not held ("released too many times").</exception>
    public void Release() => _core.Release(recursive: false);

    /// <summary>Acquires and returns a handle whose Dispose releases: <c>using (lk.Hold()) { ... }</c>.</summary>
    public IDisposable Hold()
    {
        Acquire();
        return new Releaser(Release);
    }

    /// <summary>Closes this process's handles; the creator also removes the names.</summary>
    public void Dispose() => _core.Dispose();

    public override string ToString() => $"<Lock {Name} {(_core.HolderPid is { } pid ? $"held by pid {pid}" : "free")}>";
}

/// <summary>The IDisposable that Hold() returns: releases once.</summary>
sealed class Releaser(Action release) : IDisposable
{
    int _done;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _done, 1) == 0) release();
    }
}
