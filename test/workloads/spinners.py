"""Two threads spinning in pure Python, taking turns at the GIL (each on a CPU
about half the time, waiting for the GIL the other half), and the main thread
waiting. Prints READY {"a": tid, "b": tid, "main": tid}; runs until killed."""
import json
import threading

tids = {"main": threading.get_native_id()}
started = threading.Barrier(3)


def spin(name):
    tids[name] = threading.get_native_id()
    started.wait()
    n = 0
    while True:
        n = (n * 31 + 7) % 1000003


for name in ("a", "b"):
    threading.Thread(target=spin, args=(name,), daemon=True).start()
started.wait()
print("READY " + json.dumps(tids), flush=True)
threading.Event().wait()
