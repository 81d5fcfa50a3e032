namespace ForkKit.Launching;

/// <summary>
/// ForkServer: a quiet helper process forks workers on request, as Python's
/// popen_forkserver. Not available yet: nothing is started.
/// </summary>
sealed class ForkServerLauncher : ILauncher
{
    public static readonly ForkServerLauncher Instance = new();

    public LaunchedWorker Launch(WorkerSpec spec) =>
        throw new NotSupportedException("StartMethod.ForkServer is not available yet; use StartMethod.Spawn.");
}
