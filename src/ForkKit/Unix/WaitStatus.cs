namespace ForkKit.Unix;

/// <summary>
/// What <c>waitpid</c> reported about one child, as a typed value instead of a raw status int:
/// <see cref="Exited"/> (WIFEXITED), <see cref="Signaled"/> (WIFSIGNALED) or
/// <see cref="StillRunning"/> (WNOHANG and the child has not changed state).
/// </summary>
public abstract record WaitStatus(int Pid)
{
    /// <summary>The child called exit or _exit, or returned from main: WIFEXITED, code = WEXITSTATUS.</summary>
    public sealed record Exited(int Pid, int Code) : WaitStatus(Pid);

    /// <summary>A signal ended the child: WIFSIGNALED, signal = WTERMSIG, core = WCOREDUMP.</summary>
    public sealed record Signaled(int Pid, int Signal, bool CoreDumped) : WaitStatus(Pid);

    /// <summary>WNOHANG was given and the child is still running (waitpid returned 0).</summary>
    public sealed record StillRunning(int Pid) : WaitStatus(Pid);

    /// <summary>
    /// The exit code as Python's multiprocessing reports it (its waitstatus_to_exitcode):
    /// the exit status for an exit, minus the signal number for a death by signal, and null
    /// while the child runs. This is the one place ForkKit turns a wait status into a number.
    /// </summary>
    public int? ToExitCode() => this switch
    {
        Exited e => e.Code,
        Signaled s => -s.Signal,
        _ => null,
    };

    /// <summary>Decodes a raw status word with the W* macros.</summary>
    internal static WaitStatus Decode(int pid, int rawStatus)
    {
        if (Mono.Unix.Native.Syscall.WIFEXITED(rawStatus))
            return new Exited(pid, Mono.Unix.Native.Syscall.WEXITSTATUS(rawStatus));
        if (Mono.Unix.Native.Syscall.WIFSIGNALED(rawStatus))
            // WCOREDUMP is bit 0x80 of the status word on Linux and the BSDs; Mono.Posix has no wrapper.
            return new Signaled(pid, Mono.Unix.Native.NativeConvert.FromSignum(Mono.Unix.Native.Syscall.WTERMSIG(rawStatus)), (rawStatus & 0x80) != 0);
        throw new InvalidOperationException($"waitpid({pid}) returned status 0x{rawStatus:x}, which is neither an exit nor a signal death");
    }
}
