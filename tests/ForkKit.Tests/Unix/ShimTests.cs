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

    [TestCase("spawn-test", "ok: a failed execve with the exec-error pipe on the mapped descriptors 3 and 4 reports ENOENT",
        "ok: a successful execve with the same descriptors runs the program")]
    [TestCase("spawn-test-short-report", "ok: a cut-short failure report (pipe on the mapped descriptors 3 and 4) is a failure with EIO",
        "ok: no child is left unreaped")]
    public void TheExecErrorPipeNeverReadsAFailureAsSuccess(string program, string check, string alsoCheck)
    {
        var run = Repo.Run(Program(program), [], TimeSpan.FromSeconds(30));
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Stdout + run.Stderr);
        Assert.That(run.Stdout, Does.Contain(check).And.Contain(alsoCheck));
    }
}
