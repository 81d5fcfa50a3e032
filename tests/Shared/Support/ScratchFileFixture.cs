using NUnit.Framework;

namespace ForkKit.Tests.Support;

/// <summary>
/// A fixture whose tests each get a file name of their own in the temp folder, for children to
/// write to; TearDown deletes it (and its ".tmp" twin), whatever the test did.
/// </summary>
public abstract class ScratchFileFixture
{
    protected string Scratch { get; private set; } = "";

    [SetUp]
    public void NameAScratchFile() => Scratch = Path.Combine(Path.GetTempPath(), $"forkkit-test-{Guid.NewGuid():N}");

    [TearDown]
    public void DeleteTheScratchFile()
    {
        File.Delete(Scratch);
        File.Delete(Scratch + ".tmp");
    }
}
