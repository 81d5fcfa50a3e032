using System.ComponentModel;
using System.Runtime.InteropServices;

namespace ForkKit.Windows;

/// <summary>
/// A Win32 call failed. Carries the call's name and GetLastError, so a message reads like
/// "OpenSemaphoreW(\"Local\\forkkit-4242-1a2b3c4d5e6f\") failed: ERROR_FILE_NOT_FOUND (2: The
/// system cannot find the file specified.)". The Windows counterpart of
/// <see cref="Unix.SyscallException"/>.
/// </summary>
public sealed class WindowsApiException : Win32Exception
{
    public WindowsApiException(string call, int error, string? detail = null)
        : base(error, Format(call, error, detail))
    {
        Call = call;
    }

    /// <summary>The failing call, with the arguments that identify it, e.g. "TerminateProcess(pid 1234)".</summary>
    public string Call { get; }

    /// <summary>The symbolic name of <see cref="Win32Exception.NativeErrorCode"/>, e.g. "ERROR_ACCESS_DENIED".</summary>
    public string ErrorName => NameOf(NativeErrorCode);

    /// <summary>Throws for the last error of the call just made; call it straight after the failed call.</summary>
    internal static WindowsApiException Last(string call, string? detail = null) =>
        new(call, Marshal.GetLastPInvokeError(), detail);

    static string Format(string call, int error, string? detail)
    {
        var text = $"{call} failed: {NameOf(error)} ({error}: {Marshal.GetPInvokeErrorMessage(error).TrimEnd('.', '\r', '\n', ' ')})";
        return detail is null ? text : $"{text}. {detail}";
    }

    /// <summary>The names (winerror.h) of the errors these calls meet, for messages a student can look up.</summary>
    internal static string NameOf(int error) => error switch
    {
        ERROR_FILE_NOT_FOUND => "ERROR_FILE_NOT_FOUND",
        3 => "ERROR_PATH_NOT_FOUND",
        ERROR_ACCESS_DENIED => "ERROR_ACCESS_DENIED",
        ERROR_INVALID_HANDLE => "ERROR_INVALID_HANDLE",
        8 => "ERROR_NOT_ENOUGH_MEMORY",
        50 => "ERROR_NOT_SUPPORTED",
        ERROR_INVALID_PARAMETER => "ERROR_INVALID_PARAMETER",
        109 => "ERROR_BROKEN_PIPE",
        ERROR_INSUFFICIENT_BUFFER => "ERROR_INSUFFICIENT_BUFFER",
        ERROR_ALREADY_EXISTS => "ERROR_ALREADY_EXISTS",
        193 => "ERROR_BAD_EXE_FORMAT",
        232 => "ERROR_NO_DATA",
        ERROR_TOO_MANY_POSTS => "ERROR_TOO_MANY_POSTS",
        _ => $"error {error}",
    };

    internal const int ERROR_FILE_NOT_FOUND = 2, ERROR_ACCESS_DENIED = 5, ERROR_INVALID_HANDLE = 6, ERROR_INVALID_PARAMETER = 87,
        ERROR_INSUFFICIENT_BUFFER = 122, ERROR_ALREADY_EXISTS = 183, ERROR_TOO_MANY_POSTS = 298;
}
