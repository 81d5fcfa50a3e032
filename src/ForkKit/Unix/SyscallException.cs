using System.Runtime.InteropServices;

namespace ForkKit.Unix;

/// <summary>
/// A system call failed. Carries the call's name and errno, so a message reads like
/// "waitpid(4242) failed: ECHILD (No child processes)".
/// </summary>
public sealed class SyscallException : IOException
{
    public SyscallException(string call, int errno, string? detail = null)
        : base(Format(call, errno, detail))
    {
        Call = call;
        Errno = errno;
        HResult = errno;
    }

    /// <summary>The failing call, with the arguments that identify it, e.g. "kill(4242, 15)".</summary>
    public string Call { get; }

    /// <summary>The errno value the call left.</summary>
    public int Errno { get; }

    /// <summary>The symbolic errno name, e.g. "ECHILD".</summary>
    public string ErrnoName => ErrnoNames.NameOf(Errno);

    static string Format(string call, int errno, string? detail)
    {
        var text = $"{call} failed: {ErrnoNames.NameOf(errno)} ({Marshal.GetPInvokeErrorMessage(errno)})";
        return detail is null ? text : $"{text}. {detail}";
    }
}

/// <summary>errno numbers to their C names, for messages a student can look up in errno(3).</summary>
static class ErrnoNames
{
    /// <remarks>
    /// Mono.Posix maps the platform's errno numbers onto its portable Errno enum, whose member
    /// names are the C names. Only the Unix backend throws SyscallException, so Mono.Posix is
    /// never loaded on Windows.
    /// </remarks>
    public static string NameOf(int errno) => Enum.GetName(Mono.Unix.Native.NativeConvert.ToErrno(errno)) ?? $"errno {errno}";
}
