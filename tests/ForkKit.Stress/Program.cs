// ForkKit.Stress: Process, Pool and Lock under load (`make stress`). Each scenario runs, then
// this process is checked for what it left: descriptors, children (its own and its fork
// server's), zombies, ForkKit names in /dev/shm, and how much its resident set grew. One line per
// scenario; the exit code is 1 when any scenario lost or leaked anything.
//
// STRESS_SCALE (default 1) multiplies every count: `make test` runs it at 0.02. Naming scenarios
// on the command line runs only those: ForkKit.Stress pool kill. The scenario "self-check" runs
// only when named: it leaves a descriptor, a zombie, a Lock's names and 80 MiB behind on purpose,
// so that the checks can be seen to catch each (it must end LOST, with exit code 1).
using System.Diagnostics;
using System.Globalization;

namespace ForkKit.Stress;

static class Program
{
    /// <summary>
    /// How much this process's resident set may grow over one scenario. The load test's own
    /// bookkeeping (a Map's result list, the tally) is freed before the figure is read; what
    /// remains is the runtime's heap and code, which settle within a few MiB. A leak of one
    /// descriptor, buffer or thread per child would pass this bound by far at full scale.
    /// </summary>
    const double RssGrowthLimitMiB = 64;

    /// <summary>How long a child or worker on its way out is given before it counts as left behind.</summary>
    static readonly TimeSpan Grace = TimeSpan.FromSeconds(5);

    /// <param name="Afterwards">Runs after the check: how the self-check undoes its leaks.</param>
    sealed record Scenario(string Name, string What, Func<Outcome> Run, Action? Afterwards = null);

    static int Main(string[] args)
    {
        var scaleText = Environment.GetEnvironmentVariable("STRESS_SCALE");
        double scale = 1;
        if (!string.IsNullOrEmpty(scaleText)
            && (!double.TryParse(scaleText, NumberStyles.Float, CultureInfo.InvariantCulture, out scale) || scale <= 0 || scale > 10))
        {
            Console.Error.WriteLine($"stress: STRESS_SCALE={scaleText} is not a number in (0, 10]; it multiplies every count (1: the full load, 0.02: the trimmed one `make test` runs)");
            return 2;
        }
        int Scaled(int full, int least) => Math.Max(least, (int)Math.Round(full * scale));

        int spawnCycles = Scaled(2_000, 20), forkServerCycles = Scaled(10_000, 50);
        int poolWorkers = Scaled(64, 4), poolTasks = Scaled(100_000, 600);
        int terminated = Scaled(100, 10);
        int lockProcesses = 8, lockTimes = Scaled(10_000, 100);
        int killWorkers = 8, kills = Scaled(1_000, 20);
        Scenario[] all =
        [
            new("spawn", $"{spawnCycles} Spawn start/join cycles", () => Scenarios.StartJoin(spawnCycles, StartMethod.Spawn)),
            new("forkserver", $"{forkServerCycles} ForkServer start/join cycles", () => Scenarios.StartJoin(forkServerCycles, StartMethod.ForkServer)),
            new("pool", $"Pool({poolWorkers}) running {poolTasks} tasks", () => Scenarios.PoolTasks(poolWorkers, poolTasks)),
            new("terminate", $"{terminated} processes terminated right after Start", () => Scenarios.TerminateAfterStart(terminated)),
            new("lock", $"{lockProcesses} processes x {lockTimes} acquisitions of one Lock", () => Scenarios.LockCounter(lockProcesses, lockTimes)),
            new("kill", $"{kills} SIGKILLs to workers of a ForkServer Pool({killWorkers}) under load", () => Scenarios.KillWorkers(killWorkers, kills)),
        ];
        var leaks = new SelfCheck();
        Scenario[] named = [.. all, new("self-check", "leaves a descriptor, a zombie, a Lock's names and 80 MiB behind on purpose", leaks.Leave, leaks.Undo)];
        var unknown = args.Where(a => named.All(s => s.Name != a)).ToList();
        if (unknown.Count > 0)
        {
            Console.Error.WriteLine($"stress: no scenario named {string.Join(", ", unknown)}; the scenarios are {string.Join(", ", named.Select(s => s.Name))} (none named: all but self-check)");
            return 2;
        }
        var chosen = args.Length == 0 ? all : named.Where(s => args.Contains(s.Name)).ToArray();

        Console.WriteLine(FormattableString.Invariant(
            $"forkkit stress: scale {scale:0.###}, pid {Environment.ProcessId}, {Environment.ProcessorCount} cpus, .NET {Environment.Version}"));
        Console.WriteLine("the children's stderr carries a stack trace for each child of the mix that throws on purpose (a fifth of the start/join cycles)");
        WarmUp();

        int failed = 0;
        var total = Stopwatch.StartNew();
        foreach (var scenario in chosen)
        {
            Console.WriteLine($"== {scenario.Name}: {scenario.What}");
            var before = Before.Take();
            var clock = Stopwatch.StartNew();
            Outcome outcome;
            try
            {
                outcome = scenario.Run();
            }
            catch (Exception e)
            {
                outcome = new Outcome("did not finish", [$"threw {e}"]);
            }
            double seconds = clock.Elapsed.TotalSeconds;
            var left = before.Compare(Grace);

            var losses = outcome.Losses.ToList();
            if (left.NewDescriptors.Count > 0)
                losses.Add($"{left.NewDescriptors.Count} descriptor(s) opened during the scenario still open: {string.Join("; ", left.NewDescriptors.Take(10))}");
            if (left.Children.Count > 0)
                losses.Add($"{left.Children.Count} child(ren) left: {string.Join("; ", left.Children.Take(10).Select(c => $"pid {c.Pid} {c.State} {c.Command}"))}");
            if (left.Shm.Count > 0)
                losses.Add($"{left.Shm.Count} name(s) left in /dev/shm: {string.Join(", ", left.Shm.Take(10))}");
            if (left.RssGrowthMiB > RssGrowthLimitMiB)
                losses.Add(FormattableString.Invariant($"resident set grew {left.RssGrowthMiB:F1} MiB, more than the {RssGrowthLimitMiB} MiB allowed"));

            Console.WriteLine(FormattableString.Invariant(
                $"{scenario.Name,-10} {outcome.Figures}; {seconds:F1} s; fds {left.DescriptorDelta:+0;-0;+0}; children left {left.Children.Count}; shm left {left.Shm.Count}; rss {left.RssGrowthMiB:+0.0;-0.0;+0.0} MiB; {(losses.Count == 0 ? "OK" : "LOST")}"));
            foreach (var loss in losses) Console.WriteLine($"  {loss}");
            if (losses.Count > 0) failed++;
            scenario.Afterwards?.Invoke();
        }
        Console.WriteLine(FormattableString.Invariant(
            $"stress: {chosen.Length - failed} of {chosen.Length} scenarios lost and leaked nothing, in {total.Elapsed.TotalSeconds:F1} s{(failed == 0 ? "" : $"; {failed} FAILED")}"));
        return failed == 0 ? 0 : 1;
    }

