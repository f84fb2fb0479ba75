/**
 * Where asyncio keeps its tasks, for --async: the fields of a task (its
 * name, its coroutine, and what links it to the task awaiting it), of a
 * coroutine (its embedded frame, and the top of that frame's value stack,
 * which holds what a suspended coroutine awaits), and the objects that hold
 * the tasks. A task's fields come from the _asyncio module: 3.14+ exports
 * them in its AsyncioDebug section; before, from the module's DWARF when it
 * has some, else from the table below (each entry checked against a real
 * build's DWARF by test/unit/async-layout.test.ts).
 */
import type { ElfInfo, NativeAddon } from '../native.js';
import type { PythonLayout } from '../python/layout.js';
import { loadBias } from '../target/elf-load.js';
import { readableFile } from '../target/files.js';
import { isFileMapping, parseMaps, type Mapping } from '../target/maps.js';
import type { MemoryReader } from '../target/memory.js';
import { openTarget, readMapsText } from '../target/process.js';

/** The top of a suspended frame's value stack: a count of slots after localsplus (3.11-3.13), or a pointer past it (3.14+). */
export type StackTop =
  | { readonly kind: 'count'; readonly count: number; readonly localsplus: number }
  /** slotsBack: where the awaited object sits below the pointer (3.15 keeps one more value above it). */
  | { readonly kind: 'pointer'; readonly pointer: number; readonly slotsBack: number };

export interface CoroutineLayout {
  /** The frame embedded in a coroutine object (gi_iframe). */
  readonly frame: number;
  readonly stack: StackTop;
}

export interface TaskLayout {
  readonly name: number;
  readonly coro: number;
  /** 3.11-3.13: the future the task waits for (another task, a gather's future, a plain future). */
  readonly futWaiter: number | null;
  /** 3.11-3.13: the first done-callback and the list of the others (a TaskGroup's child calls back its group). */
  readonly callback0: number | null;
  readonly callbacks: number | null;
  /** 3.11-3.13: the future's state (0: pending; a done task is no longer shown). */
  readonly state: number | null;
  /** 3.11-3.13: the task's event loop (whose _thread_id says which thread runs it). */
  readonly loop: number | null;
  /** 3.14+: the tasks awaiting this one (one object, or a set of them), and the task's link in its thread's list. */
  readonly awaitedBy: number | null;
  readonly awaitedByIsSet: number | null;
  readonly node: number | null;
}

/** 3.14+: each thread state's list of its tasks and its running task; the interpreter's list of tasks whose thread ended. */
export interface TaskLists {
  readonly threadTasksHead: number;
  readonly threadRunningTask: number;
  readonly interpTasksHead: number;
}

/** Objects between the interpreter and the tasks: sets (of weak references to tasks, of awaiting tasks), weak references, bound methods, lists. */
export interface ContainerLayout {
  readonly setUsed: number;
  readonly setMask: number;
  readonly setTable: number;
  readonly weakrefObject: number;
  readonly methodSelf: number;
  readonly listItems: number;
  readonly varSize: number;
}

export interface AsyncLayout {
  readonly coroutine: CoroutineLayout;
  readonly task: TaskLayout;
  /** null before 3.14: the tasks are found through asyncio.tasks' sets. */
  readonly lists: TaskLists | null;
  readonly containers: ContainerLayout;
  /** Where the task's fields came from, for messages. */
  readonly source: string;
}

/** Coroutine fields of a default build (a free-threaded build's object header is 16 bytes longer; frame fields do not move). */
const COROUTINES: Readonly<Record<number, { frame: number; stack: StackTop }>> = {
  11: { frame: 80, stack: { kind: 'count', count: 64, localsplus: 72 } },
  12: { frame: 72, stack: { kind: 'count', count: 64, localsplus: 72 } },
  13: { frame: 72, stack: { kind: 'count', count: 64, localsplus: 72 } },
  14: { frame: 72, stack: { kind: 'pointer', pointer: 64, slotsBack: 1 } },
  15: { frame: 72, stack: { kind: 'pointer', pointer: 64, slotsBack: 2 } },
};

