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

    /// <summary>A child of the server: its pid, its pidfd (-1 without pidfd support), the write end of its status pipe.</summary>
    sealed record Served(int Pid, int Pidfd, int Status);

    sealed class Server(int socket, string? fault)
    {
        readonly int _clientPid = Syscalls.GetParentPid();
        readonly (nint, int)? _title = ProcessTitle.ArgumentArea();
        readonly List<Served> _children = new();

        public int Serve()
        {
            var fds = new List<int>();
            while (true)
            {
                fds.Clear();
                fds.Add(socket);
                bool someWithoutPidfd = false;
                foreach (var c in _children)
                {
                    if (c.Pidfd >= 0) fds.Add(c.Pidfd);
                    else someWithoutPidfd = true;
                }
                var readable = WaitReadable(fds, someWithoutPidfd ? 50 : -1);
                ReapEnded();
                if (readable[0] && !ServeOne()) return 0; // the parent closed the socket: it has ended
            }
        }

        /// <summary>Reaps every child that has ended and tells its parent how.</summary>
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
        }

        /// <summary>Reads one request, forks its child and replies. False when the parent has closed the socket.</summary>
        bool ServeOne()
        {
            var fds = new List<int>();
            byte[] startMessage;
            WorkerRole role;
            try
            {
                Span<byte> header = stackalloc byte[ForkServerMessages.RequestHeaderBytes];
                if (!FdChannel.Receive(socket, header, fds)) return false;
                (role, int length) = ForkServerMessages.ReadRequestHeader(header);
                startMessage = new byte[length];
                if (!FdChannel.Receive(socket, startMessage, fds)) return false;
                int wanted = role == WorkerRole.Pool ? 3 : 1;
                if (fds.Count != wanted)
                    throw new InvalidDataException($"fork server request: {fds.Count} descriptor(s) came with a {role} request, which needs {wanted}");
            }
            catch (Exception e) when (e is InvalidDataException or SyscallException)
            {
                foreach (var fd in fds) Close(fd);
                // The stream may be out of step now: say why, and end; the parent starts a new server.
                TryReply(0, 0, e.Message);
                return false;
            }

            var start = WorkerStart.Parse(startMessage);
            object? prepared = Prepare(start, role);
            int pid;
            try
            {
                pid = Syscalls.ForkUnchecked(); // checked at start; this process starts no thread
            }
            catch (SyscallException e)
            {
                foreach (var fd in fds) Close(fd);
                return TryReply(0, e.Errno, e.Call);
            }
            if (pid == 0) RunChild(start, role, prepared, fds); // never returns

            int pidfd = Shim.PidfdOpen(pid);
            _children.Add(new Served(pid, pidfd, fds[0]));
            for (int i = 1; i < fds.Count; i++) Close(fds[i]); // the child has its pipe ends now
            return TryReply(pid, 0, null, pidfd);
        }

        /// <summary>
        /// What the child will run, resolved and compiled here, before the fork, so no child
        /// compiles it again: a Process target with its arguments decoded where that only builds
        /// data (<see cref="Arguments.DecodesToPlainData"/>; else the child decodes them), or the
        /// exception that stops it, which the child reports as a spawned child would; a pool's
        /// initializer.
        /// </summary>
        static object? Prepare(WorkerStart start, WorkerRole role)
        {
            try
            {
                if (role == WorkerRole.Pool)
                {
                    if (start.Target is { } init) Compile(Targets.Resolve(init));
                    return null;
                }
                var method = WorkerHost.Resolve(start);
                Compile(method);
                return Arguments.DecodesToPlainData(method) ? WorkerHost.Decode(start, method) : method;
            }
            catch (Exception e)
            {
                return e;
            }
        }

        static void Compile(MethodInfo method)
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

        /// <summary>
        /// In the child, which has only this thread: leave the server's descriptors behind, take
        /// the child's name, report running, run the work, report the exit code, _exit.
        /// </summary>
        unsafe void RunChild(WorkerStart start, WorkerRole role, object? prepared, List<int> fds)
        {
            int code = 1;
            var record = new byte[5];
            try
            {
                Close(socket);
                foreach (var c in _children)
                {
                    Close(c.Status);
                    if (c.Pidfd >= 0) Close(c.Pidfd);
                }
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

        /// <summary>A Process target as <see cref="Prepare"/> left it: ready, resolved only, or failed.</summary>
        static int RunProcess(WorkerStart start, object? prepared)
        {
            try
            {
                var target = prepared switch
                {
                    WorkerHost.PreparedTarget ready => ready,
                    MethodInfo method => WorkerHost.Decode(start, method),
                    _ => throw (Exception)prepared!,
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
            foreach (var name in new[] { nameof(RunChild), nameof(RunProcess), nameof(RunPoolWorker) })
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

        unsafe bool TryReply(int pid, int errno, string? error, int pidfd = -1)
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
