using System.Diagnostics;
using ForkKit.Diagnostics;
using ForkKit.Tests.Support;
using static ForkKit.Tests.Support.ChildTargets;

namespace ForkKit.Tests;

/// <summary>Process semantics, each as Python's multiprocessing.Process has them.</summary>
public class ProcessTests
{
    [Test]
    public void ExitCodeIsZeroWhenTheTargetReturns()
    {
        using var p = new Process(Noop);
        p.Start();
        p.Join();
        Assert.That(p.ExitCode, Is.EqualTo(0));
    }

    [Test]
    public void AReturnedValueIsIgnoredAndTheExitCodeIsZero()
    {
        using var p = new Process(ReturnsValue);
        p.Start();
        p.Join();
        Assert.That(p.ExitCode, Is.EqualTo(0));
    }

    [Test]
    public void AnUnhandledExceptionGivesExitCodeOneAndATraceOnStderr()
    {
        using var p = new Process(Raise, "the target failed on purpose");
        using var stderr = StdioCapture.Stderr();
        stderr.During(p.Start);
        p.Join();
        var text = stderr.ReadToEnd();

        Assert.That(p.ExitCode, Is.EqualTo(1));
        Assert.That(text, Does.Contain($"Process {p.Name}:"));
        Assert.That(text, Does.Contain("System.InvalidOperationException: the target failed on purpose"));
        Assert.That(text, Does.Contain("at ForkKit.Tests.Support.ChildTargets.Raise(String message)"), "the child's stack trace");
    }

    [Test]
    public void AnAsyncTargetIsAwaitedAndItsExceptionGivesExitCodeOne()
    {
        using var ok = new Process(SleepAsync, 50);
        using var failing = new Process(ThrowsAsync);
        using var stderr = StdioCapture.Stderr();
        stderr.During(() => { ok.Start(); failing.Start(); });
        ok.Join();
        failing.Join();

        Assert.That(ok.ExitCode, Is.EqualTo(0));
        Assert.That(failing.ExitCode, Is.EqualTo(1));
        Assert.That(stderr.ReadToEnd(), Does.Contain("System.TimeoutException: async failure"));
    }

    [TestCase(0)]
    [TestCase(3)]
    [TestCase(42)]
    [TestCase(255)]
    public void EnvironmentExitGivesItsCode(int code)
    {
        using var p = new Process(ExitWith, code);
        p.Start();
        p.Join();
        Assert.That(p.ExitCode, Is.EqualTo(code));
    }

    [Test]
    public void TerminateGivesMinus15AndKillGivesMinus9OnARunningChild()
    {
        using var terminated = new Process(SleepSeconds, 60.0);
        using var killed = new Process(SleepSeconds, 60.0);
        terminated.Start();
        killed.Start();
        WaitUntilRunningManagedCode(terminated);
        WaitUntilRunningManagedCode(killed);

        terminated.Terminate();
        killed.Kill();
        terminated.Join();
        killed.Join();

        Assert.That(terminated.ExitCode, Is.EqualTo(-15));
        Assert.That(killed.ExitCode, Is.EqualTo(-9));
    }

    // The race: a signal sent right after Start reaches a child that is still in the C shim,
    // in execve, or in the .NET runtime's start-up, before any handler of ours exists.
    [TestCase(false, -15)]
    [TestCase(true, -9)]
    public void SignalRightAfterStartGivesMinusTheSignalOnAHundredChildren(bool kill, int expected)
    {
        var processes = Enumerable.Range(0, 100).Select(_ => new Process(SleepSeconds, 60.0)).ToList();
        try
        {
            foreach (var p in processes)
            {
                p.Start();
                if (kill) p.Kill(); else p.Terminate();
            }
            foreach (var p in processes) p.Join();
            Assert.That(processes.Select(p => p.ExitCode), Is.All.EqualTo(expected));
        }
        finally
        {
            foreach (var p in processes) p.Dispose();
        }
    }

