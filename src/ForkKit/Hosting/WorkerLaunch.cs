using System.Runtime.InteropServices;

namespace ForkKit.Hosting;

/// <summary>
/// How to start a worker host: the .NET host program and the arguments that make it run
/// ForkKit.dll's worker entry point. Found once per process.
/// </summary>
sealed class WorkerLaunch
{
    /// <summary>The first argument after the program, which tells ForkKit.dll to act as a worker.</summary>
    public const string WorkerVerb = "worker";

    /// <summary>The --role of a long-lived Pool worker; a Process child has role "process".</summary>
    public const string PoolRole = "pool", ProcessRole = "process";

    WorkerLaunch(string hostPath, string forkKitDll, string? runtimeConfig)
    {
        HostPath = hostPath;
        ForkKitDll = forkKitDll;
        RuntimeConfig = runtimeConfig;
    }

    /// <summary>The dotnet host (muxer) that executes the worker.</summary>
    public string HostPath { get; }

    /// <summary>ForkKit.dll, whose entry point is the worker host.</summary>
    public string ForkKitDll { get; }

    /// <summary>ForkKit.runtimeconfig.json, or null when `dotnet exec` finds it by itself.</summary>
    public string? RuntimeConfig { get; }

    static readonly Lazy<WorkerLaunch> s_current = new(Find);

    public static WorkerLaunch Current => s_current.Value;

    /// <summary>
    /// The argument vector for a worker named <paramref name="name"/>. argv[0] is a title for
    /// ps, "forkkit: Process-3 (parent 1234)": the dotnet host finds itself through
    /// /proc/self/exe, not argv[0], so argv[0] is free to say what the process is.
    /// </summary>
    public List<string> Arguments(string name, string role, string wire)
    {
        var argv = new List<string> { $"forkkit: {name} (parent {Environment.ProcessId})", "exec" };
        if (RuntimeConfig is not null) argv.AddRange(["--runtimeconfig", RuntimeConfig]);
        argv.AddRange([ForkKitDll, WorkerVerb, "--role", role, "--name", name, "--wire", wire]);
        return argv;
    }

    static WorkerLaunch Find()
    {
        var dll = typeof(WorkerLaunch).Assembly.Location;
        if (string.IsNullOrEmpty(dll) || !File.Exists(dll))
            throw new InvalidOperationException(
                "ForkKit.dll has no file location (single-file publish?). Spawned children run `dotnet exec ForkKit.dll`; publish without PublishSingleFile.");
        var config = Path.ChangeExtension(dll, ".runtimeconfig.json");
        return new WorkerLaunch(FindDotnetHost(), dll, File.Exists(config) ? null : WriteRuntimeConfig());
    }

    /// <summary>
    /// The dotnet host that runs this very runtime: the runtime lives in
    /// DOTNET_ROOT/shared/Microsoft.NETCore.App/VERSION/, the host in DOTNET_ROOT/dotnet.
    /// </summary>
    static string FindDotnetHost()
    {
        var exe = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        var runtimeDir = RuntimeEnvironment.GetRuntimeDirectory();
        var candidates = new List<string?>
        {
            Path.GetFullPath(Path.Combine(runtimeDir, "..", "..", "..", exe)),
            Environment.GetEnvironmentVariable("DOTNET_HOST_PATH"),
            Environment.ProcessPath is { } p && Path.GetFileName(p) == exe ? p : null,
        };
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
            if (dir.Length > 0) candidates.Add(Path.Combine(dir, exe));
        foreach (var candidate in candidates)
            if (!string.IsNullOrEmpty(candidate) && File.Exists(candidate)) return candidate;
        throw new InvalidOperationException(
            $"the dotnet host was not found (looked beside the runtime in {runtimeDir}, in DOTNET_HOST_PATH and on PATH). " +
            "Spawned children run `dotnet exec ForkKit.dll`: install the .NET runtime or put dotnet on PATH.");
    }

    /// <summary>
    /// A runtimeconfig for the worker when the app was published without ForkKit's own: the
    /// shared framework this process runs on, so the child runs on the same runtime.
    /// </summary>
    static string WriteRuntimeConfig()
    {
        var version = Environment.Version;
        var dir = Path.Combine(Path.GetTempPath(), $"forkkit-{Environment.UserName}");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, $"ForkKit.{version}.runtimeconfig.json");
        if (!File.Exists(path))
        {
            var json = "{\"runtimeOptions\":{\"tfm\":\"net" + $"{version.Major}.{version.Minor}" +
                       "\",\"framework\":{\"name\":\"Microsoft.NETCore.App\",\"version\":\"" + version + "\"}}}";
            var temp = path + "." + Environment.ProcessId;
            File.WriteAllText(temp, json);
            File.Move(temp, path, overwrite: true);
        }
        return path;
    }
}
