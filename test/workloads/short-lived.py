"""Spins after printing READY, then exits (status 0): for argv[1] seconds, or
with "-" until its stdin is closed (a test ends it when it has seen what it
needs, whatever the machine's speed)."""
import json
import os
import sys
import threading
import time

print("READY " + json.dumps({"pid": os.getpid()}), flush=True)
if sys.argv[1] == "-":
    closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
    done = closed.is_set
else:
    end = time.time() + float(sys.argv[1])
    done = lambda: time.time() >= end  # noqa: E731
x = 0
while not done():
    x = (x + 1) % 1000003
