using System.Collections.Concurrent;
using System.Diagnostics;

namespace ForkKit.Diagnostics;

/// <summary>One task as the timeline records it: which worker ran it, from when to when.</summary>
/// <param name="Worker">The worker's name, e.g. "PoolWorker-2".</param>
/// <param name="Pid">The worker's pid.</param>
/// <param name="TaskId">The task's id on the wire.</param>
/// <param name="What">The target, e.g. "SeedDemos.Square".</param>
/// <param name="Sent">When the parent wrote the task to the worker (Stopwatch timestamp).</param>
/// <param name="Answered">When the parent read the answer (or saw the worker die).</param>
public sealed record TimelineEntry(string Worker, int Pid, long TaskId, string What, long Sent, long Answered);

/// <summary>
/// Records which worker ran which task when, for `forkkit demo map --timeline`. Off unless
/// <see cref="Start"/> is called; then every Pool in this process adds its tasks.
/// </summary>
public static class PoolTimeline
{
    static volatile bool s_recording;
    static readonly ConcurrentQueue<TimelineEntry> s_entries = new();

    internal static bool Recording => s_recording;

    /// <summary>Starts recording (and forgets what was recorded before).</summary>
    public static void Start()
    {
        s_entries.Clear();
        s_recording = true;
    }

    /// <summary>Stops recording and returns the tasks, in the order they were answered.</summary>
    public static IReadOnlyList<TimelineEntry> Stop()
    {
        s_recording = false;
        return s_entries.ToList();
    }

    internal static void Add(string worker, int pid, long taskId, string what, long sent) =>
        s_entries.Enqueue(new TimelineEntry(worker, pid, taskId, what, sent, Stopwatch.GetTimestamp()));
}
