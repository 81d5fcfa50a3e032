using System.Buffers;
using System.Text.Json;

namespace ForkKit.Wire;

/// <summary>Where a target method lives: enough for a fresh runtime to load and find it.</summary>
sealed record TargetReference(
    string AssemblyPath,
    string AssemblyName,
    string TypeName,
    string MethodName,
    int MetadataToken)
{
    public string Display => $"{TypeName}.{MethodName}";

    public void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("assemblyPath", AssemblyPath);
        w.WriteString("assemblyName", AssemblyName);
        w.WriteString("typeName", TypeName);
        w.WriteString("methodName", MethodName);
        w.WriteNumber("metadataToken", MetadataToken);
        w.WriteEndObject();
    }

    public static TargetReference Read(ref Utf8JsonReader r)
    {
        string? path = null, assembly = null, type = null, method = null;
        int token = 0;
        Json.Expect(ref r, JsonTokenType.StartObject);
        while (Json.NextProperty(ref r) is { } name)
        {
            switch (name)
            {
                case "assemblyPath": path = Json.String(ref r, name); break;
                case "assemblyName": assembly = Json.String(ref r, name); break;
                case "typeName": type = Json.String(ref r, name); break;
                case "methodName": method = Json.String(ref r, name); break;
                case "metadataToken": token = Json.Int32(ref r, name); break;
                default: r.Skip(); break;
            }
        }
        return new TargetReference(Json.Required(path, "assemblyPath"), Json.Required(assembly, "assemblyName"),
            Json.Required(type, "typeName"), Json.Required(method, "methodName"), token);
    }
}

/// <summary>
/// The first frame every spawned worker reads, the same shape for both roles: who it is, and
/// what to run with what. {"name":"Process-1","target":{...},"args":[3,"x"]}, each argument as
/// the JSON of its parameter's type (docs/wire-format.md). A Process child runs the target and
/// exits; a Pool worker runs it once as its initializer (target null: none), then takes tasks.
/// </summary>
sealed record WorkerStart(string Name, TargetReference? Target, byte[][] Args)
{
    /// <summary>The message for <paramref name="name"/>; <paramref name="args"/> is the arguments' JSON array (<see cref="Arguments.Encode"/>).</summary>
    /// <exception cref="ArgumentException">The message would be larger than one frame may be: refused before any pipe or process exists.</exception>
    public static byte[] Write(string name, TargetReference? target, byte[] args)
    {
        var message = Compose(name, target, args);
        if (message.Length > Frames.MaxFrameBytes)
            throw new ArgumentException(
                $"the arguments of {name} encode to a start message of {message.Length} bytes, more than the wire format's limit of " +
                $"{Frames.MaxFrameBytes} bytes; nothing was started. Pass large data another way: a file's path, or shared memory.", "args");
        return message;
    }

    static byte[] Compose(string name, TargetReference? target, byte[] args) => Json.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("name", name);
        w.WritePropertyName("target");
        if (target is null) w.WriteNullValue();
        else target.Write(w);
        w.WritePropertyName("args");
        w.WriteRawValue(args, skipInputValidation: true);
        w.WriteEndObject();
    });

    /// <summary>
    /// Parsed with a Utf8JsonReader, not JsonSerializer: this runs first thing in every child,
    /// where the serializer's one-time start-up would cost more than the rest of the child.
    /// </summary>
    public static WorkerStart Parse(byte[] utf8)
    {
        var r = new Utf8JsonReader(utf8);
        string? name = null;
        TargetReference? target = null;
        bool hasTarget = false;
        var args = new List<byte[]>();
        r.Read();
        Json.Expect(ref r, JsonTokenType.StartObject);
        while (Json.NextProperty(ref r) is { } property)
        {
            switch (property)
            {
                case "name":
                    name = Json.String(ref r, property);
                    break;
                case "target":
                    hasTarget = true;
                    if (r.TokenType != JsonTokenType.Null) target = TargetReference.Read(ref r);
                    break;
                case "args":
                    args.AddRange(Json.RawArrayItems(ref r, utf8));
                    break;
                default:
                    r.Skip();
                    break;
            }
        }
        if (!hasTarget) throw new InvalidDataException("wire message: the field 'target' is missing");
        return new WorkerStart(Json.Required(name, "name"), target, args.ToArray());
    }
}

