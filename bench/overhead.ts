/**
 * Profiler cost on the multi-chain workload: CPU used by the bpftrace process
 * and by the BPF programs in the kernel (from the programs' own run-time
 * statistics, kernel.bpf_stats_enabled), per second of steady-state sampling.
 */
import { readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { WORKLOADS } from '../test/helpers/paths.js';
import { startSampling, startWorkload } from '../test/helpers/processes.js';
import { pyenvPython } from '../test/helpers/pythons.js';

export interface OverheadResult {
  hz: number;
  seconds: number;
  samples: number;
  lostEvents: number;
  /** Share of one CPU. */
  bpftraceCpu: number;
  kernelCpu: number;
  /** Mean in-kernel time per program run, in microseconds. */
  kernelUsPerRun: number;
  runs: number;
}

const CLOCK_TICKS = 100;

async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Sums run_time_ns and run_cnt over the BPF programs a process holds. */
async function bpfStats(pid: number): Promise<{ ns: number; runs: number }> {
  let ns = 0;
  let runs = 0;
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (target !== 'anon_inode:bpf-prog') continue;
    const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8').catch(() => '');
    ns += Number(/run_time_ns:\s*(\d+)/.exec(info)?.[1] ?? 0);
    runs += Number(/run_cnt:\s*(\d+)/.exec(info)?.[1] ?? 0);
  }
  return { ns, runs };
}

async function childOf(pid: number, name: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { stdout } = await execa('pgrep', ['-P', String(pid), '-x', name], { reject: false });
    if (stdout.trim()) return Number(stdout.trim().split('\n')[0]);
    if (Date.now() > deadline) throw new Error(`no ${name} child of ${pid}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function measureOverhead(hz: number, seconds: number): Promise<OverheadResult> {
  await writeFile('/proc/sys/kernel/bpf_stats_enabled', '1');
  const python = pyenvPython('3.11.7');
  const workload = await startWorkload(python.executable, [path.join(WORKLOADS, 'chains.py')]);
  try {
    const settle = 1;
    const run = await startSampling(['sample', '-x', String(workload.pid), '-t', String(seconds + settle + 1), '-F', String(hz), '-o', '/dev/null']);
    const bpftrace = await childOf(run.child.pid!, 'bpftrace', 10_000);
    await new Promise((resolve) => setTimeout(resolve, settle * 1000));
    const cpu0 = await cpuSeconds(bpftrace);
    const bpf0 = await bpfStats(bpftrace);
    const t0 = process.hrtime.bigint();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const cpu1 = await cpuSeconds(bpftrace);
    const bpf1 = await bpfStats(bpftrace);
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    await run.child;
    const samples = Number(/mixprof: (\d+) samples/.exec(run.stderr())?.[1] ?? NaN);
    const lostEvents = Number(/lost events: (\d+)/.exec(run.stderr())?.[1] ?? NaN);
    const runs = bpf1.runs - bpf0.runs;
    return {
      hz,
      seconds: elapsed,
      samples,
      lostEvents,
      bpftraceCpu: (cpu1 - cpu0) / elapsed,
      kernelCpu: (bpf1.ns - bpf0.ns) / 1e9 / elapsed,
      kernelUsPerRun: runs ? (bpf1.ns - bpf0.ns) / runs / 1000 : 0,
      runs,
    };
  } finally {
    await workload.stop();
  }
}
