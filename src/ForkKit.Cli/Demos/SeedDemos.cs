using System.Diagnostics;
using System.Globalization;

namespace ForkKit.Cli.Demos;

/// <summary>
/// The seed article's examples, in C#. Each prints the article's Start Time / End Time /
/// Execute Time lines so its timing can be compared with the Python original.
/// </summary>
static class SeedDemos
{
    public static Demo[] All =>
    [
        new("process", "One child runs square(3), sleeping 3-5 s; the parent joins it. Execute Time: about the sleep.", Done(OneProcess)),
        new("processes", "Four children start first and are joined afterwards: Execute Time is the longest sleep, not the sum.", Done(FourProcesses)),
        new("no-join", "Four children, no join: End Time prints at once, the children's lines arrive later.", Done(NoJoin)),
        new("list", "Five children built from a list (range(5)), all started, then all joined.", Done(ProcessList)),
        new("apply", "Pool(4).Apply(square, n) for n in range(5): Apply blocks, so the calls run one after another (about the sum).", Done(PoolApply), Pool: true),
        new("apply-async", "ApplyAsync returns AsyncResult objects at once; Get() then blocks; a callback prints each result as it comes.", Done(PoolApplyAsync), Pool: true),
        new("map", "Pool(4).Map(square, [2, 4, 6, 8, 10]): lines in completion order, the list in input order (about two sleeps).", Done(PoolMap), Pool: true),
        new("map-async", "MapAsync with a callback: returns at once, the callback gets the whole list.", Done(PoolMapAsync), Pool: true),
        new("lock", "Four processes share one Lock: each prints its two lines holding it, so no output interleaves.", Done(LockDemo)),
    ];

    static Func<DemoOptions, int> Done(Action<DemoOptions> run) => o =>
    {
        run(o);
        return 0;
    };

    /// <summary>The sleep scale children read (1, or 0.1 with --fast); set before any child starts so they inherit it.</summary>
    const string ScaleVariable = "FORKKIT_DEMO_SCALE";

    public static void UseScale(double scale) =>
        Environment.SetEnvironmentVariable(ScaleVariable, scale.ToString(CultureInfo.InvariantCulture));

    static double Scale =>
        double.TryParse(Environment.GetEnvironmentVariable(ScaleVariable), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) ? s : 1.0;

    /// <summary>The article's target: sleep 3-5 s (times the demo's scale), print, return n squared.</summary>
    public static int Square(int n)
    {
        int seconds = Random.Shared.Next(3, 6);
        Thread.Sleep(TimeSpan.FromSeconds(seconds * Scale));
        Console.WriteLine($"Sleep {seconds} Seconds......");
        int result = n * n;
        Console.WriteLine($"{n} squared is {result}");
        return result;
    }

    static void OneProcess(DemoOptions o) => Timed(() =>
    {
        var p = new Process(Square, 3);
        p.Start();
        p.Join();
    });

    static void FourProcesses(DemoOptions o) => Timed(() =>
    {
        var processes = Enumerable.Range(0, 4).Select(_ => new Process(Square, 3)).ToList();
        foreach (var p in processes) p.Start();
        foreach (var p in processes) p.Join();
    });

    static void NoJoin(DemoOptions o) => Timed(() =>
    {
        // No Join: the parent runs on and prints End Time while the children sleep. The
        // children are still joined when the parent exits, as in Python, so none is orphaned.
        for (int i = 0; i < 4; i++) new Process(Square, 3).Start();
    });

    static void ProcessList(DemoOptions o) => Timed(() =>
    {
        var processes = Enumerable.Range(0, 5).Select(n => new Process(Square, n)).ToList();
        foreach (var p in processes) p.Start();
        foreach (var p in processes) p.Join();
    });

    static void PoolApply(DemoOptions o) => Timed(() =>
    {
        using var pool = new Pool(4);
        var results = Enumerable.Range(0, 5).Select(n => pool.Apply(Square, n)).ToList();
        Console.WriteLine(PythonList(results));
    });

    static void PoolApplyAsync(DemoOptions o)
    {
        using var pool = new Pool(4);
        List<AsyncResult<int>> results = [];
        // First half, as the article: the calls return at once, before any result.
        Timed(() =>
        {
            results = Enumerable.Range(0, 5).Select(n => pool.ApplyAsync(Square, n)).ToList();
            Console.WriteLine(PythonList(results));
        });
        Console.WriteLine(PythonList(results.Select(r => r.Get())));
        // Second half: a callback prints each result as its task finishes.
        Timed(() =>
        {
            for (int n = 0; n < 5; n++) pool.ApplyAsync(Square, n, callback: r => Console.WriteLine($"callback: {r}"));
            pool.Close();
            pool.Join();
        });
    }

    static void PoolMap(DemoOptions o) => Timed(() =>
    {
        using var pool = new Pool(4);
        Console.WriteLine(PythonList(pool.Map(Square, new[] { 2, 4, 6, 8, 10 })));
    });

    static void PoolMapAsync(DemoOptions o) => Timed(() =>
    {
        using var pool = new Pool(4);
        var result = pool.MapAsync(Square, new[] { 2, 4, 6, 8, 10 }, callback: r => Console.WriteLine($"callback: {PythonList(r)}"));
        Console.WriteLine(result);
        pool.Close();
        pool.Join();
    });

    /// <summary>The article's Lock example: square, run while holding the shared lock.</summary>
    public static int SquareLocked(int n, Lock lk)
    {
        using (lk.Hold())
            return Square(n);
    }

    static void LockDemo(DemoOptions o) => Timed(() =>
    {
        using var lk = new Lock();
        Console.WriteLine($"the lock: /dev/shm/sem.{lk.Name}");
        var processes = Enumerable.Range(0, 4).Select(n => new Process(SquareLocked, n, lk)).ToList();
        foreach (var p in processes) p.Start();
        foreach (var p in processes) p.Join();
    });

    /// <summary>A list as Python prints one: [4, 16, 36].</summary>
    static string PythonList<T>(IEnumerable<T> items) => "[" + string.Join(", ", items) + "]";

    /// <summary>Prints the article's three timing lines around <paramref name="body"/>.</summary>
    internal static void Timed(Action body)
    {
        var clock = Stopwatch.StartNew();
        Console.WriteLine($"Start Time....{Epoch()}");
        body();
        Console.WriteLine($"End Time......{Epoch()}");
        Console.WriteLine($"Execute Time......{clock.Elapsed.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture)}");
    }

    static string Epoch() =>
        (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0).ToString("0.000", CultureInfo.InvariantCulture);
}
