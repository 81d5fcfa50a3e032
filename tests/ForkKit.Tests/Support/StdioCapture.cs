using System.Runtime.InteropServices;
using System.Text;
using ForkKit.Unix;

namespace ForkKit.Tests.Support;

/// <summary>
/// Captures what children write to this process's stdout or stderr. While <see cref="Start"/>
/// runs, descriptor 1 or 2 points at a pipe, so a child started then inherits the pipe as its
/// stdout/stderr; afterwards the descriptor is restored at once. The child keeps its copy, and
/// <see cref="ReadToEnd"/> returns everything it wrote once it has exited (or fails the test
/// when some process still holds the pipe after Bounded.Limit).
/// </summary>
sealed class StdioCapture : IDisposable
{
    readonly int _target;
    readonly int _readFd;
    int _writeFd;

    StdioCapture(int target)
    {
        _target = target;
        var fds = new int[2];
        if (pipe2(fds, O_CLOEXEC) != 0) throw new SyscallException("pipe2", Marshal.GetLastPInvokeError());
        (_readFd, _writeFd) = (fds[0], fds[1]);
    }

    public static StdioCapture Stdout() => new(1);
    public static StdioCapture Stderr() => new(2);

    /// <summary>Runs <paramref name="start"/> with the target descriptor pointing into the pipe.</summary>
    public void During(Action start)
    {
        if (_target == 1) Console.Out.Flush(); else Console.Error.Flush();
        int saved = dup(_target);
        if (saved < 0) throw new SyscallException("dup", Marshal.GetLastPInvokeError());
        try
        {
            if (dup2(_writeFd, _target) < 0) throw new SyscallException("dup2", Marshal.GetLastPInvokeError());
            start();
        }
        finally
        {
            dup2(saved, _target);
            close(saved);
        }
    }

    /// <summary>Everything written into the pipe, once every child holding it has exited.</summary>
    public string ReadToEnd()
    {
        close(_writeFd);
        _writeFd = -1;
        var text = new StringBuilder();
        var buffer = new byte[4096];
        long deadline = Environment.TickCount64 + (long)Bounded.Limit.TotalMilliseconds;
        while (true)
        {
            // poll first, so that a child that never exits (and so never closes its copy) fails
            // the test after the limit instead of blocking the read for ever.
            var ready = new PollFd { Fd = _readFd, Events = POLLIN };
            int remaining = (int)Math.Max(0, deadline - Environment.TickCount64);
            int polled = poll(ref ready, 1, remaining);
            if (polled < 0 && Marshal.GetLastPInvokeError() == 4 /* EINTR */) continue;
            if (polled < 0) throw new SyscallException("poll", Marshal.GetLastPInvokeError());
            if (polled == 0)
                Assert.Fail($"the captured {(_target == 1 ? "stdout" : "stderr")} was still held open after {Bounded.Limit.TotalSeconds:0} s: a child has not exited. So far:\n{text}");
            int n = (int)read(_readFd, buffer, buffer.Length);
            if (n < 0 && Marshal.GetLastPInvokeError() == 4 /* EINTR */) continue;
            if (n <= 0) break;
            text.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }
        return text.ToString();
    }

    public void Dispose()
    {
        if (_writeFd >= 0) close(_writeFd);
        close(_readFd);
    }

    const int O_CLOEXEC = 0x80000;
    const short POLLIN = 0x1;

    [StructLayout(LayoutKind.Sequential)]
    struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [DllImport("libc", SetLastError = true)] static extern int poll(ref PollFd fds, nuint count, int timeoutMs);
    [DllImport("libc", SetLastError = true)] static extern int pipe2(int[] fds, int flags);
    [DllImport("libc", SetLastError = true)] static extern int dup(int fd);
    [DllImport("libc", SetLastError = true)] static extern int dup2(int fd, int target);
    [DllImport("libc", SetLastError = true)] static extern int close(int fd);
    [DllImport("libc", SetLastError = true)] static extern nint read(int fd, byte[] buffer, nint count);
}
