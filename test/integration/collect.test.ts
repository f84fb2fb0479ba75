/**
 * `mixprof collect` against real processes: periods stored with their
 * process, PID, host, Python version and threads; --match picks up a
 * process started later; a collector killed mid-run leaves a readable store.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import Database from 'better-sqlite3';
import { ProfileStore, STORE_FILE } from '../../src/store/profile-store.js';
import { MIXPROF, WORKLOADS } from '../helpers/paths.js';
import { bpftraceCount, cpuSecondsOf, startWorkload, waitForCpuSeconds } from '../helpers/processes.js';
import { pyenvPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

const python = (): string => pyenvPython('3.11.7').executable;
const names = (stacks: readonly { frames: readonly { name: string; func?: string }[] }[]): Set<string> => new Set(stacks.flatMap((s) => s.frames.map((f) => f.func ?? f.name)));

/** Runs collect until `done(stderr)` says so (or it exits); resolves with its stderr and exit. */
function collect(args: string[]) {
  const child = execa(MIXPROF, ['collect', ...args], { reject: false, timeout: 180_000, stdin: 'ignore' });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = (pattern: RegExp): number => stderr.split('\n').filter((l) => pattern.test(l)).length;
  const until = (pattern: RegExp, count: number, timeoutMs = 90_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${count} lines matching ${pattern} in ${timeoutMs} ms: ${stderr}`)), timeoutMs);
      const check = (): void => {
        if (lines(pattern) >= count) {
          clearTimeout(timer);
          child.stderr!.off('data', check);
          resolve();
        }
      };
      child.stderr!.on('data', check);
      check();
    });
  return { child, stderr: () => stderr, until, lines };
}

/** Reads the store a collector left, read-only, as serve does. */
function withStore(dataDir: string, read: (store: ProfileStore) => void): void {
  const store = ProfileStore.open(dataDir, { readonly: true });
  try {
    read(store);
  } finally {
    store.close();
  }
}

describe('mixprof collect', () => {
  let dir: string;
  before(async () => {
    assertRoot();
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-collect-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    assert.equal(await bpftraceCount(), 0);
  });

  test('stores a profile per period and process, with its name, PID, host, Python version and threads; --match finds a process started later', async () => {
    const first = await startWorkload<{ a: number; b: number }>(python(), [path.join(WORKLOADS, 'spinners.py')]);
    let later: Awaited<ReturnType<typeof startWorkload>> | null = null;
    try {
      const dataDir = path.join(dir, 'store');
      const cpuAtStart = await cpuSecondsOf(first.pid);
      const run = collect(['-x', String(first.pid), '--match', 'short-lived\\.py 120', '--interval', '2', '--duration', '1', '--count', '4', '--data-dir', dataDir]);
      await run.until(/stored \d+ profiles? /, 1);
      later = await startWorkload(python(), [path.join(WORKLOADS, 'short-lived.py'), '120']);
      const r = await run.child;
      const cpu = (await cpuSecondsOf(first.pid)) - cpuAtStart;
      assert.equal(r.exitCode, 0, run.stderr());
      assert.equal(run.lines(/stored \d+ profiles? /), 4, run.stderr());

      withStore(dataDir, (store) => {
        const range = { from: Date.now() - 600_000, until: Date.now() };
        const processes = store.processes(range);
        const spinners = processes.find((p) => p.pid === first.pid);
        assert.ok(spinners, JSON.stringify(processes));
        assert.equal(spinners.profiles, 4);
        assert.equal(spinners.host, hostname());
        assert.equal(spinners.python, '3.11.7');
        assert.match(spinners.cmdline, /spinners\.py$/);
        // Sampled 1 s of every 2 at 99 Hz: never more samples than its CPU time brings.
        assert.ok(spinners.samples <= 1.1 * cpu * 99 + 5, `${spinners.samples} samples for ${cpu.toFixed(2)} s of CPU`);
        const late = processes.find((p) => p.pid === later!.pid);
        assert.ok(late && late.profiles >= 1 && late.profiles <= 3, JSON.stringify(processes));
        // The known functions, per process and per thread.
        assert.ok(names(store.query({ ...range, pids: [first.pid] }).stacks).has('spin'));
        const threads = store.threads({ ...range, pids: [first.pid] }).map((t) => t.label);
        assert.ok(threads.includes(`python3.11 (${first.ready.a})`) || threads.some((t) => t.endsWith(`(${first.ready.a})`)), threads.join(', '));
        const oneThread = store.query({ ...range, pids: [first.pid], threads: [threads.find((t) => t.endsWith(`(${first.ready.a})`))!] });
        assert.ok(oneThread.samples > 0 && oneThread.samples < spinners.samples);
        assert.ok(names(store.query({ ...range, pids: [later!.pid] }).stacks).has('<module>'));
        // Profiles are timed: four periods two seconds apart.
        const times = store.timeline({ ...range, pids: [first.pid] }, 600).counts.filter((c) => c > 0);
        assert.equal(times.length, 4);
      });
    } finally {
      await first.stop();
      await later?.stop();
    }
  });

  test('--continuous keeps each process sampled across periods: profiles back to back; one that exits has its last counts stored', async () => {
    const w = await startWorkload<{ a: number }>(python(), [path.join(WORKLOADS, 'spinners.py')]);
    // It exits when its stdin closes: after the first period, however long attaching took.
    const short = await startWorkload(python(), [path.join(WORKLOADS, 'short-lived.py'), '-'], 60_000, {}, 'pipe');
    try {
      const dataDir = path.join(dir, 'continuous');
      const cpuAtStart = await cpuSecondsOf(w.pid);
      // Periods of 2 s: bpftrace hands over its counts once a second.
      const run = collect(['-x', `${w.pid},${short.pid}`, '--continuous', '--duration', '2', '--count', '4', '-F', '49', '--data-dir', dataDir]);
      await run.until(/stored 2 profiles /, 1);
      short.child.stdin!.end();
      const r = await run.child;
      const cpu = (await cpuSecondsOf(w.pid)) - cpuAtStart;
      assert.equal(r.exitCode, 0, run.stderr());
      const db = new Database(path.join(dataDir, STORE_FILE), { readonly: true });
      const periods = (pid: number): { start_ms: number; end_ms: number; samples: number }[] =>
        db.prepare('SELECT f.start_ms, f.end_ms, f.samples FROM profiles f JOIN processes p ON p.id = f.process_id WHERE p.pid = ? ORDER BY f.start_ms').all(pid) as { start_ms: number; end_ms: number; samples: number }[];
      const spinning = periods(w.pid);
      const exiting = periods(short.pid);
      db.close();
      assert.equal(spinning.length, 4, JSON.stringify(spinning));
      // One session all along: each period starts where the last one ended (re-attaching would leave a gap).
      for (let i = 1; i < spinning.length; i++) assert.ok(spinning[i]!.start_ms === spinning[i - 1]!.end_ms, JSON.stringify(spinning));
      assert.ok(spinning.every((p) => p.samples > 0 && p.end_ms - p.start_ms >= 1900 && p.end_ms - p.start_ms <= 3000), JSON.stringify(spinning));
      // Sampled all along at 49 Hz: about as many samples as its CPU time brings, never more.
      const samples = spinning.reduce((n, p) => n + p.samples, 0);
      assert.ok(samples <= 1.1 * cpu * 49 + 5, `${samples} samples for ${cpu.toFixed(2)} s of CPU`);
      // It ended in the second period: a period or two, the last one ending at its exit, nothing after.
      assert.ok(exiting.length >= 1 && exiting.length <= 2, JSON.stringify(exiting));
      assert.ok(exiting.every((p) => p.samples > 0));
      assert.ok(exiting.at(-1)!.end_ms <= spinning.at(-1)!.end_ms - 2000, `${JSON.stringify(exiting)} ${JSON.stringify(spinning)}`);
      withStore(dataDir, (store) => {
        const threads = store.threads({ from: 0, until: Date.now() + 1000, pids: [w.pid] }).map((t) => t.label);
        assert.ok(threads.some((t) => t.endsWith(`(${w.ready.a})`)), threads.join(', '));
      });
    } finally {
      await w.stop();
      await short.stop();
    }
    assert.equal(await bpftraceCount(), 0);
  });

  test('Ctrl-C while collecting continuously: the period under way is stored, and it exits 0 with no bpftrace left', async () => {
    const w = await startWorkload(python(), [path.join(WORKLOADS, 'spinners.py')]);
    try {
      const dataDir = path.join(dir, 'interrupted');
      const run = collect(['-x', String(w.pid), '--continuous', '--duration', '2', '-F', '49', '--data-dir', dataDir]);
      await run.until(/stored 1 profile /, 2);
      // Some of the next period sampled: the spinners have had half a second of CPU since (on a loaded machine, periods may have ended meanwhile).
      await waitForCpuSeconds(w.pid, 0.5, 20_000);
      const before = run.lines(/stored 1 profile /);
      const signalledAt = Date.now();
      run.child.kill('SIGINT');
      const r = await run.child;
      assert.equal(r.exitCode, 0, run.stderr());
      // The period under way is stored (and one that ended just as the signal came, if any).
      const reported = run.lines(/stored 1 profile /);
      assert.ok(reported === before + 1 || reported === before + 2, `${before} periods before Ctrl-C, ${reported} after: ${run.stderr()}`);
      withStore(dataDir, (store) => {
        const [summary] = store.processes({ from: 0, until: Date.now() + 1000 });
        assert.equal(summary!.profiles, reported);
        // The last one ends at the interrupt, not at a period's end before it.
        assert.ok(summary!.lastMs >= signalledAt - 250, `the last period ended ${signalledAt - summary!.lastMs} ms before Ctrl-C`);
      });
    } finally {
      await w.stop();
    }
    assert.equal(await bpftraceCount(), 0);
  });

  test('killed with SIGKILL while collecting, it leaves a store that opens and reads, with every period it reported', async () => {
    const w = await startWorkload(python(), [path.join(WORKLOADS, 'spinners.py')]);
    try {
      const dataDir = path.join(dir, 'killed');
      const run = collect(['-x', String(w.pid), '--continuous', '--duration', '0.5', '-F', '99', '--data-dir', dataDir]);
      await run.until(/stored 1 profile /, 3);
      // The next period is being sampled or stored now.
      run.child.kill('SIGKILL');
      await run.child;
      const reported = run.lines(/stored 1 profile /);
      withStore(dataDir, (store) => {
        assert.equal(store.integrity(), 'ok');
        const p = store.processes({ from: 0, until: Date.now() + 1000 });
        assert.equal(p.length, 1);
        assert.ok(p[0]!.profiles >= reported && p[0]!.profiles <= reported + 1, `${p[0]!.profiles} profiles, ${reported} reported`);
        assert.ok(names(store.query({ from: 0, until: Date.now() + 1000 }).stacks).has('spin'));
      });
      // A new collector goes on with the same store.
      const again = collect(['-x', String(w.pid), '--interval', '1', '--duration', '0.5', '--count', '1', '--data-dir', dataDir, '-q']);
      assert.equal((await again.child).exitCode, 0, again.stderr());
    } finally {
      await w.stop();
    }
  });

  test('bad options: one line each', async () => {
    for (const [args, pattern] of [
      [['--data-dir', dir], /nothing to collect from \(pass -x PID or --match PATTERN\)/],
      [['--match', '(', '--data-dir', dir], /--match must be a regular expression/],
      [['-x', '1', '--interval', '5', '--duration', '10', '--data-dir', dir], /--interval 5 is shorter than --duration 10/],
      [['-x', '1', '--retain', 'forever', '--data-dir', dir], /--retain must be a duration such as 7d/],
      [['-x', '1', '--push', 'ftp://x', '--data-dir', dir], /--push ftp:\/\/x: not an http\(s\) URL/],
    ] as const) {
      const r = await execa(MIXPROF, ['collect', ...args], { reject: false, timeout: 30_000 });
      assert.equal(r.exitCode, 1, `${args.join(' ')}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^mixprof: error: /);
      assert.match(lines[0]!, pattern);
    }
  });
});
