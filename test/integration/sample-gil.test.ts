/**
 * The GIL view (--gil) on real processes whose threads have a known relation
 * to the GIL (test/workloads/gil.py): a thread spinning in pure Python holds
 * it, a thread hashing a large buffer (hashlib releases the GIL while it
 * hashes) runs without it, a sleeping thread does not hold it. Every pyenv
 * version, both samplers (bpftrace with --unwind fp, the C one with --unwind
 * dwarf) and wall-clock mode; Debian's 3.11 (built-in table) and sid's 3.14 and 3.15
 * (_Py_DebugOffsets) for the other offset sources. Then the refusals.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseFolded, pythonNames, threadOf, type FoldedStack } from '../helpers/folded.js';
import { WORKLOADS } from '../helpers/paths.js';
import { runMixprof, sampleForCpu, startWorkload, type Workload } from '../helpers/processes.js';
import { debianPython, pyenvPython, testBpftrace, type TestPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

type Tids = Record<'spinner' | 'hasher' | 'sleeper', number>;

const HZ = 199;
const MIN_SHARE = 0.9;
const MIN_SAMPLES = 100;
const HELD = '[GIL held]';
const RELEASED = '[GIL released]';
const MARKERS = [HELD, RELEASED, '[no Python thread]'];

const total = (stacks: readonly FoldedStack[]): number => stacks.reduce((n, s) => n + s.count, 0);
/** With --threads --gil a stack reads "thread (tid);[GIL ...];...". */
const gilOf = (s: FoldedStack): string | undefined => s.frames[1];
/** Inside the hash call: hash_block is the innermost Python frame and native code runs above it. */
const hashing = (s: FoldedStack): boolean => {
  const last = s.frames.findLastIndex((f) => f.endsWith('_[j]'));
  return pythonNames(s.frames).at(-1) === 'hash_block' && s.frames.slice(last + 1).some((f) => !f.endsWith('_[k]'));
};

interface Run {
  readonly label: string;
  readonly args: readonly string[];
  readonly wall?: boolean;
  /** Another Debian release's bpftrace (a test/fixtures/pythons.sh name). */
  readonly bpftrace?: 'trixie-bpftrace' | 'sid-bpftrace';
}

const RUNS: readonly Run[] = [
  { label: 'frame pointers (bpftrace)', args: ['--unwind', 'fp'] },
  { label: 'DWARF (the C sampler)', args: ['--unwind', 'dwarf'] },
  { label: 'wall-clock mode', args: ['--mode', 'wall'], wall: true },
];
/** The bpftrace walk under Debian 13's and sid's bpftrace. */
const OTHER_BPFTRACES: readonly Run[] = [
  { label: "frame pointers, Debian 13's bpftrace 0.23", args: ['--unwind', 'fp'], bpftrace: 'trixie-bpftrace' },
  { label: "frame pointers, sid's bpftrace 0.27", args: ['--unwind', 'fp'], bpftrace: 'sid-bpftrace' },
];

function describeGil(name: string, load: () => TestPython | Promise<TestPython>, runs: readonly Run[], source: RegExp): void {
  describe(`--gil on ${name}`, () => {
    let workload: Workload<Tids>;
    let python: TestPython;
    before(async () => {
      assertRoot();
      python = await load();
      workload = await startWorkload<Tids>(python.executable, [path.join(WORKLOADS, 'gil.py')]);
    });
    after(async () => {
      await workload?.stop();
    });

    for (const run of runs) {
      test(`${run.label}: the spinner holds the GIL, the hashing thread runs without it`, async (t) => {
        const args = ['sample', '-x', String(workload.pid), '-F', String(HZ), '--gil', '--threads', '--mark-python', ...run.args];
        const tids = workload.ready;
        // CPU mode: until the spinner and the hasher have each run a second on a CPU (199 samples), however busy the machine.
        // Wall-clock mode counts every thread's time, on a CPU or not: 3 s.
        const env: Record<string, string> = run.bpftrace ? { MIXPROF_BPFTRACE: await testBpftrace(run.bpftrace) } : {};
        const r = run.wall
          ? await runMixprof([...args, '-t', '3'])
          : await sampleForCpu(args, [{ pid: workload.pid, tid: tids.spinner }, { pid: workload.pid, tid: tids.hasher }], 1, 120_000, env);
        assert.equal(r.exitCode, 0, r.stderr);
        assert.match(r.stderr, source);
        const stacks = parseFolded(r.stdout);
        const of = (tid: number): FoldedStack[] => stacks.filter((s) => threadOf(s.frames) === tid);
        // The marker sits right under the thread's root, on every stack.
        const unmarked = stacks.filter((s) => !MARKERS.includes(gilOf(s) ?? ''));
        assert.equal(unmarked.length, 0, `stacks without a GIL marker under the thread: ${unmarked.slice(0, 3).map((s) => s.frames.join(';')).join('\n')}`);

        // Handing the GIL over (drop_gil waits for the other thread to take it, take_gil for it to let go) is time
        // without it, and on a busy machine, where the other thread first waits for a CPU, more of it: left out.
        // A stripped interpreter names neither (sid's 3.15): there the hand-over shows as the eval loop's
        // _Py_HandlePending (which serves the other thread's drop request) calling into libc's waits.
        const spinner = of(tids.spinner).filter((s) => !s.frames.some((f) => /^(take_gil|drop_gil|_Py_HandlePending)\b/.test(f)));
        const spinnerHeld = total(spinner.filter((s) => gilOf(s) === HELD));
        const inHash = of(tids.hasher).filter(hashing);
        const hashReleased = total(inHash.filter((s) => gilOf(s) === RELEASED));
        const share = (part: number, whole: number): string => `${part}/${whole} (${((100 * part) / Math.max(1, whole)).toFixed(1)}%)`;
        t.diagnostic(`${python.name} ${run.label}: spinner (outside GIL hand-overs) held ${share(spinnerHeld, total(spinner))}; hasher in the hash released ${share(hashReleased, total(inHash))}`);
        assert.ok(total(spinner) >= MIN_SAMPLES, `${total(spinner)} spinner samples`);
        assert.ok(spinnerHeld / total(spinner) >= MIN_SHARE, `spinner held the GIL in ${share(spinnerHeld, total(spinner))}`);
        assert.ok(total(inHash) >= MIN_SAMPLES, `${total(inHash)} hasher samples inside the hash; e.g. ${of(tids.hasher).slice(0, 2).map((s) => s.frames.join(';')).join('\n')}`);
        assert.ok(hashReleased / total(inHash) >= MIN_SHARE, `hasher released the GIL in ${share(hashReleased, total(inHash))}`);
        assert.match(r.stderr, /GIL: held in [\d.]+% of samples, released in [\d.]+%/);

        const sleeper = of(tids.sleeper);
        if (run.wall) {
          // Off CPU without the GIL the whole time.
          const released = total(sleeper.filter((s) => gilOf(s) === RELEASED));
          t.diagnostic(`${python.name} ${run.label}: sleeper released ${share(released, total(sleeper))}`);
          assert.ok(total(sleeper) >= MIN_SAMPLES, `${total(sleeper)} sleeper samples`);
          assert.ok(released / total(sleeper) >= MIN_SHARE, `sleeper released the GIL in ${share(released, total(sleeper))}`);
        }
      });
    }
  });
}

