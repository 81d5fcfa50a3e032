using NUnit.Framework.Interfaces;
using NUnit.Framework.Internal;

namespace ForkKit.Tests.Support;

/// <summary>
/// Runs one fixture after every other test of the assembly: <c>[assembly: RunLast(typeof(F))]</c>.
/// </summary>
/// <remarks>
/// NUnit starts the children of a suite that carry an order (the property [Order] sets) before
/// the children that carry none. On the way from the assembly down to the fixture, this gives
/// every other child an order that keeps the sequence NUnit would run them in, and leaves the
/// fixture's own branch without one: at each level that branch starts last. NUnit applies an
/// assembly's attributes once the whole tree of suites is built, so every suite is there.
/// A filter that leaves the fixture out runs the rest as before.
/// </remarks>
[AttributeUsage(AttributeTargets.Assembly)]
sealed class RunLastAttribute(Type fixture) : NUnitAttribute, IApplyToTest
{
    public void ApplyToTest(Test test)
    {
        var path = new List<ITest>();
        if (!Find(test, path)) return;
        // NUnit sorts the tree by name once the attributes are applied; sorted now, the orders
        // given below follow that sequence.
        if (test is TestSuite suite) suite.Sort();
        for (int level = 0; level + 1 < path.Count; level++)
        {
            var siblings = path[level].Tests;
            for (int i = 0; i < siblings.Count; i++)
            {
                var sibling = siblings[i];
                if (sibling == path[level + 1] || sibling.Properties.ContainsKey(PropertyNames.Order)) continue;
                sibling.Properties.Set(PropertyNames.Order, int.MaxValue - siblings.Count + i);
            }
        }
    }

    /// <summary>Fills <paramref name="path"/> with the suites from <paramref name="test"/> down to the fixture; false when it is not below.</summary>
    bool Find(ITest test, List<ITest> path)
    {
        path.Add(test);
        if (test is TestFixture && test.TypeInfo?.Type == fixture) return true;
        foreach (var child in test.Tests)
            if (Find(child, path)) return true;
        path.RemoveAt(path.Count - 1);
        return false;
    }
}
