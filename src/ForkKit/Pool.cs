using System.Collections.Concurrent;
using ForkKit.Launching;
using ForkKit.Pooling;
using ForkKit.Wire;

namespace ForkKit;

/// <summary>
/// A pool of long-lived worker processes, as Python's <c>multiprocessing.Pool</c>: Apply,
/// ApplyAsync, Map, MapAsync, Imap, ImapUnordered, Starmap. Each worker is a ForkKit worker
/// host (spawned, or forked by the fork server) that takes tasks over a pipe and answers over
/// another.
/// </summary>
/// <remarks>
/// This class is the API and the submission of work: items are split into chunks, each chunk's
/// task message is encoded here (binary for plain types, else JSON), and a call's chunks are
/// encoded only a bounded number ahead of their answers (Map) or of the caller (Imap). The rest
/// lives in <c>Pooling/</c>: the worker set (queue, a window of tasks per worker, what happens
/// when a worker dies, the lock rule), a writer and a reader thread per worker, and one
/// result-handling thread that decodes results and runs every callback, in completion order. Unlike Python's pool, a worker that dies in the middle of a
/// task fails that task with <see cref="WorkerLostException"/> and is replaced; nothing waits
/// for ever.
/// </remarks>
public sealed class Pool : IDisposable
{
    readonly ResultHandler _results = new();
    readonly WorkerSet _workers;
    readonly ConcurrentDictionary<(System.Reflection.MethodInfo, Type?), TargetReference> _targets = new();
    long _nextTaskId = PoolMessages.InitializerId;

