/**
 * `mixprof dump` on real processes with known states: two threads
 * deadlocked on two locks, one asleep and one blocked in a C library's call
 * (test/workloads/deadlock.py) show their Python chains, the waits under
 * them and their variables, on
 * interpreters from 3.8 to 3.15 and a free-threaded one; the known-chain
 * workload's threads, all busy, each appear with their chain; errors a user
 * can make get one line.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { ChainsReady } from '../helpers/chains.js';
import { WORKLOADS } from '../helpers/paths.js';
import { runMixprof, startWorkload, type Workload } from '../helpers/processes.js';
import { debianPython, pyenvPython, systemPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

interface JsonFrame {
  kind: string;
  name: string;
  function?: string;
  locals?: { name: string; value: string; argument: boolean }[];
}
interface JsonThread {
  tid: number;
  name: string | null;
  gil: string | null;
  state: string;
  syscall: string | null;
  waiting_for: string | null;
  locals_missing?: string;
  frames: JsonFrame[];
}
interface JsonDump {
  processes: { pid: number; python: string | null; threads: JsonThread[] }[];
}

type DeadlockTids = Record<'first' | 'second' | 'sleeper' | 'in_c' | 'main', number>;

/** Python functions, innermost first. */
const pythonFunctions = (t: JsonThread): string[] => t.frames.filter((f) => f.kind === 'python').map((f) => f.function ?? f.name);

async function dumpJson(pids: number[], ...options: string[]): Promise<JsonDump> {
  const r = await runMixprof(['dump', '-x', pids.join(','), '--json', ...options]);
  assert.equal(r.exitCode, 0, r.stderr);
  return JSON.parse(r.stdout) as JsonDump;
}

const DEADLOCK_PYTHONS: readonly (readonly [string, () => Promise<string>, boolean])[] = [
  ['3.8 (pyenv)', async () => pyenvPython('3.8.18').executable, true],
  ['3.11 (pyenv)', async () => pyenvPython('3.11.7').executable, true],
  ["3.11 (Debian's, offsets from the built-in table)", async () => systemPython('/usr/bin/python3.11').executable, true],
  ["3.14 (Debian sid's)", async () => (await debianPython('sid-3.14')).executable, true],
  ["3.15 (Debian sid's)", async () => (await debianPython('sid-3.15')).executable, true],
  ['3.13t (free-threaded: no GIL to read)', async () => (await debianPython('trixie-3.13t')).executable, false],
];

for (const [version, executable, hasGil] of DEADLOCK_PYTHONS) {
  describe(`mixprof dump, Python ${version}`, () => {
    let workload: Workload<DeadlockTids> | undefined;
    after(async () => {
      await workload?.stop();
    });

    test('two deadlocked threads wait for a lock under the lines that take it; the sleeper is asleep in its chain; --locals shows their arguments', async () => {
      assertRoot();
      workload = await startWorkload<DeadlockTids>(await executable(), [path.join(WORKLOADS, 'deadlock.py')]);
      const tids = workload.ready;
      const dump = await dumpJson([workload.pid], '--locals');
      assert.equal(dump.processes.length, 1);
      const [process] = dump.processes;
      assert.equal(process!.pid, workload.pid);
      assert.match(process!.python ?? '', /^3\.\d+/);
      const thread = (tid: number): JsonThread => {
        const found = process!.threads.find((t) => t.tid === tid);
        assert.ok(found, `thread ${tid} is not in the dump: ${JSON.stringify(process!.threads.map((t) => t.tid))}`);
        return found;
      };
      assert.equal(process!.threads[0]!.tid, workload.pid, 'the main thread comes first');
      for (const [name, tid, chain, waitingFor] of [
        ['first', tids.first, ['grab_second', 'take_first'], 'lock'],
        ['second', tids.second, ['grab_first', 'take_second'], 'lock'],
        ['sleeper', tids.sleeper, ['nap', 'sleep_long'], 'sleep'],
      ] as const) {
        const t = thread(tid);
        const context = `${name}: ${JSON.stringify(t)}`;
        assert.equal(t.name, name, context);
        assert.deepEqual(pythonFunctions(t).slice(0, 2), chain, context);
        assert.equal(t.state, 'waiting', context);
        assert.equal(t.waiting_for, waitingFor, context);
        // The wait itself: native frames of the call under the Python line, kernel frames innermost.
        assert.equal(t.frames[0]!.kind, 'kernel', context);
        const innermostPython = t.frames.findIndex((f) => f.kind === 'python');
        assert.ok(t.frames.slice(0, innermostPython).some((f) => f.kind === 'native'), context);
        assert.equal(t.gil, hasGil ? 'released' : null, context);
      }
      // --locals: each frame's arguments, as deadlock.py passes them (innermost frame, then its caller).
      const variables = (tid: number, frame: number): Record<string, string> => {
        const t = thread(tid);
        const python = t.frames.filter((f) => f.kind === 'python');
        assert.ok(python[frame]?.locals, `no variables for thread ${tid}'s frame ${frame}: ${JSON.stringify(t)}`);
        return Object.fromEntries(python[frame]!.locals!.filter((v) => v.argument).map((v) => [v.name, v.value]));
      };
      assert.deepEqual(variables(tids.first, 0), { held: '1', waited: '2.5' });
      assert.deepEqual(variables(tids.first, 1), { order: "'a-then-b'" });
      assert.deepEqual(variables(tids.second, 0), { held: '2', note: "b'xy'" });
      assert.deepEqual(variables(tids.sleeper, 0), { seconds: '100000.0', label: "'zzz'", flag: 'True', nothing: 'None', items: 'list of 3 items' });
      // Blocked in a C library's call: its native frames under the Python line that calls it, the system call it waits in.
      const inC = thread(tids.in_c);
      assert.equal(pythonFunctions(inC)[0], 'call_into_c', JSON.stringify(inC));
      assert.equal(inC.state, 'waiting', JSON.stringify(inC));
      assert.equal(inC.syscall, 'pause', JSON.stringify(inC));
      const innermostPython = inC.frames.findIndex((f) => f.kind === 'python');
      assert.ok(inC.frames.slice(0, innermostPython).some((f) => f.kind === 'native' && /^(__libc_)?pause$/.test(f.name)), JSON.stringify(inC));
      assert.deepEqual(variables(tids.in_c, 0), { what: "'pause'" });
      const main = thread(tids.main);
      assert.equal(main.name, 'MainThread');
      // Thread.join (before 3.11 the code object names only "join").
      assert.ok(pythonFunctions(main).some((f) => /(^|\.)join$/.test(f)), JSON.stringify(main));
      assert.equal(main.waiting_for, 'lock', JSON.stringify(main));
    });
  });
}

