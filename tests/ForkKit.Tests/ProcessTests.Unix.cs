using System.Diagnostics;
using ForkKit.Diagnostics;
using ForkKit.Tests.Support;
using static ForkKit.Tests.Support.ChildTargets;

namespace ForkKit.Tests;

/// <summary>
/// Process on Linux only: what the child prints on the inherited descriptors, and signals
/// (a child killed while the runtime installs its handlers, or already running managed code).
/// </summary>
public partial class ProcessTests
{
    static void TakesBytes(byte[] data) { }

    /// <remarks>
    /// Linux only: the refusal is the same code on every platform, and the gigabyte or so the
    /// encoding takes stayed with the Windows test process under Wine, whose next CreateProcess
    /// then hung.
    /// </remarks>
    [Test]
    public void ArgumentsLargerThanAFrameAreRefusedAtStartBeforeAnyChildExists()
    {
        int childrenBefore = ProcessTable.ChildrenOf(Environment.ProcessId).Count;
        // 200 MiB of bytes travel as about 267 MiB of base64: over the 256 MiB frame limit.
        using var p = new Process(TakesBytes, new byte[200 * 1024 * 1024]);
        try
        {
            var e = Assert.Throws<ArgumentException>(p.Start)!;
            Assert.That(e.Message, Does.Contain("start message of").And.Contain("more than the wire format's limit").And.Contain("nothing was started"));
            Assert.That(p.Pid, Is.Null);
            Assert.That(ProcessTable.ChildrenOf(Environment.ProcessId), Has.Count.EqualTo(childrenBefore), "no child was started");
        }
        finally
        {
            System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect();
        }
    }

    [Test]
    public void AnUnhandledExceptionPrintsTheChildsTraceOnTheInheritedStderr()
    {
        using var p = new Process(Raise, "the target failed on purpose");
        using var stderr = StdioCapture.Stderr();
        stderr.During(p.Start);
        p.JoinBounded();
        var text = stderr.ReadToEnd();

        Assert.That(p.ExitCode, Is.EqualTo(1));
        Assert.That(text, Does.Contain($"Process {p.Name}:"));
        Assert.That(text, Does.Contain("System.InvalidOperationException: the target failed on purpose"));
        Assert.That(text, Does.Contain("at ForkKit.Tests.Support.ChildTargets.Raise(String message)"), "the child's stack trace");
    }

    [TestCase(StartMethod.Spawn)]
    [TestCase(StartMethod.ForkServer)]
    public void ATargetThatThrowsWhenItsStderrFailsExitsWithOneNotACrash(StartMethod method)
    {
        using var p = new Process(BreakStderrThenThrow) { StartMethod = method };
        p.Start();
        Assert.That(p.Join(TimeSpan.FromSeconds(60)), Is.True);
        Assert.That(p.ExitCode, Is.EqualTo(1), "Python's code for a target that threw, not SIGABRT (-6) from a failed trace write");
    }

    [Test]
    public void AnAsyncTargetsExceptionIsPrintedOnTheInheritedStderr()
    {
        using var ok = new Process(SleepAsync, 50);
        using var failing = new Process(ThrowsAsync);
        using var stderr = StdioCapture.Stderr();
        stderr.During(() => { ok.Start(); failing.Start(); });
        ok.JoinBounded();
        failing.JoinBounded();

        Assert.That(ok.ExitCode, Is.EqualTo(0));
        Assert.That(failing.ExitCode, Is.EqualTo(1));
        Assert.That(stderr.ReadToEnd(), Does.Contain("System.TimeoutException: async failure"));
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
        terminated.JoinBounded();
        killed.JoinBounded();

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
            foreach (var p in processes) p.JoinBounded();
            Assert.That(processes.Select(p => p.ExitCode), Is.All.EqualTo(expected));
        }
        finally
        {
            foreach (var p in processes) p.Dispose();
        }
    }

    [Test]
    public void TheChildInheritsStdoutSoItsLinesReachTheParentsOutput()
    {
        using var p = new Process(Print, "hello from the child");
        using var stdout = StdioCapture.Stdout();
        stdout.During(p.Start);
        p.JoinBounded();
        Assert.That(stdout.ReadToEnd(), Is.EqualTo("hello from the child" + Environment.NewLine));
    }

    [Test]
    public void TheChildInheritsStderr()
    {
        using var p = new Process(PrintError, "to stderr");
        using var stderr = StdioCapture.Stderr();
        stderr.During(p.Start);
        p.JoinBounded();
        Assert.That(stderr.ReadToEnd(), Is.EqualTo("to stderr" + Environment.NewLine));
    }

    [Test]
    public void TheChildsStdinIsDevNull()
    {
        using var p = new Process(CheckStdinIsDevNull);
        p.Start();
        p.JoinBounded();
        Assert.That(p.ExitCode, Is.EqualTo(0), "exit 3 means stdin was not /dev/null or was not empty");
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
