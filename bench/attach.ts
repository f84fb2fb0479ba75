/**
 * How soon mixprof samples: `sample` started to "sampling process" on a
 * running target, and `record` started to its command's first line (which
 * runs under the sampler: record holds it until then), each idle and with
 * the machine kept busy by four spinning tasks per CPU.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { MIXPROF, WORKLOADS } from '../test/helpers/paths.js';
import { startWorkload } from '../test/helpers/processes.js';
import type { Unwind } from './profilers.js';

export interface AttachResult {
  /** Seconds, per run. */
  readonly sample: Record<'idle' | 'loaded', Record<Unwind, number[]>>;
  readonly record: Record<'idle' | 'loaded', number[]>;
  readonly busyTasks: number;
}

const SPIN = 'while :; do :; done';

/** Spinning shells, four per CPU, until the returned function is called. */
function loadMachine(): { tasks: number; stop(): void } {
  const tasks = 4 * os.cpus().length;
  const children: ChildProcess[] = [];
  for (let i = 0; i < tasks; i++) children.push(spawn('sh', ['-c', SPIN], { stdio: 'ignore' }));
  return { tasks, stop: () => children.forEach((c) => c.kill('SIGKILL')) };
}

/** Resolves when the child's stream has printed a line matching `pattern`, with the time it did. */
function lineTime(child: ChildProcess, stream: 'stdout' | 'stderr', pattern: RegExp): Promise<{ at: bigint; line: string }> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in 120 s: ${text}`)), 120_000);
    child[stream]!.on('data', (chunk: Buffer) => {
      const at = process.hrtime.bigint();
      text += chunk.toString();
      // Whole lines only: a chunk may end inside the line wanted.
      const line = text.split('\n').slice(0, -1).find((l) => pattern.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve({ at, line });
      }
    });
    child.once('exit', () => reject(new Error(`exited before ${pattern}: ${text}`)));
  });
}

async function sampleAttach(pid: number, unwind: Unwind): Promise<number> {
  const started = process.hrtime.bigint();
  const child = spawn(MIXPROF, ['sample', '-x', String(pid), '--unwind', unwind, '-o', '/dev/null', '--top', '0', '-t', '60'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const { at } = await lineTime(child, 'stderr', /sampling process/);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  await exited;
  return Number(at - started) / 1e9;
}

/** The command prints the clock at its first line; record started before it. */
async function recordFirstLine(python: string): Promise<number> {
  const started = Date.now() / 1000;
  const child = spawn(MIXPROF, ['record', '-q', '-o', '/dev/null', '--', python, '-c', 'import time; print("FIRST", time.time(), flush=True)'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const { line } = await lineTime(child, 'stdout', /^FIRST /);
  await exited;
  return Number(line.split(' ')[1]) - started;
}

export async function measureAttach(python: string, runs: number, log: (line: string) => void): Promise<AttachResult> {
  const target = await startWorkload<{ pid: number }>(python, [path.join(WORKLOADS, 'short-lived.py'), '-'], 60_000, {}, 'pipe');
  const empty = (): Record<Unwind, number[]> => ({ fp: [], dwarf: [] });
  const result = { sample: { idle: empty(), loaded: empty() }, record: { idle: [] as number[], loaded: [] as number[] }, busyTasks: 0 };
  try {
    for (const state of ['idle', 'loaded'] as const) {
      const load = state === 'loaded' ? loadMachine() : null;
      result.busyTasks = load?.tasks ?? result.busyTasks;
      try {
        for (let i = 0; i < runs; i++) {
          for (const unwind of ['dwarf', 'fp'] as const) result.sample[state][unwind].push(await sampleAttach(target.pid, unwind));
          result.record[state].push(await recordFirstLine(python));
        }
      } finally {
        load?.stop();
      }
      log(`attach measured (${state})`);
    }
  } finally {
    await target.stop();
  }
  return result;
}
