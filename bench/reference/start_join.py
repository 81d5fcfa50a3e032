"""Measures how long multiprocessing takes to start a Process whose target does nothing and join it."""
# Usage: python3 start_join.py fork|spawn|forkserver N
# Prints: METHOD start+join: X ms/process   (bench/run.sh reads this line)
#
# One warm-up Process runs first, untimed: spawn starts multiprocessing's resource tracker
# with its first child, forkserver its fork server, and neither belongs in a per-process
# figure. ForkKit's side of the bench warms up the same way.
import multiprocessing
import sys
import time

METHODS = ("fork", "spawn", "forkserver")


def noop():
    pass


def start_and_join(ctx):
    p = ctx.Process(target=noop)
    p.start()
    p.join()
    if p.exitcode != 0:
        sys.exit(f"start_join.py: child {p.pid} ended with exit code {p.exitcode}")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in METHODS or not sys.argv[2].isdigit() or int(sys.argv[2]) < 1:
        sys.exit("usage: python3 start_join.py fork|spawn|forkserver N   (N >= 1)")
    method, n = sys.argv[1], int(sys.argv[2])
    ctx = multiprocessing.get_context(method)
    start_and_join(ctx)
    start = time.perf_counter()
    for _ in range(n):
        start_and_join(ctx)
    elapsed = time.perf_counter() - start
    print(f"{method} start+join: {elapsed / n * 1e3:.2f} ms/process")


if __name__ == "__main__":
    main()
