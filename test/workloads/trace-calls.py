"""Known calls for `mixprof trace`: after "go" on stdin, `rounds` rounds of
caller() calling callee() twice, each callee doing a fixed amount of work in
one line of C-level looping (so that it runs no Python calls or lines of its
own); then `rounds` recursions, DEPTH + 1 calls of recurse() deep. The
workload times all three itself, then collects garbage `collections`
times and imports a module it has not imported yet (the first time), and
prints "DONE {json}"; again at each "go".
Between rounds of input it blocks on stdin, running no Python code. With
"forever" instead of a number of rounds, it runs rounds without end."""
import gc
import json
import os
import sys
import time

# "forever": rounds without end and without input (a container's workload).
FOREVER = sys.argv[1] == "forever"
ROUNDS = 0 if FOREVER else int(sys.argv[1])
WORK = int(sys.argv[2]) if len(sys.argv) > 2 else 40000
COLLECTIONS = 3

DEPTH = 4
timing = {"callee_ns": 0, "caller_ns": 0, "recurse_ns": 0}


def callee():
    start = time.perf_counter_ns()
    total = sum(range(WORK))
    timing["callee_ns"] += time.perf_counter_ns() - start
    return total


def caller():
    start = time.perf_counter_ns()
    result = callee() + callee()
    timing["caller_ns"] += time.perf_counter_ns() - start
    return result


def recurse(depth):
    if depth:
        return recurse(depth - 1)
    return sum(range(WORK))


def timed_recursion():
    start = time.perf_counter_ns()
    recurse(DEPTH)
    timing["recurse_ns"] += time.perf_counter_ns() - start


print("READY " + json.dumps({"pid": os.getpid()}), flush=True)
while FOREVER:
    caller()
for line in sys.stdin:
    if line.strip() != "go":
        break
    timing["callee_ns"] = timing["caller_ns"] = timing["recurse_ns"] = 0
    start = time.perf_counter_ns()
    for _ in range(ROUNDS):
        caller()
    elapsed_ns = time.perf_counter_ns() - start
    for _ in range(ROUNDS):
        timed_recursion()
    for _ in range(COLLECTIONS):
        gc.collect()
    import colorsys  # noqa: F401  (not imported before: one import to see)
    print("DONE " + json.dumps({"rounds": ROUNDS, "depth": DEPTH, "collections": COLLECTIONS, "elapsed_ns": elapsed_ns, **timing}), flush=True)
