using System.Globalization;
using ForkKit.Diagnostics;

namespace ForkKit.Unix;

/// <summary>
/// The Linux process table: one directory per process under /proc, its state, parent and start
/// time in /proc/PID/stat (proc(5)) and its arguments in /proc/PID/cmdline. Zombies are listed
/// (state Z) until their parent reaps them.
/// </summary>
static class ProcFs
{
    const string Proc = "/proc";

    /// <summary>Every process visible now, sorted by pid; processes that vanish while the table is read are left out.</summary>
    public static IReadOnlyList<ProcessEntry> Snapshot()
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

    public static ProcessEntry? Find(int pid)
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
