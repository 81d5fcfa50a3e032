using System.Collections;
using System.Reflection;
using System.Text;
using CsCheck;
using ForkKit.Wire;

namespace ForkKit.Tests;

/// <summary>
/// Property tests of the pool's wire codec (docs/wire-format.md): random values of every type
/// the binary encoding carries, shrunk to a smallest failing value on failure, must come back
/// as they were sent through the binary encoding alone, through a whole binary task and answer,
/// and through the JSON task and answer.
/// </summary>
public class WirePropertyTests
{
    // ---- generators ----

    static readonly Gen<int> Ints = Gen.Frequency((4, Gen.Int), (1, Gen.OneOf(0, 1, -1, int.MinValue, int.MaxValue)));

    static readonly Gen<long> Longs = Gen.Frequency((4, Gen.Long), (1, Gen.OneOf(0L, -1L, long.MinValue, long.MaxValue, 1L << 53, -(1L << 53) - 1)));

    /// <summary>Ordinary doubles, every bit pattern (NaNs with payloads, subnormals), and the edges.</summary>
    static readonly Gen<double> Doubles = Gen.Frequency(
        (3, Gen.Double),
        (2, Gen.Double.Special),
        (2, Gen.Long.Select(BitConverter.Int64BitsToDouble)),
        (2, Gen.OneOf(double.NaN, double.PositiveInfinity, double.NegativeInfinity, -0.0, 0.0, double.Epsilon, -double.Epsilon,
            double.MaxValue, double.MinValue, 0.1, 1e-310)));

    static readonly Gen<bool> Bools = Gen.Bool;

    /// <summary>
    /// Text as well-formed UTF-16: ASCII, control characters, characters JSON escapes, the rest
    /// of the basic plane (around the surrogate range) and surrogate pairs.
    /// </summary>
    static readonly Gen<string> Text = Gen.OneOf(
            Gen.Char['\u0020', '\u007e'].Select(c => c.ToString()),
            Gen.Char['\u0000', '\u001f'].Select(c => c.ToString()),
            Gen.Char["\"\\/<>&'+`\u007f\u2028\u2029"].Select(c => c.ToString()),
            Gen.Char['\u0080', '\uD7FF'].Select(c => c.ToString()),
            Gen.Char['\uE000', '\uFFFF'].Select(c => c.ToString()),
            Gen.Int[0x10000, 0x10FFFF].Select(char.ConvertFromUtf32))
        .List[0, 12].Select(string.Concat);

    static readonly Gen<string?> Strings = Gen.Frequency((1, Gen.Const((string?)null)), (1, Gen.Const<string?>("")), (8, Text.Select(s => (string?)s)));

    static Gen<T[]?> Arrays<T>(Gen<T> element) => Gen.Frequency((1, Gen.Const((T[]?)null)), (9, element.Array[0, 20].Select(a => (T[]?)a)));

    static Gen<List<T>?> Lists<T>(Gen<T> element) => Gen.Frequency((1, Gen.Const((List<T>?)null)), (9, element.List[0, 20].Select(l => (List<T>?)l)));

    // ---- the targets a task names: one identity per carried type ----

    static int Int(int x) => x;
    static long Long(long x) => x;
    static double Double(double x) => x;
    static bool Bool(bool x) => x;
    static string? String(string? x) => x;
    static int[]? IntArray(int[]? x) => x;
    static long[]? LongArray(long[]? x) => x;
    static double[]? DoubleArray(double[]? x) => x;
    static bool[]? BoolArray(bool[]? x) => x;
    static string?[]? StringArray(string?[]? x) => x;
    static List<int>? IntList(List<int>? x) => x;
    static List<long>? LongList(List<long>? x) => x;
    static List<double>? DoubleList(List<double>? x) => x;
    static List<bool>? BoolList(List<bool>? x) => x;
    static List<string?>? StringList(List<string?>? x) => x;

    /// <summary>One carried type: how its values are made, and the identity target that takes and returns it.</summary>
    public abstract class Carried(string target)
    {
        public MethodInfo Method { get; } = typeof(WirePropertyTests).GetMethod(target, BindingFlags.Static | BindingFlags.NonPublic)!;
        internal TargetReference Reference => new(Method.Module.Assembly.Location, Method.Module.Assembly.FullName!, typeof(WirePropertyTests).FullName!, Method.Name, Method.MetadataToken);
        public abstract void Binary();
        public abstract void BinaryTaskAndAnswer();
        public abstract void JsonTaskAndAnswer();
        public abstract void CorruptBinaryFrames();
        public override string ToString() => Arguments.TypeName(Method.ReturnType);
    }

