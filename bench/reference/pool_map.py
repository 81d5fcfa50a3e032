"""Measures a multiprocessing.Pool: its start-up, a map of N squares per item, and N/10 apply_async calls per task."""
# Usage: python3 pool_map.py fork|spawn N [PROCESSES]   (N >= 10; PROCESSES: 2 by default)
# Prints: METHOD pool startup X ms; map N items: Y us/item; apply_async M: Z us/task
# then:   METHOD map again on the warm pool: W us/item (the median of three more maps)
# (bench/run.sh reads the numbers from these lines.)
#
# "Startup" is the Pool constructor: it returns once the worker processes are started, not
# once they are ready, so the first map also pays for the workers' own start-up.
import multiprocessing
import sys
import time

METHODS = ("fork", "spawn", "forkserver")


def square(x):
    return x * x


def main():
    args = sys.argv[1:]
    if not (2 <= len(args) <= 3) or args[0] not in METHODS or not all(a.isdigit() for a in args[1:]) \
            or int(args[1]) < 10 or (len(args) == 3 and int(args[2]) < 1):
        sys.exit("usage: python3 pool_map.py fork|spawn|forkserver N [PROCESSES]   (N >= 10)")
    method, n = args[0], int(args[1])
    processes = int(args[2]) if len(args) == 3 else 2
    tasks = n // 10
    ctx = multiprocessing.get_context(method)

    t0 = time.perf_counter()
    with ctx.Pool(processes) as pool:
        t1 = time.perf_counter()
        squares = pool.map(square, range(n))
        t2 = time.perf_counter()
        pending = [pool.apply_async(square, (i,)) for i in range(tasks)]
        total = sum(r.get() for r in pending)
        t3 = time.perf_counter()
        again = []
        for _ in range(3):
            t4 = time.perf_counter()
            pool.map(square, range(n))
            again.append(time.perf_counter() - t4)
        # Leaving the with block terminates the workers; close+join lets them finish and be
        # reaped before the program exits.
        pool.close()
        pool.join()

    if squares != [x * x for x in range(n)] or total != sum(x * x for x in range(tasks)):
        sys.exit("pool_map.py: wrong results")
    print(f"{method} pool startup {(t1 - t0) * 1e3:.1f} ms; "
          f"map {n} items: {(t2 - t1) / n * 1e6:.2f} us/item; "
          f"apply_async {tasks}: {(t3 - t2) / tasks * 1e6:.1f} us/task")
    print(f"{method} map again on the warm pool: {sorted(again)[1] / n * 1e6:.2f} us/item")


if __name__ == "__main__":
    main()