    [Test]
    public void TerminateAfterTheChildEndedChangesNothing()
    {
        using var p = new Process(ExitWith, 5);
        p.Start();
        p.Join();
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
        Assert.That(() => p.Join(), Throws.InvalidOperationException.With.Message.EqualTo("can only join a started process"));
        Assert.That(() => p.Join(TimeSpan.FromSeconds(1)), Throws.InvalidOperationException);
        Assert.That(() => p.Terminate(), Throws.InvalidOperationException);
    }

    [Test]
    public void StartTwiceThrows()
    {
        using var p = new Process(Noop);
        p.Start();
        Assert.That(p.Start, Throws.InvalidOperationException.With.Message.EqualTo("cannot start a process twice"));
        p.Join();
        Assert.That(p.Start, Throws.InvalidOperationException.With.Message.EqualTo("cannot start a process twice"));
    }

    [Test]
    public void JoinTwiceIsFine()
    {
        using var p = new Process(ExitWith, 7);
        p.Start();
        p.Join();
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
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromMilliseconds(500)));
        Assert.That(p.IsAlive, Is.True);
        Assert.That(p.ExitCode, Is.Null);
        p.Kill();
        p.Join();
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
        Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(290)).And.LessThan(TimeSpan.FromSeconds(3)));
        p.Kill();
        Assert.That(p.Join(TimeSpan.FromSeconds(30)), Is.True);
        Assert.That(p.ExitCode, Is.EqualTo(-9));
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
        Assert.That(() => b.Name = null!, Throws.ArgumentNullException);
    }

    [TestCase(StartMethod.Fork)]
    [TestCase(StartMethod.ForkServer)]
    public void StartMethodsOtherThanSpawnAreRefusedWithAReason(StartMethod method)
    {
        using var p = new Process(Noop) { StartMethod = method };
        Assert.That(p.StartMethod, Is.EqualTo(method));
        Assert.That(p.Start, Throws.TypeOf<NotSupportedException>().With.Message.Contains(method.ToString()));
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
        Assert.That(() => p.Daemon = true, Throws.InvalidOperationException);
        Assert.That(() => p.StartMethod = StartMethod.Fork, Throws.InvalidOperationException);
        p.Join();
    }

    [Test]
    public void TheChildInheritsStdoutSoItsLinesReachTheParentsOutput()
    {
        using var p = new Process(Print, "hello from the child");
        using var stdout = StdioCapture.Stdout();
        stdout.During(p.Start);
        p.Join();
        Assert.That(stdout.ReadToEnd(), Is.EqualTo("hello from the child" + Environment.NewLine));
    }

    [Test]
    public void TheChildInheritsStderr()
    {
        using var p = new Process(PrintError, "to stderr");
        using var stderr = StdioCapture.Stderr();
        stderr.During(p.Start);
        p.Join();
        Assert.That(stderr.ReadToEnd(), Is.EqualTo("to stderr" + Environment.NewLine));
    }

    [Test]
    public void TheChildsStdinIsDevNull()
    {
        using var p = new Process(CheckStdinIsDevNull);
        p.Start();
        p.Join();
        Assert.That(p.ExitCode, Is.EqualTo(0), "exit 3 means stdin was not /dev/null or was not empty");
    }

    [Test]
    public void ANonCapturingLambdaIsAValidTarget()
    {
        using var p = new Process((int code) => Environment.Exit(code + 1), 10);
        p.Start();
        p.Join();
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
        p.Join();
        Assert.That(p.ToString(), Is.EqualTo($"<Process name='Shown' pid={p.Pid} stopped exitcode=3>"));
    }

    /// <summary>
    /// Waits until the child's worker host has named itself (comm = the process name), which it
    /// does first thing in managed code: from then on the .NET runtime's signal handling is live.
    /// </summary>
    internal static void WaitUntilRunningManagedCode(Process p)
    {
        var clock = Stopwatch.StartNew();
        var expected = p.Name.Length > 15 ? p.Name[..15] : p.Name;
        while (ProcessTable.Find(p.Pid!.Value)?.Name != expected)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30)) Assert.Fail($"{p} never named itself {expected}");
            Thread.Sleep(5);
        }
    }
}
