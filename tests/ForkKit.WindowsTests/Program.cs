// The Windows tests of ForkKit: Process, Pool, Lock and the process table on the Windows
// backend (CreateProcessW, WaitForSingleObject, TerminateProcess, named semaphores), run by
// `make test-windows` under Wine. Usage: ForkKit.WindowsTests.exe [NAME-PART]
//
// The tests are ordinary NUnit fixtures, run by NUnit's own engine (NUnit.Framework.Api, the
// part of the framework that NUnitLite and the console runner drive): it builds the fixtures,
// SetUp/TearDown, TestCase rows and async tests; ConsoleReport prints one line per test.
using System.Reflection;
using System.Security;
using System.Text.RegularExpressions;
using ForkKit.WindowsTests;
using NUnit;
using NUnit.Framework.Api;
using NUnit.Framework.Interfaces;
using NUnit.Framework.Internal;

// The time limit for each test is ConsoleReport.Watch, not NUnit's DefaultTimeout. On .NET,
// NUnit enforces DefaultTimeout by running the test in Task.Run and giving up on it past the
// limit. Under Wine, an exception thrown out of a test method (NUnit calls it through
// MethodInfo.Invoke) now and then never arrives and the thread hangs: with DefaultTimeout every
// such failing test would show only as a timeout, each costing the whole limit. With the watch,
// failures are reported with their message and trace, and a hang stops the run after its
// summary. ([Timeout] is obsolete on .NET; [CancelAfter] only cancels a token the test watches.)
var limit = TimeSpan.FromSeconds(90);
var settings = new Dictionary<string, object>
{
    // One test at a time: the tests start processes and count them.
    [FrameworkPackageSettings.NumberOfTestWorkers] = 0,
    // Report each result as it happens, in order with what the children write to the console.
    [FrameworkPackageSettings.SynchronousEvents] = true,
};
var runner = new NUnitTestAssemblyRunner(new DefaultTestAssemblyBuilder());
runner.Load(Assembly.GetExecutingAssembly(), settings);
// NAME-PART selects the tests whose full name contains it, ignoring case: a <test> filter with
// a regular expression, as the NUnit console builds from --test.
ITestFilter filter = args.Length == 0
    ? TestFilter.Empty
    : TestFilter.FromXml($"<filter><test re=\"1\">{SecurityElement.Escape("(?i)" + Regex.Escape(args[0]))}</test></filter>");
// NUnit sends Console.Out into each test's result while it runs: the report keeps the real one.
var report = new ConsoleReport(Console.Out);
Console.WriteLine($"{runner.CountTestCases(filter)} test cases");
report.Watch(limit);
runner.Run(report, filter);
report.WriteSummary();
// Exit at once, with the number of failures.
Environment.Exit(report.Failed);
