namespace ForkKit.Fuzzing;

/// <summary>
/// The targets the fuzzed task and start messages name: one per kind of parameter and result
/// the wire carries (binary-carried scalars, arrays and lists; JSON records, tuples, enums,
/// dictionaries, object), with zero, one, two and three parameters. Each returns its input,
/// so a binary loop that runs one has no effect beyond decoding.
/// </summary>
public static class FuzzTargets
{
    public static int Nothing() => 42;
    public static int Int(int x) => x;
    public static long Long(long x) => x;
    public static double Double(double x) => x;
    public static bool Bool(bool x) => x;
    public static string? String(string? x) => x;
    public static int[]? Ints(int[]? x) => x;
    public static long[]? Longs(long[]? x) => x;
    public static List<double>? Doubles(List<double>? x) => x;
    public static bool[]? Bools(bool[]? x) => x;
    public static List<string?>? Strings(List<string?>? x) => x;
    public static long Add(int a, long b) => a + b;
    public static string? Mixed(int a, string? b, double[]? c) => b;
    public static int? Maybe(int? x) => x;
    public static decimal Money(decimal x) => x;
    public static DateTime When(DateTime x) => x;
    public static Color Paint(Color x) => x;
    public static Point Shape(Point x) => x;
    public static (int, string) Pair((int, string) x) => x;
    public static Dictionary<string, int>? Table(Dictionary<string, int>? x) => x;
    public static object? Anything(object? x) => x;
    public static Task<int> Later(int x) => Task.FromResult(x);
}

public enum Color { Red, Green, Blue }

public sealed record Point(int X, int Y);
