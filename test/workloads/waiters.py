"""Threads that spend their time off CPU in known chains, and one on CPU:
  napper:  nap_outer -> nap_inner -> time.sleep (short sleeps, over and over)
  sleeper: doze -> time.sleep (one long sleep)
  locked:  wait_outer -> wait_for_lock -> Lock.acquire on a lock held forever
  reader:  read_request -> socket.recv on a socket nobody writes to
  spinner: spin (CPU-bound)
Prints READY {"napper": tid, "sleeper": tid, "locked": tid, "reader": tid,
"spinner": tid}
once every thread has started; runs until killed."""
import json
import socket
import threading
import time

held = threading.Lock()
held.acquire()
tids = {}
started = threading.Barrier(6)
quiet, _unused_peer = socket.socketpair()


def nap_inner():
    while True:
        time.sleep(0.02)


def nap_outer():
    tids["napper"] = threading.get_native_id()
    started.wait()
    nap_inner()


def doze():
    tids["sleeper"] = threading.get_native_id()
    started.wait()
    time.sleep(100000)


def wait_for_lock():
    held.acquire()


def wait_outer():
    tids["locked"] = threading.get_native_id()
    started.wait()
    wait_for_lock()


def read_request():
    tids["reader"] = threading.get_native_id()
    started.wait()
    quiet.recv(1)


def spin():
    tids["spinner"] = threading.get_native_id()
    started.wait()
    n = 0
    while True:
        n = (n * 31 + 7) % 1000003


for target in (nap_outer, doze, wait_outer, read_request, spin):
    threading.Thread(target=target, daemon=True).start()
started.wait()
print("READY " + json.dumps(tids), flush=True)
threading.Event().wait()
