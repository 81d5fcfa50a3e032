using System.Buffers.Binary;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace ForkKit.Wire;

/// <summary>
/// The binary encoding of pool tasks and results, for targets whose parameters and result are
/// all plain: int, long, double, bool, string, and one-dimensional arrays and lists of them. A
/// chunk of ints crosses as the ints' bytes, with no JSON to write or parse; every other target
/// keeps the JSON encoding (docs/wire-format.md says which is used when). Both sides know each
/// value's type from the target's signature, so values carry no type tags.
/// </summary>
static class BinaryWire
{
    /// <summary>The first byte of a binary frame; a JSON frame starts with '{'.</summary>
    public const byte Marker = (byte)'B';

    static readonly Type[] s_scalars = [typeof(int), typeof(long), typeof(double), typeof(bool), typeof(string)];

    /// <summary>True for the types the binary encoding carries.</summary>
    public static bool Carries(Type type)
    {
        if (s_scalars.Contains(type)) return true;
        if (type.IsArray) return type.GetArrayRank() == 1 && s_scalars.Contains(type.GetElementType());
        return type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) && s_scalars.Contains(type.GetGenericArguments()[0]);
    }

    /// <summary>True when every parameter of <paramref name="method"/> and its result type are carried.</summary>
    public static bool Carries(MethodInfo method) =>
        method.GetParameters().All(p => Carries(p.ParameterType)) && Carries(ResultType(method));

    /// <summary>The type a target's values cross as: T for Task&lt;T&gt;, object for void and Task (never carried: JSON).</summary>
    public static Type ResultType(MethodInfo method)
    {
        var t = method.ReturnType;
        if (t == typeof(void) || t == typeof(Task)) return typeof(object);
        if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(Task<>)) return t.GetGenericArguments()[0];
        return t;
    }

    /// <summary>The fewest bytes a value of a carried type takes: 8 for a long or double, 1 for a bool, 4 for the rest (an int, or the int32 length or count that starts a string, array or list).</summary>
    public static int MinimumSize(Type type) => type == typeof(long) || type == typeof(double) ? 8 : type == typeof(bool) ? 1 : 4;

    /// <summary>True when <paramref name="value"/> can be written as <paramref name="type"/> by the binary encoding: of exactly that type, or null for a reference type.</summary>
    public static bool Fits(object? value, Type type) => value is null ? !type.IsValueType : value.GetType() == type;
}

/// <summary>A growable buffer the binary encoding writes into. Integers are little-endian.</summary>
sealed class WireWriter
{
    byte[] _buffer;
    int _length;

    public WireWriter(int capacity = 256) => _buffer = new byte[capacity];

    public int Length => _length;

    public byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();

    Span<byte> Take(int count)
    {
        if (_length + count > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        var span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }

    public void WriteByte(byte value) => Take(1)[0] = value;

    public void WriteInt32(int value) => BinaryPrimitives.WriteInt32LittleEndian(Take(4), value);

    public void WriteInt64(long value) => BinaryPrimitives.WriteInt64LittleEndian(Take(8), value);

    public void WriteDouble(double value) => BinaryPrimitives.WriteDoubleLittleEndian(Take(8), value);

    public void WriteBool(bool value) => Take(1)[0] = value ? (byte)1 : (byte)0;

    /// <summary>int32 length in bytes (-1 for null), then UTF-8.</summary>
    public void WriteString(string? value)
    {
        if (value is null)
        {
            WriteInt32(-1);
            return;
        }
        int count = Encoding.UTF8.GetByteCount(value);
        WriteInt32(count);
        Encoding.UTF8.GetBytes(value, Take(count));
    }

    /// <summary>Writes <paramref name="value"/> as <typeparamref name="T"/>, a carried type (<see cref="BinaryWire.Carries(Type)"/>). Plain values are not boxed.</summary>
    /// <remarks>
    /// This and the other per-value methods run once per item of a Map: they are compiled
    /// optimized at once (AggressiveOptimization), as tiered compilation would run the first
    /// large Map in unoptimized code, where the type tests below box every value.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Write<T>(T value)
    {
        if (typeof(T) == typeof(int)) WriteInt32((int)(object)value!);
        else if (typeof(T) == typeof(long)) WriteInt64((long)(object)value!);
        else if (typeof(T) == typeof(double)) WriteDouble((double)(object)value!);
        else if (typeof(T) == typeof(bool)) WriteBool((bool)(object)value!);
        else if (typeof(T) == typeof(string)) WriteString((string?)(object?)value);
        else WriteBoxed(typeof(T), value);
    }

    /// <summary>Writes items [<paramref name="start"/>, <paramref name="end"/>) of <paramref name="items"/> as <typeparamref name="T"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void WriteRange<T>(IReadOnlyList<T> items, int start, int end)
    {
        if (items is List<T> list)
        {
            foreach (var item in CollectionsMarshal.AsSpan(list)[start..end]) Write(item);
            return;
        }
        if (items is T[] array)
        {
            foreach (var item in array.AsSpan(start, end - start)) Write(item);
            return;
        }
        for (int i = start; i < end; i++) Write(items[i]);
    }

    /// <summary>Writes a boxed value as <paramref name="type"/>: a scalar, or an int32 count (-1 for null) and the elements.</summary>
    public void WriteBoxed(Type type, object? value)
    {
        switch (value)
        {
            case int i when type == typeof(int): WriteInt32(i); return;
            case long l when type == typeof(long): WriteInt64(l); return;
            case double d when type == typeof(double): WriteDouble(d); return;
            case bool b when type == typeof(bool): WriteBool(b); return;
            case string s when type == typeof(string): WriteString(s); return;
            case null when type == typeof(string): WriteString(null); return;
            case null when !type.IsValueType: WriteInt32(-1); return;
            case int[] ints: WriteBlock<int>(ints); return;
            case long[] longs: WriteBlock<long>(longs); return;
            case double[] doubles: WriteBlock<double>(doubles); return;
            case List<int> ints: WriteBlock<int>(CollectionsMarshal.AsSpan(ints)); return;
            case List<long> longs: WriteBlock<long>(CollectionsMarshal.AsSpan(longs)); return;
            case List<double> doubles: WriteBlock<double>(CollectionsMarshal.AsSpan(doubles)); return;
            case bool[] bools: WriteEach(bools); return;
            case string?[] strings: WriteEach(strings); return;
            case List<bool> bools: WriteEach(CollectionsMarshal.AsSpan(bools)); return;
            case List<string?> strings: WriteEach(CollectionsMarshal.AsSpan(strings)); return;
        }
        throw new NotSupportedException($"the binary encoding does not carry {(value is null ? "null" : value.GetType())} as {type}");
    }

    /// <summary>A count, then the numbers' bytes as they are in memory when that is little-endian.</summary>
    void WriteBlock<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        WriteInt32(values.Length);
        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(values).CopyTo(Take(values.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>()));
        else foreach (var v in values) Write(v);
    }

