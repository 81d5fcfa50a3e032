namespace ForkKit;

/// <summary>
/// The process holding a <see cref="Lock"/> or <see cref="RLock"/> died without releasing it.
/// The lock has been reset to free; the next Acquire takes it. Whatever the lock protected may
/// be half-updated: check it before trusting it (a Windows abandoned mutex, a robust pthread
/// mutex's EOWNERDEAD).
/// </summary>
public sealed class AbandonedLockException : Exception
{
    public AbandonedLockException(int ownerPid, string lockName)
        : base($"the lock {lockName} was abandoned: its holder, pid {ownerPid}, died without releasing it. The lock is free again; check the data it protected.")
    {
        OwnerPid = ownerPid;
    }

    /// <summary>The pid of the process that died holding the lock.</summary>
    public int OwnerPid { get; }
}
