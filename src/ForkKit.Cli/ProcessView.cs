using ForkKit.Diagnostics;

namespace ForkKit.Cli;

/// <summary>`forkkit ps`: the process table as ps would show it, ForkKit's processes marked.</summary>
static class ProcessView
{
    public static void Print(TextWriter output, bool tree, bool all)
    {
        var table = ProcessTable.Snapshot();
        var shown = all ? table : Session(table);
        output.WriteLine("  {0,7} {1,7} {2} {3,-15} {4}", "PID", "PPID", "S", "NAME", "COMMAND");
        if (!tree)
        {
            foreach (var e in shown) output.WriteLine(Row(e, 0));
            return;
        }
        var pids = shown.Select(e => e.Pid).ToHashSet();
        var byParent = shown.ToLookup(e => e.ParentPid);
        void Walk(ProcessEntry e, int depth)
        {
            output.WriteLine(Row(e, depth));
            foreach (var child in byParent[e.Pid]) Walk(child, depth + 1);
        }
        foreach (var top in shown.Where(e => !pids.Contains(e.ParentPid))) Walk(top, 0);
    }

    /// <summary>The tree under <paramref name="root"/>, root included, in `forkkit ps --tree`'s columns.</summary>
    public static void PrintTree(TextWriter output, int root)
    {
        var table = ProcessTable.Snapshot();
        var byParent = table.ToLookup(e => e.ParentPid);
        output.WriteLine("  {0,7} {1,7} {2} {3,-15} {4}", "PID", "PPID", "S", "NAME", "COMMAND");
        void Walk(ProcessEntry e, int depth)
        {
            output.WriteLine(Row(e, depth));
            foreach (var child in byParent[e.Pid]) Walk(child, depth + 1);
        }
        if (table.FirstOrDefault(e => e.Pid == root) is { } top) Walk(top, 0);
    }

    static string Row(ProcessEntry e, int depth)
    {
        var command = e.State == ProcessState.Zombie ? $"[{e.Name}] <defunct>" : e.CommandLine;
        if (command.Length > 70) command = command[..67] + "...";
        return string.Format("{0} {1,7} {2,7} {3} {4,-15} {5}{6}",
            e.IsForkKit ? "*" : " ", e.Pid, e.ParentPid, e.StateLetter, e.Name, new string(' ', 2 * depth), command);
    }

    /// <summary>This process's session: its ancestors' other descendants are what a student started.</summary>
    static IReadOnlyList<ProcessEntry> Session(IReadOnlyList<ProcessEntry> table)
    {
        int sid = SessionOf(Environment.ProcessId);
        return table.Where(e => SessionOf(e.Pid) == sid || e.IsForkKit).ToList();
    }

    static int SessionOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[3]); // field 6: session id
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return -1;
        }
    }
}
