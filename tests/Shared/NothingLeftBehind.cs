using ForkKit.Diagnostics;

namespace ForkKit.Tests;

/// <summary>After the whole suite: this test process has no child left, running or (on Linux) a zombie.</summary>
[SetUpFixture]
public class NothingLeftBehind
{
    /// <remarks>
    /// The fork server (StartMethod.ForkServer) lives as long as the test process and is not a
    /// leak; its children are the test process's and are.
    /// </remarks>
    [OneTimeTearDown]
    public void NoChildIsLeft() =>
        Assert.That(Support.Children.Mine(), Is.Empty, "children of the test process (and of its fork server) after the suite");
}
