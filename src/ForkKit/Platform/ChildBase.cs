namespace ForkKit.Platform;

/// <summary>
/// What every platform's child shares, Python's Popen.poll/wait: the exit code is recorded once,
/// under a lock, when the platform reaps the child; a wait blocks on the platform's exit signal
/// and then polls; a stop is sent only while the child is unreaped, because afterwards its pid
/// (or handle) may belong to another process.
/// </summary>
abstract class ChildBase(int pid) : IChild
{
    readonly object _gate = new();
    int? _exitCode;

    public int Pid { get; } = pid;

    public bool IsReaped
    {
        get
        {
            lock (_gate) return _exitCode is not null;
        }
    }

    public bool HasExited => IsReaped || HasExitedUnreaped();

    public int? Poll()
    {
        lock (_gate)
        {
            if (_exitCode is not null) return _exitCode;
            _exitCode = TryReap();
            return _exitCode;
        }
    }

    public bool Wait(TimeSpan? timeout)
    {
        if (Poll() is not null) return true;
        var deadline = timeout is { } t ? Environment.TickCount64 + (long)Math.Max(0, t.TotalMilliseconds) : long.MaxValue;
        while (true)
        {
            long left = deadline == long.MaxValue ? -1 : Math.Max(0, deadline - Environment.TickCount64);
            WaitForExit(left);
            if (Poll() is not null) return true;
            if (left == 0) return false;
        }
    }

    public void Stop(bool force)
    {
        lock (_gate)
        {
            if (_exitCode is null) Signal(force);
        }
    }

    public abstract void Dispose();

    /// <summary>Reaps the child if it has ended and returns its exit code (Python's convention); null while it runs. Called under the lock.</summary>
    protected abstract int? TryReap();

    /// <summary>True when the child has ended but is not reaped yet. Must not reap.</summary>
    protected abstract bool HasExitedUnreaped();

    /// <summary>Blocks until the child has ended or <paramref name="ms"/> passed (-1: no limit). Must not reap.</summary>
    protected abstract void WaitForExit(long ms);

    /// <summary>Asks the child to stop, or forces it. Called under the lock, only while unreaped.</summary>
    protected abstract void Signal(bool force);
}
