using System.Text.RegularExpressions;
using ForkKit.Tests.Support;

namespace ForkKit.Tests;

/// <summary>
/// The load test (tests/ForkKit.Stress, `make stress`) at STRESS_SCALE=0.02, every scenario. It
/// runs as its own program, as `make stress` runs it, so the descriptors, children and /dev/shm
/// names it checks after each scenario are its own, not the test runner's.
/// </summary>
public class StressTests
{
    static string StressDll => Path.Combine(Repo.OutputDir, "ForkKit.Stress.dll");

    static readonly string[] Scenarios = ["spawn", "forkserver", "pool", "terminate", "lock", "kill"];

    static Repo.Result RunStress(params string[] scenarios) =>
        Repo.Run(Repo.Dotnet, ["exec", StressDll, .. scenarios], TimeSpan.FromMinutes(3),
            environment: new Dictionary<string, string> { ["STRESS_SCALE"] = "0.02" });

    /// <summary>The last lines of the program's stderr, where a crash would show.</summary>
    static string Tail(string stderr) => string.Join('\n', stderr.Split('\n').TakeLast(30));

    [Test]
    public void TrimmedLoadLosesAndLeaksNothing()
    {
        var r = RunStress();
        Assert.That(r.ExitCode, Is.EqualTo(0), $"{r.Stdout}\n--- stderr (last lines) ---\n{Tail(r.Stderr)}");
        foreach (var name in Scenarios)
            Assert.That(r.Stdout, Does.Match($@"(?m)^{name} +.*; fds \+0; children left 0; shm left 0; rss [-+][0-9.]+ MiB; OK$"), $"the line of scenario {name}:\n{r.Stdout}");
        Assert.That(r.Stdout, Does.Contain($"stress: {Scenarios.Length} of {Scenarios.Length} scenarios lost and leaked nothing"));
        TestContext.Out.WriteLine(r.Stdout);
    }

    /// <summary>
    /// The checks catch what they look for: the self-check scenario leaves a descriptor, a
    /// zombie, a Lock's two /dev/shm names and 80 MiB behind, and the program says so and fails.
    /// </summary>
    [Test]
    public void ChecksCatchLeaksLeftOnPurpose()
    {
        var r = RunStress("self-check");
        Assert.That(r.ExitCode, Is.EqualTo(1), $"{r.Stdout}\n--- stderr (last lines) ---\n{Tail(r.Stderr)}");
        Assert.That(r.Stdout, Does.Match(@"(?m)^self-check +.*; fds \+[1-9]; children left 1; shm left 2; rss \+[0-9.]+ MiB; LOST$"), r.Stdout);
        Assert.That(r.Stdout, Does.Contain("descriptor(s) opened during the scenario still open").And.Contain("-> /dev/null"), r.Stdout);
        Assert.That(r.Stdout, Does.Match(@"1 child\(ren\) left: pid \d+ zombie"), r.Stdout);
        Assert.That(r.Stdout, Does.Contain("MiB allowed"), r.Stdout);
        Assert.That(r.Stdout, Does.Contain("stress: 0 of 1 scenarios lost and leaked nothing").And.Contain("1 FAILED"), r.Stdout);
    }
}
