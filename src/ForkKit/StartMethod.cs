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

    /// <summary>A quiet helper process forks workers on request (not available yet).</summary>
    ForkServer,
}
