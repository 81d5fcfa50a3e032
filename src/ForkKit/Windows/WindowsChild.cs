using ForkKit.Platform;
using Microsoft.Win32.SafeHandles;
using static ForkKit.Windows.Kernel32;

namespace ForkKit.Windows;

/// <summary>
/// A child started by this process, held by its process handle. Windows has no zombies and no
/// waitpid: the process object, and its exit code, live as long as someone holds a handle to
/// it. So "reaping" here means reading the exit code and closing the handle; after that the
/// pid may be given to another process, exactly as after waitpid on Unix.
/// </summary>
sealed class WindowsChild : ChildBase
{
    /// <summary>
    /// The exit code Terminate and Kill give the child through TerminateProcess, read back as
    /// -15 (-SIGTERM), as Python's Popen on Windows does with a code of its own. Windows has no
    /// signals, so both ask for the same thing. A program that picks its own exit code uses small
    /// numbers, and crashes give NTSTATUS codes (0xC0000005 ...): 0x0F00000F, "15" at both ends,
    /// is neither.
    /// </summary>
    internal const uint TerminatedExitCode = 0x0F00000F;

    /// <summary>What a terminated child's exit code reads as.</summary>
    internal const int TerminatedAs = -15;

    readonly SafeProcessHandle _process;

    public WindowsChild(SafeProcessHandle process, int pid) : base(pid) => _process = process;

    /// <summary>Windows exit codes are 32-bit unsigned; they pass through as the same bits in an int, except the terminate code.</summary>
    internal static int ToExitCode(uint code) => code == TerminatedExitCode ? TerminatedAs : unchecked((int)code);

    protected override bool HasExitedUnreaped()
    {
        try
        {
            return WaitForSingleObject(_process, 0) == WAIT_OBJECT_0;
        }
        catch (ObjectDisposedException)
        {
            return true; // reaped meanwhile
        }
    }

    protected override int? TryReap()
    {
        // Ended or not is the process handle's state; GetExitCodeProcess alone cannot tell a
        // running child (STILL_ACTIVE, 259) from one that exited with 259.
        uint state = WaitForSingleObject(_process, 0);
        if (state == WAIT_TIMEOUT) return null;
        if (state != WAIT_OBJECT_0) throw WindowsApiException.Last($"WaitForSingleObject(pid {Pid}, 0)");
        if (GetExitCodeProcess(_process, out uint code) == 0) throw WindowsApiException.Last($"GetExitCodeProcess(pid {Pid})");
        _process.Dispose();
        return ToExitCode(code);
    }

    protected override void WaitForExit(long ms)
    {
        try
        {
            // The marshaller holds a reference on the handle for the call, so a Poll on
            // another thread cannot close it under the wait.
            uint r = WaitForSingleObject(_process, ms < 0 ? INFINITE : (uint)Math.Min(ms, INFINITE - 1));
            if (r == WAIT_FAILED) throw WindowsApiException.Last($"WaitForSingleObject(pid {Pid})");
        }
        catch (ObjectDisposedException)
        {
            // Another thread reaped the child: Poll has its exit code.
        }
    }

    protected override void Signal(bool force)
    {
        if (TerminateProcess(_process, TerminatedExitCode) != 0) return;
        int error = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        // Don't throw if the process has exited: TerminateProcess then fails with
        // ERROR_ACCESS_DENIED, and its exit code waits for Poll.
        if (error == WindowsApiException.ERROR_ACCESS_DENIED && WaitForSingleObject(_process, 0) == WAIT_OBJECT_0) return;
        throw new WindowsApiException($"TerminateProcess(pid {Pid}, 0x{TerminatedExitCode:X8})", error);
    }

    public override void Dispose() => _process.Dispose();
}
