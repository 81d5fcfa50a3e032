using System.Collections.Concurrent;

namespace ForkKit.Pooling;

/// <summary>
/// The chunks of one Imap or ImapUnordered call, submitted as the caller takes their results:
/// at most <c>ahead</c> are submitted and not yet taken, so the input is read lazily, chunk by
/// chunk, and a huge or endless input never sits in memory (back-pressure from the caller).
/// The input is read on the caller's thread: at the call (the first chunks) and while it
/// enumerates the results.
/// </summary>
sealed class ChunkStream<T, TResult>
{
    readonly IEnumerator<T> _input;
    readonly int _chunkSize;
    readonly int _ahead;
    readonly Func<T[], ChunkTask<TResult>> _submit;
    readonly bool _ordered;
    readonly Queue<ChunkTask<TResult>> _submitted = new();
    readonly BlockingCollection<ChunkTask<TResult>> _done = new();
    int _outstanding;
    bool _inputDone;

    /// <param name="items">The input, read lazily.</param>
    /// <param name="chunkSize">Items per chunk.</param>
    /// <param name="ahead">How many chunks may be submitted and not yet taken.</param>
    /// <param name="ordered">True: the caller takes chunks in input order (<see cref="TakeNext"/>); false: as they finish (<see cref="TakeFirstDone"/>).</param>
    /// <param name="submit">Encodes and queues one chunk.</param>
    public ChunkStream(IEnumerable<T> items, int chunkSize, int ahead, bool ordered, Func<T[], ChunkTask<TResult>> submit)
    {
        _ordered = ordered;
        _input = items.GetEnumerator();
        _chunkSize = chunkSize;
        _ahead = ahead;
        _submit = submit;
        Fill();
    }

    /// <summary>The next chunk in input order, or null when there are no more; one more chunk is submitted in its place.</summary>
    public ChunkTask<TResult>? TakeNext()
    {
        if (_submitted.Count == 0) return null;
        var chunk = _submitted.Dequeue();
        _outstanding--;
        Fill();
        return chunk;
    }

    /// <summary>The first chunk to finish (blocking until one does), or null when there are no more; one more is submitted in its place.</summary>
    public ChunkTask<TResult>? TakeFirstDone()
    {
        if (_outstanding == 0) return null;
        var chunk = _done.Take();
        _outstanding--;
        Fill();
        return chunk;
    }

    void Fill()
    {
        while (_outstanding < _ahead && !_inputDone)
        {
            var items = new List<T>(Math.Min(_chunkSize, 4096));
            while (items.Count < _chunkSize && _input.MoveNext()) items.Add(_input.Current);
            if (items.Count < _chunkSize)
            {
                _inputDone = true;
                _input.Dispose();
            }
            if (items.Count == 0) return;
            var chunk = _submit(items.ToArray());
            if (_ordered) _submitted.Enqueue(chunk);
            else chunk.Then(_ => _done.Add(chunk), _ => _done.Add(chunk));
            _outstanding++;
        }
    }
}
