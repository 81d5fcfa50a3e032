using ForkKit.Platform;

namespace ForkKit.Diagnostics;

/// <summary>One of ForkKit's named shared memory objects as the OS lists it.</summary>
/// <param name="Name">The object's name without the leading slash: the name of the Lock it belongs to.</param>
/// <param name="CreatorPid">The pid of the process that created it (the name's second part).</param>
/// <param name="Path">Where it appears in the file system (/dev/shm/NAME on Linux).</param>
public sealed record NamedSharedMemoryEntry(string Name, int CreatorPid, string Path);

/// <summary>
/// ForkKit's named shared memory: a Lock keeps its owner word (the holder's pid, read to tell an
/// abandoned lock) in a shared memory object named as its semaphore. On Linux that is the file
/// /dev/shm/NAME, next to the semaphore's /dev/shm/sem.NAME, until shm_unlink removes it.
/// </summary>
public static class NamedSharedMemory
{
    /// <summary>Every ForkKit shared memory object that exists now (Linux: listed from /dev/shm; elsewhere: none can be listed).</summary>
    public static IReadOnlyList<NamedSharedMemoryEntry> List() =>
        Os.Kernel.ListSharedMemory(NamedSemaphores.Prefix)
            .Select(s => new NamedSharedMemoryEntry(s.Name, NamedSemaphores.CreatorOf(s.Name), s.Path))
            .ToList();

    /// <summary>The ForkKit shared memory objects created by <paramref name="pid"/> that still exist.</summary>
    public static IReadOnlyList<NamedSharedMemoryEntry> CreatedBy(int pid) => List().Where(e => e.CreatorPid == pid).ToList();
}
