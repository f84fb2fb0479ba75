/**
 * Reads a process's asyncio tasks from its memory: each task's name, its
 * coroutine chain (the task's coroutine, then each coroutine it awaits, as
 * far as coroutines go: a Future's iterator or a C awaitable ends it), the
 * tasks awaiting it, whether it runs now, and which thread's loop runs it.
 *
 * 3.14+ lists a thread's tasks in its thread state and records who awaits a
 * task in the task (gather, TaskGroup and `await task` all record it). Before,
 * tasks are found through asyncio.tasks' sets, and who awaits a task is read
 * from the awaiting side: a task waiting on another task, or on a gather's
 * future (its _children), or a TaskGroup's child calling back its group
 * (whose _parent_task awaits it).
 *
 * Everything is read while the process runs: a torn or stale read gives a
 * task fewer links or frames, never an exception.
 */
import type { RawPythonFrame } from '../python/captured.js';
import { lookupStr, readAttributes, readDict, readInt } from '../python/dicts.js';
import type { PythonLayout } from '../python/layout.js';
import { typeNameOf } from '../python/locals.js';
import { readPyUnicode } from '../python/unicode.js';
import { interpreterState, readFrame, threadKey, threadStates } from '../python/walk.js';
import { readPointer, type MemoryReader } from '../target/memory.js';
import type { AsyncLayout } from './async-layout.js';

export type TaskThread = { readonly tid: number } | { readonly ident: bigint };

export interface RawTask {
  readonly address: bigint;
  readonly name: string;
  /** The tasks awaiting this one, by address (usually one; none for a root). */
  readonly awaitedBy: readonly bigint[];
  /** Its coroutine chain, outermost first. */
  readonly frames: readonly RawPythonFrame[];
  /** Running now (the current task of its loop). */
  readonly running: boolean;
  /** The thread whose loop runs it, by kernel tid (3.14+) or by pthread ident (before); null when unknown. */
  readonly thread: TaskThread | null;
}

/** Bounds that keep garbage cheap: more tasks, coroutines deep, thread states than a process has. */
const MAX_TASKS = 100_000;
const MAX_CHAIN = 64;
const MAX_THREADS = 4096;
const MAX_GATHER_DEPTH = 8;
/** Object pointers in 3.14+ stack references carry tag bits. */
const UNTAG = ~7n;

export class TaskGraphReader {
  /** The asyncio.tasks module's globals, once found (3.11-3.13). */
  private tasksModule: { readonly all: bigint | null; readonly eager: bigint | null; readonly current: bigint | null } | null = null;

  constructor(
    private readonly memory: MemoryReader,
    private readonly python: PythonLayout,
    private readonly async: AsyncLayout,
    private readonly runtimeAddress: bigint,
  ) {}

  /** Every task of the process now; empty when asyncio is not in use (or not yet). */
  read(): RawTask[] {
    return this.async.lists ? this.readLists() : this.readSets();
  }

  private readLists(): RawTask[] {
    const lists = this.async.lists!;
    const found: { address: bigint; running: boolean; thread: TaskThread | null }[] = [];
    const seen = new Set<bigint>();
    const collect = (head: bigint, running: bigint, thread: TaskThread | null): void => {
      for (let node = readPointer(this.memory, head); node !== 0n && node !== head && found.length < MAX_TASKS; node = readPointer(this.memory, node)) {
        const address = node - BigInt(this.async.task.node!);
        if (seen.has(address)) break;
        seen.add(address);
        found.push({ address, running: address === running, thread });
      }
    };
    for (const ts of threadStates(this.memory, this.python, this.runtimeAddress, MAX_THREADS)) {
      const running = readPointer(this.memory, ts + BigInt(lists.threadRunningTask)) & UNTAG;
      const key = threadKey(this.memory, this.python, ts);
      collect(ts + BigInt(lists.threadTasksHead), running, this.python.thread.threadKeyIsFsbase ? null : { tid: Number(key) });
    }
    const interp = interpreterState(this.memory, this.python, this.runtimeAddress);
    if (interp !== 0n) collect(interp + BigInt(lists.interpTasksHead), 0n, null);
    const tasks: RawTask[] = [];
    for (const { address, running, thread } of found) {
      const task = this.readTask(address, running, thread, this.awaitedByOf(address));
      if (task) tasks.push(task);
    }
    return tasks;
  }

  /** 3.14+: the tasks recorded as awaiting this one. */
  private awaitedByOf(task: bigint): bigint[] {
    const t = this.async.task;
    const awaiting = readPointer(this.memory, task + BigInt(t.awaitedBy!)) & UNTAG;
    if (awaiting === 0n) return [];
    const isSet = this.memory.read(task + BigInt(t.awaitedByIsSet!), 1)?.[0] ?? 0;
    return isSet ? this.setItems(awaiting) : [awaiting];
  }

