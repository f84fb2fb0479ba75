/**
 * --async on a real asyncio process with a known task tree
 * (test/workloads/async-tree.py): main gathers named tasks, each awaiting
 * nested coroutines that wait on an Event (two directly, one in a TaskGroup,
 * one through a task its parent awaits), and a task busy on the CPU.
 * `dump --async` prints the tree; `sample --mode wall --async` puts the
 * waiting tasks' samples under main's coroutine, their marker and their own
 * coroutines, and the busy task's samples (with its native frames) under
 * main and its marker; on 3.11 (DWARF and the built-in table), 3.12, 3.13,
 * 3.13t, 3.14 and 3.15 (the asyncio debug offsets).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseFolded, type FoldedStack } from '../helpers/folded.js';
import { MIXPROF, WORKLOADS } from '../helpers/paths.js';
import { runMixprof, startWorkload, type Workload } from '../helpers/processes.js';
import { debianPython, pyenvPython, systemPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';
import { Tmux } from '../helpers/tmux.js';

interface TreeReady {
  readonly tid: number;
  readonly waiting: readonly string[];
}

interface JsonTask {
  id: string;
  name: string;
  state: 'running' | 'waiting';
  thread: number | null;
  awaited_by: string[];
  frames: { kind: string; function?: string; name: string }[];
}

const PYTHONS: readonly (readonly [string, () => Promise<string>])[] = [
  ['3.11 (pyenv: DWARF of _asyncio)', async () => pyenvPython('3.11.7').executable],
  ["3.11 (Debian's: the built-in table)", async () => systemPython('/usr/bin/python3.11').executable],
  ['3.12 (pyenv)', async () => pyenvPython('3.12.1').executable],
  ['3.13 (pyenv)', async () => pyenvPython('3.13.0').executable],
  ['3.13t (free-threaded)', async () => (await debianPython('trixie-3.13t')).executable],
  ["3.14 (Debian sid's: the asyncio debug offsets)", async () => (await debianPython('sid-3.14')).executable],
  ["3.15 (Debian sid's: built into the interpreter)", async () => (await debianPython('sid-3.15')).executable],
];

/** Who awaits whom in the workload, and each waiting task's own coroutines. */
const PARENTS: Readonly<Record<string, string>> = {
  'worker-1': 'Task-1',
  'worker-2': 'Task-1',
  supervisor: 'Task-1',
  delegator: 'Task-1',
  cruncher: 'Task-1',
  'grouped-1': 'supervisor',
  'delegate-child': 'delegator',
};
const WAITER_CHAIN = ['worker', 'middle', 'leaf', 'Event.wait'];

/** A folded frame's function: "qualname (file:line)" less its place. */
const functionOf = (frame: string): string => frame.replace(/ \([^()]*\)$/, '');

/**
 * Whether a stack reads, root first: [task Task-*], main, then each task
 * between main and `name` (its marker and coroutines), then [task name] and
 * the task's own chain starting with `own` (asyncio.run's task, named by
 * asyncio, is marked Task-*).
 */
function underMain(stack: FoldedStack, name: string, own: readonly string[]): boolean {
  const f = stack.frames.map(functionOf);
  if (f[0] !== '[task Task-*]' || f[1] !== 'main') return false;
  const marker = f.indexOf(`[task ${name}]`);
  if (marker < 2) return false;
  // Between main and the marker: only the awaiting tasks' markers and coroutines (grouped-1's supervisor, delegate-child's delegator).
  const between = f.slice(2, marker);
  const parent = PARENTS[name]!;
  if (parent === 'Task-1' ? between.length !== 0 : between[0] !== `[task ${parent}]`) return false;
  return own.every((fn, i) => f[marker + 1 + i] === fn);
}

