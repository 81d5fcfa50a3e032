using ForkKit.Tests.Support;
using ForkKit.Unix;

namespace ForkKit.Tests;

public class SyscallsTests
{
    /// <summary>The blocking waitpid under test, with a limit: a child that does not end is killed (which ends the wait) and the test fails.</summary>
    static WaitStatus WaitPid(int pid) =>
        Bounded.Call(() => Syscalls.WaitPid(pid), $"waitpid({pid})", () => Syscalls.Kill(pid, Syscalls.SIGKILL));

    [Test]
    public void GetPidAndGetParentPidMatchTheRuntime()
    {
        Assert.That(Syscalls.GetPid(), Is.EqualTo(Environment.ProcessId));
        Assert.That(Syscalls.GetParentPid(), Is.GreaterThan(0).And.Not.EqualTo(Environment.ProcessId));
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(200)]
    public void ForkExitIsReapedAsExitedWithItsCode(int code)
    {
        int pid = Syscalls.ForkExit(code);
        var status = WaitPid(pid);
        Assert.That(status, Is.EqualTo(new WaitStatus.Exited(pid, code)));
        Assert.That(status.ToExitCode(), Is.EqualTo(code));
    }

    [Test]
    public void WaitPidWithNoHangSaysStillRunningThenSignaledAfterKill()
    {
        int pid = Syscalls.ForkSleepExit(TimeSpan.FromSeconds(30), 0);
        Assert.That(Syscalls.WaitPid(pid, noHang: true), Is.EqualTo(new WaitStatus.StillRunning(pid)));
        Assert.That(Syscalls.WaitPid(pid, noHang: true).ToExitCode(), Is.Null);
        Syscalls.Kill(pid, Syscalls.SIGTERM);
        var status = WaitPid(pid);
        Assert.That(status, Is.EqualTo(new WaitStatus.Signaled(pid, 15, false)));
        Assert.That(status.ToExitCode(), Is.EqualTo(-15));
    }

    [Test]
    public void ForkSleepExitSleepsThenExits()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int pid = Syscalls.ForkSleepExit(TimeSpan.FromMilliseconds(300), 4);
        Assert.That(WaitPid(pid), Is.EqualTo(new WaitStatus.Exited(pid, 4)));
        Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(290)));
    }

    [Test]
    public void WaitPidOnANonChildNamesTheCallAndErrno()
    {
        var e = Assert.Throws<SyscallException>(() => Syscalls.WaitPid(1))!;
        Assert.That(e.Errno, Is.EqualTo(10));
        Assert.That(e.ErrnoName, Is.EqualTo("ECHILD"));
        Assert.That(e.Message, Is.EqualTo("waitpid(1) failed: ECHILD (No child processes)"));
    }

    [Test]
    public void WaitPidTwiceOnTheSameChildFailsWithEchild()
    {
        int pid = Syscalls.ForkExit(0);
        Syscalls.WaitPid(pid);
        Assert.That(() => Syscalls.WaitPid(pid), Throws.TypeOf<SyscallException>().With.Property("ErrnoName").EqualTo("ECHILD"));
    }

    [Test]
    public void KillOfAMissingProcessNamesTheCallAndErrno()
    {
        var e = Assert.Throws<SyscallException>(() => Syscalls.Kill(int.MaxValue, 0))!;
        Assert.That(e.Message, Does.StartWith($"kill({int.MaxValue}, 0) failed: ESRCH"));
    }

    [Test]
    public void ANegativeSleepIsRefused() =>
        Assert.That(() => Syscalls.ForkSleepExit(TimeSpan.FromSeconds(-1), 0), Throws.TypeOf<ArgumentOutOfRangeException>());
}
