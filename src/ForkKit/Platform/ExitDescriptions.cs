namespace ForkKit.Platform;

/// <summary>
/// The one place that names signals and says in words how a child ended. Exit codes follow
/// Python's convention (0 / 1 / n / -S for a death by signal S), on every platform: Windows
/// reports Terminate as -15 too.
/// </summary>
static class ExitDescriptions
{
    /// <summary>The signal numbers the kit sends (the same on Linux and macOS).</summary>
    public const int SIGKILL = 9, SIGTERM = 15;

    /// <summary>"SIGTERM" for 15, and so on for the signals a student meets; "signal N" otherwise.</summary>
    public static string SignalName(int signal) => signal switch
    {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        6 => "SIGABRT",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        17 => "SIGCHLD",
        19 => "SIGSTOP",
        _ => $"signal {signal}",
    };

    /// <summary>The highest signal number (Linux SIGRTMAX): a lower exit code than its negative is no signal death.</summary>
    const int LastSignal = 64;

    /// <summary>
    /// "exited with code 3", "was killed by signal 9 (SIGKILL)"; for an exit code as
    /// Process.ExitCode gives it. A Windows crash status (an NTSTATUS such as 0xC0000409, which
    /// reads as a large negative int) is shown in hex: Windows has no signals.
    /// </summary>
    public static string Describe(int? exitCode) => exitCode switch
    {
        null => "ended with an unknown status",
        >= -LastSignal and < 0 => $"was killed by signal {-exitCode} ({SignalName(-exitCode.Value)})",
        < 0 => $"ended with status 0x{exitCode:X8}",
        _ => $"exited with code {exitCode}",
    };
}
