using System.Collections.Concurrent;

namespace ForkKit.Pooling;

/// <summary>
/// The pool's result-handling thread, Python's _handle_results: it decodes results and runs
/// every callback, one at a time, in completion order. Nothing posted here runs under the
/// worker set's lock, so a callback may submit more work to the pool.
/// </summary>
sealed class ResultHandler
{
    readonly BlockingCollection<Action> _work = new();
    readonly Thread _thread;

    public ResultHandler()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "ForkKit.Pool results" };
    }

    public void Start() => _thread.Start();

    /// <summary>Queues <paramref name="work"/> for the result thread.</summary>
    public void Post(Action work) => _work.Add(work);

    /// <summary>No more work will come: the thread ends once the queue is drained.</summary>
    public void CompleteAdding()
    {
        if (!_work.IsAddingCompleted) _work.CompleteAdding();
    }

    /// <summary>Waits for the thread to deliver everything (not when called from a callback: that would wait for itself).</summary>
    public void Join()
    {
        if (Thread.CurrentThread != _thread) _thread.Join();
    }

    public static void ReportCallbackError(string what, Exception e) =>
        Console.Error.WriteLine($"ForkKit.Pool: {what} threw; result handling goes on.\n{e}");

    void Run()
    {
        foreach (var work in _work.GetConsumingEnumerable())
        {
            try
            {
                work();
            }
            catch (Exception e)
            {
                ReportCallbackError("result handling", e);
            }
        }
    }
}
