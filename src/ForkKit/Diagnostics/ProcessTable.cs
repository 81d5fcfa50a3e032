using System.Globalization;

namespace ForkKit.Diagnostics;

/// <summary>A process's scheduling state, the STAT letter of ps (proc(5), /proc/PID/stat field 3).</summary>
public enum ProcessState
{
    /// <summary>R: running or runnable.</summary>
    Running,
    /// <summary>S: interruptible sleep, waiting for an event (most processes, most of the time).</summary>
    Sleeping,
    /// <summary>D: uninterruptible sleep, usually disk I/O.</summary>
    DiskSleep,
    /// <summary>Z: exited, but not yet waited for by its parent.</summary>
    Zombie,
    /// <summary>T: stopped by a signal (SIGSTOP, SIGTSTP).</summary>
    Stopped,
    /// <summary>t: stopped by a debugger.</summary>
    TracingStop,
    /// <summary>X: being removed.</summary>
    Dead,
    /// <summary>I: an idle kernel thread.</summary>
    Idle,
    /// <summary>Any other letter.</summary>
    Unknown,
}

/// <summary>One row of the process table.</summary>
/// <param name="Pid">The process id.</param>
/// <param name="ParentPid">Its parent's pid (1, or a subreaper, once the parent has died).</param>
/// <param name="State">Its state.</param>
/// <param name="Name">Its comm: the short name ps shows, at most 15 bytes.</param>
/// <param name="CommandLine">Its arguments joined by spaces; empty for a zombie or a kernel thread.</param>
/// <param name="StartedAt">When it started (UTC).</param>
public sealed record ProcessEntry(int Pid, int ParentPid, ProcessState State, string Name, string CommandLine, DateTime StartedAt)
{
    /// <summary>The STAT letter ps prints for <see cref="State"/>.</summary>
    public char StateLetter => State switch
    {
        ProcessState.Running => 'R',
        ProcessState.Sleeping => 'S',
        ProcessState.DiskSleep => 'D',
        ProcessState.Zombie => 'Z',
        ProcessState.Stopped => 'T',
        ProcessState.TracingStop => 't',
        ProcessState.Dead => 'X',
        ProcessState.Idle => 'I',
        _ => '?',
    };

    /// <summary>True for processes ForkKit started: workers ("forkkit: ..." titles) and the C shim's children.</summary>
    public bool IsForkKit => CommandLine.StartsWith("forkkit", StringComparison.Ordinal) || Name == "forkkit-child";
}

/// <summary>
/// The process table, read from /proc on Linux and from a Toolhelp snapshot on Windows: what
/// ps shows, for demos and for tests that check every child was reaped. Reading it never
/// waits for or reaps anything.
/// </summary>
public static partial class ProcessTable
{
    const string Proc = "/proc";

    /// <summary>Every process visible now. Processes that vanish while the table is read are left out.</summary>
    public static IReadOnlyList<ProcessEntry> Snapshot() =>
        OperatingSystem.IsWindows() ? ToolhelpSnapshot() : ProcSnapshot();

    /// <summary>The direct children of <paramref name="pid"/>, zombies included.</summary>
    /// <remarks>
    /// Windows never rewrites a parent pid, so a process whose parent died may name a newer
    /// process that got the same pid; only processes started after the parent count.
    /// </remarks>
    public static IReadOnlyList<ProcessEntry> ChildrenOf(int pid)
    {
        var table = Snapshot();
        var parent = table.FirstOrDefault(e => e.Pid == pid);
        return table.Where(e => e.ParentPid == pid && e.Pid != pid && (parent is null || e.StartedAt >= parent.StartedAt.AddSeconds(-1))).ToList();
    }

    /// <summary>One process, or null when there is none with that pid.</summary>
    public static ProcessEntry? Find(int pid) =>
        OperatingSystem.IsWindows() ? ToolhelpSnapshot().FirstOrDefault(e => e.Pid == pid) : ProcFind(pid);

    static IReadOnlyList<ProcessEntry> ProcSnapshot()
    {
        RequireProc();
        var entries = new List<ProcessEntry>();
        foreach (var dir in Directory.EnumerateDirectories(Proc))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                && Read(pid) is { } entry)
                entries.Add(entry);
        }
        entries.Sort((a, b) => a.Pid.CompareTo(b.Pid));
        return entries;
    }

    /// <summary>
    /// When a process started, in clock ticks since boot (/proc/PID/stat field 22); null when it
    /// does not exist. Two processes with one pid at different times differ here.
    /// </summary>
    internal static long? StartTicks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"{Proc}/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[19], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    static ProcessEntry? ProcFind(int pid)
    {
        RequireProc();
        return Read(pid);
    }

    static ProcessEntry? Read(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"{Proc}/{pid}/stat");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException or UnauthorizedAccessException)
        {
            return null; // it exited (and was reaped) between listing and reading
        }
        return Parse(pid, stat, ReadCommandLine(pid));
    }

    /// <summary>
    /// Parses /proc/PID/stat: "pid (comm) state ppid ... starttime ...". comm may itself hold
    /// spaces and parentheses, so it runs from the first '(' to the last ')'.
    /// </summary>
    internal static ProcessEntry? Parse(int pid, string stat, string commandLine)
    {
        int open = stat.IndexOf('('), close = stat.LastIndexOf(')');
        if (open < 0 || close < open) return null;
        var name = stat[(open + 1)..close];
        var fields = stat[(close + 2)..].Split(' ');
        if (fields.Length < 20) return null;
        var state = fields[0] switch
        {
            "R" => ProcessState.Running,
            "S" => ProcessState.Sleeping,
            "D" => ProcessState.DiskSleep,
            "Z" => ProcessState.Zombie,
            "T" => ProcessState.Stopped,
            "t" => ProcessState.TracingStop,
            "X" or "x" => ProcessState.Dead,
            "I" => ProcessState.Idle,
            _ => ProcessState.Unknown,
        };
        int ppid = int.Parse(fields[1], CultureInfo.InvariantCulture);
        // Field 22, starttime, counts clock ticks since boot; fields[] starts at field 3.
        long ticks = long.Parse(fields[19], CultureInfo.InvariantCulture);
        var started = BootTime.Value.AddSeconds(ticks / (double)ClockTicksPerSecond);
        return new ProcessEntry(pid, ppid, state, name, commandLine, started);
    }

    static string ReadCommandLine(int pid)
    {
        try
        {
            // Arguments are separated (and ended) by NUL bytes.
            return File.ReadAllText($"{Proc}/{pid}/cmdline").TrimEnd('\0').Replace('\0', ' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    // sysconf(_SC_CLK_TCK) is 100 on every Linux architecture the kit builds for.
    const int ClockTicksPerSecond = 100;

    static readonly Lazy<DateTime> BootTime = new(() =>
    {
        foreach (var line in File.ReadLines($"{Proc}/stat"))
            if (line.StartsWith("btime ", StringComparison.Ordinal))
                return DateTime.UnixEpoch.AddSeconds(long.Parse(line[6..], CultureInfo.InvariantCulture));
        return DateTime.UnixEpoch;
    });

    static void RequireProc()
    {
        if (!Directory.Exists($"{Proc}/self"))
            throw new PlatformNotSupportedException("the process table is read from /proc, which this system does not have (ForkKit reads it on Linux and, through Toolhelp, on Windows).");
    }
}
