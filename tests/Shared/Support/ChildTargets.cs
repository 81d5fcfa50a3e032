namespace ForkKit.Tests.Support;

/// <summary>
/// Targets the tests run in children, on both platforms. Each is static, as a Process target
/// must be. A suite's own targets are in its ChildTargets.Unix.cs or ChildTargets.Windows.cs.
/// </summary>
static partial class ChildTargets
{
    public static void Noop() { }

    public static int ReturnsValue() => 42;

    public static void SleepSeconds(double seconds) => Thread.Sleep(TimeSpan.FromSeconds(seconds));

    public static void ExitWith(int code) => Environment.Exit(code);

    public static void Raise(string message) => throw new InvalidOperationException(message);

    public static async Task SleepAsync(int milliseconds) => await Task.Delay(milliseconds);

    public static async Task ThrowsAsync()
    {
        await Task.Yield();
        throw new TimeoutException("async failure");
    }

    /// <summary>Exits 0 when this process's name (from --name on its command line) is <paramref name="expected"/>, else 3.</summary>
    public static void CheckName(string expected)
    {
        if (Process.CurrentName != expected)
        {
            Console.Error.WriteLine($"expected the name [{expected}], got [{Process.CurrentName}]");
            Environment.Exit(3);
        }
    }
}

public record Point(int X, int Y, string Label);
