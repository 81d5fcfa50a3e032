using Microsoft.Win32.SafeHandles;
using ForkKit.Tests.Support;

namespace ForkKit.Tests;

/// <summary>
/// A pool worker that writes garbage on its result pipe never kills, wedges or leaks anything
/// in the parent: the task it ran fails saying what came, the worker is stopped and replaced,
/// and the pool goes on.
/// </summary>
public class HostileWorkerTests
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [TestCase(GarbageTargets.BadLength, "frame length -1 is outside")]
    [TestCase(GarbageTargets.NotJson, "not ForkKit's wire format")]
    [TestCase(GarbageTargets.HalfABinaryAnswer, "not ForkKit's wire format")]
    public void GarbageOnTheResultPipeFailsThatTaskAndThePoolGoesOn(int kind, string says)
    {
        var pool = new Pool(1);
        try
        {
            int worker = pool.WorkerPids.Single();
            var before = pool.ApplyAsync(PoolTargets.Square, 5);
            var hostile = pool.ApplyAsync(GarbageTargets.WriteGarbage, kind);
            var after = pool.ApplyAsync(PoolTargets.Square, 6); // in the same worker's window, behind the hostile task
            var e = Assert.Throws<InvalidDataException>(() => hostile.Get(Patience))!;
            Assert.That(e.Message, Does.Contain($"worker PoolWorker-").And.Contain($"(pid {worker}) wrote what is not ForkKit's wire format")
                .And.Contain("WriteGarbage").And.Contain(says));
            Assert.That(before.Get(Patience), Is.EqualTo(25), "the task before it completed");
            Assert.That(after.Get(Patience), Is.EqualTo(36), "the task behind it ran on the replacement");
            Assert.That(Wait.Until(() => !pool.WorkerPids.Contains(worker) && pool.WorkerPids.Count == 1), Is.True, "the worker was stopped and replaced");
            Assert.That(pool.Map(PoolTargets.Square, [1, 2, 3]), Is.EqualTo(new[] { 1, 4, 9 }), "the pool goes on");
        }
        finally
        {
            pool.Close();
            pool.JoinBounded();
        }
    }
}

/// <summary>Targets that write on the worker's result pipe (descriptor 4 in a spawned worker) what is no result frame.</summary>
static class GarbageTargets
{
    public const int BadLength = 0, NotJson = 1, HalfABinaryAnswer = 2;

    public static int WriteGarbage(int kind)
    {
        using var results = new FileStream(new SafeFileHandle(4, ownsHandle: false), FileAccess.Write, bufferSize: 0);
        byte[] bytes = kind switch
        {
            BadLength => [0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3],
            NotJson => [5, 0, 0, 0, (byte)'h', (byte)'e', (byte)'l', (byte)'l', (byte)'o'],
            _ => [3, 0, 0, 0, (byte)'B', 1, 2],
        };
        results.Write(bytes);
        return kind;
    }
}
