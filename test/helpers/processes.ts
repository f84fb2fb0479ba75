/**
 * Real processes for tests: workloads that announce readiness with a line, and
 * mixprof runs. Nothing here sleeps to wait; everything waits for a signal with
 * a timeout, and every process started is killed at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { execa, type Result, type ResultPromise } from 'execa';
import path from 'node:path';
import { MIXPROF, WORKLOADS } from './paths.js';

export interface Workload<T> {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly ready: T;
  stop(): Promise<void>;
}

/** Starts a command and waits for its line "READY <json>". */
export async function startWorkload<T>(command: string, args: string[], timeoutMs = 60_000, env: Record<string, string> = {}, stdin: 'ignore' | 'pipe' = 'ignore'): Promise<Workload<T>> {
  const child = spawn(command, args, { stdio: [stdin, 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  try {
    const ready = await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${command} ${args.join(' ')}: no READY line in ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        if (line.startsWith('READY ')) {
          clearTimeout(timer);
          resolve(JSON.parse(line.slice(6)) as T);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${command} exited (${code}) before READY; stderr: ${stderr}`));
      });
      child.once('error', reject);
    });
    return { child, pid: child.pid!, ready, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The workload's next line "PREFIX {json}" on stdout (the phases' end, say), with a timeout. */
export function nextJsonLine<T>(workload: Workload<unknown>, prefix: string, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const lines = createInterface({ input: workload.child.stdout! });
    const timer = setTimeout(() => {
      lines.close();
      reject(new Error(`no ${prefix} line in ${timeoutMs} ms`));
    }, timeoutMs);
    lines.on('line', (line) => {
      if (!line.startsWith(`${prefix} `)) return;
      clearTimeout(timer);
      lines.close();
      resolve(JSON.parse(line.slice(prefix.length + 1)) as T);
    });
  });
}

export interface ContainerWorkload<T> {
  /** The interpreter's PID as the host sees it (PID 1 inside). */
  readonly pid: number;
  readonly workload: Workload<T>;
}

/**
 * Starts `script` in test/workloads/container.sh's makeshift container (own
 * mount and PID namespaces, chrooted) with the interpreter of the private
 * root `pyroot`; `app`, when given, is copied to /app inside.
 */
export async function startContainerWorkload<T>(pyroot: string, script: string, args: string[] = [], app?: string): Promise<ContainerWorkload<T>> {
  const workload = await startWorkload<T>('bash', [path.join(WORKLOADS, 'container.sh'), pyroot, script, ...args], 60_000, app ? { MIXPROF_CONTAINER_APP: app } : {});
  // container.sh execs unshare, whose only child is the interpreter (PID 1 inside).
  const { stdout } = await execa('pgrep', ['-P', String(workload.pid)]);
  return { pid: Number(stdout.trim().split('\n')[0]), workload };
}

export type MixprofResult = Result<{ reject: false; timeout: number }>;

/** Runs bin/mixprof to completion (with a safety timeout). */
export function runMixprof(args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<MixprofResult> {
  return execa(MIXPROF, [...args], {
    reject: false,
    timeout: options.timeoutMs ?? 120_000,
    env: options.env ?? {},
    stdin: 'ignore',
  }) as Promise<MixprofResult>;
}

export interface SamplingRun {
  readonly child: ResultPromise<{ reject: false; timeout: number; stdin: 'ignore' }>;
  /** stderr so far. */
  stderr(): string;
  /** Resolves once stderr has a match of `pattern` (rejects after `timeoutMs`, or if mixprof exits first). */
  until(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Stops mixprof with `signal` (by default SIGINT, a user's Ctrl-C) and waits for it to write its output and exit. */
  stop(signal?: NodeJS.Signals): Promise<MixprofResult>;
}

/** How mixprof is started: this checkout's bin/mixprof, or (an installed copy, one in a chroot) the command given. */
const THIS_MIXPROF: readonly string[] = [MIXPROF];

/** Starts mixprof and resolves once it says it is sampling (probes attached), or prints `ready`. */
export async function startSampling(args: string[], timeoutMs = 60_000, env: Record<string, string> = {}, command: readonly string[] = THIS_MIXPROF, ready: RegExp = /sampling process/): Promise<SamplingRun> {
  const child = execa(command[0]!, [...command.slice(1), ...args], { reject: false, timeout: 300_000, stdin: 'ignore', env });
  let text = '';
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const until = (pattern: RegExp, ms = 60_000): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer);
        child.stderr!.off('data', check);
        child.off('exit', exited);
        if (error) reject(error);
        else resolve();
      };
      const check = (): void => {
        if (pattern.test(text)) done();
      };
      const exited = (): void => done(new Error(`mixprof exited before printing ${pattern}: ${text}`));
      const timer = setTimeout(() => done(new Error(`mixprof did not print ${pattern} in ${ms} ms: ${text}`)), ms);
      child.stderr!.on('data', check);
      child.once('exit', exited);
      check();
    });
  const stop = async (signal: NodeJS.Signals = 'SIGINT'): Promise<MixprofResult> => {
    child.kill(signal);
    return (await child) as MixprofResult;
  };
  await until(ready, timeoutMs);
  return { child, stderr: () => text, until, stop };
}

/** CPU time (user + system) a process has used, all its threads, or with `tid` one of its threads; in seconds. */
export async function cpuSecondsOf(pid: number, tid?: number): Promise<number> {
  const file = tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`;
  const fields = (await readFile(file, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Waits until a process (or with `tid` one of its threads) has used `seconds`
 * more CPU time. A test that needs so many samples waits for the CPU time
 * that brings them, which a busy machine hands out more slowly.
 */
export async function waitForCpuSeconds(pid: number, seconds: number, timeoutMs: number, tid?: number): Promise<void> {
  const start = await cpuSecondsOf(pid, tid);
  const deadline = Date.now() + timeoutMs;
  while ((await cpuSecondsOf(pid, tid)) - start < seconds) {
    if (Date.now() > deadline) throw new Error(`${tid === undefined ? 'process' : `thread ${tid} of process`} ${pid} did not use ${seconds} s of CPU in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A process, or one thread of it, whose CPU time a test waits for. */
export type CpuTarget = number | { readonly pid: number; readonly tid?: number };

/** Waits until each target has used `seconds` more CPU time, counted from the call. */
export async function waitForEachCpuSeconds(targets: readonly CpuTarget[], seconds: number, timeoutMs: number): Promise<void> {
  await Promise.all(targets.map((t) => (typeof t === 'number' ? waitForCpuSeconds(t, seconds, timeoutMs) : waitForCpuSeconds(t.pid, seconds, timeoutMs, t.tid))));
}

/**
 * Runs bin/mixprof until each target has used `cpuSeconds` of CPU time while
 * sampled, then stops it with SIGINT as a user's Ctrl-C does. In CPU mode the
 * samples then follow the CPU time the targets got: as many on a busy machine
 * as on an idle one, where a fixed -t would bring fewer.
 */
export async function sampleForCpu(
  args: string[],
  targets: CpuTarget | readonly CpuTarget[],
  cpuSeconds: number,
  timeoutMs = 120_000,
  env: Record<string, string> = {},
  command: readonly string[] = THIS_MIXPROF,
): Promise<MixprofResult> {
  const run = await startSampling(args, 60_000, env, command);
  try {
    await waitForEachCpuSeconds(Array.isArray(targets) ? targets : [targets as CpuTarget], cpuSeconds, timeoutMs);
  } catch (error) {
    await run.stop('SIGKILL');
    throw error;
  }
  return run.stop();
}

/** bpftrace processes running now, on the whole machine. */
export async function bpftraceCount(): Promise<number> {
  const { stdout } = await execa('pgrep', ['-x', 'bpftrace'], { reject: false });
  return stdout.trim() === '' ? 0 : stdout.trim().split('\n').length;
}

/**
 * Follows a process's peak resident memory (VmHWM) while it runs; `peak()`
 * gives the last reading, taken at most 100 ms before it exited.
 */
export function watchPeakMemory(pid: number): { peak(): number; stop(): void } {
  let peak = 0;
  const read = (): void => {
    void readFile(`/proc/${pid}/status`, 'utf8').then(
      (status) => {
        const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
        peak = Math.max(peak, kb * 1024);
      },
      () => undefined,
    );
  };
  read();
  const timer = setInterval(read, 100);
  return { peak: () => peak, stop: () => clearInterval(timer) };
}
