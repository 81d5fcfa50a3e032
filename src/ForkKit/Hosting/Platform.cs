using Microsoft.Win32.SafeHandles;

namespace ForkKit.Hosting;

/// <summary>
/// A started child process as the platform sees it, the shared part of Python's Popen classes:
/// poll, wait and signal. Process and Pool hold one of these; only the platform knows how.
/// </summary>
interface IChild : IDisposable
{
    int Pid { get; }

    /// <summary>The exit code once the child has ended (reaping it), else null. Never blocks.</summary>
    int? Poll();

    /// <summary>Waits for the child to end, at most <paramref name="timeout"/> (null: no limit); reaps it. True when it has ended.</summary>
    bool Wait(TimeSpan? timeout);

    /// <summary>True once the child has been reaped (its exit code is known).</summary>
    bool IsReaped { get; }

    /// <summary>True once the child has ended, reaped or not. Never reaps: a test helper may ask.</summary>
    bool HasExited { get; }

    /// <summary>Asks the child to stop (SIGTERM), or forces it (SIGKILL). No-op once it has been reaped.</summary>
    void Stop(bool force);
}

/// <summary>What a platform must do for the kit: pipes, and starting a worker host with pipe ends.</summary>
interface IPlatform
{
    /// <summary>An anonymous pipe whose ends are not inherited by children unless handed over.</summary>
    (SafeFileHandle Read, SafeFileHandle Write) CreatePipe();

    /// <summary>
    /// Starts a worker host named <paramref name="name"/> in <paramref name="role"/>
    /// (<see cref="WorkerLaunch.ProcessRole"/> or <see cref="WorkerLaunch.PoolRole"/>) that receives <paramref name="childEnds"/>
    /// (and nothing else that is open). Stdin is the null device; stdout and stderr are inherited.
    /// </summary>
    IChild StartWorker(string name, string role, IReadOnlyList<SafeFileHandle> childEnds);
}

/// <summary>The one place the platform is chosen.</summary>
static class Platform
{
    static readonly Lazy<IPlatform> s_current = new(() =>
        OperatingSystem.IsWindows()
            ? throw new PlatformNotSupportedException("ForkKit's Windows backend is not built yet; ForkKit runs on Linux.")
            : new Unix.UnixPlatform());

    public static IPlatform Current => s_current.Value;
}
