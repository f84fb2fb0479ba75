"""Phases one after another in the main thread, known in time, beside a
worker thread that spins the whole while (both hold the GIL to run, so each
waits for it in turn):
  phase_one:     pure Python for SECONDS
  phase_two:     pure Python for SECONDS
  phase_collect: gc.collect() over 200,000 objects in cycles, again and
                 again, for SECONDS
Prints READY {"main": tid, "worker": tid} once both run; the phases start
when a line comes on stdin ("go"), and DONE {"phase_one": [start, end], ...}
(CLOCK_MONOTONIC ns, the clock the kernel times samples by) when they are
over; then it exits. Argument: SECONDS (default 1). Python 3.8+.
"""
import gc
import json
import sys
import threading
import time

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
stop = threading.Event()
worker_tid = []
started = threading.Event()


class Node:
    def __init__(self):
        self.me = self


def spin_until(deadline):
    # Pure Python arithmetic, the clock read every 1000 steps.
    total = 1
    while time.monotonic_ns() < deadline:
        total = sum((total + i) & 0xFFFF for i in range(1000))
    return total


def phase_one():
    return spin_until(time.monotonic_ns() + int(SECONDS * 1e9))


def phase_two():
    return spin_until(time.monotonic_ns() + int(SECONDS * 1e9))


def phase_collect():
    garbage = [Node() for _ in range(200_000)]
    deadline = time.monotonic_ns() + int(SECONDS * 1e9)
    while time.monotonic_ns() < deadline:
        gc.collect()
    return len(garbage)


def work():
    worker_tid.append(threading.get_native_id())
    started.set()
    total = 1
    while not stop.is_set():
        total = sum((total ^ i) & 0xFFFF for i in range(1000))


def main():
    worker = threading.Thread(target=work, name="worker", daemon=True)
    worker.start()
    started.wait()
    print("READY " + json.dumps({"main": threading.get_native_id(), "worker": worker_tid[0]}), flush=True)
    sys.stdin.readline()
    times = {}
    for phase in (phase_one, phase_two, phase_collect):
        start = time.monotonic_ns()
        phase()
        times[phase.__name__] = [start, time.monotonic_ns()]
    stop.set()
    worker.join()
    print("DONE " + json.dumps(times), flush=True)


main()
