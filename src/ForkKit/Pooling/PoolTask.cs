using ForkKit.Wire;

namespace ForkKit.Pooling;

/// <summary>
/// One task frame on its way to a worker: an id, the encoded frame, and what becomes of the
/// answer. <see cref="Complete"/> and <see cref="Fail"/> run on the pool's result-handling thread.
/// </summary>
abstract class PoolTask(long id, string what)
{
    public long Id { get; } = id;

    /// <summary>The target, for messages: "Program.Square".</summary>
    public string What { get; } = what;

    /// <summary>The task message (<see cref="PoolMessages.Task"/>).</summary>
    public byte[] Payload { get; set; } = [];

    /// <summary>When its frame was written to a worker (Stopwatch timestamp, as the write began), for the timeline.</summary>
    public long SentAt { get; set; }

    /// <summary>
    /// Its frame reached the worker's pipe whole: set by the worker's <see cref="TaskWriter"/>,
    /// cleared when the task is handed to a worker. Read once that writer has stopped, it says
    /// whether a worker that died may have started the task.
    /// </summary>
    public bool Written { get; set; }

    /// <summary>The worker answered with values: <paramref name="resultFrame"/> holds them.</summary>
    public abstract void Complete(byte[] resultFrame);

    public abstract void Fail(Exception error);
}

/// <summary>
/// A task that runs the target on a chunk of items, and the promise of their values, read back
/// as <typeparamref name="T"/>. Continuations registered with <see cref="Then"/> run on the
/// result-handling thread, also when the chunk completed before they were registered.
/// </summary>
sealed class ChunkTask<T>(long id, string what, ResultHandler results, int items) : PoolTask(id, what)
{
    readonly object _gate = new();
    readonly ManualResetEventSlim _done = new(false);
    readonly List<(Action<List<T>> OnValues, Action<Exception> OnError)> _continuations = new();
    List<T>? _values;
    Exception? _error;

    public void Then(Action<List<T>> onValues, Action<Exception> onError)
    {
        lock (_gate)
        {
            if (!_done.IsSet)
            {
                _continuations.Add((onValues, onError));
                return;
            }
        }
        results.Post(() => Run(onValues, onError));
    }

    /// <summary>Blocks until the chunk is done; its values, or its exception thrown.</summary>
    public List<T> Get()
    {
        _done.Wait();
        if (_error is not null) throw _error;
        return _values!;
    }

    public override void Complete(byte[] resultFrame)
    {
        List<T> values;
        try
        {
            values = PoolMessages.ReadValues<T>(resultFrame);
            if (values.Count != items)
                throw new InvalidDataException($"the worker answered a chunk of {items} item(s) with {values.Count} value(s)");
        }
        catch (Exception e)
        {
            // Whatever stops the values, the chunk fails with it: one left pending would hang its caller.
            // Beside the wire's refusals, a result type's own constructor or setter may throw anything.
            Fail(new NotSupportedException($"the result of {What} could not be read back as {Arguments.TypeName(typeof(T))}: {e.Message}", e));
            return;
        }
        Finish(values, null);
    }

    public override void Fail(Exception error) => Finish(null, error);

    void Finish(List<T>? values, Exception? error)
    {
        List<(Action<List<T>>, Action<Exception>)> continuations;
        lock (_gate)
        {
            if (_done.IsSet) return;
            _values = values;
            _error = error;
            _done.Set();
            continuations = _continuations.ToList();
            _continuations.Clear();
        }
        foreach (var (onValues, onError) in continuations) Run(onValues, onError);
    }

    void Run(Action<List<T>> onValues, Action<Exception> onError)
    {
        if (_error is not null) onError(_error);
        else onValues(_values!);
    }
}
