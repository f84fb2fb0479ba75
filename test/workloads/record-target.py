"""A command for `mixprof record` tests: echoes one line of stdin, spins in
spin() for SECONDS of its own CPU time (forever if 0, printing SPINNING once),
then exits with STATUS. CPU time, not the clock's: a busy machine makes the
run longer, not the part of it spent in spin() smaller.
Usage: record-target.py STATUS SECONDS"""
import sys
import time


def spin(seconds):
    end = time.process_time() + seconds if seconds > 0 else None
    x = 0
    announced = False
    while end is None or time.process_time() < end:
        for i in range(10000):
            x = (x * 31 + i) % 1000003
        if not announced and end is None:
            print("SPINNING", flush=True)
            announced = True


def main():
    status, seconds = int(sys.argv[1]), float(sys.argv[2])
    line = sys.stdin.readline()
    print("got " + line.strip(), flush=True)
    spin(seconds)
    print("done", flush=True)
    sys.exit(status)


main()
