using ForkKit.Diagnostics;

namespace ForkKit.Tests.Support;

static class Children
{
    /// <summary>
    /// The children this test process is answerable for: its own, except the fork server (which
    /// lives as long as the process and is not a leak), plus the fork server's (but its spare).
    /// </summary>
    public static List<ProcessEntry> Mine()
    {
        int? server = ForkKit.Launching.ForkServerLauncher.ServerPid;
        var children = ProcessTable.ChildrenOf(Environment.ProcessId).Where(e => e.Pid != server).ToList();
        children.AddRange(ForkKit.Launching.ForkServerLauncher.ServersChildren());
        return children;
    }
}
