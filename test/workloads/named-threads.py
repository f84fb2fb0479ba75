"""Threads with Python names the kernel does not know before 3.14: two
workers started with names (one longer than the kernel's 15 characters, one
not ASCII), one renamed after it started, and the main thread, all spinning
in pure Python. With the argument "fork", a forked child does all that while
the parent waits for it (and takes it with it when killed). Prints
READY {"pid": P, "threads": {name: tid}}
(P the process that runs the threads); runs until killed."""
import ctypes
import json
import os
import sys
import threading

if len(sys.argv) > 1 and sys.argv[1] == "fork":
    if os.fork() != 0:
        os.wait()
        sys.exit(0)
    ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG: SIGKILL when the parent dies

tids = {threading.current_thread().name: threading.get_native_id()}
started = threading.Barrier(4)


def spin():
    tids[threading.current_thread().name] = threading.get_native_id()
    started.wait()
    n = 0
    while True:
        n = (n * 31 + 7) % 1000003


threading.Thread(target=spin, name="ingest-worker-with-a-long-name", daemon=True).start()
threading.Thread(target=spin, name="trätt-ø", daemon=True).start()
renamed = threading.Thread(target=spin, daemon=True)
renamed.start()
started.wait()
del tids[renamed.name]
renamed.name = "renamed-later"
tids[renamed.name] = renamed.native_id
print("READY " + json.dumps({"pid": os.getpid(), "threads": tids}), flush=True)
n = 0
while True:
    n = (n * 31 + 7) % 1000003
