using System.Runtime.InteropServices;
using ForkKit.Diagnostics;
using static ForkKit.Windows.Kernel32;

namespace ForkKit.Windows;

/// <summary>
/// The Windows process table: a Toolhelp32 snapshot lists live processes with their parent pid
/// and executable name. Exited processes are not listed, even while a handle keeps their
/// process object (and exit code) alive: Windows has no zombies in its table.
/// </summary>
static class Toolhelp
{
    public static IReadOnlyList<ProcessEntry> Snapshot()
    {
        var snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
        if (snapshot == INVALID_HANDLE_VALUE) throw WindowsApiException.Last("CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS)");
        try
        {
            var entries = new List<ProcessEntry>();
            var entry = new PROCESSENTRY32W { dwSize = (uint)Marshal.SizeOf<PROCESSENTRY32W>() };
            for (bool more = Process32FirstW(snapshot, ref entry) != 0; more; more = Process32NextW(snapshot, ref entry) != 0)
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

    /// <summary>
    /// The creation time (UTC) from GetProcessTimes; the epoch when the process may not be
    /// opened, or when the time is no valid FILETIME (seen under Wine for a process that was
    /// ending while the table was read).
    /// </summary>
    static DateTime StartTime(int pid)
    {
        using var process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, (uint)pid);
        if (process.IsInvalid) return DateTime.UnixEpoch;
        if (GetProcessTimes(process, out long created, out _, out _, out _) == 0) return DateTime.UnixEpoch;
        return created >= 0 && created <= DateTime.MaxValue.ToFileTimeUtc() ? DateTime.FromFileTimeUtc(created) : DateTime.UnixEpoch;
    }
}
