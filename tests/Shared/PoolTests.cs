using System.Diagnostics;
using ForkKit.Diagnostics;
using ForkKit.Tests.Support;

namespace ForkKit.Tests;

/// <summary>
/// Pool, as Python's multiprocessing.Pool, on both platforms (compiled into the Linux and the
/// Windows suite): apply, map and friends, callbacks, remote exceptions, the initializer,
/// maxTasksPerChild and the pool's lifecycle. PoolTests.Unix.cs and PoolTests.Windows.cs hold
/// what only one platform has.
/// Exceptions are caught with Assert.Throws, which calls the code directly, not with
/// Assert.That(code, Throws...), which calls it through Delegate.DynamicInvoke: under Wine, an
/// exception thrown through a reflection call can hang or crash the test process.
/// </summary>
public partial class PoolTests : ScratchFileFixture
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    // ---- construction ----

    [Test]
    public void APoolOnAStartMethodThatCannotStartItsWorkersFailsAtConstructionLeavingNothing()
    {
        const StartMethod method = StartMethod.Fork;
        const string why = "StartMethod.Fork";
        int before = ForkKit.Diagnostics.ProcessTable.ChildrenOf(Environment.ProcessId).Count;
        Assert.Throws(Is.TypeOf<NotSupportedException>().With.Message.Contains(why), () => new Pool(2, startMethod: method));
        Assert.That(ForkKit.Diagnostics.ProcessTable.ChildrenOf(Environment.ProcessId), Has.Count.EqualTo(before), "no worker was started");
    }

    [Test]
    public void TheDefaultSizeIsTheProcessorCount()
    {
        using var pool = new Pool();
        Assert.That(pool.Processes, Is.EqualTo(Environment.ProcessorCount));
        Assert.That(pool.WorkerPids, Has.Count.EqualTo(Environment.ProcessorCount));
    }

    [TestCase(0)]
    [TestCase(-1)]
    public void ZeroOrNegativeProcessesAreRefused(int processes) =>
        Assert.Throws(Is.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("at least one worker"), () => new Pool(processes));

    [TestCase(0)]
    [TestCase(-3)]
    public void ZeroOrNegativeMaxTasksPerChildIsRefused(int max) =>
        Assert.Throws(Is.TypeOf<ArgumentOutOfRangeException>(), () => new Pool(1, maxTasksPerChild: max));

    [Test]
    public void ACapturingLambdaIsRefusedBeforeAnythingIsSent()
    {
        using var pool = new Pool(1);
        int offset = 3;
        Assert.Throws(Is.TypeOf<ArgumentException>().With.Message.Contains("'offset'"), () => pool.Apply((int n) => n + offset, 1));
        Assert.That(pool.Apply(PoolTargets.Square, 3), Is.EqualTo(9));
    }

    // ---- apply ----

    [Test]
    public void ApplyRunsInAWorkerAndReturnsTheResult()
    {
        using var pool = new Pool(2);
        Assert.That(pool.Apply(PoolTargets.Square, 7), Is.EqualTo(49));
        Assert.That(pool.WorkerPids, Has.Count.EqualTo(2).And.None.EqualTo(Environment.ProcessId));
    }

    [Test]
    public void ApplyReturnsTheResultWithAPlainStaticMethodGroup()
    {
        using var pool = new Pool(2);
        int r = pool.Apply(PoolTargets.Square, 3);
        Assert.That(r, Is.EqualTo(9));
        Assert.That(pool.Apply(PoolTargets.Add, 2, 5), Is.EqualTo(7));
        Assert.That(pool.Apply(PoolTargets.Hello), Is.EqualTo("hello"));
        Assert.That(pool.Apply((int n) => n * 10, 4), Is.EqualTo(40));
    }

    [Test]
    public void ApplyBlocksUntilTheResultIsBack()
    {
        using var pool = new Pool(1);
        pool.Apply(PoolTargets.Square, 1); // the worker has started
        var clock = Stopwatch.StartNew();
        Assert.That(pool.Apply(PoolTargets.SlowSquare, 4, 400), Is.EqualTo(16));
        Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(390)));
    }

    [Test]
    public void ApplyAsyncReturnsAtOnceAndGetWaits()
    {
        using var pool = new Pool(1);
        var result = pool.ApplyAsync(PoolTargets.SlowSquare, 5, 1500);
        // Not ready when ApplyAsync returns: it did not wait for the task (order, not a time
        // bound, which a loaded machine could break).
        Assert.That(result.Ready, Is.False, "ApplyAsync returned before the task finished");
        Assert.Throws(Is.TypeOf<InvalidOperationException>(), () => _ = result.Successful);
        Assert.That(result.Get(Patience), Is.EqualTo(25));
        Assert.That(result.Ready && result.Successful, Is.True);
    }

    [Test]
    public void GetWithATimeoutThrowsTimeoutExceptionAfterAboutTheTimeout()
    {
        using var pool = new Pool(1);
        var result = pool.ApplyAsync(PoolTargets.Sleep, 30_000);
        var clock = Stopwatch.StartNew();
        Assert.Throws(Is.TypeOf<TimeoutException>(), () => result.Get(TimeSpan.FromMilliseconds(300)));
        // At least the timeout, and given up on it rather than when the 30 s task ended: the
        // upper bound only has to stay well under 30 s.
        Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(290)).And.LessThan(TimeSpan.FromSeconds(20)));
        Assert.That(result.Wait(TimeSpan.Zero), Is.False);
    }

    // ---- map and friends ----

    [TestCase(null)]
    [TestCase(1)]
    [TestCase(3)]
    [TestCase(7)]
    [TestCase(1000)]
    public void MapKeepsInputOrderForAnyChunkSize(int? chunkSize)
    {
        using var pool = new Pool(3);
        var items = Enumerable.Range(0, 40).ToList();
        // Later items finish sooner, so the completion order is not the input order.
        var result = pool.Starmap(PoolTargets.SlowSquare, items.Select(n => (n, (40 - n) % 4 * 5)), chunkSize);
        Assert.That(result, Is.EqualTo(items.Select(n => n * n)));
        Assert.That(pool.Map(PoolTargets.Square, items, chunkSize), Is.EqualTo(items.Select(n => n * n)));
    }

    [TestCase(0, 2, 1)]
    [TestCase(5, 2, 1)]
    [TestCase(8, 2, 1)]
    [TestCase(9, 2, 2)]
    [TestCase(100, 2, 13)]
    [TestCase(100_000, 2, 12_500)]
    [TestCase(100_001, 4, 6_251)]
    public void TheDefaultChunkSizeIsPythons(int items, int processes, int expected) =>
        Assert.That(Pool.DefaultChunkSize(items, processes), Is.EqualTo(expected));

    [Test]
    public void MapOfNothingIsAnEmptyListAtOnce()
    {
        using var pool = new Pool(2);
        var clock = Stopwatch.StartNew();
        Assert.That(pool.Map(PoolTargets.Square, Array.Empty<int>()), Is.Empty);
        List<int>? delivered = null;
        var r = pool.MapAsync(PoolTargets.Square, Array.Empty<int>(), callback: v => delivered = v);
        Assert.That(r.Get(Patience), Is.Empty);
        Assert.That(delivered, Is.Empty);
        Assert.That(pool.Imap(PoolTargets.Square, Array.Empty<int>()), Is.Empty);
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
    }

    [Test]
    public void ImapYieldsInOrderAndImapUnorderedAsResultsCome()
    {
        using var pool = new Pool(3);
        pool.Map(PoolTargets.Square, [1, 2, 3], 1); // all three workers are up
        var delays = new[] { 900, 100, 500 };
        Assert.That(pool.Imap(PoolTargets.Sleep, delays).ToList(), Is.EqualTo(delays));
        Assert.That(pool.ImapUnordered(PoolTargets.Sleep, delays).ToList(), Is.EqualTo(new[] { 100, 500, 900 }));
    }

    [Test]
    public void ImapYieldsEachResultWithoutWaitingForLaterOnes()
    {
        using var pool = new Pool(2);
        pool.Map(PoolTargets.Square, [1, 2], 1);
        var clock = Stopwatch.StartNew();
        using var e = pool.Imap(PoolTargets.Sleep, new[] { 50, 30_000 }).GetEnumerator();
        Assert.That(e.MoveNext(), Is.True);
        Assert.That(e.Current, Is.EqualTo(50));
        // The first result came before the 30 s second task could end (the pool's Dispose stops it).
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)));
    }

    /// <summary>An endless input that counts how many items were read from it.</summary>
    sealed class CountingInput
    {
        public int Read;

        public IEnumerable<int> Endless()
        {
            for (int i = 0; ; i++)
            {
                Interlocked.Increment(ref Read);
                yield return i;
            }
        }
    }

    [Test]
    public void ImapReadsAnEndlessInputLazilyKeepingABoundedNumberOfChunksAhead()
    {
        using var pool = new Pool(2);
        var input = new CountingInput();
        var first = pool.Imap(PoolTargets.Square, input.Endless(), chunkSize: 10).Take(50).ToList();
        Assert.That(first, Is.EqualTo(Enumerable.Range(0, 50).Select(i => i * i)));
        // 5 chunks taken, at most max(8, 4 x 2) submitted ahead of the caller, and one partly read.
        Assert.That(input.Read, Is.LessThanOrEqualTo(50 + 8 * 10 + 10), "the input was read only as far as the caller's results and the chunks ahead");
    }

    [Test]
    public void ImapUnorderedReadsAnEndlessInputLazilyToo()
    {
        using var pool = new Pool(2);
        var input = new CountingInput();
        var first = pool.ImapUnordered(PoolTargets.Square, input.Endless(), chunkSize: 10).Take(30).ToList();
        Assert.That(first, Has.Count.EqualTo(30));
        Assert.That(first.All(v => Math.Sqrt(v) % 1 == 0), Is.True, "squares");
        Assert.That(input.Read, Is.LessThanOrEqualTo(30 + 8 * 10 + 10));
    }

    [Test]
    public void AMapOfManyChunksKeepsOrderWhileChunksAreSubmittedAsEarlierOnesAnswer()
    {
        using var pool = new Pool(2);
        var items = Enumerable.Range(0, 1000).ToList();
        Assert.That(pool.Map(PoolTargets.Square, items, chunkSize: 3), Is.EqualTo(items.Select(i => i * i)));
    }

    [Test]
    public void PlainTypesCrossTheBinaryEncodingBothWays()
    {
        using var pool = new Pool(2);
        Assert.That(pool.Map(PoolTargets.Twice, new[] { "a", "", null, "ü€😀" }), Is.EqualTo(new[] { "aa", "", null, "ü€😀ü€😀" }));
        Assert.That(pool.Map(PoolTargets.Halve, new[] { 1L << 40, -3L }), Is.EqualTo(new[] { 0.5 * (1L << 40), -1.5 }));
        Assert.That(pool.Map(PoolTargets.Lengths, new List<int[]?> { new[] { 1, 2 }, null, Array.Empty<int>() }), Is.EqualTo(new[] { 2, -1, 0 }));
        Assert.That(pool.Starmap(PoolTargets.Repeat, new[] { ("ab", 2), ("x", 0) }), Is.EqualTo(new[] { new List<string> { "ab", "ab" }, new List<string>() }));
        Assert.That(pool.Apply(PoolTargets.Negate, true), Is.False);
    }

    [Test]
    public void AnAsyncTargetsValuesComeBackAsCompletedTasks()
    {
        using var pool = new Pool(2);
        var one = pool.Apply(PoolTargets.DoubleLater, 21);
        Assert.That((one.IsCompletedSuccessfully, one.Result), Is.EqualTo((true, 42)));
        Assert.That(pool.Map(PoolTargets.DoubleLater, new[] { 1, 2, 3 }).Select(t => t.Result), Is.EqualTo(new[] { 2, 4, 6 }));
    }

    [Test]
    public void StarmapUnpacksPairs()
    {
        using var pool = new Pool(2);
        Assert.That(pool.Starmap(PoolTargets.Add, new[] { (1, 2), (3, 4), (10, -10) }), Is.EqualTo(new[] { 3, 7, 0 }));
    }

    [Test]
    public void RecordsCrossBothWays()
    {
        using var pool = new Pool(1);
        Assert.That(pool.Map(PoolTargets.ReturnsPoint, [1, 2]), Is.EqualTo(new[] { new Point(1, -1, "p1"), new Point(2, -2, "p2") }));
    }

    // ---- callbacks ----

    [Test]
    public void CallbacksRunOnOneResultThreadBeforeReadyTurnsTrue()
    {
        using var pool = new Pool(2);
        var threads = new System.Collections.Concurrent.ConcurrentBag<int>();
        var readyInCallback = new System.Collections.Concurrent.ConcurrentBag<bool>();
        var submitted = new ManualResetEventSlim(false);
        var results = new List<AsyncResult<int>>();
        for (int i = 0; i < 20; i++)
        {
            int index = i;
            results.Add(pool.ApplyAsync(PoolTargets.Square, i, _ =>
            {
                submitted.Wait();
                threads.Add(Environment.CurrentManagedThreadId);
                readyInCallback.Add(results[index].Ready);
            }));
        }
        submitted.Set();
        Assert.That(results.Select(r => r.Get(Patience)), Is.EqualTo(Enumerable.Range(0, 20).Select(i => i * i)));
        Assert.That(threads.Distinct().Count(), Is.EqualTo(1), "one result-handling thread");
        Assert.That(threads.First(), Is.Not.EqualTo(Environment.CurrentManagedThreadId));
        Assert.That(readyInCallback, Has.Count.EqualTo(20).And.All.False, "Ready turned true only after the callback");
    }

    [Test]
    public void MapAsyncCallsItsCallbackOnceWithTheWholeList()
    {
        using var pool = new Pool(2);
        var calls = new List<List<int>>();
        var r = pool.MapAsync(PoolTargets.Square, Enumerable.Range(0, 30), chunkSize: 4, callback: v => calls.Add(v));
        Assert.That(r.Wait(Patience), Is.True, "the map finished");
        Assert.That(calls, Has.Count.EqualTo(1));
        Assert.That(calls[0], Is.EqualTo(Enumerable.Range(0, 30).Select(i => i * i)));
    }

    [Test]
    [NotUnderWine("a worker whose task throws a second time crashes in MethodInvoker.Invoke under Wine (0xC0000005)")]
    public void MapAsyncCallsItsErrorCallbackOnceWithTheFirstException()
    {
        using var pool = new Pool(2);
        var errors = new List<Exception>();
        bool callbackCalled = false;
        var r = pool.MapAsync(PoolTargets.FailOn, Enumerable.Range(0, 20), chunkSize: 2,
            callback: _ => callbackCalled = true, errorCallback: e => errors.Add(e));
        Assert.That(r.Wait(Patience), Is.True, "the map finished");
        Assert.That(errors, Has.Count.EqualTo(1));
        Assert.That(errors[0], Is.TypeOf<ArgumentException>().With.Message.StartsWith("bad item"));
        Assert.That(callbackCalled, Is.False);
        Assert.That(r.Successful, Is.False);
        Assert.Throws(Is.TypeOf<ArgumentException>(), () => r.Get(Patience));
    }

    [Test]
    public void ACallbackThatThrowsIsReportedAndResultHandlingGoesOn()
    {
        var report = new StringWriter();
        var stderr = Console.Error;
        Console.SetError(TextWriter.Synchronized(report));
        try
        {
            using var pool = new Pool(1);
            var first = pool.ApplyAsync(PoolTargets.Square, 2, _ => throw new InvalidOperationException("callback broke"));
            Assert.That(first.Get(Patience), Is.EqualTo(4), "the result stands");
            Assert.That(pool.ApplyAsync(PoolTargets.Square, 3, _ => { }).Get(Patience), Is.EqualTo(9));
        }
        finally
        {
            Console.SetError(stderr);
        }
        Assert.That(report.ToString(), Does.Contain("the callback of").And.Contain("callback broke"));
    }

    // ---- errors ----

    [Test]
    [NotUnderWine("a worker whose task throws a second time crashes in MethodInvoker.Invoke under Wine (0xC0000005)")]
    public void AnExceptionInATaskIsRethrownAsItsTypeWithTheRemoteTrace()
    {
        using var pool = new Pool(1);
        var e = Assert.Throws<InvalidOperationException>(() => pool.Apply(PoolTargets.Fail, "broken on purpose"))!;
        Assert.That(e.Message, Is.EqualTo("broken on purpose"));
        Assert.That(e.InnerException, Is.TypeOf<RemoteTraceback>());
        Assert.That(e.InnerException!.Message, Does.Contain("at ForkKit.Tests.Support.PoolTargets.Fail(String message)"));

        var async = pool.ApplyAsync(PoolTargets.Fail, "again");
        Assert.Throws(Is.TypeOf<InvalidOperationException>().With.Message.EqualTo("again"), () => async.Get(Patience));
        Assert.That(pool.Apply(PoolTargets.Square, 6), Is.EqualTo(36), "the pool keeps working");
    }

    [Test]
    public void AnExceptionTypeWithOnlyAMessageConstructorKeepsItsType()
    {
        using var pool = new Pool(1);
        var e = Assert.Throws<OnlyMessageException>(() => pool.Apply(PoolTargets.ThrowCustom, 4))!;
        Assert.That(e.Message, Is.EqualTo("custom 4"));
        Assert.That(e.InnerException, Is.TypeOf<RemoteTraceback>());
    }

    [Test]
    public void AnExceptionTypeThatCannotBeRebuiltBecomesRemoteException()
    {
        using var pool = new Pool(1);
        var e = Assert.Throws<RemoteException>(() => pool.Apply(PoolTargets.ThrowUnrebuildable, 7))!;
        Assert.That(e.RemoteType, Is.EqualTo(typeof(NoMessageConstructorException).FullName));
        Assert.That(e.Message, Does.Contain("code 7"));
        Assert.That(e.InnerException!.Message, Does.Contain("ThrowUnrebuildable"));
    }

    [Test]
    public void AnArgumentTheWireCannotCarryFailsThatTaskOnly()
    {
        using var pool = new Pool(1);
        var r = pool.ApplyAsync(PoolTargets.TakesObject, (object)new MemoryStream());
        Assert.Throws(Is.TypeOf<ArgumentException>().With.Message.Contains("a stream is an open OS resource"), () => r.Get(Patience));
        Assert.That(pool.Apply(PoolTargets.Square, 5), Is.EqualTo(25));
    }

    [Test]
    public void AResultTheWireCannotCarryFailsThatTaskOnly()
    {
        using var pool = new Pool(1);
        Assert.Throws(Is.TypeOf<NotSupportedException>().With.Message.Contains("cannot cross back to the parent"), () => pool.Apply(PoolTargets.ReturnsStream, 1));
        Assert.That(pool.Apply(PoolTargets.Square, 5), Is.EqualTo(25));
    }

    // ---- initializer and maxTasksPerChild ----

    [Test]
    public void TheInitializerRunsOnceInEveryWorkerBeforeItsFirstTask()
    {
        using var pool = new Pool(2, PoolTargets.Init, ["ready"]);
        var states = pool.Map(PoolTargets.InitState, Enumerable.Range(0, 40), chunkSize: 1);
        Assert.That(states, Is.All.EqualTo("1:ready"));
    }

    [Test]
    public void MaxTasksPerChildReplacesWorkersAndResultsStayCorrect()
    {
        using var pool = new Pool(2, maxTasksPerChild: 2);
        var before = pool.WorkerPids.ToList();
        var pids = pool.Map(PoolTargets.PidAfter, Enumerable.Repeat(1, 12), chunkSize: 1);
        Assert.That(pids.Distinct().Count(), Is.GreaterThanOrEqualTo(6), "12 tasks, 2 per worker");
        Assert.That(pids.GroupBy(p => p).Select(g => g.Count()), Is.All.LessThanOrEqualTo(2));
        Assert.That(pool.Map(PoolTargets.Square, Enumerable.Range(0, 10), 1), Is.EqualTo(Enumerable.Range(0, 10).Select(i => i * i)));
        Assert.That(pool.WorkerPids, Is.Not.EquivalentTo(before));
        pool.Close();
        pool.JoinBounded();
        foreach (var pid in pids.Distinct()) Assert.That(ProcessTable.Find(pid), Is.Null, $"worker {pid} reaped");
    }

    // ---- lifecycle ----

    [Test]
    public void WorkAfterCloseOrTerminateThrowsPoolNotRunning()
    {
        // using: a failed assertion still terminates and reaps the workers.
        using var closed = new Pool(1);
        closed.Close();
        Assert.Throws(Is.TypeOf<InvalidOperationException>().With.Message.EqualTo("Pool not running"), () => closed.Apply(PoolTargets.Square, 1));
        Assert.Throws(Is.TypeOf<InvalidOperationException>().With.Message.EqualTo("Pool not running"), () => closed.MapAsync(PoolTargets.Square, [1]));
        closed.JoinBounded();

        using var terminated = new Pool(1);
        terminated.Terminate();
        Assert.Throws(Is.TypeOf<InvalidOperationException>().With.Message.EqualTo("Pool not running"), () => terminated.ApplyAsync(PoolTargets.Square, 1));
        terminated.JoinBounded();
    }

    [Test]
    public void JoinWhileRunningThrows()
    {
        using var pool = new Pool(1);
        Assert.Throws(Is.TypeOf<InvalidOperationException>().With.Message.Contains("still running"), pool.Join);
    }

    [Test]
    public void CloseLetsQueuedTasksFinishThenJoinReturnsWithEveryWorkerReaped()
    {
        using var pool = new Pool(2);
        var workers = pool.WorkerPids.ToList();
        var results = Enumerable.Range(0, 8).Select(i => pool.ApplyAsync(PoolTargets.SlowSquare, i, 100)).ToList();
        pool.Close();
        pool.JoinBounded();
        Assert.That(results.Select(r => r.Ready), Is.All.True);
        Assert.That(results.Select(r => r.Get(Patience)), Is.EqualTo(Enumerable.Range(0, 8).Select(i => i * i)));
        Assert.That(pool.WorkerPids, Is.Empty);
        foreach (var pid in workers) Assert.That(ProcessTable.Find(pid), Is.Null, $"worker {pid} reaped");
    }

    [Test]
    public void TerminateWithTenThousandPendingLongTasksReturnsPromptlyAndKillsTheWorkers()
    {
        using var pool = new Pool(2);
        var workers = pool.WorkerPids.ToList();
        var results = Enumerable.Range(0, 10_000).Select(_ => pool.ApplyAsync(PoolTargets.Sleep, 60_000)).ToList();
        var clock = Stopwatch.StartNew();
        pool.Terminate();
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
        pool.JoinBounded();
        foreach (var pid in workers) Assert.That(ProcessTable.Find(pid), Is.Null, $"worker {pid} killed and reaped");
        Assert.That(results.All(r => r.Wait(Patience) && !r.Successful), Is.True, "every pending task failed rather than hanging");
    }

    [Test]
    public void DisposeTerminates()
    {
        var pool = new Pool(2);
        var workers = pool.WorkerPids.ToList();
        var pending = pool.ApplyAsync(PoolTargets.Sleep, 60_000);
        pool.Dispose();
        Assert.Throws(Is.TypeOf<InvalidOperationException>(), () => pool.Apply(PoolTargets.Square, 1));
        foreach (var pid in workers) Assert.That(ProcessTable.Find(pid), Is.Null);
        Assert.That(pending.Wait(Patience) && !pending.Successful, Is.True);
    }
}
