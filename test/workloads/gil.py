"""Threads whose relation to the GIL is known:
  spinner: spin (pure Python: it holds the GIL whenever it runs)
  hasher:  hash_outer -> hash_block -> hashlib.sha256 over 16 MiB, again and
           again; hashlib releases the GIL while it hashes more than 2047
           bytes, so it burns CPU without the GIL
  sleeper: doze -> time.sleep (off CPU, without the GIL)
Prints READY {"spinner": tid, "hasher": tid, "sleeper": tid} once every
thread has started; runs until killed. Python 3.8+.
"""
import hashlib
import json
import threading
import time

BLOCK = b"\x5a" * (16 << 20)
tids = {}
started = threading.Barrier(4)


def spin():
    tids["spinner"] = threading.get_native_id()
    started.wait()
    n = 0
    while True:
        n = (n * 31 + 7) % 1000003


def hash_block():
    return hashlib.sha256(BLOCK).digest()


def hash_outer():
    tids["hasher"] = threading.get_native_id()
    started.wait()
    while True:
        hash_block()


def doze():
    tids["sleeper"] = threading.get_native_id()
    started.wait()
    time.sleep(100000)


for target in (spin, hash_outer, doze):
    threading.Thread(target=target, daemon=True).start()
started.wait()
print("READY " + json.dumps(tids), flush=True)
threading.Event().wait()
