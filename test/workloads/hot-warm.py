"""One thread alternating between two known chains by its own CPU time:
<module> -> outer -> hot -> spin_until (30 ms each round) and
<module> -> outer -> warm -> spin_until (10 ms), so hot has about 3/4 of the
samples and warm 1/4, however often the thread is preempted on a busy
machine. Prints READY {"tid": N}; runs until killed."""
import json
import threading
import time


def spin_until(deadline):
    n = 0
    while time.thread_time() < deadline:
        n = (n * 31 + 7) % 1000003


def hot():
    spin_until(time.thread_time() + 0.03)


def warm():
    spin_until(time.thread_time() + 0.01)


def outer():
    while True:
        hot()
        warm()


print("READY " + json.dumps({"tid": threading.get_native_id()}), flush=True)
outer()
