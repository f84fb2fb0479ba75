/**
 * Wall-clock mode (--mode wall) on real processes: threads that sleep, wait
 * on a lock or a socket, or spin each get about hz samples a second, with their Python
 * frames, the native frames of the call that blocks and the kernel frames
 * where it waits; in CPU mode the sleeping threads are (nearly) absent.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { parseFolded, pythonNames, threadOf, type FoldedStack } from '../helpers/folded.js';
import { WORKLOADS } from '../helpers/paths.js';
import { createInterface } from 'node:readline';
import { startLoad, type Load } from '../helpers/load.js';
import { runMixprof, sampleForCpu, startSampling, startWorkload, type Workload } from '../helpers/processes.js';
import { debianPython, pyenvPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

type Tids = Record<'napper' | 'sleeper' | 'locked' | 'reader' | 'spinner', number>;

const HZ = 99;
const total = (stacks: FoldedStack[]): number => stacks.reduce((n, s) => n + s.count, 0);
const endsWith = (names: string[], tail: string[]): boolean => JSON.stringify(names.slice(-tail.length)) === JSON.stringify(tail);
const kernelFrames = (s: FoldedStack): string[] => s.frames.filter((f) => f.endsWith('_[k]'));

function seconds(stderr: string): number {
  const m = /samples at \d+ Hz over ([\d.]+) s/.exec(stderr);
  assert.ok(m, stderr);
  return Number(m[1]);
}

const WALL_PYTHONS: readonly (readonly [string, () => Promise<string>])[] = [
  ...['3.8.18', '3.11.7', '3.13.0'].map((version) => [version, async () => pyenvPython(version).executable] as const),
  ["3.15 (Debian sid's python3.15d)", async () => (await debianPython('sid-3.15d')).executable],
  ['3.13t (free-threaded)', async () => (await debianPython('trixie-3.13t')).executable],
];

for (const [version, executable] of WALL_PYTHONS) {
  describe(`wall-clock mode, Python ${version}`, () => {
    let workload: Workload<Tids> | undefined;
    after(async () => {
      await workload?.stop();
    });

    test('every thread is sampled about hz times a second, sleeping and blocked ones in their waiting chains', async () => {
      assertRoot();
      workload = await startWorkload<Tids>(await executable(), [path.join(WORKLOADS, 'waiters.py')]);
      const tids = workload.ready;
      const r = await runMixprof(['sample', '-x', String(workload.pid), '--mode', 'wall', '-t', '3', '-F', String(HZ), '--threads', '--mark-python']);
      assert.equal(r.exitCode, 0, r.stderr);
      const stacks = parseFolded(r.stdout);
      const of = (tid: number): FoldedStack[] => stacks.filter((s) => threadOf(s.frames) === tid);
      const expected = seconds(r.stderr) * HZ;
      for (const [name, tid] of Object.entries(tids)) {
        const n = total(of(tid));
        assert.ok(n >= 0.8 * expected && n <= 1.15 * expected, `${name}: ${n} samples, expected about ${expected.toFixed(0)}\n${r.stderr}`);
      }

      // time.sleep: the Python chain, the interpreter's sleep, the kernel's (select() before 3.11).
      const sleepy = (s: FoldedStack): boolean => kernelFrames(s).some((f) => /nanosleep|select|hrtimeout/.test(f));
      const napper = of(tids.napper);
      const napping = napper.filter((s) => endsWith(pythonNames(s.frames), ['nap_outer', 'nap_inner']) && sleepy(s));
      // After each sleep the thread waits for the GIL the spinner holds: those samples are in nap_inner too, not in nanosleep.
      assert.ok(total(napping) >= 0.5 * total(napper), `${total(napping)}/${total(napper)} napper samples in nap_outer;nap_inner;...nanosleep`);
      assert.ok(napper.every((s) => endsWith(pythonNames(s.frames), ['nap_outer', 'nap_inner'])), JSON.stringify(napper.map((s) => s.frames.join(';'))));
      const sleeper = of(tids.sleeper);
      const dozing = sleeper.filter((s) => endsWith(pythonNames(s.frames), ['doze']) && sleepy(s) && s.frames.some((f) => /^(time_sleep|pysleep)$/.test(f)));
      assert.ok(total(dozing) >= 0.95 * total(sleeper), `${total(dozing)}/${total(sleeper)} sleeper samples in doze;time_sleep...;nanosleep`);

      // A lock held elsewhere: the Python chain, the lock's C code, the kernel's futex wait.
      const locked = of(tids.locked);
      const waiting = locked.filter((s) => endsWith(pythonNames(s.frames), ['wait_outer', 'wait_for_lock']) && s.frames.some((f) => /acquire/.test(f)) && kernelFrames(s).some((f) => /futex/.test(f)));
      assert.ok(total(waiting) >= 0.95 * total(locked), `${total(waiting)}/${total(locked)} lock samples in wait_outer;wait_for_lock;...acquire...;futex`);

      // A socket nobody writes to: the Python chain, the socket module's recv, the kernel's receive.
      const reader = of(tids.reader);
      const reading = reader.filter((s) => endsWith(pythonNames(s.frames), ['read_request']) && s.frames.some((f) => /^sock_recv/.test(f)) && kernelFrames(s).some((f) => /recvmsg|unix_stream_read/.test(f)));
      assert.ok(total(reading) >= 0.95 * total(reader), `${total(reading)}/${total(reader)} reader samples in read_request;sock_recv...;recvmsg`);

      const spinner = of(tids.spinner);
      const spinning = spinner.filter((s) => endsWith(pythonNames(s.frames), ['spin']));
      assert.ok(total(spinning) >= 0.9 * total(spinner), `${total(spinning)}/${total(spinner)} spinner samples in spin`);
    });

    test('in CPU mode the same sleeping and blocked threads are (nearly) absent', async () => {
      assert.ok(workload, 'the workload of the first test');
      const tids = workload.ready;
      // Until the spinner has run 1.5 s on a CPU (about 148 samples), however busy the machine.
      const r = await sampleForCpu(['sample', '-x', String(workload.pid), '-F', String(HZ), '--threads', '--mark-python'], { pid: workload.pid, tid: tids.spinner }, 1.5);
      assert.equal(r.exitCode, 0, r.stderr);
      const stacks = parseFolded(r.stdout);
      const of = (tid: number): number => total(stacks.filter((s) => threadOf(s.frames) === tid));
      const spin = of(tids.spinner);
      assert.ok(spin >= 100, `${spin} spinner samples`);
      assert.ok(of(tids.sleeper) + of(tids.locked) + of(tids.reader) <= 3, `sleeper ${of(tids.sleeper)}, locked ${of(tids.locked)}, reader ${of(tids.reader)}`);
    });
  });
}

describe('wall-clock mode: threads that take turns on a CPU', () => {
  let workload: Workload<Record<'a' | 'b' | 'main', number>> | undefined;
  after(async () => {
    await workload?.stop();
  });

  test('two threads taking turns at the GIL get hz samples a second each, not more: on a CPU by the clock, off it by the iterator', async () => {
    assertRoot();
    workload = await startWorkload(pyenvPython('3.11.7').executable, [path.join(WORKLOADS, 'spinners.py')]);
    const r = await runMixprof(['sample', '-x', String(workload.pid), '--mode', 'wall', '-t', '3', '-F', '199', '--threads']);
    assert.equal(r.exitCode, 0, r.stderr);
    const stacks = parseFolded(r.stdout);
    const expected = seconds(r.stderr) * 199;
    for (const [name, tid] of Object.entries(workload.ready)) {
      const n = total(stacks.filter((s) => threadOf(s.frames) === tid));
      // The sampler's own wake-ups displace a spinner now and then: it must not count that time twice.
      assert.ok(n >= 0.85 * expected && n <= 1.08 * expected, `${name}: ${n} samples, expected about ${expected.toFixed(0)}`);
    }
  });
});

describe('wall-clock mode on a loaded machine', () => {
  let load: Load | undefined;
  let workload: Workload<Record<'spinner' | 'sleeper' | 'main', number>> | undefined;
  after(async () => {
    await workload?.stop();
    await load?.stop();
  });

  test("every thread gets hz samples a second of its life, within 2%; time waiting for a CPU is [runnable], not kernel frames", async () => {
    assertRoot();
    load = await startLoad(2);
    workload = await startWorkload(pyenvPython('3.11.7').executable, [path.join(WORKLOADS, 'lifetimes.py')], 60_000, {}, 'pipe');
    const lived = new Promise<{ tid: number; seconds: number; outer: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the short-lived thread did not end in 60 s')), 60_000);
      createInterface({ input: workload!.child.stdout! }).on('line', (line) => {
        if (!line.startsWith('LIVED ')) return;
        clearTimeout(timer);
        resolve(JSON.parse(line.slice(6)) as { tid: number; seconds: number; outer: number });
      });
    });
    const hz = 199;
    const run = await startSampling(['sample', '-x', String(workload.pid), '--mode', 'wall', '-t', '4', '-F', String(hz), '--threads', '--mark-python', '--top', '0']);
    workload.child.stdin!.write('go\n');
    const short = await lived;
    const r = (await run.child) as { exitCode?: number; stdout: string; stderr: string };
    assert.equal(r.exitCode, 0, r.stderr);
    const stacks = parseFolded(r.stdout);
    const of = (tid: number): FoldedStack[] => stacks.filter((s) => threadOf(s.frames) === tid);
    // The report gives the run's length to a tenth of a second: that much slack besides the 2%.
    const span = seconds(r.stderr);
    for (const name of ['spinner', 'sleeper', 'main'] as const) {
      const n = total(of(workload.ready[name]));
      const expected = span * hz;
      assert.ok(Math.abs(n - expected) <= 0.02 * expected + 0.05 * hz, `${name}: ${n} samples over ${span} s at ${hz} Hz\n${r.stderr}`);
    }
    // Its life as the kernel's thread: at least from its first line to its last, at most from before
    // its start to after its join (on a loaded machine its start and end wait for the GIL and a CPU).
    const n = total(of(short.tid));
    const [least, most] = [short.seconds * hz, short.outer * hz];
    assert.ok(n >= 0.98 * least - 2 && n <= 1.02 * most + 2, `the thread that lived ${short.seconds.toFixed(3)} to ${short.outer.toFixed(3)} s: ${n} samples, expected ${least.toFixed(0)} to ${most.toFixed(0)}\n${r.stderr}`);
    // Four spinning processes on two CPUs: the spinner waits for a CPU much of the time.
    const spinner = of(workload.ready.spinner);
    const runnable = total(spinner.filter((s) => s.frames.at(-1) === '[runnable]' && pythonNames(s.frames).at(-1) === 'run'));
    assert.ok(runnable >= 0.1 * total(spinner), `${runnable}/${total(spinner)} spinner samples end in [runnable] under run()\n${r.stderr}`);
    // Before [runnable], over a third of them showed the way off the CPU (the interrupt's return, the
    // scheduler); only clock samples taken while it runs the interrupt's return may show it now.
    const switching = spinner.filter((s) => s.frames.some((f) => /^(irqentry_exit_to_user_mode|__schedule|schedule)_\[k\]$/.test(f)));
    assert.ok(total(switching) <= 0.02 * total(spinner), `${total(switching)}/${total(spinner)}: ${switching.map((s) => s.frames.join(';')).join('\n')}`);
  });
});

describe('wall-clock mode: passes that could not run', () => {
  let workload: Workload<Tids> | undefined;
  after(async () => {
    await workload?.stop();
  });

  test('wall-clock passes the kernel refused are reported with their count, and the sleeping threads have fewer samples, not made-up ones', async () => {
    assertRoot();
    workload = await startWorkload<Tids>(pyenvPython('3.11.7').executable, [path.join(WORKLOADS, 'waiters.py')]);
    // The first 99 passes (about the first second at 99 Hz) fail as a failed bpf_iter_create does.
    const r = await runMixprof(['sample', '-x', String(workload.pid), '--mode', 'wall', '-t', '3', '-F', String(HZ), '--threads'], { env: { MIXPROF_FAULT: 'wall-pass:99' } });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stderr, /^ {2}warning: 99 wall-clock passes over the threads \(99 a second\) could not run .*threads off CPU were not sampled in them/m);
    const asleep = total(parseFolded(r.stdout).filter((s) => threadOf(s.frames) === workload!.ready.sleeper));
    const full = seconds(r.stderr) * HZ;
    assert.ok(asleep > 0 && asleep <= full - 0.5 * HZ, `the sleeping thread got ${asleep} samples of a full ${full.toFixed(0)}`);
  });
});

describe('wall-clock mode: options', () => {
  test('[B12] --mode wall with --unwind fp is one clear error', async () => {
    assertRoot();
    const r = await runMixprof(['sample', '-x', String(process.pid), '--mode', 'wall', '--unwind', 'fp', '-t', '1']);
    assert.notEqual(r.exitCode, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^mixprof: error: --mode wall cannot be used with --unwind fp/);
  });
});
