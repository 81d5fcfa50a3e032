using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using ForkKit.Bench;

namespace ForkKit.Stress;

/// <summary>What a scenario did, in one phrase, and every loss it saw (empty when none).</summary>
sealed record Outcome(string Figures, IReadOnlyList<string> Losses);

/// <summary>
/// The six loads. Each runs its children to the end and reaps them itself; what it finds wrong
/// (a wrong exit code or result, a hang, a task that ended in neither a result nor
/// WorkerLostException) is a loss. Every wait is bounded: a hang is reported, never waited out.
/// </summary>
static class Scenarios
{
    /// <summary>How long one child may take to end, or a pool call to come back, before it counts as hung.</summary>
    static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(60);

    /// <summary>Start/join cycles of the bench's mixed children (return, throw, allocate, thread pool, terminated), every exit code checked.</summary>
    public static Outcome StartJoin(int n, StartMethod method)
    {
        var tally = ChildMix.Run(n, method, HangLimit);
        var losses = new List<string>();
        if (tally.OtherCodes > 0) losses.Add($"{tally.OtherCodes} child(ren) ended with an unexpected exit code");
        if (tally.Hung > 0) losses.Add($"{tally.Hung} child(ren) hung");
        losses.AddRange(tally.FirstWrong);
        return new Outcome($"{n} start+join, {tally.AsExpected} exit codes as expected", losses);
    }

    /// <summary>
    /// A pool of <paramref name="workers"/> Spawn workers runs <paramref name="tasks"/> one-item
    /// tasks, a third each through Map, ImapUnordered and ApplyAsync; every result is checked.
    /// </summary>
    public static Outcome PoolTasks(int workers, int tasks)
    {
        var losses = new List<string>();
        int mapped = tasks / 3, unordered = tasks / 3, applied = tasks - mapped - unordered;
        int correct = 0;
        using var pool = new Pool(workers);

        var map = pool.MapAsync(Twice, Enumerable.Range(0, mapped), chunkSize: 1);
        if (!map.Wait(HangLimit)) losses.Add($"Map of {mapped} tasks not back within {HangLimit.TotalSeconds:0} s");
        else if (!map.Successful) losses.Add($"Map failed: {Describe(() => map.Get())}");
        else correct += map.Get().Select((v, i) => v == Twice(i)).Count(ok => ok);

        var seen = new bool[unordered];
        var imap = Task.Run(() =>
        {
            foreach (var v in pool.ImapUnordered(Twice, Enumerable.Range(0, unordered), chunkSize: 1))
            {
                int i = (v - 1) / 2;
                if (v % 2 == 1 && i >= 0 && i < unordered && !seen[i]) seen[i] = true;
                else losses.Add($"ImapUnordered gave {v}, which no input maps to or which came twice");
            }
        });
        if (!imap.Wait(HangLimit)) losses.Add($"ImapUnordered of {unordered} tasks not done within {HangLimit.TotalSeconds:0} s");
        else if (imap.Exception is { } e) losses.Add($"ImapUnordered failed: {e.InnerException?.Message}");
        correct += seen.Count(s => s);

        // ApplyAsync, at most 256 waiting at a time, so the queue is never the whole load.
        var pending = new Queue<(int Input, AsyncResult<int> Result)>();
        for (int i = 0; i < applied || pending.Count > 0;)
        {
            if (i < applied && pending.Count < 256)
            {
                pending.Enqueue((i, pool.ApplyAsync(Twice, i)));
                i++;
                continue;
            }
            var (input, result) = pending.Dequeue();
            if (!result.Wait(HangLimit)) { losses.Add($"ApplyAsync({input}) not back within {HangLimit.TotalSeconds:0} s"); break; }
            if (!result.Successful) losses.Add($"ApplyAsync({input}) failed: {Describe(() => result.Get())}");
            else if (result.Get() == Twice(input)) correct++;
            else losses.Add($"ApplyAsync({input}) gave {result.Get()}, not {Twice(input)}");
        }

        CloseAndJoin(pool, losses);
        if (correct != tasks) losses.Insert(0, $"{tasks - correct} of {tasks} results missing or wrong");
        return new Outcome($"{tasks} tasks on {workers} workers, {correct} results correct", losses);
    }

