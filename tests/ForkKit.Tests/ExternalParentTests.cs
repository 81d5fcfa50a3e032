using System.Text.RegularExpressions;
using ForkKit.Diagnostics;
using ForkKit.Tests.Support;

namespace ForkKit.Tests;

/// <summary>
/// Process used from a separate parent program (tests/ForkKit.TestApp), however that program
/// is started, and what happens to its children when it exits.
/// </summary>
public class ExternalParentTests
{
    static string AppDll => Path.Combine(Repo.OutputDir, "ForkKit.TestApp.dll");
    static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    static void AssertHelloWorked(Repo.Result r)
    {
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Stderr);
        var m = Regex.Match(r.Stdout, @"Process-1 \(pid (\d+), parent (\d+)\): hello from the child\n(?:.*\n)*parent (\d+): child (\d+) exit code 0");
        Assert.That(m.Success, Is.True, r.Stdout);
        Assert.That(m.Groups[2].Value, Is.EqualTo(m.Groups[3].Value), "the child's parent is the app");
        Assert.That(m.Groups[1].Value, Is.EqualTo(m.Groups[4].Value), "the child printed its own pid");
    }

    [Test]
    public void WorksFromDotnetAppDll() =>
        AssertHelloWorked(Repo.Run(Repo.Dotnet, ["exec", AppDll, "hello"], Limit));

    [Test]
    public void WorksFromTheAppHost() =>
        AssertHelloWorked(Repo.Run(Path.Combine(Repo.OutputDir, "ForkKit.TestApp"), ["hello"], Limit));

    [Test]
    public void WorksFromDotnetRun()
    {
        var project = Path.Combine(Repo.Root, "tests", "ForkKit.TestApp");
        AssertHelloWorked(Repo.Run(Repo.Dotnet, ["run", "--project", project, "-c", Repo.Configuration, "--no-build", "--", "hello"], Limit));
    }

    [Test]
    public void WorksFromAPublishedApp()
    {
        var output = Directory.CreateTempSubdirectory("forkkit-publish-");
        try
        {
            var project = Path.Combine(Repo.Root, "tests", "ForkKit.TestApp", "ForkKit.TestApp.csproj");
            var publish = Repo.Run(Repo.Dotnet, ["publish", project, "-c", Repo.Configuration, "-o", output.FullName, "--nologo", "-v", "quiet"], Limit);
            Assert.That(publish.ExitCode, Is.EqualTo(0), publish.Stdout + publish.Stderr);
            Assert.That(File.Exists(Path.Combine(output.FullName, "libforkkit.so")), "the C shim is published beside ForkKit.dll");
            AssertHelloWorked(Repo.Run(Path.Combine(output.FullName, "ForkKit.TestApp"), ["hello"], Limit, workingDir: Path.GetTempPath()));
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    static int ChildPid(Repo.Result r)
    {
        var m = Regex.Match(r.Stdout, @"child (\d+)");
        Assert.That(m.Success, Is.True, r.Stdout + r.Stderr);
        return int.Parse(m.Groups[1].Value);
    }

    [Test]
    public void ADaemonChildIsTerminatedWhenTheParentExits()
    {
        var r = Repo.Run(Repo.Dotnet, ["exec", AppDll, "daemon"], Limit);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Stderr);
        int child = ChildPid(r);
        Assert.That(r.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), "the parent did not wait for its 60 s daemon child");
        // The parent terminated and reaped it before exiting: no such process remains,
        // neither running (an orphan) nor as a zombie.
        Assert.That(ProcessTable.Find(child), Is.Null);
    }

    [Test]
    public void ANonDaemonChildIsJoinedBeforeTheParentExits()
    {
        var marker = Path.Combine(Path.GetTempPath(), $"forkkit-joined-{Guid.NewGuid():N}");
        try
        {
            var r = Repo.Run(Repo.Dotnet, ["exec", AppDll, "non-daemon", "1500", marker], Limit);
            Assert.That(r.ExitCode, Is.EqualTo(0), r.Stderr);
            int child = ChildPid(r);
            Assert.That(File.Exists(marker), Is.True, "the child finished its work before the parent exited");
            Assert.That(r.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(1.5)));
            Assert.That(ProcessTable.Find(child), Is.Null);
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Test]
    public void TheWorkerHostRunAlonePrintsWhatItIs()
    {
        var config = Path.Combine(Repo.OutputDir, "ForkKit.Tests.runtimeconfig.json");
        var host = Path.Combine(Repo.OutputDir, ForkKit.Launching.WorkerCommand.WorkerHostFile);
        var r = Repo.Run(Repo.Dotnet, ["exec", "--runtimeconfig", config, host], Limit);
        Assert.That(r.ExitCode, Is.EqualTo(2), r.Stdout + r.Stderr);
        Assert.That(r.Stderr, Does.Contain("is ForkKit's worker host"));
    }
}
