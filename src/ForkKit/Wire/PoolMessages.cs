using System.Reflection;
using System.Text.Json;

namespace ForkKit.Wire;

/// <summary>
/// The messages between a Pool and its workers (docs/wire-format.md), written and read here.
/// Each is one frame. Parent to worker: a <see cref="WorkerStart"/> once, then task messages;
/// the parent closes the pipe to tell the worker to exit. Worker to parent: one result message
/// per task, with the task's id; id 0 reports a failed initializer.
/// </summary>
static class PoolMessages
{
    /// <summary>The id a worker uses to report that its initializer failed.</summary>
    public const long InitializerId = 0;

    /// <summary>
    /// {"id":7,"target":{...},"items":[[a,b],[a,b]]}: run the target once per item (a list of
    /// arguments) and answer with the values in order. <paramref name="writeItems"/> writes the
    /// items' contents inside the "items" array.
    /// </summary>
    public static byte[] Task(long id, TargetReference target, Action<Utf8JsonWriter> writeItems) => Json.Write(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("id", id);
        w.WritePropertyName("target");
        target.Write(w);
        w.WriteStartArray("items");
        writeItems(w);
        w.WriteEndArray();
        w.WriteEndObject();
    });

    /// <summary>
    /// The binary form of <see cref="Task"/>, for targets the binary encoding carries
    /// (<see cref="BinaryWire.Carries(MethodInfo)"/>): 'B', int64 id, the target (four strings
    /// and an int32 token), int32 item count, then each item's arguments in parameter order.
    /// <paramref name="writeItems"/> writes the items.
    /// </summary>
    public static byte[] BinaryTask(long id, TargetReference target, int count, Action<WireWriter> writeItems)
    {
        var w = new WireWriter(64 + target.AssemblyPath.Length + target.AssemblyName.Length + target.TypeName.Length + 16 * count);
        w.WriteByte(BinaryWire.Marker);
        w.WriteInt64(id);
        w.WriteString(target.AssemblyPath);
        w.WriteString(target.AssemblyName);
        w.WriteString(target.TypeName);
        w.WriteString(target.MethodName);
        w.WriteInt32(target.MetadataToken);
        w.WriteInt32(count);
        writeItems(w);
        return w.ToArray();
    }

    /// <summary>True for a frame in the binary encoding (a task or a values answer).</summary>
    public static bool IsBinary(byte[] frame) => frame.Length > 0 && frame[0] == BinaryWire.Marker;

    /// <summary>Calls a task's target on one item's arguments (a span the reader reuses for every item).</summary>
    public delegate void ItemRunner(ResolvedTarget target, Span<object?> args);

    /// <summary>
    /// Reads a task message, in a worker: its target is resolved with <paramref name="resolve"/>
    /// (the worker caches it), and <paramref name="run"/> is called once per item with the
    /// item's arguments read as the target's parameter types. <paramref name="id"/> is set as
    /// soon as it is read, so a failure later in the message can still be answered by id.
    /// </summary>
    /// <returns>The resolved target.</returns>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static ResolvedTarget ReadTask(byte[] frame, Func<TargetReference, ResolvedTarget> resolve, ItemRunner run, out long id)
    {
        if (IsBinary(frame)) return ReadBinaryTask(frame, resolve, run, out id);
        var r = new Utf8JsonReader(frame);
        r.Read();
        Json.Expect(ref r, JsonTokenType.StartObject);
        id = -1;
        ResolvedTarget? target = null;
        while (Json.NextProperty(ref r) is { } property)
        {
            switch (property)
            {
                case "id":
                    id = Json.Int64(ref r, property);
                    break;
                case "target":
                    target = resolve(TargetReference.Read(ref r));
                    break;
                case "items":
                    if (target is null) throw new InvalidDataException("wire message: 'target' must come before 'items'");
                    var parameters = target.ParameterTypes;
                    var args = new object?[parameters.Length];
                    Json.Expect(ref r, JsonTokenType.StartArray);
                    while (r.Read() && r.TokenType != JsonTokenType.EndArray)
                    {
                        Json.Expect(ref r, JsonTokenType.StartArray);
                        int i = 0;
                        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
                        {
                            if (i == parameters.Length) throw new InvalidDataException($"wire message: an item has more than the target's {parameters.Length} argument(s)");
                            args[i] = Arguments.ReadValue(ref r, frame, parameters[i], Arguments.Options);
                            i++;
                        }
                        // The array is reused: an item cut short would hand the target the last item's values.
                        if (i < parameters.Length) throw new InvalidDataException($"wire message: an item has {i} of the target's {parameters.Length} argument(s)");
                        run(target, args.AsSpan(0, parameters.Length));
                    }
                    break;
                default:
                    r.Skip();
                    break;
            }
        }
        return target ?? throw new InvalidDataException("wire message: the field 'target' is missing");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    static ResolvedTarget ReadBinaryTask(byte[] frame, Func<TargetReference, ResolvedTarget> resolve, ItemRunner run, out long id)
    {
        var target = ReadBinaryTaskHead(frame, resolve, out id, out int count, out int offset);
        var parameters = target.ParameterTypes;
        var r = new WireReader(frame.AsSpan(offset));
        var args = new object?[parameters.Length];
        for (int item = 0; item < count; item++)
        {
            for (int i = 0; i < parameters.Length; i++) args[i] = r.ReadBoxed(parameters[i]);
            run(target, args);
        }
        return target;
    }

    /// <summary>
    /// The head of a binary task: its id and target (resolved), how many items follow, and at
    /// which offset of the frame they start.
    /// </summary>
    public static ResolvedTarget ReadBinaryTaskHead(byte[] frame, Func<TargetReference, ResolvedTarget> resolve, out long id, out int count, out int offset)
    {
        var r = new WireReader(frame);
        r.ReadByte();
        id = r.ReadInt64();
        var reference = new TargetReference(Required(r.ReadString(), "assemblyPath"), Required(r.ReadString(), "assemblyName"),
            Required(r.ReadString(), "typeName"), Required(r.ReadString(), "methodName"), r.ReadInt32());
        var target = resolve(reference);
        if (!BinaryWire.Carries(target.Method))
            throw new InvalidDataException($"binary wire message: {reference.Display} has a parameter or a result the binary encoding does not carry");
        // Items of no parameters take no bytes, so no frame size would bound their count.
        if (target.ParameterTypes.Length == 0)
            throw new InvalidDataException($"binary wire message: {reference.Display} takes no arguments; its tasks are sent as JSON");
        count = r.ReadInt32();
        offset = r.Position;
        // A count of items whose smallest encoding exceeds the bytes left is corrupt: refused
        // here, before a reader or the typed loop sizes anything by it.
        long itemSize = target.ParameterTypes.Sum(BinaryWire.MinimumSize);
        if (count < 0 || count * itemSize > frame.Length - offset)
            throw new InvalidDataException($"binary wire message: a count of {count} items does not fit the {frame.Length - offset} byte(s) left in the frame");
        return target;
    }

    /// <summary>The head of a binary answer: 'B', int64 id, byte 1 (ok), int32 count. The values follow.</summary>
    public static void WriteBinaryValuesHead(WireWriter w, long id, int count)
    {
        w.WriteByte(BinaryWire.Marker);
        w.WriteInt64(id);
        w.WriteBool(true);
        w.WriteInt32(count);
    }

    static string Required(string? value, string name) =>
        value ?? throw new InvalidDataException($"binary wire message: the target's {name} is missing");

    /// <summary>
    /// The binary answer to a binary task: 'B', int64 id, byte 1 (ok), int32 count, then the
    /// values as <paramref name="type"/>. A failure is answered with <see cref="Error"/>, in JSON.
    /// </summary>
    public static byte[] BinaryValues(long id, Type type, List<object?> values)
    {
        var w = new WireWriter(16 + 8 * values.Count);
        WriteBinaryValuesHead(w, id, values.Count);
        foreach (var v in values) w.WriteBoxed(type, v);
        return w.ToArray();
    }

    /// <summary>{"id":7,"ok":true,"values":[...]}.</summary>
    public static byte[] Values(long id, Action<Utf8JsonWriter> writeValues) => Json.Write(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("id", id);
        w.WriteBoolean("ok", true);
        w.WriteStartArray("values");
        writeValues(w);
        w.WriteEndArray();
        w.WriteEndObject();
    });

    /// <summary>{"id":7,"ok":false,"error":{"type":"System.InvalidOperationException","message":"...","trace":"..."}}.</summary>
    public static byte[] Error(long id, RemoteError error) => Json.Write(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("id", id);
        w.WriteBoolean("ok", false);
        w.WriteStartObject("error");
        w.WriteString("type", error.Type);
        w.WriteString("message", error.Message);
        w.WriteString("trace", error.Trace);
        w.WriteEndObject();
        w.WriteEndObject();
    });

    /// <summary>The head of a result message: its id and, for a failure, the error. Values stay in the frame.</summary>
    public sealed record ResultHead(long Id, RemoteError? Error);

    public static ResultHead ReadResultHead(byte[] utf8)
    {
        if (IsBinary(utf8))
        {
            var b = new WireReader(utf8);
            b.ReadByte();
            return new ResultHead(b.ReadInt64(), null);
        }
        var r = new Utf8JsonReader(utf8);
        r.Read();
        Json.Expect(ref r, JsonTokenType.StartObject);
        long id = -1;
        RemoteError? error = null;
        while (Json.NextProperty(ref r) is { } property)
        {
            // The id and the error come first; the values are read later, as their declared type.
            if (property == "values") break;
            switch (property)
            {
                case "id":
                    id = Json.Int64(ref r, property);
                    break;
                case "error":
                    string? type = null, message = null, trace = null;
                    Json.Expect(ref r, JsonTokenType.StartObject);
                    while (Json.NextProperty(ref r) is { } inner)
                    {
                        if (inner == "type") type = Json.String(ref r, "error.type");
                        else if (inner == "message") message = Json.String(ref r, "error.message");
                        else if (inner == "trace") trace = Json.String(ref r, "error.trace");
                        else r.Skip();
                    }
                    error = new RemoteError(type ?? "System.Exception", message ?? "", trace ?? "");
                    break;
                default:
                    r.Skip();
                    break;
            }
        }
        return new ResultHead(id, error);
    }

    /// <summary>
    /// Reads the values of a successful result message, binary or JSON, each as
    /// <typeparamref name="T"/>. For an async target (T is Task&lt;U&gt;) the worker awaited each
    /// task and sent its U: the values are read as U and handed back as completed tasks.
    /// </summary>
    /// <exception cref="InvalidDataException">The frame is no values message, or a binary one for a type the binary encoding does not carry.</exception>
    /// <exception cref="JsonException">A value is not JSON of <typeparamref name="T"/>.</exception>
    public static List<T> ReadValues<T>(byte[] frame) =>
        AwaitedValues<T>.Read is { } readTasks ? readTasks(frame)
        : !IsBinary(frame) ? ReadJsonValues<T>(frame)
        : BinaryWire.Carries(typeof(T)) ? ReadBinaryValues<T>(frame)
        : throw new InvalidDataException($"binary wire message: values of {Arguments.TypeName(typeof(T))} never cross in the binary encoding");

    /// <summary>For T = Task&lt;U&gt;: reads U values and wraps each in a completed task; null for any other T.</summary>
    static class AwaitedValues<T>
    {
        public static readonly Func<byte[], List<T>>? Read =
            typeof(T).IsGenericType && typeof(T).GetGenericTypeDefinition() == typeof(System.Threading.Tasks.Task<>)
                ? typeof(PoolMessages).GetMethod(nameof(ReadAsCompletedTasks), BindingFlags.Static | BindingFlags.NonPublic)!
                    .MakeGenericMethod(typeof(T).GetGenericArguments()[0]).CreateDelegate<Func<byte[], List<T>>>()
                : null;
    }

    static List<System.Threading.Tasks.Task<U>> ReadAsCompletedTasks<U>(byte[] frame) =>
        ReadValues<U>(frame).Select(System.Threading.Tasks.Task.FromResult).ToList();

    /// <remarks>Apart from the JSON reader, so a call compiles (optimized, at once) only the one its frames use.</remarks>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    static List<T> ReadBinaryValues<T>(byte[] utf8)
    {
        var b = new WireReader(utf8);
        b.ReadByte();
        b.ReadInt64();
        b.ReadBool();
        int count = b.ReadInt32();
        if (count < 0 || (long)count * BinaryWire.MinimumSize(typeof(T)) > utf8.Length - b.Position)
            throw new InvalidDataException($"binary wire message: a count of {count} values does not fit the {utf8.Length - b.Position} byte(s) left in the frame");
        var read = new List<T>(count);
        for (int i = 0; i < count; i++) read.Add(b.Read<T>());
        return read;
    }

    /// <summary>Reads the "values" array of a successful JSON result message, each as <typeparamref name="T"/>.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    static List<T> ReadJsonValues<T>(byte[] utf8)
    {
        var r = new Utf8JsonReader(utf8);
        r.Read();
        Json.Expect(ref r, JsonTokenType.StartObject);
        var values = new List<T>();
        while (Json.NextProperty(ref r) is { } property)
        {
            if (property != "values")
            {
                r.Skip();
                continue;
            }
            Json.Expect(ref r, JsonTokenType.StartArray);
            while (r.Read() && r.TokenType != JsonTokenType.EndArray)
            {
                // Plain numbers without boxing: (T)(object)v is free once T is known. A number
                // that does not fit goes on to ReadValue, whose serializer refuses it by name.
                if (typeof(T) == typeof(int) && r.TokenType == JsonTokenType.Number && r.TryGetInt32(out int i)) values.Add((T)(object)i);
                else if (typeof(T) == typeof(long) && r.TokenType == JsonTokenType.Number && r.TryGetInt64(out long l)) values.Add((T)(object)l);
                else if (typeof(T) == typeof(double) && r.TokenType == JsonTokenType.Number && r.TryGetDouble(out double d)) values.Add((T)(object)d);
                else values.Add((T)Arguments.ReadValue(ref r, utf8, typeof(T), Arguments.ResultOptions)!);
            }
            break;
        }
        return values;
    }
}

