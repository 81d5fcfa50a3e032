using System.Reflection;
using ForkKit.Platform;
using ForkKit.Wire;

namespace ForkKit.Worker;

/// <summary>
/// The entry point of a spawned child. The parent execs `dotnet exec ForkKit.WorkerHost.dll worker
/// --name NAME --wire FD`, so by the time this runs the child is a fresh runtime and managed
/// code is safe. It names itself for ps, reads what to run from the wire, runs it and exits
/// with Python's codes: 0 when the target returns, 1 when it throws.
/// </summary>
public static class WorkerHost
{
    public static int Main(string[] args)
    {
        var command = WorkerCommandLine.Parse(args);
        if (command.Error is { } error)
        {
            Console.Error.WriteLine(error);
            return 2;
        }

        // The exit report and the parent watch (Unix; docs/design.md, "When the parent ends").
        // The fork server starts no thread: it ends when its socket closes.
        Unix.ChildLinks.TakeOver(watchParent: command.Role != WorkerRole.ForkServer);
        CurrentProcess.Name = command.Name;
        // Linux comm for ps; argv[0] already carries the long title.
        Os.Current.SetProcessName(command.Name);
        if (command.Role == WorkerRole.ForkServer) return ForkServerHost.Run(Os.Current.AdoptInherited(command.Wire[0]));

        var input = OpenWire(command.Wire[0], FileAccess.Read);
        var frame = Frames.Read(input);
        if (frame is null)
        {
            input.Dispose();
            // A pool retired before its worker started has nothing for it; a Process child must have its work.
            if (command.Role == WorkerRole.Pool) return 0;
            throw new EndOfStreamException("the parent closed the wire before sending the work");
        }
        var start = WorkerStart.Parse(frame);

        if (command.Role == WorkerRole.Pool)
        {
            using var tasks = input;
            using var results = OpenWire(command.Wire[1], FileAccess.Write);
            return PoolWorkerHost.Run(start, tasks, results);
        }
        input.Dispose();
        return RunProcessTarget(start);
    }

    /// <summary>Runs a Process target as Python's BaseProcess._bootstrap does.</summary>
    static int RunProcessTarget(WorkerStart start)
    {
        PreparedTarget target;
        try
        {
            target = Prepare(start);
        }
        catch (Exception e)
        {
            return ReportFailure(start.Name, e);
        }
        return RunTarget(start.Name, target);
    }

    /// <summary>A Process target ready to run: the method, its instance, the decoded arguments.</summary>
    internal sealed record PreparedTarget(MethodInfo Method, object? Instance, object?[] Args);

    /// <summary>Resolves a start message's target and decodes its arguments.</summary>
    /// <exception cref="Exception">The target cannot be found or its arguments cannot be read: the child reports it and exits with 1.</exception>
    internal static PreparedTarget Prepare(WorkerStart start) => Decode(start, Resolve(start));

    /// <summary>The target of a Process start message.</summary>
    internal static MethodInfo Resolve(WorkerStart start) =>
        Targets.Resolve(start.Target ?? throw new InvalidDataException("wire message: a Process child needs a target"));

    /// <summary>The target ready to run, with its instance and decoded arguments.</summary>
    internal static PreparedTarget Decode(WorkerStart start, MethodInfo method) =>
        new(method, Targets.InstanceFor(method), Arguments.Decode(method, start.Args));

    /// <summary>
    /// Runs a target and gives Python's exit code: 0 when it returns (an awaited Task
    /// included), 1 with the trace on stderr when it throws.
    /// </summary>
    internal static int RunTarget(string name, PreparedTarget target)
    {
        try
        {
            var result = target.Method.Invoke(target.Instance, BindingFlags.DoNotWrapExceptions, null, target.Args, null);
            if (result is Task task) task.GetAwaiter().GetResult();
            return 0;
        }
        catch (Exception e)
        {
            return ReportFailure(name, e);
        }
    }

    /// <summary>Python prints "Process NAME:" and the traceback on stderr, then exits with 1.</summary>
    /// <remarks>
    /// A target may have closed or broken its stderr before it threw: the trace is then lost,
    /// and the exit code still says 1. Left to escape, the write's own exception would abort the
    /// runtime (SIGABRT) and the parent would read a crash.
    /// </remarks>
    internal static int ReportFailure(string name, Exception e)
    {
        try
        {
            Console.Error.WriteLine($"Process {name}:");
            Console.Error.WriteLine(WithoutReflectionFrames(e.ToString()));
        }
        catch (Exception writing) when (writing is IOException or ObjectDisposedException or UnauthorizedAccessException)
        {
            // Nowhere to report it; the exit code does.
        }
        return 1;
    }

    /// <summary>
    /// The exception text without the reflection frames between the worker host and the
    /// target: the trace reads target frames, then WorkerHost, as Python's reads the target,
    /// then _bootstrap.
    /// </summary>
    internal static string WithoutReflectionFrames(string text) =>
        string.Join('\n', text.Split('\n').Where(line => !line.TrimStart().StartsWith("at System.Reflection.", StringComparison.Ordinal)));

    /// <summary>
    /// A stream over a pipe end the parent handed over. It is made non-inheritable at once
    /// (close-on-exec), so that processes this worker starts do not hold it open.
    /// </summary>
    static FileStream OpenWire(string handle, FileAccess access) =>
        new(Os.Current.AdoptInherited(handle), access, bufferSize: 0);
}
