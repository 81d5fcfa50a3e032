using System.Text;
using ForkKit.Wire;

namespace ForkKit.Tests;

/// <summary>The wire format: length-prefixed frames of UTF-8 JSON (docs/wire-format.md).</summary>
public class WireTests
{
    static readonly TargetReference Target = new("/x/a.dll", "a, Version=1.0.0.0", "N.T", "M", 100663298);

    [Test]
    public void AWorkerStartMessageRoundTrips()
    {
        var message = WorkerStart.Write("Process-9", Target, Encoding.UTF8.GetBytes("[3,{\"x\":[1,\"é\"]},null]"));
        var text = Encoding.UTF8.GetString(message);
        Assert.That(text, Is.EqualTo(
            "{\"name\":\"Process-9\",\"target\":{\"assemblyPath\":\"/x/a.dll\",\"assemblyName\":\"a, Version=1.0.0.0\",\"typeName\":\"N.T\",\"methodName\":\"M\",\"metadataToken\":100663298},\"args\":[3,{\"x\":[1,\"é\"]},null]}"));

        var back = WorkerStart.Parse(message);
        Assert.That(back.Name, Is.EqualTo("Process-9"));
        Assert.That(back.Target, Is.EqualTo(Target));
        Assert.That(back.Args.Select(a => Encoding.UTF8.GetString(a)), Is.EqualTo(new[] { "3", "{\"x\":[1,\"é\"]}", "null" }));
    }

    [Test]
    public void APoolWorkerWithoutAnInitializerHasANullTarget()
    {
        var back = WorkerStart.Parse(WorkerStart.Write("PoolWorker-1", null, "[]"u8.ToArray()));
        Assert.That((back.Name, back.Target, back.Args.Length), Is.EqualTo(("PoolWorker-1", (TargetReference?)null, 0)));
    }

    [Test]
    public void AMessageWithoutATargetIsRefusedNamingTheField()
    {
        var e = Assert.Throws<InvalidDataException>(() => WorkerStart.Parse(Encoding.UTF8.GetBytes("{\"name\":\"p\",\"args\":[]}")))!;
        Assert.That(e.Message, Does.Contain("'target'"));
    }

