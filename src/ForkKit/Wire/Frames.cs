using System.Buffers.Binary;

namespace ForkKit.Wire;

/// <summary>
/// The wire format's framing: every message is a 4-byte little-endian length followed by that
/// many bytes of UTF-8 JSON (docs/wire-format.md). A pipe is a byte stream with no message
/// boundaries; the length prefix puts them back.
/// </summary>
static class Frames
{
    /// <summary>Frames larger than this are refused on both sides: a corrupt length, not a message.</summary>
    public const int MaxFrameBytes = 256 * 1024 * 1024;

    public static void Write(Stream stream, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxFrameBytes)
            throw new InvalidOperationException($"a message of {payload.Length} bytes is larger than the wire format's limit of {MaxFrameBytes} bytes");
        Span<byte> header = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(header, payload.Length);
        stream.Write(header);
        stream.Write(payload);
        stream.Flush();
        if (Diagnostics.OsTrace.Enabled)
            Diagnostics.OsTrace.Write($"write(fd {Diagnostics.OsTrace.Fd(stream)}, 4+{payload.Length} bytes)  a frame: length, then JSON");
    }

    /// <summary>Reads one frame; null when the stream ends cleanly before a frame starts.</summary>
    public static byte[]? Read(Stream stream)
    {
        Span<byte> header = stackalloc byte[4];
        int got = ReadUpTo(stream, header);
        if (got == 0)
        {
            if (Diagnostics.OsTrace.Enabled) Diagnostics.OsTrace.Write($"read(fd {Diagnostics.OsTrace.Fd(stream)}) = 0  end of file: the other end closed its pipe");
            return null;
        }
        if (got < 4) throw new EndOfStreamException("the pipe closed in the middle of a frame header");
        int length = BinaryPrimitives.ReadInt32LittleEndian(header);
        if (length < 0 || length > MaxFrameBytes)
            throw new InvalidDataException($"frame length {length} is outside 0..{MaxFrameBytes}: the stream is not ForkKit's wire format");
        var payload = ReadPayload(stream, length);
        if (Diagnostics.OsTrace.Enabled)
            Diagnostics.OsTrace.Write($"read(fd {Diagnostics.OsTrace.Fd(stream)}) = 4+{length} bytes  a frame");
        return payload;
    }

    /// <summary>
    /// The buffer a payload is read into first; it doubles as more bytes arrive. The length
    /// comes from the other process: a corrupt one, just under the limit, must cost no more
    /// memory than the bytes that really follow it.
    /// </summary>
    const int FirstBufferBytes = 64 * 1024;

    static byte[] ReadPayload(Stream stream, int length)
    {
        var payload = new byte[Math.Min(length, FirstBufferBytes)];
        int done = 0;
        while (true)
        {
            done += ReadUpTo(stream, payload.AsSpan(done));
            if (done < payload.Length) throw new EndOfStreamException($"the pipe closed in the middle of a {length}-byte frame, after {done} byte(s)");
            if (done == length) return payload;
            Array.Resize(ref payload, (int)Math.Min(length, 2L * payload.Length));
        }
    }

    static int ReadUpTo(Stream stream, Span<byte> buffer)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = stream.Read(buffer[done..]);
            if (n == 0) break;
            done += n;
        }
        return done;
    }
}
