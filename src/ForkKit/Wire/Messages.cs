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
                case "assemblyPath": path = r.GetString(); break;
                case "assemblyName": assembly = r.GetString(); break;
                case "typeName": type = r.GetString(); break;
                case "methodName": method = r.GetString(); break;
                case "metadataToken": token = r.GetInt32(); break;
                default: r.Skip(); break;
            }
        }
        return new TargetReference(Json.Required(path, "assemblyPath"), Json.Required(assembly, "assemblyName"),
            Json.Required(type, "typeName"), Json.Required(method, "methodName"), token);
    }
}

/// <summary>
/// The first frame a spawned Process child reads: what to run, with what.
/// {"name":"Process-1","target":{...},"args":[3,"x"]}, each argument as the JSON of its
/// parameter's type (docs/wire-format.md).
/// </summary>
sealed record ProcessStart(string Name, TargetReference Target, byte[][] Args)
{
    public byte[] ToUtf8()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("name", Name);
            w.WritePropertyName("target");
            Target.Write(w);
            w.WriteStartArray("args");
            foreach (var a in Args) w.WriteRawValue(a, skipInputValidation: true);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Parsed with a Utf8JsonReader, not JsonSerializer: this runs first thing in every child,
    /// where the serializer's one-time start-up would cost more than the rest of the child.
    /// </summary>
    public static ProcessStart Parse(byte[] utf8)
    {
        var r = new Utf8JsonReader(utf8);
        string? name = null;
        TargetReference? target = null;
        var args = new List<byte[]>();
        r.Read();
        Json.Expect(ref r, JsonTokenType.StartObject);
        while (Json.NextProperty(ref r) is { } property)
        {
            switch (property)
            {
                case "name":
                    name = r.GetString();
                    break;
                case "target":
                    target = TargetReference.Read(ref r);
                    break;
                case "args":
                    args.AddRange(Json.RawArrayItems(ref r, utf8));
                    break;
                default:
                    r.Skip();
                    break;
            }
        }
        return new ProcessStart(Json.Required(name, "name"), Json.Required(target, "target"), args.ToArray());
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
        var name = r.GetString();
        r.Read();
        return name;
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
}