for (const [version, executable] of PYTHONS) {
  describe(`--async, Python ${version}`, () => {
    let workload: Workload<TreeReady> | undefined;
    after(async () => {
      await workload?.stop();
    });

    test('dump --async: every task under the one awaiting it (gather, TaskGroup, await task), with its coroutines and its thread', async () => {
      assertRoot();
      workload = await startWorkload<TreeReady>(await executable(), [path.join(WORKLOADS, 'async-tree.py')]);
      const r = await runMixprof(['dump', '-x', String(workload.pid), '--async', '--json']);
      assert.equal(r.exitCode, 0, r.stderr);
      const [process] = (JSON.parse(r.stdout) as { processes: { tasks?: JsonTask[]; tasks_missing?: string }[] }).processes;
      const tasks = process!.tasks;
      assert.ok(tasks, `no tasks: ${process!.tasks_missing}`);
      const byName = new Map(tasks.map((t) => [t.name, t]));
      assert.deepEqual([...byName.keys()].sort(), ['Task-1', ...Object.keys(PARENTS)].sort(), JSON.stringify(tasks.map((t) => t.name)));
      const byId = new Map(tasks.map((t) => [t.id, t]));
      for (const [name, parent] of Object.entries(PARENTS)) {
        const task = byName.get(name)!;
        assert.deepEqual(task.awaited_by.map((id) => byId.get(id)?.name), [parent], `${name} is awaited by ${parent}`);
      }
      assert.deepEqual(byName.get('Task-1')!.awaited_by, []);
      const functions = (t: JsonTask): string[] => t.frames.map((f) => f.function ?? f.name);
      assert.deepEqual(functions(byName.get('Task-1')!), ['main']);
      for (const name of workload.ready.waiting) {
        assert.deepEqual(functions(byName.get(name)!), WAITER_CHAIN, name);
        assert.equal(byName.get(name)!.state, 'waiting');
      }
      assert.equal(functions(byName.get('supervisor')!)[0], 'supervise');
      assert.ok(functions(byName.get('supervisor')!).includes('TaskGroup.__aexit__'));
      assert.deepEqual(functions(byName.get('delegator')!), ['delegate']);
      for (const task of tasks) assert.equal(task.thread, workload.ready.tid, `${task.name} runs on the main thread's loop`);

      const text = await runMixprof(['dump', '-x', String(workload.pid), '--async']);
      assert.equal(text.exitCode, 0, text.stderr);
      assert.match(text.stdout, /^asyncio tasks \(8\), each under the task awaiting it/m);
      assert.match(text.stdout, /^ {4}\[task Task-1\] waiting in thread \d+\n {8}main \(\S*async-tree\.py:\d+\)$/m);
      assert.match(text.stdout, /^ {12}\[task grouped-1\] waiting in thread \d+\n {16}worker \(\S*async-tree\.py:\d+\)\n {16}middle /m);
    });

    test('sample --mode wall --async: the waiting tasks under main, their marker and their coroutines; the busy one with its own frames', async () => {
      assert.ok(workload, 'the workload started in the test before');
      const r = await runMixprof(['sample', '-x', String(workload.pid), '--mode', 'wall', '--async', '-t', '2', '-F', '99']);
      assert.equal(r.exitCode, 0, r.stderr);
      const stacks = parseFolded(r.stdout);
      const waiting = [...workload.ready.waiting, 'supervisor', 'delegator'];
      for (const name of waiting) {
        const own = name === 'supervisor' ? ['supervise'] : name === 'delegator' ? ['delegate'] : WAITER_CHAIN;
        const mine = stacks.filter((s) => s.frames.some((f) => f === `[task ${name}]`) && s.frames.at(-1) !== undefined);
        // Only the task's own stacks: not those of the tasks under it (grouped-1 under supervisor).
        const own_ = mine.filter((s) => !s.frames.slice(s.frames.indexOf(`[task ${name}]`) + 1).some((f) => f.startsWith('[task ')));
        const total = own_.reduce((n, s) => n + s.count, 0);
        const placed = own_.filter((s) => underMain(s, name, own)).reduce((n, s) => n + s.count, 0);
        // A thread is sampled 99 times a second: a waiting task is too (2 s, less what a loaded machine takes from the looks).
        assert.ok(total >= 99, `${name}: ${total} samples\n${r.stdout}`);
        assert.ok(placed >= 0.95 * total, `${name}: ${placed} of ${total} samples under main, its marker and its coroutines\n${r.stdout}`);
      }
      // The busy task runs: its samples carry its Python and native frames under main and its marker, none under the event loop's frames.
      const busy = stacks.filter((s) => s.frames.includes('[task cruncher]'));
      assert.ok(busy.some((s) => underMain(s, 'cruncher', ['crunch', 'spin'])), r.stdout);
      assert.ok(busy.every((s) => !s.frames.some((f) => /run_forever/.test(f))), 'the loop\'s frames are replaced by the awaiters');
    });
  });
}