/// <summary>An exception as it crosses the wire: its type's full name, its message, and the worker's trace.</summary>
sealed record RemoteError(string Type, string Message, string Trace)
{
    public static RemoteError From(Exception e, string trace) => new(e.GetType().FullName ?? e.GetType().Name, e.Message, trace);
}

/// <summary>
/// A task's target as a worker holds it once resolved: the method, a fast invoker for it, the
/// object it is called on (null for a static method) and its parameter types.
/// </summary>
sealed class ResolvedTarget
{
    public ResolvedTarget(MethodInfo method)
    {
        Method = method;
        _invoker = new Lazy<MethodInvoker>(() => MethodInvoker.Create(method));
        Instance = Targets.InstanceFor(method);
        ParameterTypes = method.GetParameters().Select(p => p.ParameterType).ToArray();
        Loop = BinaryLoop.For(method, Instance);
    }

    readonly Lazy<MethodInvoker> _invoker;

    public MethodInfo Method { get; }

    /// <summary>Made on first use: a target that runs through <see cref="Loop"/> never needs it, and making one costs a forked worker milliseconds.</summary>
    public MethodInvoker Invoker => _invoker.Value;
    public object? Instance { get; }
    public Type[] ParameterTypes { get; }

    /// <summary>A typed loop over a binary chunk for this target, when it has one (<see cref="BinaryLoop.For"/>).</summary>
    public BinaryLoop? Loop { get; }
}

