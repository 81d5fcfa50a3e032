using ForkKit.Tests.Support;

namespace ForkKit.Tests;

/// <summary>
/// The C shim's spawn, checked by C programs built with it (native-interop/tests): its exec-error
/// pipe gets the lowest free descriptors, which can be the very numbers the child's pipes are
/// mapped to.
/// </summary>
public class ShimTests
{
    static string Program(string name) => Path.Combine(Repo.Root, "native-interop", "build", "tests", name);

    [Test]
    public void AFailedExecIsReportedEvenWhenTheErrorPipeSitsOnAMappedDescriptor()
    {
        var run = Repo.Run(Program("spawn-test"), [], TimeSpan.FromSeconds(30));
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Stdout + run.Stderr);
        Assert.That(run.Stdout, Does.Contain("ok: a failed execve with the exec-error pipe on the mapped descriptors 3 and 4 reports ENOENT"));
        Assert.That(run.Stdout, Does.Contain("ok: a successful execve with the same descriptors runs the program"));
    }

    [Test]
    public void ACutShortFailureReportIsAFailureNotASuccess()
    {
        var run = Repo.Run(Program("spawn-test-short-report"), [], TimeSpan.FromSeconds(30));
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Stdout + run.Stderr);
        Assert.That(run.Stdout, Does.Contain("ok: a cut-short failure report"));
        Assert.That(run.Stdout, Does.Contain("ok: no child is left unreaped"));
    }
}
