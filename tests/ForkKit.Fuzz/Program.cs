using System.Diagnostics;
using System.Globalization;
using System.IO.MemoryMappedFiles;
using System.Security.Cryptography;
using ForkKit.Fuzzing;

// The wire decoders' fuzzer. Run by `make fuzz`; options in tests/ForkKit.Fuzz/README.md.
//
// This process supervises: it runs the inputs in a child copy of itself (--child), which
// writes the input it is on into a shared file before decoding it. A child that stops moving
// (a hang) is killed; one that dies (a stack overflow cannot be caught) is seen exiting. Either
// way the supervisor reads the input that did it from the shared file, keeps it in the corpus,
// and starts a new child at the next input.

var options = Options.Parse(args);
if (options.Error is { } error)
{
    Console.Error.WriteLine(error);
    return 2;
}
if (options.EdgeCases is { } folder)
{
    foreach (var (name, bytes) in EdgeCases.All()) File.WriteAllBytes(Path.Combine(folder, $"edge-{name}.bin"), bytes);
    Console.WriteLine($"wrote {EdgeCases.All().Count()} edge cases to {folder}");
    return 0;
}
return options.Child ? Child.Run(options) : Supervisor.Run(options);

sealed record Options(long Inputs, ulong Seed, int Jobs, long StartAt, int TimeLimitMs, string? Corpus, bool SaveNew, string? State, bool Child, string? EdgeCases, string? Error)
{
    public static Options Parse(string[] args)
    {
        long inputs = 1_000_000, startAt = 0;
        ulong seed = 1;
        int timeLimit = 5000, jobs = Math.Min(Environment.ProcessorCount, 4);
        string? corpus = null, state = null, edgeCases = null;
        bool saveNew = false, child = false;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                switch (args[i])
                {
                    case "--inputs": inputs = long.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--seed": seed = ulong.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--start-at": startAt = long.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--jobs": jobs = Math.Max(1, int.Parse(Value(), CultureInfo.InvariantCulture)); break;
                    case "--time-limit-ms": timeLimit = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--corpus": corpus = Value(); break;
                    case "--save-new": saveNew = true; break;
                    case "--state": state = Value(); break;
                    case "--child": child = true; break;
                    case "--write-edge-cases": edgeCases = Value(); break;
                    default: throw new ArgumentException($"unknown option {args[i]}");
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
            {
                return new Options(0, 0, 0, 0, 0, null, false, null, false, null,
                    $"forkkit fuzz: {e.Message}. Options: --inputs N --seed S --jobs J --time-limit-ms T --corpus DIR [--save-new]");
            }
        }
        return new Options(inputs, seed, jobs, startAt, timeLimit, corpus, saveNew, state, child, edgeCases, null);
    }

    /// <summary>The options a child is started with: inputs <paramref name="startAt"/>, + jobs, + 2 jobs... of the run.</summary>
    public IEnumerable<string> ForChild(long startAt, string state)
    {
        string[] common = ["--child", "--inputs", $"{Inputs}", "--seed", $"{Seed}", "--jobs", $"{Jobs}", "--start-at", $"{startAt}", "--time-limit-ms", $"{TimeLimitMs}", "--state", state];
        return Corpus is null ? common : [.. common, "--corpus", Corpus, .. SaveNew ? new[] { "--save-new" } : []];
    }
}

/// <summary>
/// The input a child is on (its number, its length and its bytes) and how many inputs it found
/// crashing so far, in a file both processes map: what a child that hangs or dies can no longer say.
/// </summary>
sealed class CurrentInput : IDisposable
{
    const int HeaderBytes = 20;
    readonly MemoryMappedFile _file;
    readonly MemoryMappedViewAccessor _view;

    public CurrentInput(string path)
    {
        using (var f = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite))
            if (f.Length < HeaderBytes + Generator.MaxInputBytes) f.SetLength(HeaderBytes + Generator.MaxInputBytes);
        _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite);
        _view = _file.CreateViewAccessor();
    }

    /// <summary>The bytes first, the number last: a number seen belongs to the bytes beside it once the child is stopped.</summary>
    public void Set(long index, byte[] input)
    {
        _view.Write(8, input.Length);
        _view.WriteArray(HeaderBytes, input, 0, input.Length);
        _view.Write(0, index);
    }

    public long Index => _view.ReadInt64(0);

    public long Crashes
    {
        get => _view.ReadInt64(12);
        set => _view.Write(12, value);
    }

    public byte[] Bytes()
    {
        var bytes = new byte[Math.Clamp(_view.ReadInt32(8), 0, Generator.MaxInputBytes)];
        _view.ReadArray(HeaderBytes, bytes, 0, bytes.Length);
        return bytes;
    }

    public void Dispose()
    {
        _view.Dispose();
        _file.Dispose();
    }
}

static class Corpus
{
    public static List<byte[]> Load(string? folder) =>
        folder is not null && Directory.Exists(folder)
            ? Directory.GetFiles(folder).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList()
            : [];

