"""Threads with Python names the kernel does not know before 3.14: two
workers started with names (one longer than the kernel's 15 characters, one
not ASCII), one renamed after it started, and the main thread, all spinning
in pure Python. Prints READY {name: tid}; runs until killed."""
import json
import threading

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
print("READY " + json.dumps(tids), flush=True)
n = 0
while True:
    n = (n * 31 + 7) % 1000003
