/**
 * Real processes for tests: workloads that announce readiness with a line, and
 * mixprof runs. Nothing here sleeps to wait; everything waits for a signal with
 * a timeout, and every process started is killed at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { execa, type Result, type ResultPromise } from 'execa';
import { MIXPROF } from './paths.js';

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

export type MixprofResult = Result<{ reject: false; timeout: number }>;

/** Runs bin/mixprof to completion (with a safety timeout). */
export function runMixprof(args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<MixprofResult> {
  return execa(process.execPath, [MIXPROF, ...args], {
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
}

/** Starts bin/mixprof and resolves once it says it is sampling (probes attached). */
export async function startSampling(args: string[], timeoutMs = 60_000): Promise<SamplingRun> {
  const child = execa(process.execPath, [MIXPROF, ...args], { reject: false, timeout: 300_000, stdin: 'ignore' });
  let text = '';
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mixprof did not start sampling in ${timeoutMs} ms: ${text}`)), timeoutMs);
    const check = (): void => {
      if (/sampling process/.test(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr!.on('data', check);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`mixprof exited before sampling: ${text}`));
    });
  });
  return { child, stderr: () => text };
}

/** Waits until a process has used `seconds` more CPU time (user + system). */
export async function waitForCpuSeconds(pid: number, seconds: number, timeoutMs: number): Promise<void> {
  const ticks = async (): Promise<number> => {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
    return Number(fields[11]) + Number(fields[12]);
  };
  const start = await ticks();
  const deadline = Date.now() + timeoutMs;
  while ((await ticks()) - start < seconds * 100) {
    if (Date.now() > deadline) throw new Error(`process ${pid} did not use ${seconds} s of CPU in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
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
