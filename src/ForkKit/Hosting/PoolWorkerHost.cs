using System.Reflection;
using System.Text.Json;
using ForkKit.Wire;

namespace ForkKit.Hosting;

/// <summary>
/// The loop of a Pool worker, in the child: run the initializer once, then read a task, run
/// its target on each item, write the values (or the error) back, until the parent closes the
/// task pipe. Python's multiprocessing.pool.worker, over two pipes.
/// </summary>
static class PoolWorkerHost
{
    public static int Run(Stream tasks, Stream results)
    {
        var startFrame = Frames.Read(tasks);
        if (startFrame is null) return 0;
        var start = PoolMessages.ReadWorkerStart(startFrame);

        if (start.Initializer is { } init)
        {
            try
            {
                var method = Targets.Resolve(init);
                Invoke(method, Arguments.Decode(method, start.InitArgs));
            }
            catch (Exception e)
            {
                var trace = WorkerHost.WithoutReflectionFrames(e.ToString());
                Console.Error.WriteLine($"Process {start.Name}: the pool's initializer failed:\n{trace}");
                Frames.Write(results, PoolMessages.Error(PoolMessages.InitializerId, RemoteError.From(e, trace)));
                return 1;
            }
        }

        var methods = new Dictionary<(string, int), (MethodInfo Method, MethodInvoker Invoker, Type[] Parameters)>();
        WarmUp(methods);
        while (Frames.Read(tasks) is { } frame)
        {
            long id = -1;
            byte[] answer;
            try
            {
                answer = RunTask(frame, methods, out id);
            }
            catch (Exception e)
            {
                var trace = WorkerHost.WithoutReflectionFrames(e.ToString());
                answer = PoolMessages.Error(id, RemoteError.From(e, trace));
            }
            Frames.Write(results, answer);
        }
        return 0;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    static byte[] RunTask(byte[] frame, Dictionary<(string, int), (MethodInfo, MethodInvoker, Type[])> methods, out long id)
    {
        var r = new Utf8JsonReader(frame);
        r.Read();
        Json.Expect(ref r, JsonTokenType.StartObject);
        id = -1;
        MethodInfo? method = null;
        MethodInvoker? invoker = null;
        Type[] parameters = [];
        var values = new List<object?>();
        while (Json.NextProperty(ref r) is { } property)
        {
            switch (property)
            {
                case "id":
                    id = r.GetInt64();
                    break;
                case "target":
                    var target = TargetReference.Read(ref r);
                    var key = (target.AssemblyName, target.MetadataToken);
                    if (!methods.TryGetValue(key, out var found))
                    {
                        var m = Targets.Resolve(target);
                        found = (m, MethodInvoker.Create(m), m.GetParameters().Select(p => p.ParameterType).ToArray());
                        methods[key] = found;
                    }
                    (method, invoker, parameters) = found;
                    break;
                case "items":
                    if (method is null) throw new InvalidDataException("wire message: 'target' must come before 'items'");
                    var instance = Targets.InstanceFor(method);
                    Json.Expect(ref r, JsonTokenType.StartArray);
                    var args = new object?[parameters.Length];
                    while (r.Read() && r.TokenType != JsonTokenType.EndArray)
                    {
                        Json.Expect(ref r, JsonTokenType.StartArray);
                        int i = 0;
                        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
                            args[i] = Arguments.ReadValue(ref r, frame, parameters[i++]);
                        values.Add(Await(invoker!.Invoke(instance, new Span<object?>(args, 0, parameters.Length))));
                    }
                    break;
                default:
                    r.Skip();
                    break;
            }
        }

        var returnType = ResultType(method!);
        try
        {
            return PoolMessages.Values(id, w =>
            {
                foreach (var v in values) Arguments.WriteValue(w, v, returnType);
            });
        }
        catch (NotSupportedException e)
        {
            throw new NotSupportedException(
                $"the result of {Targets.DescribeForHumans(method!)} ({Arguments.TypeName(returnType)}) cannot cross back to the parent: {e.Message.TrimEnd('.')}. " +
                "Return JSON-friendly data: numbers, strings, lists, dictionaries, records.", e);
        }
    }

    /// <summary>
    /// Runs one made-up task through the task path before the first real one arrives, so the
    /// JIT compiles the reader, the invoker and the writer while the parent is still busy
    /// encoding. The first real task then runs at full speed.
    /// </summary>
    static void WarmUp(Dictionary<(string, int), (MethodInfo, MethodInvoker, Type[])> methods)
    {
        var target = typeof(PoolWorkerHost).GetMethod(nameof(Echo), BindingFlags.Static | BindingFlags.NonPublic)!;
        var reference = new TargetReference(target.Module.Assembly.Location, target.Module.Assembly.FullName!,
            typeof(PoolWorkerHost).FullName!, target.Name, target.MetadataToken);
        var frame = PoolMessages.Task(-1, reference, w =>
        {
            for (int i = 0; i < 3; i++)
            {
                w.WriteStartArray();
                w.WriteNumberValue(i);
                w.WriteEndArray();
            }
        });
        RunTask(frame, methods, out _);
    }

    static int Echo(int n) => n;

    static object? Invoke(MethodInfo method, object?[] args) =>
        Await(method.Invoke(Targets.InstanceFor(method), BindingFlags.DoNotWrapExceptions, null, args, null));

    /// <summary>A Task result is awaited; Task&lt;T&gt; gives its value, a plain Task gives null.</summary>
    static object? Await(object? result)
    {
        if (result is not Task task) return result;
        task.GetAwaiter().GetResult();
        var type = task.GetType();
        return type.IsGenericType && type.GetProperty("Result") is { } p && p.PropertyType.Name != "VoidTaskResult" ? p.GetValue(task) : null;
    }

    /// <summary>The type a target's values cross as: T for Task&lt;T&gt;, object for void and Task.</summary>
    static Type ResultType(MethodInfo method)
    {
        var t = method.ReturnType;
        if (t == typeof(void) || t == typeof(Task)) return typeof(object);
        if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(Task<>)) return t.GetGenericArguments()[0];
        return t;
    }
}
