"""The demo workload for `npm run demo`: a tiny service loop with a pure-Python
hot spot, a C-extension call (zlib), a Python -> C -> Python callback (sorted
with a key function) and a syscall-heavy reader. Prints READY when running."""
import json
import os
import threading
import zlib


def parse_record(i):
    total = 0
    for ch in str(i) * 20:
        total = (total * 31 + ord(ch)) % 1000003
    return total


def handle_request(n):
    records = [parse_record(i) for i in range(n)]
    return sorted(records, key=lambda r: parse_record(r))


def compress_payload():
    payload = os.urandom(1 << 14) * 32
    while True:
        zlib.compress(payload, 6)


def read_config():
    fd = os.open("/dev/zero", os.O_RDONLY)
    while True:
        os.read(fd, 1 << 19)


def serve():
    while True:
        handle_request(200)


for target in (compress_payload, read_config):
    threading.Thread(target=target, daemon=True).start()
print("READY " + json.dumps({"pid": os.getpid()}), flush=True)
serve()
