using System.CommandLine;

namespace ForkKit.Cli.Demos;

/// <summary>How a demo runs: <see cref="Scale"/> multiplies every sleep (1, or 0.1 with --fast); <see cref="Get"/> reads a demo's own options.</summary>
sealed record DemoOptions(double Scale, Func<string, object?> Get)
{
    public T Value<T>(string option) => (T)Get(option)!;
}

/// <summary>A demo-specific option, e.g. the zombie demo's --hold: makes the option and reads its value back typed.</summary>
sealed record DemoOption(string Name, Func<(Option Option, Func<ParseResult, object?> Read)> Create)
{
    public static DemoOption Int(string name, string description, int defaultValue) => new(name, () =>
    {
        var o = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        return (o, parse => parse.GetValue(o));
    });

    public static DemoOption Flag(string name, string description) => new(name, () =>
    {
        var o = new Option<bool>(name) { Description = description };
        return (o, parse => parse.GetValue(o));
    });
}

/// <summary>One `forkkit demo NAME`: what it shows, its options, and the code. Run returns the exit code.</summary>
sealed record Demo(string Name, string Description, Func<DemoOptions, int> Run, bool Pool = false, params DemoOption[] Options)
{
    public static Demo[] All =>
    [
        .. SeedDemos.All,
        new("zombie", "Fork a child that exits at once and do not wait: see it as Z <defunct> in the process table, then reap it with waitpid.",
            ZombieDemo.Run, Options: [DemoOption.Int("--hold", "Seconds to keep the zombie for a second terminal to see (ps -o pid,ppid,stat,comm).", 0)]),
        new("orphan", "A parent exits while its child sleeps: the child's parent pid changes to init (or the nearest subreaper).",
            OrphanDemo.Run, Options: [DemoOption.Flag("--subreaper", "Make this process a child subreaper (prctl PR_SET_CHILD_SUBREAPER): it adopts the orphan and reaps it.")]),
        .. LabDemos.All,
        .. ForkDemos.All,
    ];
}
