using System.Text.Json;
using System.Text.Json.Serialization;

namespace ForkKit.Synchronization;

/// <summary>
/// How a Lock, RLock or Semaphore crosses to a child: by name, {"forkkit":"Lock","name":"forkkit-4242-..."}.
/// The child opens the same kernel objects; it never creates or removes them. Read with
/// <paramref name="namesOfThisProcessOnly"/> (a parent reading its workers' results), a name
/// is opened only when this process created it or was handed it by its own parent
/// (<see cref="KernelNames.KnownHere"/>): a worker can give back a lock it was given, but it
/// cannot make its parent open a kernel object the parent never heard of.
/// </summary>
sealed class SharedByNameConverter<T>(string kind, Func<string, T> open, Func<T, string> nameOf, bool namesOfThisProcessOnly) : JsonConverter<T> where T : class
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
            if (property is "forkkit" or "name" && reader.TokenType != JsonTokenType.String)
                throw new JsonException($"a {kind}'s \"{property}\" must be a string, found {reader.TokenType}");
            if (property == "forkkit") seenKind = reader.GetString();
            else if (property == "name") name = reader.GetString();
            else reader.Skip();
        }
        if (seenKind != kind || name is null || !name.StartsWith(Diagnostics.NamedSemaphores.Prefix, StringComparison.Ordinal))
            throw new JsonException($"expected a {kind} (\"forkkit\":\"{kind}\" and a forkkit- name), found kind {seenKind ?? "none"}");
        if (!namesOfThisProcessOnly)
        {
            var opened = open(name);
            KernelNames.NoteOpened(name);
            return opened;
        }
        if (!KernelNames.KnownHere(name))
            throw new JsonException(
                $"a {kind} named {name} came back from a worker, but this process neither created nor received that name, so it will not open it. " +
                $"A worker can return a {kind} it was passed; to share a new one, create it in the parent and pass it as an argument.");
        return open(name);
    }

    /// <summary>The three converters, for the wire's serializer options; <paramref name="namesOfThisProcessOnly"/> as in a parent reading results.</summary>
    public static IEnumerable<JsonConverter> All(bool namesOfThisProcessOnly) =>
    [
        new SharedByNameConverter<Lock>("Lock", Lock.Open, l => l.Name, namesOfThisProcessOnly),
        new SharedByNameConverter<RLock>("RLock", RLock.Open, l => l.Name, namesOfThisProcessOnly),
        new SharedByNameConverter<Semaphore>("Semaphore", Semaphore.Open, s => s.Name, namesOfThisProcessOnly),
    ];
}
