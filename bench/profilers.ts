/**
 * The profilers compared: mixprof, austin 3.7 (Debian sid, from a private
 * root), perf, and CPython 3.15's own sampler ("Tachyon", `python3.15 -m
 * profiling.sampling`, which profiles processes of its own version only). Each attaches to a running PID, says when it is sampling,
 * and ends by itself when the target exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readlink } from 'node:fs/promises';
import { cpuSeconds } from './processes.js';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { MIXPROF } from '../test/helpers/paths.js';

export interface RunningProfiler {
  /** Resolves when samples are being taken. */
  readonly ready: Promise<void>;
  /** Resolves when the profiler has exited. */
  readonly done: Promise<void>;
  /** Processes whose CPU counts as the profiler's. */
  pids(): number[];
  /** Seconds from start to ready. */
  attachSeconds(): number;
  /** Asks it to stop (SIGINT), as a user would, and waits; kills it if it does not. */
  stop(): Promise<void>;
  kill(): void;
  stderr(): string;
}

/**
 * Profilers run on CPU 1, the targets on CPU 0: what a profiler costs its
 * target (interrupts, in-kernel work on the target's CPU) then shows in the
 * target's time, and the profiler's own CPU is counted apart.
 */
const PROFILER_CPU = ['taskset', '-c', '1'];

export interface Profiler {
  readonly name: string;
  readonly hz: number;
  start(pid: number, output: string): RunningProfiler;
}

function running(child: ChildProcess, ready: Promise<void>, extraPids: () => number[] = () => []): RunningProfiler {
  const started = process.hrtime.bigint();
  let readyAt: bigint | null = null;
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const exitedEarly = done.then(() => {
    throw new Error(`profiler exited before it was ready: ${stderr}`);
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`profiler not ready in 60 s: ${stderr}`)), 60_000);
  });
  const readyOrFail = Promise.race([ready, exitedEarly, timedOut]).then(
    () => {
      clearTimeout(timer);
      readyAt = process.hrtime.bigint();
    },
    (error: unknown) => {
      clearTimeout(timer);
      throw error;
    },
  );
  exitedEarly.catch(() => undefined);
  return {
    ready: readyOrFail,
    done,
    pids: () => [child.pid!, ...extraPids()],
    attachSeconds: () => (readyAt === null ? NaN : Number(readyAt - started) / 1e9),
    stop: async () => {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      await done;
      clearTimeout(timer);
    },
    kill: () => child.kill('SIGKILL'),
    stderr: () => stderr,
  };
}

function lineMatching(stream: NodeJS.ReadableStream, pattern: RegExp): Promise<void> {
  return new Promise((resolve) => {
    createInterface({ input: stream }).on('line', (line) => {
      if (pattern.test(line)) resolve();
    });
  });
}

export type Unwind = 'fp' | 'dwarf';

/** mixprof with one unwinder: frame pointers in the kernel (bpftrace) or DWARF CFI in user space. */
export function mixprof(hz: number, unwind: Unwind, extraArgs: string[] = []): Profiler {
  return {
    name: `mixprof ${unwind}`,
    hz,
    start(pid, output) {
      const args = [MIXPROF, 'sample', '-x', String(pid), '-F', String(hz), '-o', output, '--unwind', unwind, ...extraArgs];
      // Run as a user runs it, through bin/mixprof (which sets V8 flags and the attach priority).
      const child = spawn(PROFILER_CPU[0]!, [...PROFILER_CPU.slice(1), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let bpftrace: number | null = null;
      const ready = lineMatching(child.stderr!, /sampling process/).then(async () => {
        const { stdout } = await execa('pgrep', ['-P', String(child.pid), '-x', 'bpftrace'], { reject: false });
        bpftrace = Number(stdout.trim().split('\n')[0]) || null;
      });
      return running(child, ready, () => (bpftrace ? [bpftrace] : []));
    },
  };
}

export function austin(executable: string, hz: number): Profiler {
  const interval = Math.round(1e6 / hz);
  return {
    name: 'austin',
    hz,
    start(pid, output) {
      // -s: CPU time only, as mixprof and perf sample; -P: statistics in the output.
      const child = spawn(PROFILER_CPU[0]!, [...PROFILER_CPU.slice(1), executable, '-s', '-P', '-i', String(interval), '-o', output, '-p', String(pid)], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      // austin says nothing until it writes samples: it is sampling once it
      // starts spending CPU time in its sampling loop.
      const ready = (async () => {
        while (((await cpuSeconds(child.pid!)) ?? 0) < 0.02) await new Promise((resolve) => setTimeout(resolve, 20));
      })();
      return running(child, ready);
    },
  };
}

/**
 * CPython 3.15's sampler in CPU mode over every thread, as collapsed stacks
 * (`tid:N;file:function:line;... count`). `python` must be the target's own
 * interpreter version.
 */
export const TACHYON = 'CPython 3.15 sampler';

export function tachyon(python: string, hz: number, seconds?: number): Profiler {
  return {
    name: TACHYON,
    hz,
    start(pid, output) {
      const args = ['-m', 'profiling.sampling', 'attach', '-a', '--mode', 'cpu', '--collapsed', '-r', String(hz), '-o', output, ...(seconds ? ['-d', String(seconds)] : []), String(pid)];
      const child = spawn(PROFILER_CPU[0]!, [...PROFILER_CPU.slice(1), python, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      // It says nothing until it ends: it is sampling once its CPU time grows
      // steadily past what starting the interpreter and importing costs.
      const ready = (async () => {
        let last = 0;
        for (let rising = 0; rising < 3; ) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          const now = (await cpuSeconds(child.pid!)) ?? 0;
          rising = now > 0.1 && now > last ? rising + 1 : 0;
          last = now;
        }
      })();
      return running(child, ready);
    },
  };
}

async function perfEvents(pid: number): Promise<number> {
  let n = 0;
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
    if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')) === 'anon_inode:[perf_event]') n++;
  }
  return n;
}

export function perf(hz: number): Profiler {
  return {
    name: 'perf',
    hz,
    start(pid, output) {
      const child = spawn(PROFILER_CPU[0]!, [...PROFILER_CPU.slice(1), 'perf', 'record', '-q', '-N', '-e', 'cpu-clock', '-F', String(hz), '-g', '-p', String(pid), '-o', output], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      // Ready once perf holds its sampling events.
      const ready = (async () => {
        while ((await perfEvents(child.pid!)) === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      })();
      return running(child, ready);
    },
  };
}

/** No profiler: pairs of unprofiled runs, the noise floor of the slowdown figures. */
export function none(): Profiler {
  return {
    name: 'none (noise)',
    hz: 0,
    start() {
      throw new Error('the noise row runs no profiler');
    },
  };
}
