using System.Collections.Concurrent;
using ForkKit.Hosting;
using ForkKit.Pooling;
using ForkKit.Wire;

namespace ForkKit;

/// <summary>
/// A pool of long-lived worker processes, as Python's <c>multiprocessing.Pool</c>: Apply,
/// ApplyAsync, Map, MapAsync, Imap, ImapUnordered, Starmap. Each worker is a spawned ForkKit
/// worker host that takes tasks over a pipe and answers over another.
/// </summary>
/// <remarks>
/// Threads in the parent: one reader per worker (it reads that worker's results, notices its
/// death by end-of-file, and hands it its next task), and one result-handling thread that
/// decodes results and runs every callback, in completion order. A task goes to a worker only
/// when the worker is idle, so the parent never blocks writing to a busy worker. Unlike
/// Python's pool, a worker that dies in the middle of a task fails that task with
/// <see cref="WorkerLostException"/> and is replaced; nothing waits for ever.
/// </remarks>
public sealed class Pool : IDisposable
{
    enum State { Running, Closed, Terminated }

    static int s_workerCounter;
    static readonly ConcurrentDictionary<Pool, bool> s_open = new();
    static int s_exitHookInstalled;

    readonly object _gate = new();
    readonly Queue<PoolTask> _queue = new();
    readonly List<PoolWorker> _workers = new();
    readonly BlockingCollection<Action> _handlerWork = new();
    readonly Thread _handler;
    readonly ManualResetEventSlim _allWorkersGone = new(false);
    readonly TargetReference? _initializer;
    readonly byte[][] _initArgs = [];
    readonly int? _maxTasksPerChild;
    readonly ConcurrentDictionary<(System.Reflection.MethodInfo, Type?), TargetReference> _targets = new();
    State _state = State.Running;
    Exception? _broken;
    long _nextTaskId = PoolMessages.InitializerId;

    /// <summary>
    /// Starts <paramref name="processes"/> workers (the processor count when null). Each runs
    /// <paramref name="initializer"/>(<paramref name="initArgs"/>) once before its first task,
    /// and is replaced by a fresh worker after <paramref name="maxTasksPerChild"/> tasks.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">processes or maxTasksPerChild is zero or negative.</exception>
    /// <exception cref="ArgumentException">The initializer cannot run in a child, or its arguments do not fit it.</exception>
    public Pool(int? processes = null, Delegate? initializer = null, object?[]? initArgs = null, int? maxTasksPerChild = null)
    {
        int count = processes ?? Environment.ProcessorCount;
        if (count <= 0)
            throw new ArgumentOutOfRangeException(nameof(processes), count, "a pool needs at least one worker process");
        if (maxTasksPerChild is <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxTasksPerChild), maxTasksPerChild, "maxTasksPerChild must be at least 1 (or null for no limit)");
        if (initializer is not null)
        {
            _initializer = Targets.Describe(initializer, nameof(initializer));
            _initArgs = Arguments.Encode(initializer.Method, initArgs ?? [], nameof(initArgs));
        }
        else if (initArgs is { Length: > 0 })
        {
            throw new ArgumentException("initArgs were given without an initializer to pass them to", nameof(initArgs));
        }
        _maxTasksPerChild = maxTasksPerChild;
        Processes = count;

