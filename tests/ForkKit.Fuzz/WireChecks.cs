using System.Collections.Concurrent;
using System.Reflection;
using System.Text;
using System.Text.Json;
using ForkKit.Pooling;
using ForkKit.Wire;

namespace ForkKit.Fuzzing;

/// <summary>What went wrong when a decoder met one input: which decoder, and how.</summary>
sealed record Finding(string Decoder, string Problem, Exception? Exception)
{
    public override string ToString() => $"{Decoder}: {Problem}";
}

/// <summary>
/// Every decoder a parent or a worker runs on bytes it did not write, fed one input, with the
/// promise each makes checked (docs/wire-format.md, "Bad input"): the input decodes, or the
/// decoder refuses it with one of its documented exceptions (InvalidDataException,
/// JsonException; EndOfStreamException for a stream cut inside a frame) carrying a message.
/// Anything else thrown is a finding, and so is a decoder that allocates far more than the
/// input could justify (a length prefix must not size a buffer) or hands a target an argument
/// that is not of its parameter's type. Hangs and deaths (stack overflow) are caught by the
/// fuzzer's supervisor and by the corpus test's deadline.
/// </summary>
static class WireChecks
{
    /// <summary>The most frames of one input whose payloads are also decoded as messages.</summary>
    const int FramesDecoded = 4;

    /// <summary>What one decoder may allocate for an input of <paramref name="length"/> bytes.</summary>
    public static long AllocationLimit(int length) => 8L * 1024 * 1024 + 64L * length;

    /// <summary>The types a parent reads a result's values as (PoolMessages.ReadValues&lt;T&gt;).</summary>
    public static readonly Type[] ResultTypes =
    [
        typeof(int), typeof(long), typeof(double), typeof(bool), typeof(string), typeof(int[]), typeof(long[]), typeof(List<double>),
        typeof(bool[]), typeof(List<string>), typeof(string[]), typeof(List<int>), typeof(int?), typeof(decimal), typeof(DateTime),
        typeof(Color), typeof(Point), typeof((int, string)), typeof(Dictionary<string, int>), typeof(object), typeof(Task<int>),
        typeof(Lock), typeof(RLock), typeof(Semaphore),
    ];

    static readonly Func<byte[], int>[] s_readValues = ResultTypes
        .Select(t => typeof(WireChecks).GetMethod(nameof(ReadValues), BindingFlags.Static | BindingFlags.NonPublic)!.MakeGenericMethod(t)
            .CreateDelegate<Func<byte[], int>>())
        .ToArray();

    static readonly Type[] s_messageRefusals = [typeof(InvalidDataException), typeof(JsonException)];
    static readonly Type[] s_frameRefusals = [typeof(InvalidDataException), typeof(EndOfStreamException)];
    static readonly Type[] s_none = [];

    /// <summary>
    /// Runs every decoder on <paramref name="input"/>, and on each frame found in it; values are
    /// read as every one of <see cref="ResultTypes"/>. <paramref name="refused"/> hears each
    /// documented refusal.
    /// </summary>
    public static List<Finding> Check(byte[] input, Action<string, Exception>? refused = null)
    {
        var findings = new List<Finding>();
        var context = new Context(findings, refused, input.Length);

        // A stream of frames, read whole and then a few bytes per read() as a pipe may hand them.
        var payloads = new List<byte[]>();
        context.Run("Frames.Read", s_frameRefusals, () => ReadFrames(new MemoryStream(input, writable: false), payloads));
        var trickled = new List<byte[]>();
        context.Run("Frames.Read (a few bytes per read)", s_frameRefusals, () => ReadFrames(new Trickle(input), trickled));
        if (!trickled.Select(Convert.ToHexString).SequenceEqual(payloads.Select(Convert.ToHexString)))
            findings.Add(new Finding("Frames.Read", "reading a few bytes at a time gave other frames than reading at once", null));

        CheckMessage(context, input);
        foreach (var payload in payloads.Take(FramesDecoded)) CheckMessage(context, payload);
        return findings;
    }

    static void CheckMessage(Context context, byte[] message)
    {
        context.Run("WorkerStart.Parse + Arguments.Decode", s_messageRefusals, () => DecodeStart(message));
        context.Run("PoolMessages.ReadTask (as a worker reads it)", s_messageRefusals, () => ReadTask(message));

        PoolMessages.ResultHead? head = null;
        context.Run("PoolMessages.ReadResultHead", s_messageRefusals, () => head = PoolMessages.ReadResultHead(message));
        if (head?.Error is { } error)
            context.Run("RemoteExceptions.Rebuild", s_none, () => Rebuild(error));
        else if (head is not null)
            for (int i = 0; i < s_readValues.Length; i++)
            {
                var read = s_readValues[i];
                context.Run($"PoolMessages.ReadValues<{Arguments.TypeName(ResultTypes[i])}>", s_messageRefusals, () => read(message));
            }

        if (message.Length >= ForkServerMessages.RequestHeaderBytes)
            context.Run("ForkServerMessages.ReadRequestHeader", s_messageRefusals, () =>
            {
                var (_, length, _) = ForkServerMessages.ReadRequestHeader(message);
                if (length <= message.Length - ForkServerMessages.RequestHeaderBytes)
                    WorkerStart.Parse(message.AsSpan(ForkServerMessages.RequestHeaderBytes, length).ToArray());
            });
        if (message.Length >= ForkServerMessages.ReplyHeaderBytes)
            context.Run("ForkServerMessages.ReadReplyHeader", s_messageRefusals, () => ForkServerMessages.ReadReplyHeader(message));
        context.Run("ForkStatus.Feed", s_none, () => FeedStatus(message));
        context.Run("WorkerCommandLine.Parse", s_none, () => WorkerCommandLine.Parse(Encoding.UTF8.GetString(message).Split('\0')));
    }

