using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ForkKit.Windows;

/// <summary>
/// P/Invoke declarations for the Win32 calls the Windows backend makes, one per function, each
/// with what it returns. A BOOL comes back as int (0: failed). Every call that can fail sets the
/// thread's last error, so each is declared with SetLastError and the caller reads
/// <see cref="Marshal.GetLastPInvokeError"/> straight after it and throws
/// <see cref="WindowsApiException"/> with the call's name.
/// </summary>
static unsafe class Kernel32
{
    const string Library = "kernel32";

    // ---- pipes and handles ----

    /// <summary>
    /// An anonymous pipe. With attributes null both ends are not inheritable. Returns
    /// 1) non-zero, the read and write ends set; 2) 0 with GetLastError.
    /// </summary>
    [DllImport(Library, SetLastError = true)]
    public static extern int CreatePipe(out SafeFileHandle read, out SafeFileHandle write, SECURITY_ATTRIBUTES* attributes, uint size);

    /// <summary>
    /// Sets or clears handle flags (HANDLE_FLAG_INHERIT: whether child processes that inherit
    /// handles get this one). Returns 1) non-zero; 2) 0 with GetLastError (ERROR_INVALID_HANDLE).
    /// </summary>
    [DllImport(Library, SetLastError = true)]
    public static extern int SetHandleInformation(IntPtr handle, uint mask, uint flags);

    /// <summary>
    /// The standard handle of this process (STD_OUTPUT_HANDLE, STD_ERROR_HANDLE). Returns
    /// 1) the handle; 2) NULL when the process has none (no console, nothing redirected);
    /// 3) INVALID_HANDLE_VALUE with GetLastError.
    /// </summary>
    [DllImport(Library, SetLastError = true)]
    public static extern IntPtr GetStdHandle(int which);

    /// <summary>
    /// A second handle to the same object, here with the inherit flag of our choosing. Returns
    /// 1) non-zero with the new handle in target; 2) 0 with GetLastError.
    /// </summary>
    [DllImport(Library, SetLastError = true)]
    public static extern int DuplicateHandle(IntPtr sourceProcess, IntPtr source, IntPtr targetProcess, out IntPtr target,
        uint access, int inherit, uint options);

    /// <summary>A pseudo-handle (-1) meaning "this process"; never fails, needs no CloseHandle.</summary>
    [DllImport(Library)]
    public static extern IntPtr GetCurrentProcess();

    /// <summary>
    /// Opens a file or device; used for the NUL device, a child's stdin. Returns 1) the handle;
    /// 2) INVALID_HANDLE_VALUE with GetLastError.
    /// </summary>
    [DllImport(Library, EntryPoint = "CreateFileW", SetLastError = true, CharSet = CharSet.Unicode, ExactSpelling = true)]
    public static extern IntPtr CreateFileW(string name, uint access, uint share, SECURITY_ATTRIBUTES* attributes,
        uint creation, uint flags, IntPtr template);

    /// <summary>Closes a kernel handle. Returns 1) non-zero; 2) 0 with GetLastError (ERROR_INVALID_HANDLE).</summary>
    [DllImport(Library, SetLastError = true)]
    public static extern int CloseHandle(IntPtr handle);

    // ---- starting processes ----

    /// <summary>
    /// Asks for the size of an attribute list (list null: returns 0 with
    /// ERROR_INSUFFICIENT_BUFFER and the size set), or initialises one in a buffer of that size.
    /// Returns 1) non-zero once initialised; 2) 0 with GetLastError.
    /// </summary>
    [DllImport(Library, SetLastError = true)]
    public static extern int InitializeProcThreadAttributeList(IntPtr list, int attributeCount, uint flags, ref nuint size);

    /// <summary>
    /// Sets one attribute (PROC_THREAD_ATTRIBUTE_HANDLE_LIST: the only handles a child
    /// inherits). value must stay valid until CreateProcessW returns. Returns 1) non-zero;
    /// 2) 0 with GetLastError.
    /// </summary>
    [DllImport(Library, SetLastError = true)]
    public static extern int UpdateProcThreadAttribute(IntPtr list, uint flags, nuint attribute, void* value, nuint size,
        IntPtr previousValue, IntPtr returnSize);

    /// <summary>Releases what InitializeProcThreadAttributeList set up; returns nothing.</summary>
    [DllImport(Library)]
    public static extern void DeleteProcThreadAttributeList(IntPtr list);

