using System.Diagnostics;
using NUnit.Framework.Interfaces;

namespace ForkKit.WindowsTests;

/// <summary>
/// Prints each test case's result as NUnit reports it: <c>PASS name (ms)</c>, <c>FAIL name (ms)</c>
/// with the message and stack trace, <c>SKIP name: reason</c>; and counts them. A fixture whose
/// OneTimeTearDown fails is a failure too, after tests that passed. The last line is
/// <c>N passed, N failed</c>, which `make test-windows` looks for.
/// </summary>
sealed class ConsoleReport(TextWriter output) : ITestListener
{
    readonly object _gate = new();
    readonly Stopwatch _run = Stopwatch.StartNew();
    readonly Stopwatch _sinceLastEvent = Stopwatch.StartNew();
    string _running = "the run's start";

    public int Passed { get; private set; }
    public int Failed { get; private set; }
    public int Skipped { get; private set; }

    public void TestStarted(ITest test)
    {
        lock (_gate)
        {
            _running = test.IsSuite ? $"{test.FullName} (set-up)" : NameOf(test);
            _sinceLastEvent.Restart();
        }
    }

    public void TestFinished(ITestResult result)
    {
        lock (_gate)
        {
            _running = $"what follows {result.FullName}";
            _sinceLastEvent.Restart();
            if (result.Test.IsSuite) SuiteFinished(result); else CaseFinished(result);
        }
    }

    void SuiteFinished(ITestResult result)
    {
        // A failing OneTimeSetUp already failed each test below it; a failing OneTimeTearDown
        // ran after them, so it is counted here once. Site Child is only the sum of the tests.
        if (result.ResultState.Status == TestStatus.Failed && result.ResultState.Site == FailureSite.TearDown)
        {
            Failed++;
            output.WriteLine($"FAIL {result.FullName} (OneTimeTearDown)");
            WriteIndented(result.Message);
            WriteIndented(result.StackTrace);
        }
    }

    void CaseFinished(ITestResult result)
    {
        var name = NameOf(result.Test);
        var ms = (long)(result.Duration * 1000);
        switch (result.ResultState.Status)
        {
            case TestStatus.Passed:
                Passed++;
                output.WriteLine($"PASS {name} ({ms} ms)");
                break;
            case TestStatus.Warning: // Assert.Warn: passed, with something to say
                Passed++;
                output.WriteLine($"PASS {name} ({ms} ms)");
                WriteIndented("warning: " + result.Message);
                break;
            case TestStatus.Failed:
                Failed++;
                output.WriteLine($"FAIL {name} ({ms} ms)");
                WriteIndented(result.Message);
                WriteIndented(result.StackTrace);
                WriteIndented(result.Output);
                break;
            default: // Skipped ([Ignore], [Explicit], a failed Assume) and Inconclusive
                Skipped++;
                output.WriteLine($"SKIP {name}: {result.ResultState.Label} {result.Message}".TrimEnd());
                break;
        }
    }

    public void TestOutput(TestOutput testOutput) => output.Write(testOutput.Text);

    public void SendMessage(TestMessage message) { }

    /// <summary>The summary: the run's time and skipped tests, then <c>N passed, N failed</c> alone on the last line.</summary>
    public void WriteSummary()
    {
        lock (_gate)
        {
            output.WriteLine($"Windows tests: {_run.Elapsed.TotalSeconds:0.0} s, {Skipped} skipped");
            output.WriteLine($"{Passed} passed, {Failed} failed");
            output.Flush();
        }
    }

    /// <summary>
    /// Ends the run, as one more failure, when nothing has been reported for <paramref name="limit"/>:
    /// a test (or a fixture's set-up or tear-down) that hangs. NUnit waits for the test it runs,
    /// so the run cannot go past it: it stops there, after the summary of what ran.
    /// </summary>
    public void Watch(TimeSpan limit)
    {
        var watchdog = new Thread(() =>
        {
            while (true)
            {
                Thread.Sleep(1000);
                lock (_gate)
                {
                    if (_sinceLastEvent.Elapsed < limit) continue;
                    Failed++;
                    output.WriteLine($"FAIL {_running} ({(long)_sinceLastEvent.Elapsed.TotalMilliseconds} ms)");
                    WriteIndented($"still running after {limit.TotalSeconds:0} s: the run stops here");
                    WriteSummary();
                    Environment.Exit(Failed);
                }
            }
        }) { IsBackground = true, Name = "time limit" };
        watchdog.Start();
    }

    static string NameOf(ITest test) => $"{test.TypeInfo?.Name ?? test.ClassName}.{test.Name}";

    void WriteIndented(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return;
        output.WriteLine("  " + text.TrimEnd().Replace("\n", "\n  "));
    }
}
