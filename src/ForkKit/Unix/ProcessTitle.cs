using System.Globalization;

namespace ForkKit.Unix;

/// <summary>
/// The command line ps shows for this process (/proc/PID/cmdline), rewritten in place: Linux
/// shows the memory that held the argument strings at exec, so a process can overwrite it
/// there, within its original length (what setproctitle does). A forked child uses it to stop
/// looking like its parent.
/// </summary>
static unsafe class ProcessTitle
{
    /// <summary>The argument strings' memory of this process: fields 48 and 49 (arg_start, arg_end) of /proc/self/stat; null where unknown.</summary>
    public static (nint Start, int Length)? ArgumentArea()
    {
        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // fields[0] is field 3 (state): field N is fields[N - 3].
            if (fields.Length < 47) return null;
            long start = long.Parse(fields[45], CultureInfo.InvariantCulture);
            long end = long.Parse(fields[46], CultureInfo.InvariantCulture);
            return end > start ? ((nint)start, (int)(end - start)) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Writes <paramref name="title"/> over the area (cut to fit), the rest zeroed.</summary>
    public static void Set((nint Start, int Length) area, string title)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(title);
        var target = new Span<byte>((void*)area.Start, area.Length);
        int n = Math.Min(bytes.Length, area.Length - 1);
        bytes.AsSpan(0, n).CopyTo(target);
        target[n..].Clear();
    }
}
