using System.Runtime.InteropServices;
using ForkKit.Platform;
using ForkKit.Wire;
using Microsoft.Win32.SafeHandles;

namespace ForkKit.Unix;

/// <summary>
/// This process's side of the fork server: starts the server on first use (and again after it
/// died), sends it one start request at a time, and turns its reply into a
/// <see cref="ForkServerChild"/> once the child reports that it runs. Every wait has a deadline:
/// a server that does not answer is killed, a child that does not report running is killed,
/// and the start fails saying which.
/// </summary>
sealed class ForkServerClient(Func<SafeFileHandle, IChild> startServer) : IForkServer
{
    /// <summary>The variable that sets <see cref="Deadline"/> in milliseconds.</summary>
    public const string DeadlineVariable = "FORKKIT_FORKSERVER_DEADLINE_MS";

    /// <summary>
    /// How long each step of a start may take, the server's reply to the request and then the
    /// child's "running": 10 s unless FORKKIT_FORKSERVER_DEADLINE_MS says otherwise. A healthy
    /// step takes milliseconds. A server started for this request has <see cref="StartAllowance"/>
    /// more to reply: it warms up first, which on a loaded machine can take seconds.
    /// </summary>
    public static TimeSpan Deadline { get; set; } =
        int.TryParse(Environment.GetEnvironmentVariable(DeadlineVariable), out int ms) && ms > 0 ? TimeSpan.FromMilliseconds(ms) : TimeSpan.FromSeconds(10);

    /// <summary>What a newly started server has beyond <see cref="Deadline"/> for its first reply: its warm-up (about 0.3 s when the machine is idle).</summary>
    public static readonly TimeSpan StartAllowance = TimeSpan.FromSeconds(30);

    readonly object _gate = new();
    IChild? _server;
    SafeFileHandle? _socket;
    volatile int _serverPid, _socketFd = -1;

    public int? Pid => _serverPid is var pid && pid > 0 ? pid : null;

    public int? Socket => _socketFd is var fd && fd >= 0 ? fd : null;

    public IReadOnlyList<int> Descriptors
    {
        get
        {
            var list = new List<int>();
            if (Socket is { } socket) list.Add(socket);
            if (_server is UnixChild server) list.AddRange(server.Descriptors);
            return list;
        }
    }

    /// <summary>True while a request has been sent and its reply not yet come (for the tests of a server that dies then).</summary>
    internal volatile bool WaitingForReply;

    public IChild Start(ForkRequest request)
    {
        var (statusRead, statusWrite) = Pipe.Create() is var p ? (p.Read, p.Write) : default;
        try
        {
            int pid;
            SafeFileHandle? pidfd;
            using (statusWrite)
            {
                lock (_gate) (pid, pidfd) = Request(request, statusWrite);
            }
            var child = new ForkServerChild(pid, pidfd, statusRead);
            child.AwaitRunning(request.Name, Environment.TickCount64 + (long)Deadline.TotalMilliseconds);
            return child;
        }
        catch
        {
            statusRead.Dispose();
            throw;
        }
    }

