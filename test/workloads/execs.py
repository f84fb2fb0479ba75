"""Spins in spin_before_exec until a line arrives on stdin, then replaces
itself (exec) with the program named on that line and its arguments, e.g.
"/bin/sleep 1000". Prints READY {} once spinning."""
import json
import os
import sys
import threading


def spin_before_exec():
    n = 0
    while True:
        n = (n * 31 + 7) % 1000003


threading.Thread(target=spin_before_exec, daemon=True).start()
print("READY " + json.dumps({}), flush=True)
argv = sys.stdin.readline().split()
os.execv(argv[0], argv)
