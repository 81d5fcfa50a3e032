using System.Buffers.Binary;
using System.Runtime.InteropServices;
using ForkKit.Platform;
using Microsoft.Win32.SafeHandles;

namespace ForkKit.Unix;

/// <summary>
/// Two links between this process and each program it spawns, besides the child's own pipes.
/// <list type="bullet">
/// <item><b>The exit report</b>: a pipe the child writes its exit code to just before it exits.
/// waitpid tells the exact status; but where SIGCHLD is ignored (inherited so from a shell, a
/// daemon manager or a container runtime), the kernel, or the runtime, reaps every child at
/// once and waitpid can only say ECHILD. The report then says how the child ended: the code a
/// target's return, exception or Environment.Exit(n) gave. A child killed by a signal reports
/// nothing (<see cref="UnixChild"/> says what it reads then).</item>
/// <item><b>The parent watch</b>: one pipe per parent. The parent holds its only write end for its
/// whole life and never writes; a child that must not outlive the parent (a daemon Process, a
/// pool worker) gets the read end, and a thread of its own blocks reading it. The read returns
/// end-of-file when the parent has ended, however it ended (SIGKILL included, when no exit hook
/// runs), and the child then ends at once. PR_SET_PDEATHSIG would fire when the spawning
/// <i>thread</i> ends, which for a pool is any thread that happened to replace a worker.</item>
/// </list>
/// Both travel as inherited descriptors named by environment variables, which the child removes
/// from its environment, so that programs it starts do not see them.
/// </summary>
static class ChildLinks
{
    public const string ExitReportVariable = "FORKKIT_EXIT_REPORT";
    public const string ParentWatchVariable = "FORKKIT_PARENT_WATCH";

    /// <summary>The thread that watches the parent, in a child that must not outlive it.</summary>
    public const string WatchThreadName = "forkkit parent watch";

    static readonly Lazy<Pipe> s_watch = new(Pipe.Create);

    // In a child: the descriptors taken over from the parent (-1: none).
    static int s_reportFd = -1;
    static int s_watchFd = -1;

    /// <summary>The parent watch's two descriptors, once made (they stay open for the life of the process).</summary>
    public static IEnumerable<int> ParentWatchDescriptors =>
        s_watch.IsValueCreated ? [(int)s_watch.Value.Read.DangerousGetHandle(), (int)s_watch.Value.Write.DangerousGetHandle()] : [];

    /// <summary>This process's parent watch: the read end every child that dies with it gets.</summary>
    public static SafeFileHandle ParentWatchReadEnd => s_watch.Value.Read;

    /// <summary>
    /// In a child just forked from this process (Syscalls.Fork, the fork server's children): lets
    /// go of what belongs to this process's own relations. A copy of the parent-watch write end
    /// would keep every watcher of this process from ever seeing it end; a copy of this process's
    /// exit report is not the child's to write. Raw close: nothing else runs in the child yet.
    /// </summary>
    public static void LeaveInForkedChild()
    {
        if (s_watch.IsValueCreated) Tmds.Linux.LibC.close((int)s_watch.Value.Write.DangerousGetHandle());
        if (s_reportFd >= 0) Tmds.Linux.LibC.close(s_reportFd);
        s_reportFd = -1;
    }

    /// <summary>
    /// In a child ForkKit spawned: takes over the exit report (written when the process exits)
    /// and the parent watch (a thread that ends this process when the parent has ended), where
    /// the parent handed them over. <paramref name="watchParent"/> false leaves the watch
    /// descriptor unwatched: the fork server starts no thread, and ends when its socket closes.
    /// </summary>
    public static void TakeOver(bool watchParent)
    {
        if (Take(ExitReportVariable) is { } report)
        {
            s_reportFd = report;
            AppDomain.CurrentDomain.ProcessExit += (_, _) => WriteReport(Environment.ExitCode);
        }
        if (Take(ParentWatchVariable) is { } watch)
        {
            s_watchFd = watch;
            if (watchParent)
                new Thread(WatchParent) { IsBackground = true, Name = WatchThreadName }.Start();
        }
    }

    /// <summary>The descriptor named by <paramref name="variable"/>, made close-on-exec and removed from the environment.</summary>
    static int? Take(string variable)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        if (value is null) return null;
        Environment.SetEnvironmentVariable(variable, null);
        if (!int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int fd)) return null;
        var handle = Os.Current.AdoptInherited(value);
        GC.SuppressFinalize(handle); // held for the process's life, by number
        return fd;
    }

    /// <summary>Writes the exit code to this process's exit report, once.</summary>
    static void WriteReport(int code)
    {
        int fd = Interlocked.Exchange(ref s_reportFd, -1);
        if (fd >= 0) WriteCode(fd, code);
    }

    /// <summary>Ends this process at once (_exit) with <paramref name="code"/>, reported first.</summary>
    public static void ExitNow(int code)
    {
        WriteReport(code);
        Syscalls.Exit(code);
    }

    /// <summary>Writes <paramref name="code"/> to an exit report's write end; best effort (a parent that has gone no longer reads it).</summary>
    public static unsafe void WriteCode(int fd, int code)
    {
        byte* record = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(new Span<byte>(record, 4), code);
        Shim.WriteAll(fd, record, 4);
    }

    /// <summary>Blocks until the parent has ended (end-of-file on the watch), then ends this process as a SIGKILL would.</summary>
    static unsafe void WatchParent()
    {
        byte b;
        while (true)
        {
            int n = Shim.ReadSome(s_watchFd, &b, 1);
            if (n > 0) continue; // nobody writes; a byte is ignored
            if (n < 0) return;   // (EINTR is retried in the shim) the watch is broken: the parent is not known to have ended
            break;
        }
        // Nothing is flushed: a full stdout pipe whose reader has gone would block the exit.
        Syscalls.Kill(Environment.ProcessId, Syscalls.SIGKILL);
    }

    /// <summary>The exit code a child wrote to its exit report, if it wrote one; never blocks.</summary>
    public static unsafe int? ReadReport(SafeFileHandle report)
    {
        bool added = false;
        try
        {
            report.DangerousAddRef(ref added);
            int fd = (int)report.DangerousGetHandle();
            if (Shim.WaitReadable(fd, 0) != 1) return null;
            byte* record = stackalloc byte[4];
            int got = 0;
            while (got < 4)
            {
                int n = Shim.ReadSome(fd, record + got, 4 - got);
                if (n <= 0) break;
                got += n;
            }
            return got == 4 ? BinaryPrimitives.ReadInt32LittleEndian(new ReadOnlySpan<byte>(record, 4)) : null;
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
        finally
        {
            if (added) report.DangerousRelease();
        }
    }
}
