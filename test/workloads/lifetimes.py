"""Threads with known lives, for wall-clock accounting: a spinner (CPU-bound)
and a sleeper, alive throughout; and, when a line "go" comes on stdin, a
short-lived thread that spins for 1.5 s and ends. Prints
READY {"spinner": tid, "sleeper": tid, "main": tid} once both run, and
LIVED {"tid": tid, "seconds": s, "outer": o} when the short one has ended
(s: from its first line to its last, by the monotonic clock; o: from before
it was started to after it was joined, which holds the kernel's thread's
whole life: its start and its end wait for the GIL). Runs until killed."""
import json
import sys
import threading
import time

tids = {"main": threading.get_native_id()}
started = threading.Barrier(3)


def run(name, seconds, lived):
    """Spins for `seconds` (for ever: None), or with name "sleeper" sleeps."""
    begin = time.monotonic()
    tids[name] = threading.get_native_id()
    if seconds is None:
        started.wait()
    n = 0
    while name == "sleeper":
        time.sleep(3600)
    while seconds is None or time.monotonic() - begin < seconds:
        n = (n * 31 + 7) % 1000003
    lived.update(tid=tids[name], seconds=time.monotonic() - begin)


for name in ("spinner", "sleeper"):
    threading.Thread(target=run, args=(name, None, {}), daemon=True).start()
started.wait()
print("READY " + json.dumps(tids), flush=True)
for line in sys.stdin:
    if line.strip() == "go":
        lived = {}
        short = threading.Thread(target=run, args=("short", 1.5, lived))
        before = time.monotonic()
        short.start()
        short.join()
        lived["outer"] = time.monotonic() - before
        print("LIVED " + json.dumps(lived), flush=True)
threading.Event().wait()
