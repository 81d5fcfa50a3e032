using ForkKit.Tests.Support;
using ForkKit.Unix;
using static Tmds.Linux.LibC;

namespace ForkKit.Tests;

/// <summary>
/// What a child starts with: only the descriptors meant for it (checked in /proc/self/fd from
/// inside the child), the parent's environment without ForkKit's own hand-over variables,
/// SIGCHLD at its default action, and the dotnet host itself as its program: no shell between.
/// </summary>
public class ChildEnvironmentTests
{
    /// <summary>What a pool worker sees of itself: its descriptors, its environment, its SIGCHLD, its program.</summary>
    public static string[] Inspect(int unused)
    {
        var lines = new List<string>();
        foreach (var path in Directory.EnumerateFiles("/proc/self/fd"))
        {
            try
            {
                lines.Add($"fd {Path.GetFileName(path)} -> {new FileInfo(path).LinkTarget}");
            }
            catch (IOException)
            {
                // the enumeration's own descriptor, closed meanwhile
            }
        }
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables()) lines.Add($"env {e.Key}");
        var sigIgn = File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        lines.Add($"sigchld ignored {(Convert.ToUInt64(sigIgn[7..].Trim(), 16) >> (17 - 1) & 1) == 1}");
        lines.Add($"exe {new FileInfo("/proc/self/exe").LinkTarget}");
        return lines.ToArray();
    }

    /// <summary>A pipe and a file this process opens without close-on-exec, as careless native code would.</summary>
    static unsafe (int PipeRead, int PipeWrite, int File, string FilePath) OpenLeakable()
    {
        int* fds = stackalloc int[2];
        Assert.That(pipe(fds), Is.EqualTo(0));
        var path = Path.Combine(Path.GetTempPath(), $"forkkit-leak-{Guid.NewGuid():N}");
        File.WriteAllText(path, "");
        int fd;
        fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(path + "\0")) fd = open(p, O_RDONLY);
        Assert.That(fd, Is.GreaterThan(0));
        return (fds[0], fds[1], fd, path);
    }

    static string LinkOf(int fd) => new FileInfo($"/proc/self/fd/{fd}").LinkTarget!;

    [TestCase(StartMethod.Spawn)]
    [TestCase(StartMethod.ForkServer)]
    public void AChildGetsOnlyItsOwnDescriptorsACleanEnvironmentAndNoShell(StartMethod method)
    {
        if (method == StartMethod.ForkServer)
        {
            // The server runs before the leakable descriptors exist, as it would in a program that used it before.
            using var first = new Process(ChildTargets.Noop) { StartMethod = method };
            first.Start();
            first.Join(TimeSpan.FromSeconds(60));
        }
        var leak = OpenLeakable();
        try
        {
            string[] seen;
            using (var pool = new Pool(1, startMethod: method))
            {
                seen = pool.Apply(Inspect, 0);
                pool.Close();
                pool.Join();
            }
            var text = string.Join("\n", seen);
            foreach (var fd in new[] { leak.PipeRead, leak.PipeWrite, leak.File })
                Assert.That(seen.Where(l => l.StartsWith("fd ", StringComparison.Ordinal) && l.EndsWith(" -> " + LinkOf(fd), StringComparison.Ordinal)), Is.Empty,
                    $"the parent's descriptor {fd} ({LinkOf(fd)}), opened without close-on-exec, reached the child:\n{text}");
            Assert.That(seen, Has.None.StartsWith("fd ").And.Contains(Path.GetTempPath() + "forkkit-leak-"), text);
            Assert.That(seen, Has.None.EqualTo($"env {ChildLinks.ExitReportVariable}").And.None.EqualTo($"env {ChildLinks.ParentWatchVariable}"),
                "the hand-over variables are removed from the child's environment");
            Assert.That(seen, Has.Member("env PATH"), "the child has the parent's environment");
            Assert.That(seen, Has.Member("sigchld ignored False"));
            Assert.That(seen.Single(l => l.StartsWith("exe ", StringComparison.Ordinal)), Is.EqualTo($"exe {new FileInfo(Repo.Dotnet).ResolveLinkTarget(true)?.FullName ?? Repo.Dotnet}"),
                "the child is the dotnet host itself (or a fork of the fork server, which is one), never a shell");
        }
        finally
        {
            close(leak.PipeRead);
            close(leak.PipeWrite);
            close(leak.File);
            File.Delete(leak.FilePath);
        }
    }
}
