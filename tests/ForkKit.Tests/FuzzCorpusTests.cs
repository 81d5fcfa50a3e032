using ForkKit.Fuzzing;

namespace ForkKit.Tests;

/// <summary>
/// Replays every input kept in FuzzCorpus/ (the fuzzer's finds, found-*.bin and hang-*.bin,
/// and the hand-made edge cases, edge-*.bin) through the checks `make fuzz` runs
/// (tests/ForkKit.Fuzz/WireChecks.cs): every decoder decodes it or refuses it with its
/// documented exception, allocates within bounds, and finishes well inside the deadline.
/// </summary>
public class FuzzCorpusTests
{
    static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "FuzzCorpus");

    static IEnumerable<string> CorpusFiles() =>
        Directory.Exists(Folder) ? Directory.GetFiles(Folder).Select(Path.GetFileName).Order(StringComparer.Ordinal)! : [];

    [OneTimeSetUp]
    public void FillTheDecodersCachesFirst() => WireChecks.WarmUp();

    [Test]
    public void TheCorpusHoldsTheFindsAndTheEdgeCases()
    {
        var names = CorpusFiles().ToList();
        Assert.That(names.Count(n => n.StartsWith("edge-", StringComparison.Ordinal)), Is.GreaterThanOrEqualTo(60), "edge cases in " + Folder);
        Assert.That(names.Count(n => n.StartsWith("found-", StringComparison.Ordinal)), Is.GreaterThanOrEqualTo(20), "fuzzer finds in " + Folder);
    }

    [TestCaseSource(nameof(CorpusFiles))]
    public void EveryDecoderDecodesOrRefusesAsDocumented(string name)
    {
        var input = File.ReadAllBytes(Path.Combine(Folder, name));
        // On a thread of its own, so that a decoder that never returns fails the test instead of hanging it.
        var check = Task.Factory.StartNew(() => WireChecks.Check(input), TaskCreationOptions.LongRunning);
        Assert.That(check.Wait(TimeSpan.FromSeconds(60)), Is.True, $"the decoders did not finish {name} within 60 s");
        Assert.That(check.Result, Is.Empty, () => string.Join("\n", check.Result.Select(f => $"{f}\n{f.Exception}")));
    }
}
