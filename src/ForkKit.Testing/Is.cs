using ForkKit.Diagnostics;
using NUnit.Framework.Constraints;

namespace ForkKit.Testing;

/// <summary>
/// NUnit's <c>Is</c> with ForkKit's constraints added: <c>Assert.That(process, Is.Reaped)</c>,
/// <c>Assert.That(pid, Is.Zombie)</c>. Bring it in with <c>using Is = ForkKit.Testing.Is;</c>.
/// </summary>
public class Is : NUnit.Framework.Is
{
    /// <summary>A ForkKit Process that was started and reaped, or a pid that is no longer a child of this process.</summary>
    public static ReapedConstraint Reaped => new();

    /// <summary>A pid (or Process) that has exited and not been waited for: state Z.</summary>
    public static ZombieConstraint Zombie => new();
}

/// <summary>Passes for a started and reaped <see cref="Process"/>, or an int pid that is not a child of this process.</summary>
public sealed class ReapedConstraint : Constraint
{
    public override string Description => "a reaped child process";

    public override ConstraintResult ApplyTo<TActual>(TActual actual)
    {
        switch (actual)
        {
            case Process p:
                return new ConstraintResult(this, Show(p), p.IsReaped);
            case int pid:
                var entry = ProcessTable.Find(pid);
                bool stillChild = entry is not null && entry.ParentPid == Environment.ProcessId;
                return new ConstraintResult(this, stillChild ? $"pid {pid}, {State(entry!)}" : $"pid {pid}, gone", !stillChild);
            default:
                throw new ArgumentException($"Is.Reaped applies to a ForkKit.Process or an int pid, not {actual?.GetType().Name ?? "null"}", nameof(actual));
        }
    }

    internal static string Show(Process p) => p.Pid is not { } pid
        ? $"{p.Name}, never started"
        : p.IsReaped ? $"{p.Name} pid {pid}, reaped" : $"{p.Name} pid {pid}, {(p.HasExited ? "exited, not joined (a zombie)" : "still running")}";

    internal static string State(ProcessEntry e) => e.State == ProcessState.Zombie ? "a zombie (exited, not waited for)" : $"state {e.StateLetter}, {e.Name}";
}

/// <summary>Passes for an int pid (or a Process) that is a zombie now: exited, not yet waited for.</summary>
public sealed class ZombieConstraint : Constraint
{
    public override string Description => "a zombie process (state Z)";

    public override ConstraintResult ApplyTo<TActual>(TActual actual)
    {
        int pid = actual switch
        {
            int i => i,
            Process { Pid: { } p } => p,
            Process p => throw new ArgumentException($"Is.Zombie: {p.Name} was never started", nameof(actual)),
            _ => throw new ArgumentException($"Is.Zombie applies to an int pid or a ForkKit.Process, not {actual?.GetType().Name ?? "null"}", nameof(actual)),
        };
        var entry = ProcessTable.Find(pid);
        var shown = entry is null ? $"pid {pid}, gone" : $"pid {pid}, {ReapedConstraint.State(entry)}";
        return new ConstraintResult(this, shown, entry?.State == ProcessState.Zombie);
    }
}

/// <summary>Lets the constraints follow NUnit's operators: <c>Is.Not.Reaped</c>, <c>Is.Not.Zombie</c>.</summary>
public static class ForkKitConstraintExpressions
{
    extension(ConstraintExpression expression)
    {
        /// <summary>See <see cref="ReapedConstraint"/>.</summary>
        public ReapedConstraint Reaped => expression.Append(new ReapedConstraint());

        /// <summary>See <see cref="ZombieConstraint"/>.</summary>
        public ZombieConstraint Zombie => expression.Append(new ZombieConstraint());
    }
}
