using System.Diagnostics;
using System.Text.RegularExpressions;
using ForkKit.Diagnostics;
using ForkKit.Tests.Support;

namespace ForkKit.Tests;

/// <summary>
/// A parent that ends without running its exit hooks: killed with SIGKILL, or interrupted with
/// Ctrl-C (SIGINT to its whole process group, as a terminal sends it). Its daemon children and
/// pool workers must not outlive it; a non-daemon child runs on, as under Python.
/// </summary>
public class ParentDeathTests
{
    const int SIGINT = 2, SIGKILL = 9;

    /// <summary>The pids the parent-death scenario of ForkKit.TestApp printed.</summary>
    sealed record Family(int Parent, int Daemon, int NonDaemon, int[] Workers, int Server);

    /// <summary>
    /// Starts the scenario in a session of its own with SIGINT at its default action (a test
    /// runner started in the background may have it ignored), and reads the pids it prints.
    /// </summary>
    static (System.Diagnostics.Process App, Family Family) StartFamily(string method)
    {
        var info = new ProcessStartInfo(Path.Combine(Repo.Root, "native-interop", "build", "tests", "signal-launch"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "--default", SIGINT.ToString(), "--setsid", "--", Repo.Dotnet, "exec",
                     Path.Combine(Repo.OutputDir, "ForkKit.TestApp.dll"), "parent-death", method })
            info.ArgumentList.Add(a);
        var app = System.Diagnostics.Process.Start(info)!;
        app.BeginErrorReadLine();
        var line = app.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromSeconds(60)) || line.Result is null)
        {
            app.Kill(entireProcessTree: true);
            Assert.Fail($"the parent-death scenario printed no pids within 60 s (exit: {(app.HasExited ? app.ExitCode : "running")})");
        }
        var m = Regex.Match(line.Result!, @"^daemon (\d+) non-daemon (\d+) workers (\d+),(\d+) server (\d+)$");
        Assert.That(m.Success, Is.True, line.Result);
        int N(int i) => int.Parse(m.Groups[i].Value);
        return (app, new Family(app.Id, N(1), N(2), [N(3), N(4)], N(5)));
    }

    static bool HasEnded(int pid) => ProcessTable.Find(pid) is null or { State: ProcessState.Zombie or ProcessState.Dead };

    static void KillIfRunning(int pid)
    {
        if (pid == 0 || HasEnded(pid)) return;
        try
        {
            ForkKit.Unix.Syscalls.Kill(pid, SIGKILL);
        }
        catch (ForkKit.Unix.SyscallException)
        {
            // gone meanwhile
        }
    }

    static void CleanUp(System.Diagnostics.Process app, Family? family)
    {
        if (!app.HasExited) app.Kill(entireProcessTree: true);
        app.WaitForExit(30_000);
        if (family is null) return;
        foreach (var pid in new[] { family.Daemon, family.NonDaemon, family.Server }.Concat(family.Workers)) KillIfRunning(pid);
        app.Dispose();
    }

    [TestCase("Spawn")]
    [TestCase("ForkServer")]
    public void DaemonChildrenAndPoolWorkersEndWhenTheParentIsKilled(string method)
    {
        var (app, family) = StartFamily(method);
        try
        {
            ForkKit.Unix.Syscalls.Kill(family.Parent, SIGKILL);
            Assert.That(app.WaitForExit(30_000), Is.True, "the parent did not die of SIGKILL");
            var clock = Stopwatch.StartNew();
            // Generous for a loaded machine: the children see the parent end at once, and end.
            bool ended = Wait.Until(() => HasEnded(family.Daemon) && family.Workers.All(HasEnded) && (family.Server == 0 || HasEnded(family.Server)), seconds: 10);
            Assert.That(ended, Is.True,
                $"still running {clock.Elapsed.TotalSeconds:0.0} s after the parent died: " +
                string.Join(", ", new[] { family.Daemon, family.Server }.Concat(family.Workers).Where(p => p != 0 && !HasEnded(p))));
            TestContext.Out.WriteLine($"{method}: the daemon child and both pool workers ended {clock.ElapsedMilliseconds} ms after the parent");
            Assert.That(HasEnded(family.NonDaemon), Is.False, "a non-daemon child runs on after its parent is killed, as under Python");
        }
        finally
        {
            CleanUp(app, family);
        }
    }

    [TestCase("Spawn")]
    [TestCase("ForkServer")]
    public void CtrlCEndsTheParentAndEveryChildQuietly(string method)
    {
        var (app, family) = StartFamily(method);
        try
        {
            ForkKit.Unix.Syscalls.Kill(-family.Parent, SIGINT); // the whole process group, as a terminal does
            Assert.That(app.WaitForExit(30_000), Is.True, "the parent did not end on SIGINT");
            Assert.That(app.ExitCode, Is.EqualTo(128 + SIGINT), "the parent ends as interrupted (killed by SIGINT)");
            bool ended = Wait.Until(() => new[] { family.Daemon, family.NonDaemon, family.Server }.Concat(family.Workers).All(p => p == 0 || HasEnded(p)), seconds: 10);
            Assert.That(ended, Is.True, "every child ends on Ctrl-C, the non-daemon one too, as under Python");
        }
        finally
        {
            CleanUp(app, family);
        }
    }
}
