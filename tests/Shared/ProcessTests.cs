using System.Diagnostics;
using ForkKit.Diagnostics;
using ForkKit.Tests.Support;
using static ForkKit.Tests.Support.ChildTargets;

namespace ForkKit.Tests;

/// <summary>
/// Process semantics, each as Python's multiprocessing.Process has them, on both platforms
/// (compiled into the Linux and the Windows suite). ProcessTests.Unix.cs and
/// ProcessTests.Windows.cs hold what only one platform has.
/// Exceptions are caught with Assert.Throws, which calls the code directly, not with
/// Assert.That(code, Throws...), which calls it through Delegate.DynamicInvoke: under Wine, an
/// exception thrown through a reflection call can hang or crash the test process.
/// </summary>
public partial class ProcessTests
{
    [Test]
    public void ExitCodeIsZeroWhenTheTargetReturns()
    {
        using var p = new Process(Noop);
        p.Start();
        p.JoinBounded();
        Assert.That(p.ExitCode, Is.EqualTo(0));
    }

    [Test]
    public void AReturnedValueIsIgnoredAndTheExitCodeIsZero()
    {
        using var p = new Process(ReturnsValue);
        p.Start();
        p.JoinBounded();
        Assert.That(p.ExitCode, Is.EqualTo(0));
    }

    [Test]
    public void AnUnhandledExceptionGivesExitCodeOne()
    {
        using var p = new Process(Raise, "the target failed on purpose");
        p.Start();
        p.JoinBounded();
        Assert.That(p.ExitCode, Is.EqualTo(1));
    }

    [Test]
    public void AnAsyncTargetIsAwaitedAndItsExceptionGivesExitCodeOne()
    {
        using var ok = new Process(SleepAsync, 50);
        using var failing = new Process(ThrowsAsync);
        ok.Start();
        failing.Start();
        ok.JoinBounded();
        failing.JoinBounded();
        Assert.That(ok.ExitCode, Is.EqualTo(0));
        Assert.That(failing.ExitCode, Is.EqualTo(1));
    }

    [TestCase(0)]
    [TestCase(3)]
    [TestCase(42)]
    [TestCase(255)]
    public void EnvironmentExitGivesItsCode(int code)
    {
        using var p = new Process(ExitWith, code);
        p.Start();
        p.JoinBounded();
        Assert.That(p.ExitCode, Is.EqualTo(code));
    }

    [Test]
    public void TerminateGivesMinus15AsInPython()
    {
        using var p = new Process(SleepSeconds, 60.0);
        p.Start();
        p.Terminate();
        Assert.That(p.Join(TimeSpan.FromSeconds(30)), Is.True);
        Assert.That(p.ExitCode, Is.EqualTo(-15));
    }

    [Test]
    public void KillGivesMinus9OrOnWindowsMinus15()
    {
        using var p = new Process(SleepSeconds, 60.0);
        p.Start();
        Thread.Sleep(300); // this time the child is up and running its target
        p.Kill();
        Assert.That(p.Join(TimeSpan.FromSeconds(30)), Is.True);
        Assert.That(p.ExitCode, Is.EqualTo(Expected.KilledExitCode));
        Assert.That(p.ToString(), Does.Contain($"exitcode={Expected.KilledExitCode}"));
    }

    [Test]
    public void TerminateAfterTheChildEndedChangesNothing()
    {
        using var p = new Process(ExitWith, 5);
        p.Start();
        p.JoinBounded();
        p.Terminate();
        p.Kill();
        Assert.That(p.ExitCode, Is.EqualTo(5));
    }

    [Test]
    public void BeforeStartPidAndExitCodeAreNullAndItIsNotAlive()
    {
        using var p = new Process(Noop);
        Assert.Multiple(() =>
        {
            Assert.That(p.Pid, Is.Null);
            Assert.That(p.ExitCode, Is.Null);
            Assert.That(p.IsAlive, Is.False);
        });
    }

    [Test]
    public void JoinBeforeStartThrows()
    {
        using var p = new Process(Noop);
        Assert.Throws(Is.TypeOf<InvalidOperationException>().With.Message.EqualTo("can only join a started process"), () => p.Join());
        Assert.Throws(Is.TypeOf<InvalidOperationException>(), () => p.Join(TimeSpan.FromSeconds(1)));
        Assert.Throws(Is.TypeOf<InvalidOperationException>(), () => p.Terminate());
    }

    [Test]
    public void StartTwiceThrows()
    {
        using var p = new Process(Noop);
        p.Start();
        Assert.Throws(Is.TypeOf<InvalidOperationException>().With.Message.EqualTo("cannot start a process twice"), p.Start);
        p.JoinBounded();
        Assert.Throws(Is.TypeOf<InvalidOperationException>().With.Message.EqualTo("cannot start a process twice"), p.Start);
    }

    [Test]
    public void JoinTwiceIsFine()
    {
        using var p = new Process(ExitWith, 7);
        p.Start();
        Bounded.Call(p.Join, "Join()");
        p.Join();
        Assert.That(p.Join(TimeSpan.Zero), Is.True);
        Assert.That(p.ExitCode, Is.EqualTo(7));
    }

    [Test]
    public void JoinWithZeroTimeoutReturnsFalseAtOnceOnARunningChild()
    {
        using var p = new Process(SleepSeconds, 60.0);
        p.Start();
        var clock = Stopwatch.StartNew();
        bool ended = p.Join(TimeSpan.Zero);
        clock.Stop();

        Assert.That(ended, Is.False);
        // What is tested is that Join(0) does not wait for the 60 s child; the bound leaves a
        // loaded machine seconds of room.
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
        Assert.That(p.IsAlive, Is.True);
        Assert.That(p.ExitCode, Is.Null);
        p.Kill();
        p.JoinBounded();
    }

