using System.Globalization;
using System.Text.RegularExpressions;
using ForkKit.Tests.Support;

namespace ForkKit.Tests;

/// <summary>
/// The seed article's demos, run through the forkkit command, most with --fast (sleeps of
/// 0.3-0.5 s). The two that show children running at the same time by the total time run at
/// full scale (sleeps of 3-5 s): there the sum of the sleeps exceeds the longest by seconds,
/// more than a loaded machine adds by starting the children.
/// </summary>
public class CliDemoTests
{
    static Repo.Result Forkkit(params string[] args) =>
        Repo.Run(Repo.Dotnet, ["exec", Path.Combine(Repo.OutputDir, "ForkKit.Cli.dll"), .. args], TimeSpan.FromMinutes(2));

    static Repo.Result Demo(string name, bool fast = true)
    {
        var r = fast ? Forkkit("demo", name, "--fast") : Forkkit("demo", name);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Stdout + r.Stderr);
        return r;
    }

    static List<double> ExecuteTimes(string stdout) =>
        Regex.Matches(stdout, @"Execute Time\.\.\.\.\.\.([0-9.]+)").Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();

    /// <summary>The sleeps the children printed, in seconds as they really slept (--fast: a tenth).</summary>
    static List<double> Sleeps(string stdout, bool fast = true) =>
        Regex.Matches(stdout, @"Sleep (\d) Seconds\.\.\.\.\.\.").Select(m => int.Parse(m.Groups[1].Value) * (fast ? 0.1 : 1)).ToList();

    static string[] Lines(string stdout) => stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    [Test]
    public void ProcessRunsOneChildAndTakesAboutItsSleep()
    {
        var r = Demo("process");
        var lines = Lines(r.Stdout);
        Assert.That(lines[0], Does.Match(@"^Start Time\.\.\.\.\d+\.\d+$"));
        Assert.That(lines, Has.Some.EqualTo("3 squared is 9"));
        var sleeps = Sleeps(r.Stdout);
        Assert.That(sleeps, Has.Count.EqualTo(1));
        Assert.That(ExecuteTimes(r.Stdout).Single(), Is.GreaterThanOrEqualTo(sleeps[0]));
    }

    [Test]
    public void ProcessesTakeAboutTheLongestSleepNotTheSum()
    {
        var r = Demo("processes", fast: false);
        var sleeps = Sleeps(r.Stdout, fast: false);
        Assert.That(sleeps, Has.Count.EqualTo(4));
        Assert.That(Lines(r.Stdout).Count(l => l == "3 squared is 9"), Is.EqualTo(4));
        double took = ExecuteTimes(r.Stdout).Single();
        Assert.That(took, Is.GreaterThanOrEqualTo(sleeps.Max()));
        Assert.That(took, Is.LessThan(sleeps.Sum()), "the four ran at the same time");
    }

    [Test]
    public void NoJoinPrintsEndTimeBeforeTheChildrenFinish()
    {
        var r = Demo("no-join");
        var lines = Lines(r.Stdout).ToList();
        int end = lines.FindIndex(l => l.StartsWith("End Time"));
        int firstChild = lines.FindIndex(l => l.StartsWith("Sleep"));
        // The parent printed its end before any child printed: it did not wait for them. Order,
        // not the Execute Time, which a loaded machine can stretch past a child's sleep.
        Assert.That(end, Is.GreaterThanOrEqualTo(0).And.LessThan(firstChild), "End Time before the first child's line");
        Assert.That(lines.Count(l => l == "3 squared is 9"), Is.EqualTo(4), "the children still finished: joined at exit");
    }

    [Test]
    public void ListRunsFiveChildrenFromRange5()
    {
        var r = Demo("list");
        var squares = Lines(r.Stdout).Where(l => l.Contains("squared")).Order().ToList();
        Assert.That(squares, Is.EqualTo(new[] { "0 squared is 0", "1 squared is 1", "2 squared is 4", "3 squared is 9", "4 squared is 16" }));
    }

    [Test]
    public void ApplyRunsOneAfterAnotherAboutTheSum()
    {
        var r = Demo("apply");
        Assert.That(Lines(r.Stdout), Has.Some.EqualTo("[0, 1, 4, 9, 16]"));
        Assert.That(ExecuteTimes(r.Stdout).Single(), Is.GreaterThanOrEqualTo(Sleeps(r.Stdout).Sum()));
    }

    [Test]
    public void ApplyAsyncReturnsAtOnceThenGetAndCallbacksDeliver()
    {
        var r = Demo("apply-async");
        var lines = Lines(r.Stdout);
        // Five results printed pending: ApplyAsync returned before any task finished. (What the
        // state shows, not the Execute Time, which a loaded machine can stretch past a sleep.)
        Assert.That(lines[1], Does.Match(@"^\[(<ForkKit\.AsyncResult<int> #\d+ pending>(, )?){5}\]$"), "AsyncResult objects, printed before any result");
        Assert.That(lines, Has.Some.EqualTo("[0, 1, 4, 9, 16]"), "Get() delivers in order");
        Assert.That(lines.Where(l => l.StartsWith("callback: ")).Select(l => l["callback: ".Length..]).Order(),
            Is.EqualTo(new[] { "0", "1", "16", "4", "9" }));
    }

    [Test]
    public void MapKeepsInputOrderAndTakesAboutTwoSleeps()
    {
        var r = Demo("map", fast: false);
        Assert.That(Lines(r.Stdout), Has.Some.EqualTo("[4, 16, 36, 64, 100]"));
        var sleeps = Sleeps(r.Stdout, fast: false);
        Assert.That(sleeps, Has.Count.EqualTo(5));
        Assert.That(ExecuteTimes(r.Stdout).Single(), Is.LessThan(sleeps.Sum()), "four workers ran at once");
    }

    [Test]
    public void MapAsyncCallsBackWithTheWholeList()
    {
        var r = Demo("map-async");
        var lines = Lines(r.Stdout);
        Assert.That(lines[1], Does.Match(@"^<ForkKit\.AsyncResult<List<int>> #\d+ pending>$"));
        Assert.That(lines, Has.One.EqualTo("callback: [4, 16, 36, 64, 100]"));
    }

    [Test]
    public void LockKeepsEachChildsLinesTogether()
    {
        var r = Demo("lock");
        var lines = Lines(r.Stdout).Where(l => l.StartsWith("Sleep") || l.Contains("squared")).ToList();
        Assert.That(lines, Has.Count.EqualTo(8));
        for (int i = 0; i < 8; i += 2)
        {
            Assert.That(lines[i], Does.StartWith("Sleep"), $"line {i} starts a child's pair");
            Assert.That(lines[i + 1], Does.Contain("squared"), $"line {i + 1} ends the same child's pair");
        }
        Assert.That(lines.Where(l => l.Contains("squared")).Order(), Is.EqualTo(new[] { "0 squared is 0", "1 squared is 1", "2 squared is 4", "3 squared is 9" }));
        Assert.That(ExecuteTimes(r.Stdout).Single(), Is.GreaterThanOrEqualTo(Sleeps(r.Stdout).Sum()), "one at a time");
    }

    [Test]
    public void UnknownCommandsFailOnStderrWithANonZeroExitCode()
    {
        var r = Forkkit("demo", "nope");
        Assert.That(r.ExitCode, Is.Not.EqualTo(0));
        Assert.That(r.Stderr, Does.Contain("nope"));
    }

    [Test]
    public void EveryCommandHasHelp()
    {
        foreach (var command in new[] { new[] { "--help" }, ["demo", "--help"], ["demo", "map", "--help"], ["ps", "--help"] })
        {
            var r = Forkkit(command);
            Assert.That(r.ExitCode, Is.EqualTo(0));
            Assert.That(r.Stdout, Does.Contain("Usage:").And.Contain("forkkit"));
        }
    }
}
