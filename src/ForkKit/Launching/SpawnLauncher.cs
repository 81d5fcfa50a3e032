using ForkKit.Platform;
using ForkKit.Wire;
using Microsoft.Win32.SafeHandles;

namespace ForkKit.Launching;

/// <summary>
/// Spawn, the default start method: a fresh .NET worker host is started as a new program (Unix:
/// the C shim's vfork+execve; Windows: CreateProcessW) with the pipe ends it needs, and reads
/// its start message from the first one. Nothing of this process's memory reaches the child,
/// so managed code in it is safe (docs/design.md, fact 1).
/// </summary>
sealed class SpawnLauncher : ILauncher
{
    public static readonly SpawnLauncher Instance = new();

    public LaunchedWorker Launch(WorkerSpec spec)
    {
        var message = spec.StartMessage(); // before any pipe exists: an argument that cannot cross leaves nothing open
        var os = Os.Current;
        var command = WorkerCommand.Current;
        var (taskRead, taskWrite) = os.CreatePipe();
        SafeFileHandle? resultRead = null, resultWrite = null;
        if (spec.Role == WorkerRole.Pool) (resultRead, resultWrite) = os.CreatePipe();
        IChild child;
        try
        {
            // The child's ends are closed here once it has them: a pipe reports end-of-file
            // only when every write end is closed, and ours must not keep it open.
            using (taskRead)
            using (resultWrite)
            {
                IReadOnlyList<SafeFileHandle> childEnds = resultWrite is null ? [taskRead] : [taskRead, resultWrite];
                var argv = command.Arguments(spec.Name, spec.Role, os.ChildEndNames(childEnds));
                child = os.StartProgram(command.HostPath, argv, command.ExtraEnvironment, childEnds, spec.DiesWithParent);
            }
        }
        catch
        {
            taskWrite.Dispose();
            resultRead?.Dispose();
            throw;
        }

        var tasks = new FileStream(taskWrite, FileAccess.Write, bufferSize: 0);
        SendStart(tasks, message);
        if (resultRead is null)
        {
            tasks.Dispose();
            return new LaunchedWorker(child, null, null);
        }
        return new LaunchedWorker(child, tasks, new FileStream(resultRead, FileAccess.Read, bufferSize: 0));
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
