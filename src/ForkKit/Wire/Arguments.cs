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
    /// <summary>The serializer settings both sides use, and with which a child reads its arguments.</summary>
    public static readonly JsonSerializerOptions Options = CreateOptions(namesOfThisProcessOnly: false);

    /// <summary>
    /// The settings with which a parent reads its workers' results: the same, except that a
    /// Lock, RLock or Semaphore is opened only under a name this process created or was itself
    /// handed by its parent. A child hands back no kernel object of its own choosing.
    /// </summary>
    public static readonly JsonSerializerOptions ResultOptions = CreateOptions(namesOfThisProcessOnly: true);

    static JsonSerializerOptions CreateOptions(bool namesOfThisProcessOnly)
    {
        var options = new JsonSerializerOptions
        {
            IncludeFields = true, // value tuples and structs with public fields
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, // NaN, Infinity
            MaxDepth = 256,
        };
        // Locks and semaphores cross by name; the child opens the same kernel objects.
        foreach (var converter in Synchronization.SharedByNameConverter<Lock>.All(namesOfThisProcessOnly)) options.Converters.Add(converter);
        return options;
    }

    /// <summary>
    /// Checks the arguments against the method's parameters, in the parent, without building a
    /// message: every problem is reported before any process starts, naming the argument. Plain
    /// values (numbers, strings, bools) are checked by type alone; only a value that is not plain
    /// is tried through the serializer, since only that can tell whether it survives the trip.
    /// </summary>
    /// <exception cref="ArgumentException">An argument is missing, extra, of the wrong type or cannot cross.</exception>
    public static void Check(MethodInfo method, object?[] args, string paramName)
    {
        var parameters = CheckCount(method, args.Length, paramName);
        for (int i = 0; i < args.Length; i++)
        {
            var slot = new Parameter(method, parameters[i], i, paramName);
            var value = Checked(slot, args[i]);
            if (!IsPlain(value, slot.Type)) Serialize(slot, value);
        }
    }

    /// <summary>Every argument, checked and written (<see cref="Write{T}"/>), as a JSON array.</summary>
    /// <exception cref="ArgumentException">An argument is missing, extra, of the wrong type or cannot cross.</exception>
    public static byte[] Encode(MethodInfo method, object?[] args, string paramName)
    {
        var parameters = CheckCount(method, args.Length, paramName);
        return Json.Write(w =>
        {
            w.WriteStartArray();
            for (int i = 0; i < args.Length; i++) Write(w, new Parameter(method, parameters[i], i, paramName), args[i]);
            w.WriteEndArray();
        });
    }

    /// <summary>
    /// The one way an argument is written: checked against its parameter, then written as JSON of
    /// the parameter's type. Plain values of exactly that type go straight to the writer, without
    /// boxing (a Map of ints writes 100,000 of them); anything else through the serializer once,
    /// with the check that it arrives unchanged.
    /// </summary>
    /// <exception cref="ArgumentException">The argument does not fit the parameter or cannot cross.</exception>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Write<T>(Utf8JsonWriter writer, Parameter parameter, T value)
    {
        if (parameter.Type == typeof(T))
        {
            // typeof(T) tests are constants once T is known, and (int)(object)value does not box.
            if (typeof(T) == typeof(int)) { writer.WriteNumberValue((int)(object)value!); return; }
            if (typeof(T) == typeof(long)) { writer.WriteNumberValue((long)(object)value!); return; }
            if (typeof(T) == typeof(bool)) { writer.WriteBooleanValue((bool)(object)value!); return; }
            if (typeof(T) == typeof(double) && double.IsFinite((double)(object)value!)) { writer.WriteNumberValue((double)(object)value!); return; }
        }
        var checkedValue = Checked(parameter, value);
        if (IsPlain(checkedValue, parameter.Type)) WritePlain(writer, checkedValue);
        else writer.WriteRawValue(Serialize(parameter, checkedValue), skipInputValidation: true);
    }

    /// <summary>
    /// Writes a target's result, in a worker, as its declared type (<paramref name="type"/>).
    /// </summary>
    /// <exception cref="NotSupportedException">The value cannot cross back (the message says why).</exception>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void WriteResult(Utf8JsonWriter writer, object? value, Type type)
    {
        if (IsPlainKind(value))
        {
            WritePlain(writer, value);
            return;
        }
        if (NotData(value!) is { } reason)
            throw new NotSupportedException($"a {TypeName(value!.GetType())} is not data: {reason}");
        writer.WriteRawValue(SerializeUnchanged(value, type), skipInputValidation: true);
    }

    /// <summary>The parameters, once their count is known to fit <paramref name="given"/> arguments (optional ones may be left out).</summary>
    static ParameterInfo[] CheckCount(MethodInfo method, int given, string paramName)
    {
        var parameters = method.GetParameters();
        int required = parameters.Count(p => !p.HasDefaultValue);
        if (given < required || given > parameters.Length)
        {
            var expected = required == parameters.Length ? $"{parameters.Length}" : $"{required} to {parameters.Length}";
            throw new ArgumentException($"the target {Targets.DescribeForHumans(method)} takes {expected} argument(s), but {given} were given.", paramName);
        }
        return parameters;
    }

    /// <summary>
    /// The value as it will be written for <paramref name="parameter"/>: refused when it cannot
    /// go there (ref/out, null for a value type, another type, behaviour rather than data),
    /// converted when C# would convert it implicitly (an int where a long is declared).
    /// </summary>
    static object? Checked(Parameter parameter, object? value)
    {
        var type = parameter.Type;
        if (type.IsByRef || parameter.Info.IsOut)
            throw new ArgumentException($"{parameter.Label()} is a ref/out parameter; a child process cannot write back into the parent's variables. Return a value instead.", parameter.ParamName);

        if (value is null)
        {
            if (type.IsValueType && Nullable.GetUnderlyingType(type) is null)
                throw new ArgumentException($"{parameter.Label()} is null, but the parameter is {TypeName(type)}, which cannot be null.", parameter.ParamName);
            return null;
        }
        if (!type.IsInstanceOfType(value))
        {
            var underlying = Nullable.GetUnderlyingType(type) ?? type;
            if (!IsImplicitNumericWidening(value.GetType(), underlying))
                throw new ArgumentException($"{parameter.Label()} is {TypeName(value.GetType())} {Preview(value)}, but the parameter is {TypeName(type)}.", parameter.ParamName);
            value = Convert.ChangeType(value, underlying, System.Globalization.CultureInfo.InvariantCulture);
        }
        if (NotData(value) is { } reason)
            throw new ArgumentException($"{parameter.Label()} is {TypeName(value.GetType())}: {reason}, not data, and cannot cross to a child process. Pass the data it stands for instead.", parameter.ParamName);
        return value;
    }

    /// <summary>A value the writer writes directly: null, or a number, string or bool of the declared type.</summary>
    static bool IsPlain(object? value, Type type) =>
        value is null || IsPlainKind(value) && (type == value.GetType() || Nullable.GetUnderlyingType(type) == value.GetType());

    /// <summary>Null, an int, long, finite double, bool or string: JSON has a value of its own for each.</summary>
    static bool IsPlainKind(object? value) =>
        value is null or int or long or bool or string || value is double d && double.IsFinite(d);

    static void WritePlain(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null: writer.WriteNullValue(); break;
            case int i: writer.WriteNumberValue(i); break;
            case long l: writer.WriteNumberValue(l); break;
            case double d: writer.WriteNumberValue(d); break;
            case bool b: writer.WriteBooleanValue(b); break;
            case string s: writer.WriteStringValue(s); break;
        }
    }

    /// <summary>An argument that is not plain as JSON, with the argument named when it cannot cross.</summary>
    static byte[] Serialize(Parameter parameter, object? value)
    {
        try
        {
            return SerializeUnchanged(value, parameter.Type);
        }
        catch (NotSupportedException e)
        {
            throw new ArgumentException(
                $"{parameter.Label()} ({TypeName(value?.GetType() ?? parameter.Type)}) cannot cross to a child process: {e.Message.TrimEnd('.')}. " +
                "The wire format carries JSON values: numbers, strings, booleans, arrays, lists, dictionaries, records and classes with public properties.",
                parameter.ParamName, e.InnerException ?? e);
        }
    }

    /// <summary>
    /// Serializes <paramref name="value"/> as <paramref name="type"/> once, and checks on those
    /// very bytes that the value survives the trip: read back the way a child will and written
    /// again, the text must not change (a property without a setter, a constructor the reader
    /// cannot use, ... would change it). A parameter declared as object or a base type receives
    /// what the JSON says, so the value must also survive as its own type.
    /// </summary>
    /// <exception cref="NotSupportedException">The value cannot cross; the message says why.</exception>
    static byte[] SerializeUnchanged(object? value, Type type)
    {
        try
        {
            // A lock crosses by name: reading it back here would open a second handle for nothing.
            if (value is Lock or RLock or Semaphore) return JsonSerializer.SerializeToUtf8Bytes(value, type, Options);
            var json = JsonSerializer.SerializeToUtf8Bytes(value, type, Options);
            CheckUnchanged(json, type);
            if (value is not null && value.GetType() != type) CheckUnchanged(JsonSerializer.SerializeToUtf8Bytes(value, value.GetType(), Options), value.GetType());
            return json;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            throw new NotSupportedException(e.Message, e);
        }
    }

    static void CheckUnchanged(byte[] json, Type type)
    {
        var again = JsonSerializer.SerializeToUtf8Bytes(JsonSerializer.Deserialize(json, type, Options), type, Options);
        if (!again.AsSpan().SequenceEqual(json))
            throw new NotSupportedException(
                $"it would arrive changed: sent {Shorten(System.Text.Encoding.UTF8.GetString(json))}, the child would see {Shorten(System.Text.Encoding.UTF8.GetString(again))}");
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

    /// <summary>Reads the arguments back into the parameters' types, in the child; optional parameters left out get their defaults.</summary>
    /// <exception cref="InvalidDataException">More arguments than parameters, or a parameter without a default left out.</exception>
    /// <exception cref="JsonException">An argument is not JSON of its parameter's type.</exception>
    public static object?[] Decode(MethodInfo method, byte[][] encoded)
    {
        var parameters = method.GetParameters();
        int required = parameters.Count(p => !p.HasDefaultValue);
        if (encoded.Length < required || encoded.Length > parameters.Length)
            throw new InvalidDataException(
                $"wire message: {encoded.Length} argument(s) for {Targets.DescribeForHumans(method)}, which takes {(required == parameters.Length ? $"{required}" : $"{required} to {parameters.Length}")}");
        var values = new object?[parameters.Length];
        for (int i = 0; i < parameters.Length; i++)
            values[i] = i < encoded.Length
                ? DecodeOne(encoded[i], parameters[i].ParameterType)
                : parameters[i].DefaultValue;
        return values;
    }

    /// <summary>
    /// True when decoding arguments for <paramref name="method"/> can only build data: every
    /// parameter is a number, bool, char, string, enum, DateTime, TimeSpan or Guid, or an array,
    /// list, dictionary, nullable or tuple of those. Decoding anything else may run code with
    /// effects on the process that decodes (a Lock opens its kernel objects, a user type's
    /// constructor runs), so the fork server leaves it to the child.
    /// </summary>
    public static bool DecodesToPlainData(MethodInfo method) => method.GetParameters().All(p => IsPlainData(p.ParameterType));

    static bool IsPlainData(Type type)
    {
        if (type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(DateTime)
            || type == typeof(DateTimeOffset) || type == typeof(TimeSpan) || type == typeof(Guid))
            return true;
        if (type.IsArray) return IsPlainData(type.GetElementType()!);
        if (!type.IsGenericType) return false;
        var definition = type.GetGenericTypeDefinition();
        bool container = definition == typeof(Nullable<>) || definition == typeof(List<>) || definition == typeof(Dictionary<,>)
            || definition == typeof(IReadOnlyList<>) || definition == typeof(IList<>) || definition == typeof(IEnumerable<>)
            || definition == typeof(IReadOnlyDictionary<,>) || definition == typeof(IDictionary<,>)
            || (type.FullName?.StartsWith("System.ValueTuple`", StringComparison.Ordinal) ?? false)
            || (type.FullName?.StartsWith("System.Tuple`", StringComparison.Ordinal) ?? false);
        return container && type.GetGenericArguments().All(IsPlainData);
    }

    /// <summary>One value as <paramref name="type"/>, from its JSON text, as a child reads its arguments.</summary>
    /// <exception cref="JsonException">The text is not JSON of <paramref name="type"/>.</exception>
    public static object? DecodeOne(byte[] json, Type type)
    {
        var reader = new Utf8JsonReader(json);
        reader.Read();
        return ReadValue(ref reader, json, type, Options);
    }

    // The per-value methods below run once per item of a Map, on both sides. They are compiled
    // optimized at once (AggressiveOptimization): tiered compilation would run the first
    // hundred milliseconds of a large Map in unoptimized code.

    /// <summary>
    /// Reads the value at the reader's current token as <paramref name="type"/>, leaving the
    /// reader on the value's last token. Plain numbers, strings, booleans and null are read
    /// directly: a child's first JsonSerializer call costs more than a short target's whole run.
    /// Everything else goes through JsonSerializer, for that type only, with
    /// <paramref name="options"/> (<see cref="Options"/>, or <see cref="ResultOptions"/> in a
    /// parent). So does a plain value the reader cannot give as the type (a number out of its
    /// range, a string that is not UTF-8): the serializer refuses it with a JsonException.
    /// </summary>
    /// <exception cref="JsonException">The value is not JSON of <paramref name="type"/>.</exception>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static object? ReadValue(ref Utf8JsonReader reader, ReadOnlySpan<byte> source, Type type, JsonSerializerOptions options)
    {
        var plain = Nullable.GetUnderlyingType(type) ?? type;
        switch (reader.TokenType)
        {
            case JsonTokenType.Null when !plain.IsValueType || plain != type:
                return null;
            case JsonTokenType.String when plain == typeof(string) && !reader.ValueIsEscaped && System.Text.Unicode.Utf8.IsValid(reader.ValueSpan):
                return reader.GetString();
            case JsonTokenType.True or JsonTokenType.False when plain == typeof(bool):
                return reader.GetBoolean();
            case JsonTokenType.Number when plain == typeof(int) && reader.TryGetInt32(out int i):
                return i;
            case JsonTokenType.Number when plain == typeof(long) && reader.TryGetInt64(out long l):
                return l;
            case JsonTokenType.Number when plain == typeof(double) && reader.TryGetDouble(out double d):
                return d;
            default:
                int start = (int)reader.TokenStartIndex;
                reader.Skip();
                return JsonSerializer.Deserialize(source[start..(int)reader.BytesConsumed], type, options);
        }
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
        if (type.IsEnum) return type.Name; // its type code is its underlying integer's
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

/// <summary>
/// One parameter of a target as the wire sees it: its type, and how a message names it
/// ("argument 2 ('b') of Program.Divide(int, int)").
/// </summary>
readonly record struct Parameter(MethodInfo Method, ParameterInfo Info, int Index, string ParamName)
{
    public Type Type => Info.ParameterType;

    /// <summary>The parameters of <paramref name="method"/>, for arguments that come from <paramref name="paramName"/>.</summary>
    public static Parameter[] Of(MethodInfo method, string paramName) =>
        method.GetParameters().Select((p, i) => new Parameter(method, p, i, paramName)).ToArray();

    // Only error messages need the label, and describing a method is not free.
    public string Label() => $"argument {Index + 1} ('{Info.Name}') of {Targets.DescribeForHumans(Method)}";
}
