/**
 * --async's pure parts: the forest of tasks and each task's frames above its
 * own (awaiters, markers), the re-rooting of a running task's stacks, the
 * task sampler's counts over time; coroutine chains read from memory that
 * changes under the reader; and its tables held to real builds'
 * DWARF (the _asyncio modules of pyenv's 3.11-3.13 and trixie's 3.13t, the
 * interpreters' generator and frame structs, sid's 3.14 and 3.15 too).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ASYNC_MINORS, coroutineLayout, TASK_MEMBERS, tableTaskLayout, taskLayoutFromDwarf, type AsyncLayout } from '../../src/asyncio/async-layout.js';
import { TaskGraphReader } from '../../src/asyncio/task-graph.js';
import type { ProcessTasks } from '../../src/asyncio/process-tasks.js';
import { learnPrefixes, rerootWith, TaskSampler, type TaskPrefixes } from '../../src/asyncio/task-sampler.js';
import { awaiterFrames, taskForest, type AsyncTask, type TaskNode } from '../../src/asyncio/task-tree.js';
import { nativeAddon } from '../../src/native.js';
import type { PythonLayout } from '../../src/python/layout.js';
import type { Frame } from '../../src/symbolize/frame.js';
import { debianPython, pyenvPython } from '../helpers/pythons.js';

const py = (func: string, line = 1): Frame => ({ kind: 'python', name: `${func} (app.py:${line})`, func, file: '/srv/app.py', line });
const native = (name: string): Frame => ({ kind: 'native', name });

function task(id: number, name: string, awaitedBy: number[], funcs: string[], running = false): AsyncTask {
  return { id: BigInt(id), name, autoNamed: /^Task-\d+$/.test(name), awaitedBy: awaitedBy.map(BigInt), frames: funcs.map((f) => py(f)), running, tid: 7 };
}

const TREE = [task(1, 'Task-1', [], ['main']), task(2, 'worker-1', [1], ['worker', 'leaf']), task(3, 'group', [1], ['supervise']), task(4, 'grouped', [3], ['worker', 'leaf']), task(5, 'cruncher', [1], ['crunch'], true)];
const names = (frames: readonly Frame[]): string[] => frames.map((f) => f.func ?? f.name);
const shape = (node: TaskNode): unknown => [node.task.name, node.children.map(shape)];

describe('task trees', () => {
  test('each task under its first awaiter, roots in order; a loop of awaiters (a torn read) is shown once from one of its tasks', () => {
    assert.deepEqual(taskForest(TREE).map(shape), [['Task-1', [['worker-1', []], ['group', [['grouped', []]]], ['cruncher', []]]]]);
    const loop = [task(1, 'a', [2], ['f']), task(2, 'b', [1], ['g']), task(3, 'c', [], ['h'])];
    assert.deepEqual(taskForest(loop).map(shape), [['c', []], ['a', [['b', []]]]]);
  });

  test("a task's frames above its own: each awaiter's marker and coroutines from the root, then its marker; tasks asyncio named are marked Task-*", () => {
    const byId = new Map(TREE.map((t) => [t.id, t]));
    assert.deepEqual(names(awaiterFrames(byId, TREE[3]!)), ['[task Task-*]', 'main', '[task group]', 'supervise', '[task grouped]']);
    assert.deepEqual(names(awaiterFrames(byId, TREE[0]!)), ['[task Task-*]']);
  });

  test("a running task's stack loses the event loop's frames above its coroutine and gains its awaiters; other stacks are left; an ended task's are placed still", () => {
    const prefixes: TaskPrefixes = new Map();
    learnPrefixes(prefixes, TREE);
    const reroot = rerootWith(prefixes);
    const stack = [native('_start'), py('run_forever'), py('_run_once'), native('task_step'), py('crunch'), py('spin'), native('PyLong_Add')];
    assert.deepEqual(names(reroot(stack)!), ['[task Task-*]', 'main', '[task cruncher]', 'crunch', 'spin', 'PyLong_Add']);
    assert.equal(reroot([native('_start'), py('run_forever'), native('epoll_wait')]), null);
    // The cruncher ended before the next look: its samples still go under it.
    learnPrefixes(prefixes, TREE.filter((t) => t.name !== 'cruncher'));
    assert.deepEqual(names(rerootWith(prefixes)(stack)!).slice(0, 3), ['[task Task-*]', 'main', '[task cruncher]']);
    // Two tasks running the same coroutine: the one running at the look.
    const twins: TaskPrefixes = new Map();
    learnPrefixes(twins, [task(1, 'Task-1', [], ['main']), task(3, 'b', [1], ['worker'], true), task(2, 'a', [1], ['worker'])]);
    assert.deepEqual(names(rerootWith(twins)([py('worker')])!), ['[task Task-*]', 'main', '[task b]', 'worker']);
  });

  test('the sampler counts each waiting task as a thread is counted over the time between looks (fractions carried), and the running one not at all', () => {
    let now = 0;
    const counted: { name: string; count: number }[] = [];
    let roots: unknown = null;
    const sink = {
      addTaskStack: (_tid: number | null, frames: readonly Frame[], count: number) => counted.push({ name: frames.filter((f) => f.kind === 'marker').at(-1)!.name, count }),
      setTaskRoots: (r: unknown) => (roots = r),
    };
    const tasks = { read: () => TREE } as unknown as ProcessTasks;
    const sampler = new TaskSampler(tasks, sink, { hz: 99, wall: true, now: () => now });
    sampler.start();
    assert.equal(counted.length, 0, 'the first look only starts the clock');
    assert.ok(roots);
    now = 505; // 49.995 samples at 99 Hz: 49 now, the rest carried
    sampler.stop();
    assert.deepEqual(counted.map((c) => c.name).sort(), ['[task Task-*]', '[task group]', '[task grouped]', '[task worker-1]']);
    assert.ok(counted.every((c) => c.count === 49));
    const cpu = new TaskSampler(tasks, sink, { hz: 99, wall: false, now: () => now });
    counted.length = 0;
    cpu.start();
    now += 1000;
    cpu.stop();
    assert.equal(counted.length, 0, 'in CPU mode a waiting task is not sampled');
  });
});

describe("asyncio offsets held to real builds' DWARF", () => {
  const addon = nativeAddon();
  const pyenv = (version: string): { lib: string; asyncio: string } => {
    const minor = version.split('.').slice(0, 2).join('.');
    const root = path.dirname(path.dirname(pyenvPython(version).executable));
    return { lib: path.join(root, 'lib', `libpython${minor}.so.1.0`), asyncio: path.join(root, 'lib', `python${minor}`, 'lib-dynload', `_asyncio.cpython-${minor.replace('.', '')}-x86_64-linux-gnu.so`) };
  };

  test("the task table is the _asyncio module's TaskObj (3.11-3.13, and 3.13t with its longer header)", async () => {
    const builds: [number, number, string][] = [
      [11, 0, pyenv('3.11.7').asyncio],
      [12, 0, pyenv('3.12.1').asyncio],
      [13, 0, pyenv('3.13.0').asyncio],
    ];
    const t = await debianPython('trixie-3.13t');
    builds.push([13, 16, path.join(path.dirname(path.dirname(t.executable)), 'lib', 'python3.13t', 'lib-dynload', '_asyncio.cpython-313t-x86_64-linux-gnu.so')]);
    for (const [minor, growth, file] of builds) {
      const dwarf = taskLayoutFromDwarf(addon, file);
      assert.ok(dwarf, `${file} has DWARF`);
      assert.deepEqual(tableTaskLayout(minor, growth), dwarf, file);
    }
    assert.deepEqual(Object.keys(TASK_MEMBERS).sort(), ['callback0', 'callbacks', 'coro', 'futWaiter', 'loop', 'name', 'state']);
  });

  test("the coroutine table is the interpreter's generator and frame structs, 3.11-3.15", async () => {
    const files: [number, number, string][] = [
      [11, 0, pyenv('3.11.7').lib],
      [12, 0, pyenv('3.12.1').lib],
      [13, 0, pyenv('3.13.0').lib],
    ];
    for (const minor of [14, 15]) {
      const dbg = await debianPython(`sid-3.${minor}-dbg`);
      assert.ok(dbg.debugFile, `sid-3.${minor}-dbg has a debug file`);
      files.push([minor, 0, dbg.debugFile]);
    }
    assert.deepEqual(files.map((f) => f[0]), [...ASYNC_MINORS]);
    for (const [minor, growth, file] of files) {
      const [gen, frame] = addon.structLayout(file, [
        { type: 'PyGenObject', members: ['gi_iframe'] },
        { type: '_PyInterpreterFrame', members: ['stacktop', 'stackpointer', 'localsplus'] },
      ]);
      const layout = coroutineLayout(minor, growth)!;
      assert.equal(layout.frame, gen!.members['gi_iframe']?.offset, `${file}: gi_iframe`);
      if (layout.stack.kind === 'count') {
        assert.equal(layout.stack.count, frame!.members['stacktop']?.offset, `${file}: stacktop`);
        assert.equal(layout.stack.localsplus, frame!.members['localsplus']?.offset, `${file}: localsplus`);
      } else assert.equal(layout.stack.pointer, frame!.members['stackpointer']?.offset, `${file}: stackpointer`);
    }
  });
});

describe('coroutine chains read from memory that changes', () => {
  // A 3.14-like layout: a coroutine's frame at +72, its code at +0 and instruction at +56 of the frame, the stack pointer at +64.
  const python = {
    objectType: 8,
    frame: { code: 0, instr: 56, flags: 48, codeMask: ~7n & ((1n << 64n) - 1n), instrMask: (1n << 64n) - 1n },
    code: { firstLineNo: 48 },
  } as unknown as PythonLayout;
  const layout = {
    coroutine: coroutineLayout(14, 0)!,
    task: { name: 0, coro: 8, futWaiter: null, callback0: null, callbacks: null, loop: null, state: null, awaitedBy: null, awaitedByIsSet: null, node: null },
    lists: null,
    containers: { setUsed: 24, setMask: 32, setTable: 40, weakrefObject: 16, methodSelf: 24, listItems: 24, varSize: 16 },
    source: 'test',
  } as AsyncLayout;
  const BASE = 0x10000n;
  const arena = Buffer.alloc(0x10000);
  const put = (address: bigint, value: bigint): void => {
    arena.writeBigUInt64LE(value, Number(address - BASE));
  };
  const COROUTINE_TYPE = BASE + 0x8000n;
  /** A suspended coroutine at address running code, awaiting `awaits` (0n: nothing). */
  const coroutine = (address: bigint, code: bigint, awaits: bigint): void => {
    put(address + 8n, COROUTINE_TYPE);
    put(address + 72n, code);
    put(address + 72n + 56n, code + 0x100n);
    // The value stack: one slot holding the awaited object, the stack pointer just past it.
    put(address + 72n + 88n, awaits);
    put(address + 72n + 64n, address + 72n + 96n);
  };
  const memory = {
    onReadMany: (_addresses: readonly bigint[]): void => undefined,
    read(address: bigint, length: number): Buffer | null {
      return address >= BASE && address + BigInt(length) <= BASE + 0x10000n ? Buffer.from(arena.subarray(Number(address - BASE), Number(address - BASE) + length)) : null;
    },
    readMany(addresses: readonly bigint[], lengths: readonly number[]): (Buffer | null)[] {
      const read = addresses.map((a, i) => this.read(a, lengths[i]!));
      this.onReadMany(addresses);
      return read;
    },
  };
  const [P, C1, C2] = [BASE + 0x1000n, BASE + 0x2000n, BASE + 0x3000n];
  const [MAIN, OLD, NEW] = [BASE + 0x9000n, BASE + 0x9400n, BASE + 0x9800n];

  test('a chain is read through what each coroutine awaits, a level of all chains at a time', () => {
    coroutine(P, MAIN, C1);
    coroutine(C1, OLD, 0n);
    memory.onReadMany = () => undefined;
    const reader = new TaskGraphReader(memory, python, layout, 0n);
    assert.deepEqual(reader.chains([P]).map((chain) => chain.map((f) => f.code)), [[MAIN, OLD]]);
  });

  test('an awaited coroutine done and replaced while the chains are read: the chain is read again, never with the old frame under the new awaiter', () => {
    coroutine(P, MAIN, C1);
    coroutine(C1, OLD, 0n);
    let moved = false;
    // Once the parent's frame is read, it moves on to await C2, and C1's memory is reused for another coroutine.
    memory.onReadMany = (addresses) => {
      if (moved || !addresses.includes(P)) return;
      moved = true;
      coroutine(P, MAIN, C2);
      coroutine(C2, NEW, 0n);
      coroutine(C1, BASE + 0x9c00n, 0n);
    };
    const reader = new TaskGraphReader(memory, python, layout, 0n);
    assert.deepEqual(reader.chains([P]).map((chain) => chain.map((f) => f.code)), [[MAIN, NEW]]);
  });
});
