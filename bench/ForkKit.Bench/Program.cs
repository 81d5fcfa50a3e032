// ForkKit.Bench: what one ForkKit child costs, measured the way the reference script
// bench/reference/start_join.py measures multiprocessing: start a process whose target does
// nothing, join it, repeat, divide the wall time by the count. bench/run.sh puts the numbers
// next to Python's and the C floor.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using ForkKit;

namespace ForkKit.Bench;

static class Program
{
    const int WarmUpRuns = 3;

    static int Main(string[] args)
    {
        if (args.Length is 2 or 3 && args[0] == "start-join" && int.TryParse(args[1], out int n) && n > 0 && TryMethod(args, 2, out var method))
        {
            try
            {
                return StartJoin(n, method);
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"forkkit bench FAILED: {e.Message}");
                Console.Error.WriteLine(e);
                return 1;
            }
        }
        if (args.Length is 3 or 4 && args[0] == "pool" && int.TryParse(args[1], out int items) && items >= 10 && int.TryParse(args[2], out int procs) && procs > 0
            && TryMethod(args, 3, out var poolMethod))
            return PoolMap(items, procs, poolMethod);
        if (args.Length == 2 && args[0] == "child-memory" && TryMethod(args, 1, out var memoryMethod))
            return ChildMemory(memoryMethod);
        if (args.Length == 2 && args[0] == "imap" && int.TryParse(args[1], out int lazyItems) && lazyItems > 0)
            return ImapLazy(lazyItems);
        if (args.Length == 2 && args[0] == "forkserver-many" && int.TryParse(args[1], out int many) && many > 0)
            return ForkServerMany(many);
        if (args.Length == 2 && args[0] == "lock" && int.TryParse(args[1], out int cycles) && cycles > 0)
            return LockBench(cycles);
        Console.Error.WriteLine("usage: ForkKit.Bench start-join N [spawn|forkserver]   (N > 0: how many processes to start and join)");
        Console.Error.WriteLine("       ForkKit.Bench child-memory spawn|forkserver   (a running child's private memory, from /proc/PID/smaps_rollup)");
        Console.Error.WriteLine("       ForkKit.Bench forkserver-many N   (N ForkServer children, mixed; prints how each group ended)");
        Console.Error.WriteLine("       ForkKit.Bench imap N   (Imap of Square over a lazy sequence of N ints on a ForkServer Pool(2); prints this process's peak RSS)");
        Console.Error.WriteLine("       ForkKit.Bench lock N         (uncontended Acquire+Release N times; then two processes contending)");
        Console.Error.WriteLine("       ForkKit.Bench pool N PROCESSES [spawn|forkserver]   (as bench/reference/pool_map.py: startup, map of N squares, N/10 apply_async)");
        return 2;
    }

    static int Square(int n) => n * n;

    /// <summary>args[i] as a start method ("spawn" or "forkserver"; Spawn when absent).</summary>
    static bool TryMethod(string[] args, int i, out StartMethod method)
    {
        method = StartMethod.Spawn;
        if (args.Length <= i) return true;
        return args[i] switch
        {
            "spawn" => true,
            "forkserver" => (method = StartMethod.ForkServer) == StartMethod.ForkServer,
            _ => false,
        };
    }

    static string Label(StartMethod method) => method.ToString().ToLowerInvariant();

    /// <summary>The other side of the contended measurement: N acquire+release pairs.</summary>
    static void Contend(ForkKit.Lock lk, int n, string ready)
    {
        File.WriteAllText(ready, "");
        for (int i = 0; i < n; i++) { lk.Acquire(); lk.Release(); }
    }

    /// <summary>The child's half of the ping-pong: wait for a permit on ping, give one on pong.</summary>
    static void Pong(ForkKit.Semaphore ping, ForkKit.Semaphore pong, int n)
    {
        for (int i = 0; i < n; i++) { ping.Acquire(); pong.Release(); }
    }

    /// <summary>
    /// Uncontended Acquire+Release, as bench/reference/lock.py measures it; then two processes
    /// hammering one lock, each N/10 times, per acquire+release; then the hand-off a blocked
    /// waiter sees: two processes passing a permit back and forth over named semaphores
    /// (sem_post waking a sem_wait in the other process), per one-way hand-off.
    /// </summary>
    static int LockBench(int n)
    {
        using var lk = new ForkKit.Lock();
        for (int i = 0; i < 100_000; i++) { lk.Acquire(); lk.Release(); }
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < n; i++) { lk.Acquire(); lk.Release(); }
        double uncontended = clock.Elapsed.TotalNanoseconds / n;

        int m = Math.Max(1, n / 10);
        var ready = Path.GetTempFileName();
        File.Delete(ready);
        using var other = new ForkKit.Process(Contend, lk, m, ready);
        other.Start();
        while (!File.Exists(ready)) Thread.Sleep(1);
        clock.Restart();
        for (int i = 0; i < m; i++) { lk.Acquire(); lk.Release(); }
        other.Join();
        double contended = clock.Elapsed.TotalNanoseconds / (2.0 * m);
        File.Delete(ready);
        if (other.ExitCode != 0) throw new InvalidOperationException($"the contending child exited with {other.ExitCode}");
        int rounds = 20_000;
        using var ping = new ForkKit.Semaphore(0);
        using var pong = new ForkKit.Semaphore(0);
        using var partner = new ForkKit.Process(Pong, ping, pong, rounds);
        partner.Start();
        ping.Release();
        pong.Acquire(); // the partner is up
        clock.Restart();
        for (int i = 1; i < rounds; i++) { ping.Release(); pong.Acquire(); }
        double handOff = clock.Elapsed.TotalNanoseconds / (2.0 * (rounds - 1)) / 1000;
        partner.Join();

        Console.WriteLine(FormattableString.Invariant($"forkkit Lock acquire+release: {uncontended:F0} ns"));
        Console.WriteLine(FormattableString.Invariant($"forkkit hand-off between two processes (named semaphore ping-pong): {handOff:F1} us one way"));
        Console.WriteLine(FormattableString.Invariant($"forkkit Lock contended by two processes: {contended:F0} ns per acquire+release ({m} each)"));
        return 0;
    }

    /// <summary>
    /// The pool figures, measured as pool_map.py measures them: the time to construct the pool,
    /// Map of N squares per item (the first Map includes waiting for the workers to start, as
    /// Python's does), then N/10 ApplyAsync calls per task.
    /// </summary>
    static int PoolMap(int n, int processes, StartMethod method)
    {
        // The fork server is brought up first and timed on its own: the pool figures are those
        // of a process whose server is up, as a Python program's fork pool has its parent up.
        if (method == StartMethod.ForkServer)
        {
            var up = Stopwatch.StartNew();
            RunOne(Noop, method);
            Console.WriteLine(FormattableString.Invariant($"forkkit forkserver start-up (the server boots, then its first child): {up.Elapsed.TotalMilliseconds:F1} ms"));
        }
        var t0 = Stopwatch.StartNew();
        using var pool = new ForkKit.Pool(processes, startMethod: method);
        double startup = t0.Elapsed.TotalMilliseconds;

        var t1 = Stopwatch.StartNew();
        var r = pool.Map(Square, Enumerable.Range(0, n));
        double map = t1.Elapsed.TotalMilliseconds;

        var t2 = Stopwatch.StartNew();
        var asyncs = Enumerable.Range(0, n / 10).Select(i => pool.ApplyAsync(Square, i)).ToList();
        long sum = asyncs.Sum(a => (long)a.Get());
        double apply = t2.Elapsed.TotalMilliseconds;

        // The same Map three more times, on workers that are up and warm; the median, as
        // pool_map.py reports it.
        var again = new List<double>();
        for (int i = 0; i < 3; i++)
        {
            var t3 = Stopwatch.StartNew();
            pool.Map(Square, Enumerable.Range(0, n));
            again.Add(t3.Elapsed.TotalMilliseconds);
        }
        again.Sort();
        double warmMap = again[1];

        if (r[^1] != (n - 1) * (n - 1) && n < 46341 || sum < 0)
            throw new InvalidOperationException("wrong results");
        Console.WriteLine(FormattableString.Invariant(
            $"forkkit {Label(method)} pool startup {startup:F1} ms; map {n} items: {1000 * map / n:F2} us/item; apply_async {n / 10}: {1000 * apply / (n / 10):F1} us/task"));
        Console.WriteLine(FormattableString.Invariant(
            $"  the same map again on the warm pool: {1000 * warmMap / n:F3} us/item (the median of three more; the first map above includes the workers' start-up)"));
        return 0;
    }

    static void Sleep(int ms) => Thread.Sleep(ms);

    /// <summary>
    /// A running child's memory as bench/reference/child_memory.py measures Python's: start a
    /// child that sleeps, give it 300 ms to settle, read /proc/PID/smaps_rollup. Private_Dirty
    /// is what the child costs the machine on its own: pages it wrote, which it shares with
    /// no one.
    /// </summary>
    static int ChildMemory(StartMethod method)
    {
        RunOne(Noop, method); // the server is up, and the parent's start path compiled
        using var p = new ForkKit.Process(Sleep, 5_000) { StartMethod = method };
        p.Start();
        Thread.Sleep(300);
        var rollup = File.ReadAllLines($"/proc/{p.Pid}/smaps_rollup")
            .Select(l => l.Split(':', 2)).Where(f => f.Length == 2)
            .ToDictionary(f => f[0].Trim(), f => double.Parse(f[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024);
        p.Terminate();
        p.Join();
        Console.WriteLine(FormattableString.Invariant(
            $"forkkit {Label(method)} child memory: Private_Dirty {rollup["Private_Dirty"]:F1} MiB, Rss {rollup["Rss"]:F1} MiB, Pss {rollup["Pss"]:F1} MiB"));
        return 0;
    }

    /// <summary>
    /// Imap over a lazy sequence of <paramref name="n"/> ints (never a list), summing the
    /// results as they come, in chunks of 10,000; then this process's peak resident set
    /// (VmHWM). With the input read lazily it does not grow with n.
    /// </summary>
    static int ImapLazy(int n)
    {
        using var pool = new ForkKit.Pool(2, startMethod: StartMethod.ForkServer);
        var clock = Stopwatch.StartNew();
        long sum = 0;
        foreach (var v in pool.Imap(Square, Enumerable.Range(0, n), chunkSize: 10_000)) sum += v;
        double seconds = clock.Elapsed.TotalSeconds;
        var hwm = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))
            .Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1];
        Console.WriteLine(FormattableString.Invariant(
            $"forkkit imap {n} lazy: {1e6 * seconds / n:F3} us/item, parent peak RSS {long.Parse(hwm, CultureInfo.InvariantCulture) / 1024.0:F1} MiB (sum {sum})"));
        return 0;
    }

    /// <summary>
    /// N ForkServer children of <see cref="ChildMix"/>, a fifth each that return, throw, allocate
    /// and collect, use the thread pool, or are terminated; prints how many ended as expected,
    /// with another code, or hung (not ended within 30 s), and what is left behind.
    /// </summary>
    static int ForkServerMany(int n)
    {
        var clock = Stopwatch.StartNew();
        var tally = ChildMix.Run(n, StartMethod.ForkServer, TimeSpan.FromSeconds(30));
        var table = ForkKit.Diagnostics.ProcessTable.Snapshot();
        int self = Environment.ProcessId;
        int? server = table.FirstOrDefault(e => e.ParentPid == self && e.Name == "ForkServer")?.Pid;
        int left = table.Count(e => (e.ParentPid == self && e.Pid != server) || (e.ParentPid == server && e.Name != "ForkSpare"));
        Console.WriteLine(FormattableString.Invariant(
            $"forkkit forkserver {n} mixed children: {tally.AsExpected} as expected, {tally.OtherCodes} other exit codes, {tally.Hung} hung, {left} left behind, in {clock.Elapsed.TotalSeconds:F1} s"));
        return tally.OtherCodes + tally.Hung + left == 0 ? 0 : 1;
    }

    /// <summary>The timed child's target: static, so the worker host finds it by name.</summary>
    static void Noop() { }

    /// <summary>
    /// The probe child's target: writes the worker's own VmHWM line from /proc/self/status to
    /// <paramref name="path"/>. VmHWM is the high-water mark of the address space this process
    /// has now, the one execve gave it, so unlike ru_maxrss it holds nothing of the parent.
    /// </summary>
    static void WriteOwnPeakRss(string path) =>
        File.WriteAllText(path, File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)));

    static int StartJoin(int n, StartMethod method)
    {
        // The warm-up runs JIT the parent's Start/Join path and bring the runtime's files into
        // the page cache, so the timed runs measure the steady state, as Python's loop does.
        // With ForkServer the first also boots the server, as Python's warm-up run does.
        var first = Stopwatch.StartNew();
        RunOne(Noop, method);
        double firstMs = first.Elapsed.TotalMilliseconds;
        for (int i = 1; i < WarmUpRuns; i++) RunOne(Noop, method);

        var clock = Stopwatch.StartNew();
        for (int i = 0; i < n; i++) RunOne(Noop, method);
        clock.Stop();
        if (method == StartMethod.ForkServer)
        {
            Console.WriteLine(FormattableString.Invariant(
                $"forkkit forkserver start+join: {clock.Elapsed.TotalMilliseconds / n:F2} ms/process (N={n}); the first, which booted the server: {firstMs:F1} ms"));
            return 0;
        }

        // Read now, before the probe: every timed worker has been reaped and counted.
        double childrenPeakMiB = PeakRssKiB(RUSAGE_CHILDREN) / 1024.0;
        double parentPeakMiB = PeakRssKiB(RUSAGE_SELF) / 1024.0;
        double workerOwnMiB = ProbeWorkerOwnPeakKiB() / 1024.0;

        Console.WriteLine(FormattableString.Invariant(
            $"forkkit spawn start+join: {clock.Elapsed.TotalMilliseconds / n:F1} ms/process (N={n}), worker peak RSS {childrenPeakMiB:F1} MiB"));
        Console.WriteLine(FormattableString.Invariant(
            $"  cross-check: one worker's own VmHWM {workerOwnMiB:F1} MiB; this bench parent's peak RSS {parentPeakMiB:F1} MiB (why they differ: PeakRssKiB in bench/ForkKit.Bench/Program.cs)"));
        return 0;
    }

    /// <summary>Starts one Spawn child running <paramref name="target"/>, joins it, and insists it exited with 0.</summary>
    static void RunOne(Delegate target, params object?[] args) => RunOne(target, StartMethod.Spawn, args);

    static void RunOne(Delegate target, StartMethod method, params object?[] args)
    {
        using var p = new ForkKit.Process(target, args) { StartMethod = method };
        p.Start();
        p.Join();
        if (p.ExitCode != 0)
            throw new InvalidOperationException(
                $"benchmark child {p.Name} (pid {p.Pid}) exited with {p.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "no exit code"}, not 0; its stderr above says why");
    }

    /// <summary>Runs one more worker that reports its own VmHWM (KiB) through a temporary file.</summary>
    static long ProbeWorkerOwnPeakKiB()
    {
        var path = Path.GetTempFileName();
        try
        {
            RunOne(WriteOwnPeakRss, path);
            // "VmHWM:\t   37724 kB"
            var fields = File.ReadAllText(path).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return long.Parse(fields[1], CultureInfo.InvariantCulture);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// ru_maxrss of getrusage(2), in KiB on Linux.
    ///
    /// For RUSAGE_CHILDREN it is the largest resident set of any reaped child (the kernel keeps
    /// the maximum over all reaped children and their own reaped descendants; it is not a sum or
    /// an average). It is what the brief for this benchmark asks to report as the worker's peak,
    /// and it is an upper bound, not the worker's own figure: ForkKit starts a worker with vfork
    /// then execve, and at execve Linux records the high-water mark of the address space the
    /// child leaves behind, which under vfork is the parent's. So this number is at least the
    /// bench parent's resident set at spawn time (a parent grown to 230 MiB made it read 242 MiB
    /// with the same workers). The cross-check line prints the parent's own peak and a worker's
    /// VmHWM, which counts only the worker's own address space, so the two can be told apart.
    ///
    /// For RUSAGE_SELF it is this process's own peak.
    /// </summary>
    static long PeakRssKiB(int who)
    {
        if (getrusage(who, out var usage) != 0)
            throw new InvalidOperationException(
                $"getrusage({(who == RUSAGE_CHILDREN ? "RUSAGE_CHILDREN" : "RUSAGE_SELF")}) failed with errno {Marshal.GetLastPInvokeError()}");
        return usage.ru_maxrss;
    }

    const int RUSAGE_SELF = 0;
    const int RUSAGE_CHILDREN = -1;

    /// <summary>
    /// struct rusage from &lt;sys/resource.h&gt; on Linux: two struct timeval, then fourteen C
    /// longs. nint has the size of a C long on Linux.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    struct RUsage
    {
        public nint ru_utime_sec, ru_utime_usec;
        public nint ru_stime_sec, ru_stime_usec;
        public nint ru_maxrss, ru_ixrss, ru_idrss, ru_isrss;
        public nint ru_minflt, ru_majflt, ru_nswap, ru_inblock, ru_oublock;
        public nint ru_msgsnd, ru_msgrcv, ru_nsignals, ru_nvcsw, ru_nivcsw;
    }

    /// <summary>
    /// getrusage(2). Returns 1) 0, having filled <paramref name="usage"/>; 2) -1 with errno
    /// EINVAL when <paramref name="who"/> is not RUSAGE_SELF, RUSAGE_CHILDREN or RUSAGE_THREAD.
    /// </summary>
    [DllImport("libc", SetLastError = true)]
    static extern int getrusage(int who, out RUsage usage);
}
