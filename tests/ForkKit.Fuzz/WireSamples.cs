using System.Reflection;
using System.Text;
using ForkKit.Wire;

namespace ForkKit.Fuzzing;

/// <summary>
/// Valid messages of every kind the decoders read, written by ForkKit's own writers: the
/// fuzzer's seeds, and the warm-up that runs every decoder once before allocation is measured
/// (a decoder's first call fills the serializer's caches).
/// </summary>
static class WireSamples
{
    public static MethodInfo Method(string name) =>
        typeof(FuzzTargets).GetMethod(name, BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly)
        ?? throw new ArgumentException($"FuzzTargets has no method {name}", nameof(name));

    public static TargetReference Reference(string name)
    {
        // The file name alone: the checks' resolver goes by type and method name, and inputs kept in the corpus do not name a folder of this machine.
        var method = Method(name);
        return new TargetReference(Path.GetFileName(method.Module.Assembly.Location), method.Module.Assembly.FullName!, typeof(FuzzTargets).FullName!, method.Name, method.MetadataToken);
    }

    /// <summary>One call of each target, with arguments that cross.</summary>
    static readonly (string Target, object?[] Args)[] s_calls =
    [
        ("Nothing", []), ("Int", [7]), ("Int", [int.MinValue]), ("Long", [long.MinValue]), ("Double", [0.1]), ("Double", [double.NaN]),
        ("Bool", [true]), ("String", ["h\u00e9llo \"wire\" \U0001F600"]), ("String", [null]), ("Ints", [new[] { 1, 2, 3 }]), ("Ints", [null]),
        ("Longs", [new[] { -1L, long.MaxValue }]), ("Doubles", [new List<double> { double.NegativeInfinity, 1.5 }]), ("Bools", [new[] { true, false }]),
        ("Strings", [new List<string?> { "a", null, "" }]), ("Add", [2, 3L]), ("Mixed", [1, "b", new[] { 2.5 }]), ("Maybe", [null]), ("Maybe", [4]),
        ("Money", [1.25m]), ("When", [new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc)]), ("Paint", [Color.Blue]), ("Shape", [new Point(1, 2)]),
        ("Pair", [(3, "x")]), ("Table", [new Dictionary<string, int> { ["a"] = 1, ["b"] = -2 }]), ("Anything", [new[] { 1, 2 }]), ("Later", [5]),
    ];

    /// <summary>Exception type names a result frame may carry: real ones, and names of what is no exception.</summary>
    public static readonly string[] ExceptionTypeNames =
    [
        "System.InvalidOperationException", "System.DivideByZeroException", "System.ArgumentNullException", "System.IO.FileNotFoundException",
        "ForkKit.RemoteException", "System.Exception", "System.IO.FileInfo", "System.Diagnostics.Process", "ForkKit.Fuzzing.Point",
        "System.AppDomain", "System.Exception[]", "System.Collections.Generic.List`1[System.Exception]", "System.Exception, System.Private.CoreLib",
        "System.AggregateException", "System.OperationCanceledException", "", " ", "System.", ".Exception", "System.Exception&", "System.Exception*",
        "System.Nullable`1", "System.Threading.ThreadAbortException", "System.TypeInitializationException", "System.Runtime.InteropServices.SEHException",
    ];

    /// <summary>Every sample message, unframed.</summary>
    public static List<byte[]> Messages()
    {
        var messages = new List<byte[]>();
        long id = 1;
        foreach (var (name, args) in s_calls)
        {
            var method = Method(name);
            var reference = Reference(name);
            messages.Add(WorkerStart.Write($"Process-{id}", reference, Arguments.Encode(method, args, "args")));
            var parameters = Parameter.Of(method, "items");
            messages.Add(PoolMessages.Task(id, reference, w =>
            {
                for (int item = 0; item < 2; item++)
                {
                    w.WriteStartArray();
                    for (int i = 0; i < args.Length; i++) Arguments.Write(w, parameters[i], args[i]);
                    w.WriteEndArray();
                }
            }));
            if (BinaryWire.Carries(method))
                messages.Add(PoolMessages.BinaryTask(id, reference, 2, w =>
                {
                    for (int item = 0; item < 2; item++)
                        for (int i = 0; i < args.Length; i++) w.WriteBoxed(parameters[i].Type, args[i]);
                }));
            var resultType = BinaryWire.ResultType(method);
            var result = method.Invoke(null, args) is Task task ? task.GetType().GetProperty("Result")!.GetValue(task) : method.Invoke(null, args);
            messages.Add(PoolMessages.Values(id, w =>
            {
                Arguments.WriteResult(w, result, resultType);
                Arguments.WriteResult(w, result, resultType);
            }));
            if (BinaryWire.Carries(resultType)) messages.Add(PoolMessages.BinaryValues(id, resultType, [result, result]));
            id++;
        }
        messages.Add(WorkerStart.Write("PoolWorker-1", null, "[]"u8.ToArray()));
        foreach (var type in ExceptionTypeNames)
            messages.Add(PoolMessages.Error(id++, new RemoteError(type, "it failed", "   at Somewhere()")));
        messages.Add(PoolMessages.Error(PoolMessages.InitializerId, RemoteError.From(new InvalidOperationException("no"), "trace")));
        foreach (var kind in new[] { "Lock", "RLock", "Semaphore" })
            messages.Add(Encoding.UTF8.GetBytes($"{{\"id\":{id++},\"ok\":true,\"values\":[{{\"forkkit\":\"{kind}\",\"name\":\"forkkit-1-0123456789ab\"}}]}}"));

        messages.Add(ForkServerMessages.Request(WorkerRole.Process, messages[0]));
        messages.Add(ForkServerMessages.Request(WorkerRole.Pool, WorkerStart.Write("PoolWorker-2", null, "[]"u8.ToArray())));
        messages.Add(ForkServerMessages.Reply(4242, 0, null));
        messages.Add(ForkServerMessages.Reply(0, 24, "fork: too many open files"));
        var status = new byte[11];
        status[0] = ForkServerMessages.Running;
        ForkServerMessages.WriteCode(status.AsSpan(1), ForkServerMessages.Exiting, 3);
        ForkServerMessages.WriteCode(status.AsSpan(6), ForkServerMessages.Ended, -9);
        messages.Add(status);
        messages.Add(Encoding.UTF8.GetBytes(string.Join('\0', WorkerCommandLine.Options("PoolWorker-1", WorkerRole.Pool, ["3", "4"]))));
        return messages;
    }

    /// <summary><paramref name="payloads"/> as one stream of frames, as a pipe carries them.</summary>
    public static byte[] Framed(params byte[][] payloads)
    {
        using var stream = new MemoryStream();
        foreach (var payload in payloads) Frames.Write(stream, payload);
        return stream.ToArray();
    }
}
