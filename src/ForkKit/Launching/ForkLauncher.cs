namespace ForkKit.Launching;

/// <summary>
/// Fork: the target runs in a forked copy of this process, as Python's popen_fork. Not
/// available: a forked .NET runtime may run managed code only under conditions this process
/// does not meet (docs/design.md, facts 1 and 1b), so nothing is started.
/// </summary>
sealed class ForkLauncher : ILauncher
{
    public static readonly ForkLauncher Instance = new();

    public LaunchedWorker Launch(WorkerSpec spec) =>
        throw new NotSupportedException(
            "StartMethod.Fork is not available: a forked .NET child may not run managed code (the runtime's JIT, locks and signal threads do not survive fork), so ForkKit starts children with Spawn.");
}
