// Runs one scenario the tests need a separate parent process for; see ExternalParentTests.
using ForkKit;

switch (args.FirstOrDefault())
{
    case "hello":
    {
        var p = new Process(Scenarios.Greet, "hello from the child");
        p.Start();
        p.Join();
        Console.WriteLine($"parent {Environment.ProcessId}: child {p.Pid} exit code {p.ExitCode}");
        return 0;
    }
    case "daemon":
    {
        // Returns at once: the daemon child must be terminated when this parent exits.
        var p = new Process(Scenarios.Sleep, 60_000) { Daemon = true };
        p.Start();
        Console.WriteLine($"child {p.Pid}");
        return 0;
    }
    case "non-daemon":
    {
        // Returns at once: the non-daemon child must be joined before this parent exits.
        var p = new Process(Scenarios.SleepThenWrite, int.Parse(args[1]), args[2]);
        p.Start();
        Console.WriteLine($"child {p.Pid}");
        return 0;
    }
    case "lock-exit":
    case "lock-throw":
    case "lock-sleep":
    {
        // Creates kernel objects and never disposes them: ForkKit must remove them anyway,
        // whether this process returns, throws, or is killed.
        var lk = new ForkKit.Lock();
        var sem = new ForkKit.Semaphore(2);
        Console.WriteLine($"names {lk.Name} {sem.Name}");
        Console.Out.Flush();
        if (args[0] == "lock-throw") throw new InvalidOperationException("unhandled on purpose");
        if (args[0] == "lock-sleep") Thread.Sleep(60_000);
        return 0;
    }
    default:
        Console.Error.WriteLine("usage: ForkKit.TestApp hello | daemon | non-daemon MS MARKER-FILE | lock-exit | lock-throw | lock-sleep");
        return 2;
}

static class Scenarios
{
    public static void Greet(string text) =>
        Console.WriteLine($"{ForkKit.Process.CurrentName} (pid {Environment.ProcessId}, parent {ForkKit.Unix.Syscalls.GetParentPid()}): {text}");

    public static void Sleep(int ms) => Thread.Sleep(ms);

    public static void SleepThenWrite(int ms, string marker)
    {
        Thread.Sleep(ms);
        File.WriteAllText(marker, "done");
    }
}
