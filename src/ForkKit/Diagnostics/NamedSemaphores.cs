using System.Globalization;
using ForkKit.Platform;

namespace ForkKit.Diagnostics;

/// <summary>One of ForkKit's named semaphores as the OS lists it.</summary>
/// <param name="Name">The semaphore's name without the leading slash, e.g. "forkkit-4242-1a2b3c".</param>
/// <param name="CreatorPid">The pid of the process that created it (the name's second part).</param>
/// <param name="Path">Where it appears in the file system (/dev/shm/sem.NAME on Linux).</param>
public sealed record NamedSemaphoreEntry(string Name, int CreatorPid, string Path);

/// <summary>
/// ForkKit's named semaphores: every one is called "forkkit-CREATORPID-SUFFIX", so a leak can be
/// traced to the process that made it. On Linux a POSIX named semaphore is the file
/// /dev/shm/sem.NAME until sem_unlink removes it.
/// </summary>
public static class NamedSemaphores
{
    /// <summary>The prefix of every ForkKit semaphore name.</summary>
    public const string Prefix = "forkkit-";

    /// <summary>A fresh name for a semaphore created by this process.</summary>
    public static string NewName() =>
        $"{Prefix}{Environment.ProcessId}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6))}";

    /// <summary>Every ForkKit semaphore that exists now (Linux: listed from /dev/shm; elsewhere: none can be listed).</summary>
    public static IReadOnlyList<NamedSemaphoreEntry> List() =>
        Os.Kernel.ListSemaphores(Prefix).Select(s => new NamedSemaphoreEntry(s.Name, CreatorOf(s.Name), s.Path)).ToList();

    /// <summary>The creator's pid from a name "forkkit-CREATORPID-SUFFIX"; 0 when the name has none.</summary>
    internal static int CreatorOf(string name)
    {
        var parts = name[Prefix.Length..].Split('-', 2);
        return int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : 0;
    }

    /// <summary>The ForkKit semaphores created by <paramref name="pid"/> that still exist.</summary>
    public static IReadOnlyList<NamedSemaphoreEntry> CreatedBy(int pid) => List().Where(e => e.CreatorPid == pid).ToList();
}
