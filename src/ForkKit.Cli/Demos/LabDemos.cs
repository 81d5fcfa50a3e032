using System.Runtime.InteropServices;
using ForkKit.Unix;

namespace ForkKit.Cli.Demos;

/// <summary>Demos the labs use: a race without a lock, an abandoned lock, and why managed code must not run after fork.</summary>
static class LabDemos
{
    public static Demo[] All =>
    [
        new("counter", "Four processes add 1 to a number in a file 1,000 times each: 4,000 with the lock, less without it (--no-lock).",
            Counter, Options: [DemoOption.Flag("--no-lock", "Increment without the lock: read-modify-write races lose updates.")]),
        new("abandoned", "A child takes a Lock and is killed with SIGKILL: the next Acquire throws AbandonedLockException instead of blocking for ever.",
            Abandoned),
        new("managed-fork", "UNSAFE on purpose, in a sacrificial process: fork() from .NET and run managed code in the child, counting how the children end.",
            ManagedFork, Options: [DemoOption.Int("--runs", "How many children to fork.", 40)]),
    ];

    // ---- counter ----

    /// <summary>
    /// Read, add one, write back: the counter is 8 digits at the start of the file, rewritten
    /// in place, so a reader never sees a half-written file, only a stale number.
    /// </summary>
    public static void Increment(string file, int times, Lock? lk, Semaphore startGate)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
        var digits = new byte[8];
        startGate.Acquire(); // all four start together, so their loops overlap
        for (int i = 0; i < times; i++)
        {
            using var held = lk?.Hold();
            stream.Position = 0;
            stream.ReadExactly(digits);
            int value = int.Parse(digits);
            stream.Position = 0;
            stream.Write(System.Text.Encoding.ASCII.GetBytes((value + 1).ToString("D8")));
        }
    }

    static int Counter(DemoOptions o)
    {
        bool noLock = o.Value<bool>("--no-lock");
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, 0.ToString("D8"));
            using var lk = noLock ? null : new Lock();
            Console.WriteLine(noLock
                ? "4 processes x 1,000 increments of one number in a file, no lock:"
                : $"4 processes x 1,000 increments of one number in a file, each under the lock /dev/shm/sem.{lk!.Name}:");
            SeedDemos.Timed(() =>
            {
                using var startGate = new Semaphore(0);
                var processes = Enumerable.Range(0, 4).Select(_ => new Process(Increment, file, 1000, lk, startGate)).ToList();
                processes.ForEach(p => p.Start());
                for (int i = 0; i < processes.Count; i++) startGate.Release();
                processes.ForEach(p => p.Join());
            });
            int total = int.Parse(File.ReadAllText(file)[..8]);
            Console.WriteLine($"final count: {total} (expected 4000){(total == 4000 ? "" : $": {4000 - total} updates were lost")}");
            return 0;
        }
        finally
        {
            File.Delete(file);
        }
    }

    // ---- abandoned ----

    public static void HoldForever(Lock lk, string marker)
    {
        lk.Acquire();
        File.WriteAllText(marker, "");
        Thread.Sleep(Timeout.Infinite);
    }

    static int Abandoned(DemoOptions o)
    {
        using var lk = new Lock();
        var marker = Path.Combine(Path.GetTempPath(), $"forkkit-abandoned-{Guid.NewGuid():N}");
        using var holder = new Process(HoldForever, lk, marker) { Name = "Holder" };
        holder.Start();
        while (!File.Exists(marker)) Thread.Sleep(5);
        File.Delete(marker);
        Console.WriteLine($"{holder.Name} (pid {holder.Pid}) holds {lk}.");
        Console.WriteLine($"Acquire(block: false) here: {lk.Acquire(block: false)}");
        Syscalls.Kill(holder.Pid!.Value, Syscalls.SIGKILL);
        holder.Join();
        Console.WriteLine($"kill -9 {holder.Pid}: the holder died holding the lock (exit code {holder.ExitCode}).");
        Console.WriteLine("Acquire() here. Python's multiprocessing.Lock would block for ever now (gh-88304).");
        try
        {
            lk.Acquire();
            Console.WriteLine("acquired (unexpected)");
            lk.Release();
        }
        catch (AbandonedLockException e)
        {
            Console.WriteLine($"{Ansi.Red(nameof(AbandonedLockException))}: {e.Message}");
        }
        Console.WriteLine($"Acquire() again: {lk.Acquire()} - the lock is usable again.");
        lk.Release();
        return 0;
    }

    // ---- managed code after fork ----

    /// <summary>
    /// The experiment of docs/design.md fact 1, UNSAFE on purpose: fork() straight from .NET and run
    /// managed code in the child (format a string, allocate, call a method the parent never
    /// ran, so the child must JIT it), while two threads of the parent allocate. It runs inside
    /// a ForkKit child process, so when it takes its own process down the demo survives to say so.
    /// </summary>
    public static void ForkAndRunManagedCode(int runs, string log)
    {
        // Its output goes to a file, not to the demo's terminal: a forked child that hangs keeps
        // every descriptor it inherited, and must not hold the demo's stdout open.
        RedirectStdoutAndStderr(log + ".out");
        using var stop = new CancellationTokenSource();
        var noise = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            var keep = new List<byte[]>();
            while (!stop.IsCancellationRequested)
            {
                keep.Add(new byte[1024]);
                if (keep.Count > 2000) keep.Clear();
            }
        })).ToList();

        int normal = 0, hung = 0;
        var signals = new Dictionary<string, int>();
        for (int i = 0; i < runs; i++)
        {
            int pid = Tmds.Linux.LibC.fork();
            if (pid == 0)
            {
                // The child: managed code in a forked runtime. This is what the kit never does.
                int code = NeverJittedInTheParent(i).Length > 0 ? 0 : 1;
                Tmds.Linux.LibC._exit(code);
            }
            if (pid < 0) throw new SyscallException("fork", Marshal.GetLastPInvokeError());
            var deadline = Environment.TickCount64 + 2000;
            WaitStatus status;
            while ((status = Syscalls.WaitPid(pid, noHang: true)) is WaitStatus.StillRunning && Environment.TickCount64 < deadline)
                Thread.Sleep(2);
            if (status is WaitStatus.StillRunning)
            {
                hung++;
                Syscalls.Kill(pid, Syscalls.SIGKILL);
                Syscalls.WaitPid(pid);
            }
            else if (status is WaitStatus.Exited)
            {
                normal++;
            }
            else if (status is WaitStatus.Signaled s)
            {
                var name = Syscalls.SignalName(s.Signal);
                signals[name] = signals.GetValueOrDefault(name) + 1;
            }
        }
        stop.Cancel();
        Task.WaitAll(noise.ToArray());
        var died = signals.Count == 0 ? "none" : string.Join(", ", signals.Select(kv => $"{kv.Value} by {kv.Key}"));
        Console.WriteLine($"{runs} forked children ran managed code: {normal} exited normally; died by a signal: {died}; {hung} hung (killed after 2 s).");
    }

    static void RedirectStdoutAndStderr(string file)
    {
        using var log = File.Create(file);
        int fd = (int)log.SafeFileHandle.DangerousGetHandle();
        if (Tmds.Linux.LibC.dup2(fd, 1) < 0 || Tmds.Linux.LibC.dup2(fd, 2) < 0)
            throw new SyscallException("dup2", Marshal.GetLastPInvokeError());
    }

    static void TryKill(int pid)
    {
        try { Syscalls.Kill(pid, Syscalls.SIGKILL); }
        catch (SyscallException) { /* already gone */ }
    }

    static string NeverJittedInTheParent(int i) => string.Join(",", Enumerable.Range(0, 10).Select(n => $"{n * i}"));

    static int ManagedFork(DemoOptions o)
    {
        int runs = o.Value<int>("--runs");
        Console.WriteLine(Ansi.Bold("Managed code after fork, the experiment behind ForkKit's rule (docs/design.md fact 1)."));
        Console.WriteLine("It runs in a sacrificial child process: fork() from .NET, then managed code in each grandchild, two parent threads allocating.");
        var log = Path.Combine(Path.GetTempPath(), $"forkkit-fork-experiment-{Guid.NewGuid():N}");
        using var experiment = new Process(ForkAndRunManagedCode, runs, log) { Name = "ForkExperiment" };
        experiment.Start();
        // The experiment itself may deadlock (a runtime lock lost in a fork): give it a bounded
        // time, then kill it and whatever children it left, so nothing is left running.
        var limit = TimeSpan.FromSeconds(20 + 3 * runs);
        if (!experiment.Join(limit))
        {
            foreach (var child in Diagnostics.ProcessTable.ChildrenOf(experiment.Pid!.Value)) TryKill(child.Pid);
            experiment.Kill();
            experiment.Join();
            Console.WriteLine($"{experiment.Name} (pid {experiment.Pid}) hung for {limit.TotalSeconds:0} s and was killed: after fork, a child or the parent waited for a lock that nobody would release.");
        }
        Console.WriteLine(experiment.ExitCode switch
        {
            -9 => $"{experiment.Name} (pid {experiment.Pid}) was killed.",
            0 => $"{experiment.Name} (pid {experiment.Pid}) survived its {runs} forks this time. Run it again: the failures are races.",
            < 0 => $"{experiment.Name} (pid {experiment.Pid}) itself died by {Syscalls.SignalName(-experiment.ExitCode.Value)}: a forked child's JIT wrote into the parent's shared code heap, or a runtime lock was lost.",
            var c => $"{experiment.Name} (pid {experiment.Pid}) exited with code {c}.",
        });
        if (File.Exists(log + ".out")) Console.Write(File.ReadAllText(log + ".out"));
        // Forked children the experiment could not wait for (it died, or they ignore SIGTERM:
        // the runtime's handler needs a thread they do not have) are orphans now. A forked copy
        // keeps the experiment's command line, which names this process: find them by it.
        int leftover = 0;
        var title = $"forkkit: {experiment.Name} (parent {Environment.ProcessId})";
        foreach (var e in Diagnostics.ProcessTable.Snapshot())
        {
            if (e.Pid != experiment.Pid && e.State != Diagnostics.ProcessState.Zombie && e.CommandLine.StartsWith(title, StringComparison.Ordinal))
            {
                TryKill(e.Pid);
                leftover++;
            }
        }
        if (leftover > 0) Console.WriteLine($"{leftover} forked child(ren) outlived the experiment and were killed with SIGKILL.");
        File.Delete(log + ".out");
        Console.WriteLine("ForkKit's rule: between fork and exec only the C shim runs; Spawn execs a fresh runtime for managed code.");
        return 0;
    }
}
