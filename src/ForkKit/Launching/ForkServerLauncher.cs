using ForkKit.Platform;
using ForkKit.Wire;
using Microsoft.Win32.SafeHandles;

namespace ForkKit.Launching;

/// <summary>
/// ForkServer, as Python's popen_forkserver: one quiet helper process per parent, a worker host
/// started on first use with the fork-safe settings (docs/design.md, facts 1 and 1b), forks each
/// child on request. The child starts from the server's warm runtime instead of booting its own,
/// and runs the target decoded and compiled by the server. Unix only: the platform refuses on
/// Windows, which has no fork.
/// </summary>
sealed class ForkServerLauncher : ILauncher
{
    public static readonly ForkServerLauncher Instance = new();

    // PublicationOnly: a failure (Windows) is not cached as the value; it is simply thrown again.
    static readonly Lazy<IForkServer> s_server = new(() => Os.Current.CreateForkServer(StartServer), LazyThreadSafetyMode.PublicationOnly);

    /// <summary>This process's fork server, if one was asked for.</summary>
    internal static IForkServer? Current => s_server.IsValueCreated ? s_server.Value : null;

    /// <summary>The running fork server's pid, if this process has one (ForkKit.Testing leaves it out of its leaks and counts its children as ours).</summary>
    internal static int? ServerPid => s_server.IsValueCreated ? s_server.Value.Pid : null;

    /// <summary>
    /// The children of this process's fork server that are this process's own: all but the
    /// server's spare (a child forked ahead of need, which is part of the server). Empty
    /// without a server.
    /// </summary>
    internal static IEnumerable<Diagnostics.ProcessEntry> ServersChildren() =>
        ServerPid is { } pid ? Diagnostics.ProcessTable.ChildrenOf(pid).Where(e => e.Name != Worker.ForkServerHost.SpareName) : [];

    /// <summary>This process's end of the server's socket, while a server runs.</summary>
    internal static int? ServerSocket => s_server.IsValueCreated ? s_server.Value.Socket : null;

    /// <summary>Every descriptor this process holds for its fork server (socket, the server's pidfd and exit report); empty without a server.</summary>
    internal static IReadOnlyList<int> ServerDescriptors => s_server.IsValueCreated ? s_server.Value.Descriptors : [];

    public LaunchedWorker Launch(WorkerSpec spec)
    {
        var server = s_server.Value;
        var message = spec.StartMessage();
        return WorkerPipes.Launch(spec.Role, startMessage: null, childEnds =>
            server.Start(new ForkRequest(spec.Name, spec.Role, message, childEnds, spec.DiesWithParent)));
    }

    /// <summary>
    /// Starts the server program: the worker host in its ForkServer role, with the fork-safe
    /// settings added to this process's environment and <paramref name="socket"/> as its wire.
    /// It ends when this process closes its end of the socket, however this process ends, and
    /// kills first the children that must not outlive this process.
    /// </summary>
    static IChild StartServer(SafeFileHandle socket)
    {
        var os = Os.Current;
        var command = WorkerCommand.Current;
        var environment = new Dictionary<string, string>(command.ExtraEnvironment);
        foreach (var (key, value) in Unix.ForkSafety.Settings) environment[key] = value;
        var argv = command.Arguments("ForkServer", WorkerRole.ForkServer, os.ChildEndNames([socket]));
        // Not "dies with parent": the server starts no thread to watch for that; its socket's
        // end-of-file tells it the same.
        return os.StartProgram(command.HostPath, argv, environment, [socket], diesWithParent: false);
    }
}
