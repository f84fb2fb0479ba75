"""CPU-bound Python work in threads with known call chains, run until killed,
for timing a target with and without a profiler attached. Prints READY, then
every 100 ms a line "UNITS <seconds> <cpu seconds> <units done>"; a unit is a
fixed amount of work, so units per second is the target's speed."""
import json
import threading
import time

UNIT = 20_000
# Units done, one counter per thread: each thread only adds to its own.
done = [0, 0, 0]


def nested_outer(slot):
    nested_inner(slot)


def nested_inner(slot):
    while True:
        x = 0
        for i in range(UNIT):
            x = (x + i) % 1000003
        done[slot] += 1


class Worker:
    def run(self, slot):
        self.step(slot)

    def step(self, slot):
        while True:
            x = 1
            for _ in range(UNIT):
                x = (x * 3 + 1) % 1000003
            done[slot] += 1


def recurse(depth, slot):
    if depth:
        recurse(depth - 1, slot)
        return
    while True:
        x = 0
        for i in range(UNIT):
            x ^= i
        done[slot] += 1


def main():
    jobs = (nested_outer, Worker().run, lambda slot: recurse(30, slot))
    for slot, job in enumerate(jobs):
        threading.Thread(target=job, args=(slot,), daemon=True).start()
    print("READY " + json.dumps({"unit": UNIT}), flush=True)
    while True:
        time.sleep(0.1)
        print("UNITS %.6f %.6f %d" % (time.monotonic(), time.process_time(), sum(done)), flush=True)


main()