const DWARF = /offsets from DWARF in /;
const DEBUG_OFFSETS = /offsets from the interpreter's _Py_DebugOffsets/;

for (const [version, source] of [
  ['3.8.18', DWARF],
  ['3.9.18', DWARF],
  ['3.10.13', DWARF],
  ['3.11.7', DWARF],
  ['3.12.1', DWARF],
  ['3.13.0', DEBUG_OFFSETS],
] as const) {
  describeGil(`pyenv CPython ${version}`, () => pyenvPython(version), RUNS, source);
}
describeGil("Debian's CPython 3.11 with no debug info", () => debianPython('debian-3.11'), RUNS.slice(0, 2), /offsets from the built-in table for 3\.11/);
describeGil("Debian sid's CPython 3.14 (no debug info)", () => debianPython('sid-3.14'), RUNS.slice(0, 2), DEBUG_OFFSETS);
describeGil("Debian sid's CPython 3.15 (no debug info)", () => debianPython('sid-3.15'), RUNS, DEBUG_OFFSETS);
describeGil('pyenv CPython 3.10.13 under other bpftraces', () => pyenvPython('3.10.13'), OTHER_BPFTRACES, DWARF);
describeGil('pyenv CPython 3.11.7 under other bpftraces', () => pyenvPython('3.11.7'), OTHER_BPFTRACES, DWARF);
describeGil("Debian sid's CPython 3.15 under other bpftraces", () => debianPython('sid-3.15'), OTHER_BPFTRACES, DEBUG_OFFSETS);

describe('--gil refusals: one error line', () => {
  before(assertRoot);

  const oneErrorLine = (stderr: string, pattern: RegExp): void => {
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
    assert.match(lines[0]!, /^mixprof: error: /);
    assert.match(lines[0]!, pattern);
  };

  test('with --native-only', async () => {
    const r = await runMixprof(['sample', '-x', String(process.pid), '-t', '1', '--gil', '--native-only']);
    assert.equal(r.exitCode, 1);
    oneErrorLine(r.stderr, /--gil cannot be used with --native-only/);
  });

  test('on a process that runs no Python', async () => {
    const child = spawn('sh', ['-c', 'echo READY {}; while :; do :; done'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((resolve) => child.stdout!.once('data', resolve));
      const r = await runMixprof(['sample', '-x', String(child.pid), '-t', '1', '--gil']);
      assert.equal(r.exitCode, 1);
      oneErrorLine(r.stderr, /--gil needs the Python interpreter's state: process \d+ \(sh\) runs no CPython interpreter that mixprof recognises \(profile it without --gil\)/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('on a free-threaded build (3.13t), which has no GIL', async () => {
    const w = await startWorkload((await debianPython('trixie-3.13t')).executable, [path.join(WORKLOADS, 'short-lived.py'), '60']);
    try {
      const r = await runMixprof(['sample', '-x', String(w.pid), '-t', '1', '--gil', '--quiet']);
      assert.equal(r.exitCode, 1);
      oneErrorLine(r.stderr, /--gil: Python 3\.13\.\d+ in this process is a free-threaded build and has no GIL to report on \(profile without --gil/);
    } finally {
      await w.stop();
    }
  });

  // A build whose GIL mixprof cannot locate: a version whose layout it does not know.
  test('on a Python whose layout is not known (3.7)', async () => {
    const w = await startWorkload(pyenvPython('3.7.16').executable, [path.join(WORKLOADS, 'short-lived.py'), '60']);
    try {
      const r = await runMixprof(['sample', '-x', String(w.pid), '-t', '1', '--gil']);
      assert.equal(r.exitCode, 1);
      oneErrorLine(r.stderr, /--gil needs the Python interpreter's state: Python 3\.7 \(\S+\) is not supported; supported: 3\.8, [\d., ]+ \(profile it without --gil\)/);
    } finally {
      await w.stop();
    }
  });
});
