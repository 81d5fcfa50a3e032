using System.Runtime.InteropServices;
using ForkKit.Platform;
using ForkKit.Wire;

namespace ForkKit.Launching;

/// <summary>
/// How to start a worker host: the program, the arguments that make it run ForkKit's worker
/// entry point (<see cref="Worker.WorkerHost.Main"/>), and what the child's environment needs on
/// top of ours. Found once per process, in one of two ways:
/// <list type="number">
/// <item>A framework-dependent app (the usual case: `dotnet run`, `dotnet test`, `dotnet app.dll`,
/// a framework-dependent publish): the dotnet host runs
/// `dotnet exec --runtimeconfig R --depsfile APP.deps.json ForkKit.WorkerHost.dll worker ...` on
/// the shared runtime this process runs on, as Python's spawn runs sys.executable.
/// ForkKit.WorkerHost.dll ships beside ForkKit.dll (src/ForkKit.WorkerHost). R is written
/// once per runtime version (<see cref="WriteRuntimeConfig"/>); the app's own deps.json (under
/// `dotnet test`, the test project's, which testhost runs with) resolves ForkKit.dll, its
/// dependencies and their native libraries where the app's build or publish put them.</item>
/// <item>A self-contained app (`dotnet publish --self-contained`; the Windows tests run so under
/// Wine): there may be no dotnet host at all, and the runtime is the app's own. The child is
/// the app's own executable (<see cref="Environment.ProcessPath"/>) started as
/// `APP worker ...`, with DOTNET_STARTUP_HOOKS naming ForkKit.dll. The runtime calls the
/// <c>StartupHook</c> class in ForkKit.dll before the app's Main; it sees the worker verb, runs
/// <see cref="Worker.WorkerHost.Main"/> and exits, so the app's Main never runs in a worker and the app
/// needs no code for it. (A startup hook is the runtime's documented way to run code before
/// Main; trimming disables it, so a trimmed app cannot start workers.)</item>
/// </list>
/// </summary>
sealed class WorkerCommand
{
    readonly IReadOnlyList<string> _hostArguments;

    WorkerCommand(string hostPath, IReadOnlyList<string> hostArguments, IReadOnlyDictionary<string, string> extraEnvironment)
    {
        HostPath = hostPath;
        _hostArguments = hostArguments;
        ExtraEnvironment = extraEnvironment;
    }

    /// <summary>The program that executes the worker: the dotnet host (muxer), or a self-contained app's own executable.</summary>
    public string HostPath { get; }

    /// <summary>Variables the child needs in addition to this process's environment (set or replaced).</summary>
    public IReadOnlyDictionary<string, string> ExtraEnvironment { get; }

    static readonly Lazy<WorkerCommand> s_current = new(Find);

    public static WorkerCommand Current => s_current.Value;

    /// <summary>
    /// The argument vector for a worker named <paramref name="name"/> in <paramref name="role"/>,
    /// reading from the pipe ends the child will know as <paramref name="wire"/>. argv[0] is a
    /// title for ps, "forkkit: Process-3 (parent 1234)": the dotnet host and an app's own host
    /// find themselves through /proc/self/exe (Windows: GetModuleFileNameW), not argv[0], so
    /// argv[0] is free to say what the process is.
    /// </summary>
    public List<string> Arguments(string name, WorkerRole role, IReadOnlyList<string> wire)
    {
        var argv = new List<string> { $"forkkit: {name} (parent {Environment.ProcessId})" };
        argv.AddRange(_hostArguments);
        argv.AddRange(WorkerCommandLine.Options(name, role, wire));
        return argv;
    }

    /// <summary>The worker host's file name; it ships beside ForkKit.dll.</summary>
    public const string WorkerHostFile = "ForkKit.WorkerHost.dll";