/// <summary>
/// Runs a target over a binary chunk through a typed delegate: each argument read as its type,
/// the target called directly, each value written as its type, with no boxing and no
/// reflection per item. For targets of one or two carried parameters returning a carried
/// value (not a Task); others go through <see cref="ResolvedTarget.Invoker"/>.
/// </summary>
abstract class BinaryLoop
{
    /// <summary>Reads <paramref name="count"/> items from <paramref name="items"/>, calls the target on each, and writes the answer frame.</summary>
    public abstract byte[] Run(long id, ReadOnlySpan<byte> items, int count);

    public static BinaryLoop? For(MethodInfo method, object? instance)
    {
        if (!BinaryWire.Carries(method) || method.ReturnType != BinaryWire.ResultType(method) || method.ReturnType == typeof(object)) return null;
        var parameters = method.GetParameters().Select(p => p.ParameterType).ToArray();
        Type? loop = parameters.Length switch
        {
            1 => typeof(Loop1<,>).MakeGenericType(parameters[0], method.ReturnType),
            2 => typeof(Loop2<,,>).MakeGenericType(parameters[0], parameters[1], method.ReturnType),
            _ => null,
        };
        return loop is null ? null : (BinaryLoop)Activator.CreateInstance(loop, method, instance)!;
    }

