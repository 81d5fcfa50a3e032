using System.Buffers.Binary;
using System.Text;
using ForkKit.Wire;

namespace ForkKit.Fuzzing;

/// <summary>
/// Input number <c>i</c> of a run, made from the run's seed and <c>i</c> alone, so that any
/// input can be made again without the ones before it (a supervisor restarts a run after a
/// hang at the next input). Most inputs are valid messages, framed or not, mutated a few times:
/// bits flipped, bytes and length prefixes set to edge values, cut, spliced, JSON values
/// replaced by ones of the wrong type, invalid UTF-8 and deep nesting put in.
/// </summary>
sealed class Generator(IReadOnlyList<byte[]> seeds)
{
    /// <summary>No input is longer than this; deep nesting and long strings fit well within it.</summary>
    public const int MaxInputBytes = 64 * 1024;

    static readonly int[] s_edgeInts =
    [
        0, 1, -1, -2, 2, 3, 4, 5, 7, 8, 12, 13, 127, 128, 255, 256, 0xFFFF, 0x10000, 100_000_000, int.MaxValue, int.MinValue,
        Frames.MaxFrameBytes, Frames.MaxFrameBytes + 1, Frames.MaxFrameBytes - 1, 0x0FFFFFFF, 0x40000000, unchecked((int)0x80000000),
        unchecked((int)0xFFFFFFFE), 0x20000000,
    ];

