using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using ForkKit.Diagnostics;
using ForkKit.Platform;
using ForkKit.Pooling;
using ForkKit.Synchronization;
using ForkKit.Wire;

namespace ForkKit.Tests;

/// <summary>
/// What the decoders promise on hostile input (docs/wire-format.md, "Bad input"), one test per
/// bug the wire fuzzer found, and the type-safety rule: no type named on the wire is ever built,
/// other than the target's declared parameter and result types and Exception subclasses, and a
/// worker's result cannot make its parent open a kernel object the parent never had.
/// </summary>
public class WireSafetyTests
{
    static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    static byte[] Header(int length)
    {
        var header = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(header, length);
        return header;
    }

    // ---- frames ----

    [TestCase(Frames.MaxFrameBytes)]
    [TestCase(200_000_000)]
    [TestCase(1 << 20)]
    public void ALengthPrefixCostsOnlyTheBytesThatReallyFollowIt(int claimed)
    {
        var stream = new MemoryStream([.. Header(claimed), .. Utf8("{\"id\":1}")]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<EndOfStreamException>(() => Frames.Read(stream))!;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(allocated, Is.LessThan(1 << 20), $"a {claimed}-byte claim with 8 bytes behind it");
        Assert.That(e.Message, Does.Contain($"{claimed}-byte frame, after 8 byte(s)"));
    }

    [Test]
    public void AFrameLargerThanTheFirstBufferArrivesWholeThoughThePipeHandsItOverInPieces()
    {
        var payload = new byte[1_000_003];
        new Random(7).NextBytes(payload);
        var wire = new MemoryStream();
        Frames.Write(wire, payload);
        Frames.Write(wire, Utf8("{}"));
        var pipe = new PieceStream(wire.ToArray(), 4093);
        Assert.That(Frames.Read(pipe), Is.EqualTo(payload));
        Assert.That(Frames.Read(pipe), Is.EqualTo(Utf8("{}")));
        Assert.That(Frames.Read(pipe), Is.Null);
    }

    /// <summary>A stream that hands out at most <paramref name="piece"/> bytes per read, as a pipe may.</summary>
    sealed class PieceStream(byte[] bytes, int piece) : MemoryStream(bytes)
    {
        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, piece)]);

        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, piece));
    }

    // ---- JSON fields of the wrong type, out of range, or no text ----

    [TestCase("{\"name\":false,\"target\":null,\"args\":[]}", "'name' must be a string, found False")]
    [TestCase("{\"name\":\"\\udc00\",\"target\":null,\"args\":[]}", "the field 'name' at byte 8 is not valid text")]
    [TestCase("{\"name\":\"p\",\"target\":{\"assemblyPath\":\"a\",\"assemblyName\":\"a\",\"typeName\":\"T\",\"methodName\":\"M\",\"metadataToken\":1.5},\"args\":[]}",
        "'metadataToken' must be a whole number of at most 32 bits, found the number 1.5")]
    public void AStartMessageFieldOfTheWrongKindIsRefusedNamingIt(string json, string says)
    {
        var e = Assert.Throws<InvalidDataException>(() => WorkerStart.Parse(Utf8(json)))!;
        Assert.That(e.Message, Does.Contain(says));
    }

    [Test]
    public void TextThatIsNotUtf8IsRefusedNamingTheField()
    {
        byte[] start = [.. Utf8("{\"name\":\"a"), 0xC3, 0x28, .. Utf8("\",\"target\":null,\"args\":[]}")];
        Assert.That(Assert.Throws<InvalidDataException>(() => WorkerStart.Parse(start))!.Message, Does.Contain("the field 'name'"));
        byte[] values = [.. Utf8("{\"id\":1,\"ok\":true,\"values\":[\""), 0xED, 0xA0, 0x80, .. Utf8("\"]}")];
        Assert.Throws<JsonException>(() => PoolMessages.ReadValues<string>(values));
    }

    [TestCase("{\"id\":\"7\",\"ok\":true,\"values\":[1]}", "'id' must be a whole number of at most 64 bits, found String")]
    [TestCase("{\"id\":1e400,\"ok\":true,\"values\":[1]}", "found the number 1e400")]
    [TestCase("{\"id\":1,\"ok\":false,\"error\":5}", "expected StartObject")]
    [TestCase("{\"id\":1,\"ok\":false,\"error\":{\"type\":7}}", "'error.type' must be a string")]
    public void AResultHeadOfTheWrongKindIsRefusedNamingTheField(string json, string says)
    {
        var e = Assert.Throws<InvalidDataException>(() => PoolMessages.ReadResultHead(Utf8(json)))!;
        Assert.That(e.Message, Does.Contain(says));
    }

    [TestCase("[2147483648]")]
    [TestCase("[1.5]")]
    [TestCase("[1e400]")]
    [TestCase("[\"1\"]")]
    public void AValueOutsideItsTypeIsRefusedAsJson(string values) =>
        Assert.Throws<JsonException>(() => PoolMessages.ReadValues<int>(Utf8($"{{\"id\":1,\"ok\":true,\"values\":{values}}}")));

    [TestCase("5")]
    [TestCase("{\"a\":1}")]
    public void ValuesThatAreNoArrayAreRefused(string values) =>
        Assert.Throws<InvalidDataException>(() => PoolMessages.ReadValues<int>(Utf8($"{{\"id\":1,\"ok\":true,\"values\":{values}}}")));

    [Test]
    public void ABinaryAnswerForAResultTheBinaryEncodingDoesNotCarryIsRefused()
    {
        var answer = PoolMessages.BinaryValues(1, typeof(int), [1]);
        var e = Assert.Throws<InvalidDataException>(() => PoolMessages.ReadValues<DateTime>(answer))!;
        Assert.That(e.Message, Does.Contain("values of DateTime never cross in the binary encoding"));
    }

    // ---- arguments ----

    static long Add(int a, long b) => a + b;

    static int Nothing() => 42;

    static System.Reflection.MethodInfo Method(string name) =>
        typeof(WireSafetyTests).GetMethod(name, System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!;

    static TargetReference Reference(string name)
    {
        var method = Method(name);
        return new TargetReference(method.Module.Assembly.Location, method.Module.Assembly.FullName!, typeof(WireSafetyTests).FullName!, name, method.MetadataToken);
    }

    [TestCase("[1]", "1 argument(s) for WireSafetyTests.Add(int, long), which takes 2")]
    [TestCase("[1,2,3]", "3 argument(s)")]
    public void AStartMessageWithAnArgumentMissingOrExtraIsRefusedNotDefaulted(string args, string says)
    {
        var start = WorkerStart.Parse(WorkerStart.Write("Process-1", Reference(nameof(Add)), Utf8(args)));
        var e = Assert.Throws<InvalidDataException>(() => Arguments.Decode(Method(nameof(Add)), start.Args))!;
        Assert.That(e.Message, Does.Contain(says));
    }

    [Test]
    public void ATaskItemCutShortIsRefusedRatherThanGivenTheLastItemsValues()
    {
        var target = new ResolvedTarget(Method(nameof(Add)));
        var frame = PoolMessages.Task(3, Reference(nameof(Add)), w =>
        {
            w.WriteRawValue("[1,2]");
            w.WriteRawValue("[3]");
        });
        var calls = new List<object?[]>();
        var e = Assert.Throws<InvalidDataException>(() => PoolMessages.ReadTask(frame, _ => target, (_, args) => calls.Add(args.ToArray()), out _))!;
        Assert.That(e.Message, Does.Contain("an item has 1 of the target's 2 argument(s)"));
        Assert.That(calls, Has.Count.EqualTo(1));
    }

    [Test]
    public void ABinaryTaskForATargetWithoutParametersIsRefusedWhateverItsCount()
    {
        var target = new ResolvedTarget(Method(nameof(Nothing)));
        var frame = PoolMessages.BinaryTask(1, Reference(nameof(Nothing)), int.MaxValue, _ => { });
        int calls = 0;
        var e = Assert.Throws<InvalidDataException>(() => PoolMessages.ReadTask(frame, _ => target, (_, _) => calls++, out _))!;
        Assert.That(e.Message, Does.Contain("takes no arguments; its tasks are sent as JSON"));
        Assert.That(calls, Is.Zero);
    }

    // ---- the fork server's reply ----

    [TestCase(-1)]
    [TestCase(ForkServerMessages.MaxErrorBytes + 1)]
    [TestCase(int.MaxValue)]
    public void AForkServerReplyWithAnErrorLengthNoReplyHasIsRefused(int length)
    {
        var header = new byte[ForkServerMessages.ReplyHeaderBytes];
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), length);
        var e = Assert.Throws<InvalidDataException>(() => ForkServerMessages.ReadReplyHeader(header))!;
        Assert.That(e.Message, Does.Contain($"an error text of {length} bytes"));
    }

    [Test]
    public void AForkServerReplyCutsAnErrorTextLongerThanTheLimit()
    {
        var reply = ForkServerMessages.Reply(0, 0, new string('x', ForkServerMessages.MaxErrorBytes + 10));
        Assert.That(ForkServerMessages.ReadReplyHeader(reply).ErrorLength, Is.EqualTo(ForkServerMessages.MaxErrorBytes));
    }

    // ---- the frame size limit ----

    [Test]
    public void AWorkersAnswerLargerThanAFrameBecomesThatTasksError()
    {
        var answer = PoolMessages.Values(5, w => w.WriteStringValue(new string('x', 100)));
        Assert.That(Worker.PoolWorkerHost.WithinTheLimit(5, answer, limit: answer.Length), Is.SameAs(answer));
        var e = Assert.Throws<InvalidOperationException>(() => Worker.PoolWorkerHost.WithinTheLimit(5, answer, limit: answer.Length - 1))!;
        Assert.That(e.Message, Does.Contain($"the answer to task 5 is {answer.Length} bytes, larger than the wire format's limit of {answer.Length - 1} bytes"));
    }

    // ---- a chunk's values, in the parent ----

    /// <summary>A result type whose constructor refuses some values, as user types do.</summary>
    public sealed record Picky
    {
        public Picky(int x) => X = x >= 0 ? x : throw new ArgumentOutOfRangeException(nameof(x), x, "must not be negative");

        public int X { get; }
    }

    /// <summary>What a chunk ends with, its values or its error, waited for at most 10 s.</summary>
    static object Outcome<T>(int items, byte[] answer)
    {
        var results = new ResultHandler();
        results.Start();
        try
        {
            var chunk = new ChunkTask<T>(1, "WireSafetyTests.Target", results, items);
            var outcome = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
            chunk.Then(values => outcome.SetResult(values), error => outcome.SetResult(error));
            chunk.Complete(answer);
            Assert.That(outcome.Task.Wait(TimeSpan.FromSeconds(10)), Is.True, "the chunk was left pending");
            return outcome.Task.Result;
        }
        finally
        {
            results.CompleteAdding();
            results.Join();
        }
    }

    [TestCase(0)]
    [TestCase(2)]
    public void AChunkAnsweredWithTheWrongNumberOfValuesFails(int answered)
    {
        var answer = PoolMessages.Values(1, w =>
        {
            for (int i = 0; i < answered; i++) w.WriteNumberValue(i);
        });
        var error = Outcome<int>(1, answer) as NotSupportedException;
        Assert.That(error?.InnerException, Is.InstanceOf<InvalidDataException>());
        Assert.That(error!.Message, Does.Contain($"a chunk of 1 item(s) with {answered} value(s)"));
    }

    [Test]
    public void AResultTypeWhoseConstructorThrowsFailsTheChunkInsteadOfLeavingItPending()
    {
        var error = Outcome<Picky>(1, Utf8("{\"id\":1,\"ok\":true,\"values\":[{\"X\":-1}]}")) as NotSupportedException;
        Assert.That(error?.InnerException, Is.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(Outcome<Picky>(1, Utf8("{\"id\":1,\"ok\":true,\"values\":[{\"X\":4}]}")), Is.EqualTo(new List<Picky> { new(4) }));
    }

    // ---- type safety: only declared types and Exception subclasses are built ----

    /// <summary>A type with a side effect in every constructor: it counts how often it was built.</summary>
    public sealed class Tripwire
    {
        public static int Built;

        public Tripwire() => Interlocked.Increment(ref Built);

        public Tripwire(string message) : this() { }

        public Tripwire(string message, Exception inner) : this() { }

        public int X { get; set; }
    }

    public sealed record Declared(int X);

    [TestCase("System.IO.FileInfo")]
    [TestCase("System.Diagnostics.Process")]
    [TestCase("ForkKit.Tests.WireSafetyTests+Tripwire")]
    [TestCase("ForkKit.Tests.WireSafetyTests+Tripwire, ForkKit.Tests")]
    [TestCase("")]
    [TestCase("System.Exception[]")]
    public void AnErrorNamingATypeThatIsNoExceptionBuildsNothingOfIt(string type)
    {
        int built = Tripwire.Built;
        var e = RemoteExceptions.Rebuild(new RemoteError(type, "it failed", "   at Somewhere()"));
        Assert.That(e, Is.TypeOf<RemoteException>());
        Assert.That(((RemoteException)e).RemoteType, Is.EqualTo(type));
        Assert.That(e.InnerException, Is.TypeOf<RemoteTraceback>());
        Assert.That(Tripwire.Built, Is.EqualTo(built), "a Tripwire was built from a name on the wire");
    }

    [Test]
    public void AnErrorNamingAnExceptionTypeIsRebuiltAsThatType()
    {
        var e = RemoteExceptions.Rebuild(new RemoteError("System.IO.FileNotFoundException", "gone", "   at Somewhere()"));
        Assert.That(e, Is.TypeOf<FileNotFoundException>());
        Assert.That((e.Message, e.InnerException?.GetType()), Is.EqualTo(("gone", typeof(RemoteTraceback))));
    }

    [TestCase("System.IO.FileInfo, System.IO.FileSystem")]
    [TestCase("ForkKit.Tests.WireSafetyTests+Tripwire, ForkKit.Tests")]
    public void AValueNamingATypeOnTheWireIsReadAsTheDeclaredTypeOnly(string type)
    {
        int built = Tripwire.Built;
        var answer = Utf8($"{{\"id\":1,\"ok\":true,\"values\":[{{\"$type\":\"{type}\",\"fileName\":\"/etc/passwd\",\"X\":3}}]}}");
        Assert.That(PoolMessages.ReadValues<Declared>(answer), Is.EqualTo(new List<Declared> { new(3) }));
        var asObject = PoolMessages.ReadValues<object>(answer).Single();
        Assert.That(asObject, Is.TypeOf<JsonElement>(), "a value declared as object is a JsonElement, whatever it names");
        var start = WorkerStart.Parse(WorkerStart.Write("Process-1", null, Utf8($"[{{\"$type\":\"{type}\",\"X\":3}}]")));
        Assert.That(Arguments.DecodeOne(start.Args[0], typeof(Declared)), Is.EqualTo(new Declared(3)));
        Assert.That(Tripwire.Built, Is.EqualTo(built), "a Tripwire was built from a name on the wire");
    }

    // ---- a Lock, RLock or Semaphore in a result ----

    static byte[] SharedResult(string kind, string name) => Utf8($"{{\"id\":1,\"ok\":true,\"values\":[{{\"forkkit\":\"{kind}\",\"name\":\"{name}\"}}]}}");

    [Test]
    public void ALockResultUnderANameThisProcessNeverHadIsRefusedBeforeTheOsIsAsked()
    {
        // Nothing exists under this name: had the parent tried to open it, shm_open would have said ENOENT.
        var name = NamedSemaphores.NewName();
        foreach (var kind in new[] { "Lock", "RLock", "Semaphore" })
        {
            var e = Assert.Catch<JsonException>(() => ReadShared(kind, name), kind)!;
            Assert.That(e.Message, Does.Contain($"a {kind} named {name} came back from a worker, but this process neither created nor received that name"));
            Assert.That(e.InnerException, Is.Null, "the refusal came from the OS, not before it");
        }
    }

    static object ReadShared(string kind, string name) => kind switch
    {
        "Lock" => PoolMessages.ReadValues<Lock>(SharedResult(kind, name)).Single(),
        "RLock" => PoolMessages.ReadValues<RLock>(SharedResult(kind, name)).Single(),
        _ => PoolMessages.ReadValues<Semaphore>(SharedResult(kind, name)).Single(),
    };

    [Test]
    public void ASemaphoreResultUnderAForeignNameThatExistsIsNotOpened()
    {
        // A semaphore made outside ForkKit's names (as another program could), not by this process's Lock or Semaphore.
        var name = NamedSemaphores.NewName();
        var kernel = Os.Kernel;
        using (kernel.CreateSemaphore(name, 0))
        {
            try
            {
                Assert.That(KernelNames.KnownHere(name), Is.False);
                var e = Assert.Throws<JsonException>(() => PoolMessages.ReadValues<Semaphore>(SharedResult("Semaphore", name)))!;
                Assert.That(e.Message, Does.Contain("neither created nor received"));
            }
            finally
            {
                kernel.RemoveSemaphore(name);
            }
        }
    }

    [Test]
    public void ALockResultUnderANameThisProcessCreatedIsOpenedUntilTheLockIsDisposed()
    {
        string name;
        using (var created = new Lock())
        {
            name = created.Name;
            using var back = PoolMessages.ReadValues<Lock>(SharedResult("Lock", name)).Single();
            Assert.That(back.Name, Is.EqualTo(name));
            using (back.Hold())
                Assert.That(created.Acquire(block: false), Is.False, "the lock read back is the same kernel lock");
        }
        Assert.Throws<JsonException>(() => PoolMessages.ReadValues<Lock>(SharedResult("Lock", name)), "the name was removed with its lock");
    }
}
