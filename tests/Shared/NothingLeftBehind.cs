using ForkKit.Diagnostics;

namespace ForkKit.Tests;

/// <summary>After the whole suite: this test process has no child left, running or (on Linux) a zombie.</summary>
[SetUpFixture]
public class NothingLeftBehind
{
    [OneTimeTearDown]
    public void NoChildIsLeft() =>
        Assert.That(ProcessTable.ChildrenOf(Environment.ProcessId), Is.Empty, "children of the test process after the suite");
}
