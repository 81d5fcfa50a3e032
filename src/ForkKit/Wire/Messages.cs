using System.Text.Json;
using System.Text.Json.Serialization;

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
}

/// <summary>The first frame a spawned Process child reads: what to run, with what.</summary>
sealed record ProcessStart(string Name, TargetReference Target, JsonElement[] Args);

/// <summary>
/// The wire's JSON contract for ForkKit's own messages, generated at build time so that a
/// child does not pay for reflection over these types while it starts.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ProcessStart))]
partial class WireJson : JsonSerializerContext
{
}
