using System.CommandLine;
using System.CommandLine.Help;
using ForkKit.Cli.Demos;

namespace ForkKit.Cli;

/// <summary>The `forkkit` command line: demos of the seed article and a process-table view.</summary>
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
        var demo = new Command("demo", "Run an example of the seed article (Process, join, Pool apply/map) and print its timings.");
        foreach (var (name, description, run) in SeedDemos.All)
        {
            var fast = new Option<bool>("--fast") { Description = "Scale the 3-5 second sleeps down to 0.3-0.5 s (classrooms, tests)." };
            var command = new Command(name, description) { fast };
            command.SetAction(parse =>
            {
                var options = new DemoOptions(parse.GetValue(fast) ? 0.1 : 1.0);
                SeedDemos.UseScale(options.Scale);
                run(options);
                return 0;
            });
            demo.Subcommands.Add(command);
        }
        return demo;
    }

    static Command BuildPs()
    {
        var tree = new Option<bool>("--tree") { Description = "Indent children under their parents." };
        var all = new Option<bool>("--all") { Description = "Show every process, not only this session's." };
        var ps = new Command("ps", "Show the process table (pid, ppid, state, name); ForkKit's processes are marked with *.") { tree, all };
        ps.SetAction(parse =>
        {
            ProcessView.Print(Console.Out, parse.GetValue(tree), parse.GetValue(all));
            return 0;
        });
        return ps;
    }
}
