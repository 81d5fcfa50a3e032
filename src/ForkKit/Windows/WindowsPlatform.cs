using System.Globalization;
using System.Runtime.InteropServices;
using ForkKit.Diagnostics;
using ForkKit.Platform;
using Microsoft.Win32.SafeHandles;
using static ForkKit.Windows.Kernel32;

namespace ForkKit.Windows;

/// <summary>
/// The Windows backend: there is no fork, so a worker starts as a new program through
/// CreateProcessW (what Python's spawn start method does on Windows), receives its pipe ends as
/// inherited handles whose numbers travel on its command line, and is waited for and ended
/// through its process handle (<see cref="WindowsChild"/>).
/// </summary>
sealed unsafe class WindowsPlatform : IPlatform
{
    /// <summary>
    /// One launch at a time. A handed-over pipe end is inheritable only while its child is
    /// created; if another launch of ours ran then without a handle list (the fallback), its
    /// child would inherit that end too, and a pipe whose end a stranger holds never reports
    /// end-of-file.
    /// </summary>
    static readonly object s_launchGate = new();

    readonly Lazy<SafeKernelHandle> _job = new(CreateKillOnCloseJob);

    public (SafeFileHandle Read, SafeFileHandle Write) CreatePipe()
    {
        // No security attributes: neither end is inheritable until a launch hands one over.
        if (Kernel32.CreatePipe(out var read, out var write, null, 0) == 0)
            throw WindowsApiException.Last("CreatePipe");
        return (read, write);
    }

    /// <remarks>An inherited handle has the same value in the child, so the values are the names.</remarks>
    public IReadOnlyList<string> ChildEndNames(IReadOnlyList<SafeFileHandle> childEnds) =>
        childEnds.Select(h => ((long)h.DangerousGetHandle()).ToString(CultureInfo.InvariantCulture)).ToList();

    public IChild StartProgram(string program, IReadOnlyList<string> argv, IReadOnlyDictionary<string, string> extraEnvironment,
        IReadOnlyList<SafeFileHandle> childEnds, bool diesWithParent) =>
        Start(program, CommandLine.Join(argv), CommandLine.EnvironmentBlock(extraEnvironment), childEnds, diesWithParent ? _job.Value : null);