    /// <summary>
    /// Starts <paramref name="processes"/> workers (the processor count when null). Each runs
    /// <paramref name="initializer"/>(<paramref name="initArgs"/>) once before its first task,
    /// and is replaced by a fresh worker after <paramref name="maxTasksPerChild"/> tasks.
    /// Workers start with <paramref name="startMethod"/>'s launcher.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">processes or maxTasksPerChild is zero or negative.</exception>
    /// <exception cref="ArgumentException">The initializer cannot run in a child, or its arguments do not fit it.</exception>
    /// <exception cref="NotSupportedException">The start method cannot start pool workers here (Fork; ForkServer on Windows); nothing is left running.</exception>
    /// <exception cref="ForkServerException">With ForkServer: the server or a forked worker failed before it ran; nothing is left running.</exception>
    public Pool(int? processes = null, Delegate? initializer = null, object?[]? initArgs = null, int? maxTasksPerChild = null,
        StartMethod startMethod = StartMethod.Spawn)
    {
        int count = processes ?? Environment.ProcessorCount;
        if (count <= 0)
            throw new ArgumentOutOfRangeException(nameof(processes), count, "a pool needs at least one worker process");
        if (maxTasksPerChild is <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxTasksPerChild), maxTasksPerChild, "maxTasksPerChild must be at least 1 (or null for no limit)");
        TargetReference? init = null;
        byte[] encodedInitArgs = "[]"u8.ToArray();
        if (initializer is not null)
        {
            init = Targets.Describe(initializer, nameof(initializer));
            encodedInitArgs = Arguments.Encode(initializer.Method, initArgs ?? [], nameof(initArgs));
        }
        else if (initArgs is { Length: > 0 })
        {
            throw new ArgumentException("initArgs were given without an initializer to pass them to", nameof(initArgs));
        }
        Processes = count;
        _results.Start();
        _workers = new WorkerSet(count, Launchers.For(startMethod), init, encodedInitArgs, maxTasksPerChild, _results);
    }

    /// <summary>How many worker processes the pool keeps.</summary>
    public int Processes { get; }

    /// <summary>The pids of the workers alive now; they change as workers are replaced.</summary>
    public IReadOnlyList<int> WorkerPids => _workers.Pids;

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
        var result = new AsyncResult<TResult>(callback, errorCallback, ResultHandler.ReportCallbackError);
        var parameters = Parameter.Of(f.Method, "args");
        var types = f.Method.GetParameters().Select(p => p.ParameterType).ToArray();
        bool binary = Binary<TResult>(f, types) && args.Select((a, i) => BinaryWire.Fits(a, types[i])).All(fits => fits);
        var encode = binary
            ? BinaryChunks((w, _) =>
            {
                for (int i = 0; i < args.Length; i++) w.WriteBoxed(types[i], args[i]);
            })
            : JsonChunks((w, _) =>
            {
                for (int i = 0; i < args.Length; i++) Arguments.Write(w, parameters[i], args[i]);
            });
        _workers.EnsureRunning();
        var chunk = SubmitChunk<TResult>(Describe(f, nameof(f)), encode, 0, 1);
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
        SubmitMap(f, Items(items), chunkSize, callback, errorCallback, OneArgument<T, TResult>(f));

    /// <summary>f(a, b) for every pair, in input order (Python's starmap).</summary>
    public List<TResult> Starmap<T1, T2, TResult>(Func<T1, T2, TResult> f, IEnumerable<(T1, T2)> items, int? chunkSize = null)
    {
        var list = Items(items);
        var parameters = Parameter.Of(f.Method, "items");
        var encode = Binary<TResult>(f, [typeof(T1), typeof(T2)])
            ? BinaryChunks((w, i) =>
            {
                w.Write(list[i].Item1);
                w.Write(list[i].Item2);
            })
            : JsonChunks((w, i) =>
            {
                Arguments.Write(w, parameters[0], list[i].Item1);
                Arguments.Write(w, parameters[1], list[i].Item2);
            });
        return SubmitMap<TResult>(f, list.Count, chunkSize, null, null, encode).Get();
    }

    /// <summary>
    /// Results in input order, each as soon as it and those before it are back. The input is
    /// read lazily: chunks are submitted at the call up to <see cref="ChunksAhead"/>, then one
    /// more each time the caller has taken a chunk's results, so an endless or huge input never
    /// sits in memory (Python's imap reads all of it at once). An exception is thrown when
    /// enumeration reaches its item.
    /// </summary>
    public IEnumerable<TResult> Imap<T, TResult>(Func<T, TResult> f, IEnumerable<T> items, int chunkSize = 1)
    {
        var stream = StreamChunks(f, items, chunkSize, ordered: true);
        return InOrder(stream);

        static IEnumerable<TResult> InOrder(ChunkStream<T, TResult> stream)
        {
            while (stream.TakeNext() is { } chunk)
                foreach (var value in chunk.Get())
                    yield return value;
        }
    }

    /// <summary>Results in the order they come back. The input is read lazily, as for <see cref="Imap"/>.</summary>
    public IEnumerable<TResult> ImapUnordered<T, TResult>(Func<T, TResult> f, IEnumerable<T> items, int chunkSize = 1)
    {
        var stream = StreamChunks(f, items, chunkSize, ordered: false);
        return AsTheyCome(stream);

        static IEnumerable<TResult> AsTheyCome(ChunkStream<T, TResult> stream)
        {
            while (stream.TakeFirstDone() is { } chunk)
                foreach (var value in chunk.Get())
                    yield return value;
        }
    }

    ChunkStream<T, TResult> StreamChunks<T, TResult>(Func<T, TResult> f, IEnumerable<T> items, int chunkSize, bool ordered)
    {
        RequirePositive(chunkSize);
        ArgumentNullException.ThrowIfNull(items);
        _workers.EnsureRunning();
        var target = Describe(f, nameof(f));
        var encoder = OneArgument<T, TResult>(f);
        return new ChunkStream<T, TResult>(items, chunkSize, ChunksAhead, ordered,
            chunk => SubmitChunk<TResult>(target, encoder(chunk), 0, chunk.Length));
    }

    /// <summary>
    /// How many chunks of one call may be encoded and unanswered at once (Map), or submitted and
    /// not yet taken by the caller (Imap): enough to keep every worker busy, few enough that a
    /// huge input is never encoded all at once.
    /// </summary>
    int ChunksAhead => Math.Max(8, 4 * Processes);

    AsyncResult<List<TResult>> SubmitMap<T, TResult>(Delegate f, IReadOnlyList<T> items, int? chunkSize,
        Action<List<TResult>>? callback, Action<Exception>? errorCallback, Func<IReadOnlyList<T>, ChunkEncoder> encoder) =>
        SubmitMap<TResult>(f, items.Count, chunkSize, callback, errorCallback, encoder(items));

    /// <summary>
    /// Submits the chunks of a Map and returns at once. The first <see cref="ChunksAhead"/>
    /// chunks are encoded and queued here; each answer lets one more be encoded and queued (on
    /// the result thread), so at most that many chunk messages exist at a time.
    /// </summary>
    AsyncResult<List<TResult>> SubmitMap<TResult>(Delegate f, int count, int? chunkSize,
        Action<List<TResult>>? callback, Action<Exception>? errorCallback, ChunkEncoder encode)
    {
        if (chunkSize is { } c) RequirePositive(c);
        _workers.EnsureRunning();
        var result = new AsyncResult<List<TResult>>(callback, errorCallback, ResultHandler.ReportCallbackError);
        int size = chunkSize ?? DefaultChunkSize(count, Processes);
        var target = Describe(f, nameof(f));
        int chunks = (count + size - 1) / size;
        if (chunks == 0)
        {
            _results.Post(() => result.Complete([]));
            return result;
        }

        // The state below is shared by this thread (the first chunks) and the result thread
        // (the rest, and every answer): one lock.
        var gate = new object();
        var values = new TResult[count];
        int remaining = chunks, next = 0;
        bool failed = false;
        void SubmitNext()
        {
            int offset;
            lock (gate)
            {
                if (failed || next == chunks) return;
                offset = next++ * size;
            }
            SubmitChunk<TResult>(target, encode, offset, Math.Min(offset + size, count)).Then(chunkValues =>
            {
                bool done;
                lock (gate)
                {
                    chunkValues.CopyTo(values, offset);
                    done = --remaining == 0;
                }
                if (done) result.Complete(values.ToList());
                else SubmitNext();
            }, e =>
            {
                lock (gate) failed = true;
                result.Fail(e);
            });
        }
        for (int i = 0; i < Math.Min(chunks, ChunksAhead); i++) SubmitNext();
        return result;
    }

    /// <summary>How the items of a one-argument target are written: binary when it carries them, else JSON.</summary>
    static Func<IReadOnlyList<T>, ChunkEncoder> OneArgument<T, TResult>(Delegate f)
    {
        if (Binary<TResult>(f, [typeof(T)]))
            return items => (id, target, start, end) => PoolMessages.BinaryTask(id, target, end - start, w => w.WriteRange(items, start, end));
        var parameters = Parameter.Of(f.Method, "items");
        return items => JsonChunks((w, i) => Arguments.Write(w, parameters[0], items[i]));
    }

    /// <summary>
    /// True when a target's tasks can use the binary encoding: it carries the target's parameters
    /// and result (<see cref="BinaryWire.Carries(System.Reflection.MethodInfo)"/>), the items are
    /// of exactly the parameter types, and the values are read back as exactly the result type.
    /// A target without parameters keeps JSON: its binary items would take no bytes, so a worker
    /// could not bound their count by the frame (PoolMessages.ReadBinaryTaskHead refuses them).
    /// </summary>
    static bool Binary<TResult>(Delegate f, Type[] itemTypes) =>
        itemTypes.Length > 0 && BinaryWire.Carries(f.Method) && typeof(TResult) == BinaryWire.ResultType(f.Method)
        && f.Method.GetParameters().Select(p => p.ParameterType).SequenceEqual(itemTypes);

    /// <summary>Encodes the task message of one chunk, items [start, end).</summary>
    delegate byte[] ChunkEncoder(long id, TargetReference target, int start, int end);

    static ChunkEncoder JsonChunks(Action<System.Text.Json.Utf8JsonWriter, int> writeArguments) => (id, target, start, end) =>
        PoolMessages.Task(id, target, w =>
        {
            for (int item = start; item < end; item++)
            {
                w.WriteStartArray();
                writeArguments(w, item);
                w.WriteEndArray();
            }
        });

    static ChunkEncoder BinaryChunks(Action<WireWriter, int> writeArguments) => (id, target, start, end) =>
        PoolMessages.BinaryTask(id, target, end - start, w =>
        {
            for (int item = start; item < end; item++) writeArguments(w, item);
        });

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
    /// Encodes items [<paramref name="start"/>, <paramref name="end"/>) as one task and queues
    /// it. A chunk whose arguments cannot cross fails at once, naming the argument.
    /// </summary>
    ChunkTask<TResult> SubmitChunk<TResult>(TargetReference target, ChunkEncoder encode, int start, int end)
    {
        var chunk = new ChunkTask<TResult>(Interlocked.Increment(ref _nextTaskId), target.Display, _results, end - start);
        try
        {
            chunk.Payload = encode(chunk.Id, target, start, end);
        }
        catch (ArgumentException e)
        {
            _results.Post(() => chunk.Fail(e));
            return chunk;
        }
        _workers.Enqueue(chunk);
        return chunk;
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
    public void Close() => _workers.Close();

    /// <summary>
    /// Stops at once: queued and running tasks fail, workers get SIGTERM (SIGKILL after a
    /// second) and are reaped before this returns.
    /// </summary>
    public void Terminate() => _workers.Terminate();

    /// <summary>Waits until every worker has exited and been reaped and every result delivered. Close or Terminate first.</summary>
    /// <exception cref="InvalidOperationException">The pool is still running.</exception>
    public void Join() => _workers.Join();

    /// <summary>Terminates the pool, as Python's <c>with Pool() as p:</c> does on leaving the block.</summary>
    public void Dispose()
    {
        Terminate();
        Join();
    }
}
