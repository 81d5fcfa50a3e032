using ForkKit.Diagnostics;
using ForkKit.Platform;
using ForkKit.Unix;

namespace ForkKit.Cli.Demos;

/// <summary>Creates an orphan: a process whose parent exits first, and shows who adopts it.</summary>
static class OrphanDemo
{
    /// <summary>
    /// The middle generation, in a child process: fork a grandchild that sleeps (C code), tell
    /// the demo its pid, wait for the go-ahead, then return, so this process exits and leaves
    /// the grandchild an orphan.
    /// </summary>
    public static void ForkThenWait(int sleepMs, string pidFile, Semaphore go)
    {
        int grandchild = Syscalls.ForkSleepExit(TimeSpan.FromMilliseconds(sleepMs), 0);
        File.WriteAllText(pidFile + ".tmp", grandchild.ToString());
        File.Move(pidFile + ".tmp", pidFile);
        go.Acquire();
    }

    public static void Sleep(int ms) => Thread.Sleep(ms);

    /// <summary>
    /// The middle generation on Windows: start a child, report its pid, wait for the go-ahead,
    /// then end abruptly (TerminateProcess on itself), so that no exit handler joins the child.
    /// </summary>
    public static void StartChildThenDie(int sleepMs, string pidFile, Semaphore go)
    {
        var child = new Process(Sleep, sleepMs) { Name = "Orphan" };
        child.Start();
        File.WriteAllText(pidFile + ".tmp", child.Pid.ToString());
        File.Move(pidFile + ".tmp", pidFile);
        go.Acquire();
        System.Diagnostics.Process.GetCurrentProcess().Kill();
    }

    /// <summary>Windows does not reparent: the orphan keeps naming its dead parent's pid.</summary>
    static int RunOnWindows(DemoOptions o)
    {
        int sleepMs = (int)(4000 * o.Scale);
        Console.WriteLine(Ansi.Bold("Orphan demo, Windows: a parent dies while its child runs; nothing adopts the child."));
        var (parent, child) = OrphanAChild(StartChildThenDie, sleepMs, "started a child", "runs", "ended (exit code {0}); its child runs on.");
        Show("after ", child);
        Console.WriteLine($"The child still names pid {parent} as its parent: Windows never rewrites the parent pid, and no process adopts orphans.");
        var deadline = Environment.TickCount64 + sleepMs + 30_000;
        while (ProcessTable.Find(child) is not null && Environment.TickCount64 < deadline) Thread.Sleep(20);
        Console.WriteLine(ProcessTable.Find(child) is null ? "The child has ended on its own. Nothing is left running." : $"pid {child} is still running.");
        return 0;
    }

    public static int Run(DemoOptions o)
    {
        if (OperatingSystem.IsWindows()) return RunOnWindows(o);
        bool subreaper = o.Value<bool>("--subreaper");
        int self = Environment.ProcessId;
        int sleepMs = (int)(4000 * o.Scale);
        Console.WriteLine(Ansi.Bold("Orphan demo: a parent exits while its child sleeps; the child gets a new parent."));
        if (subreaper)
        {
            Syscalls.SetChildSubreaper(true);
            Console.WriteLine($"prctl(PR_SET_CHILD_SUBREAPER, 1): this process (pid {self}) adopts orphans among its descendants.");
        }

        var (parent, child) = OrphanAChild(ForkThenWait, sleepMs, "forked a child", "sleeps", "has exited (exit code {0}) and was reaped; its child sleeps on.");
        int adopter = WaitForNewParent(child, parent);
        Show("after ", child);
        var who = adopter == self ? "this process, the subreaper" : adopter == 1 ? "init (pid 1)" : $"pid {adopter} ({ProcessTable.Find(adopter)?.Name}), the nearest subreaper above this process";
        Console.WriteLine($"The orphan was reparented to {who}.");

        if (adopter == self)
        {
            var status = Syscalls.WaitPid(child);
            Console.WriteLine($"waitpid({child}) = {child}, {ExitDescriptions.Describe(status.ToExitCode())}: the subreaper reaped its adopted grandchild.");
        }
        else
        {
            Console.WriteLine($"Waiting for pid {child} to finish its sleep; its new parent reaps it.");
            WaitUntilGone(child, sleepMs + 5000);
        }
        Console.WriteLine(ProcessTable.Find(child) switch
        {
            null => "Nothing is left running.",
            { State: ProcessState.Zombie } z => $"pid {child} has exited and waits as a zombie for its new parent (pid {z.ParentPid}) to reap it; nothing is left running.",
            _ => $"pid {child} is still running.",
        });
        return 0;
    }

