using System.Runtime.InteropServices;
using ForkKit.Diagnostics;
using ForkKit.Platform;

namespace ForkKit.Synchronization;

/// <summary>
/// The cross-process lock behind <see cref="Lock"/> and <see cref="RLock"/>: a word in shared
/// memory says who holds the lock, and a named semaphore is where waiters sleep.
/// </summary>
/// <remarks>
/// <para><b>How the owner is recorded, and why it is race-free.</b> The lock *is* the owner
/// word: 0 means free, anything else is the holder's identity (pid in the low 32 bits, managed
/// thread id in the high 32). Acquiring is one compare-and-swap of that word from 0 to our
/// identity, so there is no moment in which the lock is held but the holder is not recorded:
/// a process that dies at any instruction either holds the lock with its pid written, or does
/// not hold it at all. (A lock made of the semaphore alone, with the owner written after
/// sem_wait, would have such a moment: a holder killed between the two would leave a taken
/// lock with no name on it, and nobody could tell it from a live holder that is merely slow.)
/// Releasing swaps the word back to 0.</para>
/// <para><b>Waiting.</b> A waiter counts itself in <c>Waiters</c>, tries the swap once more, then
/// sleeps on the named semaphore for at most <see cref="Slice"/>. A releaser posts the semaphore
/// when <c>Waiters</c> is non-zero. Both sides use full-fence atomics, so either the waiter's
/// second try sees the free word or the releaser sees the waiter: no wake-up is lost. Extra
/// posts only cause a spurious wake-up and another look.</para>
/// <para><b>A dead holder.</b> Each time a waiter looks and finds the lock taken, it asks the OS
/// whether the holder's process still exists (a zombie counts as dead; so does a process that
/// got the dead holder's pid later, told apart by its start time). If not, it swaps the dead
/// identity back to 0 (only one waiter can win that swap), wakes the others, and throws
/// <see cref="AbandonedLockException"/>: the lock is free again for whoever acquires next.
/// Python's multiprocessing.Lock blocks for ever here (CPython gh-88304).</para>
/// </remarks>
sealed unsafe class LockCore : IDisposable
{
    /// <summary>The longest a waiter sleeps before it looks at the holder again.</summary>
    internal static readonly int Slice = 100;

    const int StateSize = 64;
    const int Magic = 0x4B4C4B46; // "FKLK"

    [StructLayout(LayoutKind.Sequential)]
    struct State
    {
        public long Owner;       // 0: free; else pid | (managed thread id << 32)
        public int Waiters;      // processes sleeping on the semaphore, or about to
        public int Depth;        // RLock re-entry count; only the holder touches it
        public long OwnerStart;  // the holder's start time (pid-reuse guard); 0: unknown
        public int Magic;
    }

    readonly SharedMemory _memory;
    readonly KernelSemaphore _wake;
    readonly State* _state;
    readonly bool _created;
    int _disposed;

    LockCore(string name, SharedMemory memory, KernelSemaphore wake, bool created)
    {
        Name = name;
        _memory = memory;
        _wake = wake;
        _state = (State*)memory.Address;
        _created = created;
        if (created) _state->Magic = Magic;
        else if (_state->Magic != Magic)
            throw new InvalidDataException($"the shared memory object /{name} is not a ForkKit lock");
    }

    /// <summary>The OS-level name: /dev/shm/sem.NAME and /dev/shm/NAME on Linux.</summary>
    public string Name { get; }

    /// <summary>Creates a new lock under a fresh name, retrying when a name is already taken.</summary>
    public static LockCore Create() =>
        KernelNames.CreateUnique((kernel, name) =>
        {
            // The semaphore first: if its name is taken (EEXIST), nothing of ours exists yet.
            var wake = kernel.CreateSemaphore(name, 0);
            try
            {
                return new LockCore(name, kernel.CreateSharedMemory(name, StateSize), wake, created: true);
            }
            catch
            {
                wake.Dispose();
                kernel.RemoveSemaphore(name);
                throw;
            }
        });

    /// <summary>Opens a lock another process created (a Lock passed to a child).</summary>
    public static LockCore Open(string name)
    {
        var kernel = Os.Kernel;
        var memory = kernel.OpenSharedMemory(name, StateSize);
        try
        {
            return new LockCore(name, memory, kernel.OpenSemaphore(name), created: false);
        }
        catch
        {
            memory.Dispose();
            throw;
        }
    }

    static long Me => (uint)Environment.ProcessId | ((long)Environment.CurrentManagedThreadId << 32);

