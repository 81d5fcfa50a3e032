namespace ForkKit.Tests;

public class SmokeTests
{
    static void Hello(int n, string s) => Console.WriteLine($"child {n} {s} pid={Environment.ProcessId}");

    [Test]
    public void Runs()
    {
        using var p = new Process(Hello, 3, "x");
        p.Start();
        p.Join();
        Assert.That(p.ExitCode, Is.EqualTo(0));
    }
}
