using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ForkKit.Wire;

/// <summary>
/// Arguments and results on the wire: JSON written from, and read back into, the target's
/// declared parameter and return types only. The wire never names a type to instantiate, so a
/// child cannot be made to build an object its target did not ask for.
/// </summary>
static class Arguments
{
    /// <summary>The serializer settings both sides use.</summary>
    public static readonly JsonSerializerOptions Options = CreateOptions();

    static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions
        {
            IncludeFields = true, // value tuples and structs with public fields
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, // NaN, Infinity
            MaxDepth = 256,
        };
        // Locks and semaphores cross by name; the child opens the same kernel objects.
        foreach (var converter in Synchronization.SharedByNameConverter<Lock>.All()) options.Converters.Add(converter);
        return options;
    }

    /// <summary>
    /// Checks the arguments against the method's parameters and encodes them, in the parent.
    /// Every problem is reported before any process starts, naming the argument.
    /// </summary>
    public static byte[][] Encode(MethodInfo method, object?[] args, string paramName)
    {
        var parameters = method.GetParameters();
        int required = parameters.Count(p => !p.HasDefaultValue);
        if (args.Length < required || args.Length > parameters.Length)
        {
            var expected = required == parameters.Length ? $"{parameters.Length}" : $"{required} to {parameters.Length}";
            throw new ArgumentException($"the target {Targets.DescribeForHumans(method)} takes {expected} argument(s), but {args.Length} were given.", paramName);
        }

        var encoded = new byte[args.Length][];
        for (int i = 0; i < args.Length; i++)
            encoded[i] = EncodeOne(method, parameters[i], args[i], i, paramName);
        return encoded;
    }

    internal static byte[] EncodeOne(MethodInfo method, ParameterInfo parameter, object? value, int index, string paramName)
    {
        var type = parameter.ParameterType;
        // Only error messages need the label, and describing a method is not free.
        string Label() => $"argument {index + 1} ('{parameter.Name}') of {Targets.DescribeForHumans(method)}";
        if (type.IsByRef || parameter.IsOut)
            throw new ArgumentException($"{Label()} is a ref/out parameter; a child process cannot write back into the parent's variables. Return a value instead.", paramName);

        if (value is null)
        {
            if (type.IsValueType && Nullable.GetUnderlyingType(type) is null)
                throw new ArgumentException($"{Label()} is null, but the parameter is {TypeName(type)}, which cannot be null.", paramName);
        }
        else if (!type.IsInstanceOfType(value))
        {
            var underlying = Nullable.GetUnderlyingType(type) ?? type;
            if (!IsImplicitNumericWidening(value.GetType(), underlying))
                throw new ArgumentException($"{Label()} is {TypeName(value.GetType())} {Preview(value)}, but the parameter is {TypeName(type)}.", paramName);
            value = Convert.ChangeType(value, underlying, System.Globalization.CultureInfo.InvariantCulture);
        }

        if (value is not null && NotData(value) is { } reason)
            throw new ArgumentException($"{Label()} is {TypeName(value.GetType())}: {reason}, not data, and cannot cross to a child process. Pass the data it stands for instead.", paramName);

        // A lock crosses by name: reading it back here would open a second handle for nothing.
        if (value is Lock or RLock or Semaphore)
            return JsonSerializer.SerializeToUtf8Bytes(value, type, Options);

        string json;
        try
        {
            json = RoundTrip(value, type);
            // A parameter declared as object (or a base type) receives what the JSON says, so
            // the value must also survive as its own type.
            if (value is not null && value.GetType() != type) RoundTrip(value, value.GetType());
        }
        catch (Exception e) when (e is NotSupportedException or JsonException or InvalidOperationException or ArgumentException)
        {
            throw new ArgumentException(
                $"{Label()} ({TypeName(value?.GetType() ?? type)}) cannot cross to a child process: {e.Message.TrimEnd('.')}. " +
                "The wire format carries JSON values: numbers, strings, booleans, arrays, lists, dictionaries, records and classes with public properties.",
                paramName, e);
        }
        return System.Text.Encoding.UTF8.GetBytes(json);
    }

    /// <summary>
    /// Serializes <paramref name="value"/> as <paramref name="type"/>, reads it back the way a
    /// child will and writes it again: when the two texts differ, the value does not survive the
    /// trip (a property without a setter, a constructor the reader cannot use, ...).
    /// </summary>
    static string RoundTrip(object? value, Type type)
    {
        var json = JsonSerializer.Serialize(value, type, Options);
        var back = JsonSerializer.Deserialize(json, type, Options);
        var again = JsonSerializer.Serialize(back, type, Options);
        if (again != json)
            throw new NotSupportedException($"it would arrive changed: sent {Shorten(json)}, the child would see {Shorten(again)}");
        return json;
    }

    /// <summary>Why a value is behaviour or an OS resource rather than data; null for data.</summary>
    static string? NotData(object value) => value switch
    {
        Delegate => "a delegate is code bound to objects in this process",
        Stream => "a stream is an open OS resource of this process",
        System.Runtime.InteropServices.SafeHandle => "a handle is an OS resource of this process",
        Task => "a task is work running in this process",
        Thread => "a thread belongs to this process",
        MemberInfo => "reflection metadata is bound to this runtime",
        IntPtr or UIntPtr => "a pointer is an address in this process's memory",
        _ => null,
    };

    /// <summary>Reads the arguments back into the parameters' types, in the child.</summary>
    public static object?[] Decode(MethodInfo method, byte[][] encoded)
    {
        var parameters = method.GetParameters();
        var values = new object?[parameters.Length];
        for (int i = 0; i < parameters.Length; i++)
            values[i] = i < encoded.Length
                ? DecodeOne(encoded[i], parameters[i].ParameterType)
                : parameters[i].DefaultValue;
        return values;
    }

    /// <summary>One value as <paramref name="type"/>, from its JSON text.</summary>
    public static object? DecodeOne(byte[] json, Type type)
    {
        var reader = new Utf8JsonReader(json);
        reader.Read();
        return ReadValue(ref reader, json, type);
    }

    // The per-value methods below run once per item of a Map, on both sides. They are compiled
    // optimized at once (AggressiveOptimization): tiered compilation would run the first
    // hundred milliseconds of a large Map in unoptimized code.

    /// <summary>
    /// Reads the value at the reader's current token as <paramref name="type"/>, leaving the
    /// reader on the value's last token. Plain numbers, strings, booleans and null are read
    /// directly: a child's first JsonSerializer call costs more than a short target's whole run.
    /// Everything else goes through JsonSerializer, for that type only.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static object? ReadValue(ref Utf8JsonReader reader, ReadOnlySpan<byte> source, Type type)
    {
        var plain = Nullable.GetUnderlyingType(type) ?? type;
        switch (reader.TokenType)
        {
            case JsonTokenType.Null when !plain.IsValueType || plain != type:
                return null;
            case JsonTokenType.String when plain == typeof(string) && !reader.ValueIsEscaped:
                return reader.GetString();
            case JsonTokenType.True or JsonTokenType.False when plain == typeof(bool):
                return reader.GetBoolean();
            case JsonTokenType.Number when plain == typeof(int):
                return reader.GetInt32();
            case JsonTokenType.Number when plain == typeof(long):
                return reader.GetInt64();
            case JsonTokenType.Number when plain == typeof(double):
                return reader.GetDouble();
            default:
                int start = (int)reader.TokenStartIndex;
                reader.Skip();
                return JsonSerializer.Deserialize(source[start..(int)reader.BytesConsumed], type, Options);
        }
    }

    /// <summary>
    /// Writes a value the caller has already checked against <paramref name="type"/>: plain
    /// values directly, anything else after the round-trip check.
    /// </summary>
    /// <exception cref="NotSupportedException">The value cannot cross (the message says why).</exception>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void WriteValue(Utf8JsonWriter writer, object? value, Type type)
    {
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                return;
            case int i:
                writer.WriteNumberValue(i);
                return;
            case long l:
                writer.WriteNumberValue(l);
                return;
            case double d when double.IsFinite(d):
                writer.WriteNumberValue(d);
                return;
            case bool b:
                writer.WriteBooleanValue(b);
                return;
            case string s:
                writer.WriteStringValue(s);
                return;
        }
        if (NotData(value) is { } reason)
            throw new NotSupportedException($"a {TypeName(value.GetType())} is not data: {reason}");
        try
        {
            writer.WriteRawValue(RoundTrip(value, type), skipInputValidation: true);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            throw new NotSupportedException(e.Message, e);
        }
    }

    /// <summary>
    /// Writes a typed argument: plain values of exactly the parameter's type without boxing
    /// (a Map of ints writes 100,000 of them), anything else through <see cref="WriteArgument"/>.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void WriteTyped<T>(Utf8JsonWriter writer, T value, MethodInfo method, ParameterInfo parameter, int index, string paramName)
    {
        if (parameter.ParameterType == typeof(T))
        {
            // typeof(T) tests are constants once T is known, and (int)(object)value does not box.
            if (typeof(T) == typeof(int)) { writer.WriteNumberValue((int)(object)value!); return; }
            if (typeof(T) == typeof(long)) { writer.WriteNumberValue((long)(object)value!); return; }
            if (typeof(T) == typeof(bool)) { writer.WriteBooleanValue((bool)(object)value!); return; }
            if (typeof(T) == typeof(double) && double.IsFinite((double)(object)value!)) { writer.WriteNumberValue((double)(object)value!); return; }
        }
        WriteArgument(writer, method, parameter, value, index, paramName);
    }

    /// <summary>
    /// Checks one argument against its parameter and writes it, in the parent (see
    /// <see cref="Encode"/> for the checks). Plain values skip the round trip.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void WriteArgument(Utf8JsonWriter writer, MethodInfo method, ParameterInfo parameter, object? value, int index, string paramName)
    {
        var type = parameter.ParameterType;
        if (value is int or long or bool or string || value is double d && double.IsFinite(d))
        {
            if (type == value.GetType() || Nullable.GetUnderlyingType(type) == value.GetType())
            {
                WriteValue(writer, value, type);
                return;
            }
        }
        writer.WriteRawValue(EncodeOne(method, parameter, value, index, paramName), skipInputValidation: true);
    }

    /// <summary>C#'s implicit numeric conversions: an int may go where a long or double is declared.</summary>
    static bool IsImplicitNumericWidening(Type from, Type to)
    {
        static int Rank(Type t) => Type.GetTypeCode(t) switch
        {
            TypeCode.SByte or TypeCode.Byte => 1,
            TypeCode.Int16 or TypeCode.UInt16 => 2,
            TypeCode.Int32 or TypeCode.UInt32 => 3,
            TypeCode.Int64 or TypeCode.UInt64 => 4,
            TypeCode.Single => 5,
            TypeCode.Double => 6,
            TypeCode.Decimal => 7,
            _ => 0,
        };
        int f = Rank(from), t = Rank(to);
        if (f == 0 || t == 0 || f >= t) return false;
        if (t == 7 && f >= 5) return false; // float/double to decimal is explicit in C#
        bool fromSigned = from == typeof(sbyte) || from == typeof(short) || from == typeof(int) || from == typeof(long);
        bool toUnsigned = to == typeof(ushort) || to == typeof(uint) || to == typeof(ulong);
        return !(fromSigned && toUnsigned);
    }

    internal static string TypeName(Type type)
    {
        if (Nullable.GetUnderlyingType(type) is { } inner) return TypeName(inner) + "?";
        if (type.IsArray) return TypeName(type.GetElementType()!) + "[]";
        if (type.IsGenericType)
        {
            var name = type.Name[..type.Name.IndexOf('`')];
            return $"{name}<{string.Join(", ", type.GetGenericArguments().Select(TypeName))}>";
        }
        return Type.GetTypeCode(type) switch
        {
            TypeCode.Int32 => "int",
            TypeCode.Int64 => "long",
            TypeCode.Double => "double",
            TypeCode.Single => "float",
            TypeCode.String => "string",
            TypeCode.Boolean => "bool",
            TypeCode.Decimal => "decimal",
            TypeCode.Byte => "byte",
            TypeCode.Int16 => "short",
            TypeCode.Char => "char",
            _ => type == typeof(object) ? "object" : type.Name,
        };
    }

    static string Preview(object value) => value switch
    {
        string s => $"\"{Shorten(s)}\"",
        IFormattable or bool => $"{value}",
        _ => "",
    };

    static string Shorten(string s) => s.Length <= 60 ? s : s[..57] + "...";
}
