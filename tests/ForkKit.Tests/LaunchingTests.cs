using ForkKit.Diagnostics;
using ForkKit.Launching;
using ForkKit.Platform;
using ForkKit.Tests.Support;
using ForkKit.Wire;

namespace ForkKit.Tests;

/// <summary>
/// The launcher contract every start method keeps: start a worker with its start message and
/// hand back a child (and a pool worker's two pipe ends), or start nothing and say why.
/// </summary>
public class LaunchingTests
{
    static byte[] StartMessage(string name, Delegate? target, params object?[] args) =>
        WorkerStart.Write(name, target is null ? null : Targets.Describe(target, "target"),
            target is null ? "[]"u8.ToArray() : Arguments.Encode(target.Method, args, "args"));

    [TestCase(StartMethod.Spawn, typeof(SpawnLauncher))]
    [TestCase(StartMethod.Fork, typeof(ForkLauncher))]
    [TestCase(StartMethod.ForkServer, typeof(ForkServerLauncher))]
    public void EachStartMethodHasOneLauncher(StartMethod method, Type launcher) =>
        Assert.That(Launchers.For(method), Is.TypeOf(launcher));

    [Test]
    public void AnUnavailableStartMethodStartsNothingAndSaysWhy()
    {
        const StartMethod method = StartMethod.Fork; // the test host did not start with the fork-safe settings
        const string why = "Fork is not available";
        int before = ProcessTable.ChildrenOf(Environment.ProcessId).Count;
        var spec = new WorkerSpec("Process-x", WorkerRole.Process, () => StartMessage("Process-x", ChildTargets.Noop), DiesWithParent: false,
            RunInForkedChild: () => 0);
        Assert.That(() => Launchers.For(method).Launch(spec), Throws.TypeOf<NotSupportedException>().With.Message.Contains(why));
        Assert.That(ProcessTable.ChildrenOf(Environment.ProcessId), Has.Count.EqualTo(before), "no child was started");
    }

    [Test]
    public void ForkRefusesWorkThatCannotRunInAForkedCopy()
    {
        var spec = new WorkerSpec("PoolWorker-x", WorkerRole.Pool, () => StartMessage("PoolWorker-x", null), DiesWithParent: true);
        Assert.That(() => ForkLauncher.Instance.Launch(spec),
            Throws.TypeOf<NotSupportedException>().With.Message.Contains("cannot start a Pool worker"));
    }

    /// <remarks>
    /// Spawn hands the start message over on a pipe it closes once written; the fork server
    /// takes it in the request and the child gets no pipe at all. Either way nothing stays open
    /// to us.
    /// </remarks>
    [TestCase("spawn")]
    [TestCase("forkserver")]
    public void AProcessChildRunsItsStartMessageAndKeepsNoPipeOpenToUs(string method)
    {
        ILauncher launcher = method == "spawn" ? SpawnLauncher.Instance : ForkServerLauncher.Instance;
        Delegate target = method == "spawn" ? ChildTargets.ExitWith : ForkServerTargets.ExitWith;
        var launched = launcher.Launch(new WorkerSpec("Launched-" + method, WorkerRole.Process, () => StartMessage("Launched-" + method, target, 7), DiesWithParent: false));
        var child = launched.Child;
        try
        {
            Assert.That((launched.Tasks, launched.Results), Is.EqualTo(((FileStream?)null, (FileStream?)null)));
            Assert.That(child.Wait(TimeSpan.FromSeconds(30)), Is.True);
            Assert.That(child.Poll(), Is.EqualTo(7));
        }
        finally
        {
            Release(launched);
        }
    }

    [TestCase("spawn")]
    [TestCase("forkserver")]
    public void APoolWorkerGetsBothPipesAndExitsWhenItsTaskPipeCloses(string method)
    {
        ILauncher launcher = method == "spawn" ? SpawnLauncher.Instance : ForkServerLauncher.Instance;
        var launched = launcher.Launch(
            new WorkerSpec("Launched-pool-" + method, WorkerRole.Pool, () => StartMessage("Launched-pool-" + method, null), DiesWithParent: true));
        var child = launched.Child;
        try
        {
            Assert.That(launched.Tasks, Is.Not.Null);
            Assert.That(launched.Results, Is.Not.Null);
            Assert.That(child.Wait(TimeSpan.FromMilliseconds(300)), Is.False, "it waits for tasks");

            launched.Tasks!.Dispose(); // end-of-file on its task pipe: a pool worker's signal to exit
            Assert.That(ReadResult(launched), Is.Null, "it answered nothing and closed its result pipe");
            launched.Results!.Dispose();
            Assert.That(child.Wait(TimeSpan.FromSeconds(30)), Is.True);
            Assert.That(child.Poll(), Is.EqualTo(0));
        }
        finally
        {
            Release(launched);
        }
    }

    /// <summary>Reads one frame from the worker's result pipe, bounded: a worker that neither answers nor closes it is killed.</summary>
    static byte[]? ReadResult(LaunchedWorker launched) =>
        Bounded.Call(() => Frames.Read(launched.Results!), "reading the worker's result pipe", () => launched.Child.Stop(force: true));

    /// <summary>
    /// Closes the worker's pipes and releases its child; a child still running (an assertion
    /// failed before it ended) is killed and reaped first, so that nothing is left behind.
    /// </summary>
    static void Release(LaunchedWorker launched)
    {
        launched.Tasks?.Dispose();
        launched.Results?.Dispose();
        if (!launched.Child.Wait(TimeSpan.Zero))
        {
            launched.Child.Stop(force: true);
            launched.Child.Wait(Bounded.Limit);
        }
        launched.Child.Dispose();
    }
}

