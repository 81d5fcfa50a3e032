// Runs one scenario the tests need a separate parent process for; see ExternalParentTests.
using ForkKit;

switch (args.FirstOrDefault())
{
    case "hello":
    {
        var p = new Process(Scenarios.Greet, "hello from the child");
        p.Start();
        p.Join();
        Console.WriteLine($"parent {Environment.ProcessId}: child {p.Pid} exit code {p.ExitCode}");
        return 0;
    }
    case "daemon":
    {
        // Returns at once: the daemon child must be terminated when this parent exits.
        var p = new Process(Scenarios.Sleep, 60_000) { Daemon = true };
        p.Start();
        Console.WriteLine($"child {p.Pid}");
        return 0;
    }
    case "non-daemon":
    {
        // Returns at once: the non-daemon child must be joined before this parent exits.
        var p = new Process(Scenarios.SleepThenWrite, int.Parse(args[1]), args[2]);
        p.Start();
        Console.WriteLine($"child {p.Pid}");
        return 0;
    }
    case "lock-exit":
    case "lock-throw":
    case "lock-sleep":
    {
        // Creates kernel objects and never disposes them: ForkKit must remove them anyway,
        // whether this process returns, throws, or is killed.
        var lk = new ForkKit.Lock();
        var sem = new ForkKit.Semaphore(2);
        Console.WriteLine($"names {lk.Name} {sem.Name}");
        Console.Out.Flush();
        if (args[0] == "lock-throw") throw new InvalidOperationException("unhandled on purpose");
        if (args[0] == "lock-sleep") Thread.Sleep(60_000);
        return 0;
    }
    case "fork-safety":
        Console.WriteLine($"enabled {ForkKit.Unix.ForkSafety.IsEnabled}");
        return 0;
    case "fork":
    case "fork-threaded":
    {
        // Syscalls.Fork from a program started with the fork-safe settings: the child runs
        // managed code (new code to compile, allocation, a collection), reports, and _exits.
        if (args[0] == "fork-threaded") new Thread(() => Thread.Sleep(Timeout.Infinite)) { IsBackground = true, Name = "busy" }.Start();
        int parentPid = Environment.ProcessId;
        var list = new List<int> { 1, 2, 3 };
        int pid = ForkKit.Unix.Syscalls.Fork();
        if (pid == 0)
        {
            list.Add(4); // the child's copy; the parent's list stays as it was
            GC.Collect();
            Console.WriteLine($"child getpid {ForkKit.Unix.Syscalls.GetPid()} ProcessId {Environment.ProcessId} parent {ForkKit.Unix.Syscalls.GetParentPid()} sum {Scenarios.Sum(list)}");
            ForkKit.Unix.Syscalls.Exit(7);
        }
        var status = ForkKit.Unix.Syscalls.WaitPid(pid);
        Console.WriteLine($"parent {parentPid} child {pid} exit {status.ToExitCode()} count {list.Count}");
        return 0;
    }
    case "fork-process":
    {
        // Process with StartMethod.Fork: the child sees the parent's memory as it was at Start
        // (no serialisation), its changes stay its own, and exit codes are Python's.
        Scenarios.Shared = 41;
        using (var p = new Process(Scenarios.IncrementShared, "from the fork") { StartMethod = StartMethod.Fork })
        {
            p.Start();
            p.Join();
            Console.WriteLine($"parent {Environment.ProcessId}: child {p.Pid} exit {p.ExitCode}, shared still {Scenarios.Shared}");
        }
        foreach (var (what, target, arg) in new (string, Delegate, object)[]
        {
            ("throws", new Action<string>(Scenarios.Throw), "on purpose"),
            ("exit", new Action<int>(Scenarios.ExitWith), 5),
        })
        {
            using var p = new Process(target, arg) { StartMethod = StartMethod.Fork };
            p.Start();
            p.Join();
            Console.WriteLine($"{what}: exit {p.ExitCode}");
        }
        using (var p = new Process(Scenarios.Sleep, 60_000) { StartMethod = StartMethod.Fork })
        {
            p.Start();
            p.Terminate();
            p.Join();
            Console.WriteLine($"terminate: exit {p.ExitCode}");
        }
        return 0;
    }
    case "fork-many":
    {
        // N children on StartMethod.Fork (or the start method named next), mixed: return, throw,
        // allocate and collect, use the thread pool, get terminated. Every one must end with its
        // expected code, none may hang, none may be left behind.
        int n = int.Parse(args[1]);
        var method = args.Length > 2 ? Enum.Parse<StartMethod>(args[2]) : StartMethod.Fork;
        int ok = 0, wrong = 0, hung = 0;
        var others = new SortedDictionary<string, int>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < n; i++)
        {
            (Delegate target, object arg, int expected) = (i % 5) switch
            {
                0 => ((Delegate)new Action<int>(Scenarios.Sleep), (object)0, 0),
                1 => (new Action<string>(Scenarios.Throw), "on purpose", 1),
                2 => (new Action<int>(Scenarios.AllocateAndCollect), 1000, 0),
                3 => (new Action<int>(Scenarios.UseThreadPool), 8, 0),
                _ => (new Action<int>(Scenarios.Sleep), 60_000, -15),
            };
            using var p = new Process(target, arg) { StartMethod = method };
            p.Start();
            if (expected == -15) p.Terminate();
            if (!p.Join(TimeSpan.FromSeconds(30)))
            {
                hung++;
                p.Kill();
                p.Join();
            }
            else if (p.ExitCode == expected) ok++;
            else
            {
                wrong++;
                var key = $"{target.Method.Name} gave {p.ExitCode}";
                others[key] = others.GetValueOrDefault(key) + 1;
            }
        }
        Console.WriteLine($"forked {n}: {ok} as expected, {wrong} other exit codes, {hung} hung");
        foreach (var (what, count) in others) Console.WriteLine($"  {count} x {what}");
        Console.WriteLine($"left: {Scenarios.LeftBehind()}");
        Console.Error.WriteLine($"{n} children in {clock.Elapsed.TotalSeconds:0.0} s");
        return 0;
    }
    case "forkserver":
    {
        // ForkServer children print on the stdout and stderr this program had when the server
        // started, know their own pid, and are children of the server, which is this program's.
        using (var p = new Process(Scenarios.Greet, "hello on stdout") { StartMethod = StartMethod.ForkServer })
        {
            p.Start();
            p.Join();
            Console.WriteLine($"parent {Environment.ProcessId}: child {p.Pid} exit {p.ExitCode}, server {ForkKit.Launching.ForkServerLauncher.ServerPid}");
        }
        using (var p = new Process(Scenarios.Throw, "on stderr") { StartMethod = StartMethod.ForkServer })
        {
            p.Start();
            p.Join();
            Console.WriteLine($"throws: exit {p.ExitCode}");
        }
        using (var p = new Process(Scenarios.Sleep, 60_000) { StartMethod = StartMethod.ForkServer, Daemon = true })
        {
            // Left running on purpose: a daemon child is terminated when this program exits.
            p.Start();
            Console.WriteLine($"daemon {p.Pid} started");
            Console.Out.Flush();
            GC.KeepAlive(p);
            return 0;
        }
    }
    case "forkserver-fault":
    {
        // A server told (FORKKIT_FORKSERVER_FAULT) to make every child hang or crash before it
        // reports running: the start fails, saying why, and nothing is left behind.
        try
        {
            using var p = new Process(Scenarios.Sleep, 0) { StartMethod = StartMethod.ForkServer };
            var clock = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                p.Start();
                Console.WriteLine("started");
            }
            catch (ForkServerException e)
            {
                Console.WriteLine($"refused after {clock.Elapsed.TotalSeconds:0.0} s: {e.Message}");
            }
        }
        finally
        {
            Console.WriteLine($"left: {Scenarios.LeftBehind()}");
        }
        return 0;
    }
    case "sigchld-ignored":
    {
        // Run with SIGCHLD ignored (inherited through exec): the kernel, or the runtime, reaps
        // every child, so no exit status can be read with waitpid. Each line is one behaviour.
        var method = args.Length > 1 ? Enum.Parse<StartMethod>(args[1]) : StartMethod.Spawn;
        foreach (var (what, target, arg) in new (string, Delegate, object)[]
        {
            ("returns", new Action<int>(Scenarios.Sleep), 0),
            ("throws", new Action<string>(Scenarios.Throw), "on purpose"),
            ("exits 5", method == StartMethod.Spawn ? new Action<int>(Scenarios.EnvironmentExit) : new Action<int>(Scenarios.ExitWith), 5),
        })
        {
            using var p = new Process(target, arg) { StartMethod = method };
            p.Start();
            p.Join(TimeSpan.FromSeconds(30));
            Console.WriteLine($"{what}: alive {p.IsAlive} exit {p.ExitCode}");
        }
        using (var p = new Process(Scenarios.KillSelf, 0) { StartMethod = method })
        {
            p.Start();
            p.Join(TimeSpan.FromSeconds(30));
            Console.WriteLine($"killed itself: alive {p.IsAlive} exit {p.ExitCode}");
        }
        using (var p = new Process(Scenarios.Sleep, 60_000) { StartMethod = method })
        {
            p.Start();
            p.Terminate();
            p.Join(TimeSpan.FromSeconds(30));
            Console.WriteLine($"terminated: alive {p.IsAlive} exit {p.ExitCode}");
        }
        using (var lk = new ForkKit.Lock())
        using (var p = new Process(Scenarios.HoldLock, lk) { StartMethod = method })
        {
            lk.Acquire();
            p.Start();
            lk.Release();
            p.Join(TimeSpan.FromSeconds(30));
            Console.WriteLine($"lock: exit {p.ExitCode}");
        }
        using (var pool = new Pool(2, maxTasksPerChild: 2, startMethod: method))
        {
            var squares = pool.Map(Scenarios.Square, Enumerable.Range(0, 20));
            Console.WriteLine($"pool: sum {squares.Sum()}");
            pool.Close();
            pool.Join();
        }
        Console.WriteLine($"left: {Scenarios.LeftBehind()}");
        return 0;
    }
    case "parent-death":
    {
        // Starts a daemon child, a non-daemon child and a pool whose two workers are busy, prints
        // their pids, and waits to be killed: the test kills this parent with SIGKILL, or
        // interrupts its process group as Ctrl-C in a terminal does.
        var method = Enum.Parse<StartMethod>(args[1]);
        var daemon = new Process(Scenarios.Sleep, 60_000) { Daemon = true, StartMethod = method };
        daemon.Start();
        var nonDaemon = new Process(Scenarios.Sleep, 60_000) { StartMethod = method };
        nonDaemon.Start();
        var pool = new Pool(2, startMethod: method);
        var busy = Enumerable.Range(0, 2).Select(_ => pool.ApplyAsync(Scenarios.SleepAndReturn, 60_000)).ToList();
        Console.WriteLine($"daemon {daemon.Pid} non-daemon {nonDaemon.Pid} workers {string.Join(",", pool.WorkerPids)} server {ForkKit.Launching.ForkServerLauncher.ServerPid ?? 0}");
        Console.Out.Flush();
        Thread.Sleep(120_000);
        return 1;
    }
    default:
        Console.Error.WriteLine("usage: ForkKit.TestApp hello | daemon | non-daemon MS MARKER-FILE | lock-exit | lock-throw | lock-sleep | fork-safety | fork | fork-threaded | fork-process | fork-many N [METHOD] | forkserver | forkserver-fault | sigchld-ignored [METHOD] | parent-death METHOD");
        return 2;
}

