using System.Numerics;
using System.Runtime.InteropServices;
using ForkKit.Diagnostics;
using ForkKit.Platform;

namespace ForkKit.Synchronization;

/// <summary>
/// The cross-process lock behind <see cref="Lock"/> and <see cref="RLock"/>: a word in shared
/// memory says which process holds the lock, a table beside it says which processes wait, and
/// a named semaphore is where waiters sleep. One instance per name and process.
/// </summary>
/// <remarks>
/// <para><b>The owner word is the lock.</b> 0 means free; anything else is the holding
/// process's identity: its pid in the low 32 bits and its start time, folded to 32 bits
/// (<see cref="StartTag"/>), in the high 32. Acquiring is one compare-and-swap of that word from
/// 0 to our identity, so there is no moment in which the lock is held but the holder is not
/// recorded: a process that dies at any instruction either holds the lock with its identity
/// written, or does not hold it at all. (A lock made of the semaphore alone, with the owner
/// written after sem_wait, would have such a moment.) Everything a waiter needs to judge the
/// holder is in that one word, read in one load: nothing about the holder lives in a second
/// word that could belong to the previous or the next holder, and nobody but the holder's
/// own compare-and-swap ever writes an identity.</para>
/// <para><b>Which thread holds it</b> matters only to an RLock, and only inside the holding
/// process, so it is kept in this process's instance (<c>_holderThread</c>, <c>_depth</c>), not
/// in shared memory: the holding thread writes them after its swap and clears them before the
/// swap that frees the word; other processes never see or write them, and a recovery has
/// nothing to reset. A held RLock keeps this instance alive, so every copy of it decoded in the
/// holding process finds the same count.</para>
/// <para><b>Waiting.</b> A waiter claims a slot of the waiter table (a compare-and-swap of a
/// free slot from 0 to its identity), sets the slot's bit in the <c>Sleepers</c> mask, tries
/// the swap once more, then sleeps on the semaphore for at most <see cref="Slice"/>. A releaser
/// frees the word and then reads the mask. Both sides use full-fence atomics, so either the
/// waiter's last try sees the free word or the releaser sees the bit: no wake-up is lost. The
/// releaser posts only when the semaphore's value is 0; a value above 0 is a wake-up already
/// waiting to be taken, so the value stays at 1, or 2 when two releases overlap.</para>
/// <para><b>A dead waiter</b> (killed while it waits) leaves its slot claimed, and the mask
/// would say for ever that someone waits. Its slot holds its identity, though: a releaser that
/// finds a wake-up still pending looks at the claimed slots (at most once per slice) and frees
/// those whose process has ended, clearing the bit first and then swapping the exact identity
/// out of the slot. A waiter sets its bit again before each sleep, because such a sweep may
/// have cleared the bit of a slot it claimed just after the dead one left it. With all 64
/// slots taken, a waiter sleeps without a slot and relies on the slice.</para>
/// <para><b>A dead holder.</b> Each time a waiter looks and finds the lock taken, it reads the
/// owner word once and asks the OS whether that process still exists with that start time (a
/// zombie counts as dead; so does a process that got the dead holder's pid later). If not, it
/// swaps exactly that identity back to 0 (only one waiter can win; a live process never has a
/// dead one's identity, so a word that changed hands is never freed), wakes a sleeper, and
/// throws <see cref="AbandonedLockException"/>: the lock is free again for whoever acquires
/// next. Nothing is written after that swap. Python's multiprocessing.Lock blocks for ever here
/// (CPython gh-88304).</para>
/// <para><b>One mapping per name.</b> Every Lock or RLock object holds a reference to the
/// instance for its name (<see cref="LockLease"/>); the mapping and the semaphore handle are
/// closed when the last reference goes. A process that decodes the same lock in many tasks (a
/// pool worker) reuses one mapping. As with any .NET object, disposing one Lock object while
/// another thread still calls it is not allowed; disposing one copy while others are in use
/// is.</para>
/// </remarks>
sealed unsafe class LockCore
{
    /// <summary>The longest a waiter sleeps before it looks at the holder again.</summary>
    internal static readonly int Slice = 100;

    const int Magic = 0x4B4C4B46; // "FKLK"
    const int WaiterSlots = 64;   // one bit each in State.Sleepers

    [StructLayout(LayoutKind.Sequential)]
    struct State
    {
        public long Owner;     // 0: free; else the holding process: pid | start tag << 32
        public long Sleepers;  // bit i: the waiter in Slots[i] sleeps on the semaphore, or is about to
        public int Magic;
        public int Reserved;
        public fixed long Slots[WaiterSlots]; // 0: free; else the identity of the waiting process that claimed it
    }

