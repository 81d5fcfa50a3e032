using NUnit.Framework;

namespace ForkKit.WindowsTests;

/// <summary>Process on CreateProcessW: exit codes as Python's on Windows, join with a timeout, terminate.</summary>
[TestFixture]
public class ProcessTests
{
    static int? RunToEnd(Delegate target, params object?[] args)
    {
        using var p = new Process(target, args);
        p.Start();
        p.Join();
        return p.ExitCode;
    }

    [Test]
    public void ATargetThatReturnsExitsWithZero() =>
        Assert.That(RunToEnd(Targets.Nothing), Is.EqualTo(0));

    [Test]
    public void ATargetThatThrowsExitsWithOne() =>
        Assert.That(RunToEnd(Targets.Throw), Is.EqualTo(1));

    [Test]
    public void EnvironmentExitCodePassesThrough() =>
        Assert.That(RunToEnd(Targets.Exit, 42), Is.EqualTo(42));

    [Test]
    public void JoinWithATimeoutIsFalseWhileTheChildRunsAndTrueOnceItEnded()
    {
        using var p = new Process(Targets.Sleep, 2000);
        p.Start();
        Assert.That(p.Join(TimeSpan.FromMilliseconds(200)), Is.False);
        Assert.That(p.IsAlive, Is.True);
        Assert.That(p.ExitCode, Is.Null);
        Assert.That(p.Join(TimeSpan.FromSeconds(60)), Is.True);
        Assert.That(p.IsAlive, Is.False);
        Assert.That(p.ExitCode, Is.EqualTo(0));
    }

    [Test]
    public void TerminateGivesMinus15AsInPython()
    {
        using var p = new Process(Targets.Sleep, 60_000);
        p.Start();
        p.Terminate();
        Assert.That(p.Join(TimeSpan.FromSeconds(30)), Is.True);
        Assert.That(p.ExitCode, Is.EqualTo(-15));
    }

    [Test]
    public void KillGivesMinus15TooForWindowsHasNoSignals()
    {
        using var p = new Process(Targets.Sleep, 60_000);
        p.Start();
        Thread.Sleep(300); // this time the child is up and running its target
        p.Kill();
        Assert.That(p.Join(TimeSpan.FromSeconds(30)), Is.True);
        Assert.That(p.ExitCode, Is.EqualTo(-15));
        Assert.That(p.ToString(), Does.Contain("exitcode=-15"));
    }

    [Test]
    public void TerminatingAnEndedChildChangesNothing()
    {
        using var p = new Process(Targets.Exit, 3);
        p.Start();
        Assert.That(Wait.Until(() => !Win32.IsRunning(p.Pid!.Value)), Is.True);
        p.Terminate();
        p.Join();
        Assert.That(p.ExitCode, Is.EqualTo(3));
        p.Terminate(); // reaped: a no-op
    }

    // The name travels in --name on the command line (and, quotes made apostrophes, in the
    // title that is argv[0]): the quoting must survive the child's command-line parsing.
    [TestCase("a \"quoted\" name \\ with\\\\ \\\"back\\slashes\\")]
    [TestCase("")]
    [TestCase("trailing\\")]
    [TestCase("tab\tand space")]
    public void ANameWithSpacesQuotesAndBackslashesCrossesTheCommandLineIntact(string name)
    {
        using var p = new Process(Targets.CheckName, name) { Name = name };
        p.Start();
        p.Join();
        Assert.That(p.ExitCode, Is.EqualTo(0), $"name [{name}]");
    }

    [Test]
    public void ADaemonChildDiesWithItsParentEvenWhenTheParentIsKilled()
    {
        var pidFile = Path.Combine(Path.GetTempPath(), $"forkkit-daemon-{Guid.NewGuid():N}");
        using var parent = new Process(Targets.StartDaemonThenSleep, pidFile);
        parent.Start();
        try
        {
            Assert.That(Wait.Until(() => File.Exists(pidFile)), Is.True, "the child should have started its daemon");
            int daemon = int.Parse(File.ReadAllText(pidFile));
            Assert.That(Win32.IsRunning(daemon), Is.True);
            // Killed from outside: no exit hook runs in the parent, only the kernel's clean-up
            // (its job handle closes, and KILL_ON_JOB_CLOSE ends the daemon).
            Win32.Kill(parent.Pid!.Value);
            Assert.That(Wait.Until(() => !Win32.IsRunning(daemon), 20), Is.True, $"daemon {daemon} outlived its parent");
        }
        finally
        {
            parent.Terminate();
            parent.Join();
            File.Delete(pidFile);
        }
    }

    [Test]
    public void AChildInheritsOnlyTheHandlesMeantForIt()
    {
        // A pipe whose write end is inheritable, as a careless library might leave one. With the
        // handle list the child does not get it, so once we close our write end the read end
        // sees end-of-file at once, although the child still runs.
        var (read, write) = Win32.InheritablePipe();
        using var p = new Process(Targets.Sleep, 60_000);
        p.Start();
        try
        {
            write.Dispose();
            using var stream = new FileStream(read, FileAccess.Read, bufferSize: 0);
            var reading = Task.Run(() => stream.Read(new byte[1]));
            Assert.That(reading.Wait(TimeSpan.FromSeconds(10)), Is.True, "the child holds the write end: it inherited a handle not meant for it");
            Assert.That(reading.Result, Is.EqualTo(0));
        }
        finally
        {
            p.Terminate();
            p.Join();
        }
    }
}
