namespace ForkKit.Platform;

/// <summary>
/// The one place the platform is chosen. Each backend lives in its own namespace (ForkKit.Unix,
/// ForkKit.Windows) and is touched only through these two properties, so the Unix packages
/// (Tmds.LibC, Mono.Posix) are never loaded on Windows, nor kernel32 on Unix.
/// </summary>
static class Os
{
    static readonly Lazy<IPlatform> s_current = new(() =>
        OperatingSystem.IsWindows() ? new Windows.WindowsPlatform() : new Unix.UnixPlatform());

    static readonly Lazy<IKernelObjects> s_kernel = new(() =>
        OperatingSystem.IsWindows() ? new Windows.WindowsKernelObjects() : new Unix.UnixKernelObjects());

    /// <summary>Processes, pipes and the process table on this platform.</summary>
    public static IPlatform Current => s_current.Value;

    /// <summary>Named semaphores and shared memory on this platform.</summary>
    public static IKernelObjects Kernel => s_kernel.Value;
}
