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
                    id = r.GetInt64();
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
                            args[i] = Arguments.ReadValue(ref r, frame, parameters[i]);
                            i++;
                        }
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
                    id = r.GetInt64();
                    break;
                case "error":
                    string? type = null, message = null, trace = null;
                    while (Json.NextProperty(ref r) is { } inner)
                    {
                        if (inner == "type") type = r.GetString();
                        else if (inner == "message") message = r.GetString();
                        else if (inner == "trace") trace = r.GetString();
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

    /// <summary>Reads the "values" array of a successful result message, each as <typeparamref name="T"/>.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static List<T> ReadValues<T>(byte[] utf8)
    {
        var r = new Utf8JsonReader(utf8);
        r.Read();
        var values = new List<T>();
        while (Json.NextProperty(ref r) is { } property)
        {
            if (property != "values")
            {
                r.Skip();
                continue;
            }
            while (r.Read() && r.TokenType != JsonTokenType.EndArray)
            {
                // Plain numbers without boxing: (T)(object)v is free once T is known.
                if (typeof(T) == typeof(int) && r.TokenType == JsonTokenType.Number) values.Add((T)(object)r.GetInt32());
                else if (typeof(T) == typeof(long) && r.TokenType == JsonTokenType.Number) values.Add((T)(object)r.GetInt64());
                else if (typeof(T) == typeof(double) && r.TokenType == JsonTokenType.Number) values.Add((T)(object)r.GetDouble());
                else values.Add((T)Arguments.ReadValue(ref r, utf8, typeof(T))!);
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
        Invoker = MethodInvoker.Create(method);
        Instance = Targets.InstanceFor(method);
        ParameterTypes = method.GetParameters().Select(p => p.ParameterType).ToArray();
    }

    public MethodInfo Method { get; }
    public MethodInvoker Invoker { get; }
    public object? Instance { get; }
    public Type[] ParameterTypes { get; }
}
