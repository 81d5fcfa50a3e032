using ForkKit.Platform;
using ForkKit.Synchronization;

namespace ForkKit;

/// <summary>
/// A counting semaphore shared between processes, as Python's <c>multiprocessing.Semaphore</c>:
/// a POSIX named semaphore (sem_open), nothing more. Acquire is sem_wait (timed: sem_timedwait),
/// Release is sem_post, <see cref="Value"/> is sem_getvalue.
/// </summary>
/// <remarks>With implicit usings, <c>Semaphore</c> also names System.Threading.Semaphore: write
/// <c>using Semaphore = ForkKit.Semaphore;</c>.</remarks>
public sealed class Semaphore : IDisposable
{
    readonly KernelSemaphore _sem;
    readonly bool _created;
    int _disposed;

    /// <summary>A new semaphore with <paramref name="value"/> permits (O_CREAT|O_EXCL, mode 0600, a fresh name).</summary>
    /// <exception cref="ArgumentOutOfRangeException">value is negative.</exception>
    public Semaphore(int value = 1)
    {
        if (value < 0) throw new ArgumentOutOfRangeException(nameof(value), value, "a semaphore's initial value must not be negative");
        (Name, _sem) = KernelNames.CreateUnique((kernel, name) => (name, kernel.CreateSemaphore(name, value)));
        _created = true;
    }

    Semaphore(string name)
    {
        Name = name;
        _sem = Os.Kernel.OpenSemaphore(name);
    }

    internal static Semaphore Open(string name) => new(name);

    /// <summary>The OS-level name (/dev/shm/sem.NAME on Linux).</summary>
    public string Name { get; }

    /// <summary>The number of permits now (sem_getvalue).</summary>
    /// <exception cref="PlatformNotSupportedException">The OS cannot tell (macOS).</exception>
    public int Value => _sem.Value ?? throw new PlatformNotSupportedException("this OS cannot read a named semaphore's value (sem_getvalue)");

    /// <summary>Takes a permit: waits when there is none, at most <paramref name="timeout"/> (negative: zero). False when none was taken.</summary>
    public bool Acquire(bool block = true, TimeSpan? timeout = null)
    {
        int ms = !block ? 0 : timeout is { } t ? (int)Math.Clamp(t.TotalMilliseconds, 0, int.MaxValue) : -1;
        return _sem.Wait(ms);
    }

    /// <summary>Gives a permit back (sem_post), waking one waiter.</summary>
    public void Release() => _sem.Post();

    /// <summary>Takes a permit and returns a handle whose Dispose gives it back.</summary>
    public IDisposable Hold()
    {
        Acquire();
        return new Releaser(Release);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _sem.Dispose();
        if (_created) KernelNames.Remove(Name);
    }

    public override string ToString() => $"<Semaphore {Name} value={_sem.Value?.ToString() ?? "?"}>";
}
