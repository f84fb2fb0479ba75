/**
 * Target slowdown and profiler cost. The target (bench/workload.py, CPU-bound
 * threads in known chains, on CPU 0) reports the work it has done ten times a
 * second; its speed is measured in pairs of windows without and with the
 * profiler attached (A B, B A, ... in the same process), so that the drift of
 * a shared machine and the luck of one process's memory layout hit both sides.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO } from '../test/helpers/paths.js';
import { ProcessWatch } from './processes.js';
import type { Profiler } from './profilers.js';

export interface ProfiledWindow {
  /** Work per wall-clock second, without and with the profiler. */
  readonly alone: number;
  readonly profiled: number;
  /** Work per second of the target's own CPU time, without and with. */
  readonly aloneCpu: number;
  readonly profiledCpu: number;
  /** The profiler's processes' CPU seconds and BPF program seconds per second of the window. */
  readonly profilerCpu: number;
  readonly kernelCpu: number;
  readonly attachSeconds: number;
}

export interface SlowdownResult {
  readonly profiler: string;
  readonly hz: number;
  readonly windows: ProfiledWindow[];
  /** alone / profiled speed - 1, per pair of windows. */
  readonly slowdowns: number[];
  readonly cpuSlowdowns: number[];
}

interface Reading {
  readonly time: number;
  readonly cpu: number;
  readonly units: number;
}

const WORKLOAD = path.join(REPO, 'bench', 'workload.py');
const sleep = (seconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

export async function measureSlowdown(python: string, profiler: Profiler, pairs: number, windowSeconds = 3): Promise<SlowdownResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mixprof-bench-'));
  const target = spawn('taskset', ['-c', '0', python, WORKLOAD], { stdio: ['ignore', 'pipe', 'inherit'] });
  let latest: Reading | null = null;
  let readyResolve: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (readyResolve = resolve));
  createInterface({ input: target.stdout! }).on('line', (line) => {
    if (line.startsWith('READY')) readyResolve();
    const m = /^UNITS (\S+) (\S+) (\d+)$/.exec(line);
    if (m) latest = { time: Number(m[1]), cpu: Number(m[2]), units: Number(m[3]) };
  });
  /** Speed over the next window: [per wall second, per CPU second]. */
  const measure = async (): Promise<[number, number]> => {
    const start = latest!;
    await sleep(windowSeconds);
    const end = latest!;
    return [(end.units - start.units) / (end.time - start.time), (end.units - start.units) / (end.cpu - start.cpu)];
  };
  try {
    await ready;
    await sleep(1);
    const windows: ProfiledWindow[] = [];
    for (let i = 0; i < pairs; i++) {
      // Alternate which window comes first (A B, B A, ...): a drift in the
      // machine's speed then cancels out instead of favouring one side.
      const aloneFirst = i % 2 === 0;
      let alone = 0;
      let aloneCpu = 0;
      if (aloneFirst) [alone, aloneCpu] = await measure();
      if (profiler.hz === 0) {
        const [again, againCpu] = await measure();
        if (!aloneFirst) [alone, aloneCpu] = await measure();
        windows.push({ alone, profiled: again, aloneCpu, profiledCpu: againCpu, profilerCpu: 0, kernelCpu: 0, attachSeconds: 0 });
        continue;
      }
      const run = profiler.start(target.pid!, path.join(dir, `${profiler.name}-${profiler.hz}-${i}.out`));
      await run.ready;
      const watch = new ProcessWatch(() => run.pids());
      const before = await watch.snapshot();
      const t0 = process.hrtime.bigint();
      const [profiled, profiledCpu] = await measure();
      const after = await watch.snapshot();
      const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
      await run.stop();
      if (!aloneFirst) [alone, aloneCpu] = await measure();
      let cpu = 0;
      let kernelNs = 0;
      for (const [pid, end] of after) {
        const start = before.get(pid);
        if (!start) continue;
        cpu += end.cpu - start.cpu;
        kernelNs += end.bpf.ns - start.bpf.ns;
      }
      windows.push({ alone, profiled, aloneCpu, profiledCpu, profilerCpu: cpu / elapsed, kernelCpu: kernelNs / 1e9 / elapsed, attachSeconds: run.attachSeconds() });
    }
    return {
      profiler: profiler.name,
      hz: profiler.hz,
      windows,
      slowdowns: windows.map((w) => w.alone / w.profiled - 1),
      cpuSlowdowns: windows.map((w) => w.aloneCpu / w.profiledCpu - 1),
    };
  } finally {
    target.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}
