using System.CommandLine;
using System.CommandLine.Help;
using ForkKit.Cli.Demos;
using ForkKit.Diagnostics;

namespace ForkKit.Cli;

/// <summary>The `forkkit` command line: the seed article's demos, process-mechanics demos, and a process-table view.</summary>
static class Commands
{
    public static Command Build()
    {
        // A plain Command named "forkkit" rather than RootCommand, whose name would be the
        // assembly's (ForkKit.Cli) in usage lines.
        var root = new Command("forkkit", "ForkKit: Python's multiprocessing rebuilt on fork, exec and waitpid, with demos you can watch in ps.")
        {
            new HelpOption(),
            new VersionOption(),
        };
        root.Subcommands.Add(BuildDemo());
        root.Subcommands.Add(BuildPs());
        return root;
    }

    static Command BuildDemo()
    {
        var demo = new Command("demo", "Run a demo: the seed article's examples (process, processes, no-join, list, apply, apply-async, map, map-async, lock) and the mechanics (zombie, orphan, counter, abandoned, managed-fork, fork, forkserver, cow).");
        foreach (var d in Demo.All)
        {
            var fast = new Option<bool>("--fast") { Description = "Scale the sleeps down tenfold (classrooms, tests)." };
            var trace = new Option<bool>("--trace") { Description = "Print each OS-level call (fork, execve, waitpid, kill, pipe reads and writes, sem_*) with time and pid, on stderr." };
            var command = new Command(d.Name, d.Description) { fast, trace };
            Option<bool>? timeline = null;
            if (d.Pool)
            {
                timeline = new Option<bool>("--timeline") { Description = "Afterwards, draw which worker (pid) ran which task when." };
                command.Options.Add(timeline);
            }
            var extras = d.Options.ToDictionary(o => o.Name, o => o.Create());
            foreach (var (option, _) in extras.Values) command.Options.Add(option);
            command.SetAction(parse =>
            {
                if (parse.GetValue(trace)) OsTrace.EnableForChildren();
                var options = new DemoOptions(parse.GetValue(fast) ? 0.1 : 1.0, name => extras[name].Read(parse));
                SeedDemos.UseScale(options.Scale);
                bool drawTimeline = timeline is not null && parse.GetValue(timeline);
                if (drawTimeline) PoolTimeline.Start();
                int code = d.Run(options);
                if (drawTimeline) TimelineChart.Print(Console.Out, PoolTimeline.Stop());
                return code;
            });
            demo.Subcommands.Add(command);
        }
        return demo;
    }

    static Command BuildPs()
    {
        var tree = new Option<bool>("--tree") { Description = "Indent children under their parents." };
        var all = new Option<bool>("--all") { Description = "Show every process, not only this session's and ForkKit's." };
        var ps = new Command("ps", "Show the process table (pid, ppid, state, name, command); ForkKit's processes are marked with *.") { tree, all };
        ps.SetAction(parse =>
        {
            ProcessView.Print(Console.Out, parse.GetValue(tree), parse.GetValue(all));
            return 0;
        });
        return ps;
    }
}