    static readonly int StateSize = sizeof(State);

    /// <summary>This process's instances, by name: a lock decoded again reuses the mapping.</summary>
    static readonly Dictionary<string, LockCore> s_open = new(StringComparer.Ordinal);

    /// <summary>
    /// Tests set this to act at a named point of the protocol: "judged-dead" (a waiter found the
    /// holder dead and is about to free its word), "recovered" (it has just freed it).
    /// </summary>
    internal static Action<string>? InterleavingHook;

    readonly SharedMemory _memory;
    readonly KernelSemaphore _wake;
    readonly State* _state;
    int _references = 1;   // leases + one while this process holds an RLock
    long _holderThread;    // RLock: pid << 32 | managed thread id of the thread holding it here; 0: none
    int _depth;            // RLock: how often that thread has acquired it
    long _lastSweep;       // Environment.TickCount64 of the last look for dead waiters

    LockCore(string name, SharedMemory memory, KernelSemaphore wake, bool created)
    {
        Name = name;
        _memory = memory;
        _wake = wake;
        _state = (State*)memory.Address;
        if (created) _state->Magic = Magic;
        else if (_state->Magic != Magic)
            throw new InvalidDataException($"the shared memory object /{name} is not a ForkKit lock");
    }

    /// <summary>The OS-level name: /dev/shm/sem.NAME and /dev/shm/NAME on Linux.</summary>
    public string Name { get; }

