using ForkKit.Cli.Demos;
using NUnit.Framework;

namespace ForkKit.Tests;

/// <summary>The zombie and orphan demos show the Windows analogue: a handle-held process object, a parent pid never rewritten.</summary>
[TestFixture]
public class DemoTests
{
    static string RunDemo(Func<DemoOptions, int> demo, params (string Name, object Value)[] options)
    {
        var output = new StringWriter();
        var saved = Console.Out;
        Console.SetOut(output);
        try
        {
            Assert.That(demo(new DemoOptions(0.1, name => options.Single(o => o.Name == name).Value)), Is.EqualTo(0));
        }
        finally
        {
            Console.SetOut(saved);
        }
        return output.ToString();
    }

    [Test]
    public void TheZombieDemoShowsAnExitedProcessHeldByItsHandle()
    {
        var text = RunDemo(ZombieDemo.Run, ("--hold", 0));
        Assert.That(text, Does.Contain("In the Toolhelp snapshot: not listed"));
        Assert.That(text, Does.Contain("GetExitCodeProcess = 0"));
    }

    [Test]
    public void TheOrphanDemoShowsTheParentPidIsNotRewritten()
    {
        var text = RunDemo(OrphanDemo.Run, ("--subreaper", false));
        var parent = System.Text.RegularExpressions.Regex.Match(text, @"OrphanParent \(pid (\d+)\) ended");
        Assert.That(parent.Success, Is.True, text);
        Assert.That(text, Does.Match($@"after : pid\s+\d+\s+ppid\s+{parent.Groups[1].Value} "), text);
        Assert.That(text, Does.Contain("Nothing is left running."), text);
    }
}
