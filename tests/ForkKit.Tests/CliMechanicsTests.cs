using System.Text.RegularExpressions;
using ForkKit.Diagnostics;
using ForkKit.Tests.Support;

namespace ForkKit.Tests;

/// <summary>The process-mechanics demos, the trace, the timeline and ps, run through the forkkit command.</summary>
public class CliMechanicsTests
{
    static string Cli => Path.Combine(Repo.OutputDir, "ForkKit.Cli.dll");

    static Repo.Result Forkkit(params string[] args)
    {
        var r = Repo.Run(Repo.Dotnet, ["exec", Cli, .. args], TimeSpan.FromMinutes(2));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Stdout + r.Stderr);
        // Ordinal: a culture-aware search ignores the control character and finds any "[".
        Assert.That(r.Stdout.Contains('\u001b'), Is.False, "no colour when stdout is not a terminal");
        return r;
    }

    [Test]
    public void TheZombieDemoShowsStateZThenTheChildIsGone()
    {
        var r = Forkkit("demo", "zombie");
        var zombie = Regex.Match(r.Stdout, @"\n\s+(\d+)\s+(\d+) Z forkkit-child\s+\[forkkit-child\] <defunct>\n");
        Assert.That(zombie.Success, Is.True, r.Stdout);
        int pid = int.Parse(zombie.Groups[1].Value);
        var after = r.Stdout[r.Stdout.IndexOf($"waitpid({pid}) = {pid}, exited with code 0")..];
        Assert.That(after, Does.Contain("(none)").And.Not.Contain($" {pid} "), "reaped: no longer in the table");
        Assert.That(ProcessTable.Find(pid), Is.Null);
    }

    [Test]
    public void TheZombieDemoExplainsWhyNoZombieAppearsWhenSigchldIsIgnored()
    {
        // Start the demo with SIGCHLD set to SIG_IGN, which execve keeps: then the kernel reaps
        // every child at once. (python3, because dash's trap '' CHLD does not ignore SIGCHLD.)
        var r = Repo.Run("python3", ["-c", "import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])",
            Repo.Dotnet, "exec", Cli, "demo", "zombie"], TimeSpan.FromMinutes(2));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Stderr);
        Assert.That(r.Stdout, Does.Contain("note: SIGCHLD is ignored (SIG_IGN) in this process"));
        Assert.That(r.Stdout, Does.Contain("was not seen as a zombie"));
        Assert.That(r.Stdout, Does.Contain("failed with ECHILD"));
        Assert.That(r.Stdout, Does.Not.Match(@"\d+ Z forkkit-child"));
    }

    static (int Child, int Before, int After) OrphanParents(string stdout)
    {
        var before = Regex.Match(stdout, @"before: pid\s+(\d+)\s+ppid\s+(\d+) \(OrphanParent\)");
        var after = Regex.Match(stdout, @"after : pid\s+(\d+)\s+ppid\s+(\d+)");
        Assert.That(before.Success && after.Success, Is.True, stdout);
        Assert.That(after.Groups[1].Value, Is.EqualTo(before.Groups[1].Value));
        return (int.Parse(before.Groups[1].Value), int.Parse(before.Groups[2].Value), int.Parse(after.Groups[2].Value));
    }

    [Test]
    public void TheOrphanDemoShowsTheParentPidChange()
    {
        var r = Forkkit("demo", "orphan", "--fast");
        var (child, before, after) = OrphanParents(r.Stdout);
        Assert.That(after, Is.Not.EqualTo(before), "reparented when its parent exited");
        Assert.That(r.Stdout, Does.Contain("The orphan was reparented to"));
        Assert.That(ProcessTable.Find(child) is null or { State: ProcessState.Zombie }, Is.True, "nothing left running");
    }

    [Test]
    public void WithSubreaperTheDemoAdoptsAndReapsTheOrphan()
    {
        var r = Forkkit("demo", "orphan", "--fast", "--subreaper");
        int demo = int.Parse(Regex.Match(r.Stdout, @"this process \(pid (\d+)\) adopts").Groups[1].Value);
        var (child, before, after) = OrphanParents(r.Stdout);
        Assert.That(before, Is.Not.EqualTo(demo));
        Assert.That(after, Is.EqualTo(demo), "the subreaper adopted it");
        Assert.That(r.Stdout, Does.Contain($"waitpid({child}) = {child}, exited with code 0"));
        Assert.That(r.Stdout, Does.Contain("Nothing is left running."));
        Assert.That(ProcessTable.Find(child), Is.Null);
    }

    [Test]
    public void TraceShowsForkExecPipeAndWaitFromParentAndChild()
    {
        var r = Forkkit("demo", "process", "--fast", "--trace");
        var lines = r.Stderr.Split('\n');
        var spawn = Regex.Match(r.Stderr, @"pid\s+(\d+)  vfork\(\) = (\d+); child: dup2 pipe to fd 3, exit report to fd 4, stdin </dev/null, execve\(""[^""]+dotnet"", \[""forkkit: Process-1 \(parent \d+\)""");
        Assert.That(spawn.Success, Is.True, r.Stderr);
        string parent = spawn.Groups[1].Value, child = spawn.Groups[2].Value;
        Assert.That(lines, Has.Some.Match($@"^\[\s*\d+\.\d{{6}}\] pid\s+{parent}  write\(fd \d+, 4\+\d+ bytes\)"), "the parent writes the start frame");
        Assert.That(lines, Has.Some.Match($@"pid\s+{child}  read\(fd 3\) = 4\+\d+ bytes"), "the child reads it on fd 3");
        Assert.That(lines, Has.Some.Match($@"pid\s+{parent}  waitpid\({child}(, WNOHANG)?\) = {child}  exited with code 0: reaped"));
    }

    [Test]
    public void TraceFollowsAPoolIntoItsWorkersAndALockToItsSemaphore()
    {
        var pool = Forkkit("demo", "map", "--fast", "--trace");
        Assert.That(Regex.Matches(pool.Stderr, @"pid\s+(\d+)  read\(fd 3\) = 4\+\d+ bytes").Select(m => m.Groups[1].Value).Distinct().Count(),
            Is.EqualTo(4), "four workers read their tasks");
        Assert.That(pool.Stderr, Does.Contain("write(fd 4, 4+"), "workers answer on fd 4");

        var lk = Forkkit("demo", "lock", "--fast", "--trace");
        Assert.That(lk.Stderr, Does.Contain("sem_open(\"/forkkit-").And.Contain("O_CREAT|O_EXCL, 0600"));
        Assert.That(lk.Stderr, Does.Contain("compare-and-swap of the owner word"));
        Assert.That(lk.Stderr, Does.Contain("sem_unlink(\"/forkkit-"));

        // A Semaphore has no shared-memory object: its shm_unlink fails with ENOENT, which
        // disposal accepts. The trace line must not clobber errno before it is read.
        var counter = Forkkit("demo", "counter", "--trace");
        Assert.That(counter.Stdout, Does.Contain("final count: 4000"));
        Assert.That(counter.Stderr, Does.Contain("-1 ENOENT (already gone)"));
    }

    [Test]
    public void TimelineDrawsWhichWorkerRanWhichTask()
    {
        var r = Forkkit("demo", "map", "--fast", "--timeline");
        Assert.That(r.Stdout, Does.Match(@"timeline: 5 task\(s\) over \d+ ms"));
        var rows = Regex.Matches(r.Stdout, @"PoolWorker-\d+\s+pid (\d+)\s+\|([ 1-5]{60})\|");
        Assert.That(rows, Has.Count.EqualTo(4), r.Stdout);
        Assert.That(string.Concat(rows.Select(m => m.Groups[2].Value)).Where(char.IsDigit).Distinct().Order(), Is.EqualTo("12345"), "every task drawn");
        Assert.That(r.Stdout, Does.Match(@"tasks: 1=Square#\d+ \d+ ms"));
    }

    [Test]
    public void TheCounterDemoCountsExactly4000UnderTheLock()
    {
        var r = Forkkit("demo", "counter");
        Assert.That(r.Stdout, Does.Contain("final count: 4000 (expected 4000)"));
    }

    [Test]
    public void TheAbandonedDemoRecoversTheLock()
    {
        var r = Forkkit("demo", "abandoned");
        Assert.That(r.Stdout, Does.Contain("Acquire(block: false) here: False"));
        Assert.That(r.Stdout, Does.Match(@"AbandonedLockException: the lock forkkit-\d+-[0-9a-f]+ was abandoned: its holder, pid \d+, died"));
        Assert.That(r.Stdout, Does.Contain("Acquire() again: True"));
    }

    [Test]
    public void TheManagedForkExperimentReportsHowItEnded()
    {
        var r = Forkkit("demo", "managed-fork", "--runs", "5");
        Assert.That(r.Stdout, Does.Match(@"ForkExperiment \(pid \d+\) (survived its 5 forks|itself died by \S+|exited with code \d+)"));
        Assert.That(r.Stdout, Does.Contain("between fork and exec only the C shim runs"));
    }

    [Test]
    public void PsListsProcessesAndMarksForkKitOnes()
    {
        var r = Forkkit("ps", "--all", "--tree");
        Assert.That(r.Stdout, Does.Match(@"^\s+PID\s+PPID S NAME"));
        Assert.That(r.Stdout, Does.Match(@"\n\s+1\s+0 "), "pid 1 is in the table");
    }

    [Test]
    public void ASecondTerminalSeesTheZombieWithPs()
    {
        Assume.That(Repo.Run("sh", ["-c", "command -v tmux"], TimeSpan.FromSeconds(10)).ExitCode, Is.EqualTo(0), "tmux is installed by `make test`");
        var session = $"forkkit-{Environment.ProcessId}";
        void Tmux(params string[] args) => Repo.Run("tmux", args, TimeSpan.FromSeconds(20));
        string Capture(string pane) => Repo.Run("tmux", ["capture-pane", "-p", "-J", "-t", pane], TimeSpan.FromSeconds(20)).Stdout;
        Tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50");
        try
        {
            Tmux("send-keys", "-t", $"{session}:0", $"\"{Repo.Dotnet}\" exec \"{Cli}\" demo zombie --hold 6", "Enter");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Match m;
            while (!(m = Regex.Match(Capture($"{session}:0"), @"run\s+ps -o pid,ppid,stat,comm -p (\d+)")).Success && clock.Elapsed < TimeSpan.FromSeconds(60))
                Thread.Sleep(100);
            Assert.That(m.Success, Is.True, Capture($"{session}:0"));
            int pid = int.Parse(m.Groups[1].Value);

            Tmux("new-window", "-t", session);
            Tmux("send-keys", "-t", $"{session}:1", $"ps -o pid,ppid,stat,comm -p {pid}", "Enter");
            clock.Restart();
            string seen;
            while (!Regex.IsMatch(seen = Capture($"{session}:1"), $@"\n\s*{pid}\s+\d+\s+Z\S*\s+forkkit-child") && clock.Elapsed < TimeSpan.FromSeconds(20))
                Thread.Sleep(100);
            Assert.That(seen, Does.Match($@"\n\s*{pid}\s+\d+\s+Z\S*\s+forkkit-child"), "the second shell's ps shows the zombie");

            // Let the demo finish its hold and reap the child, so nothing is left behind.
            clock.Restart();
            while (!Capture($"{session}:0").Contains($"waitpid({pid}) = {pid}") && clock.Elapsed < TimeSpan.FromSeconds(30))
                Thread.Sleep(100);
            Assert.That(Capture($"{session}:0"), Does.Contain($"waitpid({pid}) = {pid}"));
        }
        finally
        {
            Tmux("kill-session", "-t", session);
        }
    }
}
