using System.Reflection;
using System.Runtime.CompilerServices;
using ForkKit.Wire;

namespace ForkKit.Worker;

/// <summary>
/// The loop of a Pool worker, in the child: run the initializer once, then read a task, run
/// its target on each item, write the values (or the error) back, until the parent closes the
/// task pipe. Python's multiprocessing.pool.worker, over two pipes.
/// </summary>
static class PoolWorkerHost
{
    public static int Run(WorkerStart start, Stream tasks, Stream results)
    {
        if (start.Target is { } init)
        {
            try
            {
                var method = Targets.Resolve(init);
                Await(method.Invoke(Targets.InstanceFor(method), BindingFlags.DoNotWrapExceptions, null, Arguments.Decode(method, start.Args), null));
            }
            catch (Exception e)
            {
                var trace = WorkerHost.WithoutReflectionFrames(e.ToString());
                Console.Error.WriteLine($"Process {start.Name}: the pool's initializer failed:\n{trace}");
                Frames.Write(results, PoolMessages.Error(PoolMessages.InitializerId, RemoteError.From(e, trace)));
                return 1;
            }
        }

        var runner = new TaskRunner();
        runner.WarmUp();
        while (Frames.Read(tasks) is { } frame) Frames.Write(results, runner.Answer(frame));
        return 0;
    }

    /// <summary>Runs task messages; keeps each target resolved once.</summary>
    sealed class TaskRunner
    {
        readonly Dictionary<(string, int), ResolvedTarget> _targets = new();
        readonly List<object?> _values = new();
        readonly Func<TargetReference, ResolvedTarget> _resolve;
        readonly PoolMessages.ItemRunner _run;

        public TaskRunner()
        {
            _resolve = Resolve;
            _run = RunItem;
        }

        /// <summary>The answer to one task message: its values, or the error that stopped it.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public byte[] Answer(byte[] frame)
        {
            long id = -1;
            _values.Clear();
            try
            {
                if (PoolMessages.IsBinary(frame))
                {
                    var head = PoolMessages.ReadBinaryTaskHead(frame, _resolve, out id, out int count, out int offset);
                    if (head.Loop is { } loop) return WithinTheLimit(id, loop.Run(id, frame.AsSpan(offset), count));
                }
                var target = PoolMessages.ReadTask(frame, _resolve, _run, out id);
                return WithinTheLimit(id, PoolMessages.IsBinary(frame) ? PoolMessages.BinaryValues(id, BinaryWire.ResultType(target.Method), _values) : Values(id, target.Method));
            }
            catch (Exception e)
            {
                var trace = WorkerHost.WithoutReflectionFrames(e.ToString());
                return PoolMessages.Error(id, RemoteError.From(e, trace));
            }
        }

        /// <summary>
        /// Runs one made-up task through the task path before the first real one arrives, so the
        /// JIT compiles the reader, the invoker and the writer while the parent is still busy
        /// encoding. The first real task then runs at full speed.
        /// </summary>
        public void WarmUp()
        {
            var target = typeof(PoolWorkerHost).GetMethod(nameof(Echo), BindingFlags.Static | BindingFlags.NonPublic)!;
            var reference = new TargetReference(target.Module.Assembly.Location, target.Module.Assembly.FullName!,
                typeof(PoolWorkerHost).FullName!, target.Name, target.MetadataToken);
            Answer(PoolMessages.Task(-1, reference, w =>
            {
                for (int i = 0; i < 3; i++)
                {
                    w.WriteStartArray();
                    w.WriteNumberValue(i);
                    w.WriteEndArray();
                }
            }));
            Answer(PoolMessages.BinaryTask(-1, reference, 3, w =>
            {
                for (int i = 0; i < 3; i++) w.Write(i);
            }));
        }

        /// <summary>Calls the target on one item's arguments; its value (awaited, for a Task) joins the answer.</summary>
        void RunItem(ResolvedTarget target, Span<object?> args) =>
            _values.Add(Await(target.Invoker.Invoke(target.Instance, args)));

        ResolvedTarget Resolve(TargetReference reference)
        {
            var key = (reference.AssemblyName, reference.MetadataToken);
            if (!_targets.TryGetValue(key, out var target))
                _targets[key] = target = new ResolvedTarget(Targets.Resolve(reference));
            return target;
        }

        byte[] Values(long id, MethodInfo method)
        {
            var returnType = BinaryWire.ResultType(method);
            try
            {
                return PoolMessages.Values(id, w =>
                {
                    foreach (var v in _values) Arguments.WriteResult(w, v, returnType);
                });
            }
            catch (NotSupportedException e)
            {
                throw new NotSupportedException(
                    $"the result of {Targets.DescribeForHumans(method)} ({Arguments.TypeName(returnType)}) cannot cross back to the parent: {e.Message.TrimEnd('.')}. " +
                    "Return JSON-friendly data: numbers, strings, lists, dictionaries, records.", e);
            }
        }
    }

    /// <summary>
    /// The answer, when it fits in a frame. One that does not would make Frames.Write throw
    /// here, ending the worker, and the parent would learn only that the worker was lost: the
    /// task fails instead, saying why, and the worker goes on.
    /// </summary>
    /// <exception cref="InvalidOperationException">The answer is larger than <paramref name="limit"/>.</exception>
    internal static byte[] WithinTheLimit(long id, byte[] answer, int limit = Frames.MaxFrameBytes) =>
        answer.Length <= limit ? answer
        : throw new InvalidOperationException(
            $"the answer to task {id} is {answer.Length} bytes, larger than the wire format's limit of {limit} bytes; return less per item, or map with a smaller chunkSize");

    static int Echo(int n) => n;

    /// <summary>A Task result is awaited; Task&lt;T&gt; gives its value, a plain Task gives null.</summary>
    static object? Await(object? result)
    {
        if (result is not Task task) return result;
        task.GetAwaiter().GetResult();
        var type = task.GetType();
        return type.IsGenericType && type.GetProperty("Result") is { } p && p.PropertyType.Name != "VoidTaskResult" ? p.GetValue(task) : null;
    }
}
