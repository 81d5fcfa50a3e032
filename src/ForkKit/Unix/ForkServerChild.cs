using System.Runtime.InteropServices;
using ForkKit.Platform;
using ForkKit.Wire;
using Microsoft.Win32.SafeHandles;

namespace ForkKit.Unix;

/// <summary>
/// A child forked by the fork server. It is the server's child, not ours: the server reaps it
/// and writes how it ended to the child's status pipe, whose read end we hold
/// (<see cref="ForkServerMessages"/>). So a wait is a poll on that pipe, and a stop goes through
/// the child's pidfd, which names this process and no later one with the same pid.
/// </summary>
sealed class ForkServerChild : ChildBase
{
    readonly SafeFileHandle _status;
    readonly SafeFileHandle? _pidfd;
    readonly ForkStatus _said = new();
    readonly object _reading = new();

    public ForkServerChild(int pid, SafeFileHandle? pidfd, SafeFileHandle status) : base(pid)
    {
        _pidfd = pidfd;
        _status = status;
    }

    /// <summary>
    /// Waits until the child reports that it runs. A child that ends first, or says nothing
    /// before <paramref name="deadline"/> (Environment.TickCount64), fails the start: the first
    /// is reaped already, the second is killed and reaped (by the server) before this throws.
    /// </summary>
    public void AwaitRunning(string name, long deadline)
    {
        while (true)
        {
            ReadWhatIsThere();
            if (_said.Running) return;
            if (_said.Outcome is { } code)
            {
                Poll();
                Dispose();
                throw new ForkServerException(
                    $"{name} (pid {Pid}, forked by the fork server) {ExitDescriptions.Describe(code)} before it ran its target. " +
                    "A forked .NET runtime dies like this when the fork was not safe (docs/design.md, facts 1 and 1b).");
            }
            long left = deadline - Environment.TickCount64;
            if (left <= 0) break;
            WaitForExit(left);
        }
        Stop(force: true);
        Wait(TimeSpan.FromSeconds(5));
        Dispose();
        throw new ForkServerException(
            $"{name} (pid {Pid}, forked by the fork server) did not report running within {ForkServerClient.Deadline.TotalSeconds:0.###} s; " +
            "it was killed. A forked .NET runtime hangs like this on a lock held at the moment of the fork by a thread the child does not have " +
            "(docs/design.md, fact 1b).");
    }

    protected override int? TryReap()
    {
        ReadWhatIsThere();
        if (_said.Outcome is not { } code) return null;
        if (Diagnostics.OsTrace.Enabled) Diagnostics.OsTrace.Write($"read(status pipe of {Pid}) = {ExitDescriptions.Describe(code)}: reaped by the fork server");
        Dispose();
        return code;
    }

    protected override bool HasExitedUnreaped()
    {
        ReadWhatIsThere();
        return _said.Outcome is not null;
    }

    protected override void WaitForExit(long ms)
    {
        if (!TryUse(_status, out int fd)) return;
        try
        {
            int r = Shim.WaitReadable(fd, ms < 0 ? -1 : (int)Math.Min(ms, int.MaxValue));
            if (r < 0) throw new SyscallException($"poll(status pipe of {Pid})", Marshal.GetLastPInvokeError());
        }
        finally
        {
            _status.DangerousRelease();
        }
    }

    protected override void Signal(bool force)
    {
        int signal = force ? Syscalls.SIGKILL : Syscalls.SIGTERM;
        if (_pidfd is not null && TryUse(_pidfd, out int fd))
        {
            try
            {
                if (Diagnostics.OsTrace.Enabled) Diagnostics.OsTrace.Write($"pidfd_send_signal(pidfd of {Pid}, {Syscalls.SignalName(signal)})");
                if (Shim.PidfdSendSignal(fd, signal) == 0) return;
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Tmds.Linux.LibC.ESRCH) return; // it has ended; its status is on the way
                if (errno != Tmds.Linux.LibC.ENOSYS) throw new SyscallException($"pidfd_send_signal({Pid}, {signal})", errno);
            }
            finally
            {
                _pidfd.DangerousRelease();
            }
        }
        try
        {
            Syscalls.Kill(Pid, signal);
        }
        catch (SyscallException e) when (e.Errno == Tmds.Linux.LibC.ESRCH)
        {
            // It has ended; its status is on the way.
        }
    }

    /// <summary>Reads every status byte that has arrived, without blocking.</summary>
    unsafe void ReadWhatIsThere()
    {
        lock (_reading)
        {
            if (_said.Outcome is not null || !TryUse(_status, out int fd)) return;
            try
            {
                byte* buffer = stackalloc byte[64];
                while (Shim.WaitReadable(fd, 0) == 1)
                {
                    int n = Shim.ReadSome(fd, buffer, 64);
                    if (n < 0) throw new SyscallException($"read(status pipe of {Pid})", Marshal.GetLastPInvokeError());
                    if (n == 0)
                    {
                        _said.MarkEndOfFile();
                        return;
                    }
                    _said.Feed(new ReadOnlySpan<byte>(buffer, n));
                }
            }
            finally
            {
                _status.DangerousRelease();
            }
        }
    }

    /// <summary>AddRefs a handle that may have been disposed by another thread meanwhile; false if so.</summary>
    static bool TryUse(SafeFileHandle handle, out int fd)
    {
        fd = -1;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        fd = (int)handle.DangerousGetHandle();
        return true;
    }

    public override void Dispose()
    {
        _status.Dispose();
        _pidfd?.Dispose();
    }
}