    static readonly byte[][] s_invalidUtf8 =
    [
        [0xFF], [0xC0, 0x80], [0xC3], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x80], [0xF0, 0x9F, 0x98], [0xFE, 0xFF], [0xEF, 0xBB, 0xBF],
    ];

    static readonly byte[] s_meaningful = [0, 0x7F, 0x80, 0xFF, (byte)'"', (byte)'{', (byte)'}', (byte)'[', (byte)']', (byte)',', (byte)':', (byte)'\\', (byte)'B', (byte)'-', (byte)'0', (byte)'e', (byte)'.'];

    static readonly string[] s_values =
    [
        "0", "-1", "1.5", "1e400", "-1e400", "-0", "99999999999999999999999", "2147483648", "-9223372036854775809", "0.0000001e-400",
        "\"x\"", "\"\"", "\"\\ud800\"", "\"\\udc00\\ud800\"", "\"\\u0000\"", "\"\\uZZZZ\"", "true", "false", "null", "[]", "{}", "[[[[1]]]]", "{\"a\":1}",
        "\"NaN\"", "\"Infinity\"", "NaN", "\"2026-13-45\"", "\"1.5\"", "\"forkkit-1-0\"", "[null]", "[1,\"a\",null]", "{\"X\":\"1\",\"Y\":[]}",
        "{\"forkkit\":\"Lock\",\"name\":\"forkkit-1-abc\"}", "{\"forkkit\":\"Lock\",\"name\":\"/etc/passwd\"}", "{\"forkkit\":\"RLock\",\"name\":null}",
        "{\"forkkit\":1,\"name\":2}", "{\"Item1\":1,\"Item2\":\"b\"}", "{\"$type\":\"System.IO.FileInfo\",\"fileName\":\"/etc/passwd\"}",
        "{\"$id\":\"1\",\"$ref\":\"1\"}", "{\"type\":\"System.IO.FileInfo\",\"message\":\"m\",\"trace\":\"t\"}", "{\"type\":7}", "\"Red\"", "3",
    ];

    readonly byte[][] _seeds = seeds.ToArray();
    readonly byte[][] _framedSeeds = seeds.Select(s => WireSamples.Framed(s)).ToArray();

    public byte[] Make(ulong runSeed, long index)
    {
        var rng = new Rng(runSeed * 0x9E3779B97F4A7C15UL ^ (ulong)index);
        var bytes = rng.Below(10) switch
        {
            0 => Splice(ref rng),
            1 => Nested(ref rng),
            2 => Headers(ref rng),
            3 => RandomBytes(ref rng),
            _ => Seed(ref rng),
        };
        var list = new List<byte>(bytes);
        int mutations = rng.Below(5);
        for (int i = 0; i < mutations; i++) Mutate(ref rng, list);
        if (list.Count > MaxInputBytes) list.RemoveRange(MaxInputBytes, list.Count - MaxInputBytes);
        return list.ToArray();
    }

    byte[] Seed(ref Rng rng) => rng.Below(3) == 0 ? _framedSeeds[rng.Below(_framedSeeds.Length)] : _seeds[rng.Below(_seeds.Length)];

    byte[] Splice(ref Rng rng)
    {
        var a = Seed(ref rng);
        var b = Seed(ref rng);
        int cutA = rng.Below(a.Length + 1), cutB = rng.Below(b.Length + 1);
        return [.. a.AsSpan(0, cutA), .. b.AsSpan(cutB)];
    }

    /// <summary>Arrays or objects nested up to a few thousand deep, alone, as a value, or framed.</summary>
    static byte[] Nested(ref Rng rng)
    {
        int depth = rng.Below(4) switch { 0 => rng.Below(70), 1 => 60 + rng.Below(10), 2 => 250 + rng.Below(10), _ => rng.Below(5000) };
        bool objects = rng.Below(2) == 0;
        var text = new StringBuilder();
        string open = objects ? "{\"a\":" : "[";
        for (int i = 0; i < depth; i++) text.Append(open);
        text.Append('1');
        for (int i = 0; i < depth; i++) text.Append(objects ? '}' : ']');
        var value = text.ToString();
        var json = rng.Below(3) switch
        {
            0 => value,
            1 => $"{{\"id\":1,\"ok\":true,\"values\":[{value}]}}",
            _ => $"{{\"name\":\"p\",\"target\":{{\"assemblyPath\":\"x\",\"assemblyName\":\"x\",\"typeName\":\"ForkKit.Fuzzing.FuzzTargets\",\"methodName\":\"Anything\",\"metadataToken\":1}},\"args\":[{value}]}}",
        };
        var bytes = Encoding.UTF8.GetBytes(json);
        return rng.Below(2) == 0 ? bytes : WireSamples.Framed(bytes);
    }

    /// <summary>A frame header with an edge length, and a short or no payload behind it.</summary>
    byte[] Headers(ref Rng rng)
    {
        var payload = Seed(ref rng);
        var bytes = new byte[4 + Math.Min(payload.Length, rng.Below(64))];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, s_edgeInts[rng.Below(s_edgeInts.Length)]);
        payload.AsSpan(0, bytes.Length - 4).CopyTo(bytes.AsSpan(4));
        return bytes;
    }

    static byte[] RandomBytes(ref Rng rng)
    {
        var bytes = new byte[rng.Below(64)];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)rng.Next();
        return bytes;
    }

    void Mutate(ref Rng rng, List<byte> b)
    {
        int at = rng.Below(b.Count + 1);
        switch (rng.Below(12))
        {
            case 0 when b.Count > 0: // a bit flipped
                b[Math.Min(at, b.Count - 1)] ^= (byte)(1 << rng.Below(8));
                break;
            case 1 when b.Count > 0: // a byte set to one that means something
                b[Math.Min(at, b.Count - 1)] = s_meaningful[rng.Below(s_meaningful.Length)];
                break;
            case 2: // bytes put in
                for (int i = rng.Below(8); i >= 0; i--) b.Insert(at, (byte)rng.Next());
                break;
            case 3: // a range taken out
                b.RemoveRange(Math.Min(at, b.Count), Math.Min(rng.Below(16) + 1, b.Count - Math.Min(at, b.Count)));
                break;
            case 4: // a range repeated
                int length = Math.Min(rng.Below(32) + 1, b.Count - Math.Min(at, b.Count));
                b.InsertRange(at, b.GetRange(Math.Min(at, b.Count), length));
                break;
            case 5: // cut short
                b.RemoveRange(at, b.Count - at);
                break;
            case 6 when b.Count >= 4: // an int32 (a length, a count, a role) set to an edge value
                int where = rng.Below(3) == 0 ? 0 : rng.Below(b.Count - 3);
                Span<byte> edge = stackalloc byte[4];
                BinaryPrimitives.WriteInt32LittleEndian(edge, s_edgeInts[rng.Below(s_edgeInts.Length)]);
                for (int i = 0; i < 4; i++) b[where + i] = edge[i];
                break;
            case 7: // invalid UTF-8, preferably inside a string
                int quote = b.IndexOf((byte)'"', at);
                b.InsertRange(quote >= 0 && rng.Below(2) == 0 ? quote + 1 : at, s_invalidUtf8[rng.Below(s_invalidUtf8.Length)]);
                break;
            case 8: // a JSON value replaced by one of another type
            case 9:
                ReplaceValue(ref rng, b, at);
                break;
            case 10: // nesting put in
                int depth = rng.Below(300);
                for (int i = 0; i < depth; i++) b.Insert(at, (byte)'[');
                break;
            default: // another message's tail
                var other = Seed(ref rng);
                b.RemoveRange(at, b.Count - at);
                b.AddRange(other.AsSpan(rng.Below(other.Length + 1)).ToArray());
                break;
        }
    }

    /// <summary>Finds the value after the next ':', '[' or ',' from <paramref name="at"/> and puts another in its place.</summary>
    static void ReplaceValue(ref Rng rng, List<byte> b, int at)
    {
        int start = -1;
        for (int i = at; i < b.Count; i++)
            if (b[i] is (byte)':' or (byte)'[' or (byte)',') { start = i + 1; break; }
        if (start < 0) return;
        int end = start, depth = 0;
        bool inString = false;
        for (; end < b.Count; end++)
        {
            byte c = b[end];
            if (inString)
            {
                if (c == '\\') end++;
                else if (c == '"') inString = false;
                continue;
            }
            if (c == '"') inString = true;
            else if (c is (byte)'[' or (byte)'{') depth++;
            else if (c is (byte)']' or (byte)'}') { if (depth-- == 0) break; }
            else if (c == ',' && depth == 0) break;
        }
        end = Math.Min(end, b.Count);
        var replacement = rng.Below(6) == 0
            ? $"\"{WireSamples.ExceptionTypeNames[rng.Below(WireSamples.ExceptionTypeNames.Length)]}\""
            : s_values[rng.Below(s_values.Length)];
        b.RemoveRange(start, end - start);
        b.InsertRange(start, Encoding.UTF8.GetBytes(replacement));
    }
}

/// <summary>SplitMix64: small, fast, and the same numbers for the same seed everywhere.</summary>
struct Rng(ulong state)
{
    ulong _state = state;

    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public int Below(int n) => n <= 0 ? 0 : (int)(Next() % (ulong)n);
}
