"""A pre-forking server that recycles its workers, as gunicorn does with
--max-requests: the master keeps WORKERS workers (argv[1], default 2); each
forked worker serves REQUESTS requests (argv[2], default 40), each about
20 ms of CPU in handle_request -> render_page -> checksum_page, then exits,
and the master forks a new one. The master prints
READY {"master": pid} once its first workers run, and for each worker that
ends EXITED {"pid": pid, "cpu": seconds, "life": seconds} with the CPU time
os.wait4 reports for it and the time from its fork to its reaping. It runs
until its stdin closes; the workers die with the master (a parent-death
signal). With "decimal" (argv[3]), each worker imports the _decimal C
extension after its fork, as a worker of a server that does not preload
its application does, and each request also spends about 20 ms in it
(decimal_work), which the master never loads."""
import ctypes
import json
import os
import select
import sys
import time

WORKERS = int(sys.argv[1]) if len(sys.argv) > 1 else 2
REQUESTS = int(sys.argv[2]) if len(sys.argv) > 2 else 40
LATE_EXTENSION = len(sys.argv) > 3 and sys.argv[3] == "decimal"


def checksum_page(page):
    total = 0
    for ch in page:
        total = (total * 31 + ord(ch)) % 1000003
    return total


def render_page(n):
    return "".join(str((n * i) % 97) for i in range(50000))


def decimal_work(n, decimal):
    context = decimal.Context(prec=300)
    x = decimal.Decimal(n + 2)
    end = time.process_time() + 0.02
    while time.process_time() < end:
        x = context.ln(context.sqrt(x) + 3)


def handle_request(n, decimal=None):
    if decimal is not None:
        decimal_work(n, decimal)
    return checksum_page(render_page(n))


def worker_main():
    ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG: SIGKILL when the master dies
    decimal = None
    if LATE_EXTENSION:
        import _decimal as decimal
    for n in range(REQUESTS):
        handle_request(n, decimal)
    os._exit(0)


forked = {}


def spawn():
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        worker_main()
    forked[pid] = started
    return pid


def master_main():
    workers = {spawn() for _ in range(WORKERS)}
    print("READY " + json.dumps({"master": os.getpid()}), flush=True)
    stdin = sys.stdin.fileno()
    while True:
        pid, status, usage = os.wait4(-1, 0)
        workers.discard(pid)
        life = time.monotonic() - forked.pop(pid)
        print("EXITED " + json.dumps({"pid": pid, "cpu": usage.ru_utime + usage.ru_stime, "life": life, "status": status}), flush=True)
        if select.select([stdin], [], [], 0)[0] and os.read(stdin, 4096) == b"":
            break
        workers.add(spawn())
    for pid in workers:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    master_main()
