namespace ForkKit.Tests.Support;

/// <summary>What the shared tests expect differently on the two platforms, each with its OS reason.</summary>
static class Expected
{
    /// <summary>
    /// The exit code of a child ended by Process.Kill: -9 on Unix (SIGKILL). Windows has no
    /// signals: Terminate and Kill are both TerminateProcess, which ForkKit reports as -15,
    /// as Python's multiprocessing does.
    /// </summary>
    public static int KilledExitCode => OperatingSystem.IsWindows() ? -15 : -9;
}
