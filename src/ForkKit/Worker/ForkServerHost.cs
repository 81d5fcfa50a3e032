using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ForkKit.Platform;
using ForkKit.Unix;
using ForkKit.Wire;
using Microsoft.Win32.SafeHandles;

namespace ForkKit.Worker;

/// <summary>
/// The fork server (StartMethod.ForkServer), Python's forkserver.main and Android's zygote: a
/// worker host started with the fork-safe settings (docs/design.md, facts 1 and 1b) that does
/// nothing but fork children on request, from its one thread. Before each fork it resolves the
/// target, decodes the arguments and compiles the target, so the child starts with all of it in
/// memory; once, at start, it runs a Process target and a pool worker's loop in-process, so the
/// code every child runs is compiled before the first fork. It reaps its children and writes how
/// each ended to that child's status pipe (<see cref="ForkServerMessages"/>). It ends when its
/// parent closes the socket, however the parent ended.
/// </summary>
static class ForkServerHost
{
    /// <summary>A fault to inject into every child, for the labs and tests of the deadline and of a child that dies before it runs.</summary>
    public const string FaultVariable = "FORKKIT_FORKSERVER_FAULT";

    public static int Run(SafeFileHandle socket)
    {
        if (!ForkSafety.IsEnabled)
        {
            Console.Error.WriteLine($"forkkit: the fork server must start with {ForkSafety.SettingsText}; ForkKit starts it so (docs/design.md, fact 1b).");
            return 2;
        }
        var server = new Server((int)socket.DangerousGetHandle(), Environment.GetEnvironmentVariable(FaultVariable));
        GC.SuppressFinalize(socket); // the socket stays open for the server's life, and its number is closed by hand in each child
        WarmUp();
        server.CompileChildPath();
        return server.Serve();
    }

    /// <summary>A child of the server: its pid, its pidfd (-1 without pidfd support), the write end of its status pipe, whether it dies with the parent.</summary>
    sealed record Served(int Pid, int Pidfd, int Status, bool DiesWithParent);

    /// <summary>
    /// The spare: a child forked ahead of need, waiting on its socket for a request to become
    /// (Android's unspecialized app process pool, of one). <paramref name="Generation"/> says
    /// what the server had compiled when it forked the spare.
    /// </summary>
    sealed record Spare(int Pid, int Pidfd, int Socket, long Generation);

    /// <summary>A request as received: the role, the start message, the descriptors that came with it.</summary>
    sealed record Request(WorkerRole Role, byte[] StartMessage, WorkerStart Start, List<int> Fds, bool DiesWithParent);

    /// <summary>The comm of the server's spare child, which is part of the server, not a child of the parent's.</summary>
    public const string SpareName = "ForkSpare";

    sealed class Server(int socket, string? fault)
    {
        readonly int _clientPid = Syscalls.GetParentPid();
        readonly (nint, int)? _title = ProcessTitle.ArgumentArea();
        readonly List<Served> _children = new();
        readonly Dictionary<MethodInfo, long> _compiledAt = new();
        long _generation = 1;
        Spare? _spare;
        readonly List<(int Pid, int Pidfd)> _retired = new();

        public int Serve()
        {
            MakeSpare();
            var fds = new List<int>();
            while (true)
            {
                fds.Clear();
                fds.Add(socket);
                bool someWithoutPidfd = _spare is { Pidfd: < 0 };
                if (_spare is { Pidfd: >= 0 } spare) fds.Add(spare.Pidfd);
                foreach (var r in _retired)
                {
                    if (r.Pidfd >= 0) fds.Add(r.Pidfd);
                    else someWithoutPidfd = true;
                }
                foreach (var c in _children)
                {
                    if (c.Pidfd >= 0) fds.Add(c.Pidfd);
                    else someWithoutPidfd = true;
                }
                var readable = WaitReadable(fds, someWithoutPidfd ? 50 : -1);
                ReapEnded();
                if (readable[0])
                {
                    if (!ServeOne())
                    {
                        // The parent closed the socket: it has ended. Had it ended normally, its
                        // exit hooks would have ended these children first.
                        EndChildrenThatDieWithParent();
                        // At once: the runtime's own shutdown would add about a second, which
                        // every program that used the server would wait for at its exit.
                        ChildLinks.ExitNow(0);
                        return 0;
                    }
                    if (_spare is null) MakeSpare(); // after the reply: the parent is not kept waiting for it
                }
            }
        }