    /// <summary>
    /// One of each before any baseline: the runtime opens some descriptors and maps some code
    /// the first time a child is started, a pool runs or a Lock is made, once per process. The
    /// fork server is started here too: this process keeps its socket and a pidfd of it for as
    /// long as the server lives, which is as long as this process. None of that is any
    /// scenario's doing.
    /// </summary>
    static void WarmUp()
    {
        foreach (var method in new[] { StartMethod.Spawn, StartMethod.ForkServer })
        {
            using var p = new Process(Nothing) { StartMethod = method };
            p.Start();
            p.Join();
        }
        using (var pool = new Pool(1))
        {
            pool.Map(Same, [1]);
            pool.Close();
            pool.Join();
        }
        using var lk = new Lock();
        lk.Acquire();
        lk.Release();
    }

    static void Nothing() { }

    static int Same(int x) => x;
}

/// <summary>The leaks the self-check leaves on purpose, kept until <see cref="Undo"/>.</summary>
sealed class SelfCheck
{
    Microsoft.Win32.SafeHandles.SafeFileHandle? _descriptor;
    Process? _zombie;
    Lock? _lock;
    byte[]? _memory;

    public Outcome Leave()
    {
        _descriptor = File.OpenHandle("/dev/null");
        _zombie = new Process(Exit);
        _zombie.Start();
        // Ended, not joined: a zombie until Undo joins it.
        var clock = Stopwatch.StartNew();
        while (!_zombie.HasExited && clock.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(10);
        _lock = new Lock();
        _memory = new byte[80 << 20];
        Array.Fill(_memory, (byte)1); // touched, so resident
        return new Outcome("a descriptor, a zombie, a Lock and 80 MiB left on purpose", []);
    }

    public void Undo()
    {
        _descriptor?.Dispose();
        _zombie?.Join();
        _zombie?.Dispose();
        _lock?.Dispose();
        _memory = null;
    }

    static void Exit() { }
}
