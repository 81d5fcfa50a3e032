using ForkKit.Platform;
using ForkKit.Wire;
using Microsoft.Win32.SafeHandles;

namespace ForkKit.Launching;

/// <summary>
/// The pipes between this process and a worker it starts: one the worker reads (its start
/// message, then a pool worker's tasks) and, for a pool worker, one it answers on. The child's
/// ends are closed here once the child has them: a pipe reports end-of-file only when every
/// write end is closed, and ours must not keep it open.
/// </summary>
sealed class WorkerPipes
{
    readonly SafeFileHandle? _taskRead, _taskWrite, _resultRead, _resultWrite;

    WorkerPipes(bool tasks, bool results)
    {
        var os = Os.Current;
        try
        {
            if (tasks) (_taskRead, _taskWrite) = os.CreatePipe();
            if (results) (_resultRead, _resultWrite) = os.CreatePipe();
        }
        catch
        {
            CloseAll();
            throw;
        }
    }

    /// <summary>The ends the child gets: the one it reads, then the one it writes.</summary>
    public IReadOnlyList<SafeFileHandle> ChildEnds => new[] { _taskRead, _resultWrite }.OfType<SafeFileHandle>().ToList();

    /// <summary>
    /// Makes the pipes a worker in <paramref name="role"/> needs, has <paramref name="start"/>
    /// start it with the child's ends, and writes <paramref name="startMessage"/> (when not null)
    /// to it. A Process child needs a pipe only for its start message; with none, it gets none.
    /// </summary>
    public static LaunchedWorker Launch(WorkerRole role, byte[]? startMessage, Func<IReadOnlyList<SafeFileHandle>, IChild> start)
    {
        bool pool = role == WorkerRole.Pool;
        var pipes = new WorkerPipes(tasks: pool || startMessage is not null, results: pool);
        IChild child;
        try
        {
            child = start(pipes.ChildEnds);
        }
        catch
        {
            pipes.CloseAll();
            throw;
        }
        pipes._taskRead?.Dispose();
        pipes._resultWrite?.Dispose();

        var tasks = pipes._taskWrite is null ? null : new FileStream(pipes._taskWrite, FileAccess.Write, bufferSize: 0);
        if (tasks is not null && startMessage is not null) SendStart(tasks, startMessage);
        if (!pool)
        {
            tasks?.Dispose();
            return new LaunchedWorker(child, null, null);
        }
        return new LaunchedWorker(child, tasks, new FileStream(pipes._resultRead!, FileAccess.Read, bufferSize: 0));
    }

    void CloseAll()
    {
        foreach (var end in new[] { _taskRead, _taskWrite, _resultRead, _resultWrite }) end?.Dispose();
    }

    static void SendStart(FileStream tasks, byte[] message)
    {
        try
        {
            Frames.Write(tasks, message);
        }
        catch (IOException)
        {
            // EPIPE: the child died before it read its start message (killed right after it
            // started, say). Its exit code, or end-of-file on its result pipe, tells what happened.
        }
    }
}
