using System.Runtime.InteropServices;
using ForkKit.Diagnostics;
using ForkKit.Launching;

namespace ForkKit.Stress;

/// <summary>
/// Sends SIGKILL to a pool worker by pid, from outside the pool, as an operator's
/// <c>kill -9</c> would. A pid read from <see cref="Pool.WorkerPids"/> may belong to a worker that
/// has been reaped since, and a reaped pid can be given to another process: the signal goes
/// through a pidfd (pidfd_open(2), pidfd_send_signal(2)), opened first and checked second, so it
/// reaches the process that was checked or none.
/// </summary>
static class WorkerKiller
{
    const int SIGKILL = 9;

    /// <summary>
    /// Kills <paramref name="pid"/> if it is still one of this process's workers (a child of this
    /// process or of its fork server, not the server's spare); true when the signal was sent.
    /// </summary>
    /// <exception cref="InvalidOperationException">pidfd_open or pidfd_send_signal failed for another reason than the process being gone.</exception>
    public static bool TryKill(int pid)
    {
        int fd = pidfd_open(pid, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            // ESRCH: the worker has already been reaped.
            if (errno == ESRCH) return false;
            throw new InvalidOperationException($"pidfd_open({pid}) failed with errno {errno}");
        }
        try
        {
            // The pidfd now names the process that had this pid at pidfd_open; if /proc still
            // shows it as ours, the pid has not moved to another process in between.
            var entry = ProcessTable.Find(pid);
            int self = Environment.ProcessId;
            int? server = ForkServerLauncher.ServerPid;
            if (entry is null || (entry.ParentPid != self && entry.ParentPid != server) || entry.Name == Worker.ForkServerHost.SpareName)
                return false;
            if (pidfd_send_signal(fd, SIGKILL, 0, 0) == 0) return true;
            int errno = Marshal.GetLastPInvokeError();
            // ESRCH: it was reaped between the check and the signal.
            if (errno == ESRCH) return false;
            throw new InvalidOperationException($"pidfd_send_signal(pidfd of {pid}, SIGKILL) failed with errno {errno}");
        }
        finally
        {
            close(fd);
        }
    }

    const int ESRCH = 3;

    /// <summary>pidfd_open(2), glibc 2.36 and later. Returns 1) a descriptor (close-on-exec) that names the process; 2) -1 with errno ESRCH when no process has that pid.</summary>
    [DllImport("libc", SetLastError = true)]
    static extern int pidfd_open(int pid, uint flags);

    /// <summary>pidfd_send_signal(2). Returns 1) 0 when the signal was sent (also to a zombie, which ignores it); 2) -1 with errno ESRCH when the process has been reaped.</summary>
    [DllImport("libc", SetLastError = true)]
    static extern int pidfd_send_signal(int pidfd, int sig, nint info, uint flags);

    [DllImport("libc", SetLastError = true)]
    static extern int close(int fd);
}
