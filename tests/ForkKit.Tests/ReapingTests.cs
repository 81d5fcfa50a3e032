using System.Text.RegularExpressions;
using ForkKit.Diagnostics;
using ForkKit.Tests.Support;

namespace ForkKit.Tests;

/// <summary>Nothing is left behind: no zombie, no stray child, no descriptor; and children are readable in ps.</summary>
public class ReapingTests
{
    /// <summary>
    /// What /proc/self/fd holds, as "fd -> target" lines, leaving out the assembly files the
    /// runtime maps as it loads code (those are its own, and stay open by design).
    /// </summary>
    static List<string> Descriptors() =>
        Directory.GetFiles("/proc/self/fd")
            .Select(f => $"{Path.GetFileName(f)} -> {new FileInfo(f).LinkTarget}")
            .Where(line => !line.EndsWith(".dll", StringComparison.Ordinal))
            .ToList();

    [TestCase(StartMethod.Spawn)]
    [TestCase(StartMethod.ForkServer)]
    public void TwoHundredStartJoinCyclesLeakNoDescriptorAndNoChild(StartMethod method)
    {
        // Warm up first: the runtime opens a few descriptors of its own on first use (and the
        // first ForkServer start, the socket to the server).
        using (var warm = new Process(ChildTargets.Noop) { StartMethod = method }) { warm.Start(); warm.JoinBounded(); }
        var before = Descriptors();

        for (int round = 0; round < 50; round++)
        {
            var batch = Enumerable.Range(0, 4).Select(_ => new Process(ChildTargets.Noop) { StartMethod = method }).ToList();
            try
            {
                foreach (var p in batch) p.Start();
                foreach (var p in batch)
                {
                    p.JoinBounded();
                    Assert.That(p.ExitCode, Is.EqualTo(0));
                }
            }
            finally
            {
                foreach (var p in batch) p.Dispose();
            }
        }

        Assert.That(Descriptors(), Is.EquivalentTo(before), "descriptors open in /proc/self/fd");
        Assert.That(Children.Mine(), Is.Empty, "children (running or zombie), the fork server's included");
    }

    [Test]
    public void AFailedExecLeavesNoChildBehind()
    {
        // ForkKit_spawn reaps a child whose execve failed before it reports the error.
        int before = ProcessTable.ChildrenOf(Environment.ProcessId).Count;
        var e = Assert.Throws<Unix.SyscallException>(() =>
            Unix.UnixPlatform.Spawn("/nonexistent/program", ["x"], [], []))!;
        Assert.That(e.Message, Does.StartWith("execve(\"/nonexistent/program\") failed: ENOENT"));
        Assert.That(ProcessTable.ChildrenOf(Environment.ProcessId), Has.Count.EqualTo(before));
    }

    [Test]
    public void PsShowsTheWorkerByNameAndRole()
    {
        using var p = new Process(ChildTargets.SleepSeconds, 60.0) { Name = "Reader-7" };
        p.Start();
        ProcessTests.WaitUntilRunningManagedCode(p);
        var entry = ProcessTable.Find(p.Pid!.Value)!;

        Assert.That(entry.Name, Is.EqualTo("Reader-7"), "comm, as ps -o comm shows it");
        Assert.That(entry.CommandLine, Does.StartWith($"forkkit: Reader-7 (parent {Environment.ProcessId}) exec "));
        Assert.That(entry.IsForkKit, Is.True);
        p.Terminate();
        p.JoinBounded();
    }

    [Test]
    public void ALongNameIsCutTo15BytesInComm()
    {
        using var p = new Process(ChildTargets.SleepSeconds, 60.0) { Name = "AVeryLongProcessName" };
        p.Start();
        ProcessTests.WaitUntilRunningManagedCode(p);
        Assert.That(ProcessTable.Find(p.Pid!.Value)!.Name, Is.EqualTo("AVeryLongProces"));
        p.Kill();
        p.JoinBounded();
    }

    [Test]
    public void OnlyThePipeMeantForTheChildIsInherited()
    {
        // Two pipes in the parent, one made by the kit (close-on-exec) and one made without
        // close-on-exec, as a careless library or a parent program might: neither may reach
        // the child. The child lists its descriptors with what they point to.
        var (kitRead, kitWrite) = Platform.Os.Current.CreatePipe();
        var careless = new int[2];
        Assert.That(pipe(careless), Is.EqualTo(0));
        try
        {
            var parentPipes = new[] { Link((int)kitRead.DangerousGetHandle()), Link(careless[0]), Link(careless[1]) };
            using var p = new Process(ListDescriptors);
            using var stdout = StdioCapture.Stdout();
            stdout.During(p.Start);
            p.JoinBounded();
            var lines = stdout.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);

            Assert.That(lines, Has.Some.StartsWith("0 -> /dev/null"), "stdin");
            foreach (var link in parentPipes)
                Assert.That(lines, Has.None.EndsWith(" -> " + link), $"the parent's {link} leaked into the child");
        }
        finally
        {
            kitRead.Dispose();
            kitWrite.Dispose();
            close(careless[0]);
            close(careless[1]);
        }
    }

    static string Link(int fd) => new FileInfo($"/proc/self/fd/{fd}").LinkTarget!;

    [System.Runtime.InteropServices.DllImport("libc")] static extern int pipe(int[] fds);
    [System.Runtime.InteropServices.DllImport("libc")] static extern int close(int fd);

    static void ListDescriptors()
    {
        foreach (var fd in Directory.GetFiles("/proc/self/fd").Select(f => int.Parse(Path.GetFileName(f))).Order())
            Console.WriteLine($"{fd} -> {new FileInfo($"/proc/self/fd/{fd}").LinkTarget}");
    }
}
