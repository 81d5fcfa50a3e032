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

#pragma warning disable CA1416 // the Unix backend's resource tracker is the only caller: not on Windows
    /// <summary>
    /// The path of the program <paramref name="file"/>, ready to exec, or null when no folder
    /// has it. A package stores no file modes: NuGet's own extraction marks every file
    /// executable by its owner, but a package unpacked another way (unzip, a build system's
    /// cache) leaves a plain 0644 file. See <see cref="Executable"/>.
    /// </summary>
    public static string? FindProgram(string file) => Find(file) is { } found ? Executable(found) : null;

    /// <summary>
    /// <paramref name="program"/> itself when its owner may execute it; otherwise a copy, named
    /// by its content, in this user's private directory (<see cref="ForkKit.Platform.IPlatform.PrivateDirectory"/>,
    /// mode 0700: no one else can put a file there) with mode 0700.
    /// </summary>
    internal static string Executable(string program)
    {
        if ((File.GetUnixFileMode(program) & UnixFileMode.UserExecute) != 0) return program;
        var bytes = File.ReadAllBytes(program);
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))[..16];
        var copy = Path.Combine(ForkKit.Platform.Os.Current.PrivateDirectory(), $"{Path.GetFileName(program)}-{hash}");
        if (!File.Exists(copy))
        {
            var temp = $"{copy}.{Environment.ProcessId}";
            File.WriteAllBytes(temp, bytes);
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.Move(temp, copy, overwrite: true);
        }
        return copy;
    }
#pragma warning restore CA1416

    /// <summary>The folders searched, for an error message.</summary>
    public static string Searched() => string.Join(", ", Folders().Select(dir => $"'{dir}'"));
}
