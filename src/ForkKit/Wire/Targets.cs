using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;

namespace ForkKit.Wire;

/// <summary>
/// Turns a delegate into a <see cref="TargetReference"/> a child can load (in the parent), and
/// back into a callable method (in the child). Only code crosses, never an object: the target
/// must be a static method or a lambda that captures nothing.
/// </summary>
static class Targets
{
    /// <summary>Checks that <paramref name="target"/> can run in another process and describes it.</summary>
    /// <exception cref="ArgumentException">The delegate cannot cross; the message says why and what to do.</exception>
    public static TargetReference Describe(Delegate target, string paramName)
    {
        ArgumentNullException.ThrowIfNull(target, paramName);
        if (target.GetInvocationList().Length > 1)
            throw new ArgumentException("the target is a multicast delegate (several methods combined with +=); pass one method.", paramName);

        var method = target.Method;
        var owner = method.DeclaringType
            ?? throw new ArgumentException($"the target '{method.Name}' is a dynamic method with no declaring type; a child process can only load methods compiled into an assembly.", paramName);
        string what = "";
        if (!method.IsStatic || method.IsGenericMethod || owner.ContainsGenericParameters || owner.IsGenericType)
            what = DescribeForHumans(method); // only messages need it

        if (!method.IsStatic)
        {
            var instance = target.Target;
            // A lambda that uses only 'this' is compiled into an instance method of the
            // enclosing class itself: its name starts with '<'.
            if (instance is not null && !IsCompilerGenerated(instance.GetType()) && method.Name.StartsWith('<'))
                throw new ArgumentException(
                    $"the target {what} is a lambda that captures 'this' (it uses members of {owner.Name}): " +
                    "that object lives in the parent's memory and does not travel to a child process. " +
                    "Use static members, or pass the values it needs as arguments.", paramName);
            if (instance is null || !IsCompilerGenerated(instance.GetType()))
                throw new ArgumentException(
                    $"the target {what} is an instance method of {owner.Name}: a child process starts with a fresh runtime and cannot receive that object. " +
                    "Make the method static and pass what it needs as arguments.", paramName);

            var captured = CapturedVariables(instance.GetType()).ToList();
            if (captured.Count > 0)
                throw new ArgumentException(
                    $"the target {what} is a lambda that captures {string.Join(", ", captured.Select(v => $"'{v}'"))}: " +
                    "captured variables live in the parent's memory and do not travel to a child process. " +
                    "Pass them as arguments instead, e.g. new Process((int n) => Work(n), n).", paramName);
        }

        if (method.IsGenericMethod || owner.ContainsGenericParameters || owner.IsGenericType)
            throw new ArgumentException($"the target {what} is generic (or defined inside a generic type); use a non-generic static method.", paramName);

        var assembly = owner.Assembly;
        if (assembly.IsDynamic || string.IsNullOrEmpty(assembly.Location))
            throw new ArgumentException(
                $"the target {DescribeForHumans(method)} lives in assembly '{assembly.GetName().Name}', which has no file on disk (dynamic, in-memory or single-file published). " +
                "A spawned child loads the target's assembly from its file; put the target in an assembly that is a file.", paramName);

        return new TargetReference(assembly.Location, assembly.FullName!, owner.FullName!, method.Name, method.MetadataToken);
    }

    /// <summary>
    /// Loads the target's assembly and finds the method, in the child; once per target and
    /// process (a fork server resolves each request's target, and its children inherit what it found).
    /// </summary>
    public static MethodInfo Resolve(TargetReference target) => s_resolved.TryGetValue(target, out var method) ? method : s_resolved[target] = Find(target);

    static readonly System.Collections.Concurrent.ConcurrentDictionary<TargetReference, MethodInfo> s_resolved = new();

    static MethodInfo Find(TargetReference target)
    {
        var assembly = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.FullName == target.AssemblyName)
            ?? LoadWithDependencies(target.AssemblyPath);
        var method = assembly.ManifestModule.ResolveMethod(target.MetadataToken) as MethodInfo;
        if (method is null || method.Name != target.MethodName || method.DeclaringType?.FullName != target.TypeName)
            throw new MissingMethodException(
                $"{target.Display} was not found in {target.AssemblyPath}: the assembly on disk is not the one the parent loaded (was it rebuilt while running?)");
        return method;
    }

    /// <summary>
    /// The object a non-static target is called on: the compiler's singleton for non-capturing
    /// lambdas. It has no fields, so a fresh instance behaves exactly as the parent's.
    /// </summary>
    public static object? InstanceFor(MethodInfo method) =>
        method.IsStatic ? null : RuntimeHelpers.GetUninitializedObject(method.DeclaringType!);

    static Assembly LoadWithDependencies(string path)
    {
        // The target's assembly may depend on packages that ForkKit does not (a test assembly
        // on NUnit, say). Resolve those from the target's own deps.json and folder; the
        // resolver is made on the first miss only, since reading deps.json is not free.
        var folder = Path.GetDirectoryName(path)!;
        AssemblyDependencyResolver? resolver = null;
        AssemblyLoadContext.Default.Resolving += (context, name) =>
        {
            var beside = Path.Combine(folder, name.Name + ".dll");
            var found = File.Exists(beside) ? beside : (resolver ??= new AssemblyDependencyResolver(path)).ResolveAssemblyToPath(name);
            return found is null ? null : context.LoadFromAssemblyPath(found);
        };
        AssemblyLoadContext.Default.ResolvingUnmanagedDll += (_, name) =>
        {
            var found = (resolver ??= new AssemblyDependencyResolver(path)).ResolveUnmanagedDllToPath(name);
            return found is null ? IntPtr.Zero : System.Runtime.InteropServices.NativeLibrary.Load(found);
        };
        return AssemblyLoadContext.Default.LoadFromAssemblyPath(path);
    }

    static bool IsCompilerGenerated(Type type) =>
        type.IsDefined(typeof(CompilerGeneratedAttribute), inherit: false);

    /// <summary>The names of the variables a closure object holds, nested closures included.</summary>
    static IEnumerable<string> CapturedVariables(Type closure)
    {
        foreach (var field in closure.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            if (field.Name == "<>4__this")
                yield return "this";
            else if (field.Name.StartsWith("CS$<>", StringComparison.Ordinal) && IsCompilerGenerated(field.FieldType))
                foreach (var inner in CapturedVariables(field.FieldType)) yield return inner;
            else
                yield return field.Name;
        }
    }

    /// <summary>"Program.Square(int)" for methods, "(lambda in Program.Main)" for compiler-made ones.</summary>
    internal static string DescribeForHumans(MethodInfo method)
    {
        var owner = method.DeclaringType;
        // Lambdas live in nested compiler-made classes; name the class the user wrote.
        while (owner?.DeclaringType is not null && IsCompilerGenerated(owner)) owner = owner.DeclaringType;
        // Compiler-made names look like "<Outer>b__0_0"; top-level statements' Outer is "<Main>$".
        var name = method.Name;
        int end = name.LastIndexOf(">", StringComparison.Ordinal);
        if (name.StartsWith('<') && end > 0)
        {
            var outer = name[1..end];
            return outer == "<Main>$" ? "(lambda in the top-level statements)" : $"(lambda in {owner?.Name}.{outer})";
        }
        var parameters = string.Join(", ", method.GetParameters().Select(p => Arguments.TypeName(p.ParameterType)));
        return $"{owner?.Name}.{method.Name}({parameters})";
    }
}
