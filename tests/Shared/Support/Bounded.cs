using System.Runtime.ExceptionServices;

namespace ForkKit.Tests.Support;

/// <summary>
/// Waits that end. Each gives up after <see cref="Limit"/> and fails the test, saying what it
/// waited for, so that a regression that blocks fails that test instead of hanging the run.
/// </summary>
/// <remarks>
/// The limit bounds, it measures nothing: it is far above what any of these waits takes on a
/// loaded machine, and below the Windows runner's 90 s watch, so that a hang there is reported
/// as this test's failure with its message.
/// </remarks>
static class Bounded
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    extension(Process p)
    {
        /// <summary>Join with the limit: a child still running then is killed and reaped, and the test fails.</summary>
        public void JoinBounded()
        {
            if (p.Join(Limit)) return;
            p.Kill();
            p.Join(Limit);
            Assert.Fail($"{p} did not end within {Limit.TotalSeconds:0} s, so it was killed");
        }
    }

    extension(Pool pool)
    {
        /// <summary>Pool.Join with the limit: past it the pool is terminated (which ends the join) and the test fails.</summary>
        public void JoinBounded() => Call(pool.Join, "Pool.Join()", pool.Terminate);
    }

    /// <summary>
    /// Runs a blocking call on a thread of its own and waits for it at most <see cref="Limit"/>:
    /// returns what it returns, or throws what it throws. Past the limit,
    /// <paramref name="onTimeout"/> runs (to unblock the call, or to stop what it waits for) and
    /// the test fails, naming <paramref name="what"/>.
    /// </summary>
    public static T Call<T>(Func<T> call, string what, Action? onTimeout = null)
    {
        T result = default!;
        ExceptionDispatchInfo? error = null;
        var thread = new Thread(() =>
        {
            try { result = call(); }
            catch (Exception e) { error = ExceptionDispatchInfo.Capture(e); }
        }) { IsBackground = true, Name = what };
        thread.Start();
        if (!thread.Join(Limit))
        {
            onTimeout?.Invoke();
            Assert.Fail($"{what} did not return within {Limit.TotalSeconds:0} s");
        }
        error?.Throw();
        return result;
    }

    /// <inheritdoc cref="Call{T}"/>
    public static void Call(Action call, string what, Action? onTimeout = null) =>
        Call(() => { call(); return 0; }, what, onTimeout);
}