        /// <summary>
        /// Kills and reaps the children that must not outlive the parent (daemon Processes, pool
        /// workers: Python's daemonic children), when the parent has ended without ending them.
        /// The others run on, as a non-daemon child of a killed Python parent does.
        /// </summary>
        void EndChildrenThatDieWithParent()
        {
            foreach (var c in _children)
            {
                if (!c.DiesWithParent) continue;
                if (c.Pidfd < 0 || Shim.PidfdSendSignal(c.Pidfd, Syscalls.SIGKILL) != 0)
                {
                    try
                    {
                        Syscalls.Kill(c.Pid, Syscalls.SIGKILL);
                    }
                    catch (SyscallException)
                    {
                        // ESRCH: it has ended already
                    }
                }
            }
            foreach (var c in _children)
                if (c.DiesWithParent) Syscalls.WaitPid(c.Pid);
        }

        /// <summary>Reaps every child that has ended and tells its parent how; a spare that died is reaped and forgotten.</summary>
        unsafe void ReapEnded()
        {
            byte* record = stackalloc byte[5];
            for (int i = _children.Count - 1; i >= 0; i--)
            {
                var c = _children[i];
                var status = Syscalls.WaitPid(c.Pid, noHang: true);
                if (status is WaitStatus.StillRunning) continue;
                ForkServerMessages.WriteCode(new Span<byte>(record, 5), ForkServerMessages.Ended, status.ToExitCode() ?? ForkStatus.Unknown);
                Shim.WriteAll(c.Status, record, 5); // EPIPE: the parent no longer listens; nothing to tell
                Close(c.Status);
                if (c.Pidfd >= 0) Close(c.Pidfd);
                _children.RemoveAt(i);
            }
            if (_spare is { } spare && Syscalls.WaitPid(spare.Pid, noHang: true) is not WaitStatus.StillRunning)
            {
                DropSpare(spare);
            }
            for (int i = _retired.Count - 1; i >= 0; i--)
            {
                if (Syscalls.WaitPid(_retired[i].Pid, noHang: true) is WaitStatus.StillRunning) continue;
                if (_retired[i].Pidfd >= 0) Close(_retired[i].Pidfd);
                _retired.RemoveAt(i);
            }
        }

        /// <summary>
        /// Lets a spare go: closing its socket ends it (it reads end-of-file), and it is reaped
        /// with the children, telling no one.
        /// </summary>
        void Retire(Spare spare)
        {
            Close(spare.Socket);
            _retired.Add((spare.Pid, spare.Pidfd));
            _spare = null;
        }

        void DropSpare(Spare spare)
        {
            Close(spare.Socket);
            if (spare.Pidfd >= 0) Close(spare.Pidfd);
            _spare = null;
        }

        /// <summary>Reads one request, has a child run it (the spare, or a fresh fork) and replies. False when the parent has closed the socket.</summary>
        bool ServeOne()
        {
            var request = Receive();
            if (request is null) return false;

            var (prepared, compiledAt) = Prepare(request.Start, request.Role);
            if (_spare is { } spare)
            {
                if (compiledAt <= spare.Generation && Assign(spare, request)) return Started(spare.Pid, spare.Pidfd, request);
                if (compiledAt != long.MaxValue) Retire(spare); // forked before this target was compiled: a new one will have it
            }

            int pid;
            try
            {
                pid = Syscalls.ForkUnchecked(); // checked at start; this process starts no thread
            }
            catch (SyscallException e)
            {
                foreach (var fd in request.Fds) Close(fd);
                return TryReply(0, e.Errno, e.Call);
            }
            if (pid == 0)
            {
                LeaveTheServersDescriptors(keep: -1);
                RunChild(request.Start, request.Role, prepared, request.Fds); // never returns
            }
            return Started(pid, Shim.PidfdOpen(pid), request);
        }

