"""A gevent service: the standard library monkey-patched, four worker
greenlets that each run worker -> crunch (busywork.py) and then sleep a
little, and a napper that sleeps in time.sleep; gevent's hub waits in libev
in between. argv[1] is the directory gevent and greenlet are imported from
(test/fixtures/pythons.sh greenlet; run with LD_LIBRARY_PATH at its libev).
Prints READY {} once the hub runs; runs until killed."""
import json
import sys

sys.path.insert(0, sys.argv[1])
from gevent import monkey  # noqa: E402

monkey.patch_all()
import time  # noqa: E402

import gevent  # noqa: E402
from busywork import crunch  # noqa: E402


def worker():
    n = 0
    while True:
        crunch(n, 40000)
        n += 1
        gevent.sleep(0.02)


def napper():
    while True:
        time.sleep(0.05)


jobs = [gevent.spawn(worker) for _ in range(4)] + [gevent.spawn(napper)]
gevent.sleep(0.1)
print("READY " + json.dumps({}), flush=True)
gevent.joinall(jobs)
