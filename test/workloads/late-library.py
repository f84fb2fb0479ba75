"""Loads a C extension and its library only when told: prints READY, waits for
a line on stdin, then imports bz2 (the _bz2 module and libbz2), prints LOADED
and compresses in a loop."""
import os
import sys

print("READY {}", flush=True)
sys.stdin.readline()
import bz2  # noqa: E402  (loaded late on purpose)

data = os.urandom(1 << 16) * 8
print("LOADED", flush=True)
while True:
    bz2.compress(data, 9)