describe('mixprof dump of busy threads and of several processes', () => {
  let chains: Workload<ChainsReady> | undefined;
  let deadlock: Workload<DeadlockTids> | undefined;
  after(async () => {
    await chains?.stop();
    await deadlock?.stop();
  });

  test("every thread of the known-chain workload appears with its chain, as text and as JSON, and two processes in one call", async () => {
    assertRoot();
    const python = pyenvPython('3.11.7').executable;
    chains = await startWorkload<ChainsReady>(python, [path.join(WORKLOADS, 'chains.py')]);
    deadlock = await startWorkload<DeadlockTids>(python, [path.join(WORKLOADS, 'deadlock.py')]);
    const dump = await dumpJson([chains.pid, deadlock.pid]);
    assert.deepEqual(
      dump.processes.map((p) => p.pid),
      [chains.pid, deadlock.pid],
    );
    const threads = dump.processes[0]!.threads;
    for (const [name, { tid, stack }] of Object.entries(chains.ready.chains)) {
      const t = threads.find((x) => x.tid === tid);
      assert.ok(t, `${name} (${tid}) is not in the dump`);
      // Root first, as chains.py reports it: the whole chain, or its first frames (a caller between calls).
      const rootFirst = pythonFunctions(t).reverse();
      assert.ok(rootFirst.length > 0 && rootFirst.length <= stack.length && rootFirst.every((n, i) => n === stack[i]), `${name}: ${JSON.stringify(rootFirst)} is not a start of ${JSON.stringify(stack)}`);
      assert.ok(['running', 'runnable', 'waiting'].includes(t.state), t.state);
    }

    const text = await runMixprof(['dump', '-x', String(chains.pid)]);
    assert.equal(text.exitCode, 0, text.stderr);
    const first = Object.values(chains.ready.chains)[0]!;
    assert.match(text.stdout, new RegExp(`^Process ${chains.pid} \\(\\S+\\): Python 3\\.11\\.7, \\d+ threads$`, 'm'));
    assert.match(text.stdout, new RegExp(`^Thread ${first.tid} "nested": (running|waiting|asleep)`, 'm'));
    assert.match(text.stdout, /^ {4}nested_outer \(.*chains\.py:\d+\)$/m);
  });
});

describe('mixprof dump: what a user can get wrong', () => {
  test('a process that does not exist: one line, exit 1', async () => {
    assertRoot();
    const r = await runMixprof(['dump', '-x', '4194303']);
    assert.equal(r.exitCode, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^mixprof: error: [^\n]*4194303[^\n]*$/);
  });

  test('a bad PID list is refused before anything is attached', async () => {
    const r = await runMixprof(['dump', '-x', '12,abc']);
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /--pid must be a whole number/);
  });
});
