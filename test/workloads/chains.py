# -*- coding: utf-8 -*-
"""Threads that each spend their time in one known call chain.

Each chain's leaf records the interpreter's own view of its stack (via
sys._getframe) the first time it runs; once every chain has done so, the
main thread prints one line: READY {"chains": {name: {"tid": N, "stack": [...]}},
"gil_enabled": false only in a free-threaded build running without the GIL}
with stacks root first. Runs until killed. Python 3.8+.
"""
import json
import os
import sys
import threading
import xml.parsers.expat
import zlib

_seen = {}
_lock = threading.Lock()
_all_ready = threading.Event()
CHAINS = ["nested", "method", "closure", "generator", "recursion", "unicode", "callback", "zlib", "read", "expat"]


def _qualname(code):
    return getattr(code, "co_qualname", code.co_name)


def record(name):
    """Called from a chain's leaf (or, for native leaves, its last Python frame)."""
    if name in _seen:
        return
    stack = []
    frame = sys._getframe(1)
    while frame is not None:
        stack.append(_qualname(frame.f_code))
        frame = frame.f_back
    with _lock:
        _seen[name] = {"tid": threading.get_native_id(), "stack": stack[::-1]}
        if len(_seen) == len(CHAINS):
            _all_ready.set()


def nested_outer():
    nested_middle()


def nested_middle():
    nested_inner()


def nested_inner():
    record("nested")
    x = 0
    while True:
        x = (x + 1) % 1000003


class Worker:
    def run(self):
        self.step()

    def step(self):
        record("method")
        x = 0
        while True:
            x = (x * 3 + 1) % 1000003


def make_closure():
    state = [0]

    def inner():
        record("closure")
        while True:
            state[0] = (state[0] + 7) % 1000003

    return inner


def closure_driver():
    make_closure()()


def gen_producer():
    record("generator")
    x = 0
    while True:
        for _ in range(20000):
            x = (x + 3) % 1000003
        yield x


def gen_consumer():
    for _ in gen_producer():
        pass


def recurse(n):
    if n > 0:
        recurse(n - 1)
        return
    record("recursion")
    x = 0
    while True:
        x = (x + 5) % 1000003


def recursion_driver():
    recurse(100)


def 计算():
    record("unicode")
    x = 0
    while True:
        x = (x + 11) % 1000003


def größe_berechnen():
    计算()


def sort_key(item):
    record("callback")
    x = item
    for _ in range(20000):
        x = (x * 7 + 1) % 1000003
    return x


def sort_driver():
    data = list(range(64))
    while True:
        sorted(data, key=sort_key)


def zlib_driver():
    data = os.urandom(1 << 16) * 16
    record("zlib")
    while True:
        zlib.compress(data, 9)


def read_driver():
    # Large reads: each GIL hand-off buys milliseconds in the kernel.
    fd = os.open("/dev/zero", os.O_RDONLY)
    record("read")
    while True:
        os.read(fd, 32 << 20)


def expat_handler(name, attrs):
    # Called back from C: pyexpat -> libexpat -> pyexpat -> here.
    record("expat")
    # Long enough that pyexpat's own work around each callback (argument
    # tuples, name decoding, the parser's set-up) stays near 1% of the chain.
    x = 0
    for _ in range(100000):
        x = (x * 5 + 3) % 1000003


def expat_driver():
    doc = b"<r>" + b"<e/>" * 64 + b"</r>"
    while True:
        parser = xml.parsers.expat.ParserCreate()
        parser.StartElementHandler = expat_handler
        parser.Parse(doc, True)


TARGETS = {
    "nested": nested_outer,
    "method": lambda: Worker().run(),
    "closure": closure_driver,
    "generator": gen_consumer,
    "recursion": recursion_driver,
    "unicode": größe_berechnen,
    "callback": sort_driver,
    "zlib": zlib_driver,
    "read": read_driver,
    "expat": expat_driver,
}


def main():
    for name in CHAINS:
        threading.Thread(target=TARGETS[name], name=name, daemon=True).start()
    if not _all_ready.wait(60):
        print("NOT READY " + json.dumps(sorted(_seen)), flush=True)
        sys.exit(1)
    gil_enabled = getattr(sys, "_is_gil_enabled", lambda: True)()
    print("READY " + json.dumps({"chains": _seen, "pid": os.getpid(), "gil_enabled": gil_enabled}), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
