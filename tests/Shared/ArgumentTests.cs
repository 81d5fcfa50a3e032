using ForkKit.Diagnostics;
using ForkKit.Tests.Support;

namespace ForkKit.Tests;

/// <summary>What crosses to a child arrives intact; what cannot cross fails in the parent, before any fork.</summary>
public class ArgumentTests
{
    const string Tricky = "héllo ✓ \"quoted\" \\ back\nslash\ttab \u0001 😀";

    // Each checker exits 0 when its arguments are exactly what the test sent, 3 otherwise.
    static void CheckScalars(int i, long l, string s, double d, double tiny, bool b, char c, decimal m)
    {
        bool ok = i == -7 && l == 1L << 40 && s == Tricky && d == 0.1 && tiny == 5e-324 && b && c == 'ß' && m == 12.345m;
        Environment.Exit(ok ? 0 : 3);
    }

    static void CheckSpecialDoubles(double nan, double inf, double negZero) =>
        Environment.Exit(double.IsNaN(nan) && double.IsPositiveInfinity(inf) && double.IsNegative(negZero) && negZero == 0 ? 0 : 3);

    static void CheckCollections(int[] array, List<string> list, Dictionary<string, int> map, int[][] jagged)
    {
        bool ok = array.SequenceEqual([1, 2, 3]) && list.SequenceEqual(["a", "b"])
            && map.Count == 2 && map["x"] == 1 && map["y"] == 2
            && jagged.Length == 2 && jagged[1].SequenceEqual([4, 5]);
        Environment.Exit(ok ? 0 : 3);
    }

    static void CheckRecord(Point p, (int, string) pair) =>
        Environment.Exit(p == new Point(3, -4, "corner") && pair == (9, "nine") ? 0 : 3);

    static void CheckNulls(string? s, int[]? array, Point? p, int? n) =>
        Environment.Exit(s is null && array is null && p is null && n is null ? 0 : 3);

    static void CheckWidened(long l, double d) => Environment.Exit(l == 5 && d == 6 ? 0 : 3);

    static void CheckDefaults(int a, int b = 20, string c = "default") => Environment.Exit(a == 1 && b == 20 && c == "default" ? 0 : 3);

    static void CheckEmpty(string s, int[] a, List<int> l) => Environment.Exit(s == "" && a.Length == 0 && l.Count == 0 ? 0 : 3);

    static void CheckLarge(int[] values) => Environment.Exit(values.Length == 200_000 && values[^1] == 199_999 ? 0 : 3);

    static int? RunChild(Delegate target, params object?[] args)
    {
        using var p = new Process(target, args);
        p.Start();
        p.JoinBounded();
        return p.ExitCode;
    }

    [Test]
    public void ScalarsArriveIntact() =>
        Assert.That(RunChild(CheckScalars, -7, 1L << 40, Tricky, 0.1, 5e-324, true, 'ß', 12.345m), Is.EqualTo(0));

    [Test]
    public void NaNInfinityAndNegativeZeroArriveIntact() =>
        Assert.That(RunChild(CheckSpecialDoubles, double.NaN, double.PositiveInfinity, -0.0), Is.EqualTo(0));

    [Test]
    public void ArraysListsAndDictionariesArriveIntact() =>
        Assert.That(RunChild(CheckCollections, new[] { 1, 2, 3 }, new List<string> { "a", "b" },
            new Dictionary<string, int> { ["x"] = 1, ["y"] = 2 }, new[] { new[] { 1 }, new[] { 4, 5 } }), Is.EqualTo(0));

    [Test]
    public void RecordsAndTuplesArriveIntact() =>
        Assert.That(RunChild(CheckRecord, new Point(3, -4, "corner"), (9, "nine")), Is.EqualTo(0));

    [Test]
    public void NullsArriveAsNull() =>
        Assert.That(RunChild(CheckNulls, null, null, null, null), Is.EqualTo(0));

    [Test]
    public void AnIntGoesWhereALongOrDoubleIsDeclared() =>
        Assert.That(RunChild(CheckWidened, 5, 6), Is.EqualTo(0));

    [Test]
    public void MissingOptionalArgumentsTakeTheirDefaults() =>
        Assert.That(RunChild(CheckDefaults, 1), Is.EqualTo(0));

    [Test]
    public void EmptyValuesArriveEmpty() =>
        Assert.That(RunChild(CheckEmpty, "", Array.Empty<int>(), new List<int>()), Is.EqualTo(0));

    [Test]
    public void AnArgumentLargerThanAPipeBufferArrivesIntact() =>
        Assert.That(RunChild(CheckLarge, Enumerable.Range(0, 200_000).ToArray()), Is.EqualTo(0));