    static Delegate Bind(MethodInfo method, object? instance, Type delegateType) =>
        instance is null ? method.CreateDelegate(delegateType) : method.CreateDelegate(delegateType, instance);

    sealed class Loop1<T, TResult>(MethodInfo method, object? instance) : BinaryLoop
    {
        readonly Func<T, TResult> _f = (Func<T, TResult>)Bind(method, instance, typeof(Func<T, TResult>));

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public override byte[] Run(long id, ReadOnlySpan<byte> items, int count)
        {
            var r = new WireReader(items);
            var w = new WireWriter(16 + 8 * count);
            PoolMessages.WriteBinaryValuesHead(w, id, count);
            for (int i = 0; i < count; i++) w.Write(_f(r.Read<T>()));
            return w.ToArray();
        }
    }

    sealed class Loop2<T1, T2, TResult>(MethodInfo method, object? instance) : BinaryLoop
    {
        readonly Func<T1, T2, TResult> _f = (Func<T1, T2, TResult>)Bind(method, instance, typeof(Func<T1, T2, TResult>));

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public override byte[] Run(long id, ReadOnlySpan<byte> items, int count)
        {
            var r = new WireReader(items);
            var w = new WireWriter(16 + 8 * count);
            PoolMessages.WriteBinaryValuesHead(w, id, count);
            for (int i = 0; i < count; i++)
            {
                var a = r.Read<T1>();
                w.Write(_f(a, r.Read<T2>()));
            }
            return w.ToArray();
        }
    }
}
