using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace ForkKit.Diagnostics;

public static partial class ProcessTable
{
    /// <summary>
    /// The Windows table: a Toolhelp32 snapshot lists live processes with their parent pid and
    /// executable name. Exited processes are not listed, even while a handle keeps their
    /// process object (and exit code) alive: Windows has no zombies in its table.
    /// </summary>
    [SupportedOSPlatform("windows")]
    static IReadOnlyList<ProcessEntry> ToolhelpSnapshot()
    {
        var snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
        if (snapshot == InvalidHandle)
            throw new System.ComponentModel.Win32Exception(Marshal.GetLastPInvokeError(), "CreateToolhelp32Snapshot failed");
        try
        {
            var entries = new List<ProcessEntry>();
            var entry = new PROCESSENTRY32W { dwSize = (uint)Marshal.SizeOf<PROCESSENTRY32W>() };
            for (bool more = Process32FirstW(snapshot, ref entry); more; more = Process32NextW(snapshot, ref entry))
            {
                int pid = (int)entry.th32ProcessID;
                entries.Add(new ProcessEntry(pid, (int)entry.th32ParentProcessID, ProcessState.Running,
                    entry.szExeFile, entry.szExeFile, StartTime(pid)));
            }
            entries.Sort((a, b) => a.Pid.CompareTo(b.Pid));
            return entries;
        }
        finally
        {
            CloseHandle(snapshot);
        }
    }

    /// <summary>The creation time (UTC) from GetProcessTimes; the epoch when the process may not be opened.</summary>
    [SupportedOSPlatform("windows")]
    static DateTime StartTime(int pid)
    {
        var handle = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, false, (uint)pid);
        if (handle == IntPtr.Zero) return DateTime.UnixEpoch;
        try
        {
            return GetProcessTimes(handle, out long created, out _, out _, out _) ? DateTime.FromFileTimeUtc(created) : DateTime.UnixEpoch;
        }
        finally
        {
            CloseHandle(handle);
        }
    }

    const uint TH32CS_SNAPPROCESS = 0x2;
    const uint PROCESS_QUERY_LIMITED_INFORMATION = 0x1000;
    static readonly IntPtr InvalidHandle = new(-1);

    [StructLayout(LayoutKind.Sequential, CharSet = CharSet.Unicode)]
    struct PROCESSENTRY32W
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

    /// <summary>Returns 1) a snapshot handle; 2) INVALID_HANDLE_VALUE with GetLastError.</summary>
    [DllImport("kernel32", SetLastError = true)]
    static extern IntPtr CreateToolhelp32Snapshot(uint flags, uint processId);

    /// <summary>Returns 1) true with the first entry; 2) false (ERROR_NO_MORE_FILES) for an empty snapshot.</summary>
    [DllImport("kernel32", SetLastError = true, CharSet = CharSet.Unicode)]
    static extern bool Process32FirstW(IntPtr snapshot, ref PROCESSENTRY32W entry);

    /// <summary>Returns 1) true with the next entry; 2) false (ERROR_NO_MORE_FILES) at the end.</summary>
    [DllImport("kernel32", SetLastError = true, CharSet = CharSet.Unicode)]
    static extern bool Process32NextW(IntPtr snapshot, ref PROCESSENTRY32W entry);

    /// <summary>Returns 1) a process handle; 2) NULL with GetLastError (access denied, gone).</summary>
    [DllImport("kernel32", SetLastError = true)]
    static extern IntPtr OpenProcess(uint access, bool inherit, uint processId);

    /// <summary>Returns 1) true with the four FILETIMEs; 2) false with GetLastError.</summary>
    [DllImport("kernel32", SetLastError = true)]
    static extern bool GetProcessTimes(IntPtr process, out long creation, out long exit, out long kernel, out long user);

    [DllImport("kernel32", SetLastError = true)]
    static extern bool CloseHandle(IntPtr handle);
}
