namespace ForkKit.Tests.Support;

/// <summary>Targets for children of the fork server.</summary>
static class ForkServerTargets
{
    /// <summary>A forked runtime's own exit code: _exit, since Environment.Exit never returns in one.</summary>
    public static void ExitWith(int code) => Unix.Syscalls.Exit(code);

    /// <summary>Reads a field of a null reference: the runtime's fault handler must turn it into a NullReferenceException.</summary>
    public static void DereferenceNull(string? text) => Console.WriteLine(text!.Length);

    /// <summary>Writes "PID PPID" of this process to <paramref name="file"/>, then sleeps.</summary>
    public static void WritePidsThenSleep(string file, int ms)
    {
        File.WriteAllText(file + ".tmp", $"{Environment.ProcessId} {Unix.Syscalls.GetParentPid()}");
        File.Move(file + ".tmp", file);
        Thread.Sleep(ms);
    }
}
