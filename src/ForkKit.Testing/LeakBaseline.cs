using ForkKit.Diagnostics;

namespace ForkKit.Testing;

/// <summary>
/// What this process had before the code under test ran: its children, ForkKit's named
/// semaphores and shared memory, and its open descriptors. A check against a baseline reports
/// only what is new.
/// </summary>
public sealed class LeakBaseline
{
    LeakBaseline(IReadOnlySet<int> children, IReadOnlySet<string> semaphores, IReadOnlySet<string> sharedMemory, IReadOnlySet<string> descriptors)
    {
        Children = children;
        Semaphores = semaphores;
        SharedMemory = sharedMemory;
        Descriptors = descriptors;
    }

    internal IReadOnlySet<int> Children { get; }
    internal IReadOnlySet<string> Semaphores { get; }
    internal IReadOnlySet<string> SharedMemory { get; }
    internal IReadOnlySet<string> Descriptors { get; }

    /// <summary>Records the current state; pass it to <see cref="ChildProcesses.AssertAllReaped"/> later.</summary>
    public static LeakBaseline Take() => new(
        ChildProcesses.OwnChildren(Environment.ProcessId).Select(e => e.Pid).ToHashSet(),
        NamedSemaphores.List().Select(s => s.Name).ToHashSet(),
        NamedSharedMemory.List().Select(s => s.Name).ToHashSet(),
        OpenDescriptors.List().ToHashSet());
}

/// <summary>This process's open descriptors, as "fd -> what" lines from /proc/self/fd.</summary>
static class OpenDescriptors
{
    public static IReadOnlyList<string> List()
    {
        if (!Directory.Exists("/proc/self/fd")) return [];
        var lines = new List<string>();
        foreach (var path in Directory.EnumerateFiles("/proc/self/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(path).LinkTarget;
            }
            catch (IOException)
            {
                continue; // closed while listing (the enumeration's own descriptor, for one)
            }
            if (target is null || IsRuntimeOwn(target) || IsKitOwn(Path.GetFileName(path))) continue;
            lines.Add($"{Path.GetFileName(path)} -> {target}");
        }
        return lines;
    }

    /// <summary>
    /// Descriptors ForkKit keeps for the life of the process once it has made them: those it
    /// holds for the fork server (its socket, the server's pidfd and exit report), and its parent
    /// watch, the pipe whose closing tells the children that must not outlive it that it has ended.
    /// </summary>
    static bool IsKitOwn(string fd) =>
        Launching.ForkServerLauncher.ServerDescriptors.Concat(Unix.ChildLinks.ParentWatchDescriptors).Any(own => own.ToString() == fd);

    /// <summary>
    /// Descriptors the .NET runtime opens on its own as code runs: the assembly files it maps
    /// and its double-mapped code heap. They are not the test's doing.
    /// </summary>
    static bool IsRuntimeOwn(string target) =>
        target.EndsWith(".dll", StringComparison.Ordinal) || target.StartsWith("/memfd:doublemapper", StringComparison.Ordinal);
}
