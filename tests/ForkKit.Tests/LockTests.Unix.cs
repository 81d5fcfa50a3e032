using System.Diagnostics;
using System.IO.MemoryMappedFiles;
using System.Text.RegularExpressions;
using ForkKit.Diagnostics;
using ForkKit.Tests.Support;
using ForkKit.Unix;

namespace ForkKit.Tests;

/// <summary>
/// Lock on Linux only: the sem_trywait fallback, the names in /dev/shm and who may open them,
/// and the resource tracker that unlinks them whatever way the owner ends.
/// </summary>
public partial class LockTests
{
    [Test]
    public void TheTimedWaitWithoutSemTimedwaitWorks()
    {
        // Where the OS lacks sem_timedwait (macOS), the shim waits with sem_trywait and short
        // sleeps; that code is built and tested here too.
        using var sem = new Semaphore(0);
        var handle = OpenRaw(sem.Name);
        try
        {
            var clock = Stopwatch.StartNew();
            Assert.That(Shim.SemWaitPolling(handle, 250), Is.EqualTo(0), "timed out");
            // At least the timeout; the upper bound only tells a timed wait from an endless one.
            Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(240)).And.LessThan(TimeSpan.FromSeconds(10)));
            sem.Release();
            Assert.That(Shim.SemWaitPolling(handle, 250), Is.EqualTo(1), "took the permit");
            Assert.That(sem.Value, Is.EqualTo(0));
            var poster = Task.Run(() => { Thread.Sleep(100); sem.Release(); });
            Assert.That(Shim.SemWaitPolling(handle, 30_000), Is.EqualTo(1), "woken by a post");
            Assert.That(poster.Wait(Bounded.Limit), Is.True);
        }
        finally
        {
            Shim.SemClose(handle);
        }
    }

    static unsafe IntPtr OpenRaw(string name)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* p = bytes) return Shim.SemOpen(p);
    }

    // ---- the owner word, from outside ----

    [Test]
    public void AnOwnerWordWithALivePidButAnotherStartTimeIsAReusedPidAndIsRecovered()
    {
        using var lk = new Lock();
        using var live = new Process(LockTargets.AcquireAndSleep, lk, Scratch);
        live.Start();
        try
        {
            Assert.That(Wait.Until(() => File.Exists(Scratch)), Is.True, "the child never took the lock");
            long word = lk.Core.OwnerWord;
            uint tag = (uint)((ulong)word >> 32);
            Assert.That((int)(word & 0xFFFFFFFF), Is.EqualTo(live.Pid));
            Assume.That(tag, Is.Not.Zero, "the child's start time could not be read");
            Assert.That(Synchronization.LockCore.HasEnded(word), Is.False, "the live holder, judged from the word it wrote");
            Assert.That(lk.Acquire(block: false), Is.False);

            // What an earlier process with the same pid would have left had it died holding
            // the lock: the pid, another start time. Written through a mapping of our own.
            long earlier = (word & 0xFFFFFFFF) | ((long)(tag == 1 ? 2u : 1u) << 32);
            using (var file = MemoryMappedFile.CreateFromFile($"/dev/shm/{lk.Name}", FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite))
            using (var view = file.CreateViewAccessor())
                view.Write(0, earlier);
            var e = Assert.Throws<AbandonedLockException>(() => lk.Acquire(block: false))!;
            Assert.That(e.OwnerPid, Is.EqualTo(live.Pid));
            Assert.That(lk.Acquire(block: false), Is.True, "free again after the recovery");
            lk.Release();
        }
        finally
        {
            live.Kill();
            live.Join();
        }
    }

    // ---- one mapping per lock in a pool worker ----

    static int LockMappings(int pid) =>
        File.ReadLines($"/proc/{pid}/maps").Count(line => line.Contains("/dev/shm/") && line.Contains(NamedSemaphores.Prefix));

    [Test]
    public void APoolWorkerGivenTheSameLockIn3000TasksKeepsOneMapping()
    {
        using var lk = new Lock();
        using var pool = new Pool(1);
        int worker = pool.Apply(LockTargets.TakeAndRelease, lk);
        int before = LockMappings(worker);
        Assert.That(before, Is.GreaterThanOrEqualTo(1), "the worker maps the lock");
        for (int i = 0; i < 3000; i++)
            Assert.That(pool.Apply(LockTargets.TakeAndRelease, lk), Is.EqualTo(worker), "one worker throughout");
        int after = LockMappings(worker);
        Assert.That(after - before, Is.LessThan(10), $"mappings of the lock in the worker: {before} before, {after} after 3000 tasks");
    }

    // ---- names ----

    [Test]
    public void TheNameIsAKernelObjectInDevShmWithMode0600()
    {
        using var lk = new Lock();
        using var sem = new Semaphore(3);
        foreach (var name in new[] { lk.Name, sem.Name })
        {
            Assert.That(name, Does.Match($@"^forkkit-{Environment.ProcessId}-[0-9a-f]{{12}}$"));
            var info = new FileInfo($"/dev/shm/sem.{name}");
            Assert.That(info.Exists, Is.True);
            Assert.That(info.UnixFileMode, Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        }
        Assert.That(new FileInfo($"/dev/shm/{lk.Name}").UnixFileMode, Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), "the lock's shared owner word");
    }

    [Test]
    public void ASecondUserCannotOpenTheSemaphore()
    {
        Assume.That(Environment.UserName, Is.EqualTo("root"), "switching to another user needs root");
        using var lk = new Lock();
        var r = Repo.Run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "cat", $"/dev/shm/sem.{lk.Name}"], TimeSpan.FromSeconds(30));
        Assert.That(r.ExitCode, Is.Not.EqualTo(0));
        Assert.That(r.Stderr, Does.Contain("Permission denied"));
    }

    // ---- no leaks ----

    static string[] LeftOver(string name) =>
        [.. new[] { $"/dev/shm/sem.{name}", $"/dev/shm/{name}" }.Where(File.Exists)];

    [Test]
    public void DisposeRemovesTheNames()
    {
        var lk = new Lock();
        var sem = new Semaphore();
        var names = new[] { lk.Name, sem.Name };
        Assert.That(names.SelectMany(LeftOver), Is.Not.Empty);
        lk.Dispose();
        sem.Dispose();
        Assert.That(names.SelectMany(LeftOver), Is.Empty);
        lk.Dispose();
    }

    static string[] NamesFrom(Repo.Result r)
    {
        var m = Regex.Match(r.Stdout, @"names (\S+) (\S+)");
        Assert.That(m.Success, Is.True, r.Stdout + r.Stderr);
        return [m.Groups[1].Value, m.Groups[2].Value];
    }

    static void AssertGoneWithin(string[] names, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (names.SelectMany(LeftOver).Any() && clock.Elapsed < limit) Thread.Sleep(20);
        Assert.That(names.SelectMany(LeftOver), Is.Empty, $"left after {limit.TotalSeconds} s");
    }

    static string AppDll => Path.Combine(Repo.OutputDir, "ForkKit.TestApp.dll");

    /// <summary>
    /// How long the names may take to go once the owner has ended: the tracker removes them when
    /// it reads end-of-file, at once, but on a loaded machine it may wait its turn to run.
    /// </summary>
    static readonly TimeSpan NamesRemoved = TimeSpan.FromSeconds(15);

    [Test]
    public void NothingIsLeftAfterTheOwnerExitsNormally()
    {
        var r = Repo.Run(Repo.Dotnet, ["exec", AppDll, "lock-exit"], TimeSpan.FromMinutes(1));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Stderr);
        AssertGoneWithin(NamesFrom(r), NamesRemoved);
    }

    [Test]
    public void NothingIsLeftAfterAnUnhandledException()
    {
        var r = Repo.Run(Repo.Dotnet, ["exec", AppDll, "lock-throw"], TimeSpan.FromMinutes(1));
        Assert.That(r.ExitCode, Is.Not.EqualTo(0));
        Assert.That(r.Stderr, Does.Contain("unhandled on purpose"));
        AssertGoneWithin(NamesFrom(r), NamesRemoved);
    }

    [Test]
    public void NothingIsLeftAfterTheOwnerIsKilledWithSigkill()
    {
        var info = new ProcessStartInfo(Repo.Dotnet) { RedirectStandardOutput = true };
        foreach (var a in new[] { "exec", AppDll, "lock-sleep" }) info.ArgumentList.Add(a);
        using var app = System.Diagnostics.Process.Start(info)!;
        try
        {
            var line = Bounded.Call(app.StandardOutput.ReadLine, "reading the names the app prints") ?? "";
            var names = NamesFrom(new Repo.Result(0, line, "", TimeSpan.Zero));
            Assert.That(names.SelectMany(LeftOver), Is.Not.Empty, "the objects exist while the owner lives");
            Syscalls.Kill(app.Id, Syscalls.SIGKILL);
            Assert.That(app.WaitForExit(Bounded.Limit), Is.True, "the app ended on SIGKILL");
            AssertGoneWithin(names, NamesRemoved);
        }
        finally
        {
            if (!app.HasExited) app.Kill();
            app.WaitForExit(Bounded.Limit);
        }
    }

    [Test]
    public void TheResourceTrackerIsNotAChildOfTheProgram()
    {
        using var lk = new Lock();
        var tracker = ProcessTable.Snapshot().Where(e => e.Name == "forkkit-tracker" && e.CommandLine.Contains($"(parent {Environment.ProcessId})")).ToList();
        Assert.That(tracker, Has.Count.EqualTo(1));
        Assert.That(tracker[0].ParentPid, Is.Not.EqualTo(Environment.ProcessId));
    }
}
