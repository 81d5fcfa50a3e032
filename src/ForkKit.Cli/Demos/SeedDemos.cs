using System.Diagnostics;
using System.Globalization;

namespace ForkKit.Cli.Demos;

/// <summary>How a demo runs: <see cref="Scale"/> multiplies every sleep (1 normally, 0.1 with --fast).</summary>
sealed record DemoOptions(double Scale);

/// <summary>
/// The seed article's examples, in C#. Each prints the article's Start Time / End Time /
/// Execute Time lines so its timing can be compared with the Python original.
/// </summary>
static class SeedDemos
{
    public static readonly (string Name, string Description, Action<DemoOptions> Run)[] All =
    [
        ("process", "One child runs square(3), sleeping 3-5 s; the parent joins it. Execute Time: about the sleep.", OneProcess),
        ("processes", "Four children start first and are joined afterwards: Execute Time is the longest sleep, not the sum.", FourProcesses),
        ("no-join", "Four children, no join: End Time prints at once, the children's lines arrive later.", NoJoin),
        ("list", "Five children built from a list (range(5)), all started, then all joined.", ProcessList),
    ];

    /// <summary>The article's target: sleep 3-5 s, print, return n squared.</summary>
    public static int Square(int n, double scale)
    {
        int seconds = Random.Shared.Next(3, 6);
        Thread.Sleep(TimeSpan.FromSeconds(seconds * scale));
        Console.WriteLine($"Sleep {seconds} Seconds......");
        int result = n * n;
        Console.WriteLine($"{n} squared is {result}");
        return result;
    }

    static void OneProcess(DemoOptions o) => Timed(() =>
    {
        var p = new Process(Square, 3, o.Scale);
        p.Start();
        p.Join();
    });

    static void FourProcesses(DemoOptions o) => Timed(() =>
    {
        var processes = Enumerable.Range(0, 4).Select(_ => new Process(Square, 3, o.Scale)).ToList();
        foreach (var p in processes) p.Start();
        foreach (var p in processes) p.Join();
    });

    static void NoJoin(DemoOptions o) => Timed(() =>
    {
        // No Join: the parent runs on and prints End Time while the children sleep. The
        // children are still joined when the parent exits, as in Python, so none is orphaned.
        for (int i = 0; i < 4; i++) new Process(Square, 3, o.Scale).Start();
    });

    static void ProcessList(DemoOptions o) => Timed(() =>
    {
        var processes = Enumerable.Range(0, 5).Select(n => new Process(Square, n, o.Scale)).ToList();
        foreach (var p in processes) p.Start();
        foreach (var p in processes) p.Join();
    });

    /// <summary>Prints the article's three timing lines around <paramref name="body"/>.</summary>
    static void Timed(Action body)
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