    /// <summary><paramref name="n"/> Spawn children, each terminated right after Start; every one must report -15 (SIGTERM).</summary>
    public static Outcome TerminateAfterStart(int n)
    {
        var losses = new List<string>();
        var children = new List<Process>();
        try
        {
            for (int i = 0; i < n; i++)
            {
                var p = new Process(Sleep, 60_000);
                children.Add(p);
                p.Start();
                p.Terminate();
            }
            int asExpected = 0;
            foreach (var p in children)
            {
                if (!p.Join(HangLimit)) losses.Add($"{p.Name} (pid {p.Pid}) still running {HangLimit.TotalSeconds:0} s after SIGTERM");
                else if (p.ExitCode == -15) asExpected++;
                else losses.Add($"{p.Name} (pid {p.Pid}) exit code {p.ExitCode}, expected -15");
            }
            return new Outcome($"{n} terminated after Start, {asExpected} with -15", losses);
        }
        finally
        {
            // Kills and reaps any that did not end; a no-op for the joined ones.
            foreach (var p in children) p.Dispose();
        }
    }

    /// <summary>
    /// <paramref name="processes"/> Spawn children each take one Lock <paramref name="times"/>
    /// times and increment a counter kept in a file; the count must be exact.
    /// </summary>
    public static Outcome LockCounter(int processes, int times)
    {
        var losses = new List<string>();
        var path = Path.GetTempFileName();
        var children = new List<Process>();
        try
        {
            File.WriteAllBytes(path, new byte[sizeof(long)]);
            using var lk = new Lock();
            for (int i = 0; i < processes; i++)
            {
                var p = new Process(Increment, lk, path, times);
                children.Add(p);
                p.Start();
            }
            foreach (var p in children)
            {
                if (!p.Join(TimeSpan.FromTicks(HangLimit.Ticks * 5))) losses.Add($"{p.Name} (pid {p.Pid}) not done within {5 * HangLimit.TotalSeconds:0} s");
                else if (p.ExitCode != 0) losses.Add($"{p.Name} (pid {p.Pid}) exit code {p.ExitCode}, expected 0");
            }
            long count = BitConverter.ToInt64(File.ReadAllBytes(path));
            long expected = (long)processes * times;
            if (count != expected) losses.Insert(0, $"the counter reads {count}, expected {expected}: {expected - count} increments lost");
            return new Outcome($"{processes} processes x {times} acquisitions, counter {count} of {expected}", losses);
        }
        finally
        {
            foreach (var p in children) p.Dispose();
            File.Delete(path);
        }
    }

    /// <summary>
    /// <paramref name="kills"/> SIGKILLs to random workers of a ForkServer pool of
    /// <paramref name="workers"/>, from another thread, while Maps and ApplyAsync tasks run on it.
    /// Every task must end in its result or WorkerLostException, the pool must be back to full
    /// strength and run a clean Map afterwards, and Close+Join must complete.
    /// </summary>
    public static Outcome KillWorkers(int workers, int kills)
    {
        var losses = new ConcurrentQueue<string>();
        using var pool = new Pool(workers, startMethod: StartMethod.ForkServer);
        using var killerDone = new ManualResetEventSlim(false);
        int killed = 0;
        var killer = new Thread(() =>
        {
            var random = new Random(20_251_129);
            var deadline = Stopwatch.StartNew();
            while (killed < kills && deadline.Elapsed < TimeSpan.FromTicks(HangLimit.Ticks * 10))
            {
                var pids = pool.WorkerPids;
                if (pids.Count > 0 && WorkerKiller.TryKill(pids[random.Next(pids.Count)])) killed++;
                // Long enough for the pool to notice and start a replacement now and then, short
                // enough that workers also die while starting and while others are replaced;
                // every 25th kill a longer pause, in which a Map can finish whole.
                Thread.Sleep(killed % 25 == 0 ? 150 : random.Next(1, 8));
            }
            if (killed < kills) losses.Enqueue($"only {killed} of {kills} workers killed in {deadline.Elapsed.TotalSeconds:0} s");
            killerDone.Set();
        }) { IsBackground = true, Name = "worker killer" };

        int tasksOk = 0, tasksLost = 0;
        var applier = new Thread(() =>
        {
            var pending = new Queue<(int Input, AsyncResult<int> Result)>();
            int next = 0;
            while (!killerDone.IsSet || pending.Count > 0)
            {
                if (!killerDone.IsSet && pending.Count < 32)
                {
                    pending.Enqueue((next, pool.ApplyAsync(Work, next)));
                    next++;
                    continue;
                }
                var (input, result) = pending.Dequeue();
                if (!result.Wait(HangLimit))
                {
                    losses.Enqueue($"ApplyAsync({input}) not back within {HangLimit.TotalSeconds:0} s");
                    return;
                }
                switch (Ending(() => result.Get() is var v && v != Twice(input) ? $"gave {v}, not {Twice(input)}" : null))
                {
                    case null: tasksOk++; break;
                    case "lost": tasksLost++; break;
                    case var other: losses.Enqueue($"ApplyAsync({input}): {other}"); break;
                }
            }
        }) { IsBackground = true, Name = "apply_async load" };

        killer.Start();
        applier.Start();
        const int MapItems = 500;
        int mapsOk = 0, mapsLost = 0;
        var expected = Enumerable.Range(0, MapItems).Select(Twice).ToList();
        while (!killerDone.IsSet)
        {
            var map = pool.MapAsync(Work, Enumerable.Range(0, MapItems), chunkSize: 10);
            if (!map.Wait(HangLimit))
            {
                losses.Enqueue($"a Map of {MapItems} items not back within {HangLimit.TotalSeconds:0} s");
                break;
            }
            switch (Ending(() => MapWrong(map.Get(), expected)))
            {
                case null: mapsOk++; break;
                case "lost": mapsLost++; break;
                case var other: losses.Enqueue($"Map: {other}"); break;
            }
        }
        if (!killer.Join(TimeSpan.FromTicks(HangLimit.Ticks * 11))) losses.Enqueue("the killer thread did not finish");
        if (!applier.Join(TimeSpan.FromTicks(HangLimit.Ticks * 2))) losses.Enqueue("the ApplyAsync thread did not finish: a task never ended");

        // The pool replaced every worker it lost, and works as before.
        var full = Stopwatch.StartNew();
        while (pool.WorkerPids.Count < workers && full.Elapsed < HangLimit) Thread.Sleep(10);
        if (pool.WorkerPids.Count != workers) losses.Enqueue($"{pool.WorkerPids.Count} workers {HangLimit.TotalSeconds:0} s after the last kill, not {workers}");
        var after = pool.MapAsync(Work, Enumerable.Range(0, MapItems), chunkSize: 10);
        if (!after.Wait(HangLimit)) losses.Enqueue("the Map after the kills not back in time");
        else if (Ending(() => MapWrong(after.Get(), expected)) is { } wrong) losses.Enqueue($"the Map after the kills: {wrong}");

        var list = losses.ToList();
        CloseAndJoin(pool, list);
        return new Outcome(
            $"{killed} workers killed; {tasksOk + tasksLost} tasks: {tasksOk} results, {tasksLost} WorkerLost; {mapsOk + mapsLost} Maps: {mapsOk} whole, {mapsLost} WorkerLost",
            list);
    }

