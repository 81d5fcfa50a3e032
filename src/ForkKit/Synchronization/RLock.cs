using ForkKit.Synchronization;

namespace ForkKit;

/// <summary>
/// A re-entrant lock shared between processes, as Python's <c>multiprocessing.RLock</c>: the
/// holding thread of the holding process may acquire it again, and must release it as many
/// times. Only the holder may release it. Otherwise as <see cref="Lock"/>.
/// </summary>
public sealed class RLock : IDisposable
{
    readonly LockLease _lease;

    public RLock() : this(new LockLease(LockCore.Create(), created: true)) { }

    RLock(LockLease lease) => _lease = lease;

    internal static RLock Open(string name) => new(new LockLease(LockCore.Open(name), created: false));

    /// <summary>The OS-level name.</summary>
    public string Name => _lease.Name;

    internal LockCore Core => _lease.Core;

    /// <summary>Acquires, or re-enters when this thread already holds it. See <see cref="Lock.Acquire"/>.</summary>
    /// <exception cref="AbandonedLockException">The holder died holding it; the lock is free again.</exception>
    public bool Acquire(bool block = true, TimeSpan? timeout = null) => _lease.Acquire(block, timeout, recursive: true);

    /// <summary>Releases one level; the lock is free after as many releases as acquires.</summary>
    /// <exception cref="InvalidOperationException">This thread does not hold it.</exception>
    public void Release() => _lease.Release(recursive: true);

    /// <summary>Acquires and returns a handle whose Dispose releases one level.</summary>
    public IDisposable Hold()
    {
        Acquire();
        return new Releaser(Release);
    }

    public void Dispose() => _lease.Dispose();

    public override string ToString() => _lease.Describe("RLock");
}
