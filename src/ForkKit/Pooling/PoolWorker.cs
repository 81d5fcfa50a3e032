using ForkKit.Launching;
using ForkKit.Platform;
using ForkKit.Wire;

namespace ForkKit.Pooling;

/// <summary>
/// The parent's side of one pool worker: the child, the tasks in flight to it, the writer
/// thread that writes their frames to the pipe it reads, and the reader thread that reads its
/// answers from the other pipe. Its state changes only under the worker set's lock (the rule is
/// in <see cref="WorkerSet"/>); the reader thread calls back into the worker set.
/// </summary>
sealed class PoolWorker
{
    /// <summary>The result pipe is read this much at a time: answers that queued up while the parent was busy come in one read.</summary>
    const int ReadBufferBytes = 64 * 1024;

    readonly IChild _child;
    readonly TaskWriter _writer;
    readonly Stream _results;
    readonly ManualResetEventSlim _exited = new(false);
    readonly Action<PoolWorker, PoolMessages.ResultHead, byte[]> _onResult;
    readonly Action<PoolWorker> _onExit;
    readonly Action<PoolWorker, Exception> _onGarbage;
    readonly Queue<PoolTask> _inFlight = new();

    PoolWorker(string name, IChild child, FileStream tasks, FileStream results,
        Action<PoolWorker, PoolMessages.ResultHead, byte[]> onResult, Action<PoolWorker> onExit, Action<PoolWorker, Exception> onGarbage)
    {
        Name = name;
        _child = child;
        _writer = new TaskWriter(name, tasks);
        // With the OS trace on, each frame is read from the pipe itself, so that its trace line names the descriptor.
        _results = Diagnostics.OsTrace.Enabled ? results : new BufferedStream(results, ReadBufferBytes);
        _onResult = onResult;
        _onExit = onExit;
        _onGarbage = onGarbage;
    }

    public string Name { get; }
    public int Pid => _child.Pid;

    /// <summary>Tasks this worker has answered.</summary>
    public int Completed { get; private set; }

    /// <summary>Tasks handed to it and not answered yet, in the order it takes them.</summary>
    public int InFlight => _inFlight.Count;

    /// <summary>Tasks handed to it so far: what maxTasksPerChild bounds.</summary>
    public int Handed => Completed + _inFlight.Count;

    /// <summary>Told to exit once its tasks in flight are answered: it takes no more.</summary>
    public bool Retired { get; private set; }

    /// <summary>It answered out of turn and is being stopped: nothing more it sends is believed.</summary>
    public bool Misbehaved { get; private set; }

    /// <summary>Set under the pool's lock once its exit has been handled: a worker that ended before the pool added it stays out.</summary>
    public bool Ended { get; set; }

    /// <summary>
    /// Starts the worker with <paramref name="launcher"/>, which delivers its start message; the
    /// writer and reader threads start at once. <paramref name="onGarbage"/> is told when the
    /// worker writes what is not a result frame; its reader then stops reading.
    /// </summary>
    public static PoolWorker Start(string name, ILauncher launcher, byte[] startMessage,
        Action<PoolWorker, PoolMessages.ResultHead, byte[]> onResult, Action<PoolWorker> onExit, Action<PoolWorker, Exception> onGarbage)
    {
        var launched = launcher.Launch(new WorkerSpec(name, WorkerRole.Pool, () => startMessage, DiesWithParent: true));
        var worker = new PoolWorker(name, launched.Child, launched.Tasks!, launched.Results!, onResult, onExit, onGarbage);
        new Thread(worker.ReadResults) { IsBackground = true, Name = $"ForkKit.Pool reader {name}" }.Start();
        return worker;
    }

    /// <summary>Adds a task to the window; the writer thread writes its frame.</summary>
    public void Send(PoolTask task)
    {
        task.Written = false;
        _inFlight.Enqueue(task);
        _writer.Add(task);
    }

    /// <summary>The oldest task in flight, taken off the window; null when there is none.</summary>
    public PoolTask? TakeOldest() => _inFlight.TryDequeue(out var task) ? task : null;

    /// <summary>
    /// An answer arrived. The worker answers in order, so it is <paramref name="first"/>'s, the
    /// oldest task in flight, taken off the window here: true when the ids match; false when
    /// they do not or nothing was in flight (the worker no longer follows the wire format).
    /// </summary>
    public bool TryFinish(long id, out PoolTask? first)
    {
        if (!_inFlight.TryDequeue(out first) || first.Id != id) return false;
        Completed++;
        return true;
    }

    /// <summary>The tasks in flight, oldest first, taken off the window (the worker died or cannot run them).</summary>
    public List<PoolTask> TakeInFlight()
    {
        var tasks = _inFlight.ToList();
        _inFlight.Clear();
        return tasks;
    }

    /// <summary>Tells the worker to exit once its tasks in flight are answered: the pipe closes after their frames (end-of-file).</summary>
    public void Retire()
    {
        if (Retired) return;
        Retired = true;
        _writer.Close();
    }

    /// <summary>Marks it as answering out of turn and retires it; the caller stops the process.</summary>
    public void MarkMisbehaved()
    {
        Misbehaved = true;
        Retire();
    }

    public void Stop(bool force) => _child.Stop(force);

    /// <summary>Waits until the reader thread has seen the worker exit and reaped it.</summary>
    public bool WaitForExit(TimeSpan? timeout) => timeout is { } t ? _exited.Wait(t) : _exited.Wait(Timeout.Infinite);

    /// <summary>Reaps the exited worker; its exit code (-9 for SIGKILL).</summary>
    public int? Reap()
    {
        _child.Wait(null);
        var code = _child.Poll();
        _child.Dispose();
        return code;
    }

    void ReadResults()
    {
        try
        {
            while (true)
            {
                byte[]? frame;
                try
                {
                    frame = Frames.Read(_results);
                }
                catch (InvalidDataException e)
                {
                    _onGarbage(this, e); // a length no frame can have: what follows cannot be read either
                    break;
                }
                catch (IOException)
                {
                    frame = null; // a worker killed in the middle of a frame
                }
                if (frame is null) break;
                PoolMessages.ResultHead head;
                try
                {
                    head = PoolMessages.ReadResultHead(frame);
                }
                catch (Exception e) when (e is System.Text.Json.JsonException or InvalidDataException)
                {
                    _onGarbage(this, e);
                    break;
                }
                _onResult(this, head, frame);
            }
            // The worker is gone; once its writer has stopped, which of its tasks were written is known.
            _writer.Abandon();
            _onExit(this);
        }
        finally
        {
            _results.Dispose();
            _exited.Set();
        }
    }
}
