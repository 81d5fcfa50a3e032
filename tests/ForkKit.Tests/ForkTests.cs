using System.Text.RegularExpressions;
using ForkKit.Diagnostics;
using ForkKit.Tests.Support;
using ForkKit.Unix;

namespace ForkKit.Tests;

/// <summary>
/// Syscalls.Fork(), guarded by ForkSafety: refused in a process that did not start with the
/// fork-safe settings (this test host is one), working in one that did (tests/ForkKit.TestApp,
/// started with them).
/// </summary>
public class ForkTests
{
    static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    /// <summary>Runs a TestApp scenario, which must exit 0 (its output is the message when it does not).</summary>
    static Repo.Result RunApp(string scenario, IReadOnlyDictionary<string, string>? environment, params string[] more)
    {
        var r = Repo.Run(Repo.Dotnet, [Path.Combine(Repo.OutputDir, "ForkKit.TestApp.dll"), scenario, .. more], Limit, environment: environment);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Stdout + r.Stderr);
        return r;
    }

    static Dictionary<string, string> Settings(int leaveOut = -1) =>
        ForkSafety.Settings.Where((_, i) => i != leaveOut).ToDictionary(s => s.Key, s => s.Value);

    [Test]
    public void ForkIsRefusedWithoutTheForkSafeSettingsNamingThemAndStartsNothing()
    {
        Assume.That(ForkSafety.IsEnabled, Is.False, "the test host runs with the runtime's default settings");
        int before = ProcessTable.ChildrenOf(Environment.ProcessId).Count;
        var e = Assert.Throws<InvalidOperationException>(() => Syscalls.Fork())!;
        Assert.That(e.Message, Does.Contain("SIGSEGV").And.Contain(ForkSafety.SettingsText).And.Contain("docs/design.md"));
        Assert.That(ProcessTable.ChildrenOf(Environment.ProcessId), Has.Count.EqualTo(before), "no child was started");
    }

    [TestCase(-1, true)]
    [TestCase(0, false)]
    [TestCase(1, false)]
    [TestCase(2, false)]
    public void ForkSafetyIsEnabledOnlyWithAllThreeSettings(int leftOut, bool enabled)
    {
        var r = RunApp("fork-safety", Settings(leftOut));
        Assert.That(r.Stdout.Trim(), Is.EqualTo($"enabled {enabled}"), r.Stderr);
    }

    [Test]
    public void ForkReturnsZeroInTheChildWhichRunsNewManagedCodeOnItsOwnCopyAndThePidInTheParent()
    {
        var r = RunApp("fork", Settings());
        var child = Regex.Match(r.Stdout, @"child getpid (\d+) ProcessId (\d+) parent (\d+) sum (\d+)");
        var parent = Regex.Match(r.Stdout, @"parent (\d+) child (\d+) exit (-?\d+) count (\d+)");
        Assert.That(child.Success && parent.Success, Is.True, r.Stdout + r.Stderr);
        Assert.That(child.Groups[1].Value, Is.EqualTo(parent.Groups[2].Value), "fork's return value in the parent is the child's pid");
        Assert.That(child.Groups[2].Value, Is.EqualTo(child.Groups[1].Value), "Environment.ProcessId in the child is the child's own pid, not the cached parent's");
        Assert.That(child.Groups[3].Value, Is.EqualTo(parent.Groups[1].Value), "the child's parent is the forking process");
        Assert.That(child.Groups[4].Value, Is.EqualTo("10"), "the child added to its copy of the list");
        Assert.That((parent.Groups[3].Value, parent.Groups[4].Value), Is.EqualTo(("7", "3")),
            "the parent reaped exit code 7 from Syscalls.Exit, and its own list is unchanged");
        Assert.That(r.Stderr, Does.Not.Contain("warning"));
    }

    [Test]
    public void ForkingWithAThreadOfTheProgramsOwnWarnsAsCPythonDoesAndStillForks()
    {
        var r = RunApp("fork-threaded", Settings());
        Assert.That(r.Stderr, Does.Contain("warning: this process has 1 thread(s) of its own (busy)"));
        Assert.That(r.Stdout, Does.Match(@"exit 7 count 3"));
    }

    [Test]
    public void StartMethodForkRunsTheTargetOnTheParentsMemoryWithPythonsExitCodes()
    {
        var r = RunApp("fork-process", Settings());
        var child = Regex.Match(r.Stdout, @"Process-\d+ \(pid (\d+), parent (\d+)\): shared 42, from the fork");
        var parent = Regex.Match(r.Stdout, @"parent (\d+): child (\d+) exit 0, shared still 41");
        Assert.That(child.Success && parent.Success, Is.True, r.Stdout + r.Stderr);
        Assert.That((child.Groups[1].Value, child.Groups[2].Value), Is.EqualTo((parent.Groups[2].Value, parent.Groups[1].Value)),
            "the child is the parent's own, and knows its own pid");
        Assert.That(r.Stdout, Does.Contain("throws: exit 1").And.Contain("exit: exit 5").And.Contain("terminate: exit -15"));
        Assert.That(r.Stderr, Does.Contain("System.InvalidOperationException: on purpose"), "the failing child's trace, on the shared stderr");
    }

    [Test]
    public void TwoHundredForkChildrenThatReturnThrowAllocateUseThePoolOrAreTerminatedAllEndAsExpected()
    {
        var r = RunApp("fork-many", Settings(), "200");
        Assert.That(r.Stdout, Does.Contain("forked 200: 200 as expected, 0 other exit codes, 0 hung"));
    }
}
