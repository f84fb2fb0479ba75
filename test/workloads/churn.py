"""Threads that start and end all the time: the main thread keeps about 20
short-lived workers going, each running short_task for a few milliseconds,
several hundred threads a second. Prints READY {"started": N} once the first
hundred have come and gone; runs until killed."""
import json
import threading

started = 0


def short_task():
    n = 0
    for i in range(20000):
        n = (n * 31 + i) % 1000003
    return n


def churn_loop():
    global started
    alive = []
    while True:
        alive = [t for t in alive if t.is_alive()]
        while len(alive) < 20:
            t = threading.Thread(target=short_task)
            t.start()
            alive.append(t)
            started += 1
            if started == 100:
                print("READY " + json.dumps({"started": started}), flush=True)


churn_loop()
