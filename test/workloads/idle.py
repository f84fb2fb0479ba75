"""Threads parked in known call chains that never change: READY, then waits."""
import json
import threading

ready = threading.Barrier(3)


def park_outer(event):
    park_inner(event)


def park_inner(event):
    ready.wait()
    event.wait()


def main_waits():
    stop = threading.Event()
    threading.Thread(target=park_outer, args=(stop,), daemon=True).start()
    threading.Thread(target=park_outer, args=(stop,), daemon=True).start()
    ready.wait()
    print("READY " + json.dumps({}), flush=True)
    stop.wait()


main_waits()
