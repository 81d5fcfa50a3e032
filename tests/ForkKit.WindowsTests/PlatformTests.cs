using NUnit.Framework;

namespace ForkKit.WindowsTests;

/// <summary>Run last: after everything above, no Unix package was loaded on Windows.</summary>
static class PlatformTests
{
    public static void NeitherTmdsLibCNorMonoPosixWasLoaded() =>
        Assert.That(Loaded.UnixAssemblies(), Is.Empty);
}
