namespace ForkKit.Wire;

/// <summary>
/// What a worker is started for: to run one Process target, to serve a Pool, or to be the fork
/// server that forks the other two on request (StartMethod.ForkServer).
/// </summary>
enum WorkerRole { Process, Pool, ForkServer }

/// <summary>
/// The worker's command line, both sides of it: the parent writes
/// <c>worker --role process|pool|forkserver --name NAME --wire END[,END]</c> after the host's own arguments,
/// the worker reads it back. The ends are named as the platform hands them over (Unix: fd
/// numbers; Windows: handle values): the first carries the start message and, for a pool
/// worker, its tasks; the second a pool worker's results. The fork server's one end is its
/// socket to the parent.
/// </summary>
static class WorkerCommandLine
{
    /// <summary>The first argument after the program, which tells the worker host (or a self-contained app's startup hook) to act as a worker.</summary>
    public const string Verb = "worker";

    /// <summary>The variable through which the runtime finds startup hooks (a list of assembly paths).</summary>
    public const string StartupHooksVariable = "DOTNET_STARTUP_HOOKS";

    /// <summary>The worker's options, the verb first.</summary>
    public static IEnumerable<string> Options(string name, WorkerRole role, IReadOnlyList<string> wire) =>
        [Verb, "--role", RoleName(role), "--name", name, "--wire", string.Join(",", wire)];

    /// <summary>A worker's command line as read back; <see cref="Error"/> says what is wrong with it, if anything.</summary>
    public sealed record Parsed(string Name, WorkerRole Role, IReadOnlyList<string> Wire, string? Error);

    /// <summary>Reads the options written by <see cref="Options"/> (args[0] is the verb).</summary>
    public static Parsed Parse(string[] args)
    {
        var name = Option(args, "--name") ?? "worker";
        var roleName = Option(args, "--role");
        var role = Enum.GetValues<WorkerRole>().FirstOrDefault(r => RoleName(r) == roleName, WorkerRole.Process);
        var wire = (Option(args, "--wire") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        string? error = null;
        if (args.Length == 0 || args[0] != Verb)
            error = "ForkKit.WorkerHost.dll is ForkKit's worker host. It runs only when ForkKit starts a child process " +
                    "(`dotnet exec ForkKit.WorkerHost.dll worker --name NAME --wire FD`), reading its work from that pipe.";
        else if (wire.Length == 0)
            error = "forkkit worker: --wire FD is required (the descriptor of the pipe the parent writes the work to)";
        else if (role == WorkerRole.Pool && wire.Length < 2)
            error = "forkkit worker: a pool worker needs --wire TASKS,RESULTS";
        return new Parsed(name, role, wire, error);
    }

    static string RoleName(WorkerRole role) => role.ToString().ToLowerInvariant();

    static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
