using System.Diagnostics;
using System.Globalization;

namespace ForkKit.Diagnostics;

/// <summary>
/// The OS-call trace (`forkkit ... --trace`): one line on stderr per kernel-level operation the
/// kit performs (fork, execve, waitpid, kill, pipe reads and writes with byte counts, sem_open,
/// sem_wait, sem_post, sem_unlink, ...), with the time and the pid. It is switched on by the
/// environment variable FORKKIT_TRACE=1, which children inherit, so a Pool can be followed into
/// its workers. Times count from FORKKIT_TRACE_T0 (a CLOCK_MONOTONIC timestamp, the same clock
/// in every process), so the lines of all processes line up.
/// </summary>
public static class OsTrace
{
    /// <summary>The variable that switches tracing on (value 1) for this process and its children.</summary>
    public const string Variable = "FORKKIT_TRACE";

    const string StartVariable = "FORKKIT_TRACE_T0";

    static bool s_enabled = Environment.GetEnvironmentVariable(Variable) == "1";

    static long s_t0 =
        long.TryParse(Environment.GetEnvironmentVariable(StartVariable), NumberStyles.None, CultureInfo.InvariantCulture, out var t0) ? t0 : Stopwatch.GetTimestamp();

    /// <summary>True when tracing is on; the call sites test it before building a line.</summary>
    public static bool Enabled => s_enabled;

    /// <summary>
    /// Switches tracing on for this process and for the children it starts from now on.
    /// </summary>
    public static void EnableForChildren()
    {
        s_t0 = Stopwatch.GetTimestamp();
        s_enabled = true;
        Environment.SetEnvironmentVariable(Variable, "1");
        Environment.SetEnvironmentVariable(StartVariable, s_t0.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Writes one trace line: "[  0.012345] pid  4242  TEXT". One write, so lines of different processes do not mix.</summary>
    public static void Write(string text)
    {
        if (!Enabled) return;
        double seconds = Stopwatch.GetElapsedTime(s_t0).TotalSeconds;
        var line = string.Create(CultureInfo.InvariantCulture, $"[{seconds,10:F6}] pid {Environment.ProcessId,6}  {text}\n");
        Console.Error.Write(line);
    }

    /// <summary>The descriptor number behind a stream, for "read(fd 3, ...)" lines; -1 when it has none.</summary>
    internal static long Fd(Stream stream) =>
        stream is FileStream { SafeFileHandle: { IsInvalid: false } h } ? (long)h.DangerousGetHandle() : -1;
}
