using System.Diagnostics;
using ForkKit.Diagnostics;

namespace ForkKit.Cli;

/// <summary>`--timeline`: a chart in the terminal of which worker ran which task when.</summary>
static class TimelineChart
{
    const int Width = 60;
    const string Labels = "123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

    public static void Print(TextWriter output, IReadOnlyList<TimelineEntry> entries)
    {
        if (entries.Count == 0)
        {
            output.WriteLine("timeline: no pool task ran");
            return;
        }
        long start = entries.Min(e => e.Sent), end = entries.Max(e => e.Answered);
        double totalMs = Math.Max(1, Stopwatch.GetElapsedTime(start, end).TotalMilliseconds);
        double msPerColumn = totalMs / Width;
        var ordered = entries.OrderBy(e => e.TaskId).ToList();
        var began = Began(entries);
        output.WriteLine(Ansi.Bold($"timeline: {ordered.Count} task(s) over {totalMs:0} ms, one column = {msPerColumn:0.#} ms"));
        foreach (var worker in ordered.GroupBy(e => (e.Worker, e.Pid)).OrderBy(g => g.Key.Pid))
        {
            var row = new char[Width];
            Array.Fill(row, ' ');
            foreach (var e in worker)
            {
                char label = Labels[ordered.IndexOf(e) % Labels.Length];
                int from = Column(start, began[e], msPerColumn), to = Math.Max(from, Column(start, e.Answered, msPerColumn) - 1);
                for (int c = from; c <= to && c < Width; c++) row[c] = label;
            }
            output.WriteLine($"{worker.Key.Worker,-14} pid {worker.Key.Pid,-7} |{new string(row)}|");
        }
        output.WriteLine("tasks: " + string.Join("  ", ordered.Select((e, i) =>
            $"{Labels[i % Labels.Length]}={e.What.Split('.').Last()}#{e.TaskId} {Stopwatch.GetElapsedTime(began[e], e.Answered).TotalMilliseconds:0} ms")));
    }

    /// <summary>
    /// When each task could begin: a worker has several tasks in flight and runs them in order,
    /// so a task written while the one before it ran begins when that one is answered.
    /// </summary>
    static Dictionary<TimelineEntry, long> Began(IReadOnlyList<TimelineEntry> entries)
    {
        var began = new Dictionary<TimelineEntry, long>();
        foreach (var worker in entries.GroupBy(e => e.Pid))
        {
            long previous = long.MinValue;
            foreach (var e in worker.OrderBy(e => e.Answered))
            {
                began[e] = Math.Max(e.Sent, previous);
                previous = e.Answered;
            }
        }
        return began;
    }

    static int Column(long start, long at, double msPerColumn) =>
        Math.Clamp((int)(Stopwatch.GetElapsedTime(start, at).TotalMilliseconds / msPerColumn), 0, Width - 1);
}
