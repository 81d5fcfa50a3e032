using System.Diagnostics;
using System.Globalization;
using ForkKit.Testing;

namespace ForkKit.Stress;

/// <summary>
/// What this process holds before a scenario: its descriptors, its children, ForkKit's names in
/// /dev/shm and its resident set. <see cref="Compare"/> tells what the scenario left behind.
/// </summary>
sealed class Before
{
    readonly LeakBaseline _baseline;
    readonly HashSet<string> _shm;
    readonly int _descriptors;
    readonly long _rssKiB;

    Before(LeakBaseline baseline, HashSet<string> shm, int descriptors, long rssKiB)
    {
        _baseline = baseline;
        _shm = shm;
        _descriptors = descriptors;
        _rssKiB = rssKiB;
    }

    public static Before Take()
    {
        long rss = SettledRssKiB();
        return new Before(LeakBaseline.Take(), ShmNames().ToHashSet(), CountDescriptors(), rss);
    }

    /// <summary>
    /// What is left now that was not there before: checked again every 20 ms until clean or
    /// <paramref name="grace"/> has passed (a worker or child on its way out is given that long).
    /// </summary>
    public Left Compare(TimeSpan grace)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            // The suite's own check: children of this process and of its fork server (not the
            // server itself), zombies among them, descriptors opened since the baseline.
            var report = ChildProcesses.FindLeaks(semaphores: false, descriptors: true, since: _baseline);
            var shm = ShmNames().Where(n => !_shm.Contains(n) && Ours(n)).ToList();
            if ((report.IsClean && shm.Count == 0) || clock.Elapsed >= grace)
            {
                long rss = SettledRssKiB();
                return new Left(CountDescriptors() - _descriptors, report.Descriptors, report.Children, shm, (rss - _rssKiB) / 1024.0);
            }
            Thread.Sleep(20);
        }
    }

    /// <summary>
    /// The descriptors in /proc/self/fd as the leak check lists them: less the fork server's
    /// socket and what the runtime opens on its own as code runs (the assemblies it maps, its
    /// double-mapped code heap).
    /// </summary>
    static int CountDescriptors() => OpenDescriptors.List().Count;

    /// <summary>Every name in /dev/shm with "forkkit" in it: sem.forkkit-PID-X (a semaphore), forkkit-PID-X (a Lock's shared word).</summary>
    static IEnumerable<string> ShmNames() =>
        Directory.Exists("/dev/shm") ? Directory.EnumerateFileSystemEntries("/dev/shm").Select(Path.GetFileName).OfType<string>().Where(n => n.Contains("forkkit", StringComparison.Ordinal)) : [];

    /// <summary>
    /// A name this run may have left: made by this process, or by a process that no longer
    /// exists (a child). A name whose maker still runs and is not this process belongs to some
    /// other program on the machine, not to this run.
    /// </summary>
    static bool Ours(string name)
    {
        var rest = name[(name.IndexOf("forkkit-", StringComparison.Ordinal) is var i and >= 0 ? i + "forkkit-".Length : name.Length)..];
        var digits = new string(rest.TakeWhile(char.IsAsciiDigit).ToArray());
        if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int creator)) return true;
        return creator == Environment.ProcessId || !Directory.Exists($"/proc/{creator}");
    }

    /// <summary>VmRSS after a full, compacting collection, so the figure is what this process keeps, not garbage waiting for the GC.</summary>
    static long SettledRssKiB()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }
}

/// <summary>What one scenario left behind.</summary>
/// <param name="DescriptorDelta">Descriptors open now minus before (the server's socket and the runtime's own not counted).</param>
/// <param name="NewDescriptors">Descriptors open now that were not before, as "fd -> what".</param>
/// <param name="Children">Children (and fork-server children) still there: running, or zombies.</param>
/// <param name="Shm">ForkKit names in /dev/shm made during the scenario and still there.</param>
/// <param name="RssGrowthMiB">This process's resident set now minus before, after a full collection each time.</param>
sealed record Left(int DescriptorDelta, IReadOnlyList<string> NewDescriptors, IReadOnlyList<LeakedChild> Children, IReadOnlyList<string> Shm, double RssGrowthMiB);
