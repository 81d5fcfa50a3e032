using ForkKit.Launching;
using ForkKit.Platform;
using ForkKit.Wire;

namespace ForkKit;

/// <summary>
/// A child process that runs <c>target(args)</c>, as Python's <c>multiprocessing.Process</c>:
/// construct, <see cref="Start"/>, <see cref="Join()"/>. The target is a static method or a
/// lambda that captures nothing; its arguments cross to the child as JSON.
/// </summary>
public sealed class Process : IDisposable
{
    static int s_counter;
    static readonly object s_registryGate = new();
    static readonly HashSet<Process> s_children = new();
    static bool s_exitHookInstalled;

    readonly object _gate = new();
    readonly System.Reflection.MethodInfo _method;
    readonly object? _instance;
    readonly TargetReference _target;
    readonly object?[] _args;
    string _name;
    bool _daemon;
    StartMethod _startMethod = StartMethod.Spawn;
    IChild? _child;
    bool _disposed;

    /// <summary>
    /// A process that will run <paramref name="target"/> with <paramref name="args"/>. The
    /// target and the arguments are checked here, so a bad one fails before any fork.
    /// </summary>
    /// <exception cref="ArgumentException">The target cannot run in another process (a capturing
    /// lambda, an instance method) or the arguments do not fit it or cannot cross.</exception>
    public Process(Delegate target, params object?[] args)
    {
        _target = Targets.Describe(target, nameof(target));
        _method = target.Method;
        _instance = target.Target;
        _args = args ?? [null];
        Arguments.Check(_method, _args, nameof(args));
        _name = $"Process-{Interlocked.Increment(ref s_counter)}";
    }

    /// <summary>The name of the process this code runs in: "MainProcess" in a parent, the child's name in a child.</summary>
    public static string CurrentName => CurrentProcess.Name;

    /// <summary>A name for people: "Process-N" unless set. The child's ps title and comm carry it.</summary>
    public string Name
    {
        get => _name;
        set => _name = value ?? throw new ArgumentNullException(nameof(value), "a process name cannot be null");
    }

    /// <summary>A daemon child is terminated when the parent exits; others are joined. Set before Start.</summary>
    public bool Daemon
    {
        get => _daemon;
        set
        {
            ThrowIfStarted("set Daemon on");
            _daemon = value;
        }
    }

    /// <summary>How the child starts; <see cref="StartMethod.Spawn"/> unless set. Set before Start.</summary>
    public StartMethod StartMethod
    {
        get => _startMethod;
        set
        {
            ThrowIfStarted("change the start method of");
            _startMethod = value;
        }
    }

    /// <summary>The child's pid; null before Start.</summary>
    public int? Pid => _child?.Pid;

    /// <summary>
    /// The exit code: 0 when the target returned, 1 when it threw, n for Environment.Exit(n),
    /// -S for death by signal S; null before Start and while the child runs. Reading it
    /// reaps a child that has ended, as Python's exitcode does.
    /// </summary>
    public int? ExitCode => Poll();

    /// <summary>True between Start and the child's end. Polls waitpid(WNOHANG), reaping a finished child.</summary>
    public bool IsAlive => _child is not null && Poll() is null;

