using NUnit.Framework;

/// <summary>
/// After every test of the assembly (a SetUpFixture in no namespace wraps them all): the Windows
/// backend and its children's results never needed a Unix package in this process.
/// </summary>
[SetUpFixture]
public class NoUnixPackage
{
    [OneTimeTearDown]
    public void NeitherTmdsLibCNorMonoPosixWasLoaded() =>
        Assert.That(ForkKit.Tests.Support.Loaded.UnixAssemblies(), Is.Empty);
}