    /// <summary>Creates a new lock under a fresh name, retrying when a name is already taken. The caller holds one reference.</summary>
    public static LockCore Create()
    {
        var core = KernelNames.CreateUnique((kernel, name) =>
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
        lock (s_open) s_open[core.Name] = core;
        return core;
    }

    /// <summary>
    /// This process's instance for a lock another process created (a Lock passed to a child or
    /// a pool task), opened on first use. The caller holds one reference.
    /// </summary>
    public static LockCore Open(string name)
    {
        lock (s_open)
        {
            if (s_open.TryGetValue(name, out var open) && open.TryAddReference()) return open;
            var kernel = Os.Kernel;
            var memory = kernel.OpenSharedMemory(name, StateSize);
            KernelSemaphore? wake = null;
            try
            {
                wake = kernel.OpenSemaphore(name);
                var core = new LockCore(name, memory, wake, created: false);
                s_open[name] = core;
                return core;
            }
            catch
            {
                wake?.Dispose();
                memory.Dispose();
                throw;
            }
        }
    }

    bool TryAddReference()
    {
        for (int seen = Volatile.Read(ref _references); seen > 0; seen = Volatile.Read(ref _references))
            if (Interlocked.CompareExchange(ref _references, seen + 1, seen) == seen) return true;
        return false;
    }

    /// <summary>Gives one reference back; the last one closes the mapping and the semaphore handle (never the names).</summary>
    public void DropReference()
    {
        if (Interlocked.Decrement(ref _references) != 0) return;
        lock (s_open)
            if (s_open.TryGetValue(Name, out var open) && open == this) s_open.Remove(Name);
        _wake.Dispose();
        _memory.Dispose();
    }

    /// <summary>This process's identity, the value its owner word takes; computed again in a forked child, whose pid differs.</summary>
    static long OwnIdentity
    {
        get
        {
            var own = s_own;
            int pid = Environment.ProcessId;
            if (own?.Pid == pid) return own.Word;
            s_own = own = new(pid, (uint)pid | ((long)StartTag.Of(Os.Current.OwnStartTicks) << 32));
            return own.Word;
        }
    }

    sealed record Identity(int Pid, long Word);

    static Identity? s_own; // replaced whole, so a reader never pairs one process's pid with another's word

    static long ThisThread => ((long)Environment.ProcessId << 32) | (uint)Environment.CurrentManagedThreadId;

    static int PidOf(long identity) => (int)(identity & 0xFFFFFFFF);

    /// <summary>True when the process <paramref name="identity"/> names is gone, a zombie, or was followed by another with its pid.</summary>
    internal static bool HasEnded(long identity)
    {
        int pid = PidOf(identity);
        uint tag = (uint)((ulong)identity >> 32);
        if (pid != Environment.ProcessId) return Os.Current.HasEnded(pid, tag);
        // Our own pid: dead only if it names an earlier process that had this pid.
        uint own = StartTag.Of(Os.Current.OwnStartTicks);
        return tag != 0 && own != 0 && tag != own;
    }

    /// <summary>The pid of the holder's process, or null when the lock is free.</summary>
    public int? HolderPid => Volatile.Read(ref _state->Owner) is var o && o != 0 ? PidOf(o) : null;

    /// <summary>How many waiter slots are claimed (waiters, and dead waiters not yet swept).</summary>
    internal int WaiterCount
    {
        get
        {
            int n = 0;
            for (int i = 0; i < WaiterSlots; i++)
                if (Volatile.Read(ref _state->Slots[i]) != 0) n++;
            return n;
        }
    }

    /// <summary>The owner word as it is now (0: free).</summary>
    internal long OwnerWord => Volatile.Read(ref _state->Owner);

    /// <summary>The wake-up semaphore's value (null where the OS cannot tell).</summary>
    internal int? PendingWakeUps => _wake.Value;

    bool HeldByThisThread(long me) =>
        Volatile.Read(ref _state->Owner) == me && Volatile.Read(ref _holderThread) == ThisThread;

    /// <summary>
    /// Acquires; with <paramref name="recursive"/> a holder may re-enter (RLock). Returns false
    /// when not blocking (or after the timeout) and the lock is taken.
    /// </summary>
    /// <exception cref="AbandonedLockException">The holder died holding it; the lock is free again.</exception>
    public bool Acquire(bool block, TimeSpan? timeout, bool recursive)
    {
        long me = OwnIdentity;
        if (recursive && HeldByThisThread(me))
        {
            _depth++;
            return true;
        }
        if (TryTake(me, recursive)) return true;

        long deadline = !block ? 0
            : timeout is { } t ? Environment.TickCount64 + Math.Max(0, (long)t.TotalMilliseconds)
            : long.MaxValue;
        int slot = -1;
        try
        {
            while (true)
            {
                long holder = Volatile.Read(ref _state->Owner);
                if (holder != 0 && HasEnded(holder)) RecoverFrom(holder, slot);
                if (TryTake(me, recursive)) return true;

                long left = deadline == long.MaxValue ? Slice : deadline - Environment.TickCount64;
                if (left <= 0) return false;
                if (slot < 0) slot = ClaimSlot(me);
                // Set on every round, not once: a sweep may have cleared it (see the remarks).
                if (slot >= 0) Interlocked.Or(ref _state->Sleepers, 1L << slot);
                if (TryTake(me, recursive)) return true;
                _wake.Wait((int)Math.Min(left, Slice));
            }
        }
        finally
        {
            if (slot >= 0) FreeSlot(slot);
        }
    }

    bool TryTake(long me, bool recursive)
    {
        long was = Interlocked.CompareExchange(ref _state->Owner, me, 0);
        if (OsTrace.Enabled)
            OsTrace.Write($"lock {Name}: compare-and-swap of the owner word 0 -> pid {Environment.ProcessId}: {(was == 0 ? "taken (no system call)" : "held by pid " + PidOf(was))}");
        if (was != 0) return false;
        if (recursive)
        {
            // Only this thread touches these until it frees the word again.
            TryAddReference(); // succeeds: the caller's lease holds one
            _depth = 1;
            Volatile.Write(ref _holderThread, ThisThread);
        }
        return true;
    }

    /// <summary>Frees a lock whose holder has died and throws; only the waiter whose swap succeeds throws.</summary>
    void RecoverFrom(long deadHolder, int ownSlot)
    {
        InterleavingHook?.Invoke("judged-dead");
        if (Interlocked.CompareExchange(ref _state->Owner, 0, deadHolder) != deadHolder) return;
        InterleavingHook?.Invoke("recovered");
        WakeOne(ownSlot >= 0 ? 1L << ownSlot : 0, released: false);
        throw new AbandonedLockException(PidOf(deadHolder), Name);
    }

    /// <summary>Releases; an RLock only by its holder, and only fully after as many releases as acquires.</summary>
    public void Release(bool recursive)
    {
        if (recursive) ReleaseHeld();
        else ReleaseAny();
        WakeOne(0, released: true);
    }

    void ReleaseHeld()
    {
        long me = OwnIdentity;
        if (!HeldByThisThread(me))
            throw new InvalidOperationException(Volatile.Read(ref _state->Owner) == 0
                ? "cannot release un-acquired lock"
                : "cannot release un-acquired lock: it is held by another thread or process");
        if (--_depth > 0) return;
        Volatile.Write(ref _holderThread, 0);
        Interlocked.CompareExchange(ref _state->Owner, 0, me);
        DropReference(); // the one TryTake took for the held RLock
    }

    /// <summary>A Lock may be released by any thread or process, as in Python: it frees whatever identity it finds.</summary>
    void ReleaseAny()
    {
        while (true)
        {
            long holder = Volatile.Read(ref _state->Owner);
            if (holder == 0) throw new InvalidOperationException("semaphore or lock released too many times");
            if (Interlocked.CompareExchange(ref _state->Owner, 0, holder) == holder) return;
        }
    }

    /// <summary>
    /// After the owner word was freed: posts the semaphore if a waiter other than
    /// <paramref name="ignore"/>'s bits sleeps and no wake-up is pending already; when one is
    /// pending, the sleepers may be dead, so looks for dead ones.
    /// </summary>
    void WakeOne(long ignore, bool released)
    {
        long sleepers = Volatile.Read(ref _state->Sleepers) & ~ignore;
        int waiters = BitOperations.PopCount((ulong)sleepers);
        int? pending = waiters > 0 ? _wake.Value : 0;
        bool post = waiters > 0 && pending is null or 0;
        if (released && OsTrace.Enabled)
            OsTrace.Write($"lock {Name}: owner word -> 0 (released); {waiters} waiter(s){(post ? ": wake one" : waiters > 0 ? ": a wake-up is pending already" : "")}");
        if (post) _wake.Post();
        if (pending is not 0) SweepDeadWaiters();
    }

    int ClaimSlot(long me)
    {
        for (int pass = 0; pass < 2; pass++)
        {
            for (int i = 0; i < WaiterSlots; i++)
                if (Volatile.Read(ref _state->Slots[i]) == 0 && Interlocked.CompareExchange(ref _state->Slots[i], me, 0) == 0)
                    return i;
            if (pass == 0) SweepDeadWaiters();
        }
        return -1;
    }

    void FreeSlot(int slot)
    {
        Interlocked.And(ref _state->Sleepers, ~(1L << slot));
        Volatile.Write(ref _state->Slots[slot], 0);
    }

    /// <summary>Frees the slots of waiters whose process has ended; at most once per slice in this process.</summary>
    void SweepDeadWaiters()
    {
        long now = Environment.TickCount64, last = Volatile.Read(ref _lastSweep);
        if (now - last < Slice || Interlocked.CompareExchange(ref _lastSweep, now, last) != last) return;
        for (int i = 0; i < WaiterSlots; i++)
        {
            long waiter = Volatile.Read(ref _state->Slots[i]);
            if (waiter == 0 || !HasEnded(waiter)) continue;
            // The bit first: once the slot is free, a new waiter may claim it and set the bit.
            Interlocked.And(ref _state->Sleepers, ~(1L << i));
            Interlocked.CompareExchange(ref _state->Slots[i], 0, waiter);
            if (OsTrace.Enabled) OsTrace.Write($"lock {Name}: waiter pid {PidOf(waiter)} has ended; its slot is free again");
        }
    }
}

/// <summary>
/// What a <see cref="Lock"/> or <see cref="RLock"/> object holds: one reference to this
/// process's <see cref="LockCore"/> for its name. Dispose gives it back, and the creator's also
/// removes the names. A decoded copy that nobody disposes (a pool task's argument) gives it back
/// when the garbage collector finds it unreachable, so a worker that receives a lock in many
/// tasks keeps one mapping, not one per task. The creator's is never given back that way: its
/// names must stay open for the children it passed the lock to until it is disposed.
/// </summary>
sealed class LockLease : IDisposable
{
    readonly LockCore _core;
    readonly bool _created;
    int _ended;

