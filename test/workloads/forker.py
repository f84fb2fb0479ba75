"""Forks children that end at once, as a forking server's do when they are
short: most of a child's life is the fork's own return (copy-on-write faults,
the interpreter's after-fork work), before its interpreter has taken its
thread as its own. Prints READY {"pid": pid}, then forks until killed."""
import json
import os


def fork_child():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


# Memory the child's first writes copy, as a server's heap is.
ballast = [bytearray(4096) for _ in range(4096)]
print("READY " + json.dumps({"pid": os.getpid()}), flush=True)
while True:
    fork_child()