/** TaskObj of a default build, 3.11-3.13 (a free-threaded build's header is 16 bytes longer: every field moves by that). */
const TASKS: Readonly<Record<number, { name: number; coro: number; futWaiter: number; callback0: number; callbacks: number; loop: number; state: number }>> = {
  11: { name: 144, coro: 136, futWaiter: 128, callback0: 24, callbacks: 40, loop: 16, state: 88 },
  12: { name: 144, coro: 136, futWaiter: 128, callback0: 24, callbacks: 40, loop: 16, state: 88 },
  13: { name: 128, coro: 120, futWaiter: 112, callback0: 24, callbacks: 40, loop: 16, state: 96 },
};

const NOT_IMPORTED = 'asyncio is not imported by this process (no _asyncio module is loaded)';

export const ASYNC_MINORS = [11, 12, 13, 14, 15] as const;

/** The members of the tables, as DWARF names them (the test holds the tables to DWARF with these). */
export const TASK_MEMBERS = { name: 'task_name', coro: 'task_coro', futWaiter: 'task_fut_waiter', callback0: 'task_callback0', callbacks: 'task_callbacks', loop: 'task_loop', state: 'task_state' } as const;

/** The coroutine and container fields of version 3.`minor`, moved by the build's object header. */
export function coroutineLayout(minor: number, headerGrowth: number): CoroutineLayout | null {
  const c = COROUTINES[minor];
  return c ? { frame: c.frame + headerGrowth, stack: c.stack } : null;
}

export function tableTaskLayout(minor: number, headerGrowth: number): TaskLayout | null {
  const t = TASKS[minor];
  if (!t) return null;
  const at = (n: number): number => n + headerGrowth;
  return { name: at(t.name), coro: at(t.coro), futWaiter: at(t.futWaiter), callback0: at(t.callback0), callbacks: at(t.callbacks), loop: at(t.loop), state: at(t.state), awaitedBy: null, awaitedByIsSet: null, node: null };
}

function containerLayout(headerGrowth: number): ContainerLayout {
  // PySetObject {fill, used, mask, table}, PyWeakReference {wr_object}, PyMethodObject {im_func, im_self}, PyListObject {ob_size, ob_item}: stable since 3.8.
  const at = (n: number): number => n + headerGrowth;
  return { setUsed: at(24), setMask: at(32), setTable: at(40), weakrefObject: at(16), methodSelf: at(24), listItems: at(24), varSize: at(16) };
}

/** The _asyncio module's file among the mappings: its own extension module, or the interpreter it is built into. */
function asyncioModule(mappings: readonly Mapping[], interpreterPath: string | null): Mapping[] {
  const own = mappings.filter((m) => isFileMapping(m) && /\/_asyncio\.cpython-[^/]*\.so$/.test(m.path));
  if (own.length > 0) return own;
  return interpreterPath ? mappings.filter((m) => m.path === interpreterPath) : [];
}

/** The _asyncio module's debug offsets (3.14+), read from the process: 13 words. */
function fromDebugSection(memory: MemoryReader, address: bigint): { task: TaskLayout; lists: TaskLists } | null {
  const bytes = memory.read(address, 13 * 8);
  if (!bytes) return null;
  const word = (i: number): number => Number(bytes.readBigUInt64LE(i * 8));
  // asyncio_task_object {size, task_name, task_awaited_by, task_is_task, task_awaited_by_is_set, task_coro, task_node},
  // asyncio_interpreter_state {size, asyncio_tasks_head}, asyncio_thread_state {size, asyncio_running_loop, asyncio_running_task, asyncio_tasks_head}.
  const size = word(0);
  const fields = [word(1), word(2), word(4), word(5), word(6)];
  if (size === 0 || size > 4096 || fields.some((f) => f === 0 || f >= size)) return null;
  return {
    task: { name: word(1), awaitedBy: word(2), awaitedByIsSet: word(4), coro: word(5), node: word(6), futWaiter: null, callback0: null, callbacks: null, loop: null, state: null },
    lists: { interpTasksHead: word(8), threadRunningTask: word(11), threadTasksHead: word(12) },
  };
}