    [Test]
    public void ATaskMessageIsReadBackItemByItemAsTheTargetsParameterTypes()
    {
        var method = typeof(WireTests).GetMethod(nameof(Concat), System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!;
        var reference = new TargetReference(method.Module.Assembly.Location, method.Module.Assembly.FullName!, typeof(WireTests).FullName!, method.Name, method.MetadataToken);
        var parameters = Parameter.Of(method, "items");
        var frame = PoolMessages.Task(7, reference, w =>
        {
            foreach (var (n, s) in new[] { (1, "a"), (2, "b") })
            {
                w.WriteStartArray();
                Arguments.Write(w, parameters[0], n);
                Arguments.Write(w, parameters[1], s);
                w.WriteEndArray();
            }
        });

        var seen = new List<string>();
        var target = PoolMessages.ReadTask(frame, r => new ResolvedTarget(method), (t, args) => seen.Add((string)t.Method.Invoke(null, args.ToArray())!), out long id);
        Assert.That((id, target.Method, seen), Is.EqualTo((7L, method, new List<string> { "1a", "2b" })));
    }

    static string Concat(int n, string s) => $"{n}{s}";

    [Test]
    public void FramesCarryTheirLengthAndKeepBoundaries()
    {
        var stream = new MemoryStream();
        Frames.Write(stream, Encoding.UTF8.GetBytes("{}"));
        Frames.Write(stream, Encoding.UTF8.GetBytes("[1,2]"));
        Assert.That(stream.ToArray().Take(6), Is.EqualTo(new byte[] { 2, 0, 0, 0, (byte)'{', (byte)'}' }), "4-byte little-endian length, then the JSON");

        stream.Position = 0;
        Assert.That(Encoding.UTF8.GetString(Frames.Read(stream)!), Is.EqualTo("{}"));
        Assert.That(Encoding.UTF8.GetString(Frames.Read(stream)!), Is.EqualTo("[1,2]"));
        Assert.That(Frames.Read(stream), Is.Null, "a clean end of stream");
    }

    [Test]
    public void ATruncatedFrameOrAnAbsurdLengthIsAnError()
    {
        Assert.That(() => Frames.Read(new MemoryStream([5, 0, 0, 0, (byte)'{'])), Throws.TypeOf<EndOfStreamException>());
        Assert.That(() => Frames.Read(new MemoryStream([1, 0])), Throws.TypeOf<EndOfStreamException>());
        Assert.That(() => Frames.Read(new MemoryStream([0xff, 0xff, 0xff, 0x7f])), Throws.TypeOf<InvalidDataException>());
    }

    [TestCase("3", typeof(int), 3)]
    [TestCase("-9007199254740993", typeof(long), -9007199254740993L)]
    [TestCase("0.1", typeof(double), 0.1)]
    [TestCase("true", typeof(bool), true)]
    [TestCase("\"a\\\"b\"", typeof(string), "a\"b")]
    [TestCase("null", typeof(string), null)]
    [TestCase("null", typeof(int?), null)]
    [TestCase("7", typeof(int?), 7)]
    public void DecodeReadsPlainValuesAsTheDeclaredType(string json, Type type, object? expected) =>
        Assert.That(Arguments.DecodeOne(Encoding.UTF8.GetBytes(json), type), Is.EqualTo(expected));

    // ---- the binary encoding: damaged frames are refused as InvalidDataException ----

    static int Twice(int n) => 2 * n;

    static System.Reflection.MethodInfo Method(string name) =>
        typeof(WireTests).GetMethod(name, System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!;

    static TargetReference ReferenceTo(System.Reflection.MethodInfo method) =>
        new(method.Module.Assembly.Location, method.Module.Assembly.FullName!, typeof(WireTests).FullName!, method.Name, method.MetadataToken);

    /// <summary>A binary task of Twice over 1, 2, 3, and the offset of its item count.</summary>
    static (byte[] Frame, int CountAt) BinaryTaskOfThree()
    {
        var frame = PoolMessages.BinaryTask(7, ReferenceTo(Method(nameof(Twice))), 3, w => w.WriteRange(new[] { 1, 2, 3 }, 0, 3));
        return (frame, frame.Length - 3 * 4 - 4);
    }

    static void Run(byte[] frame)
    {
        var target = new ResolvedTarget(Method(nameof(Twice)));
        PoolMessages.ReadTask(frame, _ => target, (_, _) => { }, out _);
    }

    [Test]
    public void ATruncatedBinaryTaskOrAnswerIsRefusedWhereverItIsCut()
    {
        var (task, _) = BinaryTaskOfThree();
        var answer = PoolMessages.BinaryValues(7, typeof(int), [2, 4, 6]);
        for (int cut = 1; cut < task.Length; cut++)
        {
            var e = Assert.Throws<InvalidDataException>(() => Run(task[..cut]), $"the task cut at {cut} of {task.Length}")!;
            Assert.That(e.Message, Does.StartWith("binary wire message:"));
        }
        for (int cut = 1; cut < answer.Length; cut++)
            Assert.Throws<InvalidDataException>(() => PoolMessages.ReadValues<int>(answer[..cut]), $"the answer cut at {cut} of {answer.Length}");
    }

    [TestCase(-1)]
    [TestCase(4)]
    [TestCase(13)]
    [TestCase(100_000_000)]
    [TestCase(0x10000000)]
    [TestCase(int.MaxValue)]
    public void ABinaryItemCountThatIsNegativeOrBeyondTheFrameIsRefusedBeforeAnythingIsSizedByIt(int count)
    {
        var (frame, countAt) = BinaryTaskOfThree();
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(countAt), count);
        var target = new ResolvedTarget(Method(nameof(Twice)));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => PoolMessages.ReadBinaryTaskHead(frame, _ => target, out _, out _, out _))!;
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(100_000), "nothing sized by the count");
        Assert.That(e.Message, Does.Contain($"a count of {count} items does not fit the 12 byte(s) left"));
        Assert.Throws<InvalidDataException>(() => Run(frame));
    }

    [TestCase(-2)]
    [TestCase(3)]
    [TestCase(9)]
    [TestCase(int.MaxValue)]
    [TestCase(int.MinValue)]
    public void ABinaryAnswerCountThatIsNegativeOrBeyondTheFrameIsRefused(int count)
    {
        var answer = PoolMessages.BinaryValues(7, typeof(int), [2, 4]);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(answer.AsSpan(1 + 8 + 1), count);
        var e = Assert.Throws<InvalidDataException>(() => PoolMessages.ReadValues<int>(answer))!;
        Assert.That(e.Message, Does.Contain($"a count of {count} values does not fit"));
    }

    [TestCase(typeof(int[]), -2)]
    [TestCase(typeof(int[]), 3)]
    [TestCase(typeof(int[]), int.MaxValue)]
    [TestCase(typeof(List<double>), 0x20000000)]
    [TestCase(typeof(string[]), int.MaxValue)]
    [TestCase(typeof(List<bool>), -5)]
    public void AnArrayOrListCountThatIsNegativeOrBeyondTheFrameIsRefused(Type type, int count)
    {
        var w = new WireWriter();
        w.WriteInt32(count);
        w.WriteInt32(1);
        w.WriteInt32(2);
        var bytes = w.ToArray();
        var e = Assert.Throws<InvalidDataException>(() => new WireReader(bytes).ReadBoxed(type))!;
        Assert.That(e.Message, Is.EqualTo($"binary wire message: a count of {count} at offset 0 does not fit the frame"));
    }

    [TestCase(-2)]
    [TestCase(5)]
    [TestCase(int.MaxValue)]
    [TestCase(int.MinValue)]
    public void AStringLengthThatIsNegativeOrBeyondTheFrameIsRefused(int length)
    {
        var w = new WireWriter();
        w.WriteInt32(length);
        w.WriteInt32(0x64636261); // "abcd"
        var bytes = w.ToArray();
        var e = Assert.Throws<InvalidDataException>(() => new WireReader(bytes).Read<string>())!;
        Assert.That(e.Message, Does.Contain($"{length} more byte(s) wanted at offset 4 of a 8-byte frame"));
    }

    [Test]
    public void WriteBoxedRefusesNullForAValueTypeNamingIt()
    {
        var e = Assert.Throws<NotSupportedException>(() => new WireWriter().WriteBoxed(typeof(int), null))!;
        Assert.That(e.Message, Is.EqualTo("the binary encoding does not carry null as System.Int32"));
    }

    static string Echo(string s) => s;

    /// <summary>
    /// A lone surrogate is not text, and UTF-8 cannot hold it: both encodings write U+FFFD in
    /// its place, so a target sees the same string whichever encoding carried it.
    /// </summary>
    [Test]
    public void ALoneSurrogateArrivesAsTheReplacementCharacterInBothEncodings()
    {
        const string lone = "a\uD800b\uDC00";
        var w = new WireWriter();
        w.Write(lone);
        Assert.That(new WireReader(w.ToArray()).Read<string>(), Is.EqualTo("a\uFFFDb\uFFFD"));

        var parameter = Parameter.Of(Method(nameof(Echo)), "items")[0];
        var json = Json.Write(j => Arguments.Write(j, parameter, lone));
        Assert.That(Arguments.DecodeOne(json, typeof(string)), Is.EqualTo("a\uFFFDb\uFFFD"));
        var answer = PoolMessages.Values(1, j => Arguments.WriteResult(j, lone, typeof(string)));
        Assert.That(PoolMessages.ReadValues<string>(answer), Is.EqualTo(new[] { "a\uFFFDb\uFFFD" }));
    }
}

