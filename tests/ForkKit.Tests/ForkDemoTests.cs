using System.Globalization;
using System.Text.RegularExpressions;
using ForkKit.Tests.Support;

namespace ForkKit.Tests;

/// <summary>`forkkit demo fork` and `forkkit demo cow`: they re-run themselves with the fork-safe settings and fork for real.</summary>
public class ForkDemoTests
{
    static Repo.Result Demo(string name)
    {
        var r = Repo.Run(Repo.Dotnet, ["exec", Path.Combine(Repo.OutputDir, "ForkKit.Cli.dll"), "demo", name, "--fast"], TimeSpan.FromMinutes(2));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Stdout + r.Stderr);
        Assert.That(r.Stdout, Does.StartWith("Re-running this command with the fork-safe settings: DOTNET_EnableWriteXorExecute=0"));
        return r;
    }

    [Test]
    public void TheForkDemosChildIsACopyOfTheParentWhoseChangesStayItsOwn()
    {
        var r = Demo("fork");
        var parent = Regex.Match(r.Stdout, @"parent \(pid (\d+)\): counter = 1");
        var child = Regex.Match(r.Stdout, @"Process-\d+ \(pid (\d+), parent (\d+)\): counter = 1 in its copy, 2 after adding 1");
        var end = Regex.Match(r.Stdout, @"parent \(pid (\d+)\): Process-\d+ \(pid (\d+)\) exit code 0; counter here still 1");
        Assert.That(parent.Success && child.Success && end.Success, Is.True, r.Stdout + r.Stderr);
        Assert.That(child.Groups[2].Value, Is.EqualTo(parent.Groups[1].Value), "the child's parent is the demo");
        Assert.That(end.Groups[2].Value, Is.EqualTo(child.Groups[1].Value), "the pid the parent holds is the child's own");
        Assert.That(r.Stdout, Does.Contain("3 squared is 9").And.Contain("Execute Time"));
    }

    [Test]
    public void TheCowDemosChildSharesTheArrayUntilItWritesHalfOfIt()
    {
        var r = Demo("cow");
        static (double Private, double Shared) Memory(string stdout, string when)
        {
            var m = Regex.Match(stdout, Regex.Escape(when) + @": Private_Dirty ([0-9.]+) MiB, Shared_Dirty ([0-9.]+) MiB");
            Assert.That(m.Success, Is.True, $"no line for '{when}' in:\n{stdout}");
            return (double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
        }
        var afterFork = Memory(r.Stdout, "after fork");
        var afterWrite = Memory(r.Stdout, "after writing half");
        Assert.That(afterFork.Shared, Is.GreaterThan(60), "after fork the 64 MiB array is shared with the parent");
        Assert.That(afterFork.Private, Is.LessThan(16), "and hardly anything is the child's own");
        Assert.That(afterWrite.Private - afterFork.Private, Is.InRange(28.0, 40.0), "writing half the array copies about 32 MiB");
        Assert.That(r.Stdout, Does.Contain("the parent's array still reads 1 at offset 0 and 1 at"));
    }

    [Test]
    public void TheForkServerDemoShowsItsChildrenUnderTheServerUnderTheDemo()
    {
        var r = Repo.Run(Repo.Dotnet, ["exec", Path.Combine(Repo.OutputDir, "ForkKit.Cli.dll"), "demo", "forkserver", "--fast"], TimeSpan.FromMinutes(2));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Stdout + r.Stderr);
        Assert.That(Regex.Matches(r.Stdout, @"started Process-\d \(pid \d+\) in [0-9.]+ ms"), Has.Count.EqualTo(4));
        var demo = Regex.Match(r.Stdout, @"^\s+(\d+)\s+\d+ \w dotnet ", RegexOptions.Multiline);
        var server = Regex.Match(r.Stdout, @"^\*\s+(\d+)\s+(\d+) \w ForkServer\s+forkkit: ForkServer \(parent (\d+)\)", RegexOptions.Multiline);
        Assert.That(demo.Success && server.Success, Is.True, r.Stdout);
        Assert.That((server.Groups[2].Value, server.Groups[3].Value), Is.EqualTo((demo.Groups[1].Value, demo.Groups[1].Value)), "the server is the demo's child");
        var children = Regex.Matches(r.Stdout, @"^\*\s+\d+\s+(\d+) \w Process-\d\s+forkkit: Process-\d \(parent (\d+)\)", RegexOptions.Multiline);
        Assert.That(children, Has.Count.EqualTo(4), r.Stdout);
        Assert.That(children.Select(m => (m.Groups[1].Value, m.Groups[2].Value)),
            Is.All.EqualTo((server.Groups[1].Value, demo.Groups[1].Value)), "each child is the server's, and names the demo as its parent");
        Assert.That(Regex.Matches(r.Stdout, @"Process-\d exit code 0"), Has.Count.EqualTo(4));
    }
}
