"""A process stuck as users find theirs: two threads deadlocked on two locks
and one asleep, each in a known chain with known locals.
  first:   take_first(order="a-then-b") -> grab_second(held=1, waited=2.5)
           -> lock_b.acquire, lock_b held by second
  second:  take_second(order="b-then-a") -> grab_first(held=2, note=b"xy")
           -> lock_a.acquire, lock_a held by first
  sleeper: nap(seconds=100000.0, label="zzz", flag=True, nothing=None,
           items=[1, 2, 3]) -> time.sleep
The main thread waits in join. Prints
READY {"first": tid, "second": tid, "sleeper": tid, "main": tid}
once the two threads hold their first lock and are about to take the other,
and the sleeper is about to sleep; runs until killed."""
import json
import threading
import time

lock_a = threading.Lock()
lock_b = threading.Lock()
both_hold = threading.Barrier(3)
tids = {}


def grab_second(held, waited):
    lock_b.acquire()


def take_first(order):
    tids["first"] = threading.get_native_id()
    with lock_a:
        both_hold.wait()
        grab_second(1, 2.5)


def grab_first(held, note):
    lock_a.acquire()


def take_second(order):
    tids["second"] = threading.get_native_id()
    with lock_b:
        both_hold.wait()
        grab_first(2, b"xy")


def nap(seconds, label, flag, nothing, items):
    time.sleep(seconds)


def sleep_long():
    tids["sleeper"] = threading.get_native_id()
    ready.set()
    nap(100000.0, "zzz", True, None, [1, 2, 3])


ready = threading.Event()
threads = [
    threading.Thread(target=take_first, args=("a-then-b",), name="first"),
    threading.Thread(target=take_second, args=("b-then-a",), name="second"),
    threading.Thread(target=sleep_long, name="sleeper"),
]
for thread in threads:
    thread.start()
both_hold.wait()
ready.wait()
tids["main"] = threading.get_native_id()
print("READY " + json.dumps(tids), flush=True)
for thread in threads:
    thread.join()
