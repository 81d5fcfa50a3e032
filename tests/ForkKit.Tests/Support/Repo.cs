using System.Diagnostics;
using System.Text;

namespace ForkKit.Tests.Support;

/// <summary>Where the repository and the test's build output are, and how to run a command in them.</summary>
static class Repo
{
    public static string OutputDir => AppContext.BaseDirectory;

    /// <summary>Release or Debug: the configuration this test assembly was built with.</summary>
    public static string Configuration =>
        new DirectoryInfo(OutputDir).Parent!.Name; // OutputDir is bin/CONFIG/net10.0/

    public static string Root
    {
        get
        {
            var dir = new DirectoryInfo(OutputDir);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ForkKit.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException($"ForkKit.sln not found above {OutputDir}");
        }
    }

    public static string Dotnet => ForkKit.Launching.WorkerCommand.Current.HostPath;

    public sealed record Result(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed);

    /// <summary>
    /// Runs a program to completion (killing it after <paramref name="limit"/>) and captures its
    /// output; <paramref name="environment"/> adds or replaces variables of the child's environment.
    /// </summary>
    public static Result Run(string file, IEnumerable<string> args, TimeSpan limit, string? workingDir = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = workingDir ?? Root,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        var clock = Stopwatch.StartNew();
        using var p = System.Diagnostics.Process.Start(info)!;
        p.StandardInput.Close();
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(limit))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit(TimeSpan.FromSeconds(30));
            Assert.Fail($"{file} {string.Join(' ', args)} did not finish within {limit}:\n{stdout}\n{stderr}");
        }
        // The output ends when every process holding the pipes has closed them: a descendant
        // left running would keep them open, which is a leak the test should report, not wait on.
        if (!Task.Run(() => p.WaitForExit()).Wait(TimeSpan.FromSeconds(30)))
            Assert.Fail($"{file} {string.Join(' ', args)} exited, but something it started still holds its output open:\n{stdout}\n{stderr}");
        return new Result(p.ExitCode, stdout.ToString(), stderr.ToString(), clock.Elapsed);
    }
}
