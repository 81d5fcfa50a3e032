using System.Text;

namespace ForkKit.Unix;

/// <summary>
/// Whether this process may fork and go on running managed code in the child (docs/design.md,
/// facts 1 and 1b). Only a runtime started with JIT code mapped once (no W^X double mapping),
/// without tiered compilation's background thread and without the concurrent GC's thread
/// forks dependably, and only while the forking thread is the only one doing work.
/// </summary>
public static class ForkSafety
{
    /// <summary>The environment variables, and their values, the process must start with.</summary>
    public static IReadOnlyDictionary<string, string> Settings { get; } = new Dictionary<string, string>
    {
        // JIT'd code in a MAP_SHARED memfd would be shared with the child, which then writes
        // into the parent's code heap.
        ["DOTNET_EnableWriteXorExecute"] = "0",
        // The tiering thread can hold a lock at the moment of fork; the child waits on it for ever.
        ["DOTNET_TieredCompilation"] = "0",
        // The background GC thread likewise does not exist in the child.
        ["DOTNET_gcConcurrent"] = "0",
    };

    /// <summary>
    /// True only when this process started with every one of <see cref="Settings"/>. Read from
    /// the environment the process was started with (/proc/self/environ), which is what the
    /// runtime read: setting a variable later changes nothing in a runtime that is already running.
    /// </summary>
    public static bool IsEnabled { get; } = Settings.All(s => StartEnvironment().TryGetValue(s.Key, out var v) && v == s.Value);

    /// <summary>"DOTNET_EnableWriteXorExecute=0 DOTNET_TieredCompilation=0 DOTNET_gcConcurrent=0", for messages and command lines.</summary>
    public static string SettingsText => string.Join(" ", Settings.Select(s => $"{s.Key}={s.Value}"));

    /// <summary>
    /// The threads this program started itself (by their ps names): everything but the main
    /// thread and the runtime's own service threads, whose names start with ".NET ", except the
    /// thread pool's, which run the program's work.
    /// </summary>
    internal static IReadOnlyList<string> OwnThreads()
    {
        var own = new List<string>();
        var self = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
            {
                if (Path.GetFileName(task) == self) continue; // the main thread
                string comm;
                try
                {
                    comm = File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n');
                }
                catch (IOException)
                {
                    continue; // it ended while we looked
                }
                bool runtimeService = comm.StartsWith(".NET ", StringComparison.Ordinal) && !comm.StartsWith(".NET TP", StringComparison.Ordinal);
                if (!runtimeService) own.Add(comm);
            }
        }
        catch (DirectoryNotFoundException)
        {
            // No /proc: nothing to say.
        }
        return own;
    }

    static Dictionary<string, string> StartEnvironment()
    {
        var vars = new Dictionary<string, string>();
        byte[] environ;
        try
        {
            environ = File.ReadAllBytes("/proc/self/environ");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Without /proc, the runtime's copy is the best there is.
            foreach (var key in Settings.Keys)
                if (Environment.GetEnvironmentVariable(key) is { } value) vars[key] = value;
            return vars;
        }
        foreach (var entry in Encoding.UTF8.GetString(environ).Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = entry.IndexOf('=');
            if (eq > 0) vars[entry[..eq]] = entry[(eq + 1)..];
        }
        return vars;
    }
}
