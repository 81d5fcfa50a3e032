namespace ForkKit;

/// <summary>
/// The result of a task submitted with ApplyAsync or MapAsync, as Python's AsyncResult:
/// <see cref="Get()"/> blocks until it is there (or re-throws the task's exception).
/// Callbacks run on the pool's result-handling thread before <see cref="Ready"/> turns true.
/// </summary>
public sealed class AsyncResult<T>
{
    static long s_ids;

    readonly ManualResetEventSlim _ready = new(false);
    readonly Action<T>? _callback;
    readonly Action<Exception>? _errorCallback;
    readonly Action<string, Exception> _reportCallbackError;
    int _completed;
    T _value = default!;
    Exception? _error;

    internal AsyncResult(Action<T>? callback, Action<Exception>? errorCallback, Action<string, Exception> reportCallbackError)
    {
        _callback = callback;
        _errorCallback = errorCallback;
        _reportCallbackError = reportCallbackError;
        Id = Interlocked.Increment(ref s_ids);
    }

    internal long Id { get; }

    /// <summary>True once the task has finished, successfully or not, and its callback has run.</summary>
    public bool Ready => _ready.IsSet;

    /// <summary>True when the task succeeded.</summary>
    /// <exception cref="InvalidOperationException">The result is not ready yet.</exception>
    public bool Successful => Ready ? _error is null : throw new InvalidOperationException($"{this} is not ready");

    /// <summary>Waits for the result and returns it, or throws the task's exception.</summary>
    public T Get() => Get(Timeout.InfiniteTimeSpan);

    /// <summary>Waits at most <paramref name="timeout"/>; throws TimeoutException when the result is not there by then.</summary>
    public T Get(TimeSpan timeout)
    {
        if (!Wait(timeout)) throw new TimeoutException($"{this} was not ready within {timeout.TotalSeconds:0.###} s");
        if (_error is not null) throw _error;
        return _value;
    }

    /// <summary>Waits until the result is ready.</summary>
    public void Wait() => _ready.Wait();

    /// <summary>Waits at most <paramref name="timeout"/> (negative counts as zero); true when ready.</summary>
    public bool Wait(TimeSpan timeout) =>
        _ready.Wait(timeout == Timeout.InfiniteTimeSpan ? Timeout.InfiniteTimeSpan : timeout < TimeSpan.Zero ? TimeSpan.Zero : timeout);

    public override string ToString() =>
        $"<ForkKit.AsyncResult<{Wire.Arguments.TypeName(typeof(T))}> #{Id} {(Ready ? (_error is null ? "ready" : "failed") : "pending")}>";

    /// <summary>Sets the value, runs the callback, then turns Ready. Only the first completion counts.</summary>
    internal void Complete(T value)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0) return;
        _value = value;
        if (_callback is not null)
        {
            try { _callback(value); }
            catch (Exception e) { _reportCallbackError($"the callback of {this}", e); }
        }
        _ready.Set();
    }

    /// <summary>Records the exception, runs the error callback, then turns Ready. Only the first completion counts.</summary>
    internal void Fail(Exception error)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0) return;
        _error = error;
        if (_errorCallback is not null)
        {
            try { _errorCallback(error); }
            catch (Exception e) { _reportCallbackError($"the error callback of {this}", e); }
        }
        _ready.Set();
    }
}
