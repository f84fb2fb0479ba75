"""A fixed amount of CPU-bound Python work in threads with known call chains
(run one after another),
for timing a target with and without a profiler attached. Prints READY, waits
for a line on stdin, does the work, prints DONE <seconds>, exits."""
import json
import sys
import threading
import time

ITERATIONS = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000_000


def nested_outer(n):
    return nested_inner(n)


def nested_inner(n):
    x = 0
    for i in range(n):
        x = (x + i) % 1000003
    return x


class Worker:
    def run(self, n):
        return self.step(n)

    def step(self, n):
        x = 1
        for _ in range(n):
            x = (x * 3 + 1) % 1000003
        return x


def recurse(depth, n):
    if depth:
        return recurse(depth - 1, n)
    x = 0
    for i in range(n):
        x ^= i
    return x


def main():
    jobs = [lambda: nested_outer(ITERATIONS), lambda: Worker().run(ITERATIONS), lambda: recurse(30, ITERATIONS)]
    threads = [threading.Thread(target=job) for job in jobs]
    print("READY " + json.dumps({"iterations": ITERATIONS}), flush=True)
    sys.stdin.readline()
    start = time.perf_counter()
    # One thread at a time: threads that fight over the GIL make the time
    # swing by tens of percent from run to run, which would hide the effect
    # being measured.
    for t in threads:
        t.start()
        t.join()
    print("DONE %.6f" % (time.perf_counter() - start), flush=True)


main()