        /// <summary>Records the child, keeps its status pipe, lets go of its other ends, replies with its pid and pidfd.</summary>
        bool Started(int pid, int pidfd, Request request)
        {
            var fds = request.Fds;
            _children.Add(new Served(pid, pidfd, fds[0], request.DiesWithParent));
            for (int i = 1; i < fds.Count; i++) Close(fds[i]); // the child has its pipe ends now
            return TryReply(pid, 0, null, pidfd);
        }

        /// <summary>The next request; null when the parent closed the socket or sent what is no request (answered; then the server ends).</summary>
        Request? Receive()
        {
            var fds = new List<int>();
            try
            {
                Span<byte> header = stackalloc byte[ForkServerMessages.RequestHeaderBytes];
                if (!FdChannel.Receive(socket, header, fds)) return null;
                var (role, length, diesWithParent) = ForkServerMessages.ReadRequestHeader(header);
                var startMessage = new byte[length];
                if (!FdChannel.Receive(socket, startMessage, fds)) return null;
                int wanted = role == WorkerRole.Pool ? 3 : 1;
                if (fds.Count != wanted)
                    throw new InvalidDataException($"fork server request: {fds.Count} descriptor(s) came with a {role} request, which needs {wanted}");
                return new Request(role, startMessage, WorkerStart.Parse(startMessage), fds, diesWithParent);
            }
            catch (Exception e) when (e is InvalidDataException or SyscallException or System.Text.Json.JsonException)
            {
                foreach (var fd in fds) Close(fd);
                // The stream may be out of step now: say why, and end; the parent starts a new server.
                TryReply(0, 0, e.Message);
                return null;
            }
        }

        /// <summary>
        /// What the child will run, resolved and compiled here, before the fork, so no child
        /// compiles it again: a Process target with its arguments decoded where that only builds
        /// data (<see cref="Arguments.DecodesToPlainData"/>; else the child decodes them), or the
        /// exception that stops it, which the child reports as a spawned child would; a pool's
        /// initializer. Also when the target was first compiled here: a spare forked before then
        /// would have to compile it itself.
        /// </summary>
        (object? Prepared, long CompiledAt) Prepare(WorkerStart start, WorkerRole role)
        {
            try
            {
                if (role == WorkerRole.Pool)
                    return (null, start.Target is { } init ? CompiledAt(Targets.Resolve(init)) : 0);
                var method = WorkerHost.Resolve(start);
                long at = CompiledAt(method);
                return (Arguments.DecodesToPlainData(method) ? WorkerHost.Decode(start, method) : method, at);
            }
            catch (Exception e)
            {
                return (e, long.MaxValue);
            }
        }

        long CompiledAt(MethodInfo method)
        {
            if (_compiledAt.TryGetValue(method, out long at)) return at;
            Compile(method);
            return _compiledAt[method] = ++_generation;
        }

        static void Compile(MethodBase method)
        {
            try
            {
                RuntimeHelpers.PrepareMethod(method.MethodHandle);
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException)
            {
                // A method the runtime cannot compile ahead (generic over a shared type): the child compiles it.
            }
        }

        /// <summary>Forks the spare: a child that leaves the server's descriptors behind and waits for a request of its own.</summary>
        void MakeSpare()
        {
            var (ours, theirs) = FdChannel.CreatePair();
            int a = (int)ours.DangerousGetHandle(), b = (int)theirs.DangerousGetHandle();
            GC.SuppressFinalize(ours);
            GC.SuppressFinalize(theirs);
            int pid;
            try
            {
                pid = Syscalls.ForkUnchecked();
            }
            catch (SyscallException)
            {
                Close(a);
                Close(b);
                return; // no spare: requests fork afresh
            }
            if (pid == 0)
            {
                Close(a);
                LeaveTheServersDescriptors(keep: b);
                RunSpare(b); // never returns
            }
            Close(b);
            _spare = new Spare(pid, Shim.PidfdOpen(pid), a, _generation);
        }

