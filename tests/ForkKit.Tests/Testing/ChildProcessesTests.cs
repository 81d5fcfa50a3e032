using ForkKit.Diagnostics;
using ForkKit.Testing;
using ForkKit.Tests.Support;
using ForkKit.Unix;
using NUnit.Framework.Internal;
using Is = ForkKit.Testing.Is;

namespace ForkKit.Tests.Testing;

/// <summary>ForkKit.Testing catches what a test leaves behind, and never reaps anything itself.</summary>
public class ChildProcessesTests
{
    [Test]
    public void AnUnreapedForkExitChildIsCaughtAndPassesOnceReaped()
    {
        int pid = Syscalls.ForkExit(0);
        try
        {
            ProcessTableTests.WaitForState(pid, ProcessState.Zombie);
            Assert.That(pid, Is.Zombie);
            Assert.That(pid, Is.Not.Reaped);

            var failure = Assert.Throws<AssertionException>(() => ChildProcesses.AssertAllReaped(TimeSpan.FromMilliseconds(100)))!;
            Assert.That(failure.Message, Does.Contain("1 child process(es) of pid " + Environment.ProcessId + " not reaped"));
            Assert.That(failure.Message, Does.Match($@"\n\s+{pid}\s+zombie \(exited, not waited for\)\s+\d+\.\d s\s+\[forkkit-child\] <defunct>"));

            Assert.That(pid, Is.Zombie, "the check itself reaped nothing");
        }
        finally
        {
            Syscalls.WaitPid(pid);
        }
        Assert.That(pid, Is.Reaped);
        Assert.That(() => ChildProcesses.AssertAllReaped(), Throws.Nothing);
    }

    [Test]
    public void AChildThatStillRunsIsCaughtWithItsAgeAndState()
    {
        int pid = Syscalls.ForkSleepExit(TimeSpan.FromSeconds(30), 0);
        try
        {
            var report = ChildProcesses.FindLeaks();
            var child = report.Children.Single();
            Assert.That(child.Pid, Is.EqualTo(pid));
            Assert.That(child.State, Does.StartWith("running"));
            Assert.That(child.Age, Is.Not.Null.And.LessThan(TimeSpan.FromSeconds(30)));
            Assert.That(pid, Is.Not.Zombie);
        }
        finally
        {
            Syscalls.Kill(pid, Syscalls.SIGKILL);
            Syscalls.WaitPid(pid);
        }
    }

    [Test]
    public void AProcessIsReapedOnlyOnceJoined()
    {
        using var p = new Process(ChildTargets.Noop);
        Assert.That(p, Is.Not.Reaped, "never started");
        p.Start();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!p.HasExited && clock.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(5);

        Assert.That(p, Is.Zombie);
        var notReaped = Assert.Throws<AssertionException>(() => Assert.That(p, Is.Reaped))!;
        Assert.That(notReaped.Message, Does.Contain($"{p.Name} pid {p.Pid}, exited, not joined (a zombie)"));
        p.JoinBounded();
        Assert.That(p, Is.Reaped);
    }

    [Test]
    public void AChildReapedWithinTheGraceTimePasses()
    {
        int pid = Syscalls.ForkSleepExit(TimeSpan.FromMilliseconds(200), 0);
        var reaper = Task.Run(() => Syscalls.WaitPid(pid));
        Assert.That(() => ChildProcesses.AssertAllReaped(TimeSpan.FromSeconds(10)), Throws.Nothing);
        Assert.That(reaper.Wait(Bounded.Limit), Is.True, "the child was reaped");
    }

    [Test]
    public void ALeftoverSemaphoreNameIsCaught()
    {
        // The check reads /dev/shm for ForkKit's names; a file named like one stands in here.
        var name = $"{NamedSemaphores.Prefix}{Environment.ProcessId}-leaktest";
        var path = $"/dev/shm/sem.{name}";
        File.WriteAllBytes(path, []);
        try
        {
            Assert.That(ChildProcesses.FindLeaks().IsClean, Is.True, "semaphores are checked only when asked");
            var report = ChildProcesses.FindLeaks(semaphores: true);
            Assert.That(report.Semaphores.Select(s => s.Name), Is.EqualTo(new[] { name }));
            Assert.That(report.ToString(), Does.Contain($"{path} (created by pid {Environment.ProcessId})"));
        }
        finally
        {
            File.Delete(path);
        }
        Assert.That(ChildProcesses.FindLeaks(semaphores: true).IsClean, Is.True);
    }

