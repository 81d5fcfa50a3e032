using System.Text.RegularExpressions;
using ForkKit.Tests.Support;

namespace ForkKit.Tests;

/// <summary>
/// ForkKit as a user gets it: the three packages `make pack` makes, used from fresh projects
/// outside the tree, with a package source that serves only the ForkKit packages and this
/// machine's package cache for everything else (no network when the cache holds what the
/// projects need). A console app run from its build, a framework-dependent and a
/// self-contained publish; an NUnit project with ForkKit.Testing; the forkkit tool.
/// </summary>
[NonParallelizable]
public class PackageConsumerTests
{
    static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);
    DirectoryInfo _work = null!;
    string _config = "";
    string _version = "";

    [OneTimeSetUp]
    public void PackIntoALocalSource()
    {
        _work = Directory.CreateTempSubdirectory("forkkit-consumer-");
        var packages = Path.Combine(_work.FullName, "packages");
        foreach (var project in new[] { "ForkKit", "ForkKit.Testing", "ForkKit.Cli" })
        {
            var csproj = Path.Combine(Repo.Root, "src", project, project + ".csproj");
            var pack = Repo.Run(Repo.Dotnet, ["pack", csproj, "-c", Repo.Configuration, "--no-build", "-o", packages, "--nologo", "-v", "quiet"], Limit);
            Assert.That(pack.ExitCode, Is.EqualTo(0), pack.Stdout + pack.Stderr);
        }
        var forkKit = Directory.GetFiles(packages, "ForkKit.*.nupkg").Select(Path.GetFileName)
            .Select(f => Regex.Match(f!, @"^ForkKit\.(\d+\.\d+\.\d+.*)\.nupkg$")).Single(m => m.Success);
        _version = forkKit.Groups[1].Value;

        // The ForkKit packages come from the local source only, and are extracted into a cache
        // of this run's own; every other package is read from the machine's cache (a fallback
        // folder) or its usual source.
        var machineCache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                           ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        _config = Path.Combine(_work.FullName, "NuGet.config");
        File.WriteAllText(_config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="{Path.Combine(_work.FullName, "cache")}" /></config>
              <fallbackPackageFolders><clear /><add key="machine" value="{machineCache}" /></fallbackPackageFolders>
              <packageSources>
                <clear />
                <add key="forkkit" value="{packages}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="forkkit"><package pattern="ForkKit" /><package pattern="ForkKit.*" /></packageSource>
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);
    }

    [OneTimeTearDown]
    public void RemoveTheWork() => _work.Delete(recursive: true);

    Repo.Result Dotnet(string dir, params string[] args)
    {
        var r = Repo.Run(Repo.Dotnet, args, Limit, workingDir: dir);
        Assert.That(r.ExitCode, Is.EqualTo(0), $"dotnet {string.Join(' ', args)}:\n{r.Stdout}{r.Stderr}");
        return r;
    }

    string NewProject(string name, string template)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_work.FullName, name)).FullName;
        File.Copy(_config, Path.Combine(dir, "NuGet.config"));
        if (template.Length > 0) Dotnet(dir, "new", template, "-n", name, "-o", dir, "--no-restore");
        return dir;
    }

    const string ConsoleProgram = """
        using ForkKit;
        using Lock = ForkKit.Lock;

        foreach (var method in new[] { StartMethod.Spawn, StartMethod.ForkServer })
        {
            var p = new Process(Hello, method.ToString()) { StartMethod = method };
            p.Start();
            p.Join();
            Console.WriteLine($"{method}: exit code {p.ExitCode}");
        }

        using (var pool = new Pool(2))
            Console.WriteLine("squares: " + string.Join(",", pool.Map(Square, new[] { 1, 2, 3, 4, 5 })));

        // Two processes add 1 to a number in a file 200 times each, read and written under the Lock.
        var counter = Path.Combine(Path.GetTempPath(), $"consumer-counter-{Environment.ProcessId}");
        File.WriteAllText(counter, "0");
        using (var lk = new Lock())
        {
            var adders = new[] { new Process(Add, counter, lk), new Process(Add, counter, lk) };
            foreach (var a in adders) a.Start();
            foreach (var a in adders) a.Join();
            Console.WriteLine($"adders: exit codes {adders[0].ExitCode},{adders[1].ExitCode}; counter {File.ReadAllText(counter)}");
        }
        File.Delete(counter);

        static void Hello(string method) => Console.WriteLine($"hello from {method} child {Environment.ProcessId}");
        static int Square(int n) => n * n;
        static void Add(string file, Lock lk)
        {
            for (int i = 0; i < 200; i++)
                using (lk.Hold())
                    File.WriteAllText(file, (int.Parse(File.ReadAllText(file)) + 1).ToString());
        }
        """;

    static void AssertConsoleOutput(Repo.Result r)
    {
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Stdout + r.Stderr);
        Assert.That(r.Stdout, Does.Match(@"hello from Spawn child \d+\nSpawn: exit code 0\n"));
        Assert.That(r.Stdout, Does.Match(@"hello from ForkServer child \d+\nForkServer: exit code 0\n"));
        Assert.That(r.Stdout, Does.Contain("squares: 1,4,9,16,25\n"));
        Assert.That(r.Stdout, Does.Contain("adders: exit codes 0,0; counter 400\n"), "the Lock kept the two processes' updates apart");
    }

    [Test]
    public void AConsoleAppRunsFromItsBuildAndFromBothKindsOfPublish()
    {
        var dir = NewProject("ConsumerApp", "console");
        File.WriteAllText(Path.Combine(dir, "Program.cs"), ConsoleProgram);
        Dotnet(dir, "add", "package", "ForkKit", "--version", _version);
        Dotnet(dir, "build", "-c", "Release", "--nologo", "-v", "quiet");
        AssertConsoleOutput(Repo.Run(Repo.Dotnet, [Path.Combine(dir, "bin", "Release", "net10.0", "ConsumerApp.dll")], Limit, workingDir: dir));

        var frameworkDependent = Path.Combine(dir, "publish-fd");
        Dotnet(dir, "publish", "-c", "Release", "-o", frameworkDependent, "--nologo", "-v", "quiet");
        AssertConsoleOutput(Repo.Run(Path.Combine(frameworkDependent, "ConsumerApp"), [], Limit, workingDir: _work.FullName));

        var selfContained = Path.Combine(dir, "publish-sc");
        Dotnet(dir, "publish", "-c", "Release", "-r", "linux-x64", "--self-contained", "-o", selfContained, "--nologo", "-v", "quiet");
        Assert.That(File.Exists(Path.Combine(selfContained, "libforkkit.so")), "the linux-x64 shim is published beside the app");
        AssertConsoleOutput(Repo.Run(Path.Combine(selfContained, "ConsumerApp"), [], Limit, workingDir: _work.FullName));
    }

    const string ReapingTests = """
        using ForkKit.Testing;
        using NUnit.Framework;
        using Is = ForkKit.Testing.Is;

        [AssertChildrenReaped]
        public class Reaping
        {
            [Test]
            public void JoinsItsChild()
            {
                var p = new ForkKit.Process(Nothing);
                p.Start();
                p.Join();
                Assert.That(p.ExitCode, NUnit.Framework.Is.EqualTo(0));
            }

            [Test]
            public void LeavesAZombie()
            {
                var p = new ForkKit.Process(Nothing);
                p.Start();
                var deadline = DateTime.UtcNow.AddSeconds(60);
                while (!Is.Zombie.ApplyTo(p.Pid!.Value).IsSuccess && DateTime.UtcNow < deadline) Thread.Sleep(20);
                // not joined: the child stays a zombie
            }

            static void Nothing() { }
        }
        """;

    [Test]
    public void AnNUnitProjectWithForkKitTestingFailsTheTestThatLeavesAZombie()
    {
        var dir = NewProject("ConsumerTests", "");
        File.WriteAllText(Path.Combine(dir, "ConsumerTests.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <IsTestProject>true</IsTestProject>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Microsoft.NET.Test.Sdk" Version="18.0.1" />
                <PackageReference Include="NUnit" Version="4.4.0" />
                <PackageReference Include="NUnit3TestAdapter" Version="5.2.0" />
                <PackageReference Include="ForkKit.Testing" Version="{_version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(dir, "Reaping.cs"), ReapingTests);
        Dotnet(dir, "build", "-c", "Release", "--nologo", "-v", "quiet");
        var r = Repo.Run(Repo.Dotnet, ["test", "-c", "Release", "--no-build", "--nologo", "--logger", "console;verbosity=normal"], Limit, workingDir: dir);
        Assert.That(r.ExitCode, Is.Not.EqualTo(0), r.Stdout + r.Stderr);
        Assert.That(r.Stdout, Does.Match(@"Passed JoinsItsChild"), r.Stdout);
        Assert.That(r.Stdout, Does.Match(@"Failed LeavesAZombie"), r.Stdout);
        Assert.That(r.Stdout, Does.Match(@"1 child process\(es\) of pid \d+ not reaped:"), r.Stdout);
        Assert.That(r.Stdout, Does.Match(@"zombie \(exited, not waited for\)"), r.Stdout);
        Assert.That(r.Stdout, Does.Match(@"Passed: 1|Passed:\s+1"), r.Stdout);
    }

    [Test]
    public void TheToolInstallsAndShowsAZombie()
    {
        var tools = Path.Combine(_work.FullName, "tools");
        Dotnet(_work.FullName, "tool", "install", "--tool-path", tools, "--configfile", _config, "ForkKit.Cli", "--version", _version);
        var version = Repo.Run(Path.Combine(tools, "forkkit"), ["--version"], Limit, workingDir: _work.FullName);
        Assert.That(version.Stdout.Trim(), Is.EqualTo(_version), version.Stderr);
        var run = Repo.Run(Path.Combine(tools, "forkkit"), ["demo", "zombie", "--hold", "1"], Limit, workingDir: _work.FullName);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Stdout + run.Stderr);
        Assert.That(run.Stdout, Does.Match(@"\n\s+\d+\s+\d+ Z forkkit-child\s+\[forkkit-child\] <defunct>\n"));
    }
}
