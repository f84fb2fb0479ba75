"""A process whose names attack the terminal that shows them: its hot
function's name (and qualname) and source file name, the name of the thread
running it (Python's and the kernel's) and the process's own name (comm) hold escape sequences (OSC 52
writing the clipboard, OSC 0 setting the title, erase-line, reverse video),
BEL, CR, a newline, DEL, a C1 control (CSI) and a bidi override. One thread
spins in the function; the main thread waits. Prints
READY {"tid": N, "function": ..., "file": ..., "thread": ..., "comm": ...};
runs until killed."""
import ctypes
import json
import threading
import time

FUNCTION = "\x1b]52;c;UFdORUQ=\x07\x1b]0;PWNED\x07\x1b[2K\r\x7f\x9b\u202einnocent"
FILE = "x\x1b[1m\r.py"
# A task's name is at most 15 bytes.
THREAD = "t\x1b[7m\x07\r\n\x7f\u202e"
COMM = "p\x1b]0;X\x07\r\x7f\u202e"
PR_SET_NAME = 15

libc = ctypes.CDLL(None, use_errno=True)


def set_task_name(name):
    raw = name.encode()
    assert len(raw) <= 15, name
    if libc.prctl(PR_SET_NAME, ctypes.c_char_p(raw), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NAME)")


def spin(deadline):
    n = 0
    while time.thread_time() < deadline:
        for _ in range(1000):
            n = (n * 31 + 7) % 1000003
    return n


changes = {"co_name": FUNCTION, "co_filename": FILE}
if hasattr(spin.__code__, "co_qualname"):
    changes["co_qualname"] = FUNCTION
spin.__code__ = spin.__code__.replace(**changes)

ready = threading.Event()
tid = []


def run():
    set_task_name(THREAD)
    tid.append(threading.get_native_id())
    ready.set()
    while True:
        spin(time.thread_time() + 0.05)


set_task_name(COMM)
threading.Thread(target=run, name=THREAD, daemon=True).start()
ready.wait()
print("READY " + json.dumps({"tid": tid[0], "function": FUNCTION, "file": FILE, "thread": THREAD, "comm": COMM}), flush=True)
while True:
    time.sleep(60)
