using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace ForkKit.MicroBench;

/// <summary>The mean time of one chunk divided by its <see cref="Chunk.Items"/> items, in nanoseconds.</summary>
sealed class PerItemColumn : IColumn
{
    public string Id => nameof(PerItemColumn);
    public string ColumnName => "Per item";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Time;
    public string Legend => $"Mean divided by the {Chunk.Items:N0} items of a chunk (1 ns = 0.000000001 sec)";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) =>
        summary[benchmarkCase]?.ResultStatistics is { } statistics ? $"{statistics.Mean / Chunk.Items:N1} ns" : "-";
}
