"""An asyncio service with a known task tree, on the main thread's loop:
  Task-1 (asyncio.run's):  main() gathers the tasks below
    worker-1, worker-2:    worker(n) -> middle(n) -> leaf(n) -> Event.wait()
    supervisor:            supervise(), a TaskGroup whose child is
      grouped-1:           worker(3) -> middle -> leaf -> Event.wait()
    delegator:             delegate(), awaiting its task
      delegate-child:      worker(4) -> middle -> leaf -> Event.wait()
    cruncher:              crunch() -> spin(), on the CPU, yielding now and then
Prints READY {"tid": tid, "waiting": [names]} once the five waiting tasks wait
and the cruncher has spun once; runs until killed, or with an argument, exits
that many seconds later."""
import asyncio
import json
import os
import sys
import threading
import time

WAITING = ["worker-1", "worker-2", "grouped-1", "delegate-child"]
event = None
arrived = 0
all_waiting = None


async def leaf(n):
    global arrived
    arrived += 1
    if arrived == len(WAITING):
        all_waiting.set()
    await event.wait()


async def middle(n):
    await leaf(n)


async def worker(n):
    await middle(n)


async def supervise():
    async with asyncio.TaskGroup() as group:
        group.create_task(worker(3), name="grouped-1")


async def delegate():
    await asyncio.create_task(worker(4), name="delegate-child")


def spin(seconds):
    end = time.perf_counter() + seconds
    total = 0
    while time.perf_counter() < end:
        total += 1
    return total


async def crunch(spun):
    while True:
        spin(0.02)
        spun.set()
        await asyncio.sleep(0)


async def main():
    global event, all_waiting
    event = asyncio.Event()
    all_waiting = asyncio.Event()
    spun = asyncio.Event()
    tasks = [
        asyncio.create_task(worker(1), name="worker-1"),
        asyncio.create_task(worker(2), name="worker-2"),
        asyncio.create_task(supervise(), name="supervisor"),
        asyncio.create_task(delegate(), name="delegator"),
        asyncio.create_task(crunch(spun), name="cruncher"),
    ]

    async def announce():
        await all_waiting.wait()
        await spun.wait()
        print("READY " + json.dumps({"tid": threading.get_native_id(), "waiting": WAITING}), flush=True)
        if len(sys.argv) > 1:
            await asyncio.sleep(float(sys.argv[1]))
            os._exit(0)

    # Gathered too, so that main waits in the gather from the start; it ends once it has spoken.
    await asyncio.gather(*tasks, asyncio.create_task(announce(), name="announce"))


asyncio.run(main())