    /// <summary>Starts the child with its start method's launcher (Spawn: fork, exec the worker host), and sends it the target and arguments.</summary>
    /// <exception cref="InvalidOperationException">The process was started before.</exception>
    /// <exception cref="NotSupportedException">The start method is not available (Fork outside a process started with the fork-safe settings; Fork and ForkServer on Windows); nothing was started.</exception>
    /// <exception cref="ForkServerException">With ForkServer: the server died or did not answer, or the child died or hung before it ran; nothing is left running.</exception>
    public void Start()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_child is not null) throw new InvalidOperationException("cannot start a process twice");
            var launcher = Launchers.For(_startMethod);
            InstallExitHook();

            // Encoded now, not at construction, so the child sees the arguments as they are at
            // Start (Python pickles them in start() too).
            var name = _name;
            var (method, instance, args) = (_method, _instance, _args);
            _child = launcher.Launch(new WorkerSpec(name, WorkerRole.Process,
                StartMessage: () => WorkerStart.Write(name, _target, Arguments.Encode(method, args, "args")),
                DiesWithParent: _daemon,
                RunInForkedChild: () => Worker.ForkedChild.Run(name, method, instance, args))).Child;
            Register(this);
        }
    }

    /// <summary>Waits until the child ends and reaps it. Joining twice is fine.</summary>
    /// <exception cref="InvalidOperationException">The process was never started.</exception>
    public void Join() => Join(Timeout.InfiniteTimeSpan);

    /// <summary>
    /// Waits at most <paramref name="timeout"/> for the child to end (a negative timeout
    /// counts as zero, <see cref="Timeout.InfiniteTimeSpan"/> waits for ever). True when it has
    /// ended and is reaped; false when it is still running.
    /// </summary>
    public bool Join(TimeSpan timeout)
    {
        var child = _child ?? throw new InvalidOperationException("can only join a started process");
        bool ended = child.Wait(timeout == Timeout.InfiniteTimeSpan ? null : timeout);
        if (ended) Unregister(this);
        return ended;
    }

    /// <summary>Sends SIGTERM (Windows: TerminateProcess); the exit code becomes -15 unless the child had already ended.</summary>
    public void Terminate() => Signal(force: false);

    /// <summary>
    /// Sends SIGKILL; the exit code becomes -9 unless the child had already ended. Windows has no
    /// signals: there Kill is Terminate, and the exit code -15, as in Python.
    /// </summary>
    public void Kill() => Signal(force: true);

    void Signal(bool force)
    {
        var child = _child ?? throw new InvalidOperationException($"can only {(force ? "kill" : "terminate")} a started process");
        child.Stop(force);
    }

    /// <summary>
    /// Releases the process. A child that still runs is terminated (SIGTERM, then SIGKILL
    /// after two seconds) and reaped, so nothing is left running.
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        if (_child is { } child)
        {
            if (child.Poll() is null)
            {
                child.Stop(force: false);
                if (!child.Wait(TimeSpan.FromSeconds(2)))
                {
                    child.Stop(force: true);
                    child.Wait(null);
                }
            }
            Unregister(this);
            child.Dispose();
        }
    }

    public override string ToString()
    {
        var state = _child is null ? "initial" : ExitCode is { } code ? $"stopped exitcode={code}" : "started";
        return $"<Process name='{_name}' pid={Pid?.ToString() ?? "None"} {state}{(_daemon ? " daemon" : "")}>";
    }

    int? Poll()
    {
        var code = _child?.Poll();
        if (code is not null) Unregister(this);
        return code;
    }

    void ThrowIfStarted(string action)
    {
        if (_child is not null) throw new InvalidOperationException($"cannot {action} a process that has already started");
    }

    // Python's _children set and its exit handler: when the parent exits, daemon children
    // are terminated and every child is joined, so a parent never leaves a zombie or an
    // orphan behind by simply returning from Main.
    static void Register(Process p)
    {
        lock (s_registryGate) s_children.Add(p);
    }

    /// <summary>
    /// Installed before the first child starts, so that it runs before the exit hook of
    /// anything a launcher starts (the fork server, which must outlive the joins).
    /// </summary>
    static void InstallExitHook()
    {
        lock (s_registryGate)
        {
            if (s_exitHookInstalled) return;
            s_exitHookInstalled = true;
            AppDomain.CurrentDomain.ProcessExit += (_, _) => JoinChildrenAtExit();
        }
    }

    static void Unregister(Process p)
    {
        lock (s_registryGate) s_children.Remove(p);
    }

    /// <summary>In a child forked by StartMethod.Fork: the parent's children are not this process's to join.</summary>
    internal static void ForgetChildrenInForkedChild()
    {
        lock (s_registryGate) s_children.Clear();
    }

    /// <summary>The children started here and not yet reaped.</summary>
    public static IReadOnlyList<Process> ActiveChildren()
    {
        List<Process> all;
        lock (s_registryGate) all = s_children.ToList();
        return all.Where(p => p.IsAlive).ToList();
    }

    /// <summary>Processes started here and not yet reaped, without polling (nothing is reaped by asking).</summary>
    internal static IReadOnlyList<Process> StartedNotReaped()
    {
        lock (s_registryGate) return s_children.Where(p => p._child is { IsReaped: false }).ToList();
    }

    /// <summary>True once Start ran and the child has been reaped. Does not poll.</summary>
    internal bool IsReaped => _child?.IsReaped ?? false;

    /// <summary>True once the child has ended, reaped or not. Does not reap.</summary>
    internal bool HasExited => _child?.HasExited ?? false;

    static void JoinChildrenAtExit()
    {
        var children = ActiveChildren();
        foreach (var p in children.Where(p => p._daemon)) p.Terminate();
        foreach (var p in children) p.Join();
    }
}