    /// <remarks>The user's profile is readable and writable by the user (and administrators) only.</remarks>
    public string PrivateDirectory() =>
        Directory.CreateDirectory(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "forkkit")).FullName;

    public IForkServer CreateForkServer(Func<SafeFileHandle, IChild> startServer) =>
        throw new NotSupportedException("StartMethod.ForkServer is not available on Windows: Windows has no fork, so there is no warm process to copy children from (a new process always starts a program afresh). Use StartMethod.Spawn.");

    public IChild Fork(Func<int> child) =>
        throw new NotSupportedException("StartMethod.Fork is not available on Windows: Windows has no fork (a new process always starts a program afresh). Use StartMethod.Spawn.");

    public SafeFileHandle AdoptInherited(string name)
    {
        var handle = new SafeFileHandle((IntPtr)long.Parse(name, CultureInfo.InvariantCulture), ownsHandle: true);
        if (SetHandleInformation(handle.DangerousGetHandle(), HANDLE_FLAG_INHERIT, 0) == 0)
            throw WindowsApiException.Last($"SetHandleInformation({name}, HANDLE_FLAG_INHERIT, 0)",
                "The --wire handle is not open in this process: was it started by ForkKit?");
        return handle;
    }

    /// <summary>
    /// Nothing to do: Windows keeps no short process name besides the executable's. The
    /// command line's first word carries the title ("forkkit: Process-3 (parent 1234)").
    /// </summary>
    public void SetProcessName(string name) { }

    public string ExecutableName(string name) => name + ".exe";

    public StringComparison PathComparison => StringComparison.OrdinalIgnoreCase;

    public IReadOnlyList<ProcessEntry> ProcessTable() => Toolhelp.Snapshot();

    public ProcessEntry? FindProcess(int pid) => Toolhelp.Snapshot().FirstOrDefault(e => e.Pid == pid);

    /// <summary>
    /// Ended: no process has the pid any more, or the one that has it has exited (its object
    /// kept alive by a handle, a parent's for one), or it was created at another time than the
    /// holder, so the pid was given to a new process.
    /// </summary>
    public bool HasEnded(int pid, uint startTag)
    {
        if (pid == Environment.ProcessId) return false;
        using var process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, 0, (uint)pid);
        if (process.IsInvalid)
        {
            int error = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            // ERROR_INVALID_PARAMETER: no such process. Any other refusal (ERROR_ACCESS_DENIED)
            // means it exists: not ended.
            return error == WindowsApiException.ERROR_INVALID_PARAMETER;
        }
        if (WaitForSingleObject(process, 0) == WAIT_OBJECT_0) return true;
        return startTag != 0 && CreationTime(process) is { } now && StartTag.Of(now) != startTag;
    }

    /// <summary>This process's creation time (FILETIME, 100 ns since 1601 UTC).</summary>
    public long OwnStartTicks { get; } = OwnCreationTime();

    static long OwnCreationTime()
    {
        using var self = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, (uint)Environment.ProcessId);
        return self.IsInvalid ? 0 : CreationTime(self) ?? 0;
    }

    static long? CreationTime(SafeProcessHandle process) =>
        GetProcessTimes(process, out long created, out _, out _, out _) != 0 ? created : null;

    /// <summary>
    /// CreateProcessW of <paramref name="program"/> with <paramref name="childEnds"/> inherited.
    /// </summary>
    /// <remarks>
    /// <para><b>Which handles the child gets.</b> Inheritance on Windows is all or nothing: with
    /// bInheritHandles every handle marked inheritable is copied into the child. So our handles
    /// are created non-inheritable, the child's ends are marked inheritable only for this call,
    /// and a PROC_THREAD_ATTRIBUTE_HANDLE_LIST (Windows Vista and later) narrows inheritance to
    /// exactly the handles listed: the pipe ends, the NUL device for stdin, and duplicates of
    /// our stdout and stderr. Where the attribute list cannot be built, or CreateProcessW
    /// refuses it, the launch falls back to plain inheritance; <see cref="s_launchGate"/> keeps
    /// that safe among ForkKit's own launches.</para>
    /// <para><b>Dying with the parent.</b> With a job, the child starts suspended, joins the job
    /// (KILL_ON_JOB_CLOSE), then runs: it cannot start a process of its own before it is in the
    /// job, and the job's only handle is this process's, so when this process ends in any way
    /// the kernel closes that handle and ends every process in the job.</para>
    /// </remarks>
    static WindowsChild Start(string program, string commandLine, string environment, IReadOnlyList<SafeFileHandle> childEnds, SafeKernelHandle? job)
    {
        lock (s_launchGate)
        {
            var added = new List<SafeFileHandle>();
            var owned = new List<IntPtr>(); // handles made for this launch, closed at its end
            IntPtr attributeList = IntPtr.Zero;
            try
            {
                var inherited = new List<IntPtr>();
                foreach (var end in childEnds)
                {
                    bool ok = false;
                    end.DangerousAddRef(ref ok); // keep the handle value valid until the child has it
                    added.Add(end);
                    var h = end.DangerousGetHandle();
                    if (SetHandleInformation(h, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT) == 0)
                        throw WindowsApiException.Last($"SetHandleInformation({h}, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT)");
                    inherited.Add(h);
                }

                var inheritable = new SECURITY_ATTRIBUTES { nLength = (uint)sizeof(SECURITY_ATTRIBUTES), bInheritHandle = 1 };
                var nul = CreateFileW("NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, &inheritable, OPEN_EXISTING, 0, IntPtr.Zero);
                if (nul == INVALID_HANDLE_VALUE) throw WindowsApiException.Last("CreateFileW(\"NUL\")");
                owned.Add(nul);
                inherited.Add(nul);
                var stdout = InheritableCopyOfStd(STD_OUTPUT_HANDLE, owned, inherited);
                var stderr = InheritableCopyOfStd(STD_ERROR_HANDLE, owned, inherited);

                var info = new STARTUPINFOEXW();
                info.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
                info.StartupInfo.hStdInput = nul;
                info.StartupInfo.hStdOutput = stdout;
                info.StartupInfo.hStdError = stderr;

                var handleList = inherited.ToArray();
                fixed (IntPtr* list = handleList)
                {
                    attributeList = HandleListAttribute(list, handleList.Length);
                    uint flags = CREATE_UNICODE_ENVIRONMENT | (job is not null ? CREATE_SUSPENDED : 0);
                    if (!TryCreateProcess(program, commandLine, environment, flags, &info, attributeList, out var pi, out int error)
                        && (attributeList == IntPtr.Zero
                            || !TryCreateProcess(program, commandLine, environment, flags, &info, IntPtr.Zero, out pi, out error)))
                    {
                        throw new WindowsApiException($"CreateProcessW(\"{program}\")", error,
                            error == WindowsApiException.ERROR_FILE_NOT_FOUND ? "The worker host program is missing." : null);
                    }
                    return Started(pi, job);
                }
            }
            finally
            {
                if (attributeList != IntPtr.Zero)
                {
                    DeleteProcThreadAttributeList(attributeList);
                    Marshal.FreeHGlobal(attributeList);
                }
                foreach (var end in added)
                {
                    // Not inheritable again: only the child it was meant for has it.
                    SetHandleInformation(end.DangerousGetHandle(), HANDLE_FLAG_INHERIT, 0);
                    end.DangerousRelease();
                }
                foreach (var h in owned) CloseHandle(h);
            }
        }
    }

    /// <summary>One CreateProcessW, with the handle list when <paramref name="attributeList"/> is set; the error when it fails.</summary>
    static bool TryCreateProcess(string program, string commandLine, string environment, uint flags, STARTUPINFOEXW* info,
        IntPtr attributeList, out PROCESS_INFORMATION pi, out int error)
    {
        info->lpAttributeList = attributeList;
        if (attributeList != IntPtr.Zero)
        {
            flags |= EXTENDED_STARTUPINFO_PRESENT;
            info->StartupInfo.cb = (uint)sizeof(STARTUPINFOEXW);
        }
        else
        {
            info->StartupInfo.cb = (uint)sizeof(STARTUPINFOW);
        }
        // CreateProcessW may write into the command line, so it gets a copy of its own.
        var line = (commandLine + "\0").ToCharArray();
        fixed (char* cl = line)
        fixed (char* env = environment)
        fixed (PROCESS_INFORMATION* p = &pi)
        {
            if (CreateProcessW(program, cl, IntPtr.Zero, IntPtr.Zero, inheritHandles: 1, flags, env, null, info, p) != 0)
            {
                error = 0;
                return true;
            }
            error = Marshal.GetLastPInvokeError();
            return false;
        }
    }

    /// <summary>The created process as a child: put into the job and resumed when there is one.</summary>
    static WindowsChild Started(PROCESS_INFORMATION pi, SafeKernelHandle? job)
    {
        var process = new SafeProcessHandle(pi.hProcess, ownsHandle: true);
        var child = new WindowsChild(process, (int)pi.dwProcessId);
        try
        {
            if (job is not null)
            {
                if (AssignProcessToJobObject(job, process) == 0)
                    throw WindowsApiException.Last($"AssignProcessToJobObject(pid {pi.dwProcessId})");
                if (ResumeThread(pi.hThread) == uint.MaxValue)
                    throw WindowsApiException.Last($"ResumeThread(pid {pi.dwProcessId})");
            }
        }
        catch
        {
            // A suspended child that never ran: end it and wait, so nothing is left behind.
            child.Stop(force: true);
            child.Wait(null);
            child.Dispose();
            throw;
        }
        finally
        {
            CloseHandle(pi.hThread);
        }
        return child;
    }

    /// <summary>
    /// An inheritable duplicate of our stdout or stderr for the child (closed after the launch);
    /// NULL when we have none. A duplicate, not the handle itself, so that our own stays as it was.
    /// </summary>
    static IntPtr InheritableCopyOfStd(int which, List<IntPtr> owned, List<IntPtr> inherited)
    {
        var h = GetStdHandle(which);
        if (h == IntPtr.Zero || h == INVALID_HANDLE_VALUE) return IntPtr.Zero;
        var self = GetCurrentProcess();
        // A handle that cannot be duplicated (a console pseudo-handle on old Windows) is
        // left out: the child then writes to no stdout rather than failing to start.
        if (DuplicateHandle(self, h, self, out var copy, 0, inherit: 1, DUPLICATE_SAME_ACCESS) == 0) return IntPtr.Zero;
        owned.Add(copy);
        inherited.Add(copy);
        return copy;
    }

    /// <summary>
    /// An attribute list with PROC_THREAD_ATTRIBUTE_HANDLE_LIST = the <paramref name="count"/>
    /// handles at <paramref name="handles"/> (which must stay pinned until CreateProcessW
    /// returns); IntPtr.Zero when the system cannot build one (then the launch inherits plainly).
    /// </summary>
    static IntPtr HandleListAttribute(IntPtr* handles, int count)
    {
        nuint size = 0;
        InitializeProcThreadAttributeList(IntPtr.Zero, 1, 0, ref size); // fails with the size needed
        if (size == 0) return IntPtr.Zero;
        var list = Marshal.AllocHGlobal((nint)size);
        if (InitializeProcThreadAttributeList(list, 1, 0, ref size) == 0)
        {
            Marshal.FreeHGlobal(list);
            return IntPtr.Zero;
        }
        if (UpdateProcThreadAttribute(list, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, handles, (nuint)(count * sizeof(IntPtr)), IntPtr.Zero, IntPtr.Zero) == 0)
        {
            DeleteProcThreadAttributeList(list);
            Marshal.FreeHGlobal(list);
            return IntPtr.Zero;
        }
        return list;
    }

    /// <summary>
    /// The job for children that die with us: unnamed and non-inheritable, so this process holds
    /// its only handle; JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE ends every process in it when that
    /// handle closes, which the kernel does when this process ends, however it ends.
    /// </summary>
    static SafeKernelHandle CreateKillOnCloseJob()
    {
        var job = CreateJobObjectW(IntPtr.Zero, null);
        if (job.IsInvalid) throw WindowsApiException.Last("CreateJobObjectW");
        var limits = new JOBOBJECT_EXTENDED_LIMIT_INFORMATION();
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        if (SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits, (uint)sizeof(JOBOBJECT_EXTENDED_LIMIT_INFORMATION)) == 0)
        {
            var e = WindowsApiException.Last("SetInformationJobObject(JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE)");
            job.Dispose();
            throw e;
        }
        return job;
    }
}
