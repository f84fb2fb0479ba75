"""Calls a library loop without call frame information (argv[1], built from
test/fixtures/no-cfi/spin.s) from Python, over and over: kernel_call ->
spin_no_cfi. Prints READY {} once running; runs until killed."""
import ctypes
import sys

lib = ctypes.CDLL(sys.argv[1])


def kernel_call():
    lib.spin_no_cfi(ctypes.c_long(50_000_000))


def main():
    kernel_call()
    print("READY {}", flush=True)
    while True:
        kernel_call()


main()
