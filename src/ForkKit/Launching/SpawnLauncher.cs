using ForkKit.Platform;

namespace ForkKit.Launching;

/// <summary>
/// Spawn, the default start method: a fresh .NET worker host is started as a new program (Unix:
/// the C shim's vfork+execve; Windows: CreateProcessW) with the pipe ends it needs, and reads
/// its start message from the first one. Nothing of this process's memory reaches the child,
/// so managed code in it is safe (docs/design.md, fact 1).
/// </summary>
sealed class SpawnLauncher : ILauncher
{
    public static readonly SpawnLauncher Instance = new();

    public LaunchedWorker Launch(WorkerSpec spec)
    {
        var message = spec.StartMessage(); // before any pipe exists: an argument that cannot cross leaves nothing open
        var os = Os.Current;
        var command = WorkerCommand.Current;
        return WorkerPipes.Launch(spec.Role, message, childEnds =>
            os.StartProgram(command.HostPath, command.Arguments(spec.Name, spec.Role, os.ChildEndNames(childEnds)),
                command.ExtraEnvironment, childEnds, spec.DiesWithParent));
    }
}
