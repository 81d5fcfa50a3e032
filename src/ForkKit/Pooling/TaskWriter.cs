using System.Diagnostics;
using ForkKit.Wire;

namespace ForkKit.Pooling;

/// <summary>
/// Writes one worker's task frames, in the order they were handed out, on a thread of its own:
/// a write to a worker that is not reading (still in a slow initializer, or stuck) blocks only
/// this thread, never the worker set's lock, under which tasks are only queued here.
/// </summary>
/// <remarks>
/// Frames queued while a write was under way go out together in the next write, as long as
/// they fit in <see cref="AtomicWriteBytes"/>: a pipe takes a write of that size whole or not at
/// all, so after a failed write no frame of it reached the worker, and <see cref="PoolTask.Written"/>
/// stays exact. A larger frame is written on its own. With the OS trace on, every frame is
/// written on its own, so that Frames.Write's trace line for it names the pipe.
/// </remarks>
sealed class TaskWriter
{
    /// <summary>PIPE_BUF on Linux: a write of at most this many bytes to a pipe is atomic.</summary>
    const int AtomicWriteBytes = 4096;

    /// <summary>A frame's length prefix (docs/wire-format.md).</summary>
    const int HeaderBytes = 4;

    readonly FileStream _pipe;
    readonly object _gate = new();
    readonly Queue<PoolTask> _queued = new();
    readonly List<PoolTask> _batch = new();
    readonly MemoryStream _buffer = new(AtomicWriteBytes);
    readonly Thread _thread;
    bool _closing;
    bool _abandoned;

    /// <summary>Starts the writing thread of worker <paramref name="name"/> on <paramref name="pipe"/>, which it owns from now on.</summary>
    public TaskWriter(string name, FileStream pipe)
    {
        _pipe = pipe;
        _thread = new Thread(Run) { IsBackground = true, Name = $"ForkKit.Pool writer {name}" };
        _thread.Start();
    }

    /// <summary>Queues the task's frame; never blocks on the pipe.</summary>
    public void Add(PoolTask task)
    {
        lock (_gate)
        {
            _queued.Enqueue(task);
            Monitor.Pulse(_gate);
        }
    }

    /// <summary>The frames queued so far are written, then the pipe is closed: the worker sees end-of-file after its last task.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _closing = true;
            Monitor.Pulse(_gate);
        }
    }

    /// <summary>
    /// The worker is gone: nothing more is written, and this waits until the thread has ended
    /// (a write under way fails at once with EPIPE, as the pipe has no reader left). After it,
    /// every task's <see cref="PoolTask.Written"/> is final.
    /// </summary>
    public void Abandon()
    {
        lock (_gate)
        {
            _abandoned = true;
            _queued.Clear();
            Monitor.Pulse(_gate);
        }
        _thread.Join();
    }

    void Run()
    {
        try
        {
            while (TakeBatch())
                if (!WriteBatch()) return;
        }
        finally
        {
            _pipe.Dispose();
        }
    }

    /// <summary>Waits for frames and takes the next write's worth; false once closed with nothing left, or abandoned.</summary>
    bool TakeBatch()
    {
        _batch.Clear();
        lock (_gate)
        {
            while (_queued.Count == 0 && !_closing && !_abandoned) Monitor.Wait(_gate);
            if (_abandoned || _queued.Count == 0) return false;
            int bytes = 0;
            do
            {
                var task = _queued.Dequeue();
                _batch.Add(task);
                bytes += HeaderBytes + task.Payload.Length;
            }
            while (_queued.Count > 0 && bytes + HeaderBytes + _queued.Peek().Payload.Length <= AtomicWriteBytes);
            return true;
        }
    }

    /// <summary>Writes the batch; false when the pipe is broken (the worker is gone: its reader thread sees end-of-file and the worker set decides).</summary>
    bool WriteBatch()
    {
        try
        {
            if (Diagnostics.OsTrace.Enabled || HeaderBytes + _batch[0].Payload.Length > AtomicWriteBytes)
            {
                foreach (var task in _batch)
                {
                    task.SentAt = Stopwatch.GetTimestamp();
                    Frames.Write(_pipe, task.Payload);
                    task.Written = true;
                }
                return true;
            }
            _buffer.SetLength(0);
            long now = Stopwatch.GetTimestamp();
            foreach (var task in _batch)
            {
                task.SentAt = now;
                Frames.Write(_buffer, task.Payload);
            }
            _pipe.Write(_buffer.GetBuffer(), 0, (int)_buffer.Length);
            foreach (var task in _batch) task.Written = true;
            return true;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            return false;
        }
    }
}
