/**
 * Target slowdown and profiler cost: a fixed amount of CPU-bound Python work
 * (bench/workload.py) timed alone and with a profiler attached, in
 * interleaved pairs (alone, profiled, alone, profiled, ...) so that drift of a
 * shared machine hits both sides alike; the ratio of each pair is kept.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO } from '../test/helpers/paths.js';
import { ProcessWatch } from './processes.js';
import type { Profiler } from './profilers.js';

export interface ProfiledRun {
  readonly seconds: number;
  /** CPU seconds of the profiler's processes during the work. */
  readonly profilerCpu: number;
  /** In-kernel BPF program seconds during the work (mixprof). */
  readonly kernelSeconds: number;
  readonly kernelRuns: number;
  readonly attachSeconds: number;
  readonly peakMemory: number;
}

export interface SlowdownResult {
  readonly profiler: string;
  readonly hz: number;
  /** profiled / alone, one per pair. */
  readonly ratios: number[];
  readonly runs: ProfiledRun[];
}

const WORKLOAD = path.join(REPO, 'bench', 'workload.py');

/** Runs the workload once, optionally under a profiler; returns its own timing and the profiler's cost. */
async function runOnce(python: string, profiler: Profiler | null, dir: string): Promise<ProfiledRun> {
  // The target runs on CPU 0 only, the profilers on CPU 1 (see profilers.ts).
  const target = spawn('taskset', ['-c', '0', python, WORKLOAD], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: target.stdout! });
  const next = (pattern: RegExp): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`workload: no line matching ${pattern}`)), 120_000);
      lines.on('line', (line) => {
        if (pattern.test(line)) {
          clearTimeout(timer);
          resolve(line);
        }
      });
    });
  try {
    await next(/^READY/);
    const run = profiler && profiler.hz > 0 ? profiler.start(target.pid!, path.join(dir, `${profiler.name.split(' ')[0]}-${profiler.hz}.out`)) : null;
    const watch = new ProcessWatch(() => run?.pids() ?? []);
    if (run) {
      await run.ready;
      watch.start();
    }
    const before = await watch.snapshot();
    const done = next(/^DONE /);
    target.stdin!.write('go\n');
    const seconds = Number((await done).split(' ')[1]);
    const after = await watch.snapshot();
    watch.stop();
    if (run) {
      const timeout = setTimeout(() => run.kill(), 120_000);
      await run.done;
      clearTimeout(timeout);
    }
    let profilerCpu = 0;
    let kernelNs = 0;
    let kernelRuns = 0;
    let peakMemory = 0;
    for (const [pid, end] of after) {
      const start = before.get(pid);
      if (!start) continue;
      profilerCpu += end.cpu - start.cpu;
      kernelNs += end.bpf.ns - start.bpf.ns;
      kernelRuns += end.bpf.runs - start.bpf.runs;
      peakMemory = Math.max(peakMemory, end.memory);
    }
    return { seconds, profilerCpu, kernelSeconds: kernelNs / 1e9, kernelRuns, attachSeconds: run?.attachSeconds() ?? 0, peakMemory };
  } finally {
    target.kill('SIGKILL');
  }
}

export async function measureSlowdown(python: string, profiler: Profiler, pairs: number): Promise<SlowdownResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mixprof-bench-'));
  try {
    const ratios: number[] = [];
    const runs: ProfiledRun[] = [];
    for (let i = 0; i < pairs; i++) {
      const alone = await runOnce(python, null, dir);
      const profiled = await runOnce(python, profiler, dir);
      ratios.push(profiled.seconds / alone.seconds);
      runs.push(profiled);
    }
    return { profiler: profiler.name, hz: profiler.hz, ratios, runs };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
