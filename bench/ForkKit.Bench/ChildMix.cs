// Shared by bench/ForkKit.Bench (`forkserver-many`) and tests/ForkKit.Stress (the Spawn and
// ForkServer cycles): each program compiles it into its own assembly, so the children's targets
// are found in the assembly of the program that started them.
using System.Globalization;
using ForkKit;

namespace ForkKit.Bench;

/// <summary>
/// Children started and joined one after another, a fifth each that return, throw, allocate and
/// collect, use the thread pool, or are terminated right after Start; every exit code is checked.
/// </summary>
static class ChildMix
{
    /// <summary>How a run of the mix ended.</summary>
    /// <param name="AsExpected">Children that ended with the exit code their kind must give.</param>
    /// <param name="OtherCodes">Children that ended with another exit code.</param>
    /// <param name="Hung">Children that had not ended within the limit (then killed and reaped).</param>
    /// <param name="FirstWrong">The first few children that did not end as expected, one line each.</param>
    public sealed record Tally(int AsExpected, int OtherCodes, int Hung, IReadOnlyList<string> FirstWrong);

    /// <summary>
    /// Starts and joins <paramref name="n"/> children with <paramref name="method"/>, one at a
    /// time; a child not ended <paramref name="limit"/> after its start counts as hung.
    /// </summary>
    public static Tally Run(int n, StartMethod method, TimeSpan limit)
    {
        int ok = 0, wrong = 0, hung = 0;
        var firstWrong = new List<string>();
        for (int i = 0; i < n; i++)
        {
            (string kind, Delegate target, object arg, int expected) = (i % 5) switch
            {
                0 => ("returns", (Delegate)new Action<int>(Sleep), (object)0, 0),
                1 => ("throws", new Action<string>(Throw), "on purpose", 1),
                2 => ("allocates", new Action<int>(AllocateAndCollect), 1000, 0),
                3 => ("uses the thread pool", new Action<int>(UseThreadPool), 8, 0),
                _ => ("terminated", new Action<int>(Sleep), 60_000, -15),
            };
            using var p = new ForkKit.Process(target, arg) { StartMethod = method };
            p.Start();
            if (expected == -15) p.Terminate();
            string? why = null;
            if (!p.Join(limit))
            {
                hung++;
                why = $"not ended within {limit.TotalSeconds:0} s; {Where(p.Pid)}";
                p.Kill();
                p.Join();
            }
            else if (p.ExitCode == expected) ok++;
            else
            {
                wrong++;
                why = $"exit code {p.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "none"}, expected {expected}";
            }
            if (why is not null && firstWrong.Count < 5) firstWrong.Add($"child {i} ({kind}, pid {p.Pid}): {why}");
        }
        return new Tally(ok, wrong, hung, firstWrong);
    }

    /// <summary>What a hung child is doing, from /proc: its state and, per thread, the kernel function it waits in and its system call.</summary>
    static string Where(int? pid)
    {
        if (pid is null) return "no pid";
        try
        {
            var state = File.ReadAllLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("State:", StringComparison.Ordinal))?[6..].Trim();
            var threads = Directory.GetDirectories($"/proc/{pid}/task").Select(t =>
            {
                string Read(string file)
                {
                    try
                    {
                        return File.ReadAllText(Path.Combine(t, file)).Trim();
                    }
                    catch (IOException)
                    {
                        return "?";
                    }
                    catch (UnauthorizedAccessException)
                    {
                        return "?";
                    }
                }
                return $"{Path.GetFileName(t)} {Read("comm")}: wchan {Read("wchan")}, syscall {Read("syscall").Split(' ')[0]}";
            });
            return $"state {state}; threads: {string.Join("; ", threads)}";
        }
        catch (IOException)
        {
            return "gone from /proc";
        }
    }

    static void Sleep(int ms) => Thread.Sleep(ms);

    static void Throw(string why) => throw new InvalidOperationException(why);

    static void AllocateAndCollect(int count)
    {
        var keep = new List<byte[]>();
        for (int i = 0; i < count; i++) keep.Add(new byte[1024]);
        GC.Collect();
    }

    static void UseThreadPool(int tasks) => Task.WaitAll(Enumerable.Range(0, tasks).Select(i => Task.Run(() => i * i)).ToArray());
}
