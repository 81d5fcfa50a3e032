using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ForkKit.Unix;

/// <summary>
/// Bytes and descriptors over a Unix stream socket (sendmsg/recvmsg with SCM_RIGHTS, in the C
/// shim): the fork server's wire. Descriptors ride with the first byte of a message.
/// </summary>
static unsafe class FdChannel
{
    /// <summary>A connected pair of Unix stream sockets, both close-on-exec.</summary>
    public static (SafeFileHandle A, SafeFileHandle B) CreatePair()
    {
        int* fds = stackalloc int[2];
        if (Shim.SocketPair(fds) != 0) throw new SyscallException("socketpair(AF_UNIX, SOCK_STREAM)", Marshal.GetLastPInvokeError());
        return (new SafeFileHandle(fds[0], ownsHandle: true), new SafeFileHandle(fds[1], ownsHandle: true));
    }

    /// <summary>Sends all of <paramref name="bytes"/>, with <paramref name="fds"/> (our copies stay open).</summary>
    /// <exception cref="SyscallException">sendmsg failed (EPIPE: the peer is gone).</exception>
    public static void Send(int socket, ReadOnlySpan<byte> bytes, ReadOnlySpan<int> fds)
    {
        fixed (byte* b = bytes)
        fixed (int* f = fds)
        {
            if (Shim.SendFds(socket, b, bytes.Length, f, fds.Length) != 0)
                throw new SyscallException("sendmsg(fork server socket)", Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>
    /// Receives exactly <paramref name="buffer"/>.Length bytes and the descriptors sent with them
    /// (close-on-exec; the caller owns them). False when the peer closed before the message began.
    /// </summary>
    /// <exception cref="SyscallException">recvmsg failed (ECONNRESET: the peer closed in the middle of a message).</exception>
    public static bool Receive(int socket, Span<byte> buffer, List<int> fds)
    {
        int* passed = stackalloc int[Shim.MaxPassedFds];
        fixed (byte* b = buffer)
        {
            int r = Shim.RecvFds(socket, b, buffer.Length, passed, Shim.MaxPassedFds, out int count);
            if (r < 0) throw new SyscallException("recvmsg(fork server socket)", Marshal.GetLastPInvokeError());
            for (int i = 0; i < count; i++) fds.Add(passed[i]);
            return r > 0;
        }
    }
}