/** notYet: asyncio may still be imported (a layout found later). */
export type AsyncLayoutResult = { readonly layout: AsyncLayout } | { readonly problem: string; readonly notYet?: boolean };

/**
 * The asyncio layout of process pid, whose interpreter is described by
 * python (its module at interpreterPath, null when unknown).
 */
export function findAsyncLayout(addon: NativeAddon, memory: MemoryReader, pid: number, python: PythonLayout, interpreterPath: string | null): AsyncLayoutResult {
  const { minor } = python.version;
  if (python.version.major !== 3 || minor < 11) return { problem: `asyncio tasks are read from CPython 3.11 on (this is ${python.version.major}.${minor})` };
  const headerGrowth = python.objectType - 8;
  const coroutine = coroutineLayout(minor, headerGrowth);
  if (!coroutine) return { problem: `mixprof does not know CPython 3.${minor}'s coroutines yet` };
  const containers = containerLayout(headerGrowth);
  const mapsText = readMapsText(pid);
  const mappings = mapsText === null ? [] : parseMaps(mapsText);
  const module = asyncioModule(mappings, interpreterPath);
  if (module.length === 0 && minor >= 14) return { problem: NOT_IMPORTED, notYet: true };
  let file: string | null = null;
  try {
    file = module.length > 0 ? readableFile(addon, openTarget(pid), module[0]!) : null;
  } catch {
    file = null;
  }
  if (minor >= 14) {
    let elf: ElfInfo | null = null;
    let section: { address: bigint; size: number } | undefined;
    try {
      elf = file ? addon.elfInfo(file) : null;
      section = file ? addon.lookupSections(file, ['.AsyncioDebug'])['.AsyncioDebug'] : undefined;
    } catch {
      return { problem: `cannot read ${module[0]!.path}, where asyncio's debug offsets are` };
    }
    const bias = elf ? loadBias(elf, module) : null;
    // No _asyncio module of its own, and the interpreter has none built in.
    if (!section) return { problem: NOT_IMPORTED, notYet: true };
    const found = bias !== null ? fromDebugSection(memory, bias + section.address) : null;
    if (!found) return { problem: `cannot read the asyncio debug offsets of ${module[0]!.path}` };
    return { layout: { coroutine, task: found.task, lists: found.lists, containers, source: `the AsyncioDebug section of ${module[0]!.path}` } };
  }
  const fromDwarf = file ? taskLayoutFromDwarf(addon, file) : null;
  if (fromDwarf) return { layout: { coroutine, task: fromDwarf, lists: null, containers, source: `DWARF in ${module[0]!.path}` } };
  const table = tableTaskLayout(minor, headerGrowth);
  if (!table) return { problem: `mixprof does not know CPython 3.${minor}'s tasks yet` };
  return { layout: { coroutine, task: table, lists: null, containers, source: `mixprof's table for CPython 3.${minor}` } };
}

/** TaskObj's fields from a file's DWARF; null when it has none (a stripped build). */
export function taskLayoutFromDwarf(addon: NativeAddon, file: string): TaskLayout | null {
  let members: Record<string, { offset: number } | null> | undefined;
  try {
    if (!addon.elfInfo(file).hasDebugInfo) return null;
    members = addon.structLayout(file, [{ type: 'TaskObj', members: Object.values(TASK_MEMBERS) }])[0]?.members;
  } catch {
    return null;
  }
  const at = (name: string): number | null => members?.[name]?.offset ?? null;
  const name = at(TASK_MEMBERS.name);
  const coro = at(TASK_MEMBERS.coro);
  const futWaiter = at(TASK_MEMBERS.futWaiter);
  if (name === null || coro === null || futWaiter === null) return null;
  return { name, coro, futWaiter, callback0: at(TASK_MEMBERS.callback0), callbacks: at(TASK_MEMBERS.callbacks), loop: at(TASK_MEMBERS.loop), state: at(TASK_MEMBERS.state), awaitedBy: null, awaitedByIsSet: null, node: null };
}
