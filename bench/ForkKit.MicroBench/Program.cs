using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace ForkKit.MicroBench;

/// <summary>
/// `make bench-micro`: BenchmarkDotNet over the pool's wire, one chunk at a time, in both
/// encodings. Arguments are BenchmarkDotNet's own (`--filter`, `--job`, `--artifacts`, ...);
/// with none, every benchmark runs, so the program never waits for a choice on standard input.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0) args = ["--filter", "*"];
        var config = DefaultConfig.Instance
            .AddColumn(new PerItemColumn())
            .WithSummaryStyle(SummaryStyle.Default.WithMaxParameterColumnWidth(40))
            .WithOrderer(new BenchmarkDotNet.Order.DefaultOrderer(BenchmarkDotNet.Order.SummaryOrderPolicy.Declared));
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
