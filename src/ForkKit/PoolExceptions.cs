namespace ForkKit;

/// <summary>
/// The worker's side of a failed task: its message is the exception's text as the worker
/// printed it, stack trace included (Python's multiprocessing.pool.RemoteTraceback). It is
/// the InnerException of the exception that Get, Apply or Map throw.
/// </summary>
public class RemoteTraceback : Exception
{
    public RemoteTraceback(string trace) : base(trace) { }
}

/// <summary>
/// A task failed with an exception whose type the parent cannot (or will not) recreate: a type
/// not loaded here, or one without a (string) or (string, Exception) constructor.
/// </summary>
public class RemoteException : Exception
{
    public RemoteException(string remoteType, string message, RemoteTraceback trace)
        : base($"{remoteType}: {message}", trace)
    {
        RemoteType = remoteType;
    }

    /// <summary>The full name of the exception type thrown in the worker.</summary>
    public string RemoteType { get; }
}

/// <summary>
/// A worker died while it was running the task (killed by a signal, or exited): the task's
/// result will never come. Python's Pool waits for ever here (CPython gh-66587).
/// </summary>
public class WorkerLostException : Exception
{
    public WorkerLostException(string message, int pid, int? exitCode) : base(message)
    {
        Pid = pid;
        ExitCode = exitCode;
    }

    /// <summary>The pid of the worker that died.</summary>
    public int Pid { get; }

    /// <summary>Its exit code as Process.ExitCode gives it (-9 for SIGKILL), when known.</summary>
    public int? ExitCode { get; }
}
