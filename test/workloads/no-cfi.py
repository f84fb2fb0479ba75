"""Calls a library loop without call frame information (argv[1], built from
test/fixtures/no-cfi/spin.s) from Python, over and over: kernel_call ->
spin_no_cfi; or the library routine argv[2] of another library (one
test/fixtures/unnamed/loop.c builds: fde_entry). Prints READY {} once
running; runs until killed."""
import ctypes
import sys

lib = ctypes.CDLL(sys.argv[1])
routine = getattr(lib, sys.argv[2] if len(sys.argv) > 2 else "spin_no_cfi")


def kernel_call():
    routine(ctypes.c_long(50_000_000))


def main():
    kernel_call()
    print("READY {}", flush=True)
    while True:
        kernel_call()


main()
