using ForkKit.Platform;
using ForkKit.Wire;

namespace ForkKit.Launching;

/// <summary>
/// A worker to start: its name, its role, whether the OS should end it when this process ends,
/// and what it runs, in the form each start method needs, as Python hands its Popen classes the
/// whole process object: <paramref name="StartMessage"/> writes the <see cref="WorkerStart"/> a
/// new program reads first (Spawn), <paramref name="RunInForkedChild"/> runs the work in a forked
/// copy of this process and gives its exit code (Fork; null where the work cannot run so).
/// </summary>
sealed record WorkerSpec(string Name, WorkerRole Role, Func<byte[]> StartMessage, bool DiesWithParent, Func<int>? RunInForkedChild = null);

/// <summary>
/// A started worker: the child, and for a pool worker our ends of its two pipes, the one it
/// reads tasks from and the one it answers on. A Process child's pipe is closed once its start
/// message is written: it has nothing more to read.
/// </summary>
sealed record LaunchedWorker(IChild Child, FileStream? Tasks, FileStream? Results);

/// <summary>
/// A start method, as Python's Popen classes (popen_spawn_posix, popen_fork, popen_forkserver):
/// it says only how a child gets running and hands back an <see cref="IChild"/>; poll, wait,
/// signal and reaping are the same for all (<see cref="ChildBase"/>).
/// </summary>
interface ILauncher
{
    /// <summary>Starts the worker and delivers its start message.</summary>
    /// <exception cref="NotSupportedException">The start method is not available here; nothing was started.</exception>
    LaunchedWorker Launch(WorkerSpec spec);
}

/// <summary>The launcher of each start method.</summary>
static class Launchers
{
    public static ILauncher For(StartMethod method) => method switch
    {
        StartMethod.Spawn => SpawnLauncher.Instance,
        StartMethod.Fork => ForkLauncher.Instance,
        StartMethod.ForkServer => ForkServerLauncher.Instance,
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "not a start method"),
    };
}