    static void ReadFrames(Stream stream, List<byte[]> payloads)
    {
        for (int i = 0; i < 8 && Frames.Read(stream) is { } payload; i++) payloads.Add(payload);
    }

    static void DecodeStart(byte[] message)
    {
        var start = WorkerStart.Parse(message);
        if (start.Target is not { } reference) return;
        var method = Resolve(reference).Method;
        var values = Arguments.Decode(method, start.Args);
        CheckArguments(method, values);
    }

    /// <summary>A task as PoolWorkerHost reads it: a binary head and its typed loop where the target has one, else item by item.</summary>
    static void ReadTask(byte[] frame)
    {
        if (PoolMessages.IsBinary(frame))
        {
            var head = PoolMessages.ReadBinaryTaskHead(frame, Resolve, out long id, out int count, out int offset);
            if (head.Loop is { } loop)
            {
                loop.Run(id, frame.AsSpan(offset), count);
                return;
            }
        }
        PoolMessages.ReadTask(frame, Resolve, (target, args) => CheckArguments(target.Method, args.ToArray()), out _);
    }

    static int ReadValues<T>(byte[] frame) => PoolMessages.ReadValues<T>(frame).Count;

    static void Rebuild(RemoteError error)
    {
        var rebuilt = RemoteExceptions.Rebuild(error);
        if (rebuilt is not RemoteException && rebuilt.GetType().FullName != error.Type)
            throw new BrokenPromise($"the error named {error.Type} came back as a {rebuilt.GetType().FullName}");
    }

    static void FeedStatus(byte[] bytes)
    {
        var status = new ForkStatus();
        // Records may arrive split anywhere: feed the bytes in pieces of 1 to 6.
        for (int at = 0, piece = 1; at < bytes.Length; at += piece, piece = piece % 6 + 1)
            status.Feed(bytes.AsSpan(at, Math.Min(piece, bytes.Length - at)));
        status.MarkEndOfFile();
        if (status.Outcome is null) throw new BrokenPromise("a status pipe at end-of-file has no outcome");
    }

    /// <summary>The decoder's promise to the target: each argument is of its parameter's type (null only where the type allows it).</summary>
    static void CheckArguments(MethodInfo method, object?[] args)
    {
        var parameters = method.GetParameters();
        if (args.Length != parameters.Length)
            throw new BrokenPromise($"{method.Name} takes {parameters.Length} argument(s) and was handed {args.Length}");
        for (int i = 0; i < args.Length; i++)
        {
            var type = parameters[i].ParameterType;
            bool fits = args[i] is null ? !type.IsValueType || Nullable.GetUnderlyingType(type) is not null : type.IsInstanceOfType(args[i]);
            if (!fits)
                throw new BrokenPromise($"argument {i + 1} of {method.Name} ({Arguments.TypeName(type)}) was handed {args[i]?.GetType().FullName ?? "null"}");
        }
    }

    static readonly ConcurrentDictionary<string, ResolvedTarget> s_targets = new();

    /// <summary>
    /// The resolver a worker would pass, limited to <see cref="FuzzTargets"/> by type and method
    /// name (the assembly and token are not checked, so a corpus written by the fuzzer replays
    /// in the test assembly). Loading a named assembly is no decoding: any other name is refused.
    /// </summary>
    static ResolvedTarget Resolve(TargetReference reference)
    {
        if (s_targets.TryGetValue(reference.MethodName, out var known) && reference.TypeName == typeof(FuzzTargets).FullName) return known;
        var method = reference.TypeName == typeof(FuzzTargets).FullName
            ? typeof(FuzzTargets).GetMethod(reference.MethodName, BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly)
            : null;
        if (method is null) throw new InvalidDataException($"no target {reference.Display} here");
        return s_targets.GetOrAdd(reference.MethodName, _ => new ResolvedTarget(method));
    }

    /// <summary>Runs every decoder on every sample, so that caches filled by a first call are not counted against an input.</summary>
    public static void WarmUp()
    {
        foreach (var message in WireSamples.Messages())
        {
            Check(message);
            Check(WireSamples.Framed(message));
        }
    }

    sealed class Context(List<Finding> findings, Action<string, Exception>? refused, int inputLength)
    {
        public void Run(string decoder, Type[] refusals, Action decode)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                decode();
            }
            catch (Exception e) when (refusals.Any(t => t.IsInstanceOfType(e)))
            {
                if (string.IsNullOrWhiteSpace(e.Message))
                    findings.Add(new Finding(decoder, $"refused with a {e.GetType().Name} that says nothing", e));
                refused?.Invoke(decoder, e);
            }
            catch (Exception e)
            {
                findings.Add(new Finding(decoder, $"threw {e.GetType().FullName}: {e.Message}", e));
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (allocated > AllocationLimit(inputLength))
                findings.Add(new Finding(decoder, $"allocated {allocated:N0} bytes for a {inputLength:N0}-byte input", null));
        }
    }

    /// <summary>A decoder broke a promise other than its exceptions'.</summary>
    sealed class BrokenPromise(string message) : Exception(message);

    /// <summary>A stream that hands out at most a few bytes per read, as a pipe may.</summary>
    sealed class Trickle(byte[] bytes) : Stream
    {
        int _position, _step;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            _step = _step % 5 + 1;
            int n = Math.Min(Math.Min(buffer.Length, _step), bytes.Length - _position);
            bytes.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
