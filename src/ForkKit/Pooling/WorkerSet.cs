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
/// queue, the worker list and each <see cref="PoolWorker"/>'s task in hand and retired flag.
/// Callers outside this class never take it; <see cref="PoolWorker"/>'s methods that change
/// state are called only from here, with it held. Under it: a task is written only to an idle
/// worker (one blocked reading its task pipe, so the write drains at once); nothing waits for a
/// process, and no task is completed or failed there: that is posted to the
/// <see cref="ResultHandler"/>, whose callbacks may call back into the pool.</para>
/// <para><b>When a worker dies.</b> The task it had not yet received goes back to the head of
/// the queue; the task it was running fails with <see cref="WorkerLostException"/>; a
/// replacement starts while the pool still needs workers. Unlike Python's pool nothing waits for
/// ever (CPython gh-66587).</para>
/// </remarks>
sealed class WorkerSet
{
    enum State { Running, Closed, Terminated }

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

    /// <exception cref="InvalidOperationException">Close or Terminate was called.</exception>
    public void EnsureRunning()
    {
        lock (_gate)
        {
            if (_state != State.Running) throw new InvalidOperationException("Pool not running");
        }
    }

    /// <summary>Queues a task and hands it to an idle worker if there is one; fails it when the pool cannot run it.</summary>
    public void Enqueue(PoolTask task)
    {
        lock (_gate)
        {
            if (_state != State.Running || _broken is not null)
            {
                var why = _state != State.Running ? new InvalidOperationException("Pool not running") : _broken!;
                _results.Post(() => task.Fail(why));
                return;
            }
            _queue.Enqueue(task);
            DispatchToIdleWorkers();
        }
    }

    /// <summary>Python's close(): no more tasks; queued ones still run, then the workers exit.</summary>
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
    /// Python's terminate(): queued and running tasks fail, workers get SIGTERM (SIGKILL after a
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
        foreach (var task in abandoned) _results.Post(() => task.Fail(stopped));
        foreach (var w in workers) w.Stop(force: false);
        foreach (var w in workers)
            if (!w.WaitForExit(TimeSpan.FromSeconds(1)))
                w.Stop(force: true);
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
        var start = WorkerStart.Write(name, _initializer, _startArgs);
        _workers.Add(PoolWorker.Start(name, _launcher, start, OnResult, OnWorkerExit));
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

    void FailQueued(Exception error)
    {
        foreach (var t in _queue) _results.Post(() => t.Fail(error));
        _queue.Clear();
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
                // The task it was handed, and every queued one, fail with the initializer's error.
                var (inHand, _) = worker.TakeCurrent();
                if (inHand is not null) _results.Post(() => inHand.Fail(failure));
                FailQueued(failure);
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
        if (head.Error is { } error) _results.Post(() => task.Fail(RemoteExceptions.Rebuild(error)));
        else _results.Post(() => task.Complete(frame));
    }

    /// <summary>After end-of-file: <paramref name="worker"/> has exited; it is reaped here, then the death policy applies.</summary>
    void OnWorkerExit(PoolWorker worker)
    {
        int? code = worker.Reap();
        lock (_gate)
        {
            _workers.Remove(worker);
            var (task, sent) = worker.TakeCurrent();
            if (task is not null && !sent && _state != State.Terminated)
            {
                // It never reached the worker: it runs elsewhere, before the rest of the queue.
                var rest = _queue.ToList();
                _queue.Clear();
                _queue.Enqueue(task);
                foreach (var t in rest) _queue.Enqueue(t);
            }
            else if (task is not null)
            {
                Exception why = _state == State.Terminated
                    ? new InvalidOperationException("the pool was terminated before the task finished")
                    : new WorkerLostException(
                        $"worker {worker.Name} (pid {worker.Pid}) {ExitDescriptions.Describe(code)} while running task {task.Id} ({task.What}); its result will never come",
                        worker.Pid, code);
                _results.Post(() => task.Fail(why));
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
                    FailQueued(_broken);
                }
                DispatchToIdleWorkers();
            }
            else if (_broken is not null && _workers.Count == 0)
            {
                FailQueued(_broken);
            }
            RetireIdleWorkersWhenDrained();
            CheckAllWorkersGone();
        }
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
