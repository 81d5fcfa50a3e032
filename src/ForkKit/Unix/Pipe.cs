using Microsoft.Win32.SafeHandles;
using static Tmds.Linux.LibC;

namespace ForkKit.Unix;

/// <summary>An anonymous pipe, both ends close-on-exec (pipe2 with O_CLOEXEC).</summary>
sealed class Pipe : IDisposable
{
    public SafeFileHandle Read { get; }
    public SafeFileHandle Write { get; }

    unsafe Pipe()
    {
        int* fds = stackalloc int[2];
        if (pipe2(fds, O_CLOEXEC) != 0) throw new SyscallException("pipe2", errno);
        if (Diagnostics.OsTrace.Enabled) Diagnostics.OsTrace.Write($"pipe2(O_CLOEXEC) = [read fd {fds[0]}, write fd {fds[1]}]");
        Read = new SafeFileHandle((IntPtr)fds[0], ownsHandle: true);
        Write = new SafeFileHandle((IntPtr)fds[1], ownsHandle: true);
    }

    public static Pipe Create() => new();

    public void Dispose()
    {
        Read.Dispose();
        Write.Dispose();
    }
}
