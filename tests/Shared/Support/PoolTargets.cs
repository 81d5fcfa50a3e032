namespace ForkKit.Tests.Support;

/// <summary>Targets that run in pool workers.</summary>
static class PoolTargets
{
    public static int Square(int n) => n * n;

    public static int Add(int a, int b) => a + b;

    public static string? Twice(string? s) => s is null ? null : s + s;

    public static double Halve(long n) => n / 2.0;

    public static int Lengths(int[]? values) => values?.Length ?? -1;

    public static List<string> Repeat(string s, int times) => Enumerable.Repeat(s, times).ToList();

    public static bool Negate(bool b) => !b;

    public static async Task<int> DoubleLater(int n)
    {
        await Task.Yield();
        return 2 * n;
    }

    public static int SlowSquare(int n, int ms)
    {
        Thread.Sleep(ms);
        return n * n;
    }

    public static int Sleep(int ms)
    {
        Thread.Sleep(ms);
        return ms;
    }

    public static int Pid() => Environment.ProcessId;

    public static int PidAfter(int ms)
    {
        Thread.Sleep(ms);
        return Environment.ProcessId;
    }

    /// <summary>Writes its pid to <paramref name="file"/>, then sleeps: a test can kill it mid-task.</summary>
    public static int AnnounceThenSleep(string file, int ms)
    {
        File.WriteAllText(file + ".tmp", Environment.ProcessId.ToString());
        File.Move(file + ".tmp", file);
        Thread.Sleep(ms);
        return 0;
    }

    public static int Fail(string message) => throw new InvalidOperationException(message);

    public static int FailOn(int n) => n % 5 == 3 ? throw new ArgumentException($"bad item {n}") : n;

    public static int ThrowCustom(int n) => throw new OnlyMessageException($"custom {n}");

    public static int ThrowUnrebuildable(int n) => throw new NoMessageConstructorException(n);

    public static Stream ReturnsStream(int n) => new MemoryStream();

    public static Point ReturnsPoint(int n) => new(n, -n, $"p{n}");

    public static int TakesObject(object o) => 1;

    static int s_initCalls;
    static string s_initValue = "";

    public static void Init(string value)
    {
        s_initCalls++;
        s_initValue = value;
    }

    public static string InitState(int _) => $"{s_initCalls}:{s_initValue}";

    public static void InitFails() => throw new InvalidOperationException("initializer failed on purpose");

    /// <summary>An initializer that never returns: its worker never reads a task.</summary>
    public static void InitBlocksForever() => Thread.Sleep(Timeout.Infinite);

    public static int Length(string s) => s.Length;

    public static string Hello() => "hello";
}

public class OnlyMessageException : Exception
{
    public OnlyMessageException(string message) : base(message) { }
}

public class NoMessageConstructorException : Exception
{
    public NoMessageConstructorException(int code) : base($"code {code}") { }
}
