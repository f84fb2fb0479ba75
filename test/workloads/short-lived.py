"""Spins for argv[1] seconds after printing READY, then exits."""
import json
import os
import sys
import time

print("READY " + json.dumps({"pid": os.getpid()}), flush=True)
end = time.time() + float(sys.argv[1])
x = 0
while time.time() < end:
    x = (x + 1) % 1000003
