using System.Globalization;
using ForkKit.Unix;

namespace ForkKit.Cli.Demos;

/// <summary>
/// Fork for real, in a process that started with the fork-safe settings (docs/design.md, fact
/// 1b): the demo re-runs itself with them when it did not. The child is a copy of the parent's
/// memory, not a fresh program.
/// </summary>
static class ForkDemos
{
    public static Demo[] All =>
    [
        new("fork", "The seed's Process example with StartMethod.Fork: the child is a copy of the parent (its pid, its parent's pid, a variable it changes in its copy only).",
            o => InForkSafeProcess(Fork)),
        new("forkserver", "The seed's four processes with StartMethod.ForkServer: a warm server forks each child; each start timed, and the tree this process -> ForkServer -> children.",
            o => ForkServer()),
        new("cow", "Copy-on-write: fork with a 64 MiB array, see the child share the parent's pages (/proc/PID/smaps_rollup), then get private copies of the half it writes.",
            o => InForkSafeProcess(CopyOnWrite)),
    ];

    /// <summary>Runs <paramref name="demo"/> here when this process may fork, else re-runs this very command with the settings.</summary>
    static int InForkSafeProcess(Func<int> demo)
    {
        if (OperatingSystem.IsWindows())
        {
            Console.Error.WriteLine("forkkit: this demo forks, and Windows has no fork (a new process always starts a program afresh).");
            return 1;
        }
        if (ForkSafety.IsEnabled) return demo();
        Console.WriteLine(Ansi.Bold($"Re-running this command with the fork-safe settings: {ForkSafety.SettingsText}"));
        var program = Environment.ProcessPath!;
        var args = Environment.GetCommandLineArgs();
        // Under the dotnet host, argv[0] is ForkKit.Cli.dll, which the host needs again; an
        // app host finds its assembly itself.
        bool viaDotnet = Path.GetFileNameWithoutExtension(program) == "dotnet";
        var info = new System.Diagnostics.ProcessStartInfo(program);
        foreach (var a in viaDotnet ? args : args[1..]) info.ArgumentList.Add(a);
        foreach (var (key, value) in ForkSafety.Settings) info.Environment[key] = value;
        using var again = System.Diagnostics.Process.Start(info)!;
        again.WaitForExit();
        return again.ExitCode;
    }

    /// <summary>
    /// The seed's four processes started by the fork server. The first start also boots the
    /// server (a worker host started with the fork-safe settings); the others are a fork of its
    /// warm runtime. This process needs no settings of its own.
    /// </summary>
    static int ForkServer()
    {
        if (OperatingSystem.IsWindows())
        {
            Console.Error.WriteLine("forkkit: StartMethod.ForkServer forks, and Windows has no fork (a new process always starts a program afresh).");
            return 1;
        }
        SeedDemos.Timed(() =>
        {
            var processes = Enumerable.Range(0, 4).Select(_ => new Process(SeedDemos.Square, 3) { StartMethod = StartMethod.ForkServer }).ToList();
            foreach (var p in processes)
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                p.Start();
                Console.WriteLine($"started {p.Name} (pid {p.Pid}) in {clock.Elapsed.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture)} ms");
            }
            Console.WriteLine();
            ProcessView.PrintTree(Console.Out, Environment.ProcessId);
            Console.WriteLine();
            foreach (var p in processes) p.Join();
            foreach (var p in processes) Console.WriteLine($"{p.Name} exit code {p.ExitCode}");
        });
        return 0;
    }

    /// <summary>Changed by the parent before Start and by the child in its copy.</summary>
    static int s_counter;

    static int Fork()
    {
        SeedDemos.Timed(() =>
        {
            s_counter = 1;
            Console.WriteLine($"parent (pid {Environment.ProcessId}): counter = {s_counter}");
            using var p = new Process(SquareInACopy, 3) { StartMethod = StartMethod.Fork };
            p.Start();
            p.Join();
            Console.WriteLine($"parent (pid {Environment.ProcessId}): {p.Name} (pid {p.Pid}) exit code {p.ExitCode}; counter here still {s_counter}");
        });
        return 0;
    }

    /// <summary>Runs in the forked child: no argument was serialised for it, it reads the parent's counter from its copy of memory.</summary>
    static void SquareInACopy(int n)
    {
        int before = s_counter;
        s_counter++;
        Console.WriteLine($"{Process.CurrentName} (pid {Environment.ProcessId}, parent {Syscalls.GetParentPid()}): counter = {before} in its copy, {s_counter} after adding 1");
        SeedDemos.Square(n);
    }

    const int ArrayBytes = 64 * 1024 * 1024;

    static int CopyOnWrite()
    {
        var data = new byte[ArrayBytes];
        Array.Fill(data, (byte)1); // touch every page, so the parent owns them all
        Console.WriteLine($"parent (pid {Environment.ProcessId}): a {ArrayBytes >> 20} MiB array, every byte 1. {Memory(Environment.ProcessId)}");
        int pid = Syscalls.Fork();
        if (pid == 0)
        {
            int self = Environment.ProcessId;
            Console.WriteLine($"child  (pid {self}) after fork: {Memory(self)}  <- the array's pages are the parent's, shared");
            for (int i = 0; i < data.Length / 2; i += 4096) data[i] = 2; // one write per page, half the array
            Console.WriteLine($"child  (pid {self}) after writing half: {Memory(self)}  <- each page written was copied first");
            Syscalls.Exit(0);
        }
        var status = Syscalls.WaitPid(pid);
        Console.WriteLine($"parent: child {pid} {Platform.ExitDescriptions.Describe(status.ToExitCode())}; the parent's array still reads {data[0]} at offset 0 and {data[ArrayBytes / 2 - 4096]} at {(ArrayBytes / 2 - 4096).ToString("N0", CultureInfo.InvariantCulture)}: the child wrote its own copies");
        return 0;
    }

    /// <summary>Private_Dirty (pages only this process has) and Shared_Dirty (pages it shares) from /proc/PID/smaps_rollup.</summary>
    static string Memory(int pid)
    {
        long Field(string name) => File.ReadLines($"/proc/{pid}/smaps_rollup")
            .Where(l => l.StartsWith(name + ":", StringComparison.Ordinal))
            .Select(l => long.Parse(l[(name.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture)).FirstOrDefault();
        return $"Private_Dirty {Field("Private_Dirty") / 1024.0:0.0} MiB, Shared_Dirty {Field("Shared_Dirty") / 1024.0:0.0} MiB";
    }
}