  private readSets(): RawTask[] {
    const python = this.python;
    const objects = python.objects;
    if (!objects) return [];
    this.tasksModule ??= this.findTasksModule();
    const module = this.tasksModule;
    if (!module) return [];
    const addresses = new Set<bigint>();
    // A WeakSet keeps its weak references in the set under its attribute `data`.
    const weakSet = module.all === null ? null : readAttributes(this.memory, python, module.all);
    const data = weakSet && lookupStr(this.memory, python, weakSet, 'data');
    for (const ref of data ? this.setItems(data) : []) {
      const task = readPointer(this.memory, ref + BigInt(this.async.containers.weakrefObject));
      if (task !== 0n) addresses.add(task);
    }
    for (const task of module.eager === null ? [] : this.setItems(module.eager)) addresses.add(task);
    const current = new Set((module.current === null ? null : readDict(this.memory, objects, module.current))?.map((item) => item.value) ?? []);
    const links = new Map<bigint, bigint[]>();
    const link = (child: bigint, parent: bigint): void => {
      const parents = links.get(child) ?? [];
      if (!parents.includes(parent)) parents.push(parent);
      links.set(child, parents);
    };
    const t = this.async.task;
    for (const task of addresses) {
      // Awaiting a task, or a gather of them.
      const waiter = readPointer(this.memory, task + BigInt(t.futWaiter!));
      if (waiter !== 0n) {
        if (addresses.has(waiter)) link(waiter, task);
        else for (const child of this.gathered(waiter, 0)) if (addresses.has(child)) link(child, task);
      }
      // A TaskGroup's child: its group's done-callback leads to the task the group runs in.
      for (const parent of this.groupParents(task)) if (addresses.has(parent)) link(task, parent);
    }
    const threads = new Map<bigint, TaskThread | null>();
    const tasks: RawTask[] = [];
    for (const address of addresses) {
      const loop = t.loop === null ? 0n : readPointer(this.memory, address + BigInt(t.loop));
      if (!threads.has(loop)) threads.set(loop, this.loopThread(loop));
      const task = this.readTask(address, current.has(address), threads.get(loop) ?? null, links.get(address) ?? []);
      if (task) tasks.push(task);
    }
    return tasks;
  }

  private findTasksModule(): { all: bigint | null; eager: bigint | null; current: bigint | null } | null {
    const o = this.python.objects!;
    const interp = interpreterState(this.memory, this.python, this.runtimeAddress);
    const modules = interp === 0n ? 0n : readPointer(this.memory, interp + BigInt(o.interpModules));
    const loaded = modules === 0n ? null : readDict(this.memory, o, modules);
    const module = loaded && lookupStr(this.memory, this.python, loaded, 'asyncio.tasks');
    const globals = module ? readDict(this.memory, o, readPointer(this.memory, module + BigInt(o.moduleDict))) : null;
    if (!globals) return null;
    const all = lookupStr(this.memory, this.python, globals, this.python.version.minor >= 12 ? '_scheduled_tasks' : '_all_tasks');
    return { all, eager: lookupStr(this.memory, this.python, globals, '_eager_tasks'), current: lookupStr(this.memory, this.python, globals, '_current_tasks') };
  }

  /** The tasks a gather's future (_GatheringFuture) waits for, through gathers of gathers. */
  private gathered(future: bigint, depth: number): bigint[] {
    if (depth > MAX_GATHER_DEPTH || this.typeName(future) !== '_GatheringFuture') return [];
    const attributes = readAttributes(this.memory, this.python, future);
    const children = attributes && lookupStr(this.memory, this.python, attributes, '_children');
    const items = children ? this.listItems(children) : [];
    return items.flatMap((child) => (this.typeName(child) === '_GatheringFuture' ? this.gathered(child, depth + 1) : [child]));
  }

  /** The task a TaskGroup child's group runs in, from the child's done-callbacks (bound methods of the group). */
  private groupParents(task: bigint): bigint[] {
    const t = this.async.task;
    const callbacks: bigint[] = [];
    if (t.callback0 !== null) callbacks.push(readPointer(this.memory, task + BigInt(t.callback0)));
    const list = t.callbacks === null ? 0n : readPointer(this.memory, task + BigInt(t.callbacks));
    const tupleItems = this.python.locals?.tupleItems;
    if (list !== 0n && tupleItems !== undefined) {
      // Each further callback is a (callback, context) tuple.
      for (const pair of this.listItems(list)) callbacks.push(readPointer(this.memory, pair + BigInt(tupleItems)));
    }
    const parents: bigint[] = [];
    for (const callback of callbacks) {
      if (callback === 0n || this.typeName(callback) !== 'method') continue;
      const group = readPointer(this.memory, callback + BigInt(this.async.containers.methodSelf));
      if (group === 0n || this.typeName(group) !== 'TaskGroup') continue;
      const attributes = readAttributes(this.memory, this.python, group);
      const parent = attributes && lookupStr(this.memory, this.python, attributes, '_parent_task');
      if (parent) parents.push(parent);
    }
    return parents;
  }

