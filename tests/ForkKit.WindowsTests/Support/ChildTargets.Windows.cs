namespace ForkKit.Tests.Support;

/// <summary>Targets only the Windows suite runs.</summary>
static partial class ChildTargets
{
    /// <summary>Starts a daemon child that sleeps, writes its pid to <paramref name="pidFile"/>, then sleeps itself.</summary>
    public static void StartDaemonThenSleep(string pidFile)
    {
        var daemon = new Process(SleepSeconds, 60.0) { Daemon = true };
        daemon.Start();
        File.WriteAllText(pidFile + ".tmp", daemon.Pid.ToString());
        File.Move(pidFile + ".tmp", pidFile);
        Thread.Sleep(60_000);
    }

    /// <summary>The names of the Unix packages' assemblies loaded in this process: none, on Windows.</summary>
    public static List<string> LoadedUnixAssemblies() => Loaded.UnixAssemblies();
}