/// <summary>The fork server's status pipe, read as bytes arrive.</summary>
public class ForkStatusTests
{
    static byte[] Code(byte kind, int code)
    {
        var record = new byte[5];
        ForkServerMessages.WriteCode(record, kind, code);
        return record;
    }

    [Test]
    public void TheServersWordIsTheOutcomeEvenWhenRecordsArriveInPieces()
    {
        var bytes = new[] { ForkServerMessages.Running }.Concat(Code(ForkServerMessages.Exiting, 0)).Concat(Code(ForkServerMessages.Ended, -15)).ToArray();
        var status = new ForkStatus();
        foreach (var b in bytes)
        {
            Assert.That(status.Outcome, Is.Null, "nothing is known until the whole record came");
            status.Feed([b]);
        }
        Assert.That((status.Running, status.ExitingCode, status.EndedCode, status.Outcome), Is.EqualTo((true, (int?)0, (int?)-15, (int?)-15)));
    }

    [Test]
    public void WithoutTheServerTheChildsOwnCodeCountsAtEndOfFile()
    {
        var status = new ForkStatus();
        status.Feed([ForkServerMessages.Running, .. Code(ForkServerMessages.Exiting, 3)]);
        Assert.That(status.Outcome, Is.Null, "the child may still run: only end-of-file says it has ended");
        status.MarkEndOfFile();
        Assert.That(status.Outcome, Is.EqualTo(3));
    }

    [Test]
    public void NothingSaidAndEndOfFileIsUnknown()
    {
        var status = new ForkStatus();
        status.Feed([ForkServerMessages.Running]);
        status.MarkEndOfFile();
        Assert.That(status.Outcome, Is.EqualTo(ForkStatus.Unknown));
    }

    [Test]
    public void BytesThatAreNoRecordAreIgnoredAndSaidSo()
    {
        var status = new ForkStatus();
        status.Feed("garbage"u8);
        status.Feed(Code(ForkServerMessages.Ended, 0));
        Assert.That((status.Garbled, status.EndedCode), Is.EqualTo((true, (int?)null)));
    }

    [Test]
    public void ARequestCarriesItsRoleAndStartMessageAndRefusesWhatIsNoRequest()
    {
        var request = ForkServerMessages.Request(WorkerRole.Pool, [1, 2, 3]);
        Assert.That(ForkServerMessages.ReadRequestHeader(request), Is.EqualTo((WorkerRole.Pool, 3, false)));
        Assert.That(ForkServerMessages.ReadRequestHeader(ForkServerMessages.Request(WorkerRole.Process, [1], diesWithParent: true)),
            Is.EqualTo((WorkerRole.Process, 1, true)));
        Assert.That(request[ForkServerMessages.RequestHeaderBytes..], Is.EqualTo(new byte[] { 1, 2, 3 }));
        Assert.Throws<InvalidDataException>(() => ForkServerMessages.ReadRequestHeader(ForkServerMessages.Request(WorkerRole.ForkServer, [1])));
        var huge = ForkServerMessages.Request(WorkerRole.Process, [1]);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(huge.AsSpan(4), int.MaxValue);
        Assert.Throws<InvalidDataException>(() => ForkServerMessages.ReadRequestHeader(huge));
    }
}
