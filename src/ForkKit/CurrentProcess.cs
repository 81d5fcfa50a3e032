namespace ForkKit;

/// <summary>
/// Who this process is, for Process.CurrentName. Kept apart from Process so that a child can
/// set it without paying for Process's static state while it starts.
/// </summary>
static class CurrentProcess
{
    public static string Name = "MainProcess";
}
