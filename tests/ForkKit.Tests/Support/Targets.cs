namespace ForkKit.Tests.Support;

/// <summary>Targets the tests run in children. Each is static, as a Process target must be.</summary>
static class ChildTargets
{
    public static void Noop() { }

    public static int ReturnsValue() => 42;

    public static void SleepSeconds(double seconds) => Thread.Sleep(TimeSpan.FromSeconds(seconds));

    public static void ExitWith(int code) => Environment.Exit(code);

    public static void Raise(string message) => throw new InvalidOperationException(message);

    public static void Print(string text) => Console.WriteLine(text);

    public static void PrintError(string text) => Console.Error.WriteLine(text);

    /// <summary>Exits 0 when stdin is /dev/null and reads as empty, 3 otherwise.</summary>
    public static void CheckStdinIsDevNull()
    {
        var link = new FileInfo("/proc/self/fd/0").LinkTarget;
        var rest = Console.In.ReadToEnd();
        Environment.Exit(link == "/dev/null" && rest.Length == 0 ? 0 : 3);
    }

    /// <summary>Prints the comm and the command line this child sees, then sleeps.</summary>
    public static async Task SleepAsync(int milliseconds) => await Task.Delay(milliseconds);

    public static async Task ThrowsAsync()
    {
        await Task.Yield();
        throw new TimeoutException("async failure");
    }
}

public record Point(int X, int Y, string Label);