    /// <summary>Keeps <paramref name="input"/> as <paramref name="folder"/>/KIND-NAME-HASH.bin; the path, or null without a folder.</summary>
    public static string? Save(string? folder, string kind, string name, byte[] input)
    {
        if (folder is null) return null;
        Directory.CreateDirectory(folder);
        var slug = new string(name.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-').ToArray()).Trim('-');
        while (slug.Contains("--")) slug = slug.Replace("--", "-");
        var path = Path.Combine(folder, $"{kind}-{slug[..Math.Min(slug.Length, 48)]}-{Convert.ToHexStringLower(SHA256.HashData(input))[..10]}.bin");
        File.WriteAllBytes(path, input);
        return path;
    }

    /// <summary>Peak resident memory (VmHWM) of a process, in bytes; 0 where /proc does not say.</summary>
    public static long PeakMemory(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}

static class Child
{
    public static int Run(Options options)
    {
        WireChecks.WarmUp();
        var corpus = Corpus.Load(options.Corpus);
        var generator = new Generator([.. WireSamples.Messages(), .. corpus]);
        using var current = new CurrentInput(options.State!);
        var seen = new HashSet<string>();
        int newSaved = 0;
        byte[]? lastSaved = null;
        long crashes = 0, slow = 0, slowestTicks = 0;
        var clock = Stopwatch.StartNew();

        // The corpus first, whole, then the generated inputs; this child takes every Jobs-th.
        long end = options.Inputs + corpus.Count, run = 0;
        for (long i = options.StartAt; i < end; i += options.Jobs, run++)
        {
            var input = i < corpus.Count ? corpus[(int)i] : generator.Make(options.Seed, i - corpus.Count);
            current.Set(i, input);
            long started = Stopwatch.GetTimestamp();
            bool generated = i >= corpus.Count;
            var findings = WireChecks.Check(input, options.SaveNew ? (decoder, e) => NoteRefusal(decoder, e, input, generated) : null);
            long ticks = Stopwatch.GetTimestamp() - started;
            slowestTicks = Math.Max(slowestTicks, ticks);
            if (Stopwatch.GetElapsedTime(started, started + ticks).TotalMilliseconds > options.TimeLimitMs)
            {
                slow++;
                Report("slow", $"input {i} took {Stopwatch.GetElapsedTime(started, started + ticks).TotalMilliseconds:N0} ms", input);
            }
            if (findings.Count > 0)
            {
                current.Crashes = ++crashes;
                foreach (var f in findings) Report("crash", $"input {i}: {f}", input, f);
            }
            if ((run + 1) % 100_000 == 0)
                Console.WriteLine($"  job {options.StartAt % options.Jobs}: {run + 1:N0} inputs, {crashes} crashing, {clock.Elapsed.TotalSeconds:N0} s");
        }
        Console.WriteLine(FormattableString.Invariant(
            $"result {run} {crashes} {slow} {Stopwatch.GetElapsedTime(0, slowestTicks).TotalMilliseconds:F1} {Corpus.PeakMemory(Environment.ProcessId)}"));
        return crashes + slow > 0 ? 1 : 0;

        void Report(string kind, string what, byte[] input, Finding? finding = null)
        {
            // One report and one corpus file per decoder and kind of failure.
            var signature = finding is null ? kind : $"{finding.Decoder}|{finding.Exception?.GetType().Name}|{Shape(finding.Problem)}";
            if (!seen.Add(signature)) return;
            var saved = Corpus.Save(options.Corpus, "found", finding?.Decoder ?? kind, input);
            Console.WriteLine($"{kind.ToUpperInvariant()}: {what}{(saved is null ? "" : $"\n  kept as {saved}")}");
            if (finding?.Exception is { } e) Console.WriteLine(string.Join('\n', e.ToString().Split('\n').Take(8).Select(l => "    " + l.TrimEnd())));
        }

        // A message with its numbers and quoted bits left out: the same failure at another offset,
        // length or character is no new one.
        static string Shape(string message) =>
            new(System.Text.RegularExpressions.Regex.Replace(message, "'[^']*'|\"[^\"]*\"|[0-9,]", "").Take(40).ToArray());

        // A generated input refused with a message never seen before, digits aside, is worth
        // keeping, once. The corpus's own inputs only teach which messages are old.
        void NoteRefusal(string decoder, Exception e, byte[] input, bool generated)
        {
            if (!seen.Add($"{decoder}|{e.GetType().Name}|{Shape(e.Message)}") || !generated || newSaved >= 32 || ReferenceEquals(input, lastSaved)) return;
            if (Corpus.Save(options.Corpus, "new", decoder, input) is null) return;
            lastSaved = input;
            newSaved++;
        }
    }
}

static class Supervisor
{
    public static int Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        Console.WriteLine($"forkkit fuzz: {options.Inputs:N0} generated inputs (seed {options.Seed}) through every wire decoder, "
            + $"{options.Jobs} job(s), {options.TimeLimitMs} ms per input at most" + (options.Corpus is null ? "" : $", corpus {options.Corpus} first"));
        var jobs = Enumerable.Range(0, options.Jobs).Select(job => Task.Factory.StartNew(() => Job(options, job), TaskCreationOptions.LongRunning)).ToArray();
        Task.WaitAll(jobs);
        var totals = jobs.Select(j => j.Result).ToList();
        long crashes = totals.Sum(t => t.Crashes), hangs = totals.Sum(t => t.Hangs);
        Console.WriteLine(FormattableString.Invariant(
            $"fuzz summary: inputs run {totals.Sum(t => t.Inputs):N0}, crashes {crashes}, hangs {hangs}, slowest input {totals.Max(t => t.SlowestMs):F1} ms, peak memory {totals.Max(t => t.Peak) / (1024 * 1024)} MiB (of one job), {clock.Elapsed.TotalSeconds:F0} s, seed {options.Seed}"));
        return crashes + hangs > 0 ? 1 : 0;
    }

    sealed record Totals(long Inputs, long Crashes, long Hangs, double SlowestMs, long Peak);

    /// <summary>Inputs job, job + jobs, ... in children, one after another as hangs and deaths end them.</summary>
    static Totals Job(Options options, int job)
    {
        var state = Path.Combine(Path.GetTempPath(), $"forkkit-fuzz-{Environment.ProcessId}-{job}.input");
        long inputs = 0, crashes = 0, hangs = 0, peak = 0, startAt = job;
        double slowest = 0;
        try
        {
            using var current = new CurrentInput(state);
            for (int children = 1; ; children++)
            {
                if (children > 20)
                {
                    Console.WriteLine($"job {job}: giving up, 20 children died or hung");
                    break;
                }
                current.Set(-1, []);
                current.Crashes = 0;
                var (outcome, result) = RunChild(options, startAt, state, current);
                peak = Math.Max(peak, outcome.Peak);
                if (result is { } r)
                {
                    inputs += r.Inputs;
                    crashes += r.Crashes;
                    hangs += r.Slow;
                    slowest = Math.Max(slowest, r.SlowestMs);
                    break;
                }
                long at = current.Index;
                var input = current.Bytes();
                var kind = outcome.Hung ? "hang" : "death";
                var saved = Corpus.Save(options.Corpus, kind, $"input {at}", input);
                Console.WriteLine($"{kind.ToUpperInvariant()}: input {at} {outcome.What}{(saved is null ? "" : $"\n  kept as {saved}")}");
                crashes += current.Crashes;
                if (outcome.Hung) hangs++;
                else crashes++;
                if (at < 0) break; // it ended before its first input: nothing to go on with
                inputs += (at - startAt) / options.Jobs + 1;
                startAt = at + options.Jobs;
            }
        }
        finally
        {
            File.Delete(state);
        }
        return new Totals(inputs, crashes, hangs, slowest, peak);
    }

    sealed record Outcome(bool Hung, string What, long Peak);

    sealed record Result(long Inputs, long Crashes, long Slow, double SlowestMs, long Peak);

    static (Outcome, Result?) RunChild(Options options, long startAt, string state, CurrentInput current)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(typeof(Supervisor).Assembly.Location);
        foreach (var a in options.ForChild(startAt, state)) start.ArgumentList.Add(a);
        using var child = Process.Start(start)!;
        Result? result = null;
        child.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            if (e.Data.StartsWith("result ", StringComparison.Ordinal))
            {
                var f = e.Data.Split(' ');
                result = new Result(long.Parse(f[1], CultureInfo.InvariantCulture), long.Parse(f[2], CultureInfo.InvariantCulture),
                    long.Parse(f[3], CultureInfo.InvariantCulture), double.Parse(f[4], CultureInfo.InvariantCulture), long.Parse(f[5], CultureInfo.InvariantCulture));
            }
            else Console.WriteLine(e.Data);
        };
        child.BeginOutputReadLine();

        long lastIndex = -2, peak = 0;
        var since = Stopwatch.StartNew();
        while (!child.WaitForExit(200))
        {
            peak = Math.Max(peak, Corpus.PeakMemory(child.Id));
            long index = current.Index;
            if (index != lastIndex)
            {
                lastIndex = index;
                since.Restart();
            }
            // The warm-up (index -1) runs every sample once; it gets the limit several times over.
            else if (since.ElapsedMilliseconds > options.TimeLimitMs * (index < 0 ? 10 : 1))
            {
                child.Kill();
                child.WaitForExit();
                return (new Outcome(true, $"ran for more than {options.TimeLimitMs} ms: the child was killed", peak), null);
            }
        }
        child.WaitForExit(); // the rest of its output
        if (result is not null) return (new Outcome(false, "", Math.Max(peak, result.Peak)), result);
        return (new Outcome(false, $"killed the child (exit code {child.ExitCode})", peak), null);
    }
}
