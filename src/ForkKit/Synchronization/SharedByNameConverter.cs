using System.Text.Json;
using System.Text.Json.Serialization;

namespace ForkKit.Synchronization;

/// <summary>
/// How a Lock, RLock or Semaphore crosses to a child: by name, {"forkkit":"Lock","name":"forkkit-4242-..."}.
/// The child opens the same kernel objects; it never creates or removes them.
/// </summary>
sealed class SharedByNameConverter<T>(string kind, Func<string, T> open, Func<T, string> nameOf) : JsonConverter<T> where T : class
{
    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteString("forkkit", kind);
        writer.WriteString("name", nameOf(value));
        writer.WriteEndObject();
    }

    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string? seenKind = null, name = null;
        if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException($"a {kind} crosses as an object with its name");
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var property = reader.GetString();
            reader.Read();
            if (property == "forkkit") seenKind = reader.GetString();
            else if (property == "name") name = reader.GetString();
            else reader.Skip();
        }
        if (seenKind != kind || name is null || !name.StartsWith(Diagnostics.NamedSemaphores.Prefix, StringComparison.Ordinal))
            throw new JsonException($"expected a {kind} (\"forkkit\":\"{kind}\" and a forkkit- name), found kind {seenKind ?? "none"}");
        return open(name);
    }

    /// <summary>The three converters, for the wire's serializer options.</summary>
    public static IEnumerable<JsonConverter> All() =>
    [
        new SharedByNameConverter<Lock>("Lock", Lock.Open, l => l.Name),
        new SharedByNameConverter<RLock>("RLock", RLock.Open, l => l.Name),
        new SharedByNameConverter<Semaphore>("Semaphore", Semaphore.Open, s => s.Name),
    ];
}