    /// <summary>
    /// Creates a process and its first thread from an executable and a command line (which
    /// CreateProcessW may modify: it must be a writable buffer). Returns 1) non-zero with the
    /// process and thread handles and ids in info; 2) 0 with GetLastError (ERROR_FILE_NOT_FOUND
    /// for a missing program, ERROR_INVALID_PARAMETER for a bad attribute list).
    /// </summary>
    [DllImport(Library, EntryPoint = "CreateProcessW", SetLastError = true, CharSet = CharSet.Unicode, ExactSpelling = true)]
    public static extern int CreateProcessW(string? applicationName, char* commandLine, IntPtr processAttributes,
        IntPtr threadAttributes, int inheritHandles, uint creationFlags, char* environment, string? currentDirectory,
        STARTUPINFOEXW* startupInfo, PROCESS_INFORMATION* info);

    /// <summary>
    /// Lets a thread created with CREATE_SUSPENDED run. Returns 1) the previous suspend count;
    /// 2) 0xFFFFFFFF with GetLastError.
    /// </summary>
    [DllImport(Library, SetLastError = true)]
    public static extern uint ResumeThread(IntPtr thread);

    // ---- job objects ----

    /// <summary>An unnamed, non-inheritable job (attributes and name null). Returns 1) the handle; 2) NULL with GetLastError.</summary>
    [DllImport(Library, EntryPoint = "CreateJobObjectW", SetLastError = true, CharSet = CharSet.Unicode, ExactSpelling = true)]
    public static extern SafeKernelHandle CreateJobObjectW(IntPtr attributes, string? name);

    /// <summary>Sets a job's limits (JobObjectExtendedLimitInformation = 9). Returns 1) non-zero; 2) 0 with GetLastError.</summary>
    [DllImport(Library, SetLastError = true)]
    public static extern int SetInformationJobObject(SafeKernelHandle job, int infoClass, void* info, uint length);

    /// <summary>
    /// Puts a process into a job; processes it creates later join the job too. Returns
    /// 1) non-zero; 2) 0 with GetLastError (ERROR_ACCESS_DENIED where the process is in a job
    /// that forbids nesting, before Windows 8).
    /// </summary>
    [DllImport(Library, SetLastError = true)]
    public static extern int AssignProcessToJobObject(SafeKernelHandle job, SafeProcessHandle process);

    // ---- processes ----

    /// <summary>
    /// Ends a process and all its threads at once; its exit code becomes exitCode. Returns
    /// 1) non-zero (the process may still be ending); 2) 0 with GetLastError
    /// (ERROR_ACCESS_DENIED once the process has already exited).
    /// </summary>
    [DllImport(Library, SetLastError = true)]
    public static extern int TerminateProcess(SafeProcessHandle process, uint exitCode);

    /// <summary>
    /// Waits until the object is signaled (a process: it has exited; a semaphore: its count
    /// was above zero and has been decremented) or milliseconds pass (INFINITE: no limit).
    /// Returns 1) WAIT_OBJECT_0 (0) signaled; 2) WAIT_TIMEOUT (0x102); 3) WAIT_FAILED
    /// (0xFFFFFFFF) with GetLastError.
    /// </summary>
    [DllImport(Library, SetLastError = true)]
    public static extern uint WaitForSingleObject(SafeHandle handle, uint milliseconds);

    /// <summary>
    /// The exit code of a process. Returns 1) non-zero with the code (STILL_ACTIVE, 259, while
    /// it runs, which a process may also exit with: ask WaitForSingleObject whether it ended);
    /// 2) 0 with GetLastError.
    /// </summary>
    [DllImport(Library, SetLastError = true)]
    public static extern int GetExitCodeProcess(SafeProcessHandle process, out uint exitCode);

    /// <summary>
    /// A handle to the process with that id. Returns 1) the handle; 2) NULL with GetLastError
    /// (ERROR_INVALID_PARAMETER: no process has that id; ERROR_ACCESS_DENIED: it exists but we
    /// may not open it).
    /// </summary>
    [DllImport(Library, SetLastError = true)]
    public static extern SafeProcessHandle OpenProcess(uint access, int inherit, uint processId);

    /// <summary>
    /// Creation, exit, kernel and user times of a process (FILETIMEs: 100 ns units; creation
    /// and exit since 1601 UTC). Returns 1) non-zero; 2) 0 with GetLastError.
    /// </summary>
    [DllImport(Library, SetLastError = true)]
    public static extern int GetProcessTimes(SafeProcessHandle process, out long creation, out long exit, out long kernel, out long user);

    // ---- the process table ----

    /// <summary>
    /// A snapshot of the system's processes (TH32CS_SNAPPROCESS). Returns 1) a snapshot handle;
    /// 2) INVALID_HANDLE_VALUE with GetLastError.
    /// </summary>
    [DllImport(Library, SetLastError = true)]
    public static extern IntPtr CreateToolhelp32Snapshot(uint flags, uint processId);

