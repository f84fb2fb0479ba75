"""Greenlets taking turns, as gevent's hub and its greenlets do: the main
greenlet switches to each of three worker greenlets in turn; each runs
worker -> crunch (busywork.py), then switches back. argv[1] is the directory greenlet is
imported from (test/fixtures/pythons.sh greenlet). Prints READY {} once the
workers have run; runs until killed."""
import json
import sys

sys.path.insert(0, sys.argv[1])
import greenlet  # noqa: E402
from busywork import crunch  # noqa: E402


def worker(hub):
    n = 0
    while True:
        crunch(n, 20000)
        n += 1
        hub.switch()


def main():
    hub = greenlet.getcurrent()
    workers = [greenlet.greenlet(worker) for _ in range(3)]
    for w in workers:
        w.switch(hub)
    print("READY " + json.dumps({}), flush=True)
    while True:
        for w in workers:
            w.switch()


main()
