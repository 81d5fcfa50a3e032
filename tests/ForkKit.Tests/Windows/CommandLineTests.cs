using System.Text;
using ForkKit.Windows;

namespace ForkKit.Tests;

/// <summary>
/// The command line and environment block CreateProcessW gets: pure string functions, so they
/// are pinned here on Linux too. The child splits the line again by CommandLineToArgvW's rules
/// (the MSVC runtime's are the same for what Join writes); <see cref="SplitAsWindowsDoes"/>
/// spells those rules out.
/// </summary>
public class CommandLineTests
{
    [TestCase("plain", ExpectedResult = "plain")]
    [TestCase("two words", ExpectedResult = "\"two words\"")]
    [TestCase("tab\there", ExpectedResult = "\"tab\there\"")]
    [TestCase("line\nbreak", ExpectedResult = "\"line\nbreak\"")]
    [TestCase("", ExpectedResult = "\"\"")]
    [TestCase("say \"hi\"", ExpectedResult = "\"say \\\"hi\\\"\"")]
    [TestCase("a\"b", ExpectedResult = "\"a\\\"b\"")]
    public string AnArgumentIsQuotedOnlyWhenItHasWhitespaceOrAQuoteOrIsEmpty(string arg) =>
        CommandLine.Join(["prog", arg])["\"prog\" ".Length..];

    // Backslashes are literal except in front of a quote: there each one doubles, and one more
    // escapes the quote itself; before the closing quote they double so as not to escape it.
    [TestCase(@"C:\dir\file", ExpectedResult = @"C:\dir\file")]
    [TestCase(@"C:\my dir\", ExpectedResult = @"""C:\my dir\\""")]
    [TestCase(@"trailing\", ExpectedResult = @"trailing\")]
    [TestCase(@"a\""b", ExpectedResult = @"""a\\\""b""")]
    [TestCase(@"a\\""b", ExpectedResult = @"""a\\\\\""b""")]
    [TestCase(@"two\\ end\\", ExpectedResult = @"""two\\ end\\\\""")]
    public string BackslashesDoubleOnlyBeforeAQuote(string arg) =>
        CommandLine.Join(["prog", arg])["\"prog\" ".Length..];

    [Test]
    public void Argv0IsAlwaysQuotedAndItsQuotesBecomeApostrophes()
    {
        // argv[0] runs from a quote to the next quote with no escapes: a quote cannot be in it.
        Assert.That(CommandLine.Join(["prog"]), Is.EqualTo("\"prog\""));
        Assert.That(CommandLine.Join(["C:\\Program Files\\a \"b\".exe", "x"]), Is.EqualTo("\"C:\\Program Files\\a 'b'.exe\" x"));
    }

    [TestCase("plain")]
    [TestCase("")]
    [TestCase("two words", "", "three")]
    [TestCase("a \"quoted\" name \\ with\\\\ \\\"back\\slashes\\", "trailing\\", "tab\tand space")]
    [TestCase("\\\\server\\share\\", "\"", "\\", "\\\"", "\"\"", "\\\\\"\\\\")]
    [TestCase("--name", "é ✓ 😀", "new\nline")]
    public void JoinedArgumentsSplitBackIntoTheSameList(params string[] args)
    {
        var argv = new[] { "C:\\app\\ForkKit.WindowsTests.exe" }.Concat(args).ToList();
        Assert.That(SplitAsWindowsDoes(CommandLine.Join(argv)), Is.EqualTo(argv));
    }

    [Test]
    public void TheEnvironmentBlockIsSortedIgnoringCaseAndEndsWithTwoNuls()
    {
        var block = CommandLine.EnvironmentBlock(new Dictionary<string, string> { ["zz_forkkit"] = "1", ["AA_FORKKIT"] = "2" });
        Assert.That(block, Does.EndWith("\0\0"));
        var names = block[..^2].Split('\0').Select(v => v[..v.IndexOf('=', 1)]).ToList();
        Assert.That(names, Is.Ordered.Using((IComparer<string>)StringComparer.OrdinalIgnoreCase));
        Assert.That(names, Does.Contain("zz_forkkit").And.Contain("AA_FORKKIT"));
    }

    [Test]
    public void TheEnvironmentBlockHoldsThisProcesssVariablesWithTheExtraOnesOnTop()
    {
        Environment.SetEnvironmentVariable("FORKKIT_INHERITED", "from the parent");
        Environment.SetEnvironmentVariable("FORKKIT_REPLACED", "old");
        try
        {
            var block = CommandLine.EnvironmentBlock(new Dictionary<string, string> { ["FORKKIT_REPLACED"] = "new", ["FORKKIT_ADDED"] = "a=b" });
            var entries = block[..^2].Split('\0');
            Assert.That(entries, Does.Contain("FORKKIT_INHERITED=from the parent"));
            Assert.That(entries, Does.Contain("FORKKIT_REPLACED=new").And.Not.Contain("FORKKIT_REPLACED=old"));
            Assert.That(entries, Does.Contain("FORKKIT_ADDED=a=b"));
            Assert.That(entries, Has.Length.EqualTo(Environment.GetEnvironmentVariables().Count + 1));
        }
        finally
        {
            Environment.SetEnvironmentVariable("FORKKIT_INHERITED", null);
            Environment.SetEnvironmentVariable("FORKKIT_REPLACED", null);
        }
    }

    /// <summary>
    /// CommandLineToArgvW's rules: argv[0] is everything up to the first space or tab, or from a
    /// quote to the next quote; after it, arguments are separated by spaces and tabs outside
    /// quotes; 2n backslashes before a quote give n backslashes and the quote opens or closes a
    /// quoted part; 2n+1 give n backslashes and a literal quote; other backslashes are literal.
    /// </summary>
    static List<string> SplitAsWindowsDoes(string line)
    {
        var argv = new List<string>();
        int i = 0;
        if (line.StartsWith('"'))
        {
            int close = line.IndexOf('"', 1);
            argv.Add(line[1..close]);
            i = close + 1;
        }
        else
        {
            while (i < line.Length && line[i] is not (' ' or '\t')) i++;
            argv.Add(line[..i]);
        }
        while (true)
        {
            while (i < line.Length && line[i] is ' ' or '\t') i++;
            if (i == line.Length) return argv;
            var arg = new StringBuilder();
            bool quoted = false;
            for (; i < line.Length && (quoted || line[i] is not (' ' or '\t')); i++)
            {
                if (line[i] == '"')
                {
                    quoted = !quoted;
                    continue;
                }
                if (line[i] != '\\')
                {
                    arg.Append(line[i]);
                    continue;
                }
                int end = i;
                while (end < line.Length && line[end] == '\\') end++;
                int backslashes = end - i;
                if (end < line.Length && line[end] == '"')
                {
                    arg.Append('\\', backslashes / 2);
                    if (backslashes % 2 == 1) arg.Append('"');
                    else quoted = !quoted;
                    i = end;
                }
                else
                {
                    arg.Append('\\', backslashes);
                    i = end - 1;
                }
            }
            argv.Add(arg.ToString());
        }
    }
}
