using ForkKit.Synchronization;

namespace ForkKit;

/// <summary>
/// A re-entrant lock shared between processes, as Python's <c>multiprocessing.RLock</c>: the
/// holding thread of the holding process may acquire it again, and must release it as many
/// times. Only the holder may release it. Otherwise as <see cref="Lock"/>.
/// </summary>
public sealed class RLock : IDisposable
{
    readonly LockCore _core;

    public RLock() : this(LockCore.Create()) { }

    RLock(LockCore core) => _core = core;

    internal static RLock Open(string name) => new(LockCore.Open(name));

    /// <summary>The OS-level name.</summary>
    public string Name => _core.Name;

    /// <summary>Acquires, or re-enters when this thread already holds it. See <see cref="Lock.Acquire"/>.</summary>
    /// <exception cref="AbandonedLockException">The holder died holding it; the lock is free again.</exception>
    public bool Acquire(bool block = true, TimeSpan? timeout = null) => _core.Acquire(block, timeout, recursive: true);

    /// <summary>Releases one level; the lock is free after as many releases as acquires.</summary>
    /// <exception cref="InvalidOperationException">This thread does not hold it.</exception>
    public void Release() => _core.Release(recursive: true);

    /// <summary>Acquires and returns a handle whose Dispose releases one level.</summary>
    public IDisposable Hold()
    {
        Acquire();
        return new Releaser(Release);
    }

    public void Dispose() => _core.Dispose();

    public override string ToString() => $"<RLock {Name} {(_core.HolderPid is { } pid ? $"held by pid {pid}" : "free")}>";
}
