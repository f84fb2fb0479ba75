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
import { frameFromBytes, frameReadSize, interpreterState, threadKey, threadStates } from '../python/walk.js';
import { readPointer, type MemoryReader } from '../target/memory.js';
import type { AsyncLayout } from './async-layout.js';

export type TaskThread = { readonly tid: number } | { readonly ident: bigint };

export interface RawTask {
  readonly address: bigint;
  readonly name: string;
  /** Named by asyncio ("Task-N"), not by the program. */
  readonly autoNamed: boolean;
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
/** The names asyncio gives tasks the program did not name. */
const AUTO_NAME = /^Task-\d+$/;
/** Value-stack slots read with a coroutine's frame (one read): deeper stacks take a read of their own. */
const STACK_SLOTS = 24;
/** How long a type's name is trusted (a heap type freed and its address reused would be named wrongly for at most this). */
const TYPE_NAMES_MS = 1000;
/** Object pointers in 3.14+ stack references carry tag bits. */
const UNTAG = ~7n;

/** A chain being read: which one, the coroutine to read next, the type a coroutine of it has, and the words of the awaiter that named it. */
interface Link {
  readonly i: number;
  readonly current: bigint;
  readonly type: bigint;
  readonly named: { readonly instrAt: bigint; readonly instr: bigint; readonly topAt: bigint } | null;
}

export class TaskGraphReader {
  /** The asyncio.tasks module's globals, once found (3.11-3.13). */
  private tasksModule: { readonly all: bigint | null; readonly eager: bigint | null; readonly current: bigint | null } | null = null;

  /** Each task's struct, read once per look. */
  private taskBytes = new Map<bigint, Buffer | null>();
  /** Code objects' first lines, and objects' types, read once per look. */
  private firstLines = new Map<bigint, number>();
  private objectTypes = new Map<bigint, bigint>();
  /** Types' names and tasks' names (str objects never change), trusted for TYPE_NAMES_MS. */
  private typeNames = new Map<bigint, string | null>();
  private taskNames = new Map<bigint, { text: string; auto: boolean } | null>();
  private namesAt = -Infinity;
  private readonly taskSize: number;
  private readonly coroutineSize: number;

  constructor(
    private readonly memory: MemoryReader,
    private readonly python: PythonLayout,
    private readonly async: AsyncLayout,
    private readonly runtimeAddress: bigint,
  ) {
    const t = async.task;
    this.taskSize = Math.max(...[t.name, t.coro, t.futWaiter, t.callback0, t.callbacks, t.loop, t.state, t.awaitedBy, t.awaitedByIsSet, t.node].filter((v): v is number => v !== null)) + 8;
    const { frame, stack } = async.coroutine;
    const stackEnd = stack.kind === 'count' ? Math.max(stack.count, stack.localsplus) : stack.pointer;
    this.coroutineSize = frame + Math.max(frameReadSize(python), stackEnd + 8) + STACK_SLOTS * 8;
  }

  /** Every task of the process now; empty when asyncio is not in use (or not yet). */
  read(): RawTask[] {
    this.taskBytes = new Map();
    this.firstLines = new Map();
    this.objectTypes = new Map();
    if (performance.now() - this.namesAt > TYPE_NAMES_MS) {
      this.typeNames = new Map();
      this.taskNames = new Map();
      this.namesAt = performance.now();
    }
    return this.async.lists ? this.readLists() : this.readSets();
  }

  /** Reads the structs of tasks not read yet this look, in one go. */
  private prefetchTasks(tasks: readonly bigint[]): void {
    const wanted = [...new Set(tasks)].filter((task) => task !== 0n && !this.taskBytes.has(task));
    const read = this.memory.readMany(wanted, wanted.map(() => this.taskSize));
    wanted.forEach((task, i) => this.taskBytes.set(task, read[i] ?? null));
  }