    static WorkerCommand Find()
    {
        var dll = typeof(WorkerCommand).Assembly.Location;
        if (string.IsNullOrEmpty(dll) || !File.Exists(dll))
            throw new InvalidOperationException(
                "ForkKit.dll has no file location (single-file publish?). Spawned children load ForkKit.dll from a file; publish without PublishSingleFile.");
        if (IsSelfContained() && Environment.ProcessPath is { } app)
            return new WorkerCommand(app, [], new Dictionary<string, string> { [WorkerCommandLine.StartupHooksVariable] = dll });

        var dir = Path.GetDirectoryName(dll)!;
        var host = Path.Combine(dir, WorkerHostFile);
        if (!File.Exists(host))
            throw new FileNotFoundException(
                $"{WorkerHostFile} (the program a spawned child runs) was not found next to ForkKit.dll in '{dir}'. " +
                "It comes with ForkKit.dll in the ForkKit package and in every build that references src/ForkKit; " +
                "copy it beside ForkKit.dll if the app was assembled by hand.", host);
        var hostArguments = new List<string> { "exec", "--runtimeconfig", WriteRuntimeConfig() };
        if (AppDepsFile(dir) is { } deps) hostArguments.AddRange(["--depsfile", deps]);
        hostArguments.Add(host);
        return new WorkerCommand(FindDotnetHost(), hostArguments, new Dictionary<string, string>());
    }

    /// <summary>
    /// The deps.json this process's app runs with (the dotnet host lists it, with the framework's,
    /// in APP_CONTEXT_DEPS_FILES), when it sits in ForkKit.dll's folder <paramref name="dir"/>: it
    /// says where the app's build or publish put every assembly and native library, so the worker
    /// resolves them as the app does. Null when the app has none there (a plugin that loaded
    /// ForkKit from elsewhere): the worker then loads what lies in its own folder.
    /// </summary>
    static string? AppDepsFile(string dir)
    {
        var framework = AppContext.GetData("FX_DEPS_FILE") as string;
        foreach (var deps in (AppContext.GetData("APP_CONTEXT_DEPS_FILES") as string ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            if (framework is not null && string.Equals(Path.GetFullPath(deps), Path.GetFullPath(framework), Os.Current.PathComparison)) continue;
            if (File.Exists(deps) && string.Equals(Path.GetDirectoryName(Path.GetFullPath(deps)), Path.GetFullPath(dir), Os.Current.PathComparison))
                return deps;
        }
        return null;
    }

    /// <summary>
    /// True when this process runs on a runtime of its own: a self-contained app carries the
    /// runtime (System.Private.CoreLib.dll) in its own folder, a framework-dependent one loads it
    /// from DOTNET_ROOT/shared/Microsoft.NETCore.App/VERSION/.
    /// </summary>
    static bool IsSelfContained()
    {
        static string Normal(string dir) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        return string.Equals(Normal(RuntimeEnvironment.GetRuntimeDirectory()), Normal(AppContext.BaseDirectory), Os.Current.PathComparison);
    }

    /// <summary>
    /// The dotnet host that runs this very runtime: the runtime lives in
    /// DOTNET_ROOT/shared/Microsoft.NETCore.App/VERSION/, the host in DOTNET_ROOT/dotnet.
    /// </summary>
    static string FindDotnetHost()
    {
        var exe = Os.Current.ExecutableName("dotnet");
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
            "Spawned children run `dotnet exec ForkKit.WorkerHost.dll`: install the .NET runtime or put dotnet on PATH.");
    }

    /// <summary>
    /// The worker's runtimeconfig: the shared framework this process runs on, so the child runs
    /// on the same runtime, without a background GC thread or PGO instrumentation (a worker runs
    /// short jobs). It is kept in a directory only this user can write (<see cref="IPlatform.PrivateDirectory"/>): a file
    /// another user could plant there would be read by every worker's runtime.
    /// </summary>
    static string WriteRuntimeConfig()
    {
        var version = Environment.Version;
        var path = Path.Combine(Os.Current.PrivateDirectory(), $"ForkKit.WorkerHost.{version}.runtimeconfig.json");
        if (!File.Exists(path))
        {
            var json = "{\"runtimeOptions\":{\"tfm\":\"net" + $"{version.Major}.{version.Minor}" +
                       "\",\"framework\":{\"name\":\"Microsoft.NETCore.App\",\"version\":\"" + version + "\"}," +
                       "\"configProperties\":{\"System.GC.Concurrent\":false,\"System.Runtime.TieredPGO\":false}}}";
            var temp = path + "." + Environment.ProcessId;
            File.WriteAllText(temp, json);
            File.Move(temp, path, overwrite: true);
        }
        return path;
    }
}
