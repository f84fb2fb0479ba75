"""A process stuck as users find theirs: two threads deadlocked on two locks,
one asleep and one blocked in a C library's call, each in a known chain with
known locals.
  first:   take_first(order="a-then-b") -> grab_second(held=1, waited=2.5)
           -> lock_b.acquire, lock_b held by second
  second:  take_second(order="b-then-a") -> grab_first(held=2, note=b"xy")
           -> lock_a.acquire, lock_a held by first
  sleeper: nap(seconds=100000.0, label="zzz", flag=True, nothing=None,
           items=[1, 2, 3]) -> time.sleep
  in_c:    call_into_c(what="pause") -> libc's pause() through ctypes
The main thread waits in join. Prints
READY {"first": tid, "second": tid, "sleeper": tid, "in_c": tid, "main": tid}
once the two threads hold their first lock and are about to take the other,
and the others are about to sleep and to call; runs until killed."""
import ctypes
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


def call_into_c(what):
    getattr(ctypes.CDLL(None), what)()


def block_in_c():
    tids["in_c"] = threading.get_native_id()
    calling.set()
    call_into_c("pause")


ready = threading.Event()
calling = threading.Event()
threads = [
    threading.Thread(target=take_first, args=("a-then-b",), name="first"),
    threading.Thread(target=take_second, args=("b-then-a",), name="second"),
    threading.Thread(target=sleep_long, name="sleeper"),
    threading.Thread(target=block_in_c, name="in_c"),
]
for thread in threads:
    thread.start()
both_hold.wait()
ready.wait()
calling.wait()
tids["main"] = threading.get_native_id()
print("READY " + json.dumps(tids), flush=True)
for thread in threads:
    thread.join()