    static int PidOf(long owner) => (int)(owner & 0xFFFFFFFF);

    /// <summary>True when this thread of this process holds the lock.</summary>
    public bool HeldByMe => Volatile.Read(ref _state->Owner) == Me;

    /// <summary>The pid of the holder's process, or null when the lock is free.</summary>
    public int? HolderPid => Volatile.Read(ref _state->Owner) is var o && o != 0 ? PidOf(o) : null;

    /// <summary>
    /// Acquires; with <paramref name="recursive"/> a holder may re-enter (RLock). Returns false
    /// when not blocking (or after the timeout) and the lock is taken.
    /// </summary>
    /// <exception cref="AbandonedLockException">The holder died holding it; the lock is free again.</exception>
    public bool Acquire(bool block, TimeSpan? timeout, bool recursive)
    {
        long me = Me;
        if (recursive && Volatile.Read(ref _state->Owner) == me)
        {
            _state->Depth++;
            return true;
        }
        if (TryTake(me)) return true;

        long deadline = !block ? 0
            : timeout is { } t ? Environment.TickCount64 + Math.Max(0, (long)t.TotalMilliseconds)
            : long.MaxValue;
        while (true)
        {
            long holder = Volatile.Read(ref _state->Owner);
            long holderStart = Volatile.Read(ref _state->OwnerStart);
            // Owner and OwnerStart are two words, written one after the other: between the two
            // reads the lock may have passed on, pairing this holder with the next one's start
            // time, and a live holder would look like a reused pid. So the verdict counts only
            // when both words still say the same after the OS was asked.
            if (holder != 0 && Os.Current.HasEnded(PidOf(holder), holderStart)
                && Volatile.Read(ref _state->Owner) == holder && Volatile.Read(ref _state->OwnerStart) == holderStart)
                RecoverFrom(holder);
            if (TryTake(me)) return true;

            long left = deadline == long.MaxValue ? Slice : deadline - Environment.TickCount64;
            if (left <= 0) return false;
            Interlocked.Increment(ref _state->Waiters);
            try
            {
                if (TryTake(me)) return true;
                _wake.Wait((int)Math.Min(left, Slice));
            }
            finally
            {
                Interlocked.Decrement(ref _state->Waiters);
            }
        }
    }

    bool TryTake(long me)
    {
        bool taken = Interlocked.CompareExchange(ref _state->Owner, me, 0) == 0;
        if (Diagnostics.OsTrace.Enabled)
            Diagnostics.OsTrace.Write($"lock {Name}: compare-and-swap of the owner word 0 -> pid {Environment.ProcessId}: {(taken ? "taken (no system call)" : "held by pid " + HolderPid)}");
        if (!taken) return false;
        _state->OwnerStart = Os.Current.OwnStartTicks;
        _state->Depth = 1;
        return true;
    }

    /// <summary>Frees a lock whose holder has died and throws; only the waiter whose swap succeeds throws.</summary>
    void RecoverFrom(long deadHolder)
    {
        if (Interlocked.CompareExchange(ref _state->Owner, 0, deadHolder) != deadHolder) return;
        _state->Depth = 0;
        _state->OwnerStart = 0;
        if (Volatile.Read(ref _state->Waiters) > 0) _wake.Post();
        throw new AbandonedLockException(PidOf(deadHolder), Name);
    }

    /// <summary>Releases; an RLock only by its holder, and only fully after as many releases as acquires.</summary>
    public void Release(bool recursive)
    {
        long holder = Volatile.Read(ref _state->Owner);
        if (holder == 0)
            throw new InvalidOperationException(recursive ? "cannot release un-acquired lock" : "semaphore or lock released too many times");
        if (recursive)
        {
            if (holder != Me) throw new InvalidOperationException("cannot release un-acquired lock: it is held by another thread or process");
            if (--_state->Depth > 0) return;
        }
        _state->OwnerStart = 0;
        _state->Depth = 0;
        Interlocked.Exchange(ref _state->Owner, 0);
        int waiters = Volatile.Read(ref _state->Waiters);
        if (Diagnostics.OsTrace.Enabled) Diagnostics.OsTrace.Write($"lock {Name}: owner word -> 0 (released); {waiters} waiter(s){(waiters > 0 ? ": wake one" : "")}");
        if (waiters > 0) _wake.Post();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _wake.Dispose();
        _memory.Dispose();
        if (_created) KernelNames.Remove(Name);
    }
}
