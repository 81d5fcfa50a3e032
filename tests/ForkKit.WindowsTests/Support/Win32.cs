using System.Runtime.InteropServices;

namespace ForkKit.Tests.Support;

/// <summary>The assemblies of the Unix packages (Tmds.LibC, Mono.Posix) loaded in this process.</summary>
static class Loaded
{
    public static List<string> UnixAssemblies() =>
        AppDomain.CurrentDomain.GetAssemblies()
            .Select(a => a.GetName().Name ?? "")
            .Where(n => n.StartsWith("Tmds.", StringComparison.Ordinal) || n.StartsWith("Mono.", StringComparison.Ordinal))
            .ToList();
}

/// <summary>Win32 calls the tests make themselves, to act as an outsider would.</summary>
static class Win32
{
    /// <summary>Returns 1) a process handle; 2) NULL with GetLastError (ERROR_INVALID_PARAMETER: no such process).</summary>
    [DllImport("kernel32", SetLastError = true)]
    public static extern IntPtr OpenProcess(uint access, int inherit, uint pid);

    /// <summary>Returns 1) non-zero; 2) 0 with GetLastError.</summary>
    [DllImport("kernel32", SetLastError = true)]
    public static extern int TerminateProcess(IntPtr process, uint exitCode);

    /// <summary>Returns 1) 0 signaled (the process ended); 2) 0x102 timed out; 3) 0xFFFFFFFF with GetLastError.</summary>
    [DllImport("kernel32", SetLastError = true)]
    public static extern uint WaitForSingleObject(IntPtr handle, uint ms);

    /// <summary>Returns 1) non-zero; 2) 0 with GetLastError.</summary>
    [DllImport("kernel32", SetLastError = true)]
    public static extern int CloseHandle(IntPtr handle);

    /// <summary>Returns 1) non-zero with both ends; 2) 0 with GetLastError.</summary>
    [DllImport("kernel32", SetLastError = true)]
    static extern unsafe int CreatePipe(out Microsoft.Win32.SafeHandles.SafeFileHandle read, out Microsoft.Win32.SafeHandles.SafeFileHandle write, int* attributes, uint size);

    /// <summary>A pipe whose ends are both inheritable (SECURITY_ATTRIBUTES.bInheritHandle = TRUE).</summary>
    public static unsafe (Microsoft.Win32.SafeHandles.SafeFileHandle Read, Microsoft.Win32.SafeHandles.SafeFileHandle Write) InheritablePipe()
    {
        // SECURITY_ATTRIBUTES on x64: nLength (4 bytes, then 4 of padding), a descriptor pointer (8), bInheritHandle (4).
        int* attributes = stackalloc int[6];
        attributes[0] = 24;
        attributes[1] = attributes[2] = attributes[3] = 0;
        attributes[4] = 1;
        attributes[5] = 0;
        if (CreatePipe(out var read, out var write, attributes, 0) == 0) throw new InvalidOperationException($"CreatePipe failed: {Marshal.GetLastPInvokeError()}");
        return (read, write);
    }

    public const uint PROCESS_TERMINATE = 0x1, SYNCHRONIZE = 0x00100000;

    /// <summary>Ends process <paramref name="pid"/> from outside, with exit code 1, as Task Manager's End task does.</summary>
    public static void Kill(int pid)
    {
        var h = OpenProcess(PROCESS_TERMINATE | SYNCHRONIZE, 0, (uint)pid);
        if (h == IntPtr.Zero) throw new InvalidOperationException($"OpenProcess({pid}) failed: {Marshal.GetLastPInvokeError()}");
        try
        {
            if (TerminateProcess(h, 1) == 0) throw new InvalidOperationException($"TerminateProcess({pid}) failed: {Marshal.GetLastPInvokeError()}");
            WaitForSingleObject(h, 10_000);
        }
        finally
        {
            CloseHandle(h);
        }
    }

    /// <summary>True while a process with that pid runs (it may be opened and has not ended).</summary>
    public static bool IsRunning(int pid)
    {
        var h = OpenProcess(SYNCHRONIZE, 0, (uint)pid);
        if (h == IntPtr.Zero) return false;
        try
        {
            return WaitForSingleObject(h, 0) == 0x102;
        }
        finally
        {
            CloseHandle(h);
        }
    }
}
