"""Measures a running multiprocessing child's memory: Private_Dirty, Rss and Pss of /proc/PID/smaps_rollup."""
# Usage: python3 child_memory.py fork|spawn|forkserver
# Prints: METHOD child memory: Private_Dirty X MiB, Rss Y MiB, Pss Z MiB   (bench/run.sh reads it)
#
# The child sleeps; the parent gives it 300 ms to settle, reads its smaps_rollup, then
# terminates and joins it. One child runs first, untimed and unmeasured, as in start_join.py.
import multiprocessing
import sys
import time

METHODS = ("fork", "spawn", "forkserver")


def sleep(seconds):
    time.sleep(seconds)


def rollup(pid):
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, sep, rest = line.partition(":")
            if sep and rest.split() and rest.split()[0].isdigit():
                fields[key.strip()] = int(rest.split()[0]) / 1024
    return fields


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in METHODS:
        sys.exit("usage: python3 child_memory.py fork|spawn|forkserver")
    method = sys.argv[1]
    ctx = multiprocessing.get_context(method)
    warm = ctx.Process(target=sleep, args=(0,))
    warm.start()
    warm.join()
    p = ctx.Process(target=sleep, args=(5,))
    p.start()
    time.sleep(0.3)
    m = rollup(p.pid)
    p.terminate()
    p.join()
    print(f"{method} child memory: Private_Dirty {m['Private_Dirty']:.1f} MiB, Rss {m['Rss']:.1f} MiB, Pss {m['Pss']:.1f} MiB")


if __name__ == "__main__":
    main()
