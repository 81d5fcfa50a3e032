using System.Diagnostics;
using System.Reflection;

namespace ForkKit.WindowsTests;

/// <summary>
/// A small test runner: every public static void method of the classes named in Program,
/// run in order on a thread of its own with a time limit. One PASS or FAIL line each, then the
/// summary line "N passed, N failed"; the exit code is the number of failures.
/// </summary>
static class Runner
{
    static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    public static int Run(IEnumerable<Type> classes, string? filter)
    {
        int passed = 0, failed = 0;
        var total = Stopwatch.StartNew();
        foreach (var type in classes)
        {
            foreach (var test in type.GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.ReturnType == typeof(void) && m.GetParameters().Length == 0))
            {
                var name = $"{type.Name}.{test.Name}";
                if (filter is not null && !name.Contains(filter, StringComparison.OrdinalIgnoreCase)) continue;
                var clock = Stopwatch.StartNew();
                Exception? failure = null;
                var thread = new Thread(() =>
                {
                    try
                    {
                        test.Invoke(null, BindingFlags.DoNotWrapExceptions, null, null, null);
                    }
                    catch (Exception e)
                    {
                        failure = e;
                    }
                }) { IsBackground = true, Name = name };
                thread.Start();
                if (!thread.Join(Limit)) failure = new TimeoutException($"still running after {Limit.TotalSeconds:0} s");
                if (failure is null)
                {
                    passed++;
                    Console.WriteLine($"PASS {name} ({clock.ElapsedMilliseconds} ms)");
                }
                else
                {
                    failed++;
                    Console.WriteLine($"FAIL {name} ({clock.ElapsedMilliseconds} ms)");
                    Console.WriteLine("  " + failure.ToString().Replace("\n", "\n  "));
                }
            }
        }
        Console.WriteLine($"Windows tests: {total.Elapsed.TotalSeconds:0.0} s");
        Console.WriteLine($"{passed} passed, {failed} failed");
        return failed;
    }
}