    [Test]
    public void ArgumentsAreTakenAtStartNotAtConstruction()
    {
        var list = new List<string> { "a" };
        using var p = new Process(CheckCollections, new[] { 1, 2, 3 }, list,
            new Dictionary<string, int> { ["x"] = 1, ["y"] = 2 }, new[] { new[] { 1 }, new[] { 4, 5 } });
        list.Add("b");
        p.Start();
        p.JoinBounded();
        Assert.That(p.ExitCode, Is.EqualTo(0));
    }

    // ---- bad input: a clear message, and no child started ----

    class Counter
    {
        public int Count;
        public void Increment() => Count++;
    }

    static void TakesInt(int n) { }
    static void TakesPoint(Point p) { }
    static void TakesObject(object o) { }
    static void TakesRef(ref int n) => n++;
    delegate void RefTarget(ref int n);
    static void Generic<T>(T value) { }

    sealed class ReadOnlyThing
    {
        public ReadOnlyThing(int secret) => Secret = secret;
        public int Secret { get; }
        public int Other { get; private set; }
        public ReadOnlyThing WithOther(int other)
        {
            Other = other;
            return this;
        }
    }

    static void TakesReadOnlyThing(ReadOnlyThing t) { }

    static void AssertRefusedBeforeAnyFork(TestDelegate construct, params string[] fragments)
    {
        int childrenBefore = ProcessTable.ChildrenOf(Environment.ProcessId).Count;
        var e = Assert.Throws<ArgumentException>(construct)!;
        foreach (var f in fragments) Assert.That(e.Message, Does.Contain(f));
        Assert.That(ProcessTable.ChildrenOf(Environment.ProcessId), Has.Count.EqualTo(childrenBefore), "no child was started");
    }

    [Test]
    public void ACapturingLambdaIsRefusedNamingTheCapturedVariable()
    {
        int limit = 10;
        string label = "x";
        AssertRefusedBeforeAnyFork(() => new Process(() => Console.WriteLine(limit + label)), "captures", "'limit'", "'label'", "as arguments");
    }

    [Test]
    public void ALambdaCapturingThisIsRefused()
    {
        AssertRefusedBeforeAnyFork(() => new Process(() => Console.WriteLine(GetHashCode())), "captures 'this'");
    }

    [Test]
    public void AnInstanceMethodIsRefused()
    {
        var counter = new Counter();
        AssertRefusedBeforeAnyFork(() => new Process(counter.Increment), "instance method", "Counter", "static");
    }

    [Test]
    public void TooFewOrTooManyArgumentsAreRefused()
    {
        AssertRefusedBeforeAnyFork(() => new Process(TakesInt), "takes 1 argument(s), but 0 were given");
        AssertRefusedBeforeAnyFork(() => new Process(TakesInt, 1, 2), "takes 1 argument(s), but 2 were given");
    }

    [Test]
    public void AnArgumentOfTheWrongTypeIsRefused()
    {
        AssertRefusedBeforeAnyFork(() => new Process(TakesInt, "seven"), "argument 1 ('n')", "is string \"seven\"", "parameter is int");
        AssertRefusedBeforeAnyFork(() => new Process(TakesInt, 3.5), "is double", "parameter is int");
        AssertRefusedBeforeAnyFork(() => new Process(TakesPoint, "not a point"), "parameter is Point");
    }

    [Test]
    public void NullForAValueTypeIsRefused()
    {
        AssertRefusedBeforeAnyFork(() => new Process(TakesInt, [null]), "is null", "cannot be null");
    }

    [Test]
    public void AnArgumentTheWireCannotCarryIsRefused()
    {
        AssertRefusedBeforeAnyFork(() => new Process(TakesObject, new Action(() => { })), "a delegate is code", "cannot cross to a child process");
        AssertRefusedBeforeAnyFork(() => new Process(TakesObject, new MemoryStream()), "a stream is an open OS resource");
        AssertRefusedBeforeAnyFork(() => new Process(TakesReadOnlyThing, new ReadOnlyThing(7).WithOther(5)), "cannot cross to a child process", "arrive changed");
    }

    [Test]
    public void RefParametersAndGenericMethodsAreRefused()
    {
        AssertRefusedBeforeAnyFork(() => new Process(new RefTarget(TakesRef), 1), "ref/out");
        AssertRefusedBeforeAnyFork(() => new Process(Generic<int>, 1), "generic");
    }

    [Test]
    public void AMulticastDelegateIsRefused()
    {
        Action both = ChildTargets.Noop;
        both += ChildTargets.Noop;
        AssertRefusedBeforeAnyFork(() => new Process(both), "multicast");
    }
}