    [Test]
    public void JoinWithATimeoutWaitsAboutThatLongForARunningChild()
    {
        using var p = new Process(SleepSeconds, 60.0);
        p.Start();
        var clock = Stopwatch.StartNew();
        bool ended = p.Join(TimeSpan.FromMilliseconds(300));
        clock.Stop();

        Assert.That(ended, Is.False);
        // At least the timeout, and returned on it rather than when the 60 s child ended: the
        // upper bound only has to stay well under 60 s.
        Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(290)).And.LessThan(TimeSpan.FromSeconds(30)));
        p.Kill();
        Assert.That(p.Join(TimeSpan.FromSeconds(30)), Is.True);
        Assert.That(p.ExitCode, Is.EqualTo(Expected.KilledExitCode));
    }

    [Test]
    public void JoinWithATimeoutIsFalseWhileTheChildRunsAndTrueOnceItEnded()
    {
        using var p = new Process(SleepSeconds, 2.0);
        p.Start();
        Assert.That(p.Join(TimeSpan.FromMilliseconds(200)), Is.False);
        Assert.That(p.IsAlive, Is.True);
        Assert.That(p.ExitCode, Is.Null);
        Assert.That(p.Join(TimeSpan.FromSeconds(60)), Is.True);
        Assert.That(p.IsAlive, Is.False);
        Assert.That(p.ExitCode, Is.EqualTo(0));
    }

    [Test]
    public void IsAliveTurnsFalseOnceTheChildHasEndedAndReapsIt()
    {
        using var p = new Process(SleepSeconds, 0.2);
        p.Start();
        Assert.That(p.IsAlive, Is.True);
        int pid = p.Pid!.Value;
        var deadline = Stopwatch.StartNew();
        while (p.IsAlive && deadline.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(10);

        Assert.That(p.IsAlive, Is.False);
        Assert.That(p.ExitCode, Is.EqualTo(0));
        Assert.That(ProcessTable.Find(pid), Is.Null, "IsAlive reaped the child: no zombie is left");
    }

    [Test]
    public void NamesDefaultToProcessNAndCanBeSet()
    {
        using var a = new Process(Noop);
        using var b = new Process(Noop);
        Assert.That(a.Name, Does.Match(@"^Process-\d+$"));
        int n = int.Parse(a.Name["Process-".Length..]);
        Assert.That(b.Name, Is.EqualTo($"Process-{n + 1}"));
        b.Name = "Worker";
        Assert.That(b.Name, Is.EqualTo("Worker"));
        Assert.Throws(Is.TypeOf<ArgumentNullException>(), () => b.Name = null!);
    }

    // The name travels in --name on the child's command line (on Windows also, quotes made
    // apostrophes, in the title that is argv[0]): Windows joins the arguments into one string
    // that the child splits again, so the quoting must survive that.
    [TestCase("a \"quoted\" name \\ with\\\\ \\\"back\\slashes\\")]
    [TestCase("")]
    [TestCase("trailing\\")]
    [TestCase("tab\tand space")]
    public void ANameWithSpacesQuotesAndBackslashesCrossesTheCommandLineIntact(string name)
    {
        using var p = new Process(CheckName, name) { Name = name };
        p.Start();
        p.JoinBounded();
        Assert.That(p.ExitCode, Is.EqualTo(0), $"name [{name}]");
    }

    [Test]
    public void ForkIsRefusedWithAReasonInAProcessThatCannotForkSafely()
    {
        const StartMethod method = StartMethod.Fork; // the test host did not start with the fork-safe settings; Windows has no fork
        using var p = new Process(Noop) { StartMethod = method };
        Assert.That(p.StartMethod, Is.EqualTo(method));
        Assert.Throws(Is.TypeOf<NotSupportedException>().With.Message.Contains(method.ToString()), p.Start);
        Assert.That(p.Pid, Is.Null);
    }

    [Test]
    public void SpawnIsTheDefaultStartMethod()
    {
        using var p = new Process(Noop);
        Assert.That(p.StartMethod, Is.EqualTo(StartMethod.Spawn));
    }

    [Test]
    public void DaemonAndStartMethodCannotChangeAfterStart()
    {
        using var p = new Process(Noop);
        p.Start();
        Assert.Throws(Is.TypeOf<InvalidOperationException>(), () => p.Daemon = true);
        Assert.Throws(Is.TypeOf<InvalidOperationException>(), () => p.StartMethod = StartMethod.Fork);
        p.JoinBounded();
    }

    [Test]
    public void ANonCapturingLambdaIsAValidTarget()
    {
        using var p = new Process((int code) => Environment.Exit(code + 1), 10);
        p.Start();
        p.JoinBounded();
        Assert.That(p.ExitCode, Is.EqualTo(11));
    }

    [Test]
    public void DisposeTerminatesAndReapsARunningChild()
    {
        var p = new Process(SleepSeconds, 60.0);
        p.Start();
        int pid = p.Pid!.Value;
        p.Dispose();
        Assert.That(ProcessTable.Find(pid), Is.Null, "the child is neither running nor a zombie");
        Assert.That(p.ExitCode, Is.EqualTo(-15).Or.EqualTo(-9));
    }

    [Test]
    public void ToStringShowsNamePidAndState()
    {
        using var p = new Process(ExitWith, 3) { Name = "Shown" };
        Assert.That(p.ToString(), Is.EqualTo("<Process name='Shown' pid=None initial>"));
        p.Start();
        p.JoinBounded();
        Assert.That(p.ToString(), Is.EqualTo($"<Process name='Shown' pid={p.Pid} stopped exitcode=3>"));
    }
}
