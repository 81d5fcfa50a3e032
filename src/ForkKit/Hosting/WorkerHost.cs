using System.Reflection;
using ForkKit.Wire;
using Microsoft.Win32.SafeHandles;

namespace ForkKit.Hosting;

/// <summary>
/// The entry point of a spawned child. The parent execs `dotnet exec ForkKit.dll worker
/// --name NAME --wire FD`, so by the time this runs the child is a fresh runtime and managed
/// code is safe. It names itself for ps, reads what to run from the wire, runs it and exits
/// with Python's codes: 0 when the target returns, 1 when it throws.
/// </summary>
public static class WorkerHost
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] != WorkerLaunch.WorkerVerb)
        {
            Console.Error.WriteLine(
                "ForkKit.dll is a library. It runs as a worker host only when ForkKit starts a child process " +
                "(`dotnet exec ForkKit.dll worker --name NAME --wire FD`), reading its work from that pipe.");
            return 2;
        }
        var name = Option(args, "--name") ?? "worker";
        var wire = (Option(args, "--wire") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        if (wire.Length == 0)
        {
            Console.Error.WriteLine("forkkit worker: --wire FD is required (the descriptor of the pipe the parent writes the work to)");
            return 2;
        }

        CurrentProcess.Name = name;
        NameForPs(name);

        if (Option(args, "--role") == WorkerLaunch.PoolRole)
        {
            if (wire.Length < 2)
            {
                Console.Error.WriteLine("forkkit worker: a pool worker needs --wire TASKS,RESULTS");
                return 2;
            }
            using var tasks = OpenWire(wire[0], FileAccess.Read);
            using var results = OpenWire(wire[1], FileAccess.Write);
            return PoolWorkerHost.Run(tasks, results);
        }

        ProcessStart start;
        using (var input = OpenWire(wire[0], FileAccess.Read))
        {
            var frame = Frames.Read(input)
                ?? throw new EndOfStreamException("the parent closed the wire before sending the work");
            start = ProcessStart.Parse(frame);
        }
        return RunProcessTarget(start);
    }

    /// <summary>Runs a Process target as Python's BaseProcess._bootstrap does.</summary>
    static int RunProcessTarget(ProcessStart start)
    {
        try
        {
            var method = Targets.Resolve(start.Target);
            var args = Arguments.Decode(method, start.Args);
            var result = method.Invoke(Targets.InstanceFor(method), BindingFlags.DoNotWrapExceptions, null, args, null);
            if (result is Task task) task.GetAwaiter().GetResult();
            return 0;
        }
        catch (Exception e)
        {
            // Python prints "Process NAME:" and the traceback on stderr, then exits with 1.
            Console.Error.WriteLine($"Process {start.Name}:");
            Console.Error.WriteLine(WithoutReflectionFrames(e.ToString()));
            return 1;
        }
    }

    /// <summary>
    /// The exception text without the reflection frames between the worker host and the
    /// target: the trace reads target frames, then WorkerHost, as Python's reads the target,
    /// then _bootstrap.
    /// </summary>
    internal static string WithoutReflectionFrames(string text) =>
        string.Join('\n', text.Split('\n').Where(line => !line.TrimStart().StartsWith("at System.Reflection.", StringComparison.Ordinal)));

    /// <summary>Names the process for ps (Linux comm); argv[0] already carries the long title.</summary>
    static void NameForPs(string name) => Platform.Current.SetProcessName(name);

    /// <summary>
    /// A stream over a pipe end the parent handed over. It is made non-inheritable at once
    /// (close-on-exec), so that processes this worker starts do not hold it open.
    /// </summary>
    internal static FileStream OpenWire(string handle, FileAccess access) =>
        new(Platform.Current.AdoptInherited(handle), access, bufferSize: 0);

    static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