    [Test]
    public void ALeftoverSharedMemoryNameFailsTheTestThatLeftIt()
    {
        // A Lock whose semaphore was unlinked but whose owner word was not: only the shared
        // memory object /dev/shm/NAME is left. A file named like one stands in here.
        var attribute = new AssertChildrenReapedAttribute { GraceMilliseconds = 100 };
        var leaky = new TestMethod(new MethodWrapper(typeof(LeakyExamples), nameof(LeakyExamples.Waits)));
        var name = $"{NamedSemaphores.Prefix}{Environment.ProcessId}-shmleaktest";
        var path = $"/dev/shm/{name}";
        attribute.BeforeTest(leaky);
        File.WriteAllBytes(path, []);
        try
        {
            Assert.That(ChildProcesses.FindLeaks().IsClean, Is.True, "shared memory is checked with the semaphores, only when asked");
            var report = ChildProcesses.FindLeaks(semaphores: true);
            Assert.That(report.SharedMemory.Select(s => s.Name), Is.EqualTo(new[] { name }));
            Assert.That(report.Semaphores, Is.Empty, "a semaphore's file is sem.NAME: this one is no semaphore");
            var failure = Assert.Throws<AssertionException>(() => attribute.AfterTest(leaky))!;
            Assert.That(failure.Message, Does.StartWith($"test {typeof(LeakyExamples).FullName}.Waits left behind:"));
            Assert.That(failure.Message, Does.Contain($"1 ForkKit shared memory object(s) left linked:\n  {path} (created by pid {Environment.ProcessId})"));
        }
        finally
        {
            File.Delete(path);
        }
        Assert.That(ChildProcesses.FindLeaks(semaphores: true).IsClean, Is.True);
    }

    [Test]
    public void NamesAnotherProcessMakesMeanwhileAreNotThisTestsLeak()
    {
        // Another program using ForkKit (a second test run on the machine) makes names with its
        // own pid in them while this test runs. Files named like them stand in here (pid 1).
        var baseline = LeakBaseline.Take();
        var paths = new[] { $"/dev/shm/sem.{NamedSemaphores.Prefix}1-othertest", $"/dev/shm/{NamedSemaphores.Prefix}1-othertest" };
        try
        {
            foreach (var path in paths) File.WriteAllBytes(path, []);
            Assert.That(ChildProcesses.FindLeaks(semaphores: true, since: baseline).IsClean, Is.True);
        }
        finally
        {
            foreach (var path in paths) File.Delete(path);
        }
    }

    [Test]
    public void ALockLeftUndisposedIsCaughtByBothItsNames()
    {
        var baseline = LeakBaseline.Take();
        var lk = new Lock();
        try
        {
            var report = ChildProcesses.FindLeaks(semaphores: true, since: baseline);
            Assert.That(report.Semaphores.Select(s => s.Path), Is.EqualTo(new[] { $"/dev/shm/sem.{lk.Name}" }));
            Assert.That(report.SharedMemory.Select(s => s.Path), Is.EqualTo(new[] { $"/dev/shm/{lk.Name}" }), "the owner word");
            Assert.That(report.SharedMemory.Single().CreatorPid, Is.EqualTo(Environment.ProcessId));
        }
        finally
        {
            lk.Dispose();
        }
        Assert.That(ChildProcesses.FindLeaks(semaphores: true, since: baseline).IsClean, Is.True, "Dispose unlinked both");
    }

    [Test]
    public void ADescriptorOpenedSinceTheBaselineIsCaught()
    {
        var baseline = LeakBaseline.Take();
        var file = Path.GetTempFileName();
        try
        {
            using (var stream = File.OpenRead(file))
            {
                var report = ChildProcesses.FindLeaks(descriptors: true, since: baseline);
                Assert.That(report.Descriptors, Has.One.EndsWith(" -> " + file));
            }
            Assert.That(ChildProcesses.FindLeaks(descriptors: true, since: baseline).IsClean, Is.True);
        }
        finally
        {
            File.Delete(file);
        }
        Assert.That(() => ChildProcesses.FindLeaks(descriptors: true), Throws.ArgumentException.With.Message.Contains("baseline"));
    }

    [Test]
    public void TheAttributeFailsTheLeakingTestByNameAndIgnoresOlderChildren()
    {
        var attribute = new AssertChildrenReapedAttribute { GraceMilliseconds = 100 };
        var leaky = new TestMethod(new MethodWrapper(typeof(LeakyExamples), nameof(LeakyExamples.ForgetsToWait)));
        var clean = new TestMethod(new MethodWrapper(typeof(LeakyExamples), nameof(LeakyExamples.Waits)));

        attribute.BeforeTest(leaky);
        int pid = LeakyExamples.ForgetsToWait();
        try
        {
            var failure = Assert.Throws<AssertionException>(() => attribute.AfterTest(leaky))!;
            Assert.That(failure.Message, Does.StartWith($"test {typeof(LeakyExamples).FullName}.ForgetsToWait left behind:"));
            Assert.That(failure.Message, Does.Contain(pid.ToString()));

            // The next test starts with the leak already there: it is not blamed for it.
            attribute.BeforeTest(clean);
            LeakyExamples.Waits();
            Assert.That(() => attribute.AfterTest(clean), Throws.Nothing);
        }
        finally
        {
            Syscalls.WaitPid(pid);
        }
    }

    static class LeakyExamples
    {
        public static int ForgetsToWait() => Syscalls.ForkExit(0);

        public static void Waits() => Syscalls.WaitPid(Syscalls.ForkExit(0));
    }
}
