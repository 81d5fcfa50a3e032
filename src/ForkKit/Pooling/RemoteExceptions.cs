using System.Collections.Concurrent;
using System.Reflection;
using ForkKit.Wire;

namespace ForkKit.Pooling;

/// <summary>
/// Turns a worker's exception back into one the parent can throw: the same type when it is an
/// Exception subclass already loaded here with a (string, Exception) or (string) constructor,
/// otherwise a <see cref="RemoteException"/>. The InnerException is a <see cref="RemoteTraceback"/>
/// with the worker's trace. No other type is ever instantiated from a name on the wire.
/// </summary>
static class RemoteExceptions
{
    /// <summary>Names found to be exception types. Names that are not are looked up again each time: a worker could send endless new ones.</summary>
    static readonly ConcurrentDictionary<string, Type> s_types = new();
    static readonly FieldInfo? s_innerField = typeof(Exception).GetField("_innerException", BindingFlags.Instance | BindingFlags.NonPublic);

    public static Exception Rebuild(RemoteError error)
    {
        var trace = new RemoteTraceback(error.Trace);
        var type = s_types.TryGetValue(error.Type, out var known) ? known : FindExceptionType(error.Type);
        if (type is not null)
        {
            s_types.TryAdd(error.Type, type);
            try
            {
                if (type.GetConstructor([typeof(string), typeof(Exception)]) is { } withInner)
                    return (Exception)withInner.Invoke([error.Message, trace]);
                if (type.GetConstructor([typeof(string)]) is { } messageOnly && s_innerField is not null)
                {
                    var e = (Exception)messageOnly.Invoke([error.Message]);
                    s_innerField.SetValue(e, trace);
                    return e;
                }
            }
            catch (Exception e) when (e is TargetInvocationException or TypeInitializationException or MemberAccessException)
            {
                // A constructor that rejects the message, or a type that cannot be made: fall back to RemoteException.
            }
        }
        return new RemoteException(error.Type, error.Message, trace);
    }

    /// <summary>
    /// Looks only among assemblies already loaded: a name on the wire never loads code. A name
    /// that is no type name at all ("", one naming an assembly) is no exception type either.
    /// </summary>
    static Type? FindExceptionType(string fullName)
    {
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            Type? type;
            try
            {
                type = assembly.GetType(fullName, throwOnError: false);
            }
            catch (ArgumentException)
            {
                return null;
            }
            if (type is { IsAbstract: false, ContainsGenericParameters: false } && typeof(Exception).IsAssignableFrom(type))
                return type;
        }
        return null;
    }
}
