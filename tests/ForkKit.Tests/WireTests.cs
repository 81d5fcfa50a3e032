using System.Text;
using ForkKit.Wire;

namespace ForkKit.Tests;

/// <summary>The wire format: length-prefixed frames of UTF-8 JSON (docs/wire-format.md).</summary>
public class WireTests
{
    static readonly TargetReference Target = new("/x/a.dll", "a, Version=1.0.0.0", "N.T", "M", 100663298);

    [Test]
    public void AProcessStartMessageRoundTrips()
    {
        var start = new ProcessStart("Process-9", Target, [Encoding.UTF8.GetBytes("3"), Encoding.UTF8.GetBytes("{\"x\":[1,\"é\"]}"), Encoding.UTF8.GetBytes("null")]);
        var text = Encoding.UTF8.GetString(start.ToUtf8());
        Assert.That(text, Is.EqualTo(
            "{\"name\":\"Process-9\",\"target\":{\"assemblyPath\":\"/x/a.dll\",\"assemblyName\":\"a, Version=1.0.0.0\",\"typeName\":\"N.T\",\"methodName\":\"M\",\"metadataToken\":100663298},\"args\":[3,{\"x\":[1,\"é\"]},null]}"));

        var back = ProcessStart.Parse(start.ToUtf8());
        Assert.That(back.Name, Is.EqualTo("Process-9"));
        Assert.That(back.Target, Is.EqualTo(Target));
        Assert.That(back.Args.Select(a => Encoding.UTF8.GetString(a)), Is.EqualTo(new[] { "3", "{\"x\":[1,\"é\"]}", "null" }));
    }

    [Test]
    public void AMessageWithoutATargetIsRefusedNamingTheField()
    {
        var e = Assert.Throws<InvalidDataException>(() => ProcessStart.Parse(Encoding.UTF8.GetBytes("{\"name\":\"p\",\"args\":[]}")))!;
        Assert.That(e.Message, Does.Contain("'target'"));
    }

    [Test]
    public void FramesCarryTheirLengthAndKeepBoundaries()
    {
        var stream = new MemoryStream();
        Frames.Write(stream, Encoding.UTF8.GetBytes("{}"));
        Frames.Write(stream, Encoding.UTF8.GetBytes("[1,2]"));
        Assert.That(stream.ToArray().Take(6), Is.EqualTo(new byte[] { 2, 0, 0, 0, (byte)'{', (byte)'}' }), "4-byte little-endian length, then the JSON");

        stream.Position = 0;
        Assert.That(Encoding.UTF8.GetString(Frames.Read(stream)!), Is.EqualTo("{}"));
        Assert.That(Encoding.UTF8.GetString(Frames.Read(stream)!), Is.EqualTo("[1,2]"));
        Assert.That(Frames.Read(stream), Is.Null, "a clean end of stream");
    }

    [Test]
    public void ATruncatedFrameOrAnAbsurdLengthIsAnError()
    {
        Assert.That(() => Frames.Read(new MemoryStream([5, 0, 0, 0, (byte)'{'])), Throws.TypeOf<EndOfStreamException>());
        Assert.That(() => Frames.Read(new MemoryStream([1, 0])), Throws.TypeOf<EndOfStreamException>());
        Assert.That(() => Frames.Read(new MemoryStream([0xff, 0xff, 0xff, 0x7f])), Throws.TypeOf<InvalidDataException>());
    }

    [TestCase("3", typeof(int), 3)]
    [TestCase("-9007199254740993", typeof(long), -9007199254740993L)]
    [TestCase("0.1", typeof(double), 0.1)]
    [TestCase("true", typeof(bool), true)]
    [TestCase("\"a\\\"b\"", typeof(string), "a\"b")]
    [TestCase("null", typeof(string), null)]
    [TestCase("null", typeof(int?), null)]
    [TestCase("7", typeof(int?), 7)]
    public void DecodeReadsPlainValuesAsTheDeclaredType(string json, Type type, object? expected) =>
        Assert.That(Arguments.DecodeOne(Encoding.UTF8.GetBytes(json), type), Is.EqualTo(expected));
}
