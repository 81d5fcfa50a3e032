using ForkKit.Wire;
using ForkKit.Worker;

/// <summary>
/// How a self-contained app becomes a worker host (see <see cref="ForkKit.Launching.WorkerCommand"/>): ForkKit
/// starts the app's own executable with the worker verb and DOTNET_STARTUP_HOOKS naming
/// ForkKit.dll, and the runtime calls <see cref="Initialize"/> before the app's Main. The
/// runtime finds this class by its fixed name, StartupHook, in no namespace.
/// </summary>
static class StartupHook
{
    /// <summary>Runs the worker and exits when the command line says "worker"; otherwise returns and Main runs as usual.</summary>
    public static void Initialize()
    {
        var args = Environment.GetCommandLineArgs();
        if (args.Length < 2 || args[1] != WorkerCommandLine.Verb) return;
        // Programs this worker starts with System.Diagnostics.Process must not run the hook;
        // ForkKit's own children get it back through WorkerCommand.ExtraEnvironment.
        Environment.SetEnvironmentVariable(WorkerCommandLine.StartupHooksVariable, null);
        Environment.Exit(WorkerHost.Main(args[1..]));
    }
}
