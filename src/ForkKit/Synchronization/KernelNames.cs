using System.Collections.Concurrent;
using ForkKit.Diagnostics;
using ForkKit.Platform;

namespace ForkKit.Synchronization;

/// <summary>
/// Names of the kernel objects this process created: fresh ones made with O_CREAT|O_EXCL and
/// retried on a collision, each registered with the resource tracker before it exists, and all
/// removed when the process exits normally (the tracker covers the other ways to die).
/// </summary>
static class KernelNames
{
    static readonly ConcurrentDictionary<string, bool> s_live = new();
    static int s_exitHook;

    /// <summary>Tries fresh names until <paramref name="create"/> succeeds without finding the name taken (EEXIST, ERROR_ALREADY_EXISTS).</summary>
    public static T CreateUnique<T>(Func<IKernelObjects, string, T> create)
    {
        var kernel = Os.Kernel;
        InstallExitHook();
        for (int attempt = 0; ; attempt++)
        {
            var name = NewName();
            // A name already live here belongs to another object of this process: this attempt
            // will collide, and must leave that object's registration alone.
            bool registered = s_live.TryAdd(name, true);
            if (registered) kernel.Track(name);
            try
            {
                return create(kernel, name);
            }
            catch (Exception e) when (kernel.IsNameTaken(e) && attempt < 100)
            {
                // Someone else has this name: leave their objects alone, forget it, try another.
                if (registered && s_live.TryRemove(name, out _)) kernel.Untrack(name);
            }
            catch
            {
                if (registered) Remove(name);
                throw;
            }
        }
    }

    /// <summary>The source of fresh names; tests replace it to force a collision.</summary>
    internal static Func<string> NewName = NamedSemaphores.NewName;

    /// <summary>Unlinks a name this process created and stops tracking it.</summary>
    public static void Remove(string name)
    {
        if (!s_live.TryRemove(name, out _)) return;
        var kernel = Os.Kernel;
        kernel.Remove(name);
        kernel.Untrack(name);
    }

    /// <summary>Names this process opened as it received them from its parent (a Lock argument).</summary>
    static readonly ConcurrentDictionary<string, bool> s_opened = new();

    /// <summary>Remembers that this process was handed <paramref name="name"/> by its parent and opened it.</summary>
    public static void NoteOpened(string name) => s_opened.TryAdd(name, true);

    /// <summary>
    /// True for a name this process created and has not removed, or opened as its parent handed
    /// it over: the only names a worker's result may make it open.
    /// </summary>
    public static bool KnownHere(string name) => s_live.ContainsKey(name) || s_opened.ContainsKey(name);

    /// <summary>In a child forked by StartMethod.Fork: the parent's names are not this process's to remove.</summary>
    internal static void ForgetNamesInForkedChild()
    {
        // Still known here: the child holds the parent's objects and may hand them on and get them back.
        foreach (var name in s_live.Keys) s_opened.TryAdd(name, true);
        s_live.Clear();
    }

    static void InstallExitHook()
    {
        if (Interlocked.Exchange(ref s_exitHook, 1) != 0) return;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var name in s_live.Keys) Remove(name);
        };
    }
}
