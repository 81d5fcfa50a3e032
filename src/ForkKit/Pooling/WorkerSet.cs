using System.Collections.Concurrent;
using ForkKit.Launching;
using ForkKit.Platform;
using ForkKit.Wire;

namespace ForkKit.Pooling;

/// <summary>
/// The pool's workers and its queue: hand-out of tasks, the policy when a worker dies or
/// retires, and the pool's lifecycle (running, closed, terminated).
/// </summary>
/// <remarks>
/// <para><b>The lock rule.</b> One lock, <see cref="_gate"/>, guards all of it: the state, the
/// queue, the worker list and each <see cref="PoolWorker"/>'s tasks in flight and retired flag.
/// Callers outside this class never take it; <see cref="PoolWorker"/>'s methods that change
/// state are called only from here, with it held. Under it nothing touches a pipe: a task
/// handed to a worker is only queued to that worker's <see cref="TaskWriter"/>, whose thread
/// writes it. Nothing waits for a process there either, and no task is completed or failed
/// there: that is posted to the <see cref="ResultHandler"/>, whose callbacks may call back into
/// the pool.</para>
/// <para><b>The window.</b> A worker has up to <see cref="Window"/> tasks in flight, so its next
/// task is already in its pipe when it answers one. It answers in order, so an answer belongs to
/// its oldest task in flight; one that does not is a worker no longer following the wire format:
/// that task fails and the worker is stopped.</para>
/// <para><b>When a worker dies.</b> Its oldest task in flight, if its frame was written whole,
/// may have run: it fails with <see cref="WorkerLostException"/>. The others never started, as
/// the worker takes tasks in order: they go back to the head of the queue, in their order, and
/// run on other workers. A replacement starts while the pool still needs workers, outside the
/// lock (a start waits for a process: a fork server's child reports running, a spawn execs),
/// so that submitting, other workers' answers and Terminate go on meanwhile. Unlike Python's
/// pool nothing waits for ever (CPython gh-66587).</para>
/// </remarks>
sealed class WorkerSet
{
    enum State { Running, Closed, Terminated }

    /// <summary>
    /// The most tasks in flight on one worker. Measured on 2 cores with bench/ForkKit.Bench
    /// (`pool 1000000 2`: 100,000 ApplyAsync one-item tasks, the case a window helps most; median
    /// of 8 runs, us/task, Spawn / ForkServer): 1: 39.7 / 39.3, 2: 32.0 / 31.4, 4: 24.5 / 24.7,
    /// 8: 21.6 / 22.9, 16: 20.8 / 21.2; before the window (a write under the lock to an idle
    /// worker) 28.1 / 32.1. Map's few large chunks cost the same at every window. What keeps it
    /// small: the tasks in a worker's window wait behind the one it runs, however long, while
    /// other workers may idle. Map of 64 items on Pool(4), every 16th sleeping 100 ms and the rest
    /// 5 ms, default chunks: 233 ms up to a window of 2, 464 ms from 4 (the four slow chunks go
    /// to one worker as they are submitted); with chunkSize 1 and every 4th slow: 335 ms before,
    /// 343 ms at 2, 407 ms at 4, 803 ms at 8.
    /// </summary>
    internal const int Window = 4;

    static int s_workerCounter;
    static readonly ConcurrentDictionary<WorkerSet, bool> s_open = new();
    static int s_exitHookInstalled;

    readonly object _gate = new();
    readonly Queue<PoolTask> _queue = new();
    readonly List<PoolWorker> _workers = new();
    readonly ManualResetEventSlim _allWorkersGone = new(false);
    readonly ILauncher _launcher;
    readonly byte[] _startArgs;
    readonly TargetReference? _initializer;
    readonly int? _maxTasksPerChild;
    readonly ResultHandler _results;
    State _state = State.Running;
    Exception? _broken;
    int _starting; // replacements being started outside the lock