        // Workers first: their start-up is the long pole, and it runs while the rest is set up.
        _handler = new Thread(HandleResults) { IsBackground = true, Name = "ForkKit.Pool results" };
        try
        {
            lock (_gate)
            {
                for (int i = 0; i < count; i++) StartWorker();
            }
        }
        catch
        {
            _handler.Start();
            Terminate();
            throw;
        }
        _handler.Start();
        InstallExitHook(this);
    }

    /// <summary>How many worker processes the pool keeps.</summary>
    public int Processes { get; }

    /// <summary>The pids of the workers alive now; they change as workers are replaced.</summary>
    public IReadOnlyList<int> WorkerPids
    {
        get
        {
            lock (_gate) return _workers.Select(w => w.Pid).ToList();
        }
    }

    // ---- Apply ----

    /// <summary>Runs f() in a worker and returns its result; blocks until it is back.</summary>
    public TResult Apply<TResult>(Func<TResult> f) => ApplyAsync(f).Get();

    /// <summary>Runs f(a1) in a worker and returns its result; blocks until it is back.</summary>
    public TResult Apply<T1, TResult>(Func<T1, TResult> f, T1 a1) => ApplyAsync(f, a1).Get();

    /// <summary>Runs f(a1, a2) in a worker and returns its result; blocks until it is back.</summary>
    public TResult Apply<T1, T2, TResult>(Func<T1, T2, TResult> f, T1 a1, T2 a2) => ApplyAsync(f, a1, a2).Get();

    /// <summary>Submits f() and returns at once; the callback gets the result on the result-handling thread.</summary>
    public AsyncResult<TResult> ApplyAsync<TResult>(Func<TResult> f, Action<TResult>? callback = null, Action<Exception>? errorCallback = null) =>
        SubmitApply(f, [], callback, errorCallback);

    /// <summary>Submits f(a1) and returns at once.</summary>
    public AsyncResult<TResult> ApplyAsync<T1, TResult>(Func<T1, TResult> f, T1 a1, Action<TResult>? callback = null, Action<Exception>? errorCallback = null) =>
        SubmitApply(f, [a1], callback, errorCallback);

    /// <summary>Submits f(a1, a2) and returns at once.</summary>
    public AsyncResult<TResult> ApplyAsync<T1, T2, TResult>(Func<T1, T2, TResult> f, T1 a1, T2 a2, Action<TResult>? callback = null, Action<Exception>? errorCallback = null) =>
        SubmitApply(f, [a1, a2], callback, errorCallback);

    AsyncResult<TResult> SubmitApply<TResult>(Delegate f, object?[] args, Action<TResult>? callback, Action<Exception>? errorCallback)
    {
        var result = new AsyncResult<TResult>(callback, errorCallback, ReportCallbackError);
        var method = f.Method;
        var parameters = method.GetParameters();
        var chunk = SubmitChunks<TResult>(f, 1, 1, "f", (w, _) =>
        {
            for (int i = 0; i < args.Length; i++) Arguments.WriteArgument(w, method, parameters[i], args[i], i, "args");
        }).Single();
        chunk.Then(values => result.Complete(values[0]), result.Fail);
        return result;
    }

    // ---- Map and friends ----

    /// <summary>f applied to every item, in input order; blocks until all are back. Items go to workers in chunks.</summary>
    public List<TResult> Map<T, TResult>(Func<T, TResult> f, IEnumerable<T> items, int? chunkSize = null) =>
        MapAsync(f, items, chunkSize).Get();

    /// <summary>
    /// Submits f over the items and returns at once. The callback gets the whole list once; the
    /// error callback gets the first exception once.
    /// </summary>
    public AsyncResult<List<TResult>> MapAsync<T, TResult>(Func<T, TResult> f, IEnumerable<T> items, int? chunkSize = null,
        Action<List<TResult>>? callback = null, Action<Exception>? errorCallback = null) =>
        SubmitMap(f, Items(items), chunkSize, callback, errorCallback, (w, item, parameters) =>
            Arguments.WriteTyped(w, item, f.Method, parameters[0], 0, "items"));

    /// <summary>f(a, b) for every pair, in input order (Python's starmap).</summary>
    public List<TResult> Starmap<T1, T2, TResult>(Func<T1, T2, TResult> f, IEnumerable<(T1, T2)> items, int? chunkSize = null)
    {
        return SubmitMap<(T1, T2), TResult>(f, Items(items), chunkSize, null, null, (w, pair, parameters) =>
        {
            Arguments.WriteTyped(w, pair.Item1, f.Method, parameters[0], 0, "items");
            Arguments.WriteTyped(w, pair.Item2, f.Method, parameters[1], 1, "items");
        }).Get();
    }

    /// <summary>
    /// Results in input order, each as soon as it and those before it are back. All items are
    /// submitted at the call; an exception is thrown when enumeration reaches its item.
    /// </summary>
    public IEnumerable<TResult> Imap<T, TResult>(Func<T, TResult> f, IEnumerable<T> items, int chunkSize = 1)
    {
        RequirePositive(chunkSize);
        var chunks = SubmitItems<T, TResult>(f, Items(items), chunkSize);
        return InOrder(chunks);

        static IEnumerable<TResult> InOrder(List<ChunkResult<TResult>> chunks)
        {
            foreach (var chunk in chunks)
                foreach (var value in chunk.Get())
                    yield return value;
        }
    }

    /// <summary>Results in the order they come back. All items are submitted at the call.</summary>
    public IEnumerable<TResult> ImapUnordered<T, TResult>(Func<T, TResult> f, IEnumerable<T> items, int chunkSize = 1)
    {
        RequirePositive(chunkSize);
        var chunks = SubmitItems<T, TResult>(f, Items(items), chunkSize);
        var arrived = new BlockingCollection<ChunkResult<TResult>>();
        foreach (var chunk in chunks) chunk.Then(_ => arrived.Add(chunk), _ => arrived.Add(chunk));
        return AsTheyCome(chunks.Count, arrived);

        static IEnumerable<TResult> AsTheyCome(int count, BlockingCollection<ChunkResult<TResult>> arrived)
        {
            for (int i = 0; i < count; i++)
                foreach (var value in arrived.Take().Get())
                    yield return value;
        }
    }

    AsyncResult<List<TResult>> SubmitMap<T, TResult>(Delegate f, IReadOnlyList<T> items, int? chunkSize,
        Action<List<TResult>>? callback, Action<Exception>? errorCallback, Action<System.Text.Json.Utf8JsonWriter, T, System.Reflection.ParameterInfo[]> writeItem)
    {
        if (chunkSize is { } c) RequirePositive(c);
        var result = new AsyncResult<List<TResult>>(callback, errorCallback, ReportCallbackError);
        int size = chunkSize ?? DefaultChunkSize(items.Count, Processes);
        var parameters = f.Method.GetParameters();
        var chunks = SubmitChunks<TResult>(f, items.Count, size, "items", (w, i) => writeItem(w, items[i], parameters));
        if (chunks.Count == 0)
        {
            _handlerWork.Add(() => result.Complete([]));
            return result;
        }

        // Chunk results arrive on the result-handling thread, so this state needs no lock.
        var values = new TResult[items.Count];
        int remaining = chunks.Count;
        for (int i = 0; i < chunks.Count; i++)
        {
            int offset = i * size;
            chunks[i].Then(chunkValues =>
            {
                chunkValues.CopyTo(values, offset);
                if (--remaining == 0) result.Complete(values.ToList());
            }, result.Fail);
        }
        return result;
    }

    List<ChunkResult<TResult>> SubmitItems<T, TResult>(Func<T, TResult> f, IReadOnlyList<T> items, int chunkSize)
    {
        var parameters = f.Method.GetParameters();
        return SubmitChunks<TResult>(f, items.Count, chunkSize, "items",
            (w, i) => Arguments.WriteTyped(w, items[i], f.Method, parameters[0], 0, "items"));
    }

    /// <summary>Python's default for map: ceil(n / (4 × processes)), about four chunks per worker; at least 1.</summary>
    internal static int DefaultChunkSize(int items, int processes) =>
        Math.Max(1, (items + 4 * processes - 1) / (4 * processes));

    static IReadOnlyList<T> Items<T>(IEnumerable<T> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        return items as IReadOnlyList<T> ?? items.ToList();
    }

    static void RequirePositive(int chunkSize)
    {
        if (chunkSize <= 0) throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, "chunkSize must be at least 1");
    }

    /// <summary>
    /// Encodes <paramref name="count"/> items in chunks of <paramref name="chunkSize"/> and
    /// queues one task per chunk; <paramref name="writeArguments"/> writes item i's arguments.
    /// A chunk whose arguments cannot cross fails at once, naming the argument.
    /// </summary>
    List<ChunkResult<TResult>> SubmitChunks<TResult>(Delegate f, int count, int chunkSize, string paramName,
        Action<System.Text.Json.Utf8JsonWriter, int> writeArguments)
    {
        EnsureRunning();
        var target = Describe(f, nameof(f));
        var what = target.Display;
        var chunks = new List<ChunkResult<TResult>>();
        for (int start = 0; start < count; start += chunkSize)
        {
            var chunk = new ChunkResult<TResult>(_handlerWork.Add);
            chunks.Add(chunk);
            long id = Interlocked.Increment(ref _nextTaskId);
            byte[] payload;
            try
            {
                int end = Math.Min(start + chunkSize, count);
                payload = PoolMessages.Task(id, target, w =>
                {
                    for (int item = start; item < end; item++)
                    {
                        w.WriteStartArray();
                        writeArguments(w, item);
                        w.WriteEndArray();
                    }
                });
            }
            catch (ArgumentException e)
            {
                _handlerWork.Add(() => chunk.Fail(e));
                continue;
            }
            // Each chunk is queued as soon as it is encoded: idle workers start on it while
            // the rest are encoded.
            Enqueue(new PoolTask(id, what, payload,
                frame => chunk.Complete(DecodeValues<TResult>(frame, what)),
                chunk.Fail));
        }
        return chunks;
    }

    static List<TResult> DecodeValues<TResult>(byte[] frame, string what)
    {
        try
        {
            return PoolMessages.ReadValues<TResult>(frame);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or NotSupportedException or InvalidCastException)
        {
            throw new NotSupportedException($"the result of {what} could not be read back as {Arguments.TypeName(typeof(TResult))}: {e.Message}", e);
        }
    }

    TargetReference Describe(Delegate f, string paramName)
    {
        ArgumentNullException.ThrowIfNull(f, paramName);
        // The checks look at the method and at the closure object's type, so their answer can be kept per pair.
        var key = (f.Method, f.Target?.GetType());
        if (_targets.TryGetValue(key, out var known)) return known;
        var target = Targets.Describe(f, paramName);
        _targets[key] = target;
        return target;
    }

    // ---- lifecycle ----

    /// <summary>No more tasks may be submitted; queued tasks still run, then the workers exit. Python's close().</summary>
    public void Close()
    {
        lock (_gate)
        {
            if (_state == State.Running) _state = State.Closed;
            RetireIdleWorkersWhenDrained();
            CheckAllWorkersGone();
        }
    }

    /// <summary>
    /// Stops at once: queued and running tasks fail, workers get SIGTERM (SIGKILL after a
    /// second) and are reaped before this returns.
    /// </summary>
    public void Terminate()
    {
        List<PoolWorker> workers;
        List<PoolTask> abandoned;
        lock (_gate)
        {
            _state = State.Terminated;
            abandoned = _queue.ToList();
            _queue.Clear();
            workers = _workers.ToList();
        }
        var stopped = new InvalidOperationException("the pool was terminated before the task finished");
        foreach (var task in abandoned) _handlerWork.Add(() => task.Fail(stopped));
        foreach (var w in workers) w.Stop(force: false);
        foreach (var w in workers)
            if (!w.WaitForExit(TimeSpan.FromSeconds(1)))
                w.Stop(force: true);
        foreach (var w in workers) w.WaitForExit(null);
        lock (_gate) CheckAllWorkersGone();
        JoinHandler();
        s_open.TryRemove(this, out _);
    }

    /// <summary>Waits until every worker has exited and been reaped and every result delivered. Close or Terminate first.</summary>
    /// <exception cref="InvalidOperationException">The pool is still running.</exception>
    public void Join()
    {
        lock (_gate)
        {
            if (_state == State.Running) throw new InvalidOperationException("Pool is still running: call Close() or Terminate() before Join()");
        }
        _allWorkersGone.Wait();
        JoinHandler();
        s_open.TryRemove(this, out _);
    }

    /// <summary>Terminates the pool, as Python's <c>with Pool() as p:</c> does on leaving the block.</summary>
    public void Dispose()
    {
        Terminate();
        Join();
    }

    void JoinHandler()
    {
        lock (_gate)
        {
            if (_allWorkersGone.IsSet && !_handlerWork.IsAddingCompleted) _handlerWork.CompleteAdding();
        }
        if (Thread.CurrentThread != _handler && _allWorkersGone.IsSet) _handler.Join();
    }

    void EnsureRunning()
    {
        lock (_gate)
        {
            if (_state != State.Running) throw new InvalidOperationException("Pool not running");
        }
    }

    // ---- scheduling (all under _gate) ----

    void Enqueue(PoolTask task)
    {
        lock (_gate)
        {
            if (_state != State.Running)
            {
                var closed = new InvalidOperationException("Pool not running");
                _handlerWork.Add(() => task.Fail(closed));
                return;
            }
            if (_broken is { } broken)
            {
                _handlerWork.Add(() => task.Fail(broken));
                return;
            }
            _queue.Enqueue(task);
            DispatchToIdleWorkers();
        }
    }

    void DispatchToIdleWorkers()
    {
        foreach (var w in _workers)
        {
            if (_queue.Count == 0) return;
            if (w.IsIdle) w.Send(_queue.Dequeue());
        }
    }

    void StartWorker()
    {
        var name = $"PoolWorker-{Interlocked.Increment(ref s_workerCounter)}";
        var start = PoolMessages.WorkerStart(name, _initializer, _initArgs);
        var worker = PoolWorker.Start(name, start, OnResult, OnWorkerExit);
        _workers.Add(worker);
    }

    /// <summary>On a worker's reader thread: a result (or the initializer's failure) arrived.</summary>
    void OnResult(PoolWorker worker, PoolMessages.ResultHead head, byte[] frame)
    {
        if (head.Id == PoolMessages.InitializerId)
        {
            var failure = new InvalidOperationException(
                $"the pool's initializer failed in {worker.Name} (pid {worker.Pid}); no task can run. {head.Error?.Type}: {head.Error?.Message}",
                new RemoteTraceback(head.Error?.Trace ?? ""));
            lock (_gate)
            {
                _broken ??= failure;
                // The task it was handed, and every queued one, fail with the initializer's error.
                var (inHand, _) = worker.TakeCurrent();
                if (inHand is not null) _handlerWork.Add(() => inHand.Fail(failure));
                foreach (var t in _queue) _handlerWork.Add(() => t.Fail(failure));
                _queue.Clear();
            }
            return;
        }

        PoolTask? task;
        lock (_gate)
        {
            task = worker.Finish(head.Id);
            if (task is not null && Diagnostics.PoolTimeline.Recording)
                Diagnostics.PoolTimeline.Add(worker.Name, worker.Pid, task.Id, task.What, task.SentAt);
            if (_maxTasksPerChild is { } max && worker.Completed >= max) worker.Retire();
            else if (_queue.Count > 0 && _state != State.Terminated) worker.Send(_queue.Dequeue());
            RetireIdleWorkersWhenDrained();
        }
        if (task is null) return;
        if (head.Error is { } error) _handlerWork.Add(() => task.Fail(RemoteExceptions.Rebuild(error)));
        else _handlerWork.Add(() => task.Complete(frame));
    }

    /// <summary>On a worker's reader thread, after end-of-file: the worker has exited; it is reaped here.</summary>
    void OnWorkerExit(PoolWorker worker)
    {
        int? code = worker.Reap();
        lock (_gate)
        {
            _workers.Remove(worker);
            var (task, sent) = worker.TakeCurrent();
            if (task is not null && !sent && _state != State.Terminated)
            {
                // It never reached the worker: it runs elsewhere.
                var rest = _queue.ToList();
                _queue.Clear();
                _queue.Enqueue(task);
                foreach (var t in rest) _queue.Enqueue(t);
            }
            else if (task is not null)
            {
                if (_state == State.Terminated)
                {
                    var stopped = new InvalidOperationException("the pool was terminated before the task finished");
                    _handlerWork.Add(() => task.Fail(stopped));
                }
                else
                {
                    var how = code is < 0 ? $"was killed by signal {-code} ({SignalName(-code.Value)})" : $"exited with code {code}";
                    var lost = new WorkerLostException(
                        $"worker {worker.Name} (pid {worker.Pid}) {how} while running task {task.Id} ({task.What}); its result will never come",
                        worker.Pid, code);
                    _handlerWork.Add(() => task.Fail(lost));
                }
            }
            bool needed = _state == State.Running || (_state == State.Closed && _queue.Count > 0);
            if (needed && _broken is null)
            {
                try
                {
                    StartWorker();
                }
                catch (Exception e)
                {
                    _broken = new InvalidOperationException($"the pool could not replace {worker.Name}: {e.Message}", e);
                    foreach (var t in _queue) _handlerWork.Add(() => t.Fail(_broken));
                    _queue.Clear();
                }
                DispatchToIdleWorkers();
            }
            else if (_broken is not null && _workers.Count == 0)
            {
                foreach (var t in _queue) _handlerWork.Add(() => t.Fail(_broken));
                _queue.Clear();
            }
            RetireIdleWorkersWhenDrained();
            CheckAllWorkersGone();
        }
    }

    /// <summary>Once closed with nothing queued, an idle worker is told to exit (end of its task pipe).</summary>
    void RetireIdleWorkersWhenDrained()
    {
        if (_state == State.Running || _queue.Count > 0) return;
        foreach (var w in _workers)
            if (w.IsIdle) w.Retire();
    }

    void CheckAllWorkersGone()
    {
        if (_state != State.Running && _workers.Count == 0) _allWorkersGone.Set();
    }

    static string SignalName(int signal) => signal switch
    {
        9 => "SIGKILL",
        15 => "SIGTERM",
        2 => "SIGINT",
        6 => "SIGABRT",
        11 => "SIGSEGV",
        _ => $"signal {signal}",
    };

    // ---- the result-handling thread ----

    void HandleResults()
    {
        foreach (var work in _handlerWork.GetConsumingEnumerable())
        {
            try
            {
                work();
            }
            catch (Exception e)
            {
                ReportCallbackError("result handling", e);
            }
        }
    }

    static void ReportCallbackError(string what, Exception e) =>
        Console.Error.WriteLine($"ForkKit.Pool: {what} threw; result handling goes on.\n{e}");

    // ---- at exit ----

    static void InstallExitHook(Pool pool)
    {
        s_open[pool] = true;
        if (Interlocked.Exchange(ref s_exitHookInstalled, 1) == 0)
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                // As Python's pool finalizer: a pool still open when the program ends is terminated.
                foreach (var p in s_open.Keys) p.Terminate();
            };
    }
}
