using ForkKit.Tests.Support;

namespace ForkKit.Tests;

/// <summary>The forkkit command installs as a dotnet tool and runs from there, shim and tracker included.</summary>
public class ToolInstallTests
{
    [Test]
    public void PackInstallAndRunTheTool()
    {
        var work = Directory.CreateTempSubdirectory("forkkit-tool-");
        try
        {
            var packages = Path.Combine(work.FullName, "packages");
            var tools = Path.Combine(work.FullName, "tools");
            var project = Path.Combine(Repo.Root, "src", "ForkKit.Cli", "ForkKit.Cli.csproj");
            var limit = TimeSpan.FromMinutes(3);
            var pack = Repo.Run(Repo.Dotnet, ["pack", project, "-c", Repo.Configuration, "-o", packages, "--nologo", "-v", "quiet"], limit);
            Assert.That(pack.ExitCode, Is.EqualTo(0), pack.Stdout + pack.Stderr);
            var install = Repo.Run(Repo.Dotnet, ["tool", "install", "--tool-path", tools, "--add-source", packages, "ForkKit.Cli"], limit);
            Assert.That(install.ExitCode, Is.EqualTo(0), install.Stdout + install.Stderr);

            var run = Repo.Run(Path.Combine(tools, "forkkit"), ["demo", "lock", "--fast"], limit, workingDir: work.FullName);
            Assert.That(run.ExitCode, Is.EqualTo(0), run.Stdout + run.Stderr);
            Assert.That(run.Stdout, Does.Contain("the lock: /dev/shm/sem.forkkit-").And.Contain("3 squared is 9"));
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }
}