  /** The pthread ident of the thread running a loop (BaseEventLoop._thread_id, None when it does not run). */
  private loopThread(loop: bigint): TaskThread | null {
    const attributes = loop === 0n ? null : readAttributes(this.memory, this.python, loop);
    const ident = attributes && lookupStr(this.memory, this.python, attributes, '_thread_id');
    const value = ident ? readInt(this.memory, this.python.objects!, ident) : null;
    return value !== null && value > 0n ? { ident: value } : null;
  }

  private readTask(address: bigint, running: boolean, thread: TaskThread | null, awaitedBy: readonly bigint[]): RawTask | null {
    const t = this.async.task;
    // A done task stays in the sets while something holds it: not waiting for anything, not shown.
    if (t.state !== null && this.memory.read(address + BigInt(t.state), 4)?.readInt32LE(0) !== 0) return null;
    const coro = readPointer(this.memory, address + BigInt(t.coro)) & UNTAG;
    const name = this.taskName(readPointer(this.memory, address + BigInt(t.name)) & UNTAG);
    if (coro === 0n || name === null) return null;
    return { address, name, awaitedBy: awaitedBy.filter((a) => a !== address), frames: this.chain(coro), running, thread };
  }

  /** A task's name: a str, or (3.12+, until asked for) the number of "Task-N". */
  private taskName(object: bigint): string | null {
    if (object === 0n) return null;
    const type = this.typeName(object);
    if (type === 'str') return readPyUnicode(this.memory, this.python.unicode, object);
    if (type === 'int') {
      const n = readInt(this.memory, this.python.objects!, object);
      return n === null ? null : `Task-${n}`;
    }
    return null;
  }

  /** The coroutine chain from coro, outermost first: each suspended coroutine's stack top is what it awaits. */
  chain(coro: bigint): RawPythonFrame[] {
    const { frame: frameAt, stack } = this.async.coroutine;
    const frames: RawPythonFrame[] = [];
    const coroutineType = readPointer(this.memory, coro + BigInt(this.python.objectType));
    for (let current = coro; current !== 0n && frames.length < MAX_CHAIN; ) {
      const frame = current + BigInt(frameAt);
      const raw = readFrame(this.memory, this.python, frame);
      if (raw.code === 0n) break;
      frames.push(raw);
      let top = 0n;
      if (stack.kind === 'count') {
        const count = this.memory.read(frame + BigInt(stack.count), 4)?.readInt32LE(0) ?? 0;
        if (count > 0 && count < 1 << 16) top = readPointer(this.memory, frame + BigInt(stack.localsplus + (count - 1) * 8));
      } else {
        const pointer = readPointer(this.memory, frame + BigInt(stack.pointer));
        if (pointer > frame) top = readPointer(this.memory, pointer - BigInt(8 * stack.slotsBack)) & UNTAG;
      }
      // Only a coroutine awaiting a coroutine goes on; a running frame's stack top is whatever it holds, which this check also stops at.
      if (top === 0n || top === current || readPointer(this.memory, top + BigInt(this.python.objectType)) !== coroutineType) break;
      current = top;
    }
    return frames;
  }

  private typeName(object: bigint): string | null {
    const o = this.python.locals;
    return o ? typeNameOf(this.memory, this.python, o, object) : null;
  }

  /** A set's members (its table's live keys). */
  private setItems(set: bigint): bigint[] {
    const c = this.async.containers;
    const head = this.memory.read(set + BigInt(c.setUsed), c.setTable - c.setUsed + 8);
    if (!head) return [];
    const used = Number(head.readBigInt64LE(0));
    const mask = Number(head.readBigInt64LE(c.setMask - c.setUsed));
    const table = head.readBigUInt64LE(c.setTable - c.setUsed);
    if (used <= 0 || used > MAX_TASKS || mask < 0 || mask >= 1 << 22 || table === 0n) return [];
    // Entries {key, hash}; a removed key leaves a dummy whose hash is -1.
    const entries = this.memory.read(table, (mask + 1) * 16);
    if (!entries) return [];
    const items: bigint[] = [];
    for (let i = 0; i <= mask && items.length < used; i++) {
      const key = entries.readBigUInt64LE(i * 16);
      if (key !== 0n && entries.readBigInt64LE(i * 16 + 8) !== -1n) items.push(key);
    }
    return items;
  }

  private listItems(list: bigint): bigint[] {
    const c = this.async.containers;
    const size = Number(this.memory.read(list + BigInt(c.varSize), 8)?.readBigInt64LE(0) ?? 0n);
    const items = readPointer(this.memory, list + BigInt(c.listItems));
    if (size <= 0 || size > MAX_TASKS || items === 0n) return [];
    const bytes = this.memory.read(items, size * 8);
    return bytes ? Array.from({ length: size }, (_, i) => bytes.readBigUInt64LE(i * 8)) : [];
  }
}