    /// <summary>Sends the request and reads the reply: the child's pid and its pidfd. Under the lock.</summary>
    (int Pid, SafeFileHandle? Pidfd) Request(ForkRequest request, SafeFileHandle statusWrite)
    {
        var before = _server;
        var socket = EnsureServer();
        bool fresh = !ReferenceEquals(before, _server);
        var allowed = Deadline + (fresh ? StartAllowance : TimeSpan.Zero);
        long deadline = Environment.TickCount64 + (long)allowed.TotalMilliseconds;
        var fds = new List<SafeFileHandle> { statusWrite };
        fds.AddRange(request.ChildEnds);
        var added = new List<SafeFileHandle>();
        var received = new List<int>();
        try
        {
            foreach (var fd in fds)
            {
                bool ok = false;
                fd.DangerousAddRef(ref ok);
                added.Add(fd);
            }
            int[] raw = fds.Select(f => (int)f.DangerousGetHandle()).ToArray();
            int s = (int)socket.DangerousGetHandle();
            try
            {
                FdChannel.Send(s, ForkServerMessages.Request(request.Role, request.StartMessage, request.DiesWithParent), raw);
            }
            catch (SyscallException e) when (e.Errno == Tmds.Linux.LibC.EPIPE || e.Errno == Tmds.Linux.LibC.ECONNRESET)
            {
                throw ServerLost(request.Name);
            }

            long left = Math.Max(0, deadline - Environment.TickCount64);
            WaitingForReply = true;
            int readable;
            try
            {
                readable = Shim.WaitReadable(s, (int)Math.Min(left, int.MaxValue));
            }
            finally
            {
                WaitingForReply = false;
            }
            if (readable == 0) throw ServerHung(request.Name, allowed);
            Span<byte> header = stackalloc byte[ForkServerMessages.ReplyHeaderBytes];
            bool replied;
            try
            {
                replied = FdChannel.Receive(s, header, received);
            }
            catch (SyscallException e) when (e.Errno == Tmds.Linux.LibC.ECONNRESET)
            {
                replied = false;
            }
            if (!replied) throw ServerLost(request.Name);
            var (pid, errno, errorLength) = ForkServerMessages.ReadReplyHeader(header);
            string error = "";
            if (errorLength > 0)
            {
                var text = new byte[errorLength];
                if (!FdChannel.Receive(s, text, received)) throw ServerLost(request.Name);
                error = System.Text.Encoding.UTF8.GetString(text);
            }
            if (pid <= 0)
            {
                if (errno != 0) throw new SyscallException(error, errno, $"The fork server could not start {request.Name}; nothing was started.");
                throw new ForkServerException($"the fork server could not start {request.Name}: {error}");
            }
            var pidfd = received.Count > 0 ? new SafeFileHandle(received[0], ownsHandle: true) : null;
            received.RemoveRange(0, Math.Min(1, received.Count));
            if (Diagnostics.OsTrace.Enabled)
                Diagnostics.OsTrace.Write($"sendmsg(fork server, start {request.Name}, SCM_RIGHTS {fds.Count} fd(s)); recvmsg = pid {pid}{(pidfd is null ? "" : ", its pidfd")}");
            return (pid, pidfd);
        }
        finally
        {
            foreach (var fd in received) Tmds.Linux.LibC.close(fd);
            foreach (var fd in added) fd.DangerousRelease();
        }
    }

    /// <summary>The socket to a running server, starting one if there is none or the last one died.</summary>
    SafeFileHandle EnsureServer()
    {
        if (_server is { } old && old.Poll() is not null) Forget();
        if (_server is not null) return _socket!;

        var (ours, theirs) = FdChannel.CreatePair();
        try
        {
            using (theirs) _server = startServer(theirs);
        }
        catch
        {
            ours.Dispose();
            throw;
        }
        _socket = ours;
        _serverPid = _server.Pid;
        if (Interlocked.Exchange(ref _exitHookInstalled, 1) == 0) AppDomain.CurrentDomain.ProcessExit += (_, _) => StopAtExit();
        _socketFd = (int)ours.DangerousGetHandle();
        return ours;
    }

    int _exitHookInstalled;

    /// <summary>
    /// At this process's exit, after Process and Pool have joined their children through the
    /// server (their exit hooks were installed first): closes the socket, which ends the server,
    /// and reaps it, so that it does not outlive this process as an orphan.
    /// </summary>
    void StopAtExit()
    {
        lock (_gate)
        {
            if (_server is not { } server) return;
            _socket?.Dispose();
            if (!server.Wait(TimeSpan.FromSeconds(2)))
            {
                server.Stop(force: true);
                server.Wait(TimeSpan.FromSeconds(2));
            }
            Forget();
        }
    }

    /// <summary>Drops a server that has ended (reaped) or is being given up on.</summary>
    void Forget()
    {
        _socket?.Dispose();
        _socket = null;
        _server?.Dispose();
        _server = null;
        _serverPid = 0;
        _socketFd = -1;
    }

    ForkServerException ServerLost(string name)
    {
        var server = _server!;
        server.Wait(TimeSpan.FromSeconds(5)); // its socket closed: it is on its way out
        var how = server.Poll() is { } code ? ExitDescriptions.Describe(code) : "closed its socket";
        int pid = server.Pid;
        if (server.Poll() is null)
        {
            server.Stop(force: true);
            server.Wait(null);
        }
        Forget();
        return new ForkServerException(
            $"the fork server (pid {pid}) {how} while starting {name}; {name} was not started. The next start brings up a new server.");
    }

    ForkServerException ServerHung(string name, TimeSpan allowed)
    {
        var server = _server!;
        int pid = server.Pid;
        server.Stop(force: true);
        server.Wait(null);
        Forget();
        return new ForkServerException(
            $"the fork server (pid {pid}) did not answer within {allowed.TotalSeconds:0.###} s while starting {name}; it was killed and {name} " +
            "was not started. The next start brings up a new server.");
    }
}
