using System.Diagnostics;
using System.Text.RegularExpressions;
using ForkKit.Diagnostics;
using ForkKit.Launching;
using ChildProcesses = ForkKit.Testing.ChildProcesses;
using ForkKit.Tests.Support;
using ForkKit.Unix;

namespace ForkKit.Tests;

/// <summary>
/// StartMethod.ForkServer: children forked by this test process's fork server behave as
/// spawned ones do (exit codes, Join, IsAlive, Terminate, Kill, locks, pools, remote exceptions,
/// no zombie), show in the process table as children of the server, and a server or a child
/// that fails never hangs the caller.
/// </summary>
public class ForkServerTests : ScratchFileFixture
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    static Process Forked(Delegate target, params object?[] args) => new(target, args) { StartMethod = StartMethod.ForkServer };

    static int Run(Delegate target, params object?[] args)
    {
        using var p = Forked(target, args);
        p.Start();
        Assert.That(p.Join(Patience), Is.True, "the child ended");
        return p.ExitCode!.Value;
    }

    static Repo.Result RunApp(string scenario, IReadOnlyDictionary<string, string>? environment, params string[] more)
    {
        var r = Repo.Run(Repo.Dotnet, [Path.Combine(Repo.OutputDir, "ForkKit.TestApp.dll"), scenario, .. more], Patience, environment: environment);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Stdout + r.Stderr);
        return r;
    }

    // ---- exit codes, Join, IsAlive, signals ----

    [Test]
    public void ExitCodesAreAsWithSpawn()
    {
        Assert.That(Run(ChildTargets.Noop), Is.EqualTo(0), "returns");
        Assert.That(Run(ChildTargets.Raise, "on purpose"), Is.EqualTo(1), "throws");
        Assert.That(Run(ChildTargets.ThrowsAsync), Is.EqualTo(1), "an awaited Task throws");
        Assert.That(Run(ForkServerTargets.ExitWith, 5), Is.EqualTo(5), "exits with its own code");
        Assert.That(Run(ForkServerTargets.DereferenceNull, (string?)null), Is.EqualTo(1), "a null dereference is a NullReferenceException, not a crash");
    }

    [Test]
    public void JoinWithATimeoutIsAliveTerminateAndKillWorkAsWithSpawn()
    {
        using var p = Forked(ChildTargets.SleepSeconds, 60.0);
        p.Start();
        Assert.That(p.IsAlive, Is.True);
        Assert.That(p.Join(TimeSpan.FromMilliseconds(200)), Is.False, "still running");
        Assert.That(p.ExitCode, Is.Null);
        p.Terminate();
        Assert.That(p.Join(Patience), Is.True);
        Assert.That((p.IsAlive, p.ExitCode), Is.EqualTo((false, (int?)-15)));

        using var k = Forked(ChildTargets.SleepSeconds, 60.0);
        k.Start();
        k.Kill();
        k.JoinBounded();
        Assert.That(k.ExitCode, Is.EqualTo(-9));
    }

    [Test]
    public void FourThreeSecondChildrenRunAtTheSameTime()
    {
        var clock = Stopwatch.StartNew();
        var children = Enumerable.Range(0, 4).Select(_ => Forked(ChildTargets.SleepSeconds, 3.0)).ToList();
        try
        {
            children.ForEach(c => c.Start());
            children.ForEach(c => c.JoinBounded());
            // One after another they would take at least 12 s; at the same time about 3 s, and
            // the bound leaves a loaded machine (and a first start of the server) 8 s beyond that.
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(11)), "under 4 x 3 s");
            Assert.That(children.Select(c => c.ExitCode), Is.All.EqualTo(0));
        }
        finally
        {
            children.ForEach(c => c.Dispose());
        }
    }

    // ---- who the child is ----

    [Test]
    public void TheChildKnowsItsOwnPidAndShowsAsAChildOfTheServerWhichIsOurs()
    {
        using var p = Forked(ForkServerTargets.WritePidsThenSleep, Scratch, 60_000);
        p.Name = "Watched-1";
        p.Start();
        try
        {
            Assert.That(Wait.Until(() => File.Exists(Scratch)), Is.True, "the child wrote its pids");
            var pids = File.ReadAllText(Scratch).Split(' ').Select(int.Parse).ToArray();
            int server = ForkServerLauncher.ServerPid!.Value;
            Assert.That(pids, Is.EqualTo(new[] { p.Pid!.Value, server }), "Environment.ProcessId is the child's own; its parent is the server");

            var serverEntry = ProcessTable.Find(server)!;
            Assert.That(serverEntry.ParentPid, Is.EqualTo(Environment.ProcessId));
            Assert.That(serverEntry.Name, Is.EqualTo("ForkServer"));
            Assert.That(serverEntry.CommandLine, Does.StartWith($"forkkit: ForkServer (parent {Environment.ProcessId})"));
            var child = ProcessTable.Find(p.Pid.Value)!;
            Assert.That(child.Name, Is.EqualTo("Watched-1"));
            Assert.That(child.CommandLine.Trim(), Is.EqualTo($"forkkit: Watched-1 (parent {Environment.ProcessId})"));
        }
        finally
        {
            p.Terminate();
            p.JoinBounded();
        }
    }

    [Test]
    public void TheServerStartedWithTheForkSafeSettingsWhileThisProcessKeepsItsOwn()
    {
        Run(ChildTargets.Noop);
        var environ = File.ReadAllText($"/proc/{ForkServerLauncher.ServerPid}/environ").Split('\0');
        foreach (var (key, value) in ForkSafety.Settings) Assert.That(environ, Does.Contain($"{key}={value}"));
        Assert.That(ForkSafety.IsEnabled, Is.False, "this test host runs with the runtime's defaults");
    }

    // ---- what crosses ----

    [Test]
    public void ALockCrossesAsAnArgumentAndGuardsTheChildrenAsWithSpawn()
    {
        File.WriteAllText(Scratch, "0");
        using var lk = new Lock();
        var children = Enumerable.Range(0, 3).Select(_ => Forked(LockTargets.Increment, lk, Scratch, 50)).ToList();
        try
        {
            children.ForEach(c => c.Start());
            children.ForEach(c => c.JoinBounded());
            Assert.That(children.Select(c => c.ExitCode), Is.All.EqualTo(0));
            Assert.That(File.ReadAllText(Scratch), Is.EqualTo("150"), "no increment was lost");
        }
        finally
        {
            children.ForEach(c => c.Dispose());
        }
    }

    [Test]
    public void APoolOnTheForkServerMapsRaisesRemoteExceptionsAndReplacesWorkers()
    {
        using var pool = new Pool(2, maxTasksPerChild: 2, startMethod: StartMethod.ForkServer);
        int server = ForkServerLauncher.ServerPid!.Value;
        foreach (var pid in pool.WorkerPids)
        {
            var entry = ProcessTable.Find(pid)!;
            Assert.That(entry.ParentPid, Is.EqualTo(server), "a child of the fork server");
            Assert.That(entry.Name, Does.Match(@"^PoolWorker-\d+$"));
        }
        var first = pool.WorkerPids.ToList();
        Assert.That(pool.Map(PoolTargets.Square, Enumerable.Range(0, 100).ToList(), 10), Is.EqualTo(Enumerable.Range(0, 100).Select(i => i * i)));
        Assert.That(Wait.Until(() => pool.WorkerPids.Intersect(first).Count() == 0), Is.True, "workers retire after 2 tasks and are replaced");

        var e = Assert.Throws<InvalidOperationException>(() => pool.Apply(PoolTargets.Fail, "failed on purpose"))!;
        Assert.That(e.Message, Is.EqualTo("failed on purpose"));
        Assert.That(e.InnerException, Is.TypeOf<RemoteTraceback>());
        pool.Close();
        pool.JoinBounded();
    }

    [Test]
    public void EachForkServerWorkerRunsTheInitializerOnceInItsOwnCopy()
    {
        using var pool = new Pool(2, PoolTargets.Init, ["ready"], startMethod: StartMethod.ForkServer);
        var states = pool.Map(PoolTargets.InitState, Enumerable.Range(0, 40), chunkSize: 1);
        Assert.That(states, Is.All.EqualTo("1:ready"), "the initializer ran once in each worker, not in the server (then it would read 2:ready or more)");
        pool.Close();
        pool.JoinBounded();
    }

    [Test]
    public void AForkServerWorkerKilledMidTaskFailsThatTaskWithWorkerLost()
    {
        using var pool = new Pool(1, startMethod: StartMethod.ForkServer);
        var victim = pool.ApplyAsync(PoolTargets.AnnounceThenSleep, Scratch, 60_000);
        Assert.That(Wait.Until(() => File.Exists(Scratch)), Is.True);
        int pid = int.Parse(File.ReadAllText(Scratch));
        Syscalls.Kill(pid, Syscalls.SIGKILL);
        // Soon after the kill, not when the 60 s task would have ended.
        Assert.That(victim.Wait(TimeSpan.FromSeconds(20)), Is.True, "the task failed soon after the kill");
        var lost = Assert.Throws<WorkerLostException>(() => victim.Get())!;
        Assert.That((lost.Pid, lost.ExitCode), Is.EqualTo((pid, (int?)-9)), "the exit status came from the server");
        Assert.That(pool.Apply(PoolTargets.Square, 7), Is.EqualTo(49), "a replacement runs the next task");
        pool.Close();
        pool.JoinBounded();
    }

    // ---- leaks: the server is not one, its children are ----

    [Test]
    public void ALeakedForkServerChildIsReportedAndTheServerIsNot()
    {
        using var p = Forked(ChildTargets.SleepSeconds, 60.0);
        p.Start();
        try
        {
            var report = ChildProcesses.FindLeaks();
            Assert.That(report.Children.Select(c => c.Pid), Does.Contain(p.Pid!.Value));
            Assert.That(report.Children.Select(c => c.Pid), Does.Not.Contain(ForkServerLauncher.ServerPid!.Value));
        }
        finally
        {
            p.Kill();
            p.JoinBounded();
        }
        Assert.That(ChildProcesses.FindLeaks().Children, Is.Empty);
    }

    // ---- a server or a child that fails ----

    [Test]
    public void WhenTheServerDiesItsChildrenStillJoinAndTheNextStartBringsUpANewServer()
    {
        Run(ChildTargets.Noop);
        int old = ForkServerLauncher.ServerPid!.Value;
        using var returns = Forked(ChildTargets.SleepSeconds, 1.0);
        using var killed = Forked(ChildTargets.SleepSeconds, 60.0);
        returns.Start();
        killed.Start();
        Syscalls.Kill(old, Syscalls.SIGKILL);

        Assert.That(returns.Join(Patience), Is.True);
        Assert.That(returns.ExitCode, Is.EqualTo(0), "the child reported its own exit code before it ended");
        killed.Kill();
        Assert.That(killed.Join(Patience), Is.True, "a child whose server is gone is still joined");
        Assert.That(killed.ExitCode, Is.EqualTo(255), "a death by signal cannot be known without the server: 255, as Python's forkserver");

        Assert.That(Run(ChildTargets.Noop), Is.EqualTo(0));
        Assert.That(ForkServerLauncher.ServerPid, Is.Not.EqualTo(old), "a new server");
        Assert.That(ProcessTable.Find(old), Is.Null, "the dead server was reaped");
    }

    [Test]
    public void AServerThatDoesNotAnswerIsKilledAndTheStartFailsWithinTheDeadline()
    {
        Run(ChildTargets.Noop);
        int stopped = ForkServerLauncher.ServerPid!.Value;
        var deadline = ForkServerClient.Deadline;
        ForkServerClient.Deadline = TimeSpan.FromSeconds(1);
        try
        {
            Syscalls.Kill(stopped, 19); // SIGSTOP: it cannot answer
            using var p = Forked(ChildTargets.Noop);
            var clock = Stopwatch.StartNew();
            var e = Assert.Throws<ForkServerException>(p.Start)!;
            // Failed on the 1 s deadline set here, not the default 10 s one: room for a loaded machine.
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(8)));
            Assert.That(e.Message, Does.Contain($"fork server (pid {stopped}) did not answer within 1 s").And.Contain("was not started"));
            Assert.That(p.Pid, Is.Null);
        }
        finally
        {
            ForkServerClient.Deadline = deadline;
        }
        Assert.That(ProcessTable.Find(stopped), Is.Null, "the server that did not answer was killed and reaped");
        Assert.That(Run(ChildTargets.Noop), Is.EqualTo(0), "the next start brings up a new server");
    }

    [Test]
    public void AServerThatDiesWhileAStartWaitsForItFailsThatStartAtOnce()
    {
        Run(ChildTargets.Noop);
        int server = ForkServerLauncher.ServerPid!.Value;
        Syscalls.Kill(server, 19); // SIGSTOP: the next request waits for an answer
        using var p = Forked(ChildTargets.Noop);
        var clock = Stopwatch.StartNew();
        var start = Task.Run(() => Assert.Throws<ForkServerException>(p.Start));
        var client = (ForkServerClient)ForkServerLauncher.Current!;
        Assert.That(Wait.Until(() => client.WaitingForReply), Is.True, "the request was sent and its start waits for the answer");
        Assert.That(start.IsCompleted, Is.False);
        Syscalls.Kill(server, Syscalls.SIGKILL);
        Assert.That(start.Wait(Patience), Is.True, "the start failed");
        Assert.That(clock.Elapsed, Is.LessThan(ForkServerClient.Deadline), "soon after the server died, before the deadline (10 s)");
        Assert.That(start.Result!.Message, Does.Contain($"the fork server (pid {server}) was killed by signal 9 (SIGKILL) while starting {p.Name}")
            .And.Contain("was not started").And.Contain("The next start brings up a new server"));
        Assert.That(p.Pid, Is.Null);
        Assert.That(Run(ChildTargets.Noop), Is.EqualTo(0));
        Assert.That(ForkServerLauncher.ServerPid, Is.Not.EqualTo(server));
    }

    [TestCase("hang-before-running", "did not report running within 1 s; it was killed")]
    [TestCase("crash-before-running", "was killed by signal 6 (SIGABRT) before it ran its target")]
    public void AChildThatHangsOrDiesBeforeItRunsFailsItsStartAndLeavesNothing(string fault, string message)
    {
        var r = RunApp("forkserver-fault", new Dictionary<string, string>
        {
            ["FORKKIT_FORKSERVER_FAULT"] = fault,
            // The child's deadline; the server started for this request has 30 s more for its warm-up.
            [ForkServerClient.DeadlineVariable] = "1000",
        });
        Assert.That(r.Stdout, Does.Contain("refused after").And.Contain(message));
        Assert.That(Regex.Match(r.Stdout, @"refused after ([\d.]+) s").Groups[1].Value, Is.Not.Empty);
        Assert.That(double.Parse(Regex.Match(r.Stdout, @"refused after ([\d.]+) s").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture),
            Is.LessThan(30), "the caller was held for the child's 1 s deadline (and the new server's warm-up), not for ever");
        Assert.That(r.Stdout, Does.Contain("left: 0 children, 0 zombies"));
    }

    // ---- stdout, stderr, daemons, many children ----

    [Test]
    public void ChildrenWriteOnTheParentsStdoutAndStderrAndADaemonEndsWithItsParent()
    {
        var r = RunApp("forkserver", null);
        var child = Regex.Match(r.Stdout, @"Process-1 \(pid (\d+), parent (\d+)\): hello on stdout");
        var parent = Regex.Match(r.Stdout, @"parent (\d+): child (\d+) exit 0, server (\d+)");
        Assert.That(child.Success && parent.Success, Is.True, r.Stdout + r.Stderr);
        Assert.That((child.Groups[1].Value, child.Groups[2].Value), Is.EqualTo((parent.Groups[2].Value, parent.Groups[3].Value)));
        Assert.That(r.Stdout, Does.Contain("throws: exit 1"));
        Assert.That(r.Stderr, Does.Contain("Process Process-2:").And.Contain("System.InvalidOperationException: on stderr"));

        int daemon = int.Parse(Regex.Match(r.Stdout, @"daemon (\d+) started").Groups[1].Value);
        int server = int.Parse(parent.Groups[3].Value);
        Assert.That(Wait.Until(() => ProcessTable.Find(daemon) is null && ProcessTable.Find(server) is null), Is.True,
            "the daemon child was terminated and reaped, and the server ended and was reaped, when the program exited");
    }

    [Test]
    public void FiveHundredForkServerChildrenThatReturnThrowAllocateUseThePoolOrAreTerminatedAllEndAsExpected()
    {
        var r = RunApp("fork-many", null, "500", "ForkServer");
        Assert.That(r.Stdout, Does.Contain("forked 500: 500 as expected, 0 other exit codes, 0 hung"));
        Assert.That(r.Stdout, Does.Contain("left: 0 children, 0 zombies"));
    }
}
