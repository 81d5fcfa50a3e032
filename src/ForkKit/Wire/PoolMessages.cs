using System.Buffers;
using System.Text.Json;

namespace ForkKit.Wire;

/// <summary>
/// The messages between a Pool and its workers (docs/wire-format.md). Each is one frame.
/// Parent to worker: <see cref="WorkerStart"/> once, then task messages; the parent closes
/// the pipe to tell the worker to exit. Worker to parent: one result message per task, with the
/// task's id; id 0 reports a failed initializer.
/// </summary>
static class PoolMessages
{
    /// <summary>The id a worker uses to report that its initializer failed.</summary>
    public const long InitializerId = 0;

    /// <summary>{"name":"PoolWorker-1","initializer":{"target":{...},"args":[...]}} (initializer may be null).</summary>
    public static byte[] WorkerStart(string name, TargetReference? initializer, byte[][] initArgs) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("name", name);
        w.WritePropertyName("initializer");
        if (initializer is null)
        {
            w.WriteNullValue();
        }
        else
        {
            w.WriteStartObject();
            w.WritePropertyName("target");
            initializer.Write(w);
            w.WriteStartArray("args");
            foreach (var a in initArgs) w.WriteRawValue(a, skipInputValidation: true);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndObject();
    });

    public sealed record WorkerStartMessage(string Name, TargetReference? Initializer, byte[][] InitArgs);

    public static WorkerStartMessage ReadWorkerStart(byte[] utf8)
    {
        var r = new Utf8JsonReader(utf8);
        r.Read();
        Json.Expect(ref r, JsonTokenType.StartObject);
        string? name = null;
        TargetReference? initializer = null;
        var args = new List<byte[]>();
        while (Json.NextProperty(ref r) is { } property)
        {
            switch (property)
            {
                case "name":
                    name = r.GetString();
                    break;
                case "initializer" when r.TokenType == JsonTokenType.Null:
                    break;
                case "initializer":
                    while (Json.NextProperty(ref r) is { } inner)
                    {
                        if (inner == "target") initializer = TargetReference.Read(ref r);
                        else if (inner == "args") args.AddRange(Json.RawArrayItems(ref r, utf8));
                        else r.Skip();
                    }
                    break;
                default:
                    r.Skip();
                    break;
            }
        }
        return new WorkerStartMessage(Json.Required(name, "name"), initializer, args.ToArray());
    }

    /// <summary>
    /// {"id":7,"target":{...},"items":[[a,b],[a,b]]}: run the target once per item (a list of
    /// arguments) and answer with the values in order. <paramref name="writeItems"/> writes the
    /// items' contents inside the "items" array.
    /// </summary>
    public static byte[] Task(long id, TargetReference target, Action<Utf8JsonWriter> writeItems) => Write(w =>
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

    /// <summary>{"id":7,"ok":true,"values":[...]}.</summary>
    public static byte[] Values(long id, Action<Utf8JsonWriter> writeValues) => Write(w =>
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
    public static byte[] Error(long id, RemoteError error) => Write(w =>
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

    static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true }))
            body(w);
        return buffer.WrittenSpan.ToArray();
    }
}

/// <summary>An exception as it crosses the wire: its type's full name, its message, and the worker's trace.</summary>
sealed record RemoteError(string Type, string Message, string Trace)
{
    public static RemoteError From(Exception e, string trace) => new(e.GetType().FullName ?? e.GetType().Name, e.Message, trace);
}
