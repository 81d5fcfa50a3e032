using ForkKit.Platform;
using Microsoft.Win32.SafeHandles;
using static ForkKit.Windows.Kernel32;

namespace ForkKit.Windows;

/// <summary>
/// Named semaphores (CreateSemaphoreW) and shared memory (CreateFileMappingW) in the session's
/// Local\ namespace. Unlike POSIX names, a Windows object name is no file: the object and its
/// name vanish when the last handle to it closes, so there is nothing to unlink and nothing for
/// a tracker to clean up after a crash.
/// </summary>
sealed class WindowsKernelObjects : IKernelObjects
{
    /// <summary>The semaphore's name: "Local\forkkit-4242-1a2b3c4d5e6f".</summary>
    static string SemaphoreName(string name) => $@"Local\{name}";

    /// <summary>
    /// The shared memory's name: semaphores and file mappings share one namespace, so the
    /// memory of lock NAME is "Local\NAME.shm" (as Linux keeps /dev/shm/sem.NAME and /dev/shm/NAME apart).
    /// </summary>
    static string MemoryName(string name) => $@"Local\{name}.shm";

    public KernelSemaphore CreateSemaphore(string name, int value)
    {
        var full = SemaphoreName(name);
        var handle = CreateSemaphoreW(IntPtr.Zero, value, int.MaxValue, full);
        return new WindowsSemaphore(Created(handle, $"CreateSemaphoreW(\"{full}\", {value})"), full);
    }

    public KernelSemaphore OpenSemaphore(string name)
    {
        var full = SemaphoreName(name);
        var handle = OpenSemaphoreW(SEMAPHORE_ALL_ACCESS, 0, full);
        if (handle.IsInvalid) throw WindowsApiException.Last($"OpenSemaphoreW(\"{full}\")");
        return new WindowsSemaphore(handle, full);
    }

    public SharedMemory CreateSharedMemory(string name, int size)
    {
        var full = MemoryName(name);
        var handle = CreateFileMappingW(INVALID_HANDLE_VALUE, IntPtr.Zero, PAGE_READWRITE, 0, (uint)size, full);
        // Paging-file-backed memory starts zero-filled.
        return WindowsSharedMemory.Map(Created(handle, $"CreateFileMappingW(\"{full}\", {size})"), full, size);
    }

    public SharedMemory OpenSharedMemory(string name, int size)
    {
        var full = MemoryName(name);
        var handle = OpenFileMappingW(FILE_MAP_READ | FILE_MAP_WRITE, 0, full);
        if (handle.IsInvalid) throw WindowsApiException.Last($"OpenFileMappingW(\"{full}\")");
        return WindowsSharedMemory.Map(handle, full, size);
    }

    /// <summary>
    /// A Create call's handle, or the exception for its failure. A Create* call that finds the
    /// name taken opens the existing object and reports ERROR_ALREADY_EXISTS; we wanted a new one
    /// (O_EXCL), so that handle is closed and the collision thrown.
    /// </summary>
    static SafeKernelHandle Created(SafeKernelHandle handle, string call)
    {
        int error = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        if (handle.IsInvalid) throw new WindowsApiException(call, error);
        if (error == WindowsApiException.ERROR_ALREADY_EXISTS)
        {
            handle.Dispose();
            throw new WindowsApiException(call, error, "The name is taken.");
        }
        return handle;
    }

    /// <remarks>ERROR_INVALID_HANDLE from a Create call means the name belongs to an object of another kind: taken too.</remarks>
    public bool IsNameTaken(Exception e) =>
        e is WindowsApiException { NativeErrorCode: WindowsApiException.ERROR_ALREADY_EXISTS or WindowsApiException.ERROR_INVALID_HANDLE };

    // Nothing to remove or track: the objects go with their last handle (see the class summary).
    public void Remove(string name) { }

    public void RemoveSemaphore(string name) { }

    public void Track(string name) { }

    public void Untrack(string name) { }

    /// <summary>Windows object names are no files: there is nothing to list.</summary>
    public IReadOnlyList<(string Name, string Path)> ListSemaphores(string prefix) => [];

    /// <summary>Windows object names are no files: there is nothing to list.</summary>
    public IReadOnlyList<(string Name, string Path)> ListSharedMemory(string prefix) => [];

}

/// <summary>A named semaphore: WaitForSingleObject takes a unit, ReleaseSemaphore gives one back.</summary>
sealed class WindowsSemaphore(SafeKernelHandle handle, string name) : KernelSemaphore
{
    public override bool Wait(int timeoutMs)
    {
        uint r;
        try
        {
            r = WaitForSingleObject(handle, timeoutMs < 0 ? INFINITE : (uint)timeoutMs);
        }
        catch (ObjectDisposedException)
        {
            throw new ObjectDisposedException($"semaphore {name}");
        }
        if (r == WAIT_OBJECT_0) return true;
        if (r == WAIT_TIMEOUT) return false;
        throw WindowsApiException.Last($"WaitForSingleObject(\"{name}\", {timeoutMs})");
    }

    public override void Post()
    {
        if (ReleaseSemaphore(handle, 1, out _) != 0) return;
        int error = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        throw new WindowsApiException($"ReleaseSemaphore(\"{name}\", 1)", error,
            error == WindowsApiException.ERROR_TOO_MANY_POSTS ? "The semaphore is at its maximum value." : null);
    }

    /// <summary>The count, through ntdll's NtQuerySemaphore (Win32 has no call for it); null if it fails.</summary>
    public override int? Value =>
        NtDll.NtQuerySemaphore(handle, 0, out var info, sizeof(int) * 2, out _) == 0 ? info.CurrentCount : null;

    public override void Dispose() => handle.Dispose();
}

/// <summary>A view of a named file mapping; both the view and the mapping handle go at Dispose.</summary>
sealed class WindowsSharedMemory : SharedMemory
{
    readonly SafeKernelHandle _mapping;
    IntPtr _address;

    WindowsSharedMemory(SafeKernelHandle mapping, IntPtr address)
    {
        _mapping = mapping;
        _address = address;
    }

    public static WindowsSharedMemory Map(SafeKernelHandle mapping, string name, int size)
    {
        var address = MapViewOfFile(mapping, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, (nuint)size);
        if (address != IntPtr.Zero) return new WindowsSharedMemory(mapping, address);
        var e = WindowsApiException.Last($"MapViewOfFile(\"{name}\", {size})");
        mapping.Dispose();
        throw e;
    }

    public override IntPtr Address => _address != IntPtr.Zero ? _address : throw new ObjectDisposedException("shared memory");

    public override void Dispose()
    {
        var a = Interlocked.Exchange(ref _address, IntPtr.Zero);
        if (a == IntPtr.Zero) return;
        UnmapViewOfFile(a);
        _mapping.Dispose();
    }
}
