using System.Reflection;

// The worker's entry point lives in ForkKit.dll (ForkKit.Worker.WorkerHost.Main); this program
// only hands its arguments over. ForkKit.dll is found by the runtime as any dependency is: through
// the app's deps.json the parent passes with --depsfile, or in this assembly's folder.
var host = Type.GetType("ForkKit.Worker.WorkerHost, ForkKit", throwOnError: true)!;
var main = host.GetMethod("Main", BindingFlags.Public | BindingFlags.Static, [typeof(string[])])!
    .CreateDelegate<Func<string[], int>>();
return main(args);
