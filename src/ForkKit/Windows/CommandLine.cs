using System.Collections;
using System.Text;

namespace ForkKit.Windows;

/// <summary>
/// Windows hands a new process one command-line string, not an argument vector: the child's C
/// runtime (or CommandLineToArgvW) splits it again. These functions build that string, and the
/// environment block, so that the child gets back exactly the arguments and variables we meant.
/// </summary>
static class CommandLine
{
    /// <summary>
    /// Joins <paramref name="argv"/> so that CommandLineToArgvW (and the MSVC runtime) split it
    /// back into the same list. argv[0] follows its own rule: it runs from a quote to the next
    /// quote, with no escapes, so it is always quoted and may not contain a quote (one is turned
    /// into an apostrophe; argv[0] is only a title here).
    /// </summary>
    public static string Join(IReadOnlyList<string> argv)
    {
        var line = new StringBuilder();
        line.Append('"').Append(argv[0].Replace('"', '\'')).Append('"');
        for (int i = 1; i < argv.Count; i++)
        {
            line.Append(' ');
            AppendQuoted(line, argv[i]);
        }
        return line.ToString();
    }

    /// <summary>
    /// One argument after argv[0]. Plain text goes as it is; anything with a space, a tab, a
    /// quote, or nothing at all goes in quotes, where the splitting rules are:
    /// 2n backslashes before a quote give n backslashes and the quote ends the argument's quoted
    /// part; 2n+1 backslashes before a quote give n backslashes and a literal quote; backslashes
    /// before anything else are literal.
    /// </summary>
    internal static void AppendQuoted(StringBuilder line, string arg)
    {
        if (arg.Length > 0 && arg.IndexOfAny([' ', '\t', '\n', '\v', '"']) < 0)
        {
            line.Append(arg);
            return;
        }
        line.Append('"');
        int backslashes = 0;
        foreach (char c in arg)
        {
            if (c == '\\')
            {
                backslashes++;
                continue;
            }
            if (c == '"')
            {
                // Each backslash before a quote doubles, and one more escapes the quote itself.
                line.Append('\\', 2 * backslashes + 1).Append('"');
            }
            else
            {
                line.Append('\\', backslashes).Append(c);
            }
            backslashes = 0;
        }
        // Backslashes before the closing quote double, so that they do not escape it.
        line.Append('\\', 2 * backslashes).Append('"');
    }

    /// <summary>
    /// The environment block for CreateProcessW with CREATE_UNICODE_ENVIRONMENT: "NAME=value"
    /// strings, each ended by NUL, the whole ended by one more NUL, sorted by name without
    /// regard to case as Windows keeps it. The variables are .NET's view of this process's
    /// environment (which Environment.SetEnvironmentVariable changes) with
    /// <paramref name="extra"/> set on top.
    /// </summary>
    public static string EnvironmentBlock(IReadOnlyDictionary<string, string> extra)
    {
        var variables = new SortedDictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
            variables[(string)entry.Key] = (string?)entry.Value ?? "";
        foreach (var (key, value) in extra) variables[key] = value;
        var block = new StringBuilder();
        foreach (var (key, value) in variables) block.Append(key).Append('=').Append(value).Append('\0');
        if (variables.Count == 0) block.Append('\0'); // an empty block is two NULs
        return block.Append('\0').ToString();
    }
}