static class Scenarios
{
    public static void Greet(string text) =>
        Console.WriteLine($"{ForkKit.Process.CurrentName} (pid {Environment.ProcessId}, parent {ForkKit.Unix.Syscalls.GetParentPid()}): {text}");

    public static void Sleep(int ms) => Thread.Sleep(ms);

    /// <summary>Set by the parent before a Fork start; the child reads the parent's value from its copy of memory.</summary>
    public static int Shared;

    public static void IncrementShared(string text)
    {
        Shared++;
        Console.WriteLine($"{ForkKit.Process.CurrentName} (pid {Environment.ProcessId}, parent {ForkKit.Unix.Syscalls.GetParentPid()}): shared {Shared}, {text}");
    }

    public static void Throw(string why) => throw new InvalidOperationException(why);

    public static void AllocateAndCollect(int count)
    {
        var keep = new List<byte[]>();
        for (int i = 0; i < count; i++) keep.Add(new byte[1024]);
        GC.Collect();
    }

    public static void UseThreadPool(int tasks) =>
        Task.WaitAll(Enumerable.Range(0, tasks).Select(i => Task.Run(() => i * i)).ToArray());

    /// <summary>A Fork child's own exit code: _exit, since Environment.Exit never returns in a forked runtime.</summary>
    public static void ExitWith(int code) => ForkKit.Unix.Syscalls.Exit(code);