    /// <summary>
    /// Starts <paramref name="count"/> workers with <paramref name="launcher"/>; each runs the
    /// initializer (its arguments already encoded, a JSON array: <paramref name="initArgs"/>)
    /// before its first task. The result thread must be running.
    /// </summary>
    public WorkerSet(int count, ILauncher launcher, TargetReference? initializer, byte[] initArgs, int? maxTasksPerChild, ResultHandler results)
    {
        _launcher = launcher;
        _initializer = initializer;
        _startArgs = initArgs;
        _maxTasksPerChild = maxTasksPerChild;
        _results = results;
        InstallExitHook();
        try
        {
            lock (_gate)
            {
                for (int i = 0; i < count; i++) StartWorker();
            }
        }
        catch
        {
            // The workers that did start are stopped and reaped: nothing is left running.
            Terminate();
            throw;
        }
        s_open[this] = true;
    }

    public IReadOnlyList<int> Pids
    {
        get
        {
            lock (_gate) return _workers.Select(w => w.Pid).ToList();
        }
    }

    /// <summary>Tasks in flight on the worker with <paramref name="pid"/> (0 when there is none): what the window tests observe.</summary>
    internal int InFlightOn(int pid)
    {
        lock (_gate) return _workers.FirstOrDefault(w => w.Pid == pid)?.InFlight ?? 0;
    }

    /// <exception cref="InvalidOperationException">Close or Terminate was called.</exception>
    public void EnsureRunning()
    {
        lock (_gate)
        {
            if (_state != State.Running) throw new InvalidOperationException("Pool not running");
        }
    }

    /// <summary>Queues a task and hands it to a worker with room in its window if there is one; fails it when the pool cannot run it.</summary>
    public void Enqueue(PoolTask task)
    {
        if (task.Payload.Length > Frames.MaxFrameBytes)
        {
            // Refused here, as no worker could ever answer it.
            var tooLarge = new InvalidOperationException(
                $"task {task.Id} ({task.What}): its message of {task.Payload.Length} bytes is larger than the wire format's limit of {Frames.MaxFrameBytes} bytes");
            _results.Post(() => task.Fail(tooLarge));
            return;
        }
        lock (_gate)
        {
            if (_state != State.Running || _broken is not null)
            {
                var why = _state != State.Running ? new InvalidOperationException("Pool not running") : _broken!;
                _results.Post(() => task.Fail(why));
                return;
            }
            _queue.Enqueue(task);
            Dispatch();
        }
    }

    /// <summary>Python's close(): no more tasks; queued ones still run, then the workers exit.</summary>
    public void Close()
    {
        lock (_gate)
        {
            if (_state == State.Running) _state = State.Closed;
            RetireWorkersWhenDrained();
            CheckAllWorkersGone();
        }
    }

