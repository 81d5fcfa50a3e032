using ForkKit.Tests.Support;
using static ForkKit.Tests.Support.ChildTargets;

namespace ForkKit.Tests;

/// <summary>
/// Process on CreateProcessW only: a child ended but not yet waited for, the job object that
/// takes daemons down with their parent, and the explicit list of handles a child inherits.
/// </summary>
public partial class ProcessTests
{
    [Test]
    public void TerminatingAnEndedChildChangesNothing()
    {
        using var p = new Process(ExitWith, 3);
        p.Start();
        // Ended, as Windows sees it, before ForkKit has looked: TerminateProcess on it must not
        // turn exit code 3 into -15.
        Assert.That(Wait.Until(() => !Win32.IsRunning(p.Pid!.Value)), Is.True);
        p.Terminate();
        p.JoinBounded();
        Assert.That(p.ExitCode, Is.EqualTo(3));
        p.Terminate(); // reaped: a no-op
    }

    [Test]
    public void ADaemonChildDiesWithItsParentEvenWhenTheParentIsKilled()
    {
        var pidFile = Path.Combine(Path.GetTempPath(), $"forkkit-daemon-{Guid.NewGuid():N}");
        using var parent = new Process(StartDaemonThenSleep, pidFile);
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
            parent.JoinBounded();
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
        using var p = new Process(SleepSeconds, 60.0);
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
            p.JoinBounded();
        }
    }
}

public partial class ProcessTests
{
    [Test]
    public void ForkServerIsRefusedOnWindowsBecauseWindowsHasNoFork()
    {
        using var p = new Process(Noop) { StartMethod = StartMethod.ForkServer };
        Assert.Throws(Is.TypeOf<NotSupportedException>().With.Message.Contains("ForkServer").And.Message.Contains("Windows has no fork"), p.Start);
        Assert.That(p.Pid, Is.Null);
    }
}
