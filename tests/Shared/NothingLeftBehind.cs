using ForkKit.Diagnostics;
using ForkKit.Tests.Support;

[assembly: RunLast(typeof(ForkKit.Tests.NothingLeftBehind))]

namespace ForkKit.Tests;

/// <summary>
/// The last test of the run (RunLast): after every other test, this test process has no child
/// left, running or (on Linux) a zombie, and no ForkKit name it created left linked. A test
/// that leaks is caught by the check after each test; this one catches what leaks outside any
/// test (a fixture's set-up or tear-down, a thread that outlives its test), and as a test of
/// its own its failure fails the run by name.
/// </summary>
[NonParallelizable]
public class NothingLeftBehind
{
    /// <remarks>
    /// The fork server (StartMethod.ForkServer) lives as long as the test process and is not a
    /// leak; its children are the test process's and are. Children on their way out (a pool
    /// disposed by the test before) get a few seconds to be reaped.
    /// </remarks>
    [Test]
    public void NoChildAndNoNameIsLeftAfterEveryOtherTest()
    {
        Wait.Until(() => Children.Mine().Count == 0, 10);
        Assert.That(Children.Mine(), Is.Empty, "children of the test process (and of its fork server) after every other test");
        int self = Environment.ProcessId;
        Assert.That(NamedSemaphores.CreatedBy(self).Select(s => s.Path), Is.Empty, "named semaphores this process created, still linked");
        Assert.That(NamedSharedMemory.CreatedBy(self).Select(s => s.Path), Is.Empty, "shared memory (Lock owner words) this process created, still linked");
    }
}