    /// <summary>
    /// Python's terminate(): queued and running tasks fail, workers get SIGTERM (SIGKILL after a
    /// second) and are reaped before this returns. A writer blocked on a worker that does not
    /// read ends when the worker does: its write fails with EPIPE.
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
            // A replacement on its way joins the list (stopped at once) within the start's deadline.
            while (_starting > 0) Monitor.Wait(_gate);
            workers = _workers.ToList();
        }
        var stopped = new InvalidOperationException("the pool was terminated before the task finished");
        foreach (var task in abandoned) _results.Post(() => task.Fail(stopped));
        foreach (var w in workers) w.Stop(force: false);
        // One second for them all, not one each.
        var deadline = DateTime.UtcNow.AddSeconds(1);
        foreach (var w in workers)
        {
            var left = deadline - DateTime.UtcNow;
            if (!w.WaitForExit(left > TimeSpan.Zero ? left : TimeSpan.Zero)) w.Stop(force: true);
        }
        foreach (var w in workers) w.WaitForExit(null);
        lock (_gate) CheckAllWorkersGone();
        FinishResults();
    }

    /// <summary>Waits until every worker has exited and been reaped and every result delivered.</summary>
    /// <exception cref="InvalidOperationException">The pool is still running.</exception>
    public void Join()
    {
        lock (_gate)
        {
            if (_state == State.Running) throw new InvalidOperationException("Pool is still running: call Close() or Terminate() before Join()");
        }
        _allWorkersGone.Wait();
        FinishResults();
    }

    /// <summary>Once every worker is gone no result can come: the result thread drains and ends.</summary>
    void FinishResults()
    {
        bool allGone;
        lock (_gate)
        {
            allGone = _allWorkersGone.IsSet;
            if (allGone) _results.CompleteAdding();
        }
        if (allGone) _results.Join();
        s_open.TryRemove(this, out _);
    }

    // ---- under _gate ----

    /// <summary>
    /// Hands queued tasks out level by level: one to each idle worker, then a second to each
    /// worker with one in flight, and so on up to the window, so that tasks spread over the
    /// workers before any window fills.
    /// </summary>
    void Dispatch()
    {
        for (int level = 0; level < Window; level++)
            foreach (var w in _workers)
            {
                if (_queue.Count == 0) return;
                if (w.InFlight == level && !w.Retired) Hand(w, _queue.Dequeue());
            }
    }

    void Hand(PoolWorker worker, PoolTask task)
    {
        worker.Send(task);
        // Its last allowed task is on its way: the pipe closes behind it, the worker answers
        // what it has and exits, and a replacement starts then.
        if (_maxTasksPerChild is { } max && worker.Handed >= max) worker.Retire();
    }

    void StartWorker() => _workers.Add(LaunchWorker());

    PoolWorker LaunchWorker()
    {
        var name = $"PoolWorker-{Interlocked.Increment(ref s_workerCounter)}";
        var start = WorkerStart.Write(name, _initializer, _startArgs);
        return PoolWorker.Start(name, _launcher, start, OnResult, OnWorkerExit, OnGarbage);
    }

    /// <summary>Once closed with nothing queued, every worker is told to exit after the tasks it has (end of its task pipe).</summary>
    void RetireWorkersWhenDrained()
    {
        if (_state == State.Running || _queue.Count > 0) return;
        foreach (var w in _workers) w.Retire();
    }

    void CheckAllWorkersGone()
    {
        if (_state != State.Running && _workers.Count == 0 && _starting == 0) _allWorkersGone.Set();
    }

    void FailQueued(Exception error)
    {
        FailAll(_queue, error);
        _queue.Clear();
    }

    void FailAll(IEnumerable<PoolTask> tasks, Exception error)
    {
        foreach (var t in tasks) _results.Post(() => t.Fail(error));
    }

    /// <summary>Puts <paramref name="tasks"/> back at the head of the queue, in their order.</summary>
    void Requeue(List<PoolTask> tasks)
    {
        if (tasks.Count == 0) return;
        var rest = _queue.ToList();
        _queue.Clear();
        foreach (var t in tasks.Concat(rest)) _queue.Enqueue(t);
    }

    // ---- called on a worker's reader thread ----

    /// <summary>A result (or the initializer's failure) arrived from <paramref name="worker"/>.</summary>
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
                // The tasks it was handed, and every queued one, fail with the initializer's error.
                FailAll(worker.TakeInFlight(), failure);
                FailQueued(failure);
            }
            return;
        }

        PoolTask? task;
        bool inTurn;
        lock (_gate)
        {
            if (worker.Misbehaved) return;
            inTurn = worker.TryFinish(head.Id, out task);
            if (!inTurn) worker.MarkMisbehaved();
            else if (Diagnostics.PoolTimeline.Recording)
                Diagnostics.PoolTimeline.Add(worker.Name, worker.Pid, task!.Id, task.What, task.SentAt);
            Dispatch();
            RetireWorkersWhenDrained();
        }
        if (!inTurn)
        {
            // Its end-of-file follows, and the death policy takes care of the rest of its window.
            worker.Stop(force: true);
            if (task is not null) _results.Post(() => task.Fail(OutOfTurn(worker, head.Id, task)));
            return;
        }
        if (head.Error is { } error) _results.Post(() => task!.Fail(RemoteExceptions.Rebuild(error)));
        else _results.Post(() => task!.Complete(frame));
    }

    /// <summary>
    /// <paramref name="worker"/> wrote what is no result frame (a length no frame can have, a
    /// payload that is not a result message): the task it was running fails saying so, the
    /// worker is stopped, and its end-of-file then brings the rest of its window back to the queue.
    /// </summary>
    void OnGarbage(PoolWorker worker, Exception garbage)
    {
        PoolTask? task;
        lock (_gate)
        {
            worker.MarkMisbehaved();
            task = worker.TakeOldest();
        }
        worker.Stop(force: true);
        if (task is null) return;
        var error = new InvalidDataException(
            $"worker {worker.Name} (pid {worker.Pid}) wrote what is not ForkKit's wire format on its result pipe while running task {task.Id} ({task.What}): " +
            $"{garbage.Message.TrimEnd('.')}. Its answers can no longer be trusted: it was stopped, and this task failed", garbage);
        _results.Post(() => task.Fail(error));
    }

    static InvalidDataException OutOfTurn(PoolWorker worker, long answered, PoolTask due) => new(
        $"worker {worker.Name} (pid {worker.Pid}) answered task {answered} when task {due.Id} ({due.What}) was due: a worker answers its tasks in order, " +
        "so its answers can no longer be trusted: it was stopped, and this task failed");

    /// <summary>After end-of-file: <paramref name="worker"/> has exited; it is reaped here, then the death policy applies.</summary>
    void OnWorkerExit(PoolWorker worker)
    {
        int? code = worker.Reap();
        bool replace = false;
        lock (_gate)
        {
            worker.Ended = true;
            _workers.Remove(worker);
            var inFlight = worker.TakeInFlight();
            if (_state == State.Terminated)
            {
                FailAll(inFlight, new InvalidOperationException("the pool was terminated before the task finished"));
            }
            else
            {
                // A worker stopped for misbehaving has had the task it ran failed already.
                if (inFlight.Count > 0 && inFlight[0].Written && !worker.Misbehaved)
                {
                    var task = inFlight[0];
                    inFlight.RemoveAt(0);
                    var lost = new WorkerLostException(
                        $"worker {worker.Name} (pid {worker.Pid}) {ExitDescriptions.Describe(code)} while running task {task.Id} ({task.What}); its result will never come",
                        worker.Pid, code);
                    _results.Post(() => task.Fail(lost));
                }
                // The others never reached it, or it never started them: they run elsewhere, before the rest of the queue.
                Requeue(inFlight);
            }

            bool needed = _state == State.Running || (_state == State.Closed && _queue.Count > 0);
            if (_broken is not null)
            {
                FailQueued(_broken);
            }
            else if (needed)
            {
                _starting++;
                replace = true;
            }
            Dispatch();
            RetireWorkersWhenDrained();
            CheckAllWorkersGone();
        }
        if (replace) StartReplacement(worker.Name);
    }

    /// <summary>
    /// Starts a worker in place of <paramref name="replaced"/>, outside the lock, and adds it to
    /// the pool: stopped at once if the pool was terminated meanwhile, left out if it died
    /// before it could be added (its own exit was handled then). A start that fails breaks the
    /// pool: the queued tasks fail saying why.
    /// </summary>
    void StartReplacement(string replaced)
    {
        PoolWorker? fresh = null;
        Exception? failure = null;
        try
        {
            fresh = LaunchWorker();
        }
        catch (Exception e)
        {
            failure = e;
        }
        bool stop = false;
        lock (_gate)
        {
            _starting--;
            if (fresh is null)
            {
                _broken ??= new InvalidOperationException($"the pool could not replace {replaced}: {failure!.Message}", failure);
                FailQueued(_broken);
            }
            else if (!fresh.Ended)
            {
                _workers.Add(fresh);
                stop = _state == State.Terminated;
            }
            Dispatch();
            RetireWorkersWhenDrained();
            CheckAllWorkersGone();
            Monitor.PulseAll(_gate);
        }
        if (stop) fresh!.Stop(force: true);
    }

    /// <summary>In a child forked by StartMethod.Fork: the parent's pools are not this process's to terminate.</summary>
    internal static void ForgetOpenPoolsInForkedChild() => s_open.Clear();

    /// <summary>
    /// Installed before the first worker starts, so that it runs before the exit hook of
    /// anything a launcher starts (the fork server, which must outlive the pools).
    /// </summary>
    static void InstallExitHook()
    {
        if (Interlocked.Exchange(ref s_exitHookInstalled, 1) == 0)
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                // As Python's pool finalizer: a pool still open when the program ends is terminated.
                foreach (var s in s_open.Keys) s.Terminate();
            };
    }
}