    /// <summary>Returns 1) non-zero with the first entry; 2) 0 (ERROR_NO_MORE_FILES) for an empty snapshot.</summary>
    [DllImport(Library, SetLastError = true, CharSet = CharSet.Unicode)]
    public static extern int Process32FirstW(IntPtr snapshot, ref PROCESSENTRY32W entry);

    /// <summary>Returns 1) non-zero with the next entry; 2) 0 (ERROR_NO_MORE_FILES) at the end.</summary>
    [DllImport(Library, SetLastError = true, CharSet = CharSet.Unicode)]
    public static extern int Process32NextW(IntPtr snapshot, ref PROCESSENTRY32W entry);

    // ---- named semaphores and shared memory ----

    /// <summary>
    /// Creates a named semaphore, or opens the one that exists under that name. Returns
    /// 1) the handle, GetLastError 0 when it was created; 2) the handle of the existing one,
    /// GetLastError ERROR_ALREADY_EXISTS (initial and max ignored); 3) NULL with GetLastError
    /// (ERROR_INVALID_HANDLE: the name belongs to another kind of object).
    /// </summary>
    [DllImport(Library, EntryPoint = "CreateSemaphoreW", SetLastError = true, CharSet = CharSet.Unicode, ExactSpelling = true)]
    public static extern SafeKernelHandle CreateSemaphoreW(IntPtr attributes, int initialCount, int maximumCount, string name);

    /// <summary>Opens an existing named semaphore. Returns 1) the handle; 2) NULL with GetLastError (ERROR_FILE_NOT_FOUND).</summary>
    [DllImport(Library, EntryPoint = "OpenSemaphoreW", SetLastError = true, CharSet = CharSet.Unicode, ExactSpelling = true)]
    public static extern SafeKernelHandle OpenSemaphoreW(uint access, int inherit, string name);

    /// <summary>
    /// Adds count to a semaphore, waking waiters. Returns 1) non-zero with the previous count;
    /// 2) 0 with GetLastError (ERROR_TOO_MANY_POSTS past the maximum).
    /// </summary>
    [DllImport(Library, SetLastError = true)]
    public static extern int ReleaseSemaphore(SafeKernelHandle semaphore, int count, out int previousCount);

    /// <summary>
    /// Creates a named mapping backed by the paging file (file = INVALID_HANDLE_VALUE), zero-filled,
    /// or opens the existing one. Returns as CreateSemaphoreW: 1) new; 2) existing with
    /// ERROR_ALREADY_EXISTS; 3) NULL with GetLastError.
    /// </summary>
    [DllImport(Library, EntryPoint = "CreateFileMappingW", SetLastError = true, CharSet = CharSet.Unicode, ExactSpelling = true)]
    public static extern SafeKernelHandle CreateFileMappingW(IntPtr file, IntPtr attributes, uint protect, uint sizeHigh, uint sizeLow, string name);

    /// <summary>Opens an existing named mapping. Returns 1) the handle; 2) NULL with GetLastError (ERROR_FILE_NOT_FOUND).</summary>
    [DllImport(Library, EntryPoint = "OpenFileMappingW", SetLastError = true, CharSet = CharSet.Unicode, ExactSpelling = true)]
    public static extern SafeKernelHandle OpenFileMappingW(uint access, int inherit, string name);

    /// <summary>Maps a view of a mapping into this process. Returns 1) its address; 2) NULL with GetLastError.</summary>
    [DllImport(Library, SetLastError = true)]
    public static extern IntPtr MapViewOfFile(SafeKernelHandle mapping, uint access, uint offsetHigh, uint offsetLow, nuint bytes);

    /// <summary>Unmaps a view. Returns 1) non-zero; 2) 0 with GetLastError.</summary>
    [DllImport(Library, SetLastError = true)]
    public static extern int UnmapViewOfFile(IntPtr address);

    // ---- constants ----

