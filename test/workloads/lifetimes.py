"""Threads with known lives, for wall-clock accounting: a spinner (CPU-bound)
and a sleeper, alive throughout; and, when a line "go" comes on stdin, a
short-lived thread that spins for 1.5 s and ends. Prints
READY {"spinner": tid, "sleeper": tid, "main": tid} once both run, and
LIVED {"tid": tid, "seconds": s} when the short one has ended (s: from its
first line to its last, by the monotonic clock). Runs until killed."""
import json
import sys
import threading
import time

tids = {"main": threading.get_native_id()}
started = threading.Barrier(3)


def spin():
    tids["spinner"] = threading.get_native_id()
    started.wait()
    n = 0
    while True:
        n = (n * 31 + 7) % 1000003


def sleep():
    tids["sleeper"] = threading.get_native_id()
    started.wait()
    while True:
        time.sleep(3600)


def short_life(lived):
    begin = time.monotonic()
    n = 0
    while time.monotonic() - begin < 1.5:
        n = (n * 31 + 7) % 1000003
    lived.update(tid=threading.get_native_id(), seconds=time.monotonic() - begin)


for target in (spin, sleep):
    threading.Thread(target=target, daemon=True).start()
started.wait()
print("READY " + json.dumps(tids), flush=True)
for line in sys.stdin:
    if line.strip() == "go":
        lived = {}
        t = threading.Thread(target=short_life, args=(lived,))
        t.start()
        t.join()
        print("LIVED " + json.dumps(lived), flush=True)
threading.Event().wait()