  /** Reads the types of objects not known yet this look, in one go. */
  private prefetchTypes(objects: readonly bigint[]): void {
    const wanted = [...new Set(objects)].filter((o) => o !== 0n && !this.objectTypes.has(o));
    const read = this.memory.readMany(
      wanted.map((o) => o + BigInt(this.python.objectType)),
      wanted.map(() => 8),
    );
    wanted.forEach((o, i) => this.objectTypes.set(o, read[i]?.readBigUInt64LE(0) ?? 0n));
  }

  /** A pointer-sized field of a task (0n when it cannot be read). */
  private taskField(task: bigint, offset: number | null): bigint {
    if (offset === null) return 0n;
    let bytes = this.taskBytes.get(task);
    if (bytes === undefined) {
      bytes = this.memory.read(task, this.taskSize);
      this.taskBytes.set(task, bytes);
    }
    return bytes ? bytes.readBigUInt64LE(offset) : 0n;
  }

  private readLists(): RawTask[] {
    const lists = this.async.lists!;
    const found: { address: bigint; running: boolean; thread: TaskThread | null }[] = [];
    const seen = new Set<bigint>();
    const nodeAt = this.async.task.node!;
    const collect = (head: bigint, running: bigint, thread: TaskThread | null): void => {
      // Each node is read with its task's struct: the next link comes with the task's fields.
      for (let node = readPointer(this.memory, head); node !== 0n && node !== head && found.length < MAX_TASKS; node = this.taskField(node - BigInt(nodeAt), nodeAt)) {
        const address = node - BigInt(nodeAt);
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
    return this.readTasks(found.map((f) => ({ ...f, awaitedBy: this.awaitedByOf(f.address) })));
  }

  /** 3.14+: the tasks recorded as awaiting this one. */
  private awaitedByOf(task: bigint): bigint[] {
    const t = this.async.task;
    const awaiting = this.taskField(task, t.awaitedBy) & UNTAG;
    if (awaiting === 0n) return [];
    const isSet = (this.taskField(task, t.awaitedByIsSet) & 0xffn) !== 0n;
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
    const refs = data ? this.setItems(data) : [];
    const referents = this.memory.readMany(
      refs.map((ref) => ref + BigInt(this.async.containers.weakrefObject)),
      refs.map(() => 8),
    );
    for (const referent of referents) {
      const task = referent ? referent.readBigUInt64LE(0) : 0n;
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
    this.prefetchTasks([...addresses]);
    this.prefetchTypes([...addresses].flatMap((task) => [this.taskField(task, t.futWaiter), this.taskField(task, t.callback0)]));
    for (const task of addresses) {
      // Awaiting a task, or a gather of them.
      const waiter = this.taskField(task, t.futWaiter);
      if (waiter !== 0n) {
        if (addresses.has(waiter)) link(waiter, task);
        else for (const child of this.gathered(waiter, 0)) if (addresses.has(child)) link(child, task);
      }
      // A TaskGroup's child: its group's done-callback leads to the task the group runs in.
      for (const parent of this.groupParents(task)) if (addresses.has(parent)) link(task, parent);
    }
    const threads = new Map<bigint, TaskThread | null>();
    const found = [...addresses].map((address) => {
      const loop = this.taskField(address, t.loop);
      if (!threads.has(loop)) threads.set(loop, this.loopThread(loop));
      return { address, running: current.has(address), thread: threads.get(loop) ?? null, awaitedBy: links.get(address) ?? [] };
    });
    return this.readTasks(found);
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
    const callbacks = [this.taskField(task, t.callback0)];
    const list = this.taskField(task, t.callbacks);
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

  /** The tasks found, with their names and coroutine chains (read for all tasks at once). */
  private readTasks(found: readonly { address: bigint; running: boolean; thread: TaskThread | null; awaitedBy: readonly bigint[] }[]): RawTask[] {
    const t = this.async.task;
    this.prefetchTasks(found.map((f) => f.address));
    // A done task stays in the sets while something holds it: not waiting for anything, not shown.
    const pending = found.filter((f) => t.state === null || (this.taskField(f.address, t.state) & 0xffffffffn) === 0n);
    const names = pending.map((f) => this.taskField(f.address, t.name) & UNTAG);
    this.prefetchTypes(names);
    const chains = this.chains(pending.map((f) => this.taskField(f.address, t.coro) & UNTAG));
    const tasks: RawTask[] = [];
    pending.forEach((f, i) => {
      const name = this.taskName(names[i]!);
      // 3.12+ keeps asyncio's own names as their number (auto); 3.11 as the text asyncio made.
      if (name === null || chains[i]!.length === 0) return;
      tasks.push({ address: f.address, name: name.text, autoNamed: name.auto, awaitedBy: f.awaitedBy.filter((a) => a !== f.address), frames: chains[i]!, running: f.running, thread: f.thread });
    });
    return tasks;
  }

  /** A task's name: a str, or (3.12+, until asked for) the number of "Task-N"; auto when asyncio chose it. */
  private taskName(object: bigint): { text: string; auto: boolean } | null {
    if (object === 0n) return null;
    const known = this.taskNames.get(object);
    if (known !== undefined) return known;
    const name = this.readTaskName(object);
    this.taskNames.set(object, name);
    return name;
  }

  private readTaskName(object: bigint): { text: string; auto: boolean } | null {
    const type = this.typeName(object);
    if (type === 'str') {
      const text = readPyUnicode(this.memory, this.python.unicode, object);
      return text === null ? null : { text, auto: AUTO_NAME.test(text) };
    }
    if (type === 'int') {
      const n = readInt(this.memory, this.python.objects!, object);
      return n === null ? null : { text: `Task-${n}`, auto: true };
    }
    return null;
  }

  /**
   * The coroutine chain from each coroutine, outermost first: each
   * suspended coroutine's stack top is what it awaits. All chains go a level
   * deeper together, each level in a few reads. A coroutine the one above
   * awaited may be done and its memory reused by the time its level is read
   * (a server's handler awaits a new coroutine every request): each is read
   * together with the words of the one above that named it, and a chain
   * whose awaiter moved on meanwhile is read again on its own.
   */
  chains(coros: readonly bigint[]): RawPythonFrame[][] {
    const result = coros.map((): RawPythonFrame[] => []);
    this.prefetchTypes(coros);
    // A chain goes on through coroutines of its first one's type.
    let live: Link[] = coros.flatMap((coro, i) => (coro === 0n ? [] : [{ i, current: coro, type: this.objectTypes.get(coro) ?? 0n, named: null }]));
    const torn = new Set<number>();
    for (let depth = 0; depth < MAX_CHAIN && live.length > 0; depth++) {
      const { frames, next } = this.level(live);
      live.forEach((l, k) => {
        const frame = frames[k];
        if (frame === 'torn') torn.add(l.i);
        else if (frame) result[l.i]!.push(frame);
      });
      live = next.filter((l) => !torn.has(l.i));
    }
    for (const i of torn) result[i] = this.chainAlone(coros[i]!);
    return result;
  }

  /** One coroutine of each chain: its frame (or 'torn': its awaiter moved on), and what each awaits next. */
  private level(live: readonly Link[]): { frames: (RawPythonFrame | 'torn' | null)[]; next: Link[] } {
    const { frame: frameAt, stack } = this.async.coroutine;
    // Each coroutine, its frame and the start of its value stack in one read, then the awaiter's words that named it.
    const checked = live.filter((l) => l.named !== null);
    const read = this.memory.readMany(
      [...live.map((l) => l.current), ...checked.flatMap((l) => [l.named!.instrAt, l.named!.topAt])],
      [...live.map(() => this.coroutineSize), ...checked.flatMap(() => [8, 8])],
    );
    const moved = new Set<Link>();
    checked.forEach((l, k) => {
      const instr = read[live.length + 2 * k]?.readBigUInt64LE(0);
      const top = read[live.length + 2 * k + 1]?.readBigUInt64LE(0);
      if (instr !== l.named!.instr || top === undefined || (top & UNTAG) !== l.current) moved.add(l);
    });
    const blocks = read.slice(0, live.length);
    this.prefetchFirstLines(blocks.map((bytes) => frameFromBytes(bytes ?? null, frameAt, this.python, () => 0).code));
    const frames: (RawPythonFrame | 'torn' | null)[] = [];
    const next: Link[] = [];
    live.forEach((l, k) => {
      const bytes = blocks[k];
      if (moved.has(l)) return frames.push('torn');
      const raw = frameFromBytes(bytes ?? null, frameAt, this.python, (code) => this.firstLines.get(code) ?? 0);
      if (!bytes || raw.code === 0n) return frames.push(null);
      frames.push(raw);
      const word = (at: number): bigint => (at >= 0 && at + 8 <= bytes.length ? bytes.readBigUInt64LE(at) : readPointer(this.memory, l.current + BigInt(at)));
      let topAt = -1;
      if (stack.kind === 'count') {
        const count = bytes.readInt32LE(frameAt + stack.count);
        if (count > 0 && count < 1 << 16) topAt = frameAt + stack.localsplus + (count - 1) * 8;
      } else {
        const pointer = word(frameAt + stack.pointer);
        if (pointer > l.current + BigInt(frameAt) && pointer - l.current < 1n << 20n) topAt = Number(pointer - l.current) - 8 * stack.slotsBack;
      }
      const top = topAt < 0 ? 0n : word(topAt) & UNTAG;
      if (top !== 0n && top !== l.current) {
        const instrAt = frameAt + this.python.frame.instr;
        next.push({ i: l.i, current: top, type: l.type, named: { instrAt: l.current + BigInt(instrAt), instr: word(instrAt), topAt: l.current + BigInt(topAt) } });
      }
    });
    // Only a coroutine awaiting a coroutine goes on; a running frame's stack top is whatever it holds, which this check also stops at.
    this.prefetchTypes(next.map((l) => l.current));
    return { frames, next: next.filter((l) => this.objectTypes.get(l.current) === l.type) };
  }

  /** One chain read on its own, a coroutine at a time (its awaiter moved on while all were read together); cut where it moves on again. */
  private chainAlone(coro: bigint): RawPythonFrame[] {
    const frames: RawPythonFrame[] = [];
    let live: Link[] = [{ i: 0, current: coro, type: this.objectTypes.get(coro) ?? 0n, named: null }];
    for (let depth = 0; depth < MAX_CHAIN && live.length > 0; depth++) {
      const { frames: found, next } = this.level(live);
      const frame = found[0];
      if (!frame || frame === 'torn') break;
      frames.push(frame);
      live = next;
    }
    return frames;
  }

  private prefetchFirstLines(codes: readonly bigint[]): void {
    const wanted = [...new Set(codes)].filter((c) => c !== 0n && !this.firstLines.has(c));
    const read = this.memory.readMany(
      wanted.map((c) => c + BigInt(this.python.code.firstLineNo)),
      wanted.map(() => 4),
    );
    wanted.forEach((c, i) => this.firstLines.set(c, read[i]?.readUInt32LE(0) ?? 0));
  }

  /** An object's type's name; names of types seen in the last second are not read again. */
  private typeName(object: bigint): string | null {
    const o = this.python.locals;
    if (!o) return null;
    let type = this.objectTypes.get(object);
    if (type === undefined) this.objectTypes.set(object, (type = readPointer(this.memory, object + BigInt(this.python.objectType))));
    if (type === 0n) return null;
    let name = this.typeNames.get(type);
    if (name === undefined) this.typeNames.set(type, (name = typeNameOf(this.memory, this.python, o, object)));
    return name;
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
