using System.Buffers.Binary;
using System.Text;

namespace ForkKit.Wire;

/// <summary>
/// The fork server's protocol, both sides of it. Over one Unix stream socket the parent sends a
/// start request and reads one reply; descriptors travel beside the bytes (SCM_RIGHTS). Then
/// each forked child's status pipe tells the parent, in order, that the child runs, the code it
/// is about to exit with, and how it really ended once the server has reaped it.
/// <code>
/// request  = int32 role | flags, int32 length, start message (WorkerStart JSON)   + status write end [, task read end, result write end]
///            flags: 0x100 the child dies with the parent (a daemon Process, a pool worker)
/// reply    = int32 pid (0 on failure), int32 errno, int32 length, UTF-8 error text   + pidfd of the child, where the OS has them
/// status   = 'R'                  the child runs (written by the child, before its target)
///            'E' int32 code       the code the child exits with (written by the child, just before _exit)
///            'X' int32 code       how it ended, Python's convention (written by the server after waitpid)
/// </code>
/// Integers are little-endian. Each status record is written with one write of at most 5
/// bytes, so records never interleave (pipe writes up to PIPE_BUF are atomic).
/// </summary>
static class ForkServerMessages
{
    public const int RequestHeaderBytes = 8;
    public const int ReplyHeaderBytes = 12;

    public const byte Running = (byte)'R', Exiting = (byte)'E', Ended = (byte)'X';

    /// <summary>The flag of a request whose child must not outlive the parent.</summary>
    const int DiesWithParentFlag = 0x100;

    public static byte[] Request(WorkerRole role, byte[] startMessage, bool diesWithParent = false)
    {
        var bytes = new byte[RequestHeaderBytes + startMessage.Length];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, (int)role | (diesWithParent ? DiesWithParentFlag : 0));
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), startMessage.Length);
        startMessage.CopyTo(bytes, RequestHeaderBytes);
        return bytes;
    }

    /// <summary>The role, the length of the start message that follows the header, and whether the child dies with the parent.</summary>
    /// <exception cref="InvalidDataException">Not a request this server understands.</exception>
    public static (WorkerRole Role, int Length, bool DiesWithParent) ReadRequestHeader(ReadOnlySpan<byte> header)
    {
        int word = BinaryPrimitives.ReadInt32LittleEndian(header);
        var role = (WorkerRole)(word & ~DiesWithParentFlag);
        int length = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        if (role is not (WorkerRole.Process or WorkerRole.Pool))
            throw new InvalidDataException($"fork server request: role {word} is neither a Process nor a Pool worker");
        if (length <= 0 || length > Frames.MaxFrameBytes)
            throw new InvalidDataException($"fork server request: a start message of {length} bytes (the limit is {Frames.MaxFrameBytes})");
        return (role, length, (word & DiesWithParentFlag) != 0);
    }

    /// <summary>The longest error text a reply carries; the server cuts a longer one, the parent refuses a longer length.</summary>
    public const int MaxErrorBytes = 64 * 1024;

    public static byte[] Reply(int pid, int errno, string? error)
    {
        var text = Encoding.UTF8.GetBytes(error ?? "");
        if (text.Length > MaxErrorBytes) text = text[..MaxErrorBytes];
        var bytes = new byte[ReplyHeaderBytes + text.Length];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, pid);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), errno);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), text.Length);
        text.CopyTo(bytes, ReplyHeaderBytes);
        return bytes;
    }

    /// <summary>The pid (0: nothing started), the errno and the length of the error text that follows.</summary>
    /// <exception cref="InvalidDataException">An error length no reply has: the parent would size a buffer by it.</exception>
    public static (int Pid, int Errno, int ErrorLength) ReadReplyHeader(ReadOnlySpan<byte> header)
    {
        int length = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        if (length < 0 || length > MaxErrorBytes)
            throw new InvalidDataException($"fork server reply: an error text of {length} bytes (the limit is {MaxErrorBytes}): the server is not speaking ForkKit's protocol");
        return (BinaryPrimitives.ReadInt32LittleEndian(header), BinaryPrimitives.ReadInt32LittleEndian(header[4..]), length);
    }

    /// <summary>A status record with a code ('E' or 'X').</summary>
    public static void WriteCode(Span<byte> record, byte kind, int code)
    {
        record[0] = kind;
        BinaryPrimitives.WriteInt32LittleEndian(record[1..], code);
    }
}

/// <summary>
/// What a forked child's status pipe has said so far (<see cref="ForkServerMessages"/>), fed
/// with whatever bytes arrive. A record may arrive split across reads.
/// </summary>
sealed class ForkStatus
{
    /// <summary>The code reported when nothing says how the child ended: the server was gone and the child never said (Python's forkserver reports 255 too).</summary>
    public const int Unknown = 255;

    readonly List<byte> _pending = new();

    public bool Running { get; private set; }
    public int? ExitingCode { get; private set; }
    public int? EndedCode { get; private set; }
    public bool EndOfFile { get; private set; }

    /// <summary>True when bytes came that are no status record: what follows is ignored.</summary>
    public bool Garbled { get; private set; }

    /// <summary>How the child ended, once that is known: the server's word, else at end-of-file the child's own, else <see cref="Unknown"/>.</summary>
    public int? Outcome => EndedCode ?? (EndOfFile ? ExitingCode ?? Unknown : null);

    public void Feed(ReadOnlySpan<byte> bytes)
    {
        if (Garbled) return;
        _pending.AddRange(bytes);
        int used = 0;
        Span<byte> code = stackalloc byte[4];
        while (used < _pending.Count)
        {
            byte kind = _pending[used];
            if (kind == ForkServerMessages.Running)
            {
                Running = true;
                used++;
                continue;
            }
            if (kind is not (ForkServerMessages.Exiting or ForkServerMessages.Ended))
            {
                Garbled = true;
                break;
            }
            if (_pending.Count - used < 5) break;
            for (int i = 0; i < 4; i++) code[i] = _pending[used + 1 + i];
            int value = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(code);
            if (kind == ForkServerMessages.Exiting) ExitingCode = value;
            else EndedCode = value;
            used += 5;
        }
        _pending.RemoveRange(0, Math.Min(used, _pending.Count));
    }

    public void MarkEndOfFile() => EndOfFile = true;
}
