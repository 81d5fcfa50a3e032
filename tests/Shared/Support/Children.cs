using ForkKit.Diagnostics;

namespace ForkKit.Tests.Support;

static class Children
{
    /// <summary>
    /// The children this test process is answerable for: its own, except the fork server (which
    /// lives as long as the process and is not a leak), plus the fork server's.
    /// </summary>
    public static List<ProcessEntry> Mine()
    {
        int? server = ForkKit.Launching.ForkServerLauncher.ServerPid;
        var children = ProcessTable.ChildrenOf(Environment.ProcessId).Where(e => e.Pid != server).ToList();
        if (server is { } pid) children.AddRange(ProcessTable.ChildrenOf(pid));
        return children;
    }
}
