namespace ForkKit;

/// <summary>How a child is started, as Python's multiprocessing start methods.</summary>
public enum StartMethod
{
    /// <summary>fork+exec a fresh .NET worker host that loads the target by name (the default).</summary>
    Spawn,

    /// <summary>
    /// Run the target in a forked copy of the parent, on the parent's memory as it is at Start
    /// (nothing is serialised). A lab mode: available only in a process that started with
    /// <see cref="Unix.ForkSafety.Settings"/>, never on Windows (Windows has no fork). A target
    /// that wants an exit code other than 0 or 1 calls <see cref="Unix.Syscalls.Exit"/>:
    /// Environment.Exit never returns in a forked runtime (it waits for a finalizer thread the
    /// child does not have).
    /// </summary>
    Fork,

    /// <summary>
    /// A quiet helper process, the fork server, forks each child on request: one server per
    /// process, started on first use with the fork-safe settings, whatever settings this process
    /// has. The child starts from the server's warm runtime, with its target compiled and its
    /// arguments decoded there, instead of booting a runtime of its own; arguments cross as with
    /// Spawn. The child's exit status reaches Join as with Spawn. The server and its children
    /// have the environment, working directory, stdout and stderr this process had when the
    /// server started. Unix only (Windows has no fork). A target that wants an exit code other
    /// than 0 or 1 calls <see cref="Unix.Syscalls.Exit"/>, as under Fork.
    /// </summary>
    ForkServer,
}
