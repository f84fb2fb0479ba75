"""A parent that starts workers, as gunicorn or multiprocessing do: a forked
multiprocessing worker spinning in fork_worker_spin, and a separate
interpreter (fork + exec) spinning in exec_worker_spin. The parent waits in
parent_waits. Prints READY {"parent": pid, "fork": pid, "exec": pid} once
both workers run their spin functions. Runs until killed, or with
`--for SECONDS` exits after that long, or with `--until-eof` when its stdin
closes; the workers die with the parent (a parent-death signal)."""
import ctypes
import json
import multiprocessing
import os
import subprocess
import sys
import time


def die_with_parent():
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, 9)


def fork_worker_spin(ready):
    die_with_parent()
    ready.send("fork")
    n = 0
    while True:
        n = (n * 31 + 7) % 1000003


def exec_worker_spin():
    die_with_parent()
    sys.stdout.write("spinning\n")
    sys.stdout.flush()
    n = 0
    while True:
        n = (n * 31 + 7) % 1000003


def parent_waits(fork_worker, exec_worker):
    # Blocks until killed; the workers die with it.
    exec_worker.wait()
    fork_worker.join()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "exec-worker":
        exec_worker_spin()
        return
    ctx = multiprocessing.get_context("fork")
    here, there = ctx.Pipe()
    fork_worker = ctx.Process(target=fork_worker_spin, args=(there,), daemon=True)
    fork_worker.start()
    exec_worker = subprocess.Popen([sys.executable, os.path.abspath(__file__), "exec-worker"], stdout=subprocess.PIPE)
    assert here.recv() == "fork"
    assert exec_worker.stdout.readline() == b"spinning\n"
    print("READY " + json.dumps({"parent": os.getpid(), "fork": fork_worker.pid, "exec": exec_worker.pid}), flush=True)
    if len(sys.argv) > 2 and sys.argv[1] == "--for":
        time.sleep(float(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--until-eof":
        sys.stdin.read()
        return
    parent_waits(fork_worker, exec_worker)


if __name__ == "__main__":
    main()
