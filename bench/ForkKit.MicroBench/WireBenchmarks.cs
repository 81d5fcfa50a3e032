using System.Reflection;
using BenchmarkDotNet.Attributes;
using ForkKit.Wire;

namespace ForkKit.MicroBench;

/// <summary>What a chunk holds: as many items as Pool.Map gives each task for 100,000 items on 2 workers.</summary>
static class Chunk
{
    /// <summary>ceil(100,000 / (4 × 2)), Pool.DefaultChunkSize.</summary>
    public const int Items = 12_500;

    // The targets a task names; identities, so that the answer carries the items back.
    public static int Int(int x) => x;
    public static double Double(double x) => x;
    public static string String(string x) => x;

    public static MethodInfo TargetFor(Type type) =>
        typeof(Chunk).GetMethod(type == typeof(int) ? nameof(Int) : type == typeof(double) ? nameof(Double) : nameof(String))!;

    /// <summary>
    /// The items, from a fixed seed: ints in [0, 1,000,000) (six digits, as squares of small
    /// numbers are), doubles in [0, 1000) (17 significant digits in JSON), ASCII strings of 5 to
    /// 15 letters.
    /// </summary>
    public static T[] Make<T>()
    {
        var random = new Random(12345);
        var items = new T[Items];
        for (int i = 0; i < Items; i++)
        {
            object item = typeof(T) == typeof(int) ? random.Next(0, 1_000_000)
                : typeof(T) == typeof(double) ? random.NextDouble() * 1000
                : new string(Enumerable.Range(0, random.Next(5, 16)).Select(_ => (char)('a' + random.Next(26))).ToArray());
            items[i] = (T)item;
        }
        return items;
    }
}

/// <summary>
/// One chunk of <see cref="Chunk.Items"/> items of <typeparamref name="T"/> on the wire, each
/// stage of a task's round trip in both encodings, as Pool and its worker run them:
/// the parent writes the task frame (Pool's BinaryChunks/JsonChunks), the worker reads the
/// chunk's items, the worker writes the answer frame, the parent reads the values.
/// </summary>
[MemoryDiagnoser]
[GenericTypeArguments(typeof(int))]
[GenericTypeArguments(typeof(string))]
[GenericTypeArguments(typeof(double))]
public class WireBenchmarks<T>
{
    const long Id = 7;

    T[] _items = [];
    List<object?> _boxed = [];
    TargetReference _reference = null!;
    ResolvedTarget _target = null!;
    Parameter _parameter;
    byte[] _binaryTask = [], _jsonTask = [], _binaryAnswer = [], _jsonAnswer = [];
    Func<TargetReference, ResolvedTarget> _resolve = null!;
    PoolMessages.ItemRunner _count = null!;
    int _seen;

    [GlobalSetup]
    public void Setup()
    {
        var method = Chunk.TargetFor(typeof(T));
        _items = Chunk.Make<T>();
        _boxed = _items.Select(v => (object?)v).ToList();
        _reference = new TargetReference(method.Module.Assembly.Location, method.Module.Assembly.FullName!, typeof(Chunk).FullName!, method.Name, method.MetadataToken);
        _target = new ResolvedTarget(method);
        _parameter = Parameter.Of(method, "items")[0];
        _resolve = _ => _target;
        _count = (_, args) =>
        {
            if (args[0] is not null) _seen++;
        };
        _binaryTask = TaskBinary();
        _jsonTask = TaskJson();
        _binaryAnswer = AnswerBinary();
        _jsonAnswer = AnswerJson();
        if (!PoolMessages.ReadValues<T>(_binaryAnswer).SequenceEqual(_items) || !PoolMessages.ReadValues<T>(_jsonAnswer).SequenceEqual(_items))
            throw new InvalidOperationException("the answers do not read back as the items");
    }

    // ---- parent: the task frame ----

    /// <summary>Pool's binary chunk: BinaryTask, the items written by WriteRange.</summary>
    [Benchmark]
    public byte[] TaskBinary() => PoolMessages.BinaryTask(Id, _reference, _items.Length, w => w.WriteRange(_items, 0, _items.Length));

    /// <summary>Pool's JSON chunk: Task, each item an argument list written by Arguments.Write.</summary>
    [Benchmark]
    public byte[] TaskJson() => PoolMessages.Task(Id, _reference, w =>
    {
        foreach (var item in _items)
        {
            w.WriteStartArray();
            Arguments.Write(w, _parameter, item);
            w.WriteEndArray();
        }
    });

    // ---- worker: reading the chunk's items ----

    /// <summary>The head, then each item read as T, as the worker's typed loop reads them.</summary>
    [Benchmark]
    public int ReadItemsBinary()
    {
        PoolMessages.ReadBinaryTaskHead(_binaryTask, _resolve, out _, out int count, out int offset);
        var r = new WireReader(_binaryTask.AsSpan(offset));
        int seen = 0;
        for (int i = 0; i < count; i++)
            if (r.Read<T>() is not null) seen++;
        return seen;
    }

    /// <summary>ReadTask on the JSON frame: each argument read as the parameter's type into the item's (boxed) argument list.</summary>
    [Benchmark]
    public int ReadItemsJson()
    {
        _seen = 0;
        PoolMessages.ReadTask(_jsonTask, _resolve, _count, out _);
        return _seen;
    }

    // ---- worker: the answer frame ----

    /// <summary>BinaryValues over the values as the worker collects them (boxed), as its general path writes them.</summary>
    [Benchmark]
    public byte[] AnswerBinary() => PoolMessages.BinaryValues(Id, typeof(T), _boxed);

    /// <summary>Values over the same values, each written by Arguments.WriteResult, as the worker's JSON path writes them.</summary>
    [Benchmark]
    public byte[] AnswerJson() => PoolMessages.Values(Id, w =>
    {
        foreach (var v in _boxed) Arguments.WriteResult(w, v, typeof(T));
    });

    /// <summary>
    /// What a worker runs for a binary task of a one-parameter target: the head, then the typed
    /// loop reads each item, calls the target through a delegate and writes the answer.
    /// </summary>
    [Benchmark]
    public byte[] WorkerTypedLoopBinary()
    {
        var target = PoolMessages.ReadBinaryTaskHead(_binaryTask, _resolve, out long id, out int count, out int offset);
        return target.Loop!.Run(id, _binaryTask.AsSpan(offset), count);
    }

    // ---- parent: reading the values ----

    [Benchmark]
    public List<T> ReadValuesBinary() => PoolMessages.ReadValues<T>(_binaryAnswer);

    [Benchmark]
    public List<T> ReadValuesJson() => PoolMessages.ReadValues<T>(_jsonAnswer);
}
