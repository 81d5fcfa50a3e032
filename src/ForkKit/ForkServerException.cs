namespace ForkKit;

/// <summary>
/// A start through the fork server (StartMethod.ForkServer) failed: the server died or did not
/// answer, or the forked child died or hung before it ran. The message says which and what
/// became of it; nothing is left running. The next start brings up a new server if this one is
/// gone.
/// </summary>
public sealed class ForkServerException : Exception
{
    public ForkServerException(string message) : base(message) { }
}
