# ForkKit: `make` builds everything, `make demo` runs the main demo, `make test` runs every test,
# `make test-windows` runs the Windows tests under Wine, `make bench` and `make bench-micro` benchmark,
# `make stress` runs the load test, `make fuzz` fuzzes the wire decoders, `make pack` makes the
# NuGet packages and the dotnet tool package in artifacts/.
CONFIG ?= Release
DOTNET ?= dotnet
CLI := src/ForkKit.Cli/bin/$(CONFIG)/net10.0/ForkKit.Cli.dll
FORKKIT := $(DOTNET) $(CLI)

all: build

# The C shim (native-interop/build/libforkkit.so), then the .NET solution; the library
# project copies the shim next to ForkKit.dll.
build: prerequisites
	$(MAKE) -C native-interop
	$(DOTNET) build ForkKit.sln -c $(CONFIG) --nologo -v quiet -clp:ErrorsOnly

# The main demo: the seed article's four processes, started together and joined.
demo: build
	$(FORKKIT) demo processes

# A test that hangs cannot hang the run: every wait in the tests has a limit, and past
# --blame-hang-timeout (above the longest test's own limits: the tool install test runs three
# commands of at most 3 min each) the blame collector kills the test host; the run then fails
# and names the test that was running. No dump is written.
test: build
	$(DOTNET) test ForkKit.sln -c $(CONFIG) --no-build --nologo -v quiet --blame-hang-timeout 10min --blame-hang-dump-type none --logger "console;verbosity=minimal"

# The Windows backend's tests, run under Wine (installed when missing): a self-contained win-x64
# build of tests/ForkKit.WindowsTests in a fresh, temporary Wine prefix. See .ci/test-windows.sh.
test-windows: prerequisites
	bash .ci/test-windows.sh $(CONFIG)

# ForkKit next to Python's multiprocessing and the C floor, in one run: the reference programs
# are bench/reference/ (FORKKIT_REFERENCE names another folder). See bench/README.md.
bench: build
	bash bench/run.sh $(CONFIG)

# BenchmarkDotNet micro-benchmarks of the pool's wire: one 12,500-item chunk of ints, strings
# and doubles through each stage of a task, binary next to JSON (bench/ForkKit.MicroBench).
# BenchmarkDotNet's short job keeps the run to a few minutes; it reads no standard input.
# BENCH_MICRO_ARGS adds BenchmarkDotNet options, e.g. BENCH_MICRO_ARGS="--filter *Int32*".
bench-micro: prerequisites
	$(MAKE) -C native-interop
	$(DOTNET) build bench/ForkKit.MicroBench -c $(CONFIG) --nologo -v quiet -clp:ErrorsOnly
	cd bench/ForkKit.MicroBench && $(DOTNET) bin/$(CONFIG)/net10.0/ForkKit.MicroBench.dll \
		--filter '*' --job short --join --artifacts bin/BenchmarkDotNet.Artifacts $(BENCH_MICRO_ARGS) </dev/null

# The load test (tests/ForkKit.Stress): 2,000 Spawn and 10,000 ForkServer start/join cycles, a
# Pool(64) running 100,000 tasks, 100 processes terminated right after Start, 8 processes x 10,000
# acquisitions of one Lock, 1,000 SIGKILLs to pool workers under load; after each, what the parent
# kept (descriptors, children, zombies, /dev/shm names, resident set). One line per scenario; fails
# on any loss. STRESS_SCALE multiplies every count (`make test` runs it at 0.02); STRESS_ARGS names
# scenarios to run alone, e.g. STRESS_ARGS="pool kill". The children's stderr (stack traces of the
# children that throw on purpose) goes to tests/ForkKit.Stress/bin/stress-stderr.log.
STRESS_SCALE ?= 1
STRESS_LOG := tests/ForkKit.Stress/bin/stress-stderr.log
stress: build
	@STRESS_SCALE=$(STRESS_SCALE) $(DOTNET) tests/ForkKit.Stress/bin/$(CONFIG)/net10.0/ForkKit.Stress.dll $(STRESS_ARGS) 2>$(STRESS_LOG) </dev/null \
		|| { echo "stress: failed; the last lines of its stderr ($(STRESS_LOG)):"; tail -n 30 $(STRESS_LOG); exit 1; }

# The wire decoders' fuzzer (tests/ForkKit.Fuzz): the corpus in tests/ForkKit.Tests/FuzzCorpus,
# then 1,000,000 generated inputs, through every frame and message decoder a parent or worker
# runs on bytes it did not write. Fails on any crash (an exception a decoder does not document,
# an allocation the input cannot justify) or hang, and keeps the input that did it in the corpus.
# FUZZ_ARGS adds options: "--seed 7", "--inputs 5000000", "--jobs 1", "--save-new" (also keep
# inputs refused in a way no earlier input was). See tests/ForkKit.Fuzz/README.md.
fuzz: prerequisites
	$(MAKE) -C native-interop
	$(DOTNET) build tests/ForkKit.Fuzz -c $(CONFIG) --nologo -v quiet -clp:ErrorsOnly
	$(DOTNET) tests/ForkKit.Fuzz/bin/$(CONFIG)/net10.0/ForkKit.Fuzz.dll --corpus tests/ForkKit.Tests/FuzzCorpus $(FUZZ_ARGS)

# The packages, under artifacts/: ForkKit (the library, its worker host, and the C shim and the
# tracker for linux-x64 and linux-arm64 under runtimes/RID/native/), ForkKit.Testing, and the
# forkkit dotnet tool (ForkKit.Cli). Their one version is in Directory.Build.props.
# PackageConsumerTests (part of `make test`) installs them in a fresh console app, NUnit project
# and tool folder.
ARTIFACTS := artifacts
pack: prerequisites
	$(MAKE) -C native-interop all runtimes
	rm -f $(ARTIFACTS)/*.nupkg
	$(DOTNET) pack src/ForkKit -c $(CONFIG) -o $(ARTIFACTS) --nologo -v quiet -clp:ErrorsOnly
	$(DOTNET) pack src/ForkKit.Testing -c $(CONFIG) -o $(ARTIFACTS) --nologo -v quiet -clp:ErrorsOnly
	$(DOTNET) pack src/ForkKit.Cli -c $(CONFIG) -o $(ARTIFACTS) --nologo -v quiet -clp:ErrorsOnly
	@ls $(ARTIFACTS)/*.nupkg

# What a fresh Debian 12 with the .NET SDK lacks: a C compiler for the shim, python3 for the
# reference benchmarks. Installed only when missing (needs root or sudo).
prerequisites:
	@bash .ci/prerequisites.sh

clean:
	$(MAKE) -C native-interop clean
	$(DOTNET) clean ForkKit.sln -c $(CONFIG) --nologo -v quiet

.PHONY: all build pack demo test test-windows bench bench-micro stress fuzz prerequisites clean