/// <summary>Small helpers for reading ForkKit's messages with a Utf8JsonReader.</summary>
static class Json
{
    public static void Expect(ref Utf8JsonReader r, JsonTokenType type)
    {
        if (r.TokenType != type)
            throw new InvalidDataException($"wire message: expected {type} at byte {r.TokenStartIndex}, found {r.TokenType}");
    }

    /// <summary>Moves to the next property's value and returns its name; null at the object's end.</summary>
    public static string? NextProperty(ref Utf8JsonReader r)
    {
        r.Read();
        if (r.TokenType == JsonTokenType.EndObject) return null;
        Expect(ref r, JsonTokenType.PropertyName);
        var name = Text(ref r, "a property name");
        r.Read();
        return name;
    }

    /// <summary>The string at the reader's token; null for JSON null.</summary>
    /// <exception cref="InvalidDataException">The token is no string, or not valid text.</exception>
    public static string? String(ref Utf8JsonReader r, string field) => r.TokenType switch
    {
        JsonTokenType.Null => null,
        JsonTokenType.String => Text(ref r, $"the field '{field}'"),
        _ => throw new InvalidDataException($"wire message: the field '{field}' must be a string, found {r.TokenType} at byte {r.TokenStartIndex}"),
    };

    /// <exception cref="InvalidDataException">The token is no whole number that fits an int64.</exception>
    public static long Int64(ref Utf8JsonReader r, string field) =>
        r.TokenType == JsonTokenType.Number && r.TryGetInt64(out long value) ? value
        : throw new InvalidDataException($"wire message: the field '{field}' must be a whole number of at most 64 bits, found {Describe(ref r)}");

    /// <exception cref="InvalidDataException">The token is no whole number that fits an int32.</exception>
    public static int Int32(ref Utf8JsonReader r, string field) =>
        r.TokenType == JsonTokenType.Number && r.TryGetInt32(out int value) ? value
        : throw new InvalidDataException($"wire message: the field '{field}' must be a whole number of at most 32 bits, found {Describe(ref r)}");

    static string Describe(ref Utf8JsonReader r) =>
        r.TokenType == JsonTokenType.Number
            ? $"the number {System.Text.Encoding.UTF8.GetString(r.ValueSpan[..Math.Min(r.ValueSpan.Length, 40)])} at byte {r.TokenStartIndex}"
            : $"{r.TokenType} at byte {r.TokenStartIndex}";

    /// <summary>
    /// The reader's string or property name as text. JSON escapes may spell what no string can
    /// hold (a lone surrogate, "\udc00"), and raw bytes may be no UTF-8: the reader throws
    /// InvalidOperationException for both, which here says which field was bad.
    /// </summary>
    static string Text(ref Utf8JsonReader r, string what)
    {
        try
        {
            return r.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidDataException($"wire message: {what} at byte {r.TokenStartIndex} is not valid text: {e.Message}", e);
        }
    }

    /// <summary>The JSON text of each item of the array at the reader's current token.</summary>
    public static List<byte[]> RawArrayItems(ref Utf8JsonReader r, byte[] utf8)
    {
        Expect(ref r, JsonTokenType.StartArray);
        var items = new List<byte[]>();
        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
        {
            int start = (int)r.TokenStartIndex;
            r.Skip();
            items.Add(utf8[start..(int)r.BytesConsumed]);
        }
        return items;
    }

    public static T Required<T>(T? value, string name) where T : class =>
        value ?? throw new InvalidDataException($"wire message: the field '{name}' is missing");

    /// <summary>One message's UTF-8 JSON, written by <paramref name="body"/>.</summary>
    public static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true }))
            body(w);
        return buffer.WrittenSpan.ToArray();
    }
}