    public LockLease(LockCore core, bool created)
    {
        _core = core;
        _created = created;
        if (created) GC.SuppressFinalize(this);
    }

    public string Name => _core.Name;

    public LockCore Core => Volatile.Read(ref _ended) == 0 ? _core : throw new ObjectDisposedException($"lock {_core.Name}");

    // Each call keeps this lease reachable until the core returns (GC.KeepAlive): otherwise the
    // JIT may let the Lock and its lease be collected while the call still runs, and the
    // finalizer would unmap the memory under it.

    public bool Acquire(bool block, TimeSpan? timeout, bool recursive)
    {
        bool taken = Core.Acquire(block, timeout, recursive);
        GC.KeepAlive(this);
        return taken;
    }

    public void Release(bool recursive)
    {
        Core.Release(recursive);
        GC.KeepAlive(this);
    }

    /// <summary>"&lt;Lock NAME held by pid N&gt;", "... free&gt;" or "... closed&gt;".</summary>
    public string Describe(string kind)
    {
        string state = Volatile.Read(ref _ended) != 0 ? "closed" : _core.HolderPid is { } pid ? $"held by pid {pid}" : "free";
        GC.KeepAlive(this);
        return $"<{kind} {Name} {state}>";
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0) return;
        GC.SuppressFinalize(this);
        if (_created) KernelNames.Remove(_core.Name);
        _core.DropReference();
    }

    ~LockLease()
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0) _core.DropReference();
    }
}
