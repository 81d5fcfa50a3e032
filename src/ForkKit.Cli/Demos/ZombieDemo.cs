using System.Globalization;
using ForkKit.Diagnostics;
using ForkKit.Platform;
using ForkKit.Unix;

namespace ForkKit.Cli.Demos;

/// <summary>Creates a zombie: a child that has exited and whose parent has not yet waited for it.</summary>
static class ZombieDemo
{
    public static int Run(DemoOptions o)
    {
        if (OperatingSystem.IsWindows()) return RunOnWindows(o);
        int hold = o.Value<int>("--hold");
        int self = Environment.ProcessId;
        Console.WriteLine(Ansi.Bold("Zombie demo: an exited child stays in the process table until its parent waits for it."));
        if (WhyNoZombieCanAppear() is { } why) Console.WriteLine(Ansi.Red("note: ") + why);

        int pid = Syscalls.ForkExit(0);
        Console.WriteLine($"fork() = {pid}: the child (C code, native-interop) calls _exit(0) at once; this parent (pid {self}) does not wait yet.");
        var entry = WaitUntilExited(pid);
        PrintChildren(self);
        if (entry?.State == ProcessState.Zombie)
        {
            Console.WriteLine($"pid {pid} is in state {Ansi.Red("Z")}: it has exited and freed its memory, but the kernel keeps its entry and exit status for the parent.");
            if (hold > 0)
            {
                Console.WriteLine($"holding {hold} s: in another terminal run   ps -o pid,ppid,stat,comm -p {pid}");
                Thread.Sleep(TimeSpan.FromSeconds(hold));
            }
        }
        else
        {
            Console.WriteLine($"pid {pid} was not seen as a zombie: it was reaped before this parent waited. Either SIGCHLD was ignored when this program started " +
                "(then the kernel reaps every exited child at once, and the .NET runtime, once it has installed its own SIGCHLD handler, keeps that promise by reaping every child itself), " +
                "or this process is pid 1, which reaps what it did not start.");
        }

        try
        {
            var status = Syscalls.WaitPid(pid);
            Console.WriteLine($"waitpid({pid}) = {pid}, {ExitDescriptions.Describe(status.ToExitCode())}: the parent has collected the status; the kernel frees the entry.");
        }
        catch (SyscallException e) when (e.ErrnoName == "ECHILD")
        {
            Console.WriteLine($"waitpid({pid}) failed with ECHILD: there is nothing left to wait for; the kernel reaped the child already.");
        }
        PrintChildren(self);
        return 0;
    }

    public static void ExitAtOnce() { }

    /// <summary>
    /// Windows has no zombies: an exited process leaves the process table at once. What stays is
    /// its process object, kept alive by any open handle, with its exit code still readable:
    /// this demo holds the handle ForkKit keeps for each child and shows just that.
    /// </summary>
    static int RunOnWindows(DemoOptions o)
    {
        int hold = o.Value<int>("--hold");
        Console.WriteLine(Ansi.Bold("Zombie demo, Windows: no zombies, but a process object held alive by a handle."));
        using var child = new Process(ExitAtOnce) { Name = "ExitsAtOnce" };
        child.Start();
        int pid = child.Pid!.Value;
        Console.WriteLine($"CreateProcessW: {child.Name}, pid {pid}; it returns at once. This parent keeps its process handle and does not wait yet.");
        var deadline = Environment.TickCount64 + 30_000;
        while (!child.HasExited && Environment.TickCount64 < deadline) Thread.Sleep(5);
        bool listed = ProcessTable.Find(pid) is not null;
        Console.WriteLine($"pid {pid} has exited (WaitForSingleObject(handle, 0) = WAIT_OBJECT_0). In the Toolhelp snapshot: {(listed ? "still listed" : "not listed")}.");
        Console.WriteLine("Its process object lives on while a handle is open: the exit code is still readable, and the pid is not given to anyone else.");
        if (hold > 0)
        {
            Console.WriteLine($"holding {hold} s: in another terminal, tasklist /fi \"PID eq {pid}\" finds nothing");
            Thread.Sleep(TimeSpan.FromSeconds(hold));
        }
        Console.WriteLine($"GetExitCodeProcess = {child.ExitCode}; CloseHandle: the last handle is gone, and so is the process object. (This is what waitpid does on Unix.)");
        return 0;
    }

    /// <summary>Waits (at most 5 s) until the child is no longer running: a zombie, or gone.</summary>
    static ProcessEntry? WaitUntilExited(int pid)
    {
        var deadline = Environment.TickCount64 + 5000;
        while (true)
        {
            var entry = ProcessTable.Find(pid);
            if (entry is null || entry.State == ProcessState.Zombie || Environment.TickCount64 > deadline) return entry;
            Thread.Sleep(2);
        }
    }

    internal static void PrintChildren(int parent)
    {
        var children = ProcessTable.ChildrenOf(parent);
        Console.WriteLine($"process table, children of pid {parent}:");
        Console.WriteLine($"  {"PID",7} {"PPID",7} S {"NAME",-15} COMMAND");
        if (children.Count == 0) Console.WriteLine("  (none)");
        foreach (var c in children)
        {
            var state = c.State == ProcessState.Zombie ? Ansi.Red("Z") : c.StateLetter.ToString();
            var command = c.State == ProcessState.Zombie ? $"[{c.Name}] <defunct>" : c.CommandLine;
            Console.WriteLine($"  {c.Pid,7} {c.ParentPid,7} {state} {c.Name,-15} {command}");
        }
    }

    /// <summary>The two cases where no zombie appears: SIGCHLD ignored (the kernel reaps at once), or pid 1.</summary>
    internal static string? WhyNoZombieCanAppear()
    {
        if (SigchldIgnored())
            return "SIGCHLD is ignored (SIG_IGN) in this process, inherited from the program that started it. " +
                   "Then the kernel reaps exited children at once and no zombie can appear. Start the demo from a normal shell to see one.";
        if (Environment.ProcessId == 1)
            return "this process is pid 1, the init of a container: an init reaps orphans, and .NET as pid 1 reaps children it did not start, so the zombie may vanish at once.";
        return null;
    }

    /// <summary>Reads the SigIgn mask of /proc/self/status: bit 16 is SIGCHLD (signal 17).</summary>
    static bool SigchldIgnored()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("SigIgn:", StringComparison.Ordinal))
                return (ulong.Parse(line[7..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture) & (1UL << 16)) != 0;
        return false;
    }
}
