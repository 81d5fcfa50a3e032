namespace ForkKit.Tests;

/// <summary>Lock on Windows only: a named kernel object lives as long as some handle to it.</summary>
public partial class LockTests
{
    [Test]
    public void ANameVanishesWithItsLastHandle()
    {
        var sem = new Semaphore(0);
        var name = sem.Name;
        using (Platform.Os.Kernel.OpenSemaphore(name)) { }
        sem.Dispose();
        var e = Assert.Throws<Windows.WindowsApiException>(() => Platform.Os.Kernel.OpenSemaphore(name))!;
        Assert.That(e.ErrorName, Is.EqualTo("ERROR_FILE_NOT_FOUND"));
        Assert.That(e.Message, Does.StartWith($"OpenSemaphoreW(\"Local\\{name}\") failed: ERROR_FILE_NOT_FOUND"));
    }
}