    void WriteEach<T>(ReadOnlySpan<T> values)
    {
        WriteInt32(values.Length);
        foreach (var v in values) Write(v);
    }
}

/// <summary>Reads what <see cref="WireWriter"/> wrote.</summary>
ref struct WireReader(ReadOnlySpan<byte> bytes)
{
    readonly ReadOnlySpan<byte> _bytes = bytes;
    int _position;

    public int Position => _position;

    ReadOnlySpan<byte> Take(int count)
    {
        // Unsigned, so that neither a negative count nor one that overflows the sum slips through.
        if ((uint)count > (uint)(_bytes.Length - _position))
            throw new InvalidDataException($"binary wire message: {count} more byte(s) wanted at offset {_position} of a {_bytes.Length}-byte frame");
        var span = _bytes.Slice(_position, count);
        _position += count;
        return span;
    }

    public byte ReadByte() => Take(1)[0];

    public int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    public long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    public double ReadDouble() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

    public bool ReadBool() => Take(1)[0] != 0;

    public string? ReadString()
    {
        int count = ReadInt32();
        return count == -1 ? null : Encoding.UTF8.GetString(Take(count));
    }

    /// <summary>A count, -1 standing for null; anything else negative or beyond the frame is refused.</summary>
    int ReadCount(int elementSize)
    {
        int count = ReadInt32();
        if (count < -1 || (count > 0 && (long)count * elementSize > _bytes.Length - _position))
            throw new InvalidDataException($"binary wire message: a count of {count} at offset {_position - 4} does not fit the frame");
        return count;
    }

    /// <summary>Reads a <typeparamref name="T"/>, a carried type. Plain values are not boxed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public T Read<T>()
    {
        if (typeof(T) == typeof(int)) return (T)(object)ReadInt32();
        if (typeof(T) == typeof(long)) return (T)(object)ReadInt64();
        if (typeof(T) == typeof(double)) return (T)(object)ReadDouble();
        if (typeof(T) == typeof(bool)) return (T)(object)ReadBool();
        if (typeof(T) == typeof(string)) return (T)(object?)ReadString()!;
        return (T)ReadBoxed(typeof(T))!;
    }

    /// <summary>Reads a value of <paramref name="type"/>, boxed.</summary>
    public object? ReadBoxed(Type type)
    {
        if (type == typeof(int)) return ReadInt32();
        if (type == typeof(long)) return ReadInt64();
        if (type == typeof(double)) return ReadDouble();
        if (type == typeof(bool)) return ReadBool();
        if (type == typeof(string)) return ReadString();
        if (type == typeof(int[])) return ReadBlock<int>() is { } ints ? ints : null;
        if (type == typeof(long[])) return ReadBlock<long>() is { } longs ? longs : null;
        if (type == typeof(double[])) return ReadBlock<double>() is { } doubles ? doubles : null;
        if (type == typeof(List<int>)) return ReadBlock<int>() is { } ints2 ? new List<int>(ints2) : null;
        if (type == typeof(List<long>)) return ReadBlock<long>() is { } longs2 ? new List<long>(longs2) : null;
        if (type == typeof(List<double>)) return ReadBlock<double>() is { } doubles2 ? new List<double>(doubles2) : null;
        if (type == typeof(bool[])) return ReadEach<bool>(1) is { } bools ? bools.ToArray() : null;
        if (type == typeof(string[])) return ReadEach<string?>(4) is { } strings ? strings.ToArray() : null;
        if (type == typeof(List<bool>)) return ReadEach<bool>(1);
        if (type == typeof(List<string>)) return ReadEach<string?>(4);
        throw new NotSupportedException($"the binary encoding does not carry {type}");
    }

    T[]? ReadBlock<T>() where T : unmanaged
    {
        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        int count = ReadCount(size);
        if (count == -1) return null;
        var values = new T[count];
        if (BitConverter.IsLittleEndian) Take(count * size).CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
        else for (int i = 0; i < count; i++) values[i] = Read<T>();
        return values;
    }

    List<T>? ReadEach<T>(int minimumSize)
    {
        int count = ReadCount(minimumSize);
        if (count == -1) return null;
        var values = new List<T>(count);
        for (int i = 0; i < count; i++) values.Add(Read<T>());
        return values;
    }
}