    sealed class Carried<T>(Gen<T> values, string target) : Carried(target)
    {
        static string Print(T value) => Show(value);
        static string PrintChunk(List<T> chunk) => Show(chunk);

        /// <summary>
        /// Write&lt;T&gt; and WriteBoxed write the same bytes; Read&lt;T&gt; and ReadBoxed give the
        /// value back, bit for bit, having read all of them; a run of values written with
        /// WriteRange reads back value by value.
        /// </summary>
        public override void Binary()
        {
            values.Sample(value =>
            {
                var typed = new WireWriter(4);
                typed.Write(value);
                var boxed = new WireWriter(4);
                boxed.WriteBoxed(typeof(T), value);
                var bytes = typed.ToArray();
                Expect(bytes.AsSpan().SequenceEqual(boxed.ToArray()), "Write<T> and WriteBoxed wrote different bytes");

                var r = new WireReader(bytes);
                Expect(Same(value, r.Read<T>(), bits: true), "Read<T> gave another value");
                Expect(r.Position == bytes.Length, $"Read<T> read {r.Position} of {bytes.Length} bytes");
                var b = new WireReader(bytes);
                Expect(Same(value, b.ReadBoxed(typeof(T)), bits: true), "ReadBoxed gave another value");
                Expect(b.Position == bytes.Length, $"ReadBoxed read {b.Position} of {bytes.Length} bytes");
            }, iter: Iterations, print: Print);

            values.List[0, 8].Sample(run =>
            {
                var w = new WireWriter(4);
                w.WriteRange(run, 0, run.Count);
                var bytes = w.ToArray();
                var r = new WireReader(bytes);
                foreach (var value in run) Expect(Same(value, r.Read<T>(), bits: true), "a value of the run read back as another");
                Expect(r.Position == bytes.Length, "bytes left after the run");
            }, iter: Iterations, print: PrintChunk);
        }

        /// <summary>
        /// A chunk as Pool writes it (BinaryTask, WriteRange) reads back item by item in ReadTask;
        /// the worker's typed loop answers it with the same values; BinaryValues reads back in
        /// ReadValues&lt;T&gt;.
        /// </summary>
        public override void BinaryTaskAndAnswer()
        {
            var reference = Reference;
            var resolved = new ResolvedTarget(Method);
            Expect(resolved.Loop is not null, "an identity of a carried type has a typed loop");
            Chunks(values).Sample((id, chunk) =>
            {
                var frame = PoolMessages.BinaryTask(id, reference, chunk.Count, w => w.WriteRange(chunk, 0, chunk.Count));
                Expect(PoolMessages.IsBinary(frame), "a binary task starts with its marker");

                var received = new List<object?>();
                TargetReference? asked = null;
                var target = PoolMessages.ReadTask(frame, r => { asked = r; return resolved; }, (t, args) =>
                {
                    Expect(args.Length == 1, $"{args.Length} arguments for one parameter");
                    received.Add(args[0]);
                }, out long readId);
                Expect(readId == id && asked == reference && target == resolved, "the id or the target read back as another");
                Expect(Same(chunk, received.Select(v => (T)v!).ToList(), bits: true), "the arguments received differ from the chunk sent");

                // The worker's fast path: the head, then the typed loop writes the answer.
                PoolMessages.ReadBinaryTaskHead(frame, _ => resolved, out long headId, out int count, out int offset);
                Expect(headId == id && count == chunk.Count, "the head read back as another");
                var answer = resolved.Loop!.Run(id, frame.AsSpan(offset), count);
                CheckAnswer(answer, id, chunk, bits: true);

                // The worker's general path: values collected boxed, then BinaryValues.
                CheckAnswer(PoolMessages.BinaryValues(id, typeof(T), received), id, chunk, bits: true);
            }, iter: Iterations, print: t => $"id {t.Item1}, chunk {Show(t.Item2)}");
        }