/// <summary>The worker's command line, written by the parent and read back by the worker.</summary>
public class WorkerCommandLineTests
{
    [Test]
    public void WhatTheParentWritesTheWorkerReadsBack()
    {
        var args = WorkerCommandLine.Options("PoolWorker-3", WorkerRole.Pool, ["3", "4"]).ToArray();
        Assert.That(args, Is.EqualTo(new[] { "worker", "--role", "pool", "--name", "PoolWorker-3", "--wire", "3,4" }));
        var parsed = WorkerCommandLine.Parse(args);
        Assert.That((parsed.Name, parsed.Role, parsed.Error), Is.EqualTo(("PoolWorker-3", WorkerRole.Pool, (string?)null)));
        Assert.That(parsed.Wire, Is.EqualTo(new[] { "3", "4" }));
    }

    [Test]
    public void TheForkServersRoleIsReadBack() =>
        Assert.That(WorkerCommandLine.Parse(WorkerCommandLine.Options("ForkServer", WorkerRole.ForkServer, ["3"]).ToArray()).Role,
            Is.EqualTo(WorkerRole.ForkServer));

    [TestCase(new string[0], "is ForkKit's worker host")]
    [TestCase(new[] { "worker", "--name", "p" }, "--wire FD is required")]
    [TestCase(new[] { "worker", "--role", "pool", "--wire", "3" }, "needs --wire TASKS,RESULTS")]
    public void AWrongCommandLineIsNamed(string[] args, string error) =>
        Assert.That(WorkerCommandLine.Parse(args).Error, Does.Contain(error));
}

/// <summary>The one place that says how a child ended.</summary>
public class ExitDescriptionsTests
{
    [TestCase(0, "exited with code 0")]
    [TestCase(3, "exited with code 3")]
    [TestCase(-9, "was killed by signal 9 (SIGKILL)")]
    [TestCase(-15, "was killed by signal 15 (SIGTERM)")]
    [TestCase(-64, "was killed by signal 64 (signal 64)")]
    [TestCase(unchecked((int)0xC0000409), "ended with status 0xC0000409")]
    [TestCase(null, "ended with an unknown status")]
    public void AnExitCodeIsDescribedAsPythonCountsIt(int? code, string words) =>
        Assert.That(ExitDescriptions.Describe(code), Is.EqualTo(words));
}

/// <summary>Where a worker's runtimeconfig is written when the app has none of ForkKit's: a directory only this user can write.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // the Linux suite
public class PrivateDirectoryTests
{
    string _base = "";

    [SetUp]
    public void MakeABase() => _base = Directory.CreateTempSubdirectory("forkkit-test-").FullName;

    [TearDown]
    public void RemoveTheBase() => Directory.Delete(_base, recursive: true);

    [Test]
    public void ItIsMadeUnderTheUsersDataDirectoryWithMode0700()
    {
        var dir = ForkKit.Unix.UnixPlatform.PrivateDirectoryUnder(_base);
        Assert.That(dir, Is.EqualTo(Path.Combine(_base, "forkkit")));
        Assert.That(File.GetUnixFileMode(dir), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
    }

    [Test]
    public void ADirectoryOthersCanWriteIsNotUsed()
    {
        var planted = Directory.CreateDirectory(Path.Combine(_base, "forkkit"));
        File.SetUnixFileMode(planted.FullName, (UnixFileMode)0b111_111_111); // as another user might leave it: 0777
        var dir = ForkKit.Unix.UnixPlatform.PrivateDirectoryUnder(_base);
        try
        {
            Assert.That(dir, Is.Not.EqualTo(planted.FullName), "a directory group or others can write is never used");
            Assert.That(File.GetUnixFileMode(dir) & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite), Is.EqualTo(UnixFileMode.None));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>ForkKit's native files are found where a source build and a package put them, and a program is run only when executable.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // the Linux suite
public class NativeAssetsTests
{
    [Test]
    public void TheRuntimesFolderOfThisMachineIsSearchedBeforeTheFolderItself()
    {
        var folders = ForkKit.Unix.NativeAssets.Folders().ToList();
        var own = Path.GetDirectoryName(typeof(ForkKit.Process).Assembly.Location)!;
        var arch = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        Assert.That(folders.Take(2), Is.EqualTo(new[] { Path.Combine(own, "runtimes", "linux-" + arch, "native"), own }));
    }

    [Test]
    public void AProgramWithoutItsExecBitIsRunFromAPrivateExecutableCopy()
    {
        var dir = Directory.CreateTempSubdirectory("forkkit-test-");
        string? copy = null;
        try
        {
            var plain = Path.Combine(dir.FullName, "forkkit-tracker");
            File.WriteAllText(plain, $"#!/bin/sh\n# {Guid.NewGuid()}\n");
            File.SetUnixFileMode(plain, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            copy = ForkKit.Unix.NativeAssets.Executable(plain);
            Assert.That(Path.GetDirectoryName(copy), Is.EqualTo(ForkKit.Platform.Os.Current.PrivateDirectory()));
            Assert.That(File.GetUnixFileMode(copy), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
            Assert.That(File.ReadAllText(copy), Is.EqualTo(File.ReadAllText(plain)));
            Assert.That(ForkKit.Unix.NativeAssets.Executable(plain), Is.EqualTo(copy), "the same content gives the same copy");

            File.SetUnixFileMode(plain, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            Assert.That(ForkKit.Unix.NativeAssets.Executable(plain), Is.EqualTo(plain), "an executable program is run where it is");
        }
        finally
        {
            if (copy is not null && copy.StartsWith(ForkKit.Platform.Os.Current.PrivateDirectory(), StringComparison.Ordinal)) File.Delete(copy);
            dir.Delete(recursive: true);
        }
    }
}