    /// <summary>
    /// How a task ended: null for the right result, "lost" for WorkerLostException from a worker
    /// killed by SIGKILL, anything else described. <paramref name="check"/> reads the result and
    /// says what is wrong with it (null: nothing).
    /// </summary>
    static string? Ending(Func<string?> check)
    {
        try
        {
            return check();
        }
        catch (WorkerLostException e) when (e.ExitCode is null or -9)
        {
            return "lost";
        }
        catch (Exception e)
        {
            return $"ended in {e.GetType().Name}: {e.Message}";
        }
    }

    /// <summary>Null when a Map's results are the expected ones, else where they first differ.</summary>
    static string? MapWrong(List<int> got, List<int> expected)
    {
        if (got.Count != expected.Count) return $"{got.Count} results for {expected.Count} items";
        int i = Enumerable.Range(0, got.Count).FirstOrDefault(i => got[i] != expected[i], -1);
        return i < 0 ? null : $"item {i} gave {got[i]}, not {expected[i]}";
    }

    static string Describe(Action get)
    {
        try
        {
            get();
            return "no exception";
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
    }

    /// <summary>Close, then Join within the hang limit: a Join that does not return is a loss.</summary>
    static void CloseAndJoin(Pool pool, List<string> losses)
    {
        pool.Close();
        var join = Task.Run(pool.Join);
        if (!join.Wait(HangLimit)) losses.Add($"Close+Join did not complete within {HangLimit.TotalSeconds:0} s");
        else if (join.Exception is { } e) losses.Add($"Join failed: {e.InnerException?.Message}");
    }

    // ---- the children's targets: static, so a worker finds them by name ----

    static int Twice(int x) => 2 * x + 1;

    /// <summary>A task that takes 0 to 2 ms, so that a kill often finds a worker running one.</summary>
    static int Work(int x)
    {
        Thread.Sleep(x % 3);
        return Twice(x);
    }

    static void Sleep(int ms) => Thread.Sleep(ms);

    /// <summary>Under <paramref name="lk"/>, <paramref name="times"/> times: read the 64-bit counter at the start of <paramref name="path"/>, add one, write it back.</summary>
    static void Increment(Lock lk, string path, int times)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        Span<byte> counter = stackalloc byte[sizeof(long)];
        for (int i = 0; i < times; i++)
        {
            lk.Acquire();
            try
            {
                RandomAccess.Read(file, counter, 0);
                long value = MemoryMarshal.Read<long>(counter) + 1;
                MemoryMarshal.Write(counter, in value);
                RandomAccess.Write(file, counter, 0);
            }
            finally
            {
                lk.Release();
            }
        }
    }
}
