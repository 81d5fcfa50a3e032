namespace ForkKit.Pooling;

/// <summary>
/// One task frame on its way to a worker: an id, the encoded frame, and what to do with the
/// answer. <see cref="Complete"/> and <see cref="Fail"/> run on the pool's result-handling thread.
/// </summary>
sealed class PoolTask(long id, string what, byte[] payload, Action<byte[]> complete, Action<Exception> fail)
{
    public long Id { get; } = id;

    /// <summary>The target, for messages: "Program.Square".</summary>
    public string What { get; } = what;

    public byte[] Payload { get; } = payload;

    /// <summary>When it was written to a worker (Stopwatch timestamp), for the timeline.</summary>
    public long SentAt { get; set; }

    public void Complete(byte[] resultFrame)
    {
        try
        {
            complete(resultFrame);
        }
        catch (Exception e) when (e is NotSupportedException)
        {
            fail(e);
        }
    }

    public void Fail(Exception error) => fail(error);
}

/// <summary>
/// The values of one chunk. Continuations registered with <see cref="Then"/> run on the
/// result-handling thread, also when the chunk completed before they were registered.
/// </summary>
sealed class ChunkResult<T>(Action<Action> postToHandler)
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
        postToHandler(() => Run(onValues, onError));
    }

    public void Complete(List<T> values) => Finish(values, null);

    public void Fail(Exception error) => Finish(null, error);

    /// <summary>Blocks until the chunk is done; its values, or its exception thrown.</summary>
    public List<T> Get()
    {
        _done.Wait();
        if (_error is not null) throw _error;
        return _values!;
    }

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
