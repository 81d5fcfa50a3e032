using System.Runtime.InteropServices;

namespace ForkKit.Unix;

/// <summary>
/// Where ForkKit's native files (the C shim, forkkit-tracker) are at run time. A build from
/// source copies them beside ForkKit.dll. The ForkKit package carries one of each per runtime
/// under runtimes/RID/native/: a build or framework-dependent publish for no runtime keeps
/// that tree in the app's folder, a publish for one runtime (-r linux-x64) puts its files
/// beside the app. The runtime's own folder comes first, so that a folder holding several
/// (the forkkit tool's) gives each machine its own.
/// </summary>
static class NativeAssets
{
    /// <summary>"linux-x64", "linux-arm64", "osx-arm64": the runtimes/ folder for this process.</summary>
    public static string RuntimeFolder
    {
        get
        {
            var os = OperatingSystem.IsMacOS() ? "osx" : "linux";
            var arch = RuntimeInformation.ProcessArchitecture switch
            {
                Architecture.X64 => "x64",
                Architecture.Arm64 => "arm64",
                var other => other.ToString().ToLowerInvariant(),
            };
            return $"{os}-{arch}";
        }
    }

    /// <summary>The folders searched, in order: ForkKit.dll's, then the app's, each with its runtimes/RID/native/ first.</summary>
    public static IEnumerable<string> Folders()
    {
        var own = Path.GetDirectoryName(typeof(NativeAssets).Assembly.Location);
        foreach (var dir in new[] { own, AppContext.BaseDirectory }.Distinct())
        {
            if (string.IsNullOrEmpty(dir)) continue;
            yield return Path.Combine(dir, "runtimes", RuntimeFolder, "native");
            yield return dir;
        }
    }

    /// <summary>The path of <paramref name="file"/>, or null when no folder has it.</summary>
    public static string? Find(string file) =>
        Folders().Select(dir => Path.Combine(dir, file)).FirstOrDefault(File.Exists);

    /// <summary>
    /// The path of the program <paramref name="file"/>, ready to exec, or null when no folder
    /// has it. A NuGet package keeps no file modes: a program from the package is a plain
    /// 0644 file in the app's folder. Such a copy is copied once more, by content, into this
    /// user's private directory (<see cref="ForkKit.Platform.IPlatform.PrivateDirectory"/>, mode
    /// 0700, which no one else can write into) and made executable there.
    /// </summary>
#pragma warning disable CA1416 // the Unix backend's resource tracker is the only caller: not on Windows
    public static string? FindProgram(string file)
    {
        if (Find(file) is not { } found) return null;
        if ((File.GetUnixFileMode(found) & UnixFileMode.UserExecute) != 0) return found;
        var bytes = File.ReadAllBytes(found);
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))[..16];
        var program = Path.Combine(ForkKit.Platform.Os.Current.PrivateDirectory(), $"{file}-{hash}");
        if (!File.Exists(program))
        {
            var temp = $"{program}.{Environment.ProcessId}";
            File.WriteAllBytes(temp, bytes);
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.Move(temp, program, overwrite: true);
        }
        return program;
    }
#pragma warning restore CA1416

    /// <summary>The folders searched, for an error message.</summary>
    public static string Searched() => string.Join(", ", Folders().Select(dir => $"'{dir}'"));
}
