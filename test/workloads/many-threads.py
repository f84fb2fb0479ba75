"""Many threads: busy_first spins in the first thread started, then N threads
(default 2000) wait on an event, then busy_last spins in the last one. The
interpreter keeps its thread states newest first, so busy_first's is at the
far end of the list. Prints READY {"first": tid, "last": tid, "threads": N}
once all run; runs until killed."""
import json
import sys
import threading

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
threading.stack_size(64 * 1024)
tids = {}
forever = threading.Event()
# The busy threads spin only once all are started: spinning, they would hold
# up every thread start by the GIL's switch interval.
go = threading.Event()


def spin():
    x = 0
    while True:
        x = (x * 31 + 7) % 1000003


def busy_first(ready):
    tids["first"] = threading.get_native_id()
    ready.set()
    go.wait()
    spin()


def busy_last(ready):
    tids["last"] = threading.get_native_id()
    ready.set()
    go.wait()
    spin()


def start(target):
    ready = threading.Event()
    threading.Thread(target=target, args=(ready,), daemon=True).start()
    ready.wait()


start(busy_first)
for _ in range(n):
    threading.Thread(target=forever.wait, daemon=True).start()
start(busy_last)
go.set()
print("READY " + json.dumps({"first": tids["first"], "last": tids["last"], "threads": n}), flush=True)
forever.wait()
