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
        // N children on StartMethod.Fork, mixed: return, throw, allocate and collect, use the
        // thread pool, get terminated. Every one must end with its expected code, none may hang.
        int n = int.Parse(args[1]);
        int ok = 0, wrong = 0, hung = 0;
        var others = new SortedDictionary<string, int>();
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
            using var p = new Process(target, arg) { StartMethod = StartMethod.Fork };
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
        return 0;
    }
    default:
        Console.Error.WriteLine("usage: ForkKit.TestApp hello | daemon | non-daemon MS MARKER-FILE | lock-exit | lock-throw | lock-sleep | fork-safety | fork | fork-threaded | fork-process | fork-many N");
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

    /// <summary>Not called before the fork: the child compiles it.</summary>
    public static int Sum(List<int> values) => values.Sum();

    public static void SleepThenWrite(int ms, string marker)
    {
        Thread.Sleep(ms);
        File.WriteAllText(marker, "done");
    }
}
