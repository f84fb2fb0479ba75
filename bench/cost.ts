/**
 * mixprof's own cost in steady state on a running workload: CPU of the
 * mixprof process, of bpftrace and of the BPF programs (their run-time
 * statistics) per second of sampling, the in-kernel time per sample, lost
 * events and mixprof's memory: its peak, and the most resident in the window.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WORKLOADS } from '../test/helpers/paths.js';
import { startWorkload } from '../test/helpers/processes.js';
import { ProcessWatch } from './processes.js';
import { mixprof, type Unwind } from './profilers.js';

export interface CostResult {
  readonly label: string;
  readonly unwind: Unwind;
  /** Wall-clock mode (--mode wall). */
  readonly wall: boolean;
  /** Every sample's time kept (--timeline), the profile written as a gecko file. */
  readonly timeline: boolean;
  /** From the end of sampling to the profile written and mixprof gone, and the profile's size. */
  readonly writeSeconds: number;
  readonly outputBytes: number;
  readonly hz: number;
  readonly seconds: number;
  readonly samples: number;
  readonly lostEvents: number;
  /** Share of samples whose native stack reached the thread's first function. */
  readonly nativeComplete: number;
  /** Shares of one CPU over the steady window. */
  readonly mixprofCpu: number;
  readonly bpftraceCpu: number;
  readonly kernelCpu: number;
  /** In-kernel microseconds per sample (all program runs, including those for other processes' ticks). */
  readonly kernelUsPerSample: number;
  readonly peakMemory: number;
  /** The most resident memory in the window (start-up's pages given back by then: src/sample/startup-pages.ts). */
  readonly windowMemory: number;
  readonly attachSeconds: number;
  /** CPU mixprof used from its start until it was sampling. */
  readonly startCpuSeconds: number;
  /** The whole profiler's share of one core while settling (JIT warm-up, modules compiled), before the window. */
  readonly settlingCpu: number;
}

/**
 * Settling before the window: node compiles its hot code and the sampler
 * the modules' rows in the first seconds (the settlingCpu column shows
 * what that costs); the window is the steady state a long profile has.
 */
export const SETTLE_SECONDS = 10;

/** Samples `script args` at `hz` for `settle + seconds`, measuring the last `seconds` (--timeline among extraArgs: written as gecko). */
export async function measureCost(label: string, python: string, script: string, args: string[], hz: number, seconds: number, unwind: Unwind, extraArgs: string[] = []): Promise<CostResult> {
  const timeline = extraArgs.includes('--timeline');
  const settle = SETTLE_SECONDS;
  const workload = await startWorkload(python, [path.isAbsolute(script) ? script : path.join(WORKLOADS, script), ...args]);
  const dir = await mkdtemp(path.join(tmpdir(), 'mixprof-bench-'));
  try {
    // Sampling goes on a little past the window: bpftrace closes its programs
    // (and their statistics) as it ends.
    const tail = 2;
    // The profile goes to a scratch file (mixprof refuses -o of a device): the report on stderr is what is read.
    const output = path.join(dir, timeline ? 'out.gecko.json' : 'out.folded');
    const run = mixprof(hz, unwind, ['-t', String(settle + seconds + tail), ...extraArgs]).start(workload.pid, output);
    run.done.catch(() => undefined);
    const watch = new ProcessWatch(() => run.pids());
    await run.ready;
    // What it took to start: node, reading the target, loading the BPF program, up to its first sample.
    const atReady = await watch.snapshot();
    const readyAt = process.hrtime.bigint();
    watch.start();
    await new Promise((resolve) => setTimeout(resolve, settle * 1000));
    const before = await watch.snapshot();
    watch.takeMostResident();
    const settledFor = Number(process.hrtime.bigint() - readyAt) / 1e9;
    const t0 = process.hrtime.bigint();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const after = await watch.snapshot();
    const windowResident = watch.takeMostResident();
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    await run.done;
    // -t counts from the attach (run.ready), give or take the status line's latency.
    const writeSeconds = Number(process.hrtime.bigint() - readyAt) / 1e9 - (settle + seconds + tail);
    const outputBytes = (await stat(output)).size;
    const last = watch.stop();
    const [node, bpftrace] = run.pids();
    const cpu = (pid: number | undefined): number => (pid === undefined ? 0 : (after.get(pid)?.cpu ?? 0) - (before.get(pid)?.cpu ?? 0));
    // The BPF programs live in bpftrace (fp) or in mixprof itself (dwarf).
    const kernelNs = (at: typeof after): number => [...at.values()].reduce((n, r) => n + r.bpf.ns, 0);
    const samples = Number(/mixprof: (\d+) samples/.exec(run.stderr())?.[1] ?? NaN);
    const sampledSeconds = Number(/ over ([\d.]+) s/.exec(run.stderr())?.[1] ?? NaN);
    const windowNs = kernelNs(after) - kernelNs(before);
    return {
      label,
      unwind,
      wall: extraArgs.includes('wall'),
      timeline,
      writeSeconds,
      outputBytes,
      hz,
      nativeComplete: Number(/native stack complete: ([\d.]+)%/.exec(run.stderr())?.[1] ?? NaN) / 100,
      seconds: elapsed,
      samples,
      lostEvents: Number(/lost events: (\d+)/.exec(run.stderr())?.[1] ?? NaN),
      mixprofCpu: cpu(node) / elapsed,
      bpftraceCpu: cpu(bpftrace) / elapsed,
      kernelCpu: windowNs / 1e9 / elapsed,
      // Samples in the window, at the run's mean rate.
      kernelUsPerSample: windowNs / 1000 / ((samples * elapsed) / sampledSeconds),
      peakMemory: node === undefined ? 0 : (last.get(node)?.memory ?? 0),
      windowMemory: node === undefined ? 0 : (windowResident.get(node) ?? 0),
      attachSeconds: run.attachSeconds(),
      startCpuSeconds: node === undefined ? NaN : (atReady.get(node)?.cpu ?? NaN),
      settlingCpu: ([...before.keys()].reduce((n, pid) => n + (before.get(pid)?.cpu ?? 0) - (atReady.get(pid)?.cpu ?? 0), 0) + (kernelNs(before) - kernelNs(atReady)) / 1e9) / settledFor,
    };
  } finally {
    await workload.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