    public const uint HANDLE_FLAG_INHERIT = 0x1;
    public const int STD_OUTPUT_HANDLE = -11, STD_ERROR_HANDLE = -12;
    public const uint DUPLICATE_SAME_ACCESS = 0x2;
    public const uint GENERIC_READ = 0x80000000, FILE_SHARE_READ = 0x1, FILE_SHARE_WRITE = 0x2, OPEN_EXISTING = 3;
    public const uint CREATE_SUSPENDED = 0x4, CREATE_UNICODE_ENVIRONMENT = 0x400, EXTENDED_STARTUPINFO_PRESENT = 0x80000;
    public const uint STARTF_USESTDHANDLES = 0x100;
    public const nuint PROC_THREAD_ATTRIBUTE_HANDLE_LIST = 0x20002;
    public const int JobObjectExtendedLimitInformation = 9;
    public const uint JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000;
    public const uint INFINITE = 0xFFFFFFFF, WAIT_OBJECT_0 = 0, WAIT_TIMEOUT = 0x102, WAIT_FAILED = 0xFFFFFFFF;
    public const uint SYNCHRONIZE = 0x00100000, PROCESS_QUERY_LIMITED_INFORMATION = 0x1000;
    public const uint SEMAPHORE_ALL_ACCESS = 0x1F0003;
    public const uint PAGE_READWRITE = 0x04, FILE_MAP_READ = 0x4, FILE_MAP_WRITE = 0x2;
    public const uint TH32CS_SNAPPROCESS = 0x2;
    public static readonly IntPtr INVALID_HANDLE_VALUE = new(-1);

    // ---- structures (x64 and x86 layouts follow from sequential layout) ----

    [StructLayout(LayoutKind.Sequential, CharSet = CharSet.Unicode)]
    public struct PROCESSENTRY32W
    {
        public uint dwSize;
        public uint cntUsage;
        public uint th32ProcessID;
        public IntPtr th32DefaultHeapID;
        public uint th32ModuleID;
        public uint cntThreads;
        public uint th32ParentProcessID;
        public int pcPriClassBase;
        public uint dwFlags;
        [MarshalAs(UnmanagedType.ByValTStr, SizeConst = 260)]
        public string szExeFile;
    }


    [StructLayout(LayoutKind.Sequential)]
    public struct SECURITY_ATTRIBUTES
    {
        public uint nLength;
        public IntPtr lpSecurityDescriptor;
        public int bInheritHandle;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct STARTUPINFOW
    {
        public uint cb;
        public IntPtr lpReserved, lpDesktop, lpTitle;
        public uint dwX, dwY, dwXSize, dwYSize, dwXCountChars, dwYCountChars, dwFillAttribute, dwFlags;
        public ushort wShowWindow, cbReserved2;
        public IntPtr lpReserved2;
        public IntPtr hStdInput, hStdOutput, hStdError;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct STARTUPINFOEXW
    {
        public STARTUPINFOW StartupInfo;
        public IntPtr lpAttributeList;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PROCESS_INFORMATION
    {
        public IntPtr hProcess, hThread;
        public uint dwProcessId, dwThreadId;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct JOBOBJECT_BASIC_LIMIT_INFORMATION
    {
        public long PerProcessUserTimeLimit, PerJobUserTimeLimit;
        public uint LimitFlags;
        public nuint MinimumWorkingSetSize, MaximumWorkingSetSize;
        public uint ActiveProcessLimit;
        public nuint Affinity;
        public uint PriorityClass, SchedulingClass;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct IO_COUNTERS
    {
        public ulong ReadOperationCount, WriteOperationCount, OtherOperationCount, ReadTransferCount, WriteTransferCount, OtherTransferCount;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct JOBOBJECT_EXTENDED_LIMIT_INFORMATION
    {
        public JOBOBJECT_BASIC_LIMIT_INFORMATION BasicLimitInformation;
        public IO_COUNTERS IoInfo;
        public nuint ProcessMemoryLimit, JobMemoryLimit, PeakProcessMemoryUsed, PeakJobMemoryUsed;
    }
}

/// <summary>The one call the backend makes into ntdll: Windows has no documented Win32 call that reads a semaphore's count.</summary>
static class NtDll
{
    /// <summary>
    /// Reads a semaphore's count (infoClass SemaphoreBasicInformation = 0; the handle needs
    /// SEMAPHORE_QUERY_STATE). Returns 1) STATUS_SUCCESS (0) with the counts; 2) an NTSTATUS
    /// error (negative as an int). Sets no last error.
    /// </summary>
    [DllImport("ntdll")]
    public static extern int NtQuerySemaphore(SafeKernelHandle semaphore, int infoClass, out SEMAPHORE_BASIC_INFORMATION info, int length, out int returnLength);

    [StructLayout(LayoutKind.Sequential)]
    public struct SEMAPHORE_BASIC_INFORMATION
    {
        public int CurrentCount, MaximumCount;
    }
}

/// <summary>A kernel object handle (semaphore, file mapping, job) closed with CloseHandle; NULL is invalid.</summary>
sealed class SafeKernelHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeKernelHandle() : base(ownsHandle: true) { }

    protected override bool ReleaseHandle() => Kernel32.CloseHandle(handle) != 0;
}
