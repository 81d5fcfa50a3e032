using ForkKit.Tests.Support;

namespace ForkKit.Tests;

/// <summary>
/// A program started with SIGCHLD ignored (as some shells, daemon managers and containers start
/// one): the kernel, or the runtime, reaps every child at once and waitpid says ECHILD. Process,
/// Lock and Pool must work as usual, with the exit codes the children reported.
/// </summary>
public class SigchldIgnoredTests
{
    const int SIGCHLD = 17;

    static Repo.Result RunWithSigchldIgnored(string method) =>
        Repo.Run(Path.Combine(Repo.Root, "native-interop", "build", "tests", "signal-launch"),
            ["--ignore", SIGCHLD.ToString(), "--", Repo.Dotnet, "exec", Path.Combine(Repo.OutputDir, "ForkKit.TestApp.dll"), "sigchld-ignored", method],
            TimeSpan.FromMinutes(2));

    /// <remarks>
    /// A death by a signal no one here sent cannot be known for a spawned child: it reported
    /// nothing, and reads as 255. The fork server's children are the server's, and the server
    /// starts with SIGCHLD at its default action, so it reads their exact status and passes it on.
    /// </remarks>
    [TestCase("Spawn", 255)]
    [TestCase("ForkServer", -9)]
    public void ExitCodesLocksAndPoolsWorkWhenChildrenAreReapedByTheKernel(string method, int killedBySignal)
    {
        var r = RunWithSigchldIgnored(method);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Stdout + r.Stderr);
        Assert.That(r.Stdout, Does.Contain("returns: alive False exit 0\n"));
        Assert.That(r.Stdout, Does.Contain("throws: alive False exit 1\n"));
        Assert.That(r.Stdout, Does.Contain("exits 5: alive False exit 5\n"));
        Assert.That(r.Stdout, Does.Contain($"killed itself: alive False exit {killedBySignal}\n"));
        Assert.That(r.Stdout, Does.Contain("terminated: alive False exit -15\n"));
        Assert.That(r.Stdout, Does.Contain("lock: exit 0\n"));
        Assert.That(r.Stdout, Does.Contain("pool: sum 2470\n"), "a pool whose workers retire every two tasks");
        Assert.That(r.Stdout, Does.Contain("left: 0 children, 0 zombies\n"));
    }
}
