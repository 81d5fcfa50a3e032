// The Windows tests of ForkKit: Process, Pool, Lock and the process table on the Windows
// backend (CreateProcessW, WaitForSingleObject, TerminateProcess, named semaphores), run by
// `make test-windows` under Wine. Usage: ForkKit.WindowsTests.exe [NAME-FILTER]
using ForkKit.WindowsTests;

int failures = Runner.Run(
    [typeof(ProcessTests), typeof(PoolTests), typeof(LockTests), typeof(ProcessTableTests), typeof(PlatformTests), typeof(DemoTests)],
    args.Length > 0 ? args[0] : null);
// Exit at once: a test that timed out may have left a thread behind.
Environment.Exit(failures);
