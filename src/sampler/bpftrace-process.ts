/**
 * Runs one bpftrace program against the target: starting it, telling when
 * its probes are attached, stopping it on time, and never leaving it behind.
 * What its output means is the caller's (bpftrace-runner.ts for sampling,
 * src/trace for tracing).
 *
 * bpftrace runs in its own process group, so a terminal's Ctrl-C reaches only
 * mixprof, which then asks bpftrace once (SIGINT) to print what it holds and
 * exit, and kills it if it does not within the grace period. setpriv gives it
 * a parent-death signal: if mixprof itself dies, bpftrace dies too.
 */
import { appendFileSync, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ResultPromise } from 'execa';
import { restorePriority } from '../priority.js';
import { ALIVE_CHECK_MS, type SamplerResult, type StopReason } from './sampler.js';

/** What a line of bpftrace's stdout said about the run. */
export type LineSignal = 'ready' | 'exec' | null;

export interface BpftraceProcessOptions<T> {
  readonly bpftrace: string;
  /** bpftrace's arguments, the program among them. */
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Seconds after the probes attach; null runs until stopped. */
  readonly durationSeconds: number | null;
  /** Reads one stdout line (null: nothing of interest). */
  readonly parseLine: (line: string) => T | null;
  /** 'ready' when the record says every probe is attached, 'exec' when the target exec'd. */
  readonly signalOf: (record: T) => LineSignal;
  /** Each record, after what its signal starts (the duration's timer, or the stop). */
  readonly onRecord: (record: T) => void;
  /** Reads one stderr line that is not noise bpftrace prints on every run; true when it is taken (not an error). */
  readonly onStderrLine?: (line: string) => boolean;
  readonly onAttached?: () => void;
  /** Called as bpftrace is told to stop, once its probes are attached (trace notes when it asked). */
  readonly onStop?: () => void;

  readonly attachTimeoutMs?: number;
  readonly stopGraceMs?: number;
  /** Tells whether the target is still alive, to name why bpftrace ended. */
  readonly isTargetAlive: () => boolean;
}

/** What a sampler reports of its end (sampler.ts), as far as a bpftrace process can tell it. */
export type BpftraceProcessResult = Pick<SamplerResult, 'attached' | 'reason' | 'exitCode' | 'signal' | 'errors' | 'killed' | 'stoppedAt'>;

export interface RunningBpftrace {
  readonly done: Promise<BpftraceProcessResult>;
  /** Asks it to print what it holds and end. */
  stop(reason: StopReason): void;
  kill(): void;
}

const SETPRIV = '/usr/bin/setpriv';
const NOISE = [/couldn't set RLIMIT_MEMLOCK/, /^\s*$/];

/** Starts bpftrace; execa is loaded here, not with mixprof: the DWARF sampler never needs it (about 0.2 s of start-up). */
export async function startBpftrace<T>(options: BpftraceProcessOptions<T>): Promise<RunningBpftrace> {
  const { execa } = await import('execa');
  const [file, fileArgs] = existsSync(SETPRIV)
    ? [SETPRIV, ['--pdeathsig', 'KILL', '--', options.bpftrace, ...options.args]]
    : [options.bpftrace, [...options.args]];
  const child: ResultPromise = execa(file, fileArgs, {
    env: options.env,
    detached: true,
    stdin: 'ignore',
    buffer: false,
    reject: false,
    stripFinalNewline: false,
  });

  let attached = false;
  let reason: StopReason | null = null;
  let killed = false;
  let durationTimer: NodeJS.Timeout | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const errors: string[] = [];
  // bpftrace stops when told to; one that ended by itself stopped when it exited.
  let stoppedAt: number | null = null;
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);

  const stop = (why: StopReason): void => {
    if (reason !== null) return;
    reason = why;
    stoppedAt = Date.now();
    clearTimeout(durationTimer);
    killTimer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, options.stopGraceMs ?? 15_000);
    if (attached) options.onStop?.();
    child.kill('SIGINT');
  };

  const attachTimer = setTimeout(() => {
    if (!attached) {
      stop('attach-timeout');
      child.kill('SIGKILL');
    }
  }, options.attachTimeoutMs ?? 120_000);

  const aliveTimer = setInterval(() => {
    if (!options.isTargetAlive()) stop('target-exited');
  }, ALIVE_CHECK_MS);

  const stdoutDone = new Promise<void>((resolve) => {
    const lines = createInterface({ input: child.stdout! });
    // MIXPROF_TRACE_RAW=FILE keeps bpftrace's raw output for debugging.
    const rawFile = process.env['MIXPROF_TRACE_RAW'];
    lines.on('line', (line) => {
      if (rawFile) appendFileSync(rawFile, line + '\n');
      const record = options.parseLine(line);
      if (record === null) return;
      const signal = options.signalOf(record);
      if (signal === 'ready' && !attached) {
        attached = true;
        clearTimeout(attachTimer);
        if (child.pid !== undefined) restorePriority(child.pid);
        options.onAttached?.();
        if (options.durationSeconds !== null) {
          durationTimer = setTimeout(() => stop('duration'), options.durationSeconds * 1000);
        }
      }
      // bpftrace ends itself after an exec; the reason is said first.
      if (signal === 'exec') stop('target-execd');
      options.onRecord(record);
    });
    lines.on('close', resolve);
  });
  const stderrDone = new Promise<void>((resolve) => {
    const lines = createInterface({ input: child.stderr! });
    lines.on('line', (line) => {
      if (NOISE.some((re) => re.test(line))) return;
      if (!options.onStderrLine?.(line)) errors.push(line);
    });
    lines.on('close', resolve);
  });

  const done = (async (): Promise<BpftraceProcessResult> => {
    const result = await child;
    stoppedAt ??= Date.now();
    await Promise.all([stdoutDone, stderrDone]);
    clearTimeout(attachTimer);
    clearTimeout(durationTimer);
    clearTimeout(killTimer);
    clearInterval(aliveTimer);
    process.off('exit', killOnExit);
    const why: StopReason = reason ?? (options.isTargetAlive() ? 'bpftrace-exited' : 'target-exited');
    return { attached, reason: why, exitCode: result.exitCode ?? null, signal: result.signal ?? null, errors, killed, stoppedAt };
  })();

  const kill = (): void => {
    killed = true;
    child.kill('SIGKILL');
  };
  return { done, stop, kill };
}
