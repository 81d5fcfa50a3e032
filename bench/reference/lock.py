"""Measures an uncontended multiprocessing.Lock: nanoseconds per acquire+release in one process."""
# Usage: python3 lock.py [N]   (N: acquire+release pairs, 1,000,000 by default)
# Prints: mp.Lock acquire+release: X ns   (bench/run.sh reads this line)
#
# The Lock is a POSIX named semaphore (sem_open) on Linux; acquire is sem_wait (sem_trywait
# first), release sem_post. The 100,000 pairs before the timed loop warm the code paths up.
import multiprocessing
import sys
import time


def main():
    if len(sys.argv) > 2 or (len(sys.argv) == 2 and (not sys.argv[1].isdigit() or int(sys.argv[1]) < 1)):
        sys.exit("usage: python3 lock.py [N]   (N >= 1)")
    n = int(sys.argv[1]) if len(sys.argv) == 2 else 1_000_000
    lock = multiprocessing.Lock()
    for _ in range(100_000):
        lock.acquire()
        lock.release()
    start = time.perf_counter()
    for _ in range(n):
        lock.acquire()
        lock.release()
    elapsed = time.perf_counter() - start
    print(f"mp.Lock acquire+release: {elapsed / n * 1e9:.0f} ns")


if __name__ == "__main__":
    main()
