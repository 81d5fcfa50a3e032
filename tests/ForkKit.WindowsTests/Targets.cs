using System.Runtime.InteropServices;

namespace ForkKit.WindowsTests;

/// <summary>What the children of the tests run.</summary>
static class Targets
{
    public static void Nothing() { }

    public static void Throw() => throw new InvalidOperationException("thrown in the child on purpose");

    public static void Exit(int code) => Environment.Exit(code);

    public static void Sleep(int ms) => Thread.Sleep(ms);

    public static int Square(int n) => n * n;

    public static int Fail(int n) => throw new ArgumentException($"no square for {n} today");

    /// <summary>Exits 0 when this process's name (from --name on the command line) is <paramref name="expected"/>, else 3.</summary>
    public static void CheckName(string expected)
    {
        if (Process.CurrentName != expected)
        {
            Console.Error.WriteLine($"expected the name [{expected}], got [{Process.CurrentName}]");
            Environment.Exit(3);
        }
    }

    /// <summary>Creates <paramref name="marker"/>, then sleeps: a task the test can catch in the act.</summary>
    public static int MarkThenSleep(string marker)
    {
        File.WriteAllText(marker, Environment.ProcessId.ToString());
        Thread.Sleep(60_000);
        return 0;
    }

    /// <summary>Starts a daemon child that sleeps, writes its pid to <paramref name="pidFile"/>, then sleeps itself.</summary>
    public static void StartDaemonThenSleep(string pidFile)
    {
        var daemon = new Process(Sleep, 60_000) { Daemon = true };
        daemon.Start();
        File.WriteAllText(pidFile + ".tmp", daemon.Pid.ToString());
        File.Move(pidFile + ".tmp", pidFile);
        Thread.Sleep(60_000);
    }

    /// <summary>The names of the Unix packages' assemblies loaded in this process: none, on Windows.</summary>
    public static List<string> LoadedUnixAssemblies() => Loaded.UnixAssemblies();

    /// <summary>Adds 1 to the number in <paramref name="file"/>, <paramref name="times"/> times, each under the lock.</summary>
    public static void Increment(Lock lk, string file, int times)
    {
        for (int i = 0; i < times; i++)
        {
            using (lk.Hold())
                File.WriteAllText(file, (int.Parse(File.ReadAllText(file)) + 1).ToString());
        }
    }

    /// <summary>Acquires the lock and returns without releasing it: the child exits holding it.</summary>
    public static void AcquireAndExit(Lock lk) => lk.Acquire();

    public static void ReleaseOne(Semaphore sem) => sem.Release();
}

static class Loaded
{
    public static List<string> UnixAssemblies() =>
        AppDomain.CurrentDomain.GetAssemblies()
            .Select(a => a.GetName().Name ?? "")
            .Where(n => n.StartsWith("Tmds.", StringComparison.Ordinal) || n.StartsWith("Mono.", StringComparison.Ordinal))
            .ToList();
}

/// <summary>Win32 calls the tests make themselves, to act as an outsider would.</summary>
static class Win32
{
    /// <summary>Returns 1) a process handle; 2) NULL with GetLastError (ERROR_INVALID_PARAMETER: no such process).</summary>
    [DllImport("kernel32", SetLastError = true)]
    public static extern IntPtr OpenProcess(uint access, int inherit, uint pid);

    /// <summary>Returns 1) non-zero; 2) 0 with GetLastError.</summary>
    [DllImport("kernel32", SetLastError = true)]
    public static extern int TerminateProcess(IntPtr process, uint exitCode);

    /// <summary>Returns 1) 0 signaled (the process ended); 2) 0x102 timed out; 3) 0xFFFFFFFF with GetLastError.</summary>
    [DllImport("kernel32", SetLastError = true)]
    public static extern uint WaitForSingleObject(IntPtr handle, uint ms);

    /// <summary>Returns 1) non-zero; 2) 0 with GetLastError.</summary>
    [DllImport("kernel32", SetLastError = true)]
    public static extern int CloseHandle(IntPtr handle);

    /// <summary>Returns 1) non-zero with both ends; 2) 0 with GetLastError.</summary>
    [DllImport("kernel32", SetLastError = true)]
    static extern unsafe int CreatePipe(out Microsoft.Win32.SafeHandles.SafeFileHandle read, out Microsoft.Win32.SafeHandles.SafeFileHandle write, int* attributes, uint size);

    /// <summary>A pipe whose ends are both inheritable (SECURITY_ATTRIBUTES.bInheritHandle = TRUE).</summary>
    public static unsafe (Microsoft.Win32.SafeHandles.SafeFileHandle Read, Microsoft.Win32.SafeHandles.SafeFileHandle Write) InheritablePipe()
    {
        // SECURITY_ATTRIBUTES on x64: nLength (4 bytes, then 4 of padding), a descriptor pointer (8), bInheritHandle (4).
        int* attributes = stackalloc int[6];
        attributes[0] = 24;
        attributes[1] = attributes[2] = attributes[3] = 0;
        attributes[4] = 1;
        attributes[5] = 0;
        if (CreatePipe(out var read, out var write, attributes, 0) == 0) throw new InvalidOperationException($"CreatePipe failed: {Marshal.GetLastPInvokeError()}");
        return (read, write);
    }

    public const uint PROCESS_TERMINATE = 0x1, SYNCHRONIZE = 0x00100000;

    /// <summary>Ends process <paramref name="pid"/> from outside, with exit code 1, as Task Manager's End task does.</summary>
    public static void Kill(int pid)
    {
        var h = OpenProcess(PROCESS_TERMINATE | SYNCHRONIZE, 0, (uint)pid);
        if (h == IntPtr.Zero) throw new InvalidOperationException($"OpenProcess({pid}) failed: {Marshal.GetLastPInvokeError()}");
        try
        {
            if (TerminateProcess(h, 1) == 0) throw new InvalidOperationException($"TerminateProcess({pid}) failed: {Marshal.GetLastPInvokeError()}");
            WaitForSingleObject(h, 10_000);
        }
        finally
        {
            CloseHandle(h);
        }
    }

    /// <summary>True while a process with that pid runs (it may be opened and has not ended).</summary>
    public static bool IsRunning(int pid)
    {
        var h = OpenProcess(SYNCHRONIZE, 0, (uint)pid);
        if (h == IntPtr.Zero) return false;
        try
        {
            return WaitForSingleObject(h, 0) == 0x102;
        }
        finally
        {
            CloseHandle(h);
        }
    }
}

static class Wait
{
    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="seconds"/> pass; whether it held.</summary>
    public static bool Until(Func<bool> condition, double seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            if (condition()) return true;
            Thread.Sleep(20);
        }
        return condition();
    }
}
