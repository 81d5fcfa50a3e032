namespace ForkKit.Cli;

/// <summary>Colour for a terminal only: off when stdout is redirected, when NO_COLOR is set, or for TERM=dumb.</summary>
static class Ansi
{
    static readonly bool s_on =
        !Console.IsOutputRedirected
        && Environment.GetEnvironmentVariable("NO_COLOR") is null
        && Environment.GetEnvironmentVariable("TERM") is not "dumb";

    public static string Bold(string s) => Wrap("1", s);
    public static string Red(string s) => Wrap("31", s);
    public static string Green(string s) => Wrap("32", s);
    public static string Cyan(string s) => Wrap("36", s);
    public static string Dim(string s) => Wrap("2", s);

    static string Wrap(string code, string s) => s_on ? $"\u001b[{code}m{s}\u001b[0m" : s;
}