        /// <summary>Hands a request to the spare; false if the spare is gone (then it is reaped and the request forks afresh).</summary>
        bool Assign(Spare spare, Request request)
        {
            try
            {
                FdChannel.Send(spare.Socket, ForkServerMessages.Request(request.Role, request.StartMessage), request.Fds.ToArray());
            }
            catch (SyscallException)
            {
                Syscalls.Kill(spare.Pid, Syscalls.SIGKILL);
                Syscalls.WaitPid(spare.Pid);
                DropSpare(spare);
                return false;
            }
            Close(spare.Socket); // the spare owns its child from here: its pidfd moves to the served child
            _spare = null;
            return true;
        }

        /// <summary>In the spare: waits for its request, then runs it as a freshly forked child would. Ends when the server ends.</summary>
        void RunSpare(int spareSocket)
        {
            Os.Current.SetProcessName(SpareName);
            if (_title is { } area) ProcessTitle.Set(area, $"forkkit: ForkServer spare (parent {_clientPid})");
            var fds = new List<int>();
            Span<byte> header = stackalloc byte[ForkServerMessages.RequestHeaderBytes];
            WorkerStart start;
            WorkerRole role;
            try
            {
                if (!FdChannel.Receive(spareSocket, header, fds)) Syscalls.Exit(0); // the server ended
                (role, int length, _) = ForkServerMessages.ReadRequestHeader(header);
                var startMessage = new byte[length];
                if (!FdChannel.Receive(spareSocket, startMessage, fds)) Syscalls.Exit(0);
                start = WorkerStart.Parse(startMessage);
            }
            catch (Exception)
            {
                Syscalls.Exit(1); // the server sent what it received and checked: nothing else can come
                return;
            }
            Close(spareSocket);
            RunChild(start, role, null, fds);
        }

        /// <summary>
        /// In a new child: closes the server's own descriptors (its socket, every child's status
        /// pipe and pidfd, the spare's), so that the child holds nothing that tells the parent
        /// or the server when something ended.
        /// </summary>
        void LeaveTheServersDescriptors(int keep)
        {
            Close(socket);
            foreach (var c in _children)
            {
                Close(c.Status);
                if (c.Pidfd >= 0) Close(c.Pidfd);
            }
            if (_spare is { } spare && spare.Socket != keep)
            {
                Close(spare.Socket);
                if (spare.Pidfd >= 0) Close(spare.Pidfd);
            }
            foreach (var r in _retired)
                if (r.Pidfd >= 0) Close(r.Pidfd);
        }

        /// <summary>
        /// In the child, which has only this thread: take the child's name, report running, run
        /// the work, report the exit code, _exit.
        /// </summary>
        unsafe void RunChild(WorkerStart start, WorkerRole role, object? prepared, List<int> fds)
        {
            int code = 1;
            var record = new byte[5];
            try
            {
                CurrentProcess.Name = start.Name;
                Os.Current.SetProcessName(start.Name);
                if (_title is { } area) ProcessTitle.Set(area, $"forkkit: {start.Name} (parent {_clientPid})");

                if (fault == "hang-before-running") Thread.Sleep(Timeout.Infinite);
                if (fault == "crash-before-running") Syscalls.Kill(Syscalls.GetPid(), 6); // SIGABRT, as a runtime that finds its state broken
                byte running = ForkServerMessages.Running;
                Shim.WriteAll(fds[0], &running, 1);

                code = role == WorkerRole.Pool ? RunPoolWorker(start, fds[1], fds[2]) : RunProcess(start, prepared);
            }
            finally
            {
                ForkServerMessages.WriteCode(record, ForkServerMessages.Exiting, code);
                fixed (byte* r = record) Shim.WriteAll(fds[0], r, 5);
                Syscalls.Exit(code);
            }
        }

        /// <summary>A Process target as <see cref="Prepare"/> left it (ready, resolved only, or failed), or as a spare got it (nothing done yet).</summary>
        static int RunProcess(WorkerStart start, object? prepared)
        {
            try
            {
                var target = prepared switch
                {
                    WorkerHost.PreparedTarget ready => ready,
                    MethodInfo method => WorkerHost.Decode(start, method),
                    null => WorkerHost.Prepare(start),
                    _ => throw (Exception)prepared,
                };
                return WorkerHost.RunTarget(start.Name, target);
            }
            catch (Exception e)
            {
                return WorkerHost.ReportFailure(start.Name, e);
            }
        }

