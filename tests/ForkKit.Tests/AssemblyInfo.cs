using ForkKit.Testing;

// Every test in this assembly must reap every child it starts and unlink every named
// semaphore it makes; a test that leaves one behind fails, named in the message.
[assembly: AssertChildrenReaped(Semaphores = true)]