        /// <summary>
        /// The same through JSON: Task with Arguments.Write, read by ReadTask; Values with
        /// Arguments.WriteResult, read by ReadValues&lt;T&gt;. JSON carries NaN and the infinities as
        /// the strings "NaN", "Infinity" and "-Infinity" (Arguments.Options), and -0.0 as -0, so
        /// every double comes back equal, with its sign; only a NaN's payload bits are not kept.
        /// </summary>
        public override void JsonTaskAndAnswer()
        {
            var reference = Reference;
            var resolved = new ResolvedTarget(Method);
            var parameter = Parameter.Of(Method, "items")[0];
            Chunks(values).Sample((id, chunk) =>
            {
                var frame = PoolMessages.Task(id, reference, w =>
                {
                    foreach (var item in chunk)
                    {
                        w.WriteStartArray();
                        Arguments.Write(w, parameter, item);
                        w.WriteEndArray();
                    }
                });
                Expect(!PoolMessages.IsBinary(frame), "a JSON task starts with '{'");

                var received = new List<object?>();
                var target = PoolMessages.ReadTask(frame, _ => resolved, (t, args) => received.Add(args[0]), out long readId);
                Expect(readId == id && target == resolved, "the id or the target read back as another");
                Expect(Same(chunk, received.Select(v => (T)v!).ToList(), bits: false), "the arguments received differ from the chunk sent");

                var answer = PoolMessages.Values(id, w =>
                {
                    foreach (var v in received) Arguments.WriteResult(w, v, typeof(T));
                });
                CheckAnswer(answer, id, chunk, bits: false);
            }, iter: Iterations, print: t => $"id {t.Item1}, chunk {Show(t.Item2)}");
        }

        /// <summary>
        /// A binary task or answer with four of its bytes (after the marker) overwritten by any
        /// int32, or cut short anywhere, is read or refused with InvalidDataException: never
        /// another exception, and never an allocation the frame's size does not bound.
        /// </summary>
        public override void CorruptBinaryFrames()
        {
            var reference = Reference;
            var resolved = new ResolvedTarget(Method);
            var damage = Gen.Select(Gen.Int[0, int.MaxValue], Gen.Frequency(
                (3, Gen.Int),
                (2, Gen.OneOf(-1, -2, int.MinValue, int.MaxValue, int.MaxValue / 8, 0x10000000, 100_000_000, 0)),
                (2, Gen.Int[-2, 64])), Gen.Int[1, int.MaxValue]);
            Gen.Select(Chunks(values), damage).Sample((sample, hurt) =>
            {
                var (id, chunk) = sample;
                var (where, value, cut) = hurt;
                var task = PoolMessages.BinaryTask(id, reference, chunk.Count, w => w.WriteRange(chunk, 0, chunk.Count));
                var answer = PoolMessages.BinaryValues(id, typeof(T), chunk.Select(v => (object?)v).ToList());
                foreach (var frame in new[] { task, answer })
                {
                    var overwritten = (byte[])frame.Clone();
                    if (frame.Length >= 5) System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(overwritten.AsSpan(1 + where % (frame.Length - 4)), value);
                    var truncated = frame[..Math.Max(1, cut % frame.Length)];
                    foreach (var bad in new[] { overwritten, truncated })
                    {
                        ReadOrRefuse(bad, () => PoolMessages.ReadTask(bad, _ => resolved, (_, _) => { }, out _));
                        ReadOrRefuse(bad, () =>
                        {
                            PoolMessages.ReadBinaryTaskHead(bad, _ => resolved, out long badId, out int count, out int offset);
                            resolved.Loop!.Run(badId, bad.AsSpan(offset), count);
                        });
                        ReadOrRefuse(bad, () => PoolMessages.ReadValues<T>(bad));
                    }
                }
            }, iter: Iterations, print: t => $"id {t.Item1.Item1}, chunk {Show(t.Item1.Item2)}, int32 {t.Item2.Item2} at {t.Item2.Item1}, cut at {t.Item2.Item3}");
        }

        static void CheckAnswer(byte[] answer, long id, List<T> chunk, bool bits)
        {
            var head = PoolMessages.ReadResultHead(answer);
            Expect(head.Id == id && head.Error is null, $"the answer's head read back as id {head.Id}, error {head.Error}");
            Expect(Same(chunk, PoolMessages.ReadValues<T>(answer), bits), "the values answered differ from the chunk sent");
        }
    }

    /// <summary>A task id (positive, as Pool numbers tasks) and a chunk of 0 to 25 items.</summary>
    static Gen<(long, List<T>)> Chunks<T>(Gen<T> values) => Gen.Select(Gen.Long[1, long.MaxValue], values.List[0, 25]);

    const int Iterations = 300;

