"""Loads the shared library argv[1] with ctypes and calls its spin(n) over
and over: nearly all samples are in that library's code. Prints
READY {"pid": N}; runs until killed."""
import ctypes
import json
import os
import sys

lib = ctypes.CDLL(sys.argv[1])
lib.spin.argtypes = [ctypes.c_ulong]
lib.spin.restype = ctypes.c_ulong
print("READY " + json.dumps({"pid": os.getpid()}), flush=True)
while True:
    lib.spin(10_000_000)
