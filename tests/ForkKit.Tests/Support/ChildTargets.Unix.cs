namespace ForkKit.Tests.Support;

/// <summary>Targets only the Linux suite runs: they print on, or read, the inherited descriptors.</summary>
static partial class ChildTargets
{
    public static void Print(string text) => Console.WriteLine(text);

    public static void PrintError(string text) => Console.Error.WriteLine(text);

    /// <summary>Exits 0 when stdin is /dev/null and reads as empty, 3 otherwise.</summary>
    public static void CheckStdinIsDevNull()
    {
        var link = new FileInfo("/proc/self/fd/0").LinkTarget;
        var rest = Console.In.ReadToEnd();
        Environment.Exit(link == "/dev/null" && rest.Length == 0 ? 0 : 3);
    }

    /// <summary>Makes every write to stderr fail, as on a stderr that was closed, then throws: the trace has nowhere to go.</summary>
    public static void BreakStderrThenThrow()
    {
        Console.SetError(new FailingWriter());
        throw new InvalidOperationException("thrown after stderr was closed");
    }

    sealed class FailingWriter : TextWriter
    {
        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

        public override void Write(char value) => throw new IOException("stderr is closed");

        public override void Write(string? value) => throw new IOException("stderr is closed");

        public override void WriteLine(string? value) => throw new IOException("stderr is closed");
    }
}
