using System.Collections.Concurrent;
using NUnit.Framework;
using NUnit.Framework.Interfaces;

namespace ForkKit.Testing;

/// <summary>
/// After each test, asserts that the test reaped every child it started (and, by default,
/// unlinked every ForkKit named semaphore and shared memory object it made); the failure names
/// the test. Put it on a
/// test, a fixture, or the whole assembly: <c>[assembly: AssertChildrenReaped]</c>.
/// </summary>
/// <remarks>
/// Each test is compared with a baseline taken just before it, so a child started in a
/// OneTimeSetUp, or leaked by an earlier test, is not blamed on the next one. The check reads
/// the whole process, so tests running in parallel in one process can be blamed for each
/// other's children: apply it where tests run one at a time.
/// </remarks>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class | AttributeTargets.Assembly, AllowMultiple = false)]
public sealed class AssertChildrenReapedAttribute : Attribute, ITestAction
{
    readonly ConcurrentDictionary<string, LeakBaseline> _baselines = new();

    /// <summary>Also check ForkKit's named semaphores and shared memory, a Lock's two names in /dev/shm (default: true).</summary>
    public bool Semaphores { get; set; } = true;

    /// <summary>Also check descriptors opened during the test (default: false; the runtime opens some lazily).</summary>
    public bool Descriptors { get; set; }

    /// <summary>How long leaks may take to clear after the test (default: 1000 ms).</summary>
    public int GraceMilliseconds { get; set; } = 1000;

    public ActionTargets Targets => ActionTargets.Test;

    public void BeforeTest(ITest test) => _baselines[test.Id] = LeakBaseline.Take();

    public void AfterTest(ITest test)
    {
        if (!_baselines.TryRemove(test.Id, out var baseline)) return;
        var report = ChildProcesses.WaitUntilClean(TimeSpan.FromMilliseconds(GraceMilliseconds), Semaphores, Descriptors, baseline);
        if (!report.IsClean)
            Assert.Fail($"test {test.FullName} left behind:\n{report}");
    }
}
