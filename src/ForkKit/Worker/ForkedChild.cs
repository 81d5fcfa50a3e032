using System.Reflection;
using ForkKit.Platform;

namespace ForkKit.Worker;

/// <summary>
/// What a child forked by StartMethod.Fork runs, as Python's BaseProcess._bootstrap after
/// popen_fork: it stops being its parent (the parent's children, pools and kernel-object names
/// are not its own), names itself, runs the target on the very objects the parent passed, and
/// gives Python's exit code.
/// </summary>
static class ForkedChild
{
    public static int Run(string name, MethodInfo method, object? instance, object?[] args)
    {
        ForgetTheParentsState();
        CurrentProcess.Name = name;
        Os.Current.SetProcessName(name);
        return WorkerHost.RunTarget(name, new WorkerHost.PreparedTarget(method, instance, WithDefaults(method, args)));
    }

    /// <summary>
    /// Registries copied from the parent would act for it at the child's exit: join the parent's
    /// children (waitpid on processes that are not the child's), terminate the parent's pools,
    /// unlink the parent's locks. Python clears the same state in _bootstrap.
    /// </summary>
    static void ForgetTheParentsState()
    {
        Process.ForgetChildrenInForkedChild();
        Pooling.WorkerSet.ForgetOpenPoolsInForkedChild();
        Synchronization.KernelNames.ForgetNamesInForkedChild();
    }

    /// <summary>The arguments with the default value of every optional parameter left out.</summary>
    static object?[] WithDefaults(MethodInfo method, object?[] args)
    {
        var parameters = method.GetParameters();
        if (args.Length == parameters.Length) return args;
        var all = new object?[parameters.Length];
        for (int i = 0; i < parameters.Length; i++) all[i] = i < args.Length ? args[i] : parameters[i].DefaultValue;
        return all;
    }
}
