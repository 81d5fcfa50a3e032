using System.CommandLine;
using ForkKit.Cli;

return Commands.Build().Parse(args).Invoke();
