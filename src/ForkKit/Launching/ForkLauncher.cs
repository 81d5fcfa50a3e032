using ForkKit.Platform;

namespace ForkKit.Launching;

/// <summary>
/// Fork: the target runs in a forked copy of this process, as Python's popen_fork, with no
/// serialisation: the child sees this process's memory as it was at the fork. Available only in
/// a process that started with the fork-safe settings (docs/design.md, facts 1 and 1b); the
/// platform refuses otherwise, and Windows, which has no fork, always.
/// </summary>
sealed class ForkLauncher : ILauncher
{
    public static readonly ForkLauncher Instance = new();

    public LaunchedWorker Launch(WorkerSpec spec)
    {
        var run = spec.RunInForkedChild
            ?? throw new NotSupportedException($"StartMethod.Fork cannot start a {spec.Role} worker: use StartMethod.Spawn.");
        return new LaunchedWorker(Os.Current.Fork(run), null, null);
    }
}