        /// <summary>
        /// Compiles the code only a child runs, which the warm-up cannot run here: measured, a
        /// child that compiled <see cref="RunChild"/> itself took 5 ms longer to report running.
        /// </summary>
        public void CompileChildPath()
        {
            foreach (var name in new[] { nameof(RunChild), nameof(RunProcess), nameof(RunPoolWorker), nameof(RunSpare), nameof(LeaveTheServersDescriptors) })
                Compile(typeof(Server).GetMethod(name, BindingFlags.Instance | BindingFlags.Static | BindingFlags.NonPublic)!);
            Compile(typeof(ProcessTitle).GetMethod(nameof(ProcessTitle.Set))!);
            Compile(typeof(ForkServerMessages).GetMethod(nameof(ForkServerMessages.WriteCode))!);
            Marshal.Prelink(typeof(Shim).GetMethod(nameof(Shim.WriteAll))!);
            Syscalls.PrepareForkedChildPath();
            // The child's title goes where the server's is; writing the server's own title there
            // compiles the path and changes nothing.
            if (_title is { } area) ProcessTitle.Set(area, $"forkkit: ForkServer (parent {_clientPid})");
        }

        static int RunPoolWorker(WorkerStart start, int tasks, int results)
        {
            using var taskStream = new FileStream(new SafeFileHandle(tasks, ownsHandle: true), FileAccess.Read, bufferSize: 0);
            using var resultStream = new FileStream(new SafeFileHandle(results, ownsHandle: true), FileAccess.Write, bufferSize: 0);
            return PoolWorkerHost.Run(start, taskStream, resultStream);
        }

        bool TryReply(int pid, int errno, string? error, int pidfd = -1)
        {
            try
            {
                FdChannel.Send(socket, ForkServerMessages.Reply(pid, errno, error), pidfd >= 0 ? [pidfd] : []);
                return true;
            }
            catch (SyscallException)
            {
                return false; // the parent is gone
            }
        }

        static unsafe bool[] WaitReadable(List<int> fds, int timeoutMs)
        {
            var fdArray = fds.ToArray();
            var readable = new byte[fdArray.Length];
            fixed (int* f = fdArray)
            fixed (byte* r = readable)
            {
                if (Shim.PollReadable(f, fdArray.Length, timeoutMs, r) < 0)
                    throw new SyscallException("poll(fork server socket and children)", Marshal.GetLastPInvokeError());
            }
            return readable.Select(b => b != 0).ToArray();
        }

        static void Close(int fd) => Tmds.Linux.LibC.close(fd);
    }

    /// <summary>
    /// Runs, in this process, what every child runs: a Process target whose arguments cover the
    /// common types, and a pool worker's loop over a task. With tiered compilation off each method
    /// is compiled once, at its first call, so after this the children compile only their own
    /// targets' code, and those the server compiles before each fork.
    /// </summary>
    static void WarmUp()
    {
        var method = typeof(ForkServerHost).GetMethod(nameof(WarmUpTarget), BindingFlags.Static | BindingFlags.NonPublic)!;
        var reference = Targets.Describe(method.CreateDelegate<Action<int, long, double, bool, string, int[], List<string>>>(), "target");
        var args = Arguments.Encode(method, [1, 2L, 3.0, true, "four", new[] { 5 }, new List<string> { "six" }], "args");
        var start = WorkerStart.Parse(WorkerStart.Write("warm-up", reference, args));
        WorkerHost.RunTarget(start.Name, WorkerHost.Prepare(start));
        WorkerHost.WithoutReflectionFrames(new InvalidOperationException("warm-up").ToString());
        Console.Out.Write("");
        Console.Error.Write("");
        using var tasks = new MemoryStream();
        using var results = new MemoryStream();
        PoolWorkerHost.Run(WorkerStart.Parse(WorkerStart.Write("warm-up", null, [(byte)'[', (byte)']'])), tasks, results);
    }

    static void WarmUpTarget(int a, long b, double c, bool d, string e, int[] f, List<string> g) { }
}
