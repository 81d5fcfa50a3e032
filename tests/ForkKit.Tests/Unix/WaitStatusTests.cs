using ForkKit.Unix;

namespace ForkKit.Tests;

/// <summary>
/// Decoding the status word waitpid fills in. Linux lays it out as: exit status in bits 8-15
/// with the low 7 bits 0 (WIFEXITED); the signal number in the low 7 bits (WIFSIGNALED), with
/// bit 0x80 set when a core was dumped; 0x7f in the low byte for a stopped child.
/// </summary>
public class WaitStatusTests
{
    const int Pid = 4242;

    [TestCase(0x0000, 0)]
    [TestCase(0x0100, 1)]
    [TestCase(0x2a00, 42)]
    [TestCase(0xff00, 255)]
    public void AnExitStatusDecodesAsExitedWithItsCode(int raw, int code)
    {
        var status = WaitStatus.Decode(Pid, raw);
        Assert.That(status, Is.EqualTo(new WaitStatus.Exited(Pid, code)));
        Assert.That(status.ToExitCode(), Is.EqualTo(code));
    }

    [TestCase(0x09, 9, false)]
    [TestCase(0x0f, 15, false)]
    [TestCase(0x89, 9, true)]
    [TestCase(0x8f, 15, true)]
    [TestCase(0x8b, 11, true)]
    public void ASignalDeathDecodesAsSignaledWithTheCoreDumpBitAndMinusTheSignalAsExitCode(int raw, int signal, bool core)
    {
        var status = WaitStatus.Decode(Pid, raw);
        Assert.That(status, Is.EqualTo(new WaitStatus.Signaled(Pid, signal, core)));
        Assert.That(status.ToExitCode(), Is.EqualTo(-signal), "as Python's waitstatus_to_exitcode");
    }

    [Test]
    public void AStoppedChildIsNeitherExitNorSignalAndIsRefusedNamingTheStatus()
    {
        // SIGSTOP (19) in bits 8-15, 0x7f below: only with WUNTRACED, which ForkKit never passes.
        var e = Assert.Throws<InvalidOperationException>(() => WaitStatus.Decode(Pid, 0x137f))!;
        Assert.That(e.Message, Does.Contain($"waitpid({Pid})").And.Contain("0x137f"));
    }

    [Test]
    public void AChildStillRunningHasNoExitCode() =>
        Assert.That(new WaitStatus.StillRunning(Pid).ToExitCode(), Is.Null);
}
