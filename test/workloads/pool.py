"""A short multiprocessing pool run, as `pool_app.py fork 15` in the field:
a Pool of WORKERS (argv[1], default 3) forked workers maps pool_task over
TASKS items (argv[2], default 60), each about 30 ms of CPU in
pool_task -> crunch, then the pool is closed and joined. Prints
POOL {"workers": [pids], "cpu": seconds} at the end, cpu being the CPU time
of the reaped workers (os.times), and exits."""
import json
import multiprocessing
import os
import sys

from busywork import crunch

WORKERS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
TASKS = int(sys.argv[2]) if len(sys.argv) > 2 else 60


def pool_task(n):
    return os.getpid(), crunch(n, 300000)


def main():
    before = os.times()
    with multiprocessing.get_context("fork").Pool(WORKERS) as pool:
        results = pool.map(pool_task, range(TASKS), chunksize=1)
        pool.close()
        pool.join()
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    print("POOL " + json.dumps({"workers": sorted({pid for pid, _ in results}), "cpu": cpu}), flush=True)


if __name__ == "__main__":
    main()
