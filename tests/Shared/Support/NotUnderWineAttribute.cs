using System.Runtime.InteropServices;
using NUnit.Framework.Interfaces;
using NUnit.Framework.Internal;

namespace ForkKit.Tests.Support;

/// <summary>
/// Skips a test when the Windows suite runs under Wine, reported as ignored with the reason.
/// Decided while NUnit builds the tests, so no exception is thrown to skip it (see the
/// shared fixtures' note on exceptions under Wine).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
sealed class NotUnderWineAttribute(string reason) : NUnitAttribute, IApplyToTest
{
    public void ApplyToTest(Test test)
    {
        if (test.RunState == RunState.NotRunnable || !Wine.IsHost) return;
        test.RunState = RunState.Ignored;
        test.Properties.Set(PropertyNames.SkipReason, $"not under Wine: {reason}");
    }
}

static class Wine
{
    /// <summary>True under Wine, whose ntdll exports wine_get_version (Windows' does not).</summary>
    public static bool IsHost { get; } =
        OperatingSystem.IsWindows()
        && NativeLibrary.TryLoad("ntdll", out var ntdll)
        && NativeLibrary.TryGetExport(ntdll, "wine_get_version", out _);
}