    public static IEnumerable<Carried> Types() =>
    [
        new Carried<int>(Ints, nameof(Int)),
        new Carried<long>(Longs, nameof(Long)),
        new Carried<double>(Doubles, nameof(Double)),
        new Carried<bool>(Bools, nameof(Bool)),
        new Carried<string?>(Strings, nameof(String)),
        new Carried<int[]?>(Arrays(Ints), nameof(IntArray)),
        new Carried<long[]?>(Arrays(Longs), nameof(LongArray)),
        new Carried<double[]?>(Arrays(Doubles), nameof(DoubleArray)),
        new Carried<bool[]?>(Arrays(Bools), nameof(BoolArray)),
        new Carried<string?[]?>(Arrays(Strings), nameof(StringArray)),
        new Carried<List<int>?>(Lists(Ints), nameof(IntList)),
        new Carried<List<long>?>(Lists(Longs), nameof(LongList)),
        new Carried<List<double>?>(Lists(Doubles), nameof(DoubleList)),
        new Carried<List<bool>?>(Lists(Bools), nameof(BoolList)),
        new Carried<List<string?>?>(Lists(Strings), nameof(StringList)),
    ];

    [Test]
    public void EveryCarriedTypeIsTested() =>
        Assert.That(Types().Select(t => t.Method).All(m => BinaryWire.Carries(m)), Is.True);

    [TestCaseSource(nameof(Types))]
    public void ValuesRoundTripThroughTheBinaryEncoding(Carried type) => type.Binary();

    [TestCaseSource(nameof(Types))]
    public void ABinaryTaskAndItsAnswerCarryEveryValue(Carried type) => type.BinaryTaskAndAnswer();

    [TestCaseSource(nameof(Types))]
    public void AJsonTaskAndItsAnswerCarryEveryValue(Carried type) => type.JsonTaskAndAnswer();

    [TestCaseSource(nameof(Types))]
    public void ACorruptOrTruncatedBinaryFrameIsReadOrRefusedAsInvalidData(Carried type) => type.CorruptBinaryFrames();

    /// <summary>
    /// Runs <paramref name="read"/> on a damaged frame: it may succeed (the damage hit a value),
    /// or throw InvalidDataException; anything else, or allocating more than the frame's size
    /// can account for, is a failure.
    /// </summary>
    static void ReadOrRefuse(byte[] frame, Action read)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            read();
        }
        catch (InvalidDataException)
        {
        }
        catch (Exception e)
        {
            throw new Mismatch($"a damaged {frame.Length}-byte frame threw {e.GetType().Name}: {e.Message}");
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Expect(allocated < 100_000 + 64L * frame.Length, $"reading a damaged {frame.Length}-byte frame allocated {allocated} bytes");
    }

    // ---- comparing and showing values ----

    sealed class Mismatch(string message) : Exception(message);

    /// <summary>Throws a plain exception (not an NUnit assertion) so that CsCheck can shrink the value.</summary>
    static void Expect(bool condition, string what)
    {
        if (!condition) throw new Mismatch(what);
    }

    /// <summary>
    /// Equal values of the same runtime type: doubles bit for bit when <paramref name="bits"/>,
    /// else equal with the same sign (any NaN equals any NaN); strings ordinal; arrays and lists
    /// item by item.
    /// </summary>
    static bool Same(object? expected, object? actual, bool bits) => (expected, actual) switch
    {
        (null, null) => true,
        (null, _) or (_, null) => false,
        (double x, double y) when bits => BitConverter.DoubleToInt64Bits(x) == BitConverter.DoubleToInt64Bits(y),
        (double x, double y) => double.IsNaN(x) ? double.IsNaN(y) : x == y && double.IsNegative(x) == double.IsNegative(y),
        (string x, string y) => string.Equals(x, y, StringComparison.Ordinal),
        (IList x, IList y) => x.GetType() == y.GetType() && x.Count == y.Count && Enumerable.Range(0, x.Count).All(i => Same(x[i], y[i], bits)),
        _ => expected.GetType() == actual.GetType() && expected.Equals(actual),
    };

    /// <summary>A value for a failure message: strings quoted with every non-ASCII character escaped, doubles with their bits.</summary>
    static string Show(object? value) => value switch
    {
        null => "null",
        string s => "\"" + string.Concat(s.Select(c => c is >= ' ' and <= '~' and not '"' and not '\\' ? c.ToString() : $"\\u{(int)c:x4}")) + "\"",
        double d => $"{d:R} (0x{BitConverter.DoubleToInt64Bits(d):x16})",
        IList list => $"{Arguments.TypeName(list.GetType())}[{list.Count}] {{ {string.Join(", ", list.Cast<object?>().Select(Show))} }}",
        _ => $"{value}",
    };
}