    /// <summary>
    /// Runs the middle generation (<paramref name="middle"/>(sleepMs, pidFile, go)), shows the
    /// child it starts, then lets the middle end and joins it. Returns both pids.
    /// </summary>
    static (int Parent, int Child) OrphanAChild(Delegate middle, int sleepMs, string started, string runs, string ended)
    {
        var pidFile = Path.Combine(Path.GetTempPath(), $"forkkit-orphan-{Environment.ProcessId}-{Guid.NewGuid():N}");
        using var go = new Semaphore(0);
        using var parent = new Process(middle, sleepMs, pidFile, go) { Name = "OrphanParent" };
        parent.Start();
        int child = WaitForPid(pidFile);
        File.Delete(pidFile);
        Console.WriteLine($"{parent.Name} (pid {parent.Pid}) {started}, pid {child}, that {runs} {sleepMs / 1000.0:0.#} s.");
        Show("before", child);

        go.Release();
        parent.Join();
        Console.WriteLine($"{parent.Name} (pid {parent.Pid}) " + string.Format(ended, parent.ExitCode));
        return (parent.Pid!.Value, child);
    }

    static int WaitForPid(string file)
    {
        var deadline = Environment.TickCount64 + 60_000;
        while (true)
        {
            try
            {
                if (File.Exists(file)) return int.Parse(File.ReadAllText(file));
            }
            catch (IOException)
            {
                // Windows (seen under Wine): the writer's rename can hold the file open a moment
                // after it appears, and opening it then is a sharing violation. Look again.
            }
            if (Environment.TickCount64 > deadline) throw new TimeoutException("the middle process never reported its child's pid");
            Thread.Sleep(5);
        }
    }

    static void Show(string when, int pid)
    {
        var e = ProcessTable.Find(pid);
        var parent = e is null ? null : ProcessTable.Find(e.ParentPid);
        Console.WriteLine(e is null
            ? $"{when}: pid {pid} is gone"
            : $"{when}: pid {e.Pid,7}  ppid {Ansi.Cyan(e.ParentPid.ToString()),7} ({parent?.Name ?? "?"})  state {e.StateLetter}  {e.Name}");
    }

    static int WaitForNewParent(int pid, int oldParent)
    {
        var deadline = Environment.TickCount64 + 5000;
        while (true)
        {
            var e = ProcessTable.Find(pid);
            if (e is null) return -1;
            if (e.ParentPid != oldParent || Environment.TickCount64 > deadline) return e.ParentPid;
            Thread.Sleep(2);
        }
    }

    /// <summary>Waits until the orphan is gone; one that outstays its time is killed, so nothing is left running.</summary>
    /// <summary>
    /// Waits until the orphan is gone (its sleep over and its new parent has reaped it). One
    /// still running after the limit is killed, so nothing is left running.
    /// </summary>
    static void WaitUntilGone(int pid, int limitMs)
    {
        var deadline = Environment.TickCount64 + limitMs;
        while (ProcessTable.Find(pid) is { } e)
        {
            if (Environment.TickCount64 > deadline)
            {
                if (e.State != ProcessState.Zombie)
                {
                    Syscalls.Kill(pid, Syscalls.SIGKILL);
                    Console.WriteLine($"pid {pid} outstayed its sleep: killed.");
                }
                return;
            }
            Thread.Sleep(10);
        }
    }
}
