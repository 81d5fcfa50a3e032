namespace ForkKit.Tests.Support;

static class Wait
{
    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="seconds"/> pass; whether it held.</summary>
    public static bool Until(Func<bool> condition, double seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            if (condition()) return true;
            Thread.Sleep(20);
        }
        return condition();
    }
}
