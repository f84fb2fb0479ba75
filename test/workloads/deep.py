"""One thread whose Python stack is exactly DEPTH frames deep (argv[1]), spinning
in the innermost frame. Prints READY {"depth": N, "tid": T} once there."""
import json
import sys
import threading

TARGET = int(sys.argv[1])


def deep(n):
    if n > 0:
        deep(n - 1)
        return
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back
    print("READY " + json.dumps({"depth": depth, "tid": threading.get_native_id()}), flush=True)
    x = 0
    while True:
        x = (x + 1) % 1000003


# <module> and deep's own frames: deep(TARGET - 2) makes TARGET frames in all.
deep(TARGET - 2)