    /// <summary>
    /// What this program has not reaped: its children other than the fork server, the server's
    /// children, and zombies among both, as "N children, M zombies".
    /// </summary>
    public static string LeftBehind()
    {
        int? server = ForkKit.Launching.ForkServerLauncher.ServerPid;
        var left = ForkKit.Diagnostics.ProcessTable.ChildrenOf(Environment.ProcessId).Where(e => e.Pid != server).ToList();
        left.AddRange(ForkKit.Launching.ForkServerLauncher.ServersChildren());
        return $"{left.Count} children, {left.Count(e => e.State == ForkKit.Diagnostics.ProcessState.Zombie)} zombies";
    }

    public static void EnvironmentExit(int code) => Environment.Exit(code);

    public static void HoldLock(ForkKit.Lock lk)
    {
        lk.Acquire();
        lk.Release();
    }

    public static int Square(int x) => x * x;

    public static int SleepAndReturn(int ms)
    {
        Thread.Sleep(ms);
        return ms;
    }

    /// <summary>Dies of SIGKILL, which no one in this program sent.</summary>
    public static void KillSelf(int unused) => ForkKit.Unix.Syscalls.Kill(Environment.ProcessId, ForkKit.Unix.Syscalls.SIGKILL);

    /// <summary>Not called before the fork: the child compiles it.</summary>
    public static int Sum(List<int> values) => values.Sum();

    public static void SleepThenWrite(int ms, string marker)
    {
        Thread.Sleep(ms);
        File.WriteAllText(marker, "done");
    }
}
