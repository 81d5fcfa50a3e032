using ForkKit.Launching;
using ForkKit.Platform;
using ForkKit.Wire;

namespace ForkKit.Pooling;

/// <summary>
/// The parent's side of one pool worker: the child, the pipe it reads tasks from, the pipe it
/// answers on, and the reader thread that reads those answers. Its state changes only under the
/// worker set's lock (the rule is in <see cref="WorkerSet"/>); the reader thread calls back into
/// the worker set.
/// </summary>
sealed class PoolWorker
{
    readonly IChild _child;
    readonly FileStream _tasks;
    readonly FileStream _results;
    readonly ManualResetEventSlim _exited = new(false);
    readonly Action<PoolWorker, PoolMessages.ResultHead, byte[]> _onResult;
    readonly Action<PoolWorker> _onExit;
    PoolTask? _current;
    bool _sent;
    bool _retired;

    PoolWorker(string name, IChild child, FileStream tasks, FileStream results,
        Action<PoolWorker, PoolMessages.ResultHead, byte[]> onResult, Action<PoolWorker> onExit)
    {
        Name = name;
        _child = child;
        _tasks = tasks;
        _results = results;
        _onResult = onResult;
        _onExit = onExit;
    }

    public string Name { get; }
    public int Pid => _child.Pid;

    /// <summary>Tasks this worker has answered.</summary>
    public int Completed { get; private set; }

    /// <summary>No task in hand and not told to exit: it is blocked reading its task pipe.</summary>
    public bool IsIdle => _current is null && !_retired;

    /// <summary>Starts the worker with <paramref name="launcher"/>, which delivers its start message; the reader thread starts at once.</summary>
    public static PoolWorker Start(string name, ILauncher launcher, byte[] startMessage,
        Action<PoolWorker, PoolMessages.ResultHead, byte[]> onResult, Action<PoolWorker> onExit)
    {
        var launched = launcher.Launch(new WorkerSpec(name, WorkerRole.Pool, () => startMessage, DiesWithParent: true));
        var worker = new PoolWorker(name, launched.Child, launched.Tasks!, launched.Results!, onResult, onExit);
        new Thread(worker.ReadResults) { IsBackground = true, Name = $"ForkKit.Pool reader {name}" }.Start();
        return worker;
    }

    /// <summary>Hands the worker a task (it is idle, so the write drains at once).</summary>
    public void Send(PoolTask task)
    {
        _current = task;
        task.SentAt = System.Diagnostics.Stopwatch.GetTimestamp();
        _sent = Write(task.Payload);
    }

    /// <summary>The answer to the task in hand arrived: the task, if the id matches.</summary>
    public PoolTask? Finish(long id)
    {
        var task = _current;
        _current = null;
        Completed++;
        return task?.Id == id ? task : null;
    }

    /// <summary>The task in hand when the worker died, and whether it had been delivered.</summary>
    public (PoolTask? Task, bool Sent) TakeCurrent()
    {
        var task = _current;
        _current = null;
        return (task, _sent);
    }

    /// <summary>Tells the worker to exit once idle: closing the task pipe gives it end-of-file.</summary>
    public void Retire()
    {
        if (_retired) return;
        _retired = true;
        _tasks.Dispose();
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

    bool Write(byte[] frame)
    {
        try
        {
            Frames.Write(_tasks, frame);
            return true;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // EPIPE: the worker is gone. Its reader thread sees end-of-file and the pool
            // re-queues the task, which never reached it.
            return false;
        }
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
                catch (IOException)
                {
                    frame = null; // a worker killed in the middle of a frame
                }
                if (frame is null) break;
                _onResult(this, PoolMessages.ReadResultHead(frame), frame);
            }
            _onExit(this);
        }
        finally
        {
            _results.Dispose();
            if (!_retired) _tasks.Dispose();
            _exited.Set();
        }
    }
}