describe('--async in record and top', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-async-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('record --mode wall --async (3.14): the program imports asyncio after it starts, and its waiting tasks are sampled from then on', async () => {
    assertRoot();
    const python = (await debianPython('sid-3.14')).executable;
    const out = path.join(dir, 'record.folded');
    const r = await runMixprof(['record', '--mode', 'wall', '--async', '-o', out, '--', python, path.join(WORKLOADS, 'async-tree.py'), '2']);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stderr, /^mixprof: --async: process \d+ has not imported asyncio yet; its tasks are read once it does$/m);
    const stacks = parseFolded(await readFile(out, 'utf8'));
    // About 2 s of waiting after READY, at 99 Hz.
    const placed = stacks.filter((s) => underMain(s, 'worker-1', WAITER_CHAIN)).reduce((n, s) => n + s.count, 0);
    assert.ok(placed >= 99, `worker-1: ${placed} samples under main, its marker and its coroutines`);
  });

  test("top --mode wall --async: the waiting tasks' coroutines are among the rows; q quits", async () => {
    assertRoot();
    const workload = await startWorkload<TreeReady>(pyenvPython('3.12.1').executable, [path.join(WORKLOADS, 'async-tree.py')]);
    const tmux = new Tmux();
    try {
      await tmux.start('async', dir, [MIXPROF, 'top', '-x', String(workload.pid), '--mode', 'wall', '--async']);
      const deadline = Date.now() + 30_000;
      let screen = '';
      // Without --async no stack holds Event.wait: the waiting tasks are on no thread's stack.
      while (!/ Event\.wait \(asyncio\/locks\.py\) \[py\]/.test(screen)) {
        assert.ok(Date.now() < deadline, `the screen never showed Event.wait:\n${screen}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
        screen = await tmux.tmux('capture-pane', '-p', '-t', 'async');
      }
      await tmux.keys('async', 'q');
      assert.equal(await tmux.exitStatus('async'), '0', await tmux.capture('async', true));
    } finally {
      await tmux.kill();
      await workload.stop();
    }
  });
});

describe('--async: what a user can get wrong', () => {
  const workloads: Workload<{ tid: number }>[] = [];
  after(async () => {
    for (const w of workloads) await w.stop();
  });

  test('a version before 3.11 and --native-only: one line each; a process without asyncio (3.14+) is told so, and sampled', async () => {
    assertRoot();
    const start = async (python: string): Promise<number> => {
      const w = await startWorkload<{ tid: number }>(python, [path.join(WORKLOADS, 'hot-warm.py')]);
      workloads.push(w);
      return w.pid;
    };
    const old = await start(pyenvPython('3.10.13').executable);
    const plain = await start((await debianPython('sid-3.14')).executable);
    const tooOld = await runMixprof(['sample', '-x', String(old), '--async', '-t', '1']);
    assert.equal(tooOld.exitCode, 1);
    assert.match(tooOld.stderr, /^mixprof: error: --async: asyncio tasks are read from CPython 3\.11 on \(this is 3\.10\)/m);
    const dump = await runMixprof(['dump', '-x', String(old), '--async']);
    assert.equal(dump.exitCode, 0, dump.stderr);
    assert.match(dump.stdout, /^asyncio tasks: none shown \(asyncio tasks are read from CPython 3\.11 on/m);
    // Not an error: a program may import asyncio later (as one record starts does); the user is told.
    const noAsyncio = await runMixprof(['sample', '-x', String(plain), '--async', '-t', '1']);
    assert.equal(noAsyncio.exitCode, 0, noAsyncio.stderr);
    assert.match(noAsyncio.stderr, /^mixprof: --async: process \d+ has not imported asyncio yet; its tasks are read once it does$/m);
    assert.match(noAsyncio.stdout, /hot \(/);
    const noAsyncioDump = await runMixprof(['dump', '-x', String(plain), '--async']);
    assert.match(noAsyncioDump.stdout, /^asyncio tasks: none shown \(asyncio is not imported by this process/m);
    const native = await runMixprof(['sample', '-x', String(old), '--async', '--native-only', '-t', '1']);
    assert.equal(native.exitCode, 1);
    assert.match(native.stderr, /^mixprof: error: --async cannot be used with --native-only/);
    for (const r of [tooOld, native]) assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('mixprof: error')).length, 1, r.stderr);
  });
});
