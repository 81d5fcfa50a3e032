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
    readonly LockLease _lease;

    /// <summary>Creates a new lock (O_CREAT|O_EXCL, mode 0600, a fresh name).</summary>
    public Lock() : this(new LockLease(LockCore.Create(), created: true)) { }

    Lock(LockLease lease) => _lease = lease;

    /// <summary>
    /// Opens the lock another process created, by its name (how a child receives one). Every
    /// copy of one lock in a process shares one mapping.
    /// </summary>
    internal static Lock Open(string name) => new(new LockLease(LockCore.Open(name), created: false));

    /// <summary>The OS-level name, e.g. "forkkit-4242-1a2b3c4d5e6f" (/dev/shm/sem.forkkit-4242-1a2b3c4d5e6f).</summary>
    public string Name => _lease.Name;

    /// <summary>The shared state behind this object (tests read its waiter count).</summary>
    internal LockCore Core => _lease.Core;

    /// <summary>
    /// Acquires the lock. Blocking: waits, at most <paramref name="timeout"/> when given (a
    /// negative timeout counts as zero). Returns false when not acquired. A Lock is not
    /// re-entrant: a second Acquire by the holder waits (or returns false) like any other.
    /// </summary>
    /// <exception cref="AbandonedLockException">The holder died holding it; the lock is free again.</exception>
    public bool Acquire(bool block = true, TimeSpan? timeout = null) => _lease.Acquire(block, timeout, recursive: false);

    /// <summary>Releases the lock. Any thread or process may release it, as in Python.</summary>
    /// <exception cref="InvalidOperationException">The lock is not held ("released too many times").</exception>
    public void Release() => _lease.Release(recursive: false);

    /// <summary>Acquires and returns a handle whose Dispose releases: <c>using (lk.Hold()) { ... }</c>.</summary>
    public IDisposable Hold()
    {
        Acquire();
        return new Releaser(Release);
    }

    /// <summary>Closes this object's hold on the kernel objects (the last one in a process unmaps them); the creator also removes the names.</summary>
    public void Dispose() => _lease.Dispose();

    public override string ToString() => _lease.Describe("Lock");
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
