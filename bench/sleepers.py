"""For the wall-clock mode's cost: N threads that wake every 10 ms (each wake
makes a fresh off-CPU sample necessary), N threads asleep for good (repeat
records), and one spinning thread. Prints READY when they all run."""
import json
import sys
import threading
import time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 25
started = threading.Barrier(2 * n + 2)


def wake_often():
    started.wait()
    while True:
        time.sleep(0.01)


def sleep_for_good():
    started.wait()
    threading.Event().wait()


def spin():
    started.wait()
    x = 0
    while True:
        x = (x * 31 + 7) % 1000003


for target in [wake_often] * n + [sleep_for_good] * n + [spin]:
    threading.Thread(target=target, daemon=True).start()
started.wait()
print("READY " + json.dumps({"threads": 2 * n + 1}), flush=True)
threading.Event().wait()
